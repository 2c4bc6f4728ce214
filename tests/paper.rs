//! Paper trading against the backtest: on a stored synthetic market, the
//! engine run pass by pass through time must trade exactly what the
//! backtest of the same query trades on the same bars (same signals, sides,
//! quantities and fill prices), with and without stored books; a session
//! must be stoppable and flatten; and passes repeated at the same instant
//! (a restart) must change nothing. On the same stored market, a two-leg
//! basket backtests as the pair does, and a three-leg basket's session
//! trades what the basket's backtest trades.
#![cfg(feature = "ssr")]

use pairdesk::analytics::backtest::{FillAt, Touch};
use pairdesk::analytics::AnalyzeOptions;
use pairdesk::domain::{Quote, Side, Tick, Timeframe, Venue};
use pairdesk::model::pair::PairQuery;
use pairdesk::model::paper::{FillRole, OrderStatus, PaperFill, SessionStatus, Traded};
use pairdesk::services::{pair, paper};
use pairdesk::store::{self, writer::WriteCmd, writer::Writer, Durability, SqliteStore, Store};
use std::path::Path;

const T0: i64 = 1_765_000_000_000;
const BARS: i64 = 360;
const BAR: i64 = 1000;

/// xorshift64*, for a reproducible market.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Roughly standard normal (sum of uniforms).
    fn normal(&mut self) -> f64 {
        (0..12)
            .map(|_| (self.next() >> 11) as f64 / (1u64 << 53) as f64)
            .sum::<f64>()
            - 6.0
    }
}

/// Four trades per second per leg; y = x^1.2 times a mean-reverting factor,
/// so the z-score crosses the bands many times, and SOLUSDT = x^0.7 times
/// a factor of its own (drawn apart, so the pair's market does not depend
/// on it). Quotes every 100 ms.
fn market(seed: u64) -> (Vec<Tick>, Vec<Quote>) {
    let mut r = Rng(seed);
    let mut r3 = Rng(seed.wrapping_mul(31) + 7);
    let (mut lx, mut s, mut s3) = (100f64.ln(), 0.0f64, 0.0f64);
    let mut ticks = Vec::new();
    let mut quotes = Vec::new();
    let mut id = 1;
    for k in 0..BARS * 10 {
        let ts = T0 + k * 100;
        lx += 0.0004 * r.normal();
        s = 0.9 * s + 0.0015 * r.normal();
        s3 = 0.95 * s3 + 0.001 * r3.normal();
        let x = lx.exp();
        let y = (1.2 * lx + s).exp() / 10.0;
        let z = (0.7 * lx + s3 + 0.5 * s).exp();
        for (sym, p) in [("BTCUSDT", x), ("ETHUSDT", y), ("SOLUSDT", z)] {
            let p = (p * 1e4).round() / 1e4;
            if k % 10 == 5 {
                quotes.push(Quote {
                    venue: Venue::Sim,
                    symbol: sym.into(),
                    update_id: id,
                    ts,
                    receive_ts: ts,
                    bid: p * (1.0 - 1e-4),
                    bid_qty: 1.0,
                    ask: p * (1.0 + 1e-4),
                    ask_qty: 1.0,
                });
            }
            if k % 10 % 3 == 0 {
                ticks.push(Tick {
                    venue: Venue::Sim,
                    symbol: sym.into(),
                    trade_id: id,
                    exchange_ts: ts,
                    receive_ts: ts,
                    price: p,
                    qty: 0.01,
                    side: if id % 2 == 0 { Side::Buy } else { Side::Sell },
                });
            }
            id += 1;
        }
    }
    (ticks, quotes)
}

fn write(db: &Path, ticks: Vec<Tick>, quotes: Option<Vec<Quote>>) {
    let writer = Writer::spawn(store::open_writer(db, Durability::Normal).unwrap(), 64);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    writer.tx.blocking_send(WriteCmd::Ticks(ticks)).unwrap();
    if let Some(q) = quotes {
        writer.tx.blocking_send(WriteCmd::Quotes(q)).unwrap();
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    writer.tx.blocking_send(WriteCmd::Flush(tx)).unwrap();
    rt.block_on(rx).unwrap();
    writer.shutdown();
}

fn query(fill: FillAt) -> PairQuery {
    let mut q = PairQuery {
        x: "BTCUSDT".into(),
        y: "ETHUSDT".into(),
        timeframe: Timeframe::S1,
        bars: 1000,
        ffill: 0,
        options: AnalyzeOptions {
            window: Some(40),
            z_window: 20,
            entry: 1.2,
            exit: 0.3,
            ..AnalyzeOptions::default()
        },
        corr_window: 20,
        ..PairQuery::default()
    };
    q.backtest.fill = fill;
    q.backtest.stop_pct = Some(0.4);
    q.backtest.max_hold_bars = Some(25);
    q.backtest.beta_max = 100.0;
    q.backtest.beta_jump = None;
    q
}

/// Run the engine every 250 ms of simulated time over the whole market.
fn run_engine(st: &dyn Store, until: i64) {
    let mut now = T0;
    while now <= until {
        paper::pass(st, now).unwrap();
        now += 250;
    }
}

/// Round trips from fills: (signal_ts, qty_x, qty_y, entry_x, entry_y,
/// exit_x, exit_y).
type Trip = (i64, f64, f64, f64, f64, Option<f64>, Option<f64>);

fn trips(fills: &[PaperFill]) -> Vec<Trip> {
    let mut out: Vec<Trip> = Vec::new();
    let find = |sig: i64, leg: usize, role: FillRole| {
        fills
            .iter()
            .find(|f| f.signal_ts == sig && f.leg == leg && f.role == role)
            .cloned()
    };
    let mut sigs: Vec<i64> = fills.iter().map(|f| f.signal_ts).collect();
    sigs.dedup();
    for sig in sigs {
        if let (Some(cx), Some(cy)) = (find(sig, 0, FillRole::Close), find(sig, 1, FillRole::Close))
        {
            let last = out.last_mut().expect("a close follows an open");
            last.5 = Some(cx.price);
            last.6 = Some(cy.price);
        }
        if let (Some(ox), Some(oy)) = (find(sig, 0, FillRole::Open), find(sig, 1, FillRole::Open)) {
            out.push((sig, ox.qty, oy.qty, ox.price, oy.price, None, None));
        }
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

/// The engine's trips equal the backtest's trades.
fn assert_same(paper: &[Trip], bt: &pairdesk::analytics::BacktestResult, ts: &[i64]) {
    let trades = &bt.trades;
    assert!(
        trades.len() >= 4,
        "the market should trade a few times, got {}",
        trades.len()
    );
    assert_eq!(
        paper.len(),
        trades.len(),
        "paper {paper:#?}\nbacktest {trades:#?}"
    );
    for (p, t) in paper.iter().zip(trades) {
        assert_eq!(p.0, ts[t.signal_bar], "signal bar");
        assert!(
            close(p.1, t.qty_x) && close(p.2, t.qty_y),
            "qty {p:?} {t:?}"
        );
        assert!(
            close(p.3, t.entry_x) && close(p.4, t.entry_y),
            "entry {p:?} {t:?}"
        );
        match (p.5, t.exit_x) {
            (Some(a), Some(b)) => assert!(close(a, b) && close(p.6.unwrap(), t.exit_y.unwrap())),
            (None, None) => {}
            // The backtest's last trade may still be open at the end while
            // the engine, running a little past it, closed it.
            (Some(_), None) => assert!(std::ptr::eq(t, trades.last().unwrap())),
            other => panic!("exit differs: {other:?} in {p:?} {t:?}"),
        }
    }
}

#[test]
fn the_engine_trades_what_the_backtest_trades_without_books() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let (ticks, _) = market(7);
    write(&db, ticks, None);
    let st = SqliteStore::new(&db);
    let q = query(FillAt::NextOpen);
    let s = paper::start_session(&st, Venue::Sim, Traded::Pair(q.clone()), T0).unwrap();
    let end = T0 + BARS * BAR;
    run_engine(&st, end + 2000);

    let fills = st.paper_fills(s.id).unwrap();
    assert!(fills.iter().all(|f| !f.on_book), "no books stored");
    let mut bq = q.clone();
    bq.to = Some(end);
    let a = pair::pair_analytics(&st, Venue::Sim, bq).unwrap();
    let bt = a.backtest.as_ref().expect("backtest ran");
    assert_same(&trips(&fills), bt, &a.ts);
    // Every fill is of an order marked filled, never of one still pending.
    let orders = st.paper_orders(s.id, 10_000).unwrap();
    for f in &fills {
        let o = orders.iter().find(|o| o.signal_ts == f.signal_ts).unwrap();
        assert_eq!(o.status, OrderStatus::Filled);
    }

    // Passes repeated at the same instants (a restart) change nothing.
    let before = (
        st.paper_fills(s.id).unwrap(),
        st.paper_orders(s.id, 10_000).unwrap(),
    );
    run_engine(&st, end + 2000);
    assert_eq!(
        before,
        (
            st.paper_fills(s.id).unwrap(),
            st.paper_orders(s.id, 10_000).unwrap()
        )
    );
}

#[test]
fn the_engine_trades_what_the_backtest_trades_on_the_stored_book() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let (ticks, quotes) = market(11);
    write(&db, ticks, Some(quotes.clone()));
    let st = SqliteStore::new(&db);
    let q = query(FillAt::NextQuote);
    let s = paper::start_session(&st, Venue::Sim, Traded::Pair(q.clone()), T0).unwrap();
    let end = T0 + BARS * BAR;
    run_engine(&st, end + 2000);
    let fills = st.paper_fills(s.id).unwrap();
    assert!(!fills.is_empty() && fills.iter().all(|f| f.on_book));

    // The backtest with, for the fill on each bar, each leg's first book
    // update at or after the bar's start: the next quote after the
    // previous bar's close.
    let mut bq = q.clone();
    bq.to = Some(end);
    bq.backtest.fill = FillAt::NextOpen;
    let a = pair::pair_analytics(&st, Venue::Sim, bq).unwrap();
    let first_after = |sym: &str, t: i64| -> Option<Touch> {
        quotes
            .iter()
            .find(|x| x.symbol == sym && x.ts >= t)
            .map(|x| Touch {
                bid: x.bid,
                ask: x.ask,
                ts: x.ts,
            })
    };
    let bars = |sym: &str| {
        st.bars(Venue::Sim, sym, Timeframe::S1, a.ts[0], end)
            .unwrap()
            .unwrap()
    };
    let (bx, by) = (bars("BTCUSDT"), bars("ETHUSDT"));
    assert_eq!(bx.len(), a.ts.len());
    let series = pair::BacktestSeries {
        ts: a.ts.clone(),
        bar_ms: BAR,
        x_open: bx.iter().map(|b| b.open).collect(),
        x_close: a.px.clone(),
        y_open: by.iter().map(|b| b.open).collect(),
        y_close: a.py.clone(),
        x_book: Some(a.ts.iter().map(|&t| first_after("BTCUSDT", t)).collect()),
        y_book: Some(a.ts.iter().map(|&t| first_after("ETHUSDT", t)).collect()),
        x_funding: vec![],
        y_funding: vec![],
    };
    let mut bo = q.backtest;
    bo.fee_bps_x = pair::venue_fee_bps(Venue::Sim);
    bo.fee_bps_y = bo.fee_bps_x;
    let bt = pair::run_backtest(&series, &a.report, &q.options, &bo, None).unwrap();
    assert_same(&trips(&fills), &bt, &a.ts);
    // The stored-bar backtest with next-quote fills reads the same books.
    let mut nq = q.clone();
    nq.to = Some(end);
    let stored = pair::pair_analytics(&st, Venue::Sim, nq).unwrap();
    assert_eq!(stored.backtest.as_ref(), Some(&bt));
}

#[test]
fn a_stopped_session_flattens_then_trades_no_more() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let (ticks, quotes) = market(7);
    write(&db, ticks, Some(quotes));
    let st = SqliteStore::new(&db);
    let s =
        paper::start_session(&st, Venue::Sim, Traded::Pair(query(FillAt::NextQuote)), T0).unwrap();
    // Run until the session holds a position, then stop it.
    let mut now = T0;
    loop {
        paper::pass(&st, now).unwrap();
        now += 250;
        if paper::paper_book(&st, s.id).unwrap().ledger.side.is_some() {
            break;
        }
        assert!(now < T0 + BARS * BAR, "never entered");
    }
    let stopped = paper::stop_session(&st, s.id, now).unwrap();
    assert_eq!(stopped.status, SessionStatus::Stopping);
    for _ in 0..8 {
        now += 250;
        paper::pass(&st, now).unwrap();
    }
    let book = paper::paper_book(&st, s.id).unwrap();
    assert_eq!(book.session.status, SessionStatus::Stopped);
    assert_eq!(book.ledger.side, None, "{:?}", book.ledger);
    assert_eq!(book.ledger.qty, vec![0.0, 0.0]);
    assert!((book.ledger.unrealized).abs() < 1e-9);
    let n = book.ledger.fills;
    run_engine(&st, T0 + BARS * BAR);
    assert_eq!(paper::paper_book(&st, s.id).unwrap().ledger.fills, n);
    assert!(matches!(
        paper::stop_session(&st, 999, now),
        Err(paper::PaperError::NotFound(999))
    ));
}

#[test]
fn bad_sessions_are_refused_naming_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let (ticks, _) = market(3);
    write(&db, ticks, None);
    let st = SqliteStore::new(&db);
    let named = |q: PairQuery| match paper::start_session(&st, Venue::Sim, Traded::Pair(q), T0) {
        Err(paper::PaperError::Pair(pairdesk::model::pair::PairError::BadParam {
            name, ..
        })) => name,
        other => panic!("expected a bad parameter, got {other:?}"),
    };
    let mut q = query(FillAt::NextQuote);
    q.to = Some(T0);
    assert_eq!(named(q), "to");
    let mut q = query(FillAt::NextQuote);
    q.backtest.notional = -1.0;
    assert_eq!(named(q), "notional");
    let mut q = query(FillAt::NextQuote);
    q.options.window = Some(2);
    assert_eq!(named(q), "window");
    let mut q = query(FillAt::NextQuote);
    q.y = "NOPEUSDT".into();
    assert!(matches!(
        paper::start_session(&st, Venue::Sim, Traded::Pair(q), T0),
        Err(paper::PaperError::Pair(
            pairdesk::model::pair::PairError::UnknownSymbol(_)
        ))
    ));
}

// ------------------------------------------------------------------ crash

mod crash {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// One HTTP/1.1 request; the status and body.
    fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let status = out.get(9..12)?.parse().ok()?;
        let body = out.split_once("\r\n\r\n")?.1.to_string();
        Some((status, body))
    }

    fn serve(db: &Path, port: u16) -> Child {
        let child = Command::new(env!("CARGO_BIN_EXE_pairdesk"))
            .args(["serve", "--source", "sim", "--history", "10m", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--db")
            .arg(db)
            .current_dir(db.parent().unwrap())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        while http(port, "GET", "/api/v1/paper", "").is_none_or(|r| r.0 != 200) {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "server did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    }

    fn sigkill(mut child: Child) {
        assert!(Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status()
            .unwrap()
            .success());
        child.wait().unwrap();
    }

    /// Poll the session until an order is pending; its signal time.
    fn wait_pending(port: u16, id: i64) -> i64 {
        let t0 = Instant::now();
        loop {
            if let Some((200, body)) = http(port, "GET", &format!("/api/v1/paper/{id}"), "") {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                if let Some(ts) = v["pending"]["signal_ts"].as_i64() {
                    return ts;
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(90),
                "no order was decided in 90 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL the server while an order is decided but not filled,
    /// restart it, several times: the stored fills never double, every
    /// filled order has both legs, every close flattens exactly what was
    /// held, and each killed-at order ends filled once or expired.
    #[test]
    fn sigkill_between_signal_and_fill_leaves_positions_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crash.db");
        let port = free_port();
        let mut child = serve(&db, port);
        // Low thresholds and fills at the next bar's close, so an order is
        // pending for about a second, often.
        let q = r#"{"x":"BTCUSDT","y":"ETHUSDT","timeframe":"1s","bars":300,
            "options":{"window":30,"z_window":15,"entry":0.5,"exit":0.1},
            "backtest":{"fill":"next-close","beta_min":-100,"beta_max":100,"beta_jump":null}}"#;
        let (status, body) = http(port, "POST", "/api/v1/paper", q).unwrap();
        assert_eq!(status, 201, "{body}");
        let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
            .as_i64()
            .unwrap();
        let mut killed_at = Vec::new();
        for _ in 0..3 {
            killed_at.push(wait_pending(port, id));
            sigkill(child);
            child = serve(&db, port);
        }
        // Let it trade on after the last restart.
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(4) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let (_, body) = http(port, "GET", &format!("/api/v1/paper/{id}"), "").unwrap();
        let book: pairdesk::model::paper::PaperBook = serde_json::from_str(&body).unwrap();
        sigkill(child);

        let st = SqliteStore::new(&db);
        let fills = st.paper_fills(id).unwrap();
        let orders = st.paper_orders(id, 100_000).unwrap();
        assert!(!fills.is_empty(), "the session traded");
        // No fill is doubled: one per (signal, leg, role).
        let mut keys: Vec<_> = fills
            .iter()
            .map(|f| (f.signal_ts, f.leg as u8, f.role as u8))
            .collect();
        keys.sort();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "a fill was stored twice");
        // Each filled order's parts have both legs; nothing else has fills.
        for o in &orders {
            let of: Vec<&PaperFill> = fills
                .iter()
                .filter(|f| f.signal_ts == o.signal_ts)
                .collect();
            match o.status {
                OrderStatus::Filled => {
                    for role in [FillRole::Close, FillRole::Open] {
                        let legs = of.iter().filter(|f| f.role == role).count();
                        assert!(legs == 0 || legs == 2, "one-legged {role:?} of {o:?}");
                    }
                }
                _ => assert!(of.is_empty(), "fills of an unfilled order {o:?}"),
            }
        }
        assert!(
            orders
                .iter()
                .filter(|o| o.status == OrderStatus::Pending)
                .count()
                <= 1
        );
        // Every close flattens exactly the position held before it.
        let (mut qx, mut qy) = (0.0f64, 0.0f64);
        for f in &fills {
            if f.role == FillRole::Close {
                let held = if f.leg == 0 { qx } else { qy };
                assert!((f.qty + held).abs() < 1e-9, "close {f:?} of {held}");
            }
            if f.leg == 0 {
                qx += f.qty;
            } else {
                qy += f.qty;
            }
            if f.role == FillRole::Open {
                let held = if f.leg == 0 { qx - f.qty } else { qy - f.qty };
                assert!(held.abs() < 1e-9, "open {f:?} on top of {held}");
            }
        }
        // The API's position (read before the last kill) is the sum of the
        // fills stored by then.
        let seen = &fills[..book.ledger.fills];
        for leg in [0, 1] {
            let sum: f64 = seen.iter().filter(|f| f.leg == leg).map(|f| f.qty).sum();
            assert!(
                (book.ledger.qty[leg] - sum).abs() < 1e-9,
                "{:?}",
                book.ledger
            );
        }
        // Each order the process was killed at was filled once or expired.
        for ts in killed_at {
            let o = orders.iter().find(|o| o.signal_ts == ts).unwrap();
            assert_ne!(o.status, OrderStatus::Pending, "{o:?} never resolved");
            assert!(fills.iter().filter(|f| f.signal_ts == ts).count() <= 4);
        }
        let conn = store::open_reader(&db).unwrap();
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
    }
}

/// `pairdesk backtest` prints the API's backtest for the same parameters,
/// and `pairdesk paper` starts, lists and stops sessions in the database.
#[test]
fn the_cli_backtests_as_the_api_does_and_runs_paper_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let (ticks, _) = market(5);
    write(&db, ticks, None);
    let end = T0 + BARS * BAR;
    // The command's stdout, which must succeed; `cli` reads it as JSON.
    let run = |args: &[&str]| -> Vec<u8> {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pairdesk"))
            .args(args)
            .arg("--db")
            .arg(&db)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let cli = |args: &[&str]| -> serde_json::Value { serde_json::from_slice(&run(args)).unwrap() };
    let to = format!("to={end}");
    let got = cli(&[
        "backtest",
        "x=BTCUSDT",
        "y=ETHUSDT",
        "timeframe=1s",
        "bars=1000",
        "window=40",
        "z_window=20",
        "entry=1.2",
        "exit=0.3",
        "ffill=0",
        "corr_window=20",
        "stop_pct=0.4",
        &to,
        "--format",
        "json",
    ]);
    let st = SqliteStore::new(&db);
    let mut q = query(FillAt::NextOpen);
    q.to = Some(end);
    q.backtest.max_hold_bars = None;
    q.backtest.beta_max = pairdesk::analytics::BacktestOptions::default().beta_max;
    q.backtest.beta_jump = pairdesk::analytics::BacktestOptions::default().beta_jump;
    let a = pair::pair_analytics(&st, Venue::Sim, q).unwrap();
    let bt = a.backtest.unwrap();
    assert_eq!(got["venue"], "sim", "the only venue storing both legs");
    assert_eq!(got["summary"], serde_json::to_value(&bt.summary).unwrap());
    assert_eq!(got["trades"], serde_json::to_value(&bt.trades).unwrap());
    assert!(bt.summary.trades > 0);

    let s = cli(&["paper", "start", "x=BTCUSDT", "y=ETHUSDT", "window=40"]);
    let id = s["id"].as_i64().unwrap();
    assert_eq!(s["status"], "active");
    let list = cli(&["paper", "list"]);
    assert_eq!(list[0]["session"]["id"], id);
    let stopped = cli(&["paper", "stop", &id.to_string()]);
    assert_eq!(stopped["status"], "stopping");
    // The engine (here one pass; a serving pairdesk runs them) finds it
    // flat and stops it.
    paper::pass(&st, end).unwrap();
    assert_eq!(
        cli(&["paper", "show", &id.to_string()])["session"]["status"],
        "stopped"
    );
    // A basket's session, from the parameters of GET /api/v1/johansen.
    let s = cli(&[
        "paper",
        "start",
        "symbols=ethusdt,BTCUSDT,SOLUSDT",
        "timeframe=1s",
        "bars=300",
        "window=40",
        "z_window=20",
    ]);
    assert_eq!(
        s["query"]["basket"]["symbols"],
        serde_json::json!(["ETHUSDT", "BTCUSDT", "SOLUSDT"])
    );
    assert_eq!(s["query"]["basket"]["window"], 40);
    // The basket report, as GET /api/v1/johansen makes it.
    let got = cli(&[
        "basket",
        "symbols=btcusdt,ETHUSDT",
        "timeframe=1s",
        "bars=1000",
        "k_ar_diff=2",
        &to,
        "--format",
        "json",
    ]);
    let want = pairdesk::services::basket::basket_johansen(
        &st,
        Venue::Sim,
        pairdesk::model::basket::BasketQuery {
            symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
            timeframe: pairdesk::domain::Timeframe::S1,
            bars: 1000,
            to: Some(end),
            k_ar_diff: 2,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(got, serde_json::to_value(&want).unwrap());
    assert_eq!(got["weights_johansen"][0], 1.0);
    // A basket walk-forward, in the table for people: one line per fold,
    // as many as the JSON has.
    let wf = [
        "basket",
        "symbols=ETHUSDT,BTCUSDT,SOLUSDT",
        "timeframe=1s",
        "bars=1000",
        "wf_train=100",
        "wf_test=50",
        &to,
    ];
    let json = cli(&[&wf[..], &["--format", "json"]].concat());
    let folds = json["backtest"]["walk_forward"]["folds"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", json["backtest_error"]))
        .len();
    assert!(folds >= 4, "{folds} folds");
    let table = String::from_utf8(run(&wf)).unwrap();
    assert!(
        table.contains(&format!(
            "walk-forward OLS fits (train 100, test 50 bars, {folds} folds)"
        )),
        "{table}"
    );
    assert_eq!(table.matches("  fold from ").count(), folds, "{table}");
}

/// A basket of (ETHUSDT, BTCUSDT) with a rolling OLS hedge of 40 bars is
/// the pair ETHUSDT on BTCUSDT with a 40-bar rolling OLS: through the
/// store, on the same aligned bars, the same trades at the same fills
/// (stored books for next-quote fills), costs and equity.
#[test]
fn a_two_leg_basket_backtests_as_the_pair_does() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    let (ticks, quotes) = market(9);
    write(&db, ticks, Some(quotes));
    let st = SqliteStore::new(&db);
    let end = T0 + BARS * BAR;
    for fill in [FillAt::NextOpen, FillAt::NextQuote] {
        let mut q = query(fill);
        q.to = Some(end);
        let a = pair::pair_analytics(&st, Venue::Sim, q.clone()).unwrap();
        let bt = a.backtest.clone().expect("the pair backtests");
        let bq = pairdesk::model::basket::BasketQuery {
            symbols: vec!["ETHUSDT".into(), "BTCUSDT".into()],
            timeframe: Timeframe::S1,
            bars: 1000,
            to: Some(end),
            window: 40,
            z_window: 20,
            entry: q.options.entry,
            exit: q.options.exit,
            backtest: q.backtest,
            ..Default::default()
        };
        let r = pairdesk::services::basket::basket_johansen(&st, Venue::Sim, bq).unwrap();
        assert_eq!(r.ts, a.ts, "{fill:?}: the same aligned bars");
        let got = r
            .backtest
            .as_ref()
            .unwrap_or_else(|| panic!("{:?}", r.backtest_error));
        assert!(bt.summary.closed >= 3, "{fill:?}: the pair trades");
        assert_eq!(got.position, bt.position, "{fill:?}");
        assert_eq!(got.trades.len(), bt.trades.len(), "{fill:?}");
        for (b, p) in got.trades.iter().zip(&bt.trades) {
            assert_eq!(
                (b.side, b.entry_bar, b.exit_bar, b.exit_reason),
                (p.side, p.entry_bar, p.exit_bar, p.exit_reason),
                "{fill:?}"
            );
            for (g, w) in [
                (b.qty[0], p.qty_y),
                (b.qty[1], p.qty_x),
                (b.entry[0], p.entry_y),
                (b.entry[1], p.entry_x),
                (b.net, p.net),
                (b.fees, p.fees),
                (b.weights[1], -p.beta),
            ] {
                assert!(close(g, w), "{fill:?}: {g} vs {w}");
            }
        }
        for (g, w) in got.equity.iter().zip(&bt.equity) {
            assert!(close(*g, *w), "{fill:?}: equity {g} vs {w}");
        }
        assert_eq!(r.zscore.len(), a.ts.len());
        for (g, w) in r.zscore.iter().zip(&a.report.zscore) {
            match (g, w) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-7, "{fill:?}: z {g} vs {w}"),
                (None, None) => {}
                _ => panic!("{fill:?}: z {g:?} vs {w:?}"),
            }
        }
    }
}

/// Round trips of an N-leg session from its fills: (signal_ts, qty,
/// entry prices, exit prices), each leg in order. Every signal's fills
/// cover every leg exactly once per role (no partly filled order).
type BasketTrip = (i64, Vec<f64>, Vec<f64>, Option<Vec<f64>>);

fn basket_trips(fills: &[PaperFill], legs: usize) -> Vec<BasketTrip> {
    let mut out: Vec<BasketTrip> = Vec::new();
    let mut sigs: Vec<i64> = fills.iter().map(|f| f.signal_ts).collect();
    sigs.dedup();
    for sig in sigs {
        let of = |role: FillRole| -> Vec<&PaperFill> {
            let mut v: Vec<&PaperFill> = fills
                .iter()
                .filter(|f| f.signal_ts == sig && f.role == role)
                .collect();
            v.sort_by_key(|f| f.leg);
            v
        };
        for role in [FillRole::Close, FillRole::Open] {
            let v = of(role);
            assert!(
                v.is_empty() || v.iter().map(|f| f.leg).eq(0..legs),
                "signal {sig} {role:?}: {v:?}"
            );
        }
        let closes = of(FillRole::Close);
        if !closes.is_empty() {
            let last = out.last_mut().expect("a close follows an open");
            last.3 = Some(closes.iter().map(|f| f.price).collect());
        }
        let opens = of(FillRole::Open);
        if !opens.is_empty() {
            out.push((
                sig,
                opens.iter().map(|f| f.qty).collect(),
                opens.iter().map(|f| f.price).collect(),
                None,
            ));
        }
    }
    out
}

/// A three-leg basket's session, run pass by pass through time, trades
/// what the basket's backtest of the same query trades on the same bars:
/// its rolling hedge's signals, sides, quantities and fill prices on every
/// leg, with and without stored books; and its ledger is the sum of its
/// fills.
#[test]
fn a_basket_session_trades_what_the_basket_backtest_trades() {
    use pairdesk::model::basket::BasketQuery;
    let end = T0 + BARS * BAR;
    for (fill, books) in [(FillAt::NextOpen, false), (FillAt::NextQuote, true)] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("b.db");
        let (ticks, quotes) = market(5);
        write(&db, ticks, books.then_some(quotes));
        let st = SqliteStore::new(&db);
        let mut q = BasketQuery {
            symbols: vec!["ETHUSDT".into(), "BTCUSDT".into(), "SOLUSDT".into()],
            timeframe: Timeframe::S1,
            bars: 1000,
            window: 40,
            z_window: 20,
            entry: 1.2,
            exit: 0.3,
            fee_bps: Some(2.0),
            ..Default::default()
        };
        q.backtest.fill = fill;
        q.backtest.stop_pct = Some(0.4);
        q.backtest.max_hold_bars = Some(25);
        let s = paper::start_session(&st, Venue::Sim, Traded::Basket(q.clone()), T0).unwrap();
        run_engine(&st, end + 2000);
        let fills = st.paper_fills(s.id).unwrap();
        assert_eq!(fills.iter().any(|f| f.on_book), books, "{fill:?}");
        q.to = Some(end);
        let r = pairdesk::services::basket::basket_johansen(&st, Venue::Sim, q.clone()).unwrap();
        let bt = r
            .backtest
            .as_ref()
            .unwrap_or_else(|| panic!("{:?}", r.backtest_error));
        // What a live rule (paper, alerts) reads at a bar, fitted on the
        // bars it needs alone, is the backtest's figure there.
        for back in [0usize, 7, 40] {
            let t = r.ts.len() - 1 - back;
            let mut at = q.clone();
            at.to = Some(r.ts[t] + BAR);
            let h = pairdesk::services::basket::hedge_now(&st, Venue::Sim, &at)
                .unwrap()
                .expect("a bar");
            assert_eq!(h.ts, r.ts[t]);
            let (hz, bz) = (h.z.unwrap(), r.zscore[t].unwrap());
            assert!((hz - bz).abs() < 1e-9, "{fill:?}: z {hz} vs {bz}");
        }
        let trips = basket_trips(&fills, 3);
        assert!(bt.trades.len() >= 4, "{fill:?}: the basket should trade");
        assert_eq!(trips.len(), bt.trades.len(), "{fill:?}: {trips:#?}");
        for (p, t) in trips.iter().zip(&bt.trades) {
            assert_eq!(p.0, r.ts[t.signal_bar], "{fill:?}: signal bar");
            for k in 0..3 {
                assert!(close(p.1[k], t.qty[k]), "{fill:?}: qty {p:?} {t:?}");
                assert!(close(p.2[k], t.entry[k]), "{fill:?}: entry {p:?} {t:?}");
            }
            match (&p.3, &t.exit) {
                (Some(a), Some(b)) => {
                    assert!(
                        a.iter().zip(b).all(|(a, b)| close(*a, *b)),
                        "{fill:?}: exit"
                    )
                }
                (None, None) => {}
                // The backtest's last trade may still be open at the end
                // while the engine, running a little past it, closed it.
                (Some(_), None) => assert!(std::ptr::eq(t, bt.trades.last().unwrap())),
                other => panic!("{fill:?}: exit differs: {other:?}"),
            }
        }
        // The book adds its fills up per leg, and names the session's
        // legs in order.
        let book = paper::paper_book(&st, s.id).unwrap();
        for k in 0..3 {
            let sum: f64 = fills.iter().filter(|f| f.leg == k).map(|f| f.qty).sum();
            assert!((book.ledger.qty[k] - sum).abs() < 1e-9, "{:?}", book.ledger);
        }
        assert_eq!(
            book.ledger.round_trips,
            trips.iter().filter(|t| t.3.is_some()).count()
        );
        let line = pairdesk::model::paper::PaperLine::from(&book);
        assert_eq!(line.label, "ETHUSDT + BTCUSDT + SOLUSDT");
        // A basket session is refused what a backtest may have.
        let mut bad = BasketQuery {
            symbols: vec!["ETHUSDT".into(), "BTCUSDT".into(), "SOLUSDT".into()],
            to: Some(end),
            ..Default::default()
        };
        let named =
            |q: BasketQuery| match paper::start_session(&st, Venue::Sim, Traded::Basket(q), T0) {
                Err(paper::PaperError::Pair(pairdesk::model::pair::PairError::BadParam {
                    name,
                    ..
                })) => name,
                other => panic!("expected a bad parameter, got {other:?}"),
            };
        assert_eq!(named(bad.clone()), "to");
        bad.to = None;
        bad.walk_forward = Some(pairdesk::analytics::WalkForward {
            train: 100,
            test: 50,
        });
        assert_eq!(named(bad.clone()), "walk_forward");
        bad.walk_forward = None;
        bad.symbols.push("NOPEUSDT".into());
        assert!(matches!(
            paper::start_session(&st, Venue::Sim, Traded::Basket(bad), T0),
            Err(paper::PaperError::Pair(
                pairdesk::model::pair::PairError::UnknownSymbol(_)
            ))
        ));
    }
}
