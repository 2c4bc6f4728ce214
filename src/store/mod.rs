//! The SQLite tick store: schema, the single batched writer, and readers.
//!
//! One writer owns the only write connection; readers open their own
//! connections, which WAL lets run while the writer commits.

pub mod query;
pub mod schema;
pub mod writer;

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
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
    #[error("the writer has stopped")]
    WriterGone,
}

/// How hard a commit tries to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL`: a process crash loses nothing committed.
    Normal,
    /// `synchronous=FULL`: also survives power loss.
    Full,
}

/// Open (creating if needed) the write connection and migrate it.
pub fn open_writer(path: &Path, durability: Durability) -> Result<Connection, StoreError> {
    let p = path.display().to_string();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(StoreError::Open {
                path: p,
                reason: format!("directory {} does not exist", dir.display()),
            });
        }
    }
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
    // A bounded WAL: checkpoint every ~4 MB of frames.
    conn.pragma_update(None, "wal_autocheckpoint", 1000)
        .map_err(classify)?;
    schema::migrate(&mut conn).map_err(|e| match e {
        StoreError::Sqlite(e) => classify(e),
        other => other,
    })?;
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
