//! Streaming centred (co)moments over a sliding window with O(1)
//! add/remove updates (Welford / West style).
//!
//! Naive running sums of squares cancel catastrophically at BTC price
//! levels (`sum x^2 ~ 1e12` per bar against a variance of ~1e2), so the
//! window state is kept as means plus centred sums; callers re-seed from
//! their ring buffer periodically to stop rounding drift from accumulating
//! over millions of updates.

/// Means and centred cross-products of `(x, y)` pairs in a window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CoMoments {
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

impl CoMoments {
    /// Adds one observation.
    #[inline]
    pub fn add(&mut self, x: f64, y: f64) {
        self.n += 1;
        let nf = self.n as f64;
        let dx = x - self.mx;
        let dy = y - self.my;
        self.mx += dx / nf;
        self.my += dy / nf;
        let ex = x - self.mx;
        let ey = y - self.my;
        self.sxx += dx * ex;
        self.sxy += dx * ey;
        self.syy += dy * ey;
    }

    /// Removes an observation that was previously added.
    #[inline]
    pub fn remove(&mut self, x: f64, y: f64) {
        if self.n <= 1 {
            *self = Self::default();
            return;
        }
        let nf = (self.n - 1) as f64;
        let dx = x - self.mx;
        let dy = y - self.my;
        self.n -= 1;
        self.mx -= dx / nf;
        self.my -= dy / nf;
        let ex = x - self.mx;
        let ey = y - self.my;
        // Exact inverse of `add`: the old point against the reduced mean.
        self.sxx -= dx * ex;
        self.sxy -= ex * dy;
        self.syy -= dy * ey;
        if self.sxx < 0.0 {
            self.sxx = 0.0;
        }
        if self.syy < 0.0 {
            self.syy = 0.0;
        }
    }

    /// Exact two-pass recomputation from the points in the window.
    pub fn from_pairs<I>(pairs: I) -> Self
    where
        I: Iterator<Item = (f64, f64)> + Clone,
    {
        let (mut n, mut sx, mut sy) = (0usize, 0.0, 0.0);
        for (x, y) in pairs.clone() {
            n += 1;
            sx += x;
            sy += y;
        }
        if n == 0 {
            return Self::default();
        }
        let (mx, my) = (sx / n as f64, sy / n as f64);
        let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
        for (x, y) in pairs {
            let (dx, dy) = (x - mx, y - my);
            sxx += dx * dx;
            sxy += dx * dy;
            syy += dy * dy;
        }
        Self {
            n,
            mx,
            my,
            sxx,
            sxy,
            syy,
        }
    }

    /// True when the x variance is zero up to rounding noise relative to the
    /// level of x, i.e. the slope is not identified.
    #[inline]
    pub fn x_degenerate(&self) -> bool {
        degenerate(self.sxx, self.n, self.mx)
    }

    /// Same test for y.
    #[inline]
    pub fn y_degenerate(&self) -> bool {
        degenerate(self.syy, self.n, self.my)
    }
}

/// A centred sum of squares is treated as zero when it is below the rounding
/// noise that incremental updates at level `m` can leave behind.
#[inline]
fn degenerate(ss: f64, n: usize, m: f64) -> bool {
    ss <= 64.0 * f64::EPSILON * f64::EPSILON * n as f64 * m * m || ss <= 0.0
}
