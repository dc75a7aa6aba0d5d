//! Properties of the variance decomposition (science.md §2) that hold for any
//! data, checked with proptest on simulated clinics (issue 10):
//!
//! * shift and scale: y → a + b·y (b ≠ 0) and the same for a covariate leave
//!   every share, ICC and R² unchanged (the models are location-scale
//!   equivariant; v(S) = 1 − σ̂²(S)/s²_y is a ratio of variances);
//! * relabelling: renumbering therapists and sites, and choosing another
//!   reference level for technique, leave them unchanged (the same model
//!   spaces);
//! * row order: the same rows in another order give bitwise the same
//!   numbers (the bootstrap units put rows in a canonical order first);
//! * duplicating the whole dataset: with the copy's therapists and sites as
//!   new groups, the log-likelihood doubles, so the ML variance components
//!   are unchanged; for fixed-effect-only subsets, the residual variance
//!   obeys the exact degrees-of-freedom relation below.
//!
//! Tolerances: exact for row order (the same sums in the same order). Shares
//! and ICCs pass through the REML optimiser, which stops when the criterion
//! changes by less than 1e-11 (absolute); on a flat criterion (three sites)
//! that fixes θ only to about √(2·1e-11/f″) ≈ 5e-6, and a shift or a relabelling
//! changes the rounding of the criterion and so the path. They are compared
//! at [`OPTIMISER_TOL`]. Measured with `PROPTEST_CASES=3000` and five seeds
//! (November 2026), after the trust region came to stop only on a model
//! fitted to a fresh stencil: every property within 5e-7 (shares, ICCs,
//! components; fixed effects in SEs). Before, duplication reached 4.8e-5 in
//! 30,000 cases (and failed CI) and shift and scale 3.2e-6: the optimiser
//! had stopped short of the minimum (the two regression tests below).
//!
//! The seed is fixed (`common::proptest_config`); `PROPTEST_RNG_SEED` and
//! `PROPTEST_CASES` explore further.
mod common;

use outcomes::stats::variance::ri::{fit, Random, Sample};
use outcomes::stats::variance::units::Units;
use outcomes::stats::variance::{decompose, Decomposition, Factor};
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// Absolute tolerance for shares and ICCs that pass through the optimiser
/// (4× the largest difference measured; see the header).
const OPTIMISER_TOL: f64 = 2e-6;

/// One simulated clinic, row-wise.
#[derive(Debug, Clone)]
struct Clinic {
    pre: Vec<f64>,
    alliance: Vec<f64>,
    /// Technique level 0..3.
    tech: Vec<usize>,
    therapist: Vec<u32>,
    site: Vec<u32>,
    y: Vec<f64>,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller; u1 in (0, 1].
    let u1 = 1.0 - (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn clinic(seed: u64, therapists: u32, sites: u32) -> Clinic {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut c = Clinic {
        pre: vec![],
        alliance: vec![],
        tech: vec![],
        therapist: vec![],
        site: vec![],
        y: vec![],
    };
    for t in 0..therapists {
        let u = 1.5 * normal(&mut rng);
        let site = t % sites;
        let s_eff = 0.7 * f64::from(site) - 0.5;
        let caseload = 3 + rng.next_u64() % 10;
        for _ in 0..caseload {
            let pre = 15.0 + 4.0 * normal(&mut rng);
            let alliance = 3.5 + 0.6 * normal(&mut rng);
            let tech = (rng.next_u64() % 3) as usize;
            let y = 2.0 + 0.5 * pre - 1.2 * alliance
                + [0.0, -0.8, 0.4][tech]
                + u
                + s_eff
                + 3.0 * normal(&mut rng);
            c.pre.push(pre);
            c.alliance.push(alliance);
            c.tech.push(tech);
            c.therapist.push(t);
            c.site.push(site);
            c.y.push(y);
        }
    }
    c
}

/// W = [1, pre, technique dummies (reference `reference`), alliance, y] and
/// the five factors client, technique, relationship, therapist, site.
fn design(c: &Clinic, reference: usize) -> (Vec<f64>, usize, Vec<Factor>) {
    let m = 6;
    let others: Vec<usize> = (0..3).filter(|&l| l != reference).collect();
    let mut w = Vec::with_capacity(c.y.len() * m);
    for i in 0..c.y.len() {
        w.extend([
            1.0,
            c.pre[i],
            f64::from(u8::from(c.tech[i] == others[0])),
            f64::from(u8::from(c.tech[i] == others[1])),
            c.alliance[i],
            c.y[i],
        ]);
    }
    let fixed = |name: &str, cols: Vec<usize>| Factor {
        name: name.into(),
        cols,
        random: Random::NONE,
    };
    let random = |name: &str, therapist: bool| Factor {
        name: name.into(),
        cols: vec![],
        random: Random {
            therapist,
            site: !therapist,
        },
    };
    let factors = vec![
        fixed("client", vec![1]),
        fixed("technique", vec![2, 3]),
        fixed("relationship", vec![4]),
        random("therapist", true),
        random("site", false),
    ];
    (w, m, factors)
}

fn decomposition(c: &Clinic, reference: usize) -> Decomposition {
    let (w, m, factors) = design(c, reference);
    let units = Units::new(&w, m, Some(&c.therapist), Some(&c.site));
    let sample = units.sample(&units.all());
    decompose(&sample, &factors).expect("the simulated clinic decomposes")
}

/// Every share, ICC and R² of a decomposition, in a fixed order.
fn summary(d: &Decomposition) -> Vec<f64> {
    let mut v: Vec<f64> = d.shares.iter().flat_map(|&(s, a, u)| [s, a, u]).collect();
    v.extend([
        d.unexplained,
        d.icc_null.therapist.unwrap(),
        d.icc_null.site.unwrap(),
        d.icc_casemix.therapist.unwrap(),
        d.icc_casemix.site.unwrap(),
        d.r2_marginal,
        d.r2_conditional,
    ]);
    v
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        prop_assert!(
            (x - y).abs() <= tol,
            "{}: entry {} differs: {} vs {} (|diff| {:e} > {:e})",
            what,
            i,
            x,
            y,
            (x - y).abs(),
            tol
        );
    }
    Ok(())
}

/// A clinic, the same clinic twice (the copy's therapists and sites as new
/// groups), and the samples of both with W = [1, pre, technique, alliance, y].
fn duplicated(seed: u64, therapists: u32) -> (Clinic, Sample, Sample) {
    let base = clinic(seed, therapists, 3);
    let mut twice = base.clone();
    twice.pre.extend(base.pre.iter().copied());
    twice.alliance.extend(base.alliance.iter().copied());
    twice.tech.extend(base.tech.iter().copied());
    twice.y.extend(base.y.iter().copied());
    twice
        .therapist
        .extend(base.therapist.iter().map(|t| t + therapists));
    twice.site.extend(base.site.iter().map(|s| s + 3));
    let sample = |c: &Clinic| {
        let (w, m, _) = design(c, 0);
        let units = Units::new(&w, m, Some(&c.therapist), Some(&c.site));
        units.sample(&units.all())
    };
    let (s1, s2) = (sample(&base), sample(&twice));
    (base, s1, s2)
}

/// Regression: on this clinic the trust region stopped on the duplicated
/// data 1.4e-7 above the minimum of the criterion, θ 5e-5 away from the
/// original fit's (the case that failed CI was another of this kind). It
/// had carried an off-diagonal curvature of −1307 over from an early model
/// (the true one is 8) and took the model's failed step for convergence.
/// Now only a model fitted to a fresh stencil may declare convergence.
#[test]
fn duplicated_fit_reaches_the_original_optimum() {
    let (_, s1, s2) = duplicated(5287 * 7919 + 13, 8 + 5287 % 12);
    let all = [0, 1, 2, 3, 4];
    let both = Random {
        therapist: true,
        site: true,
    };
    let f1 = fit(&s1, &all, both, false).unwrap();
    let f2 = fit(&s2, &all, both, false).unwrap();
    let excess = f2.objective - 2.0 * f1.objective;
    assert!(
        excess.abs() < 1e-9,
        "criterion {excess:e} above twice the original"
    );
    for (a, b) in f1.theta.iter().zip(&f2.theta) {
        assert!((a - b).abs() < 1e-6, "θ {:?} vs {:?}", f1.theta, f2.theta);
    }
}

/// Regression: θ of the null model (REML, therapist and site intercepts) is
/// invariant to y → a + b·y; on this clinic the stop came 1.3e-9 above the
/// minimum of the moved data's criterion, θ_site 9e-6 away (the site ICC
/// off by 3.2e-6), from a model whose points all lay on one side of the
/// iterate (a gradient of 3e-4 where the true one is 0).
#[test]
fn scaled_outcome_reaches_the_same_null_model_optimum() {
    let base = clinic(10662567546514770655, 16, 3);
    let mut moved = base.clone();
    for v in &mut moved.y {
        *v = 695.2552965265684 - 35.47051857366944 * *v;
    }
    let both = Random {
        therapist: true,
        site: true,
    };
    let theta = |c: &Clinic| {
        let (w, m, _) = design(c, 0);
        let units = Units::new(&w, m, Some(&c.therapist), Some(&c.site));
        fit(&units.sample(&units.all()), &[0], both, true)
            .unwrap()
            .theta
    };
    let (a, b) = (theta(&base), theta(&moved));
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-6, "θ {a:?} vs {b:?}");
    }
}

proptest! {
    #![proptest_config(common::proptest_config(64))]

    #[test]
    fn shares_are_invariant_to_shift_and_scale_of_the_outcome_and_a_covariate(
        seed in any::<u64>(),
        therapists in 8u32..20,
        a in -1e3f64..1e3,
        b in prop_oneof![-50.0f64..-0.02, 0.02f64..50.0],
        c in -100.0f64..100.0,
        d in 0.05f64..20.0,
    ) {
        let base = clinic(seed, therapists, 3);
        let mut moved = base.clone();
        for v in &mut moved.y {
            *v = a + b * *v;
        }
        for v in &mut moved.pre {
            *v = c + d * *v;
        }
        let x = summary(&decomposition(&base, 0));
        let y = summary(&decomposition(&moved, 0));
        assert_close(&x, &y, OPTIMISER_TOL, "shift and scale")?;
    }

    #[test]
    fn shares_are_invariant_to_relabelling_groups_and_the_reference_level(
        seed in any::<u64>(),
        therapists in 8u32..20,
        shuffle in any::<u64>(),
        reference in 0usize..3,
    ) {
        let base = clinic(seed, therapists, 3);
        let mut relabelled = base.clone();
        // A permutation of the therapist codes and a rotation of the sites.
        let mut perm: Vec<u32> = (0..therapists).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(shuffle);
        for i in (1..perm.len()).rev() {
            perm.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        for t in &mut relabelled.therapist {
            *t = perm[*t as usize];
        }
        for s in &mut relabelled.site {
            *s = (*s + 1) % 3;
        }
        let x = summary(&decomposition(&base, 0));
        let y = summary(&decomposition(&relabelled, reference));
        assert_close(&x, &y, OPTIMISER_TOL, "relabelling")?;
    }

    #[test]
    fn row_order_does_not_matter(seed in any::<u64>(), therapists in 8u32..20, shuffle in any::<u64>()) {
        let base = clinic(seed, therapists, 3);
        let n = base.y.len();
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(shuffle);
        for i in (1..n).rev() {
            order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        let pick = |v: &Vec<f64>| order.iter().map(|&i| v[i]).collect::<Vec<_>>();
        let shuffled = Clinic {
            pre: pick(&base.pre),
            alliance: pick(&base.alliance),
            tech: order.iter().map(|&i| base.tech[i]).collect(),
            therapist: order.iter().map(|&i| base.therapist[i]).collect(),
            site: order.iter().map(|&i| base.site[i]).collect(),
            y: pick(&base.y),
        };
        let x = decomposition(&base, 0);
        let y = decomposition(&shuffled, 0);
        assert_close(&x.values, &y.values, 0.0, "v(S) on shuffled rows")?;
        assert_close(&summary(&x), &summary(&y), 0.0, "shares on shuffled rows")?;
    }

    #[test]
    fn duplicating_the_dataset_keeps_ml_components_and_the_ols_df_relation(
        seed in any::<u64>(),
        therapists in 8u32..20,
    ) {
        let (base, s1, s2) = duplicated(seed, therapists);
        let all = vec![0, 1, 2, 3, 4];
        let both = Random { therapist: true, site: true };
        // ML: the duplicated log-likelihood is twice the original, so the
        // maximiser is the same.
        let f1 = fit(&s1, &all, both, false).unwrap();
        let f2 = fit(&s2, &all, both, false).unwrap();
        let comps = |f: &outcomes::stats::variance::ri::Fit| {
            vec![f.sigma2, f.tau2_therapist.unwrap(), f.tau2_site.unwrap()]
        };
        let scale = f1.sigma2;
        let rel: Vec<f64> = comps(&f1).iter().map(|v| v / scale).collect();
        let rel2: Vec<f64> = comps(&f2).iter().map(|v| v / scale).collect();
        assert_close(&rel, &rel2, OPTIMISER_TOL, "ML components relative to sigma2")?;
        // β̂ inherits θ̂'s optimiser error, so it is compared in standard
        // errors of the original fit.
        let p = f1.beta.len();
        let in_se = |f: &outcomes::stats::variance::ri::Fit| -> Vec<f64> {
            (0..p).map(|j| f.beta[j] / f1.vcov[j * p + j].sqrt()).collect()
        };
        assert_close(&in_se(&f1), &in_se(&f2), OPTIMISER_TOL, "ML fixed effects in SEs of the original")?;
        // OLS with the n − p denominator: RSS doubles, so
        // σ̂²₂ = σ̂²₁ · 2(n − p)/(2n − p).
        let n = base.y.len() as f64;
        let p = all.len() as f64;
        let o1 = fit(&s1, &all, Random::NONE, true).unwrap();
        let o2 = fit(&s2, &all, Random::NONE, true).unwrap();
        let expected = o1.sigma2 * 2.0 * (n - p) / (2.0 * n - p);
        prop_assert!(((o2.sigma2 - expected) / expected).abs() < 1e-10,
            "OLS sigma2 {} vs {}", o2.sigma2, expected);
    }
}
