//! Descriptive statistics on plain slices.

/// Arithmetic mean; NaN for an empty slice.
pub fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample variance with the n − 1 denominator (R's `var`); NaN when n < 2.
/// Two-pass algorithm for accuracy (Chan, Golub & LeVeque 1983).
pub fn var(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64
}

/// Sample standard deviation (n − 1).
pub fn sd(x: &[f64]) -> f64 {
    var(x).sqrt()
}

/// Mean with its t-based confidence interval at `level` percent:
/// x̄ ± t_{(1+level/100)/2, n−1} · s/√n (R's `t.test(x)$conf.int`).
/// Returns (mean, lower, upper); the bounds are NaN when n < 2.
pub fn mean_ci_t(x: &[f64], level: f64) -> (f64, f64, f64) {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let (m, n) = (mean(x), x.len());
    let t = StudentsT::new(0.0, 1.0, n.saturating_sub(1) as f64)
        .map_or(f64::NAN, |d| d.inverse_cdf(0.5 + level / 200.0));
    let half = t * (var(x) / n as f64).sqrt();
    (m, m - half, m + half)
}

/// Quantile of already sorted data by R's default definition (type 7,
/// Hyndman & Fan 1996): h = (n − 1)p, linear interpolation between the
/// order statistics around h.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_ci_t_matches_r_t_test() {
        // R 4.2.2: x <- c(3, 5, 8, 13, 21); t.test(x)$conf.int and
        // t.test(x, conf.level = 0.9)$conf.int; tolerance 1e-10.
        let x = [3.0, 5.0, 8.0, 13.0, 21.0];
        let (m, lo, hi) = mean_ci_t(&x, 95.0);
        assert!((m - 10.0).abs() < 1e-12);
        assert!((lo - 1.0462335751574).abs() < 1e-10 && (hi - 18.9537664248426).abs() < 1e-10);
        let (_, lo, hi) = mean_ci_t(&x, 90.0);
        assert!((lo - 3.12500069150104).abs() < 1e-10 && (hi - 16.87499930849896).abs() < 1e-10);
        assert!(mean_ci_t(&[1.0], 95.0).1.is_nan());
    }

    #[test]
    fn r_reference_values() {
        // R: x <- c(2, 4, 4, 4, 5, 5, 7, 9); mean 5, var 4.571429 (32/7),
        // quantile(x, c(.25, .5, .9)) = 4, 4.5, 7.6
        let x = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&x), 5.0);
        assert!((var(&x) - 32.0 / 7.0).abs() < 1e-15);
        assert_eq!(quantile_sorted(&x, 0.25), 4.0);
        assert_eq!(quantile_sorted(&x, 0.5), 4.5);
        assert!((quantile_sorted(&x, 0.9) - 7.6).abs() < 1e-12);
        assert!(var(&[1.0]).is_nan());
    }
}
