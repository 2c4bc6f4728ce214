//! Mean-reversion half-life from an AR(1) fit of the spread:
//! `s_t - s_{t-1} = c + lambda s_{t-1} + e_t`, `half_life = -ln 2 / lambda`
//! in bars.
//!
//! `lambda >= 0` means no mean reversion; the half-life is then `None`
//! (infinite / undefined) rather than a negative or infinite number.

use super::error::{AnalyticsError, Result};
use super::ols::ols;
use super::validate;

/// AR(1) mean-reversion estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HalfLife {
    pub lambda: f64,
    pub half_life: Option<f64>,
}

/// Half-life of `spread` (see module docs). Needs at least 4 points.
pub fn half_life(spread: &[f64]) -> Result<HalfLife> {
    validate::finite("spread", spread)?;
    validate::min_len("half-life", spread.len(), 4)?;
    let lagged = &spread[..spread.len() - 1];
    let diff: Vec<f64> = spread.windows(2).map(|w| w[1] - w[0]).collect();
    let fit = ols(lagged, &diff, true)?;
    let lambda = fit.beta;
    Ok(HalfLife {
        lambda,
        half_life: (lambda < 0.0).then(|| -std::f64::consts::LN_2 / lambda),
    })
}

/// The hedge ratio whose spread `y - beta x` reverts fastest: the `beta`
/// minimising the AR(1) slope `lambda(beta)` of [`half_life`], hence its
/// half-life.
///
/// `lambda(beta) = u'Cu / u'Vu` with `u = (1, -beta)`, `C` the symmetrised
/// centred cross-moments of `(dy, dx)` with `(y_lag, x_lag)` and `V` the
/// centred moments of `(y_lag, x_lag)`: a Rayleigh quotient, so its global
/// minimum is the smaller generalised eigenvalue of `(C, V)` and `beta`
/// comes from its eigenvector, in closed form. `alpha` centres the spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinHalfLife {
    pub alpha: f64,
    pub beta: f64,
    pub lambda: f64,
    pub half_life: Option<f64>,
}

/// See [`MinHalfLife`]. Needs at least 4 points of each leg.
pub fn min_half_life_hedge(x: &[f64], y: &[f64]) -> Result<MinHalfLife> {
    validate::pair(x, y)?;
    validate::min_len("minimum half-life hedge", x.len(), 4)?;
    validate::not_constant("x", x)?;
    validate::not_constant("y", y)?;
    let m = x.len() - 1;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let dy: Vec<f64> = y.windows(2).map(|w| w[1] - w[0]).collect();
    let dx: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    let (yl, xl) = (&y[..m], &x[..m]);
    let (mdy, mdx, myl, mxl) = (mean(&dy), mean(&dx), mean(yl), mean(xl));
    let cov = |a: &[f64], ma: f64, b: &[f64], mb: f64| {
        a.iter()
            .zip(b)
            .map(|(p, q)| (p - ma) * (q - mb))
            .sum::<f64>()
    };
    let c11 = cov(&dy, mdy, yl, myl);
    let c22 = cov(&dx, mdx, xl, mxl);
    let c12 = 0.5 * (cov(&dy, mdy, xl, mxl) + cov(&dx, mdx, yl, myl));
    let v11 = cov(yl, myl, yl, myl);
    let v22 = cov(xl, mxl, xl, mxl);
    let v12 = cov(yl, myl, xl, mxl);
    // det(C - l V) = a l^2 + b l + c; V is positive definite unless the
    // lagged legs are collinear.
    let a = v11 * v22 - v12 * v12;
    if a <= 1e-12 * v11 * v22 {
        return Err(AnalyticsError::Collinear {
            what: "minimum half-life hedge (the legs move as one)",
        });
    }
    let b = -(c11 * v22 + c22 * v11 - 2.0 * c12 * v12);
    let c = c11 * c22 - c12 * c12;
    let disc = (b * b - 4.0 * a * c).max(0.0).sqrt();
    // The smaller root, in the form that avoids cancellation.
    let q = -0.5 * (b + b.signum() * disc);
    let roots = [q / a, if q != 0.0 { c / q } else { q / a }];
    let lambda = roots[0].min(roots[1]);
    // (C - l V) u = 0 with u = (1, -beta): either row gives beta; use the
    // better-conditioned one.
    let (r1a, r1b) = (c11 - lambda * v11, c12 - lambda * v12);
    let (r2a, r2b) = (c12 - lambda * v12, c22 - lambda * v22);
    let beta = if r1b.abs() >= r2b.abs() {
        r1a / r1b
    } else {
        r2a / r2b
    };
    if !beta.is_finite() {
        return Err(AnalyticsError::InvalidParameter {
            name: "regression",
            reason: "the fastest-reverting combination holds no y (beta is infinite)".into(),
        });
    }
    let alpha = mean(y) - beta * mean(x);
    Ok(MinHalfLife {
        alpha,
        beta,
        lambda,
        half_life: (lambda < 0.0).then(|| -std::f64::consts::LN_2 / lambda),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_half_life_beats_every_nearby_ratio() {
        let n = 400;
        let x: Vec<f64> = (0..n)
            .map(|i| 10.0 + (i as f64 * 0.031).sin() + i as f64 * 0.002)
            .collect();
        let mut s = 0.0;
        let y: Vec<f64> = (0..n)
            .map(|i| {
                s = 0.7 * s + ((i * 7919 + 3) % 101) as f64 / 1000.0 - 0.05;
                2.0 + 1.3 * x[i] + s
            })
            .collect();
        let h = min_half_life_hedge(&x, &y).unwrap();
        let lam = |b: f64| {
            let sp: Vec<f64> = x.iter().zip(&y).map(|(xi, yi)| yi - b * xi).collect();
            half_life(&sp).unwrap().lambda
        };
        assert!(
            (lam(h.beta) - h.lambda).abs() < 1e-10,
            "{} {}",
            lam(h.beta),
            h.lambda
        );
        for db in [-0.1, -1e-3, 1e-3, 0.1] {
            assert!(lam(h.beta + db) > h.lambda);
        }
        assert!(h.half_life.unwrap() < half_life(&y).unwrap().half_life.unwrap_or(f64::MAX));
        assert!(matches!(
            min_half_life_hedge(&x, &[1.0; 400]),
            Err(AnalyticsError::ConstantSeries { .. })
        ));
    }
}
