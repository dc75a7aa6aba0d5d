//! Influence analyses for intercept-only `rma.uni` fits (metafor 3.8-1
//! `leave1out.rma.uni`). Pure numerical code on plain slices: no I/O.

use super::{check_inputs, rma, MetaError, Method, Test};

/// The model refitted without one study.
#[derive(Debug, Clone)]
pub struct LeaveOneOut {
    /// 0-based index of the omitted study.
    pub omitted: usize,
    pub estimate: f64,
    pub se: f64,
    /// z (or t under Knapp–Hartung) statistic of the estimate.
    pub stat: f64,
    pub pval: f64,
    pub ci_lb: f64,
    pub ci_ub: f64,
    /// Cochran's Q of the remaining studies and its p-value.
    pub q: f64,
    pub q_pval: f64,
    /// τ² (0 for the equal-effects model, where metafor prints none).
    pub tau2: f64,
    pub i2: f64,
    pub h2: f64,
}

/// metafor's `leave1out(fit)` for an intercept-only fit: for each study i
/// the model is refitted to the other k − 1 studies with the same τ²
/// method, test and level (Viechtbauer & Cheung 2010, Res Synth Methods
/// 1:112, §3.2 "leave-one-out"; metafor docs `leave1out`), and the
/// estimate, its test and CI, Q, τ², I² and H² are reported. Requires
/// k ≥ 3 (every refit needs k − 1 > 1 studies).
pub fn leave1out(
    yi: &[f64],
    vi: &[f64],
    method: Method,
    test: Test,
    level: f64,
) -> Result<Vec<LeaveOneOut>, MetaError> {
    let k = yi.len();
    check_inputs(yi, vi, &vec![1.0; k], 1)?;
    if k < 3 {
        return Err(MetaError::TooFew { k: k - 1, p: 1 });
    }
    let ones = vec![1.0; k - 1];
    (0..k)
        .map(|i| {
            let y: Vec<f64> = (0..k).filter(|&j| j != i).map(|j| yi[j]).collect();
            let v: Vec<f64> = (0..k).filter(|&j| j != i).map(|j| vi[j]).collect();
            let f = rma(&y, &v, &ones, 1, method, test, level)?;
            Ok(LeaveOneOut {
                omitted: i,
                estimate: f.beta[0],
                se: f.se[0],
                stat: f.stat[0],
                pval: f.pval[0],
                ci_lb: f.ci_lb[0],
                ci_ub: f.ci_ub[0],
                q: f.qe,
                q_pval: f.qe_pval,
                tau2: f.tau2,
                i2: f.i2,
                h2: f.h2,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omits_each_study() {
        let y = [0.1, 0.3, -0.2, 0.5, 0.0];
        let v = [0.02, 0.05, 0.04, 0.1, 0.03];
        let l = leave1out(&y, &v, Method::Dl, Test::Z, 0.95).unwrap();
        assert_eq!(l.len(), 5);
        for (i, r) in l.iter().enumerate() {
            assert_eq!(r.omitted, i);
            let yy: Vec<f64> = (0..5).filter(|&j| j != i).map(|j| y[j]).collect();
            let vv: Vec<f64> = (0..5).filter(|&j| j != i).map(|j| v[j]).collect();
            let f = rma(&yy, &vv, &[1.0; 4], 1, Method::Dl, Test::Z, 0.95).unwrap();
            assert_eq!(r.estimate, f.beta[0]);
            assert_eq!(r.tau2, f.tau2);
        }
        assert!(matches!(
            leave1out(&y[..2], &v[..2], Method::Dl, Test::Z, 0.95),
            Err(MetaError::TooFew { .. })
        ));
    }
}
