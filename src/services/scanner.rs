//! The pair scanner: every pair of a watchlist analysed and ranked (see
//! [`crate::model::scan`] for the ranking and the result shape).

use crate::model::pair::{PairError, PairQuery};
use crate::model::scan::{rank, ScanResult, ScanRow, MAX_WATCHLIST};
use crate::services::pair::{analyze_series, load_aligned, venue_fee_bps};

pub fn scan(
    store: &dyn crate::store::Store,
    venue: crate::domain::Venue,
    symbols: &[String],
    timeframe: crate::domain::Timeframe,
    bars: usize,
    z_window: usize,
) -> Result<ScanResult, PairError> {
    let mut syms: Vec<String> = Vec::new();
    for s in symbols {
        let s = crate::domain::validate_symbol(s).map_err(|r| PairError::BadParam {
            name: "symbols".into(),
            reason: r,
        })?;
        if !syms.contains(&s) {
            syms.push(s);
        }
    }
    if syms.len() < 2 || syms.len() > MAX_WATCHLIST {
        return Err(PairError::BadParam {
            name: "symbols".into(),
            reason: format!(
                "expected 2 to {MAX_WATCHLIST} distinct symbols, got {}",
                syms.len()
            ),
        });
    }
    let n = syms.len();
    let mut corr = vec![vec![None; n]; n];
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for i in 0..n {
        corr[i][i] = Some(1.0);
        for j in (i + 1)..n {
            let mut q = PairQuery {
                x: syms[i].clone(),
                y: syms[j].clone(),
                timeframe,
                bars,
                ..PairQuery::default()
            };
            q.options.window = None;
            // A young pair still gets a ranking: the z window shrinks to
            // a third of the bars actually there.
            let loaded = load_aligned(store, venue, &mut q).and_then(|(ts, px, py)| {
                let w = z_window.min(px.len() / 3).max(2);
                q.options.z_window = w;
                q.corr_window = w;
                analyze_series(&q, venue_fee_bps(venue), ts, px, py)
            });
            match loaded {
                Ok(a) => {
                    corr[i][j] = a.report.correlation;
                    corr[j][i] = a.report.correlation;
                    rows.push(ScanRow {
                        x: syms[i].clone(),
                        y: syms[j].clone(),
                        n: a.report.n,
                        beta: a.report.regression.beta,
                        coint_p: a.report.coint.pvalue,
                        half_life: a.report.half_life,
                        z: a.z,
                        correlation: a.report.correlation,
                    });
                }
                Err(PairError::BadParam { name, reason }) => {
                    return Err(PairError::BadParam { name, reason })
                }
                Err(e) => skipped.push((syms[i].clone(), syms[j].clone(), e.to_string())),
            }
        }
    }
    rank(&mut rows);
    Ok(ScanResult {
        symbols: syms,
        corr,
        rows,
        skipped,
    })
}
