//! Correlation of log returns: full-sample Pearson and the rolling series
//! in pandas `x.rolling(w).corr(y)` layout.
//!
//! Returns are `r_t = ln p_t - ln p_{t-1}`; `r_0` does not exist, so the
//! rolling value at bar `t` needs bars `t-w+1 ..= t` of returns and is
//! `None` for `t < w`. A window in which either leg is flat (zero variance,
//! or a standard deviation at most 1e-10 of its mean, see
//! [`FLAT_RELATIVE_SPREAD`](super::moments::FLAT_RELATIVE_SPREAD)) is `None`.
//!
//! Numerics as rolling OLS ([`super::moments`]): anchored compensated sums
//! with an error-estimate driven exact refill, so every window agrees with a
//! fresh two-pass Pearson correlation to about 1e-12.

use super::error::{AnalyticsError, Result};
use super::moments::{Centred, PairSums, REFILL_EVERY};
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
    let m = Centred::from_pairs(rx.iter().copied().zip(ry.iter().copied()));
    Ok(corr(&m))
}

#[inline]
fn corr(m: &Centred) -> Option<f64> {
    if m.x_flat() || m.y_flat() {
        None
    } else {
        Some((m.sxy / (m.sxx.sqrt() * m.syy.sqrt())).clamp(-1.0, 1.0))
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
    let mut sums = PairSums::default();
    let mut since_refill = 0;
    let pairs = |t: usize| {
        let lo = t + 1 - window;
        rx[lo..=t].iter().copied().zip(ry[lo..=t].iter().copied())
    };
    for t in 0..rx.len() {
        if t + 1 < window {
            out.push(None);
            continue;
        }
        if t + 1 == window {
            sums.refill(pairs(t));
        } else {
            sums.remove(rx[t - window], ry[t - window]);
            sums.add(rx[t], ry[t]);
            since_refill += 1;
            if since_refill >= REFILL_EVERY * window {
                since_refill = 0;
                sums.refill(pairs(t));
            }
        }
        let mut c = sums.centred();
        if sums.needs_refill(&c) {
            since_refill = 0;
            sums.refill(pairs(t));
            c = sums.centred();
        }
        out.push(corr(&c));
    }
    Ok(out)
}
