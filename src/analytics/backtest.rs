//! Backtest of the z-score threshold rule on the spread.
//!
//! Conventions (no look-ahead):
//! * The signal is evaluated on bar `t`'s close from `z_t` (see
//!   [`signal`]); the resulting position is held from `t` to `t + 1`, so the
//!   PnL of bar `t + 1` uses the position decided at `t`.
//! * Rule: flat -> short spread when `z > entry`, long spread when
//!   `z < -entry`; in a position -> flat when `|z| < exit`, flip when the
//!   opposite entry fires; otherwise (including `z = None`) hold.
//! * One unit of spread position is `+1` unit of `y` and `-beta` units of
//!   `x`, with `beta` = the hedge ratio known at the entry bar, locked until
//!   the position is closed or flipped.
//! * Prices are in the regression's space. For raw prices PnL is in quote
//!   currency per unit of `y`; for log prices a unit of log-price exposure is
//!   ~1 unit of notional, so PnL is a return on 1 of `y` notional.
//! * Fees: `fee_bps * 1e-4` per unit of notional traded, charged on the bar
//!   the position changes. Leg notional is `|dq| * price` for raw prices and
//!   `|dq|` for log prices. A flip is a close followed by an open.
//! * A trade is each opening of a non-zero position (a flip opens one).
//!   Hit rate is the share of *closed* trades whose net PnL (own bars' PnL
//!   minus their open and close fees) is > 0; `None` without closed trades.
//! * Sharpe: `mean(net) / std(net, ddof = 1) * sqrt(annualization)` over all
//!   bars' net PnL (`None` when the std is 0). Max drawdown: largest drop of
//!   the cumulative net PnL below its running peak, the peak starting at 0.

use super::analyze::PriceScale;
use super::error::{AnalyticsError, Result};
use super::validate;
use super::zscore::{check_thresholds, signal, Signal};

/// Rule and cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct BacktestOptions {
    pub entry: f64,
    pub exit: f64,
    pub fee_bps: f64,
    /// Bars per year for the Sharpe ratio (1.0 gives the per-bar Sharpe).
    pub annualization: f64,
    pub prices: PriceScale,
}

impl Default for BacktestOptions {
    fn default() -> Self {
        Self {
            entry: 2.0,
            exit: 0.5,
            fee_bps: 0.0,
            annualization: 1.0,
            prices: PriceScale::Log,
        }
    }
}

/// Backtest output; per-bar vectors align with the input.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct BacktestResult {
    /// Spread position held after bar `t`'s close: -1, 0 or +1.
    pub position: Vec<i8>,
    pub gross_pnl: Vec<f64>,
    pub fees: Vec<f64>,
    pub net_pnl: Vec<f64>,
    /// Cumulative net PnL.
    pub equity: Vec<f64>,
    pub gross_total: f64,
    pub net_total: f64,
    pub fees_total: f64,
    pub trades: usize,
    pub closed_trades: usize,
    pub hit_rate: Option<f64>,
    pub sharpe: Option<f64>,
    pub max_drawdown: f64,
}

/// Runs the rule over prices `x`, `y` (regression space), hedge ratios and
/// z-scores known at each bar.
pub fn backtest(
    x: &[f64],
    y: &[f64],
    beta: &[Option<f64>],
    z: &[Option<f64>],
    opts: &BacktestOptions,
) -> Result<BacktestResult> {
    validate::pair(x, y)?;
    let n = x.len();
    if beta.len() != n || z.len() != n {
        return Err(AnalyticsError::LengthMismatch {
            x: n,
            y: beta.len().max(z.len()),
        });
    }
    check_thresholds(opts.entry, opts.exit)?;
    if !(opts.fee_bps.is_finite() && opts.fee_bps >= 0.0) {
        return Err(AnalyticsError::InvalidParameter {
            name: "fee_bps",
            reason: format!("must be finite and >= 0, got {}", opts.fee_bps),
        });
    }
    validate::positive("annualization", opts.annualization)?;
    let fee_rate = opts.fee_bps * 1e-4;
    let raw = opts.prices == PriceScale::Raw;
    // Notional of |qy| units of y and |qx| units of x at bar t.
    let notional = |t: usize, qy: f64, qx: f64| {
        if raw {
            qy.abs() * y[t].abs() + qx.abs() * x[t].abs()
        } else {
            qy.abs() + qx.abs()
        }
    };

    let mut r = BacktestResult {
        position: Vec::with_capacity(n),
        gross_pnl: Vec::with_capacity(n),
        fees: Vec::with_capacity(n),
        net_pnl: Vec::with_capacity(n),
        equity: Vec::with_capacity(n),
        ..Default::default()
    };
    let (mut pos, mut qy, mut qx) = (0i8, 0.0f64, 0.0f64);
    let mut trade_pnl = 0.0;
    let mut wins = 0usize;
    let (mut equity, mut peak) = (0.0f64, 0.0f64);
    for t in 0..n {
        let gross = if t == 0 {
            0.0
        } else {
            qy * (y[t] - y[t - 1]) + qx * (x[t] - x[t - 1])
        };
        trade_pnl += gross;
        let target = match signal(z[t], opts.entry, opts.exit) {
            Signal::ShortSpread => -1,
            Signal::LongSpread => 1,
            Signal::Exit => 0,
            Signal::Hold => pos,
        };
        // Cannot size a new position without a hedge ratio.
        let target = if target != 0 && target != pos && beta[t].is_none() {
            pos
        } else {
            target
        };
        let mut fee = 0.0;
        if target != pos {
            if pos != 0 {
                let close = fee_rate * notional(t, qy, qx);
                fee += close;
                trade_pnl -= close;
                r.closed_trades += 1;
                if trade_pnl > 0.0 {
                    wins += 1;
                }
            }
            trade_pnl = 0.0;
            pos = target;
            if pos != 0 {
                let b = beta[t].unwrap_or(0.0);
                qy = f64::from(pos);
                qx = -f64::from(pos) * b;
                let open = fee_rate * notional(t, qy, qx);
                fee += open;
                trade_pnl -= open;
                r.trades += 1;
            } else {
                qy = 0.0;
                qx = 0.0;
            }
        }
        let net = gross - fee;
        equity += net;
        peak = peak.max(equity);
        r.max_drawdown = r.max_drawdown.max(peak - equity);
        r.position.push(pos);
        r.gross_pnl.push(gross);
        r.fees.push(fee);
        r.net_pnl.push(net);
        r.equity.push(equity);
        r.gross_total += gross;
        r.fees_total += fee;
    }
    r.net_total = equity;
    r.hit_rate = (r.closed_trades > 0).then(|| wins as f64 / r.closed_trades as f64);
    if n >= 2 {
        let mean = r.net_pnl.iter().sum::<f64>() / n as f64;
        let var = r
            .net_pnl
            .iter()
            .map(|v| (v - mean) * (v - mean))
            .sum::<f64>()
            / (n - 1) as f64;
        if var > 0.0 {
            r.sharpe = Some(mean / var.sqrt() * opts.annualization.sqrt());
        }
    }
    Ok(r)
}
