//! The component variables, each with its default named once here (the
//! same defaults as `spin.toml`'s, for a manifest that leaves one out).

/// The broker when `mqtt_url` is not set.
pub const DEFAULT_MQTT_URL: &str = "mqtt://127.0.0.1:1883";

/// A variable of the component, or its default when it is not defined.
pub fn variable(name: &str, default: &str) -> String {
    spin_sdk::variables::get(name).unwrap_or_else(|_| default.to_owned())
}

/// The device topics' prefix (`topic_prefix`).
pub fn topic_prefix() -> String {
    variable(
        "topic_prefix",
        fleetjobs_core::protocol::DEFAULT_TOPIC_PREFIX,
    )
}

/// The command topics' prefix (`commands_prefix`).
pub fn commands_prefix() -> String {
    variable(
        "commands_prefix",
        fleetjobs_core::device_command::DEFAULT_COMMANDS_PREFIX,
    )
}

/// The broker's address (`mqtt_url`), without a client id.
pub fn mqtt_url() -> String {
    variable("mqtt_url", DEFAULT_MQTT_URL)
}

/// fleetjobs' own broker login (`mqtt_username`; empty: none).
pub fn mqtt_username() -> String {
    variable("mqtt_username", "")
}

/// The password of [`mqtt_username`] (`mqtt_password`).
pub fn mqtt_password() -> String {
    variable("mqtt_password", "")
}
