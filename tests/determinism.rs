//! Determinism through the binary (issue 10): the same input and seed give
//! byte-identical JSON whatever RAYON_NUM_THREADS is, and the same rows in
//! another order give the same statistics: `variance` (with its bootstrap)
//! and `lmm` bitwise, since both put the rows in a canonical order before
//! summing; `change` within 1e-12 (its sums run in file order).
mod common;

use common::{stderr, tempdir, write};
use serde_json::Value;
use std::process::Command;

fn run_with_threads(args: &[&str], threads: &str) -> Vec<u8> {
    let o = Command::new(env!("CARGO_BIN_EXE_outcomes"))
        .args(args)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .expect("the outcomes binary runs");
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    o.stdout
}

#[test]
fn same_input_and_seed_give_identical_json_on_any_number_of_threads() {
    let commands: [&[&str]; 4] = [
        &[
            "variance",
            "--bootstrap",
            "60",
            "--seed",
            "7",
            "--format",
            "json",
        ],
        &[
            "lmm",
            "--formula",
            "post ~ pre + technique + (1 | therapist) + (1 | site)",
            "--format",
            "json",
        ],
        &[
            "change",
            "--measure",
            "PHQ-9",
            "--by",
            "technique",
            "--format",
            "json",
        ],
        &["simulate", "--clients", "400", "--seed", "3"],
    ];
    for args in commands {
        let one = run_with_threads(args, "1");
        for threads in ["2", "3", "8"] {
            let other = run_with_threads(args, threads);
            assert!(
                one == other,
                "{args:?}: output with RAYON_NUM_THREADS={threads} differs from 1 thread"
            );
        }
    }
}

/// Walks two JSON values; numbers must agree within `tol` (relative to
/// max(1, |x|)), everything else exactly, except the keys in `skip`.
fn compare(a: &Value, b: &Value, path: &str, tol: f64, skip: &[&str], out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: Vec<&String> = x.keys().collect();
            if keys != y.keys().collect::<Vec<_>>() {
                out.push(format!("{path}: keys differ"));
                return;
            }
            for k in keys {
                if !skip.contains(&k.as_str()) {
                    compare(&x[k], &y[k], &format!("{path}.{k}"), tol, skip, out);
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                out.push(format!("{path}: lengths {} and {}", x.len(), y.len()));
                return;
            }
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                compare(p, q, &format!("{path}[{i}]"), tol, skip, out);
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            let (p, q) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            if (p - q).abs() > tol * p.abs().max(1.0) {
                out.push(format!("{path}: {p} vs {q}"));
            }
        }
        _ if a != b => out.push(format!("{path}: {a} vs {b}")),
        _ => {}
    }
}

/// The bundled demo data with its rows in a fixed pseudo-random order.
fn shuffled_demo(dir: &std::path::Path) -> (String, String) {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/demo-clinic.csv"),
    )
    .unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    let mut state = 12345u64;
    for i in (1..lines.len()).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lines.swap(i, ((state >> 33) % (i as u64 + 1)) as usize);
    }
    let body = lines.join("\n");
    let original = write(dir, "demo.csv", text.as_bytes());
    let shuffled = write(
        dir,
        "shuffled.csv",
        format!("{header}\n{body}\n").as_bytes(),
    );
    (original, shuffled)
}

fn json(args: &[String]) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_outcomes"))
        .args(args)
        .output()
        .expect("the outcomes binary runs");
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("one JSON object")
}

#[test]
fn shuffled_rows_give_the_same_statistics() {
    let dir = tempdir("determinism-shuffled");
    let (original, shuffled) = shuffled_demo(&dir);
    // (arguments after the file, tolerance, keys whose values depend on the
    // file's bytes or row positions)
    let cases: [(&[&str], f64, &[&str]); 3] = [
        (
            &["variance", "--bootstrap", "40", "--format", "json"],
            0.0,
            &["sha256", "path"],
        ),
        (
            &[
                "change",
                "--measure",
                "PHQ-9",
                "--by",
                "technique",
                "--format",
                "json",
            ],
            1e-12,
            &["sha256", "path"],
        ),
        (
            &[
                "lmm",
                "--formula",
                "post ~ pre + technique + alliance + (1 | therapist) + (1 | site)",
                "--format",
                "json",
            ],
            0.0,
            &["sha256", "path"],
        ),
    ];
    for (args, tol, skip) in cases {
        let with = |file: &str| {
            let mut v: Vec<String> = vec![args[0].to_string(), file.to_string()];
            v.extend(args[1..].iter().map(|s| s.to_string()));
            json(&v)
        };
        let (a, b) = (with(&original), with(&shuffled));
        let mut diffs = Vec::new();
        compare(&a, &b, "", tol, skip, &mut diffs);
        assert!(
            diffs.is_empty(),
            "{args:?} on shuffled rows ({} differences):\n{}",
            diffs.len(),
            diffs[..diffs.len().min(20)].join("\n")
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
