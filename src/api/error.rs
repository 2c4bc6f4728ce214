//! The one error shape of the HTTP API and the extractors that produce it.
//!
//! Every failure leaves the server as
//! `{"error": {"code": "bad_parameter", "message": "...", "parameter": "window"}}`
//! with a stable machine-readable `code`. Axum's own query/JSON rejections are
//! replaced by [`ApiQuery`] and [`ApiJson`], which deserialize with
//! `serde_path_to_error` so a bad field is named (`x[3]`, `limit`) instead of
//! answered with axum's plain-text 400/422.

use crate::analytics::AnalyticsError;
use crate::model::pair::PairError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, for programs (`code`, `parameter`) and people (`message`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable identifier: `bad_parameter`, `unknown_symbol`, `not_found`,
    /// `payload_too_large`, `unsupported_media_type`, `unprocessable`,
    /// `unauthorized`, `forbidden_origin`, `forbidden_host`, `conflict`, `unavailable`,
    /// `internal`.
    pub code: String,
    pub message: String,
    /// The offending parameter or JSON field, when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

/// An API failure with its HTTP status.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub parameter: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            parameter: None,
        }
    }

    /// 400 naming the parameter.
    pub fn bad_param(name: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            parameter: Some(name.into()),
            ..ApiError::new(StatusCode::BAD_REQUEST, "bad_parameter", message)
        }
    }

    pub fn unknown_symbol(symbol: &str, parameter: &str) -> Self {
        ApiError {
            parameter: Some(parameter.into()),
            ..ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_symbol",
                format!("unknown symbol {symbol}: nothing stored for it"),
            )
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", message)
    }

    pub fn too_large(limit: usize) -> Self {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body larger than the {limit} bytes accepted here"),
        )
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "an access token is required: `Authorization: Bearer <token>` or log in at /login",
        )
    }

    pub fn forbidden_origin(origin: &str) -> Self {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            format!("cross-origin request from {origin:?} refused"),
        )
    }

    /// 503: a capacity limit was reached; the client should retry later.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 403 for a `Host` this server does not answer to (DNS rebinding).
    pub fn forbidden_host(host: &str) -> Self {
        let shown: String = host.chars().take(100).collect();
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_host",
            format!(
                "this server does not answer to host {shown:?}; \
                 add it to allowed_hosts (or use localhost or 127.0.0.1)"
            ),
        )
    }

    /// 500 for failures that are ours (storage, a panicked task); the
    /// details go to the log, not to the client.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{context}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{context}; see the server log"),
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
                parameter: self.parameter.clone(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

impl From<PairError> for ApiError {
    fn from(e: PairError) -> Self {
        match e {
            PairError::BadParam { name, reason } => ApiError::bad_param(name, reason),
            PairError::UnknownSymbol(s) => ApiError::unknown_symbol(&s, "symbol"),
            PairError::Unusable(m) => {
                ApiError::unprocessable(format!("cannot analyse this data: {m}"))
            }
            PairError::Store(m) => ApiError::internal("storage error", m),
        }
    }
}

impl From<AnalyticsError> for ApiError {
    /// A parameter the analytics reject is the caller's bad parameter (400);
    /// data they cannot use (constant, too short, non-finite) is 422.
    fn from(e: AnalyticsError) -> Self {
        match &e {
            AnalyticsError::InvalidParameter { name, .. } => {
                ApiError::bad_param(*name, e.to_string())
            }
            AnalyticsError::NonFinite { series, .. }
            | AnalyticsError::NonPositivePrice { series, .. }
            | AnalyticsError::Empty { series }
            | AnalyticsError::ConstantSeries { series } => ApiError {
                parameter: Some((*series).to_string()),
                ..ApiError::unprocessable(e.to_string())
            },
            _ => ApiError::unprocessable(e.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal("storage error", e)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal("request task failed", e)
    }
}

/// The parameter a serde error is about: the path when there is one,
/// else the field named in "missing field `x`" / "unknown field `x`".
fn param_of<E: std::fmt::Display>(e: &serde_path_to_error::Error<E>) -> Option<String> {
    let path = e.path().to_string();
    if !path.is_empty() && path != "." {
        return Some(path);
    }
    let msg = e.inner().to_string();
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(msg[start..start + len].to_string())
}

/// Query-string extractor answering bad input with a named 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

/// A query string as `T`, a bad field named (what [`ApiQuery`] and the
/// command line's `key=value` parameters both use).
pub fn parse_query<T: DeserializeOwned>(q: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let p = param_of(&e).unwrap_or_else(|| "query".into());
        ApiError::bad_param(p, format!("invalid query string: {}", e.inner()))
    })
}

/// JSON body extractor: 415 without a JSON content type, 413 past the
/// route's body limit, 400 naming the field for malformed or mistyped JSON.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            })
            .unwrap_or(false);
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected `Content-Type: application/json`",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| {
                if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        r.body_text(),
                    )
                } else {
                    ApiError::bad_param("body", r.body_text())
                }
            })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let v = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let p = param_of(&e).unwrap_or_else(|| "body".into());
            ApiError::bad_param(p, format!("invalid JSON body: {}", e.inner()))
        })?;
        de.end()
            .map_err(|e| ApiError::bad_param("body", format!("invalid JSON body: {e}")))?;
        Ok(ApiJson(v))
    }
}

/// JSON response helper.
pub type ApiResult<T> = Result<axum::Json<T>, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Q {
        symbol: String,
        limit: Option<u32>,
    }

    fn parse(q: &str) -> Result<Q, ApiError> {
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de).map_err(|e| {
            ApiError::bad_param(param_of(&e).unwrap_or_default(), e.inner().to_string())
        })
    }

    #[test]
    fn query_errors_name_the_parameter() {
        assert_eq!(
            parse("symbol=A&limit=x").unwrap_err().parameter.as_deref(),
            Some("limit")
        );
        assert_eq!(
            parse("limit=3").unwrap_err().parameter.as_deref(),
            Some("symbol")
        );
        assert_eq!(
            parse("symbol=A&bogus=1").unwrap_err().parameter.as_deref(),
            Some("bogus")
        );
        assert!(parse("symbol=A&limit=3").is_ok());
    }

    #[test]
    fn analytics_errors_split_into_400_and_422() {
        let e: ApiError = AnalyticsError::ConstantSeries { series: "x" }.into();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.parameter.as_deref(), Some("x"));
        let e: ApiError = AnalyticsError::InvalidParameter {
            name: "window",
            reason: "too big".into(),
        }
        .into();
        assert_eq!(
            (e.status, e.parameter.as_deref()),
            (StatusCode::BAD_REQUEST, Some("window"))
        );
    }
}
