//! The simulated market as a venue (`sim`): a cointegrated market
//! ([`market`]) behind a loopback mock exchange ([`exchange`]) that speaks
//! Binance's USD-M wire format, faults included. Its adapter is Binance's
//! wire under the `sim` id; its bases are only known once the mock
//! exchange is listening.

pub mod exchange;
pub mod market;

pub use exchange::{Bursts, Faults, MockConfig, MockExchange, SimResume};
pub use market::{SimMarket, SimSpec};

use super::binance::{Binance, Market};
use super::{Adapter, BackfillPage, BadRows, Bases, Exchange, GapPolicy, RestRequest, Routes};
use crate::domain::{Funding, SymbolRules, Venue};
use crate::ingest::event::{DataKind, Frame, ParseError, StreamKind};
use crate::ingest::venues::Endpoints;

/// The `sim` venue: the mock exchange's wire is Binance futures'.
#[derive(Debug)]
pub struct Sim {
    wire: Binance,
}

pub static SIM: Sim = Sim {
    wire: Binance {
        venue: Venue::Sim,
        market: Market::UsdmFutures,
    },
};

impl Adapter for Sim {
    fn venue(&self) -> Venue {
        Venue::Sim
    }

    /// The market numbers each symbol's trades 1, 2, 3, ... like Binance.
    fn gap_policy(&self) -> GapPolicy {
        GapPolicy::ConsecutiveIds
    }

    fn parse_frame(&self, text: &str, receive_ts: i64) -> Result<Frame, ParseError> {
        self.wire.parse_frame(text, receive_ts)
    }

    fn exchange(&self) -> Option<&dyn Exchange> {
        Some(self)
    }
}

impl Exchange for Sim {
    /// Known only once the mock exchange listens ([`MockExchange::ws_base`]).
    fn bases(&self, _: &Endpoints) -> Option<Bases> {
        None
    }

    fn stream_url(
        &self,
        ws_base: &str,
        routes: &Routes,
        kind: StreamKind,
        symbols: &[String],
    ) -> Option<String> {
        self.wire.stream_url(ws_base, routes, kind, symbols)
    }

    fn subscribe_message(&self, kind: StreamKind, symbols: &[String], id: u64) -> Option<String> {
        self.wire.subscribe_message(kind, symbols, id)
    }

    fn listing_request(&self, rest_base: &str, symbol: &str) -> RestRequest {
        self.wire.listing_request(rest_base, symbol)
    }

    fn listed(&self, status: u16, body: &str, symbol: &str) -> Option<bool> {
        self.wire.listed(status, body, symbol)
    }

    fn backfill_page_limit(&self) -> i64 {
        self.wire.backfill_page_limit()
    }

    fn backfill_request(
        &self,
        rest_base: &str,
        kind: DataKind,
        symbol: &str,
        from_id: i64,
        limit: i64,
    ) -> RestRequest {
        self.wire
            .backfill_request(rest_base, kind, symbol, from_id, limit)
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
        self.wire.parse_backfill(body, kind, symbol, from, to, now)
    }

    fn history_start_request(
        &self,
        rest_base: &str,
        kind: DataKind,
        symbol: &str,
        from_ms: i64,
    ) -> Option<RestRequest> {
        self.wire
            .history_start_request(rest_base, kind, symbol, from_ms)
    }

    fn parse_history_start(&self, body: &str, kind: DataKind) -> Result<Option<i64>, BadRows> {
        self.wire.parse_history_start(body, kind)
    }

    fn funding_request(
        &self,
        rest_base: &str,
        symbol: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Option<RestRequest> {
        self.wire.funding_request(rest_base, symbol, from_ms, to_ms)
    }

    fn parse_funding(&self, body: &str, symbol: &str) -> Result<Vec<Funding>, BadRows> {
        self.wire.parse_funding(body, symbol)
    }

    fn parse_rules(&self, body: &str, symbol: &str) -> Result<Option<SymbolRules>, BadRows> {
        // Binance's wire, stamped with the simulated venue.
        Ok(self.wire.parse_rules(body, symbol)?.map(|r| SymbolRules {
            venue: Venue::Sim,
            ..r
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_streams_and_backfills_like_binance_under_its_own_id() {
        let s = ["BTCUSDT".to_string()];
        // The mock serves the futures tiers like Binance.
        assert_eq!(
            SIM.stream_url(
                "ws://127.0.0.1:9",
                &Routes::default(),
                StreamKind::Trades(DataKind::AggTrade),
                &s
            )
            .unwrap(),
            "ws://127.0.0.1:9/market/stream?streams=btcusdt@aggTrade"
        );
        assert_eq!(
            SIM.backfill_request("http://127.0.0.1:9", DataKind::Trade, "BTCUSDT", 1, 5)
                .url,
            "http://127.0.0.1:9/fapi/v1/historicalTrades"
        );
        let f = r#"{"e":"trade","E":1,"T":1,"s":"BTCUSDT","t":3,"p":"1","q":"1","m":true}"#;
        match SIM.parse_frame(f, 0).unwrap() {
            Frame::Tick(t) => assert_eq!(t.venue, Venue::Sim),
            other => panic!("{other:?}"),
        }
    }
}
