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
    // P = [[p00, p01], [p01, p11]]
    let (mut p00, mut p01, mut p11) = (opts.initial_var, 0.0, opts.initial_var);
    for (&xt, &yt) in x.iter().zip(y) {
        let (r00, r01, r11) = (p00 + vw, p01, p11 + vw);
        let e = yt - (b * xt + a);
        // R F' with F = [x, 1].
        let rf0 = r00 * xt + r01;
        let rf1 = r01 * xt + r11;
        let q = xt * rf0 + rf1 + ve;
        let (k0, k1) = (rf0 / q, rf1 / q);
        b += k0 * e;
        a += k1 * e;
        // P = R - K (F R) = R - (R F')(R F')' / Q.
        p00 = r00 - k0 * rf0;
        p01 = r01 - k0 * rf1;
        p11 = r11 - k1 * rf1;
        out.beta.push(b);
        out.alpha.push(a);
        out.spread.push(e);
        out.innovation_var.push(q);
        out.zscore.push(e / q.sqrt());
    }
    Ok(out)
}
