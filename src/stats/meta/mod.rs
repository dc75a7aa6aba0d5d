//! Random-effects meta-analysis and meta-regression with metafor's `rma.uni`
//! conventions (metafor 3.8; Viechtbauer 2010, JSS 36(3)).
//!
//! Model: yᵢ = xᵢ'β + uᵢ + εᵢ, uᵢ ~ N(0, τ²), εᵢ ~ N(0, vᵢ) with known vᵢ.
//! β is estimated by weighted least squares with wᵢ = 1/(vᵢ + τ̂²)
//! (Viechtbauer 2010, eq. 6; Raudenbush 2009), τ² by one of the estimators
//! in [`tau2`], tests are z tests or Knapp & Hartung (2003) t/F tests.
//! Pure numerical code on plain slices: no I/O.

pub mod bias;
pub mod influence;
pub mod linalg;
pub mod multilevel;
pub mod qprofile;
pub mod tau2;
pub mod zeroin;

pub use qprofile::{tau2_ci, Tau2Ci};

use linalg::Wls;
use statrs::distribution::{ChiSquared, ContinuousCDF, FisherSnedecor, Normal, StudentsT};
use std::fmt;

/// τ² estimator (metafor's `method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Equal-effects ("fixed-effect") model, τ² = 0.
    Ee,
    /// DerSimonian & Laird (1986).
    Dl,
    /// Hedges (1983) / Hedges & Olkin (1985).
    He,
    /// Hunter & Schmidt (2004).
    Hs,
    /// Sidik & Jonkman (2005).
    Sj,
    /// Paule & Mandel (1982).
    Pm,
    /// Maximum likelihood.
    Ml,
    /// Restricted maximum likelihood (metafor's default).
    Reml,
    /// Empirical Bayes (Morris 1983; Berkey et al. 1995).
    Eb,
}

impl Method {
    pub const ALL: [Method; 9] = [
        Method::Ee,
        Method::Dl,
        Method::He,
        Method::Hs,
        Method::Sj,
        Method::Pm,
        Method::Ml,
        Method::Reml,
        Method::Eb,
    ];

    /// Case-insensitive metafor name; "FE" (and "CE") are accepted for EE.
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "EE" | "FE" | "CE" => Method::Ee,
            "DL" => Method::Dl,
            "HE" => Method::He,
            "HS" => Method::Hs,
            "SJ" => Method::Sj,
            "PM" => Method::Pm,
            "ML" => Method::Ml,
            "REML" => Method::Reml,
            "EB" => Method::Eb,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Method::Ee => "EE",
            Method::Dl => "DL",
            Method::He => "HE",
            Method::Hs => "HS",
            Method::Sj => "SJ",
            Method::Pm => "PM",
            Method::Ml => "ML",
            Method::Reml => "REML",
            Method::Eb => "EB",
        }
    }
}

/// Inference for the fixed effects (metafor's `test`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    /// Wald z tests and χ² omnibus test (metafor's default).
    Z,
    /// Knapp & Hartung (2003): Vb scaled by s², t(k − p) and F(m, k − p).
    Knha,
}

/// Extra settings of [`rma_with`].
#[derive(Debug, Clone, Default)]
pub struct RmaOptions {
    /// metafor's `test = "adhoc"` (only with [`Test::Knha`]): s² truncated
    /// below at 1 (Knapp & Hartung 2003, ad hoc improvement; Jackson et al.
    /// 2017).
    pub knha_adhoc: bool,
    /// Whether column 0 of X is an intercept; `None` = detect (all ones).
    pub intercept: Option<bool>,
    /// Coefficients (0-based) in the omnibus test QM; `None` = metafor's
    /// default (all but the intercept, or the intercept alone when p = 1).
    pub btt: Option<Vec<usize>>,
}

/// A fitted `rma.uni` model.
#[derive(Debug, Clone)]
pub struct Rma {
    pub k: usize,
    pub p: usize,
    pub method: Method,
    pub test: Test,
    /// Confidence level as a fraction (0.95).
    pub level: f64,
    pub beta: Vec<f64>,
    pub se: Vec<f64>,
    /// z or t statistics.
    pub stat: Vec<f64>,
    pub pval: Vec<f64>,
    pub ci_lb: Vec<f64>,
    pub ci_ub: Vec<f64>,
    /// Var(b), p×p row-major (scaled by s² under Knapp–Hartung).
    pub vb: Vec<f64>,
    pub tau2: f64,
    pub se_tau2: Option<f64>,
    pub i2: f64,
    pub h2: f64,
    /// Q_E, residual heterogeneity (Cochran's Q for intercept-only models).
    pub qe: f64,
    pub qe_df: usize,
    pub qe_pval: f64,
    /// Omnibus test of the coefficients in `btt` (χ² or F/m).
    pub qm: f64,
    pub qm_df: (usize, Option<usize>),
    pub qm_pval: f64,
    /// Prediction interval (intercept-only random-effects models).
    pub pi_lb: Option<f64>,
    pub pi_ub: Option<f64>,
    pub converged: bool,
    /// Fisher-scoring iterations (ML/REML/EB) or root-finder iterations (PM).
    pub iterations: usize,
    /// ṽ = (k − p)/tr(P), "typical" within-study variance (I², H², bounds).
    pub vt: f64,
    /// Knapp–Hartung scale s² (1 under z tests).
    pub s2w: f64,
    /// Degrees of freedom of the t tests (Knapp–Hartung), else `None`.
    pub ddf: Option<usize>,
    /// Critical value used for the CIs (and the PI).
    pub crit: f64,
    /// Coefficients in QM (0-based).
    pub btt: Vec<usize>,
    pub intercept: bool,
    /// Log-likelihoods at the estimates (metafor's `fit.stats`: ML, and REML
    /// including the ½log|X'X| constant).
    pub ll_ml: f64,
    pub ll_reml: f64,
    pub knha_adhoc: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MetaError {
    TooFew {
        k: usize,
        p: usize,
    },
    NonPositiveVariance {
        index: usize,
        value: f64,
    },
    NotConverged(String),
    Singular(String),
    /// Inputs of inconsistent length, non-finite values or a bad level.
    Invalid(String),
}

impl fmt::Display for MetaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaError::TooFew { k, p } => write!(
                f,
                "too few studies: k = {k} with {p} coefficient(s) (need k > p)"
            ),
            MetaError::NonPositiveVariance { index, value } => write!(
                f,
                "sampling variance {value} of study {} is not positive",
                index + 1
            ),
            MetaError::NotConverged(s) => write!(f, "not converged: {s}"),
            MetaError::Singular(s) => write!(f, "singular model: {s}"),
            MetaError::Invalid(s) => write!(f, "invalid input: {s}"),
        }
    }
}

impl std::error::Error for MetaError {}

/// metafor's `.level()`: 95 and 0.95 both mean a 95% level.
pub fn level_fraction(level: f64) -> f64 {
    if level > 1.0 {
        level / 100.0
    } else {
        level
    }
}

/// Fits `rma.uni` with metafor's defaults for everything not given.
/// x: k×p row-major design (column 0 = intercept of ones when the model has
/// one), yi, vi (> 0); level 0.95 or 95.
pub fn rma(
    yi: &[f64],
    vi: &[f64],
    x: &[f64],
    p: usize,
    method: Method,
    test: Test,
    level: f64,
) -> Result<Rma, MetaError> {
    rma_with(yi, vi, x, p, method, test, level, &RmaOptions::default())
}

pub(crate) fn check_inputs(yi: &[f64], vi: &[f64], x: &[f64], p: usize) -> Result<(), MetaError> {
    let k = yi.len();
    if vi.len() != k || p == 0 || x.len() != k * p {
        return Err(MetaError::Invalid(format!(
            "lengths: yi {k}, vi {}, x {} (p = {p})",
            vi.len(),
            x.len()
        )));
    }
    if let Some(i) = yi.iter().chain(x).position(|v| !v.is_finite()) {
        return Err(MetaError::Invalid(format!(
            "non-finite value at position {i}"
        )));
    }
    if let Some((index, &value)) = vi
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v > 0.0))
    {
        return Err(MetaError::NonPositiveVariance { index, value });
    }
    if k <= p {
        return Err(MetaError::TooFew { k, p });
    }
    Ok(())
}

/// [`rma`] with extra options.
#[allow(clippy::too_many_arguments)]
pub fn rma_with(
    yi: &[f64],
    vi: &[f64],
    x: &[f64],
    p: usize,
    method: Method,
    test: Test,
    level: f64,
    opts: &RmaOptions,
) -> Result<Rma, MetaError> {
    check_inputs(yi, vi, x, p)?;
    let level = level_fraction(level);
    if !(level > 0.0 && level < 1.0) {
        return Err(MetaError::Invalid(format!("level {level}")));
    }
    let k = yi.len();
    let kp = k - p;
    let intercept = opts
        .intercept
        .unwrap_or_else(|| x.chunks_exact(p).all(|r| r[0] == 1.0));
    let btt: Vec<usize> = match &opts.btt {
        Some(b) => {
            if b.is_empty() || b.iter().any(|&j| j >= p) {
                return Err(MetaError::Invalid(format!("btt {b:?} for p = {p}")));
            }
            b.clone()
        }
        None if intercept && p > 1 => (1..p).collect(),
        None => (0..p).collect(),
    };

    // τ² (metafor centres y for these computations)
    let ybar = yi.iter().sum::<f64>() / k as f64;
    let ymc: Vec<f64> = yi.iter().map(|y| y - ybar).collect();
    let est = tau2::estimate(method, &ymc, vi, x, p)?;
    let tau2 = est.tau2;

    // fixed effects: b = (X'WX)⁻¹X'Wy, Vb = (X'WX)⁻¹, wᵢ = 1/(vᵢ + τ²)
    // (Viechtbauer 2010, eq. 6)
    let w: Vec<f64> = vi.iter().map(|v| 1.0 / (v + tau2)).collect();
    let fit = Wls::new(x, &w, yi, p)
        .ok_or_else(|| MetaError::Singular("X'WX is not positive definite".into()))?;
    // Knapp & Hartung (2003): s² = Σwᵢ(yᵢ − xᵢ'b)²/(k − p) (0 when the RSS
    // is ≤ machine epsilon, as metafor); "adhoc": s² = max(1, s²).
    let s2w = match test {
        Test::Z => 1.0,
        Test::Knha => {
            let s2 = if fit.rss <= f64::EPSILON {
                0.0
            } else {
                fit.rss / kp as f64
            };
            if opts.knha_adhoc {
                s2.max(1.0)
            } else {
                s2
            }
        }
    };
    let vb: Vec<f64> = fit.inv.iter().map(|v| v * s2w).collect();
    let beta = fit.beta.clone();
    let se: Vec<f64> = (0..p).map(|j| vb[j * p + j].sqrt()).collect();
    let stat: Vec<f64> = beta.iter().zip(&se).map(|(b, s)| b / s).collect();
    let alpha = 1.0 - level;

    // QM = b[btt]' Vb[btt,btt]⁻¹ b[btt] (Viechtbauer 2010, §3.3); under
    // Knapp–Hartung QM/m ~ F(m, k − p).
    let m = btt.len();
    let vsub: Vec<f64> = btt
        .iter()
        .flat_map(|&a| btt.iter().map(move |&b| (a, b)))
        .map(|(a, b)| vb[a * p + b])
        .collect();
    let qm_raw = match linalg::spd_inverse(&vsub, m) {
        Some((inv, _)) => {
            let bs: Vec<f64> = btt.iter().map(|&j| beta[j]).collect();
            let mut q = 0.0;
            for a in 0..m {
                for b in 0..m {
                    q += bs[a] * inv[a * m + b] * bs[b];
                }
            }
            q
        }
        None => f64::NAN,
    };
    let (pval, crit, qm, qm_df, qm_pval, ddf) = match test {
        Test::Z => {
            let n = Normal::standard();
            let pval: Vec<f64> = stat.iter().map(|z| 2.0 * n.cdf(-z.abs())).collect();
            let crit = n.inverse_cdf(1.0 - alpha / 2.0);
            let qm_pval = chisq_sf(qm_raw, m as f64);
            (pval, crit, qm_raw, (m, None), qm_pval, None)
        }
        Test::Knha => {
            let t = StudentsT::new(0.0, 1.0, kp as f64).expect("df > 0");
            let pval: Vec<f64> = stat.iter().map(|z| 2.0 * t.cdf(-z.abs())).collect();
            let crit = -t.inverse_cdf(alpha / 2.0);
            let qm = qm_raw / m as f64;
            let qm_pval = if qm.is_nan() {
                f64::NAN
            } else {
                FisherSnedecor::new(m as f64, kp as f64)
                    .expect("df > 0")
                    .sf(qm)
            };
            (pval, crit, qm, (m, Some(kp)), qm_pval, Some(kp))
        }
    };
    let ci_lb: Vec<f64> = beta.iter().zip(&se).map(|(b, s)| b - crit * s).collect();
    let ci_ub: Vec<f64> = beta.iter().zip(&se).map(|(b, s)| b + crit * s).collect();

    // Q_E = y'Py with wᵢ = 1/vᵢ (Cochran 1954; Viechtbauer 2010, §3.3),
    // ṽ = (k − p)/tr(P) (Higgins & Thompson 2002, eq. 9 generalised),
    // I² = 100·τ²/(ṽ + τ²), H² = τ²/ṽ + 1; for EE models I² = (Q − df)/Q,
    // H² = Q/df (Higgins & Thompson 2002).
    let w_fe: Vec<f64> = vi.iter().map(|v| 1.0 / v).collect();
    let fe = Wls::new(x, &w_fe, &ymc, p)
        .ok_or_else(|| MetaError::Singular("X'WX is not positive definite".into()))?;
    let qe = fe.rss.max(0.0);
    let qe_pval = chisq_sf(qe, kp as f64);
    let vt = kp as f64 / linalg::trace_p(x, &w_fe, &fe.inv, p);
    let (i2, h2) = if method == Method::Ee {
        ((100.0 * (qe - kp as f64) / qe).max(0.0), qe / kp as f64)
    } else {
        (100.0 * tau2 / (vt + tau2), tau2 / vt + 1.0)
    };

    // prediction interval μ̂ ± crit·√(SE² + τ²) (Riley et al. 2011;
    // metafor `predict.rma`), intercept-only random-effects models (metafor
    // gives none for EE models)
    let (pi_lb, pi_ub) = if p == 1 && intercept && method != Method::Ee {
        let s = (se[0] * se[0] + tau2).sqrt();
        (Some(beta[0] - crit * s), Some(beta[0] + crit * s))
    } else {
        (None, None)
    };

    // log-likelihoods (metafor `fit.stats`)
    let two_pi_ln = (2.0 * std::f64::consts::PI).ln();
    let slog: f64 = vi.iter().map(|v| (v + tau2).ln()).sum();
    let ll_ml = -0.5 * k as f64 * two_pi_ln - 0.5 * slog - 0.5 * fit.rss;
    let ll_reml = -0.5 * kp as f64 * two_pi_ln + 0.5 * tau2::logdet_xtx(x, p).unwrap_or(f64::NAN)
        - 0.5 * slog
        - 0.5 * fit.logdet
        - 0.5 * fit.rss;

    Ok(Rma {
        k,
        p,
        method,
        test,
        level,
        beta,
        se,
        stat,
        pval,
        ci_lb,
        ci_ub,
        vb,
        tau2,
        se_tau2: est.se,
        i2,
        h2,
        qe,
        qe_df: kp,
        qe_pval,
        qm,
        qm_df,
        qm_pval,
        pi_lb,
        pi_ub,
        converged: est.converged,
        iterations: est.iterations,
        vt,
        s2w,
        ddf,
        crit,
        btt,
        intercept,
        ll_ml,
        ll_reml,
        knha_adhoc: test == Test::Knha && opts.knha_adhoc,
    })
}

fn chisq_sf(x: f64, df: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    ChiSquared::new(df).expect("df > 0").sf(x.max(0.0))
}

/// One study's Wald interval and weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudyRow {
    pub ci_lb: f64,
    pub ci_ub: f64,
    /// Weight in percent.
    pub weight: f64,
}

/// Per-study intervals yᵢ ± z_{1−α/2}·√vᵢ (metafor's `forest` and
/// `summary(escalc)`) and weights 100·wᵢ/Σw with wᵢ = 1/(vᵢ + τ²)
/// (metafor's `weights.rma.uni`), for forest plots and tables.
pub fn study_rows(yi: &[f64], vi: &[f64], tau2: f64, level: f64) -> Vec<StudyRow> {
    let crit = crate::stats::effect::qnorm(1.0 - (1.0 - level_fraction(level)) / 2.0);
    let wsum: f64 = vi.iter().map(|v| 1.0 / (v + tau2)).sum();
    yi.iter()
        .zip(vi)
        .map(|(&y, &v)| StudyRow {
            ci_lb: y - crit * v.sqrt(),
            ci_ub: y + crit * v.sqrt(),
            weight: 100.0 / (v + tau2) / wsum,
        })
        .collect()
}

/// Pseudo-R² of a meta-regression: the proportional reduction in τ²
/// relative to the intercept-only model fitted with the same estimator,
/// 100·max(0, (τ²_RE − τ²_ME)/τ²_RE) (Raudenbush 2009, eq. 16.14; metafor
/// `anova.rma`/`R2`). 0 when τ²_RE = 0 (metafor reports 0 then too).
pub fn pseudo_r2(tau2_re: f64, tau2_me: f64) -> f64 {
    if tau2_re <= 0.0 {
        return 0.0;
    }
    (100.0 * (tau2_re - tau2_me) / tau2_re).max(0.0)
}

/// Variance of the true means of G groups (e.g. therapy types), each
/// estimated as ĝ_j with standard error s_j, around their w-weighted mean
/// (weights w_j summing to 1, e.g. each group's share of the studies):
/// σ̂²_B = Σ w_j (ĝ_j − ḡ)² − Σ w_j (1 − w_j) s_j², truncated at 0.
///
/// The correction makes it unbiased for Σ w_j (μ_j − μ̄)² when the ĝ_j are
/// independent: E[Σ w_j (ĝ_j − ḡ)²] = Σ w_j (μ_j − μ̄)² + Σ w_j (1 − w_j) s_j²
/// (expand ĝ_j − ḡ = (μ_j − μ̄) + (e_j − Σ w_k e_k); the method-of-moments
/// argument of DerSimonian & Laird 1986, Control. Clin. Trials 7:177, with
/// fixed weights). `None` with fewer than two groups.
pub fn between_group_variance(groups: &[(f64, f64, f64)]) -> Option<f64> {
    if groups.len() < 2 {
        return None;
    }
    let total: f64 = groups.iter().map(|g| g.0).sum();
    if total.is_nan() || total <= 0.0 {
        return None;
    }
    let mean: f64 = groups.iter().map(|&(w, g, _)| w / total * g).sum();
    let spread: f64 = groups
        .iter()
        .map(|&(w, g, _)| w / total * (g - mean).powi(2))
        .sum();
    let noise: f64 = groups
        .iter()
        .map(|&(w, _, s)| w / total * (1.0 - w / total) * s * s)
        .sum();
    Some((spread - noise).max(0.0))
}

/// The percentage of client-level outcome variance that differences between
/// group means of variance σ²_B (in standardised-mean-difference units, where
/// the within-group variance is 1) account for: 100·σ²_B / (σ²_B + 1). For two
/// equal groups d apart, σ²_B = d²/4 and this is 100·d²/(d² + 4) = 100·r²,
/// the conversion of science.md §1 (Rosenthal 1994, eq. 16-7).
pub fn share_of_outcome_variance(sigma2_between: f64) -> f64 {
    100.0 * sigma2_between / (sigma2_between + 1.0)
}

/// Parametric bootstrap of [`share_of_outcome_variance`] of
/// [`between_group_variance`]: `reps` draws, each group's estimate redrawn as
/// ĝ_j + s_j z with z from `normal` (Efron & Tibshirani 1993, *An
/// Introduction to the Bootstrap*, §6.5). The percentile interval of the
/// draws does not remove the estimator's upward noise, so it errs upwards.
pub fn between_group_share_draws(
    groups: &[(f64, f64, f64)],
    reps: usize,
    mut normal: impl FnMut() -> f64,
) -> Vec<f64> {
    let mut star = groups.to_vec();
    (0..reps)
        .map(|_| {
            for (s, &(w, g, se)) in star.iter_mut().zip(groups) {
                *s = (w, g + se * normal(), se);
            }
            share_of_outcome_variance(between_group_variance(&star).unwrap_or(f64::NAN))
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    /// Two equal groups d apart, known means: σ²_B = d²/4 and the share is
    /// 100·d²/(d² + 4); the noise correction removes Σ w(1 − w)s².
    #[test]
    fn between_group_share() {
        let d = 0.4;
        let v = super::between_group_variance(&[(1.0, 0.0, 0.0), (1.0, d, 0.0)]).unwrap();
        assert!((v - d * d / 4.0).abs() < 1e-15);
        let pct = super::share_of_outcome_variance(v);
        assert!((pct - 100.0 * d * d / (d * d + 4.0)).abs() < 1e-12);
        // with standard errors 0.1 the expected spread grows by Σ w(1−w)s² = 0.005
        let v = super::between_group_variance(&[(1.0, 0.0, 0.1), (1.0, d, 0.1)]).unwrap();
        assert!((v - (d * d / 4.0 - 0.005)).abs() < 1e-15);
        assert_eq!(
            super::between_group_variance(&[(1.0, 0.3, 0.5), (1.0, 0.3, 0.5)]),
            Some(0.0)
        );
        assert_eq!(super::between_group_variance(&[(1.0, 0.3, 0.1)]), None);
    }

    use super::*;

    /// dat.bcg log risk ratios (metadat; Colditz et al. 1994), shared by
    /// the unit tests of the meta module.
    pub(crate) fn bcg() -> (Vec<f64>, Vec<f64>) {
        let t: [[f64; 4]; 13] = [
            [4., 119., 11., 128.],
            [6., 300., 29., 274.],
            [3., 228., 11., 209.],
            [62., 13536., 248., 12619.],
            [33., 5036., 47., 5761.],
            [180., 1361., 372., 1079.],
            [8., 2537., 10., 619.],
            [505., 87886., 499., 87892.],
            [29., 7470., 45., 7232.],
            [17., 1699., 65., 1600.],
            [186., 50448., 141., 27197.],
            [5., 2493., 3., 2338.],
            [27., 16886., 29., 17825.],
        ];
        let yi = t
            .iter()
            .map(|r| ((r[0] / (r[0] + r[1])) / (r[2] / (r[2] + r[3]))).ln())
            .collect();
        let vi = t
            .iter()
            .map(|r| 1. / r[0] - 1. / (r[0] + r[1]) + 1. / r[2] - 1. / (r[2] + r[3]))
            .collect();
        (yi, vi)
    }

    #[test]
    fn bcg_reml_and_dl() {
        let (y, v) = bcg();
        let x = vec![1.0; y.len()];
        let r = rma(&y, &v, &x, 1, Method::Reml, Test::Z, 95.0).unwrap();
        // science.md §5: REML τ² 0.313243, μ −0.714532, SE 0.17978
        assert!((r.tau2 - 0.313243).abs() < 5e-7);
        assert!((r.beta[0] + 0.714532).abs() < 5e-7);
        assert!((r.se[0] - 0.17978).abs() < 5e-6);
        assert!((r.qe - 152.2330).abs() < 5e-5);
        let d = rma(&y, &v, &x, 1, Method::Dl, Test::Z, 0.95).unwrap();
        assert!((d.tau2 - 0.3088).abs() < 5e-5);
        assert!((d.i2 - 92.1173).abs() < 5e-5);
        assert!((d.beta[0] + 0.7141).abs() < 5e-5);
    }

    #[test]
    fn parse_methods() {
        assert_eq!(Method::parse("fe"), Some(Method::Ee));
        assert_eq!(Method::parse("reml"), Some(Method::Reml));
        assert_eq!(Method::parse("xx"), None);
        for m in Method::ALL {
            assert_eq!(Method::parse(m.label()), Some(m));
        }
    }

    #[test]
    fn errors() {
        let e = rma(
            &[0.1, 0.2],
            &[0.1, 0.0],
            &[1.0, 1.0],
            1,
            Method::Dl,
            Test::Z,
            0.95,
        );
        assert!(matches!(
            e,
            Err(MetaError::NonPositiveVariance { index: 1, .. })
        ));
        let e = rma(&[0.1], &[0.1], &[1.0], 1, Method::Dl, Test::Z, 0.95);
        assert!(matches!(e, Err(MetaError::TooFew { k: 1, p: 1 })));
    }

    #[test]
    fn r2() {
        assert_eq!(pseudo_r2(0.0, 0.1), 0.0);
        assert_eq!(pseudo_r2(0.2, 0.3), 0.0);
        assert!((pseudo_r2(0.2, 0.05) - 75.0).abs() < 1e-12);
    }
}
