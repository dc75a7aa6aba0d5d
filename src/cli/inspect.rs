//! `outcomes inspect DATA`: what is in a file before anything is analysed:
//! the format, roles, columns with types and missingness, the grouping
//! structure (therapists, sites, caseloads) and the privacy audit
//! (contract, `outcomes inspect`).

use super::common::{InputArgs, OutputArgs};
use crate::data::input::{prepare, Exclusion, InputInfo, Purpose};
use crate::data::privacy::PrivacyReport;
use crate::data::roles::Role;
use crate::data::table::{Dtype, Table};
use crate::error::Result;
use crate::output::{emit, to_json, OutFormat};
use crate::stats::describe::quantile_sorted;
use clap::Args;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Serialize)]
pub struct FileFormat {
    #[serde(rename = "type")]
    pub kind: crate::data::table::Format,
    pub delimiter: Option<String>,
    pub decimal_comma: bool,
}

#[derive(Debug, Serialize)]
pub struct ColumnInfo {
    pub name: String,
    pub dtype: Dtype,
    pub missing: usize,
    pub distinct: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// Distribution of group sizes (e.g. clients per therapist).
#[derive(Debug, Serialize)]
pub struct SizeSummary {
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub max: f64,
    pub mean: f64,
}

#[derive(Debug, Serialize)]
pub struct GroupInfo {
    pub column: String,
    /// Number of distinct non-missing values.
    pub levels: usize,
    /// Rows with this value missing.
    pub missing: usize,
    /// Rows (clients, after long-to-wide) per level.
    pub size: Option<SizeSummary>,
}

#[derive(Debug, Serialize)]
pub struct InspectReport {
    pub command: &'static str,
    pub version: &'static str,
    pub input: InputInfo,
    pub format: FileFormat,
    pub roles: serde_json::Value,
    pub long: bool,
    #[serde(rename = "where")]
    pub filter: Option<String>,
    pub columns: Vec<ColumnInfo>,
    pub groups: BTreeMap<String, GroupInfo>,
    pub privacy: PrivacyReport,
    pub excluded: Vec<Exclusion>,
    /// Text columns that are nearly all numbers (a stray text cell?).
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    /// The role mapping as lines for table output.
    #[serde(skip)]
    pub roles_text: String,
}

/// Summary of sizes (R's type-7 quantiles).
fn summarise_sizes(mut sizes: Vec<f64>) -> Option<SizeSummary> {
    if sizes.is_empty() {
        return None;
    }
    sizes.sort_by(f64::total_cmp);
    Some(SizeSummary {
        min: sizes[0],
        q1: quantile_sorted(&sizes, 0.25),
        median: quantile_sorted(&sizes, 0.5),
        q3: quantile_sorted(&sizes, 0.75),
        max: sizes[sizes.len() - 1],
        mean: crate::stats::describe::mean(&sizes),
    })
}

fn group_info(table: &Table, column: &str) -> Option<GroupInfo> {
    let col = table.column(column)?;
    let (counts, missing) = col.level_counts();
    Some(GroupInfo {
        column: column.to_string(),
        levels: counts.len(),
        missing,
        size: summarise_sizes(counts.iter().map(|&c| c as f64).collect()),
    })
}

/// Text columns where at least 90% of the values are numbers: most likely a
/// numeric column with a stray text cell. Names the first offending line.
fn near_numeric_warnings(table: &Table) -> Vec<String> {
    let mut out = Vec::new();
    for col in &table.columns {
        if col.is_numeric() {
            continue;
        }
        let (n, bad) = col.text_not_numbers(table.source.decimal_comma);
        if n >= 10 && !bad.is_empty() && (bad.len() as f64) <= 0.1 * n as f64 {
            let r = bad[0];
            out.push(format!(
                "column '{}' is numbers except {} text value(s), the first on line {}: \
                 it is read as text; fix or blank those cells if it should be a number",
                col.name,
                bad.len(),
                table.line(r)
            ));
        }
    }
    out
}

pub fn build(args: &InspectArgs) -> Result<InspectReport> {
    let p = prepare(&args.input.request(), Purpose::Describe)?;
    let t = &p.table;
    let role_of: HashMap<&str, &'static str> = p
        .roles
        .assigned
        .iter()
        .map(|a| (a.column.as_str(), a.role.name()))
        .collect();
    let columns = t
        .columns
        .iter()
        .map(|c| {
            let distinct = c.level_counts().0;
            let (min, max) = match c.as_num() {
                Some(v) => {
                    let xs = v.iter().filter(|x| !x.is_nan());
                    let min = xs.clone().copied().reduce(f64::min);
                    let max = xs.copied().reduce(f64::max);
                    (min, max)
                }
                None => (None, None),
            };
            ColumnInfo {
                name: c.name.clone(),
                dtype: c.dtype(),
                missing: c.n_missing(),
                distinct: distinct.len(),
                role: role_of.get(c.name.as_str()).copied(),
                min,
                max,
            }
        })
        .collect();
    let mut groups = BTreeMap::new();
    for role in [Role::Client, Role::Therapist, Role::Site, Role::Technique] {
        if let Some(col) = p.roles.get(role) {
            if let Some(g) = group_info(t, col) {
                groups.insert(role.name().to_string(), g);
            }
        }
    }
    let src = &t.source;
    Ok(InspectReport {
        command: "inspect",
        version: crate::VERSION,
        input: p.input_info(t.nrows()),
        format: FileFormat {
            kind: src.format,
            delimiter: src.delimiter.map(|d| {
                if d == '\t' {
                    "tab".into()
                } else {
                    d.to_string()
                }
            }),
            decimal_comma: src.decimal_comma,
        },
        roles: p.roles.to_json(),
        roles_text: p.roles.describe(),
        long: p.long,
        filter: p.filter.clone(),
        columns,
        groups,
        warnings: near_numeric_warnings(t),
        privacy: p.privacy,
        excluded: p.excluded,
        notes: p.notes,
    })
}

/// A number for a table cell: integers as such, others to about four
/// significant digits.
fn fmt_num(x: f64) -> String {
    let a = x.abs();
    if x.fract() == 0.0 || a >= 1000.0 {
        format!("{x:.0}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 10.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// The human-readable report.
pub fn render_table(r: &InspectReport) -> String {
    let mut s = String::new();
    s.push_str(&format!("outcomes inspect: {}\n", r.input.path));
    let fmt = match r.format.kind {
        crate::data::table::Format::Delimited => format!(
            "delimited text, delimiter '{}'{}",
            r.format.delimiter.as_deref().unwrap_or(","),
            if r.format.decimal_comma {
                ", decimal comma"
            } else {
                ""
            }
        ),
        crate::data::table::Format::Parquet => "Parquet".to_string(),
        crate::data::table::Format::Xlsx => "spreadsheet".to_string(),
        crate::data::table::Format::Memory => "generated".to_string(),
    };
    s.push_str(&format!("  format   {fmt}\n"));
    s.push_str(&format!(
        "  rows     {} read, {} in view{}\n",
        r.input.rows_read,
        r.input.rows_used,
        if r.long {
            " (one per client, from long data)"
        } else {
            ""
        }
    ));
    if let Some(f) = &r.filter {
        s.push_str(&format!("  where    {f}\n"));
    }
    s.push_str(&format!("  sha256   {}\n\n", r.input.sha256));

    s.push_str("Roles (flags win over the spec, the spec over recognised names)\n");
    s.push_str(&r.roles_text);
    s.push('\n');

    s.push_str(&format!("Columns ({})\n", r.columns.len()));
    let w = r
        .columns
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 32);
    s.push_str(&format!(
        "  {:<w$}  {:<8}  {:>8}  {:>8}  {:>10}  {:>10}  role\n",
        "name", "type", "missing", "distinct", "min", "max"
    ));
    for c in &r.columns {
        let name: String = c.name.chars().take(32).collect();
        s.push_str(&format!(
            "  {:<w$}  {:<8}  {:>8}  {:>8}  {:>10}  {:>10}  {}\n",
            name,
            c.dtype.as_str(),
            c.missing,
            c.distinct,
            c.min.map(fmt_num).unwrap_or_default(),
            c.max.map(fmt_num).unwrap_or_default(),
            c.role.unwrap_or("")
        ));
    }
    s.push('\n');

    if !r.groups.is_empty() {
        s.push_str("Groups (rows per level)\n");
        for (role, g) in &r.groups {
            let size = g
                .size
                .as_ref()
                .map(|z| {
                    format!(
                        "; per level min {}, median {}, max {}",
                        fmt_num(z.min),
                        fmt_num(z.median),
                        fmt_num(z.max)
                    )
                })
                .unwrap_or_default();
            let miss = if g.missing > 0 {
                format!("; {} rows missing", g.missing)
            } else {
                String::new()
            };
            s.push_str(&format!(
                "  {:<10} {} levels ('{}'){size}{miss}\n",
                role, g.levels, g.column
            ));
        }
        s.push('\n');
    }

    s.push_str("Privacy audit\n");
    let pr = &r.privacy;
    if pr.direct_identifiers.is_empty() {
        s.push_str("  direct identifiers: none found\n");
    } else {
        s.push_str("  direct identifiers:\n");
        for d in &pr.direct_identifiers {
            s.push_str(&format!(
                "    {} [{}{}]: {}\n",
                d.column,
                d.kind.as_str(),
                if d.blocking { "" } else { ", warning only" },
                d.evidence
            ));
        }
    }
    if pr.quasi_identifiers.is_empty() {
        s.push_str("  quasi-identifiers: none declared or recognised\n");
    } else {
        let q: Vec<String> = pr
            .quasi_identifiers
            .iter()
            .map(|q| format!("{} ({})", q.column, q.source))
            .collect();
        s.push_str(&format!("  quasi-identifiers: {}\n", q.join(", ")));
    }
    match (pr.k_anonymity, &pr.k_anonymity_detail) {
        (Some(k), Some(d)) => s.push_str(&format!(
            "  k-anonymity: k = {k} over the declared quasi-identifiers ({} classes, {} below 5 \
             holding {} rows){}\n",
            d.classes,
            d.classes_below_5,
            d.rows_in_classes_below_5,
            if k >= 5 { "" } else { ": below 5, not safe to share as is" }
        )),
        (Some(k), None) => s.push_str(&format!("  k-anonymity: k = {k}\n")),
        _ => s.push_str(
            "  k-anonymity: not computed (declare quasi-identifiers with --quasi-identifiers or the spec)\n",
        ),
    }
    if let Some(sc) = &pr.small_caseloads {
        if sc.therapists == 0 {
            s.push_str(&format!(
                "  caseloads: every therapist has at least {} clients\n",
                sc.threshold
            ));
        } else {
            s.push_str(&format!(
                "  caseloads: {} therapist(s) with fewer than {} clients ({} clients): a small \
                 caseload can identify its clients; merge or suppress them in reports\n",
                sc.therapists, sc.threshold, sc.clients
            ));
        }
    }
    if !r.excluded.is_empty() {
        s.push_str("\nExcluded\n");
        for e in &r.excluded {
            s.push_str(&format!("  {} rows: {}\n", e.rows, e.reason));
        }
    }
    if !r.warnings.is_empty() || !r.notes.is_empty() {
        s.push_str("\nNotes\n");
        for w in r.warnings.iter().chain(&r.notes) {
            s.push_str(&format!("  - {w}\n"));
        }
    }
    s
}

pub fn run(args: &InspectArgs) -> Result<()> {
    let report = build(args)?;
    let text = match args.out.format {
        OutFormat::Json => to_json(&report)?,
        OutFormat::Table => render_table(&report),
        OutFormat::Csv => columns_csv(&report),
    };
    emit(&text, args.out.output.as_deref())
}

/// `--format csv`: one row per column.
fn columns_csv(r: &InspectReport) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["name", "dtype", "missing", "distinct", "min", "max", "role"]);
    for c in &r.columns {
        let _ = w.write_record([
            c.name.clone(),
            c.dtype.as_str().to_string(),
            c.missing.to_string(),
            c.distinct.to_string(),
            c.min.map(|x| x.to_string()).unwrap_or_default(),
            c.max.map(|x| x.to_string()).unwrap_or_default(),
            c.role.unwrap_or("").to_string(),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
