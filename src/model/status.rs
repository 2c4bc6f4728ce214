//! Ingestion status as the API reports it, beside the live snapshot in
//! [`crate::domain::StatusSnapshot`].

use serde::{Deserialize, Serialize};

/// A gap in trade ids and what backfill made of it.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GapInfo {
    pub id: i64,
    pub venue: String,
    pub symbol: String,
    /// First missing trade id.
    pub from_id: i64,
    /// Last missing trade id.
    pub to_id: i64,
    /// When it was detected, epoch ms.
    pub detected_ts: i64,
    pub filled: bool,
    pub note: Option<String>,
}
