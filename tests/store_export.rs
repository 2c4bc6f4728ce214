//! `pairdesk export` end to end: import a CSV through `pairdesk replay`,
//! export ticks and bars for a range, and read the numbers back.
#![cfg(feature = "ssr")]

use std::path::Path;
use std::process::{Command, Output};

fn pairdesk(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pairdesk"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("PAIRDESK_CONFIG")
        .env_remove("PAIRDESK_DB")
        .env("RUST_LOG", "off")
        .current_dir(db.parent().unwrap())
        .output()
        .unwrap()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// 2025-12-15T08:00:00Z
const T0: i64 = 1_765_785_600_000;

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e.db");
    let mut csv = String::from("timestamp,symbol,price,qty\n");
    // Three minutes of BTCUSDT, one trade every 10 s, prices 100.5, 101.5, ...
    for i in 0..18 {
        csv.push_str(&format!("{},BTCUSDT,{}.5,0.25\n", T0 + i * 10_000, 100 + i));
    }
    csv.push_str(&format!("{},ETHUSDT,3000.125,2\n", T0));
    let feed = dir.path().join("feed.csv");
    std::fs::write(&feed, csv).unwrap();
    ok(pairdesk(&db, &["replay", feed.to_str().unwrap()]));
    (dir, db)
}

#[test]
fn exports_ticks_and_bars_for_a_range() {
    let (dir, db) = setup();
    let ticks = dir.path().join("t.csv");
    let out = ok(pairdesk(
        &db,
        &[
            "export",
            "--symbol",
            "btcusdt",
            "--ticks",
            "--from",
            "2025-12-15T08:01:00Z",
            "--to",
            &(T0 + 120_000).to_string(),
            "--out",
            ticks.to_str().unwrap(),
        ],
    ));
    assert!(out.contains("\"rows\": 6"), "{out}");
    let text = std::fs::read_to_string(&ticks).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "ts_iso,ts_ms,trade_id,price,qty,side,receive_ts_ms"
    );
    assert_eq!(lines.len(), 7);
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(first[0], "2025-12-15T08:01:00.000Z");
    assert_eq!(first[1], (T0 + 60_000).to_string());
    assert_eq!((first[3], first[4]), ("106.5", "0.25"));

    let bars = dir.path().join("b.csv");
    ok(pairdesk(
        &db,
        &[
            "export",
            "--symbol",
            "BTCUSDT",
            "--timeframe",
            "1m",
            "--out",
            bars.to_str().unwrap(),
        ],
    ));
    let text = std::fs::read_to_string(&bars).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "ts_iso,ts_ms,open,high,low,close,volume,trades,vwap"
    );
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(
        lines[2],
        format!(
            "2025-12-15T08:01:00.000Z,{},106.5,111.5,106.5,111.5,1.5,6,109",
            T0 + 60_000
        )
    );
}

#[test]
fn export_errors_are_one_line_and_specific() {
    let (dir, db) = setup();
    let out = dir.path().join("x.csv");
    let o = pairdesk(
        &db,
        &[
            "export",
            "--symbol",
            "SOLUSDT",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no ticks stored for SOLUSDT"), "{err}");
    let o = pairdesk(
        &db,
        &[
            "export",
            "--symbol",
            "BTCUSDT",
            "--timeframe",
            "2m",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--timeframe"), "{err}");
    let o = pairdesk(
        &db,
        &[
            "export",
            "--symbol",
            "BTCUSDT",
            "--venue",
            "sim",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("no ticks stored for BTCUSDT on venue sim"),
        "{err}"
    );
    let o = pairdesk(
        &dir.path().join("missing.db"),
        &[
            "export",
            "--symbol",
            "BTCUSDT",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("does not exist"),
        "{err}"
    );
}
