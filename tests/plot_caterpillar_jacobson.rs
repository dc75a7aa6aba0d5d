//! Caterpillar and Jacobson charts (src/plot/caterpillar.rs,
//! src/plot/jacobson.rs): structure of the SVG output, PNG size, edge cases.
//!
//! Set OUTCOMES_PLOT_DIR=/some/dir to also write the example figures there
//! (PNG) for looking at them.

#[path = "common/svg.rs"]
mod svg;
use outcomes::plot::caterpillar::{CaterpillarItem, CaterpillarPlot};
use outcomes::plot::jacobson::{JacobsonMode, JacobsonPlot, JacobsonPoint};
use outcomes::plot::{render_png, save, Chart, Width};
use outcomes::stats::change::Category;
use std::collections::BTreeMap;
use svg::{assert_text_ok, attr, count, elements, png_size, svg, texts, DPI, PX_PER_PT};

// ------------------------------------------------------------ helpers ---

const BLACK: &str = "fill=\"#000000\"";
const VERMILLION: &str = "fill=\"#D55E00\"";
const GREY_STROKE: &str = "stroke=\"#606060\"";

// --------------------------------------------------------------- data ---

/// SplitMix64 (Steele, Lea & Flood 2014): a fixed-seed generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unif(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unif(), self.unif());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// `n` therapists: conditional modes with 95% intervals that narrow with
/// the caseload (5 to 60 clients, residual SD 5 PHQ-9 points).
fn therapists(n: usize, seed: u64) -> Vec<CaterpillarItem> {
    let mut g = SplitMix64(seed);
    (0..n)
        .map(|i| {
            let k = 5.0 + 55.0 * g.unif();
            // Shrunken mode: therapist variance 2.25, error variance 25/k.
            let (tau2, e2) = (2.25, 25.0 / k);
            let shrink = tau2 / (tau2 + e2);
            let est = shrink * (tau2.sqrt() * g.normal() + e2.sqrt() * g.normal());
            let sd = (1.0 / (1.0 / e2 + 1.0 / tau2)).sqrt();
            CaterpillarItem {
                label: format!("T{:03}", i + 1),
                estimate: est,
                lower: est - 1.96 * sd,
                upper: est + 1.96 * sd,
            }
        })
        .collect()
}

fn caterpillar(n: usize) -> CaterpillarPlot {
    CaterpillarPlot::new(therapists(n, 42), "Therapist effect (PHQ-9 points)")
}

const RCI: f64 = 6.0;
const CUT: f64 = 10.0;

/// Category of a PHQ-9 change with threshold 6 and cut-off 10 (lower is
/// better; at the cut-off counts as clinical), as src/stats/change.rs does.
fn category(pre: f64, post: f64) -> Category {
    let d = post - pre;
    let clinical = |v: f64| v >= CUT;
    if d < -RCI {
        if clinical(pre) && !clinical(post) {
            Category::Recovered
        } else {
            Category::Improved
        }
    } else if d > RCI {
        if !clinical(pre) && clinical(post) {
            Category::Harmed
        } else {
            Category::Deteriorated
        }
    } else {
        Category::Unchanged
    }
}

/// `n` simulated PHQ-9 clients (integer scores 0–27).
fn clients(n: usize, seed: u64) -> Vec<JacobsonPoint> {
    let mut g = SplitMix64(seed);
    let clamp = |v: f64| v.round().clamp(0.0, 27.0);
    (0..n)
        .map(|_| {
            let pre = clamp(15.5 + 5.0 * g.normal());
            // Most improve; some deteriorate.
            let change = -5.0 + 5.5 * g.normal();
            let post = clamp(pre + change);
            JacobsonPoint {
                pre,
                post,
                category: category(pre, post),
            }
        })
        .collect()
}

fn jacobson(n: usize, mode: JacobsonMode) -> JacobsonPlot {
    let mut j = JacobsonPlot::new(clients(n, 7), RCI, "PHQ-9");
    j.cutoff = Some(CUT);
    j.range = Some((0.0, 27.0));
    j.mode = mode;
    j
}

const BINNED: JacobsonMode = JacobsonMode::Binned {
    cell: 1.0,
    min_count: 8,
};

// ------------------------------------------------------- caterpillar ---

#[test]
fn caterpillar_svg_structure() {
    let p = caterpillar(25);
    let rows = &p.items;
    let excl = rows
        .iter()
        .filter(|i| i.lower > 0.0 || i.upper < 0.0)
        .count();
    assert!(excl > 0 && excl < 25, "the example has both kinds ({excl})");
    for width in [Width::Single, Width::Double] {
        let s = svg(&p, width);
        let t = texts(&s);
        for want in [
            "Therapist effect (PHQ-9 points)",
            "Interval excludes 0",
            "Interval includes 0",
            "T001",
            "T017",
            "T025",
        ] {
            assert!(t.iter().any(|x| x == want), "missing {want:?} in {t:?}");
        }
        assert!(!t.iter().any(|x| x == "Rank"));
        // One point per therapist, plus one of each colour in the key.
        assert_eq!(count(&s, "circle", VERMILLION), excl + 1);
        assert_eq!(count(&s, "circle", BLACK), 25 - excl + 1);
        // The dashed reference line (grey dashes) and the axes.
        assert!(count(&s, "polyline", GREY_STROKE) >= 10);
        assert!(count(&s, "polyline", "stroke=\"#000000\"") >= 2);
        // Tick labels with a typographic minus.
        assert!(t.iter().any(|x| x.starts_with('\u{2212}')));
        assert_text_ok(&s, width, "caterpillar 25");
    }
}

#[test]
fn caterpillar_is_ranked_lowest_at_the_bottom() {
    let s = svg(&caterpillar(40), Width::Single);
    let mut pts: Vec<(f64, f64)> = elements(&s, "circle")
        .into_iter()
        .filter(|e| e.contains("fill=\"#") && !e.contains("fill=\"none\""))
        .map(|e| (attr(e, "cx").unwrap(), attr(e, "cy").unwrap()))
        .collect();
    // Drop the two key points (below everything else).
    pts.sort_by(|a, b| b.1.total_cmp(&a.1));
    let pts = &pts[2..];
    assert_eq!(pts.len(), 40);
    // From the bottom up, estimates (x) never decrease.
    assert!(pts.windows(2).all(|w| w[1].0 >= w[0].0 && w[1].1 < w[0].1));
    // Row labels: in the same order as the points, one per row.
    let labels: Vec<(f64, String)> = elements(&s, "text")
        .into_iter()
        .zip(texts(&s))
        .filter(|(_, t)| t.starts_with('T') && t.len() == 4)
        .map(|(e, t)| (attr(e, "y").unwrap(), t))
        .collect();
    assert_eq!(labels.len(), 40);
    let mut ys: Vec<f64> = labels.iter().map(|l| l.0).collect();
    ys.sort_by(f64::total_cmp);
    let font_px = 7.0 * PX_PER_PT;
    assert!(ys.windows(2).all(|p| p[1] - p[0] >= 1.2 * font_px));
}

#[test]
fn caterpillar_labels_up_to_60_then_ranks() {
    let at60 = svg(&caterpillar(60), Width::Single);
    let t = texts(&at60);
    assert_eq!(
        t.iter()
            .filter(|x| x.starts_with('T') && x.len() == 4)
            .count(),
        60
    );
    assert!(!t.iter().any(|x| x == "Rank"));
    assert_text_ok(&at60, Width::Single, "caterpillar 60");

    let at61 = svg(&caterpillar(61), Width::Single);
    let t = texts(&at61);
    assert_eq!(
        t.iter()
            .filter(|x| x.starts_with('T') && x.len() == 4)
            .count(),
        0
    );
    assert!(t.iter().any(|x| x == "Rank"));
    // Rank 1 and a round rank are labelled.
    assert!(t.iter().any(|x| x == "1"));
    assert!(t.iter().any(|x| x == "60"));
    assert_eq!(
        count(&at61, "circle", VERMILLION) + count(&at61, "circle", BLACK),
        61 + 2
    );
    assert_text_ok(&at61, Width::Single, "caterpillar 61");
}

#[test]
fn caterpillar_height_grows_but_stays_on_a_page() {
    let w = Width::Single.pt();
    let h = |n| caterpillar(n).height_pt(w);
    assert!(h(5) >= 100.0, "5 items: {}", h(5));
    assert!(h(25) > h(5));
    assert!(h(60) > h(25));
    assert!(h(60) > 60.0 * 9.0, "labelled rows at least 9 pt apart");
    assert!(h(80) > h(61));
    // Hundreds of therapists: still under a page (about 24 cm).
    assert!(h(500) < 680.0, "500 items: {}", h(500));
    assert_eq!(h(500), h(1000), "capped");
    let s = svg(&caterpillar(500), Width::Single);
    assert_eq!(
        count(&s, "circle", VERMILLION) + count(&s, "circle", BLACK),
        502
    );
    assert_text_ok(&s, Width::Single, "caterpillar 500");
}

#[test]
fn caterpillar_edge_cases() {
    // Empty: axes and a note.
    let empty = CaterpillarPlot::new(Vec::new(), "Effect");
    let s = svg(&empty, Width::Single);
    let t = texts(&s);
    assert!(t.iter().any(|x| x == "No data"));
    assert!(t.iter().any(|x| x == "Effect"));
    assert_eq!(count(&s, "circle", ""), 0);
    assert_eq!(
        count(&s, "polyline", GREY_STROKE),
        0,
        "no line through the note"
    );
    assert_text_ok(&s, Width::Single, "caterpillar empty");
    render_png(&empty, Width::Double, 150).unwrap();

    // NaN values skipped; a NaN bound drops only the interval.
    let item = |l: &str, e: f64, a: f64, b: f64| CaterpillarItem {
        label: l.into(),
        estimate: e,
        lower: a,
        upper: b,
    };
    let p = CaterpillarPlot::new(
        vec![
            item("A", 0.5, 0.2, 0.8),
            item("B", f64::NAN, 0.0, 1.0),
            item("C", -0.1, f64::NAN, 0.3),
            item("D", f64::INFINITY, 0.0, 1.0),
        ],
        "Effect",
    );
    let s = svg(&p, Width::Single);
    let t = texts(&s);
    assert!(t.iter().any(|x| x == "A") && t.iter().any(|x| x == "C"));
    assert!(!t.iter().any(|x| x == "B" || x == "D"));
    assert_eq!(count(&s, "circle", VERMILLION), 1 + 1);
    assert_eq!(count(&s, "circle", BLACK), 1 + 1);

    // A single item; all intervals equal; zero-width intervals.
    for items in [
        vec![item("Only", 1.0, 0.5, 1.5)],
        (0..10)
            .map(|i| item(&format!("U{i}"), 0.0, -1.0, 1.0))
            .collect(),
        (0..10)
            .map(|i| item(&format!("Z{i}"), 2.0, 2.0, 2.0))
            .collect(),
        (0..10)
            .map(|i| item(&format!("Y{i}"), 0.0, 0.0, 0.0))
            .collect(),
        // Narrow labels (ranks, as a report may use): the first tick label
        // still fits.
        (1..=7)
            .map(|i| item(&i.to_string(), -2.0 + i as f64 * 0.3, -4.0, 1.0))
            .collect(),
    ] {
        let n = items.len();
        let p = CaterpillarPlot::new(items, "Effect");
        for width in [Width::Single, Width::Double] {
            let s = svg(&p, width);
            assert_eq!(
                count(&s, "circle", VERMILLION) + count(&s, "circle", BLACK),
                n + 2
            );
            assert_text_ok(&s, width, "caterpillar edge");
            render_png(&p, width, 150).unwrap();
        }
    }

    // No reference: no line, no key, all black.
    let mut p = caterpillar(12);
    p.reference = None;
    let s = svg(&p, Width::Single);
    assert_eq!(count(&s, "polyline", GREY_STROKE), 0);
    assert_eq!(count(&s, "circle", VERMILLION), 0);
    assert_eq!(count(&s, "circle", BLACK), 12);
    assert!(!texts(&s).iter().any(|x| x.starts_with("Interval")));

    // A non-zero reference is named in the key; long labels are shortened.
    let mut p = caterpillar(12);
    p.reference = Some(-0.5);
    p.items[3].label = "A therapist with a very long name indeed, and a practice".into();
    let s = svg(&p, Width::Single);
    let t = texts(&s);
    assert!(
        t.iter().any(|x| x == "Interval excludes \u{2212}0.5"),
        "{t:?}"
    );
    assert!(t.iter().any(|x| x.ends_with('…')));
    assert_text_ok(&s, Width::Single, "caterpillar long label");

    // A long axis title is wrapped, not clipped.
    let p = CaterpillarPlot::new(
        therapists(8, 3),
        "Therapist effect on the last score (phq9_last; conditional mode, 95% interval)",
    );
    let s = svg(&p, Width::Single);
    assert_text_ok(&s, Width::Single, "caterpillar long title");
}

// ---------------------------------------------------------- jacobson ---

fn cat_counts(pts: &[JacobsonPoint]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for p in pts {
        let k = match p.category {
            Category::Recovered => "Recovered",
            Category::Improved => "Improved",
            Category::Unchanged => "Unchanged",
            Category::Deteriorated => "Deteriorated",
            Category::Harmed => "Harmed",
        };
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

#[test]
fn jacobson_points_svg_structure() {
    let j = jacobson(600, JacobsonMode::Points);
    let n = cat_counts(&j.points);
    assert_eq!(n.len(), 5, "the example has every category: {n:?}");
    for width in [Width::Single, Width::Double] {
        let s = svg(&j, width);
        let t = texts(&s);
        for want in [
            "Before therapy (PHQ-9)",
            "After therapy (PHQ-9)",
            "Cut-off (10)",
            "No reliable change (\u{00B1}6)",
            "reliable improvement",
            "reliable deterioration",
            "0",
            "25",
        ] {
            assert!(t.iter().any(|x| x == want), "missing {want:?} in {t:?}");
        }
        // Legend in category order, with counts.
        let order: Vec<usize> = [
            "Recovered",
            "Improved",
            "Unchanged",
            "Deteriorated",
            "Harmed",
        ]
        .iter()
        .map(|c| {
            let want = format!("{c} ({})", n[c]);
            t.iter()
                .position(|x| *x == want)
                .unwrap_or_else(|| panic!("{want} in {t:?}"))
        })
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]));
        // One marker per client (+ one in the legend): circles for
        // improvement and no change, triangles for deterioration.
        assert_eq!(count(&s, "circle", "fill=\"#009E73\""), n["Recovered"] + 1);
        assert_eq!(count(&s, "circle", "stroke=\"#56B4E9\""), n["Improved"] + 1);
        assert_eq!(count(&s, "circle", "fill=\"#9A9A9A\""), n["Unchanged"] + 1);
        // Hollow triangles: orange with a white inset.
        assert_eq!(
            count(&s, "polygon", "fill=\"#E69F00\""),
            n["Deteriorated"] + 1
        );
        assert_eq!(
            count(&s, "polygon", "fill=\"#FFFFFF\""),
            n["Deteriorated"] + 1
        );
        assert_eq!(count(&s, "polygon", VERMILLION), n["Harmed"] + 1);
        // The band, once; the cut-off lines as black dashes.
        assert_eq!(count(&s, "polygon", "fill=\"#E6E6E6\""), 1);
        assert!(count(&s, "polyline", "stroke=\"#000000\"") > 20);
        assert_text_ok(&s, width, "jacobson points");
    }
}

#[test]
fn jacobson_square_with_one_scale() {
    let s = svg(&jacobson(100, JacobsonMode::Points), Width::Single);
    // Tick labels "0" and "25" on each axis: the distance between them is
    // the same horizontally and vertically.
    let els = elements(&s, "text");
    let t = texts(&s);
    let pos = |want: &str| -> Vec<(f64, f64)> {
        els.iter()
            .zip(&t)
            .filter(|(_, x)| *x == want)
            .map(|(e, _)| (attr(e, "x").unwrap(), attr(e, "y").unwrap()))
            .collect()
    };
    let (z, tf) = (pos("0"), pos("25"));
    assert_eq!((z.len(), tf.len()), (2, 2));
    // x-axis labels share a y; y-axis labels share an x.
    let (xz, yz) = if z[0].1 > z[1].1 {
        (z[0], z[1])
    } else {
        (z[1], z[0])
    };
    let (x25, y25) = if (tf[0].1 - xz.1).abs() < 1.0 {
        (tf[0], tf[1])
    } else {
        (tf[1], tf[0])
    };
    let dx = x25.0 - xz.0;
    let dy = yz.1 - y25.1;
    assert!(dx > 0.0 && (dx - dy).abs() <= 2.0, "dx {dx} dy {dy}");
}

#[test]
fn jacobson_binned_hides_clients() {
    // Known cells: 10 clients at (20, 8), 9 at (15, 15), 3 at (22, 22),
    // 5 at (5, 20), and 1 at (26.4, 3.2).
    let mut pts = Vec::new();
    let mut add = |k: usize, pre: f64, post: f64| {
        for _ in 0..k {
            pts.push(JacobsonPoint {
                pre,
                post,
                category: category(pre, post),
            });
        }
    };
    add(10, 20.0, 8.0);
    add(9, 15.0, 15.0);
    add(3, 22.0, 22.0);
    add(5, 5.0, 20.0);
    add(1, 26.4, 3.2);
    let mut j = JacobsonPlot::new(pts, RCI, "PHQ-9");
    j.cutoff = Some(CUT);
    j.range = Some((0.0, 27.0));
    j.mode = BINNED;
    for width in [Width::Single, Width::Double] {
        let s = svg(&j, width);
        let t = texts(&s);
        // No per-client markers: no circles, no triangles, only the band.
        assert_eq!(count(&s, "circle", ""), 0);
        assert_eq!(count(&s, "polygon", ""), 1);
        assert_eq!(count(&s, "polygon", "#E69F00"), 0);
        // Two cells shown (10 and 9 clients) + three key swatches (8, 9, 10).
        let shaded = elements(&s, "rect")
            .into_iter()
            .filter(|e| !e.contains("fill=\"#FFFFFF\"") && !e.contains("fill=\"#E6E6E6\""))
            .count();
        assert_eq!(shaded, 2 + 3);
        for want in [
            "Clients per cell:",
            "8",
            "9",
            "10",
            // Counts follow the small-number rule (science.md §6):
            // 28 → 30, 11 → 10, 12 → 10, and 1–7 as *.
            "Clients (30):",
            "Recovered (10)",
            "Unchanged (10)",
            "Harmed (*)",
        ] {
            assert!(t.iter().any(|x| x == want), "missing {want:?} in {t:?}");
        }
        // The note may be wrapped; its count is held together by no-break
        // spaces.
        assert!(t
            .join(" ")
            .replace('\u{a0}', " ")
            .contains("Cells with fewer than 8 clients not shown (10 of 30 clients)"));
        assert_text_ok(&s, width, "jacobson binned small");
    }
}

#[test]
fn jacobson_binned_600_shows_only_cells_of_8_or_more() {
    for cell in [1.0, 3.0] {
        let j = jacobson(600, JacobsonMode::Binned { cell, min_count: 8 });
        // Cells centred on multiples of `cell` from the start of the range.
        let mut cells: BTreeMap<(i64, i64), usize> = BTreeMap::new();
        for p in &j.points {
            let k = |v: f64| (v / cell).round() as i64;
            *cells.entry((k(p.pre), k(p.post))).or_default() += 1;
        }
        let shown = cells.values().filter(|&&n| n >= 8).count();
        let hidden: usize = cells.values().filter(|&&n| n < 8).sum();
        assert!(shown >= 1 && hidden > 5, "{shown} {hidden}");
        for width in [Width::Single, Width::Double] {
            let s = svg(&j, width);
            assert_eq!(count(&s, "circle", ""), 0);
            assert_eq!(count(&s, "polygon", ""), 1);
            let shaded = elements(&s, "rect")
                .into_iter()
                .filter(|e| !e.contains("fill=\"#FFFFFF\"") && !e.contains("fill=\"#E6E6E6\""))
                .count();
            let swatches = shaded - shown;
            assert!((1..=6).contains(&swatches), "{shaded} rects, {shown} cells");
            // counts in the legend are rounded to 5 (science.md §6)
            let round5 = |n: usize| {
                if n <= 7 {
                    "*".to_string()
                } else {
                    (((n + 2) / 5) * 5).to_string()
                }
            };
            let note = format!("({} of 600 clients)", round5(hidden));
            let all = texts(&s).join(" ").replace('\u{a0}', " ");
            assert!(all.contains(&note), "{note}");
            assert_text_ok(&s, width, "jacobson binned 600");
        }
        // min_count 1: every occupied cell.
        let mut all = j.clone();
        all.mode = JacobsonMode::Binned { cell, min_count: 1 };
        let s = svg(&all, Width::Single);
        let shaded = elements(&s, "rect")
            .into_iter()
            .filter(|e| !e.contains("fill=\"#FFFFFF\"") && !e.contains("fill=\"#E6E6E6\""))
            .count();
        assert!(shaded > cells.len() && shaded <= cells.len() + 6);
        assert!(!texts(&s).iter().any(|x| x.starts_with("Cells with fewer")));
    }
}

#[test]
fn jacobson_edge_cases() {
    // Empty: axes and a note, no legend.
    let mut e = JacobsonPlot::new(Vec::new(), RCI, "PHQ-9");
    for range in [None, Some((0.0, 27.0))] {
        e.range = range;
        for mode in [JacobsonMode::Points, BINNED] {
            e.mode = mode;
            let s = svg(&e, Width::Single);
            let t = texts(&s);
            assert!(t.iter().any(|x| x == "No data"));
            assert!(t.iter().any(|x| x == "Before therapy (PHQ-9)"));
            assert_eq!(count(&s, "circle", ""), 0);
            assert_eq!(count(&s, "polygon", ""), 0, "no band behind the note");
            assert_text_ok(&s, Width::Single, "jacobson empty");
            render_png(&e, Width::Double, 100).unwrap();
        }
    }
    // NaN skipped; no cut-off; higher is better; range from the data.
    let p = |pre: f64, post: f64, category| JacobsonPoint {
        pre,
        post,
        category,
    };
    let mut j = JacobsonPlot::new(
        vec![
            p(40.0, 55.0, Category::Improved),
            p(50.0, 51.0, Category::Unchanged),
            p(f64::NAN, 50.0, Category::Unchanged),
            p(60.0, f64::INFINITY, Category::Improved),
            p(45.0, 30.0, Category::Deteriorated),
        ],
        8.0,
        "",
    );
    j.lower_is_better = false;
    for width in [Width::Single, Width::Double] {
        let s = svg(&j, width);
        let t = texts(&s);
        for want in [
            "Before therapy",
            "After therapy",
            "Improved (1)",
            "Unchanged (1)",
            "Deteriorated (1)",
        ] {
            assert!(t.iter().any(|x| x == want), "missing {want:?} in {t:?}");
        }
        assert!(!t
            .iter()
            .any(|x| x.starts_with("Cut-off") || x.starts_with("Recovered")));
        assert_eq!(count(&s, "circle", ""), 2 + 2);
        // Higher is better: improvement above the band, at the top left.
        let els = elements(&s, "text");
        let y_of = |want: &str| {
            els.iter()
                .zip(&t)
                .find(|(_, x)| *x == want)
                .map(|(e, _)| attr(e, "y").unwrap())
                .unwrap()
        };
        assert!(y_of("reliable improvement") < y_of("reliable deterioration"));
        assert_text_ok(&s, width, "jacobson higher better");
    }
    // A single client; a zero or NaN threshold (no band); a bad cell size.
    let one = vec![p(12.0, 4.0, Category::Recovered)];
    for (th, mode) in [
        (6.0, JacobsonMode::Points),
        (0.0, JacobsonMode::Points),
        (f64::NAN, BINNED),
        (
            6.0,
            JacobsonMode::Binned {
                cell: f64::NAN,
                min_count: 0,
            },
        ),
    ] {
        let mut j = JacobsonPlot::new(one.clone(), th, "PHQ-9");
        j.mode = mode;
        j.cutoff = Some(10.0);
        for width in [Width::Single, Width::Double] {
            let s = svg(&j, width);
            assert_eq!(
                count(&s, "polygon", "fill=\"#E6E6E6\""),
                usize::from(th == 6.0)
            );
            assert_text_ok(&s, width, "jacobson single");
            render_png(&j, width, 100).unwrap();
        }
    }
    // A long measure name: titles wrapped or shortened, never clipped.
    let mut j = jacobson(50, JacobsonMode::Points);
    j.measure = "Outcome Questionnaire 45.2, total score, last session carried forward".into();
    for width in [Width::Single, Width::Double] {
        assert_text_ok(&svg(&j, width), width, "jacobson long measure");
    }
}

// --------------------------------------------------------------- PNG ---

#[test]
fn png_has_signature_and_column_width() {
    for width in [Width::Single, Width::Double] {
        for dpi in [300, 150] {
            let pngs = [
                render_png(&caterpillar(25), width, dpi).unwrap(),
                render_png(&caterpillar(80), width, dpi).unwrap(),
                render_png(&jacobson(600, JacobsonMode::Points), width, dpi).unwrap(),
                render_png(&jacobson(600, BINNED), width, dpi).unwrap(),
            ];
            for b in pngs {
                let (w, h) = png_size(&b);
                assert_eq!(w, width.pixels(dpi));
                assert!(h > 100);
            }
        }
    }
}

// ----------------------------------------------------------- figures ---

/// Writes the example figures to $OUTCOMES_PLOT_DIR, if set.
#[test]
fn example() {
    let Some(dir) = svg::example_dir() else {
        return;
    };
    for (width, suffix) in [(Width::Single, "single"), (Width::Double, "double")] {
        let path = |name: &str| dir.join(format!("{name}_{suffix}.png"));
        save(&caterpillar(80), &path("caterpillar_80"), width, DPI).unwrap();
        save(&caterpillar(25), &path("caterpillar_25"), width, DPI).unwrap();
        save(
            &jacobson(600, JacobsonMode::Points),
            &path("jacobson_points"),
            width,
            DPI,
        )
        .unwrap();
        save(&jacobson(600, BINNED), &path("jacobson_binned"), width, DPI).unwrap();
        // With 600 clients few cells of one PHQ-9 point reach 8: coarser cells.
        let cell3 = JacobsonMode::Binned {
            cell: 3.0,
            min_count: 8,
        };
        save(
            &jacobson(600, cell3),
            &path("jacobson_binned_cell3"),
            width,
            DPI,
        )
        .unwrap();
        // Edge cases.
        let mut few = CaterpillarPlot::new(
            therapists(5, 11),
            "Therapist effect on the last score (phq9_last; conditional mode, 95% interval)",
        );
        few.items[2].label = "A therapist with a very long name, and a practice".into();
        save(&few, &path("caterpillar_5"), width, DPI).unwrap();
        save(&caterpillar(500), &path("caterpillar_500"), width, DPI).unwrap();
        save(
            &CaterpillarPlot::new(Vec::new(), "Therapist effect"),
            &path("caterpillar_empty"),
            width,
            DPI,
        )
        .unwrap();
        let mut empty = JacobsonPlot::new(Vec::new(), RCI, "PHQ-9");
        empty.range = Some((0.0, 27.0));
        save(&empty, &path("jacobson_empty"), width, DPI).unwrap();
        // Higher is better, no cut-off, range from the data (WEMWBS-like).
        let mut g = SplitMix64(5);
        let pts = (0..150)
            .map(|_| {
                let pre = 40.0 + 8.0 * g.normal();
                let post = pre + 6.0 + 8.0 * g.normal();
                let d = post - pre;
                let category = if d > 8.0 {
                    Category::Improved
                } else if d < -8.0 {
                    Category::Deteriorated
                } else {
                    Category::Unchanged
                };
                JacobsonPoint {
                    pre,
                    post,
                    category,
                }
            })
            .collect();
        let mut hb = JacobsonPlot::new(pts, 8.0, "WEMWBS");
        hb.lower_is_better = false;
        save(&hb, &path("jacobson_higher_better"), width, DPI).unwrap();
    }
}
