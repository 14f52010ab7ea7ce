//! `allowed_outbound_hosts`: which URLs a component may reach (HTTP, MQTT,
//! Redis), which sockets it may connect (`wasi:sockets`), and which
//! components it may call by service chaining. The grammar and the matching
//! are Spin's (`spin-outbound-networking-config`'s `allowed_hosts.rs`):
//!
//! - scheme: `*` or a name of letters;
//! - host: `*`, `*.suffix`, `self` (relative requests), a name or an IP
//!   address, or an IP range in CIDR notation (`10.0.0.0/8`; host bits are
//!   ignored, so `127.0.0.1/24` is `127.0.0.0/24`);
//! - port: `*`, a number, a range `a..b` (end excluded) or nothing: the
//!   scheme's well-known port (an error for a scheme without one).
//!
//! `{{ variable }}` templates are rendered before parsing (`app.rs`).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

use ipnet::IpNet;
use url::Host;

/// The scheme part of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SchemePattern {
    Any,
    Exactly(String),
}

/// The host part of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.suffix`, kept as `.suffix`.
    AnySubdomain(String),
    /// `self` (or `self.alt`): requests to the application itself.
    ToSelf,
    Literal(Host),
    Cidr(IpNet),
}

/// The port part of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    Port(u16),
    Range(Range<u16>),
}

/// One parsed `allowed_outbound_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedHost {
    scheme: SchemePattern,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    entries: Vec<AllowedHost>,
}

/// An entry that is not `scheme://host[:port]` by Spin's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidHost {
    pub entry: String,
    pub reason: String,
}

impl fmt::Display for InvalidHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.entry, self.reason)
    }
}

/// The well-known port of a scheme, for entries and URLs without one:
/// exactly Spin's list.
fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl SchemePattern {
    fn parse(scheme: &str) -> Result<Self, String> {
        if scheme == "*" {
            return Ok(Self::Any);
        }
        if scheme.starts_with('{') {
            return Err("scheme lists are not supported".into());
        }
        if scheme.is_empty() || scheme.chars().any(|c| !c.is_alphabetic()) {
            return Err(format!(
                "invalid scheme {scheme:?}: only alphabetic characters are allowed"
            ));
        }
        Ok(Self::Exactly(scheme.to_owned()))
    }

    fn allows(&self, scheme: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exactly(wanted) => wanted == scheme,
        }
    }
}

impl HostPattern {
    fn parse(host: &str) -> Result<Self, String> {
        let host = host.trim();
        if host == "*" {
            return Ok(Self::Any);
        }
        if host == "self" || host == "self.alt" {
            return Ok(Self::ToSelf);
        }
        if host.starts_with('{') {
            return Err("host lists are not yet supported".into());
        }
        if let Ok(net) = host.parse::<IpNet>() {
            return Ok(Self::Cidr(net.trunc()));
        }
        let host = host.trim_end_matches('/');
        if host.contains('/') {
            return Err(format!("invalid host {host:?}: must not include a path"));
        }
        if let Some(domain) = host.strip_prefix("*.") {
            if domain.contains('*') {
                return Err(format!(
                    "invalid host {host:?}: wildcards are allowed only as prefixes"
                ));
            }
            return Ok(Self::AnySubdomain(format!(
                ".{}",
                domain.to_ascii_lowercase()
            )));
        }
        if host.contains('*') {
            return Err(format!(
                "invalid host {host:?}: wildcards are allowed only as subdomains"
            ));
        }
        Host::parse(host)
            .map(Self::Literal)
            .map_err(|e| format!("invalid host {host:?}: {e}"))
    }

    fn allows(&self, host: &Host) -> bool {
        match (self, host) {
            (Self::Any, _) => true,
            (Self::AnySubdomain(suffix), Host::Domain(domain)) => domain.ends_with(suffix.as_str()),
            (Self::Literal(literal), host) => literal == host,
            (Self::Cidr(net), Host::Ipv4(ip)) => net.contains(&IpAddr::V4(*ip)),
            (Self::Cidr(net), Host::Ipv6(ip)) => net.contains(&IpAddr::V6(*ip)),
            // `*.suffix` matches names only, a range addresses only, and
            // `self` only relative requests.
            (Self::AnySubdomain(_) | Self::Cidr(_) | Self::ToSelf, _) => false,
        }
    }
}

impl PortPattern {
    fn parse(port: &str, scheme: &str) -> Result<Self, String> {
        if port.is_empty() {
            return well_known_port(scheme).map(Self::Port).ok_or_else(|| {
                format!(
                    "no port was provided and the scheme {scheme:?} does not have a known \
                     default port number"
                )
            });
        }
        if port == "*" {
            return Ok(Self::Any);
        }
        if port.starts_with('{') {
            return Err("port lists are not yet supported".into());
        }
        if let Some((start, end)) = port.split_once("..") {
            let number = |text: &str| {
                text.parse::<u16>()
                    .map_err(|_| format!("port range {port:?} contains non-number"))
            };
            return Ok(Self::Range(number(start)?..number(end)?));
        }
        port.parse()
            .map(Self::Port)
            .map_err(|_| format!("port {port:?} is not a number"))
    }

    /// Whether `port` (or, without one, the scheme's well-known port) is
    /// allowed.
    fn allows(&self, port: Option<u16>, scheme: &str) -> bool {
        let Some(port) = port.or_else(|| well_known_port(scheme)) else {
            return matches!(self, Self::Any);
        };
        match self {
            Self::Any => true,
            Self::Port(wanted) => *wanted == port,
            Self::Range(range) => range.contains(&port),
        }
    }
}

impl AllowedHost {
    /// Spin's `AllowedHostConfig::parse`.
    fn parse(entry: &str) -> Result<Self, String> {
        let url = entry.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(match url {
                "*" | ":" | "" | "?" => "not an allowed outbound host format: hosts must be in \
                     the form <scheme>://<host>[:<port>], with '*' wildcards allowed for each \
                     ('*://*:*' allows all outbound networking)"
                    .to_owned(),
                _ => "does not contain a scheme (e.g., 'http://' or '*://')".to_owned(),
            });
        };
        let (host, rest) = rest.rsplit_once(':').unwrap_or((rest, ""));
        let port = match rest.split_once('/') {
            Some((_, path)) if !path.is_empty() => {
                return Err("has a path but is not allowed to".into())
            }
            Some((port, _)) => port,
            None => rest,
        };
        Ok(AllowedHost {
            port: PortPattern::parse(port, scheme)?,
            scheme: SchemePattern::parse(scheme)?,
            host: HostPattern::parse(host)?,
        })
    }

    fn allows(&self, url: &OutboundUrl) -> bool {
        self.scheme.allows(&url.scheme)
            && self.host.allows(&url.host)
            && self.port.allows(url.port, &url.scheme)
    }
}

/// A destination: scheme, host and port (if the URL gave one).
#[derive(Debug, Clone, PartialEq, Eq)]
struct OutboundUrl {
    scheme: String,
    host: Host,
    port: Option<u16>,
}

impl OutboundUrl {
    /// Spin's `OutboundUrl::parse`: the URL as it is, or else with
    /// `{scheme}://` in front (`127.0.0.1:80` with `tcp`).
    fn parse(url: &str, scheme: &str) -> Option<Self> {
        let parsed = match url::Url::parse(url) {
            Ok(parsed) if parsed.has_host() => parsed,
            _ => url::Url::parse(&format!("{scheme}://{url}")).ok()?,
        };
        Some(OutboundUrl {
            scheme: parsed.scheme().to_owned(),
            // Parsed again, as Spin does: the host of a scheme that `url`
            // does not know (`mqtt`, `redis`) is opaque, even an address.
            host: Host::parse(parsed.host_str()?).ok()?,
            port: parsed.port(),
        })
    }
}

/// Whether an `allowed_outbound_hosts` entry names a service-chaining host
/// (`<component>.spin.internal` or `*.spin.internal`): what Spin counts as
/// needing local service chaining, which only its HTTP trigger offers.
pub fn is_chaining_entry(entry: &str) -> bool {
    match AllowedHost::parse(entry).map(|allowed| allowed.host) {
        Ok(HostPattern::Literal(Host::Domain(domain))) => {
            crate::routing::chaining_target(&domain).is_some()
        }
        Ok(HostPattern::AnySubdomain(suffix)) => suffix == ".spin.internal",
        _ => false,
    }
}

impl AllowedHosts {
    pub fn parse(entries: &[String]) -> Result<Self, InvalidHost> {
        if let [only] = entries {
            if only == "insecure:allow-all" {
                return Err(InvalidHost {
                    entry: only.clone(),
                    reason: "'insecure:allow-all' is not allowed - use '*://*:*' instead if you \
                             really want to allow all outbound traffic"
                        .into(),
                });
            }
        }
        let entries = entries
            .iter()
            .map(|entry| {
                AllowedHost::parse(entry).map_err(|reason| InvalidHost {
                    entry: entry.clone(),
                    reason,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(AllowedHosts { entries })
    }

    fn allows(&self, url: &OutboundUrl) -> bool {
        self.entries.iter().any(|entry| entry.allows(url))
    }

    /// Whether an outbound URL (`http://…`, `mqtt://…?client_id=…`,
    /// `redis://…`) is allowed.
    pub fn allows_url(&self, url: &str) -> bool {
        let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
        OutboundUrl::parse(url, scheme).is_some_and(|url| self.allows(&url))
    }

    /// Whether a `wasi:sockets` destination is allowed: the URL
    /// `{scheme}://{ip}:{port}` with scheme `tcp` or `udp`, as Spin checks it.
    pub fn allows_socket(&self, scheme: &str, address: SocketAddr) -> bool {
        let host = match address.ip() {
            IpAddr::V4(ip) => Host::Ipv4(ip),
            IpAddr::V6(ip) => Host::Ipv6(ip),
        };
        self.allows(&OutboundUrl {
            scheme: scheme.to_owned(),
            host,
            port: Some(address.port()),
        })
    }

    /// Whether relative requests (to the application itself) with one of
    /// `schemes` are allowed: `self` or `*` hosts.
    pub fn allows_relative(&self, schemes: &[&str]) -> bool {
        self.entries.iter().any(|entry| {
            schemes.iter().any(|scheme| entry.scheme.allows(scheme))
                && matches!(entry.host, HostPattern::Any | HostPattern::ToSelf)
        })
    }

    /// Whether `caller` may call component `target` by service chaining:
    /// `http://target.spin.internal`, `http://*.spin.internal`, or
    /// `http://self` for its own routes (Spin's rules).
    pub fn allows_chaining(&self, caller: &str, target: &str) -> bool {
        (target == caller && self.allows_relative(&["http"]))
            || self.allows_url(&format!("http://{target}.spin.internal"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn invalid(entry: &str) -> String {
        AllowedHosts::parse(&[entry.to_owned()])
            .unwrap_err()
            .to_string()
    }

    fn socket(address: &str) -> SocketAddr {
        address.parse().unwrap()
    }

    #[test]
    fn exact_wildcard_and_port_rules() {
        let allowed = hosts(&[
            "mqtt://127.0.0.1:1883",
            "https://api.example.com",
            "http://*.spin.internal",
        ]);
        assert!(allowed.allows_url("mqtt://127.0.0.1:1883?client_id=x"));
        assert!(
            allowed.allows_url("mqtt://127.0.0.1?client_id=x"),
            "1883 is mqtt's port"
        );
        assert!(!allowed.allows_url("mqtt://127.0.0.1:1884?client_id=x"));
        assert!(allowed.allows_url("https://api.example.com/v1"));
        assert!(allowed.allows_url("https://API.example.com:443/v1"));
        assert!(!allowed.allows_url("https://api.example.com:8443/v1"));
        assert!(!allowed.allows_url("http://api.example.com/"));
        assert!(allowed.allows_url("http://gateway.spin.internal/x"));
        assert!(!allowed.allows_url("http://example.org/"));
        assert!(hosts(&["*://*:*"]).allows_url("http://anything:9/"));
        assert!(
            hosts(&["*://*:*"]).allows_url("foo://anything/"),
            "any port, even none"
        );
        assert!(!hosts(&["foo://anything:1"]).allows_url("foo://anything/"));
    }

    #[test]
    fn subdomain_wildcards_match_names_only() {
        let allowed = hosts(&["https://*.example.com"]);
        assert!(allowed.allows_url("https://a.example.com/"));
        assert!(allowed.allows_url("https://a.b.example.com/"));
        assert!(!allowed.allows_url("https://example.com/"));
        assert!(!allowed.allows_url("https://badexample.com/"));
    }

    #[test]
    fn entries_that_spin_refuses() {
        assert!(invalid("nonsense").contains("does not contain a scheme"));
        assert!(invalid("*").contains("<scheme>://<host>[:<port>]"));
        assert!(invalid("foo://example.com").contains("does not have a known default port"));
        assert!(invalid("mqtts://example.com").contains("does not have a known default port"));
        assert!(invalid("http://example.com:80/path").contains("has a path"));
        assert!(invalid("http://example.com:x").contains("is not a number"));
        assert!(invalid("tcp://example.com:1..x").contains("non-number"));
        assert!(invalid("http://a.*.com").contains("only as subdomains"));
        assert!(invalid("http://*.a.*.com").contains("only as prefixes"));
        assert!(invalid("h2c://example.com:80").contains("alphabetic"));
        assert!(invalid("insecure:allow-all").contains("'*://*:*'"));
        assert!(AllowedHosts::parse(&["http://example.com:80/".into()]).is_ok());
        assert!(AllowedHosts::parse(&["http://example.com/".into()]).is_ok());
    }

    #[test]
    fn sockets_by_host_port_port_range_and_ip_range() {
        let allowed = hosts(&["tcp://127.0.0.1:5000", "*://10.0.0.0/8:6000..6002"]);
        assert!(allowed.allows_socket("tcp", socket("127.0.0.1:5000")));
        assert!(!allowed.allows_socket("udp", socket("127.0.0.1:5000")));
        assert!(!allowed.allows_socket("tcp", socket("127.0.0.1:5001")));
        assert!(!allowed.allows_socket("tcp", socket("127.0.0.2:5000")));
        assert!(allowed.allows_socket("tcp", socket("10.1.2.3:6000")));
        assert!(allowed.allows_socket("udp", socket("10.255.255.255:6001")));
        assert!(
            !allowed.allows_socket("tcp", socket("10.1.2.3:6002")),
            "a range's end is excluded"
        );
        assert!(!allowed.allows_socket("tcp", socket("11.0.0.1:6000")));
        assert!(!allowed.allows_socket("tcp", socket("[::1]:5000")));
        // Host bits of a range are ignored, as Spin truncates them.
        let truncated = hosts(&["*://127.0.0.1/24:7"]);
        assert!(truncated.allows_socket("tcp", socket("127.0.0.200:7")));
        assert!(!truncated.allows_socket("tcp", socket("127.0.1.1:7")));
        let v6 = hosts(&["tcp://[::1]:7", "tcp://*:9"]);
        assert!(v6.allows_socket("tcp", socket("[::1]:7")));
        assert!(v6.allows_socket("tcp", socket("192.0.2.1:9")));
        assert!(!v6.allows_socket("tcp", socket("[::2]:7")));
        // A name does not match an address, nor a range a name.
        assert!(!hosts(&["tcp://localhost:7"]).allows_socket("tcp", socket("127.0.0.1:7")));
        assert!(!hosts(&["http://127.0.0.0/8"]).allows_url("http://localhost/"));
        assert!(hosts(&["http://127.0.0.0/8"]).allows_url("http://127.0.0.1/"));
        // No well-known port for tcp: only `*` allows a port-less URL.
        assert!(!hosts(&["tcp://127.0.0.1:7"]).allows_url("tcp://127.0.0.1"));
    }

    #[test]
    fn chaining_entries_are_those_spin_counts() {
        assert!(is_chaining_entry("http://*.spin.internal"));
        assert!(is_chaining_entry("http://store.spin.internal"));
        assert!(is_chaining_entry("https://store.spin.internal:8080"));
        assert!(!is_chaining_entry("http://*"));
        assert!(!is_chaining_entry("http://a.b.spin.internal"));
        assert!(!is_chaining_entry("mqtt://{{ mqtt_url }}"));
        assert!(!is_chaining_entry("{{ mqtt_url }}"));
        assert!(!is_chaining_entry("http://self"));
    }

    #[test]
    fn chaining_needs_the_target_or_a_wildcard() {
        assert!(hosts(&["http://store.spin.internal"]).allows_chaining("api", "store"));
        assert!(!hosts(&["http://store.spin.internal"]).allows_chaining("api", "other"));
        assert!(hosts(&["http://*.spin.internal"]).allows_chaining("api", "other"));
        assert!(hosts(&["http://self"]).allows_chaining("api", "api"));
        assert!(!hosts(&["http://self"]).allows_chaining("api", "store"));
        assert!(!hosts(&[]).allows_chaining("api", "store"));
    }
}
