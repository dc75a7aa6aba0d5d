//! Bootstrap units: the analysis sample's sufficient statistics grouped by
//! therapist (or by client when there is no therapist factor), so that a
//! cluster-bootstrap replicate is assembled by adding up the statistics of
//! the drawn units instead of copying rows.
//!
//! Resampling scheme (science.md §2; Davison & Hinkley 1997, *Bootstrap
//! Methods and their Application*, §3.8, "resampling clusters"; Field &
//! Welsh 2007, JRSS B 69:369–390, the "cluster bootstrap"): within each site
//! the therapists are drawn with replacement, as many as the site has, and
//! every drawn therapist brings all their clients. A therapist drawn twice
//! enters the replicate as two therapists. Sites are kept (stratified
//! resampling), so the intervals are conditional on the sites observed. A
//! therapist who works at several sites is resampled within the site where
//! they saw most clients and keeps all their clients at all their sites.

use super::ri::{Groups, Sample};

/// Grouped sufficient statistics of W = [1, X…, y] (centred, see
/// [`super::ri`]).
#[derive(Debug, Clone)]
pub struct Units {
    pub m: usize,
    /// Centring means of W's columns (0 for the intercept).
    pub means: Vec<f64>,
    pub has_therapist: bool,
    pub has_site: bool,
    pub n_sites: usize,
    /// Per unit: size, column sums (m), cross-products (m×m; empty when
    /// units are single rows, whose sums are the rows themselves).
    pub n: Vec<f64>,
    pub sums: Vec<f64>,
    pub cross: Vec<f64>,
    /// Cells of each unit: `cell_start[u]..cell_start[u+1]` index
    /// `cell_site`, `cell_n`.
    pub cell_start: Vec<usize>,
    pub cell_site: Vec<u32>,
    pub cell_n: Vec<f64>,
    /// Per-cell sums (cells × m).
    pub cell_sums: Vec<f64>,
    /// Units per resampling stratum (site), in unit order.
    pub strata: Vec<Vec<u32>>,
    /// Every unit has one cell (therapists nested in sites).
    pub nested: bool,
}

impl Units {
    /// Groups the rows of `w` (n×m row-major, column 0 the intercept, last
    /// column y) by therapist (`therapist`, codes 0..J) and site (`site`,
    /// codes 0..K).
    ///
    /// The rows are first put in a canonical order (therapist, site, then the
    /// row's values), and every sum runs in that order: the statistics, and
    /// so every fit and every bootstrap draw, are bitwise the same whatever
    /// the order of the rows in the file.
    pub fn new(w: &[f64], m: usize, therapist: Option<&[u32]>, site: Option<&[u32]>) -> Units {
        let n = w.len() / m;
        let site_of = |i: usize| site.map_or(0, |s| s[i]);
        let ther_of = |i: usize| therapist.map_or(0, |t| t[i]);
        // By (therapist, site) on a packed integer key first, then each run
        // of one cell by the row's values: the same order as one comparison
        // sort on (therapist, site, values), since rows that tie on all three
        // are the same numbers whichever comes first.
        let mut keyed: Vec<(u64, usize)> = (0..n)
            .map(|i| ((u64::from(ther_of(i)) << 32) | u64::from(site_of(i)), i))
            .collect();
        keyed.sort_unstable();
        let mut canonical: Vec<usize> = keyed.iter().map(|&(_, i)| i).collect();
        let by_values = |&i: &usize, &j: &usize| {
            let (a, b) = (&w[i * m..(i + 1) * m], &w[j * m..(j + 1) * m]);
            a.iter()
                .zip(b)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        };
        let mut start = 0;
        for end in 1..=n {
            if end == n || keyed[end].0 != keyed[start].0 {
                canonical[start..end].sort_unstable_by(by_values);
                start = end;
            }
        }
        let mut means = vec![0.0; m];
        for &i in &canonical {
            for (a, v) in w[i * m..(i + 1) * m].iter().enumerate().skip(1) {
                means[a] += v;
            }
        }
        for v in means.iter_mut().skip(1) {
            *v /= n as f64;
        }
        // Row r of `centred` is row canonical[r] of `w`.
        let centred: Vec<f64> = canonical
            .iter()
            .flat_map(|&i| {
                w[i * m..(i + 1) * m]
                    .iter()
                    .zip(&means)
                    .map(|(v, mu)| v - mu)
            })
            .collect();
        let site_codes: Vec<u32> = canonical.iter().map(|&i| site_of(i)).collect();
        let therapist_codes: Option<Vec<u32>> =
            therapist.map(|t| canonical.iter().map(|&i| t[i]).collect());
        let n_sites = site.map_or(1, |s| s.iter().max().map_or(0, |&x| x as usize + 1));
        let site_of = |r: usize| site_codes[r];
        match therapist_codes.as_deref() {
            None => {
                // Units are rows (in canonical order); one cell each.
                let mut strata = vec![Vec::new(); n_sites.max(1)];
                for i in 0..n {
                    strata[site_of(i) as usize].push(i as u32);
                }
                Units {
                    m,
                    means,
                    has_therapist: false,
                    has_site: site.is_some(),
                    n_sites,
                    n: vec![1.0; n],
                    sums: centred.clone(),
                    cross: Vec::new(),
                    cell_start: (0..=n).collect(),
                    cell_site: (0..n).map(site_of).collect(),
                    cell_n: vec![1.0; n],
                    cell_sums: centred,
                    strata,
                    nested: true,
                }
            }
            Some(t) => {
                let nu = t.iter().max().map_or(0, |&x| x as usize + 1);
                let mut un = vec![0.0; nu];
                let mut sums = vec![0.0; nu * m];
                let mut cross = vec![0.0; nu * m * m];
                let mut cell_start = vec![0usize; nu + 1];
                let mut cell_site = Vec::new();
                let mut cell_n = Vec::new();
                let mut cell_sums: Vec<f64> = Vec::new();
                let mut last: Option<(u32, u32)> = None;
                // The canonical order is already by (therapist, site).
                for i in 0..n {
                    let (u, k) = (t[i], site_of(i));
                    let row = &centred[i * m..(i + 1) * m];
                    if last != Some((u, k)) {
                        cell_site.push(k);
                        cell_n.push(0.0);
                        cell_sums.extend(std::iter::repeat_n(0.0, m));
                        cell_start[u as usize + 1] = cell_site.len();
                        last = Some((u, k));
                    }
                    *cell_n.last_mut().unwrap() += 1.0;
                    let c0 = cell_sums.len() - m;
                    let uu = u as usize;
                    un[uu] += 1.0;
                    let cr = &mut cross[uu * m * m..(uu + 1) * m * m];
                    for a in 0..m {
                        cell_sums[c0 + a] += row[a];
                        sums[uu * m + a] += row[a];
                        for b in 0..=a {
                            cr[a * m + b] += row[a] * row[b];
                        }
                    }
                }
                // Units without rows (unused codes) keep an empty cell range.
                for u in 0..nu {
                    if cell_start[u + 1] < cell_start[u] {
                        cell_start[u + 1] = cell_start[u];
                    }
                }
                for cr in cross.chunks_exact_mut(m * m) {
                    for a in 0..m {
                        for b in 0..a {
                            cr[b * m + a] = cr[a * m + b];
                        }
                    }
                }
                let (strata, nested) = strata_of(&cell_start, &cell_n, &cell_site, n_sites);
                Units {
                    m,
                    means,
                    has_therapist: true,
                    has_site: site.is_some(),
                    n_sites,
                    n: un,
                    sums,
                    cross,
                    cell_start,
                    cell_site,
                    cell_n,
                    cell_sums,
                    strata,
                    nested,
                }
            }
        }
    }

    /// All units once: the analysis sample itself.
    pub fn all(&self) -> Draw {
        Draw {
            units: self.strata.iter().flatten().copied().collect(),
            sites: None,
        }
    }

    /// The sample made of the drawn units (with repetition; a unit drawn
    /// twice is two therapists, a site drawn twice two sites).
    pub fn sample(&self, draw: &Draw) -> Sample {
        let picks = &draw.units;
        let n_sites = draw.sites.as_ref().map_or(self.n_sites, |s| {
            s.iter().max().map_or(0, |&x| x as usize + 1)
        });
        let m = self.m;
        let mut wtw = vec![0.0; m * m];
        let mut n = 0.0;
        let mut ther = Groups::default();
        let mut site = Groups {
            n: vec![0.0; if self.has_site { n_sites } else { 0 }],
            sums: vec![0.0; if self.has_site { n_sites * m } else { 0 }],
        };
        let mut cells = Vec::new();
        for (g, &u) in picks.iter().enumerate() {
            let u = u as usize;
            n += self.n[u];
            if self.has_therapist {
                for (x, c) in wtw.iter_mut().zip(&self.cross[u * m * m..(u + 1) * m * m]) {
                    *x += c;
                }
                ther.n.push(self.n[u]);
                ther.sums.extend_from_slice(&self.sums[u * m..(u + 1) * m]);
            } else {
                let row = &self.sums[u * m..(u + 1) * m];
                for a in 0..m {
                    for b in 0..m {
                        wtw[a * m + b] += row[a] * row[b];
                    }
                }
            }
            for c in self.cell_start[u]..self.cell_start[u + 1] {
                // Relabelled sites exist only for nested data (one cell).
                let k = draw.sites.as_ref().map_or(self.cell_site[c], |s| s[g]) as usize;
                if self.has_site {
                    site.n[k] += self.cell_n[c];
                    for a in 0..m {
                        site.sums[k * m + a] += self.cell_sums[c * m + a];
                    }
                }
                if self.has_therapist {
                    cells.push((g as u32, k as u32, self.cell_n[c]));
                }
            }
        }
        Sample {
            m,
            n,
            wtw,
            ther,
            site,
            cells,
            nested: self.nested,
        }
    }

    /// One cluster-bootstrap draw under `scheme`, indices ⌊U·n⌋ from
    /// `uniform`. Two-stage and site resampling need therapists nested in
    /// sites; with crossed data they fall back to [`Scheme::Therapists`].
    pub fn draw(&self, scheme: Scheme, mut uniform: impl FnMut() -> f64) -> Draw {
        let mut index = |len: usize| ((uniform() * len as f64) as usize).min(len - 1);
        let mut units = Vec::with_capacity(self.n.len());
        let strata: Vec<&Vec<u32>> = self.strata.iter().filter(|s| !s.is_empty()).collect();
        let scheme = if !self.has_site || !self.nested {
            Scheme::Therapists
        } else {
            scheme
        };
        match scheme {
            Scheme::Therapists => {
                for st in &strata {
                    for _ in 0..st.len() {
                        units.push(st[index(st.len())]);
                    }
                }
                Draw { units, sites: None }
            }
            Scheme::TwoStage | Scheme::Sites => {
                let mut sites = Vec::with_capacity(self.n.len());
                for slot in 0..strata.len() {
                    let st = strata[index(strata.len())];
                    for i in 0..st.len() {
                        let u = if scheme == Scheme::TwoStage {
                            st[index(st.len())]
                        } else {
                            st[i]
                        };
                        units.push(u);
                        sites.push(slot as u32);
                    }
                }
                Draw {
                    units,
                    sites: Some(sites),
                }
            }
        }
    }
}

/// Resampling strata: each therapist in the stratum of their main site
/// (most clients, lowest code on ties); and whether every therapist has one
/// cell (nested in sites).
fn strata_of(
    cell_start: &[usize],
    cell_n: &[f64],
    cell_site: &[u32],
    n_sites: usize,
) -> (Vec<Vec<u32>>, bool) {
    let mut strata: Vec<Vec<u32>> = vec![Vec::new(); n_sites.max(1)];
    let mut nested = true;
    for u in 0..cell_start.len() - 1 {
        let r = cell_start[u]..cell_start[u + 1];
        if r.is_empty() {
            continue;
        }
        if r.len() > 1 {
            nested = false;
        }
        let mut best = r.start;
        for c in r {
            if cell_n[c] > cell_n[best] {
                best = c;
            }
        }
        strata[cell_site[best] as usize].push(u as u32);
    }
    (strata, nested)
}

/// A group's size, raw column means and cross-products about those means
/// (m×m, row-major): all that a summary keeps of a therapist.
pub type Moments = (f64, Vec<f64>, Vec<f64>);

/// Pools groups' moments by the parallel-axis identity
/// Σ(w − μ)(w − μ)' = Σ_j [C_j + n_j (m_j − μ)(m_j − μ)'] (Chan, Golub &
/// LeVeque 1983, Am. Stat. 37:242).
pub fn pool_moments(parts: &[Moments], m: usize) -> Moments {
    let n: f64 = parts.iter().map(|p| p.0).sum();
    let mean: Vec<f64> = (0..m)
        .map(|a| parts.iter().map(|p| p.0 * p.1[a]).sum::<f64>() / n)
        .collect();
    let mut within = vec![0.0; m * m];
    for (nj, mj, cj) in parts {
        for a in 0..m {
            for b in 0..m {
                within[a * m + b] += cj[a * m + b] + nj * (mj[a] - mean[a]) * (mj[b] - mean[b]);
            }
        }
    }
    (n, mean, within)
}

impl Units {
    /// Unit `u`'s moments, the centring undone (cross-products about the
    /// unit's own means do not depend on it).
    pub fn moments(&self, u: usize) -> Moments {
        let m = self.m;
        let n = self.n[u];
        let d: Vec<f64> = (0..m).map(|a| self.sums[u * m + a] / n).collect();
        let mean: Vec<f64> = d.iter().zip(&self.means).map(|(x, mu)| x + mu).collect();
        let cr = &self.cross[u * m * m..(u + 1) * m * m];
        let within = (0..m * m)
            .map(|k| cr[k] - n * d[k / m] * d[k % m])
            .collect();
        (n, mean, within)
    }

    /// Units of therapists nested in sites from their moments (`parts`:
    /// moments and site code, columns of W = [1, X…, y]): one cell each
    /// ([`Units::from_cells`]).
    pub fn from_moments(
        m: usize,
        parts: &[(Moments, u32)],
        n_sites: usize,
        has_site: bool,
    ) -> Units {
        let cells: Vec<(u32, u32, &Moments)> = parts
            .iter()
            .enumerate()
            .map(|(u, (mo, site))| (u as u32, *site, mo))
            .collect();
        Units::from_cells(m, &cells, parts.len(), n_sites, has_site)
    }

    /// Units of therapists from the moments of their (therapist, site)
    /// cells (`cells` sorted by therapist then site; therapists 0..`nu`),
    /// centred at the pooled means as [`Units::new`] centres rows (the
    /// intercept stays 1): a cell's centred sums are n (m − μ) and a unit's
    /// centred cross-products Σ_cells C + n (m − μ)(m − μ)', the identity of
    /// [`pool_moments`]. Strata and the main site as in [`Units::new`].
    pub fn from_cells(
        m: usize,
        cells: &[(u32, u32, &Moments)],
        nu: usize,
        n_sites: usize,
        has_site: bool,
    ) -> Units {
        let total: f64 = cells.iter().map(|c| c.2 .0).sum();
        let mut means = vec![0.0; m];
        for (_, _, (n, mean, _)) in cells {
            for a in 1..m {
                means[a] += n * mean[a];
            }
        }
        for v in means.iter_mut().skip(1) {
            *v /= total;
        }
        let mut un = vec![0.0; nu];
        let mut sums = vec![0.0; nu * m];
        let mut cross = vec![0.0; nu * m * m];
        let mut cell_start = vec![0usize; nu + 1];
        let mut cell_site = Vec::with_capacity(cells.len());
        let mut cell_n = Vec::with_capacity(cells.len());
        let mut cell_sums = Vec::with_capacity(cells.len() * m);
        for (i, (u, site, (n, mean, within))) in cells.iter().enumerate() {
            let u = *u as usize;
            let d: Vec<f64> = (0..m).map(|a| mean[a] - means[a]).collect();
            un[u] += n;
            cell_site.push(*site);
            cell_n.push(*n);
            for a in 0..m {
                sums[u * m + a] += n * d[a];
                cell_sums.push(n * d[a]);
            }
            let cr = &mut cross[u * m * m..(u + 1) * m * m];
            for a in 0..m {
                for b in 0..m {
                    cr[a * m + b] += within[a * m + b] + n * d[a] * d[b];
                }
            }
            cell_start[u + 1] = i + 1;
        }
        for u in 0..nu {
            if cell_start[u + 1] < cell_start[u] {
                cell_start[u + 1] = cell_start[u];
            }
        }
        let (strata, nested) = strata_of(&cell_start, &cell_n, &cell_site, n_sites);
        Units {
            m,
            means,
            has_therapist: true,
            has_site,
            n_sites,
            n: un,
            sums,
            cross,
            cell_start,
            cell_site,
            cell_n,
            cell_sums,
            strata,
            nested,
        }
    }
}

/// Moments of rows whose vector may grow (text levels met on the way),
/// accumulated as sums of deviations from a shift, the cell's first row (the
/// "shifted data" algorithm: Chan, Golub & LeVeque 1983, Am. Stat. 37:242,
/// §3; exact in exact arithmetic, and accurate when the shift is near the
/// mean, as one of the cell's own rows is): s1 = Σ(x − c), S2 = Σ(x − c)(x −
/// c)', mean = c + s1/n, C = S2 − s1 s1'/n. S2 is packed by column (entry
/// (a, b), a ≤ b, at b(b+1)/2 + a), so a new column appends zeros: the
/// earlier rows were 0 in it, and so is its shift.
#[derive(Debug, Clone, Default)]
pub struct Growing {
    pub n: f64,
    /// Columns so far.
    k: usize,
    /// [shift (k), s1 (k), S2 (k(k+1)/2)] in one block, for locality: a
    /// pass over millions of rows visits the cells in random order.
    data: Vec<f64>,
}

impl Growing {
    /// Adds a row (its length at least the current one).
    pub fn push(&mut self, x: &[f64]) {
        let k = x.len();
        if k > self.k {
            self.grow(k);
        }
        if self.n == 0.0 {
            self.data[..k].copy_from_slice(x);
        }
        self.n += 1.0;
        let mut buf = [0.0f64; 32];
        let mut heap: Vec<f64>;
        let d: &mut [f64] = if k <= 32 {
            &mut buf[..k]
        } else {
            heap = vec![0.0; k];
            &mut heap
        };
        let (shift, rest) = self.data.split_at_mut(k);
        let (s1, s2) = rest.split_at_mut(k);
        for ((d, &x), &c) in d.iter_mut().zip(x).zip(shift.iter()) {
            *d = x - c;
        }
        for (s, &v) in s1.iter_mut().zip(d.iter()) {
            *s += v;
        }
        let mut idx = 0;
        for b in 0..k {
            let db = d[b];
            if db != 0.0 {
                for (s, &da) in s2[idx..idx + b + 1].iter_mut().zip(&d[..=b]) {
                    *s += da * db;
                }
            }
            idx += b + 1;
        }
    }

    /// Widens to `k` columns (new columns zero, shift included).
    fn grow(&mut self, k: usize) {
        let old = self.k;
        let mut data = vec![0.0; 2 * k + k * (k + 1) / 2];
        if old > 0 {
            data[..old].copy_from_slice(&self.data[..old]);
            data[k..k + old].copy_from_slice(&self.data[old..2 * old]);
            let p = old * (old + 1) / 2;
            data[2 * k..2 * k + p].copy_from_slice(&self.data[2 * old..2 * old + p]);
        }
        self.data = data;
        self.k = k;
    }

    /// Mean of stream column `a`.
    pub fn mean(&self, a: usize) -> f64 {
        self.data[a] + self.data[self.k + a] / self.n
    }

    /// Cross-product of stream columns a ≤ b about the means.
    fn within(&self, a: usize, b: usize) -> f64 {
        let k = self.k;
        self.data[2 * k + b * (b + 1) / 2 + a] - self.data[k + a] * self.data[k + b] / self.n
    }

    /// Sum of squares of stream column `a` about its mean.
    pub fn ss(&self, a: usize) -> f64 {
        self.within(a, a)
    }

    /// Moments in `m` final columns: final column 0 is the intercept (mean 1)
    /// and `map[i]` the final column of stream column i (None: dropped).
    /// Several stream columns may add into one.
    pub fn moments(&self, map: &[Option<usize>], m: usize) -> Moments {
        let mut mean = vec![0.0; m];
        mean[0] = 1.0;
        let mut within = vec![0.0; m * m];
        let k = self.k;
        for (a, fa) in map.iter().enumerate().take(k) {
            let Some(fa) = *fa else { continue };
            mean[fa] += self.mean(a);
        }
        for (b, fb) in map.iter().enumerate().take(k) {
            let Some(fb) = *fb else { continue };
            for (a, fa) in map.iter().enumerate().take(b + 1) {
                let Some(fa) = *fa else { continue };
                let v = self.within(a, b);
                within[fa * m + fb] += v;
                if a != b {
                    within[fb * m + fa] += v;
                }
            }
        }
        (self.n, mean, within)
    }
}

/// How a bootstrap replicate is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Therapists with replacement within each site; sites fixed.
    Therapists,
    /// Sites with replacement, then therapists with replacement within each
    /// drawn site (Davison & Hinkley 1997, §3.8, two-stage resampling).
    TwoStage,
    /// Sites with replacement, each with all its therapists.
    Sites,
}

/// The units of one replicate and, for site resampling, the site label of
/// each (a site drawn twice is two sites).
#[derive(Debug, Clone)]
pub struct Draw {
    pub units: Vec<u32>,
    pub sites: Option<Vec<u32>>,
}
