//! A pair's Engle-Granger tests (both directions), AR(1) half-life and
//! log-return correlation kept current over a sliding window of aligned
//! bars: what the scanner refreshes when a bar arrives.
//!
//! # One moment matrix
//!
//! Every statistic here is a function of the level sums `Σx, Σy, Σx², Σxy,
//! Σy²` over the window's rows `t = 0 .. n-1` and of one moment matrix
//! `G = Σ_t z_t z_tᵀ` over `t = K+1 .. n-1` of the row
//!
//! ```text
//! z_t = [y_{t-1}, x_{t-1}, 1, Δy_t, Δx_t, Δy_{t-1}, Δx_{t-1}, .., Δy_{t-K}, Δx_{t-K}]
//! ```
//!
//! (levels centred on anchors fixed when the window was built). The ADF
//! regression of the residual `e = y - a - b x` at lag `k <= K`, without
//! deterministic terms as `coint` runs it, has regressors
//! `[Δe_{t-1} .. Δe_{t-k}, e_{t-1}]` and response `Δe_t`, each a linear map
//! of `z_t`, so its cross-product matrix is `A G_k Aᵀ` where `G_k` is the
//! leading `2k+5` block of `G` plus the rows `t = k+1 .. K` a shorter lag
//! also uses (taken from the window's head). The statistic is read off the
//! Cholesky factor of that small matrix as [`super::adf::adfuller`] reads
//! it off the design's. The half-life (`Δs_t` on `[1, s_{t-1}]`) and the
//! correlation of `Δx, Δy` come from the same matrix at `k = 0`.
//!
//! A new bar adds one row and the oldest bar takes one away: O(K²) work per
//! bar instead of O(n K²) for a refit.
//!
//! # What is held between full tests
//!
//! The lags are the ones the last full test chose by AIC. Between full
//! tests they are held, so a refreshed statistic equals
//! `coint(y, x, autolag=None, maxlag=k)` on the new window, not a fresh lag
//! choice; the scanner re-tests in full every 30 bars. The window's matrix
//! is built in bulk (one dot product per entry, rounding about `n ε` of its
//! terms); each slide then adds and removes a bar's products, computed
//! identically both times, into compensated sums ([`CSum`]), so slides add
//! no drift of their own, and the full re-test rebuilds the matrix.

use super::error::{AnalyticsError, Result};
use super::mackinnon::{mackinnonp, Trend};
use super::moments::{is_flat, CSum};

/// One aligned bar of the pair: `(x, y)` log closes.
pub type Row = (f64, f64);

/// An Engle-Granger statistic and its MacKinnon p-value (`N = 2`, `"c"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EgStat {
    pub stat: f64,
    pub pvalue: f64,
}

/// The statistics of the current window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlidingStats {
    pub n: usize,
    /// OLS of y on `[x, 1]`: `y = alpha + beta x`.
    pub beta: f64,
    pub alpha: f64,
    /// `coint(y, x)` at the held lag.
    pub yx: EgStat,
    /// `coint(x, y)` at the held lag.
    pub xy: EgStat,
    /// AR(1) slope of the spread `y - alpha - beta x` (see `half_life`).
    pub lambda: f64,
    pub half_life: Option<f64>,
    /// Correlation of the log returns; `None` when a leg is flat.
    pub correlation: Option<f64>,
}

/// The sliding state (see module docs).
#[derive(Debug, Clone)]
pub struct SlidingCoint {
    lag_yx: usize,
    lag_xy: usize,
    /// `max(lag_yx, lag_xy)`: the lags `G` covers.
    big_k: usize,
    anchor: Row,
    n: usize,
    /// `Σx, Σy, Σx², Σxy, Σy²` of the centred levels.
    lv: [CSum; 5],
    /// Upper triangle of `G`, row-major, dimension `2K + 5`.
    g: Vec<CSum>,
}

/// `Σ a_i b_i` with four running sums (so the compiler can vectorise it).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Index of the level of `y` (0) or `x` (1) at `t-1`, of the constant,
/// and of `Δy` / `Δx` at `t - j`, in `z_t`.
const CONST: usize = 2;
fn dy(j: usize) -> usize {
    3 + 2 * j
}
fn dx(j: usize) -> usize {
    4 + 2 * j
}

/// Where a leg's `Δ` at `t - j` sits in `z_t` ([`dy`] or [`dx`]).
type Column = fn(usize) -> usize;

fn dim(k: usize) -> usize {
    2 * k + 5
}

impl SlidingCoint {
    /// The state of the window `(x, y)` with the ADF lags `lag_yx` (for
    /// `coint(y, x)`) and `lag_xy` (for `coint(x, y)`).
    pub fn new(x: &[f64], y: &[f64], lag_yx: usize, lag_xy: usize) -> Result<Self> {
        super::validate::pair(x, y)?;
        super::validate::finite("x", x)?;
        super::validate::finite("y", y)?;
        let big_k = lag_yx.max(lag_xy);
        super::validate::min_len("sliding Engle-Granger window", x.len(), 2 * big_k + 6)?;
        let n = x.len() as f64;
        let anchor = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
        let d = dim(big_k);
        let mut s = SlidingCoint {
            lag_yx,
            lag_xy,
            big_k,
            anchor,
            n: 0,
            lv: [CSum::default(); 5],
            g: vec![CSum::default(); d * (d + 1) / 2],
        };
        let rows: Vec<Row> = x.iter().copied().zip(y.iter().copied()).collect();
        for &r in &rows {
            s.level(r, 1.0);
            s.n += 1;
        }
        // G in bulk: Z column by column, then one dot product per entry
        // (a scan builds this for every pair; row-by-row updates of the
        // packed triangle cost several times more).
        let m = rows.len() - big_k - 1;
        let mut cols = vec![0.0; d * m];
        let mut z = vec![0.0; d];
        for r in 0..m {
            s.z_into(&rows[r..=r + big_k + 1], big_k, &mut z);
            for (c, v) in z.iter().enumerate() {
                cols[c * m + r] = *v;
            }
        }
        let mut at = 0;
        for i in 0..d {
            let ci = &cols[i * m..(i + 1) * m];
            for j in i..d {
                s.g[at].add(dot(ci, &cols[j * m..(j + 1) * m]));
                at += 1;
            }
        }
        Ok(s)
    }

    /// Bytes the state holds on the heap (its moment matrix).
    pub fn heap_bytes(&self) -> usize {
        self.g.len() * std::mem::size_of::<CSum>()
    }

    /// The held ADF lags: `(lag_yx, lag_xy)`.
    pub fn lags(&self) -> (usize, usize) {
        (self.lag_yx, self.lag_xy)
    }

    /// Rows the window must keep at either end for [`Self::push`],
    /// [`Self::pop_back`] and [`Self::pop_front`]: `K + 2`.
    pub fn span(&self) -> usize {
        self.big_k + 2
    }

    /// Rows in the window.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when the window holds no rows.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Appends the last row of `tail`, the window's newest [`Self::span`]
    /// rows after the append.
    pub fn push(&mut self, tail: &[Row]) {
        debug_assert_eq!(tail.len(), self.span());
        self.level(tail[tail.len() - 1], 1.0);
        self.n += 1;
        self.gram(tail, 1.0);
    }

    /// Removes the newest row; `tail` is the window's newest
    /// [`Self::span`] rows before the removal.
    pub fn pop_back(&mut self, tail: &[Row]) {
        debug_assert_eq!(tail.len(), self.span());
        self.gram(tail, -1.0);
        self.level(tail[tail.len() - 1], -1.0);
        self.n -= 1;
    }

    /// Removes the oldest row; `head` is the window's oldest
    /// [`Self::span`] rows before the removal.
    pub fn pop_front(&mut self, head: &[Row]) {
        debug_assert_eq!(head.len(), self.span());
        self.gram(head, -1.0);
        self.level(head[0], -1.0);
        self.n -= 1;
    }

    fn level(&mut self, (x, y): Row, sign: f64) {
        let (x, y) = (x - self.anchor.0, y - self.anchor.1);
        for (s, v) in self.lv.iter_mut().zip([x, y, x * x, x * y, y * y]) {
            s.add(sign * v);
        }
    }

    /// Writes `z_t` at lag `k` from the rows `t-k-1 ..= t` into
    /// `z[..dim(k)]`.
    fn z_into(&self, w: &[Row], k: usize, z: &mut [f64]) {
        let lag = w[k];
        z[0] = lag.1 - self.anchor.1;
        z[1] = lag.0 - self.anchor.0;
        z[CONST] = 1.0;
        for j in 0..=k {
            let (now, before) = (w[k + 1 - j], w[k - j]);
            z[dy(j)] = now.1 - before.1;
            z[dx(j)] = now.0 - before.0;
        }
    }

    fn gram(&mut self, w: &[Row], sign: f64) {
        // One small allocation per call: keeping `z` on the stack measured
        // no faster in the scanner's refresh bench (three calls a pair).
        let d = dim(self.big_k);
        let mut z = vec![0.0; d];
        self.z_into(w, self.big_k, &mut z);
        let mut at = 0;
        for i in 0..d {
            for j in i..d {
                self.g[at].add(sign * (z[i] * z[j]));
                at += 1;
            }
        }
    }

    fn g_at(&self, i: usize, j: usize) -> f64 {
        let d = dim(self.big_k);
        let (i, j) = if i <= j { (i, j) } else { (j, i) };
        // Rows before `i` hold d, d-1, .., d-i+1 entries.
        self.g[i * d - i * i.saturating_sub(1) / 2 + (j - i)].value()
    }

    /// The statistics of the window; `head` is its oldest `K + 1` rows.
    pub fn stats(&self, head: &[Row]) -> Result<SlidingStats> {
        let k = self.big_k;
        if head.len() < k + 1 || self.n < 2 * k + 6 {
            return Err(AnalyticsError::TooShort {
                what: "sliding Engle-Granger window",
                needed: 2 * k + 6,
                got: self.n,
            });
        }
        let n = self.n as f64;
        let [sx, sy, sxx, sxy, syy] = self.lv.map(|s| s.value());
        let (mx, my) = (sx / n, sy / n);
        let cxx = sxx - sx * mx;
        let cyy = syy - sy * my;
        let cxy = sxy - sx * my;
        if is_flat(cxx, self.n, mx + self.anchor.0) {
            return Err(AnalyticsError::ConstantSeries { series: "x" });
        }
        if is_flat(cyy, self.n, my + self.anchor.1) {
            return Err(AnalyticsError::ConstantSeries { series: "y" });
        }
        let r2 = cxy * cxy / (cxx * cyy);
        if r2 >= 1.0 - 100.0 * f64::EPSILON.sqrt() {
            return Err(AnalyticsError::Collinear {
                what: "cointegration test (series are almost perfectly collinear)",
            });
        }
        let beta = cxy / cxx;
        let a_c = my - beta * mx;
        let beta_xy = cxy / cyy;
        let a_xy = mx - beta_xy * my;
        let yx = self.eg(head, Leg::Y, beta, a_c, self.lag_yx)?;
        let xy = self.eg(head, Leg::X, beta_xy, a_xy, self.lag_xy)?;

        // Half-life: Δs_t on [1, s_{t-1}] over t = 1 .. n-1.
        let lin = [
            vec![(CONST, 1.0)],
            vec![(0, 1.0), (1, -beta), (CONST, -a_c)],
            vec![(dy(0), 1.0), (dx(0), -beta)],
        ];
        let m = self.moments(head, 0, &lin);
        let r = cholesky(&m).ok_or(AnalyticsError::Collinear {
            what: "half-life regression",
        })?;
        let lambda = r[1][2] / r[1][1];
        let half_life = (lambda < 0.0).then(|| -std::f64::consts::LN_2 / lambda);

        // Return correlation over the same rows.
        let lin = [vec![(CONST, 1.0)], vec![(dx(0), 1.0)], vec![(dy(0), 1.0)]];
        let m = self.moments(head, 0, &lin);
        let rows = m[0][0];
        let (rx, ry) = (m[0][1] / rows, m[0][2] / rows);
        let vxx = m[1][1] - m[0][1] * rx;
        let vyy = m[2][2] - m[0][2] * ry;
        let vxy = m[1][2] - m[0][1] * ry;
        let n_ret = self.n - 1;
        let correlation = (!(is_flat(vxx, n_ret, rx) || is_flat(vyy, n_ret, ry)))
            .then(|| (vxy / (vxx.sqrt() * vyy.sqrt())).clamp(-1.0, 1.0));
        Ok(SlidingStats {
            n: self.n,
            beta,
            alpha: self.anchor.1 + a_c - beta * self.anchor.0,
            yx,
            xy,
            lambda,
            half_life,
            correlation,
        })
    }

    /// `coint(dep, ind)` at lag `k` with the cointegrating fit
    /// `dep = a + b ind` (centred coordinates).
    fn eg(&self, head: &[Row], dep: Leg, b: f64, a: f64, k: usize) -> Result<EgStat> {
        let (lv_dep, lv_ind) = match dep {
            Leg::Y => (0, 1),
            Leg::X => (1, 0),
        };
        let (d_dep, d_ind): (Column, Column) = match dep {
            Leg::Y => (dy, dx),
            Leg::X => (dx, dy),
        };
        let mut lin: Vec<Vec<(usize, f64)>> = (1..=k)
            .map(|j| vec![(d_dep(j), 1.0), (d_ind(j), -b)])
            .collect();
        lin.push(vec![(lv_dep, 1.0), (lv_ind, -b), (CONST, -a)]);
        lin.push(vec![(d_dep(0), 1.0), (d_ind(0), -b)]);
        let m = self.moments(head, k, &lin);
        let r = cholesky(&m).ok_or(AnalyticsError::Collinear {
            what: "ADF regression (perfect fit)",
        })?;
        let nobs = self.n - k - 1;
        let ncols = k + 1;
        let ssr = r[ncols][ncols] * r[ncols][ncols];
        let s = (ssr / (nobs - ncols) as f64).sqrt();
        let stat = r[k][ncols] / s;
        if !stat.is_finite() {
            return Err(AnalyticsError::Collinear {
                what: "ADF regression (perfect fit)",
            });
        }
        Ok(EgStat {
            stat,
            pvalue: mackinnonp(stat, Trend::C, 2)?,
        })
    }

    /// `A G_k Aᵀ` for the sparse rows `lin` of `A` (see module docs).
    fn moments(&self, head: &[Row], k: usize, lin: &[Vec<(usize, f64)>]) -> Vec<Vec<f64>> {
        let m = lin.len();
        let mut out = vec![vec![0.0; m]; m];
        for r in 0..m {
            for s in r..m {
                let mut v = 0.0;
                for &(i, ai) in &lin[r] {
                    for &(j, aj) in &lin[s] {
                        v += ai * aj * self.g_at(i, j);
                    }
                }
                out[r][s] = v;
            }
        }
        // Rows t = k+1 .. K, outside G's range but inside lag k's sample.
        let mut z = vec![0.0; dim(k)];
        let mut az = vec![0.0; m];
        for t in (k + 1)..=self.big_k {
            self.z_into(&head[t - k - 1..=t], k, &mut z);
            for (v, row) in az.iter_mut().zip(lin) {
                *v = row.iter().map(|&(i, a)| a * z[i]).sum();
            }
            for r in 0..m {
                for s in r..m {
                    out[r][s] += az[r] * az[s];
                }
            }
        }
        for r in 1..m {
            let (above, rest) = out.split_at_mut(r);
            for (s, row) in above.iter().enumerate() {
                rest[0][s] = row[r];
            }
        }
        out
    }
}

#[derive(Clone, Copy)]
enum Leg {
    X,
    Y,
}

/// Upper Cholesky factor `R` (`RᵀR = m`), or `None` when `m` is not
/// positive definite.
fn cholesky(m: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = m.len();
    let mut r = vec![vec![0.0; n]; n];
    for i in 0..n {
        let mut d = m[i][i];
        for row in r.iter().take(i) {
            d -= row[i] * row[i];
        }
        // Not positive (or NaN): not positive definite.
        if d.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        r[i][i] = d.sqrt();
        for j in (i + 1)..n {
            let mut v = m[i][j];
            for row in r.iter().take(i) {
                v -= row[i] * row[j];
            }
            r[i][j] = v / r[i][i];
        }
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::adf::Autolag;
    use crate::analytics::coint::coint;
    use crate::analytics::correlation::log_return_correlation;
    use crate::analytics::half_life::half_life;
    use crate::analytics::ols::ols;

    fn rng(seed: u64) -> impl FnMut() -> f64 {
        let mut s = seed;
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        }
    }

    /// A cointegrated pair of log prices near BTC/ETH levels.
    fn pair(n: usize, seed: u64) -> Vec<Row> {
        let mut u = rng(seed);
        let (mut x, mut e) = (11.4, 0.0);
        (0..n)
            .map(|_| {
                x += 1e-3 * u();
                e = 0.8 * e + 2e-4 * u();
                (x, 7.9 + 0.9 * (x - 11.4) + e)
            })
            .collect()
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    /// The naive definition: a refit of the window at the held lags.
    fn assert_matches_refit(s: &SlidingCoint, w: &[Row], lag_yx: usize, lag_xy: usize) {
        let x: Vec<f64> = w.iter().map(|r| r.0).collect();
        let y: Vec<f64> = w.iter().map(|r| r.1).collect();
        let got = s.stats(&w[..s.span() - 1]).unwrap();
        let fit = ols(&x, &y, true).unwrap();
        let yx = coint(&y, &x, Autolag::None, Some(lag_yx)).unwrap();
        let xy = coint(&x, &y, Autolag::None, Some(lag_xy)).unwrap();
        let hl = half_life(&fit.residuals(&x, &y)).unwrap();
        let corr = log_return_correlation(&x, &y).unwrap().unwrap();
        assert_eq!(got.n, w.len());
        assert!(close(got.beta, fit.beta, 1e-9), "{} {}", got.beta, fit.beta);
        assert!(close(got.alpha, fit.alpha, 1e-9));
        assert!(
            close(got.yx.stat, yx.stat, 1e-9),
            "{} {}",
            got.yx.stat,
            yx.stat
        );
        assert!(
            close(got.xy.stat, xy.stat, 1e-9),
            "{} {}",
            got.xy.stat,
            xy.stat
        );
        assert!(close(got.yx.pvalue, yx.pvalue, 1e-8));
        assert!(close(got.xy.pvalue, xy.pvalue, 1e-8));
        assert!(
            close(got.lambda, hl.lambda, 1e-9),
            "{} {}",
            got.lambda,
            hl.lambda
        );
        assert!(close(got.correlation.unwrap(), corr, 1e-9));
    }

    #[test]
    fn built_window_matches_a_refit_at_every_lag_pair() {
        let w = pair(600, 7);
        let x: Vec<f64> = w.iter().map(|r| r.0).collect();
        let y: Vec<f64> = w.iter().map(|r| r.1).collect();
        for (a, b) in [(0, 0), (0, 3), (2, 1), (4, 4)] {
            let s = SlidingCoint::new(&x, &y, a, b).unwrap();
            assert_matches_refit(&s, &w, a, b);
        }
    }

    /// Thousands of slides (drop the oldest, revise the newest, append)
    /// stay at a refit of the final window: the sums do not drift.
    #[test]
    fn slides_match_a_refit_of_the_final_window() {
        let all = pair(4000, 3);
        let (lag_yx, lag_xy) = (2, 3);
        let width = 500;
        let mut w: Vec<Row> = all[..width].to_vec();
        let x: Vec<f64> = w.iter().map(|r| r.0).collect();
        let y: Vec<f64> = w.iter().map(|r| r.1).collect();
        let mut s = SlidingCoint::new(&x, &y, lag_yx, lag_xy).unwrap();
        let span = s.span();
        let mut u = rng(99);
        for next in &all[width..] {
            // The newest bar was partial: take it back, then revise it.
            let revised = (w[w.len() - 1].0 + 1e-5 * u(), w[w.len() - 1].1 + 1e-5 * u());
            s.pop_back(&w[w.len() - span..]);
            w.pop();
            w.push(revised);
            s.push(&w[w.len() - span..]);
            s.pop_front(&w[..span]);
            w.remove(0);
            w.push(*next);
            s.push(&w[w.len() - span..]);
        }
        assert_eq!(s.len(), width);
        assert_matches_refit(&s, &w, lag_yx, lag_xy);
    }

    #[test]
    fn refuses_flat_and_short_windows() {
        let x = vec![1.0; 50];
        let y: Vec<f64> = (0..50).map(|i| i as f64).collect();
        let s = SlidingCoint::new(&x, &y, 0, 0).unwrap();
        let head: Vec<Row> = x.iter().copied().zip(y.iter().copied()).collect();
        assert!(matches!(
            s.stats(&head[..1]),
            Err(AnalyticsError::ConstantSeries { series: "x" })
        ));
        assert!(SlidingCoint::new(&x[..5], &y[..5], 1, 0).is_err());
        assert!(SlidingCoint::new(&[f64::NAN; 20], &y[..20], 0, 0).is_err());
    }

    #[test]
    fn cholesky_refuses_a_singular_matrix() {
        assert!(cholesky(&[vec![1.0, 1.0], vec![1.0, 1.0]]).is_none());
        let r = cholesky(&[vec![4.0, 2.0], vec![2.0, 5.0]]).unwrap();
        assert_eq!(r, vec![vec![2.0, 1.0], vec![0.0, 2.0]]);
    }
}
