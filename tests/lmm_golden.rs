//! Golden values for the linear mixed model engine (`outcomes::stats::lmm`).
//!
//! Sources:
//! * `science.md` §4: the reference values of the lme4 / MixedModels.jl test
//!   suites (Bates et al. 2015, JSS 67(1); MixedModels.jl `test/pls.jl`).
//! * `tests/reference/lmm_lme4.R` with its printed output
//!   `tests/reference/lmm_lme4.out` (lme4 1.1-31, R from Debian bookworm):
//!   SEs, variance components, logLik/AIC/BIC, factor fixed effects, an
//!   aliased column, `||` terms and conditional modes with SDs.
//!
//! Tolerance: 1e-6 relative for objectives, fixed effects, SEs and variance
//! components (lme4 and this crate stop their optimisers at slightly
//! different points; the objective is flat at the optimum so its value agrees
//! to ~1e-9, parameters to ~1e-6); θ and quantities that are first-order
//! sensitive to θ are compared at the stated tolerance per test.
//!
//! Data: `../shared/datasets/lme4/*.csv` (lme4's datasets written by
//! `write.csv`); the tests print "skipped" when that folder is absent.

#[path = "common/r_csv.rs"]
mod r_csv;

use outcomes::stats::lmm::{Data, Frame, Lmm, LmmFit, Method, RandomComponent, Var};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn data_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/lme4");
    if d.is_dir() {
        Some(d)
    } else {
        println!("skipped: ../shared is absent");
        None
    }
}

/// An lme4 dataset from ../shared, as R read it.
fn read_csv(name: &str) -> Option<Frame> {
    Some(r_csv::read_r_csv(&data_dir()?.join(name)))
}

#[track_caller]
fn close(got: f64, want: f64, rel: f64, what: &str) {
    let tol = rel * want.abs().max(1e-300);
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got:.12}, want {want:.12} (rel. diff {:.2e}, tol {rel:.0e})",
        (got - want).abs() / want.abs()
    );
}

fn var_of(fit: &LmmFit, group: &str, term: &str) -> f64 {
    fit.random
        .iter()
        .find_map(|c| match c {
            RandomComponent::Variance {
                group: g,
                term: t,
                variance,
                ..
            } if g == group && t == term => Some(*variance),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no variance for {group} {term}"))
}

fn beta_of(fit: &LmmFit, term: &str) -> (f64, f64) {
    let f = fit
        .fixed
        .iter()
        .find(|f| f.term == term)
        .unwrap_or_else(|| panic!("no fixed effect {term}"));
    (f.estimate, f.se)
}

// ---------------------------------------------------------------- science.md §4

#[test]
fn dyestuff_reml_and_ml() {
    let Some(d) = read_csv("Dyestuff.csv") else {
        return;
    };
    let m = Lmm::new("Yield ~ 1 + (1|Batch)", &d).unwrap();
    // f(θ) at given θ: science.md §4 (MixedModels.jl test/pls.jl)
    close(
        m.objective(&[1.0], Method::Reml),
        319.792389042,
        1e-9,
        "f(1)",
    );
    close(
        m.objective(&[0.0], Method::Reml),
        326.023232156,
        1e-9,
        "f(0)",
    );
    let fit = m.fit(Method::Reml).unwrap();
    close(fit.objective, 319.654276842, 1e-9, "REML criterion");
    close(fit.theta[0], 0.8483238, 1e-6, "theta REML"); // 7 digits given
    close(fit.residual.variance, 2451.25, 1e-6, "sigma2");
    close(var_of(&fit, "Batch", "(Intercept)"), 1764.05, 1e-6, "tau2");
    assert!(!fit.singular && fit.converged);
    let fit = m.fit(Method::Ml).unwrap();
    close(fit.objective, 327.327059881, 1e-9, "ML deviance");
    close(fit.theta[0], 0.7525807, 1e-6, "theta ML");
}

#[test]
fn dyestuff2_singular() {
    let Some(d) = read_csv("Dyestuff2.csv") else {
        return;
    };
    let fit = Lmm::new("Yield ~ 1 + (1|Batch)", &d)
        .unwrap()
        .fit(Method::Reml)
        .unwrap();
    assert_eq!(fit.theta[0], 0.0);
    assert!(fit.singular);
}

#[test]
fn penicillin_ml() {
    let Some(d) = read_csv("Penicillin.csv") else {
        return;
    };
    let fit = Lmm::new("diameter ~ 1 + (1|plate) + (1|sample)", &d)
        .unwrap()
        .fit(Method::Ml)
        .unwrap();
    close(fit.objective, 332.18834867, 1e-9, "objective");
    close(fit.fixed[0].estimate, 22.9722222, 1e-8, "beta");
    // θ to 1e-4 (issue 4): these references stop ~1e-5 short of the optimum;
    // the objective at the reference θ is higher than at ours.
    close(fit.theta[0], 1.53759390, 1e-4, "theta plate");
    close(fit.theta[1], 3.21979219, 1e-4, "theta sample");
    let m = Lmm::new("diameter ~ 1 + (1|plate) + (1|sample)", &d).unwrap();
    assert!(fit.objective <= m.objective(&[1.53759390, 3.21979219], Method::Ml) + 1e-9);
    assert_eq!(fit.groups[0].group, "plate");
    assert_eq!(fit.groups[0].levels, 24);
}

#[test]
fn pastes_ml() {
    let Some(d) = read_csv("Pastes.csv") else {
        return;
    };
    let fit = Lmm::new("strength ~ 1 + (1|batch/cask)", &d)
        .unwrap()
        .fit(Method::Ml)
        .unwrap();
    close(fit.objective, 247.99446586, 1e-9, "objective");
    close(fit.theta[0], 3.52690293, 1e-4, "theta cask:batch");
    close(fit.theta[1], 1.32991374, 1e-4, "theta batch");
    assert_eq!(fit.groups[0].group, "cask:batch");
    assert_eq!(fit.groups[0].levels, 30);
}

#[test]
fn sleepstudy_reml_and_ml() {
    let Some(d) = read_csv("sleepstudy.csv") else {
        return;
    };
    let m = Lmm::new("Reaction ~ Days + (Days|Subject)", &d).unwrap();
    let fit = m.fit(Method::Reml).unwrap();
    close(fit.objective, 1743.6282722, 1e-9, "REML criterion");
    let fit = m.fit(Method::Ml).unwrap();
    close(fit.objective, 1751.93934446, 1e-9, "ML objective");
    close(fit.fixed[0].estimate, 251.405104848, 1e-8, "beta 0");
    close(fit.fixed[1].estimate, 10.467285960, 1e-7, "beta Days");
}

// ------------------------------------------------- tests/reference/lmm_lme4.R

/// The "key value" lines printed by `tests/reference/lmm_lme4.R`.
fn lme4_reference() -> BTreeMap<String, f64> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/lmm_lme4.out");
    let text = std::fs::read_to_string(path).expect("tests/reference/lmm_lme4.out");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// Compares every reference value of one model (`tag`) with our fit.
/// `rel`: relative tolerance for parameters; objectives use 1e-9.
fn check_against_lme4(tag: &str, m: &Lmm, fit: &LmmFit, rel: f64) {
    let refs = lme4_reference();
    let ranef = m.ranef(fit);
    let prefix = format!("{tag}.");
    let mut checked = 0;
    for (key, &want) in refs.iter().filter(|(k, _)| k.starts_with(&prefix)) {
        let k = &key[prefix.len()..];
        let (kind, rest) = k.split_once('.').unwrap_or((k, ""));
        let got = match kind {
            "objective" => fit.objective,
            "loglik" => fit.loglik,
            "aic" => fit.aic,
            "bic" => fit.bic,
            "sigma2" => fit.residual.variance,
            "singular" => f64::from(u8::from(fit.singular)),
            "lme4_seconds_default_control" => continue,
            "theta" => fit.theta[rest.parse::<usize>().unwrap() - 1],
            "beta" => beta_of(fit, rest).0,
            "se" => beta_of(fit, rest).1,
            "var" => {
                let (g, t) = rest.rsplit_once('.').unwrap();
                // lme4 names a second term of the same factor "Subject.1"
                let g = g.strip_suffix(".1").unwrap_or(g);
                var_of(fit, g, t)
            }
            "corr" => {
                let parts: Vec<&str> = rest.split('.').collect();
                fit.random
                    .iter()
                    .find_map(|c| match c {
                        RandomComponent::Correlation { group, terms, corr }
                            if group == parts[0]
                                && terms[0] == parts[1]
                                && terms[1] == parts[2] =>
                        {
                            Some(*corr)
                        }
                        _ => None,
                    })
                    .unwrap()
            }
            "ranef" | "condsd" => {
                let parts: Vec<&str> = rest.split('.').collect();
                let re = ranef.iter().find(|r| r.group == parts[0]).unwrap();
                let l = re.levels.iter().position(|x| x == parts[1]).unwrap();
                let t = re.terms.iter().position(|x| x == parts[2]).unwrap();
                if kind == "ranef" {
                    re.modes[l][t]
                } else {
                    re.cond_sd[l][t]
                }
            }
            other => panic!("unknown reference key {other}"),
        };
        let tol = match kind {
            "objective" | "loglik" | "aic" | "bic" => 1e-9,
            _ => rel,
        };
        if kind == "ranef" {
            // A mode near zero is a small difference of large numbers: judge
            // it on the scale of its conditional SD.
            let sd = refs[&key.replace(".ranef.", ".condsd.")];
            let scale = want.abs().max(sd);
            assert!(
                (got - want).abs() <= tol * scale,
                "{key}: got {got:.12}, want {want:.12} (diff/scale {:.2e})",
                (got - want).abs() / scale
            );
        } else if kind == "theta" || kind == "corr" {
            // unitless, on a scale of 1: absolute tolerance for small values
            let scale = want.abs().max(1.0);
            assert!(
                (got - want).abs() <= tol * scale,
                "{key}: got {got:.12}, want {want:.12}"
            );
        } else if want == 0.0 {
            assert!(got.abs() <= tol, "{key}: got {got}, want 0");
        } else {
            close(got, want, tol, key);
        }
        checked += 1;
    }
    assert!(checked > 5, "only {checked} reference values for {tag}");
}

fn subset(d: &Frame, keep: &[bool]) -> Frame {
    let n = keep.iter().filter(|&&k| k).count();
    let mut out = Frame::new(n);
    for name in d.names() {
        let v = match d.var(name).unwrap() {
            Var::Num(x) => Var::Num(
                x.iter()
                    .zip(keep)
                    .filter(|(_, &k)| k)
                    .map(|(v, _)| *v)
                    .collect(),
            ),
            Var::Factor { codes, levels } => Var::Factor {
                codes: codes
                    .iter()
                    .zip(keep)
                    .filter(|(_, &k)| k)
                    .map(|(v, _)| *v)
                    .collect(),
                levels: levels.clone(),
            },
        };
        out.add(name, v).unwrap();
    }
    out
}

fn num(d: &Frame, name: &str) -> Vec<f64> {
    match d.var(name).unwrap() {
        Var::Num(x) => x.clone(),
        _ => panic!("{name} is not numeric"),
    }
}

#[test]
fn lme4_dyestuff_reml() {
    let Some(d) = read_csv("Dyestuff.csv") else {
        return;
    };
    let m = Lmm::new("Yield ~ 1 + (1 | Batch)", &d).unwrap();
    let fit = m.fit(Method::Reml).unwrap();
    check_against_lme4("dyestuff_reml", &m, &fit, 1e-6);
}

#[test]
fn lme4_penicillin_ml_crossed() {
    let Some(d) = read_csv("Penicillin.csv") else {
        return;
    };
    let m = Lmm::new("diameter ~ 1 + (1 | plate) + (1 | sample)", &d).unwrap();
    let fit = m.fit(Method::Ml).unwrap();
    check_against_lme4("penicillin_ml", &m, &fit, 1e-6);
}

#[test]
fn lme4_sleepstudy_correlated() {
    let Some(d) = read_csv("sleepstudy.csv") else {
        return;
    };
    let m = Lmm::new("Reaction ~ Days + (Days | Subject)", &d).unwrap();
    let fit = m.fit(Method::Reml).unwrap();
    check_against_lme4("sleep_reml", &m, &fit, 1e-6);
}

#[test]
fn lme4_sleepstudy_uncorrelated() {
    let Some(d) = read_csv("sleepstudy.csv") else {
        return;
    };
    let m = Lmm::new("Reaction ~ Days + (Days || Subject)", &d).unwrap();
    let fit = m.fit(Method::Reml).unwrap();
    check_against_lme4("sleep_uncorr", &m, &fit, 1e-6);
}

#[test]
fn lme4_factor_interaction() {
    let Some(mut d) = read_csv("sleepstudy.csv") else {
        return;
    };
    let phase: Vec<&str> = num(&d, "Days")
        .iter()
        .map(|&x| {
            if x < 3.0 {
                "early"
            } else if x < 7.0 {
                "mid"
            } else {
                "late"
            }
        })
        .collect();
    d.add_strings("phase", &phase).unwrap();
    let m = Lmm::new("Reaction ~ Days * phase + (1 | Subject)", &d).unwrap();
    let fit = m.fit(Method::Ml).unwrap();
    let names: Vec<&str> = fit.fixed.iter().map(|f| f.term.as_str()).collect();
    assert_eq!(
        names,
        [
            "(Intercept)",
            "Days",
            "phaselate",
            "phasemid",
            "Days:phaselate",
            "Days:phasemid"
        ]
    );
    check_against_lme4("sleep_factor", &m, &fit, 1e-6);
}

#[test]
fn lme4_aliased_column_dropped() {
    let Some(mut d) = read_csv("sleepstudy.csv") else {
        return;
    };
    let days2 = num(&d, "Days").iter().map(|x| 2.0 * x).collect();
    d.add_num("Days2", days2).unwrap();
    let m = Lmm::new("Reaction ~ Days + Days2 + (1 | Subject)", &d).unwrap();
    let fit = m.fit(Method::Reml).unwrap();
    assert_eq!(fit.aliased, ["Days2"]);
    assert_eq!(fit.fixed.len(), 2);
    check_against_lme4("sleep_aliased", &m, &fit, 1e-6);
}

#[test]
fn lme4_unbalanced_nested() {
    let Some(d) = read_csv("Pastes.csv") else {
        return;
    };
    // R rows 1, 2, 5, 17, 30, 31, 45 removed (as if missing)
    let drop = [0usize, 1, 4, 16, 29, 30, 44];
    let keep: Vec<bool> = (0..d.nrows()).map(|i| !drop.contains(&i)).collect();
    let d = subset(&d, &keep);
    let m = Lmm::new("strength ~ 1 + (1 | batch/cask)", &d).unwrap();
    let fit = m.fit(Method::Reml).unwrap();
    // The REML criterion is nearly flat in θ₁ here (θ₁ ≈ 3.64): moving θ₁
    // by 1e-6 changes it by about 1e-11, the size of its rounding error, so
    // any optimiser's θ is fixed only to about 1e-6 and the variance
    // components to a few 1e-6 (ours: 3.5e-6 from lme4's, with a REML
    // criterion 8e-12 lower than at lme4's θ). Check that ours is as good an
    // optimum (within that rounding), then compare at 5e-6.
    let at_lme4 = m.objective(&[3.63813608258333, 1.21563638918933], Method::Reml);
    assert!(m.objective(&fit.theta, Method::Reml) <= at_lme4 + 1e-10);
    check_against_lme4("pastes_unbal", &m, &fit, 5e-6);
}

/// InstEval (73,421 rows, 2,972 students crossed with 1,128 lecturers):
/// science.md §4's objective 237721.76877450 (MixedModels.jl / lme4) to
/// 1e-9, and lme4's own fit. About 30 s in the dev profile; the timing is a
/// benchmark (benches/lmm_speed.rs), not this test.
#[test]
fn insteval_ml() {
    let Some(d) = read_csv("InstEval.csv") else {
        return;
    };
    let m = Lmm::new("y ~ 1 + service + (1|s) + (1|d) + (1|dept)", &d).unwrap();
    let fit = m.fit(Method::Ml).unwrap();
    close(fit.objective, 237721.76877450, 1e-9, "objective");
    // lme4 here ran with its default (looser) optimiser settings and stopped
    // 1.4e-6 above the optimum (θ_dept off by 2e-4 relative): our objective
    // must be at least as low; parameters agree to 1e-3.
    let lme4_theta = [0.276458348890162, 0.437355040128585, 0.0666833191925835];
    assert!(fit.objective <= m.objective(&lme4_theta, Method::Ml));
    check_against_lme4("insteval_ml", &m, &fit, 1e-3);
}

#[test]
fn bad_input_is_reported() {
    use outcomes::error::Error;
    let mut d = Frame::new(4);
    d.add_num("y", vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    d.add_strings("one", &["a", "a", "a", "a"]).unwrap();
    d.add_strings("each", &["a", "b", "c", "d"]).unwrap();
    d.add_strings("txt", &["u", "v", "u", "v"]).unwrap();
    let e = Lmm::new("y ~ 1 + (1 | one)", &d).unwrap_err();
    assert!(matches!(e, Error::Analysis(_)), "{e}");
    let e = Lmm::new("y ~ 1 + (1 | each)", &d).unwrap_err();
    assert!(matches!(e, Error::Analysis(_)) && e.to_string().contains("< number of observations"));
    let e = Lmm::new("txt ~ 1 + (1 | txt)", &d).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    let e = Lmm::new("y ~ 1 + (1 | nosuch)", &d).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    let e = Lmm::new("y ~ 1 + (1 | txt", &d).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    let empty = {
        let mut f = Frame::new(0);
        f.add_num("y", vec![]).unwrap();
        f.add_strings::<&str>("g", &[]).unwrap();
        f
    };
    let e = Lmm::new("y ~ 1 + (1 | g)", &empty).unwrap_err();
    assert!(matches!(e, Error::Analysis(_)), "{e}");
}
