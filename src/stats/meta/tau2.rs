//! Estimators of the residual heterogeneity τ² in `rma.uni`, step for step
//! as metafor 3.8 computes them (Viechtbauer 2010, JSS 36(3), §3.1 and the
//! `rma.uni` source), including metafor's standard errors (`se.tau2`).
//!
//! As in metafor, the outcomes are centred (ȳ subtracted) before the τ²
//! computations; this changes nothing for models with an intercept.
//! Every estimate is truncated at 0 (metafor's `tau2.min = 0`).

use super::linalg::{spd_inverse, tr_prod, trace_p, xtwx, Wls};
use super::zeroin::zeroin2;
use super::{MetaError, Method};

/// metafor's `control` defaults for `rma.uni`: `threshold = 1e-5`,
/// `maxiter = 100`, `tol = .Machine$double.eps^0.25`, `stepadj = 1`.
pub const THRESHOLD: f64 = 1e-5;
pub const MAXITER: usize = 100;
pub fn uniroot_tol() -> f64 {
    f64::EPSILON.powf(0.25)
}

#[derive(Debug, Clone, Copy)]
pub struct Tau2Est {
    pub tau2: f64,
    pub se: Option<f64>,
    pub iterations: usize,
    pub converged: bool,
}

fn singular(what: &str) -> MetaError {
    MetaError::Singular(format!("X'WX is not positive definite ({what})"))
}

/// The generalised Q statistic Q(τ²) = y'P(τ²)y with P built from weights
/// 1/(vᵢ + τ²) (DerSimonian & Kacker 2007; Viechtbauer 2007, Stat Med 26:37,
/// eq. 6): metafor's `.QE.func`.
pub fn q_gen(y: &[f64], vi: &[f64], x: &[f64], p: usize, tau2: f64) -> Result<f64, MetaError> {
    let w: Vec<f64> = vi.iter().map(|v| 1.0 / (v + tau2)).collect();
    Ok(Wls::new(x, &w, y, p).ok_or_else(|| singular("Q"))?.rss)
}

/// R's `mad()`: 1.4826 · median |yᵢ − median(y)|.
fn mad(y: &[f64]) -> f64 {
    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        }
    }
    let mut v = y.to_vec();
    let m = median(&mut v);
    let mut d: Vec<f64> = y.iter().map(|a| (a - m).abs()).collect();
    1.4826 * median(&mut d)
}

/// τ² and its SE for `method` (not `Ee`), given the centred outcomes `ymc`.
pub fn estimate(
    method: Method,
    ymc: &[f64],
    vi: &[f64],
    x: &[f64],
    p: usize,
) -> Result<Tau2Est, MetaError> {
    let k = vi.len();
    let kp = (k - p) as f64;
    let kf = k as f64;
    let closed = |tau2: f64, se: f64| Tau2Est {
        tau2,
        se: Some(se),
        iterations: 0,
        converged: true,
    };
    let w_fe: Vec<f64> = vi.iter().map(|v| 1.0 / v).collect();
    match method {
        Method::Ee => Ok(Tau2Est {
            tau2: 0.0,
            se: None,
            iterations: 0,
            converged: true,
        }),
        // Hunter & Schmidt (2004): τ² = (Q − k)/Σwᵢ, wᵢ = 1/vᵢ
        // (Viechtbauer 2005, JEBS 30:261, eq. 10); SE: metafor's `se.tau2`.
        Method::Hs => {
            let fit = Wls::new(x, &w_fe, ymc, p).ok_or_else(|| singular("HS"))?;
            let sw: f64 = w_fe.iter().sum();
            let tau2 = ((fit.rss - kf) / sw).max(0.0);
            let trp = trace_p(x, &w_fe, &fit.inv, p);
            let pp = fit.sq_sum(x, &w_fe, p, None, None);
            let se =
                (1.0 / (sw * sw) * (2.0 * kp + 4.0 * tau2 * trp + 2.0 * tau2 * tau2 * pp)).sqrt();
            Ok(closed(tau2, se))
        }
        // DerSimonian & Laird (1986): τ² = (Q − (k − p))/tr(P), wᵢ = 1/vᵢ;
        // SE (Viechtbauer 2007, Stat Med 26:37, eq. 9; metafor `se.tau2`).
        Method::Dl => {
            let fit = Wls::new(x, &w_fe, ymc, p).ok_or_else(|| singular("DL"))?;
            let trp = trace_p(x, &w_fe, &fit.inv, p);
            let tau2 = ((fit.rss - kp) / trp).max(0.0);
            let pp = fit.sq_sum(x, &w_fe, p, None, None);
            let se =
                (1.0 / (trp * trp) * (2.0 * kp + 4.0 * tau2 * trp + 2.0 * tau2 * tau2 * pp)).sqrt();
            Ok(closed(tau2, se))
        }
        // Hedges (1983) / Hedges & Olkin (1985) "HE": unweighted residuals,
        // τ² = (y'P₀y − tr(P₀V))/(k − p), P₀ = I − X(X'X)⁻¹X'
        // (Viechtbauer 2005, eq. 8).
        Method::He | Method::Ml | Method::Reml | Method::Eb => {
            let he = he_estimate(ymc, vi, x, p)?;
            if method == Method::He {
                return Ok(he);
            }
            fisher_scoring(method, he.tau2.max(0.0), ymc, vi, x, p)
        }
        // Sidik & Jonkman (2005): τ₀² = Σ(yᵢ − ȳ)²/k, wᵢ = 1/(vᵢ + τ₀²),
        // τ² = τ₀² y'Py/(k − p).
        Method::Sj => {
            let tau0 = ymc.iter().map(|v| v * v).sum::<f64>() / kf;
            let w: Vec<f64> = vi.iter().map(|v| 1.0 / (v + tau0)).collect();
            let fit = Wls::new(x, &w, ymc, p).ok_or_else(|| singular("SJ"))?;
            let tau2 = (tau0 * fit.rss / kp).max(0.0);
            // sum(PV * t(PV)) = Σ Pᵢⱼ² vᵢ vⱼ; sum(PV * P) = Σ Pᵢⱼ² vⱼ
            let pvpv = fit.sq_sum(x, &w, p, Some(vi), Some(vi));
            let pvp = fit.sq_sum(x, &w, p, None, Some(vi));
            let pp = fit.sq_sum(x, &w, p, None, None);
            let se = (tau0 * tau0 / (kp * kp)
                * (2.0 * pvpv + 4.0 * tau2 * pvp + 2.0 * tau2 * tau2 * pp))
                .sqrt();
            Ok(closed(tau2, se))
        }
        // Paule & Mandel (1982): the root of Q(τ²) = k − p, found as metafor
        // does (uniroot on [0, max(100, 10·mad(y)²)]); 0 when Q(0) < k − p.
        Method::Pm => {
            let target = kp;
            let f0 = q_gen(ymc, vi, x, p, 0.0)? - target;
            let (tau2, iterations, converged) = if f0 < 0.0 {
                (0.0, 0, true)
            } else {
                let tmax = 100f64.max(10.0 * mad(ymc).powi(2));
                let fmax = q_gen(ymc, vi, x, p, tmax)? - target;
                if fmax > 0.0 {
                    return Err(MetaError::NotConverged(format!(
                        "PM: Q(tau2.max = {tmax}) still exceeds k - p"
                    )));
                }
                let mut err = None;
                let r = zeroin2(
                    |t| match q_gen(ymc, vi, x, p, t) {
                        Ok(q) => q - target,
                        Err(e) => {
                            err = Some(e);
                            0.0
                        }
                    },
                    0.0,
                    tmax,
                    f0,
                    fmax,
                    uniroot_tol(),
                    MAXITER,
                );
                if let Some(e) = err {
                    return Err(e);
                }
                (r.root.max(0.0), r.iterations, r.converged)
            };
            Ok(Tau2Est {
                tau2,
                se: Some(se_eb_pm(vi, tau2, k, p)),
                iterations,
                converged,
            })
        }
    }
}

/// metafor's `se.tau2` for EB and PM: √(2k²/(k − p)) / Σwᵢ, wᵢ = 1/(vᵢ + τ²).
fn se_eb_pm(vi: &[f64], tau2: f64, k: usize, p: usize) -> f64 {
    let sw: f64 = vi.iter().map(|v| 1.0 / (v + tau2)).sum();
    (2.0 * (k * k) as f64 / (k - p) as f64 / (sw * sw)).sqrt()
}

fn he_estimate(ymc: &[f64], vi: &[f64], x: &[f64], p: usize) -> Result<Tau2Est, MetaError> {
    let k = vi.len();
    let kp = (k - p) as f64;
    let ones = vec![1.0; k];
    let fit = Wls::new(x, &ones, ymc, p).ok_or_else(|| singular("HE"))?;
    // tr(P₀V) = Σv − tr((X'X)⁻¹X'VX)
    let xvx = xtwx(x, vi, p);
    let trpv = vi.iter().sum::<f64>() - tr_prod(&fit.inv, &xvx);
    let tau2 = ((fit.rss - trpv) / kp).max(0.0);
    // tr(P₀VP₀V) = Σ (P₀)ᵢⱼ² vᵢ vⱼ
    let pvpv = fit.sq_sum(x, &ones, p, Some(vi), Some(vi));
    let se = (1.0 / (kp * kp) * (2.0 * pvpv + 4.0 * tau2 * trpv + 2.0 * tau2 * tau2 * kp)).sqrt();
    Ok(Tau2Est {
        tau2,
        se: Some(se),
        iterations: 0,
        converged: true,
    })
}

/// Log-likelihood (ML or REML, metafor's `ll0check` form without the
/// REMLf constant) at τ².
fn loglik(reml: bool, ymc: &[f64], vi: &[f64], x: &[f64], p: usize, tau2: f64) -> Option<f64> {
    let k = vi.len();
    let w: Vec<f64> = vi.iter().map(|v| 1.0 / (v + tau2)).collect();
    let fit = Wls::new(x, &w, ymc, p)?;
    let slog: f64 = vi.iter().map(|v| (v + tau2).ln()).sum();
    let two_pi = 2.0 * std::f64::consts::PI;
    Some(if reml {
        // log|X'WX| = −log|(X'WX)⁻¹|
        -0.5 * (k - p) as f64 * two_pi.ln() - 0.5 * slog - 0.5 * fit.logdet - 0.5 * fit.rss
    } else {
        -0.5 * k as f64 * two_pi.ln() - 0.5 * slog - 0.5 * fit.rss
    })
}

/// Fisher scoring for ML, REML (Viechtbauer 2005, eqs. 13 and 16) and the
/// empirical Bayes estimator (Morris 1983; Berkey et al. 1995; Viechtbauer
/// 2005, eq. 11), started from the HE estimate, with metafor's step halving
/// (a step that would make τ² negative is halved), convergence when
/// |Δτ²| ≤ 1e-5 and at most 100 iterations; then metafor's `ll0check`
/// (τ² = 0 when the likelihood at 0 is higher).
fn fisher_scoring(
    method: Method,
    start: f64,
    ymc: &[f64],
    vi: &[f64],
    x: &[f64],
    p: usize,
) -> Result<Tau2Est, MetaError> {
    let k = vi.len();
    let kf = k as f64;
    let kp = (k - p) as f64;
    let mut tau2 = start;
    let mut change = THRESHOLD + 1.0;
    let mut iter = 0usize;
    let mut converged = true;
    while change > THRESHOLD {
        iter += 1;
        let old = tau2;
        let w: Vec<f64> = vi.iter().map(|v| 1.0 / (v + tau2)).collect();
        let fit = Wls::new(x, &w, ymc, p).ok_or_else(|| singular("Fisher scoring"))?;
        let mut adj = match method {
            Method::Ml => {
                // (y'PPy − Σw)/Σw²
                let ypy2: f64 = fit.py.iter().map(|v| v * v).sum();
                let sw: f64 = w.iter().sum();
                let sw2: f64 = w.iter().map(|v| v * v).sum();
                (ypy2 - sw) / sw2
            }
            Method::Reml => {
                // (y'PPy − tr P)/tr(PP)
                let ypy2: f64 = fit.py.iter().map(|v| v * v).sum();
                let trp = trace_p(x, &w, &fit.inv, p);
                let trpp = fit.sq_sum(x, &w, p, None, None);
                (ypy2 - trp) / trpp
            }
            _ => {
                // EB: (y'Py·k/(k − p) − k)/Σw
                let sw: f64 = w.iter().sum();
                (fit.rss * kf / kp - kf) / sw
            }
        };
        if adj.is_nan() {
            adj = 0.0;
        }
        while tau2 + adj < 0.0 {
            adj /= 2.0;
        }
        tau2 += adj;
        change = (old - tau2).abs();
        if iter > MAXITER {
            converged = false;
            break;
        }
    }
    if !converged {
        return Err(MetaError::NotConverged(
            "Fisher scoring algorithm did not converge".into(),
        ));
    }
    if matches!(method, Method::Ml | Method::Reml) {
        let reml = method == Method::Reml;
        let ll0 = loglik(reml, ymc, vi, x, p, 0.0).ok_or_else(|| singular("ll0check"))?;
        let ll = loglik(reml, ymc, vi, x, p, tau2).ok_or_else(|| singular("ll0check"))?;
        if ll0 - ll > uniroot_tol() && tau2 > THRESHOLD {
            tau2 = 0.0;
        }
    }
    let tau2 = tau2.max(0.0);
    let w: Vec<f64> = vi.iter().map(|v| 1.0 / (v + tau2)).collect();
    let se = match method {
        // ML: √(2/Σwᵢ²)
        Method::Ml => (2.0 / w.iter().map(|v| v * v).sum::<f64>()).sqrt(),
        // REML: √(2/tr(PP))
        Method::Reml => {
            let fit = Wls::new(x, &w, ymc, p).ok_or_else(|| singular("REML SE"))?;
            (2.0 / fit.sq_sum(x, &w, p, None, None)).sqrt()
        }
        _ => se_eb_pm(vi, tau2, k, p),
    };
    Ok(Tau2Est {
        tau2,
        se: Some(se),
        iterations: iter,
        converged,
    })
}

/// log|X'X| (for metafor's REML log-likelihood constant `REMLf`).
pub fn logdet_xtx(x: &[f64], p: usize) -> Option<f64> {
    let k = x.len() / p;
    spd_inverse(&xtwx(x, &vec![1.0; k], p), p).map(|(_, ld)| ld)
}
