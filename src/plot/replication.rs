//! Replication chart: for each claim, the published value (with its interval
//! or bound, if any) beside the value recomputed by `outcomes replicate`
//! (with its interval), one row per claim, in panels by quantity (each panel
//! its own x axis: "% of outcome variance", "Hedges' g", "r" ...).
//!
//! Published: an open diamond (an arrow for a bound), above the row centre;
//! recomputed: below it, a blue dot if replicated, a vermillion square if
//! not; the verdict is also written out on the right, so neither colour nor
//! shape alone carries it.

use super::{
    fit_axis, fit_text, palette, text_width, wrap_text, x_axis, Canvas, Chart, Scale,
    TextStyleSpec, CAP_HEIGHT, LINE_LW, SMALL_PT, TEXT_PT,
};
use crate::error::Result;
use plotters::prelude::{DrawingBackend, RGBColor};

/// How the published value is stated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// "7.5", "g = 0.70".
    Exact,
    /// "< 1%": the value is an upper bound.
    Upper,
    /// "> 0.5": a lower bound.
    Lower,
}

/// The verdict of a claim (colours the recomputed mark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Replicated,
    NotReplicated,
}

/// One claim: a row in its quantity's panel.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRow {
    /// Short label, e.g. "Alliance, Flückiger et al. 2018".
    pub label: String,
    /// The panel (quantity and unit), e.g. "% of outcome variance".
    pub panel: String,
    /// The published value.
    pub published: f64,
    /// Its published interval, if any.
    pub published_ci: Option<(f64, f64)>,
    pub bound: Bound,
    /// The recomputed value.
    pub recomputed: f64,
    /// Its interval (a confidence interval, or the interval implied by the
    /// rounding of the published statistic).
    pub ci: Option<(f64, f64)>,
    pub verdict: Verdict,
}

/// The chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicationPlot {
    /// Rows in the order given; panels in order of first appearance.
    pub rows: Vec<ClaimRow>,
    pub title: String,
}

impl ReplicationPlot {
    /// A chart of `rows` under `title`.
    pub fn new(title: impl Into<String>, rows: Vec<ClaimRow>) -> Self {
        ReplicationPlot {
            rows,
            title: title.into(),
        }
    }

    /// The panels in order of first appearance, each with its rows in the
    /// order given.
    pub fn panels(&self) -> Vec<(&str, Vec<&ClaimRow>)> {
        let mut out: Vec<(&str, Vec<&ClaimRow>)> = Vec::new();
        for r in &self.rows {
            match out.iter_mut().find(|(p, _)| *p == r.panel) {
                Some((_, rows)) => rows.push(r),
                None => out.push((r.panel.as_str(), vec![r])),
            }
        }
        out
    }
}

impl Verdict {
    /// The word printed in the verdict column.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Replicated => "replicated",
            Verdict::NotReplicated => "not replicated",
        }
    }

    /// Colour of the recomputed mark (Okabe–Ito blue / vermillion).
    pub fn color(self) -> RGBColor {
        match self {
            Verdict::Replicated => palette::BLUE,
            Verdict::NotReplicated => palette::VERMILLION,
        }
    }
}

const PAD: f64 = 4.0;
/// Space between the label column, the plot and the verdict column.
const GAP: f64 = 6.0;
/// Space above each panel.
const PANEL_GAP: f64 = 8.0;
/// Panel title band.
const TITLE_H: f64 = 1.6 * TEXT_PT;
/// Row height as a multiple of the row font: room for the two marks, and
/// for two-line labels with a clear gap between rows.
const ROW_EM: f64 = 2.4;
const ROW_EM_2: f64 = 2.8;
/// Line pitch of multi-line text, as a multiple of its size.
const LINE_EM: f64 = 1.1;
/// Title line pitch.
const TITLE_PITCH: f64 = 1.25 * TEXT_PT;
/// Vertical offset of each mark from the row centre, as a share of the row.
const OFFSET: f64 = 0.2;
/// Diamond half-diagonal, dot radius, square half-side (similar areas).
const DIAMOND: f64 = 2.8;
const DOT_R: f64 = 2.3;
const SQUARE: f64 = 2.0;
/// Length of a bound's arrow, and its head's half-height.
const ARROW: f64 = 12.0;
const HEAD: f64 = 1.8;
/// Half-height of a whisker's end caps.
const CAP: f64 = 1.6;
/// Legend: symbol width, gap to its text, gap between items.
const SYM_W: f64 = 14.0;
const SYM_GAP: f64 = 3.0;
const ITEM_GAP: f64 = 10.0;
/// Row band fill.
const BAND: RGBColor = RGBColor(0xF0, 0xF0, 0xF0);
const NO_CLAIMS: &str = "No computable claims.";

/// Row and legend font: 7 pt in a single column, 8 pt when wider.
fn row_font(width: f64) -> f64 {
    if width < 400.0 {
        SMALL_PT
    } else {
        TEXT_PT
    }
}

/// Height of an untitled [`x_axis`]: ticks, gap, tick labels.
fn axis_h() -> f64 {
    3.0 + 2.0 + CAP_HEIGHT * SMALL_PT + 0.3 * SMALL_PT
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Symbol {
    Diamond,
    Arrow,
    Circle,
    Square,
    Whisker,
}

struct LegendItem {
    symbol: Symbol,
    x: f64,
    /// First legend line the item sits on.
    line: usize,
    text: Vec<String>,
}

struct Panel<'a> {
    title: String,
    rows: Vec<&'a ClaimRow>,
    /// Top of the panel's title band.
    top: f64,
    scale: Scale,
    ticks: Vec<f64>,
    digits: usize,
}

struct Layout<'a> {
    fs: f64,
    title: Vec<String>,
    legend: Vec<LegendItem>,
    legend_top: f64,
    legend_pitch: f64,
    label_x: f64,
    label_w: f64,
    verdict_x: f64,
    verdict_w: f64,
    row_h: f64,
    panels: Vec<Panel<'a>>,
    height: f64,
}

/// Axis for a panel's rows drawn from `p0` to `p1`: covers every finite
/// value and interval, 0 when all are non-negative, and a bound's arrow.
fn panel_axis(rows: &[&ClaimRow], p0: f64, p1: f64) -> (Scale, Vec<f64>, usize) {
    let mut vals = Vec::new();
    for r in rows {
        vals.push(r.published);
        vals.push(r.recomputed);
        for (a, b) in [r.published_ci, r.ci].into_iter().flatten() {
            vals.push(a);
            vals.push(b);
        }
    }
    vals.retain(|v| v.is_finite());
    let mut lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !(hi - lo).is_finite() {
        // No finite values, or a span too large to scale.
        (lo, hi) = (0.0, 1.0);
    }
    if lo >= 0.0 {
        lo = 0.0;
    }
    if hi <= lo {
        let d = if lo == 0.0 { 1.0 } else { 0.1 * lo.abs() };
        (lo, hi) = (lo - d, hi + d);
    }
    let mut axis = fit_axis(lo, hi, p0, p1);
    // A bound's arrow is ARROW points long: widen the range until it fits
    // (the scale changes with the range, so settle in a few rounds).
    for _ in 0..4 {
        let per_pt = (axis.1 - axis.0) / (p1 - p0).max(1.0);
        let reach = (ARROW + HEAD) * per_pt;
        let (mut lo2, mut hi2) = (lo, hi);
        for r in rows.iter().filter(|r| r.published.is_finite()) {
            match r.bound {
                Bound::Upper => lo2 = lo2.min(r.published - reach),
                Bound::Lower => hi2 = hi2.max(r.published + reach),
                Bound::Exact => {}
            }
        }
        if lo2 >= axis.0 && hi2 <= axis.1 {
            break;
        }
        (lo, hi) = (lo2, hi2);
        axis = fit_axis(lo, hi, p0, p1);
    }
    let (d0, d1, ticks, digits) = axis;
    (Scale::new(d0, d1, p0, p1), ticks, digits)
}

impl ReplicationPlot {
    fn has_bounds(&self) -> bool {
        self.rows.iter().any(|r| r.bound != Bound::Exact)
    }

    /// Title lines: wrapped at most three, each fitted in bold.
    fn title_lines(&self, width: f64) -> Vec<String> {
        let max = width - 2.0 * PAD;
        // wrap_text measures regular text; bold runs wider, so wrap short
        // and fit each line in bold.
        wrap_text(&self.title, TEXT_PT, 0.9 * max, 3)
            .iter()
            .map(|l| fit_text(l, TEXT_PT, true, max))
            .collect()
    }

    /// Legend items in lines: published marks, recomputed marks, then the
    /// interval, each group on its own line(s); a group's second item sits
    /// in a second column aligned across groups when it fits, else after
    /// the first or on the next line. Returns the items and the line count.
    fn legend(&self, width: f64, fs: f64) -> (Vec<LegendItem>, usize) {
        let mut published = vec![(Symbol::Diamond, "Published (with its interval or bound)")];
        if self.has_bounds() {
            published.push((Symbol::Arrow, "Published bound (< or >)"));
        }
        let groups = [
            published,
            vec![
                (Symbol::Circle, "Recomputed, replicated"),
                (Symbol::Square, "Recomputed, not replicated"),
            ],
            vec![(
                Symbol::Whisker,
                "Interval: 95% CI, or the range implied by the published statistic's rounding",
            )],
        ];
        let (left, right) = (PAD, width - PAD);
        let item_w = |t: &str| SYM_W + SYM_GAP + text_width(t, fs, false);
        let col2 = left
            + groups
                .iter()
                .filter(|g| g.len() > 1)
                .map(|g| item_w(g[0].1))
                .fold(0.0, f64::max)
            + ITEM_GAP;
        let aligned = groups
            .iter()
            .all(|g| g.iter().skip(1).all(|(_, t)| col2 + item_w(t) <= right));
        let mut items = Vec::new();
        let mut line = 0usize;
        for g in &groups {
            let mut x = left;
            for (k, &(symbol, t)) in g.iter().enumerate() {
                let w = item_w(t);
                if k > 0 {
                    let at = if aligned { col2 } else { x + ITEM_GAP };
                    if at + w <= right {
                        x = at;
                    } else {
                        line += 1;
                        x = left;
                    }
                }
                let text = if w > right - left {
                    wrap_text(t, fs, right - left - SYM_W - SYM_GAP, 3)
                } else {
                    vec![t.to_string()]
                };
                let n = text.len();
                items.push(LegendItem {
                    symbol,
                    x,
                    line,
                    text,
                });
                x += w;
                line += n.saturating_sub(1);
            }
            line += 1;
        }
        (items, line)
    }

    fn layout(&self, width: f64) -> Layout<'_> {
        let fs = row_font(width);
        let title = self.title_lines(width);
        let mut y = PAD + CAP_HEIGHT * TEXT_PT + (title.len().max(1) - 1) as f64 * TITLE_PITCH;
        y += 0.25 * TEXT_PT;
        let legend_pitch = 1.35 * fs;
        let (legend, legend_lines) = if self.rows.is_empty() {
            (Vec::new(), 1)
        } else {
            self.legend(width, fs)
        };
        let legend_top = y + 4.0;
        y = legend_top + legend_lines as f64 * legend_pitch;

        // Columns: labels (at most 40% of the width, two lines), plot,
        // verdict words (two lines in a single column).
        let label_need = self
            .rows
            .iter()
            .map(|r| text_width(&r.label, fs, false))
            .fold(0.0, f64::max);
        let mut label_w = label_need.min(0.4 * width);
        if label_need > label_w {
            // Shrink to the widest wrapped line.
            label_w = self
                .rows
                .iter()
                .flat_map(|r| wrap_text(&r.label, fs, label_w, 2))
                .map(|l| text_width(&l, fs, false))
                .fold(0.0, f64::max);
        }
        let verdict_w = if width < 400.0 {
            text_width(Verdict::Replicated.word(), SMALL_PT, false)
        } else {
            text_width(Verdict::NotReplicated.word(), SMALL_PT, false)
        };
        // Taller rows when some row's text takes two lines, so that rows
        // stay apart.
        let two_lines = self.rows.iter().any(|r| {
            wrap_text(&r.label, fs, label_w, 2).len() > 1
                || wrap_text(r.verdict.word(), SMALL_PT, verdict_w, 2).len() > 1
        });
        let row_h = if two_lines { ROW_EM_2 } else { ROW_EM } * fs;
        let verdict_x = width - PAD - verdict_w;
        let (p0, p1) = (PAD + label_w + GAP, verdict_x - GAP);

        let mut panels = Vec::new();
        for (name, rows) in self.panels() {
            y += PANEL_GAP;
            let (scale, ticks, digits) = panel_axis(&rows, p0, p1);
            let n = rows.len() as f64;
            panels.push(Panel {
                title: fit_text(name, TEXT_PT, true, width - 2.0 * PAD),
                rows,
                top: y,
                scale,
                ticks,
                digits,
            });
            y += TITLE_H + n * row_h + 2.0 + axis_h();
        }
        Layout {
            fs,
            title,
            legend,
            legend_top,
            legend_pitch,
            label_x: PAD,
            label_w,
            verdict_x,
            verdict_w,
            row_h,
            panels,
            height: y + PAD,
        }
    }
}

/// Lines of `lines` set at `fs`, centred as a block on `yc`.
fn text_block<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    lines: &[String],
    x: f64,
    yc: f64,
    spec: TextStyleSpec,
) -> Result<()> {
    let pitch = LINE_EM * spec.size_pt;
    let first =
        yc - (lines.len().max(1) - 1) as f64 * pitch / 2.0 + CAP_HEIGHT * spec.size_pt / 2.0;
    for (i, l) in lines.iter().enumerate() {
        c.text(l, x, first + i as f64 * pitch, spec)?;
    }
    Ok(())
}

/// A horizontal interval with end caps.
fn whisker<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    xa: f64,
    xb: f64,
    y: f64,
    color: RGBColor,
    lw: f64,
) -> Result<()> {
    c.line(&[(xa, y), (xb, y)], color, lw)?;
    c.line(&[(xa, y - CAP), (xa, y + CAP)], color, lw)?;
    c.line(&[(xb, y - CAP), (xb, y + CAP)], color, lw)
}

/// An open diamond (white fill, black outline).
fn diamond<DB: DrawingBackend>(c: &Canvas<'_, DB>, x: f64, y: f64) -> Result<()> {
    let pts = [
        (x - DIAMOND, y),
        (x, y - DIAMOND),
        (x + DIAMOND, y),
        (x, y + DIAMOND),
        (x - DIAMOND, y),
    ];
    c.polygon(&pts[..4], palette::WHITE)?;
    c.line(&pts, palette::BLACK, LINE_LW)
}

/// A bound at `x`: a tick at the value and an arrow `dir` (−1 left, +1
/// right) toward the values the bound allows.
fn bound_arrow<DB: DrawingBackend>(c: &Canvas<'_, DB>, x: f64, y: f64, dir: f64) -> Result<()> {
    let tip = x + dir * ARROW;
    let base = tip - dir * 1.6 * HEAD;
    c.line(
        &[(x, y - DIAMOND), (x, y + DIAMOND)],
        palette::BLACK,
        LINE_LW,
    )?;
    c.line(&[(x, y), (base, y)], palette::BLACK, LINE_LW)?;
    c.polygon(
        &[(tip, y), (base, y - HEAD), (base, y + HEAD)],
        palette::BLACK,
    )
}

/// The recomputed mark: a dot if replicated, a square if not.
fn recomputed_mark<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    x: f64,
    y: f64,
    verdict: Verdict,
) -> Result<()> {
    let col = verdict.color();
    match verdict {
        Verdict::Replicated => c.circle((x, y), DOT_R, Some(col), (col, 0.0)),
        Verdict::NotReplicated => c.rect(x - SQUARE, y - SQUARE, x + SQUARE, y + SQUARE, col),
    }
}

fn finite_pair(p: Option<(f64, f64)>) -> Option<(f64, f64)> {
    p.filter(|(a, b)| a.is_finite() && b.is_finite())
}

impl Chart for ReplicationPlot {
    fn height_pt(&self, width_pt: f64) -> f64 {
        self.layout(width_pt).height
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()> {
        let lay = self.layout(c.width);
        let fs = lay.fs;
        let text = TextStyleSpec::new(fs);
        let bold = TextStyleSpec::new(TEXT_PT).bold();

        for (i, l) in lay.title.iter().enumerate() {
            c.text(
                l,
                PAD,
                PAD + CAP_HEIGHT * TEXT_PT + i as f64 * TITLE_PITCH,
                bold,
            )?;
        }
        if self.rows.is_empty() {
            let yc = lay.legend_top + lay.legend_pitch / 2.0;
            return c.text(NO_CLAIMS, PAD, yc + CAP_HEIGHT * fs / 2.0, text);
        }

        // Legend.
        for it in &lay.legend {
            let yc = lay.legend_top + (it.line as f64 + 0.5) * lay.legend_pitch;
            let (x0, x1) = (it.x + 1.0, it.x + SYM_W - 1.0);
            let xm = (x0 + x1) / 2.0;
            match it.symbol {
                Symbol::Diamond => diamond(c, xm, yc)?,
                Symbol::Arrow => bound_arrow(c, x1, yc, -1.0)?,
                Symbol::Circle => recomputed_mark(c, xm, yc, Verdict::Replicated)?,
                Symbol::Square => recomputed_mark(c, xm, yc, Verdict::NotReplicated)?,
                Symbol::Whisker => whisker(c, x0, x1, yc, palette::BLACK, LINE_LW)?,
            }
            let tx = it.x + SYM_W + SYM_GAP;
            for (k, l) in it.text.iter().enumerate() {
                let base = yc + k as f64 * lay.legend_pitch + CAP_HEIGHT * fs / 2.0;
                c.text(l, tx, base, text)?;
            }
        }

        let off = OFFSET * lay.row_h;
        let verdict_spec = TextStyleSpec::new(SMALL_PT);
        for p in &lay.panels {
            let sc = p.scale;
            // Values beyond the axis (only when the span could not be
            // scaled): no mark; intervals end at the axis.
            let inside = |v: f64| v.is_finite() && v >= sc.d0 && v <= sc.d1;
            let clamp = |v: f64| v.clamp(sc.d0, sc.d1);
            c.text(&p.title, PAD, p.top + TEXT_PT, bold)?;
            let rows_top = p.top + TITLE_H;
            let axis_y = rows_top + p.rows.len() as f64 * lay.row_h + 2.0;
            // Light bands on every other row, to lead the eye from label to
            // marks to verdict.
            for i in (1..p.rows.len()).step_by(2) {
                let top = rows_top + i as f64 * lay.row_h;
                c.rect(PAD, top, c.width - PAD, top + lay.row_h, BAND)?;
            }
            if sc.d0 <= 0.0 && sc.d1 >= 0.0 {
                let x = sc.map(0.0);
                c.line(&[(x, rows_top), (x, axis_y)], palette::GREY, LINE_LW)?;
            }
            for (i, r) in p.rows.iter().enumerate() {
                let yc = rows_top + (i as f64 + 0.5) * lay.row_h;
                let label = wrap_text(&r.label, fs, lay.label_w, 2);
                text_block(c, &label, lay.label_x, yc, text)?;
                let verdict = wrap_text(r.verdict.word(), SMALL_PT, lay.verdict_w, 2);
                text_block(c, &verdict, lay.verdict_x, yc, verdict_spec)?;

                // Published, above the centre.
                let y = yc - off;
                if let Some((a, b)) = finite_pair(r.published_ci) {
                    whisker(
                        c,
                        sc.map(clamp(a)),
                        sc.map(clamp(b)),
                        y,
                        palette::BLACK,
                        LINE_LW,
                    )?;
                }
                if inside(r.published) {
                    let x = sc.map(r.published);
                    match r.bound {
                        Bound::Exact => diamond(c, x, y)?,
                        Bound::Upper => bound_arrow(c, x, y, -1.0)?,
                        Bound::Lower => bound_arrow(c, x, y, 1.0)?,
                    }
                }

                // Recomputed, below.
                let y = yc + off;
                if let Some((a, b)) = finite_pair(r.ci) {
                    let (xa, xb) = (sc.map(clamp(a)), sc.map(clamp(b)));
                    whisker(c, xa, xb, y, r.verdict.color(), 0.8)?;
                }
                if inside(r.recomputed) {
                    recomputed_mark(c, sc.map(r.recomputed), y, r.verdict)?;
                }
            }
            x_axis(c, &sc, &p.ticks, p.digits, axis_y, "")?;
        }
        Ok(())
    }
}
