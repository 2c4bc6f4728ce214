//! Backtest of the z-score threshold rule as a trader would have traded it:
//! two legs, market orders on the next bar, the bid-ask crossed, fees per
//! leg, funding per leg, quantities rounded to the exchange's steps, stops,
//! a maximum holding time and a hedge ratio the position follows only
//! within bounds. Money is in the quote currency of both legs (USDT) for a
//! stated notional; returns and drawdowns are percent of that notional.
//! [`super::walk_forward`] runs it out of sample.
//!
//! # Timing (no look-ahead)
//! The rule looks at bar `t`'s close (`z[t]`, `beta[t]`, the closes) and
//! decides a target position. The order fills on bar `t + 1`, the next bar
//! present in the input, at the price [`FillAt`] names: its open (time
//! `ts[t+1]`), its close (time `ts[t+1] + bar_ms - 1`) or the first book
//! update after the decision (`book[t+1]`, at the quote's time). Sizing uses
//! only what was known at the decision: `beta[t]` and bar `t`'s closes.
//!
//! # Rule
//! * Flat: short the spread when `z > entry`, long when `z < -entry`.
//! * In a position, in this order of precedence (the first that applies is
//!   the exit reason): the **stop** (the open trade's PnL so far, marked at
//!   the close and net of the costs paid, at or below `-stop_pct`% of its
//!   entry notional), a **beta break** (`beta[t]` undefined, outside
//!   `[beta_min, beta_max]`, or more than `beta_jump` away from the entry
//!   beta relative to it; with [`OnBetaBreak::Hold`] the position is kept
//!   as sized), the **maximum holding time** (`t - entry bar >=
//!   max_hold_bars`), a **flip** (z beyond the opposite entry: close, then
//!   open the other side in the same fill), the **exit band** (`|z| <
//!   exit`), and a **fold end** (walk-forward: flat after the fold's last
//!   bar). An undefined z holds.
//! * After a stop, a beta break or the maximum holding time, the same side
//!   is not entered again until `|z| < entry` (otherwise the next bar would
//!   re-enter the trade just cut).
//! * An entry needs `beta[t]` defined and inside `[beta_min, beta_max]`;
//!   without it the rule stays flat (counted in `skipped_beta`).
//! * The position is never re-sized while held: its quantities are those of
//!   the entry fill.
//!
//! # Sizing
//! `notional` is the gross notional of a new position (both legs) at bar
//! `t`'s closes. The hedge is `h = beta * close_y / close_x` units of x per
//! unit of y on log prices (beta is an elasticity), `h = beta` on raw.
//! * [`Sizing::BetaWeighted`] (the spread the model trades):
//!   `qy = notional / (close_y + |h| close_x)`, `qx = -h qy` per unit of
//!   long spread.
//! * [`Sizing::DollarNeutral`]: half the notional in each leg,
//!   `qy = notional / 2 / close_y`, `qx = -sign(h) notional / 2 / close_x`.
//!
//! Each quantity is rounded toward zero to its leg's `qty_step` (`floor(|q|
//! / step + 1e-9) * step`; step 0 means none), so the position is never
//! larger than asked. A leg rounded to zero skips the entry
//! (`skipped_size`). Long spread: `+qy` of y and `qx` of x; short: the
//! negatives.
//!
//! # Fills and costs
//! * With a book for the fill (`book[t+1]`): buy at the ask, sell at the
//!   bid; the mid is `(bid + ask) / 2`. Without one: the reference price
//!   (open or close) is the mid and the fill is `mid * (1 ± half_spread_bps
//!   * 1e-4)`. [`FillAt::NextQuote`] without a book for that bar does not
//!   fill (`skipped_no_quote`); the next decision replaces the order.
//! * On top, `slippage_bps` moves every fill against the trader:
//!   `* (1 ± slippage_bps * 1e-4)`.
//! * All fills are market orders, so each leg pays its taker fee:
//!   `fee_bps * 1e-4 * |q| * fill`.
//! * Slippage, reported per trade, is `|q| * |fill - mid|` summed over both
//!   legs' fills: the half spread crossed plus the impact.
//! * Funding: at each of a leg's funding times `T` inside a bar (`ts[k] <=
//!   T < ts[k+1]`, or `< ts[k] + bar_ms` for the last bar), a position held
//!   at `T` (filled at or before `T`, not yet closed) receives `-q * rate *
//!   close[k]` (longs pay a positive rate; the bar's close stands in for the
//!   mark price). Funding before the first bar is ignored.
//!
//! # Accounting
//! * A trade's `gross = sum(q * (exit_mid - entry_mid))` over both legs,
//!   `net = gross - slippage - fees + funding` (which equals `sum(q *
//!   (exit_fill - entry_fill)) - fees + funding`). A trade still open at
//!   the end is marked at the last closes (no exit costs) and has no exit.
//! * `equity[t]` is the cumulative net PnL marked at bar `t`'s closes;
//!   `pnl[t] = equity[t] - equity[t-1]` and the bar return is `pnl[t] /
//!   notional`. The sum of the trades' `net` equals the last equity.
//! * Sharpe: `mean(r) / std(r, ddof = 1) * sqrt(bars_per_year)`; Sortino:
//!   `mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(bars_per_year)`, both over
//!   every bar's return; `bars_per_year` defaults to `365 d / bar_ms`.
//! * Drawdown: the account is `notional + equity`; `drawdown[t] = (peak -
//!   account) / peak * 100` with the peak starting at `notional`. Its
//!   duration is the longest time from a peak to the bar that regains it
//!   (or to the last bar).
//! * Exposure: the share of bars that close with a position. Turnover: the
//!   notional of all fills over `notional`. Hit rate: closed trades with
//!   `net > 0` over closed trades. Average hold: over closed trades, exit
//!   time minus entry time.

use serde::{Deserialize, Serialize};

use super::analyze::PriceScale;
use super::error::{AnalyticsError, Result};
use super::zscore::check_thresholds;

/// Top of the book at a fill: best bid, best ask and the quote's time.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Touch {
    pub bid: f64,
    pub ask: f64,
    /// Time of the quote, ms.
    pub ts: i64,
}

/// One funding settlement of a leg.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FundingEvent {
    /// Settlement time, ms.
    pub ts: i64,
    /// Rate per settlement (0.0001 = 1 bp); longs pay a positive rate.
    pub rate: f64,
}

/// Where a decision on bar `t`'s close fills.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FillAt {
    /// Bar `t + 1`'s open (its first trade), or the book at its start.
    #[default]
    NextOpen,
    /// Bar `t + 1`'s close, or the book at its close.
    NextClose,
    /// The first book update after bar `t`'s close (needs quotes).
    NextQuote,
}

/// How the notional is split between the legs.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sizing {
    /// `h` units of x per unit of y: the spread the model fits.
    #[default]
    BetaWeighted,
    /// Half the notional in each leg.
    DollarNeutral,
}

/// What a beta break does to an open position.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnBetaBreak {
    /// Close it.
    #[default]
    Flatten,
    /// Keep it as sized (it is never re-sized).
    Hold,
}

/// Entry and exit thresholds of the rule and the price space of `beta`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub entry: f64,
    pub exit: f64,
    pub prices: PriceScale,
}

/// Binance USD-M futures taker fee at the base tier (0.05%), the default
/// for both legs. Spot's base tier is 0.10%.
pub const DEFAULT_FEE_BPS: f64 = 5.0;

/// Execution, cost and risk parameters (see the module docs).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BacktestOptions {
    pub fill: FillAt,
    /// Gross notional of a new position, quote currency (both legs).
    pub notional: f64,
    pub sizing: Sizing,
    /// Taker fee of each leg, bp of the fill's notional.
    pub fee_bps_x: f64,
    pub fee_bps_y: f64,
    /// Half spread assumed where no book is stored, bp of the price.
    pub half_spread_bps: f64,
    /// Extra cost of every fill beyond the touch, bp of the price.
    pub slippage_bps: f64,
    /// Quantity step of each leg (the exchange's lot size); 0 = none here.
    /// On stored pairs 0 takes the venue's stored market lot step
    /// (`services::pair::execution_options`).
    pub qty_step_x: f64,
    pub qty_step_y: f64,
    /// Stop on the trade's PnL, percent of its entry notional.
    pub stop_pct: Option<f64>,
    /// Close a position held this many bars.
    pub max_hold_bars: Option<usize>,
    /// Bounds on the hedge ratio a position may be entered and held at.
    pub beta_min: f64,
    pub beta_max: f64,
    /// Largest move of beta from the entry beta, relative to it (0.5 =
    /// 50%), before the beta break applies; `None` = no limit.
    pub beta_jump: Option<f64>,
    pub on_beta_break: OnBetaBreak,
    /// Bars per year for Sharpe and Sortino; `None` = 365 days / bar.
    pub bars_per_year: Option<f64>,
}

impl Default for BacktestOptions {
    fn default() -> Self {
        Self {
            fill: FillAt::NextOpen,
            notional: 10_000.0,
            sizing: Sizing::BetaWeighted,
            fee_bps_x: DEFAULT_FEE_BPS,
            fee_bps_y: DEFAULT_FEE_BPS,
            half_spread_bps: 0.5,
            slippage_bps: 0.0,
            qty_step_x: 0.0,
            qty_step_y: 0.0,
            stop_pct: None,
            max_hold_bars: None,
            beta_min: 0.0,
            beta_max: 10.0,
            beta_jump: Some(0.5),
            on_beta_break: OnBetaBreak::Flatten,
            bars_per_year: None,
        }
    }
}

/// One leg's prices, book at the fills and funding.
#[derive(Debug, Clone, Copy)]
pub struct Leg<'a> {
    pub open: &'a [f64],
    pub close: &'a [f64],
    /// The book a fill on each bar would meet (chosen by the caller for the
    /// [`FillAt`]); `None` = no quotes at all.
    pub book: Option<&'a [Option<Touch>]>,
    /// Funding settlements, ascending by time.
    pub funding: &'a [FundingEvent],
}

/// Bars, both legs and the signal series the rule reads.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Bar starts, ms, ascending.
    pub ts: &'a [i64],
    pub bar_ms: i64,
    pub x: Leg<'a>,
    pub y: Leg<'a>,
    /// Hedge ratio known at each bar's close (regression space).
    pub beta: &'a [Option<f64>],
    pub z: &'a [Option<f64>],
    /// Bars after whose close the position is closed (ascending).
    pub flat_after: &'a [usize],
}

/// Side of a spread position: long the spread (buy y, sell `h` x) or short it.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PositionSide {
    /// Long y, short `h` x.
    Long,
    /// Short y, long `h` x.
    Short,
}

impl PositionSide {
    fn sign(self) -> f64 {
        match self {
            PositionSide::Long => 1.0,
            PositionSide::Short => -1.0,
        }
    }
}

/// Why a position was closed.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitReason {
    Band,
    Stop,
    BetaBreak,
    MaxHold,
    Flip,
    FoldEnd,
}

impl ExitReason {
    /// The wire name (`band`, `stop`, `beta-break`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Band => "band",
            ExitReason::Stop => "stop",
            ExitReason::BetaBreak => "beta-break",
            ExitReason::MaxHold => "max-hold",
            ExitReason::Flip => "flip",
            ExitReason::FoldEnd => "fold-end",
        }
    }
}

/// One round trip (or the position still open at the end).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    pub side: PositionSide,
    /// Bar whose close decided the entry, and its z and beta.
    pub signal_bar: usize,
    pub entry_z: Option<f64>,
    pub beta: f64,
    /// Fill bar and time of the entry, ms.
    pub entry_bar: usize,
    pub entry_ts: i64,
    /// Signed quantities (positive = bought).
    pub qty_x: f64,
    pub qty_y: f64,
    /// Entry fill prices.
    pub entry_x: f64,
    pub entry_y: f64,
    /// Gross notional at the entry fills, quote currency.
    pub notional: f64,
    pub exit_bar: Option<usize>,
    pub exit_ts: Option<i64>,
    pub exit_x: Option<f64>,
    pub exit_y: Option<f64>,
    pub exit_reason: Option<ExitReason>,
    /// Quote currency (see the module docs).
    pub gross: f64,
    pub fees: f64,
    pub funding: f64,
    pub slippage: f64,
    pub net: f64,
    /// `net` as percent of the entry notional.
    pub net_pct: f64,
}

/// Summary figures; money in quote currency, `_pct` in percent of
/// `notional`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    pub notional: f64,
    pub bars: usize,
    pub net: f64,
    pub net_pct: f64,
    pub gross: f64,
    pub fees: f64,
    pub funding: f64,
    pub slippage: f64,
    /// Trades entered (an open one included) and closed.
    pub trades: usize,
    pub closed: usize,
    pub wins: usize,
    pub hit_rate: Option<f64>,
    /// Mean holding time of closed trades, ms.
    pub avg_hold_ms: Option<f64>,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    pub bars_per_year: f64,
    /// Largest drop of the account below its peak, percent of the peak.
    pub max_drawdown_pct: f64,
    /// Longest time under a peak, ms.
    pub max_drawdown_ms: i64,
    /// Share of bars closing with a position (0 to 1).
    pub exposure: f64,
    /// Notional of all fills over `notional`.
    pub turnover: f64,
    /// Entries not taken: beta undefined or out of bounds, a leg rounded
    /// to zero, no quote for a next-quote fill.
    pub skipped_beta: usize,
    pub skipped_size: usize,
    pub skipped_no_quote: usize,
}

/// Backtest output; per-bar vectors align with the input.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BacktestResult {
    /// Spread position at each bar's close: -1, 0 or +1.
    pub position: Vec<i8>,
    /// Cumulative net PnL at each bar's close, quote currency.
    pub equity: Vec<f64>,
    /// Account below its peak at each bar's close, percent of the peak.
    pub drawdown: Vec<f64>,
    pub trades: Vec<Trade>,
    pub summary: Summary,
    /// Out-of-sample folds when walk-forward ran.
    #[serde(default)]
    pub walk_forward: Option<super::walk_forward::WalkForwardReport>,
}

fn bad(name: &'static str, reason: String) -> AnalyticsError {
    AnalyticsError::InvalidParameter { name, reason }
}

fn check_bps(name: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && (0.0..=1000.0).contains(&v) {
        Ok(())
    } else {
        Err(bad(name, format!("expected 0 to 1000 bp, got {v}")))
    }
}

impl BacktestOptions {
    /// Checks every parameter, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if !(self.notional.is_finite() && self.notional > 0.0 && self.notional <= 1e12) {
            return Err(bad(
                "notional",
                format!(
                    "expected a positive amount up to 1e12, got {}",
                    self.notional
                ),
            ));
        }
        check_bps("fee_bps_x", self.fee_bps_x)?;
        check_bps("fee_bps_y", self.fee_bps_y)?;
        check_bps("half_spread_bps", self.half_spread_bps)?;
        check_bps("slippage_bps", self.slippage_bps)?;
        for (name, s) in [
            ("qty_step_x", self.qty_step_x),
            ("qty_step_y", self.qty_step_y),
        ] {
            if !(s.is_finite() && s >= 0.0) {
                return Err(bad(name, format!("expected a step >= 0, got {s}")));
            }
        }
        if let Some(s) = self.stop_pct {
            if !(s.is_finite() && s > 0.0 && s <= 100.0) {
                return Err(bad("stop_pct", format!("expected (0, 100], got {s}")));
            }
        }
        if self.max_hold_bars == Some(0) {
            return Err(bad("max_hold_bars", "expected at least 1 bar".into()));
        }
        if !(self.beta_min.is_finite()
            && self.beta_max.is_finite()
            && self.beta_min < self.beta_max)
        {
            return Err(bad(
                "beta_min/beta_max",
                format!(
                    "need finite beta_min < beta_max, got {} and {}",
                    self.beta_min, self.beta_max
                ),
            ));
        }
        if let Some(j) = self.beta_jump {
            if !(j.is_finite() && j > 0.0) {
                return Err(bad("beta_jump", format!("expected > 0, got {j}")));
            }
        }
        if let Some(b) = self.bars_per_year {
            if !(b.is_finite() && b > 0.0) {
                return Err(bad("bars_per_year", format!("expected > 0, got {b}")));
            }
        }
        Ok(())
    }
}

/// An order decided on a bar's close, to fill on the next bar.
#[derive(Debug, Clone, Copy)]
struct Order {
    target: Option<PositionSide>,
    reason: Option<ExitReason>,
    bar: usize,
    z: Option<f64>,
    beta: Option<f64>,
}

/// The running state of the engine.
struct Book<'a> {
    input: &'a Input<'a>,
    opts: &'a BacktestOptions,
    cash: f64,
    qx: f64,
    qy: f64,
    turnover: f64,
    open: Option<Trade>,
    trades: Vec<Trade>,
}

impl Book<'_> {
    /// The price and costs of trading `dq` of a leg on bar `t`.
    fn fill(&self, leg: &Leg, fee_bps: f64, t: usize, dq: f64) -> Option<Fill> {
        let reference = match self.opts.fill {
            FillAt::NextOpen => Some(leg.open[t]),
            FillAt::NextClose => Some(leg.close[t]),
            FillAt::NextQuote => None,
        };
        fill_leg(
            leg.book.and_then(|b| b[t]),
            reference,
            dq,
            fee_bps,
            self.opts,
        )
    }

    /// Time of a fill on bar `t`.
    fn fill_time(&self, t: usize) -> i64 {
        let i = self.input;
        match self.opts.fill {
            FillAt::NextOpen => i.ts[t],
            FillAt::NextClose => i.ts[t] + i.bar_ms - 1,
            FillAt::NextQuote => {
                let tx = i.x.book.and_then(|b| b[t]).map_or(i.ts[t], |b| b.ts);
                let ty = i.y.book.and_then(|b| b[t]).map_or(i.ts[t], |b| b.ts);
                tx.max(ty)
            }
        }
    }

    /// Trade both legs by `(dx, dy)` at bar `t`; `None` when a leg cannot
    /// fill (no quote for a next-quote fill).
    fn trade(&mut self, t: usize, dx: f64, dy: f64) -> Option<(Fill, Fill)> {
        let i = self.input;
        let fx = self.fill(&i.x, self.opts.fee_bps_x, t, dx)?;
        let fy = self.fill(&i.y, self.opts.fee_bps_y, t, dy)?;
        self.cash -= dx * fx.price + dy * fy.price + fx.fee + fy.fee;
        self.qx += dx;
        self.qy += dy;
        self.turnover += dx.abs() * fx.price + dy.abs() * fy.price;
        Some((fx, fy))
    }

    /// Quantities of a new `side` position decided on bar `b`.
    fn size(
        &self,
        side: PositionSide,
        b: usize,
        beta: f64,
        prices: PriceScale,
    ) -> Option<(f64, f64)> {
        let i = self.input;
        size_position(side, i.x.close[b], i.y.close[b], beta, prices, self.opts)
    }
}

/// One leg's fill: price, mid and costs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fill {
    pub(crate) price: f64,
    pub(crate) mid: f64,
    pub(crate) fee: f64,
    pub(crate) slip: f64,
}

/// The fill of a market order for `dq` of one leg (see "Fills and
/// costs"): at the side of `book` crossed when there is one, else at
/// `reference` (the mid) plus the assumed half spread; `None` with
/// neither.
pub(crate) fn fill_leg(
    book: Option<Touch>,
    reference: Option<f64>,
    dq: f64,
    fee_bps: f64,
    o: &BacktestOptions,
) -> Option<Fill> {
    let buy = dq > 0.0;
    let (price, mid) = match book {
        Some(b) => {
            let mid = 0.5 * (b.bid + b.ask);
            (if buy { b.ask } else { b.bid }, mid)
        }
        None => {
            let mid = reference?;
            let hs = o.half_spread_bps * 1e-4;
            (
                if buy {
                    mid * (1.0 + hs)
                } else {
                    mid * (1.0 - hs)
                },
                mid,
            )
        }
    };
    let sl = o.slippage_bps * 1e-4;
    let price = if buy {
        price * (1.0 + sl)
    } else {
        price * (1.0 - sl)
    };
    let q = dq.abs();
    Some(Fill {
        price,
        mid,
        fee: fee_bps * 1e-4 * q * price,
        slip: q * (price - mid).abs(),
    })
}

/// Signed quantities `(qx, qy)` of a new `side` position sized at closes
/// `(cx, cy)` and hedge ratio `beta` (see "Sizing"); `None` when a leg
/// rounds to zero.
pub(crate) fn size_position(
    side: PositionSide,
    cx: f64,
    cy: f64,
    beta: f64,
    prices: PriceScale,
    opts: &BacktestOptions,
) -> Option<(f64, f64)> {
    let h = match prices {
        PriceScale::Log => beta * cy / cx,
        PriceScale::Raw => beta,
    };
    let n = opts.notional;
    let (qy, qx) = match opts.sizing {
        Sizing::BetaWeighted => {
            let qy = n / (cy + h.abs() * cx);
            (qy, -h * qy)
        }
        Sizing::DollarNeutral => (n / 2.0 / cy, -h.signum() * n / 2.0 / cx),
    };
    let qy = round_step(qy, opts.qty_step_y);
    let qx = round_step(qx, opts.qty_step_x);
    if qy == 0.0 || qx == 0.0 || !qy.is_finite() || !qx.is_finite() {
        return None;
    }
    Some((side.sign() * qx, side.sign() * qy))
}

/// `q` rounded toward zero to a multiple of `step` (0 = unchanged); the
/// 1e-9 keeps a quantity that is a whole number of steps from losing one
/// to binary rounding.
pub fn round_step(q: f64, step: f64) -> f64 {
    if step > 0.0 {
        q.signum() * ((q.abs() / step + 1e-9).floor() * step)
    } else {
        q
    }
}

fn check_input(input: &Input, opts: &BacktestOptions) -> Result<()> {
    let n = input.ts.len();
    if n == 0 {
        return Err(AnalyticsError::Empty { series: "ts" });
    }
    let lens = [
        input.x.open.len(),
        input.x.close.len(),
        input.y.open.len(),
        input.y.close.len(),
        input.beta.len(),
        input.z.len(),
    ];
    if let Some(&m) = lens.iter().find(|&&l| l != n) {
        return Err(AnalyticsError::LengthMismatch { x: n, y: m });
    }
    for leg in [&input.x, &input.y] {
        if let Some(b) = leg.book {
            if b.len() != n {
                return Err(AnalyticsError::LengthMismatch { x: n, y: b.len() });
            }
        } else if opts.fill == FillAt::NextQuote {
            return Err(bad(
                "fill",
                "next-quote fills need stored quotes of both legs".into(),
            ));
        }
    }
    if input.bar_ms <= 0 {
        return Err(bad("bar_ms", format!("expected > 0, got {}", input.bar_ms)));
    }
    if input.ts.windows(2).any(|w| w[1] <= w[0]) {
        return Err(bad("ts", "bar times must be strictly ascending".into()));
    }
    let series = [
        ("x.open", input.x.open),
        ("x.close", input.x.close),
        ("y.open", input.y.open),
        ("y.close", input.y.close),
    ];
    for (name, s) in series {
        if let Some(index) = s.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(AnalyticsError::NonPositivePrice {
                series: name,
                index,
                value: s[index],
            });
        }
    }
    Ok(())
}

/// Runs the rule (see the module docs).
pub fn backtest(input: &Input, rule: &Rule, opts: &BacktestOptions) -> Result<BacktestResult> {
    run(input, rule, opts).map(|(r, _)| r)
}

/// [`backtest`] and the return statistics of its bars (pooled by the
/// walk-forward's in-sample report).
pub(crate) fn run(
    input: &Input,
    rule: &Rule,
    opts: &BacktestOptions,
) -> Result<(BacktestResult, ReturnStats)> {
    check_thresholds(rule.entry, rule.exit)?;
    opts.validate()?;
    check_input(input, opts)?;
    let n = input.ts.len();
    let mut s = Book {
        input,
        opts,
        cash: 0.0,
        qx: 0.0,
        qy: 0.0,
        turnover: 0.0,
        open: None,
        trades: Vec::new(),
    };
    let mut r = BacktestResult {
        position: Vec::with_capacity(n),
        equity: Vec::with_capacity(n),
        drawdown: Vec::with_capacity(n),
        ..Default::default()
    };
    let mut sum = Summary {
        notional: opts.notional,
        bars: n,
        bars_per_year: opts
            .bars_per_year
            .unwrap_or(365.0 * 86_400_000.0 / input.bar_ms as f64),
        ..Default::default()
    };
    let mut order: Option<Order> = None;
    // PositionSide that may not be entered again until |z| < entry.
    let mut locked: Option<PositionSide> = None;
    let (mut fx_i, mut fy_i) = (0usize, 0usize);
    let mut flat_i = 0usize;
    let mut last_equity = 0.0;
    let mut stats = ReturnStats::default();
    let mut dd = Drawdown::new(opts.notional);
    let mut exposed = 0usize;
    for t in 0..n {
        let end = if t + 1 < n {
            input.ts[t + 1]
        } else {
            input.ts[t] + input.bar_ms
        };
        // Funding before the first bar is not this backtest's.
        if t == 0 {
            while fx_i < input.x.funding.len() && input.x.funding[fx_i].ts < input.ts[0] {
                fx_i += 1;
            }
            while fy_i < input.y.funding.len() && input.y.funding[fy_i].ts < input.ts[0] {
                fy_i += 1;
            }
        }
        let pending = order
            .take()
            .filter(|o| o.target != s.open.as_ref().map(|tr| tr.side));
        let fill_at = pending.map(|_| s.fill_time(t));
        // Funding settled before this bar's fill is owed by the position
        // held before it.
        if let Some(ft) = fill_at {
            settle_funding(&mut s, t, ft, &mut fx_i, &mut fy_i);
        }
        if let Some(o) = pending {
            execute(&mut s, &mut sum, t, fill_at.unwrap_or(input.ts[t]), o, rule);
        }
        settle_funding(&mut s, t, end, &mut fx_i, &mut fy_i);
        let (cx, cy) = (input.x.close[t], input.y.close[t]);
        let equity = s.cash + s.qx * cx + s.qy * cy;
        let pnl = equity - last_equity;
        last_equity = equity;
        stats.push(pnl / opts.notional);
        let pos = s.open.as_ref().map_or(0, |tr| tr.side.sign() as i8);
        if pos != 0 {
            exposed += 1;
        }
        r.position.push(pos);
        r.equity.push(equity);
        r.drawdown
            .push(dd.push(opts.notional + equity, input.ts[t]));

        // Decide on this bar's close.
        let fold_end = flat_i < input.flat_after.len() && input.flat_after[flat_i] == t;
        if fold_end {
            flat_i += 1;
        }
        let held = s.open.as_ref().map(|tr| Held {
            side: tr.side,
            beta: tr.beta,
            bars_held: t - tr.entry_bar,
            unrealized: tr.net_so_far(cx, cy),
            notional: tr.notional,
        });
        let signal = BarSignal {
            z: input.z[t],
            beta: input.beta[t],
            fold_end,
        };
        match decide(held, signal, &mut locked, rule, opts) {
            Decision::Hold => {}
            Decision::SkippedBeta => sum.skipped_beta += 1,
            Decision::Order { target, reason } => {
                order = Some(Order {
                    target,
                    reason,
                    bar: t,
                    z: signal.z,
                    beta: signal.beta.filter(|b| b.is_finite()),
                });
            }
        }
    }
    // The position still open is marked at the last closes.
    if let Some(mut tr) = s.open.take() {
        let (cx, cy) = (input.x.close[n - 1], input.y.close[n - 1]);
        tr.gross += tr.qty_x * cx + tr.qty_y * cy;
        tr.finish();
        s.trades.push(tr);
    }
    sum.exposure = exposed as f64 / n as f64;
    sum.turnover = s.turnover / opts.notional;
    summarize(&mut sum, &s.trades, &stats, &dd, last_equity);
    r.trades = s.trades;
    r.summary = sum;
    Ok((r, stats))
}

/// The open position as the rule sees it on a bar's close.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Held {
    pub(crate) side: PositionSide,
    /// Hedge ratio it was entered at.
    pub(crate) beta: f64,
    /// Bars since its entry fill.
    pub(crate) bars_held: usize,
    /// Its PnL so far, marked at the close, net of the costs paid.
    pub(crate) unrealized: f64,
    /// Gross notional at its entry fills.
    pub(crate) notional: f64,
}

/// What the rule reads from one bar's close.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BarSignal {
    pub(crate) z: Option<f64>,
    pub(crate) beta: Option<f64>,
    /// Flat after this bar (walk-forward fold end).
    pub(crate) fold_end: bool,
}

/// The rule's decision on one bar's close.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Decision {
    /// Keep the position (or stay flat).
    Hold,
    /// An entry signal the hedge ratio does not allow (undefined or out of
    /// bounds): stay flat.
    SkippedBeta,
    /// Trade to `target` (flat when `None`), closing the open position for
    /// `reason`.
    Order {
        target: Option<PositionSide>,
        reason: Option<ExitReason>,
    },
}

/// The rule of the module docs on one bar's close: entries, the exits in
/// their precedence and the lock after a stop, beta break or maximum hold.
/// `locked` carries the locked side from bar to bar. The backtest and the
/// paper trader both decide through this one function.
#[inline]
pub(crate) fn decide(
    held: Option<Held>,
    bar: BarSignal,
    locked: &mut Option<PositionSide>,
    rule: &Rule,
    opts: &BacktestOptions,
) -> Decision {
    let z = bar.z;
    let beta = bar.beta.filter(|b| b.is_finite());
    if let Some(z) = z {
        if z.abs() < rule.entry {
            *locked = None;
        }
    }
    let in_bounds = |b: f64| b >= opts.beta_min && b <= opts.beta_max;
    let entry_side = match z {
        Some(z) if z > rule.entry => Some(PositionSide::Short),
        Some(z) if z < -rule.entry => Some(PositionSide::Long),
        _ => None,
    }
    .filter(|side| Some(*side) != *locked);
    let Some(h) = held else {
        return match entry_side {
            Some(_) if bar.fold_end => Decision::Hold,
            Some(side) if beta.is_some_and(in_bounds) => Decision::Order {
                target: Some(side),
                reason: None,
            },
            Some(_) => Decision::SkippedBeta,
            None => Decision::Hold,
        };
    };
    let stop = opts
        .stop_pct
        .is_some_and(|p| h.unrealized <= -p / 100.0 * h.notional);
    let broken = match beta {
        None => true,
        Some(b) => {
            !in_bounds(b)
                || opts
                    .beta_jump
                    .is_some_and(|j| (b - h.beta).abs() > j * h.beta.abs())
        }
    } && opts.on_beta_break == OnBetaBreak::Flatten;
    let max_hold = opts.max_hold_bars.is_some_and(|m| h.bars_held >= m);
    let flip = entry_side.is_some_and(|side| side != h.side);
    let band = z.is_some_and(|z| z.abs() < rule.exit);
    let (target, reason) = if stop {
        (None, ExitReason::Stop)
    } else if broken {
        (None, ExitReason::BetaBreak)
    } else if max_hold {
        (None, ExitReason::MaxHold)
    } else if bar.fold_end {
        (None, ExitReason::FoldEnd)
    } else if flip {
        (
            entry_side.filter(|_| beta.is_some_and(in_bounds)),
            ExitReason::Flip,
        )
    } else if band {
        (None, ExitReason::Band)
    } else {
        return Decision::Hold;
    };
    if matches!(
        reason,
        ExitReason::Stop | ExitReason::BetaBreak | ExitReason::MaxHold
    ) {
        *locked = Some(h.side);
    }
    Decision::Order {
        target,
        reason: Some(reason),
    }
}

/// Apply the funding settled strictly before `until` to the position held
/// now, priced at bar `t`'s close.
fn settle_funding(s: &mut Book, t: usize, until: i64, fx_i: &mut usize, fy_i: &mut usize) {
    let i = s.input;
    for (leg, idx, is_x) in [(&i.x, fx_i, true), (&i.y, fy_i, false)] {
        while *idx < leg.funding.len() && leg.funding[*idx].ts < until {
            let ev = leg.funding[*idx];
            *idx += 1;
            let q = if is_x { s.qx } else { s.qy };
            if q == 0.0 {
                continue;
            }
            let pay = -q * ev.rate * leg.close[t];
            s.cash += pay;
            if let Some(tr) = s.open.as_mut() {
                tr.funding += pay;
            }
        }
    }
}

/// Fill an order on bar `t` at time `at`: close the open trade, open the
/// target.
fn execute(s: &mut Book, sum: &mut Summary, t: usize, at: i64, o: Order, rule: &Rule) {
    // Size the new side first so a skipped entry is counted; the open
    // position is closed either way (a flip that cannot be sized ends flat).
    let new = match (o.target, o.beta) {
        (Some(side), Some(beta)) => match s.size(side, o.bar, beta, rule.prices) {
            Some(q) => Some((side, beta, q)),
            None => {
                sum.skipped_size += 1;
                None
            }
        },
        _ => None,
    };
    if let Some(tr) = s.open.as_ref() {
        let (dx, dy) = (-tr.qty_x, -tr.qty_y);
        let Some((fx, fy)) = s.trade(t, dx, dy) else {
            sum.skipped_no_quote += 1;
            return;
        };
        let mut tr = s.open.take().unwrap_or_else(|| unreachable!());
        tr.exit_bar = Some(t);
        tr.exit_ts = Some(at);
        tr.exit_x = Some(fx.price);
        tr.exit_y = Some(fy.price);
        tr.exit_reason = o.reason;
        tr.gross += -dx * fx.mid - dy * fy.mid;
        tr.fees += fx.fee + fy.fee;
        tr.slippage += fx.slip + fy.slip;
        tr.finish();
        s.trades.push(tr);
    }
    let Some((side, beta, (qx, qy))) = new else {
        return;
    };
    let Some((fx, fy)) = s.trade(t, qx, qy) else {
        sum.skipped_no_quote += 1;
        return;
    };
    s.open = Some(Trade {
        side,
        signal_bar: o.bar,
        entry_z: o.z,
        beta,
        entry_bar: t,
        entry_ts: at,
        qty_x: qx,
        qty_y: qy,
        entry_x: fx.price,
        entry_y: fy.price,
        notional: qx.abs() * fx.price + qy.abs() * fy.price,
        exit_bar: None,
        exit_ts: None,
        exit_x: None,
        exit_y: None,
        exit_reason: None,
        // Entry mids; the exit adds the exit mids' value.
        gross: -(qx * fx.mid + qy * fy.mid),
        fees: fx.fee + fy.fee,
        funding: 0.0,
        slippage: fx.slip + fy.slip,
        net: 0.0,
        net_pct: 0.0,
    });
}

impl Trade {
    /// Net PnL so far of this open trade, marked at closes `(cx, cy)`.
    fn net_so_far(&self, cx: f64, cy: f64) -> f64 {
        self.qty_x * (cx - self.entry_x) + self.qty_y * (cy - self.entry_y) - self.fees
            + self.funding
    }

    fn finish(&mut self) {
        self.net = self.gross - self.slippage - self.fees + self.funding;
        self.net_pct = self.net / self.notional * 100.0;
    }
}

/// Running mean, variance and downside of the bar returns.
#[derive(Debug, Default, Clone)]
pub(crate) struct ReturnStats {
    n: usize,
    mean: f64,
    m2: f64,
    down2: f64,
}

impl ReturnStats {
    pub(crate) fn push(&mut self, r: f64) {
        self.n += 1;
        let d = r - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (r - self.mean);
        if r < 0.0 {
            self.down2 += r * r;
        }
    }

    pub(crate) fn merge(&mut self, o: &ReturnStats) {
        if o.n == 0 {
            return;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        self.mean += d * o.n as f64 / n as f64;
        self.m2 += o.m2 + d * d * (self.n as f64) * (o.n as f64) / n as f64;
        self.down2 += o.down2;
        self.n = n;
    }

    fn sharpe(&self, per_year: f64) -> Option<f64> {
        if self.n < 2 {
            return None;
        }
        let var = self.m2 / (self.n - 1) as f64;
        (var > 0.0).then(|| self.mean / var.sqrt() * per_year.sqrt())
    }

    fn sortino(&self, per_year: f64) -> Option<f64> {
        if self.n < 2 {
            return None;
        }
        let dd = (self.down2 / self.n as f64).sqrt();
        (dd > 0.0).then(|| self.mean / dd * per_year.sqrt())
    }
}

/// Running drawdown of the account.
#[derive(Debug, Clone)]
struct Drawdown {
    peak: f64,
    /// Time of the peak (the first bar's for the starting capital).
    peak_ts: Option<i64>,
    under: bool,
    max_pct: f64,
    max_ms: i64,
}

impl Drawdown {
    fn new(start: f64) -> Self {
        Drawdown {
            peak: start,
            peak_ts: None,
            under: false,
            max_pct: 0.0,
            max_ms: 0,
        }
    }

    /// Adds the account at `ts`; returns its drawdown, percent.
    fn push(&mut self, account: f64, ts: i64) -> f64 {
        let since = ts - *self.peak_ts.get_or_insert(ts);
        if account >= self.peak {
            if self.under {
                self.max_ms = self.max_ms.max(since);
                self.under = false;
            }
            self.peak = account;
            self.peak_ts = Some(ts);
            return 0.0;
        }
        self.under = true;
        self.max_ms = self.max_ms.max(since);
        let pct = (self.peak - account) / self.peak * 100.0;
        self.max_pct = self.max_pct.max(pct);
        pct
    }
}

fn summarize(sum: &mut Summary, trades: &[Trade], stats: &ReturnStats, dd: &Drawdown, net: f64) {
    sum.trades = trades.len();
    for tr in trades {
        sum.gross += tr.gross;
        sum.fees += tr.fees;
        sum.funding += tr.funding;
        sum.slippage += tr.slippage;
    }
    let closed: Vec<&Trade> = trades.iter().filter(|t| t.exit_ts.is_some()).collect();
    sum.closed = closed.len();
    sum.wins = closed.iter().filter(|t| t.net > 0.0).count();
    sum.hit_rate = (sum.closed > 0).then(|| sum.wins as f64 / sum.closed as f64);
    sum.avg_hold_ms = (sum.closed > 0).then(|| {
        closed
            .iter()
            .map(|t| (t.exit_ts.unwrap_or(t.entry_ts) - t.entry_ts) as f64)
            .sum::<f64>()
            / sum.closed as f64
    });
    sum.net = net;
    sum.net_pct = net / sum.notional * 100.0;
    sum.sharpe = stats.sharpe(sum.bars_per_year);
    sum.sortino = stats.sortino(sum.bars_per_year);
    sum.max_drawdown_pct = dd.max_pct;
    sum.max_drawdown_ms = dd.max_ms;
}

/// Summary of several runs as one: sums of money and counts, Sharpe and
/// Sortino over all their bars pooled, the worst drawdown (the in-sample
/// report of a walk-forward, whose training windows overlap).
pub(crate) fn pooled_summary(parts: &[(Summary, ReturnStats)], notional: f64) -> Summary {
    let mut s = Summary {
        notional,
        bars_per_year: parts.first().map_or(0.0, |p| p.0.bars_per_year),
        ..Default::default()
    };
    let mut st = ReturnStats::default();
    let mut hold = 0.0;
    for (p, r) in parts {
        st.merge(r);
        s.bars += p.bars;
        s.net += p.net;
        s.gross += p.gross;
        s.fees += p.fees;
        s.funding += p.funding;
        s.slippage += p.slippage;
        s.trades += p.trades;
        s.closed += p.closed;
        s.wins += p.wins;
        hold += p.avg_hold_ms.unwrap_or(0.0) * p.closed as f64;
        s.max_drawdown_pct = s.max_drawdown_pct.max(p.max_drawdown_pct);
        s.max_drawdown_ms = s.max_drawdown_ms.max(p.max_drawdown_ms);
        s.exposure += p.exposure * p.bars as f64;
        s.turnover += p.turnover;
        s.skipped_beta += p.skipped_beta;
        s.skipped_size += p.skipped_size;
        s.skipped_no_quote += p.skipped_no_quote;
    }
    if s.bars > 0 {
        s.exposure /= s.bars as f64;
    }
    s.net_pct = s.net / notional * 100.0;
    s.hit_rate = (s.closed > 0).then(|| s.wins as f64 / s.closed as f64);
    s.avg_hold_ms = (s.closed > 0).then(|| hold / s.closed as f64);
    s.sharpe = st.sharpe(s.bars_per_year);
    s.sortino = st.sortino(s.bars_per_year);
    s
}
