//! Residual diagnostics of a spread, as statsmodels reports them:
//! skewness and excess kurtosis (`scipy.stats.skew` / `kurtosis`, biased
//! moment ratios), the Jarque-Bera test (`statsmodels.stats.stattools.
//! jarque_bera`), the Ljung-Box test (`statsmodels.stats.diagnostic.
//! acorr_ljungbox`) and the sample autocorrelation function
//! (`statsmodels.tsa.stattools.acf`, `adjusted=False`).
//!
//! With `m_k = mean((x - mean x)^k)`:
//! `skew = m3 / m2^1.5`, `kurt = m4 / m2^2 - 3`,
//! `JB = n/6 (skew^2 + kurt^2 / 4)` against chi-squared(2),
//! `acf_k = sum_{t<n-k} (x_t - m)(x_{t+k} - m) / sum (x_t - m)^2` and
//! `Q(h) = n (n + 2) sum_{k<=h} acf_k^2 / (n - k)` against chi-squared(h).
//!
//! A spread is autocorrelated by construction (that is what mean reversion
//! is), so Ljung-Box on its level mostly confirms persistence; on a good
//! hedge the ACF should still decay within a few half-lives.

use super::error::{AnalyticsError, Result};
use super::validate;
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Lags the pair report tests Ljung-Box at (those below the sample size).
pub const DEFAULT_LB_LAGS: [usize; 4] = [1, 5, 10, 20];
/// Longest ACF the pair report carries.
pub const MAX_ACF_LAGS: usize = 40;

/// One Ljung-Box row.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LjungBox {
    pub lag: usize,
    pub stat: f64,
    pub pvalue: f64,
}

/// The diagnostics block of a series.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Diagnostics {
    pub nobs: usize,
    pub skew: f64,
    /// Excess kurtosis (0 for a normal distribution).
    pub kurtosis: f64,
    pub jarque_bera: f64,
    pub jarque_bera_p: f64,
    pub ljung_box: Vec<LjungBox>,
    /// `acf[0] = 1`, then lags 1 ..= `acf.len() - 1`.
    pub acf: Vec<f64>,
}

/// Sample autocorrelations at lags `0..=nlags` (see module docs).
pub fn acf(x: &[f64], nlags: usize) -> Result<Vec<f64>> {
    validate::finite("series", x)?;
    validate::min_len("autocorrelation", x.len(), nlags + 1)?;
    let n = x.len();
    let m = x.iter().sum::<f64>() / n as f64;
    let d: Vec<f64> = x.iter().map(|v| v - m).collect();
    let c0: f64 = d.iter().map(|v| v * v).sum();
    if c0 == 0.0 || validate::not_constant("series", x).is_err() {
        return Err(AnalyticsError::ConstantSeries { series: "series" });
    }
    Ok((0..=nlags)
        .map(|k| {
            d[..n - k]
                .iter()
                .zip(&d[k..])
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / c0
        })
        .collect())
}

/// Ljung-Box statistics and p-values at each of `lags` (each in `1..n`).
pub fn ljung_box(x: &[f64], lags: &[usize]) -> Result<Vec<LjungBox>> {
    let n = x.len();
    let Some(&max) = lags.iter().max() else {
        return Ok(Vec::new());
    };
    if let Some(&bad) = lags.iter().find(|&&l| l == 0 || l >= n) {
        return Err(AnalyticsError::InvalidParameter {
            name: "lags",
            reason: format!("each lag must be in 1..{n}, got {bad}"),
        });
    }
    let r = acf(x, max)?;
    let nf = n as f64;
    let mut q = vec![0.0; max + 1];
    for k in 1..=max {
        q[k] = q[k - 1] + r[k] * r[k] / (nf - k as f64);
    }
    lags.iter()
        .map(|&lag| {
            let stat = nf * (nf + 2.0) * q[lag];
            Ok(LjungBox {
                lag,
                stat,
                pvalue: chi2_sf(stat, lag as f64),
            })
        })
        .collect()
}

fn chi2_sf(x: f64, df: f64) -> f64 {
    match ChiSquared::new(df) {
        Ok(d) => d.sf(x),
        Err(_) => f64::NAN,
    }
}

/// Skewness, excess kurtosis, Jarque-Bera, Ljung-Box at the `lags` below
/// the sample size and the ACF up to `acf_lags` (capped at `n - 1`).
pub fn diagnostics(x: &[f64], lags: &[usize], acf_lags: usize) -> Result<Diagnostics> {
    validate::finite("series", x)?;
    validate::min_len("residual diagnostics", x.len(), 8)?;
    validate::not_constant("series", x)?;
    let n = x.len();
    let nf = n as f64;
    let m = x.iter().sum::<f64>() / nf;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for v in x {
        let d = v - m;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    let (m2, m3, m4) = (m2 / nf, m3 / nf, m4 / nf);
    let skew = m3 / m2.powf(1.5);
    let kurtosis = m4 / (m2 * m2) - 3.0;
    let jarque_bera = nf / 6.0 * (skew * skew + kurtosis * kurtosis / 4.0);
    let usable: Vec<usize> = lags.iter().copied().filter(|&l| l >= 1 && l < n).collect();
    Ok(Diagnostics {
        nobs: n,
        skew,
        kurtosis,
        jarque_bera,
        // chi-squared(2) survival is exactly exp(-x/2).
        jarque_bera_p: (-jarque_bera / 2.0).exp(),
        ljung_box: ljung_box(x, &usable)?,
        acf: acf(x, acf_lags.min(n - 1))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_naive_definitions() {
        let x: Vec<f64> = (0..300)
            .map(|i| ((i * 7919 + 13) % 101) as f64 / 10.0 + (i as f64 * 0.1).sin())
            .collect();
        let d = diagnostics(&x, &[1, 5], 10).unwrap();
        let n = x.len() as f64;
        let m = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n;
        let sd = var.sqrt();
        let skew = x.iter().map(|v| ((v - m) / sd).powi(3)).sum::<f64>() / n;
        let kurt = x.iter().map(|v| ((v - m) / sd).powi(4)).sum::<f64>() / n - 3.0;
        assert!((d.skew - skew).abs() < 1e-12);
        assert!((d.kurtosis - kurt).abs() < 1e-12);
        let r1 = (0..299).map(|t| (x[t] - m) * (x[t + 1] - m)).sum::<f64>() / (var * n);
        assert!((d.acf[1] - r1).abs() < 1e-12);
        assert_eq!(d.acf[0], 1.0);
        assert_eq!(d.acf.len(), 11);
        let q1 = n * (n + 2.0) * r1 * r1 / (n - 1.0);
        assert!((d.ljung_box[0].stat - q1).abs() < 1e-9 * q1);
        // chi2(1) survival at q is erfc(sqrt(q/2)).
        let p1 = statrs::function::erf::erfc((q1 / 2.0).sqrt());
        assert!((d.ljung_box[0].pvalue - p1).abs() < 1e-12);
    }

    #[test]
    fn degenerate_input_is_named() {
        assert!(matches!(
            diagnostics(&[1.0; 20], &[1], 5),
            Err(AnalyticsError::ConstantSeries { .. })
        ));
        assert!(matches!(
            diagnostics(&[1.0, 2.0], &[1], 5),
            Err(AnalyticsError::TooShort { .. })
        ));
        let mut x: Vec<f64> = (0..20).map(|i| i as f64).collect();
        x[3] = f64::NAN;
        assert!(matches!(
            diagnostics(&x, &[1], 5),
            Err(AnalyticsError::NonFinite { .. })
        ));
        let ok: Vec<f64> = (0..20).map(|i| ((i * 7) % 5) as f64).collect();
        assert!(matches!(
            ljung_box(&ok, &[20]),
            Err(AnalyticsError::InvalidParameter { name: "lags", .. })
        ));
        // Lags at or past the sample size are left out of the report.
        assert_eq!(diagnostics(&ok, &[1, 50], 100).unwrap().ljung_box.len(), 1);
    }
}
