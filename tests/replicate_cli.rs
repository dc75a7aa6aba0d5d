//! `outcomes replicate`: every built-in claim has a test here.
//!
//! - Conversion claims (science.md §1 / Wampold 2015 Table 1): expected
//!   values are computed in this file from the formulas r = d/√(d² + 4),
//!   d = 2r/√(1 − r²), % = 100 r², r = √ICC (Rosenthal 1994), to 1e-12.
//! - Claims recomputed from data: metafor 3.8-1 and clubSandwich 0.5.8 on R
//!   4.2.2 (tests/reference/replicate_metafor.R, printed in
//!   replicate_metafor.out), to 1e-6 relative (they need ../shared and say
//!   they are skipped without it).
//! - Therapist effects: the same number `outcomes variance` gives.

mod common;
use common::*;
use serde_json::Value;

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-12)
}

fn claim<'a>(j: &'a Value, id: &str) -> &'a Value {
    j["claims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no claim {id}"))
}

fn f(c: &Value, k: &str) -> f64 {
    c[k].as_f64().unwrap_or_else(|| panic!("{k} of {c}"))
}

fn d_of_r(r: f64) -> f64 {
    2.0 * r / (1.0 - r * r).sqrt()
}
fn pct_of_r(r: f64) -> f64 {
    100.0 * r * r
}
fn pct_of_d(d: f64) -> f64 {
    pct_of_r(d / (d * d + 4.0).sqrt())
}

/// The conversion claims: value, and the interval the rounding of the
/// published statistic allows (half a unit in its last printed decimal).
#[test]
fn conversion_claims() {
    let j = json(&["replicate", "--format", "json"]);
    assert_eq!(j["command"], "replicate");
    for k in ["version", "input", "claims", "summary", "level"] {
        assert!(j.get(k).is_some(), "missing {k}");
    }
    type Conv = fn(f64) -> f64;
    let rows: &[(&str, Conv, f64, f64, &str)] = &[
        ("alliance-d", d_of_r, 0.275, 0.0005, "replicated"),
        ("alliance-pct", pct_of_r, 0.275, 0.0005, "replicated"),
        ("empathy-d", d_of_r, 0.30, 0.005, "replicated"),
        ("empathy-pct", pct_of_r, 0.30, 0.005, "replicated"),
        ("expectations-d", d_of_r, 0.12, 0.005, "replicated"),
        ("expectations-pct", pct_of_r, 0.12, 0.005, "replicated"),
        (
            "cultural-adaptation-pct",
            pct_of_d,
            0.32,
            0.005,
            "replicated",
        ),
        (
            "therapist-effects-d",
            |icc: f64| d_of_r(icc.sqrt()),
            0.07,
            0.005,
            "replicated",
        ),
        (
            "therapist-effects-pct",
            |icc: f64| 100.0 * icc,
            0.07,
            0.005,
            "replicated",
        ),
        (
            "specific-ingredients-pct",
            pct_of_d,
            0.01,
            0.005,
            "replicated",
        ),
        ("adherence-d", d_of_r, 0.02, 0.005, "replicated"),
        ("adherence-pct", pct_of_r, 0.02, 0.005, "replicated"),
        ("competence-d", d_of_r, 0.07, 0.005, "replicated"),
        ("competence-pct", pct_of_r, 0.07, 0.005, "replicated"),
    ];
    for &(id, conv, x, h, verdict) in rows {
        let c = claim(&j, id);
        assert_eq!(c["verdict"], verdict, "{id}: {}", c["reason"]);
        assert_eq!(c["rule"], "rounding", "{id}");
        assert!(close(f(c, "recomputed"), conv(x), 1e-12), "{id}");
        assert!(close(f(c, "ci_lb"), conv(x - h), 1e-12), "{id}");
        assert!(close(f(c, "ci_ub"), conv(x + h), 1e-12), "{id}");
        for k in [
            "id",
            "source",
            "claim",
            "reason",
            "statement",
            "computation",
        ] {
            assert!(c[k].as_str().is_some_and(|s| !s.is_empty()), "{id}: {k}");
        }
    }
    // Flückiger et al. 2018: r = .278 [.256, .299] → 7.73% [6.55, 8.94]
    let c = claim(&j, "alliance-fluckiger-2018");
    assert_eq!(c["verdict"], "replicated");
    assert_eq!(c["rule"], "inside-ci");
    assert!(close(f(c, "recomputed"), pct_of_r(0.278), 1e-12));
    assert!(close(f(c, "ci_lb"), pct_of_r(0.256), 1e-12));
    assert!(close(f(c, "ci_ub"), pct_of_r(0.299), 1e-12));
    // a bound: d < 0.20 stands for [0, 0.205), i.e. [0, 1.04)%; shown as printed
    let c = claim(&j, "treatment-differences-pct");
    assert_eq!(c["claim"], "< 1.0");
    assert_eq!(c["verdict"], "replicated");
    assert!(close(f(c, "recomputed"), pct_of_d(0.20), 1e-12));
    assert_eq!(f(c, "ci_lb"), 0.0);
    assert!(close(f(c, "ci_ub"), pct_of_d(0.205), 1e-12));
    // unverified figures say so
    assert!(claim(&j, "empathy-pct")["reason"]
        .as_str()
        .unwrap()
        .contains("secondary summary"));
    // Lambert's pie: a judgement
    let c = claim(&j, "lambert-1992-pie");
    assert_eq!(c["verdict"], "not computable");
    assert!(c["recomputed"].is_null() && c["ci_lb"].is_null());
    assert!(c["reason"].as_str().unwrap().contains("judgement"));
}

/// Without --data-dir the data claims say what they need; nothing fails.
#[test]
fn absent_data_are_named() {
    let j = json(&[
        "replicate",
        "--format",
        "json",
        "--only",
        "depression-overall-g,cbt-components-lopez-2019,therapist-effects-5pct",
    ]);
    assert_eq!(j["claims"].as_array().unwrap().len(), 3);
    for id in ["depression-overall-g", "cbt-components-lopez-2019"] {
        let c = claim(&j, id);
        assert_eq!(c["verdict"], "not computable");
        assert!(
            c["reason"].as_str().unwrap().contains("--data-dir"),
            "{}",
            c["reason"]
        );
        assert!(
            c["computation"].as_str().unwrap().contains("DATA_DIR/"),
            "{}",
            c["computation"]
        );
    }
    let c = claim(&j, "therapist-effects-5pct");
    assert_eq!(c["verdict"], "not computable");
    assert!(c["reason"].as_str().unwrap().contains("--clients"));
    let dir = tempdir("replicate-empty");
    let j = json(&[
        "replicate",
        "--format",
        "json",
        "--only",
        "depression-overall-g",
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    let c = claim(&j, "depression-overall-g");
    assert!(
        c["reason"].as_str().unwrap().contains("was not found"),
        "{}",
        c["reason"]
    );
    assert_eq!(j["summary"]["not_computable"], 1);
}

/// The claims recomputed from the Metapsy depression database and
/// dat.lopez2019, against tests/reference/replicate_metafor.out.
#[test]
fn data_claims_match_metafor() {
    let Some(shared) = shared() else { return };
    let dd = shared.join("datasets");
    let j = json(&["replicate", "--format", "json", "--data-dir", dd.to_str().unwrap(),
        "--only", "depression-overall-g,depression-type-dodo-bird,cbt-components-lopez-2019,techniques-7pct-zarbo-2016"]);
    // rma.mv(.g, .g_se^2, random = ~ 1 | study/es) with conf_int(vcov = "CR2")
    let c = claim(&j, "depression-overall-g");
    assert!(close(f(c, "recomputed"), 0.734918653479, 1e-6));
    assert!(close(f(c, "ci_lb"), 0.675960489057, 1e-6));
    assert!(close(f(c, "ci_ub"), 0.793876817900, 1e-6));
    assert_eq!(c["verdict"], "replicated"); // 0.70 lies inside
    assert!(c["data"]["sha256"].as_str().unwrap().len() == 64);
    assert!(c["computation"]
        .as_str()
        .unwrap()
        .starts_with("outcomes meta "));
    // rma(mods = ~ condition_arm1, test = "knha") among waitlist trials:
    // F(8, 388) = 1.87518231442, p = 0.0624972420128, R² = 3.09242972162
    let c = claim(&j, "depression-type-dodo-bird");
    assert!(close(f(c, "recomputed"), 3.09242972162, 1e-6));
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .contains("F(8, 388) = 1.88, p = .062"),
        "{}",
        c["reason"]
    );
    // the claim's note: the verdict depends on the test (QM 16.58693 with z tests)
    assert!(c["reason"]
        .as_str()
        .unwrap()
        .contains("QM(8) = 16.59, p = .035"));
    assert_eq!(c["verdict"], "replicated");
    // López-López et al.: F(11, 89) = 1.02877434112, p = 0.428327841973, R² = 0
    let c = claim(&j, "cbt-components-lopez-2019");
    assert_eq!(f(c, "recomputed"), 0.0);
    assert!(
        c["reason"]
            .as_str()
            .unwrap()
            .contains("F(11, 89) = 1.03, p = .428"),
        "{}",
        c["reason"]
    );
    assert_eq!(c["verdict"], "replicated");
    // subgroup models per therapy type, σ²_B = 0.0121912798577 → 1.20444426862%
    let c = claim(&j, "techniques-7pct-zarbo-2016");
    assert!(close(f(c, "recomputed"), 1.20444426862, 1e-6));
    assert!(c["reason"].as_str().unwrap().contains("σ²_B = 0.0122"));
    assert!(f(c, "ci_lb") < f(c, "recomputed") && f(c, "recomputed") < f(c, "ci_ub"));
    assert!(f(c, "ci_ub") < 6.5, "the interval excludes the printed 7");
    assert_eq!(c["verdict"], "not replicated");
    // the same seed gives the same interval
    let again = json(&[
        "replicate",
        "--format",
        "json",
        "--data-dir",
        dd.to_str().unwrap(),
        "--only",
        "techniques-7pct-zarbo-2016",
    ]);
    assert_eq!(
        claim(&again, "techniques-7pct-zarbo-2016")["ci_ub"],
        c["ci_ub"]
    );
}

/// Therapist effects: the null-model ICC and its bootstrap interval are the
/// ones `outcomes variance` reports; on the demo data they are labelled an
/// illustration; with --clients they are computed on the user's file.
#[test]
fn therapist_effects_on_client_data() {
    let j = json(&[
        "replicate",
        "--format",
        "json",
        "--bootstrap",
        "200",
        "--only",
        "therapist-effects-5pct-demo",
    ]);
    let c = claim(&j, "therapist-effects-5pct-demo");
    let v = json(&[
        "variance",
        "--format",
        "json",
        "--bootstrap",
        "200",
        "--seed",
        "1",
    ]);
    assert!(close(
        f(c, "recomputed"),
        100.0 * v["icc"]["null"]["therapist"].as_f64().unwrap(),
        1e-12
    ));
    assert!(close(
        f(c, "ci_lb"),
        100.0 * v["icc"]["null_ci"]["therapist"][0].as_f64().unwrap(),
        1e-12
    ));
    assert_eq!(c["illustration"], true);
    assert!(c["reason"]
        .as_str()
        .unwrap()
        .starts_with("Illustration on the bundled simulated demo data"));
    let inside = f(c, "ci_lb") <= 5.5 && f(c, "ci_ub") >= 4.5;
    assert_eq!(
        c["verdict"],
        if inside {
            "replicated"
        } else {
            "not replicated"
        }
    );

    let dir = tempdir("replicate-clients");
    let sim = dir.join("clinic.csv");
    let o = run(&["simulate", "--seed", "3", "-o", sim.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j = json(&[
        "replicate",
        "--format",
        "json",
        "--bootstrap",
        "100",
        "--only",
        "therapist-effects-5pct",
        "--clients",
        sim.to_str().unwrap(),
    ]);
    let c = claim(&j, "therapist-effects-5pct");
    assert_eq!(c["illustration"], false);
    assert_ne!(c["verdict"], "not computable", "{}", c["reason"]);
    let v = json(&[
        "variance",
        sim.to_str().unwrap(),
        "--format",
        "json",
        "--bootstrap",
        "100",
        "--seed",
        "1",
    ]);
    assert!(close(
        f(c, "recomputed"),
        100.0 * v["icc"]["null"]["therapist"].as_f64().unwrap(),
        1e-12
    ));
    assert_eq!(c["data"]["sha256"], v["input"]["sha256"]);
    // roles given by flags, as `outcomes report` prints the command
    let j = json(&[
        "replicate",
        "--format",
        "json",
        "--bootstrap",
        "100",
        "--only",
        "therapist-effects-5pct",
        "--clients",
        sim.to_str().unwrap(),
        "--therapist",
        "therapist",
        "--post",
        "post",
        "--where",
        "site != 'S01'",
    ]);
    let c = claim(&j, "therapist-effects-5pct");
    assert_ne!(c["verdict"], "not computable", "{}", c["reason"]);
    assert!(c["computation"].as_str().unwrap().contains("--where"));
}

/// A user's claims file: a dataset beside it, every kind of computation,
/// table and CSV output.
#[test]
fn user_claims_file() {
    let dir = tempdir("replicate-user");
    write(&dir, "es.csv", b"study,yi,vi,type\na,0.5,0.04,x\nb,0.7,0.05,x\nc,0.2,0.03,y\nd,0.9,0.06,y\ne,0.4,0.02,x\nf,0.6,0.05,y\n");
    let claims = write(
        &dir,
        "claims.toml",
        "
[[claim]]
id = \"pooled\"
source = \"A. Author (2020). A paper. Journal, 1, 1-2.\"
statement = \"The pooled effect is 0.50.\"
quantity = \"g\"
published = \"0.50\"
[claim.compute]
kind = \"meta\"
dataset = \"es.csv\"
yi = \"yi\"
vi = \"vi\"
estimate = \"pooled\"

[[claim]]
id = \"far-off\"
source = \"B. Author (2021).\"
statement = \"The pooled effect is 2.\"
quantity = \"g\"
published = 2.0
[claim.compute]
kind = \"meta\"
dataset = \"es.csv\"
yi = \"yi\"
vi = \"vi\"
estimate = \"pooled\"

[[claim]]
id = \"r-to-d\"
source = \"C. Author (2022).\"
statement = \"r = .50 is d = 1.15.\"
quantity = \"d\"
published = \"1.15\"
[claim.compute]
kind = \"conversion\"
from = \"r\"
value = \"0.50\"
"
        .as_bytes(),
    );
    let j = json(&["replicate", &claims, "--format", "json"]);
    let m = json(&[
        "meta",
        dir.join("es.csv").to_str().unwrap(),
        "--yi",
        "yi",
        "--vi",
        "vi",
        "--format",
        "json",
    ]);
    let c = claim(&j, "pooled");
    assert!(close(
        f(c, "recomputed"),
        m["estimate"].as_f64().unwrap(),
        1e-12
    ));
    assert!(close(f(c, "ci_lb"), m["ci_lb"].as_f64().unwrap(), 1e-12));
    assert_eq!(c["verdict"], "replicated");
    assert_eq!(claim(&j, "far-off")["verdict"], "not replicated");
    // r = .50 → d = 1.1547; r ∈ [.495, .505] → d ∈ [1.1385, 1.1712]: replicated
    let c = claim(&j, "r-to-d");
    assert!(close(f(c, "recomputed"), d_of_r(0.5), 1e-12));
    assert_eq!(c["verdict"], "replicated");
    assert_eq!(j["input"]["path"], claims.as_str());
    assert_eq!(j["summary"]["replicated"], 2);

    let o = run(&["replicate", &claims]);
    assert_eq!(o.status.code(), Some(0));
    let t = stdout(&o);
    assert!(
        t.contains("far-off")
            && t.contains("NOT REPLICATED")
            && t.contains("2 replicated, 1 not replicated, 0 not computable"),
        "{t}"
    );
    let png = dir.join("replication.png");
    let o = run(&["replicate", &claims, "--plot", png.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    let o = run(&["replicate", &claims, "--format", "csv"]);
    let t = stdout(&o);
    assert!(
        t.starts_with("id,source,claim,recomputed,ci_lb,ci_ub,verdict,reason"),
        "{t}"
    );
    assert_eq!(t.lines().count(), 4);
}

/// Bad claims files and arguments: exit 2, a message naming the problem.
#[test]
fn bad_input() {
    let dir = tempdir("replicate-bad");
    let cases: &[(&str, &str)] = &[
        ("[[claim]]\nid = \"x\"\n", "not a valid claims file"),
        ("[[claim]]\nid = \"Bad Id\"\nsource = \"s\"\nstatement = \"t\"\nquantity = \"pct\"\npublished = \"1\"\n[claim.compute]\nkind = \"not-computable\"\nreason = \"r\"\n", "claim 'Bad Id'"),
        ("[[claim]]\nid = \"x\"\nsource = \"s\"\nstatement = \"t\"\nquantity = \"pct\"\npublished = \"about seven\"\n[claim.compute]\nkind = \"not-computable\"\nreason = \"r\"\n", "published"),
        ("not toml at all [", "not a valid claims file"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let p = write(&dir, &format!("c{i}.toml"), text.as_bytes());
        let o = run(&["replicate", &p]);
        assert_eq!(o.status.code(), Some(2), "{text}");
        let e = stderr(&o);
        assert!(e.contains(want) && e.contains(&p), "{e}");
        assert!(!e.contains("panicked"));
    }
    let o = run(&["replicate", "--only", "no-such-claim"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no claim 'no-such-claim'"));
    let o = run(&["replicate", "--data-dir", "/no/such/folder"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["replicate", "--clients", "/no/such/file.csv"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["replicate", "/no/such/claims.toml"]);
    assert_eq!(o.status.code(), Some(2));
    // the printed registry is itself a valid claims file
    let o = run(&["replicate", "--registry"]);
    let p = write(&dir, "registry.toml", &o.stdout);
    let j = json(&["replicate", &p, "--format", "json", "--only", "alliance-d"]);
    assert_eq!(claim(&j, "alliance-d")["verdict"], "replicated");
}
