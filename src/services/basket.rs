//! Baskets of stored symbols: each leg's closes over the asked range,
//! aligned on the bars where every leg traded (no price is carried or
//! invented), the Johansen test on them, and the hedge blocks of
//! [`BasketReport`]: OLS and Johansen weights, Engle-Granger with every
//! other leg as a regressor, and the Johansen-weighted spread's
//! diagnostics, OU fit and Bertram bands. Then the backtest: those weights
//! are fitted on the whole range, so trading them would look ahead; the
//! backtest trades a rolling OLS hedge instead (each bar's weights from the
//! trailing window ending at its close), or with a walk-forward each
//! training window's fit on the test window after it, at the stored opens,
//! books and funding of every leg, each leg's fee and lot step.

use crate::analytics::backtest::{
    backtest_basket, BasketBacktest, BasketInput, BasketLeg, FundingEvent, Leg, Rule, Touch,
};
use crate::analytics::coint::coint_basket;
use crate::analytics::diagnostics::{diagnostics, DEFAULT_LB_LAGS, MAX_ACF_LAGS};
use crate::analytics::johansen::{coint_johansen, JohansenResult};
use crate::analytics::ols_multi::{ols_multi, ols_params};
use crate::analytics::ou::ou_mle;
use crate::analytics::zscore::rolling_zscore;
use crate::analytics::{walk_forward_basket, AnalyticsError, Autolag, PriceScale};
use crate::domain::Venue;
use crate::model::basket::{BasketQuery, BasketReport};
use crate::model::pair::PairError;
use crate::services::pair::{bands_at_cost, fill_books, funding_events, venue_fee_bps};
use crate::store::{Store, StoreError};
use std::collections::BTreeMap;

/// Validate `q`, align the legs' closes and test them. Blocks.
pub fn basket_johansen(
    store: &dyn Store,
    venue: Venue,
    q: BasketQuery,
) -> Result<BasketReport, PairError> {
    basket_with_closes(store, venue, q).map(|(r, _)| r)
}

/// [`basket_johansen`] as CSV: one row per aligned bar with every leg's
/// close, the Johansen-weighted spread, and the backtest's z-score,
/// position and equity (an empty cell where a series is undefined). Times
/// are bar starts, UTC. Blocks.
pub fn basket_csv(store: &dyn Store, venue: Venue, q: BasketQuery) -> Result<Vec<u8>, PairError> {
    let (r, closes) = basket_with_closes(store, venue, q)?;
    basket_csv_of(&r, &closes).map_err(|e| PairError::Store(format!("writing CSV: {e}")))
}

/// The CSV of a report and its legs' aligned closes (pure).
pub(crate) fn basket_csv_of(r: &BasketReport, closes: &[Vec<f64>]) -> Result<Vec<u8>, csv::Error> {
    let legs = &r.query.symbols;
    let mut w = csv::Writer::from_writer(Vec::with_capacity(
        (60 + 20 * legs.len()) * (r.ts.len() + 1),
    ));
    let mut head = vec!["ts_iso".to_string(), "ts_ms".to_string()];
    head.extend(legs.iter().map(|s| format!("{s}_close")));
    head.extend(
        ["johansen_spread", "zscore", "position", "equity"]
            .into_iter()
            .map(String::from),
    );
    w.write_record(&head)?;
    let cell = |v: Option<f64>| match v {
        Some(x) if x.is_finite() => x.to_string(),
        _ => String::new(),
    };
    let bt = r.backtest.as_ref();
    for (i, t) in r.ts.iter().enumerate() {
        let mut row = vec![crate::clock::iso_ms(*t), t.to_string()];
        row.extend(closes.iter().map(|c| cell(c.get(i).copied())));
        row.push(cell(r.spread.get(i).copied()));
        row.push(cell(r.zscore.get(i).copied().flatten()));
        row.push(
            bt.and_then(|b| b.position.get(i))
                .map_or_else(String::new, |p| p.to_string()),
        );
        row.push(cell(bt.and_then(|b| b.equity.get(i)).copied()));
        w.write_record(&row)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// The report and the legs' aligned closes it was computed on.
fn basket_with_closes(
    store: &dyn Store,
    venue: Venue,
    mut q: BasketQuery,
) -> Result<(BasketReport, Vec<Vec<f64>>), PairError> {
    q.validate()?;
    let failed = |e: StoreError| PairError::Store(e.to_string());
    let tf = q.timeframe;
    let AlignedBasket {
        ts,
        opens,
        closes,
        from,
        end,
    } = load_basket(store, venue, &q)?;
    let n = q.symbols.len();
    let legs = on_scale(&closes, q.prices);
    let slices: Vec<&[f64]> = legs.iter().map(Vec::as_slice).collect();
    let johansen = coint_johansen(&slices, q.det_order, q.k_ar_diff)
        .map_err(|e| PairError::Unusable(e.to_string()))?;
    let last: Vec<f64> = closes.iter().filter_map(|c| c.last().copied()).collect();
    let fee = q.fee_bps.unwrap_or(venue_fee_bps(venue));
    let mut report = hedge_blocks(q, ts, &slices, &last, fee, johansen);
    // The backtest's market: each leg's stored book at the fills, funding
    // and lot step.
    let fill = report.query.backtest.fill;
    let (first, last_ts) = match (report.ts.first(), report.ts.last()) {
        (Some(&a), Some(&b)) => (a, b + tf.millis()),
        _ => (from, end),
    };
    let mut books = Vec::with_capacity(n);
    let mut funding = Vec::with_capacity(n);
    let mut steps = Vec::with_capacity(n);
    for s in &report.query.symbols {
        books.push(fill_books(store, venue, s, &report.ts, tf.millis(), fill).map_err(failed)?);
        funding.push(funding_events(store, venue, s, first, last_ts).map_err(failed)?);
        steps.push(
            store
                .symbol_rules(venue, s)
                .map_err(failed)?
                .map_or(0.0, |r| r.qty_step),
        );
    }
    let market = BasketMarket {
        bar_ms: tf.millis(),
        opens: &opens,
        closes: &closes,
        books: &books,
        funding: &funding,
        fee_bps: fee,
        qty_steps: &steps,
    };
    match basket_backtest(&report.query, &report.ts, &slices, &market) {
        Ok((z, bt)) => {
            report.zscore = z;
            report.backtest = Some(bt);
        }
        Err(e) => report.backtest_error = Some(e.to_string()),
    }
    Ok((report, closes))
}

/// A validated basket query's legs on the bars where every leg traded.
pub(crate) struct AlignedBasket {
    /// Bar starts, ascending.
    pub(crate) ts: Vec<i64>,
    /// Per leg, its opens and closes on those bars.
    pub(crate) opens: Vec<Vec<f64>>,
    pub(crate) closes: Vec<Vec<f64>>,
    /// The range asked: `[from, end)`.
    pub(crate) from: i64,
    pub(crate) end: i64,
}

/// The `q.bars` bars ending at `q.to` (or after the latest tick of any
/// leg), kept where every leg has one (no price is carried or invented).
/// Blocks.
pub(crate) fn load_basket(
    store: &dyn Store,
    venue: Venue,
    q: &BasketQuery,
) -> Result<AlignedBasket, PairError> {
    let failed = |e: StoreError| PairError::Store(e.to_string());
    let tf = q.timeframe;
    let end = match q.to {
        Some(t) => t,
        None => {
            let mut last = i64::MIN;
            for s in &q.symbols {
                let t = store
                    .last_ts(venue, s)
                    .map_err(failed)?
                    .ok_or_else(|| PairError::UnknownSymbol(s.clone()))?;
                last = last.max(t);
            }
            tf.bucket(last) + tf.millis()
        }
    };
    let from = end - tf.millis() * q.bars as i64;
    // Bar time -> one (open, close) per leg, kept only where every leg
    // has one.
    let mut rows: BTreeMap<i64, Vec<(f64, f64)>> = BTreeMap::new();
    for (i, s) in q.symbols.iter().enumerate() {
        let bars = store
            .bars(venue, s, tf, from, end)
            .map_err(failed)?
            .ok_or_else(|| PairError::UnknownSymbol(s.clone()))?;
        if i == 0 {
            for b in bars {
                rows.insert(b.ts, vec![(b.open, b.close)]);
            }
        } else {
            let have: BTreeMap<i64, (f64, f64)> = bars
                .into_iter()
                .map(|b| (b.ts, (b.open, b.close)))
                .collect();
            rows.retain(|ts, v| match have.get(ts) {
                Some(c) if v.len() == i => {
                    v.push(*c);
                    true
                }
                _ => false,
            });
        }
    }
    let n = q.symbols.len();
    let mut opens: Vec<Vec<f64>> = vec![Vec::with_capacity(rows.len()); n];
    let mut closes: Vec<Vec<f64>> = vec![Vec::with_capacity(rows.len()); n];
    for v in rows.values() {
        for (k, (o, c)) in v.iter().enumerate() {
            opens[k].push(*o);
            closes[k].push(*c);
        }
    }
    Ok(AlignedBasket {
        ts: rows.keys().copied().collect(),
        opens,
        closes,
        from,
        end,
    })
}

/// Closes on the fit's price scale (a log of a non-positive price is NaN,
/// which the fits refuse by name).
pub(crate) fn on_scale(closes: &[Vec<f64>], prices: PriceScale) -> Vec<Vec<f64>> {
    closes
        .iter()
        .map(|c| {
            c.iter()
                .map(|c| match prices {
                    PriceScale::Log if *c > 0.0 => c.ln(),
                    PriceScale::Log => f64::NAN,
                    PriceScale::Raw => *c,
                })
                .collect()
        })
        .collect()
}

/// Each leg's prices, books, funding and costs on the aligned bars.
pub(crate) struct BasketMarket<'a> {
    pub(crate) bar_ms: i64,
    pub(crate) opens: &'a [Vec<f64>],
    pub(crate) closes: &'a [Vec<f64>],
    pub(crate) books: &'a [Option<Vec<Option<Touch>>>],
    pub(crate) funding: &'a [Vec<FundingEvent>],
    pub(crate) fee_bps: f64,
    pub(crate) qty_steps: &'a [f64],
}

/// The backtest of `q`'s rule (pure) on the rolling hedge (see
/// [`rolling_hedge`]) or, with `q.walk_forward`, out of sample on each
/// training window's fit; with the z-score it traded. `legs` are the
/// aligned closes on `q.prices`.
pub(crate) fn basket_backtest(
    q: &BasketQuery,
    ts: &[i64],
    legs: &[&[f64]],
    m: &BasketMarket,
) -> Result<(Vec<Option<f64>>, BasketBacktest), AnalyticsError> {
    let fit_legs = legs;
    let legs: Vec<BasketLeg> = (0..legs.len())
        .map(|k| BasketLeg {
            leg: Leg {
                open: &m.opens[k],
                close: &m.closes[k],
                book: m.books[k].as_deref(),
                funding: &m.funding[k],
            },
            fee_bps: m.fee_bps,
            qty_step: m.qty_steps[k],
        })
        .collect();
    let rule = Rule {
        entry: q.entry,
        exit: q.exit,
        prices: q.prices,
    };
    let opts = crate::analytics::BacktestOptions {
        half_spread_bps: q.half_spread_bps,
        ..q.backtest
    };
    let (z, bt) = match q.walk_forward {
        Some(wf) => {
            let base = BasketInput {
                ts,
                bar_ms: m.bar_ms,
                legs: &legs,
                weights: &[],
                z: &[],
                flat_after: &[],
            };
            walk_forward_basket(&base, fit_legs, &rule, &opts, wf)?
        }
        None => {
            let RollingHedge { weights, z } = rolling_hedge(fit_legs, q.window, q.z_window)?;
            let weights: Vec<Option<&[f64]>> = weights.iter().map(|w| w.as_deref()).collect();
            let input = BasketInput {
                ts,
                bar_ms: m.bar_ms,
                legs: &legs,
                weights: &weights,
                z: &z,
                flat_after: &[],
            };
            let bt = backtest_basket(&input, &rule, &opts)?;
            (z, bt)
        }
    };
    let finite = [bt.summary.net, bt.summary.turnover]
        .into_iter()
        .chain(bt.equity.iter().copied())
        .all(f64::is_finite);
    if !finite {
        return Err(AnalyticsError::InvalidParameter {
            name: "notional",
            reason: "the backtest overflowed on these prices and this notional".into(),
        });
    }
    Ok((z, bt))
}

/// The hedge a trader could have known at each close (pure): from bar
/// `window - 1` on, OLS of the first leg on the others and a constant over
/// the `window` bars ending at `t` gives the weights `(1, -b_2, ..)` and
/// the spread at `t` (the fit's residual there, `y_t - a - sum b_i x_i,t`);
/// the z-score is the rolling z-score of that spread over `z_window`
/// bars. A window the fit cannot solve (a flat or collinear leg) leaves
/// the bar undefined. Nothing after `t` enters bar `t`.
pub fn rolling_hedge(
    legs: &[&[f64]],
    window: usize,
    z_window: usize,
) -> Result<RollingHedge, AnalyticsError> {
    let n = legs.first().map_or(0, |l| l.len());
    if window < legs.len() + 2 || window > n {
        return Err(AnalyticsError::InvalidParameter {
            name: "window",
            reason: format!(
                "expected {} to the {n} aligned bars, got {window}",
                legs.len() + 2
            ),
        });
    }
    let mut weights = vec![None; n];
    let mut spread = vec![None; n];
    for t in (window - 1)..n {
        let lo = t + 1 - window;
        let y = &legs[0][lo..=t];
        let xs: Vec<&[f64]> = legs[1..].iter().map(|l| &l[lo..=t]).collect();
        // The parameters alone: their standard errors and p-values would
        // cost more than the fit, refitted on every bar.
        let Ok(params) = ols_params(y, &xs, true) else {
            continue;
        };
        let k = xs.len();
        let mut s = legs[0][t] - params[k];
        for (b, l) in params[..k].iter().zip(&legs[1..]) {
            s -= b * l[t];
        }
        if s.is_finite() {
            spread[t] = Some(s);
            weights[t] = Some(
                std::iter::once(1.0)
                    .chain(params[..k].iter().map(|b| -b))
                    .collect(),
            );
        }
    }
    let z = rolling_zscore(&spread, z_window)?;
    Ok(RollingHedge { weights, z })
}

/// The rolling hedge at a basket's newest aligned bar: what a live rule
/// reads on its close.
pub struct HedgeNow {
    /// The bar's start.
    pub ts: i64,
    /// Each leg's close there.
    pub closes: Vec<f64>,
    /// The weights and z-score known at the close (`None` where the fit
    /// or the z-score is undefined).
    pub weights: Option<Vec<f64>>,
    pub z: Option<f64>,
}

/// [`rolling_hedge`] at the newest aligned bar of `q`'s range (`q`
/// validated), fitted on only the bars it needs there (the hedge window
/// and the z-score's): the same figures as the backtest's at that bar, to
/// rounding, at a fraction of the cost on a long range. `None` when no bar
/// is aligned. Blocks.
pub fn hedge_now(
    store: &dyn Store,
    venue: Venue,
    q: &BasketQuery,
) -> Result<Option<HedgeNow>, PairError> {
    let a = load_basket(store, venue, q)?;
    let Some(&ts) = a.ts.last() else {
        return Ok(None);
    };
    let n = a.ts.len();
    let need = (q.window + q.z_window - 1).min(n);
    let tail: Vec<Vec<f64>> = a.closes.iter().map(|c| c[n - need..].to_vec()).collect();
    let fit = on_scale(&tail, q.prices);
    let legs: Vec<&[f64]> = fit.iter().map(Vec::as_slice).collect();
    let RollingHedge { mut weights, z } = rolling_hedge(&legs, q.window, q.z_window)
        .map_err(|e| PairError::Unusable(e.to_string()))?;
    Ok(Some(HedgeNow {
        ts,
        closes: tail.iter().map(|c| c[need - 1]).collect(),
        weights: weights.pop().flatten(),
        z: z.last().copied().flatten(),
    }))
}

/// Per aligned bar: the weights known at its close and the rolling
/// z-score of the spread they give there (`None` where undefined).
pub struct RollingHedge {
    pub weights: Vec<Option<Vec<f64>>>,
    pub z: Vec<Option<f64>>,
}

/// The report's hedge blocks on aligned (log or raw) legs (pure). A block
/// that cannot be computed is left empty with a note saying why; the
/// Johansen result always stands.
pub(crate) fn hedge_blocks(
    q: BasketQuery,
    ts: Vec<i64>,
    legs: &[&[f64]],
    last_close: &[f64],
    fee_bps: f64,
    johansen: JohansenResult,
) -> BasketReport {
    let mut notes = Vec::new();
    let (y0, others) = (legs[0], &legs[1..]);
    let ols = ols_multi(y0, others, true)
        .map_err(|e| notes.push(format!("OLS: {e}")))
        .ok();
    let weights_ols = ols.as_ref().map_or_else(Vec::new, |f| {
        std::iter::once(1.0)
            .chain(f.params[..others.len()].iter().map(|b| -b))
            .collect()
    });
    let engle_granger = coint_basket(y0, others, Autolag::Aic, None)
        .map_err(|e| notes.push(format!("Engle-Granger: {e}")))
        .ok();
    let weights_johansen: Vec<f64> = match johansen.eigenvectors.first() {
        Some(v) if v[0].abs() > 1e-12 => v.iter().map(|w| w / v[0]).collect(),
        _ => {
            notes.push("Johansen weights: the first vector holds none of the first leg".into());
            Vec::new()
        }
    };
    let spread: Vec<f64> = if weights_johansen.is_empty() {
        Vec::new()
    } else {
        (0..ts.len())
            .map(|t| {
                weights_johansen
                    .iter()
                    .zip(legs)
                    .map(|(w, l)| w * l[t])
                    .sum()
            })
            .collect()
    };
    let diagnostics = diagnostics(&spread, &DEFAULT_LB_LAGS, MAX_ACF_LAGS)
        .map_err(|e| notes.push(format!("diagnostics: {e}")))
        .ok();
    let ou = ou_mle(&spread, 1.0)
        .map_err(|e| notes.push(format!("OU fit: {e}")))
        .ok();
    // Each leg entered and left once at its fee and half spread, weighted
    // by |w| (and by its price on raw prices).
    let k = (fee_bps + q.half_spread_bps) * 1e-4;
    let cost = 2.0
        * k
        * weights_johansen
            .iter()
            .zip(last_close)
            .map(|(w, p)| match q.prices {
                PriceScale::Log => w.abs(),
                PriceScale::Raw => w.abs() * p,
            })
            .sum::<f64>();
    let suggested_bands = bands_at_cost(ou.as_ref(), cost);
    BasketReport {
        bars: ts.len(),
        from: ts.first().copied(),
        to: ts.last().copied(),
        query: q,
        johansen,
        ols,
        weights_ols,
        weights_johansen,
        engle_granger,
        ts,
        spread,
        diagnostics,
        ou,
        suggested_bands,
        zscore: Vec::new(),
        backtest: None,
        backtest_error: None,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three legs with one cointegrating relation `a - 0.5 b - 0.8 c`
    /// (stationary AR(1) error): the OLS weights find it and Johansen's
    /// first vector points the same way.
    #[test]
    fn three_legs_recover_their_cointegrating_weights() {
        let n = 2000;
        let mut state = 7u64;
        let mut noise = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        let (mut b, mut c, mut e) = (10.0, 20.0, 0.0);
        let mut legs = [Vec::new(), Vec::new(), Vec::new()];
        for _ in 0..n {
            b += 0.05 * noise();
            c += 0.05 * noise();
            e = 0.5 * e + 0.02 * noise();
            legs[0].push(1.0 + 0.5 * b + 0.8 * c + e);
            legs[1].push(b);
            legs[2].push(c);
        }
        let slices: Vec<&[f64]> = legs.iter().map(Vec::as_slice).collect();
        let j = coint_johansen(&slices, 0, 1).unwrap();
        let q = BasketQuery {
            symbols: vec!["AUSDT".into(), "BUSDT".into(), "CUSDT".into()],
            prices: PriceScale::Raw,
            ..BasketQuery::default()
        };
        let ts: Vec<i64> = (0..n as i64).map(|t| t * 1000).collect();
        let r = hedge_blocks(q, ts, &slices, &[20.0, 10.0, 20.0], 5.0, j);
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        assert!((r.weights_ols[1] + 0.5).abs() < 0.01, "{:?}", r.weights_ols);
        assert!((r.weights_ols[2] + 0.8).abs() < 0.01, "{:?}", r.weights_ols);
        assert!(
            (r.weights_johansen[1] + 0.5).abs() < 0.05,
            "{:?}",
            r.weights_johansen
        );
        assert!(
            (r.weights_johansen[2] + 0.8).abs() < 0.05,
            "{:?}",
            r.weights_johansen
        );
        assert!(r.engle_granger.unwrap().pvalue.unwrap() < 0.01);
        assert_eq!(r.johansen.rank_trace, 1);
        let ou = r.ou.unwrap();
        assert!((ou.theta - 0.5f64.ln().abs()).abs() < 0.15, "{ou:?}");
        assert!(
            r.suggested_bands.return_max.is_some(),
            "{:?}",
            r.suggested_bands
        );
        // Raw prices: the cost weighs each leg's |w| by its last price.
        let want = 2.0
            * 5.5e-4
            * (20.0 + r.weights_johansen[1].abs() * 10.0 + r.weights_johansen[2].abs() * 20.0);
        assert!((r.suggested_bands.cost - want).abs() < 1e-12);
    }

    /// Three random-walk legs (log prices near 10, 9 and 8).
    fn walks(n: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut state = seed;
        let mut u = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let (mut a, mut b) = (9.0, 8.0);
        let mut e = 0.0;
        let mut legs = vec![Vec::new(), Vec::new(), Vec::new()];
        for _ in 0..n {
            a += 0.01 * u();
            b += 0.01 * u();
            e = 0.7 * e + 0.003 * u();
            legs[0].push(0.4 + 0.6 * a + 0.5 * b + e);
            legs[1].push(a);
            legs[2].push(b);
        }
        legs
    }

    /// Each bar's weights are OLS on the window ending there (as
    /// `statsmodels.api.OLS` on that slice, through `ols_multi`), and its
    /// z-score is the naive one of the residuals at each window's end.
    #[test]
    fn the_rolling_hedge_is_ols_on_each_trailing_window() {
        let legs = walks(400, 5);
        let slices: Vec<&[f64]> = legs.iter().map(Vec::as_slice).collect();
        let (w, zw) = (60, 25);
        let h = rolling_hedge(&slices, w, zw).unwrap();
        assert!(h.weights[..w - 1].iter().all(Option::is_none));
        let resid = |t: usize| -> f64 {
            let xs: Vec<&[f64]> = slices[1..].iter().map(|l| &l[t + 1 - w..=t]).collect();
            let f = ols_multi(&slices[0][t + 1 - w..=t], &xs, true).unwrap();
            slices[0][t] - f.params[2] - f.params[0] * slices[1][t] - f.params[1] * slices[2][t]
        };
        for t in [w - 1, 100, 250, 399] {
            let xs: Vec<&[f64]> = slices[1..].iter().map(|l| &l[t + 1 - w..=t]).collect();
            let f = ols_multi(&slices[0][t + 1 - w..=t], &xs, true).unwrap();
            let got = h.weights[t].as_ref().unwrap();
            assert_eq!(got.len(), 3);
            assert_eq!(got[0], 1.0);
            assert!((got[1] + f.params[0]).abs() < 1e-12, "{t}");
            assert!((got[2] + f.params[1]).abs() < 1e-12, "{t}");
        }
        let first_z = w - 1 + zw - 1;
        assert!(h.z[..first_z].iter().all(Option::is_none));
        for t in [first_z, 200, 399] {
            let r: Vec<f64> = (t + 1 - zw..=t).map(resid).collect();
            let mean = r.iter().sum::<f64>() / zw as f64;
            let sd = (r.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (zw - 1) as f64).sqrt();
            let want = (r[zw - 1] - mean) / sd;
            let got = h.z[t].unwrap();
            assert!((got - want).abs() < 1e-8, "{t}: {got} vs {want}");
        }
        // The cointegrating weights are found.
        let last = h.weights[399].as_ref().unwrap();
        assert!(
            (last[1] + 0.6).abs() < 0.1 && (last[2] + 0.5).abs() < 0.1,
            "{last:?}"
        );
    }

    /// Nothing after a bar enters it: changing every price after bar 200
    /// leaves the weights and z-scores up to 200 as they were.
    #[test]
    fn the_rolling_hedge_does_not_look_ahead() {
        let legs = walks(300, 8);
        let mut moved = legs.clone();
        for l in &mut moved {
            for v in &mut l[201..] {
                *v += 0.37;
            }
        }
        let run = |l: &[Vec<f64>]| {
            let s: Vec<&[f64]> = l.iter().map(Vec::as_slice).collect();
            rolling_hedge(&s, 50, 20).unwrap()
        };
        let (a, b) = (run(&legs), run(&moved));
        assert_eq!(a.weights[..=200], b.weights[..=200]);
        assert_eq!(a.z[..=200], b.z[..=200]);
        assert_ne!(a.z[250], b.z[250]);
    }

    /// A flat leg leaves its windows undefined (no weights, no z); a
    /// window longer than the bars, or too short to fit, is refused.
    #[test]
    fn flat_windows_are_undefined_and_bad_windows_refused() {
        let mut legs = walks(200, 3);
        for v in &mut legs[2][..120] {
            *v = 8.0;
        }
        let s: Vec<&[f64]> = legs.iter().map(Vec::as_slice).collect();
        let h = rolling_hedge(&s, 40, 10).unwrap();
        assert!(h.weights[..120].iter().all(Option::is_none));
        assert!(h.weights[160].is_some());
        assert!(h.z[..120].iter().all(Option::is_none));
        for bad in [4, 201] {
            match rolling_hedge(&s, bad, 10) {
                Err(AnalyticsError::InvalidParameter { name: "window", .. }) => {}
                other => panic!("{bad}: {:?}", other.map(|h| h.z.len())),
            }
        }
    }
}
