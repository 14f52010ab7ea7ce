//! The HTTP device API (`/device/v1/...`, AWS `iot-jobs-data` shapes):
//! authenticates the device by its token, checks that the path names the
//! device's own thing, and forwards to the device-operation component
//! (the table `fleetjobs_api::routes::DEVICE_ROUTES`).

use fleetjobs_api::device::{DeviceError, MAX_PAYLOAD_BYTES};
use fleetjobs_api::error::internal_message;
use fleetjobs_api::routes::{device_route, device_thing_name};
use fleetjobs_component::device::device_error;
use fleetjobs_component::{
    device_token_hash, forward_with_id, method_name, new_request_id, now, store,
};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

/// The thing whose device token the request carries. Nothing of the
/// request but this header is read before it succeeds.
fn authenticate(request: &Request) -> Result<String, DeviceError> {
    let token = request
        .header("authorization")
        .and_then(|h| h.as_str())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| DeviceError::unauthorized("send Authorization: Bearer <device token>"))?;
    store()?
        .thing_with_token_hash(&device_token_hash(token))?
        .ok_or_else(|| DeviceError::unauthorized("the device token is not valid"))
}

async fn serve(request: &Request, request_id: &str) -> Result<Response, DeviceError> {
    let device = authenticate(request)?;
    if request.body().len() > MAX_PAYLOAD_BYTES {
        return Err(DeviceError::new(
            413,
            "PayloadTooLarge",
            format!("the request body is larger than {MAX_PAYLOAD_BYTES} bytes"),
        ));
    }
    let thing_name = device_thing_name(request.path())?;
    if thing_name != device {
        return Err(DeviceError::forbidden(format!(
            "this device token belongs to another thing; it cannot use {thing_name}'s jobs"
        )));
    }
    let (route, _) = device_route(method_name(request.method()), request.path())?;
    forward_with_id(route.component, request, request_id)
        .await
        .ok_or_else(|| DeviceError::internal(internal_message(request_id)))
}

#[http_component]
async fn handle(request: Request) -> Response {
    let request_id = new_request_id();
    match serve(&request, &request_id).await {
        Ok(response) => response,
        Err(e) => device_error(&e, None, now(), &request_id),
    }
}
