//! Benchmarks and the parameter-recovery study of `outcomes variance`
//! (issue 5). Not tests: every function is `#[ignore]`d; run in release mode:
//!
//! ```text
//! cargo test --release --bench variance -- --ignored --nocapture --test-threads 1
//! ```
//!
//! * `speed`: 30,000 clients, 400 therapists, 25 sites, five factors (32
//!   fits), without and with `--bootstrap 1000`, through the command's own
//!   code path (reading the CSV included). `benches/variance_vs_r.sh` times
//!   the same 32 fits in R with lme4 on the same file.
//! * `coverage`: 50 seeded simulations with known population shares
//!   (docs/simulation.md §3); for every factor, how often the 95% bootstrap
//!   interval of the Shapley share (and of alone and unique) covers the truth.

use clap::Parser;
use outcomes::cli::{variance, Cli, Command};
use outcomes::simulate::{population, simulate, SimParams};
use std::path::Path;
use std::time::Instant;

fn variance_report(args: &[&str]) -> variance::VarianceReport {
    let mut all = vec!["outcomes", "variance"];
    all.extend(args);
    match Cli::parse_from(all).command {
        Command::Variance(a) => variance::build(&a).expect("variance runs"),
        _ => unreachable!(),
    }
}

fn write_sim(p: &SimParams, path: &Path) {
    let sim = simulate(p).expect("simulation");
    outcomes::data::write::write_table(&sim.wide_table(), path).expect("write");
}

#[test]
#[ignore]
fn speed() {
    let dir = std::env::temp_dir().join("outcomes-bench-variance");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sim30k.csv");
    let p = SimParams {
        clients: 30_000,
        therapists: 400,
        sites: 25,
        seed: 3,
        ..SimParams::default()
    };
    write_sim(&p, &path);
    let file = path.to_str().unwrap();
    println!("data: {file} (30,000 clients, 400 therapists, 25 sites; dropouts excluded)");
    let threads = rayon::current_num_threads();
    for (label, reps) in [("32 fits", "0"), ("32 fits + bootstrap 1000", "1000")] {
        let mut times = Vec::new();
        let runs = if reps == "0" { 5 } else { 3 };
        let mut evals = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let r = variance_report(&[file, "--format", "json", "--bootstrap", reps]);
            times.push(t.elapsed().as_secs_f64());
            evals = r.subsets.len();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{label:<28} best {:.3} s, median {:.3} s over {runs} runs ({evals} subset models, {threads} threads)",
            times[0],
            times[runs / 2]
        );
    }
}

#[test]
#[ignore]
fn coverage() {
    let dir = std::env::temp_dir().join("outcomes-bench-coverage");
    std::fs::create_dir_all(&dir).unwrap();
    let sims: u64 = std::env::var("COVERAGE_SIMS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let reps = std::env::var("COVERAGE_REPS").unwrap_or_else(|_| "1000".into());
    let scheme = std::env::var("COVERAGE_SCHEME").unwrap_or_else(|_| "two-stage".into());
    let size = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(d)
    };
    // Latent scores (no rounding or clipping) and no dropout, so that the
    // analytic population shares are the estimand. The truth assumes
    // infinitely many therapists per site: with T therapists per site a
    // site-only model also picks up about 1/T of the therapist-level variance,
    // so the default design has 40 therapists per site (20,000 clients, 800
    // therapists, 20 sites).
    let base = SimParams {
        clients: size("COVERAGE_CLIENTS", 20_000),
        therapists: size("COVERAGE_THERAPISTS", 800),
        sites: size("COVERAGE_SITES", 20),
        clip: None,
        clip_alliance: false,
        round: false,
        dropout: 0.0,
        ..SimParams::default()
    };
    let truth = population(&base);
    let names = ["client", "technique", "relationship", "therapist", "site"];
    let kinds = ["shapley", "alone", "unique"];
    let mut hits = vec![[0usize; 3]; names.len()];
    let mut est_sum = vec![0.0; names.len()];
    let mut width_sum = vec![0.0; names.len()];
    let t0 = Instant::now();
    for seed in 1..=sims {
        let p = SimParams {
            seed,
            ..base.clone()
        };
        let path = dir.join(format!("sim{seed}.csv"));
        write_sim(&p, &path);
        let r = variance_report(&[
            path.to_str().unwrap(),
            "--format",
            "json",
            "--bootstrap",
            &reps,
            "--seed",
            &seed.to_string(),
            "--bootstrap-scheme",
            &scheme,
        ]);
        let shares = serde_json::to_value(&r).unwrap()["shares"].clone();
        for (f, name) in names.iter().enumerate() {
            let t = &truth.shares[*name];
            let s = &shares[name];
            for (k, kind) in kinds.iter().enumerate() {
                let (lb, ub) = if k == 0 {
                    (s["ci_lb"].as_f64().unwrap(), s["ci_ub"].as_f64().unwrap())
                } else {
                    let c = &s[format!("{kind}_ci")];
                    (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
                };
                let tv = t[kind].as_f64().unwrap();
                if lb <= tv && tv <= ub {
                    hits[f][k] += 1;
                }
                if k == 0 {
                    est_sum[f] += s["shapley"].as_f64().unwrap();
                    width_sum[f] += ub - lb;
                }
            }
        }
        std::fs::remove_file(&path).ok();
    }
    println!(
        "Coverage of 95% cluster-bootstrap percentile intervals ({sims} simulations, {reps} \
         replicates each, scheme {scheme}; {} clients, {} therapists, {} sites; {:.0} s)",
        base.clients,
        base.therapists,
        base.sites,
        t0.elapsed().as_secs_f64()
    );
    println!(
        "{:<13} {:>8} {:>9} {:>10} {:>9} {:>9} {:>9}",
        "factor", "truth", "mean est", "mean width", "shapley", "alone", "unique"
    );
    for (f, name) in names.iter().enumerate() {
        println!(
            "{:<13} {:>7.2}% {:>8.2}% {:>9.2}% {:>8.0}% {:>8.0}% {:>8.0}%",
            name,
            100.0 * truth.shares[*name]["shapley"].as_f64().unwrap(),
            100.0 * est_sum[f] / sims as f64,
            100.0 * width_sum[f] / sims as f64,
            100.0 * hits[f][0] as f64 / sims as f64,
            100.0 * hits[f][1] as f64 / sims as f64,
            100.0 * hits[f][2] as f64 / sims as f64,
        );
    }
}
