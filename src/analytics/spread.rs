//! The spread `y - (beta x + alpha)` for static and time-varying hedge
//! coefficients.
//!
//! With rolling or dynamic coefficients the spread at bar `t` uses the
//! coefficients known at the close of `t` (the rolling fit ending at `t`),
//! so no future bar leaks into it; bars without coefficients are `None`.

/// Spread with fixed coefficients (`alpha = 0` for the no-intercept model).
pub fn static_spread(x: &[f64], y: &[f64], alpha: f64, beta: f64) -> Vec<f64> {
    x.iter()
        .zip(y)
        .map(|(&xi, &yi)| yi - (beta * xi + alpha))
        .collect()
}

/// Spread with per-bar coefficients.
pub fn dynamic_spread(
    x: &[f64],
    y: &[f64],
    alpha: &[Option<f64>],
    beta: &[Option<f64>],
) -> Vec<Option<f64>> {
    x.iter()
        .zip(y)
        .zip(alpha.iter().zip(beta))
        .map(|((&xi, &yi), (a, b))| match (a, b) {
            (Some(a), Some(b)) => Some(yi - (b * xi + a)),
            _ => None,
        })
        .collect()
}
