//! Three-level random-effects meta-analysis (effects nested in studies) as
//! metafor 3.8 fits it with `rma.mv(yi, vi, mods, random = ~ 1 | study/es)`,
//! plus cluster-robust inference: clubSandwich's CR2 with Satterthwaite
//! degrees of freedom (`coef_test(fit, vcov = "CR2")`) and metafor's own
//! `robust(fit, cluster = study)` (CR1, df = clusters − p).
//!
//! Model (Konstantopoulos 2011, Res. Synth. Methods 2:61, eqs. 4–6; Cheung
//! 2014, Psychol. Methods 19:211; Viechtbauer 2010, JSS 36(3), §3.4):
//! y_ij = x_ij'β + u_i + w_ij + e_ij with u_i ~ N(0, σ²₁) (between studies),
//! w_ij ~ N(0, σ²₂) (within studies), e_ij ~ N(0, v_ij) known, so the
//! marginal covariance is M = diag(v) + σ²₁ Z Z' + σ²₂ I with Z the study
//! indicator matrix: block diagonal, one block V_i = diag(v_i) + σ²₁ 11' +
//! σ²₂ I per study. β̂ = (X'WX)⁻¹X'Wy, Var(β̂) = (X'WX)⁻¹ with W = M⁻¹
//! (generalised least squares; Viechtbauer 2010, eq. 6 generalised).
//!
//! Variance components: (restricted) maximum likelihood. metafor maximises
//! the same log-likelihood with `nlminb` over log σ²; here the maximiser is
//! a Newton–Raphson / Fisher-scoring iteration on (σ²₁, σ²₂) ≥ 0 with
//! step halving, using the REML score and information of Harville (1977,
//! JASA 72:320, eqs. 4.4–4.7) and Searle, Casella & McCulloch (1992, §6.6):
//! ∂ℓ_R/∂θ_r = −½tr(P D_r) + ½y'PD_rPy, E[−∂²ℓ_R] = ½tr(PD_rPD_s),
//! −∂²ℓ_R = −½tr(PD_rPD_s) + y'PD_rPD_sPy, with D₁ = ZZ', D₂ = I and
//! P = W − WX(X'WX)⁻¹X'W (for ML, W replaces P in the trace terms). Every
//! trace is evaluated block by block (O(Σ m_i³ + S p²)), never forming the
//! k×k P. The log-likelihoods are metafor's `.ll.rma.mv`:
//! ℓ_ML = −½k log 2π − ½log|M| − ½RSS,
//! ℓ_REML = −½(k−p) log 2π + ½log|X'X| − ½log|M| − ½log|X'WX| − ½RSS.
//!
//! Pure numerical code on plain slices: no I/O.

use super::linalg::{chol, spd_inverse, Wls};
use super::{check_inputs, level_fraction, MetaError, Method, Test};
use statrs::distribution::{ChiSquared, ContinuousCDF, FisherSnedecor, Normal, StudentsT};
use std::collections::HashMap;

/// A fitted three-level model (metafor's `rma.mv` with `~ 1 | study/es`).
#[derive(Debug, Clone)]
pub struct ThreeLevel {
    /// Number of effects.
    pub k: usize,
    /// Number of studies (clusters of the upper level).
    pub studies: usize,
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
    /// Var(β̂) = (X'WX)⁻¹, p×p row-major.
    pub vb: Vec<f64>,
    /// [between studies, within studies], as metafor's `sigma2`.
    pub sigma2: [f64; 2],
    /// Q_E = y'Py with W = diag(1/vᵢ) (metafor's `QE` for `rma.mv`).
    pub qe: f64,
    pub qe_df: usize,
    pub qe_pval: f64,
    /// Wald test of the coefficients in `btt` (χ², or F = QM/m under t).
    pub qm: f64,
    pub qm_df: (usize, Option<usize>),
    pub qm_pval: f64,
    pub btt: Vec<usize>,
    pub intercept: bool,
    /// Log-likelihood of the fitted criterion (REML or ML), metafor's
    /// `logLik()`.
    pub loglik: f64,
    pub ll_ml: f64,
    pub ll_reml: f64,
    /// Degrees of freedom of the t tests (metafor `test = "t"`: k − p).
    pub ddf: Option<usize>,
    /// Critical value of the CIs.
    pub crit: f64,
    /// Prediction interval μ̂ ± crit·√(SE² + σ²₁ + σ²₂) for intercept-only
    /// models (metafor `predict.rma`).
    pub pi_lb: Option<f64>,
    pub pi_ub: Option<f64>,
    pub converged: bool,
    /// Newton / scoring iterations.
    pub iterations: usize,
}

impl ThreeLevel {
    /// Share of the total heterogeneity at the study level,
    /// σ²₁/(σ²₁ + σ²₂) (the ICC of Konstantopoulos 2011, eq. 8).
    pub fn icc(&self) -> f64 {
        let t = self.sigma2[0] + self.sigma2[1];
        if t > 0.0 {
            self.sigma2[0] / t
        } else {
            f64::NAN
        }
    }
}

/// Extra settings of [`three_level_with`].
#[derive(Debug, Clone)]
pub struct ThreeLevelOptions {
    /// `Method::Reml` (default) or `Method::Ml`.
    pub method: Method,
    /// Whether column 0 of X is an intercept; `None` = detect (all ones).
    pub intercept: Option<bool>,
    /// Coefficients (0-based) in QM; `None` = all but the intercept (or the
    /// intercept alone when p = 1).
    pub btt: Option<Vec<usize>>,
    /// Starting values of (σ²₁, σ²₂); `None` = a moment-type start.
    pub sigma2_init: Option<[f64; 2]>,
    pub maxiter: usize,
}

impl Default for ThreeLevelOptions {
    fn default() -> Self {
        ThreeLevelOptions {
            method: Method::Reml,
            intercept: None,
            btt: None,
            sigma2_init: None,
            maxiter: 200,
        }
    }
}

/// Cluster-robust inference for the fixed effects.
#[derive(Debug, Clone)]
pub struct Robust {
    pub se: Vec<f64>,
    pub stat: Vec<f64>,
    pub df: Vec<f64>,
    pub pval: Vec<f64>,
    pub ci_lb: Vec<f64>,
    pub ci_ub: Vec<f64>,
    /// Robust Var(β̂), p×p row-major.
    pub vb: Vec<f64>,
    pub clusters: usize,
    pub kind: &'static str,
}

/// Effects grouped by study: indices in input order within each study.
fn group(study: &[u32]) -> Vec<Vec<usize>> {
    let mut pos: HashMap<u32, usize> = HashMap::new();
    let mut g: Vec<Vec<usize>> = Vec::new();
    for (i, s) in study.iter().enumerate() {
        let j = *pos.entry(*s).or_insert_with(|| {
            g.push(Vec::new());
            g.len() - 1
        });
        g[j].push(i);
    }
    g
}

/// One study's block: its effect indices and W_i = V_i⁻¹ (m×m).
struct Block {
    idx: Vec<usize>,
    w: Vec<f64>,
}

/// Everything the likelihood, score and information need at one θ.
struct Eval {
    blocks: Vec<Block>,
    /// C = (X'WX)⁻¹.
    c: Vec<f64>,
    logdet_xwx: f64,
    beta: Vec<f64>,
    /// r = y − Xβ̂.
    resid: Vec<f64>,
    rss: f64,
    logdet_m: f64,
}

fn matvec(a: &[f64], v: &[f64], n: usize) -> Vec<f64> {
    a.chunks_exact(n)
        .map(|row| row.iter().zip(v).map(|(x, y)| x * y).sum())
        .collect()
}

/// V_i = diag(v_i) + σ²₁ 11' + σ²₂ I (Konstantopoulos 2011, eq. 6).
fn v_block(idx: &[usize], vi: &[f64], s2: [f64; 2]) -> Vec<f64> {
    let m = idx.len();
    let mut v = vec![s2[0]; m * m];
    for (a, &i) in idx.iter().enumerate() {
        v[a * m + a] += vi[i] + s2[1];
    }
    v
}

fn evaluate(
    groups: &[Vec<usize>],
    yi: &[f64],
    vi: &[f64],
    x: &[f64],
    p: usize,
    s2: [f64; 2],
) -> Result<Eval, MetaError> {
    let mut blocks = Vec::with_capacity(groups.len());
    let mut xwx = vec![0.0; p * p];
    let mut xwy = vec![0.0; p];
    let mut logdet_m = 0.0;
    for idx in groups {
        let m = idx.len();
        let (w, logdet) = spd_inverse(&v_block(idx, vi, s2), m).ok_or_else(|| {
            MetaError::Singular("marginal variance matrix not positive definite".into())
        })?;
        logdet_m += logdet;
        for a in 0..m {
            let xa = &x[idx[a] * p..idx[a] * p + p];
            for b in 0..m {
                let wab = w[a * m + b];
                let xb = &x[idx[b] * p..idx[b] * p + p];
                for r in 0..p {
                    let t = xa[r] * wab;
                    for s in 0..p {
                        xwx[r * p + s] += t * xb[s];
                    }
                }
                for r in 0..p {
                    xwy[r] += xa[r] * wab * yi[idx[b]];
                }
            }
        }
        blocks.push(Block {
            idx: idx.clone(),
            w,
        });
    }
    let (c, logdet_xwx) = spd_inverse(&xwx, p)
        .ok_or_else(|| MetaError::Singular("X'WX is not positive definite".into()))?;
    let beta = matvec(&c, &xwy, p);
    let resid: Vec<f64> = (0..yi.len())
        .map(|i| {
            yi[i]
                - x[i * p..i * p + p]
                    .iter()
                    .zip(&beta)
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
        })
        .collect();
    let mut rss = 0.0;
    for b in &blocks {
        let m = b.idx.len();
        for a in 0..m {
            for c2 in 0..m {
                rss += resid[b.idx[a]] * b.w[a * m + c2] * resid[b.idx[c2]];
            }
        }
    }
    Ok(Eval {
        blocks,
        c,
        logdet_xwx,
        beta,
        resid,
        rss,
        logdet_m,
    })
}

impl Eval {
    /// ℓ_ML and ℓ_REML at this θ (metafor `.ll.rma.mv`).
    fn loglik(&self, k: usize, p: usize, logdet_xtx: f64) -> (f64, f64) {
        let l2pi = (2.0 * std::f64::consts::PI).ln();
        let ml = -0.5 * k as f64 * l2pi - 0.5 * self.logdet_m - 0.5 * self.rss;
        let reml = -0.5 * (k - p) as f64 * l2pi + 0.5 * logdet_xtx
            - 0.5 * self.logdet_m
            - 0.5 * self.logdet_xwx
            - 0.5 * self.rss;
        (ml, reml)
    }

    /// W v block by block.
    fn w_times(&self, v: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; v.len()];
        for b in &self.blocks {
            let m = b.idx.len();
            for a in 0..m {
                out[b.idx[a]] = (0..m).map(|c| b.w[a * m + c] * v[b.idx[c]]).sum();
            }
        }
        out
    }

    /// P v = Wv − WX C X'Wv.
    fn p_times(&self, v: &[f64], x: &[f64], p: usize) -> Vec<f64> {
        let wv = self.w_times(v);
        let mut xwv = vec![0.0; p];
        for (i, &t) in wv.iter().enumerate() {
            for r in 0..p {
                xwv[r] += x[i * p + r] * t;
            }
        }
        let cxwv = matvec(&self.c, &xwv, p);
        let xc: Vec<f64> = (0..v.len())
            .map(|i| {
                x[i * p..i * p + p]
                    .iter()
                    .zip(&cxwv)
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect();
        let wxc = self.w_times(&xc);
        wv.iter().zip(&wxc).map(|(a, b)| a - b).collect()
    }

    /// Score, expected information and observed information (−Hessian) of
    /// ℓ (REML when `reml`, else profile ML) in θ = (σ²₁, σ²₂).
    fn derivs(&self, x: &[f64], p: usize, reml: bool) -> ([f64; 2], [f64; 4], [f64; 4]) {
        let cf = if reml { 1.0 } else { 0.0 };
        let c = &self.c;
        // per-study pieces: a_i = W_i 1, u_i = 1'W_i 1, b_i = X_i'W_i 1,
        // e_i = X_i'W_i² 1, A_i = W_i X_i.
        let mut sum_u = 0.0;
        let mut sum_u2 = 0.0;
        let mut sum_a2 = 0.0;
        let mut sum_trw = 0.0;
        let mut sum_trw2 = 0.0;
        let mut u_bcb = 0.0; // Σ u_i b_i'C b_i
        let mut e_cb = 0.0; // Σ e_i'C b_i
        let mut kmat = vec![0.0; p * p]; // Σ b_i b_i'
        let mut fmat = vec![0.0; p * p]; // X'W²X
        let mut h3 = vec![0.0; p * p]; // X'W³X
        let mut sum_bcb = 0.0; // Σ b_i'C b_i
        for blk in &self.blocks {
            let m = blk.idx.len();
            let w = &blk.w;
            let a: Vec<f64> = (0..m).map(|r| (0..m).map(|s| w[r * m + s]).sum()).collect();
            let u: f64 = a.iter().sum();
            // A = W_i X_i (m×p)
            let mut am = vec![0.0; m * p];
            for r in 0..m {
                for s in 0..m {
                    let wrs = w[r * m + s];
                    let xs = &x[blk.idx[s] * p..blk.idx[s] * p + p];
                    for q in 0..p {
                        am[r * p + q] += wrs * xs[q];
                    }
                }
            }
            let b: Vec<f64> = (0..p)
                .map(|q| (0..m).map(|r| am[r * p + q]).sum())
                .collect();
            let e: Vec<f64> = (0..p)
                .map(|q| (0..m).map(|r| am[r * p + q] * a[r]).sum())
                .collect();
            let cb = matvec(c, &b, p);
            let bcb: f64 = b.iter().zip(&cb).map(|(s, t)| s * t).sum();
            sum_u += u;
            sum_u2 += u * u;
            sum_a2 += a.iter().map(|t| t * t).sum::<f64>();
            sum_trw += (0..m).map(|r| w[r * m + r]).sum::<f64>();
            sum_trw2 += w.iter().map(|t| t * t).sum::<f64>();
            u_bcb += u * bcb;
            sum_bcb += bcb;
            e_cb += e.iter().zip(&cb).map(|(s, t)| s * t).sum::<f64>();
            // W_i A (for X'W³X = A'W A)
            let mut wa = vec![0.0; m * p];
            for r in 0..m {
                for s in 0..m {
                    let wrs = w[r * m + s];
                    for q in 0..p {
                        wa[r * p + q] += wrs * am[s * p + q];
                    }
                }
            }
            for q in 0..p {
                for t in 0..p {
                    kmat[q * p + t] += b[q] * b[t];
                    for r in 0..m {
                        fmat[q * p + t] += am[r * p + q] * am[r * p + t];
                        h3[q * p + t] += am[r * p + q] * wa[r * p + t];
                    }
                }
            }
        }
        let mul = |a: &[f64], b: &[f64]| -> Vec<f64> {
            let mut o = vec![0.0; p * p];
            for i in 0..p {
                for l in 0..p {
                    let t = a[i * p + l];
                    for j in 0..p {
                        o[i * p + j] += t * b[l * p + j];
                    }
                }
            }
            o
        };
        let tr = |a: &[f64]| (0..p).map(|i| a[i * p + i]).sum::<f64>();
        let ck = mul(c, &kmat);
        let cf_ = mul(c, &fmat);
        // traces of P̃D_r (P̃ = P for REML, W for ML)
        let tr1 = sum_u - cf * sum_bcb;
        let tr2 = sum_trw - cf * tr(&cf_);
        // ½tr(P̃D_rP̃D_s)
        let i11 = 0.5 * (sum_u2 - cf * 2.0 * u_bcb + cf * tr(&mul(&ck, &ck)));
        let i12 = 0.5 * (sum_a2 - cf * 2.0 * e_cb + cf * tr(&mul(&cf_, &ck)));
        let i22 = 0.5 * (sum_trw2 - cf * 2.0 * tr(&mul(c, &h3)) + cf * tr(&mul(&cf_, &cf_)));
        // y'PD_rPy with Py = W r
        let py = self.w_times(&self.resid);
        let mut d1py = vec![0.0; py.len()];
        let mut q1 = 0.0;
        for blk in &self.blocks {
            let s: f64 = blk.idx.iter().map(|&i| py[i]).sum();
            q1 += s * s;
            for &i in &blk.idx {
                d1py[i] = s;
            }
        }
        let q2: f64 = py.iter().map(|t| t * t).sum();
        let g = [0.5 * (q1 - tr1), 0.5 * (q2 - tr2)];
        let info = [i11, i12, i12, i22];
        // observed: −ℓ'' = −½tr(P̃D_rP̃D_s) + (D_rPy)'P(D_sPy)
        let pd1 = self.p_times(&d1py, x, p);
        let pd2 = self.p_times(&py, x, p);
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(s, t)| s * t).sum::<f64>();
        let r11 = dot(&d1py, &pd1);
        let r12 = dot(&d1py, &pd2);
        let r22 = dot(&py, &pd2);
        let obs = [r11 - i11, r12 - i12, r12 - i12, r22 - i22];
        (g, info, obs)
    }
}

/// Solves H δ = g on the free coordinates (2×2 or 1×1 Cholesky); `None`
/// when H is not positive definite there.
fn newton_step(h: &[f64; 4], g: &[f64; 2], free: [bool; 2]) -> Option<[f64; 2]> {
    match free {
        [true, true] => {
            let l = chol(h, 2)?;
            let z0 = g[0] / l[0];
            let z1 = (g[1] - l[2] * z0) / l[3];
            let d1 = z1 / l[3];
            let d0 = (z0 - l[2] * d1) / l[0];
            Some([d0, d1])
        }
        [true, false] => (h[0] > 0.0).then(|| [g[0] / h[0], 0.0]),
        [false, true] => (h[3] > 0.0).then(|| [0.0, g[1] / h[3]]),
        [false, false] => Some([0.0, 0.0]),
    }
}

/// Fits the three-level model with REML (metafor's default) and the given
/// test. study: study code per effect (any u32 codes; effects sharing a
/// code form one study); x: k×p design row-major (column 0 of ones for an
/// intercept); `Test::Knha` means metafor's `rma.mv(test = "t")`: t tests
/// with df = k − p and no rescaling of Var(β̂).
pub fn three_level(
    yi: &[f64],
    vi: &[f64],
    study: &[u32],
    x: &[f64],
    p: usize,
    test: Test,
    level: f64,
) -> Result<ThreeLevel, MetaError> {
    three_level_with(
        yi,
        vi,
        study,
        x,
        p,
        test,
        level,
        &ThreeLevelOptions::default(),
    )
}

/// [`three_level`] with options (ML, btt, intercept, starting values).
#[allow(clippy::too_many_arguments)]
pub fn three_level_with(
    yi: &[f64],
    vi: &[f64],
    study: &[u32],
    x: &[f64],
    p: usize,
    test: Test,
    level: f64,
    opts: &ThreeLevelOptions,
) -> Result<ThreeLevel, MetaError> {
    check_inputs(yi, vi, x, p)?;
    let k = yi.len();
    if study.len() != k {
        return Err(MetaError::Invalid(format!(
            "study has length {}, yi {k}",
            study.len()
        )));
    }
    let level = level_fraction(level);
    if !(level > 0.0 && level < 1.0) {
        return Err(MetaError::Invalid(format!("level {level}")));
    }
    let reml = match opts.method {
        Method::Reml => true,
        Method::Ml => false,
        m => {
            return Err(MetaError::Invalid(format!(
                "three-level models are fitted by REML or ML, not {}",
                m.label()
            )))
        }
    };
    let groups = group(study);
    let studies = groups.len();
    if studies < 2 {
        return Err(MetaError::Invalid(
            "a three-level model needs at least two studies".into(),
        ));
    }
    if studies == k {
        return Err(MetaError::Invalid(
            "every study has a single effect: the two variance components are not identified"
                .into(),
        ));
    }
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
    let logdet_xtx = super::tau2::logdet_xtx(x, p)
        .ok_or_else(|| MetaError::Singular("X'X is not positive definite".into()))?;

    // Q_E with W = diag(1/vᵢ) (Hedges & Olkin 1985; metafor `rma.mv`).
    let w_fe: Vec<f64> = vi.iter().map(|v| 1.0 / v).collect();
    let fe = Wls::new(x, &w_fe, yi, p)
        .ok_or_else(|| MetaError::Singular("X'WX is not positive definite".into()))?;
    let kp = k - p;
    let qe = fe.rss.max(0.0);
    let qe_pval = chisq_sf(qe, kp as f64);

    // start: a DerSimonian–Laird-type total τ² = (Q_E − (k−p))/tr(P_FE),
    // split equally (any interior start works for the ascent below).
    let init = match opts.sigma2_init {
        Some(s) if s.iter().all(|v| v.is_finite() && *v >= 0.0) => s,
        Some(s) => return Err(MetaError::Invalid(format!("sigma2_init {s:?}"))),
        None => {
            let trp = super::linalg::trace_p(x, &w_fe, &fe.inv, p);
            let vbar = vi.iter().sum::<f64>() / k as f64;
            let t = ((qe - kp as f64) / trp).max(0.01 * vbar);
            [t / 2.0, t / 2.0]
        }
    };

    let crit_ll = |e: &Eval| {
        let (ml, rl) = e.loglik(k, p, logdet_xtx);
        if reml {
            rl
        } else {
            ml
        }
    };
    let mut theta = init;
    let mut ev = evaluate(&groups, yi, vi, x, p, theta)?;
    let mut ll = crit_ll(&ev);
    let mut converged = false;
    let mut iterations = 0;
    while iterations < opts.maxiter {
        iterations += 1;
        let (g, info, obs) = ev.derivs(x, p, reml);
        // active bounds: a component at 0 whose score points outwards
        let free = [
            !(theta[0] <= 0.0 && g[0] <= 0.0),
            !(theta[1] <= 0.0 && g[1] <= 0.0),
        ];
        // Newton with the observed information when it is positive
        // definite, else Fisher scoring (Jennrich & Sampson 1976).
        let step = newton_step(&obs, &g, free)
            .or_else(|| newton_step(&info, &g, free))
            .ok_or_else(|| {
                MetaError::Singular("information matrix of the variance components".into())
            })?;
        let scale = 1.0 + theta[0].max(theta[1]);
        if step[0].abs().max(step[1].abs()) < 1e-13 * scale {
            converged = true;
            break;
        }
        // step halving until the criterion does not decrease
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..60 {
            let cand = [
                (theta[0] + t * step[0]).max(0.0),
                (theta[1] + t * step[1]).max(0.0),
            ];
            if let Ok(e2) = evaluate(&groups, yi, vi, x, p, cand) {
                let l2 = crit_ll(&e2);
                if l2 >= ll - 1e-12 * (1.0 + ll.abs()) {
                    let moved = (cand[0] - theta[0]).abs().max((cand[1] - theta[1]).abs());
                    theta = cand;
                    ev = e2;
                    ll = l2;
                    accepted = true;
                    if moved < 1e-13 * scale {
                        converged = true;
                    }
                    break;
                }
            }
            t *= 0.5;
        }
        if !accepted {
            // no ascent possible along the step: at the optimum to rounding
            converged = true;
            break;
        }
        if converged {
            break;
        }
    }
    if !converged {
        return Err(MetaError::NotConverged(format!(
            "three-level {} after {iterations} iterations",
            opts.method.label()
        )));
    }

    let (ll_ml, ll_reml) = ev.loglik(k, p, logdet_xtx);
    let beta = ev.beta.clone();
    let vb = ev.c.clone();
    let se: Vec<f64> = (0..p).map(|j| vb[j * p + j].sqrt()).collect();
    let stat: Vec<f64> = beta.iter().zip(&se).map(|(b, s)| b / s).collect();
    let alpha = 1.0 - level;
    // QM = b[btt]' Vb[btt,btt]⁻¹ b[btt] (Viechtbauer 2010, §3.3)
    let m = btt.len();
    let vsub: Vec<f64> = btt
        .iter()
        .flat_map(|&a| btt.iter().map(move |&b| (a, b)))
        .map(|(a, b)| vb[a * p + b])
        .collect();
    let qm_raw = match spd_inverse(&vsub, m) {
        Some((inv, _)) => {
            let bs: Vec<f64> = btt.iter().map(|&j| beta[j]).collect();
            let ib = matvec(&inv, &bs, m);
            bs.iter().zip(&ib).map(|(a, b)| a * b).sum()
        }
        None => f64::NAN,
    };
    let (pval, crit, qm, qm_df, qm_pval, ddf) = match test {
        Test::Z => {
            let n = Normal::standard();
            let pval: Vec<f64> = stat.iter().map(|z| 2.0 * n.cdf(-z.abs())).collect();
            let crit = n.inverse_cdf(1.0 - alpha / 2.0);
            (
                pval,
                crit,
                qm_raw,
                (m, None),
                chisq_sf(qm_raw, m as f64),
                None,
            )
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
    let (pi_lb, pi_ub) = if p == 1 && intercept {
        let s = (se[0] * se[0] + theta[0] + theta[1]).sqrt();
        (Some(beta[0] - crit * s), Some(beta[0] + crit * s))
    } else {
        (None, None)
    };
    Ok(ThreeLevel {
        k,
        studies,
        p,
        method: opts.method,
        test,
        level,
        beta,
        se,
        stat,
        pval,
        ci_lb,
        ci_ub,
        vb,
        sigma2: theta,
        qe,
        qe_df: kp,
        qe_pval,
        qm,
        qm_df,
        qm_pval,
        btt,
        intercept,
        loglik: if reml { ll_reml } else { ll_ml },
        ll_ml,
        ll_reml,
        ddf,
        crit,
        pi_lb,
        pi_ub,
        converged,
        iterations,
    })
}

fn chisq_sf(x: f64, df: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    ChiSquared::new(df).expect("df > 0").sf(x.max(0.0))
}

/// Eigen-decomposition of a symmetric n×n matrix by cyclic Jacobi
/// rotations (Golub & Van Loan 2013, Alg. 8.5.3): (values, vectors as
/// columns, row-major).
fn sym_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        let norm: f64 = a.iter().map(|t| t * t).sum();
        if off <= 1e-30 * norm || off == 0.0 {
            break;
        }
        for pp in 0..n {
            for q in pp + 1..n {
                let apq = a[pp * n + q];
                if apq == 0.0 {
                    continue;
                }
                let app = a[pp * n + pp];
                let aqq = a[q * n + q];
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for kk in 0..n {
                    let akp = a[kk * n + pp];
                    let akq = a[kk * n + q];
                    a[kk * n + pp] = c * akp - s * akq;
                    a[kk * n + q] = s * akp + c * akq;
                }
                for kk in 0..n {
                    let apk = a[pp * n + kk];
                    let aqk = a[q * n + kk];
                    a[pp * n + kk] = c * apk - s * aqk;
                    a[q * n + kk] = s * apk + c * aqk;
                }
                for kk in 0..n {
                    let vkp = v[kk * n + pp];
                    let vkq = v[kk * n + q];
                    v[kk * n + pp] = c * vkp - s * vkq;
                    v[kk * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// Symmetric matrix power with clubSandwich's `matrix_power` convention:
/// eigenvalues ≤ 1e-12 contribute 0 (a pseudo-inverse power).
fn sym_power(a: &[f64], n: usize, pow: f64) -> Vec<f64> {
    let (vals, vecs) = sym_eigen(a, n);
    let vp: Vec<f64> = vals
        .iter()
        .map(|&l| if l > 1e-12 { l.powf(pow) } else { 0.0 })
        .collect();
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[i * n + j] = (0..n)
                .map(|l| vecs[i * n + l] * vp[l] * vecs[j * n + l])
                .sum();
        }
    }
    out
}

/// Per-cluster pieces shared by CR1 and CR2 at the fitted σ².
struct ClusterFit {
    ev: Eval,
    groups: Vec<Vec<usize>>,
}

fn cluster_fit(
    sigma2: [f64; 2],
    yi: &[f64],
    vi: &[f64],
    study: &[u32],
    x: &[f64],
    p: usize,
) -> Result<ClusterFit, MetaError> {
    check_inputs(yi, vi, x, p)?;
    if study.len() != yi.len() {
        return Err(MetaError::Invalid(format!(
            "study has length {}, yi {}",
            study.len(),
            yi.len()
        )));
    }
    if !sigma2.iter().all(|s| s.is_finite() && *s >= 0.0) {
        return Err(MetaError::Invalid(format!("sigma2 {sigma2:?}")));
    }
    let groups = group(study);
    if groups.len() <= p {
        return Err(MetaError::Invalid(format!(
            "{} clusters for {p} coefficient(s): need more clusters than coefficients",
            groups.len()
        )));
    }
    let ev = evaluate(&groups, yi, vi, x, p, sigma2)?;
    Ok(ClusterFit { ev, groups })
}

fn t_inference(
    beta: &[f64],
    vb: &[f64],
    df: Vec<f64>,
    level: f64,
    clusters: usize,
    kind: &'static str,
) -> Result<Robust, MetaError> {
    let p = beta.len();
    let level = level_fraction(level);
    if !(level > 0.0 && level < 1.0) {
        return Err(MetaError::Invalid(format!("level {level}")));
    }
    let se: Vec<f64> = (0..p).map(|j| vb[j * p + j].sqrt()).collect();
    let stat: Vec<f64> = beta.iter().zip(&se).map(|(b, s)| b / s).collect();
    let mut pval = Vec::with_capacity(p);
    let mut ci_lb = Vec::with_capacity(p);
    let mut ci_ub = Vec::with_capacity(p);
    for j in 0..p {
        match StudentsT::new(0.0, 1.0, df[j]) {
            Ok(t) => {
                pval.push(2.0 * t.cdf(-stat[j].abs()));
                let crit = t.inverse_cdf(1.0 - (1.0 - level) / 2.0);
                ci_lb.push(beta[j] - crit * se[j]);
                ci_ub.push(beta[j] + crit * se[j]);
            }
            Err(_) => {
                pval.push(f64::NAN);
                ci_lb.push(f64::NAN);
                ci_ub.push(f64::NAN);
            }
        }
    }
    Ok(Robust {
        se,
        stat,
        df,
        pval,
        ci_lb,
        ci_ub,
        vb: vb.to_vec(),
        clusters,
        kind,
    })
}

/// CR2 cluster-robust inference with Satterthwaite degrees of freedom for a
/// fitted three-level model, clustered by `study` (the upper level of the
/// fit, as clubSandwich's default for `rma.mv`). See [`cr2_sigma2`].
pub fn cr2(
    fit: &ThreeLevel,
    yi: &[f64],
    vi: &[f64],
    study: &[u32],
    x: &[f64],
    level: f64,
) -> Result<Robust, MetaError> {
    cr2_sigma2(fit.sigma2, yi, vi, study, x, fit.p, level)
}

/// CR2 at given variance components: the working model is M = diag(v) +
/// σ²₁ZZ' + σ²₂I with clusters = studies, W = M⁻¹ (clubSandwich 0.5.8
/// `vcovCR.rma.mv`, `inverse_var = TRUE`, target Φ = M).
///
/// Bell & McCaffrey (2002, Surv. Methodol. 28:169) bias-reduced linearisation
/// in the form of Pustejovsky & Tipton (2018, J. Bus. Econ. Stat. 36:672,
/// eqs. 5–7) and Tipton & Pustejovsky (2015, J. Educ. Behav. Stat. 40:604):
/// with C = (X'WX)⁻¹, Φ_j = F_j F_j' (Cholesky) and
/// B_j = F_j'(Φ_j − X_j C X_j')F_j, the adjustment is
/// A_j = F_j B_j^{−1/2} F_j' (symmetric power, eigenvalues ≤ 1e-12 dropped),
/// and V^CR2 = C (Σ_j X_j'W_j A_j e_j e_j' A_j W_j X_j) C with e = y − Xβ̂.
/// Satterthwaite df for coefficient i (Pustejovsky & Tipton 2018, eq. 11;
/// clubSandwich `get_P_array`/`Satterthwaite`): with G_j = C X_j'W_j A_j,
/// d_j = (G_j Φ_j G_j')_ii and T_j = G_j X_j,
/// P_jl = δ_jl d_j − (T_j C T_l')_ii, ν_i = (Σ_j P_jj)² / Σ_jl P_jl².
/// Two-level `rma.uni` fits are the special case σ² = [τ², 0] with every
/// effect its own cluster.
pub fn cr2_sigma2(
    sigma2: [f64; 2],
    yi: &[f64],
    vi: &[f64],
    study: &[u32],
    x: &[f64],
    p: usize,
    level: f64,
) -> Result<Robust, MetaError> {
    let cf = cluster_fit(sigma2, yi, vi, study, x, p)?;
    let ev = &cf.ev;
    let c = &ev.c;
    let nj = cf.groups.len();
    let mut vb = vec![0.0; p * p];
    let mut ds: Vec<Vec<f64>> = Vec::with_capacity(nj); // diag(G_j Φ_j G_j')
    let mut ts: Vec<Vec<f64>> = Vec::with_capacity(nj); // T_j (p×p)
    for blk in &ev.blocks {
        let idx = &blk.idx;
        let m = idx.len();
        let phi = v_block(idx, vi, sigma2);
        let f = chol(&phi, m).ok_or_else(|| MetaError::Singular("target variance".into()))?;
        // X_j C X_j'
        let xj: Vec<f64> = idx
            .iter()
            .flat_map(|&i| x[i * p..i * p + p].iter().copied())
            .collect();
        let mut bmat = phi.clone();
        for a in 0..m {
            let xca = matvec(c, &xj[a * p..a * p + p], p);
            for b in 0..m {
                bmat[a * m + b] -= xca
                    .iter()
                    .zip(&xj[b * p..b * p + p])
                    .map(|(s, t)| s * t)
                    .sum::<f64>();
            }
        }
        // F'BF
        let fbf = {
            let mut bf = vec![0.0; m * m];
            for a in 0..m {
                for b in 0..m {
                    bf[a * m + b] = (0..m).map(|l| bmat[a * m + l] * f[l * m + b]).sum();
                }
            }
            let mut o = vec![0.0; m * m];
            for a in 0..m {
                for b in 0..m {
                    o[a * m + b] = (0..m).map(|l| f[l * m + a] * bf[l * m + b]).sum();
                }
            }
            for a in 0..m {
                for b in 0..a {
                    let s = 0.5 * (o[a * m + b] + o[b * m + a]);
                    o[a * m + b] = s;
                    o[b * m + a] = s;
                }
            }
            o
        };
        let bp = sym_power(&fbf, m, -0.5);
        // A = F B^{-1/2} F'
        let mut fb = vec![0.0; m * m];
        for a in 0..m {
            for b in 0..m {
                fb[a * m + b] = (0..m).map(|l| f[a * m + l] * bp[l * m + b]).sum();
            }
        }
        let mut amat = vec![0.0; m * m];
        for a in 0..m {
            for b in 0..m {
                amat[a * m + b] = (0..m).map(|l| fb[a * m + l] * f[b * m + l]).sum();
            }
        }
        // X_j'W_j (p×m), then E = X_j'W_j A_j, G = C E
        let mut xw = vec![0.0; p * m];
        for q in 0..p {
            for b in 0..m {
                xw[q * m + b] = (0..m).map(|a| xj[a * p + q] * blk.w[a * m + b]).sum();
            }
        }
        let mut e = vec![0.0; p * m];
        for q in 0..p {
            for b in 0..m {
                e[q * m + b] = (0..m).map(|a| xw[q * m + a] * amat[a * m + b]).sum();
            }
        }
        let mut g = vec![0.0; p * m];
        for q in 0..p {
            for b in 0..m {
                g[q * m + b] = (0..p).map(|l| c[q * p + l] * e[l * m + b]).sum();
            }
        }
        // cluster contribution G_j e_j
        let u: Vec<f64> = (0..p)
            .map(|q| (0..m).map(|b| g[q * m + b] * ev.resid[idx[b]]).sum())
            .collect();
        for q in 0..p {
            for s in 0..p {
                vb[q * p + s] += u[q] * u[s];
            }
        }
        // d = diag(G Φ G')
        let d: Vec<f64> = (0..p)
            .map(|q| {
                (0..m)
                    .map(|a| {
                        g[q * m + a] * (0..m).map(|b| phi[a * m + b] * g[q * m + b]).sum::<f64>()
                    })
                    .sum()
            })
            .collect();
        // T = G X_j (p×p)
        let mut t = vec![0.0; p * p];
        for q in 0..p {
            for s in 0..p {
                t[q * p + s] = (0..m).map(|a| g[q * m + a] * xj[a * p + s]).sum();
            }
        }
        ds.push(d);
        ts.push(t);
    }
    // Satterthwaite df per coefficient
    let mut df = Vec::with_capacity(p);
    for i in 0..p {
        // rows t_ji, h_ji = C t_ji
        let rows: Vec<&[f64]> = ts.iter().map(|t| &t[i * p..i * p + p]).collect();
        let crow: Vec<Vec<f64>> = rows.iter().map(|r| matvec(c, r, p)).collect();
        let mut trace = 0.0;
        let mut sumsq = 0.0;
        for (j, rj) in rows.iter().enumerate() {
            for (l, cl) in crow.iter().enumerate() {
                let q: f64 = rj.iter().zip(cl).map(|(a, b)| a * b).sum();
                let pjl = if j == l { ds[j][i] - q } else { -q };
                if j == l {
                    trace += pjl;
                }
                sumsq += pjl * pjl;
            }
        }
        df.push(trace * trace / sumsq);
    }
    t_inference(&ev.beta, &vb, df, level, nj, "CR2 (Satterthwaite df)")
}

/// metafor's `robust(fit, cluster = study)` (metafor 3.8 `robust.rma.mv`,
/// `adjust = TRUE`): V = n/(n − p) · C (Σ_j X_j'W_j e_j e_j' W_j X_j) C,
/// the CR1 sandwich (Hedges, Tipton & Johnson 2010, Res. Synth. Methods
/// 1:39, eq. 6, with the small-sample factor), t tests with df = n − p
/// (n = number of clusters).
pub fn robust_cr1(
    fit: &ThreeLevel,
    yi: &[f64],
    vi: &[f64],
    study: &[u32],
    x: &[f64],
    level: f64,
) -> Result<Robust, MetaError> {
    robust_cr1_sigma2(fit.sigma2, yi, vi, study, x, fit.p, level)
}

/// [`robust_cr1`] at given variance components (σ² = [τ², 0] with one
/// cluster per effect reproduces `robust()` on an `rma.uni` fit).
pub fn robust_cr1_sigma2(
    sigma2: [f64; 2],
    yi: &[f64],
    vi: &[f64],
    study: &[u32],
    x: &[f64],
    p: usize,
    level: f64,
) -> Result<Robust, MetaError> {
    let cf = cluster_fit(sigma2, yi, vi, study, x, p)?;
    let ev = &cf.ev;
    let n = cf.groups.len();
    let mut meat_vb = vec![0.0; p * p];
    for blk in &ev.blocks {
        let m = blk.idx.len();
        // X_j'W_j e_j
        let mut s = vec![0.0; p];
        for a in 0..m {
            let we: f64 = (0..m)
                .map(|b| blk.w[a * m + b] * ev.resid[blk.idx[b]])
                .sum();
            for q in 0..p {
                s[q] += x[blk.idx[a] * p + q] * we;
            }
        }
        let u = matvec(&ev.c, &s, p);
        for q in 0..p {
            for r in 0..p {
                meat_vb[q * p + r] += u[q] * u[r];
            }
        }
    }
    let adj = n as f64 / (n - p) as f64;
    let vb: Vec<f64> = meat_vb.iter().map(|v| v * adj).collect();
    t_inference(
        &ev.beta,
        &vb,
        vec![(n - p) as f64; p],
        level,
        n,
        "CR1 (df = clusters - p)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_inverse_sqrt() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let r = sym_power(&a, 3, -0.5);
        // r a r = I
        let mut ra = [0.0; 9];
        for i in 0..3 {
            for j in 0..3 {
                ra[i * 3 + j] = (0..3).map(|l| r[i * 3 + l] * a[l * 3 + j]).sum();
            }
        }
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|l| ra[i * 3 + l] * r[l * 3 + j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }

    /// Small unbalanced example: the analytic REML score vanishes at the
    /// fitted σ² (checked against a central finite difference of ℓ_REML).
    #[test]
    fn score_matches_finite_difference() {
        let yi = [0.1, 0.3, -0.2, 0.5, 0.9, 0.4, 0.0, 0.2, 0.7, -0.1];
        let vi = [0.02, 0.03, 0.025, 0.04, 0.05, 0.01, 0.02, 0.03, 0.06, 0.02];
        let study = [0, 0, 0, 1, 1, 2, 3, 3, 3, 3];
        let x: Vec<f64> = (0..10)
            .flat_map(|i| [1.0, i as f64 / 10.0 - 0.45])
            .collect();
        let groups = group(&study);
        let l = super::super::tau2::logdet_xtx(&x, 2).unwrap();
        for reml in [true, false] {
            let th = [0.03, 0.02];
            let ev = evaluate(&groups, &yi, &vi, &x, 2, th).unwrap();
            let (g, _, obs) = ev.derivs(&x, 2, reml);
            let f = |t: [f64; 2]| {
                let (ml, rl) = evaluate(&groups, &yi, &vi, &x, 2, t)
                    .unwrap()
                    .loglik(10, 2, l);
                if reml {
                    rl
                } else {
                    ml
                }
            };
            let h = 1e-6;
            for r in 0..2 {
                let mut a = th;
                let mut b = th;
                a[r] += h;
                b[r] -= h;
                let fd = (f(a) - f(b)) / (2.0 * h);
                assert!(
                    (fd - g[r]).abs() < 1e-6 * (1.0 + g[r].abs()),
                    "{fd} {}",
                    g[r]
                );
                // second derivatives from the score
                for s in 0..2 {
                    let ga = evaluate(&groups, &yi, &vi, &x, 2, a)
                        .unwrap()
                        .derivs(&x, 2, reml)
                        .0;
                    let gb = evaluate(&groups, &yi, &vi, &x, 2, b)
                        .unwrap()
                        .derivs(&x, 2, reml)
                        .0;
                    let fd2 = -(ga[s] - gb[s]) / (2.0 * h);
                    let o = obs[r * 2 + s];
                    assert!((fd2 - o).abs() < 1e-4 * (1.0 + o.abs()), "{fd2} {o}");
                }
            }
        }
        let fit = three_level(&yi, &vi, &study, &x, 2, Test::Z, 0.95).unwrap();
        assert!(fit.converged);
        let r = cr2(&fit, &yi, &vi, &study, &x, 0.95).unwrap();
        assert!(r.df.iter().all(|d| d.is_finite() && *d > 0.0));
    }
}
