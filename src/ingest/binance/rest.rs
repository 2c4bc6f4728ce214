//! REST backfill: fetch the trades a gap in ids says we missed.
//!
//! Raw `@trade` ids are served by `historicalTrades`, aggregate ids by
//! `aggTrades`; both page with `fromId` and `limit` (at most 1000). The rows
//! go through the pipeline's backfill path, so the store's key makes a
//! backfill that overlaps live data harmless.

use super::client::StreamKind;
use super::messages::{RestAggTrade, RestTrade};
use super::parse::parse_decimal;
use crate::domain::{Side, Tick, Venue};
use crate::ingest::backoff::{is_throttle, parse_retry_after};
use crate::ingest::pipeline::{GapRequest, Pipeline};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::mpsc;

pub const PAGE: i64 = 1000;

#[derive(Debug, Error)]
pub enum RestError {
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("exchange answered {status}: {body}")]
    Status {
        status: u16,
        body: String,
        /// The `Retry-After` of a 429/418.
        retry_after: Option<Duration>,
    },
    #[error("bad row: {0}")]
    Row(String),
}

/// Path of the endpoint that serves ids of `kind` on `venue`.
pub fn endpoint(venue: Venue, kind: StreamKind) -> &'static str {
    match (venue, kind) {
        (Venue::BinanceSpot, StreamKind::Trade) => "/api/v3/historicalTrades",
        (Venue::BinanceSpot, StreamKind::AggTrade) => "/api/v3/aggTrades",
        (_, StreamKind::Trade) => "/fapi/v1/historicalTrades",
        (_, StreamKind::AggTrade) => "/fapi/v1/aggTrades",
    }
}

/// Turn REST rows into ticks, keeping ids in `[from, to]` and dropping zero
/// trades as the live path does.
pub fn rows_to_ticks(
    body: &str,
    kind: StreamKind,
    venue: Venue,
    symbol: &str,
    from: i64,
    to: i64,
    now: i64,
) -> Result<(Vec<Tick>, Option<i64>), RestError> {
    let rows: Vec<(i64, String, String, i64, bool)> = match kind {
        StreamKind::Trade => serde_json::from_str::<Vec<RestTrade>>(body)
            .map_err(|e| RestError::Row(e.to_string()))?
            .into_iter()
            .map(|r| (r.id, r.price, r.qty, r.time, r.is_buyer_maker))
            .collect(),
        StreamKind::AggTrade => serde_json::from_str::<Vec<RestAggTrade>>(body)
            .map_err(|e| RestError::Row(e.to_string()))?
            .into_iter()
            .map(|r| (r.a, r.p, r.q, r.t, r.m))
            .collect(),
    };
    let last = rows.iter().map(|r| r.0).max();
    let mut out = Vec::with_capacity(rows.len());
    for (id, p, q, t, m) in rows {
        if id < from || id > to {
            continue;
        }
        let price = parse_decimal("price", &p).map_err(|e| RestError::Row(e.to_string()))?;
        let qty = parse_decimal("qty", &q).map_err(|e| RestError::Row(e.to_string()))?;
        if price == 0.0 || qty == 0.0 {
            continue;
        }
        out.push(Tick {
            venue,
            symbol: symbol.to_string(),
            trade_id: id,
            exchange_ts: t,
            receive_ts: now,
            price,
            qty,
            side: Side::from_buyer_is_maker(m),
        });
    }
    Ok((out, last))
}

/// How long to wait before retry `attempt` (1-based) after `e`: what the
/// exchange asked for on a 429/418 (a minute without a `Retry-After`, as a
/// ban is not lifted sooner), else 1 s, 2 s, 4 s.
pub fn retry_wait(e: &RestError, attempt: u32) -> Duration {
    let gentle = Duration::from_millis(500 * (1 << attempt.min(10)));
    match e {
        RestError::Status {
            status,
            retry_after,
            ..
        } if is_throttle(*status) => retry_after.unwrap_or(Duration::from_secs(60)),
        _ => gentle,
    }
}

/// Fetches gaps one after another (Binance weighs these requests heavily).
pub struct Backfiller {
    pub http: reqwest::Client,
    pub base: String,
    pub venue: Venue,
    pub kind: StreamKind,
    pub api_key: Option<String>,
}

impl Backfiller {
    pub fn new(base: String, venue: Venue, kind: StreamKind) -> Self {
        Backfiller {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                // Pages are fetched one at a time, so one idle connection is
                // all the pool needs; hyper may still open a second when the
                // first has not been handed back yet, and this closes it
                // instead of keeping it idle for 90 s.
                .pool_max_idle_per_host(1)
                .build()
                .unwrap_or_default(),
            base,
            venue,
            kind,
            api_key: None,
        }
    }

    async fn page(&self, symbol: &str, from: i64, limit: i64) -> Result<String, RestError> {
        let url = format!(
            "{}{}",
            self.base.trim_end_matches('/'),
            endpoint(self.venue, self.kind)
        );
        let mut req = self.http.get(url).query(&[
            ("symbol", symbol.to_string()),
            ("fromId", from.to_string()),
            ("limit", limit.to_string()),
        ]);
        if let Some(k) = &self.api_key {
            req = req.header("X-MBX-APIKEY", k);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = resp.text().await?;
        if !status.is_success() {
            return Err(RestError::Status {
                status: status.as_u16(),
                body: body.chars().take(200).collect(),
                retry_after,
            });
        }
        Ok(body)
    }

    /// Fill one gap; returns how many ticks were recovered.
    pub async fn fill(&self, gap: &GapRequest, pipeline: &Pipeline) -> Result<u64, RestError> {
        Ok(self.fill_range(gap, pipeline).await?.0)
    }

    /// Fill one gap; returns how many ticks were recovered and the highest
    /// id among them.
    async fn fill_range(
        &self,
        gap: &GapRequest,
        pipeline: &Pipeline,
    ) -> Result<(u64, Option<i64>), RestError> {
        let mut from = gap.from_id;
        let mut got = 0u64;
        let mut top = None;
        while from <= gap.to_id {
            let limit = gap.to_id.saturating_sub(from).saturating_add(1).min(PAGE);
            let mut attempt = 0;
            let body = loop {
                match self.page(&gap.symbol, from, limit).await {
                    Ok(b) => break b,
                    Err(e) if attempt < 3 => {
                        attempt += 1;
                        let wait = retry_wait(&e, attempt);
                        tracing::warn!(error = %e, ?wait, "backfill page failed; retrying");
                        tokio::time::sleep(wait).await;
                    }
                    Err(e) => return Err(e),
                }
            };
            let (ticks, last) = rows_to_ticks(
                &body,
                self.kind,
                self.venue,
                &gap.symbol,
                from,
                gap.to_id,
                crate::ingest::now_ms(),
            )?;
            got += ticks.len() as u64;
            if let Some(m) = ticks.iter().map(|t| t.trade_id).max() {
                top = top.max(Some(m));
            }
            pipeline.ingest_backfill(ticks).await;
            match last {
                // A short page is the end of what the exchange has now (a
                // catch-up ends there; a gap ends at its last id anyway).
                Some(l) if l >= from && (l - from + 1) >= limit => from = l + 1,
                Some(l) if l >= from && !gap.catch_up => from = l + 1,
                _ => break, // the exchange no longer has them, or no more yet
            }
        }
        Ok((got, top))
    }

    async fn catch_up(&self, gap: &GapRequest, pipeline: &Pipeline) {
        match self.fill_range(gap, pipeline).await {
            Ok((n, Some(top))) => {
                tracing::info!(symbol = %gap.symbol, from = gap.from_id, to = top, recovered = n, "caught up after reconnect");
                pipeline.advance_to(gap.venue, &gap.symbol, top);
                pipeline
                    .record_catch_up(gap.venue, &gap.symbol, gap.from_id, top)
                    .await;
            }
            Ok((_, None)) => {
                tracing::debug!(symbol = %gap.symbol, "nothing missed during the outage");
            }
            Err(e) => tracing::error!(symbol = %gap.symbol, error = %e, "catch-up failed"),
        }
    }

    /// Serve gap requests until the channel closes.
    pub async fn run(self, mut rx: mpsc::UnboundedReceiver<GapRequest>, pipeline: Arc<Pipeline>) {
        while let Some(gap) = rx.recv().await {
            if gap.catch_up {
                self.catch_up(&gap, &pipeline).await;
                continue;
            }
            let want = (gap.to_id - gap.from_id + 1) as u64;
            match self.fill(&gap, &pipeline).await {
                Ok(n) => {
                    let complete = n == want;
                    if complete {
                        pipeline.metrics.gaps_filled.fetch_add(1, Relaxed);
                    }
                    tracing::info!(symbol = %gap.symbol, from = gap.from_id, to = gap.to_id, recovered = n, complete, "gap backfilled");
                    pipeline.record_gap_filled(&gap, n, complete).await;
                }
                Err(e) => tracing::error!(symbol = %gap.symbol, error = %e, "gap backfill failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn historical_rows_are_clipped_to_the_gap() {
        let body = r#"[{"id":9,"price":"1.5","qty":"2","time":10,"isBuyerMaker":true},
                       {"id":10,"price":"1.6","qty":"1","time":11,"isBuyerMaker":false},
                       {"id":11,"price":"0","qty":"1","time":12,"isBuyerMaker":false},
                       {"id":13,"price":"1.7","qty":"1","time":13,"isBuyerMaker":false}]"#;
        let (t, last) = rows_to_ticks(
            body,
            StreamKind::Trade,
            Venue::BinanceSpot,
            "BTCUSDT",
            10,
            12,
            0,
        )
        .unwrap();
        assert_eq!(t.iter().map(|t| t.trade_id).collect::<Vec<_>>(), vec![10]);
        assert_eq!(last, Some(13));
    }

    #[test]
    fn agg_rows_parse() {
        let body = r#"[{"a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,"T":1498793709153,"m":true}]"#;
        let (t, _) = rows_to_ticks(
            body,
            StreamKind::AggTrade,
            Venue::BinanceFutures,
            "X",
            0,
            i64::MAX,
            0,
        )
        .unwrap();
        assert_eq!(
            (t[0].trade_id, t[0].price, t[0].side),
            (26129, 0.01633102, Side::Sell)
        );
    }

    #[test]
    fn endpoints_by_venue_and_kind() {
        assert_eq!(
            endpoint(Venue::BinanceFutures, StreamKind::AggTrade),
            "/fapi/v1/aggTrades"
        );
        assert_eq!(
            endpoint(Venue::BinanceSpot, StreamKind::Trade),
            "/api/v3/historicalTrades"
        );
    }

    #[test]
    fn throttling_is_waited_out_as_the_exchange_asks() {
        let throttled = |status, secs: Option<u64>| RestError::Status {
            status,
            body: String::new(),
            retry_after: secs.map(Duration::from_secs),
        };
        assert_eq!(
            retry_wait(&throttled(429, Some(3)), 1),
            Duration::from_secs(3)
        );
        assert_eq!(
            retry_wait(&throttled(418, None), 1),
            Duration::from_secs(60)
        );
        assert_eq!(
            retry_wait(&throttled(503, Some(3)), 2),
            Duration::from_secs(2)
        );
        assert_eq!(
            retry_wait(&RestError::Row("x".into()), 1),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(rows_to_ticks("{}", StreamKind::Trade, Venue::Sim, "X", 0, 1, 0).is_err());
    }
}
