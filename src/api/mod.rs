//! The server's public surface: Leptos server functions for the dashboard.
//!
//! Server-function bodies run only on the server; the client gets generated
//! stubs that call them over HTTP.

pub mod pair;
pub mod server_fns;
