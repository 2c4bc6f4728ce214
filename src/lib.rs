//! pairdesk: a real-time pair-trading analytics desk.
//!
//! One crate, two builds: the server binary (`ssr`: ingestion, storage,
//! analytics, HTTP) and the wasm client (`hydrate`: the dashboard). Modules
//! shared by both hold only plain data and UI; everything that touches the
//! network, the disk or LAPACK is behind `ssr`.

pub mod analytics;
pub mod api;
pub mod app;
pub mod domain;
pub mod model;

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
