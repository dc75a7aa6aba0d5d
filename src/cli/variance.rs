//! `outcomes variance DATA`: how much of the outcome is client, technique,
//! relationship, therapist and site (contract §variance; definition
//! science.md §2; computation in `stats::variance`).
//!
//! The glue: factors from roles, one analysis sample complete on every
//! column used (exclusions counted by column), W = [1, factor columns…, y]
//! with R's treatment-contrast dummies, the identifiability checks, the
//! decomposition, the cluster bootstrap, and the output.

use super::common::{FigureArgs, InputArgs, OutputArgs};
use super::lmm::factor;
use crate::data::input::{prepare, Exclusion, InputInfo, Purpose};
use crate::data::roles::Role;
use crate::data::stream::{wants_stream, Ingest};
use crate::error::{Error, Result};
use crate::literature::{self, Published};
use crate::output::{emit, to_json, OutFormat};
use crate::stats::lmm::{FixedEffect, GroupLevels, LmmFit, RandomComponent, Residual, Var};
use crate::stats::variance::ri::{Fit, Random};
use crate::stats::variance::units::{Scheme, Units};
use crate::stats::variance::{self as var, Bootstrap, Factor};
use clap::Args;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::io::IsTerminal;

#[derive(Args, Debug, Clone)]
pub struct VarianceArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Split the alliance into the client's deviation from their therapist's mean
    /// alliance (within) and that mean (between), two factors (Baldwin, Wampold &
    /// Imel 2007); reports both coefficients and the contextual effect.
    #[arg(long)]
    pub split_alliance: bool,
    /// Define an extra factor from columns (numeric, or text as a factor), e.g.
    /// --factor severity=baseline_gad,chronicity. Repeatable.
    #[arg(long = "factor", value_name = "NAME=COL1,COL2")]
    pub factors: Vec<String>,
    /// Fit from summary files written by `outcomes summarise` (per-therapist
    /// cross-products, one file per site or service) instead of DATA: the
    /// same models as the pooled client records, without pooling them.
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["data", "split_alliance", "factors"])]
    pub summaries: Vec<std::path::PathBuf>,
    /// How DATA is read: `auto` reads a .csv/.tsv/.txt file of 256 MiB or more
    /// (.parquet: 32 MiB) in one pass (per-therapist sums, bounded memory) and
    /// smaller files in memory; `memory` and `stream` force one or the other. Both give
    /// the same estimates (to the optimiser's tolerance, about 1e-8).
    #[arg(long, value_enum, default_value_t = Ingest::Auto, help_heading = "Input")]
    pub ingest: Ingest,
    /// Cluster-bootstrap replicates (see --bootstrap-scheme) for the
    /// intervals; 0 for none. Default: 1000 for table output, 0 for JSON and CSV.
    #[arg(long, value_name = "N")]
    pub bootstrap: Option<usize>,
    /// What a bootstrap replicate resamples: therapists within each site (sites
    /// fixed), two-stage (sites, then therapists within each drawn site), or sites
    /// (each with all its therapists).
    #[arg(long, value_enum, default_value_t = SchemeArg::TwoStage, value_name = "SCHEME")]
    pub bootstrap_scheme: SchemeArg,
    /// Random seed of the bootstrap (same seed and data, same numbers, whatever
    /// the number of threads).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Confidence level in percent.
    #[arg(long, default_value_t = 95.0)]
    pub level: f64,
    /// --plot: the variance-share chart (Shapley shares with their intervals
    /// and, in a separate panel, the published bivariate estimates).
    #[command(flatten)]
    pub figure: FigureArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

impl VarianceArgs {
    /// Arguments that build only the design of `input` (no fits, no
    /// bootstrap, no figure): what `summarise` and one-pass `lmm` need.
    pub(crate) fn design_only(input: InputArgs, ingest: Ingest) -> VarianceArgs {
        VarianceArgs {
            input,
            split_alliance: false,
            factors: Vec::new(),
            summaries: Vec::new(),
            ingest,
            bootstrap: Some(0),
            bootstrap_scheme: SchemeArg::TwoStage,
            seed: 1,
            level: 95.0,
            figure: FigureArgs {
                plot: None,
                width: crate::plot::Width::Single,
                dpi: crate::plot::DEFAULT_DPI,
            },
            out: OutputArgs {
                format: crate::output::OutFormat::Json,
                output: None,
            },
        }
    }
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemeArg {
    Therapists,
    TwoStage,
    Sites,
}

impl SchemeArg {
    fn scheme(self) -> Scheme {
        match self {
            SchemeArg::Therapists => Scheme::Therapists,
            SchemeArg::TwoStage => Scheme::TwoStage,
            SchemeArg::Sites => Scheme::Sites,
        }
    }
}

/// `{shapley, alone, unique, ci_lb, ci_ub}` and the intervals of alone and
/// unique.
#[derive(Debug, Serialize, Clone)]
pub struct Share {
    pub shapley: f64,
    pub alone: f64,
    pub unique: f64,
    pub ci_lb: Option<f64>,
    pub ci_ub: Option<f64>,
    pub alone_ci: Option<[f64; 2]>,
    pub unique_ci: Option<[f64; 2]>,
}

#[derive(Debug, Serialize, Clone)]
pub struct FactorInfo {
    pub name: String,
    /// Model terms (R's names; `(1 | therapist)` for a random intercept).
    pub terms: Vec<String>,
    /// Data columns it comes from.
    pub columns: Vec<String>,
}

#[derive(Debug, Serialize, Clone)]
pub struct Subset {
    pub factors: Vec<String>,
    /// lme4/lm formula of the model.
    pub formula: String,
    pub method: &'static str,
    pub sigma2: f64,
    pub value: f64,
}

#[derive(Debug, Serialize, Clone)]
pub struct Coef {
    pub estimate: f64,
    pub se: f64,
    pub t: f64,
    pub ci: Option<[f64; 2]>,
}

#[derive(Debug, Serialize, Clone)]
pub struct Alliance {
    pub within: Coef,
    pub between: Coef,
    /// between − within (Raudenbush & Bryk 2002, *Hierarchical Linear
    /// Models*, 2nd ed., §5.3): the effect of the therapist's mean alliance
    /// over and above the client's own.
    pub contextual: Coef,
}

#[derive(Debug, Serialize, Clone)]
pub struct BootInfo {
    pub reps: usize,
    pub seed: u64,
    pub level: f64,
    pub failed: usize,
    pub scheme: String,
    pub interval: &'static str,
}

#[derive(Debug, Serialize)]
pub struct VarianceReport {
    pub command: &'static str,
    pub version: &'static str,
    pub input: InputInfo,
    pub roles: Value,
    pub outcome: String,
    pub n: usize,
    pub var_y: f64,
    pub factors: Vec<FactorInfo>,
    #[serde(serialize_with = "shares_as_map")]
    pub shares: Vec<(String, Share)>,
    pub explained: f64,
    pub explained_ci: Option<[f64; 2]>,
    pub unexplained: f64,
    pub unexplained_ci: Option<[f64; 2]>,
    pub icc: Value,
    pub r2: Value,
    pub model: LmmFit,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alliance: Option<Alliance>,
    pub bootstrap: BootInfo,
    pub subsets: Vec<Subset>,
    pub literature: Vec<Published>,
    pub literature_note: &'static str,
    pub warnings: Vec<String>,
    pub excluded: Vec<Exclusion>,
    pub notes: Vec<String>,
    pub groups: Map<String, Value>,
}

fn shares_as_map<S: serde::Serializer>(
    v: &[(String, Share)],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_map(v.iter().map(|(k, x)| (k, x)))
}

/// A column in the analysis and the role or factor it serves.
pub(crate) struct Used {
    pub column: String,
    pub what: String,
}

/// What a factor is made of before W is built.
pub(crate) enum Source {
    /// Numeric or text columns (text → treatment dummies).
    Columns(Vec<String>),
    /// The within (false) or between (true) part of the alliance.
    SplitAlliance(String, bool),
    Therapist,
    Site,
}

pub fn build(args: &VarianceArgs) -> Result<VarianceReport> {
    if !(args.level > 0.0 && args.level < 100.0) {
        return Err(Error::input(format!(
            "--level {}: give a confidence level in percent between 0 and 100, e.g. 95",
            args.level
        )));
    }
    let level = args.level / 100.0;
    let reps = args.bootstrap.unwrap_or(match args.out.format {
        OutFormat::Table => 1000,
        _ => 0,
    });
    let design = if args.summaries.is_empty() {
        design(args, false)?
    } else {
        crate::cli::summarise::merge(&args.summaries)?
    };
    finish(args, level, reps, design)
}

/// The design of DATA, read in memory or in one pass as `--ingest` asks
/// (`auto`: one pass for a large file when the analysis allows it, with a
/// note saying why not otherwise).
pub(crate) fn design(args: &VarianceArgs, one_hot: bool) -> Result<Design> {
    let req = args.input.request();
    let spec = match &req.spec {
        Some(p) => Some(crate::data::roles::Spec::read(p)?),
        None => None,
    };
    let path = crate::data::input::data_path(&req, spec.as_ref());
    if !wants_stream(args.ingest, path.as_deref()) {
        return design_from_data(args, one_hot);
    }
    let clients = crate::data::input::Purpose::AnalyseClients;
    match crate::cli::variance_stream::design_from_stream(args, one_hot, clients, None)? {
        crate::cli::variance_stream::Streamed::Design(d) => Ok(*d),
        crate::cli::variance_stream::Streamed::Ineligible(why) => {
            if args.ingest == Ingest::Stream {
                return Err(Error::input(format!(
                    "--ingest stream: this analysis cannot be read in one pass: {why}; use \
                     --ingest memory"
                )));
            }
            let mut d = design_from_data(args, one_hot)?;
            d.notes
                .push(format!("read in memory although the file is large: {why}"));
            Ok(d)
        }
    }
}

/// What the decomposition works on: the analysis sample's per-therapist
/// sufficient statistics and what they mean, from a data file or merged
/// from summary files (`outcomes summarise`).
pub(crate) struct Design {
    pub units: Units,
    /// Names of W's columns without y (m = names.len() + 1).
    pub names: Vec<String>,
    /// Per name: the data column and, for an indicator, its level.
    pub sources: Vec<(String, Option<String>)>,
    /// Site labels by site code (empty without sites).
    pub site_levels: Vec<String>,
    pub factors: Vec<Factor>,
    pub infos: Vec<FactorInfo>,
    pub formula_terms: Vec<Vec<String>>,
    pub split_cols: Option<(usize, usize)>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    pub groups: Map<String, Value>,
    pub therapist: Option<String>,
    pub site: Option<String>,
    pub outcome: String,
    pub n: usize,
    pub input: InputInfo,
    pub roles: Value,
    pub excluded: Vec<Exclusion>,
}

/// The factors of a decomposition and every column they use.
pub(crate) struct Plan {
    pub outcome: String,
    pub defs: Vec<(String, Source)>,
    pub used: Vec<Used>,
    pub therapist: Option<String>,
    pub site: Option<String>,
}

/// Factors from roles (science.md §2 order) and `--factor`, checked against
/// the table's columns.
pub(crate) fn plan(
    args: &VarianceArgs,
    t: &crate::data::table::Table,
    roles: &crate::data::roles::Roles,
) -> Result<Plan> {
    let outcome = roles.get(Role::Post).map(str::to_string).ok_or_else(|| {
        Error::input(format!(
            "{}: variance needs the outcome: give --post COL (the post-treatment score); the \
             file has: {}",
            t.source.path,
            t.names_for_message()
        ))
    })?;

    // Factors from roles, in the order of science.md §2.
    let mut defs: Vec<(String, Source)> = Vec::new();
    let mut client_cols: Vec<String> = roles
        .get(Role::Pre)
        .map(str::to_string)
        .into_iter()
        .collect();
    client_cols.extend(roles.covariates.iter().cloned());
    if !client_cols.is_empty() {
        defs.push(("client".into(), Source::Columns(client_cols)));
    }
    if let Some(c) = roles.get(Role::Technique) {
        defs.push(("technique".into(), Source::Columns(vec![c.to_string()])));
    }
    let therapist = roles.get(Role::Therapist).map(str::to_string);
    let site = roles.get(Role::Site).map(str::to_string);
    if let Some(a) = roles.get(Role::Alliance) {
        if args.split_alliance {
            if therapist.is_none() {
                return Err(Error::input(
                    "--split-alliance needs therapists (--therapist COL): the within- and \
                     between-therapist alliance are defined by each therapist's mean",
                ));
            }
            defs.push((
                "relationship_within".into(),
                Source::SplitAlliance(a.to_string(), false),
            ));
            defs.push((
                "relationship_between".into(),
                Source::SplitAlliance(a.to_string(), true),
            ));
        } else {
            defs.push(("relationship".into(), Source::Columns(vec![a.to_string()])));
        }
    } else if args.split_alliance {
        return Err(Error::input(
            "--split-alliance needs the alliance column: give --alliance COL",
        ));
    }
    if therapist.is_some() {
        defs.push(("therapist".into(), Source::Therapist));
    }
    if site.is_some() {
        defs.push(("site".into(), Source::Site));
    }
    for spec in &args.factors {
        let (name, cols) = spec.split_once('=').ok_or_else(|| {
            Error::input(format!(
                "--factor '{spec}': write NAME=COL1,COL2 (a name, '=', and comma-separated columns)"
            ))
        })?;
        let name = name.trim();
        let cols: Vec<String> = cols
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        if name.is_empty() || cols.is_empty() {
            return Err(Error::input(format!(
                "--factor '{spec}': both a name and at least one column are needed"
            )));
        }
        if defs.iter().any(|(n, _)| n == name) {
            return Err(Error::input(format!(
                "--factor '{spec}': a factor named '{name}' already exists (factor names: {})",
                defs.iter()
                    .map(|d| d.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        for c in &cols {
            if t.index_of(c).is_none() {
                return Err(Error::input(format!(
                    "--factor '{spec}': the file has no column '{c}'; it has: {}",
                    t.names_for_message()
                )));
            }
        }
        defs.push((name.to_string(), Source::Columns(cols)));
    }
    if defs.is_empty() {
        return Err(Error::analysis(
            "no factor to decompose over: give at least one of --pre, --covariates, \
             --technique, --alliance, --therapist, --site or --factor",
        ));
    }
    if defs.len() > 12 {
        return Err(Error::input(format!(
            "{} factors need 2^{} model fits; at most 12 factors are supported",
            defs.len(),
            defs.len()
        )));
    }

    // Every column used, with what it is for, outcome first.
    let mut used: Vec<Used> = vec![Used {
        column: outcome.clone(),
        what: "the outcome".into(),
    }];
    for (name, src) in &defs {
        let cols: Vec<String> = match src {
            Source::Columns(c) => c.clone(),
            Source::SplitAlliance(a, _) => vec![a.clone()],
            Source::Therapist => vec![therapist.clone().unwrap_or_default()],
            Source::Site => vec![site.clone().unwrap_or_default()],
        };
        for c in cols {
            if !used.iter().any(|u| u.column == c) {
                used.push(Used {
                    column: c,
                    what: format!("the {name} factor"),
                });
            }
        }
    }
    if args.split_alliance {
        if let Some(th) = &therapist {
            if !used.iter().any(|u| &u.column == th) {
                used.push(Used {
                    column: th.clone(),
                    what: "therapist (for the alliance split)".into(),
                });
            }
        }
    }
    Ok(Plan {
        outcome,
        defs,
        used,
        therapist,
        site,
    })
}

/// Checks the therapists of the analysed rows (`levels`, `n` rows); warns
/// when there are few.
pub(crate) fn therapist_checks(
    th: &str,
    levels: &[String],
    n: usize,
    one_hot: bool,
    warnings: &mut Vec<String>,
) -> Result<()> {
    if levels.len() < 2 && !one_hot {
        return Err(Error::analysis(format!(
            "one therapist ('{}') in the {n} rows analysed: a therapist variance needs at \
             least 2 therapists (30 or more for a usable estimate). Remove --therapist to \
             decompose without therapists",
            levels[0]
        )));
    }
    if levels.len() == n {
        return Err(Error::analysis(format!(
            "every therapist ('{th}') has exactly one client in the {n} rows analysed, so \
             therapist and client variance cannot be told apart"
        )));
    }
    if levels.len() < 10 {
        warnings.push(format!(
            "only {} therapists: the therapist variance (and its share) is estimated from {} \
             values and is very imprecise; 30 or more are usually recommended",
            levels.len(),
            levels.len()
        ));
    }
    Ok(())
}

/// Checks the sites of the analysed rows; false when the site factor must
/// be left out (one site).
pub(crate) fn site_checks(levels: &[String], one_hot: bool, warnings: &mut Vec<String>) -> bool {
    if levels.len() < 2 && !one_hot {
        warnings.push(format!(
            "one site ('{}') in the data: a site variance cannot be estimated, so the site \
             factor is left out; differences between sites, if any, are inside the \
             therapist share and cannot be separated from it",
            levels[0]
        ));
        return false;
    }
    if levels.len() < 5 {
        warnings.push(format!(
            "only {} sites: the site variance is estimated from {} values and is very \
             imprecise; the bootstrap keeps the sites fixed, so its interval does not \
             reflect that",
            levels.len(),
            levels.len()
        ));
    }
    true
}

/// A text factor column with one level in the analysed rows.
pub(crate) fn one_level_error(name: &str, c: &str, level: &str, n: usize) -> Error {
    Error::analysis(format!(
        "the {name} column '{c}' has one value ('{level}') in the {n} \
         rows analysed, so it cannot explain any variance. Remove it \
         (or its role) to decompose without it"
    ))
}

/// Most levels a text factor of the decomposition may have: each level is a
/// column of the dense design, and a "technique" with more labels than this is
/// almost surely an identifier or free text.
pub(crate) const MAX_FACTOR_LEVELS: usize = 1000;

/// Whether a text factor with `levels` levels over `n` rows is refused: more
/// than [`MAX_FACTOR_LEVELS`], or fewer than 2 rows per level on average (a
/// factor that nearly identifies its rows cannot be told apart from them).
pub(crate) fn too_many_levels(levels: usize, n: usize) -> bool {
    levels > MAX_FACTOR_LEVELS || levels * 2 > n
}

/// A text factor with too many levels (`n`: rows analysed, when known).
pub(crate) fn many_levels_error(name: &str, c: &str, levels: usize, n: Option<usize>) -> Error {
    let among = match n {
        Some(n) => format!("{levels} distinct values in the {n} rows analysed"),
        None => format!("more than {} distinct values", levels - 1),
    };
    Error::analysis(format!(
        "the {name} column '{c}' has {among}: as a factor each value is a column of the design, \
         so it may have at most {MAX_FACTOR_LEVELS} values with at least 2 rows each on average. \
         Is it an identifier or free text? Recode it into fewer categories or leave it out"
    ))
}

/// The warning when every therapist (or site) uses a single technique.
pub(crate) fn nested_warning(gname: &str, tech_factor: &str) -> String {
    format!(
        "every {gname} uses a single {tech_factor}: {tech_factor} is nested in \
         {gname}, so the two cannot be told apart in these data. The {gname} \
         intercept absorbs all {tech_factor} differences once both are in a \
         model, {tech_factor}'s unique share is then about zero, and the Shapley \
         shares split their common part between them by convention, not by \
         evidence"
    )
}

/// The note when therapists work at more than one site.
pub(crate) const CROSSED_NOTE: &str = "some therapists see clients at more than one site: \
     therapist and site are crossed random intercepts; in the bootstrap such a therapist is \
     resampled within the site where they saw most clients";

/// Checks every used column has a value (a column without any is a
/// missing factor, not data).
pub(crate) fn empty_column_error(u: &Used, path: &str, filtered: bool) -> Error {
    Error::analysis(format!(
        "the column '{}' ({}) has no values in {}{}: the analysis cannot use it. Remove \
         the role (or the factor) or supply the data",
        u.column,
        u.what,
        path,
        if filtered { " after --where" } else { "" }
    ))
}

/// Too few complete rows.
pub(crate) fn too_few_rows_error(n: usize, used: &[Used]) -> Error {
    Error::analysis(format!(
        "{n} rows are complete on every column used ({}): too few for any model",
        used.iter()
            .map(|u| u.column.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// A constant outcome.
pub(crate) fn constant_outcome_error(outcome: &str, value: f64, n: usize) -> Error {
    Error::analysis(format!(
        "the outcome '{outcome}' is constant ({}) in the {n} rows analysed: there is no \
         variance to decompose",
        crate::data::table::format_num(value)
    ))
}

/// The factors of a design, recorded as their W columns are laid out.
#[derive(Default)]
pub(crate) struct FactorList {
    pub factors: Vec<Factor>,
    pub infos: Vec<FactorInfo>,
    pub formula_terms: Vec<Vec<String>>,
}

impl FactorList {
    /// Factor `name` over W columns `first..names.len()`: its model terms are
    /// `terms` for a random intercept, else those columns' names.
    pub fn push(
        &mut self,
        name: &str,
        names: &[String],
        first: usize,
        terms: Vec<String>,
        columns: Vec<String>,
        random: Random,
    ) {
        self.factors.push(Factor {
            name: name.to_string(),
            cols: (first..names.len()).collect(),
            random,
        });
        self.infos.push(FactorInfo {
            name: name.to_string(),
            terms: if random.any() {
                terms.clone()
            } else {
                names[first..].to_vec()
            },
            columns,
        });
        self.formula_terms.push(terms);
    }
}

/// What `--split-alliance` makes of the alliance column `a`.
pub(crate) fn split_alliance_note(a: &str) -> String {
    format!(
        "--split-alliance: {a}_within = {a} minus the therapist's mean {a} over the analysed \
         clients, {a}_between = that mean (group-mean centring, Baldwin, Wampold & Imel 2007; \
         Enders & Tofighi 2007)"
    )
}

/// The design of a data file. With `one_hot`, a text column gets an
/// indicator for every level (no reference level dropped, one level allowed):
/// the form `outcomes summarise` writes, so that files with different level
/// sets can be merged before the reference level is chosen.
pub(crate) fn design_from_data(args: &VarianceArgs, one_hot: bool) -> Result<Design> {
    let p = prepare(&args.input.request(), Purpose::AnalyseClients)?;
    let t = &p.table;
    let roles = &p.roles;
    let Plan {
        outcome,
        mut defs,
        used,
        therapist,
        site,
    } = plan(args, t, roles)?;
    // Outcome must be numeric; a column without any value is a missing factor.
    let post_col = t.column(&outcome).expect("resolved role");
    if post_col.as_num().is_none() {
        return Err(Error::input(format!(
            "{}: the outcome column '{outcome}' must hold numbers",
            t.source.path
        )));
    }
    for u in &used {
        let col = t.column(&u.column).expect("checked column");
        if col.n_missing() == col.len() {
            return Err(empty_column_error(u, &t.source.path, p.filter.is_some()));
        }
    }
    // The analysis sample: complete on every column used.
    let mut rows = Vec::with_capacity(t.nrows());
    let mut dropped: Vec<usize> = vec![0; used.len()];
    for r in 0..t.nrows() {
        match used
            .iter()
            .position(|u| t.column(&u.column).is_some_and(|c| c.is_missing(r)))
        {
            Some(i) => dropped[i] += 1,
            None => rows.push(r),
        }
    }
    let mut excluded = p.excluded.clone();
    for (u, &d) in used.iter().zip(&dropped) {
        if d > 0 {
            excluded.push(Exclusion {
                reason: format!("missing value in '{}' ({})", u.column, u.what),
                rows: d,
            });
        }
    }
    let n = rows.len();
    if n < 3 {
        return Err(too_few_rows_error(n, &used));
    }
    let y: Vec<f64> = rows
        .iter()
        .map(|&r| post_col.as_num().unwrap()[r])
        .collect();
    if y.iter().all(|&v| v == y[0]) {
        return Err(constant_outcome_error(&outcome, y[0], n));
    }

    let mut warnings: Vec<String> = Vec::new();
    let mut notes = p.notes.clone();
    let mut groups = Map::new();
    // Grouping factors.
    let codes = |col: &str| -> (Vec<u32>, Vec<String>) {
        match factor(t, col, &rows) {
            Var::Factor { codes, levels } => (codes, levels),
            Var::Num(_) => unreachable!("factor() returns a factor"),
        }
    };
    let ther = therapist.as_deref().map(codes);
    let mut site_codes = site.as_deref().map(codes);
    if let (Some(th), Some((_, levels))) = (&therapist, &ther) {
        groups.insert(th.clone(), json!(levels.len()));
        therapist_checks(th, levels, n, one_hot, &mut warnings)?;
    }
    if let (Some(s), Some((_, levels))) = (&site, &site_codes) {
        groups.insert(s.clone(), json!(levels.len()));
        if !site_checks(levels, one_hot, &mut warnings) {
            defs.retain(|d| !matches!(d.1, Source::Site));
            site_codes = None;
        }
    }

    // W = [1, factor columns…, y].
    let mut names: Vec<String> = vec!["(Intercept)".into()];
    // per column of W: the data column and, for an indicator, its level
    let mut sources: Vec<(String, Option<String>)> = vec![("(Intercept)".into(), None)];
    let mut columns: Vec<Vec<f64>> = Vec::new();
    let mut fl = FactorList::default();
    let mut split_cols: Option<(usize, usize)> = None;
    for (name, src) in &defs {
        let first = names.len();
        let (terms, cols_used, random) = match src {
            Source::Columns(cols) => {
                let mut terms = Vec::new();
                for c in cols {
                    let col = t.column(c).expect("checked column");
                    // A technique is a treatment label even when coded as numbers.
                    match col.as_num().filter(|_| name != "technique") {
                        Some(x) => {
                            names.push(c.clone());
                            sources.push((c.clone(), None));
                            columns.push(rows.iter().map(|&r| x[r]).collect());
                        }
                        None => {
                            let (cd, levels) = codes(c);
                            if levels.len() < 2 && !one_hot {
                                return Err(one_level_error(
                                    name,
                                    c,
                                    levels.first().map_or("", String::as_str),
                                    n,
                                ));
                            }
                            if too_many_levels(levels.len(), n) {
                                return Err(many_levels_error(name, c, levels.len(), Some(n)));
                            }
                            for (l, level) in levels.iter().enumerate().skip(usize::from(!one_hot))
                            {
                                names.push(format!("{c}{level}"));
                                sources.push((c.clone(), Some(level.clone())));
                                columns.push(
                                    cd.iter().map(|&v| (v as usize == l) as u8 as f64).collect(),
                                );
                            }
                        }
                    }
                    terms.push(c.clone());
                }
                (terms, cols.clone(), Random::NONE)
            }
            Source::SplitAlliance(a, between) => {
                let x = t
                    .column(a)
                    .expect("checked")
                    .as_num()
                    .expect("alliance numeric");
                let (tc, levels) = ther.as_ref().expect("therapist checked");
                let mut sum = vec![0.0; levels.len()];
                let mut cnt = vec![0.0; levels.len()];
                for (i, &r) in rows.iter().enumerate() {
                    sum[tc[i] as usize] += x[r];
                    cnt[tc[i] as usize] += 1.0;
                }
                let mean: Vec<f64> = sum.iter().zip(&cnt).map(|(s, c)| s / c).collect();
                let name = if *between {
                    columns.push(tc.iter().map(|&c| mean[c as usize]).collect());
                    split_cols = split_cols.map(|(w, _)| (w, first));
                    format!("{a}_between")
                } else {
                    columns.push(
                        rows.iter()
                            .enumerate()
                            .map(|(i, &r)| x[r] - mean[tc[i] as usize])
                            .collect(),
                    );
                    split_cols = Some((first, first));
                    notes.push(split_alliance_note(a));
                    format!("{a}_within")
                };
                names.push(name.clone());
                sources.push((name.clone(), None));
                (vec![name], vec![a.clone()], Random::NONE)
            }
            Source::Therapist => {
                let th = therapist.clone().unwrap_or_default();
                (
                    vec![format!("(1 | {th})")],
                    vec![th],
                    Random {
                        therapist: true,
                        site: false,
                    },
                )
            }
            Source::Site => {
                let s = site.clone().unwrap_or_default();
                (
                    vec![format!("(1 | {s})")],
                    vec![s],
                    Random {
                        therapist: false,
                        site: true,
                    },
                )
            }
        };
        fl.push(name, &names, first, terms, cols_used, random);
    }
    if fl.factors.is_empty() {
        return Err(Error::analysis("no factor is left to decompose over"));
    }
    let m = names.len() + 1;
    let mut w = vec![0.0; n * m];
    for i in 0..n {
        let row = &mut w[i * m..(i + 1) * m];
        row[0] = 1.0;
        for (j, c) in columns.iter().enumerate() {
            row[j + 1] = c[i];
        }
        row[m - 1] = y[i];
    }
    drop(columns);

    // Identifiability: technique nested in therapist or in site.
    if let Some((tech_factor, tc)) = defs
        .iter()
        .find(|d| d.0 == "technique")
        .and_then(|_| roles.get(Role::Technique))
        .map(|c| ("technique", codes(c).0))
    {
        for (gname, g) in [("therapist", &ther), ("site", &site_codes)] {
            if let Some((gc, levels)) = g {
                let mut seen: Vec<Option<u32>> = vec![None; levels.len()];
                let mut nested = true;
                for (i, &gi) in gc.iter().enumerate() {
                    match seen[gi as usize] {
                        None => seen[gi as usize] = Some(tc[i]),
                        Some(v) if v != tc[i] => {
                            nested = false;
                            break;
                        }
                        _ => {}
                    }
                }
                if nested {
                    warnings.push(nested_warning(gname, tech_factor));
                }
            }
        }
    }

    let units = Units::new(
        &w,
        m,
        ther.as_ref().map(|x| x.0.as_slice()),
        site_codes.as_ref().map(|x| x.0.as_slice()),
    );
    drop(w);
    if ther.is_some() && site_codes.is_some() && !units.nested {
        notes.push(CROSSED_NOTE.into());
    }
    Ok(Design {
        units,
        names,
        sources,
        site_levels: site_codes.as_ref().map_or(Vec::new(), |s| s.1.clone()),
        factors: fl.factors,
        infos: fl.infos,
        formula_terms: fl.formula_terms,
        split_cols,
        warnings,
        notes,
        groups,
        therapist,
        site,
        outcome,
        n,
        input: p.input_info(n),
        roles: roles.to_json(),
        excluded,
    })
}

/// The decomposition, its bootstrap and the report, from a design.
fn finish(args: &VarianceArgs, level: f64, reps: usize, design: Design) -> Result<VarianceReport> {
    let Design {
        units,
        names,
        sources: _,
        site_levels: _,
        factors,
        infos,
        formula_terms,
        split_cols,
        mut warnings,
        mut notes,
        groups,
        therapist,
        site,
        outcome,
        n,
        input,
        roles,
        excluded,
    } = design;
    let sample = units.sample(&units.all());
    let d = var::decompose(&sample, &factors).map_err(|e| Error::analysis(e.to_string()))?;
    if !d.full.aliased.is_empty() {
        warnings.push(format!(
            "columns dropped from the models because they are aliased (a linear combination of \
             earlier columns, as R reports NA): {}",
            d.full
                .aliased
                .iter()
                .map(|&c| names[c].as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !d.not_converged.is_empty() {
        warnings.push(format!(
            "{} of the {} subset models did not report convergence: treat the shares with care",
            d.not_converged.len(),
            d.values.len() - 1
        ));
    }
    for (label, tau) in [
        ("therapist", d.full.tau2_therapist),
        ("site", d.full.tau2_site),
    ] {
        if tau.is_some_and(|v| v < 1e-8 * d.var_y) {
            notes.push(format!(
                "the {label} variance is estimated as zero in the full model (a boundary, \
                 singular fit, as lme4 reports)"
            ));
        }
    }

    // Coefficient of a column in the full model, with its SE.
    let coef = |f: &Fit, col: usize| -> Option<(f64, f64)> {
        let k = f.cols.iter().position(|&c| c == col)?;
        Some((f.beta[k], f.vcov[k * f.cols.len() + k].sqrt()))
    };
    let contextual = |f: &Fit, (wc, bc): (usize, usize)| -> Option<(f64, f64)> {
        let p = f.cols.len();
        let kw = f.cols.iter().position(|&c| c == wc)?;
        let kb = f.cols.iter().position(|&c| c == bc)?;
        let v = f.vcov[kb * p + kb] + f.vcov[kw * p + kw] - 2.0 * f.vcov[kb * p + kw];
        Some((f.beta[kb] - f.beta[kw], v.max(0.0).sqrt()))
    };
    let extra = |f: &Fit| -> Vec<f64> {
        match split_cols {
            Some(sc) => vec![
                coef(f, sc.0).map_or(f64::NAN, |c| c.0),
                coef(f, sc.1).map_or(f64::NAN, |c| c.0),
                contextual(f, sc).map_or(f64::NAN, |c| c.0),
            ],
            None => Vec::new(),
        }
    };

    // Bootstrap.
    let boot: Option<Bootstrap> = (reps > 0).then(|| {
        let tty = std::io::stderr().is_terminal();
        let step = (reps / 100).max(1);
        let progress = |done: usize| {
            if tty && (done.is_multiple_of(step) || done == reps) {
                eprint!("\rbootstrap: {done}/{reps} replicates");
                if done == reps {
                    eprintln!();
                }
            }
        };
        var::bootstrap(
            &units,
            &factors,
            reps,
            args.seed,
            args.bootstrap_scheme.scheme(),
            &extra,
            &progress,
        )
    });
    let ci = |i: usize| -> Option<[f64; 2]> {
        let b = boot.as_ref()?;
        var::percentile_interval(&b.values[i], level).map(|(a, c)| [a, c])
    };
    let nk = factors.len();
    if let Some(b) = &boot {
        if b.failed > 0 {
            warnings.push(format!(
                "{} of {} bootstrap replicates could not be fitted and are left out of the \
                 intervals",
                b.failed, b.reps
            ));
        }
    }

    let mut shares = Vec::new();
    for (f, fac) in factors.iter().enumerate() {
        let (s, a, u) = d.shares[f];
        let c = ci(3 * f);
        let share = Share {
            shapley: s,
            alone: a,
            unique: u,
            ci_lb: c.map(|x| x[0]),
            ci_ub: c.map(|x| x[1]),
            alone_ci: ci(3 * f + 1),
            unique_ci: ci(3 * f + 2),
        };
        shares.push((fac.name.clone(), share));
    }
    let base = 3 * nk;
    let icc_obj = |icc: var::Icc, off: usize| -> (Value, Value) {
        let mut v = Map::new();
        let mut c = Map::new();
        if let (Some(x), Some(th)) = (icc.therapist, &therapist) {
            v.insert(th.clone(), json!(x));
            c.insert(th.clone(), json!(ci(base + off)));
        }
        if let (Some(x), Some(s)) = (icc.site, &site) {
            v.insert(s.clone(), json!(x));
            c.insert(s.clone(), json!(ci(base + off + 1)));
        }
        (Value::Object(v), Value::Object(c))
    };
    let (icc_null, icc_null_ci) = icc_obj(d.icc_null, 2);
    let (icc_cm, icc_cm_ci) = icc_obj(d.icc_casemix, 4);
    let icc = json!({
        "null": icc_null,
        "casemix": icc_cm,
        "null_ci": icc_null_ci,
        "casemix_ci": icc_cm_ci,
        "definition": "ICC_g = tau2_g / (sum of tau2 + sigma2_e); null: y ~ 1 + random \
                       intercepts; casemix: the full model",
    });
    let (has_therapist, has_site) = (units.has_therapist, units.has_site);
    let has_random = has_therapist || has_site;
    let r2 = json!({
        "marginal": d.r2_marginal,
        "conditional": d.r2_conditional,
        "marginal_ci": ci(base + 6),
        "conditional_ci": ci(base + 7),
        "definition": if has_random {
            "Nakagawa & Schielzeth 2013: marginal = var_f/(var_f + sum tau2 + sigma2_e), \
             conditional = (var_f + sum tau2)/(...), var_f the sample variance of the fixed-part \
             prediction, from the full model"
        } else {
            "no random factor: marginal = conditional = var_f/(var_f + sigma2_e) of the full OLS \
             model"
        },
    });
    let alliance = split_cols.and_then(|sc| {
        let (bw, sw) = coef(&d.full, sc.0)?;
        let (bb, sb) = coef(&d.full, sc.1)?;
        let (bc, sc2) = contextual(&d.full, sc)?;
        let mk = |e: f64, s: f64, i: usize| Coef {
            estimate: e,
            se: s,
            t: e / s,
            ci: ci(base + 8 + i),
        };
        Some(Alliance {
            within: mk(bw, sw, 0),
            between: mk(bb, sb, 1),
            contextual: mk(bc, sc2, 2),
        })
    });

    // Per-subset formulas, for reproducing each value in R.
    let formula_of = |mask: u32| -> (String, &'static str) {
        let mut fixed = Vec::new();
        let mut random = Vec::new();
        for (f, terms) in formula_terms.iter().enumerate() {
            if mask & (1 << f) != 0 {
                if factors[f].random.any() {
                    random.extend(terms.iter().cloned());
                } else {
                    fixed.extend(terms.iter().cloned());
                }
            }
        }
        let mut rhs = if fixed.is_empty() {
            vec!["1".to_string()]
        } else {
            fixed
        };
        let method = if random.is_empty() { "OLS" } else { "REML" };
        rhs.extend(random);
        (format!("{outcome} ~ {}", rhs.join(" + ")), method)
    };
    let subsets: Vec<Subset> = (1..d.values.len() as u32)
        .map(|mask| {
            let (formula, method) = formula_of(mask);
            Subset {
                factors: factors
                    .iter()
                    .enumerate()
                    .filter(|(f, _)| mask & (1 << f) != 0)
                    .map(|(_, x)| x.name.clone())
                    .collect(),
                formula,
                method,
                sigma2: d.sigma2[mask as usize],
                value: d.values[mask as usize],
            }
        })
        .collect();
    let full_mask = (1u32 << nk) - 1;
    let model = model_of(
        &d.full,
        &names,
        &units,
        &formula_of(full_mask).0,
        &therapist,
        &site,
        &groups,
        true,
    );
    // Published figures for the factors present (the split alliance's two
    // factors share the relationship's).
    let mut bases: Vec<&str> = factors
        .iter()
        .map(|f| f.name.split('_').next().unwrap_or(""))
        .collect();
    bases.dedup();
    let literature: Vec<Published> = bases
        .iter()
        .flat_map(|b| literature::for_factor(b).cloned())
        .collect();
    let boot_info = BootInfo {
        reps,
        seed: args.seed,
        level: args.level,
        failed: boot.as_ref().map_or(0, |b| b.failed),
        scheme: {
            let unit = if has_therapist {
                "therapists"
            } else {
                "clients"
            };
            let with = if has_therapist {
                "; clients come with their therapist"
            } else {
                ""
            };
            let effective = if !has_site || !units.nested {
                SchemeArg::Therapists
            } else {
                args.bootstrap_scheme
            };
            match (effective, has_site) {
                (_, false) => format!("{unit} resampled with replacement{with}"),
                (SchemeArg::Therapists, true) => format!(
                    "{unit} resampled with replacement within each site (sites fixed){with}"
                ),
                (SchemeArg::TwoStage, true) => format!(
                    "two-stage: sites resampled with replacement, then {unit} with replacement \
                     within each drawn site{with}"
                ),
                (SchemeArg::Sites, true) => {
                    format!("sites resampled with replacement, each with all its {unit}")
                }
            }
        },
        interval: "percentile (quantile type 7)",
    };
    if reps == 0 {
        notes.push(
            "no bootstrap intervals (--bootstrap 0); add --bootstrap 1000 for 95% intervals".into(),
        );
    }
    Ok(VarianceReport {
        command: "variance",
        version: crate::VERSION,
        input,
        roles,
        outcome,
        n,
        var_y: d.var_y,
        factors: infos,
        shares,
        explained: 1.0 - d.unexplained,
        explained_ci: ci(base + 1),
        unexplained: d.unexplained,
        unexplained_ci: ci(base),
        icc,
        r2,
        model,
        alliance,
        bootstrap: boot_info,
        subsets,
        literature,
        literature_note: literature::NOT_ADDITIVE,
        warnings,
        excluded,
        notes,
        groups,
    })
}

/// The full model in the form `lmm` reports it (intercept and its
/// covariances transformed back from the centred parametrisation).
#[allow(clippy::too_many_arguments)]
pub(crate) fn model_of(
    f: &Fit,
    names: &[String],
    units: &Units,
    formula: &str,
    therapist: &Option<String>,
    site: &Option<String>,
    groups: &Map<String, Value>,
    reml: bool,
) -> LmmFit {
    let p = f.cols.len();
    let mut beta = f.beta.clone();
    let mut vcov = f.vcov.clone();
    if let Some((b0, row)) = f.intercept_back(&units.means) {
        beta[0] = b0;
        for j in 0..p {
            vcov[j] = row[j];
            vcov[j * p] = row[j];
        }
    }
    let fixed = (0..p)
        .map(|k| {
            let se = vcov[k * p + k].sqrt();
            FixedEffect {
                term: names[f.cols[k]].clone(),
                estimate: beta[k],
                se,
                t: beta[k] / se,
            }
        })
        .collect();
    let mut random = Vec::new();
    let mut glev = Vec::new();
    for (tau, g) in [(f.tau2_therapist, therapist), (f.tau2_site, site)] {
        if let (Some(v), Some(g)) = (tau, g) {
            random.push(RandomComponent::Variance {
                group: g.clone(),
                term: "(Intercept)".into(),
                variance: v,
                sd: v.sqrt(),
            });
            glev.push(GroupLevels {
                group: g.clone(),
                levels: groups.get(g).and_then(Value::as_u64).unwrap_or(0) as usize,
            });
        }
    }
    let df = p + f.theta.len() + 1;
    let n = f.n;
    LmmFit {
        formula: formula.to_string(),
        method: match (f.theta.is_empty(), reml) {
            (true, _) => "OLS",
            (false, true) => "REML",
            (false, false) => "ML",
        },
        n: n as usize,
        objective: f.objective,
        loglik: -0.5 * f.objective,
        aic: f.objective + 2.0 * df as f64,
        bic: f.objective + df as f64 * n.ln(),
        df,
        fixed,
        aliased: f.aliased.iter().map(|&c| names[c].clone()).collect(),
        random,
        residual: Residual {
            variance: f.sigma2,
            sd: f.sigma2.sqrt(),
        },
        groups: glev,
        converged: f.converged,
        singular: f.theta.iter().any(|&t| t < 1e-4),
        evaluations: f.evaluations,
        theta: f.theta.clone(),
        vcov,
        sigma: f.sigma2.sqrt(),
        reml,
    }
}

/// A proportion as a percentage with one decimal; no "-0.0%".
fn pct(x: f64) -> String {
    let v = 100.0 * x;
    format!("{:.1}%", if v.abs() < 0.05 { 0.0 } else { v })
}

fn pct_ci(c: Option<[f64; 2]>) -> String {
    c.map_or(String::new(), |[a, b]| {
        format!("[{:.1}, {:.1}]", 100.0 * a, 100.0 * b)
    })
}

pub fn render_table(r: &VarianceReport) -> String {
    let mut o = String::new();
    let lv = r.bootstrap.level;
    o.push_str("How much of the outcome each factor explains (Shapley decomposition within this dataset)\n\n");
    o.push_str(&format!(
        "data: {}   rows used: {} of {}   outcome: {} (variance {:.4})\n",
        r.input.path, r.n, r.input.rows_read, r.outcome, r.var_y
    ));
    for e in &r.excluded {
        o.push_str(&format!("  excluded: {} rows, {}\n", e.rows, e.reason));
    }
    o.push_str("factors:\n");
    for f in &r.factors {
        o.push_str(&format!("  {:<14} {}\n", f.name, f.terms.join(" + ")));
    }
    o.push('\n');
    let ci_head = if r.bootstrap.reps > 0 {
        format!("{lv}% CI")
    } else {
        String::new()
    };
    let width = r
        .factors
        .iter()
        .map(|f| f.name.len())
        .max()
        .unwrap_or(0)
        .max(11);
    o.push_str(&format!(
        "{:<width$}  {:>7}  {:<14}  {:>7}  {:>7}\n",
        "factor", "share", ci_head, "alone", "unique"
    ));
    for f in &r.factors {
        if let Some((_, s)) = r.shares.iter().find(|x| x.0 == f.name) {
            let c = s.ci_lb.zip(s.ci_ub).map(|(a, b)| [a, b]);
            o.push_str(&format!(
                "{:<width$}  {:>7}  {:<14}  {:>7}  {:>7}\n",
                f.name,
                pct(s.shapley),
                pct_ci(c),
                pct(s.alone),
                pct(s.unique)
            ));
        }
    }
    o.push_str(&format!(
        "{:<width$}  {:>7}  {:<14}\n",
        "explained",
        pct(r.explained),
        pct_ci(r.explained_ci)
    ));
    o.push_str(&format!(
        "{:<width$}  {:>7}  {:<14}\n\n",
        "unexplained",
        pct(r.unexplained),
        pct_ci(r.unexplained_ci)
    ));
    o.push_str(
        "share: the factor's average gain in explained variance over all orders of entry (the \
         Shapley value; the shares add up to the explained total).\nalone: explained by the \
         factor on its own (comparable to a bivariate published figure).\nunique: lost when the \
         factor is removed from the full model (\"last in\").\n",
    );
    if r.bootstrap.reps > 0 {
        o.push_str(&format!(
            "Intervals: {} cluster-bootstrap replicates, {}, seed {}.\n",
            r.bootstrap.reps, r.bootstrap.scheme, r.bootstrap.seed
        ));
    }
    // Published figures.
    if !r.literature.is_empty() {
        o.push_str("\nPublished estimates (separate analyses, NOT from these data):\n");
        for p in &r.literature {
            o.push_str(&format!(
                "  {:<13} {:>6}  {} ({}): {}{}\n",
                p.factor,
                p.percent.map_or(String::new(), |v| format!("{v:.1}%")),
                p.what,
                p.statistic,
                p.source,
                if p.unverified {
                    " [not yet checked against the primary source]"
                } else {
                    ""
                }
            ));
        }
        o.push_str(&format!("  {}\n", r.literature_note));
    }
    // ICC and R².
    let icc_line = |key: &str| -> String {
        r.icc[key]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(g, v)| {
                        let c = r.icc[format!("{key}_ci")][g]
                            .as_array()
                            .and_then(|a| Some([a.first()?.as_f64()?, a.get(1)?.as_f64()?]));
                        format!(
                            "{g} {:.3}{}",
                            v.as_f64().unwrap_or(f64::NAN),
                            c.map_or(String::new(), |[a, b]| format!(" [{a:.3}, {b:.3}]"))
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let null = icc_line("null");
    if !null.is_empty() {
        o.push_str(&format!(
            "\nIntraclass correlations: unadjusted (y ~ 1 + random intercepts): {null}\n"
        ));
        o.push_str(&format!(
            "                         adjusted for the fixed factors (full model): {}\n",
            icc_line("casemix")
        ));
    }
    let r2c = |k: &str| {
        r.r2[format!("{k}_ci")]
            .as_array()
            .and_then(|a| {
                Some(format!(
                    " [{:.3}, {:.3}]",
                    a.first()?.as_f64()?,
                    a.get(1)?.as_f64()?
                ))
            })
            .unwrap_or_default()
    };
    o.push_str(&format!(
        "R² (Nakagawa & Schielzeth 2013): marginal {:.3}{}, conditional {:.3}{}\n",
        r.r2["marginal"].as_f64().unwrap_or(f64::NAN),
        r2c("marginal"),
        r.r2["conditional"].as_f64().unwrap_or(f64::NAN),
        r2c("conditional")
    ));
    if let Some(a) = &r.alliance {
        o.push_str("\nAlliance within and between therapists (full model; Baldwin, Wampold & Imel 2007):\n");
        for (label, c) in [
            ("within (client's deviation)", &a.within),
            ("between (therapist's mean)", &a.between),
            ("contextual (between - within)", &a.contextual),
        ] {
            o.push_str(&format!(
                "  {label:<30} {:>9.4}  SE {:.4}  t {:>7.2}{}\n",
                c.estimate,
                c.se,
                c.t,
                c.ci.map_or(String::new(), |[x, y]| format!(
                    "  {lv}% CI [{x:.4}, {y:.4}]"
                ))
            ));
        }
    }
    o.push_str(&format!(
        "\nFull model: {} ({}",
        r.model.formula, r.model.method
    ));
    o.push_str(&format!(
        ", residual variance {:.4}",
        r.model.residual.variance
    ));
    for c in &r.model.random {
        if let RandomComponent::Variance {
            group, variance, ..
        } = c
        {
            o.push_str(&format!(", {group} variance {variance:.4}"));
        }
    }
    o.push_str(")\n");
    if !r.warnings.is_empty() {
        o.push_str("\nWarnings:\n");
        for w in &r.warnings {
            o.push_str(&format!("  - {w}\n"));
        }
    }
    if !r.notes.is_empty() {
        o.push_str("\nNotes:\n");
        for n in &r.notes {
            o.push_str(&format!("  - {n}\n"));
        }
    }
    o
}

fn render_csv(r: &VarianceReport) -> String {
    let mut o = String::from("factor,shapley,ci_lb,ci_ub,alone,unique\n");
    let f = |x: Option<f64>| x.map_or("NA".to_string(), |v| v.to_string());
    for fac in &r.factors {
        if let Some((_, s)) = r.shares.iter().find(|x| x.0 == fac.name) {
            o.push_str(&format!(
                "{},{},{},{},{},{}\n",
                fac.name,
                s.shapley,
                f(s.ci_lb),
                f(s.ci_ub),
                s.alone,
                s.unique
            ));
        }
    }
    o.push_str(&format!(
        "unexplained,{},{},{},NA,NA\n",
        r.unexplained,
        f(r.unexplained_ci.map(|c| c[0])),
        f(r.unexplained_ci.map(|c| c[1]))
    ));
    o
}

/// The variance-share chart of the report.
pub(crate) fn shares_chart(r: &VarianceReport) -> crate::plot::shares::SharesPlot {
    use crate::plot::shares::{Published as Pub, Share as Bar, SharesPlot};
    let shares = r
        .shares
        .iter()
        .map(|(name, s)| Bar {
            label: name.replace('_', " "),
            percent: 100.0 * s.shapley,
            ci: s.ci_lb.zip(s.ci_ub).map(|(a, b)| (100.0 * a, 100.0 * b)),
        })
        .collect();
    let published = r
        .literature
        .iter()
        .filter_map(|p| {
            // "relationship (Flückiger 2018)": first author and year.
            let author = p.source.split([',', ' ']).next().unwrap_or("");
            let year = p
                .source
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 4)
                .unwrap_or("");
            p.percent.map(|v| Pub {
                label: format!("{} ({author} {year})", p.factor),
                percent: v,
            })
        })
        .collect();
    SharesPlot::new(shares, published)
}

pub fn run(args: &VarianceArgs) -> Result<()> {
    let report = build(args)?;
    args.figure.save(&shares_chart(&report))?;
    let text = match args.out.format {
        OutFormat::Json => to_json(&report)?,
        OutFormat::Table => render_table(&report),
        OutFormat::Csv => render_csv(&report),
    };
    emit(&text, args.out.output.as_deref())
}
