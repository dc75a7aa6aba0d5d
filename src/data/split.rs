//! Splitting delimited text into records, for the one-pass reader's worker
//! threads: the csv crate's reading (csv-core's state machine with its
//! defaults: `"` quotes, a doubled `""` inside quotes is one `"`, any of
//! `\r`, `\n` or `\r\n` ends a record, empty lines are skipped, a quote that
//! does not open a field is an ordinary byte) written out for whole blocks,
//! so that blocks cut at record boundaries ([`cut`]) can be split on several
//! threads at once. `tests` compare both with the csv crate on every byte
//! pattern of a small alphabet.

/// Zero bytes after a block's records (and after a record's unquoted
/// copies), so that [`Record::packed`] can load 16 bytes from any field.
pub const PAD: usize = 16;

/// Where a record's fields are: most are spans of the block; a quoted field
/// with a doubled quote or text after its closing quote is unquoted into
/// the record's own buffer.
#[derive(Debug, Default)]
pub struct Fields {
    buf: Vec<u8>,
    /// (start, end, in `buf` rather than the block)
    spans: Vec<(usize, usize, bool)>,
}

/// One record's fields.
#[derive(Clone, Copy)]
pub struct Record<'a> {
    bytes: &'a [u8],
    f: &'a Fields,
}

impl<'a> Record<'a> {
    pub fn len(&self) -> usize {
        self.f.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.f.spans.is_empty()
    }

    pub fn get(&self, i: usize) -> &'a [u8] {
        let (a, b, own) = self.f.spans[i];
        if own {
            &self.f.buf[a..b]
        } else {
            &self.bytes[a..b]
        }
    }

    /// Field `i` as a little-endian integer of its bytes, when it has at
    /// most 15 (the top byte is left zero for a tag).
    pub fn packed(&self, i: usize) -> Option<u128> {
        let (a, b, own) = self.f.spans[i];
        let len = b - a;
        if len > 15 {
            return None;
        }
        let src = if own { &self.f.buf } else { self.bytes };
        // PAD zero bytes follow every field's end, so a..a+16 is in bounds
        let word = u128::from_le_bytes(src[a..a + 16].try_into().ok()?);
        Some(word & ((1u128 << (8 * len)) - 1))
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// Bytes that end an unquoted field.
fn stops(delimiter: u8) -> [bool; 256] {
    let mut t = [false; 256];
    t[usize::from(delimiter)] = true;
    t[usize::from(b'\r')] = true;
    t[usize::from(b'\n')] = true;
    t
}

/// Calls `each(start, record)` for every record of `bytes[..len]`, which
/// begin at a record boundary (`start`: the offset of the record's first
/// byte, after any empty lines); `bytes` holds at least [`PAD`] bytes after
/// `len`, zero. Stops early when `each` returns false and returns the
/// offset just after the last record given (before its line end).
pub fn records(
    bytes: &[u8],
    len: usize,
    delimiter: u8,
    mut each: impl FnMut(usize, Record) -> bool,
) -> usize {
    assert!(
        bytes.len() >= len + PAD,
        "records: the bytes are not padded"
    );
    let stop = stops(delimiter);
    let mut f = Fields::default();
    let mut i = 0usize;
    let n = len;
    loop {
        while i < n && matches!(bytes[i], b'\r' | b'\n') {
            i += 1;
        }
        if i == n {
            return i;
        }
        let start = i;
        f.buf.clear();
        f.spans.clear();
        // one field per turn; `i` is at the field's first byte
        loop {
            if i < n && bytes[i] == b'"' {
                // quoted: up to the closing quote, `""` standing for one quote
                i += 1;
                let from = i;
                let mut doubled = false;
                let mut close = n; // no closing quote: to the end
                while let Some(q) = memchr::memchr(b'"', &bytes[i..n]) {
                    let at = i + q;
                    if at + 1 < n && bytes[at + 1] == b'"' {
                        doubled = true;
                        i = at + 2;
                    } else {
                        close = at;
                        i = at + 1;
                        break;
                    }
                }
                if close == n {
                    i = n;
                }
                let tail = i < n && !stop[usize::from(bytes[i])];
                if !doubled && !tail {
                    f.spans.push((from, close, false));
                } else {
                    // unquote into the record's buffer, then any text after
                    // the closing quote (an ordinary byte run)
                    let begin = f.buf.len();
                    let mut k = from;
                    while let Some(q) = memchr::memchr(b'"', &bytes[k..close]) {
                        f.buf.extend_from_slice(&bytes[k..=k + q]);
                        k += q + 2;
                    }
                    f.buf.extend_from_slice(&bytes[k..close]);
                    let after = i;
                    while i < n && !stop[usize::from(bytes[i])] {
                        i += 1;
                    }
                    f.buf.extend_from_slice(&bytes[after..i]);
                    f.spans.push((begin, f.buf.len(), true));
                }
            } else {
                let from = i;
                while i < n && !stop[usize::from(bytes[i])] {
                    i += 1;
                }
                f.spans.push((from, i, false));
            }
            if i < n && bytes[i] == delimiter {
                i += 1;
                continue;
            }
            break; // a line end or the end of the bytes
        }
        f.buf.extend_from_slice(&[0u8; PAD]);
        if !each(start, Record { bytes, f: &f }) {
            return i;
        }
    }
}

/// The offset just after the last line end outside quotes in `bytes`, which
/// begin at a record boundary: the bytes before it are whole records. None
/// when there is no such line end.
pub fn cut(bytes: &[u8], delimiter: u8) -> Option<usize> {
    if memchr::memchr(b'"', bytes).is_none() {
        return memchr::memrchr2(b'\n', b'\r', bytes).map(|i| i + 1);
    }
    let stop = stops(delimiter);
    let n = bytes.len();
    let mut last = None;
    let mut i = 0usize;
    // at the start of a field (a quote there opens quoting)
    let mut field_start = true;
    while i < n {
        let b = bytes[i];
        if field_start && b == b'"' {
            i += 1;
            loop {
                match memchr::memchr(b'"', &bytes[i..]) {
                    None => return last,
                    Some(q) => {
                        i += q + 1;
                        if i < n && bytes[i] == b'"' {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            field_start = false;
            continue;
        }
        if stop[usize::from(b)] {
            if b != delimiter {
                last = Some(i + 1);
            }
            field_start = true;
        } else {
            field_start = false;
        }
        i += 1;
    }
    last
}

/// `field` as a number when it is plainly written: an optional `-`, at most
/// 15 digits with one decimal separator between digits (`.`, or `,` under
/// `decimal_comma`), nothing else. The value is the integer of the digits
/// divided by a power of ten, both exact in binary, so the division rounds
/// once, correctly, as `str::parse` does (Clinger 1990, "How to read floating
/// point numbers accurately", the fast path). None: use the general parser.
pub fn plain_number(field: &[u8], decimal_comma: bool) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (neg, digits) = match field.first() {
        Some(b'-') => (true, &field[1..]),
        _ => (false, field),
    };
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut m: u64 = 0;
    let mut count = 0usize;
    let mut frac: Option<usize> = None;
    for (k, &b) in digits.iter().enumerate() {
        if b.is_ascii_digit() {
            m = m * 10 + u64::from(b - b'0');
            count += 1;
        } else if (b == b'.' || (decimal_comma && b == b','))
            && frac.is_none()
            && k > 0
            && k + 1 < digits.len()
        {
            frac = Some(digits.len() - k - 1);
        } else {
            return None;
        }
    }
    if count > 15 {
        return None;
    }
    let v = m as f64 / POW10[frac.unwrap_or(0)];
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The csv crate's records of `bytes`: (start offset, fields).
    fn csv_records(bytes: &[u8], delimiter: u8) -> Vec<(usize, Vec<Vec<u8>>)> {
        let mut r = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        while r.read_byte_record(&mut rec).unwrap() {
            let pos = rec.position().unwrap().byte() as usize;
            out.push((pos, rec.iter().map(|f| f.to_vec()).collect()));
        }
        out
    }

    fn ours(bytes: &[u8], delimiter: u8) -> Vec<(usize, Vec<Vec<u8>>)> {
        let mut out = Vec::new();
        let mut padded = bytes.to_vec();
        padded.extend_from_slice(&[0; PAD]);
        records(&padded, bytes.len(), delimiter, |start, f| {
            out.push((start, f.iter().map(|x| x.to_vec()).collect()));
            true
        });
        out
    }

    /// Every string of up to `len` bytes over `alphabet`.
    fn all_strings(alphabet: &[u8], len: usize) -> Vec<Vec<u8>> {
        let mut out = vec![Vec::new()];
        let mut layer = vec![Vec::new()];
        for _ in 0..len {
            let mut next = Vec::new();
            for s in &layer {
                for &c in alphabet {
                    let mut t: Vec<u8> = s.clone();
                    t.push(c);
                    next.push(t);
                }
            }
            out.extend(next.iter().cloned());
            layer = next;
        }
        out
    }

    #[test]
    fn fields_agree_with_the_csv_crate_on_every_short_string() {
        // the crate's position is where its read began, before skipped line
        // ends; ours is the record's first byte: both are on the same line
        for s in all_strings(b"a,\"\r\n", 7) {
            let theirs = csv_records(&s, b',');
            let mine = ours(&s, b',');
            assert_eq!(
                theirs.len(),
                mine.len(),
                "{:?}",
                String::from_utf8_lossy(&s)
            );
            for ((p, a), (q, b)) in theirs.iter().zip(&mine) {
                assert_eq!(a, b, "{:?}", String::from_utf8_lossy(&s));
                assert!(p <= q && s[*p..*q].iter().all(|&c| c == b'\r' || c == b'\n'));
            }
        }
    }

    #[test]
    fn a_cut_leaves_whole_records_before_it() {
        for s in all_strings(b"a;\"\r\n", 7) {
            let whole = ours(&s, b';');
            match cut(&s, b';') {
                Some(c) => {
                    // splitting the two parts separately gives the same records
                    let mut parts = ours(&s[..c], b';');
                    parts.extend(ours(&s[c..], b';').into_iter().map(|(p, f)| (p + c, f)));
                    assert_eq!(whole, parts, "{:?} cut at {c}", String::from_utf8_lossy(&s));
                    assert!(matches!(s[c - 1], b'\r' | b'\n'));
                }
                None => {
                    // no line end outside quotes: at most one record
                    assert!(whole.len() <= 1, "{:?}", String::from_utf8_lossy(&s));
                }
            }
        }
    }

    #[test]
    fn plain_numbers_parse_as_str_parse() {
        let cases = [
            "0",
            "-0",
            "1",
            "12.5",
            "-3.25",
            "0.1",
            "123456789012345",
            "1234567890.12345",
            "99999999999999.9",
            "007",
            "2.50",
        ];
        for c in cases {
            let want: f64 = c.parse().unwrap();
            let got = plain_number(c.as_bytes(), false).unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{c}");
        }
        assert_eq!(plain_number(b"2,5", true), Some(2.5));
        for c in [
            "",
            "-",
            ".",
            "1.",
            ".5",
            "1e3",
            "+1",
            "1.2.3",
            "2,5",
            " 1",
            "1234567890123456",
        ] {
            assert_eq!(plain_number(c.as_bytes(), false), None, "{c}");
        }
        // random decimals: bit for bit
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let digits = (state % 15 + 1) as usize;
            let m = state >> 8 & ((1u64 << 50) - 1);
            let text = format!("{m}");
            let text = &text[..digits.min(text.len())];
            let f = (state >> 4) as usize % (text.len() + 1);
            let s = if f == 0 || f == text.len() {
                text.to_string()
            } else {
                format!("{}.{}", &text[..f], &text[f..])
            };
            let want: f64 = s.parse().unwrap();
            assert_eq!(
                plain_number(s.as_bytes(), false).unwrap().to_bits(),
                want.to_bits(),
                "{s}"
            );
        }
    }
}
