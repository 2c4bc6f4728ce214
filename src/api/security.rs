//! Request guard and login page: host allowlist, access token, same-origin
//! rule, body limits and security headers, applied to every route (pages,
//! API, server functions, WebSockets, static files).
//!
//! * Host (against DNS rebinding): without an access token, a request is
//!   answered only when its `Host` names this server by a loopback name
//!   (`localhost`, `*.localhost`, `127.0.0.1` and the rest of 127/8,
//!   `[::1]`) with the listening port, or matches an `allowed_hosts` entry
//!   (`name` matches on any port, `name:port` on that port). A hostile page
//!   whose DNS name was re-pointed at 127.0.0.1 still sends its own name as
//!   `Host`, so it gets 403 before any handler runs; the Origin rule below
//!   cannot catch it, because its `Origin` and `Host` agree. With a token,
//!   the token is the defence (a rebound page has no cookie for this server)
//!   and the allowlist applies only when `allowed_hosts` is set.
//! * Token: when `access_token` is configured every request except
//!   `/healthz` and `/login` must carry it, as `Authorization: Bearer <token>`
//!   or as the `pairdesk_session` cookie that `POST /login` sets (a random
//!   per-process session value, not the token). Browsers
//!   asking for a page are redirected to `/login`; everything else gets 401.
//!   Tokens are compared in constant time and never logged.
//! * Origin: a state-changing request (any method but GET/HEAD/OPTIONS) or a
//!   WebSocket upgrade whose `Origin` is not this server is refused (403), as
//!   is one a browser marks `Sec-Fetch-Site: cross-site`. Requests without an
//!   `Origin` (curl, scripts) are not cross-site requests from a browser and
//!   pass; the token still applies to them.
//! * Bodies: a declared `Content-Length` over the route's limit is refused
//!   with 413 before anything is read, and every body is wrapped so an
//!   undeclared (chunked) one cannot exceed it either.
//! * Headers: `X-Content-Type-Options`, `X-Frame-Options: DENY`,
//!   `Referrer-Policy` on everything; a `Content-Security-Policy` allowing
//!   only this origin (pages get a per-response nonce for Leptos' inline
//!   hydration script and `'wasm-unsafe-eval'` for the client).

use crate::api::error::ApiError;
use crate::api::rest::{SERIES_BODY_LIMIT, SMALL_BODY_LIMIT};
use crate::http::split_host_port;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use std::sync::Arc;

/// Name of the session cookie set by `POST /login`.
pub const COOKIE: &str = "pairdesk_session";
/// Largest body accepted by server functions and forms.
pub const FORM_BODY_LIMIT: usize = 64 * 1024;

/// CSP for everything that is not a server-rendered page (JSON, /docs).
pub const DEFAULT_CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; \
     form-action 'self'; frame-ancestors 'none'";

/// CSP for a Leptos page whose inline scripts carry `nonce`.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Called in the Leptos render context: put the page's nonce into its CSP.
pub fn provide_page_csp() {
    use leptos::prelude::use_context;
    if let (Some(nonce), Some(ro)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(v) = HeaderValue::from_str(&page_csp(&nonce)) {
            ro.insert_header(header::CONTENT_SECURITY_POLICY, v);
        }
    }
}

/// Equal lengths and bytes, in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

/// Random per process, so the cookie never reveals the token and a
/// restart logs every browser out.
static SESSION: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hex(&rand::random::<[u8; 32]>()));

/// The session cookie's value.
pub fn cookie_value() -> &'static str {
    &SESSION
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| constant_time_eq(t.trim().as_bytes(), token.as_bytes()));
    if bearer {
        return true;
    }
    let want = cookie_value();
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .any(|(k, v)| k == COOKIE && constant_time_eq(v.as_bytes(), want.as_bytes()))
}

/// Does a `Host` header name this server? See the module docs.
pub fn host_allowed(host: &str, listen_port: u16, allowed: &[String]) -> bool {
    let Some((name, port)) = split_host_port(host) else {
        return false;
    };
    let loopback_name = name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    // Port 0 means "any free port": the configuration cannot say which.
    let port_ok = listen_port == 0 || port.unwrap_or(80) == listen_port;
    if loopback_name && port_ok {
        return true;
    }
    allowed.iter().any(|a| match split_host_port(a) {
        Some((an, None)) => an == name,
        Some((an, Some(ap))) => an == name && port.unwrap_or(80) == ap,
        None => false,
    })
}

/// Is `origin` (`scheme://host[:port]`) this server, as named by `Host`?
fn same_origin(origin: &str, host: Option<&str>, listen: std::net::SocketAddr) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false; // "null", file://, chrome-extension://...
    };
    let rest = rest.trim_end_matches('/');
    let same = |h: &str| rest.eq_ignore_ascii_case(h);
    match host {
        Some(h) => same(h),
        None => same(&listen.to_string()),
    }
}

fn is_ws_upgrade(h: &HeaderMap) -> bool {
    h.get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Body limit of a path (the router's `DefaultBodyLimit`s match these).
pub fn body_limit(path: &str) -> usize {
    match path {
        "/api/v1/analyze" | "/api/v1/backtest" | "/api/v1/pair" => SERIES_BODY_LIMIT,
        "/api/v1/upload" => crate::api::upload::UPLOAD_BODY_LIMIT,
        p if p.starts_with("/api/v1/") => SMALL_BODY_LIMIT,
        _ => FORM_BODY_LIMIT,
    }
}

fn wants_page(req: &Request) -> bool {
    req.method() == Method::GET
        && !req.uri().path().starts_with("/api")
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
}

fn check(st: &AppState, req: &Request) -> Result<(), Box<Response>> {
    let h = req.headers();
    let cfg = &st.config;
    if cfg.access_token.is_none() || !cfg.allowed_hosts.is_empty() {
        let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
        if !host.is_some_and(|v| host_allowed(v, cfg.listen.port(), &cfg.allowed_hosts)) {
            let shown = host.unwrap_or("(none)");
            tracing::warn!(host = %shown, path = %req.uri().path(), "request for a foreign host refused");
            return Err(Box::new(ApiError::forbidden_host(shown).into_response()));
        }
    }
    let state_changing = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if state_changing || is_ws_upgrade(h) {
        if let Some(origin) = h.get(header::ORIGIN) {
            let o = origin.to_str().unwrap_or("?");
            let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
            if !same_origin(o, host, st.config.listen) {
                tracing::warn!(origin = %o, path = %req.uri().path(), "cross-origin request refused");
                return Err(Box::new(ApiError::forbidden_origin(o).into_response()));
            }
        }
        let cross = h
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == "cross-site");
        if cross {
            return Err(Box::new(
                ApiError::forbidden_origin("cross-site").into_response(),
            ));
        }
    }
    if let Some(token) = &st.config.access_token {
        let path = req.uri().path();
        if path != "/healthz" && path != "/login" && !authorized(h, token) {
            if wants_page(req) {
                return Err(Box::new(Redirect::to("/login").into_response()));
            }
            return Err(Box::new(ApiError::unauthorized().into_response()));
        }
    }
    let limit = body_limit(req.uri().path());
    let declared = h
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Box::new(ApiError::too_large(limit).into_response()));
    }
    Ok(())
}

/// Middleware: the rules in the module docs, then the response headers.
pub async fn guard(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Err(r) = check(&st, &req) {
        return *r;
    }
    let limit = body_limit(req.uri().path());
    let (parts, body) = req.into_parts();
    let req = Request::from_parts(parts, Body::new(http_body_util::Limited::new(body, limit)));
    next.run(req).await
}

/// The security headers on every response, refusals included (apply it
/// outermost). tower-http's layers, so a handler's own CSP (the pages'
/// nonce policy) is kept and every other response gets [`DEFAULT_CSP`].
pub fn with_security_headers<S: Clone + Send + Sync + 'static>(r: Router<S>) -> Router<S> {
    use tower_http::set_header::SetResponseHeaderLayer;
    r.layer(SetResponseHeaderLayer::overriding(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ))
    .layer(SetResponseHeaderLayer::if_not_present(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DEFAULT_CSP),
    ))
}

// ---------------------------------------------------------------- login

const LOGIN_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>pairdesk: log in</title>
<style>body{font:15px system-ui,sans-serif;background:#0f1419;color:#d8dee6;display:grid;place-items:center;height:100vh;margin:0}
form{background:#182029;padding:24px 28px;border-radius:8px;display:grid;gap:12px;min-width:300px}
input,button{font:inherit;padding:8px;border-radius:4px;border:1px solid #2c3a48;background:#0f1419;color:inherit}
button{background:#2d6cdf;border:0;cursor:pointer}.err{color:#ff7b72}</style></head>
<body><form method="post" action="/login"><strong>pairdesk</strong>
<label>Access token <input type="password" name="token" autocomplete="current-password" autofocus required></label>
{MSG}<button type="submit">Log in</button></form></body></html>"#;

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login_page(State(st): State<Arc<AppState>>) -> Response {
    if st.config.access_token.is_none() {
        return Redirect::to("/").into_response();
    }
    Html(LOGIN_PAGE.replace("{MSG}", "")).into_response()
}

async fn login(
    State(st): State<Arc<AppState>>,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Some(token) = &st.config.access_token else {
        return Redirect::to("/").into_response();
    };
    match form {
        Ok(Form(f)) if constant_time_eq(f.token.as_bytes(), token.as_bytes()) => {
            let cookie = format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
                cookie_value()
            );
            let mut r = Redirect::to("/").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        _ => {
            tracing::warn!("failed login");
            (
                StatusCode::UNAUTHORIZED,
                Html(LOGIN_PAGE.replace("{MSG}", "<p class=\"err\">Wrong token.</p>")),
            )
                .into_response()
        }
    }
}

/// `GET /login` (the form) and `POST /login` (sets the session cookie).
pub fn router<S: Clone + Send + Sync + 'static>(state: Arc<AppState>) -> Router<S> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_must_match_the_host() {
        let l: std::net::SocketAddr = "127.0.0.1:3000".parse().unwrap();
        assert!(same_origin(
            "http://127.0.0.1:3000",
            Some("127.0.0.1:3000"),
            l
        ));
        assert!(same_origin(
            "http://LOCALHOST:3000",
            Some("localhost:3000"),
            l
        ));
        assert!(!same_origin(
            "http://evil.example",
            Some("127.0.0.1:3000"),
            l
        ));
        assert!(!same_origin(
            "http://127.0.0.1:3001",
            Some("127.0.0.1:3000"),
            l
        ));
        assert!(!same_origin("null", Some("127.0.0.1:3000"), l));
        assert!(same_origin("http://127.0.0.1:3000", None, l));
    }

    #[test]
    fn hosts_split_into_name_and_port() {
        let sp = |h: &str| split_host_port(h);
        assert_eq!(sp("LocalHost:3000"), Some(("localhost".into(), Some(3000))));
        assert_eq!(sp("[::1]:3000"), Some(("::1".into(), Some(3000))));
        assert_eq!(sp("[::1]"), Some(("::1".into(), None)));
        assert_eq!(sp("desk.example."), Some(("desk.example".into(), None)));
        for bad in [
            "", ":3000", "a:b", "[::1", "[zz]:1", "a/b:1", "u@h:1", "::1:3000", "h:99999",
        ] {
            assert_eq!(sp(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_loopback_names_and_the_allowlist_pass_the_host_check() {
        let none: Vec<String> = vec![];
        for ok in [
            "localhost:3000",
            "127.0.0.1:3000",
            "127.1.2.3:3000",
            "[::1]:3000",
            "app.localhost:3000",
            "LOCALHOST.:3000",
        ] {
            assert!(host_allowed(ok, 3000, &none), "{ok}");
        }
        for bad in [
            "evil.example:3000",
            "localhost:3001",
            "localhost",
            "127.0.0.1.evil.example:3000",
            "localhost.evil.example:3000",
            "192.168.1.5:3000",
            "0.0.0.0:3000",
            "",
        ] {
            assert!(!host_allowed(bad, 3000, &none), "{bad}");
        }
        assert!(host_allowed("localhost", 80, &none));
        let allow = vec!["desk.example".to_string(), "10.0.0.5:8443".to_string()];
        assert!(host_allowed("desk.example", 3000, &allow));
        assert!(host_allowed("DESK.example:443", 3000, &allow));
        assert!(host_allowed("10.0.0.5:8443", 3000, &allow));
        assert!(!host_allowed("10.0.0.5:3000", 3000, &allow));
        assert!(!host_allowed("evil.example:3000", 3000, &allow));
    }

    #[test]
    fn token_from_header_or_cookie() {
        let t = "0123456789abcdef-secret";
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, t));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer nope"),
        );
        assert!(!authorized(&h, t));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
        );
        assert!(authorized(&h, t));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; {COOKIE}={}", cookie_value())).unwrap(),
        );
        assert!(authorized(&h, t));
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
