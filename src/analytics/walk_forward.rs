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
//!
//! # Baskets ([`walk_forward_basket`])
//! The same folds on N legs: each training window fits the first leg on
//! the others and a constant by OLS (`y0 = a + sum b_i x_i`), the weights
//! `(1, -b_2, ..)` are held through the test window, and each test bar is
//! scored `z = (y0 - a - sum b_i x_i - mu) / sigma` with the training
//! spread's `mu` and `sigma`. Out of sample and in sample are reported as
//! for a pair, by the basket engine
//! ([`backtest_basket`](super::backtest::backtest_basket)).

use serde::{Deserialize, Serialize};

use super::analyze::{robust_fit, RegressionKind};
use super::backtest::{
    pooled_summary, run, run_basket, BacktestOptions, BacktestResult, BasketBacktest, BasketInput,
    BasketLeg, Input, Leg, Rule, Summary,
};
use super::error::{AnalyticsError, Result};
use super::kalman::{kalman, KalmanOptions};
use super::ols::ols;
use super::ols_multi::ols_params;

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

/// One basket fold's fit and result.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BasketFold {
    /// First training bar, first and last test bar (times, ms).
    pub train_from: i64,
    pub test_from: i64,
    pub test_to: i64,
    /// The fit: the spread's weights (the first leg's 1), its constant and
    /// the training spread's mean and standard deviation; `None` when the
    /// fit failed or the spread was flat.
    pub weights: Option<Vec<f64>>,
    pub alpha: Option<f64>,
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

/// A basket's folds and the two pooled summaries.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BasketWalkForwardReport {
    pub train: usize,
    pub test: usize,
    pub folds: Vec<BasketFold>,
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
    if !(a.is_finite() && b.is_finite()) {
        return None;
    }
    let (mu, sigma) = moments(x.iter().zip(y).map(|(x, y)| y - a - b * x), x.len())?;
    Some((a, b, mu, sigma))
}

/// The training spread's mean and sample standard deviation (ddof = 1);
/// `None` when it is flat or not finite (a z-score of it means nothing).
fn moments(spread: impl Iterator<Item = f64> + Clone, n: usize) -> Option<(f64, f64)> {
    let nf = n as f64;
    let mu = spread.clone().sum::<f64>() / nf;
    let ss = spread.map(|s| (s - mu) * (s - mu)).sum::<f64>();
    let sigma = (ss / (nf - 1.0)).sqrt();
    let flat = !(sigma.is_finite() && sigma > 1e-12 * mu.abs().max(1e-300));
    (!flat).then_some((mu, sigma))
}

/// Windows the data can hold: at least `min_train` training bars, two
/// test bars, and both within the `n` bars.
fn check_windows(wf: WalkForward, n: usize, min_train: usize) -> Result<()> {
    if wf.train < min_train {
        return Err(AnalyticsError::InvalidParameter {
            name: "train",
            reason: format!("expected at least {min_train} bars, got {}", wf.train),
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
    Ok(())
}

/// Each fold's out-of-sample figures from the run over all bars: the
/// equity change over its test bars and the trades decided in them
/// (`signal_bars` in order of the trades).
fn fold_outcomes(
    equity: &[f64],
    signal_bars: &[usize],
    wf: WalkForward,
    folds: usize,
) -> Vec<(f64, usize)> {
    let n = equity.len();
    let mut start = wf.train;
    (0..folds)
        .map(|_| {
            let end = (start + wf.test).min(n);
            let before = if start == 0 { 0.0 } else { equity[start - 1] };
            let net = equity[end - 1] - before;
            let trades = signal_bars
                .iter()
                .filter(|b| (start..end).contains(b))
                .count();
            start = end;
            (net, trades)
        })
        .collect()
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
    check_windows(wf, n, 10)?;
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
    let signals: Vec<usize> = r.trades.iter().map(|t| t.signal_bar).collect();
    let outcomes = fold_outcomes(&r.equity, &signals, wf, folds.len());
    for (fold, (net, trades)) in folds.iter_mut().zip(outcomes) {
        fold.out_of_sample_net = net;
        fold.out_of_sample_trades = trades;
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

/// A basket training window's OLS fit: `(weights, alpha, mu, sigma)`.
fn fit_basket(legs: &[&[f64]]) -> Option<(Vec<f64>, f64, f64, f64)> {
    let (y, xs) = (legs[0], &legs[1..]);
    let params = ols_params(y, xs, true).ok()?;
    let k = xs.len();
    let (b, a) = (&params[..k], params[k]);
    if !(a.is_finite() && b.iter().all(|b| b.is_finite())) {
        return None;
    }
    let spread = (0..y.len()).map(|t| {
        let mut s = y[t] - a;
        for (b, x) in b.iter().zip(xs) {
            s -= b * x[t];
        }
        s
    });
    let (mu, sigma) = moments(spread, y.len())?;
    let weights = std::iter::once(1.0).chain(b.iter().map(|b| -b)).collect();
    Some((weights, a, mu, sigma))
}

/// Runs the basket walk-forward (see "Baskets" in the module docs).
/// `fit_legs` are the legs' prices in regression space (log or raw, as
/// `rule.prices`); `base.weights`, `base.z` and `base.flat_after` are not
/// read. Returns the z-score the out-of-sample run traded (`None` before
/// the first test window and in folds without a fit) and the run.
pub fn walk_forward_basket(
    base: &BasketInput,
    fit_legs: &[&[f64]],
    rule: &Rule,
    opts: &BacktestOptions,
    wf: WalkForward,
) -> Result<(Vec<Option<f64>>, BasketBacktest)> {
    let n = base.ts.len();
    if fit_legs.len() != base.legs.len() {
        return Err(AnalyticsError::InvalidParameter {
            name: "legs",
            reason: format!(
                "{} legs to fit for {} to trade",
                fit_legs.len(),
                base.legs.len()
            ),
        });
    }
    if let Some(l) = fit_legs.iter().find(|l| l.len() != n) {
        return Err(AnalyticsError::LengthMismatch { x: n, y: l.len() });
    }
    // OLS needs more bars than its parameters (the legs and a constant).
    check_windows(wf, n, 10.max(fit_legs.len() + 2))?;
    // Each fold's fit first, so the runs can borrow its weights per bar.
    let mut fits = Vec::new();
    let mut s = 0usize;
    while s + wf.train < n {
        let train: Vec<&[f64]> = fit_legs.iter().map(|l| &l[s..s + wf.train]).collect();
        fits.push(fit_basket(&train));
        s += wf.test;
    }
    let mut weights: Vec<Option<&[f64]>> = vec![None; n];
    let mut z = vec![None; n];
    let mut flat_after = Vec::new();
    let mut folds = Vec::new();
    let mut in_parts = Vec::new();
    for (k, f) in fits.iter().enumerate() {
        let s = k * wf.test;
        let (t0, t1) = (s + wf.train, (s + wf.train + wf.test).min(n));
        let mut fold = BasketFold {
            train_from: base.ts[s],
            test_from: base.ts[t0],
            test_to: base.ts[t1 - 1],
            weights: f.as_ref().map(|f| f.0.clone()),
            alpha: f.as_ref().map(|f| f.1),
            mu: f.as_ref().map(|f| f.2),
            sigma: f.as_ref().map(|f| f.3),
            in_sample_net: 0.0,
            in_sample_trades: 0,
            out_of_sample_net: 0.0,
            out_of_sample_trades: 0,
        };
        if let Some((w, a, mu, sigma)) = f {
            let (a, mu, sigma) = (*a, *mu, *sigma);
            // The weights' first entry is 1: w . legs = y0 - sum b_i x_i.
            let score = |i: usize| {
                let s: f64 = w.iter().zip(fit_legs).map(|(w, l)| w * l[i]).sum();
                Some((s - a - mu) / sigma)
            };
            for i in t0..t1 {
                weights[i] = Some(w.as_slice());
                z[i] = score(i);
            }
            let is_weights = vec![Some(w.as_slice()); wf.train];
            let is_z: Vec<Option<f64>> = (s..t0).map(score).collect();
            let is_legs: Vec<BasketLeg> = base
                .legs
                .iter()
                .map(|l| BasketLeg {
                    leg: slice(&l.leg, s..t0),
                    ..*l
                })
                .collect();
            let is_input = BasketInput {
                ts: &base.ts[s..t0],
                bar_ms: base.bar_ms,
                legs: &is_legs,
                weights: &is_weights,
                z: &is_z,
                flat_after: &[wf.train - 1],
            };
            let (r, st) = run_basket(&is_input, rule, opts)?;
            fold.in_sample_net = r.summary.net;
            fold.in_sample_trades = r.summary.trades;
            in_parts.push((r.summary, st));
        }
        flat_after.push(t1 - 1);
        folds.push(fold);
    }
    let oos_input = BasketInput {
        weights: &weights,
        z: &z,
        flat_after: &flat_after,
        ..*base
    };
    let (mut r, _) = run_basket(&oos_input, rule, opts)?;
    let signals: Vec<usize> = r.trades.iter().map(|t| t.signal_bar).collect();
    let outcomes = fold_outcomes(&r.equity, &signals, wf, folds.len());
    for (fold, (net, trades)) in folds.iter_mut().zip(outcomes) {
        fold.out_of_sample_net = net;
        fold.out_of_sample_trades = trades;
    }
    let in_sample = pooled_summary(&in_parts, opts.notional);
    r.walk_forward = Some(BasketWalkForwardReport {
        train: wf.train,
        test: wf.test,
        folds,
        in_sample,
        out_of_sample: r.summary.clone(),
    });
    Ok((z, r))
}
