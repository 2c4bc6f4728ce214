//! Small, pure formatting helpers shared by charts and tables.

/// `HH:MM:SS` in UTC for epoch milliseconds.
pub fn hms(ms: i64) -> String {
    let s = ms.div_euclid(1000);
    let d = s.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", d / 3600, (d / 60) % 60, d % 60)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hms_is_utc_time_of_day() {
        assert_eq!(hms(1765788195300), "08:43:15");
        assert_eq!(hms(0), "00:00:00");
        assert_eq!(hms(-1000), "23:59:59");
    }

    #[test]
    fn price_decimals_follow_magnitude() {
        assert_eq!(price(89543.12), "89543.1");
        assert_eq!(price(3139.77), "3139.8");
        assert_eq!(price(140.123), "140.12");
        assert_eq!(price(0.5), "0.500000");
    }
}
