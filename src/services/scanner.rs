//! The pair scanner: every pair of a watchlist of up to 200 symbols tested
//! and ranked (see [`crate::model::scan`] for the ranking, the
//! false-discovery control and the result shape).
//!
//! Each symbol's bars are read once. A leg must pass the I(1) screen (ADF
//! with a constant on log levels does not reject a unit root at 5%, on
//! differences it does) and the volume filter; every pair of the legs left
//! is aligned on the bars both traded and tested by Engle-Granger in both
//! directions, on all cores. Benjamini-Hochberg runs over every pair
//! tested, then the half-life and crossing filters apply.
//!
//! # Refresh as bars arrive
//!
//! Scans are cached per (venue, query). When the newest bar moves on by at
//! most [`MAX_REFRESH_BARS`], the cached scan is *refreshed* instead of
//! re-run: each leg reads only the bars from its previous newest (then
//! still forming) bar on, and each pair's [`SlidingCoint`] drops the rows
//! that left the window and adds the new ones, O(lags²) per pair instead
//! of a refit. A refresh holds what the last full test chose: each pair's
//! ADF lags (AIC), its count of mean crossings, and which legs passed the
//! I(1) and volume screens; everything else (beta, both Engle-Granger
//! p-values at those lags, BH q-values over the same family, half-life,
//! z, correlation) is exact for the new window. After
//! [`FULL_EVERY`] refreshed bars, or a jump of more bars, the scan runs in
//! full again, which also picks up any revision of older bars (a backfill).

use crate::analytics::adf::{adfuller, AdfOptions, Autolag};
use crate::analytics::coint::coint;
use crate::analytics::correlation::log_return_correlation;
use crate::analytics::half_life::half_life;
use crate::analytics::ols::ols;
use crate::analytics::sliding_coint::{Row, SlidingCoint};
use crate::analytics::zscore::rolling_zscore;
use crate::analytics::Trend;
use crate::domain::Venue;
use crate::model::pair::PairError;
use crate::model::scan::{
    bh_qvalues, rank, ScanProgress, ScanQuery, ScanResult, ScanRow, ScanStage, MAX_HEATMAP,
};
use crate::store::{Store, StoreError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// One leg's log closes by bar time and its traded quote volume.
#[derive(Clone)]
pub struct Leg {
    pub sym: String,
    /// Bar times, strictly increasing.
    pub ts: Vec<i64>,
    pub log: Vec<f64>,
    pub quote_volume: f64,
}

/// Fewest aligned bars a pair is tested on.
const MIN_PAIR_BARS: usize = 30;

/// Most new bars a cached scan is refreshed by; a longer jump re-runs it.
pub const MAX_REFRESH_BARS: usize = 5;

/// Refreshed bars after which the scan is re-run in full (new lags,
/// crossings and screens).
pub const FULL_EVERY: usize = 30;

/// A tested pair's refreshable state: its legs (indexes into the scan's
/// legs, `x` first), the sliding test, and what the full test fixed.
#[derive(Clone)]
struct PairState {
    x: usize,
    y: usize,
    sliding: SlidingCoint,
    crossings: usize,
}

/// A scan with what refreshing it takes.
#[derive(Clone)]
pub struct ScanState {
    q: ScanQuery,
    tf_ms: i64,
    legs: Vec<Leg>,
    pairs: Vec<PairState>,
    /// Pairs the full test could not analyse (held until the next one).
    skipped: Vec<(String, String, String)>,
    screened_out: Vec<(String, String)>,
    /// False when some tested pair had no sliding state (a window too short
    /// for its lags): such a scan is always re-run.
    refreshable: bool,
    pub result: Arc<ScanResult>,
}

/// A running scan's progress, updated by the workers as they go and read
/// by whoever polls it (see [`ScanProgress`]).
#[derive(Default)]
pub struct Progress {
    stage: AtomicU8,
    done: AtomicUsize,
    total: AtomicUsize,
}

const STAGES: [ScanStage; 5] = [
    ScanStage::Reading,
    ScanStage::Screening,
    ScanStage::Testing,
    ScanStage::Refreshing,
    ScanStage::Done,
];

impl Progress {
    /// Enter `stage`, with `total` items to do.
    fn start(&self, stage: ScanStage, total: usize) {
        // Total first and done reset before the stage flips, so a reader
        // never sees the new stage with the old stage's counts.
        self.total.store(total, Relaxed);
        self.done.store(0, Relaxed);
        let i = STAGES.iter().position(|s| *s == stage).unwrap_or(0);
        self.stage.store(i as u8, Relaxed);
    }

    /// One more item of the current stage done.
    fn tick(&self) {
        self.done.fetch_add(1, Relaxed);
    }

    /// The scan ran to its end (the result is being returned).
    pub fn finish(&self) {
        let total = self.total.load(Relaxed);
        self.done.store(total, Relaxed);
        self.stage.store((STAGES.len() - 1) as u8, Relaxed);
    }

    pub fn snapshot(&self) -> ScanProgress {
        let stage = STAGES[usize::from(self.stage.load(Relaxed)).min(STAGES.len() - 1)];
        let total = self.total.load(Relaxed);
        ScanProgress {
            stage,
            // Read between a stage's reset and its ticks, done may briefly
            // run ahead of a smaller new total.
            done: self.done.load(Relaxed).min(total),
            total,
        }
    }
}

/// The last scans, newest last (a few watchlists in use at once), and the
/// progress of the scans running or just run, by the job id their caller
/// chose.
#[derive(Default)]
pub struct ScanCache {
    entries: Mutex<VecDeque<(String, Arc<ScanState>)>>,
    jobs: Mutex<VecDeque<(u64, Arc<Progress>)>>,
}

const CACHE_ENTRIES: usize = 8;

/// Jobs whose progress is kept (the oldest is forgotten first); a page
/// polls only its own latest scan, so this bounds memory, not service.
const JOB_ENTRIES: usize = 64;

impl ScanCache {
    /// The progress of a new scan under `job` (replacing an older job of
    /// the same id); untracked without one.
    pub fn job(&self, job: Option<u64>) -> Arc<Progress> {
        let p = Arc::new(Progress::default());
        if let Some(id) = job {
            let mut j = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
            j.retain(|(k, _)| *k != id);
            if j.len() == JOB_ENTRIES {
                j.pop_front();
            }
            j.push_back((id, p.clone()));
        }
        p
    }

    /// Where job `id` is, if it is still remembered.
    pub fn progress(&self, id: u64) -> Option<ScanProgress> {
        let j = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        j.iter().find(|(k, _)| *k == id).map(|(_, p)| p.snapshot())
    }

    fn get(&self, key: &str) -> Option<Arc<ScanState>> {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.iter().find(|(k, _)| k == key).map(|(_, r)| r.clone())
    }

    fn put(&self, key: String, r: Arc<ScanState>) {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.retain(|(k, _)| *k != key);
        if e.len() == CACHE_ENTRIES {
            e.pop_front();
        }
        e.push_back((key, r));
    }
}

/// Scan `q` on `venue`: from `cache` when the newest bar has not moved, a
/// refresh of the cached scan when it moved by a few bars, else in full
/// (see module docs). `progress` follows it as it runs.
pub fn scan_cached(
    store: &dyn Store,
    venue: Venue,
    mut q: ScanQuery,
    cache: &ScanCache,
    progress: &Progress,
) -> Result<Arc<ScanResult>, PairError> {
    q.validate()?;
    let end = range_end(store, venue, &q)?;
    let key = format!(
        "{}|{}",
        venue.as_str(),
        serde_json::to_string(&q).unwrap_or_default()
    );
    let cached = cache.get(&key);
    if let Some(c) = &cached {
        if c.result.to == end {
            return Ok(c.result.clone());
        }
        if let Some(next) = end
            .map(|e| refresh(store, venue, c, e, progress))
            .transpose()?
            .flatten()
        {
            let r = next.result.clone();
            cache.put(key, Arc::new(next));
            return Ok(r);
        }
    }
    let state = scan_to(store, venue, q, end, progress)?;
    let r = state.result.clone();
    cache.put(key, Arc::new(state));
    Ok(r)
}

/// Scan without a cache (see module docs).
pub fn scan(store: &dyn Store, venue: Venue, mut q: ScanQuery) -> Result<ScanResult, PairError> {
    q.validate()?;
    let end = range_end(store, venue, &q)?;
    let state = scan_to(store, venue, q, end, &Progress::default())?;
    Ok(Arc::unwrap_or_clone(state.result))
}

fn failed(e: StoreError) -> PairError {
    PairError::Store(e.to_string())
}

/// The end of the scan's range: after the newest bar of any leg.
fn range_end(store: &dyn Store, venue: Venue, q: &ScanQuery) -> Result<Option<i64>, PairError> {
    let mut last: Option<i64> = None;
    for s in &q.symbols {
        if let Some(t) = store.last_ts(venue, s).map_err(failed)? {
            last = Some(last.map_or(t, |l: i64| l.max(t)));
        }
    }
    let tf = q.timeframe;
    Ok(last.map(|t| tf.bucket(t) + tf.millis()))
}

/// A leg's bars in `[from, end)` with a positive close, as `(ts, close)`.
fn leg_bars(
    store: &dyn Store,
    venue: Venue,
    q: &ScanQuery,
    sym: &str,
    from: i64,
    end: i64,
) -> Result<Vec<(i64, f64, f64)>, PairError> {
    Ok(store
        .bars(venue, sym, q.timeframe, from, end)
        .map_err(failed)?
        .unwrap_or_default()
        .into_iter()
        .filter(|b| b.close > 0.0)
        .map(|b| (b.ts, b.close, b.volume * b.close))
        .collect())
}

fn scan_to(
    store: &dyn Store,
    venue: Venue,
    q: ScanQuery,
    end: Option<i64>,
    progress: &Progress,
) -> Result<ScanState, PairError> {
    let mut screened_out = Vec::new();
    let mut legs: Vec<Leg> = Vec::new();
    if let Some(end) = end {
        let from = end - q.timeframe.millis() * q.bars as i64;
        progress.start(ScanStage::Reading, q.symbols.len());
        for s in &q.symbols {
            let bars = leg_bars(store, venue, &q, s, from, end)?;
            progress.tick();
            if bars.len() < MIN_PAIR_BARS {
                screened_out.push((
                    s.clone(),
                    format!("{} bars in the range (needs {MIN_PAIR_BARS})", bars.len()),
                ));
                continue;
            }
            legs.push(Leg {
                sym: s.clone(),
                ts: bars.iter().map(|b| b.0).collect(),
                log: bars.iter().map(|b| b.1.ln()).collect(),
                quote_volume: bars.iter().map(|b| b.2).sum(),
            });
        }
    } else {
        for s in &q.symbols {
            screened_out.push((s.clone(), "nothing stored".into()));
        }
    }
    Ok(scan_state(q, legs, screened_out, end, progress))
}

/// Refreshes `old` to the range ending at `end`, reading only the bars from
/// its newest on; `None` when it must be re-run in full instead.
fn refresh(
    store: &dyn Store,
    venue: Venue,
    old: &ScanState,
    end: i64,
    progress: &Progress,
) -> Result<Option<ScanState>, PairError> {
    let Some(cut) = old.refresh_from(end) else {
        return Ok(None);
    };
    let mut fresh = Vec::with_capacity(old.legs.len());
    progress.start(ScanStage::Reading, old.legs.len());
    for sym in old.leg_symbols() {
        let bars = leg_bars(store, venue, &old.q, sym, cut, end)?;
        fresh.push(bars.into_iter().map(|b| (b.0, b.1)).collect());
        progress.tick();
    }
    Ok(old.advance(&fresh, end, progress))
}

/// The scan's computation on loaded legs (pure; `q` validated): the
/// screens, every pair on all cores, BH and the filters.
pub fn scan_legs(
    q: ScanQuery,
    legs: Vec<Leg>,
    screened_out: Vec<(String, String)>,
    end: Option<i64>,
) -> ScanResult {
    Arc::unwrap_or_clone(scan_state(q, legs, screened_out, end, &Progress::default()).result)
}

/// [`scan_legs`] keeping what a refresh needs, counting the legs screened
/// and pairs tested in `progress`.
pub fn scan_state(
    q: ScanQuery,
    mut legs: Vec<Leg>,
    mut screened_out: Vec<(String, String)>,
    end: Option<i64>,
    progress: &Progress,
) -> ScanState {
    if let Some(qv) = q.min_volume_quantile {
        let mut vols: Vec<f64> = legs.iter().map(|l| l.quote_volume).collect();
        vols.sort_by(f64::total_cmp);
        if let Some(cut) = quantile(&vols, qv) {
            legs.retain(|l| {
                let keep = l.quote_volume >= cut;
                if !keep {
                    screened_out.push((
                        l.sym.clone(),
                        format!(
                            "quote volume {:.0} below the {qv} quantile ({cut:.0})",
                            l.quote_volume
                        ),
                    ));
                }
                keep
            });
        }
    }
    if q.screen {
        progress.start(ScanStage::Screening, legs.len());
        let verdicts = parallel_map(legs.len(), |i| {
            let v = i1_screen(&legs[i].log);
            progress.tick();
            v
        });
        let mut kept = Vec::with_capacity(legs.len());
        for (leg, v) in legs.into_iter().zip(verdicts) {
            match v {
                Ok(()) => kept.push(leg),
                Err(why) => screened_out.push((leg.sym, why)),
            }
        }
        legs = kept;
    }
    let pairs: Vec<(usize, usize)> = (0..legs.len())
        .flat_map(|i| ((i + 1)..legs.len()).map(move |j| (i, j)))
        .collect();
    progress.start(ScanStage::Testing, pairs.len());
    let results = parallel_map(pairs.len(), |k| {
        let (i, j) = pairs[k];
        let r = pair_row(&legs[i], &legs[j], q.z_window);
        progress.tick();
        r
    });
    let mut rows = Vec::new();
    let mut states = Vec::new();
    let mut skipped = Vec::new();
    let mut refreshable = true;
    for ((i, j), r) in pairs.iter().zip(results) {
        match r {
            Ok((row, sliding)) => {
                match sliding {
                    Some(sliding) => states.push(PairState {
                        x: *i,
                        y: *j,
                        sliding,
                        crossings: row.crossings,
                    }),
                    None => refreshable = false,
                }
                rows.push(row);
            }
            Err(why) => skipped.push((legs[*i].sym.clone(), legs[*j].sym.clone(), why)),
        }
    }
    let result = finish(&q, rows, skipped.clone(), screened_out.clone(), end, 0);
    ScanState {
        tf_ms: q.timeframe.millis(),
        q,
        legs,
        pairs: states,
        skipped,
        screened_out,
        refreshable,
        result: Arc::new(result),
    }
}

impl ScanState {
    /// Bytes the state holds beyond its result: the legs' bars and every
    /// pair's sliding state (what the cache keeps per scan).
    pub fn heap_bytes(&self) -> usize {
        let legs: usize = self.legs.iter().map(|l| l.ts.len() * 16).sum();
        let pairs: usize = self
            .pairs
            .iter()
            .map(|p| std::mem::size_of::<PairState>() + p.sliding.heap_bytes())
            .sum();
        legs + pairs
    }

    /// The legs a refresh reads, in the order [`Self::advance`] takes
    /// their bars (those that passed the screens).
    pub fn leg_symbols(&self) -> impl Iterator<Item = &str> {
        self.legs.iter().map(|l| l.sym.as_str())
    }

    /// Where a refresh to the range ending at `end` reads bars from (the
    /// previous newest bar), or `None` when the scan must be re-run: it
    /// was not refreshable, the range did not move forward, it moved by
    /// more than [`MAX_REFRESH_BARS`], or [`FULL_EVERY`] refreshed bars
    /// would pass since the last full run.
    pub fn refresh_from(&self, end: i64) -> Option<i64> {
        let old_end = self.result.to?;
        if !self.refreshable || end <= old_end {
            return None;
        }
        let step = usize::try_from((end - old_end) / self.tf_ms).ok()?;
        if step > MAX_REFRESH_BARS || self.result.since_full + step > FULL_EVERY {
            return None;
        }
        Some(old_end - self.tf_ms)
    }

    /// The scan moved on to the range ending at `end`: `fresh[i]` holds leg
    /// `i`'s bars `(ts, close)` from the previous newest bar (revised, as it
    /// was still forming) to `end`. `None` when the scan must be re-run
    /// (a leg or a pair left too short, see module docs). Pure but for
    /// counting the pairs slid in `progress`.
    pub fn advance(
        &self,
        fresh: &[Vec<(i64, f64)>],
        end: i64,
        progress: &Progress,
    ) -> Option<ScanState> {
        let old_end = self.result.to?;
        if fresh.len() != self.legs.len() || end <= old_end {
            return None;
        }
        let cut = old_end - self.tf_ms;
        let from = end - self.tf_ms * self.q.bars as i64;
        let mut legs = Vec::with_capacity(self.legs.len());
        for (l, f) in self.legs.iter().zip(fresh) {
            let lo = l.ts.partition_point(|&t| t < from);
            let hi = l.ts.partition_point(|&t| t < cut);
            let mut ts = l.ts[lo..hi.max(lo)].to_vec();
            let mut log = l.log[lo..hi.max(lo)].to_vec();
            for &(t, c) in f {
                if t >= cut && t < end && ts.last().is_none_or(|&p| t > p) && c > 0.0 {
                    ts.push(t);
                    log.push(c.ln());
                }
            }
            if ts.len() < MIN_PAIR_BARS {
                return None;
            }
            legs.push(Leg {
                sym: l.sym.clone(),
                ts,
                log,
                quote_volume: l.quote_volume,
            });
        }
        let z_window = self.q.z_window;
        progress.start(ScanStage::Refreshing, self.pairs.len());
        let refreshed = parallel_map(self.pairs.len(), |k| {
            let p = &self.pairs[k];
            let (oa, ob) = (&self.legs[p.x], &self.legs[p.y]);
            let (na, nb) = (&legs[p.x], &legs[p.y]);
            let mut s = p.sliding.clone();
            let span = s.span();
            let (t, gone) = tail_rows(oa, ob, cut, span - 1);
            let (h, old) = head_rows(oa, ob, from, span - 1);
            let (t_new, added) = tail_rows(na, nb, cut, span - 1);
            let left = s.len().checked_sub(gone + old)?;
            if t.len() < gone + span - 1
                || h.len() < old + span - 1
                || t_new.len() < added + span - 1
                || left < 2 * span + 1
            {
                return None;
            }
            for i in 0..gone {
                let e = t.len() - i;
                s.pop_back(&t[e - span..e]);
            }
            for i in 0..old {
                s.pop_front(&h[i..i + span]);
            }
            for i in 0..added {
                s.push(&t_new[i..i + span]);
            }
            let row = sliding_row(na, nb, &s, p.crossings, z_window);
            progress.tick();
            Some((s, row))
        });
        let mut pairs = Vec::with_capacity(self.pairs.len());
        let mut rows = Vec::with_capacity(self.pairs.len());
        let mut skipped = self.skipped.clone();
        for (p, r) in self.pairs.iter().zip(refreshed) {
            let (sliding, row) = r?;
            match row {
                Ok(row) => rows.push(row),
                Err(why) => skipped.push((legs[p.x].sym.clone(), legs[p.y].sym.clone(), why)),
            }
            pairs.push(PairState {
                sliding,
                ..p.clone()
            });
        }
        let since_full = self.result.since_full + ((end - old_end) / self.tf_ms) as usize;
        let result = finish(
            &self.q,
            rows,
            skipped,
            self.screened_out.clone(),
            Some(end),
            since_full,
        );
        Some(ScanState {
            q: self.q.clone(),
            tf_ms: self.tf_ms,
            legs,
            pairs,
            skipped: self.skipped.clone(),
            screened_out: self.screened_out.clone(),
            refreshable: true,
            result: Arc::new(result),
        })
    }
}

/// Aligned rows `(a, b)` of two legs: those at or after `since` (and how
/// many) with up to `extra` rows before them, oldest first.
fn tail_rows(a: &Leg, b: &Leg, since: i64, extra: usize) -> (Vec<Row>, usize) {
    let (mut i, mut j) = (a.ts.len(), b.ts.len());
    let (mut out, mut recent, mut before) = (Vec::new(), 0, 0);
    while i > 0 && j > 0 {
        let (ta, tb) = (a.ts[i - 1], b.ts[j - 1]);
        if ta > tb {
            i -= 1;
        } else if tb > ta {
            j -= 1;
        } else {
            if ta >= since {
                recent += 1;
            } else if before == extra {
                break;
            } else {
                before += 1;
            }
            out.push((a.log[i - 1], b.log[j - 1]));
            i -= 1;
            j -= 1;
        }
    }
    out.reverse();
    (out, recent)
}

/// Aligned rows `(a, b)` of two legs: those before `before` (and how many)
/// with up to `extra` rows after them, oldest first.
fn head_rows(a: &Leg, b: &Leg, before: i64, extra: usize) -> (Vec<Row>, usize) {
    let (mut i, mut j) = (0, 0);
    let (mut out, mut old, mut after) = (Vec::new(), 0, 0);
    while i < a.ts.len() && j < b.ts.len() {
        let (ta, tb) = (a.ts[i], b.ts[j]);
        if ta < tb {
            i += 1;
        } else if tb < ta {
            j += 1;
        } else {
            if ta < before {
                old += 1;
            } else if after == extra {
                break;
            } else {
                after += 1;
            }
            out.push((a.log[i], b.log[j]));
            i += 1;
            j += 1;
        }
    }
    (out, old)
}

/// BH over the rows tested, the filters, the ranking.
fn finish(
    q: &ScanQuery,
    mut rows: Vec<ScanRow>,
    skipped: Vec<(String, String, String)>,
    screened_out: Vec<(String, String)>,
    end: Option<i64>,
    since_full: usize,
) -> ScanResult {
    let tested = rows.len();
    let p: Vec<f64> = rows.iter().map(|r| r.coint_p).collect();
    for (r, qv) in rows.iter_mut().zip(bh_qvalues(&p)) {
        r.q_value = qv;
    }
    let corr = heatmap(&q.symbols, &rows);
    rows.retain(|r| {
        let hl = r.half_life.unwrap_or(f64::INFINITY);
        q.half_life_min.is_none_or(|lo| hl >= lo)
            && q.half_life_max.is_none_or(|hi| hl <= hi)
            && q.min_crossings.is_none_or(|c| r.crossings >= c)
    });
    let filtered = tested - rows.len();
    rank(&mut rows);
    ScanResult {
        symbols: q.symbols.clone(),
        corr,
        rows,
        skipped,
        screened_out,
        tested,
        filtered,
        to: end,
        since_full,
    }
}

/// Linear-interpolated quantile of sorted values (numpy's default).
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let pos = q * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

/// The I(1) screen of one leg's log closes.
fn i1_screen(log: &[f64]) -> Result<(), String> {
    let opts = AdfOptions {
        trend: Trend::C,
        autolag: Autolag::Aic,
        maxlag: None,
    };
    let lv = adfuller(log, &opts).map_err(|e| format!("ADF on levels: {e}"))?;
    if lv.pvalue < 0.05 {
        return Err(format!(
            "stationary in levels (ADF p = {:.4}): not I(1)",
            lv.pvalue
        ));
    }
    let diff: Vec<f64> = log.windows(2).map(|w| w[1] - w[0]).collect();
    let dv = adfuller(&diff, &opts).map_err(|e| format!("ADF on differences: {e}"))?;
    if dv.pvalue >= 0.05 {
        return Err(format!(
            "differences not stationary (ADF p = {:.4}): not I(1)",
            dv.pvalue
        ));
    }
    Ok(())
}

/// The last rolling z-score of the spread `y - alpha - beta x` over the
/// newest rows (the window the dashboard uses, capped at a third of `n`).
fn last_z(rows: &[Row], n: usize, alpha: f64, beta: f64, z_window: usize) -> Option<f64> {
    let w = z_window.min(n / 3).max(2);
    let tail = &rows[rows.len().saturating_sub(w)..];
    let spread: Vec<Option<f64>> = tail
        .iter()
        .map(|r| Some(r.1 - alpha - beta * r.0))
        .collect();
    rolling_zscore(&spread, w).ok()?.last().copied().flatten()
}

/// Two legs' log closes on the bars both traded.
fn align(a: &Leg, b: &Leg) -> (Vec<f64>, Vec<f64>) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < a.ts.len() && j < b.ts.len() {
        match a.ts[i].cmp(&b.ts[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                x.push(a.log[i]);
                y.push(b.log[j]);
                i += 1;
                j += 1;
            }
        }
    }
    (x, y)
}

/// Align two legs on the bars both traded and test them; with the pair's
/// sliding state when its window is long enough for the lags chosen.
fn pair_row(a: &Leg, b: &Leg, z_window: usize) -> Result<(ScanRow, Option<SlidingCoint>), String> {
    let (x, y) = align(a, b);
    let n = x.len();
    if n < MIN_PAIR_BARS {
        return Err(format!(
            "{n} bars where both traded (needs {MIN_PAIR_BARS})"
        ));
    }
    let e = |e: crate::analytics::AnalyticsError| e.to_string();
    let fit = ols(&x, &y, true).map_err(e)?;
    let yx = coint(&y, &x, Autolag::Aic, None).map_err(e)?;
    let xy = coint(&x, &y, Autolag::Aic, None).map_err(e)?;
    let spread = fit.residuals(&x, &y);
    let hl = half_life(&spread).map_err(e)?;
    let mean = spread.iter().sum::<f64>() / n as f64;
    let crossings = spread
        .windows(2)
        .filter(|w| (w[0] - mean).signum() * (w[1] - mean).signum() < 0.0)
        .count();
    let rows: Vec<Row> = x.iter().copied().zip(y.iter().copied()).collect();
    let row = ScanRow {
        x: a.sym.clone(),
        y: b.sym.clone(),
        n,
        beta: fit.beta,
        coint_p: yx.pvalue.max(xy.pvalue),
        coint_p_yx: yx.pvalue,
        coint_p_xy: xy.pvalue,
        q_value: 1.0,
        half_life: hl.half_life,
        crossings,
        z: last_z(&rows, n, fit.alpha, fit.beta, z_window),
        correlation: log_return_correlation(&x, &y).ok().flatten(),
    };
    let sliding = SlidingCoint::new(&x, &y, yx.usedlag, xy.usedlag).ok();
    Ok((row, sliding))
}

/// A refreshed pair's row from its sliding state (`crossings` held).
fn sliding_row(
    a: &Leg,
    b: &Leg,
    s: &SlidingCoint,
    crossings: usize,
    z_window: usize,
) -> Result<ScanRow, String> {
    if s.len() < MIN_PAIR_BARS {
        return Err(format!(
            "{} bars where both traded (needs {MIN_PAIR_BARS})",
            s.len()
        ));
    }
    let (head, _) = head_rows(a, b, i64::MIN, s.span() - 1);
    let st = s.stats(&head).map_err(|e| e.to_string())?;
    let w = z_window.min(st.n / 3).max(2);
    let (tail, _) = tail_rows(a, b, i64::MAX, w);
    Ok(ScanRow {
        x: a.sym.clone(),
        y: b.sym.clone(),
        n: st.n,
        beta: st.beta,
        coint_p: st.yx.pvalue.max(st.xy.pvalue),
        coint_p_yx: st.yx.pvalue,
        coint_p_xy: st.xy.pvalue,
        q_value: 1.0,
        half_life: st.half_life,
        crossings,
        z: last_z(&tail, st.n, st.alpha, st.beta, z_window),
        correlation: st.correlation,
    })
}

/// The correlation heatmap of a small watchlist, from the rows tested.
fn heatmap(symbols: &[String], rows: &[ScanRow]) -> Vec<Vec<Option<f64>>> {
    if symbols.len() > MAX_HEATMAP {
        return Vec::new();
    }
    let n = symbols.len();
    let at = |s: &str| symbols.iter().position(|v| v == s);
    let mut corr = vec![vec![None; n]; n];
    for (i, row) in corr.iter_mut().enumerate() {
        row[i] = Some(1.0);
    }
    for r in rows {
        if let (Some(i), Some(j)) = (at(&r.x), at(&r.y)) {
            corr[i][j] = r.correlation;
            corr[j][i] = r.correlation;
        }
    }
    corr
}

/// `f(0..n)` on every core (work taken one index at a time, so a slow
/// pair does not hold a whole chunk back), in index order.
fn parallel_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n.max(1));
    let next = AtomicUsize::new(0);
    let mut parts: Vec<Vec<(usize, T)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        if k >= n {
                            break out;
                        }
                        out.push((k, f(k)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut all: Vec<(usize, T)> = parts.drain(..).flatten().collect();
    all.sort_by_key(|(k, _)| *k);
    all.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_map_keeps_order() {
        let v = parallel_map(1000, |i| i * 2);
        assert_eq!(v, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
        assert!(parallel_map(0, |i| i).is_empty());
    }

    fn walk(n: usize, seed: u64, step: f64) -> Vec<f64> {
        let mut s = seed;
        let mut x = 0.0;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                x += step * ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5);
                x
            })
            .collect()
    }

    fn leg(sym: &str, log: Vec<f64>, volume: f64) -> Leg {
        Leg {
            sym: sym.into(),
            ts: (0..log.len() as i64).map(|t| t * 60_000).collect(),
            log,
            quote_volume: volume,
        }
    }

    /// Five I(1) legs (one cointegrated pair among them) and a stationary
    /// one: the stationary leg is screened out, the pair ranks first with a
    /// q-value of the BH family of the ten pairs tested, and the filters cut.
    #[test]
    fn screens_tests_both_ways_and_controls_discoveries() {
        let n = 1500;
        let base = walk(n, 11, 0.01);
        let mut e = 0.0;
        let mut s = 5u64;
        let coint: Vec<f64> = base
            .iter()
            .map(|b| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                e = 0.7 * e + 0.002 * ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5);
                1.0 + 0.8 * b + e
            })
            .collect();
        let stationary: Vec<f64> = walk(n, 3, 0.01)
            .windows(2)
            .map(|w| 4.0 + w[1] - w[0])
            .collect();
        let legs = vec![
            leg("AUSDT", base.iter().map(|v| 3.0 + v).collect(), 100.0),
            leg("BUSDT", coint, 200.0),
            leg(
                "CUSDT",
                walk(n, 21, 0.01).iter().map(|v| 2.0 + v).collect(),
                300.0,
            ),
            leg(
                "DUSDT",
                walk(n, 31, 0.01).iter().map(|v| 5.0 + v).collect(),
                400.0,
            ),
            leg(
                "EUSDT",
                walk(n, 41, 0.01).iter().map(|v| 1.0 + v).collect(),
                500.0,
            ),
            leg("FUSDT", stationary, 600.0),
        ];
        let mut q = ScanQuery {
            symbols: legs.iter().map(|l| l.sym.clone()).collect(),
            bars: n,
            ..ScanQuery::default()
        };
        q.validate().unwrap();
        let r = scan_legs(q.clone(), legs.clone(), Vec::new(), Some(0));
        assert_eq!(r.screened_out.len(), 1, "{:?}", r.screened_out);
        assert_eq!(r.screened_out[0].0, "FUSDT");
        assert!(r.screened_out[0].1.contains("stationary in levels"));
        assert_eq!(r.tested, 10);
        let top = &r.rows[0];
        assert_eq!((top.x.as_str(), top.y.as_str()), ("AUSDT", "BUSDT"));
        assert!(top.coint_p < 1e-3 && top.q_value < 0.01, "{top:?}");
        assert_eq!(top.coint_p, top.coint_p_yx.max(top.coint_p_xy));
        let p: Vec<f64> = r.rows.iter().map(|r| r.coint_p).collect();
        for (row, want) in r.rows.iter().zip(bh_qvalues(&p)) {
            assert!((row.q_value - want).abs() < 1e-15);
        }
        assert_eq!(r.corr.len(), 6);
        assert_eq!(r.corr[0][1], top.correlation);
        // Filters apply after BH: the family stays the ten pairs tested.
        let cut = r.rows.iter().map(|r| r.crossings).max().unwrap();
        let strict = scan_legs(
            ScanQuery {
                min_crossings: Some(cut),
                ..q.clone()
            },
            legs.clone(),
            Vec::new(),
            None,
        );
        assert_eq!(strict.tested, 10);
        assert!(strict.rows.iter().all(|r| r.crossings >= cut));
        assert_eq!(strict.filtered, 10 - strict.rows.len());
        // The volume filter drops legs below the median before pairing.
        let heavy = scan_legs(
            ScanQuery {
                min_volume_quantile: Some(0.5),
                ..q
            },
            legs,
            Vec::new(),
            None,
        );
        let out: Vec<&str> = heavy.screened_out.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(out, ["AUSDT", "BUSDT", "CUSDT", "FUSDT"]);
        assert_eq!(heavy.tested, 1);
    }

    fn close(got: f64, want: f64, tol: f64, what: &str) {
        assert!(
            (got - want).abs() <= tol * want.abs().max(1e-300) || got == want,
            "{what}: {got} vs {want}"
        );
    }

    /// Three legs, one with a bar missing every 97 minutes, and a window
    /// shorter than the data. Refreshing by three bars, the old newest bar
    /// revised (it was still forming), gives what a refit of the new window
    /// gives: beta, half-life, z and correlation as a full scan, both
    /// Engle-Granger p-values as `coint` at the lags held, BH over them;
    /// crossings held.
    #[test]
    fn refresh_matches_a_refit_of_the_new_window() {
        let total = 1403;
        let base = walk(total, 11, 0.01);
        let mut e = 0.0;
        let noise = walk(total, 5, 0.004);
        let b: Vec<f64> = base
            .iter()
            .zip(noise.windows(2).map(|w| w[1] - w[0]).chain([0.0]))
            .map(|(v, n)| {
                e = 0.8 * e + n;
                2.0 + 0.9 * v + e
            })
            .collect();
        let series = [
            ("AUSDT", base.iter().map(|v| 3.0 + v).collect::<Vec<_>>()),
            ("BUSDT", b),
            (
                "CUSDT",
                walk(total, 21, 0.01).iter().map(|v| 1.0 + v).collect(),
            ),
        ];
        let legs = |lo: usize, hi: usize, forming: bool| -> Vec<Leg> {
            series
                .iter()
                .enumerate()
                .map(|(k, (sym, log))| {
                    let keep: Vec<usize> = (lo..hi).filter(|t| k != 1 || t % 97 != 5).collect();
                    let mut l: Vec<f64> = keep.iter().map(|&t| log[t]).collect();
                    if forming {
                        *l.last_mut().unwrap() += 0.003 * (k as f64 - 1.0);
                    }
                    Leg {
                        sym: sym.to_string(),
                        ts: keep.iter().map(|&t| t as i64 * 60_000).collect(),
                        log: l,
                        quote_volume: 1.0,
                    }
                })
                .collect()
        };
        let mut q = ScanQuery {
            symbols: series.iter().map(|s| s.0.to_string()).collect(),
            bars: 1000,
            screen: false,
            ..ScanQuery::default()
        };
        q.validate().unwrap();
        let (old_end, end) = (1400 * 60_000, 1403 * 60_000);
        let progress = Progress::default();
        let old = scan_state(
            q.clone(),
            legs(400, 1400, true),
            Vec::new(),
            Some(old_end),
            &progress,
        );
        assert!(old.refreshable);
        let tested = |stage| ScanProgress {
            stage,
            done: 3,
            total: 3,
        };
        assert_eq!(progress.snapshot(), tested(ScanStage::Testing));
        assert_eq!(old.refresh_from(end), Some(old_end - 60_000));
        // Each leg's bars `(ts, close)` from `lo` on, as a refresh reads them.
        let fresh_from = |lo: usize| -> Vec<Vec<(i64, f64)>> {
            legs(lo, 1403, false)
                .iter()
                .map(|l| {
                    l.ts.iter()
                        .zip(&l.log)
                        .map(|(&t, &v)| (t, v.exp()))
                        .collect()
                })
                .collect()
        };
        let fresh = fresh_from(1399);
        let new = old.advance(&fresh, end, &progress).expect("a refresh");
        assert_eq!(progress.snapshot(), tested(ScanStage::Refreshing));
        progress.finish();
        assert_eq!(progress.snapshot(), tested(ScanStage::Done));
        let refit = scan_state(
            q.clone(),
            legs(403, 1403, false),
            Vec::new(),
            Some(end),
            &Progress::default(),
        );
        let r = &new.result;
        assert_eq!((r.tested, r.to, r.since_full), (3, Some(end), 3));
        let find = |res: &ScanResult, x: &str, y: &str| -> ScanRow {
            res.rows
                .iter()
                .find(|r| r.x == x && r.y == y)
                .unwrap()
                .clone()
        };
        let p: Vec<f64> = r.rows.iter().map(|r| r.coint_p).collect();
        for (row, qv) in r.rows.iter().zip(bh_qvalues(&p)) {
            close(row.q_value, qv, 1e-12, "q");
            let want = find(&refit.result, &row.x, &row.y);
            let was = find(&old.result, &row.x, &row.y);
            let what = format!("{}/{}", row.x, row.y);
            assert_eq!(row.n, want.n, "{what}");
            assert_eq!(row.crossings, was.crossings, "{what}");
            close(row.beta, want.beta, 1e-9, &what);
            close(row.half_life.unwrap(), want.half_life.unwrap(), 1e-8, &what);
            close(row.z.unwrap(), want.z.unwrap(), 1e-7, &what);
            close(
                row.correlation.unwrap(),
                want.correlation.unwrap(),
                1e-9,
                &what,
            );
            let k = old
                .pairs
                .iter()
                .position(|p| old.legs[p.x].sym == row.x && old.legs[p.y].sym == row.y)
                .unwrap();
            let (lag_yx, lag_xy) = old.pairs[k].sliding.lags();
            let fresh_legs = legs(403, 1403, false);
            let leg = |s: &str| fresh_legs.iter().find(|l| l.sym == s).unwrap();
            let (x, y) = align(leg(&row.x), leg(&row.y));
            let yx = coint(&y, &x, Autolag::None, Some(lag_yx)).unwrap();
            let xy = coint(&x, &y, Autolag::None, Some(lag_xy)).unwrap();
            close(row.coint_p_yx, yx.pvalue, 1e-8, &what);
            close(row.coint_p_xy, xy.pvalue, 1e-8, &what);
        }
        let top = &r.rows[0];
        assert_eq!((top.x.as_str(), top.y.as_str()), ("AUSDT", "BUSDT"));
        // The refreshed state refreshes again, bar by bar.
        let fresh = fresh_from(1402);
        let again = new
            .advance(&fresh, end + 60_000, &progress)
            .expect("a second refresh");
        assert_eq!(again.result.since_full, 4);
        // A jump, a step back, or a stale scan is re-run in full.
        assert_eq!(old.refresh_from(old_end), None);
        assert_eq!(old.refresh_from(old_end + 6 * 60_000), None);
        let mut stale = old.clone();
        Arc::make_mut(&mut stale.result).since_full = FULL_EVERY - 2;
        assert_eq!(stale.refresh_from(end), None);
        assert!(stale.refresh_from(old_end + 2 * 60_000).is_some());
        assert!(old.advance(&fresh[..2], end, &progress).is_none());
    }

    /// Progress polled from another thread while a scan runs only moves
    /// forward within a stage, never counts past its total, and ends at
    /// every pair tested; jobs are found by id and the oldest forgotten.
    #[test]
    fn progress_is_counted_while_a_scan_runs() {
        let legs: Vec<Leg> = (0..24)
            .map(|i| Leg {
                sym: format!("S{i}USDT"),
                ts: (0..600).map(|t| t * 60_000).collect(),
                log: walk(600, 11 + i, 0.01),
                quote_volume: 1.0,
            })
            .collect();
        let mut q = ScanQuery {
            symbols: legs.iter().map(|l| l.sym.clone()).collect(),
            bars: 600,
            screen: true,
            ..ScanQuery::default()
        };
        q.validate().unwrap();
        let cache = ScanCache::default();
        let progress = cache.job(Some(42));
        let seen = std::thread::scope(|s| {
            let run = s.spawn(|| scan_state(q, legs, Vec::new(), Some(600 * 60_000), &progress));
            let mut seen = Vec::new();
            while !run.is_finished() {
                seen.push(cache.progress(42).unwrap());
                std::thread::yield_now();
            }
            (seen, run.join().unwrap())
        });
        let (seen, state) = seen;
        for w in seen.windows(2) {
            if w[0].stage == w[1].stage {
                assert!(w[1].done >= w[0].done, "{w:?}");
            }
        }
        assert!(seen.iter().all(|p| p.done <= p.total));
        let tested = cache.progress(42).unwrap();
        assert_eq!(tested.stage, ScanStage::Testing);
        let kept = 24 - state.result.screened_out.len();
        assert!(kept >= 20, "random walks pass the I(1) screen");
        let pairs = kept * (kept - 1) / 2;
        assert_eq!((tested.done, tested.total), (pairs, pairs));
        assert!(seen.iter().any(|p| p.stage == ScanStage::Screening));
        assert_eq!(cache.progress(7), None);
        for id in 0..JOB_ENTRIES as u64 {
            cache.job(Some(1000 + id));
        }
        assert_eq!(cache.progress(42), None, "the oldest job is forgotten");
        assert!(cache.progress(1000).is_some());
    }

    #[test]
    fn quantile_interpolates_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&v, 0.5), Some(2.5));
        assert_eq!(quantile(&v, 1.0), Some(4.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
