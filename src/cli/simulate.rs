//! `outcomes simulate`: writes a synthetic, anonymised clinic dataset with
//! known truth (contract, `outcomes simulate`), and reports the population
//! variance shares its parameters imply.
//!
//! Without `-o` the data (CSV) go to stdout, so `outcomes simulate > a.csv`
//! works. With `-o FILE` the data go to FILE (format from the extension,
//! written atomically) and stdout gets a summary: readable text, one JSON
//! object (`--format json`) or the shares as CSV (`--format csv`). The model
//! and its truth are in `docs/simulation.md` and [`crate::simulate`].

use crate::data::load::sha256_hex;
use crate::data::write::{encode_table, table_to_csv_string};
use crate::error::{Error, Result};
use crate::output::{emit, to_json, write_atomic, OutFormat};
use crate::simulate::{measure_range, population, simulate, Population, SimParams, FACTORS};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

const AFTER_HELP: &str = "Examples:
  outcomes simulate > clinic.csv                        defaults (PHQ-9-like, seed 1)
  outcomes simulate --seed 7 -o clinic.csv              data to a file, summary to stdout
  outcomes simulate --seed 7 -o clinic.parquet --format json
  outcomes simulate --technique-preference 0 --dropout 0 --no-round --no-clip -o x.csv
  outcomes simulate --long -o sessions.csv              one row per attended session

The generating model, the order of the random numbers and the derivation of
the population shares are in docs/simulation.md. Scores are on the measure's
scale (PHQ-9: lower is better), so effects that help are negative.";

/// Arguments of `outcomes simulate`.
#[derive(Args, Debug, Clone)]
#[command(after_help = AFTER_HELP)]
pub struct SimulateArgs {
    /// Number of clients N.
    #[arg(
        long,
        default_value_t = 2000,
        value_name = "N",
        help_heading = "Design"
    )]
    pub clients: usize,
    /// Number of therapists T (at most N; every therapist gets a client).
    #[arg(long, default_value_t = 50, value_name = "T", help_heading = "Design")]
    pub therapists: usize,
    /// Number of sites S (at most T); therapists are spread over the sites in
    /// equal blocks.
    #[arg(long, default_value_t = 5, value_name = "S", help_heading = "Design")]
    pub sites: usize,
    /// Random seed: the same seed and parameters give byte-identical data on
    /// any machine.
    #[arg(long, default_value_t = 1, value_name = "N", help_heading = "Design")]
    pub seed: u64,
    /// Caseload dispersion φ: therapist caseload weights are Gamma with mean 1
    /// and variance φ (0 = equal caseloads).
    #[arg(
        long,
        default_value_t = 0.3,
        value_name = "PHI",
        allow_negative_numbers = true,
        help_heading = "Design"
    )]
    pub caseload_dispersion: f64,
    /// One row per attended session (client, therapist, site, technique,
    /// alliance, session, score) instead of one row per client.
    #[arg(long, help_heading = "Design")]
    pub long: bool,

    /// Technique labels, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "CBT,IPT,PDT,PCE",
        value_name = "LIST",
        help_heading = "Technique"
    )]
    pub techniques: Vec<String>,
    /// Effect of each technique on the post score, in score points
    /// (negative = better on PHQ-9), comma-separated, one per technique.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0,-0.3,0.2,0.4",
        value_name = "LIST",
        allow_hyphen_values = true,
        help_heading = "Technique"
    )]
    pub technique_effects: Vec<f64>,
    /// Probability π that a client gets the therapist's preferred technique
    /// (otherwise uniform); confounds technique with therapist.
    #[arg(
        long,
        default_value_t = 0.5,
        value_name = "P",
        allow_negative_numbers = true,
        help_heading = "Technique"
    )]
    pub technique_preference: f64,

    /// Mean alliance μ_A (WAI-SR-like 1–5 scale).
    #[arg(
        long,
        default_value_t = 3.7,
        value_name = "X",
        allow_negative_numbers = true,
        help_heading = "Alliance"
    )]
    pub alliance_mean: f64,
    /// SD of the therapist component of the alliance (alliance points).
    #[arg(
        long,
        default_value_t = 0.3,
        value_name = "SD",
        allow_negative_numbers = true,
        help_heading = "Alliance"
    )]
    pub alliance_therapist_sd: f64,
    /// SD of the client component of the alliance (alliance points).
    #[arg(
        long,
        default_value_t = 0.55,
        value_name = "SD",
        allow_negative_numbers = true,
        help_heading = "Alliance"
    )]
    pub alliance_client_sd: f64,
    /// Post-score points per alliance point of the therapist component β_b
    /// (negative = a better alliance gives a lower, better PHQ-9).
    #[arg(long, default_value_t = -4.0, value_name = "B", allow_negative_numbers = true, help_heading = "Alliance")]
    pub alliance_between_effect: f64,
    /// Post-score points per alliance point of the client component β_w.
    #[arg(long, default_value_t = -2.0, value_name = "B", allow_negative_numbers = true, help_heading = "Alliance")]
    pub alliance_within_effect: f64,

    /// SD of the therapist intercept (score points).
    #[arg(
        long,
        default_value_t = 0.75,
        value_name = "SD",
        allow_negative_numbers = true,
        help_heading = "Outcome"
    )]
    pub therapist_sd: f64,
    /// SD of the site intercept (score points).
    #[arg(
        long,
        default_value_t = 0.9,
        value_name = "SD",
        allow_negative_numbers = true,
        help_heading = "Outcome"
    )]
    pub site_sd: f64,
    /// SD of the client-level residual of the post score (score points).
    #[arg(
        long,
        default_value_t = 5.5,
        value_name = "SD",
        allow_negative_numbers = true,
        help_heading = "Outcome"
    )]
    pub residual_sd: f64,
    /// Mean pre score (score points).
    #[arg(
        long,
        default_value_t = 16.0,
        value_name = "X",
        allow_negative_numbers = true,
        help_heading = "Outcome"
    )]
    pub pre_mean: f64,
    /// SD of the pre score (score points).
    #[arg(
        long,
        default_value_t = 5.0,
        value_name = "SD",
        allow_negative_numbers = true,
        help_heading = "Outcome"
    )]
    pub pre_sd: f64,
    /// Post score of a client with average pre and technique effect 0 (score
    /// points).
    #[arg(
        long,
        default_value_t = 9.0,
        value_name = "X",
        allow_negative_numbers = true,
        help_heading = "Outcome"
    )]
    pub post_mean: f64,
    /// Slope of post on pre (post points per pre point).
    #[arg(
        long,
        default_value_t = 0.5,
        value_name = "B",
        allow_negative_numbers = true,
        help_heading = "Outcome"
    )]
    pub pre_slope: f64,
    /// Instrument whose score range clips the scores: PHQ-9, GAD-7, CORE-10,
    /// CORE-OM, OQ-45, BDI-II, WEMWBS, WSAS, ORS.
    #[arg(
        long,
        default_value = "PHQ-9",
        value_name = "NAME",
        help_heading = "Outcome"
    )]
    pub measure: String,
    /// Clip scores to LO,HI instead of the measure's range.
    #[arg(
        long,
        value_name = "LO,HI",
        allow_hyphen_values = true,
        conflicts_with = "no_clip",
        help_heading = "Outcome"
    )]
    pub clip: Option<String>,
    /// Do not clip scores (nor the alliance to 1–5).
    #[arg(long, help_heading = "Outcome")]
    pub no_clip: bool,
    /// Do not round scores to integers (nor the alliance to 2 decimals).
    #[arg(long, help_heading = "Outcome")]
    pub no_round: bool,

    /// Dropout probability ρ of a client with average pre score.
    #[arg(
        long,
        default_value_t = 0.2,
        value_name = "P",
        allow_negative_numbers = true,
        help_heading = "Dropout and sessions"
    )]
    pub dropout: f64,
    /// Change in the log-odds of dropout per pre-score SD (0 = missing
    /// completely at random; > 0: more severe clients drop out more).
    #[arg(
        long,
        default_value_t = 0.3,
        value_name = "G",
        allow_negative_numbers = true,
        help_heading = "Dropout and sessions"
    )]
    pub dropout_pre_slope: f64,
    /// Mean planned number of sessions (2 + Poisson; at least 2).
    #[arg(
        long,
        default_value_t = 8.0,
        value_name = "M",
        allow_negative_numbers = true,
        help_heading = "Dropout and sessions"
    )]
    pub sessions_mean: f64,
    /// Most planned sessions.
    #[arg(
        long,
        default_value_t = 20,
        value_name = "N",
        help_heading = "Dropout and sessions"
    )]
    pub sessions_max: u32,
    /// SD of the session-to-session noise of intermediate scores in --long
    /// output (score points).
    #[arg(
        long,
        default_value_t = 2.0,
        value_name = "SD",
        allow_negative_numbers = true,
        help_heading = "Dropout and sessions"
    )]
    pub session_sd: f64,

    /// What goes to stdout when the data go to a file: a readable summary
    /// (table), one JSON object (json) or the shares as CSV (csv). Without -o
    /// the data themselves go to stdout as CSV.
    #[arg(long, value_enum, default_value_t = OutFormat::Table, help_heading = "Output")]
    pub format: OutFormat,
    /// Write the data to FILE (.csv, .tsv or .parquet; atomically).
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        help_heading = "Output"
    )]
    pub output: Option<PathBuf>,
}

fn parse_clip(text: &str) -> Result<(f64, f64)> {
    let bad = || {
        Error::input(format!(
            "--clip {text}: give the range as LO,HI with two numbers, LO < HI (e.g. --clip 0,27)"
        ))
    };
    let (lo, hi) = text.split_once(',').ok_or_else(bad)?;
    let lo: f64 = lo.trim().parse().map_err(|_| bad())?;
    let hi: f64 = hi.trim().parse().map_err(|_| bad())?;
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(bad());
    }
    Ok((lo, hi))
}

impl SimulateArgs {
    /// The generator's parameters (validated).
    pub fn params(&self) -> Result<SimParams> {
        let range = measure_range(&self.measure).ok_or_else(|| {
            let known: Vec<&str> = crate::simulate::MEASURE_RANGES
                .iter()
                .map(|m| m.0)
                .collect();
            Error::input(format!(
                "--measure {}: unknown instrument; accepted: {}",
                crate::error::shorten(&self.measure),
                known.join(", ")
            ))
        })?;
        let clip = if self.no_clip {
            None
        } else if let Some(c) = &self.clip {
            Some(parse_clip(c)?)
        } else {
            Some(range)
        };
        let canonical = crate::simulate::MEASURE_RANGES
            .iter()
            .find(|m| m.0.eq_ignore_ascii_case(&self.measure))
            .map(|m| m.0.to_string());
        let p = SimParams {
            clients: self.clients,
            therapists: self.therapists,
            sites: self.sites,
            seed: self.seed,
            caseload_dispersion: self.caseload_dispersion,
            techniques: self
                .techniques
                .iter()
                .map(|t| t.trim().to_string())
                .collect(),
            technique_effects: self.technique_effects.clone(),
            technique_preference: self.technique_preference,
            alliance_mean: self.alliance_mean,
            alliance_therapist_sd: self.alliance_therapist_sd,
            alliance_client_sd: self.alliance_client_sd,
            alliance_between_effect: self.alliance_between_effect,
            alliance_within_effect: self.alliance_within_effect,
            therapist_sd: self.therapist_sd,
            site_sd: self.site_sd,
            residual_sd: self.residual_sd,
            pre_mean: self.pre_mean,
            pre_sd: self.pre_sd,
            post_mean: self.post_mean,
            pre_slope: self.pre_slope,
            measure: canonical,
            clip,
            clip_alliance: !self.no_clip,
            round: !self.no_round,
            dropout: self.dropout,
            dropout_pre_slope: self.dropout_pre_slope,
            sessions_mean: self.sessions_mean,
            sessions_max: self.sessions_max,
            session_sd: self.session_sd,
        };
        p.validate()?;
        Ok(p)
    }
}

/// The parameters as reported in JSON: every population parameter plus the
/// layout.
#[derive(Debug, Serialize)]
pub struct Parameters {
    #[serde(flatten)]
    pub sim: SimParams,
    pub long: bool,
}

/// Where the data went.
#[derive(Debug, Serialize)]
pub struct OutputInfo {
    pub path: String,
    /// Data rows written (clients, or sessions with `--long`).
    pub rows: usize,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// `wide` (one row per client) or `long` (one row per session).
    pub layout: &'static str,
    pub clients: usize,
    pub dropouts: usize,
}

/// The JSON object of `outcomes simulate --format json`.
#[derive(Debug, Serialize)]
pub struct SimulateReport {
    pub command: &'static str,
    pub version: &'static str,
    /// No input file: the data are generated.
    pub input: Option<()>,
    pub parameters: Parameters,
    pub output: OutputInfo,
    pub population: Population,
    /// Caseload (clients per therapist): min, median, max.
    pub caseload: Caseload,
}

#[derive(Debug, Serialize)]
pub struct Caseload {
    pub min: usize,
    pub median: f64,
    pub max: usize,
}

fn caseload(sim: &crate::simulate::Simulation) -> Caseload {
    let mut n = vec![0usize; sim.params.therapists];
    for c in &sim.clients {
        n[c.therapist] += 1;
    }
    n.sort_unstable();
    let m = n.len();
    let median = if m % 2 == 1 {
        n[m / 2] as f64
    } else {
        (n[m / 2 - 1] + n[m / 2]) as f64 / 2.0
    };
    Caseload {
        min: n[0],
        median,
        max: n[m - 1],
    }
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.2}%", 100.0 * x)
    } else {
        "NA".to_string()
    }
}

fn share(pop: &Population, factor: &str, what: &str) -> f64 {
    pop.shares
        .get(factor)
        .and_then(|v| v.get(what))
        .and_then(|v| v.as_f64())
        .unwrap_or(f64::NAN)
}

/// The readable summary printed when the data go to a file.
pub fn render_table(r: &SimulateReport) -> String {
    let p = &r.parameters.sim;
    let pop = &r.population;
    let mut s = String::new();
    s.push_str(&format!(
        "outcomes simulate: wrote {} rows ({}) to {}\n",
        r.output.rows,
        if r.parameters.long {
            "long, one per attended session"
        } else {
            "wide, one per client"
        },
        r.output.path
    ));
    s.push_str(&format!(
        "  seed {}; {} clients, {} therapists, {} sites; techniques {}\n",
        p.seed,
        p.clients,
        p.therapists,
        p.sites,
        p.techniques.join(", ")
    ));
    s.push_str(&format!(
        "  caseloads {}–{} (median {}); dropouts {} ({}; expected {})\n",
        r.caseload.min,
        r.caseload.max,
        crate::data::table::format_num(r.caseload.median),
        r.output.dropouts,
        pct(r.output.dropouts as f64 / r.output.clients as f64),
        pct(pop.expected_dropout)
    ));
    s.push_str(&format!("  sha256 {}\n\n", r.output.sha256));
    s.push_str("Population shares of post-score variance (analytic truth of these parameters)\n");
    s.push_str(&format!(
        "  {:<14}{:>9}{:>9}{:>9}\n",
        "factor", "shapley", "alone", "unique"
    ));
    for f in FACTORS {
        s.push_str(&format!(
            "  {:<14}{:>9}{:>9}{:>9}\n",
            f,
            pct(share(pop, f, "shapley")),
            pct(share(pop, f, "alone")),
            pct(share(pop, f, "unique"))
        ));
    }
    s.push_str(&format!(
        "  {:<14}{:>9}\n",
        "unexplained",
        pct(pop.unexplained)
    ));
    s.push_str(&format!(
        "  ICC therapist {}, site {}; Var(post) = {:.4} points²\n",
        pct(pop.icc.therapist),
        pct(pop.icc.site),
        pop.var_y
    ));
    s.push_str(&wrap(&format!("Note: {}.", pop.note), 78, "  "));
    s
}

/// Greedy word wrap to `width` columns, each line indented.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty()
            && indent.len() + line.chars().count() + 1 + word.chars().count() > width
        {
            out.push_str(&format!("{indent}{line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{indent}{line}\n"));
    }
    out
}

/// `--format csv` with `-o`: the shares as CSV.
fn shares_csv(pop: &Population) -> String {
    let mut s = String::from("factor,shapley,alone,unique\n");
    for f in FACTORS {
        s.push_str(&format!(
            "{f},{},{},{}\n",
            share(pop, f, "shapley"),
            share(pop, f, "alone"),
            share(pop, f, "unique")
        ));
    }
    s.push_str(&format!("unexplained,{},NA,NA\n", pop.unexplained));
    s
}

/// Runs `outcomes simulate`.
pub fn run(args: &SimulateArgs) -> Result<()> {
    if args.output.is_none() && args.format == OutFormat::Json {
        return Err(Error::input(
            "--format json: the JSON report goes to stdout only when the data go to a file; \
             add -o FILE (e.g. -o clinic.csv), or drop --format json to get the data as CSV on stdout",
        ));
    }
    let params = args.params()?;
    // Check the output file type before any work.
    if let Some(path) = &args.output {
        crate::data::write::WriteFormat::from_path(path)?;
    }
    let sim = simulate(&params)?;
    let table = if args.long {
        sim.long_table()
    } else {
        sim.wide_table()
    };
    let Some(path) = &args.output else {
        return emit(&table_to_csv_string(&table, b','), None);
    };
    let bytes = encode_table(&table, path)?;
    write_atomic(path, &bytes)?;
    let report = SimulateReport {
        command: "simulate",
        version: crate::VERSION,
        input: None,
        parameters: Parameters {
            sim: params.clone(),
            long: args.long,
        },
        output: OutputInfo {
            path: path.display().to_string(),
            rows: table.nrows(),
            sha256: sha256_hex(&bytes),
            layout: if args.long { "long" } else { "wide" },
            clients: sim.clients.len(),
            dropouts: sim.dropouts(),
        },
        population: population(&params),
        caseload: caseload(&sim),
    };
    let text = match args.format {
        OutFormat::Json => to_json(&report)?,
        OutFormat::Table => render_table(&report),
        OutFormat::Csv => shares_csv(&report.population),
    };
    emit(&text, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        a: SimulateArgs,
    }

    fn parse(args: &[&str]) -> SimulateArgs {
        let mut v = vec!["simulate"];
        v.extend_from_slice(args);
        Wrap::try_parse_from(v).unwrap().a
    }

    #[test]
    fn defaults_match_the_library() {
        let p = parse(&[]).params().unwrap();
        assert_eq!(p, SimParams::default());
    }

    #[test]
    fn flags_map_to_parameters() {
        let a = parse(&[
            "--technique-effects",
            "-1,0,1,2",
            "--clip",
            "-5,5",
            "--alliance-between-effect",
            "-3",
            "--measure",
            "gad-7",
        ]);
        let p = a.params().unwrap();
        assert_eq!(p.technique_effects, vec![-1.0, 0.0, 1.0, 2.0]);
        assert_eq!(p.clip, Some((-5.0, 5.0)));
        assert_eq!(p.alliance_between_effect, -3.0);
        assert_eq!(p.measure.as_deref(), Some("GAD-7"));
        let p = parse(&["--measure", "GAD-7"]).params().unwrap();
        assert_eq!(p.clip, Some((0.0, 21.0)));
        let p = parse(&["--no-clip", "--no-round"]).params().unwrap();
        assert_eq!(p.clip, None);
        assert!(!p.clip_alliance && !p.round);
        let e = parse(&["--therapist-sd", "-1"]).params().unwrap_err();
        assert!(e.to_string().contains("--therapist-sd -1"), "{e}");
        let e = parse(&["--clip", "3"]).params().unwrap_err();
        assert!(e.to_string().contains("--clip 3"), "{e}");
    }
}
