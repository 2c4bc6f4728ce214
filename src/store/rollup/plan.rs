//! Answering a bar request from the coarsest source that covers each part
//! of its range.
//!
//! A request for `tf` bars over `[from, to)` (from rounded down to its bar)
//! is split into at most four time-ordered, aligned segments, each fed to
//! one [`Cascade`]:
//!
//! 1. ticks below the symbol's build mark (`symbols.rolled_from`: rollups
//!    not built yet for an old database);
//! 2. stored minutes (timeframes of a minute or more) up to `to`'s minute;
//! 3. stored seconds up to `to`'s second;
//! 4. ticks for the last, partial second.
//!
//! A range end that falls inside a minute or second whose finer data has
//! been pruned by retention therefore rounds *down* to what is stored: a
//! bar never includes trades after the end that was asked for.

use super::{Cascade, Partial, Tier};
use crate::domain::{Bar, Timeframe};
use rusqlite::{params, Connection};

/// Where bars may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Plan {
    /// Rollups wherever they are built (the default).
    #[default]
    Rollups,
    /// Raw ticks only: the reference, and the "before" of the benchmarks.
    TicksOnly,
}

pub(crate) fn partial_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Partial> {
    Ok(Partial {
        ts: r.get(0)?,
        open: r.get(1)?,
        high: r.get(2)?,
        low: r.get(3)?,
        close: r.get(4)?,
        volume: r.get(5)?,
        notional: r.get(6)?,
        trades: r.get(7)?,
    })
}

fn feed_ticks(
    conn: &Connection,
    c: &mut Cascade,
    sym: i64,
    from: i64,
    to: i64,
) -> Result<(), rusqlite::Error> {
    if from >= to {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT exchange_ts, price, qty FROM ticks \
         WHERE sym = ?1 AND exchange_ts >= ?2 AND exchange_ts < ?3 \
         ORDER BY exchange_ts, trade_id",
    )?;
    let mut rows = stmt.query(params![sym, from, to])?;
    while let Some(r) = rows.next()? {
        c.push_tick(r.get(0)?, r.get(1)?, r.get(2)?);
    }
    Ok(())
}

fn feed_tier(
    conn: &Connection,
    c: &mut Cascade,
    tier: Tier,
    sym: i64,
    from: i64,
    to: i64,
) -> Result<(), rusqlite::Error> {
    if from >= to {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT ts, open, high, low, close, volume, notional, trades FROM {} \
         WHERE sym = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
        super::maintain::table(tier)
    ))?;
    let mut rows = stmt.query(params![sym, from, to])?;
    while let Some(r) = rows.next()? {
        c.push_partial(tier, &partial_row(r)?);
    }
    Ok(())
}

/// Bars of `tf` for symbol id `sym` over `[from, to)`, where `mark` is the
/// symbol's build mark (`None`: fully built).
pub fn bars(
    conn: &Connection,
    plan: Plan,
    sym: i64,
    mark: Option<i64>,
    tf: Timeframe,
    from: i64,
    to: i64,
) -> Result<Vec<Bar>, rusqlite::Error> {
    let start = tf.bucket(from);
    let mut c = Cascade::new(tf);
    let mark = match plan {
        Plan::TicksOnly => i64::MAX,
        Plan::Rollups => mark.unwrap_or(i64::MIN),
    };
    // 1. Not yet rolled up.
    feed_ticks(conn, &mut c, sym, start, to.min(mark))?;
    let mut at = start.max(mark);
    if at < to {
        // 2. to 4.: the build mark is minute-aligned and `start` is aligned
        // to the timeframe, so every segment starts on its tier's edge.
        if Tier::for_timeframe(tf) == Tier::M1 {
            let m = Tier::M1.floor(to);
            feed_tier(conn, &mut c, Tier::M1, sym, at, m)?;
            at = at.max(m);
        }
        let s = Tier::S1.floor(to);
        feed_tier(conn, &mut c, Tier::S1, sym, at, s)?;
        at = at.max(s);
        feed_ticks(conn, &mut c, sym, at, to)?;
    }
    Ok(c.finish())
}

/// The newest bucket time with data in any source (ticks may be pruned
/// while rollups remain).
pub fn last_data_ts(conn: &Connection, sym: i64) -> Result<Option<i64>, rusqlite::Error> {
    conn.prepare_cached(
        "SELECT max(t) FROM ( \
           SELECT max(exchange_ts) AS t FROM ticks WHERE sym = ?1 \
           UNION ALL SELECT max(ts) FROM rollup_1s WHERE sym = ?1 \
           UNION ALL SELECT max(ts) FROM rollup_1m WHERE sym = ?1)",
    )?
    .query_row(params![sym], |r| r.get(0))
}
