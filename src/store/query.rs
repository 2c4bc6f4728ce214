//! Reads: ticks in a range, bars for any timeframe, a pair's aligned bars.
//!
//! Bars are planned by [`rollup::plan`]: stored rollups where they exist,
//! ticks elsewhere, with results identical to building them from ticks.
//! Buckets are aligned to UTC multiples of the timeframe; a bucket with no
//! trades produces no bar (it is never invented), and pair alignment decides
//! explicitly how far a price may be carried forward.

use super::rollup::{self, plan::Plan};
use super::StoreError;
use crate::domain::{Bar, Side, Tick, Timeframe, Venue};
use crate::model::status::GapInfo;
use rusqlite::{params, Connection, OptionalExtension};

pub(crate) fn sym_id(
    conn: &Connection,
    venue: Venue,
    symbol: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(sym_mark(conn, venue, symbol)?.map(|(id, _)| id))
}

/// A symbol's id and its rollup build mark (see [`rollup::plan`]).
fn sym_mark(
    conn: &Connection,
    venue: Venue,
    symbol: &str,
) -> Result<Option<(i64, Option<i64>)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id, rolled_from FROM symbols WHERE venue = ?1 AND name = ?2")?
        .query_row(params![venue.as_str(), symbol], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

/// Bars for `[from, to)` (ms), planned by `plan`. Unknown symbols give `Ok(None)`.
pub fn bars(
    conn: &Connection,
    plan: Plan,
    venue: Venue,
    symbol: &str,
    tf: Timeframe,
    from: i64,
    to: i64,
) -> Result<Option<Vec<Bar>>, StoreError> {
    let Some((sym, mark)) = sym_mark(conn, venue, symbol)? else {
        return Ok(None);
    };
    Ok(Some(rollup::plan::bars(
        conn, plan, sym, mark, tf, from, to,
    )?))
}

/// The last `n` bars of a symbol, ending with the bar of its latest data.
pub fn tail_bars(
    conn: &Connection,
    plan: Plan,
    venue: Venue,
    symbol: &str,
    tf: Timeframe,
    n: usize,
) -> Result<Option<Vec<Bar>>, StoreError> {
    let Some((sym, mark)) = sym_mark(conn, venue, symbol)? else {
        return Ok(None);
    };
    let last = match plan {
        Plan::Rollups => rollup::plan::last_data_ts(conn, sym)?,
        Plan::TicksOnly => last_ts(conn, venue, symbol)?,
    };
    let Some(last) = last else {
        return Ok(Some(Vec::new()));
    };
    let to = tf.bucket(last) + tf.millis();
    let from = to - tf.millis() * n as i64;
    Ok(Some(rollup::plan::bars(
        conn, plan, sym, mark, tf, from, to,
    )?))
}

pub fn last_ts(conn: &Connection, venue: Venue, symbol: &str) -> Result<Option<i64>, StoreError> {
    let Some(sym) = sym_id(conn, venue, symbol)? else {
        return Ok(None);
    };
    Ok(conn
        .prepare_cached("SELECT max(exchange_ts) FROM ticks WHERE sym = ?1")?
        .query_row(params![sym], |r| r.get::<_, Option<i64>>(0))?)
}

/// Number of stored ticks. Counting a big table is a full scan, so callers
/// that poll should prefer the writer's counters.
pub fn tick_count(conn: &Connection) -> Result<u64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM ticks", [], |r| r.get::<_, i64>(0))? as u64)
}

/// Stored symbols with their venue.
pub fn symbols(conn: &Connection) -> Result<Vec<(Venue, String)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT venue, name FROM symbols ORDER BY name")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (v, n) = row?;
        if let Ok(v) = v.parse() {
            out.push((v, n));
        }
    }
    Ok(out)
}

/// Ticks of one symbol in `[from, to)`, in (time, trade id) order, at most `limit`.
pub fn ticks(
    conn: &Connection,
    venue: Venue,
    symbol: &str,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Option<Vec<Tick>>, StoreError> {
    let Some(sym) = sym_id(conn, venue, symbol)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT trade_id, exchange_ts, receive_ts, price, qty, side FROM ticks \
         WHERE sym = ?1 AND exchange_ts >= ?2 AND exchange_ts < ?3 ORDER BY exchange_ts, trade_id LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![sym, from, to, limit as i64], |r| {
        tick_row(r, venue, symbol)
    })?;
    Ok(Some(rows.collect::<Result<Vec<_>, _>>()?))
}

/// The stored tick with the highest trade id (where a restart resumes; ids
/// are consecutive where gaps are tracked, so it is also the newest).
pub fn last_tick(
    conn: &Connection,
    venue: Venue,
    symbol: &str,
) -> Result<Option<Tick>, StoreError> {
    let Some(sym) = sym_id(conn, venue, symbol)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT trade_id, exchange_ts, receive_ts, price, qty, side FROM ticks \
         WHERE sym = ?1 ORDER BY trade_id DESC LIMIT 1",
    )?;
    let mut rows = stmt.query_map(params![sym], |r| tick_row(r, venue, symbol))?;
    Ok(rows.next().transpose()?)
}

/// A tick from a row of `trade_id, exchange_ts, receive_ts, price, qty, side`.
fn tick_row(r: &rusqlite::Row<'_>, venue: Venue, symbol: &str) -> rusqlite::Result<Tick> {
    Ok(Tick {
        venue,
        symbol: symbol.to_string(),
        trade_id: r.get(0)?,
        exchange_ts: r.get(1)?,
        receive_ts: r.get(2)?,
        price: r.get(3)?,
        qty: r.get(4)?,
        side: Side::from_i64(r.get(5)?),
    })
}

/// The `limit` most recent gaps, newest first.
pub fn recent_gaps(conn: &Connection, limit: usize) -> Result<Vec<GapInfo>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT g.id, s.venue, s.name, g.from_id, g.to_id, g.detected_ts, g.filled, g.note \
         FROM gaps g JOIN symbols s ON s.id = g.sym ORDER BY g.id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map(params![limit as i64], |r| {
        Ok(GapInfo {
            id: r.get(0)?,
            venue: r.get(1)?,
            symbol: r.get(2)?,
            from_id: r.get(3)?,
            to_id: r.get(4)?,
            detected_ts: r.get(5)?,
            filled: r.get::<_, i64>(6)? != 0,
            note: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Trade ids of one symbol, ascending (tests and audits).
pub fn trade_ids(conn: &Connection, venue: Venue, symbol: &str) -> Result<Vec<i64>, StoreError> {
    let Some(sym) = sym_id(conn, venue, symbol)? else {
        return Ok(Vec::new());
    };
    let mut stmt =
        conn.prepare_cached("SELECT trade_id FROM ticks WHERE sym = ?1 ORDER BY trade_id")?;
    let rows = stmt.query_map(params![sym], |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Align two bar series on timestamps. Where one leg has no bar, its last
/// close is carried forward for at most `ffill_limit` buckets; beyond that the
/// timestamp is skipped. Timestamps before both legs have traded are skipped.
pub fn align_pair(x: &[Bar], y: &[Bar], tf: Timeframe, ffill_limit: usize) -> Vec<(i64, f64, f64)> {
    let mut out = Vec::with_capacity(x.len().min(y.len()));
    let (mut i, mut j) = (0usize, 0usize);
    let mut lx: Option<(i64, f64)> = None;
    let mut ly: Option<(i64, f64)> = None;
    let step = tf.millis();
    while i < x.len() || j < y.len() {
        let tx = x.get(i).map(|b| b.ts).unwrap_or(i64::MAX);
        let ty = y.get(j).map(|b| b.ts).unwrap_or(i64::MAX);
        let t = tx.min(ty);
        if tx == t {
            lx = Some((t, x[i].close));
            i += 1;
        }
        if ty == t {
            ly = Some((t, y[j].close));
            j += 1;
        }
        if let (Some((ax, px)), Some((ay, py))) = (lx, ly) {
            let fresh = |a: i64| (t - a) / step <= ffill_limit as i64;
            if fresh(ax) && fresh(ay) {
                out.push((t, px, py));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(ts: i64, close: f64) -> Bar {
        Bar {
            ts,
            open: close,
            high: close,
            low: close,
            close,
            volume: 1.0,
            trades: 1,
            vwap: close,
        }
    }

    #[test]
    fn bars_keep_first_last_extremes_and_vwap() {
        let t = [
            (1000, 10.0, 1.0),
            (1500, 12.0, 3.0),
            (1999, 11.0, 1.0),
            (3000, 9.0, 2.0),
        ];
        let bars = rollup::bars_from_ticks(Timeframe::S1, t);
        assert_eq!(bars.len(), 2, "the empty 2s bucket is not invented");
        let b0 = &bars[0];
        assert_eq!(
            (b0.ts, b0.open, b0.high, b0.low, b0.close, b0.trades),
            (1000, 10.0, 12.0, 10.0, 11.0, 3)
        );
        assert!((b0.vwap - (10.0 + 36.0 + 11.0) / 5.0).abs() < 1e-12);
        assert_eq!((bars[1].ts, bars[1].close), (3000, 9.0));
    }

    #[test]
    fn align_pair_forward_fills_within_limit_only() {
        let x = vec![bar(0, 1.0), bar(1000, 2.0), bar(2000, 3.0), bar(5000, 4.0)];
        let y = vec![bar(0, 10.0), bar(2000, 30.0), bar(5000, 40.0)];
        let a = align_pair(&x, &y, Timeframe::S1, 1);
        assert_eq!(
            a,
            vec![
                (0, 1.0, 10.0),
                (1000, 2.0, 10.0),
                (2000, 3.0, 30.0),
                (5000, 4.0, 40.0)
            ]
        );
        let strict = align_pair(&x, &y, Timeframe::S1, 0);
        assert_eq!(strict.len(), 3);
    }
}
