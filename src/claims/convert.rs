//! Conversions between the effect-size metrics in which the field states its
//! claims, and the arithmetic of published (rounded) numbers.
//!
//! - d → r: r = d / √(d² + 4), for two groups of equal size (Rosenthal 1994,
//!   in Cooper & Hedges (eds.), *The Handbook of Research Synthesis*, eq. 16-7;
//!   Borenstein, Hedges, Higgins & Rothstein 2009, *Introduction to
//!   Meta-Analysis*, eq. 7.5 with a = 4); science.md §1.
//! - r → d: d = 2r / √(1 − r²) (Rosenthal 1994, eq. 16-8; Borenstein et al.
//!   2009, eq. 7.7).
//! - r → % of variance: 100 r² (science.md §1).
//! - ICC → r: r = √ICC, and ICC → % of variance: 100 ICC (science.md §1:
//!   "ICC .07 ⇔ r = √ICC ⇔ d .55"; Baldwin & Imel 2013).

use std::fmt;

/// A metric a claim is stated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Standardised mean difference (Cohen's d; Hedges' g).
    D,
    /// Correlation.
    R,
    /// Intraclass correlation (a proportion of variance).
    Icc,
    /// Percent of outcome variance.
    Pct,
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Metric::D => "d",
            Metric::R => "r",
            Metric::Icc => "ICC",
            Metric::Pct => "%",
        })
    }
}

/// The correlation a value in `from` corresponds to (a signed r for d and r;
/// √ for proportions of variance). `None` outside the metric's domain.
fn to_r(from: Metric, x: f64) -> Option<f64> {
    let r = match from {
        Metric::R => x,
        Metric::D => x / (x * x + 4.0).sqrt(),
        Metric::Icc => x.sqrt(),
        Metric::Pct => (x / 100.0).sqrt(),
    };
    let ok = match from {
        Metric::R => (-1.0..=1.0).contains(&x),
        Metric::D => x.is_finite(),
        Metric::Icc => (0.0..=1.0).contains(&x),
        Metric::Pct => (0.0..=100.0).contains(&x),
    };
    (ok && r.is_finite()).then_some(r)
}

fn from_r(to: Metric, r: f64) -> Option<f64> {
    let y = match to {
        Metric::R => r,
        Metric::D => 2.0 * r / (1.0 - r * r).sqrt(),
        Metric::Icc => r * r,
        Metric::Pct => 100.0 * r * r,
    };
    y.is_finite().then_some(y)
}

/// `x` in metric `from` expressed in metric `to`.
pub fn convert(from: Metric, to: Metric, x: f64) -> Option<f64> {
    if from == to {
        return x.is_finite().then_some(x);
    }
    from_r(to, to_r(from, x)?)
}

/// The formula of a conversion, for the `computation` text.
pub fn formula(from: Metric, to: Metric) -> &'static str {
    use Metric::*;
    match (from, to) {
        (R, D) => "d = 2r/√(1 − r²)",
        (R, Pct) => "% = 100·r²",
        (D, R) => "r = d/√(d² + 4)",
        (D, Pct) => "% = 100·r², r = d/√(d² + 4)",
        (Icc, R) => "r = √ICC",
        (Icc, D) => "d = 2r/√(1 − r²), r = √ICC",
        (Icc, Pct) => "% = 100·ICC",
        (Pct, R) => "r = √(%/100)",
        (Pct, D) => "d = 2r/√(1 − r²), r = √(%/100)",
        (Pct, Icc) => "ICC = %/100",
        (R, Icc) => "ICC = r²",
        (D, Icc) => "ICC = r², r = d/√(d² + 4)",
        _ => "identity",
    }
}

/// A number as it is printed in a paper: its value, its number of decimals,
/// and whether it is a bound ("< 1.0").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Printed {
    pub value: f64,
    pub decimals: u32,
    pub bound: Bound,
}

/// How a printed number is stated: exact, "< x" (upper bound) or "> x"
/// (lower bound); the replication chart draws it.
pub use crate::plot::replication::Bound;

impl Printed {
    /// Parses "7.5", "0.70", "< 1.0", "> 0.2", "−0.3" (a typographic minus
    /// is accepted), "≈ 0". The decimals printed set the rounding.
    pub fn parse(text: &str) -> Option<Printed> {
        let t = text.trim();
        let (bound, rest) = if let Some(r) = t.strip_prefix('<') {
            (Bound::Upper, r)
        } else if let Some(r) = t.strip_prefix('>') {
            (Bound::Lower, r)
        } else if let Some(r) = t.strip_prefix('≈') {
            (Bound::Exact, r)
        } else {
            (Bound::Exact, t)
        };
        let rest = rest.trim().replace('−', "-");
        let rest = rest.strip_suffix('%').unwrap_or(&rest).trim();
        if rest.is_empty()
            || !rest
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+')
        {
            return None;
        }
        let value: f64 = rest.parse().ok()?;
        let decimals = rest.split_once('.').map_or(0, |(_, f)| f.len() as u32);
        value.is_finite().then_some(Printed {
            value,
            decimals,
            bound,
        })
    }

    /// Half a unit in the last printed decimal: the largest rounding error.
    pub fn half_unit(&self) -> f64 {
        0.5 * 10f64.powi(-(self.decimals as i32))
    }

    /// The values that print as this number: [x − h, x + h].
    pub fn rounding_interval(&self) -> (f64, f64) {
        (self.value - self.half_unit(), self.value + self.half_unit())
    }
}

impl fmt::Display for Printed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.bound {
            Bound::Exact => "",
            Bound::Upper => "< ",
            Bound::Lower => "> ",
        };
        write!(f, "{prefix}{:.*}", self.decimals as usize, self.value)
    }
}

/// The image of an interval under a conversion that is monotone on it
/// (every conversion here is monotone for r, d ≥ 0 and on r ∈ (−1, 1)).
pub fn convert_interval(from: Metric, to: Metric, lo: f64, hi: f64) -> Option<(f64, f64)> {
    // proportions cannot be negative: rounding "0.0" gives [−0.05, 0.05]
    let clamp = |x: f64| match from {
        Metric::Icc | Metric::Pct => x.max(0.0),
        Metric::R => x.clamp(-1.0, 1.0),
        Metric::D => x,
    };
    let (lo, hi) = (clamp(lo), clamp(hi));
    let a = convert(from, to, lo)?;
    let b = convert(from, to, hi)?;
    // a squared metric is not monotone across 0: its minimum there is 0
    let squared = matches!(to, Metric::Icc | Metric::Pct) && matches!(from, Metric::R | Metric::D);
    if squared && lo < 0.0 && hi > 0.0 {
        return Some((0.0, a.max(b)));
    }
    Some((a.min(b), a.max(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// science.md §1's examples: d = 0.57 ⇔ r = .274 ⇔ 7.5%; ICC .07 ⇔ d .55.
    #[test]
    fn conversions_match_science_md() {
        let r = convert(Metric::D, Metric::R, 0.57).unwrap();
        assert!((r - 0.57 / (0.57f64 * 0.57 + 4.0).sqrt()).abs() < 1e-15);
        assert!((convert(Metric::D, Metric::Pct, 0.57).unwrap() - 7.5123).abs() < 1e-4);
        assert!((convert(Metric::Icc, Metric::D, 0.07).unwrap() - 0.5488).abs() < 1e-4);
        assert!((convert(Metric::Icc, Metric::Pct, 0.07).unwrap() - 7.0).abs() < 1e-12);
        // r → d → r round trip
        for &r in &[-0.6, -0.1, 0.0, 0.02, 0.278, 0.9] {
            let d = convert(Metric::R, Metric::D, r).unwrap();
            assert!((convert(Metric::D, Metric::R, d).unwrap() - r).abs() < 1e-14);
        }
        // two equal groups d apart: the share of variance is d²/(d² + 4)
        let d: f64 = 0.2;
        assert!(
            (convert(Metric::D, Metric::Pct, d).unwrap() - 100.0 * d * d / (d * d + 4.0)).abs()
                < 1e-12
        );
        assert_eq!(convert(Metric::R, Metric::D, 1.5), None);
        assert_eq!(convert(Metric::Icc, Metric::R, -0.1), None);
    }

    #[test]
    fn printed_numbers() {
        let p = Printed::parse("7.5").unwrap();
        assert_eq!((p.value, p.decimals, p.bound), (7.5, 1, Bound::Exact));
        assert_eq!(p.rounding_interval(), (7.45, 7.55));
        let p = Printed::parse("< 1.0").unwrap();
        assert_eq!((p.value, p.decimals, p.bound), (1.0, 1, Bound::Upper));
        assert_eq!(p.to_string(), "< 1.0");
        assert_eq!(Printed::parse("0.70").unwrap().to_string(), "0.70");
        assert_eq!(Printed::parse("−0.3").unwrap().value, -0.3);
        assert_eq!(Printed::parse("5%").unwrap().decimals, 0);
        assert_eq!(Printed::parse("≈ 0").unwrap().value, 0.0);
        assert!(Printed::parse("seven").is_none());
        assert!(Printed::parse("1e5").is_none());
        assert!(Printed::parse("").is_none());
    }

    #[test]
    fn intervals_are_monotone_images() {
        let (a, b) = convert_interval(Metric::R, Metric::Pct, 0.2745, 0.2755).unwrap();
        assert!((a - 7.535).abs() < 1e-3 && (b - 7.590).abs() < 1e-3);
        // a rounding interval that reaches below 0 is clamped for proportions
        let (a, _) = convert_interval(Metric::Icc, Metric::Pct, -0.005, 0.005).unwrap();
        assert_eq!(a, 0.0);
        // r = "0.00" gives [0, 0.0025]% (r² is smallest at 0)
        let (a, b) = convert_interval(Metric::R, Metric::Pct, -0.005, 0.005).unwrap();
        assert_eq!(a, 0.0);
        assert!((b - 0.0025).abs() < 1e-15);
    }
}
