//! Binance spot and USD-M futures: wire structs, pure parsing, the socket
//! client and REST backfill.

pub mod client;
pub mod messages;
pub mod parse;
pub mod rest;
