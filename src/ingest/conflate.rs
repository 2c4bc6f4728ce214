//! Quote conflation: which top-of-book updates are stored. Pure, no clock:
//! the caller passes receive times and calls [`Conflator::flush_due`] on a
//! timer.
//!
//! A busy book ticker updates hundreds of times a second, mostly sizes
//! changing at an unchanged price. Per symbol, time is cut into intervals
//! of `interval_ms` (by receive time, the one clock every venue has: spot
//! `bookTicker` carries no exchange time). What is kept:
//!
//! 1. **The last quote of every interval** that saw one, so the stored book
//!    is never more than one interval stale.
//! 2. **Every change of best bid or ask price**, as it arrives, while the
//!    interval has had fewer than `max_price_changes` of them kept; past
//!    that budget a price change is treated like any other update (it may
//!    still be the interval's last).
//!
//! Every other update is counted as conflated, never dropped silently:
//! `received = kept + conflated` at every flush (the fault tests check it
//! against what the mock exchange sent).

use crate::domain::{Instrument, Quote};
use std::collections::HashMap;

/// How quotes are conflated (`[quotes]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConflateConfig {
    pub interval_ms: i64,
    /// Price changes kept per interval on top of its last quote.
    pub max_price_changes: u32,
}

impl Default for ConflateConfig {
    fn default() -> Self {
        ConflateConfig {
            interval_ms: 100,
            max_price_changes: 10,
        }
    }
}

impl ConflateConfig {
    /// Checked: an interval from 1 ms to 60 s, at most 1000 changes.
    pub fn new_checked(interval_ms: i64, max_price_changes: u32) -> Result<Self, String> {
        if !(1..=60_000).contains(&interval_ms) {
            return Err(format!(
                "quote conflation interval {interval_ms} ms: expected 1 to 60000"
            ));
        }
        if max_price_changes > 1000 {
            return Err(format!(
                "{max_price_changes} price changes per interval: at most 1000"
            ));
        }
        Ok(ConflateConfig {
            interval_ms,
            max_price_changes,
        })
    }
}

#[derive(Debug, Default)]
struct SymConflate {
    /// The newest quote seen, not yet kept.
    pending: Option<Quote>,
    /// Best prices of the newest quote seen (kept or not).
    last_prices: Option<(f64, f64)>,
    /// Interval of the newest quote seen, and the price changes kept in it.
    interval: i64,
    changes: u32,
}

/// Counts since the conflator was made.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ConflateCounts {
    pub received: u64,
    pub kept: u64,
    pub conflated: u64,
}

#[derive(Debug, Default)]
pub struct Conflator {
    cfg: ConflateConfig,
    syms: HashMap<Instrument, SymConflate>,
    counts: ConflateCounts,
}

impl Conflator {
    pub fn new(cfg: ConflateConfig) -> Conflator {
        Conflator {
            cfg,
            syms: HashMap::new(),
            counts: ConflateCounts::default(),
        }
    }

    pub fn config(&self) -> ConflateConfig {
        self.cfg
    }

    pub fn counts(&self) -> ConflateCounts {
        self.counts
    }

    fn interval_of(&self, receive_ts: i64) -> i64 {
        receive_ts.div_euclid(self.cfg.interval_ms)
    }

    /// Take one (de-duplicated) quote; pushes what is kept now onto `out`.
    pub fn push(&mut self, q: Quote, out: &mut Vec<Quote>) {
        self.counts.received += 1;
        let interval = self.interval_of(q.receive_ts);
        let max_changes = self.cfg.max_price_changes;
        let s = self.syms.entry(q.instrument()).or_default();
        // A newer interval: the pending quote was the last of its own.
        if interval > s.interval {
            if let Some(p) = s.pending.take() {
                self.counts.kept += 1;
                out.push(p);
            }
            s.interval = interval;
            s.changes = 0;
        }
        let prices = (q.bid, q.ask);
        let changed = s.last_prices != Some(prices);
        s.last_prices = Some(prices);
        if changed && s.changes < max_changes {
            s.changes += 1;
            // What was pending is superseded by a kept, newer quote.
            if s.pending.take().is_some() {
                self.counts.conflated += 1;
            }
            self.counts.kept += 1;
            out.push(q);
        } else if s.pending.replace(q).is_some() {
            self.counts.conflated += 1;
        }
    }

    /// Keep the pending quote of every interval that ended before
    /// `now_ms` (receive clock): no later quote can fall in it.
    pub fn flush_due(&mut self, now_ms: i64, out: &mut Vec<Quote>) {
        let current = self.interval_of(now_ms);
        for s in self.syms.values_mut() {
            if s.interval < current {
                if let Some(p) = s.pending.take() {
                    self.counts.kept += 1;
                    out.push(p);
                }
            }
        }
    }

    /// Keep every pending quote (shutdown).
    pub fn flush_all(&mut self, out: &mut Vec<Quote>) {
        for s in self.syms.values_mut() {
            if let Some(p) = s.pending.take() {
                self.counts.kept += 1;
                out.push(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Venue;

    fn q(id: i64, at: i64, bid: f64, ask: f64) -> Quote {
        Quote {
            venue: Venue::Sim,
            symbol: "BTCUSDT".into(),
            update_id: id,
            ts: at,
            receive_ts: at,
            bid,
            bid_qty: 1.0,
            ask,
            ask_qty: 1.0,
        }
    }

    fn run(cfg: ConflateConfig, quotes: &[Quote], end: i64) -> (Vec<i64>, ConflateCounts) {
        let mut c = Conflator::new(cfg);
        let mut out = Vec::new();
        for x in quotes {
            c.push(x.clone(), &mut out);
        }
        c.flush_due(end, &mut out);
        (out.iter().map(|q| q.update_id).collect(), c.counts())
    }

    #[test]
    fn keeps_price_changes_and_the_last_of_each_interval() {
        let cfg = ConflateConfig::default();
        let quotes = [
            q(1, 0, 10.0, 11.0),   // first: a change, kept
            q(2, 10, 10.0, 11.0),  // size only: pending
            q(3, 20, 10.0, 11.0),  // supersedes 2
            q(4, 50, 10.5, 11.0),  // change: kept, 3 conflated
            q(5, 90, 10.5, 11.0),  // pending, last of [0, 100)
            q(6, 150, 10.5, 11.0), // next interval: 5 kept; 6 pending, last
        ];
        let (kept, n) = run(cfg, &quotes, 200);
        assert_eq!(kept, [1, 4, 5, 6]);
        assert_eq!((n.received, n.kept, n.conflated), (6, 4, 2));
    }

    #[test]
    fn past_the_budget_a_price_change_waits_like_any_update() {
        let cfg = ConflateConfig::new_checked(100, 2).unwrap();
        let quotes: Vec<Quote> = (0..6)
            .map(|i| q(i, i * 10, 10.0 + i as f64, 20.0))
            .collect();
        let (kept, n) = run(cfg, &quotes, 100);
        // Changes 0 and 1 kept at once; 2..4 superseded; 5 is the last.
        assert_eq!(kept, [0, 1, 5]);
        assert_eq!((n.received, n.kept, n.conflated), (6, 3, 3));
    }

    #[test]
    fn an_open_interval_is_not_flushed() {
        let mut c = Conflator::new(ConflateConfig::default());
        let mut out = Vec::new();
        c.push(q(1, 0, 1.0, 2.0), &mut out);
        c.push(q(2, 30, 1.0, 2.0), &mut out);
        c.flush_due(99, &mut out);
        assert_eq!(out.len(), 1);
        c.flush_due(100, &mut out);
        assert_eq!(out.iter().map(|q| q.update_id).collect::<Vec<_>>(), [1, 2]);
        c.flush_all(&mut out);
        assert_eq!(out.len(), 2);
    }

    /// Against the naive definition over random streams: kept is exactly
    /// (last of each interval) union (the first `max` price changes of each
    /// interval), and received = kept + conflated.
    #[test]
    fn matches_the_naive_definition() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        for _ in 0..50 {
            let max = rng.random_range(0..4u32);
            let cfg = ConflateConfig::new_checked(rng.random_range(1..50), max).unwrap();
            let mut at = 0;
            let mut bid = 100.0;
            let quotes: Vec<Quote> = (0..300)
                .map(|i| {
                    at += rng.random_range(0..7);
                    if rng.random_bool(0.3) {
                        bid += if rng.random_bool(0.5) { 0.1 } else { -0.1 };
                    }
                    q(i, at, bid, bid + 0.1)
                })
                .collect();
            let end = at + cfg.interval_ms;
            let (kept, n) = run(cfg, &quotes, end);
            let mut naive = Vec::new();
            let mut changes: HashMap<i64, u32> = HashMap::new();
            for (i, x) in quotes.iter().enumerate() {
                let k = x.receive_ts.div_euclid(cfg.interval_ms);
                let last_of_interval = quotes
                    .get(i + 1)
                    .is_none_or(|n| n.receive_ts.div_euclid(cfg.interval_ms) > k);
                let changed = i == 0 || (quotes[i - 1].bid, quotes[i - 1].ask) != (x.bid, x.ask);
                let c = changes.entry(k).or_default();
                let within = changed && *c < max;
                if within {
                    *c += 1;
                }
                if within || last_of_interval {
                    naive.push(x.update_id);
                }
            }
            assert_eq!(kept, naive);
            assert_eq!(n.received, n.kept + n.conflated);
            assert_eq!(n.kept as usize, kept.len());
        }
    }

    #[test]
    fn config_is_checked() {
        assert!(ConflateConfig::new_checked(0, 1).is_err());
        assert!(ConflateConfig::new_checked(100, 5000).is_err());
        assert!(ConflateConfig::new_checked(100, 0).is_ok());
    }
}
