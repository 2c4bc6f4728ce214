//! Recordings as a venue (`replay`): ticks read from files by
//! `ingest::replay`. Raw frames in a recording are Binance's wire format;
//! ids are synthetic or come from several sessions, so they are not
//! consecutive ([`GapPolicy::Unsequenced`]) and nothing is backfilled. A
//! replay cannot be streamed, so it has no [`super::Exchange`] side.

use super::binance::{Binance, Market};
use super::{Adapter, GapPolicy};
use crate::domain::Venue;
use crate::ingest::event::{Frame, ParseError};

#[derive(Debug)]
pub struct Replay {
    wire: Binance,
}

pub static REPLAY: Replay = Replay {
    wire: Binance {
        venue: Venue::Replay,
        market: Market::UsdmFutures,
    },
};

impl Adapter for Replay {
    fn venue(&self) -> Venue {
        Venue::Replay
    }

    fn gap_policy(&self) -> GapPolicy {
        GapPolicy::Unsequenced
    }

    fn parse_frame(&self, text: &str, receive_ts: i64) -> Result<Frame, ParseError> {
        self.wire.parse_frame(text, receive_ts)
    }
}
