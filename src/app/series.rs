//! Derived series the charts need that the server does not send: rolling
//! mean and bands of the spread, normalised prices, the backtest's entry
//! and exit markers and its drawdown spans.

use super::chart::{Mark, MarkKind};
use crate::analytics::backtest::{PositionSide, Trade};

/// Markers for `trades` on a chart of `values` (aligned with `ts`): each
/// entry and exit at its fill bar. A bar where the chart has no value gets
/// no marker.
pub fn trade_marks(ts: &[i64], trades: &[Trade], values: &[Option<f64>]) -> Vec<Mark> {
    let at = |bar: usize, kind: MarkKind| -> Option<Mark> {
        Some(Mark {
            ts: *ts.get(bar)?,
            value: values.get(bar).copied().flatten()?,
            kind,
        })
    };
    let mut out = Vec::with_capacity(trades.len() * 2);
    for t in trades {
        let kind = match t.side {
            PositionSide::Long => MarkKind::Long,
            PositionSide::Short => MarkKind::Short,
        };
        out.extend(at(t.entry_bar, kind));
        if let Some(b) = t.exit_bar {
            out.extend(at(b, MarkKind::Exit));
        }
    }
    out
}

/// Time spans where the account is below its peak (`drawdown > 0`): from
/// the first bar under water to the bar that regains the peak (or the
/// last bar).
pub fn drawdown_spans(ts: &[i64], drawdown: &[f64]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut start: Option<i64> = None;
    for (t, d) in ts.iter().zip(drawdown) {
        match (start, *d > 0.0) {
            (None, true) => start = Some(*t),
            (Some(a), false) => {
                out.push((a, *t));
                start = None;
            }
            _ => {}
        }
    }
    if let (Some(a), Some(&last)) = (start, ts.last()) {
        out.push((a, last));
    }
    out
}

/// Rolling mean and sample standard deviation (ddof 1) over `w` values;
/// `None` until the window is full or where it contains a gap.
pub fn rolling_mean_std(v: &[Option<f64>], w: usize) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
    let n = v.len();
    let (mut mean, mut sd) = (vec![None; n], vec![None; n]);
    if w < 2 {
        return (mean, sd);
    }
    for i in (w - 1)..n {
        let win = &v[i + 1 - w..=i];
        if win.iter().any(|x| x.is_none()) {
            continue;
        }
        // Two-pass per window: exact enough for display and immune to drift.
        let m = win.iter().flatten().sum::<f64>() / w as f64;
        let var = win.iter().flatten().map(|x| (x - m) * (x - m)).sum::<f64>() / (w - 1) as f64;
        mean[i] = Some(m);
        sd[i] = Some(var.sqrt());
    }
    (mean, sd)
}

/// Percent change from the first value.
pub fn normalised(p: &[f64]) -> Vec<Option<f64>> {
    let Some(first) = p.first().copied().filter(|f| *f != 0.0) else {
        return vec![None; p.len()];
    };
    p.iter().map(|x| Some(100.0 * (x / first - 1.0))).collect()
}

/// Move the forming bar with a live trade of one leg: the last bar's close
/// when the trade falls in it, a new bar (the other leg carried forward) when
/// it opens the next one. Trades older than the last bar, or of neither leg,
/// change nothing. Returns whether anything changed.
pub fn apply_live(
    ts: &mut Vec<i64>,
    legs: [(&str, &mut Vec<f64>); 2],
    symbol: &str,
    price: f64,
    at: i64,
    bar_ms: i64,
) -> bool {
    if bar_ms <= 0 || !price.is_finite() || price <= 0.0 {
        return false;
    }
    let Some(&last) = ts.last() else {
        return false;
    };
    let bucket = at - at.rem_euclid(bar_ms);
    if bucket < last || legs.iter().all(|(s, _)| *s != symbol) {
        return false;
    }
    if bucket > last {
        ts.push(bucket);
    }
    for (s, v) in legs {
        if bucket > last {
            let carried = v.last().copied().unwrap_or(price);
            v.push(carried);
        }
        if s == symbol {
            if let Some(x) = v.last_mut() {
                *x = price;
            }
        }
    }
    true
}

/// The full-sample OLS spread `y - (a + b x)` of the bars on screen (log
/// prices when `log`), what the spread chart draws before the analysis has
/// the bars its windows need; all `None` when there are fewer than three
/// bars, a non-positive price under `log`, or a constant `x`.
pub fn full_sample_spread(px: &[f64], py: &[f64], log: bool) -> Vec<Option<f64>> {
    let n = px.len().min(py.len());
    let none = vec![None; n];
    if n < 3 || (log && px.iter().chain(py).any(|p| p.is_nan() || *p <= 0.0)) {
        return none;
    }
    let f = |p: f64| if log { p.ln() } else { p };
    let (x, y): (Vec<f64>, Vec<f64>) = (0..n).map(|i| (f(px[i]), f(py[i]))).unzip();
    let (mx, my) = (
        x.iter().sum::<f64>() / n as f64,
        y.iter().sum::<f64>() / n as f64,
    );
    let sxx: f64 = x.iter().map(|v| (v - mx) * (v - mx)).sum();
    let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    if sxx.is_nan() || sxx <= 0.0 || !sxx.is_finite() {
        return none;
    }
    let b = sxy / sxx;
    let a = my - b * mx;
    x.iter()
        .zip(&y)
        .map(|(x, y)| Some(y - (a + b * x)))
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn drawdown_spans_run_from_the_first_bar_under_water_to_the_recovery() {
        let ts = [0, 1, 2, 3, 4, 5, 6];
        let dd = [0.0, 0.5, 1.0, 0.0, 0.0, 0.2, 0.1];
        assert_eq!(drawdown_spans(&ts, &dd), vec![(1, 3), (5, 6)]);
        assert!(drawdown_spans(&ts, &[0.0; 7]).is_empty());
    }

    #[test]
    fn trade_marks_sit_on_the_fill_bars_values() {
        let trade = |side, entry_bar, exit_bar| crate::analytics::backtest::Trade {
            side,
            signal_bar: entry_bar - 1,
            entry_z: None,
            beta: 1.0,
            entry_bar,
            entry_ts: 0,
            qty_x: 0.0,
            qty_y: 0.0,
            entry_x: 0.0,
            entry_y: 0.0,
            notional: 1.0,
            exit_bar,
            exit_ts: None,
            exit_x: None,
            exit_y: None,
            exit_reason: None,
            gross: 0.0,
            fees: 0.0,
            funding: 0.0,
            slippage: 0.0,
            net: 0.0,
            net_pct: 0.0,
        };
        let ts = [10, 20, 30, 40];
        let v = [Some(1.0), Some(2.0), None, Some(4.0)];
        let m = trade_marks(
            &ts,
            &[
                trade(PositionSide::Long, 1, Some(2)),
                trade(PositionSide::Short, 3, None),
            ],
            &v,
        );
        // The exit on bar 2 has no value there: no marker.
        assert_eq!(
            m,
            vec![
                Mark {
                    ts: 20,
                    value: 2.0,
                    kind: MarkKind::Long
                },
                Mark {
                    ts: 40,
                    value: 4.0,
                    kind: MarkKind::Short
                },
            ]
        );
    }
    use super::*;

    #[test]
    fn the_full_sample_spread_matches_the_normal_equations() {
        // y = 2 + 0.5 x + e with known residuals e that sum to zero and are
        // orthogonal to x: the fit recovers them exactly.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let e = [0.1, -0.2, 0.0, 0.2, -0.1];
        let y: Vec<f64> = x.iter().zip(&e).map(|(x, e)| 2.0 + 0.5 * x + e).collect();
        let s = full_sample_spread(&x, &y, false);
        for (got, want) in s.iter().zip(&e) {
            assert!((got.unwrap() - want).abs() < 1e-12, "{got:?} vs {want}");
        }
        // On log prices it is the same fit of the logs.
        let (ex, ey): (Vec<f64>, Vec<f64>) =
            x.iter().zip(&y).map(|(a, b)| (a.exp(), b.exp())).unzip();
        let l = full_sample_spread(&ex, &ey, true);
        for (got, want) in l.iter().zip(&e) {
            assert!((got.unwrap() - want).abs() < 1e-9);
        }
        assert!(full_sample_spread(&x[..2], &y[..2], false)
            .iter()
            .all(Option::is_none));
        assert!(full_sample_spread(&[3.0; 4], &[1.0, 2.0, 3.0, 4.0], false)
            .iter()
            .all(Option::is_none));
        assert!(full_sample_spread(&[1.0, 0.0, 2.0], &[1.0, 2.0, 3.0], true)
            .iter()
            .all(Option::is_none));
    }

    #[test]
    fn rolling_stats_match_hand_computation() {
        let v: Vec<Option<f64>> = [1.0, 2.0, 3.0, 5.0].iter().map(|x| Some(*x)).collect();
        let (m, s) = rolling_mean_std(&v, 3);
        assert_eq!(m[1], None);
        assert_eq!(m[2], Some(2.0));
        assert!((s[2].unwrap() - 1.0).abs() < 1e-12);
        assert!((m[3].unwrap() - 10.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn gaps_leave_the_window_undefined() {
        let v = vec![Some(1.0), None, Some(3.0), Some(4.0)];
        let (m, _) = rolling_mean_std(&v, 2);
        assert_eq!(m, vec![None, None, None, Some(3.5)]);
    }

    #[test]
    fn normalised_is_percent_from_first() {
        assert_eq!(
            normalised(&[100.0, 110.0]),
            vec![Some(0.0), Some(10.000000000000009)]
        );
        assert_eq!(normalised(&[]), Vec::<Option<f64>>::new());
    }

    #[test]
    fn live_trades_move_the_forming_bar() {
        let mut ts = vec![0, 1000, 2000];
        let (mut x, mut y) = (vec![10.0, 11.0, 12.0], vec![5.0, 5.5, 6.0]);
        // In the last bar: its close moves.
        assert!(apply_live(
            &mut ts,
            [("X", &mut x), ("Y", &mut y)],
            "X",
            12.5,
            2999,
            1000
        ));
        assert_eq!((ts.len(), x[2], y[2]), (3, 12.5, 6.0));
        // Opening the next bar: the other leg is carried forward.
        assert!(apply_live(
            &mut ts,
            [("X", &mut x), ("Y", &mut y)],
            "Y",
            6.2,
            3000,
            1000
        ));
        assert_eq!(ts, [0, 1000, 2000, 3000]);
        assert_eq!((x[3], y[3]), (12.5, 6.2));
        // Late, foreign or nonsense trades change nothing.
        assert!(!apply_live(
            &mut ts,
            [("X", &mut x), ("Y", &mut y)],
            "X",
            9.0,
            2500,
            1000
        ));
        assert!(!apply_live(
            &mut ts,
            [("X", &mut x), ("Y", &mut y)],
            "Z",
            9.0,
            3500,
            1000
        ));
        assert!(!apply_live(
            &mut ts,
            [("X", &mut x), ("Y", &mut y)],
            "X",
            f64::NAN,
            3500,
            1000
        ));
        assert_eq!((ts.len(), x.len(), y.len()), (4, 4, 4));
        let mut empty: Vec<i64> = Vec::new();
        assert!(!apply_live(
            &mut empty,
            [("X", &mut Vec::new()), ("Y", &mut Vec::new())],
            "X",
            1.0,
            0,
            1000
        ));
    }
}
