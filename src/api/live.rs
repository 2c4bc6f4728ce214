//! The `/ws/live` socket: one session per page over the shared frames of
//! the live hub ([`crate::services::live`]).
//!
//! Each page reads the hub's frames on its own receiver, so a slow browser
//! can never slow ingestion or the other pages: when it stops keeping up it
//! is switched to a coarser rate (its own, composed for it alone, with the
//! missed ticks folded in), the page is told so through `interval_ms` and
//! `lagged`, and it is disconnected only when it stops accepting messages
//! altogether. The status line redraws from the update directly; the page
//! refetches the pair analytics (at most once a second) when new ticks
//! have arrived.

use crate::domain::StatusSnapshot;
use crate::model::alerts::AlertEvent;
use crate::model::live::{
    LivePrice, LiveUpdate, Watch, BASE_INTERVAL_MS, MAX_INTERVAL_MS, MAX_WATCH,
};
use crate::services::live::Frame;
use crate::state::AppState;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

/// A send that takes longer than this means the page is not draining.
const SEND_TIMEOUT: Duration = Duration::from_millis(500);
/// Consecutive slow sends before a page is given up on.
const HOPELESS: u32 = 10;

/// A page only ever sends a short `{"watch":[..]}`.
const MAX_PAGE_MESSAGE: usize = 4 * 1024;

/// Upgrade to a live session, if the client's address and the server
/// are under their `/ws/live` caps (`[http] max_websockets*`); the slot
/// is held for the socket's lifetime.
pub async fn live_ws(
    State(app): State<Arc<AppState>>,
    peer: Option<axum::extract::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    ws: WebSocketUpgrade,
) -> Response {
    let ip = peer.map(|p| p.0 .0.ip());
    let permit = match app.ws_conns.try_acquire(ip) {
        Ok(p) => p,
        Err(r) => {
            app.net.count_refusal(r, true);
            tracing::warn!(peer = ?ip, reason = ?r, "live socket refused: at its cap");
            return crate::api::error::ApiError::unavailable(
                "too many live connections; close other dashboard tabs or retry later",
            )
            .into_response();
        }
    };
    ws.max_message_size(MAX_PAGE_MESSAGE)
        .max_frame_size(MAX_PAGE_MESSAGE)
        .on_upgrade(move |sock| async move {
            let _permit = permit;
            session(sock, app).await
        })
}

/// What one page has been sent, and what it is owed.
struct Page {
    interval_ms: u64,
    /// Frames this page missed since it connected.
    lagged: u64,
    last_seq: Option<u64>,
    /// `total_ticks` of the last frame accounted to this page.
    sent_total: Option<u64>,
    /// The newest frame not yet sent (coarse rate), and the alerts and
    /// newest status of the frames folded into it.
    owed: Option<Arc<Frame>>,
    owed_alerts: Vec<AlertEvent>,
    owed_status: Option<StatusSnapshot>,
    /// The newest paper lines of the folded frames.
    owed_paper: Option<Vec<crate::model::paper::PaperLine>>,
    owed_prices: HashMap<String, LivePrice>,
    /// Symbols whose newest trades this page wants (its pair).
    watch: Vec<String>,
    last_send: Instant,
    slow_sends: u32,
}

impl Page {
    /// A page that just connected: base rate, nothing sent, nothing owed.
    fn new() -> Page {
        Page {
            interval_ms: BASE_INTERVAL_MS,
            lagged: 0,
            last_seq: None,
            sent_total: None,
            owed: None,
            owed_alerts: Vec::new(),
            owed_status: None,
            owed_paper: None,
            owed_prices: HashMap::new(),
            watch: Vec::new(),
            last_send: Instant::now(),
            slow_sends: 0,
        }
    }

    /// The message for `frame`: the shared text when this page is at the
    /// base rate and saw the previous frame, else one composed for it.
    fn message(&mut self, frame: &Frame) -> Utf8Bytes {
        let contiguous = self.last_seq.is_none_or(|s| frame.seq == s + 1);
        let plain = contiguous
            && self.interval_ms == BASE_INTERVAL_MS
            && self.owed_alerts.is_empty()
            && (self.owed_status.is_none() || frame.update.status.is_some())
            && (self.owed_paper.is_none() || frame.update.paper.is_some());
        let text = if plain {
            frame.text.clone()
        } else {
            let mut alerts = std::mem::take(&mut self.owed_alerts);
            alerts.extend(frame.update.alerts.iter().cloned());
            let new_ticks = match self.sent_total {
                Some(t) => frame.total_ticks.saturating_sub(t),
                None => frame.update.new_ticks,
            };
            let msg = LiveUpdate {
                new_ticks,
                last_ts: frame.update.last_ts,
                interval_ms: self.interval_ms,
                lagged: self.lagged,
                status: frame
                    .update
                    .status
                    .clone()
                    .or_else(|| self.owed_status.take()),
                alerts,
                prices: Vec::new(),
                paper: frame
                    .update
                    .paper
                    .clone()
                    .or_else(|| self.owed_paper.take()),
            };
            serde_json::to_string(&msg)
                .map(Utf8Bytes::from)
                .unwrap_or_else(|_| frame.text.clone())
        };
        let text = self.with_prices(text, frame);
        self.owed_status = None;
        self.owed_paper = None;
        self.last_seq = Some(frame.seq);
        self.sent_total = Some(frame.total_ticks);
        text
    }

    /// The watched symbols' newest trades added to `text` (a JSON object
    /// without a `prices` key): spliced in, so a page at the base rate
    /// still shares the frame's serialization.
    fn with_prices(&mut self, text: Utf8Bytes, frame: &Frame) -> Utf8Bytes {
        let owed = std::mem::take(&mut self.owed_prices);
        let picked: Vec<&LivePrice> = self
            .watch
            .iter()
            .filter_map(|s| frame.prices.get(s).or_else(|| owed.get(s)))
            .collect();
        let body = text.as_str();
        if picked.is_empty() || !body.ends_with('}') {
            return text;
        }
        let Ok(list) = serde_json::to_string(&picked) else {
            return text;
        };
        let mut out = String::with_capacity(body.len() + list.len() + 12);
        out.push_str(&body[..body.len() - 1]);
        out.push_str(",\"prices\":");
        out.push_str(&list);
        out.push('}');
        out.into()
    }

    /// Take a page's `{"watch":[...]}`; anything else is ignored.
    fn set_watch(&mut self, text: &str) {
        if let Ok(w) = serde_json::from_str::<Watch>(text) {
            self.watch = w
                .watch
                .iter()
                .filter_map(|s| crate::domain::validate_symbol(s).ok())
                .take(MAX_WATCH)
                .collect();
        }
    }

    fn coarser(&mut self) {
        self.interval_ms = (self.interval_ms * 2).min(MAX_INTERVAL_MS);
    }
}

async fn session(mut sock: WebSocket, app: Arc<AppState>) {
    let mut frames = app.live.subscribe(&app);
    let mut page = Page::new();
    loop {
        // At the base rate every frame goes out as it comes (the hub sets
        // the pace); at a coarser rate the newest one goes out when due.
        let due = if page.interval_ms == BASE_INTERVAL_MS {
            page.last_send
        } else {
            page.last_send + Duration::from_millis(page.interval_ms)
        };
        tokio::select! {
            f = frames.recv() => match f {
                Ok(frame) => {
                    if let Some(prev) = page.owed.replace(frame) {
                        page.owed_alerts.extend(prev.update.alerts.iter().cloned());
                        if let Some(s) = &prev.update.status {
                            page.owed_status = Some(s.clone());
                        }
                        if let Some(p) = &prev.update.paper {
                            page.owed_paper = Some(p.clone());
                        }
                        for (k, v) in &prev.prices {
                            page.owed_prices.insert(k.clone(), v.clone());
                        }
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    page.lagged += n;
                    page.coarser();
                    continue;
                }
                Err(RecvError::Closed) => return,
            },
            _ = tokio::time::sleep_until(due), if page.owed.is_some() => {}
            m = sock.recv() => match m {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(Message::Text(t))) => {
                    page.set_watch(t.as_str());
                    continue;
                }
                Some(Ok(_)) => continue,
            },
        }
        if Instant::now() < due || page.owed.is_none() {
            continue;
        }
        let Some(frame) = page.owed.take() else {
            continue;
        };
        let text = page.message(&frame);
        let started = Instant::now();
        match tokio::time::timeout(SEND_TIMEOUT, sock.send(Message::Text(text))).await {
            Ok(Ok(())) => {
                page.slow_sends = 0;
                // Back towards the base rate once the page keeps up easily.
                if page.interval_ms > BASE_INTERVAL_MS
                    && started.elapsed() < Duration::from_millis(page.interval_ms / 4)
                {
                    page.interval_ms = (page.interval_ms / 2).max(BASE_INTERVAL_MS);
                }
            }
            Ok(Err(_)) => return,
            Err(_) => {
                page.slow_sends += 1;
                if page.slow_sends >= HOPELESS {
                    tracing::info!("live client hopelessly behind; disconnecting");
                    return;
                }
                page.coarser();
            }
        }
        page.last_send = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64, total: u64, fresh: u64, alert: Option<i64>) -> Frame {
        let update = LiveUpdate {
            new_ticks: fresh,
            last_ts: Some(seq as i64 * 1000),
            interval_ms: BASE_INTERVAL_MS,
            lagged: 0,
            status: seq.is_multiple_of(2).then(StatusSnapshot::default),
            alerts: alert
                .map(|id| AlertEvent {
                    id,
                    rule_id: 1,
                    fired_ts: id,
                    message: format!("alert {id}"),
                })
                .into_iter()
                .collect(),
            prices: Vec::new(),
            paper: None,
        };
        let text = serde_json::to_string(&update).unwrap().into();
        let prices = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
            .iter()
            .map(|s| {
                let p = LivePrice {
                    symbol: s.to_string(),
                    price: seq as f64,
                    ts: seq as i64 * 1000,
                };
                (s.to_string(), p)
            })
            .collect();
        Frame {
            seq,
            total_ticks: total,
            update,
            text,
            prices,
        }
    }

    fn page() -> Page {
        Page::new()
    }

    fn parse(t: Utf8Bytes) -> LiveUpdate {
        serde_json::from_str(t.as_str()).unwrap()
    }

    #[test]
    fn a_page_that_keeps_up_gets_the_shared_text() {
        let mut p = page();
        let f1 = frame(1, 10, 10, None);
        let f2 = frame(2, 15, 5, None);
        assert_eq!(p.message(&f1), f1.text);
        assert_eq!(p.message(&f2), f2.text);
    }

    #[test]
    fn a_coarse_page_is_owed_every_tick_and_alert_it_skipped() {
        let mut p = page();
        let _ = p.message(&frame(1, 10, 10, None));
        // Slow: frames 2 to 4 were folded into 5, frame 2 carried an alert.
        p.coarser();
        p.lagged = 1;
        p.owed_alerts = frame(2, 14, 4, Some(7)).update.alerts;
        // Frame 3 (folded) was the last to carry a status; 5 has none.
        p.owed_status = Some(StatusSnapshot {
            ticks_stored: 3,
            ..Default::default()
        });
        let u = parse(p.message(&frame(5, 40, 6, Some(9))));
        assert_eq!(u.new_ticks, 30, "ticks of frames 2 to 5");
        assert_eq!(u.status.map(|s| s.ticks_stored), Some(3));
        assert_eq!(u.interval_ms, 2 * BASE_INTERVAL_MS);
        assert_eq!(u.lagged, 1);
        assert_eq!(u.last_ts, Some(5000));
        let ids: Vec<i64> = u.alerts.iter().map(|a| a.id).collect();
        assert_eq!(ids, vec![7, 9]);
        assert!(p.owed_alerts.is_empty());
    }

    #[test]
    fn a_gap_in_the_frames_is_never_sent_as_the_shared_text() {
        let mut p = page();
        let _ = p.message(&frame(1, 10, 10, None));
        let f3 = frame(3, 25, 5, None);
        let u = parse(p.message(&f3));
        assert_eq!(u.new_ticks, 15, "frame 2's ticks are not lost");
    }

    #[test]
    fn a_page_gets_the_prices_it_watches_and_no_others() {
        let mut p = page();
        let f1 = frame(1, 10, 10, Some(3));
        // Nothing watched: the shared text as it is.
        assert_eq!(p.message(&f1), f1.text);
        p.set_watch(r#"{"watch":["ethusdt","BTCUSDT","not a symbol"]}"#);
        assert_eq!(p.watch, ["ETHUSDT", "BTCUSDT"]);
        let mut f2 = frame(2, 20, 10, None);
        f2.prices.remove("BTCUSDT");
        // BTCUSDT's newest trade came with a frame folded into this one.
        p.owed_prices.insert(
            "BTCUSDT".into(),
            LivePrice {
                symbol: "BTCUSDT".into(),
                price: 1.5,
                ts: 1500,
            },
        );
        let u = parse(p.message(&f2));
        assert_eq!(u.new_ticks, 10);
        let got: Vec<(String, f64)> = u
            .prices
            .iter()
            .map(|x| (x.symbol.clone(), x.price))
            .collect();
        assert_eq!(
            got,
            [("ETHUSDT".to_string(), 2.0), ("BTCUSDT".to_string(), 1.5)]
        );
        // A page message that is not a watch changes nothing.
        p.set_watch("hello");
        assert_eq!(p.watch.len(), 2);
        p.set_watch(r#"{"watch":[]}"#);
        assert!(p.watch.is_empty());
    }

    #[test]
    fn the_rate_backs_off_to_a_ceiling() {
        let mut p = page();
        for _ in 0..20 {
            p.coarser();
        }
        assert_eq!(p.interval_ms, MAX_INTERVAL_MS);
    }
}
