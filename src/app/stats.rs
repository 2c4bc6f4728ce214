//! The statistics table: every figure with a tooltip saying what it means.

use crate::model::pair::PairAnalytics;
use leptos::prelude::*;

fn num(v: Option<f64>, d: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.d$}"),
        Some(v) => format!("{v}"),
        None => "–".into(),
    }
}

/// p-values span many orders of magnitude; small ones in scientific form.
fn pval(v: Option<f64>) -> String {
    match v {
        Some(p) if p < 1e-4 => format!("{p:.2e}"),
        Some(p) => format!("{p:.4}"),
        None => "–".into(),
    }
}

/// (key, label, value, tooltip) rows for a result.
pub fn rows(d: &PairAnalytics) -> Vec<(&'static str, &'static str, String, &'static str)> {
    let r = &d.report;
    let g = &r.regression;
    let bt = d.backtest.as_ref();
    let c = d.cost.as_ref();
    // The side the signal points to (short when it says nothing).
    let side = c.map(|c| match d.signal {
        crate::analytics::Signal::LongSpread => ("long", &c.long),
        _ => ("short", &c.short),
    });
    let funding = side.and_then(|(_, s)| s.funding_bp_8h);
    let bp = |v: Option<f64>| v.map(crate::model::pair::bp).unwrap_or_else(|| "–".into());
    let mut out = vec![
        ("n", "bars", r.n.to_string(), "Bars where both legs have a price (after alignment)"),
        ("alpha", "α (intercept)", num(Some(g.alpha), 6), "Intercept of the full-sample hedge regression y = α + β·x"),
        ("alpha_se", "α std. error", num(g.alpha_se, 6), "Standard error of α (OLS only)"),
        ("beta", "β (hedge ratio)", num(Some(g.beta), 6), "Full-sample hedge ratio: units of x (log or raw) per unit of y"),
        ("beta_se", "β std. error", num(g.beta_se, 6), "Standard error of β (OLS only)"),
        ("beta_t", "β t-stat", num(g.beta_t, 2), "β divided by its standard error"),
        ("r2", "R²", num(g.r2, 4), "Share of y's variance explained by x"),
        ("resid_std", "residual σ", num(g.resid_std, 6), "Standard deviation of the regression residuals"),
        ("adf_stat", "ADF statistic", num(Some(r.adf.stat), 4), "Augmented Dickey-Fuller t-statistic of the spread (constant, AIC lag); more negative = more stationary"),
        ("adf_p", "ADF p-value", pval(Some(r.adf.pvalue)), "MacKinnon p-value: below 0.05 rejects a unit root in the spread"),
        ("adf_crit", "ADF crit 1/5/10%", format!("{} / {} / {}", num(Some(r.adf.crit.one), 3), num(Some(r.adf.crit.five), 3), num(Some(r.adf.crit.ten), 3)), "MacKinnon (2010) critical values for the ADF statistic"),
        ("adf_lag", "ADF lags", r.adf.usedlag.to_string(), "Lagged differences chosen by AIC"),
        ("coint_p", "Engle-Granger p", pval(Some(r.coint.pvalue)), "Cointegration test p-value (statsmodels coint): below 0.05 suggests the pair is cointegrated"),
        ("half_life", "half-life (bars)", num(r.half_life, 1), "Bars for a spread deviation to halve, from an AR(1) fit; – when the spread does not mean-revert"),
        ("hurst", "Hurst", num(r.hurst, 3), "Below 0.5: mean-reverting; 0.5: random walk; above 0.5: trending"),
        ("correlation", "correlation", num(r.correlation, 4), "Correlation of the legs' log returns over all bars"),
        ("z", "latest z", num(d.z, 3), "Latest z-score of the spread"),
        ("bt_pnl", "backtest net (USDT)", num(bt.map(|b| b.summary.net), 2), "Net PnL of the rule in quote currency for the stated notional: next-bar fills at the book (or an assumed half spread), taker fees per leg, funding"),
        ("bt_pnl_pct", "backtest net (% of notional)", num(bt.map(|b| b.summary.net_pct), 3), "Net PnL as percent of the notional per position"),
        ("bt_costs", "fees / slippage / funding (USDT)", bt.map(|b| format!("{} / {} / {}", num(Some(b.summary.fees), 2), num(Some(b.summary.slippage), 2), num(Some(b.summary.funding), 2))).unwrap_or_else(|| "–".into()), "Fees paid, half spread crossed plus slippage, funding received (negative: paid)"),
        ("bt_trades", "trades", bt.map(|b| b.summary.trades.to_string()).unwrap_or_else(|| "–".into()), "Positions entered (a flip enters one)"),
        ("bt_hit", "hit rate", num(bt.and_then(|b| b.summary.hit_rate), 3), "Share of closed trades with positive net PnL"),
        ("bt_sharpe", "Sharpe (ann.)", num(bt.and_then(|b| b.summary.sharpe), 2), "Mean / std of the bar returns (PnL / notional) × √(bars per year, 365 days)"),
        ("bt_dd", "max drawdown (%)", num(bt.map(|b| b.summary.max_drawdown_pct), 3), "Largest fall of the account (notional + PnL) below its peak, percent of the peak"),
    ];
    let dg = r.diagnostics.as_ref();
    let ou = r.ou.as_ref();
    let sb = &d.suggested_bands;
    let lb = |lag: usize| {
        dg.and_then(|g| g.ljung_box.iter().find(|b| b.lag == lag))
            .map(|b| b.pvalue)
    };
    let acf = dg
        .map(|g| {
            [1, 5, 10, 20]
                .iter()
                .map(|&k| num(g.acf.get(k).copied(), 2))
                .collect::<Vec<_>>()
                .join(" / ")
        })
        .unwrap_or_else(|| "–".into());
    let band = |b: Option<&crate::analytics::bertram::Bands>| {
        b.map(|b| format!("±{:.2} z ({:.3e} / bar)", b.z, b.expected_return))
            .unwrap_or_else(|| sb.error.clone().map_or("–".into(), |_| "none".into()))
    };
    out.extend([
        ("ou_theta", "OU θ (per bar)", num(ou.map(|o| o.theta), 5), "Mean-reversion speed of the spread, exact Ornstein-Uhlenbeck maximum likelihood"),
        ("ou_half_life", "OU half-life (bars)", num(ou.map(|o| o.half_life), 1), "ln 2 / θ from the OU fit, ± from θ's standard error"),
        ("ou_sigma", "OU σ (per √bar)", num(ou.map(|o| o.sigma), 6), "Diffusion of the spread; σ/√(2θ) is its stationary standard deviation"),
        ("bands_cost", "round-trip cost (spread units)", num(Some(sb.cost), 6), "Both legs entered and left at the fee, half spread and slippage, x weighted by |β|: the cost the suggested bands pay"),
        ("bands_return", "suggested bands (return)", band(sb.return_max.as_ref()), "Bertram (2010): the symmetric bands maximising expected return per unit time at that cost, in stationary σ (dashed amber on the z chart)"),
        ("bands_sharpe", "suggested bands (Sharpe)", band(sb.sharpe_max.as_ref()), "Bertram (2010): the bands maximising the Sharpe ratio per unit time (dashed pink on the z chart)"),
        ("skew", "spread skew", num(dg.map(|g| g.skew), 3), "Skewness of the full-sample spread"),
        ("kurtosis", "spread excess kurtosis", num(dg.map(|g| g.kurtosis), 3), "Above 0: fatter tails than normal"),
        ("jb_p", "Jarque-Bera p", pval(dg.map(|g| g.jarque_bera_p)), "Below 0.05 rejects normality of the spread"),
        ("lb_p", "Ljung-Box p (10 lags)", pval(lb(10)), "Below 0.05: the spread is autocorrelated (expected for a mean-reverting level)"),
        ("acf", "ACF lag 1/5/10/20", acf, "Autocorrelation of the spread; a good hedge decays within a few half-lives"),
    ]);
    out.extend([
        ("quoted_y", "quoted spread y (bp)", bp(c.map(|c| c.y.quoted_bp())), "(ask - bid) / mid of the dependent leg at the newest book"),
        ("quoted_x", "quoted spread x (bp)", bp(c.map(|c| c.x.quoted_bp())), "(ask - bid) / mid of the independent leg at the newest book"),
        ("round_trip_bp", "round trip (bp)", bp(c.map(|c| c.round_trip_bp)), "Enter one side of the pair and leave by the other at the newest book, before fees, in bp of gross notional"),
        ("funding_y", "funding rate y (bp/8h)", bp(c.and_then(|c| c.y.funding_8h).map(|r| r * 1e4)), "The dependent leg's funding rate per 8 h: a long pays it when positive, a short receives it"),
        ("funding_x", "funding rate x (bp/8h)", bp(c.and_then(|c| c.x.funding_8h).map(|r| r * 1e4)), "The independent leg's funding rate per 8 h: a long pays it when positive, a short receives it"),
        ("funding_8h", if side.is_some_and(|(s, _)| s == "long") { "funding long (bp/8h)" } else { "funding short (bp/8h)" }, bp(funding), "Net funding of the side the signal points to while held, per 8 h, in bp of gross notional: positive is received"),
        ("funding_ann", "funding (% a year)", num(funding.map(|f| f * crate::model::cost::FUNDING_PERIODS_PER_YEAR / 100.0), 2), "The same carry annualized (3 fundings a day)"),
    ]);
    out
}

#[component]
pub fn StatsTable(data: RwSignal<Option<PairAnalytics>>) -> impl IntoView {
    view! {
        <table class="stats" data-testid="stats">
            <caption>
                "Statistics "
                <span class="updated">
                    {move || data.with(|d| d.as_ref().and_then(|d| d.updated).map(|t| format!("bar {} UTC", super::format::hms(t))).unwrap_or_default())}
                </span>
            </caption>
            <tbody>
                {move || {
                    data.with(|d| match d {
                        Some(d) => {
                            let table = rows(d)
                                .into_iter()
                                .map(|(k, label, value, help)| {
                                    view! {
                                        <tr title=help>
                                            <th scope="row">{label}</th>
                                            <td data-stat=k>{value}</td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            let acf = d.report.diagnostics.as_ref().map(|g| g.acf.clone()).unwrap_or_default();
                            let n = d.report.n;
                            view! {
                                {table}
                                <tr title="Autocorrelation of the full-sample spread by lag; dashed: ±1.96/√n, where white noise stays 95% of the time (bars beyond it in the accent colour)">
                                    <th scope="row">{format!("ACF, lags 1–{}", acf.len().saturating_sub(1))}</th>
                                    <td>{acf_chart(&acf, n)}</td>
                                </tr>
                            }
                            .into_any()
                        }
                        None => view! { <tr><td>"No data yet."</td></tr> }.into_any(),
                    })
                }}
            </tbody>
        </table>
    }
}

/// The spread's ACF (lags 1 on) as a small bar chart, with the ±1.96/√n
/// band a white-noise series stays inside 95% of the time. Each bar
/// carries its value (`data-acf`), so a test can read what it shows.
fn acf_chart(acf: &[f64], n: usize) -> impl IntoView {
    const W: f64 = 220.0;
    const H: f64 = 64.0;
    let lags = acf.len().saturating_sub(1);
    let step = W / lags.max(1) as f64;
    let mid = H / 2.0;
    let scale = mid - 2.0;
    let band = (1.96 / (n.max(1) as f64).sqrt()).min(1.0);
    let bars = acf
        .iter()
        .enumerate()
        .skip(1)
        .map(|(k, &raw)| {
            let v = if raw.is_finite() {
                raw.clamp(-1.0, 1.0)
            } else {
                0.0
            };
            let h = (v.abs() * scale).max(0.5);
            let y = if v >= 0.0 { mid - h } else { mid };
            let class = if v.abs() > band {
                "acf-bar out"
            } else {
                "acf-bar"
            };
            view! {
                <rect
                    x=format!("{:.1}", (k - 1) as f64 * step + 0.5)
                    y=format!("{y:.1}")
                    width=format!("{:.1}", (step - 1.0).max(1.0))
                    height=format!("{h:.1}")
                    class=class
                    data-lag=k.to_string()
                    data-acf=raw.to_string()
                >
                    <title>{format!("lag {k}: {raw:.3}")}</title>
                </rect>
            }
        })
        .collect_view();
    let at = |v: f64| format!("{:.1}", mid - v * scale);
    view! {
        <svg class="acf" data-testid="acf-chart" viewBox=format!("0 0 {W} {H}") width=W.to_string() height=H.to_string() role="img" aria-label="Autocorrelation of the spread by lag">
            <line class="acf-zero" x1="0" x2=W.to_string() y1=at(0.0) y2=at(0.0) />
            <line class="acf-band" x1="0" x2=W.to_string() y1=at(band) y2=at(band) />
            <line class="acf-band" x1="0" x2=W.to_string() y1=at(-band) y2=at(-band) />
            {bars}
        </svg>
    }
}

/// The backtest's trades, newest first (the last 100): what each leg
/// traded at, the costs and the PnL, in the quote currency.
#[component]
pub fn TradeBlotter(data: RwSignal<Option<PairAnalytics>>) -> impl IntoView {
    const SHOWN: usize = 100;
    let qty = |q: f64| format!("{q:+.4}");
    let px = |p: Option<f64>| p.map(super::format::price).unwrap_or_else(|| "open".into());
    view! {
        <table class="stats blotter" data-testid="blotter">
            <caption>
                {move || data.with(|d| match d.as_ref().and_then(|d| d.backtest.as_ref()) {
                    Some(b) => format!(
                        "Backtest trades: {} ({} closed), net {} USDT on {} USDT a position",
                        b.summary.trades,
                        b.summary.closed,
                        num(Some(b.summary.net), 2),
                        num(Some(b.summary.notional), 0)
                    ),
                    None => match d.as_ref().and_then(|d| d.backtest_error.clone()) {
                        Some(e) => format!("Backtest did not run: {e}"),
                        None => "Backtest trades".into(),
                    },
                })}
            </caption>
            <thead>
                <tr>
                    <th scope="col">"side"</th>
                    <th scope="col">"in (UTC)"</th>
                    <th scope="col">"out"</th>
                    <th scope="col" title="Signed quantities of y and x">"qty y / x"</th>
                    <th scope="col" title="Fill prices of y, entry → exit">"y in → out"</th>
                    <th scope="col" title="Fill prices of x, entry → exit">"x in → out"</th>
                    <th scope="col" title="Taker fees of both legs, USDT">"fees"</th>
                    <th scope="col" title="Half spread crossed plus slippage, USDT">"slip."</th>
                    <th scope="col" title="Funding received (negative: paid), USDT">"fund."</th>
                    <th scope="col" title="Net PnL, USDT (open: marked at the last close)">"net"</th>
                    <th scope="col">"exit"</th>
                </tr>
            </thead>
            <tbody>
                {move || data.with(|d| {
                    let trades = d.as_ref().and_then(|d| d.backtest.as_ref()).map(|b| b.trades.clone()).unwrap_or_default();
                    trades
                        .into_iter()
                        .rev()
                        .take(SHOWN)
                        .map(|t| {
                            let side = t.side.as_str();
                            let reason = t.exit_reason.map_or("open", |r| r.as_str());
                            let cls = if t.net >= 0.0 { "pos" } else { "neg" };
                            view! {
                                <tr data-entry-ts=t.entry_ts.to_string()>
                                    <td>{side}</td>
                                    <td>{super::format::hms(t.entry_ts)}</td>
                                    <td>{t.exit_ts.map(super::format::hms).unwrap_or_else(|| "–".into())}</td>
                                    <td>{format!("{} / {}", qty(t.qty_y), qty(t.qty_x))}</td>
                                    <td>{format!("{} → {}", super::format::price(t.entry_y), px(t.exit_y))}</td>
                                    <td>{format!("{} → {}", super::format::price(t.entry_x), px(t.exit_x))}</td>
                                    <td>{num(Some(t.fees), 2)}</td>
                                    <td>{num(Some(t.slippage), 2)}</td>
                                    <td>{num(Some(t.funding), 2)}</td>
                                    <td class=cls data-net=t.net.to_string()>{num(Some(t.net), 2)}</td>
                                    <td>{reason}</td>
                                </tr>
                            }
                        })
                        .collect_view()
                })}
            </tbody>
        </table>
    }
}
