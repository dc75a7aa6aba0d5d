//! Decomposing explained variance over factors: the Shapley value (general
//! dominance), the value of a factor alone, and its unique ("last in")
//! contribution (science.md §2).

/// Shapley value, alone and unique share of each of `k` factors from a value
/// function on subsets (bit f of the mask = factor f; `v(0)` should be 0).
///
/// shapley φ_f = Σ_{S ⊆ F∖{f}} |S|!(K−|S|−1)!/K! · [v(S ∪ {f}) − v(S)]
/// (Shapley 1953; as relative importance: Lindeman, Merenda & Gold 1980,
/// Grömping 2007 "lmg"); alone = v({f}); unique = v(F) − v(F ∖ {f}).
/// The Shapley values sum to v(F) − v(∅).
pub fn shapley(k: usize, v: impl Fn(u32) -> f64) -> Vec<(f64, f64, f64)> {
    assert!(k <= 20, "2^k subsets");
    let full: u32 = if k == 0 { 0 } else { (1u32 << k) - 1 };
    let values: Vec<f64> = (0..=full).map(&v).collect();
    let fact = |m: usize| (1..=m).map(|x| x as f64).product::<f64>();
    let kf = fact(k);
    (0..k)
        .map(|f| {
            let bit = 1u32 << f;
            let mut phi = 0.0;
            for s in 0..=full {
                if s & bit != 0 {
                    continue;
                }
                let size = s.count_ones() as usize;
                let w = fact(size) * fact(k - size - 1) / kf;
                phi += w * (values[(s | bit) as usize] - values[s as usize]);
            }
            (
                phi,
                values[bit as usize],
                values[full as usize] - values[(full & !bit) as usize],
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shapley values of an additive game are the individual values; of the
    /// "glove" game v(S) = [S ⊇ {0,1}] each of the two gets 1/2.
    #[test]
    fn shapley_small_games() {
        let add = shapley(3, |m| {
            [0.1, 0.2, 0.3]
                .iter()
                .enumerate()
                .filter(|(i, _)| m & (1 << i) != 0)
                .map(|(_, v)| v)
                .sum()
        });
        for (f, want) in [0.1, 0.2, 0.3].iter().enumerate() {
            assert!((add[f].0 - want).abs() < 1e-15);
            assert!((add[f].1 - want).abs() < 1e-15);
            assert!((add[f].2 - want).abs() < 1e-15);
        }
        let glove = shapley(3, |m| if m & 3 == 3 { 1.0 } else { 0.0 });
        assert!((glove[0].0 - 0.5).abs() < 1e-15);
        assert!((glove[1].0 - 0.5).abs() < 1e-15);
        assert!(glove[2].0.abs() < 1e-15);
        assert_eq!(glove[0].1, 0.0);
        assert_eq!(glove[0].2, 1.0);
    }
}
