//! The privacy audit of `outcomes inspect`: direct identifiers, quasi-identifiers,
//! k-anonymity and small caseloads (science.md, section 6).
//!
//! A file meant for analysis or sharing should be *anonymised*: none of the
//! direct identifiers listed by HIPAA's Safe Harbor method, 45 CFR
//! 164.514(b)(2) (names, addresses and postcodes, all elements of dates except
//! the year, phone numbers, e-mail addresses, medical record and other
//! identifying numbers, IP addresses, ...), and no free text that could hold
//! them. Analysis commands refuse a file with a blocking identifier
//! ([`refuse_identifiers`], exit 2) unless `--allow-identifiers` is given.
//!
//! # Detection rules
//!
//! 1. **By column name** (case-insensitive, ignoring `_`, `-`, `.` and spaces):
//!    `name`, `first_name`, `forename`, `surname`, `last_name`, `full_name`,
//!    `patient_name`, `client_name` (name); `email`, `e_mail` (e-mail); `phone`,
//!    `telephone`, `mobile`, `tel` (phone); `address`, `street` (address);
//!    `postcode`, `post_code`, `zip`, `zipcode` (postcode); `nhs_number`,
//!    `nhs_no` (NHS number); `mrn`, `medical_record_number`, `hospital_number`,
//!    `ssn`, `national_insurance`, `ni_number` (other ID); `dob`,
//!    `date_of_birth`, `birth_date` (full date); `ip`, `ip_address` (IP
//!    address), and a few obvious variants (see [`name_rule`]): trailing digits
//!    are ignored (`address_1`), a personal prefix may come first
//!    (`home_phone`, `client_dob`, `gp_name`), any name ending in `email` is
//!    an e-mail column; `postcode_district` is not flagged. The client
//!    role column (a pseudonymous ID) and the therapist role column are never
//!    flagged by name; generic columns (`study`, `site`, `technique`) never are.
//! 2. **By content**, on the non-missing cells as text. A column with more than
//!    [`SAMPLE`] non-missing values is judged on the first [`SAMPLE`] of them
//!    (the evidence then says "of the first 20,000"). A kind is flagged when at
//!    least half of the values match, except e-mail, where one value is enough
//!    (a value *containing* an address counts; when the sample has none, the
//!    rest of the column is searched too). Patterns: e-mail; UK phone numbers
//!    (`+44` or `0` followed by 9–10 digits, spaces, brackets and hyphens
//!    allowed) and international `+CC` numbers (8–15 digits); NHS numbers (10
//!    digits, optionally 3-3-4 with spaces or hyphens, with a valid modulus-11
//!    check digit, and at least 80% of the 10-digit values valid, since a
//!    random 10-digit number passes about 1 time in 11); full UK postcodes
//!    (`SW1A 1AA`, `M1 1AE`; a district such as `SW1A` alone is a
//!    quasi-identifier, not a direct one); full dates with day, month and year
//!    (`YYYY-MM-DD`, `DD/MM/YYYY`, `DD-MM-YYYY`, `DD.MM.YYYY`, `DD/MM/YY`,
//!    `12 Mar 1984`, `March 12, 1984`, optionally with a time; month 1–12, day
//!    1–31, either day-month or month-day order; a year alone or a month and
//!    year is not a full date); IPv4 and IPv6 addresses; street addresses (a
//!    house number, up to four words and a street type such as `Road`); long
//!    free text (values averaging more than 40 characters, most with at least
//!    4 words). Numeric columns are only checked for NHS numbers (10-digit
//!    integers; leading zeros are lost in a number) and for UK mobile numbers
//!    whose leading 0 was lost (10-digit integers starting with 7, or 11–12
//!    digits starting with 44).
//! 3. Free text is reported with `blocking: false` (a references column of a
//!    study-level file is long free text but identifies no client): it is a
//!    warning, not a refusal. Every other kind blocks.
//! 4. The evidence never quotes a cell: it gives counts and the first line
//!    where the pattern occurs, because this report is meant to be shared.
//! 5. Each column is reported at most once per kind; a column flagged by name
//!    and by content gets one entry whose evidence mentions both.
//!
//! Quasi-identifiers are those declared by the user plus columns whose name
//! suggests one ([`QUASI_NAMES`]: age band, gender, ethnicity, postcode
//! district, ...). k-anonymity is the smallest equivalence-class size over the
//! *declared* ones only (a missing value is a category of its own); k ≥ 5 is
//! the usual threshold for sharing. A therapist with fewer than
//! [`CASELOAD_THRESHOLD`] clients is reported too: NHS Digital suppresses
//! counts of 1–7, and a small caseload is a quasi-identifier for its clients.
//!
//! The NHS number check digit follows the NHS Data Dictionary ("NHS Number"):
//! weights 10 down to 2 on the first nine digits, check = 11 − (sum mod 11),
//! 11 becomes 0 and 10 means the number is invalid.

use super::fasthash::{FastMap, FastSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use crate::data::table::{Column, ColumnData, Table};
use crate::error::{Error, Problem, Result};

/// Non-missing values examined per column for content rules.
pub const SAMPLE: usize = 20_000;
/// Equivalence classes smaller than this are counted in [`KAnonymityDetail`].
pub const K_THRESHOLD: usize = 5;
/// Therapists with fewer clients than this are reported (NHS Digital: 1–7).
pub const CASELOAD_THRESHOLD: usize = 8;
/// Free text: mean length above this many characters ...
const FREE_TEXT_MEAN_CHARS: f64 = 40.0;
/// ... and most values with at least this many words.
const FREE_TEXT_MIN_WORDS: usize = 4;

/// The result of [`audit`]; serialised as `privacy` in `inspect`'s JSON.
#[derive(Debug, Clone, Serialize)]
pub struct PrivacyReport {
    pub direct_identifiers: Vec<DirectIdentifier>,
    pub quasi_identifiers: Vec<QuasiIdentifier>,
    /// Smallest equivalence-class size over the DECLARED quasi-identifiers;
    /// None when none are declared (or the table has no rows).
    pub k_anonymity: Option<usize>,
    /// Equivalence classes smaller than 5 and the rows in them (declared QIs),
    /// None when none are declared.
    pub k_anonymity_detail: Option<KAnonymityDetail>,
    /// Therapists with fewer than 8 clients (None when no therapist column is given).
    pub small_caseloads: Option<SmallCaseloads>,
}

/// A column that holds (or is named like) a direct identifier.
#[derive(Debug, Clone, Serialize)]
pub struct DirectIdentifier {
    pub column: String,
    pub kind: IdentifierKind,
    /// Why: counts and the first line, never a cell value.
    pub evidence: String,
    /// True when analysis commands refuse the file (all kinds but free text).
    pub blocking: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    Name,
    Email,
    Phone,
    NhsNumber,
    Postcode,
    FullDate,
    IpAddress,
    Address,
    FreeText,
    OtherId,
}

impl IdentifierKind {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Name => "name",
            IdentifierKind::Email => "email",
            IdentifierKind::Phone => "phone",
            IdentifierKind::NhsNumber => "nhs_number",
            IdentifierKind::Postcode => "postcode",
            IdentifierKind::FullDate => "full_date",
            IdentifierKind::IpAddress => "ip_address",
            IdentifierKind::Address => "address",
            IdentifierKind::FreeText => "free_text",
            IdentifierKind::OtherId => "other_id",
        }
    }
    /// Plural description for messages ("holds e-mail addresses").
    pub fn describe(self) -> &'static str {
        match self {
            IdentifierKind::Name => "names",
            IdentifierKind::Email => "e-mail addresses",
            IdentifierKind::Phone => "phone numbers",
            IdentifierKind::NhsNumber => "NHS numbers",
            IdentifierKind::Postcode => "full postcodes",
            IdentifierKind::FullDate => "full dates (day, month and year)",
            IdentifierKind::IpAddress => "IP addresses",
            IdentifierKind::Address => "addresses",
            IdentifierKind::FreeText => "long free text",
            IdentifierKind::OtherId => "personal identification numbers",
        }
    }
    /// Whether analysis commands refuse a file holding this kind.
    pub fn blocking(self) -> bool {
        self != IdentifierKind::FreeText
    }
}

/// A quasi-identifier column: `source` is "declared" or "detected".
#[derive(Debug, Clone, Serialize)]
pub struct QuasiIdentifier {
    pub column: String,
    pub source: String,
}

/// Equivalence classes over the declared quasi-identifiers.
#[derive(Debug, Clone, Serialize)]
pub struct KAnonymityDetail {
    pub classes: usize,
    pub classes_below_5: usize,
    pub rows_in_classes_below_5: usize,
}

/// Therapists with fewer than `threshold` clients.
#[derive(Debug, Clone, Serialize)]
pub struct SmallCaseloads {
    pub threshold: usize,
    /// Number of such therapists.
    pub therapists: usize,
    /// Clients (rows when no client column) those therapists hold in total.
    pub clients: usize,
    /// Their codes, sorted (numerically when the therapist column is numeric).
    pub ids: Vec<String>,
}

/// Column names that suggest a quasi-identifier (normalised: lowercase,
/// without `_`, `-`, `.` and spaces).
pub const QUASI_NAMES: &[&str] = &[
    "age",
    "ageband",
    "agegroup",
    "agecategory",
    "agerange",
    "yearofbirth",
    "birthyear",
    "yob",
    "gender",
    "sex",
    "ethnicity",
    "ethnicgroup",
    "ethnicorigin",
    "race",
    "postcodedistrict",
    "postaldistrict",
    "outwardcode",
    "religion",
    "sexualorientation",
    "occupation",
    "maritalstatus",
    "disability",
];

/// Lowercase, without `_`, `-`, `.` and whitespace.
fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.') && !c.is_whitespace())
        .flat_map(|c| c.to_lowercase())
        .collect()
}

/// Prefixes that keep a column name personal: `client_email`, `home_phone`,
/// `patient_dob`, `gp_name` ... (tried by [`name_rule`] when the whole name
/// matches no rule).
const PERSONAL_PREFIXES: &[&str] = &[
    "client",
    "patient",
    "participant",
    "person",
    "personal",
    "user",
    "contact",
    "home",
    "work",
    "main",
    "primary",
    "secondary",
    "alt",
    "alternative",
    "parent",
    "carer",
    "guardian",
    "mother",
    "father",
    "nok",
    "nextofkin",
    "emergency",
    "gp",
    "referrer",
];

fn exact_name_rule(n: &str) -> Option<(IdentifierKind, &'static str)> {
    use IdentifierKind::*;
    match n {
        "name" | "firstname" | "forename" | "forenames" | "givenname" | "middlename"
        | "surname" | "lastname" | "familyname" | "maidenname" | "fullname" | "patientname"
        | "clientname" => Some((Name, "a name")),
        "email" | "emailaddress" => Some((Email, "an e-mail address")),
        "phone" | "phonenumber" | "phoneno" | "telephone" | "telephonenumber" | "tel" | "telno"
        | "mobile" | "mobilenumber" | "mobileno" | "mobilephone" | "cellphone" => {
            Some((Phone, "a phone number"))
        }
        "address" | "street" | "streetaddress" | "addressline" => Some((Address, "an address")),
        "postcode" | "postalcode" | "zip" | "zipcode" => Some((Postcode, "a postcode")),
        "nhsnumber" | "nhsno" | "nhsnum" | "nhsid" => Some((NhsNumber, "an NHS number")),
        "mrn" | "medicalrecordnumber" | "medicalrecordno" => {
            Some((OtherId, "a medical record number"))
        }
        "hospitalnumber" | "hospitalno" => Some((OtherId, "a hospital number")),
        "ssn" | "socialsecuritynumber" => Some((OtherId, "a social security number")),
        "nationalinsurance" | "nationalinsurancenumber" | "ninumber" | "nino" => {
            Some((OtherId, "a national insurance number"))
        }
        "dob" | "dateofbirth" | "birthdate" | "birthday" => Some((FullDate, "a date of birth")),
        "ip" | "ipaddress" | "ipaddr" => Some((IpAddress, "an IP address")),
        _ => None,
    }
}

/// The kind and a description ("a name") a column name suggests, if any.
///
/// The name is normalised (lowercase, without `_`, `-`, `.`, spaces and
/// trailing digits, so `Address_1` is `address`) and matched whole; failing
/// that, with one personal prefix removed (`home_phone`, `client_dob`); any
/// name ending in `email` is an e-mail column.
pub fn name_rule(column: &str) -> Option<(IdentifierKind, &'static str)> {
    let n = normalise(column);
    let n = n.trim_end_matches(|c: char| c.is_ascii_digit());
    if let Some(r) = exact_name_rule(n) {
        return Some(r);
    }
    for p in PERSONAL_PREFIXES {
        if let Some(r) = n.strip_prefix(p).and_then(exact_name_rule) {
            return Some(r);
        }
    }
    (n.ends_with("email") || n.ends_with("emailaddress"))
        .then_some((IdentifierKind::Email, "an e-mail address"))
}

/// NHS number modulus-11 check (NHS Data Dictionary, "NHS Number"): 10
/// digits (spaces or hyphens between them are ignored), weights 10..2 on the
/// first nine, check = 11 − (sum mod 11); 11 → 0; 10 → invalid.
pub fn nhs_number_valid(digits: &str) -> bool {
    let mut d = [0u32; 10];
    let mut n = 0;
    for c in digits.trim().chars() {
        match c {
            '0'..='9' => {
                if n == 10 {
                    return false;
                }
                d[n] = c as u32 - '0' as u32;
                n += 1;
            }
            ' ' | '-' => {}
            _ => return false,
        }
    }
    n == 10 && nhs_check(&d)
}

fn nhs_check(d: &[u32; 10]) -> bool {
    let sum: u32 = d[..9].iter().zip((2..=10).rev()).map(|(x, w)| x * w).sum();
    match 11 - sum % 11 {
        10 => false,
        11 => d[9] == 0,
        c => d[9] == c,
    }
}

fn nhs_valid_u64(mut x: u64) -> bool {
    let mut d = [0u32; 10];
    for i in (0..10).rev() {
        d[i] = (x % 10) as u32;
        x /= 10;
    }
    x == 0 && nhs_check(&d)
}

/// "1,234,567".
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn email_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
            .expect("e-mail pattern")
    })
}

fn postcode_re() -> &'static Regex {
    // The UK government's postcode pattern (outward code, optional space,
    // inward code), plus GIR 0AA.
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)^(?:GIR\s*0AA|(?:[A-PR-UWYZ][0-9]{1,2}|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}|[A-PR-UWYZ][0-9][A-HJKPSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])\s*[0-9][ABD-HJLNP-UW-Z]{2})$",
        )
        .expect("postcode pattern")
    })
}

/// Optional time after a date: " 10:15", "T10:15:00Z", " 3:05 pm" ...
const TIME: &str = r"(?:[T\s,]+\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[ap]\.?m\.?)?\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})?)?";
const MONTH: &str = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";
const WEEKDAY: &str = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?";

struct DateRes {
    /// YYYY-MM-DD (also / or .).
    ymd: Regex,
    /// DD-MM-YYYY, DD/MM/YYYY, DD.MM.YYYY, DD/MM/YY (either day-month order).
    dmy: Regex,
    /// 12 Mar 1984, 12-Mar-84.
    d_mon_y: Regex,
    /// March 12, 1984.
    mon_d_y: Regex,
}

fn date_res() -> &'static DateRes {
    static RE: OnceLock<DateRes> = OnceLock::new();
    RE.get_or_init(|| DateRes {
        ymd: Regex::new(&format!(r"(?i)^(\d{{4}})([-/.])(\d{{1,2}})([-/.])(\d{{1,2}}){TIME}$"))
            .expect("date pattern"),
        dmy: Regex::new(&format!(
            r"(?i)^(\d{{1,2}})([-/.])(\d{{1,2}})([-/.])(\d{{4}}|\d{{2}}){TIME}$"
        ))
        .expect("date pattern"),
        d_mon_y: Regex::new(&format!(
            r"(?i)^{WEEKDAY}(\d{{1,2}})(?:st|nd|rd|th)?[\s/-]*{MONTH}\.?,?[\s/-]*(\d{{4}}|\d{{2}}){TIME}$"
        ))
        .expect("date pattern"),
        mon_d_y: Regex::new(&format!(
            r"(?i)^{WEEKDAY}{MONTH}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}}){TIME}$"
        ))
        .expect("date pattern"),
    })
}

fn address_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)^\d+[a-z]?,?\s+(?:[a-z'-]+\s+){1,4}(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|crescent|place|court|gardens|terrace|grove|square|mews|way)\b",
        )
        .expect("address pattern")
    })
}

fn day_month_ok(day: u32, month: u32) -> bool {
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// A full date (day, month and year), optionally with a time.
fn looks_like_full_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 6 || b.len() > 48 || !b.iter().any(u8::is_ascii_digit) {
        return false;
    }
    let re = date_res();
    let num = |m: Option<regex::Match>| m.map_or(0, |m| m.as_str().parse::<u32>().unwrap_or(0));
    if b[0].is_ascii_digit() {
        if let Some(c) = re.ymd.captures(s) {
            return c[2] == c[4] && day_month_ok(num(c.get(5)), num(c.get(3)));
        }
        if let Some(c) = re.dmy.captures(s) {
            let (a, m) = (num(c.get(1)), num(c.get(3)));
            // Two-digit years only with slashes ("1.2.34" may be a version).
            let year_ok = c[5].len() == 4 || &c[2] == "/";
            return c[2] == c[4] && year_ok && (day_month_ok(a, m) || day_month_ok(m, a));
        }
    }
    if let Some(c) = re.d_mon_y.captures(s) {
        return (1..=31).contains(&num(c.get(1)));
    }
    if let Some(c) = re.mon_d_y.captures(s) {
        return (1..=31).contains(&num(c.get(2)));
    }
    false
}

/// UK numbers (+44 or 0, then 9–10 digits) and international +CC numbers
/// (8–15 digits); digits, spaces, brackets and hyphens only.
fn looks_like_phone(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 10 || b.len() > 24 {
        return false;
    }
    let plus = b[0] == b'+';
    let mut digits = [0u8; 24];
    let mut n = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                digits[n] = c;
                n += 1;
            }
            b' ' | b'-' | b'(' | b')' => {}
            b'+' if i == 0 => {}
            _ => return false,
        }
    }
    let d = &digits[..n];
    if plus {
        if d.starts_with(b"44") {
            let mut rest = &d[2..];
            // "+44 (0)20 ..."
            if rest.first() == Some(&b'0') {
                rest = &rest[1..];
            }
            (9..=10).contains(&rest.len()) && rest.first() != Some(&b'0')
        } else {
            (8..=15).contains(&n) && d.first() != Some(&b'0')
        }
    } else {
        // "0..." or "(0...)": a national number; "00" is an international
        // prefix, left out because zero-padded IDs start that way.
        let first = b.iter().find(|&&c| c != b'(').copied();
        first == Some(b'0') && (10..=11).contains(&n) && d[1] != b'0'
    }
}

/// Some(valid) when `s` has the shape of an NHS number (10 digits, optionally
/// 3-3-4 with spaces or hyphens), None otherwise.
fn nhs_shape(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    let ok_shape = match b.len() {
        10 => b.iter().all(u8::is_ascii_digit),
        12 => {
            let sep = b[3];
            (sep == b' ' || sep == b'-')
                && b[7] == sep
                && b.iter()
                    .enumerate()
                    .all(|(i, c)| i == 3 || i == 7 || c.is_ascii_digit())
        }
        _ => false,
    };
    ok_shape.then(|| nhs_number_valid(s))
}

fn looks_like_ip(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 2 || b.len() > 45 {
        return false;
    }
    if b[0].is_ascii_digit() && b.contains(&b'.') && !b.contains(&b':') {
        return s.parse::<Ipv4Addr>().is_ok();
    }
    if b.contains(&b':')
        && b.iter()
            .all(|c| c.is_ascii_hexdigit() || *c == b':' || *c == b'.')
    {
        // "12:30" or "10:15:00" are times, not IPv6 (which needs 8 groups or "::").
        return s.parse::<Ipv6Addr>().is_ok();
    }
    false
}

/// Matches of one pattern in a column: how many and the first row.
#[derive(Default, Clone, Copy)]
struct Tally {
    count: usize,
    first: Option<usize>,
}

impl Tally {
    fn add(&mut self, row: usize) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(row);
        }
    }
    /// At least half of the examined values.
    fn majority(&self, examined: usize) -> bool {
        examined > 0 && self.count * 2 >= examined
    }
}

/// "4,981 of 5,000 non-missing values look like e-mail addresses (first on line 2)".
struct Counts<'a> {
    table: &'a Table,
    /// Values examined (at most SAMPLE).
    examined: usize,
    /// All non-missing values of the column.
    non_missing: usize,
}

impl Counts<'_> {
    fn of(&self) -> String {
        if self.non_missing > self.examined {
            format!(
                "of the first {} non-missing values",
                thousands(self.examined)
            )
        } else {
            format!("of {} non-missing values", thousands(self.examined))
        }
    }
    /// `verb` is (singular, plural), e.g. ("looks like an e-mail address", "look like e-mail addresses").
    fn say(&self, t: &Tally, verb: (&str, &str)) -> String {
        let v = if t.count == 1 { verb.0 } else { verb.1 };
        let line = t
            .first
            .map(|r| {
                format!(
                    " (first on line {})",
                    thousands(self.table.lines[r] as usize)
                )
            })
            .unwrap_or_default();
        format!("{} {} {v}{line}", thousands(t.count), self.of())
    }
}

/// Content rules on one column: (kind, evidence) in a fixed kind order.
fn content_hits(table: &Table, col: &Column) -> Vec<(IdentifierKind, String)> {
    match &col.data {
        ColumnData::Str(v) => string_hits(table, v),
        ColumnData::Num(v) => numeric_hits(table, v),
    }
}

fn string_hits(table: &Table, v: &[Option<String>]) -> Vec<(IdentifierKind, String)> {
    use IdentifierKind::*;
    let non_missing = v.iter().filter(|x| x.is_some()).count();
    let (mut email, mut phone, mut postcode, mut date, mut ip, mut address) = (
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
    );
    let (mut nhs_valid, mut nhs_shaped) = (Tally::default(), 0usize);
    let (mut chars, mut wordy) = (0usize, 0usize);
    let mut examined = 0usize;
    let mut next_row = v.len();
    for (row, cell) in v.iter().enumerate() {
        let Some(raw) = cell else { continue };
        if examined == SAMPLE {
            next_row = row;
            break;
        }
        examined += 1;
        let s = raw.trim();
        let b = s.as_bytes();
        if b.contains(&b'@') && email_re().is_match(s) {
            email.add(row);
        }
        if b.first()
            .is_some_and(|&c| c == b'0' || c == b'+' || c == b'(')
            && looks_like_phone(s)
        {
            phone.add(row);
        }
        if let Some(valid) = nhs_shape(s) {
            nhs_shaped += 1;
            if valid {
                nhs_valid.add(row);
            }
        }
        if (5..=10).contains(&b.len()) && postcode_re().is_match(s) {
            postcode.add(row);
        }
        if looks_like_full_date(s) {
            date.add(row);
        }
        if looks_like_ip(s) {
            ip.add(row);
        }
        if b.first().is_some_and(u8::is_ascii_digit) && address_re().is_match(s) {
            address.add(row);
        }
        chars += s.chars().count();
        if s.split_whitespace().take(FREE_TEXT_MIN_WORDS).count() == FREE_TEXT_MIN_WORDS {
            wordy += 1;
        }
    }
    let mut c = Counts {
        table,
        examined,
        non_missing,
    };
    let mut hits = Vec::new();
    // E-mail: one is enough, so when the sample has none look at the rest.
    if email.count == 0 && next_row < v.len() {
        for (row, cell) in v.iter().enumerate().skip(next_row) {
            if let Some(s) = cell {
                if s.contains('@') && email_re().is_match(s) {
                    email.add(row);
                }
            }
        }
        if email.count > 0 {
            c.examined = non_missing;
        }
    }
    if email.count > 0 {
        hits.push((
            Email,
            c.say(
                &email,
                ("contains an e-mail address", "contain an e-mail address"),
            ),
        ));
    }
    c.examined = examined;
    if phone.majority(examined) {
        hits.push((
            Phone,
            c.say(
                &phone,
                ("looks like a phone number", "look like phone numbers"),
            ),
        ));
    }
    if nhs_valid.majority(examined) && nhs_valid.count * 5 >= nhs_shaped * 4 {
        hits.push((
            NhsNumber,
            c.say(
                &nhs_valid,
                (
                    "is a 10-digit number with a valid NHS modulus-11 check digit",
                    "are 10-digit numbers with a valid NHS modulus-11 check digit",
                ),
            ),
        ));
    }
    if postcode.majority(examined) {
        hits.push((
            Postcode,
            c.say(
                &postcode,
                (
                    "looks like a full UK postcode",
                    "look like full UK postcodes",
                ),
            ),
        ));
    }
    if date.majority(examined) {
        hits.push((
            FullDate,
            c.say(
                &date,
                (
                    "looks like a full date (day, month and year)",
                    "look like full dates (day, month and year)",
                ),
            ),
        ));
    }
    if ip.majority(examined) {
        hits.push((
            IpAddress,
            c.say(&ip, ("looks like an IP address", "look like IP addresses")),
        ));
    }
    if address.majority(examined) {
        hits.push((
            Address,
            c.say(
                &address,
                ("looks like a street address", "look like street addresses"),
            ),
        ));
    }
    if examined > 0 {
        let mean = chars as f64 / examined as f64;
        if mean > FREE_TEXT_MEAN_CHARS && wordy * 2 > examined {
            let of = c.of();
            hits.push((
                FreeText,
                format!(
                    "non-missing values average {mean:.1} characters and {} {of} have {FREE_TEXT_MIN_WORDS} or more words",
                    thousands(wordy)
                ),
            ));
        }
    }
    hits
}

fn numeric_hits(table: &Table, v: &[f64]) -> Vec<(IdentifierKind, String)> {
    let non_missing = v.iter().filter(|x| !x.is_nan()).count();
    let (mut nhs_valid, mut nhs_shaped, mut mobile) = (Tally::default(), 0usize, Tally::default());
    let mut examined = 0usize;
    for (row, &x) in v.iter().enumerate() {
        if x.is_nan() {
            continue;
        }
        if examined == SAMPLE {
            break;
        }
        examined += 1;
        if x.fract() != 0.0 || !(1e9..1e12).contains(&x) {
            continue;
        }
        let n = x as u64;
        if n < 10_000_000_000 {
            nhs_shaped += 1;
            if nhs_valid_u64(n) {
                nhs_valid.add(row);
            }
            // 07xxx xxxxxx with the leading 0 lost.
            if n / 1_000_000_000 == 7 {
                mobile.add(row);
            }
        } else {
            // 44 followed by 9–10 digits (not starting with 0).
            let lead = if n < 100_000_000_000 {
                n / 100_000_000
            } else {
                n / 1_000_000_000
            };
            if (441..=449).contains(&lead) {
                mobile.add(row);
            }
        }
    }
    let c = Counts {
        table,
        examined,
        non_missing,
    };
    let mut hits = Vec::new();
    if nhs_valid.majority(examined) && nhs_valid.count * 5 >= nhs_shaped * 4 {
        hits.push((
            IdentifierKind::NhsNumber,
            c.say(
                &nhs_valid,
                (
                    "is a 10-digit number with a valid NHS modulus-11 check digit",
                    "are 10-digit numbers with a valid NHS modulus-11 check digit",
                ),
            ),
        ));
    } else if mobile.majority(examined) {
        hits.push((
            IdentifierKind::Phone,
            c.say(
                &mobile,
                (
                    "looks like a UK phone number stored as a number (leading 0 or + lost)",
                    "look like UK phone numbers stored as numbers (leading 0 or + lost)",
                ),
            ),
        ));
    }
    hits
}

/// Equivalence classes over `cols` (missing is a category): (k, detail).
fn k_anonymity(cols: &[&Column], nrows: usize) -> (Option<usize>, KAnonymityDetail) {
    // Class code of each row, refined one column at a time; codes are dense
    // (0..n_classes), so a pair (class, value) indexes a table directly
    // when that table is small, and goes through a hash map otherwise.
    let mut combined = vec![0u32; nrows];
    let mut n_classes = 1usize;
    for col in cols {
        let (c, rep) = col.codes();
        let width = rep.len();
        if n_classes == 1 {
            combined = c;
            n_classes = width;
        } else if n_classes * width <= 1 << 22 {
            let mut table = vec![u32::MAX; n_classes * width];
            let mut next = 0u32;
            for (k, &x) in combined.iter_mut().zip(&c) {
                let slot = &mut table[*k as usize * width + x as usize];
                if *slot == u32::MAX {
                    *slot = next;
                    next += 1;
                }
                *k = *slot;
            }
            n_classes = next as usize;
        } else {
            let mut map: FastMap<u64, u32> = FastMap::default();
            for (k, &x) in combined.iter_mut().zip(&c) {
                let key = ((*k as u64) << 32) | x as u64;
                let next = map.len() as u32;
                *k = *map.entry(key).or_insert(next);
            }
            n_classes = map.len();
        }
    }
    let mut sizes = vec![0usize; n_classes.max(1)];
    for &k in &combined {
        sizes[k as usize] += 1;
    }
    sizes.retain(|&s| s > 0);
    let small: Vec<usize> = sizes.iter().copied().filter(|&s| s < K_THRESHOLD).collect();
    let detail = KAnonymityDetail {
        classes: sizes.len(),
        classes_below_5: small.len(),
        rows_in_classes_below_5: small.iter().sum(),
    };
    (sizes.iter().copied().min(), detail)
}

fn small_caseloads(therapist: &Column, client: Option<&Column>) -> SmallCaseloads {
    let (t, rep) = therapist.codes();
    let mut counts = vec![0usize; rep.len()];
    match client {
        Some(cc) => {
            // Rows grouped by therapist (a counting sort), then distinct
            // clients within each group: the sets stay caseload-sized.
            let mut start = vec![0usize; rep.len() + 1];
            for &ti in &t {
                start[ti as usize + 1] += 1;
            }
            for i in 1..start.len() {
                start[i] += start[i - 1];
            }
            let mut fill = start.clone();
            let mut order = vec![0usize; t.len()];
            for (row, &ti) in t.iter().enumerate() {
                order[fill[ti as usize]] = row;
                fill[ti as usize] += 1;
            }
            let mut seen_str: FastSet<&str> = FastSet::default();
            let mut seen_num: FastSet<u64> = FastSet::default();
            for code in 1..rep.len() {
                let rows = &order[start[code]..start[code + 1]];
                counts[code] = match &cc.data {
                    ColumnData::Str(v) => {
                        seen_str.clear();
                        seen_str.extend(rows.iter().filter_map(|&r| v[r].as_deref()));
                        seen_str.len()
                    }
                    ColumnData::Num(v) => {
                        seen_num.clear();
                        seen_num.extend(
                            rows.iter()
                                .map(|&r| v[r])
                                .filter(|x| !x.is_nan())
                                .map(|x| (x + 0.0).to_bits()),
                        );
                        seen_num.len()
                    }
                };
            }
        }
        None => {
            for &ti in &t {
                counts[ti as usize] += 1;
            }
        }
    }
    let mut small: Vec<(usize, usize)> = (1..rep.len())
        .filter(|&code| counts[code] < CASELOAD_THRESHOLD)
        .map(|code| (rep[code].expect("a row per code"), counts[code]))
        .collect();
    match &therapist.data {
        ColumnData::Num(v) => small.sort_by(|a, b| v[a.0].total_cmp(&v[b.0])),
        ColumnData::Str(v) => small.sort_by(|a, b| v[a.0].cmp(&v[b.0])),
    }
    SmallCaseloads {
        threshold: CASELOAD_THRESHOLD,
        therapists: small.len(),
        clients: small.iter().map(|s| s.1).sum(),
        ids: small
            .iter()
            .map(|s| therapist.key(s.0).unwrap_or_default())
            .collect(),
    }
}

/// The privacy audit.
///
/// `quasi`: quasi-identifier columns declared by the user (the caller checks
/// they exist; unknown names are listed but left out of k-anonymity).
/// `therapist`: the therapist role column if any. `client`: the client role
/// column if any (a pseudonymous client ID column is not flagged by name; its
/// content is still checked).
pub fn audit(
    table: &Table,
    quasi: &[String],
    therapist: Option<&str>,
    client: Option<&str>,
) -> PrivacyReport {
    let mut direct = Vec::new();
    for col in &table.columns {
        let is_role = Some(col.name.as_str()) == client || Some(col.name.as_str()) == therapist;
        let by_name = if is_role { None } else { name_rule(&col.name) };
        let mut content = content_hits(table, col);
        if let Some((kind, what)) = by_name {
            let mut evidence = format!("column name suggests {what}");
            if let Some(i) = content.iter().position(|(k, _)| *k == kind) {
                let (_, e) = content.remove(i);
                evidence.push_str("; ");
                evidence.push_str(&e);
            }
            direct.push(DirectIdentifier {
                column: col.name.clone(),
                kind,
                evidence,
                blocking: kind.blocking(),
            });
        }
        for (kind, evidence) in content {
            direct.push(DirectIdentifier {
                column: col.name.clone(),
                kind,
                evidence,
                blocking: kind.blocking(),
            });
        }
    }

    let mut quasi_identifiers: Vec<QuasiIdentifier> = Vec::new();
    for q in quasi {
        if !quasi_identifiers.iter().any(|x| &x.column == q) {
            quasi_identifiers.push(QuasiIdentifier {
                column: q.clone(),
                source: "declared".into(),
            });
        }
    }
    for col in &table.columns {
        if QUASI_NAMES.contains(&normalise(&col.name).as_str())
            && !quasi_identifiers.iter().any(|x| x.column == col.name)
        {
            quasi_identifiers.push(QuasiIdentifier {
                column: col.name.clone(),
                source: "detected".into(),
            });
        }
    }

    let declared: Vec<&Column> = quasi_identifiers
        .iter()
        .filter(|q| q.source == "declared")
        .filter_map(|q| table.column(&q.column))
        .collect();
    let (k_anonymity, k_anonymity_detail) = if declared.is_empty() {
        (None, None)
    } else {
        let (k, detail) = k_anonymity(&declared, table.nrows());
        (k, Some(detail))
    };

    let small_caseloads = therapist
        .and_then(|t| table.column(t))
        .map(|t| small_caseloads(t, client.and_then(|c| table.column(c))));

    PrivacyReport {
        direct_identifiers: direct,
        quasi_identifiers,
        k_anonymity,
        k_anonymity_detail,
        small_caseloads,
    }
}

/// Analysis commands call this unless `--allow-identifiers`: an input error
/// (exit 2) naming each column with a blocking identifier and its kind;
/// otherwise the warnings (free text) for the caller to print on stderr,
/// without a "warning:" prefix.
pub fn refuse_identifiers(report: &PrivacyReport, file: &str) -> Result<Vec<String>> {
    let blocking: Vec<&DirectIdentifier> = report
        .direct_identifiers
        .iter()
        .filter(|d| d.blocking)
        .collect();
    if !blocking.is_empty() {
        let list: Vec<String> = blocking
            .iter()
            .map(|d| format!("column '{}' ({})", d.column, d.kind.as_str()))
            .collect();
        let summary = format!(
            "{file} holds direct identifiers: {}; remove the column, or pass --allow-identifiers if the data are allowed to hold it",
            list.join(", ")
        );
        let problems = blocking
            .iter()
            .take(crate::error::MAX_PROBLEMS)
            .map(|d| {
                Problem::new(
                    file,
                    format!(
                        "holds {} ({}): {}",
                        d.kind.describe(),
                        d.kind.as_str(),
                        d.evidence
                    ),
                )
                .column(d.column.clone())
            })
            .collect();
        return Err(Error::problems(summary, problems));
    }
    Ok(report
        .direct_identifiers
        .iter()
        .map(|d| {
            format!(
                "{file}, column '{}': holds {} ({}); free text can name clients and other people: check it before sharing anything derived from it",
                d.column,
                d.kind.describe(),
                d.evidence
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(columns: Vec<Column>) -> Table {
        Table::in_memory("t.csv", columns)
    }

    /// Text cells; "" is missing.
    fn s(v: &[&str]) -> Vec<Option<String>> {
        v.iter()
            .map(|x| (!x.is_empty()).then(|| x.to_string()))
            .collect()
    }

    fn one(name: &str, v: &[&str]) -> Table {
        table(vec![Column::str(name, s(v))])
    }

    /// (column, kind, evidence, blocking) of every direct identifier.
    fn found(t: &Table) -> Vec<(String, IdentifierKind, String, bool)> {
        audit(t, &[], None, None)
            .direct_identifiers
            .into_iter()
            .map(|d| (d.column, d.kind, d.evidence, d.blocking))
            .collect()
    }

    fn kinds(t: &Table) -> Vec<(String, IdentifierKind)> {
        found(t).into_iter().map(|d| (d.0, d.1)).collect()
    }

    use IdentifierKind::*;

    #[test]
    fn nhs_numbers_checked_by_hand() {
        // 943 476 5919: 9*10+4*9+3*8+4*7+7*6+6*5+5*4+9*3+1*2 = 299;
        // 299 mod 11 = 2; 11 - 2 = 9 = last digit: valid (NHS Digital's example).
        assert!(nhs_number_valid("9434765919"));
        assert!(nhs_number_valid("943 476 5919"));
        assert!(nhs_number_valid("943-476-5919"));
        // Same prefix, last digit 8: invalid.
        assert!(!nhs_number_valid("9434765918"));
        // 401 023 2137: 40+0+8+0+12+15+8+3+6 = 92; 92 mod 11 = 4; 11-4 = 7: valid.
        assert!(nhs_number_valid("4010232137"));
        // 450 557 7104: 40+45+0+35+30+35+28+3+0 = 216; 216 mod 11 = 7; 11-7 = 4: valid.
        assert!(nhs_number_valid("4505577104"));
        // 599 012 8088: 50+81+72+0+6+10+32+0+16 = 267; 267 mod 11 = 3; 11-3 = 8: valid.
        assert!(nhs_number_valid("5990128088"));
        // 401 023 225x: 40+0+8+0+12+15+8+6+10 = 99; 99 mod 11 = 0; 11 -> 0: only x = 0.
        assert!(nhs_number_valid("4010232250"));
        assert!(!nhs_number_valid("4010232251"));
        // 401 023 216x: sum 98; 98 mod 11 = 10; 11-10 = 1: only x = 1.
        assert!(nhs_number_valid("4010232161"));
        assert!(!nhs_number_valid("4010232160"));
        // 123 456 789x: 10+18+24+28+30+30+28+24+18 = 210; 210 mod 11 = 1;
        // check 10 means no valid number has this prefix.
        for last in 0..10 {
            assert!(!nhs_number_valid(&format!("123456789{last}")));
        }
        for bad in ["943476591", "94347659190", "943476591X", "", "943/476/5919"] {
            assert!(!nhs_number_valid(bad), "{bad}");
        }
        assert!(nhs_valid_u64(9434765919));
        assert!(!nhs_valid_u64(9434765918));
    }

    #[test]
    fn email_by_content_one_is_enough() {
        let t = one(
            "comment",
            &["fine", "write to x.y@nhs.net please", "", "ok"],
        );
        assert_eq!(
            found(&t),
            vec![(
                "comment".into(),
                Email,
                "1 of 3 non-missing values contains an e-mail address (first on line 3)".into(),
                true
            )]
        );
        // "@handle" and "a@b" are not addresses.
        assert!(found(&one("x", &["@handle", "a@b", "at @ noon"])).is_empty());
    }

    #[test]
    fn email_by_name_and_by_both() {
        let t = one("E-Mail", &["", ""]);
        assert_eq!(
            found(&t),
            vec![(
                "E-Mail".into(),
                Email,
                "column name suggests an e-mail address".into(),
                true
            )]
        );
        let t = one("client_email", &["ann@example.org", "bob@example.co.uk"]);
        assert_eq!(
            found(&t),
            vec![(
                "client_email".into(),
                Email,
                "column name suggests an e-mail address; 2 of 2 non-missing values contain an e-mail address (first on line 2)"
                    .into(),
                true
            )]
        );
    }

    #[test]
    fn phones_by_content_and_name() {
        let t = one(
            "contact",
            &[
                "07700 900123",
                "+44 (0)20 7946 0958",
                "(01632) 960001",
                "+1 555 123 4567",
                "",
                "n/a",
            ],
        );
        assert_eq!(
            found(&t),
            vec![(
                "contact".into(),
                Phone,
                "4 of 5 non-missing values look like phone numbers (first on line 2)".into(),
                true
            )]
        );
        // Mobile numbers read as numbers lose the 0 (or the +).
        let t = table(vec![Column::num(
            "contact",
            vec![7700900123.0, 7700900456.0, f64::NAN, 447700900789.0],
        )]);
        assert_eq!(
            found(&t),
            vec![(
                "contact".into(),
                Phone,
                "3 of 3 non-missing values look like UK phone numbers stored as numbers (leading 0 or + lost) (first on line 2)"
                    .into(),
                true
            )]
        );
        for name in ["Home_Phone", "tel", "mobile", "Telephone Number", "phone2"] {
            assert_eq!(
                kinds(&one(name, &[""])),
                vec![(name.to_string(), Phone)],
                "{name}"
            );
        }
        // Not phones: zero-padded IDs, dates, short codes.
        for v in [
            "0000012345",
            "00441234567890",
            "01/02/2017",
            "012345",
            "0.1234567890",
        ] {
            assert!(!looks_like_phone(v), "{v}");
        }
    }

    #[test]
    fn nhs_numbers_by_content_and_name() {
        let t = one(
            "id",
            &["943 476 5919", "4010232137", "450-557-7104", "5990128088"],
        );
        assert_eq!(
            found(&t),
            vec![(
                "id".into(),
                NhsNumber,
                "4 of 4 non-missing values are 10-digit numbers with a valid NHS modulus-11 check digit (first on line 2)"
                    .into(),
                true
            )]
        );
        // Numeric: the same numbers, and 7xx numbers are NHS numbers, not phones.
        let t = table(vec![Column::num(
            "id",
            vec![
                9434765919.0,
                4010232137.0,
                4505577104.0,
                5990128088.0,
                7000000000.0,
            ],
        )]);
        assert_eq!(kinds(&t), vec![("id".into(), NhsNumber)]);
        // 80% rule: 4 valid of 5 ten-digit values is enough ...
        let t = one(
            "id",
            &[
                "9434765919",
                "4010232137",
                "4505577104",
                "5990128088",
                "9434765918",
            ],
        );
        assert_eq!(kinds(&t), vec![("id".into(), NhsNumber)]);
        // ... 3 of 5 (60%, over half of the values) is not: chance hits.
        let t = one(
            "id",
            &[
                "9434765919",
                "4010232137",
                "4505577104",
                "1234567890",
                "9434765918",
            ],
        );
        assert!(found(&t).is_empty());
        for name in ["NHS_No", "nhs number", "NHSNumber", "patient_nhs_number"] {
            assert_eq!(
                kinds(&one(name, &[""])),
                vec![(name.to_string(), NhsNumber)],
                "{name}"
            );
        }
    }

    #[test]
    fn postcodes_full_not_districts() {
        let t = one(
            "where",
            &["SW1A 1AA", "M1 1AE", "b33 8th", "CR26XH", "DN55 1PT"],
        );
        assert_eq!(
            found(&t),
            vec![(
                "where".into(),
                Postcode,
                "5 of 5 non-missing values look like full UK postcodes (first on line 2)".into(),
                true
            )]
        );
        // Districts are quasi-identifiers, not direct ones.
        let t = one("postcode_district", &["SW1A", "M1", "B33"]);
        let r = audit(&t, &[], None, None);
        assert!(r.direct_identifiers.is_empty());
        assert_eq!(r.quasi_identifiers.len(), 1);
        assert_eq!(r.quasi_identifiers[0].source, "detected");
        for name in ["Post Code", "postcode", "zip", "home_postcode"] {
            assert_eq!(
                kinds(&one(name, &[""])),
                vec![(name.to_string(), Postcode)],
                "{name}"
            );
        }
    }

    #[test]
    fn full_dates_but_not_years_or_months() {
        for d in [
            "1984-03-12",
            "1984/3/12",
            "12/03/1984",
            "12-03-1984",
            "12.03.1984",
            "03/31/1984",
            "12/03/84",
            "12 Mar 1984",
            "12th March 1984",
            "12-Mar-84",
            "March 12, 1984",
            "Mon, 12 Mar 1984 10:00:00 GMT",
            "2021-03-04T10:15:00Z",
            "2021-03-04 10:15",
            "04/03/2021 3:05 pm",
        ] {
            assert!(looks_like_full_date(d), "{d}");
        }
        for d in [
            "2017",
            "03/2017",
            "March 2017",
            "2017-03",
            "13/13/2017",
            "32/01/2017",
            "2017-13-01",
            "1.2.34",
            "12-03/1984",
            "Aagaard, 2017",
            "12 Marx 1984",
        ] {
            assert!(!looks_like_full_date(d), "{d}");
        }
        let t = one("session_date", &["2021-03-04", "04/03/2021", "", "unknown"]);
        assert_eq!(
            found(&t),
            vec![(
                "session_date".into(),
                FullDate,
                "2 of 3 non-missing values look like full dates (day, month and year) (first on line 2)"
                    .into(),
                true
            )]
        );
        let t = one("D.O.B", &["1984-03-12"]);
        assert_eq!(
            found(&t),
            vec![(
                "D.O.B".into(),
                FullDate,
                "column name suggests a date of birth; 1 of 1 non-missing values looks like a full date (day, month and year) (first on line 2)"
                    .into(),
                true
            )]
        );
    }

    #[test]
    fn ip_addresses() {
        let t = one(
            "origin",
            &["192.168.0.1", "10.0.0.255", "2001:db8::1", "::1"],
        );
        assert_eq!(
            found(&t),
            vec![(
                "origin".into(),
                IpAddress,
                "4 of 4 non-missing values look like IP addresses (first on line 2)".into(),
                true
            )]
        );
        for v in ["256.1.1.1", "10:30", "10:30:00", "1.2.3", "3.85"] {
            assert!(!looks_like_ip(v), "{v}");
        }
        assert_eq!(
            kinds(&one("IP_Address", &[""])),
            vec![("IP_Address".into(), IpAddress)]
        );
    }

    #[test]
    fn addresses_by_content_and_name() {
        let t = one(
            "lives",
            &[
                "12 High Street",
                "3a Mill Lane, Leeds",
                "221B Baker Street",
                "x",
            ],
        );
        assert_eq!(
            found(&t),
            vec![(
                "lives".into(),
                Address,
                "3 of 4 non-missing values look like street addresses (first on line 2)".into(),
                true
            )]
        );
        for name in ["address", "Home Address", "street", "address_line_1"] {
            assert_eq!(
                kinds(&one(name, &[""])),
                vec![(name.to_string(), Address)],
                "{name}"
            );
        }
    }

    #[test]
    fn free_text_warns_but_does_not_block() {
        let refs = [
            "Aagaard, J. (2017). Therapist effects in routine care: a cohort study. J Couns Psychol, 64, 1-10.",
            "Baldwin, S. A. and Imel, Z. E. (2013). Therapist effects: findings and methods. In Bergin and Garfield's Handbook.",
            "",
        ];
        let t = one("reference", &refs);
        let f = found(&t);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].0, "reference");
        assert_eq!(f[0].1, FreeText);
        assert!(!f[0].3);
        assert_eq!(
            f[0].2,
            "non-missing values average 105.5 characters and 2 of 2 non-missing values have 4 or more words"
        );
        let r = audit(&t, &[], None, None);
        let w = refuse_identifiers(&r, "studies.csv").expect("free text only warns");
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("studies.csv, column 'reference': holds long free text ("));
        // Short labels are not free text.
        assert!(found(&one("study", &["Aagaard, 2017", "Baldwin and Imel, 2013"])).is_empty());
    }

    #[test]
    fn names_and_other_ids_by_name() {
        for name in [
            "Surname",
            "first name",
            "Client_Name",
            "name",
            "gp_name",
            "Forename",
        ] {
            assert_eq!(
                kinds(&one(name, &["x"])),
                vec![(name.to_string(), Name)],
                "{name}"
            );
        }
        for name in [
            "MRN",
            "ni_number",
            "SSN",
            "hospital-number",
            "National Insurance",
        ] {
            assert_eq!(
                kinds(&one(name, &["x"])),
                vec![(name.to_string(), OtherId)],
                "{name}"
            );
        }
        assert_eq!(
            found(&one("Surname", &["x"]))[0].2,
            "column name suggests a name"
        );
        // Not identifiers by name.
        for name in [
            "study",
            "site",
            "technique",
            "therapist",
            "client",
            "client_id",
            "site_name_code",
            "filename",
            "postcode_district",
            "session",
        ] {
            assert!(name_rule(name).is_none(), "{name}");
        }
    }

    #[test]
    fn role_columns_are_never_flagged_by_name() {
        let t = table(vec![
            Column::str("name", s(&["C0001", "C0002"])),
            Column::str("Therapist_Name", s(&["T01", "T02"])),
        ]);
        let r = audit(&t, &[], Some("Therapist_Name"), Some("name"));
        assert!(r.direct_identifiers.is_empty());
        let r = audit(&t, &[], None, None);
        assert_eq!(r.direct_identifiers.len(), 1);
        assert_eq!(r.direct_identifiers[0].column, "name");
        // ... but their content still is.
        let t = one("client", &["ann@example.org"]);
        let r = audit(&t, &[], None, Some("client"));
        assert_eq!(r.direct_identifiers[0].kind, Email);
    }

    #[test]
    fn ordinary_clinic_columns_are_clean() {
        let n = 40;
        let client: Vec<String> = (1..=n).map(|i| format!("C{i:04}")).collect();
        let therapist: Vec<String> = (0..n).map(|i| format!("T{:02}", i % 7 + 1)).collect();
        let technique = ["CBT", "IPT", "PDT", "Person-centred"];
        let t = table(vec![
            Column::str("client", client.iter().map(|x| Some(x.clone())).collect()),
            Column::str(
                "therapist",
                therapist.iter().map(|x| Some(x.clone())).collect(),
            ),
            Column::num("phq9_pre", (0..n).map(|i| (i % 28) as f64).collect()),
            Column::num(
                "alliance",
                (0..n).map(|i| 3.85 + i as f64 / 100.0).collect(),
            ),
            Column::str(
                "technique",
                (0..n).map(|i| Some(technique[i % 4].to_string())).collect(),
            ),
            Column::str(
                "site",
                (0..n).map(|i| Some(format!("S{}", i % 3 + 1))).collect(),
            ),
            Column::num("year", vec![2017.0; n]),
            Column::num("session", (0..n).map(|i| (i % 20 + 1) as f64).collect()),
            Column::str(
                "study",
                (0..n).map(|_| Some("Aagaard, 2017".into())).collect(),
            ),
            Column::str("month", (0..n).map(|_| Some("2017-03".into())).collect()),
            Column::num(
                "client_code",
                (0..n).map(|i| 1_000_000.0 + i as f64).collect(),
            ),
        ]);
        let r = audit(&t, &[], Some("therapist"), Some("client"));
        assert!(
            r.direct_identifiers.is_empty(),
            "{:?}",
            r.direct_identifiers
        );
        assert!(r.quasi_identifiers.is_empty());
        assert_eq!(r.k_anonymity, None);
        assert!(r.k_anonymity_detail.is_none());
        // 40 clients over 7 therapists: T01..T05 have 6, T06 and T07 have 5.
        let sc = r.small_caseloads.expect("therapist given");
        assert_eq!(sc.therapists, 7);
        assert_eq!(sc.clients, 40);
    }

    #[test]
    fn evidence_never_quotes_values() {
        let values = [
            "ann@example.org",
            "07700 900123",
            "943 476 5919",
            "SW1A 1AA",
            "1984-03-12",
            "192.168.0.1",
            "12 High Street",
        ];
        let t = table(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| Column::str(format!("c{i}"), s(&[v, v])))
                .chain([Column::str("email", s(&["bob@example.org", ""]))])
                .collect(),
        );
        let r = audit(&t, &[], None, None);
        assert_eq!(r.direct_identifiers.len(), 8);
        let err = refuse_identifiers(&r, "t.csv")
            .expect_err("blocking")
            .to_string();
        for d in &r.direct_identifiers {
            for v in values.iter().chain(&["bob@example.org"]) {
                assert!(!d.evidence.contains(v), "{} quotes {v}", d.column);
                assert!(!err.contains(v), "error quotes {v}");
            }
        }
        assert!(!err.contains("example"));
    }

    #[test]
    fn k_anonymity_over_declared_only() {
        // Classes over (gender, age_band): (F, 18-25) x 6, (M, 18-25) x 3,
        // (M, missing) x 2, (missing, 26-35) x 1: 4 classes, k = 1,
        // 3 classes below 5 holding 3 + 2 + 1 = 6 rows.
        let mut g = vec!["F"; 6];
        g.extend(["M"; 5]);
        g.push("");
        let mut a = vec!["18-25"; 9];
        a.extend(["", "", "26-35"]);
        let eth = vec!["White British"; 12];
        let t = table(vec![
            Column::str("Gender", s(&g)),
            Column::str("age_band", s(&a)),
            Column::str("ethnicity", s(&eth)),
        ]);
        let declared = vec!["age_band".to_string(), "Gender".to_string()];
        let r = audit(&t, &declared, None, None);
        assert_eq!(r.k_anonymity, Some(1));
        let d = r.k_anonymity_detail.expect("declared");
        assert_eq!(
            (d.classes, d.classes_below_5, d.rows_in_classes_below_5),
            (4, 3, 6)
        );
        let q: Vec<(&str, &str)> = r
            .quasi_identifiers
            .iter()
            .map(|q| (q.column.as_str(), q.source.as_str()))
            .collect();
        assert_eq!(
            q,
            vec![
                ("age_band", "declared"),
                ("Gender", "declared"),
                ("ethnicity", "detected")
            ]
        );
        // Numeric quasi-identifier: ages 30 x 5 and 41 x 5, -0 == 0 is not an issue.
        let ages: Vec<f64> = [30.0; 5].into_iter().chain([41.0; 5]).collect();
        let t = table(vec![Column::num("age", ages)]);
        let r = audit(&t, &["age".to_string()], None, None);
        assert_eq!(r.k_anonymity, Some(5));
        let d = r.k_anonymity_detail.expect("declared");
        assert_eq!(
            (d.classes, d.classes_below_5, d.rows_in_classes_below_5),
            (2, 0, 0)
        );
        // Detected only: no k.
        let r = audit(&t, &[], None, None);
        assert_eq!(r.k_anonymity, None);
        assert_eq!(r.quasi_identifiers[0].source, "detected");
    }

    #[test]
    fn small_caseloads_rows_or_distinct_clients() {
        // T1: 10 rows, 4 distinct clients; T2: 3 rows, 3 clients; T3: 8 rows,
        // 8 clients; 2 rows without a therapist.
        let mut th = vec!["T1"; 10];
        th.extend(["T2"; 3]);
        th.extend(["T3"; 8]);
        th.extend(["", ""]);
        let mut cl: Vec<String> = (0..10).map(|i| format!("A{}", i % 4)).collect();
        cl.extend((0..3).map(|i| format!("B{i}")));
        cl.extend((0..8).map(|i| format!("C{i}")));
        cl.extend(["D1".into(), "D2".into()]);
        let t = table(vec![
            Column::str("therapist", s(&th)),
            Column::str("client", cl.into_iter().map(Some).collect()),
        ]);
        let r = audit(&t, &[], Some("therapist"), None);
        let sc = r.small_caseloads.expect("therapist");
        assert_eq!(sc.threshold, 8);
        assert_eq!((sc.therapists, sc.clients), (1, 3));
        assert_eq!(sc.ids, vec!["T2"]);
        let r = audit(&t, &[], Some("therapist"), Some("client"));
        let sc = r.small_caseloads.expect("therapist");
        assert_eq!((sc.therapists, sc.clients), (2, 7));
        assert_eq!(sc.ids, vec!["T1", "T2"]);
        // Numeric codes sort as numbers.
        let t = table(vec![Column::num(
            "therapist",
            vec![10.0, 9.0, 2.0, 2.0, f64::NAN],
        )]);
        let sc = audit(&t, &[], Some("therapist"), None)
            .small_caseloads
            .expect("therapist");
        assert_eq!(sc.ids, vec!["2", "9", "10"]);
        assert_eq!(sc.clients, 4);
        assert!(audit(&t, &[], None, None).small_caseloads.is_none());
    }

    #[test]
    fn refusal_names_column_and_kind() {
        let t = table(vec![
            Column::str("email", s(&["ann@example.org", ""])),
            Column::str("notes", s(&["", ""])),
            Column::num("nhs", vec![9434765919.0, 4010232137.0]),
        ]);
        let r = audit(&t, &[], None, None);
        let e = refuse_identifiers(&r, "clinic.csv").expect_err("blocking");
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(msg.starts_with(
            "clinic.csv holds direct identifiers: column 'email' (email), column 'nhs' (nhs_number); remove the column, or pass --allow-identifiers if the data are allowed to hold it"
        ), "{msg}");
        assert!(msg.contains("clinic.csv, column 'nhs': holds NHS numbers (nhs_number): 2 of 2"));
        assert!(!msg.contains("notes"));
        // Nothing found: no error, no warnings.
        let t = one("site", &["S1"]);
        let r = audit(&t, &[], None, None);
        assert_eq!(
            refuse_identifiers(&r, "x.csv").expect("clean"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn large_columns_are_sampled_but_email_is_searched() {
        let n = 25_000;
        let v: Vec<Option<String>> = (0..n).map(|_| Some("SW1A 1AA".to_string())).collect();
        let t = table(vec![Column::str("where", v)]);
        assert_eq!(
            found(&t)[0].2,
            "20,000 of the first 20,000 non-missing values look like full UK postcodes (first on line 2)"
        );
        let mut v: Vec<Option<String>> = (0..n).map(|_| Some("ok".to_string())).collect();
        v[24_000] = Some("ann@example.org".into());
        let t = table(vec![Column::str("comment", v)]);
        assert_eq!(
            found(&t),
            vec![(
                "comment".into(),
                Email,
                "1 of 25,000 non-missing values contains an e-mail address (first on line 24,002)"
                    .into(),
                true
            )]
        );
    }

    #[test]
    fn json_field_names_and_kinds() {
        let t = table(vec![
            Column::str("NHS no", s(&[""])),
            Column::str("gender", s(&["F"])),
        ]);
        let r = audit(&t, &["gender".into()], Some("gender"), None);
        let j = serde_json::to_value(&r).expect("serialises");
        assert_eq!(j["direct_identifiers"][0]["kind"], "nhs_number");
        assert_eq!(j["direct_identifiers"][0]["column"], "NHS no");
        assert_eq!(j["direct_identifiers"][0]["blocking"], true);
        assert_eq!(j["quasi_identifiers"][0]["source"], "declared");
        assert_eq!(j["k_anonymity"], 1);
        assert_eq!(j["k_anonymity_detail"]["rows_in_classes_below_5"], 1);
        assert_eq!(j["small_caseloads"]["threshold"], 8);
        assert_eq!(j["small_caseloads"]["ids"][0], "F");
        let all = [
            (Name, "name"),
            (Email, "email"),
            (Phone, "phone"),
            (NhsNumber, "nhs_number"),
            (Postcode, "postcode"),
            (FullDate, "full_date"),
            (IpAddress, "ip_address"),
            (Address, "address"),
            (FreeText, "free_text"),
            (OtherId, "other_id"),
        ];
        for (k, name) in all {
            assert_eq!(serde_json::to_value(k).expect("kind"), name);
            assert_eq!(k.as_str(), name);
        }
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    /// `cargo test --release --lib data::privacy -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn speed_one_million_rows() {
        let n = 1_000_000;
        let t = table(vec![
            Column::str("client", (0..n).map(|i| Some(format!("C{i:07}"))).collect()),
            Column::str(
                "therapist",
                (0..n).map(|i| Some(format!("T{:03}", i % 500))).collect(),
            ),
            Column::str(
                "site",
                (0..n).map(|i| Some(format!("S{}", i % 20))).collect(),
            ),
            Column::str(
                "technique",
                (0..n).map(|i| Some(["CBT", "IPT"][i % 2].into())).collect(),
            ),
            Column::str(
                "gender",
                (0..n).map(|i| Some(["F", "M"][i % 2].into())).collect(),
            ),
            Column::str(
                "age_band",
                (0..n).map(|i| Some(format!("{}", i % 7))).collect(),
            ),
            Column::str(
                "notes",
                (0..n)
                    .map(|i| Some(format!("seen on week {i} and felt a little better overall")))
                    .collect(),
            ),
            Column::num("pre", (0..n).map(|i| (i % 28) as f64).collect()),
            Column::num("post", (0..n).map(|i| (i % 27) as f64).collect()),
            Column::num(
                "alliance",
                (0..n).map(|i| 3.0 + (i % 100) as f64 / 50.0).collect(),
            ),
        ]);
        let start = std::time::Instant::now();
        let r = audit(
            &t,
            &["gender".into(), "age_band".into()],
            Some("therapist"),
            Some("client"),
        );
        let took = start.elapsed();
        eprintln!("audit of 1,000,000 x 10: {took:?}");
        assert_eq!(r.k_anonymity, Some(71_428));
        assert_eq!(r.direct_identifiers.len(), 1);
    }
}
