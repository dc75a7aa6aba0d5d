//! Journal-quality charts: a shared theme, a small drawing canvas in points,
//! and output to SVG or PNG.
//!
//! Every chart is a pure function of a plain data struct ([`forest::ForestPlot`],
//! [`funnel::FunnelPlot`], [`shares::SharesPlot`]) implementing [`Chart`]; the
//! caller converts command results into these structs and calls [`save`].
//!
//! Layout is done in typographic points (1 pt = 1/72 inch) so that a figure
//! looks the same at any resolution: the width is a journal column
//! ([`Width::Single`] 85 mm or [`Width::Double`] 175 mm), the height follows
//! from the content, and the `dpi` only sets how many pixels a point gets.
//! Text uses Liberation Sans (SIL Open Font License 1.1, metric-compatible
//! with Arial), embedded in the binary, so no system font is read at run time.
//!
//! Colours: the Okabe–Ito palette, safe for the common forms of colour vision
//! deficiency (Okabe, M., & Ito, K. (2008). Color universal design (CUD): How
//! to make figures and presentations that are friendly to colorblind people.
//! <https://jfly.uni-koeln.de/color/>).

pub mod caterpillar;
pub mod change_groups;
pub mod forest;
pub mod funnel;
pub mod jacobson;
pub mod rates_funnel;
pub mod replication;
pub mod shares;
pub mod trajectories;

use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontFamily, FontStyle, FontTransform, RGBAColor};
use std::path::Path;
use std::sync::OnceLock;

/// The font family name under which the embedded font is registered. It is
/// also written as the SVG `font-family`, so a viewer without Liberation Sans
/// falls back to the metric-compatible Arial, then any sans-serif.
pub const FONT_FAMILY: &str = "Liberation Sans, Arial, Helvetica, sans-serif";

static FONT_REGULAR: &[u8] = include_bytes!("../../assets/fonts/LiberationSans-Regular.ttf");
static FONT_BOLD: &[u8] = include_bytes!("../../assets/fonts/LiberationSans-Bold.ttf");

/// ab_glyph (plotters' `ab_glyph` feature) scales a font so that its height
/// (hhea ascender − descender) equals the requested size: for Liberation Sans
/// (1854 + 434) / 2048 em. Multiplying an em size by this gives plotters' size.
const AB_GLYPH_HEIGHT_PER_EM: f64 = (1854.0 + 434.0) / 2048.0;
/// plotters' SVG backend writes `font-size = size / 1.24`.
const SVG_SIZE_PER_EM: f64 = 1.24;

/// Registers the embedded fonts with plotters once per process.
pub fn register_fonts() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT_REGULAR).is_ok()
            && plotters::style::register_font(FONT_FAMILY, FontStyle::Bold, FONT_BOLD).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::other("cannot load the embedded chart font"))
    }
}

// ---------------------------------------------------------------- theme ---

/// Figure width: a journal column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Width {
    /// Single column, 85 mm.
    Single,
    /// Double column (full page width), 175 mm.
    Double,
}

impl Width {
    pub fn mm(self) -> f64 {
        match self {
            Width::Single => 85.0,
            Width::Double => 175.0,
        }
    }
    pub fn pt(self) -> f64 {
        mm_to_pt(self.mm())
    }
    /// Pixel width at `dpi` (85 mm at 300 dpi = 1004 px).
    pub fn pixels(self, dpi: u32) -> u32 {
        (self.mm() / 25.4 * dpi as f64).round() as u32
    }
}

/// Default PNG resolution (`--dpi`).
pub const DEFAULT_DPI: u32 = 300;

pub fn mm_to_pt(mm: f64) -> f64 {
    mm / 25.4 * 72.0
}

/// Text sizes in points at print size (journals ask for at least 6–8 pt).
pub const TEXT_PT: f64 = 8.0;
/// Tick labels and table text: never below 7 pt.
pub const SMALL_PT: f64 = 7.0;
/// Line widths in points.
pub const AXIS_LW: f64 = 0.6;
pub const LINE_LW: f64 = 0.6;

/// Okabe & Ito (2008) colour-blind-safe palette.
pub mod palette {
    use plotters::style::RGBColor;
    pub const BLACK: RGBColor = RGBColor(0, 0, 0);
    pub const ORANGE: RGBColor = RGBColor(0xE6, 0x9F, 0x00);
    pub const SKY_BLUE: RGBColor = RGBColor(0x56, 0xB4, 0xE9);
    pub const BLUISH_GREEN: RGBColor = RGBColor(0x00, 0x9E, 0x73);
    pub const YELLOW: RGBColor = RGBColor(0xF0, 0xE4, 0x42);
    pub const BLUE: RGBColor = RGBColor(0x00, 0x72, 0xB2);
    pub const VERMILLION: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
    pub const REDDISH_PURPLE: RGBColor = RGBColor(0xCC, 0x79, 0xA7);
    /// Neutral greys for axes, reference lines and shading.
    pub const GREY: RGBColor = RGBColor(0x60, 0x60, 0x60);
    pub const WHITE: RGBColor = RGBColor(0xFF, 0xFF, 0xFF);
}

/// A chart: its height follows from its content and the width.
pub trait Chart {
    /// Height in points for a figure `width_pt` wide.
    fn height_pt(&self, width_pt: f64) -> f64;
    /// Draws onto a canvas `canvas.width` × `canvas.height` points.
    fn draw<DB: DrawingBackend>(&self, canvas: &Canvas<'_, DB>) -> Result<()>;
}

// ------------------------------------------------------------- measure ---

/// Width in points of `text` set at `size_pt` (Liberation Sans advances and
/// kerning, as ab_glyph lays them out).
pub fn text_width(text: &str, size_pt: f64, bold: bool) -> f64 {
    if text.is_empty() || register_fonts().is_err() {
        return 0.0;
    }
    // Measure at 100 px per em for precision, then scale.
    let style = if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    };
    let font = FontDesc::new(
        FontFamily::Name(FONT_FAMILY),
        100.0 * AB_GLYPH_HEIGHT_PER_EM,
        style,
    );
    match font.box_size(text) {
        Ok((w, _)) => w as f64 / 100.0 * size_pt,
        // Fallback: an average Arial advance.
        Err(_) => text.chars().count() as f64 * 0.55 * size_pt,
    }
}

/// Shortens `text` with an ellipsis so it fits `max_pt`.
pub fn fit_text(text: &str, size_pt: f64, bold: bool, max_pt: f64) -> String {
    if text_width(text, size_pt, bold) <= max_pt {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let (mut lo, mut hi) = (0usize, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let s: String = chars[..mid].iter().collect::<String>() + "…";
        if text_width(&s, size_pt, bold) <= max_pt {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    chars[..lo]
        .iter()
        .collect::<String>()
        .trim_end()
        .to_string()
        + "…"
}

/// Words of `text` set at `size_pt` in lines at most `max_pt` wide, broken
/// only at plain spaces (words joined by no-break spaces stay together); at
/// most `max_lines` lines, the last holding the rest; a line that is still
/// too wide is shortened with an ellipsis ([`fit_text`]).
pub fn wrap_text(text: &str, size_pt: f64, max_pt: f64, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for w in text.split(' ').filter(|w| !w.is_empty()) {
        let cand = if cur.is_empty() {
            w.to_string()
        } else {
            format!("{cur} {w}")
        };
        if cur.is_empty() || text_width(&cand, size_pt, false) <= max_pt {
            cur = cand;
        } else {
            lines.push(std::mem::take(&mut cur));
            cur = w.to_string();
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    if lines.len() > max_lines.max(1) {
        let keep = max_lines.max(1) - 1;
        let rest = lines[keep..].join(" ");
        lines.truncate(keep);
        lines.push(rest);
    }
    lines
        .into_iter()
        .map(|l| fit_text(&l, size_pt, false, max_pt))
        .collect()
}

/// A number for a chart: `digits` decimals, typographic minus sign.
pub fn num(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return "NA".to_string();
    }
    let s = format!("{x:.digits$}");
    // "-0.00" is zero.
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        return s[1..].to_string();
    }
    s.replacen('-', "\u{2212}", 1)
}

/// Tick positions: "nice numbers" (1, 2, 5 × 10^k) covering [lo, hi]
/// (Heckbert, P. S. (1990). Nice numbers for graph labels. In Graphics Gems,
/// pp. 61–63). Returns the ticks (first ≤ lo, last ≥ hi) and the step.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - d, hi + d)
    };
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    let step = nice * mag;
    let first = (lo / step + 1e-9).floor();
    let last = (hi / step - 1e-9).ceil();
    let ticks = (first as i64..=last as i64)
        .map(|i| {
            let v = i as f64 * step;
            if v.abs() < step * 1e-9 {
                0.0
            } else {
                v
            }
        })
        .collect();
    (ticks, step)
}

/// Axis limits hugging [lo, hi]: rounded outward to half a tick step, with
/// the ticks that fall inside. Saves the empty half-axis that rounding to a
/// whole step can leave in a narrow plot.
pub fn tight_axis(lo: f64, hi: f64, target: usize) -> (f64, f64, Vec<f64>, usize) {
    let (ticks, step) = nice_ticks(lo, hi, target);
    let m = step / 2.0;
    let d0 = (lo / m + 1e-9).floor() * m;
    let d1 = (hi / m - 1e-9).ceil() * m;
    let (d0, d1) = if d1 > d0 {
        (d0, d1)
    } else {
        (ticks[0], *ticks.last().unwrap())
    };
    let inside: Vec<f64> = ticks
        .into_iter()
        .filter(|&t| t >= d0 - 1e-9 && t <= d1 + 1e-9)
        .collect();
    (d0, d1, inside, tick_digits(step))
}

/// An x axis for data in [lo, hi] drawn from `p0` to `p1` points: as many
/// ticks as leave at least 1 em between neighbouring labels set at
/// [`SMALL_PT`]. Returns (axis start, axis end, ticks, decimals).
pub fn fit_axis(lo: f64, hi: f64, p0: f64, p1: f64) -> (f64, f64, Vec<f64>, usize) {
    let mut target = ((p1 - p0) / (2.0 * SMALL_PT)).clamp(2.0, 10.0) as usize;
    loop {
        let (d0, d1, ticks, digits) = tight_axis(lo, hi, target);
        let sc = Scale::new(d0, d1, p0, p1);
        let widest = ticks
            .iter()
            .map(|&t| text_width(&num(t, digits), SMALL_PT, false))
            .fold(0.0, f64::max);
        let spacing = ticks
            .windows(2)
            .map(|w| (sc.map(w[1]) - sc.map(w[0])).abs())
            .fold(f64::INFINITY, f64::min);
        if spacing >= widest + SMALL_PT || target <= 2 {
            return (d0, d1, ticks, digits);
        }
        target -= 1;
    }
}

/// Decimals needed to print ticks `step` apart.
pub fn tick_digits(step: f64) -> usize {
    let mut d = 0;
    while d < 6
        && ((step * 10f64.powi(d as i32)).round() - step * 10f64.powi(d as i32)).abs() > 1e-6
    {
        d += 1;
    }
    d
}

/// A linear map from data to points.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub d0: f64,
    pub d1: f64,
    pub p0: f64,
    pub p1: f64,
}

impl Scale {
    pub fn new(d0: f64, d1: f64, p0: f64, p1: f64) -> Self {
        Scale { d0, d1, p0, p1 }
    }
    pub fn map(&self, v: f64) -> f64 {
        if self.d1 == self.d0 {
            return (self.p0 + self.p1) / 2.0;
        }
        self.p0 + (v - self.d0) / (self.d1 - self.d0) * (self.p1 - self.p0)
    }
}

// -------------------------------------------------------------- canvas ---

/// Horizontal alignment of text at its anchor point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// How a piece of text is set.
#[derive(Debug, Clone, Copy)]
pub struct TextStyleSpec {
    pub size_pt: f64,
    pub bold: bool,
    pub align: Align,
    pub color: RGBColor,
    /// Rotated 90° counter-clockwise (reads bottom to top), for y-axis titles.
    pub vertical: bool,
}

impl TextStyleSpec {
    pub fn new(size_pt: f64) -> Self {
        TextStyleSpec {
            size_pt,
            bold: false,
            align: Align::Left,
            color: palette::BLACK,
            vertical: false,
        }
    }
    pub fn bold(mut self) -> Self {
        self.bold = true;
        self
    }
    pub fn align(mut self, align: Align) -> Self {
        self.align = align;
        self
    }
    pub fn color(mut self, color: RGBColor) -> Self {
        self.color = color;
        self
    }
    pub fn vertical(mut self) -> Self {
        self.vertical = true;
        self
    }
}

/// Cap height of Liberation Sans (1409/2048 em): to centre text on a row,
/// put its baseline at `centre + CAP_HEIGHT / 2 × size`.
pub const CAP_HEIGHT: f64 = 1409.0 / 2048.0;

/// A drawing surface in points over a plotters backend.
pub struct Canvas<'a, DB: DrawingBackend> {
    area: &'a DrawingArea<DB, Shift>,
    px_per_pt: f64,
    svg: bool,
    /// Size in points.
    pub width: f64,
    pub height: f64,
}

fn draw_err<E: std::fmt::Display>(e: E) -> Error {
    Error::other(format!("cannot draw the chart: {e}"))
}

impl<DB: DrawingBackend> Canvas<'_, DB> {
    fn px(&self, v: f64) -> i32 {
        (v * self.px_per_pt).round() as i32
    }
    fn pt(&self, (x, y): (f64, f64)) -> (i32, i32) {
        (self.px(x), self.px(y))
    }
    fn stroke(&self, width_pt: f64) -> u32 {
        ((width_pt * self.px_per_pt).round() as u32).max(1)
    }

    /// A polyline.
    pub fn line(&self, pts: &[(f64, f64)], color: RGBColor, width_pt: f64) -> Result<()> {
        let style = ShapeStyle {
            color: color.to_rgba(),
            filled: false,
            stroke_width: self.stroke(width_pt),
        };
        let pts: Vec<(i32, i32)> = pts.iter().map(|&p| self.pt(p)).collect();
        self.area
            .draw(&PathElement::new(pts, style))
            .map_err(draw_err)
    }

    /// A dashed straight line (`dash` on, `gap` off, in points), drawn as one
    /// polyline per dash.
    pub fn dashed(
        &self,
        a: (f64, f64),
        b: (f64, f64),
        color: RGBColor,
        width_pt: f64,
        dash: f64,
        gap: f64,
    ) -> Result<()> {
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        if len == 0.0 {
            return Ok(());
        }
        let (ux, uy) = ((b.0 - a.0) / len, (b.1 - a.1) / len);
        let mut s = 0.0;
        while s < len {
            let e = (s + dash).min(len);
            self.line(
                &[(a.0 + ux * s, a.1 + uy * s), (a.0 + ux * e, a.1 + uy * e)],
                color,
                width_pt,
            )?;
            s += dash + gap;
        }
        Ok(())
    }

    /// A filled rectangle.
    pub fn rect(&self, x0: f64, y0: f64, x1: f64, y1: f64, fill: RGBColor) -> Result<()> {
        let (a, b) = (
            self.pt((x0.min(x1), y0.min(y1))),
            self.pt((x0.max(x1), y0.max(y1))),
        );
        // At least one pixel, so a tiny weight stays visible.
        let b = (b.0.max(a.0 + 1), b.1.max(a.1 + 1));
        self.area
            .draw(&Rectangle::new([a, b], fill.filled()))
            .map_err(draw_err)
    }

    /// A circle: filled, or outlined (`fill = None`).
    pub fn circle(
        &self,
        c: (f64, f64),
        r_pt: f64,
        fill: Option<RGBColor>,
        stroke: (RGBColor, f64),
    ) -> Result<()> {
        let r = ((r_pt * self.px_per_pt).round() as i32).max(1);
        let style = match fill {
            Some(f) => ShapeStyle {
                color: f.to_rgba(),
                filled: true,
                stroke_width: 0,
            },
            None => ShapeStyle {
                color: stroke.0.to_rgba(),
                filled: false,
                stroke_width: self.stroke(stroke.1),
            },
        };
        self.area
            .draw(&Circle::new(self.pt(c), r, style))
            .map_err(draw_err)
    }

    /// A filled polygon.
    pub fn polygon(&self, pts: &[(f64, f64)], fill: RGBColor) -> Result<()> {
        if pts.len() < 3 {
            return Ok(());
        }
        let pts: Vec<(i32, i32)> = pts.iter().map(|&p| self.pt(p)).collect();
        self.area
            .draw(&Polygon::new(pts, fill.filled()))
            .map_err(draw_err)
    }

    /// Text with its baseline at `baseline` (points from the top) and its
    /// anchor at `x` (left, centre or right edge per `spec.align`). For
    /// vertical text `x` is the baseline and `baseline` the anchor along y.
    pub fn text(&self, s: &str, x: f64, baseline: f64, spec: TextStyleSpec) -> Result<()> {
        if s.is_empty() {
            return Ok(());
        }
        let em_px = spec.size_pt * self.px_per_pt;
        // plotters places text by its top (VPos::Top); where the baseline
        // lands below that top differs by backend: SVG writes dy="0.76em",
        // the bitmap backend puts the baseline at size/2 (ab_glyph size).
        let (size, drop_em) = if self.svg {
            (em_px * SVG_SIZE_PER_EM, 0.76)
        } else {
            (em_px * AB_GLYPH_HEIGHT_PER_EM, AB_GLYPH_HEIGHT_PER_EM / 2.0)
        };
        let h = match spec.align {
            Align::Left => HPos::Left,
            Align::Center => HPos::Center,
            Align::Right => HPos::Right,
        };
        let style = if spec.bold {
            FontStyle::Bold
        } else {
            FontStyle::Normal
        };
        let color: RGBAColor = spec.color.to_rgba();
        let mut font = FontDesc::new(FontFamily::Name(FONT_FAMILY), size, style);
        let pos = if spec.vertical {
            font = font.transform(FontTransform::Rotate270);
            // Rotated frame: "down" is +x on the page.
            (
                (x * self.px_per_pt - drop_em * em_px).round() as i32,
                self.px(baseline),
            )
        } else {
            (
                self.px(x),
                (baseline * self.px_per_pt - drop_em * em_px).round() as i32,
            )
        };
        let ts = font.color(&color).pos(Pos::new(h, VPos::Top));
        self.area
            .draw(&Text::new(s.to_string(), pos, ts))
            .map_err(draw_err)
    }
}

/// Clips a polygon to the rectangle [x0, x1] × [y0, y1] (Sutherland, I. E., &
/// Hodgman, G. W. (1974). Reentrant polygon clipping. CACM 17(1), 32–42).
pub fn clip_polygon(pts: &[(f64, f64)], x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<(f64, f64)> {
    type Inside = fn(&(f64, f64), f64) -> bool;
    let edges: [(Inside, f64, bool); 4] = [
        (|p, v| p.0 >= v, x0, true),
        (|p, v| p.0 <= v, x1, true),
        (|p, v| p.1 >= v, y0, false),
        (|p, v| p.1 <= v, y1, false),
    ];
    let mut out = pts.to_vec();
    for (inside, v, vertical) in edges {
        let input = std::mem::take(&mut out);
        if input.is_empty() {
            break;
        }
        let cross = |a: (f64, f64), b: (f64, f64)| {
            if vertical {
                let t = (v - a.0) / (b.0 - a.0);
                (v, a.1 + t * (b.1 - a.1))
            } else {
                let t = (v - a.1) / (b.1 - a.1);
                (a.0 + t * (b.0 - a.0), v)
            }
        };
        let mut prev = *input.last().unwrap();
        for &cur in &input {
            match (inside(&cur, v), inside(&prev, v)) {
                (true, true) => out.push(cur),
                (true, false) => {
                    out.push(cross(prev, cur));
                    out.push(cur);
                }
                (false, true) => out.push(cross(prev, cur)),
                (false, false) => {}
            }
            prev = cur;
        }
    }
    out
}

/// Draws a horizontal axis at `y` (points) for `scale`, with ticks pointing
/// down, tick labels and a centred title. Returns the y below the title.
pub fn x_axis<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    scale: &Scale,
    ticks: &[f64],
    digits: usize,
    y: f64,
    title: &str,
) -> Result<f64> {
    x_axis_lines(c, scale, ticks, digits, y, &[title])
}

/// [`x_axis`] with a title of several lines (already wrapped), 1.2 em
/// apart; returns 0.3 em below the last line's baseline.
pub fn x_axis_lines<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    scale: &Scale,
    ticks: &[f64],
    digits: usize,
    y: f64,
    title: &[impl AsRef<str>],
) -> Result<f64> {
    let tick_len = 3.0;
    c.line(&[(scale.p0, y), (scale.p1, y)], palette::BLACK, AXIS_LW)?;
    let label_base = y + tick_len + 2.0 + CAP_HEIGHT * SMALL_PT;
    for &t in ticks {
        let x = scale.map(t);
        c.line(&[(x, y), (x, y + tick_len)], palette::BLACK, AXIS_LW)?;
        c.text(
            &num(t, digits),
            x,
            label_base,
            TextStyleSpec::new(SMALL_PT).align(Align::Center),
        )?;
    }
    let title_base = label_base + 3.0 + TEXT_PT;
    for (k, line) in title.iter().enumerate() {
        c.text(
            line.as_ref(),
            (scale.p0 + scale.p1) / 2.0,
            title_base + k as f64 * 1.2 * TEXT_PT,
            TextStyleSpec::new(TEXT_PT).align(Align::Center),
        )?;
    }
    let lines = title.len().max(1) as f64;
    Ok(title_base + (lines - 1.0) * 1.2 * TEXT_PT + 0.3 * TEXT_PT)
}

/// Height an [`x_axis`] takes below its line, in points.
pub fn x_axis_height() -> f64 {
    3.0 + 2.0 + CAP_HEIGHT * SMALL_PT + 3.0 + TEXT_PT + 0.3 * TEXT_PT
}

/// Width a [`y_axis`] takes left of its line, in points: the title, the
/// widest tick label and the ticks.
pub fn y_axis_width(ticks: &[f64], digits: usize) -> f64 {
    y_axis_width_with(ticks, |t| num(t, digits))
}

/// [`y_axis_width`] for tick labels written by `label`.
pub fn y_axis_width_with(ticks: &[f64], label: impl Fn(f64) -> String) -> f64 {
    let widest = ticks
        .iter()
        .map(|&t| text_width(&label(t), SMALL_PT, false))
        .fold(0.0, f64::max);
    TEXT_PT + 4.0 + widest + 2.0 + 3.0
}

/// Draws a vertical axis at `x` (points) for `scale` (data to y points),
/// with ticks pointing left, tick labels and a title set vertically at the
/// left edge `x − y_axis_width(..)`.
pub fn y_axis<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    scale: &Scale,
    ticks: &[f64],
    digits: usize,
    x: f64,
    title: &str,
) -> Result<()> {
    y_axis_with(c, scale, ticks, |t| num(t, digits), x, title)
}

/// [`y_axis`] with tick labels written by `label` (e.g. "20%").
pub fn y_axis_with<DB: DrawingBackend>(
    c: &Canvas<'_, DB>,
    scale: &Scale,
    ticks: &[f64],
    label: impl Fn(f64) -> String,
    x: f64,
    title: &str,
) -> Result<()> {
    let tick_len = 3.0;
    c.line(&[(x, scale.p0), (x, scale.p1)], palette::BLACK, AXIS_LW)?;
    for &t in ticks {
        let y = scale.map(t);
        c.line(&[(x - tick_len, y), (x, y)], palette::BLACK, AXIS_LW)?;
        c.text(
            &label(t),
            x - tick_len - 2.0,
            y + CAP_HEIGHT * SMALL_PT / 2.0,
            TextStyleSpec::new(SMALL_PT).align(Align::Right),
        )?;
    }
    let left = x - y_axis_width_with(ticks, &label);
    c.text(
        title,
        left + 0.8 * TEXT_PT,
        (scale.p0 + scale.p1) / 2.0,
        TextStyleSpec::new(TEXT_PT).align(Align::Center).vertical(),
    )?;
    Ok(())
}

// -------------------------------------------------------------- output ---

/// Output format, from the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    pub fn from_path(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("svg") => Ok(Format::Svg),
            Some("png") => Ok(Format::Png),
            _ => Err(Error::input(format!(
                "cannot write the chart to '{}': the file name must end in .svg or .png",
                path.display()
            ))),
        }
    }
}

fn figure_size(chart: &impl Chart, width: Width, dpi: u32) -> (f64, f64, u32, u32) {
    let w_pt = width.pt();
    let h_pt = chart.height_pt(w_pt).max(36.0);
    let w_px = width.pixels(dpi);
    let h_px = (h_pt / 72.0 * dpi as f64).round() as u32;
    (w_pt, h_pt, w_px, h_px.max(1))
}

/// Renders `chart` as an SVG document. Coordinates are pixels at `dpi`; the
/// `width`/`height` attributes give the print size in millimetres.
pub fn render_svg(chart: &impl Chart, width: Width, dpi: u32) -> Result<String> {
    register_fonts()?;
    let dpi = dpi.max(1);
    let (w_pt, h_pt, w_px, h_px) = figure_size(chart, width, dpi);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (w_px, h_px)).into_drawing_area();
        root.fill(&palette::WHITE).map_err(draw_err)?;
        let canvas = Canvas {
            area: &root,
            px_per_pt: dpi as f64 / 72.0,
            svg: true,
            width: w_pt,
            height: h_pt,
        };
        chart.draw(&canvas)?;
        root.present().map_err(draw_err)?;
    }
    let old = format!("width=\"{w_px}\" height=\"{h_px}\"");
    let new = format!(
        "width=\"{:.2}mm\" height=\"{:.2}mm\"",
        width.mm(),
        h_pt / 72.0 * 25.4
    );
    Ok(buf.replacen(&old, &new, 1))
}

/// Renders `chart` as PNG bytes (RGB, 8 bit, resolution recorded in pHYs).
pub fn render_png(chart: &impl Chart, width: Width, dpi: u32) -> Result<Vec<u8>> {
    register_fonts()?;
    let dpi = dpi.max(1);
    let (w_pt, h_pt, w_px, h_px) = figure_size(chart, width, dpi);
    let n = (w_px as usize)
        .checked_mul(h_px as usize)
        .and_then(|n| n.checked_mul(3))
        .filter(|&n| n <= 1 << 31)
        .ok_or_else(|| {
            Error::input(format!(
                "the chart would be {w_px} × {h_px} pixels, too large for PNG; use .svg or a lower --dpi"
            ))
        })?;
    let mut rgb = vec![255u8; n];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w_px, h_px)).into_drawing_area();
        root.fill(&palette::WHITE).map_err(draw_err)?;
        let canvas = Canvas {
            area: &root,
            px_per_pt: dpi as f64 / 72.0,
            svg: false,
            width: w_pt,
            height: h_pt,
        };
        chart.draw(&canvas)?;
        root.present().map_err(draw_err)?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w_px, h_px);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let ppm = (dpi as f64 / 0.0254).round() as u32;
        enc.set_pixel_dims(Some(png::PixelDimensions {
            xppu: ppm,
            yppu: ppm,
            unit: png::Unit::Meter,
        }));
        let png_err = |e: png::EncodingError| Error::other(format!("cannot encode the PNG: {e}"));
        let mut w = enc.write_header().map_err(png_err)?;
        w.write_image_data(&rgb).map_err(png_err)?;
        w.finish().map_err(png_err)?;
    }
    Ok(out)
}

/// Writes `chart` to `path` as SVG or PNG (by extension), atomically: the
/// figure is rendered in memory first, so a failure never leaves a file.
pub fn save(chart: &impl Chart, path: &Path, width: Width, dpi: u32) -> Result<()> {
    let bytes = match Format::from_path(path)? {
        Format::Svg => render_svg(chart, width, dpi)?.into_bytes(),
        Format::Png => render_png(chart, width, dpi)?,
    };
    crate::output::write_atomic(path, &bytes)
}
