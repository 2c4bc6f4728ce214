//! Paper trading as a service: starting and stopping sessions, the engine
//! that runs every session's rule on the server on each new bar (whether
//! or not a page is open), and a session's book (position, PnL, fills) for
//! the API, the dashboard and the CLI.
//!
//! Each engine pass, per session: fill its pending order if the prices it
//! waits for have arrived (or expire it past its deadline), then decide on
//! the newest closed bar with the backtest's own decision function
//! ([`crate::analytics::backtest`]) on the session's pair analytics (a
//! basket: its rolling hedge, as the basket backtest trades it), and store
//! the decision. The steps read and write only the store, so a pass
//! after a restart continues where the killed process stopped: a decided
//! bar is not decided again, and an order is filled at most once (see
//! [`crate::model::paper`]).

use crate::analytics::backtest::{
    basket_options, decide, fill_leg, size_basket, size_position, BarSignal, Decision, FillAt,
    Held, PositionSide, Rule, Touch, BASKET_HEDGE,
};
use crate::analytics::BacktestOptions;
use crate::domain::{Timeframe, Venue};
use crate::model::basket::BasketQuery;
use crate::model::pair::{PairError, PairQuery};
use crate::model::paper::{
    fill_deadline, fill_from, FillRole, Ledger, OrderReason, OrderStatus, PaperBook, PaperFill,
    PaperOrder, PaperSession, SessionStatus, Traded, MAX_ACTIVE_SESSIONS,
};
use crate::services::basket::hedge_now;
use crate::services::pair::{
    analyze_series, execution_options, funding_events, load_aligned, venue_fee_bps,
};
use crate::store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why a session could not be started, stopped or read.
#[derive(Debug, thiserror::Error)]
pub enum PaperError {
    #[error(transparent)]
    Pair(#[from] PairError),
    #[error("no paper session {0}")]
    NotFound(i64),
    #[error("{MAX_ACTIVE_SESSIONS} paper sessions are running already; stop one first")]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn bad(name: &str, reason: &str) -> PaperError {
    PaperError::Pair(PairError::BadParam {
        name: name.into(),
        reason: reason.into(),
    })
}

/// Validate a pair or basket query for live trading and start a session
/// of it. Blocks.
pub fn start_session(
    store: &dyn Store,
    venue: Venue,
    traded: Traded,
    now: i64,
) -> Result<PaperSession, PaperError> {
    let (to, walk_forward) = match &traded {
        Traded::Pair(q) => (q.to, q.walk_forward),
        Traded::Basket(q) => (q.to, q.walk_forward),
    };
    if to.is_some() {
        return Err(bad(
            "to",
            "a paper session trades the live tail; leave `to` out",
        ));
    }
    if walk_forward.is_some() {
        return Err(bad(
            "walk_forward",
            "walk-forward is a backtest setting; a paper session trades the live model",
        ));
    }
    let traded = match traded {
        Traded::Pair(mut q) => {
            q.validate()?;
            Traded::Pair(q)
        }
        Traded::Basket(mut q) => {
            q.validate()?;
            Traded::Basket(q)
        }
    };
    for sym in traded.legs() {
        if store.last_ts(venue, &sym)?.is_none() {
            return Err(PairError::UnknownSymbol(sym).into());
        }
    }
    let active = store
        .paper_sessions()?
        .iter()
        .filter(|s| s.status != SessionStatus::Stopped)
        .count();
    if active >= MAX_ACTIVE_SESSIONS {
        return Err(PaperError::TooMany);
    }
    let s = store.insert_paper_session(venue, &traded, now)?;
    tracing::info!(session = s.id, legs = %traded.label(), "paper session started");
    Ok(s)
}

/// Ask a session to stop and flatten (the engine fills the flattening
/// order on the next book update). Blocks.
pub fn stop_session(store: &dyn Store, id: i64, now: i64) -> Result<PaperSession, PaperError> {
    let s = store
        .paper_request_stop(id, now)?
        .ok_or(PaperError::NotFound(id))?;
    tracing::info!(session = id, "paper session stopping");
    Ok(s)
}

/// Fills and orders kept in a book's lists.
const LIST: usize = 50;

/// A session's book: its ledger marked at the latest trades, the pending
/// order, and the newest fills and orders. Blocks.
pub fn paper_book(store: &dyn Store, id: i64) -> Result<PaperBook, PaperError> {
    let s = store.paper_session(id)?.ok_or(PaperError::NotFound(id))?;
    book_of(store, s)
}

/// Every session's book, oldest first. Blocks.
pub fn paper_books(store: &dyn Store) -> Result<Vec<PaperBook>, PaperError> {
    store
        .paper_sessions()?
        .into_iter()
        .map(|s| book_of(store, s))
        .collect()
}

fn book_of(store: &dyn Store, s: PaperSession) -> Result<PaperBook, PaperError> {
    let fills = store.paper_fills(s.id)?;
    let marks = s
        .query
        .legs()
        .iter()
        .map(|sym| Ok(store.last_tick(s.venue, sym)?.map(|t| t.price)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let ledger = ledger_of(store, &s, &fills, &marks)?;
    let orders = store.paper_orders(s.id, LIST)?;
    let pending = orders
        .iter()
        .find(|o| o.status == OrderStatus::Pending)
        .cloned();
    let mut newest: Vec<PaperFill> = fills.into_iter().rev().take(LIST).collect();
    newest.shrink_to_fit();
    Ok(PaperBook {
        session: s,
        ledger,
        pending,
        fills: newest,
        orders,
    })
}

fn ledger_of(
    store: &dyn Store,
    s: &PaperSession,
    fills: &[PaperFill],
    marks: &[Option<f64>],
) -> Result<Ledger, StoreError> {
    let from = fills.first().map_or(s.started_ts, |f| f.ts);
    let funding = s
        .query
        .legs()
        .iter()
        .map(|sym| funding_events(store, s.venue, sym, from, i64::MAX))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Ledger::from_fills(
        fills,
        s.query.long_leg(),
        &funding,
        marks,
    ))
}

/// The ledger without marks or funding: what the engine needs of it (the
/// position held, and the legs to close).
fn position_of(s: &PaperSession, fills: &[PaperFill], marks: &[Option<f64>]) -> Ledger {
    Ledger::from_fills(fills, s.query.long_leg(), &[], marks)
}

/// What the engine needs from the server.
#[derive(Clone)]
pub struct Engine {
    pub store: Arc<dyn Store>,
}

/// How often the engine looks at its sessions: a fill waits at most this
/// long after its prices arrive.
const PASS: Duration = Duration::from_millis(250);

/// Run every session on every pass until `shutdown` is cancelled.
pub async fn run(engine: Engine, shutdown: CancellationToken) {
    let mut timer = tokio::time::interval(PASS);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = timer.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let store = engine.store.clone();
        let now = crate::ingest::now_ms();
        let done = tokio::task::spawn_blocking(move || pass(store.as_ref(), now)).await;
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "paper trading pass failed");
        }
    }
}

/// One pass over every session that is not stopped. Blocks.
pub fn pass(store: &dyn Store, now: i64) -> Result<(), StoreError> {
    for s in store.paper_sessions()? {
        if s.status == SessionStatus::Stopped {
            continue;
        }
        if let Err(e) = step(store, &s, now) {
            tracing::warn!(session = s.id, error = %e, "paper session step failed");
        }
    }
    Ok(())
}

fn bar_ms(tf: Timeframe) -> i64 {
    tf.millis()
}

/// Ticks of a bar may still be on their way to the store this long after
/// it ends (socket, pipeline, writer batch): decide only after it.
const SETTLE_MS: i64 = 300;

/// One session's step at `now`: fill or expire its pending order, then
/// decide on the newest closed bar.
pub fn step(store: &dyn Store, s: &PaperSession, now: i64) -> Result<(), PaperError> {
    let fills = store.paper_fills(s.id)?;
    let ledger = position_of(s, &fills, &vec![None; s.query.legs().len()]);
    if let Some(o) = store.paper_pending(s.id)? {
        try_fill(store, s, &o, &ledger, now)?;
    } else if s.status == SessionStatus::Stopping {
        // Stopped while the stop's order could not be placed or expired.
        if ledger.side.is_none() {
            store.paper_set_stopped(s.id, now)?;
        } else {
            // The flatten expired (no prices by its deadline): place it
            // again.
            store.paper_request_stop(s.id, now)?;
        }
        return Ok(());
    }
    if s.status != SessionStatus::Active {
        return Ok(());
    }
    let ms = bar_ms(s.query.timeframe());
    // The newest bar that has closed (and settled) by now.
    let bar = (now - SETTLE_MS).div_euclid(ms) * ms - ms;
    if s.last_bar_ts.is_some_and(|t| t >= bar) || bar + ms <= s.started_ts {
        return Ok(());
    }
    decide_bar(store, s, bar, now)
}

/// What the rule reads on the close of a bar.
struct BarRead {
    z: Option<f64>,
    /// The hedge ratio the rule checks: a pair's beta, a basket's
    /// [`BASKET_HEDGE`] where its weights are defined.
    hedge: Option<f64>,
    /// A pair's beta, or a basket's weights, at the close.
    beta: Option<f64>,
    weights: Option<Vec<f64>>,
    /// Each leg's close (the decision's sizing prices).
    closes: Vec<f64>,
    rule: Rule,
}

/// A bar as the session's model sees it.
enum Read {
    Bar(BarRead),
    /// Not every leg traded in the bar: the rule passes it over, as the
    /// backtest does.
    Skip,
    /// The model cannot read it (window still filling, a constant leg).
    Undecidable(PairError),
}

/// A pair's analytics on the bars up to the end of `bar`.
fn read_pair(
    store: &dyn Store,
    s: &PaperSession,
    q: &PairQuery,
    bar: i64,
) -> Result<Read, PaperError> {
    let mut q = q.clone();
    q.to = Some(bar + bar_ms(q.timeframe));
    let (ts, px, py) = match load_aligned(store, s.venue, &mut q) {
        Ok(v) => v,
        Err(e) => return Ok(Read::Undecidable(e)),
    };
    if ts.last() != Some(&bar) {
        return Ok(Read::Skip);
    }
    let closes = vec![
        px.last().copied().unwrap_or(f64::NAN),
        py.last().copied().unwrap_or(f64::NAN),
    ];
    let a = match analyze_series(&q, venue_fee_bps(s.venue), ts, px, py) {
        Ok(a) => a,
        Err(e) => return Ok(Read::Undecidable(e)),
    };
    let z = a.report.zscore.last().copied().flatten();
    let beta = a.report.beta.last().copied().flatten();
    // The analysis's thresholds: the query's, or the Bertram bands it asks
    // for, refitted on every bar.
    Ok(Read::Bar(BarRead {
        z,
        hedge: beta,
        beta,
        weights: None,
        closes,
        rule: Rule {
            entry: a.query.options.entry,
            exit: a.query.options.exit,
            prices: a.query.options.prices,
        },
    }))
}

/// A basket's rolling hedge on the bars up to the end of `bar`: its
/// weights and z-score there, as the basket backtest computes them.
fn read_basket(
    store: &dyn Store,
    s: &PaperSession,
    q: &BasketQuery,
    bar: i64,
) -> Result<Read, PaperError> {
    let mut q = q.clone();
    q.to = Some(bar + bar_ms(q.timeframe));
    let h = match hedge_now(store, s.venue, &q) {
        Ok(Some(h)) => h,
        Ok(None) => return Ok(Read::Skip),
        Err(e) => return Ok(Read::Undecidable(e)),
    };
    if h.ts != bar {
        return Ok(Read::Skip);
    }
    Ok(Read::Bar(BarRead {
        z: h.z,
        hedge: h.weights.as_ref().map(|_| BASKET_HEDGE),
        beta: None,
        weights: h.weights,
        closes: h.closes,
        rule: Rule {
            entry: q.entry,
            exit: q.exit,
            prices: q.prices,
        },
    }))
}

/// The rule's decision on the close of the bar starting `bar`.
fn decide_bar(store: &dyn Store, s: &PaperSession, bar: i64, now: i64) -> Result<(), PaperError> {
    let read = match &s.query {
        Traded::Pair(q) => read_pair(store, s, q, bar)?,
        Traded::Basket(q) => read_basket(store, s, q, bar)?,
    };
    let r = match read {
        Read::Bar(r) => r,
        Read::Skip => {
            store.paper_decide(s.id, bar, s.locked, None)?;
            return Ok(());
        }
        Read::Undecidable(e) => return undecidable(store, s, bar, e),
    };
    let ex = execution_of(store, s)?;
    let fills = store.paper_fills(s.id)?;
    let marks: Vec<Option<f64>> = r.closes.iter().map(|c| Some(*c)).collect();
    let ledger = position_of(s, &fills, &marks);
    let held = match ledger.side {
        None => None,
        Some(side) => Some(held_of(store, s, &fills, &ledger, side, bar)?),
    };
    let opts = ex.opts;
    let mut locked = s.locked;
    let signal = BarSignal {
        z: r.z,
        beta: r.hedge,
        fold_end: false,
    };
    let order = match decide(held, signal, &mut locked, &r.rule, &opts) {
        Decision::Hold | Decision::SkippedBeta => None,
        Decision::Order { target, reason } => {
            // Sized now, on this bar's closes, as the backtest sizes.
            let sized = target.and_then(|side| match &s.query {
                Traded::Pair(_) => {
                    let b = r.beta?;
                    size_position(side, r.closes[0], r.closes[1], b, r.rule.prices, &opts)
                        .map(|(qx, qy)| vec![qx, qy])
                }
                Traded::Basket(_) => size_basket(
                    side,
                    r.weights.as_ref()?,
                    &r.closes,
                    &ex.steps,
                    r.rule.prices,
                    opts.notional,
                ),
            });
            if target.is_some() && sized.is_none() && ledger.side.is_none() {
                // An entry whose legs round to zero: nothing to do.
                None
            } else {
                Some(PaperOrder {
                    session_id: s.id,
                    signal_ts: bar,
                    decided_ts: now,
                    target: target.filter(|_| sized.is_some()),
                    reason: reason.map_or(OrderReason::Entry, OrderReason::from),
                    z: r.z,
                    beta: r.beta,
                    weights: r.weights.clone(),
                    qty: sized,
                    status: OrderStatus::Pending,
                    note: None,
                })
            }
        }
    };
    if store.paper_decide(s.id, bar, locked, order.as_ref())? {
        if let Some(o) = &order {
            tracing::info!(session = s.id, bar, reason = o.reason.as_str(), target = ?o.target, "paper order");
        }
    }
    Ok(())
}

/// A bar the model cannot read (window still filling, a constant leg):
/// recorded as decided with no order, so it is not retried every pass.
fn undecidable(
    store: &dyn Store,
    s: &PaperSession,
    bar: i64,
    e: PairError,
) -> Result<(), PaperError> {
    tracing::debug!(session = s.id, bar, error = %e, "paper session holds: no signal");
    store.paper_decide(s.id, bar, s.locked, None)?;
    Ok(())
}

/// How a session's orders execute: each leg's taker fee and lot step, and
/// the backtest settings they fill by.
struct Execution {
    fee_bps: Vec<f64>,
    steps: Vec<f64>,
    opts: BacktestOptions,
}

/// A pair's settings with its venue's fees and lot steps (see
/// [`execution_options`]); a basket's as its backtest runs them (its fee
/// and half spread on every leg, the beta bounds off).
fn execution_of(store: &dyn Store, s: &PaperSession) -> Result<Execution, StoreError> {
    match &s.query {
        Traded::Pair(q) => {
            let o = execution_options(store, s.venue, q)?;
            Ok(Execution {
                fee_bps: vec![o.fee_bps_x, o.fee_bps_y],
                steps: vec![o.qty_step_x, o.qty_step_y],
                opts: o,
            })
        }
        Traded::Basket(q) => {
            let fee = q.fee_bps.unwrap_or(venue_fee_bps(s.venue));
            let steps = q
                .symbols
                .iter()
                .map(|sym| {
                    Ok(store
                        .symbol_rules(s.venue, sym)?
                        .map_or(0.0, |r| r.qty_step))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(Execution {
                fee_bps: vec![fee; q.symbols.len()],
                steps,
                opts: basket_options(&BacktestOptions {
                    half_spread_bps: q.half_spread_bps,
                    ..q.backtest
                }),
            })
        }
    }
}

/// The open position as the rule sees it on the close of `bar`.
fn held_of(
    store: &dyn Store,
    s: &PaperSession,
    fills: &[PaperFill],
    ledger: &Ledger,
    side: PositionSide,
    bar: i64,
) -> Result<Held, PaperError> {
    let ms = bar_ms(s.query.timeframe());
    // The fills that opened it: the last signal with open fills.
    let entry_sig = fills
        .iter()
        .rev()
        .find(|f| f.role == FillRole::Open)
        .map_or(bar, |f| f.signal_ts);
    let notional: f64 = fills
        .iter()
        .filter(|f| f.signal_ts == entry_sig && f.role == FillRole::Open)
        .map(|f| f.qty.abs() * f.price)
        .sum();
    let entry_beta = store
        .paper_orders(s.id, LIST)?
        .into_iter()
        .find(|o| o.signal_ts == entry_sig)
        .and_then(|o| o.beta.or(o.weights.as_ref().map(|_| BASKET_HEDGE)))
        .unwrap_or(f64::NAN);
    // Bars since the entry fill's bar (the bar after the signal).
    let bars_held = ((bar - (entry_sig + ms)) / ms).max(0) as usize;
    // Unrealized of the open trade, net of its costs so far.
    Ok(Held {
        side,
        beta: entry_beta,
        bars_held,
        unrealized: ledger.unrealized,
        notional,
    })
}

/// A leg's price for an order: the book (a [`Touch`]) or, without one,
/// the reference trade price; with its time.
#[derive(Debug, Clone, Copy)]
struct LegPrice {
    book: Option<Touch>,
    reference: Option<f64>,
    ts: i64,
}

/// Where and when an order looks for its prices.
#[derive(Debug, Clone, Copy)]
struct Window {
    fill: FillAt,
    from: i64,
    deadline: i64,
    /// Bar size, ms.
    ms: i64,
    now: i64,
}

/// Look for a leg's price in `[from, deadline]`: the first book update
/// (or, for next-close, the book in force at `from`); without any book
/// within one bar of `from`, the first trade.
fn leg_price(
    store: &dyn Store,
    venue: Venue,
    sym: &str,
    w: Window,
) -> Result<Option<LegPrice>, StoreError> {
    let Window {
        fill,
        from,
        deadline,
        ms,
        now,
    } = w;
    if now < from {
        return Ok(None);
    }
    let book = if fill == FillAt::NextClose {
        store.quotes_at(venue, sym, &[from], ms)?.pop().flatten()
    } else {
        store
            .quotes(venue, sym, from, deadline + 1, 1)?
            .unwrap_or_default()
            .into_iter()
            .next()
    };
    if let Some(q) = book {
        return Ok(Some(LegPrice {
            book: Some(Touch {
                bid: q.bid,
                ask: q.ask,
                ts: q.ts,
            }),
            reference: None,
            ts: q.ts.max(from),
        }));
    }
    // Give the book one bar (at least a second) to show up before a trade
    // stands in for it.
    if now < from + ms.max(1000) {
        return Ok(None);
    }
    let trade = if fill == FillAt::NextClose {
        store
            .ticks(venue, sym, from - ms + 1, from + 1, 10_000)?
            .unwrap_or_default()
            .pop()
    } else {
        store
            .ticks(venue, sym, from, deadline + 1, 1)?
            .unwrap_or_default()
            .into_iter()
            .next()
    };
    Ok(trade.map(|t| LegPrice {
        book: None,
        reference: Some(t.price),
        ts: t.exchange_ts.max(from),
    }))
}

/// Fill `o` if every leg's price is there, expire it past its deadline.
fn try_fill(
    store: &dyn Store,
    s: &PaperSession,
    o: &PaperOrder,
    ledger: &Ledger,
    now: i64,
) -> Result<(), PaperError> {
    let ms = bar_ms(s.query.timeframe());
    let ex = execution_of(store, s)?;
    let opts = ex.opts;
    // A stop flattens at the first book after it was asked for.
    let (fill, from, deadline) = if o.reason == OrderReason::UserStop {
        let f = if opts.fill == FillAt::NextClose {
            FillAt::NextQuote
        } else {
            opts.fill
        };
        (f, o.signal_ts, o.signal_ts + (2 * ms).max(5_000))
    } else {
        (
            opts.fill,
            fill_from(opts.fill, o.signal_ts, ms),
            fill_deadline(opts.fill, o.signal_ts, ms),
        )
    };
    let stopping = o.reason == OrderReason::UserStop;
    let legs = s.query.legs();
    // Trades to make: close what is held, open the target.
    let close = ledger
        .qty
        .iter()
        .any(|q| *q != 0.0)
        .then(|| ledger.qty.iter().map(|q| -q).collect::<Vec<f64>>());
    let open = o
        .target
        .and(o.qty.clone())
        .filter(|q| q.len() == legs.len());
    if close.is_none() && open.is_none() {
        // Nothing to trade (a flatten of a flat session).
        store.paper_fill(o, &[], stopping.then_some(now))?;
        return Ok(());
    }
    let w = Window {
        fill,
        from,
        deadline,
        ms,
        now,
    };
    let mut prices = Vec::with_capacity(legs.len());
    for sym in &legs {
        match leg_price(store, s.venue, sym, w)? {
            Some(p) => prices.push(p),
            None => {
                if now > deadline {
                    let note = format!("no price for {sym} by the deadline");
                    if store.paper_expire(s.id, o.signal_ts, &note)? {
                        tracing::warn!(
                            session = s.id,
                            signal = o.signal_ts,
                            note,
                            "paper order expired"
                        );
                    }
                }
                return Ok(());
            }
        }
    }
    let mut out = Vec::with_capacity(2 * legs.len());
    for (role, q) in [(FillRole::Close, close), (FillRole::Open, open)] {
        let Some(dq) = q else { continue };
        for (k, (sym, p)) in legs.iter().zip(&prices).enumerate() {
            let Some(f) = fill_leg(p.book, p.reference, dq[k], ex.fee_bps[k], &opts) else {
                return Ok(());
            };
            out.push(PaperFill {
                session_id: s.id,
                signal_ts: o.signal_ts,
                leg: k,
                role,
                symbol: sym.clone(),
                ts: p.ts,
                qty: dq[k],
                price: f.price,
                mid: f.mid,
                fee: f.fee,
                on_book: p.book.is_some(),
            });
        }
    }
    if store.paper_fill(o, &out, stopping.then_some(now))? {
        tracing::info!(
            session = s.id,
            signal = o.signal_ts,
            fills = out.len(),
            "paper order filled"
        );
    }
    Ok(())
}
