//! Server functions the dashboard calls: status, bars, view defaults.

use crate::domain::StatusSnapshot;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Defaults the page starts from (from Leptos.toml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewDefaults {
    pub symbols: Vec<String>,
    pub timeframe: String,
    pub window: usize,
    pub z_window: usize,
    pub z_entry: f64,
    pub z_exit: f64,
}

#[server]
pub async fn get_status() -> Result<StatusSnapshot, ServerFnError> {
    let state = ssr::state()?;
    Ok(state.status())
}

#[server]
pub async fn get_view_defaults() -> Result<ViewDefaults, ServerFnError> {
    let state = ssr::state()?;
    let c = &state.config;
    Ok(ViewDefaults {
        symbols: c.symbols.clone(),
        timeframe: c.timeframe.to_string(),
        window: c.window,
        z_window: c.z_window,
        z_entry: c.z_entry,
        z_exit: c.z_exit,
    })
}

#[cfg(feature = "ssr")]
mod ssr {
    use crate::state::AppState;
    use leptos::prelude::*;
    use std::sync::Arc;

    pub fn state() -> Result<Arc<AppState>, ServerFnError> {
        use_context::<Arc<AppState>>().ok_or_else(|| ServerFnError::new("server state missing"))
    }
}

/// Full pair analytics on stored bars (the same computation as the API).
#[server]
pub async fn get_pair(
    query: crate::model::pair::PairQuery,
    replay: bool,
) -> Result<crate::model::pair::PairView, ServerFnError> {
    let state = ssr::state()?;
    // Uploads and replays are stored under their own venue, never mixed with live data.
    let venue = if replay {
        crate::domain::Venue::Replay
    } else {
        state.venue
    };
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        crate::services::pair::pair_view(store.as_ref(), venue, query)
    })
    .await
    .map_err(|e| ServerFnError::new(e.to_string()))?
    .map_err(|e| ServerFnError::new(e.to_string()))
}

/// Symbols to offer: configured ones first, then any stored for this source.
#[server]
pub async fn get_symbols() -> Result<Vec<String>, ServerFnError> {
    let state = ssr::state()?;
    let venue = state.venue;
    let store = state.store.clone();
    let mut out = state.config.symbols.clone();
    let stored = tokio::task::spawn_blocking(move || store.symbols())
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    if let Some(subs) = &state.subscriptions {
        for s in subs.symbols().await {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    for (v, s) in stored {
        if v == venue && !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// Add a symbol to the live subscription (checked with the exchange first);
/// returns the symbols now streaming.
#[server]
pub async fn add_live_symbol(symbol: String) -> Result<Vec<String>, ServerFnError> {
    let state = ssr::state()?;
    let Some(subs) = &state.subscriptions else {
        return Err(ServerFnError::new(format!(
            "the source is {}, which has no live feed to add symbols to",
            state.source_label
        )));
    };
    subs.add(&symbol)
        .await
        .map(|a| a.symbols)
        .map_err(|e| ServerFnError::new(e.to_string()))
}

/// Stored alert rules, oldest first.
#[server]
pub async fn list_alert_rules() -> Result<Vec<crate::model::alerts::StoredRule>, ServerFnError> {
    let store = ssr::state()?.store.clone();
    tokio::task::spawn_blocking(move || store.list_rules())
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?
        .map_err(|e| ServerFnError::new(e.to_string()))
}

/// Validate and store a rule; the engine evaluates it from the next bar.
#[server]
pub async fn add_alert_rule(
    rule: crate::model::alerts::AlertRule,
) -> Result<crate::model::alerts::StoredRule, ServerFnError> {
    let st = ssr::state()?;
    let (store, policy) = (st.store.clone(), st.webhooks.policy());
    let now = crate::ingest::now_ms();
    tokio::task::spawn_blocking(move || {
        crate::services::alerts::create_rule(store.as_ref(), policy, rule, now)
    })
    .await
    .map_err(|e| ServerFnError::new(e.to_string()))?
    .map_err(|e| ServerFnError::new(e.to_string()))
}

#[server]
pub async fn delete_alert_rule(id: i64) -> Result<bool, ServerFnError> {
    let store = ssr::state()?.store.clone();
    tokio::task::spawn_blocking(move || store.delete_rule(id))
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?
        .map_err(|e| ServerFnError::new(e.to_string()))
}

/// The latest fired alerts, newest first.
#[server]
pub async fn list_alert_events() -> Result<Vec<crate::model::alerts::AlertEvent>, ServerFnError> {
    let store = ssr::state()?.store.clone();
    tokio::task::spawn_blocking(move || store.list_events(None, None, 50))
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?
        .map_err(|e| ServerFnError::new(e.to_string()))
}

/// Every paper-trading session's line for the panel, oldest first.
#[server]
pub async fn list_paper() -> Result<Vec<crate::model::paper::PaperLine>, ServerFnError> {
    let store = ssr::state()?.store.clone();
    tokio::task::spawn_blocking(move || {
        crate::services::paper::paper_books(store.as_ref())
            .map(|b| b.iter().map(crate::model::paper::PaperLine::from).collect())
    })
    .await
    .map_err(|e| ServerFnError::new(e.to_string()))?
    .map_err(|e| ServerFnError::new(e.to_string()))
}

/// Start paper trading the rule of a pair's or basket's `query` live.
#[server]
pub async fn start_paper(
    query: crate::model::paper::Traded,
) -> Result<crate::model::paper::PaperSession, ServerFnError> {
    let st = ssr::state()?;
    let (store, venue) = (st.store.clone(), st.venue);
    let now = crate::ingest::now_ms();
    tokio::task::spawn_blocking(move || {
        crate::services::paper::start_session(store.as_ref(), venue, query, now)
    })
    .await
    .map_err(|e| ServerFnError::new(e.to_string()))?
    .map_err(|e| ServerFnError::new(e.to_string()))
}

/// Stop a session, flattening its position.
#[server]
pub async fn stop_paper(id: i64) -> Result<crate::model::paper::PaperSession, ServerFnError> {
    let store = ssr::state()?.store.clone();
    let now = crate::ingest::now_ms();
    tokio::task::spawn_blocking(move || {
        crate::services::paper::stop_session(store.as_ref(), id, now)
    })
    .await
    .map_err(|e| ServerFnError::new(e.to_string()))?
    .map_err(|e| ServerFnError::new(e.to_string()))
}

/// The basket report of a query, as `GET /api/v1/johansen` makes it
/// (the venue is the server's).
#[server]
pub async fn basket_report(
    query: crate::model::basket::BasketQuery,
) -> Result<crate::model::basket::BasketReport, ServerFnError> {
    let state = ssr::state()?;
    let q = query;
    let (store, venue) = (state.store.clone(), state.venue);
    tokio::task::spawn_blocking(move || {
        crate::services::basket::basket_johansen(store.as_ref(), venue, q)
    })
    .await
    .map_err(|e| ServerFnError::new(e.to_string()))?
    .map_err(|e| ServerFnError::new(e.to_string()))
}

/// Rank every pair of a watchlist (see `services::scanner`): the I(1)
/// screen when `screen`, Engle-Granger both ways, BH q-values, and the
/// optional volume, half-life and crossing filters, up to 5,000 bars; the
/// z-score window is the server's. `job`, an id the page picks, lets
/// [`scan_progress`] report on the scan while it runs.
#[server]
pub async fn scan_pairs(
    query: crate::model::scan::ScanQuery,
    job: Option<u64>,
) -> Result<crate::model::scan::ScanResult, ServerFnError> {
    let state = ssr::state()?;
    if !(30..=5000).contains(&query.bars) {
        return Err(ServerFnError::new(format!(
            "bars must be 30 to 5000, got {}",
            query.bars
        )));
    }
    let q = crate::model::scan::ScanQuery {
        z_window: state.config.z_window.min(query.bars),
        ..query
    };
    let (store, venue, cache) = (state.store.clone(), state.venue, state.scans.clone());
    let r = tokio::task::spawn_blocking(move || {
        let progress = cache.job(job);
        let r = crate::services::scanner::scan_cached(store.as_ref(), venue, q, &cache, &progress);
        progress.finish();
        r
    })
    .await
    .map_err(|e| ServerFnError::new(e.to_string()))?
    .map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok((*r).clone())
}

/// Where the scan started with `job` is (stage, items done and to do);
/// `None` once it is no longer remembered or before it started.
#[server]
pub async fn scan_progress(
    job: u64,
) -> Result<Option<crate::model::scan::ScanProgress>, ServerFnError> {
    Ok(ssr::state()?.scans.progress(job))
}
