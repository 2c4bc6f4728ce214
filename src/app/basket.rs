//! The basket panel: two to twelve stored symbols tested together at the
//! view's timeframe, showing the hedge weights (Johansen's first vector and
//! OLS with standard errors), the Johansen table with the ranks it selects,
//! Engle-Granger with N = legs, and the OU fit and suggested bands of the
//! Johansen-weighted spread, over the view's range (its `To`, or the live
//! tail). The numbers are `GET /api/v1/johansen`'s.

use crate::api::server_fns::basket_report;
use crate::model::basket::BasketReport;
use leptos::prelude::*;

#[component]
pub fn BasketPanel(
    symbols: Vec<String>,
    timeframe: Signal<String>,
    to: Signal<Option<i64>>,
) -> impl IntoView {
    let legs = RwSignal::new(symbols.join(","));
    let bars = RwSignal::new("600".to_string());
    let run = Action::new(move |a: &(Vec<String>, String, u32, Option<i64>)| {
        let a = a.clone();
        async move { basket_report(a.0, a.1, a.2, a.3).await }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let list: Vec<String> = legs
            .get_untracked()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let b = bars.get_untracked().trim().parse::<u32>().unwrap_or(600);
        run.dispatch((list, timeframe.get_untracked(), b, to.get_untracked()));
    };
    view! {
        <section class="scanner" aria-label="Basket" data-testid="basket">
            <h3>"Basket"</h3>
            <form class="scan-form" on:submit=submit>
                <label title="2 to 12 stored symbols, the first is the leg the others hedge">"Legs"
                    <input data-testid="basket-symbols" size="40" prop:value=move || legs.get() on:input=move |ev| legs.set(event_target_value(&ev)) />
                </label>
                <label>"Bars"
                    <input data-testid="basket-bars" size="5" prop:value=move || bars.get() on:input=move |ev| bars.set(event_target_value(&ev)) />
                </label>
                <button type="submit" data-testid="basket-run">{move || if run.pending().get() { "Testing…" } else { "Test basket" }}</button>
            </form>
            {move || match run.value().get() {
                None => view! { <p class="hint">"Johansen and Engle-Granger on log closes where every leg traded, at the current timeframe."</p> }.into_any(),
                Some(Err(e)) => view! { <p class="field-error" role="alert" data-testid="basket-error">{super::server_error(&e)}</p> }.into_any(),
                Some(Ok(r)) => basket_view(r).into_any(),
            }}
        </section>
    }
}

fn basket_view(r: BasketReport) -> impl IntoView {
    let f = |v: Option<f64>, d: usize| v.map(|v| format!("{v:.d$}")).unwrap_or_else(|| "–".into());
    let j = r.johansen.clone();
    let eg = r.engle_granger.map(|e| {
        format!(
            "Engle-Granger (N = {}): statistic {:.4}, p {}, 5% critical {:.4}",
            r.query.symbols.len(),
            e.stat,
            e.pvalue
                .map_or("– (over 6 legs)".into(), |p| format!("{p:.4}")),
            e.crit.five
        )
    });
    let ou = r.ou.map(|o| {
        format!(
            "OU on the Johansen spread: θ {:.5} ± {:.5} per bar, half-life {:.1} bars",
            o.theta, o.theta_se, o.half_life
        )
    });
    let sb = r.suggested_bands.clone();
    let bands = match (&sb.return_max, &sb.sharpe_max) {
        (Some(a), Some(b)) => format!(
            "Suggested bands: ±{:.2} σ (return), ±{:.2} σ (Sharpe), at a round trip of {:.2e}",
            a.z, b.z, sb.cost
        ),
        (Some(a), None) => format!("Suggested bands: ±{:.2} σ (return)", a.z),
        _ => format!(
            "Suggested bands: none ({})",
            sb.error.unwrap_or_else(|| "no fit".into())
        ),
    };
    let weights = r.weights_johansen.clone();
    let ols = r.weights_ols.clone();
    let se: Vec<Option<f64>> = (0..r.query.symbols.len())
        .map(|i| match (i, r.ols.as_ref()) {
            (0, _) | (_, None) => None,
            (i, Some(o)) => o.bse.get(i - 1).copied(),
        })
        .collect();
    view! {
        <p class="hint" data-testid="basket-summary">{format!("{} bars where every leg traded; rank at 95%: trace {}, max-eigenvalue {}", r.bars, j.rank_trace, j.rank_max_eig)}</p>
        <div class="scan-grid">
            <table class="ranked" data-testid="basket-weights">
                <thead><tr><th>"leg"</th><th title="Johansen's first eigenvector, the first leg's 1">"w Johansen"</th><th title="(1, -b) from OLS of the first leg on the others">"w OLS"</th><th title="OLS standard error">"se"</th></tr></thead>
                <tbody>
                    {r.query.symbols.iter().enumerate().map(|(i, s)| view! {
                        <tr data-leg=s.clone() data-weight=weights.get(i).map(|w| w.to_string()).unwrap_or_default()>
                            <td>{s.clone()}</td>
                            <td>{f(weights.get(i).copied(), 4)}</td>
                            <td>{f(ols.get(i).copied(), 4)}</td>
                            <td>{f(se[i], 4)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <table class="ranked" data-testid="basket-johansen">
                <thead><tr><th>"rank"</th><th>"eigenvalue"</th><th>"trace"</th><th>"95%"</th><th>"max-eig"</th><th>"95%"</th></tr></thead>
                <tbody>
                    {(0..j.eigenvalues.len()).map(|k| view! {
                        <tr data-trace=j.trace_stat[k].to_string()>
                            <td>{format!("r ≤ {k}")}</td>
                            <td>{format!("{:.5}", j.eigenvalues[k])}</td>
                            <td>{format!("{:.3}", j.trace_stat[k])}</td>
                            <td>{format!("{:.3}", j.trace_crit[k][1])}</td>
                            <td>{format!("{:.3}", j.max_eig_stat[k])}</td>
                            <td>{format!("{:.3}", j.max_eig_crit[k][1])}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {eg.map(|t| view! { <p class="hint" data-testid="basket-eg">{t}</p> })}
        {ou.map(|t| view! { <p class="hint" data-testid="basket-ou">{t}</p> })}
        <p class="hint" data-testid="basket-bands" data-z=sb.return_max.map(|b| b.z.to_string()).unwrap_or_default()>{bands}</p>
        {(!r.notes.is_empty()).then(|| view! { <p class="hint">{r.notes.join("; ")}</p> })}
    }
}
