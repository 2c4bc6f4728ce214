//! Binance wire structs, exactly as the exchange sends them.
//!
//! Kept apart from parsing so the shape of the wire is documented in one place
//! and borrowed (`&str`) so parsing allocates only the symbol.

use serde::{Deserialize, Serialize};

/// Raw trade, spot and USD-M futures:
/// `{"e":"trade","E":1765788195300,"T":1765788195299,"s":"BTCUSDT","t":6843241710,
///   "p":"89543.10","q":"0.002","X":"MARKET","m":true}`
/// Spot frames have no `X`; futures frames carry the execution type.
#[derive(Debug, Deserialize, Serialize)]
pub struct TradeMsg<'a> {
    #[serde(rename = "E")]
    pub event_time: i64,
    #[serde(rename = "s", borrow)]
    pub symbol: &'a str,
    #[serde(rename = "t")]
    pub trade_id: i64,
    #[serde(rename = "p", borrow)]
    pub price: &'a str,
    #[serde(rename = "q", borrow)]
    pub qty: &'a str,
    #[serde(rename = "T")]
    pub trade_time: i64,
    #[serde(rename = "m")]
    pub buyer_is_maker: bool,
    #[serde(rename = "X", borrow, default, skip_serializing_if = "Option::is_none")]
    pub exec_type: Option<&'a str>,
}

/// Aggregate trade: `{"e":"aggTrade","E":..,"s":"BTCUSDT","a":2916,"p":"0.001",
/// "q":"100","f":100,"l":105,"T":..,"m":true}`. `a` is the id we key on.
#[derive(Debug, Deserialize, Serialize)]
pub struct AggTradeMsg<'a> {
    #[serde(rename = "E")]
    pub event_time: i64,
    #[serde(rename = "s", borrow)]
    pub symbol: &'a str,
    #[serde(rename = "a")]
    pub agg_id: i64,
    #[serde(rename = "p", borrow)]
    pub price: &'a str,
    #[serde(rename = "q", borrow)]
    pub qty: &'a str,
    #[serde(rename = "f", default)]
    pub first_trade_id: i64,
    #[serde(rename = "l", default)]
    pub last_trade_id: i64,
    #[serde(rename = "T")]
    pub trade_time: i64,
    #[serde(rename = "m")]
    pub buyer_is_maker: bool,
}

/// REST `/fapi/v1/aggTrades` and `/api/v3/aggTrades` rows:
/// `{"a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,"T":1498793709153,"m":true}`
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RestAggTrade {
    pub a: i64,
    pub p: String,
    pub q: String,
    #[serde(default)]
    pub f: i64,
    #[serde(default)]
    pub l: i64,
    #[serde(rename = "T")]
    pub t: i64,
    pub m: bool,
}

/// REST `/api/v3/historicalTrades` and `/fapi/v1/historicalTrades` rows:
/// `{"id":28457,"price":"4.00000100","qty":"12.00000000","time":1499865549590,"isBuyerMaker":true}`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestTrade {
    pub id: i64,
    pub price: String,
    pub qty: String,
    pub time: i64,
    pub is_buyer_maker: bool,
}

/// Top of book, USD-M futures:
/// `{"e":"bookTicker","u":400900217,"E":1568014460893,"T":1568014460891,
///   "s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}`;
/// spot sends the same without `e`, `E` and `T` (so no exchange time).
/// `a` is a price here, where in `aggTrade` it is an id: the parser picks
/// this shape before [`AnyEvent`] sees the frame.
#[derive(Debug, Deserialize, Serialize)]
pub struct BookTickerMsg<'a> {
    #[serde(rename = "u")]
    pub update_id: i64,
    #[serde(rename = "E", default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<i64>,
    #[serde(rename = "T", default, skip_serializing_if = "Option::is_none")]
    pub transaction_time: Option<i64>,
    #[serde(rename = "s", borrow)]
    pub symbol: &'a str,
    #[serde(rename = "b", borrow)]
    pub bid: &'a str,
    #[serde(rename = "B", borrow)]
    pub bid_qty: &'a str,
    #[serde(rename = "a", borrow)]
    pub ask: &'a str,
    #[serde(rename = "A", borrow)]
    pub ask_qty: &'a str,
}

/// Combined-stream envelope of a [`BookTickerMsg`].
#[derive(Debug, Deserialize)]
pub struct EnvelopedBook<'a> {
    #[serde(borrow)]
    pub data: BookTickerMsg<'a>,
}

/// REST `/fapi/v1/fundingRate` rows:
/// `{"symbol":"BTCUSDT","fundingRate":"-0.03750000","fundingTime":1570608000000,"markPrice":"34287.54619963"}`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestFunding {
    pub symbol: String,
    pub funding_rate: String,
    pub funding_time: i64,
    #[serde(default)]
    pub mark_price: Option<String>,
}

/// Every trade-stream event in one shape, so a frame is parsed in a single
/// pass whatever its type (`trade`, `aggTrade`, `serverShutdown`, acks).
/// Unknown fields are skipped; which fields are required depends on `e`.
#[derive(Debug, Deserialize)]
pub struct AnyEvent<'a> {
    #[serde(rename = "e", borrow, default)]
    pub event: Option<&'a str>,
    #[serde(rename = "s", borrow, default)]
    pub symbol: Option<&'a str>,
    #[serde(rename = "t", default)]
    pub trade_id: Option<i64>,
    #[serde(rename = "a", default)]
    pub agg_id: Option<i64>,
    #[serde(rename = "p", borrow, default)]
    pub price: Option<&'a str>,
    #[serde(rename = "q", borrow, default)]
    pub qty: Option<&'a str>,
    #[serde(rename = "T", default)]
    pub trade_time: Option<i64>,
    #[serde(rename = "m", default)]
    pub buyer_is_maker: Option<bool>,
    #[serde(rename = "X", borrow, default)]
    pub exec_type: Option<&'a str>,
    /// `markPriceUpdate`: `{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT",
    /// "p":"11794.15000000","i":"11784.62659091","P":"11784.25641265",
    /// "r":"0.00038167","T":1562306400000}`: `p` the mark, `i` the index,
    /// `r` the funding rate, `T` the next funding time.
    #[serde(rename = "E", default)]
    pub event_time: Option<i64>,
    #[serde(rename = "i", borrow, default)]
    pub index: Option<&'a str>,
    #[serde(rename = "r", borrow, default)]
    pub funding_rate: Option<&'a str>,
}

/// Combined-stream envelope with the event parsed in the same pass.
#[derive(Debug, Deserialize)]
pub struct EnvelopedEvent<'a> {
    #[serde(borrow)]
    pub data: AnyEvent<'a>,
}
