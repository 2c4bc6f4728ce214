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
    if fit.r2 >= 1.0 - 100.0 * f64::EPSILON.sqrt() {
        return Err(AnalyticsError::Collinear {
            what: "cointegration test (series are almost perfectly collinear)",
        });
    }
    let resid = fit.residuals(y1, y0);
    let adf = adfuller(
        &resid,
        &AdfOptions {
            trend: Trend::N,
            autolag,
            maxlag,
        },
    )?;
    Ok(CointResult {
        stat: adf.stat,
        pvalue: mackinnonp(adf.stat, Trend::C, 2)?,
        crit: mackinnoncrit(2, Trend::C, Some(y0.len() - 1))?,
        usedlag: adf.usedlag,
    })
}
