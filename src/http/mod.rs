//! HTTP plumbing beneath the API and the server state: the accept loop
//! with its timeouts and connection caps, and the request figures the
//! `/metrics` page reads. It knows no handler and no server state.

pub mod accept;
pub mod metrics;
