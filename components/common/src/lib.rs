//! What every fleetjobs component shares. Components stay thin adapters:
//! parse, call the store (which calls the core), answer. By concern:
//! - [`storage`]: the store on Spin's SQLite, and the clock;
//! - [`variables`]: the component variables and their defaults;
//! - [`http`]: JSON answers and the error shape;
//! - [`routes`]: a request's operation and path parameters, from the route
//!   table of `fleetjobs_api::routes`;
//! - [`auth`]: bearer secrets and device token hashes;
//! - [`chain`]: service chaining to private components, request ids;
//! - [`mqtt`] and [`outbox`]: the broker connection, and publishing what a
//!   commit wrote;
//! - [`broker_accounts`] and [`device`]: device accounts on the broker, and
//!   the device protocol's operations.
//!
//! The functions components use are re-exported here.

pub mod auth;
pub mod broker_accounts;
pub mod chain;
pub mod device;
pub mod http;
pub mod mqtt;
pub mod outbox;
pub mod routes;
pub mod storage;
pub mod variables;

pub use auth::{device_token_hash, require_bearer, same_secret};
pub use chain::{chain, forward, forward_with_id, new_request_id, request_id};
pub use http::{error, json, method_name, no_route, respond};
pub use mqtt::mqtt_connection;
pub use outbox::{publish_outbox, respond_and_publish, PublishBudget, REQUEST_PUBLISH_BUDGET};
pub use routes::{api_route, path_params};
pub use storage::{now, store};
pub use variables::{commands_prefix, topic_prefix, variable};
