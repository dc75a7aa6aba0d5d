//! `outcomes summarise` and `outcomes variance --summaries`: fitting from
//! per-therapist summaries equals fitting the pooled client records
//! (issue 9). Data: simulated clinics (`outcomes simulate`, unbalanced
//! caseloads), split by site and by random assignment of whole therapists
//! to files (so one site spans several files). Tolerance: 1e-8 (relative for
//! the residual variances of all 31 subset models, absolute for the shares);
//! the OLS subsets agree to 1e-12. The mixed models differ only through the
//! optimiser's path from inputs that differ at rounding level (measured:
//! about 7e-9).

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

fn split(
    csv: &str,
    dir: &Path,
    name: &str,
    file_of: impl Fn(&str, &str) -> usize,
    k: usize,
) -> Vec<String> {
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    let cols: Vec<&str> = header.split(',').collect();
    let (ti, si) = (
        cols.iter().position(|c| *c == "therapist").unwrap(),
        cols.iter().position(|c| *c == "site").unwrap(),
    );
    let mut parts = vec![format!("{header}\n"); k];
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        parts[file_of(f[ti], f[si])].push_str(&format!("{l}\n"));
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| write(dir, &format!("{name}{i}.csv"), p.as_bytes()))
        .collect()
}

fn summarise(files: &[String], extra: &[&str]) -> Vec<String> {
    files
        .iter()
        .map(|f| {
            let out = f.replace(".csv", ".summary.json");
            let mut a = vec!["summarise", f.as_str(), "-o", out.as_str()];
            a.extend_from_slice(extra);
            let o = run(&a);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            out
        })
        .collect()
}

fn compare(pooled: &Value, merged: &Value) -> (f64, f64) {
    assert_eq!(pooled["n"], merged["n"]);
    fit_differences(pooled, merged)
}

/// Summarises `files` (no merging of small caseloads), fits from the
/// summaries and checks the fit against `pooled`.
fn check(pooled: &Value, files: &[String], what: &str) -> Value {
    let sums = summarise(files, &["--min-caseload", "1"]);
    let mut a = vec![
        "variance",
        "--bootstrap",
        "0",
        "--format",
        "json",
        "--summaries",
    ];
    a.extend(sums.iter().map(String::as_str));
    let merged = json(&a);
    let (sig, share) = compare(pooled, &merged);
    assert!(
        sig < 1e-8 && share < 1e-8,
        "{what}: sigma2 {sig:e}, shares {share:e}"
    );
    merged
}

#[test]
fn summaries_equal_pooled_records() {
    let dir = tempdir("summaries");
    for seed in ["11", "12"] {
        let sim = dir.join(format!("sim{seed}.csv"));
        let o = run(&[
            "simulate",
            "--clients",
            "3000",
            "--therapists",
            "45",
            "--sites",
            "5",
            "--seed",
            seed,
            "-o",
            sim.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let csv = std::fs::read_to_string(&sim).unwrap();
        let pooled = json(&[
            "variance",
            sim.to_str().unwrap(),
            "--bootstrap",
            "0",
            "--format",
            "json",
        ]);
        // by site
        let by_site = split(
            &csv,
            &dir,
            &format!("s{seed}_"),
            |_, s| s[1..].parse::<usize>().unwrap() - 1,
            5,
        );
        check(&pooled, &by_site, "by site");
        // whole therapists assigned to three files at random (sites span files)
        let file_of = |t: &str, _: &str| {
            let h = t
                .bytes()
                .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
            (h % 3) as usize
        };
        let random = split(&csv, &dir, &format!("r{seed}_"), file_of, 3);
        let merged = check(&pooled, &random, "random split");
        assert_eq!(merged["groups"]["site"], 5);
    }
}

/// A summary holds no client or therapist ID and no client row; small
/// caseloads are merged or left out and counted.
#[test]
fn summaries_hold_nothing_client_level() {
    let dir = tempdir("summaries-privacy");
    let sim = dir.join("sim.csv");
    let o = run(&[
        "simulate",
        "--clients",
        "1500",
        "--therapists",
        "40",
        "--sites",
        "2",
        "--seed",
        "3",
        "-o",
        sim.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let out = dir.join("s.json");
    let o = run(&[
        "summarise",
        sim.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let id = regex::Regex::new(r"\b[CT]\d{3,4}\b").unwrap();
    assert!(!id.is_match(&text), "an ID in the summary");
    let s: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(s["format"], "outcomes variance summary");
    assert_eq!(s["min_caseload"], 8);
    for u in s["units"].as_array().unwrap() {
        assert!(u["n"].as_f64().unwrap() >= 8.0);
    }
    let small =
        s["merged"]["therapists"].as_u64().unwrap() + s["left_out"]["therapists"].as_u64().unwrap();
    let units = s["units"].as_array().unwrap();
    let whole = units.iter().filter(|u| u["pooled"].is_null()).count() as u64;
    assert_eq!(whole + small, 40, "every therapist is accounted for");
    // --small exclude leaves them out
    let o = run(&[
        "summarise",
        sim.to_str().unwrap(),
        "--small",
        "exclude",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(s["merged"]["therapists"], 0);
    assert!(s["units"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["pooled"].is_null()));
}

#[test]
fn bad_summaries() {
    let dir = tempdir("summaries-bad");
    let sim = dir.join("sim.csv");
    run(&[
        "simulate",
        "--clients",
        "800",
        "--therapists",
        "20",
        "--sites",
        "2",
        "--seed",
        "4",
        "-o",
        sim.to_str().unwrap(),
    ]);
    // no therapist role: a summary would be client-level
    let nother = write(&dir, "n.csv", b"post,pre\n1,2\n3,4\n5,5\n7,1\n");
    let o = run(&[
        "summarise",
        &nother,
        "-o",
        dir.join("x.json").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("therapist"));
    assert!(!dir.join("x.json").exists());
    // not a summary
    let o = run(&["variance", "--summaries", sim.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a summary"));
    // different analyses
    let a = dir.join("a.json");
    let b = dir.join("b.json");
    run(&[
        "summarise",
        sim.to_str().unwrap(),
        "-o",
        a.to_str().unwrap(),
    ]);
    run(&[
        "summarise",
        sim.to_str().unwrap(),
        "--alliance",
        "sessions",
        "-o",
        b.to_str().unwrap(),
    ]);
    let o = run(&[
        "variance",
        "--summaries",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("same analysis"));
}

/// `lmm --summaries` fits the random-intercept model of the pooled records
/// (against `outcomes lmm` on them, lme4's answers: tests/lmm_golden.rs).
/// Tolerance 1e-6 relative: two different optimisers (the general sparse
/// one of `lmm`, the grouped one of `variance`) stop at their tolerances.
#[test]
fn lmm_from_summaries_equals_lmm_on_records() {
    let dir = tempdir("summaries-lmm");
    let sim = dir.join("sim.csv");
    let o = run(&[
        "simulate",
        "--clients",
        "2500",
        "--therapists",
        "40",
        "--sites",
        "4",
        "--seed",
        "21",
        "-o",
        sim.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let csv = std::fs::read_to_string(&sim).unwrap();
    let files = split(
        &csv,
        &dir,
        "l",
        |_, s| s[1..].parse::<usize>().unwrap() - 1,
        4,
    );
    let sums = summarise(&files, &["--min-caseload", "1"]);
    let formula = "post ~ pre + technique + alliance + (1 | therapist) + (1 | site)";
    let pooled = json(&[
        "lmm",
        sim.to_str().unwrap(),
        "--formula",
        formula,
        "--format",
        "json",
    ]);
    let mut a = vec![
        "lmm",
        "--formula",
        formula,
        "--format",
        "json",
        "--summaries",
    ];
    a.extend(sums.iter().map(String::as_str));
    let merged = json(&a);
    let rel = |x: &Value, y: &Value| {
        let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
        (x - y).abs() / y.abs()
    };
    assert!(
        rel(&pooled["objective"], &merged["objective"]) < 1e-9,
        "{} {}",
        pooled["objective"],
        merged["objective"]
    );
    let (pf, mf) = (
        pooled["fixed"].as_array().unwrap(),
        merged["fixed"].as_array().unwrap(),
    );
    assert_eq!(pf.len(), mf.len());
    for (p, m) in pf.iter().zip(mf) {
        assert_eq!(p["term"], m["term"]);
        assert!(rel(&p["estimate"], &m["estimate"]) < 1e-6, "{p} {m}");
        assert!(rel(&p["se"], &m["se"]) < 1e-6, "{p} {m}");
    }
    assert!(
        rel(
            &pooled["residual"]["variance"],
            &merged["residual"]["variance"]
        ) < 1e-6
    );
    // an interaction is not in the summaries
    let mut a = vec![
        "lmm",
        "--formula",
        "post ~ pre * technique + (1 | therapist)",
        "--summaries",
    ];
    a.extend(sums.iter().map(String::as_str));
    let o = run(&a);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("interaction"));
}
