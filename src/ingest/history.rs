//! History on start: when `serve` starts, fill in the ticks missing from
//! the configured lookback for every configured symbol, so the page opens
//! with charts full of history instead of a window still filling.
//!
//! Where each symbol starts is decided by [`plan`] (pure): a symbol whose
//! last stored tick lies inside the lookback resumes after it (a later
//! start only fills the gap since), any other starts at the lookback's
//! beginning. What fills it:
//! - a live venue: its REST history through the same backfiller and gap
//!   logic as an outage ([`start_live`]). The start id of a fresh symbol
//!   comes from the venue's history by time (Binance: one `aggTrades`
//!   request by `startTime`); the first live trade then shows the span up
//!   to itself as a gap marked `history`, which the backfiller pages
//!   through by id, so every trade is stored once whatever arrives first.
//! - the simulated market: it generates the lookback from the same model
//!   and seed as its live stream, continuing each symbol's ids and price
//!   from its last stored tick ([`sim_resume`], [`feed_sim`]).
//!
//! Progress goes to the pipeline's history status (status bar, /api).

use crate::domain::{Instrument, Tick, Venue};
use crate::ingest::backfill::RestError;
use crate::ingest::event::DataKind;
use crate::ingest::pipeline::Pipeline;
use crate::ingest::venues::sim::SimResume;
use crate::ingest::venues::Exchange;
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Where one symbol's history on start begins.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// After its last stored tick, which lies inside the lookback.
    Resume(Tick),
    /// At the start of the lookback (nothing stored, or only older ticks).
    Fresh,
}

/// Decide where a symbol's history begins, given its last stored tick and
/// the lookback's start.
pub fn plan(last: Option<Tick>, from_ms: i64) -> Start {
    match last {
        Some(t) if t.exchange_ts >= from_ms => Start::Resume(t),
        _ => Start::Fresh,
    }
}

/// Each symbol's last stored tick.
pub fn last_ticks(
    store: &dyn Store,
    venue: Venue,
    symbols: &[String],
) -> Result<Vec<(String, Option<Tick>)>, StoreError> {
    symbols
        .iter()
        .map(|s| Ok((s.clone(), store.last_tick(venue, s)?)))
        .collect()
}

/// What the simulated market continues from: every symbol with a stored
/// tick keeps counting its ids and starts from its last price (so even a
/// history older than the lookback never reuses an id); it trades from
/// its last tick's time or the lookback's start, whichever is later.
pub fn sim_resume(last: &[(String, Option<Tick>)]) -> Vec<SimResume> {
    last.iter()
        .filter_map(|(s, t)| {
            t.as_ref().map(|t| SimResume {
                symbol: s.clone(),
                last_id: t.trade_id,
                last_price: t.price,
                last_ts: t.exchange_ts,
            })
        })
        .collect()
}

/// Most trades the simulated market generates as history on start: a week
/// at a hundred times the default pace over 200 symbols would be billions
/// of ticks, so a lookback that large is shortened (and logged) instead.
pub const SIM_HISTORY_MAX: f64 = 50_000_000.0;

/// Where the simulated market's history starts for a lookback from
/// `from_ms`, at `rate` trades per second in all: no earlier than
/// [`SIM_HISTORY_MAX`] trades before `now`.
pub fn sim_history_from(from_ms: i64, now: i64, rate: f64) -> i64 {
    if !(rate.is_finite() && rate > 0.0) {
        return from_ms;
    }
    let longest_ms = (SIM_HISTORY_MAX / rate * 1000.0).min(i64::MAX as f64 / 2.0) as i64;
    from_ms.max(now - longest_ms)
}

/// Hand the simulated market's history (chunks in time order) to the
/// store, then tell the pipeline where each symbol's history ended, so the
/// first live trade is checked against it like any other.
pub async fn feed_sim(mut chunks: mpsc::Receiver<Vec<Tick>>, pipeline: Arc<Pipeline>) {
    let mut last: HashMap<Instrument, i64> = HashMap::new();
    while let Some(chunk) = chunks.recv().await {
        for t in &chunk {
            let e = last.entry(t.instrument()).or_insert(t.trade_id);
            *e = (*e).max(t.trade_id);
        }
        pipeline.history_loaded(&chunk);
        pipeline.ingest_backfill(chunk).await;
    }
    for (instrument, id) in last {
        pipeline.history_from(&instrument, id + 1).await;
    }
    // Handed over: every symbol is done, those the market had nothing for too.
    if let Some(h) = pipeline.snapshot(0).history {
        for s in h.pending {
            pipeline.history_done(&s);
        }
    }
}

/// A live venue's history: resume each symbol after its last stored tick,
/// or look up the id at the lookback's start. Requests go one at a time
/// (the venue weighs them); a symbol whose start cannot be found starts
/// with the live stream, logged.
pub async fn start_live(
    http: &reqwest::Client,
    rest_base: &str,
    exchange: &'static dyn Exchange,
    kind: DataKind,
    last: Vec<(String, Option<Tick>)>,
    from_ms: i64,
    pipeline: &Pipeline,
) {
    let venue = exchange.venue();
    for (symbol, last) in last {
        let instrument = Instrument::new(venue, &symbol);
        let first = match plan(last, from_ms) {
            Start::Resume(t) => Some(t.trade_id + 1),
            Start::Fresh => {
                match first_id_at(http, rest_base, exchange, kind, &symbol, from_ms).await {
                    Ok(Some(id)) => Some(id),
                    Ok(None) => {
                        tracing::info!(%instrument, "history on start: no trade in the first hour of the lookback; starting live");
                        None
                    }
                    Err(e) => {
                        tracing::warn!(%instrument, error = %e, "history on start: cannot find where the lookback starts; starting live");
                        None
                    }
                }
            }
        };
        match first {
            Some(id) => pipeline.history_from(&instrument, id).await,
            None => pipeline.history_done(&symbol),
        }
    }
}

/// The venue's first id of `kind` at or after `from_ms`, the request
/// retried like a backfill page.
async fn first_id_at(
    http: &reqwest::Client,
    rest_base: &str,
    exchange: &'static dyn Exchange,
    kind: DataKind,
    symbol: &str,
    from_ms: i64,
) -> Result<Option<i64>, RestError> {
    let Some(r) = exchange.history_start_request(rest_base, kind, symbol, from_ms) else {
        return Ok(None);
    };
    let body = crate::ingest::backfill::get_retried(http, &r, None).await?;
    Ok(exchange.parse_history_start(&body, kind)?)
}

/// Settled funding of each symbol over the last `days` days, from the
/// venue's REST history into the store (a venue without funding, spot,
/// asks nothing). The pair view reads the funding interval from it, and
/// the backtest the rates it would have paid.
pub async fn fetch_funding(
    http: &reqwest::Client,
    rest_base: &str,
    exchange: &'static dyn crate::ingest::venues::Exchange,
    symbols: &[String],
    days: i64,
    pipeline: &Pipeline,
) {
    let now = crate::ingest::now_ms();
    for sym in symbols {
        let Some(req) = exchange.funding_request(rest_base, sym, now - days * 86_400_000, now)
        else {
            return;
        };
        let rows = match crate::ingest::backfill::get_retried(http, &req, None).await {
            Ok(body) => exchange.parse_funding(&body, sym),
            Err(e) => {
                tracing::warn!(symbol = %sym, error = %e, "funding history not fetched");
                continue;
            }
        };
        match rows {
            Ok(rows) => {
                tracing::info!(symbol = %sym, settlements = rows.len(), "funding history fetched");
                pipeline.ingest_funding(rows).await;
            }
            Err(e) => tracing::warn!(symbol = %sym, error = %e, "funding history unreadable"),
        }
    }
}

/// The venue's trading rules of each symbol (lot and price steps, from its
/// listing answer, `exchangeInfo` on Binance) into the store: the backtest
/// and paper trading round quantities to the lot step. A symbol whose
/// answer is unreadable or unreachable keeps the rules stored before.
pub async fn fetch_rules(
    http: &reqwest::Client,
    rest_base: &str,
    exchange: &'static dyn crate::ingest::venues::Exchange,
    symbols: &[String],
    pipeline: &Pipeline,
) {
    let mut rows = Vec::new();
    for sym in symbols {
        let req = exchange.listing_request(rest_base, sym);
        let rules = match crate::ingest::backfill::get_retried(http, &req, None).await {
            Ok(body) => exchange.parse_rules(&body, sym),
            Err(e) => {
                tracing::warn!(symbol = %sym, error = %e, "trading rules not fetched");
                continue;
            }
        };
        match rules {
            Ok(Some(r)) => {
                tracing::info!(symbol = %sym, qty_step = r.qty_step, tick = r.tick_size, "trading rules fetched");
                rows.push(r);
            }
            Ok(None) => tracing::warn!(symbol = %sym, "the venue states no trading rules"),
            Err(e) => tracing::warn!(symbol = %sym, error = %e, "trading rules unreadable"),
        }
    }
    pipeline.ingest_rules(rows).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Side;

    fn tick(id: i64, ts: i64) -> Tick {
        Tick {
            venue: Venue::Sim,
            symbol: "BTCUSDT".into(),
            trade_id: id,
            exchange_ts: ts,
            receive_ts: ts,
            price: 100.0,
            qty: 1.0,
            side: Side::Buy,
        }
    }

    #[test]
    fn an_absurd_simulated_history_is_shortened() {
        let day = 86_400_000;
        // 6 h at 55 trades/s: 1.2M trades, kept.
        assert_eq!(sim_history_from(-6 * 3_600_000, 0, 55.0), -6 * 3_600_000);
        // 7 d at 5,500 trades/s would be 3.3 billion: 50M trades' worth.
        let from = sim_history_from(-7 * day, 0, 5_500.0);
        assert_eq!(from, -(50_000_000.0f64 / 5_500.0 * 1000.0) as i64);
        assert_eq!(sim_history_from(-day, 0, 0.0), -day);
    }

    #[test]
    fn a_stored_tick_inside_the_lookback_is_resumed_from() {
        assert_eq!(plan(None, 1_000), Start::Fresh);
        assert_eq!(plan(Some(tick(7, 999)), 1_000), Start::Fresh);
        assert_eq!(
            plan(Some(tick(7, 1_000)), 1_000),
            Start::Resume(tick(7, 1_000))
        );
        let r = sim_resume(&[
            ("BTCUSDT".into(), Some(tick(7, 5_000))),
            ("ETHUSDT".into(), None),
        ]);
        assert_eq!(
            r,
            vec![SimResume {
                symbol: "BTCUSDT".into(),
                last_id: 7,
                last_price: 100.0,
                last_ts: 5_000
            }]
        );
    }
}
