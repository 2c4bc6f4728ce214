//! Hurst exponent by the lag-variance (diffusion) method.
//!
//! Definition: for lags `tau = 2, 3, ..., L - 1` with `L = min(100, n / 2)`,
//! `sigma(tau) = std(s[t + tau] - s[t])` (population std, ddof = 0, as
//! `numpy.std`), and `H` is the least-squares slope of `ln sigma(tau)`
//! on `ln tau`. `H ~ 0.5` random walk, `< 0.5` mean reverting, `> 0.5`
//! trending. Needs at least two lags (`n >= 8`); a lag whose differences
//! are all equal has `sigma = 0` and makes `H` undefined (`None`).

use super::error::Result;
use super::validate;

/// Hurst exponent of `s` (see module docs).
pub fn hurst(s: &[f64]) -> Result<Option<f64>> {
    validate::finite("spread", s)?;
    validate::min_len("Hurst exponent", s.len(), 8)?;
    let n = s.len();
    let max_lag = (n / 2).min(100);
    // Mean of s[t+lag]-s[t] telescopes to a difference of prefix sums;
    // prefix sums of s - s[0] keep their magnitude (and rounding) small.
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0);
    let mut acc = 0.0;
    for &v in s {
        acc += v - s[0];
        prefix.push(acc);
    }
    let lags: Vec<usize> = (2..max_lag).collect();
    let mus: Vec<f64> = lags
        .iter()
        .map(|&lag| {
            let m = n - lag;
            ((prefix[n] - prefix[lag]) - prefix[m]) / m as f64
        })
        .collect();
    // Sum of squared deviations for every lag in one blocked pass, so each
    // block of s is read from cache rather than streamed once per lag.
    let mut ss = vec![0.0; lags.len()];
    let mut b = 0;
    while b < n {
        let e = (b + BLOCK).min(n);
        for (i, &lag) in lags.iter().enumerate() {
            let hi = e.min(n - lag);
            if b < hi {
                ss[i] += sq_dev(&s[b + lag..hi + lag], &s[b..hi], mus[i]);
            }
        }
        b = e;
    }
    let mut lx = Vec::with_capacity(lags.len());
    let mut ly = Vec::with_capacity(lags.len());
    for (i, &lag) in lags.iter().enumerate() {
        let sd = (ss[i] / (n - lag) as f64).sqrt();
        if sd <= 0.0 {
            return Ok(None);
        }
        lx.push((lag as f64).ln());
        ly.push(sd.ln());
    }
    let k = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / k, ly.iter().sum::<f64>() / k);
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (a, b) in lx.iter().zip(&ly) {
        sxx += (a - mx) * (a - mx);
        sxy += (a - mx) * (b - my);
    }
    Ok(Some(sxy / sxx))
}

const BLOCK: usize = 2048;

/// `sum ((a - b) - mu)^2` with four accumulators so it vectorises.
#[inline]
fn sq_dev(a: &[f64], b: &[f64], mu: f64) -> f64 {
    let mut acc = [0.0f64; 4];
    let ca = a.chunks_exact(4);
    let cb = b.chunks_exact(4);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (p, q) in ca.zip(cb) {
        for l in 0..4 {
            let d = (p[l] - q[l]) - mu;
            acc[l] += d * d;
        }
    }
    let mut tail = 0.0;
    for (p, q) in ra.iter().zip(rb) {
        let d = (p - q) - mu;
        tail += d * d;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}
