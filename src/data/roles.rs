//! Column roles: which column is the client, the therapist, the pre score ...
//!
//! Roles come from three places, in this order of precedence (contract,
//! "Conventions"): command-line flags, then the `--spec study.toml` file,
//! then recognised common column names. The mapping used, and where each role
//! came from, is always shown (table) or returned (JSON `roles`).
//!
//! The spec file (documented with a commented example in
//! `datasets/study.example.toml`):
//!
//! ```toml
//! [data]
//! path = "demo-clinic.csv"   # used when DATA is not given; relative to the spec
//! where = "technique != 'PCE'"
//! [roles]
//! client = "client"
//! therapist = "therapist"
//! pre = "pre"
//! post = "post"
//! covariates = ["age", "gender"]
//! [privacy]
//! quasi_identifiers = ["age_band", "gender"]
//! ```

use super::table::Table;
use crate::error::{Error, Problem, Problems, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The roles a column can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Client,
    Therapist,
    Site,
    Technique,
    Alliance,
    Pre,
    Post,
    Time,
    Score,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::Client,
        Role::Therapist,
        Role::Site,
        Role::Technique,
        Role::Alliance,
        Role::Pre,
        Role::Post,
        Role::Time,
        Role::Score,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Therapist => "therapist",
            Role::Site => "site",
            Role::Technique => "technique",
            Role::Alliance => "alliance",
            Role::Pre => "pre",
            Role::Post => "post",
            Role::Time => "time",
            Role::Score => "score",
        }
    }
    /// The flag that sets this role.
    pub fn flag(self) -> String {
        format!("--{}", self.name())
    }
    /// Whether the role's column must hold numbers.
    pub fn numeric(self) -> bool {
        matches!(self, Role::Alliance | Role::Pre | Role::Post | Role::Score)
    }
    /// Common column names recognised for the role, in order of preference.
    /// Compared after lower-casing and mapping ' ', '-' and '.' to '_'.
    fn candidates(self) -> &'static [&'static str] {
        match self {
            Role::Client => &[
                "client",
                "client_id",
                "clientid",
                "patient",
                "patient_id",
                "participant",
                "participant_id",
                "subject",
                "subject_id",
                "case_id",
                "pid",
                "id",
            ],
            Role::Therapist => &[
                "therapist",
                "therapist_id",
                "therapistid",
                "clinician",
                "clinician_id",
                "counsellor",
                "counselor",
                "practitioner",
                "provider",
            ],
            Role::Site => &[
                "site",
                "site_id",
                "clinic",
                "clinic_id",
                "service",
                "centre",
                "center",
            ],
            Role::Technique => &[
                "technique",
                "treatment",
                "therapy",
                "modality",
                "intervention",
                "therapy_type",
                "treatment_type",
            ],
            Role::Alliance => &[
                "alliance",
                "wai",
                "wai_sr",
                "working_alliance",
                "alliance_score",
                "srs",
            ],
            Role::Pre => &[
                "pre",
                "pre_score",
                "score_pre",
                "baseline",
                "pretest",
                "pre_phq9",
                "phq9_pre",
                "first_score",
                "intake",
            ],
            Role::Post => &[
                "post",
                "post_score",
                "score_post",
                "posttest",
                "post_phq9",
                "phq9_post",
                "last_score",
                "outcome",
                "discharge",
            ],
            Role::Time => &[
                "session",
                "session_number",
                "visit",
                "occasion",
                "wave",
                "week",
            ],
            Role::Score => &["score"],
        }
    }
}

/// Where a role's column came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleSource {
    Flag,
    Spec,
    Detected,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    pub role: Role,
    pub column: String,
    pub source: RoleSource,
}

/// Roles as requested (flags or spec), before resolution against a table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleNames {
    pub client: Option<String>,
    pub therapist: Option<String>,
    pub site: Option<String>,
    pub technique: Option<String>,
    pub alliance: Option<String>,
    pub pre: Option<String>,
    pub post: Option<String>,
    pub time: Option<String>,
    pub score: Option<String>,
    pub covariates: Option<Vec<String>>,
}

impl RoleNames {
    pub fn get(&self, role: Role) -> Option<&String> {
        match role {
            Role::Client => self.client.as_ref(),
            Role::Therapist => self.therapist.as_ref(),
            Role::Site => self.site.as_ref(),
            Role::Technique => self.technique.as_ref(),
            Role::Alliance => self.alliance.as_ref(),
            Role::Pre => self.pre.as_ref(),
            Role::Post => self.post.as_ref(),
            Role::Time => self.time.as_ref(),
            Role::Score => self.score.as_ref(),
        }
    }
}

/// The `--spec` file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default)]
    pub data: SpecData,
    #[serde(default)]
    pub roles: RoleNames,
    #[serde(default)]
    pub privacy: SpecPrivacy,
    /// A user-defined outcome measure (used by `change` like a built-in one).
    pub measure: Option<SpecMeasure>,
    /// Where the spec file lives (relative data paths resolve against it).
    #[serde(skip)]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecData {
    pub path: Option<String>,
    pub sheet: Option<String>,
    #[serde(rename = "where")]
    pub filter: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecPrivacy {
    #[serde(default)]
    pub quasi_identifiers: Vec<String>,
}

/// `[measure]`: an instrument that is not built in.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecMeasure {
    pub name: String,
    /// Lowest and highest possible scores.
    pub min: f64,
    pub max: f64,
    /// "lower" or "higher": which direction is improvement.
    pub better: String,
    pub reliability: Option<f64>,
    /// Clinical cut-off (scores on the clinical side of it are cases).
    pub cutoff: Option<f64>,
    /// Published reliable-change criterion in points.
    pub rc_points: Option<f64>,
    /// Functional (non-clinical) population mean and SD, for cut-offs b and c.
    pub norm_mean: Option<f64>,
    pub norm_sd: Option<f64>,
    /// Where the values come from (printed with the results).
    pub source: Option<String>,
}

impl Spec {
    /// Reads and parses a spec file; TOML errors name the line and column.
    pub fn read(path: &Path) -> Result<Spec> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::input(format!("--spec {shown}: no such file"))
            } else {
                Error::input(format!("--spec {shown}: cannot read as UTF-8 text: {e}"))
            }
        })?;
        let mut spec = Spec::parse(&shown, &text)?;
        spec.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(spec)
    }

    pub fn parse(shown: &str, text: &str) -> Result<Spec> {
        toml::from_str::<Spec>(text).map_err(|e| {
            let mut p = Problem::new(
                shown,
                format!(
                    "{}; accepted sections: [data] (path, sheet, where), [roles] (client, \
                     therapist, site, technique, alliance, pre, post, time, score, covariates), \
                     [privacy] (quasi_identifiers), [measure] (name, min, max, better, \
                     reliability, cutoff, rc_points, norm_mean, norm_sd, source)",
                    e.message()
                ),
            );
            if let Some(span) = e.span() {
                let line = 1 + text[..span.start.min(text.len())].matches('\n').count();
                p = p.line(line as u64);
            }
            Error::problem(p)
        })
    }

    /// The data path named in the spec, resolved against the spec's folder.
    pub fn data_path(&self) -> Option<PathBuf> {
        self.data.path.as_ref().map(|p| {
            let p = PathBuf::from(p);
            if p.is_absolute() {
                p
            } else {
                self.dir.join(p)
            }
        })
    }
}

fn normalise(name: &str) -> String {
    name.trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if matches!(c, ' ' | '-' | '.') { '_' } else { c })
        .collect()
}

/// Roles resolved against a table: each role to at most one existing column.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Roles {
    pub assigned: Vec<Assignment>,
    pub covariates: Vec<String>,
    pub covariates_source: Option<RoleSource>,
}

impl Roles {
    pub fn get(&self, role: Role) -> Option<&str> {
        self.assigned
            .iter()
            .find(|a| a.role == role)
            .map(|a| a.column.as_str())
    }
    pub fn has(&self, role: Role) -> bool {
        self.get(role).is_some()
    }
    /// Replaces (or adds) a role's column.
    pub fn set(&mut self, role: Role, column: &str, source: RoleSource) {
        self.assigned.retain(|a| a.role != role);
        self.assigned.push(Assignment {
            role,
            column: column.to_string(),
            source,
        });
        self.assigned.sort_by_key(|a| a.role);
    }
    pub fn remove(&mut self, role: Role) {
        self.assigned.retain(|a| a.role != role);
    }
    /// The mapping as a JSON object: role → {column, source}.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for a in &self.assigned {
            m.insert(
                a.role.name().to_string(),
                serde_json::json!({"column": a.column, "source": a.source}),
            );
        }
        if !self.covariates.is_empty() {
            m.insert(
                "covariates".into(),
                serde_json::json!({"columns": self.covariates, "source": self.covariates_source}),
            );
        }
        serde_json::Value::Object(m)
    }
    /// Lines like `therapist  = therapist_id (detected)` for table output.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for a in &self.assigned {
            let src = match a.source {
                RoleSource::Flag => "from flag",
                RoleSource::Spec => "from spec",
                RoleSource::Detected => "recognised by name",
            };
            s.push_str(&format!("  {:<10} = {} ({src})\n", a.role.name(), a.column));
        }
        if !self.covariates.is_empty() {
            s.push_str(&format!(
                "  {:<10} = {}\n",
                "covariates",
                self.covariates.join(", ")
            ));
        }
        if s.is_empty() {
            s.push_str("  (no roles given or recognised)\n");
        }
        s
    }
}

/// Resolves roles: flags, then spec, then recognised names. A named column
/// that does not exist is an input error listing the file's columns.
pub fn resolve(table: &Table, flags: &RoleNames, spec: Option<&Spec>) -> Result<Roles> {
    let file = &table.source.path;
    let mut roles = Roles::default();
    let mut problems = Problems::new();
    let missing_column = |what: String, name: &str| {
        Problem::new(
            file.as_str(),
            format!(
                "{what} names the column '{name}', which the file does not have; the file has: {}",
                table.names_for_message()
            ),
        )
    };
    for role in Role::ALL {
        let (name, source) = match (flags.get(role), spec.and_then(|s| s.roles.get(role))) {
            (Some(n), _) => (n, RoleSource::Flag),
            (None, Some(n)) => (n, RoleSource::Spec),
            (None, None) => continue,
        };
        if table.index_of(name).is_none() {
            let what = match source {
                RoleSource::Flag => role.flag(),
                _ => format!("the spec's [roles] {}", role.name()),
            };
            problems.push(missing_column(what, name));
            continue;
        }
        roles.set(role, name, source);
    }
    let covs = match (
        &flags.covariates,
        spec.and_then(|s| s.roles.covariates.as_ref()),
    ) {
        (Some(c), _) => Some((c.clone(), RoleSource::Flag)),
        (None, Some(c)) => Some((c.clone(), RoleSource::Spec)),
        _ => None,
    };
    if let Some((covs, source)) = covs {
        for c in &covs {
            if table.index_of(c).is_none() {
                problems.push(missing_column("--covariates".to_string(), c));
            }
        }
        roles.covariates = covs;
        roles.covariates_source = Some(source);
    }
    problems.into_result(format!("{file}: a role names a column that does not exist"))?;

    // Recognise common names for the roles still open, never giving one
    // column two roles.
    for role in Role::ALL {
        if roles.has(role) {
            continue;
        }
        let taken: Vec<String> = roles.assigned.iter().map(|a| a.column.clone()).collect();
        let found = role.candidates().iter().find_map(|cand| {
            // A recognised name is only a guess: a number role needs a
            // (mostly) numeric column. metadat's text column `outcome`
            // ("pain", "sleep") is no post score; a `post` column with one
            // stray "abc" is, and the stray cell is then reported.
            table.columns.iter().find(|c| {
                normalise(&c.name) == *cand
                    && !taken.contains(&c.name)
                    && (!role.numeric() || mostly_numeric(c, table.source.decimal_comma))
            })
        });
        if let Some(col) = found {
            let name = col.name.clone();
            roles.set(role, &name, RoleSource::Detected);
        }
    }
    Ok(roles)
}

/// At least 90% of the non-missing cells are numbers (and at least one is).
fn mostly_numeric(col: &super::table::Column, decimal_comma: bool) -> bool {
    if col.is_numeric() {
        return true;
    }
    let (n, bad) = col.text_not_numbers(decimal_comma);
    bad.len() < n && (n - bad.len()) as f64 >= 0.9 * n as f64
}

/// Largest magnitude accepted in a numeric role: sums of squares of up to
/// 1e12 such values stay finite in f64 (max about 1.8e308).
pub const MAX_MAGNITUDE: f64 = 1e140;

/// Checks that the columns of numeric roles (and any extra `numeric`
/// columns) hold numbers, and numbers below [`MAX_MAGNITUDE`]. Every text
/// cell (or huge number) is a problem naming its line, column and value; at
/// most 20 are collected.
pub fn check_numeric(table: &Table, roles: &Roles, extra: &[&str]) -> Result<()> {
    let file = &table.source.path;
    let mut problems = Problems::new();
    let mut cols: Vec<(String, String)> = roles
        .assigned
        .iter()
        .filter(|a| a.role.numeric())
        .map(|a| (a.column.clone(), a.role.flag()))
        .collect();
    for e in extra {
        cols.push((e.to_string(), String::new()));
    }
    for (name, flag) in cols {
        let Some(col) = table.column(&name) else {
            continue;
        };
        if let Some(x) = col.as_num() {
            for (row, v) in x.iter().enumerate() {
                if v.abs() > MAX_MAGNITUDE && v.is_finite() {
                    let more = problems.push(
                        Problem::new(
                            file.as_str(),
                            format!(
                                "the number is too large to analyse (its square overflows); \
                                 accepted: magnitudes up to {MAX_MAGNITUDE:e}"
                            ),
                        )
                        .line(table.line(row))
                        .column(name.clone())
                        .value(&col.text(row).unwrap_or_default()),
                    );
                    if !more {
                        break;
                    }
                }
            }
            continue;
        }
        let role = if flag.is_empty() {
            String::new()
        } else {
            format!(" for the {} role", flag.trim_start_matches('-'))
        };
        for row in col.text_not_numbers(table.source.decimal_comma).1 {
            let text = col.text(row).unwrap_or_default();
            let more = problems.push(
                Problem::new(
                    file.as_str(),
                    format!(
                        "expected a number{role}{}; missing values may be written as: {}",
                        if table.source.decimal_comma {
                            " with a decimal comma (e.g. 12,5)"
                        } else {
                            " (e.g. 12.5)"
                        },
                        super::load::missing_tokens_text()
                    ),
                )
                .line(table.line(row))
                .column(name.clone())
                .value(&text),
            );
            if !more {
                break;
            }
        }
    }
    problems.into_result(format!(
        "{file}: a column used as a number holds text or numbers out of range"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::load::parse_delimited;

    fn table(text: &str) -> Table {
        parse_delimited("t.csv", text.as_bytes(), None).unwrap()
    }

    #[test]
    fn flags_win_over_spec_and_detection() {
        let t = table("client_id,Therapist,pre,post,b\n1,T1,10,5,3\n");
        let spec = Spec::parse("s.toml", "[roles]\npost = \"b\"\n").unwrap();
        let flags = RoleNames {
            pre: Some("post".into()),
            ..Default::default()
        };
        let r = resolve(&t, &flags, Some(&spec)).unwrap();
        assert_eq!(r.get(Role::Pre), Some("post"));
        assert_eq!(r.get(Role::Post), Some("b"));
        assert_eq!(r.get(Role::Client), Some("client_id"));
        assert_eq!(r.get(Role::Therapist), Some("Therapist"));
        let src: Vec<_> = r.assigned.iter().map(|a| (a.role, a.source)).collect();
        assert!(src.contains(&(Role::Pre, RoleSource::Flag)));
        assert!(src.contains(&(Role::Post, RoleSource::Spec)));
        assert!(src.contains(&(Role::Client, RoleSource::Detected)));
        // `pre` (the column) is taken by --pre? No: --pre names column 'post';
        // the column 'pre' is left without a role because Pre is already set.
        assert!(!r.assigned.iter().any(|a| a.column == "pre"));
    }

    #[test]
    fn a_recognised_name_with_the_wrong_type_is_not_used() {
        let t = table("study,outcome,post_score\nA,pain,3\n");
        let r = resolve(&t, &RoleNames::default(), None).unwrap();
        assert_eq!(r.get(Role::Post), Some("post_score"));
        check_numeric(&t, &r, &[]).unwrap();
    }

    #[test]
    fn dotted_id_is_not_a_client() {
        let t = table("study,.id,.g\nA,x,0.1\n");
        let r = resolve(&t, &RoleNames::default(), None).unwrap();
        assert_eq!(r.get(Role::Client), None);
    }

    #[test]
    fn unknown_column_in_flag_or_spec_is_exit_2_with_the_columns() {
        let t = table("a,b\n1,2\n");
        let flags = RoleNames {
            therapist: Some("ther".into()),
            ..Default::default()
        };
        let e = resolve(&t, &flags, None).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(
            msg.contains("--therapist") && msg.contains("'ther'") && msg.contains("'a', 'b'"),
            "{msg}"
        );
        let spec = Spec::parse("s.toml", "[roles]\nsite = \"nope\"\n").unwrap();
        let msg = resolve(&t, &RoleNames::default(), Some(&spec))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("[roles] site") && msg.contains("'nope'"),
            "{msg}"
        );
    }

    #[test]
    fn spec_typos_are_reported_with_line() {
        let e = Spec::parse("s.toml", "[roles]\nclient = \"c\"\ntherapst = \"t\"\n").unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.exit_code(), 2);
        assert!(msg.contains("line 3") && msg.contains("therapst"), "{msg}");
    }

    #[test]
    fn text_in_numeric_role_names_line_column_value() {
        let t = table("pre,post\n1,2\n3,abc\n5,6\n");
        let flags = RoleNames {
            post: Some("post".into()),
            ..Default::default()
        };
        let r = resolve(&t, &flags, None).unwrap();
        let e = check_numeric(&t, &r, &[]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(
            msg.contains("line 3") && msg.contains("'post'") && msg.contains("'abc'"),
            "{msg}"
        );
    }
}
