//! The Johansen cointegration test of a basket of 2 to 12 series, as
//! `statsmodels.tsa.vector_ar.vecm.coint_johansen(data, det_order,
//! k_ar_diff)` computes it:
//!
//! 1. Detrend the levels by `det_order` (-1 none, 0 demean, 1 remove a
//!    linear trend by OLS on `linspace(-1, 1, T)` and a constant), take the
//!    differences `dx` and their `k_ar_diff` lags `z` (lag 1 first); for
//!    `det_order >= 0` the differences, the lags and the lagged levels are
//!    demeaned.
//! 2. `R0` = `dx` less its projection on `z`, `R1` = the lagged levels less
//!    theirs; `S_ij = R_i' R_j / T` with `T` the rows of `R1`.
//! 3. The eigenvalues `λ` of `S11^-1 S10 S00^-1 S01`, descending, and their
//!    eigenvectors `v` normalised so that `v' S11 v = I`.
//! 4. Trace statistics `-T Σ_{j >= r} ln(1 - λ_j)` and maximum-eigenvalue
//!    statistics `-T ln(1 - λ_r)` for each rank `r`, with the 90/95/99%
//!    critical values of Osterwald-Lenum / MacKinnon-Haug-Michelis that
//!    statsmodels tabulates (`coint_tables`), for `N - r` variables.
//!
//! The generalized eigenproblem is solved as a symmetric one through the
//! Cholesky factor of `S11` (LAPACK through ndarray-linalg, server only).
//! An eigenvector's sign is not identified: statsmodels returns numpy's
//! (LAPACK `geev`'s) choice with one global flip; here each vector's first
//! leg is made positive, so the first vector reads as weights long the
//! first leg. Compare vectors up to sign.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::error::{AnalyticsError, Result};

/// Deterministic terms of the test.
pub const DET_ORDERS: [i32; 3] = [-1, 0, 1];

/// The test's output; vectors and rows are indexed by rank `r = 0..N`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JohansenResult {
    pub det_order: i32,
    pub k_ar_diff: usize,
    /// Rows of the residual regressions (`T`).
    pub nobs: usize,
    /// Descending.
    pub eigenvalues: Vec<f64>,
    /// `eigenvectors[r]` is the vector of eigenvalue `r`, one weight per
    /// leg (normalised `v' S11 v = 1`, first leg positive).
    pub eigenvectors: Vec<Vec<f64>>,
    pub trace_stat: Vec<f64>,
    /// 90%, 95%, 99% per rank.
    pub trace_crit: Vec<[f64; 3]>,
    pub max_eig_stat: Vec<f64>,
    pub max_eig_crit: Vec<[f64; 3]>,
    /// Ranks selected at 95%: the first `r` whose statistic is below its
    /// critical value (as `select_coint_rank`).
    pub rank_trace: usize,
    pub rank_max_eig: usize,
}

#[cfg(feature = "ssr")]
/// Maximum-eigenvalue critical values by det_order -1, 0, 1.
/// Rows: N - r = 1..=12 variables; columns 90%, 95%, 99%.
const MAX_EIG_CRIT: [[[f64; 3]; 12]; 3] = [
    [
        [2.9762, 4.1296, 6.9406],
        [9.4748, 11.2246, 15.0923],
        [15.7175, 17.7961, 22.2519],
        [21.837, 24.1592, 29.0609],
        [27.916, 30.4428, 35.7359],
        [33.9271, 36.6301, 42.2333],
        [39.9085, 42.7679, 48.6606],
        [45.893, 48.8795, 55.0335],
        [51.8528, 54.9629, 61.3449],
        [57.7954, 61.0404, 67.6415],
        [63.7248, 67.0756, 73.8856],
        [69.6513, 73.0946, 80.0937],
    ],
    [
        [2.7055, 3.8415, 6.6349],
        [12.2971, 14.2639, 18.52],
        [18.8928, 21.1314, 25.865],
        [25.1236, 27.5858, 32.7172],
        [31.2379, 33.8777, 39.3693],
        [37.2786, 40.0763, 45.8662],
        [43.2947, 46.2299, 52.3069],
        [49.2855, 52.3622, 58.6634],
        [55.2412, 58.4332, 64.996],
        [61.2041, 64.504, 71.2525],
        [67.1307, 70.5392, 77.4877],
        [73.0563, 76.5734, 83.7105],
    ],
    [
        [2.7055, 3.8415, 6.6349],
        [15.0006, 17.1481, 21.7465],
        [21.8731, 24.2522, 29.2631],
        [28.2398, 30.8151, 36.193],
        [34.4202, 37.1646, 42.8612],
        [40.5244, 43.4183, 49.4095],
        [46.5583, 49.5875, 55.8171],
        [52.5858, 55.7302, 62.1741],
        [58.5316, 61.8051, 68.503],
        [64.5292, 67.904, 74.7434],
        [70.463, 73.9355, 81.0678],
        [76.4081, 79.9878, 87.2395],
    ],
];
#[cfg(feature = "ssr")]
/// Trace critical values by det_order -1, 0, 1.
/// Rows: N - r = 1..=12 variables; columns 90%, 95%, 99%.
const TRACE_CRIT: [[[f64; 3]; 12]; 3] = [
    [
        [2.9762, 4.1296, 6.9406],
        [10.4741, 12.3212, 16.364],
        [21.7781, 24.2761, 29.5147],
        [37.0339, 40.1749, 46.5716],
        [56.2839, 60.0627, 67.6367],
        [79.5329, 83.9383, 92.7136],
        [106.7351, 111.7797, 121.7375],
        [137.9954, 143.6691, 154.7977],
        [173.2292, 179.5199, 191.8122],
        [212.4721, 219.4051, 232.8291],
        [255.6732, 263.2603, 277.9962],
        [302.9054, 311.1288, 326.9716],
    ],
    [
        [2.7055, 3.8415, 6.6349],
        [13.4294, 15.4943, 19.9349],
        [27.0669, 29.7961, 35.4628],
        [44.4929, 47.8545, 54.6815],
        [65.8202, 69.8189, 77.8202],
        [91.109, 95.7542, 104.9637],
        [120.3673, 125.6185, 135.9825],
        [153.6341, 159.529, 171.0905],
        [190.8714, 197.3772, 210.0366],
        [232.103, 239.2468, 253.2526],
        [277.374, 285.1402, 300.2821],
        [326.5354, 334.9795, 351.215],
    ],
    [
        [2.7055, 3.8415, 6.6349],
        [16.1619, 18.3985, 23.1485],
        [32.0645, 35.0116, 41.0815],
        [51.6492, 55.2459, 62.5202],
        [75.1027, 79.3422, 87.7748],
        [102.4674, 107.3429, 116.9829],
        [133.7852, 139.278, 150.0778],
        [169.0618, 175.1584, 187.1891],
        [208.3582, 215.1268, 228.2226],
        [251.6293, 259.0267, 273.3838],
        [298.8836, 306.8988, 322.4264],
        [350.1125, 358.719, 375.3203],
    ],
];

/// Critical values (90/95/99%) for `n` variables and `det_order`.
#[cfg(feature = "ssr")]
fn crit(table: &[[[f64; 3]; 12]; 3], n: usize, det_order: i32) -> [f64; 3] {
    table[(det_order + 1) as usize][n - 1]
}

/// The first rank whose statistic is below its 95% critical value.
#[cfg(feature = "ssr")]
fn select_rank(stat: &[f64], crit: &[[f64; 3]]) -> usize {
    stat.iter()
        .zip(crit)
        .position(|(s, c)| *s < c[1])
        .unwrap_or(stat.len())
}

#[cfg(feature = "ssr")]
mod compute {
    use super::*;
    use ndarray::{s, Array1, Array2, Axis};
    use ndarray_linalg::{Cholesky, Eigh, Inverse, LeastSquaresSvd, UPLO};

    /// OLS residuals of each column of `y` on `linspace(-1, 1, T)` and a
    /// constant (`order` 1), on a constant (`order` 0), or `y` itself.
    fn detrend(y: &Array2<f64>, order: i32) -> Array2<f64> {
        let mut out = y.clone();
        if order < 0 {
            return out;
        }
        let t = y.nrows();
        let mean = y
            .mean_axis(Axis(0))
            .unwrap_or_else(|| Array1::zeros(y.ncols()));
        out -= &mean;
        if order >= 1 && t > 1 {
            // The trend is symmetric about 0, so orthogonal to the constant:
            // the two regressors separate.
            let tr = Array1::linspace(-1.0, 1.0, t);
            let tt = tr.dot(&tr);
            for mut col in out.columns_mut() {
                let b = tr.dot(&col) / tt;
                col.scaled_add(-b, &tr);
            }
        }
        out
    }

    /// `y` less its least-squares projection on `x`.
    fn resid(y: &Array2<f64>, x: &Array2<f64>) -> Result<Array2<f64>> {
        if x.ncols() == 0 {
            return Ok(y.clone());
        }
        let b = x
            .least_squares(y)
            .map_err(|_| AnalyticsError::Collinear { what: "johansen" })?
            .solution;
        Ok(y - &x.dot(&b))
    }

    pub(super) fn run(legs: &[&[f64]], det_order: i32, k: usize) -> Result<JohansenResult> {
        let n = legs.len();
        let t_all = legs[0].len();
        let mut data = Array2::<f64>::zeros((t_all, n));
        for (j, leg) in legs.iter().enumerate() {
            for (i, v) in leg.iter().enumerate() {
                data[[i, j]] = *v;
            }
        }
        let f = if det_order > -1 { 0 } else { -1 };
        let endog = detrend(&data, det_order);
        let dx_all = &endog.slice(s![1.., ..]) - &endog.slice(s![..-1, ..]);
        let rows = dx_all.nrows() - k;
        // Lags 1..=k of the differences, lag 1 first.
        let mut z = Array2::<f64>::zeros((rows, n * k));
        for lag in 1..=k {
            z.slice_mut(s![.., (lag - 1) * n..lag * n])
                .assign(&dx_all.slice(s![k - lag..k - lag + rows, ..]));
        }
        let z = detrend(&z, f);
        let dx = detrend(&dx_all.slice(s![k.., ..]).to_owned(), f);
        let r0 = resid(&dx, &z)?;
        // statsmodels' lagged levels: rows 1..T-k of the detrended levels,
        // k periods before each difference's end (for k = 0 its own end).
        let lx = endog.slice(s![1..t_all - k, ..]).to_owned();
        let r1 = resid(&detrend(&lx, f), &z)?;
        let tn = r1.nrows() as f64;
        let s11 = r1.t().dot(&r1) / tn;
        let s10 = r1.t().dot(&r0) / tn;
        let s00 = r0.t().dot(&r0) / tn;
        let singular = || AnalyticsError::Collinear { what: "johansen" };
        let s00_inv = s00.inv().map_err(|_| singular())?;
        let sig = s10.dot(&s00_inv).dot(&s10.t());
        // S11 = L L'; the symmetric problem L^-1 sig L^-T u = λ u gives
        // v = L^-T u with v' S11 v = u' u = 1.
        let l = s11.cholesky(UPLO::Lower).map_err(|_| singular())?;
        let l_inv = l.inv().map_err(|_| singular())?;
        let a = l_inv.dot(&sig).dot(&l_inv.t());
        let a = (&a + &a.t()) / 2.0;
        let (w, u) = a.eigh(UPLO::Lower).map_err(|_| singular())?;
        let v = l_inv.t().dot(&u);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&i, &j| w[j].total_cmp(&w[i]));
        let eigenvalues: Vec<f64> = order.iter().map(|&i| w[i]).collect();
        let eigenvectors: Vec<Vec<f64>> = order
            .iter()
            .map(|&i| {
                let col = v.column(i);
                let sign = col.iter().find(|x| **x != 0.0).map_or(1.0, |x| x.signum());
                col.iter().map(|x| x * sign).collect()
            })
            .collect();
        let mut trace_stat = Vec::with_capacity(n);
        let mut max_eig_stat = Vec::with_capacity(n);
        let mut trace_crit = Vec::with_capacity(n);
        let mut max_eig_crit = Vec::with_capacity(n);
        for r in 0..n {
            trace_stat.push(-tn * eigenvalues[r..].iter().map(|l| (1.0 - l).ln()).sum::<f64>());
            max_eig_stat.push(-tn * (1.0 - eigenvalues[r]).ln());
            trace_crit.push(crit(&TRACE_CRIT, n - r, det_order));
            max_eig_crit.push(crit(&MAX_EIG_CRIT, n - r, det_order));
        }
        if trace_stat
            .iter()
            .chain(&max_eig_stat)
            .any(|s| !s.is_finite())
        {
            return Err(singular());
        }
        Ok(JohansenResult {
            det_order,
            k_ar_diff: k,
            nobs: r1.nrows(),
            rank_trace: select_rank(&trace_stat, &trace_crit),
            rank_max_eig: select_rank(&max_eig_stat, &max_eig_crit),
            eigenvalues,
            eigenvectors,
            trace_stat,
            trace_crit,
            max_eig_stat,
            max_eig_crit,
        })
    }
}

/// Most legs of a basket (the critical values' tables stop at 12).
pub const MAX_LEGS: usize = 12;
/// Most lagged differences.
pub const MAX_K_AR_DIFF: usize = 24;

/// The Johansen test of `legs` (equal lengths; levels, e.g. log prices)
/// with deterministic terms `det_order` (-1, 0, 1) and `k_ar_diff` lagged
/// differences (see the module docs).
#[cfg(feature = "ssr")]
pub fn coint_johansen(legs: &[&[f64]], det_order: i32, k_ar_diff: usize) -> Result<JohansenResult> {
    let bad =
        |name: &'static str, reason: String| AnalyticsError::InvalidParameter { name, reason };
    if !(2..=MAX_LEGS).contains(&legs.len()) {
        return Err(bad(
            "legs",
            format!("expected 2 to {MAX_LEGS} series, got {}", legs.len()),
        ));
    }
    if !DET_ORDERS.contains(&det_order) {
        return Err(bad(
            "det_order",
            format!("expected -1 (none), 0 (constant) or 1 (trend), got {det_order}"),
        ));
    }
    if k_ar_diff > MAX_K_AR_DIFF {
        return Err(bad(
            "k_ar_diff",
            format!("expected 0 to {MAX_K_AR_DIFF}, got {k_ar_diff}"),
        ));
    }
    let t = legs[0].len();
    if t == 0 {
        return Err(AnalyticsError::Empty { series: "legs" });
    }
    for leg in legs {
        if leg.len() != t {
            return Err(AnalyticsError::LengthMismatch { x: t, y: leg.len() });
        }
        if let Some(index) = leg.iter().position(|v| !v.is_finite()) {
            return Err(AnalyticsError::NonFinite {
                series: "legs",
                index,
                value: leg[index],
            });
        }
    }
    // The residual regressions need more rows than regressors, with room
    // for the covariance of N series.
    let needed = k_ar_diff + 1 + legs.len() * (k_ar_diff + 1) + legs.len() + 2;
    if t < needed {
        return Err(AnalyticsError::TooShort {
            what: "the Johansen test",
            needed,
            got: t,
        });
    }
    for leg in legs {
        if leg.iter().all(|v| *v == leg[0]) {
            return Err(AnalyticsError::ConstantSeries { series: "legs" });
        }
    }
    compute::run(legs, det_order, k_ar_diff)
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    fn basket(n: usize, t: usize, seed: u64) -> Vec<Vec<f64>> {
        // A common random walk plus stationary noise per leg.
        let mut s = seed;
        let mut u = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let mut w = 0.0;
        let mut out = vec![Vec::with_capacity(t); n];
        for _ in 0..t {
            w += u();
            for (j, leg) in out.iter_mut().enumerate() {
                leg.push((j as f64 + 1.0) * w + u());
            }
        }
        out
    }

    #[test]
    fn eigenvectors_are_s11_orthonormal_and_stats_follow_the_eigenvalues() {
        let b = basket(3, 400, 7);
        let legs: Vec<&[f64]> = b.iter().map(Vec::as_slice).collect();
        let r = coint_johansen(&legs, 0, 1).unwrap();
        assert!(r.eigenvalues.windows(2).all(|w| w[0] >= w[1]));
        assert!(r.eigenvalues.iter().all(|l| (0.0..1.0).contains(l)));
        let t = r.nobs as f64;
        for i in 0..3 {
            let naive: f64 = -t
                * r.eigenvalues[i..]
                    .iter()
                    .map(|l| (1.0 - l).ln())
                    .sum::<f64>();
            assert!((r.trace_stat[i] - naive).abs() < 1e-9);
        }
        // Two stationary combinations of one common trend: rank 2.
        assert_eq!(r.rank_trace, 2, "{r:?}");
        assert!(r.eigenvectors.iter().all(|v| v[0] > 0.0));
    }

    #[test]
    fn bad_input_is_named() {
        let b = basket(2, 50, 3);
        let legs: Vec<&[f64]> = b.iter().map(Vec::as_slice).collect();
        let name = |r: Result<JohansenResult>| match r {
            Err(AnalyticsError::InvalidParameter { name, .. }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name(coint_johansen(&legs[..1], 0, 1)), "legs");
        assert_eq!(name(coint_johansen(&legs, 2, 1)), "det_order");
        assert_eq!(name(coint_johansen(&legs, 0, 99)), "k_ar_diff");
        assert!(matches!(
            coint_johansen(&[&legs[0][..5], &legs[1][..5]], 0, 1),
            Err(AnalyticsError::TooShort { .. })
        ));
        let flat = vec![1.0; 50];
        assert!(matches!(
            coint_johansen(&[legs[0], &flat], 0, 1),
            Err(AnalyticsError::ConstantSeries { .. })
        ));
        let mut nan = legs[1].to_vec();
        nan[9] = f64::NAN;
        assert!(matches!(
            coint_johansen(&[legs[0], &nan], 0, 1),
            Err(AnalyticsError::NonFinite { index: 9, .. })
        ));
    }
}
