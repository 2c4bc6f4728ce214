//! Sliding-window sums for the rolling estimators (rolling OLS, rolling
//! z-score, rolling correlation), accurate to a fresh two-pass fit of the
//! same window at O(1) amortised cost per bar.
//!
//! # Why the old scheme drifted
//!
//! Windows of 1 s log prices sit at a level near 11.4 while they move by
//! 1e-6..1e-4 within a minute, so the x spread is 1e-7..1e-5 of the level.
//! The previous state was a running mean plus centred sums updated by
//! Welford-style add/remove. Every mean update rounds to an ulp of the
//! *level* (1.8e-15 at 11.4), and the remove step is only the exact inverse
//! of the add step when the mean is exact, so each bar left an error of
//! about `|x - mean| * ulp(level)` in the centred sums. Relative to a window
//! sum of squares of 1e-12..1e-9 that is 1e-9..1e-6 per bar, and it piled
//! up for `window` bars until the periodic re-seed: on the shared recording
//! rolling beta was off by up to 7e-5 relative.
//!
//! # What replaced it (and why)
//!
//! * **Shift re-anchored to the window.** Each leg is stored as
//!   `a = x - kx` with the anchor `kx` a *data value of the window* (the
//!   one nearest its mean). `x` and `kx` are within a factor of two of each
//!   other, so by Sterbenz's lemma `a` is exact: the level never enters the
//!   sums and its ulp is irrelevant.
//! * **Compensated sums.** `Σa, Σb, Σa², Σab, Σb²` are kept as
//!   TwoSum-compensated pairs (Knuth), so adds and removes do not accumulate
//!   rounding: the stored value is the exact sum of the current window's
//!   (rounded) products to within a few ulps, whatever left the window
//!   before. The product `a*a` of a bar is computed identically when it is
//!   added and when it is removed, so its rounding leaves with it.
//! * **Error estimate → exact refill.** The centred sum is
//!   `cxx = Σa² - (Σa)²/n`; its rounding error is at most about
//!   `6 u Σa²` (`u = 2^-53`), so the ratio `Σa² / cxx` is the factor by
//!   which digits are lost. When it exceeds [`REANCHOR_RATIO`] (the window
//!   mean drifted away from the anchor), the sums are rebuilt exactly from
//!   the window with a new anchor. That bounds the relative error of `cxx`,
//!   `cyy` and `cxy / sqrt(cxx cyy)` by `6 u * 1024 < 7e-13`. Windows whose
//!   spread is below the identification threshold ([`FLAT_RELATIVE_SPREAD`])
//!   only need enough digits to decide that, so they do not force refills.
//!   A refill also happens every [`REFILL_EVERY`] windows as insurance
//!   against the second-order drift of the compensation terms.
//!
//! Chosen over re-seeding a Welford state more often (still drifts between
//! re-seeds and costs O(window) each time) and over double-double products
//! (needs a fused multiply-add, which baseline x86-64 lacks and the libm
//! fallback makes slow). Cost: about a dozen flops per sum per bar and a
//! refill only when the price trends away from the anchor.

/// A window's x values are "flat" (the slope on them is not identified)
/// when their population standard deviation is at most this fraction of
/// their level: `sqrt(Sxx / n) <= 1e-10 * |mean x|`, or `Sxx == 0`.
///
/// Why 1e-10: an f64 log price carries a rounding error of up to
/// `2^-53 |x|`, so below this spread each deviation `x - mean` is uncertain
/// by more than 1.1e-6 of itself and the 6th digit of beta is noise. Even an
/// exact fit of such a window could not be read to the 4-5 digits traders
/// use. On real data the smallest non-zero spread (one BTC tick of 0.1 in
/// a 300-bar window of log prices) is about 6e-8 / 11.4 = 5e-9, well above.
pub const FLAT_RELATIVE_SPREAD: f64 = 1e-10;

/// Re-anchor when the raw shifted sum of squares exceeds the centred one by
/// this factor (digits lost to the centring subtraction, see module docs).
pub(crate) const REANCHOR_RATIO: f64 = 1024.0;

/// Insurance refill period, in windows' worth of updates.
pub(crate) const REFILL_EVERY: usize = 64;

/// True when a centred sum of squares `ss` of `n` values with mean `mean`
/// is flat in the sense of [`FLAT_RELATIVE_SPREAD`].
#[inline]
pub fn is_flat(ss: f64, n: usize, mean: f64) -> bool {
    let lim = FLAT_RELATIVE_SPREAD * mean;
    ss <= 0.0 || ss <= lim * lim * n as f64
}

/// TwoSum-compensated accumulator: `hi + lo` is the running sum with the
/// rounding error of every addition kept in `lo`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CSum {
    hi: f64,
    lo: f64,
}

impl CSum {
    #[inline]
    pub(crate) fn add(&mut self, v: f64) {
        let s = self.hi + v;
        let bv = s - self.hi;
        let err = (self.hi - (s - bv)) + (v - bv);
        self.hi = s;
        self.lo += err;
    }

    #[inline]
    pub(crate) fn value(&self) -> f64 {
        self.hi + self.lo
    }
}

/// Centred moments of a window: means and centred (co)sums of squares.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Centred {
    pub n: usize,
    pub mx: f64,
    pub my: f64,
    /// `sum (x - mx)^2`
    pub sxx: f64,
    /// `sum (x - mx)(y - my)`
    pub sxy: f64,
    /// `sum (y - my)^2`
    pub syy: f64,
}

impl Centred {
    /// Two-pass computation from the pairs of a window.
    pub fn from_pairs<I>(pairs: I) -> Self
    where
        I: Iterator<Item = (f64, f64)> + Clone,
    {
        let mut w = PairSums::default();
        w.refill(pairs);
        w.centred()
    }

    /// x is flat (see [`FLAT_RELATIVE_SPREAD`]).
    #[inline]
    pub fn x_flat(&self) -> bool {
        is_flat(self.sxx, self.n, self.mx)
    }

    /// y is flat (see [`FLAT_RELATIVE_SPREAD`]).
    #[inline]
    pub fn y_flat(&self) -> bool {
        is_flat(self.syy, self.n, self.my)
    }
}

/// Anchored, compensated sums of a window of `(x, y)` pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct PairSums {
    pub(crate) n: usize,
    pub(crate) kx: f64,
    pub(crate) ky: f64,
    sa: CSum,
    sb: CSum,
    saa: CSum,
    sab: CSum,
    sbb: CSum,
}

/// The data value of `vals` nearest their mean (exact anchor).
fn nearest_to_mean<I: Iterator<Item = f64> + Clone>(vals: I) -> f64 {
    let (mut s, mut n) = (CSum::default(), 0usize);
    for v in vals.clone() {
        s.add(v);
        n += 1;
    }
    let m = s.value() / n.max(1) as f64;
    let mut best = f64::NAN;
    let mut dist = f64::INFINITY;
    for v in vals {
        let d = (v - m).abs();
        if d < dist {
            dist = d;
            best = v;
        }
    }
    if best.is_nan() {
        0.0
    } else {
        best
    }
}

impl PairSums {
    #[inline]
    pub(crate) fn add(&mut self, x: f64, y: f64) {
        let a = x - self.kx;
        let b = y - self.ky;
        self.n += 1;
        self.sa.add(a);
        self.sb.add(b);
        self.saa.add(a * a);
        self.sab.add(a * b);
        self.sbb.add(b * b);
    }

    /// Removes a pair added since the last refill (the anchor must not have
    /// changed in between, so the products round identically).
    #[inline]
    pub(crate) fn remove(&mut self, x: f64, y: f64) {
        let a = x - self.kx;
        let b = y - self.ky;
        self.n -= 1;
        self.sa.add(-a);
        self.sb.add(-b);
        self.saa.add(-(a * a));
        self.sab.add(-(a * b));
        self.sbb.add(-(b * b));
    }

    /// Rebuilds the sums from the window's pairs with fresh anchors.
    pub(crate) fn refill<I>(&mut self, pairs: I)
    where
        I: Iterator<Item = (f64, f64)> + Clone,
    {
        *self = Self {
            kx: nearest_to_mean(pairs.clone().map(|p| p.0)),
            ky: nearest_to_mean(pairs.clone().map(|p| p.1)),
            ..Self::default()
        };
        for (x, y) in pairs {
            self.add(x, y);
        }
    }

    /// Raw shifted sums `(Σa², Σb²)` (the error scale of the centred sums).
    #[inline]
    pub(crate) fn raw_squares(&self) -> (f64, f64) {
        (self.saa.value(), self.sbb.value())
    }

    /// Centred moments of the window.
    #[inline]
    pub(crate) fn centred(&self) -> Centred {
        if self.n == 0 {
            return Centred::default();
        }
        let nf = self.n as f64;
        let (sa, sb) = (self.sa.value(), self.sb.value());
        let (da, db) = (sa / nf, sb / nf);
        Centred {
            n: self.n,
            mx: self.kx + da,
            my: self.ky + db,
            sxx: (self.saa.value() - sa * da).max(0.0),
            sxy: self.sab.value() - sa * db,
            syy: (self.sbb.value() - sb * db).max(0.0),
        }
    }

    /// `(y - mean y) - beta (x - mean x)` from the exact anchored
    /// differences (no subtraction at the level of the data).
    #[inline]
    pub(crate) fn residual(&self, x: f64, y: f64, beta: f64) -> f64 {
        let nf = self.n as f64;
        let da = self.sa.value() / nf;
        let db = self.sb.value() / nf;
        ((y - self.ky) - db) - beta * ((x - self.kx) - da)
    }

    /// Raw (uncentred) `(Σx², Σxy)` for the regression through the origin.
    #[inline]
    pub(crate) fn raw_products(&self) -> (f64, f64) {
        let nf = self.n as f64;
        let (sa, sb) = (self.sa.value(), self.sb.value());
        let xx = nf * self.kx * self.kx + 2.0 * self.kx * sa + self.saa.value();
        let xy = nf * self.kx * self.ky + self.kx * sb + self.ky * sa + self.sab.value();
        (xx, xy)
    }

    /// True when the centring subtraction of `c` (these sums' centred
    /// moments) may have lost more than the accuracy budget (see module
    /// docs); flat legs only need enough digits to be recognised as flat.
    #[inline]
    pub(crate) fn needs_refill(&self, c: &Centred) -> bool {
        let (raw_x, raw_y) = self.raw_squares();
        lossy(raw_x, c.sxx, c.n, c.mx) || lossy(raw_y, c.syy, c.n, c.my)
    }
}

#[inline]
fn lossy(raw: f64, centred: f64, n: usize, mean: f64) -> bool {
    let lim = FLAT_RELATIVE_SPREAD * mean;
    raw > REANCHOR_RATIO * centred.max(lim * lim * n as f64)
}

/// Anchored, compensated sums of a window of single values (z-score).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Sums {
    pub(crate) n: usize,
    pub(crate) k: f64,
    sa: CSum,
    saa: CSum,
}

impl Sums {
    #[inline]
    pub(crate) fn add(&mut self, v: f64) {
        let a = v - self.k;
        self.n += 1;
        self.sa.add(a);
        self.saa.add(a * a);
    }

    #[inline]
    pub(crate) fn remove(&mut self, v: f64) {
        let a = v - self.k;
        self.n -= 1;
        self.sa.add(-a);
        self.saa.add(-(a * a));
    }

    pub(crate) fn refill<I: Iterator<Item = f64> + Clone>(&mut self, vals: I) {
        *self = Self {
            k: nearest_to_mean(vals.clone()),
            ..Self::default()
        };
        for v in vals {
            self.add(v);
        }
    }

    /// `(mean - k, centred sum of squares, raw shifted sum of squares)`.
    #[inline]
    pub(crate) fn moments(&self) -> (f64, f64, f64) {
        let nf = self.n as f64;
        let sa = self.sa.value();
        let d = sa / nf;
        let raw = self.saa.value();
        (d, (raw - sa * d).max(0.0), raw)
    }

    #[inline]
    pub(crate) fn needs_refill(&self, mean: f64, ss: f64, raw: f64) -> bool {
        lossy(raw, ss, self.n, mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact centred sums of values in [8, 16) (multiples of 2^-49) with
    /// i128 arithmetic: `(n Σd² - (Σd)²) / n`, scaled back.
    fn exact_sxx(xs: &[f64]) -> f64 {
        let q = 2f64.powi(49);
        let k = (xs[0] * q) as i128;
        let d: Vec<i128> = xs.iter().map(|v| (v * q) as i128 - k).collect();
        let n = d.len() as i128;
        let s: i128 = d.iter().sum();
        let s2: i128 = d.iter().map(|v| v * v).sum();
        (n * s2 - s * s) as f64 / n as f64 / (q * q)
    }

    #[test]
    fn compensated_sum_survives_large_terms_leaving() {
        let mut s = CSum::default();
        s.add(1e10);
        s.add(1e-6);
        s.add(-1e10);
        assert_eq!(s.value(), 1e-6);
    }

    #[test]
    fn sliding_sums_stay_exact_at_log_price_level() {
        // Level 11.4, moves of 1e-6: the conditioning of 1 s log prices.
        let xs: Vec<f64> = (0..5000)
            .map(|i| 11.4 + 1e-6 * (((i * 7919) % 13) as f64 - 6.0) + 1e-9 * i as f64)
            .collect();
        let w = 60;
        let mut p = PairSums::default();
        p.refill(xs[..w].iter().map(|&v| (v, v)));
        let mut refills = 0;
        for t in w..xs.len() {
            p.remove(xs[t - w], xs[t - w]);
            p.add(xs[t], xs[t]);
            let mut c = p.centred();
            if p.needs_refill(&c) {
                refills += 1;
                p.refill(xs[t + 1 - w..=t].iter().map(|&v| (v, v)));
                c = p.centred();
            }
            let want = exact_sxx(&xs[t + 1 - w..=t]);
            assert!(
                ((c.sxx - want) / want).abs() < 1e-12,
                "bar {t}: {} vs {want}",
                c.sxx
            );
            assert!(((c.sxy - want) / want).abs() < 1e-12);
        }
        assert!(refills < 200, "{refills} refills");
    }

    #[test]
    fn trend_away_from_anchor_triggers_refill() {
        let mut p = PairSums::default();
        // A trending first window, then the price settles ~0.09 higher
        // with moves of 1e-5: the old anchor is ~1e4 spreads away.
        let xs: Vec<f64> = (0..40)
            .map(|i| {
                if i < 10 {
                    11.4 + 1e-3 * i as f64
                } else {
                    11.5 + 1e-5 * (i % 3) as f64
                }
            })
            .collect();
        p.refill(xs[..10].iter().map(|&v| (v, 1.0)));
        for t in 10..40 {
            p.remove(xs[t - 10], 1.0);
            p.add(xs[t], 1.0);
        }
        let c = p.centred();
        assert!(p.needs_refill(&c));
        p.refill(xs[30..].iter().map(|&v| (v, 1.0)));
        assert!(!p.needs_refill(&p.centred()));
        assert_eq!(p.centred().syy, 0.0);
    }

    #[test]
    fn flat_threshold() {
        // sd / level = 1e-11: flat; 1e-9: not.
        assert!(is_flat(60.0 * (11.4e-11f64).powi(2), 60, 11.4));
        assert!(!is_flat(60.0 * (11.4e-9f64).powi(2), 60, 11.4));
        assert!(is_flat(0.0, 60, 0.0));
        assert!(!is_flat(1e-300, 60, 0.0));
    }

    #[test]
    fn anchor_is_a_data_value() {
        assert_eq!(nearest_to_mean([1.0, 2.0, 10.0].into_iter()), 2.0);
        let mut s = Sums::default();
        s.refill([3.3; 7].into_iter());
        let (d, ss, _) = s.moments();
        assert_eq!((s.k + d, ss), (3.3, 0.0));
    }
}
