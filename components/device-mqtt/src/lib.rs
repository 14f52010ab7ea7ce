//! The device protocol over MQTT, on the MQTT trigger's request topics under
//! `{topic_prefix}/+/jobs/`: maps each topic to its device operation, runs it
//! here (the same code the HTTP device components run) and publishes the
//! answer on `<topic>/accepted` or `<topic>/rejected`.
//!
//! It runs the operations itself rather than chaining to the HTTP
//! components: on Spin only the HTTP trigger can reach `*.spin.internal`.

use fleetjobs_api::device::{client_token, DeviceError};
use fleetjobs_component::device::{operations, rejected, DeviceInput};
use fleetjobs_component::{mqtt_connection, new_request_id, now, topic_prefix};
use fleetjobs_core::protocol::{DeviceTopic, DocumentForm};
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
        let (outcome, body) = match answer {
            Ok(body) => ("accepted", body),
            Err(e) => (
                "rejected",
                rejected(
                    &e,
                    client_token(&payload).as_deref(),
                    now,
                    &new_request_id(),
                ),
            ),
        };
        let reply_topic = format!("{topic}/{outcome}");
        let connection = mqtt_connection().map_err(|e| Error::Other(e.to_string()))?;
        connection
            .publish(&reply_topic, body.to_string().as_bytes(), Qos::AtLeastOnce)
            .map_err(|e| Error::Other(format!("publishing {reply_topic}: {e}")))
    }
}
