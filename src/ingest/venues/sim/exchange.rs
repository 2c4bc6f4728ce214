//! The mock exchange: a loopback WebSocket + REST server that speaks Binance's
//! wire formats, backed by the simulated market in [`super::market`], with
//! fault injection ([`Faults`]) for the recovery tests.
//!
//! It is a real server on 127.0.0.1, so the production client, parser,
//! pipeline and writer run unchanged against it in every test and in the
//! offline demo (`--source sim`). Like a real exchange, the market trades
//! whether or not anyone is connected; tests pause it to make runs exact.
//!
//! Paths, as on Binance:
//! - `/ws/<stream>`: one raw stream, e.g. `/ws/btcusdt@trade`
//! - `/stream?streams=a@trade/b@trade`, `/public/stream?streams=...` and
//!   `/market/stream?streams=...`: combined streams wrapped in
//!   `{"stream":..,"data":..}`. With [`MockConfig::strict_routes`] a
//!   stream asked for on the wrong tier (Binance USD-M since 2026-04:
//!   `trade` and `bookTicker` on `/public`, `aggTrade` and `markPrice@1s`
//!   on `/market`) is accepted and then never sent, as Binance does.
//! - streams: `@trade`, `@aggTrade`, `@bookTicker` (with
//!   [`MockConfig::quotes`]: the simulated book, one update per trade plus
//!   size changes in between) and `@markPrice@1s` (each second: the mid as
//!   mark, an index a little below, a funding rate that drifts per symbol).
//!   `{"method":"SUBSCRIBE",...}` is answered and (re)starts the streams.
//! - `GET /fapi/v1/fundingRate`: settled funding every 8 hours, from the
//!   same rate model as the mark price stream
//! - `GET /fapi/v1/aggTrades`, `/api/v3/aggTrades`: recent trades by `fromId`,
//!   or by `startTime` and `endTime` (at most an hour apart, as on Binance)
//!
//! With [`MockConfig::history_from`] the market starts trading in the past:
//! the trades up to now are generated at once, from the same model and
//! seed as the live stream that follows, and handed over in time order by
//! [`MockExchange::take_history`] (the simulated market's history on start).

use super::market::SimMarket;
use crate::domain::{MarkPrice, Quote, Tick};
use crate::ingest::event::{DataKind, StreamKind};
use crate::ingest::now_ms;
use crate::ingest::venues::binance::parse::{book_ticker_frame, mark_price_frame};
use crate::ingest::venues::binance::Binance;
use crate::ingest::venues::Routes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// How the mock is set up.
#[derive(Debug, Clone)]
pub struct MockConfig {
    pub symbols: Vec<String>,
    pub seed: u64,
    /// Multiplies every symbol's trade rate.
    pub rate_scale: f64,
    /// Keep every generated trade in memory (tests compare against it).
    pub journal: bool,
    /// Start generating trades immediately.
    pub autostart: bool,
    /// Send `X":"MARKET"` like USD-M futures (true) or spot frames (false).
    pub futures: bool,
    /// Trades kept per symbol for REST backfill.
    pub rest_depth: usize,
    /// Bursty arrivals: the rate jumps by a factor for part of every period.
    pub bursts: Option<Bursts>,
    /// History on start: the market trades from this wall-clock ms (in the
    /// past) instead of from now; see [`MockExchange::take_history`].
    pub history_from: Option<i64>,
    /// Symbols that continue a stored history: ids, price and time go on
    /// from their last stored trade instead of starting afresh.
    pub resume: Vec<SimResume>,
    /// Generate the book: size updates per second per symbol between
    /// trades (times `rate_scale`); `None` serves no quotes.
    pub quotes: Option<f64>,
    /// Serve each stream kind only on its Binance USD-M tier.
    pub strict_routes: bool,
}

/// Where a symbol's stored history ended.
#[derive(Debug, Clone, PartialEq)]
pub struct SimResume {
    pub symbol: String,
    pub last_id: i64,
    pub last_price: f64,
    pub last_ts: i64,
}

/// Market time generated per history chunk.
const HISTORY_CHUNK_MS: i64 = 60_000;

/// A burst regime for load tests: for the first `burst_ms` of every
/// `period_ms` the arrival rate is `factor` times the base rate; with
/// `drop_mid_burst` the connection is dropped halfway through each burst,
/// when a reconnect and its backfill hurt most.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bursts {
    pub period_ms: u64,
    pub burst_ms: u64,
    pub factor: f64,
    pub drop_mid_burst: bool,
}

impl Bursts {
    /// (in a burst, at its midpoint) for a time since the market started.
    fn phase(&self, since_ms: u64) -> (bool, bool) {
        let into = since_ms % self.period_ms.max(1);
        (into < self.burst_ms, into >= self.burst_ms / 2)
    }
}

impl MockConfig {
    pub fn new(symbols: &[String]) -> Self {
        MockConfig {
            symbols: symbols.to_vec(),
            seed: 42,
            rate_scale: 1.0,
            journal: false,
            autostart: true,
            futures: true,
            rest_depth: 100_000,
            bursts: None,
            history_from: None,
            resume: Vec::new(),
            quotes: None,
            strict_routes: false,
        }
    }
}

/// A stream stops sending until the client resubscribes on the same
/// connection, or until it reconnects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mute {
    UntilResubscribe,
    UntilReconnect,
}

/// What the generator publishes each step.
#[derive(Debug, Default)]
struct Batch {
    trades: Vec<Tick>,
    quotes: Vec<Quote>,
    marks: Vec<MarkPrice>,
}

/// The simulated funding rate of `symbol` at `ts`: a per-symbol level
/// (from -1 to +3 bp per 8 h) plus a slow daily swing, so pairs carry
/// different funding and its sign can flip.
pub fn sim_funding_rate(symbol: &str, ts: i64) -> f64 {
    let h = symbol
        .bytes()
        .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
    let level = -1.0e-4 + (h % 400) as f64 * 1.0e-6;
    let swing = 0.5e-4 * (ts as f64 / 86_400_000.0 * std::f64::consts::TAU).sin();
    ((level + swing) * 1e8).round() / 1e8
}

/// Funding settles every 8 hours, at 00:00, 08:00 and 16:00 UTC.
pub const FUNDING_EVERY_MS: i64 = 8 * 3_600_000;

/// Scripted faults. Each is consumed by the next connection(s) that see it,
/// so a test arms one and then watches the client recover.
#[derive(Debug, Default)]
pub struct Faults {
    /// Close the TCP connection (FIN) without a close frame.
    pub drop_connection: AtomicBool,
    /// Reset the TCP connection (RST, as a crashed peer or a middlebox does).
    pub reset_connection: AtomicBool,
    /// Send the first bytes of a frame, then nothing at all (pongs neither),
    /// socket left open until the client gives up on it.
    pub half_frame: AtomicBool,
    /// Go silent (keep the socket open, send nothing, answer no ping) for
    /// this many ms.
    pub stall_ms: AtomicU64,
    /// Answer this many WebSocket handshakes with 429 and a `Retry-After`
    /// of `throttle_retry_after_s` seconds.
    pub throttle_ws: AtomicU64,
    /// Answer this many REST requests with 429 likewise.
    pub throttle_rest: AtomicU64,
    pub throttle_retry_after_s: AtomicU64,
    /// Pings received from clients (the mock answers each with a pong, as
    /// tungstenite and Binance do).
    pub pings_seen: AtomicU64,
    /// Send this many frames that are not valid JSON.
    pub malformed: AtomicU64,
    /// Send this many frames larger than any real trade frame.
    pub oversized: AtomicU64,
    /// Send `{"e":"serverShutdown"}`, then close after `shutdown_grace_ms`.
    pub server_shutdown: AtomicBool,
    pub shutdown_grace_ms: AtomicU64,
    /// Skip sending this many trades (they exist and are served over REST).
    pub skip_trades: AtomicU64,
    /// Refuse WebSocket upgrades until this wall-clock ms.
    pub refuse_until_ms: std::sync::atomic::AtomicI64,
    /// Send a ping now; pongs with the right payload are counted.
    pub ping_now: AtomicBool,
    pub pongs_ok: AtomicU64,
    pub refused: AtomicU64,
    /// Connection faults (drop, reset, stall, half frame, malformed,
    /// oversized, shutdown) hit only connections carrying this kind;
    /// `None`: whichever connection sees them first.
    pub target: Mutex<Option<StreamKind>>,
    /// The next connection carrying this kind (or the one carrying it now)
    /// stops sending it, until the given remedy.
    pub mute: Mutex<Option<(StreamKind, Mute)>>,
    /// Skip sending this many quotes (update ids jump; nothing re-sends them).
    pub skip_quotes: AtomicU64,
    /// Quote and mark frames written to a socket.
    pub quotes_sent: AtomicU64,
    pub marks_sent: AtomicU64,
    /// SUBSCRIBE requests answered.
    pub subscribes: AtomicU64,
    /// Answer this many `exchangeInfo` requests with a filter whose
    /// `stepSize` is not a decimal.
    pub bad_filters: AtomicU64,
}

/// Per-connection switches the serving code flips to misbehave below the
/// WebSocket layer, where axum's socket cannot reach: reset instead of
/// close, or write raw bytes and then swallow everything.
#[derive(Debug, Default)]
struct IoCtl {
    rst: AtomicBool,
    /// Written before the next write, after which every write is
    /// swallowed (reported as done, never sent).
    inject: Mutex<Option<Vec<u8>>>,
    black_hole: AtomicBool,
}

/// A TCP connection of the mock, with its [`IoCtl`].
struct FaultIo {
    tcp: tokio::net::TcpStream,
    ctl: Arc<IoCtl>,
}

impl tokio::io::AsyncRead for FaultIo {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for FaultIo {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::task::Poll;
        let pending = self.ctl.inject.lock().ok().and_then(|mut i| i.take());
        if let Some(mut raw) = pending {
            while !raw.is_empty() {
                match std::pin::Pin::new(&mut self.tcp).poll_write(cx, &raw) {
                    Poll::Ready(Ok(n)) => {
                        raw.drain(..n);
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        if let Ok(mut i) = self.ctl.inject.lock() {
                            *i = Some(raw);
                        }
                        return Poll::Pending;
                    }
                }
            }
            self.ctl.black_hole.store(true, Relaxed);
        }
        if self.ctl.black_hole.load(Relaxed) {
            return Poll::Ready(Ok(buf.len()));
        }
        std::pin::Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.ctl.black_hole.load(Relaxed) {
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.ctl.black_hole.load(Relaxed) {
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

impl Drop for FaultIo {
    fn drop(&mut self) {
        if self.ctl.rst.load(Relaxed) {
            // Closing with a zero linger sends RST instead of FIN.
            let _ = self.tcp.set_zero_linger();
        } else {
            // Closing with unread bytes (the client's pings) would also
            // send RST; read them first so a plain drop is a clean FIN.
            let mut sink = [0u8; 4096];
            while matches!(self.tcp.try_read(&mut sink), Ok(n) if n > 0) {}
        }
    }
}

/// The mock's listener: plain TCP, each connection wrapped in a [`FaultIo`].
struct FaultListener(tokio::net::TcpListener);

impl axum::serve::Listener for FaultListener {
    type Io = FaultIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (FaultIo, SocketAddr) {
        loop {
            match self.0.accept().await {
                Ok((tcp, addr)) => {
                    let _ = tcp.set_nodelay(true);
                    let ctl = Arc::new(IoCtl::default());
                    return (FaultIo { tcp, ctl }, addr);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "mock: accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// A request's connection switches, as axum connect info.
#[derive(Clone)]
struct Peer(Arc<IoCtl>);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, FaultListener>>
    for Peer
{
    fn connect_info(s: axum::serve::IncomingStream<'_, FaultListener>) -> Peer {
        Peer(s.io().ctl.clone())
    }
}

struct Shared {
    cfg: MockConfig,
    faults: Faults,
    feed: broadcast::Sender<Arc<Batch>>,
    running: AtomicBool,
    journal: Mutex<Vec<Tick>>,
    /// With `journal`: every quote the mock wrote to a socket.
    sent_quotes: Mutex<Vec<Quote>>,
    recent: Mutex<HashMap<String, VecDeque<Tick>>>,
    generated: AtomicU64,
    connections: AtomicU64,
    stopped: AtomicBool,
    /// Symbols the market trades, and those subscribed to but not yet
    /// picked up by the generator.
    trading: Mutex<std::collections::HashSet<String>>,
    added: Mutex<Vec<String>>,
    /// Where the generator sends the history (taken by it at start).
    history_tx: Mutex<Option<mpsc::Sender<Vec<Tick>>>>,
}

impl Shared {
    /// Count, journal and keep for REST the trades just generated.
    fn record(&self, trades: &[Tick]) {
        self.generated.fetch_add(trades.len() as u64, Relaxed);
        if self.cfg.journal {
            if let Ok(mut j) = self.journal.lock() {
                j.extend(trades.iter().cloned());
            }
        }
        if let Ok(mut r) = self.recent.lock() {
            for x in trades {
                let q = r.entry(x.symbol.clone()).or_default();
                q.push_back(x.clone());
                if q.len() > self.cfg.rest_depth {
                    q.pop_front();
                }
            }
        }
    }

    /// A subscription to a symbol the market does not trade starts it.
    fn ensure_trading(&self, streams: &[(String, StreamKind)]) {
        let (Ok(mut trading), Ok(mut added)) = (self.trading.lock(), self.added.lock()) else {
            return;
        };
        for (s, _) in streams {
            if trading.insert(s.clone()) {
                added.push(s.clone());
            }
        }
    }
}

/// A running mock exchange; dropping it stops the server.
pub struct MockExchange {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    history_rx: Mutex<Option<mpsc::Receiver<Vec<Tick>>>>,
    _stop: oneshot::Sender<()>,
}

impl MockExchange {
    /// Bind 127.0.0.1 on an ephemeral port and start serving.
    pub async fn start(cfg: MockConfig) -> std::io::Result<MockExchange> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (feed, _) = broadcast::channel(4096);
        let cfg_symbols = cfg.symbols.clone();
        // Small: the generator waits for the store to take each chunk.
        let (history_tx, history_rx) = match cfg.history_from {
            Some(_) => {
                let (tx, rx) = mpsc::channel(4);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let shared = Arc::new(Shared {
            running: AtomicBool::new(cfg.autostart),
            cfg,
            faults: Faults::default(),
            feed,
            journal: Mutex::new(Vec::new()),
            sent_quotes: Mutex::new(Vec::new()),
            recent: Mutex::new(HashMap::new()),
            generated: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            trading: Mutex::new(cfg_symbols.iter().cloned().collect()),
            added: Mutex::new(Vec::new()),
            history_tx: Mutex::new(history_tx),
        });
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = Router::new()
            .route("/ws/{stream}", get(ws_raw))
            .route("/stream", get(ws_combined))
            .route("/market/stream", get(ws_market))
            .route("/public/stream", get(ws_public))
            .route("/fapi/v1/fundingRate", get(rest_funding))
            .route("/fapi/v1/aggTrades", get(rest_agg_trades))
            .route("/api/v3/aggTrades", get(rest_agg_trades))
            .route("/fapi/v1/historicalTrades", get(rest_historical_trades))
            .route("/api/v3/historicalTrades", get(rest_historical_trades))
            .route("/fapi/v1/exchangeInfo", get(rest_exchange_info))
            .route("/api/v3/exchangeInfo", get(rest_exchange_info))
            .with_state(shared.clone());
        let gen_shared = shared.clone();
        tokio::spawn(generate(gen_shared));
        tokio::spawn(async move {
            let serve = axum::serve(
                FaultListener(listener),
                app.into_make_service_with_connect_info::<Peer>(),
            )
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "mock exchange stopped");
            }
        });
        tracing::info!(%addr, "mock exchange listening");
        Ok(MockExchange {
            addr,
            shared,
            history_rx: Mutex::new(history_rx),
            _stop: stop_tx,
        })
    }

    /// `ws://127.0.0.1:port`, the base a client appends its path to.
    pub fn ws_base(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn http_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn resume(&self) {
        self.shared.running.store(true, Relaxed);
    }

    pub fn pause(&self) {
        self.shared.running.store(false, Relaxed);
    }

    /// Trades generated so far.
    pub fn generated(&self) -> u64 {
        self.shared.generated.load(Relaxed)
    }

    /// The fault script; arm a fault by storing into it.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Relaxed)
    }

    /// The history on start (with [`MockConfig::history_from`]): chunks of
    /// trades in time order, each a minute of market time, ending where the
    /// live stream begins; the channel closes after the last. Taken once.
    /// The generator waits while chunks are not taken, and the live stream
    /// starts only after the history, so a taker must drain it (or drop it).
    pub fn take_history(&self) -> Option<mpsc::Receiver<Vec<Tick>>> {
        self.history_rx.lock().ok().and_then(|mut r| r.take())
    }

    /// Every generated trade (needs `journal: true`).
    /// Every quote written to a socket (with `journal`), in send order.
    pub fn sent_quotes(&self) -> Vec<Quote> {
        self.shared
            .sent_quotes
            .lock()
            .map(|j| j.clone())
            .unwrap_or_default()
    }

    pub fn journal(&self) -> Vec<Tick> {
        self.shared
            .journal
            .lock()
            .map(|j| j.clone())
            .unwrap_or_default()
    }
}

impl Drop for MockExchange {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Relaxed);
    }
}

/// The market clock: every 10 ms of wall time, emit the trades that happened.
async fn generate(shared: Arc<Shared>) {
    let now = now_ms();
    let start = shared.cfg.history_from.map_or(now, |h| h.min(now));
    let mut market = SimMarket::new(
        &shared.cfg.symbols,
        shared.cfg.seed,
        start,
        shared.cfg.rate_scale,
    );
    if let Some(rate) = shared.cfg.quotes {
        market = market.with_quotes(rate);
    }
    for r in &shared.cfg.resume {
        market.resume(&r.symbol, r.last_id, r.last_price, r.last_ts.max(start));
    }
    // History: the past up to `now`, a minute of market time per chunk.
    let mut history = shared.history_tx.lock().ok().and_then(|mut t| t.take());
    let mut at = start;
    while at < now {
        at = (at + HISTORY_CHUNK_MS).min(now);
        let chunk = market.advance(at);
        // History on start is trades only: Binance keeps no book history.
        let _ = market.take_quotes();
        shared.record(&chunk);
        if let Some(tx) = &history {
            // A taker that went away: keep generating (the market must
            // still reach now), just stop sending.
            if !chunk.is_empty() && tx.send(chunk).await.is_err() {
                history = None;
            }
        }
        if shared.stopped.load(Relaxed) {
            return;
        }
    }
    drop(history);
    let mut clock = tokio::time::interval(Duration::from_millis(10));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut paused_at: Option<i64> = None;
    let mut offset = 0i64;
    // Index of the burst whose mid-burst disconnect has been scripted.
    let mut dropped_in: Option<u64> = None;
    let mut next_mark = (now_ms() / 1000 + 1) * 1000;
    loop {
        clock.tick().await;
        if shared.stopped.load(Relaxed) {
            return;
        }
        let t = now_ms();
        if !shared.running.load(Relaxed) {
            paused_at.get_or_insert(t);
            continue;
        }
        // Time stands still while paused, so no burst follows a resume.
        if let Some(p) = paused_at.take() {
            offset += t - p;
        }
        if let Some(b) = shared.cfg.bursts {
            let since = (t - offset - now).max(0) as u64;
            let (bursting, past_mid) = b.phase(since);
            let scale = shared.cfg.rate_scale * if bursting { b.factor } else { 1.0 };
            market.set_rate_scale(scale, t - offset);
            let burst = since / b.period_ms.max(1);
            if b.drop_mid_burst && bursting && past_mid && dropped_in != Some(burst) {
                dropped_in = Some(burst);
                shared.faults.drop_connection.store(true, Relaxed);
            }
        }
        let added = shared
            .added
            .lock()
            .map(|mut a| std::mem::take(&mut *a))
            .unwrap_or_default();
        for s in added {
            market.add_symbol(&s, t - offset);
        }
        let trades = market.advance(t - offset);
        let quotes: Vec<Quote> = market
            .take_quotes()
            .into_iter()
            .map(|mut q| {
                q.ts += offset;
                q
            })
            .collect();
        let mut marks = Vec::new();
        if shared.cfg.quotes.is_some() && t >= next_mark {
            next_mark = (t / 1000 + 1) * 1000;
            let symbols: Vec<String> = market.specs().map(|s| s.name.clone()).collect();
            for sym in symbols {
                if let Some((bid, ask)) = market.top(&sym) {
                    let mark = (bid + ask) / 2.0;
                    marks.push(MarkPrice {
                        venue: crate::domain::Venue::Sim,
                        symbol: sym.clone(),
                        ts: t,
                        mark,
                        index: (mark * (1.0 - 2e-5) * 1e8).round() / 1e8,
                        funding_rate: sim_funding_rate(&sym, t),
                        next_funding_ts: (t / FUNDING_EVERY_MS + 1) * FUNDING_EVERY_MS,
                    });
                }
            }
        }
        if trades.is_empty() && quotes.is_empty() && marks.is_empty() {
            continue;
        }
        // Exchange times are wall-clock "now" for realism after any pause.
        let trades: Vec<Tick> = trades
            .into_iter()
            .map(|mut x| {
                x.exchange_ts += offset;
                x
            })
            .collect();
        shared.record(&trades);
        let _ = shared.feed.send(Arc::new(Batch {
            trades,
            quotes,
            marks,
        }));
    }
}

/// `btcusdt@trade` -> ("BTCUSDT", Trade): Binance's stream names.
fn parse_stream(s: &str) -> Option<(String, StreamKind)> {
    let (sym, kind) = s.split_once('@')?;
    Some((sym.to_ascii_uppercase(), Binance::kind_of(kind)?))
}

#[derive(Deserialize)]
struct StreamsQuery {
    streams: String,
}

/// Take one from a fault counter, if any are left.
fn take_one(n: &AtomicU64) -> bool {
    n.fetch_update(Relaxed, Relaxed, |v| v.checked_sub(1))
        .is_ok()
}

/// 429 with a `Retry-After`, as Binance answers a client over its limits.
fn throttled(f: &Faults) -> Response {
    let secs = f.throttle_retry_after_s.load(Relaxed);
    (
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        [(axum::http::header::RETRY_AFTER, secs.to_string())],
        Json(serde_json::json!({"code": -1003, "msg": "Too many requests."})),
    )
        .into_response()
}

fn refusing(shared: &Shared) -> Option<Response> {
    if take_one(&shared.faults.throttle_ws) {
        shared.faults.refused.fetch_add(1, Relaxed);
        return Some(throttled(&shared.faults));
    }
    if now_ms() < shared.faults.refuse_until_ms.load(Relaxed) {
        shared.faults.refused.fetch_add(1, Relaxed);
        return Some(
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "mock: refusing connections",
            )
                .into_response(),
        );
    }
    None
}

async fn ws_raw(
    ws: WebSocketUpgrade,
    Path(stream): Path<String>,
    State(shared): State<Arc<Shared>>,
    ConnectInfo(Peer(ctl)): ConnectInfo<Peer>,
) -> Response {
    if let Some(r) = refusing(&shared) {
        return r;
    }
    match parse_stream(&stream) {
        Some(s) => {
            shared.ensure_trading(std::slice::from_ref(&s));
            ws.on_upgrade(move |sock| serve_socket(sock, ctl, shared, vec![s], Vec::new(), false))
        }
        None => (axum::http::StatusCode::BAD_REQUEST, "unknown stream").into_response(),
    }
}

async fn ws_combined(
    ws: WebSocketUpgrade,
    q: Query<StreamsQuery>,
    shared: State<Arc<Shared>>,
    peer: ConnectInfo<Peer>,
) -> Response {
    combined(ws, q, shared, peer, "").await
}

async fn ws_market(
    ws: WebSocketUpgrade,
    q: Query<StreamsQuery>,
    shared: State<Arc<Shared>>,
    peer: ConnectInfo<Peer>,
) -> Response {
    combined(ws, q, shared, peer, "/market").await
}

async fn ws_public(
    ws: WebSocketUpgrade,
    q: Query<StreamsQuery>,
    shared: State<Arc<Shared>>,
    peer: ConnectInfo<Peer>,
) -> Response {
    combined(ws, q, shared, peer, "/public").await
}

async fn combined(
    ws: WebSocketUpgrade,
    Query(q): Query<StreamsQuery>,
    State(shared): State<Arc<Shared>>,
    ConnectInfo(Peer(ctl)): ConnectInfo<Peer>,
    tier: &'static str,
) -> Response {
    if let Some(r) = refusing(&shared) {
        return r;
    }
    let streams: Option<Vec<_>> = q.streams.split('/').map(parse_stream).collect();
    match streams {
        Some(s) if !s.is_empty() => {
            shared.ensure_trading(&s);
            // Strict routing: what the wrong tier is asked for is
            // acknowledged (the upgrade succeeds) and never sent.
            let routes = Routes::default();
            let misrouted: Vec<(String, StreamKind)> = if shared.cfg.strict_routes {
                s.iter()
                    .filter(|(_, k)| routes.path(*k) != tier)
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            ws.on_upgrade(move |sock| serve_socket(sock, ctl, shared, s, misrouted, true))
        }
        _ => (axum::http::StatusCode::BAD_REQUEST, "unknown stream").into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FundingQuery {
    symbol: String,
    start_time: Option<i64>,
    end_time: Option<i64>,
    limit: Option<usize>,
}

/// Binance's `fundingRate`: the settlements in `[startTime, endTime]`,
/// oldest first, at most `limit` (default 100, at most 1000); without
/// times, the most recent `limit`.
async fn rest_funding(
    Query(q): Query<FundingQuery>,
    State(shared): State<Arc<Shared>>,
) -> Response {
    if take_one(&shared.faults.throttle_rest) {
        return throttled(&shared.faults);
    }
    let sym = q.symbol.to_ascii_uppercase();
    let known = shared
        .trading
        .lock()
        .map(|t| t.contains(&sym))
        .unwrap_or(false);
    if !known {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"code": -1121, "msg": "Invalid symbol."})),
        )
            .into_response();
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000) as i64;
    let now = now_ms();
    let end = q.end_time.unwrap_or(now).min(now);
    let start = q
        .start_time
        .unwrap_or(end - limit * FUNDING_EVERY_MS)
        .max(end - 1000 * FUNDING_EVERY_MS);
    let first = (start + FUNDING_EVERY_MS - 1).div_euclid(FUNDING_EVERY_MS);
    let rows: Vec<serde_json::Value> = (first..)
        .map(|k| k * FUNDING_EVERY_MS)
        .take_while(|ts| *ts <= end)
        .take(limit as usize)
        .map(|ts| {
            serde_json::json!({
                "symbol": sym,
                "fundingRate": format!("{:.8}", sim_funding_rate(&sym, ts)),
                "fundingTime": ts,
                "markPrice": "0",
            })
        })
        .collect();
    Json(rows).into_response()
}

#[derive(Deserialize)]
struct ExchangeInfoQuery {
    symbol: Option<String>,
}

/// Quote assets the mock "lists" pairs in, so an unknown symbol can be
/// told apart from a listed one as on the real exchange.
const MOCK_QUOTES: [&str; 5] = ["USDT", "USDC", "FDUSD", "BTC", "ETH"];

/// Binance's `exchangeInfo?symbol=`: the symbol's entry, or Binance's
/// 400 `{"code":-1121,"msg":"Invalid symbol."}`.
async fn rest_exchange_info(
    Query(q): Query<ExchangeInfoQuery>,
    State(shared): State<Arc<Shared>>,
) -> Response {
    if take_one(&shared.faults.throttle_rest) {
        return throttled(&shared.faults);
    }
    let Some(sym) = q.symbol else {
        return Json(serde_json::json!({ "symbols": [] })).into_response();
    };
    let listed = MOCK_QUOTES
        .iter()
        .any(|quote| sym.len() > quote.len() && sym.ends_with(quote))
        && sym
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if listed {
        // The filters USD-M sends, as decimal strings, from the simulated
        // market's own tick and lot.
        let spec = super::market::SimSpec::for_symbol(&sym);
        let bad = take_one(&shared.faults.bad_filters);
        let dec = |x: f64| {
            if bad {
                "0.0.1".to_string()
            } else {
                format!("{x}")
            }
        };
        Json(serde_json::json!({
            "symbols": [{ "symbol": sym, "status": "TRADING", "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": dec(spec.tick), "maxPrice": "4529764",
                 "tickSize": dec(spec.tick)},
                {"filterType": "LOT_SIZE", "stepSize": dec(spec.lot), "maxQty": "1000",
                 "minQty": dec(spec.lot)},
                {"filterType": "MARKET_LOT_SIZE", "stepSize": dec(spec.lot), "maxQty": "120",
                 "minQty": dec(spec.lot)},
                {"filterType": "MIN_NOTIONAL", "notional": "5"}
            ]}]
        }))
        .into_response()
    } else {
        (
            axum::http::StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "code": -1121, "msg": "Invalid symbol." })),
        )
            .into_response()
    }
}

/// Render one trade as the exchange would.
fn frame(t: &Tick, kind: DataKind, futures: bool, combined: bool) -> String {
    let m = t.side == crate::domain::Side::Sell;
    let body = match kind {
        DataKind::Trade if futures => format!(
            r#"{{"e":"trade","E":{},"T":{},"s":"{}","t":{},"p":"{}","q":"{}","X":"MARKET","m":{}}}"#,
            t.exchange_ts, t.exchange_ts, t.symbol, t.trade_id, t.price, t.qty, m
        ),
        DataKind::Trade => format!(
            r#"{{"e":"trade","E":{},"s":"{}","t":{},"p":"{}","q":"{}","T":{},"m":{},"M":true}}"#,
            t.exchange_ts, t.symbol, t.trade_id, t.price, t.qty, t.exchange_ts, m
        ),
        DataKind::AggTrade => format!(
            r#"{{"e":"aggTrade","E":{},"s":"{}","a":{},"p":"{}","q":"{}","f":{},"l":{},"T":{},"m":{}}}"#,
            t.exchange_ts,
            t.symbol,
            t.trade_id,
            t.price,
            t.qty,
            t.trade_id,
            t.trade_id,
            t.exchange_ts,
            m
        ),
    };
    wrap(t, StreamKind::Trades(kind), body, combined)
}

/// In the combined-stream envelope, or bare.
fn wrap(symbol_of: &impl HasSymbol, kind: StreamKind, body: String, combined: bool) -> String {
    let t = symbol_of;
    if combined {
        let stream = Binance::suffix(kind);
        format!(
            r#"{{"stream":"{}@{}","data":{}}}"#,
            t.symbol().to_ascii_lowercase(),
            stream,
            body
        )
    } else {
        body
    }
}

trait HasSymbol {
    fn symbol(&self) -> &str;
}

impl HasSymbol for Tick {
    fn symbol(&self) -> &str {
        &self.symbol
    }
}

impl HasSymbol for Quote {
    fn symbol(&self) -> &str {
        &self.symbol
    }
}

impl HasSymbol for MarkPrice {
    fn symbol(&self) -> &str {
        &self.symbol
    }
}

/// The first bytes of a combined-stream text frame that announces 256
/// bytes of payload: a reader waits for the rest, which never comes.
const HALF_FRAME: &[u8] = b"\x81\x7e\x01\x00{\"stream\":\"btcusdt@trade\",\"da";

/// One connection's streams: what it asked for, less what is muted.
struct Wanted {
    /// Trade kind per symbol.
    trades: HashMap<String, DataKind>,
    book: std::collections::HashSet<String>,
    mark: std::collections::HashSet<String>,
    /// Asked for but not sent (misrouted, or muted by a fault).
    muted: std::collections::HashSet<(String, StreamKind)>,
    /// Muted until a SUBSCRIBE for the stream (else until reconnect).
    mute_until_resubscribe: bool,
}

impl Wanted {
    fn new(streams: Vec<(String, StreamKind)>, misrouted: Vec<(String, StreamKind)>) -> Wanted {
        let mut w = Wanted {
            trades: HashMap::new(),
            book: Default::default(),
            mark: Default::default(),
            muted: misrouted.into_iter().collect(),
            mute_until_resubscribe: false,
        };
        for s in streams {
            w.add(s);
        }
        w
    }

    fn add(&mut self, (sym, kind): (String, StreamKind)) {
        match kind {
            StreamKind::Trades(k) => {
                self.trades.insert(sym, k);
            }
            StreamKind::Book => {
                self.book.insert(sym);
            }
            StreamKind::Mark => {
                self.mark.insert(sym);
            }
        }
    }

    fn carries(&self, kind: StreamKind) -> bool {
        match kind {
            StreamKind::Trades(k) => self.trades.values().any(|x| *x == k),
            StreamKind::Book => !self.book.is_empty(),
            StreamKind::Mark => !self.mark.is_empty(),
        }
    }

    fn sends(&self, sym: &str, kind: StreamKind) -> bool {
        !self.muted.contains(&(sym.to_string(), kind))
    }

    /// Mute every stream of `kind` on this connection.
    fn mute(&mut self, kind: StreamKind, until: Mute) {
        let syms: Vec<String> = match kind {
            StreamKind::Trades(k) => self
                .trades
                .iter()
                .filter(|(_, x)| **x == k)
                .map(|(s, _)| s.clone())
                .collect(),
            StreamKind::Book => self.book.iter().cloned().collect(),
            StreamKind::Mark => self.mark.iter().cloned().collect(),
        };
        self.muted.extend(syms.into_iter().map(|s| (s, kind)));
        self.mute_until_resubscribe = until == Mute::UntilResubscribe;
    }
}

/// A faulted connection fault may hit this connection.
fn targets(f: &Faults, wanted: &Wanted) -> bool {
    match f.target.lock().ok().and_then(|t| *t) {
        None => true,
        Some(k) => wanted.carries(k),
    }
}

/// `{"method":"SUBSCRIBE","params":[...],"id":N}` from a client: the
/// streams it names, and the id to answer with.
fn parse_subscribe(text: &str) -> Option<(Vec<(String, StreamKind)>, serde_json::Value)> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    if v.get("method")?.as_str()? != "SUBSCRIBE" {
        return None;
    }
    let streams = v
        .get("params")?
        .as_array()?
        .iter()
        .filter_map(|p| parse_stream(p.as_str()?))
        .collect();
    Some((
        streams,
        v.get("id").cloned().unwrap_or(serde_json::Value::Null),
    ))
}

async fn serve_socket(
    mut sock: WebSocket,
    ctl: Arc<IoCtl>,
    shared: Arc<Shared>,
    streams: Vec<(String, StreamKind)>,
    misrouted: Vec<(String, StreamKind)>,
    combined: bool,
) {
    shared.connections.fetch_add(1, Relaxed);
    let mut wanted = Wanted::new(streams, misrouted);
    let mut feed = shared.feed.subscribe();
    let mut ping = tokio::time::interval(Duration::from_secs(20));
    let mut faults = tokio::time::interval(Duration::from_millis(5));
    ping.tick().await;
    let f = &shared.faults;
    let futures = shared.cfg.futures;
    let mut closing_at: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            batch = feed.recv() => match batch {
                Ok(batch) => {
                    for t in batch.trades.iter() {
                        if let Some(kind) = wanted.trades.get(&t.symbol) {
                            if !wanted.sends(&t.symbol, StreamKind::Trades(*kind)) {
                                continue;
                            }
                            if f.skip_trades.load(Relaxed) > 0 {
                                f.skip_trades.fetch_sub(1, Relaxed);
                                continue;
                            }
                            let fr = frame(t, *kind, futures, combined);
                            if sock.send(Message::Text(fr.into())).await.is_err() {
                                return;
                            }
                        }
                    }
                    for q in batch.quotes.iter() {
                        if !wanted.book.contains(&q.symbol) || !wanted.sends(&q.symbol, StreamKind::Book) {
                            continue;
                        }
                        if take_one(&f.skip_quotes) {
                            continue;
                        }
                        let body = book_ticker_frame(q, futures);
                        let fr = wrap(q, StreamKind::Book, body, combined);
                        if sock.send(Message::Text(fr.into())).await.is_err() {
                            return;
                        }
                        f.quotes_sent.fetch_add(1, Relaxed);
                        if shared.cfg.journal {
                            if let Ok(mut j) = shared.sent_quotes.lock() {
                                j.push(q.clone());
                            }
                        }
                    }
                    for m in batch.marks.iter() {
                        if !wanted.mark.contains(&m.symbol) || !wanted.sends(&m.symbol, StreamKind::Mark) {
                            continue;
                        }
                        let fr = wrap(m, StreamKind::Mark, mark_price_frame(m), combined);
                        if sock.send(Message::Text(fr.into())).await.is_err() {
                            return;
                        }
                        f.marks_sent.fetch_add(1, Relaxed);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "mock: slow consumer disconnected");
                    let _ = sock.send(Message::Close(None)).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = ping.tick() => {
                if sock.send(Message::Ping(PING_PAYLOAD.to_vec().into())).await.is_err() {
                    return;
                }
            }
            _ = faults.tick() => {
                if closing_at.is_some_and(|t| tokio::time::Instant::now() >= t) {
                    let _ = sock.send(Message::Close(None)).await;
                    return;
                }
                let muting = f.mute.lock().ok().and_then(|mut m| {
                    m.take_if(|(k, _)| wanted.carries(*k))
                });
                if let Some((kind, until)) = muting {
                    tracing::info!(stream = %kind, ?until, "mock: muting a stream");
                    wanted.mute(kind, until);
                }
                if !targets(f, &wanted) {
                    continue;
                }
                if f.drop_connection.swap(false, Relaxed) {
                    return; // FaultIo's drop closes with FIN, no close frame
                }
                if f.reset_connection.swap(false, Relaxed) {
                    ctl.rst.store(true, Relaxed);
                    return;
                }
                if f.half_frame.swap(false, Relaxed) {
                    use futures::SinkExt;
                    if sock.flush().await.is_err() {
                        return;
                    }
                    if let Ok(mut i) = ctl.inject.lock() {
                        *i = Some(HALF_FRAME.to_vec());
                    }
                    if sock.send(Message::Ping(PING_PAYLOAD.to_vec().into())).await.is_err() {
                        return;
                    }
                }
                let stall = f.stall_ms.swap(0, Relaxed);
                if stall > 0 {
                    tokio::time::sleep(Duration::from_millis(stall)).await;
                    feed = feed.resubscribe();
                }
                while take_one(&f.malformed) {
                    if sock.send(Message::Text("{\"e\":\"trade\",\"s\":".into())).await.is_err() {
                        return;
                    }
                }
                while take_one(&f.oversized) {
                    let big = format!("{{\"e\":\"trade\",\"pad\":\"{}\"}}", "x".repeat(200_000));
                    if sock.send(Message::Text(big.into())).await.is_err() {
                        return;
                    }
                }
                if f.server_shutdown.swap(false, Relaxed) {
                    let ev = format!("{{\"e\":\"serverShutdown\",\"E\":{}}}", now_ms());
                    if sock.send(Message::Text(ev.into())).await.is_err() {
                        return;
                    }
                    let grace = f.shutdown_grace_ms.load(Relaxed).max(1);
                    closing_at = Some(tokio::time::Instant::now() + Duration::from_millis(grace));
                }
                if f.ping_now.swap(false, Relaxed)
                    && sock.send(Message::Ping(PING_PAYLOAD.to_vec().into())).await.is_err()
                {
                    return;
                }
            }
            msg = sock.recv() => match msg {
                Some(Ok(Message::Ping(_))) => {
                    f.pings_seen.fetch_add(1, Relaxed);
                }
                Some(Ok(Message::Pong(p))) => {
                    if p.as_ref() == PING_PAYLOAD {
                        f.pongs_ok.fetch_add(1, Relaxed);
                    }
                }
                Some(Ok(Message::Text(t))) => {
                    if let Some((streams, id)) = parse_subscribe(t.as_str()) {
                        f.subscribes.fetch_add(1, Relaxed);
                        for s in streams {
                            // A fault's mute lifts on resubscribe; a
                            // misrouted stream stays silent, as on Binance.
                            if wanted.mute_until_resubscribe {
                                wanted.muted.remove(&s);
                            }
                            wanted.add(s);
                        }
                        let ack = serde_json::json!({"result": null, "id": id}).to_string();
                        if sock.send(Message::Text(ack.into())).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

const PING_PAYLOAD: &[u8] = b"pairdesk-mock-ping";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AggTradesQuery {
    symbol: String,
    from_id: Option<i64>,
    /// aggTrades only: trades from this ms (Binance: with `endTime`, at
    /// most an hour apart; ignored when `fromId` is given).
    start_time: Option<i64>,
    end_time: Option<i64>,
    limit: Option<usize>,
}

/// One page of the recent-trades ring for `q`, each trade in `shape`, with
/// Binance's answers for throttling and unknown symbols. Without `fromId`
/// the page starts at `default_from(newest id, limit)`.
fn recent_page(
    q: AggTradesQuery,
    shared: &Shared,
    default_from: fn(Option<i64>, usize) -> i64,
    by_time: bool,
    shape: fn(&Tick) -> serde_json::Value,
) -> Response {
    if take_one(&shared.faults.throttle_rest) {
        return throttled(&shared.faults);
    }
    let limit = q.limit.unwrap_or(500).min(1000);
    let sym = q.symbol.to_ascii_uppercase();
    let Ok(recent) = shared.recent.lock() else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Some(trades) = recent.get(&sym) else {
        if shared.cfg.symbols.contains(&sym) {
            return Json(Vec::<serde_json::Value>::new()).into_response();
        }
        return (
            axum::http::StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"code": -1121, "msg": "Invalid symbol."})),
        )
            .into_response();
    };
    let rows: Vec<serde_json::Value> = match (q.from_id, by_time.then_some(q.start_time)) {
        (None, Some(Some(start))) => {
            let end = q.end_time.unwrap_or(i64::MAX);
            if end.saturating_sub(start) >= 3_600_000 {
                return (
                    axum::http::StatusCode::BAD_REQUEST,
                    Json(serde_json::json!({"code": -1127, "msg": "More than 1 hours between startTime and endTime."})),
                )
                    .into_response();
            }
            trades
                .iter()
                .filter(|t| t.exchange_ts >= start && t.exchange_ts <= end)
                .take(limit)
                .map(shape)
                .collect()
        }
        (from, _) => {
            let from =
                from.unwrap_or_else(|| default_from(trades.back().map(|t| t.trade_id), limit));
            trades
                .iter()
                .filter(|t| t.trade_id >= from)
                .take(limit)
                .map(shape)
                .collect()
        }
    };
    Json(rows).into_response()
}

/// Binance's `aggTrades` REST shape, served from the recent-trades ring
/// (the newest page when no `fromId` is given).
async fn rest_agg_trades(
    Query(q): Query<AggTradesQuery>,
    State(shared): State<Arc<Shared>>,
) -> Response {
    recent_page(
        q,
        &shared,
        |newest, limit| newest.map_or(0, |id| id + 1 - limit as i64),
        true,
        |t| {
            serde_json::json!({
                "a": t.trade_id, "p": t.price.to_string(), "q": t.qty.to_string(),
                "f": t.trade_id, "l": t.trade_id, "T": t.exchange_ts,
                "m": t.side == crate::domain::Side::Sell,
            })
        },
    )
}

/// Binance's `historicalTrades` REST shape (raw trade ids, from the oldest
/// kept when no `fromId` is given).
async fn rest_historical_trades(
    Query(q): Query<AggTradesQuery>,
    State(shared): State<Arc<Shared>>,
) -> Response {
    recent_page(
        q,
        &shared,
        |_, _| 0,
        false,
        |t| {
            serde_json::json!({
                "id": t.trade_id, "price": t.price.to_string(), "qty": t.qty.to_string(),
                "quoteQty": (t.price * t.qty).to_string(), "time": t.exchange_ts,
                "isBuyerMaker": t.side == crate::domain::Side::Sell, "isBestMatch": true,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_phases_follow_the_period() {
        let b = Bursts {
            period_ms: 4000,
            burst_ms: 1000,
            factor: 10.0,
            drop_mid_burst: true,
        };
        assert_eq!(b.phase(0), (true, false));
        assert_eq!(b.phase(499), (true, false));
        assert_eq!(b.phase(500), (true, true));
        assert_eq!(b.phase(999), (true, true));
        assert_eq!(b.phase(1000), (false, true));
        assert_eq!(b.phase(4000), (true, false));
        assert_eq!(b.phase(4600), (true, true));
    }
    use crate::domain::{Side, Venue};
    use crate::ingest::event::Frame;
    use crate::ingest::venues::binance::parse::parse_frame;

    #[test]
    fn mock_frames_parse_back_to_the_same_tick() {
        let t = Tick {
            venue: Venue::Sim,
            symbol: "ETHUSDT".into(),
            trade_id: 77,
            exchange_ts: 1_765_788_195_299,
            receive_ts: 0,
            price: 3139.77,
            qty: 0.054,
            side: Side::Sell,
        };
        for kind in [DataKind::Trade, DataKind::AggTrade] {
            for futures in [true, false] {
                for combined in [true, false] {
                    let f = frame(&t, kind, futures, combined);
                    match parse_frame(&f, Venue::Sim, 0).unwrap() {
                        Frame::Tick(back) => assert_eq!(back, t, "{f}"),
                        other => panic!("{other:?} from {f}"),
                    }
                }
            }
        }
    }

    #[test]
    fn streams_are_parsed_like_binance_names() {
        assert_eq!(
            parse_stream("btcusdt@trade"),
            Some(("BTCUSDT".into(), StreamKind::Trades(DataKind::Trade)))
        );
        assert_eq!(
            parse_stream("ethusdt@aggTrade"),
            Some(("ETHUSDT".into(), StreamKind::Trades(DataKind::AggTrade)))
        );
        assert_eq!(
            parse_stream("ethusdt@bookTicker"),
            Some(("ETHUSDT".into(), StreamKind::Book))
        );
        assert_eq!(
            parse_stream("ethusdt@markPrice@1s"),
            Some(("ETHUSDT".into(), StreamKind::Mark))
        );
        assert_eq!(parse_stream("ethusdt@depth"), None);
    }

    #[test]
    fn subscribe_requests_are_read_and_funding_is_signed_and_stable() {
        let (s, id) = parse_subscribe(
            r#"{"method":"SUBSCRIBE","params":["btcusdt@bookTicker","x@depth"],"id":3}"#,
        )
        .unwrap();
        assert_eq!(s, [("BTCUSDT".to_string(), StreamKind::Book)]);
        assert_eq!(id, serde_json::json!(3));
        assert!(parse_subscribe(r#"{"method":"LIST_SUBSCRIPTIONS","id":1}"#).is_none());
        let r = sim_funding_rate("BTCUSDT", 0);
        assert_eq!(r, sim_funding_rate("BTCUSDT", 0));
        assert!(r.abs() < 5e-4);
        assert_ne!(r, sim_funding_rate("ETHUSDT", 0));
    }
}
