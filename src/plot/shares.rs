//! Variance-share chart: horizontal bars of Shapley shares (percent of
//! outcome variance attributed to each factor in this analysis) with
//! confidence-interval whiskers, and, in a separate, separately titled panel
//! below, published bivariate estimates for comparison.
//!
//! Shapley shares add up (to the explained variance); published bivariate
//! estimates come from separate analyses and do not, so they are never drawn
//! on the same bars, stacked, or as a pie.

use super::{
    fit_axis, fit_text, num, palette, text_width, x_axis, x_axis_height, Align, Canvas, Chart,
    Scale, TextStyleSpec, CAP_HEIGHT, LINE_LW, TEXT_PT,
};
use crate::error::Result;
use plotters::prelude::DrawingBackend;

/// One factor's Shapley share, in percent, with an optional interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub label: String,
    pub percent: f64,
    /// Confidence interval (lower, upper) in percent, e.g. from a bootstrap.
    pub ci: Option<(f64, f64)>,
}

/// A published estimate (percent of variance) from a separate analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// e.g. "Alliance (Flückiger et al., 2018)".
    pub label: String,
    pub percent: f64,
}

/// The variance-share chart.
#[derive(Debug, Clone, PartialEq)]
pub struct SharesPlot {
    pub shares: Vec<Share>,
    /// Published estimates; the lower panel is left out when empty.
    pub published: Vec<Published>,
    pub title: String,
    pub published_title: String,
    pub x_label: String,
}

impl SharesPlot {
    /// A chart with the default titles.
    pub fn new(shares: Vec<Share>, published: Vec<Published>) -> Self {
        SharesPlot {
            shares,
            published,
            title: "This analysis: Shapley shares of outcome variance".to_string(),
            published_title: "Published estimates (separate analyses, not additive)".to_string(),
            x_label: "Share of outcome variance (%)".to_string(),
        }
    }
}

const PAD: f64 = 4.0;
const ROW_H: f64 = 1.9 * TEXT_PT;
const TITLE_H: f64 = 1.8 * TEXT_PT;
const PANEL_GAP: f64 = 10.0;

fn pct(v: f64) -> String {
    if v > 0.0 && v < 0.05 {
        "<0.1%".to_string()
    } else {
        format!("{}%", num(v, 1))
    }
}

struct Layout {
    label_right: f64,
    label_w: f64,
    scale: Scale,
    ticks: Vec<f64>,
    digits: usize,
}

impl SharesPlot {
    fn layout(&self, width: f64) -> Layout {
        let tw = |s: &str| text_width(s, TEXT_PT, false);
        let label_need = self
            .shares
            .iter()
            .map(|s| tw(&s.label))
            .chain(self.published.iter().map(|p| tw(&p.label)))
            .fold(0.0, f64::max);
        let label_w = label_need.min(0.4 * width);
        let value_w = self
            .shares
            .iter()
            .map(|s| tw(&pct(s.percent)))
            .chain(self.published.iter().map(|p| tw(&pct(p.percent))))
            .fold(tw("0.0%"), f64::max);
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        let vals = self
            .shares
            .iter()
            .flat_map(|s| {
                let (a, b) = s.ci.unwrap_or((s.percent, s.percent));
                [s.percent, a, b]
            })
            .chain(self.published.iter().map(|p| p.percent))
            .filter(|v| v.is_finite());
        for v in vals {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if hi <= lo {
            hi = lo + 1.0;
        }
        let left = PAD + label_w + 6.0;
        let right = width - PAD - value_w - 4.0;
        let (d0, d1, ticks, digits) = fit_axis(lo, hi, left, right);
        Layout {
            label_right: PAD + label_w,
            label_w,
            scale: Scale::new(d0, d1, left, right),
            ticks,
            digits,
        }
    }

    fn panel_height(n: usize) -> f64 {
        TITLE_H + n as f64 * ROW_H + 2.0 + x_axis_height()
    }
}

impl Chart for SharesPlot {
    fn height_pt(&self, _width_pt: f64) -> f64 {
        let mut h = PAD + Self::panel_height(self.shares.len());
        if !self.published.is_empty() {
            h += PANEL_GAP + Self::panel_height(self.published.len());
        }
        h + PAD
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()> {
        let lay = self.layout(c.width);
        let sc = lay.scale;
        let text = TextStyleSpec::new(TEXT_PT);
        let title = text.bold();
        let zero = sc.map(0.0f64.clamp(sc.d0, sc.d1));
        let half_cap = CAP_HEIGHT * TEXT_PT / 2.0;

        // Upper panel: Shapley shares.
        let mut y = PAD;
        c.text(
            &fit_text(&self.title, TEXT_PT, true, c.width - 2.0 * PAD),
            PAD,
            y + TEXT_PT,
            title,
        )?;
        y += TITLE_H;
        let rows_top = y;
        for s in &self.shares {
            let yc = y + ROW_H / 2.0;
            c.text(
                &fit_text(&s.label, TEXT_PT, false, lay.label_w),
                lay.label_right,
                yc + half_cap,
                text.align(Align::Right),
            )?;
            let mut end = zero;
            if s.percent.is_finite() {
                let x = sc.map(s.percent);
                let bh = 0.55 * ROW_H;
                c.rect(
                    zero.min(x),
                    yc - bh / 2.0,
                    zero.max(x),
                    yc + bh / 2.0,
                    palette::BLUE,
                )?;
                end = end.max(x);
            }
            if let Some((a, b)) = s.ci {
                if a.is_finite() && b.is_finite() {
                    // Whisker: the interval with end caps.
                    let (xa, xb) = (sc.map(a), sc.map(b));
                    let cap = 0.15 * ROW_H;
                    c.line(&[(xa, yc), (xb, yc)], palette::BLACK, LINE_LW)?;
                    c.line(&[(xa, yc - cap), (xa, yc + cap)], palette::BLACK, LINE_LW)?;
                    c.line(&[(xb, yc - cap), (xb, yc + cap)], palette::BLACK, LINE_LW)?;
                    end = end.max(xb);
                }
            }
            if s.percent.is_finite() {
                c.text(&pct(s.percent), end + 3.0, yc + half_cap, text)?;
            }
            y += ROW_H;
        }
        c.line(
            &[(zero, rows_top), (zero, y + 2.0)],
            palette::BLACK,
            LINE_LW,
        )?;
        x_axis(c, &sc, &lay.ticks, lay.digits, y + 2.0, &self.x_label)?;
        y += 2.0 + x_axis_height();

        // Lower panel: published estimates, as dots on stems (not bars), with
        // their own title and axis.
        if self.published.is_empty() {
            return Ok(());
        }
        y += PANEL_GAP;
        c.text(
            &fit_text(&self.published_title, TEXT_PT, true, c.width - 2.0 * PAD),
            PAD,
            y + TEXT_PT,
            title,
        )?;
        y += TITLE_H;
        let rows_top = y;
        for p in &self.published {
            let yc = y + ROW_H / 2.0;
            c.text(
                &fit_text(&p.label, TEXT_PT, false, lay.label_w),
                lay.label_right,
                yc + half_cap,
                text.align(Align::Right),
            )?;
            if p.percent.is_finite() {
                let x = sc.map(p.percent);
                c.line(&[(zero, yc), (x, yc)], palette::GREY, LINE_LW)?;
                c.circle(
                    (x, yc),
                    2.2,
                    Some(palette::VERMILLION),
                    (palette::VERMILLION, 0.0),
                )?;
                c.text(&pct(p.percent), x.max(zero) + 5.0, yc + half_cap, text)?;
            }
            y += ROW_H;
        }
        c.line(
            &[(zero, rows_top), (zero, y + 2.0)],
            palette::BLACK,
            LINE_LW,
        )?;
        x_axis(c, &sc, &lay.ticks, lay.digits, y + 2.0, &self.x_label)?;
        Ok(())
    }
}
