//! Rollups: per-symbol 1-second and 1-minute partial bars kept by the
//! writer beside the ticks, so a bar request over months reads thousands of
//! rows instead of millions.
//!
//! **One definition of a bar, whatever it is read from.** A bar is a fold
//! in three levels: the ticks of each second in (time, trade id) order make
//! a 1-second partial, the seconds of each minute (in time order) make a
//! 1-minute partial, and the minutes (or, below a minute, the seconds) of
//! the bar make the bar. [`Cascade`] is that fold. The writer stores the
//! first two levels ([`maintain`]); the planner ([`plan`]) feeds the
//! cascade stored partials where they exist and ticks where they do not.
//! Because floating-point sums are only reproducible in the same order, the
//! tick path uses the same levels: a bar from rollups is bit-for-bit the
//! bar from ticks, not merely close to it. (Against one flat sum over the
//! ticks, volume and VWAP differ in the last few ulps; a test bounds it.)
//!
//! For a partial of ticks `(p_i, q_i)` in order:
//! `open = p_first`, `close = p_last`, `high = max p`, `low = min p`,
//! `volume = Σ q`, `notional = Σ p·q`, `trades = count`, and a bar's
//! `vwap = notional / volume` (the open when the volume is zero).

pub mod maintain;
pub mod plan;

use crate::domain::{Bar, Timeframe};

/// A stored rollup level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    S1,
    M1,
}

impl Tier {
    pub const fn millis(self) -> i64 {
        match self {
            Tier::S1 => 1_000,
            Tier::M1 => 60_000,
        }
    }

    /// Start of the bucket containing `ts`.
    pub const fn floor(self, ts: i64) -> i64 {
        ts.div_euclid(self.millis()) * self.millis()
    }

    /// The coarsest tier that divides `tf`: the one its bars are read from.
    pub fn for_timeframe(tf: Timeframe) -> Tier {
        if tf.millis() % Tier::M1.millis() == 0 {
            Tier::M1
        } else {
            Tier::S1
        }
    }
}

/// The aggregate of one bucket: a bar with its notional instead of a VWAP,
/// so that buckets can be folded into larger ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Partial {
    /// Bucket start, ms.
    pub ts: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    /// Σ price × qty.
    pub notional: f64,
    pub trades: i64,
}

impl Partial {
    /// A bucket starting at `ts` holding one trade.
    pub fn of_tick(ts: i64, price: f64, qty: f64) -> Partial {
        Partial {
            ts,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: qty,
            notional: price * qty,
            trades: 1,
        }
    }

    /// Add a trade that comes after every trade already in the bucket.
    pub fn add_tick(&mut self, price: f64, qty: f64) {
        self.high = self.high.max(price);
        self.low = self.low.min(price);
        self.close = price;
        self.volume += qty;
        self.notional += price * qty;
        self.trades += 1;
    }

    /// Fold in a later partial (a later sub-bucket of this bucket).
    pub fn append(&mut self, later: &Partial) {
        self.high = self.high.max(later.high);
        self.low = self.low.min(later.low);
        self.close = later.close;
        self.volume += later.volume;
        self.notional += later.notional;
        self.trades += later.trades;
    }

    pub fn into_bar(self) -> Bar {
        Bar {
            ts: self.ts,
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            volume: self.volume,
            trades: self.trades,
            vwap: if self.volume > 0.0 {
                self.notional / self.volume
            } else {
                self.open
            },
        }
    }
}

/// Folds ticks, 1-second partials and 1-minute partials, in time order, into
/// bars of one timeframe through the levels described in the module doc.
///
/// Inputs must come in time order; a partial must not start before the
/// bucket of the last tick or partial pushed (the planner's segments are
/// disjoint and aligned, which guarantees it).
#[derive(Debug)]
pub struct Cascade {
    /// Bucket widths, finest first; the last is the timeframe's.
    widths: Vec<i64>,
    cur: Vec<Option<Partial>>,
    out: Vec<Bar>,
}

impl Cascade {
    pub fn new(tf: Timeframe) -> Cascade {
        let mut widths = vec![Tier::S1.millis()];
        if tf.millis() > Tier::M1.millis() {
            widths.push(Tier::M1.millis());
        }
        if tf.millis() > Tier::S1.millis() {
            widths.push(tf.millis());
        }
        let n = widths.len();
        Cascade {
            widths,
            cur: vec![None; n],
            out: Vec::new(),
        }
    }

    /// A trade, in (time, trade id) order.
    pub fn push_tick(&mut self, ts: i64, price: f64, qty: f64) {
        let b = Tier::S1.floor(ts);
        match &mut self.cur[0] {
            Some(p) if p.ts == b => p.add_tick(price, qty),
            _ => {
                self.close(0);
                self.cur[0] = Some(Partial::of_tick(b, price, qty));
            }
        }
    }

    /// A stored partial of `tier`.
    pub fn push_partial(&mut self, tier: Tier, p: &Partial) {
        // A minute partial cannot feed a sub-minute timeframe; the planner
        // never asks for that.
        let level = self.widths.iter().position(|w| *w == tier.millis());
        debug_assert!(level.is_some(), "{tier:?} partial into {:?}", self.widths);
        let level = level.unwrap_or(0);
        for l in 0..level {
            self.close(l);
        }
        self.feed(level, p);
    }

    /// Close level `l`'s open bucket into the level above (or the output).
    fn close(&mut self, l: usize) {
        if let Some(p) = self.cur[l].take() {
            self.feed(l + 1, &p);
        }
    }

    fn feed(&mut self, l: usize, p: &Partial) {
        if l == self.widths.len() {
            self.out.push(p.into_bar());
            return;
        }
        let w = self.widths[l];
        let b = p.ts.div_euclid(w) * w;
        match &mut self.cur[l] {
            Some(c) if c.ts == b => c.append(p),
            _ => {
                self.close(l);
                self.cur[l] = Some(Partial { ts: b, ..*p });
            }
        }
    }

    pub fn finish(mut self) -> Vec<Bar> {
        for l in 0..self.widths.len() {
            self.close(l);
        }
        self.out
    }
}

/// Bars of `tf` from ticks `(ts, price, qty)` in (time, trade id) order:
/// the reference the rollup path must reproduce.
pub fn bars_from_ticks(
    tf: Timeframe,
    ticks: impl IntoIterator<Item = (i64, f64, f64)>,
) -> Vec<Bar> {
    let mut c = Cascade::new(tf);
    for (ts, p, q) in ticks {
        c.push_tick(ts, p, q);
    }
    c.finish()
}

/// Partials of `tier` from ticks in order (what the writer stores).
pub fn partials_from_ticks(
    tier: Tier,
    ticks: impl IntoIterator<Item = (i64, f64, f64)>,
) -> Vec<Partial> {
    let mut out: Vec<Partial> = Vec::new();
    let mut sec: Option<Partial> = None;
    let push = |out: &mut Vec<Partial>, s: Partial| {
        let b = tier.floor(s.ts);
        match out.last_mut() {
            Some(last) if last.ts == b => last.append(&s),
            _ => out.push(Partial { ts: b, ..s }),
        }
    };
    for (ts, p, q) in ticks {
        let b = Tier::S1.floor(ts);
        match &mut sec {
            Some(s) if s.ts == b => s.add_tick(p, q),
            _ => {
                if let Some(s) = sec.take() {
                    push(&mut out, s);
                }
                sec = Some(Partial::of_tick(b, p, q));
            }
        }
    }
    if let Some(s) = sec {
        push(&mut out, s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flat definition: one pass over the ticks per bar.
    fn naive(tf: Timeframe, ticks: &[(i64, f64, f64)]) -> Vec<Bar> {
        let mut out: Vec<Bar> = Vec::new();
        let mut notional = 0.0;
        for &(ts, p, q) in ticks {
            let b = tf.bucket(ts);
            match out.last_mut() {
                Some(bar) if bar.ts == b => {
                    bar.high = bar.high.max(p);
                    bar.low = bar.low.min(p);
                    bar.close = p;
                    bar.volume += q;
                    bar.trades += 1;
                    notional += p * q;
                    bar.vwap = notional / bar.volume;
                }
                _ => {
                    notional = p * q;
                    out.push(Bar {
                        ts: b,
                        open: p,
                        high: p,
                        low: p,
                        close: p,
                        volume: q,
                        trades: 1,
                        vwap: p,
                    });
                }
            }
        }
        out
    }

    fn ticks(n: usize, step: i64, seed: u64) -> Vec<(i64, f64, f64)> {
        let mut x = seed;
        let mut ts = 1_765_756_800_000i64 - 17;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ts += (x >> 33) as i64 % step;
                let p = 100.0 + ((x >> 20) % 1000) as f64 * 0.01;
                let q = 0.001 * (1 + (x >> 40) % 900) as f64;
                (ts, p, q)
            })
            .collect()
    }

    #[test]
    fn matches_the_naive_definition() {
        for (step, seed) in [(40, 1), (700, 2), (9_000, 3), (400_000, 4)] {
            let t = ticks(5_000, step, seed);
            for tf in Timeframe::ALL {
                let got = bars_from_ticks(tf, t.iter().copied());
                let want = naive(tf, &t);
                assert_eq!(got.len(), want.len(), "{tf:?}");
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(
                        (g.ts, g.open, g.high, g.low, g.close, g.trades),
                        (w.ts, w.open, w.high, w.low, w.close, w.trades),
                        "{tf:?}"
                    );
                    // Only the order of the sums differs.
                    assert!((g.volume - w.volume).abs() <= 1e-12 * w.volume, "{tf:?}");
                    assert!((g.vwap - w.vwap).abs() <= 1e-12 * w.vwap, "{tf:?}");
                }
            }
        }
    }

    #[test]
    fn bars_from_stored_partials_are_bit_identical_to_bars_from_ticks() {
        let t = ticks(20_000, 900, 7);
        let secs = partials_from_ticks(Tier::S1, t.iter().copied());
        let mins = partials_from_ticks(Tier::M1, t.iter().copied());
        // The minute partials are the second partials folded.
        let mut c = Cascade::new(Timeframe::M1);
        secs.iter().for_each(|s| c.push_partial(Tier::S1, s));
        let from_secs = c.finish();
        assert_eq!(
            from_secs,
            mins.iter().map(|m| m.into_bar()).collect::<Vec<_>>()
        );
        for tf in Timeframe::ALL {
            let want = bars_from_ticks(tf, t.iter().copied());
            let tier = Tier::for_timeframe(tf);
            let mut c = Cascade::new(tf);
            for p in if tier == Tier::M1 { &mins } else { &secs } {
                c.push_partial(tier, p);
            }
            assert_eq!(c.finish(), want, "{tf:?}");
            // Mixed: ticks, then seconds, then minutes, split on minute edges.
            let cut1 = Tier::M1.floor(t[t.len() / 3].0);
            let cut2 = Tier::M1.floor(t[2 * t.len() / 3].0);
            let mut c = Cascade::new(tf);
            t.iter()
                .filter(|x| x.0 < cut1)
                .for_each(|&(ts, p, q)| c.push_tick(ts, p, q));
            secs.iter()
                .filter(|s| s.ts >= cut1 && s.ts < cut2)
                .for_each(|s| c.push_partial(Tier::S1, s));
            if tier == Tier::M1 {
                mins.iter()
                    .filter(|m| m.ts >= cut2)
                    .for_each(|m| c.push_partial(Tier::M1, m));
            } else {
                secs.iter()
                    .filter(|s| s.ts >= cut2)
                    .for_each(|s| c.push_partial(Tier::S1, s));
            }
            assert_eq!(c.finish(), want, "mixed {tf:?}");
        }
    }

    #[test]
    fn a_tier_serves_the_timeframes_it_divides() {
        use Timeframe::*;
        for tf in [S1, S5, S15] {
            assert_eq!(Tier::for_timeframe(tf), Tier::S1);
        }
        for tf in [M1, M5, M15, H1, D1] {
            assert_eq!(Tier::for_timeframe(tf), Tier::M1);
        }
        assert_eq!(Tier::M1.floor(119_999), 60_000);
        assert_eq!(Tier::S1.floor(-1), -1_000);
    }
}
