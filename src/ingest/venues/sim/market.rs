//! A simulated, cointegrated crypto market: pure and deterministic for a seed.
//!
//! Log prices share one random-walk factor (the "crypto beta") and each symbol
//! adds its own Ornstein-Uhlenbeck deviation, so any two symbols form a
//! cointegrated pair with a mean-reverting spread, which is exactly what a
//! pair-trading desk needs to see offline. Trades arrive as independent
//! Poisson processes per symbol (exponential inter-arrival times), bounce
//! between bid and ask, and are rounded to each symbol's tick and lot size.

use crate::domain::{Side, Tick, Venue};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Static description of one simulated symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSpec {
    pub name: String,
    pub level: f64,
    pub tick: f64,
    pub lot: f64,
    /// Mean trades per second.
    pub rate: f64,
    /// Loading on the common factor.
    pub beta: f64,
}

impl SimSpec {
    /// Realistic parameters for well-known symbols, plausible ones otherwise.
    pub fn for_symbol(name: &str) -> SimSpec {
        let (level, tick, lot, rate, beta) = match name {
            "BTCUSDT" => (90_000.0, 0.1, 0.001, 30.0, 1.0),
            "ETHUSDT" => (3_100.0, 0.01, 0.001, 25.0, 1.2),
            "SOLUSDT" => (140.0, 0.01, 0.01, 12.0, 1.4),
            "BNBUSDT" => (620.0, 0.01, 0.01, 8.0, 0.8),
            "XRPUSDT" => (2.1, 0.0001, 0.1, 10.0, 1.3),
            _ => {
                let h = name.bytes().fold(1469598103934665603u64, |h, b| {
                    (h ^ b as u64).wrapping_mul(1099511628211)
                });
                let level = 1.0 + (h % 50_000) as f64 / 100.0;
                let tick = 10f64.powi(level.log10().floor() as i32 - 4);
                let beta = 0.8 + (h >> 20) as f64 % 70.0 / 100.0;
                (level, tick, 0.1, 5.0, beta)
            }
        };
        SimSpec {
            name: name.to_string(),
            level,
            tick,
            lot,
            rate,
            beta,
        }
    }
}

/// Model constants, per second.
const FACTOR_VOL: f64 = 2.0e-4;
const OU_THETA: f64 = 1.0 / 90.0;
const OU_STD: f64 = 1.5e-3;
const HALF_SPREAD_TICKS: f64 = 1.0;

#[derive(Debug)]
struct SymState {
    spec: SimSpec,
    ou: f64,
    next_id: i64,
    /// Next arrival time, fractional ms.
    next_at: f64,
    /// Time the OU component was last advanced to, ms.
    ou_at: f64,
    /// A resumed symbol's last stored price, which its first mid takes.
    anchor: Option<f64>,
}

/// The market: call [`SimMarket::advance`] with the current time to get the
/// trades that happened since the previous call.
#[derive(Debug)]
pub struct SimMarket {
    seed: u64,
    rng: SmallRng,
    factor: f64,
    factor_at: f64,
    syms: Vec<SymState>,
    rate_scale: f64,
}

impl SimMarket {
    pub fn new(symbols: &[String], seed: u64, start_ms: i64, rate_scale: f64) -> SimMarket {
        let mut rng = SmallRng::seed_from_u64(seed);
        let t0 = start_ms as f64;
        let syms = symbols
            .iter()
            .enumerate()
            .map(|(i, s)| SymState::new(s, i, seed, t0, &mut rng, rate_scale))
            .collect();
        SimMarket {
            seed,
            rng,
            factor: 0.0,
            factor_at: t0,
            syms,
            rate_scale,
        }
    }

    /// Change every symbol's rate from `at_ms` on. Arrivals are Poisson, so
    /// drawing each symbol's next arrival afresh is exact (memoryless).
    pub fn set_rate_scale(&mut self, rate_scale: f64, at_ms: i64) {
        if rate_scale == self.rate_scale {
            return;
        }
        self.rate_scale = rate_scale;
        let at = at_ms as f64;
        for s in &mut self.syms {
            s.next_at = at + exp_sample(&mut self.rng, s.spec.rate * rate_scale);
        }
    }

    /// Start trading `name` from `at_ms` (a symbol added to the live
    /// subscription); a symbol already trading is left alone.
    pub fn add_symbol(&mut self, name: &str, at_ms: i64) {
        if self.syms.iter().any(|s| s.spec.name == name) {
            return;
        }
        let i = self.syms.len();
        let st = SymState::new(
            name,
            i,
            self.seed,
            at_ms as f64,
            &mut self.rng,
            self.rate_scale,
        );
        self.syms.push(st);
    }

    /// Continue `name` from a stored history: its next trade gets id
    /// `last_id + 1`, its price starts from `last_price`, and it trades from
    /// `from_ms` on (its last stored trade, or the start of the lookback).
    /// Call before the first [`SimMarket::advance`]. The symbol's first
    /// mid is `last_price` exactly, whatever the common factor did while
    /// the market ran before `from_ms` (other symbols' history): its level
    /// is anchored at that first trade, so the price goes on with no jump.
    pub fn resume(&mut self, name: &str, last_id: i64, last_price: f64, from_ms: i64) {
        let Some(s) = self.syms.iter_mut().find(|s| s.spec.name == name) else {
            return;
        };
        if last_price.is_finite() && last_price > 0.0 {
            s.anchor = Some(last_price);
        }
        s.next_id = last_id.saturating_add(1);
        let from = from_ms as f64;
        s.ou = 0.0;
        s.ou_at = from;
        s.next_at = from + exp_sample(&mut self.rng, s.spec.rate * self.rate_scale);
    }

    pub fn specs(&self) -> impl Iterator<Item = &SimSpec> {
        self.syms.iter().map(|s| &s.spec)
    }

    /// All trades with exchange time before `to_ms`, in time order.
    pub fn advance(&mut self, to_ms: i64) -> Vec<Tick> {
        let mut out = Vec::new();
        let to = to_ms as f64;
        while let Some((k, at)) = self
            .syms
            .iter()
            .enumerate()
            .map(|(k, s)| (k, s.next_at))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .filter(|(_, at)| *at < to)
        {
            // Common factor: Brownian increment over the elapsed time.
            let dt = ((at - self.factor_at) / 1000.0).max(0.0);
            self.factor += FACTOR_VOL * dt.sqrt() * normal(&mut self.rng);
            self.factor_at = at;

            let rng = &mut self.rng;
            let s = &mut self.syms[k];
            // Exact OU transition, so the spread's half-life is the same at any rate.
            let dt = ((at - s.ou_at) / 1000.0).max(0.0);
            let decay = (-OU_THETA * dt).exp();
            s.ou = s.ou * decay + OU_STD * (1.0 - decay * decay).sqrt() * normal(rng);
            s.ou_at = at;
            if let Some(p) = s.anchor.take() {
                // Resumed: this first mid is the stored last price.
                s.spec.level = p * (-(s.spec.beta * self.factor + s.ou)).exp();
            }

            let mid = s.spec.level * (s.spec.beta * self.factor + s.ou).exp();
            let buy = rng.random_bool(0.5);
            let half = HALF_SPREAD_TICKS * s.spec.tick;
            let raw = if buy { mid + half } else { mid - half };
            let price = round_to(raw.max(s.spec.tick), s.spec.tick);
            // Heavy-ish tailed sizes: lognormal, at least one lot.
            let notional = (normal(rng) * 1.2 + 5.5).exp();
            let qty = round_to((notional / price).max(s.spec.lot), s.spec.lot);
            out.push(Tick {
                venue: Venue::Sim,
                symbol: s.spec.name.clone(),
                trade_id: s.next_id,
                exchange_ts: at.floor() as i64,
                receive_ts: 0,
                price,
                qty,
                side: if buy { Side::Buy } else { Side::Sell },
            });
            s.next_id += 1;
            s.next_at = at + exp_sample(rng, s.spec.rate * self.rate_scale);
        }
        out
    }
}

impl SymState {
    fn new(name: &str, i: usize, seed: u64, t0: f64, rng: &mut SmallRng, rate_scale: f64) -> Self {
        let spec = SimSpec::for_symbol(name);
        let first_gap = exp_sample(rng, spec.rate * rate_scale);
        SymState {
            next_id: 5_000_000_000 + (i as i64) * 100_000_000 + (seed % 1000) as i64 * 1000,
            next_at: t0 + first_gap,
            ou_at: t0,
            ou: 0.0,
            anchor: None,
            spec,
        }
    }
}

/// Round to a multiple of `step`, then print-clean (no 0.30000000000000004).
fn round_to(v: f64, step: f64) -> f64 {
    let n = (v / step).round();
    let decimals = (-step.log10()).ceil().max(0.0) as i32;
    let p = 10f64.powi(decimals);
    ((n * step) * p).round() / p
}

/// Exponential inter-arrival time in ms for a rate per second.
fn exp_sample(rng: &mut SmallRng, rate_per_s: f64) -> f64 {
    let u: f64 = rng.random::<f64>();
    -(1.0 - u).ln() / rate_per_s.max(1e-9) * 1000.0
}

/// Standard normal by Box-Muller.
fn normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syms() -> Vec<String> {
        vec!["BTCUSDT".into(), "ETHUSDT".into()]
    }

    #[test]
    fn same_seed_same_market() {
        let a = SimMarket::new(&syms(), 7, 0, 1.0).advance(10_000);
        let b = SimMarket::new(&syms(), 7, 0, 1.0).advance(10_000);
        assert_eq!(a, b);
    }

    #[test]
    fn arrivals_are_poisson_at_the_configured_rate() {
        let mut m = SimMarket::new(&syms(), 1, 0, 1.0);
        let t = m.advance(200_000);
        let btc = t.iter().filter(|t| t.symbol == "BTCUSDT").count() as f64 / 200.0;
        assert!((btc - 30.0).abs() < 2.0, "BTC rate {btc}/s");
    }

    #[test]
    fn a_burst_multiplies_the_rate_and_ids_stay_consecutive() {
        let mut m = SimMarket::new(&syms(), 5, 0, 1.0);
        let calm = m.advance(100_000);
        m.set_rate_scale(10.0, 100_000);
        let burst = m.advance(120_000);
        m.set_rate_scale(1.0, 120_000);
        let after = m.advance(220_000);
        let rate = |t: &[Tick], secs: f64| t.len() as f64 / secs;
        // BTC 30/s + ETH 25/s at scale 1.
        assert!(
            (rate(&calm, 100.0) - 55.0).abs() < 4.0,
            "{}",
            rate(&calm, 100.0)
        );
        assert!(
            (rate(&burst, 20.0) - 550.0).abs() < 30.0,
            "{}",
            rate(&burst, 20.0)
        );
        assert!(
            (rate(&after, 100.0) - 55.0).abs() < 4.0,
            "{}",
            rate(&after, 100.0)
        );
        let btc: Vec<i64> = [calm, burst, after]
            .concat()
            .iter()
            .filter(|t| t.symbol == "BTCUSDT")
            .map(|t| t.trade_id)
            .collect();
        assert!(btc.windows(2).all(|w| w[1] == w[0] + 1));
    }

    #[test]
    fn an_added_symbol_trades_from_then_on() {
        let mut m = SimMarket::new(&syms(), 8, 0, 1.0);
        let before = m.advance(10_000);
        m.add_symbol("SOLUSDT", 10_000);
        m.add_symbol("SOLUSDT", 10_000);
        let after = m.advance(70_000);
        assert!(before.iter().all(|t| t.symbol != "SOLUSDT"));
        let sol: Vec<&Tick> = after.iter().filter(|t| t.symbol == "SOLUSDT").collect();
        // 12 trades/s for 60 s, from one (not two) added symbol.
        assert!((sol.len() as f64 - 720.0).abs() < 120.0, "{}", sol.len());
        assert!(sol.iter().all(|t| t.exchange_ts >= 10_000));
        assert!(sol.windows(2).all(|w| w[1].trade_id == w[0].trade_id + 1));
    }

    #[test]
    fn ids_are_consecutive_and_prices_on_tick() {
        let mut m = SimMarket::new(&syms(), 3, 0, 1.0);
        let t = m.advance(60_000);
        let btc: Vec<_> = t.iter().filter(|t| t.symbol == "BTCUSDT").collect();
        for w in btc.windows(2) {
            assert_eq!(w[1].trade_id, w[0].trade_id + 1);
            assert!(w[1].exchange_ts >= w[0].exchange_ts);
        }
        for x in &btc {
            let ticks = x.price / 0.1;
            assert!((ticks - ticks.round()).abs() < 1e-6, "{}", x.price);
            assert!(x.price > 50_000.0 && x.price < 150_000.0);
            assert!(x.qty >= 0.001);
        }
    }

    #[test]
    fn a_resumed_symbol_continues_its_ids_and_price() {
        // ETH trades from 0; BTC resumes at 500 s from a stored last trade,
        // whatever the common factor did meanwhile.
        let mut m = SimMarket::new(&syms(), 4, 0, 1.0);
        m.resume("BTCUSDT", 41, 95_000.0, 500_000);
        let t = m.advance(560_000);
        let btc: Vec<&Tick> = t.iter().filter(|t| t.symbol == "BTCUSDT").collect();
        assert!(btc.iter().all(|t| t.exchange_ts >= 500_000));
        assert_eq!(btc[0].trade_id, 42);
        assert!(btc.windows(2).all(|w| w[1].trade_id == w[0].trade_id + 1));
        // First print: the mid (the stored price) plus or minus half a spread.
        assert!(
            (btc[0].price - 95_000.0).abs() <= 0.1 + 1e-9,
            "{}",
            btc[0].price
        );
        let eth = t.iter().find(|t| t.symbol == "ETHUSDT").unwrap();
        assert!(eth.exchange_ts < 1_000, "ETH trades from the start");
    }

    #[test]
    fn advancing_in_steps_equals_advancing_at_once() {
        let mut a = SimMarket::new(&syms(), 9, 0, 1.0);
        let mut b = SimMarket::new(&syms(), 9, 0, 1.0);
        let whole = a.advance(5_000);
        let mut parts = Vec::new();
        for t in (100..=5_000).step_by(100) {
            parts.extend(b.advance(t));
        }
        assert_eq!(whole, parts);
    }
}
