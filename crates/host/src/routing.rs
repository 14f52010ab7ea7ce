//! Spin's HTTP routing (`crates/routes`) and the `spin-*` request headers
//! (`crates/trigger-http/src/headers.rs`).
//!
//! Route syntax: `/path/...` or `/path/*` is a trailing wildcard, a `:name`
//! segment matches any one segment, everything else is literal. Among the
//! routes matching a path, the most specific wins, segment by segment
//! (literal > `:name` > wildcard): so exact routes beat wildcards, and of
//! two wildcards the longer matching prefix wins. Private routes are not
//! routable; their components are reached by service chaining
//! (`http://<component-id>.spin.internal/...`, see [`Router::chain`]).
//!
//! Everything here is pure (strings in, strings out), independent of the HTTP
//! server.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;

use crate::manifest::{HttpRoute, Manifest};

/// Paths under this prefix are answered by the host itself
/// (`/.well-known/spin/health`, `/.well-known/spin/info`); routes there are
/// rejected.
pub const WELL_KNOWN_PREFIX: &str = "/.well-known/spin/";

/// Host suffix of service-chaining requests.
pub const CHAINING_SUFFIX: &str = ".spin.internal";

/// Spin (3.x, 4.x) always reports `/` as the base path, even with an
/// `[application.trigger.http] base`, so we do too.
const BASE_PATH: &str = "/";

/// A route that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("invalid route {route:?}: {reason}")]
    Invalid { route: String, reason: String },
    #[error("route {route:?} of component {component:?} is under {WELL_KNOWN_PREFIX}, which Spin reserves")]
    Reserved { route: String, component: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

/// A parsed route, combined with the application base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    /// As written in the manifest.
    raw: String,
    /// Base + route, normalised (leading `/`, one trailing `/` dropped); `""`
    /// is the root.
    based: String,
    segments: Vec<Segment>,
    wildcard: bool,
}

impl RoutePattern {
    /// Parses route `raw` under application base `base` (Spin's
    /// `sanitize_with_base`: the route gets a leading `/`, and one trailing
    /// `/` is dropped from both).
    pub fn parse(base: &str, raw: &str) -> Result<Self, RouteError> {
        let fail = |reason: &str| RouteError::Invalid {
            route: raw.to_string(),
            reason: reason.to_string(),
        };
        let absolute = if raw.starts_with('/') {
            raw.to_string()
        } else {
            format!("/{raw}")
        };
        let strip_one = |s: &str| s.strip_suffix('/').unwrap_or(s).to_string();
        let based = format!("{}{}", strip_one(base), strip_one(&absolute));

        let (prefix, wildcard) = match based
            .strip_suffix("/...")
            .or_else(|| based.strip_suffix("/*"))
        {
            Some(prefix) => (prefix, true),
            None => (based.as_str(), false),
        };
        let mut segments = Vec::new();
        if !prefix.is_empty() {
            let Some(rest) = prefix.strip_prefix('/') else {
                return Err(fail("the base must start with '/'"));
            };
            for segment in rest.split('/') {
                if segment == "..." || segment == "*" {
                    return Err(fail("a wildcard ('...' or '*') may only end the route"));
                }
                if segment.is_empty() {
                    return Err(fail("empty path segment"));
                }
                match segment.strip_prefix(':') {
                    Some(name) => {
                        if name.is_empty()
                            || !name
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        {
                            return Err(fail(
                                "a ':name' segment needs a name of ASCII letters, digits, '_' or '-'",
                            ));
                        }
                        segments.push(Segment::Param(name.to_string()));
                    }
                    None => segments.push(Segment::Literal(segment.to_string())),
                }
            }
        }
        Ok(Self {
            raw: raw.to_string(),
            based,
            segments,
            wildcard,
        })
    }

    /// The route as written in the manifest.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The route combined with the base (`/` for the root).
    pub fn based(&self) -> &str {
        if self.based.is_empty() {
            "/"
        } else {
            &self.based
        }
    }

    /// Whether the route ends in a trailing wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// Whether the route lies under [`WELL_KNOWN_PREFIX`].
    pub fn is_reserved(&self) -> bool {
        self.based.starts_with(WELL_KNOWN_PREFIX)
    }

    /// Same routing behaviour: `/a/*` and `/a/...` are one route.
    fn dedup_key(&self) -> String {
        let mut key = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(s) => key.push_str(&format!("/{s}")),
                Segment::Param(s) => key.push_str(&format!("/:{s}")),
            }
        }
        if self.wildcard {
            key.push_str("/...");
        }
        key
    }

    /// Matches the segments of a path (without its trailing slash); returns
    /// the named captures. A wildcard route leaves the segments after its
    /// own for path-info.
    fn matches(&self, path: &[&str]) -> Option<Vec<(String, String)>> {
        let fits = if self.wildcard {
            path.len() >= self.segments.len()
        } else {
            path.len() == self.segments.len()
        };
        if !fits {
            return None;
        }
        let mut captures = Vec::new();
        for (segment, actual) in self.segments.iter().zip(path) {
            match segment {
                Segment::Literal(literal) if literal == actual => {}
                Segment::Param(name) if !actual.is_empty() => {
                    captures.push((name.clone(), actual.to_string()));
                }
                _ => return None,
            }
        }
        Some(captures)
    }

    /// Specificity, compared lexicographically: per segment literal > param;
    /// then the end of an exact route > more segments > a wildcard.
    fn rank(&self) -> Vec<u8> {
        let mut rank: Vec<u8> = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Literal(_) => 2,
                Segment::Param(_) => 1,
            })
            .collect();
        rank.push(if self.wildcard { 0 } else { 3 });
        rank
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.based())
    }
}

/// A route replaced by a later identical one (Spin warns about these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateRoute {
    pub route: String,
    pub replaced_component: String,
    pub effective_component: String,
}

/// The result of routing a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// The component that handles the request.
    pub component_id: String,
    /// The route with the base, as matched (`spin-matched-route`).
    pub based_route: String,
    /// The route as written in the manifest (`spin-raw-component-route`).
    pub raw_route: String,
    /// The trailing-wildcard part of the path (`spin-path-info`); empty for
    /// exact routes.
    pub path_info: String,
    /// `:name` captures, in route order.
    pub captures: Vec<(String, String)>,
}

impl RouteMatch {
    /// The raw route without its trailing wildcard (`spin-component-route`).
    pub fn component_route(&self) -> &str {
        self.raw_route
            .strip_suffix("/...")
            .unwrap_or(&self.raw_route)
    }
}

/// Routes request paths to components.
#[derive(Debug, Clone)]
pub struct Router {
    /// Public routes, in manifest order (ties go to the earlier one).
    routes: Vec<(RoutePattern, String)>,
    /// Every component with an HTTP trigger, private or not: the targets
    /// service chaining may reach.
    http_components: BTreeSet<String>,
    duplicates: Vec<DuplicateRoute>,
}

impl Router {
    /// Builds the router for `(component id, route)` pairs under `base`.
    /// A duplicate route replaces the earlier one (see [`Router::duplicates`]).
    pub fn new(
        base: &str,
        routes: impl IntoIterator<Item = (String, HttpRoute)>,
    ) -> Result<Self, RouteError> {
        let mut public: Vec<(RoutePattern, String)> = Vec::new();
        let mut http_components = BTreeSet::new();
        let mut duplicates = Vec::new();
        for (component, route) in routes {
            http_components.insert(component.clone());
            let HttpRoute::Path(raw) = route else {
                continue;
            };
            let pattern = RoutePattern::parse(base, &raw)?;
            if pattern.is_reserved() {
                return Err(RouteError::Reserved {
                    route: raw,
                    component,
                });
            }
            let key = pattern.dedup_key();
            if let Some(slot) = public.iter_mut().find(|(p, _)| p.dedup_key() == key) {
                duplicates.push(DuplicateRoute {
                    route: pattern.based().to_string(),
                    replaced_component: slot.1.clone(),
                    effective_component: component.clone(),
                });
                *slot = (pattern, component);
            } else {
                public.push((pattern, component));
            }
        }
        Ok(Self {
            routes: public,
            http_components,
            duplicates,
        })
    }

    /// The router of `manifest`'s `[[trigger.http]]` entries.
    pub fn from_manifest(manifest: &Manifest) -> Result<Self, RouteError> {
        Self::new(
            manifest.http_base(),
            manifest
                .triggers
                .http
                .iter()
                .map(|t| (t.component.clone(), t.route.clone())),
        )
    }

    /// Routes replaced by later duplicates, for warnings.
    pub fn duplicates(&self) -> &[DuplicateRoute] {
        &self.duplicates
    }

    /// The public routes and their components, in manifest order.
    pub fn routes(&self) -> impl Iterator<Item = (&RoutePattern, &str)> {
        self.routes.iter().map(|(p, c)| (p, c.as_str()))
    }

    /// Whether `component_id` has an HTTP trigger (public or private), i.e.
    /// may be the target of service chaining.
    pub fn has_component(&self, component_id: &str) -> bool {
        self.http_components.contains(component_id)
    }

    /// Routes an incoming request path (a query string, if any, is ignored).
    /// `None` if no public route matches, and for reserved
    /// `/.well-known/spin/` paths, which the host answers itself.
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        if is_reserved_path(path) {
            return None;
        }
        // Trailing slashes are ignored for matching but kept in path-info.
        let trailing_slash = path.ends_with('/');
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        let segments: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };

        // The most specific match; on a tie the earlier route wins.
        let (pattern, component) = self
            .routes
            .iter()
            .enumerate()
            .filter(|(_, (pattern, _))| pattern.matches(&segments).is_some())
            .max_by(|(i, (a, _)), (j, (b, _))| a.rank().cmp(&b.rank()).then(j.cmp(i)))
            .map(|(_, (pattern, component))| (pattern, component))?;
        let captures = pattern.matches(&segments)?;
        let rest = &segments[pattern.segments.len()..];
        let path_info = if !pattern.wildcard {
            String::new()
        } else {
            // Spin's compatibility rules for the captured tail.
            match (rest.is_empty(), trailing_slash) {
                (true, false) => String::new(),
                (true, true) => "/".into(),
                (false, false) => format!("/{}", rest.join("/")),
                (false, true) => format!("/{}/", rest.join("/")),
            }
        };
        Some(RouteMatch {
            component_id: component.to_string(),
            based_route: pattern.based().to_string(),
            raw_route: pattern.raw.clone(),
            path_info,
            captures,
        })
    }

    /// The match for a service-chaining request to `component_id`: as if the
    /// component had route `/...`, so path-info is the whole `path`. `None`
    /// if the component has no HTTP trigger.
    pub fn chain(&self, component_id: &str, path: &str) -> Option<RouteMatch> {
        if !self.has_component(component_id) {
            return None;
        }
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        Some(RouteMatch {
            component_id: component_id.to_string(),
            based_route: "/...".into(),
            raw_route: "/...".into(),
            path_info: path.to_string(),
            captures: Vec::new(),
        })
    }
}

/// Whether `path` is one the host answers itself.
pub fn is_reserved_path(path: &str) -> bool {
    path.starts_with(WELL_KNOWN_PREFIX)
}

/// The component a service-chaining host (`<id>.spin.internal`, any port)
/// names, if it is one.
pub fn chaining_target(host: &str) -> Option<&str> {
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    host.strip_suffix(CHAINING_SUFFIX)
        .filter(|id| !id.is_empty() && !id.contains('.'))
}

/// The request facts the `spin-*` headers are computed from.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// The request URI's scheme, if the URI is absolute (`http` otherwise).
    pub scheme: Option<&'a str>,
    /// The `Host` header (`localhost` if absent).
    pub host: Option<&'a str>,
    /// The request URI's path and query, e.g. `/foo/42/bar?x=1`.
    pub path_and_query: &'a str,
    pub client_addr: SocketAddr,
}

/// The headers Spin adds to every request it hands a component, lower-case,
/// in Spin's order.
pub fn spin_headers(request: &RequestInfo<'_>, route: &RouteMatch) -> Vec<(String, String)> {
    let full_url = format!(
        "{}://{}{}",
        request.scheme.unwrap_or("http"),
        request.host.unwrap_or("localhost"),
        request.path_and_query
    );
    let mut headers = vec![
        ("spin-path-info".to_string(), route.path_info.clone()),
        ("spin-full-url".to_string(), full_url),
        ("spin-matched-route".to_string(), route.based_route.clone()),
        ("spin-base-path".to_string(), BASE_PATH.to_string()),
        (
            "spin-raw-component-route".to_string(),
            route.raw_route.clone(),
        ),
        (
            "spin-component-route".to_string(),
            route.component_route().to_string(),
        ),
        (
            "spin-client-addr".to_string(),
            request.client_addr.to_string(),
        ),
    ];
    for (name, value) in &route.captures {
        // Spin builds `SPIN_PATH_MATCH_<NAME>` and then lower-cases it and
        // turns `_` into `-`.
        let name = name.to_ascii_lowercase().replace('_', "-");
        headers.push((format!("spin-path-match-{name}"), value.clone()));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        router_with_base("/", routes)
    }

    fn router_with_base(base: &str, routes: &[(&str, &str)]) -> Router {
        Router::new(
            base,
            routes.iter().map(|(component, route)| {
                let route = if *route == "private" {
                    HttpRoute::Private
                } else {
                    HttpRoute::Path(route.to_string())
                };
                (component.to_string(), route)
            }),
        )
        .unwrap()
    }

    fn component(router: &Router, path: &str) -> Option<String> {
        router.route(path).map(|m| m.component_id)
    }

    #[test]
    fn exact_routes() {
        let r = router(&[("foo", "/foo"), ("foobar", "/foo/bar"), ("root", "/")]);
        assert_eq!(component(&r, "/foo").as_deref(), Some("foo"));
        assert_eq!(component(&r, "/foo/").as_deref(), Some("foo"));
        assert_eq!(component(&r, "/foo/bar").as_deref(), Some("foobar"));
        assert_eq!(component(&r, "/").as_deref(), Some("root"));
        assert_eq!(component(&r, "/foo/bar/baz"), None);
        assert_eq!(component(&r, "/fo"), None);
        assert_eq!(r.route("/foo").unwrap().path_info, "");
    }

    #[test]
    fn exact_beats_wildcard() {
        let r = router(&[("wild", "/..."), ("one", "/one"), ("one-wild", "/one/...")]);
        assert_eq!(component(&r, "/one").as_deref(), Some("one"));
        assert_eq!(component(&r, "/one/x").as_deref(), Some("one-wild"));
        assert_eq!(component(&r, "/two").as_deref(), Some("wild"));
        assert_eq!(component(&r, "/").as_deref(), Some("wild"));
    }

    #[test]
    fn longest_wildcard_prefix_wins_regardless_of_order() {
        let forwards = [
            ("one", "/one/..."),
            ("one-two", "/one/two/..."),
            ("one-two-three", "/one/two/three/*"),
        ];
        let mut backwards = forwards;
        backwards.reverse();
        for routes in [forwards, backwards] {
            let r = router(&routes);
            assert_eq!(
                component(&r, "/one/two/three/four").as_deref(),
                Some("one-two-three")
            );
            assert_eq!(
                component(&r, "/one/two/three").as_deref(),
                Some("one-two-three")
            );
            assert_eq!(component(&r, "/one/two/x").as_deref(), Some("one-two"));
            assert_eq!(component(&r, "/one").as_deref(), Some("one"));
            assert_eq!(component(&r, "/onex"), None);
        }
    }

    #[test]
    fn literal_segments_beat_named_segments() {
        let r = router(&[
            ("by-id", "/users/:id"),
            ("me", "/users/me"),
            ("any", "/users/..."),
        ]);
        assert_eq!(component(&r, "/users/me").as_deref(), Some("me"));
        let m = r.route("/users/42").unwrap();
        assert_eq!(m.component_id, "by-id");
        assert_eq!(m.captures, [("id".to_string(), "42".to_string())]);
        assert_eq!(component(&r, "/users/42/x").as_deref(), Some("any"));
        assert_eq!(component(&r, "/users").as_deref(), Some("any"));
    }

    #[test]
    fn named_segments_are_captured() {
        let r = router(&[("c", "/1/:two/3")]);
        assert_eq!(
            r.route("/1/2/3").unwrap().captures,
            [("two".into(), "2".into())]
        );
        assert_eq!(component(&r, "/1/2/4"), None);
        assert_eq!(component(&r, "/1//3"), None);

        let r = router(&[("c", "/1/:two/...")]);
        let m = r.route("/1/2/3").unwrap();
        assert_eq!(m.captures, [("two".into(), "2".into())]);
        assert_eq!(m.path_info, "/3");
    }

    #[test]
    fn trailing_wildcard_path_info_follows_spin() {
        let r = router(&[("c", "/test/...")]);
        assert_eq!(r.route("/test").unwrap().path_info, "");
        assert_eq!(r.route("/test/").unwrap().path_info, "/");
        assert_eq!(r.route("/test/hello").unwrap().path_info, "/hello");
        assert_eq!(r.route("/test/hello/").unwrap().path_info, "/hello/");
        assert_eq!(r.route("/test/a/b?x=1").unwrap().path_info, "/a/b");

        let r = router(&[("c", "/...")]);
        assert_eq!(r.route("/1/2/3").unwrap().path_info, "/1/2/3");
        assert_eq!(r.route("/").unwrap().path_info, "/");
    }

    #[test]
    fn private_routes_are_not_routable_but_chainable() {
        let r = router(&[
            ("gateway", "/..."),
            ("create-job", "private"),
            ("items", "/items"),
        ]);
        assert_eq!(r.routes().count(), 2);
        assert!(r.routes().all(|(_, c)| c != "create-job"));
        assert_eq!(component(&r, "/create-job").as_deref(), Some("gateway"));

        let chained = r.chain("create-job", "/api/v1/jobs/j1?force=true").unwrap();
        assert_eq!(chained.component_id, "create-job");
        assert_eq!(chained.path_info, "/api/v1/jobs/j1");
        assert_eq!(chained.based_route, "/...");
        assert_eq!(chained.component_route(), "");
        assert!(r.chain("items", "/").is_some());
        assert!(r.chain("unknown", "/").is_none());
        assert!(r.has_component("create-job"));
    }

    #[test]
    fn duplicate_routes_last_one_wins() {
        let r = router(&[
            ("root", "/"),
            ("first", "/foo"),
            ("second", "/foo/"),
            ("wild-1", "/w/*"),
            ("wild-2", "/w/..."),
        ]);
        assert_eq!(component(&r, "/foo").as_deref(), Some("second"));
        assert_eq!(component(&r, "/w/x").as_deref(), Some("wild-2"));
        assert_eq!(r.routes().count(), 3);
        assert_eq!(
            r.duplicates(),
            [
                DuplicateRoute {
                    route: "/foo".into(),
                    replaced_component: "first".into(),
                    effective_component: "second".into(),
                },
                DuplicateRoute {
                    route: "/w/...".into(),
                    replaced_component: "wild-1".into(),
                    effective_component: "wild-2".into(),
                },
            ]
        );
        // Order of reachable routes is preserved.
        let order: Vec<&str> = r.routes().map(|(_, c)| c).collect();
        assert_eq!(order, ["root", "second", "wild-2"]);
    }

    #[test]
    fn equally_specific_routes_prefer_the_first() {
        let r = router(&[("a", "/x/:a"), ("b", "/x/:b")]);
        assert_eq!(component(&r, "/x/1").as_deref(), Some("a"));
    }

    #[test]
    fn base_is_applied() {
        let r = router_with_base("/base/", &[("foo", "/foo"), ("wild", "bar/...")]);
        assert_eq!(component(&r, "/base/foo").as_deref(), Some("foo"));
        assert_eq!(component(&r, "/foo"), None);
        let m = r.route("/base/bar/x").unwrap();
        assert_eq!(m.based_route, "/base/bar/...");
        assert_eq!(m.raw_route, "bar/...");
        assert_eq!(m.path_info, "/x");
    }

    #[test]
    fn reserved_routes_and_paths() {
        for route in ["/.well-known/spin/...", "/.well-known/spin/fie"] {
            let err = Router::new("/", [("c".to_string(), HttpRoute::Path(route.into()))]);
            assert!(matches!(err, Err(RouteError::Reserved { .. })), "{route}");
        }
        for route in ["/.well-known/spindle/...", "/.well-known/spin"] {
            assert!(
                !RoutePattern::parse("/", route).unwrap().is_reserved(),
                "{route}"
            );
        }
        let r = router(&[("all", "/...")]);
        assert_eq!(component(&r, "/.well-known/spin/health"), None);
        assert!(is_reserved_path("/.well-known/spin/info"));
        assert_eq!(component(&r, "/.well-known/other").as_deref(), Some("all"));
    }

    #[test]
    fn invalid_routes_are_rejected() {
        for route in ["/a/.../b", "/a/*/b", "/a//b", "/a/:", "/a/:b c"] {
            assert!(
                matches!(
                    RoutePattern::parse("/", route),
                    Err(RouteError::Invalid { .. })
                ),
                "{route}"
            );
        }
        let p = RoutePattern::parse("/", "/").unwrap();
        assert_eq!(p.based(), "/");
        assert!(!p.is_wildcard());
        assert_eq!(RoutePattern::parse("/", "foo/*").unwrap().based(), "/foo/*");
    }

    #[test]
    fn spin_headers_match_the_reference_table() {
        let r = router(&[("users", "/foo/:userid/...")]);
        let m = r.route("/foo/42/bar").unwrap();
        let request = RequestInfo {
            scheme: None,
            host: Some("127.0.0.1:3000"),
            path_and_query: "/foo/42/bar?x=1",
            client_addr: "127.0.0.1:53211".parse().unwrap(),
        };
        let headers = spin_headers(&request, &m);
        let expected = [
            ("spin-path-info", "/bar"),
            ("spin-full-url", "http://127.0.0.1:3000/foo/42/bar?x=1"),
            ("spin-matched-route", "/foo/:userid/..."),
            ("spin-base-path", "/"),
            ("spin-raw-component-route", "/foo/:userid/..."),
            ("spin-component-route", "/foo/:userid"),
            ("spin-client-addr", "127.0.0.1:53211"),
            ("spin-path-match-userid", "42"),
        ];
        let got: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn spin_headers_defaults_and_capture_names() {
        let r = router_with_base("/app", &[("c", "/items/:item_id")]);
        let m = r.route("/app/items/7").unwrap();
        let request = RequestInfo {
            scheme: Some("https"),
            host: None,
            path_and_query: "/app/items/7",
            client_addr: "[::1]:9".parse().unwrap(),
        };
        let headers = spin_headers(&request, &m);
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("spin-full-url"), Some("https://localhost/app/items/7"));
        assert_eq!(get("spin-path-info"), Some(""));
        assert_eq!(get("spin-matched-route"), Some("/app/items/:item_id"));
        assert_eq!(get("spin-raw-component-route"), Some("/items/:item_id"));
        assert_eq!(get("spin-component-route"), Some("/items/:item_id"));
        assert_eq!(get("spin-base-path"), Some("/"));
        assert_eq!(get("spin-client-addr"), Some("[::1]:9"));
        assert_eq!(get("spin-path-match-item-id"), Some("7"));
    }

    #[test]
    fn chaining_hosts() {
        assert_eq!(
            chaining_target("create-job.spin.internal"),
            Some("create-job")
        );
        assert_eq!(
            chaining_target("create-job.spin.internal:80"),
            Some("create-job")
        );
        assert_eq!(chaining_target("spin.internal"), None);
        assert_eq!(chaining_target(".spin.internal"), None);
        assert_eq!(chaining_target("a.b.spin.internal"), None);
        assert_eq!(chaining_target("example.com"), None);
    }

    #[test]
    fn router_from_manifest() {
        let m = Manifest::parse(
            r#"
spin_manifest_version = 2
[application]
name = "t"
[[trigger.http]]
route = "/api/..."
component = "gateway"
[[trigger.http]]
route = { private = true }
component = "create-job"
[component.gateway]
source = "g.wasm"
[component.create-job]
source = "c.wasm"
"#,
            std::path::Path::new("."),
        )
        .unwrap();
        let r = Router::from_manifest(&m).unwrap();
        assert_eq!(component(&r, "/api/v1/jobs").as_deref(), Some("gateway"));
        assert!(r.chain("create-job", "/").is_some());
    }
}
