//! Small-number disclosure control for clinic reports (science.md §6; NHS
//! Digital's rule for sub-national statistics, as applied to the NHS Talking
//! Therapies / IAPT publications):
//!
//! * a count of 1 to 7 is shown as `*` (primary suppression);
//! * every other count is rounded to the nearest 5 (0 stays 0);
//! * percentages are computed from the rounded counts;
//! * a mean or median based on 1 to 7 people is suppressed;
//! * secondary suppression: a line (a row or column with its total) is
//!   its entries and its total. When exactly one of them is suppressed, the
//!   others would reveal it (the total minus the shown entries, or the sum of
//!   the entries when the total is the hidden one), so the next smallest entry
//!   of that line is suppressed too (a non-zero one if there is one; ties go
//!   to the first); when there is no other entry, the total is suppressed
//!   instead. This repeats until no line has exactly one suppressed member.
//!   Totals are entries of the perpendicular line of totals, so they are
//!   protected the same way.
//!
//! The functions take plain counts and return display values; which cells
//! were suppressed primarily and secondarily is reported so the output can
//! say so.

use serde::ser::{Serialize, Serializer};
use std::fmt;

/// Smallest and largest counts that are suppressed.
pub const SMALL_MIN: u64 = 1;
pub const SMALL_MAX: u64 = 7;
/// Counts are rounded to the nearest multiple of this.
pub const ROUND_TO: u64 = 5;

/// A count as displayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// A rounded count.
    Count(u64),
    /// `*`.
    Suppressed,
}

impl Shown {
    pub fn value(self) -> Option<u64> {
        match self {
            Shown::Count(v) => Some(v),
            Shown::Suppressed => None,
        }
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Count(v) => write!(f, "{v}"),
            Shown::Suppressed => f.write_str("*"),
        }
    }
}

/// JSON: the rounded number, or the string `"*"`.
impl Serialize for Shown {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Shown::Count(v) => s.serialize_u64(*v),
            Shown::Suppressed => s.serialize_str("*"),
        }
    }
}

/// Whether a count is small enough to suppress (1 to 7).
pub fn is_small(n: u64) -> bool {
    (SMALL_MIN..=SMALL_MAX).contains(&n)
}

/// Rounds to the nearest multiple of 5 (counts are integers, so there are no
/// ties: remainders 0–2 round down, 3–4 up).
pub fn round5(n: u64) -> u64 {
    (n + ROUND_TO / 2) / ROUND_TO * ROUND_TO
}

/// A single count with primary suppression and rounding.
pub fn suppress_count(n: u64) -> Shown {
    if is_small(n) {
        Shown::Suppressed
    } else {
        Shown::Count(round5(n))
    }
}

/// Percentage from the displayed (rounded) counts; None when either is
/// suppressed or the denominator is 0.
pub fn percent(numerator: Shown, denominator: Shown) -> Option<f64> {
    match (numerator, denominator) {
        (Shown::Count(a), Shown::Count(b)) if b > 0 => Some(100.0 * a as f64 / b as f64),
        _ => None,
    }
}

/// A mean, median or other statistic of `n` people: None when n is 1 to 7
/// (or 0, when there is nothing to show).
pub fn suppress_statistic(value: f64, n: u64) -> Option<f64> {
    (n > SMALL_MAX).then_some(value)
}

/// A table of counts after suppression.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SuppressedTable {
    pub cells: Vec<Vec<Shown>>,
    /// One per row, when row totals are shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row_totals: Option<Vec<Shown>>,
    /// One per column, when column totals are shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub col_totals: Option<Vec<Shown>>,
    /// Shown when both row and column totals are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grand_total: Option<Shown>,
    /// Cells (row, column) suppressed because they are 1–7.
    pub primary: Vec<(usize, usize)>,
    /// Cells (row, column) suppressed to protect another cell.
    pub secondary: Vec<(usize, usize)>,
    /// Rows whose total was suppressed (primary or secondary).
    pub suppressed_row_totals: Vec<usize>,
    /// Columns whose total was suppressed (primary or secondary).
    pub suppressed_col_totals: Vec<usize>,
}

/// Suppresses a table of counts (rows of equal length), with row totals
/// and/or column totals shown as requested.
///
/// Panics if the rows have different lengths (a programming error).
pub fn suppress_table(counts: &[Vec<u64>], row_totals: bool, col_totals: bool) -> SuppressedTable {
    let r = counts.len();
    let c = counts.first().map_or(0, Vec::len);
    assert!(
        counts.iter().all(|row| row.len() == c),
        "suppress_table: rows of different lengths"
    );
    let rt = usize::from(row_totals);
    let ct = usize::from(col_totals);
    let (gr, gc) = (r + ct, c + rt);
    // The augmented grid: cells, a column of row totals, a row of column
    // totals, and the grand total in the corner.
    let mut grid = vec![vec![0u64; gc]; gr];
    for i in 0..r {
        for j in 0..c {
            grid[i][j] = counts[i][j];
        }
        if row_totals {
            grid[i][c] = counts[i].iter().sum();
        }
    }
    if col_totals {
        let sums: Vec<u64> = (0..gc)
            .map(|j| grid[..r].iter().map(|row| row[j]).sum())
            .collect();
        grid[r] = sums;
    }
    let exists = |i: usize, j: usize| -> bool {
        // The corner exists only when both kinds of total are shown.
        !(i == r && j == c) || (row_totals && col_totals)
    };
    let mut sup = vec![vec![false; gc]; gr];
    let mut secondary_mask = vec![vec![false; gc]; gr];
    for i in 0..gr {
        for j in 0..gc {
            sup[i][j] = exists(i, j) && is_small(grid[i][j]);
        }
    }
    let primary_mask = sup.clone();

    // Lines: (members, total) as grid coordinates.
    type Line = (Vec<(usize, usize)>, (usize, usize));
    let mut lines: Vec<Line> = Vec::new();
    if row_totals {
        for i in 0..gr {
            if exists(i, c) {
                lines.push(((0..c).map(|j| (i, j)).collect(), (i, c)));
            }
        }
    }
    if col_totals {
        for j in 0..gc {
            if exists(r, j) {
                lines.push(((0..r).map(|i| (i, j)).collect(), (r, j)));
            }
        }
    }

    loop {
        let mut changed = false;
        for (members, total) in &lines {
            // The total counts as an entry of its line: a suppressed total
            // (hidden to protect the perpendicular line of totals) whose
            // members are all shown is their sum, so it needs a partner too.
            let n_sup = members.iter().filter(|&&(i, j)| sup[i][j]).count()
                + usize::from(sup[total.0][total.1]);
            if n_sup != 1 {
                continue;
            }
            // The next smallest shown entry, preferring non-zero ones.
            let pick = members
                .iter()
                .filter(|&&(i, j)| !sup[i][j])
                .min_by_key(|&&(i, j)| (grid[i][j] == 0, grid[i][j]))
                .copied();
            let (i, j) = pick.unwrap_or(*total);
            sup[i][j] = true;
            secondary_mask[i][j] = true;
            changed = true;
        }
        if !changed {
            break;
        }
    }

    let show = |i: usize, j: usize| {
        if sup[i][j] {
            Shown::Suppressed
        } else {
            Shown::Count(round5(grid[i][j]))
        }
    };
    let mut primary = Vec::new();
    let mut secondary = Vec::new();
    for i in 0..r {
        for j in 0..c {
            if primary_mask[i][j] {
                primary.push((i, j));
            } else if secondary_mask[i][j] {
                secondary.push((i, j));
            }
        }
    }
    SuppressedTable {
        cells: (0..r)
            .map(|i| (0..c).map(|j| show(i, j)).collect())
            .collect(),
        row_totals: row_totals.then(|| (0..r).map(|i| show(i, c)).collect()),
        col_totals: col_totals.then(|| (0..c).map(|j| show(r, j)).collect()),
        grand_total: (row_totals && col_totals).then(|| show(r, c)),
        primary,
        secondary,
        suppressed_row_totals: if row_totals {
            (0..r).filter(|&i| sup[i][c]).collect()
        } else {
            Vec::new()
        },
        suppressed_col_totals: if col_totals {
            (0..c).filter(|&j| sup[r][j]).collect()
        } else {
            Vec::new()
        },
    }
}

/// One row of counts whose total is shown (e.g. the outcome categories of
/// one therapist): the cells, the total, and which cells were secondarily
/// suppressed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SuppressedRow {
    pub cells: Vec<Shown>,
    pub total: Shown,
    pub secondary: Vec<usize>,
}

/// [`suppress_table`] for a single row with its total.
pub fn suppress_row(counts: &[u64]) -> SuppressedRow {
    let t = suppress_table(&[counts.to_vec()], true, false);
    SuppressedRow {
        cells: t.cells[0].clone(),
        total: t.row_totals.as_ref().unwrap()[0],
        secondary: t.secondary.iter().map(|&(_, j)| j).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_and_primary() {
        assert_eq!(round5(0), 0);
        assert_eq!(round5(8), 10);
        assert_eq!(round5(12), 10);
        assert_eq!(round5(13), 15);
        assert_eq!(round5(22), 20);
        assert_eq!(suppress_count(0), Shown::Count(0));
        assert_eq!(suppress_count(1), Shown::Suppressed);
        assert_eq!(suppress_count(7), Shown::Suppressed);
        assert_eq!(suppress_count(8), Shown::Count(10));
        assert_eq!(suppress_statistic(3.5, 7), None);
        assert_eq!(suppress_statistic(3.5, 8), Some(3.5));
        assert_eq!(percent(Shown::Count(10), Shown::Count(40)), Some(25.0));
        assert_eq!(percent(Shown::Suppressed, Shown::Count(40)), None);
        assert_eq!(serde_json::to_string(&Shown::Suppressed).unwrap(), "\"*\"");
        assert_eq!(serde_json::to_string(&Shown::Count(15)).unwrap(), "15");
    }
}
