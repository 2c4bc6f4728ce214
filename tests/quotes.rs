//! Top of book and mark price through the production path against the mock
//! exchange: every quote the mock wrote is accounted for (stored once by the
//! conflation rule, or counted as conflated, refused or duplicate), none is
//! invented, and a stream that goes silent on a healthy connection is
//! resubscribed, then reconnected.
#![cfg(feature = "ssr")]

use pairdesk::domain::{Quote, Venue};
use pairdesk::ingest::backoff::Backoff;
use pairdesk::ingest::conflate::ConflateConfig;
use pairdesk::ingest::event::StreamKind;
use pairdesk::ingest::liveness::LivenessConfig;
use pairdesk::ingest::mock_feed::{FeedOptions, MockFeed};
use pairdesk::ingest::venues::sim::exchange::Mute;
use pairdesk::ingest::venues::sim::MockConfig;
use pairdesk::ingest::venues::Routes;
use pairdesk::store::{self, book, query};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

fn symbols() -> Vec<String> {
    vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()]
}

async fn start(db: &std::path::Path, quotes_per_s: f64, routes: Routes, strict: bool) -> MockFeed {
    let mut opts = FeedOptions::new(MockConfig {
        journal: true,
        autostart: false,
        rate_scale: 2.0,
        quotes: Some(quotes_per_s),
        strict_routes: strict,
        ..MockConfig::new(&symbols())
    });
    opts.quotes = Some(ConflateConfig::default());
    opts.routes = routes;
    opts.liveness = Some(LivenessConfig {
        ping_interval: Duration::from_millis(400),
        pong_timeout: Duration::from_millis(400),
        silence_floor: Duration::from_millis(600),
        silence_factor: 20.0,
    });
    opts.backoff = Some(Backoff::new(
        Duration::from_millis(50),
        Duration::from_millis(400),
    ));
    let feed = MockFeed::start(db, opts).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    feed.mock.resume();
    feed
}

fn status(feed: &MockFeed, stream: &str) -> pairdesk::domain::StreamStatus {
    feed.pipeline
        .stream_status()
        .into_iter()
        .find(|s| s.stream == stream)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_quote_sent_is_stored_once_or_counted_through_faults() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let mut feed = start(&db, 400.0, Routes::default(), false).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let f = feed.mock.faults();
    *f.target.lock().unwrap() = Some(StreamKind::Book);
    // A dropped connection (FIN: whatever was written arrives first).
    f.drop_connection.store(true, Relaxed);
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Frames that are not JSON, a stall, and a hole in the update ids.
    f.malformed.store(3, Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    f.stall_ms.store(300, Relaxed);
    tokio::time::sleep(Duration::from_millis(800)).await;
    f.skip_quotes.store(40, Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    feed.mock.pause();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Stopping stores every quote still pending in its interval.
    feed.stop_client(Duration::from_secs(5)).await;
    assert!(feed.pipeline.flush().await);

    let f = feed.mock.faults();
    let sent = feed.mock.sent_quotes();
    let m = &feed.pipeline.metrics;
    let received = m.quotes.load(Relaxed);
    let (refused, dup, conflated, kept) = (
        m.quotes_refused.load(Relaxed),
        m.quote_duplicates.load(Relaxed),
        m.quotes_conflated.load(Relaxed),
        m.quotes_kept.load(Relaxed),
    );
    assert!(sent.len() > 2000, "only {} quotes sent", sent.len());
    assert_eq!(received, sent.len() as u64, "a quote was lost in transit");
    assert_eq!(received, refused + dup + conflated + kept);
    assert!(f.malformed.load(Relaxed) == 0 && m.malformed.load(Relaxed) >= 3);
    assert!(status(&feed, "bookTicker").reconnects >= 1);

    let conn = store::open_reader(&db).unwrap();
    let by_id: HashMap<(String, i64), &Quote> = sent
        .iter()
        .map(|q| ((q.symbol.clone(), q.update_id), q))
        .collect();
    let mut stored = 0u64;
    for sym in symbols() {
        let rows = book::quotes(&conn, Venue::Sim, &sym, 0, i64::MAX, usize::MAX)
            .unwrap()
            .unwrap();
        stored += rows.len() as u64;
        for r in &rows {
            let s = by_id
                .get(&(sym.clone(), r.update_id))
                .unwrap_or_else(|| panic!("stored quote {} was never sent", r.update_id));
            assert_eq!(
                (s.ts, s.bid, s.bid_qty, s.ask, s.ask_qty),
                (r.ts, r.bid, r.bid_qty, r.ask, r.ask_qty)
            );
        }
        // Conflation keeps at most one quote per interval plus its price
        // changes: far fewer rows than updates, at least one per interval
        // that had any.
        assert!(rows.len() * 2 < sent.iter().filter(|q| q.symbol == sym).count());
    }
    assert_eq!(stored, kept, "kept quotes must each be stored once");

    // The book brackets the trades: most trades print at or inside the
    // stored quote in force. Not all: past the price-change budget an
    // interval keeps only its last quote, so a trade can fall between two
    // stored books (the sent book brackets every trade exactly: see the
    // simulated market's tests).
    let trades = query::ticks(&conn, Venue::Sim, "BTCUSDT", 0, i64::MAX, usize::MAX)
        .unwrap()
        .unwrap();
    let times: Vec<i64> = trades.iter().map(|t| t.exchange_ts).collect();
    // Fresh books only: the trade stream runs on while the book's
    // connection is being faulted.
    let books = book::quotes_at(&conn, Venue::Sim, "BTCUSDT", &times, 100).unwrap();
    let (mut inside, mut with_book) = (0, 0);
    for (t, b) in trades.iter().zip(&books) {
        if let Some(b) = b {
            with_book += 1;
            if b.bid <= t.price && t.price <= b.ask {
                inside += 1;
            }
        }
    }
    assert!(with_book > 100, "{with_book} trades with a book");
    assert!(
        inside as f64 / with_book as f64 > 0.8,
        "{inside} of {with_book} trades inside the stored book"
    );
    assert!(feed.shutdown().await);
}

/// Waits until `f` holds, up to `limit`; returns how long it took.
async fn within(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return Some(t0.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_book_is_resubscribed_then_reconnected() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let feed = start(&db, 200.0, Routes::default(), false).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let f = feed.mock.faults();
    let quotes = || feed.pipeline.metrics.quotes.load(Relaxed);

    // Silenced until resubscribed: the watchdog's first remedy is enough.
    *f.mute.lock().unwrap() = Some((StreamKind::Book, Mute::UntilResubscribe));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = quotes();
    let took = within(Duration::from_secs(4), || {
        status(&feed, "bookTicker").resubscribes >= 1 && quotes() > before + 50
    })
    .await
    .expect("the silent book was not resubscribed");
    // The limit is the 600 ms floor (the book's mean gap is milliseconds).
    assert!(took < Duration::from_secs(3), "recovered after {took:?}");
    assert_eq!(status(&feed, "bookTicker").reconnects, 0);
    assert!(f.subscribes.load(Relaxed) >= 1);

    // Silenced until the connection is replaced: resubscribing does not
    // help, so the next limit reconnects.
    *f.mute.lock().unwrap() = Some((StreamKind::Book, Mute::UntilReconnect));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = quotes();
    within(Duration::from_secs(6), || {
        status(&feed, "bookTicker").reconnects >= 1 && quotes() > before + 50
    })
    .await
    .expect("the silent book was not reconnected");
    let s = status(&feed, "bookTicker");
    assert!(s.silences >= 2 && s.resubscribes >= 2, "{s:?}");
    // The trade stream never noticed.
    assert_eq!(feed.pipeline.metrics.reconnects.load(Relaxed), 0);
    assert!(feed.shutdown().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_on_the_wrong_path_is_caught_by_its_silence() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    // markPrice belongs under /market; asked for under /public, the strict
    // mock acknowledges it and sends nothing, like Binance.
    let routes = Routes {
        mark_price: "/public".into(),
        ..Routes::default()
    };
    let feed = start(&db, 50.0, routes, true).await;
    let mark = within(Duration::from_secs(9), || {
        status(&feed, "markPrice").silences >= 1
    })
    .await;
    assert!(mark.is_some(), "{:?}", feed.pipeline.stream_status());
    let s = status(&feed, "markPrice");
    assert_eq!((s.messages, s.resubscribes), (0, 1), "{s:?}");
    // The streams on their right paths flow.
    assert!(status(&feed, "bookTicker").messages > 100);
    assert!(status(&feed, "trade").messages > 10);
    assert_eq!(feed.mock.faults().marks_sent.load(Relaxed), 0);
    assert!(feed.shutdown().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_prices_and_funding_history_are_served_in_binance_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let feed = start(&db, 20.0, Routes::default(), true).await;
    within(Duration::from_secs(8), || {
        status(&feed, "markPrice").messages >= 8
    })
    .await
    .expect("no mark prices");
    // Funding over REST, read by the venue adapter.
    let x = pairdesk::ingest::venues::exchange(Venue::Sim).unwrap();
    let now = pairdesk::ingest::now_ms();
    let req = x
        .funding_request(&feed.mock.http_base(), "BTCUSDT", now - 3 * 86_400_000, now)
        .unwrap();
    let body = reqwest::Client::new()
        .get(&req.url)
        .query(&req.query)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows = x.parse_funding(&body, "BTCUSDT").unwrap();
    assert!(
        (9..=10).contains(&rows.len()),
        "{} settlements in 3 days",
        rows.len()
    );
    assert!(rows.windows(2).all(|w| w[1].ts - w[0].ts == 8 * 3_600_000));
    feed.pipeline.flush().await;
    let conn = store::open_reader(&db).unwrap();
    let marks = book::marks(&conn, Venue::Sim, "ETHUSDT", 0, i64::MAX, 100)
        .unwrap()
        .unwrap();
    assert!(
        marks.len() >= 3,
        "{} marks stored of {:?}; writer {}",
        marks.len(),
        status(&feed, "markPrice"),
        feed.writer.stats.marks_inserted.load(Relaxed)
    );
    assert!(marks.windows(2).all(|w| w[1].ts > w[0].ts));
    assert!(marks
        .iter()
        .all(|m| m.index < m.mark && m.funding_rate.abs() < 1e-3));
    assert!(feed.shutdown().await);
}

/// The cost the pair view attaches, on the simulated market's stored book,
/// against the naive definition: the newest stored quote of each leg (a
/// plain query), the newest mark's funding rate, and the formulas written
/// out again here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pair_cost_matches_the_naive_definition_on_the_simulated_book() {
    use pairdesk::analytics::PriceScale;
    use pairdesk::domain::Timeframe;
    use pairdesk::model::pair::PairQuery;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let feed = start(&db, 50.0, Routes::default(), false).await;
    within(Duration::from_secs(8), || {
        status(&feed, "markPrice").messages >= 6
    })
    .await
    .expect("no mark prices");
    feed.mock.pause();
    tokio::time::sleep(Duration::from_millis(300)).await;
    feed.pipeline.flush_quotes(true).await;
    assert!(feed.pipeline.flush().await);

    // Forty 1 s bars ending now, with a cointegrated pair of closes: the
    // statistics do not matter here, only the hedge and the book.
    let end = Timeframe::S1.bucket(pairdesk::ingest::now_ms());
    let ts: Vec<i64> = (0..40).map(|i| end - (39 - i) * 1000).collect();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % 10_000) as f64 / 10_000.0 - 0.5
    };
    let mut walk = 0.0;
    let mut px = Vec::new();
    let mut py = Vec::new();
    for _ in 0..40 {
        walk += noise() * 0.002;
        px.push(90_000.0 * f64::exp(walk));
        py.push(3_100.0 * f64::exp(1.2 * walk + noise() * 0.001));
    }
    let q = PairQuery {
        x: "BTCUSDT".into(),
        y: "ETHUSDT".into(),
        timeframe: Timeframe::S1,
        bars: 40,
        ..PairQuery::default()
    };
    let mut a =
        pairdesk::services::pair::analyze_series(&q, 5.0, ts, px.clone(), py.clone()).unwrap();
    let store = pairdesk::store::SqliteStore::new(&db);
    pairdesk::services::pair::attach_cost(&store, Venue::Sim, &mut a).unwrap();
    let c = a.cost.clone().expect("both legs are quoted");

    let conn = store::open_reader(&db).unwrap();
    let newest = |sym: &str| -> (f64, f64) {
        conn.query_row(
            "SELECT bid, ask FROM quotes JOIN symbols ON symbols.id = quotes.sym \
             WHERE symbols.name = ?1 AND quotes.ts <= ?2 ORDER BY quotes.ts DESC, update_id DESC LIMIT 1",
            rusqlite::params![sym, end + 999],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let rate = |sym: &str| -> f64 {
        conn.query_row(
            "SELECT funding_rate FROM marks JOIN symbols ON symbols.id = marks.sym \
             WHERE symbols.name = ?1 ORDER BY marks.ts DESC LIMIT 1",
            [sym],
            |r| r.get(0),
        )
        .unwrap()
    };
    let ((xb, xa), (yb, ya)) = (newest("BTCUSDT"), newest("ETHUSDT"));
    assert_eq!((c.x.bid, c.x.ask, c.y.bid, c.y.ask), (xb, xa, yb, ya));
    let (mx, my) = ((xb + xa) / 2.0, (yb + ya) / 2.0);
    let beta = a
        .report
        .beta
        .last()
        .copied()
        .flatten()
        .unwrap_or(a.report.regression.beta);
    assert_eq!(q.options.prices, PriceScale::Log);
    let qx = beta * py[39] / px[39];
    assert!((c.qx - qx).abs() < 1e-12);
    let gross = my + qx.abs() * mx;
    let close = |a: f64, b: f64, what: &str| {
        assert!(
            (a - b).abs() <= 1e-9 * b.abs().max(1.0),
            "{what}: {a} vs {b}"
        )
    };
    close(c.y.quoted_bp(), (ya - yb) / my * 1e4, "quoted y");
    close(
        c.round_trip_bp,
        ((ya - yb) + qx.abs() * (xa - xb)) / gross * 1e4,
        "round trip",
    );
    // qx > 0 here (beta of a positively related pair): short buys x at the ask.
    assert!(qx > 0.0);
    close(
        c.short.entry_bp,
        ((my - yb) + qx * (xa - mx)) / gross * 1e4,
        "short entry",
    );
    close(c.short.spread, yb.ln() - beta * xa.ln(), "short spread");
    close(c.long.spread, ya.ln() - beta * xb.ln(), "long spread");
    close(c.spread_mid, my.ln() - beta * mx.ln(), "mid spread");
    let (ry, rx) = (rate("ETHUSDT"), rate("BTCUSDT"));
    let carry = (ry * my - rx * qx * mx) / gross * 1e4;
    close(c.short.funding_bp_8h.unwrap(), carry, "funding short");
    close(c.long.funding_bp_8h.unwrap(), -carry, "funding long");
    // The simulated book is one tick either side of the mid.
    close(c.x.quoted_bp(), 0.2 / mx * 1e4, "BTC two ticks");
    assert!(feed.shutdown().await);
}
