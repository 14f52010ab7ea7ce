//! The fleetjobs state machine, sans-IO.
//!
//! Pure functions over plain data: every command and a job's tick take the
//! state the caller loaded and `now`, and return an [`outcome::Outcome`]
//! (the rows to write, the notices to publish, the work that follows and
//! when the job is due next) or a [`Rejection`] ([`commands`]). No clock, no
//! database, no MQTT, no spin-sdk: the store applies outcomes, components
//! publish what they enqueued. Every rule of docs/lifecycle.md lives here
//! once.

pub mod abort;
pub mod commands;
pub mod config;
pub mod device_command;
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
