//! The bodies of the fuzz targets (`fuzz/fuzz_targets/`, issue 10), here so
//! that `cargo test` replays every input the fuzzers ever crashed on
//! (`tests/fuzz_regressions/`) through exactly the same code without
//! nightly Rust or libFuzzer. Each function must return for any bytes; a
//! panic, or a broken invariant asserted here, is a bug.

use crate::data::filter::Filter;
use crate::data::table::{Column, Table};
use crate::data::{load, roles};

/// The delimited-table loader, then role recognition and the numeric-role
/// check, as `outcomes inspect` runs them. The first byte picks the
/// delimiter rule: sniffed (as for .csv/.txt), tab (.tsv) or forced ';'.
pub fn loader(data: &[u8]) {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let force = match first % 3 {
        0 => None,
        1 => Some(b'\t'),
        _ => Some(b';'),
    };
    let Ok(table) = load::parse_delimited("fuzz.csv", bytes, force) else {
        return;
    };
    let rows = table.lines.len();
    for column in &table.columns {
        assert_eq!(
            column.len(),
            rows,
            "column '{}' has another length",
            column.name
        );
    }
    if let Ok(found) = roles::resolve(&table, &roles::RoleNames::default(), None) {
        let _ = roles::check_numeric(&table, &found, &[]);
    }
}

/// The study spec parser (`--spec study.toml`).
pub fn spec(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = roles::Spec::parse("fuzz.toml", text);
    }
}

/// The lme4-style formula parser (`lmm --formula`); a parsed formula names
/// its response among its variables.
pub fn formula(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(f) = crate::stats::lmm::formula::parse(text) {
            assert!(f.response < f.vars.len());
        }
    }
}

/// The claims-registry parser (`replicate --claims FILE`).
pub fn claims(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::claims::parse(text, "fuzz.toml");
    }
}

/// The `--where` filter parser; a parsed filter applies to a small table.
pub fn filter(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(filter) = Filter::parse(text) {
            let table = Table::in_memory(
                "fuzz.csv",
                vec![
                    Column::num("x", vec![1.0, f64::NAN, -2.5]),
                    Column::str("g", vec![Some("a".into()), Some("b".into()), None]),
                ],
            );
            if let Ok(keep) = filter.apply(&table) {
                assert_eq!(keep.len(), 3);
            }
        }
    }
}
