//! Rolling z-score of the spread and the threshold trading signal.
//!
//! `z_t = (s_t - mean(s[t-w+1..=t])) / std(s[t-w+1..=t])` with the sample
//! standard deviation (ddof = 1), as pandas `rolling(w).mean()/.std()`.
//! `z_t` is `None` while the window is incomplete, when any spread value
//! in it is `None`, or when the window is flat (standard deviation zero or
//! at most 1e-10 of the window's level, as for rolling OLS).
//!
//! Numerics as rolling OLS ([`super::moments`]): sums of `s - k` with `k` a
//! value of the window, compensated, refilled exactly when the ratio of the
//! raw to the centred sum of squares says digits are being lost; every
//! window agrees with a fresh two-pass mean/std to about 1e-12 relative.

use super::error::{AnalyticsError, Result};
use super::moments::{is_flat, Sums, REFILL_EVERY};

/// Rolling z-score (see module docs). `window` must be at least 2.
pub fn rolling_zscore(spread: &[Option<f64>], window: usize) -> Result<Vec<Option<f64>>> {
    if window < 2 {
        return Err(AnalyticsError::InvalidParameter {
            name: "z_window",
            reason: format!("must be >= 2 (sample std needs two points), got {window}"),
        });
    }
    if let Some(index) = spread
        .iter()
        .position(|v| matches!(v, Some(a) if !a.is_finite()))
    {
        return Err(AnalyticsError::NonFinite {
            series: "spread",
            index,
            value: spread[index].unwrap_or(f64::NAN),
        });
    }
    let mut out = Vec::with_capacity(spread.len());
    let mut win = Sums::default();
    let mut run = 0usize; // length of the current run of defined values
    let mut since_refill = 0usize;
    // The values of the window ending at `t` (all defined inside a run).
    let vals = |t: usize| spread[t + 1 - window..=t].iter().map(|a| a.unwrap_or(0.0));
    for (t, v) in spread.iter().enumerate() {
        let Some(v) = *v else {
            run = 0;
            out.push(None);
            continue;
        };
        run += 1;
        if run < window {
            out.push(None);
            continue;
        }
        if run == window {
            win.refill(vals(t));
            since_refill = 0;
        } else {
            // The leaving value lies inside the current run, so it is defined.
            win.remove(spread[t - window].unwrap_or(0.0));
            win.add(v);
            since_refill += 1;
            if since_refill >= REFILL_EVERY * window {
                win.refill(vals(t));
                since_refill = 0;
            }
        }
        let (mut d, mut ss, raw) = win.moments();
        if win.needs_refill(win.k + d, ss, raw) {
            win.refill(vals(t));
            since_refill = 0;
            (d, ss, _) = win.moments();
        }
        out.push(zscore(v - win.k, d, ss, window, win.k));
    }
    Ok(out)
}

/// z of the newest value against a full window of `n` values anchored at
/// `k`: `a = v - k` (exact), `d = mean - k`, `ss` the centred sum of
/// squares, so the numerator `a - d` involves no subtraction at the level.
/// `None` when the window is flat (standard deviation at most 1e-10 of its
/// level, see [`FLAT_RELATIVE_SPREAD`](super::moments::FLAT_RELATIVE_SPREAD)).
#[inline]
fn zscore(a: f64, d: f64, ss: f64, n: usize, k: f64) -> Option<f64> {
    if is_flat(ss, n, k + d) {
        return None;
    }
    let sd = (ss / (n as f64 - 1.0)).sqrt();
    Some((a - d) / sd)
}

/// Trading signal derived from a z-score.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signal {
    /// `z > entry`: spread rich, sell y / buy beta x.
    ShortSpread,
    /// `z < -entry`: spread cheap, buy y / sell beta x.
    LongSpread,
    /// `|z| < exit`: close any position.
    Exit,
    /// Anything else, including an undefined z.
    Hold,
}

/// Maps a z-score to a [`Signal`]; `entry` is checked before `exit`.
pub fn signal(z: Option<f64>, entry: f64, exit: f64) -> Signal {
    match z {
        Some(z) if z > entry => Signal::ShortSpread,
        Some(z) if z < -entry => Signal::LongSpread,
        Some(z) if z.abs() < exit => Signal::Exit,
        _ => Signal::Hold,
    }
}

/// Validates entry/exit thresholds: both finite, `0 <= exit < entry`.
pub fn check_thresholds(entry: f64, exit: f64) -> Result<()> {
    if !(entry.is_finite() && exit.is_finite() && exit >= 0.0 && exit < entry) {
        return Err(AnalyticsError::InvalidParameter {
            name: "entry/exit",
            reason: format!("need finite 0 <= exit < entry, got entry={entry}, exit={exit}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_std_is_none() {
        let s = vec![Some(1.0); 5];
        let z = rolling_zscore(&s, 3).unwrap();
        assert!(z.iter().all(Option::is_none));
    }

    #[test]
    fn none_breaks_window() {
        let s = vec![Some(1.0), Some(2.0), None, Some(3.0), Some(5.0), Some(4.0)];
        let z = rolling_zscore(&s, 2).unwrap();
        assert_eq!(z[2], None);
        assert_eq!(z[3], None);
        assert!(z[4].is_some());
        assert!(z[1].is_some());
    }

    /// Exact z of the last value of `w` (values in [8, 16), multiples of
    /// 2^-49, so `(v - w[0]) 2^49` are integers and the sums are exact in
    /// i128; a two-pass f64 mean is not enough here: its rounding, an ulp
    /// of 11.4, is 1e-9 of a window std of 1e-6).
    fn exact_z(w: &[f64]) -> Option<f64> {
        let q = 2f64.powi(49);
        let d: Vec<i128> = w.iter().map(|v| ((v - w[0]) * q) as i128).collect();
        let n = d.len() as i128;
        let s: i128 = d.iter().sum();
        let nss = n * d.iter().map(|a| a * a).sum::<i128>() - s * s;
        let ss = nss as f64 / n as f64 / (q * q);
        let mean = w[0] + s as f64 / n as f64 / q;
        // The documented flat rule decides "undefined" on both sides.
        if crate::analytics::moments::is_flat(ss, w.len(), mean) {
            return None;
        }
        let num = (n * d[d.len() - 1] - s) as f64;
        Some(num * ((n - 1) as f64 / (n as f64 * nss as f64)).sqrt())
    }

    /// A series at level 11.4 moving 1e-6..1e-4 per step (the conditioning
    /// of 1 s log prices), with flat stretches, over 200,000 values: every
    /// window's z agrees with the exact one to 1e-9 of `max(|z|, 1)`, and
    /// flat windows are `None`.
    #[test]
    fn matches_exact_at_log_price_level() {
        let mut s = 0x13u64;
        let mut u = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut v = 11.4f64;
        let vals: Vec<Option<f64>> = (0..200_000)
            .map(|i| {
                if (i / 5_000) % 7 != 3 && u() < 0.5 {
                    v += (if u() < 0.5 { -1.0 } else { 1.0 }) * 1e-6 * 100f64.powf(u());
                }
                Some(v)
            })
            .collect();
        for w in [20, 300] {
            let z = rolling_zscore(&vals, w).unwrap();
            let plain: Vec<f64> = vals.iter().map(|a| a.unwrap()).collect();
            let mut flat = 0;
            for t in w - 1..plain.len() {
                match (z[t], exact_z(&plain[t + 1 - w..=t])) {
                    (Some(g), Some(e)) => {
                        assert!(
                            (g - e).abs() <= 1e-9 * e.abs().max(1.0),
                            "t {t}: {g} vs {e}"
                        )
                    }
                    (None, None) => flat += 1,
                    (g, e) => panic!("t {t} w {w}: {g:?} vs exact {e:?}"),
                }
            }
            assert!(flat > 100, "flat stretches not exercised ({flat})");
        }
    }

    #[test]
    fn signals() {
        assert_eq!(signal(Some(2.5), 2.0, 0.5), Signal::ShortSpread);
        assert_eq!(signal(Some(-2.5), 2.0, 0.5), Signal::LongSpread);
        assert_eq!(signal(Some(0.1), 2.0, 0.5), Signal::Exit);
        assert_eq!(signal(Some(1.0), 2.0, 0.5), Signal::Hold);
        assert_eq!(signal(None, 2.0, 0.5), Signal::Hold);
    }
}
