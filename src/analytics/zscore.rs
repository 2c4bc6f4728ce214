//! Rolling z-score of the spread and the threshold trading signal.
//!
//! `z_t = (s_t - mean(s[t-w+1..=t])) / std(s[t-w+1..=t])` with the sample
//! standard deviation (ddof = 1), as pandas `rolling(w).mean()/.std()`.
//! `z_t` is `None` while the window is incomplete, when any spread value
//! in it is `None`, or when the window's standard deviation is zero.

use super::error::{AnalyticsError, Result};

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
    let mut win = Window::default();
    let mut run = 0usize; // length of the current run of defined values
    let mut since_reseed = 0usize;
    for (t, v) in spread.iter().enumerate() {
        let Some(v) = *v else {
            run = 0;
            out.push(None);
            continue;
        };
        run += 1;
        if run == 1 {
            win = Window::anchored(v);
            since_reseed = 0;
        }
        win.add(v);
        if run > window {
            // The leaving value lies inside the current run, so it is defined.
            win.remove(spread[t - window].unwrap_or(0.0));
            since_reseed += 1;
            if since_reseed >= window {
                since_reseed = 0;
                win = Window::exact(
                    spread[t + 1 - window..=t].iter().map(|a| a.unwrap_or(0.0)),
                    window,
                );
            }
        }
        if run < window {
            out.push(None);
            continue;
        }
        out.push(win.zscore(v, window));
    }
    Ok(out)
}

/// Sliding sums of `v - anchor` and its square. Shifting by an anchor near
/// the data (re-chosen at every exact re-seed) keeps `s2 - s1^2 / n` free of
/// catastrophic cancellation without a division per update.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    anchor: f64,
    s1: f64,
    s2: f64,
}

impl Window {
    fn anchored(anchor: f64) -> Self {
        Self {
            anchor,
            s1: 0.0,
            s2: 0.0,
        }
    }

    /// Exact re-seed from the `n` values of the window, anchored at their mean.
    fn exact<I: Iterator<Item = f64> + Clone>(vals: I, n: usize) -> Self {
        let anchor = vals.clone().sum::<f64>() / n as f64;
        let mut w = Self::anchored(anchor);
        for v in vals {
            w.add(v);
        }
        w
    }

    #[inline]
    fn add(&mut self, v: f64) {
        let a = v - self.anchor;
        self.s1 += a;
        self.s2 += a * a;
    }

    #[inline]
    fn remove(&mut self, v: f64) {
        let a = v - self.anchor;
        self.s1 -= a;
        self.s2 -= a * a;
    }

    /// z of `v` against a full window of `n` values; `None` when the
    /// window's variance is zero up to rounding.
    #[inline]
    fn zscore(&self, v: f64, n: usize) -> Option<f64> {
        let nf = n as f64;
        let ss = self.s2 - self.s1 * self.s1 / nf;
        if ss <= 1e-13 * self.s2 {
            return None;
        }
        let mean = self.anchor + self.s1 / nf;
        let sd = (ss / (nf - 1.0)).sqrt();
        Some((v - mean) / sd)
    }
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

    #[test]
    fn signals() {
        assert_eq!(signal(Some(2.5), 2.0, 0.5), Signal::ShortSpread);
        assert_eq!(signal(Some(-2.5), 2.0, 0.5), Signal::LongSpread);
        assert_eq!(signal(Some(0.1), 2.0, 0.5), Signal::Exit);
        assert_eq!(signal(Some(1.0), 2.0, 0.5), Signal::Hold);
        assert_eq!(signal(None, 2.0, 0.5), Signal::Hold);
    }
}
