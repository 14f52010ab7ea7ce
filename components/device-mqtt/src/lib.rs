//! The device protocol over MQTT, on the MQTT trigger's request topics under
//! `{topic_prefix}/+/jobs/`: maps each topic to its device operation, runs it
//! here (the same code the HTTP device components run) and publishes the
//! answer on `<topic>/accepted` or `<topic>/rejected`. Command responses
//! (`{commands_prefix}/+/executions/+/response`, docs/commands.md) are
//! answered the same way.
//!
//! It runs the operations itself rather than chaining to the HTTP
//! components: on Spin only the HTTP trigger can reach `*.spin.internal`.

use fleetjobs_api::device::{client_token, DeviceError};
use fleetjobs_component::device::{operations, rejected, DeviceInput};
use fleetjobs_component::{commands_prefix, mqtt_connection, new_request_id, now, topic_prefix};
use fleetjobs_core::device_command::{self, CommandTopic, DeviceResponse};
use fleetjobs_core::protocol::{DeviceTopic, DocumentForm};
use fleetjobs_core::Timestamp;
use serde_json::Value;
use spin_sdk::mqtt::Qos;

wit_bindgen::generate!({
    world: "spin-mqtt",
    path: "../../wit/mqtt.wit",
});

struct DeviceMqtt;

export!(DeviceMqtt);

impl Guest for DeviceMqtt {
    fn handle_message(payload: Payload, metadata: Metadata) -> Result<(), Error> {
        let topic = metadata.topic;
        let now = now();
        if let CommandTopic::Response {
            thing_name,
            execution_id,
        } = CommandTopic::parse(&commands_prefix(), &topic)
        {
            let answer = command_response(&thing_name, &execution_id, &payload, now);
            return reply(&topic, answer, &payload, now);
        }
        let answer = match DeviceTopic::parse(&topic_prefix(), &topic) {
            // The subscriptions also deliver the service's own notices.
            DeviceTopic::NotARequest => return Ok(()),
            DeviceTopic::Invalid { .. } => Err(DeviceError::invalid_topic(&topic)),
            DeviceTopic::Request {
                thing_name,
                operation,
            } => operations::run(
                operation,
                DeviceInput {
                    thing_name,
                    job_id: None,
                    form: DocumentForm::Object,
                    query: "",
                    payload: &payload,
                    now,
                },
            ),
        };
        reply(&topic, answer, &payload, now)
    }
}

/// A device's response to one of its commands: the thing comes from the
/// topic (the broker lets a device publish only under its own), so a
/// device answers only its own commands.
fn command_response(
    thing_name: &str,
    execution_id: &str,
    payload: &[u8],
    now: Timestamp,
) -> Result<Value, DeviceError> {
    let response: DeviceResponse = fleetjobs_api::device::parse(payload)?;
    let store = fleetjobs_component::store()?;
    let command = store.command_response(thing_name, execution_id, &response, now)?;
    Ok(device_command::accepted(&command, now))
}

/// Publishes the answer on `<topic>/accepted` or `<topic>/rejected`.
fn reply(
    topic: &str,
    answer: Result<Value, DeviceError>,
    payload: &[u8],
    now: Timestamp,
) -> Result<(), Error> {
    let (outcome, body) = match answer {
        Ok(body) => ("accepted", body),
        Err(e) => (
            "rejected",
            rejected(&e, client_token(payload).as_deref(), now, &new_request_id()),
        ),
    };
    let reply_topic = format!("{topic}/{outcome}");
    let connection = mqtt_connection().map_err(|e| Error::Other(e.to_string()))?;
    connection
        .publish(&reply_topic, body.to_string().as_bytes(), Qos::AtLeastOnce)
        .map_err(|e| Error::Other(format!("publishing {reply_topic}: {e}")))
}
