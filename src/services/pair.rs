//! Pair analytics on stored bars: the one computation behind the dashboard,
//! the HTTP API, the alert engine and the CLI, so every number shown can be
//! reproduced. Loads through the [`Store`](crate::store::Store), never a path.

use crate::analytics::backtest::{Input, Leg, Rule};
use crate::analytics::bertram::{optimal_bands, Objective};
use crate::analytics::{
    analyze, backtest, correlation::rolling_return_correlation, signal, walk_forward,
    AnalyticsError, AnalyzeOptions, AnalyzeReport, BacktestOptions, BacktestResult, FillAt,
    FundingEvent, PriceScale, Touch, WalkForward,
};
use crate::domain::Venue;
use crate::model::cost::{pair_cost, per_8h, Band, LegBook, PairCost};
use crate::model::pair::{
    describe_signal, describe_trade, waiting_text, BandRule, PairAnalytics, PairError, PairQuery,
    PairView, SuggestedBands,
};
use crate::store::{align_pair, Store, StoreError};

/// Analyse two aligned price series (the `POST /analyze` and CLI path).
/// `fee_bps` is each leg's taker fee where the query sets none (the
/// venue's base tier): it prices the round trip Bertram's bands pay.
pub fn analyze_series(
    q: &PairQuery,
    fee_bps: f64,
    ts: Vec<i64>,
    px: Vec<f64>,
    py: Vec<f64>,
) -> Result<PairAnalytics, PairError> {
    let unusable = |e: crate::analytics::AnalyticsError| PairError::Unusable(e.to_string());
    let report = analyze(&px, &py, Some(&ts), &q.options).map_err(unusable)?;
    let corr = if px.len() > q.corr_window {
        rolling_return_correlation(&px, &py, q.corr_window).map_err(unusable)?
    } else {
        vec![None; px.len()]
    };
    let suggested = suggested_bands(q, fee_bps, &report, &px, &py);
    let mut q = q.clone();
    let chosen = match q.bands {
        BandRule::Manual => None,
        BandRule::Bertram => Some(suggested.return_max),
        BandRule::BertramSharpe => Some(suggested.sharpe_max),
    };
    match chosen {
        None => {}
        Some(Some(b)) => {
            q.options.entry = b.z;
            q.options.exit = 0.0;
        }
        Some(None) => {
            return Err(PairError::Unusable(format!(
                "bands={} asks for Bertram's bands, and there are none: {}",
                q.bands.as_str(),
                suggested.error.as_deref().unwrap_or("no fit")
            )))
        }
    }
    let z = report.zscore.last().copied().flatten();
    let sig = signal(z, q.options.entry, q.options.exit);
    let beta_now = report
        .beta
        .last()
        .copied()
        .flatten()
        .unwrap_or(report.regression.beta);
    let text = describe_signal(
        z,
        sig,
        q.options.entry,
        q.options.exit,
        &q.x,
        &q.y,
        beta_now,
        *px.last().unwrap_or(&1.0),
        *py.last().unwrap_or(&1.0),
        q.options.prices,
    );
    Ok(PairAnalytics {
        query: q,
        updated: ts.last().copied(),
        ts,
        px,
        py,
        report,
        corr,
        backtest: None,
        backtest_error: None,
        z,
        signal: sig,
        signal_text: text,
        cost: None,
        band: Vec::new(),
        suggested_bands: suggested,
    })
}

/// Bertram's bands for the report's OU fit. The round trip crosses each
/// leg twice at its fee, half spread and slippage; in spread units that is
/// `2 (k_y P_y + k_x |beta| P_x)` with `P` the last price on raw prices
/// and 1 on log prices (a log spread moves in returns of the y notional).
fn suggested_bands(
    q: &PairQuery,
    fee_bps: f64,
    report: &AnalyzeReport,
    px: &[f64],
    py: &[f64],
) -> SuggestedBands {
    let bo = &q.backtest;
    let k = (q.fee_bps.unwrap_or(fee_bps) + bo.half_spread_bps + bo.slippage_bps) * 1e-4;
    let (p_x, p_y) = match q.options.prices {
        PriceScale::Log => (1.0, 1.0),
        PriceScale::Raw => (
            px.last().copied().unwrap_or(0.0).abs(),
            py.last().copied().unwrap_or(0.0).abs(),
        ),
    };
    let cost = 2.0 * k * (p_y + report.regression.beta.abs() * p_x);
    bands_at_cost(report.ou.as_ref(), cost)
}

/// Bertram's bands of both objectives for an OU fit (`None`: the spread
/// does not revert) at a round-trip `cost` in spread units.
pub(crate) fn bands_at_cost(ou: Option<&crate::analytics::ou::OuFit>, cost: f64) -> SuggestedBands {
    let Some(ou) = ou else {
        return SuggestedBands {
            cost,
            error: Some("the spread does not revert (no Ornstein-Uhlenbeck fit)".into()),
            ..SuggestedBands::default()
        };
    };
    let ret = optimal_bands(ou, cost, Objective::Return);
    let sharpe = optimal_bands(ou, cost, Objective::Sharpe { rf: 0.0 });
    SuggestedBands {
        cost,
        error: ret
            .as_ref()
            .err()
            .or(sharpe.as_ref().err())
            .map(ToString::to_string),
        return_max: ret.ok(),
        sharpe_max: sharpe.ok(),
    }
}

/// A quote older than this at the time it is used is no book to trade on.
const BOOK_MAX_AGE_MS: i64 = 60_000;

/// Add what trading the pair costs: the newest book of both legs (with
/// their funding) and the executable band per bar, from stored quotes and
/// mark prices. Without quotes nothing changes.
pub fn attach_cost(
    store: &dyn Store,
    venue: Venue,
    a: &mut PairAnalytics,
) -> Result<(), PairError> {
    let failed = |e: StoreError| PairError::Store(e.to_string());
    let q = a.query.clone();
    let tf = q.timeframe.millis();
    let Some(last) = a.ts.last().copied() else {
        return Ok(());
    };
    let closes: Vec<i64> = a.ts.iter().map(|t| t + tf - 1).collect();
    let age = tf.max(1000);
    let bx = store.quotes_at(venue, &q.x, &closes, age).map_err(failed)?;
    let by = store.quotes_at(venue, &q.y, &closes, age).map_err(failed)?;
    let beta_at = |i: usize| {
        a.report
            .beta
            .get(i)
            .copied()
            .flatten()
            .unwrap_or(a.report.regression.beta)
    };
    let f = |p: f64| match q.options.prices {
        crate::analytics::PriceScale::Log => p.ln(),
        crate::analytics::PriceScale::Raw => p,
    };
    a.band = (0..a.ts.len())
        .map(|i| {
            let (Some(x), Some(y), Some(s)) =
                (&bx[i], &by[i], a.report.spread.get(i).copied().flatten())
            else {
                return None;
            };
            let b = beta_at(i);
            let mid = f(y.mid()) - b * f(x.mid());
            let (x_sell, x_buy) = if b >= 0.0 {
                (x.ask, x.bid)
            } else {
                (x.bid, x.ask)
            };
            let short = f(y.bid) - b * f(x_sell);
            let long = f(y.ask) - b * f(x_buy);
            // Offsets from the mid spread, around the model's spread.
            Some(Band {
                sell: s - (mid - short),
                buy: s + (long - mid),
            })
        })
        .collect();
    let end = [last + tf - 1];
    let book = |sym: &str| -> Result<Option<LegBook>, PairError> {
        let newest = store
            .quotes_at(venue, sym, &end, BOOK_MAX_AGE_MS)
            .map_err(failed)?
            .pop()
            .flatten();
        let Some(qt) = newest else { return Ok(None) };
        let mark = store.last_mark(venue, sym).map_err(failed)?;
        let funding_8h = mark
            .filter(|m| (qt.ts - m.ts).abs() <= BOOK_MAX_AGE_MS)
            .map(|m| per_8h(m.funding_rate, funding_interval(store, venue, sym, m.ts)));
        Ok(Some(LegBook {
            symbol: sym.to_string(),
            bid: qt.bid,
            ask: qt.ask,
            ts: qt.ts,
            funding_8h,
        }))
    };
    let (Some(lx), Some(ly)) = (book(&q.x)?, book(&q.y)?) else {
        return Ok(());
    };
    let beta = beta_at(a.ts.len() - 1);
    let (px, py) = (*a.px.last().unwrap_or(&1.0), *a.py.last().unwrap_or(&1.0));
    let qx = match q.options.prices {
        crate::analytics::PriceScale::Log => beta * py / px,
        crate::analytics::PriceScale::Raw => beta,
    };
    let cost: Option<PairCost> = pair_cost(lx, ly, beta, qx, q.options.prices).ok();
    if let (Some(c), Some(z)) = (&cost, a.z) {
        a.signal_text = describe_trade(
            z,
            a.signal,
            q.options.entry,
            q.options.exit,
            &q.x,
            &q.y,
            qx,
            Some(c),
        );
    }
    a.cost = cost;
    Ok(())
}

/// Bars, books and funding of both legs for [`run_backtest`].
#[derive(Debug, Clone, Default)]
pub struct BacktestSeries {
    pub ts: Vec<i64>,
    pub bar_ms: i64,
    pub x_open: Vec<f64>,
    pub x_close: Vec<f64>,
    pub y_open: Vec<f64>,
    pub y_close: Vec<f64>,
    /// The book a fill on each bar meets; `None` = no quotes stored.
    pub x_book: Option<Vec<Option<Touch>>>,
    pub y_book: Option<Vec<Option<Touch>>>,
    pub x_funding: Vec<FundingEvent>,
    pub y_funding: Vec<FundingEvent>,
}

/// The backtest of the pair's rule on `s` (pure): the report's hedge
/// ratio and z-score per bar, or a walk-forward refit on the closes.
pub fn run_backtest(
    s: &BacktestSeries,
    report: &AnalyzeReport,
    ao: &AnalyzeOptions,
    bo: &BacktestOptions,
    wf: Option<WalkForward>,
) -> Result<BacktestResult, AnalyticsError> {
    let input = Input {
        ts: &s.ts,
        bar_ms: s.bar_ms,
        x: Leg {
            open: &s.x_open,
            close: &s.x_close,
            book: s.x_book.as_deref(),
            funding: &s.x_funding,
        },
        y: Leg {
            open: &s.y_open,
            close: &s.y_close,
            book: s.y_book.as_deref(),
            funding: &s.y_funding,
        },
        beta: &report.beta,
        z: &report.zscore,
        flat_after: &[],
    };
    let rule = Rule {
        entry: ao.entry,
        exit: ao.exit,
        prices: ao.prices,
    };
    let r = match wf {
        None => backtest(&input, &rule, bo)?,
        Some(wf) => {
            let f = |v: &[f64]| -> Vec<f64> {
                match ao.prices {
                    PriceScale::Log => v.iter().map(|p| p.ln()).collect(),
                    PriceScale::Raw => v.to_vec(),
                }
            };
            walk_forward(
                &input,
                &f(&s.x_close),
                &f(&s.y_close),
                ao.regression,
                &ao.kalman,
                &rule,
                bo,
                wf,
            )?
        }
    };
    let sm = &r.summary;
    let finite = [
        sm.net,
        sm.gross,
        sm.fees,
        sm.funding,
        sm.slippage,
        sm.turnover,
    ]
    .into_iter()
    .chain(r.equity.iter().copied())
    .all(f64::is_finite);
    if !finite {
        return Err(AnalyticsError::InvalidParameter {
            name: "notional",
            reason: "the backtest overflowed on these prices and this notional".into(),
        });
    }
    Ok(r)
}

/// The venue's base-tier taker fee, bp: what a leg pays without an
/// override.
pub fn venue_fee_bps(venue: Venue) -> f64 {
    match venue {
        Venue::BinanceSpot => 10.0,
        _ => crate::analytics::backtest::DEFAULT_FEE_BPS,
    }
}

/// A leg's stored funding settlements in `[from, to)` as the backtest and
/// the paper ledger take them (none when the symbol has none).
pub fn funding_events(
    store: &dyn Store,
    venue: Venue,
    symbol: &str,
    from: i64,
    to: i64,
) -> Result<Vec<FundingEvent>, StoreError> {
    Ok(store
        .funding(venue, symbol, from, to)?
        .unwrap_or_default()
        .into_iter()
        .map(|f| FundingEvent {
            ts: f.ts,
            rate: f.rate,
        })
        .collect())
}

/// The backtest settings of `q` as they execute on `venue`: each leg's
/// taker fee (`fee_bps`, else the venue's base tier) and lot step (a
/// `qty_step` of 0 takes the venue's stored market lot step, none when the
/// venue's rules were never fetched). The backtest and paper trading both
/// size and charge through this.
pub fn execution_options(
    store: &dyn Store,
    venue: Venue,
    q: &PairQuery,
) -> Result<BacktestOptions, StoreError> {
    let mut o = q.backtest;
    o.fee_bps_x = q.fee_bps.unwrap_or(venue_fee_bps(venue));
    o.fee_bps_y = o.fee_bps_x;
    if o.qty_step_x == 0.0 {
        o.qty_step_x = store.symbol_rules(venue, &q.x)?.map_or(0.0, |r| r.qty_step);
    }
    if o.qty_step_y == 0.0 {
        o.qty_step_y = store.symbol_rules(venue, &q.y)?.map_or(0.0, |r| r.qty_step);
    }
    Ok(o)
}

/// Run the pair's backtest on stored bars (opens and closes), the book a
/// fill would meet (stored quotes) and stored funding. A backtest that
/// cannot run says why in `backtest_error`; the rest of the view stands.
pub fn attach_backtest(
    store: &dyn Store,
    venue: Venue,
    a: &mut PairAnalytics,
) -> Result<(), PairError> {
    let failed = |e: StoreError| PairError::Store(e.to_string());
    let q = a.query.clone();
    let tf = q.timeframe.millis();
    let (Some(&first), Some(&last)) = (a.ts.first(), a.ts.last()) else {
        return Ok(());
    };
    let opens = |sym: &str, closes: &[f64]| -> Result<Vec<f64>, PairError> {
        let bars = store
            .bars(venue, sym, q.timeframe, first, last + tf)
            .map_err(failed)?
            .unwrap_or_default();
        let by_ts: std::collections::HashMap<i64, f64> =
            bars.iter().map(|b| (b.ts, b.open)).collect();
        // A bar carried forward had no trade: its open is the carried close.
        Ok(a.ts
            .iter()
            .zip(closes)
            .map(|(t, c)| by_ts.get(t).copied().unwrap_or(*c))
            .collect())
    };
    let x_open = opens(&q.x, &a.px)?;
    let y_open = opens(&q.y, &a.py)?;
    let book =
        |sym: &str| fill_books(store, venue, sym, &a.ts, tf, q.backtest.fill).map_err(failed);
    let funding = |sym: &str| -> Result<Vec<FundingEvent>, PairError> {
        funding_events(store, venue, sym, first, last + tf).map_err(failed)
    };
    let bo = execution_options(store, venue, &q).map_err(failed)?;
    // The response's query says which lot steps the sizing used.
    a.query.backtest.qty_step_x = bo.qty_step_x;
    a.query.backtest.qty_step_y = bo.qty_step_y;
    let series = BacktestSeries {
        ts: a.ts.clone(),
        bar_ms: tf,
        x_open,
        x_close: a.px.clone(),
        y_open,
        y_close: a.py.clone(),
        x_book: book(&q.x)?,
        y_book: book(&q.y)?,
        x_funding: funding(&q.x)?,
        y_funding: funding(&q.y)?,
    };
    match run_backtest(&series, &a.report, &q.options, &bo, q.walk_forward) {
        Ok(r) => a.backtest = Some(r),
        Err(e) => a.backtest_error = Some(e.to_string()),
    }
    Ok(())
}

/// The book a fill on each bar `ts` (bar starts, ascending, bars of
/// `tf` ms) would meet under `fill`, from stored quotes: the quote in force
/// at the bar's open or close, or for a next-quote fill the first update
/// after the deciding bar closed, if it comes before the bar ends. `None`
/// when no quote is stored for any bar.
pub(crate) fn fill_books(
    store: &dyn Store,
    venue: Venue,
    sym: &str,
    ts: &[i64],
    tf: i64,
    fill: FillAt,
) -> Result<Option<Vec<Option<Touch>>>, StoreError> {
    let Some(&first) = ts.first() else {
        return Ok(None);
    };
    let quotes = match fill {
        FillAt::NextQuote => {
            let ranges: Vec<(i64, i64)> = std::iter::once((first, first))
                .chain(ts.windows(2).map(|w| (w[0] + tf, w[1] + tf)))
                .collect();
            store.first_quotes(venue, sym, &ranges)?
        }
        FillAt::NextOpen => store.quotes_at(venue, sym, ts, tf.max(1000))?,
        FillAt::NextClose => {
            let times: Vec<i64> = ts.iter().map(|t| t + tf - 1).collect();
            store.quotes_at(venue, sym, &times, tf.max(1000))?
        }
    };
    if quotes.iter().all(Option::is_none) {
        return Ok(None);
    }
    Ok(Some(
        quotes
            .into_iter()
            .map(|q| {
                q.map(|q| Touch {
                    bid: q.bid,
                    ask: q.ask,
                    ts: q.ts,
                })
            })
            .collect(),
    ))
}

/// The venue's funding interval for `symbol`: the gap between its last two
/// settlements, 8 hours when fewer are stored.
fn funding_interval(store: &dyn Store, venue: Venue, symbol: &str, at: i64) -> i64 {
    const EIGHT_H: i64 = 8 * 3_600_000;
    match store.funding(venue, symbol, at - 3 * 86_400_000, at + 1) {
        Ok(Some(rows)) if rows.len() >= 2 => {
            let d = rows[rows.len() - 1].ts - rows[rows.len() - 2].ts;
            if (3_600_000..=EIGHT_H).contains(&d) {
                d
            } else {
                EIGHT_H
            }
        }
        _ => EIGHT_H,
    }
}

/// Load both legs' bars from the store, align them and analyse.
pub fn pair_analytics(
    store: &dyn Store,
    venue: Venue,
    mut q: PairQuery,
) -> Result<PairAnalytics, PairError> {
    let (ts, px, py) = load_aligned(store, venue, &mut q)?;
    let mut a = analyze_series(&q, venue_fee_bps(venue), ts, px, py)?;
    attach_cost(store, venue, &mut a)?;
    attach_backtest(store, venue, &mut a)?;
    Ok(a)
}

/// Prices always, analytics when possible (the dashboard's call).
pub fn pair_view(store: &dyn Store, venue: Venue, mut q: PairQuery) -> Result<PairView, PairError> {
    let (ts, px, py) = load_aligned(store, venue, &mut q)?;
    let fee = venue_fee_bps(venue);
    let analytics =
        analyze_series(&q, fee, ts.clone(), px.clone(), py.clone()).and_then(|mut a| {
            attach_cost(store, venue, &mut a)?;
            attach_backtest(store, venue, &mut a)?;
            Ok(a)
        });
    let analytics = analytics.map_err(|e| {
        // A live view still filling its window says when it will be ready.
        q.to.is_none()
            .then(|| waiting_text(&q.options, q.timeframe, ts.len()))
            .flatten()
            .unwrap_or_else(|| e.to_string())
    });
    Ok(PairView {
        x: q.x,
        y: q.y,
        ts,
        px,
        py,
        analytics,
    })
}

type Aligned = (Vec<i64>, Vec<f64>, Vec<f64>);

/// Validate `q`, then load and align both legs' closes.
pub fn load_aligned(
    store: &dyn Store,
    venue: Venue,
    q: &mut PairQuery,
) -> Result<Aligned, PairError> {
    q.validate()?;
    let failed = |e: StoreError| PairError::Store(e.to_string());
    let tf = q.timeframe;
    let end = match q.to {
        Some(t) => t,
        None => {
            let lx = store.last_ts(venue, &q.x).map_err(failed)?;
            let ly = store.last_ts(venue, &q.y).map_err(failed)?;
            match (lx, ly) {
                (None, _) => return Err(PairError::UnknownSymbol(q.x.clone())),
                (_, None) => return Err(PairError::UnknownSymbol(q.y.clone())),
                (Some(a), Some(b)) => tf.bucket(a.max(b)) + tf.millis(),
            }
        }
    };
    let from = end - tf.millis() * q.bars as i64;
    let load = |s: &str| -> Result<Vec<crate::domain::Bar>, PairError> {
        store
            .bars(venue, s, tf, from, end)
            .map_err(failed)?
            .ok_or_else(|| PairError::UnknownSymbol(s.to_string()))
    };
    let bx = load(&q.x)?;
    let by = load(&q.y)?;
    let aligned = align_pair(&bx, &by, tf, q.ffill);
    let (mut ts, mut px, mut py) = (Vec::new(), Vec::new(), Vec::new());
    for (t, a, b) in aligned {
        ts.push(t);
        px.push(a);
        py.push(b);
    }
    if q.price == crate::model::pair::PriceSource::Mid {
        return on_mids(store, venue, q, ts);
    }
    Ok((ts, px, py))
}

/// The bars' prices replaced by the mid of the book in force at each bar's
/// close (a quote at most one bar, or a second, old); bars where either
/// leg had none are dropped.
fn on_mids(
    store: &dyn Store,
    venue: Venue,
    q: &PairQuery,
    ts: Vec<i64>,
) -> Result<Aligned, PairError> {
    let failed = |e: StoreError| PairError::Store(e.to_string());
    let tf = q.timeframe.millis();
    let closes: Vec<i64> = ts.iter().map(|t| t + tf - 1).collect();
    let age = tf.max(1000);
    let bx = store.quotes_at(venue, &q.x, &closes, age).map_err(failed)?;
    let by = store.quotes_at(venue, &q.y, &closes, age).map_err(failed)?;
    let (mut t2, mut px, mut py) = (Vec::new(), Vec::new(), Vec::new());
    for ((t, x), y) in ts.iter().zip(&bx).zip(&by) {
        if let (Some(x), Some(y)) = (x, y) {
            t2.push(*t);
            px.push(x.mid());
            py.push(y.mid());
        }
    }
    if t2.is_empty() && !ts.is_empty() {
        return Err(PairError::Unusable(format!(
            "no stored quotes of both {} and {} in this range, so no spread on mid (price=last uses the trades)",
            q.x, q.y
        )));
    }
    Ok((t2, px, py))
}

/// One CSV row per bar: both closes and every series the charts draw; an
/// empty cell where a series is undefined (the first window-1 bars of a
/// rolling fit, say). Times are bucket starts, UTC.
pub fn pair_csv(a: &PairAnalytics) -> Result<Vec<u8>, csv::Error> {
    let q = &a.query;
    let mut w = csv::Writer::from_writer(Vec::with_capacity(160 * (a.ts.len() + 1)));
    w.write_record([
        "ts_iso".to_string(),
        "ts_ms".to_string(),
        format!("{}_close", q.x),
        format!("{}_close", q.y),
        "alpha".into(),
        "beta".into(),
        "spread".into(),
        "zscore".into(),
        "correlation".into(),
        "equity".into(),
    ])?;
    let cell = |v: Option<f64>| match v {
        Some(x) if x.is_finite() => x.to_string(),
        _ => String::new(),
    };
    let at = |s: &[Option<f64>], i: usize| s.get(i).copied().flatten();
    let equity = a.backtest.as_ref().map(|b| &b.equity);
    for (i, t) in a.ts.iter().enumerate() {
        w.write_record([
            crate::clock::iso_ms(*t),
            t.to_string(),
            a.px[i].to_string(),
            a.py[i].to_string(),
            cell(at(&a.report.alpha, i)),
            cell(at(&a.report.beta, i)),
            cell(at(&a.report.spread, i)),
            cell(at(&a.report.zscore, i)),
            cell(at(&a.corr, i)),
            cell(equity.and_then(|e| e.get(i)).copied()),
        ])?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}
