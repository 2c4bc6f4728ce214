//! Reads of the book side: conflated quotes, mark prices and settled
//! funding, the quote in force at given times (what a bar's close could
//! have been traded at) and the first quote after them, and the venue's
//! trading rules of a symbol.

use super::query::sym_id;
use super::StoreError;
use crate::domain::{Funding, MarkPrice, Quote, SymbolRules, Venue};
use rusqlite::{params, Connection, OptionalExtension};

const MARK_COLS: &str = "ts, mark, idx, funding_rate, next_funding_ts";

fn mark_row(r: &rusqlite::Row<'_>, venue: Venue, symbol: &str) -> rusqlite::Result<MarkPrice> {
    Ok(MarkPrice {
        venue,
        symbol: symbol.to_string(),
        ts: r.get(0)?,
        mark: r.get(1)?,
        index: r.get(2)?,
        funding_rate: r.get(3)?,
        next_funding_ts: r.get(4)?,
    })
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
/// there was none that fresh.
///
/// Times a few seconds apart or closer (1 s to 5 s bars) are answered by
/// one range scan, which reads a handful of quotes per time. Sparser times
/// (minute and hour bars over weeks, where a scan would read millions of
/// quotes) are one index seek each.
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
    let fresh = |q: Option<Quote>, t: i64| q.filter(|q| t - q.ts <= max_age_ms);
    let spacing = (last - first) / times.len().max(1) as i64;
    if spacing > SCAN_SPACING_MS {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {QUOTE_COLS} FROM quotes WHERE sym = ?1 AND ts <= ?2 AND ts >= ?3 \
             ORDER BY ts DESC, update_id DESC LIMIT 1"
        ))?;
        return times
            .iter()
            .map(|&t| {
                let q = stmt
                    .query_row(params![sym, t, t.saturating_sub(max_age_ms)], |r| {
                        quote_row(r, venue, symbol)
                    })
                    .optional()?;
                Ok(fresh(q, t))
            })
            .collect();
    }
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
        out.push(fresh(current.clone(), t));
    }
    Ok(out)
}

/// For each of `ranges` (`[from, to)` ms, ascending and not overlapping:
/// each `from` at or after the previous `to`), the first quote in it, or
/// `None` where there is none: the first book update after a decision,
/// within the bar it may fill on. The same two strategies as
/// [`quotes_at`]: one range scan for dense ranges, one seek each for
/// sparse ones.
pub fn first_quotes(
    conn: &Connection,
    venue: Venue,
    symbol: &str,
    ranges: &[(i64, i64)],
) -> Result<Vec<Option<Quote>>, StoreError> {
    let (Some(&(first, _)), Some(&(last_from, last))) = (ranges.first(), ranges.last()) else {
        return Ok(Vec::new());
    };
    debug_assert!(ranges.windows(2).all(|w| w[1].0 >= w[0].1));
    let Some(sym) = sym_id(conn, venue, symbol)? else {
        return Ok(vec![None; ranges.len()]);
    };
    let spacing = (last_from - first) / ranges.len().max(1) as i64;
    if spacing > SCAN_SPACING_MS {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {QUOTE_COLS} FROM quotes WHERE sym = ?1 AND ts >= ?2 AND ts < ?3 \
             ORDER BY ts, update_id LIMIT 1"
        ))?;
        return ranges
            .iter()
            .map(|&(a, b)| {
                Ok(stmt
                    .query_row(params![sym, a, b], |r| quote_row(r, venue, symbol))
                    .optional()?)
            })
            .collect();
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {QUOTE_COLS} FROM quotes WHERE sym = ?1 AND ts >= ?2 AND ts < ?3 \
         ORDER BY ts, update_id"
    ))?;
    let mut rows = stmt.query_map(params![sym, first, last], |r| quote_row(r, venue, symbol))?;
    let mut out = Vec::with_capacity(ranges.len());
    let mut next = rows.next().transpose()?;
    for &(a, b) in ranges {
        while next.as_ref().is_some_and(|q| q.ts < a) {
            next = rows.next().transpose()?;
        }
        out.push(next.clone().filter(|q| q.ts < b));
    }
    Ok(out)
}

/// The venue's trading rules of `symbol`, if fetched.
pub fn symbol_rules(
    conn: &Connection,
    venue: Venue,
    symbol: &str,
) -> Result<Option<SymbolRules>, StoreError> {
    let Some(sym) = sym_id(conn, venue, symbol)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT qty_step, min_qty, tick_size, min_notional FROM symbol_rules WHERE sym = ?1",
    )?;
    Ok(stmt
        .query_row([sym], |r| {
            Ok(SymbolRules {
                venue,
                symbol: symbol.to_string(),
                qty_step: r.get(0)?,
                min_qty: r.get(1)?,
                tick_size: r.get(2)?,
                min_notional: r.get(3)?,
            })
        })
        .optional()?)
}

/// Above this mean spacing of the times asked, [`quotes_at`] seeks per time.
const SCAN_SPACING_MS: i64 = 5_000;

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
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MARK_COLS} FROM marks WHERE sym = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![sym, from, to, limit as i64], |r| {
        mark_row(r, venue, symbol)
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
        .prepare_cached(&format!(
            "SELECT {MARK_COLS} FROM marks WHERE sym = ?1 ORDER BY ts DESC LIMIT 1"
        ))?
        .query_row(params![sym], |r| mark_row(r, venue, symbol))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::writer::WriteCmd;

    /// Both strategies of `quotes_at` give the naive answer: the last quote
    /// at or before each time, if fresh enough.
    #[test]
    fn quotes_at_matches_the_naive_definition_dense_or_sparse() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("b.db");
        let writer = crate::store::writer::Writer::spawn(
            crate::store::open_writer(&db, crate::store::Durability::Normal).unwrap(),
            8,
        );
        let quotes: Vec<Quote> = (0..2000)
            .map(|i| Quote {
                venue: Venue::Sim,
                symbol: "BTCUSDT".into(),
                update_id: i,
                // Bursts and holes: 0..1000 every 7 ms, then every 900 ms.
                ts: if i < 1000 {
                    i * 7
                } else {
                    7000 + (i - 1000) * 900
                },
                receive_ts: 0,
                bid: 1.0 + i as f64,
                bid_qty: 1.0,
                ask: 2.0 + i as f64,
                ask_qty: 1.0,
            })
            .collect();
        writer
            .tx
            .blocking_send(WriteCmd::Quotes(quotes.clone()))
            .unwrap();
        writer.shutdown();
        let conn = crate::store::open_reader(&db).unwrap();
        let naive = |t: i64, age: i64| {
            quotes
                .iter()
                .filter(|q| q.ts <= t && t - q.ts <= age)
                .max_by_key(|q| (q.ts, q.update_id))
                .map(|q| q.update_id)
        };
        for (times, age) in [
            ((0..900).map(|k| k * 10).collect::<Vec<i64>>(), 50),
            ((0..200).map(|k| k * 6_000).collect(), 1000),
            ((0..200).map(|k| k * 6_000).collect(), 10_000_000),
        ] {
            let got: Vec<Option<i64>> = quotes_at(&conn, Venue::Sim, "BTCUSDT", &times, age)
                .unwrap()
                .into_iter()
                .map(|q| q.map(|q| q.update_id))
                .collect();
            let want: Vec<Option<i64>> = times.iter().map(|t| naive(*t, age)).collect();
            assert_eq!(got, want, "age {age}");
        }
        assert_eq!(
            quotes_at(&conn, Venue::Sim, "ETHUSDT", &[1, 2], 5).unwrap(),
            [None, None]
        );
        // first_quotes: the first quote in each range, both strategies.
        let naive_first = |a: i64, b: i64| {
            quotes
                .iter()
                .filter(|q| q.ts >= a && q.ts < b)
                .min_by_key(|q| (q.ts, q.update_id))
                .map(|q| q.update_id)
        };
        for ranges in [
            (0..900).map(|k| (k * 10, k * 10 + 10)).collect::<Vec<_>>(),
            (0..900).map(|k| (k * 10, k * 10 + 3)).collect(),
            (0..200).map(|k| (k * 6_000, k * 6_000 + 800)).collect(),
            (0..200).map(|k| (k * 6_000, (k + 1) * 6_000)).collect(),
        ] {
            let got: Vec<Option<i64>> = first_quotes(&conn, Venue::Sim, "BTCUSDT", &ranges)
                .unwrap()
                .into_iter()
                .map(|q| q.map(|q| q.update_id))
                .collect();
            let want: Vec<Option<i64>> = ranges.iter().map(|(a, b)| naive_first(*a, *b)).collect();
            assert_eq!(got, want, "{:?}", &ranges[..2]);
        }
        assert_eq!(
            first_quotes(&conn, Venue::Sim, "ETHUSDT", &[(1, 2)]).unwrap(),
            [None]
        );
    }
}
