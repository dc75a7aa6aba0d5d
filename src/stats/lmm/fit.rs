//! Fitting: optimise the profiled objective over θ, then read β̂, σ̂², the
//! standard errors, the variance components, the log-likelihood and the
//! information criteria, and (on request) the conditional modes of the
//! random effects with their conditional SDs.
//!
//! Formulas (JSS = Bates et al. 2015, J. Stat. Softw. 67(1)):
//! * σ̂² = r²_θ / n (ML) or r²_θ / (n − p) (REML) (JSS eqs. 33, 40);
//! * Var(β̂) = σ̂² (R_Xᵀ R_X)⁻¹ (JSS §5.2, lme4's `vcov`);
//! * Σ_term = σ̂² T Tᵀ (JSS eq. 4 with Λ_θ = I ⊗ T);
//! * −2 log L = the objective; df = p + #θ + 1 (lme4's `logLik`);
//!   AIC = −2 log L + 2 df, BIC = −2 log L + df log n (Akaike 1974,
//!   Schwarz 1978); for REML fits these use the REML criterion, as lme4;
//! * singular: some θ with lower bound 0 is below 1e-4 (lme4's `isSingular`);
//! * conditional modes b̃ = Λ ũ (JSS eq. 17 and §3.5), conditional
//!   covariance σ̂² Λ (L_Z L_Zᵀ)⁻¹ Λᵀ per level (lme4's `ranef(condVar =
//!   TRUE)`, which conditions on β̂).

use super::design::{self, Design};
use super::formula;
use super::model::{t_matrices, Model, Workspace};
use super::optim::{self, OptSettings};
use super::Data;
use crate::error::{Error, Result};
use serde::Serialize;

/// Estimation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Reml,
    Ml,
}

impl Method {
    pub fn is_reml(self) -> bool {
        self == Method::Reml
    }
    pub fn label(self) -> &'static str {
        match self {
            Method::Reml => "REML",
            Method::Ml => "ML",
        }
    }
}

/// One fixed-effect coefficient.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FixedEffect {
    pub term: String,
    pub estimate: f64,
    pub se: f64,
    pub t: f64,
}

/// A variance component or a correlation of a random-effects term.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum RandomComponent {
    Variance {
        group: String,
        term: String,
        variance: f64,
        sd: f64,
    },
    Correlation {
        group: String,
        terms: [String; 2],
        corr: f64,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Residual {
    pub variance: f64,
    pub sd: f64,
}

/// Number of levels of one grouping factor.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupLevels {
    pub group: String,
    pub levels: usize,
}

/// The contract's `lmm` result.
#[derive(Debug, Clone, Serialize)]
pub struct LmmFit {
    pub formula: String,
    pub method: &'static str,
    pub n: usize,
    pub objective: f64,
    pub loglik: f64,
    pub aic: f64,
    pub bic: f64,
    /// Parameters counted by logLik's df: p + #θ + 1.
    pub df: usize,
    pub fixed: Vec<FixedEffect>,
    /// Fixed-effect columns dropped as aliased (R: rank deficient).
    pub aliased: Vec<String>,
    pub random: Vec<RandomComponent>,
    pub residual: Residual,
    #[serde(serialize_with = "groups_as_map")]
    pub groups: Vec<GroupLevels>,
    pub converged: bool,
    pub singular: bool,
    pub evaluations: usize,
    pub theta: Vec<f64>,
    /// Covariance of the fixed effects (p×p row-major), lme4's `vcov`.
    #[serde(skip)]
    pub vcov: Vec<f64>,
    /// σ̂.
    #[serde(skip)]
    pub sigma: f64,
    #[serde(skip)]
    pub reml: bool,
}

fn groups_as_map<S: serde::Serializer>(
    g: &[GroupLevels],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_map(g.iter().map(|x| (&x.group, x.levels)))
}

/// Conditional modes of one grouping factor's random effects.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RandomEffects {
    pub group: String,
    /// Column names (`(Intercept)`, `Days`).
    pub terms: Vec<String>,
    pub levels: Vec<String>,
    /// Conditional modes, per level, one value per term.
    pub modes: Vec<Vec<f64>>,
    /// Conditional standard deviations, per level and term.
    pub cond_sd: Vec<Vec<f64>>,
}

/// A model ready to be fitted: design and cross-products.
#[derive(Debug, Clone)]
pub struct Lmm {
    pub formula: String,
    pub design: Design,
    pub model: Model,
}

/// Parses, builds and fits in one call.
pub fn lmm<D: Data + ?Sized>(formula: &str, data: &D, method: Method) -> Result<LmmFit> {
    Lmm::new(formula, data)?.fit(method)
}

impl Lmm {
    /// Parses the formula, builds the model matrices and the cross-products.
    pub fn new<D: Data + ?Sized>(formula_text: &str, data: &D) -> Result<Lmm> {
        let f = formula::parse(formula_text)?;
        let design = design::build(&f, data)?;
        let model = Model::new(&design);
        Ok(Lmm {
            formula: formula_text.to_string(),
            design,
            model,
        })
    }

    /// The profiled objective at θ (lme4 order): the REML criterion or the
    /// deviance (JSS eqs. 34, 41). +∞ where it cannot be evaluated.
    pub fn objective(&self, theta: &[f64], method: Method) -> f64 {
        let mut ws = Workspace::default();
        self.model
            .eval(theta, method.is_reml(), &mut ws, false)
            .map_or(f64::INFINITY, |e| e.objective)
    }

    /// Optimises θ and assembles the results.
    pub fn fit(&self, method: Method) -> Result<LmmFit> {
        let reml = method.is_reml();
        let m = &self.model;
        if reml && m.n <= m.p {
            return Err(Error::analysis(format!(
                "REML needs more observations ({}) than fixed-effect columns ({})",
                m.n, m.p
            )));
        }
        let x0 = m.start_theta();
        let mut ws = Workspace::default();
        let mut obj = |th: &[f64]| {
            m.eval(th, reml, &mut ws, false)
                .map_or(f64::INFINITY, |e| e.objective)
        };
        let res = if x0.len() == 1 {
            optim::minimize_1d(&mut obj, x0[0], m.lower[0])
        } else {
            optim::minimize_tr(&mut obj, &x0, &m.lower, &OptSettings::default())
        };
        if !res.f.is_finite() {
            return Err(Error::analysis(
                "the mixed-model objective could not be evaluated (is the fixed-effects design \
                 singular?)",
            ));
        }
        let theta = res.x;
        let ev = m
            .eval(&theta, reml, &mut ws, true)
            .ok_or_else(|| Error::analysis("the model could not be evaluated at the optimum"))?;
        let (beta, _u) = m.solve(&ws);
        let n = m.n;
        let p = m.p;
        let sigma2 = ev.pwrss / if reml { (n - p) as f64 } else { n as f64 };
        let cov = m.beta_cov_unscaled(&ws);
        let vcov: Vec<f64> = cov.iter().map(|v| v * sigma2).collect();
        let fixed = (0..p)
            .map(|j| {
                let se = vcov[j * p + j].sqrt();
                FixedEffect {
                    term: self.design.x_names[j].clone(),
                    estimate: beta[j],
                    se,
                    t: beta[j] / se,
                }
            })
            .collect();

        // Variance components per term in lme4 order.
        let t = t_matrices(&m.blocks, &m.slots, &theta);
        let mut random = Vec::new();
        for (ti, term) in self.design.terms.iter().enumerate() {
            let (bi, off) = m
                .blocks
                .iter()
                .enumerate()
                .find_map(|(bi, b)| b.terms.iter().find(|x| x.0 == ti).map(|x| (bi, x.1)))
                .unwrap();
            let qb = m.blocks[bi].q;
            let tb = &t[bi];
            let q = term.q;
            // Σ = σ² T Tᵀ restricted to this term's columns.
            let mut cov = vec![0.0; q * q];
            for i in 0..q {
                for j in 0..q {
                    let mut v = 0.0;
                    for k in 0..qb {
                        v += tb[(off + i) * qb + k] * tb[(off + j) * qb + k];
                    }
                    cov[i * q + j] = sigma2 * v;
                }
            }
            for i in 0..q {
                random.push(RandomComponent::Variance {
                    group: term.group.clone(),
                    term: term.names[i].clone(),
                    variance: cov[i * q + i],
                    sd: cov[i * q + i].sqrt(),
                });
            }
            for i in 0..q {
                for j in i + 1..q {
                    let d = (cov[i * q + i] * cov[j * q + j]).sqrt();
                    random.push(RandomComponent::Correlation {
                        group: term.group.clone(),
                        terms: [term.names[i].clone(), term.names[j].clone()],
                        corr: if d > 0.0 {
                            cov[i * q + j] / d
                        } else {
                            f64::NAN
                        },
                    });
                }
            }
        }
        let mut groups: Vec<GroupLevels> = Vec::new();
        for term in &self.design.terms {
            if !groups.iter().any(|g| g.group == term.group) {
                groups.push(GroupLevels {
                    group: term.group.clone(),
                    levels: term.nlevels(),
                });
            }
        }
        let df = p + theta.len() + 1;
        let objective = ev.objective;
        let singular = theta
            .iter()
            .zip(&m.lower)
            .any(|(&th, &l)| l == 0.0 && th < 1e-4);
        Ok(LmmFit {
            formula: self.formula.clone(),
            method: method.label(),
            n,
            objective,
            loglik: -0.5 * objective,
            aic: objective + 2.0 * df as f64,
            bic: objective + df as f64 * (n as f64).ln(),
            df,
            fixed,
            aliased: self.design.aliased.clone(),
            random,
            residual: Residual {
                variance: sigma2,
                sd: sigma2.sqrt(),
            },
            groups,
            converged: res.converged,
            singular,
            evaluations: res.evaluations,
            theta,
            vcov,
            sigma: sigma2.sqrt(),
            reml,
        })
    }

    /// Conditional modes (BLUPs) b̃ = Λ ũ and conditional SDs, one entry per
    /// grouping factor (terms with the same factor together, as lme4's
    /// `ranef`), at the fitted θ.
    pub fn ranef(&self, fit: &LmmFit) -> Vec<RandomEffects> {
        let m = &self.model;
        let mut ws = Workspace::default();
        if m.eval(&fit.theta, fit.reml, &mut ws, true).is_none() {
            return Vec::new();
        }
        let (_beta, u) = m.solve(&ws);
        let cc = m.cond_cov_unscaled(&ws);
        let t = t_matrices(&m.blocks, &m.slots, &fit.theta);
        let sigma2 = fit.sigma * fit.sigma;
        let mut out = Vec::new();
        // report blocks in lme4's order of first appearance of the factor
        let mut order: Vec<usize> = (0..m.blocks.len()).collect();
        order.sort_by_key(|&b| m.blocks[b].terms[0].0);
        for b in order {
            let bl = &m.blocks[b];
            let q = bl.q;
            let tb = &t[b];
            let mut terms = Vec::new();
            for &(ti, _) in &bl.terms {
                terms.extend(self.design.terms[ti].names.iter().cloned());
            }
            let levels = self.design.terms[bl.terms[0].0].levels.clone();
            let mut modes = Vec::with_capacity(bl.nlev);
            let mut cond_sd = Vec::with_capacity(bl.nlev);
            for l in 0..bl.nlev {
                let ul = &u[b][l * q..(l + 1) * q];
                modes.push(
                    (0..q)
                        .map(|i| (0..q).map(|k| tb[i * q + k] * ul[k]).sum())
                        .collect(),
                );
                // σ² T C Tᵀ diagonal
                let c = &cc[b][l * q * q..(l + 1) * q * q];
                cond_sd.push(
                    (0..q)
                        .map(|i| {
                            let mut v = 0.0;
                            for a in 0..q {
                                for bb in 0..q {
                                    v += tb[i * q + a] * c[a * q + bb] * tb[i * q + bb];
                                }
                            }
                            (sigma2 * v).sqrt()
                        })
                        .collect(),
                );
            }
            out.push(RandomEffects {
                group: bl.group.clone(),
                terms,
                levels,
                modes,
                cond_sd,
            });
        }
        out
    }
}
