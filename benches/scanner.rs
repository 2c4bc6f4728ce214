//! The pair scanner's computation (`services::scanner::scan_state`: the
//! I(1) screen, Engle-Granger both ways on every pair, BH, filters, and the
//! sliding state a refresh needs) over 100 and 200 symbols at 5,000 bars,
//! on all cores; then a refresh by one new bar (`ScanState::advance`: the
//! forming bar revised, one bar in, the oldest out). Writes the legs as CSV
//! under `target/scanner-bench/` so that `scripts/bench_scanner.py` times
//! statsmodels on the same numbers. Last, the same legs stored as one tick
//! a bar in SQLite, and `scan_cached` end to end: the full scan with its
//! store reads, then the refresh after one new tick per leg (its reads of
//! every leg's end and newest bars, and the advance). Run:
//! `cargo bench --features ssr --bench scanner`.

use pairdesk::domain::{Side, Tick, Venue};
use pairdesk::model::scan::ScanQuery;
use pairdesk::services::scanner::{scan_cached, scan_state, Leg, Progress, ScanCache};
use pairdesk::store::{self, writer::WriteCmd, writer::Writer, Durability, SqliteStore};
use std::io::Write;
use std::time::Instant;

const BARS: usize = 5000;

/// Log prices: symbols in clusters of four share a random walk (each with
/// its own loading and AR(1) noise), so some pairs cointegrate and most
/// do not (xorshift, fixed seed).
fn legs(n: usize) -> Vec<Leg> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64 ^ n as u64;
    let mut u = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let clusters = n.div_ceil(4);
    // One bar more than the scan's window: the bar a refresh adds.
    let mut common = vec![vec![0.0; BARS + 1]; clusters];
    for c in &mut common {
        let mut w = 0.0;
        for v in c.iter_mut() {
            w += 0.002 * u();
            *v = w;
        }
    }
    (0..n)
        .map(|i| {
            let c = &common[i / 4];
            let load = 0.6 + 0.1 * (i % 4) as f64;
            let (mut e, mut own) = (0.0, 0.0);
            let log: Vec<f64> = c
                .iter()
                .map(|w| {
                    e = 0.9 * e + 0.0005 * u();
                    // Every other symbol also drifts on its own walk.
                    if i % 2 == 1 {
                        own += 0.0005 * u();
                    }
                    3.0 + load * w + e + own
                })
                .collect();
            Leg {
                sym: format!("S{i:03}USDT"),
                ts: (0..=BARS as i64).map(|t| t * 60_000).collect(),
                log,
                quote_volume: 1e6 * (1 + i % 7) as f64,
            }
        })
        .collect()
}

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/scanner-bench");
    let _ = std::fs::create_dir_all(&dir);
    for n in [100usize, 200] {
        let legs = legs(n);
        if let Ok(mut f) = std::fs::File::create(dir.join(format!("legs_{n}.csv"))) {
            for t in 0..BARS {
                let row: Vec<String> = legs.iter().map(|l| format!("{:?}", l.log[t])).collect();
                let _ = writeln!(f, "{}", row.join(","));
            }
        }
        let mut q = ScanQuery {
            symbols: legs.iter().map(|l| l.sym.clone()).collect(),
            bars: BARS,
            ..ScanQuery::default()
        };
        q.validate().expect("valid query");
        let window: Vec<Leg> = legs
            .iter()
            .map(|l| Leg {
                ts: l.ts[..BARS].to_vec(),
                log: l.log[..BARS].to_vec(),
                ..l.clone()
            })
            .collect();
        let end = BARS as i64 * 60_000;
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..3 {
            let t0 = Instant::now();
            let s = scan_state(
                q.clone(),
                window.clone(),
                Vec::new(),
                Some(end),
                &Progress::default(),
            );
            times.push(t0.elapsed().as_secs_f64());
            last = Some(s);
        }
        times.sort_by(f64::total_cmp);
        let state = last.expect("ran");
        let r = &state.result;
        let q05 = r.rows.iter().filter(|r| r.q_value < 0.05).count();
        let p05 = r.rows.iter().filter(|r| r.coint_p < 0.05).count();
        // A bench's report is its output.
        println!(
            "scan {n} symbols x {BARS} bars: median {:.2} s, min {:.2} s; {} legs screened out, \
             {} pairs tested, {p05} with p < 0.05, {q05} with q < 0.05",
            times[1],
            times[0],
            r.screened_out.len(),
            r.tested
        );
        // The newest bar in the window was still forming: a refresh reads
        // it again (here its final close, a little off) and the new bar.
        let fresh: Vec<Vec<(i64, f64)>> = state
            .leg_symbols()
            .map(|sym| {
                let l = legs.iter().find(|l| l.sym == sym).expect("a leg");
                let revised = (l.log[BARS - 1] + 1e-4).exp();
                vec![(l.ts[BARS - 1], revised), (l.ts[BARS], l.log[BARS].exp())]
            })
            .collect();
        let mut times = Vec::new();
        let mut moved = 0;
        for _ in 0..9 {
            let t0 = Instant::now();
            let next = state
                .advance(&fresh, end + 60_000, &Progress::default())
                .expect("a refresh");
            times.push(t0.elapsed().as_secs_f64());
            moved = next.result.rows.iter().filter(|r| r.q_value < 0.05).count();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "refresh {n} symbols by one bar: median {:.1} ms, min {:.1} ms, max {:.1} ms; \
             {} pairs refreshed, {moved} with q < 0.05; the state holds {:.1} MB",
            times[4] * 1e3,
            times[0] * 1e3,
            times[8] * 1e3,
            r.tested,
            state.heap_bytes() as f64 / 1e6
        );
        through_the_store(&dir, &legs, &q);
    }
}

/// Write `legs` (one tick at each bar's start, the last bar held back) to
/// a fresh database through the writer; then time `scan_cached` in full,
/// add the held-back bar's tick to every leg and time the refresh.
fn through_the_store(dir: &std::path::Path, legs: &[Leg], q: &ScanQuery) {
    let db = dir.join(format!("store_{}.db", legs.len()));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    let writer = Writer::spawn(
        store::open_writer(&db, Durability::Normal).expect("a database"),
        64,
    );
    // A minute-aligned epoch of late 2025 (the legs' times start at 0).
    const T0: i64 = 29_416_666 * 60_000;
    let tick = |l: &Leg, t: usize| Tick {
        venue: Venue::Sim,
        symbol: l.sym.clone(),
        trade_id: t as i64 + 1,
        exchange_ts: T0 + l.ts[t] + 1,
        receive_ts: T0 + l.ts[t] + 1,
        price: l.log[t].exp(),
        qty: 1.0,
        side: if t.is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        },
    };
    let flush = |w: &Writer| {
        let (tx, rx) = tokio::sync::oneshot::channel();
        w.tx.blocking_send(WriteCmd::Flush(tx)).expect("writer");
        rx.blocking_recv().expect("flushed");
    };
    for l in legs {
        let ticks: Vec<Tick> = (0..BARS).map(|t| tick(l, t)).collect();
        writer
            .tx
            .blocking_send(WriteCmd::Ticks(ticks))
            .expect("writer");
    }
    flush(&writer);
    let st = SqliteStore::new(&db);
    let cache = ScanCache::default();
    let mut q = q.clone();
    q.timeframe = pairdesk::domain::Timeframe::M1;
    let t0 = Instant::now();
    let full =
        scan_cached(&st, Venue::Sim, q.clone(), &cache, &Progress::default()).expect("a scan");
    let full_s = t0.elapsed().as_secs_f64();
    let new: Vec<Tick> = legs.iter().map(|l| tick(l, BARS)).collect();
    writer
        .tx
        .blocking_send(WriteCmd::Ticks(new))
        .expect("writer");
    flush(&writer);
    let t0 = Instant::now();
    let next = scan_cached(&st, Venue::Sim, q, &cache, &Progress::default()).expect("a refresh");
    let refresh_ms = t0.elapsed().as_secs_f64() * 1e3;
    assert_eq!(
        next.to,
        full.to.map(|t| t + 60_000),
        "the refresh moved one bar"
    );
    println!(
        "through the store, {} symbols: full scan {full_s:.2} s, refresh by one bar {refresh_ms:.1} ms \
         (store reads and advance), {} pairs",
        legs.len(),
        next.tested
    );
    writer.shutdown();
}
