//! The backtest against an independent reference (scripts/
//! gen_backtest_fixtures.py, plain Python written from the module docs):
//! every trade, the equity curve and the summary to 1e-9; a hand-worked
//! example; and properties over random markets (no fill uses a later bar's
//! price; with zero costs the PnL is the trade list's).

use pairdesk::analytics::backtest::{
    backtest, backtest_basket, BacktestOptions, BacktestResult, BasketInput, BasketLeg, ExitReason,
    FillAt, FundingEvent, Input, Leg, OnBetaBreak, PositionSide, Rule, Sizing, Touch,
};
use pairdesk::analytics::{
    walk_forward, walk_forward_basket, PriceScale, RegressionKind, WalkForward,
};
use serde_json::Value;

const TOL: f64 = 1e-9;

fn close(what: &str, got: f64, want: f64) {
    let scale = want.abs().max(1.0);
    assert!(
        (got - want).abs() <= TOL * scale,
        "{what}: got {got}, reference {want} (diff {:e})",
        (got - want).abs()
    );
}

fn opt(what: &str, got: Option<f64>, want: &Value) {
    match (got, want.as_f64()) {
        (Some(g), Some(w)) => close(what, g, w),
        (None, None) => {}
        (g, _) => panic!("{what}: got {g:?}, reference {want}"),
    }
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn opt_f64s(v: &Value) -> Vec<Option<f64>> {
    v.as_array().unwrap().iter().map(Value::as_f64).collect()
}

fn books(v: &Value) -> Option<Vec<Option<Touch>>> {
    v.as_array().map(|a| {
        a.iter()
            .map(|b| {
                (!b.is_null()).then(|| Touch {
                    bid: b["bid"].as_f64().unwrap(),
                    ask: b["ask"].as_f64().unwrap(),
                    ts: b["ts"].as_i64().unwrap(),
                })
            })
            .collect()
    })
}

fn funding(v: &Value) -> Vec<FundingEvent> {
    serde_json::from_value(v.clone()).unwrap()
}

fn options(o: &Value) -> (Rule, BacktestOptions) {
    let rule = Rule {
        entry: o["entry"].as_f64().unwrap(),
        exit: o["exit"].as_f64().unwrap(),
        prices: serde_json::from_value(o["prices"].clone()).unwrap(),
    };
    let mut m = o.as_object().unwrap().clone();
    for k in ["entry", "exit", "prices"] {
        m.remove(k);
    }
    (rule, serde_json::from_value(Value::Object(m)).unwrap())
}

fn check_result(name: &str, r: &BacktestResult, e: &Value) {
    let pos: Vec<i8> = e["position"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap() as i8)
        .collect();
    assert_eq!(r.position, pos, "{name}: positions");
    for (i, (g, w)) in r.equity.iter().zip(f64s(&e["equity"])).enumerate() {
        close(&format!("{name}: equity[{i}]"), *g, w);
    }
    for (i, (g, w)) in r.drawdown.iter().zip(f64s(&e["drawdown"])).enumerate() {
        close(&format!("{name}: drawdown[{i}]"), *g, w);
    }
    let trades = e["trades"].as_array().unwrap();
    assert_eq!(r.trades.len(), trades.len(), "{name}: number of trades");
    for (k, (t, w)) in r.trades.iter().zip(trades).enumerate() {
        let at = |f: &str| format!("{name}: trade {k} {f}");
        let side: PositionSide = serde_json::from_value(w["side"].clone()).unwrap();
        assert_eq!(t.side, side, "{}", at("side"));
        assert_eq!(
            t.signal_bar as u64,
            w["signal_bar"].as_u64().unwrap(),
            "{}",
            at("signal_bar")
        );
        assert_eq!(
            t.entry_bar as u64,
            w["entry_bar"].as_u64().unwrap(),
            "{}",
            at("entry_bar")
        );
        assert_eq!(
            t.entry_ts,
            w["entry_ts"].as_i64().unwrap(),
            "{}",
            at("entry_ts")
        );
        assert_eq!(
            t.exit_bar.map(|b| b as u64),
            w["exit_bar"].as_u64(),
            "{}",
            at("exit_bar")
        );
        assert_eq!(t.exit_ts, w["exit_ts"].as_i64(), "{}", at("exit_ts"));
        let reason: Option<ExitReason> = serde_json::from_value(w["exit_reason"].clone()).unwrap();
        assert_eq!(t.exit_reason, reason, "{}", at("exit_reason"));
        for (f, g) in [
            ("beta", t.beta),
            ("qty_x", t.qty_x),
            ("qty_y", t.qty_y),
            ("entry_x", t.entry_x),
            ("entry_y", t.entry_y),
            ("notional", t.notional),
            ("gross", t.gross),
            ("fees", t.fees),
            ("funding", t.funding),
            ("slippage", t.slippage),
            ("net", t.net),
            ("net_pct", t.net_pct),
        ] {
            close(&at(f), g, w[f].as_f64().unwrap());
        }
        opt(&at("entry_z"), t.entry_z, &w["entry_z"]);
        opt(&at("exit_x"), t.exit_x, &w["exit_x"]);
        opt(&at("exit_y"), t.exit_y, &w["exit_y"]);
    }
    let s = &r.summary;
    let w = &e["summary"];
    for (f, g) in [
        ("net", s.net),
        ("net_pct", s.net_pct),
        ("gross", s.gross),
        ("fees", s.fees),
        ("funding", s.funding),
        ("slippage", s.slippage),
        ("bars_per_year", s.bars_per_year),
        ("max_drawdown_pct", s.max_drawdown_pct),
        ("exposure", s.exposure),
        ("turnover", s.turnover),
    ] {
        close(&format!("{name}: summary.{f}"), g, w[f].as_f64().unwrap());
    }
    for (f, g) in [
        ("hit_rate", s.hit_rate),
        ("avg_hold_ms", s.avg_hold_ms),
        ("sharpe", s.sharpe),
        ("sortino", s.sortino),
    ] {
        opt(&format!("{name}: summary.{f}"), g, &w[f]);
    }
    for (f, g) in [
        ("trades", s.trades),
        ("closed", s.closed),
        ("wins", s.wins),
        ("skipped_beta", s.skipped_beta),
        ("skipped_size", s.skipped_size),
        ("skipped_no_quote", s.skipped_no_quote),
    ] {
        assert_eq!(g as u64, w[f].as_u64().unwrap(), "{name}: summary.{f}");
    }
    assert_eq!(
        s.max_drawdown_ms,
        w["max_drawdown_ms"].as_i64().unwrap(),
        "{name}: dd ms"
    );
}

#[test]
fn the_engine_matches_the_reference_on_every_fixture() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/backtest");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let case: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let name = case["name"].as_str().unwrap().to_string();
        let c = &case["input"];
        let ts: Vec<i64> = c["ts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let (xo, xc, yo, yc) = (
            f64s(&c["x_open"]),
            f64s(&c["x_close"]),
            f64s(&c["y_open"]),
            f64s(&c["y_close"]),
        );
        let (bx, by) = (books(&c["x_book"]), books(&c["y_book"]));
        let (fx, fy) = (funding(&c["x_funding"]), funding(&c["y_funding"]));
        let (rule, o) = options(&case["options"]);
        let n = ts.len();
        let (beta, z) = if case["beta"].is_null() {
            (vec![None; n], vec![None; n])
        } else {
            (opt_f64s(&case["beta"]), opt_f64s(&case["z"]))
        };
        let input = Input {
            ts: &ts,
            bar_ms: c["bar_ms"].as_i64().unwrap(),
            x: Leg {
                open: &xo,
                close: &xc,
                book: bx.as_deref(),
                funding: &fx,
            },
            y: Leg {
                open: &yo,
                close: &yc,
                book: by.as_deref(),
                funding: &fy,
            },
            beta: &beta,
            z: &z,
            flat_after: &[],
        };
        let e = &case["expected"];
        let r = match case["walk_forward"].as_object() {
            None => backtest(&input, &rule, &o).unwrap(),
            Some(w) => {
                let wf = WalkForward {
                    train: w["train"].as_u64().unwrap() as usize,
                    test: w["test"].as_u64().unwrap() as usize,
                };
                let f = |v: &[f64]| -> Vec<f64> {
                    match rule.prices {
                        PriceScale::Log => v.iter().map(|p| p.ln()).collect(),
                        PriceScale::Raw => v.to_vec(),
                    }
                };
                let r = walk_forward(
                    &input,
                    &f(&xc),
                    &f(&yc),
                    RegressionKind::Ols,
                    &Default::default(),
                    &rule,
                    &o,
                    wf,
                )
                .unwrap();
                let rep = r.walk_forward.as_ref().unwrap();
                let folds = e["walk_forward"]["folds"].as_array().unwrap();
                assert_eq!(rep.folds.len(), folds.len(), "{name}: folds");
                for (k, (f, w)) in rep.folds.iter().zip(folds).enumerate() {
                    let at = |s: &str| format!("{name}: fold {k} {s}");
                    assert_eq!(
                        f.test_from,
                        w["test_from"].as_i64().unwrap(),
                        "{}",
                        at("from")
                    );
                    assert_eq!(f.test_to, w["test_to"].as_i64().unwrap(), "{}", at("to"));
                    opt(&at("alpha"), f.alpha, &w["alpha"]);
                    opt(&at("beta"), f.beta, &w["beta"]);
                    opt(&at("mu"), f.mu, &w["mu"]);
                    opt(&at("sigma"), f.sigma, &w["sigma"]);
                    close(
                        &at("is net"),
                        f.in_sample_net,
                        w["in_sample_net"].as_f64().unwrap(),
                    );
                    close(
                        &at("oos net"),
                        f.out_of_sample_net,
                        w["out_of_sample_net"].as_f64().unwrap(),
                    );
                    assert_eq!(
                        f.in_sample_trades as u64,
                        w["in_sample_trades"].as_u64().unwrap(),
                        "{}",
                        at("is trades")
                    );
                    assert_eq!(
                        f.out_of_sample_trades as u64,
                        w["out_of_sample_trades"].as_u64().unwrap(),
                        "{}",
                        at("oos trades")
                    );
                }
                let is = &rep.in_sample;
                let w = &e["walk_forward"]["in_sample"];
                close(
                    &format!("{name}: is net"),
                    is.net,
                    w["net"].as_f64().unwrap(),
                );
                close(
                    &format!("{name}: is fees"),
                    is.fees,
                    w["fees"].as_f64().unwrap(),
                );
                close(
                    &format!("{name}: is funding"),
                    is.funding,
                    w["funding"].as_f64().unwrap(),
                );
                close(
                    &format!("{name}: is dd"),
                    is.max_drawdown_pct,
                    w["max_drawdown_pct"].as_f64().unwrap(),
                );
                opt(&format!("{name}: is sharpe"), is.sharpe, &w["sharpe"]);
                opt(&format!("{name}: is sortino"), is.sortino, &w["sortino"]);
                opt(&format!("{name}: is hit"), is.hit_rate, &w["hit_rate"]);
                assert_eq!(
                    is.trades as u64,
                    w["trades"].as_u64().unwrap(),
                    "{name}: is trades"
                );
                r
            }
        };
        check_result(&name, &r, e);
        // The trades' net adds up to the equity.
        let sum: f64 = r.trades.iter().map(|t| t.net).sum();
        close(&format!("{name}: trades sum to equity"), sum, r.summary.net);
        seen += 1;
    }
    assert!(seen >= 4, "expected the committed fixtures, found {seen}");
}

/// A hand-worked example (docs/backtest.md): raw prices, beta 1, notional
/// 210 with quantity steps of 1 (so one unit of each leg at every entry),
/// no spread, fees 10 bp a leg, next-close fills. Five trades; every figure
/// below is worked out by hand in the doc.
#[test]
fn the_hand_worked_example_gives_the_figures_in_the_doc() {
    // bar:      0    1    2    3    4    5    6    7    8    9   10   11   12   13
    let y = [
        100.0, 100.0, 102.0, 101.0, 100.0, 98.0, 99.0, 100.0, 103.0, 102.0, 100.0, 97.0, 99.0,
        100.0,
    ];
    let x = [100.0; 14];
    let z: Vec<Option<f64>> = [
        0.0, 2.5, 2.6, 1.0, 0.1, -2.5, -1.0, 0.2, 2.2, -2.4, 0.0, 0.3, 2.1, 0.0,
    ]
    .iter()
    .map(|v| Some(*v))
    .collect();
    let beta = vec![Some(1.0); 14];
    let ts: Vec<i64> = (0..14).map(|i| i * 1000).collect();
    let input = Input {
        ts: &ts,
        bar_ms: 1000,
        x: Leg {
            open: &x,
            close: &x,
            book: None,
            funding: &[],
        },
        y: Leg {
            open: &y,
            close: &y,
            book: None,
            funding: &[],
        },
        beta: &beta,
        z: &z,
        flat_after: &[],
    };
    let rule = Rule {
        entry: 2.0,
        exit: 0.5,
        prices: PriceScale::Raw,
    };
    let o = BacktestOptions {
        fill: FillAt::NextClose,
        notional: 210.0,
        qty_step_x: 1.0,
        qty_step_y: 1.0,
        fee_bps_x: 10.0,
        fee_bps_y: 10.0,
        half_spread_bps: 0.0,
        beta_jump: None,
        ..Default::default()
    };
    let r = backtest(&input, &rule, &o).unwrap();
    type Row = (
        PositionSide,
        usize,
        Option<usize>,
        f64,
        f64,
        f64,
        Option<ExitReason>,
    );
    let got: Vec<Row> = r
        .trades
        .iter()
        .map(|t| {
            (
                t.side,
                t.entry_bar,
                t.exit_bar,
                t.entry_y,
                t.gross,
                t.fees,
                t.exit_reason,
            )
        })
        .collect();
    // Trade 1: short at bar 2 (z 2.5 on bar 1), y 102; exits on bar 5
    // (z 0.1 on bar 4) at 98: gross +4, fees 0.1 * (102+100+98+100)/100 = 0.4.
    // Trade 2: long at bar 6 (z -2.5 on bar 5) at 99; exit on bar 8 (z 0.2
    // on bar 7) at 103: +4, fees 0.402.
    // Trade 3: short at bar 9 (z 2.2 on bar 8) at 102, flipped on bar 10
    // (z -2.4 on bar 9) at 100: +2, fees 0.402.
    // Trade 4: long at bar 10 at 100; exit on bar 11 (z 0.0 on bar 10) at
    // 97: -3, fees 0.397.
    // Trade 5: short at bar 13 (z 2.1 on bar 12) at 100, open at the end
    // and marked at 100: 0, fees 0.2 (the entry's).
    let want = vec![
        (
            PositionSide::Short,
            2,
            Some(5),
            102.0,
            4.0,
            0.4,
            Some(ExitReason::Band),
        ),
        (
            PositionSide::Long,
            6,
            Some(8),
            99.0,
            4.0,
            0.402,
            Some(ExitReason::Band),
        ),
        (
            PositionSide::Short,
            9,
            Some(10),
            102.0,
            2.0,
            0.402,
            Some(ExitReason::Flip),
        ),
        (
            PositionSide::Long,
            10,
            Some(11),
            100.0,
            -3.0,
            0.397,
            Some(ExitReason::Band),
        ),
        (PositionSide::Short, 13, None, 100.0, 0.0, 0.2, None),
    ];
    assert_eq!(got.len(), 5);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((g.0, g.1, g.2, g.6), (w.0, w.1, w.2, w.6), "{g:?} vs {w:?}");
        close("entry y", g.3, w.3);
        close("gross", g.4, w.4);
        close("fees", g.5, w.5);
    }
    // Net: 4 + 4 + 2 - 3 + 0 - (0.4 + 0.402 + 0.402 + 0.397 + 0.2) = 5.199.
    close("net", r.summary.net, 5.199);
    close("net %", r.summary.net_pct, 5.199 / 210.0 * 100.0);
    assert_eq!((r.summary.closed, r.summary.wins), (4, 3));
    close("hit rate", r.summary.hit_rate.unwrap(), 0.75);
}

/// A small deterministic generator for the properties.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-300), self.next());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

struct Market {
    ts: Vec<i64>,
    xo: Vec<f64>,
    xc: Vec<f64>,
    yo: Vec<f64>,
    yc: Vec<f64>,
    bx: Vec<Option<Touch>>,
    by: Vec<Option<Touch>>,
    beta: Vec<Option<f64>>,
    z: Vec<Option<f64>>,
}

fn random_market(seed: u64, n: usize) -> Market {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let (mut lx, mut u) = (100f64.ln(), 0.0);
    let mut m = Market {
        ts: Vec::new(),
        xo: Vec::new(),
        xc: Vec::new(),
        yo: Vec::new(),
        yc: Vec::new(),
        bx: Vec::new(),
        by: Vec::new(),
        beta: Vec::new(),
        z: Vec::new(),
    };
    for i in 0..n {
        m.ts.push(i as i64 * 1000);
        m.xo.push(lx.exp());
        m.yo.push((0.9 * lx + u + 0.3).exp());
        lx += 0.003 * r.gauss();
        u = 0.8 * u + 0.004 * r.gauss();
        m.xc.push(lx.exp());
        m.yc.push((0.9 * lx + u + 0.3).exp());
        let book = |p: f64, r: &mut Rng| {
            (r.next() < 0.7).then(|| Touch {
                bid: p * (1.0 - 2e-4),
                ask: p * (1.0 + 2e-4),
                ts: i as i64 * 1000,
            })
        };
        m.bx.push(book(*m.xo.last().unwrap(), &mut r));
        m.by.push(book(*m.yo.last().unwrap(), &mut r));
        m.beta
            .push((r.next() < 0.95).then(|| 0.9 + 0.3 * (r.next() - 0.5)));
        m.z.push((r.next() < 0.95).then(|| 2.5 * r.gauss()));
    }
    m
}

fn input<'a>(m: &'a Market, books: bool) -> Input<'a> {
    Input {
        ts: &m.ts,
        bar_ms: 1000,
        x: Leg {
            open: &m.xo,
            close: &m.xc,
            book: books.then_some(&m.bx[..]),
            funding: &[],
        },
        y: Leg {
            open: &m.yo,
            close: &m.yc,
            book: books.then_some(&m.by[..]),
            funding: &[],
        },
        beta: &m.beta,
        z: &m.z,
        flat_after: &[],
    }
}

/// Changing every price after bar `k` changes nothing of what was decided
/// and filled up to `k`: no trade uses a later bar's price.
#[test]
fn no_fill_uses_a_price_from_a_later_bar() {
    let rule = Rule {
        entry: 1.5,
        exit: 0.3,
        prices: PriceScale::Log,
    };
    for seed in 1..40u64 {
        let m = random_market(seed, 200);
        for fill in [FillAt::NextOpen, FillAt::NextClose, FillAt::NextQuote] {
            let o = BacktestOptions {
                fill,
                stop_pct: Some(0.2),
                max_hold_bars: Some(15),
                ..Default::default()
            };
            let base = backtest(&input(&m, true), &rule, &o).unwrap();
            let k = 60 + (seed as usize * 7) % 100;
            let mut later = random_market(seed, 200);
            let mut r = Rng(seed + 99);
            for i in k + 1..200 {
                let f = 1.0 + 0.05 * r.gauss();
                later.xo[i] *= f;
                later.xc[i] *= f * f;
                later.yo[i] /= f;
                later.yc[i] /= f;
                later.bx[i] = later.bx[i].map(|b| Touch {
                    bid: b.bid * f,
                    ask: b.ask * f,
                    ..b
                });
                later.z[i] = later.z[i].map(|z| -z);
            }
            let other = backtest(&input(&later, true), &rule, &o).unwrap();
            assert_eq!(
                base.position[..=k],
                other.position[..=k],
                "seed {seed} {fill:?}"
            );
            for (a, b) in base.equity[..=k].iter().zip(&other.equity[..=k]) {
                assert_eq!(a, b, "seed {seed} {fill:?}: equity up to bar {k}");
            }
            let done = |r: &BacktestResult| -> Vec<(usize, f64, f64, f64, f64)> {
                r.trades
                    .iter()
                    .filter(|t| t.entry_bar <= k)
                    .map(|t| (t.entry_bar, t.entry_x, t.entry_y, t.qty_x, t.qty_y))
                    .collect()
            };
            assert_eq!(
                done(&base),
                done(&other),
                "seed {seed} {fill:?}: entries up to bar {k}"
            );
            for t in &base.trades {
                assert!(
                    t.entry_bar > t.signal_bar,
                    "filled on the bar that decided it"
                );
            }
        }
    }
}

/// Without costs, the PnL is what the trade list says: each trade's
/// quantities times the move of the fill prices, summed; and the equity
/// is the same recomputed bar by bar from the positions.
#[test]
fn with_zero_costs_the_pnl_is_the_trade_list_s() {
    let rule = Rule {
        entry: 1.2,
        exit: 0.2,
        prices: PriceScale::Log,
    };
    for seed in 1..60u64 {
        let m = random_market(seed, 300);
        let o = BacktestOptions {
            fill: if seed % 2 == 0 {
                FillAt::NextOpen
            } else {
                FillAt::NextClose
            },
            fee_bps_x: 0.0,
            fee_bps_y: 0.0,
            half_spread_bps: 0.0,
            slippage_bps: 0.0,
            sizing: if seed % 3 == 0 {
                Sizing::DollarNeutral
            } else {
                Sizing::BetaWeighted
            },
            on_beta_break: if seed % 5 == 0 {
                OnBetaBreak::Hold
            } else {
                OnBetaBreak::Flatten
            },
            ..Default::default()
        };
        let r = backtest(&input(&m, false), &rule, &o).unwrap();
        let n = m.ts.len();
        let mut from_trades = 0.0;
        for t in &r.trades {
            let (ex, ey) = match (t.exit_x, t.exit_y) {
                (Some(a), Some(b)) => (a, b),
                _ => (m.xc[n - 1], m.yc[n - 1]),
            };
            from_trades += t.qty_x * (ex - t.entry_x) + t.qty_y * (ey - t.entry_y);
            assert_eq!(t.fees, 0.0);
            assert!(t.slippage.abs() < 1e-12);
        }
        let tol = 1e-9 * r.summary.notional;
        assert!(
            (from_trades - r.summary.net).abs() < tol,
            "seed {seed}: {from_trades} vs {}",
            r.summary.net
        );
        // Bar by bar: hold the trades' quantities between fills.
        let (mut qx, mut qy) = (0.0, 0.0);
        let mut eq = 0.0;
        for t in 0..n {
            // Fills at bar t's open: the move from the open to the close
            // belongs to the new position, the move before it to the old.
            let fill_x = if o.fill == FillAt::NextOpen {
                m.xo[t]
            } else {
                m.xc[t]
            };
            let fill_y = if o.fill == FillAt::NextOpen {
                m.yo[t]
            } else {
                m.yc[t]
            };
            if t > 0 {
                eq += qx * (fill_x - m.xc[t - 1]) + qy * (fill_y - m.yc[t - 1]);
            }
            for tr in &r.trades {
                if tr.entry_bar == t {
                    qx += tr.qty_x;
                    qy += tr.qty_y;
                }
                if tr.exit_bar == Some(t) {
                    qx -= tr.qty_x;
                    qy -= tr.qty_y;
                }
            }
            eq += qx * (m.xc[t] - fill_x) + qy * (m.yc[t] - fill_y);
            assert!(
                (eq - r.equity[t]).abs() < tol,
                "seed {seed}, bar {t}: {eq} vs {}",
                r.equity[t]
            );
        }
    }
}

#[test]
fn bad_parameters_are_named() {
    let m = random_market(3, 50);
    let rule = Rule {
        entry: 2.0,
        exit: 0.5,
        prices: PriceScale::Log,
    };
    let cases: Vec<(BacktestOptions, &str)> = vec![
        (
            BacktestOptions {
                notional: 0.0,
                ..Default::default()
            },
            "notional",
        ),
        (
            BacktestOptions {
                fee_bps_x: f64::NAN,
                ..Default::default()
            },
            "fee_bps_x",
        ),
        (
            BacktestOptions {
                stop_pct: Some(-1.0),
                ..Default::default()
            },
            "stop_pct",
        ),
        (
            BacktestOptions {
                max_hold_bars: Some(0),
                ..Default::default()
            },
            "max_hold_bars",
        ),
        (
            BacktestOptions {
                beta_min: 2.0,
                beta_max: 1.0,
                ..Default::default()
            },
            "beta_min/beta_max",
        ),
        (
            BacktestOptions {
                qty_step_y: -0.1,
                ..Default::default()
            },
            "qty_step_y",
        ),
    ];
    for (o, name) in cases {
        let e = backtest(&input(&m, false), &rule, &o)
            .unwrap_err()
            .to_string();
        assert!(e.contains(name), "{name}: {e}");
    }
    let o = BacktestOptions {
        fill: FillAt::NextQuote,
        ..Default::default()
    };
    let e = backtest(&input(&m, false), &rule, &o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("next-quote"), "{e}");
    let mut bad = random_market(3, 50);
    bad.yc[7] = f64::NAN;
    let e = backtest(&input(&bad, false), &rule, &BacktestOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("y.close") && e.contains("index 7"), "{e}");
}

/// A basket of two legs `(y, x)` weighted `(1, -beta)` is the pair: the
/// same trades, fills, costs and equity on random markets with books,
/// funding, stops, holds and lot steps (the beta bounds and jump, which a
/// basket does not have, opened wide on the pair).
#[test]
fn a_two_leg_basket_is_the_pair() {
    for seed in 1..40u64 {
        let m = random_market(seed, 400);
        let prices = if seed % 4 == 0 {
            PriceScale::Raw
        } else {
            PriceScale::Log
        };
        let rule = Rule {
            entry: 1.1,
            exit: 0.3,
            prices,
        };
        let books = seed % 2 == 0;
        let o = BacktestOptions {
            fill: [FillAt::NextOpen, FillAt::NextClose, FillAt::NextQuote][seed as usize % 3],
            fee_bps_x: 3.0,
            fee_bps_y: 5.0,
            slippage_bps: 0.5,
            qty_step_x: if seed % 5 == 0 { 0.01 } else { 0.0 },
            qty_step_y: if seed % 5 == 0 { 0.001 } else { 0.0 },
            stop_pct: (seed % 3 == 0).then_some(0.4),
            max_hold_bars: (seed % 7 == 0).then_some(25),
            beta_min: -1e6,
            beta_max: 1e6,
            beta_jump: None,
            ..Default::default()
        };
        let fund_x = [
            FundingEvent {
                ts: 50_500,
                rate: 1e-4,
            },
            FundingEvent {
                ts: 250_000,
                rate: -3e-4,
            },
        ];
        let fund_y = [FundingEvent {
            ts: 120_000,
            rate: 2e-4,
        }];
        let mut pair_in = input(&m, books || o.fill == FillAt::NextQuote);
        pair_in.x.funding = &fund_x;
        pair_in.y.funding = &fund_y;
        let pair = backtest(&pair_in, &rule, &o).unwrap();
        let legs = [
            BasketLeg {
                leg: pair_in.y,
                fee_bps: o.fee_bps_y,
                qty_step: o.qty_step_y,
            },
            BasketLeg {
                leg: pair_in.x,
                fee_bps: o.fee_bps_x,
                qty_step: o.qty_step_x,
            },
        ];
        let weights: Vec<Option<Vec<f64>>> =
            m.beta.iter().map(|b| b.map(|b| vec![1.0, -b])).collect();
        let basket = backtest_basket(
            &BasketInput {
                ts: &m.ts,
                bar_ms: 1000,
                legs: &legs,
                weights: &borrowed(&weights),
                z: &m.z,
                flat_after: &[],
            },
            &rule,
            &o,
        )
        .unwrap();
        let what = |w: &str| format!("seed {seed}: {w}");
        assert_eq!(basket.position, pair.position, "{}", what("positions"));
        assert_eq!(basket.trades.len(), pair.trades.len(), "{}", what("trades"));
        assert!(pair.summary.closed > 3, "{}", what("the rule trades"));
        for (b, p) in basket.trades.iter().zip(&pair.trades) {
            assert_eq!(
                (b.side, b.entry_bar, b.exit_bar, b.exit_reason),
                (p.side, p.entry_bar, p.exit_bar, p.exit_reason)
            );
            close(&what("qty y"), b.qty[0], p.qty_y);
            close(&what("qty x"), b.qty[1], p.qty_x);
            close(&what("entry y"), b.entry[0], p.entry_y);
            close(&what("entry x"), b.entry[1], p.entry_x);
            close(&what("net"), b.net, p.net);
            close(&what("funding"), b.funding, p.funding);
            assert_eq!(b.weights, vec![1.0, -p.beta]);
        }
        for (t, (b, p)) in basket.equity.iter().zip(&pair.equity).enumerate() {
            close(&what(&format!("equity at {t}")), *b, *p);
        }
        close(&what("net"), basket.summary.net, pair.summary.net);
        close(&what("fees"), basket.summary.fees, pair.summary.fees);
        close(
            &what("turnover"),
            basket.summary.turnover,
            pair.summary.turnover,
        );
        assert_eq!(basket.summary.skipped_beta, pair.summary.skipped_beta);
    }
}

/// Weights as the basket engine borrows them.
fn borrowed(w: &[Option<Vec<f64>>]) -> Vec<Option<&[f64]>> {
    w.iter().map(|w| w.as_deref()).collect()
}

/// A basket leg without book, funding, fee or lot step.
fn free_leg<'a>(open: &'a [f64], close: &'a [f64]) -> BasketLeg<'a> {
    BasketLeg {
        leg: Leg {
            open,
            close,
            book: None,
            funding: &[],
        },
        fee_bps: 0.0,
        qty_step: 0.0,
    }
}

/// Three legs: every entry holds each leg's quote exposure in proportion
/// to its weight at the decision with the gross notional asked; with zero
/// costs each trade's PnL is `sum q_i (exit_i - entry_i)` and the last
/// equity the sum of the trades'; undefined weights block entries.
#[test]
fn a_three_leg_basket_is_sized_by_its_weights_and_adds_up() {
    let rule = Rule {
        entry: 1.2,
        exit: 0.2,
        prices: PriceScale::Log,
    };
    for seed in 1..30u64 {
        let (a, b) = (random_market(seed, 300), random_market(seed + 100, 300));
        let o = BacktestOptions {
            fill: FillAt::NextClose,
            fee_bps_x: 0.0,
            fee_bps_y: 0.0,
            half_spread_bps: 0.0,
            ..Default::default()
        };
        let legs = [
            free_leg(&a.yo, &a.yc),
            free_leg(&a.xo, &a.xc),
            free_leg(&b.xo, &b.xc),
        ];
        let weights: Vec<Option<Vec<f64>>> = a
            .beta
            .iter()
            .zip(&b.beta)
            .map(|(p, q)| Some(vec![1.0, -(*p)?, -0.3 * (*q)?]))
            .collect();
        let r = backtest_basket(
            &BasketInput {
                ts: &a.ts,
                bar_ms: 1000,
                legs: &legs,
                weights: &borrowed(&weights),
                z: &a.z,
                flat_after: &[],
            },
            &rule,
            &o,
        )
        .unwrap();
        assert!(r.summary.trades > 2, "seed {seed}: the rule trades");
        let n = a.ts.len();
        let mut sum = 0.0;
        for tr in &r.trades {
            let w = weights[tr.signal_bar].as_ref().unwrap();
            assert_eq!(&tr.weights, w);
            let sign = if tr.side == PositionSide::Long {
                1.0
            } else {
                -1.0
            };
            let exposure: Vec<f64> = tr
                .qty
                .iter()
                .zip(&legs)
                .map(|(q, l)| q * l.leg.close[tr.signal_bar])
                .collect();
            let gross: f64 = exposure.iter().map(|e| e.abs()).sum();
            close("gross notional", gross, o.notional);
            let c = o.notional / w.iter().map(|w| w.abs()).sum::<f64>();
            for (e, w) in exposure.iter().zip(w) {
                close("exposure", *e, sign * c * w);
            }
            let exit: Vec<f64> = tr
                .exit
                .clone()
                .unwrap_or_else(|| legs.iter().map(|l| l.leg.close[n - 1]).collect());
            let pnl: f64 = tr
                .qty
                .iter()
                .zip(tr.entry.iter().zip(&exit))
                .map(|(q, (e, x))| q * (x - e))
                .sum();
            close("trade pnl", tr.net, pnl);
            sum += tr.net;
        }
        close("last equity", *r.equity.last().unwrap(), sum);
        close("summary net", r.summary.net, sum);
        let undefined = weights.iter().filter(|w| w.is_none()).count();
        assert!(undefined > 0 && r.summary.skipped_beta <= undefined);
    }
}

#[test]
fn bad_baskets_are_named() {
    let m = random_market(3, 50);
    let rule = Rule {
        entry: 1.0,
        exit: 0.0,
        prices: PriceScale::Log,
    };
    let leg = BasketLeg {
        leg: Leg {
            open: &m.xo,
            close: &m.xc,
            book: None,
            funding: &[],
        },
        fee_bps: 1.0,
        qty_step: 0.0,
    };
    let w2: Vec<Option<Vec<f64>>> = vec![Some(vec![1.0, -1.0]); 50];
    let run = |legs: &[BasketLeg], weights: &[Option<Vec<f64>>], o: &BacktestOptions| {
        backtest_basket(
            &BasketInput {
                ts: &m.ts,
                bar_ms: 1000,
                legs,
                weights: &borrowed(weights),
                z: &m.z,
                flat_after: &[],
            },
            &rule,
            o,
        )
        .unwrap_err()
        .to_string()
    };
    let o = BacktestOptions::default();
    assert!(run(&[leg], &w2, &o).contains("legs"));
    let w3: Vec<Option<Vec<f64>>> = vec![Some(vec![1.0, -1.0, 0.5]); 50];
    assert!(run(&[leg, leg], &w3, &o).contains("weights"));
    let nan: Vec<Option<Vec<f64>>> = vec![Some(vec![1.0, f64::NAN]); 50];
    assert!(run(&[leg, leg], &nan, &o).contains("weights"));
    assert!(run(&[leg, leg], &w2[..10], &o).contains("length"));
    let costly = BasketLeg {
        fee_bps: f64::INFINITY,
        ..leg
    };
    assert!(run(&[leg, costly], &w2, &o).contains("fee_bps"));
    let quote = BacktestOptions {
        fill: FillAt::NextQuote,
        ..o
    };
    assert!(run(&[leg, leg], &w2, &quote).contains("quotes"));
}

/// A two-leg basket's walk-forward (first leg y, then x) is the pair's
/// with an OLS fit: the same folds, fits, trades and figures, so the
/// pair's reference check (above) covers the basket's too.
#[test]
fn a_two_leg_basket_walks_forward_as_the_pair() {
    for seed in 1..25u64 {
        let m = random_market(seed, 500);
        let prices = if seed % 3 == 0 {
            PriceScale::Raw
        } else {
            PriceScale::Log
        };
        let rule = Rule {
            entry: 1.0,
            exit: 0.2,
            prices,
        };
        let o = BacktestOptions {
            fill: [FillAt::NextOpen, FillAt::NextClose][seed as usize % 2],
            fee_bps_x: 4.0,
            fee_bps_y: 4.0,
            stop_pct: (seed % 4 == 0).then_some(0.5),
            beta_min: -1e6,
            beta_max: 1e6,
            beta_jump: None,
            ..Default::default()
        };
        let wf = WalkForward {
            train: 60 + (seed as usize % 5) * 20,
            test: 25 + (seed as usize % 4) * 10,
        };
        let pair_in = input(&m, false);
        let f = |v: &[f64]| -> Vec<f64> {
            match prices {
                PriceScale::Log => v.iter().map(|p| p.ln()).collect(),
                PriceScale::Raw => v.to_vec(),
            }
        };
        let (fx, fy) = (f(&m.xc), f(&m.yc));
        let pair = walk_forward(
            &pair_in,
            &fx,
            &fy,
            RegressionKind::Ols,
            &Default::default(),
            &rule,
            &o,
            wf,
        )
        .unwrap();
        let legs = [
            BasketLeg {
                leg: pair_in.y,
                fee_bps: 4.0,
                qty_step: 0.0,
            },
            BasketLeg {
                leg: pair_in.x,
                fee_bps: 4.0,
                qty_step: 0.0,
            },
        ];
        let base = BasketInput {
            ts: &m.ts,
            bar_ms: 1000,
            legs: &legs,
            weights: &[],
            z: &[],
            flat_after: &[],
        };
        let (z, basket) =
            walk_forward_basket(&base, &[&fy, &fx], &rule, &o, wf).expect("basket walk-forward");
        let what = |w: &str| format!("seed {seed}: {w}");
        let (pw, bw) = (
            pair.walk_forward.as_ref().unwrap(),
            basket.walk_forward.as_ref().unwrap(),
        );
        assert_eq!(bw.folds.len(), pw.folds.len(), "{}", what("folds"));
        for (b, p) in bw.folds.iter().zip(&pw.folds) {
            assert_eq!(
                (b.train_from, b.test_from, b.test_to),
                (p.train_from, p.test_from, p.test_to)
            );
            let w = b.weights.as_ref().expect("a fit");
            close(&what("beta"), -w[1], p.beta.unwrap());
            close(&what("alpha"), b.alpha.unwrap(), p.alpha.unwrap());
            close(&what("sigma"), b.sigma.unwrap(), p.sigma.unwrap());
            // The OLS residual's mean is zero up to rounding.
            assert!(
                (b.mu.unwrap() - p.mu.unwrap()).abs() < 1e-9,
                "{}",
                what("mu")
            );
            close(&what("is net"), b.in_sample_net, p.in_sample_net);
            assert_eq!(b.in_sample_trades, p.in_sample_trades);
            close(&what("oos net"), b.out_of_sample_net, p.out_of_sample_net);
            assert_eq!(b.out_of_sample_trades, p.out_of_sample_trades);
        }
        assert_eq!(basket.position, pair.position, "{}", what("positions"));
        assert!(pair.summary.trades > 2, "{}", what("the rule trades"));
        close(&what("net"), basket.summary.net, pair.summary.net);
        close(&what("is net"), bw.in_sample.net, pw.in_sample.net);
        assert_eq!(bw.in_sample.trades, pw.in_sample.trades);
        // No z before the first test window, and the z traded is the
        // fold's: (spread - mu) / sigma on its constant weights.
        assert!(z[..wf.train].iter().all(Option::is_none));
        let f0 = &bw.folds[0];
        let w = f0.weights.as_ref().unwrap();
        let t = wf.train;
        let want =
            (w[0] * fy[t] + w[1] * fx[t] - f0.alpha.unwrap() - f0.mu.unwrap()) / f0.sigma.unwrap();
        close(&what("z"), z[t].unwrap(), want);
    }
}

/// Three legs: nothing is held across a fold's end or before the first
/// test window, the folds' out-of-sample figures add up to the run's, the
/// in-sample report pools the folds', and windows the data cannot hold are
/// refused by name.
#[test]
fn a_three_leg_walk_forward_adds_up_and_refuses_bad_windows() {
    let rule = Rule {
        entry: 1.0,
        exit: 0.2,
        prices: PriceScale::Log,
    };
    let o = BacktestOptions {
        fill: FillAt::NextClose,
        ..Default::default()
    };
    for seed in 1..15u64 {
        let (a, b) = (random_market(seed, 600), random_market(seed + 50, 600));
        let legs = [
            free_leg(&a.yo, &a.yc),
            free_leg(&a.xo, &a.xc),
            free_leg(&b.xo, &b.xc),
        ];
        let logs: Vec<Vec<f64>> = [&a.yc, &a.xc, &b.xc]
            .iter()
            .map(|c| c.iter().map(|p| p.ln()).collect())
            .collect();
        let fit: Vec<&[f64]> = logs.iter().map(Vec::as_slice).collect();
        let base = BasketInput {
            ts: &a.ts,
            bar_ms: 1000,
            legs: &legs,
            weights: &[],
            z: &[],
            flat_after: &[],
        };
        let wf = WalkForward {
            train: 120,
            test: 50,
        };
        let (_, r) = walk_forward_basket(&base, &fit, &rule, &o, wf).unwrap();
        let rep = r.walk_forward.as_ref().unwrap();
        assert_eq!(rep.folds.len(), (600usize - 120).div_ceil(50));
        assert!(r.position[..wf.train].iter().all(|p| *p == 0));
        // The flatten decided on a fold's last close fills on the next
        // bar, which no entry can fill on.
        for k in 0..rep.folds.len() - 1 {
            let end = wf.train + (k + 1) * wf.test - 1;
            assert_eq!(
                r.position[end + 1],
                0,
                "seed {seed}: held across fold {k}'s end"
            );
        }
        let oos: f64 = rep.folds.iter().map(|f| f.out_of_sample_net).sum();
        close("folds' oos", oos, r.summary.net);
        let is: f64 = rep.folds.iter().map(|f| f.in_sample_net).sum();
        close("folds' is", is, rep.in_sample.net);
        assert_eq!(rep.out_of_sample, r.summary);
        for t in &r.trades {
            let k = (t.signal_bar - wf.train) / wf.test;
            assert_eq!(&t.weights, rep.folds[k].weights.as_ref().unwrap());
        }
    }
    let a = random_market(1, 100);
    let legs = [
        free_leg(&a.yo, &a.yc),
        free_leg(&a.xo, &a.xc),
        free_leg(&a.xo, &a.yc),
    ];
    let fit: Vec<&[f64]> = vec![&a.yc, &a.xc, &a.xo];
    let base = BasketInput {
        ts: &a.ts,
        bar_ms: 1000,
        legs: &legs,
        weights: &[],
        z: &[],
        flat_after: &[],
    };
    let err = |train, test, fit: &[&[f64]]| {
        walk_forward_basket(&base, fit, &rule, &o, WalkForward { train, test })
            .unwrap_err()
            .to_string()
    };
    assert!(err(5, 10, &fit).contains("train"));
    assert!(err(20, 1, &fit).contains("test"));
    assert!(err(80, 30, &fit).contains("longer"));
    assert!(err(20, 10, &fit[..2]).contains("legs"));
}
