//! Plausibility limits every tick must pass before it is stored, whatever
//! its path (stream, REST backfill, upload, replay, CSV).
//!
//! A parser only proves that a frame is well formed; it cannot know that
//! `"p":"1e308"` or a trade time in the year 9999 is nonsense. One absurd
//! tick poisons every statistic computed over its window (a log price of
//! 709 next to 11.4 is a regression outlier no robust estimator fully
//! removes), so such ticks are refused here, counted by [`Refusal`], and
//! never reach the store. The limits are configuration (`[tick_limits]` in
//! Leptos.toml), because what is absurd for BTC may be normal for a
//! memecoin quoted at 1e-8.
//!
//! Pure: the caller passes "now", so the checks are deterministic in tests.

use crate::domain::{Quote, Tick};

/// 2009-01-01T00:00:00Z, a month before the first Bitcoin trade: no crypto
/// trade is older.
pub const DEFAULT_EARLIEST_MS: i64 = 1_230_768_000_000;

/// The accepted range of a tick's values. Bounds are inclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TickLimits {
    /// Smallest price accepted (> 0).
    pub min_price: f64,
    /// Largest price accepted.
    pub max_price: f64,
    /// Largest quantity accepted (the smallest is any positive value).
    pub max_qty: f64,
    /// Earliest exchange time accepted, ms since the epoch.
    pub earliest_ms: i64,
    /// How far past "now" an exchange time may lie (clock skew), ms.
    pub max_future_ms: i64,
}

impl Default for TickLimits {
    fn default() -> Self {
        TickLimits {
            // Sub-satoshi memecoins trade near 1e-8; leave two decades.
            min_price: 1e-10,
            // A billion quote units per coin is above any listed asset.
            max_price: 1e9,
            // Quantities of 1e10+ coins occur for memecoins; 1e13 does not.
            max_qty: 1e13,
            earliest_ms: DEFAULT_EARLIEST_MS,
            max_future_ms: 86_400_000,
        }
    }
}

/// Why a tick was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Refusal {
    /// NaN, infinite, zero or negative price.
    PriceNotPositive,
    /// A finite positive price outside `[min_price, max_price]`.
    PriceOutOfRange,
    /// NaN, infinite, zero or negative quantity.
    QtyNotPositive,
    /// A positive quantity above `max_qty`.
    QtyOutOfRange,
    /// Exchange time before `earliest_ms`.
    TimeTooOld,
    /// Exchange time more than `max_future_ms` after now.
    TimeInFuture,
}

impl Refusal {
    pub const ALL: [Refusal; 6] = [
        Refusal::PriceNotPositive,
        Refusal::PriceOutOfRange,
        Refusal::QtyNotPositive,
        Refusal::QtyOutOfRange,
        Refusal::TimeTooOld,
        Refusal::TimeInFuture,
    ];

    /// The label used in /metrics and upload reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::PriceNotPositive => "price_not_positive",
            Refusal::PriceOutOfRange => "price_out_of_range",
            Refusal::QtyNotPositive => "qty_not_positive",
            Refusal::QtyOutOfRange => "qty_out_of_range",
            Refusal::TimeTooOld => "time_too_old",
            Refusal::TimeInFuture => "time_in_future",
        }
    }

    /// Position in [`Refusal::ALL`], for counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A number as a person reads it: plain in the usual range, scientific
/// beyond it (`1e308`, not 309 digits).
fn num(v: f64) -> String {
    let a = v.abs();
    if v.is_finite() && a != 0.0 && !(1e-6..1e15).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

impl TickLimits {
    /// Check one tick against the limits at `now_ms`; the detail names the
    /// offending value so an upload report can say what was wrong.
    pub fn check(&self, t: &Tick, now_ms: i64) -> Result<(), (Refusal, String)> {
        self.check_values(t.price, t.qty, t.exchange_ts, now_ms)
    }

    /// A quote passes when each side would pass as a trade at its price
    /// and size (a size may be zero: a side being emptied). The parser has
    /// already refused empty and crossed books.
    pub fn check_quote(&self, q: &Quote, now_ms: i64) -> Result<(), (Refusal, String)> {
        let size = |v: f64| if v == 0.0 { f64::MIN_POSITIVE } else { v };
        self.check_values(q.bid, size(q.bid_qty), q.ts, now_ms)?;
        self.check_values(q.ask, size(q.ask_qty), q.ts, now_ms)
    }

    fn check_values(&self, p: f64, q: f64, ts: i64, now_ms: i64) -> Result<(), (Refusal, String)> {
        if !p.is_finite() || p <= 0.0 {
            return Err((
                Refusal::PriceNotPositive,
                format!("price {} is not positive", num(p)),
            ));
        }
        if p < self.min_price || p > self.max_price {
            return Err((
                Refusal::PriceOutOfRange,
                format!(
                    "price {} is outside [{}, {}]",
                    num(p),
                    num(self.min_price),
                    num(self.max_price)
                ),
            ));
        }
        if !q.is_finite() || q <= 0.0 {
            return Err((
                Refusal::QtyNotPositive,
                format!("quantity {} is not positive", num(q)),
            ));
        }
        if q > self.max_qty {
            return Err((
                Refusal::QtyOutOfRange,
                format!("quantity {} is above {}", num(q), num(self.max_qty)),
            ));
        }
        if ts < self.earliest_ms {
            return Err((
                Refusal::TimeTooOld,
                format!(
                    "time {} ms is before the earliest accepted {} ms",
                    ts, self.earliest_ms
                ),
            ));
        }
        if ts > now_ms.saturating_add(self.max_future_ms) {
            return Err((
                Refusal::TimeInFuture,
                format!(
                    "time {} ms is more than {} s in the future",
                    ts,
                    self.max_future_ms / 1000
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Side, Venue};

    const NOW: i64 = 1_765_800_000_000; // 2025-12-15

    fn tick(price: f64, qty: f64, ts: i64) -> Tick {
        Tick {
            venue: Venue::BinanceFutures,
            symbol: "BTCUSDT".into(),
            trade_id: 1,
            exchange_ts: ts,
            receive_ts: ts,
            price,
            qty,
            side: Side::Buy,
        }
    }

    fn reason(price: f64, qty: f64, ts: i64) -> Option<Refusal> {
        TickLimits::default()
            .check(&tick(price, qty, ts), NOW)
            .err()
            .map(|e| e.0)
    }

    #[test]
    fn ordinary_trades_pass() {
        assert_eq!(reason(86_000.5, 0.002, NOW), None);
        assert_eq!(reason(0.000_012_3, 5e9, NOW - 1000), None);
        // A little clock skew is normal.
        assert_eq!(reason(1.0, 1.0, NOW + 60_000), None);
    }

    #[test]
    fn non_finite_and_non_positive_values_are_refused() {
        use Refusal::*;
        for p in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -1.0] {
            assert_eq!(reason(p, 1.0, NOW), Some(PriceNotPositive), "{p}");
            assert_eq!(reason(1.0, p, NOW), Some(QtyNotPositive), "{p}");
        }
    }

    #[test]
    fn absurd_magnitudes_and_times_are_refused() {
        use Refusal::*;
        assert_eq!(reason(1e308, 1.0, NOW), Some(PriceOutOfRange));
        assert_eq!(reason(1e-300, 1.0, NOW), Some(PriceOutOfRange));
        assert_eq!(reason(1.0, 1e20, NOW), Some(QtyOutOfRange));
        // 9999-12-31 and the epoch itself.
        assert_eq!(reason(1.0, 1.0, 253_402_214_400_000), Some(TimeInFuture));
        assert_eq!(reason(1.0, 1.0, 0), Some(TimeTooOld));
        assert_eq!(reason(1.0, 1.0, DEFAULT_EARLIEST_MS - 1), Some(TimeTooOld));
        assert_eq!(reason(1.0, 1.0, DEFAULT_EARLIEST_MS), None);
        assert_eq!(reason(1.0, 1.0, NOW + 86_400_001), Some(TimeInFuture));
        assert_eq!(reason(1.0, 1.0, i64::MAX), Some(TimeInFuture));
    }

    #[test]
    fn the_detail_names_the_value() {
        let e = TickLimits::default()
            .check(&tick(1e308, 1.0, NOW), NOW)
            .unwrap_err();
        assert_eq!(e.1, "price 1e308 is outside [1e-10, 1000000000]");
    }

    #[test]
    fn labels_are_distinct_and_indexed() {
        for (i, r) in Refusal::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let mut names: Vec<_> = Refusal::ALL.iter().map(|r| r.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Refusal::ALL.len());
    }
}
