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
    use crate::server::AppState;
    use leptos::prelude::*;
    use std::sync::Arc;

    pub fn state() -> Result<Arc<AppState>, ServerFnError> {
        use_context::<Arc<AppState>>().ok_or_else(|| ServerFnError::new("server state missing"))
    }
}

/// Full pair analytics on stored bars (the same computation as the API).
#[server]
pub async fn get_pair(
    query: crate::api::pair::PairQuery,
    replay: bool,
) -> Result<crate::api::pair::PairView, ServerFnError> {
    let state = ssr::state()?;
    // Uploads and replays are stored under their own venue, never mixed with live data.
    let venue = if replay {
        crate::domain::Venue::Replay
    } else {
        state.venue
    };
    let db = state.config.db.clone();
    tokio::task::spawn_blocking(move || crate::api::pair::pair_view(&db, venue, query))
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?
        .map_err(|e| ServerFnError::new(e.to_string()))
}

/// Symbols to offer: configured ones first, then any stored for this source.
#[server]
pub async fn get_symbols() -> Result<Vec<String>, ServerFnError> {
    let state = ssr::state()?;
    let venue = state.venue;
    let db = state.config.db.clone();
    let mut out = state.config.symbols.clone();
    let stored = tokio::task::spawn_blocking(move || {
        crate::store::open_reader(&db).and_then(|c| crate::store::query::symbols(&c))
    })
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
pub async fn list_alert_rules() -> Result<Vec<crate::api::alerts::StoredRule>, ServerFnError> {
    let db = ssr::state()?.config.db.clone();
    tokio::task::spawn_blocking(move || crate::api::alerts::store::list_rules(&db))
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?
        .map_err(|e| ServerFnError::new(e.to_string()))
}

/// Validate and store a rule; the engine evaluates it from the next bar.
#[server]
pub async fn add_alert_rule(
    rule: crate::api::alerts::AlertRule,
) -> Result<crate::api::alerts::StoredRule, ServerFnError> {
    let st = ssr::state()?;
    let db = st.config.db.clone();
    let mut rule = rule;
    rule.validate()
        .map_err(|e| ServerFnError::new(format!("invalid `{}`: {}", e.field, e.reason)))?;
    if let Some(w) = &rule.webhook {
        crate::webhook::check_url(w, st.webhooks.policy())
            .map_err(|e| ServerFnError::new(format!("invalid `webhook`: {e}")))?;
    }
    let now = crate::ingest::now_ms();
    tokio::task::spawn_blocking(move || crate::api::alerts::store::insert_rule(&db, &rule, now))
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?
        .map_err(|e| ServerFnError::new(e.to_string()))
}

#[server]
pub async fn delete_alert_rule(id: i64) -> Result<bool, ServerFnError> {
    let db = ssr::state()?.config.db.clone();
    tokio::task::spawn_blocking(move || crate::api::alerts::store::delete_rule(&db, id))
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?
        .map_err(|e| ServerFnError::new(e.to_string()))
}

/// The latest fired alerts, newest first.
#[server]
pub async fn list_alert_events() -> Result<Vec<crate::api::alerts::AlertEvent>, ServerFnError> {
    let db = ssr::state()?.config.db.clone();
    tokio::task::spawn_blocking(move || crate::api::alerts::store::list_events(&db, None, None, 50))
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?
        .map_err(|e| ServerFnError::new(e.to_string()))
}

/// Rank every pair of a watchlist (see [`crate::api::scan`]).
#[server]
pub async fn scan_pairs(
    symbols: Vec<String>,
    timeframe: String,
    bars: u32,
) -> Result<crate::api::scan::ScanResult, ServerFnError> {
    let state = ssr::state()?;
    let tf: crate::domain::Timeframe = timeframe.parse().map_err(ServerFnError::new)?;
    if !(30..=5000).contains(&bars) {
        return Err(ServerFnError::new(format!(
            "bars must be 30 to 5000, got {bars}"
        )));
    }
    let (db, venue, zw) = (state.config.db.clone(), state.venue, state.config.z_window);
    tokio::task::spawn_blocking(move || {
        crate::api::scan::scan(&db, venue, &symbols, tf, bars as usize, zw)
    })
    .await
    .map_err(|e| ServerFnError::new(e.to_string()))?
    .map_err(|e| ServerFnError::new(e.to_string()))
}
