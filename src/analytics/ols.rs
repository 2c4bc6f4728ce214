//! Full-sample two-variable OLS hedge ratio (`y = a + b x` or `y = b x`)
//! with the inference statistics statsmodels' `OLS` reports.
//!
//! Closed form on centred data: two passes keep full precision at BTC price
//! levels where raw normal equations (`sum x^2 ~ 1e15`) would lose digits.

use super::error::{AnalyticsError, Result};
use super::stats::{mean, t_pvalue};
use super::validate;

/// Result of an OLS fit of `y` on `x`.
///
/// Without an intercept `alpha` is `0.0` and its statistics are `None`;
/// `r2` is then the *uncentered* R² as statsmodels reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct OlsFit {
    pub intercept: bool,
    pub alpha: f64,
    pub beta: f64,
    pub alpha_se: Option<f64>,
    pub beta_se: f64,
    pub alpha_t: Option<f64>,
    pub beta_t: f64,
    pub alpha_p: Option<f64>,
    pub beta_p: f64,
    pub r2: f64,
    /// `sqrt(ssr / df_resid)`.
    pub resid_std: f64,
    pub ssr: f64,
    pub nobs: usize,
    pub df_resid: usize,
}

impl OlsFit {
    /// Residuals `y - alpha - beta x`.
    pub fn residuals(&self, x: &[f64], y: &[f64]) -> Vec<f64> {
        x.iter()
            .zip(y)
            .map(|(&xi, &yi)| yi - self.alpha - self.beta * xi)
            .collect()
    }
}

/// Fits `y = alpha + beta x` (or `y = beta x` when `intercept` is false).
///
/// Errors on empty/mismatched/non-finite input, fewer than `k + 1` points,
/// constant `x` (or all-zero `x` without intercept), and an exact fit
/// (zero residual variance) whose t statistics would be infinite.
pub fn ols(x: &[f64], y: &[f64], intercept: bool) -> Result<OlsFit> {
    validate::pair(x, y)?;
    let n = x.len();
    let k = if intercept { 2 } else { 1 };
    validate::min_len("OLS", n, k + 1)?;
    let nf = n as f64;
    let df = n - k;

    let (mx, my) = if intercept {
        (mean(x), mean(y))
    } else {
        (0.0, 0.0)
    };
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (&xi, &yi) in x.iter().zip(y) {
        let (dx, dy) = (xi - mx, yi - my);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx == 0.0 {
        return Err(if intercept {
            AnalyticsError::ConstantSeries { series: "x" }
        } else {
            AnalyticsError::Collinear {
                what: "OLS without intercept (x is all zeros)",
            }
        });
    }
    if intercept && syy == 0.0 {
        return Err(AnalyticsError::ConstantSeries { series: "y" });
    }
    let beta = sxy / sxx;
    let alpha = if intercept { my - beta * mx } else { 0.0 };
    // Residuals from centred values avoid subtracting two ~1e5 numbers.
    let ssr: f64 = x
        .iter()
        .zip(y)
        .map(|(&xi, &yi)| {
            let r = (yi - my) - beta * (xi - mx);
            r * r
        })
        .sum();
    // An exact linear relation leaves nothing to test: t would be infinite.
    if ssr <= syy * 1e-28 {
        return Err(AnalyticsError::Collinear {
            what: "OLS hedge ratio (y is an exact linear function of x)",
        });
    }
    let s2 = ssr / df as f64;
    let beta_se = (s2 / sxx).sqrt();
    let beta_t = beta / beta_se;
    let dff = df as f64;
    let (alpha_se, alpha_t, alpha_p) = if intercept {
        let se = (s2 * (1.0 / nf + mx * mx / sxx)).sqrt();
        let t = alpha / se;
        (Some(se), Some(t), Some(t_pvalue(t, dff)))
    } else {
        (None, None, None)
    };
    Ok(OlsFit {
        intercept,
        alpha,
        beta,
        alpha_se,
        beta_se,
        alpha_t,
        beta_t,
        alpha_p,
        beta_p: t_pvalue(beta_t, dff),
        r2: 1.0 - ssr / syy,
        resid_std: s2.sqrt(),
        ssr,
        nobs: n,
        df_resid: df,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_line_is_collinear_error() {
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|v| 2.0 + 3.0 * v).collect();
        assert!(matches!(
            ols(&x, &y, true),
            Err(AnalyticsError::Collinear { .. })
        ));
    }

    #[test]
    fn constant_x_is_error() {
        let x = vec![5.0; 10];
        let y: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(
            ols(&x, &y, true),
            Err(AnalyticsError::ConstantSeries { series: "x" })
        );
    }

    #[test]
    fn too_short_and_mismatch() {
        assert!(matches!(
            ols(&[1.0, 2.0], &[1.0, 3.0], true),
            Err(AnalyticsError::TooShort { .. })
        ));
        assert!(matches!(
            ols(&[1.0, 2.0, 3.0], &[1.0, 3.0], true),
            Err(AnalyticsError::LengthMismatch { x: 3, y: 2 })
        ));
        assert!(matches!(
            ols(&[], &[], true),
            Err(AnalyticsError::Empty { .. })
        ));
        assert!(matches!(
            ols(&[1.0, f64::NAN, 3.0], &[1.0, 3.0, 2.0], true),
            Err(AnalyticsError::NonFinite { index: 1, .. })
        ));
    }

    #[test]
    fn simple_fit() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [1.1, 1.9, 3.2, 3.9, 5.1];
        let f = ols(&x, &y, true).unwrap();
        assert!((f.beta - 1.0).abs() < 1e-12);
        assert!(f.r2 > 0.99);
    }
}
