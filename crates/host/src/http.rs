//! The HTTP trigger: a hyper server routing requests to components as Spin
//! does (route precedence, `spin-*` headers, private routes), service
//! chaining in-process, outbound HTTP only to allowed hosts, and the health
//! and test-clock endpoints.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::watch;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks, WasiHttpView};

use crate::app::{App, LoadedComponent, TriggerKind};
use crate::routing::{chaining_target, is_reserved_path, spin_headers, RequestInfo, RouteMatch};

/// The host's own endpoints.
const HEALTH_PATH: &str = "/.well-known/spin/health";
pub const ADMIN_PREFIX: &str = "/.well-known/fleetjobs/";

type HostResponse = Response<HyperOutgoingBody>;

fn text(status: StatusCode, body: impl Into<String>) -> HostResponse {
    let body = Full::new(Bytes::from(body.into()))
        .map_err(|never: Infallible| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    response
}

/// Runs one request through a component and returns its response; failures
/// (trap, deadline, pool exhausted) become 500/503 rather than errors.
pub async fn run_component<B>(
    app: &Arc<App>,
    component: &Arc<LoadedComponent>,
    request: Request<B>,
) -> HostResponse
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    let Some(proxy) = component.http.clone() else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "component {} does not export wasi:http/incoming-handler",
                component.id
            ),
        );
    };
    let request_id = request_id_of(&request);
    let mut store = app.store(component, TriggerKind::Http);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let prepared: wasmtime::Result<_> = (|| {
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)?;
        let outparam = store.data_mut().http().new_response_outparam(sender)?;
        Ok((request, outparam))
    })();
    let (request, outparam) = match prepared {
        Ok(pair) => pair,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("{e:#}")),
    };
    let id = component.id.clone();
    // The caller learns that the component failed, never how: the reason
    // (a trap's backtrace, say) goes to the log with the request's id.
    let failed = move |status: StatusCode, reason: String| {
        tracing::error!(component = %id, request_id = %request_id, %reason, "request failed");
        text(
            status,
            format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or_default()
            ),
        )
    };
    let task = tokio::spawn(async move {
        let instance = proxy.instantiate_async(&mut store).await?;
        instance
            .wasi_http_incoming_handler()
            .call_handle(&mut store, request, outparam)
            .await
    });
    match receiver.await {
        Ok(Ok(response)) => response,
        Ok(Err(code)) => failed(StatusCode::INTERNAL_SERVER_ERROR, format!("{code:?}")),
        Err(_) => {
            let reason = match task.await {
                Ok(Err(e)) => format!("{e:#}"),
                Ok(Ok(())) => "it returned no response".into(),
                Err(e) => e.to_string(),
            };
            let status = if reason.contains("concurrent limit") {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            failed(status, reason)
        }
    }
}

/// The request's `x-request-id`, which the log keeps beside a failure.
fn request_id_of<B>(request: &Request<B>) -> String {
    request
        .headers()
        .get("x-request-id")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

/// Adds the `spin-*` headers for a routed request.
fn add_spin_headers<B>(request: &mut Request<B>, route: &RouteMatch, client: SocketAddr) {
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let uri = request.uri().clone();
    let info = RequestInfo {
        scheme: uri.scheme_str(),
        host: host.as_deref(),
        path_and_query: uri.path_and_query().map_or("/", |p| p.as_str()),
        client_addr: client,
    };
    for (name, value) in spin_headers(&info, route) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            request.headers_mut().insert(name, value);
        }
    }
}

/// Gives the request an absolute URI so the component sees scheme and
/// authority: the authority the client asked for (its `Host` header), as
/// Spin does, or the listener's address when it sent none usable.
fn absolute_uri<B>(request: &mut Request<B>, listener: &str) {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    let asked = request
        .headers()
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| host.parse::<http::uri::Authority>().is_ok())
        .map(str::to_owned);
    let authority = asked.as_deref().unwrap_or(listener);
    if let Ok(uri) = format!("http://{authority}{path}").parse() {
        *request.uri_mut() = uri;
    }
}

async fn admin(app: &Arc<App>, path: &str, query: Option<&str>) -> HostResponse {
    let param = |name: &str| {
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    match path.strip_prefix(ADMIN_PREFIX) {
        Some("clock") => text(StatusCode::OK, app.clock.now().as_millis().to_string()),
        Some("clock/advance") => match param("seconds").and_then(|s| s.parse::<i64>().ok()) {
            Some(seconds) if seconds >= 0 => {
                app.clock.advance(Duration::from_secs(seconds as u64));
                text(StatusCode::OK, app.clock.now().as_millis().to_string())
            }
            _ => text(
                StatusCode::BAD_REQUEST,
                "clock/advance needs ?seconds=<non-negative integer>",
            ),
        },
        Some("cron/run") => match param("component") {
            Some(component) => match crate::cron::run_now(app, &component).await {
                Ok(()) => text(StatusCode::OK, "ran"),
                Err(message) => text(StatusCode::BAD_REQUEST, message),
            },
            None => text(
                StatusCode::BAD_REQUEST,
                "cron/run needs ?component=<component id>",
            ),
        },
        Some("metrics") => {
            let sqlite = app.sqlite.stats();
            let load = |counter: &std::sync::atomic::AtomicU64| {
                counter.load(std::sync::atomic::Ordering::Relaxed)
            };
            let metrics = serde_json::json!({
                "sqlite": {
                    "statementsPrepared": load(&sqlite.prepared),
                    "statementsRun": load(&sqlite.run),
                    "checkpoints": load(&sqlite.checkpoints),
                    "connectionsOpened": load(&sqlite.opened),
                },
                "mqttTrigger": app.mqtt_lanes.metrics(),
            });
            text(StatusCode::OK, metrics.to_string())
        }
        _ => text(StatusCode::NOT_FOUND, "unknown admin endpoint"),
    }
}

async fn serve_request(
    app: Arc<App>,
    mut request: Request<Incoming>,
    client: SocketAddr,
    authority: String,
) -> HostResponse {
    let path = request.uri().path().to_owned();
    if path == HEALTH_PATH {
        return text(StatusCode::OK, "OK");
    }
    if app.options.test_clock && path.starts_with(ADMIN_PREFIX) {
        return admin(&app, &path, request.uri().query()).await;
    }
    if is_reserved_path(&path) {
        return text(StatusCode::NOT_FOUND, "not found");
    }
    let Some(route) = app.router.route(&path) else {
        return text(StatusCode::NOT_FOUND, "not found");
    };
    let Some(component) = app.component(&route.component_id).cloned() else {
        return text(StatusCode::NOT_FOUND, "not found");
    };
    add_spin_headers(&mut request, &route, client);
    absolute_uri(&mut request, &authority);
    run_component(&app, &component, request).await
}

/// Serves the application until `shutdown` flips; in-flight requests finish.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let authority = listener.local_addr()?.to_string();
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let authority = authority.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let app = app.clone();
                let authority = authority.clone();
                async move { Ok::<_, Infallible>(serve_request(app, request, client, authority).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
    // Connections finish their in-flight requests.
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Outbound HTTP of one component instance: for an instance of the HTTP
/// trigger `*.spin.internal` is served in-process (service chaining);
/// anything else, and every request of a cron or MQTT instance, goes to the
/// network if allowed (as on Spin, where `*.spin.internal` then fails to
/// resolve).
pub struct ChainingHooks {
    app: Arc<App>,
    caller: Arc<LoadedComponent>,
    trigger: TriggerKind,
}

impl ChainingHooks {
    pub fn new(app: Arc<App>, caller: Arc<LoadedComponent>, trigger: TriggerKind) -> Self {
        ChainingHooks {
            app,
            caller,
            trigger,
        }
    }
}

type IoFuture = Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;

fn denied(message: String) -> wasmtime_wasi_http::Error {
    tracing::warn!("{message}");
    wasmtime_wasi_http::Error::from(ErrorCode::HttpRequestDenied)
}

impl WasiHttpHooks for ChainingHooks {
    fn send_request(
        &mut self,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> Box<
        dyn std::future::Future<Output = wasmtime_wasi_http::Result<(Response<WasiBody>, IoFuture)>>
            + Send,
    > {
        let _ = fut;
        let app = self.app.clone();
        let caller = self.caller.clone();
        let chaining = self.trigger == TriggerKind::Http;
        Box::new(async move {
            let host = request.uri().host().unwrap_or_default().to_owned();
            if let Some(target) = chaining_target(&host).filter(|_| chaining) {
                if !caller.allowed_hosts.allows_chaining(&caller.id, target) {
                    return Err(denied(format!(
                        "component {} may not call {target}.spin.internal: add it to allowed_outbound_hosts",
                        caller.id
                    )));
                }
                let path = request.uri().path().to_owned();
                let route = app.router.chain(target, &path);
                let component = app.component(target).cloned();
                let (Some(route), Some(component)) = (route, component) else {
                    return Err(denied(format!("no component {target} to chain to")));
                };
                let (mut parts, body) = request.into_parts();
                parts.headers.remove(http::header::HOST);
                let mut request = Request::from_parts(parts, body);
                let client = SocketAddr::from(([127, 0, 0, 1], 0));
                add_spin_headers(&mut request, &route, client);
                let response = run_component(&app, &component, request).await;
                return Ok((response, Box::new(async { Ok(()) }) as IoFuture));
            }
            if !caller.allowed_hosts.allows_url(&request.uri().to_string()) {
                return Err(denied(format!(
                    "component {} may not send a request to {}: not in allowed_outbound_hosts",
                    caller.id,
                    request.uri()
                )));
            }
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as IoFuture,
            ))
        })
    }
}
