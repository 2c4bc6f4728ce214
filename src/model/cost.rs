//! What the signal costs to trade: the executable prices of each side of a
//! pair from top of book, and the funding the position carries. Pure, and
//! shared with the client (the dashboard shows it as computed here).
//!
//! The position is one unit of y against `qx` units of x (the hedge of
//! [`crate::model::pair::describe_signal`]: `beta * py / px` on log prices,
//! `beta` on raw ones; a negative `qx` trades x the other way).
//!
//! - **Mid** `m = (bid + ask) / 2`; **quoted spread** `(ask - bid) / m`, in bp.
//! - **Short the spread**: sell 1 y at y's bid, buy `qx` x at x's ask (sell
//!   at x's bid when `qx < 0`). **Long**: the reverse. The **entry cost** of
//!   a side is what crossing the book costs against the mids, in bp of the
//!   gross notional `N = m_y + |qx| m_x`:
//!   `short = ((m_y - bid_y) + |qx| (ask_x - m_x)) / N` (for `qx > 0`).
//! - **Round trip**: entering one side and leaving by the other at the same
//!   book, `((ask_y - bid_y) + |qx| (ask_x - bid_x)) / N`, before fees.
//! - **Executable spread**: the spread level each side trades at, on the
//!   same transform as the model (`f = ln` or identity): short receives
//!   `f(bid_y) - beta f(ask_x)`, long pays `f(ask_y) - beta f(bid_x)`
//!   (x sides swapped when `beta < 0`), around `f(m_y) - beta f(m_x)`.
//! - **Funding carry** per 8 h, in bp of `N`: a long pays the rate times its
//!   notional (receives when the rate is negative), a short receives it.
//!   Short the spread: `(r_y m_y - sign(qx) r_x |qx| m_x) / N`; long is the
//!   negative. Positive is in your favour. Annualized: times 3 x 365.

use crate::analytics::PriceScale;
use serde::{Deserialize, Serialize};

/// One leg's book when the cost was taken.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegBook {
    pub symbol: String,
    pub bid: f64,
    pub ask: f64,
    /// Time of the quote, ms.
    pub ts: i64,
    /// Funding rate per 8 h as a fraction (perpetuals; `None` for spot or
    /// when no mark price streams).
    pub funding_8h: Option<f64>,
}

impl LegBook {
    pub fn mid(&self) -> f64 {
        (self.bid + self.ask) / 2.0
    }

    /// `(ask - bid) / mid`, in bp.
    pub fn quoted_bp(&self) -> f64 {
        (self.ask - self.bid) / self.mid() * 1e4
    }
}

/// One side of the pair trade.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SideCost {
    /// The price y trades at (bid when selling it, ask when buying).
    pub y_price: f64,
    /// The price x trades at.
    pub x_price: f64,
    /// Whether this side buys x.
    pub buys_x: bool,
    /// Crossing the book against the mids, bp of gross notional.
    pub entry_bp: f64,
    /// The spread level this side trades at.
    pub spread: f64,
    /// Net funding per 8 h while held, bp of gross notional; positive is
    /// received.
    pub funding_bp_8h: Option<f64>,
}

/// What trading the pair costs at one book.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairCost {
    pub x: LegBook,
    pub y: LegBook,
    /// Units of x per unit of y.
    pub qx: f64,
    /// The spread on mids.
    pub spread_mid: f64,
    pub short: SideCost,
    pub long: SideCost,
    /// Enter and leave at this book, before fees, bp of gross notional.
    pub round_trip_bp: f64,
}

/// The executable band of one bar: the spread level shorting it would
/// receive (`sell`) and buying it would pay (`buy`), on the model's spread.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub sell: f64,
    pub buy: f64,
}

/// Funding periods of 8 h in a year.
pub const FUNDING_PERIODS_PER_YEAR: f64 = 3.0 * 365.0;

/// Why no cost can be given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CostError {
    #[error("{0}: the book is empty, crossed or not finite")]
    BadBook(String),
    #[error("the hedge ratio is not finite")]
    BadHedge,
}

/// The cost of trading `qx` units of x per unit of y with spread
/// coefficient `beta` (on `prices`) at books `x` and `y`.
pub fn pair_cost(
    x: LegBook,
    y: LegBook,
    beta: f64,
    qx: f64,
    prices: PriceScale,
) -> Result<PairCost, CostError> {
    for l in [&x, &y] {
        let ok = l.bid.is_finite() && l.ask.is_finite() && l.bid > 0.0 && l.ask >= l.bid;
        if !ok {
            return Err(CostError::BadBook(l.symbol.clone()));
        }
    }
    if !beta.is_finite() || !qx.is_finite() {
        return Err(CostError::BadHedge);
    }
    let f = |p: f64| match prices {
        PriceScale::Log => p.ln(),
        PriceScale::Raw => p,
    };
    let (my, mx, aq) = (y.mid(), x.mid(), qx.abs());
    let gross = my + aq * mx;
    let buys_x_short = qx >= 0.0;
    // The x price each side trades at: short the spread buys x (qx > 0).
    let (x_short, x_long) = if buys_x_short {
        (x.ask, x.bid)
    } else {
        (x.bid, x.ask)
    };
    let entry = |y_px: f64, x_px: f64| ((y_px - my).abs() + aq * (x_px - mx).abs()) / gross * 1e4;
    // The spread's x side follows beta's sign (the model's), the hedge's
    // follows qx's: the same sign, as px and py are positive.
    let (sx_short, sx_long) = if beta >= 0.0 {
        (x.ask, x.bid)
    } else {
        (x.bid, x.ask)
    };
    let carry_short = match (y.funding_8h, x.funding_8h) {
        (Some(ry), Some(rx)) => Some((ry * my - qx.signum() * rx * aq * mx) / gross * 1e4),
        _ => None,
    };
    Ok(PairCost {
        qx,
        spread_mid: f(my) - beta * f(mx),
        short: SideCost {
            y_price: y.bid,
            x_price: x_short,
            buys_x: buys_x_short,
            entry_bp: entry(y.bid, x_short),
            spread: f(y.bid) - beta * f(sx_short),
            funding_bp_8h: carry_short,
        },
        long: SideCost {
            y_price: y.ask,
            x_price: x_long,
            buys_x: !buys_x_short,
            entry_bp: entry(y.ask, x_long),
            spread: f(y.ask) - beta * f(sx_long),
            funding_bp_8h: carry_short.map(|c| -c),
        },
        round_trip_bp: ((y.ask - y.bid) + aq * (x.ask - x.bid)) / gross * 1e4,
        x,
        y,
    })
}

/// A funding rate per `interval_ms` as a rate per 8 hours.
pub fn per_8h(rate: f64, interval_ms: i64) -> f64 {
    if interval_ms <= 0 {
        return rate;
    }
    rate * (8.0 * 3_600_000.0) / interval_ms as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(symbol: &str, bid: f64, ask: f64, funding: Option<f64>) -> LegBook {
        LegBook {
            symbol: symbol.into(),
            bid,
            ask,
            ts: 0,
            funding_8h: funding,
        }
    }

    /// Worked by hand: y = ETH 3139.76 / 3139.78, x = BTC 90110.5 / 90110.6,
    /// qx = 0.052 BTC per ETH (raw prices, beta = qx).
    #[test]
    fn hand_checked_figures() {
        let y = leg("ETHUSDT", 3139.76, 3139.78, Some(0.0001));
        let x = leg("BTCUSDT", 90110.5, 90110.6, Some(0.00005));
        let c = pair_cost(x, y, 0.052, 0.052, PriceScale::Raw).unwrap();
        let (my, mx) = (3139.77, 90110.55);
        let gross = my + 0.052 * mx; // 7825.5186
        assert!((c.y.quoted_bp() - 0.02 / my * 1e4).abs() < 1e-12);
        assert!((c.x.quoted_bp() - 0.1 / mx * 1e4).abs() < 1e-12);
        // Sell ETH at its bid, buy BTC at its ask: half of each spread.
        assert_eq!((c.short.y_price, c.short.x_price), (3139.76, 90110.6));
        assert!(c.short.buys_x && !c.long.buys_x);
        let half = (0.01 + 0.052 * 0.05) / gross * 1e4;
        assert!(
            (c.short.entry_bp - half).abs() < 1e-9,
            "{}",
            c.short.entry_bp
        );
        assert!((c.long.entry_bp - half).abs() < 1e-9);
        assert!((c.round_trip_bp - 2.0 * half).abs() < 1e-9);
        assert!(
            (c.round_trip_bp - 0.032203).abs() < 1e-6,
            "{}",
            c.round_trip_bp
        );
        // Short ETH receives 1 bp on 3139.77, long 0.052 BTC pays 0.5 bp on
        // 4685.75: (0.313977 - 0.2342874) / 7825.5186 * 1e4 = 0.10183 bp.
        let carry = (0.0001 * my - 0.00005 * 0.052 * mx) / gross * 1e4;
        assert!((c.short.funding_bp_8h.unwrap() - carry).abs() < 1e-12);
        assert!((carry - 0.101834).abs() < 1e-5, "{carry}");
        assert!((c.long.funding_bp_8h.unwrap() + carry).abs() < 1e-12);
        // The executable band straddles the mid spread.
        assert!(c.short.spread < c.spread_mid && c.spread_mid < c.long.spread);
        assert!((c.spread_mid - (my - 0.052 * mx)).abs() < 1e-9);
        assert!((c.short.spread - (3139.76 - 0.052 * 90110.6)).abs() < 1e-9);
    }

    #[test]
    fn a_negative_hedge_trades_x_the_other_way() {
        let y = leg("A", 10.0, 10.2, None);
        let x = leg("B", 5.0, 5.1, None);
        let c = pair_cost(x, y, -0.5, -1.0, PriceScale::Log).unwrap();
        assert!(!c.short.buys_x && c.long.buys_x);
        assert_eq!((c.short.x_price, c.long.x_price), (5.0, 5.1));
        assert!(c.short.spread < c.spread_mid && c.spread_mid < c.long.spread);
        assert_eq!(c.short.funding_bp_8h, None);
    }

    #[test]
    fn bad_books_are_refused() {
        let ok = leg("A", 1.0, 1.1, None);
        for bad in [
            leg("B", 0.0, 1.0, None),
            leg("B", 2.0, 1.0, None),
            leg("B", f64::NAN, 1.0, None),
        ] {
            assert!(pair_cost(ok.clone(), bad, 1.0, 1.0, PriceScale::Log).is_err());
        }
        assert_eq!(
            pair_cost(ok.clone(), ok, f64::NAN, 1.0, PriceScale::Log),
            Err(CostError::BadHedge)
        );
    }

    #[test]
    fn funding_is_normalized_to_8h() {
        assert_eq!(per_8h(0.0001, 8 * 3_600_000), 0.0001);
        assert!((per_8h(0.0001, 4 * 3_600_000) - 0.0002).abs() < 1e-18);
    }
}
