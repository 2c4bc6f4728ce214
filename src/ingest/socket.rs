//! A socket source: the Binance client following a live symbol set, and
//! the REST backfiller its gaps go to. `serve` and the mock feed (tests,
//! soak, bench) start it through this one function, so they run the same
//! wiring.

use crate::domain::Venue;
use crate::ingest::binance::client::{self, ClientConfig, StreamKind};
use crate::ingest::binance::rest::Backfiller;
use crate::ingest::pipeline::Pipeline;
use crate::ingest::subscriptions::Subscriptions;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where and what to stream.
#[derive(Debug, Clone)]
pub struct SocketSpec {
    pub ws_base: String,
    pub rest_base: String,
    pub venue: Venue,
    pub kind: StreamKind,
    pub symbols: Vec<String>,
    /// Send gaps to a REST backfiller (off: a gap stays a gap).
    pub backfill: bool,
}

pub struct SocketSource {
    pub client: JoinHandle<()>,
    pub backfill: Option<JoinHandle<()>>,
    /// The client's symbol set; adding to it hands over to a new connection.
    pub subscriptions: Subscriptions,
}

/// Spawn the client (adjusted by `tune`) and, if asked, the backfiller,
/// both feeding `pipeline`, until `shutdown` turns true.
pub fn spawn(
    spec: SocketSpec,
    pipeline: &Arc<Pipeline>,
    shutdown: watch::Receiver<bool>,
    tune: impl FnOnce(&mut ClientConfig),
) -> SocketSource {
    let backfill = spec.backfill.then(|| {
        let (gap_tx, gap_rx) = tokio::sync::mpsc::unbounded_channel();
        pipeline.set_gap_sink(gap_tx);
        tokio::spawn(
            Backfiller::new(spec.rest_base.clone(), spec.venue, spec.kind)
                .run(gap_rx, pipeline.clone()),
        )
    });
    let (subscriptions, url_rx) = Subscriptions::new(
        spec.ws_base,
        spec.rest_base,
        spec.venue,
        spec.kind,
        spec.symbols,
    );
    let mut cfg = ClientConfig::new(url_rx.borrow().clone(), spec.venue);
    cfg.url_updates = Some(url_rx);
    tune(&mut cfg);
    let client = tokio::spawn(client::run(cfg, pipeline.clone(), shutdown));
    SocketSource {
        client,
        backfill,
        subscriptions,
    }
}
