//! Binance REST, pure: which endpoint serves a backfill or a listing check,
//! and reading their answers. The HTTP itself is `ingest::backfill` and
//! `ingest::subscriptions`, shared by every venue.
//!
//! Raw `@trade` ids are served by `historicalTrades`, aggregate ids by
//! `aggTrades`; both page with `fromId` and `limit` (at most 1000).

use super::messages::{RestAggTrade, RestFunding, RestTrade};
use super::Market;
use crate::domain::{Funding, Side, Tick, Venue};
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

/// Most rows one `fundingRate` request returns.
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
