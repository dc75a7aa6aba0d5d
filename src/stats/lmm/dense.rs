//! Dense lower Cholesky factorisation and triangular solves on row-major
//! square matrices (only the lower triangle is read or written).
//!
//! The factorisation is the blocked right-looking algorithm (Golub & Van
//! Loan 2013, *Matrix Computations*, 4th ed., §4.2.9, "block Cholesky"): per
//! block column, factor the diagonal block (Algorithm 4.2.1), solve the panel
//! below it against the block's transpose, and update the trailing matrix
//! with the panel's outer product (a symmetric rank-`nb` update). The update
//! is almost all of the work; it runs through a 4×8 register-blocked kernel,
//! compiled twice: with AVX2+FMA when the CPU has them (checked at run time)
//! and for baseline x86-64 / other architectures.

/// Block size of the blocked factorisation.
const NB: usize = 64;

/// Factorises the symmetric positive definite matrix in the lower triangle of
/// `a` (m×m row-major) in place: `A = L Lᵀ`. Returns `Err(k)` when the k-th
/// pivot is not positive (the leading k×k part is then factorised).
pub fn cholesky_lower(a: &mut [f64], m: usize) -> Result<(), usize> {
    let mut k0 = 0;
    let mut panel = Vec::new();
    let mut panel_t = Vec::new();
    while k0 < m {
        let k1 = (k0 + NB).min(m);
        let nb = k1 - k0;
        // 1. diagonal block (unblocked, Golub & Van Loan Alg. 4.2.1)
        for j in k0..k1 {
            let mut d = a[j * m + j];
            for k in k0..j {
                d -= a[j * m + k] * a[j * m + k];
            }
            if d.is_nan() || d <= 0.0 {
                return Err(j);
            }
            let d = d.sqrt();
            a[j * m + j] = d;
            for i in j + 1..k1 {
                let mut s = a[i * m + j];
                for k in k0..j {
                    s -= a[i * m + k] * a[j * m + k];
                }
                a[i * m + j] = s / d;
            }
        }
        if k1 == m {
            break;
        }
        // 2. panel: rows k1..m, L21 = A21 L11^{-T} (row-wise forward solve;
        // rows are independent, so large panels are split over two threads)
        {
            let (head, tail) = a.split_at_mut(k1 * m);
            let l11 = &head[k0 * m..];
            let solve = |rows: &mut [f64]| {
                for row in rows.chunks_exact_mut(m) {
                    for j in k0..k1 {
                        let lj = &l11[(j - k0) * m..];
                        let mut s = row[j];
                        for k in k0..j {
                            s -= row[k] * lj[k];
                        }
                        row[j] = s / lj[j];
                    }
                }
            };
            let rows = m - k1;
            if rows >= PARALLEL_MIN_ROWS && two_threads() {
                let (top, bottom) = tail.split_at_mut(rows / 2 * m);
                std::thread::scope(|scope| {
                    scope.spawn(|| solve(top));
                    solve(bottom);
                });
            } else {
                solve(tail);
            }
        }
        // 3. trailing update A22 -= L21 L21ᵀ (lower part)
        let r = m - k1;
        let r6 = r.div_ceil(MR) * MR;
        let r8 = r.div_ceil(NR) * NR;
        // panel packed by MR-row blocks, k-major within a block (MR values
        // per k), and by NR-column strips, k-major within a strip.
        panel.clear();
        panel.resize(r6 * nb, 0.0);
        panel_t.clear();
        panel_t.resize(nb * r8, 0.0);
        for i in 0..r {
            let row = &a[(k1 + i) * m + k0..(k1 + i) * m + k1];
            let blk = (i / MR) * MR * nb;
            let strip = (i / NR) * NR * nb;
            for (k, &v) in row.iter().enumerate() {
                panel[blk + k * MR + i % MR] = v;
                panel_t[strip + k * NR + i % NR] = v;
            }
        }
        syrk_update(a, m, k1, &panel, &panel_t, r, r8, nb);
        k0 = k1;
    }
    Ok(())
}

trait Arith {
    fn fma(a: f64, b: f64, c: f64) -> f64;
}
struct Plain;
impl Arith for Plain {
    #[inline(always)]
    fn fma(a: f64, b: f64, c: f64) -> f64 {
        a * b + c
    }
}
#[cfg(target_arch = "x86_64")]
struct Fused;
#[cfg(target_arch = "x86_64")]
impl Arith for Fused {
    #[inline(always)]
    fn fma(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
}

/// Rows of the trailing matrix below which the update runs on one thread
/// (spawning costs more than it saves on small blocks).
const PARALLEL_MIN_ROWS: usize = 256;

/// Whether a second thread can run (checked once).
fn two_threads() -> bool {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())) >= 2
}

/// The trailing update, split by rows over two threads when it is large.
/// Every element of C is accumulated in the same order whichever thread
/// computes it, so the result is bit-for-bit the same with one thread or two.
#[allow(clippy::too_many_arguments)]
fn syrk_update(
    a: &mut [f64],
    m: usize,
    off: usize,
    panel: &[f64],
    panel_t: &[f64],
    r: usize,
    r8: usize,
    nb: usize,
) {
    if r < PARALLEL_MIN_ROWS || !two_threads() {
        syrk_rows(
            &mut a[off * m..(off + r) * m],
            m,
            off,
            panel,
            panel_t,
            0,
            r,
            r8,
            nb,
        );
        return;
    }
    // Row i of the lower triangle costs ∝ i + 1: rows [0, s) and [s, r)
    // carry equal work when s = r/√2; s is a multiple of MR so that no
    // register block straddles the two halves.
    let s = ((r as f64 / std::f64::consts::SQRT_2) as usize / MR * MR).clamp(MR, r);
    let (top, bottom) = a[off * m..(off + r) * m].split_at_mut(s * m);
    std::thread::scope(|scope| {
        scope.spawn(|| syrk_rows(top, m, off, panel, panel_t, 0, s, r8, nb));
        syrk_rows(bottom, m, off, panel, panel_t, s, r, r8, nb);
    });
}

/// The update of trailing rows `lo..hi`; `rows` holds exactly those rows of
/// the full matrix (row `lo` first).
#[allow(clippy::too_many_arguments)]
fn syrk_rows(
    rows: &mut [f64],
    m: usize,
    off: usize,
    panel: &[f64],
    panel_t: &[f64],
    lo: usize,
    hi: usize,
    r8: usize,
    nb: usize,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features enabled on the callee.
            unsafe { syrk_avx2(rows, m, off, panel, panel_t, lo, hi, r8, nb) };
            return;
        }
    }
    syrk_generic::<Plain>(rows, m, off, panel, panel_t, lo, hi, r8, nb);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn syrk_avx2(
    rows: &mut [f64],
    m: usize,
    off: usize,
    panel: &[f64],
    panel_t: &[f64],
    lo: usize,
    hi: usize,
    r8: usize,
    nb: usize,
) {
    syrk_generic::<Fused>(rows, m, off, panel, panel_t, lo, hi, r8, nb)
}

/// Rows and columns of the register block of the update kernel.
const MR: usize = 6;
const NR: usize = 8;
/// Rows of the panel kept hot in L2 while the column strips stream by.
const MC: usize = 96;

/// `C[i][j] -= Σ_k P[i][k] P[j][k]` for `0 ≤ j ≤ i < r`, where C is the
/// trailing block of `a` starting at (off, off). Loop order as in GEMM
/// libraries (Goto & van de Geijn 2008, ACM TOMS 34(3), "Anatomy of
/// high-performance matrix multiplication"): an MC-row slab of the packed
/// panel stays in L2, each NR-column strip in L1, and an MR×NR block of C in
/// registers.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn syrk_generic<F: Arith>(
    rows: &mut [f64],
    m: usize,
    off: usize,
    panel: &[f64],
    panel_t: &[f64],
    lo: usize,
    hi: usize,
    _r8: usize,
    nb: usize,
) {
    let mut ic = lo;
    while ic < hi {
        let iend = (ic + MC).min(hi);
        let mut j0 = 0;
        while j0 < iend {
            let strip = &panel_t[j0 * nb..(j0 + NR) * nb];
            // first row block of this slab that reaches column j0
            let mut i0 = ic.max(j0 / MR * MR);
            while i0 < iend {
                let pblk = &panel[i0 * nb..(i0 + MR) * nb];
                let mut acc = [[0.0f64; NR]; MR];
                for k in 0..nb {
                    let b: &[f64; NR] = strip[k * NR..k * NR + NR].try_into().unwrap();
                    let p: &[f64; MR] = pblk[k * MR..k * MR + MR].try_into().unwrap();
                    for (accr, &s) in acc.iter_mut().zip(p.iter()) {
                        for l in 0..NR {
                            accr[l] = F::fma(s, b[l], accr[l]);
                        }
                    }
                }
                for (di, accr) in acc.iter().enumerate() {
                    let i = i0 + di;
                    if i >= iend {
                        break;
                    }
                    let jmax = (j0 + NR).min(i + 1);
                    if jmax <= j0 {
                        continue;
                    }
                    let start = (i - lo) * m + off;
                    let row = &mut rows[start + j0..start + jmax];
                    for (c, v) in row.iter_mut().zip(accr.iter()) {
                        *c -= v;
                    }
                }
                i0 += MR;
            }
            j0 += NR;
        }
        ic = iend;
    }
}

/// Solves `L x = b` in place (forward substitution), L lower m×m row-major.
pub fn solve_lower(l: &[f64], m: usize, b: &mut [f64]) {
    for i in 0..m {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * m + k] * b[k];
        }
        b[i] = s / l[i * m + i];
    }
}

/// Solves `Lᵀ x = b` in place (back substitution), L lower m×m row-major.
pub fn solve_lower_t(l: &[f64], m: usize, b: &mut [f64]) {
    for i in (0..m).rev() {
        let s = b[i] / l[i * m + i];
        b[i] = s;
        for k in 0..i {
            b[k] -= l[i * m + k] * s;
        }
    }
}

/// The inverse of a lower-triangular matrix (lower triangle of the result;
/// the upper part is zero).
pub fn invert_lower(l: &[f64], m: usize) -> Vec<f64> {
    let mut inv = vec![0.0; m * m];
    for j in 0..m {
        inv[j * m + j] = 1.0 / l[j * m + j];
        for i in j + 1..m {
            let mut s = 0.0;
            for k in j..i {
                s -= l[i * m + k] * inv[k * m + j];
            }
            inv[i * m + j] = s / l[i * m + i];
        }
    }
    inv
}

/// `(L Lᵀ)⁻¹ = L⁻ᵀ L⁻¹` from the inverse of L (full symmetric result).
pub fn inverse_from_lower_inverse(linv: &[f64], m: usize) -> Vec<f64> {
    let mut out = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..=i {
            // Σ_k Linv[k][i] Linv[k][j], k ≥ i
            let mut s = 0.0;
            for k in i..m {
                s += linv[k * m + i] * linv[k * m + j];
            }
            out[i * m + j] = s;
            out[j * m + i] = s;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two-thread trailing update gives exactly the bits of the
    /// one-thread update (same accumulation order per element).
    #[test]
    fn split_update_is_bitwise_identical() {
        let (m, off, nb) = (700usize, 64usize, 64usize);
        let r = m - off;
        let mut seed = 12345u64;
        let mut next = || {
            // xorshift64*, a fixed pseudo-random sequence
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            (seed.wrapping_mul(2685821657736338717) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let a0: Vec<f64> = (0..m * m).map(|_| next()).collect();
        let r6 = r.div_ceil(MR) * MR;
        let r8 = r.div_ceil(NR) * NR;
        let mut panel = vec![0.0; r6 * nb];
        let mut panel_t = vec![0.0; nb * r8];
        for i in 0..r {
            for k in 0..nb {
                let v = next();
                panel[(i / MR) * MR * nb + k * MR + i % MR] = v;
                panel_t[(i / NR) * NR * nb + k * NR + i % NR] = v;
            }
        }
        let mut one = a0.clone();
        syrk_rows(&mut one[off * m..], m, off, &panel, &panel_t, 0, r, r8, nb);
        let mut two = a0.clone();
        syrk_update(&mut two, m, off, &panel, &panel_t, r, r8, nb);
        assert!(r >= PARALLEL_MIN_ROWS, "the test must exercise the split");
        assert!(one
            .iter()
            .zip(&two)
            .all(|(x, y)| x.to_bits() == y.to_bits()));
        assert_ne!(one, a0, "the update changed the matrix");
    }

    #[test]
    fn cholesky_matches_definition() {
        // A = B Bᵀ + m I for a pseudo-random B, sizes across block edges.
        for &m in &[1usize, 3, 7, 64, 65, 130, 203] {
            let mut b = vec![0.0; m * m];
            let mut s: u64 = 12345;
            for v in b.iter_mut() {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                *v = ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5;
            }
            let mut a = vec![0.0; m * m];
            for i in 0..m {
                for j in 0..m {
                    let mut t = 0.0;
                    for k in 0..m {
                        t += b[i * m + k] * b[j * m + k];
                    }
                    a[i * m + j] = t + if i == j { m as f64 } else { 0.0 };
                }
            }
            let orig = a.clone();
            cholesky_lower(&mut a, m).unwrap();
            for i in 0..m {
                for j in 0..=i {
                    let mut t = 0.0;
                    for k in 0..=j {
                        t += a[i * m + k] * a[j * m + k];
                    }
                    assert!(
                        (t - orig[i * m + j]).abs() < 1e-9 * m as f64,
                        "m={m} ({i},{j})"
                    );
                }
            }
            let linv = invert_lower(&a, m);
            let ainv = inverse_from_lower_inverse(&linv, m);
            for i in 0..m {
                let mut t = 0.0;
                for k in 0..m {
                    t += orig[i * m + k] * ainv[k * m + i];
                }
                assert!((t - 1.0).abs() < 1e-9);
            }
        }
    }
}
