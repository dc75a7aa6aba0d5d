//! Contour-enhanced funnel plot (Peters, J. L., Sutton, A. J., Jones, D. R.,
//! Abrams, K. R., & Rushton, L. (2008). Contour-enhanced meta-analysis
//! funnel plots help distinguish publication bias from other causes of
//! asymmetry. J Clin Epidemiol 61, 991–996).
//!
//! x: effect size; y: standard error, inverted (0 at the top). Shaded regions
//! show where a single study's two-sided Wald test of θ = 0 has p < .10, .05
//! and .01; dashed lines give the pseudo-95% confidence funnel around the
//! pooled estimate; hollow points are studies imputed by trim and fill.

use super::{
    clip_polygon, fit_axis, nice_ticks, num, palette, text_width, tick_digits, x_axis,
    x_axis_height, Align, Canvas, Chart, Scale, TextStyleSpec, AXIS_LW, CAP_HEIGHT, LINE_LW,
    SMALL_PT, TEXT_PT,
};
use crate::error::Result;
use plotters::prelude::{DrawingBackend, RGBColor};

/// One study: effect size and its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FunnelPoint {
    pub estimate: f64,
    pub se: f64,
}

/// A contour-enhanced funnel plot.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelPlot {
    pub studies: Vec<FunnelPoint>,
    /// Studies imputed by trim and fill (drawn hollow); empty if none.
    pub imputed: Vec<FunnelPoint>,
    /// Pooled estimate the pseudo-confidence funnel is centred on.
    pub pooled: f64,
    /// x-axis title, e.g. "Log risk ratio".
    pub x_label: String,
}

impl FunnelPlot {
    pub fn new(studies: Vec<FunnelPoint>, pooled: f64, x_label: impl Into<String>) -> Self {
        FunnelPlot {
            studies,
            imputed: Vec::new(),
            pooled,
            x_label: x_label.into(),
        }
    }
}

/// Standard normal quantiles z_{1−α/2} for α = .10, .05, .01: a study at
/// |θ̂| / SE > z has a two-sided p below α (Peters et al., 2008).
const Z10: f64 = 1.644_853_626_951_472_2;
const Z05: f64 = 1.959_963_984_540_054;
const Z01: f64 = 2.575_829_303_548_900_4;

/// Shades, lightest for the least significant band.
const SHADE_10: RGBColor = RGBColor(0xE8, 0xE8, 0xE8);
const SHADE_05: RGBColor = RGBColor(0xCF, 0xCF, 0xCF);
const SHADE_01: RGBColor = RGBColor(0xB4, 0xB4, 0xB4);

const PAD: f64 = 4.0;
const POINT_R: f64 = 1.7;

enum Key {
    Swatch(RGBColor),
    Dot,
    Hollow,
    Dashed,
}

struct Layout {
    x: Scale,
    y: Scale,
    x_ticks: Vec<f64>,
    x_digits: usize,
    y_ticks: Vec<f64>,
    y_digits: usize,
    /// Legend items with their position (x, row).
    legend: Vec<(Key, String, f64, usize)>,
    legend_top: f64,
    height: f64,
}

const LEGEND_ROW: f64 = 1.6 * SMALL_PT;

impl FunnelPlot {
    fn points(&self) -> impl Iterator<Item = &FunnelPoint> {
        self.studies
            .iter()
            .chain(self.imputed.iter())
            .filter(|p| p.estimate.is_finite() && p.se.is_finite() && p.se >= 0.0)
    }

    fn layout(&self, width: f64) -> Layout {
        let se_max = self.points().map(|p| p.se).fold(0.0f64, f64::max);
        let se_max = if se_max > 0.0 { se_max } else { 1.0 };
        let (y_ticks, y_step) = nice_ticks(0.0, se_max, 4);
        let y_ticks: Vec<f64> = y_ticks.into_iter().filter(|&t| t >= 0.0).collect();
        let y_digits = tick_digits(y_step);
        let se_top = *y_ticks.last().unwrap();

        // x range: the studies, the pseudo-95% funnel at the largest SE, and
        // the 95% contour around 0 there, so the bands are visible.
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for p in self.points() {
            lo = lo.min(p.estimate);
            hi = hi.max(p.estimate);
        }
        let pooled = if self.pooled.is_finite() {
            self.pooled
        } else {
            0.0
        };
        for v in [
            pooled - Z05 * se_max,
            pooled + Z05 * se_max,
            -Z05 * se_max,
            Z05 * se_max,
        ] {
            lo = lo.min(v);
            hi = hi.max(v);
        }

        let y_label_w = y_ticks
            .iter()
            .map(|&t| text_width(&num(t, y_digits), SMALL_PT, false))
            .fold(0.0, f64::max);
        let left = PAD + TEXT_PT * 1.2 + 3.0 + y_label_w + 2.0 + 3.0;
        // Room for half of a last tick label like "−0.50".
        let right = width - PAD - text_width("\u{2212}0.50", SMALL_PT, false) / 2.0;
        let (d0, d1, x_ticks, x_digits) = fit_axis(lo, hi, left, right);
        let top = PAD + CAP_HEIGHT * SMALL_PT / 2.0 + 1.0;
        let plot_h = ((right - left) * 0.72).min(360.0);
        let bottom = top + plot_h;
        let x = Scale::new(d0, d1, left, right);
        let y = Scale::new(0.0, se_top, top, bottom);

        // Legend, wrapped to the width.
        let mut items: Vec<(Key, String)> = vec![
            (Key::Swatch(SHADE_10), ".05 ≤ p < .10".into()),
            (Key::Swatch(SHADE_05), ".01 ≤ p < .05".into()),
            (Key::Swatch(SHADE_01), "p < .01".into()),
            (Key::Dot, "Study".into()),
        ];
        if !self.imputed.is_empty() {
            items.push((Key::Hollow, "Imputed (trim and fill)".into()));
        }
        items.push((Key::Dashed, "Pseudo-95% CI".into()));
        let key_w = 9.0;
        let mut legend = Vec::new();
        let (mut cx, mut row) = (left, 0usize);
        for (k, s) in items {
            let w = key_w + 3.0 + text_width(&s, SMALL_PT, false);
            if cx + w > width - PAD && cx > left {
                cx = left;
                row += 1;
            }
            legend.push((k, s, cx, row));
            cx += w + 9.0;
        }
        let legend_top = bottom + x_axis_height() + 4.0;
        let height = legend_top + (row + 1) as f64 * LEGEND_ROW + PAD;
        Layout {
            x,
            y,
            x_ticks,
            x_digits,
            y_ticks,
            y_digits,
            legend,
            legend_top,
            height,
        }
    }
}

/// Clips the segment a→b to x in [x0, x1] (y is monotone along it).
fn clip_segment(
    a: (f64, f64),
    b: (f64, f64),
    x0: f64,
    x1: f64,
) -> Option<((f64, f64), (f64, f64))> {
    let at = |x: f64| {
        let t = (x - a.0) / (b.0 - a.0);
        (x, a.1 + t * (b.1 - a.1))
    };
    let (mut p, mut q) = (a, b);
    if p.0 < x0 && q.0 < x0 || p.0 > x1 && q.0 > x1 {
        return None;
    }
    if p.0 < x0 {
        p = at(x0);
    } else if p.0 > x1 {
        p = at(x1);
    }
    if q.0 < x0 {
        q = at(x0);
    } else if q.0 > x1 {
        q = at(x1);
    }
    Some((p, q))
}

impl Chart for FunnelPlot {
    fn height_pt(&self, width_pt: f64) -> f64 {
        self.layout(width_pt).height
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()> {
        let lay = self.layout(c.width);
        let (xs, ys) = (lay.x, lay.y);
        let (l, r, t, b) = (xs.p0, xs.p1, ys.p0, ys.p1);
        let se_top = ys.d1;

        // Contours around 0: |θ̂| = z·SE, triangles from (0, 0) to ±z·SE_max
        // (Peters et al., 2008). Darkest (p < .01) first, then lighter bands.
        c.polygon(&[(l, t), (r, t), (r, b), (l, b)], SHADE_01)?;
        for (z, shade) in [(Z01, SHADE_05), (Z05, SHADE_10), (Z10, palette::WHITE)] {
            let tri = [
                (xs.map(0.0), ys.map(0.0)),
                (xs.map(z * se_top), ys.map(se_top)),
                (xs.map(-z * se_top), ys.map(se_top)),
            ];
            c.polygon(&clip_polygon(&tri, l, t, r, b), shade)?;
        }

        // Pseudo-95% confidence funnel: θ̂_pooled ± 1.96·SE (Sterne, J. A. C.,
        // & Egger, M. (2001). Funnel plots for detecting bias in
        // meta-analysis. J Clin Epidemiol 54, 1046–1055).
        if self.pooled.is_finite() {
            let apex = (xs.map(self.pooled), ys.map(0.0));
            for sign in [-1.0, 1.0] {
                let end = (xs.map(self.pooled + sign * Z05 * se_top), ys.map(se_top));
                if let Some((p, q)) = clip_segment(apex, end, l, r) {
                    c.dashed(p, q, palette::BLACK, LINE_LW, 2.5, 1.5)?;
                }
            }
            if self.pooled >= xs.d0 && self.pooled <= xs.d1 {
                c.line(&[apex, (apex.0, b)], palette::BLACK, LINE_LW)?;
            }
        }

        // Studies, then imputed ones hollow.
        let ok = |p: &&FunnelPoint| p.estimate.is_finite() && p.se.is_finite() && p.se >= 0.0;
        for p in self.studies.iter().filter(ok) {
            c.circle(
                (xs.map(p.estimate), ys.map(p.se)),
                POINT_R,
                Some(palette::BLACK),
                (palette::BLACK, 0.0),
            )?;
        }
        for p in self.imputed.iter().filter(ok) {
            c.circle(
                (xs.map(p.estimate), ys.map(p.se)),
                POINT_R,
                None,
                (palette::BLACK, LINE_LW),
            )?;
        }

        // Frame: left and bottom axes only.
        c.line(&[(l, t), (l, b)], palette::BLACK, AXIS_LW)?;
        x_axis(c, &xs, &lay.x_ticks, lay.x_digits, b, &self.x_label)?;
        let small = TextStyleSpec::new(SMALL_PT);
        for &v in &lay.y_ticks {
            let y = ys.map(v);
            c.line(&[(l - 3.0, y), (l, y)], palette::BLACK, AXIS_LW)?;
            c.text(
                &num(v, lay.y_digits),
                l - 5.0,
                y + CAP_HEIGHT * SMALL_PT / 2.0,
                small.align(Align::Right),
            )?;
        }
        c.text(
            "Standard error",
            PAD + TEXT_PT * 0.95,
            (t + b) / 2.0,
            TextStyleSpec::new(TEXT_PT).align(Align::Center).vertical(),
        )?;

        // Legend.
        for (key, label, x, row) in &lay.legend {
            let yc = lay.legend_top + (*row as f64 + 0.5) * LEGEND_ROW;
            match key {
                Key::Swatch(col) => {
                    c.rect(x + 1.0, yc - 3.5, x + 8.0, yc + 3.5, *col)?;
                }
                Key::Dot => c.circle(
                    (x + 4.5, yc),
                    POINT_R,
                    Some(palette::BLACK),
                    (palette::BLACK, 0.0),
                )?,
                Key::Hollow => c.circle((x + 4.5, yc), POINT_R, None, (palette::BLACK, LINE_LW))?,
                Key::Dashed => {
                    c.dashed((*x, yc), (x + 9.0, yc), palette::BLACK, LINE_LW, 2.5, 1.5)?
                }
            }
            c.text(label, x + 12.0, yc + CAP_HEIGHT * SMALL_PT / 2.0, small)?;
        }
        Ok(())
    }
}
