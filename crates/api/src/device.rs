//! The device protocol's requests, replies and errors (docs/device-protocol.md),
//! one format for MQTT and HTTP. A device-operation component answers
//! `(status, body)`; the MQTT adapter publishes a 2xx body on `…/accepted`
//! and any other on `…/rejected`, so the error body is the rejected shape
//! `{code, message, timestamp, clientToken?, executionState?}`.

use fleetjobs_core::model::{ExecutionState, ExecutionStatus, StatusDetails};
use fleetjobs_core::{Rejection, Timestamp};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Requests larger than this are refused (AWS IoT's MQTT payload limit).
pub const MAX_PAYLOAD_BYTES: usize = 128 * 1024;
/// AWS's `clientToken` limit.
pub const MAX_CLIENT_TOKEN_CHARS: usize = 64;

/// A rejected device request.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub execution_state: Option<ExecutionState>,
}

impl DeviceError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        DeviceError {
            status,
            code,
            message: message.into(),
            execution_state: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        DeviceError::new(400, "InvalidRequest", message)
    }

    pub fn invalid_json(message: impl Into<String>) -> Self {
        DeviceError::new(400, "InvalidJson", message)
    }

    pub fn invalid_topic(topic: &str) -> Self {
        DeviceError::new(
            404,
            "InvalidTopic",
            format!(
                "{topic} is no jobs API: use jobs/get, jobs/start-next, jobs/{{jobId}}/get or jobs/{{jobId}}/update"
            ),
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        DeviceError::new(404, "ResourceNotFound", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        DeviceError::new(401, "Unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        DeviceError::new(403, "Forbidden", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        DeviceError::new(500, "InternalError", message)
    }

    /// The rejected reply.
    pub fn body(&self, client_token: Option<&str>, now: Timestamp) -> Value {
        let mut body = Map::new();
        body.insert("code".into(), json!(self.code));
        body.insert("message".into(), json!(self.message));
        if let Some(state) = &self.execution_state {
            body.insert("executionState".into(), execution_state(state));
        }
        stamp(body, client_token, now)
    }
}

impl From<Rejection> for DeviceError {
    /// The core names the code and the execution state; the status is HTTP's.
    fn from(rejection: Rejection) -> Self {
        let status = match rejection {
            Rejection::InvalidRequest(_) => 400,
            Rejection::ResourceNotFound(_) => 404,
            Rejection::TerminalStateReached(_) => 410,
            _ => 409,
        };
        DeviceError {
            execution_state: rejection.execution_state().cloned(),
            ..DeviceError::new(status, rejection.device_code(), rejection.to_string())
        }
    }
}

impl From<fleetjobs_store::Error> for DeviceError {
    fn from(error: fleetjobs_store::Error) -> Self {
        match error {
            fleetjobs_store::Error::Rejected(rejection) => rejection.into(),
            other => DeviceError::internal(format!(
                "the request could not be completed ({other}); retry later"
            )),
        }
    }
}

impl From<crate::ApiError> for DeviceError {
    fn from(error: crate::ApiError) -> Self {
        DeviceError::new(error.status, error.code, error.message)
    }
}

/// `{status, statusDetails, versionNumber}`.
pub fn execution_state(state: &ExecutionState) -> Value {
    json!({
        "status": state.status,
        "statusDetails": state.status_details,
        "versionNumber": state.version_number,
    })
}

/// Adds `timestamp` (epoch seconds) and, when the request had one,
/// `clientToken` to a reply.
pub fn stamp(mut body: Map<String, Value>, client_token: Option<&str>, now: Timestamp) -> Value {
    body.insert("timestamp".into(), json!(now.as_secs()));
    if let Some(token) = client_token {
        body.insert("clientToken".into(), json!(token));
    }
    Value::Object(body)
}

/// The request's `clientToken`, found even in a payload that is not valid
/// JSON so that its rejection can still be matched by the device.
pub fn client_token(payload: &[u8]) -> Option<String> {
    if let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(payload) {
        return fields
            .get("clientToken")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    let text = String::from_utf8_lossy(payload);
    let (_, after) = text.split_once("\"clientToken\"")?;
    let value = after.trim_start().strip_prefix(':')?.trim_start();
    serde_json::Deserializer::from_str(value)
        .into_iter::<String>()
        .next()?
        .ok()
}

/// Parses a request payload; an empty one is `{}`. Syntax errors are
/// InvalidJson, wrong fields InvalidRequest naming the field.
pub fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, DeviceError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(DeviceError::invalid(format!(
            "the payload is larger than {MAX_PAYLOAD_BYTES} bytes"
        )));
    }
    crate::request::parse_json(payload, "payload").map_err(|e| match e.syntax {
        true => DeviceError::invalid_json(e.message),
        false => DeviceError::invalid(e.message),
    })
}

/// A number, or a numeric string as some SDKs send (`expectedVersion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lenient(pub i64);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(i64),
            Text(String),
        }
        match Either::deserialize(deserializer)? {
            Either::Number(n) => Ok(Lenient(n)),
            Either::Text(text) => text
                .trim()
                .parse()
                .map(Lenient)
                .map_err(|_| serde::de::Error::custom(format!("{text:?} is not an integer"))),
        }
    }
}

fn checked_token(token: Option<String>) -> Result<Option<String>, DeviceError> {
    match token {
        Some(t) if t.is_empty() || t.chars().count() > MAX_CLIENT_TOKEN_CHARS => {
            Err(DeviceError::invalid(format!(
                "clientToken: must be 1-{MAX_CLIENT_TOKEN_CHARS} characters"
            )))
        }
        other => Ok(other),
    }
}

/// GetPendingJobExecutions: `{clientToken?}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetPendingRequest {
    pub client_token: Option<String>,
}

/// StartNextPendingJobExecution.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartNextRequest {
    pub status_details: Option<StatusDetails>,
    pub step_timeout_in_minutes: Option<i64>,
    pub client_token: Option<String>,
}

/// DescribeJobExecution.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DescribeRequest {
    pub execution_number: Option<Lenient>,
    pub include_job_document: Option<bool>,
    pub client_token: Option<String>,
}

/// UpdateJobExecution.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateRequest {
    pub status: Option<ExecutionStatus>,
    pub status_details: Option<StatusDetails>,
    pub expected_version: Option<Lenient>,
    pub execution_number: Option<Lenient>,
    pub include_job_execution_state: Option<bool>,
    pub include_job_document: Option<bool>,
    pub step_timeout_in_minutes: Option<i64>,
    pub client_token: Option<String>,
}

/// Every request carries an optional clientToken.
pub trait DeviceRequest: DeserializeOwned {
    fn client_token_mut(&mut self) -> &mut Option<String>;

    /// Parses and checks the clientToken.
    fn parse(payload: &[u8]) -> Result<Self, DeviceError> {
        let mut request: Self = parse(payload)?;
        let token = checked_token(request.client_token_mut().take())?;
        *request.client_token_mut() = token;
        Ok(request)
    }
}

macro_rules! device_request {
    ($($name:ty),*) => {$(
        impl DeviceRequest for $name {
            fn client_token_mut(&mut self) -> &mut Option<String> {
                &mut self.client_token
            }
        }
    )*};
}
device_request!(
    GetPendingRequest,
    StartNextRequest,
    DescribeRequest,
    UpdateRequest
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_are_invalid_json_and_field_errors_name_the_field() {
        let e = UpdateRequest::parse(b"{\"status\": ").unwrap_err();
        assert_eq!(e.code, "InvalidJson");
        let e = UpdateRequest::parse(b"{\"status\": \"DONE\"}").unwrap_err();
        assert_eq!(e.code, "InvalidRequest");
        assert!(e.message.starts_with("status:"), "{}", e.message);
        let e = UpdateRequest::parse(b"{\"colour\": 1}").unwrap_err();
        assert!(e.message.contains("colour"), "{}", e.message);
        assert!(GetPendingRequest::parse(b"")
            .unwrap()
            .client_token
            .is_none());
        let e = GetPendingRequest::parse(&[b'"'; 1]).unwrap_err();
        assert_eq!(e.code, "InvalidJson");
    }

    #[test]
    fn expected_version_may_be_a_numeric_string() {
        let r = UpdateRequest::parse(br#"{"status":"SUCCEEDED","expectedVersion":"3"}"#).unwrap();
        assert_eq!(r.expected_version, Some(Lenient(3)));
        let r = UpdateRequest::parse(br#"{"expectedVersion":4}"#).unwrap();
        assert_eq!(r.expected_version, Some(Lenient(4)));
        let e = UpdateRequest::parse(br#"{"expectedVersion":"x"}"#).unwrap_err();
        assert!(e.message.starts_with("expectedVersion:"), "{}", e.message);
    }

    #[test]
    fn client_tokens_are_found_even_in_broken_json_and_are_limited() {
        assert_eq!(
            client_token(br#"{"clientToken": "t-1", "status": "#).as_deref(),
            Some("t-1")
        );
        assert_eq!(
            client_token(br#"{"clientToken":"a\"b"}"#).as_deref(),
            Some("a\"b")
        );
        assert_eq!(client_token(b"not json"), None);
        let long = format!(r#"{{"clientToken":"{}"}}"#, "x".repeat(65));
        assert_eq!(
            GetPendingRequest::parse(long.as_bytes()).unwrap_err().code,
            "InvalidRequest"
        );
    }

    #[test]
    fn rejections_keep_the_execution_state() {
        let state = ExecutionState {
            status: ExecutionStatus::Succeeded,
            status_details: Default::default(),
            version_number: 3,
        };
        let e = DeviceError::from(Rejection::VersionMismatch {
            expected: 1,
            execution: state.clone(),
        });
        assert_eq!((e.status, e.code), (409, "VersionMismatch"));
        let body = e.body(Some("tok"), Timestamp(5_000));
        assert_eq!(body["executionState"]["versionNumber"], 3);
        assert_eq!(body["clientToken"], "tok");
        assert_eq!(body["timestamp"], 5);
    }
}
