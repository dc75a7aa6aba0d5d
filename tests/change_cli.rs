//! `outcomes change` through the binary: the contract's JSON, groups, NHS
//! metrics from wide and long data, suppression, identifier refusal and bad
//! input.

mod common;
use common::*;
use serde_json::Value;

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn demo_by_technique_has_the_contract_keys_and_one_criterion() {
    let j = json(&[
        "change",
        "--measure",
        "PHQ-9",
        "--by",
        "technique",
        "--format",
        "json",
    ]);
    assert_eq!(j["command"], "change");
    for k in ["path", "sha256", "rows_read", "rows_used"] {
        assert!(!j["input"][k].is_null(), "input.{k}");
    }
    let n = j["n"].as_u64().unwrap();
    assert_eq!(j["input"]["rows_used"].as_u64().unwrap(), n);
    for k in ["mean", "sd"] {
        assert!(j["pre"][k].is_number() && j["post"][k].is_number());
    }
    assert!(j["r_pre_post"].is_number());
    for es in ["d_pre", "g_pre", "d_av", "d_z", "d_rm"] {
        for k in ["estimate", "variance", "ci_lb", "ci_ub"] {
            assert!(j["effect_sizes"][es][k].is_number(), "{es}.{k}");
        }
        assert!(
            num(&j["effect_sizes"][es]["estimate"]) > 0.0,
            "improvement is positive"
        );
    }
    assert_eq!(j["rci"]["method"], "JT");
    assert_eq!(j["rci"]["reliability"], 0.89);
    assert!((num(&j["rci"]["z"]) - 1.959963984540054).abs() < 1e-12);
    // JT threshold = z * S1 * sqrt(2) * sqrt(1 - r) (Jacobson & Truax 1991).
    let s1 = num(&j["pre"]["sd"]);
    let expect = 1.959963984540054 * s1 * 2f64.sqrt() * (1.0f64 - 0.89).sqrt();
    assert!((num(&j["rci"]["threshold"]) - expect).abs() < 1e-9);
    assert_eq!(j["cutoff"]["type"], "value");
    assert_eq!(j["cutoff"]["value"], 10.0);
    let cats = &j["categories"];
    let total: u64 = [
        "recovered",
        "improved",
        "unchanged",
        "deteriorated",
        "harmed",
    ]
    .iter()
    .map(|k| cats[k].as_u64().unwrap())
    .sum();
    assert_eq!(total, n, "every client in one category");
    assert!(
        (num(&cats["rates"]["improved"]) - cats["improved"].as_u64().unwrap() as f64 / n as f64)
            .abs()
            < 1e-12
    );

    let groups = j["groups"].as_array().unwrap();
    let names: Vec<&str> = groups
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["CBT", "IPT", "PCE", "PDT"]);
    let sum: u64 = groups.iter().map(|g| g["n"].as_u64().unwrap()).sum();
    assert_eq!(sum, n);
    for g in groups {
        assert_eq!(
            g["rci"]["threshold"], j["rci"]["threshold"],
            "one criterion for all groups"
        );
        assert_eq!(g["cutoff"]["value"], j["cutoff"]["value"]);
        assert!(g["effect_sizes"]["g_pre"]["estimate"].is_number());
    }
    assert_eq!(j["conventions"]["comparison"], ">");
    assert_eq!(j["conventions"]["criterion_from"], "whole sample");
}

#[test]
fn demo_by_therapist_gives_nhs_metrics_per_therapist() {
    let j = json(&[
        "change",
        "--measure",
        "PHQ-9",
        "--by",
        "therapist",
        "--format",
        "json",
    ]);
    let groups = j["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 80);
    let nhs = &j["nhs"];
    assert_eq!(nhs["measures_used"][0], "PHQ-9");
    assert_eq!(nhs["official"], false, "the demo data have no GAD-7");
    let finished = nhs["finished"].as_u64().unwrap();
    assert_eq!(
        nhs["reliable_improvement"]["denominator"].as_u64().unwrap(),
        finished
    );
    let per: u64 = groups
        .iter()
        .map(|g| g["nhs"]["finished"].as_u64().unwrap())
        .sum();
    assert_eq!(per, finished, "therapists' finished clients add up");
}

/// A small clinic written twice, wide and session by session, must give the
/// same NHS metrics; the counts are checked by hand.
#[test]
fn nhs_metrics_from_long_data_equal_wide_and_are_hand_checked() {
    let dir = tempdir("nhs");
    // client: PHQ-9 first/last, GAD-7 first/last, sessions
    // A: 15→5, 12→4, 3 sessions: caseness, recovered, reliable improvement (10, 8)
    // B: 12→9, 9→8, 2 sessions: caseness, not recovered (9 < 10 but GAD 8 >= 8), no RI (3, 1)
    // C: 8→7, 5→6, 4 sessions: not caseness (8 < 10, 5 < 8)
    // D: 11→18, 7→12, 2 sessions: caseness, reliable deterioration (PHQ +7)
    // E: 20, 15, 1 session: not finished (one score: no last)
    // F: 14→8, 10→5, 5 sessions: caseness, recovered (8 < 10, 5 < 8), RI (6 >= 6)
    let wide = "client,phq_first,phq_last,gad_first,gad_last,sessions\n\
                A,15,5,12,4,3\nB,12,9,9,8,2\nC,8,7,5,6,4\nD,11,18,7,12,2\nE,20,NA,15,NA,1\nF,14,8,10,5,5\n";
    let w = write(&dir, "wide.csv", wide.as_bytes());
    // Long: first and last sessions carry the scores; middle sessions have
    // intermediate ones; sessions are numbered, rows shuffled.
    let long = "id,session,phq9,gad7\n\
                A,2,10,8\nA,1,15,12\nA,3,5,4\nB,1,12,9\nB,2,9,8\nC,4,7,6\nC,1,8,5\nC,2,8,5\nC,3,NA,NA\n\
                D,1,11,7\nD,2,18,12\nE,1,20,15\nF,1,14,10\nF,2,12,9\nF,3,10,8\nF,4,9,6\nF,5,8,5\n";
    let l = write(&dir, "long.csv", long.as_bytes());
    let jw = json(&[
        "change",
        &w,
        "--phq9",
        "phq_first,phq_last",
        "--gad7",
        "gad_first,gad_last",
        "--sessions",
        "sessions",
        "--format",
        "json",
    ]);
    let jl = json(&[
        "change", &l, "--client", "id", "--time", "session", "--phq9", "phq9", "--gad7", "gad7",
        "--format", "json",
    ]);
    assert_eq!(
        jw["nhs"], jl["nhs"],
        "wide and long give the same NHS metrics"
    );
    let nhs = &jw["nhs"];
    assert_eq!(nhs["official"], true);
    assert_eq!(nhs["clients"], 6);
    assert_eq!(nhs["not_finished"], 1, "E attended one session");
    assert_eq!(nhs["finished"], 5);
    assert_eq!(nhs["finished_not_at_caseness"], 1, "C");
    let p = |k: &str| {
        (
            nhs[k]["numerator"].as_u64().unwrap(),
            nhs[k]["denominator"].as_u64().unwrap(),
        )
    };
    assert_eq!(p("recovery"), (2, 4), "A and F of the 4 at caseness");
    assert_eq!(
        p("reliable_improvement"),
        (2, 5),
        "A and F of all 5 finished"
    );
    assert_eq!(p("reliable_recovery"), (2, 4));
    assert_eq!(p("reliable_deterioration"), (1, 5), "D");
    // The main analysis is PHQ-9 first → last for both layouts.
    assert_eq!(jw["n"], jl["n"]);
    assert_eq!(jw["effect_sizes"], jl["effect_sizes"]);
}

#[test]
fn simulated_long_data_run_end_to_end() {
    let dir = tempdir("simlong");
    let f = dir.join("sessions.csv");
    let o = run(&[
        "simulate",
        "--long",
        "--seed",
        "5",
        "--clients",
        "400",
        "--therapists",
        "20",
        "--sites",
        "4",
        "-o",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j = json(&[
        "change",
        f.to_str().unwrap(),
        "--client",
        "client",
        "--time",
        "session",
        "--score",
        "score",
        "--measure",
        "PHQ-9",
        "--by",
        "therapist",
        "--format",
        "json",
    ]);
    assert_eq!(j["groups"].as_array().unwrap().len(), 20);
    assert!(j["nhs"]["finished"].as_u64().unwrap() > 100);
    assert!(
        j["input"]["rows_read"].as_u64().unwrap() > 400,
        "session rows"
    );
}

#[test]
fn suppression_hides_small_counts_everywhere() {
    let j = json(&[
        "change",
        "--measure",
        "PHQ-9",
        "--by",
        "therapist",
        "--suppress",
        "--format",
        "json",
    ]);
    let text = j.to_string();
    assert!(text.contains("\"*\""), "some counts are suppressed");
    for g in j["groups"].as_array().unwrap() {
        for k in [
            "recovered",
            "improved",
            "unchanged",
            "deteriorated",
            "harmed",
        ] {
            let v = &g["categories"][k];
            match v.as_u64() {
                Some(x) => assert!(
                    x == 0 || (x >= 8 && x % 5 == 0),
                    "{k} = {x} must be rounded to 5"
                ),
                None => assert_eq!(v, "*"),
            }
        }
        assert!(
            g["categories"].get("rates").is_none(),
            "rates of raw counts are not shown"
        );
    }
    let o = run(&[
        "change",
        "--measure",
        "PHQ-9",
        "--by",
        "therapist",
        "--suppress",
        "--format",
        "csv",
    ]);
    let csv = stdout(&o);
    assert!(csv.lines().count() == 82, "header + 80 therapists + total");
    assert!(csv.contains(",*"), "suppressed cells in CSV");
}

/// Without --by the total is the only row: its categories are shown under
/// the small-number rule. (They were dropped before: the suppression of a
/// table without group rows had no columns, and `report` failed with a CSV
/// error on data whose technique could not be used.)
#[test]
fn suppression_without_groups_keeps_the_total_categories() {
    let o = run(&[
        "change",
        "--measure",
        "PHQ-9",
        "--suppress",
        "--format",
        "csv",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let csv = stdout(&o);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "header + total");
    let header: Vec<&str> = lines[0].split(',').collect();
    let total: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(header.len(), total.len());
    for k in [
        "recovered",
        "improved",
        "unchanged",
        "deteriorated",
        "harmed",
    ] {
        let at = header.iter().position(|h| *h == k).expect(k);
        let x: u64 = total[at]
            .parse()
            .unwrap_or_else(|_| panic!("{k} = {}", total[at]));
        assert!(
            x == 0 || (x >= 8 && x.is_multiple_of(5)),
            "{k} = {x} must be rounded to 5"
        );
    }
    let table = stdout(&run(&["change", "--measure", "PHQ-9", "--suppress"]));
    assert!(table.contains("reliable recovery"), "{table}");
}

#[test]
fn identifiers_are_refused_unless_allowed() {
    let dir = tempdir("refuse");
    let mut csv = String::from("client,email,pre,post\n");
    for i in 0..30 {
        csv.push_str(&format!(
            "C{i},client{i}@mail.example,{},{}\n",
            12 + i % 9,
            5 + i % 7
        ));
    }
    let f = write(&dir, "clinic.csv", csv.as_bytes());
    let o = run(&["change", &f, "--measure", "PHQ-9"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("'email'") && e.contains("email"), "{e}");
    assert!(e.contains("--allow-identifiers"), "{e}");
    assert!(
        !e.contains("@mail.example"),
        "the values are never echoed: {e}"
    );
    assert!(o.stdout.is_empty(), "no output on refusal");
    let o = run(&["change", &f, "--measure", "PHQ-9", "--allow-identifiers"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stdout(&o).contains("@mail.example"));
}

#[test]
fn bad_input_gets_the_contract_exit_codes() {
    let dir = tempdir("badchange");
    // A PHQ-9 of 99 on line 3.
    let f = write(&dir, "a.csv", b"pre,post\n12,5\n99,4\n14,9\n");
    let o = run(&["change", &f, "--measure", "PHQ-9"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("line 3") && e.contains("'pre'") && e.contains("'99'") && e.contains("0 to 27"),
        "{e}"
    );
    // Fewer than 2 paired cases.
    let f = write(&dir, "b.csv", b"pre,post\n12,5\n13,NA\n");
    let o = run(&["change", &f, "--measure", "PHQ-9"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // Zero pre SD.
    let f = write(&dir, "c.csv", b"pre,post\n12,5\n12,8\n12,6\n");
    let o = run(&["change", &f, "--measure", "PHQ-9"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("SD 0"), "{}", stderr(&o));
    // Reliability outside (0, 1).
    let f = write(&dir, "d.csv", b"pre,post\n12,5\n14,8\n16,6\n");
    for r in ["1.5", "0", "-0.2"] {
        let o = run(&["change", &f, "--better", "lower", "--reliability", r]);
        assert_eq!(o.status.code(), Some(2), "reliability {r}");
        assert!(stderr(&o).contains("between 0 and 1"), "{}", stderr(&o));
    }
    // No direction.
    let o = run(&["change", &f, "--reliability", "0.8"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--better"));
    // Unknown measure, method, cut-off.
    for args in [["--measure", "PHQ-99"], ["--rci", "XX"], ["--cutoff", "z"]] {
        let mut a = vec![
            "change",
            f.as_str(),
            "--better",
            "lower",
            "--reliability",
            "0.8",
        ];
        a.extend(args);
        let o = run(&a);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
    // Cut-off b without norms.
    let o = run(&["change", &f, "--measure", "PHQ-9", "--cutoff", "b"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--norm-mean"), "{}", stderr(&o));
}

#[test]
fn user_defined_measure_in_the_spec() {
    let dir = tempdir("specmeasure");
    let data = write(
        &dir,
        "d.csv",
        b"before,after\n30,45\n25,40\n35,38\n28,30\n33,52\n",
    );
    let spec = write(
        &dir,
        "s.toml",
        b"[roles]\npre = \"before\"\npost = \"after\"\n[measure]\nname = \"MyWellbeing\"\nmin = 10\nmax = 60\nbetter = \"higher\"\nreliability = 0.85\ncutoff = 40\n",
    );
    let j = json(&["change", &data, "--spec", &spec, "--format", "json"]);
    assert_eq!(j["measure"]["name"], "MyWellbeing");
    assert_eq!(j["conventions"]["direction"], "higher");
    assert_eq!(j["cutoff"]["value"], 40.0);
    assert!(
        num(&j["effect_sizes"]["g_pre"]["estimate"]) > 0.0,
        "higher is better: gains are positive"
    );
    let bad = write(&dir, "bad.csv", b"before,after\n30,45\n25,70\n");
    let o = run(&["change", &bad, "--spec", &spec]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 3"), "{}", stderr(&o));
}
