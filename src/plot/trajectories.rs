//! Trajectories: the mean score by session for repeated-measures (long)
//! data, one line per series (a treatment arm, a service, a cohort) through
//! the session means, a confidence band around each line, and optional
//! horizontal reference lines such as a clinical cut-off.
//!
//! Only aggregates are drawn, never individual clients. Each series gets an
//! Okabe–Ito colour, its own marker shape and its own dash pattern, so the
//! figure still reads when printed in greyscale. Bands are light tints of
//! the series colour; where bands overlap their tints are multiplied, as
//! translucent ink would combine, so neither band hides the other.
//!
//! Design after the mean-profile plots of Fitzmaurice, G. M., Laird, N. M.,
//! & Ware, J. H. (2011). Applied Longitudinal Analysis (2nd ed.), Wiley,
//! ch. 2; aspect ratio about 0.62 (Cleveland, W. S. (1993). Visualizing
//! Data. Hobart Press).

use super::{
    fit_text, num, palette, text_width, tight_axis, x_axis, x_axis_height, y_axis, y_axis_width,
    Align, Canvas, Chart, Scale, TextStyleSpec, CAP_HEIGHT, LINE_LW, SMALL_PT, TEXT_PT,
};
use crate::error::Result;
use plotters::prelude::{DrawingBackend, RGBColor};

/// One session's aggregate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrajectoryPoint {
    pub session: f64,
    pub mean: f64,
    /// Interval bounds around the mean (the caller's level, usually 95%).
    pub lower: f64,
    pub upper: f64,
    /// Clients contributing to the mean; a point with n = 0 is not drawn.
    pub n: usize,
}

/// One line.
#[derive(Debug, Clone, PartialEq)]
pub struct TrajectorySeries {
    pub label: String,
    pub points: Vec<TrajectoryPoint>,
}

/// Mean score by session.
#[derive(Debug, Clone, PartialEq)]
pub struct TrajectoriesPlot {
    pub series: Vec<TrajectorySeries>,
    /// x-axis title, e.g. "Session".
    pub x_label: String,
    /// y-axis title, e.g. "PHQ-9 (mean, 95% CI)".
    pub y_label: String,
    /// Horizontal dashed lines with a short label, e.g. (10.0, "cut-off").
    pub reference_lines: Vec<(f64, String)>,
}

impl TrajectoriesPlot {
    pub fn new(
        series: Vec<TrajectorySeries>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        TrajectoriesPlot {
            series,
            x_label: x_label.into(),
            y_label: y_label.into(),
            reference_lines: Vec::new(),
        }
    }
}

// ------------------------------------------------------- series styles ---

/// Series colours, in order (yellow is left out: too light on white).
const COLOURS: [RGBColor; 6] = [
    palette::BLUE,
    palette::VERMILLION,
    palette::BLUISH_GREEN,
    palette::REDDISH_PURPLE,
    palette::ORANGE,
    palette::SKY_BLUE,
];

/// Dash patterns (on, off, … in points); empty: solid.
const DASHES: [&[f64]; 4] = [&[], &[3.2, 1.6], &[0.9, 1.3], &[3.2, 1.3, 0.9, 1.3]];

/// Marker shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Circle,
    Square,
    TriangleUp,
    Diamond,
    TriangleDown,
    Ring,
}

const SHAPES: [Shape; 6] = [
    Shape::Circle,
    Shape::Square,
    Shape::TriangleUp,
    Shape::Diamond,
    Shape::TriangleDown,
    Shape::Ring,
];

/// Share of the series colour in its band's tint.
const TINT: f64 = 0.2;

fn tint(c: RGBColor, share: f64) -> RGBColor {
    let mix = |v: u8| (255.0 - share * (255.0 - v as f64)).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// Multiplies two colours channel by channel (overlapping translucent inks).
fn multiply(a: RGBColor, b: RGBColor) -> RGBColor {
    let m = |x: u8, y: u8| ((x as f64) * (y as f64) / 255.0).round() as u8;
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// Strokes the polyline `pts` with a repeating on/off `pattern` (lengths in
/// points, an even number of them); an empty pattern strokes it solid. The
/// pattern runs on across vertices, so dashes turn corners.
pub(crate) fn stroke_pattern<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    pts: &[(f64, f64)],
    colour: RGBColor,
    width_pt: f64,
    pattern: &[f64],
) -> Result<()> {
    if pts.len() < 2 {
        return Ok(());
    }
    if pattern.is_empty() || pattern.iter().any(|&d| d <= 0.0) {
        return c.line(pts, colour, width_pt);
    }
    let mut k = 0usize;
    let mut left = pattern[0];
    let mut dash: Vec<(f64, f64)> = vec![pts[0]];
    for seg in pts.windows(2) {
        let (a, b) = (seg[0], seg[1]);
        let len = (b.0 - a.0).hypot(b.1 - a.1);
        let mut s = 0.0;
        while len - s > left {
            s += left;
            let t = s / len;
            let p = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
            if k.is_multiple_of(2) {
                dash.push(p);
                c.line(&dash, colour, width_pt)?;
                dash.clear();
            } else {
                dash = vec![p];
            }
            k = (k + 1) % pattern.len();
            left = pattern[k];
        }
        left -= len - s;
        if k.is_multiple_of(2) {
            dash.push(b);
        }
    }
    if k.is_multiple_of(2) && dash.len() >= 2 {
        c.line(&dash, colour, width_pt)?;
    }
    Ok(())
}

/// Draws a marker of about radius `r` centred at `p`; shapes are sized to
/// look equally heavy.
pub(crate) fn marker<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    shape: Shape,
    p: (f64, f64),
    r: f64,
    colour: RGBColor,
) -> Result<()> {
    let (x, y) = p;
    match shape {
        Shape::Circle => c.circle(p, r, Some(colour), (colour, 0.0)),
        Shape::Ring => c.circle(p, r * 0.9, None, (colour, 0.9)),
        Shape::Square => {
            let h = 0.88 * r;
            c.rect(x - h, y - h, x + h, y + h, colour)
        }
        Shape::Diamond => {
            let h = 1.25 * r;
            c.polygon(&[(x, y - h), (x + h, y), (x, y + h), (x - h, y)], colour)
        }
        Shape::TriangleUp | Shape::TriangleDown => {
            let s = if shape == Shape::TriangleUp {
                1.0
            } else {
                -1.0
            };
            c.polygon(
                &[
                    (x, y - s * 1.35 * r),
                    (x + 1.2 * r, y + s * 0.75 * r),
                    (x - 1.2 * r, y + s * 0.75 * r),
                ],
                colour,
            )
        }
    }
}

/// Intersection of two convex polygons (Sutherland & Hodgman, 1974,
/// clipping `subject` against each edge of the convex `clip`).
fn convex_intersection(subject: &[(f64, f64)], clip: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let area2: f64 = clip
        .iter()
        .zip(clip.iter().cycle().skip(1))
        .map(|(a, b)| a.0 * b.1 - b.0 * a.1)
        .sum();
    let orient = if area2 >= 0.0 { 1.0 } else { -1.0 };
    let mut out = subject.to_vec();
    for (i, &e0) in clip.iter().enumerate() {
        let e1 = clip[(i + 1) % clip.len()];
        let side =
            |p: (f64, f64)| orient * ((e1.0 - e0.0) * (p.1 - e0.1) - (e1.1 - e0.1) * (p.0 - e0.0));
        let input = std::mem::take(&mut out);
        let Some(&last) = input.last() else {
            break;
        };
        let mut prev = last;
        for &cur in &input {
            let (sc, sp) = (side(cur), side(prev));
            if (sc >= 0.0) != (sp >= 0.0) {
                let t = sp / (sp - sc);
                out.push((prev.0 + t * (cur.0 - prev.0), prev.1 + t * (cur.1 - prev.1)));
            }
            if sc >= 0.0 {
                out.push(cur);
            }
            prev = cur;
        }
    }
    out
}

// -------------------------------------------------------------- layout ---

const PAD: f64 = 4.0;
const ASPECT: f64 = 0.62;
const MIN_PLOT_H: f64 = 60.0;
const KEY_W: f64 = 16.0;
const LEGEND_PITCH: f64 = 1.5 * SMALL_PT;
const SERIES_LW: f64 = 1.0;
const MARK_R: f64 = 1.9;
const NO_DATA: &str = "No data";

/// A piece of band (overlap): its polygon, fill, and the highest series
/// index among the bands it lies in.
struct Patch {
    last: usize,
    poly: Vec<(f64, f64)>,
    colour: RGBColor,
}

struct LegendItem {
    series: usize,
    text: String,
    x: f64,
    row: usize,
}

struct Layout {
    x: Scale,
    y: Scale,
    x_ticks: Vec<f64>,
    y_ticks: Vec<f64>,
    y_digits: usize,
    legend: Vec<LegendItem>,
    /// Reference lines: value, label baseline (points) and label text.
    refs: Vec<(f64, f64, String)>,
    height: f64,
}

/// The plot's frame for a legend of `rows` rows and y data in [lo, hi].
struct Frame {
    left: f64,
    top: f64,
    bottom: f64,
    height: f64,
    d0: f64,
    d1: f64,
    y_ticks: Vec<f64>,
    y_digits: usize,
}

impl Frame {
    fn new(width: f64, rows: usize, lo: f64, hi: f64) -> Frame {
        let legend_h = if rows > 0 {
            rows as f64 * LEGEND_PITCH + 4.0
        } else {
            0.0
        };
        let top = PAD + legend_h + CAP_HEIGHT * SMALL_PT / 2.0 + 1.0;
        let height = (ASPECT * width).max(top + MIN_PLOT_H + x_axis_height() + PAD);
        let bottom = height - PAD - x_axis_height();
        let target = ((bottom - top) / (3.0 * TEXT_PT)).clamp(3.0, 8.0) as usize;
        let (d0, d1, y_ticks, y_digits) = value_axis(lo, hi, target);
        Frame {
            left: PAD + y_axis_width(&y_ticks, y_digits),
            top,
            bottom,
            height,
            d0,
            d1,
            y_ticks,
            y_digits,
        }
    }
}

impl TrajectoriesPlot {
    /// Legend entries (2+ series), wrapped to the width from `left` on.
    fn legend(&self, width: f64, left: f64) -> Vec<LegendItem> {
        let mut legend = Vec::new();
        if self.series.len() < 2 {
            return legend;
        }
        let max_text = (width - PAD - left - KEY_W - 3.0).max(20.0);
        let (mut x, mut row) = (left, 0usize);
        for (i, s) in self.series.iter().enumerate() {
            let text = fit_text(&s.label, SMALL_PT, false, max_text);
            let w = KEY_W + 3.0 + text_width(&text, SMALL_PT, false);
            if x + w > width - PAD && x > left {
                x = left;
                row += 1;
            }
            legend.push(LegendItem {
                series: i,
                text,
                x,
                row,
            });
            x += w + 10.0;
        }
        legend
    }

    /// The drawable points of series `i`, sorted by session.
    fn points(&self, i: usize) -> Vec<TrajectoryPoint> {
        let mut v: Vec<TrajectoryPoint> = self.series[i]
            .points
            .iter()
            .filter(|p| p.session.is_finite() && p.mean.is_finite() && p.n > 0)
            .copied()
            .collect();
        v.sort_by(|a, b| a.session.total_cmp(&b.session));
        v
    }

    fn has_data(&self) -> bool {
        (0..self.series.len()).any(|i| !self.points(i).is_empty())
    }

    fn refs(&self) -> impl Iterator<Item = &(f64, String)> {
        self.reference_lines.iter().filter(|r| r.0.is_finite())
    }

    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let (mut s0, mut s1) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
        for i in 0..self.series.len() {
            for p in self.points(i) {
                s0 = s0.min(p.session);
                s1 = s1.max(p.session);
                for v in [p.mean, p.lower, p.upper]
                    .into_iter()
                    .filter(|v| v.is_finite())
                {
                    y0 = y0.min(v);
                    y1 = y1.max(v);
                }
            }
        }
        for (v, _) in self.refs() {
            y0 = y0.min(*v);
            y1 = y1.max(*v);
        }
        if s0 > s1 {
            (s0, s1) = (1.0, 10.0);
        }
        if y0 > y1 {
            (y0, y1) = (0.0, 1.0);
        }
        ((s0, s1), (y0, y1))
    }

    fn layout(&self, width: f64) -> Layout {
        let ((s0, s1), (y0, y1)) = self.ranges();
        let small = |s: &str| text_width(s, SMALL_PT, false);

        // Right margin: the reference-line labels, or half a tick label.
        let ref_w = 0.22 * width;
        let refs: Vec<(f64, String)> = self
            .refs()
            .map(|(v, s)| (*v, fit_text(s, SMALL_PT, false, ref_w)))
            .collect();
        let ref_need = refs.iter().map(|(_, s)| small(s)).fold(0.0, f64::max);
        let right = width
            - PAD
            - if ref_need > 0.0 {
                ref_need + 4.0
            } else {
                small(&num(s1.round(), 0)) / 2.0
            };

        // The y range with a little air, so bands do not touch the frame.
        let air = 0.03 * (y1 - y0).max(1e-9);
        let (lo, hi) = (y0 - air, y1 + air);

        // The legend's rows set the plot height, which sets the y ticks,
        // which set where the plot (and the legend) starts: settle in turn.
        let show_legend = self.series.len() >= 2;
        let mut rows = usize::from(show_legend);
        let mut frame = Frame::new(width, rows, lo, hi);
        let mut legend = self.legend(width, frame.left);
        for _ in 0..3 {
            let need = legend.last().map_or(0, |it| it.row + 1);
            if need == rows {
                break;
            }
            rows = need;
            frame = Frame::new(width, rows, lo, hi);
            legend = self.legend(width, frame.left);
        }
        // Never let an unsettled legend run into the plot.
        let need = legend.last().map_or(0, |it| it.row + 1);
        if need > rows {
            frame = Frame::new(width, need, lo, hi);
        }
        let Frame {
            left,
            top,
            bottom,
            height,
            d0,
            d1,
            y_ticks,
            y_digits,
        } = frame;

        let y = Scale::new(d0, d1, bottom, top);
        // Sessions: half a session of air at either end.
        let pad = (0.03 * (s1 - s0)).max(0.5);
        let x = Scale::new(s0 - pad, s1 + pad, left, right);
        let x_ticks = session_ticks(&x);

        // Reference labels right of the plot, centred on their line, pushed
        // apart so they never overlap.
        let mut placed: Vec<(f64, f64, String)> = refs
            .into_iter()
            .map(|(v, s)| (v, y.map(v) + CAP_HEIGHT * SMALL_PT / 2.0, s))
            .collect();
        placed.sort_by(|a, b| a.1.total_cmp(&b.1));
        let gap = 1.25 * SMALL_PT;
        for i in 1..placed.len() {
            placed[i].1 = placed[i].1.max(placed[i - 1].1 + gap);
        }
        let floor = bottom + CAP_HEIGHT * SMALL_PT / 2.0;
        if let Some(last) = placed.last_mut() {
            last.1 = last.1.min(floor);
        }
        for i in (0..placed.len().saturating_sub(1)).rev() {
            placed[i].1 = placed[i].1.min(placed[i + 1].1 - gap);
        }

        Layout {
            x,
            y,
            x_ticks,
            y_ticks,
            y_digits,
            legend,
            refs: placed,
            height,
        }
    }
}

/// [`tight_axis`], preferring steps of 1, 2 or 5 × 10^k to 2.5 × 10^k
/// (labels 8, 10, 12 rather than 7.5, 10.0, 12.5) when a neighbouring tick
/// count gives one with at least three ticks.
fn value_axis(lo: f64, hi: f64, target: usize) -> (f64, f64, Vec<f64>, usize) {
    for t in [target, target + 1, target.saturating_sub(1), target + 2] {
        let axis = tight_axis(lo, hi, t.max(2));
        let step = match axis.2.as_slice() {
            [a, b, _, ..] => b - a,
            _ => continue,
        };
        let mantissa = step / 10f64.powf(step.log10().floor());
        if (mantissa - 2.5).abs() > 1e-6 {
            return axis;
        }
    }
    tight_axis(lo, hi, target)
}

/// Integer session ticks, every 1, 2, 5, 10, 20, 50, … sessions: the
/// smallest step that leaves an em between neighbouring labels.
fn session_ticks(x: &Scale) -> Vec<f64> {
    let widest = [x.d0, x.d1]
        .iter()
        .map(|v| text_width(&num(v.round(), 0), SMALL_PT, false))
        .fold(0.0, f64::max);
    let per_session = (x.p1 - x.p0).abs() / (x.d1 - x.d0).max(1e-9);
    let mut step = 1.0;
    let mut k = 0;
    while step * per_session < widest + SMALL_PT && step < 1e9 {
        k += 1;
        step = [1.0, 2.0, 5.0][k % 3] * 10f64.powi((k / 3) as i32);
    }
    let first = (x.d0 / step).ceil() as i64;
    let last = (x.d1 / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

impl Chart for TrajectoriesPlot {
    fn height_pt(&self, width_pt: f64) -> f64 {
        self.layout(width_pt).height
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()> {
        let lay = self.layout(c.width);
        let (xs, ys) = (lay.x, lay.y);
        let series: Vec<Vec<TrajectoryPoint>> =
            (0..self.series.len()).map(|i| self.points(i)).collect();
        let colour = |i: usize| COLOURS[i % COLOURS.len()];
        let band = |p: &TrajectoryPoint| p.lower.is_finite() && p.upper.is_finite();

        // Bands: one convex quadrilateral per pair of neighbouring sessions.
        let quads: Vec<Vec<Vec<(f64, f64)>>> = series
            .iter()
            .map(|pts| {
                pts.windows(2)
                    .filter(|w| band(&w[0]) && band(&w[1]))
                    .map(|w| {
                        let (a, b) = (w[0], w[1]);
                        vec![
                            (xs.map(a.session), ys.map(a.lower.min(a.upper))),
                            (xs.map(b.session), ys.map(b.lower.min(b.upper))),
                            (xs.map(b.session), ys.map(b.upper.max(b.lower))),
                            (xs.map(a.session), ys.map(a.upper.max(a.lower))),
                        ]
                    })
                    .collect()
            })
            .collect();
        let tints: Vec<RGBColor> = (0..series.len()).map(|i| tint(colour(i), TINT)).collect();
        for (i, qs) in quads.iter().enumerate() {
            for q in qs {
                c.polygon(q, tints[i])?;
            }
        }
        // Overlaps: every pair of bands, then every triple, each in the
        // product of its tints, drawn over the smaller sets.
        let mut layer: Vec<Patch> = quads
            .iter()
            .enumerate()
            .flat_map(|(i, qs)| {
                let colour = tints[i];
                qs.iter().map(move |q| Patch {
                    last: i,
                    poly: q.clone(),
                    colour,
                })
            })
            .collect();
        for _depth in 2..=series.len().min(3) {
            let mut next = Vec::new();
            for patch in &layer {
                for (j, qs) in quads.iter().enumerate().skip(patch.last + 1) {
                    for q in qs {
                        let poly = convex_intersection(&patch.poly, q);
                        if poly.len() >= 3 {
                            let colour = multiply(patch.colour, tints[j]);
                            c.polygon(&poly, colour)?;
                            next.push(Patch {
                                last: j,
                                poly,
                                colour,
                            });
                        }
                    }
                }
            }
            layer = next;
        }

        // Reference lines and their labels.
        for (v, label_base, text) in &lay.refs {
            let y = ys.map(*v);
            c.dashed((xs.p0, y), (xs.p1, y), palette::GREY, LINE_LW, 2.4, 1.8)?;
            c.text(
                text,
                xs.p1 + 4.0,
                *label_base,
                TextStyleSpec::new(SMALL_PT).color(palette::GREY),
            )?;
        }

        // A lone point (no band on either side) gets an error bar instead.
        for (i, pts) in series.iter().enumerate() {
            for (k, p) in pts.iter().enumerate() {
                let joined = |j: Option<usize>| {
                    j.and_then(|j| pts.get(j))
                        .is_some_and(|q: &TrajectoryPoint| band(q))
                };
                if band(p) && !joined(k.checked_sub(1)) && !joined(Some(k + 1)) {
                    let x = xs.map(p.session);
                    let (a, b) = (ys.map(p.lower), ys.map(p.upper));
                    c.line(&[(x, a), (x, b)], colour(i), LINE_LW)?;
                    for e in [a, b] {
                        c.line(&[(x - 2.0, e), (x + 2.0, e)], colour(i), LINE_LW)?;
                    }
                }
            }
        }

        // Lines, then markers on top.
        for (i, pts) in series.iter().enumerate() {
            let line: Vec<(f64, f64)> = pts
                .iter()
                .map(|p| (xs.map(p.session), ys.map(p.mean)))
                .collect();
            stroke_pattern(c, &line, colour(i), SERIES_LW, DASHES[i % DASHES.len()])?;
        }
        for (i, pts) in series.iter().enumerate() {
            for p in pts {
                marker(
                    c,
                    SHAPES[i % SHAPES.len()],
                    (xs.map(p.session), ys.map(p.mean)),
                    MARK_R,
                    colour(i),
                )?;
            }
        }

        // Legend.
        for item in &lay.legend {
            let yc = PAD + (item.row as f64 + 0.5) * LEGEND_PITCH;
            let i = item.series;
            stroke_pattern(
                c,
                &[(item.x, yc), (item.x + KEY_W, yc)],
                colour(i),
                SERIES_LW,
                DASHES[i % DASHES.len()],
            )?;
            marker(
                c,
                SHAPES[i % SHAPES.len()],
                (item.x + KEY_W / 2.0, yc),
                MARK_R,
                colour(i),
            )?;
            c.text(
                &item.text,
                item.x + KEY_W + 3.0,
                yc + CAP_HEIGHT * SMALL_PT / 2.0,
                TextStyleSpec::new(SMALL_PT),
            )?;
        }

        if !self.has_data() {
            c.text(
                NO_DATA,
                (xs.p0 + xs.p1) / 2.0,
                (ys.p0 + ys.p1) / 2.0 + CAP_HEIGHT * TEXT_PT / 2.0,
                TextStyleSpec::new(TEXT_PT)
                    .align(Align::Center)
                    .color(palette::GREY),
            )?;
        }

        // Axes last, over the bands' edges.
        y_axis(c, &ys, &lay.y_ticks, lay.y_digits, xs.p0, &self.y_label)?;
        x_axis(c, &xs, &lay.x_ticks, 0, ys.p0, &self.x_label)?;
        Ok(())
    }
}
