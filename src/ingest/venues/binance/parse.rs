//! Pure parsing of Binance frames into normalized [`Tick`]s (and the
//! reverse, a tick as a Binance trade frame, which the mock exchange sends).
//!
//! No I/O and no clocks: the receive time is passed in, so every case is a
//! plain unit test. Frames that are not trades (subscription acks, unknown
//! events) are reported as such; trades we must not store are reported with
//! the reason so the pipeline can count them.

use super::messages::{AnyEvent, EnvelopedEvent, TradeMsg};
use crate::domain::{Side, Tick, Venue};
use crate::ingest::event::{
    format_decimal, parse_decimal, DropReason, Frame, ParseError, MAX_FRAME_BYTES,
};

/// Parse one text frame, with or without the combined-stream envelope.
/// One JSON pass per frame: the envelope and the event are read together.
pub fn parse_frame(text: &str, venue: Venue, receive_ts: i64) -> Result<Frame, ParseError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(ParseError::Oversized(text.len()));
    }
    let json = |e: serde_json::Error| ParseError::Json(e.to_string());
    let ev: AnyEvent = if text.trim_start().starts_with("{\"stream\"") {
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
    fn trade_frame_round_trips() {
        let t = tick(parse_frame(FUT, Venue::Sim, 9).unwrap());
        let f = trade_frame(&t, 1765788195300, Some("MARKET"));
        let back = tick(parse_frame(&f, Venue::Sim, 9).unwrap());
        assert_eq!(t, back);
    }
}
