//! The production ingest path fed by the mock exchange: the socket client
//! (with its live symbol set) on the `sim` venue, the pipeline, the REST backfiller and the
//! SQLite writer, wired exactly as `serve` wires them. The integration tests,
//! the soak and `pairdesk bench` all run this one assembly, so what they
//! measure is what ships.

use crate::ingest::backoff::Backoff;
use crate::ingest::conflate::ConflateConfig;
use crate::ingest::event::DataKind;
use crate::ingest::liveness::LivenessConfig;
use crate::ingest::pipeline::Pipeline;
use crate::ingest::socket::{self, SocketSpec};
use crate::ingest::subscriptions::Subscriptions;
use crate::ingest::venues::sim::{MockConfig, MockExchange, SIM};
use crate::ingest::venues::Routes;
use crate::store::writer::Writer;
use crate::store::{self, Durability};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("mock exchange: {0}")]
    Io(#[from] std::io::Error),
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("the client never connected to the mock exchange")]
    NeverConnected,
}

/// How to assemble the path.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    pub mock: MockConfig,
    pub kind: DataKind,
    /// The writer's queue; 1024 is what `serve` uses.
    pub writer_capacity: usize,
    /// Gaps are backfilled over REST (off: a gap stays a gap).
    pub backfill: bool,
    /// Client overrides (tests shorten them to see faults quickly).
    pub liveness: Option<LivenessConfig>,
    pub backoff: Option<Backoff>,
    /// Stream the book and mark price too (the mock must generate quotes:
    /// [`MockConfig::quotes`]), conflated by this rule.
    pub quotes: Option<ConflateConfig>,
    /// The path tier of each stream kind.
    pub routes: Routes,
}

impl FeedOptions {
    pub fn new(mock: MockConfig) -> FeedOptions {
        FeedOptions {
            mock,
            kind: DataKind::Trade,
            writer_capacity: 1024,
            backfill: true,
            liveness: None,
            backoff: None,
            quotes: None,
            routes: Routes::default(),
        }
    }
}

pub struct MockFeed {
    pub mock: MockExchange,
    pub pipeline: Arc<Pipeline>,
    pub writer: Writer,
    /// The client's symbol set; adding to it hands over to a new connection.
    pub subscriptions: Subscriptions,
    stop: CancellationToken,
    /// Taken when stopped, so stopping twice is harmless.
    client: Option<tokio::task::JoinHandle<()>>,
    others: Vec<tokio::task::JoinHandle<()>>,
    backfill: Option<tokio::task::JoinHandle<()>>,
}

impl MockFeed {
    /// Start everything on a database at `db` and return once the client
    /// is subscribed (the market starts then if `autostart` is off and the
    /// caller resumes it).
    pub async fn start(db: &Path, opts: FeedOptions) -> Result<MockFeed, FeedError> {
        let symbols = opts.mock.symbols.clone();
        let mock = MockExchange::start(opts.mock).await?;
        let writer = Writer::spawn(
            store::open_writer(db, Durability::Normal)?,
            opts.writer_capacity,
        );
        let pipeline = Pipeline::new(writer.tx.clone());
        if let Some(c) = opts.quotes {
            pipeline.set_conflation(c);
        }
        let spec = SocketSpec {
            ws_base: mock.ws_base(),
            rest_base: mock.http_base(),
            routes: opts.routes,
            exchange: &SIM,
            kind: opts.kind,
            symbols,
            backfill: opts.backfill,
            quotes: opts.quotes.is_some(),
        };
        let stop = CancellationToken::new();
        let source = socket::spawn(spec, &pipeline, stop.clone(), &TaskTracker::new(), |cfg| {
            if let Some(l) = opts.liveness {
                cfg.liveness = l;
            }
            if let Some(b) = opts.backoff {
                cfg.backoff = b;
            }
        });
        let t0 = Instant::now();
        while mock.connections() == 0 {
            if t0.elapsed() > Duration::from_secs(10) {
                return Err(FeedError::NeverConnected);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(MockFeed {
            mock,
            pipeline,
            writer,
            subscriptions: source.subscriptions,
            stop,
            client: Some(source.client),
            others: source.others,
            backfill: source.backfill,
        })
    }

    /// Stop the client (waiting up to `wait` for it) and the backfiller; the
    /// writer keeps running until [`MockFeed::shutdown`].
    pub async fn stop_client(&mut self, wait: Duration) {
        self.stop.cancel();
        if let Some(c) = self.client.take() {
            if tokio::time::timeout(wait, c).await.is_err() {
                tracing::warn!(?wait, "mock feed: the client did not stop in time");
            }
        }
        // The book and mark clients, and the conflation timer, which stores
        // what is pending as it stops.
        for c in self.others.drain(..) {
            if tokio::time::timeout(wait, c).await.is_err() {
                tracing::warn!(?wait, "mock feed: a book client did not stop in time");
            }
        }
        // The backfiller holds the pipeline (and so the writer's sender);
        // it leaves at the cancellation, even mid-request.
        if let Some(b) = self.backfill.take() {
            if tokio::time::timeout(wait, b).await.is_err() {
                tracing::warn!(?wait, "mock feed: the backfiller did not stop in time");
            }
        }
    }

    /// Stop the client, then let the writer commit what it has and exit;
    /// false if the writer needed more than 10 s.
    pub async fn shutdown(mut self) -> bool {
        self.stop_client(Duration::from_secs(2)).await;
        let MockFeed {
            mock,
            pipeline,
            writer,
            ..
        } = self;
        drop(pipeline);
        drop(mock);
        tokio::time::timeout(
            Duration::from_secs(10),
            tokio::task::spawn_blocking(move || writer.shutdown()),
        )
        .await
        .is_ok()
    }
}
