//! Forest plot: one row per study (square at the estimate, area proportional
//! to its weight, line for its confidence interval), optional subgroup
//! headings, the pooled estimate as a diamond spanning its confidence
//! interval, an optional prediction interval as a line through the diamond,
//! and right-hand columns "estimate [95% CI]" and "weight" (layout after
//! Lewis, S., & Clarke, M. (2001). Forest plots: trying to see the wood and
//! the trees. BMJ 322, 1479–1480).
//!
//! Rows are a fixed multiple of the font size, so any number of studies
//! (the Metapsy database has ~900) stays legible; the figure grows taller.

use super::{
    fit_axis, num, palette, x_axis, x_axis_height, Align, Canvas, Chart, Scale, TextStyleSpec,
    CAP_HEIGHT, LINE_LW,
};
use crate::error::Result;
use plotters::prelude::DrawingBackend;

/// One study.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestRow {
    pub label: String,
    pub estimate: f64,
    /// Confidence interval bounds (the caller's level, usually 95%).
    pub ci_lb: f64,
    pub ci_ub: f64,
    /// Weight in percent; sets the square's area. Non-finite: no square.
    pub weight: f64,
}

/// A line of the plot: a subgroup heading or a study.
#[derive(Debug, Clone, PartialEq)]
pub enum ForestLine {
    Heading(String),
    Study(ForestRow),
}

/// The pooled estimate, drawn as a diamond.
#[derive(Debug, Clone, PartialEq)]
pub struct Diamond {
    /// Row label, e.g. "Random-effects model".
    pub label: String,
    pub estimate: f64,
    pub ci_lb: f64,
    pub ci_ub: f64,
}

/// A forest plot.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestPlot {
    pub lines: Vec<ForestLine>,
    pub pooled: Diamond,
    /// Prediction interval (lower, upper), drawn through the diamond.
    pub prediction: Option<(f64, f64)>,
    /// x-axis title, e.g. "Hedges' g".
    pub x_label: String,
    /// Heading of the label column, e.g. "Study".
    pub study_header: String,
    /// Position of the vertical reference line (0 for differences, log ratios).
    pub null_value: f64,
    /// Fixed axis limits; intervals beyond them end in an arrow. `None`: the
    /// axis covers every interval.
    pub x_limits: Option<(f64, f64)>,
}

impl ForestPlot {
    /// A plot with the usual defaults: header "Study", reference line at 0.
    pub fn new(lines: Vec<ForestLine>, pooled: Diamond, x_label: impl Into<String>) -> Self {
        ForestPlot {
            lines,
            pooled,
            prediction: None,
            x_label: x_label.into(),
            study_header: "Study".to_string(),
            null_value: 0.0,
            x_limits: None,
        }
    }
}

/// Table text size (points): the 7 pt minimum in a single column, 8 pt when
/// wider.
fn table_pt(width: f64) -> f64 {
    if width < 400.0 {
        7.0
    } else {
        8.0
    }
}
/// Row height: 1.4 × the font size, so labels never touch.
const ROW_EM: f64 = 1.4;
const PAD: f64 = 4.0;
const GAP: f64 = 5.0;
const DIGITS: usize = 2;

fn weight_text(w: f64) -> String {
    if !w.is_finite() {
        String::new()
    } else if w > 0.0 && w < 0.005 {
        "<0.01%".to_string()
    } else {
        // Two decimals below 1%, so hundreds of small weights still differ.
        format!("{}%", num(w, if w < 1.0 { 2 } else { 1 }))
    }
}

/// The three parts of "estimate [lb, ub]", set in aligned sub-columns.
fn ci_parts(est: f64, lb: f64, ub: f64) -> [String; 3] {
    [
        num(est, DIGITS),
        format!("[{},", num(lb, DIGITS)),
        format!("{}]", num(ub, DIGITS)),
    ]
}

struct Layout {
    label_x: f64,
    label_w: f64,
    /// Right edges of the estimate, "[lb," and "ub]" sub-columns.
    ci_cols: [f64; 3],
    /// Width of the estimate [CI] column.
    ci_w: f64,
    weight_right: f64,
    scale: Scale,
    ticks: Vec<f64>,
    digits: usize,
}

impl ForestPlot {
    fn rows(&self) -> impl Iterator<Item = &ForestRow> {
        self.lines.iter().filter_map(|l| match l {
            ForestLine::Study(r) => Some(r),
            ForestLine::Heading(_) => None,
        })
    }

    fn has_headings(&self) -> bool {
        self.lines
            .iter()
            .any(|l| matches!(l, ForestLine::Heading(_)))
    }

    fn layout(&self, width: f64) -> Layout {
        let fs = table_pt(width);
        let tw = |s: &str, bold: bool| super::text_width(s, fs, bold);
        let indent = if self.has_headings() { 5.0 } else { 0.0 };
        // Label column: as wide as the longest label, at most a third.
        let mut label_need = tw(&self.study_header, true)
            .max(tw(&self.pooled.label, true))
            .max(if self.prediction.is_some() {
                tw("Prediction interval", false)
            } else {
                0.0
            });
        // Headings are left out: their rows have no marks, so they may run
        // on across the plot.
        for r in self.rows() {
            label_need = label_need.max(indent + tw(&r.label, false));
        }
        // Right-hand columns.
        let mut cw = [0.0f64; 3];
        let mut measure = |p: &[String; 3], bold: bool| {
            for (i, s) in p.iter().enumerate() {
                cw[i] = cw[i].max(tw(s, bold));
            }
        };
        for r in self.rows() {
            measure(&ci_parts(r.estimate, r.ci_lb, r.ci_ub), false);
        }
        let d = &self.pooled;
        measure(&ci_parts(d.estimate, d.ci_lb, d.ci_ub), true);
        if let Some((a, b)) = self.prediction {
            measure(
                &[
                    String::new(),
                    format!("[{},", num(a, DIGITS)),
                    format!("{}]", num(b, DIGITS)),
                ],
                false,
            );
        }
        let space = tw(" ", false);
        let ci_w = (cw[0] + space + cw[1] + space + cw[2]).max(tw("Estimate [95% CI]", true));
        let weight_w = tw("Weight", true).max(tw("100.0%", false));
        let right_w = ci_w + GAP + weight_w;
        // The plot gets at least a quarter of the width; labels give way.
        let avail = width - 2.0 * PAD - right_w - 2.0 * GAP;
        let label_w = label_need
            .min(avail - (0.25 * width).min(avail * 0.5))
            .max(20.0);
        let plot = (PAD + label_w + GAP, width - PAD - right_w - GAP);

        let weight_right = width - PAD;
        let ci_right = weight_right - weight_w - GAP;
        let ci_cols = [
            ci_right - cw[2] - space - cw[1] - space,
            ci_right - cw[2] - space,
            ci_right,
        ];

        // Axis range.
        let (lo, hi) = match self.x_limits {
            Some((a, b)) if b > a => (a, b),
            _ => {
                let mut lo = self.null_value;
                let mut hi = self.null_value;
                let mut take = |v: f64| {
                    if v.is_finite() {
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                };
                for r in self.rows() {
                    take(r.ci_lb);
                    take(r.ci_ub);
                    take(r.estimate);
                }
                take(d.ci_lb);
                take(d.ci_ub);
                if let Some((a, b)) = self.prediction {
                    take(a);
                    take(b);
                }
                (lo, hi)
            }
        };
        let (mut d0, mut d1, mut ticks, digits) = fit_axis(lo, hi, plot.0, plot.1);
        if self.x_limits.is_some() {
            (d0, d1) = (lo, hi);
            ticks.retain(|&t| t >= lo - 1e-9 && t <= hi + 1e-9);
        }
        Layout {
            label_x: PAD,
            label_w,
            ci_cols,
            ci_w,
            weight_right,
            scale: Scale::new(d0, d1, plot.0, plot.1),
            ticks,
            digits,
        }
    }

    fn body_rows(&self) -> f64 {
        // Header, lines, a half-row gap, pooled, prediction.
        1.0 + self.lines.len() as f64
            + 0.5
            + 1.0
            + if self.prediction.is_some() { 1.0 } else { 0.0 }
    }
}

impl Chart for ForestPlot {
    fn height_pt(&self, width_pt: f64) -> f64 {
        PAD + self.body_rows() * ROW_EM * table_pt(width_pt) + 3.0 + x_axis_height() + PAD
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()> {
        let lay = self.layout(c.width);
        let fs = table_pt(c.width);
        let row_h = ROW_EM * fs;
        let sc = lay.scale;
        let (d0, d1) = (sc.d0, sc.d1);
        let clamp_x = |v: f64| sc.map(v.clamp(d0, d1));
        let text = TextStyleSpec::new(fs);
        let bold = text.bold();
        let baseline = |row: f64| PAD + row * row_h + row_h / 2.0 + CAP_HEIGHT * fs / 2.0;
        let centre = |row: f64| PAD + row * row_h + row_h / 2.0;
        let indent = if self.has_headings() { 5.0 } else { 0.0 };
        let fit = |s: &str, b: bool, w: f64| super::fit_text(s, fs, b, w);

        // Header.
        c.text(
            &fit(&self.study_header, true, lay.label_w),
            lay.label_x,
            baseline(0.0),
            bold,
        )?;
        c.text(
            "Estimate [95% CI]",
            lay.ci_cols[2],
            baseline(0.0),
            bold.align(Align::Right),
        )?;
        c.text(
            "Weight",
            lay.weight_right,
            baseline(0.0),
            bold.align(Align::Right),
        )?;

        let n = self.lines.len() as f64;
        let pooled_row = 1.0 + n + 0.5;
        let axis_y = PAD + self.body_rows() * row_h + 3.0;

        // Reference line, behind everything, broken where a heading runs
        // across it.
        let heading_w = lay.ci_cols[2] - lay.ci_w - GAP - lay.label_x;
        if self.null_value >= d0 && self.null_value <= d1 {
            let x = sc.map(self.null_value);
            let mut top = PAD + row_h;
            for (i, line) in self.lines.iter().enumerate() {
                if let ForestLine::Heading(h) = line {
                    let w = super::text_width(&fit(h, true, heading_w), fs, true);
                    if lay.label_x + w + 2.0 >= x {
                        let row_top = PAD + (1.0 + i as f64) * row_h;
                        if row_top > top {
                            c.line(&[(x, top), (x, row_top)], palette::GREY, LINE_LW)?;
                        }
                        top = row_top + row_h;
                    }
                }
            }
            c.line(&[(x, top), (x, axis_y)], palette::GREY, LINE_LW)?;
        }

        let max_w = self
            .rows()
            .map(|r| r.weight)
            .filter(|w| w.is_finite() && *w > 0.0)
            .fold(0.0f64, f64::max);
        let max_side = 0.85 * row_h;
        for (i, line) in self.lines.iter().enumerate() {
            let row = 1.0 + i as f64;
            match line {
                ForestLine::Heading(h) => {
                    c.text(&fit(h, true, heading_w), lay.label_x, baseline(row), bold)?;
                }
                ForestLine::Study(r) => {
                    c.text(
                        &fit(&r.label, false, lay.label_w - indent),
                        lay.label_x + indent,
                        baseline(row),
                        text,
                    )?;
                    let parts = ci_parts(r.estimate, r.ci_lb, r.ci_ub);
                    for (k, p) in parts.iter().enumerate() {
                        c.text(p, lay.ci_cols[k], baseline(row), text.align(Align::Right))?;
                    }
                    c.text(
                        &weight_text(r.weight),
                        lay.weight_right,
                        baseline(row),
                        text.align(Align::Right),
                    )?;
                    let y = centre(row);
                    if r.ci_lb.is_finite() && r.ci_ub.is_finite() {
                        let (a, b) = (clamp_x(r.ci_lb), clamp_x(r.ci_ub));
                        c.line(&[(a, y), (b, y)], palette::BLACK, LINE_LW)?;
                        let ah = 0.22 * row_h;
                        if r.ci_lb < d0 {
                            c.polygon(
                                &[(a, y), (a + 1.6 * ah, y - ah), (a + 1.6 * ah, y + ah)],
                                palette::BLACK,
                            )?;
                        }
                        if r.ci_ub > d1 {
                            c.polygon(
                                &[(b, y), (b - 1.6 * ah, y - ah), (b - 1.6 * ah, y + ah)],
                                palette::BLACK,
                            )?;
                        }
                    }
                    if r.estimate.is_finite() && r.estimate >= d0 && r.estimate <= d1 {
                        // Area ∝ weight: side ∝ √weight; at least 1.5 pt so
                        // a tiny weight stays visible.
                        let side = if max_w > 0.0 && r.weight.is_finite() && r.weight > 0.0 {
                            (max_side * (r.weight / max_w).sqrt()).max(1.5)
                        } else {
                            1.5
                        };
                        let x = sc.map(r.estimate);
                        c.rect(
                            x - side / 2.0,
                            y - side / 2.0,
                            x + side / 2.0,
                            y + side / 2.0,
                            palette::BLUE,
                        )?;
                    }
                }
            }
        }

        // Pooled estimate.
        let d = &self.pooled;
        let y = centre(pooled_row);
        c.text(
            &fit(&d.label, true, lay.label_w),
            lay.label_x,
            baseline(pooled_row),
            bold,
        )?;
        for (k, p) in ci_parts(d.estimate, d.ci_lb, d.ci_ub).iter().enumerate() {
            c.text(
                p,
                lay.ci_cols[k],
                baseline(pooled_row),
                bold.align(Align::Right),
            )?;
        }
        c.text(
            "100.0%",
            lay.weight_right,
            baseline(pooled_row),
            bold.align(Align::Right),
        )?;
        if let Some((a, b)) = self.prediction {
            let cap = 0.25 * row_h;
            let (xa, xb) = (clamp_x(a), clamp_x(b));
            c.line(&[(xa, y), (xb, y)], palette::BLACK, LINE_LW)?;
            c.line(&[(xa, y - cap), (xa, y + cap)], palette::BLACK, LINE_LW)?;
            c.line(&[(xb, y - cap), (xb, y + cap)], palette::BLACK, LINE_LW)?;
            let row = pooled_row + 1.0;
            c.text("Prediction interval", lay.label_x, baseline(row), text)?;
            c.text(
                &format!("[{},", num(a, DIGITS)),
                lay.ci_cols[1],
                baseline(row),
                text.align(Align::Right),
            )?;
            c.text(
                &format!("{}]", num(b, DIGITS)),
                lay.ci_cols[2],
                baseline(row),
                text.align(Align::Right),
            )?;
        }
        if d.estimate.is_finite() && d.ci_lb.is_finite() && d.ci_ub.is_finite() {
            let h = 0.4 * row_h;
            c.polygon(
                &[
                    (clamp_x(d.ci_lb), y),
                    (clamp_x(d.estimate), y - h),
                    (clamp_x(d.ci_ub), y),
                    (clamp_x(d.estimate), y + h),
                ],
                palette::BLACK,
            )?;
        }

        // Axis.
        x_axis(c, &sc, &lay.ticks, lay.digits, axis_y, &self.x_label)?;
        Ok(())
    }
}
