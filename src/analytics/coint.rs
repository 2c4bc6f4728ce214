//! Engle-Granger two-step cointegration test replicating
//! `statsmodels.tsa.stattools.coint(y0, y1, trend="c")`.
//!
//! Step 1: OLS of `y0` on `[y1, const]`. Step 2: ADF without deterministic
//! terms on the residuals (default maxlag, chosen autolag). The p-value is
//! `mackinnonp(stat, "c", N=2)` and the critical values
//! `mackinnoncrit(N=2, "c", nobs - 1)`, as statsmodels does (the `-1`
//! mirrors Stata's `egranger`).

use super::adf::{adfuller, AdfOptions, Autolag};
use super::error::{AnalyticsError, Result};
use super::mackinnon::{mackinnoncrit, mackinnonp, CriticalValues, Trend};
use super::ols::ols;
use super::ols_multi::ols_multi;

/// Engle-Granger test output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CointResult {
    pub stat: f64,
    pub pvalue: f64,
    pub crit: CriticalValues,
    pub usedlag: usize,
}

/// Tests `y0` against `y1` for cointegration (see module docs).
///
/// statsmodels answers a near-perfect fit (`R^2 >= 1 - 100 sqrt(eps)`) with
/// a statistic of `-inf`; that is reported here as
/// [`AnalyticsError::Collinear`] instead.
pub fn coint(
    y0: &[f64],
    y1: &[f64],
    autolag: Autolag,
    maxlag: Option<usize>,
) -> Result<CointResult> {
    let fit = ols(y1, y0, true)?;
    let eg = residual_test(fit.r2, &fit.residuals(y1, y0), 2, autolag, maxlag)?;
    Ok(CointResult {
        stat: eg.stat,
        pvalue: eg.pvalue.expect("MacKinnon p-values cover two series"),
        crit: eg.crit,
        usedlag: eg.usedlag,
    })
}

/// The Engle-Granger test of a basket.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BasketCoint {
    pub stat: f64,
    /// MacKinnon (1994) p-value; his surfaces stop at six series, so a
    /// basket of seven or more legs has none (its critical values stand).
    pub pvalue: Option<f64>,
    pub crit: CriticalValues,
    pub usedlag: usize,
}

/// Most series MacKinnon's 2010 critical values cover.
pub const MAX_SERIES: usize = 12;

/// `coint(y0, Y)` with the columns of `Y` in `ys`: OLS of `y0` on
/// `[ys.., 1]`, the ADF of its residuals, `mackinnonp(stat, "c", N)` and
/// `mackinnoncrit(N, "c", nobs - 1)` with `N = 1 + ys.len()`.
pub fn coint_basket(
    y0: &[f64],
    ys: &[&[f64]],
    autolag: Autolag,
    maxlag: Option<usize>,
) -> Result<BasketCoint> {
    if ys.len() + 1 > MAX_SERIES {
        return Err(AnalyticsError::InvalidParameter {
            name: "legs",
            reason: format!(
                "Engle-Granger critical values cover up to {MAX_SERIES} series, got {}",
                ys.len() + 1
            ),
        });
    }
    let fit = ols_multi(y0, ys, true)?;
    residual_test(
        fit.rsquared,
        &fit.residuals(y0, ys),
        ys.len() + 1,
        autolag,
        maxlag,
    )
}

/// Step 2 on the cointegrating regression's residuals.
fn residual_test(
    r2: f64,
    resid: &[f64],
    n_series: usize,
    autolag: Autolag,
    maxlag: Option<usize>,
) -> Result<BasketCoint> {
    if r2 >= 1.0 - 100.0 * f64::EPSILON.sqrt() {
        return Err(AnalyticsError::Collinear {
            what: "cointegration test (series are almost perfectly collinear)",
        });
    }
    let adf = adfuller(
        resid,
        &AdfOptions {
            trend: Trend::N,
            autolag,
            maxlag,
        },
    )?;
    Ok(BasketCoint {
        stat: adf.stat,
        pvalue: (n_series <= 6)
            .then(|| mackinnonp(adf.stat, Trend::C, n_series))
            .transpose()?,
        crit: mackinnoncrit(n_series, Trend::C, Some(resid.len() - 1))?,
        usedlag: adf.usedlag,
    })
}
