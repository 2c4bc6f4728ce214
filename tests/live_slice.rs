//! The first live slice through real parts: mock exchange on 127.0.0.1 ->
//! WebSocket client -> pipeline -> SQLite writer. Every generated trade must
//! be stored exactly once.
#![cfg(feature = "ssr")]

use pairdesk::domain::Venue;
use pairdesk::ingest::binance::client::{self, stream_url, ClientConfig, StreamKind};
use pairdesk::ingest::mock::{MockConfig, MockExchange};
use pairdesk::ingest::pipeline::Pipeline;
use pairdesk::store::{self, query, writer::Writer, Durability};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_generated_trade_is_stored_exactly_once() {
    exactly_once(StreamKind::Trade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_aggregate_trade_is_stored_exactly_once() {
    exactly_once(StreamKind::AggTrade).await;
}

async fn exactly_once(kind: StreamKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let symbols = vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()];
    let mock = MockExchange::start(MockConfig {
        journal: true,
        autostart: false,
        rate_scale: 4.0,
        seed: 11,
        ..MockConfig::new(&symbols)
    })
    .await
    .unwrap();

    let writer = Writer::spawn(store::open_writer(&db, Durability::Normal).unwrap(), 64);
    let pipeline = Pipeline::new(writer.tx.clone());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let url = stream_url(&mock.ws_base(), Venue::Sim, kind, &symbols);
    let task = tokio::spawn(client::run(
        ClientConfig::new(url, Venue::Sim),
        pipeline.clone(),
        stop_rx,
    ));

    // Start the market only once the client is subscribed.
    let t0 = Instant::now();
    while mock.connections() == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "client never connected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    let _ = stop_tx.send(true);
    task.await.unwrap();

    let mut expected: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for t in mock.journal() {
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
    let journal = mock.journal();
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
    writer.shutdown();
}
