//! REST backfill, for any venue: fetch the trades a gap in ids says we
//! missed, page by page, through the pipeline's backfill path (the store's
//! key makes a backfill that overlaps live data harmless).
//!
//! Which URL to ask and how to read the rows is the venue's
//! ([`Exchange::backfill_request`], [`Exchange::parse_backfill`]); retries,
//! `Retry-After` and paging are here.

use crate::ingest::backoff::{is_throttle, parse_retry_after};
use crate::ingest::event::DataKind;
use crate::ingest::pipeline::{GapRequest, Pipeline};
use crate::ingest::venues::{BackfillPage, BadRows, Exchange, RestRequest};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

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

impl From<BadRows> for RestError {
    fn from(BadRows(why): BadRows) -> Self {
        RestError::Row(why)
    }
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

/// GET a venue's REST request (with the API key, where the venue takes
/// one and it is set): the body of a 2xx, else the status, the start of
/// the body and the `Retry-After` of a 429/418.
pub async fn get(
    http: &reqwest::Client,
    r: &RestRequest,
    api_key: Option<&str>,
) -> Result<String, RestError> {
    let mut req = http.get(&r.url).query(&r.query);
    if let (Some(k), Some(header)) = (api_key, r.api_key_header) {
        req = req.header(header, k);
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

/// [`get`], retried up to three times on errors and throttling, waiting as
/// [`retry_wait`] says (a 429/418 for its whole `Retry-After`).
pub async fn get_retried(
    http: &reqwest::Client,
    r: &RestRequest,
    api_key: Option<&str>,
) -> Result<String, RestError> {
    let mut attempt = 0;
    loop {
        match get(http, r, api_key).await {
            Ok(body) => return Ok(body),
            Err(e) if attempt < 3 => {
                attempt += 1;
                let wait = retry_wait(&e, attempt);
                tracing::warn!(url = %r.url, error = %e, ?wait, "REST request failed; retrying");
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Fetches gaps one after another (exchanges weigh these requests heavily).
pub struct Backfiller {
    pub http: reqwest::Client,
    pub base: String,
    pub exchange: &'static dyn Exchange,
    pub kind: DataKind,
    pub api_key: Option<String>,
}

impl Backfiller {
    pub fn new(base: String, exchange: &'static dyn Exchange, kind: DataKind) -> Self {
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
            exchange,
            kind,
            api_key: None,
        }
    }

    async fn page(&self, symbol: &str, from: i64, limit: i64) -> Result<String, RestError> {
        let r = self
            .exchange
            .backfill_request(&self.base, self.kind, symbol, from, limit);
        get_retried(&self.http, &r, self.api_key.as_deref()).await
    }

    /// Fill one gap; returns how many ticks were recovered. History on
    /// start is fetched newest first, so the bars next to the live stream
    /// (what the page's windows need) are stored in the first seconds.
    pub async fn fill(&self, gap: &GapRequest, pipeline: &Pipeline) -> Result<u64, RestError> {
        if gap.history {
            return self.fill_newest_first(gap, pipeline).await;
        }
        Ok(self.fill_range(gap, pipeline).await?.0)
    }

    /// One page of up to `limit` ids from `from`, kept within `[from, to]`.
    async fn fetch(
        &self,
        symbol: &str,
        from: i64,
        to: i64,
        limit: i64,
    ) -> Result<BackfillPage, RestError> {
        let body = self.page(symbol, from, limit).await?;
        Ok(self.exchange.parse_backfill(
            &body,
            self.kind,
            symbol,
            from,
            to,
            crate::ingest::now_ms(),
        )?)
    }

    /// Fill one gap forward; returns how many ticks were recovered and the
    /// highest id among them.
    async fn fill_range(
        &self,
        gap: &GapRequest,
        pipeline: &Pipeline,
    ) -> Result<(u64, Option<i64>), RestError> {
        let mut from = gap.from_id;
        let mut got = 0u64;
        let mut top = None;
        while from <= gap.to_id {
            let limit = gap
                .to_id
                .saturating_sub(from)
                .saturating_add(1)
                .min(self.exchange.backfill_page_limit());
            let BackfillPage {
                ticks,
                last_id: last,
            } = self
                .fetch(&gap.instrument.symbol, from, gap.to_id, limit)
                .await?;
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

    /// Fill a bounded gap page by page from its top id down (ids are
    /// consecutive where gaps are tracked, so each page's range is known
    /// before it is asked for). Stops at a page the exchange no longer has:
    /// anything older is gone too.
    async fn fill_newest_first(
        &self,
        gap: &GapRequest,
        pipeline: &Pipeline,
    ) -> Result<u64, RestError> {
        let mut got = 0u64;
        for (lo, hi) in
            pages_newest_first(gap.from_id, gap.to_id, self.exchange.backfill_page_limit())
        {
            let page = self
                .fetch(&gap.instrument.symbol, lo, hi, hi - lo + 1)
                .await?;
            if page.ticks.is_empty() && page.last_id.is_none() {
                tracing::info!(instrument = %gap.instrument, below = hi, "the exchange has no older trades");
                break;
            }
            got += page.ticks.len() as u64;
            pipeline.history_loaded(&page.ticks);
            pipeline.ingest_backfill(page.ticks).await;
        }
        Ok(got)
    }

    async fn catch_up(&self, gap: &GapRequest, pipeline: &Pipeline) {
        match self.fill_range(gap, pipeline).await {
            Ok((n, Some(top))) => {
                tracing::info!(instrument = %gap.instrument, from = gap.from_id, to = top, recovered = n, "caught up after reconnect");
                pipeline.advance_to(&gap.instrument, top);
                pipeline
                    .record_catch_up(&gap.instrument, gap.from_id, top)
                    .await;
            }
            Ok((_, None)) => {
                tracing::debug!(instrument = %gap.instrument, "nothing missed during the outage");
            }
            Err(e) => tracing::error!(instrument = %gap.instrument, error = %e, "catch-up failed"),
        }
    }

    /// Serve gap requests until the channel closes.
    /// Fill gaps from `rx` one after another until `shutdown`; a fill in
    /// flight is abandoned then (the gap stays recorded as unfilled).
    pub async fn run(
        self,
        mut rx: mpsc::UnboundedReceiver<GapRequest>,
        pipeline: Arc<Pipeline>,
        shutdown: CancellationToken,
    ) {
        loop {
            let gap = tokio::select! {
                g = rx.recv() => match g {
                    Some(g) => g,
                    None => return,
                },
                _ = shutdown.cancelled() => return,
            };
            tokio::select! {
                _ = self.handle(&gap, &pipeline) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    async fn handle(&self, gap: &GapRequest, pipeline: &Arc<Pipeline>) {
        if gap.catch_up {
            self.catch_up(gap, pipeline).await;
            return;
        }
        let want = (gap.to_id - gap.from_id + 1) as u64;
        match self.fill(gap, pipeline).await {
            Ok(n) => {
                let complete = n == want;
                if complete && !gap.history {
                    pipeline.metrics.gaps_filled.fetch_add(1, Relaxed);
                }
                tracing::info!(instrument = %gap.instrument, from = gap.from_id, to = gap.to_id, recovered = n, complete, "gap backfilled");
                pipeline.record_gap_filled(gap, n, complete).await;
            }
            Err(e) => {
                tracing::error!(instrument = %gap.instrument, error = %e, "gap backfill failed");
                if gap.history {
                    pipeline.history_done(&gap.instrument.symbol);
                }
            }
        }
    }
}

/// The pages of ids `[from, to]`, at most `limit` each, newest first.
pub fn pages_newest_first(from: i64, to: i64, limit: i64) -> Vec<(i64, i64)> {
    let limit = limit.max(1);
    let mut out = Vec::new();
    let mut hi = to;
    while hi >= from {
        let lo = hi.saturating_sub(limit - 1).max(from);
        out.push((lo, hi));
        hi = lo - 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_pages_go_down_from_the_live_stream() {
        assert_eq!(
            pages_newest_first(1, 2500, 1000),
            vec![(1501, 2500), (501, 1500), (1, 500)]
        );
        assert_eq!(pages_newest_first(7, 7, 1000), vec![(7, 7)]);
        assert!(pages_newest_first(8, 7, 1000).is_empty());
        // Every id once, none outside.
        let p = pages_newest_first(10, 12_345, 999);
        let mut ids: Vec<i64> = p.iter().flat_map(|&(a, b)| a..=b).collect();
        ids.sort();
        assert_eq!(ids, (10..=12_345).collect::<Vec<_>>());
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
}
