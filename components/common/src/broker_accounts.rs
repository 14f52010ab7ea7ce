//! Device accounts on the broker. A thing's MQTT login is its name and its
//! device token, and it may use only its own topics
//! ([`DeviceTopics`](fleetjobs_core::protocol::DeviceTopics) for jobs,
//! [`CommandTopics`](fleetjobs_core::device_command::CommandTopics) for
//! commands).
//!
//! `broker_accounts` says how the broker learns them:
//! - `mosquitto-dynsec` (the default; what `fleetjobs up` manages): the
//!   registry publishes mosquitto dynamic-security commands on
//!   `$CONTROL/dynamic-security/v1` inside its own transaction, so a thing
//!   the broker was not told about is never created. The broker keeps only
//!   a hash of the token and disconnects a deleted (or re-keyed) client.
//! - `none`: the broker asks fleetjobs instead (EMQX's HTTP authenticator
//!   and authorizer, `/broker/v1/...`); nothing is published.

use fleetjobs_core::device_command::CommandTopics;
use fleetjobs_core::protocol::DeviceTopics;
use serde_json::{json, Value};
use spin_sdk::mqtt::Qos;

use crate::{commands_prefix, mqtt_connection, topic_prefix, variable};

const CONTROL_TOPIC: &str = "$CONTROL/dynamic-security/v1";

fn role(thing_name: &str) -> String {
    format!("fleetjobs-thing/{thing_name}")
}

/// Creates or re-keys a thing's account: any older account (and its
/// connection) goes, then a role with the thing's ACL and a client with
/// the token as password.
pub fn register(thing_name: &str, token: &str) -> Result<(), String> {
    let jobs = DeviceTopics::of(&topic_prefix(), thing_name);
    let commands = CommandTopics::of(&commands_prefix(), thing_name);
    let allow =
        |acltype: &str, topic: &String| json!({"acltype": acltype, "topic": topic, "allow": true});
    let acls: Vec<Value> = jobs
        .publish
        .iter()
        .chain(&commands.publish)
        .map(|topic| allow("publishClientSend", topic))
        .chain(
            jobs.subscribe
                .iter()
                .chain(&commands.subscribe)
                .flat_map(|topic| {
                    [
                        allow("subscribePattern", topic),
                        allow("unsubscribePattern", topic),
                    ]
                }),
        )
        .collect();
    send(
        thing_name,
        json!([
            {"command": "deleteClient", "username": thing_name},
            {"command": "deleteRole", "rolename": role(thing_name)},
            {"command": "createRole", "rolename": role(thing_name), "acls": acls},
            {"command": "createClient", "username": thing_name, "password": token,
             "roles": [{"rolename": role(thing_name)}]},
        ]),
    )
}

/// Deletes a thing's account; the broker disconnects it.
pub fn remove(thing_name: &str) -> Result<(), String> {
    send(
        thing_name,
        json!([
            {"command": "deleteClient", "username": thing_name},
            {"command": "deleteRole", "rolename": role(thing_name)},
        ]),
    )
}

/// Publishes the commands once the broker acknowledges them.
fn send(thing_name: &str, commands: Value) -> Result<(), String> {
    if variable("broker_accounts", "mosquitto-dynsec") == "none" {
        return Ok(());
    }
    let failed = |e: &dyn std::fmt::Display| {
        eprintln!("broker accounts: {thing_name}: {e}");
        format!("the MQTT broker did not confirm the account of thing {thing_name}")
    };
    let payload = json!({"commands": commands}).to_string();
    mqtt_connection()
        .map_err(|e| failed(&e))?
        .publish(CONTROL_TOPIC, payload.as_bytes(), Qos::AtLeastOnce)
        .map_err(|e| failed(&e))
}
