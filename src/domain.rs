//! The vocabulary shared by server and client: venues, ticks, bars, timeframes.
//!
//! Everything here is plain data with serde so it crosses the server-function
//! boundary unchanged. Timestamps are i64 milliseconds since the Unix epoch, UTC.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a tick came from. Part of the de-duplication key, so a simulated
/// trade can never collide with a real Binance trade id.
///
/// The names (`binance-futures`, `binance-spot`, `sim`, `replay`) are stored
/// in SQLite and sent by the API: serde and strum derive the same kebab-case
/// spelling, and a test pins it. What a venue *does* (its stream, parser,
/// backfill) lives with its adapter in `ingest::venues`; this enum is only
/// the id, shared with the client.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Venue {
    BinanceFutures,
    BinanceSpot,
    Sim,
    Replay,
}

impl Venue {
    /// The venue a bare symbol (`BTCUSDT`, no `venue:` prefix) refers to in
    /// URLs, the API and the config.
    pub const DEFAULT: Venue = Venue::BinanceFutures;

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every venue, in declaration order.
    pub fn all() -> impl Iterator<Item = Venue> {
        <Venue as strum::IntoEnumIterator>::iter()
    }
}

/// Why a `venue:SYMBOL` string is not an [`Instrument`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstrumentError {
    #[error("unknown venue {0:?}")]
    UnknownVenue(String),
    #[error("{0}")]
    Symbol(String),
}

/// A venue-qualified symbol: `binance-spot:ETHUSDT`. A bare symbol means
/// the default venue ([`Venue::DEFAULT`], or the one the caller passes to
/// [`Instrument::parse_or`]), so bare symbols keep working everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Instrument {
    pub venue: Venue,
    /// Upper case, as validated by [`validate_symbol`].
    pub symbol: String,
}

impl Instrument {
    pub fn new(venue: Venue, symbol: impl Into<String>) -> Instrument {
        Instrument {
            venue,
            symbol: symbol.into(),
        }
    }

    /// Parse `venue:SYMBOL` or a bare `SYMBOL` (then on `default`); the
    /// symbol is validated and upper-cased.
    pub fn parse_or(s: &str, default: Venue) -> Result<Instrument, InstrumentError> {
        let (venue, symbol) = match s.trim().split_once(':') {
            Some((v, sym)) => (
                v.trim()
                    .parse::<Venue>()
                    .map_err(|_| InstrumentError::UnknownVenue(v.trim().to_string()))?,
                sym,
            ),
            None => (default, s),
        };
        let symbol = validate_symbol(symbol).map_err(InstrumentError::Symbol)?;
        Ok(Instrument { venue, symbol })
    }
}

impl FromStr for Instrument {
    type Err = InstrumentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Instrument::parse_or(s, Venue::DEFAULT)
    }
}

impl fmt::Display for Instrument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.venue, self.symbol)
    }
}

/// The aggressor of a trade. Binance's `m` flag ("buyer is maker") true means
/// the seller hit the bid, so the aggressor sold.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
    Unknown,
}

impl Side {
    pub fn from_buyer_is_maker(m: bool) -> Self {
        if m {
            Side::Sell
        } else {
            Side::Buy
        }
    }

    pub fn as_i64(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
            Side::Unknown => 0,
        }
    }

    pub fn from_i64(v: i64) -> Self {
        match v {
            1 => Side::Buy,
            -1 => Side::Sell,
            _ => Side::Unknown,
        }
    }
}

/// One normalized trade. Prices are parsed from Binance's decimal strings with
/// a correctly rounded parse, so the shortest f64 representation prints the
/// exchange's decimal back unchanged.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    pub venue: Venue,
    pub symbol: String,
    pub trade_id: i64,
    /// Exchange trade time (`T`), ms.
    pub exchange_ts: i64,
    /// Local receive time, ms.
    pub receive_ts: i64,
    pub price: f64,
    pub qty: f64,
    pub side: Side,
}

impl Tick {
    /// The venue-qualified symbol this trade belongs to.
    pub fn instrument(&self) -> Instrument {
        Instrument::new(self.venue, self.symbol.clone())
    }
}

/// Top of book at one moment: the venue's best bid and ask with their sizes
/// (Binance `bookTicker`). `update_id` is the venue's order-book update id,
/// which only increases per symbol and is the de-duplication key; it is not
/// consecutive (most book updates do not touch the top), so a jump in it is
/// no gap.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    pub venue: Venue,
    pub symbol: String,
    pub update_id: i64,
    /// Exchange time of the update, ms; spot `bookTicker` carries none, so
    /// there it is the receive time.
    pub ts: i64,
    /// Local receive time, ms (what conflation buckets by).
    pub receive_ts: i64,
    pub bid: f64,
    pub bid_qty: f64,
    pub ask: f64,
    pub ask_qty: f64,
}

impl Quote {
    pub fn instrument(&self) -> Instrument {
        Instrument::new(self.venue, self.symbol.clone())
    }

    /// `(bid + ask) / 2`.
    pub fn mid(&self) -> f64 {
        (self.bid + self.ask) / 2.0
    }
}

/// A perpetual's mark price and funding state (Binance `markPriceUpdate`,
/// every second): the mark, the index it tracks, the funding rate that
/// would be charged at `next_funding_ts` if it settled now.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkPrice {
    pub venue: Venue,
    pub symbol: String,
    /// Event time, ms.
    pub ts: i64,
    pub mark: f64,
    pub index: f64,
    /// Estimated funding rate for the current period, as a fraction
    /// (0.0001 = 1 bp): longs pay shorts when positive.
    pub funding_rate: f64,
    pub next_funding_ts: i64,
}

/// The exchange's trading rules for a symbol (Binance `exchangeInfo`
/// filters): what a market order's quantity must be a multiple of, and the
/// smallest order.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolRules {
    pub venue: Venue,
    pub symbol: String,
    /// Market-order quantity step (`MARKET_LOT_SIZE`, else `LOT_SIZE`).
    pub qty_step: f64,
    /// Smallest market-order quantity.
    pub min_qty: f64,
    /// Price step (`PRICE_FILTER`).
    pub tick_size: f64,
    /// Smallest order notional, quote currency (`MIN_NOTIONAL` or
    /// `NOTIONAL`); 0 when the venue states none.
    pub min_notional: f64,
}

/// One settled funding of a perpetual (Binance `/fapi/v1/fundingRate`).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Funding {
    pub venue: Venue,
    pub symbol: String,
    /// Settlement time, ms.
    pub ts: i64,
    /// The rate charged, as a fraction: longs paid shorts when positive.
    pub rate: f64,
}

/// One OHLCV bar. `close` is the last traded price in the bucket, which is the
/// price the analytics use.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// Bucket start, ms, aligned to UTC multiples of the timeframe.
    pub ts: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    pub trades: i64,
    pub vwap: f64,
}

/// Bar sizes offered everywhere (UI, API, CLI).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Timeframe {
    #[default]
    #[serde(rename = "1s")]
    S1,
    #[serde(rename = "5s")]
    S5,
    #[serde(rename = "15s")]
    S15,
    #[serde(rename = "1m")]
    M1,
    #[serde(rename = "5m")]
    M5,
    #[serde(rename = "15m")]
    M15,
    #[serde(rename = "1h")]
    H1,
    #[serde(rename = "1d")]
    D1,
}

impl Timeframe {
    pub const ALL: [Timeframe; 8] = [
        Timeframe::S1,
        Timeframe::S5,
        Timeframe::S15,
        Timeframe::M1,
        Timeframe::M5,
        Timeframe::M15,
        Timeframe::H1,
        Timeframe::D1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Timeframe::S1 => "1s",
            Timeframe::S5 => "5s",
            Timeframe::S15 => "15s",
            Timeframe::M1 => "1m",
            Timeframe::M5 => "5m",
            Timeframe::M15 => "15m",
            Timeframe::H1 => "1h",
            Timeframe::D1 => "1d",
        }
    }

    pub fn millis(self) -> i64 {
        const S: i64 = 1000;
        match self {
            Timeframe::S1 => S,
            Timeframe::S5 => 5 * S,
            Timeframe::S15 => 15 * S,
            Timeframe::M1 => 60 * S,
            Timeframe::M5 => 300 * S,
            Timeframe::M15 => 900 * S,
            Timeframe::H1 => 3600 * S,
            Timeframe::D1 => 86_400 * S,
        }
    }

    /// Start of the UTC bucket containing `ts` (floor, also for negative ts).
    pub fn bucket(self, ts: i64) -> i64 {
        ts.div_euclid(self.millis()) * self.millis()
    }

    pub fn accepted() -> String {
        Timeframe::ALL
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Timeframe {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timeframe::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown timeframe {s:?} (accepted: {})",
                    Timeframe::accepted()
                )
            })
    }
}

/// A comma-separated symbol list as typed (`BTCUSDT, ETHUSDT,`): each
/// name trimmed, empty ones dropped; validation is the query's.
pub fn split_symbols(list: &str) -> Vec<String> {
    list.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A symbol as Binance spells it in REST (upper case, letters and digits).
pub fn validate_symbol(s: &str) -> Result<String, String> {
    let up = s.trim().to_ascii_uppercase();
    if up.len() < 2 || up.len() > 20 || !up.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "invalid symbol {s:?}: expected 2-20 letters or digits, e.g. BTCUSDT"
        ));
    }
    Ok(up)
}

/// Per-symbol ingestion figures shown in the status bar.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SymbolStatus {
    pub symbol: String,
    pub ticks_per_sec: f64,
    pub last_exchange_ts: Option<i64>,
    pub lag_ms: Option<i64>,
    pub last_price: Option<f64>,
    /// Best bid and ask of the newest quote, when quotes stream.
    #[serde(default)]
    pub bid: Option<f64>,
    #[serde(default)]
    pub ask: Option<f64>,
}

/// One stream (connection) of the source: trades, book or mark price.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamStatus {
    /// `aggTrade`, `trade`, `bookTicker` or `markPrice`.
    pub stream: String,
    pub connected: bool,
    pub messages: u64,
    /// Since its last message, ms (None before the first).
    pub silent_ms: Option<i64>,
    /// Times the watchdog found it silent while its connection was healthy.
    pub silences: u64,
    /// Of those, how many it resubscribed (before reconnecting).
    pub resubscribes: u64,
    pub reconnects: u64,
}

/// History on start (`serve --history`), for the status bar.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryStatus {
    /// Start of the lookback, ms.
    pub from_ts: i64,
    /// Ticks it has handed to the store so far.
    pub loaded: u64,
    /// Symbols still loading; empty once done.
    pub pending: Vec<String>,
    /// Exchange times of the oldest and newest tick loaded so far, ms: the
    /// simulated market fills forward from the lookback's start, a venue's
    /// REST history backwards from the live stream (newest first).
    pub oldest_ts: Option<i64>,
    pub newest_ts: Option<i64>,
}

/// What the status line shows: source, connection, counts and rates.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusSnapshot {
    /// `binance-futures`, `binance-spot`, `sim` or `replay:<file>`.
    pub source: String,
    /// True when the data is generated by the built-in simulator.
    pub simulated: bool,
    pub connected: bool,
    pub ticks_stored: u64,
    pub ticks_per_sec: f64,
    pub reconnects: u64,
    pub gaps_found: u64,
    pub gaps_filled: u64,
    pub dropped: u64,
    pub duplicates: u64,
    pub symbols: Vec<SymbolStatus>,
    pub server_time: i64,
    /// How long the latest fault left us without data: from the last
    /// message before it to the first after recovery. None before the first.
    #[serde(default)]
    pub blind_ms: Option<u64>,
    /// History on start: None when it is off (or for a replay).
    #[serde(default)]
    pub history: Option<HistoryStatus>,
    /// Each stream of the source (empty for a replay).
    #[serde(default)]
    pub streams: Vec<StreamStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venue_names_are_the_stored_ones() {
        let names: Vec<&str> = Venue::all().map(Venue::as_str).collect();
        assert_eq!(names, ["binance-futures", "binance-spot", "sim", "replay"]);
        for v in Venue::all() {
            assert_eq!(v.as_str().parse::<Venue>().unwrap(), v);
            assert_eq!(v.to_string(), v.as_str());
            // serde (API, server functions) spells it the same way.
            assert_eq!(
                serde_json::to_string(&v).unwrap(),
                format!("\"{}\"", v.as_str())
            );
        }
        assert!("binance".parse::<Venue>().is_err());
    }

    #[test]
    fn instruments_are_venue_qualified_and_bare_means_default() {
        let i: Instrument = "binance-spot:ethusdt".parse().unwrap();
        assert_eq!(i, Instrument::new(Venue::BinanceSpot, "ETHUSDT"));
        assert_eq!(i.to_string(), "binance-spot:ETHUSDT");
        assert_eq!(i.to_string().parse::<Instrument>().unwrap(), i);
        let bare: Instrument = "BTCUSDT".parse().unwrap();
        assert_eq!(bare, Instrument::new(Venue::DEFAULT, "BTCUSDT"));
        assert_eq!(
            Instrument::parse_or("btcusdt", Venue::Sim).unwrap(),
            Instrument::new(Venue::Sim, "BTCUSDT")
        );
        assert_eq!(
            "kraken:BTCUSD".parse::<Instrument>(),
            Err(InstrumentError::UnknownVenue("kraken".into()))
        );
        assert!(matches!(
            "sim:BTC/USDT".parse::<Instrument>(),
            Err(InstrumentError::Symbol(_))
        ));
    }

    #[test]
    fn timeframe_round_trips_through_its_name() {
        for tf in Timeframe::ALL {
            assert_eq!(tf.as_str().parse::<Timeframe>().unwrap(), tf);
        }
        assert!("2m".parse::<Timeframe>().unwrap_err().contains("accepted"));
    }

    #[test]
    fn bucket_floors_to_utc_boundaries() {
        assert_eq!(Timeframe::M1.bucket(119_999), 60_000);
        assert_eq!(Timeframe::M1.bucket(120_000), 120_000);
        assert_eq!(Timeframe::S1.bucket(-1), -1000);
    }

    #[test]
    fn buyer_is_maker_means_seller_aggressed() {
        assert_eq!(Side::from_buyer_is_maker(true), Side::Sell);
        assert_eq!(Side::from_buyer_is_maker(false), Side::Buy);
    }

    #[test]
    fn symbols_are_validated_and_upper_cased() {
        assert_eq!(validate_symbol("btcusdt").unwrap(), "BTCUSDT");
        assert!(validate_symbol("BTC/USDT").is_err());
        assert!(validate_symbol("").is_err());
    }
}
