//! `outcomes report`: the folder of the contract, determinism against the
//! committed `reports/example/`, privacy of what it writes, and bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_outcomes")
}

/// `../shared` beside the repository, if present (CI has it).
fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if p.join("datasets").is_dir() {
        Some(p)
    } else {
        println!("skipped: ../shared is absent");
        None
    }
}

/// Runs a built `outcomes` command and asserts that it succeeded.
fn report_ok(cmd: &mut Command) {
    let st = cmd.output().unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("outcomes-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["", "tables", "figures"] {
        let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            if e.path().is_file() {
                let name = e.file_name().to_string_lossy().to_string();
                out.push(if sub.is_empty() {
                    name
                } else {
                    format!("{sub}/{name}")
                });
            }
        }
    }
    out.sort();
    out
}

/// provenance.json without the two entries that differ between runs: the
/// time and the command line (the output folder).
fn provenance_core(p: &Path) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("time");
    o.remove("command_line");
    v
}

/// The committed example report is what the current code writes for the
/// README's main command (same data, seed and bootstrap), byte for byte
/// apart from provenance's time and command line: it never goes stale.
#[test]
fn example_report_is_current() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/example");
    let out = tempdir("example").join("example");
    report_ok(Command::new(bin()).args(["report", "--out"]).arg(&out));
    let (want, got) = (files(&example), files(&out));
    assert_eq!(
        want, got,
        "reports/example has other files: regenerate it with \
         `cargo run --release -- report --out reports/example`"
    );
    for f in &want {
        if f == "provenance.json" {
            assert_eq!(
                provenance_core(&example.join(f)),
                provenance_core(&out.join(f))
            );
            continue;
        }
        let (a, b) = (
            std::fs::read(example.join(f)).unwrap(),
            std::fs::read(out.join(f)).unwrap(),
        );
        assert!(
            a == b,
            "reports/example/{f} is stale: regenerate it with \
             `cargo run --release -- report --out reports/example`"
        );
    }
}

#[test]
fn folder_has_the_contract_files_and_nothing_identifying() {
    let out = tempdir("contract").join("r");
    report_ok(
        Command::new(bin())
            .args(["report", "--bootstrap", "50", "--out"])
            .arg(&out),
    );
    let fs = files(&out);
    for f in ["index.html", "report.md", "results.json", "provenance.json"] {
        assert!(fs.contains(&f.to_string()), "{f} missing: {fs:?}");
    }
    for ext in [".csv", ".tex"] {
        assert!(fs
            .iter()
            .any(|f| f.starts_with("tables/") && f.ends_with(ext)));
    }
    for ext in [".svg", ".png"] {
        assert_eq!(
            fs.iter()
                .filter(|f| f.starts_with("figures/") && f.ends_with(ext))
                .count(),
            6,
            "{fs:?}"
        );
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("<style>"));
    assert!(!html.contains("<script"), "no scripts");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "offline"
    );
    assert!(
        html.contains("accounted for") && html.contains("% CI ["),
        "APA sentences"
    );
    // no client or therapist IDs of the demo data (C0001…, T001…) anywhere
    let id = regex::Regex::new(r"\b[CT]\d{3,4}\b").unwrap();
    for f in &fs {
        if f.ends_with(".png") {
            continue;
        }
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(!id.is_match(&text), "{f} names a client or therapist");
    }
    // suppression: every count in the change table is a multiple of 5 or *
    let csv = std::fs::read_to_string(out.join("tables/change.csv")).unwrap();
    for line in csv.lines().skip(1) {
        let n = line.split(',').nth(1).unwrap();
        assert!(n == "*" || n.parse::<u64>().unwrap() % 5 == 0, "{line}");
    }
    let prov: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    for k in ["version", "command_line", "input", "seed", "time", "files"] {
        assert!(prov.get(k).is_some(), "provenance lacks {k}");
    }
    assert_eq!(prov["input"]["sha256"].as_str().unwrap().len(), 64);
    // the published claims: conversions and the therapist effect of these
    // data (labelled an illustration on the demo data)
    assert!(html.contains("Published claims, recomputed"));
    let res: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let claims = res["sections"]["replication"]["claims"].as_array().unwrap();
    let ther = claims
        .iter()
        .find(|c| c["id"] == "therapist-effects-5pct")
        .unwrap();
    assert_eq!(ther["illustration"], true);
    assert!(ther["recomputed"].as_f64().is_some());
    assert!(
        claims.iter().all(|c| c["id"] != "depression-overall-g"),
        "needs --data-dir"
    );
}

/// With --data-dir the report's replication section recomputes the claims
/// from the Metapsy database and metadat too.
#[test]
fn replication_section_with_data_dir() {
    let Some(shared) = shared() else { return };
    let out = tempdir("replication").join("r");
    report_ok(
        Command::new(bin())
            .args(["report", "--bootstrap", "50", "--data-dir"])
            .arg(shared.join("datasets"))
            .arg("--out")
            .arg(&out),
    );
    let res: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let claims = res["sections"]["replication"]["claims"].as_array().unwrap();
    let g = claims
        .iter()
        .find(|c| c["id"] == "depression-overall-g")
        .unwrap();
    assert_eq!(g["verdict"], "replicated");
    let csv = std::fs::read_to_string(out.join("tables/replication.csv")).unwrap();
    assert!(csv.contains("Techniques ~7% (Zarbo et al. 2016)") && csv.contains("not replicated"));
    assert!(claims
        .iter()
        .all(|c| c["id"] != "therapist-effects-5pct-demo"));
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let dir = tempdir("bad");
    let out = dir.join("r");
    let st = Command::new(bin())
        .args(["report", "no-such-file.csv", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&st.stderr).contains("no-such-file.csv"));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing written"
    );
}

/// Study-level data: the report is a meta-analysis of the Metapsy
/// depression database (waitlist-controlled comparisons by therapy type),
/// with the numbers of `outcomes meta` (checked against metafor in
/// tests/meta_cli.rs) and a funnel plot; no forest plot above 60 studies.
#[test]
fn study_level_report_is_a_meta_analysis() {
    let Some(shared) = shared() else { return };
    let db = shared.join("datasets/metapsy/data-depression-psyctr.data.csv");
    let out = tempdir("meta").join("r");
    report_ok(
        Command::new(bin())
            .arg("report")
            .arg(&db)
            .args([
                "--yi",
                ".g",
                "--sei",
                ".g_se",
                "--where",
                "condition_arm2 = 'wl'",
            ])
            .args(["--subgroup", "condition_arm1", "--out"])
            .arg(&out),
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("k = 397"), "{md}");
    assert!(md.contains("F(8, 388)"), "{md}");
    assert!(md.contains("forest plot is not drawn"));
    let fs = files(&out);
    assert!(fs.contains(&"figures/funnel.svg".to_string()));
    assert!(!fs.iter().any(|f| f.contains("forest")));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["sections"]["meta"]["k"], 397);
}

/// Long (session-by-session) data: the report adds session trajectories by
/// technique, built only from session means of at least 8 clients.
#[test]
fn long_data_get_session_trajectories() {
    let dir = tempdir("long");
    // 240 clients of 12 therapists at 2 sites, 2 techniques, 3–8 sessions;
    // PHQ-9 falling by about a point a session (SplitMix64, fixed seed).
    let mut state: u64 = 20251121;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut csv = String::from("client,therapist,site,technique,session,phq9\n");
    for c in 0..240 {
        let ther = c % 12;
        let tech = if c % 2 == 0 { "CBT" } else { "IPT" };
        let start = 12.0 + 10.0 * next();
        let n_sessions = 3 + (next() * 6.0) as usize;
        for s in 1..=n_sessions {
            let v = (start - (s as f64 - 1.0) * (0.8 + 0.6 * next()) + 3.0 * (next() - 0.5))
                .round()
                .clamp(0.0, 27.0);
            csv.push_str(&format!(
                "P{c:04},T{ther:02},S{},{tech},{s},{v}\n",
                ther % 2
            ));
        }
    }
    let data = dir.join("long.csv");
    std::fs::write(&data, csv).unwrap();
    let out = dir.join("r");
    report_ok(
        Command::new(bin())
            .arg("report")
            .arg(&data)
            .args(["--client", "client", "--time", "session", "--score", "phq9"])
            .args(["--measure", "PHQ-9", "--bootstrap", "20", "--out"])
            .arg(&out),
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Session by session"), "{md}");
    let svg = std::fs::read_to_string(out.join("figures/trajectories.svg")).unwrap();
    for want in ["CBT", "IPT", "Session (the client", "cut-off"] {
        assert!(svg.contains(want), "{want} missing");
    }
    // no client or therapist IDs
    assert!(!regex::Regex::new(r"\b[PT]\d{2,4}\b").unwrap().is_match(&md));
    if let Ok(d) = std::env::var("OUTCOMES_PLOT_DIR") {
        std::fs::copy(
            out.join("figures/trajectories.png"),
            Path::new(&d).join("report_trajectories.png"),
        )
        .unwrap();
    }
}
