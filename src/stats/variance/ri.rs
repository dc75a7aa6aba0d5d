//! Linear mixed models with random intercepts for therapist and/or site,
//! fitted from grouped sufficient statistics.
//!
//! A model `y = Xβ + Z_t b_t + Z_s b_s + ε` with scalar random intercepts
//! needs only `W'W` for `W = [X, y]`, the group sizes and the per-group
//! column sums `Z'W` (the random-effects design is a set of indicator
//! columns). This module forms those once per sample and evaluates lme4's
//! profiled REML criterion or deviance at a relative covariance factor
//! θ = (θ_t, θ_s) without touching rows again, so the 2^K models of a
//! decomposition and thousands of bootstrap replicates cost microseconds to
//! milliseconds each.
//!
//! Method (Bates, Mächler, Bolker & Walker 2015, "Fitting linear mixed-effects
//! models using lme4", J. Stat. Softw. 67(1), §3.2–3.4, eqs. 18–34): with
//! Λ = diag(θ_t I, θ_s I), the blocked system
//!
//! ```text
//! [ Λ'Z'ZΛ + I   Λ'Z'X ] = [ L_Z     0  ] [ L_Z'  R_ZX ]
//! [ X'ZΛ         X'X   ]   [ R_ZX'  R_X' ] [ 0     R_X  ]
//! ```
//!
//! gives the penalised residual sum of squares r²(θ) and the log
//! determinants; the REML criterion is
//! `log|L_Z|² + log|R_X|² + (n − p)(1 + log(2π r²/(n − p)))` (eq. 41) and the
//! deviance `log|L_Z|² + n(1 + log(2π r²/n))` (eq. 34). We form the Schur
//! complement `M = W'W − W'ZΛ (Λ'Z'ZΛ + I)⁻¹ Λ'Z'W` of the random block, whose
//! X block is `R_X'R_X` and whose y part after eliminating X is r².
//!
//! The random block is eliminated in two steps (block Gaussian elimination,
//! Golub & Van Loan 2013, *Matrix Computations*, 4th ed., §3.2.10): the
//! therapist block is diagonal, `d_j = θ_t² n_j + 1`; the site block's Schur
//! complement `S = I + θ_s² diag(n_k) − θ_t²θ_s² Σ_j N_j N_j' / d_j` (N_j: the
//! counts of therapist j's clients at each site) is diagonal when every
//! therapist works at one site (nested) and dense otherwise (crossed). Terms
//! that depend on θ only through a group's size are pooled over groups of
//! equal size, so an evaluation costs O((#distinct sizes + K)·m² + J·m).
//!
//! Columns are centred at the full sample's means before the cross-products
//! are formed (better conditioning of `W'W − …`); the intercept and its
//! covariances are transformed back by [`Fit::intercept_back`].

use crate::stats::lmm::dense::{
    cholesky_lower, inverse_from_lower_inverse, invert_lower, solve_lower, solve_lower_t,
};
use crate::stats::lmm::optim::{self, OptSettings};
use crate::stats::ols::{ols_subset, CrossProducts};

/// Per-group sums of one sample: sizes and column sums (`groups × m`).
#[derive(Debug, Clone, Default)]
pub struct Groups {
    pub n: Vec<f64>,
    pub sums: Vec<f64>,
}

impl Groups {
    pub fn len(&self) -> usize {
        self.n.len()
    }
    pub fn is_empty(&self) -> bool {
        self.n.is_empty()
    }
}

/// Sufficient statistics of one sample for random-intercept models.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Columns of W = [X…, y]; column 0 is the intercept, the last is y.
    pub m: usize,
    pub n: f64,
    /// W'W, m×m row-major.
    pub wtw: Vec<f64>,
    /// One group per therapist (empty without a therapist factor).
    pub ther: Groups,
    /// One group per site (empty without a site factor).
    pub site: Groups,
    /// Therapist × site cells, for models with both: (therapist, site, n).
    pub cells: Vec<(u32, u32, f64)>,
    /// Whether every therapist has exactly one cell (nested in site).
    pub nested: bool,
}

/// Why a model could not be fitted.
#[derive(Debug, Clone, PartialEq)]
pub enum FitError {
    /// No more observations than fixed-effect columns.
    TooFewObservations { n: f64, p: usize },
    /// The fixed-effects cross-products are not positive definite or the
    /// objective could not be evaluated.
    Numerical(String),
}

impl std::fmt::Display for FitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FitError::TooFewObservations { n, p } => write!(
                f,
                "{n} observations for {p} fixed-effect columns: a model needs more observations \
                 than columns"
            ),
            FitError::Numerical(m) => write!(f, "{m}"),
        }
    }
}

/// Which random intercepts a model has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Random {
    pub therapist: bool,
    pub site: bool,
}

impl Random {
    pub const NONE: Random = Random {
        therapist: false,
        site: false,
    };
    pub fn any(self) -> bool {
        self.therapist || self.site
    }
}

/// A fitted model. Coefficients are in the centred parametrisation of the
/// [`Sample`] (see the module documentation) for the kept columns.
#[derive(Debug, Clone)]
pub struct Fit {
    /// Columns of W in the model, in order, after dropping aliased ones.
    pub cols: Vec<usize>,
    /// Requested columns dropped as aliased (R: rank deficient).
    pub aliased: Vec<usize>,
    pub beta: Vec<f64>,
    /// Var(β̂), p×p row-major (lme4's `vcov`).
    pub vcov: Vec<f64>,
    /// Residual variance σ̂²: REML `r²/(n − p)` (or ML `r²/n`); for a model
    /// without random effects the OLS `RSS/(n − p)`.
    pub sigma2: f64,
    /// τ̂² = θ²σ̂² of the therapist and site intercepts (when in the model).
    pub tau2_therapist: Option<f64>,
    pub tau2_site: Option<f64>,
    pub theta: Vec<f64>,
    /// lme4's REML criterion (or deviance); for OLS the REML criterion of
    /// the model without random effects.
    pub objective: f64,
    pub evaluations: usize,
    pub converged: bool,
    pub reml: bool,
    pub n: f64,
}

impl Fit {
    /// Intercept coefficient and the first row of Var(β̂) in the original
    /// (uncentred) parametrisation, given the centring means of W (`means[0]`
    /// is ignored, `means[m-1]` is y's). Requires column 0 in the model.
    ///
    /// With x̃ = x − μ_x and ỹ = y − μ_y, y = β₀ + Σβ_j x_j is ỹ = β̃₀ + Σβ_j x̃_j
    /// with β₀ = β̃₀ − Σ β_j μ_j + μ_y, i.e. β₀ = c'β̃ + μ_y with
    /// c = (1, −μ_1, …); Var(β₀) = c'Vc and Cov(β₀, β_j) = (Vc)_j.
    pub fn intercept_back(&self, means: &[f64]) -> Option<(f64, Vec<f64>)> {
        if self.cols.first() != Some(&0) {
            return None;
        }
        let p = self.cols.len();
        let mut c = vec![1.0; p];
        for (k, &col) in self.cols.iter().enumerate().skip(1) {
            c[k] = -means[col];
        }
        let y_mean = means[means.len() - 1];
        let b0 = c.iter().zip(&self.beta).map(|(a, b)| a * b).sum::<f64>() + y_mean;
        let vc: Vec<f64> = (0..p)
            .map(|i| (0..p).map(|j| self.vcov[i * p + j] * c[j]).sum())
            .collect();
        let mut row = vc.clone();
        row[0] = c.iter().zip(&vc).map(|(a, b)| a * b).sum();
        Some((b0, row))
    }

    /// Sample variance (n − 1) of the fixed-part prediction Xβ̂ over the
    /// sample (Nakagawa & Schielzeth 2013, σ²_f), from the cross-products.
    pub fn var_fixed(&self, s: &Sample) -> f64 {
        let m = s.m;
        let p = self.cols.len();
        // Σ (xβ)² and Σ xβ; the intercept contributes a constant, which
        // does not change the variance, so it is left out.
        let mut ss = 0.0;
        let mut sum = 0.0;
        for a in 0..p {
            let ca = self.cols[a];
            if ca == 0 {
                continue;
            }
            sum += self.beta[a] * s.wtw[ca];
            for b in 0..p {
                let cb = self.cols[b];
                if cb == 0 {
                    continue;
                }
                ss += self.beta[a] * self.beta[b] * s.wtw[ca * m + cb];
            }
        }
        ((ss - sum * sum / s.n) / (s.n - 1.0)).max(0.0)
    }
}

/// The rows and columns `idx` of the m×m matrix `w`.
fn sub(w: &[f64], m: usize, idx: &[usize]) -> Vec<f64> {
    let k = idx.len();
    let mut out = vec![0.0; k * k];
    for (a, &ia) in idx.iter().enumerate() {
        for (b, &ib) in idx.iter().enumerate() {
            out[a * k + b] = w[ia * m + ib];
        }
    }
    out
}

/// Group sums restricted to the columns `idx`, pooled by group size for the
/// θ-dependent rank-one terms Σ_j θ²/(θ² n_j + 1) · s_j s_j'.
struct Pooled {
    /// Distinct sizes, their multiplicities, and Σ s_j s_j' per size (k×k).
    sizes: Vec<f64>,
    counts: Vec<f64>,
    outer: Vec<f64>,
}

fn pool(g: &Groups, m: usize, idx: &[usize]) -> Pooled {
    let k = idx.len();
    let mut order: Vec<usize> = (0..g.len()).collect();
    order.sort_by(|&a, &b| g.n[a].total_cmp(&g.n[b]));
    let mut sizes: Vec<f64> = Vec::new();
    let mut counts: Vec<f64> = Vec::new();
    let mut outer: Vec<f64> = Vec::new();
    let mut s = vec![0.0; k];
    for j in order {
        let nj = g.n[j];
        if sizes.last() != Some(&nj) {
            sizes.push(nj);
            counts.push(0.0);
            outer.extend(std::iter::repeat_n(0.0, k * k));
        }
        *counts.last_mut().unwrap() += 1.0;
        for (a, &ia) in idx.iter().enumerate() {
            s[a] = g.sums[j * m + ia];
        }
        let o = outer.len() - k * k;
        for a in 0..k {
            for b in 0..=a {
                outer[o + a * k + b] += s[a] * s[b];
            }
        }
    }
    for blk in outer.chunks_exact_mut(k * k) {
        for a in 0..k {
            for b in 0..a {
                blk[b * k + a] = blk[a * k + b];
            }
        }
    }
    Pooled {
        sizes,
        counts,
        outer,
    }
}

impl Pooled {
    /// M −= Σ θ²/(θ²n+1) O_n; returns Σ log(θ²n + 1) over groups.
    fn eliminate(&self, t2: f64, mmat: &mut [f64]) -> f64 {
        let kk = mmat.len();
        let mut logdet = 0.0;
        for (i, (&n, &c)) in self.sizes.iter().zip(&self.counts).enumerate() {
            let d = t2 * n + 1.0;
            logdet += c * d.ln();
            let w = t2 / d;
            for (x, o) in mmat.iter_mut().zip(&self.outer[i * kk..(i + 1) * kk]) {
                *x -= w * o;
            }
        }
        logdet
    }
}

/// Everything a model needs at one θ, restricted to its columns.
struct Problem<'a> {
    s: &'a Sample,
    idx: Vec<usize>,
    c: Vec<f64>,
    random: Random,
    ther: Option<Pooled>,
    /// Site groups alone (model without therapist).
    site: Option<Pooled>,
    /// Therapist sums restricted to idx (J×k), for models with both.
    ther_sums: Vec<f64>,
    site_sums: Vec<f64>,
}

impl<'a> Problem<'a> {
    fn new(s: &'a Sample, cols: &[usize], random: Random) -> Problem<'a> {
        let mut idx = cols.to_vec();
        idx.push(s.m - 1);
        let k = idx.len();
        let c = sub(&s.wtw, s.m, &idx);
        let restrict = |g: &Groups| -> Vec<f64> {
            let mut out = vec![0.0; g.len() * k];
            for j in 0..g.len() {
                for (a, &ia) in idx.iter().enumerate() {
                    out[j * k + a] = g.sums[j * s.m + ia];
                }
            }
            out
        };
        let both = random.therapist && random.site;
        Problem {
            s,
            c,
            random,
            ther: random.therapist.then(|| pool(&s.ther, s.m, &idx)),
            site: (random.site && !random.therapist).then(|| pool(&s.site, s.m, &idx)),
            ther_sums: if both { restrict(&s.ther) } else { Vec::new() },
            site_sums: if both { restrict(&s.site) } else { Vec::new() },
            idx,
        }
    }

    /// M(θ) and log|L_Z|².
    fn schur(&self, theta: &[f64]) -> Option<(Vec<f64>, f64)> {
        let k = self.idx.len();
        let mut m = self.c.clone();
        let mut logdet = 0.0;
        match (self.random.therapist, self.random.site) {
            (false, false) => {}
            (true, false) => {
                logdet += self.ther.as_ref()?.eliminate(theta[0] * theta[0], &mut m);
            }
            (false, true) => {
                logdet += self.site.as_ref()?.eliminate(theta[0] * theta[0], &mut m);
            }
            (true, true) => {
                let (tt2, ts) = (theta[0] * theta[0], theta[1]);
                logdet += self.ther.as_ref()?.eliminate(tt2, &mut m);
                let s = self.s;
                let nk = s.site.len();
                // b_k = θ_s (S_k − θ_t² Σ_cells (n_jk/d_j) s_j) and the site
                // block's Schur complement.
                let mut b = self.site_sums.clone();
                let mut sdiag: Vec<f64> = s.site.n.iter().map(|&n| 1.0 + ts * ts * n).collect();
                let mut sfull: Vec<f64> = Vec::new();
                if s.nested {
                    for &(j, kk, njk) in &s.cells {
                        let (j, kk) = (j as usize, kk as usize);
                        let dj = tt2 * s.ther.n[j] + 1.0;
                        sdiag[kk] -= tt2 * ts * ts * njk * njk / dj;
                        let w = tt2 * njk / dj;
                        for a in 0..k {
                            b[kk * k + a] -= w * self.ther_sums[j * k + a];
                        }
                    }
                } else {
                    sfull = vec![0.0; nk * nk];
                    for (kk, &v) in sdiag.iter().enumerate() {
                        sfull[kk * nk + kk] = v;
                    }
                    // Cells are grouped by therapist (sorted by therapist).
                    let mut i = 0;
                    while i < s.cells.len() {
                        let j = s.cells[i].0 as usize;
                        let mut e = i;
                        while e < s.cells.len() && s.cells[e].0 as usize == j {
                            e += 1;
                        }
                        let dj = tt2 * s.ther.n[j] + 1.0;
                        for x in i..e {
                            let (_, kx, nx) = s.cells[x];
                            let w = tt2 * nx / dj;
                            for a in 0..k {
                                b[kx as usize * k + a] -= w * self.ther_sums[j * k + a];
                            }
                            for y in i..e {
                                let (_, ky, ny) = s.cells[y];
                                sfull[kx as usize * nk + ky as usize] -=
                                    tt2 * ts * ts * nx * ny / dj;
                            }
                        }
                        i = e;
                    }
                }
                for v in b.iter_mut() {
                    *v *= ts;
                }
                if s.nested {
                    for kk in 0..nk {
                        let d = sdiag[kk];
                        if d <= 0.0 {
                            return None;
                        }
                        logdet += d.ln();
                        let bk = &b[kk * k..(kk + 1) * k];
                        for a in 0..k {
                            for c in 0..k {
                                m[a * k + c] -= bk[a] * bk[c] / d;
                            }
                        }
                    }
                } else {
                    logdet += chol(&mut sfull, nk)?;
                    // Y = L⁻¹ B (K×k), column by column; M −= Y'Y.
                    let mut col = vec![0.0; nk];
                    for c in 0..k {
                        for r in 0..nk {
                            col[r] = b[r * k + c];
                        }
                        solve_lower(&sfull, nk, &mut col);
                        for r in 0..nk {
                            b[r * k + c] = col[r];
                        }
                    }
                    for a in 0..k {
                        for c in 0..k {
                            let mut v = 0.0;
                            for r in 0..nk {
                                v += b[r * k + a] * b[r * k + c];
                            }
                            m[a * k + c] -= v;
                        }
                    }
                }
            }
        }
        Some((m, logdet))
    }

    /// Objective, r², and the Cholesky factor of M_XX (p×p lower) at θ.
    fn eval(&self, theta: &[f64], reml: bool) -> Option<Eval> {
        let (mut m, logdet_z) = self.schur(theta)?;
        let k = self.idx.len();
        let p = k - 1;
        let mut l = vec![0.0; p * p];
        for a in 0..p {
            for b in 0..p {
                l[a * p + b] = m[a * k + b];
            }
        }
        let logdet_x = chol(&mut l, p)?;
        // r² = M_yy − |L⁻¹ M_Xy|².
        let mut z: Vec<f64> = (0..p).map(|a| m[a * k + p]).collect();
        solve_lower(&l, p, &mut z);
        let r2 = m[p * k + p] - z.iter().map(|v| v * v).sum::<f64>();
        m.clear();
        if r2.is_nan() || r2 <= 0.0 {
            return None;
        }
        let n = self.s.n;
        let two_pi = 2.0 * std::f64::consts::PI;
        let objective = if reml {
            let df = n - p as f64;
            logdet_z + logdet_x + df * (1.0 + (two_pi * r2 / df).ln())
        } else {
            logdet_z + n * (1.0 + (two_pi * r2 / n).ln())
        };
        Some(Eval {
            objective,
            r2,
            l,
            z,
        })
    }
}

struct Eval {
    objective: f64,
    r2: f64,
    /// Cholesky factor of M_XX.
    l: Vec<f64>,
    /// L⁻¹ M_Xy.
    z: Vec<f64>,
}

/// In-place lower Cholesky ([`cholesky_lower`]) and its log determinant
/// 2 Σ log L_ii; None if the matrix is not positive definite.
fn chol(a: &mut [f64], n: usize) -> Option<f64> {
    cholesky_lower(a, n).ok()?;
    Some((0..n).map(|j| 2.0 * a[j * n + j].ln()).sum())
}

/// Fits the model with the fixed columns `cols` (indices into W; include 0
/// for an intercept) and the given random intercepts, by REML (`reml`) or
/// ML. Aliased columns are dropped left to right as R's `lm` does
/// ([`crate::stats::ols`]); a model without random effects is OLS.
pub fn fit(s: &Sample, cols: &[usize], random: Random, reml: bool) -> Result<Fit, FitError> {
    let m = s.m;
    // Aliasing from the fixed-effects cross-products, left to right.
    let cp = CrossProducts {
        p: m - 1,
        xtx: (0..(m - 1) * (m - 1))
            .map(|i| s.wtw[(i / (m - 1)) * m + i % (m - 1)])
            .collect(),
        xty: (0..m - 1).map(|a| s.wtw[a * m + m - 1]).collect(),
        yty: s.wtw[m * m - 1],
        n: s.n.round() as usize,
    };
    let ols = ols_subset(&cp, cols).map_err(|e| FitError::Numerical(e.to_string()))?;
    // `ols_subset` reports aliased columns by their design index (not by
    // their position in `cols`).
    let kept: Vec<usize> = cols
        .iter()
        .copied()
        .filter(|c| !ols.aliased.contains(c))
        .collect();
    let aliased: Vec<usize> = ols.aliased.clone();
    let p = kept.len();
    if s.n <= p as f64 {
        return Err(FitError::TooFewObservations { n: s.n, p });
    }
    let prob = Problem::new(s, &kept, random);
    let nt = random.therapist as usize + random.site as usize;
    let (theta, evaluations, converged) = match nt {
        0 => (Vec::new(), 1, true),
        1 => {
            let r = optim::minimize_1d(
                |th: &[f64]| prob.eval(th, reml).map_or(f64::INFINITY, |e| e.objective),
                1.0,
                0.0,
            );
            (r.x, r.evaluations, r.converged)
        }
        _ => {
            let r = optim::minimize_tr(
                |th: &[f64]| prob.eval(th, reml).map_or(f64::INFINITY, |e| e.objective),
                &[1.0, 1.0],
                &[0.0, 0.0],
                &OptSettings::default(),
            );
            (r.x, r.evaluations, r.converged)
        }
    };
    let ev = prob.eval(&theta, reml).ok_or_else(|| {
        FitError::Numerical(
            "the mixed-model objective could not be evaluated at the optimum".into(),
        )
    })?;
    let n = s.n;
    let sigma2 = ev.r2 / if reml { n - p as f64 } else { n };
    // β = L'⁻¹ z; Var(β̂) = σ² (M_XX)⁻¹ = σ² L'⁻¹ L⁻¹.
    let mut beta = ev.z.clone();
    solve_lower_t(&ev.l, p, &mut beta);
    let vcov: Vec<f64> = inverse_from_lower_inverse(&invert_lower(&ev.l, p), p)
        .into_iter()
        .map(|v| v * sigma2)
        .collect();
    let mut it = theta.iter();
    let tau2_therapist = random
        .therapist
        .then(|| it.next().map(|t| t * t * sigma2))
        .flatten();
    let tau2_site = random
        .site
        .then(|| it.next().map(|t| t * t * sigma2))
        .flatten();
    Ok(Fit {
        cols: kept,
        aliased,
        beta,
        vcov,
        sigma2,
        tau2_therapist,
        tau2_site,
        theta,
        objective: ev.objective,
        evaluations,
        converged,
        reml,
        n,
    })
}

/// The profiled objective at a given θ (for tests against lme4's devfun).
pub fn objective_at(s: &Sample, cols: &[usize], random: Random, reml: bool, theta: &[f64]) -> f64 {
    Problem::new(s, cols, random)
        .eval(theta, reml)
        .map_or(f64::INFINITY, |e| e.objective)
}

#[cfg(test)]
mod tests {
    use super::super::units::Units;
    use super::*;
    use crate::stats::lmm::{Frame, Lmm, Method};
    use rand_chacha::ChaCha8Rng;
    use rand_core::{Rng, SeedableRng};

    fn unif(r: &mut ChaCha8Rng) -> f64 {
        (r.next_u64() >> 11) as f64 / 9_007_199_254_740_992.0
    }

    /// Rows of an unbalanced clinic: W = [1, x, f_b, f_c, y], therapist
    /// and site codes; `crossed` lets a therapist see clients at any site.
    fn clinic(seed: u64, crossed: bool) -> (Vec<f64>, Vec<u32>, Vec<u32>, Frame) {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        let (nt, ns, n) = (24usize, 5usize, 700usize);
        let u: Vec<f64> = (0..nt).map(|_| unif(&mut r) - 0.5).collect();
        let v: Vec<f64> = (0..ns).map(|_| 2.0 * (unif(&mut r) - 0.5)).collect();
        let (mut w, mut tc, mut sc) = (Vec::new(), Vec::new(), Vec::new());
        let (mut xs, mut ys, mut fs) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            // Squared uniform: unbalanced caseloads; every therapist once.
            let t = if i < nt {
                i
            } else {
                ((unif(&mut r).powi(2)) * nt as f64) as usize
            };
            let s = if crossed {
                (unif(&mut r) * ns as f64) as usize
            } else {
                t * ns / nt
            };
            let x = 10.0 + 3.0 * unif(&mut r);
            let f = (unif(&mut r) * 3.0) as usize;
            let y = 5.0 + 0.7 * x + [0.0, 0.4, -0.3][f] + u[t] + v[s] + 2.0 * (unif(&mut r) - 0.5);
            w.extend([1.0, x, (f == 1) as u8 as f64, (f == 2) as u8 as f64, y]);
            tc.push(t as u32);
            sc.push(s as u32);
            xs.push(x);
            ys.push(y);
            fs.push(["a", "b", "c"][f]);
        }
        let mut fr = Frame::new(n);
        fr.add_num("y", ys).unwrap();
        fr.add_num("x", xs).unwrap();
        fr.add_strings("f", &fs).unwrap();
        let tn: Vec<String> = tc.iter().map(|t| format!("T{t:02}")).collect();
        let sn: Vec<String> = sc.iter().map(|s| format!("S{s}")).collect();
        fr.add_strings("g", &tn).unwrap();
        fr.add_strings("s", &sn).unwrap();
        (w, tc, sc, fr)
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-300)
    }

    /// The summary-statistics fit equals the general engine
    /// (`stats::lmm`, itself checked against lme4 in tests/lmm_golden.rs):
    /// objective to 1e-9 relative, σ², τ², β and SEs to 1e-6.
    #[test]
    fn equals_general_engine() {
        for crossed in [false, true] {
            let (w, tc, sc, fr) = clinic(7, crossed);
            let units = Units::new(&w, 5, Some(&tc), Some(&sc));
            assert_eq!(units.nested, !crossed);
            let s = units.sample(&units.all());
            for (re, formula) in [
                (
                    Random {
                        therapist: true,
                        site: true,
                    },
                    "y ~ x + f + (1 | g) + (1 | s)",
                ),
                (
                    Random {
                        therapist: true,
                        site: false,
                    },
                    "y ~ x + f + (1 | g)",
                ),
                (
                    Random {
                        therapist: false,
                        site: true,
                    },
                    "y ~ x + f + (1 | s)",
                ),
            ] {
                for method in [Method::Reml, Method::Ml] {
                    let ours = fit(&s, &[0, 1, 2, 3], re, method.is_reml()).unwrap();
                    let gen = Lmm::new(formula, &fr).unwrap().fit(method).unwrap();
                    let what = format!("{formula} crossed={crossed} {method:?}");
                    assert!(
                        rel(ours.objective, gen.objective) < 1e-9,
                        "{what}: objective"
                    );
                    assert!(
                        rel(ours.sigma2, gen.residual.variance) < 1e-6,
                        "{what}: sigma2"
                    );
                    let taus: Vec<f64> = [ours.tau2_therapist, ours.tau2_site]
                        .into_iter()
                        .flatten()
                        .collect();
                    for (t, g) in taus.iter().zip(&gen.random) {
                        if let crate::stats::lmm::RandomComponent::Variance { variance, .. } = g {
                            assert!(rel(*t, *variance) < 1e-5, "{what}: tau2 {t} {variance}");
                        }
                    }
                    let (b0, row0) = ours.intercept_back(&units.means).unwrap();
                    assert!(rel(b0, gen.fixed[0].estimate) < 1e-6, "{what}: intercept");
                    assert!(rel(row0[0].sqrt(), gen.fixed[0].se) < 1e-6, "{what}: se0");
                    for j in 1..4 {
                        assert!(
                            rel(ours.beta[j], gen.fixed[j].estimate) < 1e-6,
                            "{what}: b{j}"
                        );
                        assert!(rel(ours.vcov[j * 4 + j].sqrt(), gen.fixed[j].se) < 1e-6);
                    }
                }
            }
        }
    }

    /// Without random effects the fit is OLS; an aliased column is dropped.
    #[test]
    fn ols_and_aliasing() {
        let (mut w, tc, sc, _) = clinic(3, false);
        // Column 3 := 2·column 1 (aliased).
        for row in w.chunks_exact_mut(5) {
            row[3] = 2.0 * row[1];
        }
        let units = Units::new(&w, 5, Some(&tc), Some(&sc));
        let s = units.sample(&units.all());
        let f = fit(&s, &[0, 1, 2, 3], Random::NONE, true).unwrap();
        assert_eq!(f.aliased, vec![3]);
        assert_eq!(f.cols, vec![0, 1, 2]);
        // A subset whose positions differ from the design's indices: the
        // aliased column is still named by its design index.
        let g = fit(&s, &[0, 1, 3], Random::NONE, true).unwrap();
        assert_eq!(g.aliased, vec![3]);
        assert_eq!(g.cols, vec![0, 1]);
        let h = fit(&s, &[0, 3, 1], Random::NONE, true).unwrap();
        assert_eq!(h.aliased, vec![1]);
        assert_eq!(h.cols, vec![0, 3]);
        let x: Vec<f64> = w.chunks_exact(5).flat_map(|r| r[..3].to_vec()).collect();
        let y: Vec<f64> = w.chunks_exact(5).map(|r| r[4]).collect();
        let o = crate::stats::ols::ols(&x, y.len(), 3, &y).unwrap();
        assert!(rel(f.sigma2, o.sigma2) < 1e-10);
    }
}
