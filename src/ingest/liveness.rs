//! Is the connection alive? Pure bookkeeping, no I/O: the socket loop feeds
//! it what arrives and asks it, at [`Liveness::next_deadline`], what to do.
//!
//! Two independent checks:
//! - **Ping/pong**, independent of the trade rate: every `ping_interval` the
//!   client sends its own WebSocket ping (Binance answers client pings with
//!   a pong carrying the same payload); a ping unanswered after
//!   `pong_timeout` means the connection is dead, whether the socket is
//!   closed, stalled with the socket open, or stuck in a half-sent frame.
//!   Binance counts pings among the client messages it limits (5 a second
//!   per connection); the config floor keeps us well under that.
//! - **Data silence per stream**, on top: a stream that has been trading
//!   and then says nothing for `max(silence_floor, silence_factor x its mean
//!   gap between messages)` is taken as lost even though pongs still come
//!   (the exchange can stop a stream without closing the connection). The
//!   mean is an exponentially weighted average of the gaps, so the watchdog
//!   follows the stream's recent rate: milliseconds for BTCUSDT, minutes for
//!   a pair that trades twice an hour. Streams with too few messages for an
//!   estimate are left to the ping check.
//!
//!   A silent stream is first resubscribed on the same connection
//!   ([`Verdict::Resubscribe`]: the exchange may have dropped just that
//!   subscription), and if it stays silent for another limit the connection
//!   is replaced ([`Verdict::Dead`]). A stream with a fixed interval
//!   ([`Liveness::expect`], a mark price every second) is judged by
//!   `max(silence_floor, 5 x interval)` instead of a learned mean.
//!
//! The per-stream estimates survive reconnects (the rate is the market's,
//! not the connection's); the per-connection state is reset by
//! [`Liveness::start`]. A stream with a known rate is armed from the start
//! of every connection, so one that is acknowledged and then never sent
//! (Binance, when a stream is asked for on the wrong path) is caught; each
//! silence acted on without a message since doubles the next limit every
//! second time, so a market that has really gone quiet costs ever rarer
//! reconnects rather than one every `silence_floor`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Intervals, validated by the config (see `[liveness]` in Leptos.toml).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LivenessConfig {
    pub ping_interval: Duration,
    pub pong_timeout: Duration,
    pub silence_floor: Duration,
    pub silence_factor: f64,
}

impl Default for LivenessConfig {
    fn default() -> Self {
        LivenessConfig {
            // 0.5 client messages a second against Binance's limit of 5, and
            // a stall is noticed within ping_interval + pong_timeout = 4 s.
            ping_interval: Duration::from_secs(2),
            pong_timeout: Duration::from_secs(2),
            silence_floor: Duration::from_secs(10),
            silence_factor: 20.0,
        }
    }
}

/// What the socket loop should do now.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Fine,
    /// Send a ping with this payload.
    Ping(Vec<u8>),
    /// These streams are silent while the connection answers pings: ask
    /// the venue for them again on this connection (a silence after that
    /// is [`Verdict::Dead`]).
    Resubscribe(Vec<String>),
    /// The connection is dead, for this reason.
    Dead(String),
}

/// Messages before a stream's rate estimate is trusted.
const MIN_SAMPLES: u32 = 5;
/// Weight of the newest gap in the running mean.
const EWMA_ALPHA: f64 = 0.1;

#[derive(Debug, Clone)]
struct StreamStats {
    /// Last message on the current connection (or its start).
    last: Instant,
    mean_gap_s: f64,
    samples: u32,
    /// A message has arrived on the current connection.
    seen_here: bool,
    /// Silences acted on since its last message: each doubles the next
    /// limit every two (resubscribe, then reconnect), so a market that has
    /// really gone quiet costs ever rarer reconnects, not one a minute.
    strikes: u32,
}

#[derive(Debug)]
pub struct Liveness {
    cfg: LivenessConfig,
    /// A fixed message interval every stream of this connection keeps
    /// (a mark price each second): its streams are armed from the start of
    /// a connection, so one that is acknowledged and never sent is caught.
    expected: Option<Duration>,
    next_ping: Instant,
    /// (payload counter, sent at) of the ping awaiting its pong.
    outstanding: Option<(u64, Instant)>,
    counter: u64,
    streams: HashMap<String, StreamStats>,
}

impl Liveness {
    pub fn new(cfg: LivenessConfig, now: Instant) -> Liveness {
        Liveness {
            cfg,
            expected: None,
            next_ping: now + cfg.ping_interval,
            outstanding: None,
            counter: 0,
            streams: HashMap::new(),
        }
    }

    pub fn config(&self) -> &LivenessConfig {
        &self.cfg
    }

    /// Expect `streams` every `interval` (see [`Liveness::expected`]).
    pub fn expect(&mut self, streams: &[String], interval: Duration, now: Instant) {
        self.expected = Some(interval);
        for name in streams {
            self.streams
                .entry(name.clone())
                .or_insert_with(|| StreamStats {
                    last: now,
                    mean_gap_s: interval.as_secs_f64(),
                    samples: MIN_SAMPLES,
                    seen_here: false,
                    strikes: 0,
                });
        }
    }

    /// A stream is watched on this connection when it delivered here, or
    /// when it has a known rate from before (a stream acknowledged and
    /// then never sent must not go unnoticed).
    fn armed(s: &StreamStats) -> bool {
        s.seen_here || s.samples >= MIN_SAMPLES
    }

    /// A new connection is open: nothing is outstanding, every stream's
    /// silence counts from now.
    pub fn start(&mut self, now: Instant) {
        self.next_ping = now + self.cfg.ping_interval;
        self.outstanding = None;
        for s in self.streams.values_mut() {
            s.last = now;
            s.seen_here = false;
        }
    }

    /// A data message for `stream` arrived.
    pub fn on_data(&mut self, stream: &str, now: Instant) {
        match self.streams.get_mut(stream) {
            Some(s) => {
                // The first message on a new connection says nothing about
                // the rate: the gap before it spans the outage.
                if s.seen_here {
                    let gap = now.saturating_duration_since(s.last).as_secs_f64();
                    s.mean_gap_s = if s.samples == 0 {
                        gap
                    } else {
                        s.mean_gap_s + EWMA_ALPHA * (gap - s.mean_gap_s)
                    };
                    s.samples = s.samples.saturating_add(1);
                }
                s.last = now;
                s.seen_here = true;
                s.strikes = 0;
            }
            None => {
                self.streams.insert(
                    stream.to_string(),
                    StreamStats {
                        last: now,
                        mean_gap_s: 0.0,
                        samples: 0,
                        seen_here: true,
                        strikes: 0,
                    },
                );
            }
        }
    }

    /// A pong arrived; it answers our ping only if the payload matches
    /// (an unsolicited pong proves nothing about the ping in flight).
    pub fn on_pong(&mut self, payload: &[u8]) {
        if let Some((n, _)) = self.outstanding {
            if payload == Self::payload(n).as_slice() {
                self.outstanding = None;
            }
        }
    }

    fn payload(n: u64) -> Vec<u8> {
        format!("pairdesk-{n}").into_bytes()
    }

    /// The stream's mean gap between messages, once it has an estimate.
    pub fn mean_gap(&self, stream: &str) -> Option<Duration> {
        let s = self.streams.get(stream)?;
        (s.samples >= MIN_SAMPLES)
            .then(|| Duration::try_from_secs_f64(s.mean_gap_s).unwrap_or(Duration::MAX))
    }

    /// How long `stream` may be silent, if it has a rate estimate.
    pub fn silence_limit(&self, stream: &str) -> Option<Duration> {
        let s = self.streams.get(stream)?;
        self.limit_of(s)
    }

    fn limit_of(&self, s: &StreamStats) -> Option<Duration> {
        if s.samples < MIN_SAMPLES {
            return None;
        }
        // A fixed interval is the venue's promise; a learned one is scaled
        // by the factor, as trades are bursty.
        let gap = match self.expected {
            Some(i) => i.as_secs_f64() * 5.0,
            None => s.mean_gap_s * self.cfg.silence_factor,
        };
        let scaled = Duration::try_from_secs_f64(gap).unwrap_or(Duration::MAX);
        let backoff = 1u32 << (s.strikes / 2).min(6);
        Some(scaled.max(self.cfg.silence_floor).saturating_mul(backoff))
    }

    /// The next instant at which [`Liveness::poll`] may have something to say.
    pub fn next_deadline(&self) -> Instant {
        let mut t = self.next_ping;
        if let Some((_, sent)) = self.outstanding {
            t = t.min(sent + self.cfg.pong_timeout);
        }
        for s in self.streams.values().filter(|s| Self::armed(s)) {
            if let Some(limit) = self.limit_of(s) {
                if let Some(d) = s.last.checked_add(limit) {
                    t = t.min(d);
                }
            }
        }
        t
    }

    /// What to do at `now`.
    pub fn poll(&mut self, now: Instant) -> Verdict {
        if let Some((_, sent)) = self.outstanding {
            if now.saturating_duration_since(sent) >= self.cfg.pong_timeout {
                return Verdict::Dead(format!(
                    "no pong within {} ms",
                    self.cfg.pong_timeout.as_millis()
                ));
            }
        }
        let mut silent = Vec::new();
        let mut dead = None;
        for (name, s) in self.streams.iter().filter(|(_, s)| Self::armed(s)) {
            if let Some(limit) = self.limit_of(s) {
                if now.saturating_duration_since(s.last) >= limit {
                    if s.strikes % 2 == 0 {
                        silent.push(name.clone());
                    } else {
                        dead = Some(format!("{name} silent for {} ms", limit.as_millis()));
                    }
                }
            }
        }
        let acted: Vec<String> = if dead.is_some() {
            self.streams
                .iter()
                .filter(|(_, s)| {
                    Self::armed(s)
                        && self
                            .limit_of(s)
                            .is_some_and(|l| now.saturating_duration_since(s.last) >= l)
                })
                .map(|(n, _)| n.clone())
                .collect()
        } else {
            silent.clone()
        };
        for name in &acted {
            if let Some(s) = self.streams.get_mut(name) {
                s.strikes = s.strikes.saturating_add(1);
                s.last = now;
            }
        }
        if let Some(why) = dead {
            return Verdict::Dead(why);
        }
        if !silent.is_empty() {
            silent.sort();
            return Verdict::Resubscribe(silent);
        }
        if now >= self.next_ping {
            self.next_ping = now + self.cfg.ping_interval;
            // One ping in flight at a time: the timeout judges the oldest.
            if self.outstanding.is_none() {
                self.counter += 1;
                self.outstanding = Some((self.counter, now));
                return Verdict::Ping(Self::payload(self.counter));
            }
        }
        Verdict::Fine
    }
}

/// Time blind: from the last data message before a fault to the first one
/// after it. A fault is anything that ends a connection (or hands over to a
/// new one); a second fault before data flows again extends the same blind
/// period rather than starting a new one.
#[derive(Debug, Default)]
pub struct BlindClock {
    last_data: Option<Instant>,
    /// Set at a fault: the instant the blind period began.
    since: Option<Instant>,
}

impl BlindClock {
    /// The connection ended (or was replaced).
    pub fn on_fault(&mut self) {
        if self.since.is_none() {
            self.since = self.last_data;
        }
    }

    /// Data arrived; returns the blind period it ends, if any.
    pub fn on_data(&mut self, now: Instant) -> Option<Duration> {
        self.last_data = Some(now);
        self.since.take().map(|s| now.saturating_duration_since(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> LivenessConfig {
        LivenessConfig {
            ping_interval: Duration::from_secs(2),
            pong_timeout: Duration::from_secs(1),
            silence_floor: Duration::from_secs(5),
            silence_factor: 10.0,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn blind_time_runs_from_the_last_message_to_the_first_after_recovery() {
        let t0 = Instant::now();
        let mut b = BlindClock::default();
        // A fault before any data: nothing to measure from.
        b.on_fault();
        assert_eq!(b.on_data(t0), None);
        assert_eq!(b.on_data(t0 + ms(10)), None);
        // Two failed attempts in a row are one blind period.
        b.on_fault();
        b.on_fault();
        assert_eq!(b.on_data(t0 + ms(3010)), Some(ms(3000)));
        assert_eq!(b.on_data(t0 + ms(3020)), None);
    }

    #[test]
    fn pings_on_schedule_and_a_pong_keeps_it_alive() {
        let t0 = Instant::now();
        let mut l = Liveness::new(cfg(), t0);
        assert_eq!(l.poll(t0 + ms(1999)), Verdict::Fine);
        assert_eq!(l.next_deadline(), t0 + ms(2000));
        let Verdict::Ping(p) = l.poll(t0 + ms(2000)) else {
            panic!("no ping")
        };
        l.on_pong(&p);
        assert_eq!(l.poll(t0 + ms(3500)), Verdict::Fine);
        assert!(matches!(l.poll(t0 + ms(4000)), Verdict::Ping(_)));
    }

    #[test]
    fn a_missing_pong_is_death_after_the_timeout() {
        let t0 = Instant::now();
        let mut l = Liveness::new(cfg(), t0);
        assert!(matches!(l.poll(t0 + ms(2000)), Verdict::Ping(_)));
        assert_eq!(l.next_deadline(), t0 + ms(3000));
        assert_eq!(l.poll(t0 + ms(2999)), Verdict::Fine);
        assert!(matches!(l.poll(t0 + ms(3000)), Verdict::Dead(r) if r.contains("pong")));
    }

    #[test]
    fn a_pong_with_another_payload_does_not_count() {
        let t0 = Instant::now();
        let mut l = Liveness::new(cfg(), t0);
        assert!(matches!(l.poll(t0 + ms(2000)), Verdict::Ping(_)));
        l.on_pong(b"something else");
        assert!(matches!(l.poll(t0 + ms(3000)), Verdict::Dead(_)));
    }

    #[test]
    fn data_alone_does_not_answer_a_ping() {
        // A stream that keeps trading over a connection whose pongs are lost
        // is still judged by the pong: the pong is what proves the path.
        let t0 = Instant::now();
        let mut l = Liveness::new(cfg(), t0);
        assert!(matches!(l.poll(t0 + ms(2000)), Verdict::Ping(_)));
        for i in 0..10 {
            l.on_data("BTCUSDT", t0 + ms(2000 + i * 100));
        }
        assert!(matches!(l.poll(t0 + ms(3000)), Verdict::Dead(_)));
    }

    #[test]
    fn a_busy_stream_gone_quiet_trips_at_the_floor() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.ping_interval = Duration::from_secs(3600);
        let mut l = Liveness::new(c, t0);
        for i in 0..50 {
            l.on_data("BTCUSDT", t0 + ms(i * 20));
        }
        let last = t0 + ms(49 * 20);
        // 10 x 20 ms is far below the floor.
        assert_eq!(l.silence_limit("BTCUSDT"), Some(Duration::from_secs(5)));
        assert_eq!(l.poll(last + ms(4999)), Verdict::Fine);
        // Resubscribed first, then another limit before the reconnect.
        assert_eq!(
            l.poll(last + ms(5000)),
            Verdict::Resubscribe(vec!["BTCUSDT".into()])
        );
        assert_eq!(l.poll(last + ms(9999)), Verdict::Fine);
        assert!(matches!(l.poll(last + ms(10_000)), Verdict::Dead(r) if r.contains("BTCUSDT")));
    }

    #[test]
    fn a_stream_with_a_fixed_interval_is_armed_before_it_delivers() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.ping_interval = Duration::from_secs(3600);
        let mut l = Liveness::new(c, t0);
        l.expect(&["BTCUSDT".into()], Duration::from_secs(1), t0);
        // 5 x 1 s is at the 5 s floor.
        assert_eq!(l.silence_limit("BTCUSDT"), Some(Duration::from_secs(5)));
        assert_eq!(
            l.poll(t0 + ms(5000)),
            Verdict::Resubscribe(vec!["BTCUSDT".into()])
        );
        assert!(matches!(l.poll(t0 + ms(10_000)), Verdict::Dead(_)));
        // Still nothing on the next connection: the limit has doubled.
        let t1 = t0 + ms(10_500);
        l.start(t1);
        assert_eq!(l.poll(t1 + ms(9999)), Verdict::Fine);
        assert!(matches!(l.poll(t1 + ms(10_000)), Verdict::Resubscribe(_)));
        // A message resets the backoff.
        l.on_data("BTCUSDT", t1 + ms(10_100));
        assert_eq!(l.silence_limit("BTCUSDT"), Some(Duration::from_secs(5)));
    }

    #[test]
    fn a_rare_stream_gets_a_watchdog_scaled_to_its_rate() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.ping_interval = Duration::from_secs(36_000);
        let mut l = Liveness::new(c, t0);
        for i in 0..10 {
            l.on_data("RAREUSDT", t0 + Duration::from_secs(i * 60));
        }
        let limit = l.silence_limit("RAREUSDT").unwrap();
        assert!((limit.as_secs_f64() - 600.0).abs() < 1.0, "{limit:?}");
        let last = t0 + Duration::from_secs(9 * 60);
        assert_eq!(l.poll(last + Duration::from_secs(590)), Verdict::Fine);
        assert!(matches!(
            l.poll(last + Duration::from_secs(601)),
            Verdict::Resubscribe(_)
        ));
    }

    #[test]
    fn too_few_messages_leave_a_stream_to_the_ping_check() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.ping_interval = Duration::from_secs(36_000);
        let mut l = Liveness::new(c, t0);
        for i in 0..3 {
            l.on_data("NEWUSDT", t0 + ms(i * 10));
        }
        assert_eq!(l.silence_limit("NEWUSDT"), None);
        assert_eq!(l.poll(t0 + Duration::from_secs(3600)), Verdict::Fine);
    }

    #[test]
    fn a_new_connection_restarts_the_clocks_but_keeps_the_rate() {
        let t0 = Instant::now();
        let mut l = Liveness::new(cfg(), t0);
        for i in 0..20 {
            l.on_data("BTCUSDT", t0 + ms(i * 100));
        }
        assert!(matches!(l.poll(t0 + ms(2000)), Verdict::Ping(_)));
        // The connection is replaced before the pong deadline.
        let t1 = t0 + ms(2500);
        l.start(t1);
        assert_eq!(l.poll(t1 + ms(1000)), Verdict::Fine, "old ping forgotten");
        assert_eq!(l.silence_limit("BTCUSDT"), Some(Duration::from_secs(5)));
        // Armed from the connection's start, by the rate known from before.
        assert_eq!(l.next_deadline(), t1 + ms(2000));
        // The outage itself is not a gap that slows the estimate.
        l.on_data("BTCUSDT", t1 + ms(4000));
        assert_eq!(l.silence_limit("BTCUSDT"), Some(Duration::from_secs(5)));
        assert!(matches!(l.poll(t1 + ms(9000)), Verdict::Resubscribe(r) if r == ["BTCUSDT"]));
    }

    #[test]
    fn a_stream_silent_since_the_connection_opened_is_caught() {
        let t0 = Instant::now();
        let mut c = cfg();
        c.ping_interval = Duration::from_secs(3600);
        let mut l = Liveness::new(c, t0);
        for i in 0..20 {
            l.on_data("BTCUSDT", t0 + ms(i * 100));
        }
        let t1 = t0 + ms(3000);
        l.start(t1);
        assert_eq!(l.poll(t1 + ms(4999)), Verdict::Fine);
        assert!(matches!(l.poll(t1 + ms(5000)), Verdict::Resubscribe(_)));
    }
}
