//! The HTTP device API (`/device/v1/...`, AWS `iot-jobs-data` shapes):
//! authenticates the device by its token, checks that the path names the
//! device's own thing, and forwards to the device-operation component.

use fleetjobs_api::device::{DeviceError, MAX_PAYLOAD_BYTES};
use fleetjobs_api::routing::{find_route, RouteMiss};
use fleetjobs_component::device::{device_error, device_path, DEVICE_API};
use fleetjobs_component::{device_token_hash, forward, method_name, now, store};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

/// `(method, path under /device/v1/, component)`.
const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "things/{thingName}/jobs", "get-pending-executions"),
    (
        "PUT",
        "things/{thingName}/jobs/$next",
        "start-next-execution",
    ),
    (
        "GET",
        "things/{thingName}/jobs/{jobId}",
        "describe-device-execution",
    ),
    (
        "POST",
        "things/{thingName}/jobs/{jobId}",
        "update-device-execution",
    ),
];

fn route(method: &str, path: &str) -> Result<&'static str, DeviceError> {
    let decoded = path.replace("%24", "$");
    let segments: Vec<&str> = decoded
        .strip_prefix(DEVICE_API)
        .unwrap_or_default()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    // `$next` is only a literal for PUT; GET reads it as a job id.
    let table: Vec<_> = ROUTES
        .iter()
        .filter(|(m, pattern, _)| !(pattern.ends_with("$next") && *m != method))
        .copied()
        .collect();
    match find_route(&table, method, &segments, |(m, p, _)| (*m, *p)) {
        Ok((_, _, component)) => Ok(component),
        Err(RouteMiss::NotFound) => Err(DeviceError::not_found(format!(
            "no device operation at {path}"
        ))),
        Err(RouteMiss::MethodNotAllowed(allowed)) => Err(DeviceError::new(
            405,
            "MethodNotAllowed",
            format!(
                "{method} is not supported on {path}; use {}",
                allowed.join(", ")
            ),
        )),
    }
}

/// A device may only use its own thing's routes.
fn authenticate(request: &Request, thing_name: &str) -> Result<(), DeviceError> {
    let token = request
        .header("authorization")
        .and_then(|h| h.as_str())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| DeviceError::unauthorized("send Authorization: Bearer <device token>"))?;
    let hash = device_token_hash(token);
    let store = store()?;
    if store.thing_token_hash(thing_name)?.as_deref() == Some(hash.as_str()) {
        return Ok(());
    }
    match store.thing_with_token_hash(&hash)? {
        Some(_) => Err(DeviceError::forbidden(format!(
            "this device token belongs to another thing; it cannot use {thing_name}'s jobs"
        ))),
        None => Err(DeviceError::unauthorized("the device token is not valid")),
    }
}

async fn serve(request: &Request) -> Result<Response, DeviceError> {
    let (thing_name, _) = device_path(request.path()).ok_or_else(|| {
        DeviceError::not_found(format!("no device operation at {}", request.path()))
    })?;
    authenticate(request, &thing_name)?;
    if request.body().len() > MAX_PAYLOAD_BYTES {
        return Err(DeviceError::new(
            413,
            "PayloadTooLarge",
            format!("the request body is larger than {MAX_PAYLOAD_BYTES} bytes"),
        ));
    }
    let component = route(method_name(request.method()), request.path())?;
    forward(component, request, &[])
        .await
        .map_err(DeviceError::internal)
}

#[http_component]
async fn handle(request: Request) -> Response {
    match serve(&request).await {
        Ok(response) => response,
        Err(e) => device_error(&e, None, now()),
    }
}
