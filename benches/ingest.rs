//! Throughput of one-pass CSV ingest (issue 9's 200 MB/s target): reading,
//! checking (UTF-8, no NUL), hashing (SHA-256), splitting records and typing
//! every column (numbers parsed, text coded, client IDs as 128-bit IDs), with
//! the rows handed to a consumer that does nothing with them, so the figure
//! is the reader's alone. `benches/variance_scale.sh` times the whole
//! `summarise` (reading and accumulating) on the same file. Not a test: run
//! in release mode on a file from `outcomes simulate`:
//!
//! ```text
//! OUTCOMES_INGEST_FILE=/tmp/outcomes-scale/big.csv \
//!   cargo test --release --bench ingest -- --ignored --nocapture
//! ```

use outcomes::data::stream::{self, Kind};
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

#[test]
#[ignore]
fn csv_ingest_throughput() {
    let path = PathBuf::from(
        std::env::var("OUTCOMES_INGEST_FILE")
            .unwrap_or_else(|_| "/tmp/outcomes-scale/big.csv".into()),
    );
    let bytes = std::fs::metadata(&path).expect("the file exists").len() as f64;
    let head = stream::head(&path).expect("head");
    // numbers as numbers; a text column whose head values are all distinct
    // (a client ID) as IDs; other text as codes
    let cols: Vec<(usize, Kind)> = head
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let kind = if c.is_numeric() {
                Kind::Num
            } else {
                let distinct: HashSet<Option<String>> =
                    (0..head.nrows()).map(|r| c.text(r)).collect();
                if distinct.len() == head.nrows() {
                    Kind::Id { numeric: false }
                } else {
                    Kind::Key
                }
            };
            (i, kind)
        })
        .collect();
    for round in 0..3 {
        let start = Instant::now();
        let mut rows = 0usize;
        let s = stream::read(&path, &head, &cols, |chunk, _| {
            rows += chunk.rows();
            Ok(())
        })
        .expect("read");
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(rows, s.rows_read);
        println!(
            "round {round}: {rows} rows, {:.0} MB in {secs:.2} s: {:.0} MB/s ({:.0} MiB/s), {} threads",
            bytes / 1e6,
            bytes / 1e6 / secs,
            bytes / 1048576.0 / secs,
            rayon::current_num_threads()
        );
    }
}
