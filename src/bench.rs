//! `pairdesk bench`: load, latency and resource figures, measured in-process
//! on loopback over temporary databases. Part of the binary, not the
//! library: nothing but the command line uses it.
//!
//! Every phase runs the production path unchanged: the mock exchange (a real
//! WebSocket server on 127.0.0.1 speaking Binance's frames) → the Binance
//! client → the pipeline → the SQLite writer, and for the push and the API the
//! full HTTP router served on 127.0.0.1:0.
//!
//! Phases:
//! 1. **Ingestion** at rising total trade rates over N symbols (a fresh
//!    database per step): generated, stored, back-pressure events, reconnects,
//!    exchange→receive lag (p50/p99/max) and whether the step was sustained
//!    (everything stored within [`BenchOptions::drain_ms`] of stopping the
//!    market and p99 lag under [`BenchOptions::max_lag_p99_ms`]).
//! 2. **Tick-to-client latency** over `/ws/live`: for each live rate, 1 and 50
//!    WebSocket clients; latency = client receive wall time − `last_ts` (the
//!    exchange time of the newest tick) of every [`LiveUpdate`] carrying ticks.
//! 3. **Bursts with disconnects**: the mock's load mode (bursts of 10x the
//!    base rate, the connection dropped halfway through each); every
//!    generated trade must end up stored once, gaps backfilled over REST.
//! 4. **HTTP API**: concurrent `GET /api/v1/pair?x=..&y=..&bars=300` against a
//!    database seeded with 15 minutes of simulated trades for two symbols.
//!
//! For every measurement window the process's CPU share (utime+stime from
//! `/proc/self/stat` over wall time; 1.0 = one core busy) and resident memory
//! (`/proc/self/status` VmRSS, sampled every 100 ms) are reported. The mock
//! exchange and the load clients run in the same process, so CPU and memory
//! are upper bounds for the server alone.

use futures::StreamExt;
use pairdesk::config::Config;
use pairdesk::ingest::mock_feed::{FeedOptions, MockFeed};
use pairdesk::ingest::now_ms;
use pairdesk::ingest::pipeline::Pipeline;
use pairdesk::ingest::venues::sim::{Bursts, MockConfig};
use pairdesk::ingest::venues::sim::{SimMarket, SimSpec};
use pairdesk::model::live::LiveUpdate;
use pairdesk::procstat::rss_kb;
use pairdesk::server::router;
use pairdesk::state::AppState;
use pairdesk::store::writer::{WriteCmd, Writer};
use pairdesk::store::{self, Durability, StoreError};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Why a bench run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("invalid bench options: {0}")]
    Options(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("WebSocket client: {0}")]
    Ws(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Feed(#[from] pairdesk::ingest::mock_feed::FeedError),
    #[error("the writer did not accept the seed data")]
    WriterGone,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Simulated symbols (`S000USDT`, `S001USDT`, ...), 2 to 200.
    pub symbols: usize,
    /// Length of every measurement window.
    pub seconds: f64,
    /// Total trades per second for the ingestion steps, rising; the steps
    /// stop at the first one that is not sustained.
    pub ingest_rates: Vec<f64>,
    /// Total trades per second for the latency phase.
    pub live_rates: Vec<f64>,
    /// Connected `/ws/live` clients per latency measurement.
    pub live_clients: Vec<usize>,
    /// The bursty phase: base rate, and the burst regime on top of it.
    pub burst_base_rate: f64,
    pub bursts: Bursts,
    /// Concurrent HTTP clients for the API phase.
    pub http_concurrency: usize,
    /// A step is sustained only if its p99 exchange→receive lag is below this.
    pub max_lag_p99_ms: f64,
    /// ... and everything generated is stored within this long of stopping.
    pub drain_ms: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            symbols: 50,
            seconds: 5.0,
            ingest_rates: vec![
                1_000.0, 2_500.0, 5_000.0, 10_000.0, 20_000.0, 40_000.0, 80_000.0, 160_000.0,
                320_000.0,
            ],
            live_rates: vec![1_000.0, 10_000.0],
            live_clients: vec![1, 50],
            // 2,000 trades/s, 20,000/s for one second in every four, and the
            // connection dropped halfway through every burst.
            burst_base_rate: 2_000.0,
            bursts: Bursts {
                period_ms: 4_000,
                burst_ms: 1_000,
                factor: 10.0,
                drop_mid_burst: true,
            },
            http_concurrency: 8,
            max_lag_p99_ms: 250.0,
            drain_ms: 1_000,
        }
    }
}

impl BenchOptions {
    fn validate(&self) -> Result<(), BenchError> {
        if !(2..=200).contains(&self.symbols) {
            return Err(BenchError::Options(format!(
                "--symbols must be 2 to 200, got {}",
                self.symbols
            )));
        }
        if !(self.seconds >= 1.0 && self.seconds <= 600.0) {
            return Err(BenchError::Options(format!(
                "--seconds must be 1 to 600, got {}",
                self.seconds
            )));
        }
        if self.http_concurrency == 0 {
            return Err(BenchError::Options(
                "HTTP concurrency must be positive".into(),
            ));
        }
        Ok(())
    }

    fn symbol_names(&self) -> Vec<String> {
        (0..self.symbols).map(|i| format!("S{i:03}USDT")).collect()
    }
}

/// CPU and memory over one measurement window.
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    /// Process CPU time / wall time (1.0 = one core fully busy).
    pub cpu_share: f64,
    /// Highest VmRSS sampled during the window, MB.
    pub rss_max_mb: f64,
}

/// One ingestion step.
#[derive(Debug, Clone, Serialize)]
pub struct IngestStep {
    pub target_rate: f64,
    pub generated: u64,
    /// Generated trades per second of the window.
    pub generated_rate: f64,
    /// Committed to SQLite by the end (including late ones).
    pub stored: u64,
    /// Milliseconds after stopping the market until everything was stored,
    /// `None` if it took longer than the drain window.
    pub drained_ms: Option<u64>,
    pub backpressure: u64,
    pub reconnects: u64,
    pub gaps: u64,
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
    pub sustained: bool,
    pub usage: Usage,
}

/// Tick-to-client latency for one (rate, clients) pair.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyRow {
    pub rate: f64,
    pub clients: usize,
    /// Updates carrying ticks received by all clients in the window.
    pub messages: u64,
    /// Receive wall time − `last_ts` (the newest tick in the update).
    pub median_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Receive wall time − the previous update's `last_ts`: a bound on the
    /// age of the oldest tick an update announces (it includes the batching).
    pub oldest_median_ms: f64,
    pub oldest_p99_ms: f64,
    pub oldest_max_ms: f64,
    /// Largest `lagged` count any client reported.
    pub lagged: u64,
    pub usage: Usage,
}

/// Bursty arrivals with a disconnect in every burst.
#[derive(Debug, Clone, Serialize)]
pub struct BurstRow {
    pub base_rate: f64,
    pub burst_rate: f64,
    pub period_ms: u64,
    pub burst_ms: u64,
    pub seconds: f64,
    pub generated: u64,
    /// Rows committed (the store's unique key makes a second copy impossible,
    /// so stored == generated means every trade exactly once).
    pub stored: u64,
    /// Copies the pipeline or the store recognised and ignored (the overlap
    /// between a backfill and the live stream).
    pub duplicates_ignored: u64,
    pub reconnects: u64,
    pub gaps_found: u64,
    pub gaps_filled: u64,
    pub drained_ms: Option<u64>,
    /// Exchange→receive lag of live (not backfilled) ticks.
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
    pub usage: Usage,
}

/// What `wrk` printed for the same endpoint (an external load generator,
/// so the CPU figure is the server's alone).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WrkFigures {
    pub requests: u64,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Non-2xx/3xx responses plus socket errors.
    pub errors: u64,
}

/// Milliseconds from a wrk duration such as `812.00us`, `3.80ms` or `1.02s`.
fn wrk_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, scale) = if let Some(v) = s.strip_suffix("us") {
        (v, 1e-3)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60_000.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|v| v * scale)
}

/// Read `wrk --latency` output; `None` if it does not look like one.
pub fn parse_wrk(out: &str) -> Option<WrkFigures> {
    let mut f = WrkFigures {
        requests: 0,
        per_sec: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        max_ms: f64::NAN,
        errors: 0,
    };
    let mut in_distribution = false;
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Latency", _avg, _sd, max, ..] if !in_distribution => f.max_ms = wrk_ms(max)?,
            ["Latency", "Distribution", ..] => in_distribution = true,
            ["50%", v] if in_distribution => f.p50_ms = wrk_ms(v)?,
            ["99%", v] if in_distribution => f.p99_ms = wrk_ms(v)?,
            [n, "requests", "in", ..] => f.requests = n.parse().ok()?,
            ["Requests/sec:", v] => f.per_sec = v.parse().ok()?,
            ["Non-2xx", "or", "3xx", "responses:", n] => f.errors += n.parse::<u64>().ok()?,
            ["Socket", "errors:", rest @ ..] => {
                f.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    let complete = [f.per_sec, f.p50_ms, f.p99_ms, f.max_ms]
        .iter()
        .all(|v| v.is_finite());
    complete.then_some(f)
}

/// HTTP API throughput.
#[derive(Debug, Clone, Serialize)]
pub struct HttpRow {
    pub endpoint: String,
    pub concurrency: usize,
    pub requests: u64,
    pub errors: u64,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub usage: Usage,
    /// The same endpoint under `wrk` (when it is installed), and the
    /// server's CPU and memory meanwhile.
    pub wrk: Option<(WrkFigures, Usage)>,
}

/// Ingest with top of book on: the quote stream of every symbol at a
/// fixed rate on its own connection, conflated and stored, beside trades.
#[derive(Debug, Clone, Serialize)]
pub struct QuotesRow {
    pub symbols: usize,
    /// Book updates per second per symbol the mock was asked for.
    pub target_per_symbol: f64,
    /// Book updates the mock wrote to the socket, per second (all symbols).
    pub sent_per_sec: f64,
    pub sent: u64,
    /// Read by the client: equal to `sent` when nothing was lost.
    pub received: u64,
    pub conflated: u64,
    pub kept: u64,
    /// Quotes inserted by the writer (= kept when nothing was lost).
    pub stored_quotes: u64,
    pub trades_generated: u64,
    pub trades_stored: u64,
    /// Rows (quotes, marks and trades) committed per second of the window.
    pub rows_per_sec: f64,
    /// Exchange -> receive lag of the kept quotes, ms.
    pub quote_lag_p50_ms: f64,
    pub quote_lag_p99_ms: f64,
    /// ... and of the trades.
    pub trade_lag_p99_ms: f64,
    pub usage: Usage,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub symbols: usize,
    pub seconds: f64,
    pub cpus: usize,
    pub ingest: Vec<IngestStep>,
    /// Highest target rate that was sustained.
    pub sustainable_rate: Option<f64>,
    pub latency: Vec<LatencyRow>,
    pub burst: BurstRow,
    /// One row per endpoint measured.
    pub http: Vec<HttpRow>,
    pub quotes: QuotesRow,
    /// The live-push base interval in force, ms.
    pub live_base_interval_ms: u64,
}

/// Run every phase in order.
pub async fn run(opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    opts.validate()?;
    let symbols = opts.symbol_names();
    let mut ingest = Vec::new();
    for (i, &rate) in opts.ingest_rates.iter().enumerate() {
        tracing::info!(rate, "bench: ingestion step");
        let step = ingest_step(&symbols, rate, i as u64 + 1, opts).await?;
        let sustained = step.sustained;
        ingest.push(step);
        if !sustained {
            break;
        }
    }
    let sustainable_rate = ingest
        .iter()
        .filter(|s| s.sustained)
        .map(|s| s.target_rate)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    let mut latency = Vec::new();
    for &rate in &opts.live_rates {
        tracing::info!(rate, "bench: live latency");
        latency.extend(live_phase(&symbols, rate, opts).await?);
    }
    tracing::info!("bench: bursts with disconnects");
    let burst = burst_phase(&symbols, opts).await?;
    tracing::info!("bench: quotes on");
    let quotes = quotes_phase(opts).await?;
    tracing::info!("bench: HTTP API");
    let http = http_phase(opts).await?;
    Ok(BenchReport {
        symbols: opts.symbols,
        seconds: opts.seconds,
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        ingest,
        sustainable_rate,
        latency,
        burst,
        http,
        quotes,
        live_base_interval_ms: pairdesk::model::live::BASE_INTERVAL_MS,
    })
}

// ---------------------------------------------------------------- resources

/// `/proc/self/stat` utime + stime, in clock ticks.
pub fn cpu_ticks() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may contain spaces; fields resume after its ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// USER_HZ: the unit of `/proc/*/stat` times, fixed at 100 by the Linux ABI.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// Measures CPU share and peak RSS between `start` and `finish`.
struct UsageProbe {
    ticks: u64,
    started: Instant,
    rss_max: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    sampler: tokio::task::JoinHandle<()>,
}

impl UsageProbe {
    fn start() -> UsageProbe {
        let rss_max = Arc::new(AtomicU64::new(rss_kb().unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (rss_max.clone(), stop.clone());
        let sampler = tokio::spawn(async move {
            while !s.load(Relaxed) {
                if let Some(kb) = rss_kb() {
                    m.fetch_max(kb, Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        UsageProbe {
            ticks: cpu_ticks().unwrap_or(0),
            started: Instant::now(),
            rss_max,
            stop,
            sampler,
        }
    }

    fn finish(self) -> Usage {
        let wall = self.started.elapsed().as_secs_f64();
        let used = cpu_ticks().unwrap_or(self.ticks).saturating_sub(self.ticks);
        self.stop.store(true, Relaxed);
        self.sampler.abort();
        if let Some(kb) = rss_kb() {
            self.rss_max.fetch_max(kb, Relaxed);
        }
        Usage {
            cpu_share: used as f64 / CLOCK_TICKS_PER_SEC / wall.max(1e-9),
            rss_max_mb: self.rss_max.load(Relaxed) as f64 / 1024.0,
        }
    }
}

// ---------------------------------------------------------------- helpers

/// A directory removed on drop (the bench's databases).
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Result<TempDir, BenchError> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "pairdesk-bench-{}-{}-{label}",
            std::process::id(),
            SEQ.fetch_add(1, Relaxed)
        ));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Nearest-rank percentile of sorted values (0 when empty).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// The mock exchange at `rate` trades/s in total over `symbols`, feeding
/// the production path (as `serve --source sim` wires it).
async fn start_market(
    db: &Path,
    symbols: &[String],
    rate: f64,
    seed: u64,
    autostart: bool,
    bursts: Option<Bursts>,
) -> Result<MockFeed, BenchError> {
    let base: f64 = symbols.iter().map(|s| SimSpec::for_symbol(s).rate).sum();
    let mock = MockConfig {
        seed,
        rate_scale: rate / base,
        autostart,
        bursts,
        ..MockConfig::new(symbols)
    };
    Ok(MockFeed::start(db, FeedOptions::new(mock)).await?)
}

/// Stop a market, warning when its writer is slow to finish.
async fn close(market: MockFeed) {
    if !market.shutdown().await {
        tracing::warn!("bench: writer did not stop within 10 s");
    }
}

// ---------------------------------------------------------------- ingestion

async fn ingest_step(
    symbols: &[String],
    rate: f64,
    seed: u64,
    opts: &BenchOptions,
) -> Result<IngestStep, BenchError> {
    let dir = TempDir::new("ingest")?;
    let market = start_market(
        &dir.path().join("bench.db"),
        symbols,
        rate,
        seed,
        false,
        None,
    )
    .await?;
    // Exchange→receive lag of every accepted tick, from the live broadcast.
    let (lags, collector) = collect_lags(&market.pipeline);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let probe = UsageProbe::start();
    let started = Instant::now();
    market.mock.resume();
    tokio::time::sleep(Duration::from_secs_f64(opts.seconds)).await;
    market.mock.pause();
    let stopped = Instant::now();
    let window = stopped.duration_since(started).as_secs_f64();
    // The generator checks the flag every 10 ms: let a batch in flight land.
    tokio::time::sleep(Duration::from_millis(25)).await;
    let generated = market.mock.generated();
    let stats = market.writer.stats.clone();
    let mut drained_ms = None;
    // Within the drain window (sustained), then up to 10 s more (late).
    while stopped.elapsed() < Duration::from_millis(opts.drain_ms) + Duration::from_secs(10) {
        if stats.inserted.load(Relaxed) + stats.duplicates.load(Relaxed) >= generated {
            let ms = stopped.elapsed().as_millis() as u64;
            if ms <= opts.drain_ms {
                drained_ms = Some(ms);
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let usage = probe.finish();
    let m = &market.pipeline.metrics;
    let (backpressure, reconnects, gaps) = (
        m.backpressure.load(Relaxed),
        m.reconnects.load(Relaxed),
        m.gaps_found.load(Relaxed),
    );
    collector.abort();
    close(market).await;
    let stored = stats.inserted.load(Relaxed);
    let lags = sorted(lags.lock().map(|l| l.clone()).unwrap_or_default());
    let lag_p99_ms = percentile(&lags, 99.0);
    let sustained = drained_ms.is_some() && stored >= generated && lag_p99_ms < opts.max_lag_p99_ms;
    Ok(IngestStep {
        target_rate: rate,
        generated,
        generated_rate: generated as f64 / window,
        stored,
        drained_ms,
        backpressure,
        reconnects,
        gaps,
        lag_p50_ms: percentile(&lags, 50.0),
        lag_p99_ms,
        lag_max_ms: lags.last().copied().unwrap_or(0.0),
        sustained,
        usage,
    })
}

/// Lags of every live tick the pipeline accepts, until aborted.
fn collect_lags(pipeline: &Pipeline) -> (Arc<Mutex<Vec<f64>>>, tokio::task::JoinHandle<()>) {
    let lags: Arc<Mutex<Vec<f64>>> = Arc::default();
    let mut rx = pipeline.subscribe();
    let sink = lags.clone();
    let task = tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match rx.recv().await {
                Ok(t) => {
                    if let Ok(mut l) = sink.lock() {
                        l.push((t.receive_ts - t.exchange_ts) as f64);
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    });
    (lags, task)
}

/// Book updates per symbol per second in the quotes phase, and its symbols
/// and total trade rate (the figure: 2,000 a second on 10 symbols).
const QUOTES_PER_SYMBOL: f64 = 2_000.0;
const QUOTE_SYMBOLS: usize = 10;
const QUOTE_TRADE_RATE: f64 = 500.0;

/// Ten symbols, each with its book at 2,000 updates a second and trades at
/// 50 a second, through the production path with quotes on.
async fn quotes_phase(opts: &BenchOptions) -> Result<QuotesRow, BenchError> {
    let dir = TempDir::new("quotes")?;
    let symbols: Vec<String> = (0..QUOTE_SYMBOLS).map(|i| format!("Q{i:03}USDT")).collect();
    let base: f64 = symbols.iter().map(|s| SimSpec::for_symbol(s).rate).sum();
    let scale = QUOTE_TRADE_RATE / base;
    let mut feed_opts = FeedOptions::new(MockConfig {
        seed: 77,
        rate_scale: scale,
        autostart: false,
        // The book's size updates scale with the rate too; one more update
        // comes with each trade.
        quotes: Some((QUOTES_PER_SYMBOL - QUOTE_TRADE_RATE / QUOTE_SYMBOLS as f64) / scale),
        ..MockConfig::new(&symbols)
    });
    feed_opts.quotes = Some(pairdesk::ingest::conflate::ConflateConfig::default());
    let mut market = MockFeed::start(&dir.path().join("quotes.db"), feed_opts).await?;
    let (trade_lags, collector) = collect_lags(&market.pipeline);
    let quote_lags: Arc<Mutex<Vec<f64>>> = Arc::default();
    let mut book = market.pipeline.subscribe_book();
    let sink = quote_lags.clone();
    let book_task = tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match book.recv().await {
                Ok(pairdesk::ingest::pipeline::BookEvent::Quote(q)) => {
                    if let Ok(mut l) = sink.lock() {
                        l.push((q.receive_ts - q.ts) as f64);
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let probe = UsageProbe::start();
    let started = Instant::now();
    market.mock.resume();
    tokio::time::sleep(Duration::from_secs_f64(opts.seconds)).await;
    market.mock.pause();
    let window = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(300)).await;
    market.stop_client(Duration::from_secs(5)).await;
    market.pipeline.flush().await;
    let usage = probe.finish();
    collector.abort();
    book_task.abort();
    let f = market.mock.faults();
    let m = &market.pipeline.metrics;
    let w = market.writer.stats.clone();
    let sent = f.quotes_sent.load(Relaxed);
    let stored_quotes = w.quotes_inserted.load(Relaxed);
    let trades_stored = w.inserted.load(Relaxed);
    let rows = stored_quotes + trades_stored + w.marks_inserted.load(Relaxed);
    let row = QuotesRow {
        symbols: QUOTE_SYMBOLS,
        target_per_symbol: QUOTES_PER_SYMBOL,
        sent_per_sec: sent as f64 / window,
        sent,
        received: m.quotes.load(Relaxed),
        conflated: m.quotes_conflated.load(Relaxed),
        kept: m.quotes_kept.load(Relaxed),
        stored_quotes,
        trades_generated: market.mock.generated(),
        trades_stored,
        rows_per_sec: rows as f64 / window,
        quote_lag_p50_ms: 0.0,
        quote_lag_p99_ms: 0.0,
        trade_lag_p99_ms: percentile(
            &sorted(trade_lags.lock().map(|l| l.clone()).unwrap_or_default()),
            99.0,
        ),
        usage,
    };
    let ql = sorted(quote_lags.lock().map(|l| l.clone()).unwrap_or_default());
    close(market).await;
    Ok(QuotesRow {
        quote_lag_p50_ms: percentile(&ql, 50.0),
        quote_lag_p99_ms: percentile(&ql, 99.0),
        ..row
    })
}

/// Bursts of 10x the base rate with the connection dropped mid-burst: every
/// generated trade must still be stored exactly once (gaps backfilled).
async fn burst_phase(symbols: &[String], opts: &BenchOptions) -> Result<BurstRow, BenchError> {
    let dir = TempDir::new("burst")?;
    let b = opts.bursts;
    let market = start_market(
        &dir.path().join("bench.db"),
        symbols,
        opts.burst_base_rate,
        77,
        false,
        Some(b),
    )
    .await?;
    let (lags, collector) = collect_lags(&market.pipeline);
    // Whole periods, at least two bursts.
    let periods = ((opts.seconds * 1000.0 * 3.0) / b.period_ms as f64)
        .ceil()
        .max(2.0);
    let run = Duration::from_millis(periods as u64 * b.period_ms);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let probe = UsageProbe::start();
    let started = Instant::now();
    market.mock.resume();
    tokio::time::sleep(run).await;
    market.mock.pause();
    let stopped = Instant::now();
    tokio::time::sleep(Duration::from_millis(25)).await;
    let generated = market.mock.generated();
    let stats = market.writer.stats.clone();
    let mut drained_ms = None;
    // Backfills after the last drop may still be running: allow 10 s.
    while stopped.elapsed() < Duration::from_secs(10) {
        if stats.inserted.load(Relaxed) >= generated {
            drained_ms = Some(stopped.elapsed().as_millis() as u64);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let usage = probe.finish();
    let m = &market.pipeline.metrics;
    let (reconnects, gaps_found, gaps_filled, dup_pipeline) = (
        m.reconnects.load(Relaxed),
        m.gaps_found.load(Relaxed),
        m.gaps_filled.load(Relaxed),
        m.duplicates.load(Relaxed),
    );
    collector.abort();
    close(market).await;
    let lags = sorted(lags.lock().map(|l| l.clone()).unwrap_or_default());
    Ok(BurstRow {
        base_rate: opts.burst_base_rate,
        burst_rate: opts.burst_base_rate * b.factor,
        period_ms: b.period_ms,
        burst_ms: b.burst_ms,
        seconds: started.elapsed().as_secs_f64().min(run.as_secs_f64()),
        generated,
        stored: stats.inserted.load(Relaxed),
        duplicates_ignored: dup_pipeline + stats.duplicates.load(Relaxed),
        reconnects,
        gaps_found,
        gaps_filled,
        drained_ms,
        lag_p50_ms: percentile(&lags, 50.0),
        lag_p99_ms: percentile(&lags, 99.0),
        lag_max_ms: lags.last().copied().unwrap_or(0.0),
        usage,
    })
}

// ---------------------------------------------------------------- serving

struct Served {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

/// Serve the full router for `db` on 127.0.0.1:0.
async fn serve(
    db: &Path,
    site: &Path,
    symbols: &[String],
    pipeline: Arc<Pipeline>,
    writer: &Writer,
) -> Result<Served, BenchError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = Config {
        db: db.to_path_buf(),
        listen: addr,
        symbols: symbols.to_vec(),
        ..Config::default()
    };
    let reads = Arc::new(pairdesk::store::SqliteStore::new(db));
    let state = Arc::new(AppState::new(config, pipeline, writer, reads));
    let opts = leptos::config::LeptosOptions::builder()
        .output_name("pairdesk")
        .site_root(site.display().to_string())
        .site_addr(addr)
        .build();
    let (conns, net, limits) = (
        state.conns.clone(),
        state.net.clone(),
        state.config.http.clone(),
    );
    let app = router(state, opts);
    let (stop, stop_rx) = oneshot::channel::<()>();
    // The same accept loop as `serve`, so its caps and timeouts are measured.
    tokio::spawn(async move {
        let serve = pairdesk::http::accept::serve(listener, app, &limits, conns, net, async {
            let _ = stop_rx.await;
        });
        if let Err(e) = serve.await {
            tracing::warn!(error = %e, "bench server stopped");
        }
    });
    Ok(Served { addr, _stop: stop })
}

// ---------------------------------------------------------------- live push

/// Latency samples (ms) and the largest `lagged` seen, shared by the clients.
#[derive(Default)]
struct LiveSamples {
    latencies: Vec<f64>,
    oldest: Vec<f64>,
    lagged: u64,
}

fn now_ms_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

async fn live_client(
    url: String,
    recording: Arc<AtomicBool>,
    samples: Arc<Mutex<LiveSamples>>,
    stop: CancellationToken,
) -> Result<(), BenchError> {
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await?;
    let mut prev_ts: Option<i64> = None;
    loop {
        let msg = tokio::select! {
            m = ws.next() => m,
            _ = stop.cancelled() => break,
        };
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => break,
        };
        let at = now_ms_f64();
        if !recording.load(Relaxed) {
            continue;
        }
        let Ok(u) = serde_json::from_str::<LiveUpdate>(text.as_str()) else {
            tracing::warn!("bench: unparsable live update");
            continue;
        };
        if let (true, Some(ts)) = (u.new_ticks > 0, u.last_ts) {
            if let Ok(mut s) = samples.lock() {
                s.latencies.push(at - ts as f64);
                if let Some(p) = prev_ts {
                    s.oldest.push(at - p as f64);
                }
                s.lagged = s.lagged.max(u.lagged);
            }
            prev_ts = Some(ts);
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}

async fn live_phase(
    symbols: &[String],
    rate: f64,
    opts: &BenchOptions,
) -> Result<Vec<LatencyRow>, BenchError> {
    let dir = TempDir::new("live")?;
    let db = dir.path().join("bench.db");
    let market = start_market(&db, symbols, rate, 1000 + rate as u64, true, None).await?;
    let served = serve(
        &db,
        dir.path(),
        symbols,
        market.pipeline.clone(),
        &market.writer,
    )
    .await?;
    let url = format!("ws://{}/ws/live", served.addr);
    // Warm up: the first trades, the first bars, caches.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut rows = Vec::new();
    for &n in &opts.live_clients {
        let recording = Arc::new(AtomicBool::new(false));
        let samples: Arc<Mutex<LiveSamples>> = Arc::default();
        let stop = CancellationToken::new();
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            tasks.push(tokio::spawn(live_client(
                url.clone(),
                recording.clone(),
                samples.clone(),
                stop.clone(),
            )));
        }
        // Let every client connect and receive a first update.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let probe = UsageProbe::start();
        recording.store(true, Relaxed);
        tokio::time::sleep(Duration::from_secs_f64(opts.seconds)).await;
        recording.store(false, Relaxed);
        let usage = probe.finish();
        stop.cancel();
        for t in tasks {
            match tokio::time::timeout(Duration::from_secs(5), t).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => return Err(e),
                Ok(Err(e)) => tracing::warn!(error = %e, "bench: live client task failed"),
                Err(_) => tracing::warn!("bench: live client did not stop"),
            }
        }
        let s = std::mem::take(&mut *samples.lock().unwrap_or_else(|p| p.into_inner()));
        let lat = sorted(s.latencies);
        let old = sorted(s.oldest);
        rows.push(LatencyRow {
            rate,
            clients: n,
            messages: lat.len() as u64,
            median_ms: percentile(&lat, 50.0),
            p99_ms: percentile(&lat, 99.0),
            max_ms: lat.last().copied().unwrap_or(0.0),
            oldest_median_ms: percentile(&old, 50.0),
            oldest_p99_ms: percentile(&old, 99.0),
            oldest_max_ms: old.last().copied().unwrap_or(0.0),
            lagged: s.lagged,
            usage,
        });
    }
    drop(served);
    close(market).await;
    Ok(rows)
}

// ---------------------------------------------------------------- HTTP API

/// Seed two symbols with `minutes` of simulated trades ending now.
async fn seed(writer: &Writer, symbols: &[String], minutes: i64) -> Result<u64, BenchError> {
    let now = now_ms();
    let start = now - minutes * 60_000;
    let mut market = SimMarket::new(symbols, 7, start, 1.0);
    let mut n = 0u64;
    let mut t = start;
    while t < now {
        t = (t + 60_000).min(now);
        let ticks = market.advance(t);
        n += ticks.len() as u64;
        writer
            .tx
            .send(WriteCmd::Ticks(ticks))
            .await
            .map_err(|_| BenchError::WriterGone)?;
    }
    let (tx, rx) = oneshot::channel();
    writer
        .tx
        .send(WriteCmd::Flush(tx))
        .await
        .map_err(|_| BenchError::WriterGone)?;
    rx.await.map_err(|_| BenchError::WriterGone)?;
    Ok(n)
}

async fn http_phase(opts: &BenchOptions) -> Result<Vec<HttpRow>, BenchError> {
    let dir = TempDir::new("http")?;
    let db = dir.path().join("bench.db");
    let pair = vec!["S000USDT".to_string(), "S001USDT".to_string()];
    let writer = Writer::spawn(store::open_writer(&db, Durability::Normal)?, 64);
    let seeded = seed(&writer, &pair, 15).await?;
    tracing::info!(ticks = seeded, "bench: API database seeded");
    let pipeline = Pipeline::new(writer.tx.clone());
    let served = serve(&db, dir.path(), &pair, pipeline.clone(), &writer).await?;
    // Two kinds of request: the dashboard's pair analytics (CPU-bound on the
    // statistics) and a page of stored ticks (bound by the store: opening a
    // connection, one indexed range scan, JSON), which shows what the store's
    // connection handling costs per request.
    let paths = [
        format!("/api/v1/pair?x={}&y={}&bars=300", pair[0], pair[1]),
        format!("/api/v1/ticks?symbol={}&limit=100", pair[0]),
    ];
    let mut rows = Vec::new();
    for path in paths {
        rows.push(http_load(&format!("http://{}{path}", served.addr), &path, opts).await?);
    }
    drop(served);
    drop(pipeline);
    let _ = tokio::task::spawn_blocking(move || writer.shutdown()).await;
    Ok(rows)
}

/// `opts.http_concurrency` reqwest clients, then wrk, against one URL.
async fn http_load(url: &str, path: &str, opts: &BenchOptions) -> Result<HttpRow, BenchError> {
    // One request first: it must succeed, or the figures would mean nothing.
    let first = reqwest::Client::new().get(url).send().await?;
    first.error_for_status()?.bytes().await?;

    let deadline = Instant::now() + Duration::from_secs_f64(opts.seconds);
    let probe = UsageProbe::start();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..opts.http_concurrency {
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < deadline {
                let t = Instant::now();
                let ok = match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                };
                if ok {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let (mut lat, mut errors) = (Vec::new(), 0u64);
    for t in tasks {
        match t.await {
            Ok((l, e)) => {
                lat.extend(l);
                errors += e;
            }
            Err(e) => tracing::warn!(error = %e, "bench: HTTP client task failed"),
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let usage = probe.finish();
    let wrk = wrk_phase(url, opts).await;
    let lat = sorted(lat);
    Ok(HttpRow {
        endpoint: format!("GET {path}"),
        concurrency: opts.http_concurrency,
        requests: lat.len() as u64,
        errors,
        per_sec: lat.len() as f64 / wall,
        p50_ms: percentile(&lat, 50.0),
        p99_ms: percentile(&lat, 99.0),
        max_ms: lat.last().copied().unwrap_or(0.0),
        usage,
        wrk,
    })
}

/// `wrk -t2 -c<concurrency> -d<seconds>s --latency URL`, if wrk is installed
/// (`make test` installs it; a missing wrk only skips this row).
async fn wrk_phase(url: &str, opts: &BenchOptions) -> Option<(WrkFigures, Usage)> {
    let args = vec![
        "-t2".to_string(),
        format!("-c{}", opts.http_concurrency),
        format!("-d{}s", opts.seconds.ceil() as u64),
        "--latency".to_string(),
        url.to_string(),
    ];
    let probe = UsageProbe::start();
    let out =
        tokio::task::spawn_blocking(move || std::process::Command::new("wrk").args(&args).output())
            .await
            .ok()?;
    let usage = probe.finish();
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let f = parse_wrk(&text);
            if f.is_none() {
                tracing::warn!(output = %text, "bench: could not read wrk's output");
            }
            f.map(|f| (f, usage))
        }
        Ok(o) => {
            tracing::warn!(status = %o.status, "bench: wrk failed");
            None
        }
        Err(e) => {
            tracing::info!(error = %e, "bench: wrk not available; skipping its row");
            None
        }
    }
}

// ---------------------------------------------------------------- report

/// The report as readable tables.
pub fn render(r: &BenchReport) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let pct = |u: &Usage| format!("{:.0}%", u.cpu_share * 100.0);
    let _ = writeln!(
        o,
        "pairdesk bench: {} symbols, {} s windows, {} CPUs (CPU % is of one core; mock exchange and load clients run in-process)\n",
        r.symbols, r.seconds, r.cpus
    );
    let _ = writeln!(o, "Ingestion: mock -> client -> pipeline -> writer");
    let _ = writeln!(
        o,
        "{:>8} {:>9} {:>9} {:>9} {:>8} {:>6} {:>5} {:>8} {:>8} {:>8} {:>6} {:>7} {:>6}  sustained",
        "target/s",
        "gen/s",
        "generated",
        "stored",
        "drain ms",
        "bp",
        "recon",
        "lag p50",
        "lag p99",
        "lag max",
        "CPU",
        "RSS MB",
        ""
    );
    for s in &r.ingest {
        let _ = writeln!(
            o,
            "{:>8.0} {:>9.0} {:>9} {:>9} {:>8} {:>6} {:>5} {:>8.1} {:>8.1} {:>8.1} {:>6} {:>7.1} {:>6}  {}",
            s.target_rate,
            s.generated_rate,
            s.generated,
            s.stored,
            s.drained_ms.map_or("late".into(), |m| m.to_string()),
            s.backpressure,
            s.reconnects,
            s.lag_p50_ms,
            s.lag_p99_ms,
            s.lag_max_ms,
            pct(&s.usage),
            s.usage.rss_max_mb,
            "",
            if s.sustained { "yes" } else { "NO" }
        );
    }
    let _ = writeln!(
        o,
        "sustainable rate: {}\n",
        r.sustainable_rate
            .map_or("none of the steps".into(), |v| format!("{v:.0} trades/s"))
    );
    let q = &r.quotes;
    let _ = writeln!(
        o,
        "Quotes on: {} symbols, bookTicker {:.0}/s each on its own connection, plus trades and mark prices",
        q.symbols, q.target_per_symbol
    );
    let _ = writeln!(
        o,
        "sent {} ({:.0}/s), received {}, conflated {}, kept {}, stored {} (lost {}); trades {} of {} stored; \
         {:.0} rows/s stored; quote lag p50 {:.1} ms, p99 {:.1} ms; trade lag p99 {:.1} ms; CPU {}, RSS {:.1} MB\n",
        q.sent,
        q.sent_per_sec,
        q.received,
        q.conflated,
        q.kept,
        q.stored_quotes,
        q.sent.saturating_sub(q.received) + q.kept.saturating_sub(q.stored_quotes),
        q.trades_stored,
        q.trades_generated,
        q.rows_per_sec,
        q.quote_lag_p50_ms,
        q.quote_lag_p99_ms,
        q.trade_lag_p99_ms,
        pct(&q.usage),
        q.usage.rss_max_mb
    );
    let _ = writeln!(
        o,
        "Tick-to-client latency over /ws/live (push base interval {} ms)",
        r.live_base_interval_ms
    );
    let _ = writeln!(
        o,
        "newest tick: receive − last_ts; oldest tick: receive − previous update's last_ts"
    );
    let _ = writeln!(
        o,
        "{:>8} {:>7} {:>8} {:>23} {:>23} {:>7} {:>6} {:>7}",
        "", "", "", "newest tick (ms)", "oldest tick (ms)", "", "", ""
    );
    let _ = writeln!(
        o,
        "{:>8} {:>7} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>7}",
        "rate/s",
        "clients",
        "updates",
        "median",
        "p99",
        "max",
        "median",
        "p99",
        "max",
        "lagged",
        "CPU",
        "RSS MB"
    );
    for l in &r.latency {
        let _ = writeln!(
            o,
            "{:>8.0} {:>7} {:>8} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7.1} {:>7} {:>6} {:>7.1}",
            l.rate,
            l.clients,
            l.messages,
            l.median_ms,
            l.p99_ms,
            l.max_ms,
            l.oldest_median_ms,
            l.oldest_p99_ms,
            l.oldest_max_ms,
            l.lagged,
            pct(&l.usage),
            l.usage.rss_max_mb
        );
    }
    let b = &r.burst;
    let _ = writeln!(
        o,
        "\nBursts: {:.0}/s, {:.0}/s for {} ms of every {} ms, connection dropped mid-burst, {:.0} s",
        b.base_rate, b.burst_rate, b.burst_ms, b.period_ms, b.seconds
    );
    let _ = writeln!(
        o,
        "generated {} stored {} ({}) duplicates ignored {} reconnects {} gaps {}/{} drain {} lag p50/p99/max {:.1}/{:.1}/{:.1} ms CPU {} RSS {:.1} MB",
        b.generated,
        b.stored,
        if b.stored == b.generated { "every trade once" } else { "MISSING TRADES" },
        b.duplicates_ignored,
        b.reconnects,
        b.gaps_filled,
        b.gaps_found,
        b.drained_ms.map_or("late".into(), |m| format!("{m} ms")),
        b.lag_p50_ms,
        b.lag_p99_ms,
        b.lag_max_ms,
        pct(&b.usage),
        b.usage.rss_max_mb
    );
    for h in &r.http {
        let _ = writeln!(o, "\nHTTP API: {}", h.endpoint);
        let _ = writeln!(
            o,
            "{:>11} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>6} {:>7}",
            "concurrent",
            "requests",
            "errors",
            "req/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "CPU",
            "RSS MB"
        );
        let _ = writeln!(
            o,
            "{:>11} {:>9} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>6} {:>7.1}",
            h.concurrency,
            h.requests,
            h.errors,
            h.per_sec,
            h.p50_ms,
            h.p99_ms,
            h.max_ms,
            pct(&h.usage),
            h.usage.rss_max_mb
        );
        match &h.wrk {
            Some((w, u)) => {
                let _ = writeln!(
                    o,
                    "{:>11} {:>9} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>6} {:>7.1}  (wrk -t2; server CPU only)",
                    h.concurrency, w.requests, w.errors, w.per_sec, w.p50_ms, w.p99_ms, w.max_ms, pct(u), u.rss_max_mb
                );
            }
            None => {
                let _ = writeln!(o, "(wrk not installed: no external load-generator row)");
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn wrk_output_is_read() {
        let out = "Running 5s test @ http://127.0.0.1:1/api/v1/pair
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.12ms    2.01ms 330.50ms   80.00%
    Req/Sec     1.00k   100.00     1.20k    70.00%
  Latency Distribution
     50%  812.00us
     75%    4.50ms
     90%    5.60ms
     99%    1.02s
  10021 requests in 5.00s, 50.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 3
Requests/sec:   2004.20
Transfer/sec:     10.00MB
";
        let f = parse_wrk(out).unwrap();
        assert_eq!(f.requests, 10021);
        assert_eq!(f.per_sec, 2004.2);
        assert!((f.p50_ms - 0.812).abs() < 1e-9);
        assert_eq!(f.p99_ms, 1020.0);
        assert_eq!(f.max_ms, 330.5);
        assert_eq!(f.errors, 6);
        assert_eq!(parse_wrk("wrk: command not found"), None);
    }

    #[test]
    fn cpu_ticks_are_read() {
        // rss_kb and open_fds are tested in pairdesk::procstat.
        assert!(cpu_ticks().is_some());
    }

    #[test]
    fn options_are_validated() {
        let o = BenchOptions {
            symbols: 1,
            ..BenchOptions::default()
        };
        assert!(matches!(o.validate(), Err(BenchError::Options(_))));
        let o = BenchOptions {
            symbols: 201,
            ..BenchOptions::default()
        };
        assert!(o.validate().is_err());
        assert!(BenchOptions::default().validate().is_ok());
        assert_eq!(BenchOptions::default().symbol_names()[7], "S007USDT");
    }
}
