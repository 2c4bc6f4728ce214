//! Walk-forward backtest: fit on a training window, trade the next window
//! with that fit, roll forward by the test window, and report in-sample and
//! out-of-sample apart.
//!
//! Fold `k` trains on bars `[s, s + train)` and tests on `[s + train,
//! min(s + train + test, n))`, with `s = k * test`. On the training bars
//! (regression space: log or raw prices) it fits `y = alpha + beta x` by
//! the chosen [`RegressionKind`] (Kalman: the last filtered state), takes
//! the training spread's mean `mu` and sample standard deviation `sigma`
//! (ddof = 1), and scores each test bar `z = (y - alpha - beta x - mu) /
//! sigma` with `beta` the fold's constant. A fold whose fit fails or whose
//! spread is flat trades nothing.
//!
//! * **Out of sample**: one [`backtest`](super::backtest::backtest) over
//!   all bars with those z and beta (none before the first test window),
//!   flat after each fold's last bar, so no position is carried into a fit
//!   it was not sized for. This is what trading the procedure would have
//!   earned. A fold's figure is the equity change over its test bars.
//! * **In sample**: each fold's rule traded on its own training bars with
//!   the same fit, pooled: money and counts summed, Sharpe and Sortino over
//!   all the training bars' returns, the worst fold's drawdown. The gap
//!   between the two is the overfit.

use serde::{Deserialize, Serialize};

use super::analyze::{robust_fit, RegressionKind};
use super::backtest::{
    pooled_summary, run, BacktestOptions, BacktestResult, Input, Leg, Rule, Summary,
};
use super::error::{AnalyticsError, Result};
use super::kalman::{kalman, KalmanOptions};
use super::ols::ols;

/// Window lengths, in bars.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkForward {
    pub train: usize,
    pub test: usize,
}

/// One fold's fit and result.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fold {
    /// First training bar, first and last test bar (times, ms).
    pub train_from: i64,
    pub test_from: i64,
    pub test_to: i64,
    /// The fit; `None` when it failed or the spread was flat.
    pub alpha: Option<f64>,
    pub beta: Option<f64>,
    pub mu: Option<f64>,
    pub sigma: Option<f64>,
    /// In-sample net PnL and trades (quote currency).
    pub in_sample_net: f64,
    pub in_sample_trades: usize,
    /// Out-of-sample equity change over the test bars and trades decided
    /// in them.
    pub out_of_sample_net: f64,
    pub out_of_sample_trades: usize,
}

/// The folds and the two pooled summaries.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalkForwardReport {
    pub train: usize,
    pub test: usize,
    pub regression: RegressionKind,
    pub folds: Vec<Fold>,
    pub in_sample: Summary,
    pub out_of_sample: Summary,
}

/// A training window's fit: `(alpha, beta, mu, sigma)`.
fn fit(
    x: &[f64],
    y: &[f64],
    kind: RegressionKind,
    kalman_opts: &KalmanOptions,
) -> Option<(f64, f64, f64, f64)> {
    let (a, b) = match kind {
        RegressionKind::Ols => ols(x, y, true).ok().map(|f| (f.alpha, f.beta))?,
        RegressionKind::OlsNoIntercept => ols(x, y, false).ok().map(|f| (0.0, f.beta))?,
        RegressionKind::Huber
        | RegressionKind::TheilSen
        | RegressionKind::Tls
        | RegressionKind::MinHalfLife => robust_fit(kind, x, y).ok()?,
        RegressionKind::Kalman => {
            let k = kalman(x, y, kalman_opts).ok()?;
            (*k.alpha.last()?, *k.beta.last()?)
        }
    };
    let n = x.len() as f64;
    let mu = x.iter().zip(y).map(|(x, y)| y - a - b * x).sum::<f64>() / n;
    let ss = x
        .iter()
        .zip(y)
        .map(|(x, y)| {
            let d = y - a - b * x - mu;
            d * d
        })
        .sum::<f64>();
    let sigma = (ss / (n - 1.0)).sqrt();
    let flat = !(sigma.is_finite() && sigma > 1e-12 * mu.abs().max(1e-300));
    if !(a.is_finite() && b.is_finite()) || flat {
        return None;
    }
    Some((a, b, mu, sigma))
}

fn slice<'a>(leg: &Leg<'a>, r: std::ops::Range<usize>) -> Leg<'a> {
    Leg {
        open: &leg.open[r.clone()],
        close: &leg.close[r.clone()],
        book: leg.book.map(|b| &b[r]),
        funding: leg.funding,
    }
}

/// Runs the walk-forward (see the module docs). `fx`, `fy` are the prices
/// in regression space; `base.beta` and `base.z` are not read.
#[allow(clippy::too_many_arguments)]
pub fn walk_forward(
    base: &Input,
    fx: &[f64],
    fy: &[f64],
    kind: RegressionKind,
    kalman_opts: &KalmanOptions,
    rule: &Rule,
    opts: &BacktestOptions,
    wf: WalkForward,
) -> Result<BacktestResult> {
    let n = base.ts.len();
    if fx.len() != n || fy.len() != n {
        return Err(AnalyticsError::LengthMismatch {
            x: n,
            y: fx.len().max(fy.len()),
        });
    }
    if wf.train < 10 {
        return Err(AnalyticsError::InvalidParameter {
            name: "train",
            reason: format!("expected at least 10 bars, got {}", wf.train),
        });
    }
    if wf.test < 2 {
        return Err(AnalyticsError::InvalidParameter {
            name: "test",
            reason: format!("expected at least 2 bars, got {}", wf.test),
        });
    }
    if wf.train + wf.test > n {
        return Err(AnalyticsError::InvalidParameter {
            name: "train/test",
            reason: format!(
                "train + test ({} + {}) is longer than the {n} bars",
                wf.train, wf.test
            ),
        });
    }
    let mut beta = vec![None; n];
    let mut z = vec![None; n];
    let mut flat_after = Vec::new();
    let mut folds = Vec::new();
    let mut in_parts = Vec::new();
    let mut s = 0usize;
    while s + wf.train < n {
        let (t0, t1) = (s + wf.train, (s + wf.train + wf.test).min(n));
        let f = fit(&fx[s..t0], &fy[s..t0], kind, kalman_opts);
        let mut fold = Fold {
            train_from: base.ts[s],
            test_from: base.ts[t0],
            test_to: base.ts[t1 - 1],
            alpha: f.map(|f| f.0),
            beta: f.map(|f| f.1),
            mu: f.map(|f| f.2),
            sigma: f.map(|f| f.3),
            in_sample_net: 0.0,
            in_sample_trades: 0,
            out_of_sample_net: 0.0,
            out_of_sample_trades: 0,
        };
        if let Some((a, b, mu, sigma)) = f {
            let score = |i: usize| Some((fy[i] - a - b * fx[i] - mu) / sigma);
            for i in t0..t1 {
                beta[i] = Some(b);
                z[i] = score(i);
            }
            let is_beta = vec![Some(b); wf.train];
            let is_z: Vec<Option<f64>> = (s..t0).map(score).collect();
            let is_input = Input {
                ts: &base.ts[s..t0],
                bar_ms: base.bar_ms,
                x: slice(&base.x, s..t0),
                y: slice(&base.y, s..t0),
                beta: &is_beta,
                z: &is_z,
                flat_after: &[wf.train - 1],
            };
            let (r, st) = run(&is_input, rule, opts)?;
            fold.in_sample_net = r.summary.net;
            fold.in_sample_trades = r.summary.trades;
            in_parts.push((r.summary, st));
        }
        flat_after.push(t1 - 1);
        folds.push(fold);
        s += wf.test;
    }
    let oos_input = Input {
        beta: &beta,
        z: &z,
        flat_after: &flat_after,
        ..*base
    };
    let (mut r, _) = run(&oos_input, rule, opts)?;
    let mut start = wf.train;
    for fold in &mut folds {
        let end = (start + wf.test).min(n);
        let before = if start == 0 { 0.0 } else { r.equity[start - 1] };
        fold.out_of_sample_net = r.equity[end - 1] - before;
        fold.out_of_sample_trades = r
            .trades
            .iter()
            .filter(|t| (start..end).contains(&t.signal_bar))
            .count();
        start = end;
    }
    let in_sample = pooled_summary(&in_parts, opts.notional);
    r.walk_forward = Some(WalkForwardReport {
        train: wf.train,
        test: wf.test,
        regression: kind,
        folds,
        in_sample,
        out_of_sample: r.summary.clone(),
    });
    Ok(r)
}
