//! Many simulated device agents in one process.
//!
//! A [`Fleet`] connects one [`Device`](crate::Device) per thing and drives each with an agent
//! thread that behaves like a real AWS IoT jobs agent: it starts the next
//! pending execution when it (re)connects and whenever it is idle and a
//! notify-next announces one, reports progress, reports a final status, and
//! starts the next. What it reports depends on the thing's [`Behaviour`], so
//! that one fleet exercises success, failure, rejection, hanging devices,
//! devices that connect late and slow ones at once. Every agent counts what it
//! did in one shared [`Summary`] and per-execution [`Outcome`]s.
//!
//! By concern: `config` (behaviours and their shares, pacing), `connect`
//! (devices logged in with their things' tokens), `agent` (one device's
//! loop), `shared` (the counters and the stop signal the agents share),
//! `summary` (what they count) and `runner` (the [`Fleet`] handle).

mod agent;
mod config;
mod connect;
mod runner;
mod shared;
mod summary;

pub use config::{Behaviour, FleetConfig};
pub use runner::Fleet;
pub use summary::{Outcome, Summary};
