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
//!
//! # Baskets
//! [`backtest_basket`] runs the same rule, fills, costs and accounting on
//! 2 to [`MAX_BASKET_LEGS`] legs. The spread is `sum w_i p_i` with weights
//! `w[t]` known at bar `t`'s close (the first leg's 1), and the position
//! follows the weights it was entered at, scaled so the gross notional is
//! `notional`: on log prices each leg's quote exposure is `c w_i` with `c
//! = notional / sum |w_i|` (`q_i = c w_i / close_i`; a weight is an
//! elasticity), on raw prices `q_i = c w_i` with `c = notional / sum |w_i|
//! close_i`. Each leg has its own fee and lot step. There is no single
//! hedge ratio, so the beta bounds and jump do not apply: undefined
//! weights are the break (and block entries, counted in `skipped_beta`).
//! On two legs with weights `(1, -beta)` this is the pair's beta-weighted
//! sizing, and the results are the pair's.

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

/// A basket leg: its prices, book and funding, and what trading it costs.
#[derive(Debug, Clone, Copy)]
pub struct BasketLeg<'a> {
    pub leg: Leg<'a>,
    /// Taker fee, bp of the fill's notional.
    pub fee_bps: f64,
    /// Quantity step (lot size); 0 = none.
    pub qty_step: f64,
}

/// Bars, 2 to [`MAX_BASKET_LEGS`] legs and the signal series the rule
/// reads for a basket.
#[derive(Debug, Clone, Copy)]
pub struct BasketInput<'a> {
    /// Bar starts, ms, ascending.
    pub ts: &'a [i64],
    pub bar_ms: i64,
    pub legs: &'a [BasketLeg<'a>],
    /// Spread weights known at each bar's close, one per leg (the first
    /// leg's 1), on the rule's price scale; `None` where undefined.
    /// (Borrowed, so a fit held over many bars is not copied per bar.)
    pub weights: &'a [Option<&'a [f64]>],
    pub z: &'a [Option<f64>],
    /// Bars after whose close the position is closed (ascending; the
    /// walk-forward's fold ends).
    pub flat_after: &'a [usize],
}

/// Most legs a basket backtest takes.
pub const MAX_BASKET_LEGS: usize = 12;

/// One round trip of a basket (or the position still open at the end).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BasketTrade {
    pub side: PositionSide,
    /// Bar whose close decided the entry, its z and the spread weights the
    /// position was sized by.
    pub signal_bar: usize,
    pub entry_z: Option<f64>,
    pub weights: Vec<f64>,
    /// Fill bar and time of the entry, ms.
    pub entry_bar: usize,
    pub entry_ts: i64,
    /// Signed quantities per leg (positive = bought), and the entry fills.
    pub qty: Vec<f64>,
    pub entry: Vec<f64>,
    /// Gross notional at the entry fills, quote currency.
    pub notional: f64,
    pub exit_bar: Option<usize>,
    pub exit_ts: Option<i64>,
    pub exit: Option<Vec<f64>>,
    pub exit_reason: Option<ExitReason>,
    /// Quote currency, as a pair's [`Trade`].
    pub gross: f64,
    pub fees: f64,
    pub funding: f64,
    pub slippage: f64,
    pub net: f64,
    /// `net` as percent of the entry notional.
    pub net_pct: f64,
}

/// A basket backtest's output; per-bar vectors align with the input.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BasketBacktest {
    /// Spread position at each bar's close: -1, 0 or +1.
    pub position: Vec<i8>,
    /// Cumulative net PnL at each bar's close, quote currency.
    pub equity: Vec<f64>,
    /// Account below its peak at each bar's close, percent of the peak.
    pub drawdown: Vec<f64>,
    pub trades: Vec<BasketTrade>,
    /// As a pair's; `skipped_beta` counts entries with the weights
    /// undefined.
    pub summary: Summary,
    /// Set when this is a walk-forward's out-of-sample run: the folds and
    /// the in-sample figures beside it.
    pub walk_forward: Option<super::walk_forward::BasketWalkForwardReport>,
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
    /// The wire name (`long`, `short`).
    pub fn as_str(self) -> &'static str {
        match self {
            PositionSide::Long => "long",
            PositionSide::Short => "short",
        }
    }

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
    hedge: Option<f64>,
}

/// Signed quantities per leg of a new position on a side, decided on bar
/// `b` at hedge `h`; `None` when a leg rounds to zero.
type SizeFn<'a> = dyn Fn(PositionSide, usize, f64) -> Option<Vec<f64>> + 'a;

/// What the engine runs, whatever the number of legs: a pair is two legs
/// sized by its beta ([`backtest`]), a basket N legs sized by its weights
/// ([`backtest_basket`]). One engine, so both pay the same costs by the
/// same rule.
///
/// Generic over how the legs are held so a pair's are an array: its loops
/// over the legs then have a length the compiler knows and unrolls (a
/// slice cost the pair backtest about 18 ns a bar).
struct Engine<'a, L: AsRef<[Leg<'a>]>> {
    ts: &'a [i64],
    bar_ms: i64,
    legs: L,
    fee_bps: &'a [f64],
    /// The hedge ratio the rule reads at each close (a basket's is 1
    /// where its weights are defined, so only undefined weights break).
    hedge: &'a [Option<f64>],
    z: &'a [Option<f64>],
    flat_after: &'a [usize],
    size: &'a SizeFn<'a>,
}

/// A trade as the engine keeps it, with the hedge it was entered at.
struct Open {
    tr: BasketTrade,
    hedge: f64,
}

/// The running state of the engine.
struct Book<'b, 'a, L: AsRef<[Leg<'a>]>> {
    e: &'b Engine<'a, L>,
    opts: &'b BacktestOptions,
    cash: f64,
    q: Vec<f64>,
    turnover: f64,
    open: Option<Open>,
    trades: Vec<Open>,
}

impl<'a, L: AsRef<[Leg<'a>]>> Book<'_, 'a, L> {
    /// Time of a fill on bar `t`.
    fn fill_time(&self, t: usize) -> i64 {
        let e = self.e;
        match self.opts.fill {
            FillAt::NextOpen => e.ts[t],
            FillAt::NextClose => e.ts[t] + e.bar_ms - 1,
            FillAt::NextQuote => e
                .legs()
                .iter()
                .map(|l| l.book.and_then(|b| b[t]).map_or(e.ts[t], |b| b.ts))
                .max()
                .unwrap_or(e.ts[t]),
        }
    }

    /// Trade every leg by `dq` at bar `t`; `None` when a leg cannot fill
    /// (no quote for a next-quote fill), and then nothing is traded.
    fn trade(&mut self, t: usize, dq: &[f64]) -> Option<Vec<Fill>> {
        let e = self.e;
        let fill = self.opts.fill;
        let fills: Vec<Fill> = e
            .legs()
            .iter()
            .zip(e.fee_bps)
            .zip(dq)
            .map(|((leg, fee), d)| {
                let reference = match fill {
                    FillAt::NextOpen => Some(leg.open[t]),
                    FillAt::NextClose => Some(leg.close[t]),
                    FillAt::NextQuote => None,
                };
                fill_leg(leg.book.and_then(|b| b[t]), reference, *d, *fee, self.opts)
            })
            .collect::<Option<_>>()?;
        // Summed in leg order from zero: the same rounding as writing the
        // legs out by hand.
        let (mut cost, mut turn) = (0.0, 0.0);
        for (d, f) in dq.iter().zip(&fills) {
            cost += d * f.price;
            turn += d.abs() * f.price;
        }
        for f in &fills {
            cost += f.fee;
        }
        self.cash -= cost;
        for (q, d) in self.q.iter_mut().zip(dq) {
            *q += d;
        }
        self.turnover += turn;
        Some(fills)
    }
}

/// `sum f(fill, q)` over the legs, from zero in leg order.
fn leg_sum(fills: &[Fill], q: &[f64], f: impl Fn(&Fill, f64) -> f64) -> f64 {
    let mut s = 0.0;
    for (fl, q) in fills.iter().zip(q) {
        s += f(fl, *q);
    }
    s
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
    check_flat_after(input.flat_after, n)?;
    Ok(())
}

/// The bars to close after must be strictly ascending bar indexes (the
/// engine walks them in step with the bars).
fn check_flat_after(flat_after: &[usize], n: usize) -> Result<()> {
    if flat_after.windows(2).any(|w| w[1] <= w[0]) || flat_after.last().is_some_and(|&b| b >= n) {
        return Err(bad(
            "flat_after",
            format!("expected strictly ascending bars below {n}"),
        ));
    }
    Ok(())
}

fn check_basket(input: &BasketInput, opts: &BacktestOptions) -> Result<()> {
    let n = input.ts.len();
    if n == 0 {
        return Err(AnalyticsError::Empty { series: "ts" });
    }
    let k = input.legs.len();
    if !(2..=MAX_BASKET_LEGS).contains(&k) {
        return Err(bad(
            "legs",
            format!("expected 2 to {MAX_BASKET_LEGS} legs, got {k}"),
        ));
    }
    for l in input.legs {
        check_bps("fee_bps", l.fee_bps)?;
        if !(l.qty_step.is_finite() && l.qty_step >= 0.0) {
            return Err(bad(
                "qty_step",
                format!("expected a step >= 0, got {}", l.qty_step),
            ));
        }
        let lens = [l.leg.open.len(), l.leg.close.len()];
        if let Some(&m) = lens.iter().find(|&&m| m != n) {
            return Err(AnalyticsError::LengthMismatch { x: n, y: m });
        }
        match l.leg.book {
            Some(b) if b.len() != n => {
                return Err(AnalyticsError::LengthMismatch { x: n, y: b.len() })
            }
            None if opts.fill == FillAt::NextQuote => {
                return Err(bad(
                    "fill",
                    "next-quote fills need stored quotes of every leg".into(),
                ))
            }
            _ => {}
        }
        for (name, s) in [("open", l.leg.open), ("close", l.leg.close)] {
            if let Some(index) = s.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(AnalyticsError::NonPositivePrice {
                    series: name,
                    index,
                    value: s[index],
                });
            }
        }
    }
    for len in [input.weights.len(), input.z.len()] {
        if len != n {
            return Err(AnalyticsError::LengthMismatch { x: n, y: len });
        }
    }
    if let Some(w) =
        input.weights.iter().flatten().find(|w| {
            w.len() != k || w.iter().any(|v| !v.is_finite()) || w.iter().all(|v| *v == 0.0)
        })
    {
        return Err(bad(
            "weights",
            format!("expected {k} finite weights, not all zero, got {w:?}"),
        ));
    }
    if input.bar_ms <= 0 {
        return Err(bad("bar_ms", format!("expected > 0, got {}", input.bar_ms)));
    }
    if input.ts.windows(2).any(|w| w[1] <= w[0]) {
        return Err(bad("ts", "bar times must be strictly ascending".into()));
    }
    check_flat_after(input.flat_after, n)?;
    Ok(())
}

/// Runs the rule (see the module docs).
pub fn backtest(input: &Input, rule: &Rule, opts: &BacktestOptions) -> Result<BacktestResult> {
    run(input, rule, opts).map(|(r, _)| r)
}

/// The rule on a basket (see "Baskets" in the module docs).
pub fn backtest_basket(
    input: &BasketInput,
    rule: &Rule,
    opts: &BacktestOptions,
) -> Result<BasketBacktest> {
    run_basket(input, rule, opts).map(|(r, _)| r)
}

/// [`backtest_basket`] and the return statistics of its bars (pooled by
/// the walk-forward's in-sample report).
pub(crate) fn run_basket(
    input: &BasketInput,
    rule: &Rule,
    opts: &BacktestOptions,
) -> Result<(BasketBacktest, ReturnStats)> {
    check_thresholds(rule.entry, rule.exit)?;
    opts.validate()?;
    check_basket(input, opts)?;
    let opts = basket_options(opts);
    let hedge: Vec<Option<f64>> = input
        .weights
        .iter()
        .map(|w| w.as_ref().map(|_| BASKET_HEDGE))
        .collect();
    let legs: Vec<Leg> = input.legs.iter().map(|l| l.leg).collect();
    let fee_bps: Vec<f64> = input.legs.iter().map(|l| l.fee_bps).collect();
    let steps: Vec<f64> = input.legs.iter().map(|l| l.qty_step).collect();
    let size = |side: PositionSide, b: usize, _| {
        let w = input.weights[b]?;
        let closes: Vec<f64> = input.legs.iter().map(|l| l.leg.close[b]).collect();
        size_basket(side, w, &closes, &steps, rule.prices, opts.notional)
    };
    let e = Engine {
        ts: input.ts,
        bar_ms: input.bar_ms,
        legs,
        fee_bps: &fee_bps,
        hedge: &hedge,
        z: input.z,
        flat_after: input.flat_after,
        size: &size,
    };
    let r = e.run(rule, &opts);
    let trades = r
        .trades
        .into_iter()
        .map(|Open { mut tr, .. }| {
            tr.weights = input.weights[tr.signal_bar].map_or_else(Vec::new, <[f64]>::to_vec);
            tr
        })
        .collect();
    Ok((
        BasketBacktest {
            position: r.position,
            equity: r.equity,
            drawdown: r.drawdown,
            trades,
            summary: r.summary,
            walk_forward: None,
        },
        r.stats,
    ))
}

/// The hedge ratio the rule sees for a basket wherever its weights are
/// defined: there is no single ratio, so the beta bounds and jump of
/// [`basket_options`] never apply and undefined weights are the only
/// break.
pub(crate) const BASKET_HEDGE: f64 = 1.0;

/// `opts` as a basket trades them (the backtest and paper trading): the
/// beta bounds and jump switched off (see [`BASKET_HEDGE`]).
pub(crate) fn basket_options(opts: &BacktestOptions) -> BacktestOptions {
    BacktestOptions {
        beta_min: 0.0,
        beta_max: 2.0,
        beta_jump: None,
        ..*opts
    }
}

/// Signed quantities of a new basket position on `side` at weights `w`
/// and the legs' decision closes, each rounded to its lot step (see
/// "Baskets"); `None` when a leg rounds to zero.
pub(crate) fn size_basket(
    side: PositionSide,
    w: &[f64],
    closes: &[f64],
    steps: &[f64],
    prices: PriceScale,
    notional: f64,
) -> Option<Vec<f64>> {
    // Per unit of c: quote exposure w_i (log) or w_i units (raw).
    let gross: f64 = w
        .iter()
        .zip(closes)
        .map(|(w, p)| match prices {
            PriceScale::Log => w.abs(),
            PriceScale::Raw => w.abs() * p,
        })
        .sum();
    let c = notional / gross;
    let mut q = Vec::with_capacity(w.len());
    for ((w, p), step) in w.iter().zip(closes).zip(steps) {
        let units = match prices {
            PriceScale::Log => c * w / p,
            PriceScale::Raw => c * w,
        };
        let units = round_step(units, *step);
        if units == 0.0 || !units.is_finite() {
            return None;
        }
        q.push(side.sign() * units);
    }
    Some(q)
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
    let fee_bps = [opts.fee_bps_x, opts.fee_bps_y];
    let size = |side, b: usize, beta| {
        size_position(
            side,
            input.x.close[b],
            input.y.close[b],
            beta,
            rule.prices,
            opts,
        )
        .map(|(qx, qy)| vec![qx, qy])
    };
    let e = Engine {
        ts: input.ts,
        bar_ms: input.bar_ms,
        legs: [input.x, input.y],
        fee_bps: &fee_bps,
        hedge: input.beta,
        z: input.z,
        flat_after: input.flat_after,
        size: &size,
    };
    let r = e.run(rule, opts);
    let trades = r
        .trades
        .into_iter()
        .map(|Open { tr, hedge }| Trade {
            side: tr.side,
            signal_bar: tr.signal_bar,
            entry_z: tr.entry_z,
            beta: hedge,
            entry_bar: tr.entry_bar,
            entry_ts: tr.entry_ts,
            qty_x: tr.qty[0],
            qty_y: tr.qty[1],
            entry_x: tr.entry[0],
            entry_y: tr.entry[1],
            notional: tr.notional,
            exit_bar: tr.exit_bar,
            exit_ts: tr.exit_ts,
            exit_x: tr.exit.as_ref().map(|v| v[0]),
            exit_y: tr.exit.as_ref().map(|v| v[1]),
            exit_reason: tr.exit_reason,
            gross: tr.gross,
            fees: tr.fees,
            funding: tr.funding,
            slippage: tr.slippage,
            net: tr.net,
            net_pct: tr.net_pct,
        })
        .collect();
    Ok((
        BacktestResult {
            position: r.position,
            equity: r.equity,
            drawdown: r.drawdown,
            trades,
            summary: r.summary,
            walk_forward: None,
        },
        r.stats,
    ))
}

/// What one run of the engine produced.
struct Run {
    position: Vec<i8>,
    equity: Vec<f64>,
    drawdown: Vec<f64>,
    trades: Vec<Open>,
    summary: Summary,
    stats: ReturnStats,
}

impl<'a, L: AsRef<[Leg<'a>]>> Engine<'a, L> {
    #[inline]
    fn legs(&self) -> &[Leg<'a>] {
        self.legs.as_ref()
    }

    /// The rule over every bar (inputs checked by the caller).
    fn run(&self, rule: &Rule, opts: &BacktestOptions) -> Run {
        let n = self.ts.len();
        let mut s = Book {
            e: self,
            opts,
            cash: 0.0,
            q: vec![0.0; self.legs().len()],
            turnover: 0.0,
            open: None,
            trades: Vec::new(),
        };
        let mut r = Run {
            position: Vec::with_capacity(n),
            equity: Vec::with_capacity(n),
            drawdown: Vec::with_capacity(n),
            trades: Vec::new(),
            summary: Summary {
                notional: opts.notional,
                bars: n,
                bars_per_year: opts
                    .bars_per_year
                    .unwrap_or(365.0 * 86_400_000.0 / self.bar_ms as f64),
                ..Default::default()
            },
            stats: ReturnStats::default(),
        };
        let mut order: Option<Order> = None;
        // PositionSide that may not be entered again until |z| < entry.
        let mut locked: Option<PositionSide> = None;
        // Each leg's next funding settlement; those before the first bar
        // are not this backtest's.
        let mut fi: Vec<usize> = self
            .legs()
            .iter()
            .map(|l| l.funding.iter().take_while(|f| f.ts < self.ts[0]).count())
            .collect();
        let mut flat_i = 0usize;
        let mut last_equity = 0.0;
        let mut dd = Drawdown::new(opts.notional);
        let mut exposed = 0usize;
        for t in 0..n {
            let end = if t + 1 < n {
                self.ts[t + 1]
            } else {
                self.ts[t] + self.bar_ms
            };
            let pending = order
                .take()
                .filter(|o| o.target != s.open.as_ref().map(|op| op.tr.side));
            let fill_at = pending.map(|_| s.fill_time(t));
            // Funding settled before this bar's fill is owed by the
            // position held before it.
            if let Some(ft) = fill_at {
                settle_funding(&mut s, t, ft, &mut fi);
            }
            if let Some(o) = pending {
                execute(&mut s, &mut r.summary, t, fill_at.unwrap_or(self.ts[t]), o);
            }
            settle_funding(&mut s, t, end, &mut fi);
            // A fold keeps the running sum in a register (a loop spilled it
            // to the stack every bar); the order of the sums is the same.
            let equity =
                s.q.iter()
                    .zip(self.legs())
                    .fold(s.cash, |e, (q, leg)| e + q * leg.close[t]);
            let pnl = equity - last_equity;
            last_equity = equity;
            r.stats.push(pnl / opts.notional);
            let pos = s.open.as_ref().map_or(0, |op| op.tr.side.sign() as i8);
            if pos != 0 {
                exposed += 1;
            }
            r.position.push(pos);
            r.equity.push(equity);
            r.drawdown.push(dd.push(opts.notional + equity, self.ts[t]));

            // Decide on this bar's close.
            let fold_end = flat_i < self.flat_after.len() && self.flat_after[flat_i] == t;
            if fold_end {
                flat_i += 1;
            }
            let held = s.open.as_ref().map(|op| Held {
                side: op.tr.side,
                beta: op.hedge,
                bars_held: t - op.tr.entry_bar,
                unrealized: op.tr.net_so_far(self.legs(), t),
                notional: op.tr.notional,
            });
            let signal = BarSignal {
                z: self.z[t],
                beta: self.hedge[t],
                fold_end,
            };
            match decide(held, signal, &mut locked, rule, opts) {
                Decision::Hold => {}
                Decision::SkippedBeta => r.summary.skipped_beta += 1,
                Decision::Order { target, reason } => {
                    order = Some(Order {
                        target,
                        reason,
                        bar: t,
                        z: signal.z,
                        hedge: signal.beta.filter(|b| b.is_finite()),
                    });
                }
            }
        }
        // The position still open is marked at the last closes.
        if let Some(mut op) = s.open.take() {
            let mut mark = 0.0;
            for (q, leg) in op.tr.qty.iter().zip(self.legs()) {
                mark += q * leg.close[n - 1];
            }
            op.tr.gross += mark;
            op.tr.finish();
            s.trades.push(op);
        }
        r.summary.exposure = exposed as f64 / n as f64;
        r.summary.turnover = s.turnover / opts.notional;
        summarize(&mut r.summary, &s.trades, &r.stats, &dd, last_equity);
        r.trades = s.trades;
        r
    }
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
/// now, priced at bar `t`'s close; `next[k]` is leg `k`'s next settlement.
#[inline]
fn settle_funding<'a, L: AsRef<[Leg<'a>]>>(
    s: &mut Book<'_, 'a, L>,
    t: usize,
    until: i64,
    next: &mut [usize],
) {
    let e = s.e;
    for (k, leg) in e.legs().iter().enumerate() {
        while next[k] < leg.funding.len() && leg.funding[next[k]].ts < until {
            let ev = leg.funding[next[k]];
            next[k] += 1;
            let q = s.q[k];
            if q == 0.0 {
                continue;
            }
            let pay = -q * ev.rate * leg.close[t];
            s.cash += pay;
            if let Some(op) = s.open.as_mut() {
                op.tr.funding += pay;
            }
        }
    }
}

/// Fill an order on bar `t` at time `at`: close the open trade, open the
/// target.
fn execute<'a, L: AsRef<[Leg<'a>]>>(
    s: &mut Book<'_, 'a, L>,
    sum: &mut Summary,
    t: usize,
    at: i64,
    o: Order,
) {
    // Size the new side first so a skipped entry is counted; the open
    // position is closed either way (a flip that cannot be sized ends flat).
    let new = match (o.target, o.hedge) {
        (Some(side), Some(h)) => match (s.e.size)(side, o.bar, h) {
            Some(q) => Some((side, h, q)),
            None => {
                sum.skipped_size += 1;
                None
            }
        },
        _ => None,
    };
    if let Some(op) = s.open.as_ref() {
        let dq: Vec<f64> = op.tr.qty.iter().map(|q| -q).collect();
        let Some(fills) = s.trade(t, &dq) else {
            sum.skipped_no_quote += 1;
            return;
        };
        let mut op = s.open.take().unwrap_or_else(|| unreachable!());
        let tr = &mut op.tr;
        tr.exit_bar = Some(t);
        tr.exit_ts = Some(at);
        tr.exit = Some(fills.iter().map(|f| f.price).collect());
        tr.exit_reason = o.reason;
        tr.gross += leg_sum(&fills, &dq, |f, d| -d * f.mid);
        tr.fees += leg_sum(&fills, &dq, |f, _| f.fee);
        tr.slippage += leg_sum(&fills, &dq, |f, _| f.slip);
        tr.finish();
        s.trades.push(op);
    }
    let Some((side, hedge, q)) = new else {
        return;
    };
    let Some(fills) = s.trade(t, &q) else {
        sum.skipped_no_quote += 1;
        return;
    };
    s.open = Some(Open {
        tr: BasketTrade {
            side,
            signal_bar: o.bar,
            entry_z: o.z,
            weights: Vec::new(),
            entry_bar: t,
            entry_ts: at,
            notional: leg_sum(&fills, &q, |f, q| q.abs() * f.price),
            gross: -leg_sum(&fills, &q, |f, q| q * f.mid),
            fees: leg_sum(&fills, &q, |f, _| f.fee),
            slippage: leg_sum(&fills, &q, |f, _| f.slip),
            entry: fills.iter().map(|f| f.price).collect(),
            qty: q,
            exit_bar: None,
            exit_ts: None,
            exit: None,
            exit_reason: None,
            funding: 0.0,
            net: 0.0,
            net_pct: 0.0,
        },
        hedge,
    });
}

impl BasketTrade {
    /// Its PnL so far marked at bar `t`'s closes, net of the costs paid.
    fn net_so_far(&self, legs: &[Leg], t: usize) -> f64 {
        let u = self
            .qty
            .iter()
            .zip(&self.entry)
            .zip(legs)
            .fold(0.0, |u, ((q, e), leg)| u + q * (leg.close[t] - e));
        u - self.fees + self.funding
    }

    fn finish(&mut self) {
        self.net = self.gross - self.slippage - self.fees + self.funding;
        self.net_pct = self.net / self.notional * 100.0;
    }
}

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

fn summarize(sum: &mut Summary, trades: &[Open], stats: &ReturnStats, dd: &Drawdown, net: f64) {
    sum.trades = trades.len();
    let trades: Vec<&BasketTrade> = trades.iter().map(|op| &op.tr).collect();
    for tr in &trades {
        sum.gross += tr.gross;
        sum.fees += tr.fees;
        sum.funding += tr.funding;
        sum.slippage += tr.slippage;
    }
    let closed: Vec<&&BasketTrade> = trades.iter().filter(|t| t.exit_ts.is_some()).collect();
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
