//! Parsing and normalising throughput, one core: Binance frames (raw and
//! combined-stream) and replay lines (collector NDJSON), in ticks per second.
//!
//! Run: `cargo bench --bench ingest --features ssr`

use pairdesk::domain::Venue;
use pairdesk::ingest::event::Frame;
use pairdesk::ingest::replay::{parse_line, Line};
use pairdesk::ingest::venues;
use std::hint::black_box;
use std::time::Instant;

fn frames(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":{},"T":{},"s":"BTCUSDT","t":{},"p":"{}.{}","q":"0.{:03}","X":"MARKET","m":{}}}}}"#,
                1_765_788_195_300i64 + i as i64,
                1_765_788_195_299i64 + i as i64,
                6_843_241_710i64 + i as i64,
                89_000 + (i % 997),
                i % 10,
                1 + i % 999,
                i % 2 == 0
            )
        })
        .collect()
}

fn best_of<F: FnMut() -> usize>(runs: usize, mut f: F) -> (f64, usize) {
    let mut best = f64::MAX;
    let mut n = 0;
    for _ in 0..runs {
        let t = Instant::now();
        n = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, n)
}

fn main() {
    let input = frames(200_000);
    // Through the registry, as the socket client parses.
    let binance = venues::adapter(Venue::BinanceFutures);
    let (secs, n) = best_of(5, || {
        let mut ok = 0;
        for f in &input {
            if let Ok(Frame::Tick(t)) = binance.parse_frame(black_box(f), 0) {
                ok += black_box(t).trade_id as usize & 1 | 1;
            }
        }
        ok
    });
    println!(
        "binance combined trade frames: {n} ticks in {:.1} ms = {:.2} M ticks/s",
        secs * 1e3,
        n as f64 / secs / 1e6
    );

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/binance-futures-btcusdt-ethusdt-2025-12-15.ndjson");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let (secs, n) = best_of(20, || {
                let mut ok = 0;
                for (i, l) in lines.iter().enumerate() {
                    if let Ok(Line::Tick(t)) = parse_line(black_box(l), 7, i as u64 + 1, 0) {
                        ok += black_box(t).trade_id as usize & 1 | 1;
                    }
                }
                ok
            });
            println!("collector NDJSON lines (shared recording): {n} ticks in {:.2} ms = {:.2} M ticks/s", secs * 1e3, n as f64 / secs / 1e6);
        }
        Err(_) => println!(
            "shared recording not found at {}; skipped the NDJSON case",
            path.display()
        ),
    }
}
