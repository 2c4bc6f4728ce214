//! Market data ingestion: venues (Binance, the mock exchange with its
//! simulated market, replay files) behind one adapter seam, the socket
//! client, the backfiller and the pipeline every tick goes through.
//!
//! - [`venues`]: one folder per venue and the registry; nothing else here
//!   knows a venue's wire.
//! - [`event`]: the venue-neutral frames, drop reasons and data kinds.
//! - [`socket`], [`subscriptions`], [`backfill`], [`liveness`], [`backoff`]:
//!   the live connection, its symbol set and its gap filling, for any venue.
//! - [`pipeline`], [`sanity`], [`conflate`]: de-duplication, gaps, limits,
//!   quote conflation, fan-out.
//! - [`history`]: history on start (the lookback `serve` fills in).
//! - [`replay`], [`mock_feed`]: recorded files, and the mock-exchange
//!   assembly tests and benches run.

pub(crate) mod backfill;
pub mod backoff;
pub mod conflate;
pub mod event;
pub mod history;
pub mod liveness;
pub mod mock_feed;
pub mod pipeline;
pub mod replay;
pub mod sanity;
pub mod socket;
pub mod subscriptions;
pub mod venues;

pub use crate::clock::now_ms;
