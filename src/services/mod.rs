//! What the server does, apart from how it is asked: pair analytics, the
//! scanner, alerts (rules and the engine), paper trading (sessions and the
//! engine) and the live hub. Each takes the
//! [`Store`](crate::store::Store) and returns typed errors; the HTTP API,
//! the server functions and the CLI are thin adapters over them.

pub mod alerts;
pub mod basket;
pub mod csv_input;
pub mod live;
pub mod pair;
pub mod paper;
pub mod scanner;
