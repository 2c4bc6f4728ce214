//! Derived series the charts need that the server does not send: rolling
//! mean and bands of the spread, normalised prices.

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

#[cfg(test)]
mod tests {
    use super::*;

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
