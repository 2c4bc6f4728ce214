//! Typed failure modes of the analytics layer.
//!
//! Every degenerate input is reported through [`AnalyticsError`] rather than
//! a panic or a silent NaN, so the HTTP/CLI layer can map it to a 4xx answer
//! with a message that names the offending series and position.

use thiserror::Error;

/// Why an analytics computation could not produce a result.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AnalyticsError {
    #[error("input series `{series}` is empty")]
    Empty { series: &'static str },

    #[error("series lengths differ: x has {x} points, y has {y}")]
    LengthMismatch { x: usize, y: usize },

    #[error("series `{series}` holds a non-finite value ({value}) at index {index}")]
    NonFinite {
        series: &'static str,
        index: usize,
        value: f64,
    },

    #[error(
        "series `{series}` holds a non-positive price ({value}) at index {index}; \
         log prices need strictly positive input"
    )]
    NonPositivePrice {
        series: &'static str,
        index: usize,
        value: f64,
    },

    #[error("{what} needs at least {needed} points, got {got}")]
    TooShort {
        what: &'static str,
        needed: usize,
        got: usize,
    },

    #[error("series `{series}` is constant; its variance is zero")]
    ConstantSeries { series: &'static str },

    #[error("{what}: regressors are perfectly collinear (singular design matrix)")]
    Collinear { what: &'static str },

    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
}

/// Result alias used throughout the analytics module.
pub type Result<T> = std::result::Result<T, AnalyticsError>;
