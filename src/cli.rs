//! Command-line interface: `serve` (default), `replay`, `bench` and the rest.
//!
//! Errors are printed as one line on stderr with a non-zero exit code; a
//! misconfigured server must say what is wrong, not dump a backtrace.

use clap::{Args, Parser, Subcommand};
use pairdesk::config::{Config, Overrides};
use pairdesk::ingest::pipeline::Pipeline;
use pairdesk::ingest::replay::{replay_file, Speed};
use pairdesk::store::{self, writer::Writer};
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
    /// With no command, `serve` runs with these.
    #[command(flatten)]
    serve: ServeFlags,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Options every command takes.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Global options")]
struct Global {
    /// Configuration file [default: ./Leptos.toml if present]
    #[arg(long, global = true, env = "PAIRDESK_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log format: text (for people) or json (for machines)
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
}

/// The database, for the commands that open it.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Store options")]
struct StoreFlags {
    /// SQLite database file
    #[arg(long, env = "PAIRDESK_DB", value_name = "PATH")]
    db: Option<String>,
    /// Commit with synchronous=FULL (survives power loss; slower)
    #[arg(long)]
    durable: bool,
}

/// The market source, for the commands that ingest live.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Source options")]
struct SourceFlags {
    /// Market source: auto, binance-futures, binance-spot, sim, replay:<file>
    #[arg(long, env = "PAIRDESK_SOURCE", value_name = "NAME")]
    source: Option<String>,
    /// Comma-separated symbols, e.g. BTCUSDT,ETHUSDT
    #[arg(long, env = "PAIRDESK_SYMBOLS", value_name = "A,B")]
    symbols: Option<String>,
    /// Multiply the simulated market's trade rates (1 = ~55 trades/s for two majors)
    #[arg(long, env = "PAIRDESK_SIM_RATE", value_name = "X")]
    sim_rate: Option<f64>,
}

/// `serve`: the store, the source and the HTTP server's own options.
#[derive(Args, Debug, Clone, Default)]
struct ServeFlags {
    #[command(flatten)]
    store: StoreFlags,
    #[command(flatten)]
    source: SourceFlags,
    #[command(flatten)]
    http: HttpFlags,
}

#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Server options")]
struct HttpFlags {
    /// Listen address (beyond loopback requires --token)
    #[arg(long, env = "PAIRDESK_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// Access token required on every request (needed to listen beyond loopback)
    #[arg(
        long,
        env = "PAIRDESK_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Host names the server answers besides localhost/127.0.0.1/[::1], comma-separated
    /// (e.g. desk.example.com behind a reverse proxy)
    #[arg(long, env = "PAIRDESK_ALLOWED_HOSTS", value_name = "H1,H2")]
    allowed_hosts: Option<String>,
    /// Delete ticks older than this, e.g. 7d (units s, m, h, d) [default: keep all]
    #[arg(long, env = "PAIRDESK_RETAIN", value_name = "AGE")]
    retain: Option<String>,
    /// Delete 1-second rollups older than this, e.g. 90d (at least --retain) [default: keep all]
    #[arg(long = "retain-1s", env = "PAIRDESK_RETAIN_1S", value_name = "AGE")]
    retain_1s: Option<String>,
    /// Delete 1-minute rollups older than this (at least --retain-1s) [default: keep all]
    #[arg(long = "retain-1m", env = "PAIRDESK_RETAIN_1M", value_name = "AGE")]
    retain_1m: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the dashboard and API, ingesting from the configured source (default)
    Serve(ServeFlags),
    /// Ingest a recorded file (NDJSON collector format, raw Binance frames, or CSV) into the database
    Replay {
        /// The file to ingest
        file: PathBuf,
        /// Playback speed: a multiple of real time (e.g. 10) or "max"
        #[arg(long, default_value = "max")]
        speed: String,
        #[command(flatten)]
        store: StoreFlags,
    },
    /// Analyse two price series from a CSV (header; timestamp column first)
    Analyze(AnalyzeArgs),
    /// Write stored ticks or bars of one symbol to a CSV file
    Export(ExportArgs),
    /// Write live ticks from the configured source to an NDJSON file
    Record {
        /// Output file (NDJSON, the collector format replay reads)
        #[arg(long)]
        out: PathBuf,
        /// Stop after this many seconds (default: until Ctrl+C)
        #[arg(long)]
        seconds: Option<u64>,
        #[command(flatten)]
        store: StoreFlags,
        #[command(flatten)]
        source: SourceFlags,
    },
    /// Measure ingestion rate, live-push latency, bursts with mid-burst
    /// disconnects, CPU, memory and API throughput (loopback, temporary
    /// databases)
    Bench {
        /// Length of each measurement window, seconds
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Print the report as JSON instead of tables
        #[arg(long)]
        json: bool,
        /// How many simulated symbols (S000USDT, S001USDT, ...; 2 to 200) [default: 50]
        #[arg(long, value_name = "N")]
        symbols: Option<String>,
    },
}

#[derive(Args, Debug)]
struct ExportArgs {
    #[command(flatten)]
    store: StoreFlags,
    /// Symbol, e.g. BTCUSDT
    #[arg(long)]
    symbol: String,
    /// Venue the ticks were stored under (binance-futures, binance-spot, sim, replay)
    /// [default: the only venue that has the symbol]
    #[arg(long)]
    venue: Option<String>,
    /// Bar size (1s, 5s, 15s, 1m, 5m, 15m, 1h, 1d) [default: 1m]
    #[arg(long, conflicts_with = "ticks")]
    timeframe: Option<String>,
    /// Export raw ticks instead of bars
    #[arg(long)]
    ticks: bool,
    /// Start, inclusive: ISO-8601 (2025-12-15T08:00:00Z) or epoch ms [default: the beginning]
    #[arg(long)]
    from: Option<String>,
    /// End, exclusive: ISO-8601 or epoch ms [default: the end]
    #[arg(long)]
    to: Option<String>,
    /// Output CSV file
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct AnalyzeArgs {
    /// CSV file with a header: a timestamp column, then price columns
    #[arg(long)]
    input: PathBuf,
    /// Column of the independent leg x [default: first numeric column]
    #[arg(long)]
    x: Option<String>,
    /// Column of the dependent leg y [default: second numeric column]
    #[arg(long)]
    y: Option<String>,
    /// Hedge regression
    #[arg(long, default_value = "ols", value_parser = ["ols", "ols-no-intercept", "kalman", "huber", "theil-sen"])]
    regression: String,
    /// Regress log prices or raw prices
    #[arg(long, default_value = "log", value_parser = ["log", "raw"])]
    prices: String,
    /// Rolling regression window in bars (default: one full-sample fit)
    #[arg(long)]
    window: Option<usize>,
    /// Z-score window in bars
    #[arg(long, default_value_t = 20)]
    z_window: usize,
    /// ADF lag selection
    #[arg(long, default_value = "aic", value_parser = ["aic", "bic", "t-stat", "none"])]
    autolag: String,
    /// Maximum ADF lag (default: 12*(n/100)^(1/4))
    #[arg(long)]
    maxlag: Option<usize>,
    /// Output format
    #[arg(long, default_value = "json", value_parser = ["json", "table"])]
    format: String,
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
    // `analyze` is pure computation on a file: it needs no configuration.
    if let Some(Command::Analyze(a)) = &cli.command {
        return match analyze(a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(format!("{e:#}")),
        };
    }
    // `bench` is self-contained (loopback, temporary databases).
    if let Some(Command::Bench {
        seconds,
        json,
        symbols,
    }) = &cli.command
    {
        init_logging(&cli.global.log_format);
        return match bench(symbols.as_deref(), *seconds, *json) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(format!("{e:#}")),
        };
    }
    let g = &cli.global;
    // A command's own flags win over the same flags given before it
    // (`pairdesk --db x replay f` still works).
    let top = &cli.serve;
    let empty_source = SourceFlags::default();
    let empty_http = HttpFlags::default();
    let (store, source, http) = match &cli.command {
        None => (&top.store, &top.source, &top.http),
        Some(Command::Serve(f)) => (&f.store, &f.source, &f.http),
        Some(Command::Replay { store, .. }) => (store, &empty_source, &empty_http),
        Some(Command::Export(a)) => (&a.store, &empty_source, &empty_http),
        Some(Command::Record { store, source, .. }) => (store, source, &empty_http),
        Some(Command::Analyze(_) | Command::Bench { .. }) => {
            unreachable!("handled before configuration")
        }
    };
    let ov = Overrides {
        config: g.config.clone(),
        db: store.db.clone().or(top.store.db.clone()),
        listen: http.listen.clone().or(top.http.listen.clone()),
        source: source.source.clone().or(top.source.source.clone()),
        symbols: source.symbols.clone().or(top.source.symbols.clone()),
        access_token: http.token.clone().or(top.http.token.clone()),
        durable: store.durable || top.store.durable,
        retain: http.retain.clone().or(top.http.retain.clone()),
        retain_1s: http.retain_1s.clone().or(top.http.retain_1s.clone()),
        retain_1m: http.retain_1m.clone().or(top.http.retain_1m.clone()),
        sim_rate: source.sim_rate.or(top.source.sim_rate),
        allowed_hosts: http
            .allowed_hosts
            .clone()
            .or(top.http.allowed_hosts.clone()),
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
        match cli.command {
            None | Some(Command::Serve(_)) => pairdesk::server::serve(config).await,
            Some(Command::Replay { file, speed, .. }) => replay(config, file, &speed).await,
            Some(Command::Record { out, seconds, .. }) => record(config, out, seconds).await,
            Some(Command::Export(a)) => export(config, a),
            Some(Command::Bench { .. } | Command::Analyze(_)) => {
                unreachable!("handled before configuration")
            }
        }
    });
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("{e:#}")),
    }
}

/// `pairdesk export`: read-only, so it can run next to a serving pairdesk.
fn export(config: Config, a: ExportArgs) -> anyhow::Result<()> {
    use pairdesk::domain::{Timeframe, Venue};
    use pairdesk::ingest::replay::parse_ts;
    use pairdesk::store::export::ExportKind;
    use pairdesk::store::{SqliteStore, Store};
    if !config.db.is_file() {
        anyhow::bail!("database {} does not exist", config.db.display());
    }
    let store = SqliteStore::new(&config.db);
    let symbol = a.symbol.to_ascii_uppercase();
    let venue: Venue = match &a.venue {
        Some(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid --venue: unknown venue {v:?}"))?,
        None => {
            let venues: Vec<Venue> = store
                .symbols()?
                .into_iter()
                .filter(|(_, s)| *s == symbol)
                .map(|(v, _)| v)
                .collect();
            match venues.as_slice() {
                [v] => *v,
                [] => anyhow::bail!("no ticks stored for {symbol}"),
                many => anyhow::bail!(
                    "{symbol} is stored for several venues ({}); choose one with --venue",
                    many.iter()
                        .map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    };
    let kind = if a.ticks {
        ExportKind::Ticks
    } else {
        let tf = a.timeframe.as_deref().unwrap_or("1m");
        ExportKind::Bars(tf.parse::<Timeframe>().map_err(|_| {
            anyhow::anyhow!(
                "invalid --timeframe {tf:?}: accepted: {}",
                Timeframe::accepted()
            )
        })?)
    };
    let bound = |name: &str, v: &Option<String>, default: i64| -> anyhow::Result<i64> {
        match v {
            Some(s) => parse_ts(s).map_err(|e| anyhow::anyhow!("invalid --{name}: {e}")),
            None => Ok(default),
        }
    };
    let from = bound("from", &a.from, 0)?;
    let to = bound("to", &a.to, i64::MAX / 2)?;
    if from >= to {
        anyhow::bail!("--from must be before --to");
    }
    let file = std::fs::File::create(&a.out)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", a.out.display()))?;
    let rows = store.export_csv(
        venue,
        &symbol,
        kind,
        from,
        to,
        &mut std::io::BufWriter::new(file),
    )?;
    let summary = serde_json::json!({
        "out": a.out.display().to_string(),
        "symbol": symbol,
        "venue": venue.as_str(),
        "kind": match kind { ExportKind::Ticks => "ticks".to_string(), ExportKind::Bars(tf) => tf.as_str().to_string() },
        "rows": rows,
    });
    // The summary is the command's output.
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

async fn replay(config: Config, file: PathBuf, speed: &str) -> anyhow::Result<()> {
    let speed: Speed = speed.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    if !file.is_file() {
        anyhow::bail!("cannot read {}: no such file", file.display());
    }
    let durability = config.durability();
    let writer = Writer::spawn(store::open_writer(&config.db, durability)?, 256);
    let pipeline = Pipeline::with_limits(writer.tx.clone(), config.tick_limits);
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
        "refused": report.refused,
        "refused_lines": report.refused_lines,
        "seconds": report.seconds,
        "ticks_per_sec": if report.seconds > 0.0 { report.ticks as f64 / report.seconds } else { 0.0 },
    });
    // The report is the command's output, for people and scripts alike.
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

fn analyze(a: &AnalyzeArgs) -> anyhow::Result<()> {
    use pairdesk::analytics::{analyze, AnalyzeOptions, Autolag, PriceScale};
    let text = std::fs::read_to_string(&a.input)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", a.input.display()))?;
    let cols = pairdesk::services::csv_input::parse(&text, a.x.as_deref(), a.y.as_deref())?;
    let opts = AnalyzeOptions {
        regression: pairdesk::app::params::regression_from(&a.regression).unwrap_or_default(),
        prices: if a.prices == "raw" {
            PriceScale::Raw
        } else {
            PriceScale::Log
        },
        window: a.window,
        z_window: a.z_window,
        autolag: match a.autolag.as_str() {
            "bic" => Autolag::Bic,
            "t-stat" => Autolag::TStat,
            "none" => Autolag::None,
            _ => Autolag::Aic,
        },
        maxlag: a.maxlag,
        ..AnalyzeOptions::default()
    };
    let report = analyze(&cols.x, &cols.y, None, &opts)?;
    if a.format == "json" {
        // The report is the command's output.
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let f = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_else(|| "-".into());
    let g = &report.regression;
    let rows = [
        ("x / y", format!("{} / {}", cols.x_name, cols.y_name)),
        ("n", report.n.to_string()),
        ("regression", a.regression.clone()),
        ("alpha", format!("{:.6}", g.alpha)),
        ("beta", format!("{:.6}", g.beta)),
        (
            "beta se / t / p",
            format!("{} / {} / {}", f(g.beta_se), f(g.beta_t), f(g.beta_p)),
        ),
        ("r2", f(g.r2)),
        (
            "ADF stat / p",
            format!("{:.4} / {:.4e}", report.adf.stat, report.adf.pvalue),
        ),
        (
            "ADF lag / nobs",
            format!("{} / {}", report.adf.usedlag, report.adf.nobs),
        ),
        (
            "coint stat / p",
            format!("{:.4} / {:.4e}", report.coint.stat, report.coint.pvalue),
        ),
        ("half-life (bars)", f(report.half_life)),
        ("hurst", f(report.hurst)),
        ("correlation", f(report.correlation)),
        ("latest z", f(report.zscore.last().copied().flatten())),
    ];
    for (k, v) in rows {
        println!("{k:<18} {v}");
    }
    Ok(())
}

/// `pairdesk bench`: in-process and loopback only; the configuration is unused.
fn bench(symbols: Option<&str>, seconds: f64, json: bool) -> anyhow::Result<()> {
    let symbols = match symbols {
        None => crate::bench::BenchOptions::default().symbols,
        Some(s) => s.trim().parse::<usize>().map_err(|_| {
            anyhow::anyhow!("invalid --symbols {s:?}: bench takes a count, e.g. --symbols 50")
        })?,
    };
    let opts = crate::bench::BenchOptions {
        symbols,
        seconds,
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    let report = rt.block_on(crate::bench::run(&opts))?;
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    // The report is the command's output.
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", crate::bench::render(&report));
    }
    Ok(())
}

async fn record(config: Config, out: PathBuf, seconds: Option<u64>) -> anyhow::Result<()> {
    use std::io::Write;
    let durability = config.durability();
    let writer = Writer::spawn(store::open_writer(&config.db, durability)?, 256);
    let pipeline = Pipeline::with_limits(writer.tx.clone(), config.tick_limits);
    let mut live = pipeline.subscribe();
    let (stop, tasks) = (
        tokio_util::sync::CancellationToken::new(),
        tokio_util::task::TaskTracker::new(),
    );
    let pairdesk::server::source::Started { source, label, .. } =
        pairdesk::server::source::start_source(&config, pipeline.clone(), stop.clone(), &tasks)
            .await?;
    let file = std::fs::File::create(&out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    tracing::info!(source = %label, out = %out.display(), "recording");
    let deadline = tokio::time::sleep(std::time::Duration::from_secs(
        seconds.unwrap_or(u64::MAX / 4),
    ));
    tokio::pin!(deadline);
    let mut n = 0u64;
    loop {
        tokio::select! {
            t = live.recv() => match t {
                Ok(t) => {
                    let line = serde_json::json!({
                        "symbol": t.symbol, "ts": t.exchange_ts, "price": t.price, "size": t.qty,
                        "id": t.trade_id, "side": <&str>::from(t.side),
                    });
                    writeln!(w, "{line}")?;
                    n += 1;
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(k)) => tracing::warn!(missed = k, "recorder fell behind"),
                Err(_) => break,
            },
            _ = &mut deadline => break,
            _ = pairdesk::server::shutdown_signal() => break,
        }
    }
    w.flush()?;
    stop.cancel();
    tasks.close();
    let _ = tokio::time::timeout(std::time::Duration::from_millis(800), tasks.wait()).await;
    drop(source);
    pipeline.flush().await;
    tracing::info!(ticks = n, "recording finished");
    Ok(())
}
