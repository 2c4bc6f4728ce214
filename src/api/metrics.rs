//! Prometheus metrics, written by hand in the text exposition format from
//! the counters the pipeline and writer already keep, plus an HTTP latency
//! histogram per route filled by [`track`].
//!
//! Routes are labelled by their pattern (`/api/v1/alerts/{id}`), never the
//! raw path, so label cardinality stays bounded whatever clients send.

use crate::http::metrics::BUCKETS;
use crate::ingest::event::DropReason;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

/// Middleware: time every request and count it by route and status.
pub async fn track(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| {
            // Unmatched: static files under /pkg and friends, or 404s.
            if req.uri().path().starts_with("/pkg/") {
                "/pkg/{file}".into()
            } else {
                "unmatched".into()
            }
        });
    let method = req.method().as_str().to_string();
    let t0 = Instant::now();
    let res = next.run(req).await;
    st.http.observe(
        &method,
        &route,
        res.status().as_u16(),
        t0.elapsed().as_secs_f64(),
    );
    res
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn one(out: &mut String, name: &str, kind: &str, help: &str, v: impl std::fmt::Display) {
    head(out, name, kind, help);
    let _ = writeln!(out, "{name} {v}");
}

/// The whole exposition.
pub fn render(st: &AppState) -> String {
    let mut o = String::with_capacity(4096);
    let m = &st.pipeline.metrics;
    let w = &st.writer_stats;
    let c = "counter";
    let g = "gauge";
    one(
        &mut o,
        "pairdesk_ticks_received_total",
        c,
        "Trades received from the source, before de-duplication.",
        m.received.load(Relaxed),
    );
    one(
        &mut o,
        "pairdesk_ticks_ingested_total",
        c,
        "Trades accepted by the pipeline (live and backfilled) and sent to the writer.",
        m.accepted.load(Relaxed),
    );
    one(
        &mut o,
        "pairdesk_ticks_stored_total",
        c,
        "Trades newly inserted into the database by this process.",
        w.inserted.load(Relaxed),
    );
    head(
        &mut o,
        "pairdesk_ticks_dropped_total",
        c,
        "Trades dropped, by reason.",
    );
    for (i, r) in DropReason::ALL.iter().enumerate() {
        let _ = writeln!(
            o,
            "pairdesk_ticks_dropped_total{{reason=\"{}\"}} {}",
            r.as_str(),
            m.dropped[i].load(Relaxed)
        );
    }
    let _ = writeln!(
        o,
        "pairdesk_ticks_dropped_total{{reason=\"malformed\"}} {}",
        m.malformed.load(Relaxed)
    );
    head(
        &mut o,
        "pairdesk_ticks_refused_total",
        c,
        "Well-formed trades refused by the plausibility limits ([tick_limits]), by reason.",
    );
    for r in crate::ingest::sanity::Refusal::ALL {
        let _ = writeln!(
            o,
            "pairdesk_ticks_refused_total{{reason=\"{}\"}} {}",
            r.as_str(),
            m.refused[r.index()].load(Relaxed)
        );
    }
    head(
        &mut o,
        "pairdesk_quotes_total",
        c,
        "Top-of-book updates received, by outcome: kept (handed to the writer), conflated, duplicate (update id not above the last), refused (outside the tick limits). received = the sum.",
    );
    for (outcome, v) in [
        ("kept", &m.quotes_kept),
        ("conflated", &m.quotes_conflated),
        ("duplicate", &m.quote_duplicates),
        ("refused", &m.quotes_refused),
    ] {
        let _ = writeln!(
            o,
            "pairdesk_quotes_total{{outcome=\"{outcome}\"}} {}",
            v.load(Relaxed)
        );
    }
    one(
        &mut o,
        "pairdesk_quotes_stored_total",
        c,
        "Quotes newly inserted into the database by this process.",
        w.quotes_inserted.load(Relaxed),
    );
    one(
        &mut o,
        "pairdesk_marks_stored_total",
        c,
        "Mark price updates newly inserted into the database by this process.",
        w.marks_inserted.load(Relaxed),
    );
    let streams = st.pipeline.stream_status();
    for (name, help, get) in [
        (
            "pairdesk_stream_connected",
            "1 while the stream's connection is open, by stream kind.",
            (|s: &crate::domain::StreamStatus| u64::from(s.connected))
                as fn(&crate::domain::StreamStatus) -> u64,
        ),
        (
            "pairdesk_stream_messages_total",
            "Data messages received, by stream kind.",
            |s| s.messages,
        ),
        (
            "pairdesk_stream_silences_total",
            "Times the stream was silent while its connection answered pings, by stream kind.",
            |s| s.silences,
        ),
        (
            "pairdesk_stream_resubscribes_total",
            "Silent streams resubscribed on their connection, by stream kind.",
            |s| s.resubscribes,
        ),
        (
            "pairdesk_stream_reconnects_total",
            "Reconnects of the stream's connection, by stream kind.",
            |s| s.reconnects,
        ),
    ] {
        let kind = if name.ends_with("_total") { c } else { g };
        head(&mut o, name, kind, help);
        for s in &streams {
            let _ = writeln!(o, "{name}{{stream=\"{}\"}} {}", esc(&s.stream), get(s));
        }
    }
    head(
        &mut o,
        "pairdesk_ticks_duplicate_total",
        c,
        "Duplicate trades skipped, by where they were caught.",
    );
    let _ = writeln!(
        o,
        "pairdesk_ticks_duplicate_total{{stage=\"pipeline\"}} {}",
        m.duplicates.load(Relaxed)
    );
    let _ = writeln!(
        o,
        "pairdesk_ticks_duplicate_total{{stage=\"store\"}} {}",
        w.duplicates.load(Relaxed)
    );
    one(
        &mut o,
        "pairdesk_source_reconnects_total",
        c,
        "Reconnections to the market source.",
        m.reconnects.load(Relaxed),
    );
    one(
        &mut o,
        "pairdesk_source_connected",
        g,
        "1 when the market source is connected.",
        u8::from(m.connected.load(Relaxed)),
    );
    one(
        &mut o,
        "pairdesk_gaps_found_total",
        c,
        "Gaps in trade ids detected.",
        m.gaps_found.load(Relaxed),
    );
    one(
        &mut o,
        "pairdesk_gaps_filled_total",
        c,
        "Gaps backfilled.",
        m.gaps_filled.load(Relaxed),
    );
    one(
        &mut o,
        "pairdesk_writer_backpressure_total",
        c,
        "Times the writer channel was full and ingestion waited.",
        m.backpressure.load(Relaxed),
    );
    one(
        &mut o,
        "pairdesk_writer_batches_total",
        c,
        "Transactions committed by the writer.",
        w.batches.load(Relaxed),
    );
    one(
        &mut o,
        "pairdesk_writer_commit_errors_total",
        c,
        "Failed commits (retried).",
        w.commit_errors.load(Relaxed),
    );
    one(
        &mut o,
        "pairdesk_ticks_expired_total",
        c,
        "Ticks refused by the writer as older than the tick retention.",
        w.expired.load(Relaxed),
    );
    one(
        &mut o,
        "pairdesk_ticks_pruned_total",
        c,
        "Ticks deleted by retention.",
        w.pruned.load(Relaxed),
    );
    one(
        &mut o,
        "pairdesk_rollups_pruned_total",
        c,
        "1-second and 1-minute rollup rows deleted by retention.",
        w.pruned_rollups.load(Relaxed),
    );
    one(
        &mut o,
        "pairdesk_rollup_building_symbols",
        g,
        "Symbols of an upgraded database whose rollups are still being built.",
        w.rollup_building.load(Relaxed),
    );
    one(
        &mut o,
        "pairdesk_rollup_built_ticks_total",
        c,
        "Ticks rolled up by the build of an upgraded database.",
        w.rollup_built.load(Relaxed),
    );
    one(
        &mut o,
        "pairdesk_writer_last_batch_seconds",
        g,
        "Duration of the latest writer transaction.",
        w.last_batch_us.load(Relaxed) as f64 / 1e6,
    );
    one(
        &mut o,
        "pairdesk_writer_max_batch_seconds",
        g,
        "Longest writer transaction since start.",
        w.max_batch_us.load(Relaxed) as f64 / 1e6,
    );
    let (depth, cap) = st
        .writer_tx
        .upgrade()
        .map(|tx| (tx.max_capacity() - tx.capacity(), tx.max_capacity()))
        .unwrap_or((0, 0));
    one(
        &mut o,
        "pairdesk_writer_channel_depth",
        g,
        "Commands queued for the writer.",
        depth,
    );
    one(
        &mut o,
        "pairdesk_writer_channel_capacity",
        g,
        "Size of the writer's queue (0 once it has stopped).",
        cap,
    );

    let blind = m.blind_snapshot();
    head(
        &mut o,
        "pairdesk_source_blind_seconds",
        "histogram",
        "Time without market data after each fault: from the last message before it to the first after recovery.",
    );
    let mut cum = 0;
    for (i, b) in crate::ingest::pipeline::BLIND_BUCKETS.iter().enumerate() {
        cum += blind.counts[i];
        let _ = writeln!(
            o,
            "pairdesk_source_blind_seconds_bucket{{le=\"{b}\"}} {cum}"
        );
    }
    cum += blind.counts[crate::ingest::pipeline::BLIND_BUCKETS.len()];
    let _ = writeln!(
        o,
        "pairdesk_source_blind_seconds_bucket{{le=\"+Inf\"}} {cum}"
    );
    let _ = writeln!(o, "pairdesk_source_blind_seconds_sum {}", blind.sum_s);
    let _ = writeln!(o, "pairdesk_source_blind_seconds_count {cum}");

    let hooks = &st.webhooks.stats;
    one(
        &mut o,
        "pairdesk_webhooks_sent_total",
        c,
        "Alert webhooks answered with a 2xx status.",
        hooks.sent.load(Relaxed),
    );
    head(
        &mut o,
        "pairdesk_webhooks_failed_total",
        c,
        "Alert webhooks not delivered, by reason (forbidden: the address policy refused the host).",
    );
    for (reason, n) in hooks.failures() {
        let _ = writeln!(
            o,
            "pairdesk_webhooks_failed_total{{reason=\"{reason}\"}} {n}"
        );
    }
    let net = &st.net;
    one(
        &mut o,
        "pairdesk_http_connections_open",
        g,
        "Open HTTP connections.",
        st.conns.open(),
    );
    one(
        &mut o,
        "pairdesk_http_connections_accepted_total",
        c,
        "HTTP connections accepted.",
        net.accepted.load(Relaxed),
    );
    head(
        &mut o,
        "pairdesk_http_connections_refused_total",
        c,
        "Connections closed at once because a cap was reached, by cap.",
    );
    for (kind, cap, n) in [
        ("http", "per_client", &net.refused_per_client),
        ("http", "total", &net.refused_total),
        ("websocket", "per_client", &net.ws_refused_per_client),
        ("websocket", "total", &net.ws_refused_total),
    ] {
        let _ = writeln!(
            o,
            "pairdesk_http_connections_refused_total{{kind=\"{kind}\",cap=\"{cap}\"}} {}",
            n.load(Relaxed)
        );
    }
    one(
        &mut o,
        "pairdesk_http_header_timeouts_total",
        c,
        "Connections closed because a request head did not arrive within header_timeout_secs.",
        net.header_timeouts.load(Relaxed),
    );
    one(
        &mut o,
        "pairdesk_websockets_open",
        g,
        "Open /ws/live sockets.",
        st.ws_conns.open(),
    );
    head(
        &mut o,
        "pairdesk_http_request_duration_seconds",
        "histogram",
        "HTTP request latency by method and route.",
    );
    if let Ok(lat) = st.http.latency.lock() {
        for ((method, route), h) in lat.iter() {
            let l = format!("method=\"{}\",route=\"{}\"", esc(method), esc(route));
            let mut cum = 0;
            for (i, b) in BUCKETS.iter().enumerate() {
                cum += h.counts[i];
                let _ = writeln!(
                    o,
                    "pairdesk_http_request_duration_seconds_bucket{{{l},le=\"{b}\"}} {cum}"
                );
            }
            cum += h.counts[BUCKETS.len()];
            let _ = writeln!(
                o,
                "pairdesk_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {cum}"
            );
            let _ = writeln!(
                o,
                "pairdesk_http_request_duration_seconds_sum{{{l}}} {}",
                h.sum
            );
            let _ = writeln!(
                o,
                "pairdesk_http_request_duration_seconds_count{{{l}}} {cum}"
            );
        }
    }
    head(
        &mut o,
        "pairdesk_http_requests_total",
        c,
        "HTTP requests by method, route and status.",
    );
    if let Ok(req) = st.http.requests.lock() {
        for ((method, route, status), n) in req.iter() {
            let _ = writeln!(
                o,
                "pairdesk_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                esc(method),
                esc(route)
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(esc("a\"b\\c\n"), "a\\\"b\\\\c\\n");
    }
}
