//! Baskets of stored symbols: each leg's closes over the asked range,
//! aligned on the bars where every leg traded (no price is carried or
//! invented), the Johansen test on them, and the hedge blocks of
//! [`BasketReport`]: OLS and Johansen weights, Engle-Granger with every
//! other leg as a regressor, and the Johansen-weighted spread's
//! diagnostics, OU fit and Bertram bands.

use crate::analytics::coint::coint_basket;
use crate::analytics::diagnostics::{diagnostics, DEFAULT_LB_LAGS, MAX_ACF_LAGS};
use crate::analytics::johansen::{coint_johansen, JohansenResult};
use crate::analytics::ols_multi::ols_multi;
use crate::analytics::ou::ou_mle;
use crate::analytics::{Autolag, PriceScale};
use crate::domain::Venue;
use crate::model::basket::{BasketQuery, BasketReport};
use crate::model::pair::PairError;
use crate::services::pair::{bands_at_cost, venue_fee_bps};
use crate::store::{Store, StoreError};
use std::collections::BTreeMap;

/// Validate `q`, align the legs' closes and test them. Blocks.
pub fn basket_johansen(
    store: &dyn Store,
    venue: Venue,
    mut q: BasketQuery,
) -> Result<BasketReport, PairError> {
    q.validate()?;
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
    // Bar time -> one close per leg, kept only where every leg has one.
    let mut rows: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for (i, s) in q.symbols.iter().enumerate() {
        let bars = store
            .bars(venue, s, tf, from, end)
            .map_err(failed)?
            .ok_or_else(|| PairError::UnknownSymbol(s.clone()))?;
        if i == 0 {
            for b in bars {
                rows.insert(b.ts, vec![b.close]);
            }
        } else {
            let have: BTreeMap<i64, f64> = bars.into_iter().map(|b| (b.ts, b.close)).collect();
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
    let mut legs: Vec<Vec<f64>> = vec![Vec::with_capacity(rows.len()); n];
    for v in rows.values() {
        for (leg, c) in legs.iter_mut().zip(v) {
            leg.push(match q.prices {
                PriceScale::Log if *c > 0.0 => c.ln(),
                PriceScale::Log => f64::NAN,
                PriceScale::Raw => *c,
            });
        }
    }
    let slices: Vec<&[f64]> = legs.iter().map(Vec::as_slice).collect();
    let johansen = coint_johansen(&slices, q.det_order, q.k_ar_diff)
        .map_err(|e| PairError::Unusable(e.to_string()))?;
    let last: Vec<f64> = rows.values().next_back().cloned().unwrap_or_default();
    let fee = q.fee_bps.unwrap_or(venue_fee_bps(venue));
    let ts: Vec<i64> = rows.keys().copied().collect();
    Ok(hedge_blocks(q, ts, &slices, &last, fee, johansen))
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
}
