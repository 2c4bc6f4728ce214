//! History on start, end to end through the production wiring:
//! - the simulated market, started twice on one database by
//!   `start_source` (what `serve` runs): the first start stores the whole
//!   lookback, the second fills exactly the time since the last stored
//!   tick; ids stay consecutive (every trade once, none missing) and the
//!   price continues where it stopped.
//! - a live venue's REST history against the mock exchange (Binance's
//!   wire): the start id found by `aggTrades?startTime`, then the span to
//!   the live stream paged by id; every trade the mock generated from the
//!   lookback's start on is stored exactly once, whether the history
//!   request or the first live trade comes first.
#![cfg(feature = "ssr")]

use pairdesk::config::{Config, SourceSpec};
use pairdesk::domain::{Tick, Venue};
use pairdesk::ingest::history;
use pairdesk::ingest::mock_feed::{FeedOptions, MockFeed};
use pairdesk::ingest::now_ms;
use pairdesk::ingest::pipeline::Pipeline;
use pairdesk::ingest::venues::sim::{MockConfig, SIM};
use pairdesk::server::source::start_source;
use pairdesk::store::writer::Writer;
use pairdesk::store::{self, query, Durability, SqliteStore, Store};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

fn symbols() -> Vec<String> {
    vec!["BTCUSDT".into(), "ETHUSDT".into()]
}

async fn until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ok() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn history_done(p: &Pipeline) -> bool {
    p.snapshot(0).history.is_some_and(|h| h.pending.is_empty())
}

/// Every stored tick of `symbol`, in id order.
fn stored(db: &Path, symbol: &str) -> Vec<Tick> {
    let conn = store::open_reader(db).unwrap();
    let mut t = query::ticks(&conn, Venue::Sim, symbol, i64::MIN, i64::MAX, usize::MAX)
        .unwrap()
        .unwrap_or_default();
    t.sort_by_key(|t| t.trade_id);
    t
}

fn assert_consecutive(ticks: &[Tick], what: &str) {
    assert!(!ticks.is_empty(), "{what}: nothing stored");
    for w in ticks.windows(2) {
        assert_eq!(
            w[1].trade_id,
            w[0].trade_id + 1,
            "{what}: ids jump at {}",
            w[0].trade_id
        );
    }
}

/// One `serve`-like run of the simulated market with history on start:
/// wait for the history and `live_for` of live trades, then stop and flush.
async fn run_sim(db: &Path, lookback: Duration, live_for: Duration) -> u64 {
    let config = Config {
        source: SourceSpec::Sim,
        symbols: symbols(),
        history: Some(lookback),
        db: db.to_path_buf(),
        ..Default::default()
    };
    let writer = Writer::spawn(store::open_writer(db, Durability::Normal).unwrap(), 1024);
    let pipeline = Pipeline::new(writer.tx.clone());
    let reads: std::sync::Arc<dyn Store> = std::sync::Arc::new(SqliteStore::new(db));
    let (stop, tasks) = (CancellationToken::new(), TaskTracker::new());
    let started = start_source(
        &config,
        pipeline.clone(),
        stop.clone(),
        &tasks,
        Some(reads.as_ref()),
    )
    .await
    .unwrap();
    until("the history", Duration::from_secs(60), || {
        history_done(&pipeline)
    })
    .await;
    let loaded = pipeline.snapshot(0).history.unwrap().loaded;
    tokio::time::sleep(live_for).await;
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    drop(started);
    pipeline.flush().await;
    drop(pipeline);
    tokio::task::spawn_blocking(move || writer.shutdown())
        .await
        .unwrap();
    loaded
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_market_fills_its_lookback_and_a_restart_fills_only_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let lookback = Duration::from_secs(600);
    let t0 = now_ms();
    let first = run_sim(&db, lookback, Duration::from_millis(1500)).await;
    // 10 minutes at about 55 trades/s.
    assert!(first > 20_000, "first start loaded {first} ticks");
    let before: BTreeMap<String, Vec<Tick>> = symbols()
        .into_iter()
        .map(|s| (s.clone(), stored(&db, &s)))
        .collect();
    for (s, t) in &before {
        assert_consecutive(t, s);
        let start = t[0].exchange_ts;
        assert!(
            start >= t0 - 600_000 && start < t0 - 590_000,
            "{s}: history starts at {start}, lookback from {}",
            t0 - 600_000
        );
        assert!(t.last().unwrap().exchange_ts > t0, "{s}: no live trades");
    }
    // Down for two seconds, then again: only the gap is generated.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second = run_sim(&db, lookback, Duration::from_millis(1500)).await;
    assert!(
        second > 0 && second < first / 20,
        "second start loaded {second} ticks (first {first})"
    );
    for (s, old) in &before {
        let all = stored(&db, s);
        assert_consecutive(&all, s);
        assert_eq!(&all[..old.len()], &old[..], "{s}: stored ticks changed");
        let (a, b) = (&all[old.len() - 1], &all[old.len()]);
        // The price goes on from where it stopped (a few seconds of noise).
        assert!(
            (b.price / a.price - 1.0).abs() < 0.005,
            "{s}: price jumps from {} to {} across the restart",
            a.price,
            b.price
        );
        assert!(
            b.exchange_ts >= a.exchange_ts,
            "{s}: time goes back across the restart"
        );
    }
}

/// The REST history of a venue against the mock: the mock has traded for
/// the last eleven minutes; history on start asks for the last ten, and
/// gets the newest pages first.
async fn rest_history(live_first: bool) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let t0 = now_ms();
    let feed = MockFeed::start(
        &db,
        FeedOptions::new(MockConfig {
            journal: true,
            seed: 11,
            rest_depth: 1_000_000,
            history_from: Some(t0 - 660_000),
            ..MockConfig::new(&symbols())
        }),
    )
    .await
    .unwrap();
    // This test reads the history over REST only.
    drop(feed.mock.take_history());
    let from_ms = t0 - 600_000;
    if live_first {
        until("live trades", Duration::from_secs(10), || {
            feed.pipeline.snapshot(0).symbols.len() == 2
        })
        .await;
    }
    feed.pipeline.history_begin(from_ms, &symbols());
    let http = reqwest::Client::new();
    let last = symbols().into_iter().map(|s| (s, None)).collect();
    history::start_live(
        &http,
        &feed.mock.http_base(),
        &SIM,
        pairdesk::ingest::event::DataKind::Trade,
        last,
        from_ms,
        &feed.pipeline,
    )
    .await;
    // Newest first: the first pages stored are next to the live stream (a
    // forward fill would start ten minutes back).
    until("the first history page", Duration::from_secs(30), || {
        feed.pipeline
            .snapshot(0)
            .history
            .is_some_and(|h| h.loaded > 0)
    })
    .await;
    let h = feed.pipeline.snapshot(0).history.unwrap();
    let (oldest, newest) = (h.oldest_ts.unwrap(), h.newest_ts.unwrap());
    assert!(
        newest >= t0 - 10_000 && oldest >= t0 - 300_000,
        "first history pages span {oldest}..{newest}, live from about {t0}"
    );
    until("the history", Duration::from_secs(60), || {
        history_done(&feed.pipeline)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    feed.mock.pause();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let journal = feed.mock.journal();
    let snapshot = feed.pipeline.snapshot(0);
    assert!(feed.shutdown().await, "writer did not stop");
    assert_eq!(snapshot.gaps_found, 0, "history counted as a gap");
    let loaded = snapshot.history.unwrap().loaded;
    for s in symbols() {
        let mine: Vec<&Tick> = journal.iter().filter(|t| t.symbol == s).collect();
        let first = mine
            .iter()
            .find(|t| t.exchange_ts >= from_ms)
            .unwrap()
            .trade_id;
        let want: Vec<i64> = mine
            .iter()
            .map(|t| t.trade_id)
            .filter(|&id| id >= first)
            .collect();
        let got: Vec<i64> = stored(&db, &s).iter().map(|t| t.trade_id).collect();
        assert_eq!(
            got, want,
            "{s}: stored ids differ from the mock's from {first} on"
        );
        assert!(want.len() > 1000, "{s}: only {} trades", want.len());
    }
    assert!(loaded > 20_000, "history loaded {loaded}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_history_stores_the_lookback_once_when_it_asks_first() {
    rest_history(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_history_stores_the_lookback_once_when_live_trades_come_first() {
    rest_history(true).await;
}

/// The venue's trading rules come from its listing answer (the mock serves
/// USD-M's `exchangeInfo` filters) into the store; an unreadable answer
/// or a throttled one leaves the stored rules as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trading_rules_are_fetched_and_a_bad_answer_keeps_the_stored_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let mock = pairdesk::ingest::venues::sim::MockExchange::start(MockConfig {
        autostart: false,
        ..MockConfig::new(&symbols())
    })
    .await
    .unwrap();
    let writer = Writer::spawn(store::open_writer(&db, Durability::Normal).unwrap(), 64);
    let pipeline = Pipeline::new(writer.tx.clone());
    let http = reqwest::Client::new();
    let mut syms = symbols();
    syms.push("SOLUSDT".into());
    history::fetch_rules(&http, &mock.http_base(), &SIM, &syms, &pipeline).await;
    pipeline.flush().await;
    let st = SqliteStore::new(&db);
    let btc = st.symbol_rules(Venue::Sim, "BTCUSDT").unwrap().unwrap();
    assert_eq!(
        (btc.qty_step, btc.min_qty, btc.tick_size, btc.min_notional),
        (0.001, 0.001, 0.1, 5.0)
    );
    let sol = st.symbol_rules(Venue::Sim, "SOLUSDT").unwrap().unwrap();
    assert_eq!((sol.qty_step, sol.tick_size), (0.01, 0.01));

    // Unreadable filters for every symbol: nothing replaced.
    mock.faults()
        .bad_filters
        .store(3, std::sync::atomic::Ordering::Relaxed);
    history::fetch_rules(&http, &mock.http_base(), &SIM, &syms, &pipeline).await;
    pipeline.flush().await;
    assert_eq!(
        st.symbol_rules(Venue::Sim, "BTCUSDT").unwrap().unwrap(),
        btc
    );
    // A throttled answer is retried.
    mock.faults()
        .throttle_retry_after_s
        .store(0, std::sync::atomic::Ordering::Relaxed);
    mock.faults()
        .throttle_rest
        .store(1, std::sync::atomic::Ordering::Relaxed);
    history::fetch_rules(
        &http,
        &mock.http_base(),
        &SIM,
        &["XRPUSDT".to_string()],
        &pipeline,
    )
    .await;
    pipeline.flush().await;
    assert_eq!(
        st.symbol_rules(Venue::Sim, "XRPUSDT")
            .unwrap()
            .unwrap()
            .qty_step,
        0.1
    );
    drop(pipeline);
    tokio::task::spawn_blocking(move || writer.shutdown())
        .await
        .unwrap();
}
