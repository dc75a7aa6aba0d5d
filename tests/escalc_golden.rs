//! Golden test of `outcomes::stats::escalc` against metafor.
//!
//! Where the numbers come from: `tests/reference/escalc_metafor.out`, written
//! by `Rscript tests/reference/escalc_metafor.R > tests/reference/escalc_metafor.out`
//! (run from the repository root) with R 4.2.2 Patched (2022-11-10 r83330) and
//! metafor 3.8-1 (metadat 1.2.0). The script runs `escalc()` for SMD, MD, SMCR,
//! SMCC, COR, ZCOR, OR, RR and RD on datasets in
//! `../shared/datasets/metadat/*.csv` (bcg, hine1989, egger2001, normand1999,
//! furukawa2003, mcdaniel1994, craft2003, cohen1981) and on small inline
//! tables (change scores; 2x2 tables with zero cells under `to = "only0"`,
//! `"all"`, `"if0all"`, `"none"`, `drop00`, `add = 0.25`) reproduced verbatim
//! below.
//!
//! Tolerance: all measures are closed forms, so yi and vi must agree to 1e-10
//! relative (exact equality for zeros), and `NA` in R must be `NaN` here.
//! Every line of the .out file must be checked.
//!
//! If `../shared` is absent the test prints "skipped: ../shared is absent".

use outcomes::stats::escalc::{escalc, AddTo, Effect, Inputs, Measure, Options};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const REL_TOL: f64 = 1e-10;

/// A plain comma CSV with a header (the metadat files have no quoted fields);
/// "NA" and empty fields are missing (NaN).
struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    fn read(path: &Path) -> Csv {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert!(!text.contains('"'), "{path:?} has quoted fields");
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
        let rows: Vec<Vec<String>> = lines
            .map(|l| l.split(',').map(|s| s.trim().to_string()).collect())
            .collect();
        for r in &rows {
            assert_eq!(r.len(), header.len(), "{path:?}: ragged row {r:?}");
        }
        Csv { header, rows }
    }

    fn num(&self, name: &str) -> Vec<f64> {
        let j = self
            .header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"));
        self.rows
            .iter()
            .map(|r| match r[j].as_str() {
                "NA" | "" => f64::NAN,
                s => s.parse().unwrap_or_else(|_| panic!("{name}: {s}")),
            })
            .collect()
    }
}

/// `(case, measure, row)` -> `(yi, vi)` from the .out file (NA -> NaN).
fn reference() -> HashMap<(String, String, usize), (f64, f64)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/escalc_metafor.out");
    let text = std::fs::read_to_string(&path).expect("escalc_metafor.out exists");
    let num = |s: &str| {
        if s == "NA" {
            f64::NAN
        } else {
            s.parse::<f64>().unwrap()
        }
    };
    let mut map = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 5, "bad line {line}");
        let key = (f[0].to_string(), f[1].to_string(), f[2].parse().unwrap());
        assert!(
            map.insert(key, (num(f[3]), num(f[4]))).is_none(),
            "dup {line}"
        );
    }
    map
}

fn rel_diff(got: f64, want: f64) -> f64 {
    if got.is_nan() && want.is_nan() {
        0.0
    } else if got.is_nan() || want.is_nan() {
        f64::INFINITY
    } else if got == want {
        0.0
    } else {
        (got - want).abs() / want.abs().max(f64::MIN_POSITIVE)
    }
}

struct Checker {
    reference: HashMap<(String, String, usize), (f64, f64)>,
    checked: usize,
    max_rel: f64,
    failures: Vec<String>,
}

impl Checker {
    fn check(&mut self, case: &str, measure: Measure, inputs: &Inputs, opts: &Options) {
        let got: Vec<Effect> = escalc(measure, inputs, opts)
            .unwrap_or_else(|e| panic!("{case} {}: {e}", measure.code()));
        for (i, e) in got.iter().enumerate() {
            let key = (case.to_string(), measure.code().to_string(), i + 1);
            let Some(&(yi, vi)) = self.reference.get(&key) else {
                panic!("no reference for {key:?}");
            };
            for (what, g, w) in [("yi", e.yi, yi), ("vi", e.vi, vi)] {
                let d = rel_diff(g, w);
                if d.is_finite() {
                    self.max_rel = self.max_rel.max(d);
                }
                if d > REL_TOL {
                    self.failures.push(format!(
                        "{key:?} {what}: got {g:e}, metafor {w:e} (rel {d:e})"
                    ));
                }
            }
            self.checked += 1;
        }
    }
}

fn table(ai: Vec<f64>, bi: Vec<f64>, ci: Vec<f64>, di: Vec<f64>) -> Inputs {
    Inputs {
        ai: Some(ai),
        bi: Some(bi),
        ci: Some(ci),
        di: Some(di),
        ..Inputs::default()
    }
}

/// ai, n1i, ci, n2i -> the 2x2 table (bi = n1i - ai, di = n2i - ci).
fn table_from_ns(c: &Csv) -> Inputs {
    let (ai, n1, ci, n2) = (c.num("ai"), c.num("n1i"), c.num("ci"), c.num("n2i"));
    let bi = ai.iter().zip(&n1).map(|(a, n)| n - a).collect();
    let di = ci.iter().zip(&n2).map(|(c, n)| n - c).collect();
    table(ai, bi, ci, di)
}

#[test]
fn escalc_matches_metafor() {
    let shared = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/datasets"));
    if !shared.is_dir() {
        println!("skipped: ../shared is absent");
        return;
    }
    let meta = shared.join("metadat");
    let read = |f: &str| Csv::read(&meta.join(f));
    let mut ck = Checker {
        reference: reference(),
        checked: 0,
        max_rel: 0.0,
        failures: Vec::new(),
    };
    let def = Options::default();
    let binary = [Measure::Or, Measure::Rr, Measure::Rd];

    // 2x2 tables from data.
    let bcg = read("dat.bcg.csv");
    let bcg_in = table(
        bcg.num("tpos"),
        bcg.num("tneg"),
        bcg.num("cpos"),
        bcg.num("cneg"),
    );
    let hine = table_from_ns(&read("dat.hine1989.csv"));
    let egger = table_from_ns(&read("dat.egger2001.csv"));
    for m in binary {
        ck.check("bcg", m, &bcg_in, &def);
        ck.check("hine1989", m, &hine, &def);
        ck.check("egger2001", m, &egger, &def);
    }

    // Inline zero-cell tables, as in the R script.
    let na = f64::NAN;
    let zero = table(
        vec![0.0, 0.0, 12.0, 3.0, 5.0, na],
        vec![10.0, 15.0, 0.0, 17.0, 5.0, 20.0],
        vec![5.0, 0.0, 9.0, 6.0, 0.0, 2.0],
        vec![5.0, 18.0, 0.0, 14.0, 10.0, 18.0],
    );
    let nozero = table(
        vec![3.0, 7.0],
        vec![17.0, 13.0],
        vec![6.0, 2.0],
        vec![14.0, 18.0],
    );
    let with = |to: AddTo, drop00: bool, add: f64| Options { add, to, drop00 };
    let zero_cases = [
        ("zero_only0", with(AddTo::Only0, false, 0.5)),
        ("zero_all", with(AddTo::All, false, 0.5)),
        ("zero_if0all", with(AddTo::If0All, false, 0.5)),
        ("zero_none", with(AddTo::None, false, 0.5)),
        ("zero_drop00", with(AddTo::Only0, true, 0.5)),
        ("zero_drop00_all", with(AddTo::All, true, 0.5)),
        ("zero_add0.25", with(AddTo::Only0, false, 0.25)),
    ];
    for m in binary {
        for (case, o) in &zero_cases {
            ck.check(case, m, &zero, o);
        }
        ck.check(
            "nozero_if0all",
            m,
            &nozero,
            &with(AddTo::If0All, false, 0.5),
        );
    }

    // Two independent groups.
    let normand = read("dat.normand1999.csv");
    let normand_in = Inputs {
        m1i: Some(normand.num("m1i")),
        sd1i: Some(normand.num("sd1i")),
        n1i: Some(normand.num("n1i")),
        m2i: Some(normand.num("m2i")),
        sd2i: Some(normand.num("sd2i")),
        n2i: Some(normand.num("n2i")),
        ..Inputs::default()
    };
    let fur = read("dat.furukawa2003.csv");
    let fur_in = Inputs {
        m1i: Some(fur.num("Me")),
        sd1i: Some(fur.num("Se")),
        n1i: Some(fur.num("Ne")),
        m2i: Some(fur.num("Mc")),
        sd2i: Some(fur.num("Sc")),
        n2i: Some(fur.num("Nc")),
        ..Inputs::default()
    };
    for m in [Measure::Smd, Measure::Md] {
        ck.check("normand1999", m, &normand_in, &def);
        ck.check("furukawa2003", m, &fur_in, &def);
    }

    // Correlations.
    for (case, file) in [
        ("mcdaniel1994", "dat.mcdaniel1994.csv"),
        ("craft2003", "dat.craft2003.csv"),
        ("cohen1981", "dat.cohen1981.csv"),
    ] {
        let c = read(file);
        let inp = Inputs {
            ri: Some(c.num("ri")),
            ni: Some(c.num("ni")),
            ..Inputs::default()
        };
        for m in [Measure::Cor, Measure::Zcor] {
            ck.check(case, m, &inp, &def);
        }
    }

    // Change scores, inline as in the R script (m1i post, m2i pre).
    let chg = Inputs {
        m1i: Some(vec![12.1, 30.5, 8.25, 101.0, 14.0, 22.0]),
        m2i: Some(vec![18.4, 26.0, 11.5, 96.5, 17.5, 25.0]),
        sd1i: Some(vec![5.2, 7.9, 3.1, 15.2, 4.4, 6.0]),
        sd2i: Some(vec![4.8, 8.4, 3.6, 14.1, 5.0, 5.5]),
        ni: Some(vec![25.0, 40.0, 12.0, 150.0, 3.0, 30.0]),
        ri: Some(vec![0.55, 0.72, 0.30, 0.85, -0.20, na]),
        ..Inputs::default()
    };
    for m in [Measure::Smcr, Measure::Smcc] {
        ck.check("change", m, &chg, &def);
    }

    println!(
        "escalc golden: {} studies checked, max relative difference to metafor {:e}",
        ck.checked, ck.max_rel
    );
    assert!(
        ck.failures.is_empty(),
        "{} mismatches:\n{}",
        ck.failures.len(),
        ck.failures.join("\n")
    );
    assert_eq!(
        ck.checked,
        ck.reference.len(),
        "every line of escalc_metafor.out must be checked"
    );
    let measures: std::collections::HashSet<&str> =
        ck.reference.keys().map(|k| k.1.as_str()).collect();
    for m in Measure::all() {
        assert!(
            measures.contains(m.code()),
            "{} not in the reference",
            m.code()
        );
    }
}
