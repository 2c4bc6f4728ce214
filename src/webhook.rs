//! Outbound alert webhooks: which addresses the server may be made to
//! reach, and the one client that posts to them.
//!
//! A webhook URL comes from whoever can create an alert rule, so without a
//! policy it turns the server into a proxy into the user's network (SSRF):
//! `http://169.254.169.254/latest/meta-data` reads cloud credentials,
//! `http://192.168.1.1/...` pokes the router. The policy, by address class
//! ([`classify`]):
//!
//! * always refused: unspecified (`0.0.0.0`, `::`), link-local (which holds
//!   the cloud metadata services, 169.254/16 and fe80::/10), other metadata
//!   addresses (100.100.100.200, fd00:ec2::254), multicast, broadcast and
//!   reserved ranges;
//! * refused unless `webhook_allow_private = true`: loopback (127/8, ::1)
//!   and private networks (10/8, 172.16/12, 192.168/16, 100.64/10 shared
//!   address space, fc00::/7 unique-local). Off by default: a local
//!   receiver is a real use, but the safe default is to reach only the
//!   public internet;
//! * public addresses are allowed.
//!
//! The check runs where it cannot be dodged: at send time the host is
//! resolved by [`GuardedResolver`], which drops every forbidden address
//! before the connector sees it, so the socket can only open to an address
//! that was checked (a DNS answer that rebinds between check and use has
//! nothing to rebind). The peer address of the response is checked again,
//! no proxy is used, redirects are not followed, and the response body is
//! read up to [`MAX_RESPONSE_BYTES`] only. IPv4-mapped IPv6 addresses are
//! judged by the IPv4 address they carry.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// Whole-request deadline of one webhook post.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The most of a receiver's response body that is read.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// What kind of address an IP is, for the policy in the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrClass {
    Public,
    Loopback,
    Private,
    LinkLocal,
    Metadata,
    Multicast,
    Unspecified,
    /// Broadcast, documentation, benchmarking, "this network" and the
    /// other ranges that are not hosts on the internet.
    Reserved,
}

impl AddrClass {
    pub fn as_str(self) -> &'static str {
        match self {
            AddrClass::Public => "public",
            AddrClass::Loopback => "loopback",
            AddrClass::Private => "private",
            AddrClass::LinkLocal => "link-local",
            AddrClass::Metadata => "metadata",
            AddrClass::Multicast => "multicast",
            AddrClass::Unspecified => "unspecified",
            AddrClass::Reserved => "reserved",
        }
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    let o = ip.octets();
    if ip.is_unspecified() {
        AddrClass::Unspecified
    } else if ip == Ipv4Addr::new(100, 100, 100, 200) {
        // Alibaba Cloud's metadata service, outside link-local.
        AddrClass::Metadata
    } else if ip.is_link_local() {
        AddrClass::LinkLocal
    } else if ip.is_loopback() {
        AddrClass::Loopback
    } else if ip.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
        AddrClass::Private
    } else if ip.is_multicast() {
        AddrClass::Multicast
    } else if ip.is_broadcast()
        || ip.is_documentation()
        || o[0] == 0
        || o[0] >= 240
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
    {
        AddrClass::Reserved
    } else {
        AddrClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    if ip.is_unspecified() {
        AddrClass::Unspecified
    } else if ip.is_loopback() {
        AddrClass::Loopback
    } else if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        // AWS's IPv6 metadata endpoint, inside unique-local space.
        AddrClass::Metadata
    } else if (s[0] & 0xffc0) == 0xfe80 {
        AddrClass::LinkLocal
    } else if (s[0] & 0xfe00) == 0xfc00 {
        AddrClass::Private
    } else if ip.is_multicast() {
        AddrClass::Multicast
    } else if s[0] == 0x2001 && s[1] == 0xdb8 || s[0] == 0x0100 && s[1..4] == [0, 0, 0] {
        // Documentation 2001:db8::/32 and discard 100::/64.
        AddrClass::Reserved
    } else if (s[0] & 0xe000) != 0x2000 {
        // Only 2000::/3 is global unicast; the rest is not routed (this
        // also covers IPv4-compatible ::a.b.c.d and NAT64 tricks).
        AddrClass::Reserved
    } else {
        AddrClass::Public
    }
}

/// The class of `ip`.
pub fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Which address classes webhooks may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WebhookPolicy {
    /// Loopback and private networks too (`webhook_allow_private`).
    pub allow_private: bool,
}

impl WebhookPolicy {
    /// `Err(class)` when `ip` may not be reached.
    pub fn permits(&self, ip: IpAddr) -> Result<(), AddrClass> {
        match classify(ip) {
            AddrClass::Public => Ok(()),
            AddrClass::Loopback | AddrClass::Private if self.allow_private => Ok(()),
            c => Err(c),
        }
    }
}

/// Why a webhook was refused or failed; [`WebhookError::reason`] is its
/// /metrics label.
#[derive(Debug, Error, PartialEq)]
pub enum WebhookError {
    #[error("webhook URL {0:?} is not an http:// or https:// URL with a host")]
    BadUrl(String),
    #[error("webhook host {host} is a {} address, which webhooks may not reach{}", class.as_str(), hint(*class))]
    Forbidden { host: String, class: AddrClass },
    #[error("webhook host {0} has no address webhooks may reach")]
    NoAllowedAddress(String),
    #[error("webhook post failed: {0}")]
    Transport(String),
    #[error("webhook post timed out after {} s", TIMEOUT.as_secs())]
    Timeout,
    #[error("webhook receiver answered {0}")]
    Status(u16),
}

fn hint(c: AddrClass) -> &'static str {
    match c {
        AddrClass::Loopback | AddrClass::Private => {
            " (set webhook_allow_private = true to allow local receivers)"
        }
        _ => "",
    }
}

impl WebhookError {
    pub fn reason(&self) -> &'static str {
        match self {
            WebhookError::BadUrl(_) => "bad_url",
            WebhookError::Forbidden { .. } | WebhookError::NoAllowedAddress(_) => "forbidden",
            WebhookError::Transport(_) => "transport",
            WebhookError::Timeout => "timeout",
            WebhookError::Status(_) => "status",
        }
    }
}

/// Parse `url` and refuse what can be refused before any I/O: a scheme
/// other than http(s), a missing host, or an IP-literal host the policy
/// forbids. A DNS name passes here and is checked again at send time, when
/// it is resolved.
pub fn check_url(url: &str, policy: WebhookPolicy) -> Result<reqwest::Url, WebhookError> {
    let bad = || WebhookError::BadUrl(url.chars().take(100).collect());
    let u = reqwest::Url::parse(url).map_err(|_| bad())?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad());
    }
    let ip = match u.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(url::Host::Domain(_)) => return Ok(u),
        None => return Err(bad()),
    };
    policy
        .permits(ip)
        .map_err(|class| WebhookError::Forbidden {
            host: ip.to_string(),
            class,
        })?;
    Ok(u)
}

/// The asynchronous name lookup behind [`GuardedResolver`]; injectable so
/// tests can make a name resolve to any address.
pub type Lookup = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>
        + Send
        + Sync,
>;

/// The system resolver.
pub fn system_lookup() -> Lookup {
    Arc::new(|name: String| {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    })
}

/// A resolver that hands the connector only the addresses the policy
/// permits, and fails when none is left.
pub struct GuardedResolver {
    policy: WebhookPolicy,
    lookup: Lookup,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        let lookup = self.lookup.clone();
        let name = name.as_str().to_string();
        Box::pin(async move {
            let all = lookup(name.clone()).await?;
            let ok: Vec<SocketAddr> = all
                .iter()
                .filter(|ip| policy.permits(**ip).is_ok())
                .map(|ip| SocketAddr::new(*ip, 0))
                .collect();
            if ok.is_empty() {
                tracing::warn!(host = %name, addresses = ?all, "webhook host resolves only to forbidden addresses");
                return Err(Box::new(WebhookError::NoAllowedAddress(name))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Webhook outcomes for /metrics.
#[derive(Debug, Default)]
pub struct WebhookStats {
    pub sent: AtomicU64,
    pub failed_forbidden: AtomicU64,
    pub failed_transport: AtomicU64,
    pub failed_timeout: AtomicU64,
    pub failed_status: AtomicU64,
}

impl WebhookStats {
    fn count(&self, r: &Result<u16, WebhookError>) {
        let c = match r {
            Ok(_) => &self.sent,
            Err(WebhookError::Forbidden { .. } | WebhookError::NoAllowedAddress(_))
            | Err(WebhookError::BadUrl(_)) => &self.failed_forbidden,
            Err(WebhookError::Transport(_)) => &self.failed_transport,
            Err(WebhookError::Timeout) => &self.failed_timeout,
            Err(WebhookError::Status(_)) => &self.failed_status,
        };
        c.fetch_add(1, Relaxed);
    }

    /// (reason label, count) of every failure kind.
    pub fn failures(&self) -> [(&'static str, u64); 4] {
        [
            ("forbidden", self.failed_forbidden.load(Relaxed)),
            ("transport", self.failed_transport.load(Relaxed)),
            ("timeout", self.failed_timeout.load(Relaxed)),
            ("status", self.failed_status.load(Relaxed)),
        ]
    }
}

/// Posts alert events to webhooks under a [`WebhookPolicy`].
#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    policy: WebhookPolicy,
    pub stats: Arc<WebhookStats>,
}

impl WebhookSender {
    /// A sender resolving names with the system resolver.
    pub fn new(policy: WebhookPolicy) -> WebhookSender {
        WebhookSender::with_lookup(policy, system_lookup())
    }

    /// A sender resolving names with `lookup` (tests).
    pub fn with_lookup(policy: WebhookPolicy, lookup: Lookup) -> WebhookSender {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would make the checked address the proxy's.
            .no_proxy()
            // Webhooks fire rarely; holding idle sockets open buys nothing.
            .pool_max_idle_per_host(0)
            .dns_resolver(Arc::new(GuardedResolver { policy, lookup }))
            .build()
            .unwrap_or_default();
        WebhookSender {
            client,
            policy,
            stats: Arc::default(),
        }
    }

    pub fn policy(&self) -> WebhookPolicy {
        self.policy
    }

    /// POST `body` as JSON to `url`; `Ok(status)` for a 2xx answer. Counted
    /// in [`WebhookStats`] either way.
    pub async fn post(&self, url: &str, body: &impl serde::Serialize) -> Result<u16, WebhookError> {
        let r = self.post_inner(url, body).await;
        self.stats.count(&r);
        r
    }

    async fn post_inner(
        &self,
        url: &str,
        body: &impl serde::Serialize,
    ) -> Result<u16, WebhookError> {
        let u = check_url(url, self.policy)?;
        let host = u.host_str().unwrap_or_default().to_string();
        let resp = self.client.post(u).json(body).send().await.map_err(|e| {
            if e.is_timeout() {
                return WebhookError::Timeout;
            }
            // The resolver's refusal arrives wrapped in the connect error.
            let mut src: Option<&dyn std::error::Error> = Some(&e);
            while let Some(s) = src {
                if let Some(w) = s.downcast_ref::<WebhookError>() {
                    return match w {
                        WebhookError::NoAllowedAddress(h) => {
                            WebhookError::NoAllowedAddress(h.clone())
                        }
                        other => WebhookError::Transport(other.to_string()),
                    };
                }
                src = s.source();
            }
            WebhookError::Transport(e.to_string())
        })?;
        // Belt and braces: the address actually connected to.
        if let Some(peer) = resp.remote_addr() {
            if let Err(class) = self.policy.permits(peer.ip()) {
                return Err(WebhookError::Forbidden {
                    host: format!("{host} ({})", peer.ip()),
                    class,
                });
            }
        }
        let status = resp.status().as_u16();
        // Read (and discard) at most MAX_RESPONSE_BYTES: a receiver cannot
        // make the server buffer an endless answer.
        let mut resp = resp;
        let mut read = 0usize;
        while read < MAX_RESPONSE_BYTES {
            match tokio::time::timeout(TIMEOUT, resp.chunk()).await {
                Ok(Ok(Some(c))) => read += c.len(),
                _ => break,
            }
        }
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err(WebhookError::Status(status))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddrClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn addresses_are_classified() {
        use AddrClass::*;
        for (ip, want) in [
            ("8.8.8.8", Public),
            ("2606:4700::1111", Public),
            ("127.0.0.1", Loopback),
            ("127.9.9.9", Loopback),
            ("::1", Loopback),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("172.32.0.1", Public),
            ("192.168.1.1", Private),
            ("100.64.0.1", Private),
            ("fd12:3456::1", Private),
            ("169.254.169.254", LinkLocal),
            ("fe80::1", LinkLocal),
            ("100.100.100.200", Metadata),
            ("fd00:ec2::254", Metadata),
            ("224.0.0.1", Multicast),
            ("ff02::1", Multicast),
            ("0.0.0.0", Unspecified),
            ("::", Unspecified),
            ("255.255.255.255", Reserved),
            ("0.1.2.3", Reserved),
            ("240.0.0.1", Reserved),
            ("192.0.2.1", Reserved),
            ("2001:db8::1", Reserved),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:127.0.0.1", Loopback),
            ("::127.0.0.1", Reserved),
        ] {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn private_addresses_need_the_setting() {
        let strict = WebhookPolicy::default();
        let open = WebhookPolicy {
            allow_private: true,
        };
        for ip in ["127.0.0.1", "10.0.0.1", "192.168.0.10", "::1"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(strict.permits(ip).is_err(), "{ip}");
            assert!(open.permits(ip).is_ok(), "{ip}");
        }
        for ip in ["169.254.169.254", "0.0.0.0", "224.0.0.1", "100.100.100.200"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(open.permits(ip).is_err(), "{ip} is never allowed");
        }
        assert!(strict.permits("1.1.1.1".parse().unwrap()).is_ok());
    }

    #[test]
    fn urls_are_checked_before_any_io() {
        let p = WebhookPolicy::default();
        for bad in [
            "file:///etc/passwd",
            "gopher://x.example/",
            "ftp://x.example/",
            "http://",
            "not a url",
        ] {
            assert_eq!(check_url(bad, p).unwrap_err().reason(), "bad_url", "{bad}");
        }
        for forbidden in [
            "http://169.254.169.254/latest/meta-data",
            "http://[::ffff:a9fe:a9fe]/",
            "http://0.0.0.0:8080/",
            "http://127.0.0.1:9000/hook",
            "https://[::1]/hook",
            "http://2852039166/", // 169.254.169.254 as one number
        ] {
            let e = check_url(forbidden, p).unwrap_err();
            assert!(
                matches!(e, WebhookError::Forbidden { .. }),
                "{forbidden}: {e}"
            );
        }
        assert!(check_url("https://hooks.example.com/x", p).is_ok());
        assert!(check_url(
            "http://127.0.0.1:9000/hook",
            WebhookPolicy {
                allow_private: true
            }
        )
        .is_ok());
    }
}
