//! The live symbol set of a socket source, and adding a symbol to it while
//! running.
//!
//! Adding validates the name (a bare symbol, or `venue:SYMBOL` naming this
//! source's venue), asks the exchange whether it lists the symbol (the
//! venue's listing request, `exchangeInfo` on Binance, which silently
//! accepts a stream for a symbol that does not exist and then sends
//! nothing), and publishes the new stream URL. The client opens a
//! connection with it before closing the old one, the same make-before-break
//! as a server-announced shutdown, so the symbols already streaming lose
//! nothing.

use crate::domain::{Instrument, InstrumentError, Venue};
use crate::ingest::event::StreamKind;
use crate::ingest::venues::{Exchange, Routes};
use std::time::Duration;
use tokio::sync::{watch, Mutex};

/// Binance allows 1024 streams per connection (other venues fewer); a desk watching more than
/// this many symbols at once wants a second source, not a longer URL.
pub const MAX_SYMBOLS: usize = 200;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SubscribeError {
    #[error("{0}")]
    Invalid(String),
    #[error("{symbol} is not listed on {venue}")]
    Unknown { symbol: String, venue: Venue },
    #[error("cannot check {symbol} with {venue}: {reason}")]
    Unreachable {
        symbol: String,
        venue: Venue,
        reason: String,
    },
    #[error("already streaming {MAX_SYMBOLS} symbols, the most one connection carries here")]
    TooMany,
}

/// What an add did.
#[derive(Debug, Clone, PartialEq)]
pub struct Added {
    pub symbol: String,
    /// False when the symbol was already streaming.
    pub new: bool,
    /// The whole live set afterwards.
    pub symbols: Vec<String>,
}

pub struct Subscriptions {
    exchange: &'static dyn Exchange,
    ws_base: String,
    routes: Routes,
    rest_base: String,
    http: reqwest::Client,
    /// A tokio mutex: adds are serialized across the exchange check.
    symbols: Mutex<Vec<String>>,
    /// One stream URL per kind (trades, book, mark), each its own connection.
    urls: Vec<(StreamKind, watch::Sender<String>)>,
}

impl Subscriptions {
    /// The set starts as `symbols`; each receiver carries the URL the
    /// client of that stream kind should be connected to. Kinds the venue
    /// does not stream are left out.
    pub fn new(
        ws_base: String,
        rest_base: String,
        routes: Routes,
        exchange: &'static dyn Exchange,
        kinds: &[StreamKind],
        symbols: Vec<String>,
    ) -> (Subscriptions, Vec<(StreamKind, watch::Receiver<String>)>) {
        let mut urls = Vec::new();
        let mut rxs = Vec::new();
        for &k in kinds {
            if let Some(u) = exchange.stream_url(&ws_base, &routes, k, &symbols) {
                let (tx, rx) = watch::channel(u);
                urls.push((k, tx));
                rxs.push((k, rx));
            }
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let subs = Subscriptions {
            exchange,
            ws_base,
            routes,
            rest_base,
            http,
            symbols: Mutex::new(symbols),
            urls,
        };
        (subs, rxs)
    }

    pub async fn symbols(&self) -> Vec<String> {
        self.symbols.lock().await.clone()
    }

    /// The venue this set streams from.
    pub fn venue(&self) -> Venue {
        self.exchange.venue()
    }

    /// Add `raw` (any case; bare, or qualified with this source's venue)
    /// to the live set.
    pub async fn add(&self, raw: &str) -> Result<Added, SubscribeError> {
        let venue = self.venue();
        let instrument = Instrument::parse_or(raw, venue).map_err(|e| match e {
            InstrumentError::Symbol(why) => SubscribeError::Invalid(why),
            e @ InstrumentError::UnknownVenue(_) => SubscribeError::Invalid(e.to_string()),
        })?;
        if instrument.venue != venue {
            return Err(SubscribeError::Invalid(format!(
                "{instrument} is not on this source's venue ({venue})"
            )));
        }
        let symbol = instrument.symbol;
        let mut set = self.symbols.lock().await;
        if set.contains(&symbol) {
            return Ok(Added {
                symbol,
                new: false,
                symbols: set.clone(),
            });
        }
        if set.len() >= MAX_SYMBOLS {
            return Err(SubscribeError::TooMany);
        }
        self.check_listed(&symbol).await?;
        set.push(symbol.clone());
        tracing::info!(%symbol, streaming = set.len(), "symbol added to the live subscription");
        for (kind, tx) in &self.urls {
            if let Some(url) = self
                .exchange
                .stream_url(&self.ws_base, &self.routes, *kind, &set)
            {
                // No receiver only means the source already stopped.
                let _ = tx.send(url);
            }
        }
        Ok(Added {
            symbol,
            new: true,
            symbols: set.clone(),
        })
    }

    async fn check_listed(&self, symbol: &str) -> Result<(), SubscribeError> {
        let req = self.exchange.listing_request(&self.rest_base, symbol);
        let unreachable = |reason: String| SubscribeError::Unreachable {
            symbol: symbol.to_string(),
            venue: self.venue(),
            reason,
        };
        let resp = self
            .http
            .get(req.url)
            .query(&req.query)
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| unreachable(e.to_string()))?;
        match self.exchange.listed(status.as_u16(), &body, symbol) {
            Some(true) => Ok(()),
            Some(false) => Err(SubscribeError::Unknown {
                symbol: symbol.to_string(),
                venue: self.venue(),
            }),
            None => Err(unreachable(format!(
                "HTTP {status}: {}",
                body.chars().take(120).collect::<String>()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::venues::sim::SIM;

    #[tokio::test]
    async fn a_qualified_symbol_must_name_this_venue() {
        // Refused before any request: the REST base is never contacted.
        let (subs, _rx) = Subscriptions::new(
            "ws://127.0.0.1:9".into(),
            "http://127.0.0.1:9".into(),
            Routes::default(),
            &SIM,
            &[StreamKind::Trades(crate::ingest::event::DataKind::Trade)],
            vec!["BTCUSDT".into(), "ETHUSDT".into()],
        );
        for raw in ["binance-spot:SOLUSDT", "kraken:SOLUSDT", "sim:SOL/USDT"] {
            assert!(
                matches!(subs.add(raw).await, Err(SubscribeError::Invalid(_))),
                "{raw}"
            );
        }
        // Already streaming, bare or qualified: no listing check needed.
        for raw in ["btcusdt", "sim:ETHUSDT"] {
            let a = subs.add(raw).await.unwrap();
            assert!(!a.new, "{raw}");
        }
        assert_eq!(subs.symbols().await, ["BTCUSDT", "ETHUSDT"]);
    }
}
