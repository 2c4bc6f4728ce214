//! Least squares with several regressors, as `statsmodels.api.OLS(y, X).fit()`
//! reports it: `params`, `bse`, `tvalues`, `pvalues`, `rsquared`, `ssr`.
//!
//! The design is `[x_1 .. x_k, 1]` (the constant last, as statsmodels'
//! `add_trend(prepend=False)` puts it in `coint`). It is solved by Householder
//! QR of X itself rather than the normal equations: price levels with a
//! constant are badly conditioned (cond(X) ~ 1e4 on log prices), and forming
//! X'X would square that and cost half the digits statsmodels' pinv keeps.
//!
//! With `R` from `X = QR`: `beta = R^-1 Q'y`, `cov = s^2 (R'R)^-1` with
//! `s^2 = ssr / (n - p)`, `bse = sqrt(diag cov)`, `t = beta / bse` and
//! two-sided p-values from Student's t on `n - p` degrees of freedom.
//! `rsquared` is centred when there is a constant and uncentred otherwise,
//! as statsmodels does.

use super::error::{AnalyticsError, Result};
use super::stats::t_pvalue;
use super::validate;

/// Regressors beyond this many are refused (baskets have at most 12 legs).
pub const MAX_REGRESSORS: usize = 16;

/// A fitted multi-regressor OLS; vectors are in design order (regressors,
/// then the constant when `intercept`).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MultiOls {
    pub intercept: bool,
    pub params: Vec<f64>,
    pub bse: Vec<f64>,
    pub tvalues: Vec<f64>,
    pub pvalues: Vec<f64>,
    pub rsquared: f64,
    pub ssr: f64,
    pub nobs: usize,
    pub df_resid: usize,
}

impl MultiOls {
    /// `y - X beta` for the same design.
    pub fn residuals(&self, y: &[f64], xs: &[&[f64]]) -> Vec<f64> {
        let c = if self.intercept {
            self.params[xs.len()]
        } else {
            0.0
        };
        (0..y.len())
            .map(|t| {
                let fit: f64 = xs.iter().zip(&self.params).map(|(x, b)| b * x[t]).sum();
                y[t] - fit - c
            })
            .collect()
    }
}

/// Fit `y` on `xs` (each as long as `y`), with a trailing constant when
/// `intercept`. Needs more observations than parameters; a design whose
/// columns are (numerically) dependent is [`AnalyticsError::Collinear`].
pub fn ols_multi(y: &[f64], xs: &[&[f64]], intercept: bool) -> Result<MultiOls> {
    let qr = factor(y, xs, intercept)?;
    infer(y, xs, intercept, qr)
}

/// [`ols_multi`]'s `params` alone (the same numbers), without the standard
/// errors, p-values and fit statistics: for refits per bar (the rolling
/// hedge), where those would cost more than the fit.
pub fn ols_params(y: &[f64], xs: &[&[f64]], intercept: bool) -> Result<Vec<f64>> {
    Ok(factor(y, xs, intercept)?.params)
}

/// The design factored by Householder QR and solved.
struct Qr {
    /// `R` above its diagonal (`a[j][i]`, i < j) and on it (`diag`).
    a: Vec<Vec<f64>>,
    diag: Vec<f64>,
    params: Vec<f64>,
}

fn factor(y: &[f64], xs: &[&[f64]], intercept: bool) -> Result<Qr> {
    validate::finite("y", y)?;
    if xs.is_empty() || xs.len() > MAX_REGRESSORS {
        return Err(AnalyticsError::InvalidParameter {
            name: "regressors",
            reason: format!("expected 1 to {MAX_REGRESSORS}, got {}", xs.len()),
        });
    }
    let n = y.len();
    for x in xs {
        if x.len() != n {
            return Err(AnalyticsError::LengthMismatch { x: x.len(), y: n });
        }
        validate::finite("x", x)?;
    }
    let p = xs.len() + usize::from(intercept);
    validate::min_len("multiple regression", n, p + 1)?;

    // Column-major design, factored in place.
    let mut a: Vec<Vec<f64>> = xs.iter().map(|x| x.to_vec()).collect();
    if intercept {
        a.push(vec![1.0; n]);
    }
    let mut qty = y.to_vec();
    let mut diag = vec![0.0; p];
    let own: Vec<f64> = a
        .iter()
        .map(|c| c.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect();
    for j in 0..p {
        // Householder vector for column j below the diagonal; what is left
        // of the column after the earlier ones is |R_jj|, and a column that
        // keeps under 1e-12 of its own norm is a combination of the others.
        let norm = a[j][j..].iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm == 0.0 || norm <= own[j] * 1e-12 {
            return Err(AnalyticsError::Collinear {
                what: "multiple regression",
            });
        }
        let alpha = if a[j][j] > 0.0 { -norm } else { norm };
        let (head, tail) = a.split_at_mut(j + 1);
        let v = &mut head[j];
        v[j] -= alpha;
        let vnorm2 = v[j..].iter().map(|x| x * x).sum::<f64>();
        let reflect = |w: &mut [f64]| {
            let d = v[j..].iter().zip(&w[j..]).map(|(a, b)| a * b).sum::<f64>();
            let f = 2.0 * d / vnorm2;
            for (wi, vi) in w[j..].iter_mut().zip(&v[j..]) {
                *wi -= f * vi;
            }
        };
        for col in tail.iter_mut() {
            reflect(col);
        }
        reflect(&mut qty);
        diag[j] = alpha;
    }
    // R is upper triangular: R[i][j] = a[j][i] for i < j, R[j][j] = diag[j].
    let r = |i: usize, j: usize| if i == j { diag[j] } else { a[j][i] };
    let mut params = vec![0.0; p];
    for i in (0..p).rev() {
        let s: f64 = ((i + 1)..p).map(|j| r(i, j) * params[j]).sum();
        params[i] = (qty[i] - s) / r(i, i);
    }
    Ok(Qr { a, diag, params })
}

/// Standard errors, t and p-values and the fit statistics of a solved
/// design.
fn infer(y: &[f64], xs: &[&[f64]], intercept: bool, qr: Qr) -> Result<MultiOls> {
    let Qr { a, diag, params } = qr;
    let (n, p) = (y.len(), params.len());
    let r = |i: usize, j: usize| if i == j { diag[j] } else { a[j][i] };
    // R^-1 by back substitution, one column at a time (`cols[c][i]` is
    // entry (i, c)); then diag (R'R)^-1 = row sums of squares of R^-1.
    let mut cols: Vec<Vec<f64>> = Vec::with_capacity(p);
    for c in 0..p {
        let mut col = vec![0.0; p];
        for i in (0..=c).rev() {
            let rhs = if i == c { 1.0 } else { 0.0 };
            let s: f64 = ((i + 1)..=c).map(|j| r(i, j) * col[j]).sum();
            col[i] = (rhs - s) / r(i, i);
        }
        cols.push(col);
    }
    let fit = MultiOls {
        intercept,
        params,
        bse: Vec::new(),
        tvalues: Vec::new(),
        pvalues: Vec::new(),
        rsquared: 0.0,
        ssr: 0.0,
        nobs: n,
        df_resid: n - p,
    };
    let resid = fit.residuals(y, xs);
    let ssr: f64 = resid.iter().map(|e| e * e).sum();
    let tss: f64 = if intercept {
        let m = y.iter().sum::<f64>() / n as f64;
        y.iter().map(|v| (v - m) * (v - m)).sum()
    } else {
        y.iter().map(|v| v * v).sum()
    };
    let s2 = ssr / (n - p) as f64;
    let bse: Vec<f64> = (0..p)
        .map(|i| (s2 * cols[i..].iter().map(|c| c[i] * c[i]).sum::<f64>()).sqrt())
        .collect();
    let tvalues: Vec<f64> = fit.params.iter().zip(&bse).map(|(b, s)| b / s).collect();
    let df = (n - p) as f64;
    Ok(MultiOls {
        pvalues: tvalues.iter().map(|&t| t_pvalue(t, df)).collect(),
        bse,
        tvalues,
        rsquared: 1.0 - ssr / tss,
        ssr,
        ..fit
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::ols::ols;

    fn noise(i: usize, k: usize) -> f64 {
        ((i * 7919 + k * 104_729 + 13) % 1009) as f64 / 1009.0 - 0.5
    }

    #[test]
    fn params_alone_are_the_full_fit_s() {
        let x1: Vec<f64> = (0..120)
            .map(|i| 10.0 + noise(i, 3) + 0.01 * i as f64)
            .collect();
        let x2: Vec<f64> = (0..120).map(|i| 5.0 + noise(i, 4)).collect();
        let y: Vec<f64> = (0..120)
            .map(|i| 1.0 + 0.5 * x1[i] - 0.25 * x2[i] + 0.1 * noise(i, 5))
            .collect();
        for intercept in [true, false] {
            let full = ols_multi(&y, &[&x1, &x2], intercept).unwrap();
            let params = ols_params(&y, &[&x1, &x2], intercept).unwrap();
            assert_eq!(params, full.params, "bit for bit");
        }
        assert!(ols_params(&y, &[&x1, &x1], true).is_err(), "collinear");
    }

    #[test]
    fn one_regressor_matches_the_closed_form() {
        let x: Vec<f64> = (0..200)
            .map(|i| 50.0 + i as f64 * 0.1 + noise(i, 1))
            .collect();
        let y: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, v)| 2.0 + 0.7 * v + noise(i, 2))
            .collect();
        let m = ols_multi(&y, &[&x], true).unwrap();
        let f = ols(&x, &y, true).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-10 * b.abs().max(1.0);
        assert!(close(m.params[0], f.beta), "{} {}", m.params[0], f.beta);
        assert!(close(m.params[1], f.alpha));
        assert!(close(m.bse[0], f.beta_se));
        assert!(close(m.bse[1], f.alpha_se.unwrap()));
        assert!(close(m.rsquared, f.r2));
        assert_eq!(m.df_resid, 198);
    }

    #[test]
    fn recovers_an_exact_plane_and_names_dependence() {
        let a: Vec<f64> = (0..50).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..50).map(|i| ((i * i) % 17) as f64).collect();
        let y: Vec<f64> = (0..50)
            .map(|i| 1.5 * a[i] - 2.0 * b[i] + 4.0 + 1e-3 * noise(i, 3))
            .collect();
        let m = ols_multi(&y, &[&a, &b], true).unwrap();
        assert!((m.params[0] - 1.5).abs() < 1e-3);
        assert!((m.params[1] + 2.0).abs() < 1e-3);
        assert!((m.params[2] - 4.0).abs() < 1e-2);
        let twice: Vec<f64> = a.iter().map(|v| 2.0 * v).collect();
        assert!(matches!(
            ols_multi(&y, &[&a, &twice], true),
            Err(AnalyticsError::Collinear { .. })
        ));
        assert!(matches!(
            ols_multi(&y[..2], &[&a[..2]], true),
            Err(AnalyticsError::TooShort { .. })
        ));
        assert!(matches!(
            ols_multi(&y, &[&a[..10]], true),
            Err(AnalyticsError::LengthMismatch { .. })
        ));
    }
}
