//! Recorded files as a source: NDJSON in the collector format, raw exchange
//! frames one per line (read by the `replay` venue's adapter), and CSV
//! (`timestamp,symbol,price,qty`). NDJSON records may carry a `kind`:
//! `trade` (the default, so older recordings replay unchanged), `quote`
//! (top of book) or `mark` (mark price and funding), as `pairdesk record`
//! writes them; raw `bookTicker` and `markPriceUpdate` frames work too.
//!
//! Parsing a line is pure ([`parse_line`]); [`replay_file`] streams a file
//! through the same pipeline live ticks take. Malformed lines are counted and
//! reported by line number, never fatal. Records without a trade id get a
//! deterministic one built from the file's identity and the line number, so
//! replaying the same file twice stores nothing new.

use super::event::{parse_decimal, DropReason, Frame};
use super::pipeline::Pipeline;
use super::sanity::TickLimits;
use crate::domain::{MarkPrice, Quote, Side, Tick, Venue};
use serde::Deserialize;
use std::io::BufRead;
use std::path::Path;
use std::time::{Duration, Instant};
use thiserror::Error;

/// One NDJSON collector record:
/// `{"symbol":"ETHUSDT","ts":"2025-12-15T08:43:15.300Z","price":3139.77,"size":0.054}`
#[derive(Debug, Deserialize)]
struct CollectorRecord<'a> {
    symbol: &'a str,
    ts: TsField<'a>,
    price: f64,
    #[serde(alias = "qty")]
    size: f64,
    #[serde(default)]
    side: Option<&'a str>,
    #[serde(default, alias = "trade_id")]
    id: Option<i64>,
}

/// The `kind` of an NDJSON record (absent: a trade).
#[derive(Debug, Deserialize)]
struct KindOnly<'a> {
    #[serde(default, borrow)]
    kind: Option<&'a str>,
}

/// `{"kind":"quote","symbol":"BTCUSDT","ts":..,"receive_ts":..,"id":..,
/// "bid":..,"bid_qty":..,"ask":..,"ask_qty":..}`
#[derive(Debug, Deserialize)]
struct QuoteRecord<'a> {
    symbol: &'a str,
    ts: i64,
    #[serde(default)]
    receive_ts: Option<i64>,
    id: i64,
    bid: f64,
    bid_qty: f64,
    ask: f64,
    ask_qty: f64,
}

/// `{"kind":"mark","symbol":"BTCUSDT","ts":..,"mark":..,"index":..,
/// "funding_rate":..,"next_funding_ts":..}`
#[derive(Debug, Deserialize)]
struct MarkRecord<'a> {
    symbol: &'a str,
    ts: i64,
    mark: f64,
    index: f64,
    funding_rate: f64,
    next_funding_ts: i64,
}

/// A quote as a `kind: quote` record line (what `pairdesk record` writes).
pub fn quote_record(q: &Quote) -> serde_json::Value {
    serde_json::json!({
        "kind": "quote", "symbol": q.symbol, "ts": q.ts, "receive_ts": q.receive_ts,
        "id": q.update_id, "bid": q.bid, "bid_qty": q.bid_qty, "ask": q.ask, "ask_qty": q.ask_qty,
    })
}

/// A mark price as a `kind: mark` record line.
pub fn mark_record(m: &MarkPrice) -> serde_json::Value {
    serde_json::json!({
        "kind": "mark", "symbol": m.symbol, "ts": m.ts, "mark": m.mark, "index": m.index,
        "funding_rate": m.funding_rate, "next_funding_ts": m.next_funding_ts,
    })
}

fn quote_line(l: &str) -> Result<Line, LineError> {
    let r: QuoteRecord =
        serde_json::from_str(l).map_err(|e| LineError::Malformed(e.to_string()))?;
    crate::domain::validate_symbol(r.symbol).map_err(LineError::Malformed)?;
    let sane = [r.bid, r.ask, r.bid_qty, r.ask_qty]
        .iter()
        .all(|v| v.is_finite() && *v >= 0.0);
    if !sane || r.bid <= 0.0 || r.bid > r.ask {
        return Err(LineError::Malformed(format!(
            "empty, crossed or invalid book: bid {} ask {}",
            r.bid, r.ask
        )));
    }
    Ok(Line::Quote(Quote {
        venue: Venue::Replay,
        symbol: r.symbol.to_ascii_uppercase(),
        update_id: r.id,
        ts: r.ts,
        // Conflation buckets by receive time: the recorded one, so a
        // replay keeps what the recording kept at any speed.
        receive_ts: r.receive_ts.unwrap_or(r.ts),
        bid: r.bid,
        bid_qty: r.bid_qty,
        ask: r.ask,
        ask_qty: r.ask_qty,
    }))
}

fn mark_line(l: &str) -> Result<Line, LineError> {
    let r: MarkRecord = serde_json::from_str(l).map_err(|e| LineError::Malformed(e.to_string()))?;
    crate::domain::validate_symbol(r.symbol).map_err(LineError::Malformed)?;
    let ok = r.mark.is_finite()
        && r.mark > 0.0
        && r.index.is_finite()
        && r.index > 0.0
        && r.funding_rate.is_finite();
    if !ok {
        return Err(LineError::Malformed(format!(
            "invalid mark {} / index {} / funding {}",
            r.mark, r.index, r.funding_rate
        )));
    }
    Ok(Line::Mark(MarkPrice {
        venue: Venue::Replay,
        symbol: r.symbol.to_ascii_uppercase(),
        ts: r.ts,
        mark: r.mark,
        index: r.index,
        funding_rate: r.funding_rate,
        next_funding_ts: r.next_funding_ts,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TsField<'a> {
    Millis(i64),
    Text(&'a str),
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum LineError {
    #[error("{0}")]
    Malformed(String),
}

/// What a line turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Tick(Tick),
    Quote(Quote),
    Mark(MarkPrice),
    Dropped(DropReason),
    /// Blank lines, CSV headers, non-trade frames.
    Skip,
}

/// Parse an ISO-8601 timestamp (`2025-12-15T08:43:15.300Z`, any offset) or
/// epoch milliseconds into epoch ms.
pub fn parse_ts(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().map_err(|e| e.to_string());
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp_millis())
        .map_err(|e| format!("bad timestamp {s:?}: {e}"))
}

/// Deterministic id for a record without one: the file's identity in the top
/// bits and the line number in the low 40 bits.
pub fn synthetic_id(file_id: u32, line_no: u64) -> i64 {
    (((file_id & 0x3F_FFFF) as i64) << 40) | (line_no as i64 & ((1 << 40) - 1))
}

/// The identity of in-memory content (uploads), computed like
/// [`file_identity`] so a file uploaded twice keeps its trade ids.
pub fn content_identity(bytes: &[u8]) -> u32 {
    let mut h: u64 = 1469598103934665603;
    let head = &bytes[..bytes.len().min(64 * 1024)];
    for b in (bytes.len() as u64).to_le_bytes().iter().chain(head) {
        h = (h ^ *b as u64).wrapping_mul(1099511628211);
    }
    (h ^ (h >> 32)) as u32
}

/// A stable identity for a file: FNV-1a over its size and first 64 KiB.
pub fn file_identity(path: &Path) -> std::io::Result<u32> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut buf = vec![0u8; 64 * 1024];
    let n = f.read(&mut buf)?;
    let mut h: u64 = 1469598103934665603;
    for b in len.to_le_bytes().iter().chain(&buf[..n]) {
        h = (h ^ *b as u64).wrapping_mul(1099511628211);
    }
    Ok((h ^ (h >> 32)) as u32)
}

fn check_trade(
    venue: Venue,
    symbol: &str,
    price: f64,
    qty: f64,
) -> Result<Option<DropReason>, LineError> {
    if !price.is_finite() || price < 0.0 || !qty.is_finite() || qty < 0.0 {
        return Err(LineError::Malformed(format!(
            "invalid price {price} or quantity {qty}"
        )));
    }
    crate::domain::validate_symbol(symbol).map_err(LineError::Malformed)?;
    let _ = venue;
    Ok(if price == 0.0 {
        Some(DropReason::ZeroPrice)
    } else if qty == 0.0 {
        Some(DropReason::ZeroQty)
    } else {
        None
    })
}

/// Parse one line of a recording. `line_no` is 1-based.
pub fn parse_line(
    line: &str,
    file_id: u32,
    line_no: u64,
    receive_ts: i64,
) -> Result<Line, LineError> {
    let l = line.trim();
    if l.is_empty() {
        return Ok(Line::Skip);
    }
    let venue = Venue::Replay;
    if l.starts_with('{') {
        // A raw exchange frame has an event type (or, a spot book ticker,
        // an update id); a collector record has `ts`.
        if l.contains("\"e\":") || (l.contains("\"u\":") && !l.contains("\"kind\":")) {
            return match super::venues::adapter(venue).parse_frame(l, receive_ts) {
                Ok(Frame::Tick(t)) => Ok(Line::Tick(t)),
                // No receive time in a raw frame: the exchange's stands in.
                Ok(Frame::Quote(q)) => Ok(Line::Quote(Quote {
                    receive_ts: q.ts,
                    ..q
                })),
                Ok(Frame::Mark(m)) => Ok(Line::Mark(m)),
                Ok(Frame::Dropped { reason, .. }) => Ok(Line::Dropped(reason)),
                Ok(_) => Ok(Line::Skip),
                Err(e) => Err(LineError::Malformed(e.to_string())),
            };
        }
        match serde_json::from_str::<KindOnly>(l).map(|k| k.kind) {
            Ok(Some("quote")) => return quote_line(l),
            Ok(Some("mark")) => return mark_line(l),
            Ok(None | Some("trade")) => {}
            Ok(Some(k)) => {
                return Err(LineError::Malformed(format!(
                    "unknown kind {:?}: expected trade, quote or mark",
                    k.chars().take(20).collect::<String>()
                )))
            }
            Err(e) => return Err(LineError::Malformed(e.to_string())),
        }
        let r: CollectorRecord =
            serde_json::from_str(l).map_err(|e| LineError::Malformed(e.to_string()))?;
        let ts = match r.ts {
            TsField::Millis(m) => m,
            TsField::Text(s) => parse_ts(s).map_err(LineError::Malformed)?,
        };
        if let Some(reason) = check_trade(venue, r.symbol, r.price, r.size)? {
            return Ok(Line::Dropped(reason));
        }
        let side = match r.side.map(|s| s.to_ascii_lowercase()) {
            Some(s) if s == "buy" => Side::Buy,
            Some(s) if s == "sell" => Side::Sell,
            _ => Side::Unknown,
        };
        return Ok(Line::Tick(Tick {
            venue,
            symbol: r.symbol.to_ascii_uppercase(),
            trade_id: r.id.unwrap_or_else(|| synthetic_id(file_id, line_no)),
            exchange_ts: ts,
            receive_ts,
            price: r.price,
            qty: r.size,
            side,
        }));
    }
    // CSV: timestamp,symbol,price,qty
    // One line is one record: a quoted field may hold commas and doubled
    // quotes, not line breaks (no tick file needs them).
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(l.as_bytes());
    let mut rec = csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => {}
        Ok(false) => return Ok(Line::Skip),
        Err(e) => return Err(LineError::Malformed(format!("bad CSV: {e}"))),
    }
    let cols: Vec<&str> = rec.iter().collect();
    if cols.len() < 4 {
        return Err(LineError::Malformed(format!(
            "expected 4 CSV columns (timestamp,symbol,price,qty), found {}",
            cols.len()
        )));
    }
    if line_no == 1 && cols[0].eq_ignore_ascii_case("timestamp") {
        return Ok(Line::Skip);
    }
    let ts = parse_ts(cols[0]).map_err(LineError::Malformed)?;
    let price = parse_decimal("price", cols[2]).map_err(|e| LineError::Malformed(e.to_string()))?;
    let qty = parse_decimal("qty", cols[3]).map_err(|e| LineError::Malformed(e.to_string()))?;
    if let Some(reason) = check_trade(venue, cols[1], price, qty)? {
        return Ok(Line::Dropped(reason));
    }
    Ok(Line::Tick(Tick {
        venue,
        symbol: cols[1].to_ascii_uppercase(),
        trade_id: synthetic_id(file_id, line_no),
        exchange_ts: ts,
        receive_ts,
        price,
        qty,
        side: Side::Unknown,
    }))
}

/// Playback speed: a multiple of real time, or as fast as possible.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    Max,
    Times(f64),
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "max" {
            return Ok(Speed::Max);
        }
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 && v <= 1e6 => Ok(Speed::Times(v)),
            _ => Err(format!(
                "invalid speed {s:?}: expected a positive number (e.g. 10) or \"max\""
            )),
        }
    }
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ReplayReport {
    pub lines: u64,
    pub ticks: u64,
    /// Quote and mark price lines read (uploads store trades only).
    pub quotes: u64,
    pub marks: u64,
    pub dropped: std::collections::BTreeMap<String, u64>,
    pub malformed: u64,
    /// The first malformed lines: (line number, reason).
    pub malformed_lines: Vec<(u64, String)>,
    /// Well-formed ticks outside the plausibility limits, by reason.
    pub refused: std::collections::BTreeMap<String, u64>,
    /// The first refused lines: (line number, what was wrong).
    pub refused_lines: Vec<(u64, String)>,
    pub seconds: f64,
}

const MAX_REPORTED_LINES: usize = 100;
const BATCH: usize = 4096;

/// Parse a whole in-memory recording (uploads), without I/O. `receive_ts`
/// is also "now" for the plausibility limits.
pub fn parse_all(
    text: &str,
    file_id: u32,
    receive_ts: i64,
    limits: &TickLimits,
) -> (Vec<Tick>, ReplayReport) {
    let mut rep = ReplayReport::default();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        rep.lines = n;
        account(
            parse_line(line, file_id, n, receive_ts),
            n,
            (limits, receive_ts),
            &mut rep,
            &mut out,
            None,
        );
    }
    (out, rep)
}

/// Quotes and marks read by a replay, on their way to the pipeline.
#[derive(Default)]
struct BookLines {
    quotes: Vec<Quote>,
    marks: Vec<MarkPrice>,
}

/// Count line `n`'s outcome in `rep`, keeping a tick that passes the
/// limits (checked at `now`) in `out`, and quotes and marks in `book`
/// when given.
fn account(
    r: Result<Line, LineError>,
    n: u64,
    (limits, now): (&TickLimits, i64),
    rep: &mut ReplayReport,
    out: &mut Vec<Tick>,
    book: Option<&mut BookLines>,
) {
    match r {
        Ok(Line::Quote(q)) => match limits.check_quote(&q, now) {
            Ok(()) => {
                rep.quotes += 1;
                if let Some(b) = book {
                    b.quotes.push(q);
                }
            }
            Err((reason, detail)) => {
                *rep.refused.entry(reason.as_str().to_string()).or_default() += 1;
                if rep.refused_lines.len() < MAX_REPORTED_LINES {
                    rep.refused_lines.push((n, detail));
                }
            }
        },
        Ok(Line::Mark(m)) => {
            rep.marks += 1;
            if let Some(b) = book {
                b.marks.push(m);
            }
        }
        Ok(Line::Tick(t)) => match limits.check(&t, now) {
            Ok(()) => {
                rep.ticks += 1;
                out.push(t);
            }
            Err((reason, detail)) => {
                *rep.refused.entry(reason.as_str().to_string()).or_default() += 1;
                if rep.refused_lines.len() < MAX_REPORTED_LINES {
                    rep.refused_lines.push((n, detail));
                }
            }
        },
        Ok(Line::Dropped(reason)) => {
            *rep.dropped.entry(reason.as_str().to_string()).or_default() += 1
        }
        Ok(Line::Skip) => {}
        Err(LineError::Malformed(why)) => {
            rep.malformed += 1;
            if rep.malformed_lines.len() < MAX_REPORTED_LINES {
                rep.malformed_lines.push((n, why));
            }
        }
    }
}

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Stream `path` through `pipeline` at `speed`, stopping early on shutdown.
pub async fn replay_file(
    path: &Path,
    pipeline: &Pipeline,
    speed: Speed,
    shutdown: Option<tokio_util::sync::CancellationToken>,
) -> Result<ReplayReport, ReplayError> {
    let io = |source| ReplayError::Io {
        path: path.display().to_string(),
        source,
    };
    let file_id = file_identity(path).map_err(io)?;
    let reader = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).map_err(io)?);
    let started = Instant::now();
    let mut rep = ReplayReport::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut book = BookLines::default();
    let mut first_ts: Option<i64> = None;
    for (i, line) in reader.lines().enumerate() {
        let n = i as u64 + 1;
        rep.lines = n;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                account(
                    Err(LineError::Malformed(format!("unreadable line: {e}"))),
                    n,
                    (pipeline.limits(), 0),
                    &mut rep,
                    &mut batch,
                    None,
                );
                continue;
            }
        };
        let now = crate::ingest::now_ms();
        account(
            parse_line(&line, file_id, n, now),
            n,
            (pipeline.limits(), now),
            &mut rep,
            &mut batch,
            Some(&mut book),
        );
        if book.quotes.len() + book.marks.len() >= BATCH {
            pipeline.ingest(std::mem::take(&mut batch)).await;
            pipeline
                .ingest_quotes(std::mem::take(&mut book.quotes))
                .await;
            pipeline.ingest_marks(std::mem::take(&mut book.marks)).await;
        }
        if let (Speed::Times(x), Some(last)) = (speed, batch.last()) {
            let t0 = *first_ts.get_or_insert(last.exchange_ts);
            let due = Duration::from_secs_f64(((last.exchange_ts - t0).max(0) as f64 / 1000.0) / x);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                pipeline.ingest(std::mem::take(&mut batch)).await;
                tokio::time::sleep(wait).await;
            }
        }
        if batch.len() >= BATCH {
            pipeline.ingest(std::mem::take(&mut batch)).await;
        }
        if shutdown.as_ref().is_some_and(|s| s.is_cancelled()) {
            break;
        }
    }
    pipeline.ingest(batch).await;
    pipeline.ingest_quotes(book.quotes).await;
    pipeline.ingest_marks(book.marks).await;
    pipeline.flush_quotes(true).await;
    pipeline.flush().await;
    rep.seconds = started.elapsed().as_secs_f64();
    for (n, why) in rep.malformed_lines.iter().take(10) {
        tracing::warn!(line = n, reason = %why, "malformed line skipped");
    }
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(l: Result<Line, LineError>) -> Tick {
        match l.unwrap() {
            Line::Tick(t) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn collector_ndjson_is_parsed_with_a_deterministic_id() {
        let l =
            r#"{"symbol":"ETHUSDT","ts":"2025-12-15T08:43:15.300Z","price":3139.77,"size":0.054}"#;
        let t = tick(parse_line(l, 9, 3, 0));
        assert_eq!(t.exchange_ts, 1765788195300);
        assert_eq!((t.price, t.qty), (3139.77, 0.054));
        assert_eq!(t.trade_id, synthetic_id(9, 3));
        assert_eq!(tick(parse_line(l, 9, 3, 5)).trade_id, t.trade_id);
        assert_ne!(synthetic_id(9, 3), synthetic_id(10, 3));
    }

    #[test]
    fn quote_and_mark_records_replay_and_old_trade_records_still_do() {
        let q = Quote {
            venue: Venue::Replay,
            symbol: "BTCUSDT".into(),
            update_id: 7,
            ts: 1_765_788_195_300,
            receive_ts: 1_765_788_195_310,
            bid: 90110.5,
            bid_qty: 1.5,
            ask: 90110.6,
            ask_qty: 0.2,
        };
        let line = quote_record(&q).to_string();
        assert_eq!(parse_line(&line, 1, 1, i64::MAX).unwrap(), Line::Quote(q));
        let m = MarkPrice {
            venue: Venue::Replay,
            symbol: "ETHUSDT".into(),
            ts: 5,
            mark: 3139.7,
            index: 3139.6,
            funding_rate: -0.0001,
            next_funding_ts: 28_800_000,
        };
        assert_eq!(
            parse_line(&mark_record(&m).to_string(), 1, 1, 0).unwrap(),
            Line::Mark(m)
        );
        let trade = r#"{"kind":"trade","symbol":"ETHUSDT","ts":5,"price":1.5,"size":2}"#;
        assert!(matches!(parse_line(trade, 1, 1, 0), Ok(Line::Tick(_))));
        for bad in [
            r#"{"kind":"quote","symbol":"BTCUSDT","ts":1,"id":1,"bid":2,"bid_qty":1,"ask":1,"ask_qty":1}"#,
            r#"{"kind":"quote","symbol":"BTCUSDT","ts":1,"id":1,"bid":0,"bid_qty":1,"ask":1,"ask_qty":1}"#,
            r#"{"kind":"mark","symbol":"BTCUSDT","ts":1,"mark":-1,"index":1,"funding_rate":0,"next_funding_ts":1}"#,
            r#"{"kind":"depth","symbol":"BTCUSDT","ts":1}"#,
        ] {
            assert!(parse_line(bad, 1, 1, 0).is_err(), "{bad}");
        }
        // A raw spot book ticker frame, which has no event type.
        let spot =
            r#"{"u":400900217,"s":"BNBUSDT","b":"25.35","B":"31.21","a":"25.36","A":"40.66"}"#;
        assert!(matches!(parse_line(spot, 1, 1, 9), Ok(Line::Quote(_))));
    }

    #[test]
    fn zero_rows_are_dropped_not_malformed() {
        let l = r#"{"symbol":"BTCUSDT","ts":"2025-12-15T08:43:18.666Z","price":0,"size":0}"#;
        assert_eq!(
            parse_line(l, 1, 1, 0).unwrap(),
            Line::Dropped(DropReason::ZeroPrice)
        );
    }

    #[test]
    fn csv_with_iso_or_epoch_times() {
        assert_eq!(
            parse_line("timestamp,symbol,price,qty", 1, 1, 0).unwrap(),
            Line::Skip
        );
        let a = tick(parse_line(
            "2025-12-15T08:43:15.300Z,BTCUSDT,89000.5,0.01",
            1,
            2,
            0,
        ));
        let b = tick(parse_line("1765788195300,btcusdt,89000.5,0.01", 1, 3, 0));
        assert_eq!(a.exchange_ts, b.exchange_ts);
        assert_eq!(b.symbol, "BTCUSDT");
    }

    #[test]
    fn quoted_csv_fields_are_read() {
        assert_eq!(
            parse_line("\"timestamp\",\"symbol\",\"price\",\"qty\"", 1, 1, 0).unwrap(),
            Line::Skip
        );
        let t = tick(parse_line(
            "\"2025-12-15T08:43:15.300Z\",\"btcusdt\", 89000.5 ,\"0.01\"",
            1,
            2,
            0,
        ));
        assert_eq!(
            (t.symbol.as_str(), t.price, t.qty),
            ("BTCUSDT", 89000.5, 0.01)
        );
        // A comma inside quotes is part of the field, not a separator.
        let e = parse_line("1765788195300,\"BTC,USDT\",1,1", 1, 3, 0).unwrap_err();
        assert!(
            matches!(e, LineError::Malformed(ref m) if m.contains("BTC,USDT")),
            "{e:?}"
        );
        assert!(parse_line("1765788195300,\"BTCUSDT,1,1", 1, 4, 0).is_err());
    }

    #[test]
    fn raw_frames_keep_their_trade_ids() {
        let l = r#"{"e":"trade","E":1,"T":2,"s":"BTCUSDT","t":77,"p":"1.5","q":"2","X":"MARKET","m":false}"#;
        assert_eq!(tick(parse_line(l, 1, 1, 0)).trade_id, 77);
    }

    #[test]
    fn malformed_lines_are_reported_by_number() {
        let text = "{\"symbol\":\"BTCUSDT\",\"ts\":1765788195300,\"price\":1,\"size\":1}\nnot a line\n{\"symbol\":\"BTCUSDT\",\"ts\":\"yesterday\",\"price\":1,\"size\":1}\n,,,\n";
        let (ticks, rep) = parse_all(text, 1, NOW, &TickLimits::default());
        assert_eq!(ticks.len(), 1);
        assert_eq!(rep.malformed, 3);
        let lines: Vec<u64> = rep.malformed_lines.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, vec![2, 3, 4]);
    }

    /// 2025-12-15T08:43:15.300Z, the receive time of the upload tests.
    const NOW: i64 = 1_765_788_195_300;

    #[test]
    fn absurd_values_are_refused_and_named_by_line() {
        let text = [
            r#"{"symbol":"BTCUSDT","ts":1765788195300,"price":89000.5,"size":0.01}"#,
            r#"{"symbol":"BTCUSDT","ts":1765788195301,"price":1e308,"size":0.01}"#,
            "9999-12-31T00:00:00Z,BTCUSDT,89000.5,0.01",
            "1000,BTCUSDT,89000.5,0.01",
            r#"{"symbol":"BTCUSDT","ts":1765788195302,"price":89000.5,"size":1e300}"#,
        ]
        .join("\n");
        let (ticks, rep) = parse_all(&text, 1, NOW, &TickLimits::default());
        assert_eq!(ticks.len(), 1, "{rep:?}");
        assert_eq!(rep.ticks, 1);
        let lines: Vec<u64> = rep.refused_lines.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, vec![2, 3, 4, 5], "{rep:?}");
        assert!(rep.refused_lines[0].1.contains("1e308"), "{rep:?}");
        assert_eq!(rep.refused["price_out_of_range"], 1);
        assert_eq!(rep.refused["time_in_future"], 1);
        assert_eq!(rep.refused["time_too_old"], 1);
        assert_eq!(rep.refused["qty_out_of_range"], 1);
    }

    #[test]
    fn nan_and_negative_prices_are_malformed() {
        assert!(parse_line("1,BTCUSDT,NaN,1", 1, 2, 0).is_err());
        assert!(parse_line("1,BTCUSDT,-1,1", 1, 2, 0).is_err());
        assert!(parse_line(r#"{"symbol":"B/X","ts":1,"price":1,"size":1}"#, 1, 1, 0).is_err());
    }

    #[test]
    fn speed_parses() {
        assert_eq!("max".parse::<Speed>().unwrap(), Speed::Max);
        assert_eq!("10".parse::<Speed>().unwrap(), Speed::Times(10.0));
        assert!("0".parse::<Speed>().is_err());
        assert!("fast".parse::<Speed>().is_err());
    }
}
