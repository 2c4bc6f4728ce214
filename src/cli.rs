//! Command-line interface: `serve` (default) and `replay`.
//!
//! Errors are printed as one line on stderr with a non-zero exit code; a
//! misconfigured server must say what is wrong, not dump a backtrace.

use clap::{Args, Parser, Subcommand};
use pairdesk::config::{Config, Overrides};
use pairdesk::ingest::pipeline::Pipeline;
use pairdesk::ingest::replay::{replay_file, Speed};
use pairdesk::store::{self, writer::Writer, Durability};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;

#[derive(Parser, Debug)]
#[command(
    name = "pairdesk",
    version,
    about = "Real-time pair-trading analytics desk: Binance ingest, SQLite store, statistics, dashboard",
    long_about = "pairdesk ingests trades (Binance spot/futures, a built-in simulated market, or recorded files), \
                  stores every tick in SQLite, and serves a live pair-trading dashboard.\n\
                  With no command it runs `serve`. Settings come from Leptos.toml, then PAIRDESK_* environment \
                  variables, then these flags."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
struct Global {
    /// Configuration file [default: ./Leptos.toml if present]
    #[arg(long, global = true, env = "PAIRDESK_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// SQLite database file
    #[arg(long, global = true, env = "PAIRDESK_DB", value_name = "PATH")]
    db: Option<String>,
    /// Listen address (beyond loopback requires --token)
    #[arg(long, global = true, env = "PAIRDESK_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// Market source: auto, binance-futures, binance-spot, sim, replay:<file>
    #[arg(long, global = true, env = "PAIRDESK_SOURCE", value_name = "NAME")]
    source: Option<String>,
    /// Comma-separated symbols, e.g. BTCUSDT,ETHUSDT
    #[arg(long, global = true, env = "PAIRDESK_SYMBOLS", value_name = "A,B")]
    symbols: Option<String>,
    /// Access token required on every request (needed to listen beyond loopback)
    #[arg(
        long,
        global = true,
        env = "PAIRDESK_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Commit with synchronous=FULL (survives power loss; slower)
    #[arg(long, global = true)]
    durable: bool,
    /// Log format: text (for people) or json (for machines)
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the dashboard and API, ingesting from the configured source (default)
    Serve,
    /// Ingest a recorded file (NDJSON collector format, raw Binance frames, or CSV) into the database
    Replay {
        /// The file to ingest
        file: PathBuf,
        /// Playback speed: a multiple of real time (e.g. 10) or "max"
        #[arg(long, default_value = "max")]
        speed: String,
    },
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Print a one-line error and return the failure code.
fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("pairdesk: error: {msg}");
    ExitCode::from(2)
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // clap's message spans several lines (usage, tips); keep the first.
            let text = e.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            return fail(format!("{first} (see pairdesk --help)"));
        }
    };
    let g = &cli.global;
    let ov = Overrides {
        config: g.config.clone(),
        db: g.db.clone(),
        listen: g.listen.clone(),
        source: g.source.clone(),
        symbols: g.symbols.clone(),
        access_token: g.token.clone(),
        durable: g.durable,
    };
    let config = match Config::load(&ov) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    init_logging(&g.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    let result = rt.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => pairdesk::server::serve(config).await,
            Command::Replay { file, speed } => replay(config, file, &speed).await,
        }
    });
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("{e:#}")),
    }
}

async fn replay(config: Config, file: PathBuf, speed: &str) -> anyhow::Result<()> {
    let speed: Speed = speed.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    if !file.is_file() {
        anyhow::bail!("cannot read {}: no such file", file.display());
    }
    let durability = if config.durable {
        Durability::Full
    } else {
        Durability::Normal
    };
    let writer = Writer::spawn(store::open_writer(&config.db, durability)?, 256);
    let pipeline = Pipeline::new(writer.tx.clone());
    let report = replay_file(&file, &pipeline, speed, None).await?;
    let stats = writer.stats.clone();
    drop(pipeline);
    tokio::task::spawn_blocking(move || writer.shutdown()).await?;
    let inserted = stats.inserted.load(Relaxed);
    let dup = stats.duplicates.load(Relaxed);
    let summary = serde_json::json!({
        "file": file.display().to_string(),
        "lines": report.lines,
        "ticks": report.ticks,
        "inserted": inserted,
        "already_stored": dup,
        "dropped": report.dropped,
        "malformed": report.malformed,
        "malformed_lines": report.malformed_lines,
        "seconds": report.seconds,
        "ticks_per_sec": if report.seconds > 0.0 { report.ticks as f64 / report.seconds } else { 0.0 },
    });
    // The report is the command's output, for people and scripts alike.
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
