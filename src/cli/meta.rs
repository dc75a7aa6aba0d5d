//! `outcomes meta DATA --yi COL --vi COL`: random-effects meta-analysis and
//! meta-regression with metafor's answers (contract §meta; the statistics
//! are in `stats::meta`, conventions in science.md §5).
//!
//! The glue: yi and vi (or sei, vi = sei²) and the moderators are read;
//! rows with a missing value in any of them are dropped and counted;
//! moderators that are text become treatment dummies (reference = first
//! level in sorted order, names `<column><level>` as R); the model, its
//! Q-profile interval for τ², pseudo-R² against the intercept-only model,
//! subgroups and the test of subgroup differences, and the per-study data
//! that forest and funnel plots need.

use super::common::{numeric_column, InputArgs};
use super::lmm::factor;
use crate::data::input::{prepare, Exclusion, InputInfo, Purpose};
use crate::data::table::{format_num, Table};
use crate::error::{Error, Problem, Problems, Result};
use crate::output::{emit, to_json, OutFormat};
use crate::stats::lmm::Var;
use crate::stats::meta::{self, MetaError, Method, Rma, Test};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestArg {
    /// Wald z tests (metafor's default).
    Z,
    /// Knapp & Hartung (2003) t and F tests.
    Knha,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstimatorArg {
    L0,
    R0,
}

#[derive(Args, Debug, Clone)]
pub struct MetaArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Column with the effect sizes.
    #[arg(long, value_name = "COL", help_heading = "Model")]
    pub yi: String,
    /// Column with the sampling variances.
    #[arg(
        long,
        value_name = "COL",
        help_heading = "Model",
        required_unless_present = "sei",
        conflicts_with = "sei"
    )]
    pub vi: Option<String>,
    /// Column with the standard errors (instead of --vi; vi = sei²).
    #[arg(long, value_name = "COL", help_heading = "Model")]
    pub sei: Option<String>,
    /// τ² estimator: REML (default), ML, DL, PM, HE, HS, SJ, EB, or EE (equal effects).
    #[arg(
        long,
        default_value = "REML",
        value_name = "METHOD",
        help_heading = "Model"
    )]
    pub method: String,
    /// Tests and intervals of the coefficients: z, or knha (Knapp–Hartung).
    #[arg(long, value_enum, default_value_t = TestArg::Z, help_heading = "Model")]
    pub test: TestArg,
    /// Moderators, e.g. "year + condition_arm1" (text columns become treatment dummies).
    #[arg(long, value_name = "TERMS", help_heading = "Model")]
    pub mods: Option<String>,
    /// Column with study labels (for the per-study output).
    #[arg(long, value_name = "COL", help_heading = "Model")]
    pub slab: Option<String>,
    /// Separate models per level of COL, and the test of subgroup differences.
    #[arg(long, value_name = "COL", help_heading = "Model")]
    pub subgroup: Option<String>,
    /// Effects nested in studies: a three-level model (REML, like metafor's
    /// rma.mv(random = ~ 1 | COL/effect)) with CR2 cluster-robust tests (Satterthwaite df).
    #[arg(long, value_name = "COL", help_heading = "Model")]
    pub cluster: Option<String>,
    /// Small-study effects: Egger's regression test and trim-and-fill.
    #[arg(long, help_heading = "Analyses")]
    pub bias: bool,
    /// Trim-and-fill estimator of the number of missing studies.
    #[arg(long, value_enum, default_value_t = EstimatorArg::L0, help_heading = "Analyses")]
    pub trimfill_estimator: EstimatorArg,
    /// Leave-one-out: the model refitted without each study in turn.
    #[arg(long, help_heading = "Analyses")]
    pub influence: bool,
    /// Confidence level in percent.
    #[arg(long, default_value_t = 95.0, help_heading = "Model")]
    pub level: f64,
    /// Forest plot to FILE (.svg or .png): studies, weights, CIs, pooled diamond,
    /// prediction interval, subgroup headings.
    #[arg(
        long,
        visible_alias = "plot",
        value_name = "FILE",
        help_heading = "Figures"
    )]
    pub forest: Option<PathBuf>,
    /// Contour-enhanced funnel plot to FILE (.svg or .png), with trim-and-fill
    /// points when --bias is given.
    #[arg(long, value_name = "FILE", help_heading = "Figures")]
    pub funnel: Option<PathBuf>,
    /// Label of the effect-size axis of the forest and funnel plots, e.g.
    /// "Hedges' g" or "log risk ratio".
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "Effect size",
        help_heading = "Figures"
    )]
    pub xlab: String,
    /// Figure width: single (85 mm) or double (175 mm) journal column.
    #[arg(long, value_enum, default_value_t = crate::plot::Width::Double, help_heading = "Figures")]
    pub width: crate::plot::Width,
    /// Resolution of PNG figures.
    #[arg(long, default_value_t = crate::plot::DEFAULT_DPI, help_heading = "Figures")]
    pub dpi: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Table, help_heading = "Output")]
    pub format: OutFormat,
    /// Write the output to FILE (atomically) instead of stdout.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        help_heading = "Output"
    )]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Serialize, Clone)]
pub struct Coefficient {
    pub term: String,
    pub estimate: f64,
    pub se: f64,
    pub stat: f64,
    pub pval: f64,
    pub ci_lb: f64,
    pub ci_ub: f64,
}

/// One study's row, for forest and funnel plots.
#[derive(Debug, Serialize, Clone)]
pub struct Study {
    pub slab: String,
    pub line: u64,
    pub yi: f64,
    pub vi: f64,
    pub sei: f64,
    pub ci_lb: f64,
    pub ci_ub: f64,
    /// Weight in percent (metafor's `weights()`: 100·w_i/Σw, w = 1/(vi + τ²)).
    pub weight: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subgroup: Option<String>,
}

#[derive(Debug, Serialize, Clone)]
pub struct Fit {
    pub k: usize,
    pub method: &'static str,
    pub test: &'static str,
    pub estimate: f64,
    pub se: f64,
    pub stat: f64,
    pub pval: f64,
    pub ci_lb: f64,
    pub ci_ub: f64,
    pub pi_lb: Option<f64>,
    pub pi_ub: Option<f64>,
    pub tau2: f64,
    pub tau2_se: Option<f64>,
    pub tau2_ci: Option<[f64; 2]>,
    pub i2: f64,
    pub i2_ci: Option<[f64; 2]>,
    pub h2: f64,
    pub h2_ci: Option<[f64; 2]>,
    pub q: f64,
    pub q_df: usize,
    pub q_pval: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub df: Option<usize>,
}

#[derive(Debug, Serialize, Clone)]
pub struct Subgroup {
    pub group: String,
    #[serde(flatten)]
    pub fit: Option<Fit>,
    /// Why a group has no model (k < 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, Clone)]
pub struct SubgroupTest {
    /// Test of subgroup differences: QM of the model with the subgroup as a
    /// factor moderator (a mixed-effects model with one τ², as metafor's
    /// `rma(yi, vi, mods = ~ factor(group))`).
    pub qm: f64,
    pub df: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub df2: Option<usize>,
    pub pval: f64,
    pub tau2: f64,
}

/// Egger's regression test (metafor's `regtest`: predictor sei, model rma).
#[derive(Debug, Serialize, Clone)]
pub struct EggerOut {
    pub stat: f64,
    pub df: Option<usize>,
    pub pval: f64,
    /// The estimate as sei → 0 (the intercept).
    pub limit_estimate: f64,
    pub limit_ci: [f64; 2],
}

/// Trim-and-fill (Duval & Tweedie 2000), metafor's `trimfill`.
#[derive(Debug, Serialize, Clone)]
pub struct TrimFillOut {
    pub k0: usize,
    pub side: &'static str,
    pub estimator: &'static str,
    pub se_k0: Option<f64>,
    pub estimate: f64,
    pub se: f64,
    pub ci_lb: f64,
    pub ci_ub: f64,
    pub tau2: f64,
    /// The imputed studies (for funnel plots).
    pub filled: Vec<[f64; 2]>,
}

#[derive(Debug, Serialize, Clone)]
pub struct LeaveOut {
    pub omitted: String,
    pub estimate: f64,
    pub se: f64,
    pub pval: f64,
    pub ci_lb: f64,
    pub ci_ub: f64,
    pub tau2: f64,
    pub i2: f64,
    pub q: f64,
}

/// Three-level model: effects nested in clusters (studies).
#[derive(Debug, Serialize, Clone)]
pub struct Multilevel {
    pub cluster: String,
    pub k: usize,
    pub clusters: usize,
    /// σ² between clusters and within clusters (metafor's `sigma2`).
    pub sigma2: [f64; 2],
    pub coefficients: Vec<Coefficient>,
    pub qe: f64,
    pub qe_df: usize,
    pub qe_pval: f64,
    pub loglik: f64,
    /// CR2 cluster-robust tests with Satterthwaite degrees of freedom
    /// (Pustejovsky & Tipton 2018; clubSandwich's coef_test(vcov = "CR2")).
    pub robust: Vec<RobustCoef>,
}

#[derive(Debug, Serialize, Clone)]
pub struct RobustCoef {
    pub term: String,
    pub estimate: f64,
    pub se: f64,
    pub stat: f64,
    pub df: f64,
    pub pval: f64,
    pub ci_lb: f64,
    pub ci_ub: f64,
}

#[derive(Debug, Serialize)]
pub struct MetaReport {
    pub command: &'static str,
    pub version: &'static str,
    pub input: InputInfo,
    #[serde(flatten)]
    pub fit: Fit,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coefficients: Option<Vec<Coefficient>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qm_df: Option<Vec<usize>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qm_pval: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r2: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subgroups: Option<Vec<Subgroup>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subgroup_test: Option<SubgroupTest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egger: Option<EggerOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trimfill: Option<TrimFillOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leave1out: Option<Vec<LeaveOut>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multilevel: Option<Multilevel>,
    pub studies: Vec<Study>,
    pub level: f64,
    pub excluded: Vec<Exclusion>,
    pub notes: Vec<String>,
}

fn meta_err(e: MetaError) -> Error {
    Error::analysis(e.to_string())
}

/// The coefficient table of a fit, one row per term.
fn coefficients_of(
    names: &[String],
    beta: &[f64],
    se: &[f64],
    stat: &[f64],
    pval: &[f64],
    ci_lb: &[f64],
    ci_ub: &[f64],
) -> Vec<Coefficient> {
    (0..names.len())
        .map(|j| Coefficient {
            term: names[j].clone(),
            estimate: beta[j],
            se: se[j],
            stat: stat[j],
            pval: pval[j],
            ci_lb: ci_lb[j],
            ci_ub: ci_ub[j],
        })
        .collect()
}

fn fit_summary(r: &Rma, ci: Option<&meta::qprofile::Tau2Ci>) -> Fit {
    Fit {
        k: r.k,
        method: r.method.label(),
        test: match r.test {
            Test::Z => "z",
            Test::Knha => "knha",
        },
        estimate: r.beta[0],
        se: r.se[0],
        stat: r.stat[0],
        pval: r.pval[0],
        ci_lb: r.ci_lb[0],
        ci_ub: r.ci_ub[0],
        pi_lb: r.pi_lb,
        pi_ub: r.pi_ub,
        tau2: r.tau2,
        tau2_se: r.se_tau2,
        tau2_ci: ci.map(|c| c.tau2),
        i2: r.i2,
        i2_ci: ci.map(|c| c.i2),
        h2: r.h2,
        h2_ci: ci.map(|c| c.h2),
        q: r.qe,
        q_df: r.qe_df,
        q_pval: r.qe_pval,
        df: r.ddf,
    }
}

/// Design matrix of the moderators for the rows `rows`: intercept, numeric
/// columns, treatment dummies for text columns.
fn design(t: &Table, terms: &[String], rows: &[usize]) -> Result<(Vec<f64>, Vec<String>)> {
    let n = rows.len();
    let mut names = vec!["intrcpt".to_string()];
    let mut cols: Vec<Vec<f64>> = vec![vec![1.0; n]];
    for term in terms {
        let c = t.column(term).expect("checked column");
        match c.as_num() {
            Some(x) => {
                let v: Vec<f64> = rows.iter().map(|&r| x[r]).collect();
                if v.iter().all(|&a| a == v[0]) {
                    return Err(Error::analysis(format!(
                        "the moderator '{term}' is constant ({}) in the {n} studies analysed: it \
                         cannot explain heterogeneity; remove it from --mods",
                        format_num(v[0])
                    )));
                }
                names.push(term.clone());
                cols.push(v);
            }
            None => {
                let Var::Factor { codes, levels } = factor(t, term, rows) else {
                    unreachable!("factor() returns a factor")
                };
                if levels.len() < 2 {
                    return Err(Error::analysis(format!(
                        "the moderator '{term}' has one level ('{}') in the {n} studies analysed: \
                         it cannot explain heterogeneity; remove it from --mods",
                        levels.first().map_or("", String::as_str)
                    )));
                }
                for (l, level) in levels.iter().enumerate().skip(1) {
                    names.push(format!("{term}{level}"));
                    cols.push(
                        codes
                            .iter()
                            .map(|&c| (c as usize == l) as u8 as f64)
                            .collect(),
                    );
                }
            }
        }
    }
    let p = cols.len();
    let mut x = vec![0.0; n * p];
    for (j, c) in cols.iter().enumerate() {
        for i in 0..n {
            x[i * p + j] = c[i];
        }
    }
    Ok((x, names))
}

pub fn build(args: &MetaArgs) -> Result<MetaReport> {
    let method = Method::parse(&args.method).ok_or_else(|| {
        Error::input(format!(
            "--method '{}': accepted: REML, ML, DL, PM, HE, HS, SJ, EB, EE",
            args.method
        ))
    })?;
    let test = match args.test {
        TestArg::Z => Test::Z,
        TestArg::Knha => Test::Knha,
    };
    if !(args.level > 0.0 && args.level < 100.0) {
        return Err(Error::input(format!(
            "--level {}: give a confidence level in percent between 0 and 100, e.g. 95",
            args.level
        )));
    }
    if args.input.data.is_none() && args.input.spec.is_none() {
        return Err(Error::input(
            "meta needs DATA: a study-level file with effect sizes (--yi) and sampling \
             variances (--vi) or standard errors (--sei); the bundled demo data are client-level",
        ));
    }
    let level = args.level / 100.0;
    let p = prepare(&args.input.request(), Purpose::Analyse)?;
    let t = &p.table;
    let path = t.source.path.clone();
    let mut problems = Problems::new();
    let yi_all = numeric_column(t, &args.yi, "--yi", &mut problems)?;
    let (vcol, vflag) = match (&args.vi, &args.sei) {
        (Some(v), _) => (v.clone(), "--vi"),
        (None, Some(s)) => (s.clone(), "--sei"),
        (None, None) => unreachable!("clap requires one"),
    };
    let v_all = numeric_column(t, &vcol, vflag, &mut problems)?;
    let terms: Vec<String> = args
        .mods
        .as_deref()
        .map(|m| {
            m.split('+')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for term in &terms {
        if t.index_of(term).is_none() {
            return Err(Error::input(format!(
                "--mods: {path} has no column '{term}' (write moderators as 'col1 + col2'); it \
                 has: {}",
                t.names_for_message()
            )));
        }
    }
    for col in [&args.slab, &args.subgroup, &args.cluster]
        .into_iter()
        .flatten()
    {
        if t.index_of(col).is_none() {
            return Err(Error::input(format!(
                "{path} has no column '{col}'; it has: {}",
                t.names_for_message()
            )));
        }
    }
    // Non-positive variances or SEs are input errors (metafor refuses them).
    for (r, &v) in v_all.iter().enumerate() {
        if !v.is_nan() && (v <= 0.0 || v.is_infinite()) {
            problems.push(
                Problem::new(
                    path.as_str(),
                    format!("{vflag}: sampling variances and standard errors must be positive and finite"),
                )
                .line(t.line(r))
                .column(vcol.as_str())
                .value(&format_num(v)),
            );
        }
    }
    for (r, &y) in yi_all.iter().enumerate() {
        if y.is_infinite() {
            problems.push(
                Problem::new(path.as_str(), "--yi: effect sizes must be finite")
                    .line(t.line(r))
                    .column(args.yi.as_str())
                    .value(&format_num(y)),
            );
        }
    }
    problems.into_result(format!("{path}: meta cannot use these values"))?;
    // Rows complete on yi, vi and the moderators (and the subgroup).
    let mut excluded = p.excluded.clone();
    let mut drop_y = 0;
    let mut drop_v = 0;
    let mut drop_m = 0;
    let mut rows = Vec::new();
    for r in 0..t.nrows() {
        if yi_all[r].is_nan() {
            drop_y += 1;
        } else if v_all[r].is_nan() {
            drop_v += 1;
        } else if terms
            .iter()
            .chain(args.subgroup.iter())
            .chain(args.cluster.iter())
            .any(|c| t.column(c).is_some_and(|col| col.is_missing(r)))
        {
            drop_m += 1;
        } else {
            rows.push(r);
        }
    }
    for (n, reason) in [
        (drop_y, format!("missing effect size ('{}')", args.yi)),
        (drop_v, format!("missing {} ('{vcol}')", &vflag[2..])),
        (drop_m, "missing moderator or subgroup".to_string()),
    ] {
        if n > 0 {
            excluded.push(Exclusion { reason, rows: n });
        }
    }
    let k = rows.len();
    if k < 2 {
        return Err(Error::analysis(format!(
            "{k} stud{} with an effect size and a sampling variance: a meta-analysis needs at \
             least 2",
            if k == 1 { "y" } else { "ies" }
        )));
    }
    let yi: Vec<f64> = rows.iter().map(|&r| yi_all[r]).collect();
    let vi: Vec<f64> = rows
        .iter()
        .map(|&r| {
            if args.sei.is_some() {
                v_all[r] * v_all[r]
            } else {
                v_all[r]
            }
        })
        .collect();
    let ones = vec![1.0; k];
    let mut notes = p.notes.clone();
    let base = meta::rma(&yi, &vi, &ones, 1, method, test, level).map_err(meta_err)?;
    let ci0 = if method == Method::Ee {
        None
    } else {
        match meta::qprofile::tau2_ci(&yi, &vi, &ones, 1, &base, level) {
            Ok(c) => Some(c),
            Err(e) => {
                notes.push(format!("no Q-profile interval for tau^2: {e}"));
                None
            }
        }
    };
    // The moderator design, built once (the intercept alone without --mods).
    let (x_main, names_main) = if terms.is_empty() {
        (ones.clone(), vec!["intrcpt".to_string()])
    } else {
        design(t, &terms, &rows)?
    };
    let p_main = names_main.len();
    let (fit, coefficients, qm, qm_df, qm_pval, r2, main) = if terms.is_empty() {
        (
            fit_summary(&base, ci0.as_ref()),
            None,
            None,
            None,
            None,
            None,
            base.clone(),
        )
    } else {
        let (x, names, pp) = (&x_main, &names_main, p_main);
        if k <= pp {
            return Err(Error::analysis(format!(
                "{k} studies for {pp} coefficients: a meta-regression needs more studies than \
                 coefficients"
            )));
        }
        let m = meta::rma(&yi, &vi, x, pp, method, test, level).map_err(meta_err)?;
        let ci = if method == Method::Ee {
            None
        } else {
            meta::qprofile::tau2_ci(&yi, &vi, x, pp, &m, level).ok()
        };
        let coefs = coefficients_of(names, &m.beta, &m.se, &m.stat, &m.pval, &m.ci_lb, &m.ci_ub);
        let r2 = (method != Method::Ee).then(|| meta::pseudo_r2(base.tau2, m.tau2));
        let mut f = fit_summary(&m, ci.as_ref());
        f.pi_lb = None;
        f.pi_ub = None;
        (
            f,
            Some(coefs),
            Some(m.qm),
            Some([Some(m.qm_df.0), m.qm_df.1].into_iter().flatten().collect()),
            Some(m.qm_pval),
            r2,
            m,
        )
    };
    // Per-study rows (weights from the fitted model's τ²).
    let per_study = meta::study_rows(&yi, &vi, main.tau2, level);
    let slab_col = args.slab.as_deref().and_then(|c| t.column(c));
    let sub_col = args.subgroup.as_deref().and_then(|c| t.column(c));
    let studies: Vec<Study> = rows
        .iter()
        .enumerate()
        .map(|(i, &r)| Study {
            slab: slab_col
                .and_then(|c| c.text(r))
                .unwrap_or_else(|| format!("Study {}", i + 1)),
            line: t.line(r),
            yi: yi[i],
            vi: vi[i],
            sei: vi[i].sqrt(),
            ci_lb: per_study[i].ci_lb,
            ci_ub: per_study[i].ci_ub,
            weight: per_study[i].weight,
            subgroup: sub_col.and_then(|c| c.text(r)),
        })
        .collect();
    // Subgroups.
    let (subgroups, subgroup_test) = match &args.subgroup {
        None => (None, None),
        Some(col) => {
            let Var::Factor { codes, levels } = factor(t, col, &rows) else {
                unreachable!("factor() returns a factor")
            };
            let mut out = Vec::new();
            for (l, level_name) in levels.iter().enumerate() {
                let idx: Vec<usize> = (0..k).filter(|&i| codes[i] as usize == l).collect();
                let gy: Vec<f64> = idx.iter().map(|&i| yi[i]).collect();
                let gv: Vec<f64> = idx.iter().map(|&i| vi[i]).collect();
                if idx.len() < 2 {
                    out.push(Subgroup {
                        group: level_name.clone(),
                        fit: None,
                        note: Some(format!("k = {}: too few studies for a model", idx.len())),
                    });
                    continue;
                }
                let g1 = vec![1.0; idx.len()];
                match meta::rma(&gy, &gv, &g1, 1, method, test, level) {
                    Ok(g) => {
                        let gci = (method != Method::Ee)
                            .then(|| meta::qprofile::tau2_ci(&gy, &gv, &g1, 1, &g, level).ok())
                            .flatten();
                        out.push(Subgroup {
                            group: level_name.clone(),
                            fit: Some(fit_summary(&g, gci.as_ref())),
                            note: None,
                        })
                    }
                    Err(e) => out.push(Subgroup {
                        group: level_name.clone(),
                        fit: None,
                        note: Some(e.to_string()),
                    }),
                }
            }
            let test_of = if levels.len() >= 2 && k > levels.len() {
                let (x, _) = design(t, std::slice::from_ref(col), &rows)?;
                let m =
                    meta::rma(&yi, &vi, &x, levels.len(), method, test, level).map_err(meta_err)?;
                Some(SubgroupTest {
                    qm: m.qm,
                    df: m.qm_df.0,
                    df2: m.qm_df.1,
                    pval: m.qm_pval,
                    tau2: m.tau2,
                })
            } else {
                notes.push(format!(
                    "--subgroup '{col}': no test of subgroup differences (it needs at least 2 \
                     groups and more studies than groups)"
                ));
                None
            };
            (Some(out), test_of)
        }
    };
    let slabs: Vec<String> = studies.iter().map(|s| s.slab.clone()).collect();
    let (egger, trimfill) = if args.bias {
        let e = meta::bias::egger(&yi, &vi, &x_main, p_main, method, test, level)
            .map_err(|e| Error::analysis(format!("Egger's test: {e}")))?;
        let est = match args.trimfill_estimator {
            EstimatorArg::L0 => meta::bias::Estimator::L0,
            EstimatorArg::R0 => meta::bias::Estimator::R0,
        };
        let tf = if terms.is_empty() {
            match meta::bias::trimfill(&yi, &vi, method, test, level, est, None) {
                Ok(tf) => Some(TrimFillOut {
                    k0: tf.k0,
                    side: tf.side.label(),
                    estimator: tf.estimator.label(),
                    se_k0: tf.se_k0,
                    estimate: tf.fit.beta[0],
                    se: tf.fit.se[0],
                    ci_lb: tf.fit.ci_lb[0],
                    ci_ub: tf.fit.ci_ub[0],
                    tau2: tf.fit.tau2,
                    filled: tf
                        .filled_yi
                        .iter()
                        .zip(&tf.filled_vi)
                        .map(|(a, b)| [*a, *b])
                        .collect(),
                }),
                Err(e) => {
                    notes.push(format!("no trim-and-fill: {e}"));
                    None
                }
            }
        } else {
            notes.push("trim-and-fill needs a model without moderators (as metafor)".into());
            None
        };
        (
            Some(EggerOut {
                stat: e.stat,
                df: e.df,
                pval: e.pval,
                limit_estimate: e.limit_estimate,
                limit_ci: e.limit_ci,
            }),
            tf,
        )
    } else {
        (None, None)
    };
    let leave1out = if args.influence {
        if !terms.is_empty() {
            notes.push("--influence: leave-one-out of the model without moderators".into());
        }
        let l = meta::influence::leave1out(&yi, &vi, method, test, level)
            .map_err(|e| Error::analysis(format!("leave-one-out: {e}")))?;
        Some(
            l.into_iter()
                .map(|o| LeaveOut {
                    omitted: slabs[o.omitted].clone(),
                    estimate: o.estimate,
                    se: o.se,
                    pval: o.pval,
                    ci_lb: o.ci_lb,
                    ci_ub: o.ci_ub,
                    tau2: o.tau2,
                    i2: o.i2,
                    q: o.q,
                })
                .collect(),
        )
    } else {
        None
    };
    let multilevel = match &args.cluster {
        None => None,
        Some(col) => {
            let Var::Factor { codes, levels } = factor(t, col, &rows) else {
                unreachable!("factor() returns a factor")
            };
            let m = meta::multilevel::three_level(&yi, &vi, &codes, &x_main, p_main, test, level)
                .map_err(|e| {
                Error::analysis(format!("three-level model (--cluster {col}): {e}"))
            })?;
            let r = meta::multilevel::cr2(&m, &yi, &vi, &codes, &x_main, level)
                .map_err(|e| Error::analysis(format!("CR2 robust tests: {e}")))?;
            Some(Multilevel {
                cluster: col.clone(),
                k,
                clusters: levels.len(),
                sigma2: m.sigma2,
                coefficients: coefficients_of(
                    &names_main,
                    &m.beta,
                    &m.se,
                    &m.stat,
                    &m.pval,
                    &m.ci_lb,
                    &m.ci_ub,
                ),
                qe: m.qe,
                qe_df: m.qe_df,
                qe_pval: m.qe_pval,
                loglik: m.loglik,
                robust: (0..p_main)
                    .map(|j| RobustCoef {
                        term: names_main[j].clone(),
                        estimate: m.beta[j],
                        se: r.se[j],
                        stat: r.stat[j],
                        df: r.df[j],
                        pval: r.pval[j],
                        ci_lb: r.ci_lb[j],
                        ci_ub: r.ci_ub[j],
                    })
                    .collect(),
            })
        }
    };
    if !main.converged {
        notes.push("the tau^2 iterations did not converge: treat the estimates with care".into());
    }
    Ok(MetaReport {
        command: "meta",
        version: crate::VERSION,
        input: p.input_info(k),
        fit,
        coefficients,
        qm,
        qm_df,
        qm_pval,
        r2,
        subgroups,
        subgroup_test,
        egger,
        trimfill,
        leave1out,
        multilevel,
        studies,
        level: args.level,
        excluded,
        notes,
    })
}

/// p-values as metafor prints them.
fn pfmt(p: f64) -> String {
    if p < 1e-4 {
        "<.0001".into()
    } else {
        format!("{p:.4}")
    }
}

/// "< .0001" or "= 0.1234", as metafor prints a p-value after "p-val".
fn pval_eq(p: f64) -> String {
    if p < 1e-4 {
        "< .0001".into()
    } else {
        format!("= {p:.4}")
    }
}

fn render_fit(o: &mut String, f: &Fit, title: &str) {
    o.push_str(&format!(
        "{title} (k = {}; tau^2 estimator: {})\n\n",
        f.k, f.method
    ));
    if f.method != "EE" {
        o.push_str(&format!(
            "tau^2 (estimated amount of {} heterogeneity): {:.4}{}\n",
            if title.starts_with("Mixed") {
                "residual"
            } else {
                "total"
            },
            f.tau2,
            f.tau2_se
                .map_or(String::new(), |s| format!(" (SE = {s:.4})"))
        ));
        o.push_str(&format!(
            "tau (square root of estimated tau^2 value):      {:.4}\n",
            f.tau2.sqrt()
        ));
        o.push_str(&format!(
            "I^2 (heterogeneity / total variability):         {:.2}%\n",
            f.i2
        ));
        o.push_str(&format!(
            "H^2 (total variability / sampling variability):  {:.2}\n",
            f.h2
        ));
        if let (Some(t), Some(i), Some(h)) = (f.tau2_ci, f.i2_ci, f.h2_ci) {
            o.push_str(&format!(
                "Q-profile CI: tau^2 [{:.4}, {:.4}], I^2 [{:.2}%, {:.2}%], H^2 [{:.2}, {:.2}]\n",
                t[0], t[1], i[0], i[1], h[0], h[1]
            ));
        }
        o.push('\n');
    }
    o.push_str(&format!(
        "Test for {}Heterogeneity:\nQ{}(df = {}) = {:.4}, p-val {}\n\n",
        if title.starts_with("Mixed") {
            "Residual "
        } else {
            ""
        },
        if title.starts_with("Mixed") { "E" } else { "" },
        f.q_df,
        f.q,
        pval_eq(f.q_pval)
    ));
}

pub fn render_table(r: &MetaReport) -> String {
    let mut o = String::new();
    let stat = if r.fit.test == "knha" { "tval" } else { "zval" };
    let random = r.fit.method != "EE";
    match &r.coefficients {
        None => {
            let title = if random {
                "Random-Effects Model"
            } else {
                "Equal-Effects Model"
            };
            render_fit(&mut o, &r.fit, title);
            o.push_str("Model Results:\n\n");
            o.push_str(&format!(
                "{:>9} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
                "estimate", "se", stat, "pval", "ci.lb", "ci.ub"
            ));
            o.push_str(&format!(
                "{:>9.4} {:>8.4} {:>8.4} {:>8} {:>8.4} {:>8.4}\n",
                r.fit.estimate,
                r.fit.se,
                r.fit.stat,
                pfmt(r.fit.pval),
                r.fit.ci_lb,
                r.fit.ci_ub
            ));
            if let (Some(a), Some(b)) = (r.fit.pi_lb, r.fit.pi_ub) {
                o.push_str(&format!("\nPrediction interval: [{a:.4}, {b:.4}]\n"));
            }
        }
        Some(coefs) => {
            render_fit(&mut o, &r.fit, "Mixed-Effects Model");
            if let Some(r2) = r.r2 {
                o.push_str(&format!(
                    "R^2 (amount of heterogeneity accounted for): {r2:.2}%\n\n"
                ));
            }
            if let (Some(qm), Some(df), Some(pv)) = (r.qm, &r.qm_df, r.qm_pval) {
                let dfs = df
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                o.push_str(&format!(
                    "Test of Moderators:\n{}(df = {dfs}) = {qm:.4}, p-val {}\n\n",
                    if df.len() == 2 { "F" } else { "QM" },
                    pval_eq(pv)
                ));
            }
            let w = coefs.iter().map(|c| c.term.len()).max().unwrap_or(7).max(7);
            o.push_str(&format!(
                "{:<w$} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
                "", "estimate", "se", stat, "pval", "ci.lb", "ci.ub"
            ));
            for c in coefs {
                o.push_str(&format!(
                    "{:<w$} {:>9.4} {:>8.4} {:>8.4} {:>8} {:>8.4} {:>8.4}\n",
                    c.term,
                    c.estimate,
                    c.se,
                    c.stat,
                    pfmt(c.pval),
                    c.ci_lb,
                    c.ci_ub
                ));
            }
        }
    }
    if let Some(groups) = &r.subgroups {
        o.push_str("\nSubgroups:\n");
        o.push_str(&format!(
            "{:<24} {:>4} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7}\n",
            "group", "k", "estimate", "se", "ci.lb", "ci.ub", "tau^2", "I^2"
        ));
        for g in groups {
            match &g.fit {
                Some(f) => o.push_str(&format!(
                    "{:<24} {:>4} {:>9.4} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>6.1}%\n",
                    g.group, f.k, f.estimate, f.se, f.ci_lb, f.ci_ub, f.tau2, f.i2
                )),
                None => o.push_str(&format!(
                    "{:<24} {}\n",
                    g.group,
                    g.note.as_deref().unwrap_or("")
                )),
            }
        }
        if let Some(tst) = &r.subgroup_test {
            o.push_str(&format!(
                "Test of subgroup differences (moderator test, one tau^2): {}(df = {}{}) = {:.4}, p-val {}\n",
                if tst.df2.is_some() { "F" } else { "QM" },
                tst.df,
                tst.df2.map_or(String::new(), |d| format!(", {d}")),
                tst.qm,
                pval_eq(tst.pval)
            ));
        }
    }
    if let Some(m) = &r.multilevel {
        o.push_str(&format!(
            "\nThree-level model (effects nested in '{}': k = {}, {} clusters; REML)\n\
             sigma^2 between clusters {:.4}, within clusters {:.4}; QE(df = {}) = {:.4}, p-val {}\n",
            m.cluster, m.k, m.clusters, m.sigma2[0], m.sigma2[1], m.qe_df, m.qe, pval_eq(m.qe_pval)
        ));
        let w = m
            .coefficients
            .iter()
            .map(|c| c.term.len())
            .max()
            .unwrap_or(7)
            .max(7);
        o.push_str(&format!(
            "{:<w$} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}   CR2: {:>8} {:>7} {:>8}\n",
            "", "estimate", "se", stat, "pval", "ci.lb", "ci.ub", "se", "df", "pval"
        ));
        for (c, rb) in m.coefficients.iter().zip(&m.robust) {
            o.push_str(&format!(
                "{:<w$} {:>9.4} {:>8.4} {:>8.4} {:>8} {:>8.4} {:>8.4}        {:>8.4} {:>7.2} {:>8}\n",
                c.term, c.estimate, c.se, c.stat, pfmt(c.pval), c.ci_lb, c.ci_ub, rb.se, rb.df, pfmt(rb.pval)
            ));
        }
    }
    if let Some(e) = &r.egger {
        o.push_str(&format!(
            "\nEgger's regression test (predictor: sei): {} = {:.4}{}, p-val {}; limit estimate \
             (sei -> 0) {:.4} [{:.4}, {:.4}]\n",
            if e.df.is_some() { "t" } else { "z" },
            e.stat,
            e.df.map_or(String::new(), |d| format!(" (df = {d})")),
            pval_eq(e.pval),
            e.limit_estimate,
            e.limit_ci[0],
            e.limit_ci[1]
        ));
    }
    if let Some(tf) = &r.trimfill {
        o.push_str(&format!(
            "Trim-and-fill ({}): {} studies imputed on the {} side; adjusted estimate {:.4} \
             (SE {:.4}) [{:.4}, {:.4}], tau^2 {:.4}\n",
            tf.estimator, tf.k0, tf.side, tf.estimate, tf.se, tf.ci_lb, tf.ci_ub, tf.tau2
        ));
    }
    if let Some(l) = &r.leave1out {
        o.push_str("\nLeave-one-out:\n");
        let w = l.iter().map(|x| x.omitted.len()).max().unwrap_or(7).max(7);
        o.push_str(&format!(
            "{:<w$} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}\n",
            "omitted", "estimate", "se", "pval", "ci.lb", "ci.ub", "tau^2", "I^2"
        ));
        for x in l {
            o.push_str(&format!(
                "{:<w$} {:>9.4} {:>8.4} {:>8} {:>8.4} {:>8.4} {:>8.4} {:>6.2}%\n",
                x.omitted,
                x.estimate,
                x.se,
                pfmt(x.pval),
                x.ci_lb,
                x.ci_ub,
                x.tau2,
                x.i2
            ));
        }
    }
    o.push_str(&format!(
        "\ndata: {} ({} effect sizes used of {} rows)\n",
        r.input.path, r.input.rows_used, r.input.rows_read
    ));
    for e in &r.excluded {
        o.push_str(&format!("  excluded: {} rows, {}\n", e.rows, e.reason));
    }
    for n in &r.notes {
        o.push_str(&format!("note: {n}\n"));
    }
    o
}

fn render_csv(r: &MetaReport) -> String {
    let mut o = String::from("slab,line,yi,vi,sei,ci_lb,ci_ub,weight\n");
    for s in &r.studies {
        let slab = if s.slab.contains([',', '"', '\n']) {
            format!("\"{}\"", s.slab.replace('"', "\"\""))
        } else {
            s.slab.clone()
        };
        o.push_str(&format!(
            "{slab},{},{},{},{},{},{},{}\n",
            s.line, s.yi, s.vi, s.sei, s.ci_lb, s.ci_ub, s.weight
        ));
    }
    o
}

/// The forest plot of the report: studies (under subgroup headings when
/// --subgroup is given), the pooled diamond and the prediction interval.
pub(crate) fn forest_of(r: &MetaReport, x_label: &str) -> crate::plot::forest::ForestPlot {
    use crate::plot::forest::{Diamond, ForestLine, ForestPlot, ForestRow};
    let row = |s: &Study| {
        ForestLine::Study(ForestRow {
            label: s.slab.clone(),
            estimate: s.yi,
            ci_lb: s.ci_lb,
            ci_ub: s.ci_ub,
            weight: s.weight,
        })
    };
    let mut lines = Vec::new();
    match &r.subgroups {
        Some(groups) => {
            for g in groups {
                lines.push(ForestLine::Heading(g.group.clone()));
                lines.extend(
                    r.studies
                        .iter()
                        .filter(|s| s.subgroup.as_deref() == Some(g.group.as_str()))
                        .map(row),
                );
            }
        }
        None => lines.extend(r.studies.iter().map(row)),
    }
    let label = if r.coefficients.is_some() {
        "Intercept (mixed-effects model)"
    } else if r.fit.method == "EE" {
        "Equal-effects model"
    } else {
        "Random-effects model"
    };
    let mut f = ForestPlot::new(
        lines,
        Diamond {
            label: format!("{label} ({})", r.fit.method),
            estimate: r.fit.estimate,
            ci_lb: r.fit.ci_lb,
            ci_ub: r.fit.ci_ub,
        },
        x_label,
    );
    f.prediction = r.fit.pi_lb.zip(r.fit.pi_ub);
    f
}

pub(crate) fn funnel_of(r: &MetaReport, x_label: &str) -> crate::plot::funnel::FunnelPlot {
    use crate::plot::funnel::{FunnelPlot, FunnelPoint};
    let pts = r
        .studies
        .iter()
        .map(|s| FunnelPoint {
            estimate: s.yi,
            se: s.sei,
        })
        .collect();
    let mut f = FunnelPlot::new(pts, r.fit.estimate, x_label);
    if let Some(tf) = &r.trimfill {
        f.imputed = tf
            .filled
            .iter()
            .map(|[y, v]| FunnelPoint {
                estimate: *y,
                se: v.sqrt(),
            })
            .collect();
    }
    f
}

pub fn run(args: &MetaArgs) -> Result<()> {
    let report = build(args)?;
    if let Some(path) = &args.forest {
        crate::plot::save(&forest_of(&report, &args.xlab), path, args.width, args.dpi)?;
    }
    if let Some(path) = &args.funnel {
        crate::plot::save(&funnel_of(&report, &args.xlab), path, args.width, args.dpi)?;
    }
    let text = match args.format {
        OutFormat::Json => to_json(&report)?,
        OutFormat::Table => render_table(&report),
        OutFormat::Csv => render_csv(&report),
    };
    emit(&text, args.output.as_deref())
}
