//! Quantitative core of pairdesk: hedge ratios (OLS, rolling OLS, Kalman,
//! Huber, Theil-Sen, total least squares, minimum half-life), least squares
//! with several regressors, spread and z-score, stationarity and
//! cointegration tests (ADF, Engle-Granger with MacKinnon p-values for a
//! pair or a basket, Johansen), half-life, Hurst exponent, residual
//! diagnostics, the Ornstein-Uhlenbeck MLE and Bertram's optimal bands,
//! return correlation, a two-leg backtest with execution costs (and its
//! walk-forward) and the [`analyze`] contract that ties them together.
//!
//! Everything here is pure and I/O-free; statistics are validated against
//! statsmodels/scipy/pandas fixtures (`tests/analytics_oracle.rs`).

pub mod adf;
pub mod analyze;
pub mod backtest;
pub mod bertram;
pub mod coint;
pub mod correlation;
pub mod diagnostics;
pub mod error;
pub mod half_life;
pub mod huber;
pub mod hurst;
pub mod johansen;
pub mod kalman;
pub mod mackinnon;
pub mod moments;
pub mod ols;
pub mod ols_multi;
pub mod ou;
pub mod rolling_ols;
pub mod sliding_coint;
pub mod spread;
pub mod stats;
pub mod theil_sen;
pub mod tls;
pub mod validate;
pub mod walk_forward;
pub mod zscore;

pub use adf::{adfuller, AdfOptions, AdfResult, Autolag};
pub use analyze::{
    analyze, AdfReport, AnalyzeOptions, AnalyzeReport, CointReport, PriceScale, RegressionKind,
    RegressionReport,
};
pub use backtest::{
    backtest, BacktestOptions, BacktestResult, FillAt, FundingEvent, Rule, Sizing, Summary, Touch,
    Trade,
};
pub use coint::{coint, CointResult};
pub use error::{AnalyticsError, Result};
pub use mackinnon::{mackinnoncrit, mackinnonp, CriticalValues, Trend};
pub use ols::{ols, OlsFit};
pub use rolling_ols::{rolling_ols, RollingOls, Undefined, UndefinedSpan};
pub use walk_forward::{
    walk_forward, walk_forward_basket, BasketFold, BasketWalkForwardReport, WalkForward,
    WalkForwardReport,
};
pub use zscore::{rolling_zscore, signal, Signal};
