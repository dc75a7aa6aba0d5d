//! Synthetic clinic data with known truth (`outcomes simulate`).
//!
//! Clients are nested in therapists nested in sites; each client has a
//! technique, an alliance score with a therapist and a client component, a
//! pre and a post score, a number of attended sessions, and may drop out.
//! The generating model is written out, with its derivations, in
//! `docs/simulation.md`; in short, for client i of therapist j at site k:
//!
//! ```text
//! sites        k = 1..S;  therapist j (0-based) works at site ⌊j·S/T⌋
//! caseloads    w_j ~ Gamma(shape 1/φ, scale φ)   (φ = 0: w_j = 1)
//!              clients 1..T: one per therapist; the other N − T clients:
//!              therapist j with probability w_j / Σw; then the client order
//!              is shuffled (Fisher–Yates), so IDs say nothing about therapists
//! technique    p_j ~ Uniform{1..L} (therapist's preferred technique);
//!              T_i = p_j with probability π, otherwise Uniform{1..L}
//! alliance     A_ij = μ_A + a_j + e_ij,  a_j ~ N(0, σ_Ab²),  e_ij ~ N(0, σ_Aw²)
//! pre          pre_i = μ_pre + σ_pre·z_i,  z_i ~ N(0, 1)
//! post         post_i = μ_post + b·(pre_i − μ_pre) + δ_{T_i} + s_k + u_j
//!                       + β_b·a_j + β_w·e_ij + ε_i
//!              s_k ~ N(0, σ_site²), u_j ~ N(0, σ_ther²), ε_i ~ N(0, σ_ε²)
//! observed     scores rounded to integers (half away from zero) and clipped
//!              to the measure's range; alliance rounded to 2 decimals and
//!              clipped to 1–5 (WAI-SR's item scale, Hatcher & Gillaspy 2006)
//! sessions     planned n_i = 2 + K_i, K_i ~ Poisson(λ = m̄ − 2) truncated
//!              so that n_i ≤ n_max (the upper tail is put on n_max)
//! dropout      P(drop_i) = logistic(logit(ρ) + γ·z_i)   (γ = 0: MCAR;
//!              γ ≠ 0: MAR on pre); a dropout has post missing and attended
//!              1 + ⌊U·(n_i − 1)⌋ ∈ 1..n_i−1 sessions; completers attend n_i
//! long format  session t of client i (t = 1..attended):
//!              t = 1: the observed pre; t = n_i (completers only): the
//!              observed post; otherwise
//!              pre_i + (post_i − pre_i)·(t − 1)/(n_i − 1) + N(0, σ_s²),
//!              rounded and clipped like the scores. A dropout follows the
//!              same path and stops early, so their last score is not post.
//! ```
//!
//! Scores are on the measure's own scale; for PHQ-9 lower is better, so an
//! effect that helps is *negative* on the post score. The default alliance
//! effects are negative: a higher alliance gives a lower (better) post score.
//!
//! Reproducibility. Random numbers come from ChaCha8 (`rand_chacha`, a
//! portable stream cipher: the same bytes on every platform) seeded with
//! `seed_from_u64(seed)`, one independent ChaCha *stream* per stage (see
//! [`Stream`]), each consumed in a fixed, documented order. Every
//! transcendental function goes through `libm` (a pure-Rust port of musl's
//! libm) rather than the platform's maths library, and only IEEE-754 basic
//! operations are used otherwise, so the same seed gives bit-identical data,
//! and byte-identical files, on any machine and any build.
//!
//! Truth. [`population`] computes, analytically, the variance shares the
//! parameters imply for the `variance` command's factors (client, technique,
//! relationship, therapist, site) in the limit of infinitely many therapists
//! per site and infinite caseloads, before rounding, clipping and dropout.

use crate::data::table::{Column, Table};
use crate::error::{Error, Result};
use crate::stats::decompose::shapley;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use serde::Serialize;

/// The factors of the variance decomposition, in bit order of a subset mask.
pub const FACTORS: [&str; 5] = ["client", "technique", "relationship", "therapist", "site"];
/// Bit of the client factor (pre score) in a subset mask.
pub const CLIENT: u32 = 1;
/// Bit of the technique factor.
pub const TECHNIQUE: u32 = 2;
/// Bit of the relationship factor (alliance).
pub const RELATIONSHIP: u32 = 4;
/// Bit of the therapist factor (random intercept).
pub const THERAPIST: u32 = 8;
/// Bit of the site factor (random intercept).
pub const SITE: u32 = 16;

/// Score ranges of built-in instruments (`--measure`), used for clipping.
/// Sources: PHQ-9 0–27 (Kroenke, Spitzer & Williams 2001); GAD-7 0–21
/// (Spitzer et al. 2006); CORE-10 0–40 (Barkham et al. 2013); CORE-OM clinical
/// score 0–40 (Evans et al. 2002, mean item score × 10); OQ-45 0–180 (Lambert
/// et al. 1996); BDI-II 0–63 (Beck, Steer & Brown 1996); WEMWBS 14–70
/// (Tennant et al. 2007); WSAS 0–40 (Mundt et al. 2002); ORS 0–40 (Miller et
/// al. 2003).
pub const MEASURE_RANGES: [(&str, f64, f64); 9] = [
    ("PHQ-9", 0.0, 27.0),
    ("GAD-7", 0.0, 21.0),
    ("CORE-10", 0.0, 40.0),
    ("CORE-OM", 0.0, 40.0),
    ("OQ-45", 0.0, 180.0),
    ("BDI-II", 0.0, 63.0),
    ("WEMWBS", 14.0, 70.0),
    ("WSAS", 0.0, 40.0),
    ("ORS", 0.0, 40.0),
];

/// The score range of a built-in measure (case-insensitive name).
pub fn measure_range(name: &str) -> Option<(f64, f64)> {
    MEASURE_RANGES
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, lo, hi)| (lo, hi))
}

/// WAI-SR item scale, 1 (seldom) to 5 (always): Hatcher & Gillaspy 2006,
/// Psychotherapy Research 16(1):12–25.
pub const ALLIANCE_RANGE: (f64, f64) = (1.0, 5.0);

/// Every population parameter of the generator (one CLI flag each).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimParams {
    /// N, number of clients.
    pub clients: usize,
    /// T, number of therapists.
    pub therapists: usize,
    /// S, number of sites.
    pub sites: usize,
    pub seed: u64,
    /// φ: caseload weights w_j ~ Gamma(1/φ, φ) (mean 1, variance φ).
    pub caseload_dispersion: f64,
    /// Technique labels (L of them).
    pub techniques: Vec<String>,
    /// δ_l, effect of each technique on the post score (score points).
    pub technique_effects: Vec<f64>,
    /// π, probability that a client gets the therapist's preferred technique.
    pub technique_preference: f64,
    /// μ_A.
    pub alliance_mean: f64,
    /// σ_Ab, SD of the therapist component a_j.
    pub alliance_therapist_sd: f64,
    /// σ_Aw, SD of the client component e_ij.
    pub alliance_client_sd: f64,
    /// β_b, post points per alliance point of the therapist component.
    pub alliance_between_effect: f64,
    /// β_w, post points per alliance point of the client component.
    pub alliance_within_effect: f64,
    /// σ_ther, SD of the therapist intercept u_j (score points).
    pub therapist_sd: f64,
    /// σ_site, SD of the site intercept s_k.
    pub site_sd: f64,
    /// σ_ε, SD of the client residual.
    pub residual_sd: f64,
    /// μ_pre.
    pub pre_mean: f64,
    /// σ_pre.
    pub pre_sd: f64,
    /// μ_post, post mean at average pre with δ = 0 (the population mean of
    /// post before clipping is μ_post + mean(δ)).
    pub post_mean: f64,
    /// b, slope of post on pre.
    pub pre_slope: f64,
    /// Measure name whose range clips the scores (informational when `clip`
    /// is given explicitly).
    pub measure: Option<String>,
    /// Range scores are clipped to (None: no clipping).
    pub clip: Option<(f64, f64)>,
    /// Clip the alliance to [`ALLIANCE_RANGE`].
    pub clip_alliance: bool,
    /// Round scores to integers and the alliance to 2 decimals.
    pub round: bool,
    /// ρ, dropout probability at average pre.
    pub dropout: f64,
    /// γ, log-odds of dropout per pre SD.
    pub dropout_pre_slope: f64,
    /// m̄, mean planned sessions before truncation (≥ 2).
    pub sessions_mean: f64,
    /// n_max, most planned sessions.
    pub sessions_max: u32,
    /// σ_s, session-to-session noise of intermediate scores (long format).
    pub session_sd: f64,
}

impl Default for SimParams {
    /// PHQ-9-like defaults; see `docs/simulation.md` for the shares they
    /// imply (therapist ICC ≈ 5%, site ≈ 2%, alliance alone ≈ 6%, technique
    /// < 1%).
    fn default() -> Self {
        SimParams {
            clients: 2000,
            therapists: 50,
            sites: 5,
            seed: 1,
            caseload_dispersion: 0.3,
            techniques: ["CBT", "IPT", "PDT", "PCE"].map(String::from).to_vec(),
            technique_effects: vec![0.0, -0.3, 0.2, 0.4],
            technique_preference: 0.5,
            alliance_mean: 3.7,
            alliance_therapist_sd: 0.3,
            alliance_client_sd: 0.55,
            alliance_between_effect: -4.0,
            alliance_within_effect: -2.0,
            therapist_sd: 0.75,
            site_sd: 0.9,
            residual_sd: 5.5,
            pre_mean: 16.0,
            pre_sd: 5.0,
            post_mean: 9.0,
            pre_slope: 0.5,
            measure: Some("PHQ-9".to_string()),
            clip: Some((0.0, 27.0)),
            clip_alliance: true,
            round: true,
            dropout: 0.2,
            dropout_pre_slope: 0.3,
            sessions_mean: 8.0,
            sessions_max: 20,
            session_sd: 2.0,
        }
    }
}

/// Largest number of clients accepted (memory guard).
pub const MAX_CLIENTS: usize = 10_000_000;

fn bad(flag: &str, value: impl std::fmt::Display, accepted: &str) -> Error {
    Error::input(format!("{flag} {value}: {accepted}"))
}

impl SimParams {
    /// Checks every parameter; the message names the flag, the value and what
    /// is accepted.
    pub fn validate(&self) -> Result<()> {
        if self.clients < 1 || self.clients > MAX_CLIENTS {
            return Err(bad(
                "--clients",
                self.clients,
                &format!("the number of clients must be between 1 and {MAX_CLIENTS}"),
            ));
        }
        if self.therapists < 1 {
            return Err(bad(
                "--therapists",
                self.therapists,
                "at least 1 therapist is needed",
            ));
        }
        if self.sites < 1 {
            return Err(bad("--sites", self.sites, "at least 1 site is needed"));
        }
        if self.therapists < self.sites {
            return Err(bad(
                "--therapists",
                self.therapists,
                &format!(
                    "fewer therapists than --sites {}: every site needs at least one therapist",
                    self.sites
                ),
            ));
        }
        if self.clients < self.therapists {
            return Err(bad(
                "--clients",
                self.clients,
                &format!(
                    "fewer clients than --therapists {}: every therapist needs at least one client",
                    self.therapists
                ),
            ));
        }
        let nonneg = |flag: &str, v: f64| -> Result<()> {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(bad(
                    flag,
                    v,
                    "must be a finite number ≥ 0 (a standard deviation)",
                ))
            }
        };
        nonneg("--alliance-therapist-sd", self.alliance_therapist_sd)?;
        nonneg("--alliance-client-sd", self.alliance_client_sd)?;
        nonneg("--therapist-sd", self.therapist_sd)?;
        nonneg("--site-sd", self.site_sd)?;
        nonneg("--residual-sd", self.residual_sd)?;
        nonneg("--pre-sd", self.pre_sd)?;
        nonneg("--session-sd", self.session_sd)?;
        if !(self.caseload_dispersion.is_finite()
            && (0.0..=100.0).contains(&self.caseload_dispersion))
        {
            return Err(bad(
                "--caseload-dispersion",
                self.caseload_dispersion,
                "must be between 0 (equal caseloads) and 100",
            ));
        }
        let finite = |flag: &str, v: f64| -> Result<()> {
            if v.is_finite() {
                Ok(())
            } else {
                Err(bad(flag, v, "must be a finite number"))
            }
        };
        finite("--alliance-mean", self.alliance_mean)?;
        finite("--alliance-between-effect", self.alliance_between_effect)?;
        finite("--alliance-within-effect", self.alliance_within_effect)?;
        finite("--pre-mean", self.pre_mean)?;
        finite("--post-mean", self.post_mean)?;
        finite("--pre-slope", self.pre_slope)?;
        finite("--dropout-pre-slope", self.dropout_pre_slope)?;
        for (flag, v) in [
            ("--technique-preference", self.technique_preference),
            ("--dropout", self.dropout),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(bad(flag, v, "must be a probability between 0 and 1"));
            }
        }
        if self.techniques.is_empty() {
            return Err(bad(
                "--techniques",
                "''",
                "give at least one technique label",
            ));
        }
        for (i, t) in self.techniques.iter().enumerate() {
            if t.trim().is_empty() {
                return Err(bad(
                    "--techniques",
                    self.techniques.join(","),
                    "technique labels must not be empty",
                ));
            }
            if self.techniques[..i].contains(t) {
                return Err(bad(
                    "--techniques",
                    self.techniques.join(","),
                    &format!("the label '{t}' appears twice; labels must be distinct"),
                ));
            }
            if crate::data::table::is_missing_token(t.trim()) {
                return Err(bad(
                    "--techniques",
                    self.techniques.join(","),
                    &format!("'{t}' would be read back as a missing value; choose another label"),
                ));
            }
        }
        if self.technique_effects.len() != self.techniques.len() {
            return Err(bad(
                "--technique-effects",
                fmt_list(&self.technique_effects),
                &format!(
                    "{} effects given for {} techniques ({}); give one effect per technique",
                    self.technique_effects.len(),
                    self.techniques.len(),
                    self.techniques.join(",")
                ),
            ));
        }
        if let Some(e) = self.technique_effects.iter().find(|e| !e.is_finite()) {
            return Err(bad(
                "--technique-effects",
                e,
                "effects must be finite numbers",
            ));
        }
        if let Some((lo, hi)) = self.clip {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(bad(
                    "--clip",
                    format!("{lo},{hi}"),
                    "give LO,HI with finite LO < HI",
                ));
            }
        }
        if self.sessions_max < 2 || self.sessions_max > 1000 {
            return Err(bad(
                "--sessions-max",
                self.sessions_max,
                "must be between 2 and 1000",
            ));
        }
        if !(self.sessions_mean.is_finite()
            && self.sessions_mean >= 2.0
            && self.sessions_mean <= f64::from(self.sessions_max))
        {
            return Err(bad(
                "--sessions-mean",
                self.sessions_mean,
                &format!("must be between 2 and --sessions-max {}", self.sessions_max),
            ));
        }
        Ok(())
    }

    /// V_δ: population variance of δ over uniformly distributed levels.
    pub fn technique_variance(&self) -> f64 {
        let l = self.technique_effects.len();
        if l == 0 {
            return 0.0;
        }
        let mean = self.technique_effects.iter().sum::<f64>() / l as f64;
        self.technique_effects
            .iter()
            .map(|d| (d - mean) * (d - mean))
            .sum::<f64>()
            / l as f64
    }
}

fn fmt_list(v: &[f64]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

// ---------------------------------------------------------------------------
// Random numbers

/// The independent ChaCha streams, one per stage, each used in the order
/// described at its use. Changing, say, the dropout rate therefore leaves
/// every score unchanged, and the long format describes the same clients as
/// the wide one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Stream {
    /// s_k for k = 1..S.
    Sites = 1,
    /// (u_j, a_j, p_j) for j = 1..T.
    Therapists = 2,
    /// w_j for j = 1..T (only when φ > 0).
    Caseloads = 3,
    /// Therapists of clients T+1..N, then the Fisher–Yates shuffle.
    Assignment = 4,
    /// Per client, in client order: U_pref, U_tech, z_e, z_pre, z_ε, U_drop,
    /// U_sessions, U_attended.
    Clients = 5,
    /// Long format: per client in order, one normal per intermediate session.
    Sessions = 6,
    /// `outcomes replicate`: parametric bootstrap draws of a claim.
    Replicate = 7,
}

/// A seeded generator for one stage.
pub struct Rand(ChaCha8Rng);

impl Rand {
    pub fn new(seed: u64, stream: Stream) -> Self {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        r.set_stream(stream as u64);
        Rand(r)
    }

    /// U in [0, 1): the top 53 bits of one `u64` times 2⁻⁵³ (the standard
    /// conversion, e.g. Vigna, "xoshiro/xoroshiro generators and the PRNG
    /// shootout", section "Generating uniform doubles in the unit interval").
    pub fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// An index in 0..n from one uniform: ⌊U·n⌋.
    pub fn index(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n - 1)
    }

    /// A standard normal deviate by the Box–Muller transform (Box & Muller
    /// 1958, Ann. Math. Statist. 29:610), cosine branch only, so every
    /// normal costs exactly two uniforms: z = √(−2 ln U₁)·cos(2π U₂) with
    /// U₁ = 1 − U in (0, 1].
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
    }

    /// Gamma(shape α, scale 1) by Marsaglia & Tsang 2000 ("A simple method
    /// for generating gamma variables", ACM TOMS 26(3):363–372): for α ≥ 1,
    /// d = α − 1/3, c = 1/√(9d); repeat x ~ N(0,1), v = (1 + c x)³ until
    /// v > 0 and (U < 1 − 0.0331 x⁴ or ln U < x²/2 + d(1 − v + ln v));
    /// return d·v. For α < 1, Gamma(α) = Gamma(α + 1)·U^{1/α} (ibid., p. 371).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let g = self.gamma(shape + 1.0);
            let u = 1.0 - self.uniform();
            return g * libm::pow(u, 1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / libm::sqrt(9.0 * d);
        loop {
            let x = self.normal();
            let t = 1.0 + c * x;
            if t <= 0.0 {
                continue;
            }
            let v = t * t * t;
            let u = 1.0 - self.uniform();
            if u < 1.0 - 0.0331 * x * x * x * x {
                return d * v;
            }
            if libm::log(u) < 0.5 * x * x + d * (1.0 - v + libm::log(v)) {
                return d * v;
            }
        }
    }
}

/// logistic(x) = 1/(1 + e^{−x}), via libm.
fn logistic(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + libm::exp(-x))
    } else {
        let e = libm::exp(x);
        e / (1.0 + e)
    }
}

/// P(drop) for a client whose standardised latent pre is z:
/// logistic(logit ρ + γ z); exactly 0 for ρ = 0 and 1 for ρ = 1.
pub fn dropout_probability(rho: f64, gamma: f64, z: f64) -> f64 {
    if rho <= 0.0 {
        0.0
    } else if rho >= 1.0 {
        1.0
    } else {
        logistic(libm::log(rho / (1.0 - rho)) + gamma * z)
    }
}

/// Planned sessions from one uniform by inversion of the truncated
/// Poisson: n = 2 + K, K = min{k : U < F(k)} with F the Poisson(λ) CDF,
/// p₀ = e^{−λ}, p_k = p_{k−1}·λ/k (Devroye 1986, *Non-Uniform Random Variate
/// Generation*, §X.3.3, sequential search); K ≥ n_max − 2 gives n_max.
pub fn planned_sessions(u: f64, mean: f64, max: u32) -> u32 {
    let lambda = mean - 2.0;
    let kmax = max - 2;
    if lambda <= 0.0 {
        return 2;
    }
    let mut p = libm::exp(-lambda);
    let mut f = p;
    let mut k = 0u32;
    while u >= f && k < kmax {
        k += 1;
        p *= lambda / f64::from(k);
        f += p;
    }
    2 + k
}

/// Observed score: rounded to an integer (half away from zero) and clipped.
fn observe(x: f64, round: bool, clip: Option<(f64, f64)>) -> f64 {
    let v = if round { x.round() } else { x };
    let v = match clip {
        Some((lo, hi)) => v.clamp(lo, hi),
        None => v,
    };
    // −0.0 + 0.0 = +0.0: no negative zeros in the output.
    v + 0.0
}

// ---------------------------------------------------------------------------
// The simulation

/// One simulated client (latent and observed values).
#[derive(Debug, Clone, PartialEq)]
pub struct SimClient {
    /// Therapist index 0..T.
    pub therapist: usize,
    /// Site index 0..S.
    pub site: usize,
    /// Technique index 0..L.
    pub technique: usize,
    /// e_ij, the client component of the alliance.
    pub alliance_client: f64,
    /// Observed alliance (rounded, clipped).
    pub alliance: f64,
    /// z_i, the standardised latent pre score.
    pub pre_z: f64,
    /// Latent pre μ_pre + σ_pre z_i.
    pub pre_latent: f64,
    /// Observed pre.
    pub pre: f64,
    /// Latent post (also for dropouts).
    pub post_latent: f64,
    /// Observed post, NaN for a dropout.
    pub post: f64,
    pub dropped: bool,
    /// Planned sessions n_i.
    pub planned: u32,
    /// Attended sessions (= planned for completers).
    pub sessions: u32,
}

/// A simulated clinic: the parameters, every random effect, and the clients
/// in ID order.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    pub params: SimParams,
    /// s_k.
    pub site_effect: Vec<f64>,
    /// Site of each therapist.
    pub therapist_site: Vec<usize>,
    /// u_j.
    pub therapist_effect: Vec<f64>,
    /// a_j.
    pub therapist_alliance: Vec<f64>,
    /// p_j.
    pub preferred: Vec<usize>,
    /// w_j (unnormalised caseload weights).
    pub caseload_weight: Vec<f64>,
    pub clients: Vec<SimClient>,
}

/// Runs the generator (see the module documentation for the model and
/// [`Stream`] for the order of the random numbers).
pub fn simulate(params: &SimParams) -> Result<Simulation> {
    params.validate()?;
    let p = params;
    let (n, t, s) = (p.clients, p.therapists, p.sites);
    let l = p.techniques.len();

    // Stage 1: site intercepts s_k, k = 1..S.
    let mut rng = Rand::new(p.seed, Stream::Sites);
    let site_effect: Vec<f64> = (0..s).map(|_| p.site_sd * rng.normal()).collect();

    // Stage 2: per therapist j = 1..T: u_j, a_j, p_j (in that order).
    let therapist_site: Vec<usize> = (0..t).map(|j| j * s / t).collect();
    let mut rng = Rand::new(p.seed, Stream::Therapists);
    let mut therapist_effect = Vec::with_capacity(t);
    let mut therapist_alliance = Vec::with_capacity(t);
    let mut preferred = Vec::with_capacity(t);
    for _ in 0..t {
        therapist_effect.push(p.therapist_sd * rng.normal());
        therapist_alliance.push(p.alliance_therapist_sd * rng.normal());
        preferred.push(rng.index(l));
    }

    // Stage 3: caseload weights w_j ~ Gamma(1/φ, φ) (mean 1, variance φ).
    let caseload_weight: Vec<f64> = if p.caseload_dispersion > 0.0 {
        let phi = p.caseload_dispersion;
        let mut rng = Rand::new(p.seed, Stream::Caseloads);
        (0..t).map(|_| phi * rng.gamma(1.0 / phi)).collect()
    } else {
        vec![1.0; t]
    };

    // Stage 4: therapist of each client. Slots 1..T get therapist 1..T (so
    // every therapist has a client); slots T+1..N are drawn with probability
    // w_j/Σw by inverting the cumulative weights; then the N slots are
    // shuffled (Fisher–Yates / Durstenfeld: for i = N−1 down to 1 swap slot
    // i with slot ⌊U·(i+1)⌋; Knuth, TAOCP vol. 2, Algorithm 3.4.2 P), and
    // client i gets slot i.
    let mut rng = Rand::new(p.seed, Stream::Assignment);
    let mut cum = Vec::with_capacity(t);
    let mut total = 0.0;
    for &w in &caseload_weight {
        total += w;
        cum.push(total);
    }
    let equal = !(total.is_finite() && total > 0.0);
    let mut slot: Vec<usize> = (0..t).collect();
    for _ in t..n {
        let u = rng.uniform();
        let j = if equal {
            ((u * t as f64) as usize).min(t - 1)
        } else {
            let target = u * total;
            cum.partition_point(|&c| c <= target).min(t - 1)
        };
        slot.push(j);
    }
    for i in (1..n).rev() {
        let k = rng.index(i + 1);
        slot.swap(i, k);
    }

    // Stage 5: the clients, in ID order.
    let mut rng = Rand::new(p.seed, Stream::Clients);
    let mut clients = Vec::with_capacity(n);
    for &j in &slot {
        let u_pref = rng.uniform();
        let u_tech = rng.index(l);
        let z_e = rng.normal();
        let z_pre = rng.normal();
        let z_eps = rng.normal();
        let u_drop = rng.uniform();
        let u_sessions = rng.uniform();
        let u_attended = rng.uniform();

        let technique = if u_pref < p.technique_preference {
            preferred[j]
        } else {
            u_tech
        };
        let site = therapist_site[j];
        let a_j = therapist_alliance[j];
        let e = p.alliance_client_sd * z_e;
        let alliance_latent = p.alliance_mean + a_j + e;
        let mut alliance = if p.round {
            (alliance_latent * 100.0).round() / 100.0
        } else {
            alliance_latent
        };
        if p.clip_alliance {
            alliance = alliance.clamp(ALLIANCE_RANGE.0, ALLIANCE_RANGE.1);
        }
        let alliance = alliance + 0.0; // no negative zero
        let pre_latent = p.pre_mean + p.pre_sd * z_pre;
        let post_latent = p.post_mean
            + p.pre_slope * (pre_latent - p.pre_mean)
            + p.technique_effects[technique]
            + site_effect[site]
            + therapist_effect[j]
            + p.alliance_between_effect * a_j
            + p.alliance_within_effect * e
            + p.residual_sd * z_eps;
        let dropped = u_drop < dropout_probability(p.dropout, p.dropout_pre_slope, z_pre);
        let planned = planned_sessions(u_sessions, p.sessions_mean, p.sessions_max);
        let sessions = if dropped {
            1 + ((u_attended * f64::from(planned - 1)) as u32).min(planned - 2)
        } else {
            planned
        };
        clients.push(SimClient {
            therapist: j,
            site,
            technique,
            alliance_client: e,
            alliance,
            pre_z: z_pre,
            pre_latent,
            pre: observe(pre_latent, p.round, p.clip),
            post_latent,
            post: if dropped {
                f64::NAN
            } else {
                observe(post_latent, p.round, p.clip)
            },
            dropped,
            planned,
            sessions,
        });
    }

    Ok(Simulation {
        params: p.clone(),
        site_effect,
        therapist_site,
        therapist_effect,
        therapist_alliance,
        preferred,
        caseload_weight,
        clients,
    })
}

fn digits(n: usize) -> usize {
    n.to_string().len()
}

fn label(prefix: char, i: usize, width: usize) -> Option<String> {
    Some(format!("{prefix}{:0width$}", i + 1))
}

impl Simulation {
    /// Client IDs C1..CN zero-padded to the width of N; therapists T001..
    /// (at least 3 digits); sites S01.. (at least 2 digits).
    fn labels(&self) -> (usize, usize, usize) {
        let p = &self.params;
        (
            digits(p.clients),
            digits(p.therapists).max(3),
            digits(p.sites).max(2),
        )
    }

    /// Number of dropouts.
    pub fn dropouts(&self) -> usize {
        self.clients.iter().filter(|c| c.dropped).count()
    }

    /// One row per client: client, therapist, site, technique, alliance,
    /// pre, post (NaN = missing for dropouts), sessions.
    pub fn wide_table(&self) -> Table {
        let (wc, wt, ws) = self.labels();
        let c = &self.clients;
        let tech = &self.params.techniques;
        let columns = vec![
            Column::str("client", (0..c.len()).map(|i| label('C', i, wc)).collect()),
            Column::str(
                "therapist",
                c.iter().map(|x| label('T', x.therapist, wt)).collect(),
            ),
            Column::str("site", c.iter().map(|x| label('S', x.site, ws)).collect()),
            Column::str(
                "technique",
                c.iter().map(|x| Some(tech[x.technique].clone())).collect(),
            ),
            Column::num("alliance", c.iter().map(|x| x.alliance).collect()),
            Column::num("pre", c.iter().map(|x| x.pre).collect()),
            Column::num("post", c.iter().map(|x| x.post).collect()),
            Column::num(
                "sessions",
                c.iter().map(|x| f64::from(x.sessions)).collect(),
            ),
        ];
        Table::in_memory("<simulated>", columns)
    }

    /// One row per attended session: client, therapist, site, technique,
    /// alliance, session (1..attended), score. Session 1 is the observed pre;
    /// a completer's last session is the observed post; the sessions in
    /// between follow the straight line from the latent pre to the latent
    /// post plus N(0, σ_s²) noise (one normal each from [`Stream::Sessions`],
    /// clients in ID order, sessions in order), rounded and clipped.
    pub fn long_table(&self) -> Table {
        let (wc, wt, ws) = self.labels();
        let p = &self.params;
        let mut rng = Rand::new(p.seed, Stream::Sessions);
        let total: usize = self.clients.iter().map(|c| c.sessions as usize).sum();
        let mut client = Vec::with_capacity(total);
        let mut therapist = Vec::with_capacity(total);
        let mut site = Vec::with_capacity(total);
        let mut technique = Vec::with_capacity(total);
        let mut alliance = Vec::with_capacity(total);
        let mut session = Vec::with_capacity(total);
        let mut score = Vec::with_capacity(total);
        for (i, c) in self.clients.iter().enumerate() {
            let id = label('C', i, wc);
            let th = label('T', c.therapist, wt);
            let si = label('S', c.site, ws);
            let te = Some(p.techniques[c.technique].clone());
            for t in 1..=c.sessions {
                let y = if t == 1 {
                    c.pre
                } else if t == c.planned && !c.dropped {
                    c.post
                } else {
                    let frac = f64::from(t - 1) / f64::from(c.planned - 1);
                    let path = c.pre_latent + (c.post_latent - c.pre_latent) * frac;
                    observe(path + p.session_sd * rng.normal(), p.round, p.clip)
                };
                client.push(id.clone());
                therapist.push(th.clone());
                site.push(si.clone());
                technique.push(te.clone());
                alliance.push(c.alliance);
                session.push(f64::from(t));
                score.push(y);
            }
        }
        let columns = vec![
            Column::str("client", client),
            Column::str("therapist", therapist),
            Column::str("site", site),
            Column::str("technique", technique),
            Column::num("alliance", alliance),
            Column::num("session", session),
            Column::num("score", score),
        ];
        Table::in_memory("<simulated>", columns)
    }
}

// ---------------------------------------------------------------------------
// Population truth

/// Total variance of the latent post score (docs/simulation.md, eq. V):
/// Var(y) = b²σ_pre² + V_δ + σ_site² + σ_ther² + β_b²σ_Ab² + β_w²σ_Aw² + σ_ε².
pub fn population_var_y(p: &SimParams) -> f64 {
    let (b, spre) = (p.pre_slope, p.pre_sd);
    b * b * spre * spre
        + p.technique_variance()
        + p.site_sd * p.site_sd
        + p.therapist_sd * p.therapist_sd
        + sq(p.alliance_between_effect * p.alliance_therapist_sd)
        + sq(p.alliance_within_effect * p.alliance_client_sd)
        + p.residual_sd * p.residual_sd
}

fn sq(x: f64) -> f64 {
    x * x
}

/// Explained variance of the subset `mask` of [`FACTORS`] in the population
/// (docs/simulation.md, eqs. E1–E2), in score points squared.
///
/// With the therapist in S, the therapist intercept absorbs everything that
/// varies between therapists: s_k, u_j, β_b a_j and the therapist part of
/// the technique effect, π(δ_{p_j} − δ̄), whose variance over therapists is
/// π²V_δ; the fixed terms then act within therapists, where the technique
/// has the remaining (1 − π²)V_δ and the alliance is e_ij (slope β_w).
/// Without the therapist, a site intercept absorbs σ_site² only (infinitely
/// many therapists per site), the technique dummies explain all of V_δ and
/// the alliance, regressed as a whole, explains Cov(y, A)²/Var(A) =
/// (β_bσ_Ab² + β_wσ_Aw²)²/(σ_Ab² + σ_Aw²). All other terms are independent,
/// so the explained parts add.
pub fn population_explained(p: &SimParams, mask: u32) -> f64 {
    let vd = p.technique_variance();
    let pi2 = sq(p.technique_preference);
    let client = sq(p.pre_slope * p.pre_sd);
    let (vab, vaw) = (sq(p.alliance_therapist_sd), sq(p.alliance_client_sd));
    let has = |bit: u32| if mask & bit != 0 { 1.0 } else { 0.0 };
    if mask & THERAPIST != 0 {
        sq(p.site_sd)
            + sq(p.therapist_sd)
            + sq(p.alliance_between_effect) * vab
            + pi2 * vd
            + has(CLIENT) * client
            + has(TECHNIQUE) * (1.0 - pi2) * vd
            + has(RELATIONSHIP) * sq(p.alliance_within_effect) * vaw
    } else {
        let rel = if vab + vaw > 0.0 {
            sq(p.alliance_between_effect * vab + p.alliance_within_effect * vaw) / (vab + vaw)
        } else {
            0.0
        };
        has(SITE) * sq(p.site_sd)
            + has(CLIENT) * client
            + has(TECHNIQUE) * vd
            + has(RELATIONSHIP) * rel
    }
}

/// v(S) = explained(S)/Var(y): the population value of a subset of factors.
pub fn population_value(p: &SimParams, mask: u32) -> f64 {
    if mask == 0 {
        return 0.0;
    }
    population_explained(p, mask) / population_var_y(p)
}

/// One factor's population shares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FactorShare {
    pub shapley: f64,
    pub alone: f64,
    pub unique: f64,
}

/// Population intraclass correlations (`y ~ 1 + (1|therapist) + (1|site)`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PopulationIcc {
    /// (σ_ther² + β_b²σ_Ab² + π²V_δ)/Var(y).
    pub therapist: f64,
    /// σ_site²/Var(y).
    pub site: f64,
}

/// The truth implied by the parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Population {
    /// Var(y) of the latent post score.
    pub var_y: f64,
    /// Shares keyed by factor name, in [`FACTORS`] order.
    pub shares: serde_json::Map<String, serde_json::Value>,
    /// 1 − v(F).
    pub unexplained: f64,
    pub icc: PopulationIcc,
    /// Expected dropout rate E[logistic(logit ρ + γz)], z ~ N(0,1).
    pub expected_dropout: f64,
    pub note: String,
}

/// Shares, unexplained variance, ICCs and expected dropout, analytically.
pub fn population(p: &SimParams) -> Population {
    let var_y = population_var_y(p);
    let sh = shapley(FACTORS.len(), |m| population_value(p, m));
    let mut shares = serde_json::Map::new();
    for (name, &(shapley, alone, unique)) in FACTORS.iter().zip(&sh) {
        let fs = FactorShare {
            shapley,
            alone,
            unique,
        };
        shares.insert(
            name.to_string(),
            serde_json::to_value(fs).unwrap_or(serde_json::Value::Null),
        );
    }
    let full = (1u32 << FACTORS.len()) - 1;
    let ther = sq(p.therapist_sd)
        + sq(p.alliance_between_effect * p.alliance_therapist_sd)
        + sq(p.technique_preference) * p.technique_variance();
    Population {
        var_y,
        shares,
        unexplained: 1.0 - population_value(p, full),
        icc: PopulationIcc {
            therapist: ther / var_y,
            site: sq(p.site_sd) / var_y,
        },
        expected_dropout: expected_dropout(p.dropout, p.dropout_pre_slope),
        note: "analytic population values of the latent post score, for infinitely many \
               therapists per site and infinite caseloads, before rounding, clipping and \
               dropout (docs/simulation.md)"
            .to_string(),
    }
}

/// E[logistic(logit ρ + γz)] for z ~ N(0, 1), by the trapezoidal rule on
/// [−12, 12] with step 1/256 (the integrand is smooth and decays like the
/// normal density, so the rule is accurate to far below 1e-10; Trefethen &
/// Weideman 2014, SIAM Review 56(3), "The exponentially convergent
/// trapezoidal rule").
pub fn expected_dropout(rho: f64, gamma: f64) -> f64 {
    if rho <= 0.0 || rho >= 1.0 || gamma == 0.0 {
        return rho.clamp(0.0, 1.0);
    }
    let h = 1.0 / 256.0;
    let steps = 24 * 256;
    let norm = 1.0 / libm::sqrt(2.0 * std::f64::consts::PI);
    let mut sum = 0.0;
    for i in 0..=steps {
        let z = -12.0 + h * i as f64;
        let w = if i == 0 || i == steps { 0.5 } else { 1.0 };
        sum += w * norm * libm::exp(-0.5 * z * z) * dropout_probability(rho, gamma, z);
    }
    sum * h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_imply_the_documented_shares() {
        let p = SimParams::default();
        p.validate().unwrap();
        let pop = population(&p);
        // Var(y) = 6.25 + 0.066875 + 0.81 + 0.5625 + 1.44 + 1.21 + 30.25.
        assert!((pop.var_y - 40.589375).abs() < 1e-12);
        assert!((pop.icc.therapist - (0.5625 + 1.44 + 0.25 * 0.066875) / 40.589375).abs() < 1e-12);
        assert!((pop.icc.site - 0.81 / 40.589375).abs() < 1e-12);
        let alone = |f: &str| pop.shares[f]["alone"].as_f64().unwrap();
        assert!((alone("relationship") - (0.965f64 * 0.965 / 0.3925) / 40.589375).abs() < 1e-12);
        assert!(alone("technique") < 0.01);
        let sum: f64 = FACTORS
            .iter()
            .map(|f| pop.shares[*f]["shapley"].as_f64().unwrap())
            .sum();
        assert!((sum + pop.unexplained - 1.0).abs() < 1e-12);
    }

    #[test]
    fn normal_and_gamma_moments() {
        let mut r = Rand::new(3, Stream::Clients);
        let n = 200_000;
        let z: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let m = z.iter().sum::<f64>() / n as f64;
        let v = z.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
        // SE of the mean 1/√n ≈ 0.0022, of the variance √(2/n) ≈ 0.0032.
        assert!(m.abs() < 0.01, "{m}");
        assert!((v - 1.0).abs() < 0.015, "{v}");
        for shape in [0.5, 2.0, 5.0] {
            let g: Vec<f64> = (0..n).map(|_| r.gamma(shape)).collect();
            let m = g.iter().sum::<f64>() / n as f64;
            let v = g.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
            assert!(
                (m - shape).abs() < 5.0 * (shape / n as f64).sqrt(),
                "{shape} {m}"
            );
            assert!((v / shape - 1.0).abs() < 0.05, "{shape} {v}");
        }
    }

    #[test]
    fn same_seed_same_clients_and_streams_are_separate() {
        let p = SimParams {
            clients: 300,
            therapists: 12,
            sites: 3,
            ..SimParams::default()
        };
        let a = simulate(&p).unwrap();
        let b = simulate(&p).unwrap();
        // NaN ≠ NaN, so compare the printed tables.
        assert_eq!(
            format!("{:?}", a.wide_table()),
            format!("{:?}", b.wide_table())
        );
        // Changing the dropout rate leaves every score unchanged.
        let c = simulate(&SimParams {
            dropout: 0.5,
            ..p.clone()
        })
        .unwrap();
        for (x, y) in a.clients.iter().zip(&c.clients) {
            assert_eq!(x.pre, y.pre);
            assert_eq!(x.post_latent, y.post_latent);
        }
        // Every therapist has a client; therapists are in blocks of sites.
        let mut seen = [false; 12];
        for c in &a.clients {
            seen[c.therapist] = true;
            assert_eq!(c.site, c.therapist * 3 / 12);
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn planned_sessions_distribution() {
        assert_eq!(planned_sessions(0.0, 8.0, 20), 2);
        assert_eq!(planned_sessions(1.0 - 1e-16, 8.0, 20), 20);
        assert_eq!(planned_sessions(0.5, 2.0, 20), 2);
        // Median of Poisson(6) is 6 → 8 sessions.
        assert_eq!(planned_sessions(0.5, 8.0, 20), 8);
    }

    #[test]
    fn expected_dropout_integral() {
        assert_eq!(expected_dropout(0.2, 0.0), 0.2);
        // By symmetry E[logistic(γz)] = 1/2 for ρ = 1/2.
        assert!((expected_dropout(0.5, 1.3) - 0.5).abs() < 1e-12);
        // Larger spread pulls the rate towards 1/2 (Jensen on the convex
        // part of the logistic below 0).
        assert!(expected_dropout(0.2, 1.0) > 0.2);
    }

    #[test]
    fn validation_names_the_flag() {
        let mut p = SimParams {
            technique_effects: vec![0.0, 1.0],
            ..SimParams::default()
        };
        let e = p.validate().unwrap_err().to_string();
        assert!(
            e.contains("--technique-effects") && e.contains("4 techniques"),
            "{e}"
        );
        p.technique_effects = vec![0.0; 4];
        p.technique_preference = 1.5;
        let e = p.validate().unwrap_err().to_string();
        assert!(e.contains("--technique-preference 1.5"), "{e}");
        p.technique_preference = 0.5;
        p.therapist_sd = -1.0;
        assert!(p
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--therapist-sd -1"));
        p.therapist_sd = 1.0;
        p.sites = 100;
        assert!(p
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--therapists 50"));
        assert_eq!(p.validate().unwrap_err().exit_code(), 2);
    }
}
