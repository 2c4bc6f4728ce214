//! Wall-clock time as the rest of the server sees it: epoch milliseconds,
//! UTC, and the one ISO 8601 form files and exports write.

/// Now, in milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `2025-12-15T08:43:15.300Z`: UTC with milliseconds; empty when `ms` is
/// outside chrono's range.
pub fn iso_ms(ms: i64) -> String {
    match chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        None => String::new(),
    }
}

/// Midnight UTC of `YYYY-MM-DD` (a real calendar date, 1970 to 9999), ms
/// since the epoch.
pub fn parse_date_ms(s: &str) -> Option<i64> {
    let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    if !(1970..=9999).contains(&chrono::Datelike::year(&d)) {
        return None;
    }
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_to_utc_midnight_and_impossible_ones_do_not() {
        assert_eq!(parse_date_ms("1970-01-01"), Some(0));
        assert_eq!(parse_date_ms("2009-01-01"), Some(1_230_768_000_000));
        assert_eq!(parse_date_ms(" 2024-02-29 "), Some(1_709_164_800_000));
        for bad in ["2023-02-29", "2024-13-01", "1969-12-31", "2024-1", "x", ""] {
            assert_eq!(parse_date_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn iso_has_milliseconds_and_zulu() {
        assert_eq!(iso_ms(1_765_788_195_300), "2025-12-15T08:43:15.300Z");
        assert_eq!(iso_ms(i64::MAX), "");
    }
}
