//! Q-profile confidence interval for τ² (Viechtbauer 2007, Stat Med 26:37,
//! §3.2), as metafor's `confint.rma.uni(type = "QP")` computes it: the
//! bounds solve Q(τ²) = χ²_{k−p; 1−α/2} (lower bound) and
//! Q(τ²) = χ²_{k−p; α/2} (upper bound), Q(τ²) = Σ wᵢ(yᵢ − xᵢ'b)² with
//! wᵢ = 1/(vᵢ + τ²), searched in [0, max(100, 10·τ̂²)] with `uniroot`.
//! Q(τ²) decreases in τ², so: if Q(0) < χ²_{α/2} the interval is empty
//! ({0}, metafor prints both bounds as 0 and flags `ci.null`); if
//! Q(0) < χ²_{1−α/2} the lower bound is 0. I² and H² bounds follow from the
//! τ² bounds with the model's ṽ (Higgins & Thompson 2002).

use super::tau2::q_gen;
use super::zeroin::zeroin2;
use super::{check_inputs, level_fraction, MetaError, Method, Rma};
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// How a bound was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundKind {
    /// A root of the Q-profile equation.
    Root,
    /// Truncated at the lower search limit 0 (metafor prints no sign when
    /// that limit is 0).
    Zero,
    /// The true bound is below the search interval (metafor's "<").
    Below,
    /// The true bound exceeds the search limit (metafor's ">").
    Above,
}

/// Q-profile CI for τ² with the implied I² (%) and H² bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Tau2Ci {
    pub level: f64,
    pub tau2: [f64; 2],
    pub i2: [f64; 2],
    pub h2: [f64; 2],
    pub kind: [BoundKind; 2],
    /// metafor's `ci.null`: Q(0) is below the lower critical value, so the
    /// interval is empty (both bounds reported as 0).
    pub ci_null: bool,
    /// Both root searches converged.
    pub converged: bool,
    /// Search interval [0, max(100, 10 τ̂²)].
    pub tau2_max: f64,
}

/// Q-profile CI for the fitted model `fit` on the same data. Errors for
/// equal-effects fits (no τ²), as metafor does.
pub fn tau2_ci(
    yi: &[f64],
    vi: &[f64],
    x: &[f64],
    p: usize,
    fit: &Rma,
    level: f64,
) -> Result<Tau2Ci, MetaError> {
    check_inputs(yi, vi, x, p)?;
    if fit.method == Method::Ee {
        return Err(MetaError::Invalid(
            "the equal-effects model has no random-effects component".into(),
        ));
    }
    let level = level_fraction(level);
    if !(level > 0.0 && level < 1.0) {
        return Err(MetaError::Invalid(format!("level {level}")));
    }
    let alpha = 1.0 - level;
    let k = yi.len();
    let df = (k - p) as f64;
    let chi = ChiSquared::new(df).expect("df > 0");
    let crit_u = chi.inverse_cdf(1.0 - alpha / 2.0);
    let crit_l = chi.inverse_cdf(alpha / 2.0);
    let tmin = 0f64.min(fit.tau2);
    let tmax = 100f64.max(fit.tau2 * 10.0).max(tmin * 10.0);
    // metafor's confint uses the uncentred y here
    let q = |t: f64| q_gen(yi, vi, x, p, t);
    let q_max = q(tmax)?;
    let q_min = q(tmin)?;
    let mut converged = true;
    let mut err = None;
    let mut solve = |target: f64| -> f64 {
        let r = zeroin2(
            |t| match q_gen(yi, vi, x, p, t) {
                Ok(v) => v - target,
                Err(e) => {
                    err = Some(e);
                    0.0
                }
            },
            tmin,
            tmax,
            q_min - target,
            q_max - target,
            super::tau2::uniroot_tol(),
            1000,
        );
        converged &= r.converged;
        r.root
    };

    let mut ci_null = false;
    // upper bound
    let (mut ub, mut uk) = if q_min < crit_l {
        if tmin <= 0.0 {
            ci_null = true;
            (tmin, BoundKind::Zero)
        } else {
            (tmin, BoundKind::Below)
        }
    } else if q_max > crit_l {
        (tmax, BoundKind::Above)
    } else {
        (solve(crit_l), BoundKind::Root)
    };
    // lower bound
    let (lb, lk) = if q_max > crit_u {
        ub = tmax;
        uk = BoundKind::Above;
        (tmax, BoundKind::Above)
    } else if q_min < crit_u {
        if ci_null || tmin <= 0.0 {
            (tmin, BoundKind::Zero)
        } else {
            (tmin, BoundKind::Below)
        }
    } else {
        (solve(crit_u), BoundKind::Root)
    };
    if let Some(e) = err {
        return Err(e);
    }
    let i2 = |t: f64| 100.0 * t / (fit.vt + t);
    let h2 = |t: f64| t / fit.vt + 1.0;
    Ok(Tau2Ci {
        level,
        tau2: [lb, ub],
        i2: [i2(lb), i2(ub)],
        h2: [h2(lb), h2(ub)],
        kind: [lk, uk],
        ci_null,
        converged,
        tau2_max: tmax,
    })
}
