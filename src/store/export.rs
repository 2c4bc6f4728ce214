//! CSV export of stored ticks or bars for a time range (`pairdesk export`).
//!
//! Rows are streamed from the reader connection straight into the writer,
//! so exporting millions of ticks needs no more memory than one row. Every
//! row starts with `ts_iso,ts_ms`: the ISO form for people and spreadsheets,
//! the integer for exact joins. Floats are printed in Rust's shortest
//! round-trip form, so a price parsed from the exchange's decimal string is
//! written back as the same decimal. Written by the `csv` crate, so a field
//! that ever needs quoting gets it.

use super::StoreError;
use crate::clock::iso_ms;
use crate::domain::{Bar, Side, Timeframe, Venue};
use rusqlite::{params, Connection, OptionalExtension};
use std::io::Write;
use thiserror::Error;

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Ticks,
    Bars(Timeframe),
}

#[derive(Debug, Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no ticks stored for {symbol} on venue {venue}")]
    UnknownSymbol { venue: Venue, symbol: String },
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
}

impl From<rusqlite::Error> for ExportError {
    fn from(e: rusqlite::Error) -> Self {
        ExportError::Store(StoreError::Sqlite(e))
    }
}

pub const TICKS_HEADER: [&str; 7] = [
    "ts_iso",
    "ts_ms",
    "trade_id",
    "price",
    "qty",
    "side",
    "receive_ts_ms",
];
pub const BARS_HEADER: [&str; 9] = [
    "ts_iso", "ts_ms", "open", "high", "low", "close", "volume", "trades", "vwap",
];

impl From<csv::Error> for ExportError {
    fn from(e: csv::Error) -> Self {
        match e.into_kind() {
            csv::ErrorKind::Io(e) => ExportError::Io(e),
            other => ExportError::Io(std::io::Error::other(format!("{other:?}"))),
        }
    }
}

fn side_str(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
        Side::Unknown => "",
    }
}

fn write_bar<W: Write>(out: &mut csv::Writer<W>, b: &Bar) -> csv::Result<()> {
    out.write_record([
        iso_ms(b.ts),
        b.ts.to_string(),
        b.open.to_string(),
        b.high.to_string(),
        b.low.to_string(),
        b.close.to_string(),
        b.volume.to_string(),
        b.trades.to_string(),
        b.vwap.to_string(),
    ])
}

/// `bars` as CSV with the header row.
pub fn write_bars<W: Write>(out: W, bars: &[Bar]) -> Result<(), ExportError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(BARS_HEADER)?;
    for b in bars {
        write_bar(&mut w, b)?;
    }
    w.flush()?;
    Ok(())
}

pub const QUOTES_HEADER: [&str; 9] = [
    "ts_iso",
    "ts_ms",
    "update_id",
    "receive_ts_ms",
    "bid",
    "bid_qty",
    "ask",
    "ask_qty",
    "mid",
];

/// Quotes as CSV with a header, prices in their shortest exact form.
pub fn write_quotes<W: Write>(out: W, quotes: &[crate::domain::Quote]) -> Result<(), ExportError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(QUOTES_HEADER)?;
    for q in quotes {
        w.write_record([
            iso_ms(q.ts),
            q.ts.to_string(),
            q.update_id.to_string(),
            q.receive_ts.to_string(),
            q.bid.to_string(),
            q.bid_qty.to_string(),
            q.ask.to_string(),
            q.ask_qty.to_string(),
            q.mid().to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// Write `kind` for one symbol over `[from, to)` (ms) as CSV with a header.
/// Returns the number of data rows written.
pub fn export_csv<W: Write>(
    conn: &Connection,
    venue: Venue,
    symbol: &str,
    kind: ExportKind,
    from: i64,
    to: i64,
    out: W,
) -> Result<u64, ExportError> {
    let sym: i64 = conn
        .prepare_cached("SELECT id FROM symbols WHERE venue = ?1 AND name = ?2")?
        .query_row(params![venue.as_str(), symbol], |r| r.get(0))
        .optional()?
        .ok_or_else(|| ExportError::UnknownSymbol {
            venue,
            symbol: symbol.to_string(),
        })?;
    let mut out = csv::Writer::from_writer(out);
    let mut n = 0u64;
    match kind {
        ExportKind::Ticks => {
            out.write_record(TICKS_HEADER)?;
            let mut stmt = conn.prepare(
                "SELECT exchange_ts, trade_id, price, qty, side, receive_ts \
                 FROM ticks \
                 WHERE sym = ?1 AND exchange_ts >= ?2 AND exchange_ts < ?3 \
                 ORDER BY exchange_ts, trade_id",
            )?;
            let mut rows = stmt.query(params![sym, from, to])?;
            while let Some(r) = rows.next()? {
                let ts: i64 = r.get(0)?;
                let id: i64 = r.get(1)?;
                let price: f64 = r.get(2)?;
                let qty: f64 = r.get(3)?;
                let side = Side::from_i64(r.get(4)?);
                let rts: i64 = r.get(5)?;
                out.write_record([
                    iso_ms(ts),
                    ts.to_string(),
                    id.to_string(),
                    price.to_string(),
                    qty.to_string(),
                    side_str(side).to_string(),
                    rts.to_string(),
                ])?;
                n += 1;
            }
        }
        ExportKind::Bars(tf) => {
            out.write_record(BARS_HEADER)?;
            // Bars are few compared with ticks; building them in memory keeps
            // this identical to what the API and the dashboard serve.
            let bars = super::query::bars(conn, super::Plan::Rollups, venue, symbol, tf, from, to)?
                .unwrap_or_default();
            for b in &bars {
                write_bar(&mut out, b)?;
            }
            n = bars.len() as u64;
        }
    }
    out.flush()?;
    Ok(n)
}
