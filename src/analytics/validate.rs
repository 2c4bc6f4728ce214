//! Input validation shared by every estimator: lengths, finiteness,
//! positivity for log prices and non-constancy.
//!
//! Centralised so every public entry point rejects the same degenerate
//! inputs with the same typed error instead of propagating NaN.

use super::error::{AnalyticsError, Result};

/// Rejects an empty series or one holding NaN/inf.
pub fn finite(series: &'static str, v: &[f64]) -> Result<()> {
    if v.is_empty() {
        return Err(AnalyticsError::Empty { series });
    }
    match v.iter().position(|a| !a.is_finite()) {
        Some(index) => Err(AnalyticsError::NonFinite {
            series,
            index,
            value: v[index],
        }),
        None => Ok(()),
    }
}

/// Rejects a pair of series of different length or with bad values.
pub fn pair(x: &[f64], y: &[f64]) -> Result<()> {
    finite("x", x)?;
    finite("y", y)?;
    if x.len() != y.len() {
        return Err(AnalyticsError::LengthMismatch {
            x: x.len(),
            y: y.len(),
        });
    }
    Ok(())
}

/// Requires at least `needed` points for `what`.
pub fn min_len(what: &'static str, got: usize, needed: usize) -> Result<()> {
    if got < needed {
        Err(AnalyticsError::TooShort { what, needed, got })
    } else {
        Ok(())
    }
}

/// Natural log of a price series; zero or negative prices are an error
/// rather than a NaN/-inf that would poison every later statistic.
pub fn log_prices(series: &'static str, v: &[f64]) -> Result<Vec<f64>> {
    finite(series, v)?;
    v.iter()
        .enumerate()
        .map(|(index, &p)| {
            if p > 0.0 {
                Ok(p.ln())
            } else {
                Err(AnalyticsError::NonPositivePrice {
                    series,
                    index,
                    value: p,
                })
            }
        })
        .collect()
}

/// Rejects a series whose values are all identical.
pub fn not_constant(series: &'static str, v: &[f64]) -> Result<()> {
    let first = v.first().copied().unwrap_or(0.0);
    if v.iter().all(|&a| a == first) {
        Err(AnalyticsError::ConstantSeries { series })
    } else {
        Ok(())
    }
}

/// Requires a finite, strictly positive parameter.
pub fn positive(name: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(AnalyticsError::InvalidParameter {
            name,
            reason: format!("must be finite and > 0, got {v}"),
        })
    }
}
