//! Privacy (issue 10; science.md §6): the small-number rule with secondary
//! suppression, checked on a table where a total would reveal a suppressed
//! cell, on the demo clinic by therapist, and as a property of
//! `suppress_table` on random tables; and no client ID in any JSON object or
//! report file.
mod common;

use common::{json, run, stderr, tempdir, write};
use outcomes::stats::suppress::{suppress_table, Shown};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::HashSet;

const CATEGORIES: [&str; 5] = [
    "recovered",
    "improved",
    "unchanged",
    "deteriorated",
    "harmed",
];

fn is_star(v: &Value) -> bool {
    v == "*"
}

/// The displayed grid of a `change --by ... --suppress` object: one line per
/// group (its categories and its n) and one per category (the groups' counts
/// and the total's). A line with exactly one `*` would let its total reveal
/// the suppressed count; every shown count must be a multiple of 5.
fn check_grid(j: &Value) -> usize {
    let groups = j["groups"].as_array().expect("groups");
    let total = &j["categories"];
    let mut stars = 0;
    for g in groups {
        let c = &g["categories"];
        let line: Vec<&Value> = CATEGORIES.iter().map(|k| &c[*k]).chain([&c["n"]]).collect();
        let k = line.iter().filter(|v| is_star(v)).count();
        stars += k;
        assert_ne!(
            k, 1,
            "group {}: one suppressed entry, revealed by its total",
            g["group"]
        );
    }
    for cat in CATEGORIES.iter().chain(["n"].iter()) {
        let line: Vec<&Value> = groups
            .iter()
            .map(|g| &g["categories"][*cat])
            .chain([&total[*cat]])
            .collect();
        let k = line.iter().filter(|v| is_star(v)).count();
        assert_ne!(k, 1, "{cat}: one suppressed entry, revealed by the total");
        for v in line {
            let shown = match v {
                Value::String(s) if s != "*" => s.parse::<u64>().ok(),
                Value::Number(n) => n.as_u64(),
                _ => None,
            };
            if let Some(x) = shown {
                assert!(x % 5 == 0 && !(1..=7).contains(&x), "{cat}: {x} shown");
            }
        }
    }
    stars
}

#[test]
fn a_total_never_reveals_a_suppressed_cell() {
    // Therapist T1: 10 recovered, 12 unchanged and 3 who deteriorated. Shown
    // alone, the 3 would be `*` but T1's total (25) minus the others would
    // give it back, so a second cell of T1 must be suppressed too; and the
    // deteriorated column's total would reveal it from the other therapists.
    let dir = tempdir("privacy-secondary");
    let mut csv = String::from("client,therapist,pre,post\n");
    let mut id = 0;
    let mut add = |t: &str, pre: u32, post: u32, k: usize| {
        for _ in 0..k {
            id += 1;
            csv.push_str(&format!("C{id:04},{t},{pre},{post}\n"));
        }
    };
    add("T1", 20, 5, 10);
    add("T1", 15, 14, 12);
    add("T1", 12, 21, 3);
    add("T2", 20, 5, 15);
    add("T2", 15, 14, 15);
    add("T2", 25, 15, 10);
    add("T3", 22, 6, 20);
    add("T3", 16, 15, 20);
    add("T3", 24, 14, 12);
    let file = write(&dir, "clinic.csv", csv.as_bytes());
    let j = json(&[
        "change",
        &file,
        "--measure",
        "PHQ-9",
        "--by",
        "therapist",
        "--suppress",
        "--format",
        "json",
    ]);
    let t1 = &j["groups"][0];
    assert_eq!(t1["group"], "T1");
    assert_eq!(t1["categories"]["deteriorated"], "*", "primary: 3 clients");
    let t1_stars = CATEGORIES
        .iter()
        .filter(|k| is_star(&t1["categories"][**k]))
        .count();
    assert!(t1_stars >= 2, "secondary suppression in T1's row: {t1}");
    assert_eq!(
        j["categories"]["deteriorated"], "*",
        "the column total would reveal T1's 3"
    );
    check_grid(&j);
    // The text table shows the same cells.
    let o = run(&[
        "change",
        &file,
        "--measure",
        "PHQ-9",
        "--by",
        "therapist",
        "--suppress",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn demo_clinic_by_therapist_has_no_revealing_line() {
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
    assert!(check_grid(&j) > 0, "the demo has small counts to suppress");
}

/// The table proptest found: a row total hidden to protect the column of
/// row totals was the only hidden entry of its own row, so the row's shown
/// cells gave it back (and with it, through the grand total, the 1).
#[test]
fn a_hidden_total_gets_a_partner_in_its_own_line() {
    use Shown::{Count, Suppressed};
    let t = suppress_table(&[vec![0, 8], vec![1, 0]], true, true);
    assert_eq!(t.row_totals, Some(vec![Suppressed, Suppressed]));
    assert_eq!(
        t.cells,
        vec![vec![Count(0), Suppressed], vec![Suppressed, Count(0)]]
    );
    assert_eq!(t.secondary, vec![(0, 1)]);
    assert_eq!(t.col_totals, Some(vec![Suppressed, Suppressed]));
    assert_eq!(t.grand_total, Some(Count(10)));
}

fn small_heavy_count() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), 1u64..8, 8u64..40]
}

proptest! {
    #![proptest_config(common::proptest_config(500))]

    /// On any table: every 1–7 is `*`, every shown count is a multiple of 5
    /// (a rounded count), and no row or column whose total is shown (totals
    /// included as entries) has exactly one `*`.
    #[test]
    fn suppression_leaves_no_line_with_one_hidden_entry(
        counts in (1usize..6, 1usize..6).prop_flat_map(|(r, c)| {
            prop::collection::vec(prop::collection::vec(small_heavy_count(), c), r)
        }),
        row_totals in any::<bool>(),
        col_totals in any::<bool>(),
    ) {
        let t = suppress_table(&counts, row_totals, col_totals);
        for (row, shown) in counts.iter().zip(&t.cells) {
            for (&count, &cell) in row.iter().zip(shown) {
                if (1..=7).contains(&count) {
                    prop_assert_eq!(cell, Shown::Suppressed);
                }
                if let Shown::Count(x) = cell {
                    prop_assert_eq!(x % 5, 0);
                }
            }
        }
        let star = |s: &Shown| usize::from(*s == Shown::Suppressed);
        if let Some(rt) = &t.row_totals {
            for (i, (cells, total)) in t.cells.iter().zip(rt).enumerate() {
                let k: usize = cells.iter().map(star).sum::<usize>() + star(total);
                prop_assert_ne!(k, 1, "row {} of {:?}: {:?}", i, counts, t);
            }
        }
        if let Some(ct) = &t.col_totals {
            for (j, total) in ct.iter().enumerate() {
                let k: usize = t.cells.iter().map(|row| star(&row[j])).sum::<usize>() + star(total);
                prop_assert_ne!(k, 1, "column {} of {:?}: {:?}", j, counts, t);
            }
        }
        if let (Some(rt), Some(ct), Some(g)) = (&t.row_totals, &t.col_totals, &t.grand_total) {
            let k: usize = rt.iter().map(star).sum::<usize>() + star(g);
            prop_assert_ne!(k, 1, "the column of row totals: {:?}", t);
            let k: usize = ct.iter().map(star).sum::<usize>() + star(g);
            prop_assert_ne!(k, 1, "the row of column totals: {:?}", t);
        }
    }
}

/// Every string in a JSON value.
fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k);
            strings(x, out)
        }),
        _ => {}
    }
}

fn demo_client_ids() -> HashSet<String> {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/demo-clinic.csv"),
    )
    .unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect()
}

#[test]
fn no_client_id_in_any_json_or_report_file() {
    let ids = demo_client_ids();
    assert!(ids.contains("C0001"));
    let dir = tempdir("privacy-ids");
    let summary = dir.join("demo.summary.json");
    let report = dir.join("report");
    let mut objects: Vec<(String, Value)> = vec![];
    for args in [
        vec!["change", "--measure", "PHQ-9", "--format", "json"],
        vec![
            "change",
            "--measure",
            "PHQ-9",
            "--by",
            "technique",
            "--format",
            "json",
        ],
        vec!["variance", "--bootstrap", "20", "--format", "json"],
        vec![
            "lmm",
            "--formula",
            "post ~ pre + (1 | therapist)",
            "--ranef",
            "--format",
            "json",
        ],
        vec!["inspect", "--format", "json"],
    ] {
        objects.push((args.join(" "), json(&args)));
    }
    let o = run(&["summarise", "-o", summary.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    objects.push((
        "summarise".into(),
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap(),
    ));
    let o = run(&[
        "report",
        "--bootstrap",
        "20",
        "--out",
        report.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    objects.push((
        "report results.json".into(),
        serde_json::from_slice(&std::fs::read(report.join("results.json")).unwrap()).unwrap(),
    ));
    for (what, v) in &objects {
        let mut s = Vec::new();
        strings(v, &mut s);
        let leaked: Vec<&&str> = s.iter().filter(|x| ids.contains(**x)).collect();
        assert!(leaked.is_empty(), "{what} lists client IDs: {leaked:?}");
    }
    // The report's tables and text, cell by cell and word by word.
    for entry in std::fs::read_dir(report.join("tables")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for cell in text.split(|c: char| c == ',' || c == '&' || c.is_whitespace()) {
            assert!(
                !ids.contains(cell.trim_matches('"')),
                "a table cell is a client ID"
            );
        }
    }
    for name in ["report.md", "index.html"] {
        let text = std::fs::read_to_string(report.join(name)).unwrap();
        for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
            assert!(!ids.contains(word), "{name} holds the client ID {word}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
