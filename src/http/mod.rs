//! HTTP plumbing beneath the API and the server state: the accept loop
//! with its timeouts and connection caps, and the request figures the
//! `/metrics` page reads. It knows no handler and no server state.

pub mod accept;
pub mod metrics;

/// `host[:port]` as in a `Host` header: (lower-cased name without IPv6
/// brackets or a trailing dot, port). `None` when it is not of that form.
pub fn split_host_port(h: &str) -> Option<(String, Option<u16>)> {
    let (name, port) = if let Some(rest) = h.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        v6.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (v6, port)
    } else {
        match h.rsplit_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (h, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
        Some(_) => return None,
    };
    if name.is_empty()
        || name.contains(['/', '@', '[', ']', ' '])
        || (port.is_some() && name.contains(':') && !h.starts_with('['))
    {
        return None;
    }
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    Some((name, port))
}
