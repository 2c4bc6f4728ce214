//! Reads of the book side: conflated quotes, mark prices and settled
//! funding, and the quote in force at given times (what a bar's close
//! could have been traded at).

use super::StoreError;
use crate::domain::{Funding, MarkPrice, Quote, Venue};
use rusqlite::{params, Connection, OptionalExtension};

fn sym_id(conn: &Connection, venue: Venue, symbol: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id FROM symbols WHERE venue = ?1 AND name = ?2")?
        .query_row(params![venue.as_str(), symbol], |r| r.get(0))
        .optional()?)
}

fn quote_row(r: &rusqlite::Row<'_>, venue: Venue, symbol: &str) -> rusqlite::Result<Quote> {
    Ok(Quote {
        venue,
        symbol: symbol.to_string(),
        ts: r.get(0)?,
        update_id: r.get(1)?,
        receive_ts: r.get(2)?,
        bid: r.get(3)?,
        bid_qty: r.get(4)?,
        ask: r.get(5)?,
        ask_qty: r.get(6)?,
    })
}

const QUOTE_COLS: &str = "ts, update_id, receive_ts, bid, bid_qty, ask, ask_qty";

/// Quotes of one symbol in `[from, to)`, in (time, update id) order, at
/// most `limit`. An unknown symbol gives `Ok(None)`.
pub fn quotes(
    conn: &Connection,
    venue: Venue,
    symbol: &str,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Option<Vec<Quote>>, StoreError> {
    let Some(sym) = sym_id(conn, venue, symbol)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {QUOTE_COLS} FROM quotes WHERE sym = ?1 AND ts >= ?2 AND ts < ?3 \
         ORDER BY ts, update_id LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![sym, from, to, limit as i64], |r| {
        quote_row(r, venue, symbol)
    })?;
    Ok(Some(rows.collect::<Result<Vec<_>, _>>()?))
}

/// For each of `times` (ascending, ms), the last quote at or before it and
/// at most `max_age_ms` older: the book in force then, or `None` where
/// there was none that fresh. One range scan, whatever the count.
pub fn quotes_at(
    conn: &Connection,
    venue: Venue,
    symbol: &str,
    times: &[i64],
    max_age_ms: i64,
) -> Result<Vec<Option<Quote>>, StoreError> {
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return Ok(Vec::new());
    };
    let Some(sym) = sym_id(conn, venue, symbol)? else {
        return Ok(vec![None; times.len()]);
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {QUOTE_COLS} FROM quotes WHERE sym = ?1 AND ts >= ?2 AND ts <= ?3 \
         ORDER BY ts, update_id"
    ))?;
    let mut rows = stmt.query_map(params![sym, first.saturating_sub(max_age_ms), last], |r| {
        quote_row(r, venue, symbol)
    })?;
    let mut out = Vec::with_capacity(times.len());
    let mut current: Option<Quote> = None;
    let mut next = rows.next().transpose()?;
    for &t in times {
        while let Some(q) = next.take_if(|q| q.ts <= t) {
            current = Some(q);
            next = rows.next().transpose()?;
        }
        out.push(current.clone().filter(|q| t - q.ts <= max_age_ms));
    }
    Ok(out)
}

/// Mark prices of one symbol in `[from, to)`, oldest first, at most `limit`.
pub fn marks(
    conn: &Connection,
    venue: Venue,
    symbol: &str,
    from: i64,
    to: i64,
    limit: usize,
) -> Result<Option<Vec<MarkPrice>>, StoreError> {
    let Some(sym) = sym_id(conn, venue, symbol)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT ts, mark, idx, funding_rate, next_funding_ts FROM marks \
         WHERE sym = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![sym, from, to, limit as i64], |r| {
        Ok(MarkPrice {
            venue,
            symbol: symbol.to_string(),
            ts: r.get(0)?,
            mark: r.get(1)?,
            index: r.get(2)?,
            funding_rate: r.get(3)?,
            next_funding_ts: r.get(4)?,
        })
    })?;
    Ok(Some(rows.collect::<Result<Vec<_>, _>>()?))
}

/// The newest mark price of one symbol.
pub fn last_mark(
    conn: &Connection,
    venue: Venue,
    symbol: &str,
) -> Result<Option<MarkPrice>, StoreError> {
    let Some(sym) = sym_id(conn, venue, symbol)? else {
        return Ok(None);
    };
    Ok(conn
        .prepare_cached(
            "SELECT ts, mark, idx, funding_rate, next_funding_ts FROM marks \
             WHERE sym = ?1 ORDER BY ts DESC LIMIT 1",
        )?
        .query_row(params![sym], |r| {
            Ok(MarkPrice {
                venue,
                symbol: symbol.to_string(),
                ts: r.get(0)?,
                mark: r.get(1)?,
                index: r.get(2)?,
                funding_rate: r.get(3)?,
                next_funding_ts: r.get(4)?,
            })
        })
        .optional()?)
}

/// Settled funding of one symbol in `[from, to)`, oldest first.
pub fn funding(
    conn: &Connection,
    venue: Venue,
    symbol: &str,
    from: i64,
    to: i64,
) -> Result<Option<Vec<Funding>>, StoreError> {
    let Some(sym) = sym_id(conn, venue, symbol)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT ts, rate FROM funding WHERE sym = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
    )?;
    let rows = stmt.query_map(params![sym, from, to], |r| {
        Ok(Funding {
            venue,
            symbol: symbol.to_string(),
            ts: r.get(0)?,
            rate: r.get(1)?,
        })
    })?;
    Ok(Some(rows.collect::<Result<Vec<_>, _>>()?))
}
