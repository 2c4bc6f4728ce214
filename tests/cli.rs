//! The binary's edges: one-line errors for bad flags and bad configuration,
//! and a clean, flushed exit on SIGTERM.
#![cfg(feature = "ssr")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn pairdesk() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pairdesk"));
    c.env_remove("PAIRDESK_CONFIG")
        .env_remove("PAIRDESK_DB")
        .env_remove("PAIRDESK_LISTEN")
        .env_remove("PAIRDESK_SOURCE")
        .env_remove("PAIRDESK_SYMBOLS")
        .env_remove("PAIRDESK_TOKEN");
    c
}

fn assert_one_line_error(out: std::process::Output, needle: &str) {
    assert!(!out.status.success(), "exit status {:?}", out.status);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn unknown_flag_is_a_one_line_error() {
    let out = pairdesk().arg("--frobnicate").output().unwrap();
    assert_one_line_error(out, "--frobnicate");
}

#[test]
fn invalid_config_values_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (text, field) in [
        ("source = \"kraken\"\n", "`source`"),
        ("timeframe = \"7m\"\n", "`timeframe`"),
        ("window = 0\n", "`window`"),
        ("listen = \"0.0.0.0:3000\"\n", "`listen`"),
        ("symbols = [\"BTC/USDT\", \"ETHUSDT\"]\n", "`symbols`"),
        ("colour = \"blue\"\n", "colour"),
    ] {
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, text).unwrap();
        let out = pairdesk()
            .arg("--config")
            .arg(&p)
            .arg("serve")
            .output()
            .unwrap();
        assert_one_line_error(out, field);
    }
}

#[test]
fn env_overrides_are_validated_too() {
    let out = pairdesk()
        .env("PAIRDESK_SOURCE", "nyse")
        .arg("serve")
        .output()
        .unwrap();
    assert_one_line_error(out, "`source`");
}

#[test]
fn missing_explicit_config_file_is_reported() {
    let out = pairdesk()
        .args(["--config", "/nonexistent/pairdesk.toml"])
        .output()
        .unwrap();
    assert_one_line_error(out, "/nonexistent/pairdesk.toml");
}

/// Each command's help shows its own options first and only the flags
/// that apply to it; the global ones come last under their own heading.
#[test]
fn help_is_by_command() {
    let help = |args: &[&str]| {
        let out = pairdesk().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let analyze = help(&["analyze", "--help"]);
    for server_only in [
        "--listen",
        "--token",
        "--sim-rate",
        "--retain",
        "--durable",
        "--db",
        "--source",
    ] {
        assert!(
            !analyze.contains(server_only),
            "analyze --help lists {server_only}: {analyze}"
        );
    }
    let own = analyze.find("--regression").unwrap();
    let global = analyze.find("Global options:").unwrap();
    assert!(
        own < global && analyze[global..].contains("--config"),
        "{analyze}"
    );
    let replay = help(&["replay", "--help"]);
    assert!(
        replay.contains("--db") && replay.contains("--speed"),
        "{replay}"
    );
    assert!(
        !replay.contains("--listen") && !replay.contains("--sim-rate"),
        "{replay}"
    );
    let serve = help(&["serve", "--help"]);
    for flag in [
        "--listen",
        "--token",
        "--allowed-hosts",
        "--retain",
        "--source",
        "--db",
    ] {
        assert!(serve.contains(flag), "serve --help lacks {flag}");
    }
    assert!(!help(&["bench", "--help"]).contains("--listen"));
}

#[test]
fn store_flags_work_before_and_after_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.csv");
    std::fs::write(
        &file,
        "1765788195300,BTCUSDT,89000.5,0.01\n1765788195301,ETHUSDT,3000.25,0.1\n",
    )
    .unwrap();
    for (i, before) in [true, false].into_iter().enumerate() {
        let db = dir.path().join(format!("r{i}.db"));
        let mut c = pairdesk();
        if before {
            c.arg("--db").arg(&db).arg("replay").arg(&file);
        } else {
            c.arg("replay").arg(&file).arg("--db").arg(&db);
        }
        let out = c.current_dir(dir.path()).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let conn = pairdesk::store::open_reader(&db).unwrap();
        assert_eq!(pairdesk::store::query::tick_count(&conn).unwrap(), 2);
    }
}

#[test]
fn help_explains_each_command() {
    let out = pairdesk().arg("--help").output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "replay"] {
        assert!(s.contains(cmd), "{s}");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn sigterm_flushes_and_exits_zero_within_two_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let port = free_port();
    let mut child = pairdesk()
        .args([
            "serve",
            "--source",
            "sim",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--db",
        ])
        .arg(&db)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        if http_get(port, "/").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "server did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2)); // let some ticks arrive
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "still running 2 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(status.success(), "exit {status:?}: {log}");
    assert!(log.contains("stopped"), "{log}");
    let conn = pairdesk::store::open_reader(&db).unwrap();
    assert!(pairdesk::store::query::tick_count(&conn).unwrap() > 0);
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

#[test]
fn analyze_reads_quoted_csv_columns() {
    // The same series twice: once with quoted names (a comma inside one,
    // doubled quotes in the other) and quoted values, once plain. The
    // statistics must be identical.
    let dir = tempfile::tempdir().unwrap();
    let mut quoted = String::from("\"time\",\"BTC, perp\",\"ETH \"\"spot\"\"\"\n");
    let mut plain = String::from("time,btc,eth\n");
    let (mut w, mut s) = (0.0f64, 0.0f64);
    for i in 0..200u64 {
        w += ((i * 7919 % 13) as f64 - 6.0) * 0.001;
        s = 0.7 * s + ((i * 104_729 % 11) as f64 - 5.0) * 0.0005;
        let x = 90_000.0 * w.exp();
        let y = 3_000.0 * (0.9 * w + s).exp();
        quoted += &format!("\"{i}\",\"{x:.2}\",{y:.4}\n");
        plain += &format!("{i},{x:.2},{y:.4}\n");
    }
    let run = |name: &str, text: &str, cols: [&str; 2]| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = pairdesk()
            .args(["analyze", "--input"])
            .arg(&path)
            .args(["--x", cols[0], "--y", cols[1], "--window", "60"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let a = run("quoted.csv", &quoted, ["BTC, perp", "ETH \"spot\""]);
    let b = run("plain.csv", &plain, ["btc", "eth"]);
    assert!(a.contains("\"beta\""), "{a}");
    assert_eq!(a, b);
}
