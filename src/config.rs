//! pairdesk's runtime configuration: Leptos.toml, overridden by environment
//! variables and command-line flags, validated once at start.
//!
//! cargo-leptos reads its own build settings from `[package.metadata.leptos]`
//! in Cargo.toml, so Leptos.toml belongs entirely to pairdesk. Every field is
//! checked here and a bad one produces a one-line error that names the field
//! and what it accepts; nothing downstream re-validates.

use crate::domain::{Instrument, InstrumentError, Timeframe, Venue};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The market data source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// The default venue (Binance USD-M futures) when reachable, otherwise
    /// the simulator.
    Auto,
    /// A live venue by its id (`binance-futures`, `binance-spot`): any
    /// venue in `ingest::venues` with configured endpoints.
    Live(Venue),
    /// The built-in mock exchange on 127.0.0.1 with a simulated market.
    Sim,
    /// A recorded NDJSON or CSV file.
    Replay(PathBuf),
}

/// The `source` values accepted, for messages: `auto`, the live venues
/// (from the venue registry), `sim` and `replay:<file>`.
pub fn source_accepted() -> String {
    let mut names = vec!["auto".to_string()];
    names.extend(live_venues().iter().map(|v| v.to_string()));
    names.extend(["sim".to_string(), "replay:<file>".to_string()]);
    names.join(", ")
}

/// Venues a `source` names directly (their endpoints have defaults here).
fn live_venues() -> Vec<Venue> {
    crate::ingest::venues::configured(&Endpoints::default()).collect()
}

impl SourceSpec {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "auto" => Ok(SourceSpec::Auto),
            "sim" => Ok(SourceSpec::Sim),
            other => match other.strip_prefix("replay:") {
                Some(path) if !path.is_empty() => Ok(SourceSpec::Replay(PathBuf::from(path))),
                _ => live_venues()
                    .into_iter()
                    .find(|v| v.as_str() == other)
                    .map(SourceSpec::Live)
                    .ok_or_else(|| {
                        format!("{s:?} is not a source (accepted: {})", source_accepted())
                    }),
            },
        }
    }

    /// The venue this source's ticks are stored under; `auto` counts as
    /// the default venue it tries first.
    pub fn venue(&self) -> Venue {
        match self {
            SourceSpec::Auto => Venue::DEFAULT,
            SourceSpec::Live(v) => *v,
            SourceSpec::Sim => Venue::Sim,
            SourceSpec::Replay(_) => Venue::Replay,
        }
    }

    pub fn label(&self) -> String {
        match self {
            SourceSpec::Auto => "auto".into(),
            SourceSpec::Live(v) => v.to_string(),
            SourceSpec::Sim => "sim".into(),
            SourceSpec::Replay(p) => format!("replay:{}", p.display()),
        }
    }
}

pub use crate::ingest::venues::Endpoints;

/// How the client judges a connection dead, as written under `[liveness]`
/// (milliseconds). See [`crate::ingest::liveness`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LivenessFile {
    pub ping_interval_ms: u64,
    pub pong_timeout_ms: u64,
    pub silence_floor_ms: u64,
    pub silence_factor: f64,
}

impl Default for LivenessFile {
    fn default() -> Self {
        let d = crate::ingest::liveness::LivenessConfig::default();
        LivenessFile {
            ping_interval_ms: d.ping_interval.as_millis() as u64,
            pong_timeout_ms: d.pong_timeout.as_millis() as u64,
            silence_floor_ms: d.silence_floor.as_millis() as u64,
            silence_factor: d.silence_factor,
        }
    }
}

pub use crate::http::accept::HttpLimits;

/// `[quotes]` as written: top of book and mark price, and how quotes are
/// conflated (see [`crate::ingest::conflate`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotesFile {
    pub enabled: bool,
    pub conflate_ms: i64,
    pub max_price_changes: u32,
    /// Simulated market only: book size updates per second per symbol
    /// between trades (times `sim_rate`).
    pub sim_updates_per_s: f64,
}

impl Default for QuotesFile {
    fn default() -> Self {
        let d = crate::ingest::conflate::ConflateConfig::default();
        QuotesFile {
            enabled: true,
            conflate_ms: d.interval_ms,
            max_price_changes: d.max_price_changes,
            sim_updates_per_s: 20.0,
        }
    }
}

/// Top of book, validated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuotesConfig {
    pub enabled: bool,
    pub conflate: crate::ingest::conflate::ConflateConfig,
    pub sim_updates_per_s: f64,
}

impl Default for QuotesConfig {
    fn default() -> Self {
        QuotesFile::default()
            .validate()
            .expect("the defaults are valid")
    }
}

impl QuotesFile {
    fn validate(&self) -> Result<QuotesConfig, ConfigError> {
        let conflate = crate::ingest::conflate::ConflateConfig::new_checked(
            self.conflate_ms,
            self.max_price_changes,
        )
        .map_err(|e| field("quotes.conflate_ms", self.conflate_ms, e))?;
        if !self.sim_updates_per_s.is_finite()
            || !(0.0..=100_000.0).contains(&self.sim_updates_per_s)
        {
            return Err(field(
                "quotes.sim_updates_per_s",
                self.sim_updates_per_s,
                "expected 0 to 100000",
            ));
        }
        Ok(QuotesConfig {
            enabled: self.enabled,
            conflate,
            sim_updates_per_s: self.sim_updates_per_s,
        })
    }
}

/// The shortest ping interval accepted: Binance allows 5 client messages a
/// second per connection (pings included) and disconnects above that;
/// 1 ping a second leaves room for subscribe messages.
pub const MIN_PING_INTERVAL_MS: u64 = 1000;

impl LivenessFile {
    fn validate(&self) -> Result<crate::ingest::liveness::LivenessConfig, ConfigError> {
        use std::time::Duration;
        if !(MIN_PING_INTERVAL_MS..=60_000).contains(&self.ping_interval_ms) {
            return Err(field(
                "liveness.ping_interval_ms",
                self.ping_interval_ms,
                format!("expected {MIN_PING_INTERVAL_MS} to 60000 (Binance allows 5 client messages a second)"),
            ));
        }
        if !(100..=60_000).contains(&self.pong_timeout_ms) {
            return Err(field(
                "liveness.pong_timeout_ms",
                self.pong_timeout_ms,
                "expected 100 to 60000",
            ));
        }
        if !(500..=600_000).contains(&self.silence_floor_ms) {
            return Err(field(
                "liveness.silence_floor_ms",
                self.silence_floor_ms,
                "expected 500 to 600000",
            ));
        }
        if !self.silence_factor.is_finite() || !(2.0..=1000.0).contains(&self.silence_factor) {
            return Err(field(
                "liveness.silence_factor",
                self.silence_factor,
                "expected a number in [2, 1000]",
            ));
        }
        Ok(crate::ingest::liveness::LivenessConfig {
            ping_interval: Duration::from_millis(self.ping_interval_ms),
            pong_timeout: Duration::from_millis(self.pong_timeout_ms),
            silence_floor: Duration::from_millis(self.silence_floor_ms),
            silence_factor: self.silence_factor,
        })
    }
}

/// `[tick_limits]` as written: the plausibility limits of
/// [`crate::ingest::sanity::TickLimits`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTickLimits {
    min_price: Option<f64>,
    max_price: Option<f64>,
    max_qty: Option<f64>,
    /// A UTC date, `YYYY-MM-DD`.
    earliest: Option<String>,
    /// A duration like `1d` or `10m`.
    max_future: Option<String>,
}

/// Leptos.toml as written; every field optional so a partial file works.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    db: Option<String>,
    source: Option<String>,
    symbols: Option<Vec<String>>,
    timeframe: Option<String>,
    window: Option<i64>,
    z_window: Option<i64>,
    z_entry: Option<f64>,
    z_exit: Option<f64>,
    access_token: Option<String>,
    durable: Option<bool>,
    retain: Option<String>,
    retain_1s: Option<String>,
    retain_1m: Option<String>,
    history: Option<String>,
    stream: Option<String>,
    sim_rate: Option<f64>,
    allowed_hosts: Option<Vec<String>>,
    webhook_allow_private: Option<bool>,
    endpoints: Option<Endpoints>,
    liveness: Option<LivenessFile>,
    quotes: Option<QuotesFile>,
    http: Option<HttpLimits>,
    tick_limits: Option<FileTickLimits>,
}

/// Values that came from the command line or the environment; `None` means
/// "not given", so the file (then the default) applies.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub db: Option<String>,
    pub listen: Option<String>,
    pub source: Option<String>,
    pub symbols: Option<String>,
    pub access_token: Option<String>,
    pub durable: bool,
    pub retain: Option<String>,
    pub retain_1s: Option<String>,
    pub retain_1m: Option<String>,
    pub history: Option<String>,
    pub sim_rate: Option<f64>,
    /// Comma-separated host names.
    pub allowed_hosts: Option<String>,
}

/// The validated configuration every part of the server reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub db: PathBuf,
    pub source: SourceSpec,
    pub symbols: Vec<String>,
    pub timeframe: Timeframe,
    pub window: usize,
    pub z_window: usize,
    pub z_entry: f64,
    pub z_exit: f64,
    pub access_token: Option<String>,
    pub durable: bool,
    /// Delete stored ticks older than this (by exchange time); `None` keeps all.
    pub retain: Option<std::time::Duration>,
    /// Delete 1-second rollups older than this (at least `retain`).
    pub retain_1s: Option<std::time::Duration>,
    /// Delete 1-minute rollups older than this (at least `retain_1s`).
    pub retain_1m: Option<std::time::Duration>,
    /// History on start: `serve` fills in the ticks missing from the last
    /// `history` (from the exchange's REST history, or generated by the
    /// simulated market); `None` starts from the live stream only.
    pub history: Option<std::time::Duration>,
    /// Trade stream: raw trades or aggregate trades.
    pub stream: crate::ingest::event::DataKind,
    /// Multiplies the simulated market's trade rates (1 = about 55 trades/s
    /// for BTCUSDT and ETHUSDT together).
    pub sim_rate: f64,
    /// Host names (lower case, optionally `name:port`) the server answers
    /// besides its loopback names; see `api::security`.
    pub allowed_hosts: Vec<String>,
    /// Let alert webhooks reach loopback and private-network addresses.
    pub webhook_allow_private: bool,
    pub endpoints: Endpoints,
    /// Ping interval, pong timeout and data-silence watchdog of the client.
    pub liveness: crate::ingest::liveness::LivenessConfig,
    /// Top of book and mark price streams, and quote conflation.
    pub quotes: QuotesConfig,
    pub http: HttpLimits,
    pub tick_limits: crate::ingest::sanity::TickLimits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:3000".parse().expect("literal address"),
            db: PathBuf::from("pairdesk.db"),
            source: SourceSpec::Auto,
            symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
            timeframe: Timeframe::S1,
            window: 300,
            z_window: 60,
            z_entry: 2.0,
            z_exit: 0.5,
            access_token: None,
            durable: false,
            retain: None,
            retain_1s: None,
            retain_1m: None,
            history: Some(DEFAULT_HISTORY),
            stream: crate::ingest::event::DataKind::Trade,
            sim_rate: 1.0,
            allowed_hosts: Vec::new(),
            webhook_allow_private: false,
            endpoints: Endpoints::default(),
            liveness: crate::ingest::liveness::LivenessConfig::default(),
            quotes: QuotesConfig::default(),
            http: HttpLimits::default(),
            tick_limits: Default::default(),
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("invalid `{field}` {value}: {reason}")]
    Field {
        field: &'static str,
        value: String,
        reason: String,
    },
}

fn field(
    field: &'static str,
    value: impl std::fmt::Display,
    reason: impl Into<String>,
) -> ConfigError {
    ConfigError::Field {
        field,
        value: format!("{value}"),
        reason: reason.into(),
    }
}

impl Config {
    /// The commit durability `durable` asks for.
    pub fn durability(&self) -> crate::store::Durability {
        if self.durable {
            crate::store::Durability::Full
        } else {
            crate::store::Durability::Normal
        }
    }

    /// Load the file named by `--config`/`PAIRDESK_CONFIG` (default
    /// ./Leptos.toml, silently skipped when that default is absent so the
    /// release binary runs from any directory), then apply overrides.
    pub fn load(ov: &Overrides) -> Result<Config, ConfigError> {
        let (path, explicit) = match &ov.config {
            Some(p) => (p.clone(), true),
            None => (PathBuf::from("Leptos.toml"), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })
            }
        };
        let file = match text {
            Some(t) => parse_file(&path, &t)?,
            None => FileConfig::default(),
        };
        Config::resolve(file, ov)
    }

    /// Parse a config text directly (used by tests and `--config`).
    pub fn from_toml(text: &str, ov: &Overrides) -> Result<Config, ConfigError> {
        Config::resolve(parse_file(Path::new("Leptos.toml"), text)?, ov)
    }

    fn resolve(file: FileConfig, ov: &Overrides) -> Result<Config, ConfigError> {
        let d = Config::default();

        let listen_s = ov.listen.clone().or(file.listen);
        let listen = match listen_s {
            Some(s) => s.parse::<SocketAddr>().map_err(|_| {
                field(
                    "listen",
                    format!("{s:?}"),
                    "expected an address like 127.0.0.1:3000",
                )
            })?,
            None => d.listen,
        };

        let db = match ov.db.clone().or(file.db) {
            Some(s) if s.trim().is_empty() => {
                return Err(field(
                    "db",
                    "\"\"",
                    "expected a file path, e.g. pairdesk.db",
                ))
            }
            Some(s) => PathBuf::from(s),
            None => d.db,
        };

        let source = match ov.source.clone().or(file.source) {
            Some(s) => SourceSpec::parse(&s).map_err(|r| field("source", format!("{s:?}"), r))?,
            None => d.source,
        };

        let symbols = match (ov.symbols.clone(), file.symbols) {
            (Some(s), _) => s.split(',').map(|x| x.to_string()).collect(),
            (None, Some(v)) => v,
            (None, None) => d.symbols,
        };
        // One source streams one venue: a bare symbol is on it, and a
        // `venue:SYMBOL` entry must name it.
        let venue = source.venue();
        let mut clean: Vec<String> = Vec::with_capacity(symbols.len());
        for s in &symbols {
            let bad = |r: String| field("symbols", format!("{s:?}"), r);
            let up = match Instrument::parse_or(s, venue) {
                Ok(i) if i.venue == venue => i.symbol,
                Ok(i) => {
                    return Err(bad(format!(
                        "{i} is not on the source's venue ({venue}); one source streams one venue"
                    )))
                }
                Err(InstrumentError::Symbol(r)) => return Err(bad(r)),
                Err(e) => return Err(bad(e.to_string())),
            };
            if !clean.contains(&up) {
                clean.push(up);
            }
        }
        if clean.len() < 2 || clean.len() > 200 {
            return Err(field(
                "symbols",
                format!("{symbols:?}"),
                "expected between 2 and 200 distinct symbols (a pair needs two)",
            ));
        }

        let timeframe = match file.timeframe {
            Some(s) => s.parse::<Timeframe>().map_err(|_| {
                field(
                    "timeframe",
                    format!("{s:?}"),
                    format!("accepted: {}", Timeframe::accepted()),
                )
            })?,
            None => d.timeframe,
        };

        let window = check_window("window", file.window, d.window)?;
        let z_window = check_window("z_window", file.z_window, d.z_window)?;

        let z_entry = file.z_entry.unwrap_or(d.z_entry);
        if !z_entry.is_finite() || z_entry <= 0.0 || z_entry > 10.0 {
            return Err(field("z_entry", z_entry, "expected a number in (0, 10]"));
        }
        let z_exit = file.z_exit.unwrap_or(d.z_exit);
        if !z_exit.is_finite() || z_exit < 0.0 || z_exit >= z_entry {
            return Err(field(
                "z_exit",
                z_exit,
                format!("expected a number in [0, z_entry = {z_entry})"),
            ));
        }

        let access_token = ov
            .access_token
            .clone()
            .or(file.access_token)
            .filter(|t| !t.is_empty());
        if let Some(t) = &access_token {
            if t.len() < 16 {
                return Err(field(
                    "access_token",
                    "(hidden)",
                    "expected at least 16 characters",
                ));
            }
        }
        if !listen.ip().is_loopback() && access_token.is_none() {
            return Err(field(
                "listen",
                listen,
                "binding beyond loopback needs an access token (access_token in Leptos.toml or PAIRDESK_TOKEN)",
            ));
        }

        let stream = match file.stream.as_deref() {
            None => d.stream,
            Some(s) => s
                .parse()
                .map_err(|_| field("stream", format!("{s:?}"), "accepted: trade, aggTrade"))?,
        };
        let tier = |name: &'static str, v: Option<String>| match v {
            Some(s) => parse_retain(&s)
                .map(Some)
                .map_err(|r| field(name, format!("{s:?}"), r)),
            None => Ok(None),
        };
        let retain = tier("retain", ov.retain.clone().or(file.retain))?;
        let retain_1s = tier("retain_1s", ov.retain_1s.clone().or(file.retain_1s))?;
        let retain_1m = tier("retain_1m", ov.retain_1m.clone().or(file.retain_1m))?;
        // A coarser tier keeps at least as long as a finer one: a late tick
        // the store accepts must find its second's and minute's rollups.
        let forever = |d: Option<std::time::Duration>| d.unwrap_or(std::time::Duration::MAX);
        for (name, finer, coarser, what) in [
            ("retain_1s", retain, retain_1s, "at least `retain`"),
            ("retain_1m", retain_1s, retain_1m, "at least `retain_1s`"),
        ] {
            if forever(coarser) < forever(finer) {
                let shown = coarser.map_or("keep all".to_string(), |d| format!("{}s", d.as_secs()));
                return Err(field(name, shown, what));
            }
        }

        let history = match ov.history.clone().or(file.history) {
            Some(s) if s.trim() == "off" => None,
            Some(s) => {
                let h = parse_retain(&s)
                    .map_err(|r| field("history", format!("{s:?}"), format!("{r}, or \"off\"")))?;
                if let Some(r) = retain.filter(|r| h > *r) {
                    return Err(field(
                        "history",
                        format!("{s:?}"),
                        format!(
                            "at most `retain` ({} s): older ticks would be refused",
                            r.as_secs()
                        ),
                    ));
                }
                Some(h)
            }
            None => Some(default_history(timeframe, window, retain)),
        };

        let sim_rate = ov.sim_rate.or(file.sim_rate).unwrap_or(d.sim_rate);
        if !sim_rate.is_finite() || sim_rate <= 0.0 || sim_rate > 100.0 {
            return Err(field("sim_rate", sim_rate, "expected a number in (0, 100]"));
        }

        let allowed_hosts = match (ov.allowed_hosts.clone(), file.allowed_hosts) {
            (Some(s), _) => s
                .split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect(),
            (None, Some(v)) => v,
            (None, None) => Vec::new(),
        };
        let allowed_hosts = allowed_hosts
            .iter()
            .map(|h| check_host(h).map_err(|r| field("allowed_hosts", format!("{h:?}"), r)))
            .collect::<Result<Vec<_>, _>>()?;

        let http = file.http.unwrap_or_default();
        if !(1..=300).contains(&http.header_timeout_secs) {
            return Err(field(
                "http.header_timeout_secs",
                http.header_timeout_secs,
                "expected whole seconds from 1 to 300",
            ));
        }
        for (name, v) in [
            ("http.max_connections", http.max_connections),
            ("http.max_connections_per_ip", http.max_connections_per_ip),
            ("http.max_websockets", http.max_websockets),
            ("http.max_websockets_per_ip", http.max_websockets_per_ip),
        ] {
            if !(1..=100_000).contains(&v) {
                return Err(field(name, v, "expected an integer from 1 to 100000"));
            }
        }
        let tick_limits = resolve_tick_limits(file.tick_limits.unwrap_or_default())?;

        let endpoints = file.endpoints.unwrap_or_default();
        for (name, url, schemes) in [
            (
                "endpoints.futures_ws",
                &endpoints.futures_ws,
                ["ws://", "wss://"],
            ),
            ("endpoints.spot_ws", &endpoints.spot_ws, ["ws://", "wss://"]),
            (
                "endpoints.futures_rest",
                &endpoints.futures_rest,
                ["http://", "https://"],
            ),
            (
                "endpoints.spot_rest",
                &endpoints.spot_rest,
                ["http://", "https://"],
            ),
        ] {
            if !schemes.iter().any(|s| url.starts_with(s)) {
                return Err(field(
                    name,
                    format!("{url:?}"),
                    format!("expected a URL starting with {}", schemes.join(" or ")),
                ));
            }
        }

        let liveness = file.liveness.unwrap_or_default().validate()?;
        let quotes = file.quotes.unwrap_or_default().validate()?;
        endpoints
            .futures_routes
            .validate()
            .map_err(|e| field("endpoints.futures_routes", "", e))?;

        Ok(Config {
            listen,
            db,
            source,
            symbols: clean,
            timeframe,
            window,
            z_window,
            z_entry,
            z_exit,
            access_token,
            durable: ov.durable || file.durable.unwrap_or(false),
            retain,
            retain_1s,
            retain_1m,
            history,
            stream,
            sim_rate,
            allowed_hosts,
            webhook_allow_private: file.webhook_allow_private.unwrap_or(false),
            endpoints,
            liveness,
            quotes,
            http,
            tick_limits,
        })
    }
}

/// An `allowed_hosts` entry: a DNS name or IP address, optionally with a
/// port, as it appears in a `Host` header; returned lower-cased.
fn check_host(h: &str) -> Result<String, String> {
    const HINT: &str = "expected a host name such as desk.example.com, optionally with :port";
    let h = h.trim().to_ascii_lowercase();
    let (name, port) = crate::http::split_host_port(&h).ok_or(HINT)?;
    if let Some(p) = port {
        if p == 0 {
            return Err(HINT.into());
        }
    }
    let ok = !name.is_empty()
        && name.len() <= 253
        && (name.parse::<std::net::IpAddr>().is_ok()
            || name.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    if ok {
        Ok(h)
    } else {
        Err(HINT.into())
    }
}

fn resolve_tick_limits(
    f: FileTickLimits,
) -> Result<crate::ingest::sanity::TickLimits, ConfigError> {
    let d = crate::ingest::sanity::TickLimits::default();
    let min_price = f.min_price.unwrap_or(d.min_price);
    let max_price = f.max_price.unwrap_or(d.max_price);
    if !(min_price.is_finite() && min_price > 0.0) {
        return Err(field(
            "tick_limits.min_price",
            min_price,
            "expected a positive number",
        ));
    }
    if !(max_price.is_finite() && max_price > min_price) {
        return Err(field(
            "tick_limits.max_price",
            max_price,
            format!("expected a number above min_price = {min_price}"),
        ));
    }
    let max_qty = f.max_qty.unwrap_or(d.max_qty);
    if !(max_qty.is_finite() && max_qty > 0.0) {
        return Err(field(
            "tick_limits.max_qty",
            max_qty,
            "expected a positive number",
        ));
    }
    let earliest_ms = match f.earliest {
        None => d.earliest_ms,
        Some(s) => crate::clock::parse_date_ms(&s).ok_or_else(|| {
            field(
                "tick_limits.earliest",
                format!("{s:?}"),
                "expected a UTC date YYYY-MM-DD from 1970-01-01",
            )
        })?,
    };
    let max_future_ms = match f.max_future {
        None => d.max_future_ms,
        Some(s) => parse_retain(&s)
            .map(|d| d.as_millis() as i64)
            .map_err(|r| field("tick_limits.max_future", format!("{s:?}"), r))?,
    };
    Ok(crate::ingest::sanity::TickLimits {
        min_price,
        max_price,
        max_qty,
        earliest_ms,
        max_future_ms,
    })
}

/// History on start when none is configured: six hours.
pub const DEFAULT_HISTORY: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// The default lookback for a configuration: six hours, or the regression
/// window's span when that is longer (300 one-minute bars need five hours,
/// 300 five-minute bars 25), at most a week unless configured, and never
/// past tick retention (older ticks would be refused).
pub fn default_history(
    tf: Timeframe,
    window: usize,
    retain: Option<std::time::Duration>,
) -> std::time::Duration {
    let span = std::time::Duration::from_millis(tf.millis() as u64 * window as u64);
    let week = std::time::Duration::from_secs(7 * 86_400);
    let h = DEFAULT_HISTORY.max(span).min(week);
    retain.map_or(h, |r| h.min(r))
}

/// A retention period: a positive whole number and a unit, `s`, `m`, `h` or
/// `d` (`30d`, `12h`). At least one minute, so a typo cannot empty the store
/// between two batches.
pub fn parse_retain(s: &str) -> Result<std::time::Duration, String> {
    const HINT: &str = "expected a number and a unit s, m, h or d, e.g. \"30d\" (at least 1m)";
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| HINT.to_string())?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
    .ok_or_else(|| HINT.to_string())?;
    if secs < 60 {
        return Err(HINT.to_string());
    }
    Ok(std::time::Duration::from_secs(secs))
}

fn check_window(name: &'static str, v: Option<i64>, default: usize) -> Result<usize, ConfigError> {
    match v {
        None => Ok(default),
        Some(w) if (2..=100_000).contains(&w) => Ok(w as usize),
        Some(w) => Err(field(name, w, "expected an integer from 2 to 100000")),
    }
}

fn parse_file(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    toml::from_str::<FileConfig>(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        // toml's Display spans several lines with a source excerpt; the
        // message alone plus the line number keeps the error to one line.
        let msg = e.message().replace('\n', " ");
        ConfigError::Syntax {
            path: match line {
                Some(l) => format!("{} line {l}", path.display()),
                None => path.display().to_string(),
            },
            message: msg.trim().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, &Overrides::default())
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = load("").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.source, SourceSpec::Auto);
        assert_eq!(c.symbols, vec!["BTCUSDT", "ETHUSDT"]);
    }

    #[test]
    fn the_repository_leptos_toml_is_valid() {
        let text = include_str!("../Leptos.toml");
        load(text).unwrap();
    }

    #[test]
    fn unknown_field_is_named() {
        let e = load("windw = 3").unwrap_err().to_string();
        assert!(e.contains("windw"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn bad_source_names_field_and_accepted_values() {
        let e = load("source = \"kraken\"").unwrap_err().to_string();
        assert!(e.contains("`source`") && e.contains("binance-spot"), "{e}");
    }

    #[test]
    fn bad_timeframe_and_windows_are_rejected() {
        assert!(load("timeframe = \"2m\"")
            .unwrap_err()
            .to_string()
            .contains("`timeframe`"));
        assert!(load("window = 1")
            .unwrap_err()
            .to_string()
            .contains("`window`"));
        assert!(load("z_window = -5")
            .unwrap_err()
            .to_string()
            .contains("`z_window`"));
        assert!(load("z_entry = 1.0\nz_exit = 1.5")
            .unwrap_err()
            .to_string()
            .contains("`z_exit`"));
    }

    #[test]
    fn wrong_type_reports_the_line() {
        let e = load("\nwindow = \"big\"").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn non_loopback_needs_a_token() {
        let e = load("listen = \"0.0.0.0:3000\"").unwrap_err().to_string();
        assert!(e.contains("access token"), "{e}");
        load("listen = \"0.0.0.0:3000\"\naccess_token = \"0123456789abcdef0\"").unwrap();
    }

    #[test]
    fn overrides_beat_the_file() {
        let ov = Overrides {
            db: Some("x.db".into()),
            source: Some("sim".into()),
            symbols: Some("solusdt,bnbusdt".into()),
            ..Default::default()
        };
        let c = Config::from_toml("db = \"y.db\"\nsource = \"binance-spot\"", &ov).unwrap();
        assert_eq!(c.db, PathBuf::from("x.db"));
        assert_eq!(c.source, SourceSpec::Sim);
        assert_eq!(c.symbols, vec!["SOLUSDT", "BNBUSDT"]);
    }

    #[test]
    fn replay_source_keeps_its_path() {
        assert_eq!(
            SourceSpec::parse("replay:data/x.ndjson").unwrap(),
            SourceSpec::Replay("data/x.ndjson".into())
        );
        assert!(SourceSpec::parse("replay:").is_err());
    }

    #[test]
    fn symbols_may_name_the_source_venue() {
        let ov = Overrides::default();
        let c = Config::from_toml(
            "source = \"binance-spot\"\nsymbols = [\"binance-spot:solusdt\", \"BNBUSDT\"]",
            &ov,
        )
        .unwrap();
        assert_eq!(c.symbols, vec!["SOLUSDT", "BNBUSDT"]);
        let c =
            Config::from_toml("symbols = [\"binance-futures:BTCUSDT\", \"ETHUSDT\"]", &ov).unwrap();
        assert_eq!(c.symbols, vec!["BTCUSDT", "ETHUSDT"]);
        let e = Config::from_toml(
            "source = \"sim\"\nsymbols = [\"binance-spot:SOLUSDT\", \"BNBUSDT\"]",
            &ov,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`symbols`") && e.contains("one venue"), "{e}");
    }

    #[test]
    fn live_sources_are_the_registered_venues() {
        assert_eq!(
            SourceSpec::parse("binance-futures").unwrap(),
            SourceSpec::Live(Venue::BinanceFutures)
        );
        assert_eq!(
            SourceSpec::parse("binance-spot").unwrap().label(),
            "binance-spot"
        );
        assert_eq!(
            source_accepted(),
            "auto, binance-futures, binance-spot, sim, replay:<file>"
        );
        let e = SourceSpec::parse("binance").unwrap_err();
        assert!(e.contains("accepted: auto, binance-futures"), "{e}");
    }

    #[test]
    fn stream_kind_is_validated() {
        use crate::ingest::event::DataKind;
        assert_eq!(load("").unwrap().stream, DataKind::Trade);
        assert_eq!(
            load("stream = \"aggTrade\"").unwrap().stream,
            DataKind::AggTrade
        );
        assert!(load("stream = \"depth\"")
            .unwrap_err()
            .to_string()
            .contains("`stream`"));
    }

    #[test]
    fn retention_tiers_keep_coarser_data_at_least_as_long() {
        let day = std::time::Duration::from_secs(86_400);
        let c = load("retain = \"7d\"\nretain_1s = \"90d\"").unwrap();
        assert_eq!(
            (c.retain, c.retain_1s, c.retain_1m),
            (Some(7 * day), Some(90 * day), None)
        );
        for bad in [
            "retain = \"7d\"\nretain_1s = \"1d\"",
            "retain_1s = \"7d\"",
            "retain_1s = \"7d\"\nretain_1m = \"1d\"",
        ] {
            let e = load(bad).unwrap_err().to_string();
            assert!(e.contains("at least"), "{bad}: {e}");
        }
    }

    #[test]
    fn history_defaults_to_six_hours_or_the_window_span_within_retention() {
        let h = |s: &str| load(s).unwrap().history.map(|d| d.as_secs());
        assert_eq!(h(""), Some(6 * 3600));
        // 300 five-minute bars need 25 hours; 300 one-day bars are capped at a week.
        assert_eq!(h("timeframe = \"5m\""), Some(25 * 3600));
        assert_eq!(h("timeframe = \"1d\""), Some(7 * 86_400));
        assert_eq!(h("retain = \"2h\""), Some(2 * 3600));
        assert_eq!(h("history = \"30m\""), Some(1800));
        assert_eq!(h("history = \"off\""), None);
        for (bad, why) in [
            ("history = \"5\"", "or \"off\""),
            ("history = \"10s\"", "at least 1m"),
            ("retain = \"1h\"\nhistory = \"2h\"", "at most `retain`"),
        ] {
            let e = load(bad).unwrap_err().to_string();
            assert!(e.contains("`history`") && e.contains(why), "{bad}: {e}");
        }
        let ov = Overrides {
            history: Some("off".into()),
            ..Default::default()
        };
        assert_eq!(
            Config::from_toml("history = \"1h\"", &ov).unwrap().history,
            None
        );
    }

    #[test]
    fn retain_accepts_units_and_names_the_field() {
        let day = std::time::Duration::from_secs(86_400);
        assert_eq!(load("retain = \"30d\"").unwrap().retain, Some(30 * day));
        assert_eq!(parse_retain("90m").unwrap().as_secs(), 5400);
        assert_eq!(parse_retain("12h").unwrap().as_secs(), 43_200);
        assert_eq!(parse_retain("120s").unwrap().as_secs(), 120);
        assert_eq!(load("").unwrap().retain, None);
        for bad in [
            "30",
            "d",
            "-1d",
            "1.5d",
            "30w",
            "10s",
            "0d",
            "99999999999999999999d",
        ] {
            let e = load(&format!("retain = \"{bad}\""))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("`retain`") && e.contains("s, m, h or d"),
                "{bad}: {e}"
            );
        }
        let ov = Overrides {
            retain: Some("2h".into()),
            ..Default::default()
        };
        let c = Config::from_toml("retain = \"30d\"", &ov).unwrap();
        assert_eq!(c.retain.unwrap().as_secs(), 7200);
    }

    #[test]
    fn sim_rate_is_bounded_and_overridable() {
        assert_eq!(
            Config::from_toml("", &Overrides::default())
                .unwrap()
                .sim_rate,
            1.0
        );
        for bad in [
            "sim_rate = 0",
            "sim_rate = -2",
            "sim_rate = 1000",
            "sim_rate = nan",
        ] {
            let e = Config::from_toml(bad, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("`sim_rate`") && e.contains("(0, 100]"),
                "{bad}: {e}"
            );
        }
        let ov = Overrides {
            sim_rate: Some(9.0),
            ..Default::default()
        };
        assert_eq!(
            Config::from_toml("sim_rate = 2.5", &ov).unwrap().sim_rate,
            9.0
        );
    }

    #[test]
    fn liveness_defaults_and_bounds() {
        use std::time::Duration;
        let c = load("").unwrap();
        assert_eq!(
            c.liveness,
            crate::ingest::liveness::LivenessConfig::default()
        );
        // Well inside Binance's 5 client messages a second.
        assert!(c.liveness.ping_interval >= Duration::from_millis(MIN_PING_INTERVAL_MS));
        let c = load("[liveness]\nping_interval_ms = 1500\npong_timeout_ms = 800").unwrap();
        assert_eq!(c.liveness.ping_interval, Duration::from_millis(1500));
        assert_eq!(c.liveness.pong_timeout, Duration::from_millis(800));
        assert_eq!(c.liveness.silence_floor, Duration::from_secs(10));
        for (bad, name) in [
            ("ping_interval_ms = 100", "liveness.ping_interval_ms"),
            ("pong_timeout_ms = 0", "liveness.pong_timeout_ms"),
            ("silence_floor_ms = 10", "liveness.silence_floor_ms"),
            ("silence_factor = 1.0", "liveness.silence_factor"),
            ("silence_factor = nan", "liveness.silence_factor"),
        ] {
            let e = load(&format!("[liveness]\n{bad}")).unwrap_err().to_string();
            assert!(e.contains(&format!("`{name}`")), "{bad}: {e}");
        }
        assert!(load("[liveness]\nping_ms = 3")
            .unwrap_err()
            .to_string()
            .contains("ping_ms"));
    }

    #[test]
    fn allowed_hosts_are_lower_cased_and_validated() {
        let c = load("allowed_hosts = [\"Desk.Example.com\", \"10.0.0.5:3000\"]").unwrap();
        assert_eq!(c.allowed_hosts, vec!["desk.example.com", "10.0.0.5:3000"]);
        let ov = Overrides {
            allowed_hosts: Some("a.example, b.example:8443".into()),
            ..Default::default()
        };
        let c = Config::from_toml("allowed_hosts = [\"x.example\"]", &ov).unwrap();
        assert_eq!(c.allowed_hosts, vec!["a.example", "b.example:8443"]);
        for bad in [
            "http://x.example",
            "x.example/path",
            "a b",
            "x.example:0",
            "x..y",
            "[::1",
        ] {
            let e = load(&format!("allowed_hosts = [{bad:?}]"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("`allowed_hosts`"), "{bad}: {e}");
        }
        assert!(load("").unwrap().allowed_hosts.is_empty());
        assert!(!load("").unwrap().webhook_allow_private);
        assert!(
            load("webhook_allow_private = true")
                .unwrap()
                .webhook_allow_private
        );
    }

    #[test]
    fn http_limits_have_defaults_and_bounds() {
        assert_eq!(load("").unwrap().http, HttpLimits::default());
        let c = load("[http]\nmax_connections_per_ip = 8").unwrap();
        assert_eq!(c.http.max_connections_per_ip, 8);
        assert_eq!(c.http.header_timeout_secs, 10);
        for bad in [
            "header_timeout_secs = 0",
            "max_connections = 0",
            "max_websockets_per_ip = 1000000",
        ] {
            let e = load(&format!("[http]\n{bad}")).unwrap_err().to_string();
            assert!(e.contains("`http."), "{bad}: {e}");
        }
    }

    #[test]
    fn tick_limits_are_configurable() {
        let d = crate::ingest::sanity::TickLimits::default();
        assert_eq!(load("").unwrap().tick_limits, d);
        let c =
            load("[tick_limits]\nmax_price = 5e5\nearliest = \"2017-07-14\"\nmax_future = \"10m\"")
                .unwrap();
        assert_eq!(c.tick_limits.max_price, 5e5);
        assert_eq!(c.tick_limits.earliest_ms, 1_499_990_400_000);
        assert_eq!(c.tick_limits.max_future_ms, 600_000);
        assert_eq!(
            crate::clock::parse_date_ms("2009-01-01"),
            Some(crate::ingest::sanity::DEFAULT_EARLIEST_MS)
        );
        for bad in [
            "min_price = 0",
            "max_price = 1e-12",
            "max_qty = nan",
            "earliest = \"yesterday\"",
            "earliest = \"2009-13-01\"",
            "max_future = \"soon\"",
        ] {
            let e = load(&format!("[tick_limits]\n{bad}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("`tick_limits."), "{bad}: {e}");
        }
    }

    #[test]
    fn one_symbol_is_not_a_pair() {
        let ov = Overrides {
            symbols: Some("BTCUSDT".into()),
            ..Default::default()
        };
        assert!(Config::from_toml("", &ov)
            .unwrap_err()
            .to_string()
            .contains("`symbols`"));
    }
}
