//! Golden values for the three-level meta-analysis engine
//! (`outcomes::stats::meta::multilevel`).
//!
//! Sources of the numbers:
//! * `tests/reference/meta_multilevel_metafor.R` with its output
//!   `tests/reference/meta_multilevel_metafor.out` (metafor 3.8-1,
//!   clubSandwich 0.5.8, R 4.2.2): `rma.mv(yi, vi, random = ~ 1 |
//!   cluster/effect)` on dat.konstantopoulos2011 (Konstantopoulos 2011, Res.
//!   Synth. Methods 2:61; 56 schools in 11 districts) and dat.assink2016
//!   (Assink & Wibbelink 2016; 100 effects in 17 studies), intercept-only and
//!   with a centred year moderator, REML (and ML), z and t tests;
//!   `robust(fit, cluster)` (CR1) and `coef_test`/`conf_int(vcov = "CR2")`
//!   (Satterthwaite df); the two-level `rma(yi, vi)`; CR2 for the two-level
//!   dat.bcg fit.
//!   Tolerance 1e-6 relative for everything that depends on the estimated
//!   variance components: metafor's nlminb stops ~5e-8 relative from the
//!   optimum (its own BFGS refit with reltol 1e-15, the `tight.*` lines,
//!   differs from the default fit by that much), while the crate's Newton
//!   iteration converges to ~1e-13. The test prints the largest relative
//!   difference per case. Degrees of freedom that are integers are exact.
//! * `../shared/reference/metafor-golden.csv`: the rows for
//!   dat.konstantopoulos2011 (two-level REML: Konstantopoulos 2011 Table 4;
//!   three-level ML: Table 5; three-level REML: metafor) and metafor's
//!   `test_misc_robust.r` rows for dat.bcg (CR1 and CR2), each checked at half
//!   a unit of its last printed decimal. Out of scope: the profile-likelihood
//!   CIs of σ² in the REML row.
//!
//! Data: `../shared/datasets/metadat/*.csv`; every test prints
//! "skipped: ../shared is absent" when that folder is missing.

use outcomes::stats::meta::multilevel::{
    cr2, cr2_sigma2, robust_cr1, robust_cr1_sigma2, three_level, three_level_with, Robust,
    ThreeLevel, ThreeLevelOptions,
};
use outcomes::stats::meta::{rma, tau2_ci, Method, Test};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

fn shared() -> Option<PathBuf> {
    let d = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"));
    if d.join("datasets").is_dir() {
        Some(d)
    } else {
        println!("skipped: ../shared is absent");
        None
    }
}

/// A CSV file as numeric columns by header name (non-numbers → NaN).
fn read_csv(path: &Path) -> BTreeMap<String, Vec<f64>> {
    let mut rdr = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    let mut cols: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        for (h, v) in header.iter().zip(rec.iter()) {
            cols.entry(h.clone())
                .or_default()
                .push(v.trim().parse().unwrap_or(f64::NAN));
        }
    }
    cols
}

/// `case|quantity|v1;v2;…` lines of the R output.
fn reference() -> HashMap<String, Vec<f64>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/meta_multilevel_metafor.out"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut m = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let parts: Vec<&str> = line.split('|').collect();
        assert_eq!(parts.len(), 3, "{line}");
        let v = parts[2]
            .split(';')
            .map(|s| s.trim().parse::<f64>().unwrap_or(f64::NAN))
            .collect();
        m.insert(format!("{}|{}", parts[0], parts[1]), v);
    }
    m
}

struct Checker {
    refs: HashMap<String, Vec<f64>>,
    worst: BTreeMap<String, (f64, String)>,
}

impl Checker {
    fn new() -> Checker {
        Checker {
            refs: reference(),
            worst: BTreeMap::new(),
        }
    }
    /// Relative comparison (absolute for reference values below 1e-12).
    fn check(&mut self, case: &str, q: &str, got: &[f64], rtol: f64) {
        self.check_scaled(case, q, got, rtol, &[]);
    }
    /// Relative to max(|reference|, scale[i]): CI bounds near 0 are
    /// compared relative to their SE (the bound is b ± crit·SE).
    fn check_scaled(&mut self, case: &str, q: &str, got: &[f64], rtol: f64, scale: &[f64]) {
        let key = format!("{case}|{q}");
        let want = self
            .refs
            .get(&key)
            .unwrap_or_else(|| panic!("no reference {key}"))
            .clone();
        assert_eq!(want.len(), got.len(), "{key}: {got:?} vs {want:?}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let den = w.abs().max(scale.get(i).copied().unwrap_or(0.0));
            let d = if den < 1e-12 {
                (g - w).abs()
            } else {
                ((g - w) / den).abs()
            };
            assert!(
                d <= rtol,
                "{key}: got {g:.15e}, metafor {w:.15e} (rel {d:.2e})"
            );
            let e = self
                .worst
                .entry(case.to_string())
                .or_insert((0.0, String::new()));
            if d > e.0 {
                *e = (d, q.to_string());
            }
        }
    }
    fn report(&self) {
        for (case, (d, q)) in &self.worst {
            println!("{case}: largest relative difference {d:.2e} ({q})");
        }
    }
}

const RTOL: f64 = 1e-6;

fn check_fit(c: &mut Checker, case: &str, f: &ThreeLevel) {
    println!(
        "{case}: sigma2 {:.17e} {:.17e}, iterations {}",
        f.sigma2[0], f.sigma2[1], f.iterations
    );
    c.check(case, "sigma2", &f.sigma2, RTOL);
    c.check(case, "beta", &f.beta, RTOL);
    c.check(case, "se", &f.se, RTOL);
    c.check(case, "zval", &f.stat, RTOL);
    c.check(case, "pval", &f.pval, RTOL);
    c.check_scaled(case, "ci.lb", &f.ci_lb, RTOL, &f.se);
    c.check_scaled(case, "ci.ub", &f.ci_ub, RTOL, &f.se);
    c.check(case, "vb", &f.vb, RTOL);
    c.check(case, "QE", &[f.qe, f.qe_df as f64, f.qe_pval], 1e-9);
    c.check(case, "QM", &[f.qm, f.qm_pval], RTOL);
    c.check(case, "logLik", &[f.loglik], 1e-9);
    if let (Some(a), Some(b)) = (f.pi_lb, f.pi_ub) {
        c.check(case, "pi", &[a, b], RTOL);
    }
    assert!(f.converged);
}

fn check_robust(c: &mut Checker, case: &str, r1: &Robust, r2: &Robust) {
    c.check(case, "cr1.se", &r1.se, RTOL);
    c.check(case, "cr1.stat", &r1.stat, RTOL);
    c.check(case, "cr1.df", &r1.df[..1], 0.0);
    c.check(case, "cr1.pval", &r1.pval, RTOL);
    let ci: Vec<f64> = r1.ci_lb.iter().chain(&r1.ci_ub).copied().collect();
    let se2: Vec<f64> = r1.se.iter().chain(&r1.se).copied().collect();
    c.check_scaled(case, "cr1.ci", &ci, RTOL, &se2);
    c.check(case, "cr1.vb", &r1.vb, RTOL);
    c.check(case, "cr2.se", &r2.se, RTOL);
    c.check(case, "cr2.stat", &r2.stat, RTOL);
    c.check(case, "cr2.df", &r2.df, RTOL);
    c.check(case, "cr2.pval", &r2.pval, RTOL);
    let ci: Vec<f64> = r2.ci_lb.iter().chain(&r2.ci_ub).copied().collect();
    let se2: Vec<f64> = r2.se.iter().chain(&r2.se).copied().collect();
    c.check_scaled(case, "cr2.ci", &ci, RTOL, &se2);
    c.check(case, "cr2.vb", &r2.vb, RTOL);
    assert_eq!(r2.kind, "CR2 (Satterthwaite df)");
}

/// (yi, vi, cluster codes, centred year) of a metadat file.
fn data(root: &Path, name: &str, cluster: &str) -> (Vec<f64>, Vec<f64>, Vec<u32>, Vec<f64>) {
    let t = read_csv(&root.join(format!("datasets/metadat/{name}.csv")));
    let year = &t["year"];
    let mean = year.iter().sum::<f64>() / year.len() as f64;
    (
        t["yi"].clone(),
        t["vi"].clone(),
        t[cluster].iter().map(|v| *v as u32).collect(),
        year.iter().map(|y| y - mean).collect(),
    )
}

fn design(cols: &[&[f64]], k: usize) -> Vec<f64> {
    (0..k)
        .flat_map(|i| std::iter::once(1.0).chain(cols.iter().map(move |c| c[i])))
        .collect()
}

fn run_dataset(c: &mut Checker, root: &Path, name: &str, cluster: &str, tag: &str) {
    let (yi, vi, st, year) = data(root, name, cluster);
    let k = yi.len();
    let x1 = vec![1.0; k];
    let x2 = design(&[&year], k);

    let f = three_level(&yi, &vi, &st, &x1, 1, Test::Z, 0.95).unwrap();
    let case = format!("{tag}.int.reml.z");
    check_fit(c, &case, &f);
    let r1 = robust_cr1(&f, &yi, &vi, &st, &x1, 0.95).unwrap();
    let r2 = cr2(&f, &yi, &vi, &st, &x1, 0.95).unwrap();
    check_robust(c, &case, &r1, &r2);
    let distinct: std::collections::BTreeSet<u32> = st.iter().copied().collect();
    assert_eq!(f.studies, distinct.len());
    if c.refs.contains_key(&format!("{case}|tight.sigma2")) {
        c.check(&case, "icc", &[f.icc()], RTOL);
        // the fully converged metafor fit is closer still
        c.check(&case, "tight.sigma2", &f.sigma2, 1e-7);
        c.check(&case, "tight.logLik", &[f.loglik], 1e-12);
    }

    let f = three_level(&yi, &vi, &st, &x2, 2, Test::Z, 95.0).unwrap();
    let case = format!("{tag}.year.reml.z");
    check_fit(c, &case, &f);
    let r1 = robust_cr1(&f, &yi, &vi, &st, &x2, 0.95).unwrap();
    let r2 = cr2(&f, &yi, &vi, &st, &x2, 0.95).unwrap();
    check_robust(c, &case, &r1, &r2);
    if c.refs.contains_key(&format!("{case}|tight.sigma2")) {
        c.check(&case, "tight.sigma2", &f.sigma2, 1e-7);
        c.check(&case, "tight.beta", &f.beta, 1e-7);
    }

    let f = three_level(&yi, &vi, &st, &x2, 2, Test::Knha, 0.95).unwrap();
    let case = format!("{tag}.year.reml.t");
    check_fit(c, &case, &f);
    assert_eq!(f.ddf, Some(k - 2));
}

#[test]
fn three_level_against_metafor_and_clubsandwich() {
    let Some(root) = shared() else { return };
    let mut c = Checker::new();
    run_dataset(
        &mut c,
        &root,
        "dat.konstantopoulos2011",
        "district",
        "k2011",
    );
    run_dataset(&mut c, &root, "dat.assink2016", "study", "a2016");

    let (yi, vi, st, _) = data(&root, "dat.konstantopoulos2011", "district");
    let x1 = vec![1.0; yi.len()];
    let f = three_level(&yi, &vi, &st, &x1, 1, Test::Knha, 0.95).unwrap();
    check_fit(&mut c, "k2011.int.reml.t", &f);
    let opts = ThreeLevelOptions {
        method: Method::Ml,
        ..Default::default()
    };
    let f = three_level_with(&yi, &vi, &st, &x1, 1, Test::Z, 0.95, &opts).unwrap();
    check_fit(&mut c, "k2011.int.ml.z", &f);

    // two-level model for comparison (rma.uni engine)
    let r = rma(&yi, &vi, &x1, 1, Method::Reml, Test::Z, 0.95).unwrap();
    c.check("k2011.rma.uni", "tau2", &[r.tau2], RTOL);
    c.check("k2011.rma.uni", "beta", &r.beta, RTOL);
    c.check("k2011.rma.uni", "se", &r.se, RTOL);
    c.check("k2011.rma.uni", "logLik", &[r.ll_reml], 1e-9);

    // two-level dat.bcg: CR2 with one cluster per trial
    let (y, v) = bcg(&root);
    let xb = vec![1.0; y.len()];
    let r = rma(&y, &v, &xb, 1, Method::Reml, Test::Z, 0.95).unwrap();
    let trial: Vec<u32> = (0..y.len() as u32).collect();
    let cr = cr2_sigma2([r.tau2, 0.0], &y, &v, &trial, &xb, 1, 0.95).unwrap();
    c.check("bcg.reml", "tau2", &[r.tau2], RTOL);
    c.check("bcg.reml", "cr2.se", &cr.se, RTOL);
    c.check("bcg.reml", "cr2.df", &cr.df, RTOL);
    c.check("bcg.reml", "cr2.vb", &cr.vb, RTOL);
    c.report();
}

fn bcg(root: &Path) -> (Vec<f64>, Vec<f64>) {
    let t = read_csv(&root.join("datasets/metadat/dat.bcg.csv"));
    let (a, b, c, d) = (&t["tpos"], &t["tneg"], &t["cpos"], &t["cneg"]);
    let y = (0..a.len())
        .map(|i| ((a[i] / (a[i] + b[i])) / (c[i] / (c[i] + d[i]))).ln())
        .collect();
    let v = (0..a.len())
        .map(|i| 1.0 / a[i] - 1.0 / (a[i] + b[i]) + 1.0 / c[i] - 1.0 / (c[i] + d[i]))
        .collect();
    (y, v)
}

/// The numbers of a golden-CSV cell ("0.1847; 0.0846; [0.0564,0.1388]")
/// with half a unit of their last printed decimal as tolerance.
fn printed(cell: &str) -> Vec<(f64, f64)> {
    cell.split([';', ',', '[', ']', ' '])
        .filter(|s| !s.is_empty())
        .map(|s| {
            let dec = s.split('.').nth(1).map_or(0, |f| f.len());
            (
                s.parse::<f64>().unwrap(),
                0.5 * 10f64.powi(-(dec as i32)) + 1e-12,
            )
        })
        .collect()
}

/// The `expected_values` of the golden row whose test file, dataset and call
/// contain the given strings.
fn golden_row(root: &Path, file: &str, dataset: &str, call: &str) -> Vec<(f64, f64)> {
    let path = root.join("reference/metafor-golden.csv");
    let mut rdr = csv::Reader::from_path(&path).unwrap();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        if rec[0].contains(file) && rec[1].contains(dataset) && rec[2] == *call {
            return printed(&rec[4]);
        }
    }
    panic!("no golden row {file} / {dataset} / {call}");
}

fn at_rounding(what: &str, got: &[f64], want: &[(f64, f64)]) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, (w, tol)) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= *tol,
            "{what}: got {g}, printed {w} (±{tol})"
        );
    }
}

#[test]
fn konstantopoulos_rows_of_metafor_golden_csv() {
    let Some(root) = shared() else { return };
    let file = "test_analysis_example_konstantopoulos2011.r";
    let (yi, vi, st, _) = data(&root, "dat.konstantopoulos2011", "district");
    let x1 = vec![1.0; yi.len()];

    // rma.mv REML: mu; se; sigma2; ICC; logLik (profile CIs: out of scope)
    let f = three_level(&yi, &vi, &st, &x1, 1, Test::Z, 0.95).unwrap();
    let want = golden_row(
        &root,
        file,
        "dat.konstantopoulos2011",
        "rma.mv(random=~1|district/study) REML",
    );
    let got = [
        f.beta[0],
        f.se[0],
        f.sigma2[0],
        f.sigma2[1],
        f.icc(),
        f.loglik,
    ];
    at_rounding("rma.mv REML", &got, &want[..6]);

    // rma.mv ML: mu; se; sigma2; PI (Konstantopoulos 2011, Table 5)
    let opts = ThreeLevelOptions {
        method: Method::Ml,
        ..Default::default()
    };
    let f = three_level_with(&yi, &vi, &st, &x1, 1, Test::Z, 0.95, &opts).unwrap();
    let want = golden_row(
        &root,
        file,
        "dat.konstantopoulos2011",
        "rma.mv(random=~1|district/study, method=ML)",
    );
    let got = [
        f.beta[0],
        f.se[0],
        f.sigma2[0],
        f.sigma2[1],
        f.pi_lb.unwrap(),
        f.pi_ub.unwrap(),
    ];
    at_rounding("rma.mv ML", &got, &want);

    // two-level rma REML: mu; se; tau2; se.tau2; Q-profile CI (Table 4)
    let r = rma(&yi, &vi, &x1, 1, Method::Reml, Test::Z, 0.95).unwrap();
    let ci = tau2_ci(&yi, &vi, &x1, 1, &r, 0.95).unwrap();
    let want = golden_row(&root, file, "dat.konstantopoulos2011", "rma(yi,vi) REML");
    let got = [
        r.beta[0],
        r.se[0],
        r.tau2,
        r.se_tau2.unwrap(),
        ci.tau2[0],
        ci.tau2[1],
    ];
    at_rounding("rma REML", &got, &want);
}

#[test]
fn robust_rows_of_metafor_golden_csv() {
    let Some(root) = shared() else { return };
    let (y, v) = bcg(&root);
    let x = vec![1.0; y.len()];
    let r = rma(&y, &v, &x, 1, Method::Reml, Test::Z, 0.95).unwrap();
    let trial: Vec<u32> = (0..y.len() as u32).collect();
    // robust(res, cluster=trial): vcov; dfs; z (metafor's CR1)
    let cr1 = robust_cr1_sigma2([r.tau2, 0.0], &y, &v, &trial, &x, 1, 0.95).unwrap();
    let want = golden_row(
        &root,
        "test_misc_robust.r",
        "dat.bcg",
        "rma REML; robust(cluster=trial)",
    );
    at_rounding(
        "robust CR1",
        &[cr1.vb[0], cr1.df[0], cr1.stat[0]],
        &want[..3],
    );
    // robust(cluster=trial, clubSandwich=TRUE): CR2 vcov; Satterthwaite df; t
    let cr = cr2_sigma2([r.tau2, 0.0], &y, &v, &trial, &x, 1, 0.95).unwrap();
    let want = golden_row(
        &root,
        "test_misc_robust.r",
        "dat.bcg",
        "robust(cluster=trial, clubSandwich=TRUE) (CR2)",
    );
    at_rounding("robust CR2", &[cr.vb[0], cr.df[0], cr.stat[0]], &want);
}

#[test]
fn input_errors() {
    let y = [0.1, 0.2, 0.3, 0.4];
    let v = [0.01; 4];
    let x = [1.0; 4];
    // every study has one effect
    assert!(three_level(&y, &v, &[0, 1, 2, 3], &x, 1, Test::Z, 0.95).is_err());
    // a single study
    assert!(three_level(&y, &v, &[0, 0, 0, 0], &x, 1, Test::Z, 0.95).is_err());
    // length mismatch
    assert!(three_level(&y, &v, &[0, 0, 1], &x, 1, Test::Z, 0.95).is_err());
    // a non-positive sampling variance
    assert!(three_level(
        &y,
        &[0.01, 0.0, 0.01, 0.01],
        &[0, 0, 1, 1],
        &x,
        1,
        Test::Z,
        0.95
    )
    .is_err());
    let opts = ThreeLevelOptions {
        method: Method::Dl,
        ..Default::default()
    };
    assert!(three_level_with(&y, &v, &[0, 0, 1, 1], &x, 1, Test::Z, 0.95, &opts).is_err());
}
