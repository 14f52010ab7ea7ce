//! Method + path routing for the gateways (Spin routes on path only).

/// Why no route matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMiss {
    NotFound,
    /// The path is known; these methods serve it.
    MethodNotAllowed(Vec<&'static str>),
}

/// Whether `pattern` (`{name}` matches any one segment) matches `segments`.
pub fn path_matches(pattern: &str, segments: &[&str]) -> bool {
    let parts: Vec<&str> = pattern.split('/').collect();
    parts.len() == segments.len()
        && parts
            .iter()
            .zip(segments)
            .all(|(p, s)| p.starts_with('{') || p == s)
}

/// The entry of `table` for `method` on `segments`; `method_and_pattern`
/// reads an entry's method and path pattern.
pub fn find_route<'a, T>(
    table: &'a [T],
    method: &str,
    segments: &[&str],
    method_and_pattern: impl Fn(&T) -> (&'static str, &'static str),
) -> Result<&'a T, RouteMiss> {
    let candidates: Vec<&T> = table
        .iter()
        .filter(|r| path_matches(method_and_pattern(r).1, segments))
        .collect();
    if let Some(route) = candidates
        .iter()
        .find(|r| method_and_pattern(r).0 == method)
    {
        return Ok(route);
    }
    if candidates.is_empty() {
        return Err(RouteMiss::NotFound);
    }
    Err(RouteMiss::MethodNotAllowed(
        candidates.iter().map(|r| method_and_pattern(r).0).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[(&str, &str)] = &[
        ("GET", "jobs/{id}"),
        ("DELETE", "jobs/{id}"),
        ("POST", "jobs"),
    ];

    #[test]
    fn method_and_path_select_one_entry() {
        let find = |method, segments: &[&str]| find_route(TABLE, method, segments, |r| *r);
        assert_eq!(find("DELETE", &["jobs", "x"]), Ok(&("DELETE", "jobs/{id}")));
        assert_eq!(
            find("PUT", &["jobs", "x"]),
            Err(RouteMiss::MethodNotAllowed(vec!["GET", "DELETE"]))
        );
        assert_eq!(find("GET", &["jobs", "x", "y"]), Err(RouteMiss::NotFound));
    }
}
