//! The server's shared state: the services and handles every request
//! handler, server function and background task reaches through one
//! `Arc<AppState>`. It depends on the services, the store and ingestion;
//! nothing below it imports it.

use crate::config::Config;
use crate::domain::{StatusSnapshot, Tick, Venue};
use crate::http::accept::{ConnTracker, NetStats};
use crate::http::metrics::HttpMetrics;
use crate::ingest::pipeline::Pipeline;
use crate::ingest::subscriptions::Subscriptions;
use crate::services::alerts::Engine;
use crate::services::live::LiveSource;
use crate::store::writer::{Writer, WriterStats};
use crate::store::Store;
use crate::webhook::{WebhookPolicy, WebhookSender};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Everything request handlers and server functions need.
pub struct AppState {
    pub config: Config,
    /// Every read, and the alert rules and events.
    pub store: Arc<dyn Store>,
    /// Venue the active source's ticks are stored under.
    pub venue: Venue,
    pub source_label: String,
    pub simulated: bool,
    pub pipeline: Arc<Pipeline>,
    pub writer_stats: Arc<WriterStats>,
    /// Ticks in the database when the server started.
    pub base_ticks: u64,
    /// The writer's queue: its depth for /metrics, liveness for /readyz.
    /// Weak, so requests never keep the writer alive past shutdown.
    pub writer_tx: tokio::sync::mpsc::WeakSender<crate::store::writer::WriteCmd>,
    /// HTTP request counters and latency histograms for /metrics.
    pub http: HttpMetrics,
    /// The shared live feed behind every `/ws/live` page.
    pub live: crate::services::live::Hub,
    /// The live symbol set (None for a replay, which has no live feed).
    pub subscriptions: Option<Arc<Subscriptions>>,
    /// Open HTTP connections, under `[http]` caps (see `api::accept`).
    pub conns: Arc<ConnTracker>,
    /// Open `/ws/live` sockets, under their own caps.
    pub ws_conns: Arc<ConnTracker>,
    /// Connection counters for /metrics.
    pub net: Arc<NetStats>,
    /// Alert webhooks, under the SSRF policy.
    pub webhooks: crate::webhook::WebhookSender,
    /// The last pair scans, by watchlist and newest bar.
    pub scans: Arc<crate::services::scanner::ScanCache>,
}

impl AppState {
    /// State for serving `config` from `pipeline`, `writer` and `store`,
    /// labelled as the simulated market with an empty store and no live
    /// symbol set (what benches and tests want); `serve` overrides the
    /// source fields.
    pub fn new(
        config: Config,
        pipeline: Arc<Pipeline>,
        writer: &Writer,
        store: Arc<dyn Store>,
    ) -> AppState {
        let l = &config.http;
        let conns = ConnTracker::new(l.max_connections, l.max_connections_per_ip);
        let ws_conns = ConnTracker::new(l.max_websockets, l.max_websockets_per_ip);
        let webhooks = WebhookSender::new(WebhookPolicy {
            allow_private: config.webhook_allow_private,
        });
        AppState {
            config,
            store,
            venue: Venue::Sim,
            source_label: "sim".into(),
            simulated: true,
            pipeline,
            writer_stats: writer.stats.clone(),
            base_ticks: 0,
            writer_tx: writer.tx.downgrade(),
            http: Default::default(),
            live: Default::default(),
            subscriptions: None,
            conns,
            ws_conns,
            net: Default::default(),
            webhooks,
            scans: Default::default(),
        }
    }

    pub fn status(&self) -> StatusSnapshot {
        let stored = self.base_ticks + self.writer_stats.inserted.load(Relaxed);
        let mut s = self.pipeline.snapshot(stored);
        s.source = self.source_label.clone();
        s.simulated = self.simulated;
        s
    }

    /// The alert engine's view of this state.
    pub fn engine(&self) -> Engine {
        Engine {
            store: self.store.clone(),
            config: Arc::new(self.config.clone()),
            venue: self.venue,
            webhooks: self.webhooks.clone(),
        }
    }
}

impl LiveSource for AppState {
    fn ticks(&self) -> tokio::sync::broadcast::Receiver<Arc<Tick>> {
        self.pipeline.subscribe()
    }

    fn status(&self) -> StatusSnapshot {
        AppState::status(self)
    }

    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }
}
