//! `outcomes summarise DATA -o site.summary.json`: the per-therapist
//! sufficient statistics of a variance decomposition, and nothing
//! client-level; `outcomes variance --summaries a.json b.json ...` fits from
//! them (issue 9).
//!
//! Why this suffices: every model of the decomposition is a linear mixed
//! model with random intercepts for therapists (and sites), whose REML
//! criterion depends on the data only through the cross-products W'W of
//! W = [1, X, y] within each therapist and their column sums, with the sites'
//! sums (Searle, Casella & McCulloch 1992, *Variance Components*, §6.8: the
//! likelihood of a one-way random model through group totals and the pooled
//! within-group sums of squares and products; `stats::variance::ri` evaluates
//! it that way). Per therapist the file keeps n, the column means and the
//! cross-products about those means; cross-products about the pooled means
//! follow by the parallel-axis identity Σ(w − μ)(w − μ)' = C_j + n_j (m_j −
//! μ)(m_j − μ)' (Chan, Golub & LeVeque 1983, Am. Stat. 37:242), so merging
//! files gives the pooled statistics up to rounding.
//!
//! Privacy: no client row, no client or therapist ID, and no site name is
//! written. Therapists with fewer than `--min-caseload` clients (default 8,
//! one more than the small-number threshold of science.md §6) are merged
//! into one pooled stratum per site, or left out with `--small exclude`; a
//! pooled stratum that is still small is left out. Text columns are written
//! as one indicator per level, so files from services with different
//! techniques merge.

use crate::cli::common::InputArgs;
use crate::cli::variance::{Design, FactorList, VarianceArgs};
use crate::data::input::{Exclusion, InputInfo};
use crate::error::{Error, Result};
use crate::stats::variance::ri::Random;
use crate::stats::variance::units::{pool_moments, Moments, Units};
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::PathBuf;

/// The summary file format's name and version.
const FORMAT: &str = "outcomes variance summary";
const SCHEMA: u32 = 1;

#[derive(Args, Debug, Clone)]
pub struct SummariseArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Summary file to write (JSON).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Smallest caseload written as a therapist of its own.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub min_caseload: usize,
    /// What happens to therapists with fewer clients: merged into one pooled
    /// stratum per site, or excluded.
    #[arg(long, value_enum, default_value_t = Small::Merge)]
    pub small: Small,
    /// Name of the outcome measure, recorded in the file (e.g. PHQ-9).
    #[arg(long, value_name = "NAME")]
    pub measure: Option<String>,
    /// How DATA is read (as `variance --ingest`): `auto` reads a file of 256 MiB
    /// or more in one pass.
    #[arg(long, value_enum, default_value_t = crate::data::stream::Ingest::Auto)]
    pub ingest: crate::data::stream::Ingest,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Small {
    Merge,
    Exclude,
}

/// One column of W.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ColumnDef {
    /// The data column (or the derived column's name).
    pub column: String,
    /// For an indicator of a text column: its level.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub level: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FactorDef {
    pub name: String,
    /// "therapist" or "site" for a random intercept.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub random: Option<String>,
    /// Model terms (R's names).
    pub terms: Vec<String>,
    /// Data columns it comes from.
    pub data_columns: Vec<String>,
    /// Its columns of W (indices into `columns`).
    pub columns: Vec<usize>,
}

/// One therapist (or pooled stratum): size, column means and the
/// cross-products about them (upper triangle, row by row).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnitStats {
    pub n: f64,
    pub mean: Vec<f64>,
    pub within: Vec<f64>,
    /// Site (an index within this file) of the unit.
    pub site: u32,
    /// A pooled stratum of small caseloads rather than one therapist.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub pooled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SmallCount {
    pub therapists: usize,
    pub clients: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SummaryFile {
    pub format: String,
    pub schema: u32,
    pub version: String,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub measure: Option<String>,
    /// Column roles (role → column name).
    pub roles: Value,
    /// W's columns: intercept, factor columns, outcome last.
    pub columns: Vec<ColumnDef>,
    pub factors: Vec<FactorDef>,
    pub input_sha256: String,
    pub rows_read: usize,
    /// Clients in the analysis sample before small caseloads were handled.
    pub clients: usize,
    pub excluded: Vec<ExclusionOut>,
    pub min_caseload: usize,
    pub small: Small,
    pub merged: SmallCount,
    pub left_out: SmallCount,
    /// Therapists seen at more than one site, assigned to their main site.
    pub reassigned: usize,
    /// Site labels (a unit's `site` indexes them); files are merged by them,
    /// so one site may be split over several files.
    pub sites: Vec<String>,
    pub units: Vec<UnitStats>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExclusionOut {
    pub reason: String,
    pub rows: usize,
}

fn upper(m: usize, full: &[f64]) -> Vec<f64> {
    let mut v = Vec::with_capacity(m * (m + 1) / 2);
    for a in 0..m {
        for b in a..m {
            v.push(full[a * m + b]);
        }
    }
    v
}

fn full_from_upper(m: usize, up: &[f64]) -> Vec<f64> {
    let mut f = vec![0.0; m * m];
    let mut k = 0;
    for a in 0..m {
        for b in a..m {
            f[a * m + b] = up[k];
            f[b * m + a] = up[k];
            k += 1;
        }
    }
    f
}

pub fn build(args: &SummariseArgs) -> Result<SummaryFile> {
    let vargs = VarianceArgs::design_only(args.input.clone(), args.ingest);
    let d = crate::cli::variance::design(&vargs, true)?;
    if !d.units.has_therapist {
        return Err(Error::input(
            "summarise needs therapists (--therapist COL): without them the only units are \
             clients, and a summary would be client-level data",
        ));
    }
    let units = &d.units;
    let m = units.m;
    // sites: the main site of each therapist (most clients, lowest on ties)
    let mut reassigned = 0;
    let main_site = |u: usize| -> u32 {
        let r = units.cell_start[u]..units.cell_start[u + 1];
        let mut best = r.start;
        for c in r {
            if units.cell_n[c] > units.cell_n[best] {
                best = c;
            }
        }
        units.cell_site[best]
    };
    let mut out_units = Vec::new();
    let mut small: Vec<Vec<Moments>> = vec![Vec::new(); units.n_sites.max(1)];
    let (mut merged, mut left_out) = (
        SmallCount {
            therapists: 0,
            clients: 0,
        },
        SmallCount {
            therapists: 0,
            clients: 0,
        },
    );
    for u in 0..units.n.len() {
        if units.n[u] == 0.0 {
            continue;
        }
        if units.cell_start[u + 1] - units.cell_start[u] > 1 {
            reassigned += 1;
        }
        let site = main_site(u);
        let stats = units.moments(u);
        if (stats.0 as usize) < args.min_caseload {
            match args.small {
                Small::Merge => small[site as usize].push(stats),
                Small::Exclude => {
                    left_out.therapists += 1;
                    left_out.clients += stats.0 as usize;
                }
            }
            continue;
        }
        out_units.push(UnitStats {
            n: stats.0,
            mean: stats.1,
            within: upper(m, &stats.2),
            site,
            pooled: false,
        });
    }
    for (site, parts) in small.iter().enumerate() {
        if parts.is_empty() {
            continue;
        }
        let (n, mean, within) = pool_moments(parts, m);
        if (n as usize) < args.min_caseload {
            left_out.therapists += parts.len();
            left_out.clients += n as usize;
            continue;
        }
        merged.therapists += parts.len();
        merged.clients += n as usize;
        out_units.push(UnitStats {
            n,
            mean,
            within: upper(m, &within),
            site: site as u32,
            pooled: true,
        });
    }
    if out_units.len() < 2 {
        return Err(Error::analysis(format!(
            "fewer than two therapists with at least {} clients: nothing can be summarised \
             without revealing small caseloads",
            args.min_caseload
        )));
    }
    let mut columns: Vec<ColumnDef> = d
        .sources
        .iter()
        .map(|(c, l)| ColumnDef {
            column: c.clone(),
            level: l.clone(),
        })
        .collect();
    columns.push(ColumnDef {
        column: d.outcome.clone(),
        level: None,
    });
    let factors = d
        .factors
        .iter()
        .zip(&d.infos)
        .map(|(f, info)| FactorDef {
            name: f.name.clone(),
            random: match (f.random.therapist, f.random.site) {
                (true, _) => Some("therapist".into()),
                (_, true) => Some("site".into()),
                _ => None,
            },
            terms: d.formula_terms[d.factors.iter().position(|x| x.name == f.name).unwrap()]
                .clone(),
            data_columns: info.columns.clone(),
            columns: f.cols.clone(),
        })
        .collect();
    Ok(SummaryFile {
        format: FORMAT.into(),
        schema: SCHEMA,
        version: crate::VERSION.into(),
        outcome: d.outcome.clone(),
        measure: args.measure.clone(),
        roles: d.roles.clone(),
        columns,
        factors,
        input_sha256: d.input.sha256.clone(),
        rows_read: d.input.rows_read,
        clients: d.n,
        excluded: d
            .excluded
            .iter()
            .map(|e| ExclusionOut {
                reason: e.reason.clone(),
                rows: e.rows,
            })
            .collect(),
        min_caseload: args.min_caseload,
        small: args.small,
        merged,
        left_out,
        reassigned,
        sites: if d.site_levels.is_empty() {
            vec![String::new()]
        } else {
            d.site_levels.clone()
        },
        units: out_units,
    })
}

pub fn run(args: &SummariseArgs) -> Result<()> {
    if args.min_caseload < 8 {
        eprintln!(
            "warning: --min-caseload {} is below 8 (science.md §6): therapists with fewer clients are written on their own, and their means come close to client-level data; share this file only where client-level data may be shared",
            args.min_caseload
        );
    }
    let s = build(args)?;
    let text = crate::output::to_json(&s)?;
    crate::output::write_atomic(&args.output, text.as_bytes())?;
    eprintln!(
        "outcomes summarise: {} therapists ({} merged into pooled strata, {} left out with {} clients) at {} sites written to {}",
        s.units.iter().filter(|u| !u.pooled).count(),
        s.merged.therapists,
        s.left_out.therapists,
        s.left_out.clients,
        s.sites.len(),
        args.output.display()
    );
    Ok(())
}

fn read(path: &PathBuf) -> Result<SummaryFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::input(format!("cannot read the summary '{}': {e}", path.display())))?;
    let s: SummaryFile = serde_json::from_str(&text).map_err(|e| {
        Error::input(format!(
            "{}: not a summary written by `outcomes summarise` ({e})",
            path.display()
        ))
    })?;
    if s.format != FORMAT || s.schema != SCHEMA {
        return Err(Error::input(format!(
            "{}: format '{}' schema {}; accepted: '{FORMAT}' schema {SCHEMA}",
            path.display(),
            s.format,
            s.schema
        )));
    }
    let m = s.columns.len();
    if s.units
        .iter()
        .any(|u| u.mean.len() != m || u.within.len() != m * (m + 1) / 2)
    {
        return Err(Error::input(format!(
            "{}: a unit's statistics do not match its {m} columns",
            path.display()
        )));
    }
    Ok(s)
}

/// Merges summary files into the design of the pooled data.
pub(crate) fn merge(paths: &[PathBuf]) -> Result<Design> {
    let files: Vec<SummaryFile> = paths.iter().map(read).collect::<Result<_>>()?;
    let first = &files[0];
    for (f, p) in files.iter().zip(paths).skip(1) {
        let names = |s: &SummaryFile| {
            s.factors
                .iter()
                .map(|x| (x.name.clone(), x.random.clone(), x.data_columns.clone()))
                .collect::<Vec<_>>()
        };
        if f.outcome != first.outcome || names(f) != names(first) {
            return Err(Error::input(format!(
                "{}: its outcome '{}' and factors differ from {} ('{}'): summaries must come from the same analysis",
                p.display(),
                f.outcome,
                paths[0].display(),
                first.outcome
            )));
        }
    }
    // Final columns: intercept, each factor's columns (a text column's levels
    // over all files, sorted, the first dropped as R's reference), outcome.
    let mut names: Vec<String> = vec!["(Intercept)".into()];
    let mut sources: Vec<(String, Option<String>)> = vec![("(Intercept)".into(), None)];
    let mut fl = FactorList::default();
    let mut split_cols: Option<(usize, usize)> = None;
    for (fi, fd) in first.factors.iter().enumerate() {
        let start = names.len();
        // the factor's columns in order: numeric columns as in the first
        // file; indicator levels per data column, over all files
        let mut seen: Vec<(String, Option<String>)> = Vec::new();
        for f in &files {
            for &c in &f.factors[fi].columns {
                let cd = &f.columns[c];
                let key = (cd.column.clone(), cd.level.clone());
                if !seen.contains(&key) {
                    seen.push(key);
                }
            }
        }
        let mut data_cols: Vec<String> = Vec::new();
        for (c, _) in &seen {
            if !data_cols.contains(c) {
                data_cols.push(c.clone());
            }
        }
        for c in &data_cols {
            let mut levels: Vec<&String> = seen
                .iter()
                .filter(|(x, l)| x == c && l.is_some())
                .map(|(_, l)| l.as_ref().unwrap())
                .collect();
            if levels.is_empty() {
                names.push(c.clone());
                sources.push((c.clone(), None));
                continue;
            }
            levels.sort();
            if levels.len() < 2 {
                return Err(Error::analysis(format!(
                    "the {} column '{c}' has one value ('{}') in all the summaries, so it cannot explain any variance",
                    fd.name, levels[0]
                )));
            }
            for l in levels.iter().skip(1) {
                names.push(format!("{c}{l}"));
                sources.push((c.clone(), Some((*l).clone())));
            }
        }
        if fd.name == "relationship_within" {
            split_cols = Some((start, start));
        }
        if fd.name == "relationship_between" {
            split_cols = split_cols.map(|(w, _)| (w, start));
        }
        let random = Random {
            therapist: fd.random.as_deref() == Some("therapist"),
            site: fd.random.as_deref() == Some("site"),
        };
        fl.push(
            &fd.name,
            &names,
            start,
            fd.terms.clone(),
            fd.data_columns.clone(),
            random,
        );
    }
    let m = names.len() + 1;
    // Each file's columns in the final W (None: a reference level).
    let maps: Vec<Vec<Option<usize>>> = files
        .iter()
        .map(|f| {
            let last = f.columns.len() - 1;
            f.columns
                .iter()
                .enumerate()
                .map(|(i, cd)| {
                    if i == 0 {
                        Some(0)
                    } else if i == last {
                        Some(m - 1)
                    } else {
                        sources
                            .iter()
                            .position(|(c, l)| *c == cd.column && *l == cd.level)
                    }
                })
                .collect()
        })
        .collect();
    let mut labels: Vec<String> = files.iter().flat_map(|f| f.sites.iter().cloned()).collect();
    labels.sort();
    labels.dedup();
    let n_sites = labels.len() as u32;
    let mut parts: Vec<(Moments, u32)> = Vec::new();
    let (mut merged, mut left_out, mut reassigned, mut rows_read) = (0, 0, 0, 0);
    let mut excluded: Vec<Exclusion> = Vec::new();
    for (f, map) in files.iter().zip(&maps) {
        let mf = f.columns.len();
        for u in &f.units {
            let wf = full_from_upper(mf, &u.within);
            // raw mean and within cross-products in the final columns
            let mut mean = vec![0.0; m];
            let mut within = vec![0.0; m * m];
            for (i, ti) in map.iter().enumerate() {
                let Some(ti) = *ti else { continue };
                mean[ti] = u.mean[i];
                for (j, tj) in map.iter().enumerate() {
                    if let Some(tj) = *tj {
                        within[ti * m + tj] = wf[i * mf + j];
                    }
                }
            }
            let label = f
                .sites
                .get(u.site as usize)
                .ok_or_else(|| Error::input("a summary's unit names a site it does not list"))?;
            let site = labels.binary_search(label).expect("collected") as u32;
            parts.push(((u.n, mean, within), site));
        }
        merged += f.merged.therapists;
        left_out += f.left_out.therapists;
        reassigned += f.reassigned;
        rows_read += f.rows_read;
        for e in &f.excluded {
            match excluded.iter_mut().find(|x| x.reason == e.reason) {
                Some(x) => x.rows += e.rows,
                None => excluded.push(Exclusion {
                    reason: e.reason.clone(),
                    rows: e.rows,
                }),
            }
        }
        if f.left_out.clients > 0 {
            excluded.push(Exclusion {
                reason: format!(
                    "caseload under {} (left out by `outcomes summarise`)",
                    f.min_caseload
                ),
                rows: f.left_out.clients,
            });
        }
    }
    let role = |r: &str| {
        first
            .roles
            .get(r)
            .and_then(|x| x.get("column"))
            .and_then(|c| c.as_str())
            .map(String::from)
    };
    let therapist = role("therapist");
    let has_site = fl.factors.iter().any(|f| f.random.site);
    let site = if has_site { role("site") } else { None };
    let units = Units::from_moments(m, &parts, n_sites as usize, has_site);
    let nu = parts.len();
    let mut groups = Map::new();
    if let Some(t) = &therapist {
        groups.insert(t.clone(), Value::from(nu));
    }
    if let Some(s) = &site {
        groups.insert(s.clone(), Value::from(n_sites));
    }
    let mut notes = vec![format!(
        "fitted from {} summary files (per-therapist cross-products written by `outcomes summarise`), not from client records",
        files.len()
    )];
    if merged > 0 {
        notes.push(format!(
            "{merged} therapists with small caseloads enter as pooled strata (one per site): their random intercept is the stratum's, so the therapist variance differs from a fit of the client records"
        ));
    }
    if left_out > 0 {
        notes.push(format!(
            "{left_out} therapists with small caseloads were left out"
        ));
    }
    if reassigned > 0 {
        notes.push(format!(
            "{reassigned} therapists seen at more than one site were assigned to their main site"
        ));
    }
    let mut sha = String::new();
    for f in &files {
        sha.push_str(&f.input_sha256);
    }
    let n = units.n.iter().sum::<f64>() as usize;
    Ok(Design {
        units,
        names,
        sources,
        site_levels: labels,
        factors: fl.factors,
        infos: fl.infos,
        formula_terms: fl.formula_terms,
        split_cols,
        warnings: Vec::new(),
        notes,
        groups,
        therapist,
        site,
        outcome: first.outcome.clone(),
        n,
        input: InputInfo {
            path: paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            sha256: crate::data::load::sha256_hex(sha.as_bytes()),
            rows_read,
            rows_used: n,
        },
        roles: first.roles.clone(),
        excluded,
    })
}

/// `outcomes lmm --summaries ...`: a random-intercept model fitted from
/// merged summaries. Fixed terms are columns of the summaries (a text column
/// brings its indicators); random terms are `(1 | therapist)` and
/// `(1 | site)` of the summaries' roles.
pub(crate) fn lmm_from_summaries(
    args: &crate::cli::lmm::LmmArgs,
) -> Result<crate::cli::lmm::LmmReport> {
    let f = crate::stats::lmm::formula::parse(&args.formula)?;
    let d = merge(&args.summaries)?;
    lmm_from_design(args, &f, d)
}

/// A model with random intercepts fitted from per-therapist (and per-site)
/// sums: merged summary files, or one pass over a large file (`lmm`).
pub(crate) fn lmm_from_design(
    args: &crate::cli::lmm::LmmArgs,
    f: &crate::stats::lmm::formula::Formula,
    d: Design,
) -> Result<crate::cli::lmm::LmmReport> {
    let available = || {
        let mut cols: Vec<&str> = d.sources.iter().skip(1).map(|(c, _)| c.as_str()).collect();
        cols.dedup();
        cols.join(", ")
    };
    let response = &f.vars[f.response];
    if *response != d.outcome {
        return Err(Error::input(format!(
            "--formula: the response is '{response}' but the summaries hold the outcome '{}'",
            d.outcome
        )));
    }
    if !f.fixed.intercept {
        return Err(Error::input(
            "--formula: models fitted from summaries keep the intercept (remove '0 +' or '- 1')",
        ));
    }
    let mut cols = vec![0usize];
    for t in &f.fixed.terms {
        if t.len() != 1 {
            return Err(Error::input(format!(
                "--formula: the interaction '{}' cannot be fitted from summaries (its cross-products are not in them); the summaries hold: {}",
                f.term_label(t),
                available()
            )));
        }
        let name = &f.vars[t[0]];
        let idx: Vec<usize> = d
            .sources
            .iter()
            .enumerate()
            .filter(|(i, (c, _))| *i > 0 && c == name)
            .map(|(i, _)| i)
            .collect();
        if idx.is_empty() {
            return Err(Error::input(format!(
                "--formula: the summaries have no column '{name}'; they hold: {}",
                available()
            )));
        }
        cols.extend(idx);
    }
    let mut random = Random::NONE;
    for r in &f.random {
        let g = r
            .group
            .iter()
            .map(|&v| f.vars[v].as_str())
            .collect::<Vec<_>>()
            .join(":");
        if !(r.lhs.intercept && r.lhs.terms.is_empty() && r.group.len() == 1) {
            return Err(Error::input(format!(
                "--formula: only random intercepts (1 | {g}) can be fitted from summaries"
            )));
        }
        if d.therapist.as_deref() == Some(g.as_str()) {
            random.therapist = true;
        } else if d.units.has_site && d.site.as_deref() == Some(g.as_str()) {
            random.site = true;
        } else {
            return Err(Error::input(format!(
                "--formula: (1 | {g}): the summaries group by therapist '{}'{}",
                d.therapist.as_deref().unwrap_or(""),
                d.site
                    .as_deref()
                    .map_or(String::new(), |s| format!(" and site '{s}'"))
            )));
        }
    }
    let reml = !args.ml;
    let sample = d.units.sample(&d.units.all());
    let fit = crate::stats::variance::ri::fit(&sample, &cols, random, reml)
        .map_err(|e| Error::analysis(e.to_string()))?;
    let lmm = crate::cli::variance::model_of(
        &fit,
        &d.names,
        &d.units,
        &f.text,
        &d.therapist,
        &d.site,
        &d.groups,
        reml,
    );
    Ok(crate::cli::lmm::LmmReport {
        command: "lmm",
        version: crate::VERSION,
        input: d.input,
        fit: lmm,
        ranef: None,
        excluded: d.excluded,
        notes: d.notes,
    })
}
