//! Bars against a pandas oracle on the shared real recording, and the replay
//! path's bookkeeping on that file (every non-zero row stored exactly once,
//! zero rows dropped and counted, a second replay storing nothing).
//!
//! The fixture (`tests/fixtures/bars/binance-futures-2025-12-15.json`) comes
//! from `scripts/gen_bar_fixtures.py`; it holds counts, sampled bars and
//! checksums only. The recording itself lives outside the repository
//! (`../shared/data`), so these tests skip, saying so, when it is absent.
#![cfg(feature = "ssr")]

use pairdesk::domain::{Bar, Timeframe, Venue};
use pairdesk::ingest::pipeline::Pipeline;
use pairdesk::ingest::replay::{replay_file, ReplayReport, Speed};
use pairdesk::store::{self, query, writer::Writer, Durability};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;

fn recording() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/binance-futures-btcusdt-ethusdt-2025-12-15.ndjson");
    if p.is_file() {
        Some(p)
    } else {
        eprintln!(
            "skipping: the shared recording {} is not present",
            p.display()
        );
        None
    }
}

fn fixture() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bars/binance-futures-2025-12-15.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Replay `file` into `db` the way `pairdesk replay` does: a fresh writer and
/// pipeline. Returns the report and (inserted, already stored).
async fn replay(db: &Path, file: &Path) -> (ReplayReport, u64, u64) {
    let writer = Writer::spawn(store::open_writer(db, Durability::Normal).unwrap(), 64);
    let pipeline = Pipeline::new(writer.tx.clone());
    let rep = replay_file(file, &pipeline, Speed::Max, None)
        .await
        .unwrap();
    let stats = writer.stats.clone();
    drop(pipeline);
    tokio::task::spawn_blocking(move || writer.shutdown())
        .await
        .unwrap();
    (
        rep,
        stats.inserted.load(Relaxed),
        stats.duplicates.load(Relaxed),
    )
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("fixture lacks {k}"))
}

#[tokio::test]
async fn replay_stores_every_nonzero_row_once_and_is_idempotent() {
    let Some(file) = recording() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let (rep, inserted, dup) = replay(&db, &file).await;
    assert_eq!(rep.lines, 19_280);
    assert_eq!(rep.malformed, 0, "{:?}", rep.malformed_lines);
    assert_eq!(rep.dropped.values().sum::<u64>(), 98, "{:?}", rep.dropped);
    assert_eq!((inserted, dup), (4_204 + 14_978, 0));
    let conn = store::open_reader(&db).unwrap();
    for (sym, n) in [("BTCUSDT", 4_204usize), ("ETHUSDT", 14_978)] {
        let ids = query::trade_ids(&conn, Venue::Replay, sym).unwrap();
        assert_eq!(ids.len(), n, "{sym}");
    }
    drop(conn);

    let (rep2, inserted2, dup2) = replay(&db, &file).await;
    assert_eq!(rep2.ticks, rep.ticks);
    assert_eq!(inserted2, 0, "a second replay stored new rows");
    assert_eq!(dup2, 4_204 + 14_978);
    let conn = store::open_reader(&db).unwrap();
    assert_eq!(query::tick_count(&conn).unwrap(), 4_204 + 14_978);
}

#[tokio::test]
async fn bars_match_the_pandas_oracle() {
    let Some(file) = recording() else { return };
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    replay(&db, &file).await;
    let conn = store::open_reader(&db).unwrap();
    let syms = fx["symbols"].as_object().unwrap();
    assert_eq!(syms.len(), 2);
    let mut compared = 0;
    for (sym, sv) in syms {
        for ((tf_name, tv), plan) in sv["timeframes"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|t| [(t, store::Plan::Rollups), (t, store::Plan::TicksOnly)])
        {
            let tf: Timeframe = tf_name.parse().unwrap();
            let bars: Vec<Bar> = query::bars(&conn, plan, Venue::Replay, sym, tf, 0, i64::MAX / 2)
                .unwrap()
                .unwrap();
            let ctx = format!("{sym} {tf_name} {plan:?}");
            assert_eq!(
                bars.len() as u64,
                tv["bars"].as_u64().unwrap(),
                "{ctx}: bars"
            );
            let sum = |g: fn(&Bar) -> f64| bars.iter().map(g).sum::<f64>();
            for (k, got) in [
                ("sum_open", sum(|b| b.open)),
                ("sum_close", sum(|b| b.close)),
                ("sum_high", sum(|b| b.high)),
                ("sum_low", sum(|b| b.low)),
                ("sum_volume", sum(|b| b.volume)),
                ("sum_vwap", sum(|b| b.vwap)),
            ] {
                assert!(
                    close(got, f(tv, k), 1e-9),
                    "{ctx}: {k} {got} vs {}",
                    f(tv, k)
                );
            }
            let trades: i64 = bars.iter().map(|b| b.trades).sum();
            assert_eq!(trades, tv["sum_trades"].as_i64().unwrap(), "{ctx}: trades");
            for s in tv["samples"].as_array().unwrap() {
                let ts = s["ts_ms"].as_i64().unwrap();
                let b = bars
                    .iter()
                    .find(|b| b.ts == ts)
                    .unwrap_or_else(|| panic!("{ctx}: no bar at {ts}"));
                // Prices are the parsed values themselves: exact.
                assert_eq!(
                    (b.open, b.high, b.low, b.close),
                    (f(s, "open"), f(s, "high"), f(s, "low"), f(s, "close")),
                    "{ctx} @ {ts}"
                );
                assert_eq!(b.trades, s["trades"].as_i64().unwrap(), "{ctx} @ {ts}");
                // Sums may be accumulated in a different order: near-exact.
                assert!(
                    close(b.volume, f(s, "volume"), 1e-12),
                    "{ctx} @ {ts} volume"
                );
                assert!(close(b.vwap, f(s, "vwap"), 1e-12), "{ctx} @ {ts} vwap");
                compared += 1;
            }
        }
    }
    assert!(compared >= 30, "only {compared} sampled bars compared");
}
