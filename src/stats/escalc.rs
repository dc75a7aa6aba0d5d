//! Effect sizes and sampling variances for meta-analysis, computed exactly as
//! metafor's `escalc()` computes them (metafor 3.8-1, default `vtype = "LS"`).
//!
//! Sources: the formulas were read off metafor's `escalc` source and its
//! documentation (`?escalc`, "Outcome Measures for Two-Group Comparisons",
//! "Outcome Measures for Variables Assessed at Two Time Points", "Measures for
//! Correlations"), described in Viechtbauer, W. (2010), Conducting
//! meta-analyses in R with the metafor package, *Journal of Statistical
//! Software* 36(3), 1-48, <https://doi.org/10.18637/jss.v036.i03>. Each
//! measure's doc comment below names the primary source metafor cites.
//!
//! Conventions shared with metafor:
//!
//! * a missing input is `NaN` (R's `NA`); it propagates through the formula,
//!   so `yi` and/or `vi` come out `NaN` exactly where metafor gives `NA`
//!   (e.g. ZCOR with a missing `ri` still has `vi = 1/(ni - 3)`, as in R);
//! * a `yi` or `vi` of ±infinity (division by zero, e.g. a zero cell with
//!   `to = "none"`) sets *both* to `NaN`, and a negative `vi` is set to `NaN`
//!   (metafor's final recoding step);
//! * the group-1 vs group-2 (or occasion-1 vs occasion-2) direction is
//!   `m1i - m2i`, `ai/(ai+bi)` vs `ci/(ci+di)`, as in metafor.
//!
//! Deliberate difference: where metafor returns `NA` (with or without a
//! warning) because a sample size is too small for the formula — the exact
//! bias correction needs `m > 1` (SMD: `n1i + n2i > 3`; SMCC/SMCR: `ni > 2`),
//! and metafor sets the COR/ZCOR variance to `NA` for `ni <= 3` — this module
//! reports the offending cells as [`EscalcError::BadValues`] instead, together
//! with the values metafor itself rejects (negative SDs, sizes `<= 0`,
//! `|r| > 1`, negative counts).

use std::fmt;

/// An outcome measure, named by its metafor code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Standardized mean difference with Hedges' (1981) exact bias
    /// correction (Hedges' g), two independent groups.
    Smd,
    /// Raw mean difference, two independent groups (Borenstein 2009).
    Md,
    /// Standardized mean change, raw-score standardization (Becker 1988).
    Smcr,
    /// Standardized mean change, change-score standardization (Gibbons,
    /// Hedeker & Davis 1993).
    Smcc,
    /// Raw correlation coefficient (Borenstein 2009, eq. 12.27 variance).
    Cor,
    /// Fisher's r-to-z transformed correlation (Fisher 1921).
    Zcor,
    /// Log odds ratio from a 2x2 table (Fleiss & Berlin 2009).
    Or,
    /// Log risk ratio from a 2x2 table (Fleiss & Berlin 2009).
    Rr,
    /// Risk difference from a 2x2 table (Fleiss & Berlin 2009).
    Rd,
}

const ALL_MEASURES: [Measure; 9] = [
    Measure::Smd,
    Measure::Md,
    Measure::Smcr,
    Measure::Smcc,
    Measure::Cor,
    Measure::Zcor,
    Measure::Or,
    Measure::Rr,
    Measure::Rd,
];

const TWO_GROUP: [Arg; 6] = [Arg::M1i, Arg::Sd1i, Arg::N1i, Arg::M2i, Arg::Sd2i, Arg::N2i];
const SMCR_ARGS: [Arg; 5] = [Arg::M1i, Arg::M2i, Arg::Sd1i, Arg::Ni, Arg::Ri];
const SMCC_ARGS: [Arg; 6] = [Arg::M1i, Arg::M2i, Arg::Sd1i, Arg::Sd2i, Arg::Ni, Arg::Ri];
const COR_ARGS: [Arg; 2] = [Arg::Ri, Arg::Ni];
const TABLE_ARGS: [Arg; 4] = [Arg::Ai, Arg::Bi, Arg::Ci, Arg::Di];

impl Measure {
    /// Parses a metafor measure code ("SMD", "MD", "SMCR", "SMCC", "COR",
    /// "ZCOR", "OR", "RR", "RD"), case-insensitively.
    pub fn parse(code: &str) -> Option<Measure> {
        let code = code.trim();
        ALL_MEASURES
            .iter()
            .copied()
            .find(|m| m.code().eq_ignore_ascii_case(code))
    }

    /// The metafor code, upper case.
    pub fn code(self) -> &'static str {
        match self {
            Measure::Smd => "SMD",
            Measure::Md => "MD",
            Measure::Smcr => "SMCR",
            Measure::Smcc => "SMCC",
            Measure::Cor => "COR",
            Measure::Zcor => "ZCOR",
            Measure::Or => "OR",
            Measure::Rr => "RR",
            Measure::Rd => "RD",
        }
    }

    /// The metafor arguments this measure needs (as metafor's
    /// `.all.specified` checks; SMCR does not use `sd2i`).
    pub fn required(self) -> &'static [Arg] {
        match self {
            Measure::Smd | Measure::Md => &TWO_GROUP,
            Measure::Smcr => &SMCR_ARGS,
            Measure::Smcc => &SMCC_ARGS,
            Measure::Cor | Measure::Zcor => &COR_ARGS,
            Measure::Or | Measure::Rr | Measure::Rd => &TABLE_ARGS,
        }
    }

    /// Every measure this module implements.
    pub fn all() -> &'static [Measure] {
        &ALL_MEASURES
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An `escalc` input argument, named as in metafor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    M1i,
    Sd1i,
    N1i,
    M2i,
    Sd2i,
    N2i,
    Ri,
    Ni,
    Ai,
    Bi,
    Ci,
    Di,
}

impl Arg {
    /// metafor's argument name ("m1i", "sd1i", ...).
    pub fn name(self) -> &'static str {
        match self {
            Arg::M1i => "m1i",
            Arg::Sd1i => "sd1i",
            Arg::N1i => "n1i",
            Arg::M2i => "m2i",
            Arg::Sd2i => "sd2i",
            Arg::N2i => "n2i",
            Arg::Ri => "ri",
            Arg::Ni => "ni",
            Arg::Ai => "ai",
            Arg::Bi => "bi",
            Arg::Ci => "ci",
            Arg::Di => "di",
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Per-argument columns; `NaN` marks a missing value.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub m1i: Option<Vec<f64>>,
    pub sd1i: Option<Vec<f64>>,
    pub n1i: Option<Vec<f64>>,
    pub m2i: Option<Vec<f64>>,
    pub sd2i: Option<Vec<f64>>,
    pub n2i: Option<Vec<f64>>,
    pub ri: Option<Vec<f64>>,
    pub ni: Option<Vec<f64>>,
    pub ai: Option<Vec<f64>>,
    pub bi: Option<Vec<f64>>,
    pub ci: Option<Vec<f64>>,
    pub di: Option<Vec<f64>>,
}

impl Inputs {
    /// The column for one argument, if given.
    pub fn get(&self, a: Arg) -> Option<&[f64]> {
        let col = match a {
            Arg::M1i => &self.m1i,
            Arg::Sd1i => &self.sd1i,
            Arg::N1i => &self.n1i,
            Arg::M2i => &self.m2i,
            Arg::Sd2i => &self.sd2i,
            Arg::N2i => &self.n2i,
            Arg::Ri => &self.ri,
            Arg::Ni => &self.ni,
            Arg::Ai => &self.ai,
            Arg::Bi => &self.bi,
            Arg::Ci => &self.ci,
            Arg::Di => &self.di,
        };
        col.as_deref()
    }
}

/// Zero-cell handling for the 2x2-table measures (OR, RR, RD); ignored by the
/// others. Defaults are metafor's: `add = 1/2`, `to = "only0"`,
/// `drop00 = FALSE`.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The constant added to cells (metafor `add`).
    pub add: f64,
    /// Which tables get `add` (metafor `to`).
    pub to: AddTo,
    /// Set studies with `ai = ci = 0` or `bi = di = 0` to missing (metafor
    /// `drop00`; Higgins et al. 2019 consider them uninformative).
    pub drop00: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            add: 0.5,
            to: AddTo::Only0,
            drop00: false,
        }
    }
}

/// metafor's `to` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddTo {
    /// `"only0"`: add to every cell of tables with at least one zero cell.
    Only0,
    /// `"all"`: add to every cell of every table.
    All,
    /// `"if0all"`: add to every cell of every table, if any table has a zero.
    If0All,
    /// `"none"`: no correction (division by zero then gives missing values).
    None,
}

/// One bad input value: row index (0-based), argument, value, what is accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct BadValue {
    pub row: usize,
    pub arg: Arg,
    pub value: f64,
    pub accepted: &'static str,
}

/// Why `escalc` could not compute.
#[derive(Debug, Clone, PartialEq)]
pub enum EscalcError {
    /// Required arguments absent (metafor: "Cannot compute outcomes").
    MissingArgs { measure: Measure, missing: Vec<Arg> },
    /// The required columns differ in length.
    LengthMismatch(String),
    /// Every offending input cell.
    BadValues(Vec<BadValue>),
}

impl fmt::Display for EscalcError {
    /// Rows are shown 1-based (data row numbers), unlike [`BadValue::row`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EscalcError::MissingArgs { measure, missing } => {
                let names: Vec<&str> = missing.iter().map(|a| a.name()).collect();
                let needed: Vec<&str> = measure.required().iter().map(|a| a.name()).collect();
                write!(
                    f,
                    "measure {} needs {}; missing: {}",
                    measure.code(),
                    needed.join(", "),
                    names.join(", ")
                )
            }
            EscalcError::LengthMismatch(msg) => write!(f, "input columns differ in length: {msg}"),
            EscalcError::BadValues(bad) => {
                write!(f, "{} invalid input value(s):", bad.len())?;
                for b in bad {
                    write!(
                        f,
                        "\n  row {}: {} = {} (accepted: {})",
                        b.row + 1,
                        b.arg.name(),
                        b.value,
                        b.accepted
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for EscalcError {}

/// One study's effect size `yi` and sampling variance `vi` (`NaN` where
/// metafor gives `NA`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Effect {
    pub yi: f64,
    pub vi: f64,
}

const ACC_SD: &str = ">= 0 (a standard deviation)";
const ACC_N: &str = "> 0 (a group size)";
const ACC_N_SMD: &str =
    "> 0, with n1i + n2i > 3 (the exact bias correction needs n1i + n2i - 2 > 1)";
const ACC_NI_CHANGE: &str = "> 2 (the exact bias correction needs ni - 1 > 1)";
const ACC_NI_COR: &str = "> 3 (metafor gives no sampling variance for ni <= 3)";
const ACC_R: &str = "between -1 and 1 (a correlation)";
const ACC_COUNT: &str = ">= 0 (a cell count)";

/// Hedges' (1981) exact small-sample bias correction, as metafor's `.cmicalc`:
/// `J(m) = exp(lgamma(m/2) - log(sqrt(m/2)) - lgamma((m-1)/2))`, i.e.
/// `Γ(m/2) / (sqrt(m/2) Γ((m-1)/2))`; `NaN` for `m <= 1` (metafor: `NA`).
pub fn hedges_j_exact(m: f64) -> f64 {
    if m.is_nan() || m <= 1.0 {
        return f64::NAN;
    }
    (libm::lgamma(m / 2.0) - (m / 2.0).sqrt().ln() - libm::lgamma((m - 1.0) / 2.0)).exp()
}

/// Computes `yi` and `vi` for every row, as `metafor::escalc(measure, ...)`
/// does with `vtype = "LS"` and the zero-cell options in `opts`.
///
/// Errors: a required argument absent ([`EscalcError::MissingArgs`]), the
/// required columns of unequal length ([`EscalcError::LengthMismatch`]), or
/// invalid values ([`EscalcError::BadValues`], listing every offending cell;
/// missing values are never invalid). Columns not required by the measure are
/// ignored.
pub fn escalc(
    measure: Measure,
    inputs: &Inputs,
    opts: &Options,
) -> Result<Vec<Effect>, EscalcError> {
    let req = measure.required();
    let missing: Vec<Arg> = req
        .iter()
        .copied()
        .filter(|a| inputs.get(*a).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(EscalcError::MissingArgs { measure, missing });
    }
    let cols: Vec<&[f64]> = req.iter().map(|a| inputs.get(*a).unwrap()).collect();
    let k = cols[0].len();
    if cols.iter().any(|c| c.len() != k) {
        let desc: Vec<String> = req
            .iter()
            .zip(&cols)
            .map(|(a, c)| format!("{} has {}", a.name(), c.len()))
            .collect();
        return Err(EscalcError::LengthMismatch(format!(
            "measure {}: {}",
            measure.code(),
            desc.join(", ")
        )));
    }
    let col = |a: Arg| inputs.get(a).unwrap();

    let bad = validate(measure, inputs, k);
    if !bad.is_empty() {
        return Err(EscalcError::BadValues(bad));
    }

    let mut out: Vec<Effect> = match measure {
        Measure::Smd | Measure::Md => {
            let (m1, sd1, n1) = (col(Arg::M1i), col(Arg::Sd1i), col(Arg::N1i));
            let (m2, sd2, n2) = (col(Arg::M2i), col(Arg::Sd2i), col(Arg::N2i));
            (0..k)
                .map(|i| {
                    if measure == Measure::Md {
                        md(m1[i], sd1[i], n1[i], m2[i], sd2[i], n2[i])
                    } else {
                        smd(m1[i], sd1[i], n1[i], m2[i], sd2[i], n2[i])
                    }
                })
                .collect()
        }
        Measure::Smcr => {
            let (m1, m2, sd1) = (col(Arg::M1i), col(Arg::M2i), col(Arg::Sd1i));
            let (ni, ri) = (col(Arg::Ni), col(Arg::Ri));
            (0..k)
                .map(|i| smcr(m1[i], m2[i], sd1[i], ni[i], ri[i]))
                .collect()
        }
        Measure::Smcc => {
            let (m1, m2) = (col(Arg::M1i), col(Arg::M2i));
            let (sd1, sd2) = (col(Arg::Sd1i), col(Arg::Sd2i));
            let (ni, ri) = (col(Arg::Ni), col(Arg::Ri));
            (0..k)
                .map(|i| smcc(m1[i], m2[i], sd1[i], sd2[i], ni[i], ri[i]))
                .collect()
        }
        Measure::Cor | Measure::Zcor => {
            let (ri, ni) = (col(Arg::Ri), col(Arg::Ni));
            (0..k)
                .map(|i| {
                    if measure == Measure::Cor {
                        cor(ri[i], ni[i])
                    } else {
                        zcor(ri[i], ni[i])
                    }
                })
                .collect()
        }
        Measure::Or | Measure::Rr | Measure::Rd => {
            let tables =
                corrected_tables(col(Arg::Ai), col(Arg::Bi), col(Arg::Ci), col(Arg::Di), opts);
            tables
                .into_iter()
                .map(|t| match measure {
                    Measure::Or => log_or(t),
                    Measure::Rr => log_rr(t),
                    _ => rd(t),
                })
                .collect()
        }
    };
    for e in &mut out {
        // metafor: +-Inf in yi or vi -> both NA; negative vi -> NA.
        if e.yi.is_infinite() || e.vi.is_infinite() {
            e.yi = f64::NAN;
            e.vi = f64::NAN;
        }
        if e.vi < 0.0 {
            e.vi = f64::NAN;
        }
    }
    Ok(out)
}

/// Collects every invalid (non-missing) input cell of the required columns.
fn validate(measure: Measure, inputs: &Inputs, k: usize) -> Vec<BadValue> {
    let mut bad = Vec::new();
    let col = |a: Arg| inputs.get(a).unwrap();
    // `invalid` is written as a comparison that is false for NaN, so a
    // missing value always passes, as metafor's `any(..., na.rm = TRUE)`.
    let flag = |bad: &mut Vec<BadValue>, row: usize, arg: Arg, invalid: bool, acc: &'static str| {
        if invalid {
            bad.push(BadValue {
                row,
                arg,
                value: col(arg)[row],
                accepted: acc,
            });
        }
    };
    for i in 0..k {
        let x = |a: Arg| col(a)[i];
        match measure {
            Measure::Smd | Measure::Md => {
                let (n1, n2) = (x(Arg::N1i), x(Arg::N2i));
                for a in [Arg::Sd1i, Arg::Sd2i] {
                    flag(&mut bad, i, a, x(a) < 0.0, ACC_SD);
                }
                if measure == Measure::Md {
                    flag(&mut bad, i, Arg::N1i, n1 <= 0.0, ACC_N);
                    flag(&mut bad, i, Arg::N2i, n2 <= 0.0, ACC_N);
                } else if n1 <= 0.0 || n2 <= 0.0 {
                    flag(&mut bad, i, Arg::N1i, n1 <= 0.0, ACC_N_SMD);
                    flag(&mut bad, i, Arg::N2i, n2 <= 0.0, ACC_N_SMD);
                } else if n1 + n2 <= 3.0 {
                    flag(&mut bad, i, Arg::N1i, true, ACC_N_SMD);
                    flag(&mut bad, i, Arg::N2i, true, ACC_N_SMD);
                }
            }
            Measure::Smcr | Measure::Smcc => {
                flag(&mut bad, i, Arg::Sd1i, x(Arg::Sd1i) < 0.0, ACC_SD);
                if measure == Measure::Smcc {
                    flag(&mut bad, i, Arg::Sd2i, x(Arg::Sd2i) < 0.0, ACC_SD);
                }
                flag(&mut bad, i, Arg::Ni, x(Arg::Ni) <= 2.0, ACC_NI_CHANGE);
                flag(&mut bad, i, Arg::Ri, x(Arg::Ri).abs() > 1.0, ACC_R);
            }
            Measure::Cor | Measure::Zcor => {
                flag(&mut bad, i, Arg::Ri, x(Arg::Ri).abs() > 1.0, ACC_R);
                flag(&mut bad, i, Arg::Ni, x(Arg::Ni) <= 3.0, ACC_NI_COR);
            }
            Measure::Or | Measure::Rr | Measure::Rd => {
                for a in TABLE_ARGS {
                    flag(&mut bad, i, a, x(a) < 0.0, ACC_COUNT);
                }
            }
        }
    }
    bad
}

/// Raw mean difference (metafor "MD", vtype "LS"; Borenstein 2009, eq. 12.5):
/// `yi = m1i - m2i`, `vi = sd1i^2/n1i + sd2i^2/n2i` (no homoscedasticity).
fn md(m1: f64, sd1: f64, n1: f64, m2: f64, sd2: f64, n2: f64) -> Effect {
    Effect {
        yi: m1 - m2,
        vi: sd1 * sd1 / n1 + sd2 * sd2 / n2,
    }
}

/// Standardized mean difference, Hedges' g (metafor "SMD", vtype "LS"):
/// pooled `sdpi = sqrt(((n1i-1) sd1i^2 + (n2i-1) sd2i^2)/m)`, `m = n1i+n2i-2`,
/// `yi = J(m) (m1i - m2i)/sdpi` with Hedges' (1981) exact correction
/// [`hedges_j_exact`], and the large-sample variance
/// `vi = 1/n1i + 1/n2i + yi^2/(2 (n1i+n2i))` (Hedges 1982, eq. 8, as metafor).
fn smd(m1: f64, sd1: f64, n1: f64, m2: f64, sd2: f64, n2: f64) -> Effect {
    let ni = n1 + n2;
    let mi = ni - 2.0;
    let sdpi = (((n1 - 1.0) * sd1 * sd1 + (n2 - 1.0) * sd2 * sd2) / mi).sqrt();
    let di = (m1 - m2) / sdpi;
    let yi = hedges_j_exact(mi) * di;
    Effect {
        yi,
        vi: 1.0 / n1 + 1.0 / n2 + yi * yi / (2.0 * ni),
    }
}

/// Standardized mean change with raw-score standardization (metafor "SMCR",
/// vtype "LS"; Becker 1988; Morris 2000, as metafor):
/// `yi = J(ni-1) (m1i - m2i)/sd1i` (only `sd1i`, usually the pre-test SD,
/// standardizes), `vi = 2 (1 - ri)/ni + yi^2/(2 ni)`.
fn smcr(m1: f64, m2: f64, sd1: f64, ni: f64, ri: f64) -> Effect {
    let di = (m1 - m2) / sd1;
    let yi = hedges_j_exact(ni - 1.0) * di;
    Effect {
        yi,
        vi: 2.0 * (1.0 - ri) / ni + yi * yi / (2.0 * ni),
    }
}

/// Standardized mean change with change-score standardization (metafor
/// "SMCC", vtype "LS"; Gibbons, Hedeker & Davis 1993; Morris & DeShon 2002):
/// `sddi = sqrt(sd1i^2 + sd2i^2 - 2 ri sd1i sd2i)` (SD of the change scores),
/// `yi = J(ni-1) (m1i - m2i)/sddi`, `vi = 1/ni + yi^2/(2 ni)`.
fn smcc(m1: f64, m2: f64, sd1: f64, sd2: f64, ni: f64, ri: f64) -> Effect {
    let sddi = (sd1 * sd1 + sd2 * sd2 - 2.0 * ri * sd1 * sd2).sqrt();
    let di = (m1 - m2) / sddi;
    let yi = hedges_j_exact(ni - 1.0) * di;
    Effect {
        yi,
        vi: 1.0 / ni + yi * yi / (2.0 * ni),
    }
}

/// Raw correlation (metafor "COR", vtype "LS"; Borenstein 2009, eq. 12.27):
/// `yi = ri`, `vi = (1 - ri^2)^2/(ni - 1)`.
fn cor(ri: f64, ni: f64) -> Effect {
    let t = 1.0 - ri * ri;
    Effect {
        yi: ri,
        vi: t * t / (ni - 1.0),
    }
}

/// Fisher's r-to-z (metafor "ZCOR"; Fisher 1921): `yi = atanh(ri)`, computed
/// as metafor does, `1/2 log((1 + ri)/(1 - ri))`; `vi = 1/(ni - 3)`.
fn zcor(ri: f64, ni: f64) -> Effect {
    Effect {
        yi: 0.5 * ((1.0 + ri) / (1.0 - ri)).ln(),
        vi: 1.0 / (ni - 3.0),
    }
}

/// A 2x2 table after metafor's zero-cell handling.
#[derive(Debug, Clone, Copy)]
struct Table {
    a: f64,
    b: f64,
    c: f64,
    d: f64,
}

/// metafor's 2x2 preprocessing: `drop00` first (tables with `ai = ci = 0` or
/// `bi = di = 0` become missing), then `add` is added to all four cells of
/// every table (`to = "all"`), of tables with a zero cell (`"only0"`), of all
/// tables if any (remaining) table has a zero cell (`"if0all"`), or none. A
/// table "has a zero" if any non-missing cell is 0, as R's `|` with `NA`.
fn corrected_tables(ai: &[f64], bi: &[f64], ci: &[f64], di: &[f64], opts: &Options) -> Vec<Table> {
    let mut t: Vec<Table> = (0..ai.len())
        .map(|i| Table {
            a: ai[i],
            b: bi[i],
            c: ci[i],
            d: di[i],
        })
        .collect();
    if opts.drop00 {
        for x in &mut t {
            if (x.a == 0.0 && x.c == 0.0) || (x.b == 0.0 && x.d == 0.0) {
                *x = Table {
                    a: f64::NAN,
                    b: f64::NAN,
                    c: f64::NAN,
                    d: f64::NAN,
                };
            }
        }
    }
    let has0 = |x: &Table| x.a == 0.0 || x.b == 0.0 || x.c == 0.0 || x.d == 0.0;
    let any0 = t.iter().any(has0);
    for x in &mut t {
        let add = match opts.to {
            AddTo::All => true,
            AddTo::Only0 => has0(x),
            AddTo::If0All => any0,
            AddTo::None => false,
        };
        if add {
            x.a += opts.add;
            x.b += opts.add;
            x.c += opts.add;
            x.d += opts.add;
        }
    }
    t
}

/// Log odds ratio (metafor "OR"; Fleiss & Berlin 2009; Borenstein et al.
/// 2009, ch. 5): with `p1 = ai/(ai+bi)`, `p2 = ci/(ci+di)`,
/// `yi = log(p1/(1-p1)) - log(p2/(1-p2))`, `vi = 1/ai + 1/bi + 1/ci + 1/di`
/// (Woolf's variance), on the corrected table.
fn log_or(t: Table) -> Effect {
    let p1 = t.a / (t.a + t.b);
    let p2 = t.c / (t.c + t.d);
    Effect {
        yi: (p1 / (1.0 - p1)).ln() - (p2 / (1.0 - p2)).ln(),
        vi: 1.0 / t.a + 1.0 / t.b + 1.0 / t.c + 1.0 / t.d,
    }
}

/// Log risk ratio (metafor "RR"; Fleiss & Berlin 2009; Borenstein et al.
/// 2009, ch. 5): `yi = log(p1) - log(p2)`,
/// `vi = 1/ai - 1/n1i + 1/ci - 1/n2i`, on the corrected table.
fn log_rr(t: Table) -> Effect {
    let n1 = t.a + t.b;
    let n2 = t.c + t.d;
    Effect {
        yi: (t.a / n1).ln() - (t.c / n2).ln(),
        vi: 1.0 / t.a - 1.0 / n1 + 1.0 / t.c - 1.0 / n2,
    }
}

/// Risk difference (metafor "RD", vtype "LS"; Fleiss & Berlin 2009;
/// Borenstein et al. 2009, ch. 5): `yi = p1 - p2`,
/// `vi = p1 (1-p1)/n1i + p2 (1-p2)/n2i`, on the corrected table (metafor
/// applies `add` to RD too).
fn rd(t: Table) -> Effect {
    let n1 = t.a + t.b;
    let n2 = t.c + t.d;
    let p1 = t.a / n1;
    let p2 = t.c / n2;
    Effect {
        yi: p1 - p2,
        vi: p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1e-300) || a == b
    }

    fn table(ai: &[f64], bi: &[f64], ci: &[f64], di: &[f64]) -> Inputs {
        Inputs {
            ai: Some(ai.to_vec()),
            bi: Some(bi.to_vec()),
            ci: Some(ci.to_vec()),
            di: Some(di.to_vec()),
            ..Inputs::default()
        }
    }

    fn two_group(r: [f64; 6]) -> Inputs {
        Inputs {
            m1i: Some(vec![r[0]]),
            sd1i: Some(vec![r[1]]),
            n1i: Some(vec![r[2]]),
            m2i: Some(vec![r[3]]),
            sd2i: Some(vec![r[4]]),
            n2i: Some(vec![r[5]]),
            ..Inputs::default()
        }
    }

    #[test]
    fn codes_round_trip_and_parse_case_insensitively() {
        for m in Measure::all() {
            assert_eq!(Measure::parse(m.code()), Some(*m));
            assert_eq!(Measure::parse(&m.code().to_lowercase()), Some(*m));
        }
        assert_eq!(Measure::parse("zCor"), Some(Measure::Zcor));
        assert_eq!(Measure::parse("PETO"), None);
        assert_eq!(Measure::all().len(), 9);
        assert_eq!(Arg::Sd1i.name(), "sd1i");
        assert_eq!(Measure::Smcr.required().len(), 5);
        assert!(!Measure::Smcr.required().contains(&Arg::Sd2i));
    }

    #[test]
    fn exact_j_matches_closed_form() {
        // m = 4: Γ(2)/(sqrt(2) Γ(3/2)) = sqrt(2/π).
        assert!(close(
            hedges_j_exact(4.0),
            (2.0 / std::f64::consts::PI).sqrt()
        ));
        // m = 3: Γ(3/2)/(sqrt(3/2) Γ(1)) = sqrt(π)/2 / sqrt(1.5).
        assert!(close(
            hedges_j_exact(3.0),
            std::f64::consts::PI.sqrt() / 2.0 / 1.5f64.sqrt()
        ));
        // Large m: close to Hedges' approximation 1 - 3/(4m - 1).
        assert!((hedges_j_exact(200.0) - (1.0 - 3.0 / 799.0)).abs() < 1e-6);
        assert!(hedges_j_exact(1.0).is_nan());
    }

    #[test]
    fn smd_hand_checked() {
        // n1 = n2 = 3 -> m = 4, sdp = 2, d = 1, g = sqrt(2/π).
        let e = escalc(
            Measure::Smd,
            &two_group([12.0, 2.0, 3.0, 10.0, 2.0, 3.0]),
            &Options::default(),
        )
        .unwrap();
        let g = (2.0 / std::f64::consts::PI).sqrt();
        assert!(close(e[0].yi, g));
        assert!(close(e[0].vi, 2.0 / 3.0 + g * g / 12.0));
    }

    #[test]
    fn md_hand_checked() {
        let e = escalc(
            Measure::Md,
            &two_group([10.0, 2.0, 10.0, 8.0, 3.0, 20.0]),
            &Options::default(),
        )
        .unwrap();
        assert!(close(e[0].yi, 2.0));
        assert!(close(e[0].vi, 0.85));
    }

    #[test]
    fn change_measures_hand_checked() {
        // ni = 5 -> J(4) = sqrt(2/π). SMCR: d = (14 - 10)/4 = 1.
        let inp = Inputs {
            m1i: Some(vec![14.0]),
            m2i: Some(vec![10.0]),
            sd1i: Some(vec![4.0]),
            sd2i: Some(vec![4.0]),
            ni: Some(vec![5.0]),
            ri: Some(vec![0.5]),
            ..Inputs::default()
        };
        let j = (2.0 / std::f64::consts::PI).sqrt();
        let e = escalc(Measure::Smcr, &inp, &Options::default()).unwrap();
        assert!(close(e[0].yi, j));
        assert!(close(e[0].vi, 2.0 * 0.5 / 5.0 + j * j / 10.0));
        // SMCC: sd of change = sqrt(16 + 16 - 16) = 4, so d = 1 as well.
        let e = escalc(Measure::Smcc, &inp, &Options::default()).unwrap();
        assert!(close(e[0].yi, j));
        assert!(close(e[0].vi, 1.0 / 5.0 + j * j / 10.0));
    }

    #[test]
    fn correlations_hand_checked() {
        let inp = Inputs {
            ri: Some(vec![0.5, f64::NAN]),
            ni: Some(vec![11.0, 23.0]),
            ..Inputs::default()
        };
        let e = escalc(Measure::Cor, &inp, &Options::default()).unwrap();
        assert!(close(e[0].yi, 0.5));
        assert!(close(e[0].vi, 0.5625 / 10.0));
        assert!(e[1].yi.is_nan() && e[1].vi.is_nan());
        let e = escalc(Measure::Zcor, &inp, &Options::default()).unwrap();
        assert!(close(e[0].yi, 0.5f64.atanh()));
        assert!(close(e[0].vi, 1.0 / 8.0));
        // As metafor: missing ri gives NA yi but vi = 1/(ni - 3).
        assert!(e[1].yi.is_nan());
        assert!(close(e[1].vi, 0.05));
        // |r| = 1: yi infinite -> both missing.
        let one = Inputs {
            ri: Some(vec![1.0]),
            ni: Some(vec![10.0]),
            ..Inputs::default()
        };
        let e = escalc(Measure::Zcor, &one, &Options::default()).unwrap();
        assert!(e[0].yi.is_nan() && e[0].vi.is_nan());
    }

    #[test]
    fn two_by_two_hand_checked() {
        // BCG trial 1 (Aronson 1948): 4/119 vs 11/128.
        let inp = table(&[4.0], &[119.0], &[11.0], &[128.0]);
        let o = Options::default();
        let e = escalc(Measure::Or, &inp, &o).unwrap();
        assert!(close(e[0].yi, (4.0f64 * 128.0 / (119.0 * 11.0)).ln()));
        assert!(close(
            e[0].vi,
            1.0 / 4.0 + 1.0 / 119.0 + 1.0 / 11.0 + 1.0 / 128.0
        ));
        let e = escalc(Measure::Rr, &inp, &o).unwrap();
        assert!(close(e[0].yi, (4.0f64 / 123.0 / (11.0 / 139.0)).ln()));
        assert!(close(
            e[0].vi,
            1.0 / 4.0 - 1.0 / 123.0 + 1.0 / 11.0 - 1.0 / 139.0
        ));
        let e = escalc(Measure::Rd, &inp, &o).unwrap();
        let (p1, p2) = (4.0 / 123.0, 11.0 / 139.0);
        assert!(close(e[0].yi, p1 - p2));
        assert!(close(
            e[0].vi,
            p1 * (1.0 - p1) / 123.0 + p2 * (1.0 - p2) / 139.0
        ));
    }

    #[test]
    fn zero_cells() {
        // Row 0 has a zero, row 1 is a double-zero (ai = ci = 0), row 2 none.
        let inp = table(
            &[0.0, 0.0, 2.0],
            &[10.0, 10.0, 8.0],
            &[5.0, 0.0, 4.0],
            &[5.0, 10.0, 6.0],
        );
        let e = escalc(Measure::Or, &inp, &Options::default()).unwrap();
        // only0: 0.5/10.5 vs 5.5/5.5.
        assert!(close(e[0].yi, (0.5f64 / 10.5).ln()));
        assert!(close(e[0].vi, 2.0 + 1.0 / 10.5 + 2.0 / 5.5));
        assert!(close(e[1].yi, 0.0));
        assert!(close(e[2].yi, (2.0f64 * 6.0 / (8.0 * 4.0)).ln()));
        // all: row 2 corrected too.
        let all = Options {
            to: AddTo::All,
            ..Options::default()
        };
        let e = escalc(Measure::Or, &inp, &all).unwrap();
        assert!(close(e[2].yi, (2.5f64 * 6.5 / (8.5 * 4.5)).ln()));
        // if0all: same as all here (some table has a zero).
        let if0 = Options {
            to: AddTo::If0All,
            ..Options::default()
        };
        assert_eq!(escalc(Measure::Or, &inp, &if0).unwrap()[2], e[2]);
        // drop00: the double-zero study is missing.
        let drop = Options {
            drop00: true,
            ..Options::default()
        };
        let e = escalc(Measure::Or, &inp, &drop).unwrap();
        assert!(e[1].yi.is_nan() && e[1].vi.is_nan());
        assert!(close(e[0].yi, (0.5f64 / 10.5).ln()));
        // none: log(0) -> both missing; RD still defined.
        let none = Options {
            to: AddTo::None,
            ..Options::default()
        };
        let e = escalc(Measure::Or, &inp, &none).unwrap();
        assert!(e[0].yi.is_nan() && e[0].vi.is_nan());
        let e = escalc(Measure::Rd, &inp, &none).unwrap();
        assert!(close(e[0].yi, -0.5));
        assert!(close(e[0].vi, 0.25 / 10.0));
    }

    #[test]
    fn missing_args_listed() {
        let inp = Inputs {
            m1i: Some(vec![1.0]),
            m2i: Some(vec![1.0]),
            ..Inputs::default()
        };
        let err = escalc(Measure::Smcr, &inp, &Options::default()).unwrap_err();
        assert_eq!(
            err,
            EscalcError::MissingArgs {
                measure: Measure::Smcr,
                missing: vec![Arg::Sd1i, Arg::Ni, Arg::Ri]
            }
        );
        let msg = err.to_string();
        assert!(
            msg.contains("SMCR") && msg.contains("sd1i, ni, ri"),
            "{msg}"
        );
    }

    #[test]
    fn length_mismatch() {
        let inp = Inputs {
            ri: Some(vec![0.1, 0.2]),
            ni: Some(vec![10.0]),
            ..Inputs::default()
        };
        match escalc(Measure::Cor, &inp, &Options::default()) {
            Err(EscalcError::LengthMismatch(m)) => assert!(m.contains("ri has 2"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_values_list_every_cell() {
        let inp = Inputs {
            m1i: Some(vec![1.0, 2.0, 3.0]),
            sd1i: Some(vec![-1.0, 1.0, f64::NAN]),
            n1i: Some(vec![10.0, 0.0, 1.0]),
            m2i: Some(vec![1.0, 2.0, 3.0]),
            sd2i: Some(vec![1.0, -2.0, 1.0]),
            n2i: Some(vec![10.0, 5.0, 2.0]),
            ..Inputs::default()
        };
        let Err(EscalcError::BadValues(bad)) = escalc(Measure::Smd, &inp, &Options::default())
        else {
            panic!("expected BadValues")
        };
        let cells: Vec<(usize, Arg)> = bad.iter().map(|b| (b.row, b.arg)).collect();
        assert_eq!(
            cells,
            vec![
                (0, Arg::Sd1i),
                (1, Arg::Sd2i),
                (1, Arg::N1i),
                (2, Arg::N1i),
                (2, Arg::N2i)
            ]
        );
        assert_eq!(bad[0].value, -1.0);
        assert_eq!(bad[0].accepted, ACC_SD);
        // MD accepts n1i + n2i = 3 (no bias correction), but not n1i = 0.
        let Err(EscalcError::BadValues(bad)) = escalc(Measure::Md, &inp, &Options::default())
        else {
            panic!("expected BadValues")
        };
        assert_eq!(bad.len(), 3);
        let msg = EscalcError::BadValues(bad).to_string();
        assert!(msg.contains("row 2: n1i = 0 (accepted: > 0"), "{msg}");
    }

    #[test]
    fn bad_correlations_sizes_and_counts() {
        let inp = Inputs {
            ri: Some(vec![1.5, 0.2, -1.0, f64::NAN]),
            ni: Some(vec![10.0, 3.0, 50.0, 2.0]),
            ..Inputs::default()
        };
        let Err(EscalcError::BadValues(bad)) = escalc(Measure::Zcor, &inp, &Options::default())
        else {
            panic!("expected BadValues")
        };
        let cells: Vec<(usize, Arg)> = bad.iter().map(|b| (b.row, b.arg)).collect();
        assert_eq!(cells, vec![(0, Arg::Ri), (1, Arg::Ni), (3, Arg::Ni)]);
        assert_eq!(bad[1].accepted, ACC_NI_COR);

        let chg = Inputs {
            m1i: Some(vec![1.0, 1.0]),
            m2i: Some(vec![0.0, 0.0]),
            sd1i: Some(vec![1.0, 1.0]),
            sd2i: Some(vec![-1.0, -1.0]),
            ni: Some(vec![2.0, 10.0]),
            ri: Some(vec![0.5, -1.2]),
            ..Inputs::default()
        };
        // SMCR ignores sd2i; SMCC checks it.
        let Err(EscalcError::BadValues(bad)) = escalc(Measure::Smcr, &chg, &Options::default())
        else {
            panic!("expected BadValues")
        };
        let cells: Vec<(usize, Arg)> = bad.iter().map(|b| (b.row, b.arg)).collect();
        assert_eq!(cells, vec![(0, Arg::Ni), (1, Arg::Ri)]);
        let Err(EscalcError::BadValues(bad)) = escalc(Measure::Smcc, &chg, &Options::default())
        else {
            panic!("expected BadValues")
        };
        assert_eq!(bad.len(), 4);

        let tab = table(&[-1.0, 2.0], &[3.0, -4.0], &[5.0, 6.0], &[7.0, -0.5]);
        let Err(EscalcError::BadValues(bad)) = escalc(Measure::Rr, &tab, &Options::default())
        else {
            panic!("expected BadValues")
        };
        let cells: Vec<(usize, Arg)> = bad.iter().map(|b| (b.row, b.arg)).collect();
        assert_eq!(cells, vec![(0, Arg::Ai), (1, Arg::Bi), (1, Arg::Di)]);
        assert_eq!(bad[2].value, -0.5);
    }
}
