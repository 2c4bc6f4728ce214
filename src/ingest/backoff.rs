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
