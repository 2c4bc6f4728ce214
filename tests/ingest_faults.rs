//! The real client against the mock exchange under each scripted fault: the
//! stored ticks must equal the generated trades exactly (none missing, none
//! duplicated, in id order per symbol).
#![cfg(feature = "ssr")]

use pairdesk::domain::Venue;
use pairdesk::ingest::backoff::Backoff;
use pairdesk::ingest::liveness::LivenessConfig;
use pairdesk::ingest::mock_feed::{FeedOptions, MockFeed};
use pairdesk::ingest::pipeline::Pipeline;
use pairdesk::ingest::subscriptions::SubscribeError;
use pairdesk::ingest::venues::sim::{Bursts, MockConfig};
use pairdesk::store::{self, query};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Harness {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    feed: MockFeed,
}

async fn start(seed: u64) -> Harness {
    start_with(seed, None).await
}

async fn start_with(seed: u64, bursts: Option<Bursts>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let symbols = vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()];
    let mut opts = FeedOptions::new(MockConfig {
        journal: true,
        autostart: false,
        rate_scale: 3.0,
        seed,
        bursts,
        ..MockConfig::new(&symbols)
    });
    opts.writer_capacity = 64;
    opts.liveness = Some(LivenessConfig {
        ping_interval: Duration::from_millis(400),
        pong_timeout: Duration::from_millis(400),
        silence_floor: Duration::from_millis(800),
        silence_factor: 20.0,
    });
    opts.backoff = Some(Backoff::new(
        Duration::from_millis(50),
        Duration::from_millis(400),
    ));
    let feed = MockFeed::start(&db, opts).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    feed.mock.resume();
    tokio::time::sleep(Duration::from_millis(700)).await;
    Harness {
        _dir: dir,
        db,
        feed,
    }
}

impl Harness {
    /// Run on for a while, stop the market, and check the store is exact.
    async fn finish(mut self, run_after: Duration) -> Arc<Pipeline> {
        tokio::time::sleep(run_after).await;
        self.feed.mock.pause();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let generated = self.feed.mock.generated();
        let t0 = Instant::now();
        loop {
            self.feed.pipeline.flush().await;
            let n = query::tick_count(&store::open_reader(&self.db).unwrap()).unwrap();
            if n >= generated {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "stored {n} of {generated}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.feed.stop_client(Duration::from_secs(5)).await;
        let mut expected: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for t in self.feed.mock.journal() {
            expected
                .entry(t.symbol.clone())
                .or_default()
                .push(t.trade_id);
        }
        let conn = store::open_reader(&self.db).unwrap();
        for (sym, ids) in &expected {
            assert_eq!(
                &query::trade_ids(&conn, Venue::Sim, sym).unwrap(),
                ids,
                "{sym}"
            );
        }
        assert_eq!(query::tick_count(&conn).unwrap(), generated);
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        let pipeline = self.feed.pipeline.clone();
        tokio::spawn(self.feed.shutdown());
        pipeline
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_is_reconnected_and_backfilled() {
    let h = start(1).await;
    h.feed.mock.faults().drop_connection.store(true, Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.feed.mock.faults().drop_connection.store(true, Relaxed);
    let p = h.finish(Duration::from_secs(2)).await;
    assert!(p.metrics.reconnects.load(Relaxed) >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drops_in_the_middle_of_bursts_lose_nothing() {
    // 165 trades/s, 20x that for 500 ms of every 1.5 s, dropped mid-burst.
    let h = start_with(
        6,
        Some(Bursts {
            period_ms: 1500,
            burst_ms: 500,
            factor: 20.0,
            drop_mid_burst: true,
        }),
    )
    .await;
    let p = h.finish(Duration::from_millis(3500)).await;
    assert!(
        p.metrics.reconnects.load(Relaxed) >= 2,
        "bursts dropped the connection"
    );
    assert!(
        p.metrics.gaps_found.load(Relaxed) >= 1,
        "a drop mid-burst leaves a gap"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symbol_added_while_streaming_hands_over_without_loss() {
    let h = start(11).await;
    let added = h.feed.subscriptions.add("solusdt").await.unwrap();
    assert!(added.new);
    assert_eq!(added.symbols, ["BTCUSDT", "ETHUSDT", "SOLUSDT"]);
    // Twice is not an error, and changes nothing.
    assert!(!h.feed.subscriptions.add("SOLUSDT").await.unwrap().new);
    assert!(matches!(
        h.feed.subscriptions.add("FOOBAR").await,
        Err(SubscribeError::Unknown { .. })
    ));
    assert!(matches!(
        h.feed.subscriptions.add("BTC/USDT").await,
        Err(SubscribeError::Invalid(_))
    ));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        h.feed.mock.journal().iter().any(|t| t.symbol == "SOLUSDT"),
        "the exchange never traded the added symbol"
    );
    // finish() checks every symbol in the exchange's journal, SOLUSDT too.
    let p = h.finish(Duration::from_millis(1000)).await;
    assert!(
        p.metrics.reconnects.load(Relaxed) >= 1,
        "no handover happened"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_stall_trips_the_watchdog() {
    let h = start(2).await;
    h.feed.mock.faults().stall_ms.store(2000, Relaxed);
    let p = h.finish(Duration::from_secs(3)).await;
    assert!(p.metrics.reconnects.load(Relaxed) >= 1);
    assert!(p.metrics.gaps_found.load(Relaxed) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_frames_are_counted_not_fatal() {
    let h = start(3).await;
    h.feed.mock.faults().malformed.store(5, Relaxed);
    h.feed.mock.faults().oversized.store(2, Relaxed);
    let p = h.finish(Duration::from_secs(1)).await;
    assert_eq!(p.metrics.malformed.load(Relaxed), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_shutdown_hands_over_without_loss() {
    let h = start(4).await;
    h.feed.mock.faults().shutdown_grace_ms.store(500, Relaxed);
    h.feed.mock.faults().server_shutdown.store(true, Relaxed);
    let before = h.feed.mock.connections();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        h.feed.mock.connections() > before,
        "no replacement connection opened"
    );
    h.finish(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_ids_are_backfilled_over_rest() {
    let h = start(5).await;
    h.feed.mock.faults().skip_trades.store(25, Relaxed);
    let p = h.finish(Duration::from_secs(2)).await;
    assert!(p.metrics.gaps_found.load(Relaxed) >= 1);
    assert_eq!(
        p.metrics.gaps_filled.load(Relaxed),
        p.metrics.gaps_found.load(Relaxed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_retried_with_backoff() {
    let h = start(6).await;
    h.feed
        .mock
        .faults()
        .refuse_until_ms
        .store(pairdesk::ingest::now_ms() + 1500, Relaxed);
    h.feed.mock.faults().drop_connection.store(true, Relaxed);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert!(h.feed.mock.faults().refused.load(Relaxed) >= 1);
    h.finish(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_answered_with_the_same_payload() {
    let h = start(7).await;
    h.feed.mock.faults().ping_now.store(true, Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(h.feed.mock.faults().pongs_ok.load(Relaxed) >= 1);
    h.finish(Duration::from_millis(200)).await;
}
