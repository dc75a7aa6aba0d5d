//! Reliable and clinically significant change for individuals: seven reliable
//! change indices, Jacobson-Truax cut-offs a, b, c (or a fixed value), the
//! five outcome categories with counts, rates and Wilson intervals, and who
//! was left out and why.
//!
//! Every convention is an explicit parameter ([`ChangeParams`]) and is echoed
//! in the result, so the command can print exactly what was done:
//!
//! * the index (`method`, science.md §3 table) and the reliability r_xx it uses;
//! * the critical value: two-sided `z = Φ⁻¹(1 − α/2)` (1.96 at level 95) for
//!   JT, GLN, HLL, EN, NK and CM; one-sided `Φ⁻¹(1 − α)` (1.645) for HA
//!   (Hageman & Arrindell 1999);
//! * the comparison is **strict**: change is reliable only when the
//!   direction-adjusted index is `> z` (an index exactly at the critical value
//!   is "unchanged");
//! * cut-off b uses the **functional** SD S0, as Jacobson & Truax (1991)
//!   define it (`b = M0 − 2 S0` when higher is better);
//! * a score is in the *functional* range when it lies strictly beyond the
//!   cut-off in the better direction (below it when lower is better, above it
//!   when higher is better); a score exactly at the cut-off counts as clinical,
//!   which matches published caseness rules such as "PHQ-9 ≥ 10".
//!
//! Categories are mutually exclusive (as in the clinicalsignificance R package,
//! `.calc_recovered`): *recovered* = reliable improvement, clinical at pre and
//! functional at post (Jacobson & Truax 1991); *improved* = the other
//! reliable improvements; *unchanged*; *harmed* = reliable deterioration,
//! functional at pre and clinical at post; *deteriorated* = the other reliable
//! deteriorations. Without a cut-off only improved / unchanged / deteriorated
//! are defined (recovered and harmed are absent).
//!
//! The group statistics in the indices (M1, S1, M2, S2, r12) are those of the
//! complete pairs analysed.

use crate::error::{Error, Result};
use crate::stats::effect::{check_level, z_one_sided, z_two_sided, Direction, PrePost};
use serde::ser::{Serialize as SerializeTrait, Serializer};
use serde::Serialize;

/// A reliable change index (science.md §3 table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RciMethod {
    /// Jacobson & Truax (1991): `(X2 − X1)/S_diff`, `S_diff = S1 √2 √(1 − r_xx)`.
    JT,
    /// Gulliksen-Lord-Novick (Hsu 1989): `[(X2 − M1) − r(X1 − M1)]/(S1 √(1 − r²))`.
    GLN,
    /// Hsu-Linn-Lord (Hsu 1989): `[(X2 − M2) − r(X1 − M1)]/(S1 √(1 − r²))`.
    HLL,
    /// Edwards-Nunnally (Speer 1992): `[X2 − (r(X1 − M1) + M1)]/(S1 √(1 − r))`.
    EN,
    /// Nunnally-Kotsch (1983): `[X2 − (r1(X1 − M1) + M1)]/√(r1² S1² (1 − r1) + S1² (1 − r2))`.
    NK,
    /// Hageman & Arrindell (1999): `[(X2 − X1) r_dd + (M2 − M1)(1 − r_dd)]/√(2 r_dd SE²)`, one-sided.
    HA,
    /// Christensen & Mendoza (1986): `(X2 − X1)/√(S1² + S2² − 2 S1 S2 r12)`.
    CM,
}

impl RciMethod {
    /// Parses `JT`, `GLN`, `HLL`, `EN`, `NK`, `HA`, `CM`, case-insensitively.
    pub fn parse(s: &str) -> Option<RciMethod> {
        match s.trim().to_ascii_uppercase().as_str() {
            "JT" | "JACOBSON-TRUAX" | "JACOBSON_TRUAX" => Some(RciMethod::JT),
            "GLN" => Some(RciMethod::GLN),
            "HLL" => Some(RciMethod::HLL),
            "EN" => Some(RciMethod::EN),
            "NK" => Some(RciMethod::NK),
            "HA" => Some(RciMethod::HA),
            "CM" => Some(RciMethod::CM),
            _ => None,
        }
    }

    /// The names accepted by [`RciMethod::parse`].
    pub const NAMES: [&'static str; 7] = ["JT", "GLN", "HLL", "EN", "NK", "HA", "CM"];

    pub fn name(self) -> &'static str {
        match self {
            RciMethod::JT => "JT",
            RciMethod::GLN => "GLN",
            RciMethod::HLL => "HLL",
            RciMethod::EN => "EN",
            RciMethod::NK => "NK",
            RciMethod::HA => "HA",
            RciMethod::CM => "CM",
        }
    }

    /// Whether the critical value is one-sided (only HA).
    pub fn one_sided(self) -> bool {
        self == RciMethod::HA
    }
}

/// Which clinical cut-off to use (Jacobson & Truax 1991).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CutoffSpec {
    /// `a`: two clinical SDs beyond the clinical mean, `M1 ± 2 S1`.
    A,
    /// `b`: two functional SDs from the functional mean, `M0 ∓ 2 S0`.
    B,
    /// `c`: the point between the two distributions, `(S0 M1 + S1 M0)/(S0 + S1)`.
    C,
    /// A fixed published value (e.g. PHQ-9 caseness 10).
    Value(f64),
}

impl CutoffSpec {
    /// Parses `a`, `b`, `c` or a number.
    pub fn parse(s: &str) -> Option<CutoffSpec> {
        match s.trim().to_ascii_lowercase().as_str() {
            "a" => Some(CutoffSpec::A),
            "b" => Some(CutoffSpec::B),
            "c" => Some(CutoffSpec::C),
            t => t
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(CutoffSpec::Value),
        }
    }

    /// `"a"`, `"b"`, `"c"` or `"value"` (the contract's `cutoff.type`).
    pub fn kind(&self) -> &'static str {
        match self {
            CutoffSpec::A => "a",
            CutoffSpec::B => "b",
            CutoffSpec::C => "c",
            CutoffSpec::Value(_) => "value",
        }
    }
}

impl SerializeTrait for CutoffSpec {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.kind())
    }
}

/// Mean and SD of a functional (non-clinical) reference population: M0, S0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Norms {
    pub mean: f64,
    pub sd: f64,
}

/// Every convention of a reliable-change analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeParams {
    pub method: RciMethod,
    /// Reliability r_xx of the measure, strictly between 0 and 1.
    pub reliability: f64,
    /// Reliability at post for NK (defaults to `reliability`); ignored otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reliability_post: Option<f64>,
    /// Confidence level in percent (95 → z = 1.96, or 1.645 one-sided for HA).
    pub level: f64,
    pub direction: Direction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<CutoffSpec>,
    /// Functional norms M0, S0 (needed by cut-offs b and c).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub norms: Option<Norms>,
}

impl ChangeParams {
    /// JT-style defaults: level 95, no cut-off, no norms.
    pub fn new(method: RciMethod, reliability: f64, direction: Direction) -> ChangeParams {
        ChangeParams {
            method,
            reliability,
            reliability_post: None,
            level: 95.0,
            direction,
            cutoff: None,
            norms: None,
        }
    }

    /// Checks the parameters; argument problems are input errors (exit 2).
    pub fn validate(&self) -> Result<()> {
        check_level(self.level)?;
        check_reliability("--reliability", self.reliability)?;
        if let Some(r2) = self.reliability_post {
            check_reliability("reliability at post", r2)?;
        }
        if let Some(n) = &self.norms {
            if !(n.mean.is_finite() && n.sd.is_finite() && n.sd > 0.0) {
                return Err(Error::input(format!(
                    "functional norms need a finite mean and a positive SD; got mean {}, SD {}",
                    n.mean, n.sd
                )));
            }
        }
        match self.cutoff {
            Some(CutoffSpec::B) | Some(CutoffSpec::C) if self.norms.is_none() => {
                Err(Error::input(format!(
                    "cut-off {} needs the functional population's mean and SD \
                     (--norm-mean and --norm-sd)",
                    self.cutoff.unwrap().kind()
                )))
            }
            Some(CutoffSpec::Value(v)) if !v.is_finite() => {
                Err(Error::input("the cut-off value must be a finite number"))
            }
            _ => Ok(()),
        }
    }
}

fn check_reliability(what: &str, r: f64) -> Result<()> {
    if r.is_finite() && r > 0.0 && r < 1.0 {
        Ok(())
    } else {
        Err(Error::input(format!(
            "{what} must be strictly between 0 and 1 (e.g. 0.89 for the PHQ-9); got {r}"
        )))
    }
}

/// `S_diff = S1·√2·√(1 − r_xx)`, the standard error of a difference between
/// two scores (Jacobson & Truax 1991).
pub fn s_diff(s1: f64, reliability: f64) -> f64 {
    s1 * 2f64.sqrt() * (1.0 - reliability).sqrt()
}

/// Points of change needed for reliable change by JT: `z·S_diff`.
pub fn rci_points(s1: f64, reliability: f64, z: f64) -> f64 {
    z * s_diff(s1, reliability)
}

/// Reliability of the difference score, Hageman & Arrindell (1999), with
/// `SE = S1 √(1 − r_xx)`, `r_xx1 = (S1² − SE²)/S1²`, `r_xx2 = (S2² − SE²)/S2²`:
/// `r_dd = (S1² r_xx1 + S2² r_xx2 − 2 S1 S2 r12)/(S1² + S2² − 2 S1 S2 r12)`.
pub fn r_dd(s1: f64, s2: f64, r12: f64, reliability: f64) -> f64 {
    let se2 = s1 * s1 * (1.0 - reliability);
    let (v1, v2) = (s1 * s1, s2 * s2);
    let rxx1 = (v1 - se2) / v1;
    let rxx2 = (v2 - se2) / v2;
    (v1 * rxx1 + v2 * rxx2 - 2.0 * s1 * s2 * r12) / (v1 + v2 - 2.0 * s1 * s2 * r12)
}

/// The cut-off value for a spec (Jacobson & Truax 1991), given the
/// clinical mean and SD (M1, S1) and the functional norms (M0, S0), signed for
/// the measure's direction.
pub fn cutoff_value(
    spec: CutoffSpec,
    m1: f64,
    s1: f64,
    norms: Option<Norms>,
    direction: Direction,
) -> Result<f64> {
    let sign = direction.sign();
    let need = |k: &str| {
        norms.ok_or_else(|| {
            Error::input(format!(
                "cut-off {k} needs the functional population's mean and SD (--norm-mean and --norm-sd)"
            ))
        })
    };
    Ok(match spec {
        // a: beyond 2 clinical SDs from the clinical mean, in the better direction.
        CutoffSpec::A => m1 + sign * 2.0 * s1,
        // b: within 2 functional SDs of the functional mean (J&T use S0 here).
        CutoffSpec::B => {
            let n = need("b")?;
            n.mean - sign * 2.0 * n.sd
        }
        // c: the point equally likely under both distributions (weighted by SDs).
        CutoffSpec::C => {
            let n = need("c")?;
            (n.sd * m1 + s1 * n.mean) / (n.sd + s1)
        }
        CutoffSpec::Value(v) => v,
    })
}

/// Whether a score is in the functional range: strictly beyond the cut-off
/// in the better direction.
pub fn is_functional(score: f64, cutoff: f64, direction: Direction) -> bool {
    match direction {
        Direction::LowerBetter => score < cutoff,
        Direction::HigherBetter => score > cutoff,
    }
}

/// Reliable improvement and reliable deterioration for a direction-adjusted
/// index (positive = better) and a critical value, with the **strict**
/// comparison: `index > z` improves, `index < −z` deteriorates.
pub fn reliable(signed_index: f64, z: f64) -> (bool, bool) {
    (signed_index > z, signed_index < -z)
}

/// A proportion's confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub ci_lb: f64,
    pub ci_ub: f64,
}

/// Wilson (1927) score interval for x successes in n trials at `level`
/// percent, without continuity correction (Newcombe 1998, method 3; R's
/// `prop.test(x, n, correct = FALSE)$conf.int`):
/// `(p̂ + z²/2n ± z √(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n)`. NaN for n = 0.
pub fn wilson(x: usize, n: usize, level: f64) -> Interval {
    if n == 0 {
        return Interval {
            ci_lb: f64::NAN,
            ci_ub: f64::NAN,
        };
    }
    let z = z_two_sided(level);
    let nf = n as f64;
    let p = x as f64 / nf;
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = z * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
    Interval {
        ci_lb: (centre - half).max(0.0),
        ci_ub: (centre + half).min(1.0),
    }
}

/// Why a row was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExclusionReason {
    MissingPre,
    MissingPost,
    MissingBoth,
}

/// Rows left out of the analysis, with counts by reason (missing = `None` or
/// a non-finite value).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Exclusions {
    pub missing_pre: usize,
    pub missing_post: usize,
    pub missing_both: usize,
    /// 0-based row indices with their reason (not serialised: the command
    /// turns them into lines).
    #[serde(skip)]
    pub rows: Vec<(usize, ExclusionReason)>,
}

impl Exclusions {
    pub fn total(&self) -> usize {
        self.missing_pre + self.missing_post + self.missing_both
    }
}

/// The complete pairs of two columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompletePairs {
    /// 0-based rows kept.
    pub rows: Vec<usize>,
    pub pre: Vec<f64>,
    pub post: Vec<f64>,
    /// What was left out and why.
    pub excluded: Exclusions,
}

/// Complete pairs of two columns: the kept row indices, the pre and post
/// values, and what was excluded (missing = `None` or non-finite).
pub fn complete_pairs(pre: &[Option<f64>], post: &[Option<f64>]) -> Result<CompletePairs> {
    if pre.len() != post.len() {
        return Err(Error::input(format!(
            "pre and post have different lengths ({} and {})",
            pre.len(),
            post.len()
        )));
    }
    let ok = |v: &Option<f64>| v.filter(|x| x.is_finite());
    let mut idx = Vec::new();
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    let mut ex = Exclusions::default();
    for (i, (a, b)) in pre.iter().zip(post).enumerate() {
        match (ok(a), ok(b)) {
            (Some(x), Some(y)) => {
                idx.push(i);
                xs.push(x);
                ys.push(y);
            }
            (None, Some(_)) => {
                ex.missing_pre += 1;
                ex.rows.push((i, ExclusionReason::MissingPre));
            }
            (Some(_), None) => {
                ex.missing_post += 1;
                ex.rows.push((i, ExclusionReason::MissingPost));
            }
            (None, None) => {
                ex.missing_both += 1;
                ex.rows.push((i, ExclusionReason::MissingBoth));
            }
        }
    }
    Ok(CompletePairs {
        rows: idx,
        pre: xs,
        post: ys,
        excluded: ex,
    })
}

/// The reliable-change index as computed (contract key `rci`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RciInfo {
    pub method: RciMethod,
    pub reliability: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reliability_post: Option<f64>,
    /// Critical value (two-sided, or one-sided for HA).
    pub z: f64,
    pub one_sided: bool,
    /// The denominator of the index in score points (for JT, S_diff).
    pub sdiff: f64,
    /// `z·sdiff`: points of change needed. For JT and CM this is the change
    /// X2 − X1 needed; for GLN, HLL, EN and NK the distance of X2 from the
    /// score predicted from X1 (which differs per person); for HA the
    /// reliability-weighted change `(X2 − X1) r_dd + (M2 − M1)(1 − r_dd)` needed.
    pub threshold: f64,
    /// Standard error of measurement `S1 √(1 − r_xx)`.
    pub se_measurement: f64,
    /// Reliability of the difference scores (HA only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r_dd: Option<f64>,
    /// Always `">"`: the index must exceed the critical value.
    pub comparison: &'static str,
}

/// The cut-off in use (contract key `cutoff`: `type`, `value`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CutoffInfo {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: f64,
    /// `"below"` when lower is better (functional = score < value), else `"above"`.
    pub functional_side: &'static str,
    /// Clinical mean and SD used (M1, S1 of the pre scores).
    pub clinical: Norms,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub functional: Option<Norms>,
}

/// One value per category; `recovered` and `harmed` are absent without a cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PerCategory<T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered: Option<T>,
    pub improved: T,
    pub unchanged: T,
    pub deteriorated: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub harmed: Option<T>,
}

/// Category counts (flattened: `recovered`, `improved`, ...), `rates` with the
/// same keys, and Wilson intervals of the rates in `rate_ci`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Categories {
    pub n: usize,
    #[serde(flatten)]
    pub counts: PerCategory<usize>,
    pub rates: PerCategory<f64>,
    pub rate_ci: PerCategory<Interval>,
}

/// A person's outcome category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Recovered,
    Improved,
    Unchanged,
    Deteriorated,
    Harmed,
}

/// One person's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonChange {
    /// 0-based row in the input slices.
    pub row: usize,
    pub pre: f64,
    pub post: f64,
    /// The index value (sign as computed: positive = score went up).
    pub index: f64,
    pub reliable_improvement: bool,
    pub reliable_deterioration: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clinical_pre: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub functional_post: Option<bool>,
    pub category: Category,
}

/// Result of [`reliable_change`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeResult {
    /// Group statistics of the complete pairs, flattened into the contract's
    /// top-level keys `n`, `pre` {`mean`, `sd`}, `post`, `r_pre_post`.
    #[serde(flatten)]
    pub stats: PrePost,
    pub params: ChangeParams,
    pub rci: RciInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<CutoffInfo>,
    pub categories: Categories,
    pub excluded: Exclusions,
    /// Per-person results (not serialised by default; the command may print them).
    #[serde(skip)]
    pub people: Vec<PersonChange>,
}

impl ChangeResult {
    /// Number of complete pairs analysed.
    pub fn n(&self) -> usize {
        self.stats.n
    }
}

/// Reliable (and, with a cut-off, clinically significant) change of every
/// person with a pre and a post score.
///
/// Errors: bad parameters (input, exit 2); fewer than 2 complete pairs, a
/// zero pre SD, or a degenerate index denominator (analysis, exit 3).
pub fn reliable_change(
    pre: &[Option<f64>],
    post: &[Option<f64>],
    params: &ChangeParams,
) -> Result<ChangeResult> {
    reliable_change_with_reference(pre, post, params, None)
}

/// [`reliable_change`] where the index and the cut-off take the clinical
/// sample's statistics (M1, S1, M2, S2, r12) from `reference` instead of from
/// these data. A service comparing therapists or techniques classifies every
/// group against the same criterion, computed once from the whole sample
/// (otherwise a therapist with a homogeneous caseload would get a smaller
/// reliable-change threshold); the group's own statistics are still reported.
pub fn reliable_change_with_reference(
    pre: &[Option<f64>],
    post: &[Option<f64>],
    params: &ChangeParams,
    reference: Option<&PrePost>,
) -> Result<ChangeResult> {
    params.validate()?;
    let CompletePairs {
        rows,
        pre: xs,
        post: ys,
        excluded,
    } = complete_pairs(pre, post)?;
    if xs.len() < 2 {
        return Err(Error::analysis(format!(
            "reliable change needs at least 2 clients with both a pre and a post score; \
             found {} ({} excluded for missing scores)",
            xs.len(),
            excluded.total()
        )));
    }
    let st = PrePost::from_pairs(&xs, &ys)?;
    let basis = reference.unwrap_or(&st);
    let (m1, s1, m2, s2, r12) = (
        basis.pre.mean,
        basis.pre.sd,
        basis.post.mean,
        basis.post.sd,
        basis.r_pre_post,
    );
    if s1 <= 0.0 {
        return Err(Error::analysis(
            "all pre-treatment scores are equal (SD 0): the reliable change index \
             cannot be computed",
        ));
    }
    let r = params.reliability;
    let method = params.method;
    let z = if method.one_sided() {
        z_one_sided(params.level)
    } else {
        z_two_sided(params.level)
    };
    let se = s1 * (1.0 - r).sqrt();
    let mut rdd = None;
    let mut r2_used = None;
    // The index as a function of (X1, X2), and its denominator, per science.md §3.
    let denom = match method {
        RciMethod::JT => s_diff(s1, r),
        RciMethod::GLN | RciMethod::HLL => s1 * (1.0 - r * r).sqrt(),
        RciMethod::EN => s1 * (1.0 - r).sqrt(),
        RciMethod::NK => {
            let r2 = params.reliability_post.unwrap_or(r);
            r2_used = Some(r2);
            (r * r * s1 * s1 * (1.0 - r) + s1 * s1 * (1.0 - r2)).sqrt()
        }
        RciMethod::HA => {
            let v = r_dd(s1, s2, r12, r);
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::analysis(format!(
                    "the Hageman-Arrindell reliability of the difference scores is not \
                     positive (r_dd = {v:.4}); use another --rci method"
                )));
            }
            rdd = Some(v);
            (v * 2.0 * se * se).sqrt()
        }
        RciMethod::CM => (s1 * s1 + s2 * s2 - 2.0 * s1 * s2 * r12).max(0.0).sqrt(),
    };
    if !(denom.is_finite() && denom > 0.0) {
        return Err(Error::analysis(format!(
            "the {} index has a zero or undefined denominator on these data \
             (e.g. every client changed by the same amount)",
            method.name()
        )));
    }
    let index = |x1: f64, x2: f64| -> f64 {
        let num = match method {
            RciMethod::JT | RciMethod::CM => x2 - x1,
            RciMethod::GLN => (x2 - m1) - r * (x1 - m1),
            RciMethod::HLL => (x2 - m2) - r * (x1 - m1),
            RciMethod::EN | RciMethod::NK => x2 - (r * (x1 - m1) + m1),
            RciMethod::HA => {
                let v = rdd.unwrap();
                (x2 - x1) * v + (m2 - m1) * (1.0 - v)
            }
        };
        num / denom
    };

    let cutoff = match params.cutoff {
        None => None,
        Some(spec) => {
            let value = cutoff_value(spec, m1, s1, params.norms, params.direction)?;
            Some(CutoffInfo {
                kind: spec.kind(),
                value,
                functional_side: match params.direction {
                    Direction::LowerBetter => "below",
                    Direction::HigherBetter => "above",
                },
                clinical: Norms { mean: m1, sd: s1 },
                functional: match spec {
                    CutoffSpec::B | CutoffSpec::C => params.norms,
                    _ => None,
                },
            })
        }
    };

    let sign = params.direction.sign();
    let mut people = Vec::with_capacity(xs.len());
    for ((&row, &x1), &x2) in rows.iter().zip(&xs).zip(&ys) {
        let idx = index(x1, x2);
        let (improved, deteriorated) = reliable(sign * idx, z);
        let (clinical_pre, functional_post) = match &cutoff {
            Some(c) => (
                Some(!is_functional(x1, c.value, params.direction)),
                Some(is_functional(x2, c.value, params.direction)),
            ),
            None => (None, None),
        };
        let category = match (clinical_pre, functional_post) {
            (Some(cp), Some(fp)) if improved && cp && fp => Category::Recovered,
            (Some(cp), Some(fp)) if deteriorated && !cp && !fp => Category::Harmed,
            _ if improved => Category::Improved,
            _ if deteriorated => Category::Deteriorated,
            _ => Category::Unchanged,
        };
        people.push(PersonChange {
            row,
            pre: x1,
            post: x2,
            index: idx,
            reliable_improvement: improved,
            reliable_deterioration: deteriorated,
            clinical_pre,
            functional_post,
            category,
        });
    }

    let n = people.len();
    let count = |c: Category| people.iter().filter(|p| p.category == c).count();
    let with_cut = cutoff.is_some();
    let counts = PerCategory {
        recovered: with_cut.then(|| count(Category::Recovered)),
        improved: count(Category::Improved),
        unchanged: count(Category::Unchanged),
        deteriorated: count(Category::Deteriorated),
        harmed: with_cut.then(|| count(Category::Harmed)),
    };
    let rate = |k: usize| k as f64 / n as f64;
    let ci = |k: usize| wilson(k, n, params.level);
    let categories = Categories {
        n,
        counts,
        rates: PerCategory {
            recovered: counts.recovered.map(rate),
            improved: rate(counts.improved),
            unchanged: rate(counts.unchanged),
            deteriorated: rate(counts.deteriorated),
            harmed: counts.harmed.map(rate),
        },
        rate_ci: PerCategory {
            recovered: counts.recovered.map(ci),
            improved: ci(counts.improved),
            unchanged: ci(counts.unchanged),
            deteriorated: ci(counts.deteriorated),
            harmed: counts.harmed.map(ci),
        },
    };

    Ok(ChangeResult {
        stats: st,
        params: params.clone(),
        rci: RciInfo {
            method,
            reliability: r,
            reliability_post: r2_used,
            z,
            one_sided: method.one_sided(),
            sdiff: denom,
            threshold: z * denom,
            se_measurement: se,
            r_dd: rdd,
            comparison: ">",
        },
        cutoff,
        categories,
        excluded,
        people,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_threshold() {
        // An index exactly at the critical value is not reliable change.
        assert_eq!(reliable(1.96, 1.96), (false, false));
        assert_eq!(reliable(-1.96, 1.96), (false, false));
        assert_eq!(reliable(1.9600001, 1.96), (true, false));
        assert_eq!(reliable(-1.9600001, 1.96), (false, true));
        // S_diff = S1 √2 √(1 − r): 1 when S1 = 1 and r = .5.
        assert!((s_diff(1.0, 0.5) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn wilson_matches_prop_test() {
        // R: prop.test(10, 30, correct = FALSE)$conf.int = 0.1923049808 0.5121994836
        let w = wilson(10, 30, 95.0);
        assert!((w.ci_lb - 0.1923049808).abs() < 1e-9);
        assert!((w.ci_ub - 0.5121994836).abs() < 1e-9);
        let w0 = wilson(0, 10, 95.0);
        // R: prop.test(0, 10, correct = FALSE)$conf.int = 0 0.2775327999
        assert!(w0.ci_lb.abs() < 1e-15);
        assert!((w0.ci_ub - 0.2775327999).abs() < 1e-9);
    }

    #[test]
    fn parameter_errors() {
        let pre = [Some(10.0), Some(12.0), Some(14.0)];
        let post = [Some(8.0), Some(9.0), Some(13.0)];
        let mut p = ChangeParams::new(RciMethod::JT, 1.0, Direction::LowerBetter);
        assert_eq!(reliable_change(&pre, &post, &p).unwrap_err().exit_code(), 2);
        p.reliability = 0.8;
        p.cutoff = Some(CutoffSpec::C);
        assert_eq!(reliable_change(&pre, &post, &p).unwrap_err().exit_code(), 2);
        p.cutoff = None;
        let one = [Some(1.0), None, Some(3.0)];
        let other = [Some(2.0), Some(3.0), None];
        assert_eq!(
            reliable_change(&one, &other, &p).unwrap_err().exit_code(),
            3
        );
        let flat = [Some(5.0), Some(5.0), Some(5.0)];
        assert_eq!(
            reliable_change(&flat, &post, &p).unwrap_err().exit_code(),
            3
        );
    }

    #[test]
    fn parse_specs() {
        assert_eq!(RciMethod::parse("gln"), Some(RciMethod::GLN));
        assert_eq!(CutoffSpec::parse("C"), Some(CutoffSpec::C));
        assert_eq!(CutoffSpec::parse("10"), Some(CutoffSpec::Value(10.0)));
        assert_eq!(CutoffSpec::parse("x"), None);
    }
}
