//! Storage benchmark without a harness crate (numbers go to BENCHMARKS.md):
//!
//! 1. sustained insert throughput into a fresh database through the real
//!    `Writer` (WAL, synchronous=NORMAL), ticks pre-built in batches so only
//!    the store is timed;
//! 2. the same from a replay file (NDJSON parse + pipeline + writer);
//! 3. bar query latency (1m bars over the whole range and over one hour)
//!    with 1M and 10M stored ticks; the databases are built here, in a
//!    temporary directory, through the same writer (their build rate is
//!    reported too).
//!
//! Run: `cargo bench --bench store` (a few minutes on 2 cores). Knobs:
//! `PAIRDESK_BENCH_INSERT` (ticks for 1, default 2,000,000),
//! `PAIRDESK_BENCH_SIZES` (comma-separated stored-tick counts for 3,
//! default 1000000,10000000), `PAIRDESK_BENCH_DIR` (where the temporary
//! databases go, default the system temp dir).

use pairdesk::domain::{Side, Tick, Timeframe, Venue};
use pairdesk::ingest::pipeline::Pipeline;
use pairdesk::ingest::replay::{replay_file, Speed};
use pairdesk::store::{self, query, writer::WriteCmd, writer::Writer, Durability};
use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// 2025-12-15T00:00:00Z
const T0: i64 = 1_765_756_800_000;
const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];
/// Ticks per channel message, like a busy feed's pipeline batches.
const BATCH: usize = 4096;
/// Market time between consecutive ticks of one symbol (ms): 20 trades/s.
const STEP_MS: i64 = 50;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// The i-th tick overall: symbols alternate, each with consecutive ids.
fn tick(i: usize) -> Tick {
    let s = i % SYMBOLS.len();
    let n = (i / SYMBOLS.len()) as i64;
    let base = if s == 0 { 89_000.0 } else { 3_100.0 };
    Tick {
        venue: Venue::BinanceFutures,
        symbol: SYMBOLS[s].to_string(),
        trade_id: 1_000_000_000 + n,
        exchange_ts: T0 + n * STEP_MS,
        receive_ts: T0 + n * STEP_MS + 7,
        price: base + ((n * 7919) % 1000) as f64 * 0.1,
        qty: 0.001 * ((n % 50) + 1) as f64,
        side: if n % 3 == 0 { Side::Sell } else { Side::Buy },
    }
}

/// Batches of ticks `range`, grouped per symbol within each batch (as the
/// pipeline forwards a frame's trades together).
fn batches(range: std::ops::Range<usize>) -> Vec<Vec<Tick>> {
    let mut out = Vec::new();
    let mut i = range.start;
    while i < range.end {
        let end = (i + BATCH).min(range.end);
        let mut b: Vec<Tick> = (i..end).map(tick).collect();
        b.sort_by(|x, y| x.symbol.cmp(&y.symbol));
        out.push(b);
        i = end;
    }
    out
}

/// Write `n` ticks into a fresh database at `db` through the writer; the
/// clock runs from the first send to the last commit. Ticks are built in
/// chunks by this thread while the writer commits the previous ones, so the
/// 10M build stays within a few hundred MB.
fn fill(db: &Path, n: usize, prebuilt: bool) -> Duration {
    let conn = store::open_writer(db, Durability::Normal).expect("open");
    let writer = Writer::spawn(conn, 64);
    let mut committed = writer.committed.clone();
    let chunk = if prebuilt { n } else { 1 << 20 };
    let mut pending = batches(0..chunk.min(n));
    let t0 = Instant::now();
    let mut next = chunk.min(n);
    loop {
        for b in pending.drain(..) {
            writer
                .tx
                .blocking_send(WriteCmd::Ticks(b))
                .expect("writer alive");
        }
        if next >= n {
            break;
        }
        let end = (next + chunk).min(n);
        pending = batches(next..end);
        next = end;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(committed.wait_for(|c| *c as usize >= n))
        .expect("writer alive");
    let took = t0.elapsed();
    let stats = writer.stats.clone();
    writer.shutdown();
    eprintln!(
        "    {} batches, max commit {:.1} ms",
        stats.batches.load(std::sync::atomic::Ordering::Relaxed),
        stats
            .max_batch_us
            .load(std::sync::atomic::Ordering::Relaxed) as f64
            / 1000.0
    );
    took
}

fn file_mb(p: &Path) -> f64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
}

fn median_ms<F: FnMut()>(runs: usize, mut f: F) -> (f64, f64) {
    let mut ts: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ts.sort_by(|a, b| a.total_cmp(b));
    (ts[ts.len() / 2], ts[0])
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let base = std::env::var("PAIRDESK_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir());
    let dir = tempfile::tempdir_in(base).expect("temp dir");
    let insert_n = env_usize("PAIRDESK_BENCH_INSERT", 2_000_000);
    let sizes: Vec<usize> = std::env::var("PAIRDESK_BENCH_SIZES")
        .unwrap_or_else(|_| "1000000,10000000".into())
        .split(',')
        .filter_map(|s| s.trim().replace('_', "").parse().ok())
        .collect();

    println!(
        "## insert throughput (fresh database, WAL, synchronous=NORMAL, {BATCH}-tick messages)"
    );
    for run in 0..3 {
        let db = dir.path().join(format!("insert{run}.db"));
        let took = fill(&db, insert_n, true);
        println!(
            "writer: {insert_n} ticks in {:.2} s = {:.0} ticks/s (run {}, db {:.0} MB)",
            took.as_secs_f64(),
            insert_n as f64 / took.as_secs_f64(),
            run + 1,
            file_mb(&db)
        );
        for ext in ["", "-wal", "-shm", ".lock"] {
            let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
        }
    }

    // The replay path: parse NDJSON lines, pipeline (dedupe, gaps), writer.
    let replay_n = insert_n.min(1_000_000);
    let feed = dir.path().join("feed.ndjson");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&feed).unwrap());
        for i in 0..replay_n {
            let t = tick(i);
            writeln!(
                f,
                r#"{{"symbol":"{}","ts":{},"price":{},"size":{}}}"#,
                t.symbol, t.exchange_ts, t.price, t.qty
            )
            .unwrap();
        }
    }
    let db = dir.path().join("replay.db");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (ticks, secs) = rt.block_on(async {
        let writer = Writer::spawn(store::open_writer(&db, Durability::Normal).unwrap(), 256);
        let pipeline = Pipeline::new(writer.tx.clone());
        let t0 = Instant::now();
        let rep = replay_file(&feed, &pipeline, Speed::Max, None)
            .await
            .unwrap();
        let secs = t0.elapsed().as_secs_f64();
        drop(pipeline);
        tokio::task::spawn_blocking(move || writer.shutdown())
            .await
            .unwrap();
        (rep.ticks, secs)
    });
    println!(
        "replay file (NDJSON parse + pipeline + writer): {ticks} ticks in {secs:.2} s = {:.0} ticks/s",
        ticks as f64 / secs
    );

    println!("## bar queries (1m bars; median and best of 5 after a warm-up)");
    for &n in &sizes {
        let db = dir.path().join(format!("q{n}.db"));
        let took = fill(&db, n, false);
        println!(
            "built {n} ticks in {:.1} s ({:.0} ticks/s), db {:.0} MB",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64(),
            file_mb(&db)
        );
        let conn = store::open_reader(&db).unwrap();
        let per_sym = (n / SYMBOLS.len()) as i64;
        let end = T0 + per_sym * STEP_MS;
        let whole = || {
            let b = query::bars(
                &conn,
                store::Plan::TicksOnly,
                Venue::BinanceFutures,
                "BTCUSDT",
                Timeframe::M1,
                T0,
                end,
            )
            .unwrap()
            .unwrap();
            black_box(b.len())
        };
        let nb = whole();
        let _ = median_ms(1, || {
            whole();
        });
        let (med, best) = median_ms(5, || {
            whole();
        });
        println!(
            "{n} stored: 1m bars, whole range ({} ticks of BTCUSDT -> {nb} bars): median {med:.1} ms, best {best:.1} ms",
            per_sym
        );
        let mid = T0 + (per_sym / 2) * STEP_MS;
        let from = mid - mid % 3_600_000;
        let hour = || {
            let b = query::bars(
                &conn,
                store::Plan::TicksOnly,
                Venue::BinanceFutures,
                "BTCUSDT",
                Timeframe::M1,
                from,
                from + 3_600_000,
            )
            .unwrap()
            .unwrap();
            black_box(b.len())
        };
        let hb = hour();
        let (med, best) = median_ms(21, || {
            hour();
        });
        println!(
            "{n} stored: 1m bars, one hour ({hb} bars): median {med:.2} ms, best {best:.2} ms"
        );
        drop(conn);
        for ext in ["", "-wal", "-shm", ".lock"] {
            let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
        }
    }
}
