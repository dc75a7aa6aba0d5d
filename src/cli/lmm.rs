//! `outcomes lmm DATA --formula "y ~ x + f + (1 | g)"`: a linear mixed model
//! with lme4's answers (contract, `outcomes lmm`; method in `stats::lmm`).
//!
//! The glue: the formula's variables are looked up in the table; rows with a
//! missing value in any of them are dropped and counted; text columns and
//! every grouping variable become factors (levels in sorted order, numeric
//! codes in numeric order, as R's `factor()` orders them), numbers stay
//! numeric in the fixed part.

use super::common::{FigureArgs, InputArgs, OutputArgs};
use crate::data::input::{prepare, Exclusion, InputInfo, Purpose};
use crate::data::roles::Role;
use crate::data::table::{format_num, ColumnData, Table};
use crate::error::{Error, Result};
use crate::output::{emit, to_json, OutFormat};
use crate::stats::lmm::{formula, Frame, Lmm, LmmFit, Method, RandomComponent, RandomEffects, Var};
use clap::Args;
use serde::Serialize;

#[derive(Args, Debug, Clone)]
pub struct LmmArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Model formula in lme4 syntax, e.g. "post ~ pre + technique + (1 | therapist) + (1 | site)":
    /// numeric and factor terms, a*b, a:b, -1 or 0 +, (1 | g), (1 | g1/g2),
    /// crossed (1 | g1) + (1 | g2), (1 + x | g) correlated, (1 + x || g) uncorrelated.
    #[arg(long, value_name = "FORMULA")]
    pub formula: String,
    /// Fit by restricted maximum likelihood (the default, as lme4).
    #[arg(long, conflicts_with = "ml")]
    pub reml: bool,
    /// Fit by maximum likelihood (for comparing fixed effects with a likelihood-ratio test).
    #[arg(long)]
    pub ml: bool,
    /// Include the conditional modes (BLUPs) of the random effects with their
    /// conditional SDs (lme4's ranef(condVar = TRUE)).
    #[arg(long)]
    pub ranef: bool,
    /// Fit from summary files written by `outcomes summarise` instead of
    /// DATA (random intercepts for therapist and site only; no --ranef, as
    /// the summaries name no therapist).
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["data", "ranef"])]
    pub summaries: Vec<std::path::PathBuf>,
    /// How DATA is read: `auto` reads a .csv/.tsv/.txt file of 256 MiB or
    /// more (.parquet: 32 MiB) in one pass when the model has random
    /// intercepts only, for at most two grouping columns, and main effects
    /// (per-group sums, bounded memory; no --ranef or --plot), and other
    /// models and smaller files in memory; `memory` and `stream` force one or
    /// the other. Both give the same estimates to the optimiser's tolerance.
    #[arg(long, value_enum, default_value_t = crate::data::stream::Ingest::Auto, help_heading = "Input")]
    pub ingest: crate::data::stream::Ingest,
    /// --plot: a caterpillar plot of the first grouping factor's conditional
    /// modes (first term) with 95% intervals, ranked.
    #[command(flatten)]
    pub figure: FigureArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Serialize)]
pub struct LmmReport {
    pub command: &'static str,
    pub version: &'static str,
    pub input: InputInfo,
    #[serde(flatten)]
    pub fit: LmmFit,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranef: Option<Vec<RandomEffects>>,
    pub excluded: Vec<Exclusion>,
    pub notes: Vec<String>,
}

/// A factor from a table column: text keys, levels sorted (numerically for
/// a numeric column).
pub(crate) fn factor(table: &Table, name: &str, rows: &[usize]) -> Var {
    let col = table.column(name).expect("checked column");
    match &col.data {
        ColumnData::Num(v) => {
            let mut levels: Vec<f64> = rows.iter().map(|&r| v[r]).collect();
            levels.sort_by(f64::total_cmp);
            levels.dedup();
            let codes = rows
                .iter()
                .map(|&r| levels.partition_point(|&l| l < v[r]) as u32)
                .collect();
            Var::Factor {
                codes,
                levels: levels.into_iter().map(format_num).collect(),
            }
        }
        ColumnData::Str(v) => {
            let vals: Vec<&str> = rows
                .iter()
                .map(|&r| v[r].as_deref().unwrap_or(""))
                .collect();
            Var::factor_from_strings(&vals)
        }
    }
}

/// Sorts the analysed rows by the values of the model variables (numbers by
/// value, text by its characters), so that the sums inside the fit run in
/// the same order whatever the order of the rows in the file, and the same
/// rows always give bitwise the same estimates. No output refers to rows by
/// position, so nothing else changes.
fn canonical_order(t: &crate::data::table::Table, vars: &[String], rows: &mut [usize]) {
    use crate::data::table::ColumnData;
    use std::cmp::Ordering;
    let cols: Vec<&ColumnData> = vars
        .iter()
        .filter_map(|v| t.column(v).map(|c| &c.data))
        .collect();
    rows.sort_by(|&a, &b| {
        cols.iter()
            .map(|c| match c {
                ColumnData::Num(x) => x[a].total_cmp(&x[b]),
                ColumnData::Str(x) => x[a].cmp(&x[b]),
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
}

pub fn build(args: &LmmArgs) -> Result<LmmReport> {
    if !args.summaries.is_empty() {
        return crate::cli::summarise::lmm_from_summaries(args);
    }
    let mut note = None;
    if large(args)? {
        match one_pass(args)? {
            Ok(report) => return Ok(report),
            Err(why) if args.ingest == crate::data::stream::Ingest::Stream => {
                return Err(Error::input(format!(
                    "--ingest stream: this model cannot be fitted in one pass: {why}; use \
                     --ingest memory"
                )));
            }
            Err(why) => note = Some(format!("read in memory although the file is large: {why}")),
        }
    }
    let mut report = in_memory(args)?;
    report.notes.extend(note);
    Ok(report)
}

/// Whether `--ingest` (and, under `auto`, the file's size) asks for one pass.
fn large(args: &LmmArgs) -> Result<bool> {
    let req = args.input.request();
    let spec = match &req.spec {
        Some(p) => Some(crate::data::roles::Spec::read(p)?),
        None => None,
    };
    let path = crate::data::input::data_path(&req, spec.as_ref());
    Ok(crate::data::stream::wants_stream(
        args.ingest,
        path.as_deref(),
    ))
}

/// The model fitted from one pass over DATA: its response as the outcome,
/// its one or two grouping columns as therapist and site, its fixed terms as
/// covariates, per-group sums as `summarise` accumulates them (so a text
/// column is coded as R's treatment contrasts), fitted as from summaries.
/// `Ok(Err(why))`: the model needs the rows themselves.
fn one_pass(args: &LmmArgs) -> Result<std::result::Result<LmmReport, String>> {
    use crate::data::roles::{RoleSource, Roles};
    let f = formula::parse(&args.formula)?;
    if args.ranef || args.figure.plot.is_some() {
        return Ok(Err(
            "--ranef and --plot list each group's effect, which per-group sums do not give".into(),
        ));
    }
    if !f.fixed.intercept {
        return Ok(Err("the model has no intercept".into()));
    }
    let mut groups: Vec<&str> = Vec::new();
    for r in &f.random {
        if !(r.lhs.intercept && r.lhs.terms.is_empty() && r.group.len() == 1) {
            return Ok(Err(format!(
                "'{}' is not a random intercept of one column",
                f.group_label(&r.group)
            )));
        }
        let g = f.vars[r.group[0]].as_str();
        if r.group[0] == f.response {
            return Ok(Err(format!(
                "'{g}' is both the response and a grouping column"
            )));
        }
        if groups.contains(&g) {
            return Ok(Err(format!("'{g}' has two random terms")));
        }
        groups.push(g);
    }
    if groups.is_empty() || groups.len() > 2 {
        return Ok(Err(format!(
            "one pass fits one or two random intercepts; the model has {}",
            groups.len()
        )));
    }
    let mut covariates = Vec::new();
    for t in &f.fixed.terms {
        if t.len() != 1 {
            return Ok(Err(format!(
                "the interaction '{}' needs the rows",
                f.term_label(t)
            )));
        }
        let v = f.vars[t[0]].clone();
        if groups.contains(&v.as_str()) {
            return Ok(Err(format!("'{v}' is both a fixed and a grouping term")));
        }
        covariates.push(v);
    }
    let mut roles = Roles {
        assigned: Vec::new(),
        covariates,
        covariates_source: Some(RoleSource::Flag),
    };
    roles.set(Role::Post, &f.vars[f.response], RoleSource::Flag);
    roles.set(Role::Therapist, groups[0], RoleSource::Flag);
    if let Some(site) = groups.get(1) {
        roles.set(Role::Site, site, RoleSource::Flag);
    }
    let vargs = crate::cli::variance::VarianceArgs::design_only(args.input.clone(), args.ingest);
    use crate::cli::variance::CROSSED_NOTE;
    use crate::cli::variance_stream::{design_from_stream, Streamed};
    match design_from_stream(&vargs, false, Purpose::Analyse, Some(&roles))? {
        Streamed::Ineligible(why) => Ok(Err(why)),
        Streamed::Design(d) => {
            let mut report = crate::cli::summarise::lmm_from_design(args, &f, *d)?;
            // lme4's order of random terms: by number of levels, most first
            let fit = &mut report.fit;
            if fit.groups.len() == 2 && fit.groups[1].levels > fit.groups[0].levels {
                fit.groups.swap(0, 1);
                fit.random.swap(0, 1);
                fit.theta.swap(0, 1);
            }
            // (the design's notes on therapists and the bootstrap are
            // `variance`'s)
            report
                .notes
                .retain(|n| n != CROSSED_NOTE && !n.starts_with("read in one pass"));
            report.notes.push(format!(
                "read in one pass (--ingest {}): fitted from per-group sums of {} rows (the \
                 cross-products of the model's columns in each group, which give the same \
                 likelihood as the rows for random-intercept models), never all rows in memory",
                if args.ingest == crate::data::stream::Ingest::Stream {
                    "stream"
                } else {
                    "auto: a large file"
                },
                report.input.rows_read
            ));
            Ok(Ok(report))
        }
    }
}

/// The model fitted from the rows, read in memory.
fn in_memory(args: &LmmArgs) -> Result<LmmReport> {
    let p = prepare(&args.input.request(), Purpose::Analyse)?;
    let t = &p.table;
    let f = formula::parse(&args.formula)?;
    let mut missing_cols = Vec::new();
    for v in &f.vars {
        if t.index_of(v).is_none() {
            missing_cols.push(v.clone());
        }
    }
    if !missing_cols.is_empty() {
        return Err(Error::input(format!(
            "--formula: the file has no column {}; the file has: {}",
            missing_cols
                .iter()
                .map(|c| format!("'{c}'"))
                .collect::<Vec<_>>()
                .join(", "),
            t.names_for_message()
        )));
    }
    let response = &f.vars[f.response];
    if !t.column(response).is_some_and(|c| c.is_numeric()) {
        return Err(Error::input(format!(
            "{}: the response '{response}' must hold numbers (a text column cannot be modelled \
             by a linear mixed model)",
            t.source.path
        )));
    }
    // Rows complete on every model variable.
    let mut rows: Vec<usize> = (0..t.nrows())
        .filter(|&r| {
            f.vars
                .iter()
                .all(|v| !t.column(v).is_some_and(|c| c.is_missing(r)))
        })
        .collect();
    canonical_order(t, &f.vars, &mut rows);
    let mut excluded = p.excluded.clone();
    let dropped = t.nrows() - rows.len();
    if dropped > 0 {
        excluded.push(Exclusion {
            reason: "missing value in a model variable".to_string(),
            rows: dropped,
        });
    }
    if rows.is_empty() {
        return Err(Error::analysis(format!(
            "every row has a missing value in a model variable ({})",
            f.vars.join(", ")
        )));
    }
    let grouping: Vec<&String> = f
        .random
        .iter()
        .flat_map(|r| r.group.iter().map(|&g| &f.vars[g]))
        .collect();
    // --ranef lists one row per level of each grouping factor: for the
    // client column that is a list of client IDs.
    if let Some(client) = p.roles.get(Role::Client) {
        if args.ranef && !args.input.allow_identifiers && grouping.iter().any(|g| *g == client) {
            return Err(Error::input(format!(
                "--ranef would list every client ID of '{client}' (the client column) with its \
                 random effects; give --allow-identifiers to list them (the output then holds \
                 client-level data), or leave out --ranef"
            )));
        }
    }
    let mut frame = Frame::new(rows.len());
    for v in &f.vars {
        let col = t.column(v).expect("checked column");
        let var = match (col.as_num(), grouping.contains(&v)) {
            (Some(x), false) => Var::Num(rows.iter().map(|&r| x[r]).collect()),
            _ => factor(t, v, &rows),
        };
        frame.add(v, var)?;
    }
    let model = Lmm::new(&args.formula, &frame)?;
    let method = if args.ml { Method::Ml } else { Method::Reml };
    let fit = model.fit(method)?;
    let mut notes = p.notes.clone();
    if !fit.aliased.is_empty() {
        notes.push(format!(
            "fixed-effect columns dropped because they are aliased (rank deficient), as R does: {}",
            fit.aliased.join(", ")
        ));
    }
    if fit.singular {
        notes.push(
            "boundary (singular) fit: a variance component is estimated as zero or a correlation \
             as ±1 (as lme4's isSingular)"
                .to_string(),
        );
    }
    if !fit.converged {
        notes
            .push("the optimiser did not report convergence: treat the estimates with care".into());
    }
    let ranef = args.ranef.then(|| model.ranef(&fit));
    Ok(LmmReport {
        command: "lmm",
        version: crate::VERSION,
        input: p.input_info(rows.len()),
        fit,
        ranef,
        excluded,
        notes,
    })
}

/// Significant digits as R prints them in `summary(lmer)` (about 4).
fn g4(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (4 - 1 - x.abs().log10().floor() as i32).clamp(0, 8) as usize;
    format!("{x:.digits$}")
}

/// A summary like lme4's `summary(lmer)`.
pub fn render_table(r: &LmmReport) -> String {
    let f = &r.fit;
    let mut s = String::new();
    s.push_str(&format!(
        "Linear mixed model fit by {} (outcomes {})\n",
        if f.reml { "REML" } else { "maximum likelihood" },
        r.version
    ));
    s.push_str(&format!("Formula: {}\n", f.formula));
    s.push_str(&format!("Data: {}\n\n", r.input.path));
    if f.reml {
        s.push_str(&format!(
            "REML criterion at convergence: {:.4}\n\n",
            f.objective
        ));
    } else {
        s.push_str(&format!(
            "{:>12} {:>12} {:>12} {:>12}\n{:>12.4} {:>12.4} {:>12.4} {:>12.4}\n\n",
            "AIC", "BIC", "logLik", "deviance", f.aic, f.bic, f.loglik, f.objective
        ));
    }
    s.push_str("Random effects:\n");
    s.push_str(&format!(
        " {:<12} {:<14} {:>12} {:>10} {}\n",
        "Groups", "Name", "Variance", "Std.Dev.", "Corr"
    ));
    let mut last_group = String::new();
    for c in &f.random {
        match c {
            RandomComponent::Variance {
                group,
                term,
                variance,
                sd,
            } => {
                let g = if *group == last_group {
                    ""
                } else {
                    group.as_str()
                };
                s.push_str(&format!(
                    " {:<12} {:<14} {:>12} {:>10}\n",
                    g,
                    term,
                    g4(*variance),
                    g4(*sd)
                ));
                last_group = group.clone();
            }
            RandomComponent::Correlation { group, terms, corr } => {
                s.push_str(&format!(
                    " {:<12} corr({}, {}) = {:.3}\n",
                    group, terms[0], terms[1], corr
                ));
            }
        }
    }
    s.push_str(&format!(
        " {:<12} {:<14} {:>12} {:>10}\n",
        "Residual",
        "",
        g4(f.residual.variance),
        g4(f.residual.sd)
    ));
    let groups: Vec<String> = f
        .groups
        .iter()
        .map(|g| format!("{}, {}", g.group, g.levels))
        .collect();
    s.push_str(&format!(
        "Number of obs: {}, groups:  {}\n\n",
        f.n,
        groups.join("; ")
    ));
    s.push_str("Fixed effects:\n");
    let w = f
        .fixed
        .iter()
        .map(|x| x.term.len())
        .max()
        .unwrap_or(11)
        .max(11);
    s.push_str(&format!(
        "{:<w$} {:>12} {:>12} {:>9}\n",
        "", "Estimate", "Std. Error", "t value"
    ));
    for x in &f.fixed {
        s.push_str(&format!(
            "{:<w$} {:>12} {:>12} {:>9.3}\n",
            x.term,
            g4(x.estimate),
            g4(x.se),
            x.t
        ));
    }
    s.push_str(&format!(
        "\nlogLik {:.4}, AIC {:.4}, BIC {:.4} (df {}); converged: {}, singular: {}, {} evaluations\n",
        f.loglik,
        f.aic,
        f.bic,
        f.df,
        if f.converged { "yes" } else { "no" },
        if f.singular { "yes" } else { "no" },
        f.evaluations
    ));
    if !r.excluded.is_empty() {
        s.push_str("\nExcluded\n");
        for e in &r.excluded {
            s.push_str(&format!("  {} rows: {}\n", e.rows, e.reason));
        }
    }
    if let Some(re) = &r.ranef {
        for g in re {
            s.push_str(&format!(
                "\nConditional modes of {} (conditional SD)\n",
                g.group
            ));
            for (i, level) in g.levels.iter().enumerate() {
                let cells: Vec<String> = g.modes[i]
                    .iter()
                    .zip(&g.cond_sd[i])
                    .map(|(m, sd)| format!("{} ({})", g4(*m), g4(*sd)))
                    .collect();
                s.push_str(&format!("  {level:<12} {}\n", cells.join("  ")));
            }
        }
    }
    if !r.notes.is_empty() {
        s.push_str("\nNotes\n");
        for n in &r.notes {
            s.push_str(&format!("  - {n}\n"));
        }
    }
    s
}

/// `--format csv`: the fixed effects.
fn render_csv(r: &LmmReport) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["term", "estimate", "se", "t"]);
    for x in &r.fit.fixed {
        let _ = w.write_record([
            x.term.clone(),
            x.estimate.to_string(),
            x.se.to_string(),
            x.t.to_string(),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Caterpillar plot of one grouping factor's conditional modes (first term)
/// with `mode ± z conditional SD` intervals at `level` percent.
pub fn caterpillar_chart(
    re: &RandomEffects,
    level: f64,
) -> crate::plot::caterpillar::CaterpillarPlot {
    use crate::plot::caterpillar::{CaterpillarItem, CaterpillarPlot};
    let z = crate::stats::effect::qnorm(0.5 + level / 200.0);
    let items = re
        .levels
        .iter()
        .zip(re.modes.iter().zip(&re.cond_sd))
        .map(|(level, (m, sd))| CaterpillarItem {
            label: level.clone(),
            estimate: m[0],
            lower: m[0] - z * sd[0],
            upper: m[0] + z * sd[0],
        })
        .collect();
    let term = re.terms.first().map_or("(Intercept)", |t| t.as_str());
    CaterpillarPlot::new(
        items,
        format!(
            "{}: {term} (conditional mode, {level:.0}% interval)",
            re.group
        ),
    )
}

pub fn run(args: &LmmArgs) -> Result<()> {
    if !args.summaries.is_empty() && args.figure.plot.is_some() {
        return Err(Error::input(
            "--plot with --summaries: the caterpillar plot needs each therapist's effect, and summaries name no therapist",
        ));
    }
    let report = build(args)?;
    if args.figure.plot.is_some() {
        let re = match &report.ranef {
            Some(r) => r.clone(),
            None => build(&LmmArgs {
                ranef: true,
                ..args.clone()
            })?
            .ranef
            .unwrap_or_default(),
        };
        let first = re
            .first()
            .ok_or_else(|| Error::analysis("--plot: the model has no random effects to plot"))?;
        args.figure.save(&caterpillar_chart(first, 95.0))?;
    }
    let text = match args.out.format {
        OutFormat::Json => to_json(&report)?,
        OutFormat::Table => render_table(&report),
        OutFormat::Csv => render_csv(&report),
    };
    emit(&text, args.out.output.as_deref())
}
