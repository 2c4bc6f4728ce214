//! Alert rules and fired events in the `alert_rules` / `alert_events`
//! tables. Rules are stored as their JSON body, so a rule field added later
//! needs no migration.

use super::StoreError;
use crate::model::alerts::{AlertEvent, AlertRule, StoredRule};
use rusqlite::{params, Connection};

/// Store a (validated) rule; returns it with its id.
pub(crate) fn insert_rule(
    conn: &Connection,
    rule: &AlertRule,
    now: i64,
) -> Result<StoredRule, StoreError> {
    let body = serde_json::to_string(rule).unwrap_or_default();
    conn.execute(
        "INSERT INTO alert_rules (body, created_ts) VALUES (?1, ?2)",
        params![body, now],
    )?;
    Ok(StoredRule {
        id: conn.last_insert_rowid(),
        created_ts: now,
        rule: rule.clone(),
    })
}

/// Every rule, oldest first. Rows whose body no longer parses are skipped.
pub(crate) fn list_rules(conn: &Connection) -> Result<Vec<StoredRule>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, body, created_ts FROM alert_rules ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, body, created_ts) = row?;
        match serde_json::from_str::<AlertRule>(&body) {
            Ok(rule) => out.push(StoredRule {
                id,
                created_ts,
                rule,
            }),
            Err(e) => tracing::warn!(id, error = %e, "skipping unreadable alert rule"),
        }
    }
    Ok(out)
}

/// Delete a rule (its events stay as history); false when it did not exist.
pub(crate) fn delete_rule(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM alert_rules WHERE id = ?1", params![id])? > 0)
}

/// Record that rule `rule_id` fired.
pub(crate) fn record_event(
    conn: &Connection,
    rule_id: i64,
    fired_ts: i64,
    message: &str,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO alert_events (rule_id, fired_ts, message) VALUES (?1, ?2, ?3)",
        params![rule_id, fired_ts, message],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Events newest first, optionally of one rule and since a time.
pub(crate) fn list_events(
    conn: &Connection,
    rule_id: Option<i64>,
    since: Option<i64>,
    limit: usize,
) -> Result<Vec<AlertEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, rule_id, fired_ts, message FROM alert_events \
         WHERE (?1 IS NULL OR rule_id = ?1) AND (?2 IS NULL OR fired_ts >= ?2) \
         ORDER BY fired_ts DESC, id DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![rule_id, since, limit as i64], |r| {
        Ok(AlertEvent {
            id: r.get(0)?,
            rule_id: r.get(1)?,
            fired_ts: r.get(2)?,
            message: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
