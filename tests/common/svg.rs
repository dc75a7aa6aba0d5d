//! Reading the SVG that charts write, for structure tests (shared by the
//! chart test files through `#[path = "common/svg.rs"] mod svg;`).
#![allow(dead_code)]

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
