//! Dense lower Cholesky factorisation and triangular solves on row-major
//! square matrices (only the lower triangle is read or written).
//!
//! Small matrices (the p×p systems of meta-analysis and of the grouped
//! random-intercept fits, called many times per bootstrap) are factorised by
//! the right-looking unblocked algorithm (Golub & Van Loan 2013, *Matrix
//! Computations*, 4th ed., Alg. 4.2.2, outer-product form). From
//! [`FAER_MIN`] rows on, the factorisation is faer's blocked left-looking
//! Cholesky (`faer::linalg::cholesky::llt`), which runs its updates through
//! tuned SIMD matrix-multiply kernels: on this project's 2-core machines it
//! factorises InstEval's 1,145 × 1,145 Schur complement in 16 ms where our
//! own 6×8-register-blocked kernel needed 28 ms. Its result is the same to
//! the bit whether it runs on one thread or several (tested below), so
//! output does not depend on the number of cores.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{
    cholesky_in_place, cholesky_in_place_scratch, LltError, LltRegularization,
};
use faer::{MatMut, Par};

/// Size from which faer factorises.
pub const FAER_MIN: usize = 128;
/// Size from which the factorisation uses two threads.
const PARALLEL_MIN: usize = 800;

/// Factorises the symmetric positive definite matrix in the lower triangle of
/// `a` (m×m row-major) in place: `A = L Lᵀ`. Returns `Err(k)` when the k-th
/// pivot is not positive (the leading k×k part is then factorised).
pub fn cholesky_lower(a: &mut [f64], m: usize) -> Result<(), usize> {
    if m < FAER_MIN {
        return cholesky_unblocked(a, m);
    }
    let par = if m >= PARALLEL_MIN && two_threads() {
        Par::rayon(2)
    } else {
        Par::Seq
    };
    cholesky_faer(a, m, par)
}

fn cholesky_faer(a: &mut [f64], m: usize, par: Par) -> Result<(), usize> {
    let mut buf = MemBuffer::new(cholesky_in_place_scratch::<f64>(m, par, Default::default()));
    let stack = MemStack::new(&mut buf);
    // Row-major storage viewed as a matrix with unit column stride: faer
    // reads and writes the same lower triangle.
    let view = MatMut::from_row_major_slice_mut(&mut a[..m * m], m, m);
    match cholesky_in_place(
        view,
        LltRegularization::default(),
        par,
        stack,
        Default::default(),
    ) {
        Ok(_) => Ok(()),
        Err(LltError::NonPositivePivot { index }) => Err(index),
    }
}

/// Right-looking unblocked Cholesky (Golub & Van Loan Alg. 4.2.2): the inner
/// loops are contiguous axpys rather than latency-bound dot products.
fn cholesky_unblocked(a: &mut [f64], m: usize) -> Result<(), usize> {
    let mut col = vec![0.0; m];
    for j in 0..m {
        let d = a[j * m + j];
        if d.is_nan() || d <= 0.0 {
            return Err(j);
        }
        let d = d.sqrt();
        a[j * m + j] = d;
        for i in j + 1..m {
            a[i * m + j] /= d;
            col[i] = a[i * m + j];
        }
        for i in j + 1..m {
            let lij = col[i];
            let row = &mut a[i * m + j + 1..i * m + i + 1];
            for (x, &c) in row.iter_mut().zip(&col[j + 1..i + 1]) {
                *x -= lij * c;
            }
        }
    }
    Ok(())
}

/// Whether a second thread can run (checked once).
fn two_threads() -> bool {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())) >= 2
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

    /// faer's factorisation gives the same bits on one thread and on two
    /// or three, so results do not depend on the machine's core count.
    #[test]
    fn factorisation_is_independent_of_threads() {
        let m = 900usize;
        let mut seed = 12345u64;
        let mut next = || {
            // xorshift64*, a fixed pseudo-random sequence
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            (seed.wrapping_mul(2685821657736338717) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let b: Vec<f64> = (0..m * 40).map(|_| next()).collect();
        let mut a = vec![0.0; m * m];
        for i in 0..m {
            for j in 0..=i {
                let t: f64 = (0..40).map(|k| b[i * 40 + k] * b[j * 40 + k]).sum();
                a[i * m + j] = t + if i == j { 1.0 } else { 0.0 };
            }
        }
        let run = |par: Par| {
            let mut c = a.clone();
            cholesky_faer(&mut c, m, par).unwrap();
            c
        };
        let one = run(Par::Seq);
        for threads in [2, 3] {
            let many = run(Par::rayon(threads));
            assert!(one
                .iter()
                .zip(&many)
                .all(|(x, y)| x.to_bits() == y.to_bits()));
        }
        assert_ne!(one, a, "the factorisation changed the matrix");
    }

    /// A failing last pivot is reported as `Err(m − 1)` with the rest of the
    /// factor complete (the mixed-model objective reads the last row when
    /// the response is fitted exactly), on both paths.
    #[test]
    fn failing_last_pivot_keeps_the_last_row() {
        for &m in &[5usize, 300] {
            let mut a = vec![0.0; m * m];
            for i in 0..m - 1 {
                a[i * m + i] = 4.0;
                a[(m - 1) * m + i] = 0.5 + (i % 3) as f64;
            }
            // Schur complement of the last pivot: c − Σ v²/4 < 0
            let vv: f64 = (0..m - 1).map(|i| a[(m - 1) * m + i].powi(2) / 4.0).sum();
            a[(m - 1) * m + m - 1] = vv - 1.0;
            let orig = a.clone();
            assert_eq!(cholesky_lower(&mut a, m), Err(m - 1), "m = {m}");
            for i in 0..m - 1 {
                assert!((a[i * m + i] - 2.0).abs() < 1e-15);
                assert!((a[(m - 1) * m + i] - orig[(m - 1) * m + i] / 2.0).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn cholesky_matches_definition() {
        // A = B Bᵀ + m I for a pseudo-random B, sizes across block edges.
        for &m in &[1usize, 3, 7, 64, 65, 127, 128, 130, 203] {
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
