//! A tiny reader for R's `write.csv` output, shared by tests/lmm_golden.rs
//! and benches/lmm_speed.rs: quoted cells make a factor (levels sorted, R's
//! default for character columns), unquoted cells numbers, exactly as R read
//! the lme4 datasets when it produced the reference values.

use outcomes::stats::lmm::Frame;
use std::path::Path;

pub fn read_r_csv(path: &Path) -> Frame {
    let text = std::fs::read_to_string(path).expect("read csv");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("a header line")
        .split(',')
        .map(|s| s.trim_matches('"').to_string())
        .collect();
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); header.len()];
    let mut quoted = vec![false; header.len()];
    for line in lines.filter(|l| !l.is_empty()) {
        for (j, cell) in line.split(',').enumerate() {
            quoted[j] |= cell.starts_with('"');
            cols[j].push(cell.trim_matches('"').to_string());
        }
    }
    let mut f = Frame::new(cols[0].len());
    for (j, name) in header.iter().enumerate() {
        if quoted[j] {
            f.add_strings(name, &cols[j]).expect("factor column");
        } else {
            let v = cols[j]
                .iter()
                .map(|s| s.parse().expect("a number"))
                .collect();
            f.add_num(name, v).expect("numeric column");
        }
    }
    f
}
