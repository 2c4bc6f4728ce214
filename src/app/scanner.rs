//! The pair scanner panel: a watchlist of up to 200 symbols, the I(1)
//! screen and filters, a correlation heatmap (up to 30 symbols) and every
//! pair ranked by its Benjamini-Hochberg q-value, then p-value and
//! half-life. Clicking a pair opens it in the main view. While a scan
//! runs, the panel polls its progress (symbols read, legs screened, pairs
//! tested) under a job id the page picks.

use crate::api::server_fns::{scan_pairs, scan_progress};
use crate::domain::Timeframe;
use crate::model::scan::{ScanProgress, ScanQuery, ScanResult};
use leptos::prelude::*;

/// How often a running scan's progress is asked for.
const POLL_MS: u64 = 300;

/// A job id for the next scan: the page's time origin and the time since,
/// in microseconds, so two tabs (or two scans of one) differ.
fn job_id() -> u64 {
    #[cfg(feature = "hydrate")]
    {
        let p = web_sys::window().and_then(|w| w.performance());
        p.map_or(0, |p| ((p.time_origin() + p.now()) * 1000.0) as u64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0
    }
}

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
    let screen = RwSignal::new(true);
    let vol_q = RwSignal::new(String::new());
    let hl_max = RwSignal::new(String::new());
    let crossings = RwSignal::new(String::new());
    let run = Action::new(move |a: &(ScanQuery, u64)| {
        let (q, job) = a.clone();
        async move { scan_pairs(q, Some(job)).await }
    });
    let progress = RwSignal::new(None::<ScanProgress>);
    let form_error = RwSignal::new(None::<String>);
    let poller = StoredValue::new(None::<IntervalHandle>);
    // Poll while the scan runs; stop once it is done.
    let poll = move |job: u64| {
        if let Some(h) = poller.get_value() {
            h.clear();
        }
        progress.set(None);
        let handle = set_interval_with_handle(
            move || {
                if !run.pending().get_untracked() {
                    if let Some(h) = poller.get_value() {
                        h.clear();
                    }
                    return;
                }
                leptos::task::spawn_local(async move {
                    if let Ok(Some(p)) = scan_progress(job).await {
                        if run.pending().get_untracked() {
                            progress.set(Some(p));
                        }
                    }
                });
            },
            std::time::Duration::from_millis(POLL_MS),
        );
        poller.set_value(handle.ok());
    };
    // A panel closed mid-scan stops polling (the interval would otherwise
    // outlive the signals it reads).
    on_cleanup(move || {
        if let Some(h) = poller.try_get_value().flatten() {
            h.clear();
        }
    });
    let opt_f = |s: RwSignal<String>| s.get_untracked().trim().parse::<f64>().ok();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let list = crate::domain::split_symbols(&watch.get_untracked());
        let tf = match timeframe.get_untracked().parse::<Timeframe>() {
            Ok(tf) => tf,
            Err(e) => {
                form_error.set(Some(e));
                return;
            }
        };
        form_error.set(None);
        let q = ScanQuery {
            symbols: list,
            timeframe: tf,
            bars: bars.get_untracked().trim().parse::<usize>().unwrap_or(300),
            screen: screen.get_untracked(),
            min_volume_quantile: opt_f(vol_q),
            half_life_max: opt_f(hl_max),
            min_crossings: crossings.get_untracked().trim().parse::<usize>().ok(),
            ..ScanQuery::default()
        };
        let job = job_id();
        run.dispatch((q, job));
        poll(job);
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
                <label title="Keep legs that are I(1): ADF on log levels does not reject a unit root, on differences it does (5%)">
                    <input type="checkbox" data-testid="scan-screen" prop:checked=move || screen.get() on:change=move |ev| screen.set(event_target_checked(&ev)) />
                    "I(1) screen"
                </label>
                <label title="Keep legs whose traded quote volume is at least this quantile of the watchlist's (0 to 1)">"Min volume q"
                    <input data-testid="scan-volume" size="4" prop:value=move || vol_q.get() on:input=move |ev| vol_q.set(event_target_value(&ev)) />
                </label>
                <label title="Keep pairs whose half-life is at most this many bars">"Max half-life"
                    <input data-testid="scan-half-life" size="5" prop:value=move || hl_max.get() on:input=move |ev| hl_max.set(event_target_value(&ev)) />
                </label>
                <label title="Keep pairs whose spread crosses its mean at least this often">"Min crossings"
                    <input data-testid="scan-crossings" size="4" prop:value=move || crossings.get() on:input=move |ev| crossings.set(event_target_value(&ev)) />
                </label>
                <button type="submit" data-testid="scan-run">{move || if run.pending().get() { "Scanning…" } else { "Scan" }}</button>
            </form>
            {move || form_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            {move || match result() {
                _ if run.pending().get() => view! {
                    <p class="hint" data-testid="scan-progress">
                        {move || progress.get().map_or_else(|| "Scanning: every pair of the watchlist, Engle-Granger both ways…".to_string(), |p| p.label())}
                    </p>
                }.into_any(),
                None => view! { <p class="hint">"Scan the watchlist at the current timeframe (full-sample hedge, up to 200 symbols)."</p> }.into_any(),
                Some(Err(e)) => view! { <p class="field-error" role="alert">{super::server_error(&e)}</p> }.into_any(),
                Some(Ok(r)) => scan_view(r, open_pair).into_any(),
            }}
        </section>
    }
}

fn scan_view(r: ScanResult, open_pair: Callback<(String, String)>) -> impl IntoView {
    let f = |v: Option<f64>, d: usize| v.map(|v| format!("{v:.d$}")).unwrap_or_else(|| "–".into());
    let header = r.symbols.clone();
    // A refresh holds the lags, crossings and screens of the last full test.
    let freshness = match r.since_full {
        0 => String::new(),
        1 => "; refreshed by 1 bar since the full test".into(),
        k => format!("; refreshed by {k} bars since the full test"),
    };
    let summary = format!(
        "{} pairs tested, {} shown ({} filtered out), {} symbols screened out; q = Benjamini-Hochberg false-discovery rate over all pairs tested{freshness}",
        r.tested,
        r.rows.len(),
        r.filtered,
        r.screened_out.len()
    );
    let has_heatmap = !r.corr.is_empty();
    view! {
        <p class="hint" data-testid="scan-summary" data-tested=r.tested.to_string()>{summary}</p>
        <div class="scan-grid">
            <table class="heatmap" data-testid="scan-heatmap" aria-label="Correlation of log returns" hidden=!has_heatmap>
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
                <thead><tr><th>"pair (y/x)"</th><th title="Benjamini-Hochberg q-value of the p-value over every pair tested">"q"</th><th title="Engle-Granger p-value, the worse of both directions">"coint p"</th><th title="bars">"half-life"</th><th title="Mean crossings of the spread">"cross."</th><th>"|z|"</th><th>"β"</th><th>"n"</th></tr></thead>
                <tbody>
                    {r.rows.into_iter().map(|row| {
                        let (x, y) = (row.x.clone(), row.y.clone());
                        view! {
                            <tr class="clickable" tabindex="0" title=format!("Open this pair (p y on x {:.4}, x on y {:.4})", row.coint_p_yx, row.coint_p_xy)
                                data-q=row.q_value.to_string()
                                on:click=move |_| open_pair.run((x.clone(), y.clone()))>
                                <td>{format!("{}/{}", row.y, row.x)}</td>
                                <td>{format!("{:.4}", row.q_value)}</td>
                                <td>{format!("{:.4}", row.coint_p)}</td>
                                <td>{f(row.half_life, 1)}</td>
                                <td>{row.crossings}</td>
                                <td>{f(row.z.map(f64::abs), 2)}</td>
                                <td>{format!("{:.4}", row.beta)}</td>
                                <td>{row.n}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {(!r.screened_out.is_empty()).then(|| view! {
            <p class="hint" data-testid="scan-screened">{format!("Screened out: {}", r.screened_out.iter().map(|(s, why)| format!("{s} ({why})")).collect::<Vec<_>>().join("; "))}</p>
        })}
        {(!r.skipped.is_empty()).then(|| view! {
            <p class="hint">{format!("Skipped: {}", r.skipped.iter().map(|(x, y, why)| format!("{y}/{x} ({why})")).collect::<Vec<_>>().join("; "))}</p>
        })}
    }
}
