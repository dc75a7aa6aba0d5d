//! Loading a data file into a [`Table`].
//!
//! Formats (chosen by extension):
//! * `.csv`, `.tsv`, `.txt`: delimited text. The delimiter is sniffed from the
//!   header among `,` `;` and tab (`.tsv` is always tab). A `;` (or tab) file
//!   whose numbers are written with a decimal comma, as R's `write.csv2`
//!   writes them, is read with `,` as the decimal separator. UTF-8 with or
//!   without a byte-order mark, quoted fields (a quoted field may span lines),
//!   LF or CRLF line ends. Missing-value tokens: see [`MISSING_TOKENS`].
//! * `.parquet`: through polars. "Line" in messages is the 1-based record number.
//! * `.xlsx`, `.xls`, `.ods`: the first worksheet (or `--sheet NAME`) through
//!   calamine; the first non-empty row is the header; "line" is the sheet row.
//!
//! Problems (ragged rows, duplicate column names, invalid UTF-8, ...) are
//! collected up to [`crate::error::MAX_PROBLEMS`] and reported with the file,
//! the 1-based line and what would be accepted (exit 2).

use super::table::{
    is_missing_token, parse_number, Column, ColumnData, Format, Source, Table, MISSING_TOKENS,
};
use crate::error::{Error, Problem, Problems, Result};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;

/// Options of the loader.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Worksheet of a spreadsheet (default: the first).
    pub sheet: Option<String>,
}

/// Lowercase hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The extensions the loader accepts, for messages.
pub const ACCEPTED: &str =
    ".csv, .tsv, .txt (delimiter ',' ';' or tab), .parquet, .xlsx, .xls, .ods";

/// Loads the file at `path` (as the user wrote it).
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Table> {
    let shown = path.display().to_string();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if !matches!(
        ext.as_str(),
        "csv" | "tsv" | "txt" | "parquet" | "xlsx" | "xls" | "ods"
    ) {
        return Err(Error::input(format!(
            "{shown}: cannot tell the format from the extension '{}'; accepted: {ACCEPTED}",
            if ext.is_empty() { "(none)" } else { &ext }
        )));
    }
    if path.is_dir() {
        return Err(Error::input(format!(
            "{shown}: is a folder, not a data file"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::input(format!("{shown}: no such file"))
        } else {
            Error::other(format!("{shown}: cannot read: {e}"))
        }
    })?;
    match ext.as_str() {
        "parquet" => load_parquet(&shown, &bytes),
        "xlsx" | "xls" | "ods" => load_spreadsheet(&shown, &bytes, opts),
        "tsv" => parse_delimited(&shown, &bytes, Some(b'\t')),
        _ => parse_delimited(&shown, &bytes, None),
    }
}

/// A cell before the column's type is known.
enum Raw {
    Missing,
    Text(String),
    Number(f64),
}

/// Builds typed columns from raw cells: numeric when every non-missing cell
/// is a number (or text that parses as one), else text.
fn build_columns(names: Vec<String>, cells: Vec<Vec<Raw>>, decimal_comma: bool) -> Vec<Column> {
    names
        .into_iter()
        .zip(cells)
        .map(|(name, col)| {
            let numeric = col.iter().all(|c| match c {
                Raw::Missing | Raw::Number(_) => true,
                Raw::Text(s) => parse_number(s, decimal_comma).is_some(),
            });
            let data = if numeric {
                ColumnData::Num(
                    col.iter()
                        .map(|c| match c {
                            Raw::Missing => f64::NAN,
                            Raw::Number(x) => *x,
                            Raw::Text(s) => parse_number(s, decimal_comma).unwrap_or(f64::NAN),
                        })
                        .collect(),
                )
            } else {
                ColumnData::Str(
                    col.into_iter()
                        .map(|c| match c {
                            Raw::Missing => None,
                            Raw::Text(s) => Some(s),
                            Raw::Number(x) => Some(super::table::format_num(x)),
                        })
                        .collect(),
                )
            };
            Column { name, data }
        })
        .collect()
}

/// The trimmed cells of one delimited column, end to end in one buffer (one
/// allocation per column rather than one per cell).
#[derive(Default)]
struct TextColumn {
    text: String,
    ends: Vec<usize>,
}

impl TextColumn {
    fn push(&mut self, cell: &str) {
        self.text.push_str(cell);
        self.ends.push(self.text.len());
    }
    fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts.zip(&self.ends).map(|(a, &b)| &self.text[a..b])
    }
}

/// Types delimited columns as [`build_columns`] does (numeric when every
/// non-missing cell parses as a number, else text), parsing each cell once
/// and allocating a `String` only for cells of text columns. Columns are
/// typed in parallel.
fn text_columns(names: Vec<String>, cells: Vec<TextColumn>, decimal_comma: bool) -> Vec<Column> {
    use rayon::prelude::*;
    names
        .into_par_iter()
        .zip(cells)
        .map(|(name, col)| {
            let mut nums = Vec::with_capacity(col.ends.len());
            let numeric = col.iter().all(|cell| {
                if is_missing_token(cell) {
                    nums.push(f64::NAN);
                    return true;
                }
                parse_number(cell, decimal_comma)
                    .map(|x| nums.push(x))
                    .is_some()
            });
            let data = if numeric {
                ColumnData::Num(nums)
            } else {
                ColumnData::Str(
                    col.iter()
                        .map(|cell| (!is_missing_token(cell)).then(|| cell.to_string()))
                        .collect(),
                )
            };
            Column { name, data }
        })
        .collect()
}

/// Header names: trimmed; an empty name becomes `...N` (N = 1-based
/// position, as readr names R's unnamed row-index column); duplicates are
/// problems.
fn header_names(file: &str, line: u64, raw: Vec<String>, problems: &mut Problems) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(raw.len());
    // name -> its 1-based column positions, in order of first appearance
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(raw.len());
    let mut positions: Vec<Vec<usize>> = Vec::new();
    for (i, name) in raw.into_iter().enumerate() {
        let name = name.trim().to_string();
        let name = if name.is_empty() {
            format!("...{}", i + 1)
        } else {
            name
        };
        match seen.get(&name) {
            Some(&k) => positions[k].push(i + 1),
            None => {
                seen.insert(name.clone(), positions.len());
                positions.push(vec![i + 1]);
            }
        }
        names.push(name);
    }
    for at in positions.iter().filter(|p| p.len() > 1) {
        let shown: Vec<String> = at.iter().take(5).map(usize::to_string).collect();
        let more = match at.len() {
            k if k > 5 => format!(" and {} more", k - 5),
            _ => String::new(),
        };
        let ok = problems.push(
            Problem::new(
                file,
                format!(
                    "duplicate column name ({} columns are called this: columns {}{more}); \
                     every column needs a distinct name",
                    at.len(),
                    shown.join(", ")
                ),
            )
            .line(line)
            .column(names[at[0] - 1].clone()),
        );
        if !ok {
            break;
        }
    }
    names
}

/// Finds the delimiter from the first record: the candidate (`,` `;` tab)
/// seen most often outside quotes; ties prefer `;` then tab then `,`.
pub(crate) fn sniff_delimiter(text: &str) -> u8 {
    let mut counts = [0usize; 3]; // ; \t ,
    let mut in_quotes = false;
    for b in text.bytes() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => break,
            b';' if !in_quotes => counts[0] += 1,
            b'\t' if !in_quotes => counts[1] += 1,
            b',' if !in_quotes => counts[2] += 1,
            _ => {}
        }
    }
    let cands = [b';', b'\t', b','];
    let mut best = 2; // ',' when the header has no delimiter at all
    for i in 0..3 {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    cands[best]
}

/// True for a cell like `17,5` or `-0,231`: a decimal-comma number.
fn looks_decimal_comma(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    match s.split_once(',') {
        Some((a, b)) => {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// Checks the bytes are UTF-8 text, naming the line of the first bad byte.
fn check_text<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.is_empty() || bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::input(format!(
            "{file}: the file is empty; expected a header line and at least one data row"
        )));
    }
    if let Some(enc) = utf16_encoding(bytes) {
        return Err(Error::problem(
            Problem::new(
                file,
                format!(
                    "the file is {enc} text, not UTF-8; save it as 'CSV UTF-8' or convert it \
                     (e.g. iconv -f utf-16 -t utf-8)"
                ),
            )
            .line(1),
        ));
    }
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        let line = 1 + bytes[..pos].iter().filter(|&&b| b == b'\n').count() as u64;
        return Err(Error::problem(nul_problem(file, line)));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let pos = e.valid_up_to();
        let line = 1 + bytes[..pos].iter().filter(|&&b| b == b'\n').count() as u64;
        Error::problem(utf8_problem(file, bytes[pos], pos as u64, line))
    })
}

/// UTF-16 text (as Excel's "Unicode text" export writes it): a UTF-16
/// byte-order mark, or ASCII with a NUL after (or before) every character
/// at the start of the file.
fn utf16_encoding(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\xFF\xFE") {
        return Some("UTF-16 (little-endian, with a byte-order mark)");
    }
    if bytes.starts_with(b"\xFE\xFF") {
        return Some("UTF-16 (big-endian, with a byte-order mark)");
    }
    let head = &bytes[..bytes.len().min(64) & !1];
    let pairs = || head.chunks_exact(2);
    let ascii = |b: u8| b.is_ascii_graphic() || b == b' ' || b == b'\t';
    if head.len() >= 4 {
        if pairs().all(|p| ascii(p[0]) && p[1] == 0) {
            return Some("UTF-16 (little-endian)");
        }
        if pairs().all(|p| p[0] == 0 && ascii(p[1])) {
            return Some("UTF-16 (big-endian)");
        }
    }
    None
}

/// A NUL byte at `line`: a binary file.
pub(crate) fn nul_problem(file: &str, line: u64) -> Problem {
    Problem::new(
        file,
        "the file holds NUL bytes: it looks like a binary file, not delimited text; \
         export the data as CSV (UTF-8), Parquet or .xlsx",
    )
    .line(line)
}

/// A byte that is not UTF-8 (`offset` after any byte-order mark).
pub(crate) fn utf8_problem(file: &str, bad: u8, offset: u64, line: u64) -> Problem {
    Problem::new(
        file,
        format!(
            "the text is not valid UTF-8 (byte 0x{bad:02X} at byte offset {offset}); \
             the file is probably in Latin-1 or Windows-1252: save it as \
             'CSV UTF-8' or convert it (e.g. iconv -f latin1 -t utf-8)"
        ),
    )
    .line(line)
}

/// Parses delimited text. `force` fixes the delimiter (tab for `.tsv`).
pub fn parse_delimited(file: &str, bytes: &[u8], force: Option<u8>) -> Result<Table> {
    let sha256 = sha256_hex(bytes);
    let text = check_text(file, bytes)?;
    let bom = bytes.len() - text.len();
    let delimiter = force.unwrap_or_else(|| sniff_delimiter(text));
    let body = &bytes[bom..];

    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut lines_of = LineCounter::new(body);
    let mut problems = Problems::new();
    let mut record = csv::StringRecord::new();

    // Header.
    let mut header_line;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {
                header_line = lines_of.line(&record);
                if record.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                break;
            }
            Ok(false) => {
                return Err(Error::input(format!(
                    "{file}: the file is empty; expected a header line and at least one data row"
                )))
            }
            Err(e) => return Err(csv_error(file, e)),
        }
    }
    if let (Some(forced), 1) = (force, record.len()) {
        // One column under a delimiter fixed by the extension, while the
        // header holds another delimiter: the extension is wrong.
        let other = [b',', b';', b'\t']
            .into_iter()
            .filter(|&d| d != forced)
            .map(|d| (d, record[0].bytes().filter(|&b| b == d).count()))
            .max_by_key(|&(_, k)| k)
            .filter(|&(_, k)| k > 0);
        if let Some((d, k)) = other {
            return Err(Error::problem(
                Problem::new(
                    file,
                    format!(
                        "the header is one column when read with the delimiter '{}' that the \
                         file's extension implies, but it holds '{}' {k} time(s): the file looks \
                         delimited by '{}'. Rename it (.csv for ',' or ';', .tsv for tab)",
                        printable_delim(forced),
                        printable_delim(d),
                        printable_delim(d)
                    ),
                )
                .line(header_line),
            ));
        }
    }
    let raw_names: Vec<String> = record.iter().map(|s| s.to_string()).collect();
    let names = header_names(file, header_line, raw_names, &mut problems);
    let ncol = names.len();

    let mut cells: Vec<TextColumn> = (0..ncol).map(|_| TextColumn::default()).collect();
    let mut lines: Vec<u64> = Vec::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                problems.push(csv_problem(file, e));
                break;
            }
        }
        let line = lines_of.line(&record);
        if record.len() == 1 && record[0].trim().is_empty() && ncol > 1 {
            continue; // a blank line
        }
        if record.len() != ncol {
            let spanned: usize = record.iter().map(|f| f.matches('\n').count()).sum();
            let message = field_count_message(record.len(), ncol, delimiter, spanned);
            let ok = problems.push(Problem::new(file, message).line(line));
            if !ok {
                break;
            }
            continue;
        }
        for (c, field) in record.iter().enumerate() {
            cells[c].push(field.trim());
        }
        lines.push(line);
    }
    if !problems.is_empty() {
        return Err(Error::problems(
            format!("{file}: the file cannot be read as a table"),
            problems.list,
        ));
    }
    if lines.is_empty() {
        return Err(Error::input(format!(
            "{file}: the file has a header but no data rows"
        )));
    }

    // R's write.csv2 writes decimal commas: decide for the whole file.
    let decimal_comma =
        delimiter != b',' && cells.iter().any(|c| c.iter().any(looks_decimal_comma));
    let columns = text_columns(names, cells, decimal_comma);
    Ok(Table {
        source: Source {
            path: file.to_string(),
            sha256,
            format: Format::Delimited,
            delimiter: Some(delimiter as char),
            decimal_comma,
            rows_read: lines.len(),
        },
        columns,
        lines,
    })
}

/// 1-based line where a record starts. The csv crate's own line count is
/// off by one after CRLF line ends (the record's byte offset points at the
/// `\n` of the previous `\r\n`), so lines are counted here from the byte
/// offset, skipping line-end bytes (and blank lines) before the record.
struct LineCounter<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            pos: 0,
            line: 1,
        }
    }
    fn line(&mut self, record: &csv::StringRecord) -> u64 {
        let mut start = record.position().map(|p| p.byte() as usize).unwrap_or(0);
        while start < self.bytes.len() && matches!(self.bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        if start > self.pos {
            self.line += self.bytes[self.pos..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            self.pos = start;
        }
        self.line
    }
}

/// A record with `fields` fields where the header has `ncol`. When the
/// record ran over `spanned` line breaks inside quotes, the likely cause is an
/// opening double quote without its closing one.
pub(crate) fn field_count_message(
    fields: usize,
    ncol: usize,
    delimiter: u8,
    spanned: usize,
) -> String {
    if spanned > 0 {
        format!(
            "a quoted field that starts on this line runs on over {spanned} more line(s) and \
             leaves the row with {fields} fields where the header has {ncol}: a closing double \
             quote is probably missing (a field that starts with \" must end with \"; a quote \
             inside it is written \"\")"
        )
    } else {
        format!(
            "this row has {fields} fields but the header has {ncol}; every row needs one value \
             per column (delimiter '{}'; a field holding the delimiter must be in double quotes)",
            printable_delim(delimiter)
        )
    }
}

pub(crate) fn printable_delim(d: u8) -> String {
    match d {
        b'\t' => "tab".to_string(),
        other => (other as char).to_string(),
    }
}

fn csv_problem(file: &str, e: csv::Error) -> Problem {
    let line = e.position().map(|p| p.line());
    let msg = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => {
            "the text is not valid UTF-8; save the file as 'CSV UTF-8'".to_string()
        }
        _ => format!("cannot parse the file as delimited text: {e}"),
    };
    let p = Problem::new(file, msg);
    match line {
        Some(l) => p.line(l),
        None => p,
    }
}

fn csv_error(file: &str, e: csv::Error) -> Error {
    Error::problem(csv_problem(file, e))
}

/// Parquet through polars: numeric columns (integers, floats, booleans as
/// 0/1) become numbers; strings and categoricals text; dates ISO text.
fn load_parquet(file: &str, bytes: &[u8]) -> Result<Table> {
    use polars::prelude::{ParquetReader, SerReader};
    let sha256 = sha256_hex(bytes);
    let cursor = std::io::Cursor::new(bytes);
    let df = ParquetReader::new(cursor).finish().map_err(|e| {
        Error::input(format!(
            "{file}: cannot read as Parquet ({e}); is it really a .parquet file?"
        ))
    })?;
    parquet_table(file, sha256, df)
}

/// A table from a Parquet file's data frame (all its rows).
pub(crate) fn parquet_table(
    file: &str,
    sha256: String,
    df: polars::prelude::DataFrame,
) -> Result<Table> {
    let n = df.height();
    if n == 0 {
        return Err(Error::input(format!(
            "{file}: the Parquet file has no rows"
        )));
    }
    let mut columns = parquet_columns(file, df)?;
    let mut problems = Problems::new();
    let names = header_names(
        file,
        1,
        columns.iter().map(|c| c.name.clone()).collect(),
        &mut problems,
    );
    problems.into_result(format!("{file}: the file cannot be read as a table"))?;
    for (c, n) in columns.iter_mut().zip(names) {
        c.name = n;
    }
    Ok(Table {
        source: Source {
            path: file.to_string(),
            sha256,
            format: Format::Parquet,
            delimiter: None,
            decimal_comma: false,
            rows_read: n,
        },
        columns,
        lines: (1..=n as u64).collect(),
    })
}

/// A Parquet data frame's columns: numeric columns (integers, floats,
/// booleans as 0/1) become numbers; strings and categoricals text (trimmed,
/// missing-value tokens missing); dates ISO text.
pub(crate) fn parquet_columns(file: &str, df: polars::prelude::DataFrame) -> Result<Vec<Column>> {
    let mut columns = Vec::with_capacity(df.width());
    for col in df.columns() {
        let (name, data) = parquet_data(file, col)?;
        columns.push(match data {
            ParquetData::Num(v) => Column::num(name, v),
            ParquetData::Text(ca) => Column::str(
                name,
                ca.iter()
                    .map(|x| parquet_text(x).map(str::to_string))
                    .collect(),
            ),
        });
    }
    Ok(columns)
}

/// A Parquet column as outcomes reads it: numbers and booleans as numbers
/// (non-finite ones missing), anything else cast to text.
pub(crate) enum ParquetData {
    Num(Vec<f64>),
    Text(polars::prelude::StringChunked),
}

pub(crate) fn parquet_data(
    file: &str,
    col: &polars::prelude::Column,
) -> Result<(String, ParquetData)> {
    use polars::prelude::DataType;
    let s = col.as_materialized_series();
    let name = s.name().to_string();
    let dtype = s.dtype().clone();
    if dtype.is_primitive_numeric() || dtype == DataType::Boolean {
        let f = s
            .cast(&DataType::Float64)
            .map_err(|e| Error::other(format!("{file}: column '{name}': {e}")))?;
        let ca = f
            .f64()
            .map_err(|e| Error::other(format!("{file}: column '{name}': {e}")))?;
        let v: Vec<f64> = ca
            .iter()
            .map(|x| x.filter(|v| v.is_finite()).unwrap_or(f64::NAN))
            .collect();
        return Ok((name, ParquetData::Num(v)));
    }
    let st = s.cast(&DataType::String).map_err(|_| {
        Error::input(format!(
            "{file}: column '{name}' has type {dtype}, which outcomes cannot read; \
             accepted: numbers, booleans, text, categoricals, dates"
        ))
    })?;
    let ca = st
        .str()
        .map_err(|e| Error::other(format!("{file}: column '{name}': {e}")))?
        .clone();
    Ok((name, ParquetData::Text(ca)))
}

/// A Parquet text cell as a table cell: trimmed, missing-value tokens missing.
pub(crate) fn parquet_text(cell: Option<&str>) -> Option<&str> {
    cell.map(str::trim).filter(|t| !is_missing_token(t))
}

/// ISO text of a spreadsheet date (calamine converts the serial number,
/// 1900 or 1904 epoch): `YYYY-MM-DD`, with ` HH:MM:SS` when there is a time.
fn excel_date_iso(dt: &calamine::ExcelDateTime) -> String {
    let (y, m, d, hh, mm, ss, _) = dt.to_ymd_hms_milli();
    if (hh, mm, ss) == (0, 0, 0) {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
    }
}

fn load_spreadsheet(file: &str, bytes: &[u8], opts: &LoadOptions) -> Result<Table> {
    use calamine::{open_workbook_auto_from_rs, Data, Reader};
    let sha256 = sha256_hex(bytes);
    let cursor = std::io::Cursor::new(bytes.to_vec());
    let mut book = open_workbook_auto_from_rs(cursor).map_err(|e| {
        Error::input(format!(
            "{file}: cannot open as a spreadsheet ({e}); accepted: .xlsx, .xls, .ods"
        ))
    })?;
    let sheets = book.sheet_names();
    let sheet = match &opts.sheet {
        Some(s) => {
            if !sheets.contains(s) {
                return Err(Error::input(format!(
                    "{file}: no worksheet named '{s}'; the workbook has: {}",
                    sheets.join(", ")
                )));
            }
            s.clone()
        }
        None => sheets
            .first()
            .cloned()
            .ok_or_else(|| Error::input(format!("{file}: the workbook has no worksheets")))?,
    };
    let range = book
        .worksheet_range(&sheet)
        .map_err(|e| Error::input(format!("{file}: cannot read worksheet '{sheet}': {e}")))?;
    let (row0, col0) = range.start().unwrap_or((0, 0));
    let mut rows = range.rows().enumerate();
    // Header: the first row with any non-empty cell.
    let (header_idx, header) = loop {
        match rows.next() {
            Some((i, r)) if r.iter().any(|c| !matches!(c, Data::Empty)) => break (i, r),
            Some(_) => continue,
            None => {
                return Err(Error::input(format!(
                    "{file}: worksheet '{sheet}' is empty; expected a header row and data rows"
                )))
            }
        }
    };
    let sheet_line = |i: usize| row0 as u64 + i as u64 + 1;
    let mut problems = Problems::new();
    let raw_names: Vec<String> = header
        .iter()
        .map(|c| match c {
            Data::Empty => String::new(),
            Data::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    let names = header_names(file, sheet_line(header_idx), raw_names, &mut problems);
    let ncol = names.len();
    let mut cells: Vec<Vec<Raw>> = (0..ncol).map(|_| Vec::new()).collect();
    let mut lines = Vec::new();
    for (i, r) in rows {
        if r.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        let line = sheet_line(i);
        for (c, cell) in r.iter().enumerate().take(ncol) {
            let raw = match cell {
                Data::Empty => Raw::Missing,
                Data::Int(v) => Raw::Number(*v as f64),
                Data::Float(v) if v.is_finite() => Raw::Number(*v),
                Data::Float(_) => Raw::Missing,
                Data::Bool(b) => Raw::Text(b.to_string()),
                Data::String(s) => {
                    let t = s.trim();
                    if is_missing_token(t) {
                        Raw::Missing
                    } else {
                        Raw::Text(t.to_string())
                    }
                }
                Data::DateTime(dt) => Raw::Text(excel_date_iso(dt)),
                Data::DateTimeIso(s) | Data::DurationIso(s) => Raw::Text(s.clone()),
                Data::Error(e) => {
                    problems.push(
                        Problem::new(
                            file,
                            format!(
                                "the cell holds the spreadsheet error {e:?}; fix the formula \
                                 or leave the cell empty (missing)"
                            ),
                        )
                        .line(line)
                        .column(names[c].clone()),
                    );
                    Raw::Missing
                }
            };
            cells[c].push(raw);
        }
        lines.push(line);
        if problems.is_full() {
            break;
        }
    }
    let _ = col0;
    problems.into_result(format!("{file}: the worksheet cannot be read as a table"))?;
    if lines.is_empty() {
        return Err(Error::input(format!(
            "{file}: worksheet '{sheet}' has a header but no data rows"
        )));
    }
    let n = lines.len();
    let columns = build_columns(names, cells, false);
    Ok(Table {
        source: Source {
            path: file.to_string(),
            sha256,
            format: Format::Xlsx,
            delimiter: None,
            decimal_comma: false,
            rows_read: n,
        },
        columns,
        lines,
    })
}

/// Text of the accepted missing-value tokens, for messages.
pub fn missing_tokens_text() -> String {
    MISSING_TOKENS
        .iter()
        .map(|t| {
            if t.is_empty() {
                "(empty)".to_string()
            } else {
                t.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Table> {
        parse_delimited("t.csv", text.as_bytes(), None)
    }

    #[test]
    fn comma_file_with_quotes_crlf_and_bom() {
        let t = parse(
            "\u{feff}id,name,score\r\n1,\"Smith, J\",3.5\r\n2,\"two\nlines\",NA\r\n3,x,4\r\n",
        )
        .unwrap();
        assert_eq!(t.names(), vec!["id", "name", "score"]);
        assert_eq!(t.nrows(), 3);
        assert_eq!(
            t.lines,
            vec![2, 3, 5],
            "a quoted field spanning lines moves the next line"
        );
        assert_eq!(t.column("score").unwrap().as_num().unwrap()[0], 3.5);
        assert!(t.column("score").unwrap().is_missing(1));
        assert_eq!(
            t.column("name").unwrap().text(0).as_deref(),
            Some("Smith, J")
        );
        assert_eq!(t.source.delimiter, Some(','));
        assert!(!t.source.decimal_comma);
    }

    #[test]
    fn semicolon_decimal_comma_like_write_csv2() {
        let t = parse(
            "\"\";\"study\";\"g\"\n\"1\";\"A, 2017\";0,25\n\"2\";\"B\";-1,5\n\"3\";\"C\";NA\n",
        )
        .unwrap();
        assert_eq!(t.names(), vec!["...1", "study", "g"]);
        assert!(t.source.decimal_comma);
        assert_eq!(t.source.delimiter, Some(';'));
        let g = t.column("g").unwrap().as_num().unwrap();
        assert_eq!(&g[..2], &[0.25, -1.5]);
        assert!(g[2].is_nan());
        assert_eq!(t.column("...1").unwrap().as_num().unwrap()[0], 1.0);
    }

    #[test]
    fn tab_file_and_all_missing_tokens() {
        let t = parse("a\tb\n1\tNA\n2\tNaN\n3\t.\n4\tNULL\n5\t*\n6\t-\n7\t\n8\t9\n").unwrap();
        assert_eq!(t.source.delimiter, Some('\t'));
        let b = t.column("b").unwrap();
        assert!(b.is_numeric());
        assert_eq!(b.n_missing(), 7);
    }

    #[test]
    fn text_in_a_numeric_column_keeps_the_column_as_text() {
        let t = parse("x\n1\nabc\n3\n").unwrap();
        assert!(!t.column("x").unwrap().is_numeric());
    }

    #[test]
    fn ragged_rows_are_reported_with_lines() {
        let e = parse("a,b\n1,2\n3\n4,5,6\n").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(msg.contains("line 3") && msg.contains("line 4"), "{msg}");
        assert!(msg.contains("1 fields but the header has 2"), "{msg}");
    }

    #[test]
    fn duplicate_names_empty_header_only_binary_latin1() {
        let e = parse("a,b,a\n1,2,3\n").unwrap_err();
        assert!(e.to_string().contains("duplicate column name"), "{e}");
        assert!(parse("").unwrap_err().to_string().contains("empty"));
        assert!(parse("a,b\n")
            .unwrap_err()
            .to_string()
            .contains("no data rows"));
        let e = parse_delimited("b.csv", b"a,b\n\x00\x01\x02,3\n", None).unwrap_err();
        assert!(e.to_string().contains("binary"), "{e}");
        let e = parse_delimited("l.csv", b"name,x\nM\xfcller,1\n", None).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("UTF-8") && msg.contains("line 2"), "{msg}");
        assert_eq!(e.exit_code(), 2);
    }
}
