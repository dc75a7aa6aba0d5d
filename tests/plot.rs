//! Charts (src/plot): structure of the SVG output, PNG size, output errors.
//!
//! Set OUTCOMES_PLOT_DIR=/some/dir to also write the example figures there
//! (PNG and SVG) for looking at them.

#[path = "common/svg.rs"]
mod svg;
use outcomes::plot::forest::{Diamond, ForestLine, ForestPlot, ForestRow};
use outcomes::plot::funnel::{FunnelPlot, FunnelPoint};
use outcomes::plot::shares::{Published, Share, SharesPlot};
use outcomes::plot::{
    clip_polygon, fit_text, nice_ticks, num, render_png, render_svg, save, text_width, tick_digits,
    tight_axis, Chart, Width,
};
use std::path::PathBuf;
use svg::{count, png_size, texts};

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("outcomes-plot-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const BLUE: &str = "fill=\"#0072B2\"";
const BLACK: &str = "fill=\"#000000\"";
const VERMILLION: &str = "fill=\"#D55E00\"";

/// dat.bcg (metadat): log risk ratios and their sampling variances,
/// yi = ln[(tpos/(tpos+tneg)) / (cpos/(cpos+cneg))],
/// vi = 1/tpos − 1/(tpos+tneg) + 1/cpos − 1/(cpos+cneg).
fn bcg() -> Vec<(String, f64, f64)> {
    let rows: [(&str, i32, f64, f64, f64, f64); 13] = [
        ("Aronson", 1948, 4., 119., 11., 128.),
        ("Ferguson & Simes", 1949, 6., 300., 29., 274.),
        ("Rosenthal et al", 1960, 3., 228., 11., 209.),
        ("Hart & Sutherland", 1977, 62., 13536., 248., 12619.),
        ("Frimodt-Moller et al", 1973, 33., 5036., 47., 5761.),
        ("Stein & Aronson", 1953, 180., 1361., 372., 1079.),
        ("Vandiviere et al", 1973, 8., 2537., 10., 619.),
        ("TPT Madras", 1980, 505., 87886., 499., 87892.),
        ("Coetzee & Berjak", 1968, 29., 7470., 45., 7232.),
        ("Rosenthal et al", 1961, 17., 1699., 65., 1600.),
        ("Comstock et al", 1974, 186., 50448., 141., 27197.),
        ("Comstock & Webster", 1969, 5., 2493., 3., 2338.),
        ("Comstock et al", 1976, 27., 16886., 29., 17825.),
    ];
    rows.iter()
        .map(|&(a, y, tp, tn, cp, cn)| {
            let yi = ((tp / (tp + tn)) / (cp / (cp + cn))).ln();
            let vi = 1.0 / tp - 1.0 / (tp + tn) + 1.0 / cp - 1.0 / (cp + cn);
            (format!("{a}, {y}"), yi, vi)
        })
        .collect()
}

/// DerSimonian–Laird random-effects pooling (DerSimonian, R., & Laird, N.
/// (1986). Controlled Clinical Trials 7, 177–188): (estimate, se, tau²).
fn dl(y: &[f64], v: &[f64]) -> (f64, f64, f64) {
    let w: Vec<f64> = v.iter().map(|v| 1.0 / v).collect();
    let sw: f64 = w.iter().sum();
    let fe: f64 = w.iter().zip(y).map(|(w, y)| w * y).sum::<f64>() / sw;
    let q: f64 = w.iter().zip(y).map(|(w, y)| w * (y - fe).powi(2)).sum();
    let c = sw - w.iter().map(|w| w * w).sum::<f64>() / sw;
    let tau2 = ((q - (y.len() as f64 - 1.0)) / c).max(0.0);
    let ws: Vec<f64> = v.iter().map(|v| 1.0 / (v + tau2)).collect();
    let sws: f64 = ws.iter().sum();
    let est = ws.iter().zip(y).map(|(w, y)| w * y).sum::<f64>() / sws;
    (est, (1.0 / sws).sqrt(), tau2)
}

fn bcg_forest() -> ForestPlot {
    let d = bcg();
    let y: Vec<f64> = d.iter().map(|r| r.1).collect();
    let v: Vec<f64> = d.iter().map(|r| r.2).collect();
    let (est, se, tau2) = dl(&y, &v);
    let wsum: f64 = v.iter().map(|v| 1.0 / (v + tau2)).sum();
    let row = |r: &(String, f64, f64)| {
        ForestLine::Study(ForestRow {
            label: r.0.clone(),
            estimate: r.1,
            // Wald 95% CI: yi ± 1.96·√vi.
            ci_lb: r.1 - 1.96 * r.2.sqrt(),
            ci_ub: r.1 + 1.96 * r.2.sqrt(),
            weight: 100.0 / (r.2 + tau2) / wsum,
        })
    };
    let mut lines = vec![ForestLine::Heading("Random allocation".into())];
    lines.extend(d[..4].iter().map(row));
    lines.push(ForestLine::Heading(
        "Alternate or systematic allocation".into(),
    ));
    lines.extend(d[4..].iter().map(row));
    let mut f = ForestPlot::new(
        lines,
        Diamond {
            label: "Random-effects model".into(),
            estimate: est,
            ci_lb: est - 1.96 * se,
            ci_ub: est + 1.96 * se,
        },
        "Log risk ratio",
    );
    // Approximate 95% prediction interval: est ± 1.96·√(tau² + se²)
    // (Higgins, Thompson & Spiegelhalter, 2009, JRSS A 172, 137–159).
    let pi = 1.96 * (tau2 + se * se).sqrt();
    f.prediction = Some((est - pi, est + pi));
    f
}

fn bcg_funnel(imputed: bool) -> FunnelPlot {
    let d = bcg();
    let y: Vec<f64> = d.iter().map(|r| r.1).collect();
    let v: Vec<f64> = d.iter().map(|r| r.2).collect();
    let (est, _, _) = dl(&y, &v);
    let mut f = FunnelPlot::new(
        d.iter()
            .map(|r| FunnelPoint {
                estimate: r.1,
                se: r.2.sqrt(),
            })
            .collect(),
        est,
        "Log risk ratio",
    );
    if imputed {
        // Mirror images of the two most negative studies, as trim and fill
        // would add them.
        f.imputed = vec![
            FunnelPoint {
                estimate: 2.0 * est - y[2],
                se: v[2].sqrt(),
            },
            FunnelPoint {
                estimate: 2.0 * est - y[0],
                se: v[0].sqrt(),
            },
        ];
    }
    f
}

/// A 900-study forest plot from a fixed pseudo-random sequence.
fn big_forest() -> ForestPlot {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut unif = move || {
        // xorshift64* (Vigna 2016).
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    let n = 900;
    let mut lines = Vec::new();
    let mut wts = Vec::new();
    for i in 0..n {
        let se = 0.1 + 0.4 * unif();
        // Sum of uniforms ≈ normal.
        let z: f64 = (0..12).map(|_| unif()).sum::<f64>() - 6.0;
        let g = 0.5 + 0.3 * z;
        wts.push(1.0 / (se * se + 0.09));
        lines.push((
            format!("Study {:03} et al., {}", i + 1, 1975 + (i % 49)),
            g,
            se,
        ));
    }
    let wsum: f64 = wts.iter().sum();
    let lines = lines
        .into_iter()
        .zip(&wts)
        .map(|((label, g, se), w)| {
            ForestLine::Study(ForestRow {
                label,
                estimate: g,
                ci_lb: g - 1.96 * se,
                ci_ub: g + 1.96 * se,
                weight: 100.0 * w / wsum,
            })
        })
        .collect();
    let mut f = ForestPlot::new(
        lines,
        Diamond {
            label: "Random-effects model".into(),
            estimate: 0.5,
            ci_lb: 0.47,
            ci_ub: 0.53,
        },
        "Hedges' g",
    );
    f.prediction = Some((-0.1, 1.1));
    f
}

fn shares() -> SharesPlot {
    let s = |l: &str, p: f64, a: f64, b: f64| Share {
        label: l.into(),
        percent: p,
        ci: Some((a, b)),
    };
    SharesPlot::new(
        vec![
            s("Client", 15.0, 11.8, 18.4),
            s("Technique", 0.1, 0.0, 0.9),
            s("Relationship", 4.2, 2.6, 6.1),
            s("Therapist", 4.7, 2.9, 6.8),
            s("Site", 0.6, 0.0, 1.7),
        ],
        vec![
            Published {
                label: "Alliance".into(),
                percent: 7.7,
            },
            Published {
                label: "Therapist".into(),
                percent: 5.0,
            },
            Published {
                label: "Treatment differences".into(),
                percent: 1.0,
            },
        ],
    )
}

fn svg_of(chart: &impl Chart, width: Width, name: &str) -> String {
    let dir = tempdir(name);
    let p = dir.join("chart.svg");
    save(chart, &p, width, 300).unwrap();
    let s = std::fs::read_to_string(&p).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(s.starts_with("<svg"), "{}", &s[..60.min(s.len())]);
    assert!(s.trim_end().ends_with("</svg>"));
    s
}

#[test]
fn forest_svg_structure() {
    let f = bcg_forest();
    let single = svg_of(&f, Width::Single, "forest");
    assert!(single.contains("width=\"85.00mm\""), "print size in mm");
    // In one column long labels are shortened with an ellipsis; in two
    // columns they fit.
    assert!(texts(&single).iter().any(|s| s.ends_with('…')));
    let svg = svg_of(&f, Width::Double, "forest2");
    assert!(svg.contains("width=\"175.00mm\""));
    let t = texts(&svg);
    for want in [
        "Log risk ratio",
        "Study",
        "Estimate [95% CI]",
        "Weight",
        "Random-effects model",
        "Prediction interval",
        "Random allocation",
        "Aronson, 1948",
        "Comstock et al, 1976",
    ] {
        assert!(
            t.iter().any(|s| s == want),
            "missing text {want:?} in {t:?}"
        );
    }
    // One square per study, one diamond.
    assert_eq!(count(&svg, "rect", BLUE), 13);
    assert_eq!(count(&svg, "polygon", BLACK), 1);
    // The reference line's tick label, with a typographic minus elsewhere.
    assert!(t
        .iter()
        .any(|s| s.trim_end_matches('0').trim_end_matches('.') == "0" || s == "0"));
    assert!(t.iter().any(|s| s.starts_with('\u{2212}')));
}

#[test]
fn forest_grows_with_rows_and_labels_do_not_overlap() {
    let small = bcg_forest();
    let big = big_forest();
    let w = Width::Single.pt();
    assert!(
        big.height_pt(w) > 900.0 * 7.0 * 1.2,
        "rows at least 1.2 × the font size"
    );
    assert!(big.height_pt(w) > small.height_pt(w) * 30.0);
    let svg = render_svg(&big, Width::Single, 300).unwrap();
    assert_eq!(count(&svg, "rect", BLUE), 900);
    // Label baselines (the study labels) are at least a line apart.
    let mut ys: Vec<f64> = svg
        .split("<text ")
        .skip(1)
        .filter(|s| {
            s[s.find('>').unwrap()..]
                .trim_start_matches('>')
                .trim_start()
                .starts_with("Study ")
        })
        .map(|s| {
            let i = s.find(" y=\"").unwrap() + 4;
            s[i..i + s[i..].find('"').unwrap()].parse::<f64>().unwrap()
        })
        .collect();
    assert_eq!(ys.len(), 900);
    ys.sort_by(f64::total_cmp);
    let font_px = 7.0 / 72.0 * 300.0;
    assert!(ys.windows(2).all(|p| p[1] - p[0] >= 1.2 * font_px));
}

#[test]
fn funnel_svg_structure() {
    let f = bcg_funnel(true);
    let svg = svg_of(&f, Width::Single, "funnel");
    let t = texts(&svg);
    for want in [
        "Log risk ratio",
        "Standard error",
        "p < .01",
        "Imputed (trim and fill)",
        "Pseudo-95% CI",
    ] {
        assert!(
            t.iter().any(|s| s == want),
            "missing text {want:?} in {t:?}"
        );
    }
    // 13 studies + the legend's dot; 2 imputed + the legend's hollow point.
    assert_eq!(count(&svg, "circle", BLACK), 14);
    assert_eq!(count(&svg, "circle", "fill=\"none\""), 3);
    // Three contour bands over the p < .01 background.
    assert_eq!(count(&svg, "polygon", ""), 4);
    // Without trim and fill: no hollow points, no legend entry.
    let svg = render_svg(&bcg_funnel(false), Width::Single, 300).unwrap();
    assert_eq!(count(&svg, "circle", "fill=\"none\""), 0);
    assert!(!texts(&svg).iter().any(|s| s.starts_with("Imputed")));
}

#[test]
fn shares_svg_structure() {
    let s = shares();
    let svg = svg_of(&s, Width::Single, "shares");
    let t = texts(&svg);
    for want in [
        "Client",
        "Technique",
        "Relationship",
        "Therapist",
        "Site",
        "Alliance",
        "Treatment differences",
        "Published estimates (separate analyses, not additive)",
        "Share of outcome variance (%)",
        "15.0%",
        "7.7%",
    ] {
        assert!(
            t.iter().any(|x| x == want),
            "missing text {want:?} in {t:?}"
        );
    }
    assert_eq!(count(&svg, "rect", BLUE), 5, "one bar per factor");
    assert_eq!(
        count(&svg, "circle", VERMILLION),
        3,
        "one dot per published estimate"
    );
    assert_eq!(count(&svg, "polygon", ""), 0, "no pie, no wedges");
}

#[test]
fn png_has_signature_and_column_width() {
    let dir = tempdir("png");
    for (name, chart) in [("forest", 0), ("funnel", 1), ("shares", 2)] {
        let p = dir.join(format!("{name}.png"));
        match chart {
            0 => save(&bcg_forest(), &p, Width::Single, 300),
            1 => save(&bcg_funnel(true), &p, Width::Single, 300),
            _ => save(&shares(), &p, Width::Single, 300),
        }
        .unwrap();
        let b = std::fs::read(&p).unwrap();
        let (w, h) = png_size(&b);
        assert_eq!(w, 1004, "85 mm at 300 dpi");
        assert!(h > 100);
    }
    let b = render_png(&shares(), Width::Double, 150).unwrap();
    assert_eq!(u32::from_be_bytes(b[16..20].try_into().unwrap()), 1033);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_extension_is_an_input_error_and_writes_nothing() {
    let dir = tempdir("ext");
    for name in ["chart.pdf", "chart"] {
        let p = dir.join(name);
        let e = save(&shares(), &p, Width::Single, 300).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(msg.contains(".svg") && msg.contains(".png"), "{msg}");
        assert!(!p.exists());
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes the example figures to $OUTCOMES_PLOT_DIR, if set.
#[test]
fn example_figures() {
    let Some(dir) = svg::example_dir() else {
        return;
    };
    for ext in ["png", "svg"] {
        save(
            &bcg_forest(),
            &dir.join(format!("forest_bcg.{ext}")),
            Width::Single,
            300,
        )
        .unwrap();
        save(
            &bcg_forest(),
            &dir.join(format!("forest_bcg_double.{ext}")),
            Width::Double,
            300,
        )
        .unwrap();
        save(
            &bcg_funnel(true),
            &dir.join(format!("funnel_bcg.{ext}")),
            Width::Single,
            300,
        )
        .unwrap();
        save(
            &bcg_funnel(true),
            &dir.join(format!("funnel_bcg_double.{ext}")),
            Width::Double,
            300,
        )
        .unwrap();
        save(
            &shares(),
            &dir.join(format!("shares.{ext}")),
            Width::Single,
            300,
        )
        .unwrap();
        save(
            &big_forest(),
            &dir.join(format!("forest_900.{ext}")),
            Width::Single,
            300,
        )
        .unwrap();
    }
}

#[test]
fn widths_in_pixels() {
    assert_eq!(Width::Single.pixels(300), 1004);
    assert_eq!(Width::Double.pixels(300), 2067);
}

#[test]
fn font_scale_matches_liberation_metrics() {
    // Liberation Sans digits advance 1139/2048 em (as Arial's).
    let w = text_width("0000000000", 10.0, false);
    assert!((w - 10.0 * 10.0 * 1139.0 / 2048.0).abs() < 0.5, "{w}");
}

#[test]
fn ticks_are_nice() {
    let (t, s) = nice_ticks(-1.63, 0.21, 5);
    assert_eq!(s, 0.5);
    assert_eq!(t.first().copied(), Some(-2.0));
    assert_eq!(t.last().copied(), Some(0.5));
    let (t, _) = nice_ticks(0.0, 18.4, 4);
    assert_eq!(t.first().copied(), Some(0.0));
    let (d0, d1, t, _) = tight_axis(-2.61, 1.88, 3);
    assert_eq!((d0, d1), (-3.0, 2.0));
    assert_eq!(t, vec![-2.0, 0.0, 2.0]);
    assert_eq!(tick_digits(0.5), 1);
    assert_eq!(tick_digits(2.0), 0);
    assert_eq!(num(-0.0001, 2), "0.00");
    assert_eq!(num(-1.5, 1), "\u{2212}1.5");
}

#[test]
fn clipping_a_triangle() {
    let p = clip_polygon(&[(0.0, 0.0), (10.0, 0.0), (5.0, 10.0)], 0.0, 0.0, 10.0, 5.0);
    assert_eq!(p.len(), 4);
    assert!(p.iter().all(|q| q.1 <= 5.0 + 1e-12));
}

#[test]
fn fitting_text() {
    let s = fit_text("a very long study label indeed", 8.0, false, 40.0);
    assert!(s.ends_with('…'));
    assert!(text_width(&s, 8.0, false) <= 40.0);
    assert_eq!(fit_text("short", 8.0, false, 40.0), "short");
}
