//! The web console's files: `GET /console/...` answers the file of that path
//! from the component's `files` mount (the built `console/dist`, mounted at
//! `/`). A path without an extension is a client route and gets
//! `index.html`; a missing asset is a 404. Only plain path segments are
//! served: `..`, `.`, empty segments, escapes and anything but
//! `[A-Za-z0-9._-]` are a 404 before the file system is asked (which could
//! not leave the mount anyway). The console holds no data and no secret: it
//! talks to the public `/api/v1` with the token its user signs in with.

use spin_sdk::http::{Method, Request, Response};
use spin_sdk::http_component;

/// Where the console is served from, as the browser sees it.
const BASE: &str = "/console/";

/// Where the `files` mount puts the built files in the guest.
const ROOT: &str = "/";

/// The console's page: scripts only from the console itself, styles inline
/// too (the component library and the editor set styles at run time).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// What a request asks for, from its path after the route (`spin-path-info`).
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// `/console` without its slash: relative URLs need it.
    Redirect,
    /// The page (the root, or a client route).
    Index,
    /// A file under the mount, as a relative path.
    File(String),
    NotFound,
}

fn target(path_info: &str) -> Target {
    if path_info.is_empty() {
        return Target::Redirect;
    }
    let Some(rest) = path_info.strip_prefix('/') else {
        return Target::NotFound;
    };
    if rest.is_empty() {
        return Target::Index;
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let plain = |segment: &str| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    if !rest.split('/').all(plain) {
        return Target::NotFound;
    }
    let last = rest.rsplit('/').next().unwrap_or(rest);
    if last.contains('.') {
        Target::File(rest.to_owned())
    } else {
        Target::Index
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn not_found() -> Response {
    Response::builder()
        .status(404)
        .header("content-type", "text/plain; charset=utf-8")
        .body("not found\n")
        .build()
}

fn file(relative: &str, head: bool) -> Response {
    let Ok(bytes) = std::fs::read(format!("{ROOT}{relative}")) else {
        return not_found();
    };
    // Vite names assets by content hash: they never change.
    let cache = if relative.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = Response::builder();
    response
        .status(200)
        .header("content-type", content_type(relative))
        .header("cache-control", cache)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer");
    if relative == "index.html" {
        response
            .header("content-security-policy", CONTENT_SECURITY_POLICY)
            .header("x-frame-options", "DENY");
    }
    response.body(if head { Vec::new() } else { bytes }).build()
}

#[http_component]
fn handle(request: Request) -> Response {
    let head = match request.method() {
        Method::Get => false,
        Method::Head => true,
        _ => {
            return Response::builder()
                .status(405)
                .header("allow", "GET, HEAD")
                .header("content-type", "text/plain; charset=utf-8")
                .body("method not allowed\n")
                .build()
        }
    };
    let path_info = request
        .header("spin-path-info")
        .and_then(|value| value.as_str())
        .unwrap_or("");
    match target(path_info) {
        Target::Redirect => Response::builder()
            .status(308)
            .header("location", BASE)
            .body(Vec::new())
            .build(),
        Target::Index => file("index.html", head),
        Target::File(relative) => file(&relative, head),
        Target::NotFound => not_found(),
    }
}
