//! Baskets of stored symbols: each leg's closes over the asked range,
//! aligned on the bars where every leg traded (no price is carried or
//! invented), and the Johansen test on them.

use crate::analytics::johansen::coint_johansen;
use crate::analytics::PriceScale;
use crate::domain::Venue;
use crate::model::basket::{BasketQuery, BasketReport};
use crate::model::pair::PairError;
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
    Ok(BasketReport {
        bars: rows.len(),
        from: rows.keys().next().copied(),
        to: rows.keys().next_back().copied(),
        query: q,
        johansen,
    })
}
