//! Upload of a recording (NDJSON collector format, raw Binance frames, or
//! CSV) through the page: `POST /api/v1/upload` with the file as the body.
//!
//! The text goes through the replay parser and the pipeline's backfill path,
//! so an upload is stored exactly like `pairdesk replay` would store it
//! (venue `replay`, deterministic ids: uploading the same file twice adds
//! nothing). Bad lines are reported by number; they never fail the upload.

use serde::{Deserialize, Serialize};

/// Largest accepted upload.
pub const UPLOAD_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadReport {
    pub lines: u64,
    pub ticks: u64,
    /// Ticks that were new to the database.
    pub inserted: u64,
    pub dropped: std::collections::BTreeMap<String, u64>,
    pub malformed: u64,
    /// The first malformed lines: (line number, reason).
    pub malformed_lines: Vec<(u64, String)>,
    /// Well-formed ticks refused by the plausibility limits (absurd price,
    /// quantity or time), by reason; none of them is stored.
    #[serde(default)]
    pub refused: std::collections::BTreeMap<String, u64>,
    /// The first refused lines: (line number, what was wrong).
    #[serde(default)]
    pub refused_lines: Vec<(u64, String)>,
    pub symbols: Vec<String>,
}

#[cfg(feature = "ssr")]
pub use ssr::upload;

#[cfg(feature = "ssr")]
mod ssr {
    use super::*;
    use crate::ingest::replay::{content_identity, parse_all};
    use crate::state::AppState;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::Json;
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::Arc;

    fn error(status: StatusCode, code: &str, message: String) -> Response {
        (
            status,
            Json(serde_json::json!({ "error": { "code": code, "message": message } })),
        )
            .into_response()
    }

    pub async fn upload(
        State(app): State<Arc<AppState>>,
        body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    ) -> Response {
        let body = match body {
            Ok(b) => b,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!(
                        "uploads are limited to {} MiB",
                        UPLOAD_BODY_LIMIT / (1024 * 1024)
                    ),
                )
            }
            Err(e) => return error(StatusCode::BAD_REQUEST, "bad_body", e.body_text()),
        };
        if body.is_empty() {
            return error(
                StatusCode::BAD_REQUEST,
                "empty",
                "the uploaded file is empty".into(),
            );
        }
        let Ok(text) = std::str::from_utf8(&body) else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_text",
                "the file is not UTF-8 text (NDJSON or CSV expected)".into(),
            );
        };
        let (ticks, rep) = parse_all(
            text,
            content_identity(&body),
            crate::ingest::now_ms(),
            app.pipeline.limits(),
        );
        let mut symbols: Vec<String> = ticks.iter().map(|t| t.symbol.clone()).collect();
        symbols.sort();
        symbols.dedup();
        let before = app.writer_stats.inserted.load(Relaxed);
        app.pipeline.ingest_backfill(ticks).await;
        app.pipeline.flush().await;
        // Other sources insert concurrently, so this is an upper bound
        // clipped to the upload's own tick count.
        let inserted = (app.writer_stats.inserted.load(Relaxed) - before).min(rep.ticks);
        tracing::info!(
            lines = rep.lines,
            ticks = rep.ticks,
            malformed = rep.malformed,
            refused = rep.refused_lines.len(),
            "upload stored"
        );
        Json(UploadReport {
            lines: rep.lines,
            ticks: rep.ticks,
            inserted,
            dropped: rep.dropped,
            malformed: rep.malformed,
            malformed_lines: rep.malformed_lines,
            refused: rep.refused,
            refused_lines: rep.refused_lines,
            symbols,
        })
        .into_response()
    }
}
