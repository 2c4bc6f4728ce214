//! Soak: the simulated market through the real path (mock exchange → client
//! → pipeline → writer) for a while, with a scripted disconnect every 10 s.
//!
//! Checks, after a warm-up: resident memory does not grow beyond a small
//! bound, the WAL stays within its checkpoint bound (and is truncated when the
//! market goes quiet), open file descriptors and live tokio tasks do not grow;
//! and at the end every generated trade is stored exactly once.
//!
//! The short version (~40 s) runs in `cargo test`. The long one runs on demand:
//! `cargo test --release --features ssr --test soak -- --ignored --nocapture`
//! (one hour; `PAIRDESK_SOAK_SECS` overrides the length).
#![cfg(feature = "ssr")]

use pairdesk::domain::{Tick, Venue};
use pairdesk::ingest::backoff::Backoff;
use pairdesk::ingest::mock_feed::{FeedOptions, MockFeed};
use pairdesk::ingest::venues::sim::MockConfig;
use pairdesk::procstat::{open_fds, rss_kb};
use pairdesk::store::{self, query};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Upper bound on the WAL while trades flow: SQLite's autocheckpoint (4096
/// pages of 16 KiB) plus a generous allowance for the transaction in flight.
const WAL_BOUND: u64 = 64 * 1024 * 1024 + 16 * 1024 * 1024;

struct Plan {
    /// Total run time, warm-up included.
    run: Duration,
    warmup: Duration,
    /// Multiplier on the five majors' rates (85 trades/s in total at 1.0).
    rate_scale: f64,
    /// Keep every generated trade and compare it field by field.
    journal: bool,
    /// Allowed RSS growth after warm-up, kB.
    rss_growth_kb: u64,
    /// Allowed growth of open fds and of live tokio tasks after warm-up.
    slack: usize,
}

fn wal_size(db: &std::path::Path) -> u64 {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

async fn soak(plan: Plan) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("soak.db");
    let symbols: Vec<String> = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut opts = FeedOptions::new(MockConfig {
        journal: plan.journal,
        autostart: false,
        rate_scale: plan.rate_scale,
        seed: 9,
        // Enough for any backfill after a drop, without a growing ring.
        rest_depth: 20_000,
        ..MockConfig::new(&symbols)
    });
    opts.backoff = Some(Backoff::new(
        Duration::from_millis(50),
        Duration::from_millis(400),
    ));
    let mut feed = MockFeed::start(&db, opts).await.unwrap();
    let (mock, pipeline) = (&feed.mock, feed.pipeline.clone());
    mock.resume();

    let started = Instant::now();
    // One disconnect inside the warm-up, so the baseline already holds the
    // backfiller's keep-alive REST connection (2 fds and its tasks, both ends
    // in-process), which is pooled, not leaked.
    tokio::time::sleep(plan.warmup / 2).await;
    mock.faults().drop_connection.store(true, Relaxed);
    tokio::time::sleep(plan.warmup / 2).await;
    let (rss0, fds0, tasks0) = (rss_kb().unwrap(), open_fds().unwrap(), tasks());
    let (mut rss_max, mut wal_max, mut fds_max, mut tasks_max) = (rss0, 0u64, fds0, tasks0);
    let mut next_drop = Instant::now() + Duration::from_secs(10);
    let mut quiet_checked = false;
    // (fds, tasks) of the last 5 s: a leak persists, a reconnect's socket
    // or task in passing does not.
    let mut recent: std::collections::VecDeque<(usize, usize)> = Default::default();
    while started.elapsed() < plan.run {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (fds, n_tasks) = (open_fds().unwrap(), tasks());
        rss_max = rss_max.max(rss_kb().unwrap());
        wal_max = wal_max.max(wal_size(&db));
        fds_max = fds_max.max(fds);
        tasks_max = tasks_max.max(n_tasks);
        recent.push_back((fds, n_tasks));
        if recent.len() > 10 {
            recent.pop_front();
        }
        if Instant::now() >= next_drop {
            // A disconnect in mid-flow: the gap is backfilled over REST.
            mock.faults().drop_connection.store(true, Relaxed);
            next_drop += Duration::from_secs(10);
        }
        // Once, halfway: the market goes quiet and the writer's idle
        // housekeeping must truncate the WAL.
        if !quiet_checked && started.elapsed() >= plan.run / 2 {
            quiet_checked = true;
            mock.pause();
            let deadline = Instant::now() + Duration::from_secs(6);
            while wal_size(&db) > 0 {
                assert!(
                    Instant::now() < deadline,
                    "WAL not truncated after the market went quiet: {} bytes",
                    wal_size(&db)
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            mock.resume();
        }
    }
    let fds_end = recent.iter().map(|r| r.0).min().unwrap_or(fds0);
    let tasks_end = recent.iter().map(|r| r.1).min().unwrap_or(tasks0);
    mock.pause();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let generated = mock.generated();

    // Everything generated reaches the store (gaps backfilled), once.
    let deadline = Instant::now() + Duration::from_secs(20);
    while feed.writer.stats.inserted.load(Relaxed) < generated {
        assert!(
            Instant::now() < deadline,
            "only {} of {generated} trades stored",
            feed.writer.stats.inserted.load(Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reconnects = pipeline.metrics.reconnects.load(Relaxed);
    drop(pipeline);
    feed.stop_client(Duration::from_secs(3)).await;
    let journal = feed.mock.journal();
    let stats = feed.writer.stats.clone();
    assert!(feed.shutdown().await, "the writer did not stop");
    eprintln!(
        "soak: {:.0} s, {generated} trades, {reconnects} reconnects, RSS {} -> max {} kB, \
         WAL max {} kB, fds {fds0} -> {fds_end} (max {fds_max}), \
         tasks {tasks0} -> {tasks_end} (max {tasks_max})",
        started.elapsed().as_secs_f64(),
        rss0,
        rss_max,
        wal_max / 1024
    );

    assert!(generated > 0, "the market generated nothing");
    assert!(reconnects >= 1, "no scripted disconnect happened");
    assert_eq!(
        stats.inserted.load(Relaxed),
        generated,
        "stored != generated"
    );
    let conn = store::open_reader(&db).unwrap();
    let mut total = 0u64;
    for s in &symbols {
        let ids = query::trade_ids(&conn, Venue::Sim, s).unwrap();
        // Binance-style ids: consecutive per symbol, so none missing or doubled.
        if let (Some(first), Some(last)) = (ids.first(), ids.last()) {
            assert_eq!(
                (last - first + 1) as usize,
                ids.len(),
                "{s}: ids not consecutive"
            );
            assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{s}: ids repeat");
        }
        total += ids.len() as u64;
    }
    assert_eq!(total, generated, "stored ids != generated trades");
    if plan.journal {
        assert_eq!(journal.len() as u64, generated);
        let mut want: BTreeMap<&str, Vec<&Tick>> = BTreeMap::new();
        for t in &journal {
            want.entry(t.symbol.as_str()).or_default().push(t);
        }
        for (s, ticks) in want {
            let stored = query::trade_ids(&conn, Venue::Sim, s).unwrap();
            let ids: Vec<i64> = ticks.iter().map(|t| t.trade_id).collect();
            assert_eq!(stored, ids, "{s}: stored ids differ from the journal");
        }
    }

    assert!(
        rss_max <= rss0 + plan.rss_growth_kb,
        "RSS grew from {rss0} kB to {rss_max} kB after warm-up (bound +{} kB)",
        plan.rss_growth_kb
    );
    assert!(wal_max <= WAL_BOUND, "WAL reached {wal_max} bytes");
    assert!(
        fds_end <= fds0 + plan.slack,
        "open file descriptors grew from {fds0} to {fds_end}"
    );
    assert!(
        tasks_end <= tasks0 + plan.slack,
        "live tokio tasks grew from {tasks0} to {tasks_end}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_soak_is_flat_and_stores_every_trade_once() {
    soak(Plan {
        run: Duration::from_secs(40),
        warmup: Duration::from_secs(8),
        // ~850 trades/s.
        rate_scale: 10.0,
        journal: true,
        // The journal itself grows by ~30k ticks (a few MB).
        rss_growth_kb: 24 * 1024,
        // A leak grows with every reconnect (three after the warm-up, each
        // costing an fd and a task on both ends), so 2 still catches one,
        // while a REST connection that hyper opened in passing does not fail
        // the run.
        slack: 2,
    })
    .await;
}

/// One hour (or `PAIRDESK_SOAK_SECS`) at ~1,700 trades/s, no journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long soak, run on demand"]
async fn long_soak_is_flat_and_stores_every_trade_once() {
    let secs = std::env::var("PAIRDESK_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(3600);
    soak(Plan {
        run: Duration::from_secs(secs),
        warmup: Duration::from_secs(60),
        rate_scale: 20.0,
        journal: false,
        // The writer's SQLite page cache (cache_size 64 MB) fills as the
        // database grows: bounded, but it takes minutes at this rate (an
        // hour: +65 MiB).
        rss_growth_kb: 96 * 1024,
        // As the short soak, with room for a REST connection in passing
        // (2 fds and 2 tasks with the mock in-process); an hour ran 21 -> 21
        // fds and 9 -> 9 tasks.
        slack: 4,
    })
    .await;
}
