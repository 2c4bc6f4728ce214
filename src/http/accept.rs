//! Accepting HTTP connections: caps per client address and in total, and a
//! deadline for each request head.
//!
//! `axum::serve` keeps every accepted socket for as long as the client
//! likes, so a few thousand connections that send half a request and wait
//! (slowloris) use up the process's file descriptors and nobody else gets
//! in. Here every connection first takes a [`Permit`] from a
//! [`ConnTracker`]; when the client's address or the server as a whole is
//! at its cap the socket gets a one-line `503` and is closed at once, so a
//! refusal costs the others nothing. Accepted connections are served by
//! hyper's HTTP/1.1 server with a header-read timeout
//! (`[http] header_timeout_secs`): a client must complete each request head
//! within it, counted from the connection's start or the end of the
//! previous response, so the same deadline also closes idle keep-alive
//! connections. `/ws/live` sockets, which outlive their HTTP connection,
//! take a permit from a second tracker (see [`crate::api::live`]).
//!
//! Only HTTP/1.1 is spoken: browsers use it for plain-http origins, and it
//! keeps one timeout model (h2c has its own keep-alive rules).

use axum::extract::ConnectInfo;
use axum::Router;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// Connection limits and timeouts of the HTTP server (`[http]`). A client
/// address is the peer IP; behind a reverse proxy every client shares the
/// proxy's address, so raise the per-address caps there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpLimits {
    /// Seconds a client has to send a complete request head, counted from
    /// the connection's start or the end of its previous response; so it is
    /// also how long an idle keep-alive connection is kept.
    pub header_timeout_secs: u64,
    /// Open connections (HTTP and WebSocket) in total.
    pub max_connections: usize,
    /// Open connections from one client address.
    pub max_connections_per_ip: usize,
    /// Open `/ws/live` sockets in total.
    pub max_websockets: usize,
    /// Open `/ws/live` sockets from one client address.
    pub max_websockets_per_ip: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout_secs: 10,
            max_connections: 1024,
            max_connections_per_ip: 256,
            max_websockets: 256,
            max_websockets_per_ip: 64,
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The client's address holds its maximum.
    PerClient,
    /// The server holds its maximum.
    Total,
}

/// Counts open connections per client address and in total, under caps.
#[derive(Debug)]
pub struct ConnTracker {
    max_total: usize,
    max_per_ip: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One open connection; dropping it frees the slot.
#[derive(Debug)]
pub struct Permit {
    tracker: Arc<ConnTracker>,
    ip: Option<IpAddr>,
}

impl ConnTracker {
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<ConnTracker> {
        Arc::new(ConnTracker {
            max_total,
            max_per_ip,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// A slot for a connection from `ip` (`None`: unknown, counted in the
    /// total only).
    pub fn try_acquire(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Permit, Refused> {
        let mut g = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per_ip) = &mut *g;
        if *total >= self.max_total {
            return Err(Refused::Total);
        }
        if let Some(ip) = ip {
            let n = per_ip.entry(ip).or_insert(0);
            if *n >= self.max_per_ip {
                return Err(Refused::PerClient);
            }
            *n += 1;
        }
        *total += 1;
        Ok(Permit {
            tracker: self.clone(),
            ip,
        })
    }

    /// Open connections in total.
    pub fn open(&self) -> usize {
        self.open.lock().map(|g| g.0).unwrap_or(0)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut g = self.tracker.open.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per_ip) = &mut *g;
        *total = total.saturating_sub(1);
        if let Some(ip) = self.ip {
            if let Some(n) = per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
    }
}

/// Connection figures for /metrics.
#[derive(Debug, Default)]
pub struct NetStats {
    pub accepted: AtomicU64,
    pub refused_per_client: AtomicU64,
    pub refused_total: AtomicU64,
    /// Connections closed because a request head did not arrive in time.
    pub header_timeouts: AtomicU64,
    pub ws_refused_per_client: AtomicU64,
    pub ws_refused_total: AtomicU64,
}

impl NetStats {
    pub fn count_refusal(&self, r: Refused, websocket: bool) {
        let c = match (r, websocket) {
            (Refused::PerClient, false) => &self.refused_per_client,
            (Refused::Total, false) => &self.refused_total,
            (Refused::PerClient, true) => &self.ws_refused_per_client,
            (Refused::Total, true) => &self.ws_refused_total,
        };
        c.fetch_add(1, Relaxed);
    }
}

/// What a refused socket is told before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
content-length: 84\r\nconnection: close\r\nretry-after: 1\r\n\r\n\
{\"error\":{\"code\":\"unavailable\",\"message\":\"too many open connections, retry later\"}}\n";

/// Serve `app` on `listener` under `limits` until `shutdown` resolves;
/// then stop accepting, let in-flight requests finish and return when every
/// connection has closed. Each request carries `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &HttpLimits,
    conns: Arc<ConnTracker>,
    stats: Arc<NetStats>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let header_timeout = Duration::from_secs(limits.header_timeout_secs);
    // Cancelled when accepting stops: every connection then finishes its
    // request in flight and closes; `connections` waits for the last one.
    let stop = tokio_util::sync::CancellationToken::new();
    let connections = tokio_util::task::TaskTracker::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning;
                    // connections already open keep being served.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let permit = match conns.try_acquire(Some(peer.ip())) {
            Ok(p) => p,
            Err(r) => {
                stats.count_refusal(r, false);
                tracing::debug!(peer = %peer, reason = ?r, "connection refused");
                let _ = stream.try_write(BUSY);
                drop(stream);
                continue;
            }
        };
        stats.accepted.fetch_add(1, Relaxed);
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let stats = stats.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    tower::ServiceExt::oneshot(app.clone(), req)
                },
            );
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .with_upgrades();
            tokio::pin!(conn);
            let r = tokio::select! {
                r = conn.as_mut() => r,
                _ = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.as_mut().await
                }
            };
            if let Err(e) = r {
                if e.is_timeout() {
                    stats.header_timeouts.fetch_add(1, Relaxed);
                }
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    stop.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_apply_per_client_and_in_total_and_free_on_drop() {
        let t = ConnTracker::new(3, 2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let p1 = t.try_acquire(Some(a)).unwrap();
        let _p2 = t.try_acquire(Some(a)).unwrap();
        assert_eq!(t.try_acquire(Some(a)).unwrap_err(), Refused::PerClient);
        let _p3 = t.try_acquire(Some(b)).unwrap();
        assert_eq!(t.try_acquire(Some(b)).unwrap_err(), Refused::Total);
        assert_eq!(t.open(), 3);
        drop(p1);
        assert_eq!(t.open(), 2);
        let _p4 = t.try_acquire(Some(a)).unwrap();
        assert_eq!(t.try_acquire(None).unwrap_err(), Refused::Total);
    }

    #[test]
    fn a_refusal_leaves_no_count_behind() {
        let t = ConnTracker::new(10, 1);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let p = t.try_acquire(Some(a)).unwrap();
        for _ in 0..100 {
            assert!(t.try_acquire(Some(a)).is_err());
        }
        drop(p);
        assert_eq!(t.open(), 0);
        assert!(t.open.lock().unwrap().1.is_empty());
    }

    #[test]
    fn the_busy_answer_declares_its_length() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{}",
            body.len()
        );
        serde_json::from_str::<serde_json::Value>(body).unwrap();
    }
}
