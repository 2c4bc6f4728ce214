//! The SQLite schema and its migrations, versioned with `PRAGMA user_version`.
//!
//! Ticks live in a `WITHOUT ROWID` table clustered by (symbol id, exchange
//! time, trade id): every read is a time range of one symbol (bars, tick
//! pages, retention), and with the clustering it is a single sequential
//! range scan that finds price and quantity in the row itself. (Keyed by
//! trade id with a time index instead, each row of a bar query cost a second
//! B-tree lookup: measured about twice as slow, see BENCHMARKS.md.) The
//! de-duplication rule is the unique index on (symbol id, trade id), so
//! replays and reconnect overlaps are idempotent by construction. Symbols
//! are interned to small integers (with their venue) to keep both narrow.

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
        PRIMARY KEY (sym, exchange_ts, trade_id)
    ) WITHOUT ROWID;
    -- The de-duplication key (INSERT OR IGNORE skips a known trade).
    CREATE UNIQUE INDEX ticks_by_id ON ticks (sym, trade_id);
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
    // v2: rollups (see store::rollup). Symbols that already have ticks get a
    // build mark just above their newest tick; the writer rolls them up
    // backwards from there while serving, and the planner reads ticks
    // below the mark until it is gone.
    r#"
    CREATE TABLE rollup_1s (
        sym      INTEGER NOT NULL REFERENCES symbols(id),
        ts       INTEGER NOT NULL,
        open     REAL    NOT NULL,
        high     REAL    NOT NULL,
        low      REAL    NOT NULL,
        close    REAL    NOT NULL,
        volume   REAL    NOT NULL,
        notional REAL    NOT NULL,
        trades   INTEGER NOT NULL,
        -- Key of the second's last trade: a later trade appends, an
        -- earlier one makes the second be recomputed from its ticks.
        last_ts  INTEGER NOT NULL,
        last_id  INTEGER NOT NULL,
        PRIMARY KEY (sym, ts)
    ) WITHOUT ROWID;
    CREATE TABLE rollup_1m (
        sym      INTEGER NOT NULL REFERENCES symbols(id),
        ts       INTEGER NOT NULL,
        open     REAL    NOT NULL,
        high     REAL    NOT NULL,
        low      REAL    NOT NULL,
        close    REAL    NOT NULL,
        volume   REAL    NOT NULL,
        notional REAL    NOT NULL,
        trades   INTEGER NOT NULL,
        PRIMARY KEY (sym, ts)
    ) WITHOUT ROWID;
    ALTER TABLE symbols ADD COLUMN rolled_from INTEGER;
    UPDATE symbols SET rolled_from =
        (SELECT (max(exchange_ts) / 600000 + 1) * 600000 FROM ticks WHERE ticks.sym = symbols.id);
    "#,
    // v3: top of book (conflated, see ingest::conflate), mark prices and
    // settled funding. Quotes are clustered by time like ticks and
    // de-duplicated by the venue's update id.
    r#"
    CREATE TABLE quotes (
        sym        INTEGER NOT NULL REFERENCES symbols(id),
        ts         INTEGER NOT NULL,
        update_id  INTEGER NOT NULL,
        receive_ts INTEGER NOT NULL,
        bid        REAL    NOT NULL,
        bid_qty    REAL    NOT NULL,
        ask        REAL    NOT NULL,
        ask_qty    REAL    NOT NULL,
        PRIMARY KEY (sym, ts, update_id)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX quotes_by_id ON quotes (sym, update_id);
    CREATE TABLE marks (
        sym             INTEGER NOT NULL REFERENCES symbols(id),
        ts              INTEGER NOT NULL,
        mark            REAL    NOT NULL,
        idx             REAL    NOT NULL,
        funding_rate    REAL    NOT NULL,
        next_funding_ts INTEGER NOT NULL,
        PRIMARY KEY (sym, ts)
    ) WITHOUT ROWID;
    CREATE TABLE funding (
        sym  INTEGER NOT NULL REFERENCES symbols(id),
        ts   INTEGER NOT NULL,
        rate REAL    NOT NULL,
        PRIMARY KEY (sym, ts)
    ) WITHOUT ROWID;
    "#,
    // v4: paper trading (see model::paper) and the venue's symbol rules. A session's query is stored as
    // its JSON body, like alert rules. Orders are keyed by the bar that
    // decided them and fills by (order, leg, role), so deciding or filling
    // twice after a crash is refused by the keys themselves.
    r#"
    CREATE TABLE paper_sessions (
        id                INTEGER PRIMARY KEY,
        body              TEXT    NOT NULL,
        venue             TEXT    NOT NULL,
        status            TEXT    NOT NULL,
        started_ts        INTEGER NOT NULL,
        stop_requested_ts INTEGER,
        stopped_ts        INTEGER,
        last_bar_ts       INTEGER,
        locked            TEXT
    );
    CREATE TABLE paper_orders (
        session    INTEGER NOT NULL REFERENCES paper_sessions(id),
        signal_ts  INTEGER NOT NULL,
        decided_ts INTEGER NOT NULL,
        target     TEXT,
        reason     TEXT    NOT NULL,
        z          REAL,
        beta       REAL,
        qty_x      REAL,
        qty_y      REAL,
        status     TEXT    NOT NULL,
        note       TEXT,
        PRIMARY KEY (session, signal_ts)
    );
    CREATE TABLE paper_fills (
        id        INTEGER PRIMARY KEY,
        session   INTEGER NOT NULL REFERENCES paper_sessions(id),
        signal_ts INTEGER NOT NULL,
        leg       TEXT    NOT NULL,
        role      TEXT    NOT NULL,
        symbol    TEXT    NOT NULL,
        ts        INTEGER NOT NULL,
        qty       REAL    NOT NULL,
        price     REAL    NOT NULL,
        mid       REAL    NOT NULL,
        fee       REAL    NOT NULL,
        on_book   INTEGER NOT NULL,
        UNIQUE (session, signal_ts, leg, role)
    );
    -- The venue's trading rules per symbol (exchangeInfo filters): the
    -- backtest and paper trading round quantities to qty_step.
    CREATE TABLE symbol_rules (
        sym          INTEGER PRIMARY KEY REFERENCES symbols(id),
        qty_step     REAL NOT NULL,
        min_qty      REAL NOT NULL,
        tick_size    REAL NOT NULL,
        min_notional REAL NOT NULL
    );
    "#,
    // v5: paper trading of baskets. A session's body is its
    // `model::paper::Traded` (`{"pair": ..}` or `{"basket": ..}`; v4's bare
    // pair queries are wrapped), a fill names its leg by number (a pair's x
    // is 0, y 1), and an order holds its quantities per leg and a basket's
    // weights as JSON arrays.
    r#"
    UPDATE paper_sessions SET body = json_object('pair', json(body))
        WHERE json_valid(body) AND json_type(body, '$.x') IS NOT NULL;
    ALTER TABLE paper_orders ADD COLUMN qty TEXT;
    ALTER TABLE paper_orders ADD COLUMN weights TEXT;
    UPDATE paper_orders SET qty = json_array(qty_x, qty_y)
        WHERE qty_x IS NOT NULL AND qty_y IS NOT NULL;
    ALTER TABLE paper_orders DROP COLUMN qty_x;
    ALTER TABLE paper_orders DROP COLUMN qty_y;
    UPDATE paper_fills SET leg = CASE leg WHEN 'x' THEN '0' WHEN 'y' THEN '1' ELSE leg END;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A v4 database's paper session (a bare pair query, fills on legs
    /// `x` and `y`, an order's `qty_x` / `qty_y`) reads the same after v5.
    #[test]
    fn v4_paper_rows_read_the_same_after_v5() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..4] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        let q = crate::model::pair::PairQuery {
            x: "BTCUSDT".into(),
            y: "ETHUSDT".into(),
            ..Default::default()
        };
        let body = serde_json::to_string(&q).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO paper_sessions (id, body, venue, status, started_ts) \
             VALUES (1, '{body}', 'sim', 'active', 5);
             INSERT INTO paper_orders (session, signal_ts, decided_ts, target, reason, beta, \
             qty_x, qty_y, status) VALUES (1, 10, 11, 'long', 'entry', 0.9, -0.5, 2.0, 'filled');
             INSERT INTO paper_fills (session, signal_ts, leg, role, symbol, ts, qty, price, \
             mid, fee, on_book) VALUES (1, 10, 'x', 'open', 'BTCUSDT', 12, -0.5, 100, 100, 0.1, 1),
             (1, 10, 'y', 'open', 'ETHUSDT', 12, 2.0, 50, 50, 0.1, 1);"
        ))
        .unwrap();
        migrate(&mut conn).unwrap();
        let s = crate::store::paper::session(&conn, 1).unwrap().unwrap();
        assert_eq!(s.query, crate::model::paper::Traded::Pair(q));
        let o = crate::store::paper::orders(&conn, 1, 10).unwrap();
        assert_eq!(o[0].qty, Some(vec![-0.5, 2.0]));
        assert_eq!((o[0].beta, o[0].weights.clone()), (Some(0.9), None));
        let f = crate::store::paper::fills(&conn, 1).unwrap();
        assert_eq!(
            f.iter()
                .map(|f| (f.leg, f.symbol.as_str()))
                .collect::<Vec<_>>(),
            [(0, "BTCUSDT"), (1, "ETHUSDT")]
        );
    }
}
