//! Market data ingestion: sources (Binance, the mock exchange, replay files),
//! the socket client and the pipeline every tick goes through.

pub mod backoff;
pub mod binance;
pub mod liveness;
pub mod mock;
pub mod mock_feed;
pub mod pipeline;
pub mod replay;
pub mod sanity;
pub mod sim;
pub mod socket;
pub mod subscriptions;

pub use mock::now_ms;
