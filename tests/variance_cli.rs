//! `outcomes variance` through the binary: the contract's keys, the
//! bootstrap's determinism across thread counts, identifiability warnings,
//! and the bad inputs issue 5 names (exit 3 with a message saying what is
//! missing). Numbers against lme4 are in tests/variance_golden.rs.

mod common;
use common::*;
use std::process::Command;

/// A small clinic: 12 therapists at 3 sites, two techniques.
fn clinic(rows: usize, f: impl Fn(usize) -> [String; 7]) -> Vec<u8> {
    let mut s = String::from("client,therapist,site,technique,alliance,pre,post\n");
    for i in 0..rows {
        s.push_str(&f(i).join(","));
        s.push('\n');
    }
    s.into_bytes()
}

fn row(i: usize) -> [String; 7] {
    let t = i % 12;
    // Deterministic, irregular numbers.
    let h = (i * 7919 + 13) % 101;
    [
        format!("C{i:04}"),
        format!("T{t:02}"),
        format!("S{}", t / 4),
        if (i / 3).is_multiple_of(2) {
            "CBT"
        } else {
            "PDT"
        }
        .to_string(),
        format!("{:.2}", 3.0 + (h % 20) as f64 / 10.0),
        format!("{}", 8 + h % 15),
        format!("{}", 4 + (h * 3 + t) % 17),
    ]
}

#[test]
fn contract_keys_and_sums() {
    let j = json(&[
        "variance",
        "--format",
        "json",
        "--bootstrap",
        "20",
        "--seed",
        "5",
    ]);
    for k in [
        "command",
        "version",
        "input",
        "n",
        "var_y",
        "factors",
        "shares",
        "unexplained",
        "icc",
        "r2",
        "model",
        "bootstrap",
        "excluded",
    ] {
        assert!(j.get(k).is_some(), "missing key {k}");
    }
    assert_eq!(j["command"], "variance");
    assert_eq!(j["input"]["rows_used"], j["n"]);
    let names: Vec<&str> = j["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["client", "technique", "relationship", "therapist", "site"]
    );
    // Shapley shares add up to the explained variance.
    let sum: f64 = names
        .iter()
        .map(|n| j["shares"][n]["shapley"].as_f64().unwrap())
        .sum();
    assert!((sum + j["unexplained"].as_f64().unwrap() - 1.0).abs() < 1e-12);
    for n in &names {
        let s = &j["shares"][n];
        let (lb, ub) = (s["ci_lb"].as_f64().unwrap(), s["ci_ub"].as_f64().unwrap());
        assert!(lb <= ub, "{n}: interval [{lb}, {ub}]");
    }
    assert!(j["icc"]["null"]["therapist"].as_f64().unwrap() > 0.0);
    assert!(j["icc"]["casemix"]["site"].is_number());
    assert!(j["r2"]["marginal"].as_f64().unwrap() < j["r2"]["conditional"].as_f64().unwrap());
    assert_eq!(j["bootstrap"]["reps"], 20);
    assert_eq!(j["bootstrap"]["seed"], 5);
    assert_eq!(j["model"]["method"], "REML");
    assert_eq!(j["subsets"].as_array().unwrap().len(), 31);
    // Dropouts (post missing) are counted, not silently lost.
    let ex = j["excluded"].as_array().unwrap();
    assert!(ex
        .iter()
        .any(|e| e["reason"].as_str().unwrap().contains("'post'")));
}

#[test]
fn bootstrap_identical_whatever_the_threads() {
    let out = |threads: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_outcomes"))
            .args([
                "variance",
                "--format",
                "json",
                "--bootstrap",
                "40",
                "--seed",
                "9",
            ])
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0));
        o.stdout
    };
    let one = out("1");
    assert_eq!(one, out("2"));
    assert_eq!(one, out("3"));
    // A different seed gives different intervals.
    let other = json(&[
        "variance",
        "--format",
        "json",
        "--bootstrap",
        "40",
        "--seed",
        "10",
    ]);
    let first: serde_json::Value = serde_json::from_slice(&one).unwrap();
    assert_ne!(
        first["shares"]["therapist"]["ci_lb"],
        other["shares"]["therapist"]["ci_lb"]
    );
}

#[test]
fn table_explains_and_shows_the_literature_apart() {
    let o = run(&["variance", "--bootstrap", "30"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = stdout(&o);
    for s in [
        "share",
        "95% CI",
        "alone",
        "unique",
        "unexplained",
        "Published estimates (separate analyses, NOT from these data)",
        "do not add up",
        "Flückiger",
        "Intraclass correlations",
        "Nakagawa",
    ] {
        assert!(t.contains(s), "table lacks '{s}':\n{t}");
    }
}

#[test]
fn split_alliance_reports_contextual_effect() {
    let j = json(&[
        "variance",
        "--split-alliance",
        "--format",
        "json",
        "--bootstrap",
        "0",
    ]);
    let a = &j["alliance"];
    let (w, b, c) = (
        a["within"]["estimate"].as_f64().unwrap(),
        a["between"]["estimate"].as_f64().unwrap(),
        a["contextual"]["estimate"].as_f64().unwrap(),
    );
    assert!((c - (b - w)).abs() < 1e-12);
    // The demo data's between effect (−4) is stronger than the within (−2).
    assert!(b < w && w < 0.0, "within {w}, between {b}");
    assert!(j["shares"]["relationship_within"].is_object());
    assert!(j["shares"]["relationship_between"].is_object());
    let o = run(&[
        "variance",
        "--split-alliance",
        "--therapist",
        "",
        "--bootstrap",
        "0",
    ]);
    assert_ne!(o.status.code(), Some(0));
}

fn exit_and_message(args: &[&str], code: i32, fragment: &str) {
    let o = run(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    assert!(
        err.contains(fragment),
        "{args:?}: message lacks '{fragment}': {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_inputs_exit_3_saying_what_is_missing() {
    let dir = tempdir("variance-bad");
    // One therapist.
    let one = write(
        &dir,
        "one.csv",
        &clinic(60, |i| {
            let mut r = row(i);
            r[1] = "T01".into();
            r
        }),
    );
    exit_and_message(&["variance", &one, "--bootstrap", "0"], 3, "one therapist");
    // A constant technique.
    let tech = write(
        &dir,
        "tech.csv",
        &clinic(60, |i| {
            let mut r = row(i);
            r[3] = "CBT".into();
            r
        }),
    );
    exit_and_message(
        &["variance", &tech, "--bootstrap", "0"],
        3,
        "has one value ('CBT')",
    );
    // Alliance all missing.
    let all = write(
        &dir,
        "alliance.csv",
        &clinic(60, |i| {
            let mut r = row(i);
            r[4] = "NA".into();
            r
        }),
    );
    exit_and_message(&["variance", &all, "--bootstrap", "0"], 3, "'alliance'");
    exit_and_message(&["variance", &all, "--bootstrap", "0"], 3, "no values");
    // A constant outcome.
    let flat = write(
        &dir,
        "flat.csv",
        &clinic(60, |i| {
            let mut r = row(i);
            r[6] = "7".into();
            r
        }),
    );
    exit_and_message(&["variance", &flat, "--bootstrap", "0"], 3, "constant");
    // Argument errors exit 2.
    let ok = write(&dir, "ok.csv", &clinic(60, row));
    exit_and_message(
        &["variance", &ok, "--factor", "nocolumns"],
        2,
        "NAME=COL1,COL2",
    );
    exit_and_message(
        &["variance", &ok, "--factor", "x=nope"],
        2,
        "no column 'nope'",
    );
    exit_and_message(
        &["variance", &ok, "--factor", "site=pre"],
        2,
        "already exists",
    );
    exit_and_message(&["variance", &ok, "--level", "120"], 2, "--level");
    // The valid file analyses.
    let j = json(&["variance", &ok, "--format", "json", "--bootstrap", "5"]);
    assert_eq!(j["n"], 60);
}

#[test]
fn identifiability_warnings() {
    let dir = tempdir("variance-warn");
    // Technique fixed per therapist (nested), and a single site.
    let nested = write(
        &dir,
        "nested.csv",
        &clinic(72, |i| {
            let mut r = row(i);
            r[2] = "S0".into();
            r[3] = if i % 12 < 6 { "CBT" } else { "PDT" }.into();
            r
        }),
    );
    let j = json(&["variance", &nested, "--format", "json", "--bootstrap", "0"]);
    let w: Vec<&str> = j["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(
        w.iter()
            .any(|x| x.contains("technique is nested in therapist")),
        "{w:?}"
    );
    assert!(w.iter().any(|x| x.contains("one site")), "{w:?}");
    assert!(
        j["shares"].get("site").is_none(),
        "site left out with one site"
    );
}

#[test]
fn plot_writes_the_share_chart() {
    let dir = tempdir("variance-plot");
    let svg = dir.join("shares.svg");
    let o = run(&[
        "variance",
        "--bootstrap",
        "20",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") || text.contains("<svg"));
    for label in [
        "client",
        "therapist",
        "Published estimates (separate analyses, not additive)",
    ] {
        assert!(text.contains(label), "chart lacks '{label}'");
    }
    // An unknown extension is an input error and writes nothing.
    let bad = dir.join("shares.gif");
    let o = run(&[
        "variance",
        "--bootstrap",
        "0",
        "--plot",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!bad.exists());
}

#[test]
fn without_therapists_clients_are_resampled() {
    let dir = tempdir("variance-noth");
    let data = clinic(90, |i| {
        let mut r = row(i);
        r[1] = "NA".into();
        r
    });
    // Drop the therapist column altogether.
    let text: String = String::from_utf8(data)
        .unwrap()
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.remove(1);
            f.join(",") + "\n"
        })
        .collect();
    let f = write(&dir, "noth.csv", text.as_bytes());
    let j = json(&["variance", &f, "--format", "json", "--bootstrap", "30"]);
    assert!(j["shares"].get("therapist").is_none());
    assert!(j["shares"]["site"]["ci_lb"].is_number());
    assert!(j["bootstrap"]["scheme"]
        .as_str()
        .unwrap()
        .contains("clients"));
}
