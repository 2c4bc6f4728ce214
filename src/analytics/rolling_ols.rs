//! Rolling-window OLS hedge ratio: an O(1)-per-bar incremental estimator
//! and the batch series in statsmodels `RollingOLS` layout.
//!
//! Convention (as `RollingOLS`): the value at bar `t` is the fit on bars
//! `t-window+1 ..= t`, so it is known at the close of `t`; the first
//! `window - 1` values are `None`. A window in which `x` does not vary has no
//! identified slope and also yields `None` (statsmodels would return a
//! pseudo-inverse solution).
//!
//! Numerics: centred co-moments with add/remove updates, re-seeded exactly
//! from the ring buffer every `window` updates, which bounds drift while
//! keeping the amortised cost O(1) per bar.

use super::error::{AnalyticsError, Result};
use super::moments::CoMoments;
use super::validate;

/// Coefficients of one window fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefficients {
    pub alpha: f64,
    pub beta: f64,
}

/// Incremental rolling OLS of `y` on `x` over a fixed window.
#[derive(Debug, Clone)]
pub struct RollingOls {
    window: usize,
    intercept: bool,
    xs: Vec<f64>,
    ys: Vec<f64>,
    head: usize,
    m: CoMoments,
    since_reseed: usize,
}

impl RollingOls {
    /// `window` must be at least 2 with an intercept (1 without).
    pub fn new(window: usize, intercept: bool) -> Result<Self> {
        let min = if intercept { 2 } else { 1 };
        if window < min {
            return Err(AnalyticsError::InvalidParameter {
                name: "window",
                reason: format!("must be >= {min}, got {window}"),
            });
        }
        Ok(Self {
            window,
            intercept,
            xs: Vec::with_capacity(window),
            ys: Vec::with_capacity(window),
            head: 0,
            m: CoMoments::default(),
            since_reseed: 0,
        })
    }

    pub fn window(&self) -> usize {
        self.window
    }

    /// Adds bar `(x, y)`, evicting the oldest bar once the window is full,
    /// and returns the coefficients of the window ending at this bar.
    ///
    /// Non-finite input is the caller's job to reject (the batch function
    /// does); it would poison the window until it leaves it.
    #[inline]
    pub fn push(&mut self, x: f64, y: f64) -> Option<Coefficients> {
        if self.xs.len() < self.window {
            self.xs.push(x);
            self.ys.push(y);
            self.m.add(x, y);
        } else {
            let (ox, oy) = (self.xs[self.head], self.ys[self.head]);
            self.xs[self.head] = x;
            self.ys[self.head] = y;
            self.head += 1;
            if self.head == self.window {
                self.head = 0;
            }
            self.since_reseed += 1;
            if self.since_reseed >= self.window {
                self.reseed();
            } else {
                self.m.remove(ox, oy);
                self.m.add(x, y);
            }
        }
        self.current()
    }

    /// Recomputes the moments exactly from the buffer.
    fn reseed(&mut self) {
        self.since_reseed = 0;
        self.m = CoMoments::from_pairs(self.xs.iter().copied().zip(self.ys.iter().copied()));
    }

    /// Coefficients of the current window, `None` until it is full or when
    /// the slope is not identified.
    #[inline]
    pub fn current(&self) -> Option<Coefficients> {
        if self.m.n < self.window {
            return None;
        }
        let m = &self.m;
        if self.intercept {
            if m.x_degenerate() {
                return None;
            }
            let beta = m.sxy / m.sxx;
            Some(Coefficients {
                alpha: m.my - beta * m.mx,
                beta,
            })
        } else {
            let nf = m.n as f64;
            let sxx = m.sxx + nf * m.mx * m.mx;
            if sxx <= 0.0 {
                return None;
            }
            let sxy = m.sxy + nf * m.mx * m.my;
            Some(Coefficients {
                alpha: 0.0,
                beta: sxy / sxx,
            })
        }
    }
}

/// Rolling alpha/beta series, aligned with the input.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RollingSeries {
    pub alpha: Vec<Option<f64>>,
    pub beta: Vec<Option<f64>>,
}

/// Batch rolling OLS (see module docs for alignment).
pub fn rolling_ols(x: &[f64], y: &[f64], window: usize, intercept: bool) -> Result<RollingSeries> {
    validate::pair(x, y)?;
    let mut est = RollingOls::new(window, intercept)?;
    validate::min_len("rolling OLS window", x.len(), window)?;
    let mut out = RollingSeries {
        alpha: Vec::with_capacity(x.len()),
        beta: Vec::with_capacity(x.len()),
    };
    for (&xi, &yi) in x.iter().zip(y) {
        let c = est.push(xi, yi);
        out.alpha.push(c.map(|c| c.alpha));
        out.beta.push(c.map(|c| c.beta));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_longer_than_series_is_error() {
        assert!(matches!(
            rolling_ols(&[1.0, 2.0], &[1.0, 2.0], 5, true),
            Err(AnalyticsError::TooShort { .. })
        ));
    }

    #[test]
    fn bad_window_is_error() {
        assert!(RollingOls::new(1, true).is_err());
        assert!(RollingOls::new(1, false).is_ok());
    }

    #[test]
    fn constant_window_is_none() {
        let x = [1.0, 1.0, 1.0, 2.0];
        let y = [1.0, 2.0, 3.0, 4.0];
        let r = rolling_ols(&x, &y, 3, true).unwrap();
        assert_eq!(r.beta[2], None);
        assert!(r.beta[3].is_some());
    }
}
