//! The Johansen test on 3- and 5-leg baskets of 10,000 and 100,000 bars
//! (det_order 0, k_ar_diff 1). Writes each input as CSV under
//! `target/johansen-bench/` so that `scripts/bench_johansen.py` times
//! statsmodels on exactly the same numbers. Run:
//! `cargo bench --features ssr --bench johansen`.

use pairdesk::analytics::johansen::coint_johansen;
use std::io::Write;
use std::time::{Duration, Instant};

/// Legs loading on two common random walks, with AR(1) noise (xorshift).
fn basket(n: usize, t: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut s = seed;
    let mut u = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let (mut w1, mut w2) = (0.0, 0.0);
    let mut e = vec![0.0; n];
    let mut out = vec![Vec::with_capacity(t); n];
    for _ in 0..t {
        w1 += 0.01 * u();
        w2 += 0.01 * u();
        for (j, leg) in out.iter_mut().enumerate() {
            e[j] = 0.8 * e[j] + 0.004 * u();
            let a = 1.0 + 0.3 * j as f64;
            let b = 0.5 - 0.2 * j as f64;
            leg.push(4.0 + a * w1 + b * w2 + e[j]);
        }
    }
    out
}

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/johansen-bench");
    let _ = std::fs::create_dir_all(&dir);
    for n in [3usize, 5] {
        for t in [10_000usize, 100_000] {
            let legs = basket(n, t, 7 + n as u64);
            if let Ok(mut f) = std::fs::File::create(dir.join(format!("basket_{n}_{t}.csv"))) {
                for i in 0..t {
                    let row: Vec<String> = legs.iter().map(|l| format!("{:?}", l[i])).collect();
                    let _ = writeln!(f, "{}", row.join(","));
                }
            }
            let slices: Vec<&[f64]> = legs.iter().map(Vec::as_slice).collect();
            let mut times: Vec<Duration> = (0..7)
                .map(|_| {
                    let t0 = Instant::now();
                    let r = coint_johansen(&slices, 0, 1).unwrap();
                    std::hint::black_box(r);
                    t0.elapsed()
                })
                .collect();
            times.sort();
            // A bench's report is its output.
            println!(
                "johansen {n} legs x {t} bars: median {:.2} ms, min {:.2} ms",
                times[3].as_secs_f64() * 1e3,
                times[0].as_secs_f64() * 1e3
            );
        }
    }
}
