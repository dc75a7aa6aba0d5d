//! `outcomes replicate [CLAIMS.toml]` (contract §replicate): recomputes the
//! field's published claims (the built-in registry, or a claims file) and
//! gives each a verdict. See [`crate::claims`].

use crate::claims::evaluate::{evaluate, Context, Outcome, Verdict};
use crate::claims::{parse, BUILTIN};
use crate::cli::common::{FigureArgs, OutputArgs};
use crate::error::{Error, Result};
use crate::output::{emit, to_json, OutFormat};
use crate::plot::replication::{self as chart, ClaimRow, ReplicationPlot};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct ReplicateArgs {
    /// Claims file (TOML); without it, the built-in registry
    /// (`--registry` prints it as an example of the format).
    #[arg(value_name = "CLAIMS.toml")]
    pub claims: Option<PathBuf>,
    /// Folder where datasets that are not bundled are found, e.g.
    /// ../shared/datasets (the Metapsy and metadat files).
    #[arg(long, value_name = "DIR", help_heading = "Data")]
    pub data_dir: Option<PathBuf>,
    /// Client-level data (clients nested in therapists) for the claims that
    /// need them (therapist effects).
    #[arg(long, value_name = "FILE", help_heading = "Data")]
    pub clients: Option<PathBuf>,
    /// Study spec (TOML) with the column roles of --clients.
    #[arg(long, value_name = "FILE", help_heading = "Data", requires = "clients")]
    pub spec: Option<PathBuf>,
    #[command(flatten)]
    pub roles: ClientRoles,
    /// Only these claims (comma-separated ids).
    #[arg(
        long,
        value_name = "IDS",
        value_delimiter = ',',
        help_heading = "Claims"
    )]
    pub only: Option<Vec<String>>,
    /// Print the built-in registry (TOML) and exit.
    #[arg(long, help_heading = "Claims")]
    pub registry: bool,
    /// Bootstrap replications for the claims' intervals (overrides the
    /// claims file; default 1000 for variance claims, 10000 parametric draws
    /// for moderator shares).
    #[arg(long, value_name = "N", help_heading = "Claims")]
    pub bootstrap: Option<usize>,
    /// Seed of every bootstrap (overrides the claims file; default 1).
    #[arg(long, value_name = "N", help_heading = "Claims")]
    pub seed: Option<u64>,
    /// Confidence level in percent.
    #[arg(long, default_value_t = 95.0, help_heading = "Claims")]
    pub level: f64,
    #[command(flatten)]
    pub figure: FigureArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Column roles of the --clients file (as for `outcomes variance`).
#[derive(Args, Debug, Clone, Default)]
pub struct ClientRoles {
    /// --clients: column with the therapist ID.
    #[arg(
        long,
        value_name = "COL",
        help_heading = "Roles of --clients",
        requires = "clients"
    )]
    pub therapist: Option<String>,
    /// --clients: column with the site ID.
    #[arg(
        long,
        value_name = "COL",
        help_heading = "Roles of --clients",
        requires = "clients"
    )]
    pub site: Option<String>,
    /// --clients: column with the client ID.
    #[arg(
        long,
        value_name = "COL",
        help_heading = "Roles of --clients",
        requires = "clients"
    )]
    pub client: Option<String>,
    /// --clients: column with the technique.
    #[arg(
        long,
        value_name = "COL",
        help_heading = "Roles of --clients",
        requires = "clients"
    )]
    pub technique: Option<String>,
    /// --clients: column with the alliance score.
    #[arg(
        long,
        value_name = "COL",
        help_heading = "Roles of --clients",
        requires = "clients"
    )]
    pub alliance: Option<String>,
    /// --clients: column with the pre-treatment score.
    #[arg(
        long,
        value_name = "COL",
        help_heading = "Roles of --clients",
        requires = "clients"
    )]
    pub pre: Option<String>,
    /// --clients: column with the post-treatment score (the outcome).
    #[arg(
        long,
        value_name = "COL",
        help_heading = "Roles of --clients",
        requires = "clients"
    )]
    pub post: Option<String>,
    /// --clients: case-mix covariates (comma-separated).
    #[arg(
        long,
        value_name = "COLS",
        help_heading = "Roles of --clients",
        requires = "clients"
    )]
    pub covariates: Option<String>,
    /// --clients: keep only rows matching a condition (as `--where` of the other commands).
    #[arg(
        long = "where",
        value_name = "CONDITION",
        help_heading = "Roles of --clients",
        requires = "clients"
    )]
    pub filter: Option<String>,
}

impl ClientRoles {
    /// The flags as a command line.
    fn argv(&self) -> Vec<String> {
        let mut v = Vec::new();
        for (name, value) in [
            ("therapist", &self.therapist),
            ("site", &self.site),
            ("client", &self.client),
            ("technique", &self.technique),
            ("alliance", &self.alliance),
            ("pre", &self.pre),
            ("post", &self.post),
            ("covariates", &self.covariates),
            ("where", &self.filter),
        ] {
            if let Some(x) = value {
                v.push(format!("--{name}"));
                v.push(x.clone());
            }
        }
        v
    }
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub replicated: usize,
    pub not_replicated: usize,
    pub not_computable: usize,
}

#[derive(Debug, Serialize)]
pub struct ClaimsInput {
    pub path: String,
    pub sha256: String,
    pub rows_read: usize,
    pub rows_used: usize,
}

#[derive(Debug, Serialize)]
pub struct ReplicateReport {
    pub command: &'static str,
    pub version: &'static str,
    /// The claims file (`rows_*` count claims).
    pub input: ClaimsInput,
    pub data_dir: Option<String>,
    pub level: f64,
    pub claims: Vec<Outcome>,
    pub summary: Summary,
}

/// Runs the claims of `args` (used by `outcomes report` too).
pub fn build(args: &ReplicateArgs) -> Result<ReplicateReport> {
    if !(args.level > 0.0 && args.level < 100.0) {
        return Err(Error::input(format!(
            "--level {}: accepted a confidence level in percent, between 0 and 100 (e.g. 95)",
            args.level
        )));
    }
    let (text, origin) = match &args.claims {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|e| {
                Error::input(format!(
                    "cannot read the claims file '{}': {e}",
                    p.display()
                ))
            })?,
            p.display().to_string(),
        ),
        None => (BUILTIN.to_string(), "built-in registry".to_string()),
    };
    let mut claims = parse(&text, &origin)?;
    let read = claims.len();
    if let Some(only) = &args.only {
        for id in only {
            if !claims.iter().any(|c| &c.spec.id == id) {
                return Err(Error::input(format!(
                    "--only: no claim '{id}' in the {origin}; its ids are: {}",
                    claims
                        .iter()
                        .map(|c| c.spec.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        claims.retain(|c| only.contains(&c.spec.id));
    }
    if let Some(dir) = &args.data_dir {
        if !dir.is_dir() {
            return Err(Error::input(format!(
                "--data-dir '{}': not a folder (accepted: the folder that holds the datasets, e.g. ../shared/datasets)",
                dir.display()
            )));
        }
    }
    if let Some(c) = &args.clients {
        if !c.is_file() {
            return Err(Error::input(format!(
                "--clients '{}': no such file (accepted: a client-level data file, .csv .tsv .txt .parquet .xlsx)",
                c.display()
            )));
        }
    }
    let clients = args.clients.as_ref().map(|c| {
        let mut v = vec![c.display().to_string()];
        if let Some(s) = &args.spec {
            v.push("--spec".into());
            v.push(s.display().to_string());
        }
        v.extend(args.roles.argv());
        v
    });
    let ctx = Context {
        data_dir: args.data_dir.clone(),
        base_dir: args
            .claims
            .as_ref()
            .and_then(|p| p.parent().map(|d| d.to_path_buf())),
        clients,
        level: args.level,
        bootstrap: args.bootstrap,
        seed: args.seed,
        ..Default::default()
    };
    let outcomes = claims
        .iter()
        .map(|c| evaluate(c, &ctx))
        .collect::<Result<Vec<_>>>()?;
    Ok(ReplicateReport::new(
        origin,
        &text,
        read,
        args.data_dir.as_ref(),
        args.level,
        outcomes,
    ))
}

impl ReplicateReport {
    /// The report of evaluated claims from the claims file `text` (named
    /// `origin`, `rows_read` claims in it).
    pub fn new(
        origin: String,
        text: &str,
        rows_read: usize,
        data_dir: Option<&PathBuf>,
        level: f64,
        claims: Vec<Outcome>,
    ) -> ReplicateReport {
        let count = |v: Verdict| claims.iter().filter(|o| o.verdict == v).count();
        ReplicateReport {
            command: "replicate",
            version: crate::VERSION,
            input: ClaimsInput {
                path: origin,
                sha256: crate::data::load::sha256_hex(text.as_bytes()),
                rows_read,
                rows_used: claims.len(),
            },
            data_dir: data_dir.map(|d| d.display().to_string()),
            level,
            summary: Summary {
                replicated: count(Verdict::Replicated),
                not_replicated: count(Verdict::NotReplicated),
                not_computable: count(Verdict::NotComputable),
            },
            claims,
        }
    }
}

/// The replication chart of the computable claims.
pub fn chart_of(r: &ReplicateReport) -> ReplicationPlot {
    let rows = r
        .claims
        .iter()
        .filter_map(|o| {
            let value = o.recomputed?;
            Some(ClaimRow {
                // a test rule decides on p, not on the distance of the marks
                label: match o.test_p {
                    Some(p) => format!("{} (p {})", o.label, crate::output::p_apa(p)),
                    None => o.label.clone(),
                },
                panel: o.quantity_label.to_string(),
                published: o.published.value,
                published_ci: o.published_ci,
                bound: o.published.bound,
                recomputed: value,
                ci: o.ci_lb.zip(o.ci_ub),
                verdict: if o.verdict == Verdict::Replicated {
                    chart::Verdict::Replicated
                } else {
                    chart::Verdict::NotReplicated
                },
            })
        })
        .collect();
    ReplicationPlot {
        rows,
        title: "Published claims and their recomputation".to_string(),
    }
}

fn num(x: Option<f64>) -> String {
    x.map_or("NA".into(), |v| format!("{v}"))
}

pub fn render_table(r: &ReplicateReport) -> String {
    let mut o = String::new();
    o.push_str(&format!(
        "Replication of {} claims ({}; data: {})\n\n",
        r.claims.len(),
        r.input.path,
        r.data_dir
            .as_deref()
            .unwrap_or("bundled only; pass --data-dir for the others")
    ));
    for c in &r.claims {
        let value = match (c.recomputed, c.ci_lb, c.ci_ub) {
            (Some(v), Some(a), Some(b)) => format!("{} [{}, {}]", short(v), short(a), short(b)),
            (Some(v), _, _) => short(v),
            _ => "–".into(),
        };
        o.push_str(&format!(
            "{:<32} {}\n",
            c.id,
            c.verdict.text().to_uppercase()
        ));
        o.push_str(&format!(
            "  claim:       {} (published {}: {})\n",
            c.statement, c.quantity, c.claim
        ));
        o.push_str(&format!("  source:      {}\n", c.source));
        o.push_str(&format!(
            "  recomputed:  {value}{}\n",
            if c.illustration {
                "  (illustration, simulated data)"
            } else {
                ""
            }
        ));
        o.push_str(&format!("  computation: {}\n", c.computation));
        o.push_str(&format!("  reason:      {}\n\n", c.reason));
    }
    o.push_str(&format!(
        "{} replicated, {} not replicated, {} not computable (rule per claim; level {}%).\n",
        r.summary.replicated, r.summary.not_replicated, r.summary.not_computable, r.level
    ));
    o
}

/// Four significant digits, enough to compare with any printed claim.
fn short(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let mag = x.abs().log10().floor() as i32;
    let d = (3 - mag).clamp(0, 6) as usize;
    format!("{x:.d$}")
}

fn render_csv(r: &ReplicateReport) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let wrap = |e: csv::Error| Error::other(format!("cannot write CSV: {e}"));
    w.write_record([
        "id",
        "source",
        "claim",
        "recomputed",
        "ci_lb",
        "ci_ub",
        "verdict",
        "reason",
        "quantity",
        "rule",
        "illustration",
        "computation",
    ])
    .map_err(wrap)?;
    for c in &r.claims {
        w.write_record([
            c.id.as_str(),
            c.source.as_str(),
            c.claim.as_str(),
            &num(c.recomputed),
            &num(c.ci_lb),
            &num(c.ci_ub),
            c.verdict.text(),
            c.reason.as_str(),
            c.quantity,
            c.rule,
            if c.illustration { "true" } else { "false" },
            c.computation.as_str(),
        ])
        .map_err(wrap)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::other(format!("cannot write CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::other(e.to_string()))
}

pub fn run(args: &ReplicateArgs) -> Result<()> {
    if args.registry {
        return emit(BUILTIN, args.out.output.as_deref());
    }
    let r = build(args)?;
    args.figure.save(&chart_of(&r))?;
    let text = match args.out.format {
        OutFormat::Json => to_json(&r)?,
        OutFormat::Table => render_table(&r),
        OutFormat::Csv => render_csv(&r)?,
    };
    emit(&text, args.out.output.as_deref())
}
