//! Linear mixed models as lme4 fits them, faster.
//!
//! Method: Bates, Mächler, Bolker & Walker (2015), "Fitting Linear
//! Mixed-Effects Models Using lme4", *Journal of Statistical Software* 67(1)
//! (cited below as "JSS" with section and equation numbers), and the blocked
//! Cholesky factor of MixedModels.jl. The parts:
//!
//! * [`formula`]: lme4 formula syntax → terms;
//! * [`design`]: model matrices with R's treatment contrasts and names,
//!   aliased columns dropped, random terms in lme4's order;
//! * [`model`]: cross-products of [Z X y] computed once, and the profiled
//!   REML/ML objective over θ via a blocked Cholesky factor;
//! * [`dense`]: dense Cholesky (faer's for large matrices) and triangular
//!   solves;
//! * [`optim`]: bounded derivative-free optimisers (Brent, Nelder–Mead);
//! * [`fit`]: the results (β̂, SEs, variance components, logLik, AIC, BIC,
//!   singularity) and the conditional modes with conditional SDs.
//!
//! Usage (the caller has dropped rows with a missing value in any model
//! variable):
//!
//! ```no_run
//! use outcomes::stats::lmm::{Frame, Lmm, Method};
//! let mut data = Frame::new(4);
//! data.add_num("y", vec![1.0, 2.0, 3.0, 5.0]).unwrap();
//! data.add_strings("g", &["a", "a", "b", "b"]).unwrap();
//! let model = Lmm::new("y ~ 1 + (1 | g)", &data).unwrap();
//! let fit = model.fit(Method::Reml).unwrap();      // serde::Serialize
//! let blups = model.ranef(&fit);                    // conditional modes + SDs
//! ```

pub mod dense;
pub mod design;
pub mod fit;
pub mod formula;
pub mod model;
pub mod optim;

pub use fit::{
    lmm, FixedEffect, GroupLevels, Lmm, LmmFit, Method, RandomComponent, RandomEffects, Residual,
};

use crate::error::{Error, Result};

/// One model variable: numeric, or a factor (codes index `levels`; the first
/// level is the reference level of treatment contrasts).
#[derive(Debug, Clone, PartialEq)]
pub enum Var {
    Num(Vec<f64>),
    Factor {
        codes: Vec<u32>,
        levels: Vec<String>,
    },
}

impl Var {
    pub fn len(&self) -> usize {
        match self {
            Var::Num(v) => v.len(),
            Var::Factor { codes, .. } => codes.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A factor from text values with R's default level order for character
    /// columns (sorted; R sorts in the locale's collation, we sort by code
    /// point, which agrees for ASCII letters of one case and digits).
    ///
    /// One hashing pass codes the values in order of first appearance; only
    /// the distinct values are sorted, then the codes are renumbered (the
    /// whole column is never sorted: millions of client rows, thousands of
    /// therapists).
    pub fn factor_from_strings<S: AsRef<str>>(values: &[S]) -> Var {
        let mut index: crate::data::fasthash::FastMap<&str, u32> = Default::default();
        let seen: Vec<u32> = values
            .iter()
            .map(|s| {
                let next = index.len() as u32;
                *index.entry(s.as_ref()).or_insert(next)
            })
            .collect();
        let mut distinct: Vec<(&str, u32)> = index.into_iter().collect();
        distinct.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut renumber = vec![0u32; distinct.len()];
        for (sorted, &(_, first)) in distinct.iter().enumerate() {
            renumber[first as usize] = sorted as u32;
        }
        let codes = seen.iter().map(|&c| renumber[c as usize]).collect();
        let levels = distinct.into_iter().map(|(s, _)| s.to_string()).collect();
        Var::Factor { codes, levels }
    }
}

/// Access to model variables by name; the CLI can implement this over its
/// own table, or fill a [`Frame`].
pub trait Data {
    fn nrows(&self) -> usize;
    fn var(&self, name: &str) -> Option<&Var>;
}

/// A simple named collection of equally long variables.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    n: usize,
    names: Vec<String>,
    vars: Vec<Var>,
}

impl Frame {
    pub fn new(nrows: usize) -> Frame {
        Frame {
            n: nrows,
            names: Vec::new(),
            vars: Vec::new(),
        }
    }
    /// Adds (or replaces) a variable; its length must be `nrows`.
    pub fn add(&mut self, name: &str, v: Var) -> Result<()> {
        if v.len() != self.n {
            return Err(Error::other(format!(
                "variable '{name}' has {} values, the frame has {} rows",
                v.len(),
                self.n
            )));
        }
        if let Var::Factor { codes, levels } = &v {
            if codes.iter().any(|&c| c as usize >= levels.len()) {
                return Err(Error::other(format!(
                    "factor '{name}' has a code outside its levels"
                )));
            }
        }
        if let Some(i) = self.names.iter().position(|x| x == name) {
            self.vars[i] = v;
        } else {
            self.names.push(name.to_string());
            self.vars.push(v);
        }
        Ok(())
    }
    pub fn add_num(&mut self, name: &str, v: Vec<f64>) -> Result<()> {
        self.add(name, Var::Num(v))
    }
    pub fn add_factor(&mut self, name: &str, codes: Vec<u32>, levels: Vec<String>) -> Result<()> {
        self.add(name, Var::Factor { codes, levels })
    }
    /// Adds a text column as a factor with sorted levels (R's default).
    pub fn add_strings<S: AsRef<str>>(&mut self, name: &str, values: &[S]) -> Result<()> {
        self.add(name, Var::factor_from_strings(values))
    }
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

impl Data for Frame {
    fn nrows(&self) -> usize {
        self.n
    }
    fn var(&self, name: &str) -> Option<&Var> {
        self.names
            .iter()
            .position(|x| x == name)
            .map(|i| &self.vars[i])
    }
}

#[cfg(test)]
mod tests {
    use super::Var;

    /// The hashed coding equals the definition: levels sorted and distinct,
    /// each value's code the position of its level.
    #[test]
    fn factor_levels_are_sorted_and_codes_match() {
        let values = ["T10", "T2", "T10", "b", "", "T2", "a", "é", "T1"];
        let Var::Factor { codes, levels } = Var::factor_from_strings(&values) else {
            panic!("a factor")
        };
        let mut want: Vec<&str> = values.to_vec();
        want.sort();
        want.dedup();
        assert_eq!(levels, want);
        for (v, c) in values.iter().zip(&codes) {
            assert_eq!(levels[*c as usize], *v);
        }
        let empty: [&str; 0] = [];
        let Var::Factor { codes, levels } = Var::factor_from_strings(&empty) else {
            panic!()
        };
        assert!(codes.is_empty() && levels.is_empty());
    }
}
