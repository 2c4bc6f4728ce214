//! A socket source, for any venue: the client loop (connect, read frames,
//! answer the exchange's pings and send our own, judge the connection by
//! [`Liveness`], reconnect by the [`Backoff`] policy, time how long we were
//! blind) following a live symbol set, and the REST backfiller its gaps go
//! to. `serve` and the mock feed (tests, soak, bench) start it through
//! [`spawn`], so they run the same wiring; the same code talks to Binance
//! and to the mock exchange.
//!
//! Parsing and URLs are the venue adapter's ([`Exchange`]); everything
//! stateful about ticks (de-duplication, gaps) lives in the pipeline, so
//! this module only owns the life of a connection.

use crate::ingest::backfill::Backfiller;
use crate::ingest::backoff::{is_throttle, parse_retry_after, Backoff, Outcome};
use crate::ingest::event::{DataKind, Frame, StreamKind};
use crate::ingest::liveness::{BlindClock, Liveness, LivenessConfig, Verdict};
use crate::ingest::pipeline::Pipeline;
use crate::ingest::subscriptions::Subscriptions;
use crate::ingest::venues::{Exchange, Routes};
use futures::{SinkExt, StreamExt};
use rand::Rng;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub url: String,
    /// The venue's adapter: parses frames, knows its connection lifetime.
    pub exchange: &'static dyn Exchange,
    /// What this connection carries.
    pub stream: StreamKind,
    /// Pings, pong timeout and per-stream silence watchdog.
    pub liveness: LivenessConfig,
    /// Reconnect before the venue cuts us off (Binance: after 24 hours).
    pub max_lifetime: Duration,
    pub connect_timeout: Duration,
    pub backoff: Backoff,
    /// A new stream URL (symbols added while running): the client hands
    /// over to a connection with it, make-before-break.
    pub url_updates: Option<watch::Receiver<String>>,
}

impl ClientConfig {
    pub fn new(url: String, exchange: &'static dyn Exchange, stream: StreamKind) -> Self {
        ClientConfig {
            url,
            exchange,
            stream,
            liveness: LivenessConfig::default(),
            max_lifetime: exchange.max_connection_lifetime(),
            connect_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            url_updates: None,
        }
    }
}

/// A stream whose mean gap between trades is at least this long may not
/// trade again for a while after a reconnect, so its silent window is
/// fetched at once instead of when its next trade shows the gap.
const RARE_GAP: Duration = Duration::from_secs(1);

/// Why one connection ended.
enum Ended {
    Shutdown,
    Reconnect(String),
    /// A replacement connection is already open (make-before-break).
    Handover(Box<Ws>),
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Why a connection could not be opened.
#[derive(Debug)]
enum ConnectError {
    /// 429 or 418 on the handshake, with the `Retry-After` it carried.
    Throttled {
        status: u16,
        retry_after: Option<Duration>,
    },
    Other(String),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Throttled {
                status,
                retry_after,
            } => write!(f, "throttled: HTTP {status}, Retry-After {retry_after:?}"),
            ConnectError::Other(e) => f.write_str(e),
        }
    }
}

fn classify(e: tungstenite::Error) -> ConnectError {
    if let tungstenite::Error::Http(resp) = &e {
        let status = resp.status().as_u16();
        if is_throttle(status) {
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            return ConnectError::Throttled {
                status,
                retry_after,
            };
        }
    }
    ConnectError::Other(e.to_string())
}

async fn connect(cfg: &ClientConfig) -> Result<Ws, ConnectError> {
    match tokio::time::timeout(
        cfg.connect_timeout,
        tokio_tungstenite::connect_async(&cfg.url),
    )
    .await
    {
        Ok(Ok((ws, _))) => {
            // Trade frames are small and latency matters more than packets.
            if let tokio_tungstenite::MaybeTlsStream::Plain(s) = ws.get_ref() {
                let _ = s.set_nodelay(true);
            }
            Ok(ws)
        }
        Ok(Err(e)) => Err(classify(e)),
        Err(_) => Err(ConnectError::Other("connect timed out".into())),
    }
}

/// What the socket loop keeps across connections.
struct Watch {
    live: Liveness,
    blind: BlindClock,
    /// The current connection delivered data (so losing it is a drop).
    delivered: bool,
    /// Ids of the requests sent on the socket (resubscriptions).
    requests: u64,
}

/// The symbols of a combined-stream URL (`...?streams=btcusdt@x/ethusdt@x`),
/// upper case, as the parsers name them.
fn url_symbols(url: &str) -> Vec<String> {
    url.split_once("streams=")
        .map(|(_, s)| {
            s.split('/')
                .filter_map(|x| x.split_once('@'))
                .map(|(sym, _)| sym.to_ascii_uppercase())
                .collect()
        })
        .unwrap_or_default()
}

impl Watch {
    fn live_id(&mut self) -> u64 {
        self.requests += 1;
        self.requests
    }

    fn on_data(&mut self, symbol: &str, pipeline: &Pipeline, stream: StreamKind) {
        let now = Instant::now();
        pipeline.stream_message(stream, crate::ingest::now_ms());
        self.delivered = true;
        self.live.on_data(symbol, now);
        if let Some(d) = self
            .blind
            .on_data(now)
            .filter(|_| matches!(stream, StreamKind::Trades(_)))
        {
            tracing::info!(blind_ms = d.as_millis() as u64, "data flows again");
            pipeline.metrics.observe_blind(d);
        }
    }
}

/// Run until `shutdown` is cancelled, reconnecting as needed.
pub async fn run(mut cfg: ClientConfig, pipeline: Arc<Pipeline>, shutdown: CancellationToken) {
    let mut first = true;
    let mut ready: Option<Box<Ws>> = None;
    let mut limiter = crate::ingest::backoff::ConnectLimiter::default();
    let mut w = Watch {
        live: Liveness::new(cfg.liveness, Instant::now()),
        blind: BlindClock::default(),
        delivered: false,
        requests: 0,
    };
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        if !first && matches!(cfg.stream, StreamKind::Trades(_)) {
            pipeline.metrics.reconnects.fetch_add(1, Relaxed);
        }
        let handed_over = ready.is_some();
        let conn = match ready.take() {
            Some(ws) => Ok(*ws),
            None => {
                let wait = limiter.wait(Instant::now());
                if !wait.is_zero() {
                    tracing::warn!(?wait, "connection attempt limit reached; waiting");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = shutdown.cancelled() => return,
                    }
                }
                limiter.record(Instant::now());
                // The newest symbol set; an update after this point
                // triggers a handover once the session runs.
                if let Some(rx) = &mut cfg.url_updates {
                    cfg.url = rx.borrow_and_update().clone();
                }
                connect(&cfg).await
            }
        };
        let outcome = match conn {
            Ok(ws) => {
                tracing::info!(url = %cfg.url, stream = %cfg.stream, "connected");
                let trades = matches!(cfg.stream, StreamKind::Trades(_));
                if trades {
                    pipeline.metrics.connected.store(true, Relaxed);
                }
                pipeline.stream_connected(cfg.stream, true);
                w.live.start(Instant::now());
                if let Some(every) = cfg.stream.expected_interval() {
                    w.live.expect(&url_symbols(&cfg.url), every, Instant::now());
                }
                w.delivered = false;
                if !first && !handed_over && trades {
                    // A symbol that trades rarely may not show its gap for
                    // minutes; fetch what it missed now.
                    let live = &w.live;
                    pipeline.catch_up(cfg.exchange.venue(), |sym| {
                        live.mean_gap(sym).is_none_or(|g| g >= RARE_GAP)
                    });
                }
                let e = session(ws, &mut cfg, &pipeline, &shutdown, &mut w).await;
                if trades {
                    pipeline.metrics.connected.store(false, Relaxed);
                }
                pipeline.stream_connected(cfg.stream, false);
                match e {
                    Ended::Shutdown => return,
                    Ended::Handover(ws) => {
                        tracing::info!("switched to the replacement connection");
                        w.blind.on_fault();
                        ready = Some(ws);
                        first = false;
                        continue;
                    }
                    Ended::Reconnect(why) => {
                        tracing::info!(reason = %why, delivered = w.delivered, "connection lost");
                        if w.delivered {
                            Outcome::Dropped
                        } else {
                            Outcome::Failed
                        }
                    }
                }
            }
            Err(ConnectError::Throttled {
                status,
                retry_after,
            }) => {
                tracing::warn!(url = %cfg.url, status, ?retry_after, "connect throttled by the exchange");
                Outcome::Throttled { retry_after }
            }
            Err(e) => {
                tracing::warn!(url = %cfg.url, error = %e, "connect failed");
                Outcome::Failed
            }
        };
        first = false;
        w.blind.on_fault();
        let delay = cfg.backoff.after(outcome, rand::rng().random::<f64>());
        tracing::info!(
            ?outcome,
            ?delay,
            attempt = cfg.backoff.attempt(),
            "reconnecting"
        );
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// What a frame asks the session to do.
enum Next {
    Continue,
    /// The server announced it is going away (Binance: `serverShutdown`).
    Handover,
    Stop(&'static str),
}

async fn on_message(
    msg: Message,
    ws: &mut Ws,
    cfg: &ClientConfig,
    pipeline: &Pipeline,
    w: &mut Watch,
) -> Next {
    match msg {
        Message::Text(text) => {
            let now = crate::ingest::now_ms();
            match cfg.exchange.parse_frame(text.as_str(), now) {
                Ok(Frame::Tick(t)) => {
                    w.on_data(&t.symbol, pipeline, cfg.stream);
                    pipeline.ingest(vec![t]).await
                }
                Ok(Frame::Quote(q)) => {
                    w.on_data(&q.symbol, pipeline, cfg.stream);
                    pipeline.ingest_quotes(vec![q]).await
                }
                Ok(Frame::Mark(m)) => {
                    w.on_data(&m.symbol, pipeline, cfg.stream);
                    pipeline.ingest_marks(vec![m]).await
                }
                Ok(Frame::Dropped { reason, .. }) => pipeline.metrics.count_drop(reason),
                Ok(Frame::ServerShutdown) => return Next::Handover,
                Ok(Frame::Other) => {}
                Err(e) => {
                    pipeline.metrics.malformed.fetch_add(1, Relaxed);
                    tracing::warn!(error = %e, "malformed frame skipped");
                }
            }
        }
        Message::Ping(payload) => {
            if ws.send(Message::Pong(payload)).await.is_err() {
                return Next::Stop("pong failed");
            }
        }
        Message::Pong(payload) => w.live.on_pong(&payload),
        Message::Close(_) => return Next::Stop("closed by server"),
        Message::Binary(_) => {
            pipeline.metrics.malformed.fetch_add(1, Relaxed);
        }
        Message::Frame(_) => {}
    }
    Next::Continue
}

/// Open the replacement first, then drain and close the old connection; the
/// pipeline drops the overlap by trade id and backfills anything in between.
async fn hand_over(mut old: Ws, cfg: &ClientConfig, pipeline: &Pipeline, w: &mut Watch) -> Ended {
    let new = match connect(cfg).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::warn!(error = %e, "replacement connection failed");
            let _ = old.close(None).await;
            return Ended::Reconnect("handover failed".into());
        }
    };
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        match tokio::time::timeout(Duration::from_millis(200), old.next()).await {
            Ok(Some(Ok(m))) => {
                if let Next::Stop(_) = on_message(m, &mut old, cfg, pipeline, w).await {
                    break;
                }
            }
            _ => break,
        }
    }
    let _ = old.close(None).await;
    Ended::Handover(Box::new(new))
}

/// Resolves with the next URL update; never, without a source of them.
async fn next_url(updates: &mut Option<watch::Receiver<String>>) -> Option<String> {
    match updates {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(rx.borrow_and_update().clone()),
            // The sender is gone: no more updates, keep the current URL.
            Err(_) => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

async fn session(
    mut ws: Ws,
    cfg: &mut ClientConfig,
    pipeline: &Pipeline,
    shutdown: &CancellationToken,
    w: &mut Watch,
) -> Ended {
    let deadline = tokio::time::sleep(cfg.max_lifetime);
    tokio::pin!(deadline);
    // Pings and watchdogs run in this loop, not in a task of their own, so
    // a connection costs one task however it ends; one timer, moved when
    // the next deadline moves.
    let check = tokio::time::sleep_until(tokio::time::Instant::from_std(w.live.next_deadline()));
    tokio::pin!(check);
    loop {
        let at = tokio::time::Instant::from_std(w.live.next_deadline());
        if check.deadline() != at {
            check.as_mut().reset(at);
        }
        let msg = tokio::select! {
            m = ws.next() => m,
            _ = &mut check => {
                match w.live.poll(Instant::now()) {
                    Verdict::Fine => {}
                    Verdict::Ping(p) => {
                        if let Err(e) = ws.send(Message::Ping(p.into())).await {
                            tracing::warn!(error = %e, "ping failed");
                            return Ended::Reconnect("ping failed".into());
                        }
                    }
                    Verdict::Resubscribe(symbols) => {
                        let msg = cfg.exchange.subscribe_message(cfg.stream, &symbols, w.live_id());
                        tracing::warn!(stream = %cfg.stream, ?symbols, resubscribe = msg.is_some(),
                            "stream silent while the connection is healthy");
                        pipeline.stream_silent(cfg.stream, msg.is_some());
                        let sent = match msg {
                            Some(m) => ws.send(Message::Text(m.into())).await.is_ok(),
                            None => false,
                        };
                        if !sent {
                            return Ended::Reconnect(format!("watchdog: {} silent", cfg.stream));
                        }
                    }
                    Verdict::Dead(why) => {
                        tracing::warn!(reason = %why, stream = %cfg.stream, "connection judged dead");
                        if why.contains("silent") {
                            pipeline.stream_silent(cfg.stream, false);
                        }
                        return Ended::Reconnect(format!("watchdog: {why}"));
                    }
                }
                continue;
            }
            _ = shutdown.cancelled() => {
                let _ = ws.close(None).await;
                return Ended::Shutdown;
            }
            _ = &mut deadline => {
                tracing::info!("connection lifetime limit: handing over");
                return hand_over(ws, cfg, pipeline, w).await;
            }
            Some(url) = next_url(&mut cfg.url_updates) => {
                tracing::info!(%url, "subscription changed: handing over");
                cfg.url = url;
                return hand_over(ws, cfg, pipeline, w).await;
            }
        };
        let msg = match msg {
            None => return Ended::Reconnect("stream ended".into()),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "socket error");
                return Ended::Reconnect("socket error".into());
            }
            Some(Ok(m)) => m,
        };
        match on_message(msg, &mut ws, cfg, pipeline, w).await {
            Next::Continue => {}
            Next::Handover => {
                tracing::info!("server going away: handing over to a new connection");
                return hand_over(ws, cfg, pipeline, w).await;
            }
            Next::Stop(why) => return Ended::Reconnect(why.into()),
        }
    }
}

/// Where and what to stream.
#[derive(Debug, Clone)]
pub struct SocketSpec {
    pub ws_base: String,
    pub rest_base: String,
    pub routes: Routes,
    pub exchange: &'static dyn Exchange,
    pub kind: DataKind,
    pub symbols: Vec<String>,
    /// Send gaps to a REST backfiller (off: a gap stays a gap).
    pub backfill: bool,
    /// Top of book (conflated by the pipeline's rule) on a connection of
    /// its own, and mark price where the venue has one.
    pub quotes: bool,
}

/// The tasks of a running socket source.
pub struct SocketSource {
    /// The trade stream's client.
    pub client: JoinHandle<()>,
    /// The book and mark price clients, and the conflation timer.
    pub others: Vec<JoinHandle<()>>,
    pub backfill: Option<JoinHandle<()>>,
    /// The client's symbol set; adding to it hands over to a new connection.
    pub subscriptions: Subscriptions,
}

/// Spawn the client (adjusted by `tune`) and, if asked, the backfiller on
/// `tasks`, both feeding `pipeline`, until `shutdown` is cancelled.
pub fn spawn(
    spec: SocketSpec,
    pipeline: &Arc<Pipeline>,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
    tune: impl FnOnce(&mut ClientConfig),
) -> SocketSource {
    let backfill = spec.backfill.then(|| {
        let (gap_tx, gap_rx) = tokio::sync::mpsc::unbounded_channel();
        pipeline.set_gap_sink(gap_tx);
        tasks.spawn(
            Backfiller::new(spec.rest_base.clone(), spec.exchange, spec.kind).run(
                gap_rx,
                pipeline.clone(),
                shutdown.clone(),
            ),
        )
    });
    let trades = StreamKind::Trades(spec.kind);
    let mut kinds = vec![trades];
    if spec.quotes {
        kinds.extend([StreamKind::Book, StreamKind::Mark]);
    }
    let (subscriptions, url_rxs) = Subscriptions::new(
        spec.ws_base,
        spec.rest_base,
        spec.routes,
        spec.exchange,
        &kinds,
        spec.symbols,
    );
    let mut client = None;
    let mut others = Vec::new();
    let mut base: Option<ClientConfig> = None;
    let mut tune = Some(tune);
    for (kind, rx) in url_rxs {
        let mut cfg = match &base {
            Some(b) => ClientConfig {
                stream: kind,
                url: rx.borrow().clone(),
                url_updates: None,
                ..b.clone()
            },
            None => {
                let mut c = ClientConfig::new(rx.borrow().clone(), spec.exchange, kind);
                if let Some(tune) = tune.take() {
                    tune(&mut c);
                }
                base = Some(c.clone());
                c
            }
        };
        cfg.stream = kind;
        cfg.url_updates = Some(rx);
        let task = tasks.spawn(run(cfg, pipeline.clone(), shutdown.clone()));
        if kind == trades {
            client = Some(task);
        } else {
            others.push(task);
        }
    }
    if spec.quotes {
        others.push(tasks.spawn(conflation_timer(pipeline.clone(), shutdown)));
    }
    SocketSource {
        client: client.expect("every venue streams trades"),
        others,
        backfill,
        subscriptions,
    }
}

/// Store each conflation interval's last quote once the interval is over,
/// and everything pending at shutdown.
async fn conflation_timer(pipeline: Arc<Pipeline>, shutdown: CancellationToken) {
    let every = Duration::from_millis(pipeline.conflation().interval_ms.max(1) as u64);
    let mut t = tokio::time::interval(every);
    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = t.tick() => pipeline.flush_quotes(false).await,
            _ = shutdown.cancelled() => {
                pipeline.flush_quotes(true).await;
                return;
            }
        }
    }
}
