//! Paper-trading sessions, orders and fills in the `paper_*` tables (see
//! [`crate::model::paper`] for what they mean). Every state change that
//! must not half-happen is one transaction: a decision (the session's last
//! bar and lock, the order it placed, the older pending order it replaces)
//! and a fill (every leg's fills and the order marked filled, refused
//! when the order is no longer pending).

use super::StoreError;
use crate::domain::Venue;
use crate::model::paper::{
    FillRole, OrderReason, OrderStatus, PaperFill, PaperOrder, PaperSession, PositionSide,
    SessionStatus, Traded,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

fn side_str(s: Option<PositionSide>) -> Option<&'static str> {
    s.map(PositionSide::as_str)
}

fn side_parse(s: Option<String>) -> Option<PositionSide> {
    match s.as_deref() {
        Some("long") => Some(PositionSide::Long),
        Some("short") => Some(PositionSide::Short),
        _ => None,
    }
}

fn status_parse(s: &str) -> SessionStatus {
    match s {
        "active" => SessionStatus::Active,
        "stopping" => SessionStatus::Stopping,
        _ => SessionStatus::Stopped,
    }
}

const SESSION_COLS: &str = "id, body, venue, status, started_ts, stop_requested_ts, \
                            stopped_ts, last_bar_ts, locked";

/// A session row; `None` when its body or venue no longer parses.
fn session_row(r: &Row) -> rusqlite::Result<Option<PaperSession>> {
    let id: i64 = r.get(0)?;
    let body: String = r.get(1)?;
    let venue: String = r.get(2)?;
    let query = match serde_json::from_str::<Traded>(&body) {
        Ok(q) => q,
        Err(e) => {
            tracing::warn!(id, error = %e, "skipping unreadable paper session");
            return Ok(None);
        }
    };
    let Ok(venue) = venue.parse::<Venue>() else {
        tracing::warn!(id, venue, "skipping paper session of an unknown venue");
        return Ok(None);
    };
    Ok(Some(PaperSession {
        id,
        query,
        venue,
        status: status_parse(&r.get::<_, String>(3)?),
        started_ts: r.get(4)?,
        stop_requested_ts: r.get(5)?,
        stopped_ts: r.get(6)?,
        last_bar_ts: r.get(7)?,
        locked: side_parse(r.get(8)?),
    }))
}

pub(crate) fn insert_session(
    conn: &Connection,
    venue: Venue,
    query: &Traded,
    now: i64,
) -> Result<PaperSession, StoreError> {
    let body = serde_json::to_string(query).unwrap_or_default();
    conn.execute(
        "INSERT INTO paper_sessions (body, venue, status, started_ts) VALUES (?1, ?2, 'active', ?3)",
        params![body, venue.as_str(), now],
    )?;
    Ok(PaperSession {
        id: conn.last_insert_rowid(),
        query: query.clone(),
        venue,
        status: SessionStatus::Active,
        started_ts: now,
        stop_requested_ts: None,
        stopped_ts: None,
        last_bar_ts: None,
        locked: None,
    })
}

/// Every session, oldest first.
pub(crate) fn sessions(conn: &Connection) -> Result<Vec<PaperSession>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SESSION_COLS} FROM paper_sessions ORDER BY id"
    ))?;
    let rows = stmt.query_map([], session_row)?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(s) = r? {
            out.push(s);
        }
    }
    Ok(out)
}

pub(crate) fn session(conn: &Connection, id: i64) -> Result<Option<PaperSession>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SESSION_COLS} FROM paper_sessions WHERE id = ?1"
    ))?;
    Ok(stmt.query_row([id], session_row).optional()?.flatten())
}

/// Record the rule's decision on the bar starting `bar_ts`: the session's
/// last bar and lock and, if it placed one, the order (replacing any older
/// pending order, which expires). A bar already decided is left alone, so
/// deciding it again after a crash changes nothing. Returns whether this
/// call recorded the decision.
pub(crate) fn decide(
    conn: &Connection,
    session: i64,
    bar_ts: i64,
    locked: Option<PositionSide>,
    order: Option<&PaperOrder>,
) -> Result<bool, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let n = tx.execute(
        "UPDATE paper_sessions SET last_bar_ts = ?2, locked = ?3 \
         WHERE id = ?1 AND (last_bar_ts IS NULL OR last_bar_ts < ?2)",
        params![session, bar_ts, side_str(locked)],
    )?;
    if n == 0 {
        return Ok(false);
    }
    if let Some(o) = order {
        tx.execute(
            "UPDATE paper_orders SET status = 'expired', note = 'replaced by a later decision' \
             WHERE session = ?1 AND status = 'pending'",
            params![session],
        )?;
        insert_order(&tx, o)?;
    }
    tx.commit()?;
    Ok(true)
}

fn insert_order(conn: &Connection, o: &PaperOrder) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO paper_orders (session, signal_ts, decided_ts, target, reason, z, beta, \
         weights, qty, status, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            o.session_id,
            o.signal_ts,
            o.decided_ts,
            side_str(o.target),
            o.reason.as_str(),
            o.z,
            o.beta,
            json_list(o.weights.as_deref()),
            json_list(o.qty.as_deref()),
            o.status.as_str(),
            o.note
        ],
    )?;
    Ok(())
}

/// A list of numbers as its JSON array (`None` stays NULL).
fn json_list(v: Option<&[f64]>) -> Option<String> {
    v.map(|v| serde_json::to_string(v).unwrap_or_default())
}

/// A JSON array column; `None` for NULL or an unreadable value.
fn list_json(v: Option<String>) -> Option<Vec<f64>> {
    v.and_then(|s| serde_json::from_str(&s).ok())
}

/// Ask a session to stop: an active (or still stopping) one becomes
/// `stopping` and gets a pending flatten order keyed by `now`, replacing
/// any pending order. Returns the session as it is now (`None` when there
/// is no such session).
pub(crate) fn request_stop(
    conn: &Connection,
    id: i64,
    now: i64,
) -> Result<Option<PaperSession>, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let n = tx.execute(
        "UPDATE paper_sessions SET status = 'stopping', \
         stop_requested_ts = coalesce(stop_requested_ts, ?2) \
         WHERE id = ?1 AND status IN ('active', 'stopping')",
        params![id, now],
    )?;
    if n > 0 {
        tx.execute(
            "UPDATE paper_orders SET status = 'expired', note = 'the session was stopped' \
             WHERE session = ?1 AND status = 'pending'",
            params![id],
        )?;
        insert_order(
            &tx,
            &PaperOrder {
                session_id: id,
                signal_ts: now,
                decided_ts: now,
                target: None,
                reason: OrderReason::UserStop,
                z: None,
                beta: None,
                weights: None,
                qty: None,
                status: OrderStatus::Pending,
                note: None,
            },
        )?;
    }
    tx.commit()?;
    session(conn, id)
}

/// Fill a pending order: its fills and its status in one transaction, and
/// for a session that is stopping and now flat, its stop. Returns false
/// (and writes nothing) when the order is not pending any more.
pub(crate) fn fill(
    conn: &Connection,
    order: &PaperOrder,
    fills: &[PaperFill],
    stopped_ts: Option<i64>,
) -> Result<bool, StoreError> {
    let tx = conn.unchecked_transaction()?;
    let n = tx.execute(
        "UPDATE paper_orders SET status = 'filled' \
         WHERE session = ?1 AND signal_ts = ?2 AND status = 'pending'",
        params![order.session_id, order.signal_ts],
    )?;
    if n == 0 {
        return Ok(false);
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO paper_fills (session, signal_ts, leg, role, symbol, ts, qty, price, mid, \
         fee, on_book) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for f in fills {
        stmt.execute(params![
            f.session_id,
            f.signal_ts,
            f.leg as i64,
            role_str(f.role),
            f.symbol,
            f.ts,
            f.qty,
            f.price,
            f.mid,
            f.fee,
            f.on_book
        ])?;
    }
    drop(stmt);
    if let Some(ts) = stopped_ts {
        tx.execute(
            "UPDATE paper_sessions SET status = 'stopped', stopped_ts = ?2 WHERE id = ?1",
            params![order.session_id, ts],
        )?;
    }
    tx.commit()?;
    Ok(true)
}

/// Expire a pending order; false when it was not pending.
pub(crate) fn expire(
    conn: &Connection,
    session: i64,
    signal_ts: i64,
    note: &str,
) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE paper_orders SET status = 'expired', note = ?3 \
         WHERE session = ?1 AND signal_ts = ?2 AND status = 'pending'",
        params![session, signal_ts, note],
    )? > 0)
}

/// Mark a stopping session stopped (it was flat, nothing to fill).
pub(crate) fn set_stopped(conn: &Connection, id: i64, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE paper_sessions SET status = 'stopped', stopped_ts = ?2 \
         WHERE id = ?1 AND status = 'stopping'",
        params![id, now],
    )?;
    Ok(())
}

fn role_str(r: FillRole) -> &'static str {
    match r {
        FillRole::Close => "close",
        FillRole::Open => "open",
    }
}

/// A fill's leg number (stored as text by v4's column; see schema v5).
fn leg_parse(v: rusqlite::types::Value) -> usize {
    match v {
        rusqlite::types::Value::Integer(i) => i.max(0) as usize,
        rusqlite::types::Value::Text(t) => t.parse().unwrap_or(usize::MAX),
        _ => usize::MAX,
    }
}

/// A session's fills in execution order (closes before opens in a flip).
pub(crate) fn fills(conn: &Connection, session: i64) -> Result<Vec<PaperFill>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT session, signal_ts, leg, role, symbol, ts, qty, price, mid, fee, on_book \
         FROM paper_fills WHERE session = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([session], |r| {
        Ok(PaperFill {
            session_id: r.get(0)?,
            signal_ts: r.get(1)?,
            leg: leg_parse(r.get(2)?),
            role: if r.get::<_, String>(3)? == "close" {
                FillRole::Close
            } else {
                FillRole::Open
            },
            symbol: r.get(4)?,
            ts: r.get(5)?,
            qty: r.get(6)?,
            price: r.get(7)?,
            mid: r.get(8)?,
            fee: r.get(9)?,
            on_book: r.get(10)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A session's orders, newest first, at most `limit`.
pub(crate) fn orders(
    conn: &Connection,
    session: i64,
    limit: usize,
) -> Result<Vec<PaperOrder>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT session, signal_ts, decided_ts, target, reason, z, beta, weights, qty, status, \
         note FROM paper_orders WHERE session = ?1 ORDER BY signal_ts DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![session, limit as i64], |r| {
        let reason: String = r.get(4)?;
        let status: String = r.get(9)?;
        Ok(PaperOrder {
            session_id: r.get(0)?,
            signal_ts: r.get(1)?,
            decided_ts: r.get(2)?,
            target: side_parse(r.get(3)?),
            reason: OrderReason::parse(&reason).unwrap_or(OrderReason::Entry),
            z: r.get(5)?,
            beta: r.get(6)?,
            weights: list_json(r.get(7)?),
            qty: list_json(r.get(8)?),
            status: OrderStatus::parse(&status).unwrap_or(OrderStatus::Expired),
            note: r.get(10)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The session's pending order, if any.
pub(crate) fn pending(conn: &Connection, session: i64) -> Result<Option<PaperOrder>, StoreError> {
    // At most one is pending: a decision or a stop expires the older one.
    Ok(orders(conn, session, 4)?
        .into_iter()
        .find(|o| o.status == OrderStatus::Pending))
}
