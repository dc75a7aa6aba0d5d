//! The profiled objective of a linear mixed model over θ, evaluated with a
//! blocked Cholesky factor built from cross-products computed once.
//!
//! Notation of Bates et al. 2015 (JSS 67(1), section 3): y = Xβ + Zb + ε,
//! b = Λ_θ u, u ~ N(0, σ²I). With A = [Z X y]ᵀ[Z X y] (eq. 14's ingredients)
//! the penalised least-squares problem (eqs. 15–17) is solved by the Cholesky
//! factor of
//!
//! ```text
//!   Ω(θ) = [ΛᵀZᵀZΛ + I   ΛᵀZᵀX   ΛᵀZᵀy]      L = [L_Z          ]
//!          [XᵀZΛ          XᵀX     Xᵀy  ]  =  L Lᵀ,   [L_XZ  R_Xᵀ    ]
//!          [yᵀZΛ          yᵀX     yᵀy  ]          [l_yZ  l_yX  r_y]
//! ```
//!
//! (eq. 18 for L_θ, eq. 19 for R_X; the extra row gives r_y² = r²_θ, the
//! penalised residual sum of squares of eq. 20 — this bordered form is
//! MixedModels.jl's, Bates et al., `MixedModels.jl` documentation,
//! "Linear mixed-effects models" / "the blocked Cholesky factor").
//!
//! Profiled objectives (eqs. 34 and 41):
//! ML:   −2ℓ̃(θ)   = log|L_θ|² + n [1 + log(2π r²_θ / n)]
//! REML: −2ℓ̃_R(θ) = log|L_θ|² + log|R_X|² + (n−p) [1 + log(2π r²_θ / (n−p))]
//!
//! Blocking. The random-effects columns are grouped by grouping factor (terms
//! with the same factor, e.g. from `||`, are amalgamated as MixedModels.jl
//! does). The block with the most columns is eliminated first: its part of
//! ΛᵀZᵀZΛ + I is block diagonal (one q×q block per level), so its factor is
//! block diagonal too. Everything else (the other random-effect blocks, X and
//! y, `m` columns in all) is kept as a dense Schur complement
//! `S = Λ_rᵀ A_rr Λ_r + I − W Wᵀ` with `W = Λ_rᵀ A_r1 Λ_1 L_1⁻ᵀ` (sparse, one
//! short panel per level of the first factor), which is then factorised by the
//! dense blocked Cholesky of [`super::dense`].

use super::dense;
use super::design::Design;
use std::f64::consts::PI;

/// A block of random-effect columns sharing one grouping factor.
#[derive(Debug, Clone)]
pub struct Block {
    pub group: String,
    pub nlev: usize,
    /// Columns per level.
    pub q: usize,
    pub codes: Vec<u32>,
    /// n × q row-major.
    pub z: Vec<f64>,
    /// (term index in lme4 order, column offset within the block).
    pub terms: Vec<(usize, usize)>,
}

/// Where θ_k goes: the (row, col) of block `block`'s relative covariance
/// factor T (Λ = I_levels ⊗ T).
#[derive(Debug, Clone, Copy)]
pub struct ThetaSlot {
    pub block: usize,
    pub row: usize,
    pub col: usize,
}

/// Cross-products and structure; immutable once built.
#[derive(Debug, Clone)]
pub struct Model {
    pub n: usize,
    pub p: usize,
    pub blocks: Vec<Block>,
    pub slots: Vec<ThetaSlot>,
    /// Lower bounds of θ (0 on diagonals of T, −∞ elsewhere).
    pub lower: Vec<f64>,
    /// First block's diagonal blocks ZᵢᵀZᵢ: nlev × q × q.
    a11: Vec<f64>,
    /// Sparse A_r1 per level of the first block: rows (rest indices, sorted)
    /// and values (|R_i| × q1).
    r1_ptr: Vec<usize>,
    r1_rows: Vec<u32>,
    r1_vals: Vec<f64>,
    /// Dense A_rr, m × m row-major, full symmetric.
    arr: Vec<f64>,
    /// Size of the rest: Σ_{b≥1} nlev_b q_b + p + 1.
    pub m: usize,
    /// Random-effect part of the rest.
    pub m_re: usize,
    /// Offset of block b (b ≥ 1) in the rest.
    pub rest_off: Vec<usize>,
    /// Block of each random-effect rest index.
    rest_blk: Vec<u32>,
    all_scalar_rest: bool,
    /// Step 3 regrouped by target entry when every block is scalar.
    down: Option<ScalarDowndate>,
}

/// When every random-effect block is scalar, `W_l = θ₁ Λ_r a_l / L_l` with
/// `L_l² = θ₁² A_ll + 1` (a_l the l-th column of A_r1), so
/// `W Wᵀ = Λ_r [Σ_l c_l a_l a_lᵀ] Λ_r` with `c_l = θ₁² / (θ₁² A_ll + 1)`.
/// Levels with equal `A_ll` share `c_l`, so the products `a_la a_lb` are
/// summed once per (entry, class of A_ll) and each evaluation makes one
/// pass over them, row by row (a row of S stays in cache), instead of a
/// scattered rank-1 update per level.
#[derive(Debug, Clone)]
struct ScalarDowndate {
    /// Distinct values of A_ll.
    class_a11: Vec<f64>,
    /// Entries of row a (of the rest) are `row_ptr[a]..row_ptr[a + 1]`.
    row_ptr: Vec<usize>,
    cols: Vec<u32>,
    class: Vec<u32>,
    vals: Vec<f64>,
}

impl ScalarDowndate {
    /// One pass per row over the levels that touch it, levels taken class
    /// by class, merging equal (column, class) entries with a stamp array
    /// (no sorting; O(Σ_l |R_l|²) time and O(m) scratch).
    fn new(m: usize, a11: &[f64], r1_ptr: &[usize], r1_rows: &[u32], r1_vals: &[f64]) -> Self {
        let nl = a11.len();
        let mut class_a11: Vec<f64> = Vec::new();
        let mut index: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
        let level_class: Vec<u32> = a11
            .iter()
            .map(|&a| {
                *index.entry(a.to_bits()).or_insert_with(|| {
                    class_a11.push(a);
                    (class_a11.len() - 1) as u32
                })
            })
            .collect();
        // levels in class order (counting sort)
        let nk = class_a11.len();
        let mut kstart = vec![0usize; nk + 1];
        for &k in &level_class {
            kstart[k as usize + 1] += 1;
        }
        for k in 0..nk {
            kstart[k + 1] += kstart[k];
        }
        let mut by_class = vec![0usize; nl];
        for (l, &k) in level_class.iter().enumerate() {
            by_class[kstart[k as usize]] = l;
            kstart[k as usize] += 1;
        }
        // for each rest index a: the positions x (in r1) where it occurs, in
        // class order of their levels
        let mut cnt = vec![0usize; m + 1];
        for &r in r1_rows {
            cnt[r as usize + 1] += 1;
        }
        for a in 0..m {
            cnt[a + 1] += cnt[a];
        }
        let mut occ = vec![0usize; r1_rows.len()];
        let mut fill = cnt.clone();
        for &l in &by_class {
            for (x, &r) in r1_rows
                .iter()
                .enumerate()
                .take(r1_ptr[l + 1])
                .skip(r1_ptr[l])
            {
                occ[fill[r as usize]] = x;
                fill[r as usize] += 1;
            }
        }
        let mut level_of = vec![0u32; r1_rows.len()];
        for l in 0..nl {
            for v in &mut level_of[r1_ptr[l]..r1_ptr[l + 1]] {
                *v = l as u32;
            }
        }
        let mut row_ptr = vec![0usize];
        let (mut cols, mut class, mut vals) = (Vec::new(), Vec::new(), Vec::new());
        let mut stamp = vec![u32::MAX; m];
        let mut pos = vec![0usize; m];
        for a in 0..m {
            let start = cols.len();
            for &x in &occ[cnt[a]..cnt[a + 1]] {
                let l = level_of[x] as usize;
                let k = level_class[l];
                let lo = r1_ptr[l];
                let vx = r1_vals[x];
                for y in lo..=x {
                    let b = r1_rows[y] as usize;
                    let v = vx * r1_vals[y];
                    if stamp[b] == k && pos[b] >= start {
                        vals[pos[b]] += v;
                    } else {
                        stamp[b] = k;
                        pos[b] = cols.len();
                        cols.push(b as u32);
                        class.push(k);
                        vals.push(v);
                    }
                }
            }
            row_ptr.push(cols.len());
        }
        ScalarDowndate {
            class_a11,
            row_ptr,
            cols,
            class,
            vals,
        }
    }
}

/// Reusable memory for evaluations.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    pub s: Vec<f64>,
    pub l1: Vec<f64>,
    w: Vec<f64>,
    /// W panels kept by the final evaluation (same layout as r1_vals).
    pub w_keep: Vec<f64>,
}

/// Pieces of one evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Eval {
    pub objective: f64,
    pub logdet_l: f64,
    pub logdet_rx: f64,
    pub pwrss: f64,
}

/// Relative covariance factors T_b (q×q lower, row-major) from θ.
pub fn t_matrices(blocks: &[Block], slots: &[ThetaSlot], theta: &[f64]) -> Vec<Vec<f64>> {
    let mut t: Vec<Vec<f64>> = blocks.iter().map(|b| vec![0.0; b.q * b.q]).collect();
    for (s, &th) in slots.iter().zip(theta) {
        let q = blocks[s.block].q;
        t[s.block][s.row * q + s.col] = th;
    }
    t
}

/// Cholesky of a small q×q SPD matrix in place (lower, row-major).
fn small_chol(a: &mut [f64], q: usize) -> bool {
    for j in 0..q {
        let mut d = a[j * q + j];
        for k in 0..j {
            d -= a[j * q + k] * a[j * q + k];
        }
        if d.is_nan() || d <= 0.0 {
            return false;
        }
        let d = d.sqrt();
        a[j * q + j] = d;
        for i in j + 1..q {
            let mut s = a[i * q + j];
            for k in 0..j {
                s -= a[i * q + k] * a[j * q + k];
            }
            a[i * q + j] = s / d;
        }
        for i in 0..j {
            a[i * q + j] = 0.0;
        }
    }
    true
}

impl Model {
    /// Builds the blocks and all cross-products from the design (one pass
    /// over the rows for A_11 and A_r1, one for A_rr).
    pub fn new(d: &Design) -> Model {
        let n = d.n;
        let p = d.p;
        // Amalgamate terms by grouping factor (first appearance order).
        let mut blocks: Vec<Block> = Vec::new();
        for (ti, t) in d.terms.iter().enumerate() {
            if let Some(b) = blocks.iter_mut().find(|b| b.group == t.group) {
                let off = b.q;
                let newq = b.q + t.q;
                let mut z = vec![0.0; n * newq];
                for i in 0..n {
                    z[i * newq..i * newq + b.q].copy_from_slice(&b.z[i * b.q..(i + 1) * b.q]);
                    z[i * newq + b.q..(i + 1) * newq].copy_from_slice(&t.z[i * t.q..(i + 1) * t.q]);
                }
                b.z = z;
                b.q = newq;
                b.terms.push((ti, off));
            } else {
                blocks.push(Block {
                    group: t.group.clone(),
                    nlev: t.nlevels(),
                    q: t.q,
                    codes: t.codes.clone(),
                    z: t.z.clone(),
                    terms: vec![(ti, 0)],
                });
            }
        }
        // θ slots in lme4 order: terms in order, lower triangle column-major.
        let mut slots = Vec::new();
        let mut lower = Vec::new();
        for (ti, t) in d.terms.iter().enumerate() {
            let (bi, off) = blocks
                .iter()
                .enumerate()
                .find_map(|(bi, b)| b.terms.iter().find(|x| x.0 == ti).map(|x| (bi, x.1)))
                .unwrap();
            for c in 0..t.q {
                for r in c..t.q {
                    slots.push(ThetaSlot {
                        block: bi,
                        row: off + r,
                        col: off + c,
                    });
                    lower.push(if r == c { 0.0 } else { f64::NEG_INFINITY });
                }
            }
        }
        // Eliminate first the block with the most columns.
        let first = (0..blocks.len())
            .max_by_key(|&b| (blocks[b].nlev * blocks[b].q, std::cmp::Reverse(b)))
            .unwrap();
        if first != 0 {
            blocks.swap(0, first);
            for s in slots.iter_mut() {
                if s.block == 0 {
                    s.block = first;
                } else if s.block == first {
                    s.block = 0;
                }
            }
        }
        let mut rest_off = vec![0usize; blocks.len()];
        let mut m_re = 0;
        for b in 1..blocks.len() {
            rest_off[b] = m_re;
            m_re += blocks[b].nlev * blocks[b].q;
        }
        let m = m_re + p + 1;
        let mut rest_blk = vec![0u32; m_re];
        for b in 1..blocks.len() {
            for k in 0..blocks[b].nlev * blocks[b].q {
                rest_blk[rest_off[b] + k] = b as u32;
            }
        }
        let all_scalar_rest = blocks[1..].iter().all(|b| b.q == 1);

        // Nonzeros of the rest part of row i: (rest index, value).
        let row_rest = |i: usize, out: &mut Vec<(usize, f64)>| {
            out.clear();
            for b in 1..blocks.len() {
                let bl = &blocks[b];
                let base = rest_off[b] + bl.codes[i] as usize * bl.q;
                for j in 0..bl.q {
                    out.push((base + j, bl.z[i * bl.q + j]));
                }
            }
            for j in 0..p {
                out.push((m_re + j, d.x[i * p + j]));
            }
            out.push((m - 1, d.y[i]));
        };

        // A_rr (dense, full symmetric).
        let mut arr = vec![0.0; m * m];
        let mut nz = Vec::new();
        for i in 0..n {
            row_rest(i, &mut nz);
            for &(a, va) in &nz {
                for &(b, vb) in &nz {
                    if b <= a {
                        arr[a * m + b] += va * vb;
                    }
                }
            }
        }
        for a in 0..m {
            for b in 0..a {
                arr[b * m + a] = arr[a * m + b];
            }
        }

        // First block: A_11 and A_r1, grouping rows by level (counting sort).
        let b1 = &blocks[0];
        let (nl1, q1) = (b1.nlev, b1.q);
        let mut count = vec![0usize; nl1 + 1];
        for &c in &b1.codes {
            count[c as usize + 1] += 1;
        }
        for l in 0..nl1 {
            count[l + 1] += count[l];
        }
        let mut order = vec![0usize; n];
        let mut next = count.clone();
        for (i, &c) in b1.codes.iter().enumerate() {
            order[next[c as usize]] = i;
            next[c as usize] += 1;
        }
        let mut a11 = vec![0.0; nl1 * q1 * q1];
        let mut r1_ptr = vec![0usize];
        let mut r1_rows: Vec<u32> = Vec::new();
        let mut r1_vals: Vec<f64> = Vec::new();
        let mut stamp = vec![usize::MAX; m];
        let mut pos = vec![0usize; m];
        let mut touched: Vec<usize> = Vec::new();
        let mut acc: Vec<f64> = Vec::new();
        for l in 0..nl1 {
            touched.clear();
            acc.clear();
            for &i in &order[count[l]..count[l + 1]] {
                let z1 = &b1.z[i * q1..(i + 1) * q1];
                for a in 0..q1 {
                    for b in 0..q1 {
                        a11[l * q1 * q1 + a * q1 + b] += z1[a] * z1[b];
                    }
                }
                row_rest(i, &mut nz);
                for &(r, v) in &nz {
                    if stamp[r] != l {
                        stamp[r] = l;
                        pos[r] = touched.len();
                        touched.push(r);
                        acc.extend(std::iter::repeat_n(0.0, q1));
                    }
                    let o = pos[r] * q1;
                    for j in 0..q1 {
                        acc[o + j] += v * z1[j];
                    }
                }
            }
            let mut idx: Vec<usize> = (0..touched.len()).collect();
            idx.sort_by_key(|&k| touched[k]);
            for &k in &idx {
                r1_rows.push(touched[k] as u32);
                r1_vals.extend_from_slice(&acc[k * q1..(k + 1) * q1]);
            }
            r1_ptr.push(r1_rows.len());
        }
        let down = (q1 == 1 && all_scalar_rest)
            .then(|| ScalarDowndate::new(m, &a11, &r1_ptr, &r1_rows, &r1_vals));
        Model {
            n,
            p,
            blocks,
            slots,
            lower,
            a11,
            r1_ptr,
            r1_rows,
            r1_vals,
            arr,
            m,
            m_re,
            rest_off,
            rest_blk,
            all_scalar_rest,
            down,
        }
    }

    pub fn ntheta(&self) -> usize {
        self.slots.len()
    }

    /// Starting values of θ. lme4 starts every model at θ = 1 on the
    /// diagonals and 0 elsewhere, and so do we, except when every random
    /// effect is a scalar random intercept: then each θ_g starts at
    /// √(σ̂²_g / σ̂²), σ̂²_g the one-way ANOVA (method-of-moments) estimate of
    /// the factor's variance from the OLS residuals (Searle, Casella &
    /// McCulloch 1992, *Variance Components*, §3.5, eq. 3.45 with the
    /// unbalanced n₀ of eq. 3.54) and σ̂² the residual variance left over,
    /// all from the cross-products already formed. Only the start changes:
    /// the optimum is the same, reached in fewer evaluations.
    pub fn start_theta(&self) -> Vec<f64> {
        let default: Vec<f64> = self
            .lower
            .iter()
            .map(|&l| if l == 0.0 { 1.0 } else { 0.0 })
            .collect();
        let intercepts = self
            .blocks
            .iter()
            .all(|b| b.q == 1 && b.z.iter().all(|&v| v == 1.0));
        if !intercepts || self.p == 0 {
            return default;
        }
        let (m, m_re, p, n) = (self.m, self.m_re, self.p, self.n as f64);
        let xty: Vec<f64> = (0..p).map(|j| self.arr[(m_re + j) * m + m - 1]).collect();
        let mut xtx: Vec<f64> = (0..p * p)
            .map(|k| self.arr[(m_re + k / p) * m + m_re + k % p])
            .collect();
        if dense::cholesky_lower(&mut xtx, p).is_err() {
            return default;
        }
        let mut beta = xty.clone();
        dense::solve_lower(&xtx, p, &mut beta);
        dense::solve_lower_t(&xtx, p, &mut beta);
        let yty = self.arr[(m - 1) * m + m - 1];
        let rss = yty - beta.iter().zip(&xty).map(|(b, c)| b * c).sum::<f64>();
        // Σ residuals (0 when X has an intercept column)
        let esum = (0..self.blocks[0].nlev)
            .map(|l| self.level_residual_sum_first(l, &beta).1)
            .sum::<f64>();
        let mut sig_b = Vec::with_capacity(self.blocks.len());
        for (b, blk) in self.blocks.iter().enumerate() {
            // (n_g, Σ_g e) per level
            let groups: Vec<(f64, f64)> = (0..blk.nlev)
                .map(|g| {
                    if b == 0 {
                        self.level_residual_sum_first(g, &beta)
                    } else {
                        let r = self.rest_off[b] + g;
                        let ng = self.arr[r * m + r];
                        let zx: f64 = (0..p).map(|j| self.arr[r * m + m_re + j] * beta[j]).sum();
                        (ng, self.arr[r * m + m - 1] - zx)
                    }
                })
                .filter(|&(ng, _)| ng > 0.0)
                .collect();
            let k = groups.len() as f64;
            if k < 2.0 || n <= k {
                sig_b.push(0.0);
                continue;
            }
            let ssb = groups.iter().map(|&(ng, e)| e * e / ng).sum::<f64>() - esum * esum / n;
            let ssw = rss - ssb - esum * esum / n;
            let msb = ssb / (k - 1.0);
            let msw = ssw / (n - k);
            let n0 = (n - groups.iter().map(|g| g.0 * g.0).sum::<f64>() / n) / (k - 1.0);
            sig_b.push(((msb - msw) / n0).max(0.0));
        }
        let total = rss / (n - p as f64).max(1.0);
        let sigma2 = (total - sig_b.iter().sum::<f64>()).max(0.05 * total);
        if !(sigma2.is_finite() && sigma2 > 0.0) {
            return default;
        }
        // θ slots of scalar blocks are one per block
        self.slots
            .iter()
            .map(|s| (sig_b[s.block] / sigma2).sqrt().clamp(0.1, 10.0))
            .collect()
    }

    /// (n_l, Σ residuals) of level l of the first block from A_11 and A_r1.
    fn level_residual_sum_first(&self, l: usize, beta: &[f64]) -> (f64, f64) {
        let (m, m_re) = (self.m, self.m_re);
        let mut e = 0.0;
        for k in self.r1_ptr[l]..self.r1_ptr[l + 1] {
            let r = self.r1_rows[k] as usize;
            if r == m - 1 {
                e += self.r1_vals[k];
            } else if r >= m_re {
                e -= self.r1_vals[k] * beta[r - m_re];
            }
        }
        (self.a11[l], e)
    }

    /// Evaluates the profiled objective at θ (`reml` selects eq. 41 over eq.
    /// 34). With `keep`, the W panels are kept in the workspace for the
    /// solutions of [`Model::solve`]. Returns `None` when Ω(θ) is not
    /// positive definite (only possible with a rank-deficient X).
    pub fn eval(&self, theta: &[f64], reml: bool, ws: &mut Workspace, keep: bool) -> Option<Eval> {
        let (m, m_re, p, n) = (self.m, self.m_re, self.p, self.n);
        let t = t_matrices(&self.blocks, &self.slots, theta);
        let b1 = &self.blocks[0];
        let (nl1, q1) = (b1.nlev, b1.q);
        let t1 = &t[0];
        let qq = q1 * q1;

        // 1. First block: L_i L_iᵀ = T₁ᵀ A_ii T₁ + I.
        ws.l1.resize(nl1 * qq, 0.0);
        let mut logdet_l = 0.0;
        let mut tmp = vec![0.0; qq];
        for l in 0..nl1 {
            let a = &self.a11[l * qq..(l + 1) * qq];
            let d = &mut ws.l1[l * qq..(l + 1) * qq];
            if q1 == 1 {
                let v = t1[0] * t1[0] * a[0] + 1.0;
                d[0] = v.sqrt();
                logdet_l += v.ln();
                continue;
            }
            // tmp = A T
            for i in 0..q1 {
                for j in 0..q1 {
                    let mut s = 0.0;
                    for k in j..q1 {
                        s += a[i * q1 + k] * t1[k * q1 + j];
                    }
                    tmp[i * q1 + j] = s;
                }
            }
            // d = Tᵀ tmp + I
            for i in 0..q1 {
                for j in 0..q1 {
                    let mut s = 0.0;
                    for k in i..q1 {
                        s += t1[k * q1 + i] * tmp[k * q1 + j];
                    }
                    d[i * q1 + j] = s + if i == j { 1.0 } else { 0.0 };
                }
            }
            if !small_chol(d, q1) {
                return None;
            }
            for i in 0..q1 {
                logdet_l += 2.0 * d[i * q1 + i].ln();
            }
        }

        // 2. S = Λ_rᵀ A_rr Λ_r + I_re (lower triangle).
        ws.s.resize(m * m, 0.0);
        let s = &mut ws.s;
        if self.all_scalar_rest {
            let mut lam = vec![1.0; m];
            for (k, lk) in lam.iter_mut().enumerate().take(m_re) {
                *lk = t[self.rest_blk[k] as usize][0];
            }
            for a in 0..m {
                let la = lam[a];
                let src = &self.arr[a * m..a * m + a + 1];
                let dst = &mut s[a * m..a * m + a + 1];
                for ((d, &v), &lb) in dst.iter_mut().zip(src).zip(&lam[..a + 1]) {
                    *d = la * v * lb;
                }
            }
        } else {
            s.copy_from_slice(&self.arr);
            // right-multiply each group's columns by T_b, then left by T_bᵀ
            let mut buf = vec![0.0; 64];
            for ((blk, tb), &off) in self.blocks.iter().zip(&t).zip(&self.rest_off).skip(1) {
                let q = blk.q;
                if buf.len() < q {
                    buf.resize(q, 0.0);
                }
                for g in 0..blk.nlev {
                    let c0 = off + g * q;
                    for a in 0..m {
                        let row = &mut s[a * m + c0..a * m + c0 + q];
                        for j in 0..q {
                            let mut v = 0.0;
                            for k in j..q {
                                v += row[k] * tb[k * q + j];
                            }
                            buf[j] = v;
                        }
                        row.copy_from_slice(&buf[..q]);
                    }
                    for col in 0..m {
                        for j in 0..q {
                            let mut v = 0.0;
                            for k in j..q {
                                v += tb[k * q + j] * s[(c0 + k) * m + col];
                            }
                            buf[j] = v;
                        }
                        for j in 0..q {
                            s[(c0 + j) * m + col] = buf[j];
                        }
                    }
                }
            }
        }
        for k in 0..m_re {
            s[k * m + k] += 1.0;
        }

        // 3. S −= W Wᵀ, W_i = Λ_rᵀ A_ri T₁ L_i⁻ᵀ: regrouped by entry when
        // every block is scalar (see [`ScalarDowndate`]), else level by level
        // (also when the W panels are to be kept for the solutions).
        if keep {
            ws.w_keep.resize(self.r1_vals.len(), 0.0);
        }
        if let (Some(dd), false) = (&self.down, keep) {
            let th2 = t1[0] * t1[0];
            let c: Vec<f64> = dd
                .class_a11
                .iter()
                .map(|&a| th2 / (th2 * a + 1.0))
                .collect();
            let mut lam = vec![1.0; m];
            for (k, lk) in lam.iter_mut().enumerate().take(m_re) {
                *lk = t[self.rest_blk[k] as usize][0];
            }
            for a in 0..m {
                let (lo, hi) = (dd.row_ptr[a], dd.row_ptr[a + 1]);
                let la = lam[a];
                let row = &mut s[a * m..a * m + a + 1];
                for ((&b, &k), &v) in dd.cols[lo..hi]
                    .iter()
                    .zip(&dd.class[lo..hi])
                    .zip(&dd.vals[lo..hi])
                {
                    row[b as usize] -= la * lam[b as usize] * c[k as usize] * v;
                }
            }
        }
        let per_level = if self.down.is_some() && !keep { 0 } else { nl1 };
        for l in 0..per_level {
            let (lo, hi) = (self.r1_ptr[l], self.r1_ptr[l + 1]);
            let rows = &self.r1_rows[lo..hi];
            let vals = &self.r1_vals[lo * q1..hi * q1];
            let nr = hi - lo;
            ws.w.clear();
            ws.w.extend_from_slice(vals);
            let w = &mut ws.w;
            // left: Λ_rᵀ on random-effect rows (groups are contiguous)
            let mut k = 0;
            while k < nr {
                let r = rows[k] as usize;
                if r >= m_re {
                    break;
                }
                let b = self.rest_blk[r] as usize;
                let q = self.blocks[b].q;
                let tb = &t[b];
                if q == 1 {
                    for j in 0..q1 {
                        w[k * q1 + j] *= tb[0];
                    }
                    k += 1;
                } else {
                    for j in 0..q1 {
                        for a in 0..q {
                            let mut v = 0.0;
                            for c in a..q {
                                v += tb[c * q + a] * vals[(k + c) * q1 + j];
                            }
                            w[(k + a) * q1 + j] = v;
                        }
                    }
                    k += q;
                }
            }
            // right: T₁ then L_i⁻ᵀ (row-wise forward solve with L_i)
            let li = &ws.l1[l * qq..(l + 1) * qq];
            if q1 == 1 {
                let f = t1[0] / li[0];
                for v in w.iter_mut() {
                    *v *= f;
                }
            } else {
                let mut rowbuf = vec![0.0; q1];
                for k in 0..nr {
                    let row = &mut w[k * q1..(k + 1) * q1];
                    for j in 0..q1 {
                        let mut v = 0.0;
                        for c in j..q1 {
                            v += row[c] * t1[c * q1 + j];
                        }
                        rowbuf[j] = v;
                    }
                    for j in 0..q1 {
                        let mut v = rowbuf[j];
                        for c in 0..j {
                            v -= li[j * q1 + c] * row[c];
                        }
                        row[j] = v / li[j * q1 + j];
                    }
                }
            }
            // S[R,R] −= W Wᵀ (rows sorted ascending → lower triangle)
            if q1 == 1 {
                for a in 0..nr {
                    let ra = rows[a] as usize;
                    let wa = w[a];
                    let srow = &mut s[ra * m..ra * m + ra + 1];
                    for bb in 0..=a {
                        srow[rows[bb] as usize] -= wa * w[bb];
                    }
                }
            } else {
                for a in 0..nr {
                    let ra = rows[a] as usize;
                    for bb in 0..=a {
                        let rb = rows[bb] as usize;
                        let mut v = 0.0;
                        for j in 0..q1 {
                            v += w[a * q1 + j] * w[bb * q1 + j];
                        }
                        s[ra * m + rb] -= v;
                    }
                }
            }
            if keep {
                ws.w_keep[lo * q1..hi * q1].copy_from_slice(w);
            }
        }

        // 4. Dense factor of S.
        let res = dense::cholesky_lower(s, m);
        let pwrss = match res {
            Ok(()) => {
                let r = s[(m - 1) * m + m - 1];
                r * r
            }
            Err(k) if k == m - 1 => {
                s[(m - 1) * m + m - 1] = 0.0;
                0.0
            }
            Err(_) => return None,
        };
        for k in 0..m_re {
            logdet_l += 2.0 * s[k * m + k].ln();
        }
        let mut logdet_rx = 0.0;
        for k in m_re..m_re + p {
            logdet_rx += 2.0 * s[k * m + k].ln();
        }
        let nf = n as f64;
        let objective = if reml {
            let df = (n - p) as f64;
            logdet_l + logdet_rx + df * (1.0 + (2.0 * PI * pwrss / df).ln())
        } else {
            logdet_l + nf * (1.0 + (2.0 * PI * pwrss / nf).ln())
        };
        Some(Eval {
            objective,
            logdet_l,
            logdet_rx,
            pwrss,
        })
    }

    /// Solutions at the θ of the last `eval(.., keep = true)`: β̂ (eq. 19's
    /// R_X β̂ = c_β) and the spherical modes ũ (L_θᵀ ũ = c_u − R_ZX β̂), by
    /// back substitution through the blocked factor. Returns (β̂, u) with u
    /// per block in level-major order.
    pub fn solve(&self, ws: &Workspace) -> (Vec<f64>, Vec<Vec<f64>>) {
        let (m, m_re, p) = (self.m, self.m_re, self.p);
        let s = &ws.s;
        // Dense part: L_rᵀ x = l_y (over the first m−1 indices).
        let mr = m - 1;
        let mut x: Vec<f64> = (0..mr).map(|k| s[(m - 1) * m + k]).collect();
        for i in (0..mr).rev() {
            let v = x[i] / s[i * m + i];
            x[i] = v;
            for k in 0..i {
                x[k] -= s[i * m + k] * v;
            }
        }
        let beta = x[m_re..m_re + p].to_vec();
        let mut u: Vec<Vec<f64>> = self
            .blocks
            .iter()
            .map(|b| vec![0.0; b.nlev * b.q])
            .collect();
        for b in 1..self.blocks.len() {
            let len = self.blocks[b].nlev * self.blocks[b].q;
            u[b].copy_from_slice(&x[self.rest_off[b]..self.rest_off[b] + len]);
        }
        // First block: L_iᵀ u_i = w_{y,i} − Σ_r W_i[r]ᵀ x_r.
        let q1 = self.blocks[0].q;
        let qq = q1 * q1;
        for l in 0..self.blocks[0].nlev {
            let (lo, hi) = (self.r1_ptr[l], self.r1_ptr[l + 1]);
            let mut rhs = vec![0.0; q1];
            for k in lo..hi {
                let r = self.r1_rows[k] as usize;
                let wr = &ws.w_keep[k * q1..(k + 1) * q1];
                if r == m - 1 {
                    for j in 0..q1 {
                        rhs[j] += wr[j];
                    }
                } else {
                    for j in 0..q1 {
                        rhs[j] -= wr[j] * x[r];
                    }
                }
            }
            let li = &ws.l1[l * qq..(l + 1) * qq];
            dense::solve_lower_t(li, q1, &mut rhs);
            u[0][l * q1..(l + 1) * q1].copy_from_slice(&rhs);
        }
        (beta, u)
    }

    /// Unscaled covariance of β̂: (R_Xᵀ R_X)⁻¹, p×p (multiply by σ̂²; lme4's
    /// `vcov`, Bates et al. 2015 §3.6 / eq. 54's analogue).
    pub fn beta_cov_unscaled(&self, ws: &Workspace) -> Vec<f64> {
        let (m, m_re, p) = (self.m, self.m_re, self.p);
        let mut lx = vec![0.0; p * p];
        for i in 0..p {
            for j in 0..=i {
                lx[i * p + j] = ws.s[(m_re + i) * m + m_re + j];
            }
        }
        let inv = dense::invert_lower(&lx, p);
        dense::inverse_from_lower_inverse(&inv, p)
    }

    /// Unscaled conditional covariance of the spherical random effects per
    /// level: the q×q diagonal blocks of (L_Z L_Zᵀ)⁻¹ (lme4's `condVar`,
    /// which conditions on β̂), per block, level-major.
    pub fn cond_cov_unscaled(&self, ws: &Workspace) -> Vec<Vec<f64>> {
        let (m, m_re) = (self.m, self.m_re);
        // M = (L_re L_reᵀ)⁻¹ for the dense random-effect part.
        let mut lre = vec![0.0; m_re * m_re];
        for i in 0..m_re {
            for j in 0..=i {
                lre[i * m_re + j] = ws.s[i * m + j];
            }
        }
        let minv = if m_re > 0 {
            let inv = dense::invert_lower(&lre, m_re);
            dense::inverse_from_lower_inverse(&inv, m_re)
        } else {
            Vec::new()
        };
        let mut out: Vec<Vec<f64>> = Vec::new();
        // First block: X1 = L_i⁻¹; block = X1ᵀX1 + (W X1)ᵀ M (W X1).
        let q1 = self.blocks[0].q;
        let qq = q1 * q1;
        let mut first = vec![0.0; self.blocks[0].nlev * qq];
        for l in 0..self.blocks[0].nlev {
            let li = &ws.l1[l * qq..(l + 1) * qq];
            let x1 = dense::invert_lower(li, q1);
            let (lo, hi) = (self.r1_ptr[l], self.r1_ptr[l + 1]);
            let re: Vec<usize> = (lo..hi)
                .filter(|&k| (self.r1_rows[k] as usize) < m_re)
                .collect();
            // G = W_re X1 (|re| × q1)
            let mut g = vec![0.0; re.len() * q1];
            for (a, &k) in re.iter().enumerate() {
                let wr = &ws.w_keep[k * q1..(k + 1) * q1];
                for j in 0..q1 {
                    let mut v = 0.0;
                    for c in j..q1 {
                        v += wr[c] * x1[c * q1 + j];
                    }
                    g[a * q1 + j] = v;
                }
            }
            let blk = &mut first[l * qq..(l + 1) * qq];
            for i in 0..q1 {
                for j in 0..q1 {
                    let mut v = 0.0;
                    for k in 0..q1 {
                        v += x1[k * q1 + i] * x1[k * q1 + j];
                    }
                    for (a, &ka) in re.iter().enumerate() {
                        let ra = self.r1_rows[ka] as usize;
                        for (bb, &kb) in re.iter().enumerate() {
                            let rb = self.r1_rows[kb] as usize;
                            v += g[a * q1 + i] * minv[ra * m_re + rb] * g[bb * q1 + j];
                        }
                    }
                    blk[i * q1 + j] = v;
                }
            }
        }
        out.push(first);
        for b in 1..self.blocks.len() {
            let q = self.blocks[b].q;
            let mut v = vec![0.0; self.blocks[b].nlev * q * q];
            for g in 0..self.blocks[b].nlev {
                let c0 = self.rest_off[b] + g * q;
                for i in 0..q {
                    for j in 0..q {
                        v[g * q * q + i * q + j] = minv[(c0 + i) * m_re + c0 + j];
                    }
                }
            }
            out.push(v);
        }
        out
    }
}
