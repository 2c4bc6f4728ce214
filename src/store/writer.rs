//! The single writer: one thread owns the write connection and commits ticks
//! in batched transactions fed by a bounded channel.
//!
//! Batching is group commit: the writer takes whatever has queued while the
//! previous transaction was committing (up to [`MAX_BATCH`] ticks), so an idle
//! market commits each tick within a millisecond and a busy one amortises the
//! fsync over thousands. A full channel is back-pressure that callers see
//! (`try_send` fails and is counted); nothing is dropped silently. A failed
//! commit (disk full, I/O error) keeps the batch and retries, so a tick that
//! was acknowledged as committed is never lost and a pending one never skipped.

use super::{schema::SCHEMA_VERSION, StoreError};
use crate::domain::{Tick, Venue};
use rusqlite::{params, Connection};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// Upper bound on ticks per transaction.
pub const MAX_BATCH: usize = 16_384;

/// A gap in trade ids found by the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct GapRecord {
    pub venue: Venue,
    pub symbol: String,
    /// First missing id.
    pub from_id: i64,
    /// Last missing id.
    pub to_id: i64,
    pub detected_ts: i64,
    pub filled: bool,
    pub note: String,
}

pub enum WriteCmd {
    Ticks(Vec<Tick>),
    Gap(GapRecord),
    /// Mark a recorded gap as backfilled (fully or partly, per `note`).
    GapFilled {
        venue: Venue,
        symbol: String,
        from_id: i64,
        to_id: i64,
        complete: bool,
        note: String,
    },
    /// Replies once everything sent before it is committed.
    Flush(oneshot::Sender<()>),
}

/// Counters the writer publishes for metrics and the status bar.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub inserted: AtomicU64,
    pub duplicates: AtomicU64,
    pub batches: AtomicU64,
    pub last_batch_us: AtomicU64,
    pub max_batch_us: AtomicU64,
    pub commit_errors: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

/// The sending side plus the thread; dropping every sender stops the writer
/// after it has committed everything queued.
pub struct Writer {
    pub tx: mpsc::Sender<WriteCmd>,
    pub stats: Arc<WriterStats>,
    /// Total ticks committed (inserted or found already present), for waiters.
    pub committed: watch::Receiver<u64>,
    join: std::thread::JoinHandle<()>,
}

impl Writer {
    /// Start the writer on `conn` with a channel of `capacity` batches.
    pub fn spawn(conn: Connection, capacity: usize) -> Writer {
        let (tx, rx) = mpsc::channel(capacity);
        let stats = Arc::new(WriterStats::default());
        let (committed_tx, committed) = watch::channel(0u64);
        let st = stats.clone();
        let join = std::thread::Builder::new()
            .name("pairdesk-writer".into())
            .spawn(move || run(conn, rx, st, committed_tx))
            .expect("spawn writer thread");
        Writer {
            tx,
            stats,
            committed,
            join,
        }
    }

    /// Close the channel and wait until every queued tick is committed.
    pub fn shutdown(self) {
        drop(self.tx);
        if self.join.join().is_err() {
            tracing::error!("writer thread panicked");
        }
    }
}

fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<WriteCmd>,
    stats: Arc<WriterStats>,
    committed: watch::Sender<u64>,
) {
    let mut symbols: HashMap<(Venue, String), i64> = HashMap::new();
    let mut pending: Vec<WriteCmd> = Vec::new();
    let mut total: u64 = 0;
    if let Err(e) = conn.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?1)",
        params![SCHEMA_VERSION.to_string()],
    ) {
        tracing::warn!(error = %e, "could not record schema version");
    }
    while let Some(first) = rx.blocking_recv() {
        let mut n = count(&first);
        pending.push(first);
        while n < MAX_BATCH {
            match rx.try_recv() {
                Ok(cmd) => {
                    n += count(&cmd);
                    pending.push(cmd);
                }
                Err(_) => break,
            }
        }
        let mut backoff = Duration::from_millis(50);
        loop {
            let started = Instant::now();
            match commit(&mut conn, &mut symbols, &pending) {
                Ok((ins, dup)) => {
                    let us = started.elapsed().as_micros() as u64;
                    stats.inserted.fetch_add(ins, Relaxed);
                    stats.duplicates.fetch_add(dup, Relaxed);
                    stats.batches.fetch_add(1, Relaxed);
                    stats.last_batch_us.store(us, Relaxed);
                    stats.max_batch_us.fetch_max(us, Relaxed);
                    total += ins + dup;
                    committed.send_replace(total);
                    if let Ok(mut e) = stats.last_error.lock() {
                        *e = None;
                    }
                    break;
                }
                Err(e) => {
                    // Symbol ids cached from a rolled-back transaction may not exist.
                    symbols.clear();
                    stats.commit_errors.fetch_add(1, Relaxed);
                    tracing::error!(error = %e, retry_in = ?backoff, "commit failed; keeping the batch and retrying");
                    if let Ok(mut le) = stats.last_error.lock() {
                        *le = Some(e.to_string());
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
        for cmd in pending.drain(..) {
            if let WriteCmd::Flush(reply) = cmd {
                let _ = reply.send(());
            }
        }
    }
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE); PRAGMA optimize;") {
        tracing::warn!(error = %e, "final checkpoint failed");
    }
    tracing::info!(total, "writer stopped after committing everything queued");
}

fn count(cmd: &WriteCmd) -> usize {
    match cmd {
        WriteCmd::Ticks(v) => v.len(),
        _ => 1,
    }
}

fn symbol_id(
    conn: &Connection,
    cache: &mut HashMap<(Venue, String), i64>,
    venue: Venue,
    name: &str,
) -> Result<i64, rusqlite::Error> {
    if let Some(id) = cache.get(&(venue, name.to_string())) {
        return Ok(*id);
    }
    conn.prepare_cached("INSERT OR IGNORE INTO symbols(venue, name) VALUES (?1, ?2)")?
        .execute(params![venue.as_str(), name])?;
    let id: i64 = conn
        .prepare_cached("SELECT id FROM symbols WHERE venue = ?1 AND name = ?2")?
        .query_row(params![venue.as_str(), name], |r| r.get(0))?;
    cache.insert((venue, name.to_string()), id);
    Ok(id)
}

/// Commit one batch; returns (inserted, already present).
fn commit(
    conn: &mut Connection,
    symbols: &mut HashMap<(Venue, String), i64>,
    batch: &[WriteCmd],
) -> Result<(u64, u64), rusqlite::Error> {
    let tx = conn.transaction()?;
    let (mut ins, mut dup) = (0u64, 0u64);
    {
        let mut last: Option<(Venue, String, i64)> = None;
        for cmd in batch {
            match cmd {
                WriteCmd::Ticks(ticks) => {
                    let mut stmt = tx.prepare_cached(
                        "INSERT OR IGNORE INTO ticks(sym, trade_id, exchange_ts, receive_ts, price, qty, side) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )?;
                    for t in ticks {
                        let sym = match &last {
                            Some((v, s, id)) if *v == t.venue && *s == t.symbol => *id,
                            _ => {
                                let id = symbol_id(&tx, symbols, t.venue, &t.symbol)?;
                                last = Some((t.venue, t.symbol.clone(), id));
                                id
                            }
                        };
                        let n = stmt.execute(params![
                            sym,
                            t.trade_id,
                            t.exchange_ts,
                            t.receive_ts,
                            t.price,
                            t.qty,
                            t.side.as_i64()
                        ])?;
                        if n == 1 {
                            ins += 1;
                        } else {
                            dup += 1;
                        }
                    }
                }
                WriteCmd::Gap(g) => {
                    let sym = symbol_id(&tx, symbols, g.venue, &g.symbol)?;
                    tx.prepare_cached(
                        "INSERT INTO gaps(sym, from_id, to_id, detected_ts, filled, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![sym, g.from_id, g.to_id, g.detected_ts, g.filled as i64, g.note])?;
                }
                WriteCmd::GapFilled {
                    venue,
                    symbol,
                    from_id,
                    to_id,
                    complete,
                    note,
                } => {
                    let sym = symbol_id(&tx, symbols, *venue, symbol)?;
                    tx.prepare_cached(
                        "UPDATE gaps SET filled = ?1, note = ?2 WHERE sym = ?3 AND from_id = ?4 AND to_id = ?5",
                    )?
                    .execute(params![*complete as i64, note, sym, from_id, to_id])?;
                }
                WriteCmd::Flush(_) => {}
            }
        }
    }
    tx.commit()?;
    Ok((ins, dup))
}

/// Create a writer on a fresh or existing database file.
pub fn open_and_spawn(
    path: &std::path::Path,
    durability: super::Durability,
    capacity: usize,
) -> Result<Writer, StoreError> {
    let conn = super::open_writer(path, durability)?;
    Ok(Writer::spawn(conn, capacity))
}
