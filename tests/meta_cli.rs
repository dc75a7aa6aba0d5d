//! `outcomes meta` through the binary. Numbers: dat.bcg log risk ratios
//! (escalc by `outcomes escalc`), REML: τ² 0.313243, μ −0.714532, SE
//! 0.17978, Q 152.2330 (science.md §5, metafor 3.8-1), to 1e-5 relative;
//! the Metapsy depression database: metafor 3.8-1 on R 4.2.2 gives τ² =
//! 0.3570842199 for all 900 comparisons, and for the 397 waitlist-controlled
//! ones with `mods = ~ condition_arm1`: τ² 0.3490332, QM 16.58693, R² 3.09243%.
//! The subgroup values and the Metapsy figures come from
//! tests/reference/meta_cli_metafor.R (printed in meta_cli_metafor.out).
//! The statistics are checked in depth in tests/meta_golden.rs.

mod common;
use common::*;

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

#[test]
fn bcg_random_effects_and_moderators() {
    let Some(shared) = shared() else { return };
    let dir = tempdir("meta-bcg");
    let es = dir.join("bcg.csv");
    let bcg = shared.join("datasets/metadat/dat.bcg.csv");
    let o = run(&[
        "escalc",
        bcg.to_str().unwrap(),
        "--measure",
        "RR",
        "--ai",
        "tpos",
        "--bi",
        "tneg",
        "--ci",
        "cpos",
        "--di",
        "cneg",
        "-o",
        es.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let f = es.to_str().unwrap();
    let j = json(&["meta", f, "--yi", "yi", "--vi", "vi", "--format", "json"]);
    for k in [
        "k", "method", "test", "estimate", "se", "stat", "pval", "ci_lb", "ci_ub", "pi_lb",
        "pi_ub", "tau2", "tau2_se", "tau2_ci", "i2", "h2", "q", "q_df", "q_pval",
    ] {
        assert!(j.get(k).is_some(), "missing key {k}");
    }
    assert_eq!(j["k"], 13);
    assert!(close(j["tau2"].as_f64().unwrap(), 0.313243, 1e-5));
    assert!(close(j["estimate"].as_f64().unwrap(), -0.714532, 1e-5));
    assert!(close(j["se"].as_f64().unwrap(), 0.17978, 1e-4));
    assert!(close(j["q"].as_f64().unwrap(), 152.2330, 1e-6));
    let studies = j["studies"].as_array().unwrap();
    assert_eq!(studies.len(), 13);
    let w: f64 = studies.iter().map(|s| s["weight"].as_f64().unwrap()).sum();
    assert!((w - 100.0).abs() < 1e-9);
    // Moderators: numeric and factor, Knapp–Hartung, pseudo-R².
    let m = json(&[
        "meta",
        f,
        "--yi",
        "yi",
        "--vi",
        "vi",
        "--mods",
        "ablat + alloc",
        "--test",
        "knha",
        "--format",
        "json",
    ]);
    let terms: Vec<&str> = m["coefficients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["term"].as_str().unwrap())
        .collect();
    assert_eq!(
        terms,
        ["intrcpt", "ablat", "allocrandom", "allocsystematic"]
    );
    assert_eq!(m["qm_df"], serde_json::json!([3, 9]));
    assert!(m["r2"].as_f64().unwrap() > 0.0);
    // Bias and influence: the contract's keys (values in meta_bias_golden.rs).
    let b = json(&[
        "meta",
        f,
        "--yi",
        "yi",
        "--vi",
        "vi",
        "--bias",
        "--influence",
        "--format",
        "json",
    ]);
    for k in ["stat", "pval", "limit_estimate"] {
        assert!(b["egger"][k].is_number(), "egger.{k}");
    }
    for k in ["k0", "side", "estimate", "se"] {
        assert!(!b["trimfill"][k].is_null(), "trimfill.{k}");
    }
    let l = b["leave1out"].as_array().unwrap();
    assert_eq!(l.len(), 13);
    for k in ["omitted", "estimate", "tau2", "i2"] {
        assert!(!l[0][k].is_null(), "leave1out.{k}");
    }
    // Forest and funnel figures: one label per study, the pooled row.
    let forest = dir.join("forest.svg");
    let funnel = dir.join("funnel.svg");
    let o = run(&[
        "meta",
        f,
        "--yi",
        "yi",
        "--vi",
        "vi",
        "--slab",
        "author",
        "--bias",
        "--forest",
        forest.to_str().unwrap(),
        "--funnel",
        funnel.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let svg = std::fs::read_to_string(&forest).unwrap();
    for label in [
        "Aronson",
        "TPT Madras",
        "Random-effects model (REML)",
        "Prediction interval",
    ] {
        assert!(svg.contains(label), "forest lacks '{label}'");
    }
    assert!(std::fs::read_to_string(&funnel)
        .unwrap()
        .contains("Standard error"));
    // Subgroups and their test.
    let s = json(&[
        "meta",
        f,
        "--yi",
        "yi",
        "--vi",
        "vi",
        "--subgroup",
        "alloc",
        "--format",
        "json",
    ]);
    assert_eq!(s["subgroups"].as_array().unwrap().len(), 3);
    assert_eq!(s["subgroup_test"]["df"], 2);
    assert!(close(
        s["subgroup_test"]["qm"].as_f64().unwrap(),
        1.76751304177,
        1e-8
    ));
    assert!(close(
        s["subgroup_test"]["pval"].as_f64().unwrap(),
        0.413227693943,
        1e-8
    ));
    let random = &s["subgroups"][1];
    assert_eq!(random["group"], "random");
    assert!(close(
        random["estimate"].as_f64().unwrap(),
        -0.970964475758,
        1e-7
    ));
    assert!(close(random["se"].as_f64().unwrap(), 0.275955701509, 1e-6));
    assert!(close(
        random["tau2"].as_f64().unwrap(),
        0.392526549118,
        1e-6
    ));
}

#[test]
fn metapsy_depression_database() {
    let Some(shared) = shared() else { return };
    let db = shared.join("datasets/metapsy/data-depression-psyctr.data.csv");
    let f = db.to_str().unwrap();
    let j = json(&[
        "meta", f, "--yi", ".g", "--sei", ".g_se", "--format", "json",
    ]);
    assert_eq!(j["k"], 900);
    assert!(close(j["tau2"].as_f64().unwrap(), 0.3570842199, 1e-6));
    let m = json(&[
        "meta",
        f,
        "--yi",
        ".g",
        "--sei",
        ".g_se",
        "--where",
        "condition_arm2 = 'wl'",
        "--mods",
        "condition_arm1",
        "--format",
        "json",
    ]);
    assert_eq!(m["k"], 397);
    assert!(close(m["tau2"].as_f64().unwrap(), 0.3490332, 1e-5));
    assert!(close(m["qm"].as_f64().unwrap(), 16.5869, 1e-5));
    assert!(close(m["r2"].as_f64().unwrap(), 3.09243, 1e-4));
    // Three-level model clustered by study: metafor 3.8-1
    // rma.mv(.g, .g_se^2, random = ~ 1 | study/es) and clubSandwich 0.5.8
    // coef_test(vcov = "CR2"): sigma2 0.3510215, 0.03799896; estimate
    // 0.7349187, SE 0.03000616; Satterthwaite df 472 (printed rounded).
    let t = json(&[
        "meta",
        f,
        "--yi",
        ".g",
        "--sei",
        ".g_se",
        "--cluster",
        "study",
        "--format",
        "json",
    ]);
    let ml = &t["multilevel"];
    assert_eq!(ml["clusters"], 480);
    assert!(close(ml["sigma2"][0].as_f64().unwrap(), 0.3510215, 1e-5));
    assert!(close(ml["sigma2"][1].as_f64().unwrap(), 0.03799896, 1e-5));
    assert!(close(
        ml["coefficients"][0]["estimate"].as_f64().unwrap(),
        0.7349187,
        1e-6
    ));
    assert!(close(
        ml["coefficients"][0]["se"].as_f64().unwrap(),
        0.03000616,
        1e-5
    ));
    assert!((ml["robust"][0]["df"].as_f64().unwrap() - 472.0).abs() < 0.5);
}

#[test]
fn bad_input() {
    let dir = tempdir("meta-bad");
    let f = write(
        &dir,
        "m.csv",
        b"study,yi,vi,x\na,0.1,0.02,1\nb,0.3,-0.01,1\nc,0.2,0.03,1\n",
    );
    let o = run(&["meta", &f, "--yi", "yi", "--vi", "vi"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("line 3, column 'vi', value '-0.01'"),
        "{}",
        stderr(&o)
    );
    let g = write(
        &dir,
        "g.csv",
        b"study,yi,vi,x\na,0.1,0.02,1\nb,0.3,0.01,1\nc,0.2,0.03,1\n",
    );
    let o = run(&["meta", &g, "--yi", "yi", "--vi", "vi", "--mods", "x"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("constant"), "{}", stderr(&o));
    let h = write(&dir, "h.csv", b"study,yi,vi\na,0.1,0.02\nb,NA,0.01\n");
    let o = run(&["meta", &h, "--yi", "yi", "--vi", "vi"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("at least 2"), "{}", stderr(&o));
    let o = run(&["meta", &g, "--yi", "yi", "--vi", "vi", "--method", "XX"]);
    assert_eq!(o.status.code(), Some(2));
    // Missing yi are dropped and counted.
    let k = write(
        &dir,
        "k.csv",
        b"study,yi,vi\na,0.1,0.02\nb,NA,0.01\nc,0.5,0.04\nd,0.2,0.02\n",
    );
    let j = json(&["meta", &k, "--yi", "yi", "--vi", "vi", "--format", "json"]);
    assert_eq!(j["k"], 3);
    assert_eq!(j["excluded"][0]["rows"], 1);
}
