//! Rollups against their definition: for random tick streams with late
//! arrivals, duplicates and backfills, sent through the real writer, bars
//! planned from rollups equal bars computed from the deduplicated ticks, for
//! every timeframe and random ranges, before and after retention prunes the
//! ticks (and then the seconds); and an upgraded database answers the same
//! while its rollups are built and after.
//!
//! Each case prints its seed when it fails; `PAIRDESK_ROLLUP_SEED` reruns one.
#![cfg(feature = "ssr")]

use pairdesk::domain::{Bar, Side, Tick, Timeframe, Venue};
use pairdesk::store::rollup::{bars_from_ticks, maintain, Tier};
use pairdesk::store::{self, query, writer, writer::WriteCmd, writer::Writer, Durability, Plan};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;

/// 2025-12-14T23:20:00Z: streams cross an hour and a day boundary.
const T0: i64 = 1_765_754_400_000;
const SYMBOLS: [(Venue, &str); 3] = [
    (Venue::Sim, "BTCUSDT"),
    (Venue::Sim, "ETHUSDT"),
    (Venue::BinanceFutures, "BTCUSDT"),
];

type Key = (Venue, &'static str);

/// Every distinct trade per symbol, by (time, id): the truth.
type Truth = BTreeMap<Key, BTreeMap<(i64, i64), (f64, f64)>>;

/// A random stream in delivery order (batches) and the distinct trades.
fn stream(rng: &mut SmallRng) -> (Vec<Vec<Tick>>, Truth) {
    let mut truth = Truth::new();
    let mut all: Vec<Tick> = Vec::new();
    for &(venue, symbol) in &SYMBOLS {
        let n = rng.random_range(200..2500);
        let mut ts = T0 + rng.random_range(0..60_000);
        let mut px: f64 = if symbol == "BTCUSDT" {
            89_000.0
        } else {
            3_100.0
        };
        for id in 1..=n {
            ts += match rng.random_range(0..100) {
                0..=9 => 0,
                10..=97 => rng.random_range(1..900),
                98 => rng.random_range(60_000..900_000),
                _ => rng.random_range(1_800_000..4_000_000),
            };
            px = (px + rng.random_range(-20..=20) as f64 * 0.1).max(1.0);
            let t = Tick {
                venue,
                symbol: symbol.into(),
                trade_id: id,
                exchange_ts: ts,
                receive_ts: ts + 5,
                price: px,
                qty: 0.001 * rng.random_range(1..5000) as f64,
                side: if id % 2 == 0 { Side::Buy } else { Side::Sell },
            };
            truth
                .entry((venue, symbol))
                .or_default()
                .insert((ts, id), (t.price, t.qty));
            all.push(t);
        }
    }
    // Interleave the symbols by time, as a live feed delivers them.
    all.sort_by_key(|t| (t.exchange_ts, t.trade_id));
    // Hold back some runs (a gap, backfilled later), re-send some (a
    // reconnect overlap) and shuffle some batches (late arrivals).
    let mut live: Vec<Tick> = Vec::new();
    let mut held: Vec<Tick> = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let run = rng.random_range(1..200).min(all.len() - i);
        let part = &all[i..i + run];
        match rng.random_range(0..10) {
            0 => held.extend_from_slice(part),
            1 => {
                live.extend_from_slice(part);
                live.extend_from_slice(&part[..run / 2]);
            }
            _ => live.extend_from_slice(part),
        }
        i += run;
    }
    let mut batches: Vec<Vec<Tick>> = Vec::new();
    let mut rest = &live[..];
    while !rest.is_empty() {
        let n = rng.random_range(1..400).min(rest.len());
        let mut b = rest[..n].to_vec();
        if rng.random_range(0..8) == 0 {
            for k in (1..b.len()).rev() {
                b.swap(k, rng.random_range(0..=k));
            }
        }
        batches.push(b);
        rest = &rest[n..];
        // Backfills land in the middle of the live stream.
        if !held.is_empty() && rng.random_range(0..15) == 0 {
            let n = rng.random_range(1..=held.len());
            batches.push(held.drain(..n).rev().collect());
        }
    }
    if !held.is_empty() {
        batches.push(held);
    }
    (batches, truth)
}

fn write_all(db: &Path, batches: Vec<Vec<Tick>>) {
    let writer = Writer::spawn(store::open_writer(db, Durability::Normal).unwrap(), 64);
    let mut committed = writer.committed.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut n = 0;
    for (i, b) in batches.into_iter().enumerate() {
        n += b.len();
        writer.tx.blocking_send(WriteCmd::Ticks(b)).unwrap();
        // The writer folds whatever is queued into one transaction (sorted),
        // so wait for most batches: late ticks must meet stored seconds.
        if i % 4 != 3 {
            rt.block_on(committed.wait_for(|c| *c as usize >= n))
                .unwrap();
        }
    }
    rt.block_on(committed.wait_for(|c| *c as usize >= n))
        .unwrap();
    writer.shutdown();
}

/// The reference: bars of the distinct ticks in `[tf.bucket(from), to)`
/// whose time is at least `keep_from` for the finer-than-`min_tier` part.
fn reference(truth: &Truth, key: Key, tf: Timeframe, from: i64, to: i64) -> Vec<Bar> {
    let start = tf.bucket(from);
    bars_from_ticks(
        tf,
        truth[&key]
            .range((start, i64::MIN)..(to, i64::MIN))
            .map(|(&(ts, _), &(p, q))| (ts, p, q)),
    )
}

fn random_range(rng: &mut SmallRng, truth: &Truth, key: Key) -> (i64, i64) {
    let lo = truth[&key].keys().next().unwrap().0 - 120_000;
    let hi = truth[&key].keys().next_back().unwrap().0 + 120_000;
    let a = rng.random_range(lo..hi);
    let b = rng.random_range(lo..hi);
    if rng.random_range(0..6) == 0 {
        (lo, hi)
    } else {
        (a.min(b), a.max(b) + 1)
    }
}

fn bars(
    conn: &rusqlite::Connection,
    plan: Plan,
    key: Key,
    tf: Timeframe,
    from: i64,
    to: i64,
) -> Vec<Bar> {
    query::bars(conn, plan, key.0, key.1, tf, from, to)
        .unwrap()
        .unwrap()
}

fn seeds() -> Vec<u64> {
    match std::env::var("PAIRDESK_ROLLUP_SEED") {
        Ok(s) => vec![s.parse().expect("PAIRDESK_ROLLUP_SEED is a number")],
        Err(_) => (1..=6).collect(),
    }
}

#[test]
fn bars_from_rollups_equal_bars_from_ticks_before_and_after_pruning() {
    for seed in seeds() {
        eprintln!("rollup property case, seed {seed}");
        let mut rng = SmallRng::seed_from_u64(seed);
        let (batches, truth) = stream(&mut rng);
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("p.db");
        write_all(&db, batches);
        let r = store::open_reader(&db).unwrap();
        assert!(
            maintain::audit(&r).unwrap().is_empty(),
            "seed {seed}: audit"
        );
        for _ in 0..150 {
            let key = SYMBOLS[rng.random_range(0..SYMBOLS.len())];
            let tf = Timeframe::ALL[rng.random_range(0..Timeframe::ALL.len())];
            let (from, to) = random_range(&mut rng, &truth, key);
            let want = reference(&truth, key, tf, from, to);
            let ctx = format!("seed {seed} {key:?} {tf:?} [{from}, {to})");
            assert_eq!(
                bars(&r, Plan::Rollups, key, tf, from, to),
                want,
                "{ctx} rollups"
            );
            assert_eq!(
                bars(&r, Plan::TicksOnly, key, tf, from, to),
                want,
                "{ctx} ticks"
            );
        }
        drop(r);

        // Retention: ticks before a minute edge go; bars there come from rollups.
        let mut w = store::open_writer(&db, Durability::Normal).unwrap();
        let (lo, hi) = (
            T0,
            truth
                .values()
                .map(|t| t.keys().next_back().unwrap().0)
                .max()
                .unwrap(),
        );
        let cut_ticks = Tier::M1.floor(rng.random_range(lo..hi));
        writer::prune_before(&mut w, cut_ticks, usize::MAX).unwrap();
        let r = store::open_reader(&db).unwrap();
        let left: i64 = r
            .query_row(
                "SELECT count(*) FROM ticks WHERE exchange_ts < ?1",
                [cut_ticks],
                |x| x.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
        for _ in 0..150 {
            let key = SYMBOLS[rng.random_range(0..SYMBOLS.len())];
            let tf = Timeframe::ALL[rng.random_range(0..Timeframe::ALL.len())];
            let (from, mut to) = random_range(&mut rng, &truth, key);
            // Below the tick cutoff a range ends on a stored second.
            if to < cut_ticks {
                to = Tier::S1.floor(to);
            }
            let want = reference(&truth, key, tf, from, to);
            let got = bars(&r, Plan::Rollups, key, tf, from, to);
            assert_eq!(
                got, want,
                "seed {seed} {key:?} {tf:?} [{from}, {to}) after tick prune at {cut_ticks}"
            );
        }

        // Then seconds before an earlier edge: minute bars still whole.
        let cut_secs = Tier::M1.floor(rng.random_range(lo..=cut_ticks));
        maintain::prune_tier(&w, Tier::S1, cut_secs, usize::MAX).unwrap();
        for _ in 0..100 {
            let key = SYMBOLS[rng.random_range(0..SYMBOLS.len())];
            let tf = [
                Timeframe::M1,
                Timeframe::M5,
                Timeframe::M15,
                Timeframe::H1,
                Timeframe::D1,
            ][rng.random_range(0..5)];
            let (from, mut to) = random_range(&mut rng, &truth, key);
            if to < cut_secs {
                to = Tier::M1.floor(to);
            } else if to < cut_ticks {
                to = Tier::S1.floor(to);
            }
            let want = reference(&truth, key, tf, from, to);
            let got = bars(&r, Plan::Rollups, key, tf, from, to);
            assert_eq!(
                got, want,
                "seed {seed} {key:?} {tf:?} [{from}, {to}) after second prune at {cut_secs}"
            );
        }
    }
}

/// Turn a current database back into one from before rollups (schema v1).
fn downgrade_to_v1(db: &Path) {
    let c = rusqlite::Connection::open(db).unwrap();
    c.execute_batch(
        "DROP TABLE paper_fills; DROP TABLE paper_orders; DROP TABLE paper_sessions; \
         DROP TABLE symbol_rules; \
         DROP TABLE quotes; DROP TABLE marks; DROP TABLE funding; \
         DROP TABLE rollup_1s; DROP TABLE rollup_1m; \
         ALTER TABLE symbols DROP COLUMN rolled_from; PRAGMA user_version = 1;",
    )
    .unwrap();
}

#[test]
fn an_upgraded_database_answers_the_same_while_and_after_its_rollups_are_built() {
    let mut rng = SmallRng::seed_from_u64(99);
    let (batches, truth) = stream(&mut rng);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db");
    write_all(&db, batches);
    downgrade_to_v1(&db);
    let w = store::open_writer(&db, Durability::Normal).unwrap();
    let marks: i64 = w
        .query_row(
            "SELECT count(*) FROM symbols WHERE rolled_from IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        marks,
        SYMBOLS.len() as i64,
        "every symbol with ticks awaits its build"
    );
    let r = store::open_reader(&db).unwrap();
    let check = |rng: &mut SmallRng, stage: &str| {
        for _ in 0..40 {
            let key = SYMBOLS[rng.random_range(0..SYMBOLS.len())];
            let tf = Timeframe::ALL[rng.random_range(0..Timeframe::ALL.len())];
            let (from, to) = random_range(rng, &truth, key);
            assert_eq!(
                bars(&r, Plan::Rollups, key, tf, from, to),
                reference(&truth, key, tf, from, to),
                "{stage}: {key:?} {tf:?} [{from}, {to})"
            );
        }
    };
    check(&mut rng, "before the build");
    // Retention waits for the build: the oldest ticks are rolled up last.
    let mut w = w;
    assert_eq!(
        writer::prune_before(&mut w, i64::MAX, usize::MAX).unwrap(),
        0
    );
    let mut m = maintain::Maintainer::default();
    let mut steps = 0;
    while m.build_step(&w).unwrap().is_some() {
        steps += 1;
        if steps % 7 == 0 {
            check(&mut rng, &format!("after {steps} build steps"));
        }
        assert!(steps < 100_000, "the build does not finish");
    }
    assert_eq!(maintain::building(&w).unwrap(), 0);
    assert!(
        maintain::audit(&r).unwrap().is_empty(),
        "built rollups equal their ticks"
    );
    check(&mut rng, "after the build");
}

#[test]
fn the_writer_builds_an_upgraded_database_in_the_background() {
    let mut rng = SmallRng::seed_from_u64(7);
    let (batches, _) = stream(&mut rng);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.db");
    write_all(&db, batches);
    downgrade_to_v1(&db);
    let writer = Writer::spawn(store::open_writer(&db, Durability::Normal).unwrap(), 8);
    let r = store::open_reader(&db).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while maintain::building(&r).unwrap() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "build not finished in 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let built = writer
        .stats
        .rollup_built
        .load(std::sync::atomic::Ordering::Relaxed);
    writer.shutdown();
    let ticks: i64 = r
        .query_row("SELECT count(*) FROM ticks", [], |x| x.get(0))
        .unwrap();
    assert_eq!(
        built as i64, ticks,
        "every tick rolled up once by the build"
    );
    assert!(maintain::audit(&r).unwrap().is_empty());
}
