//! Request counters and latency histograms per (method, route), filled by
//! the API's timing middleware and read by `/metrics`.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Upper bounds (seconds) of the latency histogram buckets.
pub const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone)]
pub(crate) struct Histogram {
    /// Non-cumulative counts per bucket; the last slot is +Inf.
    pub(crate) counts: [u64; BUCKETS.len() + 1],
    pub(crate) sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.counts[i] += 1;
        self.sum += secs;
    }
}

/// HTTP request counters, keyed by (method, route) and (method, route, status).
#[derive(Debug, Default)]
pub struct HttpMetrics {
    pub(crate) latency: Mutex<BTreeMap<(String, String), Histogram>>,
    pub(crate) requests: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl HttpMetrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, secs: f64) {
        if let Ok(mut m) = self.latency.lock() {
            m.entry((method.to_string(), route.to_string()))
                .or_default()
                .observe(secs);
        }
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method.to_string(), route.to_string(), status))
                .or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_upper_bounds() {
        let mut h = Histogram::default();
        h.observe(0.001);
        h.observe(0.003);
        h.observe(99.0);
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[2], 1);
        assert_eq!(h.counts[BUCKETS.len()], 1);
        assert!((h.sum - 99.004).abs() < 1e-9);
    }
}
