//! The basket panel: two to twelve stored symbols tested together at the
//! view's timeframe, showing the hedge weights (Johansen's first vector and
//! OLS with standard errors), the Johansen table with the ranks it selects,
//! Engle-Granger with N = legs, and the OU fit and suggested bands of the
//! Johansen-weighted spread, over the view's range (its `To`, or the live
//! tail), and the backtest of the z-score rule on a rolling OLS hedge with
//! its equity curve. The numbers are `GET /api/v1/johansen`'s. A live
//! basket's rule can be paper traded from here (the paper panel shows it).

use crate::api::server_fns::{basket_report, start_paper};
use crate::domain::Timeframe;
use crate::model::basket::{BasketQuery, BasketReport};
use leptos::prelude::*;

#[component]
pub fn BasketPanel(
    symbols: Vec<String>,
    timeframe: Signal<String>,
    to: Signal<Option<i64>>,
) -> impl IntoView {
    let legs = RwSignal::new(symbols.join(","));
    let bars = RwSignal::new("600".to_string());
    let window = RwSignal::new(String::new());
    let z_window = RwSignal::new(String::new());
    let entry = RwSignal::new("2".to_string());
    let exit = RwSignal::new("0.5".to_string());
    let form_error = RwSignal::new(None::<String>);
    let run = Action::new(move |q: &BasketQuery| {
        let q = q.clone();
        async move { basket_report(q).await }
    });
    let paper = Action::new(move |q: &BasketQuery| {
        let q = crate::model::paper::Traded::Basket(BasketQuery {
            to: None,
            ..q.clone()
        });
        async move { start_paper(q).await }
    });
    let paper_note = move || {
        paper.value().get().map(|r| {
            let text = match r {
                Ok(s) => format!("paper session {} started: it trades from the next bar", s.id),
                Err(e) => super::server_error(&e),
            };
            view! { <p class="field-note" role="status" data-testid="basket-paper-message">{text}</p> }
        })
    };
    // The tested basket, when it is live (no historical `To`): what a
    // paper session of it would trade.
    let tested = move || {
        run.value()
            .get()
            .and_then(Result::ok)
            .map(|r| r.query)
            .filter(|q| q.to.is_none())
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let symbols = crate::domain::split_symbols(&legs.get_untracked());
        let bars = bars.get_untracked().trim().parse::<usize>().unwrap_or(600);
        let (dw, dz) = BasketQuery::default_windows(bars, symbols.len());
        // A field left blank takes its default; one that does not parse
        // is named rather than replaced.
        fn field<T: std::str::FromStr>(
            s: RwSignal<String>,
            name: &str,
        ) -> Result<Option<T>, String> {
            let v = s.get_untracked();
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            v.parse::<T>()
                .map(Some)
                .map_err(|_| format!("{name}: not a valid number: {v}"))
        }
        let parsed = (|| -> Result<BasketQuery, String> {
            let d = BasketQuery::default();
            Ok(BasketQuery {
                timeframe: timeframe.get_untracked().parse::<Timeframe>()?,
                bars,
                to: to.get_untracked(),
                window: field(window, "hedge window")?.unwrap_or(dw),
                z_window: field(z_window, "z window")?.unwrap_or(dz),
                entry: field(entry, "entry")?.unwrap_or(d.entry),
                exit: field(exit, "exit")?.unwrap_or(d.exit),
                symbols,
                ..d
            })
        })();
        match parsed {
            Ok(q) => {
                form_error.set(None);
                run.dispatch(q);
            }
            Err(e) => form_error.set(Some(e)),
        }
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
                <label title="Bars of the rolling OLS hedge the backtest trades (blank: 200, at most half the bars)">"Hedge window"
                    <input data-testid="basket-window" size="4" placeholder="auto" prop:value=move || window.get() on:input=move |ev| window.set(event_target_value(&ev)) />
                </label>
                <label title="Bars of the z-score of its spread (blank: 60, at most a quarter of the bars)">"z window"
                    <input data-testid="basket-z-window" size="4" placeholder="auto" prop:value=move || z_window.get() on:input=move |ev| z_window.set(event_target_value(&ev)) />
                </label>
                <label>"Entry |z|"
                    <input data-testid="basket-entry" size="3" prop:value=move || entry.get() on:input=move |ev| entry.set(event_target_value(&ev)) />
                </label>
                <label>"Exit |z|"
                    <input data-testid="basket-exit" size="3" prop:value=move || exit.get() on:input=move |ev| exit.set(event_target_value(&ev)) />
                </label>
                <button type="submit" data-testid="basket-run">{move || if run.pending().get() { "Testing…" } else { "Test basket" }}</button>
            </form>
            {move || form_error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            {move || tested().map(|q| view! {
                <button
                    data-testid="basket-paper-start"
                    disabled=move || paper.pending().get()
                    title="Trade this basket's rule (its rolling hedge, thresholds and backtest settings) live on paper"
                    on:click=move |_| { paper.dispatch(q.clone()); }
                >"▶ paper-trade this basket"</button>
            })}
            {paper_note}
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
        {backtest_view(&r)}
        {(!r.notes.is_empty()).then(|| view! { <p class="hint">{r.notes.join("; ")}</p> })}
        <p class="downloads">
            <a data-testid="basket-csv" href=format!("/api/v1/johansen.csv?{}", api_query_string(&r.query)) download="">"Download CSV"</a>
            " (every leg's close, the Johansen spread, and the backtest's z-score, position and equity per bar)"
        </p>
    }
}

/// The HTTP API query (`/api/v1/johansen`, `/api/v1/johansen.csv`) of a
/// tested basket: the same bars, test and backtest.
pub fn api_query_string(q: &BasketQuery) -> String {
    let mut parts = vec![
        format!("symbols={}", q.symbols.join(",")),
        format!("timeframe={}", q.timeframe),
        format!("bars={}", q.bars),
        format!("det_order={}", q.det_order),
        format!("k_ar_diff={}", q.k_ar_diff),
        format!("prices={}", super::params::prices_name(q.prices)),
        format!("half_spread_bps={}", q.half_spread_bps),
        format!("window={}", q.window),
        format!("z_window={}", q.z_window),
        format!("entry={}", q.entry),
        format!("exit={}", q.exit),
    ];
    if let Some(f) = q.fee_bps {
        parts.push(format!("fee_bps={f}"));
    }
    if let Some(t) = q.to {
        parts.push(format!("to={t}"));
    }
    parts.join("&")
}

/// The backtest's summary and equity curve, or why it did not run.
fn backtest_view(r: &BasketReport) -> impl IntoView {
    let q = &r.query;
    let Some(bt) = &r.backtest else {
        let why = r.backtest_error.clone().unwrap_or_else(|| "not run".into());
        return view! { <p class="hint" data-testid="basket-backtest-error">{format!("Backtest: {why}")}</p> }.into_any();
    };
    let s = &bt.summary;
    let o = |v: Option<f64>, d: usize| v.map(|v| format!("{v:.d$}")).unwrap_or_else(|| "–".into());
    let text = format!(
        "Backtest on a rolling OLS hedge ({} bars) and its z-score ({} bars), entry {} / exit {}: net {:.2} USDT ({:.3}%), {} trades ({} closed, hit rate {}), Sharpe {}, max drawdown {:.3}%; fees {:.2}, slippage {:.2}, funding {:.2}",
        q.window,
        q.z_window,
        q.entry,
        q.exit,
        s.net,
        s.net_pct,
        s.trades,
        s.closed,
        o(s.hit_rate, 2),
        o(s.sharpe, 2),
        s.max_drawdown_pct,
        s.fees,
        s.slippage,
        s.funding
    );
    view! {
        <p class="hint" data-testid="basket-backtest" data-net=s.net.to_string() data-trades=s.trades.to_string()>{text}</p>
        {equity_line(&bt.equity)}
    }
    .into_any()
}

/// The equity curve as a small line (its range in the tooltip).
fn equity_line(equity: &[f64]) -> impl IntoView {
    const W: f64 = 320.0;
    const H: f64 = 60.0;
    let (lo, hi) = equity
        .iter()
        .filter(|v| v.is_finite())
        .fold((0.0f64, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
    let span = (hi - lo).max(1e-12);
    let step = W / (equity.len().max(2) - 1) as f64;
    let y = |v: f64| H - 2.0 - (v - lo) / span * (H - 4.0);
    let points: Vec<String> = equity
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, &v)| format!("{:.1},{:.1}", i as f64 * step, y(v)))
        .collect();
    view! {
        <svg class="equity-line" data-testid="basket-equity" data-points=equity.len().to_string() viewBox=format!("0 0 {W} {H}") width=W.to_string() height=H.to_string() role="img" aria-label="Backtest equity, quote currency">
            <title>{format!("equity {lo:.2} to {hi:.2} USDT")}</title>
            <line class="acf-zero" x1="0" x2=W.to_string() y1=format!("{:.1}", y(0.0)) y2=format!("{:.1}", y(0.0)) />
            <polyline class="equity" points=points.join(" ") />
        </svg>
    }
}
