//! The dashboard: page shell, layout, live status and charts.
//!
//! Data comes from server functions; the page refreshes them on a one-second
//! pulse and redraws the canvases only when the bars actually change.

pub mod chart;
pub mod format;

use crate::api::server_fns::{get_bars, get_status, get_view_defaults, ViewDefaults};
use crate::domain::{Bar, StatusSnapshot, Timeframe};
use chart::PriceChart;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    StaticSegment,
};

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/pairdesk.css" />
        <Title text="pairdesk" />
        <Router>
            <Routes fallback=|| view! { <p class="notfound">"Page not found."</p> }>
                <Route path=StaticSegment("") view=Dashboard />
            </Routes>
        </Router>
    }
}

/// Bars drawn per chart.
const CHART_BARS: u32 = 600;

#[component]
fn Dashboard() -> impl IntoView {
    let defaults = Resource::new(|| (), |_| get_view_defaults());
    let hydrated = RwSignal::new(false);
    let pulse = RwSignal::new(0u64);
    // Effects run only in the browser: this marks hydration and starts the pulse.
    Effect::new(move |_| {
        hydrated.set(true);
        if let Ok(handle) = set_interval_with_handle(
            move || pulse.update(|n| *n += 1),
            std::time::Duration::from_millis(1000),
        ) {
            on_cleanup(move || handle.clear());
        }
    });

    view! {
        <div class="app" data-hydrated=move || hydrated.get().to_string()>
            <header class="topbar">
                <span class="brand">"pairdesk"</span>
                <StatusLine pulse />
            </header>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match defaults.await {
                        Ok(d) => view! { <Pair defaults=d pulse /> }.into_any(),
                        Err(e) => view! { <p class="error">{format!("Cannot load settings: {e}")}</p> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
fn StatusLine(pulse: RwSignal<u64>) -> impl IntoView {
    let status = Resource::new(move || pulse.get(), |_| get_status());
    view! {
        <Transition fallback=|| view! { <span class="status">"connecting…"</span> }>
            {move || Suspend::new(async move {
                match status.await {
                    Ok(s) => status_view(s).into_any(),
                    Err(e) => view! { <span class="status error">{format!("server unreachable: {e}")}</span> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn status_view(s: StatusSnapshot) -> impl IntoView {
    let banner = s.simulated.then(|| {
        view! {
            <span class="badge sim" title="No live exchange: prices come from pairdesk's built-in simulated market">
                "SIMULATED MARKET"
            </span>
        }
    });
    let conn = if s.connected {
        "connected"
    } else {
        "disconnected"
    };
    view! {
        <span class="status" data-testid="status">
            {banner}
            <span class="item" title="Market data source">"source " <b data-testid="source">{s.source.clone()}</b></span>
            <span class=format!("item conn {conn}")>{conn}</span>
            <span class="item" title="Ticks stored in the database">
                "ticks " <b data-testid="ticks-stored">{s.ticks_stored}</b>
            </span>
            <span class="item" title="Ticks per second over the last 5 seconds">
                <b data-testid="tps">{format!("{:.1}", s.ticks_per_sec)}</b> " /s"
            </span>
            <span class="item" title="Trade-id gaps found / backfilled">"gaps " {s.gaps_found} "/" {s.gaps_filled}</span>
            <span class="item" title="Rows dropped (zero price, non-market, malformed)">"dropped " {s.dropped}</span>
        </span>
    }
}

#[component]
fn Pair(defaults: ViewDefaults, pulse: RwSignal<u64>) -> impl IntoView {
    let tf = RwSignal::new(defaults.timeframe.clone());
    let a = defaults.symbols.first().cloned().unwrap_or_default();
    let b = defaults.symbols.get(1).cloned().unwrap_or_default();
    let leg = move |sym: String| {
        let res = Resource::new(
            move || (pulse.get(), tf.get()),
            move |(_, tf)| get_bars(sym.clone(), tf, CHART_BARS),
        );
        Signal::derive(move || res.get().and_then(|r| r.ok()).unwrap_or_default())
    };
    let bars_a: Signal<Vec<Bar>> = leg(a.clone());
    let bars_b: Signal<Vec<Bar>> = leg(b.clone());
    view! {
        <section class="controls">
            <label>
                "Timeframe "
                <select
                    data-testid="timeframe"
                    on:change=move |ev| tf.set(event_target_value(&ev))
                    prop:value=move || tf.get()
                >
                    {Timeframe::ALL
                        .iter()
                        .map(|t| view! { <option value=t.as_str()>{t.as_str()}</option> })
                        .collect_view()}
                </select>
            </label>
            <span class="hint">"Last " {CHART_BARS} " bars, close = last trade in the bar"</span>
        </section>
        <section class="charts">
            <PriceChart title=a bars=bars_a color="#f7931a" />
            <PriceChart title=b bars=bars_b color="#7f9cf5" />
        </section>
    }
}
