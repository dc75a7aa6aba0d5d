//! The command line: one file per command, holding its clap arguments and the
//! glue from roles to analysis to output. No statistics here.

pub mod change;
pub mod common;
pub mod escalc;
pub mod inspect;
pub mod lmm;
pub mod meta;
pub mod replicate;
pub mod report;
pub mod simulate;
pub mod summarise;
pub mod variance;
pub mod variance_stream;

use crate::error::Result;
use clap::{Parser, Subcommand};

const ABOUT: &str = "Psychotherapy outcome research from the command line: how much of the \
outcome is technique, relationship, therapist, site and client.";

const LONG_ABOUT: &str = "Psychotherapy outcome research from the command line.

outcomes reads anonymised outcome data (client-level data from clinics and trials, \
or study-level effect sizes), checks them for identifiers, and computes the numbers \
outcome research reports. Every command takes DATA (.csv, .tsv, .txt, .parquet, .xlsx); \
without it the client-level commands run on the bundled demo clinic data, while escalc \
and meta need a study-level file.

Exit codes: 0 success; 2 the input or the arguments are wrong (the message names the \
file, line, column and value); 3 the analysis cannot be done on this data; 1 anything else.";

const AFTER_HELP: &str = "Examples:
  outcomes inspect                                  the bundled demo data
  outcomes inspect clinic.csv --therapist clin_id   roles, columns, privacy audit
  outcomes simulate --seed 7 -o sim.csv             a synthetic clinic with known truth
  outcomes change --measure PHQ-9 --by technique    reliable change and NHS metrics, demo data
  outcomes variance --split-alliance                shares of outcome variance, demo data
  outcomes escalc bcg.csv --measure RR --ai tpos --bi tneg --ci cpos --di cneg -o es.csv
  outcomes meta es.csv --yi yi --vi vi --mods ablat --bias
  outcomes replicate --data-dir ../shared/datasets  published claims, recomputed
  outcomes summarise site.csv -o site.summary.json  per-therapist statistics, no client rows
  outcomes variance --summaries a.json b.json       fit across services without pooling records
  outcomes lmm --formula \"post ~ pre + technique + (1 | therapist) + (1 | site)\"";

#[derive(Parser, Debug)]
#[command(name = "outcomes", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Parsed once per run, so the size difference between the variants'
/// argument structs does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Pre-post effect sizes, reliable and clinically significant change, NHS Talking Therapies metrics, by group.
    Change(change::ChangeArgs),
    /// Effect sizes and sampling variances with metafor's escalc formulas (SMD, MD, SMCR, SMCC, COR, ZCOR, OR, RR, RD).
    Escalc(escalc::EscalcArgs),
    /// Linear mixed model with lme4's answers: fixed effects, variance components, BLUPs.
    Lmm(lmm::LmmArgs),
    /// Random-effects meta-analysis and meta-regression with metafor's answers: tau^2 estimators, Knapp-Hartung, Q-profile CI, moderators, subgroups.
    Meta(meta::MetaArgs),
    /// Describe a data file: format, roles, columns, therapists and sites, and a privacy audit.
    Inspect(inspect::InspectArgs),
    /// Recompute the field's published effect-size claims (a built-in registry or a claims file) and give each a verdict.
    Replicate(replicate::ReplicateArgs),
    /// Write a report folder (HTML, Markdown, LaTeX and CSV tables, figures, results.json) of every analysis the roles allow.
    Report(report::ReportArgs),
    /// Write a synthetic clinic dataset whose variance shares are known.
    Simulate(simulate::SimulateArgs),
    /// Per-therapist sufficient statistics of a variance decomposition, for fitting across sites without pooling client records (variance --summaries).
    Summarise(summarise::SummariseArgs),
    /// How much of the outcome is client, technique, relationship, therapist and site: Shapley shares with bootstrap intervals.
    Variance(variance::VarianceArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Change(a) => change::run(&a),
        Command::Escalc(a) => escalc::run(&a),
        Command::Inspect(a) => inspect::run(&a),
        Command::Lmm(a) => lmm::run(&a),
        Command::Meta(a) => meta::run(&a),
        Command::Replicate(a) => replicate::run(&a),
        Command::Report(a) => report::run(&a),
        Command::Simulate(a) => simulate::run(&a),
        Command::Summarise(a) => summarise::run(&a),
        Command::Variance(a) => variance::run(&a),
    }
}

/// Parses `outcomes ARGV...` into a command (the report and `replicate` run
/// the other commands through their own argument parsing, so that every
/// number they show can be reproduced by the command line they print).
pub(crate) fn parse_argv(argv: &[String]) -> Result<Command> {
    let mut full = vec!["outcomes".to_string()];
    full.extend(argv.iter().cloned());
    Cli::try_parse_from(&full).map(|c| c.command).map_err(|e| {
        crate::error::Error::other(format!("cannot set up `{}`: {e}", command_line(argv)))
    })
}

/// `outcomes ARGV...` as a user would type it in a POSIX shell.
pub(crate) fn command_line(argv: &[String]) -> String {
    let quote = |a: &String| {
        let plain = !a.is_empty()
            && a.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(c, '-' | '_' | '.' | '/' | ',' | ':' | '=' | '+')
            });
        if plain {
            a.clone()
        } else if !a.contains('\'') {
            format!("'{a}'")
        } else {
            format!(
                "\"{}\"",
                a.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('$', "\\$")
                    .replace('`', "\\`")
            )
        }
    };
    std::iter::once("outcomes".to_string())
        .chain(argv.iter().map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}
