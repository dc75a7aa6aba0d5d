//! Arguments every data command shares: DATA, the role flags, `--spec`,
//! `--where`, and the output options. Their meaning is fixed by the contract
//! ("Conventions for every command").

use crate::data::input::InputRequest;
use crate::data::roles::RoleNames;
use crate::data::table::Table;
use crate::error::{Error, Problem, Problems, Result};
use crate::output::OutFormat;
use clap::Args;
use std::path::PathBuf;

/// DATA, roles, spec and filter.
#[derive(Args, Debug, Clone, Default)]
pub struct InputArgs {
    /// Data file: .csv, .tsv, .txt (delimiter ',' ';' or tab, decimal commas
    /// as written by R's write.csv2), .parquet, .xlsx/.xls/.ods. Without DATA
    /// (and without a path in --spec) the bundled demo clinic data are used.
    #[arg(value_name = "DATA")]
    pub data: Option<PathBuf>,

    /// Column with the client (person) ID.
    #[arg(long, value_name = "COL", help_heading = "Column roles")]
    pub client: Option<String>,
    /// Column with the therapist ID.
    #[arg(long, value_name = "COL", help_heading = "Column roles")]
    pub therapist: Option<String>,
    /// Column with the site (clinic, service) ID.
    #[arg(long, value_name = "COL", help_heading = "Column roles")]
    pub site: Option<String>,
    /// Column with the technique (treatment, modality).
    #[arg(long, value_name = "COL", help_heading = "Column roles")]
    pub technique: Option<String>,
    /// Column with the alliance score.
    #[arg(long, value_name = "COL", help_heading = "Column roles")]
    pub alliance: Option<String>,
    /// Column with the pre-treatment (first) score.
    #[arg(long, value_name = "COL", help_heading = "Column roles")]
    pub pre: Option<String>,
    /// Column with the post-treatment (last) score: the outcome.
    #[arg(long, value_name = "COL", help_heading = "Column roles")]
    pub post: Option<String>,
    /// Long data: column with the session number or date.
    #[arg(long, value_name = "COL", help_heading = "Column roles")]
    pub time: Option<String>,
    /// Long data: column with the session-by-session score.
    #[arg(long, value_name = "COL", help_heading = "Column roles")]
    pub score: Option<String>,
    /// Case-mix covariates (comma-separated column names).
    #[arg(
        long,
        value_name = "COLS",
        value_delimiter = ',',
        help_heading = "Column roles"
    )]
    pub covariates: Option<Vec<String>>,

    /// Study spec (TOML) with the data path, roles, filter and privacy
    /// settings; flags win over the spec. See datasets/study.example.toml.
    #[arg(long, value_name = "FILE", help_heading = "Input")]
    pub spec: Option<PathBuf>,
    /// Keep only rows matching an SQL-like condition, e.g.
    /// "time = 'post' AND condition_arm2 = 'wl'" (text in single quotes;
    /// = != < <= > >= IN BETWEEN LIKE IS NULL AND OR NOT).
    #[arg(long = "where", value_name = "CONDITION", help_heading = "Input")]
    pub filter: Option<String>,
    /// Worksheet to read from a spreadsheet (default: the first).
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub sheet: Option<String>,
    /// Quasi-identifier columns for the k-anonymity check (comma-separated).
    #[arg(
        long,
        value_name = "COLS",
        value_delimiter = ',',
        help_heading = "Input"
    )]
    pub quasi_identifiers: Option<Vec<String>>,
    /// Analyse data even though they hold direct identifiers (e-mail, phone,
    /// NHS number, postcode, full dates ...), and let `lmm --ranef` list the
    /// client column's random effects by client ID. Only where that is
    /// permitted.
    #[arg(long, help_heading = "Input")]
    pub allow_identifiers: bool,
}

impl InputArgs {
    /// The request for the input layer.
    pub fn request(&self) -> InputRequest {
        InputRequest {
            data: self.data.clone(),
            roles: RoleNames {
                client: self.client.clone(),
                therapist: self.therapist.clone(),
                site: self.site.clone(),
                technique: self.technique.clone(),
                alliance: self.alliance.clone(),
                pre: self.pre.clone(),
                post: self.post.clone(),
                time: self.time.clone(),
                score: self.score.clone(),
                covariates: self.covariates.clone(),
            },
            spec: self.spec.clone(),
            filter: self.filter.clone(),
            sheet: self.sheet.clone(),
            allow_identifiers: self.allow_identifiers,
            quasi_identifiers: self.quasi_identifiers.clone(),
            extra_scores: Vec::new(),
        }
    }
}

/// `--format` and `-o`.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
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

/// `--plot FILE` with the figure's width and resolution.
#[derive(Args, Debug, Clone)]
pub struct FigureArgs {
    /// Write the command's chart to FILE (.svg or .png; format by extension).
    #[arg(long, value_name = "FILE", help_heading = "Figures")]
    pub plot: Option<PathBuf>,
    /// Figure width: single (85 mm) or double (175 mm) journal column.
    #[arg(long, value_enum, default_value_t = crate::plot::Width::Single, help_heading = "Figures")]
    pub width: crate::plot::Width,
    /// Resolution of PNG figures.
    #[arg(long, default_value_t = crate::plot::DEFAULT_DPI, help_heading = "Figures")]
    pub dpi: u32,
}

impl FigureArgs {
    /// Saves `chart` when `--plot` was given.
    pub fn save(&self, chart: &impl crate::plot::Chart) -> Result<()> {
        match &self.plot {
            Some(path) => crate::plot::save(chart, path, self.width, self.dpi),
            None => Ok(()),
        }
    }
}

/// The numbers of column `col` (NaN where missing), for a flag such as
/// `--yi`: an absent column is an input error listing the columns, and text
/// that is not a number is collected in `problems` with line, column and
/// value (read with the file's decimal mark).
pub fn numeric_column(
    t: &Table,
    col: &str,
    flag: &str,
    problems: &mut Problems,
) -> Result<Vec<f64>> {
    let c = t.column(col).ok_or_else(|| {
        Error::input(format!(
            "{flag} '{col}': {} has no such column; it has: {}",
            t.source.path,
            t.names_for_message()
        ))
    })?;
    if let Some(x) = c.as_num() {
        return Ok(x.to_vec());
    }
    let dc = t.source.decimal_comma;
    let mut out = vec![f64::NAN; c.len()];
    for (r, v) in out.iter_mut().enumerate() {
        if let Some(s) = c.text(r) {
            match crate::data::table::parse_number(&s, dc) {
                Some(x) => *v = x,
                None => {
                    problems.push(
                        Problem::new(t.source.path.as_str(), format!("{flag} needs numbers"))
                            .line(t.line(r))
                            .column(col)
                            .value(&s),
                    );
                }
            }
        }
    }
    Ok(out)
}
