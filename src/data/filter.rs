//! The `--where` row filter every command accepts.
//!
//! A small SQL-like condition language, parsed by hand (recursive descent):
//!
//! ```text
//! expr    := or
//! or      := and (OR and)*
//! and     := not (AND not)*
//! not     := NOT not | primary
//! primary := '(' expr ')'
//!          | operand cmp operand                    cmp: = == != <> < <= > >=
//!          | operand IS [NOT] NULL
//!          | operand [NOT] IN '(' literal (',' literal)* ')'
//!          | operand [NOT] BETWEEN literal AND literal
//!          | operand [NOT] LIKE 'pattern'           % = any text, _ = one character
//! operand := column | literal
//! column  := bare name [A-Za-z_.][A-Za-z0-9_.]*  (so `.g`, `.g_se` work)
//!          | "double quoted" | `backticked`       (names with spaces, keywords)
//! literal := 'text' ('' is a quote inside)  |  number (-1, 0.5, 1e3)
//! ```
//!
//! Keywords (`AND OR NOT IS NULL IN BETWEEN LIKE`) are case-insensitive;
//! column names and text values are case-sensitive. `NOT` binds tighter than
//! `AND`, which binds tighter than `OR`: `a OR b AND c` is `a OR (b AND c)`.
//!
//! # Semantics
//!
//! * **Three-valued logic.** Every condition is true, false or unknown, and
//!   only *true* keeps a row. Any comparison (`=`, `<`, `IN`, `BETWEEN`,
//!   `LIKE`, ...) with a missing cell is unknown, so `x = 1` and `x != 1` both
//!   drop rows where `x` is missing, and so does `NOT (x = 1)` (NOT unknown is
//!   unknown). `AND`/`OR` follow Kleene's tables (false AND unknown = false,
//!   true OR unknown = true). `IS NULL` / `IS NOT NULL` are never unknown:
//!   `x IS NULL OR x = 1` keeps the missing rows.
//! * **Numeric column vs number**: numeric comparison. **Numeric column vs
//!   'text'**: the text must read as a number (`year = '2017'` works);
//!   otherwise it is an input error (`year = 'abc'`). This also applies to
//!   `IN` lists and `BETWEEN` bounds.
//! * **Text column vs 'text'**: exact, case-sensitive comparison; `<`, `>`
//!   are lexicographic (by Unicode code point).
//! * **Text column vs number** (and text column vs numeric column): a cell
//!   that reads as a number is compared numerically (so codes "1", "2" match
//!   `= 1`, and "01" too); for any other cell `=` is false, `!=` is true, and
//!   `<`, `<=`, `>`, `>=` (and `BETWEEN`) are unknown, so the row is dropped.
//!   Ordering a text column none of whose values is a number against a
//!   number (`technique < 3`) makes no sense and is an input error.
//! * **LIKE** matches the whole cell, case-sensitively; a numeric cell is
//!   matched in its printed form (`year LIKE '20%'`).
//! * A literal on its own side is a constant: `'a' IS NULL` is false.
//!
//! All errors are [`Error::Input`] (exit 2) on the pseudo-file `--where`:
//! syntax errors quote the condition with a caret under the problem and say
//! what was expected; unknown columns list the columns the data have.
//!
//! Evaluation resolves column names once and then runs one tight loop per
//! condition node over all rows (no per-row allocation).

use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::data::table::{format_num, parse_number, ColumnData, Table};
use crate::error::{Error, Problem, Result};

/// The pseudo-file named in every error of this module.
const FLAG: &str = "--where";

/// A parsed `--where` condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    text: String,
    expr: Expr,
}

impl Filter {
    /// Parses the expression; syntax errors are Error::Input (exit 2) naming
    /// `--where`, quoting the expression with a caret under the problem and
    /// saying what was expected.
    pub fn parse(expr: &str) -> Result<Filter> {
        let chars: Vec<char> = expr.chars().collect();
        let toks = lex(expr, &chars)?;
        let mut p = Parser {
            src: expr,
            chars: &chars,
            toks,
            i: 0,
        };
        if p.peek().tok == Tok::End {
            return Err(p.error_at(
                p.peek().pos,
                "the condition is empty; write one such as time = 'post' or year >= 2010",
            ));
        }
        let e = p.parse_or()?;
        let t = p.peek();
        match t.tok {
            Tok::End => {}
            Tok::RParen => {
                return Err(p.error_at(t.pos, "this ')' has no matching '('"));
            }
            _ => {
                let d = p.describe(t);
                return Err(p.error_at(
                    t.pos,
                    &format!(
                        "unexpected {d} after a complete condition; expected AND, OR or the end \
                         of the condition (text values go in single quotes)"
                    ),
                ));
            }
        }
        Ok(Filter {
            text: expr.to_string(),
            expr: e,
        })
    }

    /// Evaluates on every row: true = keep. Unknown columns, and comparisons
    /// that make no sense (a numeric column against non-numeric text, ordering
    /// a text column without numbers against a number), are Error::Input
    /// naming the column and listing the available columns.
    pub fn apply(&self, table: &Table) -> Result<Vec<bool>> {
        let ctx = Ctx {
            table,
            dc: table.source.decimal_comma,
        };
        let node = ctx.compile(&self.expr)?;
        let n = table.nrows();
        let mut out = vec![FALSE; n];
        node.eval(&mut out, ctx.dc);
        Ok(out.into_iter().map(|t| t == TRUE).collect())
    }

    /// The columns the expression mentions, each once, in order of appearance.
    pub fn columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.expr.collect_columns(&mut out);
        out
    }

    /// The expression as the user wrote it.
    pub fn text(&self) -> &str {
        &self.text
    }
}

// ---------------------------------------------------------------------------
// Syntax tree

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
    fn is_ordering(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
    fn holds(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    Bare,
    Double,
    Backtick,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Column { name: String, quote: Quote },
    Text(String),
    Num(f64),
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp {
        left: Operand,
        op: CmpOp,
        right: Operand,
    },
    IsNull {
        operand: Operand,
        negated: bool,
    },
    In {
        operand: Operand,
        list: Vec<Operand>,
        negated: bool,
    },
    Between {
        operand: Operand,
        low: Operand,
        high: Operand,
        negated: bool,
    },
    Like {
        operand: Operand,
        pattern: String,
        negated: bool,
    },
}

impl Expr {
    fn collect_columns(&self, out: &mut Vec<String>) {
        let mut add = |o: &Operand| {
            if let Operand::Column { name, .. } = o {
                if !out.contains(name) {
                    out.push(name.clone());
                }
            }
        };
        match self {
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.collect_columns(out);
                b.collect_columns(out);
            }
            Expr::Not(a) => a.collect_columns(out),
            Expr::Cmp { left, right, .. } => {
                add(left);
                add(right);
            }
            Expr::IsNull { operand, .. } | Expr::Like { operand, .. } => add(operand),
            Expr::In { operand, list, .. } => {
                add(operand);
                list.iter().for_each(add);
            }
            Expr::Between {
                operand, low, high, ..
            } => {
                add(operand);
                add(low);
                add(high);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Op(CmpOp),
    /// A bare word: a keyword or a column name.
    Word(String),
    /// A column name in double quotes or backticks.
    Quoted(String, Quote),
    /// A 'text' literal (quotes removed, '' unescaped).
    Str(String),
    Num(f64),
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Character index (0-based) where the token starts.
    pos: usize,
    /// Character index one past its end.
    end: usize,
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '.'
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '.'
}

fn lex(src: &str, chars: &[char]) -> Result<Vec<Token>> {
    let err = |pos: usize, msg: &str| syntax_error(src, pos, msg);
    let mut toks = Vec::new();
    let n = chars.len();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let digit_at = |k: usize| k < n && chars[k].is_ascii_digit();
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '=' => {
                i += if i + 1 < n && chars[i + 1] == '=' {
                    2
                } else {
                    1
                };
                Tok::Op(CmpOp::Eq)
            }
            '!' => {
                if i + 1 < n && chars[i + 1] == '=' {
                    i += 2;
                    Tok::Op(CmpOp::Ne)
                } else {
                    return Err(err(i, "'!' on its own is not an operator; write NOT or !="));
                }
            }
            '<' => {
                if i + 1 < n && chars[i + 1] == '=' {
                    i += 2;
                    Tok::Op(CmpOp::Le)
                } else if i + 1 < n && chars[i + 1] == '>' {
                    i += 2;
                    Tok::Op(CmpOp::Ne)
                } else {
                    i += 1;
                    Tok::Op(CmpOp::Lt)
                }
            }
            '>' => {
                if i + 1 < n && chars[i + 1] == '=' {
                    i += 2;
                    Tok::Op(CmpOp::Ge)
                } else {
                    i += 1;
                    Tok::Op(CmpOp::Gt)
                }
            }
            '&' => return Err(err(i, "'&' is not an operator here; write AND")),
            '|' => return Err(err(i, "'|' is not an operator here; write OR")),
            '\'' | '"' | '`' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    if j >= n {
                        let msg = match c {
                            '\'' => "unterminated text value: the ' here has no closing '; \
                                     text values look like 'post' (write '' for a quote inside)"
                                .to_string(),
                            _ => {
                                format!("unterminated column name: the {c} here has no closing {c}")
                            }
                        };
                        return Err(err(start, &msg));
                    }
                    if chars[j] == c {
                        if j + 1 < n && chars[j + 1] == c {
                            s.push(c);
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    s.push(chars[j]);
                    j += 1;
                }
                i = j + 1;
                match c {
                    '\'' => Tok::Str(s),
                    '"' => Tok::Quoted(s, Quote::Double),
                    _ => {
                        if s.is_empty() {
                            return Err(err(start, "empty column name ``"));
                        }
                        Tok::Quoted(s, Quote::Backtick)
                    }
                }
            }
            _ if c.is_ascii_digit()
                || (c == '.' && digit_at(i + 1))
                || ((c == '-' || c == '+')
                    && (digit_at(i + 1)
                        || (i + 1 < n && chars[i + 1] == '.' && digit_at(i + 2)))) =>
            {
                let mut j = i;
                if chars[j] == '-' || chars[j] == '+' {
                    j += 1;
                }
                while digit_at(j) {
                    j += 1;
                }
                if j < n && chars[j] == '.' {
                    j += 1;
                    while digit_at(j) {
                        j += 1;
                    }
                }
                if j < n
                    && (chars[j] == 'e' || chars[j] == 'E')
                    && (digit_at(j + 1)
                        || (j + 2 < n
                            && (chars[j + 1] == '-' || chars[j + 1] == '+')
                            && digit_at(j + 2)))
                {
                    j += 2;
                    while digit_at(j) {
                        j += 1;
                    }
                }
                if j < n && is_name_char(chars[j]) {
                    let word: String = chars[i..]
                        .iter()
                        .take_while(|&&c| is_name_char(c) || c == '-' || c == '+')
                        .collect();
                    return Err(err(
                        i,
                        &format!(
                            "'{word}' is neither a number nor a column name; a column name \
                             that starts with a digit goes in backticks: `{word}`"
                        ),
                    ));
                }
                let text: String = chars[i..j].iter().collect();
                let v: f64 = match text.parse() {
                    Ok(v) if f64::is_finite(v) => v,
                    _ => {
                        return Err(err(i, &format!("the number {text} is out of range")));
                    }
                };
                i = j;
                Tok::Num(v)
            }
            '-' | '+' => {
                return Err(err(
                    i,
                    &format!(
                        "unexpected '{c}': arithmetic is not supported; expected a number \
                         such as -1"
                    ),
                ));
            }
            _ if is_name_start(c) => {
                let mut j = i + 1;
                while j < n && is_name_char(chars[j]) {
                    j += 1;
                }
                let word: String = chars[i..j].iter().collect();
                i = j;
                Tok::Word(word)
            }
            _ => {
                return Err(err(
                    i,
                    &format!(
                        "unexpected character '{c}'; column names with unusual characters go in \
                         backticks (`my col`), text values in single quotes ('text')"
                    ),
                ));
            }
        };
        toks.push(Token {
            tok,
            pos: start,
            end: i,
        });
    }
    toks.push(Token {
        tok: Tok::End,
        pos: n,
        end: n,
    });
    Ok(toks)
}

/// An input error on `--where` quoting the condition with a caret under
/// character `pos` (0-based).
fn syntax_error(src: &str, pos: usize, msg: &str) -> Error {
    let shown: String = src
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let caret = format!("{}^", " ".repeat(pos));
    Error::problem(Problem::new(
        FLAG,
        format!(
            "{msg} (at character {}):\n    {shown}\n    {caret}",
            pos + 1
        ),
    ))
}

// ---------------------------------------------------------------------------
// Parser

const KEYWORDS: [&str; 8] = ["AND", "OR", "NOT", "IS", "NULL", "IN", "BETWEEN", "LIKE"];

const EXPECT_VALUE: &str =
    "a column name, a text value in single quotes ('post') or a number (2010)";

const EXPECT_COMPARISON: &str = "=, !=, <, <=, >, >=, IS [NOT] NULL, [NOT] IN (...), \
                                 [NOT] BETWEEN ... AND ..., or [NOT] LIKE '...'";

struct Parser<'a> {
    src: &'a str,
    chars: &'a [char],
    toks: Vec<Token>,
    i: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token {
        &self.toks[self.i]
    }
    fn next(&mut self) -> Token {
        let t = self.toks[self.i].clone();
        if t.tok != Tok::End {
            self.i += 1;
        }
        t
    }
    fn is_kw(t: &Token, kw: &str) -> bool {
        matches!(&t.tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }
    fn peek_kw(&self, kw: &str) -> bool {
        Self::is_kw(self.peek(), kw)
    }
    fn error_at(&self, pos: usize, msg: &str) -> Error {
        syntax_error(self.src, pos, msg)
    }
    /// How a token reads in a message.
    fn describe(&self, t: &Token) -> String {
        match t.tok {
            Tok::End => "the end of the condition".to_string(),
            _ => {
                let s: String = self.chars[t.pos..t.end].iter().collect();
                format!("'{}'", crate::error::shorten(&s))
            }
        }
    }

    fn parse_or(&mut self) -> Result<Expr> {
        let mut left = self.parse_and()?;
        while self.peek_kw("OR") {
            self.next();
            let right = self.parse_and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Expr> {
        let mut left = self.parse_not()?;
        while self.peek_kw("AND") {
            self.next();
            let right = self.parse_not()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_not(&mut self) -> Result<Expr> {
        if self.peek_kw("NOT") {
            self.next();
            let inner = self.parse_not()?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.parse_primary()
    }

    fn parse_primary(&mut self) -> Result<Expr> {
        if self.peek().tok == Tok::LParen {
            let open = self.next();
            let e = self.parse_or()?;
            let t = self.peek().clone();
            if t.tok != Tok::RParen {
                let d = self.describe(&t);
                return Err(self.error_at(
                    t.pos,
                    &format!(
                        "expected ')' to close the '(' at character {}, or AND / OR; found {d}",
                        open.pos + 1
                    ),
                ));
            }
            self.next();
            return Ok(e);
        }
        let operand = self.parse_operand(None)?;
        let op_tok = self.peek().clone();
        let operand_text = self.describe(&self.toks[self.i - 1]);
        match &op_tok.tok {
            Tok::Op(op) => {
                self.next();
                let right = self.parse_operand(Some(op.symbol()))?;
                Ok(Expr::Cmp {
                    left: operand,
                    op: *op,
                    right,
                })
            }
            _ if Self::is_kw(&op_tok, "IS") => {
                self.next();
                let negated = self.peek_kw("NOT");
                if negated {
                    self.next();
                }
                let t = self.peek().clone();
                if !Self::is_kw(&t, "NULL") {
                    let d = self.describe(&t);
                    return Err(self.error_at(
                        t.pos,
                        &format!(
                            "expected NULL after IS{}; found {d}",
                            if negated { " NOT" } else { "" }
                        ),
                    ));
                }
                self.next();
                Ok(Expr::IsNull { operand, negated })
            }
            _ if Self::is_kw(&op_tok, "NOT")
                || Self::is_kw(&op_tok, "IN")
                || Self::is_kw(&op_tok, "BETWEEN")
                || Self::is_kw(&op_tok, "LIKE") =>
            {
                let negated = Self::is_kw(&op_tok, "NOT");
                if negated {
                    self.next();
                }
                let t = self.next();
                if Self::is_kw(&t, "IN") {
                    self.parse_in_list(operand, negated)
                } else if Self::is_kw(&t, "BETWEEN") {
                    let low = self.parse_literal("BETWEEN")?;
                    let t = self.peek().clone();
                    if !Self::is_kw(&t, "AND") {
                        let d = self.describe(&t);
                        return Err(self.error_at(
                            t.pos,
                            &format!("expected AND in BETWEEN low AND high; found {d}"),
                        ));
                    }
                    self.next();
                    let high = self.parse_literal("BETWEEN ... AND")?;
                    Ok(Expr::Between {
                        operand,
                        low,
                        high,
                        negated,
                    })
                } else if Self::is_kw(&t, "LIKE") {
                    let p = self.next();
                    match p.tok {
                        Tok::Str(pattern) => Ok(Expr::Like {
                            operand,
                            pattern,
                            negated,
                        }),
                        _ => {
                            let d = self.describe(&p);
                            Err(self.error_at(
                                p.pos,
                                &format!(
                                    "expected a pattern in single quotes after LIKE, such as \
                                     'CB%' (% = any text, _ = one character); found {d}"
                                ),
                            ))
                        }
                    }
                } else {
                    let d = self.describe(&t);
                    Err(self.error_at(
                        t.pos,
                        &format!("expected IN, BETWEEN or LIKE after NOT; found {d}"),
                    ))
                }
            }
            _ => {
                let d = self.describe(&op_tok);
                Err(self.error_at(
                    op_tok.pos,
                    &format!(
                        "expected a comparison after {operand_text} ({EXPECT_COMPARISON}); \
                         found {d}"
                    ),
                ))
            }
        }
    }

    fn parse_in_list(&mut self, operand: Operand, negated: bool) -> Result<Expr> {
        let t = self.next();
        if t.tok != Tok::LParen {
            let d = self.describe(&t);
            return Err(self.error_at(
                t.pos,
                &format!("expected '(' after IN, as in IN ('CBT', 'IPT'); found {d}"),
            ));
        }
        let mut list = vec![self.parse_literal("IN (")?];
        loop {
            let t = self.next();
            match t.tok {
                Tok::Comma => list.push(self.parse_literal("',' in the IN list")?),
                Tok::RParen => break,
                _ => {
                    let d = self.describe(&t);
                    return Err(self.error_at(
                        t.pos,
                        &format!("expected ',' or ')' in the IN list; found {d}"),
                    ));
                }
            }
        }
        Ok(Expr::In {
            operand,
            list,
            negated,
        })
    }

    /// A 'text' or a number (IN lists, BETWEEN bounds).
    fn parse_literal(&mut self, after: &str) -> Result<Operand> {
        let t = self.next();
        match t.tok {
            Tok::Str(s) => Ok(Operand::Text(s)),
            Tok::Num(v) => Ok(Operand::Num(v)),
            _ => {
                let d = self.describe(&t);
                let hint = match &t.tok {
                    Tok::Word(w) if w.eq_ignore_ascii_case("NULL") => {
                        " (missing values are tested with IS NULL)".to_string()
                    }
                    Tok::Word(w) | Tok::Quoted(w, _) => {
                        format!(" (text values go in single quotes: '{w}')")
                    }
                    _ => String::new(),
                };
                Err(self.error_at(
                    t.pos,
                    &format!(
                        "expected a text value in single quotes or a number after {after}; \
                         found {d}{hint}"
                    ),
                ))
            }
        }
    }

    /// A column, 'text' or number. `after` is the operator before it, if any.
    fn parse_operand(&mut self, after: Option<&str>) -> Result<Operand> {
        let t = self.peek().clone();
        let what = match after {
            Some(op) => format!("expected a value after '{op}': {EXPECT_VALUE}"),
            None => {
                format!("expected a condition such as time = 'post', starting with {EXPECT_VALUE}")
            }
        };
        let op = match &t.tok {
            Tok::Str(s) => Operand::Text(s.clone()),
            Tok::Num(v) => Operand::Num(*v),
            Tok::Quoted(name, q) => Operand::Column {
                name: name.clone(),
                quote: *q,
            },
            Tok::Word(w) => {
                if w.eq_ignore_ascii_case("NULL") {
                    let msg = if after.is_some() {
                        "NULL cannot be compared with; to keep rows with a missing value write \
                         `column IS NULL` (or IS NOT NULL)"
                            .to_string()
                    } else {
                        format!(
                            "{what}; found NULL (missing values are tested with column IS NULL)"
                        )
                    };
                    return Err(self.error_at(t.pos, &msg));
                }
                if KEYWORDS.iter().any(|k| w.eq_ignore_ascii_case(k)) {
                    return Err(self.error_at(
                        t.pos,
                        &format!(
                            "{what}; found the keyword {} (a column with that name goes in \
                             backticks: `{w}`)",
                            w.to_ascii_uppercase()
                        ),
                    ));
                }
                Operand::Column {
                    name: w.clone(),
                    quote: Quote::Bare,
                }
            }
            _ => {
                let d = self.describe(&t);
                return Err(self.error_at(t.pos, &format!("{what}; found {d}")));
            }
        };
        self.next();
        Ok(op)
    }
}

// ---------------------------------------------------------------------------
// Resolution against a table

/// Three-valued truth, ordered so that AND = min, OR = max, NOT = 2 - x.
type Tri = u8;
const FALSE: Tri = 0;
const UNKNOWN: Tri = 1;
const TRUE: Tri = 2;

fn tri(b: bool) -> Tri {
    if b {
        TRUE
    } else {
        FALSE
    }
}

/// Where a value comes from, resolved once.
#[derive(Debug, Clone, Copy)]
enum Src<'a> {
    NumCol(&'a str, &'a [f64]),
    StrCol(&'a str, &'a [Option<String>]),
    Num(f64),
    Text(&'a str),
}

#[derive(Debug, Clone, Copy)]
enum Cell<'a> {
    Missing,
    Num(f64),
    Text(&'a str),
}

impl<'a> Src<'a> {
    #[inline(always)]
    fn get(&self, row: usize) -> Cell<'a> {
        match *self {
            Src::NumCol(_, v) => {
                let x = v[row];
                if x.is_nan() {
                    Cell::Missing
                } else {
                    Cell::Num(x)
                }
            }
            Src::StrCol(_, v) => match &v[row] {
                Some(s) => Cell::Text(s.as_str()),
                None => Cell::Missing,
            },
            Src::Num(x) => Cell::Num(x),
            Src::Text(s) => Cell::Text(s),
        }
    }
}

#[inline(always)]
fn compare(a: Cell, op: CmpOp, b: Cell, dc: bool) -> Tri {
    match (a, b) {
        (Cell::Missing, _) | (_, Cell::Missing) => UNKNOWN,
        (Cell::Num(x), Cell::Num(y)) => match x.partial_cmp(&y) {
            Some(o) => tri(op.holds(o)),
            None => UNKNOWN,
        },
        (Cell::Text(s), Cell::Text(t)) => tri(op.holds(s.cmp(t))),
        (Cell::Num(x), Cell::Text(s)) => num_vs_text(x, op, s, dc, false),
        (Cell::Text(s), Cell::Num(y)) => num_vs_text(y, op, s, dc, true),
    }
}

/// A number against a text cell: numeric when the text reads as a number;
/// otherwise `=` false, `!=` true, orderings unknown. `flipped` when the text
/// is on the left.
fn num_vs_text(x: f64, op: CmpOp, s: &str, dc: bool, flipped: bool) -> Tri {
    match parse_number(s, dc) {
        Some(y) => {
            let o = if flipped {
                y.partial_cmp(&x)
            } else {
                x.partial_cmp(&y)
            };
            o.map_or(UNKNOWN, |o| tri(op.holds(o)))
        }
        None => match op {
            CmpOp::Eq => FALSE,
            CmpOp::Ne => TRUE,
            _ => UNKNOWN,
        },
    }
}

/// One piece of a LIKE pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pat {
    Lit(char),
    One,
    Many,
}

fn compile_like(pattern: &str) -> Vec<Pat> {
    let mut out: Vec<Pat> = Vec::new();
    for c in pattern.chars() {
        let p = match c {
            '%' => Pat::Many,
            '_' => Pat::One,
            c => Pat::Lit(c),
        };
        if p == Pat::Many && out.last() == Some(&Pat::Many) {
            continue;
        }
        out.push(p);
    }
    out
}

/// Whole-string wildcard match (iterative, backtracking to the last `%`).
fn like_match(s: &str, p: &[Pat]) -> bool {
    let (mut si, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                Pat::Many => {
                    pi += 1;
                    star = Some((pi, si));
                    continue;
                }
                Pat::One => {
                    if let Some(c) = s[si..].chars().next() {
                        si += c.len_utf8();
                        pi += 1;
                        continue;
                    }
                }
                Pat::Lit(l) => {
                    if let Some(c) = s[si..].chars().next() {
                        if c == l {
                            si += c.len_utf8();
                            pi += 1;
                            continue;
                        }
                    }
                }
            }
        } else if si == s.len() {
            return true;
        }
        match star {
            Some((sp, ss)) => match s[ss..].chars().next() {
                Some(c) => {
                    let ns = ss + c.len_utf8();
                    star = Some((sp, ns));
                    si = ns;
                    pi = sp;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

/// The resolved condition.
enum Node<'a> {
    Const(Tri),
    And(Box<Node<'a>>, Box<Node<'a>>),
    Or(Box<Node<'a>>, Box<Node<'a>>),
    Not(Box<Node<'a>>),
    Cmp(Src<'a>, CmpOp, Src<'a>),
    IsNull(Src<'a>, bool),
    In(Src<'a>, Vec<Src<'a>>),
    Like(Src<'a>, Vec<Pat>),
}

impl Node<'_> {
    fn eval(&self, out: &mut [Tri], dc: bool) {
        match self {
            Node::Const(t) => out.fill(*t),
            Node::Not(a) => {
                a.eval(out, dc);
                out.iter_mut().for_each(|t| *t = TRUE - *t);
            }
            Node::And(a, b) => {
                a.eval(out, dc);
                let mut tmp = vec![FALSE; out.len()];
                b.eval(&mut tmp, dc);
                out.iter_mut()
                    .zip(&tmp)
                    .for_each(|(o, &t)| *o = (*o).min(t));
            }
            Node::Or(a, b) => {
                a.eval(out, dc);
                let mut tmp = vec![FALSE; out.len()];
                b.eval(&mut tmp, dc);
                out.iter_mut()
                    .zip(&tmp)
                    .for_each(|(o, &t)| *o = (*o).max(t));
            }
            Node::Cmp(l, op, r) => match (*l, *r) {
                // Fast paths for the common column-vs-literal cases.
                (Src::NumCol(_, v), Src::Num(y)) => {
                    for (o, &x) in out.iter_mut().zip(v) {
                        *o = match x.partial_cmp(&y) {
                            Some(ord) => tri(op.holds(ord)),
                            None => UNKNOWN,
                        };
                    }
                }
                (Src::StrCol(_, v), Src::Text(t)) => {
                    for (o, s) in out.iter_mut().zip(v) {
                        *o = match s {
                            Some(s) => tri(op.holds(s.as_str().cmp(t))),
                            None => UNKNOWN,
                        };
                    }
                }
                (l, r) => {
                    for (row, o) in out.iter_mut().enumerate() {
                        *o = compare(l.get(row), *op, r.get(row), dc);
                    }
                }
            },
            Node::IsNull(src, negated) => {
                for (row, o) in out.iter_mut().enumerate() {
                    let missing = matches!(src.get(row), Cell::Missing);
                    *o = tri(missing != *negated);
                }
            }
            Node::In(src, list) => {
                for (row, o) in out.iter_mut().enumerate() {
                    let cell = src.get(row);
                    *o = if matches!(cell, Cell::Missing) {
                        UNKNOWN
                    } else {
                        tri(list
                            .iter()
                            .any(|item| compare(cell, CmpOp::Eq, item.get(row), dc) == TRUE))
                    };
                }
            }
            Node::Like(src, pat) => {
                let mut buf = String::new();
                for (row, o) in out.iter_mut().enumerate() {
                    *o = match src.get(row) {
                        Cell::Missing => UNKNOWN,
                        Cell::Text(s) => tri(like_match(s, pat)),
                        Cell::Num(x) => {
                            buf.clear();
                            write_num(&mut buf, x);
                            tri(like_match(&buf, pat))
                        }
                    };
                }
            }
        }
    }
}

/// [`format_num`] into a reused buffer.
fn write_num(buf: &mut String, x: f64) {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        let _ = write!(buf, "{}", x as i64);
    } else {
        let _ = write!(buf, "{x}");
    }
}

struct Ctx<'t> {
    table: &'t Table,
    dc: bool,
}

impl<'t> Ctx<'t> {
    fn compile<'a>(&self, e: &'a Expr) -> Result<Node<'a>>
    where
        't: 'a,
    {
        Ok(match e {
            Expr::And(a, b) => Node::And(Box::new(self.compile(a)?), Box::new(self.compile(b)?)),
            Expr::Or(a, b) => Node::Or(Box::new(self.compile(a)?), Box::new(self.compile(b)?)),
            Expr::Not(a) => Node::Not(Box::new(self.compile(a)?)),
            Expr::Cmp { left, op, right } => {
                let l = self.resolve(left, false)?;
                let r = self.resolve(right, matches!(left, Operand::Column { .. }))?;
                let (l, r) = self.coerce(l, *op, r)?;
                self.constant_or(Node::Cmp(l, *op, r))
            }
            Expr::IsNull { operand, negated } => {
                let s = self.resolve(operand, false)?;
                self.constant_or(Node::IsNull(s, *negated))
            }
            Expr::In {
                operand,
                list,
                negated,
            } => {
                let s = self.resolve(operand, false)?;
                let mut items = Vec::with_capacity(list.len());
                for item in list {
                    let i = self.resolve(item, false)?;
                    items.push(self.coerce(s, CmpOp::Eq, i)?.1);
                }
                let node = self.constant_or(Node::In(s, items));
                if *negated {
                    Node::Not(Box::new(node))
                } else {
                    node
                }
            }
            Expr::Between {
                operand,
                low,
                high,
                negated,
            } => {
                let s = self.resolve(operand, false)?;
                let lo = self.resolve(low, false)?;
                let hi = self.resolve(high, false)?;
                let (s1, lo) = self.coerce(s, CmpOp::Ge, lo)?;
                let (s2, hi) = self.coerce(s, CmpOp::Le, hi)?;
                let node = Node::And(
                    Box::new(self.constant_or(Node::Cmp(s1, CmpOp::Ge, lo))),
                    Box::new(self.constant_or(Node::Cmp(s2, CmpOp::Le, hi))),
                );
                if *negated {
                    Node::Not(Box::new(node))
                } else {
                    node
                }
            }
            Expr::Like {
                operand,
                pattern,
                negated,
            } => {
                let s = self.resolve(operand, false)?;
                let node = self.constant_or(Node::Like(s, compile_like(pattern)));
                if *negated {
                    Node::Not(Box::new(node))
                } else {
                    node
                }
            }
        })
    }

    /// Folds a node that mentions no column into a constant.
    fn constant_or<'a>(&self, node: Node<'a>) -> Node<'a> {
        let is_lit = |s: &Src| matches!(s, Src::Num(_) | Src::Text(_));
        let constant = match &node {
            Node::Cmp(l, _, r) => is_lit(l) && is_lit(r),
            Node::IsNull(s, _) | Node::Like(s, _) => is_lit(s),
            Node::In(s, list) => is_lit(s) && list.iter().all(is_lit),
            _ => false,
        };
        if constant {
            let mut one = [FALSE];
            node.eval(&mut one, self.dc);
            Node::Const(one[0])
        } else {
            node
        }
    }

    /// Looks a column up (or passes a literal through). `after_column`: the
    /// operand is the right side of a comparison with a column on the left,
    /// so an unknown bare word is probably a text value without quotes.
    fn resolve<'a>(&self, o: &'a Operand, after_column: bool) -> Result<Src<'a>>
    where
        't: 'a,
    {
        match o {
            Operand::Num(x) => Ok(Src::Num(*x)),
            Operand::Text(s) => Ok(Src::Text(s)),
            Operand::Column { name, quote } => {
                if let Some(c) = self.table.column(name) {
                    return Ok(match &c.data {
                        ColumnData::Num(v) => Src::NumCol(c.name.as_str(), v.as_slice()),
                        ColumnData::Str(v) => Src::StrCol(c.name.as_str(), v.as_slice()),
                    });
                }
                let mut msg = match quote {
                    Quote::Double => format!(
                        "no column named \"{name}\"; text values go in single quotes: '{}'",
                        name.replace('\'', "''")
                    ),
                    _ => format!("no column named '{name}'"),
                };
                if let Some(c) = self
                    .table
                    .columns
                    .iter()
                    .find(|c| c.name.eq_ignore_ascii_case(name))
                {
                    msg.push_str(&format!(
                        " (did you mean '{}'? names are case-sensitive)",
                        c.name
                    ));
                } else if *quote == Quote::Bare && after_column {
                    msg.push_str(&format!(
                        "; if you meant the text value, write it in single quotes: '{name}'"
                    ));
                }
                msg.push_str(&format!(
                    ". The columns are: {}",
                    self.table.names_for_message()
                ));
                Err(Error::problem(
                    Problem::new(FLAG, msg).column(name.as_str()),
                ))
            }
        }
    }

    /// Checks that `a op b` makes sense and turns a numeric-looking 'text'
    /// compared with a numeric column into a number.
    fn coerce<'a>(&self, a: Src<'a>, op: CmpOp, b: Src<'a>) -> Result<(Src<'a>, Src<'a>)> {
        let a = self.text_to_num(a, b, op)?;
        let b = self.text_to_num(b, a, op)?;
        if op.is_ordering() {
            self.check_ordering(a, b, op)?;
            self.check_ordering(b, a, op)?;
        }
        Ok((a, b))
    }

    /// `lit` compared with a numeric column must read as a number.
    fn text_to_num<'a>(&self, lit: Src<'a>, other: Src<'a>, op: CmpOp) -> Result<Src<'a>> {
        let (Src::Text(s), Src::NumCol(name, _)) = (lit, other) else {
            return Ok(lit);
        };
        if let Some(x) = parse_number(s, self.dc) {
            return Ok(Src::Num(x));
        }
        let hint = if s.trim().is_empty() || crate::data::table::is_missing_token(s.trim()) {
            format!(" (missing values are tested with {name} IS NULL)")
        } else {
            String::new()
        };
        Err(Error::problem(
            Problem::new(
                FLAG,
                format!(
                    "column '{name}' holds numbers; '{}' is not a number{hint}. Compare it with a \
                     number, e.g. {name} {} 2010",
                    crate::error::shorten(s),
                    op.symbol()
                ),
            )
            .column(name),
        ))
    }

    /// Ordering a text column that holds no numbers against a number.
    fn check_ordering(&self, a: Src, b: Src, op: CmpOp) -> Result<()> {
        let (Src::StrCol(name, cells), Src::Num(_) | Src::NumCol(..)) = (a, b) else {
            return Ok(());
        };
        let mut first = None;
        for s in cells.iter().flatten() {
            if parse_number(s, self.dc).is_some() {
                return Ok(());
            }
            first.get_or_insert(s.as_str());
        }
        let Some(example) = first else {
            return Ok(()); // all missing: every row is unknown anyway
        };
        let other = match b {
            Src::Num(x) => format!("the number {}", format_num(x)),
            Src::NumCol(n, _) => format!("the numeric column '{n}'"),
            _ => unreachable!(),
        };
        Err(Error::problem(
            Problem::new(
                FLAG,
                format!(
                    "column '{name}' holds text (e.g. '{}'), none of it numbers, so '{}' against \
                     {other} makes no sense. Compare it with a text value in single quotes \
                     (e.g. {name} = '{}') or use a numeric column. The columns are: {}",
                    crate::error::shorten(example),
                    op.symbol(),
                    crate::error::shorten(example),
                    self.table.names_for_message()
                ),
            )
            .column(name),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::table::Column;

    const NA: f64 = f64::NAN;

    fn s(v: &[Option<&str>]) -> Vec<Option<String>> {
        v.iter().map(|x| x.map(str::to_string)).collect()
    }

    fn table(columns: Vec<Column>) -> Table {
        Table::in_memory("test.csv", columns)
    }

    /// 6 rows: x numeric with one missing, time text, technique text with
    /// one missing, code text of numeric codes plus one letter, names with
    /// dots and spaces.
    fn t() -> Table {
        table(vec![
            Column::num("x", vec![1.0, 2.0, 3.0, NA, 5.0, 1.0]),
            Column::num("y", vec![1.0, 3.0, 2.0, 4.0, NA, 1.0]),
            Column::str(
                "time",
                s(&[
                    Some("pre"),
                    Some("post"),
                    Some("pre"),
                    Some("post"),
                    Some("pre"),
                    Some("post"),
                ]),
            ),
            Column::str(
                "technique",
                s(&[
                    Some("CBT"),
                    Some("IPT"),
                    Some("PDT"),
                    None,
                    Some("CBT"),
                    Some("it's"),
                ]),
            ),
            Column::str(
                "code",
                s(&[
                    Some("1"),
                    Some("2"),
                    Some("10"),
                    Some("a"),
                    None,
                    Some("01"),
                ]),
            ),
            Column::num(".g", vec![0.1, -0.5, 2.5, 1.0, NA, 3.0]),
            Column::num("year", vec![2005.0, 2010.0, 2017.0, 2020.0, 2012.0, NA]),
            Column::str(
                "study site",
                s(&[
                    Some("S1"),
                    Some("S2"),
                    Some("S3"),
                    Some("S1"),
                    Some("S2"),
                    Some("S3"),
                ]),
            ),
        ])
    }

    fn keep(expr: &str) -> Vec<u8> {
        let f = Filter::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        f.apply(&t())
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
            .into_iter()
            .map(u8::from)
            .collect()
    }

    fn parse_err(expr: &str) -> String {
        let e = Filter::parse(expr).expect_err(expr);
        assert_eq!(e.exit_code(), 2, "{expr}");
        e.to_string()
    }

    fn apply_err(expr: &str) -> String {
        let f = Filter::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let e = f.apply(&t()).expect_err(expr);
        assert_eq!(e.exit_code(), 2, "{expr}");
        e.to_string()
    }

    #[test]
    fn comparison_operators_numeric() {
        assert_eq!(keep("x = 1"), [1, 0, 0, 0, 0, 1]);
        assert_eq!(keep("x == 1"), [1, 0, 0, 0, 0, 1]);
        assert_eq!(keep("x != 1"), [0, 1, 1, 0, 1, 0]);
        assert_eq!(keep("x <> 1"), [0, 1, 1, 0, 1, 0]);
        assert_eq!(keep("x < 3"), [1, 1, 0, 0, 0, 1]);
        assert_eq!(keep("x <= 3"), [1, 1, 1, 0, 0, 1]);
        assert_eq!(keep("x > 2"), [0, 0, 1, 0, 1, 0]);
        assert_eq!(keep("x >= 2"), [0, 1, 1, 0, 1, 0]);
        assert_eq!(keep("x>=2"), [0, 1, 1, 0, 1, 0]);
        assert_eq!(keep(".g < 0"), [0, 1, 0, 0, 0, 0]);
        assert_eq!(keep(".g > -0.5"), [1, 0, 1, 1, 0, 1]);
        assert_eq!(keep(".g >= -.5"), [1, 1, 1, 1, 0, 1]);
        assert_eq!(keep("year >= 2.01e3"), [0, 1, 1, 1, 1, 0]);
        assert_eq!(keep("2 < x"), [0, 0, 1, 0, 1, 0]);
    }

    #[test]
    fn column_vs_column() {
        assert_eq!(keep("x = y"), [1, 0, 0, 0, 0, 1]);
        assert_eq!(keep("x < y"), [0, 1, 0, 0, 0, 0]);
        assert_eq!(keep("time = time"), [1, 1, 1, 1, 1, 1]);
        // numeric vs text column: cells that read as numbers compare numerically
        assert_eq!(keep("x = code"), [1, 1, 0, 0, 0, 1]);
        assert_eq!(keep("code > x"), [0, 0, 1, 0, 0, 0]);
    }

    #[test]
    fn text_comparisons() {
        assert_eq!(keep("time = 'post'"), [0, 1, 0, 1, 0, 1]);
        assert_eq!(keep("time = 'Post'"), [0, 0, 0, 0, 0, 0]);
        assert_eq!(keep("time != 'post'"), [1, 0, 1, 0, 1, 0]);
        assert_eq!(keep("technique < 'D'"), [1, 0, 0, 0, 1, 0]);
        assert_eq!(keep("technique >= 'IPT'"), [0, 1, 1, 0, 0, 1]);
        assert_eq!(keep("'post' = time"), [0, 1, 0, 1, 0, 1]);
    }

    #[test]
    fn and_or_precedence_not_parentheses() {
        // a OR b AND c = a OR (b AND c)
        assert_eq!(keep("x = 5 OR time = 'post' AND x = 1"), [0, 0, 0, 0, 1, 1]);
        assert_eq!(
            keep("(x = 5 OR time = 'post') AND x = 1"),
            [0, 0, 0, 0, 0, 1]
        );
        assert_eq!(keep("x = 1 AND time = 'pre' OR x = 3"), [1, 0, 1, 0, 0, 0]);
        assert_eq!(keep("NOT time = 'pre'"), [0, 1, 0, 1, 0, 1]);
        assert_eq!(keep("NOT NOT time = 'pre'"), [1, 0, 1, 0, 1, 0]);
        // NOT binds tighter than AND
        assert_eq!(keep("NOT time = 'pre' AND x = 1"), [0, 0, 0, 0, 0, 1]);
        assert_eq!(keep("NOT (time = 'pre' AND x = 1)"), [0, 1, 1, 1, 1, 1]);
        assert_eq!(keep("((x = 2))"), [0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(keep("x = 1 and time = 'post'"), [0, 0, 0, 0, 0, 1]);
        assert_eq!(keep("x = 1 Or x = 2"), [1, 1, 0, 0, 0, 1]);
        assert_eq!(keep("not x = 1"), [0, 1, 1, 0, 1, 0]);
        assert_eq!(keep("x is null"), [0, 0, 0, 1, 0, 0]);
        assert_eq!(keep("x in (1, 2)"), [1, 1, 0, 0, 0, 1]);
        assert_eq!(keep("x between 2 and 3"), [0, 1, 1, 0, 0, 0]);
        assert_eq!(keep("technique like 'C%'"), [1, 0, 0, 0, 1, 0]);
    }

    #[test]
    fn in_and_not_in() {
        assert_eq!(keep("technique IN ('CBT', 'IPT')"), [1, 1, 0, 0, 1, 0]);
        // missing technique (row 4) is unknown under NOT IN too
        assert_eq!(keep("technique NOT IN ('CBT', 'IPT')"), [0, 0, 1, 0, 0, 1]);
        assert_eq!(keep("x IN (1, 5)"), [1, 0, 0, 0, 1, 1]);
        assert_eq!(keep("x NOT IN (1, 5)"), [0, 1, 1, 0, 0, 0]);
        assert_eq!(keep("year IN ('2010', 2017)"), [0, 1, 1, 0, 0, 0]);
        assert_eq!(
            keep("technique IN ('CBT', 'IPT') AND NOT \"study site\" = 'S1'"),
            [0, 1, 0, 0, 1, 0]
        );
    }

    #[test]
    fn between() {
        assert_eq!(keep("x BETWEEN 2 AND 5"), [0, 1, 1, 0, 1, 0]);
        assert_eq!(keep("x NOT BETWEEN 2 AND 5"), [1, 0, 0, 0, 0, 1]);
        assert_eq!(
            keep("x BETWEEN 2 AND 5 AND time = 'pre'"),
            [0, 0, 1, 0, 1, 0]
        );
        assert_eq!(
            keep("technique BETWEEN 'CBT' AND 'IPT'"),
            [1, 1, 0, 0, 1, 0]
        );
        assert_eq!(keep("year BETWEEN '2010' AND '2017'"), [0, 1, 1, 0, 1, 0]);
    }

    #[test]
    fn like() {
        assert_eq!(keep("technique LIKE '%T'"), [1, 1, 1, 0, 1, 0]);
        assert_eq!(keep("technique LIKE '_PT'"), [0, 1, 0, 0, 0, 0]);
        assert_eq!(keep("technique LIKE 'CBT'"), [1, 0, 0, 0, 1, 0]);
        assert_eq!(keep("technique LIKE 'cbt'"), [0, 0, 0, 0, 0, 0]);
        assert_eq!(keep("technique NOT LIKE '%T'"), [0, 0, 0, 0, 0, 1]);
        assert_eq!(keep("technique LIKE '%'"), [1, 1, 1, 0, 1, 1]);
        assert_eq!(keep("technique LIKE '%''%'"), [0, 0, 0, 0, 0, 1]);
        assert_eq!(keep("year LIKE '201_'"), [0, 1, 1, 0, 1, 0]);
        assert!(like_match("abcabc", &compile_like("%a%c")));
        assert!(!like_match("abcab", &compile_like("%a%c")));
        assert!(like_match("grüße", &compile_like("gr_ße")));
        assert!(like_match("", &compile_like("%")));
        assert!(!like_match("", &compile_like("_")));
    }

    #[test]
    fn is_null() {
        assert_eq!(keep("x IS NULL"), [0, 0, 0, 1, 0, 0]);
        assert_eq!(keep("x IS NOT NULL"), [1, 1, 1, 0, 1, 1]);
        assert_eq!(keep("technique IS NULL"), [0, 0, 0, 1, 0, 0]);
        assert_eq!(keep("NOT technique IS NULL"), [1, 1, 1, 0, 1, 1]);
        assert_eq!(keep("'a' IS NULL"), [0, 0, 0, 0, 0, 0]);
        assert_eq!(keep("'a' IS NOT NULL"), [1, 1, 1, 1, 1, 1]);
    }

    #[test]
    fn three_valued_logic_with_missing_cells() {
        // row 4 (index 3) has x missing
        assert_eq!(keep("x != 1"), [0, 1, 1, 0, 1, 0]);
        assert_eq!(keep("NOT (x = 1)"), [0, 1, 1, 0, 1, 0]);
        assert_eq!(keep("x IS NULL OR x = 1"), [1, 0, 0, 1, 0, 1]);
        // unknown OR true = true; unknown AND false = false; NOT unknown = unknown
        assert_eq!(keep("x = 1 OR time = 'post'"), [1, 1, 0, 1, 0, 1]);
        assert_eq!(keep("NOT (x = 1 AND time = 'post')"), [1, 1, 1, 0, 1, 0]);
        assert_eq!(keep("NOT (x = 1 OR time = 'pre')"), [0, 1, 0, 0, 0, 0]);
        assert_eq!(keep("x < 100 OR x >= 100"), [1, 1, 1, 0, 1, 1]);
    }

    #[test]
    fn names_dotted_and_quoted() {
        assert_eq!(keep(".g < 2"), [1, 1, 0, 1, 0, 0]);
        assert_eq!(keep("`.g` < 2"), [1, 1, 0, 1, 0, 0]);
        assert_eq!(keep("\"study site\" = 'S3'"), [0, 0, 1, 0, 0, 1]);
        assert_eq!(keep("`study site` = 'S3'"), [0, 0, 1, 0, 0, 1]);
        let f =
            Filter::parse("`study site` = 'S3' AND .g < x OR x > 1 AND \"time\" IS NULL").unwrap();
        assert_eq!(f.columns(), ["study site", ".g", "x", "time"]);
        assert_eq!(
            f.text(),
            "`study site` = 'S3' AND .g < x OR x > 1 AND \"time\" IS NULL"
        );
    }

    #[test]
    fn string_escapes() {
        assert_eq!(keep("technique = 'it''s'"), [0, 0, 0, 0, 0, 1]);
        assert_eq!(keep("technique = ''"), [0, 0, 0, 0, 0, 0]);
        assert_eq!(keep("technique IN ('it''s', 'PDT')"), [0, 0, 1, 0, 0, 1]);
    }

    #[test]
    fn numeric_column_vs_text_literal() {
        assert_eq!(keep("year = '2017'"), [0, 0, 1, 0, 0, 0]);
        assert_eq!(keep("year >= '2012'"), [0, 0, 1, 1, 1, 0]);
        let e = apply_err("year = 'abc'");
        assert!(
            e.contains("column 'year' holds numbers; 'abc' is not a number"),
            "{e}"
        );
        let e = apply_err("year IN (2010, 'x')");
        assert!(e.contains("'x' is not a number"), "{e}");
        let e = apply_err("x = 'NA'");
        assert!(e.contains("IS NULL"), "{e}");
    }

    #[test]
    fn text_column_vs_number() {
        // codes "1", "2", "10", "a", missing, "01"
        assert_eq!(keep("code = 1"), [1, 0, 0, 0, 0, 1]);
        assert_eq!(keep("code != 1"), [0, 1, 1, 1, 0, 0]);
        assert_eq!(keep("code IN (2, 10)"), [0, 1, 1, 0, 0, 0]);
        // ordering: numeric for cells that are numbers, "a" is unknown
        assert_eq!(keep("code > 1"), [0, 1, 1, 0, 0, 0]);
        assert_eq!(keep("code <= 2"), [1, 1, 0, 0, 0, 1]);
        assert_eq!(keep("NOT code > 1"), [1, 0, 0, 0, 0, 1]);
        assert_eq!(keep("code BETWEEN 2 AND 10"), [0, 1, 1, 0, 0, 0]);
        // text vs text stays exact and lexicographic
        assert_eq!(keep("code = '1'"), [1, 0, 0, 0, 0, 0]);
        assert_eq!(keep("code < '2'"), [1, 0, 1, 0, 0, 1]);
        // a text column with no numbers at all: = is simply false ...
        assert_eq!(keep("time = 1"), [0, 0, 0, 0, 0, 0]);
        // ... but ordering against a number is an error
        let e = apply_err("time < 3");
        assert!(e.contains("column 'time' holds text"), "{e}");
        assert!(e.contains("'x', 'y', 'time'"), "{e}");
        let e = apply_err("technique BETWEEN 1 AND 2");
        assert!(e.contains("column 'technique' holds text"), "{e}");
        let e = apply_err("time > x");
        assert!(e.contains("the numeric column 'x'"), "{e}");
    }

    #[test]
    fn literal_only_conditions_are_constants() {
        assert_eq!(keep("1 = 1"), [1, 1, 1, 1, 1, 1]);
        assert_eq!(keep("'2017' = 2017"), [1, 1, 1, 1, 1, 1]);
        assert_eq!(keep("1 = 2 OR x = 2"), [0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn error_unknown_column_lists_columns() {
        let e = apply_err("yaer > 2010");
        assert!(e.contains("no column named 'yaer'"), "{e}");
        assert!(
            e.contains("'x', 'y', 'time', 'technique', 'code', '.g', 'year', 'study site'"),
            "{e}"
        );
        let e = apply_err("Time = 'post'");
        assert!(e.contains("did you mean 'time'"), "{e}");
        let e = apply_err("time = post");
        assert!(e.contains("single quotes: 'post'"), "{e}");
        let e = apply_err("x = 1 AND nope IS NULL");
        assert!(e.contains("no column named 'nope'"), "{e}");
    }

    #[test]
    fn error_double_quoted_text_hint() {
        let e = apply_err("time = \"post\"");
        assert!(
            e.contains("no column named \"post\"; text values go in single quotes: 'post'"),
            "{e}"
        );
    }

    #[test]
    fn error_syntax() {
        let e = parse_err("time = 'post");
        assert!(e.contains("unterminated text value"), "{e}");
        assert!(e.contains("at character 8"), "{e}");
        assert!(e.contains("\n    time = 'post\n           ^"), "{e}");
        assert!(e.starts_with("--where"), "{e}");

        let e = parse_err("x = 1 foo");
        assert!(e.contains("unexpected 'foo'"), "{e}");
        assert!(e.contains("expected AND, OR or the end"), "{e}");
        assert!(e.contains("at character 7"), "{e}");

        let e = parse_err("x = 1)");
        assert!(e.contains("no matching '('"), "{e}");

        let e = parse_err("time =");
        assert!(e.contains("expected a value after '='"), "{e}");
        assert!(e.contains("found the end of the condition"), "{e}");

        let e = parse_err("x = 1 AND");
        assert!(e.contains("expected a condition"), "{e}");

        let e = parse_err("= 1");
        assert!(e.contains("expected a condition"), "{e}");

        let e = parse_err("(x = 1");
        assert!(
            e.contains("expected ')' to close the '(' at character 1"),
            "{e}"
        );

        let e = parse_err("x 1");
        assert!(e.contains("expected a comparison after 'x'"), "{e}");

        let e = parse_err("x = NULL");
        assert!(e.contains("IS NULL"), "{e}");

        let e = parse_err("x IN (1, )");
        assert!(
            e.contains("expected a text value in single quotes or a number"),
            "{e}"
        );

        let e = parse_err("x IN 1");
        assert!(e.contains("expected '(' after IN"), "{e}");

        let e = parse_err("x BETWEEN 1 5");
        assert!(e.contains("expected AND in BETWEEN"), "{e}");

        let e = parse_err("x LIKE abc");
        assert!(e.contains("pattern in single quotes"), "{e}");

        let e = parse_err("x IS 1");
        assert!(e.contains("expected NULL after IS"), "{e}");

        let e = parse_err("x NOT 1");
        assert!(e.contains("expected IN, BETWEEN or LIKE after NOT"), "{e}");

        let e = parse_err("x = 1 && y = 2");
        assert!(e.contains("write AND"), "{e}");

        let e = parse_err("`study site = 'S1'");
        assert!(e.contains("unterminated column name"), "{e}");

        let e = parse_err("1st = 2");
        assert!(e.contains("backticks"), "{e}");

        let e = parse_err("   ");
        assert!(e.contains("empty"), "{e}");

        let e = parse_err("x = 1e999");
        assert!(e.contains("out of range"), "{e}");

        let e = parse_err("x = #");
        assert!(e.contains("unexpected character '#'"), "{e}");
    }

    #[test]
    fn all_missing_text_column_ordering_is_not_an_error() {
        let t = table(vec![Column::str("z", vec![None, None])]);
        let f = Filter::parse("z < 3").unwrap();
        assert_eq!(f.apply(&t).unwrap(), [false, false]);
    }

    #[test]
    fn decimal_comma_text_literal() {
        let mut tb = table(vec![Column::num("x", vec![1.5, 2.0])]);
        tb.source.decimal_comma = true;
        let f = Filter::parse("x = '1,5'").unwrap();
        assert_eq!(f.apply(&tb).unwrap(), [true, false]);
    }

    /// Timing check: `cargo test --release --lib data::filter -- --ignored`.
    #[test]
    #[ignore]
    fn million_rows_fast() {
        let n = 1_000_000;
        let tb = table(vec![
            Column::num("year", (0..n).map(|i| 2000.0 + (i % 25) as f64).collect()),
            Column::num("rob", (0..n).map(|i| (i % 5) as f64).collect()),
            Column::str(
                "time",
                (0..n)
                    .map(|i| Some(if i % 2 == 0 { "pre" } else { "post" }.to_string()))
                    .collect(),
            ),
        ]);
        let f = Filter::parse("year >= 2010 AND rob > 2 AND time = 'post'").unwrap();
        let start = std::time::Instant::now();
        let k = f.apply(&tb).unwrap();
        let el = start.elapsed();
        eprintln!("1e6 rows: {el:?}");
        assert_eq!(k.iter().filter(|&&b| b).count(), 120_000);
        assert!(el.as_secs_f64() < 1.0, "{el:?}");
    }
}
