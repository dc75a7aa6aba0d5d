//! `outcomes lmm` through the binary. Golden values: lme4 1.1.31 on R 4.2.2
//! with a tightened BOBYQA (tests/reference/lmm_demo.R, printed output in
//! lmm_demo.out), fitted to the bundled demo data. Tolerances: objectives
//! 1e-9 relative (issue 4 asks 1e-6); parameters (variance components, fixed
//! effects, SEs) 1e-5 relative (issue 4 asks 1e-4). Both optimisers work from
//! function values only; near the optimum the objective is flat, and a small
//! variance component (site, θ ≈ 0.1) is determined by function values to
//! about 1e-6 relative, so 1e-6 on parameters would test rounding noise.

mod common;
use common::*;
use serde_json::Value;

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-12)
}

fn fixed(j: &Value, term: &str) -> (f64, f64) {
    let f = j["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["term"] == term)
        .unwrap_or_else(|| panic!("no fixed effect {term}"));
    (f["estimate"].as_f64().unwrap(), f["se"].as_f64().unwrap())
}

fn variance(j: &Value, group: &str) -> f64 {
    j["random"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["group"] == group && c.get("variance").is_some())
        .unwrap_or_else(|| panic!("no variance for {group}"))["variance"]
        .as_f64()
        .unwrap()
}

#[test]
fn demo_crossed_therapist_and_site_matches_lme4_reml_and_ml() {
    let f = "post ~ pre + technique + (1 | therapist) + (1 | site)";
    let j = json(&["lmm", "--formula", f, "--format", "json"]);
    assert_eq!(j["command"], "lmm");
    assert_eq!(j["method"], "REML");
    assert_eq!(j["n"], 3928);
    assert_eq!(j["input"]["rows_used"], 3928);
    assert_eq!(
        j["excluded"][0]["rows"], 1072,
        "dropouts have no post score"
    );
    assert_eq!(j["groups"]["therapist"], 80);
    assert_eq!(j["groups"]["site"], 8);
    let (obj, rel) = (1e-9, 1e-5);
    assert!(
        close(j["objective"].as_f64().unwrap(), 24302.7008457667, obj),
        "{}",
        j["objective"]
    );
    assert!(close(variance(&j, "therapist"), 1.85512703316869, rel));
    assert!(close(variance(&j, "site"), 0.443882620321055, rel));
    assert!(close(
        j["residual"]["variance"].as_f64().unwrap(),
        27.594878860439,
        rel
    ));
    for (term, est, se) in [
        ("(Intercept)", 2.07857487015922, 0.431235409682479),
        ("pre", 0.46070232929925, 0.016917220856842),
        ("techniqueIPT", -0.4805914386974, 0.262841230384534),
        ("techniquePCE", 0.21474161594063, 0.273509399733781),
        ("techniquePDT", 0.200761010999361, 0.25823184328274),
    ] {
        let (e, s) = fixed(&j, term);
        assert!(close(e, est, rel), "{term}: {e} vs {est}");
        assert!(close(s, se, rel), "{term} se: {s} vs {se}");
    }
    assert_eq!(j["singular"], false);

    let j = json(&["lmm", "--formula", f, "--ml", "--format", "json"]);
    assert_eq!(j["method"], "ML");
    assert!(
        close(j["objective"].as_f64().unwrap(), 24292.550267302, obj),
        "{}",
        j["objective"]
    );
    assert!(close(variance(&j, "site"), 0.357049211654348, rel));
}

#[test]
fn demo_nested_sites_and_therapists_match_lme4() {
    let j = json(&[
        "lmm",
        "--formula",
        "post ~ pre + alliance + (1 | site/therapist)",
        "--format",
        "json",
    ]);
    let (obj, rel) = (1e-9, 1e-5);
    assert!(
        close(j["objective"].as_f64().unwrap(), 24138.7434592698, obj),
        "{}",
        j["objective"]
    );
    assert!(close(variance(&j, "therapist:site"), 1.04151478968482, rel));
    assert!(close(variance(&j, "site"), 0.249137802272477, rel));
    let (e, s) = fixed(&j, "alliance");
    assert!(close(e, -2.03634285477872, rel) && close(s, 0.15047093416848, rel));
    let j = json(&[
        "lmm",
        "--formula",
        "post ~ 1 + (1 | therapist)",
        "--format",
        "json",
    ]);
    assert!(close(
        j["objective"].as_f64().unwrap(),
        24986.9329464388,
        obj
    ));
    assert!(close(variance(&j, "therapist"), 2.26834894020481, rel));
}

#[test]
fn table_output_reads_like_summary_lmer_and_ranef_is_available() {
    let Some(shared) = shared() else { return };
    let p = shared.join("datasets/lme4/sleepstudy.csv");
    let o = run(&[
        "lmm",
        p.to_str().unwrap(),
        "--formula",
        "Reaction ~ Days + (Days | Subject)",
        "--ranef",
    ]);
    // 'Subject' is recognised as the client column: listing its random
    // effects lists client IDs, which needs --allow-identifiers.
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--ranef would list every client ID of 'Subject'"));
    let o = run(&[
        "lmm",
        p.to_str().unwrap(),
        "--formula",
        "Reaction ~ Days + (Days | Subject)",
        "--ranef",
        "--allow-identifiers",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.contains("REML criterion at convergence: 1743.628"), "{s}");
    assert!(
        s.contains("Random effects:") && s.contains("Fixed effects:"),
        "{s}"
    );
    assert!(s.contains("Conditional modes of Subject"), "{s}");
    let j = json(&[
        "lmm",
        p.to_str().unwrap(),
        "--formula",
        "Reaction ~ Days + (Days | Subject)",
        "--ranef",
        "--allow-identifiers",
        "--format",
        "json",
    ]);
    let re = &j["ranef"][0];
    assert_eq!(re["group"], "Subject");
    assert_eq!(re["levels"].as_array().unwrap().len(), 18);
    assert_eq!(
        re["levels"][0], "308",
        "numeric codes as factor levels in numeric order"
    );
}

#[test]
fn bad_models_get_clear_messages_and_exit_codes() {
    let dir = tempdir("lmmbad");
    let f = write(
        &dir,
        "d.csv",
        b"y,g,h,txt\n1,a,1,x\n2,a,2,y\n3,a,3,x\n4,a,4,y\n",
    );
    // One level in the grouping factor.
    let o = run(&["lmm", &f, "--formula", "y ~ 1 + (1 | g)"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // As many levels as rows.
    let o = run(&["lmm", &f, "--formula", "y ~ 1 + (1 | h)"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // A text response.
    let o = run(&["lmm", &f, "--formula", "txt ~ 1 + (1 | g)"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("'txt'"));
    // A column that does not exist; a syntax error.
    let o = run(&["lmm", &f, "--formula", "y ~ nope + (1 | g)"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("'nope'"), "{}", stderr(&o));
    let o = run(&["lmm", &f, "--formula", "y ~ (1 | g"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Every row dropped by missing values.
    let f2 = write(&dir, "e.csv", b"y,g\nNA,a\nNA,b\n1,NA\n");
    let o = run(&["lmm", &f2, "--formula", "y ~ 1 + (1 | g)"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing"), "{}", stderr(&o));
}
