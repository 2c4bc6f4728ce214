//! pairdesk: a real-time pair-trading analytics desk.
//!
//! One crate, two builds: the server binary (`ssr`: ingestion, storage,
//! analytics, HTTP) and the wasm client (`hydrate`: the dashboard). Modules
//! shared by both hold only plain data and UI; everything that touches the
//! network, the disk or LAPACK is behind `ssr`.
//!
//! # Layout
//!
//! From the bottom up; a module may use only the ones above it in this
//! list (tests/layout.rs checks it on the source, and that there is no
//! cycle), so each layer can be read and tested without the ones below.
//!
//! - `domain`, `clock`, `procstat`: the market vocabulary (venues, ticks,
//!   quotes, mark prices, funding, bars, timeframes, status), wall-clock
//!   time, and this process's RSS and open fds (bench and soak test). No
//!   dependencies.
//! - `analytics`: the statistics, pure functions over slices.
//! - `model`: the data services and pages exchange (pair queries and
//!   results, what trading a pair costs, scans, alert rules, paper-trading
//!   sessions and fills, live messages) and their pure rules.
//! - `store`: the only place with SQL. The `Store` trait (SQLite behind it,
//!   with a reader pool), the batched writer (ticks, quotes, marks,
//!   funding), and the 1-second and 1-minute rollups it keeps with the
//!   ticks, from which bars are planned.
//! - `ingest`: venues and sources, the socket clients (one per stream kind:
//!   trades, book, mark price), the pipeline every tick and quote goes
//!   through on its way to the writer (quotes conflated there), and the
//!   history on start that fills the lookback through the same path.
//! - `http`, `webhook`: plumbing with no knowledge of pairdesk's data (the
//!   accept loop and its caps; the outbound webhook client and its policy).
//! - `config`: the validated configuration.
//! - `services`: what the server does (pair analytics, the scanner, alerts,
//!   paper trading, the live hub), over the store, with typed errors.
//! - `state`: `AppState`, the handles every adapter reaches.
//! - `api`: adapters: the HTTP API, server functions, the live socket.
//! - `app`: the Leptos dashboard (calls the server functions).
//! - `server`: wiring and shutdown for `pairdesk serve`.
//!
//! The binary (`main`, `cli`, `bench`) sits on top and may use any of them.

pub mod analytics;
pub mod api;
pub mod app;
pub mod domain;
pub mod model;

#[cfg(feature = "ssr")]
pub mod clock;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod http;
#[cfg(feature = "ssr")]
pub mod ingest;
#[cfg(feature = "ssr")]
pub mod procstat;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod services;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod webhook;

/// The wasm entry point: hydrate the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
