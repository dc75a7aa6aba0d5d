//! Writing a [`Table`] to a file: `.csv`, `.tsv` or `.parquet`, chosen by the
//! extension, always atomically (a temporary sibling renamed into place, see
//! [`crate::output::write_atomic_with`]).
//!
//! Delimited text: a header row, `\n` line endings, `NA` for a missing cell,
//! numbers in their shortest round-trip form ([`format_num`]: integers
//! without `.0`), text quoted only when it must be (it holds the delimiter, a
//! quote or a line break, RFC 4180 §2), so the file reads back unchanged with
//! `data::load` and with R's `read.csv`.
//!
//! Parquet (through polars): a numeric column whose non-missing values are all
//! integers (|x| < 2⁵³) is written as Int64, any other numeric column as
//! Float64; text as String; missing values as nulls.

use crate::data::table::{format_num, ColumnData, Table};
use crate::error::{Error, Result};
use crate::output::write_atomic_with;
use std::io::Write;
use std::path::Path;

/// Written for a missing cell in delimited text.
pub const NA: &str = "NA";

/// File types [`write_table`] knows, from the extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFormat {
    Csv,
    Tsv,
    Parquet,
}

impl WriteFormat {
    /// The format for a path's extension (case-insensitive), or an input
    /// error that says which extensions are accepted.
    pub fn from_path(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "csv" => Ok(WriteFormat::Csv),
            "tsv" => Ok(WriteFormat::Tsv),
            "parquet" => Ok(WriteFormat::Parquet),
            _ => Err(Error::input(format!(
                "cannot write '{}': unknown file type {}; accepted: .csv (comma-separated), \
                 .tsv (tab-separated), .parquet",
                path.display(),
                if ext.is_empty() {
                    "(no extension)".to_string()
                } else {
                    format!("'.{ext}'")
                }
            ))),
        }
    }
}

/// Writes `table` to `path` atomically, in the format of the extension.
pub fn write_table(table: &Table, path: &Path) -> Result<()> {
    let format = WriteFormat::from_path(path)?;
    write_atomic_with(path, |w| write_to(table, format, w))
}

/// The bytes [`write_table`] would write to `path` (for hashing before
/// writing, or for a test).
pub fn encode_table(table: &Table, path: &Path) -> Result<Vec<u8>> {
    let format = WriteFormat::from_path(path)?;
    let mut buf = Vec::new();
    write_to(table, format, &mut buf)?;
    Ok(buf)
}

/// Writes `table` in `format` to any writer.
pub fn write_to(table: &Table, format: WriteFormat, w: &mut dyn Write) -> Result<()> {
    match format {
        WriteFormat::Csv => write_delimited(table, b',', w),
        WriteFormat::Tsv => write_delimited(table, b'\t', w),
        WriteFormat::Parquet => write_parquet(table, w),
    }
}

/// The table as delimited text (header, `NA` for missing, `\n` endings).
pub fn table_to_csv_string(table: &Table, delimiter: u8) -> String {
    let mut buf = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_delimited(table, delimiter, &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

fn csv_error(e: csv::Error) -> Error {
    Error::other(format!("cannot write delimited text: {e}"))
}

/// Streams the table as delimited text into `w`.
pub fn write_delimited(table: &Table, delimiter: u8, w: &mut dyn Write) -> Result<()> {
    let mut out = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(w);
    out.write_record(table.columns.iter().map(|c| c.name.as_str()))
        .map_err(csv_error)?;
    let mut record: Vec<String> = Vec::with_capacity(table.ncols());
    for row in 0..table.nrows() {
        record.clear();
        for c in &table.columns {
            record.push(match &c.data {
                ColumnData::Num(v) if v[row].is_nan() => NA.to_string(),
                ColumnData::Num(v) => format_num(v[row]),
                ColumnData::Str(v) => v[row].clone().unwrap_or_else(|| NA.to_string()),
            });
        }
        out.write_record(&record).map_err(csv_error)?;
    }
    out.flush()?;
    Ok(())
}

/// Largest integer magnitude written as Int64 (exactly representable in f64).
const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0;

fn write_parquet(table: &Table, w: &mut dyn Write) -> Result<()> {
    use polars::prelude::{DataFrame, IntoColumn, NamedFrom, ParquetWriter, Series};
    let pe = |e: polars::prelude::PolarsError| Error::other(format!("cannot write parquet: {e}"));
    let mut cols = Vec::with_capacity(table.ncols());
    for c in &table.columns {
        let name = c.name.as_str().into();
        let series = match &c.data {
            ColumnData::Num(v) => {
                let integer = v
                    .iter()
                    .all(|x| x.is_nan() || (x.fract() == 0.0 && x.abs() < MAX_EXACT_INT));
                if integer {
                    let ints: Vec<Option<i64>> = v
                        .iter()
                        .map(|x| (!x.is_nan()).then_some(*x as i64))
                        .collect();
                    Series::new(name, ints)
                } else {
                    let floats: Vec<Option<f64>> =
                        v.iter().map(|x| (!x.is_nan()).then_some(*x)).collect();
                    Series::new(name, floats)
                }
            }
            ColumnData::Str(v) => {
                let texts: Vec<Option<&str>> = v.iter().map(|x| x.as_deref()).collect();
                Series::new(name, texts)
            }
        };
        cols.push(series.into_column());
    }
    let mut df = DataFrame::new(table.nrows(), cols).map_err(pe)?;
    ParquetWriter::new(w).finish(&mut df).map_err(pe)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::table::Column;

    fn table() -> Table {
        Table::in_memory(
            "<test>",
            vec![
                Column::str(
                    "name",
                    vec![Some("a".into()), Some("b, \"c\"".into()), None],
                ),
                Column::num("n", vec![1.0, f64::NAN, -3.0]),
                Column::num("x", vec![0.1, 2.0, f64::NAN]),
            ],
        )
    }

    #[test]
    fn csv_text() {
        let s = table_to_csv_string(&table(), b',');
        assert_eq!(s, "name,n,x\na,1,0.1\n\"b, \"\"c\"\"\",NA,2\nNA,-3,NA\n");
        let t = table_to_csv_string(&table(), b'\t');
        // A quote forces quoting in any dialect; the comma alone would not in TSV.
        assert_eq!(
            t,
            "name\tn\tx\na\t1\t0.1\n\"b, \"\"c\"\"\"\tNA\t2\nNA\t-3\tNA\n"
        );
        let mut t2 = table();
        t2.columns[0] = Column::str("name", vec![Some("b, c".into()), None, None]);
        assert!(table_to_csv_string(&t2, b'\t').starts_with("name\tn\tx\nb, c\t"));
    }

    #[test]
    fn extensions() {
        assert_eq!(
            WriteFormat::from_path(Path::new("a.CSV")).unwrap(),
            WriteFormat::Csv
        );
        assert_eq!(
            WriteFormat::from_path(Path::new("a.tsv")).unwrap(),
            WriteFormat::Tsv
        );
        assert_eq!(
            WriteFormat::from_path(Path::new("d/a.parquet")).unwrap(),
            WriteFormat::Parquet
        );
        let e = WriteFormat::from_path(Path::new("a.xlsx")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let m = e.to_string();
        assert!(
            m.contains(".xlsx") && m.contains(".csv") && m.contains(".parquet"),
            "{m}"
        );
    }

    #[test]
    fn files_are_written_and_parquet_reads_back() {
        use polars::prelude::{DataType, ParquetReader, SerReader};
        let dir = std::env::temp_dir().join(format!("outcomes-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("t.csv");
        write_table(&table(), &csv).unwrap();
        assert_eq!(
            std::fs::read_to_string(&csv).unwrap(),
            table_to_csv_string(&table(), b',')
        );
        let pq = dir.join("t.parquet");
        write_table(&table(), &pq).unwrap();
        let df = ParquetReader::new(std::fs::File::open(&pq).unwrap())
            .finish()
            .unwrap();
        assert_eq!(df.height(), 3);
        assert_eq!(df.column("n").unwrap().dtype(), &DataType::Int64);
        assert_eq!(df.column("x").unwrap().dtype(), &DataType::Float64);
        assert_eq!(df.column("name").unwrap().dtype(), &DataType::String);
        assert_eq!(df.column("n").unwrap().null_count(), 1);
        assert_eq!(df.column("name").unwrap().null_count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
