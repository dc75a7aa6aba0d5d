//! The in-memory table every command works on: named, typed columns plus the
//! physical line each row came from, so that any later check can still say
//! "line 1234".
//!
//! A column is numeric ([`ColumnData::Num`], missing = NaN) when every
//! non-missing cell parses as a finite number; otherwise it keeps its text
//! ([`ColumnData::Str`]). Whether a *role* needs a number is decided later
//! (`data::roles`), and a text cell in a column used as a number is reported
//! there with its line, so a stray `abc` is never silently dropped.

use serde::Serialize;

/// Missing-value tokens of the contract: empty, `NA`, `NaN`, `.`, `NULL`, `*`, `-`.
pub const MISSING_TOKENS: [&str; 7] = ["", "NA", "NaN", ".", "NULL", "*", "-"];

/// True when a raw cell (already trimmed) is a missing-value token.
pub fn is_missing_token(s: &str) -> bool {
    MISSING_TOKENS.contains(&s)
}

/// Parses a cell as a finite number. With `decimal_comma` (R's `write.csv2`)
/// the decimal separator is `,` (a `.` is then also accepted as the decimal
/// point when the cell has no comma, as `read.csv2` users expect of mixed
/// exports). Infinite and NaN spellings are not numbers here: `inf` in a
/// clinical file is an error, not a value.
pub fn parse_number(s: &str, decimal_comma: bool) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    // Only digits, sign, one separator and an exponent: rejects "inf", "nan",
    // "0x10", "1_000" which Rust's parser would otherwise take in part.
    let ok = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b',' | b'e' | b'E'));
    if !ok || !s.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: f64 = if decimal_comma && s.contains(',') {
        if s.contains('.') {
            return None;
        }
        s.replacen(',', ".", 1).parse().ok()?
    } else {
        if s.contains(',') {
            return None;
        }
        s.parse().ok()?
    };
    v.is_finite().then_some(v)
}

#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// Numbers; missing is NaN.
    Num(Vec<f64>),
    /// Text; missing is None.
    Str(Vec<Option<String>>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub data: ColumnData,
}

/// Storage type reported by `inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    Integer,
    Float,
    String,
}

impl Dtype {
    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::Integer => "integer",
            Dtype::Float => "float",
            Dtype::String => "string",
        }
    }
}

impl Column {
    pub fn num(name: impl Into<String>, v: Vec<f64>) -> Self {
        Column {
            name: name.into(),
            data: ColumnData::Num(v),
        }
    }
    pub fn str(name: impl Into<String>, v: Vec<Option<String>>) -> Self {
        Column {
            name: name.into(),
            data: ColumnData::Str(v),
        }
    }
    pub fn len(&self) -> usize {
        match &self.data {
            ColumnData::Num(v) => v.len(),
            ColumnData::Str(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn is_numeric(&self) -> bool {
        matches!(self.data, ColumnData::Num(_))
    }
    pub fn is_missing(&self, row: usize) -> bool {
        match &self.data {
            ColumnData::Num(v) => v[row].is_nan(),
            ColumnData::Str(v) => v[row].is_none(),
        }
    }
    pub fn n_missing(&self) -> usize {
        (0..self.len()).filter(|&r| self.is_missing(r)).count()
    }
    pub fn dtype(&self) -> Dtype {
        match &self.data {
            ColumnData::Num(v) => {
                if v.iter()
                    .all(|x| x.is_nan() || (x.fract() == 0.0 && x.abs() < 9.0e15))
                {
                    Dtype::Integer
                } else {
                    Dtype::Float
                }
            }
            ColumnData::Str(_) => Dtype::String,
        }
    }
    /// The numbers, if the column is numeric.
    pub fn as_num(&self) -> Option<&[f64]> {
        match &self.data {
            ColumnData::Num(v) => Some(v),
            ColumnData::Str(_) => None,
        }
    }
    /// The text of a cell as it would be written out (None when missing).
    /// Numbers print in Rust's shortest round-trip form.
    pub fn text(&self, row: usize) -> Option<String> {
        match &self.data {
            ColumnData::Num(v) => (!v[row].is_nan()).then(|| format_num(v[row])),
            ColumnData::Str(v) => v[row].clone(),
        }
    }
    /// Group key of a cell (for grouping roles: therapist, site ...), None when
    /// missing. Numeric codes print without a trailing ".0".
    pub fn key(&self, row: usize) -> Option<String> {
        self.text(row)
    }
    /// Dense category codes: 0 = missing, 1.. = distinct values in order of
    /// appearance (the groups [`Column::key`] defines: numbers by value, -0
    /// as 0), without a `String` per cell. Returns the codes and one row per
    /// code (None for 0).
    pub fn codes(&self) -> (Vec<u32>, Vec<Option<usize>>) {
        fn code<K: std::hash::Hash + Eq>(
            keys: impl Iterator<Item = Option<K>>,
            rep: &mut Vec<Option<usize>>,
        ) -> Vec<u32> {
            let mut map: super::fasthash::FastMap<K, u32> = Default::default();
            keys.enumerate()
                .map(|(row, key)| match key {
                    None => 0,
                    Some(k) => *map.entry(k).or_insert_with(|| {
                        rep.push(Some(row));
                        (rep.len() - 1) as u32
                    }),
                })
                .collect()
        }
        let mut rep: Vec<Option<usize>> = vec![None];
        let out = match &self.data {
            ColumnData::Str(v) => code(v.iter().map(|c| c.as_deref()), &mut rep),
            // + 0.0 turns -0.0 into 0.0.
            ColumnData::Num(v) => code(
                v.iter().map(|x| (!x.is_nan()).then(|| (x + 0.0).to_bits())),
                &mut rep,
            ),
        };
        (out, rep)
    }
    /// How many rows hold each distinct non-missing value (in order of first
    /// appearance, as [`Column::codes`]), and how many are missing.
    pub fn level_counts(&self) -> (Vec<usize>, usize) {
        let (codes, rep) = self.codes();
        let mut counts = vec![0usize; rep.len()];
        for &c in &codes {
            counts[c as usize] += 1;
        }
        let missing = counts.remove(0);
        (counts, missing)
    }
    /// The number of non-missing cells and the rows whose text is not a
    /// number (none for a numeric column): how nearly numeric a text column is.
    pub fn text_not_numbers(&self, decimal_comma: bool) -> (usize, Vec<usize>) {
        match &self.data {
            ColumnData::Num(v) => (v.iter().filter(|x| !x.is_nan()).count(), Vec::new()),
            ColumnData::Str(v) => {
                let mut n = 0;
                let mut bad = Vec::new();
                for (row, cell) in v.iter().enumerate() {
                    if let Some(t) = cell {
                        n += 1;
                        if parse_number(t, decimal_comma).is_none() {
                            bad.push(row);
                        }
                    }
                }
                (n, bad)
            }
        }
    }
    /// Keeps the rows where `keep` is true.
    pub fn filter(&self, keep: &[bool]) -> Column {
        let data = match &self.data {
            ColumnData::Num(v) => ColumnData::Num(pick(v, keep)),
            ColumnData::Str(v) => ColumnData::Str(pick(v, keep)),
        };
        Column {
            name: self.name.clone(),
            data,
        }
    }
    /// Rows in the given order (indices may repeat).
    pub fn take(&self, rows: &[usize]) -> Column {
        let data = match &self.data {
            ColumnData::Num(v) => ColumnData::Num(rows.iter().map(|&r| v[r]).collect()),
            ColumnData::Str(v) => ColumnData::Str(rows.iter().map(|&r| v[r].clone()).collect()),
        };
        Column {
            name: self.name.clone(),
            data,
        }
    }
}

fn pick<T: Clone>(v: &[T], keep: &[bool]) -> Vec<T> {
    v.iter()
        .zip(keep)
        .filter(|(_, &k)| k)
        .map(|(x, _)| x.clone())
        .collect()
}

/// Shortest text that reads back as the same f64; integers without ".0".
pub fn format_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else if x.is_finite() && (x.abs() >= 1e21 || (x != 0.0 && x.abs() < 1e-7)) {
        // Shortest round-trip digits in scientific form, as JavaScript and
        // R print such magnitudes ("1e308", not 309 digits).
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// File formats the loader knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Delimited,
    Parquet,
    Xlsx,
    /// Generated in memory (simulator, embedded demo data).
    Memory,
}

/// Where a table came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    /// The path as the user gave it (or `<demo>` for the embedded demo data).
    pub path: String,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
    pub format: Format,
    /// Field delimiter of a delimited file.
    pub delimiter: Option<char>,
    /// Whether numbers use a decimal comma (R's `write.csv2`).
    pub decimal_comma: bool,
    /// Data rows in the file (before any filter).
    pub rows_read: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub source: Source,
    pub columns: Vec<Column>,
    /// For each row, the 1-based physical line where its record starts
    /// (for a spreadsheet: the sheet row number).
    pub lines: Vec<u64>,
}

impl Table {
    /// A table made in memory (simulated data, tests): row r gets line r + 2,
    /// the line it would have in a CSV file with a header.
    pub fn in_memory(path: &str, columns: Vec<Column>) -> Table {
        let n = columns.first().map_or(0, Column::len);
        Table {
            source: Source {
                path: path.to_string(),
                sha256: String::new(),
                format: Format::Memory,
                delimiter: None,
                decimal_comma: false,
                rows_read: n,
            },
            columns,
            lines: (2..).take(n).collect(),
        }
    }

    pub fn nrows(&self) -> usize {
        self.lines.len()
    }
    pub fn ncols(&self) -> usize {
        self.columns.len()
    }
    pub fn names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    /// The file line of a row.
    pub fn line(&self, row: usize) -> u64 {
        self.lines[row]
    }
    /// Keeps the rows where `keep` is true (lines follow).
    pub fn filter(&self, keep: &[bool]) -> Table {
        Table {
            source: self.source.clone(),
            columns: self.columns.iter().map(|c| c.filter(keep)).collect(),
            lines: pick(&self.lines, keep),
        }
    }
    /// "a, b, c" list of column names for messages ("the file has: ...").
    pub fn names_for_message(&self) -> String {
        let names = self.names();
        let shown: Vec<String> = names.iter().take(30).map(|n| format!("'{n}'")).collect();
        let mut s = shown.join(", ");
        if names.len() > 30 {
            s.push_str(&format!(" and {} more", names.len() - 30));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_counts_group_as_key_does() {
        let nums = Column::num("t", vec![2.0, -0.0, f64::NAN, 0.0, 2.0, 1.5, 2.0]);
        assert_eq!(nums.level_counts(), (vec![3, 2, 1], 1));
        let text = Column::str(
            "t",
            vec![
                Some("b".into()),
                None,
                Some("a".into()),
                Some("b".into()),
                None,
            ],
        );
        assert_eq!(text.level_counts(), (vec![2, 1], 2));
        // the same groups as the String keys
        for col in [&nums, &text] {
            let mut keys: Vec<String> = (0..col.len()).filter_map(|r| col.key(r)).collect();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), col.level_counts().0.len());
        }
    }

    #[test]
    fn numbers_with_and_without_decimal_comma() {
        assert_eq!(
            parse_number("0,231455024943138", true),
            Some(0.231455024943138)
        );
        assert_eq!(parse_number("17,5", true), Some(17.5));
        assert_eq!(parse_number("17.5", true), Some(17.5));
        assert_eq!(parse_number("17,5", false), None);
        assert_eq!(parse_number("-1.5e3", false), Some(-1500.0));
        assert_eq!(parse_number(" 42 ", false), Some(42.0));
        for bad in [
            "abc", "inf", "Infinity", "nan", "1e999", "1,2,3", "", "+", "1.2.3", "0x1",
        ] {
            assert_eq!(parse_number(bad, true), None, "{bad}");
        }
    }

    #[test]
    fn missing_tokens_are_the_contracts() {
        for t in ["", "NA", "NaN", ".", "NULL", "*", "-"] {
            assert!(is_missing_token(t));
        }
        assert!(!is_missing_token("na"));
        assert!(!is_missing_token("0"));
    }

    #[test]
    fn dtype_and_format() {
        let c = Column::num("x", vec![1.0, f64::NAN, 3.0]);
        assert_eq!(c.dtype(), Dtype::Integer);
        assert_eq!(c.n_missing(), 1);
        assert_eq!(c.text(0).as_deref(), Some("1"));
        let c = Column::num("x", vec![1.5]);
        assert_eq!(c.dtype(), Dtype::Float);
        assert_eq!(format_num(0.1), "0.1");
    }
}
