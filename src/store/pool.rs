//! A small pool of read-only connections to one database file.
//!
//! Opening a SQLite connection costs a file open, the schema read and a
//! fresh statement cache; a request that runs one indexed range scan paid
//! that every time. The pool keeps up to `max_idle` connections (with their
//! prepared statements) for reuse. It never makes a caller wait: when none
//! is idle a new one is opened, and the blocking-thread pool that runs the
//! queries is what bounds how many are open at once.
//!
//! A connection that returned an error is closed rather than pooled, so a
//! database that was replaced or went away is reopened (and the error shows
//! up again, clearly, if it is still gone).

use super::{open_reader, StoreError};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Idle readers kept by default: one per request the blocking pool runs at
/// once on a small machine, with room for the alert engine and the hub.
pub const DEFAULT_MAX_IDLE: usize = 16;

#[derive(Debug)]
pub struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
    opened: AtomicU64,
}

impl ReaderPool {
    pub fn new(path: &Path, max_idle: usize) -> ReaderPool {
        ReaderPool {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            max_idle,
            opened: AtomicU64::new(0),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Connections opened so far (a pool that works opens few).
    pub fn opened(&self) -> u64 {
        self.opened.load(Relaxed)
    }

    /// Run `f` on a pooled connection; it goes back to the pool only if `f`
    /// succeeded.
    pub fn with<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let pooled = self.idle.lock().ok().and_then(|mut v| v.pop());
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = open_reader(&self.path)?;
                self.opened.fetch_add(1, Relaxed);
                c
            }
        };
        let out = f(&conn)?;
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < self.max_idle {
                idle.push(conn);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_reused_and_a_failed_one_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("p.db");
        let _w = crate::store::open_writer(&db, crate::store::Durability::Normal).unwrap();
        let pool = ReaderPool::new(&db, 2);
        for _ in 0..10 {
            let n: i64 = pool
                .with(|c| Ok::<_, StoreError>(c.query_row("SELECT 1", [], |r| r.get(0))?))
                .unwrap();
            assert_eq!(n, 1);
        }
        assert_eq!(pool.opened(), 1, "ten sequential reads, one connection");
        let e = pool.with(|c| {
            c.query_row("SELECT * FROM no_such_table", [], |_| Ok(()))
                .map_err(StoreError::from)
        });
        assert!(e.is_err());
        assert!(pool.idle.lock().unwrap().is_empty(), "the failed one left");
        pool.with(|_| Ok::<_, StoreError>(())).unwrap();
        assert_eq!(pool.opened(), 2);
    }

    #[test]
    fn a_missing_database_is_an_open_error() {
        let dir = tempfile::tempdir().unwrap();
        let pool = ReaderPool::new(&dir.path().join("absent.db"), 2);
        let e = pool.with(|_| Ok::<_, StoreError>(())).unwrap_err();
        assert!(matches!(e, StoreError::Open { .. }), "{e}");
    }
}
