//! The data the dashboard, the HTTP API and the services exchange: pair
//! queries and analytics, scanner results, alert rules and events, live
//! push messages. Plain serde types (and their pure rules: validation,
//! ranking, when an alert fires), shared by both builds, so the client
//! deserializes exactly what the server computed.

pub mod alerts;
pub mod basket;
pub mod cost;
pub mod live;
pub mod pair;
pub mod paper;
pub mod scan;
pub mod status;
