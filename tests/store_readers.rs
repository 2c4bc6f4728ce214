//! Readers on their own connections while the writer ingests: WAL lets them
//! run side by side, and no `SQLITE_BUSY` (or any other error) may reach a
//! caller. Readers also see a consistent, growing snapshot.
#![cfg(feature = "ssr")]

use pairdesk::domain::{Side, Tick, Timeframe, Venue};
use pairdesk::store::{self, query, writer::WriteCmd, writer::Writer, Durability};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const T0: i64 = 1_765_000_000_000;
const READERS: usize = 4;
const BATCHES: i64 = 150;
const PER_BATCH: i64 = 1000;

fn tick(sym: &str, id: i64) -> Tick {
    Tick {
        venue: Venue::Sim,
        symbol: sym.into(),
        trade_id: id,
        // Ten ticks per second of market time.
        exchange_ts: T0 + id * 100,
        receive_ts: T0 + id * 100,
        price: 100.0 + (id % 50) as f64,
        qty: 1.0,
        side: Side::Sell,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_busy_while_the_writer_ingests() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rw.db");
    let writer = Writer::spawn(store::open_writer(&db, Durability::Normal).unwrap(), 16);
    // Make the symbols exist before the readers start.
    for sym in ["BTCUSDT", "ETHUSDT"] {
        writer
            .tx
            .send(WriteCmd::Ticks(vec![tick(sym, 0)]))
            .await
            .unwrap();
    }
    let mut committed = writer.committed.clone();
    committed.wait_for(|n| *n == 2).await.unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|i| {
            let db = db.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let conn = store::open_reader(&db).unwrap();
                let sym = if i % 2 == 0 { "BTCUSDT" } else { "ETHUSDT" };
                let tf = [Timeframe::S1, Timeframe::M1][i % 2];
                let (mut queries, mut errors, mut last_trades) = (0u64, Vec::new(), 0i64);
                while !done.load(Ordering::Relaxed) {
                    match query::bars(
                        &conn,
                        store::Plan::Rollups,
                        Venue::Sim,
                        sym,
                        tf,
                        0,
                        i64::MAX / 2,
                    ) {
                        Ok(Some(bars)) => {
                            let trades: i64 = bars.iter().map(|b| b.trades).sum();
                            // Snapshots only grow, and always by whole batches
                            // (plus the first tick).
                            assert!(trades >= last_trades, "snapshot went back");
                            assert_eq!((trades - 1) % PER_BATCH, 0, "saw a partial batch");
                            last_trades = trades;
                        }
                        Ok(None) => errors.push("symbol vanished".to_string()),
                        Err(e) => errors.push(e.to_string()),
                    }
                    if let Err(e) = query::ticks(&conn, Venue::Sim, sym, T0, T0 + 60_000, 500) {
                        errors.push(e.to_string());
                    }
                    queries += 1;
                }
                (queries, errors)
            })
        })
        .collect();

    for b in 0..BATCHES {
        for sym in ["BTCUSDT", "ETHUSDT"] {
            let batch = (b * PER_BATCH + 1..=(b + 1) * PER_BATCH)
                .map(|id| tick(sym, id))
                .collect();
            writer.tx.send(WriteCmd::Ticks(batch)).await.unwrap();
        }
        if b % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let total = 2 + 2 * (BATCHES * PER_BATCH) as u64;
    tokio::time::timeout(Duration::from_secs(60), committed.wait_for(|n| *n == total))
        .await
        .unwrap()
        .unwrap();
    done.store(true, Ordering::Relaxed);
    let mut all = 0;
    for r in readers {
        let (queries, errors) = r.join().unwrap();
        assert!(errors.is_empty(), "reader errors: {errors:?}");
        assert!(queries >= 3, "a reader ran only {queries} queries");
        all += queries;
    }
    let batches = writer
        .stats
        .batches
        .load(std::sync::atomic::Ordering::Relaxed);
    tokio::task::spawn_blocking(move || writer.shutdown())
        .await
        .unwrap();
    eprintln!("{all} reader queries during {batches} commits");
    let conn = store::open_reader(&db).unwrap();
    assert_eq!(query::tick_count(&conn).unwrap(), total);
}
