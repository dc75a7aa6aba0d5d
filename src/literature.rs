//! Published estimates of how much of psychotherapy outcome each factor
//! accounts for, each from its own (mostly bivariate, meta-analytic)
//! analysis (science.md §1). Shown beside a within-dataset decomposition,
//! labelled as separate analyses; `replicate` recomputes them.
//!
//! Conversions (science.md §1; Rosenthal 1994, in Cooper & Hedges (eds.),
//! *The Handbook of Research Synthesis*, ch. 16, eqs. 16-7 and 16-8):
//! r = d/√(d² + 4), % of variance = 100·r²; for a therapist ICC, % = 100·ICC.

use serde::Serialize;

/// One published estimate.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Published {
    /// Our factor it speaks to (client, technique, relationship, therapist, site).
    pub factor: &'static str,
    /// What was estimated.
    pub what: &'static str,
    /// Percent of outcome variance as published or as converted from the
    /// published statistic (`None` where only a bound is given).
    pub percent: Option<f64>,
    /// The figure as the source states it.
    pub statistic: &'static str,
    pub source: &'static str,
    /// science.md §1 marks the figure *(verify)*: taken from a secondary
    /// summary (Wampold 2015) and not yet confirmed from the primary paper.
    pub unverified: bool,
}

/// The estimates, one or two per factor (science.md §1).
pub const PUBLISHED: &[Published] = &[
    Published {
        factor: "client",
        what: "extratherapeutic (client) factors",
        percent: Some(40.0),
        statistic: "40% (a judgement, not a computation)",
        source:
            "Lambert 1992, in Norcross & Goldfried (eds.), Handbook of Psychotherapy Integration",
        unverified: false,
    },
    Published {
        factor: "technique",
        what: "differences between bona fide treatments",
        percent: Some(1.0),
        statistic: "d < 0.20, under 1%",
        source:
            "Wampold et al. 1997, Psychol. Bull. 122:203; Wampold 2015, World Psychiatry 14:270",
        unverified: false,
    },
    Published {
        factor: "relationship",
        what: "alliance–outcome correlation",
        percent: Some(7.7),
        statistic: "r = .278 [.256, .299], 295 studies",
        source: "Flückiger, Del Re, Wampold & Horvath 2018, Psychotherapy 55:316",
        unverified: false,
    },
    Published {
        factor: "relationship",
        what: "empathy–outcome correlation",
        percent: Some(9.0),
        statistic: "r = .30",
        source: "Elliott, Bohart, Watson & Greenberg 2011, Psychotherapy 48:43",
        unverified: true,
    },
    Published {
        factor: "therapist",
        what: "therapist effects (ICC)",
        percent: Some(5.0),
        statistic: "weighted mean 5%",
        source: "Johns, Barkham, Kellett & Saxon 2019, Clin. Psychol. Rev. 67:78",
        unverified: false,
    },
    Published {
        factor: "therapist",
        what: "therapist effects in routine care (ICC)",
        percent: Some(6.6),
        statistic: "6.6% (10,786 patients, 119 therapists)",
        source: "Saxon & Barkham 2012, J. Consult. Clin. Psychol. 80:535",
        unverified: false,
    },
    Published {
        factor: "site",
        what: "clinic effects after case-mix adjustment (ICC)",
        percent: Some(1.9),
        statistic: "1.9% (26,888 patients, 30 clinics)",
        source: "Firth, Saxon, O'Cathain, Kellett & Barkham 2019, Psychother. Res.",
        unverified: false,
    },
];

/// Why the published figures cannot be added up, in one sentence.
pub const NOT_ADDITIVE: &str = "These figures come from separate analyses, each of one factor \
    at a time in different samples, so each includes variance it shares with the others (the \
    alliance partly reflects the therapist; technique is chosen by therapists and sites): they \
    overlap and do not add up, whereas the shares above split the explained variance of one \
    dataset and sum to its total.";

/// The published estimates for one factor.
pub fn for_factor(factor: &str) -> impl Iterator<Item = &'static Published> + '_ {
    PUBLISHED.iter().filter(move |p| p.factor == factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The percentages follow from the published statistics
    /// (% = 100 r², science.md §1): Flückiger et al. r = .278 → 7.7%,
    /// Elliott et al. r = .30 → 9.0%.
    #[test]
    fn percentages_follow_from_r() {
        let alliance = PUBLISHED
            .iter()
            .find(|p| p.source.starts_with("Flückiger"))
            .unwrap();
        assert_eq!(
            alliance.percent,
            Some((100.0 * 0.278f64 * 0.278 * 10.0).round() / 10.0)
        );
        let empathy = PUBLISHED
            .iter()
            .find(|p| p.source.starts_with("Elliott"))
            .unwrap();
        assert_eq!(
            empathy.percent,
            Some((100.0 * 0.30f64 * 0.30 * 10.0).round() / 10.0)
        );
    }
}
