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

#[cfg(test)]
mod tests {
    use super::*;

    fn two_pass_corr(a: &[f64], b: &[f64]) -> Option<f64> {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let (mut saa, mut sab, mut sbb) = (0.0, 0.0, 0.0);
        for (&x, &y) in a.iter().zip(b) {
            saa += (x - ma) * (x - ma);
            sab += (x - ma) * (y - mb);
            sbb += (y - mb) * (y - mb);
        }
        let flat = crate::analytics::moments::is_flat;
        (!flat(saa, a.len(), ma) && !flat(sbb, b.len(), mb))
            .then(|| sab / (saa.sqrt() * sbb.sqrt()))
    }

    /// Tick-rounded prices near 89,000 / 3,140 (log returns of 0 or
    /// 1e-6..1e-4, as 1 s bars): every rolling window agrees with a fresh
    /// two-pass Pearson correlation to 1e-9 of `max(|rho|, 1e-3)`; windows
    /// in which a leg never moves are `None`.
    #[test]
    fn rolling_matches_two_pass_on_tick_rounded_prices() {
        let mut s = 0x5eedu64;
        let mut u = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut bt, mut et) = (890_000i64, 314_000i64);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..100_000 {
            if (i / 3_000) % 5 != 2 && u() < 0.5 {
                let k = 90f64.powf(u()).round() as i64;
                let d = if u() < 0.5 - (bt - 890_000) as f64 / 40_000.0 {
                    k
                } else {
                    -k
                };
                bt += d;
                et += (d as f64 * 0.4 + (u() - 0.5) * 4.0).round() as i64;
            }
            x.push(bt as f64 / 10.0);
            y.push(et as f64 / 100.0);
        }
        let (rx, ry) = (log_returns("x", &x).unwrap(), log_returns("y", &y).unwrap());
        let w = 60;
        let r = rolling_return_correlation(&x, &y, w).unwrap();
        let mut none = 0;
        for t in w..x.len() {
            match (r[t], two_pass_corr(&rx[t - w..t], &ry[t - w..t])) {
                (Some(g), Some(e)) => {
                    assert!(
                        (g - e).abs() <= 1e-9 * e.abs().max(1e-3),
                        "t {t}: {g} vs {e}"
                    )
                }
                (None, None) => none += 1,
                (g, e) => panic!("t {t}: {g:?} vs two-pass {e:?}"),
            }
        }
        assert!(none > 100, "flat windows not exercised ({none})");
    }
}
