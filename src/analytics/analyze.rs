//! The analysis contract behind the CLI and HTTP endpoint: one call from two
//! price series to a serialisable [`AnalyzeReport`].
//!
//! Definitions used by the report:
//! * Prices are transformed first (`log` by default, or `raw`).
//! * `regression` is the full-sample fit of `y` on `x` of the chosen kind.
//!   OLS kinds carry statsmodels' inference statistics. Huber and
//!   Theil-Sen report `r2`/`resid_std` of their own residuals with the OLS
//!   formulas (centred R², `sqrt(ssr / (n - 2))`) and `null` standard
//!   errors, t and p. Kalman reports the last filtered state as
//!   `alpha`/`beta` and `null` for every statistic.
//! * `adf` (trend "c"), `half_life` and `hurst` are computed on the
//!   full-sample spread `y - (beta x + alpha)` using the `regression`
//!   coefficients; `coint` is the Engle-Granger test of `y` on `x`;
//!   `correlation` is the full-sample correlation of log returns of the
//!   untransformed prices (`null` if a price is <= 0 or a leg is constant).
//! * Series: with `window` the coefficients are refitted on each trailing
//!   window (value at `t` = fit on bars `t-window+1..=t`, `null` before);
//!   without it they are the full-sample constants. Kalman is dynamic by
//!   construction (filtered coefficients; spread = one-step-ahead
//!   innovation) and rejects `window`. `zscore` is the rolling z-score of
//!   `spread` over `z_window` bars.
//! * Undefined values are `null` (`None`). For the rolling coefficients
//!   `beta_undefined` lists the runs of bars where alpha/beta/spread are
//!   `null` and why: `warm-up` (fewer than `window` bars), `flat-x` (the
//!   window's x standard deviation is at most 1e-10 of its level, so the
//!   slope is not identified; see
//!   [`FLAT_RELATIVE_SPREAD`](super::moments::FLAT_RELATIVE_SPREAD)) or
//!   `fit-failed` (a robust estimator rejected the window).

use serde::{Deserialize, Serialize};

use super::adf::{adfuller, AdfOptions, Autolag};
use super::coint::coint;
use super::correlation::{log_return_correlation, return_correlation};
use super::diagnostics::{diagnostics, Diagnostics, DEFAULT_LB_LAGS, MAX_ACF_LAGS};
use super::error::{AnalyticsError, Result};
use super::half_life::half_life;
use super::half_life::min_half_life_hedge;
use super::huber::huber;
use super::hurst::hurst;
use super::kalman::{kalman, KalmanOptions};
use super::mackinnon::{CriticalValues, Trend};
use super::moments::Centred;
use super::ols::ols;
use super::ou::{ou_mle, OuFit};
use super::rolling_ols::{push_undefined, rolling_ols, Undefined, UndefinedSpan};
use super::spread::{dynamic_spread, static_spread};
use super::theil_sen::theil_sen;
use super::tls::tls;
use super::validate;
use super::zscore::{check_thresholds, rolling_zscore};

/// Hedge-ratio estimator.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegressionKind {
    #[default]
    Ols,
    OlsNoIntercept,
    Kalman,
    Huber,
    TheilSen,
    /// Total least squares (orthogonal regression): both legs alike.
    Tls,
    /// The ratio whose spread reverts fastest (shortest AR(1) half-life).
    MinHalfLife,
}

/// Intercept and slope of the static (non-OLS, non-Kalman) estimators.
pub(crate) fn robust_fit(kind: RegressionKind, x: &[f64], y: &[f64]) -> Result<(f64, f64)> {
    match kind {
        RegressionKind::Huber => huber(x, y, true).map(|f| (f.alpha, f.beta)),
        RegressionKind::TheilSen => theil_sen(x, y).map(|f| (f.alpha, f.beta)),
        RegressionKind::Tls => tls(x, y).map(|f| (f.alpha, f.beta)),
        RegressionKind::MinHalfLife => min_half_life_hedge(x, y).map(|f| (f.alpha, f.beta)),
        RegressionKind::Ols | RegressionKind::OlsNoIntercept | RegressionKind::Kalman => {
            Err(AnalyticsError::InvalidParameter {
                name: "regression",
                reason: format!("{kind:?} is not a static robust fit"),
            })
        }
    }
}

/// Price transform applied before any regression.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceScale {
    #[default]
    Log,
    Raw,
}

/// Options of [`analyze`]; `Default` gives OLS on log prices, full-sample
/// coefficients, `z_window = 20`, AIC autolag, `entry = 2`, `exit = 0.5`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnalyzeOptions {
    pub regression: RegressionKind,
    pub prices: PriceScale,
    pub window: Option<usize>,
    pub z_window: usize,
    pub autolag: Autolag,
    pub maxlag: Option<usize>,
    pub entry: f64,
    pub exit: f64,
    pub kalman: KalmanOptions,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        Self {
            regression: RegressionKind::Ols,
            prices: PriceScale::Log,
            window: None,
            z_window: 20,
            autolag: Autolag::Aic,
            maxlag: None,
            entry: 2.0,
            exit: 0.5,
            kalman: KalmanOptions::default(),
        }
    }
}

/// Fewest bars [`analyze`] takes at all.
const MIN_BARS: usize = 10;

impl AnalyzeOptions {
    /// Bars [`analyze`] needs with these options: its longest window, and
    /// [`MIN_BARS`] at least (the length checks at its start).
    pub fn min_bars(&self) -> usize {
        MIN_BARS.max(self.z_window).max(self.window.unwrap_or(0))
    }
}

/// Full-sample hedge regression block.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionReport {
    pub kind: RegressionKind,
    pub alpha: f64,
    pub beta: f64,
    pub alpha_se: Option<f64>,
    pub beta_se: Option<f64>,
    pub beta_t: Option<f64>,
    pub beta_p: Option<f64>,
    pub r2: Option<f64>,
    pub resid_std: Option<f64>,
}

/// ADF block (trend "c" on the full-sample spread).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdfReport {
    pub stat: f64,
    pub pvalue: f64,
    pub usedlag: usize,
    pub nobs: usize,
    pub crit: CriticalValues,
}

/// Engle-Granger block.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CointReport {
    pub stat: f64,
    pub pvalue: f64,
    pub crit: CriticalValues,
}

/// Everything the endpoint returns; `null` marks undefined values.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeReport {
    pub n: usize,
    pub regression: RegressionReport,
    pub adf: AdfReport,
    pub coint: CointReport,
    pub half_life: Option<f64>,
    pub hurst: Option<f64>,
    pub correlation: Option<f64>,
    pub spread: Vec<Option<f64>>,
    pub zscore: Vec<Option<f64>>,
    pub beta: Vec<Option<f64>>,
    pub alpha: Vec<Option<f64>>,
    /// Runs of bars (`start..=end`, indices into the series) where the
    /// rolling `alpha`/`beta`/`spread` are `null`, with the reason; empty
    /// without a window.
    #[serde(default)]
    pub beta_undefined: Vec<UndefinedSpan>,
    /// Skewness, kurtosis, Jarque-Bera, Ljung-Box and the ACF of the
    /// full-sample spread; `None` when it is too short or flat.
    #[serde(default)]
    pub diagnostics: Option<Diagnostics>,
    /// Ornstein-Uhlenbeck MLE of the full-sample spread, per bar; `None`
    /// when it does not revert.
    #[serde(default)]
    pub ou: Option<OuFit>,
}

/// Residual R² (centred) and `sqrt(ssr / (n - 2))` of a fitted line.
fn fit_quality(x: &[f64], y: &[f64], alpha: f64, beta: f64) -> (Option<f64>, Option<f64>) {
    let n = y.len();
    let my = y.iter().sum::<f64>() / n as f64;
    let mut ssr = 0.0;
    let mut tss = 0.0;
    for (&xi, &yi) in x.iter().zip(y) {
        let r = yi - alpha - beta * xi;
        ssr += r * r;
        tss += (yi - my) * (yi - my);
    }
    let r2 = (tss > 0.0).then(|| 1.0 - ssr / tss);
    let sd = (n > 2).then(|| (ssr / (n - 2) as f64).sqrt());
    (r2, sd)
}

/// Rolling coefficients, spread and the runs where they are undefined.
type Rolling = (
    Vec<Option<f64>>,
    Vec<Option<f64>>,
    Vec<Option<f64>>,
    Vec<UndefinedSpan>,
);

/// Refits a static estimator on every trailing window; a window whose x is
/// flat (as for rolling OLS, [`FLAT_RELATIVE_SPREAD`](super::moments::FLAT_RELATIVE_SPREAD))
/// or that the estimator rejects yields `None` (reason `flat-x`, or
/// `fit-failed`).
fn rolling_refit<F>(x: &[f64], y: &[f64], window: usize, fit: F) -> Rolling
where
    F: Fn(&[f64], &[f64]) -> Result<(f64, f64)>,
{
    let n = x.len();
    let mut alpha = vec![None; n];
    let mut beta = vec![None; n];
    let mut spans = Vec::new();
    for t in 0..n {
        if t + 1 < window {
            push_undefined(&mut spans, t, Undefined::WarmUp);
            continue;
        }
        let lo = t + 1 - window;
        // The same identification rule as rolling OLS.
        let xs = &x[lo..=t];
        let m = Centred::from_pairs(xs.iter().map(|&v| (v, 0.0)));
        if m.x_flat() {
            push_undefined(&mut spans, t, Undefined::FlatX);
            continue;
        }
        match fit(xs, &y[lo..=t]) {
            Ok((a, b)) => {
                alpha[t] = Some(a);
                beta[t] = Some(b);
            }
            Err(AnalyticsError::ConstantSeries { series: "x" }) => {
                push_undefined(&mut spans, t, Undefined::FlatX)
            }
            Err(_) => push_undefined(&mut spans, t, Undefined::FitFailed),
        }
    }
    let spread = dynamic_spread(x, y, &alpha, &beta);
    (alpha, beta, spread, spans)
}

/// Runs the whole pair analysis (see module docs).
///
/// `timestamps`, when given, must match the prices in length and be
/// strictly increasing (any unit); they are validated, not resampled.
pub fn analyze(
    x: &[f64],
    y: &[f64],
    timestamps: Option<&[i64]>,
    opts: &AnalyzeOptions,
) -> Result<AnalyzeReport> {
    validate::pair(x, y)?;
    let n = x.len();
    if let Some(ts) = timestamps {
        if ts.len() != n {
            return Err(AnalyticsError::LengthMismatch { x: n, y: ts.len() });
        }
        if let Some(i) = ts.windows(2).position(|w| w[1] <= w[0]) {
            return Err(AnalyticsError::InvalidParameter {
                name: "timestamps",
                reason: format!(
                    "must be strictly increasing; index {} is not after {}",
                    i + 1,
                    i
                ),
            });
        }
    }
    check_thresholds(opts.entry, opts.exit)?;
    validate::min_len("analysis", n, MIN_BARS)?;
    if opts.z_window < 2 {
        return Err(AnalyticsError::InvalidParameter {
            name: "z_window",
            reason: format!("must be >= 2, got {}", opts.z_window),
        });
    }
    validate::min_len("z-score window", n, opts.z_window)?;
    if let Some(w) = opts.window {
        if w < 3 {
            return Err(AnalyticsError::InvalidParameter {
                name: "window",
                reason: format!("regression window must be >= 3, got {w}"),
            });
        }
        validate::min_len("regression window", n, w)?;
        if opts.regression == RegressionKind::Kalman {
            return Err(AnalyticsError::InvalidParameter {
                name: "window",
                reason: "the Kalman filter is already dynamic; omit window".into(),
            });
        }
    }
    let (px, py) = match opts.prices {
        PriceScale::Log => (validate::log_prices("x", x)?, validate::log_prices("y", y)?),
        PriceScale::Raw => (x.to_vec(), y.to_vec()),
    };
    validate::not_constant("x", &px)?;
    validate::not_constant("y", &py)?;

    let mut kalman_out = None;
    let regression = match opts.regression {
        RegressionKind::Ols | RegressionKind::OlsNoIntercept => {
            let f = ols(&px, &py, opts.regression == RegressionKind::Ols)?;
            RegressionReport {
                kind: opts.regression,
                alpha: f.alpha,
                beta: f.beta,
                alpha_se: f.alpha_se,
                beta_se: Some(f.beta_se),
                beta_t: Some(f.beta_t),
                beta_p: Some(f.beta_p),
                r2: Some(f.r2),
                resid_std: Some(f.resid_std),
            }
        }
        RegressionKind::Huber
        | RegressionKind::TheilSen
        | RegressionKind::Tls
        | RegressionKind::MinHalfLife => {
            let (alpha, beta) = robust_fit(opts.regression, &px, &py)?;
            let (r2, resid_std) = fit_quality(&px, &py, alpha, beta);
            RegressionReport {
                kind: opts.regression,
                alpha,
                beta,
                alpha_se: None,
                beta_se: None,
                beta_t: None,
                beta_p: None,
                r2,
                resid_std,
            }
        }
        RegressionKind::Kalman => {
            let k = kalman(&px, &py, &opts.kalman)?;
            let report = RegressionReport {
                kind: RegressionKind::Kalman,
                alpha: k.alpha[n - 1],
                beta: k.beta[n - 1],
                alpha_se: None,
                beta_se: None,
                beta_t: None,
                beta_p: None,
                r2: None,
                resid_std: None,
            };
            kalman_out = Some(k);
            report
        }
    };

    let full_spread = static_spread(&px, &py, regression.alpha, regression.beta);
    let adf = adfuller(
        &full_spread,
        &AdfOptions {
            trend: Trend::C,
            autolag: opts.autolag,
            maxlag: opts.maxlag,
        },
    )?;
    let eg = coint(&py, &px, opts.autolag, opts.maxlag)?;
    let hl = half_life(&full_spread)?;
    let hu = hurst(&full_spread)?;
    let correlation = match opts.prices {
        PriceScale::Log => log_return_correlation(&px, &py)?,
        PriceScale::Raw if x.iter().chain(y).all(|&p| p > 0.0) => return_correlation(x, y)?,
        PriceScale::Raw => None,
    };

    let (alpha_s, beta_s, spread, beta_undefined) = match (opts.window, &kalman_out) {
        (_, Some(k)) => (
            k.alpha.iter().copied().map(Some).collect(),
            k.beta.iter().copied().map(Some).collect(),
            k.spread.iter().copied().map(Some).collect(),
            Vec::new(),
        ),
        (None, None) => (
            vec![Some(regression.alpha); n],
            vec![Some(regression.beta); n],
            full_spread.iter().copied().map(Some).collect(),
            Vec::new(),
        ),
        (Some(w), None) => match opts.regression {
            RegressionKind::Ols | RegressionKind::OlsNoIntercept => {
                // The spread comes from the window's centred sums (more
                // accurate than y - (beta x + alpha), see rolling_ols).
                let r = rolling_ols(&px, &py, w, opts.regression == RegressionKind::Ols)?;
                (r.alpha, r.beta, r.spread, r.undefined)
            }
            kind => rolling_refit(&px, &py, w, |x, y| robust_fit(kind, x, y)),
        },
    };
    let zscore = rolling_zscore(&spread, opts.z_window)?;
    // Research blocks on the full-sample spread: absent (not an error) when
    // the spread is too short, flat or does not revert.
    let diagnostics = diagnostics(&full_spread, &DEFAULT_LB_LAGS, MAX_ACF_LAGS).ok();
    let ou = ou_mle(&full_spread, 1.0).ok();

    Ok(AnalyzeReport {
        n,
        regression,
        adf: AdfReport {
            stat: adf.stat,
            pvalue: adf.pvalue,
            usedlag: adf.usedlag,
            nobs: adf.nobs,
            crit: adf.crit,
        },
        coint: CointReport {
            stat: eg.stat,
            pvalue: eg.pvalue,
            crit: eg.crit,
        },
        half_life: hl.half_life,
        hurst: hu,
        correlation,
        spread,
        zscore,
        beta: beta_s,
        alpha: alpha_s,
        beta_undefined,
        diagnostics,
        ou,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(n: usize) -> (Vec<f64>, Vec<f64>) {
        // Deterministic, cointegrated-looking, strictly positive prices.
        let x: Vec<f64> = (0..n)
            .map(|i| 100.0 + (i as f64 * 0.37).sin() * 3.0 + i as f64 * 0.01)
            .collect();
        let y: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, v)| 0.5 * v + 3.0 + ((i * 7919 + 13) % 101) as f64 / 505.0)
            .collect();
        (x, y)
    }

    fn run(x: &[f64], y: &[f64], o: &AnalyzeOptions) -> Result<AnalyzeReport> {
        analyze(x, y, None, o)
    }

    #[test]
    fn happy_path_serialises_with_contract_names() {
        let (x, y) = pair(300);
        let o = AnalyzeOptions {
            window: Some(50),
            ..Default::default()
        };
        let r = run(&x, &y, &o).unwrap();
        assert_eq!(r.n, 300);
        assert_eq!(r.beta[48], None);
        assert!(r.beta[49].is_some());
        assert_eq!(
            r.beta_undefined,
            vec![UndefinedSpan {
                start: 0,
                end: 48,
                reason: Undefined::WarmUp
            }]
        );
        let v = serde_json_like(&r);
        for key in [
            "\"crit\":{\"1%\":",
            "\"kind\":\"ols\"",
            "\"usedlag\":",
            "\"half_life\":",
        ] {
            assert!(v.contains(key), "{key} missing in {v:.300}");
        }
    }

    /// Serialises through serde's Debug-free path without serde_json (a
    /// dev-dependency only available to integration tests).
    fn serde_json_like(r: &AnalyzeReport) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let c = &r.adf.crit;
        let _ = write!(
            s,
            "\"kind\":\"{}\",\"crit\":{{\"1%\":{},\"usedlag\":{},\"half_life\":{:?}",
            match r.regression.kind {
                RegressionKind::Ols => "ols",
                _ => "other",
            },
            c.one,
            r.adf.usedlag,
            r.half_life
        );
        s
    }

    #[test]
    fn every_kind_runs() {
        let (x, y) = pair(200);
        for kind in [
            RegressionKind::Ols,
            RegressionKind::OlsNoIntercept,
            RegressionKind::Kalman,
            RegressionKind::Huber,
            RegressionKind::TheilSen,
        ] {
            for window in [None, Some(40)] {
                if kind == RegressionKind::Kalman && window.is_some() {
                    continue;
                }
                let o = AnalyzeOptions {
                    regression: kind,
                    window,
                    ..Default::default()
                };
                let r = run(&x, &y, &o).unwrap_or_else(|e| panic!("{kind:?} {window:?}: {e}"));
                assert_eq!(r.spread.len(), 200);
                assert!(r.adf.stat.is_finite());
                if kind != RegressionKind::Ols && kind != RegressionKind::OlsNoIntercept {
                    assert_eq!(r.regression.beta_se, None);
                }
            }
        }
    }

    #[test]
    fn degenerate_inputs_are_typed_errors() {
        let (x, y) = pair(100);
        let d = AnalyzeOptions::default();
        assert!(matches!(
            run(&[], &[], &d),
            Err(AnalyticsError::Empty { .. })
        ));
        assert!(matches!(
            run(&x, &y[..99], &d),
            Err(AnalyticsError::LengthMismatch { x: 100, y: 99 })
        ));
        let mut bad = x.clone();
        bad[7] = f64::NAN;
        assert!(matches!(
            run(&bad, &y, &d),
            Err(AnalyticsError::NonFinite { index: 7, .. })
        ));
        bad[7] = f64::INFINITY;
        assert!(matches!(
            run(&bad, &y, &d),
            Err(AnalyticsError::NonFinite { .. })
        ));
        let mut neg = y.clone();
        neg[3] = -1.0;
        assert!(matches!(
            run(&x, &neg, &d),
            Err(AnalyticsError::NonPositivePrice { index: 3, .. })
        ));
        neg[3] = 0.0;
        assert!(matches!(
            run(&x, &neg, &d),
            Err(AnalyticsError::NonPositivePrice { .. })
        ));
        assert_eq!(
            run(&vec![5.0; 100], &y, &d),
            Err(AnalyticsError::ConstantSeries { series: "x" })
        );
        assert_eq!(
            run(&x, &vec![5.0; 100], &d),
            Err(AnalyticsError::ConstantSeries { series: "y" })
        );
        // y an exact multiple of x in log space: perfectly collinear.
        let y_col: Vec<f64> = x.iter().map(|v| v * 2.0).collect();
        assert!(matches!(
            run(&x, &y_col, &d),
            Err(AnalyticsError::Collinear { .. })
        ));
        let w = AnalyzeOptions {
            window: Some(101),
            ..Default::default()
        };
        assert!(matches!(
            run(&x, &y, &w),
            Err(AnalyticsError::TooShort { .. })
        ));
        for w in [0, 1, 2] {
            let o = AnalyzeOptions {
                regression: RegressionKind::Huber,
                window: Some(w),
                ..Default::default()
            };
            assert!(matches!(
                run(&x, &y, &o),
                Err(AnalyticsError::InvalidParameter { .. })
            ));
        }
        let zw = AnalyzeOptions {
            z_window: 500,
            ..Default::default()
        };
        assert!(matches!(
            run(&x, &y, &zw),
            Err(AnalyticsError::TooShort { .. })
        ));
        assert!(matches!(
            run(&x[..5], &y[..5], &d),
            Err(AnalyticsError::TooShort { .. })
        ));
        let th = AnalyzeOptions {
            entry: 0.5,
            exit: 1.0,
            ..Default::default()
        };
        assert!(matches!(
            run(&x, &y, &th),
            Err(AnalyticsError::InvalidParameter { .. })
        ));
        let kw = AnalyzeOptions {
            regression: RegressionKind::Kalman,
            window: Some(20),
            ..Default::default()
        };
        assert!(matches!(
            run(&x, &y, &kw),
            Err(AnalyticsError::InvalidParameter { .. })
        ));
        let ts: Vec<i64> = (0..100)
            .map(|i| if i == 50 { 10 } else { i * 1000 })
            .collect();
        assert!(matches!(
            analyze(&x, &y, Some(&ts), &d),
            Err(AnalyticsError::InvalidParameter { .. })
        ));
    }

    /// A stretch where x does not move: every rolling estimator reports the
    /// windows inside it as `flat-x`, with `null` coefficients.
    #[test]
    fn flat_x_windows_are_undefined_with_the_reason_for_every_estimator() {
        let (mut x, y) = pair(200);
        for v in &mut x[100..140] {
            *v = 101.0;
        }
        for kind in [
            RegressionKind::Ols,
            RegressionKind::Huber,
            RegressionKind::TheilSen,
        ] {
            let o = AnalyzeOptions {
                regression: kind,
                window: Some(20),
                ..Default::default()
            };
            let r = run(&x, &y, &o).unwrap();
            let flat: Vec<_> = r
                .beta_undefined
                .iter()
                .filter(|s| s.reason == Undefined::FlatX)
                .collect();
            assert_eq!(flat.len(), 1, "{kind:?}: {:?}", r.beta_undefined);
            assert_eq!((flat[0].start, flat[0].end), (119, 139), "{kind:?}");
            assert!(r.beta[119..=139].iter().all(Option::is_none));
            assert!(r.spread[119..=139].iter().all(Option::is_none));
            assert!(r.beta[118].is_some() && r.beta[140].is_some());
        }
    }

    #[test]
    fn raw_prices_with_negative_values_still_analyse() {
        let (x, y) = pair(120);
        let y: Vec<f64> = y.iter().map(|v| v - 60.0).collect();
        let o = AnalyzeOptions {
            prices: PriceScale::Raw,
            ..Default::default()
        };
        let r = run(&x, &y, &o).unwrap();
        assert_eq!(r.correlation, None);
    }
}
