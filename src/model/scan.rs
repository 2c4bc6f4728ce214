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
