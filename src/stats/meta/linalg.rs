//! Weighted least squares pieces of `rma.uni` on small dense matrices.
//!
//! With W = diag(w) and a k×p design X (row-major), metafor (Viechtbauer
//! 2010, JSS 36(3), eqs. 6–7; `rma.uni` source) uses
//! b = (X'WX)⁻¹X'Wy, Var(b) = (X'WX)⁻¹ and the residual-maker
//! P = W − WX(X'WX)⁻¹X'W (so y'Py = Σ wᵢ(yᵢ − xᵢ'b)²). p is small, so the
//! p×p inverse is a plain Cholesky (Golub & Van Loan 2013, Alg. 4.2.1).

use crate::stats::lmm::dense::{cholesky_lower, inverse_from_lower_inverse, invert_lower};

/// Cholesky of the symmetric p×p matrix `a` (row-major; the shared
/// [`cholesky_lower`]); returns the lower factor, or `None` when a pivot is
/// not positive relative to the largest diagonal element (L_jj² ≤ 1e-13·max
/// |a_ii|).
pub fn chol(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let scale = (0..p).map(|i| a[i * p + i].abs()).fold(0.0, f64::max);
    let mut l = a.to_vec();
    cholesky_lower(&mut l, p).ok()?;
    for j in 0..p {
        if l[j * p + j] * l[j * p + j] <= 1e-13 * scale {
            return None;
        }
        for k in j + 1..p {
            l[j * p + k] = 0.0;
        }
    }
    Some(l)
}

/// Inverse of a symmetric positive definite p×p matrix and log|A|
/// (A⁻¹ = L⁻ᵀL⁻¹).
pub fn spd_inverse(a: &[f64], p: usize) -> Option<(Vec<f64>, f64)> {
    let l = chol(a, p)?;
    let logdet = 2.0 * (0..p).map(|i| l[i * p + i].ln()).sum::<f64>();
    Some((inverse_from_lower_inverse(&invert_lower(&l, p), p), logdet))
}

/// X'diag(w)X (p×p).
pub fn xtwx(x: &[f64], w: &[f64], p: usize) -> Vec<f64> {
    let mut m = vec![0.0; p * p];
    for (row, &wi) in x.chunks_exact(p).zip(w) {
        for a in 0..p {
            let ra = row[a] * wi;
            for b in 0..=a {
                m[a * p + b] += ra * row[b];
            }
        }
    }
    for a in 0..p {
        for b in 0..a {
            m[b * p + a] = m[a * p + b];
        }
    }
    m
}

/// tr(A B) for symmetric p×p A and B.
pub fn tr_prod(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A weighted least-squares fit with weights w: the quantities of P that
/// metafor's estimators need.
pub struct Wls {
    /// (X'WX)⁻¹, p×p.
    pub inv: Vec<f64>,
    /// log|X'WX|.
    pub logdet: f64,
    /// b = (X'WX)⁻¹X'Wy.
    pub beta: Vec<f64>,
    /// y'Py = Σ wᵢ rᵢ², rᵢ = yᵢ − xᵢ'b.
    pub rss: f64,
    /// P y = w ∘ r.
    pub py: Vec<f64>,
}

impl Wls {
    pub fn new(x: &[f64], w: &[f64], y: &[f64], p: usize) -> Option<Wls> {
        let (inv, logdet) = spd_inverse(&xtwx(x, w, p), p)?;
        let mut xwy = vec![0.0; p];
        for ((row, &wi), &yi) in x.chunks_exact(p).zip(w).zip(y) {
            for a in 0..p {
                xwy[a] += row[a] * wi * yi;
            }
        }
        let beta: Vec<f64> = (0..p)
            .map(|a| (0..p).map(|b| inv[a * p + b] * xwy[b]).sum())
            .collect();
        let mut rss = 0.0;
        let mut py = Vec::with_capacity(y.len());
        for ((row, &wi), &yi) in x.chunks_exact(p).zip(w).zip(y) {
            let fit: f64 = row.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let r = yi - fit;
            rss += wi * r * r;
            py.push(wi * r);
        }
        Some(Wls {
            inv,
            logdet,
            beta,
            rss,
            py,
        })
    }

    /// Σᵢⱼ Pᵢⱼ² aᵢ bⱼ for the residual-maker P = W − WX(X'WX)⁻¹X'W, without
    /// forming the k×k matrix (`None` stands for a vector of ones).
    ///
    /// With A = (X'WX)⁻¹ and hᵢⱼ = xᵢ'Axⱼ, Pᵢⱼ = wᵢδᵢⱼ − wᵢhᵢⱼwⱼ, so
    /// Σ Pᵢⱼ² aᵢbⱼ = Σᵢ aᵢbᵢ(wᵢ² − 2wᵢ³hᵢᵢ) + tr(A M_a A M_b) with
    /// M_a = Σᵢ aᵢwᵢ² xᵢxᵢ' (expanding the square; (xᵢ'Axⱼ)² =
    /// xᵢ'A xⱼxⱼ' A xᵢ). O(k·p²) instead of O(k²·p) time and O(k²) memory.
    pub fn sq_sum(
        &self,
        x: &[f64],
        w: &[f64],
        p: usize,
        a: Option<&[f64]>,
        b: Option<&[f64]>,
    ) -> f64 {
        let av = |i: usize| a.map_or(1.0, |v| v[i]);
        let bv = |i: usize| b.map_or(1.0, |v| v[i]);
        let mut diag = 0.0;
        let mut ma = vec![0.0; p * p];
        let mut mb = vec![0.0; p * p];
        for (i, row) in x.chunks_exact(p).enumerate() {
            let wi = w[i];
            let mut hii = 0.0;
            for r in 0..p {
                for c in 0..p {
                    hii += row[r] * self.inv[r * p + c] * row[c];
                }
            }
            diag += av(i) * bv(i) * (wi * wi - 2.0 * wi * wi * wi * hii);
            let (fa, fb) = (av(i) * wi * wi, bv(i) * wi * wi);
            for r in 0..p {
                for c in 0..p {
                    let xx = row[r] * row[c];
                    ma[r * p + c] += fa * xx;
                    mb[r * p + c] += fb * xx;
                }
            }
        }
        // tr(A M_a A M_b)
        let mul = |l: &[f64], r: &[f64]| -> Vec<f64> {
            let mut o = vec![0.0; p * p];
            for i in 0..p {
                for k in 0..p {
                    let v = l[i * p + k];
                    for j in 0..p {
                        o[i * p + j] += v * r[k * p + j];
                    }
                }
            }
            o
        };
        let ama = mul(&self.inv, &ma);
        let amb = mul(&self.inv, &mb);
        let mut tr = 0.0;
        for i in 0..p {
            for j in 0..p {
                tr += ama[i * p + j] * amb[j * p + i];
            }
        }
        diag + tr
    }
}

/// tr(P) = Σw − tr((X'WX)⁻¹ X'W²X), without forming P.
pub fn trace_p(x: &[f64], w: &[f64], inv: &[f64], p: usize) -> f64 {
    let w2: Vec<f64> = w.iter().map(|v| v * v).collect();
    w.iter().sum::<f64>() - tr_prod(inv, &xtwx(x, &w2, p))
}
