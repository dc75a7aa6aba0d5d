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

/// The one-pass reader against the in-memory loader (a differential
/// target): the same bytes, written to a file, must give the same rows,
/// values, lines and hash through `data::stream` as through `data::load`, or
/// an error from both. The first byte picks `.csv` (sniffed) or `.tsv`.
pub fn stream(data: &[u8]) {
    use crate::data::stream::{self, ChunkCol, MISSING};
    use crate::data::table::ColumnData;
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let ext = if first % 2 == 0 { "csv" } else { "tsv" };
    let path = std::env::temp_dir().join(format!("outcomes-fuzz-{}.{ext}", std::process::id()));
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    // the first byte's high bit: the default blocks (one, for inputs this
    // small), else blocks of 1 to 64 bytes, so that records straddle them
    let block = if first & 0x80 == 0 {
        8 << 20
    } else {
        1 + usize::from(first >> 1) % 64
    };
    let loaded = load::load(&path, &load::LoadOptions::default());
    let (t, s, chunks) = match (loaded, stream::read_all_in_blocks(&path, block)) {
        (Ok(t), Ok((_, s, chunks))) => (t, s, chunks),
        (Err(_), Err(_)) => return,
        (a, b) => panic!(
            "the loader and the one-pass reader disagree: {:?} vs {:?}",
            a.err().map(|e| e.to_string()),
            b.err().map(|e| e.to_string())
        ),
    };
    assert_eq!(s.sha256, t.source.sha256);
    assert_eq!(s.rows_read, t.nrows());
    let mut row = 0;
    for c in &chunks {
        for r in 0..c.rows() {
            for (j, col) in c.cols.iter().enumerate() {
                match (col, &t.columns[j].data) {
                    (ChunkCol::Num(v), ColumnData::Num(w)) => {
                        assert!(
                            v[r].to_bits() == w[row].to_bits()
                                || (v[r].is_nan() && w[row].is_nan())
                        )
                    }
                    (ChunkCol::Key(v), ColumnData::Str(w)) => {
                        let got =
                            (v[r] != MISSING).then(|| s.keys[j].names[v[r] as usize].as_str());
                        assert_eq!(got, w[row].as_deref(), "row {row}, column {j}");
                    }
                    _ => panic!("column {j} typed differently"),
                }
            }
            row += 1;
        }
        assert_eq!(s.lines(&c.pos), t.lines[row - c.rows()..row]);
    }
    assert_eq!(row, t.nrows());
}
