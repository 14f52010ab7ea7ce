//! Connecting a fleet's devices, each logged in with its thing's credentials.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::config::FleetConfig;
use crate::{Device, Error};

/// Devices connected at the same time while a fleet starts.
const CONNECT_PARALLELISM: usize = 32;

/// Connects `thing`'s device, logged in with its token from
/// [`FleetConfig::tokens`] (anonymously when it has none), answering
/// commands when [`FleetConfig::commands`] says so.
pub(super) fn connect(config: &FleetConfig, thing: &str) -> Result<Device, Error> {
    Device::connect_with_commands(
        &config.mqtt_url,
        &config.prefix,
        thing,
        config.tokens.get(thing).map(String::as_str),
        config.connect_timeout,
        config
            .commands
            .as_ref()
            .map(|(prefix, behaviour)| (prefix.as_str(), *behaviour)),
    )
}

/// Connects a device per thing, [`CONNECT_PARALLELISM`] at a time; on the
/// first error, disconnects those connected and returns it.
pub(super) fn connect_all(config: &FleetConfig) -> Result<Vec<Device>, Error> {
    let things = &config.things;
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let mut results: Vec<(usize, Result<Device, Error>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CONNECT_PARALLELISM.min(things.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut connected = Vec::new();
                    while !failed.load(Ordering::SeqCst) {
                        let index = next.fetch_add(1, Ordering::SeqCst);
                        let Some(thing) = things.get(index) else {
                            break;
                        };
                        let result = connect(config, thing);
                        failed.fetch_or(result.is_err(), Ordering::SeqCst);
                        connected.push((index, result));
                    }
                    connected
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    results.sort_by_key(|(index, _)| *index);
    let mut devices = Vec::with_capacity(things.len());
    let mut first_error = None;
    for (_, result) in results {
        match result {
            Ok(device) => devices.push(device),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    match first_error {
        None => Ok(devices),
        Some(error) => {
            devices.into_iter().for_each(Device::disconnect);
            Err(error)
        }
    }
}
