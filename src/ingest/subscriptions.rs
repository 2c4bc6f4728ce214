//! The live symbol set of a socket source, and adding a symbol to it while
//! running.
//!
//! Adding validates the name, asks the exchange whether it lists the symbol
//! (REST `exchangeInfo`, because Binance silently accepts a stream for a
//! symbol that does not exist and then sends nothing), and publishes the new
//! combined-stream URL. The client opens a connection with it before closing
//! the old one, the same make-before-break as a `serverShutdown` handover, so
//! the symbols already streaming lose nothing.

use crate::domain::{validate_symbol, Venue};
use crate::ingest::binance::client::{stream_url, StreamKind};
use std::time::Duration;
use tokio::sync::{watch, Mutex};

/// Binance allows 1024 streams per connection; a desk watching more than
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
    venue: Venue,
    kind: StreamKind,
    ws_base: String,
    rest_base: String,
    http: reqwest::Client,
    /// A tokio mutex: adds are serialized across the exchange check.
    symbols: Mutex<Vec<String>>,
    url: watch::Sender<String>,
}

impl Subscriptions {
    /// The set starts as `symbols`; the receiver carries the stream URL the
    /// client should be connected to.
    pub fn new(
        ws_base: String,
        rest_base: String,
        venue: Venue,
        kind: StreamKind,
        symbols: Vec<String>,
    ) -> (Subscriptions, watch::Receiver<String>) {
        let (url, rx) = watch::channel(stream_url(&ws_base, venue, kind, &symbols));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        let subs = Subscriptions {
            venue,
            kind,
            ws_base,
            rest_base,
            http,
            symbols: Mutex::new(symbols),
            url,
        };
        (subs, rx)
    }

    pub async fn symbols(&self) -> Vec<String> {
        self.symbols.lock().await.clone()
    }

    /// Add `raw` (any case) to the live set.
    pub async fn add(&self, raw: &str) -> Result<Added, SubscribeError> {
        let symbol = validate_symbol(raw).map_err(SubscribeError::Invalid)?;
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
        let url = stream_url(&self.ws_base, self.venue, self.kind, &set);
        tracing::info!(%symbol, streaming = set.len(), "symbol added to the live subscription");
        // No receiver only means the source already stopped.
        let _ = self.url.send(url);
        Ok(Added {
            symbol,
            new: true,
            symbols: set.clone(),
        })
    }

    async fn check_listed(&self, symbol: &str) -> Result<(), SubscribeError> {
        let path = match self.venue {
            Venue::BinanceSpot => "/api/v3/exchangeInfo",
            _ => "/fapi/v1/exchangeInfo",
        };
        let url = format!("{}{}", self.rest_base.trim_end_matches('/'), path);
        let unreachable = |reason: String| SubscribeError::Unreachable {
            symbol: symbol.to_string(),
            venue: self.venue,
            reason,
        };
        let resp = self
            .http
            .get(url)
            .query(&[("symbol", symbol)])
            .send()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| unreachable(e.to_string()))?;
        match listed(status.as_u16(), &body, symbol) {
            Some(true) => Ok(()),
            Some(false) => Err(SubscribeError::Unknown {
                symbol: symbol.to_string(),
                venue: self.venue,
            }),
            None => Err(unreachable(format!(
                "HTTP {status}: {}",
                body.chars().take(120).collect::<String>()
            ))),
        }
    }
}

/// Reads an `exchangeInfo?symbol=` answer: `Some(true)` listed, `Some(false)`
/// unknown (Binance's 400 with code -1121, or a list without it), `None` when
/// the answer says neither (rate limits, outages).
pub fn listed(status: u16, body: &str, symbol: &str) -> Option<bool> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    if status == 400 {
        return (v["code"].as_i64() == Some(-1121)).then_some(false);
    }
    if !(200..300).contains(&status) {
        return None;
    }
    let symbols = v["symbols"].as_array()?;
    Some(symbols.iter().any(|s| s["symbol"].as_str() == Some(symbol)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_info_answers_are_read() {
        let ok = r#"{"timezone":"UTC","symbols":[{"symbol":"SOLUSDT","status":"TRADING"}]}"#;
        assert_eq!(listed(200, ok, "SOLUSDT"), Some(true));
        assert_eq!(listed(200, ok, "ADAUSDT"), Some(false));
        let invalid = r#"{"code":-1121,"msg":"Invalid symbol."}"#;
        assert_eq!(listed(400, invalid, "FOO"), Some(false));
        // Rate limited or broken: not an answer about the symbol.
        assert_eq!(
            listed(429, r#"{"code":-1003,"msg":"Too many requests"}"#, "X"),
            None
        );
        assert_eq!(
            listed(400, r#"{"code":-1100,"msg":"Illegal characters"}"#, "X"),
            None
        );
        assert_eq!(listed(200, "<html>", "X"), None);
    }
}
