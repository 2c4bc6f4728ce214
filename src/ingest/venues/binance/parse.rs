//! Pure parsing of Binance frames into normalized [`Tick`]s (and the
//! reverse, a tick as a Binance trade frame, which the mock exchange sends).
//!
//! No I/O and no clocks: the receive time is passed in, so every case is a
//! plain unit test. Frames that are not trades (subscription acks, unknown
//! events) are reported as such; trades we must not store are reported with
//! the reason so the pipeline can count them.

use super::messages::{AnyEvent, BookTickerMsg, EnvelopedBook, EnvelopedEvent, TradeMsg};
use crate::domain::{MarkPrice, Quote, Side, Tick, Venue};
use crate::ingest::event::{
    format_decimal, parse_decimal, parse_signed_decimal, DropReason, Frame, ParseError,
    MAX_FRAME_BYTES,
};

/// Parse one text frame, with or without the combined-stream envelope.
/// One JSON pass per frame: the envelope and the event are read together.
pub fn parse_frame(text: &str, venue: Venue, receive_ts: i64) -> Result<Frame, ParseError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(ParseError::Oversized(text.len()));
    }
    let json = |e: serde_json::Error| ParseError::Json(e.to_string());
    let enveloped = text.trim_start().starts_with("{\"stream\"");
    if is_book_ticker(text) {
        let m: BookTickerMsg = if enveloped {
            serde_json::from_str::<EnvelopedBook>(text)
                .map_err(json)?
                .data
        } else {
            serde_json::from_str(text).map_err(json)?
        };
        return book_ticker(&m, venue, receive_ts).map(Frame::Quote);
    }
    let ev: AnyEvent = if enveloped {
        serde_json::from_str::<EnvelopedEvent>(text)
            .map_err(json)?
            .data
    } else {
        serde_json::from_str(text).map_err(json)?
    };
    let missing =
        |f: &str| ParseError::Json(format!("{} frame without `{f}`", ev.event.unwrap_or("?")));
    let (id, reason) = match ev.event {
        Some("trade") => {
            let reason = match ev.exec_type {
                None | Some("MARKET") => None,
                Some("INSURANCE_FUND") => Some(DropReason::InsuranceFund),
                Some("ADL") => Some(DropReason::Adl),
                Some(_) => Some(DropReason::NotMarket),
            };
            (ev.trade_id.ok_or_else(|| missing("t"))?, reason)
        }
        Some("aggTrade") => (ev.agg_id.ok_or_else(|| missing("a"))?, None),
        Some("serverShutdown") => return Ok(Frame::ServerShutdown),
        Some("markPriceUpdate") => {
            return Ok(Frame::Mark(MarkPrice {
                venue,
                symbol: ev.symbol.ok_or_else(|| missing("s"))?.to_string(),
                ts: ev.event_time.ok_or_else(|| missing("E"))?,
                mark: positive("p", ev.price.ok_or_else(|| missing("p"))?)?,
                index: positive("i", ev.index.ok_or_else(|| missing("i"))?)?,
                funding_rate: parse_signed_decimal(
                    "r",
                    ev.funding_rate.ok_or_else(|| missing("r"))?,
                )?,
                next_funding_ts: ev.trade_time.ok_or_else(|| missing("T"))?,
            }))
        }
        _ => return Ok(Frame::Other),
    };
    finish(
        venue,
        ev.symbol.ok_or_else(|| missing("s"))?,
        id,
        ev.trade_time.ok_or_else(|| missing("T"))?,
        receive_ts,
        ev.price.ok_or_else(|| missing("p"))?,
        ev.qty.ok_or_else(|| missing("q"))?,
        ev.buyer_is_maker.ok_or_else(|| missing("m"))?,
        reason,
    )
}

/// A `bookTicker` frame: futures name the event; spot frames are the only
/// ones with an update id `u` and no event type `e` (and in a combined
/// stream the stream name says it). Checked on the text because `a` means
/// a price here and an id in `aggTrade`, so one struct cannot read both.
fn is_book_ticker(text: &str) -> bool {
    text.contains("\"e\":\"bookTicker\"")
        || text.contains("@bookTicker\"")
        || (text.contains("\"u\":") && !text.contains("\"e\":"))
}

/// A price that must be above zero (a mark, an index, a side of the book).
fn positive(field: &'static str, s: &str) -> Result<f64, ParseError> {
    match parse_decimal(field, s)? {
        v if v > 0.0 => Ok(v),
        _ => Err(ParseError::Decimal {
            field,
            value: s.chars().take(32).collect(),
        }),
    }
}

/// Read a book ticker. An empty side (price 0) or a crossed book
/// (bid above ask) is not a quote one can trade on: it is refused as
/// malformed rather than stored.
fn book_ticker(m: &BookTickerMsg, venue: Venue, receive_ts: i64) -> Result<Quote, ParseError> {
    let bid = positive("b", m.bid)?;
    let ask = positive("a", m.ask)?;
    if bid > ask {
        return Err(ParseError::Json(format!(
            "crossed book for {}: bid {bid} above ask {ask}",
            m.symbol
        )));
    }
    Ok(Quote {
        venue,
        symbol: m.symbol.to_string(),
        update_id: m.update_id,
        ts: m.transaction_time.or(m.event_time).unwrap_or(receive_ts),
        receive_ts,
        bid,
        bid_qty: parse_decimal("B", m.bid_qty)?,
        ask,
        ask_qty: parse_decimal("A", m.ask_qty)?,
    })
}

/// Render a quote as a Binance `bookTicker` frame (futures with `e`, `E`
/// and `T`; spot without), as the mock exchange sends it.
pub fn book_ticker_frame(q: &Quote, futures: bool) -> String {
    let m = BookTickerMsg {
        update_id: q.update_id,
        event_time: futures.then_some(q.ts),
        transaction_time: futures.then_some(q.ts),
        symbol: &q.symbol,
        bid: &format_decimal(q.bid),
        bid_qty: &format_decimal(q.bid_qty),
        ask: &format_decimal(q.ask),
        ask_qty: &format_decimal(q.ask_qty),
    };
    let mut v = serde_json::to_value(&m).expect("quote serializes");
    if futures {
        v.as_object_mut()
            .expect("object")
            .insert("e".into(), serde_json::Value::from("bookTicker"));
    }
    v.to_string()
}

/// Render a mark price as a Binance `markPriceUpdate` frame.
pub fn mark_price_frame(m: &MarkPrice) -> String {
    serde_json::json!({
        "e": "markPriceUpdate",
        "E": m.ts,
        "s": m.symbol,
        "p": format_decimal(m.mark),
        "i": format_decimal(m.index),
        "P": format_decimal(m.mark),
        "r": format_decimal(m.funding_rate),
        "T": m.next_funding_ts,
    })
    .to_string()
}

#[allow(clippy::too_many_arguments)]
fn finish(
    venue: Venue,
    symbol: &str,
    trade_id: i64,
    exchange_ts: i64,
    receive_ts: i64,
    price: &str,
    qty: &str,
    buyer_is_maker: bool,
    reason: Option<DropReason>,
) -> Result<Frame, ParseError> {
    let price = parse_decimal("p", price)?;
    let qty = parse_decimal("q", qty)?;
    let reason = reason.or(if price == 0.0 {
        Some(DropReason::ZeroPrice)
    } else if qty == 0.0 {
        Some(DropReason::ZeroQty)
    } else {
        None
    });
    if let Some(reason) = reason {
        return Ok(Frame::Dropped {
            symbol: symbol.to_string(),
            reason,
        });
    }
    Ok(Frame::Tick(Tick {
        venue,
        symbol: symbol.to_string(),
        trade_id,
        exchange_ts,
        receive_ts,
        price,
        qty,
        side: Side::from_buyer_is_maker(buyer_is_maker),
    }))
}

/// Render a tick as a Binance trade frame (the mock exchange speaks this).
pub fn trade_frame(t: &Tick, event_time: i64, exec_type: Option<&str>) -> String {
    let m = TradeMsg {
        event_time,
        symbol: &t.symbol,
        trade_id: t.trade_id,
        price: &format_decimal(t.price),
        qty: &format_decimal(t.qty),
        trade_time: t.exchange_ts,
        buyer_is_maker: t.side == Side::Sell,
        exec_type,
    };
    let mut v = serde_json::to_value(&m).expect("trade serializes");
    v.as_object_mut()
        .expect("object")
        .insert("e".into(), serde_json::Value::from("trade"));
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FUT: &str = r#"{"e":"trade","E":1765788195300,"T":1765788195299,"s":"BTCUSDT","t":6843241710,"p":"89543.10","q":"0.002","X":"MARKET","m":true}"#;

    fn tick(f: Frame) -> Tick {
        match f {
            Frame::Tick(t) => t,
            other => panic!("expected tick, got {other:?}"),
        }
    }

    #[test]
    fn futures_trade_is_normalized() {
        let t = tick(parse_frame(FUT, Venue::BinanceFutures, 7).unwrap());
        assert_eq!(t.symbol, "BTCUSDT");
        assert_eq!(t.trade_id, 6843241710);
        assert_eq!(t.exchange_ts, 1765788195299);
        assert_eq!(t.receive_ts, 7);
        assert_eq!(t.price, 89543.10);
        assert_eq!(format_decimal(t.price), "89543.1");
        assert_eq!(t.qty, 0.002);
        assert_eq!(t.side, Side::Sell);
    }

    #[test]
    fn combined_envelope_is_unwrapped() {
        let f = format!(r#"{{"stream":"btcusdt@trade","data":{FUT}}}"#);
        assert_eq!(
            tick(parse_frame(&f, Venue::BinanceFutures, 0).unwrap()).trade_id,
            6843241710
        );
    }

    #[test]
    fn spot_trade_without_exec_type_is_kept() {
        let f = r#"{"e":"trade","E":1,"s":"ETHUSDT","t":5,"p":"3139.77","q":"0.054","T":2,"m":false,"M":true}"#;
        let t = tick(parse_frame(f, Venue::BinanceSpot, 0).unwrap());
        assert_eq!((t.side, t.price), (Side::Buy, 3139.77));
    }

    #[test]
    fn agg_trade_keys_on_aggregate_id() {
        let f = r#"{"e":"aggTrade","E":1,"s":"BTCUSDT","a":2916,"p":"100.5","q":"1","f":100,"l":105,"T":3,"m":false}"#;
        let t = tick(parse_frame(f, Venue::BinanceFutures, 0).unwrap());
        assert_eq!((t.trade_id, t.exchange_ts), (2916, 3));
    }

    #[test]
    fn non_market_and_zero_trades_are_dropped_with_reason() {
        for (x, reason) in [
            ("INSURANCE_FUND", DropReason::InsuranceFund),
            ("ADL", DropReason::Adl),
            ("NA", DropReason::NotMarket),
        ] {
            let f = FUT.replace("MARKET", x);
            assert_eq!(
                parse_frame(&f, Venue::BinanceFutures, 0).unwrap(),
                Frame::Dropped {
                    symbol: "BTCUSDT".into(),
                    reason
                }
            );
        }
        let zp = FUT.replace("89543.10", "0.00");
        assert!(matches!(
            parse_frame(&zp, Venue::BinanceFutures, 0).unwrap(),
            Frame::Dropped {
                reason: DropReason::ZeroPrice,
                ..
            }
        ));
        let zq = FUT.replace("0.002", "0");
        assert!(matches!(
            parse_frame(&zq, Venue::BinanceFutures, 0).unwrap(),
            Frame::Dropped {
                reason: DropReason::ZeroQty,
                ..
            }
        ));
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        for bad in [
            "",
            "not json",
            "{",
            r#"{"e":"trade"}"#,
            r#"{"e":"trade","E":1,"s":"X","t":1,"p":"NaN","q":"1","T":1,"m":true}"#,
            r#"{"e":"trade","E":1,"s":"X","t":1,"p":"-5","q":"1","T":1,"m":true}"#,
            r#"{"e":"trade","E":1,"s":"X","t":1,"p":"inf","q":"1","T":1,"m":true}"#,
            r#"{"e":"trade","E":1,"s":"X","t":"x","p":"1","q":"1","T":1,"m":true}"#,
            r#"{"stream":"a","data":[1,2]}"#,
        ] {
            assert!(
                parse_frame(bad, Venue::BinanceFutures, 0).is_err(),
                "{bad:?} parsed"
            );
        }
        let big = format!(r#"{{"e":"x","pad":"{}"}}"#, "a".repeat(MAX_FRAME_BYTES));
        assert!(matches!(
            parse_frame(&big, Venue::Sim, 0),
            Err(ParseError::Oversized(_))
        ));
    }

    #[test]
    fn control_and_ack_frames_are_recognised() {
        assert_eq!(
            parse_frame(r#"{"e":"serverShutdown","E":1}"#, Venue::BinanceFutures, 0).unwrap(),
            Frame::ServerShutdown
        );
        assert_eq!(
            parse_frame(r#"{"result":null,"id":1}"#, Venue::BinanceFutures, 0).unwrap(),
            Frame::Other
        );
    }

    #[test]
    fn book_tickers_are_read_on_both_markets() {
        let fut = r#"{"e":"bookTicker","u":400900217,"E":1568014460893,"T":1568014460891,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#;
        let q = match parse_frame(fut, Venue::BinanceFutures, 9).unwrap() {
            Frame::Quote(q) => q,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (q.update_id, q.ts, q.receive_ts),
            (400900217, 1568014460891, 9)
        );
        assert_eq!(
            (q.bid, q.bid_qty, q.ask, q.ask_qty),
            (25.3519, 31.21, 25.3652, 40.66)
        );
        // Spot: no event, no time (the receive time stands in), in a combined envelope.
        let spot = r#"{"stream":"bnbusdt@bookTicker","data":{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}}"#;
        match parse_frame(spot, Venue::BinanceSpot, 77).unwrap() {
            Frame::Quote(s) => assert_eq!((s.ts, s.bid, s.ask), (77, q.bid, q.ask)),
            other => panic!("{other:?}"),
        }
        for futures in [true, false] {
            let f = book_ticker_frame(&q, futures);
            match parse_frame(&f, Venue::BinanceFutures, 9).unwrap() {
                Frame::Quote(back) if futures => assert_eq!(back, q),
                Frame::Quote(back) => assert_eq!(back.ts, 9),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn empty_crossed_or_broken_books_are_errors() {
        for bad in [
            r#"{"u":1,"s":"X","b":"0","B":"1","a":"2","A":"1"}"#,
            r#"{"u":1,"s":"X","b":"3","B":"1","a":"2","A":"1"}"#,
            r#"{"u":1,"s":"X","b":"NaN","B":"1","a":"2","A":"1"}"#,
            r#"{"u":1,"s":"X","b":"1","B":"-1","a":"2","A":"1"}"#,
            r#"{"u":"x","s":"X","b":"1","B":"1","a":"2","A":"1"}"#,
            r#"{"e":"bookTicker","u":1,"s":"X"}"#,
        ] {
            assert!(parse_frame(bad, Venue::BinanceSpot, 0).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mark_price_updates_carry_signed_funding() {
        let f = r#"{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","i":"11784.62659091","P":"11784.25641265","r":"-0.00038167","T":1562306400000}}"#;
        let m = match parse_frame(f, Venue::BinanceFutures, 0).unwrap() {
            Frame::Mark(m) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (m.ts, m.mark, m.index, m.funding_rate, m.next_funding_ts),
            (
                1562305380000,
                11794.15,
                11784.62659091,
                -0.00038167,
                1562306400000
            )
        );
        match parse_frame(&mark_price_frame(&m), Venue::BinanceFutures, 0).unwrap() {
            Frame::Mark(back) => assert_eq!(back, m),
            other => panic!("{other:?}"),
        }
        let no_rate = f.replace(r#","r":"-0.00038167""#, "");
        assert!(parse_frame(&no_rate, Venue::BinanceFutures, 0).is_err());
    }

    #[test]
    fn trade_frame_round_trips() {
        let t = tick(parse_frame(FUT, Venue::Sim, 9).unwrap());
        let f = trade_frame(&t, 1765788195300, Some("MARKET"));
        let back = tick(parse_frame(&f, Venue::Sim, 9).unwrap());
        assert_eq!(t, back);
    }
}
