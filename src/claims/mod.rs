//! Claims files: the field's published effect-size claims, each tied to a
//! computation that `outcomes replicate` reruns (contract §replicate).
//!
//! A claims file is TOML with one `[[claim]]` table per claim; the built-in
//! registry (`registry.toml`, shown by `outcomes replicate --registry`) is
//! itself the documented example of the format. Numbers that a paper prints
//! are given as text ("7.5", "0.70", "< 1.0") so that their printed decimals,
//! which set how far rounding can move them, are kept.

pub mod convert;
pub mod evaluate;

use crate::error::{Error, Result};
use convert::{Bound, Metric, Printed};
use serde::Deserialize;
use std::collections::HashSet;

/// The built-in registry.
pub const BUILTIN: &str = include_str!("registry.toml");

/// A number as written in a claims file: text (recommended, keeps the printed
/// decimals) or a TOML number (taken at its shortest decimal form).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum NumText {
    Text(String),
    Float(f64),
    Int(i64),
}

impl NumText {
    fn printed(&self) -> Option<Printed> {
        match self {
            NumText::Text(t) => Printed::parse(t),
            NumText::Float(x) => Printed::parse(&format!("{x}")),
            NumText::Int(i) => Printed::parse(&i.to_string()),
        }
    }
}

/// What a claim's number measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantity {
    /// Cohen's d.
    D,
    /// Hedges' g.
    G,
    /// A correlation.
    R,
    /// Percent of outcome variance.
    Pct,
    /// Percent of between-study heterogeneity (τ²) accounted for (metafor's R²).
    R2,
}

impl Quantity {
    /// The panel (and unit) of the replication chart.
    pub fn label(self) -> &'static str {
        match self {
            Quantity::D => "Cohen's d",
            Quantity::G => "Hedges' g",
            Quantity::R => "Correlation r",
            Quantity::Pct => "% of outcome variance",
            Quantity::R2 => "% of heterogeneity explained (R²)",
        }
    }
    pub fn key(self) -> &'static str {
        match self {
            Quantity::D => "d",
            Quantity::G => "g",
            Quantity::R => "r",
            Quantity::Pct => "pct",
            Quantity::R2 => "r2",
        }
    }
    /// The conversion metric a quantity is in, if it has one.
    fn metric(self) -> Option<Metric> {
        match self {
            Quantity::D | Quantity::G => Some(Metric::D),
            Quantity::R => Some(Metric::R),
            Quantity::Pct => Some(Metric::Pct),
            Quantity::R2 => None,
        }
    }
}

/// When a claim counts as replicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The published value, within its printed rounding, can be obtained from
    /// the published statistic within that statistic's printed rounding.
    Rounding,
    /// The published value (within its rounding) lies inside the recomputed
    /// confidence interval (for a bound "< x": the interval reaches below x).
    InsideCi,
    /// The claim is that there is no effect: replicated when the recomputed
    /// test is not significant at 1 − level.
    NotSignificant,
    /// The claim is that there is an effect: replicated when it is.
    Significant,
}

impl Rule {
    pub fn key(self) -> &'static str {
        match self {
            Rule::Rounding => "rounding",
            Rule::InsideCi => "inside-ci",
            Rule::NotSignificant => "not-significant",
            Rule::Significant => "significant",
        }
    }
}

/// What `meta` reports for a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetaEstimate {
    /// The pooled effect (the intercept; with `cluster`, the three-level
    /// model's with its CR2 cluster-robust interval).
    Pooled,
    /// R² of the moderators, with the test of moderators.
    R2,
    /// The share of outcome variance that differences between the levels of
    /// `subgroup` would account for (see `evaluate::moderator_share`).
    ModeratorShare,
}

/// How a claim is recomputed.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Compute {
    /// A published statistic converted to the claim's metric.
    Conversion {
        from: Metric,
        value: NumText,
        /// The published statistic's interval, if any.
        ci: Option<[NumText; 2]>,
    },
    /// `outcomes meta` on a study-level dataset.
    Meta {
        /// Path under `--data-dir` (or absolute).
        dataset: String,
        yi: String,
        vi: Option<String>,
        sei: Option<String>,
        #[serde(rename = "where")]
        filter: Option<String>,
        mods: Option<String>,
        subgroup: Option<String>,
        cluster: Option<String>,
        method: Option<String>,
        /// "z" (default) or "knha".
        test: Option<String>,
        estimate: MetaEstimate,
    },
    /// `outcomes variance` on client-level data.
    Variance {
        /// "demo" (the bundled simulated clinic, an illustration), "clients"
        /// (the data given with `--clients`), or a path under `--data-dir`.
        dataset: String,
        /// "icc-therapist", "icc-site" (null-model ICCs), or "share:FACTOR"
        /// (a Shapley share, e.g. "share:technique").
        estimate: String,
        bootstrap: Option<usize>,
        seed: Option<u64>,
        /// Further `variance` flags, e.g. ["--split-alliance"].
        args: Option<Vec<String>>,
    },
    /// A claim no data can recompute.
    NotComputable { reason: String },
}

/// One claim as written in a claims file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimSpec {
    pub id: String,
    /// A short label for charts; defaults to the id.
    pub label: Option<String>,
    /// Full citation of where the claim is made.
    pub source: String,
    /// The claim in words.
    pub statement: String,
    pub quantity: Quantity,
    /// The published value as printed ("7.5", "< 1.0").
    pub published: NumText,
    /// Its published interval, if any.
    pub published_ci: Option<[NumText; 2]>,
    pub rule: Option<Rule>,
    /// false: the figure comes from a secondary summary and has not been
    /// checked against the primary source.
    #[serde(default = "yes")]
    pub verified: bool,
    /// A caveat appended to the reason (e.g. how sensitive the verdict is).
    pub note: Option<String>,
    pub compute: Compute,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimsFile {
    claim: Vec<ClaimSpec>,
}

/// A checked claim.
#[derive(Debug, Clone)]
pub struct Claim {
    pub spec: ClaimSpec,
    pub published: Printed,
    pub published_ci: Option<(f64, f64)>,
    pub rule: Rule,
    /// For conversions: the statistic and its interval.
    pub input: Option<(Printed, Option<(f64, f64)>)>,
}

impl Claim {
    pub fn label(&self) -> &str {
        self.spec.label.as_deref().unwrap_or(&self.spec.id)
    }
}

/// Parses and checks a claims file (`origin` names it in messages).
pub fn parse(text: &str, origin: &str) -> Result<Vec<Claim>> {
    let file: ClaimsFile = toml::from_str(text).map_err(|e| {
        Error::input(format!(
            "{origin}: not a valid claims file: {}\naccepted: one [[claim]] table per claim with id, source, statement, quantity (d, g, r, pct, r2), published, rule and a [claim.compute] table (kind = conversion, meta, variance or not-computable); see `outcomes replicate --registry`",
            e.to_string().trim_end()
        ))
    })?;
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(file.claim.len());
    for spec in file.claim {
        let bad = |what: String| Error::input(format!("{origin}: claim '{}': {what}", spec.id));
        if spec.id.is_empty()
            || !spec
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(bad(
                "the id must be lower-case letters, digits and '-'".into()
            ));
        }
        if !seen.insert(spec.id.clone()) {
            return Err(bad("this id is used twice".into()));
        }
        let published = spec.published.printed().ok_or_else(|| {
            bad("published: not a number as printed (accepted: \"7.5\", \"0.70\", \"< 1.0\", \"> 0.2\")".into())
        })?;
        let published_ci =
            interval(&spec.published_ci).map_err(|e| bad(format!("published_ci: {e}")))?;
        let input = match &spec.compute {
            Compute::Conversion { value, ci, from } => {
                let v = value
                    .printed()
                    .ok_or_else(|| bad("compute.value: not a number as printed".into()))?;
                let ci = interval(ci).map_err(|e| bad(format!("compute.ci: {e}")))?;
                let to = spec.quantity.metric().ok_or_else(|| {
                    bad(format!(
                        "a conversion cannot give quantity '{}'",
                        spec.quantity.key()
                    ))
                })?;
                if convert::convert(*from, to, v.value).is_none() {
                    return Err(bad(format!(
                        "compute.value {} is outside the range of {from}",
                        v
                    )));
                }
                Some((v, ci))
            }
            _ => None,
        };
        let rule = match (spec.rule, &spec.compute, &input) {
            (Some(r), _, _) => r,
            (None, Compute::Conversion { .. }, Some((_, None))) => Rule::Rounding,
            (
                None,
                Compute::Meta {
                    estimate: MetaEstimate::R2,
                    ..
                },
                _,
            ) => Rule::NotSignificant,
            _ => Rule::InsideCi,
        };
        check_rule(&spec, rule, &input).map_err(bad)?;
        out.push(Claim {
            spec,
            published,
            published_ci,
            rule,
            input,
        });
    }
    if out.is_empty() {
        return Err(Error::input(format!("{origin}: no [[claim]] tables")));
    }
    Ok(out)
}

fn interval(v: &Option<[NumText; 2]>) -> std::result::Result<Option<(f64, f64)>, String> {
    let Some([a, b]) = v else { return Ok(None) };
    match (a.printed(), b.printed()) {
        (Some(a), Some(b))
            if a.bound == Bound::Exact && b.bound == Bound::Exact && a.value <= b.value =>
        {
            Ok(Some((a.value, b.value)))
        }
        _ => Err("expected two numbers [lower, upper] with lower ≤ upper".into()),
    }
}

/// Which rules fit which computations.
fn check_rule(
    spec: &ClaimSpec,
    rule: Rule,
    input: &Option<(Printed, Option<(f64, f64)>)>,
) -> std::result::Result<(), String> {
    match (&spec.compute, rule) {
        (Compute::NotComputable { reason }, _) => {
            if reason.trim().is_empty() {
                return Err("compute.reason must say why the claim cannot be computed".into());
            }
        }
        (Compute::Conversion { .. }, Rule::Rounding) => {}
        (Compute::Conversion { .. }, Rule::InsideCi) => {
            if !matches!(input, Some((_, Some(_)))) {
                return Err("rule inside-ci needs compute.ci (the published statistic's interval); use rule = \"rounding\" without one".into());
            }
        }
        (
            Compute::Meta {
                estimate,
                mods,
                subgroup,
                ..
            },
            r,
        ) => {
            match estimate {
                MetaEstimate::R2 if mods.is_none() => return Err("estimate r2 needs mods".into()),
                MetaEstimate::ModeratorShare if subgroup.is_none() => {
                    return Err("estimate moderator-share needs subgroup".into())
                }
                _ => {}
            }
            let test_rule = matches!(r, Rule::NotSignificant | Rule::Significant);
            if test_rule != (*estimate == MetaEstimate::R2) {
                return Err(format!(
                    "rule {} does not fit estimate {:?}: the test rules go with estimate r2 (the test of moderators), inside-ci with the others",
                    r.key(),
                    estimate
                ));
            }
            if *estimate == MetaEstimate::R2 && spec.quantity != Quantity::R2 {
                return Err("estimate r2 gives quantity r2".into());
            }
        }
        (Compute::Variance { estimate, .. }, Rule::InsideCi) => {
            if !(estimate.starts_with("icc-") || estimate.starts_with("share:")) {
                return Err(format!(
                    "compute.estimate '{estimate}': accepted icc-therapist, icc-site, share:FACTOR"
                ));
            }
            if spec.quantity != Quantity::Pct {
                return Err("a variance estimate gives quantity pct".into());
            }
        }
        (_, r) => {
            return Err(format!("rule {} does not fit this computation", r.key()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_registry_parses() {
        let claims = parse(BUILTIN, "built-in registry").unwrap();
        assert!(claims.len() >= 20);
    }

    fn one(compute: &str, extra: &str) -> String {
        format!(
            "[[claim]]\nid = \"x\"\nsource = \"s\"\nstatement = \"t\"\nquantity = \"pct\"\npublished = \"7.5\"\n{extra}\n[claim.compute]\n{compute}\n"
        )
    }

    #[test]
    fn errors_name_the_claim_and_what_is_accepted() {
        let e = parse("claim = 3", "f.toml").unwrap_err().to_string();
        assert!(e.contains("f.toml") && e.contains("[[claim]]"), "{e}");
        let e = parse(
            &one("kind = \"conversion\"\nfrom = \"r\"\nvalue = \"abc\"", ""),
            "f.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("claim 'x'") && e.contains("compute.value"),
            "{e}"
        );
        let e = parse(
            &one(
                "kind = \"conversion\"\nfrom = \"r\"\nvalue = \"0.3\"",
                "rule = \"inside-ci\"",
            ),
            "f.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("compute.ci"), "{e}");
        let e = parse(&one("kind = \"teleport\"", ""), "f.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("teleport") || e.contains("kind"), "{e}");
        let e = parse(
            &one("kind = \"not-computable\"\nreason = \" \"", ""),
            "f.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("reason"), "{e}");
        let two = format!(
            "{}{}",
            one("kind = \"not-computable\"\nreason = \"r\"", ""),
            one("kind = \"not-computable\"\nreason = \"r\"", "")
        );
        assert!(parse(&two, "f")
            .unwrap_err()
            .to_string()
            .contains("used twice"));
        let e = parse(
            &one("kind = \"conversion\"\nfrom = \"r\"\nvalue = \"1.5\"", ""),
            "f",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("outside the range"), "{e}");
    }

    #[test]
    fn numbers_may_be_toml_numbers() {
        let text = one("kind = \"conversion\"\nfrom = \"r\"\nvalue = 0.275", "")
            .replace("published = \"7.5\"", "published = 7.5");
        let c = parse(&text, "f").unwrap();
        assert_eq!(c[0].published.decimals, 1);
        assert_eq!(c[0].input.unwrap().0.decimals, 3);
        assert_eq!(c[0].rule, Rule::Rounding);
    }
}
