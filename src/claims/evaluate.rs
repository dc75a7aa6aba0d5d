//! Recomputes a claim and decides its verdict (contract §replicate).
//!
//! Data analyses run through the `meta` and `variance` commands' own
//! argument parsing, so every recomputed number comes with the command line
//! that reproduces it.

use super::convert::{self, Bound, Metric, Printed};
use super::{Claim, Compute, MetaEstimate, Quantity, Rule};
use crate::cli::meta::MetaReport;
use crate::cli::variance::VarianceReport;
use crate::cli::{command_line, parse_argv, Command};
use crate::data::input::InputInfo;
use crate::error::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where data come from, and the analysis settings.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `--data-dir`: where datasets named by a relative path are found.
    pub data_dir: Option<PathBuf>,
    /// The folder of a user's claims file (relative paths, without --data-dir).
    pub base_dir: Option<PathBuf>,
    /// The client-level data for `dataset = "clients"`: DATA and role flags
    /// as a command line.
    pub clients: Option<Vec<String>>,
    /// Confidence level in percent.
    pub level: f64,
    /// Overrides the claims' bootstrap replications and seed.
    pub bootstrap: Option<usize>,
    pub seed: Option<u64>,
    /// The `variance` run of the client-level data when it has been done
    /// already (by `outcomes report`), with its command line.
    pub clients_variance: Option<(Vec<String>, Arc<VarianceReport>)>,
    /// The client-level data are the bundled simulated demo data.
    pub clients_are_demo: bool,
}

/// The verdict of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "replicated")]
    Replicated,
    #[serde(rename = "not replicated")]
    NotReplicated,
    #[serde(rename = "not computable")]
    NotComputable,
}

impl Verdict {
    fn of(replicated: bool) -> Verdict {
        if replicated {
            Verdict::Replicated
        } else {
            Verdict::NotReplicated
        }
    }
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Replicated => "replicated",
            Verdict::NotReplicated => "not replicated",
            Verdict::NotComputable => "not computable",
        }
    }
}

/// The data file a claim was recomputed from.
#[derive(Debug, Clone, Serialize)]
pub struct DataUsed {
    pub path: String,
    pub sha256: String,
    pub rows_used: usize,
}

/// One claim's result (the contract's keys first).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub id: String,
    pub source: String,
    /// The published value as printed.
    pub claim: String,
    pub recomputed: Option<f64>,
    pub ci_lb: Option<f64>,
    pub ci_ub: Option<f64>,
    pub verdict: Verdict,
    pub reason: String,
    pub statement: String,
    pub quantity: &'static str,
    pub rule: &'static str,
    /// How the number was recomputed: the conversion, or the equivalent
    /// `outcomes` command line.
    pub computation: String,
    /// Recomputed on the bundled simulated demo data: an illustration of the
    /// computation, not evidence about the claim.
    pub illustration: bool,
    /// The published figure has been checked against the primary source.
    pub verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<DataUsed>,
    #[serde(skip)]
    pub label: String,
    #[serde(skip)]
    pub quantity_label: &'static str,
    #[serde(skip)]
    pub published: Printed,
    #[serde(skip)]
    pub published_ci: Option<(f64, f64)>,
    /// The p value of the test a test rule decided on.
    #[serde(skip)]
    pub test_p: Option<f64>,
}

impl Outcome {
    /// Records the recomputed interval [lo, hi] and decides the verdict:
    /// replicated when the published value, within its rounding, meets it.
    fn judge(&mut self, lo: f64, hi: f64) -> bool {
        self.ci_lb = Some(lo);
        self.ci_ub = Some(hi);
        let ok = meets(&self.published, lo, hi);
        self.verdict = Verdict::of(ok);
        ok
    }
}

impl From<&InputInfo> for DataUsed {
    fn from(i: &InputInfo) -> DataUsed {
        DataUsed {
            path: i.path.clone(),
            sha256: i.sha256.clone(),
            rows_used: i.rows_used,
        }
    }
}

/// Digits to show a recomputed value with: one more than the claim prints.
fn digits(p: &Printed) -> usize {
    (p.decimals as usize + 1).max(1)
}

fn show(x: f64, d: usize) -> String {
    if x == 0.0 || x.abs() >= 10f64.powi(-(d as i32)) {
        format!("{x:.d$}")
    } else {
        // keep small numbers visible: two significant digits
        format!("{x:.1e}")
    }
}

/// Recomputes a claim. Analyses that cannot run on the data (bad or absent
/// data, exit codes 2 and 3) give the verdict "not computable" with the
/// message; anything else is an error.
pub fn evaluate(claim: &Claim, ctx: &Context) -> Result<Outcome> {
    let spec = &claim.spec;
    let mut out = Outcome {
        id: spec.id.clone(),
        source: spec.source.clone(),
        claim: claim.published.to_string(),
        recomputed: None,
        ci_lb: None,
        ci_ub: None,
        verdict: Verdict::NotComputable,
        reason: String::new(),
        statement: spec.statement.clone(),
        quantity: spec.quantity.key(),
        rule: claim.rule.key(),
        computation: String::new(),
        illustration: false,
        verified: spec.verified,
        data: None,
        label: claim.label().to_string(),
        quantity_label: spec.quantity.label(),
        published: claim.published,
        published_ci: claim.published_ci,
        test_p: None,
    };
    let result = match &spec.compute {
        Compute::NotComputable { reason } => {
            out.computation = "none".into();
            out.reason = reason.clone();
            return Ok(finish(out, spec.note.as_deref()));
        }
        Compute::Conversion { from, .. } => conversion(claim, *from, &mut out),
        Compute::Meta { .. } => meta(claim, ctx, &mut out),
        Compute::Variance { .. } => variance(claim, ctx, &mut out),
    };
    match result {
        Ok(()) => {}
        Err(e) if matches!(e.exit_code(), 2 | 3) => {
            out.verdict = Verdict::NotComputable;
            out.recomputed = None;
            out.ci_lb = None;
            out.ci_ub = None;
            out.reason = format!("could not be recomputed: {}", one_line(&e.to_string()));
        }
        Err(e) => return Err(e),
    }
    Ok(finish(out, spec.note.as_deref()))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Adds the claim's note and the caveats that apply to every verdict.
fn finish(mut out: Outcome, note: Option<&str>) -> Outcome {
    if let Some(n) = note {
        out.reason.push(' ');
        out.reason.push_str(n.trim());
    }
    if !out.verified {
        out.reason.push_str(
            " (The published figure is taken from a secondary summary and has not been checked against the primary paper.)",
        );
    }
    out
}

/// Does the published value, within its rounding, meet the interval [lo, hi]?
fn meets(p: &Printed, lo: f64, hi: f64) -> bool {
    let (a, b) = p.rounding_interval();
    match p.bound {
        Bound::Exact => a <= hi && lo <= b,
        // "< x": some value the data allow is below x
        Bound::Upper => lo < b,
        Bound::Lower => hi > a,
    }
}

fn conversion(claim: &Claim, from: Metric, out: &mut Outcome) -> Result<()> {
    let (input, input_ci) = claim.input.expect("checked by parse");
    let to = match claim.spec.quantity {
        Quantity::D | Quantity::G => Metric::D,
        Quantity::R => Metric::R,
        Quantity::Pct => Metric::Pct,
        Quantity::R2 => unreachable!("checked by parse"),
    };
    let bad = || {
        Error::input(format!(
            "claim '{}': the conversion is undefined",
            claim.spec.id
        ))
    };
    let value = convert::convert(from, to, input.value).ok_or_else(bad)?;
    let d = digits(&claim.published);
    out.recomputed = Some(value);
    let formula = convert::formula(from, to);
    let stat = format!(
        "{from} {} {}",
        if input.bound == Bound::Exact { "=" } else { "" },
        input
    )
    .replace("  ", " ");
    match claim.rule {
        Rule::Rounding => {
            // a bound "< x" stands for [0, x + h): effect sizes here are
            // magnitudes, so the range starts at no effect
            let (lo, hi) = match input.bound {
                Bound::Exact => input.rounding_interval(),
                Bound::Upper => (0f64.min(input.value), input.rounding_interval().1),
                Bound::Lower => input.rounding_interval(),
            };
            let (a, b) = convert::convert_interval(from, to, lo, hi).ok_or_else(bad)?;
            out.computation = format!(
                "{formula} with {stat}; the printed {from} stands for [{}, {}]",
                show(lo, input.decimals as usize + 1),
                show(hi, input.decimals as usize + 1)
            );
            let ok = out.judge(a, b);
            let (pa, pb) = claim.published.rounding_interval();
            out.reason = format!(
                "{stat} gives {}{}; within the rounding of {from} it can be anything in [{}, {}], which {} the published {} (printed values {}).",
                if input.bound == Bound::Upper { "< " } else if input.bound == Bound::Lower { "> " } else { "" },
                show(value, d),
                show(a, d),
                show(b, d),
                if ok { "meets" } else { "misses" },
                claim.published,
                match claim.published.bound {
                    // a proportion printed as 0.0 stands for [0, 0.05]
                    Bound::Exact if to == Metric::Pct => format!("[{}, {}]", show(pa.max(0.0), d), show(pb, d)),
                    Bound::Exact => format!("[{}, {}]", show(pa, d), show(pb, d)),
                    Bound::Upper => format!("below {}", show(pb, d)),
                    Bound::Lower => format!("above {}", show(pa, d)),
                }
            );
        }
        Rule::InsideCi => {
            let (lo, hi) = input_ci.expect("checked by parse");
            let (a, b) = convert::convert_interval(from, to, lo, hi).ok_or_else(bad)?;
            out.computation =
                format!("{formula} with {stat} [{lo}, {hi}] (its published interval)");
            let ok = out.judge(a, b);
            out.reason = format!(
                "{stat} [{lo}, {hi}] gives {} [{}, {}]; the published {} lies {} that interval.",
                show(value, d),
                show(a, d),
                show(b, d),
                claim.published,
                if ok { "inside" } else { "outside" }
            );
        }
        _ => unreachable!("checked by parse"),
    }
    Ok(())
}

/// A dataset path: absolute, under --data-dir, or beside a user's claims file.
fn dataset_path(dataset: &str, ctx: &Context) -> Result<PathBuf> {
    let p = Path::new(dataset);
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else if let Some(dir) = &ctx.data_dir {
        dir.join(p)
    } else if let Some(dir) = &ctx.base_dir {
        dir.join(p)
    } else {
        return Err(Error::input(format!(
            "needs the dataset '{dataset}', which is not bundled: pass --data-dir DIR with the folder that holds it (e.g. --data-dir ../shared/datasets)"
        )));
    };
    if !full.is_file() {
        return Err(Error::input(format!(
            "the dataset '{}' was not found (looked for {}); pass --data-dir DIR with the folder that holds '{dataset}'",
            dataset,
            full.display()
        )));
    }
    Ok(full)
}

fn run_meta(argv: &[String]) -> Result<MetaReport> {
    match parse_argv(argv)? {
        Command::Meta(a) => crate::cli::meta::build(&a),
        _ => unreachable!("argv starts with meta"),
    }
}

fn meta(claim: &Claim, ctx: &Context, out: &mut Outcome) -> Result<()> {
    let Compute::Meta {
        dataset,
        yi,
        vi,
        sei,
        filter,
        mods,
        subgroup,
        cluster,
        method,
        test,
        estimate,
    } = &claim.spec.compute
    else {
        unreachable!()
    };
    let path = dataset_path(dataset, ctx);
    let shown_path = match (&path, &ctx.data_dir) {
        (Ok(p), _) => p.display().to_string(),
        (Err(_), Some(d)) => d.join(dataset).display().to_string(),
        (Err(_), None) => format!("DATA_DIR/{dataset}"),
    };
    let mut argv: Vec<String> = vec!["meta".into(), shown_path, "--yi".into(), yi.clone()];
    let mut flag = |name: &str, v: &Option<String>| {
        if let Some(v) = v {
            argv.push(format!("--{name}"));
            argv.push(v.clone());
        }
    };
    flag("vi", vi);
    flag("sei", sei);
    flag("where", filter);
    flag("mods", mods);
    flag("subgroup", subgroup);
    flag("cluster", cluster);
    flag("method", method);
    flag("test", test);
    if ctx.level != 95.0 {
        argv.push("--level".into());
        argv.push(format!("{}", ctx.level));
    }
    out.computation = command_line(&argv);
    path?;
    let r = run_meta(&argv)?;
    out.data = Some(DataUsed::from(&r.input));
    let d = digits(&claim.published);
    let level = ctx.level;
    match estimate {
        MetaEstimate::Pooled => {
            let (est, lo, hi, how) = match &r.multilevel {
                Some(m) => {
                    let c = m
                        .robust
                        .first()
                        .ok_or_else(|| Error::analysis("the three-level model has no intercept"))?;
                    (
                        c.estimate,
                        c.ci_lb,
                        c.ci_ub,
                        format!(
                            "three-level random-effects model (k = {} effect sizes in {} clusters of '{}'), CR2 cluster-robust {level:.0}% CI",
                            m.k, m.clusters, m.cluster
                        ),
                    )
                }
                None => (
                    r.fit.estimate,
                    r.fit.ci_lb,
                    r.fit.ci_ub,
                    format!(
                        "random-effects model (k = {}, {}), {level:.0}% CI",
                        r.fit.k, r.fit.method
                    ),
                ),
            };
            out.recomputed = Some(est);
            let ok = out.judge(lo, hi);
            out.reason = format!(
                "{} [{}, {}] from a {how}; the published {} lies {} the interval.",
                show(est, d.max(3)),
                show(lo, d.max(3)),
                show(hi, d.max(3)),
                claim.published,
                if ok { "inside" } else { "outside" }
            );
        }
        MetaEstimate::R2 => {
            let (r2, p) = match (r.r2, r.qm_pval, r.qm, &r.qm_df) {
                (Some(r2), Some(p), Some(_), Some(_)) => (r2, p),
                _ => return Err(Error::analysis("the model has no test of moderators")),
            };
            let qm = r.qm.unwrap_or(f64::NAN);
            let df = r.qm_df.clone().unwrap_or_default();
            let test_text = if df.len() == 2 {
                format!("F({}, {}) = {:.2}", df[0], df[1], qm)
            } else {
                format!("QM({}) = {:.2}", df.first().copied().unwrap_or(0), qm)
            };
            out.recomputed = Some(r2);
            out.test_p = Some(p);
            let alpha = 1.0 - level / 100.0;
            let significant = p < alpha;
            let ok = match claim.rule {
                Rule::NotSignificant => !significant,
                Rule::Significant => significant,
                _ => unreachable!("checked by parse"),
            };
            out.verdict = Verdict::of(ok);
            out.reason = format!(
                "the moderators account for R² = {r2:.1}% of τ² (k = {}); test of moderators {test_text}, p {}: {}.",
                r.fit.k,
                crate::output::p_apa(p),
                if significant {
                    format!("the moderators do explain heterogeneity at α = {alpha:.2}")
                } else {
                    format!("no evidence at α = {alpha:.2} that they explain any")
                }
            );
        }
        MetaEstimate::ModeratorShare => {
            let groups = r
                .subgroups
                .as_ref()
                .ok_or_else(|| Error::analysis("no subgroups were fitted"))?;
            let fitted: Vec<_> = groups
                .iter()
                .filter_map(|g| g.fit.as_ref().map(|f| (g, f)))
                .collect();
            let rows: Vec<(f64, f64, f64)> = fitted
                .iter()
                .map(|(_, f)| (f.k as f64, f.estimate, f.se))
                .collect();
            let left_out = groups.len() - fitted.len();
            let s2 = crate::stats::meta::between_group_variance(&rows)
                .ok_or_else(|| Error::analysis("fewer than two subgroups could be fitted"))?;
            let pct = crate::stats::meta::share_of_outcome_variance(s2);
            let seed = ctx.seed.unwrap_or(1);
            let reps = ctx.bootstrap.unwrap_or(10_000).max(100);
            let mut rng = crate::simulate::Rand::new(seed, crate::simulate::Stream::Replicate);
            let draws = crate::stats::meta::between_group_share_draws(&rows, reps, || rng.normal());
            let (lo, hi) = crate::stats::variance::percentile_interval(&draws, level / 100.0)
                .ok_or_else(|| Error::analysis("the bootstrap failed"))?;
            out.recomputed = Some(pct);
            out.computation.push_str(&format!(
                "; then σ²_B = Σw(ĝ − ḡ)² − Σw(1 − w)se² over the subgroups (w = share of comparisons) and % = 100·σ²_B/(σ²_B + 1); interval: parametric bootstrap, {reps} draws, seed {seed}"
            ));
            let ok = out.judge(lo, hi);
            out.reason = format!(
                "differences between the {} subgroups' pooled effects (σ²_B = {:.4} in g units{}) would account for {} [{}, {}] of outcome variance; the published {} lies {} the interval.",
                fitted.len(),
                s2,
                if left_out > 0 { format!("; {left_out} subgroup(s) with k < 2 left out") } else { String::new() },
                show(pct, d.max(1)) + "%",
                show(lo, d.max(1)),
                show(hi, d.max(1)),
                claim.published,
                if ok { "inside" } else { "outside" }
            );
        }
    }
    Ok(())
}

fn variance(claim: &Claim, ctx: &Context, out: &mut Outcome) -> Result<()> {
    let Compute::Variance {
        dataset,
        estimate,
        bootstrap,
        seed,
        args,
    } = &claim.spec.compute
    else {
        unreachable!()
    };
    if let (Some((argv, r)), "clients") = (&ctx.clients_variance, dataset.as_str()) {
        out.computation = command_line(argv);
        out.illustration = ctx.clients_are_demo;
        return variance_estimate(claim, r, estimate, out);
    }
    let mut argv: Vec<String> = vec!["variance".into()];
    match dataset.as_str() {
        "demo" => out.illustration = true,
        "clients" if ctx.clients_are_demo => out.illustration = true,
        "clients" => match &ctx.clients {
            Some(c) => argv.extend(c.iter().cloned()),
            None => {
                out.computation = "outcomes variance CLIENTS.csv --bootstrap 1000 --seed 1".into();
                return Err(Error::input(
                    "needs client-level data (clients nested in therapists): pass --clients FILE (with --spec FILE for its column roles if they are not detected)",
                ));
            }
        },
        other => argv.push(dataset_path(other, ctx)?.display().to_string()),
    }
    let reps = ctx.bootstrap.or(*bootstrap).unwrap_or(1000);
    let seed = ctx.seed.or(*seed).unwrap_or(1);
    argv.extend([
        "--bootstrap".to_string(),
        reps.to_string(),
        "--seed".to_string(),
        seed.to_string(),
    ]);
    if ctx.level != 95.0 {
        argv.push("--level".into());
        argv.push(format!("{}", ctx.level));
    }
    if let Some(a) = args {
        argv.extend(a.iter().cloned());
    }
    out.computation = command_line(&argv);
    let r: VarianceReport = match parse_argv(&argv)? {
        Command::Variance(a) => crate::cli::variance::build(&a)?,
        _ => unreachable!("argv starts with variance"),
    };
    variance_estimate(claim, &r, estimate, out)
}

/// A claim's number from a variance decomposition.
fn variance_estimate(
    claim: &Claim,
    r: &VarianceReport,
    estimate: &str,
    out: &mut Outcome,
) -> Result<()> {
    out.data = Some(DataUsed::from(&r.input));
    let reps = r.bootstrap.reps;
    let (value, ci, what) = if let Some(group) = estimate.strip_prefix("icc-") {
        let v = r.icc["null"][group].as_f64().ok_or_else(|| {
            Error::analysis(format!(
                "the data have no '{group}' grouping: the ICC cannot be computed"
            ))
        })?;
        let ci = r.icc["null_ci"][group]
            .as_array()
            .and_then(|a| Some((a.first()?.as_f64()?, a.get(1)?.as_f64()?)));
        (
            v,
            ci,
            format!("the {group} ICC of the null model y ~ 1 + random intercepts"),
        )
    } else {
        let factor = estimate.trim_start_matches("share:");
        let (_, s) = r.shares.iter().find(|(n, _)| n == factor).ok_or_else(|| {
            Error::analysis(format!("the decomposition has no factor '{factor}'"))
        })?;
        let ci = s.ci_lb.zip(s.ci_ub);
        (s.shapley, ci, format!("the Shapley share of '{factor}'"))
    };
    let d = digits(&claim.published);
    out.recomputed = Some(100.0 * value);
    let groups = r
        .roles
        .get("therapist")
        .and_then(|x| x.get("column"))
        .and_then(|c| c.as_str())
        .and_then(|c| r.groups.get(c))
        .and_then(|v| v.as_u64());
    match ci {
        Some((lo, hi)) => {
            let ok = out.judge(100.0 * lo, 100.0 * hi);
            out.reason = format!(
                "{}{what} is {}% [{}, {}] ({} clients{}; cluster bootstrap, {reps} replicates); the published {} lies {} the interval.",
                if out.illustration { "Illustration on the bundled simulated demo data, not evidence: " } else { "" },
                show(100.0 * value, d.max(1)),
                show(100.0 * lo, d.max(1)),
                show(100.0 * hi, d.max(1)),
                r.n,
                groups.map_or(String::new(), |g| format!(", {g} therapists")),
                claim.published,
                if ok { "inside" } else { "outside" }
            );
        }
        None => {
            return Err(Error::analysis(
                "no interval: run with --bootstrap of at least 100 replicates",
            ))
        }
    }
    Ok(())
}
