//! Mean-reversion half-life from an AR(1) fit of the spread:
//! `s_t - s_{t-1} = c + lambda s_{t-1} + e_t`, `half_life = -ln 2 / lambda`
//! in bars.
//!
//! `lambda >= 0` means no mean reversion; the half-life is then `None`
//! (infinite / undefined) rather than a negative or infinite number.

use super::error::Result;
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
