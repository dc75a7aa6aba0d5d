//! Ordinary least squares from cross-products, with rank-deficiency
//! detection the way R's `lm` reports it (aliased coefficients are `NA`).
//!
//! The fit works on the cross-product blocks `X'X`, `X'y` and `y'y` only, so a
//! caller that needs many sub-models of one design (the 2^K models of a
//! variance decomposition) forms the cross-products once and solves each
//! sub-model from a sub-matrix ([`ols_subset`]).
//!
//! Method. The normal equations `X'X β = X'y` (Gauss; e.g. Seber & Lee 2003,
//! *Linear Regression Analysis*, 2nd ed., §3.1, eq. 3.4) are solved with the
//! Cholesky factorisation `X'X = L L'` computed column by column (Golub & Van
//! Loan 2013, *Matrix Computations*, 4th ed., Algorithm 4.2.2, the
//! "gaxpy" Cholesky). Column k's squared diagonal before the square root,
//! `d_k = x_k'x_k − Σ_{i<k} L_{ki}²`, is the squared norm of column k after
//! projecting out the earlier kept columns (the squared `R_kk` of a QR
//! factorisation, Golub & Van Loan §5.3.2: `X'X = R'R`). When
//! `d_k < tol · x_k'x_k` the column is *aliased*: it is dropped and gets no
//! coefficient, exactly as R's `lm` does with its pivoting QR (`dqrdc2`), which
//! keeps the columns in order and moves a column whose remaining norm has
//! fallen below `tol` times its original norm to the end.
//!
//! Tolerance. R compares *norms* with `tol = 1e-7`. Working from
//! cross-products squares the condition number, and the rounding error in
//! `d_k` is of order `ε·x_k'x_k ≈ 1e-16·x_k'x_k`, so a squared-norm ratio of
//! `(1e-7)² = 1e-14` cannot be resolved reliably. We therefore compare the
//! *squared* norms with [`ALIAS_TOL`] `= 1e-7` (a norm ratio of about 3.2e-4):
//! every column R drops is dropped here too, and a column that is collinear
//! with the earlier ones up to `R² > 1 − 1e-7` is dropped as well (R would keep
//! it with a huge standard error).
//!
//! Results (Seber & Lee 2003, §3.3–3.4): `RSS = y'y − β̂'X'y`,
//! `σ̂² = RSS/(n − r)` with `r` the rank, `Var(β̂) = σ̂² (X'X)⁻¹` over the kept
//! columns, so `SE_k = σ̂ √[(X'X)⁻¹]_kk`.
//!
//! Also here: [`demean_within`], the within (fixed-effects) transformation
//! (Wooldridge 2010, *Econometric Analysis of Cross Section and Panel Data*,
//! 2nd ed., §10.5), used to absorb a grouping factor before a fit.

use std::fmt;

/// Relative squared-norm threshold below which a column is aliased (see the
/// module documentation for why this is the square of R's norm tolerance's
/// exponent rather than `1e-14`).
pub const ALIAS_TOL: f64 = 1e-7;

/// A least-squares fit.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OlsFit {
    /// Coefficient per column of X, `None` for an aliased column (R's `NA`).
    pub coefficients: Vec<Option<f64>>,
    /// Standard error per column, `None` for an aliased column; NaN when the
    /// residual degrees of freedom are zero.
    pub se: Vec<Option<f64>>,
    /// Indices of the aliased (dropped) columns, in order.
    pub aliased: Vec<usize>,
    /// Number of kept columns.
    pub rank: usize,
    /// Number of observations.
    pub n: usize,
    /// Residual degrees of freedom `n − rank`.
    pub df_resid: usize,
    /// Residual sum of squares `y'y − β̂'X'y` (never negative).
    pub rss: f64,
    /// Residual variance `RSS/(n − rank)`; NaN when `n = rank`.
    pub sigma2: f64,
}

/// Why a fit could not be computed.
#[derive(Debug, Clone, PartialEq)]
pub enum OlsError {
    /// Slice lengths do not match the stated dimensions.
    Dimensions(String),
    /// A non-finite value in the data or the cross-products.
    NonFinite,
    /// No observations.
    Empty,
}

impl fmt::Display for OlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OlsError::Dimensions(m) => write!(f, "least squares: {m}"),
            OlsError::NonFinite => write!(f, "least squares: a value is not a finite number"),
            OlsError::Empty => write!(f, "least squares: no observations"),
        }
    }
}

impl std::error::Error for OlsError {}

/// Cross-products of a design: `X'X` (p×p row-major), `X'y`, `y'y`, n.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossProducts {
    pub p: usize,
    pub xtx: Vec<f64>,
    pub xty: Vec<f64>,
    pub yty: f64,
    pub n: usize,
}

impl CrossProducts {
    /// Forms the cross-products of `x` (n×p row-major) and `y` in one pass.
    pub fn new(x: &[f64], n: usize, p: usize, y: &[f64]) -> Result<Self, OlsError> {
        if x.len() != n * p {
            return Err(OlsError::Dimensions(format!(
                "X has {} values, expected n·p = {}·{}",
                x.len(),
                n,
                p
            )));
        }
        if y.len() != n {
            return Err(OlsError::Dimensions(format!(
                "y has {} values, expected n = {n}",
                y.len()
            )));
        }
        let mut xtx = vec![0.0; p * p];
        let mut xty = vec![0.0; p];
        let mut yty = 0.0;
        for (row, &yi) in x.chunks_exact(p.max(1)).take(n).zip(y) {
            for a in 0..p {
                let xa = row[a];
                xty[a] += xa * yi;
                for b in 0..=a {
                    xtx[a * p + b] += xa * row[b];
                }
            }
            yty += yi * yi;
        }
        if p == 0 {
            yty = y.iter().map(|v| v * v).sum();
        }
        for a in 0..p {
            for b in 0..a {
                xtx[b * p + a] = xtx[a * p + b];
            }
        }
        Ok(CrossProducts {
            p,
            xtx,
            xty,
            yty,
            n,
        })
    }

    /// The fit on all columns.
    pub fn fit(&self) -> Result<OlsFit, OlsError> {
        let cols: Vec<usize> = (0..self.p).collect();
        ols_subset(self, &cols)
    }
}

/// OLS of `y` on `x` (n×p, row-major; include a column of ones for an
/// intercept).
pub fn ols(x: &[f64], n: usize, p: usize, y: &[f64]) -> Result<OlsFit, OlsError> {
    CrossProducts::new(x, n, p, y)?.fit()
}

/// OLS from given cross-products (`xtx` p×p row-major, symmetric).
pub fn ols_xtx(xtx: &[f64], xty: &[f64], yty: f64, n: usize, p: usize) -> Result<OlsFit, OlsError> {
    if xtx.len() != p * p || xty.len() != p {
        return Err(OlsError::Dimensions(format!(
            "X'X has {} values and X'y {}, expected {} and {p}",
            xtx.len(),
            xty.len(),
            p * p
        )));
    }
    let cp = CrossProducts {
        p,
        xtx: xtx.to_vec(),
        xty: xty.to_vec(),
        yty,
        n,
    };
    cp.fit()
}

/// OLS on the columns `cols` of the design (in that order: aliasing is
/// decided left to right, as in R). The returned vectors follow `cols`.
pub fn ols_subset(cp: &CrossProducts, cols: &[usize]) -> Result<OlsFit, OlsError> {
    let p = cp.p;
    if cp.n == 0 {
        return Err(OlsError::Empty);
    }
    if let Some(&c) = cols.iter().find(|&&c| c >= p) {
        return Err(OlsError::Dimensions(format!(
            "column {c} requested from a design with {p} columns"
        )));
    }
    if !cp.yty.is_finite()
        || cp.xty.iter().any(|v| !v.is_finite())
        || cp.xtx.iter().any(|v| !v.is_finite())
    {
        return Err(OlsError::NonFinite);
    }
    let q = cols.len();
    let a = |i: usize, j: usize| cp.xtx[cols[i] * p + cols[j]];

    // Column-by-column Cholesky with in-order pivot rejection
    // (Golub & Van Loan 2013, Alg. 4.2.2). `l` holds the rows of L for the
    // kept columns only: l[k][m] for kept positions m < k.
    let mut kept: Vec<usize> = Vec::with_capacity(q); // positions in `cols`
    let mut l: Vec<Vec<f64>> = Vec::with_capacity(q);
    let mut aliased = Vec::new();
    for (k, &col) in cols.iter().enumerate() {
        let akk = a(k, k);
        let mut row = Vec::with_capacity(kept.len() + 1);
        for (m, &km) in kept.iter().enumerate() {
            // L_{k,m} = (A_{k,km} − Σ_{i<m} L_{k,i} L_{m,i}) / L_{m,m}
            let mut s = a(k, km);
            for i in 0..m {
                s -= row[i] * l[m][i];
            }
            row.push(s / l[m][m]);
        }
        // Squared norm of column k after projecting out the kept columns.
        let d = akk - row.iter().map(|v| v * v).sum::<f64>();
        // (akk is finite: non-finite cross-products were rejected above.)
        if akk <= 0.0 || d <= ALIAS_TOL * akk {
            aliased.push(col);
            continue;
        }
        row.push(d.sqrt());
        kept.push(k);
        l.push(row);
    }
    let r = kept.len();

    // Forward solve L z = X'y (kept columns); β̂ = L'⁻¹ z; β̂'X'y = z'z.
    let mut z = vec![0.0; r];
    for i in 0..r {
        let mut s = cp.xty[cols[kept[i]]];
        for j in 0..i {
            s -= l[i][j] * z[j];
        }
        z[i] = s / l[i][i];
    }
    let mut beta = vec![0.0; r];
    for i in (0..r).rev() {
        let mut s = z[i];
        for j in i + 1..r {
            s -= l[j][i] * beta[j];
        }
        beta[i] = s / l[i][i];
    }
    // RSS = y'y − z'z (Seber & Lee 2003, eq. 3.10 with X'X = LL'); clamp the
    // rounding error of an exact fit at zero.
    let rss = (cp.yty - z.iter().map(|v| v * v).sum::<f64>()).max(0.0);
    let df_resid = cp.n.saturating_sub(r);
    let sigma2 = if df_resid > 0 {
        rss / df_resid as f64
    } else {
        f64::NAN
    };

    // (X'X)⁻¹ = L'⁻¹ L⁻¹, so [(X'X)⁻¹]_kk = Σ_i (L⁻¹)_{ik}²: invert L by
    // columns (forward substitution on unit vectors).
    let mut diag_inv = vec![0.0; r];
    for k in 0..r {
        let mut w = vec![0.0; r];
        w[k] = 1.0 / l[k][k];
        for i in k + 1..r {
            let mut s = 0.0;
            for j in k..i {
                s -= l[i][j] * w[j];
            }
            w[i] = s / l[i][i];
        }
        diag_inv[k] = w.iter().map(|v| v * v).sum();
    }

    let mut coefficients = vec![None; q];
    let mut se = vec![None; q];
    for (i, &k) in kept.iter().enumerate() {
        coefficients[k] = Some(beta[i]);
        se[k] = Some((sigma2 * diag_inv[i]).sqrt());
    }
    Ok(OlsFit {
        coefficients,
        se,
        aliased,
        rank: r,
        n: cp.n,
        df_resid,
        rss,
        sigma2,
    })
}

/// The within transformation: subtracts from each value the mean of its
/// group (`groups[i]` in `0..n_groups`). Missing values (NaN) propagate to
/// their group. Wooldridge 2010, §10.5, eq. 10.45: `ẍ_it = x_it − x̄_i`.
pub fn demean_within(x: &[f64], groups: &[usize], n_groups: usize) -> Vec<f64> {
    assert_eq!(x.len(), groups.len(), "one group per value");
    let mut sum = vec![0.0; n_groups];
    let mut count = vec![0usize; n_groups];
    for (&v, &g) in x.iter().zip(groups) {
        sum[g] += v;
        count[g] += 1;
    }
    let mean: Vec<f64> = sum
        .iter()
        .zip(&count)
        .map(|(s, &c)| if c > 0 { s / c as f64 } else { 0.0 })
        .collect();
    x.iter().zip(groups).map(|(&v, &g)| v - mean[g]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    /// y = a + b x on (1,1), (2,2), (3,2), by hand: x̄ = 2, ȳ = 5/3, Sxx = 2,
    /// Sxy = 1 → b = 1/2, a = 2/3; residuals −1/6, 1/3, −1/6 → RSS = 1/6,
    /// σ² = RSS/(3 − 2) = 1/6; SE(b) = √(σ²/Sxx) = √(1/12);
    /// SE(a) = √(σ²(1/n + x̄²/Sxx)) = √(7/18).
    #[test]
    fn three_points_by_hand() {
        let x = [1.0, 1.0, 1.0, 2.0, 1.0, 3.0];
        let y = [1.0, 2.0, 2.0];
        let f = ols(&x, 3, 2, &y).unwrap();
        assert_eq!(f.rank, 2);
        assert!(f.aliased.is_empty());
        assert!(close(f.coefficients[0].unwrap(), 2.0 / 3.0, 1e-14));
        assert!(close(f.coefficients[1].unwrap(), 0.5, 1e-14));
        assert!(close(f.rss, 1.0 / 6.0, 1e-13));
        assert!(close(f.sigma2, 1.0 / 6.0, 1e-13));
        assert!(close(f.se[1].unwrap(), (1.0f64 / 12.0).sqrt(), 1e-13));
        assert!(close(f.se[0].unwrap(), (7.0f64 / 18.0).sqrt(), 1e-13));
        assert_eq!(f.df_resid, 1);
    }

    /// An exactly fitting quadratic y = 1 + 2x − 0.5x² at x = 0..5: the
    /// coefficients come back exactly (to rounding) and the RSS is 0, as
    /// `lm(y ~ x + I(x^2))` gives.
    #[test]
    fn exact_polynomial() {
        let xs: Vec<f64> = (0..6).map(f64::from).collect();
        let mut x = Vec::new();
        let mut y = Vec::new();
        for &v in &xs {
            x.extend_from_slice(&[1.0, v, v * v]);
            y.push(1.0 + 2.0 * v - 0.5 * v * v);
        }
        let f = ols(&x, 6, 3, &y).unwrap();
        assert_eq!(f.rank, 3);
        assert!(close(f.coefficients[0].unwrap(), 1.0, 1e-10));
        assert!(close(f.coefficients[1].unwrap(), 2.0, 1e-10));
        assert!(close(f.coefficients[2].unwrap(), -0.5, 1e-10));
        assert!(f.rss < 1e-18 * 100.0, "rss {}", f.rss);
    }

    /// A column equal to the sum of two earlier ones is aliased (R: `NA`),
    /// and the remaining fit equals the fit without it.
    #[test]
    fn aliased_column_like_r() {
        let raw = [
            (1.0, 0.0, 3.1),
            (2.0, 1.0, 4.9),
            (3.0, 0.0, 7.2),
            (4.0, 1.0, 8.8),
            (5.0, 0.0, 11.1),
        ];
        let mut x = Vec::new();
        let mut x2 = Vec::new();
        let mut y = Vec::new();
        for &(a, b, v) in &raw {
            x.extend_from_slice(&[1.0, a, b, a + b]);
            x2.extend_from_slice(&[1.0, a, b]);
            y.push(v);
        }
        let f = ols(&x, 5, 4, &y).unwrap();
        let g = ols(&x2, 5, 3, &y).unwrap();
        assert_eq!(f.rank, 3);
        assert_eq!(f.aliased, vec![3]);
        assert_eq!(f.coefficients[3], None);
        assert_eq!(f.se[3], None);
        for k in 0..3 {
            assert!(close(
                f.coefficients[k].unwrap(),
                g.coefficients[k].unwrap(),
                1e-12
            ));
            assert!(close(f.se[k].unwrap(), g.se[k].unwrap(), 1e-12));
        }
        assert!(close(f.sigma2, g.sigma2, 1e-12));
        assert_eq!(f.df_resid, 2);
        // A zero column (e.g. an intercept after demeaning) is aliased too.
        let z = ols(&[0.0, 1.0, 0.0, 2.0, 0.0, 3.0], 3, 2, &[1.0, 2.0, 2.0]).unwrap();
        assert_eq!(z.aliased, vec![0]);
        assert!(close(z.coefficients[1].unwrap(), 11.0 / 14.0, 1e-14));
    }

    /// R's `cars` data (R datasets, Ezekiel 1930): `lm(dist ~ speed, cars)`
    /// prints (Intercept) −17.579095 (SE 6.758440), speed 3.932409
    /// (SE 0.415513), residual standard error 15.38 on 48 df. The exact
    /// values follow from Σspeed = 770, Σdist = 2149, Sxx = 1370,
    /// Sxy = 5387.4: slope = 5387.4/1370.
    #[test]
    fn cars_matches_r_lm() {
        let speed = [
            4, 4, 7, 7, 8, 9, 10, 10, 10, 11, 11, 12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14,
            15, 15, 15, 16, 16, 17, 17, 17, 18, 18, 18, 18, 19, 19, 19, 20, 20, 20, 20, 20, 22, 23,
            24, 24, 24, 24, 25,
        ];
        let dist = [
            2, 10, 4, 22, 16, 10, 18, 26, 34, 17, 28, 14, 20, 24, 28, 26, 34, 34, 46, 26, 36, 60,
            80, 20, 26, 54, 32, 40, 32, 40, 50, 42, 56, 76, 84, 36, 46, 68, 32, 48, 52, 56, 64, 66,
            54, 70, 92, 93, 120, 85,
        ];
        let mut x = Vec::new();
        for &s in &speed {
            x.extend_from_slice(&[1.0, f64::from(s)]);
        }
        let y: Vec<f64> = dist.iter().map(|&d| f64::from(d)).collect();
        let f = ols(&x, 50, 2, &y).unwrap();
        assert!(close(f.coefficients[1].unwrap(), 5387.4 / 1370.0, 1e-12));
        assert!(close(f.coefficients[0].unwrap(), -17.579095, 1e-7));
        assert!(close(f.coefficients[1].unwrap(), 3.932409, 1e-7));
        assert!(close(f.se[0].unwrap(), 6.758440, 1e-6));
        assert!(close(f.se[1].unwrap(), 0.415513, 1e-6));
        assert!((f.sigma2.sqrt() - 15.38).abs() < 0.005);
        assert_eq!(f.df_resid, 48);
    }

    /// Subsets of one set of cross-products equal separate fits, and the
    /// within transformation reproduces the dummy-variable (LSDV) slope.
    #[test]
    fn subsets_and_within() {
        let g = [0usize, 0, 0, 1, 1, 1, 2, 2];
        let xv = [1.0, 2.0, 4.0, 0.5, 1.5, 3.0, 2.0, 5.0];
        let y = [2.0, 3.5, 6.1, 4.0, 5.2, 7.1, 1.0, 4.4];
        // LSDV: dummies for the three groups + x.
        let mut x = Vec::new();
        for i in 0..8 {
            let mut row = [0.0; 4];
            row[g[i]] = 1.0;
            row[3] = xv[i];
            x.extend_from_slice(&row);
        }
        let cp = CrossProducts::new(&x, 8, 4, &y).unwrap();
        let full = cp.fit().unwrap();
        let only_x = ols_subset(&cp, &[3]).unwrap();
        let direct = ols(&xv, 8, 1, &y).unwrap();
        assert!(close(
            only_x.coefficients[0].unwrap(),
            direct.coefficients[0].unwrap(),
            1e-13
        ));
        let xd = demean_within(&xv, &g, 3);
        let yd = demean_within(&y, &g, 3);
        let w = ols(&xd, 8, 1, &yd).unwrap();
        assert!(close(
            w.coefficients[0].unwrap(),
            full.coefficients[3].unwrap(),
            1e-12
        ));
        assert!(close(w.rss, full.rss, 1e-10));
        // Within residual variance uses n − groups − 1 degrees of freedom.
        assert!(close(w.rss / (8.0 - 3.0 - 1.0), full.sigma2, 1e-10));
    }

    #[test]
    fn errors() {
        assert!(matches!(
            ols(&[1.0], 2, 1, &[1.0, 2.0]),
            Err(OlsError::Dimensions(_))
        ));
        assert!(matches!(
            ols(&[1.0, f64::NAN], 2, 1, &[1.0, 2.0]),
            Err(OlsError::NonFinite)
        ));
        assert!(matches!(ols(&[], 0, 1, &[]), Err(OlsError::Empty)));
    }
}
