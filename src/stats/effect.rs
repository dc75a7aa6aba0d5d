//! Pre-post (within-person) standardised effect sizes: `d_pre`, `g_pre`,
//! `d_av`, `d_z`, `d_rm`, each with a large-sample variance and a normal
//! confidence interval, and the comparison of an effect with a benchmark.
//!
//! Notation (science.md §3): M1, S1 pre mean and SD; M2, S2 post mean and SD;
//! r12 the pre-post Pearson correlation; n the number of complete pairs; SDs
//! are sample SDs with the n − 1 denominator (R's `sd`).
//!
//! Sign convention: every estimate is multiplied by the measure's
//! [`Direction`] sign, so that a positive effect is an improvement in the
//! measure's own direction (a fall on a lower-is-better scale such as the
//! PHQ-9, a rise on a higher-is-better scale such as WEMWBS). Variances are
//! unaffected by the sign.
//!
//! Confidence intervals are Wald intervals `estimate ± z·√variance` with
//! `z = Φ⁻¹(1 − α/2)`, α = 1 − level/100 (the interval metafor's
//! `summary.escalc` prints).

use crate::error::{Error, Result};
use crate::stats::describe::{mean, sd};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};
use statrs::function::gamma::ln_gamma;

/// Which way is better on a measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Lower scores are better (symptom scales: PHQ-9, GAD-7, CORE, OQ-45, BDI-II, WSAS).
    #[serde(rename = "lower")]
    LowerBetter,
    /// Higher scores are better (well-being and functioning: WEMWBS, ORS, DAS).
    #[serde(rename = "higher")]
    HigherBetter,
}

impl Direction {
    /// +1 when higher is better, −1 when lower is better: multiply a raw
    /// change (post − pre) by this to get "improvement".
    pub fn sign(self) -> f64 {
        match self {
            Direction::HigherBetter => 1.0,
            Direction::LowerBetter => -1.0,
        }
    }

    /// Parses `lower` / `higher` (also `lower-better`, `higher_is_better`,
    /// `low`, `high`), case-insensitively.
    pub fn parse(s: &str) -> Option<Direction> {
        let t: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match t.as_str() {
            "lower" | "low" | "lowerbetter" | "lowerisbetter" => Some(Direction::LowerBetter),
            "higher" | "high" | "higherbetter" | "higherisbetter" => Some(Direction::HigherBetter),
            _ => None,
        }
    }
}

/// Mean and SD of one occasion (contract keys `pre` / `post`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanSd {
    pub mean: f64,
    pub sd: f64,
}

/// Summary statistics of complete pre-post pairs: the inputs of every effect
/// size here (contract keys `n`, `pre`, `post`, `r_pre_post`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PrePost {
    pub n: usize,
    pub pre: MeanSd,
    pub post: MeanSd,
    /// Pearson correlation of pre and post; NaN (JSON null) when either SD is 0.
    pub r_pre_post: f64,
    /// Mean of post − pre (raw units, not sign-adjusted).
    #[serde(skip)]
    pub mean_diff: f64,
    /// SD of post − pre.
    #[serde(skip)]
    pub sd_diff: f64,
}

impl PrePost {
    /// From summary statistics (M1, S1, M2, S2, r12, n). The SD of the
    /// differences follows from the variance of a difference,
    /// `S_diff² = S1² + S2² − 2 r12 S1 S2`.
    pub fn from_summary(m1: f64, s1: f64, m2: f64, s2: f64, r12: f64, n: usize) -> PrePost {
        let v = s1 * s1 + s2 * s2 - 2.0 * r12 * s1 * s2;
        PrePost {
            n,
            pre: MeanSd { mean: m1, sd: s1 },
            post: MeanSd { mean: m2, sd: s2 },
            r_pre_post: r12,
            mean_diff: m2 - m1,
            sd_diff: v.max(0.0).sqrt(),
        }
    }

    /// From complete pairs (no missing values; use
    /// [`crate::stats::change::complete_pairs`] to drop incomplete ones).
    ///
    /// Errors: slices of different length (input), fewer than 2 pairs or a
    /// non-finite value (analysis).
    pub fn from_pairs(pre: &[f64], post: &[f64]) -> Result<PrePost> {
        if pre.len() != post.len() {
            return Err(Error::input(format!(
                "pre and post have different lengths ({} and {})",
                pre.len(),
                post.len()
            )));
        }
        if pre.iter().chain(post).any(|v| !v.is_finite()) {
            return Err(Error::analysis(
                "pre and post scores must be finite numbers (drop missing pairs first)",
            ));
        }
        let n = pre.len();
        if n < 2 {
            return Err(Error::analysis(format!(
                "at least 2 clients with both a pre and a post score are needed; found {n}"
            )));
        }
        let (m1, m2) = (mean(pre), mean(post));
        let (s1, s2) = (sd(pre), sd(post));
        let diff: Vec<f64> = pre.iter().zip(post).map(|(a, b)| b - a).collect();
        // Pearson r from centred cross-products (two-pass, as R's cor).
        let sxy: f64 = pre
            .iter()
            .zip(post)
            .map(|(a, b)| (a - m1) * (b - m2))
            .sum::<f64>()
            / (n - 1) as f64;
        let r = if s1 > 0.0 && s2 > 0.0 {
            (sxy / (s1 * s2)).clamp(-1.0, 1.0)
        } else {
            f64::NAN
        };
        Ok(PrePost {
            n,
            pre: MeanSd { mean: m1, sd: s1 },
            post: MeanSd { mean: m2, sd: s2 },
            r_pre_post: r,
            mean_diff: mean(&diff),
            sd_diff: sd(&diff),
        })
    }
}

/// One effect size (contract: `{estimate, variance, ci_lb, ci_ub}`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EffectSize {
    pub estimate: f64,
    pub variance: f64,
    pub ci_lb: f64,
    pub ci_ub: f64,
}

impl EffectSize {
    /// Wald interval `estimate ± z √variance` at `level` percent.
    pub fn new(estimate: f64, variance: f64, level: f64) -> EffectSize {
        let half = z_two_sided(level) * variance.sqrt();
        EffectSize {
            estimate,
            variance,
            ci_lb: estimate - half,
            ci_ub: estimate + half,
        }
    }
}

/// The five pre-post effect sizes of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EffectSizes {
    pub d_pre: EffectSize,
    pub g_pre: EffectSize,
    pub d_av: EffectSize,
    pub d_z: EffectSize,
    pub d_rm: EffectSize,
}

/// Standard normal quantile Φ⁻¹(p) (statrs, via the inverse complementary
/// error function).
pub fn qnorm(p: f64) -> f64 {
    Normal::new(0.0, 1.0)
        .expect("standard normal")
        .inverse_cdf(p)
}

/// Two-sided critical value for a `level` percent interval:
/// `Φ⁻¹(1 − α/2)`, α = 1 − level/100 (1.959964 at 95).
pub fn z_two_sided(level: f64) -> f64 {
    let alpha = 1.0 - level / 100.0;
    qnorm(1.0 - alpha / 2.0)
}

/// One-sided critical value `Φ⁻¹(1 − α)` (1.644854 at 95).
pub fn z_one_sided(level: f64) -> f64 {
    let alpha = 1.0 - level / 100.0;
    qnorm(1.0 - alpha)
}

/// Checks a confidence level given in percent: must lie strictly in (0, 100).
pub fn check_level(level: f64) -> Result<()> {
    if level.is_finite() && level > 0.0 && level < 100.0 {
        Ok(())
    } else {
        Err(Error::input(format!(
            "--level must be a percentage strictly between 0 and 100 (e.g. 95); got {level}"
        )))
    }
}

/// The exact small-sample bias correction of a standardised mean difference
/// (Hedges 1981; Hedges & Olkin 1985, ch. 5):
/// `J(m) = Γ(m/2) / (√(m/2) Γ((m−1)/2))`, computed on the log scale with
/// `ln Γ` so it cannot overflow, exactly as metafor's `.cmicalc`
/// (`exp(lgamma(m/2) - log(sqrt(m/2)) - lgamma((m-1)/2))`). NaN for `m ≤ 1`
/// (metafor returns NA there).
pub fn hedges_j(m: f64) -> f64 {
    if m.is_nan() || m <= 1.0 {
        return f64::NAN;
    }
    (ln_gamma(m / 2.0) - (m / 2.0).sqrt().ln() - ln_gamma((m - 1.0) / 2.0)).exp()
}

/// `d_pre = s·(M2 − M1)/S1` standardised by the pre-treatment SD (Becker
/// 1988, eq. 2), with its large-sample variance `2(1 − r12)/n + d²/(2n)`
/// (Becker 1988, eq. 13; metafor `escalc(measure = "SMCR", correct = FALSE)`,
/// vtype "LS").
pub fn d_pre(s: &PrePost, direction: Direction, level: f64) -> EffectSize {
    let n = s.n as f64;
    let d = direction.sign() * (s.post.mean - s.pre.mean) / s.pre.sd;
    let v = 2.0 * (1.0 - s.r_pre_post) / n + d * d / (2.0 * n);
    EffectSize::new(d, v, level)
}

/// `g_pre = J(n − 1)·d_pre` with the exact J of [`hedges_j`], and variance
/// `2(1 − r12)/n + g²/(2n)`: metafor's `escalc(measure = "SMCR")` with
/// `m1i` = post, `m2i` = pre, `sd1i` = pre SD, `ri` = r12 (metafor
/// R/escalc.r, SMCR branch, vtype "LS": "Becker, 1988a, equation 13", with
/// the corrected estimate plugged in). NaN when n ≤ 2 (J undefined).
pub fn g_pre(s: &PrePost, direction: Direction, level: f64) -> EffectSize {
    let n = s.n as f64;
    let j = hedges_j(n - 1.0);
    let g = j * direction.sign() * (s.post.mean - s.pre.mean) / s.pre.sd;
    let v = 2.0 * (1.0 - s.r_pre_post) / n + g * g / (2.0 * n);
    EffectSize::new(g, v, level)
}

/// `d_av = s·(M2 − M1)/((S1 + S2)/2)`, standardised by the average of the two
/// SDs (Cumming 2012; Lakens 2013, "d_av").
///
/// Variance: `2(1 − r12)/n + d_av²(1 + r12²)/(4n)`, the large-sample variance
/// of a pre-post d standardised by an SD pooled over both occasions
/// (Cousineau 2020, eq. 2, after Goulet-Pelletier & Cousineau 2018; metafor
/// `escalc(measure = "SMCRP")`, vtype "LS"). It assumes S1 and S2 estimate
/// one common σ, under which (S1 + S2)/2 and √((S1² + S2²)/2) are
/// asymptotically the same estimator of σ.
pub fn d_av(s: &PrePost, direction: Direction, level: f64) -> EffectSize {
    let n = s.n as f64;
    let r = s.r_pre_post;
    let d = direction.sign() * (s.post.mean - s.pre.mean) / ((s.pre.sd + s.post.sd) / 2.0);
    let v = 2.0 * (1.0 - r) / n + d * d * (1.0 + r * r) / (4.0 * n);
    EffectSize::new(d, v, level)
}

/// `d_z = s·mean(post − pre)/SD(post − pre)`, standardised by the SD of the
/// differences (Cohen 1988; Lakens 2013, "d_z").
///
/// Variance: `1/n + d_z²/(2n)` (Gibbons, Hedeker & Davis 1993, eq. 21 with n
/// for n − 1; metafor `escalc(measure = "SMCC", correct = FALSE)`, vtype
/// "LS").
pub fn d_z(s: &PrePost, direction: Direction, level: f64) -> EffectSize {
    let n = s.n as f64;
    let d = direction.sign() * s.mean_diff / s.sd_diff;
    let v = 1.0 / n + d * d / (2.0 * n);
    EffectSize::new(d, v, level)
}

/// `d_rm = s·(M2 − M1)/√(S1² + S2² − 2 r12 S1 S2) · √(2(1 − r12))`, the
/// repeated-measures d converted back to the raw-score metric with
/// `d_IG = d_RM·√(2(1 − ρ))` (Morris & DeShon 2002, Psychological Methods
/// 7(1), 105–125; Lakens 2013, "d_rm"). Equivalently `d_rm = d_z·√(2(1 − r12))`.
///
/// Variance: delta method on that identity with r12 treated as fixed,
/// `2(1 − r12)·Var(d_z) = 2(1 − r12)/n + d_rm²/(2n)` (the raw-score form of
/// Morris & DeShon 2002, large-sample; it has the form of Becker 1988,
/// eq. 13).
pub fn d_rm(s: &PrePost, direction: Direction, level: f64) -> EffectSize {
    let n = s.n as f64;
    let r = s.r_pre_post;
    let (s1, s2) = (s.pre.sd, s.post.sd);
    let sdiff = (s1 * s1 + s2 * s2 - 2.0 * r * s1 * s2).max(0.0).sqrt();
    let d = direction.sign() * (s.post.mean - s.pre.mean) / sdiff * (2.0 * (1.0 - r)).sqrt();
    let v = 2.0 * (1.0 - r) / n + d * d / (2.0 * n);
    EffectSize::new(d, v, level)
}

/// All five effect sizes from summary statistics.
pub fn effect_sizes(s: &PrePost, direction: Direction, level: f64) -> EffectSizes {
    EffectSizes {
        d_pre: d_pre(s, direction, level),
        g_pre: g_pre(s, direction, level),
        d_av: d_av(s, direction, level),
        d_z: d_z(s, direction, level),
        d_rm: d_rm(s, direction, level),
    }
}

/// All five effect sizes from complete pre-post pairs. Errors as
/// [`PrePost::from_pairs`], plus a zero pre SD (analysis: nothing to
/// standardise by).
pub fn effect_sizes_from_pairs(
    pre: &[f64],
    post: &[f64],
    direction: Direction,
    level: f64,
) -> Result<(PrePost, EffectSizes)> {
    check_level(level)?;
    let s = PrePost::from_pairs(pre, post)?;
    if s.pre.sd <= 0.0 {
        return Err(Error::analysis(
            "the pre-treatment scores have zero standard deviation: effect sizes \
             standardised by the pre SD cannot be computed",
        ));
    }
    Ok((s, effect_sizes(&s, direction, level)))
}

/// Where an effect lies relative to a benchmark value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Comparison {
    /// The CI lower bound exceeds the benchmark.
    Above,
    /// The CI contains the benchmark.
    Within,
    /// The CI upper bound is below the benchmark.
    Below,
}

/// Compares an effect's confidence interval with a benchmark value: above
/// when `ci_lb > benchmark`, below when `ci_ub < benchmark`, otherwise within
/// (the benchmarking convention of Delgadillo et al. 2014, Behavioural and
/// Cognitive Psychotherapy 42(1), 16–30, and Minami et al. 2008).
pub fn compare(effect: &EffectSize, benchmark: f64) -> Comparison {
    if effect.ci_lb > benchmark {
        Comparison::Above
    } else if effect.ci_ub < benchmark {
        Comparison::Below
    } else {
        Comparison::Within
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn j_matches_closed_forms() {
        // J(m) for small integer m from the Gamma function: J(2) = Γ(1)/(1·Γ(1/2))
        // = 1/√π; J(3) = Γ(3/2)/(√1.5·Γ(1)) = (√π/2)/√1.5.
        let pi = std::f64::consts::PI;
        assert!((hedges_j(2.0) - 1.0 / pi.sqrt()).abs() < 1e-14);
        assert!((hedges_j(3.0) - (pi.sqrt() / 2.0) / 1.5f64.sqrt()).abs() < 1e-14);
        // m = 1000 against R: exp(lgamma(500) - log(sqrt(500)) - lgamma(499.5))
        // = 0.99924978117947805 (the approximation 1 − 3/(4m − 1) = 0.999249812).
        // Tolerance 1e-12: ln Γ(500) ≈ 2605 carries an absolute rounding error of
        // about one ulp (4.5e-13) in any implementation, R's included.
        let j = hedges_j(1000.0);
        assert!((j - 0.999_249_781_179_478).abs() < 1e-12, "{j:.17}");
        assert!(hedges_j(1.0).is_nan());
        // No overflow where gamma() would (metafor's note: m >= 344).
        assert!(hedges_j(1e6).is_finite());
    }

    #[test]
    fn quantiles() {
        // R: qnorm(.975) = 1.959963984540054, qnorm(.95) = 1.644853626951472
        assert!((z_two_sided(95.0) - 1.959963984540054).abs() < 1e-13);
        assert!((z_one_sided(95.0) - 1.644853626951472).abs() < 1e-13);
    }

    #[test]
    fn sign_flips_with_direction() {
        let s = PrePost::from_summary(20.0, 5.0, 10.0, 6.0, 0.5, 30);
        let lo = effect_sizes(&s, Direction::LowerBetter, 95.0);
        let hi = effect_sizes(&s, Direction::HigherBetter, 95.0);
        assert_eq!(lo.d_pre.estimate, 2.0);
        assert_eq!(hi.d_pre.estimate, -2.0);
        assert_eq!(lo.g_pre.variance, hi.g_pre.variance);
        assert_eq!(compare(&lo.d_pre, 1.0), Comparison::Above);
        assert_eq!(compare(&hi.d_pre, 1.0), Comparison::Below);
    }

    #[test]
    fn direction_parse() {
        assert_eq!(Direction::parse("Lower"), Some(Direction::LowerBetter));
        assert_eq!(
            Direction::parse("higher-is-better"),
            Some(Direction::HigherBetter)
        );
        assert_eq!(Direction::parse("up"), None);
    }
}
