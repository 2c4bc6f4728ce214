//! Opening the store under faults gives one clear error naming the problem,
//! and a full database loses nothing that was acknowledged.
#![cfg(feature = "ssr")]

use pairdesk::domain::{Side, Tick, Venue};
use pairdesk::store::{self, writer::WriteCmd, writer::Writer, Durability, StoreError};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn open_err(path: &Path) -> String {
    match store::open_writer(path, Durability::Normal) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nope/sub/x.db");
    let e = open_err(&db);
    assert!(
        e.contains("does not exist") && e.contains("nope/sub"),
        "{e}"
    );
    assert!(!dir.path().join("nope").exists());
}

#[test]
fn a_non_sqlite_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("notes.db");
    let text = "these are my notes, not a database\n".repeat(200);
    std::fs::write(&db, &text).unwrap();
    let e = open_err(&db);
    assert!(e.contains("is not a pairdesk database"), "{e}");
    assert!(e.contains("notes.db"), "{e}");
    assert_eq!(std::fs::read_to_string(&db).unwrap(), text);
}

#[test]
fn a_database_from_a_newer_pairdesk_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("future.db");
    drop(store::open_writer(&db, Durability::Normal).unwrap());
    let c = rusqlite::Connection::open(&db).unwrap();
    c.pragma_update(None, "user_version", 99).unwrap();
    drop(c);
    let e = store::open_writer(&db, Durability::Normal).err().unwrap();
    assert!(matches!(e, StoreError::TooNew { found: 99, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("version 99 is newer than this pairdesk supports"),
        "{msg}"
    );
}

#[test]
fn a_second_writer_is_told_who_holds_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("busy.db");
    let first = store::open_writer(&db, Durability::Normal).unwrap();
    let e = open_err(&db);
    let want = format!(
        "database {} is in use by another pairdesk process (pid {})",
        db.display(),
        std::process::id()
    );
    assert_eq!(e, want);
    drop(first);
    // Released with the connection: the next writer opens.
    store::open_writer(&db, Durability::Normal).unwrap();
}

#[test]
fn a_running_pairdesk_replay_holds_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("held.db");
    let feed = dir.path().join("feed.csv");
    // A long, slow replay keeps the writer open while we try to open it.
    let mut csv = String::from("timestamp,symbol,price,qty\n");
    for i in 0..2000 {
        csv.push_str(&format!(
            "{},BTCUSDT,100.5,0.1\n",
            1_765_000_000_000i64 + i * 1000
        ));
    }
    std::fs::write(&feed, csv).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pairdesk"))
        .arg("--db")
        .arg(&db)
        .args(["replay", "--speed", "1"])
        .arg(&feed)
        .env_remove("PAIRDESK_CONFIG")
        .env("RUST_LOG", "off")
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The child creates the database file only after taking the lock, so
    // once the file exists the lock is held (probing earlier could steal it).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !db.exists() {
        assert!(
            Instant::now() < deadline,
            "the replay never created the database"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let msg = match store::open_writer(&db, Durability::Normal) {
        Err(StoreError::InUse { pid, .. }) => format!("pid {pid}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened a database a running replay holds"),
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(msg, format!("pid {}", child.id()));
}

/// As root, permissions do not stop writes; the check then runs in a child
/// process as `nobody` (via util-linux `setpriv`) when that is available.
#[test]
fn read_only_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let db = ro.join("x.db");
    let probe = ro.join("probe");
    let msg = if std::fs::File::create(&probe).is_err() {
        open_err(&db)
    } else {
        let _ = std::fs::remove_file(&probe);
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(std::env::current_exe().unwrap())
            .args(["read_only_child", "--exact", "--ignored", "--nocapture"])
            .env("PAIRDESK_RO_DB", &db)
            .stderr(Stdio::inherit())
            .output();
        match out {
            Ok(o) if o.status.success() => BufReader::new(&o.stdout[..])
                .lines()
                .map_while(Result::ok)
                .find_map(|l| l.strip_prefix("ERR ").map(str::to_string))
                .expect("child reported no error"),
            other => {
                eprintln!("skipping: running as root and cannot drop privileges ({other:?})");
                return;
            }
        }
    };
    assert!(
        msg.contains(&format!("directory {} is not writable", ro.display())),
        "{msg}"
    );
    assert!(!db.exists());
}

#[test]
#[ignore = "run by read_only_directory_is_named as an unprivileged child"]
fn read_only_child() {
    // Without the parent's path there is nothing to check.
    let Ok(db) = std::env::var("PAIRDESK_RO_DB") else {
        eprintln!("read_only_child only runs as the child of read_only_directory_is_named");
        return;
    };
    println!("ERR {}", open_err(Path::new(&db)));
}

fn tick(id: i64) -> Tick {
    Tick {
        venue: Venue::Sim,
        symbol: "ETHUSDT".into(),
        trade_id: id,
        exchange_ts: 1_765_000_000_000 + id,
        receive_ts: 1_765_000_000_000 + id,
        price: 3000.0 + id as f64,
        qty: 0.5,
        side: Side::Buy,
    }
}

/// A full database (simulated with `max_page_count`, which counts free pages
/// as room, so freeing pages from another connection makes space): commits
/// fail and are retried with the batch kept, the `committed` counter does not
/// advance past what is on disk, and once space is freed everything lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_keeps_the_batch_until_space_is_freed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("full.db");
    let conn = store::open_writer(&db, Durability::Normal).unwrap();
    conn.execute_batch(
        "CREATE TABLE ballast(b BLOB);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
         INSERT INTO ballast SELECT zeroblob(3000) FROM n;",
    )
    .unwrap();
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let set: i64 = conn
        .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(set, pages);
    let writer = Writer::spawn(conn, 64);
    let mut committed = writer.committed.clone();

    writer
        .tx
        .send(WriteCmd::Ticks((1..=5).map(tick).collect()))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), committed.wait_for(|n| *n == 5))
        .await
        .expect("a tiny first batch fits")
        .unwrap();

    writer
        .tx
        .send(WriteCmd::Ticks((6..=5000).map(tick).collect()))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer
        .stats
        .commit_errors
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
    {
        assert!(Instant::now() < deadline, "the database never filled up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let err = writer.stats.last_error.lock().unwrap().clone().unwrap();
    assert!(err.contains("full"), "{err}");
    assert_eq!(*committed.borrow(), 5, "acknowledged a batch that failed");

    // Free space from the side, as an operator deleting files would.
    let side = store::open_aux_writer(&db).unwrap();
    side.execute("DELETE FROM ballast", []).unwrap();
    drop(side);
    tokio::time::timeout(Duration::from_secs(10), committed.wait_for(|n| *n == 5000))
        .await
        .expect("the kept batch was committed after space was freed")
        .unwrap();
    let stats = writer.stats.clone();
    tokio::task::spawn_blocking(move || writer.shutdown())
        .await
        .unwrap();
    assert!(stats.last_error.lock().unwrap().is_none());
    let r = store::open_reader(&db).unwrap();
    let ids = store::query::trade_ids(&r, Venue::Sim, "ETHUSDT").unwrap();
    assert_eq!(ids, (1..=5000).collect::<Vec<i64>>());
}
