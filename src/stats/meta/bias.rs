//! Small-study effects / publication bias: Egger's regression test and
//! Duval & Tweedie's trim-and-fill, as metafor 3.8-1 computes them
//! (`regtest.rma` with its defaults, `trimfill.rma.uni`).
//!
//! Pure numerical code on plain slices: no I/O. Every model fitted here is
//! an [`rma`] fit, so τ², the tests and the intervals follow the crate's
//! `rma.uni` conventions.

use super::{check_inputs, level_fraction, rma, MetaError, Method, Rma, Test};

/// Egger's regression test for funnel-plot asymmetry.
#[derive(Debug, Clone)]
pub struct Egger {
    /// z (or t under Knapp–Hartung) of the √vᵢ coefficient.
    pub stat: f64,
    /// Degrees of freedom of the t test (Knapp–Hartung), else `None`.
    pub df: Option<usize>,
    pub pval: f64,
    /// The intercept: the estimated effect of a study with SE → 0 (the
    /// "limit estimate"; Stanley & Doucouliagos 2014 "PET"). NaN when the
    /// model has moderators or no intercept (metafor reports none then).
    pub limit_estimate: f64,
    /// Its confidence interval at `level` (NaN as `limit_estimate`).
    pub limit_ci: [f64; 2],
    /// The √vᵢ coefficient (the asymmetry slope) and its SE.
    pub slope: f64,
    pub slope_se: f64,
    /// The full meta-regression of yᵢ on the fit's design plus √vᵢ (last
    /// column).
    pub fit: Rma,
}

/// metafor's `regtest(fit)` with its defaults (`predictor = "sei"`,
/// `model = "rma"`): the mixed-effects meta-regression
/// yᵢ = xᵢ'β + β_sei·√vᵢ + uᵢ + εᵢ fitted with the fit's method, test and
/// level (Egger et al. 1997, BMJ 315:629, in its weighted meta-regression
/// form: Sterne & Egger 2005, in Rothstein et al., *Publication Bias in
/// Meta-Analysis*, ch. 6; metafor docs `regtest`). The test of
/// H₀: β_sei = 0 is Egger's test (z, or t(k − p − 1) under Knapp–Hartung);
/// for an intercept-only fit the intercept is the limit estimate as
/// √vᵢ → 0.
///
/// `x`: the fit's k×p row-major design (a column of ones for an
/// intercept-only model). Equal vᵢ make √vᵢ collinear with the intercept:
/// [`MetaError::Singular`] (metafor: "Model matrix no longer of full
/// rank").
pub fn egger(
    yi: &[f64],
    vi: &[f64],
    x: &[f64],
    p: usize,
    method: Method,
    test: Test,
    level: f64,
) -> Result<Egger, MetaError> {
    check_inputs(yi, vi, x, p)?;
    let k = yi.len();
    let q = p + 1;
    let intercept = x.chunks_exact(p).all(|r| r[0] == 1.0);
    if intercept && vi.iter().all(|v| *v == vi[0]) {
        return Err(MetaError::Singular(
            "equal sampling variances: the sei predictor is collinear with the intercept".into(),
        ));
    }
    // X ← cbind(X, sei = √vᵢ) (metafor `regtest`)
    let mut xs = Vec::with_capacity(k * q);
    for (row, v) in x.chunks_exact(p).zip(vi) {
        xs.extend_from_slice(row);
        xs.push(v.sqrt());
    }
    let fit = rma(yi, vi, &xs, q, method, test, level)?;
    let (limit_estimate, limit_ci) = if p == 1 && intercept {
        (fit.beta[0], [fit.ci_lb[0], fit.ci_ub[0]])
    } else {
        (f64::NAN, [f64::NAN, f64::NAN])
    };
    Ok(Egger {
        stat: fit.stat[p],
        df: fit.ddf,
        pval: fit.pval[p],
        limit_estimate,
        limit_ci,
        slope: fit.beta[p],
        slope_se: fit.se[p],
        fit,
    })
}

/// Trim-and-fill estimator of the number of missing studies k₀.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Estimator {
    /// L₀ = [4Sᵣ − n(n + 1)]/(2n − 1) (Duval & Tweedie 2000, Biometrics
    /// 56:455, eq. 5; JASA 95:89); metafor's default.
    L0,
    /// R₀ = γ* − 1, γ* the length of the rightmost run of ranks of positive
    /// centred values (Duval & Tweedie 2000, Biometrics, eq. 4).
    R0,
}

/// The side of the funnel plot on which studies are imputed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side {
    Left,
    Right,
}

impl Side {
    pub fn label(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }
}

impl Estimator {
    pub fn label(self) -> &'static str {
        match self {
            Estimator::L0 => "L0",
            Estimator::R0 => "R0",
        }
    }
}

/// Result of [`trimfill`].
#[derive(Debug, Clone)]
pub struct TrimFill {
    /// Estimated number of missing studies.
    pub k0: usize,
    pub side: Side,
    pub estimator: Estimator,
    /// The model fitted to the observed plus the imputed studies (the
    /// observed-data model itself when k₀ = 0).
    pub fit: Rma,
    /// The imputed studies only (in metafor's order).
    pub filled_yi: Vec<f64>,
    pub filled_vi: Vec<f64>,
    /// SE of k₀ at the last iteration (Duval & Tweedie 2000, Biometrics,
    /// §3; metafor `se.k0`); `None` when the variance formula is negative.
    pub se_k0: Option<f64>,
    /// R₀ only: P(R₀ ≥ k₀) under H₀ of no missing studies, 0.5^(k₀+1)
    /// (Duval & Tweedie 2000, Biometrics, §3; metafor `p.k0`).
    pub p_k0: Option<f64>,
    /// Iterations of the trim step.
    pub iterations: usize,
}

/// Maximum number of trim iterations (metafor's `maxiter = 100`).
pub const TRIMFILL_MAXITER: usize = 100;

/// metafor's `trimfill(fit, estimator, side)` for an intercept-only fit
/// (Duval & Tweedie 2000, Biometrics 56:455 and JASA 95:89; metafor docs
/// `trimfill`):
///
/// * side: if not given, from the sign of the √vᵢ slope of the
///   meta-regression of yᵢ on √vᵢ with the same τ² method (slope < 0 →
///   "right", else "left", as metafor); for "right" the yᵢ are negated so
///   that studies are always imputed on the left;
/// * iteration: with the yᵢ sorted ascending, refit the model to the
///   k − k₀ smallest, centre all yᵢ at that estimate, rank |centred| (ties
///   by position), and re-estimate k₀ (L₀ or R₀, rounded, truncated at 0)
///   until it no longer changes (at most 100 iterations);
/// * fill: the k₀ largest studies are mirrored about the last estimate,
///   ỹ = 2β̂ − yᵢ, with their vᵢ, and the model is refitted to all k + k₀
///   studies with `method`, `test` and `level` (metafor refits with the
///   `test`/`level` passed to `trimfill`, by default "z" and 95%, i.e.
///   `trimfill(fit, test = ..., level = ...)`).
///
/// Differences from metafor: when no centred value is negative, R₀ is
/// k − 1 (the whole sample is one run; metafor's formula gives Inf and
/// fails); an iteration that would trim all but one study is an error.
pub fn trimfill(
    yi: &[f64],
    vi: &[f64],
    method: Method,
    test: Test,
    level: f64,
    estimator: Estimator,
    side: Option<Side>,
) -> Result<TrimFill, MetaError> {
    let k = yi.len();
    let ones = vec![1.0; k];
    check_inputs(yi, vi, &ones, 1)?;
    let level = level_fraction(level);

    let side = match side {
        Some(s) => s,
        None => {
            let mut x = Vec::with_capacity(2 * k);
            for v in vi {
                x.push(1.0);
                x.push(v.sqrt());
            }
            let f = rma(yi, vi, &x, 2, method, Test::Z, level)?;
            if f.beta[1] < 0.0 {
                Side::Right
            } else {
                Side::Left
            }
        }
    };
    let sgn = if side == Side::Right { -1.0 } else { 1.0 };

    // sort (stable, as R's `sort(..., index.return = TRUE)`)
    let mut idx: Vec<usize> = (0..k).collect();
    idx.sort_by(|&a, &b| (sgn * yi[a]).total_cmp(&(sgn * yi[b])));
    let ys: Vec<f64> = idx.iter().map(|&i| sgn * yi[i]).collect();
    let vs: Vec<f64> = idx.iter().map(|&i| vi[i]).collect();

    let kf = k as f64;
    let mut k0: usize = 0;
    let mut k0_prev: Option<usize> = None;
    let mut iterations = 0;
    let mut se_k0 = f64::NAN;
    let mut beta = f64::NAN;
    while k0_prev != Some(k0) {
        k0_prev = Some(k0);
        iterations += 1;
        if iterations > TRIMFILL_MAXITER {
            return Err(MetaError::NotConverged(
                "trim-and-fill algorithm did not converge".into(),
            ));
        }
        let kt = k - k0;
        if kt < 2 {
            return Err(MetaError::TooFew { k: kt, p: 1 });
        }
        let f = rma(&ys[..kt], &vs[..kt], &ones[..kt], 1, method, Test::Z, level)?;
        beta = f.beta[0];
        // signed ranks of |yᵢ − β̂| (ties: first occurrence first)
        let yc: Vec<f64> = ys.iter().map(|y| y - beta).collect();
        let mut ord: Vec<usize> = (0..k).collect();
        ord.sort_by(|&a, &b| yc[a].abs().total_cmp(&yc[b].abs()));
        let mut rank = vec![0.0; k];
        for (r, &i) in ord.iter().enumerate() {
            rank[i] = (r + 1) as f64;
        }
        let k0_raw = match estimator {
            Estimator::R0 => {
                // γ* = k − (largest rank of a negative value)
                let max_neg = (0..k)
                    .filter(|&i| yc[i] < 0.0)
                    .map(|i| rank[i])
                    .fold(0.0, f64::max);
                let k0 = (kf - max_neg) - 1.0;
                se_k0 = (2.0 * k0.max(0.0) + 2.0).sqrt();
                k0
            }
            Estimator::L0 => {
                // Sᵣ = sum of the ranks of the positive values
                let sr: f64 = (0..k).filter(|&i| yc[i] > 0.0).map(|i| rank[i]).sum();
                let k0 = (4.0 * sr - kf * (kf + 1.0)) / (2.0 * kf - 1.0);
                // Var(Sᵣ) (Duval & Tweedie 2000, Biometrics, §3; metafor)
                let var_sr = 1.0 / 24.0
                    * (kf * (kf + 1.0) * (2.0 * kf + 1.0)
                        + 10.0 * k0.powi(3)
                        + 27.0 * k0.powi(2)
                        + 17.0 * k0
                        - 18.0 * kf * k0.powi(2)
                        - 18.0 * kf * k0
                        + 6.0 * kf.powi(2) * k0);
                se_k0 = 4.0 * var_sr.sqrt() / (2.0 * kf - 1.0);
                k0
            }
        };
        // R's round() (half to even), truncated at 0
        let r = k0_raw.round_ties_even().max(0.0);
        k0 = if r.is_finite() { r as usize } else { k };
        // R's max(0, se.k0) (NaN stays NaN)
        if se_k0 < 0.0 {
            se_k0 = 0.0;
        }
    }

    let p_k0 = match estimator {
        // 1 − Σ_{m=−1}^{k0−1} C(m+1, m+1)·0.5^(m+2) (metafor)
        Estimator::R0 => Some(1.0 - (1..=k0 + 1).map(|j| 0.5f64.powi(j as i32)).sum::<f64>()),
        Estimator::L0 => None,
    };
    let se_k0 = if se_k0.is_nan() { None } else { Some(se_k0) };

    let (fit, filled_yi, filled_vi) = if k0 > 0 {
        // mirror the k0 largest (working scale) about β̂: −(yᵢ − 2β̂),
        // back on the original scale
        let filled_yi: Vec<f64> = ys[k - k0..]
            .iter()
            .map(|y| -sgn * ((y - beta) - beta))
            .collect();
        let filled_vi = vs[k - k0..].to_vec();
        let y_all: Vec<f64> = yi.iter().chain(&filled_yi).copied().collect();
        let v_all: Vec<f64> = vi.iter().chain(&filled_vi).copied().collect();
        let fit = rma(&y_all, &v_all, &vec![1.0; k + k0], 1, method, test, level)?;
        (fit, filled_yi, filled_vi)
    } else {
        (rma(yi, vi, &ones, 1, method, test, level)?, vec![], vec![])
    };
    Ok(TrimFill {
        k0,
        side,
        estimator,
        fit,
        filled_yi,
        filled_vi,
        se_k0,
        p_k0,
        iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::meta::tests::bcg;

    #[test]
    fn egger_bcg_reml() {
        let (y, v) = bcg();
        let e = egger(&y, &v, &vec![1.0; y.len()], 1, Method::Reml, Test::Z, 0.95).unwrap();
        // metafor 3.8-1 regtest(rma(yi, vi, data = dat.bcg)): z = -0.8033,
        // limit estimate -0.5104
        assert!((e.stat + 0.803329112).abs() < 1e-6);
        assert!((e.limit_estimate + 0.510431884).abs() < 1e-6);
        assert_eq!(e.df, None);
        let e = egger(&y, &[0.1; 13], &[1.0; 13], 1, Method::Dl, Test::Z, 0.95);
        assert!(matches!(e, Err(MetaError::Singular(_))));
    }

    #[test]
    fn trimfill_bcg_reml_l0() {
        let (y, v) = bcg();
        let t = trimfill(&y, &v, Method::Reml, Test::Z, 0.95, Estimator::L0, None).unwrap();
        // metafor 3.8-1: one study filled on the right
        assert_eq!(t.k0, 1);
        assert_eq!(t.side, Side::Right);
        assert_eq!(t.filled_yi.len(), 1);
        assert_eq!(t.fit.k, 14);
    }

    #[test]
    fn mirrored_data_fills_the_other_side() {
        let (y, v) = bcg();
        let yn: Vec<f64> = y.iter().map(|a| -a).collect();
        let a = trimfill(&y, &v, Method::Dl, Test::Z, 0.95, Estimator::L0, None).unwrap();
        let b = trimfill(&yn, &v, Method::Dl, Test::Z, 0.95, Estimator::L0, None).unwrap();
        assert_eq!(a.k0, b.k0);
        assert_ne!(a.side, b.side);
        assert!((a.fit.beta[0] + b.fit.beta[0]).abs() < 1e-12);
    }
}
