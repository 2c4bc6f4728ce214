//! Correlation of log returns: full-sample Pearson and the rolling series
//! in pandas `x.rolling(w).corr(y)` layout.
//!
//! Returns are `r_t = ln p_t - ln p_{t-1}`; `r_0` does not exist, so the
//! rolling value at bar `t` needs bars `t-w+1 ..= t` of returns and is
//! `None` for `t < w`. A window with zero variance in either leg is `None`.

use super::error::{AnalyticsError, Result};
use super::moments::CoMoments;
use super::validate;

/// Log returns of a strictly positive price series (length `n - 1`).
pub fn log_returns(series: &'static str, p: &[f64]) -> Result<Vec<f64>> {
    let lp = validate::log_prices(series, p)?;
    Ok(lp.windows(2).map(|w| w[1] - w[0]).collect())
}

/// Pearson correlation of the log returns of `x` and `y`; `None` when either
/// return series has zero variance.
pub fn return_correlation(x: &[f64], y: &[f64]) -> Result<Option<f64>> {
    validate::pair(x, y)?;
    let lx = validate::log_prices("x", x)?;
    let ly = validate::log_prices("y", y)?;
    log_return_correlation(&lx, &ly)
}

/// As [`return_correlation`] but from log prices (saves recomputing logs).
pub fn log_return_correlation(lx: &[f64], ly: &[f64]) -> Result<Option<f64>> {
    validate::pair(lx, ly)?;
    validate::min_len("return correlation", lx.len(), 3)?;
    let diff = |v: &[f64]| v.windows(2).map(|w| w[1] - w[0]).collect::<Vec<f64>>();
    let (rx, ry) = (diff(lx), diff(ly));
    let m = CoMoments::from_pairs(rx.iter().copied().zip(ry.iter().copied()));
    Ok(corr(&m))
}

#[inline]
fn corr(m: &CoMoments) -> Option<f64> {
    if m.x_degenerate() || m.y_degenerate() {
        None
    } else {
        Some(m.sxy / (m.sxx * m.syy).sqrt())
    }
}

/// Rolling correlation of log returns aligned with the price bars.
pub fn rolling_return_correlation(x: &[f64], y: &[f64], window: usize) -> Result<Vec<Option<f64>>> {
    validate::pair(x, y)?;
    if window < 2 {
        return Err(AnalyticsError::InvalidParameter {
            name: "window",
            reason: format!("correlation window must be >= 2, got {window}"),
        });
    }
    validate::min_len("rolling correlation", x.len(), window + 1)?;
    let rx = log_returns("x", x)?;
    let ry = log_returns("y", y)?;
    let mut out = Vec::with_capacity(x.len());
    out.push(None);
    let mut m = CoMoments::default();
    let mut since_reseed = 0;
    for t in 0..rx.len() {
        m.add(rx[t], ry[t]);
        if m.n > window {
            m.remove(rx[t - window], ry[t - window]);
            since_reseed += 1;
            if since_reseed >= window {
                since_reseed = 0;
                let lo = t + 1 - window;
                m = CoMoments::from_pairs(
                    rx[lo..=t].iter().copied().zip(ry[lo..=t].iter().copied()),
                );
            }
        }
        out.push(if m.n == window { corr(&m) } else { None });
    }
    Ok(out)
}
