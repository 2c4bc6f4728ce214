//! Pair analytics as data: the query (validated here, naming the bad
//! parameter), the result, and the trader-readable signal sentence. Shared
//! with the client, which deserializes them from server functions; the
//! computation is [`crate::services::pair`].

use crate::analytics::{AnalyzeOptions, AnalyzeReport, BacktestResult, PriceScale, Signal};
use crate::domain::Timeframe;
use serde::{Deserialize, Serialize};

/// Which price of each bar the analysis uses: the last trade (the close),
/// or the mid of the book in force at the bar's close (stored quotes; bars
/// where either leg had no quote are left out, never invented).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceSource {
    #[default]
    Last,
    Mid,
}

impl PriceSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PriceSource::Last => "last",
            PriceSource::Mid => "mid",
        }
    }
}

/// Where the backtest's and the signal's thresholds come from: the query's
/// `entry`/`exit`, or Bertram's optimal bands for the spread's fitted OU
/// at the query's round-trip cost (entry at the band's z, no inner exit: a
/// position is held until the opposite band flips it).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BandRule {
    #[default]
    Manual,
    /// Maximise expected return per unit time.
    Bertram,
    /// Maximise the Sharpe ratio per unit time.
    BertramSharpe,
}

impl BandRule {
    pub fn as_str(self) -> &'static str {
        match self {
            BandRule::Manual => "manual",
            BandRule::Bertram => "bertram",
            BandRule::BertramSharpe => "bertram-sharpe",
        }
    }
}

/// Bertram's bands for the pair's full-sample spread: both objectives at
/// one round-trip cost, or why there are none.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SuggestedBands {
    /// Round trip of both legs in spread units (log or price): twice each
    /// leg's fee, half spread and slippage, the x leg weighted by |beta|.
    pub cost: f64,
    pub return_max: Option<crate::analytics::bertram::Bands>,
    pub sharpe_max: Option<crate::analytics::bertram::Bands>,
    pub error: Option<String>,
}

/// What to analyse: two stored symbols, a bar size, how many bars (ending at
/// `to`, or at the latest tick), and the model options.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PairQuery {
    /// Independent leg (x), e.g. BTCUSDT.
    pub x: String,
    /// Dependent leg (y), e.g. ETHUSDT.
    pub y: String,
    pub timeframe: Timeframe,
    /// Number of bars to analyse (10 to 50000).
    pub bars: usize,
    /// End of the range (exclusive, epoch ms); `None` = live tail.
    pub to: Option<i64>,
    /// Carry a missing leg's last price forward at most this many bars.
    pub ffill: usize,
    pub options: AnalyzeOptions,
    /// Taker fee of each leg in the backtest, bp of notional; `None` = the
    /// venue's base tier (Binance USD-M 5, spot 10).
    pub fee_bps: Option<f64>,
    /// Execution, cost and risk settings of the backtest (its fees are
    /// `fee_bps`).
    pub backtest: crate::analytics::BacktestOptions,
    /// Refit the hedge ratio on a rolling training window and trade the
    /// next window with it.
    pub walk_forward: Option<crate::analytics::WalkForward>,
    /// Rolling correlation window (bars).
    pub corr_window: usize,
    /// Spread on the last trade of each bar, or on the mid of its book.
    pub price: PriceSource,
    /// The query's thresholds, or Bertram's bands (then written back into
    /// `options.entry`/`exit` of the response's query).
    pub bands: BandRule,
}

impl Default for PairQuery {
    fn default() -> Self {
        PairQuery {
            x: "BTCUSDT".into(),
            y: "ETHUSDT".into(),
            timeframe: Timeframe::S1,
            bars: 600,
            to: None,
            ffill: 5,
            options: AnalyzeOptions::default(),
            fee_bps: None,
            backtest: crate::analytics::BacktestOptions::default(),
            walk_forward: None,
            corr_window: 60,
            price: PriceSource::Last,
            bands: BandRule::Manual,
        }
    }
}

/// A month of 1-minute bars (43,200) fits; rollups make it cheap to load.
pub const MAX_BARS: usize = 50_000;

/// Everything the dashboard draws for a pair.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairAnalytics {
    pub query: PairQuery,
    /// Bar timestamps (bucket starts, ms) where both legs have a price.
    pub ts: Vec<i64>,
    pub px: Vec<f64>,
    pub py: Vec<f64>,
    pub report: AnalyzeReport,
    pub corr: Vec<Option<f64>>,
    pub backtest: Option<BacktestResult>,
    /// Why the backtest did not run, when it did not.
    #[serde(default)]
    pub backtest_error: Option<String>,
    /// Latest z-score and what it says.
    pub z: Option<f64>,
    pub signal: Signal,
    pub signal_text: String,
    /// Time of the last bar, ms.
    pub updated: Option<i64>,
    /// What trading the pair costs at the newest book (both legs quoted
    /// within the last minute); `None` without quotes.
    #[serde(default)]
    pub cost: Option<crate::model::cost::PairCost>,
    /// Per bar, the executable band around the spread: what shorting it
    /// would receive and what buying it would pay, at the book in force at
    /// the bar's close; `None` where either leg had no quote.
    #[serde(default)]
    pub band: Vec<Option<crate::model::cost::Band>>,
    /// Bertram's optimal bands for the spread's OU fit at the query's cost.
    #[serde(default)]
    pub suggested_bands: SuggestedBands,
}

/// Why a pair cannot be analysed; maps to HTTP 400 / 404 / 422 / 500.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum PairError {
    #[error("invalid parameter `{name}`: {reason}")]
    BadParam { name: String, reason: String },
    #[error("unknown symbol {0}: nothing stored for it")]
    UnknownSymbol(String),
    #[error("cannot analyse this data: {0}")]
    Unusable(String),
    #[error("storage error: {0}")]
    Store(String),
}

/// The rule's thresholds as a query takes them: entry in (0, 10], exit in
/// [0, entry), each named when wrong (pairs and baskets alike).
pub fn check_bands(entry: f64, exit: f64) -> Result<(), PairError> {
    let bad = |name: &str, reason: String| PairError::BadParam {
        name: name.into(),
        reason,
    };
    if !(entry.is_finite() && entry > 0.0 && entry <= 10.0) {
        return Err(bad(
            "entry",
            format!("expected a number in (0, 10], got {entry}"),
        ));
    }
    if !(exit.is_finite() && exit >= 0.0 && exit < entry) {
        return Err(bad(
            "exit",
            format!("expected a number in [0, entry), got {exit}"),
        ));
    }
    Ok(())
}

/// Backtest settings as a query takes them, the bad one named.
pub fn check_backtest(o: &crate::analytics::BacktestOptions) -> Result<(), PairError> {
    o.validate().map_err(|e| {
        let (name, reason) = match e {
            crate::analytics::AnalyticsError::InvalidParameter { name, reason } => {
                (name.to_string(), reason)
            }
            other => ("backtest".to_string(), other.to_string()),
        };
        PairError::BadParam { name, reason }
    })
}

impl PairQuery {
    /// Check every parameter, naming the first bad one.
    pub fn validate(&mut self) -> Result<(), PairError> {
        let bad = |name: &str, reason: String| PairError::BadParam {
            name: name.into(),
            reason,
        };
        self.x = crate::domain::validate_symbol(&self.x).map_err(|r| bad("x", r))?;
        self.y = crate::domain::validate_symbol(&self.y).map_err(|r| bad("y", r))?;
        if self.x == self.y {
            return Err(bad("y", "the two legs must be different symbols".into()));
        }
        if !(10..=MAX_BARS).contains(&self.bars) {
            return Err(bad(
                "bars",
                format!("expected 10 to {MAX_BARS}, got {}", self.bars),
            ));
        }
        if self.ffill > 1000 {
            return Err(bad(
                "ffill",
                format!("expected 0 to 1000, got {}", self.ffill),
            ));
        }
        if let Some(w) = self.options.window {
            if !(3..=self.bars).contains(&w) {
                return Err(bad(
                    "window",
                    format!("expected 3 to bars ({}), got {w}", self.bars),
                ));
            }
        }
        let zw = self.options.z_window;
        if !(2..=self.bars).contains(&zw) {
            return Err(bad(
                "z_window",
                format!("expected 2 to bars ({}), got {zw}", self.bars),
            ));
        }
        if !(2..=self.bars).contains(&self.corr_window) {
            return Err(bad(
                "corr_window",
                format!(
                    "expected 2 to bars ({}), got {}",
                    self.bars, self.corr_window
                ),
            ));
        }
        check_bands(self.options.entry, self.options.exit)?;
        if let Some(f) = self.fee_bps {
            if !(f.is_finite() && (0.0..=1000.0).contains(&f)) {
                return Err(bad("fee_bps", format!("expected 0 to 1000, got {f}")));
            }
        }
        check_backtest(&self.backtest)?;
        if let Some(w) = self.walk_forward {
            check_walk_forward(w, self.bars, 10)?;
        }
        Ok(())
    }
}

/// A walk-forward's windows for `bars` bars: both given, at least
/// `min_train` training and 2 test bars, together within the range. The
/// flat query's `wf_train` / `wf_test` arrive as 0 when only the other was
/// given, and are named as missing.
pub fn check_walk_forward(
    w: crate::analytics::WalkForward,
    bars: usize,
    min_train: usize,
) -> Result<(), PairError> {
    let bad = |name: &str, reason: String| PairError::BadParam {
        name: name.into(),
        reason,
    };
    if (w.train == 0) != (w.test == 0) {
        let missing = if w.train == 0 { "wf_train" } else { "wf_test" };
        return Err(bad(
            missing,
            format!(
                "a walk-forward needs both windows, training and test; {missing} is \
                 missing (train {}, test {})",
                w.train, w.test
            ),
        ));
    }
    if w.train < min_train || w.test < 2 || w.train + w.test > bars {
        return Err(bad(
            "walk_forward",
            format!(
                "need train >= {min_train}, test >= 2 and train + test <= bars ({bars}), got {} \
                 and {}",
                w.train, w.test
            ),
        ));
    }
    Ok(())
}

/// `45 s`, `4 m 10 s`, `2 h 5 m`, `3 d 4 h`: a wait, to the second below
/// an hour and coarser above.
pub fn duration_text(ms: i64) -> String {
    let s = (ms.max(0) + 999) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 if s % 60 == 0 => format!("{} m", s / 60),
        60..3600 => format!("{} m {} s", s / 60, s % 60),
        3600..86_400 => format!("{} h {} m", s / 3600, (s / 60) % 60),
        _ => format!("{} d {} h", s / 86_400, (s / 3600) % 24),
    }
}

/// A live view with fewer bars than the analysis needs: what it waits for
/// and when it will be ready, as `rolling window 300: ready in about 4 m
/// 10 s (13 of 300 1s bars)`; `None` when enough bars are there. "About":
/// a bar where one leg did not trade may not count.
pub fn waiting_text(opts: &AnalyzeOptions, tf: Timeframe, have: usize) -> Option<String> {
    let need = opts.min_bars();
    if have >= need {
        return None;
    }
    let what = match opts.window {
        Some(w) if w == need => format!("rolling window {w}"),
        _ if opts.z_window == need => format!("z-score window {need}"),
        _ => "analysis".to_string(),
    };
    let wait = (need - have) as i64 * tf.millis();
    Some(format!(
        "{what}: ready in about {} ({have} of {need} {tf} bars)",
        duration_text(wait)
    ))
}

/// "z = 2.31 > 2.0: short the spread: sell 1 ETHUSDT, buy 0.052 BTCUSDT".
/// The x quantity hedges one unit of y: `beta * py / px` on log prices
/// (beta is an elasticity), `beta` on raw prices.
#[allow(clippy::too_many_arguments)]
pub fn describe_signal(
    z: Option<f64>,
    sig: Signal,
    entry: f64,
    exit: f64,
    x: &str,
    y: &str,
    beta: f64,
    px: f64,
    py: f64,
    prices: PriceScale,
) -> String {
    let Some(z) = z else {
        return "z undefined (not enough bars or a flat spread): no signal".into();
    };
    let qx = match prices {
        PriceScale::Log => beta * py / px,
        PriceScale::Raw => beta,
    };
    describe_trade(z, sig, entry, exit, x, y, qx, None)
}

/// [`describe_signal`] for a hedge of `qx` units of x, naming the prices
/// each leg trades at, the round trip and the funding of the side the
/// signal points to when `cost` is known: "short the spread: sell 1
/// ETHUSDT at 3139.76, buy 0.052 BTCUSDT at 90110.6; round trip ~2.1 bp +
/// fees; funding +0.4 bp/8h in your favour".
#[allow(clippy::too_many_arguments)]
pub fn describe_trade(
    z: f64,
    sig: Signal,
    entry: f64,
    exit: f64,
    x: &str,
    y: &str,
    qx: f64,
    cost: Option<&crate::model::cost::PairCost>,
) -> String {
    let qty = format_qty(qx.abs());
    // A negative hedge ratio flips the x leg's direction.
    let (xs, xl) = if qx >= 0.0 {
        ("buy", "sell")
    } else {
        ("sell", "buy")
    };
    if let (Some(c), Signal::ShortSpread | Signal::LongSpread) = (cost, sig) {
        let (side, head, ys, xv) = if sig == Signal::ShortSpread {
            (
                &c.short,
                format!("z = {z:.2} > {entry:.1}: short the spread"),
                "sell",
                xs,
            )
        } else {
            (
                &c.long,
                format!("z = {z:.2} < -{entry:.1}: long the spread"),
                "buy",
                xl,
            )
        };
        let funding = match side.funding_bp_8h {
            Some(f) if f >= 0.0 => format!("; funding +{} bp/8h in your favour", bp(f)),
            Some(f) => format!("; funding {} bp/8h against you", bp(f)),
            None => String::new(),
        };
        return format!(
            "{head}: {ys} 1 {y} at {}, {xv} {qty} {x} at {}; round trip ~{} bp + fees{funding}",
            side.y_price,
            side.x_price,
            bp(c.round_trip_bp)
        );
    }
    match sig {
        Signal::ShortSpread => {
            format!("z = {z:.2} > {entry:.1}: short the spread: sell 1 {y}, {xs} {qty} {x}")
        }
        Signal::LongSpread => {
            format!("z = {z:.2} < -{entry:.1}: long the spread: buy 1 {y}, {xl} {qty} {x}")
        }
        Signal::Exit => format!("z = {z:.2}, |z| < {exit:.1}: flat: close any spread position"),
        Signal::Hold => format!("z = {z:.2}: inside the bands: hold"),
    }
}

/// Basis points to two significant decimals (0.032, 2.1, 14).
pub fn bp(v: f64) -> String {
    let a = v.abs();
    if a >= 10.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else if a >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn format_qty(q: f64) -> String {
    if !q.is_finite() || q == 0.0 {
        return format!("{q}");
    }
    if q >= 100.0 {
        format!("{q:.1}")
    } else if q >= 1.0 {
        format!("{q:.3}")
    } else {
        // Three significant digits for small hedge quantities.
        let digits = ((-q.log10().floor()) as usize).min(12) + 2;
        format!("{q:.digits$}")
    }
}

/// The dashboard's view of a pair: the aligned prices always (so the charts
/// draw from the first bar), and the analytics once the data supports them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairView {
    pub x: String,
    pub y: String,
    pub ts: Vec<i64>,
    pub px: Vec<f64>,
    pub py: Vec<f64>,
    pub analytics: Result<PairAnalytics, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_live_view_says_what_it_waits_for_and_when() {
        let mut o = AnalyzeOptions {
            window: Some(300),
            z_window: 60,
            ..Default::default()
        };
        assert_eq!(
            waiting_text(&o, Timeframe::S1, 50).as_deref(),
            Some("rolling window 300: ready in about 4 m 10 s (50 of 300 1s bars)")
        );
        assert_eq!(waiting_text(&o, Timeframe::S1, 300), None);
        o.window = None;
        assert_eq!(
            waiting_text(&o, Timeframe::M1, 0).as_deref(),
            Some("z-score window 60: ready in about 1 h 0 m (0 of 60 1m bars)")
        );
        o.z_window = 5;
        assert_eq!(
            waiting_text(&o, Timeframe::S5, 9).as_deref(),
            Some("analysis: ready in about 5 s (9 of 10 5s bars)")
        );
        assert_eq!(duration_text(0), "0 s");
        assert_eq!(duration_text(1), "1 s");
        assert_eq!(duration_text(120_000), "2 m");
        assert_eq!(duration_text(90_061_000), "1 d 1 h");
    }

    #[test]
    fn signal_text_names_the_cost_when_the_book_is_known() {
        use crate::model::cost::{pair_cost, LegBook};
        let leg = |s: &str, b, a, f| LegBook {
            symbol: s.into(),
            bid: b,
            ask: a,
            ts: 0,
            funding_8h: Some(f),
        };
        let c = pair_cost(
            leg("BTCUSDT", 90110.5, 90110.6, 0.00005),
            leg("ETHUSDT", 3139.76, 3139.78, 0.0001),
            0.052,
            0.052,
            PriceScale::Raw,
        )
        .unwrap();
        let t = describe_trade(
            2.31,
            Signal::ShortSpread,
            2.0,
            0.5,
            "BTCUSDT",
            "ETHUSDT",
            0.052,
            Some(&c),
        );
        assert_eq!(
            t,
            "z = 2.31 > 2.0: short the spread: sell 1 ETHUSDT at 3139.76, buy 0.0520 BTCUSDT at 90110.6; \
             round trip ~0.032 bp + fees; funding +0.10 bp/8h in your favour"
        );
        let l = describe_trade(
            -2.5,
            Signal::LongSpread,
            2.0,
            0.5,
            "BTCUSDT",
            "ETHUSDT",
            0.052,
            Some(&c),
        );
        assert!(
            l.contains("buy 1 ETHUSDT at 3139.78, sell 0.0520 BTCUSDT at 90110.5"),
            "{l}"
        );
        assert!(l.ends_with("funding -0.10 bp/8h against you"), "{l}");
        // Hold and exit say nothing of cost.
        let h = describe_trade(
            0.1,
            Signal::Hold,
            2.0,
            0.5,
            "BTCUSDT",
            "ETHUSDT",
            0.052,
            Some(&c),
        );
        assert_eq!(h, "z = 0.10: inside the bands: hold");
    }

    #[test]
    fn signal_text_names_both_legs_and_the_hedge() {
        let s = describe_signal(
            Some(2.31),
            Signal::ShortSpread,
            2.0,
            0.5,
            "BTCUSDT",
            "ETHUSDT",
            1.5,
            90_000.0,
            3_120.0,
            PriceScale::Log,
        );
        assert_eq!(
            s,
            "z = 2.31 > 2.0: short the spread: sell 1 ETHUSDT, buy 0.0520 BTCUSDT"
        );
        let l = describe_signal(
            Some(-2.5),
            Signal::LongSpread,
            2.0,
            0.5,
            "BTCUSDT",
            "ETHUSDT",
            0.5,
            1.0,
            1.0,
            PriceScale::Raw,
        );
        assert!(
            l.starts_with("z = -2.50 < -2.0: long the spread: buy 1 ETHUSDT, sell 0.500 BTCUSDT"),
            "{l}"
        );
        assert!(describe_signal(
            None,
            Signal::Hold,
            2.0,
            0.5,
            "A",
            "B",
            1.0,
            1.0,
            1.0,
            PriceScale::Log
        )
        .contains("undefined"));
    }

    #[test]
    fn a_zero_or_undefined_hedge_ratio_does_not_break_the_sentence() {
        let zero = describe_signal(
            Some(3.0),
            Signal::ShortSpread,
            2.0,
            0.5,
            "A",
            "B",
            0.0,
            1.0,
            1.0,
            PriceScale::Raw,
        );
        assert!(zero.ends_with("buy 0 A"), "{zero}");
        let nan = describe_signal(
            Some(3.0),
            Signal::ShortSpread,
            2.0,
            0.5,
            "A",
            "B",
            f64::NAN,
            1.0,
            1.0,
            PriceScale::Raw,
        );
        assert!(nan.contains("NaN"), "{nan}");
        let tiny = describe_signal(
            Some(3.0),
            Signal::ShortSpread,
            2.0,
            0.5,
            "A",
            "B",
            1e-300,
            1.0,
            1.0,
            PriceScale::Raw,
        );
        assert!(tiny.starts_with("z = 3.00"), "{tiny}");
    }

    #[test]
    fn validation_names_the_parameter() {
        let mut q = PairQuery {
            bars: 5,
            ..PairQuery::default()
        };
        assert!(matches!(q.validate(), Err(PairError::BadParam { name, .. }) if name == "bars"));
        let mut q = PairQuery {
            y: "BTCUSDT".into(),
            ..PairQuery::default()
        };
        assert!(matches!(q.validate(), Err(PairError::BadParam { name, .. }) if name == "y"));
        let mut q = PairQuery::default();
        q.options.window = Some(100_000);
        assert!(matches!(q.validate(), Err(PairError::BadParam { name, .. }) if name == "window"));
        let mut q = PairQuery::default();
        q.options.exit = 3.0;
        assert!(matches!(q.validate(), Err(PairError::BadParam { name, .. }) if name == "exit"));
        PairQuery::default().validate().unwrap();
    }
}
