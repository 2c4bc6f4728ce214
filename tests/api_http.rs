//! The HTTP API through a real client: the full router (pages, server
//! functions, REST, docs, guard, metrics) served on 127.0.0.1:0 over a
//! temporary database that the real writer filled with a cointegrated pair.
//! Covers the happy paths, every error status the API promises, and every
//! security rule.
#![cfg(feature = "ssr")]

use pairdesk::config::Config;
use pairdesk::domain::{Side, Tick, Venue};
use pairdesk::ingest::pipeline::Pipeline;
use pairdesk::server::router;
use pairdesk::state::AppState;
use pairdesk::store::writer::{WriteCmd, Writer};
use pairdesk::store::{self, Durability};
use reqwest::{header, Client, StatusCode};
use serde_json::{json, Value};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "test-token-0123456789";
/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200_000;
/// Ticks per symbol: one every 250 ms for 10 minutes.
const N: i64 = 2400;

struct Server {
    base: String,
    addr: std::net::SocketAddr,
    state: Arc<AppState>,
    _writer: Writer,
    _dir: tempfile::TempDir,
}

/// Deterministic noise in [-0.5, 0.5).
fn noise(i: i64, salt: i64) -> f64 {
    let mut z = (i as u64).wrapping_mul(6364136223846793005)
        ^ (salt as u64).wrapping_mul(1442695040888963407);
    z ^= z >> 33;
    z = z.wrapping_mul(0xff51afd7ed558ccd);
    z ^= z >> 33;
    (z % 10_000) as f64 / 10_000.0 - 0.5
}

fn pair_ticks() -> Vec<Tick> {
    let mut out = Vec::new();
    let mut walk: f64 = 0.0;
    let mut spread = 0.0;
    for i in 0..N {
        walk += noise(i, 1) * 0.002;
        spread = 0.9 * spread + noise(i, 2) * 0.001;
        let ts = T0 + i * 250;
        let bx = 40_000.0 * walk.exp();
        let by = 2_000.0 * (1.2 * walk + spread).exp();
        for (sym, p) in [("BTCUSDT", bx), ("ETHUSDT", by)] {
            out.push(Tick {
                venue: Venue::Sim,
                symbol: sym.into(),
                trade_id: i + 1,
                exchange_ts: ts,
                receive_ts: ts + 5,
                price: p,
                qty: 0.5,
                side: Side::Buy,
            });
        }
    }
    // Four ticks sharing one timestamp, to exercise cursor paging.
    for k in 0..4 {
        out.push(Tick {
            venue: Venue::Sim,
            symbol: "SOLUSDT".into(),
            trade_id: 100 + k,
            exchange_ts: T0,
            receive_ts: T0,
            price: 100.0 + k as f64,
            qty: 1.0,
            side: Side::Sell,
        });
    }
    out
}

/// 300 BTCUSDT quotes, three per timestamp (so pages split inside one),
/// and an ETHUSDT book at the same times that follows BTC with noise.
fn book() -> Vec<pairdesk::domain::Quote> {
    let btc = (0..300).map(|i| pairdesk::domain::Quote {
        venue: Venue::Sim,
        symbol: "BTCUSDT".into(),
        update_id: 1000 + i,
        ts: T0 + (i / 3) * 250,
        receive_ts: T0 + (i / 3) * 250 + 3,
        bid: 40_000.0 + i as f64 * 0.1,
        bid_qty: 1.0,
        ask: 40_000.2 + i as f64 * 0.1,
        ask_qty: 2.0,
    });
    let eth = (0..300).map(|i| {
        let bid = 2_000.0 + i as f64 * 0.006 + noise(i, 7) * 0.5;
        pairdesk::domain::Quote {
            venue: Venue::Sim,
            symbol: "ETHUSDT".into(),
            update_id: 5000 + i,
            ts: T0 + (i / 3) * 250,
            receive_ts: T0 + (i / 3) * 250 + 3,
            bid,
            bid_qty: 1.0,
            ask: bid + 0.01,
            ask_qty: 1.0,
        }
    });
    btc.chain(eth).collect()
}

async fn start(token: Option<&str>) -> Server {
    start_with(token, None).await
}

/// `listen`: the address the configuration claims (validated elsewhere);
/// the socket itself is always bound on 127.0.0.1.
async fn start_with(token: Option<&str>, listen: Option<std::net::SocketAddr>) -> Server {
    start_configured(token, listen, |_| {}).await
}

/// As [`start_with`], with `tune` applied to the configuration; served by
/// the same accept loop as `pairdesk serve` (caps, header timeout).
async fn start_configured(
    token: Option<&str>,
    listen: Option<std::net::SocketAddr>,
    tune: impl FnOnce(&mut Config),
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("api.db");
    let writer = Writer::spawn(store::open_writer(&db, Durability::Normal).unwrap(), 64);
    writer.tx.send(WriteCmd::Ticks(pair_ticks())).await.unwrap();
    writer.tx.send(WriteCmd::Quotes(book())).await.unwrap();
    writer
        .tx
        .send(WriteCmd::Funding(
            (0..3)
                .map(|k| pairdesk::domain::Funding {
                    venue: Venue::Sim,
                    symbol: "BTCUSDT".into(),
                    ts: T0 + k * 8 * 3_600_000,
                    rate: 0.0001 * (k as f64 - 1.0),
                })
                .collect(),
        ))
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    writer.tx.send(WriteCmd::Flush(tx)).await.unwrap();
    rx.await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config {
        db: db.clone(),
        listen: listen.unwrap_or(addr),
        access_token: token.map(String::from),
        symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
        ..Config::default()
    };
    tune(&mut config);
    let pipeline = Pipeline::new(writer.tx.clone());
    let reads = Arc::new(pairdesk::store::SqliteStore::new(&db));
    let state = Arc::new(AppState::new(config, pipeline, &writer, reads));
    let opts = leptos::config::LeptosOptions::builder()
        .output_name("pairdesk")
        .site_root(dir.path().display().to_string())
        .site_addr(addr)
        .build();
    let app = router(state.clone(), opts);
    let (conns, net, limits) = (
        state.conns.clone(),
        state.net.clone(),
        state.config.http.clone(),
    );
    tokio::spawn(async move {
        pairdesk::http::accept::serve(listener, app, &limits, conns, net, std::future::pending())
            .await
            .unwrap();
    });
    Server {
        base: format!("http://{addr}"),
        addr,
        state,
        _writer: writer,
        _dir: dir,
    }
}

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// GET `url` and parse the JSON body (any status).
async fn get_json(c: &Client, url: impl reqwest::IntoUrl) -> Value {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

/// Asserts the error shape and returns `(code, parameter)`.
async fn error_of(r: reqwest::Response, status: StatusCode) -> (String, Option<String>) {
    assert_eq!(r.status(), status, "unexpected status");
    let ct = r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(ct.starts_with("application/json"), "{ct}");
    let v: Value = r.json().await.unwrap();
    let e = &v["error"];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    (
        e["code"].as_str().unwrap().to_string(),
        e["parameter"].as_str().map(String::from),
    )
}

fn series(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = Vec::new();
    let mut y = Vec::new();
    let (mut w, mut s) = (0.0, 0.0);
    for i in 0..n as i64 {
        w += noise(i, 7) * 0.01;
        s = 0.8 * s + noise(i, 8) * 0.005;
        x.push(100.0 * f64::exp(w));
        y.push(50.0 * f64::exp(0.8 * w + s));
    }
    (x, y)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_routes_answer_from_the_store() {
    let s = start(None).await;
    let c = client();

    let v: Value = get_json(&c, format!("{}/api/v1/symbols", s.base)).await;
    let names: Vec<&str> = v["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["symbol"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"BTCUSDT") && names.contains(&"ETHUSDT") && names.contains(&"SOLUSDT"),
        "{v}"
    );

    // Paging returns every tick exactly once, also across equal timestamps.
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/api/v1/ticks?symbol=solusdt&limit=3", s.base);
        if let Some(c) = &cursor {
            url += &format!("&cursor={c}");
        }
        let v: Value = c.get(url).send().await.unwrap().json().await.unwrap();
        ids.extend(
            v["ticks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["trade_id"].as_i64().unwrap()),
        );
        match v["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(ids, vec![100, 101, 102, 103]);
    let v: Value = get_json(
        &c,
        format!(
            "{}/api/v1/ticks?symbol=BTCUSDT&from={}&to={}&limit=10000",
            s.base,
            T0 + 1000,
            T0 + 2000
        ),
    )
    .await;
    assert_eq!(
        v["ticks"].as_array().unwrap().len(),
        4,
        "[1000, 2000) holds 4 ticks at 250 ms"
    );

    let v: Value = get_json(
        &c,
        format!("{}/api/v1/bars?symbol=ETHUSDT&timeframe=1m&limit=5", s.base),
    )
    .await;
    let bars = v["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 5);
    assert_eq!(bars[4]["trades"], 240, "a full minute at 4 ticks/s");

    let v: Value = get_json(
        &c,
        format!(
            "{}/api/v1/pair?x=BTCUSDT&y=ETHUSDT&timeframe=1s&bars=300&z_window=30",
            s.base
        ),
    )
    .await;
    let beta = v["report"]["regression"]["beta"].as_f64().unwrap();
    assert!(
        (beta - 1.2).abs() < 0.1,
        "hedge ratio of the generated pair is 1.2, got {beta}"
    );
    assert_eq!(v["ts"].as_array().unwrap().len(), 300);
    let rep = &v["report"];
    assert!(
        rep["diagnostics"]["jarque_bera_p"].is_f64(),
        "{}",
        rep["diagnostics"]
    );
    assert_eq!(rep["diagnostics"]["acf"][0], 1.0);
    assert!(rep["ou"]["theta"].as_f64().unwrap() > 0.0, "{}", rep["ou"]);
    let bands = &v["suggested_bands"];
    let z = bands["return_max"]["z"].as_f64().unwrap();
    assert!(z > 0.0 && z < 8.0, "{bands}");
    // Asking for Bertram's bands trades at them: the response's query
    // carries the band as its entry and no inner exit.
    let b: Value = get_json(
        &c,
        format!(
            "{}/api/v1/pair?x=BTCUSDT&y=ETHUSDT&timeframe=1s&bars=300&z_window=30&bands=bertram",
            s.base
        ),
    )
    .await;
    assert_eq!(b["query"]["bands"], "bertram");
    assert_eq!(b["query"]["options"]["entry"].as_f64().unwrap(), z);
    assert_eq!(b["query"]["options"]["exit"].as_f64().unwrap(), 0.0);
    assert!(b["backtest"].is_object(), "{}", b["backtest_error"]);
    for reg in ["tls", "min-half-life"] {
        let r: Value = get_json(
            &c,
            format!(
                "{}/api/v1/pair?x=BTCUSDT&y=ETHUSDT&timeframe=1s&bars=300&z_window=30&regression={reg}",
                s.base
            ),
        )
        .await;
        let beta = r["report"]["regression"]["beta"].as_f64().unwrap();
        assert!((beta - 1.2).abs() < 0.3, "{reg}: {beta}");
    }

    // The same view as a CSV download: one row per bar, the same numbers.
    let r = c
        .get(format!(
            "{}/api/v1/pair.csv?x=BTCUSDT&y=ETHUSDT&timeframe=1s&bars=300&z_window=30&window=60",
            s.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(r.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains("pairdesk-ETHUSDT-BTCUSDT-1s.csv"));
    let csv = r.text().await.unwrap();
    let json: Value = get_json(
        &c,
        format!(
            "{}/api/v1/pair?x=BTCUSDT&y=ETHUSDT&timeframe=1s&bars=300&z_window=30&window=60",
            s.base
        ),
    )
    .await;
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows[0],
        [
            "ts_iso",
            "ts_ms",
            "BTCUSDT_close",
            "ETHUSDT_close",
            "alpha",
            "beta",
            "spread",
            "zscore",
            "correlation",
            "equity"
        ]
    );
    assert_eq!(rows.len(), 301);
    // The rolling fit is undefined for the first window-1 bars.
    assert_eq!(rows[1][5], "");
    for (i, row) in rows[1..].iter().enumerate() {
        assert_eq!(row[1], json["ts"][i].to_string());
        if let Some(b) = json["report"]["beta"][i].as_f64() {
            assert_eq!(row[5].parse::<f64>().unwrap(), b, "beta at bar {i}");
        }
        if let Some(z) = json["report"]["zscore"][i].as_f64() {
            assert_eq!(row[7].parse::<f64>().unwrap(), z, "z at bar {i}");
        }
    }
    let r = c
        .get(format!(
            "{}/api/v1/bars.csv?symbol=ETHUSDT&timeframe=1m&limit=5",
            s.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "ts_iso,ts_ms,open,high,low,close,volume,trades,vwap"
    );
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[5].split(',').nth(7), Some("240"));
    // Errors keep the JSON shape.
    let r = c
        .get(format!("{}/api/v1/bars.csv?symbol=DOGEUSDT", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r, StatusCode::NOT_FOUND).await.0, "unknown_symbol");

    let v: Value = get_json(&c, format!("{}/api/v1/status", s.base)).await;
    assert_eq!(v["status"]["source"], "sim");
    assert!(v["gaps"].is_array());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyze_and_backtest_follow_the_contract() {
    let s = start(None).await;
    let c = client();
    let (x, y) = series(500);
    let r = c
        .post(format!("{}/api/v1/analyze", s.base))
        .json(&json!({"x": x, "y": y, "options": {"window": 100, "z_window": 30}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    for k in [
        "n",
        "regression",
        "adf",
        "coint",
        "half_life",
        "hurst",
        "spread",
        "zscore",
        "beta",
        "alpha",
    ] {
        assert!(v.get(k).is_some(), "missing {k}: {v}");
    }
    assert_eq!(v["n"], 500);
    assert!(
        v["beta"][98].is_null() && v["beta"][99].is_number(),
        "rolling window of 100"
    );
    assert_eq!(
        v["beta_undefined"],
        serde_json::json!([{"start": 0, "end": 98, "reason": "warm-up"}]),
        "the undefined warm-up bars come with their reason"
    );
    assert!(
        v["coint"]["pvalue"].as_f64().unwrap() < 0.05,
        "the generated pair is cointegrated"
    );

    let post = |body: Value| {
        c.post(format!("{}/api/v1/backtest", s.base))
            .json(&body)
            .send()
    };
    let bt = json!({"fill": "next-close", "fee_bps_x": 2, "fee_bps_y": 3, "notional": 5000, "stop_pct": 1.0});
    let r =
        post(json!({"x": x, "y": y, "options": {"z_window": 30, "entry": 1.5}, "backtest": bt}))
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["equity"].as_array().unwrap().len(), 500);
    let trades = v["trades"].as_array().unwrap();
    assert!(!trades.is_empty());
    assert_eq!(
        v["summary"]["trades"].as_u64().unwrap() as usize,
        trades.len()
    );
    assert_eq!(v["summary"]["notional"].as_f64(), Some(5000.0));
    // Every trade fills on a later bar than the one that decided it, and
    // the trades' net adds up to the equity.
    for t in trades {
        assert!(t["entry_bar"].as_u64() > t["signal_bar"].as_u64(), "{t}");
    }
    let sum: f64 = trades.iter().map(|t| t["net"].as_f64().unwrap()).sum();
    let net = v["summary"]["net"].as_f64().unwrap();
    assert!((sum - net).abs() < 1e-6, "{sum} vs {net}");

    // Walk-forward reports both samples and its folds.
    let r = post(json!({"x": x, "y": y, "backtest": {"fill": "next-close"},
        "walk_forward": {"train": 200, "test": 100}}))
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let wf = &v["walk_forward"];
    assert_eq!(wf["folds"].as_array().unwrap().len(), 3);
    assert!(wf["in_sample"]["bars"].as_u64().unwrap() > 0);
    assert_eq!(wf["out_of_sample"]["net"], v["summary"]["net"]);

    // Next-open fills need the opens; the error says so.
    let r = post(json!({"x": x, "y": y})).await.unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await,
        ("bad_parameter".into(), Some("fill".into()))
    );
    let r = post(json!({"x": x, "y": y, "backtest": {"fill": "next-close", "notional": -1}}))
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.0,
        "bad_parameter"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_status_has_the_json_shape() {
    let s = start(None).await;
    let c = client();
    let b = &s.base;

    // 400: query parameters, named.
    let r = c
        .get(format!("{b}/api/v1/ticks?symbol=BTCUSDT&limit=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await,
        ("bad_parameter".into(), Some("limit".into()))
    );
    let r = c
        .get(format!("{b}/api/v1/ticks?symbol=BTCUSDT&limit=many"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
        Some("limit")
    );
    let r = c
        .get(format!("{b}/api/v1/bars?limit=5"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
        Some("symbol")
    );
    let r = c
        .get(format!("{b}/api/v1/bars?symbol=BTCUSDT&timeframe=2m"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
        Some("timeframe")
    );
    let r = c
        .get(format!("{b}/api/v1/ticks?symbol=BTC/USDT"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
        Some("symbol")
    );
    let r = c
        .get(format!("{b}/api/v1/ticks?symbol=BTCUSDT&cursor=zz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
        Some("cursor")
    );
    let r = c
        .get(format!("{b}/api/v1/pair?x=BTCUSDT&y=ETHUSDT&window=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
        Some("window")
    );
    // Backtest settings are named too, a half-given walk-forward by the
    // window that is missing.
    for (q, param) in [
        ("wf_train=50", "wf_test"),
        ("wf_test=20", "wf_train"),
        ("stop_pct=0", "stop_pct"),
        ("notional=-5", "notional"),
        ("fill=sometimes", "fill"),
        ("slippage_bps=5000", "slippage_bps"),
    ] {
        let r = c
            .get(format!("{b}/api/v1/pair?x=BTCUSDT&y=ETHUSDT&{q}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
            Some(param),
            "{q}"
        );
    }
    let r = c
        .delete(format!("{b}/api/v1/alerts/abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
        Some("id")
    );

    // 400: JSON bodies, the field named.
    let r = c
        .post(format!("{b}/api/v1/analyze"))
        .json(&json!({"x": [1, "a"], "y": [1, 2]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
        Some("x[1]")
    );
    let r = c
        .post(format!("{b}/api/v1/analyze"))
        .json(&json!({"y": [1, 2]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
        Some("x")
    );
    let r = c
        .post(format!("{b}/api/v1/analyze"))
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"x\": [1,2,")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.0,
        "bad_parameter"
    );
    let (x, y) = series(100);
    let r = c
        .post(format!("{b}/api/v1/analyze"))
        .json(&json!({"x": x, "y": y, "options": {"z_window": 1000}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
        Some("z_window")
    );
    let r = c
        .post(format!("{b}/api/v1/analyze"))
        .json(&json!({"x": x, "y": &y[..50]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
        Some("y")
    );
    let r = c
        .post(format!("{b}/api/v1/alerts"))
        .json(&json!({"pair": {"x": "BTCUSDT", "y": "ETHUSDT"}, "metric": "pvalue", "op": "below", "value": 5}))
        .send().await.unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
        Some("value")
    );

    // 404: unknown symbols, rules and routes.
    let r = c
        .get(format!("{b}/api/v1/bars?symbol=DOGEUSDT"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::NOT_FOUND).await,
        ("unknown_symbol".into(), Some("symbol".into()))
    );
    let r = c
        .get(format!("{b}/api/v1/ticks?symbol=DOGEUSDT"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r, StatusCode::NOT_FOUND).await.0, "unknown_symbol");
    let r = c
        .get(format!("{b}/api/v1/pair?x=BTCUSDT&y=DOGEUSDT"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r, StatusCode::NOT_FOUND).await.0, "unknown_symbol");
    let r = c
        .delete(format!("{b}/api/v1/alerts/999"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r, StatusCode::NOT_FOUND).await.0, "not_found");
    let r = c
        .get(format!("{b}/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r, StatusCode::NOT_FOUND).await.0, "not_found");

    // 413: declared and undeclared (chunked) oversized bodies.
    let big = vec![1.0f64; 150_000];
    let r = c
        .post(format!("{b}/api/v1/analyze"))
        .json(&json!({"x": big, "y": big}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::PAYLOAD_TOO_LARGE).await.0,
        "payload_too_large"
    );
    let r = c
        .post(format!("{b}/api/v1/alerts"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(format!("{{\"pad\": \"{}\"}}", "a".repeat(20_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::PAYLOAD_TOO_LARGE).await.0,
        "payload_too_large"
    );
    let status = chunked_post(s.addr, "/api/v1/alerts", 40_000).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    // 415: not JSON.
    let r = c
        .post(format!("{b}/api/v1/analyze"))
        .body("x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await.0,
        "unsupported_media_type"
    );

    // 422: well-formed input the analytics cannot use.
    let r = c
        .post(format!("{b}/api/v1/analyze"))
        .json(&json!({"x": vec![5.0; 50], "y": y[..50]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::UNPROCESSABLE_ENTITY).await,
        ("unprocessable".into(), Some("x".into()))
    );
    let r = c
        .post(format!("{b}/api/v1/analyze"))
        .json(&json!({"x": [1.0, 2.0, 3.0], "y": [2.0, 1.0, 3.0], "options": {"z_window": 2}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::UNPROCESSABLE_ENTITY).await.0,
        "unprocessable"
    );
    let r = c
        .post(format!("{b}/api/v1/analyze"))
        .json(&json!({"x": [1.0, -2.0, 3.0, 4.0], "y": [2.0, 1.0, 3.0, 4.0], "options": {"z_window": 2}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::UNPROCESSABLE_ENTITY).await.0,
        "unprocessable"
    );
    let r = c.post(format!("{b}/api/v1/analyze")).json(&json!({"x": [1e300, 2e300, 3e300, 1e300, 5e300, 2e300, 7e300, 1e300, 9e300, 3e300, 1e300, 4e300],
        "y": [3e300, 1e300, 2e300, 5e300, 1e300, 7e300, 2e300, 8e300, 1e300, 9e300, 2e300, 1e300], "options": {"prices": "raw", "z_window": 5}}))
        .send().await.unwrap();
    assert!(
        r.status() == 422 || r.status() == 200,
        "absurd scale is 422 or a finite answer, got {}",
        r.status()
    );
}

/// POST a chunked body of `len` bytes without Content-Length; the status line.
async fn chunked_post(addr: std::net::SocketAddr, path: &str, len: usize) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 4096];
    let mut sent = 0;
    while sent < len {
        let hdr = format!("{:x}\r\n", chunk.len());
        if s.write_all(hdr.as_bytes()).await.is_err()
            || s.write_all(&chunk).await.is_err()
            || s.write_all(b"\r\n").await.is_err()
        {
            break; // the server answered and closed early
        }
        sent += chunk.len();
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_round_trip() {
    let s = start(None).await;
    let c = client();
    let rule = json!({"pair": {"x": "btcusdt", "y": "ETHUSDT"}, "metric": "zscore", "op": "crosses", "value": 2.0,
        "webhook": "https://hooks.example.com/pairdesk"});
    let r = c
        .post(format!("{}/api/v1/alerts", s.base))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let id = v["id"].as_i64().unwrap();
    assert_eq!(v["rule"]["pair"]["x"], "BTCUSDT", "symbols are normalised");
    let v: Value = get_json(&c, format!("{}/api/v1/alerts", s.base)).await;
    assert_eq!(v["rules"].as_array().unwrap().len(), 1);

    s.state.store.record_event(id, T0, "z crossed 2.0").unwrap();
    let v: Value = get_json(&c, format!("{}/api/v1/alert-events?rule_id={id}", s.base)).await;
    assert_eq!(v["events"][0]["message"], "z crossed 2.0");

    let r = c
        .delete(format!("{}/api/v1/alerts/{id}", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let v: Value = get_json(&c, format!("{}/api/v1/alerts", s.base)).await;
    assert!(v["rules"].as_array().unwrap().is_empty());

    // A basket rule, and the basket rules refused naming the field.
    let r = c
        .post(format!("{}/api/v1/alerts", s.base))
        .json(&json!({"basket": ["btcusdt", "ETHUSDT"], "metric": "zscore", "op": "above", "value": 2.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["rule"]["basket"], json!(["BTCUSDT", "ETHUSDT"]));
    assert!(v["rule"].get("pair").is_none());
    for (body, field) in [
        (
            json!({"basket": ["BTCUSDT", "ETHUSDT"], "metric": "correlation", "op": "above", "value": 0.5}),
            "metric",
        ),
        (
            json!({"basket": ["BTCUSDT"], "metric": "zscore", "op": "above", "value": 2}),
            "basket",
        ),
        (
            json!({"metric": "zscore", "op": "above", "value": 2}),
            "pair",
        ),
        (
            json!({"pair": {"x": "BTCUSDT", "y": "ETHUSDT"}, "basket": ["BTCUSDT", "ETHUSDT"], "metric": "zscore", "op": "above", "value": 2}),
            "basket",
        ),
    ] {
        let r = c
            .post(format!("{}/api/v1/alerts", s.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
            Some(field),
            "{body}"
        );
    }
}

/// The basket test on stored symbols is the posted-series test on the same
/// aligned log closes; bad baskets are named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn johansen_on_stored_symbols_matches_the_posted_series() {
    let s = start(None).await;
    let c = client();
    let b = &s.base;
    let got = get_json(
        &c,
        format!("{b}/api/v1/johansen?symbols=btcusdt,ETHUSDT&timeframe=1s&bars=300&k_ar_diff=2"),
    )
    .await;
    assert_eq!(
        got["query"]["symbols"],
        json!(["BTCUSDT", "ETHUSDT"]),
        "{got}"
    );
    let pair = get_json(
        &c,
        format!("{b}/api/v1/pair?x=BTCUSDT&y=ETHUSDT&timeframe=1s&bars=300&ffill=0&z_window=30"),
    )
    .await;
    let ln = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap().ln())
            .collect()
    };
    assert_eq!(got["bars"], pair["ts"].as_array().unwrap().len());
    let r = c
        .post(format!("{b}/api/v1/johansen"))
        .json(&json!({"legs": [ln(&pair["px"]), ln(&pair["py"])], "det_order": 0, "k_ar_diff": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let posted: Value = r.json().await.unwrap();
    assert_eq!(got["johansen"], posted);
    assert_eq!(posted["trace_crit"][0], json!([13.4294, 15.4943, 19.9349]));
    // The hedge blocks: BTC on ETH by OLS, Johansen's first vector scaled
    // to BTC's 1, and the spread those weights hold.
    let w = got["weights_johansen"].as_array().unwrap();
    assert_eq!(w[0], 1.0);
    assert_eq!(got["weights_ols"][0], 1.0);
    let beta = got["ols"]["params"][0].as_f64().unwrap();
    assert_eq!(got["weights_ols"][1].as_f64().unwrap(), -beta);
    assert!(got["ols"]["bse"][0].as_f64().unwrap() > 0.0);
    assert!(got["engle_granger"]["pvalue"].is_f64(), "{}", got["notes"]);
    let (lx, ly) = (ln(&pair["px"]), ln(&pair["py"]));
    let w1 = w[1].as_f64().unwrap();
    let spread = got["spread"].as_array().unwrap();
    assert_eq!(spread.len(), lx.len());
    for t in [0, lx.len() / 2, lx.len() - 1] {
        let want = lx[t] + w1 * ly[t];
        assert!((spread[t].as_f64().unwrap() - want).abs() < 1e-12);
    }
    assert!(got["diagnostics"]["acf"].is_array());
    assert!(got["suggested_bands"]["cost"].as_f64().unwrap() > 0.0);
    // The backtest on the rolling hedge (defaults shrunk to the range:
    // 150 and 60 bars of 300): one equity value and z per aligned bar,
    // undefined until both windows are in, trades that add up.
    assert_eq!(got["query"]["window"], 150);
    assert_eq!(got["query"]["z_window"], 60);
    let bt = &got["backtest"];
    assert!(bt.is_object(), "{}", got["backtest_error"]);
    assert_eq!(bt["equity"].as_array().unwrap().len(), lx.len());
    let z = got["zscore"].as_array().unwrap();
    assert_eq!(z.len(), lx.len());
    assert!(z[..150 + 60 - 2].iter().all(Value::is_null));
    assert!(z[lx.len() - 1].is_f64());
    let net: f64 = bt["trades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["net"].as_f64().unwrap())
        .sum();
    let last = bt["equity"][lx.len() - 1].as_f64().unwrap();
    assert!(
        (net - last).abs() < 1e-6 * last.abs().max(1.0),
        "{net} vs {last}"
    );

    // Walk-forward: the folds' fits trade out of sample; the z traded is
    // undefined over the first training window, and the folds' net adds
    // up to the run's.
    let wf = get_json(
        &c,
        format!(
            "{b}/api/v1/johansen?symbols=btcusdt,ETHUSDT&timeframe=1s&bars=300&wf_train=100&wf_test=50"
        ),
    )
    .await;
    let bt = &wf["backtest"];
    assert!(bt.is_object(), "{}", wf["backtest_error"]);
    let folds = bt["walk_forward"]["folds"].as_array().unwrap();
    let n = wf["bars"].as_u64().unwrap() as usize;
    assert_eq!(folds.len(), (n - 100).div_ceil(50));
    assert!(folds[0]["weights"][0].as_f64() == Some(1.0), "{}", folds[0]);
    let z = wf["zscore"].as_array().unwrap();
    assert!(z[..100].iter().all(Value::is_null));
    assert!(z[100].is_f64());
    let oos: f64 = folds
        .iter()
        .map(|f| f["out_of_sample_net"].as_f64().unwrap())
        .sum();
    let net = bt["summary"]["net"].as_f64().unwrap();
    assert!(
        (oos - net).abs() < 1e-6 * net.abs().max(1.0),
        "{oos} vs {net}"
    );

    // The CSV of a fixed range: one row per aligned bar, the JSON's
    // figures.
    let last = got["ts"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_i64()
        .unwrap();
    let fixed = format!(
        "symbols=BTCUSDT,ETHUSDT&timeframe=1s&bars=300&to={}",
        last + 1000
    );
    let json_r = get_json(&c, format!("{b}/api/v1/johansen?{fixed}")).await;
    let r = c
        .get(format!("{b}/api/v1/johansen.csv?{fixed}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("pairdesk-basket-BTCUSDT-ETHUSDT-1s.csv"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "ts_iso,ts_ms,BTCUSDT_close,ETHUSDT_close,johansen_spread,zscore,position,equity"
    );
    let ts = json_r["ts"].as_array().unwrap();
    assert_eq!(lines.len(), ts.len() + 1);
    let n = ts.len();
    let cells: Vec<&str> = lines[n].split(',').collect();
    assert_eq!(cells[1], ts[n - 1].as_i64().unwrap().to_string());
    let num = |v: &str| v.parse::<f64>().unwrap();
    assert_eq!(num(cells[4]), json_r["spread"][n - 1].as_f64().unwrap());
    assert_eq!(num(cells[5]), json_r["zscore"][n - 1].as_f64().unwrap());
    assert_eq!(
        num(cells[7]),
        json_r["backtest"]["equity"][n - 1].as_f64().unwrap()
    );
    let r = c
        .get(format!("{b}/api/v1/johansen.csv?symbols=BTCUSDT"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
        Some("symbols")
    );

    for (q, status, param) in [
        ("symbols=BTCUSDT,ETHUSDT&wf_train=100", 400, "wf_test"),
        (
            "symbols=BTCUSDT,ETHUSDT&bars=300&wf_train=250&wf_test=100",
            400,
            "walk_forward",
        ),
        ("symbols=BTCUSDT", 400, "symbols"),
        ("symbols=BTCUSDT,ETHUSDT&window=3", 400, "window"),
        ("symbols=BTCUSDT,ETHUSDT&bars=300&window=301", 400, "window"),
        ("symbols=BTCUSDT,ETHUSDT&entry=1&exit=2", 400, "exit"),
        ("symbols=BTCUSDT,ETHUSDT&notional=-5", 400, "notional"),
        ("symbols=BTCUSDT,ETHUSDT&det_order=3", 400, "det_order"),
        ("symbols=BTCUSDT,ETHUSDT&bars=5", 400, "bars"),
        ("symbols=BTCUSDT,NOPEUSDT", 404, "symbols"),
    ] {
        let r = c
            .get(format!("{b}/api/v1/johansen?{q}"))
            .send()
            .await
            .unwrap();
        let (_, p) = error_of(r, StatusCode::from_u16(status).unwrap()).await;
        assert_eq!(p.as_deref(), Some(param), "{q}");
    }
    let r = c
        .post(format!("{b}/api/v1/johansen"))
        .json(&json!({"legs": [[1.0, 2.0, 3.0]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
        Some("legs")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paper_sessions_start_show_and_stop_over_http() {
    let s = start(None).await;
    let c = client();
    let b = &s.base;
    let q = json!({"x": "btcusdt", "y": "ETHUSDT", "timeframe": "1s", "bars": 100,
        "options": {"window": 20, "z_window": 10}, "backtest": {"fill": "next-quote"}});
    let r = c
        .post(format!("{b}/api/v1/paper"))
        .json(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let id = v["id"].as_i64().unwrap();
    assert_eq!(v["query"]["pair"]["x"], "BTCUSDT", "symbols are normalised");
    assert_eq!(v["status"], "active");
    let v = get_json(&c, format!("{b}/api/v1/paper/{id}")).await;
    assert_eq!(v["session"]["id"], id);
    assert_eq!(v["ledger"]["fills"], 0);
    assert!(v["fills"].as_array().unwrap().is_empty());
    let v = get_json(&c, format!("{b}/api/v1/paper")).await;
    assert_eq!(v["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(v["sessions"][0]["ledger"]["qty"], json!([0.0, 0.0]));

    // Bad sessions are named; unknown ones are 404.
    for (body, param) in [
        (json!({"x": "BTCUSDT", "y": "ETHUSDT", "to": 5}), "to"),
        (json!({"x": "BTCUSDT", "y": "BTCUSDT"}), "y"),
        (
            json!({"x": "BTCUSDT", "y": "ETHUSDT", "backtest": {"notional": 0}}),
            "notional",
        ),
        (
            json!({"x": "BTCUSDT", "y": "ETHUSDT", "walk_forward": {"train": 50, "test": 10}}),
            "walk_forward",
        ),
    ] {
        let r = c
            .post(format!("{b}/api/v1/paper"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let (code, p) = error_of(r, StatusCode::BAD_REQUEST).await;
        assert_eq!(
            (code.as_str(), p.as_deref()),
            ("bad_parameter", Some(param)),
            "{body}"
        );
    }
    let r = c
        .post(format!("{b}/api/v1/paper"))
        .json(&json!({"x": "BTCUSDT", "y": "NOPEUSDT"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r, StatusCode::NOT_FOUND).await.0, "unknown_symbol");
    let r = c.get(format!("{b}/api/v1/paper/abc")).send().await.unwrap();
    assert_eq!(
        error_of(r, StatusCode::BAD_REQUEST).await.1.as_deref(),
        Some("id")
    );
    let r = c.get(format!("{b}/api/v1/paper/999")).send().await.unwrap();
    assert_eq!(error_of(r, StatusCode::NOT_FOUND).await.0, "not_found");
    let r = c
        .post(format!("{b}/api/v1/paper/999/stop"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r, StatusCode::NOT_FOUND).await.0, "not_found");

    // A basket's session: its query as sent (normalised), the ledger one
    // quantity per leg; bad baskets named, unknown legs 404.
    let r = c
        .post(format!("{b}/api/v1/paper/basket"))
        .json(
            &json!({"symbols": ["ethusdt", "BTCUSDT"], "timeframe": "1s", "bars": 100,
            "window": 20, "z_window": 10}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["query"]["basket"]["symbols"],
        json!(["ETHUSDT", "BTCUSDT"])
    );
    let basket_id = v["id"].as_i64().unwrap();
    let v = get_json(&c, format!("{b}/api/v1/paper/{basket_id}")).await;
    assert_eq!(v["ledger"]["qty"], json!([0.0, 0.0]));
    for (body, param) in [
        (json!({"symbols": ["BTCUSDT"]}), "symbols"),
        (json!({"symbols": ["BTCUSDT", "ETHUSDT"], "to": 5}), "to"),
        (
            json!({"symbols": ["BTCUSDT", "ETHUSDT"], "window": 2}),
            "window",
        ),
        (
            json!({"symbols": ["BTCUSDT", "ETHUSDT"], "walk_forward": {"train": 50, "test": 10}}),
            "walk_forward",
        ),
    ] {
        let r = c
            .post(format!("{b}/api/v1/paper/basket"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let (code, p) = error_of(r, StatusCode::BAD_REQUEST).await;
        assert_eq!(
            (code.as_str(), p.as_deref()),
            ("bad_parameter", Some(param)),
            "{body}"
        );
    }
    let r = c
        .post(format!("{b}/api/v1/paper/basket"))
        .json(&json!({"symbols": ["BTCUSDT", "NOPEUSDT"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r, StatusCode::NOT_FOUND).await.0, "unknown_symbol");

    let r = c
        .post(format!("{b}/api/v1/paper/{id}/stop"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "stopping");
    let v = get_json(&c, format!("{b}/api/v1/paper/{id}")).await;
    assert_eq!(
        v["pending"]["reason"], "user-stop",
        "a flatten order waits: {v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_endpoints() {
    let s = start(None).await;
    let c = client();
    let v: Value = get_json(&c, format!("{}/healthz", s.base)).await;
    assert_eq!(v["status"], "ok");

    // Not connected: not ready, and it says why.
    let r = c.get(format!("{}/readyz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (
            v["database_writable"].as_bool(),
            v["source_connected"].as_bool()
        ),
        (Some(true), Some(false))
    );
    s.state.pipeline.metrics.connected.store(true, Relaxed);
    let r = c.get(format!("{}/readyz", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let r = c
        .get(format!("{}/api/v1/alerts/x", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::METHOD_NOT_ALLOWED).await.0,
        "method_not_allowed"
    );
    let r = c
        .get(format!("{}/api/v1/no/such/route", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r, StatusCode::NOT_FOUND).await.0, "not_found");
    // One fault that left us blind for 1.5 s.
    s.state
        .pipeline
        .metrics
        .observe_blind(std::time::Duration::from_millis(1500));
    assert_eq!(s.state.status().blind_ms, Some(1500));
    let m = c
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "pairdesk_ticks_ingested_total",
        "pairdesk_ticks_dropped_total{reason=\"zero_price\"}",
        "pairdesk_ticks_duplicate_total{stage=\"store\"}",
        "pairdesk_source_reconnects_total",
        "pairdesk_gaps_found_total",
        "pairdesk_writer_max_batch_seconds",
        "pairdesk_writer_channel_capacity 64",
        "pairdesk_source_blind_seconds_bucket{le=\"1\"} 0",
        "pairdesk_source_blind_seconds_bucket{le=\"2\"} 1",
        "pairdesk_source_blind_seconds_bucket{le=\"+Inf\"} 1",
        "pairdesk_source_blind_seconds_sum 1.5",
        "pairdesk_http_request_duration_seconds_bucket{method=\"GET\",route=\"/readyz\",le=\"+Inf\"} 2",
        "pairdesk_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"503\"} 1",
        // Routes are labelled by pattern, not by the raw path.
        "route=\"/api/v1/{*rest}\"",
    ] {
        assert!(m.contains(name), "{name} missing from\n{m}");
    }

    let doc: Value = get_json(&c, format!("{}/api/openapi.json", s.base)).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/v1/analyze"]["post"].is_object());
    // utoipa keys components by bare type name, so two types called the same
    // silently overwrite each other; the trade side and the spread position
    // side once did, and the tick responses were documented as long/short.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Side"]["enum"], json!(["buy", "sell", "unknown"]));
    assert_eq!(schemas["PositionSide"]["enum"], json!(["long", "short"]));
    let r = c.get(format!("{}/docs/", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("swagger-ui"));
    let r = c
        .get(format!("{}/docs/swagger-ui-bundle.js", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "explorer assets are served from the binary"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_security_headers() {
    let s = start(None).await;
    let r = client().get(format!("{}/", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    let body = r.text().await.unwrap();
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("'wasm-unsafe-eval'") && csp.contains("default-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
    // The page's inline hydration script carries the nonce the CSP allows.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert!(
        body.contains(&format!("nonce=\"{nonce}\"")),
        "inline scripts lack the nonce"
    );
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(h.contains_key(header::REFERRER_POLICY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_are_refused() {
    let s = start(None).await;
    let c = client();
    let rule = json!({"pair": {"x": "BTCUSDT", "y": "ETHUSDT"}, "metric": "zscore", "op": "above", "value": 2.0});
    let r = c
        .post(format!("{}/api/v1/alerts", s.base))
        .header(header::ORIGIN, "http://evil.example")
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::FORBIDDEN).await.0,
        "forbidden_origin"
    );
    let r = c
        .post(format!("{}/api/v1/alerts", s.base))
        .header("sec-fetch-site", "cross-site")
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = get_json(&c, format!("{}/api/v1/alerts", s.base)).await;
    assert!(
        v["rules"].as_array().unwrap().is_empty(),
        "refused requests change nothing"
    );

    // The server's own origin passes.
    let r = c
        .post(format!("{}/api/v1/alerts", s.base))
        .header(header::ORIGIN, s.base.clone())
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // A WebSocket upgrade from a foreign page is refused before any handler.
    let r = c
        .get(format!("{}/ws", s.base))
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header(header::ORIGIN, "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Server functions are state-changing POSTs too.
    let r = c
        .post(format!(
            "{}{}",
            s.base,
            <pairdesk::api::server_fns::GetStatus as leptos::server_fn::ServerFn>::PATH
        ))
        .header(header::ORIGIN, "http://evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_token_is_required_everywhere() {
    let s = start(Some(TOKEN)).await;
    let c = client();
    let sfn = <pairdesk::api::server_fns::GetStatus as leptos::server_fn::ServerFn>::PATH;

    for path in [
        "/api/v1/status",
        "/api/v1/symbols",
        "/metrics",
        "/readyz",
        "/api/openapi.json",
        "/docs/",
    ] {
        let r = c.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path} without a token");
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
    let r = c
        .post(format!("{}{sfn}", s.base))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "server function without a token");
    let r = c
        .get(format!("{}/ws", s.base))
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "WebSocket without a token");
    let r = c
        .get(format!("{}/api/v1/status", s.base))
        .bearer_auth("wrong-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::UNAUTHORIZED).await.0,
        "unauthorized"
    );

    // Liveness stays open for probes.
    assert_eq!(
        c.get(format!("{}/healthz", s.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // With the token: API and server function work.
    let r = c
        .get(format!("{}/api/v1/status", s.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(format!("{}{sfn}", s.base))
        .bearer_auth(TOKEN)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // Browsers are sent to the login page, which sets a session cookie.
    let r = c
        .get(format!("{}/", s.base))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[header::LOCATION], "/login");
    let r = c.get(format!("{}/login", s.base)).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("name=\"token\""));
    let r = c
        .post(format!("{}/login", s.base))
        .form(&[("token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(!r.headers().contains_key(header::SET_COOKIE));
    let r = c
        .post(format!("{}/login", s.base))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(TOKEN),
        "the cookie does not carry the token verbatim"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let r = c
        .get(format!("{}/api/v1/status", s.base))
        .header(header::COOKIE, pair.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(format!("{}/", s.base))
        .header(header::COOKIE, pair)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_loopback_the_token_is_mandatory_and_enforced() {
    use pairdesk::config::Overrides;
    let e = Config::from_toml("listen = \"0.0.0.0:3000\"", &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("access token"), "{e}");
    let c = Config::from_toml(
        &format!("listen = \"0.0.0.0:3000\"\naccess_token = \"{TOKEN}\""),
        &Overrides::default(),
    )
    .unwrap();
    // Serve that configuration (the socket stays on loopback for the test).
    let s = start_with(c.access_token.as_deref(), Some(c.listen)).await;
    let cl = client();
    let r = cl
        .get(format!("{}/api/v1/symbols", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::UNAUTHORIZED).await.0,
        "unauthorized"
    );
    let r = cl
        .get(format!("{}/api/v1/symbols", s.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Reads live updates until `want` ticks have been announced or 10 s pass;
/// returns the announced total, the updates' `last_ts` and the pushed prices.
async fn announced<S>(
    ws: &mut S,
    want: u64,
) -> (u64, Vec<i64>, Vec<pairdesk::model::live::LivePrice>)
where
    S: futures::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures::StreamExt;
    let (mut total, mut stamps, mut prices) = (0u64, Vec::new(), Vec::new());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while total < want {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("live updates stopped")
            .expect("socket closed")
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            let u: pairdesk::model::live::LiveUpdate = serde_json::from_str(t.as_str()).unwrap();
            assert_eq!(u.interval_ms, pairdesk::model::live::BASE_INTERVAL_MS);
            assert_eq!(u.lagged, 0);
            total += u.new_ticks;
            stamps.extend(u.last_ts);
            prices.extend(u.prices);
        }
    }
    (total, stamps, prices)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_push_announces_every_tick_to_every_page() {
    let s = start(None).await;
    let url = format!("ws://{}/ws/live", s.addr);
    let (mut a, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let (mut b, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    // Page a shows ADAUSDT: it asks for that symbol's newest trades.
    {
        use futures::SinkExt;
        let watch = r#"{"watch":["ADAUSDT","SOLUSDT"]}"#;
        a.send(tokio_tungstenite::tungstenite::Message::Text(watch.into()))
            .await
            .unwrap();
    }
    // Give the hub a moment to start on the first page's subscription.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let t0 = T0 + 3_600_000;
    let mut sent = 0u64;
    for batch in 0..20i64 {
        let ticks: Vec<Tick> = (0..100i64)
            .map(|k| Tick {
                venue: Venue::Sim,
                symbol: "ADAUSDT".into(),
                trade_id: 1 + batch * 100 + k,
                exchange_ts: t0 + batch * 10 + k / 10,
                receive_ts: t0 + batch * 10 + k / 10,
                price: 0.5 + (batch * 100 + k) as f64 * 1e-4,
                qty: 10.0,
                side: Side::Buy,
            })
            .collect();
        sent += ticks.len() as u64;
        s.state.pipeline.ingest(ticks).await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let ((ta, sa, pa), (tb, sb, pb)) =
        tokio::join!(announced(&mut a, sent), announced(&mut b, sent));
    // Each page is told about every tick exactly once, and the newest
    // exchange time it saw is the newest tick's.
    assert_eq!(ta, sent);
    assert_eq!(tb, sent);
    let newest = t0 + 19 * 10 + 9;
    assert_eq!(sa.last(), Some(&newest));
    assert_eq!(sb.last(), Some(&newest));
    assert!(sa.windows(2).all(|w| w[0] <= w[1]), "{sa:?}");
    // The watching page got ADAUSDT's newest trade; the other got no prices.
    let last = pa.last().expect("no prices pushed to the watching page");
    assert_eq!((last.symbol.as_str(), last.ts), ("ADAUSDT", newest));
    assert!(
        (last.price - (0.5 + 1999.0 * 1e-4)).abs() < 1e-12,
        "{last:?}"
    );
    assert!(pb.is_empty(), "{pb:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_page_message_closes_the_live_socket() {
    use futures::{SinkExt, StreamExt};
    let s = start(None).await;
    let url = format!("ws://{}/ws/live", s.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let big = format!(r#"{{"watch":["{}"]}}"#, "A".repeat(100_000));
    let _ = ws
        .send(tokio_tungstenite::tungstenite::Message::Text(big.into()))
        .await;
    // The server drops the connection instead of buffering the message.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None
                | Some(Err(_))
                | Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => return true,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert_eq!(ended, Ok(true), "the socket stayed open");
}

// ------------------------------------------------- hostile browsers and networks

/// Send `head` (a request without its final blank line) plus `body` on a new
/// connection and return the status code and the whole response text.
async fn raw_request(addr: std::net::SocketAddr, head: &str, body: &str) -> (u16, String) {
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sock.read_to_end(&mut out),
    )
    .await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_rebinding_is_refused_by_the_host_check() {
    let s = start(None).await;
    let port = s.addr.port();
    let evil = format!("evil.example:{port}");
    // A page on evil.example, its name re-pointed at 127.0.0.1: Host and
    // Origin agree with each other, but not with this server.
    let (st, text) = raw_request(
        s.addr,
        &format!("GET /api/v1/symbols HTTP/1.1\r\nHost: {evil}\r\nOrigin: http://{evil}"),
        "",
    )
    .await;
    assert_eq!(st, 403, "{text}");
    assert!(text.contains("forbidden_host"), "{text}");
    assert!(!text.contains("BTCUSDT"), "no data leaks: {text}");
    let rule =
        r#"{"pair":{"x":"BTCUSDT","y":"ETHUSDT"},"metric":"zscore","op":"above","value":2.0}"#;
    let (st, text) = raw_request(
        s.addr,
        &format!(
            "POST /api/v1/alerts HTTP/1.1\r\nHost: {evil}\r\nOrigin: http://{evil}\r\nContent-Type: application/json"
        ),
        rule,
    )
    .await;
    assert_eq!(st, 403, "{text}");
    let ws = |host: &str| {
        format!(
            "GET /ws/live HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
        )
    };
    let (st, text) = raw_request(s.addr, &ws(&evil), "").await;
    assert_eq!(st, 403, "{text}");
    // Pages, the wrong port on a loopback name, and no Host at all.
    for host in [
        evil.as_str(),
        &format!("localhost:{}", port + 1),
        "localhost",
    ] {
        let (st, _) = raw_request(s.addr, &format!("GET / HTTP/1.1\r\nHost: {host}"), "").await;
        assert_eq!(st, 403, "{host}");
    }
    let (st, _) = raw_request(s.addr, "GET /api/v1/symbols HTTP/1.0", "").await;
    assert_eq!(st, 403, "a request without Host");
    let v: Value = get_json(&client(), format!("{}/api/v1/alerts", s.base)).await;
    assert!(
        v["rules"].as_array().unwrap().is_empty(),
        "nothing was created"
    );

    // The server's own loopback names pass, for data, writes and the socket.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let (st, text) = raw_request(
            s.addr,
            &format!("GET /api/v1/symbols HTTP/1.1\r\nHost: {host}"),
            "",
        )
        .await;
        assert_eq!(st, 200, "{host}: {text}");
    }
    let own = format!("localhost:{port}");
    let (st, text) = raw_request(
        s.addr,
        &format!(
            "POST /api/v1/alerts HTTP/1.1\r\nHost: {own}\r\nOrigin: http://{own}\r\nContent-Type: application/json"
        ),
        rule,
    )
    .await;
    assert_eq!(st, 201, "{text}");
    let (st, text) = raw_request(s.addr, &ws(&own), "").await;
    assert_eq!(st, 101, "{text}");
}

/// Status of `GET /api/v1/symbols` sent with `Host: host` and `extra` header lines.
async fn symbols_status(addr: std::net::SocketAddr, host: &str, extra: &str) -> u16 {
    raw_request(
        addr,
        &format!("GET /api/v1/symbols HTTP/1.1\r\nHost: {host}{extra}"),
        "",
    )
    .await
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_hosts_extend_the_loopback_names() {
    let s = start_configured(None, None, |c| {
        c.allowed_hosts = vec!["desk.example".into()];
    })
    .await;
    assert_eq!(symbols_status(s.addr, "desk.example", "").await, 200);
    assert_eq!(symbols_status(s.addr, "other.example", "").await, 403);
    // With a token, any Host is answered (the token is the defence), but
    // still only with the token.
    let s = start_with(Some(TOKEN), None).await;
    assert_eq!(symbols_status(s.addr, "desk.example", "").await, 401);
    let bearer = format!("\r\nAuthorization: Bearer {TOKEN}");
    assert_eq!(symbols_status(s.addr, "desk.example", &bearer).await, 200);
}

async fn post_rule(c: &Client, base: &str, webhook: &str) -> reqwest::Response {
    let rule = json!({"pair": {"x": "BTCUSDT", "y": "ETHUSDT"}, "metric": "zscore", "op": "above",
        "value": 2.0, "webhook": webhook});
    c.post(format!("{base}/api/v1/alerts"))
        .json(&rule)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_may_not_reach_internal_addresses() {
    let s = start(None).await;
    let c = client();
    for (url, why) in [
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[fd00:ec2::254]/latest", "metadata"),
        ("http://100.100.100.200/", "metadata"),
        ("http://0.0.0.0:9000/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://127.0.0.1:9000/hook", "loopback"),
        ("http://192.168.1.1/hook", "private"),
        ("http://[::ffff:10.0.0.1]/hook", "private"),
        ("file:///etc/passwd", "http"),
        ("gopher://x.example/", "http"),
    ] {
        let r = post_rule(&c, &s.base, url).await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 400, "{url}: {v}");
        assert_eq!(v["error"]["parameter"], "webhook", "{url}");
        let m = v["error"]["message"].as_str().unwrap();
        assert!(m.contains(why), "{url}: {m}");
    }
    // A public receiver is accepted.
    assert_eq!(
        post_rule(&c, &s.base, "https://hooks.example.com/x")
            .await
            .status(),
        201
    );

    // Local receivers are a setting away.
    let s = start_configured(None, None, |c| c.webhook_allow_private = true).await;
    assert_eq!(
        post_rule(&c, &s.base, "http://127.0.0.1:9000/hook")
            .await
            .status(),
        201
    );
    assert_eq!(
        post_rule(&c, &s.base, "http://192.168.1.1/hook")
            .await
            .status(),
        201
    );
    let r = post_rule(&c, &s.base, "http://169.254.169.254/latest/meta-data").await;
    assert_eq!(r.status(), 400, "link-local stays forbidden");
}

/// A receiver on 127.0.0.1 that records each body and answers with `reply`.
async fn receiver(
    reply: axum::response::Response<String>,
) -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let g = got.clone();
    let reply = Arc::new(reply);
    let app = axum::Router::new().fallback(move |body: String| {
        let g = g.clone();
        let reply = reply.clone();
        async move {
            g.lock().unwrap().push(body);
            let mut r = axum::response::Response::new(reply.body().clone());
            *r.status_mut() = reply.status();
            *r.headers_mut() = reply.headers().clone();
            r
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (addr, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_sends_check_the_resolved_address() {
    use pairdesk::webhook::{Lookup, WebhookError, WebhookPolicy, WebhookSender};
    let ok = axum::response::Response::new("ok".to_string());
    let (addr, got) = receiver(ok).await;
    let event = json!({"rule_id": 1, "message": "z crossed 2"});

    // A name that resolves to a forbidden address is refused at send time,
    // before any connection: here `localhost`, resolved by the system.
    let strict = WebhookSender::new(WebhookPolicy::default());
    let e = strict
        .post(&format!("http://localhost:{}/hook", addr.port()), &event)
        .await
        .unwrap_err();
    assert!(matches!(e, WebhookError::NoAllowedAddress(_)), "{e}");
    assert!(
        got.lock().unwrap().is_empty(),
        "nothing reached the receiver"
    );

    // A rebinding resolver: the first answer is the (permitted) local
    // receiver, every later one the metadata service. Whatever it answers,
    // only checked addresses are connected to.
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n = calls.clone();
    let rebinding: Lookup = Arc::new(move |_name: String| {
        let i = n.fetch_add(1, Relaxed);
        Box::pin(async move {
            Ok(vec![if i == 0 {
                "127.0.0.1".parse().unwrap()
            } else {
                "169.254.169.254".parse().unwrap()
            }])
        })
    });
    let hooks = WebhookSender::with_lookup(
        WebhookPolicy {
            allow_private: true,
        },
        rebinding,
    );
    let url = format!("http://rebind.test:{}/hook", addr.port());
    assert_eq!(hooks.post(&url, &event).await, Ok(200));
    let e = hooks.post(&url, &event).await.unwrap_err();
    assert!(matches!(e, WebhookError::NoAllowedAddress(_)), "{e}");
    assert_eq!(calls.load(Relaxed), 2, "resolved at each send");
    assert_eq!(
        got.lock().unwrap().len(),
        1,
        "only the checked address was reached"
    );
    assert_eq!(hooks.stats.sent.load(Relaxed), 1);
    let failed: u64 = hooks.stats.failures().iter().map(|f| f.1).sum();
    assert_eq!(failed, 1, "the refusal is counted");
    got.lock().unwrap().clear();

    // Allowed local receiver: delivered once.
    let local: Lookup =
        Arc::new(|_name: String| Box::pin(async { Ok(vec!["127.0.0.1".parse().unwrap()]) }));
    let hooks = WebhookSender::with_lookup(
        WebhookPolicy {
            allow_private: true,
        },
        local,
    );
    assert_eq!(
        hooks
            .post(
                &format!("http://receiver.test:{}/hook", addr.port()),
                &event
            )
            .await,
        Ok(200)
    );
    assert_eq!(got.lock().unwrap().len(), 1);
    assert!(got.lock().unwrap()[0].contains("z crossed 2"));
    assert_eq!(hooks.stats.sent.load(Relaxed), 1);

    // Redirects are not followed: the redirect target never sees a request.
    let (target, target_got) = receiver(axum::response::Response::new(String::new())).await;
    let mut redirect = axum::response::Response::new(String::new());
    *redirect.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    redirect.headers_mut().insert(
        header::LOCATION,
        format!("http://127.0.0.1:{}/elsewhere", target.port())
            .parse()
            .unwrap(),
    );
    let (redirector, _) = receiver(redirect).await;
    let hooks = WebhookSender::new(WebhookPolicy {
        allow_private: true,
    });
    let e = hooks
        .post(
            &format!("http://127.0.0.1:{}/hook", redirector.port()),
            &event,
        )
        .await
        .unwrap_err();
    assert_eq!(e, WebhookError::Status(307));
    assert!(target_got.lock().unwrap().is_empty());

    // An endless answer is read only up to the cap.
    let mut big = axum::response::Response::new("x".repeat(8 << 20));
    *big.status_mut() = StatusCode::OK;
    let (big_addr, _) = receiver(big).await;
    assert_eq!(
        hooks
            .post(
                &format!("http://127.0.0.1:{}/hook", big_addr.port()),
                &event
            )
            .await,
        Ok(200)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_clients_cannot_starve_the_server() {
    // 2,000 connections from one address (127.0.0.2) that send half a
    // request head and wait.
    const HELD: usize = 2000;
    let s = start_configured(None, None, |c| c.http.header_timeout_secs = 2).await;
    let per_ip = s.state.config.http.max_connections_per_ip;
    let fds_before = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    let attacker: std::net::SocketAddr = "127.0.0.2:0".parse().unwrap();
    let mut held = Vec::with_capacity(HELD);
    for _ in 0..HELD {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(attacker).unwrap();
        let mut st = sock.connect(s.addr).await.unwrap();
        let _ = st
            .write_all(b"GET /api/v1/symbols HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow:")
            .await;
        held.push(st);
    }
    // The server keeps at most its per-client cap of them.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let open = s.state.conns.open();
    assert!(open <= per_ip, "{open} connections held, cap {per_ip}");
    let server_fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
        - fds_before
        - HELD;
    assert!(
        server_fds <= per_ip + 64,
        "server side holds {server_fds} descriptors"
    );

    // A normal client is still served, at once.
    let started = std::time::Instant::now();
    let r = client()
        .get(format!("{}/api/v1/symbols", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let m = client()
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused = m
        .lines()
        .find(|l| {
            l.starts_with(
                "pairdesk_http_connections_refused_total{kind=\"http\",cap=\"per_client\"}",
            )
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap();
    assert_eq!(refused, HELD - open, "{m}");

    // An idle keep-alive connection (one complete request, then nothing)
    // is closed by the same deadline.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.3:0".parse().unwrap()).unwrap();
    let mut idle = sock.connect(s.addr).await.unwrap();
    let port = s.addr.port();
    idle.write_all(format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    // The held sockets are closed by the header timeout (2 s here).
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;
    let eof = tokio::time::timeout(std::time::Duration::from_millis(500), async {
        loop {
            match idle.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert_eq!(
        eof,
        Ok(true),
        "the idle keep-alive connection is still open"
    );
    assert_eq!(
        s.state.conns.open(),
        0,
        "every half-open connection was closed"
    );
    let mut closed = 0;
    for st in held.iter_mut().take(50) {
        let mut buf = [0u8; 512];
        match tokio::time::timeout(std::time::Duration::from_millis(200), st.read(&mut buf)).await {
            Ok(Ok(_)) | Ok(Err(_)) => closed += 1,
            Err(_) => {}
        }
    }
    assert_eq!(closed, 50, "the client side sees every socket closed");
    assert!(s.state.net.header_timeouts.load(Relaxed) as usize >= open.min(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_sockets_are_capped_per_client() {
    let s = start_configured(None, None, |c| c.http.max_websockets_per_ip = 2).await;
    let url = format!("ws://{}/ws/live", s.addr);
    let a = tokio_tungstenite::connect_async(&url).await.unwrap();
    let b = tokio_tungstenite::connect_async(&url).await.unwrap();
    let third = tokio_tungstenite::connect_async(&url).await;
    match third {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 503),
        other => panic!("a third socket was not refused: {other:?}"),
    }
    assert_eq!(s.state.ws_conns.open(), 2);
    // Closing one frees its slot.
    drop(a);
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while s.state.ws_conns.open() > 1 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let _c = tokio_tungstenite::connect_async(&url).await.unwrap();
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_uploaded_values_are_refused_with_reasons() {
    let s = start(None).await;
    let c = client();
    let before = s.state.writer_stats.inserted.load(Relaxed);
    let text = [
        r#"{"symbol":"BTCUSDT","ts":1765788195300,"price":89000.5,"size":0.01}"#,
        r#"{"symbol":"BTCUSDT","ts":1765788195301,"price":1e308,"size":0.01}"#,
        "9999-12-31T00:00:00Z,BTCUSDT,89000.5,0.01",
        r#"{"symbol":"BTCUSDT","ts":1765788195302,"price":89000.5,"size":-3}"#,
    ]
    .join("\n");
    let r = c
        .post(format!("{}/api/v1/upload", s.base))
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["ticks"], 1, "{v}");
    assert_eq!(v["inserted"], 1, "{v}");
    let lines: Vec<i64> = v["refused_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_i64().unwrap())
        .collect();
    let malformed: Vec<i64> = v["malformed_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_i64().unwrap())
        .collect();
    assert_eq!(lines, vec![2, 3], "{v}");
    assert!(malformed.contains(&4), "a negative size is malformed: {v}");
    assert!(
        v["refused_lines"][0][1].as_str().unwrap().contains("1e308"),
        "{v}"
    );
    assert_eq!(v["refused"]["price_out_of_range"], 1);
    assert_eq!(v["refused"]["time_in_future"], 1);
    assert_eq!(s.state.writer_stats.inserted.load(Relaxed) - before, 1);
}

#[tokio::test]
async fn quotes_are_paged_without_loss_and_funding_is_served() {
    let s = start(None).await;
    let c = client();
    // Pages of 7 that split timestamps: every quote once, in order.
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/api/v1/quotes?symbol=BTCUSDT&limit=7", s.base);
        if let Some(cur) = &cursor {
            url.push_str(&format!("&cursor={cur}"));
        }
        let v = get_json(&c, url).await;
        for q in v["quotes"].as_array().unwrap() {
            ids.push(q["update_id"].as_i64().unwrap());
        }
        match v["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(ids, (1000..1300).collect::<Vec<i64>>());
    let csv = c
        .get(format!(
            "{}/api/v1/quotes.csv?symbol=BTCUSDT&limit=2",
            s.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows: Vec<&str> = csv.trim().lines().collect();
    assert_eq!(
        rows[0],
        "ts_iso,ts_ms,update_id,receive_ts_ms,bid,bid_qty,ask,ask_qty,mid"
    );
    assert_eq!(rows.len(), 3);
    assert!(
        rows[1].contains(",1000,1704067200003,40000,1,40000.2,2,"),
        "{}",
        rows[1]
    );
    for (q, param) in [
        ("symbol=BTC/USDT", "symbol"),
        ("symbol=BTCUSDT&limit=0", "limit"),
        ("symbol=BTCUSDT&from=5&to=5", "to"),
        ("symbol=BTCUSDT&cursor=x", "cursor"),
    ] {
        let r = c
            .get(format!("{}/api/v1/quotes?{q}", s.base))
            .send()
            .await
            .unwrap();
        let (code, p) = error_of(r, StatusCode::BAD_REQUEST).await;
        assert_eq!(
            (code.as_str(), p.as_deref()),
            ("bad_parameter", Some(param)),
            "{q}"
        );
    }
    let r = c
        .get(format!("{}/api/v1/quotes?symbol=DOGEUSDT", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r, StatusCode::NOT_FOUND).await.0, "unknown_symbol");
    let f = get_json(
        &c,
        format!(
            "{}/api/v1/funding?symbol=BTCUSDT&from={T0}&to={}",
            s.base,
            T0 + 86_400_000
        ),
    )
    .await;
    let rates: Vec<f64> = f["funding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rate"].as_f64().unwrap())
        .collect();
    assert_eq!(rates, [-0.0001, 0.0, 0.0001]);
    assert!(f["mark"].is_null());
}

#[tokio::test]
async fn the_pair_on_mid_uses_the_book_at_each_bar_close() {
    let s = start(None).await;
    let c = client();
    let to = T0 + 25_000;
    let url = |price: &str| {
        format!(
            "{}/api/v1/pair?x=BTCUSDT&y=ETHUSDT&timeframe=1s&bars=25&z_window=5&corr_window=5&to={to}&price={price}",
            s.base
        )
    };
    let r = c.get(url("mid")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["query"]["price"], "mid");
    assert_eq!(v["report"]["n"], 25);
    // Bar 0 is [T0, T0 + 1000): its book is the last quote at or before
    // T0 + 999, the third at T0 + 750 (i = 11).
    let b = book();
    let mid = |sym: &str| {
        let q = b
            .iter()
            .filter(|q| q.symbol == sym && q.ts <= T0 + 999)
            .max_by_key(|q| (q.ts, q.update_id))
            .unwrap();
        (q.bid + q.ask) / 2.0
    };
    assert_eq!(v["px"][0].as_f64().unwrap(), mid("BTCUSDT"));
    assert_eq!(v["py"][0].as_f64().unwrap(), mid("ETHUSDT"));
    // The bars carry the same book at their close.
    let bars = get_json(
        &c,
        format!(
            "{}/api/v1/bars?symbol=ETHUSDT&timeframe=1s&from={T0}&to={}",
            s.base,
            T0 + 2000
        ),
    )
    .await;
    assert_eq!(
        bars["close_book"][0]["mid"].as_f64().unwrap(),
        mid("ETHUSDT")
    );
    let sol = get_json(
        &c,
        format!("{}/api/v1/bars?symbol=SOLUSDT&timeframe=1s", s.base),
    )
    .await;
    assert_eq!(sol["close_book"], json!([]), "no quotes, no book");
    // On the last trade the closes are the trades', not the book's.
    let last: Value = get_json(&c, url("last")).await;
    assert_ne!(last["px"][0], v["px"][0]);
    // Where nothing is quoted there is no spread on mid, and it says so.
    let r = c
        .get(format!(
            "{}/api/v1/pair?x=BTCUSDT&y=ETHUSDT&timeframe=1s&bars=25&z_window=5&corr_window=5&to={}&price=mid",
            s.base,
            T0 + 500_000
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r, StatusCode::UNPROCESSABLE_ENTITY).await.0,
        "unprocessable"
    );
    let r = c.get(url("bid")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}
