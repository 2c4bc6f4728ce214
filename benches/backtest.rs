//! Backtest benchmark without a harness crate: 1,000,000 synthetic 1 s bars
//! of two cointegrated legs, each with a book on every bar and funding
//! every 8 hours. Times the engine on given beta and z, and the
//! walk-forward (OLS refit on 10,000 training bars, 2,000 test bars, so
//! 495 folds, each also traded in sample). Then baskets: the same engine on
//! three legs with given weights over the 1M bars, and the rolling OLS
//! hedge a basket backtest trades (`services::basket::rolling_hedge`, a
//! 200-bar window) over 5,000 and 50,000 bars (the API's most). Memory is
//! the growth of the resident set over the inputs during the run
//! (`/proc/self/status`).
//!
//! Run: `cargo bench --features ssr --bench backtest`

use std::hint::black_box;
use std::time::{Duration, Instant};

use pairdesk::analytics::backtest::{
    backtest, backtest_basket, BacktestOptions, BasketInput, BasketLeg, FundingEvent, Input, Leg,
    Rule, Touch,
};
use pairdesk::analytics::{
    walk_forward, walk_forward_basket, PriceScale, RegressionKind, WalkForward,
};

const N: usize = 1_000_000;

fn timed<F: FnMut() -> usize>(runs: usize, mut f: F) -> (Duration, Duration, usize) {
    let mut out = 0;
    let mut ts: Vec<Duration> = (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            out = black_box(f());
            t0.elapsed()
        })
        .collect();
    ts.sort();
    (ts[ts.len() / 2], ts[0], out)
}

fn main() {
    // xorshift: deterministic and dependency-free.
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let mut gauss = move || {
        let mut u = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 11) as f64 / (1u64 << 53) as f64).max(1e-300)
        };
        let (a, b) = (u(), u());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    };
    let (mut lx, mut e) = (90_000f64.ln(), 0.0);
    let mut ts = Vec::with_capacity(N);
    let (mut xo, mut xc, mut yo, mut yc) = (vec![], vec![], vec![], vec![]);
    for i in 0..N {
        ts.push(1_765_000_000_000 + i as i64 * 1000);
        xo.push(lx.exp());
        yo.push((0.95 * lx + e - 7.0).exp());
        lx += 1e-4 * gauss();
        e = 0.995 * e + 1e-4 * gauss();
        xc.push(lx.exp());
        yc.push((0.95 * lx + e - 7.0).exp());
    }
    let book = |p: &[f64]| -> Vec<Option<Touch>> {
        p.iter()
            .enumerate()
            .map(|(i, p)| {
                Some(Touch {
                    bid: p * (1.0 - 1e-5),
                    ask: p * (1.0 + 1e-5),
                    ts: ts[i],
                })
            })
            .collect()
    };
    let (bx, by) = (book(&xo), book(&yo));
    let funding: Vec<FundingEvent> = (0..N as i64 / 28_800 + 1)
        .map(|k| FundingEvent {
            ts: ts[0] + k * 28_800_000,
            rate: 1e-4,
        })
        .collect();
    let (fx, fy): (Vec<f64>, Vec<f64>) = (
        xc.iter().map(|p| p.ln()).collect(),
        yc.iter().map(|p| p.ln()).collect(),
    );
    let beta = vec![Some(0.95); N];
    let z: Vec<Option<f64>> = {
        let mut g = 0.0;
        (0..N)
            .map(|_| {
                g = 0.99 * g + 0.3 * gauss();
                Some(g)
            })
            .collect()
    };
    let input = Input {
        ts: &ts,
        bar_ms: 1000,
        x: Leg {
            open: &xo,
            close: &xc,
            book: Some(&bx),
            funding: &funding,
        },
        y: Leg {
            open: &yo,
            close: &yc,
            book: Some(&by),
            funding: &funding,
        },
        beta: &beta,
        z: &z,
        flat_after: &[],
    };
    let rule = Rule {
        entry: 2.0,
        exit: 0.5,
        prices: PriceScale::Log,
    };
    let o = BacktestOptions {
        stop_pct: Some(0.5),
        max_hold_bars: Some(3_600),
        ..Default::default()
    };
    let rss0 = pairdesk::procstat::rss_kb().unwrap_or(0);
    let peak_reset = pairdesk::procstat::reset_peak_rss();
    let (med, min, trades) = timed(7, || backtest(&input, &rule, &o).unwrap().trades.len());
    let rss1 = pairdesk::procstat::rss_kb().unwrap_or(0);
    report(
        "backtest, 1M bars, books + funding",
        med,
        min,
        trades,
        rss1.saturating_sub(rss0),
    );
    peak("backtest", peak_reset, rss0);
    let wf = WalkForward {
        train: 10_000,
        test: 2_000,
    };
    let rss0 = pairdesk::procstat::rss_kb().unwrap_or(0);
    let peak_reset = pairdesk::procstat::reset_peak_rss();
    let (med, min, trades) = timed(7, || {
        let r = walk_forward(
            &input,
            &fx,
            &fy,
            RegressionKind::Ols,
            &Default::default(),
            &rule,
            &o,
            wf,
        )
        .unwrap();
        r.trades.len() + r.walk_forward.map_or(0, |w| w.in_sample.trades)
    });
    let rss2 = pairdesk::procstat::rss_kb().unwrap_or(0);
    report(
        "walk-forward OLS 10k/2k, 1M bars (495 folds, in + out of sample)",
        med,
        min,
        trades,
        rss2.saturating_sub(rss0),
    );
    peak("walk-forward", peak_reset, rss0);

    // A third leg, cointegrated with the other two.
    let (mut lw, mut u) = (30f64.ln(), 0.0);
    let (mut wo, mut wc) = (Vec::with_capacity(N), Vec::with_capacity(N));
    for &x in &fx {
        wo.push(lw.exp());
        u = 0.995 * u + 1e-4 * gauss();
        lw = 0.5 * x + u - 2.3;
        wc.push(lw.exp());
    }
    let bw = book(&wo);
    let legs = [
        BasketLeg {
            leg: input.y,
            fee_bps: 5.0,
            qty_step: 0.0,
        },
        BasketLeg {
            leg: input.x,
            fee_bps: 5.0,
            qty_step: 0.0,
        },
        BasketLeg {
            leg: Leg {
                open: &wo,
                close: &wc,
                book: Some(&bw),
                funding: &funding,
            },
            fee_bps: 5.0,
            qty_step: 0.0,
        },
    ];
    let w = [1.0, -0.6, -0.4];
    let weights: Vec<Option<&[f64]>> = vec![Some(&w[..]); N];
    let basket = BasketInput {
        ts: &ts,
        bar_ms: 1000,
        legs: &legs,
        weights: &weights,
        z: &z,
        flat_after: &[],
    };
    let rss0 = pairdesk::procstat::rss_kb().unwrap_or(0);
    let (med, min, trades) = timed(7, || {
        backtest_basket(&basket, &rule, &o).unwrap().trades.len()
    });
    let rss3 = pairdesk::procstat::rss_kb().unwrap_or(0);
    report(
        "basket backtest, 3 legs, 1M bars, books + funding",
        med,
        min,
        trades,
        rss3.saturating_sub(rss0),
    );
    let lw: Vec<f64> = wc.iter().map(|p| p.ln()).collect();
    let fit: [&[f64]; 3] = [&fy, &fx, &lw];
    let (med, min, trades) = timed(5, || {
        walk_forward_basket(&basket, &fit, &rule, &o, wf)
            .unwrap()
            .1
            .trades
            .len()
    });
    report(
        "basket walk-forward, 3 legs, 1M bars, train 10000 / test 2000",
        med,
        min,
        trades,
        0,
    );
    for n in [5_000, 50_000] {
        let legs: [&[f64]; 3] = [&fy[..n], &fx[..n], &lw[..n]];
        let (med, min, defined) = timed(5, || {
            pairdesk::services::basket::rolling_hedge(&legs, 200, 60)
                .unwrap()
                .z
                .iter()
                .flatten()
                .count()
        });
        println!(
            "rolling OLS hedge, 3 legs, window 200, {n} bars: median {:.1} ms, min {:.1} ms, {defined} z defined",
            med.as_secs_f64() * 1e3,
            min.as_secs_f64() * 1e3,
        );
    }
}

/// The peak resident set of a section above what was resident before it
/// (the inputs), if the kernel let the peak be reset at its start.
fn peak(what: &str, reset: bool, before_kb: u64) {
    match pairdesk::procstat::peak_rss_kb() {
        Some(p) if reset => println!(
            "{what}: peak resident set {:.1} MB above the inputs",
            p.saturating_sub(before_kb) as f64 / 1024.0
        ),
        _ => println!("{what}: peak resident set not measured (no VmHWM reset)"),
    }
}

/// A bench's report is its output: plain lines on stdout.
fn report(what: &str, med: Duration, min: Duration, trades: usize, rss_kb: u64) {
    println!(
        "{what}: median {:.1} ms, min {:.1} ms, {trades} trades, resident set +{:.1} MB",
        med.as_secs_f64() * 1e3,
        min.as_secs_f64() * 1e3,
        rss_kb as f64 / 1024.0
    );
}
