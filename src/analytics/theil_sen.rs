//! Theil-Sen hedge ratio: the median of all pairwise slopes, intercept
//! `median(y - beta x)` (scipy `theilslopes(..., method="joint")`).
//!
//! The pairwise step is O(m^2) in time and memory. Above
//! [`MAX_POINTS`] points the slope is computed on a deterministic, evenly
//! strided subsample of `MAX_POINTS` points (index `i * n / MAX_POINTS`),
//! i.e. at most ~2 million slopes; the intercept always uses every point.

use super::error::{AnalyticsError, Result};
use super::stats::median_in_place;
use super::validate;

/// Largest number of points used for the pairwise slopes.
pub const MAX_POINTS: usize = 2000;

/// Theil-Sen fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TheilSenFit {
    pub alpha: f64,
    pub beta: f64,
    /// Points that entered the pairwise slopes (`min(n, MAX_POINTS)`).
    pub points_used: usize,
}

/// Theil-Sen regression of `y` on `x` (see module docs).
pub fn theil_sen(x: &[f64], y: &[f64]) -> Result<TheilSenFit> {
    validate::pair(x, y)?;
    validate::min_len("Theil-Sen regression", x.len(), 2)?;
    let n = x.len();
    let idx: Vec<usize> = if n > MAX_POINTS {
        (0..MAX_POINTS).map(|i| i * n / MAX_POINTS).collect()
    } else {
        (0..n).collect()
    };
    let m = idx.len();
    let mut slopes = Vec::with_capacity(m * (m - 1) / 2);
    for (a, &i) in idx.iter().enumerate() {
        for &j in &idx[a + 1..] {
            let dx = x[j] - x[i];
            if dx != 0.0 {
                slopes.push((y[j] - y[i]) / dx);
            }
        }
    }
    if slopes.is_empty() {
        return Err(AnalyticsError::ConstantSeries { series: "x" });
    }
    let beta = median_in_place(&mut slopes);
    let mut r: Vec<f64> = x.iter().zip(y).map(|(&xi, &yi)| yi - beta * xi).collect();
    let alpha = median_in_place(&mut r);
    Ok(TheilSenFit {
        alpha,
        beta,
        points_used: m,
    })
}
