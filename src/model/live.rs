//! The live push's messages (`/ws/live`): what the server sends a page and
//! what a page may ask for. The hub that builds them is
//! [`crate::services::live`]; the socket is `api::live`.

use crate::domain::StatusSnapshot;
use serde::{Deserialize, Serialize};

/// One push message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveUpdate {
    /// Ticks accepted since the previous message.
    pub new_ticks: u64,
    /// Exchange time of the newest tick, ms.
    pub last_ts: Option<i64>,
    /// Current push interval for this client (grows when it is slow), ms.
    pub interval_ms: u64,
    /// Notifications this client missed because it fell behind.
    pub lagged: u64,
    /// The status line's figures: in at most four updates a second (and
    /// every heartbeat), since a person cannot read them faster and with
    /// 200 symbols they are most of the message.
    #[serde(default)]
    pub status: Option<StatusSnapshot>,
    /// Alerts fired since the previous message.
    #[serde(default)]
    pub alerts: Vec<crate::model::alerts::AlertEvent>,
    /// The newest trade of each symbol this page watches that traded since
    /// the previous message: the price chart's forming bar follows it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prices: Vec<LivePrice>,
    /// Every paper-trading session's position and PnL, when they changed
    /// since the previous message (looked at once a second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paper: Option<Vec<crate::model::paper::PaperLine>>,
}

/// The newest trade of one symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivePrice {
    pub symbol: String,
    pub price: f64,
    /// Exchange time, ms.
    pub ts: i64,
}

/// What a page may send: the symbols whose prices it wants pushed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    pub watch: Vec<String>,
}

/// A page watches at most this many symbols (a pair, with room to spare).
pub const MAX_WATCH: usize = 8;

/// 25 ms: with 250 ms every tick waited up to a quarter second for its push.
/// Measured by `pairdesk bench` up to 50 clients at 10,000 trades/s
/// (BENCHMARKS.md, Load).
pub const BASE_INTERVAL_MS: u64 = 25;
pub const MAX_INTERVAL_MS: u64 = 4000;
/// How often an update carries the status snapshot.
pub const STATUS_INTERVAL_MS: u64 = 250;
