//! Reconnect policy as data: what the last connection achieved decides how
//! long to wait before the next one.
//!
//! A connection that completed its subscription and delivered data was a
//! *drop*, not a failure: the exchange is up and we are blind until we are
//! back, so the next attempt goes at once (with a little jitter so many
//! clients cut by one exchange-side event do not reconnect in lockstep), and
//! the failure sequence starts over however short the connection lived.
//! Failures to connect or to get data (refused handshakes, timeouts, a
//! socket that dies before its first trade) back off exponentially with full
//! jitter: a uniform delay between zero and base * 2^n, at most `max`. The
//! exchange saying "slow down" (HTTP 429, or 418 once it has banned the IP)
//! is obeyed: never sooner than its `Retry-After`.
//!
//! [`ConnectLimiter`] sits on top and keeps us under Binance's limit of 300
//! connection attempts per 5 minutes per IP whatever this policy says.

use std::time::Duration;

/// How the last connection attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The connection was subscribed and delivered data, then was lost.
    Dropped,
    /// The handshake failed, timed out, or the connection ended before it
    /// delivered anything.
    Failed,
    /// The exchange answered 429 or 418; `retry_after` is its header.
    Throttled { retry_after: Option<Duration> },
}

#[derive(Debug, Clone)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    /// Upper bound of the jitter before reconnecting after a drop.
    pub drop_jitter: Duration,
    /// Wait after a 429/418 that came without a `Retry-After`.
    pub throttle_default: Duration,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_millis(250), Duration::from_secs(30))
    }
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            drop_jitter: Duration::from_millis(100),
            throttle_default: Duration::from_secs(60),
            attempt: 0,
        }
    }

    /// The cap for the current attempt: base * 2^attempt, at most `max`.
    pub fn cap(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// Delay before the next attempt after `outcome`, given a uniform
    /// sample `u` in [0, 1).
    pub fn after(&mut self, outcome: Outcome, u: f64) -> Duration {
        let u = u.clamp(0.0, 1.0);
        match outcome {
            Outcome::Dropped => {
                self.attempt = 0;
                self.drop_jitter.mul_f64(u)
            }
            Outcome::Failed => {
                let cap = self.cap();
                self.attempt = self.attempt.saturating_add(1);
                cap.mul_f64(u)
            }
            Outcome::Throttled { retry_after } => {
                // The exchange's word is a floor; the exponential term keeps
                // repeated throttling from turning into a fixed-rate retry.
                let cap = self.cap();
                self.attempt = self.attempt.saturating_add(1);
                retry_after.unwrap_or(self.throttle_default) + cap.mul_f64(u)
            }
        }
    }

    /// Failures in a row since the last drop (or start).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

/// HTTP statuses by which Binance says "too many requests": 429, and 418
/// once the IP has been banned for ignoring 429s.
pub fn is_throttle(status: u16) -> bool {
    status == 429 || status == 418
}

/// A `Retry-After` value in seconds (the form Binance sends). The HTTP-date
/// form is not used by Binance and reads as absent, so the caller's default
/// applies; a huge value is clamped to a day so a bad header cannot park the
/// client for ever.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let secs: u64 = v.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(86_400)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_double_the_cap_up_to_the_maximum() {
        let mut b = Backoff::default();
        let caps: Vec<u64> = (0..10)
            .map(|_| {
                let c = b.cap().as_millis() as u64;
                b.after(Outcome::Failed, 0.5);
                c
            })
            .collect();
        assert_eq!(
            caps,
            vec![250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
    }

    #[test]
    fn failure_delay_is_full_jitter_below_the_cap() {
        let mut b = Backoff::default();
        assert_eq!(b.after(Outcome::Failed, 0.0), Duration::ZERO);
        assert!(b.after(Outcome::Failed, 0.999) < Duration::from_millis(500));
    }

    #[test]
    fn a_drop_after_data_retries_at_once_and_resets_the_sequence() {
        let mut b = Backoff::default();
        for _ in 0..6 {
            b.after(Outcome::Failed, 0.9);
        }
        assert_eq!(b.attempt(), 6);
        // However short the connection lived: it delivered, so it was a drop.
        let d = b.after(Outcome::Dropped, 0.999);
        assert!(d <= Duration::from_millis(100), "{d:?}");
        assert_eq!(b.attempt(), 0);
        // The next failure starts from the base again.
        assert!(b.after(Outcome::Failed, 0.999) < Duration::from_millis(250));
    }

    #[test]
    fn repeated_drops_stay_immediate_and_failures_after_them_back_off() {
        let mut b = Backoff::default();
        for _ in 0..20 {
            assert!(b.after(Outcome::Dropped, 0.999) <= Duration::from_millis(100));
        }
        let caps: Vec<Duration> = (0..4)
            .map(|_| {
                let c = b.cap();
                b.after(Outcome::Failed, 0.5);
                c
            })
            .collect();
        assert_eq!(caps[3], caps[0] * 8);
    }

    #[test]
    fn throttling_waits_at_least_retry_after() {
        let mut b = Backoff::default();
        let d = b.after(
            Outcome::Throttled {
                retry_after: Some(Duration::from_secs(7)),
            },
            0.0,
        );
        assert_eq!(d, Duration::from_secs(7));
        let d = b.after(Outcome::Throttled { retry_after: None }, 0.0);
        assert_eq!(d, Duration::from_secs(60));
        // Throttling counts as a failure: the exponential term grows.
        assert_eq!(b.attempt(), 2);
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        assert_eq!(parse_retry_after(" 12 "), Some(Duration::from_secs(12)));
        assert_eq!(
            parse_retry_after("99999999"),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert!(is_throttle(429) && is_throttle(418) && !is_throttle(503));
    }
}

/// Binance allows at most 300 connection attempts per 5 minutes per IP; this
/// sliding window says how long to wait before the next one is allowed.
#[derive(Debug, Clone)]
pub struct ConnectLimiter {
    max: usize,
    window: Duration,
    recent: std::collections::VecDeque<std::time::Instant>,
}

impl Default for ConnectLimiter {
    fn default() -> Self {
        ConnectLimiter::new(300, Duration::from_secs(300))
    }
}

impl ConnectLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        ConnectLimiter {
            max: max.max(1),
            window,
            recent: std::collections::VecDeque::new(),
        }
    }

    /// Wait needed at `now` before another attempt (zero when allowed).
    pub fn wait(&mut self, now: std::time::Instant) -> Duration {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            self.recent.pop_front();
        }
        if self.recent.len() < self.max {
            return Duration::ZERO;
        }
        let oldest = self.recent.front().copied().unwrap_or(now);
        self.window.saturating_sub(now.duration_since(oldest))
    }

    /// Record an attempt made at `now`.
    pub fn record(&mut self, now: std::time::Instant) {
        self.recent.push_back(now);
    }
}

#[cfg(test)]
mod limiter_tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn the_301st_attempt_waits_for_the_window() {
        let mut l = ConnectLimiter::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(l.wait(t0 + Duration::from_secs(i)), Duration::ZERO);
            l.record(t0 + Duration::from_secs(i));
        }
        assert_eq!(l.wait(t0 + Duration::from_secs(4)), Duration::from_secs(6));
        assert_eq!(l.wait(t0 + Duration::from_secs(10)), Duration::ZERO);
    }
}
