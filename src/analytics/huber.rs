//! Huber M-estimator hedge ratio by IRLS, replicating statsmodels
//! `RLM(y, X, M=HuberT(t=1.345)).fit()` defaults: scale by MAD about zero
//! (`median(|r|) / 0.6744897501960817`), re-estimated every iteration,
//! convergence on the change of the deviance `sum rho(r / wls_scale)`
//! (`conv="dev"`) with `tol = 1e-8`, `maxiter = 50`, started from OLS.
//!
//! Each reweighted least-squares step is the closed-form weighted
//! two-variable regression on weighted-centred data.

use super::error::{AnalyticsError, Result};
use super::stats::median_in_place;
use super::validate;

/// Huber tuning constant (95% efficiency under normal errors).
pub const HUBER_T: f64 = 1.345;
/// `scipy.stats.norm.ppf(0.75)`, the MAD consistency constant.
const MAD_C: f64 = 0.6744897501960817;

/// Robust fit result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HuberFit {
    pub alpha: f64,
    pub beta: f64,
    /// Final MAD scale estimate of the residuals.
    pub scale: f64,
    /// statsmodels' iteration counter (1 = the OLS start).
    pub iterations: usize,
}

#[inline]
fn rho(z: f64) -> f64 {
    let a = z.abs();
    if a <= HUBER_T {
        0.5 * z * z
    } else {
        a * HUBER_T - 0.5 * HUBER_T * HUBER_T
    }
}

#[inline]
fn weight(z: f64) -> f64 {
    let a = z.abs();
    if a <= HUBER_T {
        1.0
    } else {
        HUBER_T / a
    }
}

/// Weighted LS of y on [1, x] (or [x]); returns (alpha, beta).
fn wls(x: &[f64], y: &[f64], w: &[f64], intercept: bool) -> Result<(f64, f64)> {
    let singular = AnalyticsError::Collinear {
        what: "Huber IRLS step (x has no weighted variation)",
    };
    if intercept {
        let (mut sw, mut swx, mut swy) = (0.0, 0.0, 0.0);
        for i in 0..x.len() {
            sw += w[i];
            swx += w[i] * x[i];
            swy += w[i] * y[i];
        }
        let (mx, my) = (swx / sw, swy / sw);
        let (mut sxx, mut sxy) = (0.0, 0.0);
        for i in 0..x.len() {
            let dx = x[i] - mx;
            sxx += w[i] * dx * dx;
            sxy += w[i] * dx * (y[i] - my);
        }
        if sxx <= 0.0 {
            return Err(singular);
        }
        let b = sxy / sxx;
        Ok((my - b * mx, b))
    } else {
        let (mut sxx, mut sxy) = (0.0, 0.0);
        for i in 0..x.len() {
            sxx += w[i] * x[i] * x[i];
            sxy += w[i] * x[i] * y[i];
        }
        if sxx <= 0.0 {
            return Err(singular);
        }
        Ok((0.0, sxy / sxx))
    }
}

fn mad(resid: &[f64], buf: &mut Vec<f64>) -> f64 {
    buf.clear();
    buf.extend(resid.iter().map(|r| r.abs()));
    median_in_place(buf) / MAD_C
}

/// Huber regression of `y` on `x` (see module docs).
pub fn huber(x: &[f64], y: &[f64], intercept: bool) -> Result<HuberFit> {
    const MAXITER: usize = 50;
    const TOL: f64 = 1e-8;
    validate::pair(x, y)?;
    let k = if intercept { 2 } else { 1 };
    validate::min_len("Huber regression", x.len(), k + 1)?;
    if intercept {
        validate::not_constant("x", x)?;
    }
    let n = x.len();
    let df = (n - k) as f64;
    let mut w = vec![1.0; n];
    let mut resid = vec![0.0; n];
    let mut buf = Vec::with_capacity(n);

    let fit = |w: &[f64], resid: &mut [f64]| -> Result<(f64, f64, f64)> {
        let (a, b) = wls(x, y, w, intercept)?;
        let mut wss = 0.0;
        for i in 0..n {
            resid[i] = y[i] - (a + b * x[i]);
            wss += w[i] * resid[i] * resid[i];
        }
        Ok((a, b, wss / df))
    };
    let deviance =
        |resid: &[f64], wls_scale: f64| -> f64 { resid.iter().map(|r| rho(r / wls_scale)).sum() };

    let (mut a, mut b, wscale) = fit(&w, &mut resid)?;
    let mut scale = mad(&resid, &mut buf);
    let mut dev_prev = deviance(&resid, wscale);
    let mut iterations = 1;
    loop {
        // A zero MAD means more than half the points fit exactly; the
        // weights would be undefined, so stop as statsmodels does.
        if scale == 0.0 {
            break;
        }
        for i in 0..n {
            w[i] = weight(resid[i] / scale);
        }
        let (na, nb, wscale) = fit(&w, &mut resid)?;
        a = na;
        b = nb;
        scale = mad(&resid, &mut buf);
        let dev = deviance(&resid, wscale);
        iterations += 1;
        let moved = (dev - dev_prev).abs() > TOL;
        dev_prev = dev;
        if !(moved && iterations < MAXITER) {
            break;
        }
    }
    Ok(HuberFit {
        alpha: a,
        beta: b,
        scale,
        iterations,
    })
}
