//! [`Store`] on one SQLite file: reads on pooled read-only connections,
//! alert rules and events on one side-write connection next to the tick
//! writer (which holds the process lock; see [`super::open_aux_writer`]).

use super::export::{self, ExportError, ExportKind};
use super::pool::{ReaderPool, DEFAULT_MAX_IDLE};
use super::{alerts, book, open_aux_writer, paper, query, Plan, Store, StoreError};
use crate::domain::{Bar, Funding, MarkPrice, Quote, SymbolRules, Tick, Timeframe, Venue};
use crate::model::alerts::{AlertEvent, AlertRule, StoredRule};

use crate::model::paper::{PaperFill, PaperOrder, PaperSession, PositionSide, Traded};
use crate::model::status::GapInfo;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    readers: ReaderPool,
    /// The side-write connection, opened on first use (the tick writer must
    /// have migrated the file first) and reopened after an error.
    aux: Mutex<Option<Connection>>,
    plan: Plan,
}

impl SqliteStore {
    /// A store reading `path`, which the tick writer has opened (and so
    /// created and migrated). Nothing is opened until the first call.
    pub fn new(path: &Path) -> SqliteStore {
        SqliteStore {
            path: path.to_path_buf(),
            readers: ReaderPool::new(path, DEFAULT_MAX_IDLE),
            aux: Mutex::new(None),
            plan: Plan::default(),
        }
    }

    /// The same store answering bar requests by `plan` (benchmarks compare
    /// rollups with raw ticks this way).
    pub fn with_plan(mut self, plan: Plan) -> SqliteStore {
        self.plan = plan;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reader connections opened so far.
    pub fn readers_opened(&self) -> u64 {
        self.readers.opened()
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.readers.with(f)
    }

    /// Run `f` on the side-write connection; an error closes it.
    fn write<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self
            .aux
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let conn = match guard.take() {
            Some(c) => c,
            None => open_aux_writer(&self.path)?,
        };
        let out = f(&conn)?;
        *guard = Some(conn);
        Ok(out)
    }
}

impl Store for SqliteStore {
    fn symbols(&self) -> Result<Vec<(Venue, String)>, StoreError> {
        self.read(query::symbols)
    }

    fn ticks(
        &self,
        venue: Venue,
        symbol: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Option<Vec<Tick>>, StoreError> {
        self.read(|c| query::ticks(c, venue, symbol, from, to, limit))
    }

    fn bars(
        &self,
        venue: Venue,
        symbol: &str,
        tf: Timeframe,
        from: i64,
        to: i64,
    ) -> Result<Option<Vec<Bar>>, StoreError> {
        self.read(|c| query::bars(c, self.plan, venue, symbol, tf, from, to))
    }

    fn tail_bars(
        &self,
        venue: Venue,
        symbol: &str,
        tf: Timeframe,
        n: usize,
    ) -> Result<Option<Vec<Bar>>, StoreError> {
        self.read(|c| query::tail_bars(c, self.plan, venue, symbol, tf, n))
    }

    fn last_ts(&self, venue: Venue, symbol: &str) -> Result<Option<i64>, StoreError> {
        self.read(|c| query::last_ts(c, venue, symbol))
    }

    fn quotes(
        &self,
        venue: Venue,
        symbol: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Option<Vec<Quote>>, StoreError> {
        self.read(|c| book::quotes(c, venue, symbol, from, to, limit))
    }

    fn quotes_at(
        &self,
        venue: Venue,
        symbol: &str,
        times: &[i64],
        max_age_ms: i64,
    ) -> Result<Vec<Option<Quote>>, StoreError> {
        self.read(|c| book::quotes_at(c, venue, symbol, times, max_age_ms))
    }

    fn first_quotes(
        &self,
        venue: Venue,
        symbol: &str,
        ranges: &[(i64, i64)],
    ) -> Result<Vec<Option<Quote>>, StoreError> {
        self.read(|c| book::first_quotes(c, venue, symbol, ranges))
    }

    fn symbol_rules(&self, venue: Venue, symbol: &str) -> Result<Option<SymbolRules>, StoreError> {
        self.read(|c| book::symbol_rules(c, venue, symbol))
    }

    fn marks(
        &self,
        venue: Venue,
        symbol: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Option<Vec<MarkPrice>>, StoreError> {
        self.read(|c| book::marks(c, venue, symbol, from, to, limit))
    }

    fn last_mark(&self, venue: Venue, symbol: &str) -> Result<Option<MarkPrice>, StoreError> {
        self.read(|c| book::last_mark(c, venue, symbol))
    }

    fn funding(
        &self,
        venue: Venue,
        symbol: &str,
        from: i64,
        to: i64,
    ) -> Result<Option<Vec<Funding>>, StoreError> {
        self.read(|c| book::funding(c, venue, symbol, from, to))
    }

    fn last_tick(&self, venue: Venue, symbol: &str) -> Result<Option<Tick>, StoreError> {
        self.read(|c| query::last_tick(c, venue, symbol))
    }

    fn tick_count(&self) -> Result<u64, StoreError> {
        self.read(query::tick_count)
    }

    fn recent_gaps(&self, limit: usize) -> Result<Vec<GapInfo>, StoreError> {
        self.read(|c| query::recent_gaps(c, limit))
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        // A fresh connection, not the pooled side-writer: this asks whether
        // the file can be opened for writing now, not whether it once could.
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Open {
            path: self.path.display().to_string(),
            reason: format!("cannot open the database for writing: {e}"),
        })?;
        conn.busy_timeout(Duration::from_secs(2))?;
        conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
            .map_err(|e| StoreError::Locked {
                path: self.path.display().to_string(),
                reason: format!("cannot take the write lock: {e}"),
            })
    }

    fn export_csv(
        &self,
        venue: Venue,
        symbol: &str,
        kind: ExportKind,
        from: i64,
        to: i64,
        out: &mut dyn std::io::Write,
    ) -> Result<u64, ExportError> {
        self.readers
            .with(|c| export::export_csv(c, venue, symbol, kind, from, to, out))
    }

    fn insert_rule(&self, rule: &AlertRule, now: i64) -> Result<StoredRule, StoreError> {
        self.write(|c| alerts::insert_rule(c, rule, now))
    }

    fn list_rules(&self) -> Result<Vec<StoredRule>, StoreError> {
        self.read(alerts::list_rules)
    }

    fn delete_rule(&self, id: i64) -> Result<bool, StoreError> {
        self.write(|c| alerts::delete_rule(c, id))
    }

    fn record_event(&self, rule_id: i64, fired_ts: i64, message: &str) -> Result<i64, StoreError> {
        self.write(|c| alerts::record_event(c, rule_id, fired_ts, message))
    }

    fn list_events(
        &self,
        rule_id: Option<i64>,
        since: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AlertEvent>, StoreError> {
        self.read(|c| alerts::list_events(c, rule_id, since, limit))
    }

    fn insert_paper_session(
        &self,
        venue: Venue,
        query: &Traded,
        now: i64,
    ) -> Result<PaperSession, StoreError> {
        self.write(|c| paper::insert_session(c, venue, query, now))
    }

    fn paper_sessions(&self) -> Result<Vec<PaperSession>, StoreError> {
        self.read(paper::sessions)
    }

    fn paper_session(&self, id: i64) -> Result<Option<PaperSession>, StoreError> {
        self.read(|c| paper::session(c, id))
    }

    fn paper_decide(
        &self,
        session: i64,
        bar_ts: i64,
        locked: Option<PositionSide>,
        order: Option<&PaperOrder>,
    ) -> Result<bool, StoreError> {
        self.write(|c| paper::decide(c, session, bar_ts, locked, order))
    }

    fn paper_fill(
        &self,
        order: &PaperOrder,
        fills: &[PaperFill],
        stopped_ts: Option<i64>,
    ) -> Result<bool, StoreError> {
        self.write(|c| paper::fill(c, order, fills, stopped_ts))
    }

    fn paper_expire(&self, session: i64, signal_ts: i64, note: &str) -> Result<bool, StoreError> {
        self.write(|c| paper::expire(c, session, signal_ts, note))
    }

    fn paper_request_stop(&self, id: i64, now: i64) -> Result<Option<PaperSession>, StoreError> {
        self.write(|c| paper::request_stop(c, id, now))
    }

    fn paper_set_stopped(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.write(|c| paper::set_stopped(c, id, now))
    }

    fn paper_fills(&self, session: i64) -> Result<Vec<PaperFill>, StoreError> {
        self.read(|c| paper::fills(c, session))
    }

    fn paper_orders(&self, session: i64, limit: usize) -> Result<Vec<PaperOrder>, StoreError> {
        self.read(|c| paper::orders(c, session, limit))
    }

    fn paper_pending(&self, session: i64) -> Result<Option<PaperOrder>, StoreError> {
        self.read(|c| paper::pending(c, session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::alerts::{Metric, Op, PairRef};

    #[test]
    fn rules_and_events_round_trip_next_to_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let _writer = super::super::open_writer(&db, super::super::Durability::Normal).unwrap();
        let store = SqliteStore::new(&db);
        let rule = AlertRule {
            pair: Some(PairRef {
                x: "BTCUSDT".into(),
                y: "ETHUSDT".into(),
            }),
            basket: None,
            metric: Metric::Zscore,
            op: Op::Above,
            value: 2.0,
            webhook: None,
        };
        let a = store.insert_rule(&rule, 10).unwrap();
        let b = store.insert_rule(&rule, 11).unwrap();
        assert_eq!(store.list_rules().unwrap(), vec![a.clone(), b.clone()]);
        store.record_event(a.id, 20, "fired").unwrap();
        store.record_event(b.id, 30, "fired too").unwrap();
        let ev = store.list_events(None, Some(25), 10).unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].rule_id, b.id);
        assert!(store.delete_rule(a.id).unwrap());
        assert!(!store.delete_rule(a.id).unwrap());
        assert_eq!(store.list_events(Some(a.id), None, 10).unwrap().len(), 1);
        store.check_writable().unwrap();
        for _ in 0..5 {
            store.symbols().unwrap();
        }
        assert_eq!(
            store.readers_opened(),
            1,
            "reads share one pooled connection"
        );
    }
}
