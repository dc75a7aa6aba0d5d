//! Caterpillar plot: ranked estimates with their intervals, one row per unit
//! (e.g. therapists' conditional modes from a mixed model), lowest at the
//! bottom, as lattice draws `dotplot(ranef(fit, condVar = TRUE))` for an lme4
//! fit (Bates, D., Mächler, M., Bolker, B., & Walker, S. (2015). Fitting
//! linear mixed-effects models using lme4. J Stat Softw 67(1), 1–48;
//! Sarkar, D. (2008). Lattice: Multivariate data visualization with R.
//! Springer).
//!
//! Ranked intervals invite reading the ranks as a league table; they should
//! not be: most intervals overlap, and two units differ only when their
//! intervals are far apart (Goldstein, H., & Healy, M. J. R. (1995). The
//! graphical presentation of a collection of means. J R Stat Soc A 158,
//! 175–177; Goldstein, H., & Spiegelhalter, D. J. (1996). League tables and
//! their limitations. J R Stat Soc A 159, 385–443). Units whose interval
//! excludes the reference value (usually 0, the average unit) are drawn in
//! vermillion and named in a one-line key.
//!
//! Up to 60 units get their labels on the left (shortened with an ellipsis
//! if needed); more get a numeric "Rank" axis instead. Rows are 9 pt apart
//! with labels; without labels they get closer (3 pt, down to under 1 pt for
//! hundreds of units) so the figure stays within a page.

use super::{
    fit_axis, fit_text, num, palette, text_width, tick_digits, x_axis_height, x_axis_lines, y_axis,
    y_axis_width, Align, Canvas, Chart, Scale, TextStyleSpec, AXIS_LW, CAP_HEIGHT, LINE_LW,
    SMALL_PT, TEXT_PT,
};
use crate::error::Result;
use plotters::prelude::{DrawingBackend, RGBColor};

/// One unit: its estimate and interval.
#[derive(Debug, Clone, PartialEq)]
pub struct CaterpillarItem {
    pub label: String,
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
}

/// A caterpillar plot.
#[derive(Debug, Clone, PartialEq)]
pub struct CaterpillarPlot {
    /// Units in any order; drawn ranked by estimate (ties by label).
    pub items: Vec<CaterpillarItem>,
    /// x-axis title, e.g. "Therapist effect (PHQ-9 points)".
    pub x_label: String,
    /// Position of the vertical reference line; units whose interval
    /// excludes it are highlighted. `None`: no line, no highlighting.
    pub reference: Option<f64>,
}

impl CaterpillarPlot {
    /// A plot with the reference line at 0.
    pub fn new(items: Vec<CaterpillarItem>, x_label: impl Into<String>) -> Self {
        CaterpillarPlot {
            items,
            x_label: x_label.into(),
            reference: Some(0.0),
        }
    }
}

/// Most units that get a row label; beyond this the y axis shows ranks.
pub const MAX_LABELLED: usize = 60;

const PAD: f64 = 4.0;
/// Row pitch with labels: 9 pt for 7 pt labels (1.29 × the font size).
const LABEL_PITCH: f64 = 9.0;
/// Largest pitch (few units), so a short plot does not look stretched.
const MAX_PITCH: f64 = 14.0;
/// Row pitch without labels, and the plot height it may not exceed.
const RANK_PITCH: f64 = 3.0;
const RANK_MIN_H: f64 = 180.0;
const RANK_MAX_H: f64 = 340.0;
/// Plot height when there is nothing to draw.
const EMPTY_H: f64 = 60.0;
const LEGEND_ROW: f64 = 1.6 * SMALL_PT;
const GUIDE: RGBColor = RGBColor(0xE4, 0xE4, 0xE4);

/// A usable unit: finite estimate; the interval only if both ends are finite.
struct Row<'a> {
    label: &'a str,
    estimate: f64,
    interval: Option<(f64, f64)>,
    excludes: bool,
}

struct Layout {
    labels: bool,
    x: Scale,
    x_ticks: Vec<f64>,
    x_digits: usize,
    /// Rank (0.5 … n + 0.5) to y points.
    y: Scale,
    y_ticks: Vec<f64>,
    label_w: f64,
    pitch: f64,
    /// The x title, wrapped to at most two lines.
    title: Vec<String>,
    axis_y: f64,
    /// Legend items (x of the key, row), baseline row 0 at `legend_top`.
    legend: Vec<(bool, String, f64, usize)>,
    legend_top: f64,
    height: f64,
}

/// A value for a legend: as few decimals as it needs (at most 3).
fn short_num(v: f64) -> String {
    num(v, tick_digits(v).min(3))
}

impl CaterpillarPlot {
    fn reference(&self) -> Option<f64> {
        self.reference.filter(|r| r.is_finite())
    }

    /// The drawable units, ranked: lowest estimate first (the bottom row).
    fn rows(&self) -> Vec<Row<'_>> {
        let refv = self.reference();
        let mut rows: Vec<Row<'_>> = self
            .items
            .iter()
            .filter(|i| i.estimate.is_finite())
            .map(|i| {
                let interval = (i.lower.is_finite() && i.upper.is_finite())
                    .then(|| (i.lower.min(i.upper), i.lower.max(i.upper)));
                let excludes = match (refv, interval) {
                    (Some(r), Some((a, b))) => a > r || b < r,
                    _ => false,
                };
                Row {
                    label: &i.label,
                    estimate: i.estimate,
                    interval,
                    excludes,
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            a.estimate
                .total_cmp(&b.estimate)
                .then_with(|| a.label.cmp(b.label))
        });
        rows
    }

    fn layout(&self, width: f64, rows: &[Row<'_>]) -> Layout {
        let n = rows.len();
        let labels = n <= MAX_LABELLED;
        let (pitch, plot_h) = if n == 0 {
            (EMPTY_H, EMPTY_H)
        } else if labels {
            let p = (90.0 / n as f64).clamp(LABEL_PITCH, MAX_PITCH);
            (p, p * n as f64)
        } else {
            let h = (RANK_PITCH * n as f64).clamp(RANK_MIN_H, RANK_MAX_H);
            (h / n as f64, h)
        };

        // Left margin: the row labels, or a rank axis.
        let (y_ticks, label_w, left) = if labels {
            let need = rows
                .iter()
                .map(|r| text_width(r.label, SMALL_PT, false))
                .fold(0.0, f64::max);
            let label_w = need.min(0.3 * width);
            let left = PAD + label_w + if label_w > 0.0 { 4.0 } else { 0.0 };
            (Vec::new(), label_w, left)
        } else {
            let (t, _) = super::nice_ticks(1.0, n as f64, 5);
            let mut t: Vec<f64> = t
                .into_iter()
                .filter(|&v| v >= 1.0 && v <= n as f64)
                .collect();
            // Rank 1 (the lowest) is labelled too, unless a tick is close.
            if t.first().is_none_or(|&f| f - 1.0 >= 0.4 * (n as f64 / 5.0)) {
                t.insert(0, 1.0);
            }
            let w = y_axis_width(&t, 0);
            (t, 0.0, PAD + w)
        };

        // x range: every interval, the estimates and the reference.
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut take = |v: f64| {
            lo = lo.min(v);
            hi = hi.max(v);
        };
        for r in rows {
            take(r.estimate);
            if let Some((a, b)) = r.interval {
                take(a);
                take(b);
            }
        }
        if let Some(r) = self.reference() {
            take(r);
        }
        if !lo.is_finite() {
            (lo, hi) = (-1.0, 1.0);
        }
        // Room for half of the first and last tick labels.
        let half_tick = text_width("\u{2212}0.00", SMALL_PT, false) / 2.0;
        let left = left.max(PAD + half_tick);
        let right = width - PAD - half_tick;
        let (d0, d1, x_ticks, x_digits) = fit_axis(lo, hi, left, right);
        let x = Scale::new(d0, d1, left, right);

        let top = PAD + CAP_HEIGHT * SMALL_PT / 2.0 + 1.0;
        let bottom = top + plot_h;
        let axis_y = bottom + 2.0;
        let y = Scale::new(0.5, n.max(1) as f64 + 0.5, bottom, top);

        // The title, centred under the axis: wrap rather than clip.
        let centre = (left + right) / 2.0;
        let title_w = 2.0 * (centre - PAD).min(width - PAD - centre);
        let title = super::wrap_text(&self.x_label, TEXT_PT, title_w, 2);
        let extra = (title.len().max(1) - 1) as f64 * 1.2 * TEXT_PT;

        // Legend: one line (wrapped if the figure is very narrow).
        let mut legend = Vec::new();
        let legend_top = axis_y + x_axis_height() + extra + 4.0;
        let mut height = axis_y + x_axis_height() + extra + PAD;
        if let (Some(r), true) = (self.reference(), n > 0) {
            let v = short_num(r);
            let items = [
                (true, format!("Interval excludes {v}")),
                (false, format!("Interval includes {v}")),
            ];
            let (mut cx, mut row) = (left, 0usize);
            for (ex, s) in items {
                let w = 12.0 + text_width(&s, SMALL_PT, false);
                if cx + w > width - PAD && cx > left {
                    cx = left;
                    row += 1;
                }
                legend.push((ex, s, cx, row));
                cx += w + 10.0;
            }
            height = legend_top + (row + 1) as f64 * LEGEND_ROW + PAD;
        }
        Layout {
            labels,
            x,
            x_ticks,
            x_digits,
            y,
            y_ticks,
            label_w,
            pitch,
            title,
            axis_y,
            legend,
            legend_top,
            height,
        }
    }
}

impl Chart for CaterpillarPlot {
    fn height_pt(&self, width_pt: f64) -> f64 {
        self.layout(width_pt, &self.rows()).height
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()> {
        let rows = self.rows();
        let lay = self.layout(c.width, &rows);
        let (xs, ys) = (lay.x, lay.y);
        let (l, r) = (xs.p0, xs.p1);
        let (top, bottom) = (ys.p1, ys.p0);
        let small = TextStyleSpec::new(SMALL_PT);
        // Marks scale with the row pitch, so dense rows do not merge.
        let radius = (0.4 * lay.pitch).clamp(0.45, 1.6);
        let lw = (0.45 * lay.pitch).clamp(0.25, LINE_LW);

        // Light guide lines tie each label to its row.
        if lay.labels {
            for i in 0..rows.len() {
                let y = ys.map(i as f64 + 1.0);
                c.line(&[(l, y), (r, y)], GUIDE, 0.4)?;
            }
        }

        // Reference line, behind the intervals.
        if let (Some(v), false) = (self.reference(), rows.is_empty()) {
            if v >= xs.d0 && v <= xs.d1 {
                let x = xs.map(v);
                c.dashed((x, top), (x, lay.axis_y), palette::GREY, LINE_LW, 2.5, 1.5)?;
            }
        }

        for (i, row) in rows.iter().enumerate() {
            let y = ys.map(i as f64 + 1.0);
            let col = if row.excludes {
                palette::VERMILLION
            } else {
                palette::BLACK
            };
            if let Some((a, b)) = row.interval {
                c.line(&[(xs.map(a), y), (xs.map(b), y)], col, lw)?;
            }
            c.circle((xs.map(row.estimate), y), radius, Some(col), (col, 0.0))?;
            if lay.labels && lay.label_w > 0.0 {
                c.text(
                    &fit_text(row.label, SMALL_PT, false, lay.label_w),
                    l - 4.0,
                    y + CAP_HEIGHT * SMALL_PT / 2.0,
                    small.align(Align::Right),
                )?;
            }
        }

        // Axes: y (a line, or ranks), x with its (wrapped) title.
        c.line(&[(l, top), (l, lay.axis_y)], palette::BLACK, AXIS_LW)?;
        if !lay.labels {
            y_axis(c, &ys, &lay.y_ticks, 0, l, "Rank")?;
        }
        x_axis_lines(c, &xs, &lay.x_ticks, lay.x_digits, lay.axis_y, &lay.title)?;

        if rows.is_empty() {
            c.text(
                "No data",
                (l + r) / 2.0,
                (top + bottom) / 2.0 + CAP_HEIGHT * TEXT_PT / 2.0,
                TextStyleSpec::new(TEXT_PT)
                    .align(Align::Center)
                    .color(palette::GREY),
            )?;
        }

        // Key: a dot on a short interval line.
        for (ex, label, x, row) in &lay.legend {
            let yc = lay.legend_top + (*row as f64 + 0.5) * LEGEND_ROW;
            let col = if *ex {
                palette::VERMILLION
            } else {
                palette::BLACK
            };
            c.line(&[(*x, yc), (x + 9.0, yc)], col, LINE_LW)?;
            c.circle((x + 4.5, yc), 1.6, Some(col), (col, 0.0))?;
            c.text(label, x + 12.0, yc + CAP_HEIGHT * SMALL_PT / 2.0, small)?;
        }
        Ok(())
    }
}
