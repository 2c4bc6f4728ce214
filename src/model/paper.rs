//! Paper trading as data: a session (the pair or basket query whose rule
//! it trades),
//! the orders the rule decides on each bar's close, the fills that execute
//! them, and the pure rules around them: when an order is due and when it
//! expires, and the position and PnL a session's fills add up to. The
//! engine that runs sessions is [`crate::services::paper`]; the tables are
//! `store::paper`.
//!
//! # Orders and fills
//! On the close of each bar the session's rule (the backtest's, through the
//! same decision function) reads `z` and `beta` (a basket: its rolling
//! hedge's z-score and weights, as its backtest) and may decide an order,
//! stored as *pending* under `(session, signal_ts)`, where `signal_ts` is
//! the bar's start. The order fills by the session's [`FillAt`], as in the
//! backtest but against the stored live book:
//! * `next-quote` and `next-open`: each leg's first book update at or after
//!   the bar's end (`signal_ts + bar_ms`);
//! * `next-close`: the book in force at the next bar's close (`signal_ts +
//!   2 bar_ms - 1`).
//!
//! Without a book for a leg, its first trade at or after that time stands
//! in for the mid, plus the assumed half spread (as the backtest does
//! without quotes). Every leg's fills and the order's new status are
//! written in one transaction, and a fill is unique per `(session, signal_ts, leg,
//! role)`, so a crash between the decision and the fill leaves a pending
//! order (filled after the restart if its prices are still within
//! [`fill_deadline`], else expired), never a doubled or partly filled
//! order.
//!
//! # Legs
//! A session's legs are numbered in [`Traded::legs`] order: a pair's x is
//! 0 and y 1, a basket's legs in its order. Long the spread buys
//! [`Traded::long_leg`] (a pair's y, a basket's first leg).
//!
//! # Accounting ([`Ledger::from_fills`])
//! Each fill adds its signed quantity to its leg and `-qty * price - fee` to
//! the cash. Equity is `cash + sum q_i * mark_i` at the latest trades; *realized* is the cash whenever the session was last flat (the
//! round trips closed), *unrealized* is equity minus realized. Funding: at
//! each stored settlement of a leg while it is held, the position receives
//! `-q * rate * price`, priced at that leg's last fill (the mark is within
//! a fraction of a percent of it, so the error is below 1e-6 of the
//! notional per settlement).

pub use crate::analytics::backtest::{ExitReason, FillAt, FundingEvent, PositionSide};
use crate::domain::{Timeframe, Venue};
use crate::model::basket::BasketQuery;
use crate::model::pair::PairQuery;
use serde::{Deserialize, Serialize};

/// What a session trades.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Traded {
    /// The pair view's rule: its model, thresholds and backtest settings.
    Pair(PairQuery),
    /// A basket's rule: the rolling OLS hedge and its z-score, with the
    /// thresholds and backtest settings of its backtest.
    Basket(BasketQuery),
}

impl Traded {
    /// The legs in fill order (see "Legs").
    pub fn legs(&self) -> Vec<String> {
        match self {
            Traded::Pair(q) => vec![q.x.clone(), q.y.clone()],
            Traded::Basket(q) => q.symbols.clone(),
        }
    }

    /// The leg bought when long the spread.
    pub fn long_leg(&self) -> usize {
        match self {
            Traded::Pair(_) => 1,
            Traded::Basket(_) => 0,
        }
    }

    pub fn timeframe(&self) -> Timeframe {
        match self {
            Traded::Pair(q) => q.timeframe,
            Traded::Basket(q) => q.timeframe,
        }
    }

    /// How the page names it: `ETHUSDT/BTCUSDT` (y over x) or
    /// `BTCUSDT + ETHUSDT + SOLUSDT`.
    pub fn label(&self) -> String {
        match self {
            Traded::Pair(q) => format!("{}/{}", q.y, q.x),
            Traded::Basket(q) => q.symbols.join(" + "),
        }
    }
}

/// Where a session stands.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionStatus {
    /// Trading on every new bar.
    Active,
    /// Asked to stop: its position is being flattened.
    Stopping,
    /// Stopped and flat.
    Stopped,
}

/// A paper-trading session: the rule of `query` run live on `venue`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperSession {
    pub id: i64,
    /// The pair or basket, bar size, model, thresholds and backtest
    /// settings traded.
    pub query: Traded,
    pub venue: Venue,
    pub status: SessionStatus,
    /// Epoch ms.
    pub started_ts: i64,
    pub stop_requested_ts: Option<i64>,
    pub stopped_ts: Option<i64>,
    /// Start of the last bar the rule decided on.
    pub last_bar_ts: Option<i64>,
    /// Side not entered again until |z| < entry (after a stop, a beta break
    /// or the maximum hold).
    pub locked: Option<PositionSide>,
}

/// What became of an order.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderStatus {
    Pending,
    Filled,
    /// Not filled by its deadline (no prices after it, e.g. the feed or the
    /// server was down); the next bar decides afresh.
    Expired,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Filled => "filled",
            OrderStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        match s {
            "pending" => Some(OrderStatus::Pending),
            "filled" => Some(OrderStatus::Filled),
            "expired" => Some(OrderStatus::Expired),
            _ => None,
        }
    }
}

/// Why a paper order was placed: an entry, one of the rule's exit reasons
/// (the backtest's names), or the user stopping the session.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrderReason {
    Entry,
    Band,
    Stop,
    BetaBreak,
    MaxHold,
    Flip,
    FoldEnd,
    /// The session was stopped: flatten.
    UserStop,
}

impl From<ExitReason> for OrderReason {
    fn from(e: ExitReason) -> Self {
        match e {
            ExitReason::Band => OrderReason::Band,
            ExitReason::Stop => OrderReason::Stop,
            ExitReason::BetaBreak => OrderReason::BetaBreak,
            ExitReason::MaxHold => OrderReason::MaxHold,
            ExitReason::Flip => OrderReason::Flip,
            ExitReason::FoldEnd => OrderReason::FoldEnd,
        }
    }
}

impl OrderReason {
    const ALL: [OrderReason; 8] = [
        OrderReason::Entry,
        OrderReason::Band,
        OrderReason::Stop,
        OrderReason::BetaBreak,
        OrderReason::MaxHold,
        OrderReason::Flip,
        OrderReason::FoldEnd,
        OrderReason::UserStop,
    ];

    /// The wire name (`entry`, `band`, ..., `user-stop`).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderReason::Entry => "entry",
            OrderReason::Band => "band",
            OrderReason::Stop => "stop",
            OrderReason::BetaBreak => "beta-break",
            OrderReason::MaxHold => "max-hold",
            OrderReason::Flip => "flip",
            OrderReason::FoldEnd => "fold-end",
            OrderReason::UserStop => "user-stop",
        }
    }

    pub fn parse(s: &str) -> Option<OrderReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// An order the rule decided on the close of the bar starting `signal_ts`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperOrder {
    pub session_id: i64,
    pub signal_ts: i64,
    /// Epoch ms the decision was stored.
    pub decided_ts: i64,
    /// Position to hold after the fill (`None` = flat).
    pub target: Option<PositionSide>,
    pub reason: OrderReason,
    pub z: Option<f64>,
    /// A pair's hedge ratio at the decision.
    pub beta: Option<f64>,
    /// A basket's spread weights at the decision (the first leg's 1).
    pub weights: Option<Vec<f64>>,
    /// Signed quantities of the new position per leg (sized at the
    /// decision), if it opens one.
    pub qty: Option<Vec<f64>>,
    pub status: OrderStatus,
    pub note: Option<String>,
}

/// Whether a fill closes the position held or opens the new one (a flip
/// has both, at the same prices).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FillRole {
    Close,
    Open,
}

/// One leg's execution of an order.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperFill {
    pub session_id: i64,
    pub signal_ts: i64,
    /// The leg's number (see "Legs").
    pub leg: usize,
    pub role: FillRole,
    pub symbol: String,
    /// Time of the price it filled at, ms.
    pub ts: i64,
    /// Signed (positive = bought).
    pub qty: f64,
    pub price: f64,
    /// Mid of the book (or the trade price standing in for it).
    pub mid: f64,
    /// Taker fee, quote currency.
    pub fee: f64,
    /// Priced on a stored book (true) or on a trade plus the assumed half
    /// spread.
    pub on_book: bool,
}

/// A session's position and PnL (quote currency), from its fills.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Ledger {
    pub side: Option<PositionSide>,
    /// Signed quantity held per leg (see "Legs").
    pub qty: Vec<f64>,
    /// Latest trade price of each leg, marking the position.
    pub mark: Vec<Option<f64>>,
    pub realized: f64,
    pub unrealized: f64,
    pub fees: f64,
    pub funding: f64,
    /// Round trips closed, and those with a positive net.
    pub round_trips: usize,
    pub wins: usize,
    pub fills: usize,
}

/// Quantities below this are flat (rounding of summed fills).
const FLAT_EPS: f64 = 1e-12;

impl Ledger {
    /// The ledger of `fills` (in execution order) on `mark.len()` legs,
    /// with the funding settlements of each leg (ascending), marked at
    /// `mark`; `long_leg` is the leg bought when long (see the module
    /// docs).
    pub fn from_fills(
        fills: &[PaperFill],
        long_leg: usize,
        funding: &[Vec<FundingEvent>],
        mark: &[Option<f64>],
    ) -> Ledger {
        let n = mark.len();
        let mut l = Ledger {
            mark: mark.to_vec(),
            fills: fills.len(),
            ..Ledger::default()
        };
        let mut q = vec![0.0f64; n];
        // Each leg's last fill price (funding is priced at it).
        let mut last = vec![0.0f64; n];
        let mut next = vec![0usize; n];
        let mut cash = 0.0f64;
        let mut trip_start_cash = 0.0;
        let flat = |q: &[f64]| q.iter().all(|q| q.abs() < FLAT_EPS);
        let mut settle = |until: i64, q: &[f64], last: &[f64], cash: &mut f64| {
            let mut paid = 0.0;
            for k in 0..n {
                let events = funding.get(k).map_or(&[][..], Vec::as_slice);
                while next[k] < events.len() && events[next[k]].ts < until {
                    paid += -q[k] * events[next[k]].rate * last[k];
                    next[k] += 1;
                }
            }
            *cash += paid;
            paid
        };
        let mut i = 0;
        while i < fills.len() {
            // Fills of one signal execute together.
            let sig = fills[i].signal_ts;
            let at = fills[i].ts;
            l.funding += settle(at, &q, &last, &mut cash);
            if flat(&q) {
                trip_start_cash = cash;
            }
            let mut j = i;
            while j < fills.len() && fills[j].signal_ts == sig {
                let f = &fills[j];
                cash -= f.qty * f.price + f.fee;
                l.fees += f.fee;
                if f.leg < n {
                    q[f.leg] += f.qty;
                    last[f.leg] = f.price;
                }
                // A flip closes and reopens in one signal: the round trip
                // ends between the close fills and the open fills.
                let closes_here = f.role == FillRole::Close
                    && fills
                        .get(j + 1)
                        .is_none_or(|n| n.signal_ts != sig || n.role == FillRole::Open);
                if closes_here {
                    l.round_trips += 1;
                    if cash - trip_start_cash > 0.0 {
                        l.wins += 1;
                    }
                    l.realized = cash;
                    trip_start_cash = cash;
                }
                j += 1;
            }
            i = j;
        }
        if flat(&q) {
            q.iter_mut().for_each(|q| *q = 0.0);
        } else {
            // Funding settled since the last fill, on the position held.
            l.funding += settle(i64::MAX, &q, &last, &mut cash);
        }
        let held = q.get(long_leg).copied().unwrap_or(0.0);
        l.side = if held > FLAT_EPS {
            Some(PositionSide::Long)
        } else if held < -FLAT_EPS {
            Some(PositionSide::Short)
        } else {
            None
        };
        let equity = q
            .iter()
            .zip(mark.iter().zip(&last))
            .fold(cash, |e, (q, (m, p))| e + q * m.unwrap_or(*p));
        l.unrealized = equity - l.realized;
        l.qty = q;
        l
    }

    /// Realized plus unrealized.
    pub fn net(&self) -> f64 {
        self.realized + self.unrealized
    }
}

/// When a pending order decided on the bar starting `signal_ts` looks for
/// its prices: from this time on (see the module docs).
pub fn fill_from(fill: FillAt, signal_ts: i64, bar_ms: i64) -> i64 {
    match fill {
        FillAt::NextOpen | FillAt::NextQuote => signal_ts + bar_ms,
        FillAt::NextClose => signal_ts + 2 * bar_ms - 1,
    }
}

/// Prices later than this do not fill the order: it expires (two bars, at
/// least five seconds, after [`fill_from`]). A fill minutes late, after an
/// outage, is not the fill the rule asked for.
pub fn fill_deadline(fill: FillAt, signal_ts: i64, bar_ms: i64) -> i64 {
    fill_from(fill, signal_ts, bar_ms) + (2 * bar_ms).max(5_000)
}

/// A session and what its fills add up to, for the panel and the API.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperBook {
    pub session: PaperSession,
    pub ledger: Ledger,
    /// The order waiting for its fill, if any.
    pub pending: Option<PaperOrder>,
    /// Newest first (at most 50 in lists).
    pub fills: Vec<PaperFill>,
    /// Newest first (at most 50 in lists).
    pub orders: Vec<PaperOrder>,
}

/// One session as the dashboard's panel shows it (sent by the live push
/// whenever it changes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperLine {
    pub id: i64,
    /// [`Traded::label`], the legs in fill order and the one bought when
    /// long.
    pub label: String,
    pub legs: Vec<String>,
    pub long_leg: usize,
    pub timeframe: crate::domain::Timeframe,
    pub status: SessionStatus,
    pub ledger: Ledger,
    /// An order is waiting for its fill.
    pub pending: bool,
    /// The newest fills, newest first (at most [`LINE_FILLS`]).
    pub recent: Vec<PaperFill>,
}

impl PaperLine {
    /// The position as the page shows it: `long +0.0200 ETHUSDT / -0.0010
    /// BTCUSDT`, the long leg first, or `flat`.
    pub fn position_text(&self) -> String {
        let Some(side) = self.ledger.side else {
            return "flat".into();
        };
        let mut order: Vec<usize> = (0..self.legs.len()).collect();
        order.sort_by_key(|&k| k != self.long_leg);
        let legs: Vec<String> = order
            .into_iter()
            .map(|k| {
                let q = self.ledger.qty.get(k).copied().unwrap_or(0.0);
                format!("{q:+.4} {}", self.legs[k])
            })
            .collect();
        format!("{} {}", side.as_str(), legs.join(" / "))
    }
}

/// Fills a [`PaperLine`] carries.
pub const LINE_FILLS: usize = 8;

impl From<&PaperBook> for PaperLine {
    fn from(b: &PaperBook) -> Self {
        PaperLine {
            id: b.session.id,
            label: b.session.query.label(),
            legs: b.session.query.legs(),
            long_leg: b.session.query.long_leg(),
            timeframe: b.session.query.timeframe(),
            status: b.session.status,
            ledger: b.ledger.clone(),
            pending: b.pending.is_some(),
            recent: b.fills.iter().take(LINE_FILLS).cloned().collect(),
        }
    }
}

/// Sessions a desk may run at once (each is analysed on every bar).
pub const MAX_ACTIVE_SESSIONS: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    /// A pair's legs.
    const X: usize = 0;
    const Y: usize = 1;

    fn fill(sig: i64, leg: usize, role: FillRole, qty: f64, price: f64, fee: f64) -> PaperFill {
        PaperFill {
            session_id: 1,
            signal_ts: sig,
            leg,
            role,
            symbol: ["BTCUSDT", "ETHUSDT", "SOLUSDT"][leg].into(),
            ts: sig + 1000,
            qty,
            price,
            mid: price,
            fee,
            on_book: true,
        }
    }

    #[test]
    fn an_empty_ledger_is_flat_and_zero() {
        let l = Ledger::from_fills(&[], Y, &[vec![], vec![]], &[Some(1.0), Some(2.0)]);
        assert_eq!(l.side, None);
        assert_eq!((l.realized, l.unrealized, l.fees), (0.0, 0.0, 0.0));
    }

    #[test]
    fn a_round_trip_and_an_open_position_match_the_naive_sums() {
        use FillRole::*;
        let fills = vec![
            // Long spread: buy 2 y at 100, sell 1 x at 50.
            fill(0, X, Open, -1.0, 50.0, 0.1),
            fill(0, Y, Open, 2.0, 100.0, 0.2),
            // Closed: sell y at 103, buy x back at 51.
            fill(10, X, Close, 1.0, 51.0, 0.1),
            fill(10, Y, Close, -2.0, 103.0, 0.2),
            // Short spread open, marked below.
            fill(20, X, Open, 1.0, 52.0, 0.1),
            fill(20, Y, Open, -2.0, 104.0, 0.2),
        ];
        let l = Ledger::from_fills(&fills, Y, &[vec![], vec![]], &[Some(53.0), Some(103.0)]);
        // Trip 1: y +6, x -1, fees 0.6.
        assert!((l.realized - (6.0 - 1.0 - 0.6)).abs() < 1e-12);
        // Open: x +1 * (53 - 52), y -2 * (103 - 104) = 1 + 2, fees 0.3.
        assert!((l.unrealized - (3.0 - 0.3)).abs() < 1e-12, "{l:?}");
        assert_eq!(l.side, Some(PositionSide::Short));
        assert_eq!((l.round_trips, l.wins), (1, 1));
        assert!((l.fees - 0.9).abs() < 1e-12);
    }

    #[test]
    fn a_flip_ends_one_round_trip_and_opens_the_next() {
        use FillRole::*;
        let fills = vec![
            fill(0, X, Open, -1.0, 50.0, 0.0),
            fill(0, Y, Open, 2.0, 100.0, 0.0),
            fill(10, X, Close, 1.0, 49.0, 0.0),
            fill(10, Y, Close, -2.0, 99.0, 0.0),
            fill(10, X, Open, 1.0, 49.0, 0.0),
            fill(10, Y, Open, -2.0, 99.0, 0.0),
        ];
        let l = Ledger::from_fills(&fills, Y, &[vec![], vec![]], &[Some(49.0), Some(99.0)]);
        // Trip 1: x +1, y -2 = -1, a loss.
        assert!((l.realized + 1.0).abs() < 1e-12);
        assert!(l.unrealized.abs() < 1e-12);
        assert_eq!((l.round_trips, l.wins), (1, 0));
        assert_eq!(l.side, Some(PositionSide::Short));
    }

    #[test]
    fn funding_is_paid_only_while_a_leg_is_held() {
        use FillRole::*;
        let fills = vec![
            fill(0, X, Open, -1.0, 50.0, 0.0),
            fill(0, Y, Open, 2.0, 100.0, 0.0),
            fill(10_000, X, Close, 1.0, 50.0, 0.0),
            fill(10_000, Y, Close, -2.0, 100.0, 0.0),
        ];
        let fx = [
            FundingEvent {
                ts: 500,
                rate: 1e-4,
            },
            // Held: x is short 1 at 50: receives 1 * 1e-4 * 50.
            FundingEvent {
                ts: 5_000,
                rate: 1e-4,
            },
            // After the close: nothing.
            FundingEvent {
                ts: 20_000,
                rate: 1e-4,
            },
        ];
        let fy = [FundingEvent {
            ts: 5_000,
            rate: 1e-4,
        }];
        let l = Ledger::from_fills(&fills, Y, &[fx.to_vec(), fy.to_vec()], &[None, None]);
        // Fills are at signal_ts + 1000: the 500 settlement is before the
        // entry. y long 2 at 100 pays 2 * 1e-4 * 100 = 0.02.
        let want = 50.0 * 1e-4 - 0.02;
        assert!((l.funding - want).abs() < 1e-15, "{}", l.funding);
        assert!((l.realized - want).abs() < 1e-12);
    }

    /// Three legs: the naive sums per leg, the side from the long leg (a
    /// basket's first), funding on each leg held.
    #[test]
    fn a_basket_ledger_matches_the_naive_sums() {
        use FillRole::*;
        let fills = vec![
            // Long: buy 1 of leg 0 at 10, sell 2 of leg 1 at 5, sell 3 of
            // leg 2 at 1.
            fill(0, 0, Open, 1.0, 10.0, 0.1),
            fill(0, 1, Open, -2.0, 5.0, 0.1),
            fill(0, 2, Open, -3.0, 1.0, 0.1),
        ];
        let funding = [
            vec![FundingEvent {
                ts: 5_000,
                rate: 1e-3,
            }],
            vec![],
            vec![FundingEvent {
                ts: 5_000,
                rate: -1e-3,
            }],
        ];
        let l = Ledger::from_fills(&fills, 0, &funding, &[Some(11.0), Some(5.5), Some(0.9)]);
        assert_eq!(l.side, Some(PositionSide::Long));
        assert_eq!(l.qty, vec![1.0, -2.0, -3.0]);
        // Leg 0 long pays 1 * 1e-3 * 10; leg 2 short at a negative rate
        // pays 3 * 1e-3 * 1.
        let want_funding = -0.01 - 0.003;
        assert!((l.funding - want_funding).abs() < 1e-15, "{}", l.funding);
        let moves = 1.0 * (11.0 - 10.0) - 2.0 * (5.5 - 5.0) - 3.0 * (0.9 - 1.0);
        let want = moves - 0.3 + want_funding;
        assert!((l.unrealized - want).abs() < 1e-12, "{l:?}");
        assert_eq!((l.realized, l.round_trips), (0.0, 0));
        // Closed at the marks: realized, flat.
        let mut all = fills.clone();
        for (k, (q, p)) in [(-1.0, 11.0), (2.0, 5.5), (3.0, 0.9)]
            .into_iter()
            .enumerate()
        {
            let mut f = fill(10_000, k, Close, q, p, 0.1);
            f.ts = 10_000;
            all.push(f);
        }
        let l = Ledger::from_fills(&all, 0, &funding, &[Some(11.0), Some(5.5), Some(0.9)]);
        assert_eq!(l.side, None);
        assert!((l.realized - (want - 0.3)).abs() < 1e-12, "{l:?}");
        assert!(l.unrealized.abs() < 1e-12);
        // Net of the fees, a loss.
        assert_eq!((l.round_trips, l.wins), (1, 0));
    }

    #[test]
    fn orders_look_for_prices_after_the_bar_and_expire() {
        assert_eq!(fill_from(FillAt::NextQuote, 0, 1000), 1000);
        assert_eq!(fill_from(FillAt::NextOpen, 0, 1000), 1000);
        assert_eq!(fill_from(FillAt::NextClose, 0, 1000), 1999);
        assert_eq!(fill_deadline(FillAt::NextQuote, 0, 1000), 6000);
        assert_eq!(fill_deadline(FillAt::NextQuote, 0, 60_000), 180_000);
    }

    #[test]
    fn reasons_and_statuses_round_trip_their_names() {
        for r in OrderReason::ALL {
            assert_eq!(OrderReason::parse(r.as_str()), Some(r));
            let wire = serde_json::to_value(r).unwrap();
            assert_eq!(wire, r.as_str(), "serde and as_str agree");
        }
        for s in [
            OrderStatus::Pending,
            OrderStatus::Filled,
            OrderStatus::Expired,
        ] {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        }
    }
}
