//! Funnel plot for comparing the rates of therapists or services
//! (Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional
//! performance. Statistics in Medicine 24, 1185–1202).
//!
//! x: the number of clients a unit saw (n); y: its rate (events / n) in
//! percent. A horizontal line marks the target (a benchmark, or the pooled
//! rate Σ events / Σ n), and control limits around it fan out as n falls:
//! 95% limits (about 2 SD) dashed, 99.8% limits (about 3 SD) solid. The
//! limits are exact binomial quantiles made continuous in n by
//! Spiegelhalter's (2005, Appendix A.1.1) interpolation, see
//! [`binomial_limit`]. A unit outside the 99.8% limits is drawn in colour
//! (bluish green above the target, vermillion below) and can be labelled.
//!
//! Units with n = 0 or with more events than clients are left out.

use super::trajectories::stroke_pattern;
use super::{
    fit_axis, fit_text, num, palette, text_width, tight_axis, x_axis, x_axis_height,
    y_axis_width_with, y_axis_with, Align, Canvas, Chart, Scale, TextStyleSpec, CAP_HEIGHT,
    LINE_LW, SMALL_PT, TEXT_PT,
};
use crate::error::Result;
use plotters::prelude::{DrawingBackend, RGBColor};
use statrs::distribution::{Binomial, DiscreteCDF};

/// One therapist or service: `events` (e.g. recovered clients) out of `n`.
#[derive(Debug, Clone, PartialEq)]
pub struct RateUnit {
    pub label: String,
    pub n: usize,
    pub events: usize,
}

/// Which side of the control limits a unit falls on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outside {
    Above,
    Below,
}

/// A funnel plot of rates.
#[derive(Debug, Clone, PartialEq)]
pub struct RatesFunnelPlot {
    pub units: Vec<RateUnit>,
    /// Benchmark rate in [0, 1]; `None`: the pooled rate Σ events / Σ n.
    pub target: Option<f64>,
    /// x-axis title, e.g. "Clients with a completed course (n)".
    pub x_label: String,
    /// y-axis title, e.g. "Recovery rate".
    pub y_label: String,
    /// Write the labels of units outside the 99.8% limits.
    pub label_outliers: bool,
}

impl RatesFunnelPlot {
    /// A plot against the pooled rate, without labels.
    pub fn new(
        units: Vec<RateUnit>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        RatesFunnelPlot {
            units,
            target: None,
            x_label: x_label.into(),
            y_label: y_label.into(),
            label_outliers: false,
        }
    }

    /// Units that can be drawn: n > 0 and events ≤ n.
    fn valid(&self) -> impl Iterator<Item = (usize, &RateUnit)> {
        self.units
            .iter()
            .enumerate()
            .filter(|(_, u)| u.n > 0 && u.events <= u.n)
    }

    /// The target rate: the benchmark if it is given and in [0, 1], else the
    /// pooled rate Σ events / Σ n over the drawable units (NaN if none).
    pub fn target_rate(&self) -> f64 {
        if let Some(t) = self.target.filter(|t| (0.0..=1.0).contains(t)) {
            return t;
        }
        let (events, n) = self.valid().fold((0.0, 0.0), |(e, n), (_, u)| {
            (e + u.events as f64, n + u.n as f64)
        });
        if n > 0.0 {
            events / n
        } else {
            f64::NAN
        }
    }

    /// Units outside the 99.8% limits (index into `units`, side)
    pub fn outside(&self) -> Vec<(usize, Outside)> {
        let t = self.target_rate();
        if !t.is_finite() {
            return Vec::new();
        }
        self.valid()
            .filter_map(|(i, u)| {
                let rate = u.events as f64 / u.n as f64;
                if rate > binomial_limit(t, u.n, P998.1) {
                    Some((i, Outside::Above))
                } else if rate < binomial_limit(t, u.n, P998.0) {
                    Some((i, Outside::Below))
                } else {
                    None
                }
            })
            .collect()
    }
}

/// Lower and upper tail probabilities of the two-sided 95% and 99.8% limits.
const P95: (f64, f64) = (0.025, 0.975);
const P998: (f64, f64) = (0.001, 0.999);

/// Exact binomial control limit for proportion `p` at n, with Spiegelhalter's (2005, Appendix A.1.1) interpolation: r_p = the p-quantile of Bin(n, θ0); α = (F(r_p) − p) / (F(r_p) − F(r_p − 1)); limit = (r_p − α) / n.
///
/// r_p is the smallest r with F(r) ≥ p. The limit is clamped to [0, 1];
/// θ0 ≤ 0 gives 0 and θ0 ≥ 1 gives 1 (no spread); p ≤ 0 gives 0 and p ≥ 1
/// gives 1; n = 0 or a non-finite θ0 or p gives NaN (no limit).
pub fn binomial_limit(theta0: f64, n: usize, p: f64) -> f64 {
    if n == 0 || !theta0.is_finite() || !p.is_finite() {
        return f64::NAN;
    }
    if theta0 <= 0.0 || p <= 0.0 {
        return 0.0;
    }
    if theta0 >= 1.0 || p >= 1.0 {
        return 1.0;
    }
    let Ok(dist) = Binomial::new(theta0, n as u64) else {
        return f64::NAN;
    };
    // Bisection for r_p on 0..=n (F(n) = 1 ≥ p).
    let (mut lo, mut hi) = (0u64, n as u64);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if dist.cdf(mid) >= p {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let r = lo;
    let f_r = dist.cdf(r);
    let f_below = if r == 0 { 0.0 } else { dist.cdf(r - 1) };
    let alpha = if f_r > f_below {
        (f_r - p) / (f_r - f_below)
    } else {
        0.0
    };
    ((r as f64 - alpha) / n as f64).clamp(0.0, 1.0)
}

// -------------------------------------------------------------- layout ---

const PAD: f64 = 4.0;
const ASPECT: f64 = 0.62;
const MAX_PLOT_H: f64 = 320.0;
const DOT_R: f64 = 1.5;
const FLAG_R: f64 = 2.1;
const TARGET_LW: f64 = 0.9;
const DASH: [f64; 2] = [3.0, 1.8];
const KEY_W: f64 = 12.0;
/// Space between legend entries.
const KEY_GAP: f64 = 8.0;
const LEGEND_PITCH: f64 = 1.5 * SMALL_PT;
/// Longest outlier label, in points.
const LABEL_MAX: f64 = 70.0;
const NO_DATA: &str = "No data";

const ABOVE: RGBColor = palette::BLUISH_GREEN;
const BELOW: RGBColor = palette::VERMILLION;

#[derive(Debug, Clone, Copy)]
enum Key {
    Target,
    Dashed,
    Solid,
    Dot(RGBColor),
}

struct Layout {
    x: Scale,
    y: Scale,
    x_ticks: Vec<f64>,
    x_digits: usize,
    y_ticks: Vec<f64>,
    y_digits: usize,
    legend: Vec<(Key, String, f64, usize)>,
    legend_top: f64,
    height: f64,
}

fn pct(v: f64, digits: usize) -> String {
    format!("{}%", num(v, digits))
}

impl RatesFunnelPlot {
    /// Rates in percent and limits for the y range.
    fn y_range(&self, t: f64) -> (f64, f64) {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        let mut take = |v: f64| {
            if v.is_finite() {
                lo = lo.min(100.0 * v);
                hi = hi.max(100.0 * v);
            }
        };
        let mut n_min = usize::MAX;
        for (_, u) in self.valid() {
            take(u.events as f64 / u.n as f64);
            n_min = n_min.min(u.n);
        }
        if t.is_finite() && n_min < usize::MAX {
            take(t);
            take(binomial_limit(t, n_min, P998.0));
            take(binomial_limit(t, n_min, P998.1));
        }
        if lo > hi {
            return (0.0, 100.0);
        }
        // The full 0–100% scale unless everything sits well inside it.
        if lo < 15.0 {
            lo = 0.0;
        }
        if hi > 85.0 {
            hi = 100.0;
        }
        if hi - lo < 5.0 {
            let m = (hi + lo) / 2.0;
            lo = (m - 2.5).max(0.0);
            hi = (lo + 5.0).min(100.0);
        }
        (lo, hi)
    }

    fn x_range(&self) -> (f64, f64) {
        let ns = self.valid().map(|(_, u)| u.n as f64);
        let (lo, hi) = ns.fold((f64::INFINITY, 0.0f64), |(a, b), n| (a.min(n), b.max(n)));
        if lo > hi {
            return (0.0, 100.0);
        }
        // From 0, unless the smallest unit is large: then a little below it.
        let lo = if lo <= 0.3 * hi {
            0.0
        } else {
            (lo - 0.05 * (hi - lo)).max(0.0)
        };
        (lo, hi)
    }

    fn layout(&self, width: f64) -> Layout {
        let t = self.target_rate();
        let (ylo, yhi) = self.y_range(t);
        let (t0, t1, y_ticks, y_digits) = tight_axis(ylo, yhi, 5);
        let (t0, t1) = (t0.max(0.0), t1.min(100.0));
        let y_ticks: Vec<f64> = y_ticks
            .into_iter()
            .filter(|&v| v >= t0 - 1e-9 && v <= t1 + 1e-9)
            .collect();
        // A little air beyond the ticks, so points at 0% or 100% clear the
        // x axis and the top.
        let air = 0.03 * (t1 - t0);

        let left = PAD + y_axis_width_with(&y_ticks, |v| pct(v, y_digits));
        let (xlo, xhi) = self.x_range();
        let right = width - PAD - text_width(&num(xhi.max(100.0), 0), SMALL_PT, false) / 2.0;
        let (d0, d1, x_ticks, x_digits) = fit_axis(xlo, xhi, left, right);
        let d0 = d0.max(0.0);
        let x_ticks: Vec<f64> = x_ticks.into_iter().filter(|&v| v >= d0 - 1e-9).collect();

        let top = PAD + CAP_HEIGHT * SMALL_PT / 2.0 + 1.0;
        let bottom = top + (ASPECT * (right - left)).min(MAX_PLOT_H);
        let x = Scale::new(d0, d1, left, right);
        let y = Scale::new(t0 - air, t1 + air, bottom, top);

        // Legend below the x axis, wrapped to the width.
        let outside = self.outside();
        let target_text = match self.target.filter(|v| (0.0..=1.0).contains(v)) {
            Some(_) => format!("Target rate ({})", pct(100.0 * t, 1)),
            None if t.is_finite() => format!("Overall rate ({})", pct(100.0 * t, 1)),
            None => "Overall rate".to_string(),
        };
        let mut items = vec![
            (Key::Target, target_text),
            (Key::Dashed, "95% limits".to_string()),
            (Key::Solid, "99.8% limits".to_string()),
            (Key::Dot(palette::GREY), "Within 99.8% limits".to_string()),
        ];
        if outside.iter().any(|o| o.1 == Outside::Above) {
            items.push((Key::Dot(ABOVE), "Above 99.8% limit".to_string()));
        }
        if outside.iter().any(|o| o.1 == Outside::Below) {
            items.push((Key::Dot(BELOW), "Below 99.8% limit".to_string()));
        }
        if self.valid().next().is_none() {
            items.clear();
        }
        // One row if the entries fit side by side, else a grid of equal
        // columns, as many as fit.
        let widths: Vec<f64> = items
            .iter()
            .map(|(_, s)| KEY_W + 3.0 + text_width(s, SMALL_PT, false) + KEY_GAP)
            .collect();
        let avail = width - PAD - left + KEY_GAP;
        let legend: Vec<(Key, String, f64, usize)> = if widths.iter().sum::<f64>() <= avail {
            let mut x = left;
            items
                .into_iter()
                .zip(&widths)
                .map(|((key, s), w)| {
                    x += w;
                    (key, s, x - w, 0)
                })
                .collect()
        } else {
            let col_w = widths.iter().copied().fold(1.0, f64::max);
            let cols = ((avail / col_w).floor() as usize).max(1);
            items
                .into_iter()
                .enumerate()
                .map(|(k, (key, s))| (key, s, left + (k % cols) as f64 * col_w, k / cols))
                .collect()
        };
        let rows = legend.last().map_or(0, |l| l.3 + 1);
        let legend_top = bottom + x_axis_height() + 3.0;
        Layout {
            x,
            y,
            x_ticks,
            x_digits,
            y_ticks,
            y_digits,
            legend,
            legend_top,
            height: legend_top + rows as f64 * LEGEND_PITCH + PAD,
        }
    }
}

/// The parts of a polyline with y (points) inside [y_min, y_max], each
/// segment cut where it crosses a bound.
fn clip_vertical(pts: &[(f64, f64)], y_min: f64, y_max: f64) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut open = false;
    for seg in pts.windows(2) {
        let (a, b) = (seg[0], seg[1]);
        let at = |t: f64| (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
        let (t_in, t_out) = if (b.1 - a.1).abs() < 1e-12 {
            if a.1 >= y_min && a.1 <= y_max {
                (0.0, 1.0)
            } else {
                (1.0, 0.0)
            }
        } else {
            let ta = (y_min - a.1) / (b.1 - a.1);
            let tb = (y_max - a.1) / (b.1 - a.1);
            (ta.min(tb).max(0.0), ta.max(tb).min(1.0))
        };
        if t_in > t_out {
            open = false;
            continue;
        }
        if !(open && t_in == 0.0) {
            runs.push(vec![at(t_in)]);
        }
        if let Some(run) = runs.last_mut() {
            run.push(at(t_out));
        }
        open = t_out == 1.0;
    }
    runs
}

/// A text box: left, top, right, bottom in points.
type TextBox = (f64, f64, f64, f64);

fn overlaps(a: &TextBox, b: &TextBox) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// Distance from a point to a box (0 inside it).
fn distance(b: &TextBox, (x, y): (f64, f64)) -> f64 {
    let dx = (b.0 - x).max(x - b.2).max(0.0);
    let dy = (b.1 - y).max(y - b.3).max(0.0);
    dx.hypot(dy)
}

impl Chart for RatesFunnelPlot {
    fn height_pt(&self, width_pt: f64) -> f64 {
        self.layout(width_pt).height
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()> {
        let lay = self.layout(c.width);
        let (xs, ys) = (lay.x, lay.y);
        let (l, r, t, b) = (xs.p0, xs.p1, ys.p1, ys.p0);
        let theta = self.target_rate();

        // Control limits, evaluated at whole n across the axis (at most a
        // few hundred of them), then the target line.
        if theta.is_finite() {
            let n0 = xs.d0.ceil().max(1.0);
            let n1 = xs.d1.floor();
            if n1 >= n0 {
                let count = ((n1 - n0) as usize + 1).min(400);
                let mut ns: Vec<usize> = (0..count)
                    .map(|k| {
                        let f = if count > 1 {
                            k as f64 / (count - 1) as f64
                        } else {
                            0.0
                        };
                        (n0 + f * (n1 - n0)).round() as usize
                    })
                    .collect();
                ns.dedup();
                let curve = |p: f64| -> Vec<(f64, f64)> {
                    ns.iter()
                        .map(|&n| {
                            (
                                xs.map(n as f64),
                                ys.map(100.0 * binomial_limit(theta, n, p)),
                            )
                        })
                        .collect()
                };
                for (p, dashed) in [
                    (P95.0, true),
                    (P95.1, true),
                    (P998.0, false),
                    (P998.1, false),
                ] {
                    for run in clip_vertical(&curve(p), t, b) {
                        if dashed {
                            stroke_pattern(c, &run, palette::GREY, LINE_LW, &DASH)?;
                        } else {
                            c.line(&run, palette::GREY, LINE_LW)?;
                        }
                    }
                }
            }
            let y = ys.map(100.0 * theta);
            c.line(&[(l, y), (r, y)], palette::BLACK, TARGET_LW)?;
        }

        // Units: those within the limits first, flagged ones on top.
        let outside = self.outside();
        let side_of = |i: usize| outside.iter().find(|o| o.0 == i).map(|o| o.1);
        let pos = |u: &RateUnit| {
            (
                xs.map(u.n as f64),
                ys.map(100.0 * u.events as f64 / u.n as f64),
            )
        };
        for (_, u) in self.valid().filter(|(i, _)| side_of(*i).is_none()) {
            c.circle(pos(u), DOT_R, Some(palette::GREY), (palette::GREY, 0.0))?;
        }
        for &(i, side) in &outside {
            let col = if side == Outside::Above { ABOVE } else { BELOW };
            c.circle(pos(&self.units[i]), FLAG_R, Some(col), (col, 0.0))?;
        }

        if self.label_outliers {
            self.label_units(c, &lay, &outside)?;
        }

        if self.valid().next().is_none() {
            c.text(
                NO_DATA,
                (l + r) / 2.0,
                (t + b) / 2.0 + CAP_HEIGHT * TEXT_PT / 2.0,
                TextStyleSpec::new(TEXT_PT)
                    .align(Align::Center)
                    .color(palette::GREY),
            )?;
        }

        // Axes: y with percent labels, then x.
        let digits = lay.y_digits;
        y_axis_with(c, &ys, &lay.y_ticks, |v| pct(v, digits), l, &self.y_label)?;
        x_axis(c, &xs, &lay.x_ticks, lay.x_digits, b, &self.x_label)?;

        // Legend.
        let small = TextStyleSpec::new(SMALL_PT);
        for (key, text, x, row) in &lay.legend {
            let yc = lay.legend_top + (*row as f64 + 0.5) * LEGEND_PITCH;
            let (x0, x1) = (*x, x + KEY_W);
            match key {
                Key::Target => c.line(&[(x0, yc), (x1, yc)], palette::BLACK, TARGET_LW)?,
                Key::Solid => c.line(&[(x0, yc), (x1, yc)], palette::GREY, LINE_LW)?,
                Key::Dashed => {
                    stroke_pattern(c, &[(x0, yc), (x1, yc)], palette::GREY, LINE_LW, &DASH)?
                }
                Key::Dot(col) => {
                    let rad = if *col == palette::GREY { DOT_R } else { FLAG_R };
                    c.circle(((x0 + x1) / 2.0, yc), rad, Some(*col), (*col, 0.0))?
                }
            }
            c.text(text, x1 + 3.0, yc + CAP_HEIGHT * SMALL_PT / 2.0, small)?;
        }
        Ok(())
    }
}

impl RatesFunnelPlot {
    /// Labels the flagged units next to their points: the first of eight
    /// positions around the point (right of it, then away from the target,
    /// then left, then toward the target) that stays inside the plot, clears
    /// the flagged points and the labels already placed, sits nearer its own
    /// point than any other flagged one, and covers the fewest other points.
    /// A label with no such position is left out rather than overlap.
    fn label_units<DB: DrawingBackend>(
        &self,
        c: &Canvas<'_, DB>,
        lay: &Layout,
        outside: &[(usize, Outside)],
    ) -> Result<()> {
        let (xs, ys) = (lay.x, lay.y);
        let fs = SMALL_PT;
        let ascent = CAP_HEIGHT * fs;
        let descent = 0.22 * fs;
        let at = |u: &RateUnit| {
            (
                xs.map(u.n as f64),
                ys.map(100.0 * u.events as f64 / u.n as f64),
            )
        };
        let points: Vec<(f64, f64)> = self.valid().map(|(_, u)| at(u)).collect();
        let flagged: Vec<(f64, f64)> = outside.iter().map(|&(i, _)| at(&self.units[i])).collect();
        let mut placed: Vec<TextBox> = flagged
            .iter()
            .map(|&(qx, qy)| (qx - FLAG_R, qy - FLAG_R, qx + FLAG_R, qy + FLAG_R))
            .collect();

        // Most extreme first (by the normal-approximation z): they get the
        // best positions.
        let th = self.target_rate();
        let z = |u: &RateUnit| {
            let rate = u.events as f64 / u.n as f64;
            ((rate - th) / (th * (1.0 - th) / u.n as f64).sqrt().max(1e-12)).abs()
        };
        let mut order = outside.to_vec();
        order.sort_by(|a, b| z(&self.units[b.0]).total_cmp(&z(&self.units[a.0])));

        for (i, side) in order {
            let u = &self.units[i];
            let text = fit_text(&u.label, fs, false, LABEL_MAX);
            let w = text_width(&text, fs, false);
            let (px, py) = at(u);
            let g = FLAG_R + 1.5;
            let up = py - g;
            let down = py + g + ascent;
            let (far, near) = if side == Outside::Above {
                (up, down)
            } else {
                (down, up)
            };
            let mid = py + ascent / 2.0;
            // Candidates: (left edge, baseline).
            let candidates = [
                (px + g, mid),
                (px - w / 2.0, far),
                (px + 0.5 * g, far),
                (px - 0.5 * g - w, far),
                (px - g - w, mid),
                (px + 0.5 * g, near),
                (px - 0.5 * g - w, near),
                (px - w / 2.0, near),
            ];
            let mut best: Option<(usize, TextBox)> = None;
            for (x0, base) in candidates {
                let bx: TextBox = (x0, base - ascent, x0 + w, base + descent);
                let inside = bx.0 >= xs.p0 + 1.0
                    && bx.2 <= xs.p1
                    && bx.1 >= ys.p1 - 2.0
                    && bx.3 <= ys.p0 - 1.0;
                if !inside || placed.iter().any(|p| overlaps(p, &bx)) {
                    continue;
                }
                let own = distance(&bx, (px, py));
                if flagged
                    .iter()
                    .any(|&q| q != (px, py) && distance(&bx, q) <= own)
                {
                    continue;
                }
                let covered = points
                    .iter()
                    .filter(|&&(qx, qy)| {
                        overlaps(&bx, &(qx - DOT_R, qy - DOT_R, qx + DOT_R, qy + DOT_R))
                    })
                    .count();
                if best.is_none_or(|(c0, _)| covered < c0) {
                    best = Some((covered, bx));
                }
                if covered == 0 {
                    break;
                }
            }
            if let Some((_, bx)) = best {
                c.text(&text, bx.0, bx.1 + ascent, TextStyleSpec::new(fs))?;
                placed.push(bx);
            }
        }
        Ok(())
    }
}
