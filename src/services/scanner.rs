//! The pair scanner: every pair of a watchlist of up to 200 symbols tested
//! and ranked (see [`crate::model::scan`] for the ranking, the
//! false-discovery control and the result shape).
//!
//! Each symbol's bars are read once. A leg must pass the I(1) screen (ADF
//! with a constant on log levels does not reject a unit root at 5%, on
//! differences it does) and the volume filter; every pair of the legs left
//! is aligned on the bars both traded and tested by Engle-Granger in both
//! directions, on all cores. Benjamini-Hochberg runs over every pair
//! tested, then the half-life and crossing filters apply. Results are
//! cached per (venue, query, newest bar): a new bar makes a new key.

use crate::analytics::adf::{adfuller, AdfOptions, Autolag};
use crate::analytics::coint::coint;
use crate::analytics::correlation::log_return_correlation;
use crate::analytics::half_life::half_life;
use crate::analytics::ols::ols;
use crate::analytics::zscore::rolling_zscore;
use crate::analytics::Trend;
use crate::domain::Venue;
use crate::model::pair::PairError;
use crate::model::scan::{bh_qvalues, rank, ScanQuery, ScanResult, ScanRow, MAX_HEATMAP};
use crate::store::{Store, StoreError};
use std::collections::VecDeque;
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

/// The last scans, newest last (a few watchlists in use at once).
#[derive(Default)]
pub struct ScanCache {
    entries: Mutex<VecDeque<(String, Arc<ScanResult>)>>,
}

const CACHE_ENTRIES: usize = 8;

impl ScanCache {
    fn get(&self, key: &str) -> Option<Arc<ScanResult>> {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.iter().find(|(k, _)| k == key).map(|(_, r)| r.clone())
    }

    fn put(&self, key: String, r: Arc<ScanResult>) {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.retain(|(k, _)| *k != key);
        if e.len() == CACHE_ENTRIES {
            e.pop_front();
        }
        e.push_back((key, r));
    }
}

/// Scan `q` on `venue`, from `cache` when the newest bar has not moved.
pub fn scan_cached(
    store: &dyn Store,
    venue: Venue,
    mut q: ScanQuery,
    cache: &ScanCache,
) -> Result<Arc<ScanResult>, PairError> {
    q.validate()?;
    let end = range_end(store, venue, &q)?;
    let key = format!(
        "{}|{}|{end:?}",
        venue.as_str(),
        serde_json::to_string(&q).unwrap_or_default()
    );
    if let Some(r) = cache.get(&key) {
        return Ok(r);
    }
    let r = Arc::new(scan_to(store, venue, q, end)?);
    cache.put(key, r.clone());
    Ok(r)
}

/// Scan without a cache (see module docs).
pub fn scan(store: &dyn Store, venue: Venue, mut q: ScanQuery) -> Result<ScanResult, PairError> {
    q.validate()?;
    let end = range_end(store, venue, &q)?;
    scan_to(store, venue, q, end)
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

fn scan_to(
    store: &dyn Store,
    venue: Venue,
    q: ScanQuery,
    end: Option<i64>,
) -> Result<ScanResult, PairError> {
    let mut screened_out = Vec::new();
    let mut legs: Vec<Leg> = Vec::new();
    if let Some(end) = end {
        let from = end - q.timeframe.millis() * q.bars as i64;
        for s in &q.symbols {
            let bars = store
                .bars(venue, s, q.timeframe, from, end)
                .map_err(failed)?
                .unwrap_or_default();
            let bars: Vec<_> = bars.into_iter().filter(|b| b.close > 0.0).collect();
            if bars.len() < MIN_PAIR_BARS {
                screened_out.push((
                    s.clone(),
                    format!("{} bars in the range (needs {MIN_PAIR_BARS})", bars.len()),
                ));
                continue;
            }
            legs.push(Leg {
                sym: s.clone(),
                ts: bars.iter().map(|b| b.ts).collect(),
                log: bars.iter().map(|b| b.close.ln()).collect(),
                quote_volume: bars.iter().map(|b| b.volume * b.close).sum(),
            });
        }
    } else {
        for s in &q.symbols {
            screened_out.push((s.clone(), "nothing stored".into()));
        }
    }
    Ok(scan_legs(q, legs, screened_out, end))
}

/// The scan's computation on loaded legs (pure; `q` validated): the
/// screens, every pair on all cores, BH and the filters.
pub fn scan_legs(
    q: ScanQuery,
    mut legs: Vec<Leg>,
    mut screened_out: Vec<(String, String)>,
    end: Option<i64>,
) -> ScanResult {
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
        let verdicts = parallel_map(legs.len(), |i| i1_screen(&legs[i].log));
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
    let results = parallel_map(pairs.len(), |k| {
        let (i, j) = pairs[k];
        pair_row(&legs[i], &legs[j], q.z_window)
    });
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for ((i, j), r) in pairs.iter().zip(results) {
        match r {
            Ok(row) => rows.push(row),
            Err(why) => skipped.push((legs[*i].sym.clone(), legs[*j].sym.clone(), why)),
        }
    }
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
        symbols: q.symbols,
        corr,
        rows,
        skipped,
        screened_out,
        tested,
        filtered,
        to: end,
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

/// Align two legs on the bars both traded and test them.
fn pair_row(a: &Leg, b: &Leg, z_window: usize) -> Result<ScanRow, String> {
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
    let w = z_window.min(n / 3).max(2);
    let spread_opt: Vec<Option<f64>> = spread.iter().copied().map(Some).collect();
    let z = rolling_zscore(&spread_opt, w)
        .map_err(e)?
        .last()
        .copied()
        .flatten();
    Ok(ScanRow {
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
        z,
        correlation: log_return_correlation(&x, &y).ok().flatten(),
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

    #[test]
    fn quantile_interpolates_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&v, 0.5), Some(2.5));
        assert_eq!(quantile(&v, 1.0), Some(4.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
