//! The live hub: one task per server counts the ticks and, every 25 ms
//! while they arrive (every 2 s as a heartbeat when the market is quiet),
//! builds one [`LiveUpdate`] and serializes it once for every connected
//! page: fifty viewers cost one status snapshot and one JSON encoding, not
//! fifty, and the hub looks for fired alerts once a second for all of them.
//! Each page's socket (`api::live`) reads the frames on its own receiver.

use crate::domain::{StatusSnapshot, Tick};
use crate::model::alerts::AlertEvent;
use crate::model::live::{LivePrice, LiveUpdate, BASE_INTERVAL_MS, STATUS_INTERVAL_MS};
use crate::model::paper::PaperLine;
use crate::store::Store;
use axum::extract::ws::Utf8Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Once, Weak};
use std::time::Duration;
use tokio::sync::broadcast::{self, error::TryRecvError};
use tokio::time::Instant;

/// What the hub reads: the pipeline's ticks, the status line, the store's
/// alert events. The server state implements it; the hub holds it weakly,
/// so it never keeps the server (and its tick broadcast) alive.
pub trait LiveSource: Send + Sync + 'static {
    fn ticks(&self) -> broadcast::Receiver<Arc<Tick>>;
    fn status(&self) -> StatusSnapshot;
    fn store(&self) -> Arc<dyn Store>;
}

/// Frames kept for a page that is momentarily busy: 64 × 25 ms = 1.6 s.
pub(crate) const FRAME_BUFFER: usize = 64;
const HEARTBEAT_MS: u64 = 2000;

/// One update of the shared feed, built once for every page.
pub struct Frame {
    pub seq: u64,
    /// Ticks counted by the hub since it started.
    pub total_ticks: u64,
    pub update: LiveUpdate,
    /// `update` as JSON, for pages at the base rate that missed nothing.
    pub text: Utf8Bytes,
    /// The newest trade per symbol in this frame's interval; each page
    /// gets the ones it watches.
    pub prices: HashMap<String, LivePrice>,
}

/// The shared feed; started by the first page that connects.
pub struct Hub {
    tx: broadcast::Sender<Arc<Frame>>,
    started: Once,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            tx: broadcast::channel(FRAME_BUFFER).0,
            started: Once::new(),
        }
    }
}

impl Hub {
    /// A receiver of the shared frames; the first call starts the hub on
    /// `src`.
    pub fn subscribe<S: LiveSource>(&self, app: &Arc<S>) -> broadcast::Receiver<Arc<Frame>> {
        self.started.call_once(|| {
            // Weak: the hub must not keep the server state (and with it
            // the pipeline's tick broadcast) alive after shutdown.
            let ticks = app.ticks();
            tokio::spawn(run_hub(Arc::downgrade(app), self.tx.clone(), ticks));
        });
        self.tx.subscribe()
    }
}

async fn run_hub<S: LiveSource>(
    app: Weak<S>,
    tx: broadcast::Sender<Arc<Frame>>,
    mut ticks: broadcast::Receiver<Arc<crate::domain::Tick>>,
) {
    let mut timer = tokio::time::interval(Duration::from_millis(BASE_INTERVAL_MS));
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (mut total, mut fresh, mut last_ts, mut quiet, mut seq) = (0u64, 0u64, None, 0u64, 0u64);
    let mut alerts_since = crate::ingest::now_ms();
    let mut last_alert_check = Instant::now();
    let mut last_paper_check = Instant::now();
    let mut last_paper: Option<Vec<PaperLine>> = None;
    let mut last_status: Option<Instant> = None;
    let mut prices: HashMap<String, LivePrice> = HashMap::new();
    loop {
        timer.tick().await;
        // Draining on the timer (not per tick) keeps the hub at 40
        // wake-ups a second whatever the trade rate.
        loop {
            match ticks.try_recv() {
                Ok(t) => {
                    fresh += 1;
                    last_ts = Some(t.exchange_ts);
                    match prices.get_mut(t.symbol.as_str()) {
                        Some(p) => {
                            p.price = t.price;
                            p.ts = t.exchange_ts;
                        }
                        None => {
                            let p = LivePrice {
                                symbol: t.symbol.clone(),
                                price: t.price,
                                ts: t.exchange_ts,
                            };
                            prices.insert(t.symbol.clone(), p);
                        }
                    }
                }
                Err(TryRecvError::Lagged(n)) => fresh += n,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => return,
            }
        }
        let Some(app) = app.upgrade() else { return };
        if tx.receiver_count() == 0 {
            // Nobody is watching: nothing to build, nothing to catch up on.
            total += fresh;
            fresh = 0;
            prices.clear();
            alerts_since = crate::ingest::now_ms();
            continue;
        }
        quiet += BASE_INTERVAL_MS;
        // Alerts fire at most once a bar; look for them once a second.
        let fired: Vec<AlertEvent> = if last_alert_check.elapsed() >= Duration::from_secs(1) {
            last_alert_check = Instant::now();
            let store = app.store();
            let since = alerts_since;
            tokio::task::spawn_blocking(move || store.list_events(None, Some(since), 20))
                .await
                .ok()
                .and_then(|r| r.ok())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        if let Some(newest) = fired.iter().map(|e| e.fired_ts).max() {
            alerts_since = newest + 1;
        }
        // Paper sessions, at the same pace: sent only when they changed.
        let paper = if last_paper_check.elapsed() >= Duration::from_secs(1) {
            last_paper_check = Instant::now();
            let store = app.store();
            let lines = tokio::task::spawn_blocking(move || {
                crate::services::paper::paper_books(store.as_ref())
                    .map(|b| b.iter().map(PaperLine::from).collect::<Vec<_>>())
            })
            .await
            .ok()
            .and_then(|r| r.ok());
            match lines {
                Some(l) if Some(&l) != last_paper.as_ref() => {
                    last_paper = Some(l.clone());
                    Some(l)
                }
                _ => None,
            }
        } else {
            None
        };
        if fresh == 0 && fired.is_empty() && paper.is_none() && quiet < HEARTBEAT_MS {
            continue;
        }
        let heartbeat = quiet >= HEARTBEAT_MS;
        quiet = 0;
        total += fresh;
        let with_status = heartbeat
            || last_status.is_none_or(|t| t.elapsed() >= Duration::from_millis(STATUS_INTERVAL_MS));
        if with_status {
            last_status = Some(Instant::now());
        }
        let update = LiveUpdate {
            new_ticks: fresh,
            last_ts,
            interval_ms: BASE_INTERVAL_MS,
            lagged: 0,
            status: with_status.then(|| app.status()),
            alerts: fired,
            prices: Vec::new(),
            paper,
        };
        fresh = 0;
        let Ok(text) = serde_json::to_string(&update) else {
            continue;
        };
        seq += 1;
        // An error only means every page left meanwhile.
        let _ = tx.send(Arc::new(Frame {
            seq,
            total_ticks: total,
            update,
            text: text.into(),
            prices: std::mem::take(&mut prices),
        }));
    }
}
