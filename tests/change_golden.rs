//! Golden tests of the `change` statistics (src/stats/{effect,change,measures,
//! nhs,suppress}.rs) through the library API. Each test names where its
//! numbers come from and the tolerance it uses:
//!
//! * published values given to 4 decimals are checked to half a unit in the
//!   last published digit (5e-5);
//! * R-generated closed-form values (tests/reference/change_effect_sizes.R,
//!   its output committed as change_effect_sizes.out) to 1e-10 relative;
//! * counts and hand-computed integer arithmetic exactly.

use outcomes::stats::change::{
    cutoff_value, r_dd, rci_points, reliable_change, wilson, ChangeParams, CutoffSpec, Norms,
    RciMethod,
};
use outcomes::stats::effect::{
    compare, effect_sizes, effect_sizes_from_pairs, hedges_j, z_two_sided, Comparison, Direction,
    PrePost,
};
use outcomes::stats::measures::{benchmark, builtin, compare_benchmark};
use outcomes::stats::nhs::{nhs_metrics, NhsClient, NhsMeasures};
use outcomes::stats::suppress::{
    percent, suppress_count, suppress_row, suppress_statistic, suppress_table, Shown,
};
use std::collections::HashMap;
use std::path::PathBuf;

fn manifest(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Reads a fixture CSV: lines starting with `#` are comments, the first
/// other line is the header; returns the named numeric columns.
fn read_fixture(rel: &str, cols: &[&str]) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(manifest(rel)).expect("fixture exists");
    let mut lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let idx: Vec<usize> = cols
        .iter()
        .map(|c| header.iter().position(|h| h == c).expect("column"))
        .collect();
    let mut out = vec![Vec::new(); cols.len()];
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        for (k, &i) in idx.iter().enumerate() {
            out[k].push(f[i].trim().parse().unwrap());
        }
    }
    out
}

/// The R reference output: `name value` per line.
fn r_reference() -> HashMap<String, f64> {
    let text = std::fs::read_to_string(manifest("tests/reference/change_effect_sizes.out"))
        .expect("R output committed");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let mut it = l.split_whitespace();
            (
                it.next().unwrap().to_string(),
                it.next().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

fn close_rel(got: f64, want: f64, tol: f64, what: &str) {
    let err = if want == 0.0 {
        got.abs()
    } else {
        ((got - want) / want).abs()
    };
    assert!(
        err <= tol,
        "{what}: got {got:.17}, want {want:.17} (rel err {err:e})"
    );
}

fn close_abs(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got:.10}, want {want} (tol {tol})"
    );
}

fn some(v: &[f64]) -> Vec<Option<f64>> {
    v.iter().copied().map(Some).collect()
}

// ---------------------------------------------------------------------------
// Reliable change points

#[test]
fn rci_points_golden_vector() {
    // science.md §3: S1 = 7.5, r = .80, z = qnorm(.975) → 9.296925484568419 (1e-12).
    let p = rci_points(7.5, 0.80, z_two_sided(95.0));
    close_abs(p, 9.296925484568419, 1e-12, "RCI points");
    // And R's own value (change_effect_sizes.out).
    close_rel(
        p,
        r_reference()["rci_points.7.5.0.8"],
        1e-13,
        "RCI points vs R",
    );
}

// ---------------------------------------------------------------------------
// Jacobson & Truax (1991), Table 2: 30 couples, DAS, higher = better, r = .84

fn das() -> (Vec<f64>, Vec<f64>) {
    let c = read_fixture(
        "tests/fixtures/change/jacobson_truax_1991_das.csv",
        &["pre", "post"],
    );
    (c[0].clone(), c[1].clone())
}

#[test]
fn jacobson_truax_1991_table_2() {
    let (pre, post) = das();
    assert_eq!(pre.len(), 30);
    let mut p = ChangeParams::new(RciMethod::JT, 0.84, Direction::HigherBetter);
    p.cutoff = Some(CutoffSpec::A);
    let r = reliable_change(&some(&pre), &some(&post), &p).unwrap();
    // Published (J&T 1991, Table 2 and text): M1 81.5833, S1 11.8257, S_diff 6.6896,
    // 1.96 S_diff 13.11, cut-off a 105.2347. 4-decimal values to 5e-5; 13.11 to 5e-3.
    close_abs(r.stats.pre.mean, 81.5833, 5e-5, "M1");
    close_abs(r.stats.pre.sd, 11.8257, 5e-5, "S1");
    close_abs(r.rci.sdiff, 6.6896, 5e-5, "S_diff");
    close_abs(r.rci.threshold, 13.11, 5e-3, "1.96 S_diff");
    let cut = r.cutoff.as_ref().unwrap();
    assert_eq!(cut.kind, "a");
    close_abs(cut.value, 105.2347, 5e-5, "cut-off a");
    // Categories: recovered 10, improved 8, unchanged 11, deteriorated 1 (exact).
    let c = &r.categories;
    assert_eq!(c.n, 30);
    assert_eq!(c.counts.recovered, Some(10));
    assert_eq!(c.counts.improved, 8);
    assert_eq!(c.counts.unchanged, 11);
    assert_eq!(c.counts.deteriorated, 1);
    assert_eq!(c.counts.harmed, Some(0));
    // Rates and Wilson intervals: 10/30 against R's prop.test(10, 30, correct = FALSE).
    let refs = r_reference();
    close_abs(c.rates.recovered.unwrap(), 1.0 / 3.0, 1e-15, "rate");
    let ci = c.rate_ci.recovered.unwrap();
    close_rel(ci.ci_lb, refs["wilson.10.30.lb"], 1e-10, "Wilson lb");
    close_rel(ci.ci_ub, refs["wilson.10.30.ub"], 1e-10, "Wilson ub");
    let ci = c.rate_ci.improved;
    close_rel(ci.ci_lb, refs["wilson.8.30.lb"], 1e-10, "Wilson lb 8/30");
    close_rel(ci.ci_ub, refs["wilson.8.30.ub"], 1e-10, "Wilson ub 8/30");
    // Echoed conventions.
    assert_eq!(r.rci.comparison, ">");
    assert!(!r.rci.one_sided);
    assert_eq!(r.excluded.total(), 0);
}

// ---------------------------------------------------------------------------
// The 40-patient HAMD trial (Claus et al. 2020 via clinicalsignificance's
// claus_2020, pre = time 1, post = time 4): lower = better, r = .80, α = .05.

fn hamd() -> (Vec<f64>, Vec<f64>) {
    let c = read_fixture(
        "tests/fixtures/change/claus_2020_hamd.csv",
        &["pre", "post"],
    );
    (c[0].clone(), c[1].clone())
}

fn hamd_counts(method: RciMethod, cutoff: Option<CutoffSpec>, r_post: Option<f64>) -> [usize; 5] {
    let (pre, post) = hamd();
    let mut p = ChangeParams::new(method, 0.80, Direction::LowerBetter);
    p.cutoff = cutoff;
    p.norms = Some(Norms { mean: 8.0, sd: 8.0 });
    p.reliability_post = r_post;
    let r = reliable_change(&some(&pre), &some(&post), &p).unwrap();
    let c = r.categories.counts;
    [
        c.recovered.unwrap_or(0),
        c.improved,
        c.unchanged,
        c.deteriorated,
        c.harmed.unwrap_or(0),
    ]
}

#[test]
fn hamd_summary_statistics_and_thresholds() {
    let (pre, post) = hamd();
    assert_eq!(pre.len(), 40);
    let p = ChangeParams::new(RciMethod::JT, 0.80, Direction::LowerBetter);
    let r = reliable_change(&some(&pre), &some(&post), &p).unwrap();
    // science.md §3: M1 24.85, S1 3.3401, M2 14.975, S2 7.7111, r12 .1631 (to the published digit).
    close_abs(r.stats.pre.mean, 24.85, 5e-5, "M1");
    close_abs(r.stats.pre.sd, 3.3401, 5e-5, "S1");
    close_abs(r.stats.post.mean, 14.975, 5e-5, "M2");
    close_abs(r.stats.post.sd, 7.7111, 5e-5, "S2");
    close_abs(r.stats.r_pre_post, 0.1631, 5e-5, "r12");
    // S_diff 2.1125, threshold 4.1404.
    close_abs(r.rci.sdiff, 2.1125, 5e-5, "S_diff");
    close_abs(r.rci.threshold, 4.1404, 5e-5, "threshold");
    // r_dd .9283 (Hageman & Arrindell).
    let s = &r.stats;
    close_abs(
        r_dd(s.pre.sd, s.post.sd, s.r_pre_post, 0.80),
        0.9283,
        5e-5,
        "r_dd",
    );
    // c with functional M0 = 8, S0 = 8: 19.8870.
    let c = cutoff_value(
        CutoffSpec::C,
        s.pre.mean,
        s.pre.sd,
        Some(Norms { mean: 8.0, sd: 8.0 }),
        Direction::LowerBetter,
    )
    .unwrap();
    close_abs(c, 19.8870, 5e-5, "cut-off c");
}

#[test]
fn hamd_categories_by_method() {
    // science.md §3 (improved / unchanged / deteriorated), identical to the
    // clinicalsignificance snapshots tests/testthat/_snaps/cs_distribution.md.
    let [_, i, u, d, _] = hamd_counts(RciMethod::JT, None, None);
    assert_eq!((i, u, d), (29, 10, 1), "JT");
    let [_, i, u, d, _] = hamd_counts(RciMethod::EN, None, None);
    assert_eq!((i, u, d), (32, 5, 3), "EN");
    let [_, i, u, d, _] = hamd_counts(RciMethod::GLN, None, None);
    assert_eq!((i, u, d), (29, 10, 1), "GLN");
    let [_, i, u, d, _] = hamd_counts(RciMethod::HLL, None, None);
    assert_eq!((i, u, d), (12, 16, 12), "HLL");
    let [_, i, u, d, _] = hamd_counts(RciMethod::HA, None, None);
    assert_eq!((i, u, d), (32, 7, 1), "HA");
    // NK with reliability at post .5: 28 / 11 / 1 (clinicalsignificance snapshot).
    let [_, i, u, d, _] = hamd_counts(RciMethod::NK, None, Some(0.5));
    assert_eq!((i, u, d), (28, 11, 1), "NK");
}

#[test]
fn hamd_combined_with_cutoff_c() {
    // science.md §3: JT combined with c (M0 = 8, S0 = 8): recovered 26,
    // improved 3, unchanged 10, deteriorated 1 (harmed 0).
    assert_eq!(
        hamd_counts(RciMethod::JT, Some(CutoffSpec::C), None),
        [26, 3, 10, 1, 0]
    );
    // The other combined results of clinicalsignificance's cs_combined.md snapshot:
    assert_eq!(
        hamd_counts(RciMethod::GLN, Some(CutoffSpec::C), None),
        [26, 3, 10, 1, 0]
    );
    assert_eq!(
        hamd_counts(RciMethod::EN, Some(CutoffSpec::C), None),
        [26, 6, 5, 3, 0]
    );
    // HLL: one reliable deterioration crosses into the clinical range (harmed).
    assert_eq!(
        hamd_counts(RciMethod::HLL, Some(CutoffSpec::C), None),
        [12, 0, 16, 11, 1]
    );
    assert_eq!(
        hamd_counts(RciMethod::NK, Some(CutoffSpec::C), Some(0.5)),
        [26, 2, 11, 1, 0]
    );
}

#[test]
fn ha_is_one_sided() {
    let (pre, post) = hamd();
    let p = ChangeParams::new(RciMethod::HA, 0.80, Direction::LowerBetter);
    let r = reliable_change(&some(&pre), &some(&post), &p).unwrap();
    assert!(r.rci.one_sided);
    // R: qnorm(.95) = 1.6448536269514715
    close_rel(r.rci.z, r_reference()["qnorm.95"], 1e-14, "HA z");
    close_abs(r.rci.r_dd.unwrap(), 0.9283, 5e-5, "r_dd echoed");
}

#[test]
fn cutoff_b_uses_functional_sd() {
    // J&T 1991: b = M0 − 2 S0 (higher better); the functional SD, not S1.
    let b = cutoff_value(
        CutoffSpec::B,
        81.5833,
        11.8257,
        Some(Norms {
            mean: 114.8,
            sd: 9.0,
        }),
        Direction::HigherBetter,
    )
    .unwrap();
    assert_eq!(b, 114.8 - 18.0);
    // Lower is better flips the side: b = M0 + 2 S0; a = M1 − 2 S1.
    let b = cutoff_value(
        CutoffSpec::B,
        24.85,
        3.3401,
        Some(Norms { mean: 8.0, sd: 8.0 }),
        Direction::LowerBetter,
    )
    .unwrap();
    assert_eq!(b, 24.0);
    let a = cutoff_value(CutoffSpec::A, 24.85, 3.5, None, Direction::LowerBetter).unwrap();
    assert_eq!(a, 17.85);
    // b and c without norms are input errors (exit 2).
    let e = cutoff_value(CutoffSpec::C, 1.0, 1.0, None, Direction::LowerBetter).unwrap_err();
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn strict_threshold() {
    // The comparison is strict: an index exactly at the critical value is unchanged.
    use outcomes::stats::change::reliable;
    let z = z_two_sided(95.0);
    assert_eq!(reliable(z, z), (false, false));
    assert_eq!(reliable(-z, z), (false, false));
    // On data: pre = [10, 12, 14] has S1 = 2; r = .5 gives S_diff = 2 (to rounding)
    // and a threshold of 2z points. A fall 1e-9 short of it is not reliable,
    // a fall 1e-9 beyond it is.
    let p = ChangeParams::new(RciMethod::JT, 0.5, Direction::LowerBetter);
    let pre = [Some(10.0), Some(12.0), Some(14.0)];
    let probe = reliable_change(&pre, &pre, &p).unwrap();
    let t = probe.rci.threshold;
    close_abs(t, 2.0 * z, 1e-14, "threshold 2z");
    let post = [Some(10.0 - (t - 1e-9)), Some(12.0 - (t + 1e-9)), Some(14.0)];
    // Post scores change S2 and r12 but not the JT threshold (S1 and r_xx only).
    let r = reliable_change(&pre, &post, &p).unwrap();
    assert_eq!(r.rci.threshold, t);
    assert!(
        !r.people[0].reliable_improvement,
        "index {}",
        r.people[0].index
    );
    assert!(
        r.people[1].reliable_improvement,
        "index {}",
        r.people[1].index
    );
    assert_eq!(r.categories.counts.improved, 1);
    assert_eq!(r.categories.counts.unchanged, 2);
}

#[test]
fn json_uses_the_contract_keys() {
    // contract.md, "outcomes change": n, pre/post {mean, sd}, r_pre_post;
    // rci {method, reliability, z, sdiff, threshold}; cutoff {type, value};
    // categories with counts and rates.
    let (pre, post) = hamd();
    let mut p = ChangeParams::new(RciMethod::JT, 0.80, Direction::LowerBetter);
    p.cutoff = Some(CutoffSpec::C);
    p.norms = Some(Norms { mean: 8.0, sd: 8.0 });
    let r = reliable_change(&some(&pre), &some(&post), &p).unwrap();
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["n"], 40);
    assert_eq!(j["pre"]["mean"], 24.85);
    assert!(j["post"]["sd"].is_number());
    assert!(j["r_pre_post"].is_number());
    assert_eq!(j["rci"]["method"], "JT");
    assert_eq!(j["rci"]["reliability"], 0.8);
    for k in ["z", "sdiff", "threshold"] {
        assert!(j["rci"][k].is_number(), "rci.{k}");
    }
    assert_eq!(j["rci"]["comparison"], ">");
    assert_eq!(j["cutoff"]["type"], "c");
    assert!(j["cutoff"]["value"].is_number());
    assert_eq!(j["categories"]["recovered"], 26);
    assert_eq!(j["categories"]["harmed"], 0);
    assert_eq!(j["categories"]["rates"]["recovered"], 0.65);
    assert!(j["categories"]["rate_ci"]["improved"]["ci_lb"].is_number());
    assert_eq!(j["params"]["direction"], "lower");
    assert_eq!(j["params"]["cutoff"], "c");
    assert_eq!(j["params"]["level"], 95.0);
    // Effect sizes serialise as {estimate, variance, ci_lb, ci_ub}.
    let (_, es) = effect_sizes_from_pairs(&pre, &post, Direction::LowerBetter, 95.0).unwrap();
    let e = serde_json::to_value(es).unwrap();
    for k in ["d_pre", "g_pre", "d_av", "d_z", "d_rm"] {
        for f in ["estimate", "variance", "ci_lb", "ci_ub"] {
            assert!(e[k][f].is_number(), "{k}.{f}");
        }
    }
    // Without a cut-off, recovered and harmed are absent.
    let p = ChangeParams::new(RciMethod::JT, 0.80, Direction::LowerBetter);
    let r = reliable_change(&some(&pre), &some(&post), &p).unwrap();
    let j = serde_json::to_value(&r).unwrap();
    assert!(j["categories"].get("recovered").is_none());
    assert!(j["categories"].get("harmed").is_none());
    assert!(j.get("cutoff").is_none());
}

#[test]
fn exclusions_by_reason() {
    let pre = [
        Some(10.0),
        Some(12.0),
        None,
        Some(16.0),
        None,
        Some(f64::NAN),
        Some(20.0),
    ];
    let post = [
        Some(8.0),
        Some(9.0),
        Some(3.0),
        None,
        None,
        Some(4.0),
        Some(11.0),
    ];
    let p = ChangeParams::new(RciMethod::JT, 0.8, Direction::LowerBetter);
    let r = reliable_change(&pre, &post, &p).unwrap();
    assert_eq!(r.n(), 3);
    assert_eq!(r.excluded.missing_pre, 2); // rows 2 and 5 (NaN counts as missing)
    assert_eq!(r.excluded.missing_post, 1); // row 3
    assert_eq!(r.excluded.missing_both, 1); // row 4
    let rows: Vec<usize> = r.excluded.rows.iter().map(|&(i, _)| i).collect();
    assert_eq!(rows, vec![2, 3, 4, 5]);
    let kept: Vec<usize> = r.people.iter().map(|p| p.row).collect();
    assert_eq!(kept, vec![0, 1, 6]);
    let j = serde_json::to_value(&r.excluded).unwrap();
    assert_eq!(
        j,
        serde_json::json!({"missing_pre": 2, "missing_post": 1, "missing_both": 1})
    );
}

#[test]
fn bad_input_errors() {
    let pre = some(&[10.0, 12.0, 14.0]);
    let post = some(&[8.0, 9.0, 13.0]);
    for rel in [0.0, 1.0, -0.2, 1.5, f64::NAN] {
        let p = ChangeParams::new(RciMethod::JT, rel, Direction::LowerBetter);
        assert_eq!(
            reliable_change(&pre, &post, &p).unwrap_err().exit_code(),
            2,
            "reliability {rel}"
        );
    }
    let p = ChangeParams::new(RciMethod::JT, 0.8, Direction::LowerBetter);
    // Fewer than 2 paired cases: analysis error (exit 3).
    let e = reliable_change(&[Some(1.0), None], &[Some(2.0), Some(3.0)], &p).unwrap_err();
    assert_eq!(e.exit_code(), 3);
    // Zero pre SD: exit 3.
    let e = reliable_change(&some(&[5.0, 5.0, 5.0]), &post, &p).unwrap_err();
    assert_eq!(e.exit_code(), 3);
    // Missing norms for c: exit 2.
    let mut pc = p.clone();
    pc.cutoff = Some(CutoffSpec::C);
    assert_eq!(
        reliable_change(&pre, &post, &pc).unwrap_err().exit_code(),
        2
    );
    // Effect sizes from pairs: zero pre SD and n < 2 are exit 3.
    let e = effect_sizes_from_pairs(&[1.0, 1.0], &[2.0, 3.0], Direction::LowerBetter, 95.0)
        .unwrap_err();
    assert_eq!(e.exit_code(), 3);
    let e = effect_sizes_from_pairs(&[1.0], &[2.0], Direction::LowerBetter, 95.0).unwrap_err();
    assert_eq!(e.exit_code(), 3);
    // Level out of range: exit 2.
    let e = effect_sizes_from_pairs(&[1.0, 2.0], &[2.0, 3.0], Direction::LowerBetter, 100.0)
        .unwrap_err();
    assert_eq!(e.exit_code(), 2);
}

// ---------------------------------------------------------------------------
// metafor SMCR: Morris (2008) rows of ../shared/reference/metafor-golden.csv

const MORRIS_T: [(f64, f64, f64, f64, usize, f64); 5] = [
    // (m_pre, m_post, sd_pre, sd_post, n, r)
    (30.6, 38.5, 15.0, 11.6, 20, 0.47),
    (23.5, 26.8, 3.1, 4.1, 50, 0.64),
    (0.5, 0.7, 0.1, 0.1, 9, 0.77),
    (53.4, 75.9, 14.5, 4.4, 10, 0.89),
    (35.6, 36.0, 4.7, 4.6, 14, 0.44),
];
const MORRIS_C: [(f64, f64, f64, f64, usize, f64); 5] = [
    (23.1, 19.7, 13.8, 14.8, 20, 0.47),
    (24.9, 25.3, 4.1, 3.3, 42, 0.64),
    (0.6, 0.6, 0.2, 0.2, 9, 0.77),
    (55.7, 60.7, 17.3, 17.9, 11, 0.89),
    (34.8, 33.4, 3.1, 6.9, 14, 0.44),
];

fn smcr(rows: &[(f64, f64, f64, f64, usize, f64)]) -> Vec<(f64, f64)> {
    rows.iter()
        .map(|&(m1, m2, s1, s2, n, r)| {
            // m1i = post, m2i = pre, sd1i = pre SD: higher = "better" keeps metafor's sign.
            let s = PrePost::from_summary(m1, s1, m2, s2, r, n);
            let g = effect_sizes(&s, Direction::HigherBetter, 95.0).g_pre;
            (g.estimate, g.variance)
        })
        .collect()
}

#[test]
fn metafor_smcr_morris_2008() {
    // metafor-golden.csv, test_analysis_example_morris2008.r (4 decimals):
    // T-group yi 0.5056,1.0481,1.8054,1.4181,0.0801; vi 0.0594,0.0254,0.2322,0.1225,0.0802
    let golden_yi = [0.5056, 1.0481, 1.8054, 1.4181, 0.0801];
    let golden_vi = [0.0594, 0.0254, 0.2322, 0.1225, 0.0802];
    let t = smcr(&MORRIS_T);
    let c = smcr(&MORRIS_C);
    for k in 0..5 {
        close_abs(t[k].0, golden_yi[k], 5e-5, "SMCR yi (4 dp)");
        close_abs(t[k].1, golden_vi[k], 5e-5, "SMCR vi (4 dp)");
    }
    // SMCR T minus C, Morris 2008 Table 5 (4 dp): 0.7421,0.9524,1.8054,1.1514,0.5050
    let diff = [0.7421, 0.9524, 1.8054, 1.1514, 0.5050];
    for k in 0..5 {
        close_abs(t[k].0 - c[k].0, diff[k], 5e-5, "SMCR T - C");
    }
    // Full precision from metafor 3.8-1 (change_effect_sizes.out), 1e-6
    // relative as required; the arithmetic agrees far more closely (1e-12),
    // the residue being ln Γ rounding.
    let refs = r_reference();
    for (grp, v) in [("T", &t), ("C", &c)] {
        for k in 0..5 {
            let yi = refs[&format!("morris2008.{grp}{}.yi", k + 1)];
            let vi = refs[&format!("morris2008.{grp}{}.vi", k + 1)];
            close_rel(v[k].0, yi, 1e-12, "SMCR yi vs metafor");
            close_rel(v[k].1, vi, 1e-12, "SMCR vi vs metafor");
            close_rel(v[k].0, yi, 1e-6, "SMCR yi vs metafor (1e-6)");
        }
    }
}

#[test]
fn exact_j_is_metafors_cmicalc() {
    // metafor .cmicalc(m) = exp(lgamma(m/2) - log(sqrt(m/2)) - lgamma((m-1)/2)).
    // For n = 20 (m = 19): g/d of the first Morris T row.
    let s = PrePost::from_summary(30.6, 15.0, 38.5, 11.6, 0.47, 20);
    let e = effect_sizes(&s, Direction::HigherBetter, 95.0);
    close_rel(
        e.g_pre.estimate / e.d_pre.estimate,
        hedges_j(19.0),
        1e-15,
        "J",
    );
}

// ---------------------------------------------------------------------------
// R-generated d_pre, g_pre, d_av, d_z, d_rm with variances and CIs

const R_PRE: [f64; 12] = [18., 22., 15., 12., 20., 17., 25., 14., 19., 16., 21., 13.];
const R_POST: [f64; 12] = [9., 14., 12., 11., 6., 10., 18., 5., 15., 8., 20., 7.];

#[test]
fn effect_sizes_match_r() {
    let refs = r_reference();
    for level in [95.0, 90.0] {
        let (s, es) =
            effect_sizes_from_pairs(&R_PRE, &R_POST, Direction::LowerBetter, level).unwrap();
        close_rel(s.pre.mean, refs["m1"], 1e-14, "m1");
        close_rel(s.pre.sd, refs["s1"], 1e-13, "s1");
        close_rel(s.post.sd, refs["s2"], 1e-13, "s2");
        close_rel(s.r_pre_post, refs["r"], 1e-12, "r");
        let all = [
            ("d_pre", es.d_pre),
            ("g_pre", es.g_pre),
            ("d_av", es.d_av),
            ("d_z", es.d_z),
            ("d_rm", es.d_rm),
        ];
        let lv = level as i32;
        for (name, e) in all {
            // Closed forms: 1e-10 relative.
            close_rel(e.estimate, refs[&format!("{name}.estimate")], 1e-10, name);
            close_rel(e.variance, refs[&format!("{name}.variance")], 1e-10, name);
            close_rel(e.ci_lb, refs[&format!("{name}.ci_lb.{lv}")], 1e-10, name);
            close_rel(e.ci_ub, refs[&format!("{name}.ci_ub.{lv}")], 1e-10, name);
            assert!(
                e.estimate > 0.0,
                "{name}: a fall on a lower-is-better scale is positive"
            );
        }
    }
    // d_z agrees with metafor's SMCC divided by its J.
    let (_, es) = effect_sizes_from_pairs(&R_PRE, &R_POST, Direction::LowerBetter, 95.0).unwrap();
    close_rel(
        es.d_z.estimate,
        refs["smcc_yi_over_J"],
        1e-10,
        "d_z vs SMCC/J",
    );
}

#[test]
fn wilson_intervals_match_r() {
    let refs = r_reference();
    for (x, n) in [(10, 30), (8, 30), (0, 12), (12, 12), (29, 40)] {
        let w = wilson(x, n, 95.0);
        let lb = refs[&format!("wilson.{x}.{n}.lb")];
        let ub = refs[&format!("wilson.{x}.{n}.ub")];
        close_abs(w.ci_lb, lb, 1e-12, "Wilson lb");
        close_abs(w.ci_ub, ub, 1e-12, "Wilson ub");
    }
}

// ---------------------------------------------------------------------------
// Instruments and benchmarks

#[test]
fn builtin_instruments() {
    let phq = builtin("phq-9").unwrap();
    assert_eq!((phq.min, phq.max), (0.0, 27.0));
    assert_eq!(phq.direction, Direction::LowerBetter);
    assert_eq!(phq.reliability, Some(0.89));
    assert_eq!(phq.cutoff, Some(10.0));
    assert_eq!(phq.rc_points, Some(6.0));
    let gad = builtin("GAD7").unwrap();
    assert_eq!(
        (gad.max, gad.reliability, gad.cutoff, gad.rc_points),
        (21.0, Some(0.92), Some(8.0), Some(4.0))
    );
    let core10 = builtin("CORE-10").unwrap();
    assert_eq!(
        (
            core10.max,
            core10.reliability,
            core10.cutoff,
            core10.rc_points
        ),
        (40.0, Some(0.90), Some(11.0), Some(6.0))
    );
    let oq = builtin("OQ-45").unwrap();
    assert_eq!(
        (oq.max, oq.cutoff, oq.rc_points),
        (180.0, Some(64.0), Some(14.0))
    );
    let ors = builtin("ORS").unwrap();
    assert_eq!(ors.direction, Direction::HigherBetter);
    assert_eq!((ors.cutoff, ors.rc_points), (Some(25.0), Some(5.0)));
    let wem = builtin("wemwbs").unwrap();
    assert_eq!(
        (wem.min, wem.max, wem.direction),
        (14.0, 70.0, Direction::HigherBetter)
    );
    assert_eq!(builtin("WSAS").unwrap().reliability, None);
    assert!(builtin("HAMD").is_none());
    // Out-of-range values are reported with their positions.
    let bad = phq.check_range(&[Some(3.0), Some(28.0), None, Some(-1.0), Some(27.0)]);
    assert_eq!(bad, vec![(1, 28.0), (3, -1.0)]);
    // JT points for the PHQ-9 with S1 = 5 and α = .89: 1.96·5·√2·√.11.
    let pts = rci_points(5.0, phq.reliability.unwrap(), z_two_sided(95.0));
    close_abs(
        pts,
        1.959963984540054 * 5.0 * (2.0f64 * 0.11).sqrt(),
        1e-12,
        "PHQ-9 points",
    );
}

#[test]
fn benchmark_comparison() {
    let b = benchmark("delgadillo-phq9").unwrap();
    assert_eq!(
        b.levels,
        vec![("high", 0.91), ("average", 0.73), ("poor", 0.46)]
    );
    let g = benchmark("delgadillo-gad7").unwrap();
    assert_eq!(
        g.levels,
        vec![("high", 1.02), ("average", 0.78), ("poor", 0.52)]
    );
    // The R example's g_pre: 1.5239 [0.7490, 2.2988] at 95%.
    let (_, es) = effect_sizes_from_pairs(&R_PRE, &R_POST, Direction::LowerBetter, 95.0).unwrap();
    let c = compare_benchmark(&es.g_pre, &b);
    assert_eq!(c[0].2, Comparison::Within); // 0.91 lies inside [0.749, 2.299]
    assert_eq!(c[1].2, Comparison::Above); // 0.73 lies below the lower bound 0.749
    assert_eq!(c[2].2, Comparison::Above); // 0.46 too
                                           // Above / below are decided by the interval bounds only.
    assert_eq!(compare(&es.g_pre, 2.30), Comparison::Below);
    assert_eq!(compare(&es.g_pre, 2.29), Comparison::Within);
}

// ---------------------------------------------------------------------------
// NHS Talking Therapies: a hand-checked example of 12 clients

fn client(p: (f64, Option<f64>), g: (f64, Option<f64>), s: Option<u32>) -> NhsClient {
    NhsClient {
        phq9_first: Some(p.0),
        phq9_last: p.1,
        gad7_first: Some(g.0),
        gad7_last: g.1,
        sessions: s,
    }
}

fn nhs_example() -> Vec<NhsClient> {
    vec![
        // 1: case (PHQ 15); last 5 / 4 → recovered; PHQ −10 → improved; reliable recovery.
        client((15., Some(5.)), (12., Some(4.)), Some(6)),
        // 2: case (PHQ 12); last 8 / 5 → recovered; PHQ −4, GAD −1 → not reliable.
        client((12., Some(8.)), (6., Some(5.)), Some(4)),
        // 3: case by GAD only (10 ≥ 8); last 3 / 3 → recovered; PHQ −6 → improved; RR.
        client((9., Some(3.)), (10., Some(3.)), Some(5)),
        // 4: not at caseness (8 < 10, 6 < 8); no reliable change.
        client((8., Some(9.)), (6., Some(7.)), Some(3)),
        // 5: case; last PHQ 14 ≥ 10 → not recovered; PHQ −6, GAD −5 → improved.
        client((20., Some(14.)), (15., Some(10.)), Some(8)),
        // 6: case; GAD +4 → reliable deterioration.
        client((14., Some(16.)), (9., Some(13.)), Some(6)),
        // 7: case; PHQ −9 but GAD +5 → deterioration, so not "reliable improvement";
        //    last GAD 12 → not recovered.
        client((18., Some(9.)), (7., Some(12.)), Some(7)),
        // 8: case exactly at both thresholds (10, 8); last 9 / 7 → recovered;
        //    finished with exactly 2 sessions; no reliable change.
        client((10., Some(9.)), (8., Some(7.)), Some(2)),
        // 9: one session → not finished.
        client((16., Some(4.)), (11., Some(2.)), Some(1)),
        // 10: finished but no last GAD-7 → finished_missing_scores.
        client((13., Some(6.)), (9., None), Some(5)),
        // 11: sessions unknown → missing_sessions.
        client((11., Some(5.)), (8., Some(3.)), None),
        // 12: not at caseness (5, 3); PHQ +6 and GAD +6 → reliable deterioration.
        client((5., Some(11.)), (3., Some(9.)), Some(4)),
    ]
}

#[test]
fn nhs_talking_therapies_hand_checked() {
    let r = nhs_metrics(&nhs_example(), 95.0).unwrap();
    assert_eq!(r.measures, NhsMeasures::Both);
    assert!(r.official);
    assert_eq!(r.clients, 12);
    assert_eq!(r.missing_sessions, 1); // client 11
    assert_eq!(r.not_finished, 1); // client 9
    assert_eq!(r.finished_missing_scores, 1); // client 10
                                              // Finished with paired scores: 12 − 3 = 9 (clients 1-8, 12).
    assert_eq!(r.finished, 9);
    // At caseness: 1, 2, 3, 5, 6, 7, 8 = 7; not at caseness: 4, 12 = 2.
    assert_eq!(r.finished_at_caseness, 7);
    assert_eq!(r.finished_not_at_caseness, 2);
    // Recovery: clients 1, 2, 3, 8 → 4 / (9 − 2) = 4/7.
    assert_eq!((r.recovery.numerator, r.recovery.denominator), (4, 7));
    close_abs(r.recovery.rate.unwrap(), 4.0 / 7.0, 1e-15, "recovery rate");
    // Reliable improvement: 1, 3, 5 (7 deteriorated on GAD-7) → 3/9.
    assert_eq!(
        (
            r.reliable_improvement.numerator,
            r.reliable_improvement.denominator
        ),
        (3, 9)
    );
    // Reliable recovery: recovered and reliably improved: 1, 3 → 2/7.
    assert_eq!(
        (
            r.reliable_recovery.numerator,
            r.reliable_recovery.denominator
        ),
        (2, 7)
    );
    // Reliable deterioration: 6, 7, 12 → 3/9.
    assert_eq!(
        (
            r.reliable_deterioration.numerator,
            r.reliable_deterioration.denominator
        ),
        (3, 9)
    );
    // Effect sizes over the 9 finished clients.
    // PHQ-9 first: 15,12,9,8,20,14,18,10,5 (sum 111, mean 37/3); last sum 84 (mean 28/3);
    // Σx² = 1559, SS = 1559 − 111²/9 = 190, SD = √(190/8) = √23.75;
    // ES = 3/√23.75 = 6/√95.
    let phq = &r.effect_sizes[0];
    assert_eq!((phq.measure, phq.n), ("PHQ-9", 9));
    close_abs(phq.mean_first, 37.0 / 3.0, 1e-13, "PHQ mean first");
    close_abs(phq.mean_last, 28.0 / 3.0, 1e-13, "PHQ mean last");
    close_abs(phq.sd_first, 23.75f64.sqrt(), 1e-13, "PHQ SD first");
    close_abs(phq.estimate.unwrap(), 6.0 / 95f64.sqrt(), 1e-13, "PHQ ES");
    // GAD-7 first: 12,6,10,6,15,9,7,8,3 (sum 76); last: 4,5,3,7,10,13,12,7,9 (sum 70);
    // SS = 744 − 76²/9 = 920/9, var = 115/9; ES = (6/9)/√(115/9) = 2/√115.
    let gad = &r.effect_sizes[1];
    assert_eq!((gad.measure, gad.n), ("GAD-7", 9));
    close_abs(gad.estimate.unwrap(), 2.0 / 115f64.sqrt(), 1e-13, "GAD ES");
    // Wilson interval of the recovery rate, 4/7, against the closed form.
    let w = wilson(4, 7, 95.0);
    assert_eq!(r.recovery.ci_lb, Some(w.ci_lb));
}

#[test]
fn nhs_phq9_only_path() {
    // Without GAD-7 scores the same definitions are applied to the PHQ-9 alone.
    let clients: Vec<NhsClient> = nhs_example()
        .into_iter()
        .map(|c| NhsClient {
            gad7_first: None,
            gad7_last: None,
            ..c
        })
        .collect();
    let r = nhs_metrics(&clients, 95.0).unwrap();
    assert_eq!(r.measures, NhsMeasures::Phq9Only);
    assert!(!r.official);
    assert_eq!(r.measures_used, vec!["PHQ-9"]);
    // Client 10 now has paired PHQ-9 scores: finished = 10 (1-8, 10, 12).
    assert_eq!(r.finished, 10);
    assert_eq!(r.finished_missing_scores, 0);
    // Caseness PHQ ≥ 10: 1, 2, 5, 6, 7, 8, 10 = 7 (3 is 9: not a case on PHQ alone).
    assert_eq!(r.finished_at_caseness, 7);
    // Recovered (last < 10): 1 (5), 2 (8), 7 (9), 8 (9), 10 (6) = 5.
    assert_eq!((r.recovery.numerator, r.recovery.denominator), (5, 7));
    // Improved (fall ≥ 6): 1, 3, 5, 7, 10 = 5 of 10; deteriorated (rise ≥ 6): 12.
    assert_eq!(r.reliable_improvement.numerator, 5);
    assert_eq!(r.reliable_deterioration.numerator, 1);
    // Reliable recovery: recovered and improved: 1, 7, 10 = 3 of 7.
    assert_eq!(r.reliable_recovery.numerator, 3);
}

// ---------------------------------------------------------------------------
// Small-number suppression (science.md §6)

#[test]
fn primary_suppression_and_rounding() {
    let shown: Vec<Shown> = [0, 1, 7, 8, 12, 13, 22, 103]
        .iter()
        .map(|&n| suppress_count(n))
        .collect();
    assert_eq!(
        shown,
        vec![
            Shown::Count(0),
            Shown::Suppressed,
            Shown::Suppressed,
            Shown::Count(10),
            Shown::Count(10),
            Shown::Count(15),
            Shown::Count(20),
            Shown::Count(105),
        ]
    );
    // Percentages from the rounded counts: 13 of 38 → 15 of 40 = 37.5%.
    assert_eq!(percent(suppress_count(13), suppress_count(38)), Some(37.5));
    assert_eq!(percent(suppress_count(5), suppress_count(38)), None);
    // Means of 1-7 people are suppressed.
    assert_eq!(suppress_statistic(12.4, 7), None);
    assert_eq!(suppress_statistic(12.4, 8), Some(12.4));
}

#[test]
fn secondary_suppression_in_a_row() {
    // Recovered 3, improved 12, unchanged 20 (total 35): the total would reveal
    // the 3, so the next smallest (12) is suppressed as well.
    let r = suppress_row(&[3, 12, 20]);
    assert_eq!(
        r.cells,
        vec![Shown::Suppressed, Shown::Suppressed, Shown::Count(20)]
    );
    assert_eq!(r.total, Shown::Count(35));
    assert_eq!(r.secondary, vec![1]);
    // Two primary cells protect each other: no secondary suppression.
    let r = suppress_row(&[3, 5, 20]);
    assert!(r.secondary.is_empty());
    // A small total is itself suppressed, and then nothing needs protecting.
    let r = suppress_row(&[2, 3]);
    assert_eq!(r.total, Shown::Suppressed);
    assert!(r.secondary.is_empty());
    // Zeros are passed over while a non-zero cell is available.
    let r = suppress_row(&[4, 0, 9, 30]);
    assert_eq!(r.secondary, vec![2]);
    assert_eq!(r.cells[1], Shown::Count(0));
}

#[test]
fn secondary_suppression_in_a_table() {
    // Rows = therapists, columns = categories, with row and column totals.
    //   [ 3, 12, 20 | 35 ]
    //   [ 9, 15, 30 | 54 ]
    //   [12, 27, 50 | 89 ]
    // Primary: (0,0). Row 0 → (0,1); column 0 → (1,0); column 1 → (1,1).
    let t = suppress_table(&[vec![3, 12, 20], vec![9, 15, 30]], true, true);
    use Shown::{Count, Suppressed};
    assert_eq!(
        t.cells,
        vec![
            vec![Suppressed, Suppressed, Count(20)],
            vec![Suppressed, Suppressed, Count(30)]
        ]
    );
    assert_eq!(t.primary, vec![(0, 0)]);
    assert_eq!(t.secondary, vec![(0, 1), (1, 0), (1, 1)]);
    assert_eq!(t.row_totals, Some(vec![Count(35), Count(55)]));
    assert_eq!(t.col_totals, Some(vec![Count(10), Count(25), Count(50)]));
    assert_eq!(t.grand_total, Some(Count(90)));

    // A small row total is suppressed, and the column of row totals then
    // needs a second suppressed total: [[2, 3], [20, 30]].
    let t = suppress_table(&[vec![2, 3], vec![20, 30]], true, true);
    assert_eq!(t.primary, vec![(0, 0), (0, 1)]);
    assert_eq!(t.secondary, vec![(1, 0), (1, 1)]);
    assert_eq!(t.suppressed_row_totals, vec![0, 1]);
    assert_eq!(t.col_totals, Some(vec![Count(20), Count(35)]));
    assert_eq!(t.grand_total, Some(Count(55)));
    // JSON shows "*" for suppressed cells.
    let j = serde_json::to_value(&t).unwrap();
    assert_eq!(j["cells"][0][0], "*");
    assert_eq!(j["col_totals"][1], 35);
}
