//! `outcomes inspect` and the input layer every command shares, driven
//! through the binary as a user would.

mod common;
use common::*;

#[test]
fn metapsy_depression_loads_as_is_with_900_rows() {
    let Some(shared) = shared() else { return };
    let path = shared.join("datasets/metapsy/data-depression-psyctr.data.csv");
    let j = json(&["inspect", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(j["command"], "inspect");
    assert_eq!(j["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(j["input"]["rows_read"], 900);
    assert_eq!(j["input"]["rows_used"], 900);
    assert_eq!(j["input"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(j["format"]["delimiter"], ";");
    assert_eq!(j["format"]["decimal_comma"], true);
    let cols = j["columns"].as_array().unwrap();
    let col = |n: &str| {
        cols.iter()
            .find(|c| c["name"] == n)
            .unwrap_or_else(|| panic!("{n}"))
    };
    assert_eq!(col("...1")["dtype"], "integer", "R's unnamed row index");
    assert_eq!(col("study")["dtype"], "string");
    assert_eq!(col(".g")["dtype"], "float");
    assert_eq!(col(".g_se")["dtype"], "float");
    assert_eq!(col("year")["dtype"], "integer");
    assert_eq!(col("mean_arm1")["dtype"], "float");
    // Missing values written as NA are counted, not read as text.
    assert!(col("mean_arm1")["missing"].as_u64().unwrap() > 0);
    assert!(j["privacy"]["direct_identifiers"].is_array());
    assert!(j["privacy"]["k_anonymity"].is_null());
}

#[test]
fn every_shared_dataset_loads() {
    let Some(shared) = shared() else { return };
    let mut n = 0;
    for dir in ["metapsy", "metadat", "lme4"] {
        for entry in std::fs::read_dir(shared.join("datasets").join(dir)).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().and_then(|e| e.to_str()) != Some("csv") {
                continue;
            }
            let o = run(&["inspect", p.to_str().unwrap(), "--format", "json"]);
            assert_eq!(o.status.code(), Some(0), "{}: {}", p.display(), stderr(&o));
            n += 1;
        }
    }
    assert!(
        n >= 40,
        "expected the metapsy, metadat and lme4 files, read {n}"
    );
}

#[test]
fn text_in_a_number_role_names_line_column_and_value() {
    let dir = tempdir("abc");
    let mut csv = String::from("client,therapist,pre,post\n");
    for i in 0..1500 {
        // Data row i sits on line i + 2; line 1234 holds row 1232.
        let post = if i + 2 == 1234 {
            "abc".to_string()
        } else {
            (i % 20).to_string()
        };
        csv.push_str(&format!("C{i},T{},{},{post}\n", i % 30, 10 + i % 15));
    }
    let f = write(&dir, "clinic.csv", csv.as_bytes());
    let o = run(&["inspect", &f]);
    assert_eq!(o.status.code(), Some(2), "stdout: {}", stdout(&o));
    let e = stderr(&o);
    assert!(e.contains("line 1234"), "{e}");
    assert!(e.contains("'post'"), "{e}");
    assert!(e.contains("'abc'"), "{e}");
    assert!(e.contains("clinic.csv"), "{e}");
    assert!(e.contains("expected a number"), "{e}");
    assert!(!e.contains("panicked"));
}

#[test]
fn problems_are_collected_up_to_twenty() {
    let dir = tempdir("ragged");
    let mut csv = String::from("a,b\n");
    for i in 0..30 {
        csv.push_str(&format!("{i}\n"));
    }
    let f = write(&dir, "ragged.csv", csv.as_bytes());
    let o = run(&["inspect", &f]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert_eq!(e.matches("fields but the header has 2").count(), 20, "{e}");
    assert!(e.contains("stopped after 20 problems"), "{e}");
    assert!(e.contains("line 2") && e.contains("line 21"), "{e}");
}

#[test]
fn bad_paths_and_extensions_are_exit_2() {
    let o = run(&["inspect", "/nonexistent/clinic.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no such file"));
    let dir = tempdir("ext");
    let f = write(&dir, "clinic.sav", b"x");
    let o = run(&["inspect", &f]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(".parquet"),
        "lists accepted formats: {}",
        stderr(&o)
    );
}

#[test]
fn demo_data_when_no_data_given() {
    let j = json(&["inspect", "--format", "json"]);
    assert!(j["input"]["path"]
        .as_str()
        .unwrap()
        .contains("demo-clinic.csv"));
    let rows = j["input"]["rows_read"].as_u64().unwrap();
    assert!(rows >= 1000, "{rows}");
    for role in [
        "client",
        "therapist",
        "site",
        "technique",
        "alliance",
        "pre",
        "post",
    ] {
        assert_eq!(j["roles"][role]["column"], role, "{role} recognised");
        assert_eq!(j["roles"][role]["source"], "detected");
    }
    assert!(j["groups"]["therapist"]["levels"].as_u64().unwrap() >= 2);
    assert!(j["privacy"]["direct_identifiers"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(j["privacy"]["small_caseloads"].is_object());
}

#[test]
fn table_output_shows_the_role_mapping() {
    let o = run(&["inspect", "--therapist", "site"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.contains("therapist  = site (from flag)"), "{s}");
    assert!(
        s.contains("client     = client (recognised by name)"),
        "{s}"
    );
    assert!(s.contains("Privacy audit"), "{s}");
}

#[test]
fn where_filter_counts_exclusions() {
    let j = json(&[
        "inspect",
        "--where",
        "technique = 'CBT' AND pre >= 10",
        "--format",
        "json",
    ]);
    let read = j["input"]["rows_read"].as_u64().unwrap();
    let used = j["input"]["rows_used"].as_u64().unwrap();
    assert!(used > 0 && used < read, "{used} of {read}");
    assert_eq!(j["excluded"][0]["rows"].as_u64().unwrap(), read - used);
    let o = run(&["inspect", "--where", "nosuch = 1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nosuch"), "{}", stderr(&o));
}

#[test]
fn where_filter_on_metapsy_text_columns() {
    let Some(shared) = shared() else { return };
    let path = shared.join("datasets/metapsy/data-depression-psyctr.data.csv");
    let j = json(&[
        "inspect",
        path.to_str().unwrap(),
        "--where",
        "time = 'post' AND condition_arm2 = 'wl'",
        "--format",
        "json",
    ]);
    let used = j["input"]["rows_used"].as_u64().unwrap();
    assert!(used > 50 && used < 900, "{used}");
}

#[test]
fn long_data_become_one_row_per_client() {
    let dir = tempdir("long");
    let f = write(
        &dir,
        "sessions.csv",
        b"client,therapist,session,phq9\nA,T1,1,20\nA,T1,2,15\nA,T1,3,9\nB,T1,1,18\nB,T1,2,NA\nC,T2,1,12\nC,T2,2,10\n",
    );
    let j = json(&[
        "inspect", &f, "--client", "client", "--time", "session", "--score", "phq9", "--format",
        "json",
    ]);
    assert_eq!(j["long"], true);
    assert_eq!(j["input"]["rows_read"], 7);
    assert_eq!(j["input"]["rows_used"], 3);
    let cols = j["columns"].as_array().unwrap();
    let names: Vec<&str> = cols.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "client",
            "therapist",
            "pre",
            "post",
            "sessions",
            "scored_sessions"
        ]
    );
    let post = cols.iter().find(|c| c["name"] == "post").unwrap();
    assert_eq!(post["missing"], 1, "B has one scored session");
    assert_eq!(post["min"], 9.0);
    assert_eq!(j["roles"]["pre"]["column"], "pre");
}

#[test]
fn spreadsheet_fixture_loads_with_types_and_dates() {
    let f = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/clinic.xlsx");
    let j = json(&["inspect", f, "--format", "json"]);
    assert_eq!(j["input"]["rows_read"], 4);
    let cols = j["columns"].as_array().unwrap();
    let col = |n: &str| cols.iter().find(|c| c["name"] == n).unwrap().clone();
    assert_eq!(
        col("pre")["dtype"],
        "integer",
        "'21' stored as text still reads as a number"
    );
    assert_eq!(col("alliance")["missing"], 1, "'NA' is missing");
    assert_eq!(col("post")["missing"], 1, "an empty cell is missing");
    let ids = j["privacy"]["direct_identifiers"].as_array().unwrap();
    assert!(
        ids.iter()
            .any(|d| d["column"] == "referral" && d["kind"] == "full_date"),
        "Excel dates are full dates: {ids:?}"
    );
    let j = json(&["inspect", f, "--sheet", "Notes", "--format", "json"]);
    assert_eq!(j["input"]["rows_read"], 1);
    let o = run(&["inspect", f, "--sheet", "Nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("Export"),
        "lists sheets: {}",
        stderr(&o)
    );
}

#[test]
fn spec_file_sets_roles_filter_and_quasi_identifiers() {
    let dir = tempdir("spec");
    let data = write(
        &dir,
        "d.csv",
        b"id_code,clin,first,last,age_band,gender\n1,A,10,5,18-25,f\n2,A,12,6,18-25,f\n3,B,14,7,26-35,m\n",
    );
    let spec = write(
        &dir,
        "study.toml",
        "[data]\npath = \"d.csv\"\nwhere = \"first > 10\"\n[roles]\nclient = \"id_code\"\ntherapist = \"clin\"\npre = \"first\"\npost = \"last\"\n[privacy]\nquasi_identifiers = [\"age_band\", \"gender\"]\n"
            .as_bytes(),
    );
    let j = json(&["inspect", "--spec", &spec, "--format", "json"]);
    assert!(
        j["input"]["path"].as_str().unwrap().ends_with("d.csv"),
        "data path from the spec"
    );
    assert_eq!(j["roles"]["therapist"]["column"], "clin");
    assert_eq!(j["roles"]["therapist"]["source"], "spec");
    assert_eq!(j["input"]["rows_used"], 2);
    assert_eq!(j["privacy"]["k_anonymity"], 1);
    // Flags win over the spec.
    let j = json(&[
        "inspect",
        &data,
        "--spec",
        &spec,
        "--therapist",
        "gender",
        "--format",
        "json",
    ]);
    assert_eq!(j["roles"]["therapist"]["column"], "gender");
    assert_eq!(j["roles"]["therapist"]["source"], "flag");
    // A typo in the spec is exit 2 with its line.
    let bad = write(
        &dir,
        "bad.toml",
        b"[roles]\nclient = \"id_code\"\ntherapst = \"clin\"\n",
    );
    let o = run(&["inspect", &data, "--spec", &bad]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 3"), "{}", stderr(&o));
}

#[test]
fn the_example_spec_in_datasets_works() {
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/study.example.toml");
    let j = json(&["inspect", "--spec", spec, "--format", "json"]);
    assert!(j["input"]["rows_used"].as_u64().unwrap() < j["input"]["rows_read"].as_u64().unwrap());
    assert!(j["privacy"]["k_anonymity"].as_u64().unwrap() >= 1);
}

#[test]
fn identifiers_are_reported_without_their_values() {
    let dir = tempdir("ident");
    let mut csv = String::from("client,contact,therapist,pre,post\n");
    for i in 0..20 {
        csv.push_str(&format!(
            "C{i},person{i}@example.org,T{},{},{}\n",
            i % 3,
            12 + i % 5,
            6 + i % 4
        ));
    }
    let f = write(&dir, "clinic.csv", csv.as_bytes());
    let o = run(&["inspect", &f, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(!out.contains("@example.org"), "never echo identifiers");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids = j["privacy"]["direct_identifiers"].as_array().unwrap();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(ids[0]["column"], "contact");
    assert_eq!(ids[0]["kind"], "email");
}

#[test]
fn output_file_is_written_and_matches_stdout() {
    let dir = tempdir("out");
    let target = dir.join("inspect.json");
    let o = run(&[
        "inspect",
        "--format",
        "json",
        "-o",
        target.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    let file = std::fs::read(&target).unwrap();
    let direct = run(&["inspect", "--format", "json"]);
    assert_eq!(file, direct.stdout);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary files left: {names:?}");
}

#[test]
fn parquet_round_trip_matches_csv() {
    let dir = tempdir("parquet");
    let csv = dir.join("s.csv");
    let pq = dir.join("s.parquet");
    for f in [&csv, &pq] {
        let o = run(&[
            "simulate",
            "--seed",
            "11",
            "--clients",
            "300",
            "--therapists",
            "12",
            "--sites",
            "3",
            "-o",
            f.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let a = json(&["inspect", csv.to_str().unwrap(), "--format", "json"]);
    let b = json(&["inspect", pq.to_str().unwrap(), "--format", "json"]);
    assert_eq!(b["format"]["type"], "parquet");
    assert_eq!(a["input"]["rows_read"], b["input"]["rows_read"]);
    assert_eq!(
        a["columns"], b["columns"],
        "same names, types, missingness and ranges"
    );
    assert_eq!(a["groups"], b["groups"]);
    // A file that is not Parquet is a clear input error.
    let fake = write(&dir, "fake.parquet", b"client,pre\n1,2\n");
    let o = run(&["inspect", &fake]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Parquet"), "{}", stderr(&o));
}

#[test]
fn help_texts_exist_for_every_command() {
    for args in [
        vec!["--help"],
        vec!["inspect", "--help"],
        vec!["simulate", "--help"],
        vec!["--version"],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert!(!o.stdout.is_empty());
    }
    let o = run(&["inspect", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2), "usage errors are exit 2");
}
