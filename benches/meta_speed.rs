//! Speed of `stats::meta` (issue 6): k = 100,000 simulated studies (or
//! `META_K`), REML with Knapp–Hartung, and the Q-profile interval for τ².
//! Not a test: `#[ignore]`d; run in release mode with
//!
//! ```text
//! cargo test --release --bench meta_speed -- --ignored --nocapture
//! ```
//!
//! `benches/meta_vs_metafor.sh` also times metafor on the same studies (the
//! bench writes them to a CSV) and prints the ratio.

use outcomes::stats::meta::{rma, tau2_ci, Method, Test};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::time::Instant;

fn unif(r: &mut ChaCha8Rng) -> f64 {
    (r.next_u64() >> 11) as f64 / 9_007_199_254_740_992.0
}

/// k studies: n ~ U{20..200} per arm, vi = 2/n + g²/(4n), true effects
/// N(0.5, 0.1), yi = θ + N(0, vi) (Box–Muller).
fn studies(k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut r = ChaCha8Rng::seed_from_u64(42);
    let normal = |r: &mut ChaCha8Rng| {
        let (u1, u2) = (1.0 - unif(r), unif(r));
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    };
    let mut yi = Vec::with_capacity(k);
    let mut vi = Vec::with_capacity(k);
    for _ in 0..k {
        let n = 20.0 + (unif(&mut r) * 181.0).floor();
        let theta = 0.5 + 0.1f64.sqrt() * normal(&mut r);
        let v = 2.0 / n + theta * theta / (4.0 * n);
        yi.push(theta + v.sqrt() * normal(&mut r));
        vi.push(v);
    }
    (yi, vi)
}

#[test]
#[ignore]
fn reml_knha() {
    let k: usize = std::env::var("META_K")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let (yi, vi) = studies(k);
    let path = std::env::temp_dir().join(format!("outcomes-meta-{k}.csv"));
    let mut csv = String::from("yi,vi\n");
    for (y, v) in yi.iter().zip(&vi) {
        csv.push_str(&format!("{y},{v}\n"));
    }
    std::fs::write(&path, csv).unwrap();
    let x = vec![1.0; k];
    let mut best = f64::INFINITY;
    let mut best_ci = f64::INFINITY;
    let mut fit = None;
    for _ in 0..5 {
        let t = Instant::now();
        let f = rma(&yi, &vi, &x, 1, Method::Reml, Test::Knha, 0.95).unwrap();
        best = best.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let _ = tau2_ci(&yi, &vi, &x, 1, &f, 0.95).unwrap();
        best_ci = best_ci.min(t.elapsed().as_secs_f64());
        fit = Some(f);
    }
    let f = fit.unwrap();
    println!(
        "k = {k}: REML + Knapp-Hartung {best:.4} s (tau2 {:.6}, estimate {:.6}, {} iterations); \
         Q-profile CI {best_ci:.4} s; data {}",
        f.tau2,
        f.beta[0],
        f.iterations,
        path.display()
    );
    println!("OUTCOMES_SECONDS {best}");
}
