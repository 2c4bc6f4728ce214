//! Binance REST, pure: which endpoint serves a backfill or a listing check,
//! and reading their answers. The HTTP itself is `ingest::backfill` and
//! `ingest::subscriptions`, shared by every venue.
//!
//! Raw `@trade` ids are served by `historicalTrades`, aggregate ids by
//! `aggTrades`; both page with `fromId` and `limit` (at most 1000).

use super::messages::{RestAggTrade, RestFunding, RestTrade};
use super::Market;
use crate::domain::{Funding, Side, SymbolRules, Tick, Venue};
use crate::ingest::event::{parse_decimal, parse_signed_decimal, DataKind};
use crate::ingest::venues::{BadRows, RestRequest};

/// Most ids one page may ask for.
pub const PAGE: i64 = 1000;

/// Path of the endpoint that serves ids of `kind` on `market`.
pub fn endpoint(market: Market, kind: DataKind) -> &'static str {
    match (market, kind) {
        (Market::Spot, DataKind::Trade) => "/api/v3/historicalTrades",
        (Market::Spot, DataKind::AggTrade) => "/api/v3/aggTrades",
        (Market::UsdmFutures, DataKind::Trade) => "/fapi/v1/historicalTrades",
        (Market::UsdmFutures, DataKind::AggTrade) => "/fapi/v1/aggTrades",
    }
}

/// `exchangeInfo?symbol=`: Binance silently accepts a stream for a symbol
/// it does not list and then sends nothing, so adds are checked here first.
pub fn listing_request(market: Market, rest_base: &str, symbol: &str) -> RestRequest {
    let path = match market {
        Market::Spot => "/api/v3/exchangeInfo",
        Market::UsdmFutures => "/fapi/v1/exchangeInfo",
    };
    RestRequest {
        url: format!("{}{}", rest_base.trim_end_matches('/'), path),
        query: vec![("symbol", symbol.to_string())],
        api_key_header: None,
    }
}

/// Turn REST rows into ticks, keeping ids in `[from, to]` and dropping zero
/// trades as the live path does.
pub fn rows_to_ticks(
    body: &str,
    kind: DataKind,
    venue: Venue,
    symbol: &str,
    from: i64,
    to: i64,
    now: i64,
) -> Result<(Vec<Tick>, Option<i64>), BadRows> {
    let rows: Vec<(i64, String, String, i64, bool)> = match kind {
        DataKind::Trade => serde_json::from_str::<Vec<RestTrade>>(body)
            .map_err(|e| BadRows(e.to_string()))?
            .into_iter()
            .map(|r| (r.id, r.price, r.qty, r.time, r.is_buyer_maker))
            .collect(),
        DataKind::AggTrade => serde_json::from_str::<Vec<RestAggTrade>>(body)
            .map_err(|e| BadRows(e.to_string()))?
            .into_iter()
            .map(|r| (r.a, r.p, r.q, r.t, r.m))
            .collect(),
    };
    let last = rows.iter().map(|r| r.0).max();
    let mut out = Vec::with_capacity(rows.len());
    for (id, p, q, t, m) in rows {
        if id < from || id > to {
            continue;
        }
        let price = parse_decimal("price", &p).map_err(|e| BadRows(e.to_string()))?;
        let qty = parse_decimal("qty", &q).map_err(|e| BadRows(e.to_string()))?;
        if price == 0.0 || qty == 0.0 {
            continue;
        }
        out.push(Tick {
            venue,
            symbol: symbol.to_string(),
            trade_id: id,
            exchange_ts: t,
            receive_ts: now,
            price,
            qty,
            side: Side::from_buyer_is_maker(m),
        });
    }
    Ok((out, last))
}

/// Longest window `aggTrades` searches by time: Binance refuses a
/// `startTime`/`endTime` pair an hour or more apart (code -1127).
pub const TIME_WINDOW_MS: i64 = 3_600_000 - 1;

/// History on start: the first aggregate trade at or after `from_ms`, by
/// time (`aggTrades` is the only trade endpoint Binance indexes by time;
/// weight 20 on futures, 4 on spot). One row is enough: it carries both
/// the aggregate id `a` and the first raw trade id `f` it aggregates.
pub fn first_at_request(
    market: Market,
    rest_base: &str,
    symbol: &str,
    from_ms: i64,
) -> RestRequest {
    RestRequest {
        url: format!(
            "{}{}",
            rest_base.trim_end_matches('/'),
            endpoint(market, DataKind::AggTrade)
        ),
        query: vec![
            ("symbol", symbol.to_string()),
            ("startTime", from_ms.to_string()),
            (
                "endTime",
                from_ms.saturating_add(TIME_WINDOW_MS).to_string(),
            ),
            ("limit", "1".to_string()),
        ],
        api_key_header: None,
    }
}

/// Read that answer: the id where a backfill of `kind` starts (`a` for
/// aggregate trades, `f` for raw trades); `None` for an empty window.
pub fn first_id(body: &str, kind: DataKind) -> Result<Option<i64>, BadRows> {
    let rows: Vec<RestAggTrade> = serde_json::from_str(body).map_err(|e| BadRows(e.to_string()))?;
    Ok(rows.first().map(|r| match kind {
        DataKind::AggTrade => r.a,
        DataKind::Trade => r.f,
    }))
}

/// Reads an `exchangeInfo?symbol=` answer: `Some(true)` listed, `Some(false)`
/// unknown (Binance's 400 with code -1121, or a list without it), `None` when
/// the answer says neither (rate limits, outages).
pub fn listed(status: u16, body: &str, symbol: &str) -> Option<bool> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    if status == 400 {
        return (v["code"].as_i64() == Some(-1121)).then_some(false);
    }
    if !(200..300).contains(&status) {
        return None;
    }
    let symbols = v["symbols"].as_array()?;
    Some(symbols.iter().any(|s| s["symbol"].as_str() == Some(symbol)))
}

/// Reads a symbol's trading rules from an `exchangeInfo?symbol=` answer
/// (decimal strings, as Binance sends them): `Ok(None)` when the answer
/// does not list the symbol, an error when its filters are unreadable.
pub fn symbol_rules(
    body: &str,
    venue: Venue,
    symbol: &str,
) -> Result<Option<SymbolRules>, BadRows> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| BadRows(e.to_string()))?;
    let Some(entry) = v["symbols"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["symbol"].as_str() == Some(symbol)))
    else {
        return Ok(None);
    };
    let filters = entry["filters"]
        .as_array()
        .ok_or_else(|| BadRows(format!("{symbol}: no filters")))?;
    let filter = |kind: &str| {
        filters
            .iter()
            .find(|f| f["filterType"].as_str() == Some(kind))
    };
    let num = |f: Option<&serde_json::Value>, key: &str| -> Result<Option<f64>, BadRows> {
        let Some(s) = f.and_then(|f| f[key].as_str()) else {
            return Ok(None);
        };
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => Err(BadRows(format!("{symbol}: {key} {s:?} is not a decimal"))),
        }
    };
    // Market orders obey MARKET_LOT_SIZE where the venue has it (USD-M, and
    // spot for some symbols); a zero step there means "as LOT_SIZE".
    let market = filter("MARKET_LOT_SIZE");
    let lot = filter("LOT_SIZE");
    let qty_step = match num(market, "stepSize")? {
        Some(s) if s > 0.0 => s,
        _ => num(lot, "stepSize")?
            .ok_or_else(|| BadRows(format!("{symbol}: no LOT_SIZE stepSize")))?,
    };
    let min_qty = match num(market, "minQty")? {
        Some(s) if s > 0.0 => s,
        _ => num(lot, "minQty")?.unwrap_or(0.0),
    };
    let tick_size = num(filter("PRICE_FILTER"), "tickSize")?.unwrap_or(0.0);
    let min_notional = match num(filter("MIN_NOTIONAL"), "notional")? {
        Some(n) => n,
        None => num(filter("MIN_NOTIONAL"), "minNotional")?
            .or(num(filter("NOTIONAL"), "minNotional")?)
            .unwrap_or(0.0),
    };
    Ok(Some(SymbolRules {
        venue,
        symbol: symbol.to_string(),
        qty_step,
        min_qty,
        tick_size,
        min_notional,
    }))
}

/// Most rows one `fundingRate` request returns./// Most rows one `fundingRate` request returns.
pub const FUNDING_PAGE: i64 = 1000;

/// `GET /fapi/v1/fundingRate?symbol&startTime&endTime&limit`: settled
/// funding, oldest first (weight shared at 500 per 5 minutes per IP).
pub fn funding_request(rest_base: &str, symbol: &str, from_ms: i64, to_ms: i64) -> RestRequest {
    RestRequest {
        url: format!("{}/fapi/v1/fundingRate", rest_base.trim_end_matches('/')),
        query: vec![
            ("symbol", symbol.to_string()),
            ("startTime", from_ms.to_string()),
            ("endTime", to_ms.to_string()),
            ("limit", FUNDING_PAGE.to_string()),
        ],
        api_key_header: None,
    }
}

/// Read `fundingRate` rows for `symbol`; rows of another symbol are an
/// error (the answer is not what was asked).
pub fn funding_rows(body: &str, venue: Venue, symbol: &str) -> Result<Vec<Funding>, BadRows> {
    let rows: Vec<RestFunding> = serde_json::from_str(body).map_err(|e| BadRows(e.to_string()))?;
    rows.into_iter()
        .map(|r| {
            if r.symbol != symbol {
                return Err(BadRows(format!(
                    "funding row for {} in an answer for {symbol}",
                    r.symbol
                )));
            }
            Ok(Funding {
                venue,
                symbol: r.symbol,
                ts: r.funding_time,
                rate: parse_signed_decimal("fundingRate", &r.funding_rate)
                    .map_err(|e| BadRows(e.to_string()))?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {

    /// A USD-M `exchangeInfo?symbol=BTCUSDT` entry in Binance's documented
    /// shape (filters trimmed to the ones read), and spot's `NOTIONAL`.
    #[test]
    fn symbol_rules_read_the_market_lot_step_and_the_minimum_notional() {
        let futures = r#"{"timezone":"UTC","symbols":[{"symbol":"BTCUSDT","status":"TRADING",
            "filters":[{"filterType":"PRICE_FILTER","minPrice":"261.10","maxPrice":"809484","tickSize":"0.10"},
            {"filterType":"LOT_SIZE","stepSize":"0.001","maxQty":"1000","minQty":"0.001"},
            {"filterType":"MARKET_LOT_SIZE","stepSize":"0.002","maxQty":"120","minQty":"0.002"},
            {"filterType":"MAX_NUM_ORDERS","limit":200},
            {"filterType":"MIN_NOTIONAL","notional":"100"}]}]}"#;
        let r = symbol_rules(futures, Venue::BinanceFutures, "BTCUSDT")
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.qty_step, r.min_qty, r.tick_size, r.min_notional),
            (0.002, 0.002, 0.1, 100.0),
            "market orders obey MARKET_LOT_SIZE"
        );
        let spot = r#"{"symbols":[{"symbol":"ETHUSDT","filters":[
            {"filterType":"PRICE_FILTER","tickSize":"0.01000000"},
            {"filterType":"LOT_SIZE","stepSize":"0.00010000","minQty":"0.00010000"},
            {"filterType":"MARKET_LOT_SIZE","stepSize":"0.00000000","minQty":"0.00000000"},
            {"filterType":"NOTIONAL","minNotional":"5.00000000"}]}]}"#;
        let r = symbol_rules(spot, Venue::BinanceSpot, "ETHUSDT")
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.qty_step, r.min_qty, r.min_notional),
            (0.0001, 0.0001, 5.0),
            "a zero MARKET_LOT_SIZE step means LOT_SIZE's"
        );
        assert_eq!(
            symbol_rules(spot, Venue::BinanceSpot, "SOLUSDT").unwrap(),
            None
        );
        for bad in [
            r#"{"symbols":[{"symbol":"ETHUSDT"}]}"#,
            r#"{"symbols":[{"symbol":"ETHUSDT","filters":[{"filterType":"LOT_SIZE","stepSize":"0.0.1"}]}]}"#,
            r#"{"symbols":[{"symbol":"ETHUSDT","filters":[{"filterType":"LOT_SIZE","stepSize":"-1"}]}]}"#,
            r#"{"symbols":[{"symbol":"ETHUSDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"0.01"}]}]}"#,
            "not json",
        ] {
            assert!(
                symbol_rules(bad, Venue::BinanceSpot, "ETHUSDT").is_err(),
                "{bad}"
            );
        }
    }
    use super::*;

    #[test]
    fn historical_rows_are_clipped_to_the_gap() {
        let body = r#"[{"id":9,"price":"1.5","qty":"2","time":10,"isBuyerMaker":true},
                       {"id":10,"price":"1.6","qty":"1","time":11,"isBuyerMaker":false},
                       {"id":11,"price":"0","qty":"1","time":12,"isBuyerMaker":false},
                       {"id":13,"price":"1.7","qty":"1","time":13,"isBuyerMaker":false}]"#;
        let (t, last) = rows_to_ticks(
            body,
            DataKind::Trade,
            Venue::BinanceSpot,
            "BTCUSDT",
            10,
            12,
            0,
        )
        .unwrap();
        assert_eq!(t.iter().map(|t| t.trade_id).collect::<Vec<_>>(), vec![10]);
        assert_eq!(last, Some(13));
    }

    #[test]
    fn agg_rows_parse() {
        let body = r#"[{"a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,"T":1498793709153,"m":true}]"#;
        let (t, _) = rows_to_ticks(
            body,
            DataKind::AggTrade,
            Venue::BinanceFutures,
            "X",
            0,
            i64::MAX,
            0,
        )
        .unwrap();
        assert_eq!(
            (t[0].trade_id, t[0].price, t[0].side),
            (26129, 0.01633102, Side::Sell)
        );
    }

    #[test]
    fn history_starts_at_the_first_aggregate_of_the_hour() {
        let r = first_at_request(
            Market::UsdmFutures,
            "https://fapi.binance.com/",
            "BTCUSDT",
            1_000,
        );
        assert_eq!(r.url, "https://fapi.binance.com/fapi/v1/aggTrades");
        assert_eq!(
            r.query,
            vec![
                ("symbol", "BTCUSDT".to_string()),
                ("startTime", "1000".to_string()),
                ("endTime", "3600999".to_string()),
                ("limit", "1".to_string()),
            ]
        );
        let body = r#"[{"a":26129,"p":"0.01633102","q":"4.7","f":27781,"l":27790,"T":1498793709153,"m":true}]"#;
        assert_eq!(first_id(body, DataKind::AggTrade).unwrap(), Some(26129));
        assert_eq!(first_id(body, DataKind::Trade).unwrap(), Some(27781));
        assert_eq!(first_id("[]", DataKind::Trade).unwrap(), None);
        assert!(first_id(r#"{"code":-1127}"#, DataKind::Trade).is_err());
    }

    #[test]
    fn endpoints_by_venue_and_kind() {
        assert_eq!(
            endpoint(Market::UsdmFutures, DataKind::AggTrade),
            "/fapi/v1/aggTrades"
        );
        assert_eq!(
            endpoint(Market::Spot, DataKind::Trade),
            "/api/v3/historicalTrades"
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(rows_to_ticks("{}", DataKind::Trade, Venue::Sim, "X", 0, 1, 0).is_err());
    }

    #[test]
    fn exchange_info_answers_are_read() {
        let ok = r#"{"timezone":"UTC","symbols":[{"symbol":"SOLUSDT","status":"TRADING"}]}"#;
        assert_eq!(listed(200, ok, "SOLUSDT"), Some(true));
        assert_eq!(listed(200, ok, "ADAUSDT"), Some(false));
        let invalid = r#"{"code":-1121,"msg":"Invalid symbol."}"#;
        assert_eq!(listed(400, invalid, "FOO"), Some(false));
        // Rate limited or broken: not an answer about the symbol.
        assert_eq!(
            listed(429, r#"{"code":-1003,"msg":"Too many requests"}"#, "X"),
            None
        );
        assert_eq!(
            listed(400, r#"{"code":-1100,"msg":"Illegal characters"}"#, "X"),
            None
        );
        assert_eq!(listed(200, "<html>", "X"), None);
    }
}
