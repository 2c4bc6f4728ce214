//! The venue-neutral vocabulary of ingestion: what a frame from any venue
//! turns into ([`Frame`]), why a well-formed trade is not stored
//! ([`DropReason`]), which trades a stream carries ([`DataKind`]), which
//! kind of stream a connection carries ([`StreamKind`]), and the decimal
//! parsing every text wire format needs.
//!
//! Venue adapters (`super::venues`) produce these; the socket client, the
//! pipeline, replay and metrics consume them without knowing the venue.

use crate::domain::{MarkPrice, Quote, Tick};
use thiserror::Error;

/// Which trade data a stream carries. Each venue maps it to its own stream
/// and REST names; in the config it is spelt `trade` or `aggTrade`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
)]
pub enum DataKind {
    /// Every trade, with the venue's own trade id.
    #[strum(serialize = "trade")]
    Trade,
    /// Trades aggregated per taker order, keyed by the aggregate's id.
    #[strum(serialize = "aggTrade")]
    AggTrade,
}

/// What one connection streams: trades (of a [`DataKind`]), top of book,
/// or mark price and funding. Each kind is its own connection, since a
/// venue may route them to different paths (Binance USD-M: `/public` for
/// trades and book, `/market` for aggregates and mark price), and each has
/// its own silence watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamKind {
    Trades(DataKind),
    /// Best bid and ask (Binance `bookTicker`).
    Book,
    /// Mark price, index and estimated funding (Binance `markPrice@1s`).
    Mark,
}

impl StreamKind {
    /// The label in /metrics and the status bar.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Trades(k) => k.into(),
            StreamKind::Book => "bookTicker",
            StreamKind::Mark => "markPrice",
        }
    }

    /// How often the venue sends this stream when the market is alive,
    /// if that is fixed (a mark price every second); trades and book
    /// updates follow the market, so their watchdog learns the rate.
    pub fn expected_interval(self) -> Option<std::time::Duration> {
        match self {
            StreamKind::Mark => Some(std::time::Duration::from_secs(1)),
            _ => None,
        }
    }
}

impl std::fmt::Display for StreamKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a well-formed trade was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumCount)]
#[strum(serialize_all = "snake_case")]
pub enum DropReason {
    ZeroPrice,
    ZeroQty,
    /// Futures `X` = `INSURANCE_FUND`: liquidation fills, not market trades.
    InsuranceFund,
    /// Futures `X` = `ADL`: auto-deleveraging fills.
    Adl,
    /// Futures `X` = `NA` or any execution type other than `MARKET`.
    NotMarket,
}

impl DropReason {
    /// Every reason, in metrics order (the counters are indexed by it).
    pub const ALL: [DropReason; <DropReason as strum::EnumCount>::COUNT] = [
        DropReason::ZeroPrice,
        DropReason::ZeroQty,
        DropReason::InsuranceFund,
        DropReason::Adl,
        DropReason::NotMarket,
    ];

    /// The `reason` label in /metrics.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What one frame turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Tick(Tick),
    Quote(Quote),
    Mark(MarkPrice),
    Dropped {
        symbol: String,
        reason: DropReason,
    },
    /// The server will close this connection soon (Binance's
    /// `serverShutdown`): hand over to a new one.
    ServerShutdown,
    /// Anything else that parsed (subscription results, other events).
    Other,
}

#[derive(Debug, Error, PartialEq)]
pub enum ParseError {
    #[error("not JSON or wrong shape: {0}")]
    Json(String),
    #[error("bad decimal {field} {value:?}")]
    Decimal { field: &'static str, value: String },
    #[error("frame of {0} bytes exceeds the limit")]
    Oversized(usize),
}

/// Frames larger than this are refused before JSON parsing; a trade frame is
/// under 300 bytes, so this leaves room for any legitimate event.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Parse a price or quantity sent as a decimal string. Rust's f64 parse is
/// correctly rounded, so no precision is lost beyond the f64 itself.
/// Negative, NaN and infinite values are refused.
pub fn parse_decimal(field: &'static str, s: &str) -> Result<f64, ParseError> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && !s.starts_with(['+', '-']) => Ok(v),
        _ => Err(ParseError::Decimal {
            field,
            value: s.chars().take(32).collect(),
        }),
    }
}

/// Parse a decimal that may be negative (a funding rate); NaN and
/// infinite values are refused.
pub fn parse_signed_decimal(field: &'static str, s: &str) -> Result<f64, ParseError> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && !s.starts_with('+') => Ok(v),
        _ => Err(ParseError::Decimal {
            field,
            value: s.chars().take(32).collect(),
        }),
    }
}

/// Shortest decimal that round-trips to the same f64.
pub fn format_decimal(v: f64) -> String {
    format!("{v}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_config_and_metrics_ones() {
        assert_eq!("trade".parse::<DataKind>(), Ok(DataKind::Trade));
        assert_eq!("aggTrade".parse::<DataKind>(), Ok(DataKind::AggTrade));
        assert!("depth".parse::<DataKind>().is_err());
        assert_eq!(DataKind::AggTrade.to_string(), "aggTrade");
        let names: Vec<&str> = DropReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            names,
            [
                "zero_price",
                "zero_qty",
                "insurance_fund",
                "adl",
                "not_market"
            ]
        );
    }

    #[test]
    fn decimals_refuse_signs_and_non_finite() {
        assert_eq!(parse_decimal("p", "89543.10"), Ok(89543.1));
        for bad in ["-1", "+1", "NaN", "inf", "", "1e400"] {
            assert!(parse_decimal("p", bad).is_err(), "{bad:?}");
        }
    }
}
