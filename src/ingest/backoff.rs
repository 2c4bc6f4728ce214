//! Reconnect policy as data: exponential backoff with full jitter.
//!
//! Full jitter (a uniform delay between zero and the exponential cap) spreads
//! many clients' reconnects apart after an exchange-wide disconnect, and the
//! floor keeps us far below Binance's limit of 300 connects per 5 minutes.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    /// A connection that lived this long resets the sequence.
    pub stable_after: Duration,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(
            Duration::from_millis(250),
            Duration::from_secs(30),
            Duration::from_secs(60),
        )
    }
}

impl Backoff {
    pub fn new(base: Duration, max: Duration, stable_after: Duration) -> Self {
        Backoff {
            base,
            max,
            stable_after,
            attempt: 0,
        }
    }

    /// The cap for the current attempt: base * 2^attempt, at most `max`.
    pub fn cap(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// Delay before the next attempt, given a uniform sample `u` in [0, 1).
    pub fn next_delay(&mut self, u: f64) -> Duration {
        let cap = self.cap();
        self.attempt = self.attempt.saturating_add(1);
        cap.mul_f64(u.clamp(0.0, 1.0))
    }

    /// Called when a connection ends after having lived `lived`.
    pub fn on_disconnect(&mut self, lived: Duration) {
        if lived >= self.stable_after {
            self.attempt = 0;
        }
    }

    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_doubles_up_to_the_maximum() {
        let mut b = Backoff::default();
        let caps: Vec<u64> = (0..10)
            .map(|_| {
                let c = b.cap().as_millis() as u64;
                b.next_delay(0.5);
                c
            })
            .collect();
        assert_eq!(
            caps,
            vec![250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
    }

    #[test]
    fn delay_is_full_jitter_below_the_cap() {
        let mut b = Backoff::default();
        assert_eq!(b.next_delay(0.0), Duration::ZERO);
        assert!(b.next_delay(0.999) < Duration::from_millis(500));
    }

    #[test]
    fn a_stable_connection_resets_the_sequence() {
        let mut b = Backoff::default();
        for _ in 0..5 {
            b.next_delay(0.1);
        }
        b.on_disconnect(Duration::from_secs(5));
        assert_eq!(b.attempt(), 5);
        b.on_disconnect(Duration::from_secs(61));
        assert_eq!(b.attempt(), 0);
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
