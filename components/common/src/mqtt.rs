//! The outbound MQTT connection of the service account.

use crate::variables::{mqtt_password, mqtt_url, mqtt_username};

/// An outbound MQTT connection to `mqtt_url` as the service account
/// (`mqtt_username`, `mqtt_password`), with a client id of its own (the
/// broker allows one connection per client id).
pub fn mqtt_connection() -> Result<spin_sdk::mqtt::Connection, spin_sdk::mqtt::Error> {
    let url = mqtt_url();
    let separator = if url.contains('?') { '&' } else { '?' };
    let address = format!(
        "{url}{separator}client_id=fleetjobs-{}",
        uuid::Uuid::new_v4().simple()
    );
    spin_sdk::mqtt::Connection::open(&address, &mqtt_username(), &mqtt_password(), 30)
}
