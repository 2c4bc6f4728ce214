//! The dashboard's view lives in the URL query, so a view can be bookmarked
//! and shared. This module turns query parameters into a [`PairQuery`] (with
//! a message per invalid parameter, shown next to its control) and back.

use crate::analytics::{Autolag, PriceScale, RegressionKind};
use crate::api::server_fns::ViewDefaults;
use crate::domain::{validate_symbol, Timeframe};
use crate::model::pair::{BandRule, PairQuery, PriceSource, MAX_BARS};
use std::collections::BTreeMap;

/// A parsed view: the query to run and the parameters that were rejected.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewParams {
    pub query: PairQuery,
    /// Show uploaded/replayed data instead of the live source.
    pub replay: bool,
    pub errors: BTreeMap<&'static str, String>,
}

/// A range preset of the span picker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// What the picker shows.
    pub label: &'static str,
    /// The option's value.
    pub name: &'static str,
    /// The bar size that fits the span: a few thousand bars, enough to see
    /// the structure, few enough to analyse and draw at once.
    pub timeframe: Timeframe,
    pub bars: usize,
}

/// Long spans read rollups (a month of 15-minute bars is 2,880 rows per
/// leg), so each opens in milliseconds however many ticks it covers.
pub const SPANS: [Span; 8] = [
    Span {
        label: "10 min",
        name: "10m",
        timeframe: Timeframe::S1,
        bars: 600,
    },
    Span {
        label: "1 hour",
        name: "1h",
        timeframe: Timeframe::S1,
        bars: 3_600,
    },
    Span {
        label: "6 hours",
        name: "6h",
        timeframe: Timeframe::S5,
        bars: 4_320,
    },
    Span {
        label: "1 day",
        name: "1d",
        timeframe: Timeframe::M1,
        bars: 1_440,
    },
    Span {
        label: "1 week",
        name: "1w",
        timeframe: Timeframe::M5,
        bars: 2_016,
    },
    Span {
        label: "1 month",
        name: "30d",
        timeframe: Timeframe::M15,
        bars: 2_880,
    },
    Span {
        label: "1 quarter",
        name: "90d",
        timeframe: Timeframe::H1,
        bars: 2_160,
    },
    // All of it, up to MAX_BARS hours (5.7 years); bars without trades are
    // not invented, so a short history gives a short series.
    Span {
        label: "all",
        name: "all",
        timeframe: Timeframe::H1,
        bars: MAX_BARS,
    },
];

/// The preset a query's bar size and count match, if any.
pub fn span_of(q: &PairQuery) -> Option<&'static Span> {
    SPANS
        .iter()
        .find(|s| s.timeframe == q.timeframe && s.bars == q.bars)
}

/// The URL parameters that select `name`'s span on the live tail.
pub fn span_params(name: &str) -> Option<[(&'static str, String); 4]> {
    let s = SPANS.iter().find(|s| s.name == name)?;
    Some([
        ("tf", s.timeframe.as_str().to_string()),
        ("bars", s.bars.to_string()),
        ("from", String::new()),
        ("to", String::new()),
    ])
}

pub const REGRESSIONS: [(&str, &str); 7] = [
    ("ols", "OLS"),
    ("ols-no-intercept", "OLS, no intercept"),
    ("kalman", "Kalman (dynamic)"),
    ("huber", "Huber (robust)"),
    ("theil-sen", "Theil-Sen (robust)"),
    ("tls", "Total least squares"),
    ("min-half-life", "Min. half-life"),
];

pub fn regression_from(s: &str) -> Option<RegressionKind> {
    Some(match s {
        "ols" => RegressionKind::Ols,
        "ols-no-intercept" => RegressionKind::OlsNoIntercept,
        "kalman" => RegressionKind::Kalman,
        "huber" => RegressionKind::Huber,
        "theil-sen" => RegressionKind::TheilSen,
        "tls" => RegressionKind::Tls,
        "min-half-life" => RegressionKind::MinHalfLife,
        _ => return None,
    })
}

pub fn regression_name(k: RegressionKind) -> &'static str {
    match k {
        RegressionKind::Ols => "ols",
        RegressionKind::OlsNoIntercept => "ols-no-intercept",
        RegressionKind::Kalman => "kalman",
        RegressionKind::Huber => "huber",
        RegressionKind::TheilSen => "theil-sen",
        RegressionKind::Tls => "tls",
        RegressionKind::MinHalfLife => "min-half-life",
    }
}

/// Parse the query parameters (`get(name)`) over the server's defaults.
pub fn parse(get: impl Fn(&str) -> Option<String>, d: &ViewDefaults) -> ViewParams {
    let mut errors = BTreeMap::new();
    let mut q = PairQuery::default();
    q.x = d.symbols.first().cloned().unwrap_or(q.x);
    q.y = d.symbols.get(1).cloned().unwrap_or(q.y);
    q.timeframe = d.timeframe.parse().unwrap_or_default();
    q.options.window = Some(d.window.min(q.bars));
    q.options.z_window = d.z_window.min(q.bars);
    q.options.entry = d.z_entry;
    q.options.exit = d.z_exit;

    let mut sym = |name: &'static str, target: &mut String| {
        if let Some(v) = get(name).filter(|v| !v.is_empty()) {
            match validate_symbol(&v) {
                Ok(s) => *target = s,
                Err(e) => {
                    errors.insert(name, e);
                }
            }
        }
    };
    sym("x", &mut q.x);
    sym("y", &mut q.y);
    if q.x == q.y && !errors.contains_key("y") {
        errors.insert("y", "choose two different symbols".into());
    }
    if let Some(v) = get("tf") {
        match v.parse::<Timeframe>() {
            Ok(t) => q.timeframe = t,
            Err(e) => {
                errors.insert("tf", e);
            }
        }
    }
    let int = |name: &'static str,
               lo: usize,
               hi: usize,
               errors: &mut BTreeMap<&'static str, String>|
     -> Option<usize> {
        let v = get(name)?;
        match v.trim().parse::<usize>() {
            Ok(n) if (lo..=hi).contains(&n) => Some(n),
            _ => {
                errors.insert(name, format!("expected a whole number from {lo} to {hi}"));
                None
            }
        }
    };
    if let Some(b) = int("bars", 10, MAX_BARS, &mut errors) {
        q.bars = b;
    }
    // A historical range: both ends set the bar count; one end with `bars`.
    let mut time = |name: &'static str| -> Option<i64> {
        let v = get(name).filter(|v| !v.trim().is_empty())?;
        match crate::app::format::parse_utc(&v) {
            Ok(t) if t > 0 => Some(t),
            Ok(_) => {
                errors.insert(name, "expected a time after 1970-01-01".into());
                None
            }
            Err(e) => {
                errors.insert(name, e);
                None
            }
        }
    };
    let (from, to) = (time("from"), time("to"));
    let step = q.timeframe.millis();
    match (from, to) {
        (Some(f), Some(t)) if f >= t => {
            errors.insert("from", "the start must be before the end".into());
        }
        (Some(f), Some(t)) => {
            let n = (t - f + step - 1) / step;
            if n < 10 {
                errors.insert(
                    "from",
                    format!(
                        "the range holds {n} {} bars; at least 10 are needed",
                        q.timeframe
                    ),
                );
            } else if n as usize > MAX_BARS {
                errors.insert(
                    "from",
                    format!(
                        "the range holds {n} {} bars, more than {MAX_BARS}: choose a coarser timeframe or a shorter range",
                        q.timeframe
                    ),
                );
            } else {
                q.bars = n as usize;
                q.to = Some(t);
            }
        }
        (Some(f), None) => q.to = Some(f + step * q.bars as i64),
        (None, Some(t)) => q.to = Some(t),
        (None, None) => {}
    }
    match get("window").as_deref() {
        Some("") | Some("full") => q.options.window = None,
        Some(_) => {
            if let Some(w) = int("window", 3, q.bars, &mut errors) {
                q.options.window = Some(w);
            }
        }
        None => q.options.window = q.options.window.map(|w| w.min(q.bars)),
    }
    if let Some(w) = int("zw", 2, q.bars, &mut errors) {
        q.options.z_window = w;
    }
    q.options.z_window = q.options.z_window.min(q.bars);
    if let Some(v) = get("reg") {
        match regression_from(&v) {
            Some(k) => q.options.regression = k,
            None => {
                errors.insert("reg", "unknown regression type".into());
            }
        }
    }
    if q.options.regression == RegressionKind::Kalman {
        // The Kalman filter is already dynamic; a rolling window does not apply.
        q.options.window = None;
    }
    if let Some(v) = get("prices") {
        match v.as_str() {
            "log" => q.options.prices = PriceScale::Log,
            "raw" => q.options.prices = PriceScale::Raw,
            _ => {
                errors.insert("prices", "expected log or raw".into());
            }
        }
    }
    let num = |name: &'static str,
               lo: f64,
               hi: f64,
               errors: &mut BTreeMap<&'static str, String>|
     -> Option<f64> {
        let v = get(name)?;
        match v.trim().parse::<f64>() {
            Ok(n) if n.is_finite() && n >= lo && n <= hi => Some(n),
            _ => {
                errors.insert(name, format!("expected a number from {lo} to {hi}"));
                None
            }
        }
    };
    if let Some(e) = num("entry", 0.1, 10.0, &mut errors) {
        q.options.entry = e;
    }
    if let Some(x) = num("exit", 0.0, 10.0, &mut errors) {
        q.options.exit = x;
    }
    if q.options.exit >= q.options.entry && !errors.contains_key("exit") {
        errors.insert("exit", "exit must be below entry".into());
        q.options.exit = (q.options.entry / 4.0).min(d.z_exit);
    }
    if let Some(f) = num("fee", 0.0, 1000.0, &mut errors) {
        q.fee_bps = Some(f);
    }
    match get("px").as_deref() {
        None | Some("") | Some("last") => q.price = PriceSource::Last,
        Some("mid") => q.price = PriceSource::Mid,
        Some(_) => {
            errors.insert("px", "expected last or mid".into());
        }
    }
    match get("bands").as_deref() {
        None | Some("") | Some("manual") => q.bands = BandRule::Manual,
        Some("bertram") => q.bands = BandRule::Bertram,
        Some("bertram-sharpe") => q.bands = BandRule::BertramSharpe,
        Some(_) => {
            errors.insert("bands", "expected manual, bertram or bertram-sharpe".into());
        }
    }
    q.options.autolag = Autolag::Aic;
    q.corr_window = q.options.z_window.max(2);
    let replay = match get("src").as_deref() {
        None | Some("") | Some("live") => false,
        Some("replay") => true,
        Some(_) => {
            errors.insert("src", "expected live or replay".into());
            false
        }
    };
    ViewParams {
        query: q,
        replay,
        errors,
    }
}

pub fn prices_name(p: PriceScale) -> &'static str {
    match p {
        PriceScale::Log => "log",
        PriceScale::Raw => "raw",
    }
}

/// The query string that reproduces `q` (inverse of [`parse`]).
pub fn to_query_string(q: &PairQuery) -> String {
    let mut parts = vec![
        format!("x={}", q.x),
        format!("y={}", q.y),
        format!("tf={}", q.timeframe),
        format!("bars={}", q.bars),
        format!("reg={}", regression_name(q.options.regression)),
        format!("prices={}", prices_name(q.options.prices)),
        format!(
            "window={}",
            q.options
                .window
                .map(|w| w.to_string())
                .unwrap_or_else(|| "full".into())
        ),
        format!("zw={}", q.options.z_window),
        format!("entry={}", q.options.entry),
        format!("exit={}", q.options.exit),
    ];
    if let Some(f) = q.fee_bps {
        parts.push(format!("fee={f}"));
    }
    if q.price == PriceSource::Mid {
        parts.push("px=mid".into());
    }
    if q.bands != BandRule::Manual {
        parts.push(format!("bands={}", q.bands.as_str()));
    }
    if let Some(t) = q.to {
        parts.push(format!("to={t}"));
    }
    parts.join("&")
}

/// The HTTP API query (`/api/v1/pair`, `/api/v1/pair.csv`) for the same view.
pub fn api_query_string(q: &PairQuery, replay: bool) -> String {
    let mut parts = vec![
        format!("x={}", q.x),
        format!("y={}", q.y),
        format!("timeframe={}", q.timeframe),
        format!("bars={}", q.bars),
        format!("regression={}", regression_name(q.options.regression)),
        format!("prices={}", prices_name(q.options.prices)),
        format!("z_window={}", q.options.z_window),
        format!("entry={}", q.options.entry),
        format!("exit={}", q.options.exit),
        format!("corr_window={}", q.corr_window),
        format!("ffill={}", q.ffill),
    ];
    if let Some(w) = q.options.window {
        parts.push(format!("window={w}"));
    }
    if let Some(f) = q.fee_bps {
        parts.push(format!("fee_bps={f}"));
    }
    if q.price == PriceSource::Mid {
        parts.push("price=mid".into());
    }
    if q.bands != BandRule::Manual {
        parts.push(format!("bands={}", q.bands.as_str()));
    }
    if let Some(t) = q.to {
        parts.push(format!("to={t}"));
    }
    if replay {
        parts.push("venue=replay".into());
    }
    parts.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_price_source_round_trips_and_is_checked() {
        let p = from("px=mid");
        assert_eq!(p.query.price, PriceSource::Mid);
        assert!(to_query_string(&p.query).contains("px=mid"));
        assert!(api_query_string(&p.query, false).contains("price=mid"));
        let last = from("");
        assert_eq!(last.query.price, PriceSource::Last);
        assert!(!to_query_string(&last.query).contains("px="));
        let bad = from("px=bid");
        assert!(bad.errors.contains_key("px"));
    }

    fn defaults() -> ViewDefaults {
        ViewDefaults {
            symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
            timeframe: "1s".into(),
            window: 300,
            z_window: 60,
            z_entry: 2.0,
            z_exit: 0.5,
        }
    }

    fn from(qs: &str) -> ViewParams {
        let pairs: Vec<(String, String)> = qs
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        parse(
            |n| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()),
            &defaults(),
        )
    }

    #[test]
    fn defaults_come_from_the_server() {
        let v = from("");
        assert!(v.errors.is_empty());
        assert_eq!(
            (v.query.x.as_str(), v.query.y.as_str()),
            ("BTCUSDT", "ETHUSDT")
        );
        assert_eq!(v.query.options.window, Some(300));
        assert_eq!(v.query.options.z_window, 60);
    }

    #[test]
    fn query_string_round_trips() {
        let v = from("x=SOLUSDT&y=ETHUSDT&tf=1m&bars=900&reg=huber&prices=raw&window=120&zw=30&entry=2.5&exit=0.25&fee=2&to=1765788195300");
        assert!(v.errors.is_empty(), "{:?}", v.errors);
        let again = from(&to_query_string(&v.query));
        assert_eq!(again.query, v.query);
    }

    #[test]
    fn invalid_values_are_named_and_do_not_apply() {
        let v = from("tf=7m&window=1&reg=magic&entry=abc&x=BTC/USDT");
        for k in ["tf", "window", "reg", "entry", "x"] {
            assert!(v.errors.contains_key(k), "{k} not rejected: {:?}", v.errors);
        }
        assert_eq!(v.query.timeframe, Timeframe::S1);
        assert_eq!(v.query.x, "BTCUSDT");
    }

    #[test]
    fn a_historical_range_sets_the_end_and_the_bar_count() {
        // 08:00 to 09:00 UTC at 1m: 60 bars ending at 09:00.
        let v = from("tf=1m&from=2025-12-15 08:00&to=2025-12-15T09:00:00Z&window=30&zw=20");
        assert!(v.errors.is_empty(), "{:?}", v.errors);
        assert_eq!(v.query.to, Some(1765789200000));
        assert_eq!(v.query.bars, 60);
        // A start alone shows `bars` bars from there.
        let v = from("tf=1s&from=1765785600000&bars=600&window=100");
        assert_eq!(v.query.to, Some(1765785600000 + 600_000));
        // An end alone keeps `bars`.
        let v = from("to=2025-12-15&bars=700");
        assert_eq!((v.query.to, v.query.bars), (Some(1765756800000), 700));
    }

    #[test]
    fn impossible_ranges_are_named() {
        let msg = |qs: &str, k: &str| from(qs).errors.get(k).cloned().unwrap_or_default();
        assert!(msg("from=2025-12-15 09:00&to=2025-12-15 08:00", "from").contains("before"));
        assert!(msg("tf=1s&from=2025-12-15&to=2025-12-16", "from").contains("coarser"));
        assert!(
            msg("tf=1h&from=2025-12-15 08:00&to=2025-12-15 10:00", "from").contains("at least 10")
        );
        assert!(msg("to=last tuesday", "to").contains("UTC time"));
        // A rejected range leaves the live tail.
        assert_eq!(from("to=last tuesday").query.to, None);
    }

    #[test]
    fn the_api_query_names_the_same_view() {
        let v = from("x=SOLUSDT&y=ETHUSDT&tf=1m&bars=900&reg=huber&prices=raw&window=120&zw=30&to=1765788195300&src=replay");
        let qs = api_query_string(&v.query, v.replay);
        for part in [
            "x=SOLUSDT",
            "y=ETHUSDT",
            "timeframe=1m",
            "bars=900",
            "regression=huber",
            "prices=raw",
            "window=120",
            "z_window=30",
            "corr_window=30",
            "to=1765788195300",
            "venue=replay",
        ] {
            assert!(qs.split('&').any(|p| p == part), "{part} missing from {qs}");
        }
        let live = api_query_string(&from("reg=kalman").query, false);
        assert!(
            !live.contains("window=") || live.contains("z_window="),
            "{live}"
        );
        assert!(
            !live.split('&').any(|p| p.starts_with("window=")
                || p.starts_with("to=")
                || p.starts_with("venue=")),
            "{live}"
        );
    }

    #[test]
    fn same_symbol_twice_is_rejected() {
        assert!(from("x=ETHUSDT&y=ETHUSDT").errors.contains_key("y"));
    }

    #[test]
    fn every_span_is_a_valid_view_of_the_live_tail() {
        for s in SPANS {
            let p = span_params(s.name).unwrap();
            let qs: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let v = from(&qs.join("&"));
            assert!(v.errors.is_empty(), "{}: {:?}", s.name, v.errors);
            assert_eq!(span_of(&v.query), Some(&s), "{}", s.name);
            assert_eq!(v.query.to, None);
            // A span covers what it says, within one bar.
            let covered = s.timeframe.millis() * s.bars as i64;
            if s.name != "all" {
                let want = match s.name {
                    "10m" => 600_000,
                    "1h" => 3_600_000,
                    "6h" => 21_600_000,
                    "1d" => 86_400_000,
                    "1w" => 7 * 86_400_000,
                    "30d" => 30 * 86_400_000,
                    "90d" => 90 * 86_400_000,
                    other => panic!("untested span {other}"),
                };
                assert_eq!(covered, want, "{}", s.name);
            }
        }
        assert!(span_params("2y").is_none());
    }

    #[test]
    fn kalman_ignores_the_rolling_window() {
        assert_eq!(from("reg=kalman&window=100").query.options.window, None);
    }
}
