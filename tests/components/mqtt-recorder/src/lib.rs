//! `mqtt-recorder`: a `spin:mqtt-trigger` (world `spin-mqtt`) guest that records every message in
//! the default key-value store: appends the payload (as lossy UTF-8) to the JSON string array at
//! key `topic:<metadata.topic>` and increments the decimal counter at key `count`.
//! A payload `fetch <url>` instead sends `GET <url>` (`spin_sdk::http::send`) and records
//! `status <u16>` or `error <Display>`.
//! Any host error becomes `Error::Other(e.to_string())`.

use spin_sdk::key_value::Store;

wit_bindgen::generate!({
    world: "spin-mqtt",
    path: "../../../wit/mqtt.wit",
});

struct MqttRecorder;

export!(MqttRecorder);

fn other(e: impl std::fmt::Display) -> Error {
    Error::Other(e.to_string())
}

fn fetch(url: &str) -> String {
    let request = spin_sdk::http::Request::get(url).build();
    match spin_executor::run(spin_sdk::http::send::<_, spin_sdk::http::Response>(request)) {
        Ok(response) => format!("status {}", response.status()),
        Err(e) => format!("error {e}"),
    }
}

impl Guest for MqttRecorder {
    fn handle_message(message: Payload, metadata: Metadata) -> Result<(), Error> {
        let store = Store::open("default").map_err(other)?;

        let key = format!("topic:{}", metadata.topic);
        let mut messages: Vec<String> = store
            .get(&key)
            .map_err(other)?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&message).into_owned();
        let record = match text.strip_prefix("fetch ") {
            Some(url) => fetch(url),
            None => text,
        };
        messages.push(record);
        let encoded = serde_json::to_vec(&messages).map_err(other)?;
        store.set(&key, &encoded).map_err(other)?;

        let count: u64 = store
            .get("count")
            .map_err(other)?
            .and_then(|bytes| String::from_utf8_lossy(&bytes).trim().parse().ok())
            .unwrap_or(0);
        store
            .set("count", (count + 1).to_string().as_bytes())
            .map_err(other)?;
        Ok(())
    }
}
