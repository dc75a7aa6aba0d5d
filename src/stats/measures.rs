//! Built-in outcome instruments with their published psychometrics, the
//! [`Measure`] a user-defined instrument from the spec file fills in, range
//! checks, and published pre-post effect-size benchmarks.
//!
//! Every value carries its source in a comment. "Verified" means the value
//! was checked against the text of the source (or, where marked, a faithful
//! secondary quotation of it) while writing this file; "not verified" means
//! it is the commonly quoted value taken from the project's science notes
//! (science.md §3) and could not be checked against the source text.
//!
//! Conventions: `cutoff` is the clinical cut-off on the total score; a score
//! is in the clinical range at the cut-off or on its worse side (PHQ-9 ≥ 10,
//! ORS ≤ 25), see [`crate::stats::change::is_functional`]. `rc_points` is the
//! published change (in points) regarded as reliable: a change of at least
//! this many points.

use crate::stats::change::Norms;
use crate::stats::effect::{compare, Comparison, Direction, EffectSize};
use serde::Serialize;

/// An outcome instrument: built in, or defined by the user in the spec file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measure {
    /// Display name, e.g. `PHQ-9`.
    pub name: String,
    /// Lowest and highest possible total score.
    pub min: f64,
    pub max: f64,
    pub direction: Direction,
    /// Reliability (internal consistency) used by reliable change indices.
    pub reliability: Option<f64>,
    /// Clinical cut-off (see the module notes for which side is clinical).
    pub cutoff: Option<f64>,
    /// Published reliable-change criterion in points.
    pub rc_points: Option<f64>,
    /// Functional-population norms (M0, S0) for cut-offs b and c.
    pub norms: Option<Norms>,
    /// Where the values come from (printed with the results).
    pub source: String,
}

impl Measure {
    /// Values outside `[min, max]` (and non-finite values) with their
    /// 0-based positions; missing values (`None`) are skipped. The command
    /// turns these into input errors naming file, line and column.
    pub fn check_range(&self, values: &[Option<f64>]) -> Vec<(usize, f64)> {
        values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|x| (i, x)))
            .filter(|&(_, x)| !(x.is_finite() && x >= self.min && x <= self.max))
            .collect()
    }

    /// A short description of the accepted range, for error messages.
    pub fn range_text(&self) -> String {
        format!("{} scores run from {} to {}", self.name, self.min, self.max)
    }
}

/// Canonical names of the built-in instruments, in display order.
pub const BUILTIN_NAMES: [&str; 9] = [
    "PHQ-9", "GAD-7", "CORE-10", "CORE-OM", "OQ-45", "BDI-II", "WEMWBS", "WSAS", "ORS",
];

/// Lower-cases and drops everything but letters and digits: `PHQ-9`,
/// `phq9`, `Phq 9` all become `phq9`.
fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

#[allow(clippy::too_many_arguments)]
fn measure(
    name: &str,
    min: f64,
    max: f64,
    direction: Direction,
    reliability: Option<f64>,
    cutoff: Option<f64>,
    rc_points: Option<f64>,
    source: &str,
) -> Measure {
    Measure {
        name: name.to_string(),
        min,
        max,
        direction,
        reliability,
        cutoff,
        rc_points,
        norms: None,
        source: source.to_string(),
    }
}

/// A built-in instrument by name, case-insensitively and ignoring
/// punctuation and spaces, with aliases (`PHQ9`, `phq-9`, `CORE34`,
/// `OQ-45.2`, `BDI2`, `SWEMWBS` is *not* an alias: it is a different scale).
pub fn builtin(name: &str) -> Option<Measure> {
    use Direction::{HigherBetter, LowerBetter};
    let m = match normalise(name).as_str() {
        // PHQ-9: 9 items scored 0-3, total 0-27 (Kroenke, Spitzer & Williams
        // 2001, J Gen Intern Med 16, 606-613). Cronbach's α = .89 in the primary
        // care sample (Kroenke 2001, verified). Caseness ≥ 10: Kroenke 2001
        // (score ≥ 10: sensitivity 88%, specificity 88% for major depression,
        // verified) and NHS Talking Therapies Manual (caseness 10). Reliable
        // change 6 points (a fall of > 5): NHS Talking Therapies Manual
        // (verified via the manual's definition as quoted; see nhs.rs).
        "phq9" | "phq" => measure(
            "PHQ-9",
            0.0,
            27.0,
            LowerBetter,
            Some(0.89),
            Some(10.0),
            Some(6.0),
            "Kroenke, Spitzer & Williams 2001 (alpha .89, cut-off 10); NHS Talking Therapies Manual (reliable change 6)",
        ),
        // GAD-7: 7 items scored 0-3, total 0-21 (Spitzer, Kroenke, Williams &
        // Löwe 2006, Arch Intern Med 166, 1092-1097). α = .92 (Spitzer 2006;
        // verified via a secondary quotation, the abstract does not state it).
        // Cut-off 8 is the IAPT / NHS Talking Therapies caseness (the paper's
        // own optimal cut point is 10). Reliable change 4 points (a fall of
        // > 3): NHS Talking Therapies Manual.
        "gad7" | "gad" => measure(
            "GAD-7",
            0.0,
            21.0,
            LowerBetter,
            Some(0.92),
            Some(8.0),
            Some(4.0),
            "Spitzer et al. 2006 (alpha .92); NHS Talking Therapies Manual (caseness 8, reliable change 4)",
        ),
        // CORE-10: 10 items scored 0-4, total 0-40 (Barkham et al. 2013,
        // Counselling and Psychotherapy Research 13(1), 3-13): α = .90,
        // clinical cut-off 11.0, reliable change index (90% CI) 6 (all three
        // verified from the abstract).
        "core10" => measure(
            "CORE-10",
            0.0,
            40.0,
            LowerBetter,
            Some(0.90),
            Some(11.0),
            Some(6.0),
            "Barkham et al. 2013 (alpha .90, cut-off 11, reliable change 6 at 90%)",
        ),
        // CORE-OM: 34 items 0-4; the clinical score is 10 × the item mean,
        // 0-40 (Evans et al. 2002, Br J Psychiatry 180, 51-60). α = .94 for
        // all items (Evans 2002; not verified against the text: the abstract
        // gives .75-.95 over domains). Cut-off 10 on the clinical score
        // (Connell et al. 2007, Br J Psychiatry 190, 69-74: 9.9 on the 0-40
        // scale, verified). Reliable change not set: the commonly quoted
        // 5 points (0.5 on the item mean) could not be verified.
        "coreom" | "core34" | "core" => measure(
            "CORE-OM",
            0.0,
            40.0,
            LowerBetter,
            Some(0.94),
            Some(10.0),
            None,
            "Evans et al. 2002 (alpha .94, not verified); Connell et al. 2007 (cut-off 9.9 -> 10)",
        ),
        // OQ-45.2: 45 items 0-4, total 0-180 (Lambert et al. 2004,
        // Administration and Scoring Manual for the OQ-45.2; range verified
        // from a secondary description). Reliable change 14 points (OQ
        // Measures, verified). α = .93 and cut-off 63/64 (scores ≥ 64 in the
        // clinical range) from the manual: not verified against its text.
        "oq45" | "oq452" | "oq" => measure(
            "OQ-45",
            0.0,
            180.0,
            LowerBetter,
            Some(0.93),
            Some(64.0),
            Some(14.0),
            "Lambert et al. 2004 OQ-45.2 manual (alpha .93, cut-off 64: not verified); OQ Measures (reliable change 14)",
        ),
        // BDI-II: 21 items 0-3, total 0-63 (Beck, Steer & Brown 1996, Manual
        // for the BDI-II). α = .92 in outpatients (.93 in students), verified
        // via a quotation of the manual in a published test review. The
        // manual's severity bands (0-13 minimal, 14-19 mild, 20-28 moderate,
        // 29-63 severe) are not a clinical/functional cut-off, so none is set;
        // no reliable-change value is set.
        "bdiii" | "bdi2" | "bdi" => measure(
            "BDI-II",
            0.0,
            63.0,
            LowerBetter,
            Some(0.92),
            None,
            None,
            "Beck, Steer & Brown 1996 (alpha .92, outpatients)",
        ),
        // WEMWBS: 14 items 1-5, total 14-70, higher = better (Tennant et al.
        // 2007, Health Qual Life Outcomes 5:63). α = .89 (students) and .91
        // (population sample), verified; .91 is used. No clinical cut-off or
        // reliable change is published in that paper.
        "wemwbs" => measure(
            "WEMWBS",
            14.0,
            70.0,
            HigherBetter,
            Some(0.91),
            None,
            None,
            "Tennant et al. 2007 (alpha .91, population sample)",
        ),
        // WSAS: 5 items 0-8, total 0-40, lower = better (Mundt, Marks, Shear &
        // Greist 2002, Br J Psychiatry 180, 461-464). α ranged .70-.94 across
        // samples and test-retest r = .73 (verified): no single reliability is
        // set, so the user must give --reliability. Mundt's bands (> 20
        // moderately severe, 10-20 significant impairment) are descriptive,
        // not a cut-off.
        "wsas" => measure(
            "WSAS",
            0.0,
            40.0,
            LowerBetter,
            None,
            None,
            None,
            "Mundt et al. 2002 (alpha .70-.94: give --reliability)",
        ),
        // ORS: 4 visual-analogue items 0-10, total 0-40, higher = better
        // (Miller, Duncan, Brown, Sparks & Claud 2003, Journal of Brief Therapy
        // 2(2), 91-100). α = .93 (Miller 2003; not verified against the text).
        // Clinical cut-off 25 (≤ 25 clinical) and reliable change 5 points
        // (verified from the developers' published guidance, not the paper).
        "ors" => measure(
            "ORS",
            0.0,
            40.0,
            HigherBetter,
            Some(0.93),
            Some(25.0),
            Some(5.0),
            "Miller et al. 2003 (alpha .93, cut-off 25, reliable change 5)",
        ),
        _ => return None,
    };
    Some(m)
}

/// A published pre-post effect-size benchmark (pre-SD standardised).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Benchmark {
    /// Key as given on the command line, e.g. `delgadillo-phq9`.
    pub key: &'static str,
    pub measure: &'static str,
    /// Named levels, e.g. high / average / poor performing services.
    pub levels: Vec<(&'static str, f64)>,
    pub source: &'static str,
}

/// Built-in benchmarks by key (case-insensitive): `delgadillo-phq9`,
/// `delgadillo-gad7`, `stiles-core-om`.
pub fn benchmark(key: &str) -> Option<Benchmark> {
    match normalise(key).as_str() {
        // Delgadillo, McMillan, Leach, Lucock, Gilbody & Wood (2014),
        // Benchmarking routine psychological services: a discussion of
        // challenges and methods, Behavioural and Cognitive Psychotherapy
        // 42(1), 16-30: pre-post effect sizes of high / average / poor
        // performing IAPT services. Values from science.md §3; not verified
        // against the paper's text here.
        "delgadillophq9" => Some(Benchmark {
            key: "delgadillo-phq9",
            measure: "PHQ-9",
            levels: vec![("high", 0.91), ("average", 0.73), ("poor", 0.46)],
            source: "Delgadillo et al. 2014, Behav Cogn Psychother 42(1), 16-30",
        }),
        "delgadillogad7" => Some(Benchmark {
            key: "delgadillo-gad7",
            measure: "GAD-7",
            levels: vec![("high", 1.02), ("average", 0.78), ("poor", 0.52)],
            source: "Delgadillo et al. 2014, Behav Cogn Psychother 42(1), 16-30",
        }),
        // Stiles, Barkham, Mellor-Clark & Connell (2008), Psychological
        // Medicine 38, 677-688: overall pre/post effect size 1.39 in UK
        // primary care (verified); Stiles et al. (2006), Psychological
        // Medicine 36, 555-566: 1.36 (verified).
        "stilescoreom" | "stiles2008" | "coreom" => Some(Benchmark {
            key: "stiles-core-om",
            measure: "CORE-OM",
            levels: vec![("stiles-2008", 1.39), ("stiles-2006", 1.36)],
            source: "Stiles et al. 2008, Psychol Med 38, 677-688 (1.39); Stiles et al. 2006, Psychol Med 36, 555-566 (1.36)",
        }),
        _ => None,
    }
}

/// Keys of the built-in benchmarks.
pub const BENCHMARK_KEYS: [&str; 3] = ["delgadillo-phq9", "delgadillo-gad7", "stiles-core-om"];

/// An effect compared with every level of a benchmark.
pub fn compare_benchmark(
    effect: &EffectSize,
    bench: &Benchmark,
) -> Vec<(&'static str, f64, Comparison)> {
    bench
        .levels
        .iter()
        .map(|&(label, v)| (label, v, compare(effect, v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases() {
        for n in ["PHQ-9", "phq9", "Phq 9", "PHQ_9"] {
            assert_eq!(builtin(n).unwrap().name, "PHQ-9", "{n}");
        }
        assert_eq!(builtin("OQ-45.2").unwrap().name, "OQ-45");
        assert_eq!(builtin("core-34").unwrap().name, "CORE-OM");
        assert_eq!(builtin("bdi2").unwrap().name, "BDI-II");
        assert!(builtin("SWEMWBS").is_none());
        for n in BUILTIN_NAMES {
            assert_eq!(builtin(n).unwrap().name, n);
        }
    }

    #[test]
    fn range() {
        let m = builtin("GAD-7").unwrap();
        let bad = m.check_range(&[
            Some(0.0),
            Some(21.0),
            Some(22.0),
            None,
            Some(-1.0),
            Some(f64::NAN),
        ]);
        assert_eq!(bad.len(), 3);
        assert_eq!(bad[0], (2, 22.0));
        assert_eq!(bad[1], (4, -1.0));
        assert_eq!(bad[2].0, 5);
    }

    #[test]
    fn benchmarks() {
        let b = benchmark("Delgadillo-PHQ9").unwrap();
        assert_eq!(b.levels[1], ("average", 0.73));
        let e = EffectSize {
            estimate: 0.8,
            variance: 0.001,
            ci_lb: 0.75,
            ci_ub: 0.85,
        };
        let c = compare_benchmark(&e, &b);
        assert_eq!(c[0].2, Comparison::Below);
        assert_eq!(c[1].2, Comparison::Above);
    }
}
