//! The dashboard: page shell, controls (kept in the URL), live status, the
//! statistics table and the synchronized charts.
//!
//! Data comes from server functions (the same pair-analytics service as the
//! HTTP API). In live mode the server pushes updates over `/ws/live` and the
//! page refetches the pair at most once a second; with a
//! fixed `to` the view is historical and does not refresh.

pub mod alerts;
pub mod basket;
pub mod chart;
pub mod format;
pub mod live;
pub mod paper;
pub mod params;
pub mod scanner;
pub mod series;
pub mod stats;
pub mod upload;

use crate::api::server_fns::{
    add_live_symbol, get_pair, get_status, get_symbols, get_view_defaults, ViewDefaults,
};
use crate::domain::{StatusSnapshot, Timeframe};
use crate::model::pair::{PairAnalytics, PairView as PairData};
use chart::{ChartSpec, Line, TimeChart};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    hooks::{use_navigate, use_query_map},
    NavigateOptions, StaticSegment,
};
use params::{parse, REGRESSIONS};

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme="dark">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
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

#[component]
fn Dashboard() -> impl IntoView {
    let defaults = Resource::new(|| (), |_| get_view_defaults());
    let hydrated = RwSignal::new(false);
    let pulse = RwSignal::new(0u64);
    let dark = RwSignal::new(true);
    let live_status: RwSignal<Option<StatusSnapshot>> = RwSignal::new(None);
    let toasts: RwSignal<Vec<crate::model::alerts::AlertEvent>> = RwSignal::new(Vec::new());
    let fired = RwSignal::new(0u64);
    let link = RwSignal::new(live::LinkState::Connecting);
    // (interval_ms, lagged) of the live push: the server slows it for a
    // page that cannot keep up, and the status line says so.
    let push_rate = RwSignal::new((crate::model::live::BASE_INTERVAL_MS, 0u64));
    // Exchange time of the newest trade pushed: the feed's clock, redrawn on
    // every push (the rest of the status line at most four times a second).
    let last_tick: RwSignal<Option<i64>> = RwSignal::new(None);
    // The newest trades of the pair on screen, for the forming price bar.
    let live_prices: RwSignal<Vec<crate::model::live::LivePrice>> = RwSignal::new(Vec::new());
    // Paper sessions as the push last sent them (None until loaded).
    let paper_lines: RwSignal<Option<Vec<crate::model::paper::PaperLine>>> = RwSignal::new(None);
    // Effects run only in the browser: mark hydration and open the live push.
    Effect::new(move |_| {
        hydrated.set(true);
        #[cfg(feature = "hydrate")]
        {
            let last_bump = StoredValue::new(0.0f64);
            live::connect(
                std::rc::Rc::new(move |u: crate::model::live::LiveUpdate| {
                    let fresh = u.new_ticks > 0;
                    if let Some(s) = u.status {
                        live_status.set(Some(s));
                    }
                    if fresh && u.last_ts.is_some() && u.last_ts != last_tick.get_untracked() {
                        last_tick.set(u.last_ts);
                    }
                    if !u.prices.is_empty() {
                        live_prices.set(u.prices);
                    }
                    if let Some(p) = u.paper {
                        paper_lines.set(Some(p));
                    }
                    if push_rate.get_untracked() != (u.interval_ms, u.lagged) {
                        push_rate.set((u.interval_ms, u.lagged));
                    }
                    if !u.alerts.is_empty() {
                        fired.update(|n| *n += 1);
                        let ids: Vec<i64> = u.alerts.iter().map(|e| e.id).collect();
                        toasts.update(|t| t.extend(u.alerts));
                        set_timeout(
                            move || toasts.update(|t| t.retain(|e| !ids.contains(&e.id))),
                            std::time::Duration::from_secs(8),
                        );
                    }
                    // Refetch the pair at most about once a second.
                    let now = web_sys::window()
                        .and_then(|w| w.performance())
                        .map(|p| p.now())
                        .unwrap_or(0.0);
                    if fresh && now - last_bump.get_value() >= 900.0 {
                        last_bump.set_value(now);
                        pulse.update(|n| *n += 1);
                    }
                }),
                link,
            );
        }
    });
    Effect::new(move |_| {
        let theme = if dark.get() { "dark" } else { "light" };
        if let Some(el) = document().document_element() {
            let _ = el.set_attribute("data-theme", theme);
        }
        // Charts read the theme when they draw; nudge them.
        pulse.update(|n| *n += 1);
    });

    view! {
        <div class="app" data-hydrated=move || hydrated.get().to_string()>
            <alerts::Toasts toasts />
            <header class="topbar">
                <span class="brand">"pairdesk"</span>
                <StatusLine live_status link push_rate />
                <span
                    class="last-tick"
                    data-testid="last-tick"
                    data-ts=move || last_tick.get().map(|t| t.to_string())
                    title="Exchange time (UTC) of the newest trade the server pushed to this page"
                >
                    {move || last_tick.get().map(format::hms_ms).unwrap_or_default()}
                </span>
                <button
                    class="theme"
                    aria-label="Toggle dark and light theme"
                    on:click=move |_| dark.update(|d| *d = !*d)
                >
                    {move || if dark.get() { "☀ light" } else { "☾ dark" }}
                </button>
            </header>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match defaults.await {
                        Ok(d) => view! { <PairView defaults=d pulse fired live_prices paper_lines /> }.into_any(),
                        Err(e) => view! { <p class="error">{format!("Cannot load settings: {e}")}</p> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
fn StatusLine(
    live_status: RwSignal<Option<StatusSnapshot>>,
    link: RwSignal<live::LinkState>,
    push_rate: RwSignal<(u64, u64)>,
) -> impl IntoView {
    // The first figures come with the page; the live push takes over after.
    let initial = Resource::new(|| (), |_| get_status());
    let sym_open = RwSignal::new(false);
    view! {
        <Transition fallback=|| view! { <span class="status">"connecting…"</span> }>
            {move || Suspend::new(async move {
                let first = initial.await;
                let l = link.get();
                let link_view = view! {
                    <span class=format!("item link {}", if l == live::LinkState::Live { "ok" } else { "down" }) data-testid="link" role="status">
                        {l.label()}
                    </span>
                };
                let (interval, lagged) = push_rate.get();
                let slow_view = (interval > crate::model::live::BASE_INTERVAL_MS).then(|| view! {
                    <span
                        class="item badge slow"
                        data-testid="slow-link"
                        title="This page is not keeping up with the live push (a busy browser or a slow network), so the server sends it fewer, bigger updates. Nothing is lost: every update counts all ticks since the previous one."
                    >
                        {format!("slow link: updates every {:.2} s, {lagged} skipped", interval as f64 / 1000.0)}
                    </span>
                });
                match (live_status.get(), first) {
                    (Some(s), _) | (None, Ok(s)) => view! { {status_view(s, sym_open)} {link_view} {slow_view} }.into_any(),
                    (None, Err(e)) => view! { <span class="status error" data-testid="server-down">{format!("server unreachable: {e}")}</span> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// `850 ms`, `4.2 s`: the status bar's time-blind figure.
fn format_blind(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

fn status_view(s: StatusSnapshot, sym_open: RwSignal<bool>) -> impl IntoView {
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
    let lag = s.symbols.iter().filter_map(|x| x.lag_ms).max();
    view! {
        <span class="status" data-testid="status">
            {banner}
            <span class="item" title="Market data source">"source " <b data-testid="source">{s.source.clone()}</b></span>
            <span class=format!("item conn {conn}") data-testid="conn">{conn}</span>
            <span class="item" title="Ticks stored in the database">
                "ticks " <b data-testid="ticks-stored">{s.ticks_stored}</b>
            </span>
            <span class="item" title="Ticks per second over the last 5 seconds">
                <b data-testid="tps">{format!("{:.1}", s.ticks_per_sec)}</b> " /s"
            </span>
            <span class="item" title="Exchange time to receive time of the latest trade">
                "lag " {lag.map(|l| format!("{l} ms")).unwrap_or_else(|| "–".into())}
            </span>
            {s.history.as_ref().and_then(|h| format::history_progress(h, s.server_time)).map(|t| view! {
                <span class="item history" data-testid="history" title="History on start: the ticks missing from the lookback, from the exchange's REST history or the simulated market">{t}</span>
            })}
            <span class="item" title="Trade-id gaps found / backfilled">"gaps " {s.gaps_found} "/" {s.gaps_filled}</span>
            <span class="item" title="Reconnects since start">"reconnects " {s.reconnects}</span>
            <span class="item" title="Time without data after the latest fault: last message before it to first after recovery" data-testid="blind">
                "blind " {s.blind_ms.map(format_blind).unwrap_or_else(|| "–".into())}
            </span>
            <span class="item" title="Rows dropped (zero price, non-market, malformed, outside the tick limits)">"dropped " {s.dropped}</span>
            {(!s.streams.is_empty()).then(|| view! {
                <span class="item streams" data-testid="streams" title="Each stream of the source on its own connection; a stream silent while its connection answers pings is resubscribed, then reconnected">
                    {s.streams.iter().map(|x| {
                        let (text, ok) = format::stream_text(x);
                        view! { <span class=if ok { "stream ok" } else { "stream bad" } data-stream=x.stream.clone()>{text}</span> }
                    }).collect_view()}
                </span>
            })}
            <details class="item per-symbol" prop:open=move || sym_open.get()>
                // The status line re-renders on every push; the open state lives outside it.
                <summary on:click=move |ev| {
                    ev.prevent_default();
                    sym_open.update(|o| *o = !*o);
                }>"per symbol"</summary>
                <table class="symtable" data-testid="symbol-status">
                    <thead><tr><th>"symbol"</th><th>"last"</th><th>"bid"</th><th>"ask"</th><th>"ticks/s"</th><th>"lag"</th><th>"last trade (UTC)"</th></tr></thead>
                    <tbody>
                        {s.symbols.iter().map(|x| view! {
                            <tr>
                                <td>{x.symbol.clone()}</td>
                                <td>{x.last_price.map(format::price).unwrap_or_default()}</td>
                                <td>{x.bid.map(format::price).unwrap_or_default()}</td>
                                <td>{x.ask.map(format::price).unwrap_or_default()}</td>
                                <td>{format!("{:.1}", x.ticks_per_sec)}</td>
                                <td>{x.lag_ms.map(|l| format!("{l} ms")).unwrap_or_default()}</td>
                                <td>{x.last_exchange_ts.map(format::hms).unwrap_or_default()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </details>
        </span>
    }
}

/// Query keys the view understands, in URL order.
const KEYS: [&str; 16] = [
    "x", "y", "tf", "bars", "reg", "prices", "px", "window", "zw", "entry", "exit", "bands", "fee",
    "from", "to", "src",
];

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The page URL for the current view with `set` replacing some parameters,
/// keys in [`KEYS`] order so equal views have equal URLs.
fn view_url(m: &leptos_router::params::ParamsMap, set: &[(&str, &str)]) -> String {
    let parts: Vec<String> = KEYS
        .iter()
        .filter_map(|k| {
            let v = match set.iter().find(|(s, _)| s == k) {
                Some((_, v)) => Some(v.to_string()),
                None => m.get(k),
            };
            // An emptied control leaves the URL rather than lingering as `k=`.
            v.filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", encode(&v)))
        })
        .collect();
    format!("/?{}", parts.join("&"))
}

/// `/api/v1/bars.csv` for one leg over the view's bars (the latest ones on
/// the live tail).
fn bars_csv_href(q: &crate::model::pair::PairQuery, symbol: &str, replay: bool) -> String {
    let mut href = format!("/api/v1/bars.csv?symbol={symbol}&timeframe={}", q.timeframe);
    match q.to {
        Some(t) => href.push_str(&format!("&to={t}&limit={}", q.bars.min(10_000))),
        None => href.push_str(&format!("&limit={}", q.bars.min(10_000))),
    }
    if replay {
        href.push_str("&venue=replay");
    }
    href
}

/// A server function's error as a person should read it.
pub fn server_error(e: &ServerFnError) -> String {
    e.to_string()
        .trim_start_matches("error running server function: ")
        .to_string()
}

/// Add a symbol to the live subscription; the exchange is asked first, and
/// the answer (or the reason it failed) shows next to the field.
#[component]
fn AddSymbol(symbols: Resource<Result<Vec<String>, ServerFnError>>) -> impl IntoView {
    let value = RwSignal::new(String::new());
    let add = Action::new(move |s: &String| add_live_symbol(s.clone()));
    let result = add.value();
    Effect::new(move |_| {
        if let Some(Ok(_)) = result.get() {
            value.set(String::new());
            symbols.refetch();
        }
    });
    view! {
        <form class="add-symbol" on:submit=move |ev| {
            ev.prevent_default();
            let v = value.get_untracked();
            if !v.trim().is_empty() {
                add.dispatch(v);
            }
        }>
            <label title="Start streaming another symbol (checked with the exchange first); it joins the list above">"Live feed"
                <input data-testid="add-symbol" size="10" placeholder="add symbol" prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
            </label>
            <button type="submit" data-testid="add-symbol-btn" disabled=move || add.pending().get()>"+ add"</button>
            {move || match result.get() {
                Some(Ok(list)) => Some(view! { <span class="field-ok" data-testid="add-symbol-ok" role="status">{format!("streaming {} symbols", list.len())}</span> }.into_any()),
                Some(Err(e)) => Some(view! { <span class="field-error" data-testid="add-symbol-error" role="alert">{server_error(&e)}</span> }.into_any()),
                None => None,
            }}
        </form>
    }
}

#[component]
fn PairView(
    defaults: ViewDefaults,
    pulse: RwSignal<u64>,
    fired: RwSignal<u64>,
    live_prices: RwSignal<Vec<crate::model::live::LivePrice>>,
    paper_lines: RwSignal<Option<Vec<crate::model::paper::PaperLine>>>,
) -> impl IntoView {
    let query_map = use_query_map();
    let d = defaults.clone();
    let params = Memo::new(move |_| query_map.with(|m| parse(|k| m.get(k), &d)));
    let navigate = use_navigate();
    let set_params = move |set: &[(&str, &str)]| {
        let url = query_map.with_untracked(|m| view_url(m, set));
        navigate(
            &url,
            NavigateOptions {
                replace: true,
                scroll: false,
                ..Default::default()
            },
        );
    };
    let open_pair = {
        let navigate = use_navigate();
        Callback::new(move |(x, y): (String, String)| {
            let url =
                query_map.with_untracked(|m| view_url(m, &[("x", x.as_str()), ("y", y.as_str())]));
            navigate(
                &url,
                NavigateOptions {
                    scroll: true,
                    ..Default::default()
                },
            );
        })
    };
    let watchlist = defaults.symbols.clone();
    let symbols = Resource::new(|| (), |_| get_symbols());
    let pair = Resource::new(
        move || {
            let p = params.get();
            let tick = if p.query.to.is_none() { pulse.get() } else { 0 };
            (p.query, p.replay, tick)
        },
        |(q, replay, _)| get_pair(q, replay),
    );
    // Keep the last good result on screen while a refresh is in flight.
    let prices: RwSignal<Option<PairData>> = RwSignal::new(None);
    let data: RwSignal<Option<PairAnalytics>> = RwSignal::new(None);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    let note: RwSignal<Option<String>> = RwSignal::new(None);
    Effect::new(move |_| match pair.get() {
        Some(Ok(mut p)) => {
            match std::mem::replace(&mut p.analytics, Err(String::new())) {
                Ok(a) => {
                    data.set(Some(a));
                    note.set(None);
                }
                Err(e) => {
                    data.set(None);
                    note.set(Some(e));
                }
            }
            prices.set(Some(p));
            error.set(None);
        }
        Some(Err(e)) => error.set(Some(server_error(&e))),
        None => {}
    });
    // Live tail only: the server pushes the pair's newest trades and the
    // forming bar follows them between analytics refreshes.
    Effect::new(move |_| {
        let (x, y, live) = params.with(|p| {
            (
                p.query.x.clone(),
                p.query.y.clone(),
                p.query.to.is_none() && !p.replay,
            )
        });
        #[cfg(feature = "hydrate")]
        live::watch(if live { vec![x, y] } else { Vec::new() });
        #[cfg(not(feature = "hydrate"))]
        let _ = (x, y, live);
    });
    let live_stamp = RwSignal::new(None::<i64>);
    Effect::new(move |_| {
        let lp = live_prices.get();
        let (live, bar_ms) = params.with_untracked(|p| {
            (
                p.query.to.is_none() && !p.replay,
                p.query.timeframe.millis(),
            )
        });
        if !live || lp.is_empty() {
            return;
        }
        let mut newest = None;
        prices.update(|d| {
            let Some(d) = d else { return };
            for p in &lp {
                let legs = [(d.x.as_str(), &mut d.px), (d.y.as_str(), &mut d.py)];
                if series::apply_live(&mut d.ts, legs, &p.symbol, p.price, p.ts, bar_ms) {
                    newest = newest.max(Some(p.ts));
                }
            }
        });
        if newest.is_some() {
            live_stamp.set(newest);
        }
    });
    let hover = RwSignal::new(None::<i64>);
    let view_range = RwSignal::new(None::<(i64, i64)>);
    // A memo: a live trade that only moves the forming bar's close leaves the
    // time axis alone, so only the price chart redraws for it.
    let ts: Signal<Vec<i64>> =
        Memo::new(move |_| prices.with(|d| d.as_ref().map(|d| d.ts.clone()).unwrap_or_default()))
            .into();

    let prices_spec = Signal::derive(move || {
        prices.with(|d| {
            let Some(d) = d else {
                return ChartSpec::default();
            };
            let ny = series::normalised(&d.py);
            // Entries and exits on the dependent leg's line.
            let marks = data.with(|a| {
                a.as_ref()
                    .and_then(|a| a.backtest.as_ref().map(|b| (a, b)))
                    .filter(|(a, _)| a.ts == d.ts)
                    .map(|(_, b)| series::trade_marks(&d.ts, &b.trades, &ny))
                    .unwrap_or_default()
            });
            ChartSpec {
                lines: vec![
                    Line {
                        name: d.x.clone(),
                        color: "#f7931a",
                        values: series::normalised(&d.px),
                        width: 1.5,
                    },
                    Line {
                        name: d.y.clone(),
                        color: "#7f9cf5",
                        values: ny,
                        width: 1.5,
                    },
                ],
                marks,
                decimals: 3,
                ..Default::default()
            }
        })
    });
    let spread_spec = Signal::derive(move || {
        data.with(|d| {
            // The entry the server applied (Bertram's band when asked for).
            let k = d.as_ref().map_or(2.0, |d| d.query.options.entry);
            let Some(d) = d else {
                // Before the windows fill: the full-sample spread of the bars
                // there are, plainly labelled, so the chart is not blank.
                let (log, need) = params.with(|p| {
                    (
                        p.query.options.prices == crate::analytics::PriceScale::Log,
                        p.query.options.min_bars(),
                    )
                });
                return prices.with(|p| match p {
                    Some(p) if p.ts.len() >= 3 && p.ts.len() < need => ChartSpec {
                        lines: vec![Line {
                            name: "spread (full-sample OLS until the windows fill)".into(),
                            color: "#e6edf3",
                            values: series::full_sample_spread(&p.px, &p.py, log),
                            width: 1.4,
                        }],
                        decimals: 5,
                        ..Default::default()
                    },
                    _ => ChartSpec::default(),
                });
            };
            let (m, s) = series::rolling_mean_std(&d.report.spread, d.query.options.z_window);
            let band = |sign: f64| -> Vec<Option<f64>> {
                m.iter()
                    .zip(&s)
                    .map(|(m, s)| Some(m.as_ref()? + sign * k * s.as_ref()?))
                    .collect()
            };
            let mut spec = ChartSpec {
                lines: vec![
                    Line {
                        name: "spread".into(),
                        color: "#e6edf3",
                        values: d.report.spread.clone(),
                        width: 1.4,
                    },
                    Line {
                        name: "mean".into(),
                        color: "#d29922",
                        values: m.clone(),
                        width: 1.0,
                    },
                    Line {
                        name: format!("+{k}σ"),
                        color: "#f85149",
                        values: band(1.0),
                        width: 1.0,
                    },
                    Line {
                        name: format!("-{k}σ"),
                        color: "#3fb950",
                        values: band(-1.0),
                        width: 1.0,
                    },
                ],
                marks: marks_on(d, &d.report.spread),
                decimals: 5,
                ..Default::default()
            };
            // The executable band, where both legs were quoted: what
            // shorting the spread would receive and buying it would pay.
            if d.band.iter().any(Option::is_some) {
                let side = |f: fn(&crate::model::cost::Band) -> f64| -> Vec<Option<f64>> {
                    d.band.iter().map(|b| b.as_ref().map(f)).collect()
                };
                spec.lines.push(Line {
                    name: "short receives".into(),
                    color: "#a371f7",
                    values: side(|b| b.sell),
                    width: 0.8,
                });
                spec.lines.push(Line {
                    name: "long pays".into(),
                    color: "#a371f7",
                    values: side(|b| b.buy),
                    width: 0.8,
                });
            }
            spec
        })
    });
    let z_spec = Signal::derive(move || {
        data.with(|d| {
            let Some(d) = d else {
                return ChartSpec::default();
            };
            // The thresholds the server applied (Bertram's when asked for).
            let (e, x) = (d.query.options.entry, d.query.options.exit);
            let sb = &d.suggested_bands;
            let mut guides = Vec::new();
            for (b, color, name) in [
                (sb.return_max.as_ref(), "#d29922", "bertram"),
                (sb.sharpe_max.as_ref(), "#db61a2", "bertram-sharpe"),
            ] {
                if let Some(b) = b {
                    guides.push((b.z, color, name));
                    guides.push((-b.z, color, name));
                }
            }
            ChartSpec {
                guides,
                lines: vec![Line {
                    name: "z".into(),
                    color: "#58a6ff",
                    values: d.report.zscore.clone(),
                    width: 1.4,
                }],
                hlines: vec![
                    (e, "#f85149"),
                    (-e, "#3fb950"),
                    (x, "#8a93a6"),
                    (-x, "#8a93a6"),
                    (0.0, "#4a5366"),
                ],
                zones: vec![(e, 1e6, "#f85149"), (-1e6, -e, "#3fb950")],
                marks: marks_on(d, &d.report.zscore),
                decimals: 2,
                ..Default::default()
            }
        })
    });
    let beta_spec = Signal::derive(move || {
        data.with(|d| {
            let Some(d) = d else {
                return ChartSpec::default();
            };
            ChartSpec {
                lines: vec![Line {
                    name: "β".into(),
                    color: "#bc8cff",
                    values: d.report.beta.clone(),
                    width: 1.4,
                }],
                decimals: 4,
                ..Default::default()
            }
        })
    });
    let corr_spec = Signal::derive(move || {
        data.with(|d| {
            let Some(d) = d else {
                return ChartSpec::default();
            };
            ChartSpec {
                lines: vec![Line {
                    name: "ρ".into(),
                    color: "#39c5cf",
                    values: d.corr.clone(),
                    width: 1.4,
                }],
                hlines: vec![(0.0, "#4a5366")],
                decimals: 3,
                ..Default::default()
            }
        })
    });
    let equity_spec = Signal::derive(move || {
        data.with(|d| {
            let Some(d) = d else {
                return ChartSpec::default();
            };
            let eq = d
                .backtest
                .as_ref()
                .map(|b| b.equity.iter().map(|v| Some(*v)).collect())
                .unwrap_or_default();
            // Shaded where the account is below its peak.
            let spans = d
                .backtest
                .as_ref()
                .map(|b| {
                    series::drawdown_spans(&d.ts, &b.drawdown)
                        .into_iter()
                        .map(|(a, b)| (a, b, "#f85149"))
                        .collect()
                })
                .unwrap_or_default();
            ChartSpec {
                lines: vec![Line {
                    name: "equity".into(),
                    color: "#3fb950",
                    values: eq,
                    width: 1.4,
                }],
                spans,
                hlines: vec![(0.0, "#4a5366")],
                decimals: 2,
                ..Default::default()
            }
        })
    });
    let title = |s: &'static str| Signal::derive(move || s.to_string());
    // A rolling β can be undefined where x does not move; say so (and why)
    // in the chart's title rather than leave an unexplained gap.
    let beta_title = Signal::derive(move || {
        data.with(|d| {
            match d.as_ref().and_then(|d| {
                crate::analytics::rolling_ols::undefined_note(&d.report.beta_undefined)
            }) {
                Some(note) => format!("Hedge ratio β · {note}"),
                None => "Hedge ratio β".to_string(),
            }
        })
    });
    let price_title = Signal::derive(move || {
        prices.with(|d| match d {
            Some(d) => format!(
                "{} {} · {} {} (% change)",
                d.x,
                d.px.last().map(|p| format::price(*p)).unwrap_or_default(),
                d.y,
                d.py.last().map(|p| format::price(*p)).unwrap_or_default()
            ),
            None => "Prices".into(),
        })
    });

    let err = move |k: &'static str| {
        move || {
            params.with(|p| {
                p.errors.get(k).map(|e| view! { <span class="field-error" data-testid=format!("err-{k}") role="alert">{e.clone()}</span> })
            })
        }
    };
    let raw = move |k: &'static str| move || query_map.with(|m| m.get(k)).unwrap_or_default();
    let sp = set_params.clone();
    let on = move |k: &'static str| {
        let sp = sp.clone();
        move |ev: leptos::ev::Event| sp(&[(k, event_target_value(&ev).as_str())])
    };
    let q = move || params.get().query;

    view! {
        <section class="controls" aria-label="Pair and model controls">
            <datalist id="symbol-list">
                <Suspense>
                    {move || Suspend::new(async move {
                        symbols.await.unwrap_or_default().into_iter().map(|s| view! { <option value=s.clone()></option> }).collect_view()
                    })}
                </Suspense>
            </datalist>
            <label>"Y (dependent)"
                <input data-testid="sym-y" list="symbol-list" size="10" prop:value=move || q().y on:change=on("y") />
                {err("y")}
            </label>
            <label>"X (hedge)"
                <input data-testid="sym-x" list="symbol-list" size="10" prop:value=move || q().x on:change=on("x") />
                {err("x")}
            </label>
            <label title="How much history to show; picks a bar size that fits it (Timeframe and Bars can still be set by hand)">"Span"
                <select data-testid="span" prop:value=move || params::span_of(&q()).map(|s| s.name).unwrap_or("custom") on:change={
                    let sp = set_params.clone();
                    move |ev: leptos::ev::Event| {
                        if let Some(p) = params::span_params(&event_target_value(&ev)) {
                            let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
                            sp(&pairs);
                        }
                    }
                }>
                    {params::SPANS.iter().map(|s| view! { <option value=s.name>{s.label}</option> }).collect_view()}
                    <option value="custom" disabled=true>"custom"</option>
                </select>
            </label>
            <label>"Timeframe"
                <select data-testid="timeframe" prop:value=move || q().timeframe.to_string() on:change=on("tf")>
                    {Timeframe::ALL.iter().map(|t| view! { <option value=t.as_str()>{t.as_str()}</option> }).collect_view()}
                </select>
                {err("tf")}
            </label>
            <label title="Bars analysed, ending now (live) or at the chosen end time">"Bars"
                <input data-testid="bars" type="number" min="10" max=crate::model::pair::MAX_BARS size="6" prop:value=move || q().bars.to_string() on:change=on("bars") />
                {err("bars")}
            </label>
            <label>"Regression"
                <select data-testid="regression" prop:value=move || params::regression_name(q().options.regression) on:change=on("reg")>
                    {REGRESSIONS.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                </select>
                {err("reg")}
            </label>
            <label>"Prices"
                <select data-testid="prices" prop:value=move || params::prices_name(q().options.prices) on:change=on("prices")>
                    <option value="log">"log"</option>
                    <option value="raw">"raw"</option>
                </select>
            </label>
            <label title="The price of each bar the spread is built on: its last trade, or the mid of the book at its close (bars without a quote of both legs are left out)">"Spread on"
                <select data-testid="price-source" prop:value=move || q().price.as_str() on:change=on("px")>
                    <option value="last">"last trade"</option>
                    <option value="mid">"mid"</option>
                </select>
                {err("px")}
            </label>
            <label title="Rolling regression window in bars; 'full' = one fit over all bars">"Window"
                <input data-testid="window" size="5" prop:value=move || q().options.window.map(|w| w.to_string()).unwrap_or_else(|| "full".into()) on:change=on("window") />
                {err("window")}
            </label>
            <label title="Z-score window in bars">"Z window"
                <input data-testid="zwindow" type="number" min="2" size="5" prop:value=move || q().options.z_window.to_string() on:change=on("zw") />
                {err("zw")}
            </label>
            <label title="Enter when |z| exceeds this">"Entry z"
                <input data-testid="entry" size="4" prop:value=move || q().options.entry.to_string() on:change=on("entry") />
                {err("entry")}
            </label>
            <label title="Exit when |z| falls below this">"Exit z"
                <input data-testid="exit" size="4" prop:value=move || q().options.exit.to_string() on:change=on("exit") />
                {err("exit")}
            </label>
            <label title="Thresholds: the entry and exit above, or Bertram's optimal bands for the spread's Ornstein-Uhlenbeck fit at the round-trip cost (held until the opposite band flips the position)">"Bands"
                <select data-testid="bands" prop:value=move || q().bands.as_str() on:change=on("bands")>
                    <option value="manual">"entry / exit"</option>
                    <option value="bertram">"Bertram (return)"</option>
                    <option value="bertram-sharpe">"Bertram (Sharpe)"</option>
                </select>
                {err("bands")}
            </label>
            <label title="Live source, or files uploaded/replayed into pairdesk">"Data"
                <select data-testid="src" prop:value=move || if params.with(|p| p.replay) { "replay" } else { "live" } on:change=on("src")>
                    <option value="live">"live source"</option>
                    <option value="replay">"uploads / replays"</option>
                </select>
                {err("src")}
            </label>
            <label title="Start of a historical range, UTC (2025-12-15 08:00) or epoch ms; empty = the last 'Bars' bars">"From (UTC)"
                <input data-testid="from" size="16" placeholder="—" prop:value=raw("from") on:change=on("from") />
                {err("from")}
            </label>
            <label title="End of a historical range, UTC (2025-12-15 09:00) or epoch ms; empty = live tail">"To (UTC)"
                <input data-testid="to" size="16" placeholder="live" prop:value=raw("to") on:change=on("to") />
                {err("to")}
            </label>
            {move || params.with(|p| p.query.to).map(|t| view! {
                <button class="link live-back" data-testid="back-to-live" title="Leave the historical range and follow the market"
                    on:click={
                        let sp = set_params.clone();
                        move |_| sp(&[("from", ""), ("to", "")])
                    }>
                    {format!("until {} · back to live", format::utc(t))}
                </button>
            })}
            <AddSymbol symbols />
        </section>
        {move || error.get().map(|e| view! { <p class="banner error" data-testid="pair-error" role="alert">{e}</p> })}
        <p class="downloads">
            <a
                data-testid="download-pair"
                download
                href=move || params.with(|p| format!("/api/v1/pair.csv?{}", params::api_query_string(&p.query, p.replay)))
                title="Both legs' closes and every series on the charts, one row per bar, for the view on screen"
            >"⬇ bars + analytics (CSV)"</a>
            <a
                data-testid="download-bars"
                download
                href=move || params.with(|p| bars_csv_href(&p.query, &p.query.y, p.replay))
                title="OHLCV bars of the dependent leg for the same range"
            >{move || params.with(|p| format!("⬇ {} bars (CSV)", p.query.y))}</a>
            <a
                data-testid="download-bars-x"
                download
                href=move || params.with(|p| bars_csv_href(&p.query, &p.query.x, p.replay))
                title="OHLCV bars of the hedge leg for the same range"
            >{move || params.with(|p| format!("⬇ {} bars (CSV)", p.query.x))}</a>
        </p>
        <section class="signal" data-testid="signal">
            {move || match (data.with(|d| d.as_ref().map(|d| d.signal_text.clone())), note.get()) {
                (Some(s), _) => s,
                (None, Some(n)) => format!("No statistics yet: {n}"),
                (None, None) => "Waiting for bars on both legs…".into(),
            }}
        </section>
        <div class="main-grid">
            <section class="charts">
                <TimeChart title=price_title ts spec=prices_spec view=view_range hover testid="chart-prices" help="Both legs, percent change from the first bar; the last bar follows live trades" stamp=live_stamp.into() />
                <TimeChart title=title("Spread with rolling mean ± entry·σ") ts spec=spread_spec view=view_range hover testid="chart-spread" help="y − (α + β·x) using the coefficients known at each bar" />
                <TimeChart title=title("Z-score") ts spec=z_spec view=view_range hover testid="chart-z" help="(spread − rolling mean) / rolling std; red zone: short the spread, green zone: long it" />
                <TimeChart title=beta_title ts spec=beta_spec view=view_range hover testid="chart-beta" help="Rolling, dynamic (Kalman) or full-sample hedge ratio" />
                <TimeChart title=title("Rolling correlation of log returns") ts spec=corr_spec view=view_range hover testid="chart-corr" help="Pearson correlation of the legs' log returns over the z window" />
                <TimeChart title=title("Backtest equity, USDT (net of all costs)") ts spec=equity_spec view=view_range hover testid="chart-equity" help="Cumulative net PnL of the rule in quote currency for the notional per position; next-bar fills, fees, spread and funding included" />
                <stats::TradeBlotter data />
            </section>
            <aside class="side">
                <stats::StatsTable data />
                <alerts::AlertsPanel x=Signal::derive(move || params.with(|p| p.query.x.clone())) y=Signal::derive(move || params.with(|p| p.query.y.clone())) fired />
                <paper::PaperPanel query=Signal::derive(move || params.with(|p| p.query.clone())) live=Signal::derive(move || params.with(|p| p.query.to.is_none() && !p.replay)) lines=paper_lines />
            </aside>
        </div>
        <p class="hint">"Wheel to zoom, drag to pan, double-click to reset; hover shows values on every chart."</p>
        <upload::Upload />
        <scanner::Scanner symbols=watchlist.clone() timeframe=Signal::derive(move || params.with(|p| p.query.timeframe.to_string())) open_pair />
        <basket::BasketPanel symbols=watchlist timeframe=Signal::derive(move || params.with(|p| p.query.timeframe.to_string())) to=Signal::derive(move || params.with(|p| p.query.to)) />
    }
}

/// The backtest's entry and exit markers on a series of the analytics.
fn marks_on(d: &PairAnalytics, values: &[Option<f64>]) -> Vec<chart::Mark> {
    d.backtest
        .as_ref()
        .map(|b| series::trade_marks(&d.ts, &b.trades, values))
        .unwrap_or_default()
}
