//! The versioned JSON API under `/api/v1`, plus `/healthz`, `/readyz` and
//! `/metrics`.
//!
//! Handlers are thin: they validate and name bad parameters, then call the
//! same code as the dashboard's server functions (`store::query` for ticks
//! and bars, [`crate::api::pair`] for stored pairs, [`crate::analytics`] for
//! posted series, [`AppState::status`] for ingestion). SQLite and the
//! statistics run on the blocking pool so slow requests never stall the
//! async workers. Every route is described in [`crate::api::openapi`].

use crate::analytics::{self, AnalyzeOptions, AnalyzeReport, BacktestOptions, BacktestResult};
use crate::api::error::{ApiError, ApiJson, ApiQuery, ApiResult, ErrorBody};
use crate::domain::{
    validate_symbol, Bar, Funding, MarkPrice, Quote, StatusSnapshot, SymbolStatus, Tick, Timeframe,
    Venue,
};
use crate::model::alerts::{AlertEvent, AlertRule, StoredRule};
use crate::model::pair::{PairAnalytics, PairQuery};
use crate::model::paper::{PaperBook, PaperSession, Traded};
use crate::model::status::GapInfo;
use crate::services::alerts::{create_rule, AlertError};
use crate::services::paper::PaperError;
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// Body limit for routes that take price series (`/analyze`, `/backtest`, `/pair`).
pub const SERIES_BODY_LIMIT: usize = 1024 * 1024;
/// Body limit for every other JSON route.
pub const SMALL_BODY_LIMIT: usize = 16 * 1024;
/// Most ticks one page may hold.
pub const MAX_TICKS: u32 = 10_000;
/// Most bars one request may ask for.
pub const MAX_BARS: u32 = 10_000;
/// Longest series `/analyze` and `/backtest` accept.
pub const MAX_POINTS: usize = 20_000;
/// Timestamps are epoch ms in [0, year 9999].
pub const MAX_TS: i64 = 253_402_300_799_999;

type St = State<Arc<AppState>>;

/// The API routes; the caller adds its own state type.
pub fn router<S: Clone + Send + Sync + 'static>(state: Arc<AppState>) -> Router<S> {
    let series_limit = DefaultBodyLimit::max(SERIES_BODY_LIMIT);
    Router::new()
        .route("/api/v1/symbols", get(symbols))
        .route("/api/v1/ticks", get(ticks))
        .route("/api/v1/bars", get(bars))
        .route("/api/v1/bars.csv", get(bars_csv))
        .route("/api/v1/quotes", get(quotes))
        .route("/api/v1/quotes.csv", get(quotes_csv))
        .route("/api/v1/funding", get(funding))
        .route("/api/v1/analyze", post(analyze).layer(series_limit))
        .route("/api/v1/backtest", post(backtest).layer(series_limit))
        .route(
            "/api/v1/johansen",
            get(johansen_get).post(johansen_post).layer(series_limit),
        )
        .route(
            "/api/v1/pair",
            get(pair_get).post(pair_post).layer(series_limit),
        )
        .route("/api/v1/pair.csv", get(pair_csv))
        .route("/api/v1/johansen.csv", get(johansen_csv))
        .route("/api/v1/alerts", get(list_alerts).post(create_alert))
        .route("/api/v1/alerts/{id}", delete(delete_alert))
        .route("/api/v1/alert-events", get(alert_events))
        .route("/api/v1/paper", get(list_paper).post(start_paper))
        .route("/api/v1/paper/basket", post(start_paper_basket))
        .route("/api/v1/paper/{id}", get(get_paper))
        .route("/api/v1/paper/{id}/stop", post(stop_paper))
        .route("/api/v1/status", get(status))
        .route("/api/v1/{*rest}", axum::routing::any(no_such_route))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(SMALL_BODY_LIMIT))
        .with_state(state)
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

async fn no_such_route(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "no API route {}; see /api/openapi.json",
        uri.path()
    ))
}

/// Run blocking work (SQLite, statistics) off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await?
}

fn symbol_param(s: &str, name: &str) -> Result<String, ApiError> {
    validate_symbol(s).map_err(|r| ApiError::bad_param(name, r))
}

fn ts_param(v: i64, name: &str) -> Result<i64, ApiError> {
    if (0..=MAX_TS).contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::bad_param(
            name,
            format!("expected epoch milliseconds from 0 to {MAX_TS}, got {v}"),
        ))
    }
}

// ---------------------------------------------------------------- symbols

/// A symbol the server knows: stored, configured for ingestion, or both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SymbolInfo {
    pub symbol: String,
    pub venue: Venue,
    /// In the server's configured symbol list (ingested live).
    pub configured: bool,
    /// Has ticks in the database.
    pub stored: bool,
    /// Live ingestion figures, when the active source is sending it.
    pub live: Option<SymbolStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SymbolsResponse {
    /// Venue the active source stores under; the default for other queries.
    pub venue: Venue,
    pub symbols: Vec<SymbolInfo>,
}

/// Symbols and their live status.
#[utoipa::path(get, path = "/api/v1/symbols", tag = "market data",
    responses((status = 200, body = SymbolsResponse)))]
pub async fn symbols(State(st): St) -> ApiResult<SymbolsResponse> {
    let store = st.store.clone();
    let stored = blocking(move || Ok(store.symbols()?)).await?;
    let status = st.status();
    let live = |v: Venue, s: &str| {
        (v == st.venue)
            .then(|| status.symbols.iter().find(|x| x.symbol == s).cloned())
            .flatten()
    };
    let mut out: Vec<SymbolInfo> = stored
        .iter()
        .map(|(v, s)| SymbolInfo {
            symbol: s.clone(),
            venue: *v,
            configured: *v == st.venue && st.config.symbols.contains(s),
            stored: true,
            live: live(*v, s),
        })
        .collect();
    // Configured and added-while-running symbols that have no ticks yet.
    let mut wanted = st.config.symbols.clone();
    if let Some(subs) = &st.subscriptions {
        wanted.extend(
            subs.symbols()
                .await
                .into_iter()
                .filter(|s| !st.config.symbols.contains(s)),
        );
    }
    for s in &wanted {
        if !stored.iter().any(|(v, n)| *v == st.venue && n == s) {
            out.push(SymbolInfo {
                symbol: s.clone(),
                venue: st.venue,
                configured: st.config.symbols.contains(s),
                stored: false,
                live: live(st.venue, s),
            });
        }
    }
    Ok(Json(SymbolsResponse {
        venue: st.venue,
        symbols: out,
    }))
}

// ---------------------------------------------------------------- ticks

/// Query of the paged row routes, `GET /api/v1/ticks` and
/// `GET /api/v1/quotes` (and `quotes.csv`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Symbol, e.g. BTCUSDT.
    #[param(pattern = "^[A-Za-z0-9]{2,20}$", example = "BTCUSDT")]
    pub symbol: String,
    /// Range start, epoch ms (inclusive). Default 0.
    #[param(minimum = 0, maximum = 253402300799999_i64)]
    pub from: Option<i64>,
    /// Range end, epoch ms (exclusive). Default: no end.
    #[param(minimum = 0, maximum = 253402300799999_i64)]
    pub to: Option<i64>,
    /// Page size, 1 to 10000. Default 1000.
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Venue the rows were stored under. Default: the active source's.
    pub venue: Option<Venue>,
}

/// A [`PageQuery`], validated: symbol, `[from, to)`, page size, cursor.
struct PageParams {
    symbol: String,
    from: i64,
    to: i64,
    limit: usize,
    cursor: Option<(i64, i64)>,
}

/// Check a page query, naming the first bad parameter.
fn page_params(q: &PageQuery) -> Result<PageParams, ApiError> {
    let symbol = symbol_param(&q.symbol, "symbol")?;
    let from = ts_param(q.from.unwrap_or(0), "from")?;
    let to = ts_param(q.to.unwrap_or(MAX_TS), "to")?;
    if to <= from {
        return Err(ApiError::bad_param(
            "to",
            format!("must be after from ({from})"),
        ));
    }
    let limit = q.limit.unwrap_or(1000);
    if !(1..=MAX_TICKS).contains(&limit) {
        return Err(ApiError::bad_param(
            "limit",
            format!("expected 1 to {MAX_TICKS}, got {limit}"),
        ));
    }
    let cursor = q.cursor.as_deref().map(parse_cursor).transpose()?;
    Ok(PageParams {
        symbol,
        from,
        to,
        limit: limit as usize,
        cursor,
    })
}

/// One page of ticks in (exchange time, trade id) order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TickPage {
    pub symbol: String,
    pub venue: Venue,
    pub ticks: Vec<Tick>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One page of at most `limit` rows after `cursor` (a `(time, id)` key),
/// and whether more follow. `fetch(start, want)` returns up to `want` rows
/// from time `start` in key order. Rows sharing the cursor's time with a
/// key at or below it lead such a fetch; enough extra is fetched to skip
/// them, growing until the page is past them.
fn page_after<T>(
    from: i64,
    limit: usize,
    cursor: Option<(i64, i64)>,
    key: impl Fn(&T) -> (i64, i64),
    mut fetch: impl FnMut(i64, usize) -> Result<Vec<T>, ApiError>,
) -> Result<(Vec<T>, bool), ApiError> {
    let start = cursor.map_or(from, |(t, _)| from.max(t));
    let mut extra = if cursor.is_some() { 64usize } else { 0 };
    loop {
        let want = limit + 1 + extra;
        let got = fetch(start, want)?;
        let fetched = got.len();
        let skip = cursor.map_or(0, |c| got.iter().take_while(|r| key(r) <= c).count());
        if fetched < want || skip <= extra {
            let mut rest: Vec<T> = got.into_iter().skip(skip).collect();
            let more = rest.len() > limit;
            rest.truncate(limit);
            return Ok((rest, more));
        }
        extra = (extra * 4).max(64);
    }
}

fn parse_cursor(c: &str) -> Result<(i64, i64), ApiError> {
    let bad = || {
        ApiError::bad_param(
            "cursor",
            "expected a `next_cursor` value from a previous page",
        )
    };
    let (a, b) = c.split_once(':').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

/// Stored ticks of one symbol in a time range, paged.
#[utoipa::path(get, path = "/api/v1/ticks", tag = "market data", params(PageQuery),
    responses((status = 200, body = TickPage),
        (status = 400, body = ErrorBody, description = "bad parameter"),
        (status = 404, body = ErrorBody, description = "unknown symbol")))]
pub async fn ticks(State(st): St, ApiQuery(q): ApiQuery<PageQuery>) -> ApiResult<TickPage> {
    let PageParams {
        symbol,
        from,
        to,
        limit,
        cursor,
    } = page_params(&q)?;
    let venue = q.venue.unwrap_or(st.venue);
    let store = st.store.clone();
    let sym = symbol.clone();
    let (ticks, more) = blocking(move || {
        page_after(
            from,
            limit,
            cursor,
            |t: &Tick| (t.exchange_ts, t.trade_id),
            |start, want| {
                store
                    .ticks(venue, &sym, start, to, want)?
                    .ok_or_else(|| ApiError::unknown_symbol(&sym, "symbol"))
            },
        )
    })
    .await?;
    let next_cursor = more
        .then(|| {
            ticks
                .last()
                .map(|t| format!("{}:{}", t.exchange_ts, t.trade_id))
        })
        .flatten();
    Ok(Json(TickPage {
        symbol,
        venue,
        ticks,
        next_cursor,
    }))
}

// ---------------------------------------------------------------- quotes

/// One page of stored (conflated) quotes in (time, update id) order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QuotePage {
    pub symbol: String,
    pub venue: Venue,
    pub quotes: Vec<Quote>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A page of quotes after `cursor` (time, update id), and whether more follow.
fn quote_page(
    store: &dyn crate::store::Store,
    venue: Venue,
    sym: &str,
    from: i64,
    to: i64,
    limit: usize,
    cursor: Option<(i64, i64)>,
) -> Result<(Vec<Quote>, bool), ApiError> {
    page_after(
        from,
        limit,
        cursor,
        |q: &Quote| (q.ts, q.update_id),
        |start, want| {
            store
                .quotes(venue, sym, start, to, want)?
                .ok_or_else(|| ApiError::unknown_symbol(sym, "symbol"))
        },
    )
}

/// Stored top of book of one symbol in a time range, paged: the quotes
/// kept by conflation (the last of every interval and each change of best
/// price; see the README).
#[utoipa::path(get, path = "/api/v1/quotes", tag = "market data", params(PageQuery),
    responses((status = 200, body = QuotePage),
        (status = 400, body = ErrorBody, description = "bad parameter"),
        (status = 404, body = ErrorBody, description = "unknown symbol")))]
pub async fn quotes(State(st): St, ApiQuery(q): ApiQuery<PageQuery>) -> ApiResult<QuotePage> {
    let PageParams {
        symbol,
        from,
        to,
        limit,
        cursor,
    } = page_params(&q)?;
    let venue = q.venue.unwrap_or(st.venue);
    let store = st.store.clone();
    let sym = symbol.clone();
    let (quotes, more) =
        blocking(move || quote_page(store.as_ref(), venue, &sym, from, to, limit, cursor)).await?;
    let next_cursor = more
        .then(|| quotes.last().map(|q| format!("{}:{}", q.ts, q.update_id)))
        .flatten();
    Ok(Json(QuotePage {
        symbol,
        venue,
        quotes,
        next_cursor,
    }))
}

/// The same quotes as CSV
/// (`ts_iso,ts_ms,update_id,receive_ts_ms,bid,bid_qty,ask,ask_qty,mid`).
#[utoipa::path(get, path = "/api/v1/quotes.csv", tag = "market data", params(PageQuery),
    responses((status = 200, content_type = "text/csv", body = String, description = "CSV with a header row"),
        (status = 400, body = ErrorBody, description = "bad parameter"),
        (status = 404, body = ErrorBody, description = "unknown symbol")))]
pub async fn quotes_csv(
    State(st): St,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<axum::response::Response, ApiError> {
    let PageParams {
        symbol,
        from,
        to,
        limit,
        cursor,
    } = page_params(&q)?;
    let venue = q.venue.unwrap_or(st.venue);
    let store = st.store.clone();
    let sym = symbol.clone();
    let (quotes, _) =
        blocking(move || quote_page(store.as_ref(), venue, &sym, from, to, limit, cursor)).await?;
    let mut out = Vec::with_capacity(96 * (quotes.len() + 1));
    crate::store::export::write_quotes(&mut out, &quotes)
        .map_err(|e| ApiError::internal("writing CSV", e))?;
    Ok(csv_response(
        out,
        &format!("pairdesk-{symbol}-quotes-{venue}.csv"),
    ))
}

/// Query of `GET /api/v1/funding`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FundingQuery {
    /// Symbol, e.g. BTCUSDT.
    #[param(pattern = "^[A-Za-z0-9]{2,20}$", example = "BTCUSDT")]
    pub symbol: String,
    /// Range start, epoch ms (inclusive). Default: 7 days before `to`.
    #[param(minimum = 0, maximum = 253402300799999_i64)]
    pub from: Option<i64>,
    /// Range end, epoch ms (exclusive). Default: now.
    #[param(minimum = 0, maximum = 253402300799999_i64)]
    pub to: Option<i64>,
    pub venue: Option<Venue>,
}

/// Settled funding and the latest mark price of one perpetual.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FundingResponse {
    pub symbol: String,
    pub venue: Venue,
    /// Settlements in the range, oldest first (rates as fractions: longs
    /// pay shorts when positive).
    pub funding: Vec<Funding>,
    /// The newest mark price with its estimated funding rate, if streamed.
    pub mark: Option<MarkPrice>,
}

/// Funding of one symbol: the settlements in a range and the current mark.
#[utoipa::path(get, path = "/api/v1/funding", tag = "market data", params(FundingQuery),
    responses((status = 200, body = FundingResponse),
        (status = 400, body = ErrorBody, description = "bad parameter"),
        (status = 404, body = ErrorBody, description = "unknown symbol")))]
pub async fn funding(
    State(st): St,
    ApiQuery(q): ApiQuery<FundingQuery>,
) -> ApiResult<FundingResponse> {
    let symbol = symbol_param(&q.symbol, "symbol")?;
    let to = ts_param(q.to.unwrap_or_else(crate::clock::now_ms).min(MAX_TS), "to")?;
    let from = ts_param(q.from.unwrap_or((to - 7 * 86_400_000).max(0)), "from")?;
    if to <= from {
        return Err(ApiError::bad_param(
            "to",
            format!("must be after from ({from})"),
        ));
    }
    let venue = q.venue.unwrap_or(st.venue);
    let store = st.store.clone();
    let sym = symbol.clone();
    let (funding, mark) = blocking(move || {
        let f = store
            .funding(venue, &sym, from, to)?
            .ok_or_else(|| ApiError::unknown_symbol(&sym, "symbol"))?;
        Ok((f, store.last_mark(venue, &sym)?))
    })
    .await?;
    Ok(Json(FundingResponse {
        symbol,
        venue,
        funding,
        mark,
    }))
}

// ---------------------------------------------------------------- bars

/// Query of `GET /api/v1/bars`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BarsQuery {
    /// Symbol, e.g. ETHUSDT.
    #[param(pattern = "^[A-Za-z0-9]{2,20}$", example = "ETHUSDT")]
    pub symbol: String,
    /// Bar size. Default: the server's configured timeframe.
    pub timeframe: Option<Timeframe>,
    /// Range start, epoch ms. Without `from` and `to`: the latest bars.
    #[param(minimum = 0, maximum = 253402300799999_i64)]
    pub from: Option<i64>,
    /// Range end, epoch ms (exclusive).
    #[param(minimum = 0, maximum = 253402300799999_i64)]
    pub to: Option<i64>,
    /// Most bars returned (the latest ones), 1 to 10000. Default 1000.
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<u32>,
    pub venue: Option<Venue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BarsResponse {
    pub symbol: String,
    pub venue: Venue,
    pub timeframe: Timeframe,
    /// OHLCV bars, oldest first; buckets without trades are absent.
    pub bars: Vec<Bar>,
    /// Per bar (same order), the best bid and ask at its close and their
    /// mid, where a quote was stored; empty when the symbol has no quotes.
    #[serde(default)]
    pub close_book: Vec<Option<CloseBook>>,
}

/// Top of book at a bar's close.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CloseBook {
    pub bid: f64,
    pub ask: f64,
    pub mid: f64,
}

/// OHLCV bars of one symbol built from its stored ticks.
#[utoipa::path(get, path = "/api/v1/bars", tag = "market data", params(BarsQuery),
    responses((status = 200, body = BarsResponse),
        (status = 400, body = ErrorBody, description = "bad parameter"),
        (status = 404, body = ErrorBody, description = "unknown symbol")))]
pub async fn bars(State(st): St, ApiQuery(q): ApiQuery<BarsQuery>) -> ApiResult<BarsResponse> {
    Ok(Json(load_bars(st, q).await?))
}

/// The same bars as CSV (`ts_iso,ts_ms,open,high,low,close,volume,trades,vwap`).
#[utoipa::path(get, path = "/api/v1/bars.csv", tag = "market data", params(BarsQuery),
    responses((status = 200, content_type = "text/csv", body = String, description = "CSV with a header row"),
        (status = 400, body = ErrorBody, description = "bad parameter"),
        (status = 404, body = ErrorBody, description = "unknown symbol")))]
pub async fn bars_csv(
    State(st): St,
    ApiQuery(q): ApiQuery<BarsQuery>,
) -> Result<axum::response::Response, ApiError> {
    let b = load_bars(st, q).await?;
    let mut out = Vec::with_capacity(64 * (b.bars.len() + 1));
    crate::store::export::write_bars(&mut out, &b.bars)
        .map_err(|e| ApiError::internal("writing CSV", e))?;
    let name = format!("pairdesk-{}-{}-{}.csv", b.symbol, b.timeframe, b.venue);
    Ok(csv_response(out, &name))
}

/// A CSV download.
fn csv_response(body: Vec<u8>, filename: &str) -> axum::response::Response {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_string(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

async fn load_bars(st: Arc<AppState>, q: BarsQuery) -> Result<BarsResponse, ApiError> {
    let symbol = symbol_param(&q.symbol, "symbol")?;
    let tf = q.timeframe.unwrap_or(st.config.timeframe);
    let limit = q.limit.unwrap_or(1000);
    if !(1..=MAX_BARS).contains(&limit) {
        return Err(ApiError::bad_param(
            "limit",
            format!("expected 1 to {MAX_BARS}, got {limit}"),
        ));
    }
    let span = tf.millis() * limit as i64;
    let range = match (q.from, q.to) {
        (None, None) => None,
        (Some(f), None) => {
            let f = ts_param(f, "from")?;
            Some((f, (f + span).min(MAX_TS)))
        }
        (None, Some(t)) => {
            let t = ts_param(t, "to")?;
            Some(((t - span).max(0), t))
        }
        (Some(f), Some(t)) => {
            let (f, t) = (ts_param(f, "from")?, ts_param(t, "to")?);
            if t <= f {
                return Err(ApiError::bad_param(
                    "to",
                    format!("must be after from ({f})"),
                ));
            }
            if (t - tf.bucket(f)) / tf.millis() > MAX_BARS as i64 {
                return Err(ApiError::bad_param(
                    "from",
                    format!(
                        "the range spans more than {MAX_BARS} {tf} bars; narrow it or use a larger timeframe"
                    ),
                ));
            }
            Some((f, t))
        }
    };
    let venue = q.venue.unwrap_or(st.venue);
    let store = st.store.clone();
    let sym = symbol.clone();
    let (bars, close_book) = blocking(move || {
        let b = match range {
            None => store.tail_bars(venue, &sym, tf, limit as usize)?,
            Some((f, t)) => store.bars(venue, &sym, tf, f, t)?,
        };
        let mut b = b.ok_or_else(|| ApiError::unknown_symbol(&sym, "symbol"))?;
        let excess = b.len().saturating_sub(limit as usize);
        b.drain(..excess);
        // The book in force at each bar's close (a quote at most one bar,
        // or a second, old), when quotes are stored.
        let closes: Vec<i64> = b.iter().map(|x| x.ts + tf.millis() - 1).collect();
        let book = store.quotes_at(venue, &sym, &closes, tf.millis().max(1000))?;
        let book: Vec<Option<CloseBook>> = book
            .into_iter()
            .map(|q| {
                q.map(|q| CloseBook {
                    bid: q.bid,
                    ask: q.ask,
                    mid: q.mid(),
                })
            })
            .collect();
        let any = book.iter().any(Option::is_some);
        Ok((b, if any { book } else { Vec::new() }))
    })
    .await?;
    Ok(BarsResponse {
        symbol,
        venue,
        timeframe: tf,
        bars,
        close_book,
    })
}

// ---------------------------------------------------------------- analyze

/// Two aligned price series and the model options.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeRequest {
    /// Independent leg prices (2 to 20000 points).
    pub x: Vec<f64>,
    /// Dependent leg prices, same length as `x`.
    pub y: Vec<f64>,
    /// Optional strictly increasing timestamps, same length as `x`.
    #[serde(default)]
    pub ts: Option<Vec<i64>>,
    #[serde(default)]
    pub options: AnalyzeOptions,
}

fn check_series(x: &[f64], y: &[f64], ts: Option<&[i64]>) -> Result<(), ApiError> {
    if x.len() > MAX_POINTS {
        return Err(ApiError::bad_param(
            "x",
            format!("at most {MAX_POINTS} points, got {}", x.len()),
        ));
    }
    if y.len() != x.len() {
        return Err(ApiError::bad_param(
            "y",
            format!("x has {} points, y has {}", x.len(), y.len()),
        ));
    }
    if let Some(ts) = ts {
        if ts.len() != x.len() {
            return Err(ApiError::bad_param(
                "ts",
                format!("x has {} points, ts has {}", x.len(), ts.len()),
            ));
        }
    }
    Ok(())
}

/// Robust rolling refits cost window² (Theil-Sen) or window × iterations
/// (Huber) per bar; refuse combinations that would hold a core for long.
fn check_cost(n: usize, o: &AnalyzeOptions) -> Result<(), ApiError> {
    use crate::analytics::RegressionKind::*;
    let Some(w) = o.window else { return Ok(()) };
    let steps = n.saturating_sub(w) as f64 + 1.0;
    let w = w.min(crate::analytics::theil_sen::MAX_POINTS) as f64;
    let cost = match o.regression {
        TheilSen => steps * w * w,
        Huber => steps * w * 50.0,
        _ => 0.0,
    };
    if cost > 2e8 {
        return Err(ApiError::bad_param(
            "window",
            "a rolling robust regression this long and wide is too expensive for one request; use a smaller window or fewer points",
        ));
    }
    Ok(())
}

/// The report must be representable in JSON exactly as documented: a
/// statistic that overflowed to inf/NaN (absurdly scaled input) is 422,
/// not a silent `null` where a number is promised.
fn check_report(r: &AnalyzeReport) -> Result<(), ApiError> {
    let g = &r.regression;
    let c = [
        g.alpha,
        g.beta,
        r.adf.stat,
        r.adf.pvalue,
        r.adf.crit.one,
        r.adf.crit.five,
        r.adf.crit.ten,
        r.coint.stat,
        r.coint.pvalue,
        r.coint.crit.one,
        r.coint.crit.five,
        r.coint.crit.ten,
    ];
    if c.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "the statistics overflowed on this input (values too large or too close together)",
        ))
    }
}

fn run_analyze(req: &AnalyzeRequest) -> Result<AnalyzeReport, ApiError> {
    check_series(&req.x, &req.y, req.ts.as_deref())?;
    // Windows longer than the data are the caller's parameter error (400);
    // data too short for the statistics themselves stays 422.
    let n = req.x.len();
    let o = &req.options;
    if o.z_window > n {
        return Err(ApiError::bad_param(
            "z_window",
            format!("longer than the series ({n} points): {}", o.z_window),
        ));
    }
    if let Some(w) = o.window.filter(|w| *w > n) {
        return Err(ApiError::bad_param(
            "window",
            format!("longer than the series ({n} points): {w}"),
        ));
    }
    check_cost(req.x.len(), &req.options)?;
    let r = analytics::analyze(&req.x, &req.y, req.ts.as_deref(), &req.options)?;
    check_report(&r)?;
    Ok(r)
}

/// The `analyze` contract on two posted price series: hedge regression,
/// ADF, Engle-Granger, half-life, Hurst, spread, z-score, beta, alpha.
#[utoipa::path(post, path = "/api/v1/analyze", tag = "analytics", request_body = AnalyzeRequest,
    responses((status = 200, body = AnalyzeReport),
        (status = 400, body = ErrorBody, description = "bad parameter or malformed JSON"),
        (status = 413, body = ErrorBody, description = "body over 1 MiB"),
        (status = 415, body = ErrorBody, description = "not JSON"),
        (status = 422, body = ErrorBody, description = "series the analytics cannot use")))]
pub async fn analyze(ApiJson(req): ApiJson<AnalyzeRequest>) -> ApiResult<AnalyzeReport> {
    Ok(Json(blocking(move || run_analyze(&req)).await?))
}

/// Series, model options and trading costs for a backtest. `x` and `y`
/// are the bars' closes; the opens, the books a fill would meet and the
/// funding settlements are optional.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    /// Bar start times, ms, ascending (default: `0, bar_ms, 2 bar_ms, ..`).
    #[serde(default)]
    pub ts: Option<Vec<i64>>,
    /// Bar length, ms (default 1000).
    #[serde(default)]
    pub bar_ms: Option<i64>,
    /// Bar opens, for `fill = next-open` (the default); without them use
    /// `next-close`.
    #[serde(default)]
    pub x_open: Option<Vec<f64>>,
    #[serde(default)]
    pub y_open: Option<Vec<f64>>,
    /// The book a fill on each bar meets (`null` where none).
    #[serde(default)]
    pub x_book: Option<Vec<Option<crate::analytics::Touch>>>,
    #[serde(default)]
    pub y_book: Option<Vec<Option<crate::analytics::Touch>>>,
    #[serde(default)]
    pub x_funding: Vec<crate::analytics::FundingEvent>,
    #[serde(default)]
    pub y_funding: Vec<crate::analytics::FundingEvent>,
    /// Model options; `entry`/`exit` are the trading thresholds.
    #[serde(default)]
    pub options: AnalyzeOptions,
    /// Execution, cost and risk settings (fees default to 5 bp a leg).
    #[serde(default)]
    pub backtest: BacktestOptions,
    #[serde(default)]
    pub walk_forward: Option<crate::analytics::WalkForward>,
}

/// Backtest of the z-score threshold rule on posted series.
#[utoipa::path(post, path = "/api/v1/backtest", tag = "analytics", request_body = BacktestRequest,
    responses((status = 200, body = BacktestResult),
        (status = 400, body = ErrorBody, description = "bad parameter or malformed JSON"),
        (status = 413, body = ErrorBody, description = "body over 1 MiB"),
        (status = 415, body = ErrorBody, description = "not JSON"),
        (status = 422, body = ErrorBody, description = "series the analytics cannot use")))]
pub async fn backtest(ApiJson(req): ApiJson<BacktestRequest>) -> ApiResult<BacktestResult> {
    let bar_ms = req.bar_ms.unwrap_or(1000);
    if !(1..=31 * 86_400_000).contains(&bar_ms) {
        return Err(ApiError::bad_param(
            "bar_ms",
            "expected 1 to 2678400000 (31 days)",
        ));
    }
    req.backtest
        .validate()
        .map_err(|e| ApiError::bad_param("backtest", e.to_string()))?;
    let n = req.x.len();
    let same_len = |name: &'static str, len: Option<usize>| match len {
        Some(l) if l != n => Err(ApiError::bad_param(
            name,
            format!("expected {n} values (one per bar of x), got {l}"),
        )),
        _ => Ok(()),
    };
    same_len("x_open", req.x_open.as_ref().map(Vec::len))?;
    same_len("y_open", req.y_open.as_ref().map(Vec::len))?;
    same_len("x_book", req.x_book.as_ref().map(Vec::len))?;
    same_len("y_book", req.y_book.as_ref().map(Vec::len))?;
    let opens_missing = req.x_open.is_none() || req.y_open.is_none();
    if req.backtest.fill == crate::analytics::FillAt::NextOpen && opens_missing {
        return Err(ApiError::bad_param(
            "fill",
            "next-open fills need x_open and y_open; post them or use \"fill\": \"next-close\"",
        ));
    }
    let r = blocking(move || {
        let a = AnalyzeRequest {
            x: req.x,
            y: req.y,
            ts: req.ts,
            options: req.options,
        };
        let report = run_analyze(&a)?;
        let ts =
            a.ts.clone()
                .unwrap_or_else(|| (0..a.x.len() as i64).map(|i| i * bar_ms).collect());
        let series = crate::services::pair::BacktestSeries {
            ts,
            bar_ms,
            x_open: req.x_open.unwrap_or_else(|| a.x.clone()),
            x_close: a.x,
            y_open: req.y_open.unwrap_or_else(|| a.y.clone()),
            y_close: a.y,
            x_book: req.x_book,
            y_book: req.y_book,
            x_funding: req.x_funding,
            y_funding: req.y_funding,
        };
        let r = crate::services::pair::run_backtest(
            &series,
            &report,
            &a.options,
            &req.backtest,
            req.walk_forward,
        )?;
        Ok::<_, ApiError>(r)
    })
    .await?;
    Ok(Json(r))
}

// ---------------------------------------------------------------- pair

/// Flat query of `GET /api/v1/pair`; `POST` takes the nested [`PairQuery`].
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PairParams {
    /// Independent leg, e.g. BTCUSDT.
    #[param(pattern = "^[A-Za-z0-9]{2,20}$", example = "BTCUSDT")]
    pub x: String,
    /// Dependent leg, e.g. ETHUSDT.
    #[param(pattern = "^[A-Za-z0-9]{2,20}$", example = "ETHUSDT")]
    pub y: String,
    pub timeframe: Option<Timeframe>,
    /// Bars to analyse, 10 to 50000. Default 600.
    #[param(minimum = 10, maximum = 50000)]
    pub bars: Option<usize>,
    /// End of the range, epoch ms (exclusive). Default: the latest tick.
    #[param(minimum = 0, maximum = 253402300799999_i64)]
    pub to: Option<i64>,
    pub regression: Option<crate::analytics::RegressionKind>,
    pub prices: Option<crate::analytics::PriceScale>,
    /// Rolling regression window (bars). Default: full-sample coefficients.
    pub window: Option<usize>,
    pub z_window: Option<usize>,
    pub entry: Option<f64>,
    pub exit: Option<f64>,
    /// Taker fee of each leg, bp (default: the venue's base tier).
    pub fee_bps: Option<f64>,
    /// Backtest: gross notional per position, quote currency (10000).
    pub notional: Option<f64>,
    /// Backtest: `next-open` (default), `next-close` or `next-quote` (the
    /// first book update after the decision).
    pub fill: Option<crate::analytics::FillAt>,
    /// Backtest: `beta-weighted` (default) or `dollar-neutral`.
    pub sizing: Option<crate::analytics::Sizing>,
    /// Backtest: half spread assumed without a stored book, bp (0.5).
    pub half_spread_bps: Option<f64>,
    /// Backtest: slippage beyond the touch on every fill, bp (0).
    pub slippage_bps: Option<f64>,
    /// Backtest: stop on a trade's PnL, percent of its notional.
    pub stop_pct: Option<f64>,
    /// Backtest: close a position held this many bars.
    pub max_hold_bars: Option<usize>,
    /// Backtest: walk-forward training and test windows (bars), both or
    /// neither.
    pub wf_train: Option<usize>,
    pub wf_test: Option<usize>,
    pub corr_window: Option<usize>,
    pub ffill: Option<usize>,
    /// `last` (default): each bar's last trade; `mid`: the mid of the book
    /// at each bar's close (bars without a quote of both legs are left out).
    pub price: Option<crate::model::pair::PriceSource>,
    /// `manual` (default): `entry`/`exit`; `bertram` or `bertram-sharpe`:
    /// Bertram's optimal bands for the spread's OU fit at the round-trip
    /// cost (maximising return or Sharpe per unit time), held to the
    /// opposite band.
    pub bands: Option<crate::model::pair::BandRule>,
    pub venue: Option<Venue>,
}

fn run_pair(st: &AppState, venue: Venue, q: PairQuery) -> Result<PairAnalytics, ApiError> {
    if let Some(t) = q.to {
        ts_param(t, "to")?;
    }
    if q.bars > crate::model::pair::MAX_BARS {
        return Err(ApiError::bad_param(
            "bars",
            format!("expected 10 to {}", crate::model::pair::MAX_BARS),
        ));
    }
    check_cost(q.bars, &q.options)?;
    let a = crate::services::pair::pair_analytics(st.store.as_ref(), venue, q).map_err(
        |e| match e {
            crate::model::pair::PairError::UnknownSymbol(s) => ApiError::unknown_symbol(&s, "x"),
            other => other.into(),
        },
    )?;
    check_report(&a.report)?;
    Ok(a)
}

/// Pair analytics on stored bars (exactly what the dashboard shows).
#[utoipa::path(get, path = "/api/v1/pair", tag = "analytics", params(PairParams),
    responses((status = 200, body = PairAnalytics),
        (status = 400, body = ErrorBody, description = "bad parameter"),
        (status = 404, body = ErrorBody, description = "unknown symbol"),
        (status = 422, body = ErrorBody, description = "stored data the analytics cannot use")))]
pub async fn pair_get(
    State(st): St,
    ApiQuery(p): ApiQuery<PairParams>,
) -> ApiResult<PairAnalytics> {
    let (q, venue) = pair_query(&st, p);
    Ok(Json(blocking(move || run_pair(&st, venue, q)).await?))
}

/// The dashboard's pair as CSV: one row per bar with both closes and every
/// series the charts draw (the coefficients known at that bar, spread,
/// z-score, rolling correlation, backtest equity).
#[utoipa::path(get, path = "/api/v1/pair.csv", tag = "analytics", params(PairParams),
    responses((status = 200, content_type = "text/csv", body = String, description = "CSV with a header row"),
        (status = 400, body = ErrorBody, description = "bad parameter"),
        (status = 404, body = ErrorBody, description = "unknown symbol"),
        (status = 422, body = ErrorBody, description = "stored data the analytics cannot use")))]
pub async fn pair_csv(
    State(st): St,
    ApiQuery(p): ApiQuery<PairParams>,
) -> Result<axum::response::Response, ApiError> {
    let (q, venue) = pair_query(&st, p);
    let a = blocking(move || run_pair(&st, venue, q)).await?;
    let name = format!(
        "pairdesk-{}-{}-{}.csv",
        a.query.y, a.query.x, a.query.timeframe
    );
    let body =
        crate::services::pair::pair_csv(&a).map_err(|e| ApiError::internal("writing CSV", e))?;
    Ok(csv_response(body, &name))
}

fn pair_query(st: &AppState, p: PairParams) -> (PairQuery, Venue) {
    let venue = p.venue.unwrap_or(st.venue);
    (pair_params_query(p, st.config.timeframe), venue)
}

/// `GET /api/v1/pair`'s flat parameters as a [`PairQuery`] (the venue is
/// the caller's: `p.venue` or its default); `pairdesk backtest` takes the
/// same parameters through this.
pub fn pair_params_query(p: PairParams, default_tf: Timeframe) -> PairQuery {
    let mut q = PairQuery {
        x: p.x,
        y: p.y,
        timeframe: p.timeframe.unwrap_or(default_tf),
        to: p.to,
        ..PairQuery::default()
    };
    macro_rules! set {
        ($($src:ident => $($dst:ident).+),*) => { $(if let Some(v) = p.$src { q.$($dst).+ = v; })* };
    }
    set!(bars => bars, ffill => ffill, corr_window => corr_window, price => price,
        regression => options.regression, prices => options.prices, z_window => options.z_window,
        entry => options.entry, exit => options.exit, notional => backtest.notional,
        fill => backtest.fill, sizing => backtest.sizing, half_spread_bps => backtest.half_spread_bps,
        slippage_bps => backtest.slippage_bps, bands => bands);
    q.fee_bps = p.fee_bps;
    q.options.window = p.window;
    q.backtest.stop_pct = p.stop_pct;
    q.backtest.max_hold_bars = p.max_hold_bars;
    q.walk_forward = walk_forward_of(p.wf_train, p.wf_test);
    q
}

/// `wf_train` and `wf_test` as a walk-forward; one without the other
/// arrives with a 0 for the query's validation to refuse by name.
fn walk_forward_of(
    train: Option<usize>,
    test: Option<usize>,
) -> Option<crate::analytics::WalkForward> {
    match (train, test) {
        (None, None) => None,
        (train, test) => Some(crate::analytics::WalkForward {
            train: train.unwrap_or(0),
            test: test.unwrap_or(0),
        }),
    }
}

/// Pair analytics on stored bars, the query as JSON.
#[utoipa::path(post, path = "/api/v1/pair", tag = "analytics", request_body = PairQuery,
    responses((status = 200, body = PairAnalytics),
        (status = 400, body = ErrorBody, description = "bad parameter or malformed JSON"),
        (status = 404, body = ErrorBody, description = "unknown symbol"),
        (status = 413, body = ErrorBody, description = "body too large"),
        (status = 415, body = ErrorBody, description = "not JSON"),
        (status = 422, body = ErrorBody, description = "stored data the analytics cannot use")))]
pub async fn pair_post(State(st): St, ApiJson(q): ApiJson<PairQuery>) -> ApiResult<PairAnalytics> {
    let venue = st.venue;
    Ok(Json(blocking(move || run_pair(&st, venue, q)).await?))
}

// ---------------------------------------------------------------- baskets

/// Query of `GET /api/v1/johansen`: a basket of stored symbols.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JohansenParams {
    /// 2 to 12 stored symbols, comma-separated, e.g. BTCUSDT,ETHUSDT,SOLUSDT.
    #[param(example = "BTCUSDT,ETHUSDT,SOLUSDT")]
    pub symbols: String,
    pub timeframe: Option<Timeframe>,
    /// Bars ending at `to`, 30 to 50000. Default 600.
    #[param(minimum = 30, maximum = 50000)]
    pub bars: Option<usize>,
    /// End of the range, epoch ms (exclusive). Default: the latest tick.
    #[param(minimum = 0, maximum = 253402300799999_i64)]
    pub to: Option<i64>,
    /// -1 none, 0 a constant (default), 1 a linear trend.
    #[param(minimum = -1, maximum = 1)]
    pub det_order: Option<i32>,
    /// Lagged differences, 0 to 24. Default 1.
    #[param(minimum = 0, maximum = 24)]
    pub k_ar_diff: Option<usize>,
    /// `log` (default) or `raw` prices.
    pub prices: Option<crate::analytics::PriceScale>,
    /// Taker fee of each leg, bp (default: the venue's base tier).
    #[param(minimum = 0, maximum = 1000)]
    pub fee_bps: Option<f64>,
    /// Half spread assumed on each fill, bp (0.5).
    #[param(minimum = 0, maximum = 1000)]
    pub half_spread_bps: Option<f64>,
    /// Backtest: the rolling OLS hedge's window, legs + 2 to `bars` (200).
    #[param(minimum = 4, maximum = 50000)]
    pub window: Option<usize>,
    /// Backtest: the z-score window over the rolling spread, 2 to `bars` (60).
    #[param(minimum = 2, maximum = 50000)]
    pub z_window: Option<usize>,
    /// Backtest: enter beyond |z| > entry (2), exit inside |z| < exit (0.5).
    #[param(exclusive_minimum = 0, maximum = 10)]
    pub entry: Option<f64>,
    #[param(minimum = 0, maximum = 10)]
    pub exit: Option<f64>,
    /// Backtest: gross notional per position, quote currency (10000).
    #[param(exclusive_minimum = 0, maximum = 1e12)]
    pub notional: Option<f64>,
    /// Backtest: `next-open` (default), `next-close` or `next-quote`.
    pub fill: Option<crate::analytics::FillAt>,
    /// Backtest: slippage beyond the touch on every fill, bp (0).
    #[param(minimum = 0, maximum = 1000)]
    pub slippage_bps: Option<f64>,
    /// Backtest: stop on a trade's PnL, percent of its notional.
    #[param(exclusive_minimum = 0, maximum = 100)]
    pub stop_pct: Option<f64>,
    /// Backtest: close a position held this many bars.
    #[param(minimum = 1)]
    pub max_hold_bars: Option<usize>,
    /// Backtest: walk-forward training and test windows (bars), both or
    /// neither: each training window's OLS weights and spread moments
    /// trade the test window after it, instead of the rolling hedge.
    #[param(minimum = 1)]
    pub wf_train: Option<usize>,
    #[param(minimum = 1)]
    pub wf_test: Option<usize>,
    pub venue: Option<Venue>,
}

/// `GET /api/v1/johansen`'s parameters as a [`BasketQuery`](crate::model::basket::BasketQuery)
/// (the venue is the caller's); `pairdesk basket` takes the same.
/// Without `window` or `z_window`, the defaults shrink with a short range
/// (`BasketQuery::default_windows`), so any valid `bars` backtests.
pub fn basket_params_query(
    p: JohansenParams,
    default_tf: Timeframe,
) -> crate::model::basket::BasketQuery {
    let d = crate::model::basket::BasketQuery::default();
    let symbols: Vec<String> = crate::domain::split_symbols(&p.symbols);
    let bars = p.bars.unwrap_or(d.bars);
    let (window, z_window) =
        crate::model::basket::BasketQuery::default_windows(bars, symbols.len());
    crate::model::basket::BasketQuery {
        window: p.window.unwrap_or(window),
        z_window: p.z_window.unwrap_or(z_window),
        symbols,
        timeframe: p.timeframe.unwrap_or(default_tf),
        bars,
        to: p.to,
        det_order: p.det_order.unwrap_or(d.det_order),
        k_ar_diff: p.k_ar_diff.unwrap_or(d.k_ar_diff),
        prices: p.prices.unwrap_or(d.prices),
        fee_bps: p.fee_bps,
        half_spread_bps: p.half_spread_bps.unwrap_or(d.half_spread_bps),
        entry: p.entry.unwrap_or(d.entry),
        exit: p.exit.unwrap_or(d.exit),
        backtest: crate::analytics::BacktestOptions {
            notional: p.notional.unwrap_or(d.backtest.notional),
            fill: p.fill.unwrap_or(d.backtest.fill),
            slippage_bps: p.slippage_bps.unwrap_or(d.backtest.slippage_bps),
            stop_pct: p.stop_pct,
            max_hold_bars: p.max_hold_bars,
            ..d.backtest
        },
        walk_forward: walk_forward_of(p.wf_train, p.wf_test),
    }
}

/// A basket of stored symbols on the bars where every leg traded (log
/// prices by default): the Johansen test as
/// `statsmodels.tsa.vector_ar.vecm.coint_johansen`, hedge weights from OLS
/// of the first leg on the others (with standard errors) and from the
/// first eigenvector, the Engle-Granger test with N = legs, and the
/// Johansen-weighted spread with its diagnostics, OU fit and Bertram bands.
#[utoipa::path(get, path = "/api/v1/johansen", tag = "analytics", params(JohansenParams),
    responses((status = 200, body = crate::model::basket::BasketReport),
        (status = 400, body = ErrorBody, description = "bad parameter"),
        (status = 404, body = ErrorBody, description = "unknown symbol"),
        (status = 422, body = ErrorBody, description = "stored data the test cannot use")))]
pub async fn johansen_get(
    State(st): St,
    ApiQuery(p): ApiQuery<JohansenParams>,
) -> ApiResult<crate::model::basket::BasketReport> {
    let (q, venue) = basket_query(&st, p)?;
    let store = st.store.clone();
    let r = blocking(move || {
        crate::services::basket::basket_johansen(store.as_ref(), venue, q).map_err(basket_error)
    })
    .await?;
    Ok(Json(r))
}

/// `GET /api/v1/johansen`'s parameters as a query on the caller's venue,
/// its `to` checked.
fn basket_query(
    st: &AppState,
    p: JohansenParams,
) -> Result<(crate::model::basket::BasketQuery, Venue), ApiError> {
    if let Some(t) = p.to {
        ts_param(t, "to")?;
    }
    let venue = p.venue.unwrap_or(st.venue);
    Ok((basket_params_query(p, st.config.timeframe), venue))
}

/// A basket's failure as the API answers it: an unknown leg names the
/// `symbols` parameter.
fn basket_error(e: crate::model::pair::PairError) -> ApiError {
    match e {
        crate::model::pair::PairError::UnknownSymbol(s) => ApiError::unknown_symbol(&s, "symbols"),
        other => other.into(),
    }
}

/// The basket as CSV: one row per aligned bar with every leg's close, the
/// Johansen-weighted spread, and the backtest's z-score, position and
/// equity (the parameters of `GET /api/v1/johansen`).
#[utoipa::path(get, path = "/api/v1/johansen.csv", tag = "analytics", params(JohansenParams),
    responses((status = 200, content_type = "text/csv", body = String, description = "CSV with a header row"),
        (status = 400, body = ErrorBody, description = "bad parameter"),
        (status = 404, body = ErrorBody, description = "unknown symbol"),
        (status = 422, body = ErrorBody, description = "stored data the test cannot use")))]
pub async fn johansen_csv(
    State(st): St,
    ApiQuery(p): ApiQuery<JohansenParams>,
) -> Result<axum::response::Response, ApiError> {
    let (mut q, venue) = basket_query(&st, p)?;
    // Validated before its symbols name the file (a header value).
    q.validate()?;
    let name = format!(
        "pairdesk-basket-{}-{}.csv",
        q.symbols.join("-"),
        q.timeframe
    );
    let store = st.store.clone();
    let body = blocking(move || {
        crate::services::basket::basket_csv(store.as_ref(), venue, q).map_err(basket_error)
    })
    .await?;
    Ok(csv_response(body, &name))
}

/// Posted series for the Johansen test.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JohansenRequest {
    /// 2 to 12 series of equal length (levels, e.g. log prices), at most
    /// 20,000 points each.
    pub legs: Vec<Vec<f64>>,
    /// -1 none, 0 a constant (default), 1 a linear trend.
    #[serde(default)]
    pub det_order: i32,
    /// Lagged differences (default 1).
    #[serde(default = "one")]
    pub k_ar_diff: usize,
}

fn one() -> usize {
    1
}

/// The Johansen test on posted series (`coint_johansen(data, det_order,
/// k_ar_diff)`): eigenvalues, eigenvectors, trace and maximum-eigenvalue
/// statistics with their 90/95/99% critical values, the ranks selected.
#[utoipa::path(post, path = "/api/v1/johansen", tag = "analytics", request_body = JohansenRequest,
    responses((status = 200, body = crate::analytics::johansen::JohansenResult),
        (status = 400, body = ErrorBody, description = "bad parameter or malformed JSON"),
        (status = 413, body = ErrorBody, description = "body over 1 MiB"),
        (status = 415, body = ErrorBody, description = "not JSON"),
        (status = 422, body = ErrorBody, description = "series the test cannot use")))]
pub async fn johansen_post(
    ApiJson(req): ApiJson<JohansenRequest>,
) -> ApiResult<crate::analytics::johansen::JohansenResult> {
    if let Some(l) = req.legs.iter().find(|l| l.len() > MAX_POINTS) {
        return Err(ApiError::bad_param(
            "legs",
            format!("at most {MAX_POINTS} points a leg, got {}", l.len()),
        ));
    }
    let r = blocking(move || {
        let legs: Vec<&[f64]> = req.legs.iter().map(Vec::as_slice).collect();
        Ok(crate::analytics::johansen::coint_johansen(
            &legs,
            req.det_order,
            req.k_ar_diff,
        )?)
    })
    .await?;
    Ok(Json(r))
}

// ---------------------------------------------------------------- paper

impl From<PaperError> for ApiError {
    fn from(e: PaperError) -> Self {
        match e {
            PaperError::Pair(e) => e.into(),
            PaperError::NotFound(_) => ApiError::not_found(e.to_string()),
            PaperError::TooMany => ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            PaperError::Store(e) => e.into(),
        }
    }
}

fn session_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| {
        ApiError::bad_param("id", format!("expected an integer session id, got {id:?}"))
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PaperBooks {
    pub sessions: Vec<PaperBook>,
}

/// Paper-trading sessions with their position, PnL and newest fills.
#[utoipa::path(get, path = "/api/v1/paper", tag = "paper trading",
    responses((status = 200, body = PaperBooks)))]
pub async fn list_paper(State(st): St) -> ApiResult<PaperBooks> {
    let store = st.store.clone();
    let sessions =
        blocking(move || Ok(crate::services::paper::paper_books(store.as_ref())?)).await?;
    Ok(Json(PaperBooks { sessions }))
}

/// Start paper trading a pair's rule live: the body is the `PairQuery` of
/// `POST /api/v1/pair` (pair, bar size, model, thresholds, `backtest`
/// settings, `fee_bps`), without `to` or `walk_forward`.
#[utoipa::path(post, path = "/api/v1/paper", tag = "paper trading", request_body = PairQuery,
    responses((status = 201, body = PaperSession),
        (status = 400, body = ErrorBody, description = "bad parameter or malformed JSON"),
        (status = 404, body = ErrorBody, description = "a leg was never stored"),
        (status = 409, body = ErrorBody, description = "too many sessions running"),
        (status = 413, body = ErrorBody, description = "body over 16 KiB"),
        (status = 415, body = ErrorBody, description = "not JSON")))]
pub async fn start_paper(
    State(st): St,
    ApiJson(q): ApiJson<PairQuery>,
) -> Result<impl IntoResponse, ApiError> {
    start_traded(st, Traded::Pair(q)).await
}

/// Start paper trading a basket's rule live: the body is a `BasketQuery`
/// (the parameters of `GET /api/v1/johansen` as JSON: `symbols`, bar size,
/// the rolling hedge's `window` and `z_window`, thresholds, `backtest`
/// settings, `fee_bps`, `half_spread_bps`), without `to` or
/// `walk_forward`. It trades as the basket's backtest does.
#[utoipa::path(post, path = "/api/v1/paper/basket", tag = "paper trading",
    request_body = crate::model::basket::BasketQuery,
    responses((status = 201, body = PaperSession),
        (status = 400, body = ErrorBody, description = "bad parameter or malformed JSON"),
        (status = 404, body = ErrorBody, description = "a leg was never stored"),
        (status = 409, body = ErrorBody, description = "too many sessions running"),
        (status = 413, body = ErrorBody, description = "body over 16 KiB"),
        (status = 415, body = ErrorBody, description = "not JSON")))]
pub async fn start_paper_basket(
    State(st): St,
    ApiJson(q): ApiJson<crate::model::basket::BasketQuery>,
) -> Result<impl IntoResponse, ApiError> {
    start_traded(st, Traded::Basket(q)).await
}

async fn start_traded(st: Arc<AppState>, traded: Traded) -> Result<impl IntoResponse, ApiError> {
    let (store, venue) = (st.store.clone(), st.venue);
    let now = crate::ingest::now_ms();
    let s = blocking(move || {
        Ok(crate::services::paper::start_session(
            store.as_ref(),
            venue,
            traded,
            now,
        )?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// One session's book: position, realized and unrealized PnL, fees,
/// funding, the pending order, the newest 50 fills and orders.
#[utoipa::path(get, path = "/api/v1/paper/{id}", tag = "paper trading",
    params(("id" = i64, Path, description = "session id")),
    responses((status = 200, body = PaperBook),
        (status = 400, body = ErrorBody, description = "id is not an integer"),
        (status = 404, body = ErrorBody, description = "no such session")))]
pub async fn get_paper(State(st): St, Path(id): Path<String>) -> ApiResult<PaperBook> {
    let id = session_id(&id)?;
    let store = st.store.clone();
    let book =
        blocking(move || Ok(crate::services::paper::paper_book(store.as_ref(), id)?)).await?;
    Ok(Json(book))
}

/// Stop a session: its position is flattened at the next book update,
/// then it trades no more (its fills stay).
#[utoipa::path(post, path = "/api/v1/paper/{id}/stop", tag = "paper trading",
    params(("id" = i64, Path, description = "session id")),
    responses((status = 200, body = PaperSession),
        (status = 400, body = ErrorBody, description = "id is not an integer"),
        (status = 404, body = ErrorBody, description = "no such session")))]
pub async fn stop_paper(State(st): St, Path(id): Path<String>) -> ApiResult<PaperSession> {
    let id = session_id(&id)?;
    let store = st.store.clone();
    let now = crate::ingest::now_ms();
    let s = blocking(move || {
        Ok(crate::services::paper::stop_session(
            store.as_ref(),
            id,
            now,
        )?)
    })
    .await?;
    Ok(Json(s))
}

// ---------------------------------------------------------------- alerts

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertRules {
    pub rules: Vec<StoredRule>,
}

/// Stored alert rules.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts",
    responses((status = 200, body = AlertRules)))]
pub async fn list_alerts(State(st): St) -> ApiResult<AlertRules> {
    let store = st.store.clone();
    let rules = blocking(move || Ok(store.list_rules()?)).await?;
    Ok(Json(AlertRules { rules }))
}

/// Store an alert rule.
#[utoipa::path(post, path = "/api/v1/alerts", tag = "alerts", request_body = AlertRule,
    responses((status = 201, body = StoredRule),
        (status = 400, body = ErrorBody, description = "bad rule or malformed JSON"),
        (status = 413, body = ErrorBody, description = "body over 16 KiB"),
        (status = 415, body = ErrorBody, description = "not JSON")))]
pub async fn create_alert(
    State(st): St,
    ApiJson(rule): ApiJson<AlertRule>,
) -> Result<impl IntoResponse, ApiError> {
    let (store, policy) = (st.store.clone(), st.webhooks.policy());
    let now = crate::ingest::now_ms();
    let stored = blocking(move || {
        create_rule(store.as_ref(), policy, rule, now).map_err(|e| match e {
            AlertError::Invalid { field, .. } => ApiError::bad_param(field, e.to_string()),
            AlertError::Store(e) => e.into(),
        })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// Delete an alert rule.
#[utoipa::path(delete, path = "/api/v1/alerts/{id}", tag = "alerts",
    params(("id" = i64, Path, description = "rule id")),
    responses((status = 204, description = "deleted"),
        (status = 400, body = ErrorBody, description = "id is not an integer"),
        (status = 404, body = ErrorBody, description = "no such rule")))]
pub async fn delete_alert(State(st): St, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let id: i64 = id.parse().map_err(|_| {
        ApiError::bad_param("id", format!("expected an integer rule id, got {id:?}"))
    })?;
    let store = st.store.clone();
    if blocking(move || Ok(store.delete_rule(id)?)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no alert rule {id}")))
    }
}

/// Query of `GET /api/v1/alert-events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only events of this rule.
    pub rule_id: Option<i64>,
    /// Only events fired at or after this time, epoch ms.
    pub since: Option<i64>,
    /// Most events returned (newest first), 1 to 1000. Default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertEvents {
    pub events: Vec<AlertEvent>,
}

/// Fired alerts, newest first.
#[utoipa::path(get, path = "/api/v1/alert-events", tag = "alerts", params(EventsQuery),
    responses((status = 200, body = AlertEvents),
        (status = 400, body = ErrorBody, description = "bad parameter")))]
pub async fn alert_events(
    State(st): St,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<AlertEvents> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_param(
            "limit",
            format!("expected 1 to 1000, got {limit}"),
        ));
    }
    let store = st.store.clone();
    let events =
        blocking(move || Ok(store.list_events(q.rule_id, q.since, limit as usize)?)).await?;
    Ok(Json(AlertEvents { events }))
}

// ---------------------------------------------------------------- status

/// Ingestion status and the most recent gaps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusResponse {
    pub status: StatusSnapshot,
    /// The 100 most recent gaps, newest first.
    pub gaps: Vec<GapInfo>,
}

/// Ingestion status: source, connection, counters, rates, gaps.
#[utoipa::path(get, path = "/api/v1/status", tag = "operations",
    responses((status = 200, body = StatusResponse)))]
pub async fn status(State(st): St) -> ApiResult<StatusResponse> {
    let store = st.store.clone();
    let gaps = blocking(move || Ok(store.recent_gaps(100)?)).await?;
    Ok(Json(StatusResponse {
        status: st.status(),
        gaps,
    }))
}

// ---------------------------------------------------------------- health

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    /// The writer runs and the database accepts a write lock.
    pub database_writable: bool,
    /// The market source is connected (always true for a replay file).
    pub source_connected: bool,
    /// Why not ready, when not.
    pub reasons: Vec<String>,
}

/// Can the database take a write right now? Takes and releases the write
/// lock; the writer's own failures are reported through its stats.
fn db_writable(st: &AppState) -> Result<(), String> {
    match st.writer_tx.upgrade() {
        Some(tx) if !tx.is_closed() => {}
        _ => return Err("the database writer has stopped".into()),
    }
    if let Ok(e) = st.writer_stats.last_error.lock() {
        if let Some(e) = e.as_ref() {
            return Err(format!("last commit failed: {e}"));
        }
    }
    st.store.check_writable().map_err(|e| e.to_string())
}

/// Readiness: database writable and market source connected (503 if not).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(st): St) -> (StatusCode, Json<Readiness>) {
    let s = st.clone();
    let db = tokio::task::spawn_blocking(move || db_writable(&s))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    let replay = st.source_label.starts_with("replay");
    let connected = replay
        || st
            .pipeline
            .metrics
            .connected
            .load(std::sync::atomic::Ordering::Relaxed);
    let mut reasons = Vec::new();
    if let Err(e) = &db {
        reasons.push(e.clone());
    }
    if !connected {
        reasons.push(format!("source {} is not connected", st.source_label));
    }
    let r = Readiness {
        ready: reasons.is_empty(),
        database_writable: db.is_ok(),
        source_connected: connected,
        reasons,
    };
    let code = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(r))
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(st): St) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::api::metrics::render(&st),
    )
}
