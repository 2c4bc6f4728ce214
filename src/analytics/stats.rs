//! Small numeric kernels shared by the estimators: compensated-free but
//! vectorisable dot products, means, medians and the reference
//! distributions (Student-t, standard normal) used for p-values.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Dot product with four independent accumulators so LLVM can vectorise it
/// (a single accumulator forces strict sequential float adds).
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let ca = a.chunks_exact(4);
    let cb = b.chunks_exact(4);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (p, q) in ca.zip(cb) {
        acc[0] += p[0] * q[0];
        acc[1] += p[1] * q[1];
        acc[2] += p[2] * q[2];
        acc[3] += p[3] * q[3];
    }
    let mut tail = 0.0;
    for (p, q) in ra.iter().zip(rb) {
        tail += p * q;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Sum with four accumulators (see [`dot`]).
#[inline]
pub fn sum(a: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let c = a.chunks_exact(4);
    let r = c.remainder();
    for p in c {
        acc[0] += p[0];
        acc[1] += p[1];
        acc[2] += p[2];
        acc[3] += p[3];
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + r.iter().sum::<f64>()
}

/// Arithmetic mean; the caller guarantees a non-empty slice.
#[inline]
pub fn mean(a: &[f64]) -> f64 {
    sum(a) / a.len() as f64
}

/// Median as numpy defines it (mean of the two middle values for an even
/// count). Reorders `v`; the caller guarantees it is non-empty.
pub fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    let mid = n / 2;
    let (_, hi, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let hi = *hi;
    if n % 2 == 1 {
        hi
    } else {
        let lo = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + hi) / 2.0
    }
}

/// Two-sided p-value of a t statistic, `2 * sf(|t|)` as statsmodels does
/// (the survival function keeps precision for tiny p-values).
pub fn t_pvalue(t: f64, df: f64) -> f64 {
    // statrs panics (beta_reg: XOutOfRange) on a NaN statistic, which an
    // overflowed regression on absurdly scaled input produces.
    if t.is_nan() {
        return f64::NAN;
    }
    match StudentsT::new(0.0, 1.0, df) {
        Ok(dist) => 2.0 * dist.sf(t.abs()),
        Err(_) => f64::NAN,
    }
}

/// Standard normal CDF.
pub fn norm_cdf(x: f64) -> f64 {
    Normal::standard().cdf(x)
}
