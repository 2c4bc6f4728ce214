//! Kalman-filter dynamic hedge ratio (Chan, "Algorithmic Trading", 2013).
//!
//! State `theta_t = [beta_t, alpha_t]` follows a random walk with noise
//! covariance `Vw = delta / (1 - delta) * I`; the observation is
//! `y_t = beta_t x_t + alpha_t + v_t`, `v_t ~ N(0, obs_var)`. Before bar 0
//! the state is `N(0, initial_var * I)` (Chan starts from 0 with
//! `initial_var = 0`).
//!
//! Per bar: prior `R = P + Vw`, forecast `yhat = beta x + alpha` with the
//! prior (one-step-ahead) state, innovation `e = y - yhat`, innovation
//! variance `Q = F R F' + obs_var`, gain `K = R F' / Q`, posterior
//! `theta += K e`, `P = R - K F R`.
//!
//! Numerics: square-root form. On log prices `F = [x, 1]` with `x ~ 11.4`
//! and the state covariance soon becomes nearly singular (alpha and beta
//! are almost perfectly anti-correlated, `alpha ~ -beta x`). The textbook
//! update `R - (R F')(R F')' / Q` then subtracts nearly equal matrices; with
//! a small `delta`/`obs_var` and a large `initial_var` it lost every digit
//! of beta within 3,000 bars of log prices at 11.4 (in a float64 emulation
//! the Joseph form even drove `Q` negative there). The filter therefore carries a lower-triangular `S`
//! with `P = S S'`:
//! * time update `T T' = S S' + Vw` in closed form without cancellation
//!   (`t00 = sqrt(s00² + v²)`, `t10 = s10 s00 / t00`,
//!   `t11 = sqrt(s11² + v² + (s10 v / t00)²)`, `v² = delta / (1 - delta)`);
//! * measurement update (Potter): `phi = T' F'`, `Q = phi'phi + obs_var`
//!   (a sum of squares, never negative), `K = T phi / Q`,
//!   `S = T (I - g phi phi' / Q)` with `g = 1 / (1 + sqrt(obs_var / Q))`,
//!   re-triangularised by one Givens rotation.
//!
//! `P` is positive semi-definite by construction, and beta, alpha, z and
//! `Q` agree with a 60-digit evaluation of the textbook recursion to 1e-8
//! (`oracle_kalman_at_log_price_level`, fixture `kalman_log_level.json`)
//! in the tuning where the f64 textbook recursion is off by 0.5.
//!
//! Outputs: `beta`/`alpha` are the *filtered* (posterior) coefficients at
//! bar `t`, which include bar `t`. `spread` is the innovation `e_t`, i.e. the
//! spread computed with the coefficients known *before* bar `t`'s `y` was
//! seen, so it carries no look-ahead and is not shrunk towards zero by the
//! update; `zscore` is the standardised innovation `e_t / sqrt(Q_t)`.

use super::error::Result;
use super::validate;

/// Filter tuning.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct KalmanOptions {
    /// State noise ratio in `(0, 1)`; larger adapts faster.
    pub delta: f64,
    /// Observation noise variance.
    pub obs_var: f64,
    /// Prior variance of each state component before bar 0 (may be 0).
    pub initial_var: f64,
}

impl Default for KalmanOptions {
    fn default() -> Self {
        Self {
            delta: 1e-4,
            obs_var: 1e-3,
            initial_var: 0.0,
        }
    }
}

/// Filtered series, one value per bar.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KalmanOutput {
    pub beta: Vec<f64>,
    pub alpha: Vec<f64>,
    pub spread: Vec<f64>,
    pub innovation_var: Vec<f64>,
    pub zscore: Vec<f64>,
}

/// Potter's square-root measurement update `T (I - g phi phi' / q)` for
/// lower-triangular `T = [[t00, 0], [t10, t11]]`, re-triangularised by a
/// Givens rotation; returns the new `(s00, s10, s11)`.
#[inline]
fn potter(t00: f64, t10: f64, t11: f64, f0: f64, f1: f64, q: f64, ve: f64) -> (f64, f64, f64) {
    let g = 1.0 / (1.0 + (ve / q).sqrt());
    let (i00, i01, i11) = (
        1.0 - g * f0 * f0 / q,
        -g * f0 * f1 / q,
        1.0 - g * f1 * f1 / q,
    );
    let (u00, u01) = (t00 * i00, t00 * i01);
    let (u10, u11) = (t10 * i00 + t11 * i01, t10 * i01 + t11 * i11);
    let nr = u00.hypot(u01);
    if nr > 0.0 {
        let (c, s) = (u00 / nr, u01 / nr);
        (nr, u10 * c + u11 * s, (u11 * c - u10 * s).abs())
    } else {
        (0.0, u10, u11.abs())
    }
}

/// Runs the filter over `(x, y)` (see module docs).
pub fn kalman(x: &[f64], y: &[f64], opts: &KalmanOptions) -> Result<KalmanOutput> {
    validate::pair(x, y)?;
    if !(opts.delta > 0.0 && opts.delta < 1.0) {
        return Err(super::error::AnalyticsError::InvalidParameter {
            name: "delta",
            reason: format!("must be in (0, 1), got {}", opts.delta),
        });
    }
    validate::positive("obs_var", opts.obs_var)?;
    if !(opts.initial_var >= 0.0 && opts.initial_var.is_finite()) {
        return Err(super::error::AnalyticsError::InvalidParameter {
            name: "initial_var",
            reason: format!("must be finite and >= 0, got {}", opts.initial_var),
        });
    }
    let n = x.len();
    let vw = opts.delta / (1.0 - opts.delta);
    let ve = opts.obs_var;
    let mut out = KalmanOutput {
        beta: Vec::with_capacity(n),
        alpha: Vec::with_capacity(n),
        spread: Vec::with_capacity(n),
        innovation_var: Vec::with_capacity(n),
        zscore: Vec::with_capacity(n),
    };
    let (mut b, mut a) = (0.0f64, 0.0f64);
    let v = vw.sqrt();
    // P = S S', S = [[s00, 0], [s10, s11]].
    let r0 = opts.initial_var.sqrt();
    let (mut s00, mut s10, mut s11) = (r0, 0.0f64, r0);
    for (&xt, &yt) in x.iter().zip(y) {
        // Time update: T T' = S S' + v^2 I.
        let t00 = s00.hypot(v);
        let (t10, t11) = if t00 > 0.0 {
            let t10 = s10 * s00 / t00;
            (t10, (s11 * s11 + v * v + (s10 * v / t00).powi(2)).sqrt())
        } else {
            (0.0, (s11 * s11 + s10 * s10 + v * v).sqrt())
        };
        let e = yt - (b * xt + a);
        // phi = T' F' with F = [x, 1].
        let f0 = t00 * xt + t10;
        let f1 = t11;
        let q = f0 * f0 + f1 * f1 + ve;
        let (k0, k1) = (t00 * f0 / q, (t10 * f0 + t11 * f1) / q);
        b += k0 * e;
        a += k1 * e;
        (s00, s10, s11) = potter(t00, t10, t11, f0, f1, q, ve);
        out.beta.push(b);
        out.alpha.push(a);
        out.spread.push(e);
        out.innovation_var.push(q);
        out.zscore.push(e / q.sqrt());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The square-root recursion is the textbook one in exact arithmetic:
    /// on a well-conditioned series both agree to rounding.
    #[test]
    fn equals_textbook_recursion_when_well_conditioned() {
        let x: Vec<f64> = (0..500)
            .map(|i| 1.0 + ((i * 37) % 23) as f64 / 7.0)
            .collect();
        let y: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, v)| 0.5 + 1.5 * v + ((i * 11) % 5) as f64 / 10.0)
            .collect();
        let opts = KalmanOptions {
            delta: 1e-3,
            obs_var: 0.1,
            initial_var: 1.0,
        };
        let out = kalman(&x, &y, &opts).unwrap();
        let vw = opts.delta / (1.0 - opts.delta);
        let (mut b, mut a) = (0.0, 0.0);
        let (mut p00, mut p01, mut p11) = (1.0, 0.0, 1.0);
        for t in 0..x.len() {
            let (r00, r01, r11) = (p00 + vw, p01, p11 + vw);
            let e = y[t] - (b * x[t] + a);
            let rf0 = r00 * x[t] + r01;
            let rf1 = r01 * x[t] + r11;
            let q = x[t] * rf0 + rf1 + opts.obs_var;
            let (k0, k1) = (rf0 / q, rf1 / q);
            b += k0 * e;
            a += k1 * e;
            p00 = r00 - k0 * rf0;
            p01 = r01 - k0 * rf1;
            p11 = r11 - k1 * rf1;
            assert!(
                (out.beta[t] - b).abs() < 1e-12 * b.abs().max(1.0),
                "bar {t}"
            );
            assert!((out.innovation_var[t] - q).abs() < 1e-12 * q, "bar {t}");
        }
    }

    #[test]
    fn zero_initial_variance_starts_from_zero_state() {
        let out = kalman(&[1.0, 2.0], &[1.0, 2.0], &KalmanOptions::default()).unwrap();
        assert!(out.innovation_var.iter().all(|q| *q > 0.0));
        assert_eq!(out.spread[0], 1.0);
    }
}
