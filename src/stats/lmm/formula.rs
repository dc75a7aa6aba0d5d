//! Parser for lme4 model formulas: `response ~ fixed terms + (re | group)`.
//!
//! The fixed part follows R's formula algebra (Chambers & Hastie 1992,
//! *Statistical Models in S*, ch. 2; R's `terms.formula`): `a + b` is the union
//! of terms, `a - b` removes terms (`- 1` / `+ 0` remove the intercept,
//! `+ 1` keeps it), `a:b` is the interaction, `a*b = a + b + a:b` and
//! `a/b = a + a:b`. Terms are ordered by degree (main effects first), then by
//! appearance, as R does with `keep.order = FALSE`; the variables within an
//! interaction are listed in order of first appearance in the formula.
//!
//! Random terms are lme4's (Bates et al. 2015, JSS 67(1), section 2.1,
//! Table 2): `(expr | g)` is a correlated vector-valued random effect,
//! `(expr || g)` is expanded to uncorrelated terms `(1 | g) + (0 + x | g)`
//! (lme4's `expandDoubleVerts`), and `(expr | g1/g2)` to
//! `(expr | g2:g1) + (expr | g1)` (lme4's `expandSlash`).
//!
//! Precedence (R Language Definition §10.4.2, highest first): `:`, unary `-`,
//! `*` and `/`, binary `+` and `-`, `|` / `||`, `~`.

use crate::error::{Error, Result};

/// A fixed-effects term: the set of variables interacting in it, as indices
/// into [`Formula::vars`], sorted ascending (order of first appearance).
pub type Term = Vec<usize>;

/// The terms of one model-matrix specification (fixed part, or the left side
/// of a random term).
#[derive(Debug, Clone, PartialEq)]
pub struct TermSet {
    pub intercept: bool,
    /// Terms in R's order (by degree, then appearance).
    pub terms: Vec<Term>,
}

/// One random-effects term `(lhs | group)` after expansion of `||` and `/`.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomTerm {
    pub lhs: TermSet,
    /// The variables whose interaction forms the grouping factor, in the
    /// order written (`g2:g1` for the inner term of `g1/g2`).
    pub group: Vec<usize>,
}

/// A parsed formula.
#[derive(Debug, Clone, PartialEq)]
pub struct Formula {
    /// The formula text as given.
    pub text: String,
    /// Variable names in order of first appearance (response first).
    pub vars: Vec<String>,
    pub response: usize,
    pub fixed: TermSet,
    /// Random terms in the order written (before lme4's reordering by number
    /// of levels, which needs the data).
    pub random: Vec<RandomTerm>,
}

impl Formula {
    /// R's label of a term: variable names joined by `:`.
    pub fn term_label(&self, t: &Term) -> String {
        t.iter()
            .map(|&v| self.vars[v].as_str())
            .collect::<Vec<_>>()
            .join(":")
    }
    /// The grouping factor's name as lme4 prints it (`cask:batch`).
    pub fn group_label(&self, g: &[usize]) -> String {
        g.iter()
            .map(|&v| self.vars[v].as_str())
            .collect::<Vec<_>>()
            .join(":")
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(String),
    Tilde,
    Plus,
    Minus,
    Star,
    Colon,
    Slash,
    LParen,
    RParen,
    Bar,
    DoubleBar,
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("name '{s}'"),
        Tok::Num(s) => format!("number '{s}'"),
        Tok::Tilde => "'~'".into(),
        Tok::Plus => "'+'".into(),
        Tok::Minus => "'-'".into(),
        Tok::Star => "'*'".into(),
        Tok::Colon => "':'".into(),
        Tok::Slash => "'/'".into(),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Bar => "'|'".into(),
        Tok::DoubleBar => "'||'".into(),
        Tok::End => "the end of the formula".into(),
    }
}

fn err(text: &str, pos: usize, msg: impl AsRef<str>) -> Error {
    Error::input(format!(
        "formula '{}', at character {}: {}",
        text,
        pos + 1,
        msg.as_ref()
    ))
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // Character positions (not bytes) for messages.
    while i < chars.len() {
        let (_, c) = chars[i];
        let pos = i;
        match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '~' => out.push((Tok::Tilde, pos)),
            '+' => out.push((Tok::Plus, pos)),
            '-' => out.push((Tok::Minus, pos)),
            '*' => out.push((Tok::Star, pos)),
            ':' => out.push((Tok::Colon, pos)),
            '/' => out.push((Tok::Slash, pos)),
            '(' => out.push((Tok::LParen, pos)),
            ')' => out.push((Tok::RParen, pos)),
            '|' => {
                if i + 1 < chars.len() && chars[i + 1].1 == '|' {
                    out.push((Tok::DoubleBar, pos));
                    i += 1;
                } else {
                    out.push((Tok::Bar, pos));
                }
            }
            '`' => {
                let mut j = i + 1;
                let mut name = String::new();
                while j < chars.len() && chars[j].1 != '`' {
                    name.push(chars[j].1);
                    j += 1;
                }
                if j == chars.len() {
                    return Err(err(text, pos, "unterminated back-quoted name"));
                }
                out.push((Tok::Ident(name), pos));
                i = j + 1;
                continue;
            }
            c if c.is_ascii_digit() => {
                let mut j = i;
                let mut s = String::new();
                while j < chars.len() && (chars[j].1.is_ascii_digit() || chars[j].1 == '.') {
                    s.push(chars[j].1);
                    j += 1;
                }
                out.push((Tok::Num(s), pos));
                i = j;
                continue;
            }
            c if c.is_alphabetic() || c == '.' || c == '_' => {
                let mut j = i;
                let mut s = String::new();
                while j < chars.len()
                    && (chars[j].1.is_alphanumeric() || chars[j].1 == '.' || chars[j].1 == '_')
                {
                    s.push(chars[j].1);
                    j += 1;
                }
                out.push((Tok::Ident(s), pos));
                i = j;
                continue;
            }
            other => {
                return Err(err(
                    text,
                    pos,
                    format!(
                        "unexpected character '{other}'; expected a variable name, a number \
                         (0 or 1), or one of ~ + - * : / ( ) | ||"
                    ),
                ))
            }
        }
        i += 1;
    }
    out.push((Tok::End, chars.len()));
    Ok(out)
}

#[derive(Debug, Clone)]
enum Expr {
    Var(usize),
    Num(f64, usize),
    Add(Box<Expr>, Box<Expr>),
    Sub(Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    Mul(Box<Expr>, Box<Expr>),
    Colon(Box<Expr>, Box<Expr>),
    Slash(Box<Expr>, Box<Expr>),
    Bar {
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        double: bool,
        pos: usize,
    },
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(Tok, usize)>,
    at: usize,
    vars: Vec<String>,
    /// Depth of parentheses (a bar is only allowed inside parentheses).
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].0
    }
    fn pos(&self) -> usize {
        self.toks[self.at].1
    }
    fn bump(&mut self) -> Tok {
        let t = self.toks[self.at].0.clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }
    fn var(&mut self, name: &str) -> usize {
        if let Some(i) = self.vars.iter().position(|v| v == name) {
            i
        } else {
            self.vars.push(name.to_string());
            self.vars.len() - 1
        }
    }
    fn unexpected(&self, expected: &str) -> Error {
        err(
            self.text,
            self.pos(),
            format!("expected {expected}, found {}", describe(self.peek())),
        )
    }

    // bar := sum (('|' | '||') sum)?
    fn bar(&mut self) -> Result<Expr> {
        let lhs = self.sum()?;
        match self.peek() {
            Tok::Bar | Tok::DoubleBar => {
                let pos = self.pos();
                let double = matches!(self.peek(), Tok::DoubleBar);
                if self.depth == 0 {
                    return Err(err(
                        self.text,
                        pos,
                        "a random-effects term must be in parentheses, e.g. (1 | g)",
                    ));
                }
                self.bump();
                let rhs = self.sum()?;
                Ok(Expr::Bar {
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                    double,
                    pos,
                })
            }
            _ => Ok(lhs),
        }
    }
    // sum := prod (('+' | '-') prod)*
    fn sum(&mut self) -> Result<Expr> {
        let mut e = self.prod()?;
        loop {
            match self.peek() {
                Tok::Plus => {
                    self.bump();
                    let r = self.prod()?;
                    e = Expr::Add(Box::new(e), Box::new(r));
                }
                Tok::Minus => {
                    self.bump();
                    let r = self.prod()?;
                    e = Expr::Sub(Box::new(e), Box::new(r));
                }
                _ => return Ok(e),
            }
        }
    }
    // prod := unary (('*' | '/') unary)*
    fn prod(&mut self) -> Result<Expr> {
        let mut e = self.unary()?;
        loop {
            match self.peek() {
                Tok::Star => {
                    self.bump();
                    let r = self.unary()?;
                    e = Expr::Mul(Box::new(e), Box::new(r));
                }
                Tok::Slash => {
                    self.bump();
                    let r = self.unary()?;
                    e = Expr::Slash(Box::new(e), Box::new(r));
                }
                _ => return Ok(e),
            }
        }
    }
    // unary := '-' unary | colon
    fn unary(&mut self) -> Result<Expr> {
        if matches!(self.peek(), Tok::Minus) {
            self.bump();
            let e = self.unary()?;
            return Ok(Expr::Neg(Box::new(e)));
        }
        self.colon()
    }
    // colon := atom (':' atom)*
    fn colon(&mut self) -> Result<Expr> {
        let mut e = self.atom()?;
        while matches!(self.peek(), Tok::Colon) {
            self.bump();
            let r = self.atom()?;
            e = Expr::Colon(Box::new(e), Box::new(r));
        }
        Ok(e)
    }
    fn atom(&mut self) -> Result<Expr> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Ident(name) => {
                self.bump();
                if matches!(self.peek(), Tok::LParen) {
                    return Err(err(
                        self.text,
                        pos,
                        format!(
                            "function calls such as '{name}(...)' are not supported; \
                             compute the variable in the data first"
                        ),
                    ));
                }
                Ok(Expr::Var(self.var(&name)))
            }
            Tok::Num(s) => {
                self.bump();
                let v: f64 = s
                    .parse()
                    .map_err(|_| err(self.text, pos, format!("'{s}' is not a number")))?;
                Ok(Expr::Num(v, pos))
            }
            Tok::LParen => {
                self.bump();
                self.depth += 1;
                let e = self.bar()?;
                self.depth -= 1;
                if !matches!(self.peek(), Tok::RParen) {
                    return Err(self.unexpected("')'"));
                }
                self.bump();
                Ok(e)
            }
            _ => Err(self.unexpected("a variable name, 0, 1 or '('")),
        }
    }
}

/// Intermediate value of a fixed-part expression.
#[derive(Debug, Clone, Default)]
struct TermsVal {
    /// `Some(true)` for an explicit `1`, `Some(false)` for `0`/`-1`.
    intercept: Option<bool>,
    terms: Vec<Term>,
}

/// Most terms a formula may expand to. `a * b * c * ...` over k variables
/// has 2^k − 1 terms: 20 of them would be a million, which no data could
/// fit and whose expansion alone would not finish (found by fuzzing).
const MAX_TERMS: usize = 1024;

fn check_expansion(text: &str, terms: usize) -> Result<()> {
    if terms > MAX_TERMS {
        return Err(Error::input(format!(
            "formula '{}': the products ('*', ':') expand to more than {MAX_TERMS} terms; \
             write the interactions you mean explicitly",
            crate::error::shorten(text)
        )));
    }
    Ok(())
}

fn push_unique(v: &mut Vec<Term>, t: Term) {
    if !v.contains(&t) {
        v.push(t);
    }
}

fn union(a: &[usize], b: &[usize]) -> Term {
    let mut t: Vec<usize> = a.iter().chain(b).copied().collect();
    t.sort_unstable();
    t.dedup();
    t
}

fn eval_terms(text: &str, e: &Expr) -> Result<TermsVal> {
    Ok(match e {
        Expr::Var(v) => TermsVal {
            intercept: None,
            terms: vec![vec![*v]],
        },
        Expr::Num(x, pos) => {
            if *x == 0.0 {
                TermsVal {
                    intercept: Some(false),
                    terms: vec![],
                }
            } else if *x == 1.0 {
                TermsVal {
                    intercept: Some(true),
                    terms: vec![],
                }
            } else {
                return Err(err(
                    text,
                    *pos,
                    "only 0 and 1 may appear as numbers in a formula",
                ));
            }
        }
        Expr::Add(a, b) => {
            let mut l = eval_terms(text, a)?;
            let r = eval_terms(text, b)?;
            for t in r.terms {
                push_unique(&mut l.terms, t);
            }
            if r.intercept.is_some() {
                l.intercept = r.intercept;
            }
            l
        }
        Expr::Sub(a, b) => {
            let mut l = eval_terms(text, a)?;
            let r = eval_terms(text, b)?;
            l.terms.retain(|t| !r.terms.contains(t));
            match r.intercept {
                Some(true) => l.intercept = Some(false),
                Some(false) => l.intercept = Some(true),
                None => {}
            }
            l
        }
        Expr::Neg(a) => {
            let r = eval_terms(text, a)?;
            TermsVal {
                intercept: match r.intercept {
                    Some(true) => Some(false),
                    Some(false) => Some(true),
                    None => None,
                },
                terms: vec![],
            }
        }
        Expr::Colon(a, b) => {
            let l = eval_terms(text, a)?;
            let r = eval_terms(text, b)?;
            check_expansion(text, l.terms.len() * r.terms.len())?;
            let mut terms = Vec::new();
            for x in &l.terms {
                for y in &r.terms {
                    push_unique(&mut terms, union(x, y));
                }
            }
            TermsVal {
                intercept: None,
                terms,
            }
        }
        Expr::Mul(a, b) => {
            let l = eval_terms(text, a)?;
            let r = eval_terms(text, b)?;
            check_expansion(text, (l.terms.len() + 1) * (r.terms.len() + 1))?;
            let mut terms = l.terms.clone();
            for t in &r.terms {
                push_unique(&mut terms, t.clone());
            }
            for x in &l.terms {
                for y in &r.terms {
                    push_unique(&mut terms, union(x, y));
                }
            }
            TermsVal {
                intercept: l.intercept.or(r.intercept),
                terms,
            }
        }
        Expr::Slash(a, b) => {
            // R: a/b = a + (all variables of a):b
            let l = eval_terms(text, a)?;
            let r = eval_terms(text, b)?;
            let mut terms = l.terms.clone();
            let all: Term = l.terms.iter().fold(Vec::new(), |acc, t| union(&acc, t));
            for y in &r.terms {
                push_unique(&mut terms, union(&all, y));
            }
            TermsVal {
                intercept: l.intercept,
                terms,
            }
        }
        Expr::Bar { pos, .. } => {
            return Err(err(
                text,
                *pos,
                "a random-effects term (… | g) cannot be combined with other terms by \
                 ':', '*', '/' or '-'; add it with '+'",
            ))
        }
    })
}

fn finish(v: TermsVal) -> TermSet {
    let mut terms = v.terms;
    // R orders terms by degree, stable within a degree.
    terms.sort_by_key(|t| t.len());
    TermSet {
        intercept: v.intercept.unwrap_or(true),
        terms,
    }
}

/// Splits the top-level sum into fixed parts and random bars; a `- x` at top
/// level applies to the fixed part.
fn split_top(e: Expr, fixed: &mut Vec<(bool, Expr)>, bars: &mut Vec<Expr>, negate: bool) {
    match e {
        Expr::Add(a, b) => {
            split_top(*a, fixed, bars, negate);
            split_top(*b, fixed, bars, negate);
        }
        Expr::Sub(a, b) => {
            split_top(*a, fixed, bars, negate);
            split_top(*b, fixed, bars, !negate);
        }
        bar @ Expr::Bar { .. } => bars.push(bar),
        other => fixed.push((negate, other)),
    }
}

/// The grouping expression of a bar: a list of grouping factors, each an
/// interaction of variables (`g1/g2` gives `[g1], [g2, g1]`: lme4's
/// `expandSlash` makes `(x | g2:g1) + (x | g1)`; we keep `g1` first here and
/// the caller orders terms as lme4 does).
fn eval_group(text: &str, e: &Expr, pos: usize) -> Result<Vec<Vec<usize>>> {
    Ok(match e {
        Expr::Var(v) => vec![vec![*v]],
        Expr::Colon(a, b) => {
            let l = eval_group(text, a, pos)?;
            let r = eval_group(text, b, pos)?;
            if l.len() != 1 || r.len() != 1 {
                return Err(err(
                    text,
                    pos,
                    "':' in a grouping factor joins single factors",
                ));
            }
            let mut g = l[0].clone();
            g.extend(r[0].iter().copied());
            vec![g]
        }
        Expr::Slash(a, b) => {
            // lme4 expandSlash: (x | a/b) = (x | a) + (x | b:a)
            let l = eval_group(text, a, pos)?;
            let r = eval_group(text, b, pos)?;
            let outer = l.last().cloned().unwrap_or_default();
            let mut out = l.clone();
            for inner in r {
                let mut g = inner.clone();
                g.extend(outer.iter().copied());
                out.push(g);
            }
            out
        }
        _ => {
            return Err(err(
                text,
                pos,
                "the right side of '|' must be a grouping factor: g, g1:g2 or g1/g2",
            ))
        }
    })
}

/// Parses an lme4 formula.
pub fn parse(text: &str) -> Result<Formula> {
    let toks = tokenize(text)?;
    let mut p = Parser {
        text,
        toks,
        at: 0,
        vars: Vec::new(),
        depth: 0,
    };
    let response = match p.peek().clone() {
        Tok::Ident(name) => {
            p.bump();
            p.var(&name)
        }
        Tok::Tilde => {
            return Err(err(
                text,
                p.pos(),
                "expected the response variable before '~' (e.g. 'y ~ x + (1 | g)')",
            ))
        }
        _ => return Err(p.unexpected("the response variable name")),
    };
    if !matches!(p.peek(), Tok::Tilde) {
        return Err(p.unexpected("'~' after the response"));
    }
    p.bump();
    if matches!(p.peek(), Tok::End) {
        return Err(p.unexpected("terms after '~'"));
    }
    let rhs = p.bar()?;
    if !matches!(p.peek(), Tok::End) {
        return Err(p.unexpected("'+', '-', '*', ':', '/' or the end of the formula"));
    }

    let mut fixed_parts = Vec::new();
    let mut bars = Vec::new();
    split_top(rhs, &mut fixed_parts, &mut bars, false);
    let mut fixed = TermsVal::default();
    for (neg, e) in fixed_parts {
        let v = eval_terms(text, &e)?;
        if neg {
            fixed.terms.retain(|t| !v.terms.contains(t));
            match v.intercept {
                Some(true) => fixed.intercept = Some(false),
                Some(false) => fixed.intercept = Some(true),
                None => {}
            }
        } else {
            for t in v.terms {
                push_unique(&mut fixed.terms, t);
            }
            if v.intercept.is_some() {
                fixed.intercept = v.intercept;
            }
        }
    }
    if fixed.terms.iter().any(|t| t.contains(&response)) {
        return Err(Error::input(format!(
            "formula '{text}': the response '{}' also appears on the right side",
            p.vars[response]
        )));
    }
    let fixed = finish(fixed);

    let mut random = Vec::new();
    for b in bars {
        let Expr::Bar {
            lhs,
            rhs,
            double,
            pos,
        } = b
        else {
            unreachable!()
        };
        let l = finish(eval_terms(text, &lhs)?);
        if !l.intercept && l.terms.is_empty() {
            return Err(err(text, pos, "the left side of '|' has no terms"));
        }
        let groups = eval_group(text, &rhs, pos)?;
        for g in groups {
            if double {
                // lme4 expandDoubleVerts: (1 + x || g) = (1 | g) + (0 + x | g)
                if l.intercept {
                    random.push(RandomTerm {
                        lhs: TermSet {
                            intercept: true,
                            terms: vec![],
                        },
                        group: g.clone(),
                    });
                }
                for t in &l.terms {
                    random.push(RandomTerm {
                        lhs: TermSet {
                            intercept: false,
                            terms: vec![t.clone()],
                        },
                        group: g.clone(),
                    });
                }
            } else {
                random.push(RandomTerm {
                    lhs: l.clone(),
                    group: g,
                });
            }
        }
    }
    Ok(Formula {
        text: text.to_string(),
        vars: p.vars,
        response,
        fixed,
        random,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_of_many_variables_are_refused_not_expanded() {
        // The input on which cargo fuzz timed out (2^k terms).
        let text = "y ~ a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t + (1 | u)";
        let e = parse(text).unwrap_err().to_string();
        assert!(e.contains("expand to more than 1024 terms"), "{e}");
        // Ten variables (1023 terms) still expand, as in R.
        let f = parse("y ~ a*b*c*d*e*f*g*h*i*j + (1 | u)").unwrap();
        assert_eq!(f.fixed.terms.len(), 1023);
    }

    fn labels(f: &Formula) -> Vec<String> {
        f.fixed.terms.iter().map(|t| f.term_label(t)).collect()
    }

    #[test]
    fn fixed_algebra() {
        let f = parse("y ~ a*b + c").unwrap();
        assert_eq!(labels(&f), ["a", "b", "c", "a:b"]);
        assert!(f.fixed.intercept);
        let f = parse("y ~ 0 + a + b:a").unwrap();
        assert_eq!(labels(&f), ["a", "a:b"]);
        assert!(!f.fixed.intercept);
        let f = parse("y ~ a*b - 1 - a:b").unwrap();
        assert_eq!(labels(&f), ["a", "b"]);
        assert!(!f.fixed.intercept);
        let f = parse("y ~ a/b").unwrap();
        assert_eq!(labels(&f), ["a", "a:b"]);
        let f = parse("y ~ (a + b)*c").unwrap();
        assert_eq!(labels(&f), ["a", "b", "c", "a:c", "b:c"]);
    }

    #[test]
    fn random_terms() {
        let f = parse("Reaction ~ Days + (Days | Subject)").unwrap();
        assert_eq!(f.random.len(), 1);
        assert!(f.random[0].lhs.intercept);
        let f = parse("y ~ 1 + (1 + x || g)").unwrap();
        assert_eq!(f.random.len(), 2);
        assert!(!f.random[1].lhs.intercept);
        let f = parse("strength ~ 1 + (1 | batch/cask)").unwrap();
        assert_eq!(f.random.len(), 2);
        assert_eq!(f.group_label(&f.random[0].group), "batch");
        assert_eq!(f.group_label(&f.random[1].group), "cask:batch");
        let f = parse("y ~ (1|a) + (1|b) + (0 + x | a:b)").unwrap();
        assert_eq!(f.random.len(), 3);
        assert!(f.fixed.intercept && f.fixed.terms.is_empty());
    }

    #[test]
    fn errors_name_position() {
        let e = parse("y ~ x +").unwrap_err().to_string();
        assert!(e.contains("character 8"), "{e}");
        let e = parse("y ~ x + (1 | g").unwrap_err().to_string();
        assert!(e.contains("expected ')'"), "{e}");
        assert!(parse("~ x").is_err());
        assert!(parse("y ~ 2 + x").is_err());
        assert!(parse("y ~ x | g").is_err());
        assert!(parse("y ~ log(x)").is_err());
        assert!(parse("y ~ x $ z").is_err());
    }
}
