//! The pair scanner: every pair of a watchlist ranked by how tradeable its
//! spread looks (cointegration p-value, half-life, current |z|), plus the
//! correlation matrix of log returns for the heatmap.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanRow {
    pub x: String,
    pub y: String,
    pub n: usize,
    pub beta: f64,
    pub coint_p: f64,
    pub half_life: Option<f64>,
    pub z: Option<f64>,
    pub correlation: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanResult {
    pub symbols: Vec<String>,
    /// `corr[i][j]`: correlation of log returns of symbols i and j.
    pub corr: Vec<Vec<Option<f64>>>,
    /// Ranked: lowest cointegration p-value first.
    pub rows: Vec<ScanRow>,
    /// Pairs that could not be analysed, with the reason.
    pub skipped: Vec<(String, String, String)>,
}

pub const MAX_WATCHLIST: usize = 12;

/// Order rows: most cointegrated first, then faster mean reversion.
pub fn rank(rows: &mut [ScanRow]) {
    rows.sort_by(|a, b| {
        a.coint_p.total_cmp(&b.coint_p).then(
            a.half_life
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.half_life.unwrap_or(f64::INFINITY)),
        )
    });
}

#[cfg(feature = "ssr")]
pub fn scan(
    db: &std::path::Path,
    venue: crate::domain::Venue,
    symbols: &[String],
    timeframe: crate::domain::Timeframe,
    bars: usize,
    z_window: usize,
) -> Result<ScanResult, crate::api::pair::PairError> {
    use crate::api::pair::{analyze_series, load_aligned, PairError, PairQuery};
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
            let loaded = load_aligned(db, venue, &mut q).and_then(|(ts, px, py)| {
                let w = z_window.min(px.len() / 3).max(2);
                q.options.z_window = w;
                q.corr_window = w;
                analyze_series(&q, ts, px, py)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(p: f64, hl: Option<f64>) -> ScanRow {
        ScanRow {
            x: "A".into(),
            y: "B".into(),
            n: 10,
            beta: 1.0,
            coint_p: p,
            half_life: hl,
            z: None,
            correlation: None,
        }
    }

    #[test]
    fn ranking_prefers_low_p_then_short_half_life() {
        let mut r = vec![row(0.5, Some(3.0)), row(0.01, None), row(0.01, Some(20.0))];
        rank(&mut r);
        assert_eq!(
            r.iter()
                .map(|r| (r.coint_p, r.half_life))
                .collect::<Vec<_>>(),
            vec![(0.01, Some(20.0)), (0.01, None), (0.5, Some(3.0))]
        );
    }
}
