//! The venue seam: what an exchange adapter implements, and the registry
//! that maps a [`Venue`] id to its adapter.
//!
//! Everything venue-specific lives in one folder under here: wire types,
//! pure frame parsing, stream URLs, the REST backfill and listing requests
//! with the pure reading of their answers, and the venue's gap policy. The
//! socket client, subscriptions, the backfiller, the pipeline, replay,
//! metrics and source startup only see the traits below.
//!
//! Adding a venue: a new folder with a type implementing [`Adapter`] (and
//! [`Exchange`] if it can be streamed), its id in [`crate::domain::Venue`],
//! and one line in [`adapter`].
//!
//! Adapters do no I/O: they describe requests ([`RestRequest`]) and read
//! answers, so every venue rule is a plain unit test; the HTTP and socket
//! loops that carry them out are shared (`ingest::socket`,
//! `ingest::backfill`, `ingest::subscriptions`).

pub mod binance;
pub(crate) mod replay;
pub mod sim;

use super::event::{DataKind, Frame, ParseError, StreamKind};
use crate::domain::{Funding, SymbolRules, Tick, Venue};
use std::time::Duration;

/// Exchange endpoints, kept in config so a moved endpoint needs no rebuild.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Endpoints {
    pub futures_ws: String,
    pub spot_ws: String,
    pub futures_rest: String,
    pub spot_rest: String,
    /// The path tier each futures stream is served under.
    pub futures_routes: Routes,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            futures_ws: "wss://fstream.binance.com".into(),
            spot_ws: "wss://stream.binance.com:9443".into(),
            futures_rest: "https://fapi.binance.com".into(),
            spot_rest: "https://api.binance.com".into(),
            futures_routes: Routes::default(),
        }
    }
}

/// The path prefix each stream kind is served under, before `/stream`.
/// Binance USD-M splits its streams into tiers (since 2026-04-23 the
/// unrouted paths no longer deliver `/market` streams): `trade` and
/// `bookTicker` under `/public`, `aggTrade` and `markPrice` under
/// `/market`. A stream asked for on the wrong tier is acknowledged and
/// then never sent, which only the silence watchdog notices; kept in
/// config so the next move needs no rebuild.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routes {
    pub trade: String,
    pub agg_trade: String,
    pub book_ticker: String,
    pub mark_price: String,
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            trade: "/public".into(),
            agg_trade: "/market".into(),
            book_ticker: "/public".into(),
            mark_price: "/market".into(),
        }
    }
}

impl Routes {
    /// No tiers: every stream at the root (Binance spot).
    pub fn root() -> Routes {
        Routes {
            trade: String::new(),
            agg_trade: String::new(),
            book_ticker: String::new(),
            mark_price: String::new(),
        }
    }

    pub fn path(&self, kind: StreamKind) -> &str {
        match kind {
            StreamKind::Trades(DataKind::Trade) => &self.trade,
            StreamKind::Trades(DataKind::AggTrade) => &self.agg_trade,
            StreamKind::Book => &self.book_ticker,
            StreamKind::Mark => &self.mark_price,
        }
    }

    /// Every prefix must be empty or `/` and a path segment.
    pub fn validate(&self) -> Result<(), String> {
        for p in [
            &self.trade,
            &self.agg_trade,
            &self.book_ticker,
            &self.mark_price,
        ] {
            let ok = p.is_empty()
                || (p.starts_with('/')
                    && p.len() > 1
                    && p[1..]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            if !ok {
                return Err(format!(
                    "route {p:?} must be empty or one path segment like \"/public\""
                ));
            }
        }
        Ok(())
    }
}

/// How a venue numbers its trades, and so what a jump in ids means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapPolicy {
    /// Ids are consecutive per symbol (Binance): a jump is a gap, recorded
    /// and sent to the backfiller, and a reconnect catches up from the last id.
    ConsecutiveIds,
    /// Ids only increase (synthetic or venue ids with holes): a jump is
    /// not a gap and nothing is backfilled; ids still de-duplicate.
    Unsequenced,
}

/// A GET the shared HTTP code sends for an adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestRequest {
    pub url: String,
    pub query: Vec<(&'static str, String)>,
    /// The header an API key goes in, if the venue takes one here.
    pub api_key_header: Option<&'static str>,
}

/// One page of a REST backfill, read.
#[derive(Debug, Clone, PartialEq)]
pub struct BackfillPage {
    /// The rows inside the requested id range that are real trades.
    pub ticks: Vec<Tick>,
    /// The highest id on the page, inside the range or not (paging goes on
    /// from it); `None` for an empty page.
    pub last_id: Option<i64>,
}

/// A REST answer that is not the rows it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad row: {0}")]
pub struct BadRows(pub String);

/// The websocket and REST bases of a live venue, and its stream routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bases {
    pub ws: String,
    pub rest: String,
    pub routes: Routes,
}

/// What every venue has: an id, a gap policy and a pure frame parser.
pub trait Adapter: Send + Sync + std::fmt::Debug {
    fn venue(&self) -> Venue;

    fn gap_policy(&self) -> GapPolicy;

    /// Parse one text frame, stamping ticks with [`Adapter::venue`] and
    /// `receive_ts`. Pure: no I/O, no clock.
    fn parse_frame(&self, text: &str, receive_ts: i64) -> Result<Frame, ParseError>;

    /// The live side of the venue, if it can be streamed (a replay cannot).
    fn exchange(&self) -> Option<&dyn Exchange> {
        None
    }
}

/// A venue one can stream from and backfill from.
pub trait Exchange: Adapter {
    /// Where it lives by default, from the `[endpoints]` config; `None` for
    /// a venue whose bases are only known when it starts (the mock exchange).
    fn bases(&self, endpoints: &Endpoints) -> Option<Bases>;

    /// The URL of one connection carrying `kind` for `symbols`; `None`
    /// when the venue has no such stream (spot has no mark price).
    fn stream_url(
        &self,
        ws_base: &str,
        routes: &Routes,
        kind: StreamKind,
        symbols: &[String],
    ) -> Option<String>;

    /// A request that subscribes `symbols` to `kind` again on an open
    /// connection (the silence watchdog's first remedy); `None` when the
    /// venue cannot, and a silent stream is reconnected at once.
    fn subscribe_message(
        &self,
        _kind: StreamKind,
        _symbols: &[String],
        _id: u64,
    ) -> Option<String> {
        None
    }

    /// Reconnect (make-before-break) before the venue cuts a connection off.
    fn max_connection_lifetime(&self) -> Duration {
        Duration::from_secs(23 * 3600 + 50 * 60)
    }

    /// The request that asks whether `symbol` is listed. Needed where the
    /// venue accepts a stream for a symbol it does not have and then sends
    /// nothing.
    fn listing_request(&self, rest_base: &str, symbol: &str) -> RestRequest;

    /// Read a listing answer: `Some(true)` listed, `Some(false)` unknown,
    /// `None` when the answer says neither (rate limits, outages).
    fn listed(&self, status: u16, body: &str, symbol: &str) -> Option<bool>;

    /// Most ids one backfill page may ask for.
    fn backfill_page_limit(&self) -> i64;

    /// The request for at most `limit` trades of `kind` from id `from_id`.
    fn backfill_request(
        &self,
        rest_base: &str,
        kind: DataKind,
        symbol: &str,
        from_id: i64,
        limit: i64,
    ) -> RestRequest;

    /// Read a backfill page, keeping ids in `[from, to]` and dropping zero
    /// trades as the live path does; ticks get `now` as receive time.
    #[allow(clippy::too_many_arguments)]
    fn parse_backfill(
        &self,
        body: &str,
        kind: DataKind,
        symbol: &str,
        from: i64,
        to: i64,
        now: i64,
    ) -> Result<BackfillPage, BadRows>;

    /// History on start: the request for the first trade at or after
    /// `from_ms`, whose id starts the backfill (`None`: the venue has no
    /// history by time, so a first start begins with the live stream).
    fn history_start_request(
        &self,
        _rest_base: &str,
        _kind: DataKind,
        _symbol: &str,
        _from_ms: i64,
    ) -> Option<RestRequest> {
        None
    }

    /// Read that answer: the first id of `kind` at or after the time asked,
    /// `None` when the venue has no trade in the window it searched.
    fn parse_history_start(&self, _body: &str, _kind: DataKind) -> Result<Option<i64>, BadRows> {
        Ok(None)
    }

    /// Settled funding of `symbol` in `[from_ms, to_ms]`, oldest first, at
    /// most `limit` rows (`None`: the venue has no funding, spot).
    fn funding_request(
        &self,
        _rest_base: &str,
        _symbol: &str,
        _from_ms: i64,
        _to_ms: i64,
    ) -> Option<RestRequest> {
        None
    }

    /// Read a funding answer.
    fn parse_funding(&self, _body: &str, _symbol: &str) -> Result<Vec<Funding>, BadRows> {
        Ok(Vec::new())
    }

    /// Read a symbol's trading rules (lot and price steps) from the answer
    /// to its [`Exchange::listing_request`]; `Ok(None)` when the venue
    /// states none.
    fn parse_rules(&self, _body: &str, _symbol: &str) -> Result<Option<SymbolRules>, BadRows> {
        Ok(None)
    }
}

/// The registry: the adapter of each venue id. One line per venue.
pub fn adapter(venue: Venue) -> &'static dyn Adapter {
    match venue {
        Venue::BinanceFutures => &binance::FUTURES,
        Venue::BinanceSpot => &binance::SPOT,
        Venue::Sim => &sim::SIM,
        Venue::Replay => &replay::REPLAY,
    }
}

/// The live side of `venue`, if it has one.
pub fn exchange(venue: Venue) -> Option<&'static dyn Exchange> {
    adapter(venue).exchange()
}

/// Venues a `source` can name directly: streamable with configured bases
/// (the simulated market and replays have their own `source` forms).
pub fn configured(endpoints: &Endpoints) -> impl Iterator<Item = Venue> + '_ {
    Venue::all().filter(|v| exchange(*v).is_some_and(|x| x.bases(endpoints).is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_venue_is_registered_under_its_own_id() {
        for v in Venue::all() {
            assert_eq!(adapter(v).venue(), v);
            if let Some(x) = exchange(v) {
                assert_eq!(x.venue(), v);
            }
        }
    }

    #[test]
    fn gap_policies() {
        assert_eq!(
            adapter(Venue::BinanceFutures).gap_policy(),
            GapPolicy::ConsecutiveIds
        );
        assert_eq!(adapter(Venue::Sim).gap_policy(), GapPolicy::ConsecutiveIds);
        assert_eq!(adapter(Venue::Replay).gap_policy(), GapPolicy::Unsequenced);
        assert!(exchange(Venue::Replay).is_none());
    }

    #[test]
    fn configured_venues_are_the_binance_markets() {
        let v: Vec<Venue> = configured(&Endpoints::default()).collect();
        assert_eq!(v, [Venue::BinanceFutures, Venue::BinanceSpot]);
    }
}
