//! GetPendingJobExecutions over HTTP: `GET /device/v1/things/{thing}/jobs`
//! (`device-mqtt` serves the same operation on `…/jobs/get`).

use fleetjobs_component::device::{operations, serve_device};
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(request: Request) -> Response {
    serve_device(&request, operations::get_pending)
}
