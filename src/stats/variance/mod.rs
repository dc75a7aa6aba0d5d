//! The variance decomposition of science.md §2: the share of outcome
//! variance each factor (client, technique, relationship, therapist, site,
//! user factors) explains within one dataset, with cluster-bootstrap
//! intervals.
//!
//! For every subset S of the K factors the model with exactly the terms of S
//! is fitted (REML mixed model when S holds a random factor, OLS with the
//! n − p denominator otherwise; [`ri`]) and
//! v(S) = 1 − σ̂²_ε(S)/s²_y with s²_y the sample variance (n − 1) of y. The
//! Shapley value, the value alone and the unique contribution of each factor
//! come from [`crate::stats::decompose::shapley`]. ICCs are
//! τ²_g/(Σ τ² + σ²_ε) (`null`: intercept-only model with the random factors;
//! `casemix`: the full model). R² after Nakagawa & Schielzeth 2013 (Methods
//! Ecol. Evol. 4:133–142, eqs. 26–27): marginal σ²_f/(σ²_f + Στ² + σ²_ε) and
//! conditional (σ²_f + Στ²)/(σ²_f + Στ² + σ²_ε), σ²_f the sample variance of
//! the fixed-part prediction.

pub mod ri;
pub mod units;

use crate::stats::decompose::shapley;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use rayon::prelude::*;
use ri::{fit, Fit, FitError, Random, Sample};
use std::sync::atomic::{AtomicUsize, Ordering};
use units::{Scheme, Units};

/// A factor: fixed columns of W and/or one random intercept.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    pub name: String,
    /// Columns of W (never 0, the intercept, nor the last, y).
    pub cols: Vec<usize>,
    pub random: Random,
}

/// Results of one decomposition.
#[derive(Debug, Clone)]
pub struct Decomposition {
    /// s²_y.
    pub var_y: f64,
    /// v(S) for every subset mask (bit f = factor f).
    pub values: Vec<f64>,
    /// σ̂²_ε(S) per subset.
    pub sigma2: Vec<f64>,
    /// Per factor: (shapley, alone, unique).
    pub shares: Vec<(f64, f64, f64)>,
    pub unexplained: f64,
    /// ICC of the therapist and site from the intercept-only model with the
    /// random factors (None without that factor).
    pub icc_null: Icc,
    pub icc_casemix: Icc,
    pub r2_marginal: f64,
    pub r2_conditional: f64,
    /// The model with every factor.
    pub full: Fit,
    /// Evaluations of the objective summed over the subsets.
    pub evaluations: usize,
    /// Subsets whose fit reported no convergence.
    pub not_converged: Vec<u32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Icc {
    pub therapist: Option<f64>,
    pub site: Option<f64>,
}

/// ICC_g = τ²_g/(Σ τ² + σ²_ε) (science.md §2).
fn icc_of(f: &Fit) -> Icc {
    let total = f.tau2_therapist.unwrap_or(0.0) + f.tau2_site.unwrap_or(0.0) + f.sigma2;
    Icc {
        therapist: f.tau2_therapist.map(|t| t / total),
        site: f.tau2_site.map(|t| t / total),
    }
}

/// The columns and random intercepts of the subset `mask`.
pub fn subset_model(factors: &[Factor], mask: u32) -> (Vec<usize>, Random) {
    let mut cols = vec![0];
    let mut random = Random::NONE;
    for (f, fac) in factors.iter().enumerate() {
        if mask & (1 << f) != 0 {
            cols.extend(&fac.cols);
            random.therapist |= fac.random.therapist;
            random.site |= fac.random.site;
        }
    }
    (cols, random)
}

/// Fits the 2^K subset models on one sample and decomposes.
pub fn decompose(s: &Sample, factors: &[Factor]) -> Result<Decomposition, FitError> {
    let k = factors.len();
    let m = s.m;
    let n = s.n;
    let sum_y = s.wtw[m - 1];
    let var_y = (s.wtw[m * m - 1] - sum_y * sum_y / n) / (n - 1.0);
    let full_mask: u32 = (1u32 << k) - 1;
    let mut values = vec![0.0; 1 << k];
    let mut sigma2 = vec![var_y; 1 << k];
    let mut fits: Vec<Option<Fit>> = vec![None; 1 << k];
    let mut evaluations = 0;
    let mut not_converged = Vec::new();
    for mask in 1..=full_mask {
        let (cols, random) = subset_model(factors, mask);
        let f = fit(s, &cols, random, true)?;
        evaluations += f.evaluations;
        if !f.converged {
            not_converged.push(mask);
        }
        values[mask as usize] = 1.0 - f.sigma2 / var_y;
        sigma2[mask as usize] = f.sigma2;
        fits[mask as usize] = Some(f);
    }
    let shares = shapley(k, |mask| values[mask as usize]);
    let full = fits[full_mask as usize].take().expect("full model fitted");
    let random_mask: u32 = factors
        .iter()
        .enumerate()
        .filter(|(_, f)| f.random.any() && f.cols.is_empty())
        .map(|(i, _)| 1u32 << i)
        .sum();
    let icc_null = if random_mask != 0 {
        let (cols, random) = subset_model(factors, random_mask);
        // The intercept-only model with exactly the random factors.
        let f = match fits[random_mask as usize].take() {
            Some(f) if f.cols == cols => f,
            _ => fit(s, &cols, random, true)?,
        };
        icc_of(&f)
    } else {
        Icc::default()
    };
    let vf = full.var_fixed(s);
    let tau = full.tau2_therapist.unwrap_or(0.0) + full.tau2_site.unwrap_or(0.0);
    let total = vf + tau + full.sigma2;
    Ok(Decomposition {
        var_y,
        unexplained: 1.0 - values[full_mask as usize],
        icc_casemix: icc_of(&full),
        r2_marginal: vf / total,
        r2_conditional: (vf + tau) / total,
        values,
        sigma2,
        shares,
        icc_null,
        full,
        evaluations,
        not_converged,
    })
}

/// The statistics a bootstrap replicate contributes, in a fixed order
/// (see [`stat_names`]).
pub fn stat_vector(d: &Decomposition, extra: &dyn Fn(&Fit) -> Vec<f64>) -> Vec<f64> {
    let mut v = Vec::new();
    for &(s, a, u) in &d.shares {
        v.extend([s, a, u]);
    }
    v.push(d.unexplained);
    v.push(d.values[d.values.len() - 1]);
    for icc in [d.icc_null, d.icc_casemix] {
        v.push(icc.therapist.unwrap_or(f64::NAN));
        v.push(icc.site.unwrap_or(f64::NAN));
    }
    v.push(d.r2_marginal);
    v.push(d.r2_conditional);
    v.extend(extra(&d.full));
    v
}

/// Names of [`stat_vector`]'s entries (before the extras).
pub fn stat_names(factors: &[Factor]) -> Vec<String> {
    let mut v = Vec::new();
    for f in factors {
        for what in ["shapley", "alone", "unique"] {
            v.push(format!("{}.{what}", f.name));
        }
    }
    v.extend(
        [
            "unexplained",
            "explained",
            "icc.null.therapist",
            "icc.null.site",
            "icc.casemix.therapist",
            "icc.casemix.site",
            "r2.marginal",
            "r2.conditional",
        ]
        .map(String::from),
    );
    v
}

/// Bootstrap results: per statistic the replicate values, in replicate order
/// (NaN where a replicate failed).
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub reps: usize,
    pub seed: u64,
    pub failed: usize,
    pub values: Vec<Vec<f64>>,
}

/// The generator of replicate `r`: ChaCha8 seeded with `seed`, stream r + 1
/// (independent, reproducible streams; the result does not depend on which
/// thread runs which replicate).
pub fn replicate_rng(seed: u64, r: usize) -> ChaCha8Rng {
    let mut g = ChaCha8Rng::seed_from_u64(seed);
    g.set_stream(r as u64 + 1);
    g
}

/// Runs `reps` cluster-bootstrap replicates in parallel (rayon) and calls
/// `progress(done)` after each. Deterministic for a seed whatever the
/// number of threads.
pub fn bootstrap(
    units: &Units,
    factors: &[Factor],
    reps: usize,
    seed: u64,
    scheme: Scheme,
    extra: &(dyn Fn(&Fit) -> Vec<f64> + Sync),
    progress: &(dyn Fn(usize) + Sync),
) -> Bootstrap {
    let done = AtomicUsize::new(0);
    let rows: Vec<Option<Vec<f64>>> = (0..reps)
        .into_par_iter()
        .map(|r| {
            let mut rng = replicate_rng(seed, r);
            // U in [0, 1): top 53 bits of one u64 (as in simulate::Rand).
            let draw = units.draw(scheme, || {
                (rng.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
            });
            let s = units.sample(&draw);
            let out = decompose(&s, factors).ok().map(|d| stat_vector(&d, extra));
            progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            out
        })
        .collect();
    let width = rows.iter().flatten().map(Vec::len).max().unwrap_or(0);
    let failed = rows.iter().filter(|r| r.is_none()).count();
    let values = (0..width)
        .map(|i| {
            rows.iter()
                .map(|r| r.as_ref().map_or(f64::NAN, |v| v[i]))
                .collect()
        })
        .collect();
    Bootstrap {
        reps,
        seed,
        failed,
        values,
    }
}

/// Percentile interval (Efron & Tibshirani 1993, *An Introduction to the
/// Bootstrap*, §13.3) with quantiles by R's default type 7 (Hyndman & Fan
/// 1996, Am. Stat. 50:361–365): for probability p of the sorted finite
/// values x_1..x_n, h = (n − 1)p, x_⌊h⌋ + (h − ⌊h⌋)(x_⌊h⌋+1 − x_⌊h⌋).
pub fn percentile_interval(values: &[f64], level: f64) -> Option<(f64, f64)> {
    let mut x: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if x.len() < 2 {
        return None;
    }
    x.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let h = (x.len() - 1) as f64 * p;
        let lo = h.floor() as usize;
        let hi = (lo + 1).min(x.len() - 1);
        x[lo] + (h - lo as f64) * (x[hi] - x[lo])
    };
    let a = (1.0 - level) / 2.0;
    Some((q(a), q(1.0 - a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R: quantile(1:10, c(0.025, 0.975)) = 1.225, 9.775 (type 7).
    #[test]
    fn percentile_type7() {
        let x: Vec<f64> = (1..=10).map(f64::from).collect();
        let (a, b) = percentile_interval(&x, 0.95).unwrap();
        assert!((a - 1.225).abs() < 1e-12 && (b - 9.775).abs() < 1e-12);
        // Failed replicates (NaN) are left out.
        let mut y = x.clone();
        y.push(f64::NAN);
        assert_eq!(percentile_interval(&y, 0.95), Some((a, b)));
        assert_eq!(percentile_interval(&[1.0], 0.95), None);
    }

    /// Two-stage and site draws relabel the sites; drawing every site once
    /// with all its therapists reproduces the sample's sufficient statistics.
    #[test]
    fn draws_and_relabelled_sites() {
        // 6 therapists at 3 sites, 4 clients each; W = [1, x, y].
        let mut w = Vec::new();
        let (mut t, mut s) = (Vec::new(), Vec::new());
        for i in 0..24u32 {
            let x = f64::from((i * 7) % 11);
            w.extend([1.0, x, 0.5 * x + f64::from(i % 5)]);
            t.push(i / 4);
            s.push(i / 8);
        }
        let u = Units::new(&w, 3, Some(&t), Some(&s));
        let all = u.sample(&u.all());
        let same = u.sample(&units::Draw {
            units: u.all().units,
            sites: Some(vec![0, 0, 1, 1, 2, 2]),
        });
        assert_eq!(all.wtw, same.wtw);
        assert_eq!(all.site.n, same.site.n);
        let mut k = 0u64;
        let mut unif = || {
            k += 1;
            ((k * 2654435761) % 1000) as f64 / 1000.0
        };
        for scheme in [Scheme::Therapists, Scheme::TwoStage, Scheme::Sites] {
            let d = u.draw(scheme, &mut unif);
            assert_eq!(d.units.len(), 6);
            let smp = u.sample(&d);
            assert_eq!(smp.n, 24.0);
            assert_eq!(smp.ther.len(), 6);
            if scheme != Scheme::Therapists {
                assert_eq!(smp.site.len(), 3);
            }
        }
    }
}
