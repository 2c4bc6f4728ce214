//! The paper-trading panel: start the rule on screen live on paper, and
//! every session's position, realized and unrealized PnL, fees and newest
//! fills, as the live push sends them (the server trades whether or not
//! the page is open); stop and flatten a session.

use crate::api::server_fns::{list_paper, start_paper, stop_paper};
use crate::model::pair::PairQuery;
use crate::model::paper::{PaperLine, SessionStatus};
use leptos::prelude::*;

fn money(v: f64) -> String {
    format!("{v:.2}")
}

fn side_text(l: &PaperLine) -> &'static str {
    match l.ledger.side {
        Some(crate::analytics::backtest::PositionSide::Long) => "long",
        Some(crate::analytics::backtest::PositionSide::Short) => "short",
        None => "flat",
    }
}

fn status_text(s: SessionStatus) -> &'static str {
    match s {
        SessionStatus::Active => "running",
        SessionStatus::Stopping => "stopping",
        SessionStatus::Stopped => "stopped",
    }
}

/// `lines` is written by the live push; the panel loads it once itself so
/// it shows at once.
#[component]
pub fn PaperPanel(
    query: Signal<PairQuery>,
    /// The view is live (not a historical range or a replay).
    live: Signal<bool>,
    lines: RwSignal<Option<Vec<PaperLine>>>,
) -> impl IntoView {
    let message = RwSignal::new(None::<String>);
    let loaded = Resource::new(|| (), |_| list_paper());
    Effect::new(move |_| {
        if let Some(Ok(l)) = loaded.get() {
            if lines.get_untracked().is_none() {
                lines.set(Some(l));
            }
        }
    });
    let start = Action::new(move |q: &PairQuery| {
        let q = crate::model::paper::Traded::Pair(q.clone());
        async move { start_paper(q).await }
    });
    let stop = Action::new(move |id: &i64| {
        let id = *id;
        async move { stop_paper(id).await }
    });
    let refresh = move || {
        leptos::task::spawn_local(async move {
            if let Ok(l) = list_paper().await {
                lines.set(Some(l));
            }
        });
    };
    Effect::new(move |_| {
        if let Some(r) = start.value().get() {
            message.set(match r {
                Ok(s) => Some(format!(
                    "session {} started: it trades from the next bar",
                    s.id
                )),
                Err(e) => Some(super::server_error(&e)),
            });
            refresh();
        }
    });
    Effect::new(move |_| {
        if let Some(r) = stop.value().get() {
            if let Err(e) = r {
                message.set(Some(super::server_error(&e)));
            }
            refresh();
        }
    });
    let rows = move || lines.get().unwrap_or_default();
    // Type-erased: the page's view type would otherwise outgrow the
    // compiler's depth limit.
    view! {
        <section class="paper" aria-label="Paper trading" data-testid="paper">
            <h3>"Paper trading"</h3>
            <p class="hint-inline">"The rule on screen, run live on the server at the next bar's prices (fees, spread, funding); positions survive a restart."</p>
            <button
                data-testid="paper-start"
                disabled=move || !live.get() || start.pending().get()
                title=move || if live.get() { "Trade this pair, bar size, model, thresholds and backtest settings live on paper".to_string() } else { "Only a live view can be paper traded (clear the historical range)".to_string() }
                on:click=move |_| { start.dispatch(query.get_untracked()); }
            >"▶ paper-trade this rule"</button>
            {move || message.get().map(|m| view! { <p class="field-note" role="status" data-testid="paper-message">{m}</p> })}
            <table class="paper-sessions" data-testid="paper-sessions">
                <thead><tr>
                    <th>"#"</th><th>"pair or basket"</th><th>"status"</th><th>"position"</th>
                    <th title="PnL of closed round trips, USDT">"realized"</th>
                    <th title="PnL of the open position at the latest trades, net of its costs, USDT">"unrealized"</th>
                    <th title="Taker fees paid, USDT">"fees"</th><th>"fills"</th><th></th>
                </tr></thead>
                <tbody>
                    {move || rows().into_iter().rev().map(|l| {
                        let id = l.id;
                        let active = l.status != SessionStatus::Stopped;
                        let position = l.position_text();
                        view! {
                            <tr data-session=id data-side=side_text(&l) data-fills=l.ledger.fills>
                                <td>{id}</td>
                                <td>{format!("{} {}", l.label, l.timeframe)}</td>
                                <td>{status_text(l.status)}{if l.pending { " ·order pending" } else { "" }}</td>
                                <td>{position}</td>
                                <td class="num" data-realized=l.ledger.realized.to_string()>{money(l.ledger.realized)}</td>
                                <td class="num" data-unrealized=l.ledger.unrealized.to_string()>{money(l.ledger.unrealized)}</td>
                                <td class="num">{money(l.ledger.fees)}</td>
                                <td class="num">{l.ledger.fills}</td>
                                <td>{active.then(|| view! {
                                    <button class="link" data-testid=format!("paper-stop-{id}") aria-label=format!("Stop and flatten session {id}") on:click=move |_| { stop.dispatch(id); }>"■ stop"</button>
                                })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <table class="paper-fills" data-testid="paper-fills">
                <caption>"Newest fills"</caption>
                <tbody>
                    {move || {
                        let mut fills: Vec<_> = rows().into_iter().flat_map(|l| l.recent).collect();
                        fills.sort_by_key(|f| std::cmp::Reverse(f.ts));
                        fills.into_iter().take(12).map(|f| view! {
                            <tr data-fill-session=f.session_id>
                                <td>{super::format::hms(f.ts)}</td>
                                <td>{format!("#{}", f.session_id)}</td>
                                <td>{if f.qty > 0.0 { "buy" } else { "sell" }}</td>
                                <td class="num">{format!("{:.4}", f.qty.abs())}</td>
                                <td>{f.symbol.clone()}</td>
                                <td class="num">{super::format::price(f.price)}</td>
                                <td class="num" title="fee, USDT">{money(f.fee)}</td>
                            </tr>
                        }).collect_view()
                    }}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}
