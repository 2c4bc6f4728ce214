//! Total least squares (orthogonal regression) hedge ratio: the line that
//! minimises the sum of squared perpendicular distances, so neither leg is
//! "the" dependent one and swapping them gives `1 / beta`.
//!
//! With centred sums `sxx`, `syy`, `sxy` and `d = syy - sxx`:
//! `beta = (d + sqrt(d^2 + 4 sxy^2)) / (2 sxy)`, `alpha = mean y - beta mean x`
//! (the smallest right-singular vector of the centred `[x y]`; computed in
//! the form that avoids cancellation when `d < 0`). TLS is not scale-free:
//! on log prices both legs are in the same units; on raw prices the
//! higher-priced leg dominates.

use super::error::{AnalyticsError, Result};
use super::moments::Centred;
use super::validate;

/// A fitted orthogonal regression line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TlsFit {
    pub alpha: f64,
    pub beta: f64,
}

/// Orthogonal regression of `y` on `x` (see module docs).
pub fn tls(x: &[f64], y: &[f64]) -> Result<TlsFit> {
    validate::pair(x, y)?;
    validate::min_len("total least squares", x.len(), 3)?;
    let m = Centred::from_pairs(x.iter().copied().zip(y.iter().copied()));
    if m.x_flat() {
        return Err(AnalyticsError::ConstantSeries { series: "x" });
    }
    if m.y_flat() {
        return Err(AnalyticsError::ConstantSeries { series: "y" });
    }
    if m.sxy == 0.0 {
        return Err(AnalyticsError::InvalidParameter {
            name: "regression",
            reason: "the legs are uncorrelated, so no orthogonal line is preferred".into(),
        });
    }
    let d = m.syy - m.sxx;
    let r = d.hypot(2.0 * m.sxy);
    let beta = if d >= 0.0 {
        (d + r) / (2.0 * m.sxy)
    } else {
        2.0 * m.sxy / (r - d)
    };
    Ok(TlsFit {
        alpha: m.my - beta * m.mx,
        beta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_perpendicular_distance_and_is_symmetric() {
        let x: Vec<f64> = (0..200)
            .map(|i| (i as f64 * 0.05).sin() * 3.0 + i as f64 * 0.01)
            .collect();
        let y: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, v)| 1.0 + 0.8 * v + ((i * 7919) % 97) as f64 / 300.0)
            .collect();
        let f = tls(&x, &y).unwrap();
        let cost = |b: f64| {
            let a = y.iter().sum::<f64>() / 200.0 - b * x.iter().sum::<f64>() / 200.0;
            x.iter()
                .zip(&y)
                .map(|(xi, yi)| (yi - a - b * xi).powi(2) / (1.0 + b * b))
                .sum::<f64>()
        };
        for db in [-1e-4, 1e-4, -1e-2, 1e-2] {
            assert!(cost(f.beta) < cost(f.beta + db));
        }
        let g = tls(&y, &x).unwrap();
        assert!((g.beta - 1.0 / f.beta).abs() < 1e-12);
        // A negative relation takes the other branch.
        let yn: Vec<f64> = y.iter().map(|v| -v).collect();
        assert!((tls(&x, &yn).unwrap().beta + f.beta).abs() < 1e-12);
        assert!(matches!(
            tls(&x, &[2.0; 200]),
            Err(AnalyticsError::ConstantSeries { series: "y" })
        ));
    }
}
