//! Keeping the rollups in step with the ticks, inside the writer's
//! transaction (so a crash can never leave a rollup disagreeing with the
//! ticks it summarises), and building them for databases that predate them.
//!
//! **In-order ticks** (the live feed) are folded into the stored second
//! they fall in: the writer remembers each symbol's newest second and the
//! key (time, trade id) of its last trade, so appending costs no read.
//! **Late, duplicate or backfilled ticks** (a key at or before a stored
//! second's last key, or a chunk in which the store ignored a duplicate)
//! make that second *dirty*: it is recomputed from its ticks, because a sum
//! is only reproducible in (time, trade id) order. Every minute touched is
//! then refolded from its seconds (at most 60 rows).
//!
//! **Building** for an existing database walks each symbol backwards from
//! its newest tick in [`BUILD_CHUNK_MS`] steps, recording how far it got in
//! `symbols.rolled_from` in the same transaction, so it resumes where it
//! stopped; the planner reads ticks below that mark and rollups above it.

use super::{Partial, Tier};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{BTreeSet, HashMap};

/// Span of ticks one build step rolls up (aligned, a multiple of a minute).
pub const BUILD_CHUNK_MS: i64 = 10 * 60_000;

/// A newly stored trade, as the rollups need it.
#[derive(Debug, Clone, Copy)]
pub struct Trade {
    pub sym: i64,
    pub ts: i64,
    pub id: i64,
    pub price: f64,
    pub qty: f64,
}

/// A stored second with the key of its last trade.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Second {
    p: Partial,
    last_ts: i64,
    last_id: i64,
}

/// The writer's memory of each symbol's newest stored second (`None`: the
/// symbol has no seconds yet). Must be [`reset`](Maintainer::reset) when a
/// transaction that used it rolls back.
#[derive(Debug, Default)]
pub struct Maintainer {
    newest: HashMap<i64, Option<Second>>,
}

impl Maintainer {
    pub fn reset(&mut self) {
        self.newest.clear();
    }

    /// Update the rollups for `fresh` trades (each newly inserted) and the
    /// `dirty` (symbol, second) buckets, on the writer's open transaction.
    pub fn apply(
        &mut self,
        conn: &Connection,
        fresh: &mut [Trade],
        dirty: &BTreeSet<(i64, i64)>,
    ) -> Result<(), rusqlite::Error> {
        fresh.sort_unstable_by_key(|t| (t.sym, t.ts, t.id));
        let mut recompute = dirty.clone();
        let mut minutes: BTreeSet<(i64, i64)> = BTreeSet::new();
        let mut writes: Vec<(i64, Second)> = Vec::new();
        for group in
            fresh.chunk_by(|a, b| a.sym == b.sym && Tier::S1.floor(a.ts) == Tier::S1.floor(b.ts))
        {
            let first = group[0];
            let (sym, sec) = (first.sym, Tier::S1.floor(first.ts));
            minutes.insert((sym, Tier::M1.floor(sec)));
            if recompute.contains(&(sym, sec)) {
                continue;
            }
            let (mut p, rest) = match self.stored(conn, sym, sec)? {
                Some(s) if (first.ts, first.id) <= (s.last_ts, s.last_id) => {
                    recompute.insert((sym, sec));
                    continue;
                }
                Some(s) => (s.p, group),
                None => (Partial::of_tick(sec, first.price, first.qty), &group[1..]),
            };
            for t in rest {
                p.add_tick(t.price, t.qty);
            }
            let last = group[group.len() - 1];
            let s = Second {
                p,
                last_ts: last.ts,
                last_id: last.id,
            };
            writes.push((sym, s));
            self.note(sym, s);
        }
        write_seconds(conn, &writes)?;
        for &(sym, sec) in &recompute {
            let rows = ticks_between(conn, sym, sec, sec + Tier::S1.millis())?;
            match seconds_of(&rows).pop() {
                Some(s) => write_second(conn, sym, &s)?,
                None => {
                    conn.prepare_cached("DELETE FROM rollup_1s WHERE sym = ?1 AND ts = ?2")?
                        .execute(params![sym, sec])?;
                }
            }
            // Reloaded on next use rather than reasoned about here.
            self.newest.remove(&sym);
            minutes.insert((sym, Tier::M1.floor(sec)));
        }
        for (sym, m) in minutes {
            refold_minute(conn, sym, m)?;
        }
        Ok(())
    }

    /// The stored second `sec` of `sym`, from memory when it is the newest.
    fn stored(
        &mut self,
        conn: &Connection,
        sym: i64,
        sec: i64,
    ) -> Result<Option<Second>, rusqlite::Error> {
        let newest = match self.newest.get(&sym) {
            Some(n) => *n,
            None => {
                let n = conn
                    .prepare_cached(
                        "SELECT ts, open, high, low, close, volume, notional, trades, last_ts, last_id \
                         FROM rollup_1s WHERE sym = ?1 ORDER BY ts DESC LIMIT 1",
                    )?
                    .query_row(params![sym], second_row)
                    .optional()?;
                self.newest.insert(sym, n);
                n
            }
        };
        match newest {
            None => Ok(None),
            Some(n) if sec > n.p.ts => Ok(None),
            Some(n) if sec == n.p.ts => Ok(Some(n)),
            Some(_) => conn
                .prepare_cached(
                    "SELECT ts, open, high, low, close, volume, notional, trades, last_ts, last_id \
                     FROM rollup_1s WHERE sym = ?1 AND ts = ?2",
                )?
                .query_row(params![sym, sec], second_row)
                .optional(),
        }
    }

    fn note(&mut self, sym: i64, s: Second) {
        match self.newest.get(&sym) {
            Some(Some(n)) if n.p.ts > s.p.ts => {}
            _ => {
                self.newest.insert(sym, Some(s));
            }
        }
    }

    /// One build step: roll up the next [`BUILD_CHUNK_MS`] below the mark of
    /// one symbol still being built. `None` when nothing is left to build.
    pub fn build_step(&mut self, conn: &Connection) -> Result<Option<BuildStep>, rusqlite::Error> {
        let Some((sym, mark)): Option<(i64, i64)> = conn
            .prepare_cached(
                "SELECT id, rolled_from FROM symbols WHERE rolled_from IS NOT NULL ORDER BY id LIMIT 1",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
        else {
            return Ok(None);
        };
        // Skip empty spans at once: the chunk holding the newest tick below the mark.
        let top: Option<i64> = conn
            .prepare_cached(
                "SELECT max(exchange_ts) FROM ticks WHERE sym = ?1 AND exchange_ts < ?2",
            )?
            .query_row(params![sym, mark], |r| r.get(0))?;
        let Some(top) = top else {
            conn.prepare_cached("UPDATE symbols SET rolled_from = NULL WHERE id = ?1")?
                .execute(params![sym])?;
            return Ok(Some(BuildStep {
                sym,
                ticks: 0,
                left_ms: 0,
            }));
        };
        let lo = top.div_euclid(BUILD_CHUNK_MS) * BUILD_CHUNK_MS;
        let hi = lo + BUILD_CHUNK_MS;
        let ticks = ticks_between(conn, sym, lo, hi)?;
        conn.prepare_cached("DELETE FROM rollup_1s WHERE sym = ?1 AND ts >= ?2 AND ts < ?3")?
            .execute(params![sym, lo, hi])?;
        for s in seconds_of(&ticks) {
            write_second(conn, sym, &s)?;
        }
        let mut m = lo;
        while m < hi {
            refold_minute(conn, sym, m)?;
            m += Tier::M1.millis();
        }
        let oldest: i64 = conn
            .prepare_cached("SELECT min(exchange_ts) FROM ticks WHERE sym = ?1")?
            .query_row(params![sym], |r| r.get::<_, Option<i64>>(0))?
            .unwrap_or(lo);
        let done = lo <= oldest;
        conn.prepare_cached("UPDATE symbols SET rolled_from = ?2 WHERE id = ?1")?
            .execute(params![sym, if done { None } else { Some(lo) }])?;
        self.newest.remove(&sym);
        Ok(Some(BuildStep {
            sym,
            ticks: ticks.len(),
            left_ms: (lo - oldest).max(0),
        }))
    }
}

/// What one build step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildStep {
    pub sym: i64,
    /// Ticks rolled up.
    pub ticks: usize,
    /// Span of this symbol's ticks still below the mark, ms.
    pub left_ms: i64,
}

/// Symbols whose rollups are still being built.
pub fn building(conn: &Connection) -> Result<u64, rusqlite::Error> {
    conn.query_row(
        "SELECT count(*) FROM symbols WHERE rolled_from IS NOT NULL",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
}

fn second_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Second> {
    Ok(Second {
        p: Partial {
            ts: r.get(0)?,
            open: r.get(1)?,
            high: r.get(2)?,
            low: r.get(3)?,
            close: r.get(4)?,
            volume: r.get(5)?,
            notional: r.get(6)?,
            trades: r.get(7)?,
        },
        last_ts: r.get(8)?,
        last_id: r.get(9)?,
    })
}

/// Rows per multi-row insert of seconds (11 parameters each): one statement
/// per 32 rows, as the tick insert does, because most batches write a new
/// second every few ticks.
const SECONDS_PER_INSERT: usize = 32;

static INSERT_SECONDS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut q = String::from(
        "INSERT OR REPLACE INTO rollup_1s \
         (sym, ts, open, high, low, close, volume, notional, trades, last_ts, last_id) VALUES ",
    );
    for r in 0..SECONDS_PER_INSERT {
        if r > 0 {
            q.push(',');
        }
        let b = r * 11;
        let ps: Vec<String> = (1..=11).map(|i| format!("?{}", b + i)).collect();
        q.push_str(&format!("({})", ps.join(",")));
    }
    q
});

/// Write many seconds: whole chunks through the multi-row statement.
fn write_seconds(conn: &Connection, rows: &[(i64, Second)]) -> Result<(), rusqlite::Error> {
    let mut chunks = rows.chunks_exact(SECONDS_PER_INSERT);
    if chunks.len() > 0 {
        let mut stmt = conn.prepare_cached(&INSERT_SECONDS)?;
        for chunk in &mut chunks {
            for (r, (sym, s)) in chunk.iter().enumerate() {
                let b = r * 11;
                let p = &s.p;
                stmt.raw_bind_parameter(b + 1, sym)?;
                stmt.raw_bind_parameter(b + 2, p.ts)?;
                stmt.raw_bind_parameter(b + 3, p.open)?;
                stmt.raw_bind_parameter(b + 4, p.high)?;
                stmt.raw_bind_parameter(b + 5, p.low)?;
                stmt.raw_bind_parameter(b + 6, p.close)?;
                stmt.raw_bind_parameter(b + 7, p.volume)?;
                stmt.raw_bind_parameter(b + 8, p.notional)?;
                stmt.raw_bind_parameter(b + 9, p.trades)?;
                stmt.raw_bind_parameter(b + 10, s.last_ts)?;
                stmt.raw_bind_parameter(b + 11, s.last_id)?;
            }
            stmt.raw_execute()?;
        }
    }
    for (sym, s) in chunks.remainder() {
        write_second(conn, *sym, s)?;
    }
    Ok(())
}

fn write_second(conn: &Connection, sym: i64, s: &Second) -> Result<(), rusqlite::Error> {
    let p = &s.p;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO rollup_1s \
         (sym, ts, open, high, low, close, volume, notional, trades, last_ts, last_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        sym, p.ts, p.open, p.high, p.low, p.close, p.volume, p.notional, p.trades, s.last_ts,
        s.last_id
    ])?;
    Ok(())
}

/// Ticks `(ts, id, price, qty)` of `[from, to)` in (time, trade id) order.
fn ticks_between(
    conn: &Connection,
    sym: i64,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, i64, f64, f64)>, rusqlite::Error> {
    conn.prepare_cached(
        "SELECT exchange_ts, trade_id, price, qty FROM ticks \
         WHERE sym = ?1 AND exchange_ts >= ?2 AND exchange_ts < ?3 ORDER BY exchange_ts, trade_id",
    )?
    .query_map(params![sym, from, to], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?
    .collect()
}

/// Seconds of ticks in (time, trade id) order.
fn seconds_of(ticks: &[(i64, i64, f64, f64)]) -> Vec<Second> {
    let mut out: Vec<Second> = Vec::new();
    for &(ts, id, price, qty) in ticks {
        let b = Tier::S1.floor(ts);
        match out.last_mut() {
            Some(s) if s.p.ts == b => {
                s.p.add_tick(price, qty);
                s.last_ts = ts;
                s.last_id = id;
            }
            _ => out.push(Second {
                p: Partial::of_tick(b, price, qty),
                last_ts: ts,
                last_id: id,
            }),
        }
    }
    out
}

/// Rewrite minute `m` of `sym` as the fold of its stored seconds.
fn refold_minute(conn: &Connection, sym: i64, m: i64) -> Result<(), rusqlite::Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT ts, open, high, low, close, volume, notional, trades FROM rollup_1s \
         WHERE sym = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
    )?;
    let mut rows = stmt.query(params![sym, m, m + Tier::M1.millis()])?;
    let mut acc: Option<Partial> = None;
    while let Some(r) = rows.next()? {
        let p = super::plan::partial_row(r)?;
        match &mut acc {
            Some(a) => a.append(&p),
            None => acc = Some(Partial { ts: m, ..p }),
        }
    }
    match acc {
        Some(p) => conn
            .prepare_cached(
                "INSERT OR REPLACE INTO rollup_1m \
                 (sym, ts, open, high, low, close, volume, notional, trades) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                sym, p.ts, p.open, p.high, p.low, p.close, p.volume, p.notional, p.trades
            ])?,
        None => conn
            .prepare_cached("DELETE FROM rollup_1m WHERE sym = ?1 AND ts = ?2")?
            .execute(params![sym, m])?,
    };
    Ok(())
}

/// Delete up to `limit` rows of `tier` older than `cutoff`, oldest first.
pub fn prune_tier(
    conn: &Connection,
    tier: Tier,
    cutoff: i64,
    limit: usize,
) -> Result<usize, rusqlite::Error> {
    let table = table(tier);
    let syms: Vec<i64> = conn
        .prepare_cached("SELECT id FROM symbols ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut del = conn.prepare_cached(&format!(
        "DELETE FROM {table} WHERE (sym, ts) IN \
         (SELECT sym, ts FROM {table} WHERE sym = ?1 AND ts < ?2 ORDER BY ts LIMIT ?3)"
    ))?;
    let mut deleted = 0;
    for sym in syms {
        if deleted >= limit {
            break;
        }
        deleted += del.execute(params![sym, cutoff, (limit - deleted) as i64])?;
    }
    Ok(deleted)
}

pub(crate) fn table(tier: Tier) -> &'static str {
    match tier {
        Tier::S1 => "rollup_1s",
        Tier::M1 => "rollup_1m",
    }
}

/// The rollups of `sym` recomputed from its stored ticks, as (seconds,
/// minutes) partials: what the stored rows must equal (audits and tests).
fn recompute(conn: &Connection, sym: i64) -> Result<(Vec<Partial>, Vec<Partial>), rusqlite::Error> {
    let ticks = ticks_between(conn, sym, i64::MIN, i64::MAX)?;
    let t = ticks.iter().map(|&(ts, _, p, q)| (ts, p, q));
    Ok((
        super::partials_from_ticks(Tier::S1, t.clone()),
        super::partials_from_ticks(Tier::M1, t),
    ))
}

/// The stored rollups of `sym` (audits and tests).
fn stored(conn: &Connection, sym: i64) -> Result<(Vec<Partial>, Vec<Partial>), rusqlite::Error> {
    let read = |tier: Tier| -> Result<Vec<Partial>, rusqlite::Error> {
        conn.prepare(&format!(
            "SELECT ts, open, high, low, close, volume, notional, trades FROM {} \
             WHERE sym = ?1 ORDER BY ts",
            table(tier)
        ))?
        .query_map(params![sym], super::plan::partial_row)?
        .collect()
    };
    Ok((read(Tier::S1)?, read(Tier::M1)?))
}

/// Symbols (`venue:name`) whose stored rollups differ from a recomputation
/// from their stored ticks. Meaningful where ticks have not been pruned.
pub fn audit(conn: &Connection) -> Result<Vec<String>, rusqlite::Error> {
    let syms: Vec<(i64, String, String)> = conn
        .prepare("SELECT id, venue, name FROM symbols ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut bad = Vec::new();
    for (sym, venue, name) in syms {
        if recompute(conn, sym)? != stored(conn, sym)? {
            bad.push(format!("{venue}:{name}"));
        }
    }
    Ok(bad)
}
