//! NHS Talking Therapies for anxiety and depression (formerly IAPT) outcome
//! metrics from each client's first and last PHQ-9 and GAD-7 scores and the
//! number of attended treatment sessions.
//!
//! Definitions (science.md §3), with their sources:
//!
//! * **Finished a course of treatment**: the referral ended having had at
//!   least two attended treatment sessions (NHS Digital, NHS Talking
//!   Therapies glossary, "Finished course of treatment"; Fingertips common
//!   mental disorders profile, supporting information).
//! * **Caseness** at the first measurement: PHQ-9 ≥ 10, or the paired anxiety
//!   measure at or above its cut-off, here GAD-7 ≥ 8 (NHS Talking Therapies
//!   for anxiety and depression Manual, NHS England, appendix on outcome
//!   measurement; the "clinical/non-clinical cut-off" of the NHS Digital
//!   glossary, "Caseness").
//! * **Recovery**: at caseness at first, below caseness on both measures at
//!   last. **Recovery rate** = recovered / (finished − finished not at
//!   caseness) (NHS Digital, Psychological Therapies: reports on the use of
//!   IAPT services, England, June 2020 final, "Outcomes": e.g.
//!   27,884 / (57,060 − 3,200) = 51.8%).
//! * **Reliable improvement**: a fall of more than 5 points on the PHQ-9
//!   (≥ 6) or more than 3 on the GAD-7 (≥ 4) on either measure, and no reliable
//!   deterioration on the other; rate over all finished (NHS Digital, same
//!   report: 39,417 / 57,060 = 69.1%).
//! * **Reliable recovery**: recovered and reliably improved; denominator as
//!   for recovery (NHS Digital, same report).
//! * **Reliable deterioration**: a rise of ≥ 6 on the PHQ-9 or ≥ 4 on the GAD-7
//!   on either measure; rate over all finished.
//! * **Effect size** per measure: (mean first − mean last)/SD first over the
//!   finished clients (the pre-SD standardisation of the service benchmarks,
//!   Delgadillo et al. 2014), so positive = improvement.
//!
//! Choices made here (and reported in the result):
//!
//! * A finished client needs a first and a last score on every measure in use;
//!   a finished client without them is counted in `finished_missing_scores`
//!   and left out of every denominator (the NHS outcome metrics are defined
//!   on paired scores). A client whose session count is missing is counted in
//!   `missing_sessions` and left out.
//! * One measure only: when the data carry only PHQ-9 (or only GAD-7) scores,
//!   the same definitions are applied to that measure alone ("caseness" =
//!   PHQ-9 ≥ 10, recovery = below 10 at last, and so on). The result says
//!   `official: false` and lists `measures_used`, because the official
//!   metrics pair the depression measure with an anxiety measure.

use crate::error::{Error, Result};
use crate::stats::change::wilson;
use crate::stats::describe::{mean, sd};
use serde::Serialize;

/// Attended treatment sessions needed to have "finished" treatment.
pub const MIN_SESSIONS: u32 = 2;
/// PHQ-9 caseness: a score of 10 or more.
pub const PHQ9_CASENESS: f64 = 10.0;
/// GAD-7 caseness in NHS Talking Therapies: 8 or more.
pub const GAD7_CASENESS: f64 = 8.0;
/// Reliable change on the PHQ-9: 6 points or more (a change "> 5").
pub const PHQ9_RELIABLE: f64 = 6.0;
/// Reliable change on the GAD-7: 4 points or more (a change "> 3").
pub const GAD7_RELIABLE: f64 = 4.0;

/// One client (one referral): first and last scores and attended sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NhsClient {
    pub phq9_first: Option<f64>,
    pub phq9_last: Option<f64>,
    pub gad7_first: Option<f64>,
    pub gad7_last: Option<f64>,
    /// Attended treatment sessions (None when unknown).
    pub sessions: Option<u32>,
}

/// Which measures the metrics use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NhsMeasures {
    /// PHQ-9 and GAD-7: the official definitions.
    Both,
    Phq9Only,
    Gad7Only,
}

impl NhsMeasures {
    /// Detects the measures present: a measure is used when any client has
    /// any score on it. None when neither is present.
    pub fn detect(clients: &[NhsClient]) -> Option<NhsMeasures> {
        let has = |f: fn(&NhsClient) -> [Option<f64>; 2]| {
            clients
                .iter()
                .any(|c| f(c).iter().any(|v| v.is_some_and(f64::is_finite)))
        };
        let phq = has(|c| [c.phq9_first, c.phq9_last]);
        let gad = has(|c| [c.gad7_first, c.gad7_last]);
        match (phq, gad) {
            (true, true) => Some(NhsMeasures::Both),
            (true, false) => Some(NhsMeasures::Phq9Only),
            (false, true) => Some(NhsMeasures::Gad7Only),
            (false, false) => None,
        }
    }

    fn uses_phq9(self) -> bool {
        self != NhsMeasures::Gad7Only
    }
    fn uses_gad7(self) -> bool {
        self != NhsMeasures::Phq9Only
    }
}

/// A rate with its numerator, denominator and Wilson interval (rate and
/// interval absent when the denominator is 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Proportion {
    pub numerator: usize,
    pub denominator: usize,
    pub rate: Option<f64>,
    pub ci_lb: Option<f64>,
    pub ci_ub: Option<f64>,
}

impl Proportion {
    pub fn new(numerator: usize, denominator: usize, level: f64) -> Proportion {
        if denominator == 0 {
            return Proportion {
                numerator,
                denominator,
                rate: None,
                ci_lb: None,
                ci_ub: None,
            };
        }
        let w = wilson(numerator, denominator, level);
        Proportion {
            numerator,
            denominator,
            rate: Some(numerator as f64 / denominator as f64),
            ci_lb: Some(w.ci_lb),
            ci_ub: Some(w.ci_ub),
        }
    }
}

/// The NHS effect size of one measure: (mean first − mean last)/SD first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NhsEffect {
    pub measure: &'static str,
    pub n: usize,
    pub mean_first: f64,
    pub mean_last: f64,
    pub sd_first: f64,
    /// None when n < 2 or the first scores have SD 0.
    pub estimate: Option<f64>,
}

/// The thresholds used, echoed for the output.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NhsDefinitions {
    pub min_sessions: u32,
    pub phq9_caseness: f64,
    pub gad7_caseness: f64,
    pub phq9_reliable_change: f64,
    pub gad7_reliable_change: f64,
}

/// One finished client's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NhsOutcome {
    /// 0-based position in the input.
    pub row: usize,
    pub caseness: bool,
    pub recovered: bool,
    pub reliable_improvement: bool,
    pub reliable_deterioration: bool,
    pub reliable_recovery: bool,
}

/// NHS Talking Therapies metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NhsResult {
    pub measures: NhsMeasures,
    /// Names of the measures used, e.g. `["PHQ-9", "GAD-7"]`.
    pub measures_used: Vec<&'static str>,
    /// True only when both PHQ-9 and GAD-7 were used (the official definitions).
    pub official: bool,
    /// All clients given.
    pub clients: usize,
    /// Clients whose attended-session count is missing (left out).
    pub missing_sessions: usize,
    /// Clients with fewer than `min_sessions` attended sessions.
    pub not_finished: usize,
    /// Finished clients without a first and last score on every measure used (left out).
    pub finished_missing_scores: usize,
    /// Finished clients with paired scores: the denominator of improvement and deterioration.
    pub finished: usize,
    pub finished_at_caseness: usize,
    pub finished_not_at_caseness: usize,
    /// recovered / (finished − finished not at caseness).
    pub recovery: Proportion,
    /// reliably improved / finished.
    pub reliable_improvement: Proportion,
    /// reliably recovered / (finished − finished not at caseness).
    pub reliable_recovery: Proportion,
    /// reliably deteriorated / finished.
    pub reliable_deterioration: Proportion,
    pub effect_sizes: Vec<NhsEffect>,
    pub definitions: NhsDefinitions,
    /// Per finished client (not serialised).
    #[serde(skip)]
    pub outcomes: Vec<NhsOutcome>,
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// NHS Talking Therapies metrics at `level` percent (for the Wilson
/// intervals). Errors: no PHQ-9 or GAD-7 scores at all (input).
pub fn nhs_metrics(clients: &[NhsClient], level: f64) -> Result<NhsResult> {
    crate::stats::effect::check_level(level)?;
    let measures = NhsMeasures::detect(clients).ok_or_else(|| {
        Error::input("NHS Talking Therapies metrics need PHQ-9 and/or GAD-7 first and last scores")
    })?;
    let (use_phq, use_gad) = (measures.uses_phq9(), measures.uses_gad7());

    let mut missing_sessions = 0;
    let mut not_finished = 0;
    let mut finished_missing_scores = 0;
    let mut outcomes = Vec::new();
    let (mut phq_first, mut phq_last) = (Vec::new(), Vec::new());
    let (mut gad_first, mut gad_last) = (Vec::new(), Vec::new());

    for (row, c) in clients.iter().enumerate() {
        let Some(sessions) = c.sessions else {
            missing_sessions += 1;
            continue;
        };
        if sessions < MIN_SESSIONS {
            not_finished += 1;
            continue;
        }
        let phq = (finite(c.phq9_first), finite(c.phq9_last));
        let gad = (finite(c.gad7_first), finite(c.gad7_last));
        let phq = match phq {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        let gad = match gad {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        if (use_phq && phq.is_none()) || (use_gad && gad.is_none()) {
            finished_missing_scores += 1;
            continue;
        }
        let phq = phq.filter(|_| use_phq);
        let gad = gad.filter(|_| use_gad);

        // Caseness at first: PHQ-9 ≥ 10 or GAD-7 ≥ 8.
        let case_first = phq.is_some_and(|(f, _)| f >= PHQ9_CASENESS)
            || gad.is_some_and(|(f, _)| f >= GAD7_CASENESS);
        // Below caseness on every measure used at last.
        let below_last = phq.is_none_or(|(_, l)| l < PHQ9_CASENESS)
            && gad.is_none_or(|(_, l)| l < GAD7_CASENESS);
        let recovered = case_first && below_last;
        // Reliable change: a fall (rise) of at least 6 on PHQ-9 / 4 on GAD-7.
        let improved_any = phq.is_some_and(|(f, l)| f - l >= PHQ9_RELIABLE)
            || gad.is_some_and(|(f, l)| f - l >= GAD7_RELIABLE);
        let deteriorated_any = phq.is_some_and(|(f, l)| l - f >= PHQ9_RELIABLE)
            || gad.is_some_and(|(f, l)| l - f >= GAD7_RELIABLE);
        let reliable_improvement = improved_any && !deteriorated_any;
        outcomes.push(NhsOutcome {
            row,
            caseness: case_first,
            recovered,
            reliable_improvement,
            reliable_deterioration: deteriorated_any,
            reliable_recovery: recovered && reliable_improvement,
        });
        if let Some((f, l)) = phq {
            phq_first.push(f);
            phq_last.push(l);
        }
        if let Some((f, l)) = gad {
            gad_first.push(f);
            gad_last.push(l);
        }
    }

    let finished = outcomes.len();
    let at_case = outcomes.iter().filter(|o| o.caseness).count();
    let count = |f: fn(&NhsOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let effect = |measure: &'static str, first: &[f64], last: &[f64]| {
        let (mf, ml, sf) = (mean(first), mean(last), sd(first));
        NhsEffect {
            measure,
            n: first.len(),
            mean_first: mf,
            mean_last: ml,
            sd_first: sf,
            estimate: (first.len() >= 2 && sf > 0.0).then(|| (mf - ml) / sf),
        }
    };
    let mut effect_sizes = Vec::new();
    let mut measures_used = Vec::new();
    if use_phq {
        measures_used.push("PHQ-9");
        effect_sizes.push(effect("PHQ-9", &phq_first, &phq_last));
    }
    if use_gad {
        measures_used.push("GAD-7");
        effect_sizes.push(effect("GAD-7", &gad_first, &gad_last));
    }

    Ok(NhsResult {
        measures,
        measures_used,
        official: measures == NhsMeasures::Both,
        clients: clients.len(),
        missing_sessions,
        not_finished,
        finished_missing_scores,
        finished,
        finished_at_caseness: at_case,
        finished_not_at_caseness: finished - at_case,
        recovery: Proportion::new(count(|o| o.recovered), at_case, level),
        reliable_improvement: Proportion::new(count(|o| o.reliable_improvement), finished, level),
        reliable_recovery: Proportion::new(count(|o| o.reliable_recovery), at_case, level),
        reliable_deterioration: Proportion::new(
            count(|o| o.reliable_deterioration),
            finished,
            level,
        ),
        effect_sizes,
        definitions: NhsDefinitions {
            min_sessions: MIN_SESSIONS,
            phq9_caseness: PHQ9_CASENESS,
            gad7_caseness: GAD7_CASENESS,
            phq9_reliable_change: PHQ9_RELIABLE,
            gad7_reliable_change: GAD7_RELIABLE,
        },
        outcomes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(p: (f64, f64), g: (f64, f64), s: u32) -> NhsClient {
        NhsClient {
            phq9_first: Some(p.0),
            phq9_last: Some(p.1),
            gad7_first: Some(g.0),
            gad7_last: Some(g.1),
            sessions: Some(s),
        }
    }

    #[test]
    fn thresholds_are_inclusive_where_published() {
        // PHQ-9 exactly 10 first is caseness; a fall of exactly 6 is reliable.
        let r = nhs_metrics(&[c((10.0, 4.0), (0.0, 0.0), 2)], 95.0).unwrap();
        assert_eq!(r.recovery.numerator, 1);
        assert_eq!(r.reliable_improvement.numerator, 1);
        // A fall of 5 is not reliable; a GAD-7 rise of exactly 4 is deterioration.
        let r = nhs_metrics(&[c((12.0, 7.0), (3.0, 7.0), 3)], 95.0).unwrap();
        assert_eq!(r.reliable_improvement.numerator, 0);
        assert_eq!(r.reliable_deterioration.numerator, 1);
        assert_eq!(r.recovery.numerator, 1); // 7 < 10 and 7 < 8
    }

    #[test]
    fn no_scores_is_an_input_error() {
        let e = nhs_metrics(&[NhsClient::default()], 95.0).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
