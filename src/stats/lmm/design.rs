//! Model matrices from a parsed formula and plain columns: the fixed-effects
//! matrix X with R's treatment contrasts and column names, aliased columns
//! dropped as R's pivoting QR does, and the random-effects terms (grouping
//! factor codes and the per-row values of each term's model matrix), ordered
//! as lme4 orders them.
//!
//! Sources: R's `model.matrix` (Chambers & Hastie 1992, *Statistical Models
//! in S*, §2.4.1, the rule for contrasts vs indicator coding of a factor in a
//! term: a factor is coded by contrasts when the term with that factor
//! removed is in the model before it, by indicators otherwise); lme4's
//! `mkReTrms` (Bates et al. 2015, JSS 67(1), §2.3: Z_i, Λ_θ and the ordering
//! of terms by decreasing number of levels) and `chkRank.drop.cols` (QR with
//! `tol = 1e-7`, LINPACK `dqrdc2` limited pivoting).

use super::formula::{Formula, TermSet};
use super::{Data, Var};
use crate::error::{Error, Result};

/// R's tolerance for rank detection in `qr()` (`dqrdc2`).
pub const RANK_TOL: f64 = 1e-7;

/// One random-effects term `(lhs | group)` as data.
#[derive(Debug, Clone)]
pub struct ReTerm {
    /// Grouping factor name as lme4 prints it (`Subject`, `cask:batch`).
    pub group: String,
    /// Level index per row.
    pub codes: Vec<u32>,
    /// Level labels.
    pub levels: Vec<String>,
    /// Number of columns per level (1 for a random intercept).
    pub q: usize,
    /// Term model-matrix rows: n × q, row-major.
    pub z: Vec<f64>,
    /// Column names (`(Intercept)`, `Days`).
    pub names: Vec<String>,
}

impl ReTerm {
    pub fn nlevels(&self) -> usize {
        self.levels.len()
    }
}

/// All model matrices of a linear mixed model.
#[derive(Debug, Clone)]
pub struct Design {
    pub n: usize,
    pub y: Vec<f64>,
    /// Kept fixed-effects columns, n × p row-major.
    pub x: Vec<f64>,
    pub p: usize,
    pub x_names: Vec<String>,
    /// Names of aliased columns dropped (R: "fixed-effect model matrix is
    /// rank deficient so dropping k columns / coefficients").
    pub aliased: Vec<String>,
    /// Random-effects terms in lme4's order.
    pub terms: Vec<ReTerm>,
}

/// A factor after dropping unused levels.
struct Fac {
    codes: Vec<u32>,
    levels: Vec<String>,
}

fn drop_unused(codes: &[u32], levels: &[String]) -> Fac {
    let mut used = vec![false; levels.len()];
    for &c in codes {
        used[c as usize] = true;
    }
    let mut map = vec![u32::MAX; levels.len()];
    let mut new_levels = Vec::new();
    for (i, l) in levels.iter().enumerate() {
        if used[i] {
            map[i] = new_levels.len() as u32;
            new_levels.push(l.clone());
        }
    }
    Fac {
        codes: codes.iter().map(|&c| map[c as usize]).collect(),
        levels: new_levels,
    }
}

/// A numeric variable used as a grouping factor: levels in numeric order,
/// labelled as R's `as.character` would (R's `as.factor`).
fn numeric_factor(v: &[f64]) -> Fac {
    let mut u: Vec<f64> = v.to_vec();
    u.sort_by(|a, b| a.partial_cmp(b).unwrap());
    u.dedup();
    let codes = v
        .iter()
        .map(|x| u.binary_search_by(|a| a.partial_cmp(x).unwrap()).unwrap() as u32)
        .collect();
    Fac {
        codes,
        levels: u.iter().map(|x| format!("{x}")).collect(),
    }
}

fn lookup<'a, D: Data + ?Sized>(data: &'a D, name: &str) -> Result<&'a Var> {
    data.var(name).ok_or_else(|| {
        Error::input(format!(
            "variable '{name}' in the formula is not a column of the data"
        ))
    })
}

fn check_len(name: &str, len: usize, n: usize) -> Result<()> {
    if len != n {
        return Err(Error::other(format!(
            "variable '{name}' has {len} values but the data has {n} rows"
        )));
    }
    Ok(())
}

/// Column block of one variable within a term.
enum Part<'a> {
    Num(&'a [f64]),
    /// Factor codes and the levels to produce columns for (`first` = 1 with
    /// contrasts, 0 with indicators).
    Fac {
        codes: Vec<u32>,
        levels: Vec<String>,
        first: usize,
    },
}

/// Builds the model matrix of a term set (R's `model.matrix` with treatment
/// contrasts). Returns columns (each of length n) and names.
/// Largest model matrix built densely (columns x rows x 8 bytes).
const MAX_MODEL_MATRIX_BYTES: usize = 4 << 30;

/// Refuses a model matrix that cannot be fitted before it is built: more
/// columns than observations (a factor that is really an identifier, such as
/// 100,000 distinct technique labels), or a dense matrix beyond
/// [`MAX_MODEL_MATRIX_BYTES`]. Without this check such a term exhausts memory.
fn check_width(
    f: &Formula,
    term: &[usize],
    width: usize,
    term_width: usize,
    n: usize,
) -> Result<()> {
    let label = || {
        term.iter()
            .map(|&v| f.vars[v].as_str())
            .collect::<Vec<_>>()
            .join(":")
    };
    if width >= n {
        return Err(Error::analysis(format!(
            "the model needs at least {width} columns for {n} observations (the term '{}' alone \
             has {term_width}): a model needs fewer coefficients than observations. Is '{}' an \
             identifier rather than a category? Recode it into fewer categories or leave it out",
            label(),
            label()
        )));
    }
    let bytes = width.saturating_mul(n).saturating_mul(8);
    if bytes > MAX_MODEL_MATRIX_BYTES {
        return Err(Error::analysis(format!(
            "the model matrix would have {width} columns for {n} observations ({:.1} GiB, more \
             than the {} GiB this tool builds in memory); for random-intercept models on data \
             this large, use `outcomes summarise` and `lmm --summaries`",
            bytes as f64 / (1u64 << 30) as f64,
            MAX_MODEL_MATRIX_BYTES >> 30
        )));
    }
    Ok(())
}

fn model_matrix<D: Data + ?Sized>(
    f: &Formula,
    ts: &TermSet,
    data: &D,
    n: usize,
) -> Result<(Vec<Vec<f64>>, Vec<String>)> {
    let mut cols = Vec::new();
    let mut names = Vec::new();
    if ts.intercept {
        cols.push(vec![1.0; n]);
        names.push("(Intercept)".to_string());
    }
    for (ti, term) in ts.terms.iter().enumerate() {
        let mut parts = Vec::new();
        let mut part_names: Vec<Vec<String>> = Vec::new();
        for &v in term {
            let name = &f.vars[v];
            match lookup(data, name)? {
                Var::Num(x) => {
                    check_len(name, x.len(), n)?;
                    parts.push(Part::Num(x));
                    part_names.push(vec![name.clone()]);
                }
                Var::Factor { codes, levels } => {
                    check_len(name, codes.len(), n)?;
                    let fac = drop_unused(codes, levels);
                    // Contrasts iff the margin (term without v) precedes.
                    let margin: Vec<usize> = term.iter().copied().filter(|&w| w != v).collect();
                    let contrasts = if margin.is_empty() {
                        ts.intercept
                    } else {
                        ts.terms[..ti].contains(&margin)
                    };
                    let first = usize::from(contrasts);
                    part_names.push(
                        fac.levels[first..]
                            .iter()
                            .map(|l| format!("{name}{l}"))
                            .collect(),
                    );
                    parts.push(Part::Fac {
                        codes: fac.codes,
                        levels: fac.levels,
                        first,
                    });
                }
            }
        }
        // Enumerate column combinations, first variable fastest (R's order).
        let widths: Vec<usize> = part_names.iter().map(|p| p.len()).collect();
        let total: usize = widths.iter().product();
        check_width(f, term, cols.len() + total, total, n)?;
        for combo in 0..total {
            let mut idx = Vec::with_capacity(parts.len());
            let mut c = combo;
            for &w in &widths {
                idx.push(c % w);
                c /= w;
            }
            let mut col = vec![1.0; n];
            let mut nm = Vec::new();
            for (k, part) in parts.iter().enumerate() {
                nm.push(part_names[k][idx[k]].clone());
                match part {
                    Part::Num(x) => {
                        for (c, &xv) in col.iter_mut().zip(x.iter()) {
                            *c *= xv;
                        }
                    }
                    Part::Fac {
                        codes,
                        first,
                        levels,
                    } => {
                        let lev = (idx[k] + first) as u32;
                        debug_assert!((lev as usize) < levels.len());
                        for (c, &code) in col.iter_mut().zip(codes.iter()) {
                            if code != lev {
                                *c = 0.0;
                            }
                        }
                    }
                }
            }
            cols.push(col);
            names.push(nm.join(":"));
        }
    }
    Ok((cols, names))
}

/// Indices of the columns kept by R's `qr(X, tol = 1e-7)` (LINPACK `dqrdc2`):
/// Householder QR in column order; a column whose norm after the earlier
/// reflections is below `tol` times its original norm is moved to the end
/// (aliased). Kept columns stay in their original order.
pub fn qr_kept_columns(cols: &[Vec<f64>], tol: f64) -> Vec<usize> {
    let n = cols.first().map_or(0, |c| c.len());
    let mut work: Vec<Vec<f64>> = cols.to_vec();
    let mut kept = Vec::new();
    // Householder vectors of accepted columns, with their start row.
    let mut refl: Vec<(Vec<f64>, f64)> = Vec::new();
    for (j, orig) in cols.iter().enumerate() {
        let norm0 = orig.iter().map(|v| v * v).sum::<f64>().sqrt();
        let col = &mut work[j];
        // apply earlier reflections
        for (k, (v, beta)) in refl.iter().enumerate() {
            let s: f64 = v.iter().zip(&col[k..]).map(|(a, b)| a * b).sum::<f64>() * beta;
            for (c, a) in col[k..].iter_mut().zip(v) {
                *c -= s * a;
            }
        }
        let k = refl.len();
        let rest = &col[k..];
        let norm = rest.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm0 == 0.0 || norm < tol * norm0 || k >= n {
            continue;
        }
        // Householder vector for col[k..]
        let alpha = if rest[0] >= 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = rest.to_vec();
        v[0] -= alpha;
        let vtv: f64 = v.iter().map(|a| a * a).sum();
        let beta = if vtv > 0.0 { 2.0 / vtv } else { 0.0 };
        refl.push((v, beta));
        kept.push(j);
    }
    kept
}

/// The grouping factor of a random term: the interaction of its variables,
/// with levels in lexical order of the component codes (first slowest) and
/// labels joined by `:`, unused combinations dropped (R's `a:b` on factors
/// followed by lme4's `factor()`).
fn grouping_factor<D: Data + ?Sized>(
    f: &Formula,
    vars: &[usize],
    data: &D,
    n: usize,
) -> Result<Fac> {
    let mut facs = Vec::new();
    for &v in vars {
        let name = &f.vars[v];
        let fac = match lookup(data, name)? {
            Var::Num(x) => {
                check_len(name, x.len(), n)?;
                numeric_factor(x)
            }
            Var::Factor { codes, levels } => {
                check_len(name, codes.len(), n)?;
                drop_unused(codes, levels)
            }
        };
        facs.push(fac);
    }
    if facs.len() == 1 {
        return Ok(facs.pop().unwrap());
    }
    // Combined key per row, mixed radix with the first factor slowest.
    let mut keys = vec![0u64; n];
    for fac in &facs {
        let m = fac.levels.len() as u64;
        for (k, &c) in keys.iter_mut().zip(&fac.codes) {
            *k = *k * m + c as u64;
        }
    }
    let mut uniq = keys.clone();
    uniq.sort_unstable();
    uniq.dedup();
    let codes = keys
        .iter()
        .map(|k| uniq.binary_search(k).unwrap() as u32)
        .collect();
    let levels = uniq
        .iter()
        .map(|&key| {
            let mut parts = Vec::new();
            let mut k = key;
            for fac in facs.iter().rev() {
                let m = fac.levels.len() as u64;
                parts.push(fac.levels[(k % m) as usize].clone());
                k /= m;
            }
            parts.reverse();
            parts.join(":")
        })
        .collect();
    Ok(Fac { codes, levels })
}

/// Builds all model matrices. `data` holds only complete rows.
pub fn build<D: Data + ?Sized>(f: &Formula, data: &D) -> Result<Design> {
    let n = data.nrows();
    let rname = &f.vars[f.response];
    let y = match lookup(data, rname)? {
        Var::Num(y) => {
            check_len(rname, y.len(), n)?;
            y.clone()
        }
        Var::Factor { .. } => {
            return Err(Error::input(format!(
                "the response '{rname}' must be numeric, but it is a categorical column"
            )))
        }
    };
    if n == 0 {
        return Err(Error::analysis(
            "no rows left to analyse (every row has a missing value in a model variable)",
        ));
    }
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        return Err(Error::input(format!(
            "the response '{rname}' has a non-finite value in row {}",
            i + 1
        )));
    }
    let (cols, names) = model_matrix(f, &f.fixed, data, n)?;
    for (c, name) in cols.iter().zip(&names) {
        if c.iter().any(|v| !v.is_finite()) {
            return Err(Error::input(format!(
                "the fixed-effects column '{name}' has a non-finite value"
            )));
        }
    }
    let kept = qr_kept_columns(&cols, RANK_TOL);
    let aliased: Vec<String> = (0..cols.len())
        .filter(|j| !kept.contains(j))
        .map(|j| names[j].clone())
        .collect();
    let p = kept.len();
    let mut x = vec![0.0; n * p];
    for (jj, &j) in kept.iter().enumerate() {
        for i in 0..n {
            x[i * p + jj] = cols[j][i];
        }
    }
    let x_names = kept.iter().map(|&j| names[j].clone()).collect();

    if f.random.is_empty() {
        return Err(Error::input(format!(
            "formula '{}' has no random-effects term such as (1 | group); \
             use a linear model for fixed effects only",
            f.text
        )));
    }
    let mut terms = Vec::new();
    for rt in &f.random {
        let group = f.group_label(&rt.group);
        let fac = grouping_factor(f, &rt.group, data, n)?;
        let (zc, znames) = model_matrix(f, &rt.lhs, data, n)?;
        let q = zc.len();
        let mut z = vec![0.0; n * q];
        for (j, c) in zc.iter().enumerate() {
            for i in 0..n {
                z[i * q + j] = c[i];
            }
        }
        if z.iter().any(|v| !v.is_finite()) {
            return Err(Error::input(format!(
                "a random-effects column for '{group}' has a non-finite value"
            )));
        }
        let nl = fac.levels.len();
        // lme4 checkNlevels / checkZdims.
        if nl < 2 {
            return Err(Error::analysis(format!(
                "the grouping factor '{group}' has {nl} level; a random effect needs at least 2"
            )));
        }
        if nl >= n {
            return Err(Error::analysis(format!(
                "the grouping factor '{group}' has {nl} levels for {n} observations; the \
                 number of levels of each grouping factor must be < number of observations \
                 (lme4's rule)"
            )));
        }
        if nl * q >= n {
            return Err(Error::analysis(format!(
                "number of observations (={n}) <= number of random effects (={}) for the term \
                 for '{group}'; the random-effects parameters and the residual variance are \
                 probably unidentifiable (lme4's rule)",
                nl * q
            )));
        }
        terms.push(ReTerm {
            group,
            codes: fac.codes,
            levels: fac.levels,
            q,
            z,
            names: znames,
        });
    }
    // lme4 mkReTrms: if the numbers of levels are not already non-increasing,
    // reorder by rev(order(nl)) (order is stable, so ties end up reversed).
    let nl: Vec<usize> = terms.iter().map(|t| t.nlevels()).collect();
    if nl.windows(2).any(|w| w[1] > w[0]) {
        let mut ord: Vec<usize> = (0..terms.len()).collect();
        ord.sort_by_key(|&i| nl[i]);
        ord.reverse();
        let mut old: Vec<Option<ReTerm>> = terms.into_iter().map(Some).collect();
        terms = ord.iter().map(|&i| old[i].take().unwrap()).collect();
    }
    Ok(Design {
        n,
        y,
        x,
        p,
        x_names,
        aliased,
        terms,
    })
}
