//! The HTTP API through a real client: the full router (pages, server
//! functions, REST, docs, guard, metrics) served on 127.0.0.1:0 over a
//! temporary database that the real writer filled with a cointegrated pair.
//! Covers the happy paths, every error status the API promises, and every
//! security rule.
#![cfg(feature = "ssr")]

use pairdesk::config::Config;
use pairdesk::domain::{Side, Tick, Venue};
use pairdesk::ingest::pipeline::Pipeline;
use pairdesk::server::{router, AppState};
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

async fn start(token: Option<&str>) -> Server {
    start_with(token, None).await
}

/// `listen`: the address the configuration claims (validated elsewhere);
/// the socket itself is always bound on 127.0.0.1.
async fn start_with(token: Option<&str>, listen: Option<std::net::SocketAddr>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("api.db");
    let writer = Writer::spawn(store::open_writer(&db, Durability::Normal).unwrap(), 64);
    writer.tx.send(WriteCmd::Ticks(pair_ticks())).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    writer.tx.send(WriteCmd::Flush(tx)).await.unwrap();
    rx.await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Config {
        db: db.clone(),
        listen: listen.unwrap_or(addr),
        access_token: token.map(String::from),
        symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
        ..Config::default()
    };
    let pipeline = Pipeline::new(writer.tx.clone());
    let state = Arc::new(AppState::new(config, pipeline, &writer));
    let opts = leptos::config::LeptosOptions::builder()
        .output_name("pairdesk")
        .site_root(dir.path().display().to_string())
        .site_addr(addr)
        .build();
    let app = router(state.clone(), opts);
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
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

    let r = c
        .post(format!("{}/api/v1/backtest", s.base))
        .json(&json!({"x": x, "y": y, "options": {"z_window": 30, "entry": 1.5}, "fee_bps": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["equity"].as_array().unwrap().len(), 500);
    assert!(v["trades"].as_u64().unwrap() > 0);
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
        "webhook": "http://127.0.0.1:9/hook"});
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

    pairdesk::api::alerts::store::record_event(&s.state.config.db, id, T0, "z crossed 2.0")
        .unwrap();
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
async fn announced<S>(ws: &mut S, want: u64) -> (u64, Vec<i64>, Vec<pairdesk::api::live::LivePrice>)
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
            let u: pairdesk::api::live::LiveUpdate = serde_json::from_str(t.as_str()).unwrap();
            assert_eq!(u.interval_ms, pairdesk::api::live::BASE_INTERVAL_MS);
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
