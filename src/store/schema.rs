//! The SQLite schema and its migrations, versioned with `PRAGMA user_version`.
//!
//! Ticks live in a `WITHOUT ROWID` table keyed by (symbol id, trade id): the
//! key is the de-duplication rule itself, so replays and reconnect overlaps
//! are idempotent by construction. Symbols are interned to small integers
//! (with their venue) to keep the hot table and its one index narrow.

use rusqlite::Connection;

use super::StoreError;

/// Each entry upgrades the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // v1: ticks, symbols, gaps, alerts, metadata.
    r#"
    CREATE TABLE symbols (
        id     INTEGER PRIMARY KEY,
        venue  TEXT NOT NULL,
        name   TEXT NOT NULL,
        UNIQUE (venue, name)
    );
    CREATE TABLE ticks (
        sym         INTEGER NOT NULL REFERENCES symbols(id),
        trade_id    INTEGER NOT NULL,
        exchange_ts INTEGER NOT NULL,
        receive_ts  INTEGER NOT NULL,
        price       REAL    NOT NULL,
        qty         REAL    NOT NULL,
        side        INTEGER NOT NULL,
        PRIMARY KEY (sym, trade_id)
    ) WITHOUT ROWID;
    -- Range scans for bars; the primary key columns ride along, so
    -- ORDER BY exchange_ts, trade_id needs no sort.
    CREATE INDEX ticks_by_time ON ticks (sym, exchange_ts);
    CREATE TABLE gaps (
        id          INTEGER PRIMARY KEY,
        sym         INTEGER NOT NULL REFERENCES symbols(id),
        from_id     INTEGER NOT NULL,
        to_id       INTEGER NOT NULL,
        detected_ts INTEGER NOT NULL,
        filled      INTEGER NOT NULL DEFAULT 0,
        note        TEXT
    );
    CREATE TABLE alert_rules (
        id         INTEGER PRIMARY KEY,
        body       TEXT NOT NULL,
        created_ts INTEGER NOT NULL
    );
    CREATE TABLE alert_events (
        id       INTEGER PRIMARY KEY,
        rule_id  INTEGER NOT NULL,
        fired_ts INTEGER NOT NULL,
        message  TEXT NOT NULL
    );
    CREATE INDEX alert_events_by_time ON alert_events (fired_ts);
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    "#,
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Bring `conn` to the current schema, refusing databases from the future.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(to = i + 1, "database migrated");
    }
    Ok(())
}
