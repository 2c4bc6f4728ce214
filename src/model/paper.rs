//! Paper trading as data: a session (the pair query whose rule it trades),
//! the orders the rule decides on each bar's close, the fills that execute
//! them, and the pure rules around them: when an order is due and when it
//! expires, and the position and PnL a session's fills add up to. The
//! engine that runs sessions is [`crate::services::paper`]; the tables are
//! `store::paper`.
//!
//! # Orders and fills
//! On the close of each bar the session's rule (the backtest's, through the
//! same decision function) reads `z` and `beta` and may decide an order,
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
//! without quotes). Both legs' fills and the order's new status are written
//! in one transaction, and a fill is unique per `(session, signal_ts, leg,
//! role)`, so a crash between the decision and the fill leaves a pending
//! order (filled after the restart if its prices are still within
//! [`fill_deadline`], else expired), never a doubled or one-legged fill.
//!
//! # Accounting ([`Ledger::from_fills`])
//! Each fill adds its signed quantity to its leg and `-qty * price - fee` to
//! the cash. Equity is `cash + qx * mark_x + qy * mark_y` at the latest
//! trades; *realized* is the cash whenever the session was last flat (the
//! round trips closed), *unrealized* is equity minus realized. Funding: at
//! each stored settlement of a leg while it is held, the position receives
//! `-q * rate * price`, priced at that leg's last fill (the mark is within
//! a fraction of a percent of it, so the error is below 1e-6 of the
//! notional per settlement).

pub use crate::analytics::backtest::{ExitReason, FillAt, FundingEvent, PositionSide};
use crate::domain::Venue;
use crate::model::pair::PairQuery;
use serde::{Deserialize, Serialize};

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
    /// The pair, bar size, model, thresholds and backtest settings traded.
    pub query: PairQuery,
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
    pub beta: Option<f64>,
    /// Signed quantities of the new position (sized at the decision), if
    /// it opens one.
    pub qty_x: Option<f64>,
    pub qty_y: Option<f64>,
    pub status: OrderStatus,
    pub note: Option<String>,
}

/// Which leg a fill is on.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LegName {
    X,
    Y,
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
    pub leg: LegName,
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
    pub qty_x: f64,
    pub qty_y: f64,
    /// Latest trade prices the position is marked at.
    pub mark_x: Option<f64>,
    pub mark_y: Option<f64>,
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
    /// The ledger of `fills` (in execution order) with the funding
    /// settlements of each leg (ascending), marked at `(mark_x, mark_y)`
    /// (see the module docs).
    pub fn from_fills(
        fills: &[PaperFill],
        funding_x: &[FundingEvent],
        funding_y: &[FundingEvent],
        mark_x: Option<f64>,
        mark_y: Option<f64>,
    ) -> Ledger {
        let mut l = Ledger {
            mark_x,
            mark_y,
            fills: fills.len(),
            ..Ledger::default()
        };
        let (mut qx, mut qy, mut cash) = (0.0f64, 0.0f64, 0.0f64);
        let (mut px, mut py) = (0.0f64, 0.0f64);
        let (mut fx, mut fy) = (0usize, 0usize);
        let mut trip_start_cash = 0.0;
        let mut settle = |until: i64, qx: f64, qy: f64, px: f64, py: f64, cash: &mut f64| {
            let mut paid = 0.0;
            while fx < funding_x.len() && funding_x[fx].ts < until {
                paid += -qx * funding_x[fx].rate * px;
                fx += 1;
            }
            while fy < funding_y.len() && funding_y[fy].ts < until {
                paid += -qy * funding_y[fy].rate * py;
                fy += 1;
            }
            *cash += paid;
            paid
        };
        let mut i = 0;
        while i < fills.len() {
            // Fills of one signal execute together.
            let sig = fills[i].signal_ts;
            let at = fills[i].ts;
            l.funding += settle(at, qx, qy, px, py, &mut cash);
            let was_flat = qx.abs() < FLAT_EPS && qy.abs() < FLAT_EPS;
            if was_flat {
                trip_start_cash = cash;
            }
            let mut j = i;
            while j < fills.len() && fills[j].signal_ts == sig {
                let f = &fills[j];
                cash -= f.qty * f.price + f.fee;
                l.fees += f.fee;
                match f.leg {
                    LegName::X => {
                        qx += f.qty;
                        px = f.price;
                    }
                    LegName::Y => {
                        qy += f.qty;
                        py = f.price;
                    }
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
        if qx.abs() < FLAT_EPS && qy.abs() < FLAT_EPS {
            qx = 0.0;
            qy = 0.0;
        } else {
            // Funding settled since the last fill, on the position held.
            l.funding += settle(i64::MAX, qx, qy, px, py, &mut cash);
        }
        l.qty_x = qx;
        l.qty_y = qy;
        l.side = if qy > FLAT_EPS {
            Some(PositionSide::Long)
        } else if qy < -FLAT_EPS {
            Some(PositionSide::Short)
        } else {
            None
        };
        let equity = cash + qx * mark_x.unwrap_or(px) + qy * mark_y.unwrap_or(py);
        l.unrealized = equity - l.realized;
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
    pub x: String,
    pub y: String,
    pub timeframe: crate::domain::Timeframe,
    pub status: SessionStatus,
    pub ledger: Ledger,
    /// An order is waiting for its fill.
    pub pending: bool,
    /// The newest fills, newest first (at most [`LINE_FILLS`]).
    pub recent: Vec<PaperFill>,
}

/// Fills a [`PaperLine`] carries.
pub const LINE_FILLS: usize = 8;

impl From<&PaperBook> for PaperLine {
    fn from(b: &PaperBook) -> Self {
        PaperLine {
            id: b.session.id,
            x: b.session.query.x.clone(),
            y: b.session.query.y.clone(),
            timeframe: b.session.query.timeframe,
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

    fn fill(sig: i64, leg: LegName, role: FillRole, qty: f64, price: f64, fee: f64) -> PaperFill {
        PaperFill {
            session_id: 1,
            signal_ts: sig,
            leg,
            role,
            symbol: match leg {
                LegName::X => "BTCUSDT".into(),
                LegName::Y => "ETHUSDT".into(),
            },
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
        let l = Ledger::from_fills(&[], &[], &[], Some(1.0), Some(2.0));
        assert_eq!(l.side, None);
        assert_eq!((l.realized, l.unrealized, l.fees), (0.0, 0.0, 0.0));
    }

    #[test]
    fn a_round_trip_and_an_open_position_match_the_naive_sums() {
        use FillRole::*;
        use LegName::*;
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
        let l = Ledger::from_fills(&fills, &[], &[], Some(53.0), Some(103.0));
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
        use LegName::*;
        let fills = vec![
            fill(0, X, Open, -1.0, 50.0, 0.0),
            fill(0, Y, Open, 2.0, 100.0, 0.0),
            fill(10, X, Close, 1.0, 49.0, 0.0),
            fill(10, Y, Close, -2.0, 99.0, 0.0),
            fill(10, X, Open, 1.0, 49.0, 0.0),
            fill(10, Y, Open, -2.0, 99.0, 0.0),
        ];
        let l = Ledger::from_fills(&fills, &[], &[], Some(49.0), Some(99.0));
        // Trip 1: x +1, y -2 = -1, a loss.
        assert!((l.realized + 1.0).abs() < 1e-12);
        assert!(l.unrealized.abs() < 1e-12);
        assert_eq!((l.round_trips, l.wins), (1, 0));
        assert_eq!(l.side, Some(PositionSide::Short));
    }

    #[test]
    fn funding_is_paid_only_while_a_leg_is_held() {
        use FillRole::*;
        use LegName::*;
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
        let l = Ledger::from_fills(&fills, &fx, &fy, None, None);
        // Fills are at signal_ts + 1000: the 500 settlement is before the
        // entry. y long 2 at 100 pays 2 * 1e-4 * 100 = 0.02.
        let want = 50.0 * 1e-4 - 0.02;
        assert!((l.funding - want).abs() < 1e-15, "{}", l.funding);
        assert!((l.realized - want).abs() < 1e-12);
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
