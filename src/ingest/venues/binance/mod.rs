//! Binance spot and USD-M futures: one adapter type for both markets. Wire
//! structs ([`messages`]), pure frame parsing ([`parse`]), stream URLs, the
//! REST backfill and `exchangeInfo` listing check ([`rest`]).
//!
//! Binance trade ids (raw and aggregate) are consecutive per symbol, so a
//! jump in ids is a gap ([`GapPolicy::ConsecutiveIds`]).

pub mod messages;
pub mod parse;
pub mod rest;

use super::{Adapter, BackfillPage, BadRows, Bases, Exchange, GapPolicy, RestRequest};
use crate::domain::Venue;
use crate::ingest::event::{DataKind, Frame, ParseError};
use crate::ingest::venues::Endpoints;

/// Which Binance market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Market {
    Spot,
    UsdmFutures,
}

/// A Binance market under a venue id. The mock exchange and recordings
/// speak the same wire under their own ids (see `super::sim`, `super::replay`).
#[derive(Debug, Clone, Copy)]
pub struct Binance {
    pub venue: Venue,
    pub market: Market,
}

pub static FUTURES: Binance = Binance {
    venue: Venue::BinanceFutures,
    market: Market::UsdmFutures,
};

pub static SPOT: Binance = Binance {
    venue: Venue::BinanceSpot,
    market: Market::Spot,
};

impl Binance {
    /// The stream name suffix of `kind`.
    pub fn suffix(kind: DataKind) -> &'static str {
        match kind {
            DataKind::Trade => "trade",
            DataKind::AggTrade => "aggTrade",
        }
    }
}

/// Combined-stream URL for `symbols` on `base`. Futures aggregate trades
/// live under `/market` on the current Binance routing.
pub fn stream_url(base: &str, venue: Venue, kind: DataKind, symbols: &[String]) -> String {
    let streams: Vec<String> = symbols
        .iter()
        .map(|s| format!("{}@{}", s.to_ascii_lowercase(), Binance::suffix(kind)))
        .collect();
    let path = match (venue, kind) {
        (Venue::BinanceFutures, DataKind::AggTrade) => "/market/stream",
        _ => "/stream",
    };
    format!(
        "{}{}?streams={}",
        base.trim_end_matches('/'),
        path,
        streams.join("/")
    )
}

impl Adapter for Binance {
    fn venue(&self) -> Venue {
        self.venue
    }

    fn gap_policy(&self) -> GapPolicy {
        GapPolicy::ConsecutiveIds
    }

    fn parse_frame(&self, text: &str, receive_ts: i64) -> Result<Frame, ParseError> {
        parse::parse_frame(text, self.venue, receive_ts)
    }

    fn exchange(&self) -> Option<&dyn Exchange> {
        Some(self)
    }
}

impl Exchange for Binance {
    fn bases(&self, e: &Endpoints) -> Option<Bases> {
        Some(match self.market {
            Market::UsdmFutures => Bases {
                ws: e.futures_ws.clone(),
                rest: e.futures_rest.clone(),
            },
            Market::Spot => Bases {
                ws: e.spot_ws.clone(),
                rest: e.spot_rest.clone(),
            },
        })
    }

    fn stream_url(&self, ws_base: &str, kind: DataKind, symbols: &[String]) -> String {
        stream_url(ws_base, self.venue, kind, symbols)
    }

    fn listing_request(&self, rest_base: &str, symbol: &str) -> RestRequest {
        rest::listing_request(self.market, rest_base, symbol)
    }

    fn listed(&self, status: u16, body: &str, symbol: &str) -> Option<bool> {
        rest::listed(status, body, symbol)
    }

    fn backfill_page_limit(&self) -> i64 {
        rest::PAGE
    }

    fn backfill_request(
        &self,
        rest_base: &str,
        kind: DataKind,
        symbol: &str,
        from_id: i64,
        limit: i64,
    ) -> RestRequest {
        RestRequest {
            url: format!(
                "{}{}",
                rest_base.trim_end_matches('/'),
                rest::endpoint(self.market, kind)
            ),
            query: vec![
                ("symbol", symbol.to_string()),
                ("fromId", from_id.to_string()),
                ("limit", limit.to_string()),
            ],
            api_key_header: Some("X-MBX-APIKEY"),
        }
    }

    fn parse_backfill(
        &self,
        body: &str,
        kind: DataKind,
        symbol: &str,
        from: i64,
        to: i64,
        now: i64,
    ) -> Result<BackfillPage, BadRows> {
        let (ticks, last_id) = rest::rows_to_ticks(body, kind, self.venue, symbol, from, to, now)?;
        Ok(BackfillPage { ticks, last_id })
    }

    fn history_start_request(
        &self,
        rest_base: &str,
        _kind: DataKind,
        symbol: &str,
        from_ms: i64,
    ) -> Option<RestRequest> {
        Some(rest::first_at_request(
            self.market,
            rest_base,
            symbol,
            from_ms,
        ))
    }

    fn parse_history_start(&self, body: &str, kind: DataKind) -> Result<Option<i64>, BadRows> {
        rest::first_id(body, kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_binance_routing() {
        let s = vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()];
        assert_eq!(
            stream_url(
                "wss://fstream.binance.com",
                Venue::BinanceFutures,
                DataKind::AggTrade,
                &s
            ),
            "wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade"
        );
        assert_eq!(
            stream_url(
                "wss://stream.binance.com:9443/",
                Venue::BinanceSpot,
                DataKind::Trade,
                &s
            ),
            "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/ethusdt@trade"
        );
    }

    #[test]
    fn backfill_requests_page_by_id() {
        let r = FUTURES.backfill_request(
            "https://fapi.binance.com/",
            DataKind::AggTrade,
            "BTCUSDT",
            10,
            1000,
        );
        assert_eq!(r.url, "https://fapi.binance.com/fapi/v1/aggTrades");
        assert_eq!(
            r.query,
            [
                ("symbol", "BTCUSDT".to_string()),
                ("fromId", "10".to_string()),
                ("limit", "1000".to_string())
            ]
        );
        assert_eq!(
            SPOT.listing_request("https://api.binance.com", "ETHUSDT")
                .url,
            "https://api.binance.com/api/v3/exchangeInfo"
        );
    }
}
