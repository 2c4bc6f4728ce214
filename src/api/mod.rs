//! Adapters: the server's public surface over the services. Leptos server
//! functions for the dashboard, the versioned HTTP API (`rest`, described
//! by `openapi`, guarded by `security`, measured by `metrics`) for scripts,
//! the `/ws/live` socket and the upload endpoint. Handlers parse and
//! validate the request, call a service, and map its typed error to a
//! status; no SQL and no analytics live here.
//!
//! Server-function bodies run only on the server; the client gets generated
//! stubs that call them over HTTP.

#[cfg(feature = "ssr")]
pub mod error;
#[cfg(feature = "ssr")]
pub mod live;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod openapi;
#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod security;
pub mod server_fns;
pub mod upload;
