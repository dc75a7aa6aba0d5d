//! Speed benchmarks of the linear mixed model engine (issue 4). Not tests:
//! every function is `#[ignore]`d; run them in release mode with
//!
//! ```text
//! cargo test --release --bench lmm_speed -- --ignored --nocapture --test-threads 1
//! ```
//!
//! or `benches/lmm_vs_lme4.sh`, which also times lme4 on the same machine and
//! prints the ratio.
//!
//! * `insteval`: lme4's InstEval, `y ~ 1 + service + (1|s) + (1|d) + (1|dept)`,
//!   ML (73,421 rows; 2,972 students crossed with 1,128 lecturers).
//! * `simulated_million`: `post ~ pre + technique + alliance +
//!   (1|therapist) + (1|site)`, REML, on 1,000,000 simulated clients of
//!   5,000 therapists in 100 sites; reports the time and the peak resident
//!   memory (VmHWM).

#[path = "../tests/common/r_csv.rs"]
mod r_csv;

use outcomes::stats::lmm::{Frame, Lmm, Method};
use std::path::PathBuf;
use std::time::Instant;

fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[test]
#[ignore = "benchmark"]
fn insteval() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/lme4/InstEval.csv");
    if !path.exists() {
        println!("skipped: ../shared is absent");
        return;
    }
    let d = r_csv::read_r_csv(&path);
    let t0 = Instant::now();
    let m = Lmm::new("y ~ 1 + service + (1|s) + (1|d) + (1|dept)", &d).unwrap();
    let t1 = t0.elapsed().as_secs_f64();
    let fit = m.fit(Method::Ml).unwrap();
    let t2 = t0.elapsed().as_secs_f64();
    println!(
        "outcomes InstEval ML: {:.3} s (model matrices and cross-products {:.3} s, \
         optimisation {:.3} s, {} evaluations, {:.1} ms each); objective {:.8}",
        t2,
        t1,
        t2 - t1,
        fit.evaluations,
        1e3 * (t2 - t1) / fit.evaluations as f64,
        fit.objective
    );
    println!("OUTCOMES_SECONDS {t2:.4}");
}

/// SplitMix64 (Steele, Lea & Flood 2014) for reproducible simulated data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = self.next().max(1e-300);
        let v = self.next();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

#[test]
#[ignore = "benchmark"]
fn simulated_million() {
    let (n, n_ther, n_site) = (1_000_000usize, 5_000usize, 100usize);
    let mut rng = Rng(20240601);
    let site_eff: Vec<f64> = (0..n_site).map(|_| 1.0 * rng.normal()).collect();
    let ther_eff: Vec<f64> = (0..n_ther).map(|_| 2.0 * rng.normal()).collect();
    let mut pre = Vec::with_capacity(n);
    let mut post = Vec::with_capacity(n);
    let mut alliance = Vec::with_capacity(n);
    let mut tech = Vec::with_capacity(n);
    let mut ther = Vec::with_capacity(n);
    let mut site = Vec::with_capacity(n);
    for i in 0..n {
        let t = i % n_ther;
        let s = t % n_site; // therapists nested in sites
        let p = 20.0 + 5.0 * rng.normal();
        let a = 5.0 + rng.normal();
        let k = (rng.next() * 3.0) as u32;
        let y = 5.0 + 0.5 * p - 1.0 * a
            + [0.0, -0.5, 0.3][k as usize]
            + ther_eff[t]
            + site_eff[s]
            + 4.0 * rng.normal();
        pre.push(p);
        post.push(y);
        alliance.push(a);
        tech.push(k);
        ther.push(t as u32);
        site.push(s as u32);
    }
    let mut d = Frame::new(n);
    d.add_num("pre", pre).unwrap();
    d.add_num("post", post).unwrap();
    d.add_num("alliance", alliance).unwrap();
    d.add_factor(
        "technique",
        tech,
        vec!["cbt".into(), "pdt".into(), "sup".into()],
    )
    .unwrap();
    d.add_factor(
        "therapist",
        ther,
        (0..n_ther).map(|t| format!("T{t:04}")).collect(),
    )
    .unwrap();
    d.add_factor(
        "site",
        site,
        (0..n_site).map(|s| format!("S{s:03}")).collect(),
    )
    .unwrap();
    let mem0 = peak_rss_mb().unwrap_or(f64::NAN);
    let t0 = Instant::now();
    let m = Lmm::new(
        "post ~ pre + technique + alliance + (1|therapist) + (1|site)",
        &d,
    )
    .unwrap();
    let t1 = t0.elapsed().as_secs_f64();
    let fit = m.fit(Method::Reml).unwrap();
    let t2 = t0.elapsed().as_secs_f64();
    println!(
        "outcomes 1e6 clients / 5000 therapists / 100 sites, REML: {:.3} s (setup {:.3} s, \
         optimisation {:.3} s, {} evaluations); peak RSS {:.0} MB (data alone {:.0} MB); \
         theta {:?}; sigma2 {:.4}",
        t2,
        t1,
        t2 - t1,
        fit.evaluations,
        peak_rss_mb().unwrap_or(f64::NAN),
        mem0,
        fit.theta,
        fit.residual.variance
    );
}

#[test]
#[ignore = "benchmark"]
fn dense_cholesky_kernel() {
    use outcomes::stats::lmm::dense::cholesky_lower;
    let m = 1145;
    let mut rng = Rng(7);
    let b: Vec<f64> = (0..m * 64).map(|_| rng.normal()).collect();
    let mut a0 = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..=i {
            let mut s = 0.0;
            for k in 0..64 {
                s += b[i * 64 + k] * b[j * 64 + k];
            }
            a0[i * m + j] = s + if i == j { m as f64 } else { 0.0 };
        }
    }
    let reps = 10;
    let t0 = Instant::now();
    for _ in 0..reps {
        let mut a = a0.clone();
        cholesky_lower(&mut a, m).unwrap();
    }
    let t = t0.elapsed().as_secs_f64() / reps as f64;
    let flops = (m as f64).powi(3) / 3.0;
    println!(
        "dense Cholesky m = {m}: {:.2} ms, {:.1} GFlop/s",
        1e3 * t,
        flops / t / 1e9
    );
}
