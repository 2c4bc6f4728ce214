//! Baskets as data: a query for three or more (or two) stored symbols on a
//! common bar size, validated here naming the bad parameter, and the
//! report on their aligned closes: the Johansen test, hedge weights from
//! OLS (with standard errors) and from Johansen's first eigenvector, the
//! Engle-Granger test with every other leg as a regressor, and the
//! Johansen-weighted spread with its diagnostics, OU fit and Bertram
//! bands, and the backtest of the z-score rule on the spread a trader
//! could have known bar by bar (a rolling OLS hedge). The computation is
//! [`crate::services::basket`].

use crate::analytics::coint::BasketCoint;
use crate::analytics::diagnostics::Diagnostics;
use crate::analytics::johansen::{JohansenResult, MAX_K_AR_DIFF, MAX_LEGS};
use crate::analytics::ols_multi::MultiOls;
use crate::analytics::ou::OuFit;
use crate::analytics::PriceScale;
use crate::domain::Timeframe;
use crate::model::pair::SuggestedBands;
use crate::model::pair::{PairError, MAX_BARS};
use serde::{Deserialize, Serialize};

/// Which stored symbols, which bars, and the test's settings.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BasketQuery {
    /// 2 to 12 stored symbols, e.g. BTCUSDT, ETHUSDT, SOLUSDT.
    pub symbols: Vec<String>,
    pub timeframe: Timeframe,
    /// Bars ending at `to` (or the latest tick), 30 to 50000.
    pub bars: usize,
    pub to: Option<i64>,
    /// -1 no deterministic terms, 0 a constant (default), 1 a trend.
    pub det_order: i32,
    /// Lagged differences in the VECM (default 1).
    pub k_ar_diff: usize,
    /// Test log prices (default) or raw prices.
    pub prices: PriceScale,
    /// Taker fee of each leg, bp (default: the venue's base tier), and the
    /// half spread assumed, bp: the round trip the suggested bands pay.
    pub fee_bps: Option<f64>,
    pub half_spread_bps: f64,
    /// The backtest's hedge: OLS of the first leg on the others and a
    /// constant over the trailing `window` bars ending at each close
    /// (known then, unlike the full-sample weights), and the rolling
    /// z-score of its spread over `z_window` bars.
    pub window: usize,
    pub z_window: usize,
    /// The rule's thresholds on that z-score.
    pub entry: f64,
    pub exit: f64,
    /// Execution, cost and risk settings of the backtest (its fees and
    /// half spread are `fee_bps` and `half_spread_bps`; the per-leg
    /// fields and the beta bounds do not apply to a basket).
    pub backtest: crate::analytics::BacktestOptions,
    /// Backtest walk-forward instead of the rolling hedge: each training
    /// window's OLS weights and spread moments trade the test window after
    /// it (see [`crate::analytics::walk_forward`]).
    pub walk_forward: Option<crate::analytics::WalkForward>,
}

impl Default for BasketQuery {
    fn default() -> Self {
        BasketQuery {
            symbols: Vec::new(),
            timeframe: Timeframe::M1,
            bars: 600,
            to: None,
            det_order: 0,
            k_ar_diff: 1,
            prices: PriceScale::Log,
            fee_bps: None,
            half_spread_bps: 0.5,
            window: 200,
            z_window: 60,
            entry: 2.0,
            exit: 0.5,
            backtest: crate::analytics::BacktestOptions::default(),
            walk_forward: None,
        }
    }
}

impl BasketQuery {
    /// The backtest's hedge and z-score windows when none are given: 200
    /// and 60 bars, at most half and a quarter of `bars` (and at least
    /// what the fit of `legs` needs), so any valid range backtests.
    pub fn default_windows(bars: usize, legs: usize) -> (usize, usize) {
        let d = BasketQuery::default();
        (
            d.window.min(bars / 2).max(legs + 2),
            d.z_window.min(bars / 4).max(2),
        )
    }

    /// Check every parameter, naming the first bad one; symbols are
    /// normalised to upper case.
    pub fn validate(&mut self) -> Result<(), PairError> {
        let bad = |name: &str, reason: String| PairError::BadParam {
            name: name.into(),
            reason,
        };
        if !(2..=MAX_LEGS).contains(&self.symbols.len()) {
            return Err(bad(
                "symbols",
                format!(
                    "expected 2 to {MAX_LEGS} symbols, got {}",
                    self.symbols.len()
                ),
            ));
        }
        for s in &mut self.symbols {
            *s = crate::domain::validate_symbol(s).map_err(|r| bad("symbols", r))?;
        }
        let mut seen = self.symbols.clone();
        seen.sort();
        if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
            return Err(bad("symbols", format!("{} is listed twice", w[0])));
        }
        if !(30..=MAX_BARS).contains(&self.bars) {
            return Err(bad(
                "bars",
                format!("expected 30 to {MAX_BARS}, got {}", self.bars),
            ));
        }
        if !crate::analytics::johansen::DET_ORDERS.contains(&self.det_order) {
            return Err(bad(
                "det_order",
                format!("expected -1, 0 or 1, got {}", self.det_order),
            ));
        }
        for (name, v) in [
            ("fee_bps", self.fee_bps.unwrap_or(0.0)),
            ("half_spread_bps", self.half_spread_bps),
        ] {
            if !(v.is_finite() && (0.0..=1000.0).contains(&v)) {
                return Err(bad(name, format!("expected 0 to 1000 bp, got {v}")));
            }
        }
        if self.k_ar_diff > MAX_K_AR_DIFF {
            return Err(bad(
                "k_ar_diff",
                format!("expected 0 to {MAX_K_AR_DIFF}, got {}", self.k_ar_diff),
            ));
        }
        // The rolling fit needs more bars than parameters (legs + 1).
        let min_window = self.symbols.len() + 2;
        if !(min_window..=self.bars).contains(&self.window) {
            return Err(bad(
                "window",
                format!(
                    "expected {min_window} to bars ({}), got {}",
                    self.bars, self.window
                ),
            ));
        }
        if !(2..=self.bars).contains(&self.z_window) {
            return Err(bad(
                "z_window",
                format!("expected 2 to bars ({}), got {}", self.bars, self.z_window),
            ));
        }
        crate::model::pair::check_bands(self.entry, self.exit)?;
        crate::model::pair::check_backtest(&self.backtest)?;
        if let Some(w) = self.walk_forward {
            crate::model::pair::check_walk_forward(w, self.bars, 10.max(min_window))?;
        }
        Ok(())
    }
}

/// The Johansen test of a basket of stored symbols.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BasketReport {
    pub query: BasketQuery,
    /// Bars where every leg traded (the test's input), and their span.
    pub bars: usize,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub johansen: JohansenResult,
    /// OLS of the first leg on the others and a constant (params in leg
    /// order, the constant last, with standard errors).
    pub ols: Option<MultiOls>,
    /// Spread weights per leg, the first leg's 1: `(1, -b_2, ..)` from the
    /// OLS, and Johansen's first eigenvector scaled to it.
    pub weights_ols: Vec<f64>,
    pub weights_johansen: Vec<f64>,
    /// `coint(y0, [y1 ..])` with MacKinnon N = legs.
    pub engle_granger: Option<BasketCoint>,
    /// The Johansen-weighted spread `sum w_i p_i` per aligned bar.
    pub ts: Vec<i64>,
    pub spread: Vec<f64>,
    pub diagnostics: Option<Diagnostics>,
    pub ou: Option<OuFit>,
    pub suggested_bands: SuggestedBands,
    /// The rolling-hedge z-score the backtest trades, per aligned bar
    /// (`None` until `window + z_window - 1` bars are in).
    pub zscore: Vec<Option<f64>>,
    /// The backtest of the rule on it (see `analytics::backtest`,
    /// "Baskets"), or why it could not run.
    pub backtest: Option<crate::analytics::backtest::BasketBacktest>,
    pub backtest_error: Option<String>,
    /// Blocks that could not be computed, and why.
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_baskets_are_named() {
        let q = |symbols: &[&str]| BasketQuery {
            symbols: symbols.iter().map(|s| s.to_string()).collect(),
            ..BasketQuery::default()
        };
        let name = |mut b: BasketQuery| match b.validate() {
            Err(PairError::BadParam { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name(q(&["BTCUSDT"])), "symbols");
        assert_eq!(name(q(&["BTCUSDT", "btcusdt"])), "symbols");
        assert_eq!(name(q(&["BTCUSDT", "ETH-USDT"])), "symbols");
        assert_eq!(
            name(BasketQuery {
                bars: 5,
                ..q(&["A1", "B1"])
            }),
            "bars"
        );
        assert_eq!(
            name(BasketQuery {
                det_order: 2,
                ..q(&["A1", "B1"])
            }),
            "det_order"
        );
        assert_eq!(
            name(BasketQuery {
                half_spread_bps: f64::NAN,
                ..q(&["A1", "B1"])
            }),
            "half_spread_bps"
        );
        assert_eq!(
            name(BasketQuery {
                k_ar_diff: 99,
                ..q(&["A1", "B1"])
            }),
            "k_ar_diff"
        );
        assert_eq!(
            name(BasketQuery {
                window: 3,
                ..q(&["A1", "B1"])
            }),
            "window"
        );
        assert_eq!(
            name(BasketQuery {
                window: 700,
                ..q(&["A1", "B1"])
            }),
            "window"
        );
        assert_eq!(
            name(BasketQuery {
                z_window: 1,
                ..q(&["A1", "B1"])
            }),
            "z_window"
        );
        assert_eq!(
            name(BasketQuery {
                exit: 3.0,
                ..q(&["A1", "B1"])
            }),
            "exit"
        );
        let mut o = BasketQuery::default().backtest;
        o.notional = -1.0;
        assert_eq!(
            name(BasketQuery {
                backtest: o,
                ..q(&["A1", "B1"])
            }),
            "notional"
        );
        let wf = |train, test| BasketQuery {
            walk_forward: Some(crate::analytics::WalkForward { train, test }),
            ..q(&["A1", "B1", "C1"])
        };
        assert_eq!(name(wf(0, 50)), "wf_train");
        assert_eq!(name(wf(100, 0)), "wf_test");
        assert_eq!(name(wf(500, 200)), "walk_forward");
        wf(100, 50).validate().unwrap();
        let mut ok = q(&["btcusdt", "ETHUSDT", "SOLUSDT"]);
        ok.validate().unwrap();
        assert_eq!(ok.symbols[0], "BTCUSDT");
    }
}
