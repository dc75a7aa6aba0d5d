//! The bad-input catalogue (issue 10): every case of tests/bad_inputs/cases.toml
//! runs the `outcomes` binary and must end with its exit code (2: the input is
//! wrong, 3: the analysis cannot be done; 0 for the valid look-alikes) and a
//! message naming the problem, never a panic, never a flood of text, at most
//! one client ID (the offending cell) in the message, and no output file, not
//! even a partial one, when it fails.
mod common;

use common::{stderr, tempdir};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Deserialize)]
struct Catalogue {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    file: Option<String>,
    generate: Option<String>,
    args: Vec<String>,
    exit: i32,
    message: String,
    /// A file under the output path (a report folder) and a fragment it holds.
    output: Option<String>,
    output_contains: Option<String>,
}

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs")
}

fn catalogue() -> Catalogue {
    let text = std::fs::read_to_string(here().join("cases.toml")).expect("cases.toml");
    toml::from_str(&text).expect("cases.toml parses")
}

/// A small deterministic generator (SplitMix64) for the garbage bytes.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Writes a generated input into `dir` and returns its path.
fn generate(kind: &str, dir: &Path) -> PathBuf {
    let (name, bytes): (&str, Vec<u8>) = match kind {
        // 64 KiB of random bytes.
        "garbage" => {
            let mut s = 42u64;
            let bytes = (0..8192)
                .flat_map(|_| splitmix(&mut s).to_le_bytes())
                .collect();
            ("garbage.csv", bytes)
        }
        // One 10 MB line and no newline: a header of three names, the last
        // ten million characters long.
        "long_line" => {
            let mut b = b"client,therapist,".to_vec();
            b.resize(10_000_000, b'x');
            ("long_line.csv", b)
        }
        // A 10 MB cell in the post column.
        "long_cell" => {
            let mut b = b"client,therapist,pre,post\nC1,T1,10,5\nC2,T1,12,".to_vec();
            b.resize(b.len() + 10_000_000, b'9');
            b.extend_from_slice(b"x\nC3,T2,14,6\n");
            ("long_cell.csv", b)
        }
        // 100,000 clients, each with its own technique label.
        "many_labels" => {
            let mut s = 7u64;
            let mut text = String::from("client,therapist,site,technique,pre,post\n");
            for i in 0..100_000u64 {
                let r = splitmix(&mut s);
                text.push_str(&format!(
                    "C{i:06},T{:03},S{:02},tech{i:06},{},{}\n",
                    i % 400,
                    i % 20,
                    5 + r % 23,
                    (r >> 8) % 28
                ));
            }
            ("many_labels.csv", text.into_bytes())
        }
        other => panic!("unknown generator '{other}'"),
    };
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write generated input");
    path
}

/// The client IDs of a delimited input (first column named `client`), for the
/// privacy check; empty when the file is not UTF-8 or has no such column.
fn client_ids(path: &Path) -> HashSet<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashSet::new();
    };
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return HashSet::new();
    };
    if !header.starts_with("client,") {
        return HashSet::new();
    }
    lines
        .filter_map(|l| l.split(',').next())
        .filter(|id| id.len() >= 2)
        .map(str::to_string)
        .collect()
}

fn run_case(case: &Case, work: &Path) -> Result<(), String> {
    let inputs = work.join("inputs");
    let out_dir = work.join("out");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::create_dir_all(&out_dir).unwrap();
    let file = match (&case.file, &case.generate) {
        (Some(f), None) => here().join(f),
        (None, Some(g)) => generate(g, &inputs),
        _ => return Err("a case needs exactly one of `file` and `generate`".into()),
    };
    let out = out_dir.join(if case.args[0] == "report" {
        "report"
    } else {
        "out.json"
    });
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| {
            a.replace("{file}", &file.to_string_lossy())
                .replace("{out}", &out.to_string_lossy())
                .replace("{dir}", &here().to_string_lossy())
        })
        .collect();
    let o = Command::new(env!("CARGO_BIN_EXE_outcomes"))
        .args(&args)
        .current_dir(work)
        .output()
        .expect("the outcomes binary runs");
    let err = stderr(&o);
    let mut faults = Vec::new();
    if o.status.code() != Some(case.exit) {
        faults.push(format!(
            "exit {:?}, expected {}",
            o.status.code(),
            case.exit
        ));
    }
    if !err.contains(&case.message) {
        faults.push(format!("stderr lacks the fragment {:?}", case.message));
    }
    if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
        faults.push("a panic".into());
    }
    if err.len() > 4096 {
        faults.push(format!("{} bytes of stderr (at most 4096)", err.len()));
    }
    let ids = client_ids(&file);
    let quoted: Vec<&String> = ids.iter().filter(|id| err.contains(id.as_str())).collect();
    if quoted.len() > 1 {
        faults.push(format!("{} client IDs quoted in stderr", quoted.len()));
    }
    let left: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    if case.exit != 0 && !left.is_empty() {
        faults.push(format!("a failed run left {left:?} behind"));
    }
    if case.exit == 0 && !out.exists() {
        faults.push("no output written".into());
    }
    if let (Some(name), Some(fragment)) = (&case.output, &case.output_contains) {
        let text = std::fs::read_to_string(out.join(name)).unwrap_or_default();
        if !text.contains(fragment.as_str()) {
            faults.push(format!("{name} lacks the fragment {fragment:?}"));
        }
    }
    if faults.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}\n  args: {args:?}\n  stderr: {}",
            case.name,
            faults.join("; "),
            err.chars().take(1500).collect::<String>()
        ))
    }
}

#[test]
fn the_catalogue_covers_the_issue() {
    let names: Vec<String> = catalogue().case.into_iter().map(|c| c.name).collect();
    for wanted in [
        "empty file",
        "header only",
        "duplicate column names",
        "ragged rows",
        "binary garbage",
        "a 10 MB single line",
        "Latin-1 bytes",
        "byte-order mark",
        "Inf",
        "NaN",
        "1e308",
        "negative sampling variance",
        "one therapist",
        "one client per therapist",
        "a constant technique",
        "a constant outcome",
        "a missing role column",
        "the wrong delimiter",
        "quote",
        "100,000 distinct technique labels",
        "a PHQ-9 of 99",
        "duplicated client IDs",
        "a spec naming a column that does not exist",
    ] {
        assert!(
            names.iter().any(|n| n.contains(wanted)),
            "no case for '{wanted}'"
        );
    }
}

#[test]
fn every_bad_input_gets_its_exit_code_and_message() {
    let root = tempdir("bad-inputs");
    let mut failures = Vec::new();
    for (i, case) in catalogue().case.iter().enumerate() {
        let work = root.join(format!("case{i:02}"));
        if let Err(e) = run_case(case, &work) {
            failures.push(e);
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
