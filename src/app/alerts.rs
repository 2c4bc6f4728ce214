//! Alerts in the page: create and remove rules for the current pair (or a
//! basket typed in), the history of fired alerts, and toasts for alerts
//! pushed live.

use crate::api::server_fns::{
    add_alert_rule, delete_alert_rule, list_alert_events, list_alert_rules,
};
use crate::model::alerts::{AlertEvent, AlertRule, Metric, Op, PairRef};
use leptos::prelude::*;

fn metric_from(s: &str) -> Metric {
    match s {
        "spread" => Metric::Spread,
        "price" => Metric::Price,
        "correlation" => Metric::Correlation,
        "pvalue" => Metric::Pvalue,
        _ => Metric::Zscore,
    }
}

fn op_from(s: &str) -> Op {
    match s {
        "below" => Op::Below,
        "crosses" => Op::Crosses,
        _ => Op::Above,
    }
}

#[component]
pub fn AlertsPanel(x: Signal<String>, y: Signal<String>, fired: RwSignal<u64>) -> impl IntoView {
    let metric = RwSignal::new("zscore".to_string());
    let op = RwSignal::new("above".to_string());
    let value = RwSignal::new("2".to_string());
    let webhook = RwSignal::new(String::new());
    let basket = RwSignal::new(String::new());
    let message = RwSignal::new(None::<String>);
    let changed = RwSignal::new(0u64);
    let rules = Resource::new(move || changed.get(), |_| list_alert_rules());
    let events = Resource::new(
        move || (changed.get(), fired.get()),
        |_| list_alert_events(),
    );
    let add = Action::new(move |rule: &AlertRule| {
        let rule = rule.clone();
        async move { add_alert_rule(rule).await }
    });
    let del = Action::new(move |id: &i64| {
        let id = *id;
        async move { delete_alert_rule(id).await }
    });
    Effect::new(move |_| {
        if let Some(r) = add.value().get() {
            message.set(r.err().map(|e| super::server_error(&e)));
            changed.update(|n| *n += 1);
        }
    });
    Effect::new(move |_| {
        if del.value().get().is_some() {
            changed.update(|n| *n += 1);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(v) = value.get_untracked().trim().parse::<f64>() else {
            message.set(Some("value: expected a number".into()));
            return;
        };
        let hook = webhook.get_untracked();
        // Legs typed in watch that basket; none, the pair in view.
        let legs = crate::domain::split_symbols(&basket.get_untracked());
        let (pair, basket) = if legs.is_empty() {
            (
                Some(PairRef {
                    x: x.get_untracked(),
                    y: y.get_untracked(),
                }),
                None,
            )
        } else {
            (None, Some(legs))
        };
        add.dispatch(AlertRule {
            pair,
            basket,
            metric: metric_from(&metric.get_untracked()),
            op: op_from(&op.get_untracked()),
            value: v,
            webhook: (!hook.trim().is_empty()).then(|| hook.trim().to_string()),
        });
    };
    view! {
        <section class="alerts" aria-label="Alerts">
            <h3>"Alerts " <span class="hint-inline">{move || format!("on {}/{}", y.get(), x.get())}</span></h3>
            <form class="alert-form" on:submit=submit>
                <select aria-label="Metric" data-testid="alert-metric" on:change=move |ev| metric.set(event_target_value(&ev))>
                    <option value="zscore">"z-score"</option>
                    <option value="spread">"spread"</option>
                    <option value="price">"price (y)"</option>
                    <option value="correlation">"correlation"</option>
                    <option value="pvalue">"coint p-value"</option>
                </select>
                <select aria-label="Condition" data-testid="alert-op" on:change=move |ev| op.set(event_target_value(&ev))>
                    <option value="above">"above"</option>
                    <option value="below">"below"</option>
                    <option value="crosses">"crosses"</option>
                </select>
                <input aria-label="Value" data-testid="alert-value" size="6" prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
                <input aria-label="Basket legs (optional)" data-testid="alert-basket" placeholder="basket legs (optional)" size="14" title="Comma-separated symbols to watch as a basket (its rolling-hedge z-score, Johansen spread, first leg's price or Engle-Granger p); blank: the pair in view" prop:value=move || basket.get() on:input=move |ev| basket.set(event_target_value(&ev)) />
                <input aria-label="Webhook URL (optional)" placeholder="webhook (optional)" size="14" prop:value=move || webhook.get() on:input=move |ev| webhook.set(event_target_value(&ev)) />
                <button type="submit" data-testid="alert-add">"Add"</button>
            </form>
            {move || message.get().map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
            <Transition fallback=|| ()>
                <ul class="rules" data-testid="alert-rules">
                    {move || Suspend::new(async move {
                        rules.await.unwrap_or_default().into_iter().map(|r| {
                            let id = r.id;
                            let text = format!("#{} {} {} {} {}", r.id, r.rule.subject(),
                                serde_json::to_value(r.rule.metric).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
                                serde_json::to_value(r.rule.op).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
                                r.rule.value);
                            view! {
                                <li>{text} " "
                                    <button class="link" aria-label=format!("Delete alert {id}") on:click=move |_| { del.dispatch(id); }>"✕"</button>
                                </li>
                            }
                        }).collect_view()
                    })}
                </ul>
                <table class="history" data-testid="alert-history">
                    <caption>"Fired"</caption>
                    <tbody>
                        {move || Suspend::new(async move {
                            events.await.unwrap_or_default().into_iter().take(12).map(|e| view! {
                                <tr><td>{super::format::hms(e.fired_ts)}</td><td>{e.message}</td></tr>
                            }).collect_view()
                        })}
                    </tbody>
                </table>
            </Transition>
        </section>
    }
}

/// Toasts for alerts pushed live; each disappears after a few seconds.
#[component]
pub fn Toasts(toasts: RwSignal<Vec<AlertEvent>>) -> impl IntoView {
    view! {
        <div class="toasts" aria-live="polite" data-testid="toasts">
            {move || toasts.get().into_iter().map(|e| view! { <div class="toast">"🔔 " {e.message}</div> }).collect_view()}
        </div>
    }
}
