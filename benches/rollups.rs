//! Months of history: what the rollups buy and what they cost (numbers go
//! to BENCHMARKS.md). Without a harness crate, like `benches/store.rs`.
//!
//! 1. Size and write cost: one day of two symbols at the real pace (about
//!    4M ticks), written through the real `Writer` with and without the
//!    rollups; ticks/s and bytes per day of data for each.
//! 2. A big database: `PAIRDESK_BENCH_TICKS` ticks (default 100M: two
//!    symbols, 25 days at 46 trades/s), built through the writer with
//!    rollups on (sustained ingest rate and file size).
//! 3. Reads on it, from raw ticks (`Plan::TicksOnly`, what every request did
//!    before) and from rollups: 1m and 1h bars over the whole range, and the
//!    pair analytics of a 30-day 1m view through the HTTP API end to end.
//!
//! Run: `cargo bench --bench rollups --features ssr` (about 10 minutes on
//! 2 cores, 8 GB of temporary disk). Knobs: `PAIRDESK_BENCH_TICKS`,
//! `PAIRDESK_BENCH_DAYS` (default 25), `PAIRDESK_BENCH_DIR` (default the
//! system temp dir), `PAIRDESK_BENCH_WRITE_ONLY` (stop after 1).

use pairdesk::config::Config;
use pairdesk::domain::{Side, Tick, Timeframe, Venue};
use pairdesk::ingest::pipeline::Pipeline;
use pairdesk::server::router;
use pairdesk::state::AppState;
use pairdesk::store::writer::{WriteCmd, Writer, WriterOptions};
use pairdesk::store::{self, query, Durability, Plan, SqliteStore};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// 2025-12-01T00:00:00Z
const T0: i64 = 1_764_547_200_000;
const DAY_MS: i64 = 86_400_000;
/// Ticks per channel message, like a busy feed's pipeline batches.
const BATCH: usize = 4096;
const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// A cointegrated pair at a steady pace: `n` ticks over `days`, the legs
/// alternating; ETH follows 0.035 x BTC plus a mean-reverting spread.
struct Market {
    n: u64,
    step_ms: f64,
    i: u64,
    btc: f64,
    spread: f64,
    rng: u64,
}

impl Market {
    fn new(n: u64, days: u64) -> Market {
        Market {
            n,
            step_ms: (days as f64 * DAY_MS as f64) / (n / 2) as f64,
            i: 0,
            btc: 89_000.0,
            spread: 0.0,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn noise(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }

    fn next_batch(&mut self) -> Option<Vec<Tick>> {
        if self.i >= self.n {
            return None;
        }
        let end = (self.i + BATCH as u64).min(self.n);
        let mut out = Vec::with_capacity((end - self.i) as usize);
        while self.i < end {
            let s = (self.i % 2) as usize;
            let k = self.i / 2;
            let ts = T0 + (k as f64 * self.step_ms) as i64;
            let price = if s == 0 {
                self.btc = (self.btc * (1.0 + self.noise() * 2e-4)).max(1_000.0);
                (self.btc * 10.0).round() / 10.0
            } else {
                self.spread = 0.999 * self.spread + self.noise() * 0.5;
                ((0.035 * self.btc + self.spread) * 100.0).round() / 100.0
            };
            out.push(Tick {
                venue: Venue::Sim,
                symbol: SYMBOLS[s].to_string(),
                trade_id: 1 + k as i64,
                exchange_ts: ts,
                receive_ts: ts + 7,
                price,
                qty: 0.001 * (1 + (self.rng >> 40) % 500) as f64,
                side: if k.is_multiple_of(3) {
                    Side::Sell
                } else {
                    Side::Buy
                },
            });
            self.i += 1;
        }
        Some(out)
    }
}

/// Write `n` ticks over `days` into a fresh database; returns the time from
/// the first send to the last commit.
fn fill(db: &Path, n: u64, days: u64, rollups: bool) -> Duration {
    let conn = store::open_writer(db, Durability::Normal).expect("open");
    let writer = Writer::spawn_with(
        conn,
        64,
        WriterOptions {
            bench_without_rollups: !rollups,
            ..Default::default()
        },
    );
    let mut committed = writer.committed.clone();
    let mut m = Market::new(n, days);
    // Up to a day's ticks are built before the clock starts, so that only
    // the store is timed; a bigger database is generated while it commits.
    let prebuilt: Vec<Vec<Tick>> = if n <= 5_000_000 {
        std::iter::from_fn(|| m.next_batch()).collect()
    } else {
        Vec::new()
    };
    let t0 = Instant::now();
    for b in prebuilt
        .into_iter()
        .chain(std::iter::from_fn(|| m.next_batch()))
    {
        writer
            .tx
            .blocking_send(WriteCmd::Ticks(b))
            .expect("writer alive");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(committed.wait_for(|c| *c >= n))
        .expect("writer alive");
    let took = t0.elapsed();
    writer.shutdown();
    took
}

fn file_bytes(db: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|s| {
            std::fs::metadata(format!("{}{s}", db.display()))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum()
}

/// Median and best of `runs` timings (ms), after one warm-up call.
fn time_ms<F: FnMut()>(runs: usize, mut f: F) -> (f64, f64) {
    f();
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
    let base = std::env::var("PAIRDESK_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir());
    let dir = tempfile::tempdir_in(&base).expect("temp dir");
    let n = env_u64("PAIRDESK_BENCH_TICKS", 100_000_000);
    let days = env_u64("PAIRDESK_BENCH_DAYS", 25);
    let per_day = n / days;

    println!("## 1. one day ({per_day} ticks), with and without rollups");
    for rollups in [false, true, false, true] {
        let db = dir.path().join(format!("day-{rollups}.db"));
        let took = fill(&db, per_day, 1, rollups);
        println!(
            "rollups {rollups:5}: {:.0} ticks/s, {:.1} MB per day of data ({:.1} bytes/tick)",
            per_day as f64 / took.as_secs_f64(),
            file_bytes(&db) as f64 / 1e6,
            file_bytes(&db) as f64 / per_day as f64
        );
        std::fs::remove_file(&db).ok();
    }

    if std::env::var("PAIRDESK_BENCH_WRITE_ONLY").is_ok() {
        return;
    }
    println!("## 2. {n} ticks over {days} days, rollups on");
    let db = dir.path().join("big.db");
    let took = fill(&db, n, days, true);
    println!(
        "built in {:.1} s: {:.0} ticks/s sustained, {:.2} GB ({:.1} bytes/tick)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        file_bytes(&db) as f64 / 1e9,
        file_bytes(&db) as f64 / n as f64
    );

    println!("## 3. reads, raw ticks vs rollups");
    let conn = store::open_reader(&db).unwrap();
    let end = T0 + days as i64 * DAY_MS;
    for tf in [Timeframe::M1, Timeframe::H1] {
        for plan in [Plan::TicksOnly, Plan::Rollups] {
            let runs = if plan == Plan::TicksOnly { 3 } else { 21 };
            let mut bars = 0;
            let (med, best) = time_ms(runs, || {
                let b = query::bars(&conn, plan, Venue::Sim, "BTCUSDT", tf, T0, end)
                    .unwrap()
                    .unwrap();
                bars = black_box(b.len());
            });
            println!(
                "{tf} bars, whole range ({} ticks of BTCUSDT -> {bars} bars), {plan:?}: median {med:.1} ms, best {best:.1} ms",
                n / 2
            );
        }
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // The router needs a writer for its status figures; this one idles.
        let scratch = dir.path().join("scratch.db");
        let writer = Writer::spawn(store::open_writer(&scratch, Durability::Normal).unwrap(), 8);
        let bars = 30 * 24 * 60;
        let path = format!("/api/v1/pair?x=BTCUSDT&y=ETHUSDT&timeframe=1m&bars={bars}");
        for plan in [Plan::TicksOnly, Plan::Rollups] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let config = Config {
                db: db.clone(),
                listen: addr,
                ..Config::default()
            };
            let reads = Arc::new(SqliteStore::new(&db).with_plan(plan));
            let pipeline = Pipeline::new(writer.tx.clone());
            let state = Arc::new(AppState::new(config, pipeline, &writer, reads));
            let opts = leptos::config::LeptosOptions::builder()
                .output_name("pairdesk")
                .site_root(dir.path().display().to_string())
                .site_addr(addr)
                .build();
            let app = router(state, opts);
            let server = tokio::spawn(async move {
                axum::serve(listener, app).await.ok();
            });
            let url = format!("http://{addr}{path}");
            let client = reqwest::Client::new();
            let runs = if plan == Plan::TicksOnly { 3 } else { 21 };
            let mut times = Vec::new();
            let mut size = 0;
            for i in 0..=runs {
                let t = Instant::now();
                let r = client.get(&url).send().await.unwrap();
                assert!(r.status().is_success(), "{}", r.text().await.unwrap());
                size = r.bytes().await.unwrap().len();
                if i > 0 {
                    times.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
            times.sort_by(|a, b| a.total_cmp(b));
            println!(
                "GET {path} ({:.1} MB JSON), {plan:?}: median {:.1} ms, best {:.1} ms",
                size as f64 / 1e6,
                times[times.len() / 2],
                times[0]
            );
            server.abort();
        }
        tokio::task::spawn_blocking(move || writer.shutdown())
            .await
            .unwrap();
    });
}
