//! The pair scanner panel: a watchlist, a correlation heatmap and every pair
//! ranked by cointegration p-value, half-life and current |z|. Clicking a
//! pair opens it in the main view.

use crate::api::server_fns::scan_pairs;
use crate::model::scan::ScanResult;
use leptos::prelude::*;

/// Heatmap colour: red for -1, neutral for 0, green for +1.
fn heat(c: Option<f64>) -> String {
    match c {
        Some(c) if c.is_finite() => {
            let a = (c.abs().min(1.0) * 0.85).max(0.05);
            if c >= 0.0 {
                format!("background: rgba(63, 185, 80, {a:.2})")
            } else {
                format!("background: rgba(248, 81, 73, {a:.2})")
            }
        }
        _ => String::new(),
    }
}

#[component]
pub fn Scanner(
    symbols: Vec<String>,
    timeframe: Signal<String>,
    open_pair: Callback<(String, String)>,
) -> impl IntoView {
    let watch = RwSignal::new(symbols.join(","));
    let bars = RwSignal::new("300".to_string());
    let run = Action::new(move |(list, tf, bars): &(Vec<String>, String, u32)| {
        let (list, tf, bars) = (list.clone(), tf.clone(), *bars);
        async move { scan_pairs(list, tf, bars).await }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let list: Vec<String> = watch
            .get_untracked()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let b = bars.get_untracked().trim().parse::<u32>().unwrap_or(300);
        run.dispatch((list, timeframe.get_untracked(), b));
    };
    let result = move || run.value().get();
    view! {
        <section class="scanner" aria-label="Pair scanner">
            <h3>"Pair scanner"</h3>
            <form class="scan-form" on:submit=submit>
                <label>"Watchlist"
                    <input data-testid="scan-symbols" size="40" prop:value=move || watch.get() on:input=move |ev| watch.set(event_target_value(&ev)) />
                </label>
                <label>"Bars"
                    <input data-testid="scan-bars" size="5" prop:value=move || bars.get() on:input=move |ev| bars.set(event_target_value(&ev)) />
                </label>
                <button type="submit" data-testid="scan-run">{move || if run.pending().get() { "Scanning…" } else { "Scan" }}</button>
            </form>
            {move || match result() {
                None => view! { <p class="hint">"Scan the watchlist at the current timeframe (full-sample hedge)."</p> }.into_any(),
                Some(Err(e)) => view! { <p class="field-error" role="alert">{super::server_error(&e)}</p> }.into_any(),
                Some(Ok(r)) => scan_view(r, open_pair).into_any(),
            }}
        </section>
    }
}

fn scan_view(r: ScanResult, open_pair: Callback<(String, String)>) -> impl IntoView {
    let f = |v: Option<f64>, d: usize| v.map(|v| format!("{v:.d$}")).unwrap_or_else(|| "–".into());
    let header = r.symbols.clone();
    view! {
        <div class="scan-grid">
            <table class="heatmap" data-testid="scan-heatmap" aria-label="Correlation of log returns">
                <thead><tr><th></th>{header.iter().map(|s| view! { <th scope="col">{s.clone()}</th> }).collect_view()}</tr></thead>
                <tbody>
                    {r.symbols.iter().enumerate().map(|(i, s)| view! {
                        <tr>
                            <th scope="row">{s.clone()}</th>
                            {r.corr[i].iter().map(|c| view! { <td style=heat(*c) title="correlation of log returns">{f(*c, 2)}</td> }).collect_view()}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <table class="ranked" data-testid="scan-ranked">
                <thead><tr><th>"pair (y/x)"</th><th title="Engle-Granger p-value">"coint p"</th><th title="bars">"half-life"</th><th>"|z|"</th><th>"β"</th><th>"n"</th></tr></thead>
                <tbody>
                    {r.rows.into_iter().map(|row| {
                        let (x, y) = (row.x.clone(), row.y.clone());
                        view! {
                            <tr class="clickable" tabindex="0" title="Open this pair"
                                on:click=move |_| open_pair.run((x.clone(), y.clone()))>
                                <td>{format!("{}/{}", row.y, row.x)}</td>
                                <td>{format!("{:.4}", row.coint_p)}</td>
                                <td>{f(row.half_life, 1)}</td>
                                <td>{f(row.z.map(f64::abs), 2)}</td>
                                <td>{format!("{:.4}", row.beta)}</td>
                                <td>{row.n}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {(!r.skipped.is_empty()).then(|| view! {
            <p class="hint">{format!("Skipped: {}", r.skipped.iter().map(|(x, y, why)| format!("{y}/{x} ({why})")).collect::<Vec<_>>().join("; "))}</p>
        })}
    }
}
