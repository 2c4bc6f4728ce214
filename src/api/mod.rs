//! The server's public surface: Leptos server functions for the dashboard,
//! and the versioned HTTP API (`rest`, described by `openapi`, guarded by
//! `security`, measured by `metrics`) for scripts.
//!
//! Server-function bodies run only on the server; the client gets generated
//! stubs that call them over HTTP.

#[cfg(feature = "ssr")]
pub mod accept;
pub mod alerts;
pub mod csv_input;
#[cfg(feature = "ssr")]
pub mod error;
pub mod live;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod openapi;
pub mod pair;
#[cfg(feature = "ssr")]
pub mod rest;
pub mod scan;
#[cfg(feature = "ssr")]
pub mod security;
pub mod server_fns;
pub mod upload;
