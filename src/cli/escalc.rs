//! `outcomes escalc DATA --measure CODE ...`: effect sizes and sampling
//! variances with metafor's `escalc` formulas (contract §escalc; the
//! formulas are in `stats::escalc`). Output: the input table plus `yi` and
//! `vi` (CSV by default).

use super::common::{numeric_column, InputArgs};
use crate::data::input::{prepare, InputInfo, Purpose};
use crate::data::table::{format_num, Column, Table};
use crate::data::write::{write_table, write_to, WriteFormat};
use crate::error::{Error, Problem, Problems, Result};
use crate::output::{emit, to_json, OutFormat};
use crate::stats::escalc::{self, AddTo, Arg, EscalcError, Inputs, Measure, Options};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToArg {
    /// Add to the cells of tables with a zero cell (metafor's default).
    Only0,
    /// Add to every cell of every table.
    All,
    /// Add to every table when any table has a zero cell.
    If0all,
    /// Never add.
    None,
}

#[derive(Args, Debug, Clone)]
pub struct EscalcArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Effect-size measure (metafor's code): SMD (Hedges' g, exact J), MD, SMCR, SMCC,
    /// COR, ZCOR, OR, RR, RD.
    #[arg(long, value_name = "CODE")]
    pub measure: String,
    /// Mean of group 1 (or at time 1).
    #[arg(long, value_name = "COL", help_heading = "metafor arguments")]
    pub m1i: Option<String>,
    /// Standard deviation of group 1 (or at time 1).
    #[arg(long, value_name = "COL", help_heading = "metafor arguments")]
    pub sd1i: Option<String>,
    /// Size of group 1.
    #[arg(long, value_name = "COL", help_heading = "metafor arguments")]
    pub n1i: Option<String>,
    /// Mean of group 2 (or at time 2).
    #[arg(long, value_name = "COL", help_heading = "metafor arguments")]
    pub m2i: Option<String>,
    /// Standard deviation of group 2 (or at time 2).
    #[arg(long, value_name = "COL", help_heading = "metafor arguments")]
    pub sd2i: Option<String>,
    /// Size of group 2.
    #[arg(long, value_name = "COL", help_heading = "metafor arguments")]
    pub n2i: Option<String>,
    /// Correlation (COR, ZCOR; the pre-post correlation for SMCC, SMCR).
    #[arg(long, value_name = "COL", help_heading = "metafor arguments")]
    pub ri: Option<String>,
    /// Sample size (COR, ZCOR, SMCC, SMCR).
    #[arg(long, value_name = "COL", help_heading = "metafor arguments")]
    pub ni: Option<String>,
    /// 2×2 table: events in group 1.
    #[arg(long, value_name = "COL", help_heading = "metafor arguments")]
    pub ai: Option<String>,
    /// 2×2 table: non-events in group 1.
    #[arg(long, value_name = "COL", help_heading = "metafor arguments")]
    pub bi: Option<String>,
    /// 2×2 table: events in group 2.
    #[arg(long, value_name = "COL", help_heading = "metafor arguments")]
    pub ci: Option<String>,
    /// 2×2 table: non-events in group 2.
    #[arg(long, value_name = "COL", help_heading = "metafor arguments")]
    pub di: Option<String>,
    /// Amount added to the cells of 2×2 tables (metafor's `add`).
    #[arg(long, default_value_t = 0.5, help_heading = "metafor arguments")]
    pub add: f64,
    /// Which tables get `add` (metafor's `to`).
    #[arg(long, value_enum, default_value_t = ToArg::Only0, help_heading = "metafor arguments")]
    pub to: ToArg,
    /// Leave out tables with no events in both groups (metafor's `drop00`).
    #[arg(long, help_heading = "metafor arguments")]
    pub drop00: bool,
    /// Output format: the table with yi and vi (csv, the default), a JSON summary
    /// with the values, or a readable table.
    #[arg(long, value_enum, default_value_t = OutFormat::Csv, help_heading = "Output")]
    pub format: OutFormat,
    /// Write to FILE (atomically) instead of stdout; with csv output the extension
    /// chooses .csv, .tsv or .parquet.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        help_heading = "Output"
    )]
    pub output: Option<PathBuf>,
}

impl EscalcArgs {
    fn column_of(&self, a: Arg) -> Option<&String> {
        match a {
            Arg::M1i => self.m1i.as_ref(),
            Arg::Sd1i => self.sd1i.as_ref(),
            Arg::N1i => self.n1i.as_ref(),
            Arg::M2i => self.m2i.as_ref(),
            Arg::Sd2i => self.sd2i.as_ref(),
            Arg::N2i => self.n2i.as_ref(),
            Arg::Ri => self.ri.as_ref(),
            Arg::Ni => self.ni.as_ref(),
            Arg::Ai => self.ai.as_ref(),
            Arg::Bi => self.bi.as_ref(),
            Arg::Ci => self.ci.as_ref(),
            Arg::Di => self.di.as_ref(),
        }
    }
}

const ALL_ARGS: [Arg; 12] = [
    Arg::M1i,
    Arg::Sd1i,
    Arg::N1i,
    Arg::M2i,
    Arg::Sd2i,
    Arg::N2i,
    Arg::Ri,
    Arg::Ni,
    Arg::Ai,
    Arg::Bi,
    Arg::Ci,
    Arg::Di,
];

#[derive(Debug, Serialize)]
pub struct EscalcRow {
    /// 1-based line of the row in the file.
    pub line: u64,
    pub yi: Option<f64>,
    pub vi: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct EscalcReport {
    pub command: &'static str,
    pub version: &'static str,
    pub input: InputInfo,
    pub measure: &'static str,
    /// Data column per metafor argument.
    pub arguments: serde_json::Map<String, serde_json::Value>,
    pub k: usize,
    pub missing: usize,
    pub effects: Vec<EscalcRow>,
    pub excluded: Vec<crate::data::input::Exclusion>,
    pub notes: Vec<String>,
    #[serde(skip)]
    pub table: Table,
}

pub fn build(args: &EscalcArgs) -> Result<EscalcReport> {
    let measure = Measure::parse(&args.measure).ok_or_else(|| {
        Error::input(format!(
            "--measure '{}' is not a measure escalc knows; accepted: {}",
            args.measure,
            Measure::all()
                .iter()
                .map(|m| m.code())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    if args.input.data.is_none() && args.input.spec.is_none() {
        return Err(Error::input(
            "escalc needs DATA: a study-level file with the columns named by --m1i, --sd1i ... \
             (the bundled demo data are client-level)",
        ));
    }
    if !(args.add >= 0.0 && args.add.is_finite()) {
        return Err(Error::input(format!(
            "--add {}: give a non-negative number (metafor's default is 0.5)",
            args.add
        )));
    }
    let p = prepare(&args.input.request(), Purpose::Analyse)?;
    let t = &p.table;
    let path = t.source.path.clone();
    // Arguments the measure needs, and the columns given.
    let missing: Vec<String> = measure
        .required()
        .iter()
        .filter(|a| args.column_of(**a).is_none())
        .map(|a| format!("--{}", a.name()))
        .collect();
    if !missing.is_empty() {
        return Err(Error::input(format!(
            "--measure {} needs {}; missing: {}",
            measure.code(),
            measure
                .required()
                .iter()
                .map(|a| format!("--{} COL", a.name()))
                .collect::<Vec<_>>()
                .join(" "),
            missing.join(", ")
        )));
    }
    let mut inputs = Inputs::default();
    let mut arguments = serde_json::Map::new();
    let mut problems = Problems::new();
    let mut notes = p.notes.clone();
    for a in ALL_ARGS {
        let Some(col) = args.column_of(a) else {
            continue;
        };
        if !measure.required().contains(&a) {
            notes.push(format!(
                "--{} '{col}' is not used by --measure {}",
                a.name(),
                measure.code()
            ));
            continue;
        }
        let values = numeric_column(t, col, &format!("--{}", a.name()), &mut problems)?;
        arguments.insert(a.name().to_string(), serde_json::Value::String(col.clone()));
        set(&mut inputs, a, values);
    }
    problems.into_result(format!("{path}: escalc cannot read its arguments"))?;
    let opts = Options {
        add: args.add,
        to: match args.to {
            ToArg::Only0 => AddTo::Only0,
            ToArg::All => AddTo::All,
            ToArg::If0all => AddTo::If0All,
            ToArg::None => AddTo::None,
        },
        drop00: args.drop00,
    };
    let effects = escalc::escalc(measure, &inputs, &opts).map_err(|e| match e {
        EscalcError::BadValues(bad) => {
            let mut pr = Problems::new();
            for b in bad {
                let col = args.column_of(b.arg).cloned().unwrap_or_default();
                pr.push(
                    Problem::new(path.as_str(), format!("--{}: {}", b.arg.name(), b.accepted))
                        .line(t.line(b.row))
                        .column(col.as_str())
                        .value(&format_num(b.value)),
                );
            }
            match pr.into_result(format!("{path}: values escalc cannot use")) {
                Err(e) => e,
                Ok(()) => Error::input(format!("{path}: values escalc cannot use")),
            }
        }
        other => Error::input(format!("{path}: {other}")),
    })?;
    let yi: Vec<f64> = effects.iter().map(|e| e.yi).collect();
    let vi: Vec<f64> = effects.iter().map(|e| e.vi).collect();
    let n_missing = yi.iter().filter(|v| v.is_nan()).count();
    if n_missing > 0 {
        notes.push(format!(
            "{n_missing} rows have a missing input and get yi = vi = NA (as metafor)"
        ));
    }
    let mut table = t.clone();
    for name in ["yi", "vi"] {
        if table.index_of(name).is_some() {
            notes.push(format!(
                "the input's column '{name}' is replaced by the computed one"
            ));
            table.columns.retain(|c| c.name != name);
        }
    }
    table.columns.push(Column::num("yi", yi.clone()));
    table.columns.push(Column::num("vi", vi.clone()));
    let rows = yi
        .iter()
        .zip(&vi)
        .enumerate()
        .map(|(r, (&y, &v))| EscalcRow {
            line: t.line(r),
            yi: (!y.is_nan()).then_some(y),
            vi: (!v.is_nan()).then_some(v),
        })
        .collect();
    Ok(EscalcReport {
        command: "escalc",
        version: crate::VERSION,
        input: p.input_info(t.nrows() - n_missing),
        measure: measure.code(),
        arguments,
        k: t.nrows() - n_missing,
        missing: n_missing,
        effects: rows,
        excluded: p.excluded.clone(),
        notes,
        table,
    })
}

fn set(inputs: &mut Inputs, a: Arg, v: Vec<f64>) {
    let slot = match a {
        Arg::M1i => &mut inputs.m1i,
        Arg::Sd1i => &mut inputs.sd1i,
        Arg::N1i => &mut inputs.n1i,
        Arg::M2i => &mut inputs.m2i,
        Arg::Sd2i => &mut inputs.sd2i,
        Arg::N2i => &mut inputs.n2i,
        Arg::Ri => &mut inputs.ri,
        Arg::Ni => &mut inputs.ni,
        Arg::Ai => &mut inputs.ai,
        Arg::Bi => &mut inputs.bi,
        Arg::Ci => &mut inputs.ci,
        Arg::Di => &mut inputs.di,
    };
    *slot = Some(v);
}

fn render_table(r: &EscalcReport) -> String {
    let mut o = format!(
        "escalc, measure {}: {} effect sizes from {}\n\n{:>6}  {:>12}  {:>12}\n",
        r.measure, r.k, r.input.path, "line", "yi", "vi"
    );
    let f = |x: Option<f64>| x.map_or("NA".to_string(), |v| format!("{v:.4}"));
    for e in &r.effects {
        o.push_str(&format!(
            "{:>6}  {:>12}  {:>12}\n",
            e.line,
            f(e.yi),
            f(e.vi)
        ));
    }
    for n in &r.notes {
        o.push_str(&format!("note: {n}\n"));
    }
    o
}

pub fn run(args: &EscalcArgs) -> Result<()> {
    let report = build(args)?;
    match args.format {
        OutFormat::Csv => match &args.output {
            Some(path) => write_table(&report.table, path),
            None => {
                let mut buf = Vec::new();
                write_to(&report.table, WriteFormat::Csv, &mut buf)?;
                emit(&String::from_utf8_lossy(&buf), None)
            }
        },
        OutFormat::Json => emit(&to_json(&report)?, args.output.as_deref()),
        OutFormat::Table => emit(&render_table(&report), args.output.as_deref()),
    }
}
