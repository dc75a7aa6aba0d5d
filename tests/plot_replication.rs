//! Replication chart (src/plot/replication.rs): structure of the SVG output,
//! text sizes and overlaps, PNG size, edge cases.
//!
//! Set OUTCOMES_PLOT_DIR=/some/dir to also write the example figures there
//! (PNG and SVG, single and double column) for looking at them.

#[path = "common/svg.rs"]
mod svg;
use outcomes::plot::replication::{Bound, ClaimRow, ReplicationPlot, Verdict};
use outcomes::plot::{render_png, save, Chart, Width};
use svg::{
    assert_text_ok as assert_text_in_width, assert_texts, attr, count, elements, has, png_size,
    svg, text_boxes, texts, DPI,
};

// ------------------------------------------------------------ helpers ---

const BLUE: &str = "fill=\"#0072B2\"";
const VERMILLION: &str = "fill=\"#D55E00\"";
const WHITE: &str = "fill=\"#FFFFFF\"";
const BLACK: &str = "fill=\"#000000\"";

/// The shared text checks, plus: some text, and every text inside the
/// figure's height.
fn assert_text_ok(svg: &str, width: Width, what: &str) {
    assert_text_in_width(svg, width, what);
    let h_px = attr(elements(svg, "svg")[0], "height").unwrap_or(f64::INFINITY);
    let boxes = text_boxes(svg);
    assert!(!boxes.is_empty(), "{what}: no text");
    for b in &boxes {
        assert!(
            b.2 >= 0.0 && b.3 <= h_px,
            "{what}: {:?} off the figure",
            b.5
        );
    }
}

// ------------------------------------------------------- example data ---

fn row(
    panel: &str,
    label: &str,
    published: (f64, Option<(f64, f64)>, Bound),
    recomputed: (f64, Option<(f64, f64)>),
    verdict: Verdict,
) -> ClaimRow {
    ClaimRow {
        label: label.into(),
        panel: panel.into(),
        published: published.0,
        published_ci: published.1,
        bound: published.2,
        recomputed: recomputed.0,
        ci: recomputed.1,
        verdict,
    }
}

const VARIANCE: &str = "% of outcome variance";
const HEDGES: &str = "Hedges' g";
const R2: &str = "% of heterogeneity (R²)";

/// Claims of the common-factors literature against recomputed values: a
/// bound, values with and without published intervals, one not replicated.
fn claims() -> ReplicationPlot {
    use Bound::*;
    use Verdict::*;
    ReplicationPlot::new(
        "Published claims and their recomputed values",
        vec![
            row(
                VARIANCE,
                "Treatment differences",
                (1.0, None, Upper),
                (0.99, Some((0.9, 1.0))),
                Replicated,
            ),
            row(
                VARIANCE,
                "Alliance (Flückiger et al. 2018)",
                (7.5, Some((6.3, 8.8)), Exact),
                (7.73, Some((6.55, 8.94))),
                Replicated,
            ),
            row(
                HEDGES,
                "Psychotherapy vs. no treatment (Wampold & Imel 2015)",
                (0.70, Some((0.60, 0.80)), Exact),
                (0.735, Some((0.69, 0.78))),
                Replicated,
            ),
            row(
                VARIANCE,
                "Techniques ~7% (Zarbo et al. 2016)",
                (7.0, None, Exact),
                (1.2, Some((0.4, 2.3))),
                NotReplicated,
            ),
            row(
                VARIANCE,
                "Therapist effects (Baldwin & Imel 2013)",
                (5.0, Some((3.0, 7.0)), Exact),
                (4.6, Some((3.1, 6.4))),
                Replicated,
            ),
            row(
                VARIANCE,
                "Expectations (Constantino et al. 2018)",
                (1.4, Some((0.8, 2.3)), Exact),
                (1.5, Some((0.9, 2.3))),
                Replicated,
            ),
            row(
                R2,
                "Moderators of the alliance–outcome association",
                (10.0, None, Lower),
                (14.2, Some((8.1, 20.5))),
                Replicated,
            ),
        ],
    )
}

// -------------------------------------------------------------- tests ---

#[test]
fn panels_in_order_of_first_appearance() {
    let p = claims();
    let panels = p.panels();
    let names: Vec<&str> = panels.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, vec![VARIANCE, HEDGES, R2]);
    assert_eq!(
        panels.iter().map(|(_, r)| r.len()).collect::<Vec<_>>(),
        vec![5, 1, 1]
    );
    assert_eq!(panels[0].1[2].label, "Techniques ~7% (Zarbo et al. 2016)");
    assert_eq!(Verdict::NotReplicated.word(), "not replicated");
}

#[test]
fn svg_structure() {
    let p = claims();
    for width in [Width::Single, Width::Double] {
        let svg = svg(&p, width);
        let what = format!("{width:?}");
        let t = texts(&svg);
        // Panel titles and the figure title, whole.
        assert_texts(&svg, &[VARIANCE, HEDGES, R2]);
        assert!(
            t.iter()
                .any(|s| s.starts_with("Published claims") || s == "Published claims and"),
            "{what}: {t:?}"
        );
        // Every label: whole in a double column; in a single column on up
        // to two lines, the longest shortened with an ellipsis.
        let all = t.join(" ");
        for r in &p.rows {
            if width == Width::Double {
                assert!(has(&t, &r.label), "{what}: {:?} in {t:?}", r.label);
            } else if r.label.starts_with("Psychotherapy") {
                assert!(
                    all.contains("Psychotherapy vs. no treatment (Wampold & Imel…"),
                    "{t:?}"
                );
            } else {
                assert!(all.contains(&r.label), "{what}: {:?} in {t:?}", r.label);
            }
        }
        // Verdict words (in a single column "not replicated" takes two lines).
        assert!(has(&t, "replicated"), "{what}: {t:?}");
        match width {
            Width::Double => assert!(has(&t, "not replicated"), "{t:?}"),
            Width::Single => assert!(has(&t, "not"), "{t:?}"),
        }
        assert_eq!(
            t.iter().filter(|s| *s == "replicated").count(),
            match width {
                Width::Double => 6,
                Width::Single => 7,
            },
            "{what}: {t:?}"
        );
        // Legend.
        for want in [
            "Published (with its interval or bound)",
            "Recomputed, replicated",
            "Recomputed, not replicated",
        ] {
            assert!(has(&t, want), "{what}: {want:?} in {t:?}");
        }
        assert!(all.contains("Interval: 95% CI"), "{what}: {t:?}");
        // Published marks: a diamond per exact value (and one in the
        // legend), an arrowhead per bound (and one in the legend).
        assert_eq!(count(&svg, "polygon", WHITE), 5 + 1, "{what}");
        assert_eq!(count(&svg, "polygon", BLACK), 2 + 1, "{what}");
        // Recomputed marks: 6 replicated dots, 1 not-replicated square, and
        // one of each in the legend.
        assert_eq!(count(&svg, "circle", BLUE), 6 + 1, "{what}");
        assert_eq!(count(&svg, "rect", VERMILLION), 1 + 1, "{what}");
        assert_text_ok(&svg, width, &what);
    }
}

#[test]
fn every_row_has_one_published_and_one_recomputed_mark() {
    let p = claims();
    let svg = svg(&p, Width::Double);
    let published = count(&svg, "polygon", WHITE) + count(&svg, "polygon", BLACK);
    let recomputed = count(&svg, "circle", BLUE) + count(&svg, "rect", VERMILLION);
    // Less the legend's diamond, arrow, dot and square.
    assert_eq!(published - 2, p.rows.len());
    assert_eq!(recomputed - 2, p.rows.len());
}

#[test]
fn axes_cover_the_values_and_start_at_zero() {
    let svg = svg(&claims(), Width::Double);
    let t = texts(&svg);
    // % of variance: 0 to beyond 8.94; g: 0 to 0.8; R²: 0 to beyond 20.5.
    let zeros = t
        .iter()
        .filter(|s| s.parse::<f64>().is_ok_and(|v| v == 0.0))
        .count();
    assert_eq!(zeros, 3, "a 0 tick per panel: {t:?}");
    assert!(has(&t, "0.8") || has(&t, "0.80"), "{t:?}");
    assert!(has(&t, "20") || has(&t, "20.0"), "{t:?}");
    assert!(!t.iter().any(|s| s.starts_with('\u{2212}')), "{t:?}");
}

/// The example with a long label and a long title.
fn long_texts() -> ReplicationPlot {
    let mut p = claims();
    p.rows[1].label = "Alliance–outcome association in individual psychotherapy for adults, \
                       all diagnoses (Flückiger, Del Re, Wampold & Horvath 2018)"
        .into();
    p.title = "A long title: published claims about the common factors of psychotherapy \
               and the values this analysis recomputes from the reported statistics"
        .into();
    p
}

#[test]
fn long_labels_are_wrapped_then_shortened() {
    let p = long_texts();
    for width in [Width::Single, Width::Double] {
        let svg = svg(&p, width);
        let t = texts(&svg);
        assert!(t.iter().any(|s| s.ends_with('…')), "{t:?}");
        assert!(t.iter().any(|s| s.starts_with("Alliance–outcome")), "{t:?}");
        assert_text_ok(&svg, width, &format!("long {width:?}"));
    }
    // Taller than the default only by the extra title line.
    assert!(p.height_pt(Width::Single.pt()) > claims().height_pt(Width::Single.pt()));
}

#[test]
fn height_follows_rows() {
    let p = claims();
    let mut more = claims();
    more.rows.push(row(
        HEDGES,
        "Another claim",
        (0.5, None, Bound::Exact),
        (0.4, Some((0.2, 0.6))),
        Verdict::Replicated,
    ));
    for width in [Width::Single, Width::Double] {
        let h0 = p.height_pt(width.pt());
        let h1 = more.height_pt(width.pt());
        assert!(h1 > h0 + 10.0, "{h0} {h1}");
    }
}

#[test]
fn empty_rows() {
    let p = ReplicationPlot::new("Replication of published claims", Vec::new());
    for width in [Width::Single, Width::Double] {
        let svg = svg(&p, width);
        let t = texts(&svg);
        assert_eq!(
            t,
            vec![
                "Replication of published claims".to_string(),
                "No computable claims.".to_string()
            ]
        );
        assert_text_ok(&svg, width, "empty");
        render_png(&p, width, 72).unwrap();
    }
}

#[test]
fn non_finite_values_do_not_panic() {
    let p = ReplicationPlot::new(
        "Edge cases",
        vec![
            row(
                "r",
                "NaN everywhere",
                (f64::NAN, Some((f64::NAN, 1.0)), Bound::Upper),
                (f64::NAN, Some((f64::NEG_INFINITY, f64::INFINITY))),
                Verdict::NotReplicated,
            ),
            row(
                "r",
                "Published only",
                (0.3, Some((0.2, f64::INFINITY)), Bound::Exact),
                (f64::INFINITY, None),
                Verdict::Replicated,
            ),
            row(
                "Only NaN",
                "Nothing",
                (f64::NAN, None, Bound::Lower),
                (f64::NAN, None),
                Verdict::NotReplicated,
            ),
            row(
                "All equal",
                "Same",
                (0.5, Some((0.5, 0.5)), Bound::Exact),
                (0.5, Some((0.5, 0.5))),
                Verdict::Replicated,
            ),
            row(
                "Negative",
                "Equal negatives",
                (-0.25, None, Bound::Exact),
                (-0.25, None),
                Verdict::Replicated,
            ),
            row(
                "Huge",
                "Huge",
                (-1e308, None, Bound::Lower),
                (1e308, None),
                Verdict::Replicated,
            ),
        ],
    );
    for width in [Width::Single, Width::Double] {
        let svg = svg(&p, width);
        // Marks only for finite values.
        assert_eq!(count(&svg, "rect", VERMILLION), 1, "legend only");
        assert_eq!(count(&svg, "circle", BLUE), 1 + 2);
        assert_texts(&svg, &["NaN everywhere", "Same", "Only NaN", "Negative"]);
        render_png(&p, width, 150).unwrap();
    }
}

#[test]
fn png_has_signature_and_column_width() {
    fn check(bytes: &[u8], width: Width, dpi: u32) {
        let (w, h) = png_size(bytes);
        assert_eq!(w, width.pixels(dpi));
        assert!(h > 300, "{h}");
    }
    for (width, dpi) in [(Width::Single, 300), (Width::Double, 150)] {
        check(&render_png(&claims(), width, dpi).unwrap(), width, dpi);
    }
}

/// Writes the example figures to $OUTCOMES_PLOT_DIR, if set.
#[test]
fn example_figures() {
    let Some(dir) = svg::example_dir() else {
        return;
    };
    for (width, suffix) in [(Width::Single, "single"), (Width::Double, "double")] {
        for ext in ["png", "svg"] {
            let path = dir.join(format!("replication_{suffix}.{ext}"));
            save(&claims(), &path, width, DPI).unwrap();
        }
    }
    save(
        &long_texts(),
        &dir.join("replication_long_single.png"),
        Width::Single,
        DPI,
    )
    .unwrap();
    save(
        &ReplicationPlot::new("Replication of published claims", Vec::new()),
        &dir.join("replication_empty.png"),
        Width::Single,
        DPI,
    )
    .unwrap();
}
