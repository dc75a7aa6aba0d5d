//! Change by group: one dot-and-interval row per group (a technique, a
//! service, a diagnosis), with the group's label and size in columns on the
//! left, "estimate [lower, upper]" on the right, and an optional overall
//! estimate as a diamond with a dotted vertical line through the rows.
//!
//! The dot chart follows Cleveland, W. S. (1984). Graphical methods for data
//! presentation: full scale breaks, dot charts, and multibased logging. The
//! American Statistician 38(4), 270–280; the tabular columns and the diamond
//! follow the forest-plot layout of Lewis, S., & Clarke, M. (2001). Forest
//! plots: trying to see the wood and the trees. BMJ 322, 1479–1480.
//!
//! Groups are drawn in the order given (sort them before if the order should
//! carry meaning). Intervals are taken to be 95% intervals (the column
//! heading says so). The "n" column is text from the caller, so suppressed
//! small numbers ("*", "≈410") are printed as given.

use super::{
    fit_axis, fit_text, num, palette, text_width, x_axis, x_axis_height, Align, Canvas, Chart,
    Scale, TextStyleSpec, CAP_HEIGHT, LINE_LW, SMALL_PT, TEXT_PT,
};
use crate::error::Result;
use plotters::prelude::DrawingBackend;

/// One group's change: point estimate and interval.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupChange {
    pub label: String,
    /// Group size as text given by the caller ("412", "*", "≈410").
    pub n_label: String,
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
}

/// Change by group: dot-and-interval rows with an optional overall diamond.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeGroupsPlot {
    /// Drawn in the given order, top to bottom.
    pub groups: Vec<GroupChange>,
    /// Drawn last as a diamond, with a dotted vertical line at its estimate.
    pub overall: Option<GroupChange>,
    /// x-axis title, e.g. "Pre–post effect size (d)".
    pub x_label: String,
    /// Vertical reference line (e.g. no change at 0).
    pub reference: Option<f64>,
}

impl ChangeGroupsPlot {
    /// A plot without an overall estimate and with a reference line at 0.
    pub fn new(groups: Vec<GroupChange>, x_label: impl Into<String>) -> Self {
        ChangeGroupsPlot {
            groups,
            overall: None,
            x_label: x_label.into(),
            reference: Some(0.0),
        }
    }
}

const PAD: f64 = 4.0;
/// Space between columns.
const GUTTER: f64 = 6.0;
/// Row pitch as a multiple of the table font size.
const ROW_PITCH: f64 = 1.7;
const CI_HEADER: &str = "Estimate [95% CI]";
const N_HEADER: &str = "n";
const NO_DATA: &str = "No data";

/// Table font: 7 pt in a single column, 8 pt in a wider figure.
fn table_font(width: f64) -> f64 {
    if width < 400.0 {
        SMALL_PT
    } else {
        TEXT_PT
    }
}

/// The interval text of one row, split so that the numbers line up in three
/// right-aligned sub-columns: "0.82", "[0.71,", "0.93]".
struct IntervalText {
    parts: [String; 3],
}

impl IntervalText {
    fn of(g: &GroupChange, digits: usize) -> Self {
        let mut parts = [String::new(), String::new(), String::new()];
        if g.estimate.is_finite() {
            parts[0] = num(g.estimate, digits);
            if g.lower.is_finite() && g.upper.is_finite() {
                parts[1] = format!("[{},", num(g.lower, digits));
                parts[2] = format!("{}]", num(g.upper, digits));
            }
        } else {
            parts[0] = "NA".to_string();
        }
        IntervalText { parts }
    }
}

struct Layout {
    font: f64,
    pitch: f64,
    label_w: f64,
    n_right: f64,
    /// Right edges of the three interval sub-columns.
    ci_right: [f64; 3],
    scale: Scale,
    ticks: Vec<f64>,
    tick_digits: usize,
    text_digits: usize,
}

impl ChangeGroupsPlot {
    fn all_rows(&self) -> impl Iterator<Item = &GroupChange> {
        self.groups.iter().chain(self.overall.iter())
    }

    fn has_data(&self) -> bool {
        self.all_rows().any(|g| g.estimate.is_finite())
    }

    /// Rows below the header: the groups, then half a row of space and the
    /// overall estimate; two empty rows for the "no data" note.
    fn body_rows(&self) -> f64 {
        let mut rows = self.groups.len() as f64;
        if self.overall.is_some() {
            rows += 1.5;
        }
        rows.max(2.0)
    }

    /// Data range of the axis: every finite estimate and bound, and the
    /// reference value.
    fn data_range(&self) -> (f64, f64) {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        let values = self
            .all_rows()
            .filter(|g| g.estimate.is_finite())
            .flat_map(|g| [g.estimate, g.lower, g.upper])
            .chain(self.reference);
        for v in values.filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            let r = self.reference.filter(|r| r.is_finite()).unwrap_or(0.0);
            (r - 1.0, r + 1.0)
        } else {
            (lo, hi)
        }
    }

    /// Two decimals for effect sizes, one when the values run into the tens
    /// (changes in scale points).
    fn text_digits(&self) -> usize {
        let (lo, hi) = self.data_range();
        if lo.abs().max(hi.abs()) >= 10.0 {
            1
        } else {
            2
        }
    }

    fn layout(&self, width: f64) -> Layout {
        let font = table_font(width);
        let w = |s: &str, bold: bool| text_width(s, font, bold);
        let text_digits = self.text_digits();

        let mut label_need: f64 = 0.0;
        let mut n_w = w(N_HEADER, true);
        let mut sub = [0.0f64; 3];
        // Groups in regular type, the overall row in bold.
        let rows = self.groups.iter().map(|g| (g, false));
        for (g, bold) in rows.chain(self.overall.iter().map(|o| (o, true))) {
            label_need = label_need.max(w(&g.label, bold));
            n_w = n_w.max(w(&g.n_label, bold));
            for (k, p) in IntervalText::of(g, text_digits).parts.iter().enumerate() {
                sub[k] = sub[k].max(w(p, bold));
            }
        }
        let space = w(" ", false);
        let ci_w = (sub[0] + space + sub[1] + space + sub[2]).max(w(CI_HEADER, true));

        // The plot keeps at least a quarter of the width; long labels are
        // shortened with an ellipsis instead.
        let fixed = 2.0 * PAD + n_w + ci_w + 3.0 * GUTTER;
        let room = width - fixed;
        let label_w = label_need.min(room - 0.25 * width).max(24.0);
        let n_right = PAD + label_w + GUTTER + n_w;
        let plot0 = n_right + GUTTER + 2.0;
        let ci_end = width - PAD;
        let plot1 = ci_end - ci_w - GUTTER;
        let ci_right = [
            ci_end - sub[2] - sub[1] - 2.0 * space,
            ci_end - sub[2] - space,
            ci_end,
        ];

        let (lo, hi) = self.data_range();
        let (d0, d1, ticks, tick_digits) = fit_axis(lo, hi, plot0, plot1);
        Layout {
            font,
            pitch: ROW_PITCH * font,
            label_w,
            n_right,
            ci_right,
            scale: Scale::new(d0, d1, plot0, plot1),
            ticks,
            tick_digits,
            text_digits,
        }
    }
}

impl Chart for ChangeGroupsPlot {
    fn height_pt(&self, width_pt: f64) -> f64 {
        let pitch = ROW_PITCH * table_font(width_pt);
        PAD + (1.0 + self.body_rows()) * pitch + 2.0 + x_axis_height() + PAD
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()> {
        let lay = self.layout(c.width);
        let sc = lay.scale;
        let pitch = lay.pitch;
        let plain = TextStyleSpec::new(lay.font);
        let strong = plain.bold();
        // Row r (0 = header) is centred at mid(r); text sits on base(r).
        let mid = |r: f64| PAD + (r + 0.5) * pitch;
        let base = |r: f64| mid(r) + CAP_HEIGHT * lay.font / 2.0;
        let body_top = PAD + pitch;
        let axis_y = PAD + (1.0 + self.body_rows()) * pitch + 2.0;
        let inside = |v: f64| v.is_finite() && v >= sc.d0 && v <= sc.d1;

        // Column headings.
        c.text(N_HEADER, lay.n_right, base(0.0), strong.align(Align::Right))?;
        c.text(
            CI_HEADER,
            lay.ci_right[2],
            base(0.0),
            strong.align(Align::Right),
        )?;

        // Reference line, then the overall estimate's dotted line, behind
        // the rows.
        let has_data = self.has_data();
        if let Some(r) = self.reference.filter(|&r| has_data && inside(r)) {
            let x = sc.map(r);
            c.line(&[(x, body_top), (x, axis_y)], palette::GREY, LINE_LW)?;
        }
        if let Some(o) = self.overall.as_ref().filter(|o| inside(o.estimate)) {
            let x = sc.map(o.estimate);
            c.dashed((x, body_top), (x, axis_y), palette::GREY, LINE_LW, 0.9, 1.6)?;
        }

        let write_row = |g: &GroupChange, r: f64, style: TextStyleSpec| -> Result<()> {
            let label = fit_text(&g.label, lay.font, style.bold, lay.label_w);
            c.text(&label, PAD, base(r), style)?;
            c.text(&g.n_label, lay.n_right, base(r), style.align(Align::Right))?;
            let cells = IntervalText::of(g, lay.text_digits);
            for (k, p) in cells.parts.iter().enumerate() {
                c.text(p, lay.ci_right[k], base(r), style.align(Align::Right))?;
            }
            Ok(())
        };

        let dot_r = (0.2 * pitch).min(2.1);
        for (i, g) in self.groups.iter().enumerate() {
            let r = 1.0 + i as f64;
            write_row(g, r, plain)?;
            if !g.estimate.is_finite() {
                continue;
            }
            let y = mid(r);
            if g.lower.is_finite() && g.upper.is_finite() {
                let (a, b) = (sc.map(g.lower.min(g.upper)), sc.map(g.upper.max(g.lower)));
                c.line(&[(a, y), (b, y)], palette::BLACK, LINE_LW * 1.4)?;
            }
            c.circle(
                (sc.map(g.estimate), y),
                dot_r,
                Some(palette::BLUE),
                (palette::BLUE, 0.0),
            )?;
        }

        if let Some(o) = &self.overall {
            let r = 1.0 + self.groups.len() as f64 + 0.5;
            write_row(o, r, strong)?;
            if o.estimate.is_finite() {
                let (y, x) = (mid(r), sc.map(o.estimate));
                let half_h = 0.36 * pitch;
                let (a, b) = if o.lower.is_finite() && o.upper.is_finite() {
                    (sc.map(o.lower.min(o.upper)), sc.map(o.upper.max(o.lower)))
                } else {
                    // No interval: a small diamond at the estimate.
                    (x - half_h, x + half_h)
                };
                c.polygon(
                    &[(a, y), (x, y - half_h), (b, y), (x, y + half_h)],
                    palette::BLACK,
                )?;
            }
        }

        if !has_data {
            c.text(
                NO_DATA,
                (sc.p0 + sc.p1) / 2.0,
                (body_top + axis_y) / 2.0 + CAP_HEIGHT * lay.font / 2.0,
                plain.align(Align::Center).color(palette::GREY),
            )?;
        }

        x_axis(c, &sc, &lay.ticks, lay.tick_digits, axis_y, &self.x_label)?;
        Ok(())
    }
}
