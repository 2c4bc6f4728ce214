//! The socket loop: connect, read frames, answer pings, watch for silence,
//! reconnect with backoff. The same code talks to Binance and to the mock.
//!
//! Parsing is delegated to [`super::parse`]; everything stateful about ticks
//! (de-duplication, gaps) lives in the pipeline, so this module only owns the
//! life of a connection.

use super::parse::{parse_frame, Frame};
use crate::domain::Venue;
use crate::ingest::backoff::Backoff;
use crate::ingest::pipeline::Pipeline;
use futures::{SinkExt, StreamExt};
use rand::Rng;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

/// Which trade stream to subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Trade,
    AggTrade,
}

impl StreamKind {
    pub fn suffix(self) -> &'static str {
        match self {
            StreamKind::Trade => "trade",
            StreamKind::AggTrade => "aggTrade",
        }
    }
}

/// Combined-stream URL for `symbols` on `base`. Futures aggregate trades
/// live under `/market` on the current Binance routing.
pub fn stream_url(base: &str, venue: Venue, kind: StreamKind, symbols: &[String]) -> String {
    let streams: Vec<String> = symbols
        .iter()
        .map(|s| format!("{}@{}", s.to_ascii_lowercase(), kind.suffix()))
        .collect();
    let path = match (venue, kind) {
        (Venue::BinanceFutures, StreamKind::AggTrade) => "/market/stream",
        _ => "/stream",
    };
    format!(
        "{}{}?streams={}",
        base.trim_end_matches('/'),
        path,
        streams.join("/")
    )
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub url: String,
    pub venue: Venue,
    /// No message for this long means the connection is dead.
    pub watchdog: Duration,
    /// Reconnect before Binance's 24-hour limit cuts us off.
    pub max_lifetime: Duration,
    pub connect_timeout: Duration,
    pub backoff: Backoff,
    /// A new stream URL (symbols added while running): the client hands
    /// over to a connection with it, make-before-break.
    pub url_updates: Option<watch::Receiver<String>>,
}

impl ClientConfig {
    pub fn new(url: String, venue: Venue) -> Self {
        ClientConfig {
            url,
            venue,
            watchdog: Duration::from_secs(30),
            max_lifetime: Duration::from_secs(23 * 3600 + 50 * 60),
            connect_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            url_updates: None,
        }
    }
}

/// Why one connection ended.
enum Ended {
    Shutdown,
    Reconnect(&'static str),
    /// A replacement connection is already open (make-before-break).
    Handover(Box<Ws>),
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(cfg: &ClientConfig) -> Result<Ws, String> {
    match tokio::time::timeout(
        cfg.connect_timeout,
        tokio_tungstenite::connect_async(&cfg.url),
    )
    .await
    {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("connect timed out".into()),
    }
}

/// Run until `shutdown` becomes true, reconnecting as needed.
pub async fn run(
    mut cfg: ClientConfig,
    pipeline: Arc<Pipeline>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut first = true;
    let mut ready: Option<Box<Ws>> = None;
    let mut limiter = crate::ingest::backoff::ConnectLimiter::default();
    loop {
        if *shutdown.borrow() {
            return;
        }
        if !first {
            pipeline.metrics.reconnects.fetch_add(1, Relaxed);
        }
        first = false;
        let started = Instant::now();
        let conn = match ready.take() {
            Some(ws) => Ok(*ws),
            None => {
                let wait = limiter.wait(Instant::now());
                if !wait.is_zero() {
                    tracing::warn!(?wait, "connection attempt limit reached; waiting");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = shutdown.changed() => return,
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
        let ended = match conn {
            Ok(ws) => {
                tracing::info!(url = %cfg.url, "connected");
                pipeline.metrics.connected.store(true, Relaxed);
                let e = session(ws, &mut cfg, &pipeline, &mut shutdown).await;
                pipeline.metrics.connected.store(false, Relaxed);
                e
            }
            Err(e) => {
                tracing::warn!(url = %cfg.url, error = %e, "connect failed");
                Ended::Reconnect("connect failed")
            }
        };
        match ended {
            Ended::Shutdown => return,
            Ended::Handover(ws) => {
                tracing::info!("switched to the replacement connection");
                ready = Some(ws);
            }
            Ended::Reconnect(why) => {
                cfg.backoff.on_disconnect(started.elapsed());
                let delay = cfg.backoff.next_delay(rand::rng().random::<f64>());
                tracing::info!(reason = why, ?delay, "reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}

/// What a frame asks the session to do.
enum Next {
    Continue,
    /// The server announced it is going away.
    Handover,
    Stop(&'static str),
}

async fn on_message(msg: Message, ws: &mut Ws, cfg: &ClientConfig, pipeline: &Pipeline) -> Next {
    match msg {
        Message::Text(text) => {
            let now = crate::ingest::now_ms();
            match parse_frame(text.as_str(), cfg.venue, now) {
                Ok(Frame::Tick(t)) => pipeline.ingest(vec![t]).await,
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
        Message::Close(_) => return Next::Stop("closed by server"),
        Message::Binary(_) => {
            pipeline.metrics.malformed.fetch_add(1, Relaxed);
        }
        Message::Pong(_) | Message::Frame(_) => {}
    }
    Next::Continue
}

/// Open the replacement first, then drain and close the old connection; the
/// pipeline drops the overlap by trade id and backfills anything in between.
async fn hand_over(mut old: Ws, cfg: &ClientConfig, pipeline: &Pipeline) -> Ended {
    let new = match connect(cfg).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::warn!(error = %e, "replacement connection failed");
            let _ = old.close(None).await;
            return Ended::Reconnect("handover failed");
        }
    };
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        match tokio::time::timeout(Duration::from_millis(200), old.next()).await {
            Ok(Some(Ok(m))) => {
                if let Next::Stop(_) = on_message(m, &mut old, cfg, pipeline).await {
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
    shutdown: &mut watch::Receiver<bool>,
) -> Ended {
    let deadline = tokio::time::sleep(cfg.max_lifetime);
    tokio::pin!(deadline);
    loop {
        let watchdog = cfg.watchdog;
        let msg = tokio::select! {
            m = tokio::time::timeout(watchdog, ws.next()) => m,
            _ = shutdown.changed() => {
                let _ = ws.close(None).await;
                return Ended::Shutdown;
            }
            _ = &mut deadline => {
                tracing::info!("connection lifetime limit: handing over");
                return hand_over(ws, cfg, pipeline).await;
            }
            Some(url) = next_url(&mut cfg.url_updates) => {
                tracing::info!(%url, "subscription changed: handing over");
                cfg.url = url;
                return hand_over(ws, cfg, pipeline).await;
            }
        };
        let msg = match msg {
            Err(_) => return Ended::Reconnect("watchdog: no message"),
            Ok(None) => return Ended::Reconnect("stream ended"),
            Ok(Some(Err(e))) => {
                tracing::warn!(error = %e, "socket error");
                return Ended::Reconnect("socket error");
            }
            Ok(Some(Ok(m))) => m,
        };
        match on_message(msg, &mut ws, cfg, pipeline).await {
            Next::Continue => {}
            Next::Handover => {
                tracing::info!("serverShutdown: handing over to a new connection");
                return hand_over(ws, cfg, pipeline).await;
            }
            Next::Stop(why) => return Ended::Reconnect(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_follow_binance_routing() {
        let s = vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()];
        assert_eq!(
            stream_url(
                "wss://fstream.binance.com",
                Venue::BinanceFutures,
                StreamKind::AggTrade,
                &s
            ),
            "wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade"
        );
        assert_eq!(
            stream_url(
                "wss://stream.binance.com:9443/",
                Venue::BinanceSpot,
                StreamKind::Trade,
                &s
            ),
            "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/ethusdt@trade"
        );
    }
}
