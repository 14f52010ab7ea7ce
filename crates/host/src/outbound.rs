//! `allowed_outbound_hosts`: which URLs a component may reach (HTTP, MQTT)
//! and which components it may call by service chaining.

use std::fmt;

/// One rendered `allowed_outbound_hosts` entry: `scheme://host[:port]`, where
/// scheme and host may be `*`, host may be `*.suffix` and port may be `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPattern {
    scheme: String,
    host: String,
    port: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    patterns: Vec<HostPattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidHost(pub String);

impl fmt::Display for InvalidHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not scheme://host[:port]", self.0)
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "mqtt" => Some(1883),
        "mqtts" => Some(8883),
        _ => None,
    }
}

/// Splits `scheme://host[:port][/…][?…]` into its parts.
fn split_url(url: &str) -> Option<(&str, &str, Option<&str>)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let authority = authority.rsplit('@').next()?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            (host, Some(port))
        }
        _ => (authority, None),
    };
    (!scheme.is_empty() && !host.is_empty()).then_some((scheme, host, port))
}

/// Whether an `allowed_outbound_hosts` entry names a service-chaining host
/// (`<component>.spin.internal` or `*.spin.internal`): what Spin counts as
/// needing local service chaining, which only its HTTP trigger offers.
pub fn is_chaining_entry(entry: &str) -> bool {
    split_url(entry).is_some_and(|(_, host, _)| crate::routing::chaining_target(host).is_some())
}

impl AllowedHosts {
    pub fn parse(entries: &[String]) -> Result<Self, InvalidHost> {
        let patterns = entries
            .iter()
            .map(|entry| {
                let (scheme, host, port) =
                    split_url(entry).ok_or_else(|| InvalidHost(entry.clone()))?;
                Ok(HostPattern {
                    scheme: scheme.to_owned(),
                    host: host.to_owned(),
                    port: port.map(str::to_owned),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(AllowedHosts { patterns })
    }

    /// Whether an outbound URL (`http://…`, `mqtt://…?client_id=…`) is allowed.
    pub fn allows_url(&self, url: &str) -> bool {
        let Some((scheme, host, port)) = split_url(url) else {
            return false;
        };
        let port: Option<u16> = match port {
            Some(p) => p.parse().ok(),
            None => default_port(scheme),
        };
        self.patterns.iter().any(|p| {
            let scheme_ok = p.scheme == "*" || p.scheme == scheme;
            let host_ok = p.host == "*"
                || p.host.eq_ignore_ascii_case(host)
                || p.host.strip_prefix("*.").is_some_and(|suffix| {
                    host.len() > suffix.len() && host.ends_with(&format!(".{suffix}"))
                });
            let port_ok = match p.port.as_deref() {
                Some("*") => true,
                Some(wanted) => wanted.parse::<u16>().ok() == port,
                None => default_port(scheme).is_some() && default_port(scheme) == port,
            };
            scheme_ok && host_ok && port_ok
        })
    }

    /// Whether `caller` may call component `target` by service chaining:
    /// `http://target.spin.internal`, `http://*.spin.internal`, or
    /// `http://self` for its own routes (Spin's rules).
    pub fn allows_chaining(&self, caller: &str, target: &str) -> bool {
        (target == caller && self.allows_url("http://self"))
            || self.allows_url(&format!("http://{target}.spin.internal"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn exact_wildcard_and_port_rules() {
        let allowed = hosts(&[
            "mqtt://127.0.0.1:1883",
            "https://api.example.com",
            "http://*.spin.internal",
        ]);
        assert!(allowed.allows_url("mqtt://127.0.0.1:1883?client_id=x"));
        assert!(!allowed.allows_url("mqtt://127.0.0.1:1884?client_id=x"));
        assert!(allowed.allows_url("https://api.example.com/v1"));
        assert!(!allowed.allows_url("https://api.example.com:8443/v1"));
        assert!(!allowed.allows_url("http://api.example.com/"));
        assert!(allowed.allows_url("http://gateway.spin.internal/x"));
        assert!(!allowed.allows_url("http://example.org/"));
        assert!(hosts(&["*://*:*"]).allows_url("http://anything:9/"));
        assert!(AllowedHosts::parse(&["nonsense".into()]).is_err());
    }

    #[test]
    fn chaining_entries_are_those_spin_counts() {
        assert!(is_chaining_entry("http://*.spin.internal"));
        assert!(is_chaining_entry("http://store.spin.internal"));
        assert!(is_chaining_entry("https://store.spin.internal:8080"));
        assert!(!is_chaining_entry("http://*"));
        assert!(!is_chaining_entry("http://a.b.spin.internal"));
        assert!(!is_chaining_entry("mqtt://{{ mqtt_url }}"));
        assert!(!is_chaining_entry("http://self"));
    }

    #[test]
    fn chaining_needs_the_target_or_a_wildcard() {
        assert!(hosts(&["http://store.spin.internal"]).allows_chaining("api", "store"));
        assert!(!hosts(&["http://store.spin.internal"]).allows_chaining("api", "other"));
        assert!(hosts(&["http://*.spin.internal"]).allows_chaining("api", "other"));
        assert!(hosts(&["http://self"]).allows_chaining("api", "api"));
        assert!(!hosts(&[]).allows_chaining("api", "store"));
    }
}
