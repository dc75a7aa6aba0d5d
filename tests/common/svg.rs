//! Reading the SVG that charts write, for structure tests (shared by the
//! chart test files through `#[path = "common/svg.rs"] mod svg;`).
#![allow(dead_code)]

/// $OUTCOMES_PLOT_DIR (created), where the example-figure tests write, if
/// set.
pub fn example_dir() -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(std::env::var_os("OUTCOMES_PLOT_DIR")?);
    std::fs::create_dir_all(&dir).unwrap();
    Some(dir)
}

/// XML entities back to text.
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The text content of every `<text>` element, unescaped.
pub fn texts(svg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find("<text") {
        rest = &rest[i..];
        let start = rest.find('>').unwrap() + 1;
        let end = rest.find("</text>").unwrap();
        out.push(unescape(rest[start..end].trim()));
        rest = &rest[end..];
    }
    out
}

/// Number of `<tag` elements whose attributes contain `attr`.
pub fn count(svg: &str, tag: &str, attr: &str) -> usize {
    svg.split(&format!("<{tag} "))
        .skip(1)
        .filter(|s| s[..s.find('>').unwrap()].contains(attr))
        .count()
}

use outcomes::plot::{render_svg, text_width, Chart, Width};

/// Resolution the structure tests render at.
pub const DPI: u32 = 300;
/// Pixels per point at [`DPI`].
pub const PX_PER_PT: f64 = DPI as f64 / 72.0;

/// Whether `want` is one of the texts.
pub fn has(t: &[String], want: &str) -> bool {
    t.iter().any(|s| s == want)
}

/// Asserts that every text of `wants` is drawn.
pub fn assert_texts(svg: &str, wants: &[&str]) {
    let t = texts(svg);
    for want in wants {
        assert!(has(&t, want), "missing text {want:?} in {t:?}");
    }
}

/// The attributes of every `<tag` element.
pub fn elements<'a>(svg: &'a str, tag: &str) -> Vec<&'a str> {
    svg.split(&format!("<{tag} "))
        .skip(1)
        .map(|s| &s[..s.find('>').unwrap()])
        .collect()
}

/// A numeric attribute.
pub fn attr(el: &str, name: &str) -> Option<f64> {
    let key = format!(" {name}=\"");
    let el = format!(" {el}");
    let i = el.find(&key)? + key.len();
    el[i..i + el[i..].find('"')?].parse().ok()
}

/// A text attribute.
pub fn attr_str<'a>(el: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let i = el.find(&key)? + key.len();
    Some(&el[i..i + el[i..].find('"')?])
}

/// Horizontal text boxes in pixels (x0, x1, top, bottom, size_pt, text);
/// rotated text is left out.
pub fn text_boxes(svg: &str) -> Vec<(f64, f64, f64, f64, f64, String)> {
    let mut out = Vec::new();
    for chunk in svg.split("<text ").skip(1) {
        let head = &chunk[..chunk.find('>').unwrap()];
        let body =
            unescape(chunk[chunk.find('>').unwrap() + 1..chunk.find("</text>").unwrap()].trim());
        let em = attr(head, "font-size").unwrap();
        if head.contains("rotate(") {
            continue;
        }
        let size_pt = em / PX_PER_PT;
        let bold = head.contains("font-weight=\"bold\"");
        let w = text_width(&body, size_pt, bold) * PX_PER_PT;
        let x = attr(head, "x").unwrap();
        let y = attr(head, "y").unwrap();
        let x0 = match attr_str(head, "text-anchor").unwrap() {
            "start" => x,
            "end" => x - w,
            _ => x - w / 2.0,
        };
        // The glyphs run from about 0.05 em to 0.95 em below the top.
        out.push((x0, x0 + w, y + 0.05 * em, y + 0.95 * em, size_pt, body));
    }
    out
}

/// Every text at least 7 pt, inside the figure's width, and no two
/// overlapping.
pub fn assert_text_ok(svg: &str, width: Width, what: &str) {
    let w_px = width.pixels(DPI) as f64;
    for el in elements(svg, "text") {
        let em = attr(el, "font-size").unwrap();
        assert!(
            em / PX_PER_PT >= 7.0 - 1e-6,
            "{what}: text below 7 pt: {el}"
        );
    }
    let boxes = text_boxes(svg);
    for b in &boxes {
        assert!(
            b.0 >= -0.5 && b.1 <= w_px + 0.5,
            "{what}: {:?} runs off the figure ({:.0}..{:.0} of {w_px})",
            b.5,
            b.0,
            b.1
        );
    }
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let overlap = a.0 < b.1 - 0.5 && b.0 < a.1 - 0.5 && a.2 < b.3 - 0.5 && b.2 < a.3 - 0.5;
            assert!(!overlap, "{what}: {:?} overlaps {:?}", a.5, b.5);
        }
    }
}

/// The chart as SVG at [`DPI`], checked to be one `<svg>` document.
pub fn svg(chart: &impl Chart, width: Width) -> String {
    let s = render_svg(chart, width, DPI).unwrap();
    assert!(s.starts_with("<svg"), "{}", &s[..60.min(s.len())]);
    assert!(s.trim_end().ends_with("</svg>"));
    s
}

/// Asserts a PNG signature and returns the image's (width, height) in
/// pixels (IHDR: big-endian, at bytes 16..24).
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}
