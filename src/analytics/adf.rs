//! Augmented Dickey-Fuller unit-root test replicating
//! `statsmodels.tsa.stattools.adfuller` (0.14): default maxlag, autolag
//! over a common sample followed by a refit on the full sample, MacKinnon
//! p-value and critical values.
//!
//! Implementation: each ADF regression is solved from its Gram matrix with a
//! Cholesky factorisation of `[X y]' [X y]`. The lagged-difference block of
//! the Gram matrix is Toeplitz-like, so it is built with sliding sums in
//! O(nobs * maxlag) instead of O(nobs * maxlag^2), and all nested autolag
//! models are read off a single factorisation (the SSR of the model with the
//! first `k` columns is `R_yy^2 + sum_{j>=k} R_jy^2`). Conditioning is kept in
//! check by centring the level and difference columns whenever the model
//! has a constant (which leaves the ADF statistic, SSR and lag t-values
//! unchanged) and by using a centred, scaled time trend.

use super::error::{AnalyticsError, Result};
use super::mackinnon::{mackinnoncrit, mackinnonp, CriticalValues, Trend};
use super::stats::{dot, mean, sum};
use super::validate;

/// Lag-length selection rule.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Autolag {
    /// Minimise the Akaike criterion.
    #[default]
    Aic,
    /// Minimise the Bayesian criterion.
    Bic,
    /// Drop lags from maxlag until the last one is significant at 5%.
    TStat,
    /// Use exactly `maxlag` lags.
    None,
}

/// ADF options; defaults are statsmodels' (`"c"`, `"AIC"`, default maxlag).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdfOptions {
    pub trend: Trend,
    pub autolag: Autolag,
    pub maxlag: Option<usize>,
}

impl Default for AdfOptions {
    fn default() -> Self {
        Self {
            trend: Trend::C,
            autolag: Autolag::Aic,
            maxlag: None,
        }
    }
}

/// ADF test output, fields as `adfuller` returns them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdfResult {
    pub stat: f64,
    pub pvalue: f64,
    pub usedlag: usize,
    pub nobs: usize,
    pub crit: CriticalValues,
    /// Best information criterion (|t| of the chosen lag for `TStat`);
    /// `None` without autolag.
    pub icbest: Option<f64>,
}

/// statsmodels' default: `min(nobs//2 - ntrend - 1, ceil(12 (nobs/100)^0.25))`.
pub fn default_maxlag(nobs: usize, trend: Trend) -> Result<usize> {
    let schwert = (12.0 * (nobs as f64 / 100.0).powf(0.25)).ceil() as i64;
    let cap = (nobs / 2) as i64 - trend.k() as i64 - 1;
    let m = schwert.min(cap);
    if m < 0 {
        return Err(AnalyticsError::TooShort {
            what: "ADF with the selected trend terms",
            needed: 2 * (trend.k() + 1),
            got: nobs,
        });
    }
    Ok(m as usize)
}

/// Runs the ADF test on `x` (see module docs).
pub fn adfuller(x: &[f64], opts: &AdfOptions) -> Result<AdfResult> {
    validate::finite("x", x)?;
    validate::min_len("ADF", x.len(), 3)?;
    validate::not_constant("x", x)?;
    let n = x.len();
    let trend = opts.trend;
    let maxlag = match opts.maxlag {
        None => default_maxlag(n, trend)?,
        Some(m) => {
            let cap = (n / 2) as i64 - trend.k() as i64 - 1;
            if m as i64 > cap {
                return Err(AnalyticsError::InvalidParameter {
                    name: "maxlag",
                    reason: format!(
                        "must be <= nobs/2 - 1 - ntrend = {cap} for {n} points, got {m}"
                    ),
                });
            }
            m
        }
    };
    let d: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    let (usedlag, icbest) = match opts.autolag {
        Autolag::None => (maxlag, None),
        rule => {
            let (lag, ic) = select_lag(x, &d, trend, maxlag, rule)?;
            (lag, Some(ic))
        }
    };
    let design = Design::new(x, &d, trend, usedlag, usedlag, true);
    let g = design.cholesky()?;
    let k = design.ncols();
    let nobs = design.nobs;
    if nobs <= k {
        return Err(AnalyticsError::TooShort {
            what: "ADF regression (no residual degrees of freedom)",
            needed: k + usedlag + 2,
            got: n,
        });
    }
    let ssr = g.ssr(k);
    let s = (ssr / (nobs - k) as f64).sqrt();
    let stat = g.r(k - 1, k) / s;
    if !stat.is_finite() {
        return Err(AnalyticsError::Collinear {
            what: "ADF regression (perfect fit)",
        });
    }
    Ok(AdfResult {
        stat,
        pvalue: mackinnonp(stat, trend, 1)?,
        usedlag,
        nobs,
        crit: mackinnoncrit(1, trend, Some(nobs))?,
        icbest,
    })
}

/// statsmodels `_autolag`: every candidate uses the sample that the largest
/// lag allows, so the criteria are comparable.
fn select_lag(
    x: &[f64],
    d: &[f64],
    trend: Trend,
    maxlag: usize,
    rule: Autolag,
) -> Result<(usize, f64)> {
    let design = Design::new(x, d, trend, maxlag, maxlag, false);
    let g = design.cholesky()?;
    let nobs = design.nobs as f64;
    let base = trend.k() + 1;
    let fit = |lag: usize| {
        let k = base + lag;
        let ssr = g.ssr(k);
        let llf = -nobs / 2.0 * ((2.0 * std::f64::consts::PI).ln() + (ssr / nobs).ln() + 1.0);
        (k, ssr, llf)
    };
    match rule {
        Autolag::Aic | Autolag::Bic => {
            let mut best = (f64::INFINITY, 0usize);
            for lag in 0..=maxlag {
                let (k, _, llf) = fit(lag);
                let penalty = if rule == Autolag::Aic { 2.0 } else { nobs.ln() };
                let ic = -2.0 * llf + penalty * k as f64;
                // Strict `<` keeps the smaller lag on ties, like Python's min.
                if ic < best.0 || lag == 0 {
                    best = (ic, lag);
                }
            }
            Ok((best.1, best.0))
        }
        Autolag::TStat => {
            // norm.ppf(0.95), as statsmodels hard-codes it.
            const STOP: f64 = 1.6448536269514722;
            let mut ic = 0.0;
            for lag in (0..=maxlag).rev() {
                let (k, ssr, _) = fit(lag);
                let s = (ssr / (nobs - k as f64)).sqrt();
                ic = (g.r(k - 1, g.y) / s).abs();
                if ic >= STOP {
                    return Ok((lag, ic));
                }
            }
            Ok((0, ic))
        }
        Autolag::None => Ok((maxlag, f64::NAN)),
    }
}

/// Rows per cache block of the Gram accumulation (a few KiB per column).
const BLOCK: usize = 512;

/// Column layout of one ADF design matrix over rows `tau = s0 .. n-2`
/// (indices into the differences `d`), with `y = d[tau]`.
struct Design<'a> {
    x: &'a [f64],
    d: &'a [f64],
    trend: Trend,
    /// Number of lagged differences.
    lags: usize,
    s0: usize,
    nobs: usize,
    /// Level column after the lags (final fit) or before them (autolag).
    level_last: bool,
}

impl<'a> Design<'a> {
    fn new(
        x: &'a [f64],
        d: &'a [f64],
        trend: Trend,
        lags: usize,
        s0: usize,
        level_last: bool,
    ) -> Self {
        Self {
            x,
            d,
            trend,
            lags,
            s0,
            nobs: d.len() - s0,
            level_last,
        }
    }

    fn ncols(&self) -> usize {
        self.trend.k() + 1 + self.lags
    }

    /// Builds the Gram matrix of `[X y]` and factorises it.
    fn cholesky(&self) -> Result<Chol> {
        let nt = self.trend.k();
        let k = self.ncols();
        let dim = k + 1;
        let nobs = self.nobs;
        let s0 = self.s0;
        let has_const = self.trend != Trend::N;
        // Centring is exact for models with a constant: the constant
        // absorbs the shift, nothing else changes.
        let dshift = if has_const { mean(self.d) } else { 0.0 };
        let xshift = if has_const {
            mean(&self.x[s0..s0 + nobs])
        } else {
            0.0
        };
        let dc: Vec<f64> = self.d.iter().map(|v| v - dshift).collect();
        let lags = self.lags;
        // Column positions.
        let lev = if self.level_last { nt + lags } else { nt };
        let lag_col = |j: usize| -> usize {
            // j = 0 is y.
            if j == 0 {
                k
            } else if self.level_last {
                nt + j - 1
            } else {
                nt + j
            }
        };

        // One blocked pass over the rows accumulates every inner product
        // that needs O(nobs) work, so each block is read from cache once
        // instead of streaming the whole series once per column pair.
        // "Row vectors": level, then the time polynomials (p = 0 is the
        // constant), centred and scaled to keep the Gram well conditioned.
        let nrow = 1 + nt;
        let mid = (nobs as f64 - 1.0) / 2.0;
        let scale = nobs as f64;
        let mut base = vec![0.0; lags + 1]; // y . lag_h over the sample
        let mut cross = vec![0.0; nrow * (lags + 1)]; // row_q . lag_j
        let mut rowrow = vec![0.0; nrow * nrow];
        let mut buf = vec![0.0; nrow * BLOCK];
        let mut b = 0;
        while b < nobs {
            let e = (b + BLOCK).min(nobs);
            let m = e - b;
            for (r, v) in buf[..m].iter_mut().enumerate() {
                *v = self.x[s0 + b + r] - xshift;
            }
            for p in 0..nt {
                for (r, v) in buf[(1 + p) * BLOCK..(1 + p) * BLOCK + m]
                    .iter_mut()
                    .enumerate()
                {
                    *v = (((b + r) as f64 - mid) / scale).powi(p as i32);
                }
            }
            let yb = &dc[s0 + b..s0 + e];
            for h in 0..=lags {
                let lb = &dc[s0 + b - h..s0 + e - h];
                base[h] += dot(yb, lb);
                // Row 1 (the constant) is done by sliding sums below.
                for q in (0..nrow).filter(|&q| q != 1) {
                    cross[q * (lags + 1) + h] += dot(&buf[q * BLOCK..q * BLOCK + m], lb);
                }
            }
            for q in 0..nrow {
                for q2 in q..nrow {
                    rowrow[q * nrow + q2] += dot(
                        &buf[q * BLOCK..q * BLOCK + m],
                        &buf[q2 * BLOCK..q2 * BLOCK + m],
                    );
                }
            }
            b = e;
        }
        if nt > 0 {
            // Constant . lag_j is the sum of a window that slides back by one
            // per lag: O(1) each instead of another pass over the sample.
            let mut c = sum(&dc[s0..s0 + nobs]);
            cross[lags + 1] = c;
            for j in 1..=lags {
                c += dc[s0 - j] - dc[s0 - j + nobs];
                cross[(lags + 1) + j] = c;
            }
        }

        let mut g = vec![0.0; dim * dim];
        let set = |i: usize, j: usize, v: f64, g: &mut Vec<f64>| {
            g[i * dim + j] = v;
            g[j * dim + i] = v;
        };
        // Lagged differences (incl. y as lag 0): G(i, i+h) by sliding the
        // window of `base[h]` one step back per lag.
        for (h, &b0) in base.iter().enumerate() {
            let mut s = b0;
            set(lag_col(0), lag_col(h), s, &mut g);
            for i in 1..=lags - h {
                // Window for lag i starts at a = s0 - i.
                let a = s0 - i;
                s += dc[a] * dc[a - h] - dc[a + nobs] * dc[a + nobs - h];
                set(lag_col(i), lag_col(i + h), s, &mut g);
            }
        }
        // Row q's column: level first, then the trend polynomials.
        let row_col = |q: usize| if q == 0 { lev } else { q - 1 };
        for q in 0..nrow {
            for q2 in q..nrow {
                set(row_col(q), row_col(q2), rowrow[q * nrow + q2], &mut g);
            }
            for j in 0..=lags {
                set(row_col(q), lag_col(j), cross[q * (lags + 1) + j], &mut g);
            }
        }
        Chol::factor(g, dim, k)
    }
}

/// Upper Cholesky factor `R` (row-major, `dim x dim`) of a Gram matrix whose
/// last column is the regressand.
struct Chol {
    r: Vec<f64>,
    dim: usize,
    y: usize,
}

impl Chol {
    fn factor(mut a: Vec<f64>, dim: usize, k: usize) -> Result<Self> {
        for j in 0..dim {
            let diag0 = a[j * dim + j];
            let mut diag = diag0;
            for p in 0..j {
                diag -= a[p * dim + j] * a[p * dim + j];
            }
            if j < k {
                // A pivot that lost (almost) all of its mass means the column
                // is a linear combination of the previous ones.
                let full_rank = diag > diag0 * 1e-13 && diag > 0.0;
                if !full_rank {
                    return Err(AnalyticsError::Collinear {
                        what: "ADF regression design",
                    });
                }
            } else if diag < 0.0 {
                diag = 0.0;
            }
            let rjj = diag.sqrt();
            a[j * dim + j] = rjj;
            for c in j + 1..dim {
                let mut v = a[j * dim + c];
                for p in 0..j {
                    v -= a[p * dim + j] * a[p * dim + c];
                }
                a[j * dim + c] = if rjj > 0.0 { v / rjj } else { 0.0 };
            }
            // Clear the strict lower triangle so `r` reads as R only.
            for c in 0..j {
                a[j * dim + c] = 0.0;
            }
        }
        Ok(Self { r: a, dim, y: k })
    }

    #[inline]
    fn r(&self, i: usize, j: usize) -> f64 {
        self.r[i * self.dim + j]
    }

    /// SSR of the model on the first `k` columns.
    fn ssr(&self, k: usize) -> f64 {
        let ryy = self.r(self.y, self.y);
        let mut s = ryy * ryy;
        for j in k..self.y {
            let v = self.r(j, self.y);
            s += v * v;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxlag_formula() {
        assert_eq!(default_maxlag(100, Trend::C).unwrap(), 12);
        assert_eq!(default_maxlag(30, Trend::C).unwrap(), 9);
        assert_eq!(default_maxlag(1000, Trend::C).unwrap(), 22);
        assert!(default_maxlag(3, Trend::Ctt).is_err());
    }

    #[test]
    fn constant_is_error() {
        assert_eq!(
            adfuller(&[1.0; 50], &AdfOptions::default()),
            Err(AnalyticsError::ConstantSeries { series: "x" })
        );
    }

    #[test]
    fn maxlag_too_large_is_error() {
        let x: Vec<f64> = (0..40).map(|i| ((i * 7919) % 13) as f64).collect();
        let o = AdfOptions {
            maxlag: Some(30),
            ..AdfOptions::default()
        };
        assert!(matches!(
            adfuller(&x, &o),
            Err(AnalyticsError::InvalidParameter { .. })
        ));
    }
}
