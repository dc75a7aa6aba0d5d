//! `outcomes report [DATA]` (contract §report): the analyses the roles allow,
//! written as a self-contained report folder. See [`crate::report`].

use crate::cli::common::InputArgs;
use crate::error::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Folder to write (replaced atomically if it exists). Default:
    /// reports/<dataset-name>/.
    #[arg(long = "out", value_name = "DIR", help_heading = "Report")]
    pub out: Option<PathBuf>,
    /// Bootstrap replications for the variance shares' intervals.
    #[arg(long, default_value_t = 1000, help_heading = "Report")]
    pub bootstrap: usize,
    /// Seed of the bootstrap: the same data and seed give the same files.
    #[arg(long, default_value_t = 1, help_heading = "Report")]
    pub seed: u64,
    /// Built-in instrument of the pre and post scores (PHQ-9, GAD-7,
    /// CORE-10, ...); PHQ-9 for the bundled demo data.
    #[arg(long, value_name = "NAME", help_heading = "Report")]
    pub measure: Option<String>,
    /// Reliability of the measure, if it is not a built-in instrument.
    #[arg(long, value_name = "R", help_heading = "Report")]
    pub reliability: Option<f64>,
    /// Confidence level in percent.
    #[arg(long, default_value_t = 95.0, help_heading = "Report")]
    pub level: f64,
    /// Show exact small counts (by default counts of 1-7 are shown as * and
    /// others rounded to 5, the NHS Digital rule). Only for internal use.
    #[arg(long, help_heading = "Report")]
    pub no_suppression: bool,
    /// Study-level data: column with the effect sizes (e.g. Hedges' g). The
    /// report is then a meta-analysis (random effects, REML, Knapp–Hartung).
    #[arg(long, value_name = "COL", help_heading = "Study-level data")]
    pub yi: Option<String>,
    /// Study-level data: column with the sampling variances.
    #[arg(
        long,
        value_name = "COL",
        requires = "yi",
        help_heading = "Study-level data"
    )]
    pub vi: Option<String>,
    /// Study-level data: column with the standard errors (instead of --vi).
    #[arg(
        long,
        value_name = "COL",
        requires = "yi",
        conflicts_with = "vi",
        help_heading = "Study-level data"
    )]
    pub sei: Option<String>,
    /// Study-level data: column with the study labels.
    #[arg(
        long,
        value_name = "COL",
        requires = "yi",
        help_heading = "Study-level data"
    )]
    pub slab: Option<String>,
    /// Study-level data: pooled estimates per level of this column, and
    /// the test of their difference.
    #[arg(
        long,
        value_name = "COL",
        requires = "yi",
        help_heading = "Study-level data"
    )]
    pub subgroup: Option<String>,
    /// Folder of the study-level datasets (e.g. ../shared/datasets) for the
    /// published claims recomputed from them in the replication section;
    /// without it that section recomputes only the claims that need no data
    /// besides this dataset.
    #[arg(long, value_name = "DIR", help_heading = "Report")]
    pub data_dir: Option<PathBuf>,
    /// PNG resolution of the figures.
    #[arg(long, default_value_t = crate::plot::DEFAULT_DPI, help_heading = "Report")]
    pub dpi: u32,
}

pub fn run(args: &ReportArgs) -> Result<()> {
    let report = crate::report::build(args)?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| crate::report::default_dir(&args.input));
    // argv[0] as the command's name, so that provenance does not depend on
    // where the binary was built
    let command_line: Vec<String> = std::iter::once("outcomes".to_string())
        .chain(std::env::args().skip(1))
        .collect();
    let files = crate::report::write(&report, &dir, &command_line)?;
    eprintln!(
        "outcomes report: wrote {} files to {}/ (open {}/index.html)",
        files.len(),
        dir.display(),
        dir.display()
    );
    Ok(())
}
