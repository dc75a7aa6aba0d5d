//! Helpers shared by the CLI integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `outcomes` binary with arguments.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_outcomes"))
        .args(args)
        .output()
        .expect("the outcomes binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and parses stdout as JSON, asserting exit 0.
pub fn json(args: &[&str]) -> serde_json::Value {
    let o = run(args);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("stdout is one JSON object")
}

/// `../shared` beside the repository, if present (CI has it). Tests that need
/// it print that they are skipped when it is absent.
pub fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if p.join("datasets").is_dir() {
        Some(p)
    } else {
        eprintln!("skipped: ../shared is absent");
        None
    }
}

/// A fresh temporary folder for one test.
pub fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("outcomes-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Writes a file in `dir` and returns its path as a String.
pub fn write(dir: &Path, name: &str, content: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write test file");
    p.to_string_lossy().into_owned()
}

/// Two `variance` JSON reports of the same models: the largest relative
/// difference of the subset models' residual variances and the largest
/// absolute difference of the shares (Shapley, alone, unique). Asserts the
/// formulas match and the OLS subsets agree to 1e-12 relative (no optimiser
/// is involved there).
pub fn fit_differences(a: &serde_json::Value, b: &serde_json::Value) -> (f64, f64) {
    let (mut sig, mut share) = (0f64, 0f64);
    for (x, y) in a["subsets"]
        .as_array()
        .unwrap()
        .iter()
        .zip(b["subsets"].as_array().unwrap())
    {
        assert_eq!(x["formula"], y["formula"]);
        let (p, q) = (x["sigma2"].as_f64().unwrap(), y["sigma2"].as_f64().unwrap());
        let rel = (p - q).abs() / p;
        if x["method"] == "OLS" {
            assert!(rel < 1e-12, "{}: {p} vs {q}", x["formula"]);
        }
        sig = sig.max(rel);
    }
    for (k, s) in a["shares"].as_object().unwrap() {
        for q in ["shapley", "alone", "unique"] {
            let d = (s[q].as_f64().unwrap() - b["shares"][k][q].as_f64().unwrap()).abs();
            share = share.max(d);
        }
    }
    (sig, share)
}

/// Proptest settings for this crate's property tests: `cases` cases, no
/// regression files, and a fixed seed, so that a CI run is reproducible and
/// a failure can be rerun as it happened. `PROPTEST_RNG_SEED=<u64>` (read by
/// `ProptestConfig::default`) explores other cases; `PROPTEST_CASES` more of
/// them.
pub fn proptest_config(cases: u32) -> proptest::test_runner::Config {
    use proptest::test_runner::{Config, RngSeed};
    let mut c = Config {
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    if matches!(c.rng_seed, RngSeed::Random) {
        c.rng_seed = RngSeed::Fixed(0x6f75_7463_6f6d_6573);
    }
    c
}
