//! Alerts as a service: accepting a rule (validated, its webhook under the
//! SSRF policy) and the engine that evaluates every stored rule on every
//! bar, on the server, whether or not a page is open.
//!
//! Each rule's pair is analysed with the same service as the dashboard (at
//! the configured timeframe, window and thresholds), each basket with the
//! basket service (its rolling hedge over the configured window); the
//! rule's metric is
//! compared with its previous value through the pure, edge-triggered
//! [`alerts::evaluate`]. A firing is stored as an alert event (live pages
//! pick it up from there and show a toast) and posted to the rule's webhook
//! if it has one.

use crate::config::Config;
use crate::domain::Venue;
use crate::model::alerts::{self, AlertEvent, AlertRule, Metric, StoredRule};
use crate::model::basket::{BasketQuery, BasketReport};
use crate::model::pair::{PairAnalytics, PairQuery};
use crate::services::basket::{basket_johansen, hedge_now};
use crate::services::pair::pair_analytics;
use crate::store::{Store, StoreError};
use crate::webhook::{WebhookPolicy, WebhookSender};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why a rule was not stored.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The rule is malformed; `field` names the JSON field.
    #[error("invalid `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validate (normalising the symbols), check the webhook against `policy`,
/// and store the rule; the engine evaluates it from the next bar. Blocks.
pub fn create_rule(
    store: &dyn Store,
    policy: WebhookPolicy,
    mut rule: AlertRule,
    now: i64,
) -> Result<StoredRule, AlertError> {
    rule.validate().map_err(|e| AlertError::Invalid {
        field: e.field,
        reason: e.reason,
    })?;
    if let Some(w) = &rule.webhook {
        crate::webhook::check_url(w, policy).map_err(|e| AlertError::Invalid {
            field: "webhook",
            reason: e.to_string(),
        })?;
    }
    Ok(store.insert_rule(&rule, now)?)
}

/// What the engine needs from the server.
#[derive(Clone)]
pub struct Engine {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    /// Venue the live source's ticks are stored under.
    pub venue: Venue,
    pub webhooks: WebhookSender,
}

/// The value of `metric` in a pair's latest analytics.
pub fn metric_value(metric: Metric, a: &PairAnalytics) -> Option<f64> {
    match metric {
        Metric::Zscore => a.z,
        Metric::Spread => a.report.spread.last().copied().flatten(),
        Metric::Price => a.py.last().copied(),
        Metric::Correlation => a.corr.last().copied().flatten(),
        Metric::Pvalue => Some(a.report.coint.pvalue),
    }
}

/// The value of `metric` in a basket's latest report (see [`Metric`]).
pub fn basket_metric_value(metric: Metric, r: &BasketReport) -> Option<f64> {
    match metric {
        Metric::Zscore => r.zscore.last().copied().flatten(),
        Metric::Spread => r.spread.last().copied(),
        // Read from the first leg's latest bar instead (evaluate_all).
        Metric::Price => None,
        // Refused for baskets by validation.
        Metric::Correlation => None,
        Metric::Pvalue => r.engle_granger.as_ref().and_then(|e| e.pvalue),
    }
}

fn describe(rule: &AlertRule, v: f64) -> String {
    format!(
        "{}: {} {} {} (now {v:.4})",
        rule.subject(),
        <&str>::from(rule.metric),
        <&str>::from(rule.op),
        rule.value
    )
}

/// Evaluate all rules once per bar until `shutdown` is cancelled.
pub async fn run(state: Engine, shutdown: CancellationToken) {
    let tf = state.config.timeframe;
    let period = Duration::from_millis(tf.millis().clamp(1000, 60_000) as u64);
    let mut timer = tokio::time::interval(period);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut prev: HashMap<i64, Option<f64>> = HashMap::new();
    loop {
        tokio::select! {
            _ = timer.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let st = state.clone();
        let result = tokio::task::spawn_blocking(move || evaluate_all(&st)).await;
        let Ok(Ok(values)) = result else {
            continue;
        };
        let now = crate::ingest::now_ms();
        for (id, rule, cur) in values {
            let before = prev.insert(id, cur).flatten();
            if !alerts::evaluate(&rule, before, cur) {
                continue;
            }
            let msg = describe(&rule, cur.unwrap_or(f64::NAN));
            let store = state.store.clone();
            let m = msg.clone();
            let stored = tokio::task::spawn_blocking(move || store.record_event(id, now, &m)).await;
            let event_id = match stored {
                Ok(Ok(eid)) => eid,
                _ => {
                    tracing::error!(rule = id, "could not store an alert event");
                    continue;
                }
            };
            tracing::info!(rule = id, message = %msg, "alert fired");
            let ev = AlertEvent {
                id: event_id,
                rule_id: id,
                fired_ts: now,
                message: msg,
            };
            if let Some(url) = rule.webhook.clone() {
                let hooks = state.webhooks.clone();
                tokio::spawn(async move {
                    if let Err(e) = hooks.post(&url, &ev).await {
                        tracing::warn!(rule = ev.rule_id, reason = e.reason(), error = %e, "alert webhook failed");
                    }
                });
            }
        }
    }
}

type Evaluated = Vec<(i64, AlertRule, Option<f64>)>;

/// Current metric values for every rule (one analysis per distinct pair).
fn evaluate_all(state: &Engine) -> Result<Evaluated, StoreError> {
    let store = state.store.as_ref();
    let rules = store.list_rules()?;
    let c = &state.config;
    let mut cache: HashMap<(String, String), Option<PairAnalytics>> = HashMap::new();
    let mut baskets: HashMap<Vec<String>, Option<BasketReport>> = HashMap::new();
    let mut hedges: HashMap<Vec<String>, Option<f64>> = HashMap::new();
    let bars = (c.window.max(c.z_window) * 2).clamp(100, 5000);
    let mut out = Vec::with_capacity(rules.len());
    for r in rules {
        if r.rule.metric == Metric::Price {
            // A price needs no model: read the leg's latest trade directly.
            let last = match r.rule.price_symbol() {
                Some(sym) => store
                    .tail_bars(state.venue, sym, c.timeframe, 1)?
                    .and_then(|b| b.last().map(|b| b.close)),
                None => None,
            };
            out.push((r.id, r.rule, last));
            continue;
        }
        if let Some(legs) = &r.rule.basket {
            let q = BasketQuery {
                symbols: legs.clone(),
                timeframe: c.timeframe,
                bars,
                window: c.window.clamp(legs.len() + 2, bars),
                z_window: c.z_window.min(bars),
                ..BasketQuery::default()
            };
            let v = if r.rule.metric == Metric::Zscore {
                // The rolling hedge's z alone: no Johansen test, fits or
                // backtest for it.
                let z = hedges.entry(legs.clone()).or_insert_with(|| {
                    let mut q = q;
                    q.validate().ok()?;
                    hedge_now(store, state.venue, &q).ok().flatten()?.z
                });
                *z
            } else {
                baskets
                    .entry(legs.clone())
                    .or_insert_with(|| basket_johansen(store, state.venue, q).ok())
                    .as_ref()
                    .and_then(|rep| basket_metric_value(r.rule.metric, rep))
            };
            out.push((r.id, r.rule, v));
            continue;
        }
        let Some(pair) = &r.rule.pair else {
            out.push((r.id, r.rule, None));
            continue;
        };
        let key = (pair.x.clone(), pair.y.clone());
        let a = cache.entry(key.clone()).or_insert_with(|| {
            let mut q = PairQuery {
                x: key.0.clone(),
                y: key.1.clone(),
                timeframe: c.timeframe,
                bars,
                ..PairQuery::default()
            };
            q.options.window = Some(c.window.min(q.bars));
            q.options.z_window = c.z_window.min(q.bars);
            q.options.entry = c.z_entry;
            q.options.exit = c.z_exit;
            q.corr_window = c.z_window.min(q.bars);
            pair_analytics(store, state.venue, q).ok()
        });
        let v = a.as_ref().and_then(|a| metric_value(r.rule.metric, a));
        out.push((r.id, r.rule, v));
    }
    Ok(out)
}
