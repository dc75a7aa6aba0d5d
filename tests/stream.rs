//! One-pass reading (`--ingest stream`, issue 9) gives the in-memory
//! analysis. Data: simulated clinics (`outcomes simulate`, unbalanced
//! caseloads, missing values) and hand-made files with crossed therapists,
//! numeric IDs, a `;` file with decimal commas, a `--where` filter.
//! Exact: n, exclusions, groups, model terms, OLS residual variances (1e-12
//! relative). Mixed models: 1e-6 relative on residual variances and 1e-8
//! absolute on the shares, because both paths stop the optimiser within its
//! tolerance from inputs that differ at rounding level (measured here:
//! residual variances 3–9e-9 relative, shares 1–8e-9 absolute; on 100,000
//! clients up to 4e-7 relative on a site variance of 0.01). Parquet and
//! CSV of the same rows stream to the same numbers (1e-12).

mod common;
use common::*;
use serde_json::Value;

/// `outcomes simulate` of `clients`, `therapists` and `sites` with `seed`
/// to `path` (CSV or Parquet by its extension).
fn simulate(path: &std::path::Path, clients: &str, therapists: &str, sites: &str, seed: &str) {
    let o = run(&[
        "simulate",
        "--clients",
        clients,
        "--therapists",
        therapists,
        "--sites",
        sites,
        "--seed",
        seed,
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

fn variance(file: &str, ingest: &str, extra: &[&str]) -> Value {
    let mut a = vec![
        "variance",
        file,
        "--bootstrap",
        "0",
        "--format",
        "json",
        "--ingest",
        ingest,
    ];
    a.extend_from_slice(extra);
    json(&a)
}

/// Compares a streamed report with the in-memory one; returns the largest
/// relative residual-variance and absolute share differences.
fn same(mem: &Value, st: &Value) -> (f64, f64) {
    for k in ["n", "excluded", "groups", "factors", "outcome", "warnings"] {
        assert_eq!(mem[k], st[k], "{k}");
    }
    assert_eq!(mem["input"]["sha256"], st["input"]["sha256"]);
    assert_eq!(mem["input"]["rows_read"], st["input"]["rows_read"]);
    let (sig, share) = fit_differences(mem, st);
    assert!(
        st["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().starts_with("read in one pass")),
        "the report says how the file was read"
    );
    assert!(
        sig < 1e-6 && share < 1e-8,
        "sigma2 {sig:e}, shares {share:e}"
    );
    (sig, share)
}

#[test]
fn stream_equals_memory_on_simulated_clinics() {
    let dir = tempdir("stream-sim");
    for (seed, sites) in [("21", "6"), ("22", "1")] {
        let sim = dir.join(format!("sim{seed}.csv"));
        simulate(&sim, "30000", "240", sites, seed);
        let f = sim.to_str().unwrap();
        same(&variance(f, "memory", &[]), &variance(f, "stream", &[]));
        // a filter, and a factor from extra columns
        let extra = ["--where", "sessions >= 4 AND technique != 'PDT'"];
        same(
            &variance(f, "memory", &extra),
            &variance(f, "stream", &extra),
        );
        let extra = ["--factor", "dose=sessions"];
        same(
            &variance(f, "memory", &extra),
            &variance(f, "stream", &extra),
        );
        // group-mean centred alliance: the therapists' means come from the
        // cells' sums (measured on the demo data: coefficients and SEs
        // within 7e-10 relative)
        let extra = ["--split-alliance"];
        let (mem, st) = (variance(f, "memory", &extra), variance(f, "stream", &extra));
        same(&mem, &st);
        for part in ["within", "between", "contextual"] {
            for k in ["estimate", "se"] {
                let a = mem["alliance"][part][k].as_f64().unwrap();
                let b = st["alliance"][part][k].as_f64().unwrap();
                assert!((a - b).abs() <= 1e-6 * a.abs(), "{part} {k}: {a} {b}");
            }
        }
    }
}

/// Crossed therapists (some see clients at two sites), numeric therapist
/// and technique codes written two ways ("3" and "3.0"), a `;` file with
/// decimal commas and quoted fields, missing values of every kind.
#[test]
fn stream_equals_memory_on_awkward_files() {
    let dir = tempdir("stream-awkward");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut csv = String::from("client;therapist;site;technique;alliance;pre;post\n");
    let effects: Vec<f64> = (0..60).map(|_| next() - 0.5).collect();
    for i in 0..4000 {
        let t = (next() * 60.0) as usize;
        let site = if next() < 0.15 { (t + 1) % 5 } else { t % 5 };
        let tech = 1 + (next() * 3.0) as usize;
        let tech_text = if next() < 0.5 {
            format!("{tech}")
        } else {
            format!("{tech}.0")
        };
        let ther = if next() < 0.5 {
            format!("{}", 100 + t)
        } else {
            format!("\"{}\"", 100 + t)
        };
        let alliance = 3.0 + next() * 2.0;
        let pre = 12.0 + next() * 10.0;
        let post = 0.5 * pre - 1.5 * alliance
            + 4.0 * effects[t]
            + 0.3 * tech as f64
            + 6.0 * (next() - 0.5);
        let miss = next();
        let cell = |x: f64| format!("{x:.3}").replace('.', ",");
        let post_s = if miss < 0.03 {
            "NA".to_string()
        } else {
            cell(post)
        };
        let all_s = if (0.03..0.05).contains(&miss) {
            " ".to_string()
        } else {
            cell(alliance)
        };
        csv.push_str(&format!(
            "c{i};{ther};S{site};{tech_text};{all_s};{};{post_s}\n",
            cell(pre)
        ));
    }
    let f = write(&dir, "awkward.csv", csv.as_bytes());
    let roles = [
        "--therapist",
        "therapist",
        "--site",
        "site",
        "--technique",
        "technique",
    ];
    let mem = variance(&f, "memory", &roles);
    let st = variance(&f, "stream", &roles);
    same(&mem, &st);
    assert!(
        mem["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("more than one site")),
        "the file has crossed therapists"
    );
    let names = |v: &Value| -> Vec<String> {
        v["model"]["fixed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["term"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(names(&mem), names(&st));
}

#[test]
fn parquet_and_csv_stream_to_the_same_numbers() {
    let dir = tempdir("stream-parquet");
    let mut v = Vec::new();
    for ext in ["csv", "parquet"] {
        let p = dir.join(format!("sim.{ext}"));
        simulate(&p, "20000", "150", "5", "4");
        v.push(variance(p.to_str().unwrap(), "stream", &[]));
    }
    same(
        &variance(dir.join("sim.parquet").to_str().unwrap(), "memory", &[]),
        &v[1],
    );
    for (a, b) in v[0]["subsets"]
        .as_array()
        .unwrap()
        .iter()
        .zip(v[1]["subsets"].as_array().unwrap())
    {
        let (x, y) = (a["sigma2"].as_f64().unwrap(), b["sigma2"].as_f64().unwrap());
        assert!((x - y).abs() / x < 1e-12, "{x} vs {y}");
    }
}

#[test]
fn summarise_streams_too() {
    let dir = tempdir("stream-summarise");
    let sim = dir.join("sim.csv");
    simulate(&sim, "6000", "80", "4", "8");
    let mut files = Vec::new();
    for ingest in ["memory", "stream"] {
        let out = dir.join(format!("{ingest}.json"));
        let o = run(&[
            "summarise",
            sim.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--ingest",
            ingest,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        files.push(out);
    }
    let read = |p: &std::path::Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (a, b) = (read(&files[0]), read(&files[1]));
    assert_eq!(a["columns"], b["columns"]);
    assert_eq!(a["sites"], b["sites"]);
    assert_eq!(a["excluded"], b["excluded"]);
    let (ua, ub) = (
        a["units"].as_array().unwrap(),
        b["units"].as_array().unwrap(),
    );
    assert_eq!(ua.len(), ub.len());
    for (x, y) in ua.iter().zip(ub) {
        assert_eq!(x["n"], y["n"]);
        assert_eq!(x["site"], y["site"]);
        for k in ["mean", "within"] {
            for (p, q) in x[k]
                .as_array()
                .unwrap()
                .iter()
                .zip(y[k].as_array().unwrap())
            {
                let (p, q) = (p.as_f64().unwrap(), q.as_f64().unwrap());
                assert!((p - q).abs() <= 1e-9 * (1.0 + p.abs()), "{k}: {p} vs {q}");
            }
        }
    }
}

#[test]
fn stream_refusals_and_late_faults_name_the_problem() {
    let dir = tempdir("stream-bad");
    // no therapist: units would be clients
    let f = write(
        &dir,
        "nother.csv",
        b"pre,post,technique\n1,2,A\n2,3,B\n3,5,A\n4,4,B\n",
    );
    let o = run(&["variance", &f, "--ingest", "stream", "--format", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot be read in one pass"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("--ingest memory"), "{}", stderr(&o));
    // a text cell in the outcome after the first 20,000 rows
    let mut csv = String::from("therapist,pre,post\n");
    for i in 0..20_010 {
        csv.push_str(&format!("T{},{},{}\n", i % 40, i % 17, (i * 7) % 23));
    }
    csv.push_str("T1,3,seven\n");
    let f = write(&dir, "late.csv", csv.as_bytes());
    let o = run(&[
        "variance", &f, "--ingest", "stream", "--format", "json", "-o", "out.json",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("line 20012"), "{e}");
    assert!(e.contains("post") && e.contains("seven"), "{e}");
    assert!(!std::path::Path::new("out.json").exists());

    // a client ID repeated after the first 20,000 rows, short and long IDs
    // and numeric ones: the same refusal as in memory, with the same lines
    for (id, repeat) in [
        ("C{i:06}", "C000004"),
        (
            "client-pseudonym-{i:020}",
            "client-pseudonym-00000000000000000004",
        ),
        ("{i}", "4.0"),
    ] {
        let mut csv = String::from("client,therapist,pre,post\n");
        for i in 0..20_010 {
            let c = id.replace("{i:06}", &format!("{i:06}"));
            let c = c.replace("{i:020}", &format!("{i:020}"));
            let c = c.replace("{i}", &i.to_string());
            csv.push_str(&format!("{c},T{},{},{}\n", i % 40, i % 17, (i * 7) % 23));
        }
        csv.push_str(&format!("{repeat},T1,3,7\n"));
        let f = write(&dir, "late-dup.csv", csv.as_bytes());
        let refusal = |ingest: &str| {
            let o = run(&["variance", &f, "--ingest", ingest, "--format", "json"]);
            assert_eq!(o.status.code(), Some(2), "{ingest}: {}", stderr(&o));
            stderr(&o)
        };
        let (m, s) = (refusal("memory"), refusal("stream"));
        assert!(
            m.contains("the client ID is on 2 rows (lines 6, 20012)"),
            "{m}"
        );
        assert!(
            s.contains("the client ID is on 2 rows (lines 6, 20012)"),
            "{s}"
        );
        if id != "client-pseudonym-{i:020}" {
            // short and numeric IDs are shown; a long one is kept only as a hash
            assert_eq!(m, s);
        }
    }
}

fn lmm(file: &str, formula: &str, ingest: &str, extra: &[&str]) -> Value {
    let mut a = vec![
        "lmm",
        file,
        "--formula",
        formula,
        "--format",
        "json",
        "--ingest",
        ingest,
    ];
    a.extend_from_slice(extra);
    json(&a)
}

/// Largest relative differences between two lmm reports: (objective,
/// fixed effects in standard errors, variance components).
fn lmm_differences(mem: &Value, st: &Value) -> (f64, f64, f64) {
    assert_eq!(mem["n"], st["n"]);
    assert_eq!(mem["groups"], st["groups"]);
    assert_eq!(mem["df"], st["df"]);
    let rel = |a: f64, b: f64| (a - b).abs() / a.abs().max(1e-300);
    let f = |v: &Value| v.as_f64().unwrap();
    let objective = rel(f(&mem["objective"]), f(&st["objective"]));
    let (fm, fs) = (
        mem["fixed"].as_array().unwrap(),
        st["fixed"].as_array().unwrap(),
    );
    assert_eq!(fm.len(), fs.len());
    let mut beta: f64 = 0.0;
    for (a, b) in fm.iter().zip(fs) {
        assert_eq!(a["term"], b["term"]);
        beta = beta.max((f(&a["estimate"]) - f(&b["estimate"])).abs() / f(&a["se"]));
        assert!(rel(f(&a["se"]), f(&b["se"])) < 1e-4, "{a} {b}");
    }
    let mut var = rel(
        f(&mem["residual"]["variance"]),
        f(&st["residual"]["variance"]),
    );
    for (a, b) in mem["random"]
        .as_array()
        .unwrap()
        .iter()
        .zip(st["random"].as_array().unwrap())
    {
        assert_eq!(a["group"], b["group"]);
        var = var.max(rel(f(&a["variance"]), f(&b["variance"])));
    }
    assert!(
        st["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().starts_with("read in one pass")),
        "the report says how the file was read"
    );
    (objective, beta, var)
}

/// `lmm` fits random-intercept models in one pass: the same model as in
/// memory, found by a different optimiser on the same likelihood, so the
/// objectives agree to rounding (measured: at most 8e-13 relative) and the
/// parameters to the optimisers' tolerance (measured: fixed effects within
/// 2.4e-7 standard errors, variances within 8.2e-6 relative); allowed:
/// 1e-10, 1e-4 standard errors and 1e-4. Nested (simulated clinics), crossed
/// (Penicillin) and one grouping factor (sleepstudy). Models that need the rows are refused under
/// `--ingest stream`, naming why.
#[test]
fn lmm_streams_random_intercept_models() {
    let dir = tempdir("stream-lmm");
    let sim = dir.join("sim.csv");
    simulate(&sim, "20000", "200", "6", "23");
    let f = sim.to_str().unwrap();
    let mut cases: Vec<(String, String, Vec<&str>)> = vec![
        (
            f.into(),
            "post ~ pre + alliance + technique + (1|therapist) + (1|site)".into(),
            vec![],
        ),
        (
            f.into(),
            "post ~ pre + (1|therapist)".into(),
            vec!["--where", "sessions >= 4"],
        ),
        (
            f.into(),
            "post ~ technique + (1|site) + (1|therapist)".into(),
            vec!["--ml"],
        ),
    ];
    if let Some(shared) = shared() {
        let lme4 = shared.join("datasets/lme4");
        let file = |n: &str| lme4.join(n).to_str().unwrap().to_string();
        // crossed (Penicillin), and one factor (sleepstudy)
        cases.push((
            file("Penicillin.csv"),
            "diameter ~ 1 + (1|plate) + (1|sample)".into(),
            vec![],
        ));
        cases.push((
            file("sleepstudy.csv"),
            "Reaction ~ Days + (1|Subject)".into(),
            vec![],
        ));
    }
    for (file, formula, extra) in &cases {
        let mem = lmm(file, formula, "memory", extra);
        let st = lmm(file, formula, "stream", extra);
        let (objective, beta, var) = lmm_differences(&mem, &st);
        eprintln!("{formula}: objective {objective:e}, fixed {beta:e} SE, variances {var:e}");
        assert!(objective < 1e-10 && beta < 1e-4 && var < 1e-4, "{formula}");
    }
    for (formula, extra, why) in [
        (
            "post ~ pre + (pre|therapist)",
            vec![],
            "is not a random intercept of one column",
        ),
        (
            "post ~ pre * alliance + (1|therapist)",
            vec![],
            "the interaction 'pre:alliance'",
        ),
        (
            "post ~ pre + (1|therapist)",
            vec!["--ranef"],
            "--ranef and --plot",
        ),
        (
            "post ~ pre + (1|post)",
            vec![],
            "both the response and a grouping column",
        ),
    ] {
        let mut a = vec!["lmm", f, "--formula", formula, "--ingest", "stream"];
        a.extend(extra);
        let o = run(&a);
        assert_eq!(o.status.code(), Some(2), "{formula}");
        let e = stderr(&o);
        assert!(
            e.contains("cannot be fitted in one pass") && e.contains(why),
            "{e}"
        );
    }
    // columns the file does not have: the in-memory path's message
    for formula in [
        "post ~ nonexist + (1|therapist)",
        "post ~ pre + (1|nonexist)",
    ] {
        let o = run(&["lmm", f, "--formula", formula, "--ingest", "stream"]);
        assert_eq!(o.status.code(), Some(2), "{formula}");
        let e = stderr(&o);
        assert!(e.contains("the file has no column 'nonexist'"), "{e}");
        assert!(!e.contains("panicked"), "{e}");
    }
}
