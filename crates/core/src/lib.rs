//! The fleetjobs state machine, sans-IO.
//!
//! Pure functions over plain data: `(state, command, now) -> (new state,
//! effects)` or a [`Rejection`]. No clock, no database, no MQTT, no spin-sdk:
//! the store persists what these functions return, components publish it.
//! Every rule of design §4 lives here once.

pub mod abort;
pub mod commands;
pub mod config;
pub mod error;
pub mod execution;
pub mod job;
pub mod model;
pub mod notify;
pub mod outcome;
pub mod protocol;
pub mod rollout;
pub mod schedule;
pub mod time;
pub mod validate;

pub use error::Rejection;
pub use model::{Execution, ExecutionStatus, Job, JobStatus, JobType, StatusCounts};
pub use time::Timestamp;
