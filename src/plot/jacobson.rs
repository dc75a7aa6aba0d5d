//! Jacobson plot: each client's score after therapy against the score
//! before, with the reliable-change band and the clinical cut-off
//! (Jacobson, N. S., & Truax, P. (1991). Clinical significance: A statistical
//! approach to defining meaningful change in psychotherapy research. J
//! Consult Clin Psychol 59(1), 12–19, Figure 2).
//!
//! Both axes share one scale on a square plotting area, so the identity line
//! (no change) runs at 45°. The grey band holds the changes too small to be
//! reliable (post = pre ± the score change the reliable change index needs);
//! dashed lines mark the cut-off on both axes. Clients are coloured by their
//! category (see [`crate::stats::change`]): *recovered* (reliable improvement
//! from the clinical to the functional range), *improved* (other reliable
//! improvement), *unchanged*, *deteriorated* (other reliable deterioration)
//! and *harmed* (reliable deterioration from the functional to the clinical
//! range). Improvement is drawn as circles and deterioration as triangles,
//! filled when the cut-off was crossed, so the plot also reads in greyscale;
//! the colours are Okabe–Ito.
//!
//! [`JacobsonMode::Binned`] is for reports in which no client may be seen:
//! clients are counted in square cells, each cell is shaded by its count,
//! and cells with fewer than `min_count` clients are left out; counts in
//! the legend then follow the small-number rule (1–7 as *, others rounded
//! to 5; science.md §6).

use super::{
    clip_polygon, fit_axis, fit_text, num, palette, text_width, tick_digits, x_axis_height,
    x_axis_lines, y_axis, y_axis_width, Align, Canvas, Chart, Scale, TextStyleSpec, CAP_HEIGHT,
    LINE_LW, SMALL_PT, TEXT_PT,
};
use crate::error::Result;
use crate::stats::change::Category;
use plotters::prelude::{DrawingBackend, RGBColor};
use std::collections::BTreeMap;

/// One client's scores and outcome category.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JacobsonPoint {
    pub pre: f64,
    pub post: f64,
    pub category: Category,
}

/// How clients are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JacobsonMode {
    /// One marker per client.
    Points,
    /// Counts in square cells `cell` score units wide; cells with fewer than
    /// `min_count` clients are not drawn.
    Binned { cell: f64, min_count: usize },
}

/// A Jacobson plot.
#[derive(Debug, Clone, PartialEq)]
pub struct JacobsonPlot {
    pub points: Vec<JacobsonPoint>,
    /// Score change needed for reliable change: the band is post = pre ± this.
    pub rci_threshold: f64,
    /// Clinical cut-off, drawn on both axes.
    pub cutoff: Option<f64>,
    /// Lower scores are better (e.g. PHQ-9): improvement lies below the band.
    pub lower_is_better: bool,
    /// The measure, e.g. "PHQ-9", for the axis titles.
    pub measure: String,
    /// Instrument range for both axes, e.g. (0, 27); `None`: from the data.
    pub range: Option<(f64, f64)>,
    pub mode: JacobsonMode,
}

impl JacobsonPlot {
    /// Points mode, no cut-off, lower is better, range from the data.
    pub fn new(points: Vec<JacobsonPoint>, rci_threshold: f64, measure: impl Into<String>) -> Self {
        JacobsonPlot {
            points,
            rci_threshold,
            cutoff: None,
            lower_is_better: true,
            measure: measure.into(),
            range: None,
            mode: JacobsonMode::Points,
        }
    }
}

/// Categories in legend (and drawing) order.
const ORDER: [Category; 5] = [
    Category::Recovered,
    Category::Improved,
    Category::Unchanged,
    Category::Deteriorated,
    Category::Harmed,
];

fn cat_name(c: Category) -> &'static str {
    match c {
        Category::Recovered => "Recovered",
        Category::Improved => "Improved",
        Category::Unchanged => "Unchanged",
        Category::Deteriorated => "Deteriorated",
        Category::Harmed => "Harmed",
    }
}

const UNCHANGED_GREY: RGBColor = RGBColor(0x9A, 0x9A, 0x9A);

/// Colour, circle (improvement, unchanged) or triangle (deterioration),
/// filled or hollow.
fn cat_style(c: Category) -> (RGBColor, bool, bool) {
    match c {
        Category::Recovered => (palette::BLUISH_GREEN, false, true),
        Category::Improved => (palette::SKY_BLUE, false, false),
        Category::Unchanged => (UNCHANGED_GREY, false, true),
        Category::Deteriorated => (palette::ORANGE, true, false),
        Category::Harmed => (palette::VERMILLION, true, true),
    }
}

const BAND: RGBColor = RGBColor(0xE6, 0xE6, 0xE6);
/// Single-hue ramp for cell counts, light to dark (the ends of ColorBrewer's
/// "Blues"; Harrower, M., & Brewer, C. A. (2003). ColorBrewer.org. Cartogr J
/// 40, 27–37).
const RAMP_LIGHT: (f64, f64, f64) = (198.0, 219.0, 239.0);
const RAMP_DARK: (f64, f64, f64) = (8.0, 48.0, 107.0);

fn ramp(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let m = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(
        m(RAMP_LIGHT.0, RAMP_DARK.0),
        m(RAMP_LIGHT.1, RAMP_DARK.1),
        m(RAMP_LIGHT.2, RAMP_DARK.2),
    )
}

const PAD: f64 = 4.0;
const ROW: f64 = 1.6 * SMALL_PT;
const KEY_W: f64 = 9.0;
/// Largest side of the square plotting area (about 11 cm).
const MAX_SIDE: f64 = 320.0;
/// Smallest side that leaves room for a legend on the right.
const MIN_SIDE_RIGHT: f64 = 250.0;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Key {
    Marker(Category),
    Swatch(RGBColor),
    Band,
    Dashed,
    None,
}

#[derive(Debug, Clone)]
struct Item {
    key: Key,
    text: String,
    grey: bool,
}

impl Item {
    fn new(key: Key, text: impl Into<String>) -> Self {
        Item {
            key,
            text: text.into(),
            grey: false,
        }
    }
    fn width(&self) -> f64 {
        let key = if self.key == Key::None {
            0.0
        } else {
            KEY_W + 3.0
        };
        key + text_width(&self.text, SMALL_PT, false)
    }
}

/// A legend item placed at `x`, its row centred at `y`.
struct Placed {
    item: Item,
    x: f64,
    y: f64,
}

/// A count class of the cell shading: counts `lo..=hi`.
#[derive(Debug, Clone, Copy)]
struct Class {
    lo: usize,
    hi: usize,
    color: RGBColor,
}

impl Class {
    fn label(&self) -> String {
        if self.lo == self.hi {
            self.lo.to_string()
        } else {
            format!("{}\u{2013}{}", self.lo, self.hi)
        }
    }
}

/// Up to about five classes from `lo` to `hi` clients, bounded at round
/// numbers (8–9, 10–19, 20–29, …), shaded light to dark.
fn classes(lo: usize, hi: usize) -> Vec<Class> {
    let lo = lo.max(1);
    let hi = hi.max(lo);
    let span = hi - lo + 1;
    let mut bounds: Vec<(usize, usize)> = Vec::new();
    if span <= 5 {
        bounds.extend((lo..=hi).map(|v| (v, v)));
    } else {
        let raw = span as f64 / 5.0;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|f| f * mag)
            .find(|&s| s >= raw)
            .unwrap_or(10.0 * mag)
            .round()
            .max(1.0) as usize;
        let mut a = lo;
        while a <= hi {
            let b = ((a / step + 1) * step - 1).min(hi);
            bounds.push((a, b));
            a = b + 1;
        }
    }
    let k = bounds.len();
    bounds
        .into_iter()
        .enumerate()
        .map(|(i, (a, b))| Class {
            lo: a,
            hi: b,
            color: ramp(if k == 1 {
                0.6
            } else {
                i as f64 / (k - 1) as f64
            }),
        })
        .collect()
}

fn short_num(v: f64) -> String {
    num(v, tick_digits(v).min(2))
}

/// Binned counts: cell (i, j) is centred on (anchor + i·cell, anchor + j·cell).
struct Cells {
    cell: f64,
    anchor: f64,
    counts: BTreeMap<(i64, i64), usize>,
    min_count: usize,
}

impl Cells {
    fn centre(&self, i: i64) -> f64 {
        self.anchor + i as f64 * self.cell
    }
    fn shown(&self) -> impl Iterator<Item = (&(i64, i64), &usize)> {
        self.counts.iter().filter(|(_, &n)| n >= self.min_count)
    }
}

struct Layout {
    /// Data to points; `y` runs bottom to top.
    x: Scale,
    y: Scale,
    ticks: Vec<f64>,
    digits: usize,
    x_title: Vec<String>,
    y_title: String,
    axis_y: f64,
    legend: Vec<Placed>,
    height: f64,
    cells: Option<Cells>,
    classes: Vec<Class>,
    radius: f64,
}

impl JacobsonPlot {
    fn valid(&self) -> impl Iterator<Item = &JacobsonPoint> {
        self.points
            .iter()
            .filter(|p| p.pre.is_finite() && p.post.is_finite())
    }

    fn cutoff(&self) -> Option<f64> {
        self.cutoff.filter(|c| c.is_finite())
    }

    fn threshold(&self) -> Option<f64> {
        Some(self.rci_threshold.abs()).filter(|t| t.is_finite() && *t > 0.0)
    }

    fn titles(&self) -> (String, String) {
        let m = self.measure.trim();
        if m.is_empty() {
            ("Before therapy".into(), "After therapy".into())
        } else {
            (
                format!("Before therapy ({m})"),
                format!("After therapy ({m})"),
            )
        }
    }

    /// Data range for both axes (before padding).
    fn data_range(&self) -> (f64, f64) {
        if let Some((a, b)) = self.range {
            if a.is_finite() && b.is_finite() && b > a {
                return (a, b);
            }
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for p in self.valid() {
            lo = lo.min(p.pre.min(p.post));
            hi = hi.max(p.pre.max(p.post));
        }
        if let Some(c) = self.cutoff() {
            lo = lo.min(c);
            hi = hi.max(c);
        }
        if !lo.is_finite() {
            (0.0, 1.0)
        } else {
            (lo, hi)
        }
    }

    fn cells(&self, span: f64) -> Option<Cells> {
        let JacobsonMode::Binned { cell, min_count } = self.mode else {
            return None;
        };
        let cell = if cell.is_finite() && cell > 0.0 {
            cell
        } else {
            (span / 25.0).max(f64::MIN_POSITIVE)
        };
        let anchor = self
            .range
            .map(|r| r.0)
            .filter(|a| a.is_finite())
            .unwrap_or(0.0);
        Some(Cells {
            cell,
            anchor,
            counts: self.bin(cell, anchor),
            min_count: min_count.max(1),
        })
    }

    /// Clients per square cell of side `cell`, cells centred on `anchor`
    /// plus multiples of `cell`.
    fn bin(&self, cell: f64, anchor: f64) -> BTreeMap<(i64, i64), usize> {
        let mut counts = BTreeMap::new();
        for p in self.valid() {
            let k = |v: f64| ((v - anchor) / cell).round() as i64;
            *counts.entry((k(p.pre), k(p.post))).or_insert(0usize) += 1;
        }
        counts
    }

    /// Cell side for [`JacobsonMode::Binned`]: the smallest multiple (1 to
    /// 5) of `base` whose cells of fewer than `min_count` clients hide at
    /// most a tenth of the clients, so that a small clinic gets coarser
    /// cells rather than an empty figure. Uses the drawing's own binning.
    pub fn binned_cell(&self, base: f64, min_count: usize) -> f64 {
        let anchor = self.range.map_or(0.0, |r| r.0);
        let n = self.valid().count();
        (1..=5)
            .map(|k| base * k as f64)
            .find(|&cell| {
                let hidden: usize = self
                    .bin(cell, anchor)
                    .values()
                    .filter(|&&c| c < min_count)
                    .sum();
                hidden * 10 <= n
            })
            .unwrap_or(base * 5.0)
    }

    /// Legend groups; each starts on a new line.
    fn legend_groups(&self, cells: Option<&Cells>, classes: &[Class]) -> Vec<Vec<Item>> {
        let mut groups = Vec::new();
        let mut cats = Vec::new();
        // Binned with a minimum is the disclosure-controlled form: counts
        // follow the small-number rule of science.md §6 (1–7 as *, others
        // rounded to 5), as the report's tables do.
        let controlled = cells.is_some_and(|cs| cs.min_count > 1);
        let shown = |n: usize| {
            if controlled {
                crate::stats::suppress::suppress_count(n as u64).to_string()
            } else {
                n.to_string()
            }
        };
        if cells.is_some() {
            cats.push(Item::new(
                Key::None,
                format!("Clients ({}):", shown(self.valid().count())),
            ));
        }
        for c in ORDER {
            let n = self.valid().filter(|p| p.category == c).count();
            let n_text = shown(n);
            if n > 0 {
                let key = if cells.is_some() {
                    Key::None
                } else {
                    Key::Marker(c)
                };
                cats.push(Item::new(key, format!("{} ({n_text})", cat_name(c))));
            }
        }
        if cats.len() > usize::from(cells.is_some()) {
            groups.push(cats);
        }
        let mut lines = Vec::new();
        if let Some(t) = self.threshold() {
            lines.push(Item::new(
                Key::Band,
                format!("No reliable change (\u{00B1}{})", short_num(t)),
            ));
        }
        if let Some(c) = self.cutoff() {
            lines.push(Item::new(
                Key::Dashed,
                format!("Cut-off ({})", short_num(c)),
            ));
        }
        if !lines.is_empty() {
            groups.push(lines);
        }
        if let Some(cells) = cells {
            if !classes.is_empty() {
                let mut g = vec![Item::new(Key::None, "Clients per cell:")];
                g.extend(
                    classes
                        .iter()
                        .map(|k| Item::new(Key::Swatch(k.color), k.label())),
                );
                groups.push(g);
            }
            if cells.min_count > 1 {
                let hidden: usize = cells
                    .counts
                    .values()
                    .filter(|&&n| n < cells.min_count)
                    .sum();
                let total: usize = cells.counts.values().sum();
                let mut note = Item::new(
                    Key::None,
                    format!(
                        "Cells with fewer than {} clients not shown \
                         ({}\u{a0}of\u{a0}{}\u{a0}clients)",
                        cells.min_count,
                        shown(hidden),
                        shown(total)
                    ),
                );
                note.grey = true;
                groups.push(vec![note]);
            }
        }
        groups
    }

    fn layout(&self, width: f64) -> Layout {
        let (lo, hi) = self.data_range();
        let cells = self.cells(hi - lo);
        let classes = match &cells {
            Some(cs) => {
                let max = cs.shown().map(|(_, &n)| n).max();
                max.map_or(Vec::new(), |m| classes(cs.min_count, m))
            }
            None => Vec::new(),
        };
        let groups = if self.valid().next().is_some() {
            self.legend_groups(cells.as_ref(), &classes)
        } else {
            Vec::new()
        };
        let (x_title, y_title) = self.titles();

        // Axis ticks: fitted on a provisional side, then the y-axis width.
        let fit = |side: f64| {
            let (d0, d1, ticks, digits) = fit_axis(lo, hi, 0.0, side);
            if self.range.is_some_and(|(a, b)| b > a) {
                let ticks = ticks
                    .into_iter()
                    .filter(|&t| t >= lo - 1e-9 && t <= hi + 1e-9)
                    .collect();
                (lo, hi, ticks, digits)
            } else {
                (d0, d1, ticks, digits)
            }
        };
        let (_, _, ticks0, digits0) = fit((width * 0.8).min(MAX_SIDE));
        let left = PAD + y_axis_width(&ticks0, digits0);
        let half_tick = ticks0
            .iter()
            .map(|&t| text_width(&num(t, digits0), SMALL_PT, false))
            .fold(0.0, f64::max)
            / 2.0;

        // Legend on the right if the square can stay large, else below.
        let col_w = groups
            .iter()
            .flatten()
            .map(|i| i.width())
            .fold(0.0, f64::max)
            .min(150.0);
        let right_side = width - left - 14.0 - col_w - PAD;
        let legend_right = right_side >= MIN_SIDE_RIGHT;
        let side = if legend_right {
            right_side.min(MAX_SIDE)
        } else {
            (width - left - PAD - half_tick).min(MAX_SIDE)
        };

        // A legend on the right: the plot and legend centred as a block.
        let left = if legend_right {
            left + ((width - PAD) - (left + side + 14.0 + col_w)).max(0.0) / 2.0
        } else {
            left
        };
        let (d0, d1, ticks, digits) = fit(side);
        // Pad the domain so that markers and cells at the ends of the range
        // stay off the axes.
        let pad = match &cells {
            Some(cs) => (cs.cell / 2.0).max(0.02 * (d1 - d0)),
            None => 0.025 * (d1 - d0),
        };
        let (d0, d1) = (d0 - pad, d1 + pad);
        let top = PAD + CAP_HEIGHT * SMALL_PT / 2.0 + 1.0;
        let bottom = top + side;
        let x = Scale::new(d0, d1, left, left + side);
        let y = Scale::new(d0, d1, bottom, top);

        let title_lines = super::wrap_text(&x_title, TEXT_PT, side.max(60.0), usize::MAX);
        let extra = (title_lines.len().max(1) - 1) as f64 * 1.2 * TEXT_PT;
        let axis_bottom = bottom + x_axis_height() + extra;

        // Place the legend.
        let mut legend = Vec::new();
        let height;
        if legend_right {
            let x0 = left + side + 14.0;
            let mut yc = top + ROW / 2.0;
            for (gi, g) in groups.iter().enumerate() {
                if gi > 0 {
                    yc += 0.5 * ROW;
                }
                for it in g {
                    let key_w = if it.key == Key::None {
                        0.0
                    } else {
                        KEY_W + 3.0
                    };
                    let lines = super::wrap_text(&it.text, SMALL_PT, col_w - key_w, usize::MAX);
                    for (k, line) in lines.into_iter().enumerate() {
                        let mut item = it.clone();
                        item.text = line;
                        if k > 0 {
                            // Continuation lines: indented, no key.
                            item.key = Key::None;
                            legend.push(Placed {
                                item,
                                x: x0 + key_w,
                                y: yc,
                            });
                        } else {
                            legend.push(Placed { item, x: x0, y: yc });
                        }
                        yc += ROW;
                    }
                }
            }
            height = axis_bottom.max(yc - ROW / 2.0) + PAD;
        } else {
            let x_end = width - PAD;
            let mut row_top = axis_bottom + 4.0;
            let mut cx = left;
            for g in &groups {
                for (k, it) in g.iter().enumerate() {
                    let w = it.width();
                    if k > 0 && cx + w > x_end {
                        cx = left;
                        row_top += ROW;
                    }
                    if it.key == Key::None && w > x_end - left {
                        // Too long for a line: wrapped, each line its own row.
                        for line in super::wrap_text(&it.text, SMALL_PT, x_end - left, usize::MAX) {
                            let mut item = it.clone();
                            item.text = line;
                            legend.push(Placed {
                                item,
                                x: left,
                                y: row_top + ROW / 2.0,
                            });
                            row_top += ROW;
                        }
                        row_top -= ROW;
                        cx = x_end;
                        continue;
                    }
                    legend.push(Placed {
                        item: it.clone(),
                        x: cx,
                        y: row_top + ROW / 2.0,
                    });
                    cx += w + if it.key == Key::None && k == 0 && cells.is_some() {
                        6.0
                    } else {
                        10.0
                    };
                }
                cx = left;
                row_top += ROW;
            }
            height = row_top + PAD;
        }

        let radius = (side / 150.0).clamp(1.3, 1.9);
        Layout {
            x,
            y,
            ticks,
            digits,
            x_title: title_lines,
            y_title,
            axis_y: bottom,
            legend,
            height,
            cells,
            classes,
            radius,
        }
    }
}

/// Draws a category marker centred at `p`.
fn marker<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    p: (f64, f64),
    r: f64,
    cat: Category,
) -> Result<()> {
    let (col, triangle, filled) = cat_style(cat);
    let r = if cat == Category::Unchanged {
        0.8 * r
    } else {
        r
    };
    if triangle {
        // Equilateral, pointing up, a little larger than the circle so the
        // two look the same size.
        let rr = 1.5 * r;
        let tri = |rr: f64| {
            [
                (p.0, p.1 - rr),
                (p.0 - 0.866 * rr, p.1 + 0.5 * rr),
                (p.0 + 0.866 * rr, p.1 + 0.5 * rr),
            ]
        };
        c.polygon(&tri(rr), col)?;
        if !filled {
            // Hollow: a white triangle inset by the stroke width (drawn
            // strokes of thin diagonal lines render unevenly in bitmaps).
            // Deterioration lies outside the band, on the white background.
            c.polygon(&tri(rr - 2.0 * 0.55), palette::WHITE)?;
        }
        Ok(())
    } else if filled {
        c.circle(p, r, Some(col), (col, 0.0))
    } else {
        c.circle(p, r, None, (col, 0.6))
    }
}

impl Chart for JacobsonPlot {
    fn height_pt(&self, width_pt: f64) -> f64 {
        self.layout(width_pt).height
    }

    fn draw<DB: DrawingBackend>(&self, c: &Canvas<'_, DB>) -> Result<()> {
        let lay = self.layout(c.width);
        let (xs, ys) = (lay.x, lay.y);
        let (l, r, t, b) = (xs.p0, xs.p1, ys.p1, ys.p0);
        let (d0, d1) = (xs.d0, xs.d1);
        let at = |u: f64, v: f64| (xs.map(u), ys.map(v));

        // Without data only the axes and a note are drawn.
        let valid = self.valid().count();
        let threshold = self.threshold().filter(|_| valid > 0);

        // Reliable-change band: post = pre ± threshold.
        if let Some(th) = threshold {
            // Ends beyond the area, so both edges cross it fully.
            let (u0, u1) = (d0 - th, d1 + th);
            let band = [
                at(u0, u0 - th),
                at(u1, u1 - th),
                at(u1, u1 + th),
                at(u0, u0 + th),
            ];
            c.polygon(&clip_polygon(&band, l, t, r, b), BAND)?;
        }

        // Cells.
        if let Some(cells) = &lay.cells {
            let half = cells.cell / 2.0;
            for (&(i, j), &n) in cells.shown() {
                let Some(class) = lay.classes.iter().find(|k| n >= k.lo && n <= k.hi) else {
                    continue;
                };
                let (cx, cy) = (cells.centre(i), cells.centre(j));
                let (u0, u1) = ((cx - half).max(d0), (cx + half).min(d1));
                let (v0, v1) = ((cy - half).max(d0), (cy + half).min(d1));
                if u1 <= u0 || v1 <= v0 {
                    continue;
                }
                c.rect(xs.map(u0), ys.map(v1), xs.map(u1), ys.map(v0), class.color)?;
            }
        }

        // Identity line and cut-offs.
        if valid > 0 {
            c.line(&[at(d0, d0), at(d1, d1)], palette::GREY, LINE_LW)?;
        }
        if let (Some(cut), true) = (self.cutoff(), valid > 0) {
            if cut > d0 && cut < d1 {
                let (x, y) = at(cut, cut);
                c.dashed((x, t), (x, b), palette::BLACK, LINE_LW, 2.5, 1.5)?;
                c.dashed((l, y), (r, y), palette::BLACK, LINE_LW, 2.5, 1.5)?;
            }
        }

        // Region captions, in the corners farthest from the band.
        if threshold.is_some() {
            let cap = TextStyleSpec::new(SMALL_PT).color(palette::GREY);
            let (below, above) = if self.lower_is_better {
                ("reliable improvement", "reliable deterioration")
            } else {
                ("reliable deterioration", "reliable improvement")
            };
            // A caption is left out where a client's marker (Points mode)
            // would lie under it: text over data is neither legible nor honest.
            let h = CAP_HEIGHT * SMALL_PT;
            let clear = |x0: f64, y0: f64, x1: f64, y1: f64| {
                lay.cells.is_some()
                    || !self.valid().any(|p| {
                        let (x, y) = at(p.pre, p.post);
                        let m = lay.radius + 1.0;
                        x + m >= x0 && x - m <= x1 && y + m >= y0 && y - m <= y1
                    })
            };
            let wb = super::text_width(below, SMALL_PT, false);
            if clear(r - 3.0 - wb, b - 3.0 - h, r - 3.0, b - 3.0) {
                c.text(below, r - 3.0, b - 3.0, cap.align(Align::Right))?;
            }
            let wa = super::text_width(above, SMALL_PT, false);
            if clear(l + 3.0, t + 3.0, l + 3.0 + wa, t + 3.0 + h) {
                c.text(above, l + 3.0, t + 3.0 + h, cap)?;
            }
        }

        // Clients, most common first so the rarer categories stay on top.
        if lay.cells.is_none() {
            let inside = |v: f64| v >= d0 && v <= d1;
            for cat in [
                Category::Unchanged,
                Category::Improved,
                Category::Deteriorated,
                Category::Recovered,
                Category::Harmed,
            ] {
                for p in self.valid().filter(|p| p.category == cat) {
                    if inside(p.pre) && inside(p.post) {
                        marker(c, at(p.pre, p.post), lay.radius, cat)?;
                    }
                }
            }
        }

        // Axes.
        c.line(&[(l, t), (l, b)], palette::BLACK, super::AXIS_LW)?;
        y_axis(
            c,
            &ys,
            &lay.ticks,
            lay.digits,
            l,
            &fit_text(&lay.y_title, TEXT_PT, false, b - t),
        )?;
        x_axis_lines(c, &xs, &lay.ticks, lay.digits, lay.axis_y, &lay.x_title)?;
        if valid == 0 {
            c.text(
                "No data",
                (l + r) / 2.0,
                (t + b) / 2.0 + CAP_HEIGHT * TEXT_PT / 2.0,
                TextStyleSpec::new(TEXT_PT)
                    .align(Align::Center)
                    .color(palette::GREY),
            )?;
        }

        // Legend.
        for p in &lay.legend {
            let (x, yc) = (p.x, p.y);
            let mut tx = x + KEY_W + 3.0;
            match p.item.key {
                Key::Marker(cat) => marker(c, (x + KEY_W / 2.0, yc), 1.9, cat)?,
                Key::Swatch(col) => c.rect(x + 1.0, yc - 3.5, x + 8.0, yc + 3.5, col)?,
                Key::Band => c.rect(x, yc - 3.5, x + KEY_W, yc + 3.5, BAND)?,
                Key::Dashed => {
                    c.dashed((x, yc), (x + KEY_W, yc), palette::BLACK, LINE_LW, 2.5, 1.5)?
                }
                Key::None => tx = x,
            }
            let mut spec = TextStyleSpec::new(SMALL_PT);
            if p.item.grey {
                spec = spec.color(palette::GREY);
            }
            c.text(&p.item.text, tx, yc + CAP_HEIGHT * SMALL_PT / 2.0, spec)?;
        }
        Ok(())
    }
}
