//! Small, pure formatting helpers shared by charts and tables.

/// `HH:MM:SS` in UTC for epoch milliseconds.
pub fn hms(ms: i64) -> String {
    let s = ms.div_euclid(1000);
    let d = s.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", d / 3600, (d / 60) % 60, d % 60)
}

/// `HH:MM:SS.mmm` in UTC for epoch milliseconds.
pub fn hms_ms(ms: i64) -> String {
    format!("{}.{:03}", hms(ms), ms.rem_euclid(1000))
}

/// A price with a sensible number of decimals for its magnitude.
pub fn price(p: f64) -> String {
    let a = p.abs();
    let decimals = if a >= 1000.0 {
        1
    } else if a >= 10.0 {
        2
    } else if a >= 1.0 {
        4
    } else {
        6
    };
    format!("{p:.decimals$}")
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD HH:MM:SS` in UTC for epoch milliseconds.
pub fn utc(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02} {}", hms(ms))
}

/// A time the way a person types it, in UTC: `2025-12-15`, `2025-12-15 08:30`,
/// `2025-12-15T08:30:15.250Z` (a trailing `Z` is optional; other offsets are
/// refused rather than guessed), or epoch milliseconds.
pub fn parse_utc(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let bad = || format!("{s:?}: expected a UTC time like 2025-12-15 08:30 or epoch milliseconds");
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().map_err(|_| bad());
    }
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix('z'))
        .unwrap_or(s);
    let (date, time) = match s.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, t),
        None => (s, ""),
    };
    let num = |v: &str, lo: i64, hi: i64| -> Result<i64, String> {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        v.parse::<i64>()
            .ok()
            .filter(|n| (lo..=hi).contains(n))
            .ok_or_else(bad)
    };
    let mut dp = date.split('-');
    let (Some(y), Some(mo), Some(d), None) = (dp.next(), dp.next(), dp.next(), dp.next()) else {
        return Err(bad());
    };
    let (y, mo, d) = (num(y, 1970, 9999)?, num(mo, 1, 12)?, num(d, 1, 31)?);
    // 2025-02-30 is a typo, not 2 March.
    let next_month = if mo == 12 {
        days_from_civil(y + 1, 1, 1)
    } else {
        days_from_civil(y, mo + 1, 1)
    };
    if days_from_civil(y, mo, 1) + d > next_month {
        return Err(bad());
    }
    let mut ms = days_from_civil(y, mo, d) * 86_400_000;
    if !time.is_empty() {
        let (hms_part, frac) = match time.split_once('.') {
            Some((a, f)) => (a, Some(f)),
            None => (time, None),
        };
        let mut tp = hms_part.split(':');
        let h = num(tp.next().unwrap_or(""), 0, 23)?;
        let mi = num(tp.next().ok_or_else(bad)?, 0, 59)?;
        let sec = match tp.next() {
            Some(v) => num(v, 0, 59)?,
            None => 0,
        };
        if tp.next().is_some() {
            return Err(bad());
        }
        let milli = match frac {
            Some(f) if !f.is_empty() && f.len() <= 3 => {
                num(f, 0, 999)? * 10i64.pow(3 - f.len() as u32)
            }
            Some(_) => return Err(bad()),
            None => 0,
        };
        ms += ((h * 60 + mi) * 60 + sec) * 1000 + milli;
    }
    Ok(ms)
}

/// The status bar's history-on-start figure while it loads, `history
/// 6 h: 412345 ticks, 45% (ETHUSDT)`: the share of the lookback the loaded
/// ticks span, and the symbols still loading; `None` once all are done.
pub fn history_progress(h: &crate::domain::HistoryStatus, now: i64) -> Option<String> {
    if h.pending.is_empty() {
        return None;
    }
    let span = (now - h.from_ts).max(1);
    let lookback = crate::model::pair::duration_text(span);
    let pct = match (h.oldest_ts, h.newest_ts) {
        (Some(a), Some(b)) => format!(
            ", {:.0}%",
            ((b - a) as f64 / span as f64).clamp(0.0, 1.0) * 100.0
        ),
        _ => String::new(),
    };
    let left = if h.pending.len() <= 3 {
        format!(" ({})", h.pending.join(", "))
    } else {
        format!(" ({} symbols left)", h.pending.len())
    };
    Some(format!("history {lookback}: {} ticks{pct}{left}", h.loaded))
}

/// One stream in the status bar, `bookTicker ok`, `markPrice silent 12 s
/// (resubscribed 1)`, and whether it is healthy: connected and heard from
/// within the last 10 s.
pub fn stream_text(s: &crate::domain::StreamStatus) -> (String, bool) {
    let quiet = s.silent_ms.is_none_or(|ms| ms > 10_000);
    let healthy = s.connected && !quiet;
    let mut t = if !s.connected {
        format!("{} down", s.stream)
    } else if quiet {
        match s.silent_ms {
            Some(ms) => format!(
                "{} silent {}",
                s.stream,
                crate::model::pair::duration_text(ms)
            ),
            None => format!("{} no data yet", s.stream),
        }
    } else {
        format!("{} ok", s.stream)
    };
    if s.silences > 0 {
        t.push_str(&format!(
            " (silent {}x, resubscribed {}, reconnected {})",
            s.silences, s.resubscribes, s.reconnects
        ));
    }
    (t, healthy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_say_whether_they_flow() {
        let mut s = crate::domain::StreamStatus {
            stream: "bookTicker".into(),
            connected: true,
            messages: 10,
            silent_ms: Some(40),
            ..Default::default()
        };
        assert_eq!(stream_text(&s), ("bookTicker ok".into(), true));
        s.silent_ms = Some(12_000);
        s.silences = 2;
        s.resubscribes = 2;
        s.reconnects = 1;
        let (t, ok) = stream_text(&s);
        assert!(!ok);
        assert!(t.starts_with("bookTicker silent "), "{t}");
        assert!(
            t.ends_with("(silent 2x, resubscribed 2, reconnected 1)"),
            "{t}"
        );
        s.connected = false;
        assert!(stream_text(&s).0.starts_with("bookTicker down"));
    }

    #[test]
    fn history_progress_shows_while_loading() {
        let mut h = crate::domain::HistoryStatus {
            from_ts: 0,
            loaded: 412_345,
            pending: vec!["BTCUSDT".into()],
            oldest_ts: Some(11_880_000),
            newest_ts: Some(21_600_000),
        };
        assert_eq!(
            history_progress(&h, 21_600_000).as_deref(),
            Some("history 6 h 0 m: 412345 ticks, 45% (BTCUSDT)")
        );
        h.oldest_ts = None;
        h.pending = (0..5).map(|i| format!("S{i}")).collect();
        assert_eq!(
            history_progress(&h, 21_600_000).as_deref(),
            Some("history 6 h 0 m: 412345 ticks (5 symbols left)")
        );
        h.pending.clear();
        assert_eq!(history_progress(&h, 21_600_000), None);
    }

    #[test]
    fn utc_times_parse_and_print() {
        assert_eq!(parse_utc("2025-12-15T08:43:15.300Z"), Ok(1765788195300));
        assert_eq!(parse_utc("2025-12-15 08:43:15.3"), Ok(1765788195300));
        assert_eq!(parse_utc("2025-12-15 08:43"), Ok(1765788180000));
        assert_eq!(parse_utc("2025-12-15"), Ok(1765756800000));
        assert_eq!(parse_utc("1765788195300"), Ok(1765788195300));
        assert_eq!(parse_utc("1970-01-01"), Ok(0));
        assert_eq!(parse_utc("2024-02-29"), Ok(1709164800000));
        for bad in [
            "",
            "yesterday",
            "2025-13-01",
            "2025-02-30",
            "2023-02-29",
            "2025-12-15 24:00",
            "2025-12-15T08:43:15+02:00",
            "2025-12-15 08",
            "2025-12-15 08:43:15.3000",
        ] {
            assert!(parse_utc(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(utc(1765788195300), "2025-12-15 08:43:15");
        assert_eq!(utc(1709164800000), "2024-02-29 00:00:00");
        for ms in [0i64, 951_782_400_000, 1_765_788_195_000, 4_102_444_799_000] {
            assert_eq!(parse_utc(&utc(ms)), Ok(ms));
        }
    }

    #[test]
    fn hms_is_utc_time_of_day() {
        assert_eq!(hms(1765788195300), "08:43:15");
        assert_eq!(hms(0), "00:00:00");
        assert_eq!(hms(-1000), "23:59:59");
        assert_eq!(hms_ms(1765788195300), "08:43:15.300");
        assert_eq!(hms_ms(-1), "23:59:59.999");
    }

    #[test]
    fn price_decimals_follow_magnitude() {
        assert_eq!(price(89543.12), "89543.1");
        assert_eq!(price(3139.77), "3139.8");
        assert_eq!(price(140.123), "140.12");
        assert_eq!(price(0.5), "0.500000");
    }
}
