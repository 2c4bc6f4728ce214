//! Live push to the dashboard over a WebSocket (`/ws/live`).
//!
//! The server sends a small [`LiveUpdate`] at most every 25 ms while ticks
//! arrive (and a heartbeat every 2 s when the market is quiet): the status
//! line redraws from it directly, and the page refetches the pair analytics
//! (at most once a second) when new ticks have arrived. Each client reads the tick broadcast on its own
//! receiver, so a slow browser can never slow ingestion: it misses
//! notifications (counted as `lagged`), gets a coarser update rate, and is
//! disconnected only when it stops accepting messages altogether.

use crate::domain::StatusSnapshot;
use serde::{Deserialize, Serialize};

/// One push message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveUpdate {
    /// Ticks accepted since the previous message.
    pub new_ticks: u64,
    /// Exchange time of the newest tick, ms.
    pub last_ts: Option<i64>,
    /// Current push interval for this client (grows when it is slow), ms.
    pub interval_ms: u64,
    /// Notifications this client missed because it fell behind.
    pub lagged: u64,
    pub status: StatusSnapshot,
    /// Alerts fired since the previous message.
    #[serde(default)]
    pub alerts: Vec<crate::api::alerts::AlertEvent>,
}

/// 25 ms: with 250 ms every tick waited up to a quarter second for its push.
/// Measured by `pairdesk bench` up to 50 clients at 10,000 trades/s
/// (BENCHMARKS.md, Load).
pub const BASE_INTERVAL_MS: u64 = 25;
pub const MAX_INTERVAL_MS: u64 = 4000;

#[cfg(feature = "ssr")]
pub use ssr::live_ws;

#[cfg(feature = "ssr")]
mod ssr {
    use super::*;
    use crate::server::AppState;
    use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
    use axum::extract::State;
    use axum::response::Response;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::sync::broadcast::error::RecvError;

    pub async fn live_ws(State(app): State<Arc<AppState>>, ws: WebSocketUpgrade) -> Response {
        ws.on_upgrade(move |sock| session(sock, app))
    }

    async fn session(mut sock: WebSocket, app: Arc<AppState>) {
        let mut ticks = app.pipeline.subscribe();
        let mut interval_ms = BASE_INTERVAL_MS;
        let mut timer = tokio::time::interval(Duration::from_millis(interval_ms));
        let (mut pending, mut lagged, mut last_ts, mut quiet) = (0u64, 0u64, None, 0u64);
        let mut slow_sends = 0u32;
        // Alerts fired after this moment are pushed to this page.
        let mut alerts_since = crate::ingest::now_ms();
        let mut last_alert_check = tokio::time::Instant::now();
        loop {
            tokio::select! {
                t = ticks.recv() => match t {
                    Ok(t) => {
                        pending += 1;
                        last_ts = Some(t.exchange_ts);
                    }
                    Err(RecvError::Lagged(n)) => lagged += n,
                    Err(RecvError::Closed) => return,
                },
                _ = timer.tick() => {
                    quiet += interval_ms;
                    // Alerts fire at most once a bar; look for them once a second.
                    let fired = if last_alert_check.elapsed() >= Duration::from_secs(1) {
                        last_alert_check = tokio::time::Instant::now();
                        let db = app.config.db.clone();
                        let since = alerts_since;
                        tokio::task::spawn_blocking(move || crate::api::alerts::store::list_events(&db, None, Some(since), 20))
                            .await
                            .ok()
                            .and_then(|r| r.ok())
                            .unwrap_or_default()
                    } else {
                        Vec::new()
                    };
                    if let Some(newest) = fired.iter().map(|e| e.fired_ts).max() {
                        alerts_since = newest + 1;
                    }
                    if pending == 0 && fired.is_empty() && quiet < 2000 {
                        continue;
                    }
                    quiet = 0;
                    let msg = LiveUpdate { new_ticks: pending, last_ts, interval_ms, lagged, status: app.status(), alerts: fired };
                    let Ok(text) = serde_json::to_string(&msg) else { return };
                    pending = 0;
                    match tokio::time::timeout(Duration::from_millis(500), sock.send(Message::Text(text.into()))).await {
                        Ok(Ok(())) => {
                            slow_sends = 0;
                            if interval_ms > BASE_INTERVAL_MS {
                                interval_ms = (interval_ms / 2).max(BASE_INTERVAL_MS);
                                timer = tokio::time::interval(Duration::from_millis(interval_ms));
                            }
                        }
                        Ok(Err(_)) => return,
                        Err(_) => {
                            // The client is not draining its socket: send less often.
                            slow_sends += 1;
                            if slow_sends >= 10 {
                                tracing::info!("live client hopelessly behind; disconnecting");
                                return;
                            }
                            interval_ms = (interval_ms * 2).min(MAX_INTERVAL_MS);
                            timer = tokio::time::interval(Duration::from_millis(interval_ms));
                        }
                    }
                }
                m = sock.recv() => match m {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => {}
                },
            }
        }
    }
}
