//! The `fleetjobs` host: runs a Spin application (`spin.toml`) on wasmtime the
//! way `spin up` would, so the fleetjobs components deploy unchanged to Spin
//! and to this host.
//!
//! Like Spin's `crates/factor-*`, the host is organised one module per Spin
//! capability. These first modules are the application model, pure and
//! independent of wasmtime:
//!
//! - [`manifest`]: `spin.toml` (manifest v2), parsed strictly and validated;
//! - [`runtime_config`]: `runtime-config.toml` (SQLite and key-value labels);
//! - [`routing`]: the HTTP trigger's routing rules and `spin-*` headers;
//! - [`variables`]: application and component variables.
//!
//! and the first runtime piece:
//!
//! - [`broker`]: the managed mosquitto `fleetjobs up` starts when no
//!   external broker is given.

pub mod app;
mod bindings;
pub mod broker;
pub mod cli;
pub mod clock;
mod component_log;
pub mod config_file;
pub mod cron;
pub mod engine;
pub mod http;
mod key_value;
pub mod manifest;
mod mqtt;
pub mod mqtt_trigger;
pub mod outbound;
mod postgres;
mod redis;
pub mod routing;
pub mod runtime_config;
mod sockets;
mod sqlite;
pub mod variables;
