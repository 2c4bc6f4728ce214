//! Analytics benchmark without a harness crate: median wall time of several
//! runs per operation, on the CSV bars written by `scripts/bench_reference.py`
//! (default dir `/tmp/pairdesk_bench`, override with `PAIRDESK_BENCH_DIR`).
//! When `reference.json` from that script is present the speed-up over
//! pandas/statsmodels is printed next to each number.
//!
//! Run: `python scripts/bench_reference.py && cargo bench --bench analytics`
//!
//! `cargo bench --features ssr --bench analytics -- rolling` runs only the
//! per-bar cost of the rolling estimators (needs no input files): 1,000,000
//! synthetic bars at real 1 s conditioning (log BTC near 11.4, tick-rounded
//! prices, so many repeats and per-bar moves of 1e-6 to 1e-4).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pairdesk::analytics::adf::{adfuller, AdfOptions, Autolag};
use pairdesk::analytics::analyze::{analyze, AnalyzeOptions};
use pairdesk::analytics::coint::coint;
use pairdesk::analytics::correlation::rolling_return_correlation;
use pairdesk::analytics::half_life::half_life;
use pairdesk::analytics::ols::ols;
use pairdesk::analytics::rolling_ols::{rolling_ols, RollingOls};
use pairdesk::analytics::zscore::rolling_zscore;

const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

fn read_csv(path: &Path) -> Option<(Vec<f64>, Vec<f64>)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut x = Vec::new();
    let mut y = Vec::new();
    for line in text.lines().skip(1) {
        let mut it = line.split(',');
        x.push(it.next()?.trim().parse().ok()?);
        y.push(it.next()?.trim().parse().ok()?);
    }
    Some((x, y))
}

/// Median and minimum wall time of `runs` calls (the minimum is the less
/// noisy figure on a shared machine).
fn median_time<F: FnMut()>(runs: usize, mut f: F) -> (Duration, Duration) {
    let mut ts: Vec<Duration> = (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed()
        })
        .collect();
    ts.sort();
    (ts[ts.len() / 2], ts[0])
}

/// Looks up `"name": {"n": seconds}` in reference.json without a JSON crate.
fn reference(json: &str, op: &str, n: usize) -> Option<f64> {
    let start = json.find(&format!("\"{op}\""))?;
    let block = &json[start..];
    let block = &block[..block.find('}')?];
    let key = format!("\"{n}\":");
    let at = block.find(&key)? + key.len();
    let rest = block[at..].trim_start();
    let end = rest.find([',', '\n', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

fn report(op: &str, n: usize, (t, min): (Duration, Duration), refs: &str) {
    let ms = t.as_secs_f64() * 1e3;
    let min = min.as_secs_f64() * 1e3;
    match reference(refs, op, n) {
        Some(r) => println!(
            "n={n:>8} {op:<18} median {ms:10.3} ms (min {min:9.3})   reference {:10.2} ms   speed-up {:8.1}x",
            r * 1e3,
            r * 1e3 / ms
        ),
        None => println!("n={n:>8} {op:<18} median {ms:10.3} ms (min {min:9.3})"),
    }
}

/// The same composition the Python reference times.
fn full_analysis(x: &[f64], y: &[f64]) {
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let fit = ols(&lx, &ly, true).unwrap();
    let spread = fit.residuals(&lx, &ly);
    let adf = adfuller(&spread, &AdfOptions::default()).unwrap();
    let eg = coint(&ly, &lx, Autolag::Aic, None).unwrap();
    let hl = half_life(&spread).unwrap();
    let s: Vec<Option<f64>> = spread.iter().copied().map(Some).collect();
    let z = rolling_zscore(&s, 20).unwrap();
    black_box((adf.stat, eg.stat, hl.lambda, z.last().copied()));
}

/// Tick-rounded BTC/ETH-like prices: per bar the BTC price repeats or moves
/// by 1 to ~90 ticks of 0.1 around 89,000 (log moves 1e-6..1e-4), ETH follows
/// with beta ~1.1 plus noise, rounded to 0.01. Deterministic (SplitMix64).
fn real_conditioning_prices(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut s = 0x5eed_0013_u64;
    let mut next = move || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut lb, mut e) = (89_000.0f64.ln(), 0.0f64);
    let lb0 = lb;
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let u = next();
        if u > 0.6 {
            let mag = 1e-6 * 100f64.powf(next());
            let sign = if next() < 0.5 { -1.0 } else { 1.0 };
            lb += sign * mag - 1e-4 * (lb - lb0);
        }
        e = 0.99 * e + 2e-5 * (next() - 0.5);
        let btc = (lb.exp() * 10.0).round() / 10.0;
        let eth = ((3140.0f64.ln() + 1.1 * (lb - lb0) + e).exp() * 100.0).round() / 100.0;
        x.push(btc);
        y.push(eth);
    }
    (x, y)
}

/// Every bar through one incremental rolling OLS (the timed loop).
fn push_all(lx: &[f64], ly: &[f64], window: usize, intercept: bool) {
    let mut r = RollingOls::new(window, intercept).unwrap();
    let mut acc = 0.0;
    for (&a, &b) in lx.iter().zip(ly) {
        if let Ok(c) = r.push(a, b) {
            acc += c.beta;
        }
    }
    black_box(acc);
}

/// Per-bar cost of the incremental rolling estimators (best of 5 runs).
fn rolling_benches() {
    const N: usize = 1_000_000;
    let (x, y) = real_conditioning_prices(N);
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let per_bar = |d: Duration| d.as_secs_f64() * 1e9 / N as f64;
    for (window, intercept) in [
        (20, true),
        (60, true),
        (100, true),
        (300, true),
        (60, false),
    ] {
        let (med, min) = median_time(5, || push_all(&lx, &ly, window, intercept));
        println!(
            "RollingOls::push window {window:>3} intercept {intercept:<5}: median {:6.1} ns/bar (min {:6.1})",
            per_bar(med),
            per_bar(min)
        );
    }
    let r = rolling_ols(&lx, &ly, 60, true).unwrap();
    let spread: Vec<Option<f64>> = lx
        .iter()
        .zip(&ly)
        .zip(r.alpha.iter().zip(&r.beta))
        .map(|((&a, &b), (al, be))| Some(b - (*be)? * a - (*al)?))
        .collect();
    for w in [30, 300] {
        let (med, min) = median_time(5, || {
            black_box(rolling_zscore(&spread, w).unwrap());
        });
        println!(
            "rolling_zscore window {w:>3}: median {:6.1} ns/bar (min {:6.1})",
            per_bar(med),
            per_bar(min)
        );
    }
    let (med, min) = median_time(5, || {
        black_box(rolling_return_correlation(&x, &y, 60).unwrap());
    });
    println!(
        "rolling_return_correlation window 60 (incl. log returns): median {:6.1} ns/bar (min {:6.1})",
        per_bar(med),
        per_bar(min)
    );
}

fn main() {
    if std::env::args().skip(1).any(|a| a == "rolling") {
        rolling_benches();
        return;
    }
    // `cargo bench` passes `--bench`; any other argument filters nothing.
    let dir = std::env::var_os("PAIRDESK_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/pairdesk_bench"));
    let refs = std::fs::read_to_string(dir.join("reference.json")).unwrap_or_default();
    let mut ran = false;
    for n in SIZES {
        let Some((x, y)) = read_csv(&dir.join(format!("bars_{n}.csv"))) else {
            eprintln!(
                "missing {}/bars_{n}.csv; run scripts/bench_reference.py",
                dir.display()
            );
            continue;
        };
        ran = true;
        let runs = if n >= 1_000_000 { 5 } else { 11 };
        let t = median_time(runs, || full_analysis(&x, &y));
        report("full_analysis", n, t, &refs);
        let opts = AnalyzeOptions::default();
        let t = median_time(runs, || {
            black_box(analyze(&x, &y, None, &opts).unwrap());
        });
        report("analyze()", n, t, &refs);
        let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
        let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
        let t = median_time(runs, || {
            black_box(rolling_ols(&lx, &ly, 100, true).unwrap());
        });
        report("rolling_ols_w100", n, t, &refs);
        let fit = ols(&lx, &ly, true).unwrap();
        let spread = fit.residuals(&lx, &ly);
        let t = median_time(runs, || {
            black_box(adfuller(&spread, &AdfOptions::default()).unwrap());
        });
        report("adf_aic", n, t, &refs);
        if n == *SIZES.last().unwrap() {
            let (t, _) = median_time(5, || push_all(&lx, &ly, 100, true));
            println!(
                "incremental RollingOls::push (window 100): {:.1} ns per bar over {n} bars",
                t.as_secs_f64() * 1e9 / n as f64
            );
        }
    }
    if !ran {
        eprintln!("no input found in {}", dir.display());
    }
}
