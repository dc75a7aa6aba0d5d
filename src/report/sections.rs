//! The report's sections, each computed by the command it names.

use super::{Figure, Report, Section, Table};
use crate::cli::change::{n_text, ChangeReport};
use crate::cli::common::InputArgs;
use crate::cli::report::ReportArgs;
use crate::cli::variance::VarianceReport;
use crate::cli::{command_line, parse_argv, Command};
use crate::error::{Error, Result};
use crate::plot::change_groups::{ChangeGroupsPlot, GroupChange};
use crate::plot::jacobson::JacobsonMode;
use crate::plot::rates_funnel::{RateUnit, RatesFunnelPlot};
use crate::plot::{render_png, render_svg, Chart, Width};
use serde_json::{json, Map, Value};

/// Smallest number of clients a therapist needs to appear in the
/// therapist figures (the small-number threshold of science.md §6 plus one).
const MIN_CASELOAD: usize = 8;

/// The flags of `InputArgs` as a command line (to run the other commands
/// with the same data and roles, and to print equivalent commands).
fn input_argv(i: &InputArgs) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    if let Some(d) = &i.data {
        v.push(d.display().to_string());
    }
    let mut flag = |name: &str, value: &Option<String>| {
        if let Some(x) = value {
            v.push(format!("--{name}"));
            v.push(x.clone());
        }
    };
    flag("client", &i.client);
    flag("therapist", &i.therapist);
    flag("site", &i.site);
    flag("technique", &i.technique);
    flag("alliance", &i.alliance);
    flag("pre", &i.pre);
    flag("post", &i.post);
    flag("time", &i.time);
    flag("score", &i.score);
    flag("covariates", &i.covariates.as_ref().map(|c| c.join(",")));
    flag("spec", &i.spec.as_ref().map(|p| p.display().to_string()));
    flag("where", &i.filter);
    flag("sheet", &i.sheet);
    flag(
        "quasi-identifiers",
        &i.quasi_identifiers.as_ref().map(|c| c.join(",")),
    );
    if i.allow_identifiers {
        v.push("--allow-identifiers".into());
    }
    v
}

/// The column a role is mapped to, from a command's `roles` JSON
/// (`{"therapist": {"column": "T", "source": "detected"}, ...}`).
fn role(roles: &Value, name: &str) -> Option<String> {
    roles.get(name)?.get("column")?.as_str().map(String::from)
}

fn figure(chart: &impl Chart, name: &str, caption: String, dpi: u32) -> Result<Figure> {
    Ok(Figure {
        name: name.to_string(),
        caption,
        svg: render_svg(chart, Width::Double, dpi)?,
        png: render_png(chart, Width::Double, dpi)?,
    })
}

/// "6.1%, 95% CI [4.2, 8.3]" (APA 7th ed., §6.43: brackets for intervals).
fn pct_ci(x: f64, ci: Option<(f64, f64)>, level: f64) -> String {
    match ci {
        Some((a, b)) => format!(
            "{:.1}%, {level:.0}% CI [{:.1}, {:.1}]",
            100.0 * x,
            100.0 * a,
            100.0 * b
        ),
        None => format!("{:.1}%", 100.0 * x),
    }
}

/// An analysis that cannot be done on these data (exit 3) becomes a note in
/// the report; anything else stops the report.
fn optional<T>(r: Result<T>, what: &str, notes: &mut Vec<String>) -> Result<Option<T>> {
    match r {
        Ok(x) => Ok(Some(x)),
        Err(e) if e.exit_code() == 3 => {
            notes.push(format!("{what} was not computed: {e}"));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Largest number of studies drawn in the report's forest plot (a forest of
/// hundreds of rows is no longer readable; `outcomes meta --forest` draws any).
const MAX_FOREST: usize = 60;

pub fn build(args: &ReportArgs) -> Result<Report> {
    if args.yi.is_some() {
        return build_meta(args);
    }
    let suppress = !args.no_suppression;
    let base = input_argv(&args.input);
    let mut skipped: Vec<String> = Vec::new();
    let mut sections = Vec::new();
    let mut results = Map::new();
    let measure = args
        .measure
        .clone()
        .or_else(|| args.input.data.is_none().then(|| "PHQ-9".to_string()));

    // ---------------------------------------------------------- change ---
    let mut change_argv: Vec<String> = vec!["change".into()];
    change_argv.extend(base.iter().cloned());
    if let Some(m) = &measure {
        change_argv.extend(["--measure".into(), m.clone()]);
    }
    if let Some(r) = args.reliability {
        change_argv.extend(["--reliability".into(), r.to_string()]);
    }
    change_argv.extend(["--level".into(), args.level.to_string()]);
    if suppress {
        change_argv.push("--suppress".into());
    }
    let total = match parse_argv(&change_argv)? {
        Command::Change(a) => optional(crate::cli::change::build(&a), "Change", &mut skipped)?,
        _ => None,
    };
    let technique = total.as_ref().and_then(|t| role(&t.roles, "technique"));
    let by_technique = match technique {
        Some(col) => {
            let mut argv = change_argv.clone();
            argv.extend(["--by".into(), col]);
            match parse_argv(&argv)? {
                Command::Change(a) => optional(
                    crate::cli::change::build(&a),
                    "Change by technique",
                    &mut skipped,
                )?
                .map(|r| (r, argv)),
                _ => None,
            }
        }
        None => None,
    };
    if let Some(sec) = sessions_section(args, total.as_ref(), suppress)? {
        sections.push(sec);
    }
    let input_info = total.as_ref().map(|t| t.input.clone());
    if let Some(t) = &total {
        sections.push(change_section(
            t,
            by_technique.as_ref(),
            &change_argv,
            args,
            suppress,
        )?);
        let mut v = crate::cli::change::suppressed_value(t)?;
        if !suppress {
            v = serde_json::to_value(t).map_err(|e| Error::other(e.to_string()))?;
        }
        results.insert("change".into(), v);
        if let Some((r, _)) = &by_technique {
            let v = if suppress {
                crate::cli::change::suppressed_value(r)?
            } else {
                serde_json::to_value(r).map_err(|e| Error::other(e.to_string()))?
            };
            results.insert("change_by_technique".into(), v);
        }
    }

    // -------------------------------------------------------- variance ---
    let mut var_argv: Vec<String> = vec!["variance".into()];
    var_argv.extend(base.iter().cloned());
    var_argv.extend([
        "--bootstrap".into(),
        args.bootstrap.to_string(),
        "--seed".into(),
        args.seed.to_string(),
        "--level".into(),
        args.level.to_string(),
    ]);
    let variance = match parse_argv(&var_argv)? {
        Command::Variance(a) => optional(
            crate::cli::variance::build(&a),
            "The variance decomposition",
            &mut skipped,
        )?,
        _ => None,
    };
    let variance_info = variance.as_ref().map(|v| v.input.clone());
    if let Some(v) = &variance {
        sections.push(variance_section(v, &var_argv, args)?);
        results.insert(
            "variance".into(),
            serde_json::to_value(v).map_err(|e| Error::other(e.to_string()))?,
        );
    }

    // ------------------------------------------------------ therapists ---
    if let Some(v) = &variance {
        let ther = role(&v.roles, "therapist");
        let site = role(&v.roles, "site");
        let pre = role(&v.roles, "pre");
        if let Some(ther) = ther {
            let mut rhs = Vec::new();
            rhs.push(pre.clone().unwrap_or_else(|| "1".into()));
            rhs.push(format!("(1 | {ther})"));
            if let Some(s) = &site {
                if v.groups.get("site").and_then(|x| x.as_u64()).unwrap_or(0) > 1 {
                    rhs.push(format!("(1 | {s})"));
                }
            }
            let formula = format!("{} ~ {}", v.outcome, rhs.join(" + "));
            let mut argv: Vec<String> = vec!["lmm".into()];
            argv.extend(base.iter().cloned());
            argv.extend(["--formula".into(), formula.clone(), "--ranef".into()]);
            let lmm = match parse_argv(&argv)? {
                Command::Lmm(a) => optional(
                    crate::cli::lmm::build(&a),
                    "The therapist model",
                    &mut skipped,
                )?,
                _ => None,
            };
            let mut by_ther = None;
            if total.is_some() {
                let mut cargv = change_argv.clone();
                cargv.retain(|a| a != "--suppress");
                cargv.extend(["--by".into(), ther.clone()]);
                if let Command::Change(a) = parse_argv(&cargv)? {
                    by_ther = optional(
                        crate::cli::change::build(&a),
                        "Recovery by therapist",
                        &mut skipped,
                    )?
                    .map(|r| (r, cargv));
                }
            }
            if let Some(l) = &lmm {
                let (sec, res) =
                    therapist_section(l, &ther, &argv, by_ther.as_ref(), args, suppress)?;
                sections.push(sec);
                results.insert("therapists".into(), res);
            }
        }
    }
    // ----------------------------------------------------- replication ---
    if !sections.is_empty() {
        let clients_variance = variance.map(|v| (var_argv.clone(), std::sync::Arc::new(v)));
        let (sec, res) = replication_section(args, &base, clients_variance)?;
        sections.push(sec);
        results.insert("replication".into(), res);
    }
    if sections.is_empty() {
        return Err(Error::analysis(format!(
            "report: none of the analyses could be run on these data. {}",
            skipped.join(" ")
        )));
    }

    let info = input_info
        .or(variance_info)
        .ok_or_else(|| Error::analysis("report: the input could not be analysed"))?;
    let dataset = if args.input.data.is_none() {
        "the bundled demo clinic data (synthetic)".to_string()
    } else {
        info.path.clone()
    };
    let mut summary = vec![format!(
        "Analysis of {dataset}: {} rows read, {} analysed. Generated by outcomes {} with seed {}.",
        n_text(info.rows_read, suppress),
        n_text(info.rows_used, suppress),
        crate::VERSION,
        args.seed
    )];
    if suppress {
        summary.push(
            "Small numbers are suppressed (NHS Digital rule): counts of 1 to 7 are shown as *, \
             other counts are rounded to the nearest 5, and percentages are computed from the \
             rounded counts. No client-level data and no therapist identifiers appear in this \
             report."
                .to_string(),
        );
    }
    summary.extend(skipped.iter().cloned());
    let mut out = json!({
        "command": "report",
        "version": crate::VERSION,
        "input": {"path": info.path, "sha256": info.sha256},
        "seed": args.seed,
        "suppressed": suppress,
    });
    out["sections"] = Value::Object(results);
    Ok(Report {
        title: "Outcome report".to_string(),
        dataset,
        summary,
        sections,
        methods: methods(args),
        caveats: caveats(),
        references: references(),
        results: out,
        input_path: info.path,
        input_sha256: info.sha256,
        seed: args.seed,
    })
}

fn change_section(
    t: &ChangeReport,
    by: Option<&(ChangeReport, Vec<String>)>,
    argv: &[String],
    args: &ReportArgs,
    suppress: bool,
) -> Result<Section> {
    let mut sec = Section {
        title: "Change from the first to the last score".into(),
        ..Default::default()
    };
    let measure = t
        .measure
        .as_ref()
        .map_or("the outcome".to_string(), |m| m.name.clone());
    let d = t.total.effect_sizes.d_av;
    sec.paragraphs.push(format!(
        "Clients with a first and a last {measure} score (n = {}) changed by d_av = {:.2}, {:.0}% CI [{:.2}, {:.2}] \
         (the mean change over the average of the two standard deviations; Cumming 2012).",
        n_text(t.total.n, suppress),
        d.estimate,
        args.level,
        d.ci_lb,
        d.ci_ub
    ));
    let r = &t.total.categories.rates;
    let mut s = format!(
        "By the reliable change index ({} method, change of more than {:.1} points)",
        t.total.rci.method.name(),
        t.total.rci.threshold
    );
    if let (Some(cut), Some(rec)) = (&t.total.cutoff, r.recovered) {
        s.push_str(&format!(
            " and the cut-off of {:.1}, {:.0}% of clients recovered, {:.0}% improved without recovering",
            cut.value,
            100.0 * rec,
            100.0 * r.improved
        ));
    } else {
        s.push_str(&format!(
            ", {:.0}% of clients improved reliably",
            100.0 * r.improved
        ));
    }
    s.push_str(&format!(
        ", {:.0}% did not change reliably and {:.0}% deteriorated",
        100.0 * r.unchanged,
        100.0 * (r.deteriorated + r.harmed.unwrap_or(0.0))
    ));
    s.push_str(" (Jacobson & Truax 1991).");
    sec.paragraphs.push(s);

    let source = by.map_or(t, |(r, _)| r);
    let (header, rows) = crate::cli::change::display_table(source);
    sec.tables.push(Table {
        name: "change".into(),
        caption: format!("Change in {measure}{}", if by.is_some() { " by technique" } else { "" }),
        header,
        rows,
        note: Some(format!(
            "recovered = reliable improvement and crossed the cut-off; improved = reliable improvement only; \
             harmed = reliable deterioration into the clinical range. The reliable-change criterion and the \
             cut-off come from the whole sample.{}",
            if suppress {
                " Counts of 1 to 7 are shown as *, others rounded to 5; percentages from the rounded counts."
            } else {
                ""
            }
        )),
    });

    // Jacobson plot, binned so that no client can be seen
    let mut jp = crate::cli::change::jacobson_chart(t);
    if !suppress {
        jp.mode = JacobsonMode::Binned {
            cell: jp.binned_cell(crate::cli::change::jacobson_step(t), 1),
            min_count: 1,
        };
    }
    sec.figures.push(figure(
        &jp,
        "jacobson",
        format!(
            "First and last {measure} scores (Jacobson plot). Shading counts clients per cell{}; the band is \
             the reliable-change criterion around no change, dashed lines the cut-off.",
            if suppress { "; cells with fewer than 8 clients are not shown" } else { "" }
        ),
        args.dpi,
    )?);

    if let Some((r, bargv)) = by {
        let (_, rows) = crate::cli::change::display_table(r);
        let n_of = |label: &str| {
            rows.iter()
                .find(|row| row[0] == label)
                .map_or(String::new(), |row| row[1].clone())
        };
        let groups: Vec<GroupChange> = r
            .groups
            .iter()
            .filter_map(|g| {
                let s = g.summary.as_ref()?;
                if suppress && s.n < MIN_CASELOAD {
                    return None;
                }
                Some(GroupChange {
                    label: g.group.clone(),
                    n_label: n_of(&g.group),
                    estimate: s.effect_sizes.d_av.estimate,
                    lower: s.effect_sizes.d_av.ci_lb,
                    upper: s.effect_sizes.d_av.ci_ub,
                })
            })
            .collect();
        let mut plot =
            ChangeGroupsPlot::new(groups, "Pre–post change, d_av (positive = improvement)");
        plot.overall = Some(GroupChange {
            label: "All clients".into(),
            n_label: n_of("Total"),
            estimate: d.estimate,
            lower: d.ci_lb,
            upper: d.ci_ub,
        });
        sec.figures.push(figure(
            &plot,
            "change_by_technique",
            format!(
                "Change by technique: d_av with {:.0}% confidence intervals. Techniques were not randomised; \
                 differences can reflect who received them.",
                args.level
            ),
            args.dpi,
        )?);
        sec.commands.push(command_line(bargv));
    } else {
        sec.commands.push(command_line(argv));
    }
    Ok(sec)
}

/// Readable factor names for sentences.
fn factor_phrase(name: &str) -> String {
    match name {
        "client" => "Client factors (pre-treatment score and case mix)".into(),
        "technique" => "Technique".into(),
        "relationship" => "The alliance".into(),
        "therapist" => "Therapists".into(),
        "site" => "Sites".into(),
        other => {
            let s = other.replace('_', " ");
            let mut c = s.chars();
            c.next().map_or(String::new(), |f| {
                f.to_uppercase().collect::<String>() + c.as_str()
            })
        }
    }
}

fn variance_section(v: &VarianceReport, argv: &[String], args: &ReportArgs) -> Result<Section> {
    let mut sec = Section {
        title: "Where the differences in outcome come from".into(),
        ..Default::default()
    };
    sec.paragraphs.push(format!(
        "The variance of the last score ({}, n = {}) was divided among the factors by Shapley values over all \
         {} subsets of factors, each fitted as a linear mixed model; intervals are percentile intervals from {} \
         bootstrap replications ({} resampling).",
        v.outcome,
        n_text(v.n, !args.no_suppression),
        1usize << v.shares.len(),
        v.bootstrap.reps,
        v.bootstrap.scheme
    ));
    let sentences: Vec<String> = v
        .shares
        .iter()
        .map(|(name, s)| {
            format!(
                "{} accounted for {} of outcome variance.",
                factor_phrase(name),
                pct_ci(s.shapley, s.ci_lb.zip(s.ci_ub), args.level)
            )
        })
        .collect();
    sec.paragraphs.push(sentences.join(" "));
    sec.paragraphs.push(format!(
        "Together the factors explained {}; {} remained unexplained.",
        pct_ci(
            v.explained,
            v.explained_ci.map(|c| (c[0], c[1])),
            args.level
        ),
        pct_ci(
            v.unexplained,
            v.unexplained_ci.map(|c| (c[0], c[1])),
            args.level
        )
    ));
    let f1 = |x: f64| format!("{:.1}", 100.0 * x);
    let rows = v
        .shares
        .iter()
        .map(|(name, s)| {
            vec![
                name.replace('_', " "),
                f1(s.shapley),
                match (s.ci_lb, s.ci_ub) {
                    (Some(a), Some(b)) => format!("[{}, {}]", f1(a), f1(b)),
                    _ => "-".into(),
                },
                f1(s.alone),
                f1(s.unique),
            ]
        })
        .collect();
    sec.tables.push(Table {
        name: "variance_shares".into(),
        caption: "Shares of outcome variance (%)".into(),
        header: vec![
            "factor".into(),
            "share".into(),
            format!("{:.0}% CI", args.level),
            "alone".into(),
            "unique".into(),
        ],
        rows,
        note: Some(
            "share: Shapley value (average gain over all orders of adding factors); alone: the factor as the only \
             one; unique: what it adds to all the others. Shares sum to the explained variance."
                .into(),
        ),
    });
    let chart = crate::cli::variance::shares_chart(v);
    sec.figures.push(figure(
        &chart,
        "variance_shares",
        "Shares of outcome variance with their intervals. The lower panel shows published estimates from \
         separate analyses, which cannot be added up."
            .into(),
        args.dpi,
    )?);
    sec.paragraphs.push(v.literature_note.to_string());
    sec.commands.push(command_line(argv));
    Ok(sec)
}

fn therapist_section(
    l: &crate::cli::lmm::LmmReport,
    ther: &str,
    argv: &[String],
    by_ther: Option<&(ChangeReport, Vec<String>)>,
    args: &ReportArgs,
    suppress: bool,
) -> Result<(Section, Value)> {
    let mut sec = Section {
        title: "Therapists".into(),
        ..Default::default()
    };
    let re = l
        .ranef
        .as_ref()
        .and_then(|r| r.iter().find(|g| g.group == ther))
        .ok_or_else(|| Error::other("report: the therapist model has no therapist effects"))?;
    let mut plot = crate::cli::lmm::caterpillar_chart(re, args.level);
    for it in &mut plot.items {
        // no labels: therapist IDs stay out of the report (ranks only)
        it.label.clear();
    }
    plot.x_label = format!(
        "Therapist effect on the last score ({}; conditional mode, {:.0}% interval)",
        l.fit.formula.split('~').next().unwrap_or("").trim(),
        args.level
    );
    let above = plot.items.iter().filter(|i| i.lower > 0.0).count();
    let below = plot.items.iter().filter(|i| i.upper < 0.0).count();
    let sd_ther = l
        .fit
        .random
        .iter()
        .find_map(|r| match r {
            crate::stats::lmm::RandomComponent::Variance { group, sd, .. } if group == ther => {
                Some(*sd)
            }
            _ => None,
        })
        .unwrap_or(f64::NAN);
    sec.paragraphs.push(format!(
        "A mixed model ({}) estimated therapist effects adjusted for the first score. The therapist standard \
         deviation was {:.2} points. Of {} therapists, {} had an interval wholly above zero (higher last scores \
         than their clients' first scores predict) and {} wholly below.",
        l.fit.formula,
        sd_ther,
        plot.items.len(),
        above,
        below
    ));
    sec.figures.push(figure(
        &plot,
        "therapist_effects",
        "Therapist effects (conditional modes of the mixed model with intervals), ranked. Therapists are shown \
         by rank only. Intervals reflect caseload size; most overlap."
            .into(),
        args.dpi,
    )?);
    sec.commands.push(command_line(argv));
    let mut res = json!({
        "formula": l.fit.formula,
        "therapists": re.levels.len(),
        "sd": sd_ther,
        "interval_above_zero": above,
        "interval_below_zero": below,
    });

    if let Some((r, cargv)) = by_ther {
        let recovery = r.total.cutoff.is_some();
        let units: Vec<RateUnit> = r
            .groups
            .iter()
            .filter_map(|g| {
                let s = g.summary.as_ref()?;
                let c = &s.categories.counts;
                let events = if recovery {
                    c.recovered.unwrap_or(0)
                } else {
                    c.improved
                };
                (s.n >= MIN_CASELOAD).then(|| RateUnit {
                    label: String::new(),
                    n: s.n,
                    events,
                })
            })
            .collect();
        let left_out = r.groups.len() - units.len();
        let what = if recovery {
            "Recovery rate"
        } else {
            "Reliable improvement rate"
        };
        let mut funnel =
            RatesFunnelPlot::new(units, "Clients with a first and last score (n)", what);
        funnel.label_outliers = false;
        let outside = funnel.outside();
        let above = outside
            .iter()
            .filter(|(_, s)| *s == crate::plot::rates_funnel::Outside::Above)
            .count();
        let below = outside.len() - above;
        sec.paragraphs.push(format!(
            "{what}s by therapist were compared with the overall rate of {:.0}% in a funnel plot (Spiegelhalter \
             2005): {} therapists lay above the 99.8% limits and {} below{}.",
            100.0 * funnel.target_rate(),
            above,
            below,
            if left_out > 0 {
                format!(
                    "; {left_out} therapist{} with fewer than {MIN_CASELOAD} clients {} not shown",
                    if left_out == 1 { "" } else { "s" },
                    if left_out == 1 { "is" } else { "are" }
                )
            } else {
                String::new()
            }
        ));
        sec.figures.push(figure(
            &funnel,
            "therapist_rates_funnel",
            format!(
                "{what} by therapist against the number of clients, with 95% and 99.8% limits around the overall \
                 rate. Points outside the 99.8% limits are unlikely to differ by chance alone."
            ),
            args.dpi,
        )?);
        let mut shown_argv = cargv.clone();
        if suppress {
            shown_argv.push("--suppress".into());
        }
        sec.commands.push(command_line(&shown_argv));
        res["rates"] = json!({
            "measure": what,
            "target": funnel.target_rate(),
            "above_99_8": above,
            "below_99_8": below,
            "not_shown_small_caseload": left_out,
        });
    }
    Ok((sec, res))
}

/// The field's published claims (the built-in registry of `outcomes
/// replicate`), recomputed where this dataset (and `--data-dir`) allow.
fn replication_section(
    args: &ReportArgs,
    base: &[String],
    clients_variance: Option<(Vec<String>, std::sync::Arc<VarianceReport>)>,
) -> Result<(Section, Value)> {
    use crate::claims::evaluate::{evaluate, Context};
    use crate::claims::{parse, Compute, BUILTIN};
    let claims = parse(BUILTIN, "built-in registry")?;
    let needs_data_dir = |c: &crate::claims::Claim| match &c.spec.compute {
        Compute::Meta { .. } => true,
        Compute::Variance { dataset, .. } => !matches!(dataset.as_str(), "clients" | "demo"),
        _ => false,
    };
    // the demo illustration is left out: this report's data take its place
    let is_demo = |c: &crate::claims::Claim| matches!(&c.spec.compute, Compute::Variance { dataset, .. } if dataset == "demo");
    let skipped = |c: &crate::claims::Claim| args.data_dir.is_none() && needs_data_dir(c);
    let not_run = claims.iter().filter(|c| skipped(c)).count();
    let ctx = Context {
        data_dir: args.data_dir.clone(),
        clients: Some(base.to_vec()),
        level: args.level,
        bootstrap: Some(args.bootstrap),
        seed: Some(args.seed),
        clients_variance,
        clients_are_demo: args.input.data.is_none() && args.input.spec.is_none(),
        ..Default::default()
    };
    let outcomes = claims
        .iter()
        .filter(|c| !is_demo(c) && !skipped(c))
        .map(|c| evaluate(c, &ctx))
        .collect::<Result<Vec<_>>>()?;
    let report = crate::cli::replicate::ReplicateReport::new(
        "built-in registry".into(),
        BUILTIN,
        claims.len(),
        args.data_dir.as_ref(),
        args.level,
        outcomes,
    );
    let summary = &report.summary;
    let mut sec = Section {
        title: "Published claims, recomputed".into(),
        ..Default::default()
    };
    sec.paragraphs.push(format!(
        "{} claims from the literature on what makes psychotherapy work were checked: conversions between d, \
         r and percent of variance from the statistic each source printed (allowing for its rounding), and the \
         therapist effect on these data. {} replicated, {} did not, and {} cannot be computed from any data.",
        report.claims.len(),
        summary.replicated,
        summary.not_replicated,
        summary.not_computable
    ));
    if not_run > 0 {
        sec.paragraphs.push(format!(
            "{not_run} further claims are recomputed from published study-level datasets (the Metapsy \
             depression database, metadat): run `outcomes report --data-dir DIR` or `outcomes replicate \
             --data-dir DIR` with the folder that holds them."
        ));
    }
    let interval = |o: &crate::claims::evaluate::Outcome| match (o.ci_lb, o.ci_ub) {
        (Some(a), Some(b)) => {
            let d = (o.published.decimals as usize + 1).max(1);
            format!("[{a:.d$}, {b:.d$}]")
        }
        _ => "–".into(),
    };
    let value = |o: &crate::claims::evaluate::Outcome| {
        o.recomputed.map_or("–".to_string(), |v| {
            let d = (o.published.decimals as usize + 1).max(1);
            format!("{v:.d$}")
        })
    };
    sec.tables.push(Table {
        name: "replication".into(),
        caption: "Published claims and their recomputation".into(),
        header: vec![
            "Claim".into(),
            "Quantity".into(),
            "Published".into(),
            "Recomputed".into(),
            "Interval".into(),
            "Verdict".into(),
        ],
        rows: report
            .claims
            .iter()
            .map(|o| {
                vec![
                    o.label.clone(),
                    o.quantity_label.to_string(),
                    o.claim.clone(),
                    value(o),
                    interval(o),
                    if o.illustration {
                        format!("{} (illustration: simulated data)", o.verdict.text())
                    } else {
                        o.verdict.text().to_string()
                    },
                ]
            })
            .collect(),
        note: Some(format!(
            "Interval: for a conversion, the values the printed statistic stands for (it was rounded); for data, \
             the {:.0}% confidence interval. A conversion replicates when the published value, within its own \
             rounding, meets that range; a value from data when it lies inside the interval. The reasons and the \
             full citations are in results.json and in `outcomes replicate`.",
            args.level
        )),
    });
    let chart = crate::cli::replicate::chart_of(&report);
    if !chart.rows.is_empty() {
        sec.figures.push(figure(
            &chart,
            "replication",
            "Published values (open diamonds; arrows are bounds) beside the recomputed values (filled marks) with \
             their intervals, one panel per quantity."
                .into(),
            args.dpi,
        )?);
    }
    // the equivalent command: the data as --clients with the roles replicate
    // takes (the bundled demo data are its demo claim)
    let mut argv: Vec<String> = vec!["replicate".into()];
    let i = &args.input;
    if let Some(d) = &i.data {
        argv.extend(["--clients".into(), d.display().to_string()]);
        let covariates = i.covariates.as_ref().map(|c| c.join(","));
        for (name, v) in [
            ("spec", &i.spec.as_ref().map(|p| p.display().to_string())),
            ("therapist", &i.therapist),
            ("site", &i.site),
            ("client", &i.client),
            ("technique", &i.technique),
            ("alliance", &i.alliance),
            ("pre", &i.pre),
            ("post", &i.post),
            ("covariates", &covariates),
            ("where", &i.filter),
        ] {
            if let Some(x) = v {
                argv.extend([format!("--{name}"), x.clone()]);
            }
        }
    }
    if let Some(d) = &args.data_dir {
        argv.extend(["--data-dir".into(), d.display().to_string()]);
    }
    argv.extend([
        "--bootstrap".into(),
        args.bootstrap.to_string(),
        "--seed".into(),
        args.seed.to_string(),
    ]);
    sec.commands.push(command_line(&argv));
    let value = serde_json::to_value(&report).map_err(|e| Error::other(e.to_string()))?;
    Ok((sec, value))
}

fn methods(args: &ReportArgs) -> Vec<String> {
    vec![
        format!(
            "Change was summarised by d_av with {level:.0}% confidence intervals (Cumming 2012; Lakens 2013) and \
             classified by the reliable change index and a clinical cut-off (Jacobson & Truax 1991). The \
             variance of the last score was decomposed by Shapley values (Shapley 1953; Lipovetsky & Conklin \
             2001) over linear mixed models with random intercepts for therapists and sites, fitted by \
             restricted maximum likelihood as lme4 does (Bates, Mächler, Bolker & Walker 2015); random-effect \
             shares follow Nakagawa & Schielzeth (2013). Intervals come from {reps} two-stage bootstrap \
             replications (sites, then therapists within sites; seed {seed}). Therapist effects are conditional \
             modes of a mixed model with their conditional standard deviations; rates by therapist are compared \
             in a funnel plot with exact binomial limits (Spiegelhalter 2005).",
            level = args.level,
            reps = args.bootstrap,
            seed = args.seed
        ),
        "Every number can be reproduced with the commands shown under each section; results.json holds them all \
         and provenance.json the input's SHA-256 and the tool version."
            .to_string(),
    ]
}

fn caveats() -> Vec<String> {
    vec![
        "These are observational data: clients were not randomised to techniques or therapists, so differences \
         can reflect who was treated by whom rather than what was done."
            .into(),
        "Variance shares describe this sample of clients, therapists and sites; they are not causal effects and \
         change with the case mix and with how many therapists and sites there are."
            .into(),
        "Therapist effects from small caseloads are uncertain and shrunk towards zero; they should not be used to \
         rank or judge individual therapists without further review."
            .into(),
        "Clients without a last score are not in the change and variance analyses; if their outcomes differ, \
         the results are biased."
            .into(),
    ]
}

fn references() -> Vec<String> {
    vec![
        "Bates, D., Mächler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects models using lme4. Journal of Statistical Software, 67(1), 1–48.".into(),
        "Cumming, G. (2012). Understanding the new statistics. Routledge.".into(),
        "Jacobson, N. S., & Truax, P. (1991). Clinical significance: A statistical approach to defining meaningful change in psychotherapy research. Journal of Consulting and Clinical Psychology, 59(1), 12–19.".into(),
        "Lakens, D. (2013). Calculating and reporting effect sizes to facilitate cumulative science. Frontiers in Psychology, 4, 863.".into(),
        "Lipovetsky, S., & Conklin, M. (2001). Analysis of regression in game theory approach. Applied Stochastic Models in Business and Industry, 17(4), 319–330.".into(),
        "Nakagawa, S., & Schielzeth, H. (2013). A general and simple method for obtaining R² from generalized linear mixed-effects models. Methods in Ecology and Evolution, 4(2), 133–142.".into(),
        "Shapley, L. S. (1953). A value for n-person games. In H. W. Kuhn & A. W. Tucker (Eds.), Contributions to the theory of games II (pp. 307–317). Princeton University Press.".into(),
        "Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional performance. Statistics in Medicine, 24(8), 1185–1202.".into(),
    ]
}

/// The report of study-level data: a random-effects meta-analysis.
fn build_meta(args: &ReportArgs) -> Result<Report> {
    let mut argv: Vec<String> = vec!["meta".into()];
    argv.extend(input_argv(&args.input));
    let mut flag = |name: &str, v: &Option<String>| {
        if let Some(x) = v {
            argv.push(format!("--{name}"));
            argv.push(x.clone());
        }
    };
    flag("yi", &args.yi);
    flag("vi", &args.vi);
    flag("sei", &args.sei);
    flag("slab", &args.slab);
    flag("subgroup", &args.subgroup);
    argv.extend([
        "--test".into(),
        "knha".into(),
        "--bias".into(),
        "--level".into(),
        args.level.to_string(),
    ]);
    let r = match parse_argv(&argv)? {
        Command::Meta(a) => crate::cli::meta::build(&a)?,
        _ => return Err(Error::other("report: cannot set up the meta-analysis")),
    };
    let f = &r.fit;
    let lv = args.level;
    let mut sec = Section {
        title: "Meta-analysis".into(),
        ..Default::default()
    };
    let pi = match (f.pi_lb, f.pi_ub) {
        (Some(a), Some(b)) => {
            format!("; the {lv:.0}% prediction interval for a new study was [{a:.2}, {b:.2}]")
        }
        _ => String::new(),
    };
    sec.paragraphs.push(format!(
        "A random-effects model ({} estimator of τ², Knapp–Hartung test) pooled k = {} effect sizes: {:.2}, {lv:.0}% \
         CI [{:.2}, {:.2}], t({}) = {:.2}, p {}. Heterogeneity: τ² = {:.3}, I² = {:.1}%, Q({}) = {:.1}, p {}{pi}.",
        f.method,
        f.k,
        f.estimate,
        f.ci_lb,
        f.ci_ub,
        f.df.unwrap_or(f.k - 1),
        f.stat,
        crate::output::p_apa(f.pval),
        f.tau2,
        f.i2,
        f.q_df,
        f.q,
        crate::output::p_apa(f.q_pval),
    ));
    if let (Some(e), Some(tf)) = (&r.egger, &r.trimfill) {
        sec.paragraphs.push(format!(
            "Egger's regression test for funnel-plot asymmetry: t = {:.2}, p {}. Trim and fill ({}) imputed {} \
             studies on the {} side; the adjusted estimate was {:.2}, {lv:.0}% CI [{:.2}, {:.2}].",
            e.stat,
            crate::output::p_apa(e.pval),
            tf.estimator,
            tf.k0,
            tf.side,
            tf.estimate,
            tf.ci_lb,
            tf.ci_ub
        ));
    }
    let f2 = |x: f64| format!("{x:.2}");
    let ci = |a: f64, b: f64| format!("[{}, {}]", f2(a), f2(b));
    let mut rows = vec![vec![
        "All studies".to_string(),
        f.k.to_string(),
        f2(f.estimate),
        ci(f.ci_lb, f.ci_ub),
        format!("{:.3}", f.tau2),
        format!("{:.1}", f.i2),
    ]];
    if let Some(groups) = &r.subgroups {
        for g in groups {
            match &g.fit {
                Some(x) => rows.push(vec![
                    g.group.clone(),
                    x.k.to_string(),
                    f2(x.estimate),
                    ci(x.ci_lb, x.ci_ub),
                    format!("{:.3}", x.tau2),
                    format!("{:.1}", x.i2),
                ]),
                None => rows.push(vec![
                    g.group.clone(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ]),
            }
        }
    }
    let note = r.subgroup_test.as_ref().map(|t| {
        let stat = match t.df2 {
            Some(d2) => format!("F({}, {d2})", t.df),
            None => format!("QM({})", t.df),
        };
        format!(
            "Test of subgroup differences: {stat} = {:.2}, p {}.",
            t.qm,
            crate::output::p_apa(t.pval)
        )
    });
    if let Some(n) = &note {
        sec.paragraphs.push(n.clone());
    }
    sec.tables.push(Table {
        name: "meta".into(),
        caption: "Pooled effect sizes (random effects)".into(),
        header: vec![
            "studies".into(),
            "k".into(),
            "estimate".into(),
            format!("{lv:.0}% CI"),
            "τ²".into(),
            "I² (%)".into(),
        ],
        rows,
        note,
    });
    if r.studies.len() <= MAX_FOREST {
        sec.figures.push(figure(
            &crate::cli::meta::forest_of(&r, "Effect size"),
            "forest",
            format!("Forest plot: effect sizes with {lv:.0}% CIs, weights, the pooled estimate and the prediction interval."),
            args.dpi,
        )?);
    } else {
        sec.paragraphs.push(format!(
            "With k = {} the forest plot is not drawn here (more than {MAX_FOREST} rows); `outcomes meta --forest \
             FILE` draws it.",
            r.studies.len()
        ));
    }
    sec.figures.push(figure(
        &crate::cli::meta::funnel_of(&r, "Effect size"),
        "funnel",
        "Contour-enhanced funnel plot: shading marks where a study would be significant at p < .10, .05 and .01; \
         hollow points are studies imputed by trim and fill."
            .into(),
        args.dpi,
    )?);
    sec.commands.push(command_line(&argv));
    let info = r.input.clone();
    let dataset = info.path.clone();
    let results = json!({
        "command": "report",
        "version": crate::VERSION,
        "input": {"path": info.path, "sha256": info.sha256},
        "seed": args.seed,
        "sections": {"meta": serde_json::to_value(&r).map_err(|e| Error::other(e.to_string()))?},
    });
    Ok(Report {
        title: "Meta-analysis report".into(),
        summary: vec![format!(
            "Analysis of {dataset}: {} rows read, {} effect sizes analysed. Generated by outcomes {}.",
            info.rows_read,
            info.rows_used,
            crate::VERSION
        )],
        dataset,
        sections: vec![sec],
        methods: vec![format!(
            "Effect sizes were pooled in a random-effects model with the {} estimator of τ² (Viechtbauer 2005) and \
             the Knapp–Hartung adjustment (Knapp & Hartung 2003), as metafor's rma() computes them (Viechtbauer \
             2010); the confidence interval of τ² is the Q-profile interval. Funnel-plot asymmetry was tested by \
             Egger's regression (Egger et al. 1997) and trim and fill (Duval & Tweedie 2000).",
            f.method
        )],
        caveats: vec![
            "Pooled estimates average over the studies' populations, comparisons and outcome measures; with high \
             heterogeneity the prediction interval says more about a new study than the mean does."
                .into(),
            "Funnel-plot asymmetry can come from small-study effects other than publication bias.".into(),
        ],
        references: vec![
            "Duval, S., & Tweedie, R. (2000). Trim and fill: A simple funnel-plot-based method of testing and adjusting for publication bias in meta-analysis. Biometrics, 56(2), 455–463.".into(),
            "Egger, M., Davey Smith, G., Schneider, M., & Minder, C. (1997). Bias in meta-analysis detected by a simple, graphical test. BMJ, 315(7109), 629–634.".into(),
            "Knapp, G., & Hartung, J. (2003). Improved tests for a random effects meta-regression with a single covariate. Statistics in Medicine, 22(17), 2693–2710.".into(),
            "Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators in the random-effects model. Journal of Educational and Behavioral Statistics, 30(3), 261–293.".into(),
            "Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. Journal of Statistical Software, 36(3), 1–48.".into(),
        ],
        results,
        input_path: info.path,
        input_sha256: info.sha256,
        seed: args.seed,
    })
}

/// Long data: the mean score at each session (the client's 1st, 2nd ...
/// scored session), per technique when that role is given, with t-based
/// confidence intervals; session means of fewer than 8 clients are left out
/// under suppression (2 otherwise, the least a standard deviation needs).
fn sessions_section(
    args: &ReportArgs,
    change: Option<&ChangeReport>,
    suppress: bool,
) -> Result<Option<Section>> {
    use crate::plot::trajectories::{TrajectoriesPlot, TrajectoryPoint, TrajectorySeries};
    use std::collections::BTreeMap;
    let p =
        crate::data::input::prepare(&args.input.request(), crate::data::input::Purpose::Analyse)?;
    if !p.long || p.sessions.is_empty() {
        return Ok(None);
    }
    let min_n = if suppress { MIN_CASELOAD } else { 2 };
    let by_technique = p.sessions.iter().any(|s| s.technique.is_some());
    let mut acc: BTreeMap<(String, usize), Vec<f64>> = BTreeMap::new();
    for s in &p.sessions {
        let label = if by_technique {
            s.technique
                .clone()
                .unwrap_or_else(|| "(no technique)".into())
        } else {
            "All clients".into()
        };
        acc.entry((label, s.session)).or_default().push(s.score);
    }
    let mut series: BTreeMap<String, Vec<TrajectoryPoint>> = BTreeMap::new();
    for ((label, session), v) in &acc {
        let n = v.len();
        if n < min_n {
            continue;
        }
        let (mean, lower, upper) = crate::stats::describe::mean_ci_t(v, args.level);
        series
            .entry(label.clone())
            .or_default()
            .push(TrajectoryPoint {
                session: *session as f64,
                mean,
                lower,
                upper,
                n,
            });
    }
    series.retain(|_, pts| pts.len() >= 2);
    if series.is_empty() {
        return Ok(None);
    }
    let measure = change
        .and_then(|c| c.measure.as_ref())
        .map_or("Score".to_string(), |m| m.name.clone());
    let last = series
        .values()
        .flat_map(|p| p.iter().map(|q| q.session))
        .fold(0.0, f64::max);
    let mut plot = TrajectoriesPlot::new(
        series
            .into_iter()
            .map(|(label, points)| TrajectorySeries { label, points })
            .collect(),
        "Session (the client's nth scored session)",
        format!("{measure} (mean, {:.0}% CI)", args.level),
    );
    if let Some(c) = change.and_then(|c| c.total.cutoff.as_ref()) {
        plot.reference_lines.push((c.value, "cut-off".into()));
    }
    let mut sec = Section {
        title: "Session by session".into(),
        ..Default::default()
    };
    sec.paragraphs.push(format!(
        "Mean {measure} scores at each client's 1st to {last:.0}th scored session{}, with {:.0}% confidence \
         intervals. Later sessions include only clients who were still attending, so the means also reflect who \
         stayed in treatment.{}",
        if by_technique { ", by technique" } else { "" },
        args.level,
        if suppress {
            format!(" Means of fewer than {MIN_CASELOAD} clients are not shown.")
        } else {
            String::new()
        }
    ));
    sec.figures.push(figure(
        &plot,
        "trajectories",
        format!(
            "Mean {measure} by session{}.",
            if by_technique { " and technique" } else { "" }
        ),
        args.dpi,
    )?);
    Ok(Some(sec))
}
