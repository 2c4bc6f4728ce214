//! The one path every tick takes after parsing: de-duplication, gap
//! detection, counting, then fan-out to the writer and to live subscribers.
//!
//! De-duplication is two-layered: here, by the last trade id seen per
//! (venue, symbol), which drops reconnect overlaps before they cost a write;
//! and in the store, by the (symbol, trade id) key, which makes replays and
//! backfills idempotent. What a jump in ids means is the venue's
//! [`GapPolicy`]: where ids are consecutive (Binance) a jump is a gap,
//! recorded and announced for backfill; where they are not, it is not.

use super::conflate::{ConflateConfig, Conflator};
use super::event::{DropReason, StreamKind};
use super::sanity::{Refusal, TickLimits};
use super::venues::{self, GapPolicy};
use crate::domain::{
    HistoryStatus, Instrument, MarkPrice, Quote, StatusSnapshot, StreamStatus, SymbolStatus, Tick,
    Venue,
};
use crate::store::writer::{GapRecord, WriteCmd};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Counters for metrics and the status bar.
#[derive(Debug, Default)]
pub struct IngestMetrics {
    pub received: AtomicU64,
    pub accepted: AtomicU64,
    pub duplicates: AtomicU64,
    pub malformed: AtomicU64,
    pub dropped: [AtomicU64; DropReason::ALL.len()],
    /// Ticks refused by the plausibility limits, by [`Refusal`] index.
    pub refused: [AtomicU64; Refusal::ALL.len()],
    pub reconnects: AtomicU64,
    pub gaps_found: AtomicU64,
    pub gaps_filled: AtomicU64,
    /// Times the writer channel was full and a sender had to wait.
    pub backpressure: AtomicU64,
    pub connected: AtomicBool,
    /// Quote updates: read off the wire, refused by the limits, older than
    /// the last update id seen (duplicates), conflated away, and handed to
    /// the writer. `quotes = refused + duplicates + conflated + kept` once
    /// the conflator is flushed.
    pub quotes: AtomicU64,
    pub quotes_refused: AtomicU64,
    pub quote_duplicates: AtomicU64,
    pub quotes_conflated: AtomicU64,
    pub quotes_kept: AtomicU64,
    pub marks: AtomicU64,
    pub mark_duplicates: AtomicU64,
    /// Time blind after each fault (see [`crate::ingest::liveness::BlindClock`]).
    pub blind: Mutex<BlindStats>,
}

/// Upper bounds (seconds) of the time-blind histogram's buckets: from a
/// make-before-break handover (milliseconds) to the old minute-long outages.
pub const BLIND_BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0];

/// Samples kept for the benchmark's median and maximum.
const BLIND_RECENT: usize = 256;

/// The time-blind histogram (non-cumulative counts, the last slot +Inf),
/// its sum, and the most recent samples.
#[derive(Debug, Default, Clone)]
pub struct BlindStats {
    pub counts: [u64; BLIND_BUCKETS.len() + 1],
    pub sum_s: f64,
    pub recent_ms: VecDeque<u64>,
}

impl BlindStats {
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn last_ms(&self) -> Option<u64> {
        self.recent_ms.back().copied()
    }

    fn observe(&mut self, d: std::time::Duration) {
        let secs = d.as_secs_f64();
        let i = BLIND_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BLIND_BUCKETS.len());
        self.counts[i] += 1;
        self.sum_s += secs;
        if self.recent_ms.len() == BLIND_RECENT {
            self.recent_ms.pop_front();
        }
        self.recent_ms.push_back(d.as_millis() as u64);
    }
}

impl IngestMetrics {
    pub fn count_drop(&self, reason: DropReason) {
        let i = DropReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.dropped[i].fetch_add(1, Relaxed);
    }

    pub fn observe_blind(&self, d: std::time::Duration) {
        if let Ok(mut b) = self.blind.lock() {
            b.observe(d);
        }
    }

    pub fn blind_snapshot(&self) -> BlindStats {
        self.blind.lock().map(|b| b.clone()).unwrap_or_default()
    }

    pub fn count_refused(&self, reason: Refusal) {
        self.refused[reason.index()].fetch_add(1, Relaxed);
    }

    pub fn refused_total(&self) -> u64 {
        self.refused.iter().map(|d| d.load(Relaxed)).sum()
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|d| d.load(Relaxed)).sum()
    }
}

/// Trades per second over the last few whole seconds.
#[derive(Debug, Default)]
struct Rate {
    /// (second, count), oldest first.
    buckets: VecDeque<(i64, u64)>,
}

const RATE_WINDOW_S: i64 = 5;

impl Rate {
    fn add(&mut self, now_ms: i64, n: u64) {
        let s = now_ms.div_euclid(1000);
        match self.buckets.back_mut() {
            Some((sec, c)) if *sec == s => *c += n,
            _ => self.buckets.push_back((s, n)),
        }
        while self
            .buckets
            .front()
            .is_some_and(|(sec, _)| *sec < s - RATE_WINDOW_S)
        {
            self.buckets.pop_front();
        }
    }

    fn per_sec(&self, now_ms: i64) -> f64 {
        let s = now_ms.div_euclid(1000);
        let n: u64 = self
            .buckets
            .iter()
            .filter(|(sec, _)| *sec < s && *sec >= s - RATE_WINDOW_S)
            .map(|(_, c)| c)
            .sum();
        n as f64 / RATE_WINDOW_S as f64
    }
}

#[derive(Debug, Default)]
struct SymState {
    last_id: Option<i64>,
    /// First id of this symbol's history on start: the gap that starts
    /// there is the lookback being filled, not an outage.
    history_start: Option<i64>,
    last_exchange_ts: Option<i64>,
    last_lag: Option<i64>,
    last_price: Option<f64>,
    rate: Rate,
}

/// A gap for the backfiller to fetch.
#[derive(Debug, Clone, PartialEq)]
pub struct GapRequest {
    pub instrument: Instrument,
    pub from_id: i64,
    /// Inclusive; `i64::MAX` for a catch-up.
    pub to_id: i64,
    /// Open-ended: everything the exchange has from `from_id` on, fetched
    /// right after a reconnect for a symbol whose next live trade may be
    /// minutes away (so its gap would otherwise show only then).
    pub catch_up: bool,
    /// History on start (the lookback or the time since the last stored
    /// tick), not a gap in a live stream: reported as progress, not counted
    /// or recorded as a gap.
    pub history: bool,
}

/// Per-(venue, symbol) quote and mark state.
#[derive(Debug, Default)]
struct BookState {
    last_update_id: Option<i64>,
    last_quote: Option<Quote>,
    last_mark_ts: Option<i64>,
    last_mark: Option<MarkPrice>,
}

/// How one stream (one connection) is doing, for the status bar and
/// /metrics: its watchdog's doing included.
#[derive(Debug, Default, Clone)]
struct StreamHealth {
    connected: bool,
    messages: u64,
    last_message_ms: Option<i64>,
    /// Times the watchdog found it silent on a healthy connection.
    silences: u64,
    resubscribes: u64,
    reconnects: u64,
}

/// A stored quote or mark price, as `pairdesk record` hears of it.
#[derive(Debug, Clone, PartialEq)]
pub enum BookEvent {
    Quote(Quote),
    Mark(MarkPrice),
}

pub struct Pipeline {
    writer: mpsc::Sender<WriteCmd>,
    book_live: broadcast::Sender<BookEvent>,
    books: Mutex<HashMap<Instrument, BookState>>,
    conflator: Mutex<Conflator>,
    streams: Mutex<std::collections::BTreeMap<StreamKind, StreamHealth>>,
    live: broadcast::Sender<Arc<Tick>>,
    gaps: Mutex<Option<mpsc::UnboundedSender<GapRequest>>>,
    state: Mutex<HashMap<Instrument, SymState>>,
    total_rate: Mutex<Rate>,
    limits: TickLimits,
    history: Mutex<Option<HistoryStatus>>,
    pub metrics: IngestMetrics,
}

impl Pipeline {
    pub fn new(writer: mpsc::Sender<WriteCmd>) -> Arc<Pipeline> {
        Pipeline::with_limits(writer, TickLimits::default())
    }

    /// A pipeline that refuses ticks outside `limits` (see [`super::sanity`]).
    pub fn with_limits(writer: mpsc::Sender<WriteCmd>, limits: TickLimits) -> Arc<Pipeline> {
        let (live, _) = broadcast::channel(8192);
        let (book_live, _) = broadcast::channel(8192);
        Arc::new(Pipeline {
            writer,
            book_live,
            books: Mutex::new(HashMap::new()),
            conflator: Mutex::new(Conflator::new(ConflateConfig::default())),
            streams: Mutex::new(Default::default()),
            live,
            gaps: Mutex::new(None),
            state: Mutex::new(HashMap::new()),
            total_rate: Mutex::new(Rate::default()),
            limits,
            history: Mutex::new(None),
            metrics: IngestMetrics::default(),
        })
    }

    /// Conflate quotes by `cfg` from now on (set before quotes flow).
    pub fn set_conflation(&self, cfg: ConflateConfig) {
        if let Ok(mut c) = self.conflator.lock() {
            *c = Conflator::new(cfg);
        }
    }

    pub fn conflation(&self) -> ConflateConfig {
        self.conflator
            .lock()
            .map(|c| c.config())
            .unwrap_or_default()
    }

    /// Accept top-of-book updates: refuse absurd ones, skip update ids not
    /// above the last seen for the symbol (reconnect overlaps), conflate,
    /// and hand what is kept to the writer.
    pub async fn ingest_quotes(&self, quotes: Vec<Quote>) {
        let now = crate::ingest::now_ms();
        let mut kept = Vec::new();
        {
            let (Ok(mut books), Ok(mut conflator)) = (self.books.lock(), self.conflator.lock())
            else {
                return;
            };
            for q in quotes {
                self.metrics.quotes.fetch_add(1, Relaxed);
                if let Err((reason, detail)) = self.limits.check_quote(&q, now) {
                    self.metrics.quotes_refused.fetch_add(1, Relaxed);
                    tracing::debug!(symbol = %q.symbol, update_id = q.update_id, reason = reason.as_str(), %detail, "quote refused");
                    continue;
                }
                let b = books.entry(q.instrument()).or_default();
                if b.last_update_id.is_some_and(|last| q.update_id <= last) {
                    self.metrics.quote_duplicates.fetch_add(1, Relaxed);
                    continue;
                }
                b.last_update_id = Some(q.update_id);
                b.last_quote = Some(q.clone());
                conflator.push(q, &mut kept);
            }
            self.sync_conflation_counts(&conflator);
        }
        self.send_quotes(kept).await;
    }

    /// Kept quotes: to recorders, then to the writer.
    async fn send_quotes(&self, kept: Vec<Quote>) {
        if kept.is_empty() {
            return;
        }
        if self.book_live.receiver_count() > 0 {
            for q in &kept {
                let _ = self.book_live.send(BookEvent::Quote(q.clone()));
            }
        }
        self.send(WriteCmd::Quotes(kept)).await;
    }

    /// Quotes and marks as they are stored (for `pairdesk record`).
    pub fn subscribe_book(&self) -> broadcast::Receiver<BookEvent> {
        self.book_live.subscribe()
    }

    fn sync_conflation_counts(&self, c: &Conflator) {
        let n = c.counts();
        self.metrics.quotes_conflated.store(n.conflated, Relaxed);
        self.metrics.quotes_kept.store(n.kept, Relaxed);
    }

    /// Store the quotes whose conflation interval has ended (a timer calls
    /// this every interval); with `all`, every pending one (shutdown, and
    /// tests that account for every update).
    pub async fn flush_quotes(&self, all: bool) {
        let mut kept = Vec::new();
        if let Ok(mut c) = self.conflator.lock() {
            if all {
                c.flush_all(&mut kept);
            } else {
                c.flush_due(crate::ingest::now_ms(), &mut kept);
            }
            self.sync_conflation_counts(&c);
        }
        self.send_quotes(kept).await;
    }

    /// Accept mark price updates (one a second per symbol: all stored, a
    /// repeated event time skipped).
    pub async fn ingest_marks(&self, marks: Vec<MarkPrice>) {
        let mut fresh = Vec::with_capacity(marks.len());
        if let Ok(mut books) = self.books.lock() {
            for m in marks {
                self.metrics.marks.fetch_add(1, Relaxed);
                let b = books
                    .entry(Instrument::new(m.venue, m.symbol.clone()))
                    .or_default();
                if b.last_mark_ts.is_some_and(|t| m.ts <= t) {
                    self.metrics.mark_duplicates.fetch_add(1, Relaxed);
                    continue;
                }
                b.last_mark_ts = Some(m.ts);
                b.last_mark = Some(m.clone());
                fresh.push(m);
            }
        }
        if !fresh.is_empty() {
            if self.book_live.receiver_count() > 0 {
                for m in &fresh {
                    let _ = self.book_live.send(BookEvent::Mark(m.clone()));
                }
            }
            self.send(WriteCmd::Marks(fresh)).await;
        }
    }

    /// Settled funding rows (from the venue's REST history).
    pub async fn ingest_funding(&self, rows: Vec<crate::domain::Funding>) {
        if !rows.is_empty() {
            self.send(WriteCmd::Funding(rows)).await;
        }
    }

    /// The venue's trading rules of symbols, straight to the writer.
    pub async fn ingest_rules(&self, rows: Vec<crate::domain::SymbolRules>) {
        if !rows.is_empty() {
            self.send(WriteCmd::Rules(rows)).await;
        }
    }

    /// The newest quote and mark seen for `instrument` (live, before
    /// conflation): what the desk would trade against now.
    pub fn last_book(&self, instrument: &Instrument) -> (Option<Quote>, Option<MarkPrice>) {
        self.books
            .lock()
            .ok()
            .and_then(|b| {
                b.get(instrument)
                    .map(|s| (s.last_quote.clone(), s.last_mark.clone()))
            })
            .unwrap_or((None, None))
    }

    /// Stream health, updated by the socket client of each stream.
    pub fn stream_connected(&self, kind: StreamKind, up: bool) {
        if let Ok(mut s) = self.streams.lock() {
            let h = s.entry(kind).or_default();
            if up && !h.connected && h.messages > 0 {
                h.reconnects += 1;
            }
            h.connected = up;
        }
    }

    pub fn stream_message(&self, kind: StreamKind, now_ms: i64) {
        if let Ok(mut s) = self.streams.lock() {
            let h = s.entry(kind).or_default();
            h.messages += 1;
            h.last_message_ms = Some(now_ms);
        }
    }

    /// The watchdog found `kind` silent; `resubscribed` says what it did
    /// first (resubscribe on the same connection) rather than reconnect.
    pub fn stream_silent(&self, kind: StreamKind, resubscribed: bool) {
        if let Ok(mut s) = self.streams.lock() {
            let h = s.entry(kind).or_default();
            h.silences += 1;
            if resubscribed {
                h.resubscribes += 1;
            }
        }
    }

    /// Per-stream figures for the status bar and /metrics.
    pub fn stream_status(&self) -> Vec<StreamStatus> {
        let now = crate::ingest::now_ms();
        self.streams
            .lock()
            .map(|s| {
                s.iter()
                    .map(|(k, h)| StreamStatus {
                        stream: k.as_str().to_string(),
                        connected: h.connected,
                        messages: h.messages,
                        silent_ms: h.last_message_ms.map(|t| (now - t).max(0)),
                        silences: h.silences,
                        resubscribes: h.resubscribes,
                        reconnects: h.reconnects,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The plausibility limits this pipeline applies.
    pub fn limits(&self) -> &TickLimits {
        &self.limits
    }

    /// Drop (and count) the ticks outside the limits; every path calls this
    /// before anything is stored or broadcast.
    fn refuse_absurd(&self, ticks: &mut Vec<Tick>, now: i64) {
        let before = ticks.len();
        ticks.retain(|t| match self.limits.check(t, now) {
            Ok(()) => true,
            Err((reason, detail)) => {
                self.metrics.count_refused(reason);
                tracing::debug!(symbol = %t.symbol, trade_id = t.trade_id, %detail, "tick refused");
                false
            }
        });
        let refused = before - ticks.len();
        if refused > 0 {
            tracing::warn!(refused, "ticks outside the plausibility limits refused");
        }
    }

    /// Route detected gaps to a backfiller.
    pub fn set_gap_sink(&self, tx: mpsc::UnboundedSender<GapRequest>) {
        if let Ok(mut g) = self.gaps.lock() {
            *g = Some(tx);
        }
    }

    /// Live ticks, after de-duplication.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Tick>> {
        self.live.subscribe()
    }

    /// Accept freshly received ticks (in exchange order per symbol).
    pub async fn ingest(&self, mut ticks: Vec<Tick>) {
        let now = crate::ingest::now_ms();
        self.refuse_absurd(&mut ticks, now);
        let mut fresh = Vec::with_capacity(ticks.len());
        let mut gaps = Vec::new();
        // History that the live stream continues without a gap.
        let mut seamless = Vec::new();
        {
            let Ok(mut state) = self.state.lock() else {
                return;
            };
            for t in ticks {
                self.metrics.received.fetch_add(1, Relaxed);
                let s = state.entry(t.instrument()).or_default();
                match s.last_id {
                    Some(last) if t.trade_id <= last => {
                        self.metrics.duplicates.fetch_add(1, Relaxed);
                        continue;
                    }
                    // Replayed files, for one, carry synthetic, non-consecutive ids.
                    Some(last)
                        if t.trade_id > last + 1
                            && venues::adapter(t.venue).gap_policy()
                                == GapPolicy::ConsecutiveIds =>
                    {
                        gaps.push(GapRequest {
                            instrument: t.instrument(),
                            from_id: last + 1,
                            to_id: t.trade_id - 1,
                            catch_up: false,
                            history: s.history_start == Some(last + 1),
                        });
                    }
                    Some(last) if s.history_start == Some(t.trade_id) && t.trade_id == last + 1 => {
                        seamless.push(t.symbol.clone());
                    }
                    _ => {}
                }
                s.last_id = Some(t.trade_id);
                s.last_exchange_ts = Some(t.exchange_ts);
                s.last_lag = Some(t.receive_ts - t.exchange_ts);
                s.last_price = Some(t.price);
                s.rate.add(now, 1);
                fresh.push(t);
            }
        }
        for g in gaps {
            self.report_gap(g, now).await;
        }
        for sym in seamless {
            self.history_done(&sym);
        }
        self.forward(fresh, now).await;
    }

    /// After a reconnect: ask the backfiller for everything after the last
    /// id of each symbol of `venue` that `rare` picks, without waiting for
    /// its next live trade to show the gap.
    pub fn catch_up(&self, venue: Venue, rare: impl Fn(&str) -> bool) {
        if venues::adapter(venue).gap_policy() != GapPolicy::ConsecutiveIds {
            return;
        }
        let reqs: Vec<GapRequest> = match self.state.lock() {
            Ok(st) => st
                .iter()
                .filter(|(i, _)| i.venue == venue && rare(&i.symbol))
                .filter_map(|(i, s)| {
                    s.last_id.map(|last| GapRequest {
                        instrument: i.clone(),
                        from_id: last + 1,
                        to_id: i64::MAX,
                        catch_up: true,
                        history: false,
                    })
                })
                .collect(),
            Err(_) => return,
        };
        let Some(sink) = self.gaps.lock().ok().and_then(|s| s.clone()) else {
            return;
        };
        for r in reqs {
            tracing::info!(instrument = %r.instrument, from = r.from_id, "catching up after reconnect");
            let _ = sink.send(r);
        }
    }

    /// History on start for `instrument` begins at id `first`: with no live
    /// trade seen yet, the first one will show the gap from `first` to
    /// itself and the backfiller fills it (exactly once: by ids, and the
    /// store's key); when live trades came first, the span up to the last
    /// one is requested now. Either way the request is marked as history.
    pub async fn history_from(&self, instrument: &Instrument, first: i64) {
        let request = match self.state.lock() {
            Ok(mut st) => {
                let s = st.entry(instrument.clone()).or_default();
                s.history_start = Some(first);
                match s.last_id {
                    None => {
                        s.last_id = Some(first - 1);
                        None
                    }
                    Some(last) if last >= first => Some(GapRequest {
                        instrument: instrument.clone(),
                        from_id: first,
                        to_id: last,
                        catch_up: false,
                        history: true,
                    }),
                    Some(_) => None,
                }
            }
            Err(_) => return,
        };
        if let Some(g) = request {
            self.report_gap(g, crate::ingest::now_ms()).await;
        }
    }

    /// History on start begins: from `from_ts`, for `symbols`.
    pub fn history_begin(&self, from_ts: i64, symbols: &[String]) {
        if let Ok(mut h) = self.history.lock() {
            *h = Some(HistoryStatus {
                from_ts,
                loaded: 0,
                pending: symbols.to_vec(),
                oldest_ts: None,
                newest_ts: None,
            });
        }
    }

    /// History on start handed `ticks` to the store.
    pub fn history_loaded(&self, ticks: &[Tick]) {
        let (lo, hi) = (
            ticks.iter().map(|t| t.exchange_ts).min(),
            ticks.iter().map(|t| t.exchange_ts).max(),
        );
        if let Ok(mut h) = self.history.lock() {
            if let Some(h) = h.as_mut() {
                h.loaded += ticks.len() as u64;
                h.oldest_ts = match (h.oldest_ts, lo) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                h.newest_ts = h.newest_ts.max(hi);
            }
        }
    }

    /// History on start is complete for `symbol`.
    pub fn history_done(&self, symbol: &str) {
        if let Ok(mut h) = self.history.lock() {
            if let Some(h) = h.as_mut() {
                let before = h.pending.len();
                h.pending.retain(|s| s != symbol);
                if before > 0 && h.pending.is_empty() {
                    tracing::info!(ticks = h.loaded, from = %crate::clock::iso_ms(h.from_ts), "history on start loaded");
                }
            }
        }
    }

    /// A catch-up stored ids up to `last`: live trades up to it are now
    /// duplicates, and the next live trade after it must not be taken for
    /// a gap back to the old last id.
    pub fn advance_to(&self, instrument: &Instrument, last: i64) {
        if let Ok(mut st) = self.state.lock() {
            if let Some(s) = st.get_mut(instrument) {
                if s.last_id.is_none_or(|l| l < last) {
                    s.last_id = Some(last);
                }
            }
        }
    }

    /// A catch-up found trades: record them as a gap found and filled, so
    /// the gap table tells what the outage cost.
    pub async fn record_catch_up(&self, instrument: &Instrument, from: i64, to: i64) {
        self.metrics.gaps_found.fetch_add(1, Relaxed);
        self.metrics.gaps_filled.fetch_add(1, Relaxed);
        let now = crate::ingest::now_ms();
        self.send(WriteCmd::Gap(GapRecord {
            venue: instrument.venue,
            symbol: instrument.symbol.clone(),
            from_id: from,
            to_id: to,
            detected_ts: now,
            filled: true,
            note: format!("caught up after reconnect: {} trades", to - from + 1),
        }))
        .await;
    }

    /// Accept backfilled (older) ticks: no last-id check, the store's key
    /// de-duplicates, and they are not re-broadcast as live.
    pub async fn ingest_backfill(&self, mut ticks: Vec<Tick>) {
        self.refuse_absurd(&mut ticks, crate::ingest::now_ms());
        if ticks.is_empty() {
            return;
        }
        self.metrics.accepted.fetch_add(ticks.len() as u64, Relaxed);
        self.send(WriteCmd::Ticks(ticks)).await;
    }

    /// Record the outcome of a backfill.
    pub async fn record_gap_filled(&self, g: &GapRequest, recovered: u64, complete: bool) {
        if g.history {
            if !complete {
                tracing::warn!(instrument = %g.instrument, from = g.from_id, to = g.to_id, recovered,
                    "history on start: the exchange gave only part of the lookback");
            }
            self.history_done(&g.instrument.symbol);
            return;
        }
        self.send(WriteCmd::GapFilled {
            venue: g.instrument.venue,
            symbol: g.instrument.symbol.clone(),
            from_id: g.from_id,
            to_id: g.to_id,
            note: format!("recovered {recovered} of {}", g.to_id - g.from_id + 1),
            complete,
        })
        .await;
    }

    async fn report_gap(&self, g: GapRequest, now: i64) {
        if g.history {
            tracing::info!(instrument = %g.instrument, from = g.from_id, to = g.to_id, "history on start: backfilling");
            let sink = self.gaps.lock().ok().and_then(|s| s.clone());
            if sink.is_none_or(|s| s.send(g.clone()).is_err()) {
                self.history_done(&g.instrument.symbol);
            }
            return;
        }
        self.metrics.gaps_found.fetch_add(1, Relaxed);
        tracing::warn!(instrument = %g.instrument, from = g.from_id, to = g.to_id, "gap in trade ids");
        let sink = self.gaps.lock().ok().and_then(|s| s.clone());
        let queued = sink.map(|s| s.send(g.clone()).is_ok()).unwrap_or(false);
        self.send(WriteCmd::Gap(GapRecord {
            venue: g.instrument.venue,
            symbol: g.instrument.symbol,
            from_id: g.from_id,
            to_id: g.to_id,
            detected_ts: now,
            filled: false,
            note: if queued {
                "backfill requested".into()
            } else {
                "no backfill source".into()
            },
        }))
        .await;
    }

    async fn forward(&self, fresh: Vec<Tick>, now: i64) {
        if fresh.is_empty() {
            return;
        }
        if let Ok(mut r) = self.total_rate.lock() {
            r.add(now, fresh.len() as u64);
        }
        self.metrics.accepted.fetch_add(fresh.len() as u64, Relaxed);
        if self.live.receiver_count() > 0 {
            for t in &fresh {
                let _ = self.live.send(Arc::new(t.clone()));
            }
        }
        self.send(WriteCmd::Ticks(fresh)).await;
    }

    async fn send(&self, cmd: WriteCmd) {
        match self.writer.try_send(cmd) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(cmd)) => {
                // Back-pressure: wait for the writer rather than drop.
                self.metrics.backpressure.fetch_add(1, Relaxed);
                if self.writer.send(cmd).await.is_err() {
                    tracing::error!("writer stopped; ticks cannot be stored");
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("writer stopped; ticks cannot be stored");
            }
        }
    }

    /// Wait until everything accepted so far is committed.
    pub async fn flush(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.writer.send(WriteCmd::Flush(tx)).await.is_err() {
            return false;
        }
        rx.await.is_ok()
    }

    /// Figures for the status line; `stored` comes from the writer.
    pub fn snapshot(&self, stored: u64) -> StatusSnapshot {
        let now = crate::ingest::now_ms();
        let books: HashMap<Instrument, (Option<f64>, Option<f64>)> = self
            .books
            .lock()
            .map(|b| {
                b.iter()
                    .map(|(i, s)| {
                        let q = s.last_quote.as_ref();
                        (i.clone(), (q.map(|q| q.bid), q.map(|q| q.ask)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut symbols: Vec<SymbolStatus> = self
            .state
            .lock()
            .map(|st| {
                st.iter()
                    .map(|(i, s)| {
                        let (bid, ask) = books.get(i).copied().unwrap_or((None, None));
                        SymbolStatus {
                            symbol: i.symbol.clone(),
                            ticks_per_sec: s.rate.per_sec(now),
                            last_exchange_ts: s.last_exchange_ts,
                            lag_ms: s.last_lag,
                            last_price: s.last_price,
                            bid,
                            ask,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        symbols.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        let m = &self.metrics;
        StatusSnapshot {
            source: String::new(),
            simulated: false,
            connected: m.connected.load(Relaxed),
            ticks_stored: stored,
            ticks_per_sec: self
                .total_rate
                .lock()
                .map(|r| r.per_sec(now))
                .unwrap_or(0.0),
            reconnects: m.reconnects.load(Relaxed),
            gaps_found: m.gaps_found.load(Relaxed),
            gaps_filled: m.gaps_filled.load(Relaxed),
            dropped: m.dropped_total() + m.malformed.load(Relaxed) + m.refused_total(),
            duplicates: m.duplicates.load(Relaxed),
            symbols,
            server_time: now,
            blind_ms: m.blind.lock().ok().and_then(|b| b.last_ms()),
            history: self.history.lock().ok().and_then(|h| h.clone()),
            streams: self.stream_status(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Side;

    /// 2024-01-01T00:00:00Z.
    const T0: i64 = 1_704_067_200_000;

    fn tick(id: i64) -> Tick {
        Tick {
            venue: Venue::Sim,
            symbol: "BTCUSDT".into(),
            trade_id: id,
            exchange_ts: T0 + id,
            receive_ts: T0 + id,
            price: 1.0,
            qty: 1.0,
            side: Side::Buy,
        }
    }

    /// The trade ids and the gap records sent to the writer so far.
    fn written(rx: &mut mpsc::Receiver<WriteCmd>) -> (Vec<i64>, Vec<GapRecord>) {
        let (mut ids, mut gaps) = (Vec::new(), Vec::new());
        while let Ok(cmd) = rx.try_recv() {
            match cmd {
                WriteCmd::Ticks(v) => ids.extend(v.into_iter().map(|t| t.trade_id)),
                WriteCmd::Gap(g) => gaps.push(g),
                _ => {}
            }
        }
        (ids, gaps)
    }

    #[tokio::test]
    async fn duplicates_are_dropped_and_gaps_reported() {
        let (tx, mut rx) = mpsc::channel(16);
        let p = Pipeline::new(tx);
        let (gtx, mut grx) = mpsc::unbounded_channel();
        p.set_gap_sink(gtx);
        p.ingest(vec![tick(1), tick(2), tick(2), tick(1), tick(5)])
            .await;
        assert_eq!(p.metrics.duplicates.load(Relaxed), 2);
        assert_eq!(p.metrics.gaps_found.load(Relaxed), 1);
        let g = grx.recv().await.unwrap();
        assert_eq!((g.from_id, g.to_id), (3, 4));
        let (stored, _) = written(&mut rx);
        assert_eq!(stored, vec![1, 2, 5]);
    }

    #[tokio::test]
    async fn a_venue_without_consecutive_ids_has_no_gaps() {
        let (tx, mut rx) = mpsc::channel(16);
        let p = Pipeline::new(tx);
        let (gtx, mut grx) = mpsc::unbounded_channel();
        p.set_gap_sink(gtx);
        let replayed = |id| Tick {
            venue: Venue::Replay,
            ..tick(id)
        };
        p.ingest(vec![replayed(1), replayed(7), replayed(7), replayed(40)])
            .await;
        p.catch_up(Venue::Replay, |_| true);
        assert_eq!(p.metrics.gaps_found.load(Relaxed), 0);
        assert_eq!(p.metrics.duplicates.load(Relaxed), 1);
        assert!(grx.try_recv().is_err());
        let (stored, gaps) = written(&mut rx);
        assert!(gaps.is_empty(), "gaps recorded: {gaps:?}");
        assert_eq!(stored, vec![1, 7, 40]);
    }

    #[tokio::test]
    async fn absurd_ticks_are_counted_by_reason_and_never_stored() {
        let (tx, mut rx) = mpsc::channel(16);
        let p = Pipeline::new(tx);
        let mut huge = tick(2);
        huge.price = 1e308;
        let mut nan_qty = tick(3);
        nan_qty.qty = f64::NAN;
        let mut far = tick(4);
        far.exchange_ts = 253_402_214_400_000; // 9999-12-31
        p.ingest(vec![tick(1), huge, nan_qty, far, tick(5)]).await;
        let mut old = tick(6);
        old.exchange_ts = 0;
        p.ingest_backfill(vec![old, tick(7)]).await;
        let count = |r: Refusal| p.metrics.refused[r.index()].load(Relaxed);
        assert_eq!(count(Refusal::PriceOutOfRange), 1);
        assert_eq!(count(Refusal::QtyNotPositive), 1);
        assert_eq!(count(Refusal::TimeInFuture), 1);
        assert_eq!(count(Refusal::TimeTooOld), 1);
        assert_eq!(p.metrics.refused_total(), 4);
        let (stored, _) = written(&mut rx);
        assert_eq!(stored, vec![1, 5, 7]);
        assert_eq!(p.snapshot(0).dropped, 4);
    }

    #[test]
    fn rate_counts_whole_seconds_only() {
        let mut r = Rate::default();
        for ms in (0..5000).step_by(100) {
            r.add(ms, 1);
        }
        assert!((r.per_sec(5000) - 10.0).abs() < 1e-9);
    }
}
