//! The pair scanner as data: the query (a watchlist of up to
//! [`MAX_WATCHLIST`] symbols and the filters, validated here), every pair
//! that survived the screens with its Engle-Granger p-values in both
//! directions, its Benjamini-Hochberg q-value, half-life, mean crossings and
//! current |z|, and the correlation heatmap of small watchlists.
//!
//! Multiple testing: a watchlist of `n` symbols tests `n (n - 1) / 2`
//! pairs, so at 5% about one pair in twenty looks cointegrated by chance.
//! Rows are ranked by the BH q-value over every pair tested (the smallest
//! false-discovery rate at which the pair is a discovery), not by the raw p.

use crate::domain::Timeframe;
use crate::model::pair::{PairError, MAX_BARS};
use serde::{Deserialize, Serialize};

/// Largest watchlist (19,900 pairs).
pub const MAX_WATCHLIST: usize = 200;
/// Watchlists up to this size carry the correlation heatmap.
pub const MAX_HEATMAP: usize = 30;

/// What to scan and which pairs to keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScanQuery {
    pub symbols: Vec<String>,
    pub timeframe: Timeframe,
    /// Bars ending at the latest tick (30 to 50,000).
    pub bars: usize,
    pub z_window: usize,
    /// Keep only legs whose ADF on log levels does not reject a unit root
    /// and whose ADF on differences does (5%): the I(1) screen.
    pub screen: bool,
    /// Keep only legs whose traded quote volume over the range is at least
    /// this quantile of the watchlist's (0 to 1).
    pub min_volume_quantile: Option<f64>,
    /// Keep only pairs whose half-life (bars) is in this range.
    pub half_life_min: Option<f64>,
    pub half_life_max: Option<f64>,
    /// Keep only pairs whose spread crosses its mean at least this often.
    pub min_crossings: Option<usize>,
}

impl Default for ScanQuery {
    fn default() -> Self {
        ScanQuery {
            symbols: Vec::new(),
            timeframe: Timeframe::M1,
            bars: 300,
            z_window: 20,
            screen: true,
            min_volume_quantile: None,
            half_life_min: None,
            half_life_max: None,
            min_crossings: None,
        }
    }
}

impl ScanQuery {
    /// Check every parameter, naming the first bad one; symbols are
    /// normalised and deduplicated in order.
    pub fn validate(&mut self) -> Result<(), PairError> {
        let bad = |name: &str, reason: String| PairError::BadParam {
            name: name.into(),
            reason,
        };
        let mut syms: Vec<String> = Vec::with_capacity(self.symbols.len());
        for s in &self.symbols {
            let s = crate::domain::validate_symbol(s).map_err(|r| bad("symbols", r))?;
            if !syms.contains(&s) {
                syms.push(s);
            }
        }
        if !(2..=MAX_WATCHLIST).contains(&syms.len()) {
            return Err(bad(
                "symbols",
                format!(
                    "expected 2 to {MAX_WATCHLIST} distinct symbols, got {}",
                    syms.len()
                ),
            ));
        }
        self.symbols = syms;
        if !(30..=MAX_BARS).contains(&self.bars) {
            return Err(bad(
                "bars",
                format!("expected 30 to {MAX_BARS}, got {}", self.bars),
            ));
        }
        if !(2..=self.bars).contains(&self.z_window) {
            return Err(bad(
                "z_window",
                format!(
                    "expected 2 to {} (the bars), got {}",
                    self.bars, self.z_window
                ),
            ));
        }
        if let Some(v) = self.min_volume_quantile {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(
                    "min_volume_quantile",
                    format!("expected 0 to 1, got {v}"),
                ));
            }
        }
        for (name, v) in [
            ("half_life_min", self.half_life_min),
            ("half_life_max", self.half_life_max),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(bad(
                        name,
                        format!("expected a non-negative number, got {v}"),
                    ));
                }
            }
        }
        if let (Some(lo), Some(hi)) = (self.half_life_min, self.half_life_max) {
            if lo > hi {
                return Err(bad(
                    "half_life_max",
                    format!("below half_life_min ({hi} < {lo})"),
                ));
            }
        }
        Ok(())
    }
}

/// One pair that passed the screens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanRow {
    pub x: String,
    pub y: String,
    pub n: usize,
    /// OLS hedge ratio of log y on log x.
    pub beta: f64,
    /// The worse of the two Engle-Granger p-values (y on x, x on y): a
    /// pair is only as cointegrated as its weaker direction says.
    pub coint_p: f64,
    pub coint_p_yx: f64,
    pub coint_p_xy: f64,
    /// Benjamini-Hochberg q-value of `coint_p` over every pair tested.
    #[serde(default)]
    pub q_value: f64,
    pub half_life: Option<f64>,
    /// Sign changes of the demeaned full-sample spread.
    #[serde(default)]
    pub crossings: usize,
    pub z: Option<f64>,
    pub correlation: Option<f64>,
}

/// What a scan found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanResult {
    pub symbols: Vec<String>,
    /// `corr[i][j]`: correlation of log returns of symbols i and j; empty
    /// above [`MAX_HEATMAP`] symbols.
    pub corr: Vec<Vec<Option<f64>>>,
    /// Ranked: lowest q-value first, then p, then the faster reversion.
    pub rows: Vec<ScanRow>,
    /// Pairs that could not be analysed, with the reason.
    pub skipped: Vec<(String, String, String)>,
    /// Symbols left out before pairing (no data, the I(1) screen, the
    /// volume filter), with the reason.
    #[serde(default)]
    pub screened_out: Vec<(String, String)>,
    /// Pairs tested (the BH family size) and those the half-life and
    /// crossing filters then removed.
    #[serde(default)]
    pub tested: usize,
    #[serde(default)]
    pub filtered: usize,
    /// Newest bar of the scan (the cache key's end), ms.
    #[serde(default)]
    pub to: Option<i64>,
    /// Bars refreshed in since the last full test (0: this is one). A
    /// refresh holds each pair's ADF lags, its mean crossings and the leg
    /// screens from that test; see `services::scanner`.
    #[serde(default)]
    pub since_full: usize,
}

/// The stage a running scan is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanStage {
    /// Reading each symbol's bars from the store.
    Reading,
    /// The I(1) screen, one leg at a time.
    Screening,
    /// Engle-Granger both ways, one pair at a time.
    Testing,
    /// Sliding every cached pair onto the new bars.
    Refreshing,
    Done,
}

/// How far a running scan is: its stage and the items of that stage done
/// (symbols read, legs screened, pairs tested or refreshed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanProgress {
    pub stage: ScanStage,
    pub done: usize,
    pub total: usize,
}

impl ScanProgress {
    /// What the panel shows, e.g. "Testing pairs: 8,431 of 19,900" (done:
    /// the last stage's counts).
    pub fn label(&self) -> String {
        let what = match self.stage {
            ScanStage::Reading => "Reading bars: symbol",
            ScanStage::Screening => "I(1) screen: leg",
            ScanStage::Testing => "Testing pairs:",
            ScanStage::Refreshing => "Refreshing pairs:",
            ScanStage::Done => "Done:",
        };
        format!(
            "{what} {} of {}",
            thousands(self.done),
            thousands(self.total)
        )
    }
}

/// `n` with a comma every three digits.
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Benjamini-Hochberg adjusted p-values (`statsmodels.stats.multitest.
/// multipletests(p, method="fdr_bh")[1]`): with the p-values sorted
/// ascending, `q_(i) = min_{j >= i} min(1, m p_(j) / j)`, returned in the
/// input's order. NaN p-values are treated as 1.
pub fn bh_qvalues(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let clean = |v: f64| if v.is_nan() { 1.0 } else { v.clamp(0.0, 1.0) };
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| clean(p[a]).total_cmp(&clean(p[b])));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(clean(p[i]) * m as f64 / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

/// Order rows: lowest q first, then the lower p, then faster reversion.
pub fn rank(rows: &mut [ScanRow]) {
    rows.sort_by(|a, b| {
        a.q_value
            .total_cmp(&b.q_value)
            .then(a.coint_p.total_cmp(&b.coint_p))
            .then(
                a.half_life
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&b.half_life.unwrap_or(f64::INFINITY)),
            )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_labels_count_with_separators() {
        let p = |stage, done, total| ScanProgress { stage, done, total }.label();
        assert_eq!(
            p(ScanStage::Testing, 8431, 19_900),
            "Testing pairs: 8,431 of 19,900"
        );
        assert_eq!(
            p(ScanStage::Reading, 7, 200),
            "Reading bars: symbol 7 of 200"
        );
        assert_eq!(
            p(ScanStage::Refreshing, 0, 1_234_567),
            "Refreshing pairs: 0 of 1,234,567"
        );
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
    }

    fn row(q: f64, p: f64, hl: Option<f64>) -> ScanRow {
        ScanRow {
            x: "A".into(),
            y: "B".into(),
            n: 10,
            beta: 1.0,
            coint_p: p,
            coint_p_yx: p,
            coint_p_xy: p,
            q_value: q,
            half_life: hl,
            crossings: 0,
            z: None,
            correlation: None,
        }
    }

    #[test]
    fn ranking_prefers_low_q_then_p_then_short_half_life() {
        let mut r = vec![
            row(0.5, 0.5, Some(3.0)),
            row(0.02, 0.01, None),
            row(0.02, 0.01, Some(20.0)),
            row(0.02, 0.005, None),
        ];
        rank(&mut r);
        assert_eq!(
            r.iter()
                .map(|r| (r.coint_p, r.half_life))
                .collect::<Vec<_>>(),
            vec![
                (0.005, None),
                (0.01, Some(20.0)),
                (0.01, None),
                (0.5, Some(3.0))
            ]
        );
    }

    #[test]
    fn bh_matches_the_step_up_definition() {
        let p = [0.01, 0.04, 0.03, 0.20, f64::NAN];
        let q = bh_qvalues(&p);
        // Sorted: 0.01 (1), 0.03 (2), 0.04 (3), 0.20 (4), NaN=1 (5); m = 5.
        let want = [0.05, 0.0666666666666667, 0.0666666666666667, 0.25, 1.0];
        for (g, w) in q.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{q:?}");
        }
        assert!(bh_qvalues(&[]).is_empty());
    }

    #[test]
    fn bad_queries_are_named() {
        let name = |mut q: ScanQuery| match q.validate() {
            Err(PairError::BadParam { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        let two = || ScanQuery {
            symbols: vec!["AUSDT".into(), "BUSDT".into()],
            ..ScanQuery::default()
        };
        assert_eq!(
            name(ScanQuery {
                symbols: vec!["AUSDT".into(), "ausdt".into()],
                ..ScanQuery::default()
            }),
            "symbols"
        );
        assert_eq!(
            name(ScanQuery {
                symbols: (0..201).map(|i| format!("S{i:03}USDT")).collect(),
                ..ScanQuery::default()
            }),
            "symbols"
        );
        assert_eq!(name(ScanQuery { bars: 5, ..two() }), "bars");
        assert_eq!(
            name(ScanQuery {
                min_volume_quantile: Some(1.5),
                ..two()
            }),
            "min_volume_quantile"
        );
        assert_eq!(
            name(ScanQuery {
                half_life_min: Some(10.0),
                half_life_max: Some(5.0),
                ..two()
            }),
            "half_life_max"
        );
        two().validate().unwrap();
    }
}
