//! `cron-counter`: a `fermyon:spin-cron@2.0.0` (world `spin-cron`) guest that records every tick in
//! the default key-value store:
//! - if key `running` is `"1"` when a tick starts, increments `overlaps`;
//! - sets `running` = `"1"`, increments `ticks`, appends `metadata.timestamp` to `timestamps`
//!   (a JSON array of u64);
//! - sleeps for the component variable `sleep_ms` (missing/invalid → 0 ms);
//! - sets `running` = `"0"` and returns `Ok(())`.
//!
//! Counters are decimal strings. Any host error becomes `Error::Other(e.to_string())`.

use std::time::Duration;

use spin_sdk::key_value::Store;
use spin_sdk::variables;

wit_bindgen::generate!({
    world: "spin-cron",
    path: "../../../wit/cron.wit",
});

struct CronCounter;

export!(CronCounter);

fn other(e: impl std::fmt::Display) -> Error {
    Error::Other(e.to_string())
}

fn get_string(store: &Store, key: &str) -> Result<Option<String>, Error> {
    Ok(store
        .get(key)
        .map_err(other)?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

fn increment(store: &Store, key: &str) -> Result<(), Error> {
    let current: u64 = get_string(store, key)?
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    store
        .set(key, (current + 1).to_string().as_bytes())
        .map_err(other)
}

impl Guest for CronCounter {
    fn handle_cron_event(metadata: Metadata) -> Result<(), Error> {
        let store = Store::open("default").map_err(other)?;

        if get_string(&store, "running")?.as_deref() == Some("1") {
            increment(&store, "overlaps")?;
        }
        store.set("running", b"1").map_err(other)?;
        increment(&store, "ticks")?;

        let mut timestamps: Vec<u64> = get_string(&store, "timestamps")?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        timestamps.push(metadata.timestamp);
        let encoded = serde_json::to_vec(&timestamps).map_err(other)?;
        store.set("timestamps", &encoded).map_err(other)?;

        let sleep_ms: u64 = variables::get("sleep_ms")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if sleep_ms > 0 {
            std::thread::sleep(Duration::from_millis(sleep_ms));
        }

        store.set("running", b"0").map_err(other)?;
        Ok(())
    }
}
