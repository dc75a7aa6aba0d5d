//! `outcomes variance` against the decomposition computed by its definition
//! (science.md §2) with R's lm and lme4: tests/reference/variance_lme4.R,
//! run with R 4.2.2 and lme4 1.1-31 (a tightened BOBYQA) on the file that
//! `outcomes simulate --seed 11 --clients 3000 --therapists 60 --sites 6`
//! writes; its printed output is tests/reference/variance_lme4.out. The test
//! regenerates the same file (the simulator is byte-for-byte reproducible).
//!
//! Tolerances: shares, alone, unique, unexplained, ICCs and R² (proportions)
//! 1e-6 absolute, as issue 5 asks; each subset's residual variance and the
//! full model's fixed effects 1e-6 relative; SEs 1e-5 relative.

mod common;
use common::*;
use serde_json::Value;
use std::collections::HashMap;

/// The .out file's cases: key → numbers.
fn reference() -> HashMap<String, HashMap<String, Vec<f64>>> {
    let text = include_str!("reference/variance_lme4.out");
    let mut cases: HashMap<String, HashMap<String, Vec<f64>>> = HashMap::new();
    let mut case = String::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.is_empty() || parts[0] == "R" {
            continue;
        }
        if parts[0] == "case" {
            case = parts[1].to_string();
            continue;
        }
        // Key = the words before the first number.
        let first_num = parts
            .iter()
            .position(|p| p.parse::<f64>().is_ok() && !["subset"].contains(p))
            .unwrap_or(parts.len());
        let (key, nums) = if parts[0] == "subset" {
            (format!("subset {}", parts[1]), &parts[2..])
        } else {
            (parts[..first_num].join(" "), &parts[first_num..])
        };
        let nums = nums.iter().map(|p| p.parse::<f64>().unwrap()).collect();
        cases.entry(case.clone()).or_default().insert(key, nums);
    }
    cases
}

fn check_abs(what: &str, ours: f64, theirs: f64, tol: f64) {
    assert!(
        (ours - theirs).abs() <= tol,
        "{what}: ours {ours}, lme4 {theirs}, difference {:e} > {tol:e}",
        (ours - theirs).abs()
    );
}

fn check_rel(what: &str, ours: f64, theirs: f64, tol: f64) {
    assert!(
        (ours - theirs).abs() <= tol * theirs.abs(),
        "{what}: ours {ours}, lme4 {theirs}, relative difference {:e} > {tol:e}",
        (ours - theirs).abs() / theirs.abs()
    );
}

fn compare(case: &str, j: &Value, r: &HashMap<String, Vec<f64>>) {
    assert_eq!(j["n"].as_f64().unwrap(), r["n"][0], "{case}: n");
    check_rel(
        &format!("{case} var_y"),
        j["var_y"].as_f64().unwrap(),
        r["var_y"][0],
        1e-12,
    );
    let subsets = j["subsets"].as_array().unwrap();
    assert_eq!(
        subsets.len(),
        r.keys().filter(|k| k.starts_with("subset")).count()
    );
    for (i, s) in subsets.iter().enumerate() {
        let want = &r[&format!("subset {}", i + 1)];
        let what = format!("{case} subset {} ({})", i + 1, s["formula"]);
        check_rel(&what, s["sigma2"].as_f64().unwrap(), want[0], 1e-6);
        check_abs(&what, s["value"].as_f64().unwrap(), want[1], 1e-6);
    }
    let factors = j["factors"].as_array().unwrap();
    for f in factors {
        let name = f["name"].as_str().unwrap();
        let want = &r[&format!("share {name}")];
        let got = &j["shares"][name];
        for (k, key) in ["shapley", "alone", "unique"].iter().enumerate() {
            check_abs(
                &format!("{case} {name} {key}"),
                got[key].as_f64().unwrap(),
                want[k],
                1e-6,
            );
        }
    }
    check_abs(
        &format!("{case} unexplained"),
        j["unexplained"].as_f64().unwrap(),
        r["unexplained"][0],
        1e-6,
    );
    for kind in ["null", "casemix"] {
        for g in ["therapist", "site"] {
            check_abs(
                &format!("{case} icc {kind} {g}"),
                j["icc"][kind][g].as_f64().unwrap(),
                r[&format!("icc {kind} {g}")][0],
                1e-6,
            );
        }
    }
    for k in ["marginal", "conditional"] {
        check_abs(
            &format!("{case} r2 {k}"),
            j["r2"][k].as_f64().unwrap(),
            r[&format!("r2 {k}")][0],
            1e-6,
        );
    }
    for f in j["model"]["fixed"].as_array().unwrap() {
        let term = f["term"].as_str().unwrap();
        let want = &r[&format!("fixed {term}")];
        check_rel(
            &format!("{case} {term}"),
            f["estimate"].as_f64().unwrap(),
            want[0],
            1e-6,
        );
        check_rel(
            &format!("{case} se {term}"),
            f["se"].as_f64().unwrap(),
            want[1],
            1e-5,
        );
    }
}

#[test]
fn decomposition_equals_lme4_by_definition() {
    let dir = tempdir("variance-golden");
    let data = dir.join("variance_golden.csv");
    let data = data.to_str().unwrap();
    let o = run(&[
        "simulate",
        "--seed",
        "11",
        "--clients",
        "3000",
        "--therapists",
        "60",
        "--sites",
        "6",
        "-o",
        data,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = reference();
    let j = json(&["variance", data, "--format", "json"]);
    compare("default", &j, &r["default"]);
    let j = json(&[
        "variance",
        data,
        "--split-alliance",
        "--factor",
        "dose=sessions",
        "--format",
        "json",
    ]);
    compare("split", &j, &r["split"]);
    // The contextual effect is between − within, with the SE from vcov.
    let a = &j["alliance"];
    let (w, b) = (
        r["split"]["fixed alliance_within"][0],
        r["split"]["fixed alliance_between"][0],
    );
    check_rel(
        "contextual",
        a["contextual"]["estimate"].as_f64().unwrap(),
        b - w,
        1e-6,
    );
}
