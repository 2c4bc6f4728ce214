//! The store: the only module that knows SQL. [`Store`] is what services
//! read and keep alert rules through; [`SqliteStore`] implements it on one
//! SQLite file with a pool of reader connections, and the batched
//! [`writer::Writer`] owns the only tick-write connection. A PostgreSQL
//! store implements the same trait and takes the same [`writer::WriteCmd`]s.
//!
//! One writer owns the only write connection; readers use pooled
//! connections, which WAL lets run while the writer commits.
//!
//! SQLite's own locking would let two pairdesk processes share a file and
//! then fight over the write lock with `SQLITE_BUSY`; instead the writer
//! holds an exclusive advisory lock on `<db>.lock` (released by the kernel
//! when the process dies, so a crash never leaves a stale lock) and a second
//! writer is refused up front with the holder's pid.

mod alerts;
pub mod book;
pub mod export;
mod paper;
pub mod pool;
pub mod query;
pub mod rollup;
pub mod schema;
mod sqlite;
pub mod writer;

pub use query::align_pair;
pub use rollup::plan::Plan;
pub use sqlite::SqliteStore;

use crate::domain::{Bar, Funding, MarkPrice, Quote, SymbolRules, Tick, Timeframe, Venue};
use crate::model::alerts::{AlertEvent, AlertRule, StoredRule};

use crate::model::paper::{PaperFill, PaperOrder, PaperSession, PositionSide, Traded};
use crate::model::status::GapInfo;

use rusqlite::{Connection, OpenFlags};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database schema version {found} is newer than this pairdesk supports ({supported}); upgrade pairdesk")]
    TooNew { found: i64, supported: i64 },
    #[error("{path} is not a pairdesk database (not SQLite or corrupt): {reason}")]
    NotADatabase { path: String, reason: String },
    #[error("cannot open database {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("database {path} is locked by another process: {reason}")]
    Locked { path: String, reason: String },
    #[error("database {path} is in use by another pairdesk process (pid {pid})")]
    InUse { path: String, pid: String },
    #[error("the writer has stopped")]
    WriterGone,
}

/// What services read from and keep alert rules in. Methods block (SQLite
/// runs on the calling thread): call them from `spawn_blocking` in async
/// code. Tick writes go through the batched [`writer::Writer`] instead.
///
/// Lookups of a symbol that was never stored give `Ok(None)`, so callers
/// can tell "unknown symbol" from "no data in this range".
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Stored symbols with their venue, by name.
    fn symbols(&self) -> Result<Vec<(Venue, String)>, StoreError>;
    /// Ticks in `[from, to)` ms, in (time, trade id) order, at most `limit`.
    fn ticks(
        &self,
        venue: Venue,
        symbol: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Option<Vec<Tick>>, StoreError>;
    /// Bars of `tf` for `[from, to)` ms, built from the ticks.
    fn bars(
        &self,
        venue: Venue,
        symbol: &str,
        tf: Timeframe,
        from: i64,
        to: i64,
    ) -> Result<Option<Vec<Bar>>, StoreError>;
    /// The last `n` bars, ending with the bar of the latest tick.
    fn tail_bars(
        &self,
        venue: Venue,
        symbol: &str,
        tf: Timeframe,
        n: usize,
    ) -> Result<Option<Vec<Bar>>, StoreError>;
    /// Conflated quotes in `[from, to)` ms, oldest first, at most `limit`.
    fn quotes(
        &self,
        venue: Venue,
        symbol: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Option<Vec<Quote>>, StoreError>;
    /// For each of `times` (ascending), the quote in force then, if one is
    /// at most `max_age_ms` old.
    fn quotes_at(
        &self,
        venue: Venue,
        symbol: &str,
        times: &[i64],
        max_age_ms: i64,
    ) -> Result<Vec<Option<Quote>>, StoreError>;
    /// For each of `ranges` (`[from, to)` ms, ascending, not overlapping),
    /// the first quote in it.
    fn first_quotes(
        &self,
        venue: Venue,
        symbol: &str,
        ranges: &[(i64, i64)],
    ) -> Result<Vec<Option<Quote>>, StoreError>;
    /// The venue's trading rules of `symbol` (lot and price steps), if
    /// fetched.
    fn symbol_rules(&self, venue: Venue, symbol: &str) -> Result<Option<SymbolRules>, StoreError>;
    /// Mark prices in `[from, to)` ms, oldest first, at most `limit`.
    fn marks(
        &self,
        venue: Venue,
        symbol: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Option<Vec<MarkPrice>>, StoreError>;
    fn last_mark(&self, venue: Venue, symbol: &str) -> Result<Option<MarkPrice>, StoreError>;
    /// Settled funding in `[from, to)` ms, oldest first.
    fn funding(
        &self,
        venue: Venue,
        symbol: &str,
        from: i64,
        to: i64,
    ) -> Result<Option<Vec<Funding>>, StoreError>;
    /// Time of the latest tick, ms.
    fn last_ts(&self, venue: Venue, symbol: &str) -> Result<Option<i64>, StoreError>;
    /// The stored tick with the highest trade id (where a restart resumes).
    fn last_tick(&self, venue: Venue, symbol: &str) -> Result<Option<Tick>, StoreError>;
    /// Ticks stored (a full count: for start-up, not for polling).
    fn tick_count(&self) -> Result<u64, StoreError>;
    /// The `limit` most recent gaps, newest first.
    fn recent_gaps(&self, limit: usize) -> Result<Vec<GapInfo>, StoreError>;
    /// Can a write be taken right now? (Takes and releases the write lock.)
    fn check_writable(&self) -> Result<(), StoreError>;
    /// CSV of one symbol's ticks or bars over `[from, to)` into `out`;
    /// returns the data rows written.
    fn export_csv(
        &self,
        venue: Venue,
        symbol: &str,
        kind: export::ExportKind,
        from: i64,
        to: i64,
        out: &mut dyn std::io::Write,
    ) -> Result<u64, export::ExportError>;
    /// Store a validated rule; returns it with its id.
    fn insert_rule(&self, rule: &AlertRule, now: i64) -> Result<StoredRule, StoreError>;
    /// Every rule, oldest first.
    fn list_rules(&self) -> Result<Vec<StoredRule>, StoreError>;
    /// Delete a rule (its events stay); false when it did not exist.
    fn delete_rule(&self, id: i64) -> Result<bool, StoreError>;
    /// Record that a rule fired; returns the event id.
    fn record_event(&self, rule_id: i64, fired_ts: i64, message: &str) -> Result<i64, StoreError>;
    /// Events newest first, optionally of one rule and since a time.
    fn list_events(
        &self,
        rule_id: Option<i64>,
        since: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AlertEvent>, StoreError>;
    /// Start a paper-trading session of `query` on `venue`.
    fn insert_paper_session(
        &self,
        venue: Venue,
        query: &Traded,
        now: i64,
    ) -> Result<PaperSession, StoreError>;
    /// Every paper session, oldest first.
    fn paper_sessions(&self) -> Result<Vec<PaperSession>, StoreError>;
    fn paper_session(&self, id: i64) -> Result<Option<PaperSession>, StoreError>;
    /// Record the rule's decision on the bar starting `bar_ts` (and the
    /// order it placed) in one transaction; false when that bar was
    /// already decided.
    fn paper_decide(
        &self,
        session: i64,
        bar_ts: i64,
        locked: Option<PositionSide>,
        order: Option<&PaperOrder>,
    ) -> Result<bool, StoreError>;
    /// Fill a pending order (both legs and its status in one transaction;
    /// `stopped_ts` also stops the session); false when it is not pending.
    fn paper_fill(
        &self,
        order: &PaperOrder,
        fills: &[PaperFill],
        stopped_ts: Option<i64>,
    ) -> Result<bool, StoreError>;
    /// Expire a pending order; false when it was not pending.
    fn paper_expire(&self, session: i64, signal_ts: i64, note: &str) -> Result<bool, StoreError>;
    /// Ask a session to stop (flattening it); the session as it is now.
    fn paper_request_stop(&self, id: i64, now: i64) -> Result<Option<PaperSession>, StoreError>;
    /// Mark a stopping session that is flat as stopped.
    fn paper_set_stopped(&self, id: i64, now: i64) -> Result<(), StoreError>;
    /// A session's fills in execution order.
    fn paper_fills(&self, session: i64) -> Result<Vec<PaperFill>, StoreError>;
    /// A session's orders, newest first.
    fn paper_orders(&self, session: i64, limit: usize) -> Result<Vec<PaperOrder>, StoreError>;
    /// The session's pending order, if any.
    fn paper_pending(&self, session: i64) -> Result<Option<PaperOrder>, StoreError>;
}

/// How hard a commit tries to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL`: a process crash loses nothing committed.
    Normal,
    /// `synchronous=FULL`: also survives power loss.
    Full,
}

/// The write connection together with the process lock that makes it the
/// only one. Dereferences to the [`Connection`].
pub struct WriteConn {
    conn: Connection,
    /// Held (never read) until the connection is dropped.
    _lock: Option<File>,
}

impl Deref for WriteConn {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// A bare connection (an in-memory database, a test) without the lock.
impl From<Connection> for WriteConn {
    fn from(conn: Connection) -> Self {
        WriteConn { conn, _lock: None }
    }
}

/// `<db>.lock`, next to the database.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// Take the exclusive lock on `<db>.lock` and record our pid in it. Creating
/// the lock file is also the first write into the directory, so an
/// unwritable directory is reported here, naming the directory.
fn acquire_lock(db: &Path) -> Result<File, StoreError> {
    let p = db.display().to_string();
    let lp = lock_path(db);
    let mut f = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lp)
        .map_err(|e| {
            let dir = db
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let reason = match e.kind() {
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                    format!("directory {} is not writable ({e})", dir.display())
                }
                _ => format!("cannot create lock file {}: {e}", lp.display()),
            };
            StoreError::Open {
                path: p.clone(),
                reason,
            }
        })?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            let pid = holder.trim();
            return Err(StoreError::InUse {
                path: p,
                pid: if pid.is_empty() {
                    "unknown".into()
                } else {
                    pid.to_string()
                },
            });
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(StoreError::Open {
                path: p,
                reason: format!("cannot lock {}: {e}", lp.display()),
            })
        }
    }
    // The pid is informational (for the message above); failing to write it
    // does not weaken the lock.
    let _ = f
        .set_len(0)
        .and_then(|_| f.rewind())
        .and_then(|_| write!(f, "{}", std::process::id()))
        .and_then(|_| f.flush());
    Ok(f)
}

/// Open (creating if needed) the write connection and migrate it.
pub fn open_writer(path: &Path, durability: Durability) -> Result<WriteConn, StoreError> {
    let p = path.display().to_string();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(StoreError::Open {
                path: p,
                reason: format!("directory {} does not exist", dir.display()),
            });
        }
    }
    let lock = acquire_lock(path)?;
    let mut conn = Connection::open(path).map_err(|e| StoreError::Open {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let classify = |e: rusqlite::Error| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            StoreError::NotADatabase {
                path: p.clone(),
                reason: e.to_string(),
            }
        }
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Locked {
                path: p.clone(),
                reason: e.to_string(),
            }
        }
        Some(rusqlite::ErrorCode::ReadOnly) | Some(rusqlite::ErrorCode::CannotOpen) => {
            StoreError::Open {
                path: p.clone(),
                reason: e.to_string(),
            }
        }
        _ => StoreError::Sqlite(e),
    };
    // 16 KiB pages for a new file (a no-op on an existing one): fewer, fuller
    // B-tree pages per tick; measured faster inserts than 4 KiB, see
    // BENCHMARKS.md. Must precede the first write, i.e. the WAL switch.
    conn.pragma_update(None, "page_size", 16_384)
        .map_err(classify)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(classify)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Open {
            path: p,
            reason: format!("could not enable WAL (journal_mode is {mode})"),
        });
    }
    let sync = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", sync)
        .map_err(classify)?;
    // A bounded WAL: checkpoint every 4096 pages (64 MB with 16 KiB pages).
    // Checkpointing less often than SQLite's default 1000 pages was measured
    // ~10% faster under sustained ingest; the idle TRUNCATE checkpoint in the
    // writer shrinks the file back to zero whenever the feed pauses.
    conn.pragma_update(None, "wal_autocheckpoint", 4096)
        .map_err(classify)?;
    // Bigger page cache and in-memory temp tables: the writer's index pages
    // stay hot across batches (about 64 MB; SQLite allocates it lazily).
    conn.pragma_update(None, "cache_size", -65_536)
        .map_err(classify)?;
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(classify)?;
    schema::migrate(&mut conn).map_err(|e| match e {
        StoreError::Sqlite(e) => classify(e),
        other => other,
    })?;
    Ok(WriteConn {
        conn,
        _lock: Some(lock),
    })
}

/// A read-write connection for rare side writes (alert rules and events)
/// next to the running [`writer`] in the same process: no process lock (the
/// writer holds it), no migration (the writer did it). WAL serialises its
/// short transactions with the writer's, and the busy timeout absorbs the
/// wait, so callers never see `SQLITE_BUSY` for a brief overlap.
pub fn open_aux_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Open {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version != schema::SCHEMA_VERSION {
        return Err(StoreError::Open {
            path: path.display().to_string(),
            reason: format!(
                "schema version {version}, expected {} (open the writer first)",
                schema::SCHEMA_VERSION
            ),
        });
    }
    Ok(conn)
}

/// Open a read-only connection for queries.
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| StoreError::Open {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}
