//! Ornstein-Uhlenbeck fit of a spread by exact maximum likelihood.
//!
//! `dX = theta (mu - X) dt + sigma dW` sampled every `dt` is exactly the
//! AR(1) `X_{t+1} = a + b X_t + e_t`, `e ~ N(0, s^2)`, with
//! `b = exp(-theta dt)`, `a = mu (1 - b)`, `s^2 = sigma^2 (1 - b^2) / (2 theta)`.
//! Conditional on the first point the likelihood is Gaussian in `(a, b, s^2)`,
//! so the MLE is OLS of `X_{t+1}` on `[1, X_t]` with `s^2 = ssr / m` (`m`
//! transitions, not `m - 2`), and by invariance
//! `theta = -ln b / dt`, `mu = a / (1 - b)`, `sigma = s sqrt(2 theta / (1 - b^2))`.
//!
//! Standard errors come from the inverse information of `(a, b, s^2)`
//! (`s^2 (X'X)^-1` and `2 s^4 / m`, uncorrelated) mapped through the
//! Jacobian of that transform (the delta method, exact for the observed
//! information at the MLE). The half-life is `ln 2 / theta` in units of `dt`.
//! A path with `b >= 1` does not revert and `b <= 0` is not an OU sampled at
//! this rate; both are refused rather than fitted.

use super::error::{AnalyticsError, Result};
use super::validate;

/// Fitted OU parameters (per `dt`) with standard errors.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OuFit {
    pub theta: f64,
    pub mu: f64,
    pub sigma: f64,
    pub theta_se: f64,
    pub mu_se: f64,
    pub sigma_se: f64,
    /// `ln 2 / theta`, in units of `dt`.
    pub half_life: f64,
    /// Exact (conditional) log-likelihood at the estimate.
    pub log_likelihood: f64,
    pub dt: f64,
    pub nobs: usize,
}

impl OuFit {
    /// A process given by its parameters rather than fitted (no standard
    /// errors, no sample), e.g. a published example for the band formulas.
    pub fn with_parameters(theta: f64, mu: f64, sigma: f64) -> OuFit {
        OuFit {
            theta,
            mu,
            sigma,
            theta_se: 0.0,
            mu_se: 0.0,
            sigma_se: 0.0,
            half_life: std::f64::consts::LN_2 / theta,
            log_likelihood: 0.0,
            dt: 1.0,
            nobs: 0,
        }
    }
}

/// Exact MLE of an OU process sampled every `dt` (see module docs).
pub fn ou_mle(x: &[f64], dt: f64) -> Result<OuFit> {
    validate::finite("spread", x)?;
    validate::min_len("Ornstein-Uhlenbeck fit", x.len(), 10)?;
    validate::not_constant("spread", x)?;
    if !(dt.is_finite() && dt > 0.0) {
        return Err(AnalyticsError::InvalidParameter {
            name: "dt",
            reason: format!("must be a positive time step, got {dt}"),
        });
    }
    let m = x.len() - 1;
    let mf = m as f64;
    let (lag, next) = (&x[..m], &x[1..]);
    let ml = lag.iter().sum::<f64>() / mf;
    let mn = next.iter().sum::<f64>() / mf;
    let sll: f64 = lag.iter().map(|v| (v - ml) * (v - ml)).sum();
    let sln: f64 = lag.iter().zip(next).map(|(l, n)| (l - ml) * (n - mn)).sum();
    if sll == 0.0 {
        return Err(AnalyticsError::ConstantSeries { series: "spread" });
    }
    let b = sln / sll;
    let a = mn - b * ml;
    if !(b > 0.0 && b < 1.0) {
        return Err(AnalyticsError::InvalidParameter {
            name: "spread",
            reason: format!(
                "not mean-reverting at this sampling: AR(1) coefficient {b:.6} is outside (0, 1)"
            ),
        });
    }
    let ssr: f64 = lag
        .iter()
        .zip(next)
        .map(|(l, n)| (n - a - b * l).powi(2))
        .sum();
    let s2 = ssr / mf;
    if s2 <= 0.0 {
        return Err(AnalyticsError::InvalidParameter {
            name: "spread",
            reason: "the path is exactly autoregressive (no noise to fit)".into(),
        });
    }
    let theta = -b.ln() / dt;
    let mu = a / (1.0 - b);
    let one_b2 = 1.0 - b * b;
    let sigma = (s2 * 2.0 * theta / one_b2).sqrt();

    // Cov(a, b) = s2 (X'X)^-1 for the design [1, lag].
    let var_b = s2 / sll;
    let var_a = s2 * (1.0 / mf + ml * ml / sll);
    let cov_ab = -s2 * ml / sll;
    let var_s2 = 2.0 * s2 * s2 / mf;
    // theta = -ln b / dt
    let theta_se = (var_b).sqrt() / (b * dt);
    // mu = a / (1 - b)
    let (gma, gmb) = (1.0 / (1.0 - b), a / (1.0 - b).powi(2));
    let mu_se = (gma * gma * var_a + 2.0 * gma * gmb * cov_ab + gmb * gmb * var_b).sqrt();
    // sigma = sqrt(s2 h(b)), h(b) = -2 ln b / (dt (1 - b^2))
    let h = -2.0 * b.ln() / (dt * one_b2);
    let dh = (-2.0 * one_b2 / b - 4.0 * b * b.ln()) / (dt * one_b2 * one_b2);
    let gsb = (s2 / h).sqrt() * dh / 2.0;
    let gss = (h / s2).sqrt() / 2.0;
    let sigma_se = (gsb * gsb * var_b + gss * gss * var_s2).sqrt();
    let log_likelihood = -0.5 * mf * ((2.0 * std::f64::consts::PI * s2).ln() + 1.0);
    Ok(OuFit {
        theta,
        mu,
        sigma,
        theta_se,
        mu_se,
        sigma_se,
        half_life: std::f64::consts::LN_2 / theta,
        log_likelihood,
        dt,
        nobs: x.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact OU transitions driven by a fixed-seed normal stream.
    pub(crate) fn simulate(
        theta: f64,
        mu: f64,
        sigma: f64,
        dt: f64,
        n: usize,
        seed: u64,
    ) -> Vec<f64> {
        let mut state = seed;
        let mut uniform = || {
            // splitmix64
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        let b = (-theta * dt).exp();
        let sd = sigma * ((1.0 - b * b) / (2.0 * theta)).sqrt();
        let mut x = mu;
        (0..n)
            .map(|_| {
                // Box-Muller
                let (u1, u2) = (uniform().max(1e-300), uniform());
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                x = mu + b * (x - mu) + sd * z;
                x
            })
            .collect()
    }

    #[test]
    fn recovers_simulated_parameters_within_their_standard_errors() {
        let (theta, mu, sigma, dt) = (0.05, 1.5, 0.02, 1.0);
        let mut hits = [0usize; 3];
        let paths = 200;
        let mut mean_theta = 0.0;
        for seed in 0..paths {
            let x = simulate(theta, mu, sigma, dt, 5000, seed as u64 + 1);
            let f = ou_mle(&x, dt).unwrap();
            mean_theta += f.theta / paths as f64;
            hits[0] += usize::from((f.theta - theta).abs() < 1.96 * f.theta_se);
            hits[1] += usize::from((f.mu - mu).abs() < 1.96 * f.mu_se);
            hits[2] += usize::from((f.sigma - sigma).abs() < 1.96 * f.sigma_se);
        }
        // 95% intervals cover the truth in about 95% of paths (binomial
        // sd ~1.5% over 200 paths; theta's small-sample bias widens it).
        for (i, h) in hits.iter().enumerate() {
            let cover = *h as f64 / paths as f64;
            assert!(
                (0.88..=0.99).contains(&cover),
                "parameter {i}: coverage {cover}"
            );
        }
        // The known upward bias of theta is about (1 + 3b) / (T dt)... small here.
        assert!((mean_theta - theta).abs() < 0.1 * theta, "{mean_theta}");
    }

    #[test]
    fn refuses_what_does_not_revert() {
        let walk: Vec<f64> = (0..200)
            .map(|i| 1.01f64.powi(i) + ((i * 31) % 7) as f64 * 1e-3)
            .collect();
        assert!(matches!(
            ou_mle(&walk, 1.0),
            Err(AnalyticsError::InvalidParameter { name: "spread", .. })
        ));
        assert!(matches!(
            ou_mle(&[1.0; 50], 1.0),
            Err(AnalyticsError::ConstantSeries { .. })
        ));
        let x = simulate(0.1, 0.0, 1.0, 1.0, 100, 7);
        assert!(matches!(
            ou_mle(&x, 0.0),
            Err(AnalyticsError::InvalidParameter { name: "dt", .. })
        ));
    }
}
