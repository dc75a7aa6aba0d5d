//! Brent's root finder as R's `uniroot()` runs it.
//!
//! metafor finds the Paule–Mandel estimate and the Q-profile bounds with
//! `uniroot(tol = .Machine$double.eps^0.25)`, i.e. only to ~1e-4 absolute.
//! To reproduce metafor's numbers (not just the exact roots) this follows
//! the same iteration: Brent (1973, *Algorithms for Minimization without
//! Derivatives*, ch. 4) in the form of Forsythe, Malcolm & Moler (1977,
//! *Computer Methods for Mathematical Computations*, §7.2, `zeroin`), with
//! the end-point values supplied by the caller and an iteration cap, as in
//! R's `R_zeroin2` (R Core Team, `src/library/stats/src/zeroin.c`).

/// The result of a root search.
#[derive(Debug, Clone, Copy)]
pub struct Root {
    pub root: f64,
    /// Iterations used (function evaluations after the end points).
    pub iterations: usize,
    /// False when `maxit` was reached (R's `uniroot` then warns).
    pub converged: bool,
}

/// Zero of `f` in [ax, bx] with f(ax) = fa, f(bx) = fb of opposite sign
/// (or zero), tolerance `tol`, at most `maxit` iterations.
pub fn zeroin2(
    mut f: impl FnMut(f64) -> f64,
    ax: f64,
    bx: f64,
    fa: f64,
    fb: f64,
    tol: f64,
    maxit: usize,
) -> Root {
    let eps = f64::EPSILON;
    let (mut a, mut b) = (ax, bx);
    let (mut fa, mut fb) = (fa, fb);
    let (mut c, mut fc) = (a, fa);
    if fa == 0.0 {
        return Root {
            root: a,
            iterations: 0,
            converged: true,
        };
    }
    if fb == 0.0 {
        return Root {
            root: b,
            iterations: 0,
            converged: true,
        };
    }
    let mut left = maxit + 1;
    while left > 0 {
        left -= 1;
        let prev_step = b - a;
        if fc.abs() < fb.abs() {
            // make b the best approximation
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol_act = 2.0 * eps * b.abs() + tol / 2.0;
        let mut new_step = (c - b) / 2.0;
        if new_step.abs() <= tol_act || fb == 0.0 {
            return Root {
                root: b,
                iterations: maxit + 1 - left - 1,
                converged: true,
            };
        }
        // interpolation if the previous step was large enough and in the
        // right direction
        if prev_step.abs() >= tol_act && fa.abs() > fb.abs() {
            let cb = c - b;
            let (mut p, mut q);
            if a == c {
                // linear (secant)
                let t1 = fb / fa;
                p = cb * t1;
                q = 1.0 - t1;
            } else {
                // inverse quadratic
                let qq = fa / fc;
                let t1 = fb / fc;
                let t2 = fb / fa;
                p = t2 * (cb * qq * (qq - t1) - (b - a) * (t1 - 1.0));
                q = (qq - 1.0) * (t1 - 1.0) * (t2 - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            if p < 0.75 * cb * q - (tol_act * q).abs() / 2.0 && p < (prev_step * q / 2.0).abs() {
                new_step = p / q;
            }
        }
        if new_step.abs() < tol_act {
            new_step = if new_step > 0.0 { tol_act } else { -tol_act };
        }
        a = b;
        fa = fb;
        b += new_step;
        fb = f(b);
        if (fb > 0.0 && fc > 0.0) || (fb < 0.0 && fc < 0.0) {
            c = a;
            fc = fa;
        }
    }
    Root {
        root: b,
        iterations: maxit,
        converged: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sqrt2() {
        let f = |x: f64| x * x - 2.0;
        let r = zeroin2(f, 0.0, 2.0, f(0.0), f(2.0), 1e-12, 100);
        assert!(r.converged);
        assert!((r.root - 2f64.sqrt()).abs() < 1e-11);
    }
}
