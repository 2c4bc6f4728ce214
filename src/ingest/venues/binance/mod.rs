//! Binance spot and USD-M futures: one adapter type for both markets. Wire
//! structs ([`messages`]), pure frame parsing ([`parse`]), stream URLs, the
//! REST backfill and `exchangeInfo` listing check ([`rest`]).
//!
//! Binance trade ids (raw and aggregate) are consecutive per symbol, so a
//! jump in ids is a gap ([`GapPolicy::ConsecutiveIds`]).

pub mod messages;
pub mod parse;
pub mod rest;

use super::{Adapter, BackfillPage, BadRows, Bases, Exchange, GapPolicy, RestRequest, Routes};
use crate::domain::{Funding, SymbolRules, Venue};
use crate::ingest::event::{DataKind, Frame, ParseError, StreamKind};
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
    pub fn suffix(kind: StreamKind) -> &'static str {
        match kind {
            StreamKind::Trades(DataKind::Trade) => "trade",
            StreamKind::Trades(DataKind::AggTrade) => "aggTrade",
            StreamKind::Book => "bookTicker",
            StreamKind::Mark => "markPrice@1s",
        }
    }

    /// The stream kind a name suffix means (the mock exchange reads URLs).
    pub fn kind_of(suffix: &str) -> Option<StreamKind> {
        [
            StreamKind::Trades(DataKind::Trade),
            StreamKind::Trades(DataKind::AggTrade),
            StreamKind::Book,
            StreamKind::Mark,
        ]
        .into_iter()
        .find(|k| Binance::suffix(*k) == suffix)
    }
}

/// Combined-stream URL for `symbols` on `base`, under the route of `kind`.
pub fn stream_url(base: &str, routes: &Routes, kind: StreamKind, symbols: &[String]) -> String {
    let streams: Vec<String> = symbols
        .iter()
        .map(|s| format!("{}@{}", s.to_ascii_lowercase(), Binance::suffix(kind)))
        .collect();
    format!(
        "{}{}/stream?streams={}",
        base.trim_end_matches('/'),
        routes.path(kind),
        streams.join("/")
    )
}

/// `{"method":"SUBSCRIBE","params":["btcusdt@bookTicker"],"id":7}`: Binance
/// answers `{"result":null,"id":7}` and (re)starts the streams.
pub fn subscribe_message(kind: StreamKind, symbols: &[String], id: u64) -> String {
    let params: Vec<String> = symbols
        .iter()
        .map(|s| format!("{}@{}", s.to_ascii_lowercase(), Binance::suffix(kind)))
        .collect();
    serde_json::json!({"method": "SUBSCRIBE", "params": params, "id": id}).to_string()
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
                routes: e.futures_routes.clone(),
            },
            Market::Spot => Bases {
                ws: e.spot_ws.clone(),
                rest: e.spot_rest.clone(),
                routes: Routes::root(),
            },
        })
    }

    fn stream_url(
        &self,
        ws_base: &str,
        routes: &Routes,
        kind: StreamKind,
        symbols: &[String],
    ) -> Option<String> {
        if kind == StreamKind::Mark && self.market == Market::Spot {
            return None;
        }
        Some(stream_url(ws_base, routes, kind, symbols))
    }

    fn subscribe_message(&self, kind: StreamKind, symbols: &[String], id: u64) -> Option<String> {
        Some(subscribe_message(kind, symbols, id))
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

    fn funding_request(
        &self,
        rest_base: &str,
        symbol: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Option<RestRequest> {
        (self.market == Market::UsdmFutures)
            .then(|| rest::funding_request(rest_base, symbol, from_ms, to_ms))
    }

    fn parse_funding(&self, body: &str, symbol: &str) -> Result<Vec<Funding>, BadRows> {
        rest::funding_rows(body, self.venue, symbol)
    }

    fn parse_rules(&self, body: &str, symbol: &str) -> Result<Option<SymbolRules>, BadRows> {
        rest::symbol_rules(body, self.venue, symbol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_binance_routing() {
        let s = vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()];
        let e = Endpoints::default();
        let url = |x: &Binance, kind| {
            let b = x.bases(&e).unwrap();
            x.stream_url(&b.ws, &b.routes, kind, &s)
        };
        assert_eq!(
            url(&FUTURES, StreamKind::Trades(DataKind::AggTrade)).unwrap(),
            "wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade"
        );
        assert_eq!(
            url(&FUTURES, StreamKind::Trades(DataKind::Trade)).unwrap(),
            "wss://fstream.binance.com/public/stream?streams=btcusdt@trade/ethusdt@trade"
        );
        assert_eq!(
            url(&FUTURES, StreamKind::Book).unwrap(),
            "wss://fstream.binance.com/public/stream?streams=btcusdt@bookTicker/ethusdt@bookTicker"
        );
        assert_eq!(
            url(&FUTURES, StreamKind::Mark).unwrap(),
            "wss://fstream.binance.com/market/stream?streams=btcusdt@markPrice@1s/ethusdt@markPrice@1s"
        );
        assert_eq!(
            url(&SPOT, StreamKind::Trades(DataKind::Trade)).unwrap(),
            "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/ethusdt@trade"
        );
        assert_eq!(
            url(&SPOT, StreamKind::Book).unwrap(),
            "wss://stream.binance.com:9443/stream?streams=btcusdt@bookTicker/ethusdt@bookTicker"
        );
        assert_eq!(url(&SPOT, StreamKind::Mark), None);
        for k in [
            StreamKind::Book,
            StreamKind::Mark,
            StreamKind::Trades(DataKind::AggTrade),
        ] {
            assert_eq!(Binance::kind_of(Binance::suffix(k)), Some(k));
        }
    }

    #[test]
    fn funding_history_is_futures_only_and_read_signed() {
        let r = FUTURES
            .funding_request("https://fapi.binance.com", "BTCUSDT", 1, 2)
            .unwrap();
        assert_eq!(r.url, "https://fapi.binance.com/fapi/v1/fundingRate");
        assert!(SPOT
            .funding_request("https://api.binance.com", "BTCUSDT", 1, 2)
            .is_none());
        let body = r#"[{"symbol":"BTCUSDT","fundingRate":"-0.03750000","fundingTime":1570608000000,"markPrice":"34287.54619963"},{"symbol":"BTCUSDT","fundingRate":"0.00010000","fundingTime":1570636800000}]"#;
        let f = FUTURES.parse_funding(body, "BTCUSDT").unwrap();
        assert_eq!(
            f.iter().map(|f| (f.ts, f.rate)).collect::<Vec<_>>(),
            [(1570608000000, -0.0375), (1570636800000, 0.0001)]
        );
        assert!(FUTURES.parse_funding(body, "ETHUSDT").is_err());
        assert!(FUTURES
            .parse_funding(r#"{"code":-1121}"#, "BTCUSDT")
            .is_err());
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
