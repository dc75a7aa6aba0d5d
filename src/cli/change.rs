//! `outcomes change DATA --pre COL --post COL`: pre-post effect sizes,
//! reliable and clinically significant change, NHS Talking Therapies
//! metrics, per group and against benchmarks (contract, `outcomes change`;
//! formulas in `stats::effect`, `stats::change`, `stats::nhs`).
//!
//! Every convention is an explicit, printed parameter: which direction is
//! better, the reliability and where it came from, the RCI method and its
//! critical value, strict `>` at the threshold, the cut-off and the SD used.
//! With `--by`, every group is classified with the criterion of the whole
//! sample (the same threshold and cut-off for every therapist), and the
//! total is reported beside the groups.

use super::common::{FigureArgs, InputArgs, OutputArgs};
use crate::data::input::{prepare, Exclusion, InputInfo, Purpose};
use crate::data::roles::{Role, SpecMeasure};
use crate::data::table::{Column, Table};
use crate::error::{Error, Problem, Problems, Result};
use crate::output::{emit, to_json, OutFormat};
use crate::stats::change::{
    reliable_change_with_reference, Categories, ChangeParams, ChangeResult, CutoffInfo, CutoffSpec,
    Norms, PersonChange, RciInfo, RciMethod,
};
use crate::stats::effect::{effect_sizes, Comparison, Direction, EffectSizes, MeanSd, PrePost};
use crate::stats::measures::{benchmark, builtin, Measure, BUILTIN_NAMES};
use crate::stats::nhs::{nhs_metrics, NhsClient, NhsResult, Proportion};
use crate::stats::suppress::{percent, suppress_statistic, suppress_table, Shown};
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Better {
    Lower,
    Higher,
}

#[derive(Args, Debug, Clone)]
pub struct ChangeArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Built-in instrument (PHQ-9, GAD-7, CORE-10, CORE-OM, OQ-45, BDI-II,
    /// WEMWBS, WSAS, ORS): its range, direction, reliability and cut-off. A
    /// user-defined measure goes in the spec file's [measure] section.
    #[arg(long, value_name = "NAME", help_heading = "Measure")]
    pub measure: Option<String>,
    /// Which scores are better (overrides the measure's direction).
    #[arg(long, value_enum, help_heading = "Measure")]
    pub better: Option<Better>,
    /// Reliability of the measure, strictly between 0 and 1 (overrides the measure's).
    #[arg(
        long,
        value_name = "R",
        allow_negative_numbers = true,
        help_heading = "Measure"
    )]
    pub reliability: Option<f64>,

    /// Reliable change index: JT (Jacobson & Truax), GLN, HLL, EN, NK, HA
    /// (Hageman & Arrindell, one-sided) or CM (Christensen & Mendoza).
    #[arg(
        long,
        value_name = "METHOD",
        default_value = "JT",
        help_heading = "Reliable change"
    )]
    pub rci: String,
    /// Clinical cut-off: a (2 SD beyond the clinical mean), b (2 functional
    /// SDs from the functional mean), c (between the two distributions), or
    /// a score. Default: the measure's published cut-off, if any.
    #[arg(long, value_name = "a|b|c|VALUE", help_heading = "Reliable change")]
    pub cutoff: Option<String>,
    /// Functional (non-clinical) population mean, for cut-offs b and c.
    #[arg(
        long,
        value_name = "M0",
        allow_negative_numbers = true,
        help_heading = "Reliable change"
    )]
    pub norm_mean: Option<f64>,
    /// Functional (non-clinical) population SD, for cut-offs b and c.
    #[arg(long, value_name = "S0", help_heading = "Reliable change")]
    pub norm_sd: Option<f64>,
    /// Confidence level in percent.
    #[arg(
        long,
        value_name = "PERCENT",
        default_value_t = 95.0,
        help_heading = "Reliable change"
    )]
    pub level: f64,

    /// One row per level of this column (technique, therapist, site ...) plus the total.
    #[arg(long, value_name = "COL", help_heading = "Groups")]
    pub by: Option<String>,
    /// Compare each group's g_pre with a benchmark: a number, or
    /// delgadillo-phq9, delgadillo-gad7, stiles-core-om.
    #[arg(long, value_name = "VALUE|NAME", help_heading = "Groups")]
    pub benchmark: Option<String>,
    /// Apply the NHS Digital small-number rule: counts 1-7 shown as *, other
    /// counts rounded to 5, statistics of 1-7 people suppressed, with
    /// secondary suppression so totals cannot reveal a suppressed cell.
    #[arg(long, help_heading = "Groups")]
    pub suppress: bool,

    /// NHS Talking Therapies: PHQ-9 first and last score columns (wide), or
    /// the session-by-session PHQ-9 column (long data, with --client and --time).
    #[arg(
        long,
        value_name = "FIRST,LAST|COL",
        value_delimiter = ',',
        help_heading = "NHS Talking Therapies"
    )]
    pub phq9: Option<Vec<String>>,
    /// NHS Talking Therapies: GAD-7 first and last score columns (wide), or
    /// the session-by-session GAD-7 column (long data).
    #[arg(
        long,
        value_name = "FIRST,LAST|COL",
        value_delimiter = ',',
        help_heading = "NHS Talking Therapies"
    )]
    pub gad7: Option<Vec<String>>,
    /// Column with the number of attended treatment sessions (wide data;
    /// default: a column named 'sessions'; long data count their rows).
    #[arg(long, value_name = "COL", help_heading = "NHS Talking Therapies")]
    pub sessions: Option<String>,

    /// --plot: the Jacobson plot of first against last scores (binned, with
    /// cells of fewer than 8 clients left out, under --suppress).
    #[command(flatten)]
    pub figure: FigureArgs,

    #[command(flatten)]
    pub out: OutputArgs,
}

/// Where the reliability and other conventions came from.
#[derive(Debug, Clone, Serialize)]
pub struct Conventions {
    pub direction: Direction,
    pub direction_source: String,
    pub reliability: f64,
    pub reliability_source: String,
    pub rci: RciMethod,
    pub level: f64,
    /// Always ">": the index must exceed the critical value.
    pub comparison: &'static str,
    /// "whole sample" with --by: the threshold and cut-off of every group come from all clients.
    pub criterion_from: &'static str,
    pub effect_size_sign: &'static str,
}

/// One benchmark comparison.
#[derive(Debug, Clone, Serialize)]
pub struct BenchmarkComparison {
    pub label: String,
    pub value: f64,
    pub comparison: Comparison,
}

/// The contract's per-sample block (total, and each group).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub n: usize,
    pub pre: MeanSd,
    pub post: MeanSd,
    pub r_pre_post: f64,
    pub effect_sizes: EffectSizes,
    pub rci: RciInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<CutoffInfo>,
    pub categories: Categories,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<Vec<BenchmarkComparison>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nhs: Option<NhsResult>,
}

/// A group row: its summary, or why it has none.
#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    pub group: String,
    /// Clients of the group with both scores.
    pub n: usize,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ChangeReport {
    pub command: &'static str,
    pub version: &'static str,
    pub input: InputInfo,
    pub roles: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure: Option<Measure>,
    pub conventions: Conventions,
    #[serde(flatten)]
    pub total: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupRow>,
    pub excluded: Vec<Exclusion>,
    pub suppressed: bool,
    pub notes: Vec<String>,
    /// Per-client results of the whole sample, for figures (never serialised:
    /// client-level data stay out of JSON and reports).
    #[serde(skip)]
    pub people: Vec<PersonChange>,
}

fn measure_from_spec(m: &SpecMeasure) -> Result<Measure> {
    let direction = Direction::parse(&m.better).ok_or_else(|| {
        Error::input(format!(
            "the spec's [measure] better = \"{}\": accepted are \"lower\" and \"higher\"",
            m.better
        ))
    })?;
    if !(m.min.is_finite() && m.max.is_finite() && m.min < m.max) {
        return Err(Error::input(format!(
            "the spec's [measure] needs min < max; got min {}, max {}",
            m.min, m.max
        )));
    }
    let norms = match (m.norm_mean, m.norm_sd) {
        (Some(mean), Some(sd)) => Some(Norms { mean, sd }),
        (None, None) => None,
        _ => {
            return Err(Error::input(
                "the spec's [measure] needs both norm_mean and norm_sd, or neither",
            ))
        }
    };
    Ok(Measure {
        name: m.name.clone(),
        min: m.min,
        max: m.max,
        direction,
        reliability: m.reliability,
        cutoff: m.cutoff,
        rc_points: m.rc_points,
        norms,
        source: m
            .source
            .clone()
            .unwrap_or_else(|| "user-defined in the spec file".to_string()),
    })
}

/// Numbers of a column as options (missing = None).
fn values(table: &Table, name: &str) -> Result<Vec<Option<f64>>> {
    let col = table.column(name).ok_or_else(|| {
        Error::input(format!(
            "{}: no column '{name}'; the file has: {}",
            table.source.path,
            table.names_for_message()
        ))
    })?;
    let v = col.as_num().ok_or_else(|| {
        Error::input(format!(
            "{}: column '{name}' must hold numbers",
            table.source.path
        ))
    })?;
    Ok(v.iter().map(|x| (!x.is_nan()).then_some(*x)).collect())
}

/// Scores outside the instrument's range are input errors with their lines.
fn check_range(
    table: &Table,
    measure: &Measure,
    cols: &[&str],
    problems: &mut Problems,
) -> Result<()> {
    for name in cols {
        let v = values(table, name)?;
        for (row, x) in measure.check_range(&v) {
            let p = Problem::new(
                table.source.path.as_str(),
                format!(
                    "{}; check the column or the --measure",
                    measure.range_text()
                ),
            )
            .line(table.line(row))
            .column(*name)
            .value(&crate::data::table::format_num(x));
            if !problems.push(p) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The columns of the NHS metrics in the (wide) table: PHQ-9 and GAD-7
/// first/last and sessions.
struct NhsColumns {
    phq9: Option<(String, String)>,
    gad7: Option<(String, String)>,
    sessions: Option<String>,
}

/// First and last scores of one measure.
type FirstLast = (Vec<Option<f64>>, Vec<Option<f64>>);

fn nhs_clients(t: &Table, cols: &NhsColumns, rows: &[usize]) -> Result<Vec<NhsClient>> {
    let pair = |c: &Option<(String, String)>| -> Result<Option<FirstLast>> {
        match c {
            Some((a, b)) => Ok(Some((values(t, a)?, values(t, b)?))),
            None => Ok(None),
        }
    };
    let phq = pair(&cols.phq9)?;
    let gad = pair(&cols.gad7)?;
    let sessions = match &cols.sessions {
        Some(s) => Some(values(t, s)?),
        None => None,
    };
    Ok(rows
        .iter()
        .map(|&r| NhsClient {
            phq9_first: phq.as_ref().and_then(|p| p.0[r]),
            phq9_last: phq.as_ref().and_then(|p| p.1[r]),
            gad7_first: gad.as_ref().and_then(|p| p.0[r]),
            gad7_last: gad.as_ref().and_then(|p| p.1[r]),
            sessions: sessions
                .as_ref()
                .and_then(|s| s[r])
                .filter(|x| *x >= 0.0)
                .map(|x| x as u32),
        })
        .collect())
}

fn summarise(
    pre: &[Option<f64>],
    post: &[Option<f64>],
    params: &ChangeParams,
    reference: Option<&PrePost>,
    bench: &[(String, f64)],
) -> Result<(Summary, ChangeResult)> {
    let res = reliable_change_with_reference(pre, post, params, reference)?;
    let es = effect_sizes(&res.stats, params.direction, params.level);
    let benchmark = (!bench.is_empty()).then(|| {
        bench
            .iter()
            .map(|(label, v)| BenchmarkComparison {
                label: label.clone(),
                value: *v,
                comparison: crate::stats::effect::compare(&es.g_pre, *v),
            })
            .collect()
    });
    Ok((
        Summary {
            n: res.stats.n,
            pre: res.stats.pre,
            post: res.stats.post,
            r_pre_post: res.stats.r_pre_post,
            effect_sizes: es,
            rci: res.rci.clone(),
            cutoff: res.cutoff.clone(),
            categories: res.categories.clone(),
            benchmark,
            nhs: None,
        },
        res,
    ))
}

/// Builds the request, with long NHS data routed through `--score`.
fn request(args: &ChangeArgs) -> crate::data::input::InputRequest {
    let mut req = args.input.request();
    if args.input.time.is_some() {
        // Long data: --phq9 and --gad7 name session-by-session columns.
        let phq = args
            .phq9
            .as_ref()
            .filter(|v| v.len() == 1)
            .map(|v| v[0].clone());
        let gad = args
            .gad7
            .as_ref()
            .filter(|v| v.len() == 1)
            .map(|v| v[0].clone());
        match (req.roles.score.is_some(), phq, gad) {
            (false, Some(p), g) => {
                req.roles.score = Some(p);
                req.extra_scores.extend(g);
            }
            (false, None, Some(g)) => req.roles.score = Some(g),
            (true, p, g) => req.extra_scores.extend(p.into_iter().chain(g)),
            _ => {}
        }
    }
    req
}

pub fn build(args: &ChangeArgs) -> Result<ChangeReport> {
    let p = prepare(&request(args), Purpose::AnalyseClients)?;
    let t = &p.table;
    let roles = &p.roles;
    let long = p.long;
    let spec = p.spec.as_ref();
    let mut excluded_rows = p.excluded.clone();
    let mut notes = p.notes.clone();
    let file = t.source.path.clone();

    // The measure: --measure, else the spec's [measure], else PHQ-9 when
    // NHS PHQ-9 columns are given.
    let nhs_phq = args.phq9.is_some();
    let measure = match (&args.measure, spec.and_then(|s| s.measure.as_ref())) {
        (Some(name), _) => Some(builtin(name).ok_or_else(|| {
            Error::input(format!(
                "--measure {name}: not a built-in instrument; built in: {}; define others in \
                 the spec file's [measure] section",
                BUILTIN_NAMES.join(", ")
            ))
        })?),
        (None, Some(m)) => Some(measure_from_spec(m)?),
        (None, None) if nhs_phq => builtin("PHQ-9"),
        (None, None) if args.gad7.is_some() => builtin("GAD-7"),
        _ => None,
    };
    let (direction, direction_source) = match (args.better, &measure) {
        (Some(Better::Lower), _) => (Direction::LowerBetter, "--better".to_string()),
        (Some(Better::Higher), _) => (Direction::HigherBetter, "--better".to_string()),
        (None, Some(m)) => (m.direction, m.name.clone()),
        (None, None) => {
            return Err(Error::input(
                "say which scores are better: --better lower|higher, or --measure NAME \
                 (e.g. --measure PHQ-9)",
            ))
        }
    };
    let (reliability, reliability_source) =
        match (args.reliability, &measure) {
            (Some(r), _) => (r, "--reliability".to_string()),
            (None, Some(m)) => match m.reliability {
                Some(r) => (r, m.name.clone()),
                None => {
                    return Err(Error::input(format!(
                        "{} has no single published reliability here; give --reliability R",
                        m.name
                    )))
                }
            },
            (None, None) => return Err(Error::input(
                "reliable change needs the measure's reliability: --reliability R (e.g. 0.89), \
                 or --measure NAME",
            )),
        };
    let method = RciMethod::parse(&args.rci).ok_or_else(|| {
        Error::input(format!(
            "--rci {}: accepted are JT, GLN, HLL, EN, NK, HA, CM",
            args.rci
        ))
    })?;
    let cutoff = match &args.cutoff {
        Some(c) => Some(CutoffSpec::parse(c).ok_or_else(|| {
            Error::input(format!("--cutoff {c}: accepted are a, b, c or a score"))
        })?),
        None => measure
            .as_ref()
            .and_then(|m| m.cutoff)
            .map(CutoffSpec::Value),
    };
    let norms = match (args.norm_mean, args.norm_sd) {
        (Some(mean), Some(sd)) => Some(Norms { mean, sd }),
        (None, None) => measure.as_ref().and_then(|m| m.norms),
        _ => {
            return Err(Error::input(
                "give both --norm-mean and --norm-sd (the functional population's mean and SD)",
            ))
        }
    };
    let params = ChangeParams {
        method,
        reliability,
        reliability_post: None,
        level: args.level,
        direction,
        cutoff,
        norms,
    };
    params.validate()?;

    // Pre and post: the roles, else the NHS PHQ-9 (or GAD-7) first/last.
    let wide_pair = |v: &Option<Vec<String>>| -> Option<(String, String)> {
        v.as_ref()
            .filter(|c| c.len() == 2)
            .map(|c| (c[0].clone(), c[1].clone()))
    };
    // Long data: the first measure named became `--score`, so its first and
    // last scores are `pre`/`post`; another is `<column>_first`/`_last`.
    let first_last = |v: &Option<Vec<String>>, primary: bool| -> Option<(String, String)> {
        if !long {
            return wide_pair(v);
        }
        v.as_ref().map(|v| {
            if primary {
                ("pre".to_string(), "post".to_string())
            } else {
                (format!("{}_first", v[0]), format!("{}_last", v[0]))
            }
        })
    };
    let phq_primary = args.input.score.is_none();
    let phq_cols = first_last(&args.phq9, phq_primary);
    let gad_cols = first_last(&args.gad7, phq_primary && args.phq9.is_none());
    for (flag, v) in [("--phq9", &args.phq9), ("--gad7", &args.gad7)] {
        if let Some(v) = v {
            let want = if long { 1 } else { 2 };
            if v.len() != want {
                return Err(Error::input(format!(
                    "{flag}: give {} (got {})",
                    if long {
                        "one session-by-session score column for long data"
                    } else {
                        "two columns, FIRST,LAST (or use --client --time for long data)"
                    },
                    v.join(",")
                )));
            }
        }
    }
    let (pre_col, post_col) = match (roles.get(Role::Pre), roles.get(Role::Post)) {
        (Some(a), Some(b)) => (a.to_string(), b.to_string()),
        _ => match (&phq_cols, &gad_cols) {
            (Some(c), _) | (None, Some(c)) => c.clone(),
            _ => {
                return Err(Error::input(format!(
                    "{file}: change needs the pre and post scores: --pre COL --post COL (or \
                     columns named pre/post, or long data with --client --time --score)"
                )))
            }
        },
    };
    let pre = values(t, &pre_col)?;
    let post = values(t, &post_col)?;

    let mut problems = Problems::new();
    if let Some(m) = &measure {
        check_range(t, m, &[pre_col.as_str(), post_col.as_str()], &mut problems)?;
    }
    for (cols, name) in [(&phq_cols, "PHQ-9"), (&gad_cols, "GAD-7")] {
        if let (Some((a, b)), Some(m)) = (cols, builtin(name)) {
            check_range(t, &m, &[a.as_str(), b.as_str()], &mut problems)?;
        }
    }
    problems.into_result(format!("{file}: scores outside the instrument's range"))?;

    // Benchmarks.
    let bench: Vec<(String, f64)> = match &args.benchmark {
        None => Vec::new(),
        Some(b) => match b.parse::<f64>() {
            Ok(v) if v.is_finite() => vec![("benchmark".to_string(), v)],
            _ => {
                let bm = benchmark(b).ok_or_else(|| {
                    Error::input(format!(
                        "--benchmark {b}: give a number (a g_pre value) or one of \
                         delgadillo-phq9, delgadillo-gad7, stiles-core-om"
                    ))
                })?;
                if let Some(m) = &measure {
                    if m.name != bm.measure {
                        notes.push(format!(
                            "the benchmark {} is for {}, the data are {}",
                            bm.key, bm.measure, m.name
                        ));
                    }
                }
                bm.levels
                    .iter()
                    .map(|(l, v)| (format!("{} {l}", bm.key), *v))
                    .collect()
            }
        },
    };

    // NHS metrics: with PHQ-9/GAD-7 columns, or a PHQ-9/GAD-7 measure on
    // pre/post, whenever attended sessions are known.
    let sessions_col = match &args.sessions {
        Some(s) => Some(s.clone()),
        None => t.column("sessions").map(|_| "sessions".to_string()),
    };
    let nhs_cols = {
        let by_measure = |name: &str| {
            measure
                .as_ref()
                .filter(|m| m.name == name)
                .map(|_| (pre_col.clone(), post_col.clone()))
        };
        NhsColumns {
            phq9: phq_cols.clone().or_else(|| by_measure("PHQ-9")),
            gad7: gad_cols.clone().or_else(|| by_measure("GAD-7")),
            sessions: sessions_col,
        }
    };
    let want_nhs =
        (nhs_cols.phq9.is_some() || nhs_cols.gad7.is_some()) && nhs_cols.sessions.is_some();
    if (args.phq9.is_some() || args.gad7.is_some()) && nhs_cols.sessions.is_none() {
        return Err(Error::input(format!(
            "{file}: NHS Talking Therapies metrics need the attended sessions: --sessions COL \
             (or long data with --client --time)"
        )));
    }
    let all_rows: Vec<usize> = (0..t.nrows()).collect();
    let nhs_for = |rows: &[usize]| -> Result<Option<NhsResult>> {
        if !want_nhs {
            return Ok(None);
        }
        let clients = nhs_clients(t, &nhs_cols, rows)?;
        nhs_metrics(&clients, args.level).map(Some)
    };

    let (mut total, total_res) = summarise(&pre, &post, &params, None, &bench)?;
    total.nhs = nhs_for(&all_rows)?;
    let ex = &total_res.excluded;
    for (reason, rows) in [
        ("missing pre score", ex.missing_pre),
        ("missing post score", ex.missing_post),
        ("missing pre and post scores", ex.missing_both),
    ] {
        if rows > 0 {
            excluded_rows.push(Exclusion {
                reason: reason.to_string(),
                rows,
            });
        }
    }

    // Groups.
    let mut groups = Vec::new();
    if let Some(by) = &args.by {
        let col = t.column(by).ok_or_else(|| {
            Error::input(format!(
                "--by {by}: no such column; the file has: {}",
                t.names_for_message()
            ))
        })?;
        let mut levels: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut missing = 0;
        for r in 0..t.nrows() {
            match col.key(r) {
                Some(k) => levels.entry(k).or_default().push(r),
                None => missing += 1,
            }
        }
        if missing > 0 {
            notes.push(format!(
                "{missing} row(s) have no '{by}' and count in the total only"
            ));
        }
        if levels.len() > 1000 {
            return Err(Error::analysis(format!(
                "--by {by}: the column has {} distinct values; a group column needs fewer \
                 (at most 1000)",
                levels.len()
            )));
        }
        for (level, rows) in sorted_levels(levels, col) {
            let gpre: Vec<Option<f64>> = rows.iter().map(|&r| pre[r]).collect();
            let gpost: Vec<Option<f64>> = rows.iter().map(|&r| post[r]).collect();
            let n = gpre
                .iter()
                .zip(&gpost)
                .filter(|(a, b)| a.is_some() && b.is_some())
                .count();
            let row = match summarise(&gpre, &gpost, &params, Some(&total_res.stats), &bench) {
                Ok((mut s, _)) => {
                    s.nhs = nhs_for(&rows)?;
                    GroupRow {
                        group: level,
                        n,
                        summary: Some(s),
                        note: None,
                    }
                }
                Err(Error::Analysis(msg)) => GroupRow {
                    group: level,
                    n,
                    summary: None,
                    note: Some(msg),
                },
                Err(e) => return Err(e),
            };
            groups.push(row);
        }
    }
    if let Some(m) = &measure {
        if let Some(rc) = m.rc_points {
            notes.push(format!(
                "{} publishes a reliable-change criterion of {rc} points; the {} threshold on these \
                 data is {:.2} points",
                m.name,
                method.name(),
                total.rci.threshold
            ));
        }
    }
    let conventions = Conventions {
        direction,
        direction_source,
        reliability,
        reliability_source,
        rci: method,
        level: args.level,
        comparison: ">",
        criterion_from: if args.by.is_some() {
            "whole sample"
        } else {
            "this sample"
        },
        effect_size_sign: "positive = improvement",
    };
    let rows_used = total.n;
    Ok(ChangeReport {
        command: "change",
        version: crate::VERSION,
        input: p.input_info(rows_used),
        roles: roles.to_json(),
        measure,
        conventions,
        total,
        by: args.by.clone(),
        groups,
        excluded: excluded_rows,
        suppressed: args.suppress,
        notes,
        people: total_res.people,
    })
}

/// Levels in natural order: numerically when every level is a number.
fn sorted_levels(levels: BTreeMap<String, Vec<usize>>, col: &Column) -> Vec<(String, Vec<usize>)> {
    let mut v: Vec<(String, Vec<usize>)> = levels.into_iter().collect();
    if col.is_numeric() {
        v.sort_by(|a, b| {
            let x: f64 = a.0.parse().unwrap_or(f64::NAN);
            let y: f64 = b.0.parse().unwrap_or(f64::NAN);
            x.total_cmp(&y)
        });
    }
    v
}

// ---------------------------------------------------------------------------
// Output

/// One display row of the category table (total or group).
struct DisplayRow {
    label: String,
    n: usize,
    summary: Option<Summary>,
}

fn display_rows(r: &ChangeReport) -> Vec<DisplayRow> {
    let mut rows: Vec<DisplayRow> = r
        .groups
        .iter()
        .map(|g| DisplayRow {
            label: g.group.clone(),
            n: g.n,
            summary: g.summary.clone(),
        })
        .collect();
    rows.push(DisplayRow {
        label: "Total".to_string(),
        n: r.total.n,
        summary: Some(r.total.clone()),
    });
    rows
}

const CATS: [&str; 5] = [
    "recovered",
    "improved",
    "unchanged",
    "deteriorated",
    "harmed",
];

fn cat_counts(s: &Summary) -> [Option<usize>; 5] {
    let c = &s.categories.counts;
    [
        c.recovered,
        Some(c.improved),
        Some(c.unchanged),
        Some(c.deteriorated),
        c.harmed,
    ]
}

/// One category cell as shown: the count (rounded or `*` under suppression)
/// and its percentage of the row's n (from the rounded counts under
/// suppression, science.md §6).
#[derive(Debug, Clone, Copy)]
struct Cell {
    count: Shown,
    percent: Option<f64>,
}

impl Cell {
    /// `402 (41.5%)`; whole percentages under suppression.
    fn text(&self, suppress: bool) -> String {
        let digits = if suppress { 0 } else { 1 };
        match self.percent {
            Some(p) => format!("{} ({p:.digits$}%)", self.count),
            None => self.count.to_string(),
        }
    }
    fn json(&self) -> serde_json::Value {
        match self.count {
            Shown::Count(x) => serde_json::json!(x),
            Shown::Suppressed => serde_json::json!("*"),
        }
    }
}

/// Category cells per display row (None where the category is not defined,
/// e.g. recovered without a cut-off, or the row was not analysed).
fn category_cells(rows: &[DisplayRow], suppress: bool) -> Vec<Vec<Option<Cell>>> {
    let defined: Vec<[Option<usize>; 5]> = rows
        .iter()
        .map(|r| r.summary.as_ref().map_or([None; 5], cat_counts))
        .collect();
    if !suppress {
        return rows
            .iter()
            .zip(&defined)
            .map(|(r, cats)| {
                cats.iter()
                    .map(|c| {
                        c.map(|k| Cell {
                            count: Shown::Count(k as u64),
                            percent: Some(100.0 * k as f64 / r.n.max(1) as f64),
                        })
                    })
                    .collect()
            })
            .collect();
    }
    // Groups are the rows, the total the column-total row, n the row totals.
    let counts: Vec<Vec<u64>> = defined
        .iter()
        .map(|cats| cats.iter().map(|c| c.unwrap_or(0) as u64).collect())
        .collect();
    let ng = rows.len() - 1;
    // Without groups the total row is the table's only row.
    let solo = ng == 0;
    let table = if solo {
        suppress_table(&counts, true, false)
    } else {
        suppress_table(&counts[..ng], true, true)
    };
    let shown_n: Vec<Shown> = table.row_totals.clone().unwrap_or_default();
    (0..rows.len())
        .map(|i| {
            let (cells, n): (Vec<Shown>, Shown) = if i < ng || solo {
                (table.cells[i].clone(), shown_n[i])
            } else {
                (
                    table.col_totals.clone().unwrap_or_default(),
                    table.grand_total.unwrap_or(Shown::Suppressed),
                )
            };
            cells
                .iter()
                .zip(&defined[i])
                .map(|(c, d)| {
                    d.map(|_| Cell {
                        count: *c,
                        percent: percent(*c, n),
                    })
                })
                .collect()
        })
        .collect()
}

/// A count as shown: under suppression the small-number rule (1–7 as `*`,
/// others rounded to 5).
pub(crate) fn n_text(n: usize, suppress: bool) -> String {
    if suppress {
        crate::stats::suppress::suppress_count(n as u64).to_string()
    } else {
        n.to_string()
    }
}

fn stat_text(x: f64, n: usize, suppress: bool, digits: usize) -> String {
    match (suppress, suppress_statistic(x, n as u64)) {
        (true, None) => "*".to_string(),
        _ if x.is_finite() => format!("{x:.digits$}"),
        _ => "-".to_string(),
    }
}

pub fn render_table(r: &ChangeReport) -> String {
    let mut s = String::new();
    let c = &r.conventions;
    let t = &r.total;
    s.push_str(&format!("outcomes change: {}\n", r.input.path));
    if let Some(m) = &r.measure {
        s.push_str(&format!(
            "  measure      {} ({}–{}, {} is better; {})\n",
            m.name,
            m.min,
            m.max,
            if m.direction == Direction::LowerBetter {
                "lower"
            } else {
                "higher"
            },
            m.source
        ));
    }
    s.push_str(&format!(
        "  clients      {} with pre and post scores ({} rows read)\n",
        n_text(t.n, r.suppressed),
        r.input.rows_read
    ));
    s.push_str(&format!(
        "  reliable change  {} index, reliability {} ({}), critical value {:.3}{}, strict '>'\n",
        c.rci.name(),
        c.reliability,
        c.reliability_source,
        t.rci.z,
        if t.rci.one_sided { " one-sided" } else { "" }
    ));
    s.push_str(&format!(
        "                   S_diff {:.4}, threshold {:.4} points{}\n",
        t.rci.sdiff,
        t.rci.threshold,
        if r.by.is_some() {
            " (whole sample, applied to every group)"
        } else {
            ""
        }
    ));
    if let Some(cut) = &t.cutoff {
        s.push_str(&format!(
            "  cut-off      {} = {:.4} (functional = {} it; clinical M1 {:.4}, S1 {:.4}{})\n",
            cut.kind,
            cut.value,
            cut.functional_side,
            cut.clinical.mean,
            cut.clinical.sd,
            cut.functional
                .map(|f| format!("; functional M0 {}, S0 {}", f.mean, f.sd))
                .unwrap_or_default()
        ));
    } else {
        s.push_str(
            "  cut-off      none (no recovered/harmed categories; give --cutoff a|b|c|VALUE)\n",
        );
    }
    s.push_str(&format!(
        "  effect sizes positive = improvement; {}% CIs\n\n",
        c.level
    ));

    let rows = display_rows(r);
    let by = r.by.as_deref().unwrap_or("");
    let label_w = rows
        .iter()
        .map(|x| x.label.chars().count())
        .chain([by.chars().count()])
        .max()
        .unwrap_or(5)
        .clamp(5, 24);
    s.push_str(&format!(
        "{:<label_w$}  {:>6}  {:>7}  {:>7}  {:>7}  {:>18}",
        if by.is_empty() { "" } else { by },
        "n",
        "pre M",
        "post M",
        "r",
        "g_pre [CI]"
    ));
    if let Some(b) = r.total.benchmark.as_ref().filter(|b| !b.is_empty()) {
        let labels: Vec<String> = b
            .iter()
            .map(|c| format!("{} {}", c.label, c.value))
            .collect();
        s.push_str(&format!("  g_pre vs {}", labels.join(" / ")));
    }
    s.push('\n');
    for row in &rows {
        let label: String = row.label.chars().take(24).collect();
        match &row.summary {
            Some(x) => {
                let g = &x.effect_sizes.g_pre;
                let ci = format!("{:.2} [{:.2}, {:.2}]", g.estimate, g.ci_lb, g.ci_ub);
                let ci = if r.suppressed && suppress_statistic(0.0, x.n as u64).is_none() {
                    "*".to_string()
                } else {
                    ci
                };
                s.push_str(&format!(
                    "{:<label_w$}  {:>6}  {:>7}  {:>7}  {:>7}  {:>18}",
                    label,
                    n_text(x.n, r.suppressed),
                    stat_text(x.pre.mean, x.n, r.suppressed, 2),
                    stat_text(x.post.mean, x.n, r.suppressed, 2),
                    stat_text(x.r_pre_post, x.n, r.suppressed, 2),
                    ci
                ));
                if let Some(b) = &x.benchmark {
                    let txt: Vec<&str> = b
                        .iter()
                        .map(|c| match c.comparison {
                            Comparison::Above => "above",
                            Comparison::Within => "within",
                            Comparison::Below => "below",
                        })
                        .collect();
                    s.push_str(&format!("  {}", txt.join(" / ")));
                }
                s.push('\n');
            }
            None => s.push_str(&format!(
                "{:<label_w$}  {:>6}  (not analysed)\n",
                label,
                n_text(row.n, r.suppressed)
            )),
        }
    }
    s.push('\n');
    let cells = category_cells(&rows, r.suppressed);
    s.push_str(&format!(
        "{:<label_w$}",
        if by.is_empty() { "" } else { by }
    ));
    for c in CATS {
        s.push_str(&format!("  {c:>13}"));
    }
    s.push('\n');
    for (row, cells) in rows.iter().zip(&cells) {
        let label: String = row.label.chars().take(24).collect();
        s.push_str(&format!("{label:<label_w$}"));
        for c in cells {
            let text = c.map_or("-".to_string(), |c| c.text(r.suppressed));
            s.push_str(&format!("  {text:>13}"));
        }
        s.push('\n');
    }
    s.push_str(
        "\nrecovered = reliable improvement and crossed the cut-off; improved = reliable \
         improvement only;\nharmed = reliable deterioration into the clinical range\n",
    );
    if r.suppressed {
        s.push_str(
            "small numbers suppressed (NHS Digital rule): counts 1-7 shown as *, others rounded \
             to 5, percentages from rounded counts\n",
        );
    }
    if let Some(nhs) = &r.total.nhs {
        s.push_str(&render_nhs(nhs, r.suppressed));
    }
    if !r.excluded.is_empty() {
        s.push_str("\nExcluded\n");
        for e in &r.excluded {
            s.push_str(&format!(
                "  {} rows: {}\n",
                n_text(e.rows, r.suppressed),
                e.reason
            ));
        }
    }
    for g in &r.groups {
        if let Some(note) = &g.note {
            s.push_str(&format!("  group {}: {note}\n", g.group));
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

fn render_nhs(nhs: &NhsResult, suppress: bool) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "\nNHS Talking Therapies metrics ({}{})\n",
        nhs.measures_used.join(" and "),
        if nhs.official {
            ", official definitions"
        } else {
            "; not the official definitions, which need PHQ-9 and GAD-7"
        }
    ));
    let line = |p: &Proportion, label: &str| -> String {
        let (num, den) = (p.numerator as u64, p.denominator as u64);
        if suppress {
            let (a, b) = (
                crate::stats::suppress::suppress_count(num),
                crate::stats::suppress::suppress_count(den),
            );
            let pct = percent(a, b)
                .map(|x| format!("{x:.0}%"))
                .unwrap_or("*".into());
            format!("  {label:<24} {a:>6} / {b:<6} {pct}\n")
        } else {
            let rate = p
                .rate
                .map(|x| format!("{:.1}%", 100.0 * x))
                .unwrap_or("-".into());
            let ci = match (p.ci_lb, p.ci_ub) {
                (Some(a), Some(b)) => format!(" [{:.1}, {:.1}]", 100.0 * a, 100.0 * b),
                _ => String::new(),
            };
            format!("  {label:<24} {num:>6} / {den:<6} {rate}{ci}\n")
        }
    };
    let unpaired = nhs.finished_missing_scores;
    s.push_str(&format!(
        "  {:<24} {} (at least {} attended sessions){}\n",
        "finished treatment",
        n_text(nhs.finished + unpaired, suppress),
        nhs.definitions.min_sessions,
        if unpaired > 0 {
            format!(
                "; {} without a first and last score are left out",
                n_text(unpaired, suppress)
            )
        } else {
            String::new()
        }
    ));
    for (p, label) in [
        (&nhs.recovery, "recovery"),
        (&nhs.reliable_improvement, "reliable improvement"),
        (&nhs.reliable_recovery, "reliable recovery"),
        (&nhs.reliable_deterioration, "reliable deterioration"),
    ] {
        s.push_str(&line(p, label));
    }
    s
}

/// `--format csv`: one row per group plus the total.
/// The category table as a report shows it: one row per group and the
/// total, `n`, pre and post means, d_av with its interval, and each category
/// as `count (percent)`; under suppression counts follow the small-number
/// rule (science.md §6) and statistics of 1–7 people are `*`.
pub fn display_table(r: &ChangeReport) -> (Vec<String>, Vec<Vec<String>>) {
    let rows = display_rows(r);
    let cells = category_cells(&rows, r.suppressed);
    let mut header = vec![
        r.by.clone().unwrap_or_else(|| "group".to_string()),
        "n".to_string(),
        "pre mean".to_string(),
        "post mean".to_string(),
        "d_av [95% CI]".to_string(),
    ];
    header.extend(CATS.iter().map(|c| c.to_string()));
    let body = rows
        .iter()
        .zip(&cells)
        .map(|(row, cats)| {
            let mut rec = vec![row.label.clone(), n_text(row.n, r.suppressed)];
            match &row.summary {
                Some(x) => {
                    let st = |v: f64| stat_text(v, x.n, r.suppressed, 2);
                    let d = x.effect_sizes.d_av;
                    let ci = if st(d.estimate) == "*" {
                        "*".to_string()
                    } else {
                        format!("{} [{}, {}]", st(d.estimate), st(d.ci_lb), st(d.ci_ub))
                    };
                    rec.extend([st(x.pre.mean), st(x.post.mean), ci]);
                }
                None => rec.extend(std::iter::repeat_n("-".to_string(), 3)),
            }
            rec.extend(
                cats.iter()
                    .map(|c| c.map_or("-".to_string(), |c| c.text(r.suppressed))),
            );
            rec
        })
        .collect();
    (header, body)
}

fn render_csv(r: &ChangeReport) -> String {
    let rows = display_rows(r);
    let cells = category_cells(&rows, r.suppressed);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        r.by.clone().unwrap_or_else(|| "group".to_string()),
        "n".into(),
        "pre_mean".into(),
        "pre_sd".into(),
        "post_mean".into(),
        "post_sd".into(),
        "r_pre_post".into(),
    ];
    for es in ["d_pre", "g_pre", "d_av", "d_z", "d_rm"] {
        header.push(es.to_string());
        header.push(format!("{es}_ci_lb"));
        header.push(format!("{es}_ci_ub"));
    }
    header.extend(CATS.iter().map(|c| c.to_string()));
    let _ = w.write_record(&header);
    for (row, cats) in rows.iter().zip(&cells) {
        let mut rec = vec![row.label.clone(), n_text(row.n, r.suppressed)];
        match &row.summary {
            Some(x) => {
                let st = |v: f64| stat_text(v, x.n, r.suppressed, 6);
                rec.extend([
                    st(x.pre.mean),
                    st(x.pre.sd),
                    st(x.post.mean),
                    st(x.post.sd),
                    st(x.r_pre_post),
                ]);
                let e = &x.effect_sizes;
                for es in [e.d_pre, e.g_pre, e.d_av, e.d_z, e.d_rm] {
                    rec.extend([st(es.estimate), st(es.ci_lb), st(es.ci_ub)]);
                }
            }
            None => rec.extend(std::iter::repeat_n(String::new(), 20)),
        }
        // Category cells: the count alone (no percentage) for CSV.
        rec.extend(
            cats.iter()
                .map(|c| c.map_or("-".to_string(), |c| c.count.to_string())),
        );
        let _ = w.write_record(&rec);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// JSON with `--suppress`: counts replaced by their displayed values.
fn suppress_json(r: &ChangeReport) -> Result<String> {
    let v = suppressed_value(r)?;
    let mut s = serde_json::to_string_pretty(&v).map_err(|e| Error::other(e.to_string()))?;
    s.push('\n');
    Ok(s)
}

/// The report as JSON with counts replaced by their displayed values.
pub fn suppressed_value(r: &ChangeReport) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(r).map_err(|e| Error::other(e.to_string()))?;
    let rows = display_rows(r);
    let cells = category_cells(&rows, true);
    let apply = |obj: &mut serde_json::Value, cells: &[Option<Cell>], n: usize| {
        if let Some(cat) = obj.get_mut("categories") {
            for (k, c) in CATS.iter().zip(cells) {
                if let (Some(c), true) = (c, cat.get(*k).is_some()) {
                    cat[*k] = c.json();
                }
            }
            cat["n"] = serde_json::json!(n_text(n, true));
            if let Some(o) = cat.as_object_mut() {
                o.remove("rates");
                o.remove("rate_ci");
            }
        }
        obj["n"] = match crate::stats::suppress::suppress_count(n as u64) {
            Shown::Count(x) => serde_json::json!(x),
            Shown::Suppressed => serde_json::json!("*"),
        };
        if n <= 7 {
            for k in ["pre", "post", "r_pre_post", "effect_sizes", "benchmark"] {
                if obj.get(k).is_some() {
                    obj[k] = serde_json::json!("*");
                }
            }
        }
    };
    let ng = r.groups.len();
    if let Some(groups) = v.get_mut("groups").and_then(|g| g.as_array_mut()) {
        for (i, g) in groups.iter_mut().enumerate() {
            apply(g, &cells[i], r.groups[i].n);
        }
    }
    apply(&mut v, &cells[ng], r.total.n);
    Ok(v)
}

/// The Jacobson plot of the whole sample (Jacobson & Truax 1991): points, or
/// cells of at least 8 clients when small numbers are suppressed.
pub fn jacobson_chart(r: &ChangeReport) -> crate::plot::jacobson::JacobsonPlot {
    use crate::plot::jacobson::{JacobsonMode, JacobsonPlot, JacobsonPoint};
    let points = r
        .people
        .iter()
        .map(|p| JacobsonPoint {
            pre: p.pre,
            post: p.post,
            category: p.category,
        })
        .collect();
    let measure = r
        .measure
        .as_ref()
        .map_or("score".to_string(), |m| m.name.clone());
    let mut jp = JacobsonPlot::new(points, r.total.rci.threshold, measure);
    jp.cutoff = r.total.cutoff.as_ref().map(|c| c.value);
    jp.lower_is_better = r.conventions.direction == Direction::LowerBetter;
    jp.range = r.measure.as_ref().map(|m| (m.min, m.max));
    if r.suppressed {
        jp.mode = JacobsonMode::Binned {
            cell: jp.binned_cell(jacobson_step(r), 8),
            min_count: 8,
        };
    }
    jp
}

/// One PHQ-9-sized score step of the measure (range / 27, at least 1 point):
/// the smallest cell of a binned Jacobson plot.
pub fn jacobson_step(r: &ChangeReport) -> f64 {
    r.measure
        .as_ref()
        .map_or(1.0, |m| ((m.max - m.min) / 27.0).max(1.0).round())
}

pub fn run(args: &ChangeArgs) -> Result<()> {
    let report = build(args)?;
    args.figure.save(&jacobson_chart(&report))?;
    for n in &report.notes {
        if args.out.format == OutFormat::Table && args.out.output.is_some() {
            eprintln!("note: {n}");
        }
    }
    let text = match args.out.format {
        OutFormat::Json if report.suppressed => suppress_json(&report)?,
        OutFormat::Json => to_json(&report)?,
        OutFormat::Table => render_table(&report),
        OutFormat::Csv => render_csv(&report),
    };
    emit(&text, args.out.output.as_deref())
}
