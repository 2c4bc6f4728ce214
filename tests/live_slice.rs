//! The first live slice through real parts: mock exchange on 127.0.0.1 ->
//! WebSocket client -> pipeline -> SQLite writer. Every generated trade must
//! be stored exactly once.
#![cfg(feature = "ssr")]

use pairdesk::domain::Venue;
use pairdesk::ingest::event::DataKind;
use pairdesk::ingest::mock_feed::{FeedOptions, MockFeed};
use pairdesk::ingest::venues::sim::MockConfig;
use pairdesk::store::{self, query};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_generated_trade_is_stored_exactly_once() {
    exactly_once(DataKind::Trade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_aggregate_trade_is_stored_exactly_once() {
    exactly_once(DataKind::AggTrade).await;
}

async fn exactly_once(kind: DataKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let symbols = vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()];
    let mut opts = FeedOptions::new(MockConfig {
        journal: true,
        autostart: false,
        rate_scale: 4.0,
        seed: 11,
        ..MockConfig::new(&symbols)
    });
    opts.kind = kind;
    opts.writer_capacity = 64;
    // Nothing is dropped here, so nothing may need backfilling.
    opts.backfill = false;
    let mut feed = MockFeed::start(&db, opts).await.unwrap();
    let pipeline = feed.pipeline.clone();

    // The market starts only once the client is subscribed.
    let mock = &feed.mock;
    tokio::time::sleep(Duration::from_millis(100)).await;
    mock.resume();
    tokio::time::sleep(Duration::from_secs(3)).await;
    mock.pause();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let generated = mock.generated();
    assert!(generated > 200, "only {generated} trades generated");
    let t0 = Instant::now();
    while pipeline.metrics.accepted.load(Relaxed) < generated {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "pipeline saw {} of {generated}",
            pipeline.metrics.accepted.load(Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(pipeline.flush().await);
    let journal = mock.journal();
    feed.stop_client(Duration::from_secs(5)).await;

    let mut expected: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for t in &journal {
        expected
            .entry(t.symbol.clone())
            .or_default()
            .push(t.trade_id);
    }
    let conn = store::open_reader(&db).unwrap();
    for (sym, ids) in &expected {
        let stored = query::trade_ids(&conn, Venue::Sim, sym).unwrap();
        assert_eq!(&stored, ids, "{sym}: stored ids differ from generated");
    }
    assert_eq!(query::tick_count(&conn).unwrap(), generated);
    assert_eq!(pipeline.metrics.duplicates.load(Relaxed), 0);
    assert_eq!(pipeline.metrics.gaps_found.load(Relaxed), 0);

    // Prices and times survive the round trip through the wire format.
    let first = &journal[0];
    let ticks = query::ticks(
        &conn,
        Venue::Sim,
        &first.symbol,
        first.exchange_ts,
        first.exchange_ts + 1,
        100,
    )
    .unwrap()
    .unwrap();
    let stored = ticks.iter().find(|t| t.trade_id == first.trade_id).unwrap();
    assert_eq!(
        (stored.price, stored.qty, stored.side),
        (first.price, first.qty, first.side)
    );
    drop(pipeline);
    assert!(feed.shutdown().await, "the writer did not stop");
}
