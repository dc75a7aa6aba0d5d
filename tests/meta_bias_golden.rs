//! Golden values for the publication-bias and influence analyses
//! (`outcomes::stats::meta::{bias, influence}`).
//!
//! Sources of the numbers:
//! * `tests/reference/meta_bias_metafor.R` with its output
//!   `tests/reference/meta_bias_metafor.out` (metafor 3.8-1, metadat 1.2.0,
//!   R 4.2.2, 17 significant digits): `regtest()` (Egger et al. 1997, BMJ
//!   315:629; predictor "sei", model "rma") on dat.bcg (log RR; REML, DL +
//!   Knapp–Hartung, EE, REML with `mods = ~ ablat`) and dat.egger2001 (log
//!   OR; REML, DL at level 90); `trimfill()` (Duval & Tweedie 2000,
//!   Biometrics 56:455 and JASA 95:89) with the L0 and R0 estimators on
//!   dat.bcg (REML, DL), dat.hackshaw1998 (EE, REML; metafor's documented
//!   example is the EE fit) and dat.egger2001 (EE, REML), plus a forced
//!   side and test/level passed through to the filled model;
//!   `leave1out()` (Viechtbauer & Cheung 2010, Res Synth Methods 1:112) on
//!   dat.bcg (REML, DL, DL + Knapp–Hartung, EE) and dat.egger2001 (REML).
//!   Tolerances: fits whose τ² is closed-form (EE, DL) 1e-10 relative;
//!   iterative τ² (REML) 1e-6 relative; p-values 1e-8 relative (R's and
//!   statrs' tail functions); values whose reference is ~0 at 1e-12
//!   absolute; k₀, side and degrees of freedom exactly.
//! * `../shared/reference/metafor-golden.csv` (transcribed from metafor's
//!   own tests): `test_misc_pub_bias.r` regtest(rma REML) z on
//!   dat.egger2001, and from `test_misc_influence.r` the full-fit τ², QE
//!   and study 1's leave-one-out τ² and QE (`tau2.del`, `QE.del`), each at
//!   half a unit of its last printed decimal. The other values of that row
//!   (rstudent, dffits, cook.d, cov.r, hat, weight) belong to `influence()`
//!   and are not checked; the file has no trim-and-fill rows.
//!
//! Data: `../shared/datasets/metadat/*.csv`; every test prints
//! "skipped: ../shared is absent" when that folder has no datasets.

use outcomes::stats::meta::bias::{egger, trimfill, Estimator, Side};
use outcomes::stats::meta::influence::leave1out;
use outcomes::stats::meta::{rma, Method, Test};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn shared() -> Option<PathBuf> {
    let d = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"));
    if d.join("datasets/metadat").is_dir() {
        Some(d)
    } else {
        println!("skipped: ../shared is absent");
        None
    }
}

/// A CSV file as columns of strings, by header name.
struct Table {
    cols: BTreeMap<String, Vec<String>>,
}

impl Table {
    fn read(path: PathBuf) -> Table {
        let mut rdr = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
        let mut cols: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for rec in rdr.records() {
            let rec = rec.unwrap();
            for (h, v) in header.iter().zip(rec.iter()) {
                cols.entry(h.clone()).or_default().push(v.to_string());
            }
        }
        Table { cols }
    }
    fn str(&self, name: &str) -> &[String] {
        self.cols
            .get(name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }
    fn num(&self, name: &str) -> Vec<f64> {
        self.str(name)
            .iter()
            .map(|s| s.parse().unwrap_or_else(|_| panic!("{name}: {s:?}")))
            .collect()
    }
}

fn metadat(root: &Path, name: &str) -> Table {
    Table::read(root.join(format!("datasets/metadat/{name}.csv")))
}

/// Adds 1/2 to every cell of a table with a zero cell (metafor's `escalc`
/// default `add = 1/2, to = "only0"`).
fn cells(a: f64, b: f64, c: f64, d: f64) -> (f64, f64, f64, f64) {
    if a == 0.0 || b == 0.0 || c == 0.0 || d == 0.0 {
        (a + 0.5, b + 0.5, c + 0.5, d + 0.5)
    } else {
        (a, b, c, d)
    }
}

/// dat.bcg, escalc(measure = "RR"): yᵢ = log[(a/n₁)/(c/n₂)],
/// vᵢ = 1/a − 1/n₁ + 1/c − 1/n₂.
fn bcg(root: &Path) -> (Table, Vec<f64>, Vec<f64>) {
    let t = metadat(root, "dat.bcg");
    let (tp, tn, cp, cn) = (t.num("tpos"), t.num("tneg"), t.num("cpos"), t.num("cneg"));
    let (mut y, mut v) = (vec![], vec![]);
    for i in 0..tp.len() {
        let (a, b, c, d) = cells(tp[i], tn[i], cp[i], cn[i]);
        y.push(((a / (a + b)) / (c / (c + d))).ln());
        v.push(1.0 / a - 1.0 / (a + b) + 1.0 / c - 1.0 / (c + d));
    }
    (t, y, v)
}

/// dat.egger2001, escalc(measure = "OR", ai, n1i, ci, n2i).
fn egger2001(root: &Path) -> (Vec<f64>, Vec<f64>) {
    let t = metadat(root, "dat.egger2001");
    let (ai, n1, ci, n2) = (t.num("ai"), t.num("n1i"), t.num("ci"), t.num("n2i"));
    let (mut y, mut v) = (vec![], vec![]);
    for i in 0..ai.len() {
        let (a, b, c, d) = cells(ai[i], n1[i] - ai[i], ci[i], n2[i] - ci[i]);
        y.push((a * d / (b * c)).ln());
        v.push(1.0 / a + 1.0 / b + 1.0 / c + 1.0 / d);
    }
    (y, v)
}

/// dat.hackshaw1998: yᵢ = log(OR), vᵢ = [(log ub − log lb)/(2·z₀.₉₇₅)]²
/// (identical to metadat's stored yi/vi).
fn hackshaw1998(root: &Path) -> (Vec<f64>, Vec<f64>) {
    let t = metadat(root, "dat.hackshaw1998");
    let z = 1.959963984540054;
    let y = t.num("or").iter().map(|o| o.ln()).collect();
    let v = t
        .num("ci.lb")
        .iter()
        .zip(t.num("ci.ub"))
        .map(|(lb, ub)| ((ub.ln() - lb.ln()) / (2.0 * z)).powi(2))
        .collect();
    (y, v)
}

fn dataset(root: &Path, name: &str) -> (Vec<f64>, Vec<f64>) {
    match name {
        "bcg" => {
            let (_, y, v) = bcg(root);
            (y, v)
        }
        "egger2001" => egger2001(root),
        "hackshaw1998" => hackshaw1998(root),
        _ => panic!("unknown dataset {name}"),
    }
}

fn rel_diff(got: f64, want: f64) -> f64 {
    if got == want {
        0.0
    } else {
        (got - want).abs() / want.abs()
    }
}

/// Compares and records the largest relative differences.
#[derive(Default)]
struct Checker {
    failures: Vec<String>,
    max_closed: (f64, String),
    max_iter: (f64, String),
    max_p: (f64, String),
    n: usize,
}

impl Checker {
    /// `iterative`: the fit's τ² is iterative (REML); `pvalue`: a tail
    /// probability.
    fn check(&mut self, what: &str, got: f64, want: Option<f64>, iterative: bool, pvalue: bool) {
        self.n += 1;
        let Some(want) = want else {
            if !got.is_nan() {
                self.failures.push(format!("{what}: got {got:e}, want NA"));
            }
            return;
        };
        let tol = if iterative {
            1e-6
        } else if pvalue {
            1e-8
        } else {
            1e-10
        };
        let ok = if want.abs() < 1e-12 {
            (got - want).abs() < 1e-12
        } else {
            rel_diff(got, want) <= tol
        };
        if !ok {
            self.failures
                .push(format!("{what}: got {got:.17e}, want {want:.17e}"));
            return;
        }
        let d = if want.abs() < 1e-12 {
            0.0
        } else {
            rel_diff(got, want)
        };
        let slot = if iterative {
            &mut self.max_iter
        } else if pvalue {
            &mut self.max_p
        } else {
            &mut self.max_closed
        };
        if d > slot.0 {
            *slot = (d, what.to_string());
        }
    }

    fn check_all(
        &mut self,
        what: &str,
        got: &[f64],
        want: &[Option<f64>],
        iterative: bool,
        pvalue: bool,
    ) {
        if got.len() != want.len() {
            self.failures
                .push(format!("{what}: {} values, want {}", got.len(), want.len()));
            return;
        }
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            self.check(&format!("{what}[{i}]"), *g, *w, iterative, pvalue);
        }
    }

    fn exact(&mut self, what: &str, got: f64, want: &[Option<f64>]) {
        self.n += 1;
        if want != [Some(got)] {
            self.failures
                .push(format!("{what}: got {got}, want {want:?}"));
        }
    }
}

/// case -> quantity -> values (None = NA).
type Reference = BTreeMap<String, BTreeMap<String, Vec<Option<f64>>>>;

fn reference() -> Reference {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/meta_bias_metafor.out"
    ))
    .expect("tests/reference/meta_bias_metafor.out");
    let mut refs: Reference = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('|').collect();
        assert_eq!(f.len(), 3, "bad line {line:?}");
        let vals = f[2]
            .split(';')
            .map(str::trim)
            .map(|s| (s != "NA").then(|| s.parse::<f64>().unwrap()))
            .collect();
        refs.entry(f[0].into())
            .or_default()
            .insert(f[1].into(), vals);
    }
    refs
}

fn method(s: &str) -> Method {
    Method::parse(s).unwrap_or_else(|| panic!("method {s}"))
}

fn test_of(s: &str) -> Test {
    match s {
        "z" => Test::Z,
        "knha" => Test::Knha,
        _ => panic!("test {s}"),
    }
}

#[test]
fn metafor_reference_output() {
    let Some(root) = shared() else { return };
    let refs = reference();
    let mut c = Checker::default();
    let mut cases = [0usize; 3];
    for (case, q) in &refs {
        let parts: Vec<&str> = case.split('.').collect();
        let (y, v) = dataset(&root, parts[1]);
        let m = method(parts[2]);
        let it = m == Method::Reml;
        let get = |name: &str| {
            q.get(name)
                .unwrap_or_else(|| panic!("{case}: no {name}"))
                .as_slice()
        };
        match parts[0] {
            "egger" => {
                cases[0] += 1;
                let t = test_of(parts[3]);
                let level = if parts.get(4) == Some(&"level90") {
                    90.0
                } else {
                    95.0
                };
                let k = y.len();
                let (x, p) = if parts.get(4) == Some(&"ablat") {
                    let (tab, _, _) = bcg(&root);
                    let ab = tab.num("ablat");
                    (ab.iter().flat_map(|a| [1.0, *a]).collect(), 2)
                } else {
                    (vec![1.0; k], 1)
                };
                let e = egger(&y, &v, &x, p, m, t, level).unwrap();
                let w = |n: &str| format!("{case} {n}");
                c.check_all(&w("zval"), &[e.stat], get("zval"), it, false);
                c.check_all(&w("pval"), &[e.pval], get("pval"), it, true);
                let df = e.df.map_or(f64::NAN, |d| d as f64);
                if get("ddf")[0].is_some() {
                    c.exact(&w("ddf"), df, get("ddf"));
                } else {
                    assert!(df.is_nan(), "{case}: ddf");
                }
                c.check_all(&w("est"), &[e.limit_estimate], get("est"), it, false);
                c.check_all(&w("ci"), &e.limit_ci, get("ci"), it, false);
                c.check_all(&w("fit.beta"), &e.fit.beta, get("fit.beta"), it, false);
                c.check_all(&w("fit.se"), &e.fit.se, get("fit.se"), it, false);
                c.check_all(&w("fit.tau2"), &[e.fit.tau2], get("fit.tau2"), it, false);
                c.check_all(&w("slope"), &[e.slope], &get("fit.beta")[p..], it, false);
            }
            "trimfill" => {
                cases[1] += 1;
                let est = match parts[3] {
                    "L0" => Estimator::L0,
                    "R0" => Estimator::R0,
                    s => panic!("estimator {s}"),
                };
                let extra = parts.get(4).copied();
                let side = (extra == Some("right")).then_some(Side::Right);
                let (t, level) = if extra == Some("knha90") {
                    (Test::Knha, 0.90)
                } else {
                    (Test::Z, 0.95)
                };
                let r = trimfill(&y, &v, m, t, level, est, side).unwrap();
                let w = |n: &str| format!("{case} {n}");
                c.exact(&w("k0"), r.k0 as f64, get("k0"));
                let s = if r.side == Side::Left { 0.0 } else { 1.0 };
                c.exact(&w("side"), s, get("side"));
                c.exact(&w("k"), r.fit.k as f64, get("k"));
                // se.k0 and p.k0 depend on the iterates only through k0
                // and the ranks, so they are exact up to rounding
                c.check_all(
                    &w("se.k0"),
                    &[r.se_k0.unwrap_or(f64::NAN)],
                    get("se.k0"),
                    false,
                    false,
                );
                c.check_all(
                    &w("p.k0"),
                    &[r.p_k0.unwrap_or(f64::NAN)],
                    get("p.k0"),
                    false,
                    false,
                );
                c.check_all(&w("beta"), &r.fit.beta, get("beta"), it, false);
                c.check_all(&w("se"), &r.fit.se, get("se"), it, false);
                c.check_all(&w("zval"), &r.fit.stat, get("zval"), it, false);
                c.check_all(&w("pval"), &r.fit.pval, get("pval"), it, true);
                c.check_all(
                    &w("ci"),
                    &[r.fit.ci_lb[0], r.fit.ci_ub[0]],
                    get("ci"),
                    it,
                    false,
                );
                c.check_all(&w("tau2"), &[r.fit.tau2], get("tau2"), it, false);
                c.check_all(&w("QE"), &[r.fit.qe], get("QE"), it, false);
                c.check_all(&w("I2"), &[r.fit.i2], get("I2"), it, false);
                if r.k0 > 0 {
                    c.check_all(&w("filled.yi"), &r.filled_yi, get("filled.yi"), it, false);
                    c.check_all(
                        &w("filled.vi"),
                        &r.filled_vi,
                        get("filled.vi"),
                        false,
                        false,
                    );
                } else {
                    assert!(r.filled_yi.is_empty() && r.filled_vi.is_empty());
                    assert_eq!(get("filled.yi"), &[None]);
                }
            }
            "leave1out" => {
                cases[2] += 1;
                let t = test_of(parts[3]);
                let l = leave1out(&y, &v, m, t, 0.95).unwrap();
                assert_eq!(l.len(), y.len());
                let col = |f: fn(&outcomes::stats::meta::influence::LeaveOneOut) -> f64| {
                    l.iter().map(f).collect::<Vec<f64>>()
                };
                let w = |n: &str| format!("{case} {n}");
                c.check_all(
                    &w("estimate"),
                    &col(|r| r.estimate),
                    get("estimate"),
                    it,
                    false,
                );
                c.check_all(&w("se"), &col(|r| r.se), get("se"), it, false);
                c.check_all(&w("zval"), &col(|r| r.stat), get("zval"), it, false);
                c.check_all(&w("pval"), &col(|r| r.pval), get("pval"), it, true);
                c.check_all(&w("ci.lb"), &col(|r| r.ci_lb), get("ci.lb"), it, false);
                c.check_all(&w("ci.ub"), &col(|r| r.ci_ub), get("ci.ub"), it, false);
                // Q does not depend on τ²: closed form for every method
                c.check_all(&w("Q"), &col(|r| r.q), get("Q"), false, false);
                c.check_all(&w("Qp"), &col(|r| r.q_pval), get("Qp"), false, true);
                c.check_all(&w("tau2"), &col(|r| r.tau2), get("tau2"), it, false);
                c.check_all(&w("I2"), &col(|r| r.i2), get("I2"), it, false);
                c.check_all(&w("H2"), &col(|r| r.h2), get("H2"), it, false);
            }
            k => panic!("unknown analysis {k}"),
        }
    }
    assert_eq!(cases, [6, 15, 5], "egger, trimfill, leave1out cases");
    println!(
        "meta_bias_metafor.out: {} values; largest relative differences: closed form {:e} \
         ({}), iterative {:e} ({}), p-values {:e} ({})",
        c.n, c.max_closed.0, c.max_closed.1, c.max_iter.0, c.max_iter.1, c.max_p.0, c.max_p.1
    );
    assert!(
        c.failures.is_empty(),
        "{} failures:\n{}",
        c.failures.len(),
        c.failures.join("\n")
    );
}

/// A printed number and half a unit of its last decimal.
fn printed(s: &str) -> (f64, f64) {
    let s = s.trim();
    let v: f64 = s.parse().unwrap_or_else(|_| panic!("number {s:?}"));
    let dec = s.split('.').nth(1).map_or(0, str::len);
    (v, 0.5 * 10f64.powi(-(dec as i32)))
}

#[test]
fn metafor_golden_csv_rows() {
    let Some(root) = shared() else { return };
    let mut rdr = csv::Reader::from_path(root.join("reference/metafor-golden.csv")).unwrap();
    let mut checked = 0;
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let (file, call, expected) = (&rec[0], &rec[2], &rec[4]);
        match (file, call) {
            ("test_misc_pub_bias.r", "regtest(rma REML)") => {
                let (y, v) = egger2001(&root);
                let e = egger(&y, &v, &vec![1.0; y.len()], 1, Method::Reml, Test::Z, 0.95).unwrap();
                let (w, tol) = printed(expected);
                assert!((e.stat - w).abs() <= tol, "regtest z {} vs {w}", e.stat);
                checked += 1;
            }
            ("test_misc_influence.r", _) => {
                // "tau2; QE; study1: rstudent,dffits,cook.d,cov.r,tau2.del,QE.del,hat,weight"
                let parts: Vec<&str> = expected.split(';').collect();
                let study1: Vec<&str> = parts[2].split(',').collect();
                let (_, y, v) = bcg(&root);
                let f = rma(&y, &v, &vec![1.0; y.len()], 1, Method::Reml, Test::Z, 0.95).unwrap();
                let l = leave1out(&y, &v, Method::Reml, Test::Z, 0.95).unwrap();
                for (got, s) in [
                    (f.tau2, parts[0]),
                    (f.qe, parts[1]),
                    (l[0].tau2, study1[4]),
                    (l[0].q, study1[5]),
                ] {
                    let (w, tol) = printed(s);
                    assert!((got - w).abs() <= tol + 1e-12, "influence: {got} vs {s}");
                    checked += 1;
                }
            }
            _ => {}
        }
    }
    println!(
        "metafor-golden.csv: {checked} values checked (regtest z; tau2, QE, tau2.del, QE.del)"
    );
    assert_eq!(checked, 5);
}
