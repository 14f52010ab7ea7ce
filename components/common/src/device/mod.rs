//! The device protocol's four operations and what serves them: the device
//! API path (as `fleetjobs_api::routes::DEVICE_ROUTES` reads it), the request and its clientToken, and replies in the device
//! protocol's shape. The same operations answer HTTP (one component per
//! operation, a 2xx body being the accepted reply) and MQTT (`device-mqtt`
//! publishes on `…/accepted` or `…/rejected`).

pub mod operations;

use fleetjobs_api::device::{client_token, stamp, DeviceError, DeviceRequest};
use fleetjobs_api::error::internal_message;
use fleetjobs_api::routes::device_route;
use fleetjobs_core::protocol::DocumentForm;
use fleetjobs_core::Timestamp;
use serde_json::{Map, Value};
use spin_sdk::http::{Request, Response};

use fleetjobs_store::backend::spin::SpinSql;
use fleetjobs_store::{Store, OUTBOX_LEASE_MS};

use crate::{method_name, now};

/// One device request, as an operation component receives it.
pub struct DeviceCall<R> {
    pub thing_name: String,
    pub job_id: Option<String>,
    /// `jobDocument` as an object (MQTT) or a string (HTTP).
    pub form: DocumentForm,
    pub query: String,
    pub request: R,
    pub client_token: Option<String>,
    pub now: Timestamp,
}

impl<R> DeviceCall<R> {
    pub fn job_id(&self) -> Result<&str, DeviceError> {
        self.job_id
            .as_deref()
            .ok_or_else(|| DeviceError::invalid("the path names no job"))
    }

    /// The accepted reply: `fields` with `timestamp` and the clientToken.
    pub fn reply(&self, fields: Map<String, Value>) -> Value {
        stamp(fields, self.client_token.as_deref(), self.now)
    }

    /// Runs a mutating request once per clientToken (a repeat gets the first
    /// reply; `operation` keeps different requests with the same token
    /// apart), then publishes the notices the commit wrote.
    pub fn apply_once(
        &self,
        operation: &str,
        apply: impl FnOnce(&Store<SpinSql>) -> fleetjobs_store::Result<Map<String, Value>>,
    ) -> Result<Value, DeviceError> {
        let key = self
            .client_token
            .as_ref()
            .map(|token| format!("{operation} {token}"));
        let store = crate::store()?;
        let mut claimed = None;
        let reply = store.apply_once(&self.thing_name, key.as_deref(), self.now, |store| {
            let reply = self.reply(apply(store)?).to_string();
            // Leased in the request's own transaction: publishing what it
            // wrote needs no second one to start.
            claimed = store.claim_lane_of(
                &self.thing_name,
                self.now,
                OUTBOX_LEASE_MS,
                crate::outbox::OUTBOX_BATCH,
            )?;
            Ok(reply)
        })?;
        crate::outbox::publish_lane_of(&store, &self.thing_name, claimed);
        serde_json::from_str(&reply).map_err(|e| DeviceError::internal(e.to_string()))
    }
}

/// What arrived for one device operation, before its payload is parsed.
pub struct DeviceInput<'a> {
    pub thing_name: String,
    pub job_id: Option<String>,
    pub form: DocumentForm,
    /// The HTTP query string (empty over MQTT).
    pub query: &'a str,
    pub payload: &'a [u8],
    pub now: Timestamp,
}

impl DeviceInput<'_> {
    /// Parses the payload as `R` and runs `operate`: the accepted reply, or
    /// why the request is rejected.
    pub fn run<R: DeviceRequest>(
        self,
        operate: impl FnOnce(&mut DeviceCall<R>) -> Result<Value, DeviceError>,
    ) -> Result<Value, DeviceError> {
        let mut parsed = R::parse(self.payload)?;
        let mut call = DeviceCall {
            thing_name: self.thing_name,
            job_id: self.job_id,
            form: self.form,
            query: self.query.to_owned(),
            client_token: parsed.client_token_mut().clone(),
            request: parsed,
            now: self.now,
        };
        operate(&mut call)
    }
}

/// Serves one operation over HTTP: parses the path and the request, runs
/// `operate`, answers in the device shape.
pub fn serve_device<R: DeviceRequest>(
    request: &Request,
    operate: impl FnOnce(&mut DeviceCall<R>) -> Result<Value, DeviceError>,
) -> Response {
    let now = now();
    let payload = request.body();
    let outcome =
        device_route(method_name(request.method()), request.path()).and_then(|(_, params)| {
            DeviceInput {
                thing_name: params.thing_name()?.to_owned(),
                job_id: params.get("jobId").map(str::to_owned),
                form: DocumentForm::String,
                query: request.query(),
                payload,
                now,
            }
            .run(operate)
        });
    match outcome {
        Ok(body) => crate::json(200, &body),
        Err(e) => device_error(
            &e,
            client_token(payload).as_deref(),
            now,
            &crate::request_id(request),
        ),
    }
}

/// A rejected request's body. An internal failure's detail goes to the log
/// under `request_id`; the device sees only the id.
pub fn rejected(
    error: &DeviceError,
    client_token: Option<&str>,
    now: Timestamp,
    request_id: &str,
) -> Value {
    if error.status < 500 {
        return error.body(client_token, now);
    }
    eprintln!("request {request_id}: {}: {}", error.code, error.message);
    DeviceError::internal(internal_message(request_id)).body(client_token, now)
}

/// A rejected device request's response.
pub fn device_error(
    error: &DeviceError,
    client_token: Option<&str>,
    now: Timestamp,
    request_id: &str,
) -> Response {
    crate::json(
        error.status,
        &rejected(error, client_token, now, request_id),
    )
}
