//! The device protocol over MQTT: on the MQTT trigger for
//! `{topic_prefix}/+/jobs/#`, maps each request topic to its device-operation
//! component (the same ones the HTTP device API reaches), calls it by service
//! chaining and publishes the answer on `<topic>/accepted` (2xx) or
//! `<topic>/rejected`. The host runs one thing's messages in order.

use fleetjobs_api::device::{client_token, DeviceError, PROTOCOL_HEADER};
use fleetjobs_component::{chain, mqtt_connection, now, variable};
use fleetjobs_core::protocol::{DeviceOperation, DeviceTopic};
use spin_sdk::http::{Method, Response};
use spin_sdk::mqtt::Qos;

wit_bindgen::generate!({
    world: "spin-mqtt",
    path: "../../wit/mqtt.wit",
});

struct DeviceMqtt;

export!(DeviceMqtt);

/// The component, method and device API path that serve an operation.
fn target(thing: &str, operation: &DeviceOperation) -> (&'static str, Method, String) {
    let jobs = format!("/device/v1/things/{thing}/jobs");
    match operation {
        DeviceOperation::GetPending => ("get-pending-executions", Method::Get, jobs),
        DeviceOperation::StartNext => {
            ("start-next-execution", Method::Put, format!("{jobs}/$next"))
        }
        DeviceOperation::Describe { job_id } => (
            "describe-device-execution",
            Method::Get,
            format!("{jobs}/{job_id}"),
        ),
        DeviceOperation::Update { job_id } => (
            "update-device-execution",
            Method::Post,
            format!("{jobs}/{job_id}"),
        ),
    }
}

/// `(accepted, body)` for one request.
fn answer(thing: &str, operation: &DeviceOperation, payload: Vec<u8>) -> (bool, Vec<u8>) {
    let (component, method, path) = target(thing, operation);
    let token = client_token(&payload);
    let called = spin_executor::run(chain(
        component,
        method,
        &path,
        payload,
        &[(PROTOCOL_HEADER, "mqtt")],
    ));
    match called {
        Ok(response) => {
            let response: Response = response;
            let accepted = (200..300).contains(response.status());
            (accepted, response.into_body())
        }
        Err(e) => {
            let body = DeviceError::internal(e).body(token.as_deref(), now());
            (false, body.to_string().into_bytes())
        }
    }
}

impl Guest for DeviceMqtt {
    fn handle_message(payload: Payload, metadata: Metadata) -> Result<(), Error> {
        let prefix = variable("topic_prefix", "$emqx/things");
        let topic = metadata.topic;
        let (accepted, body) = match DeviceTopic::parse(&prefix, &topic) {
            DeviceTopic::NotARequest => return Ok(()),
            DeviceTopic::Invalid { .. } => {
                let body = DeviceError::invalid_topic(&topic)
                    .body(client_token(&payload).as_deref(), now());
                (false, body.to_string().into_bytes())
            }
            DeviceTopic::Request {
                thing_name,
                operation,
            } => answer(&thing_name, &operation, payload),
        };
        let reply_topic = format!("{topic}/{}", if accepted { "accepted" } else { "rejected" });
        let connection = mqtt_connection().map_err(|e| Error::Other(e.to_string()))?;
        connection
            .publish(&reply_topic, &body, Qos::AtLeastOnce)
            .map_err(|e| Error::Other(format!("publishing {reply_topic}: {e}")))
    }
}
