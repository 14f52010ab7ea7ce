//! One simulated device's agent: the loop that starts pending executions and
//! reports on them as the device's [`Behaviour`] says.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::config::{Behaviour, FinalStatus};
use super::connect::connect;
use super::shared::Shared;
use super::summary::Outcome;
use crate::{Device, Error, Notice, NoticeKind, Reply, Wake};

/// How many times a request that timed out is sent again (with the same client token).
const CALL_RETRIES: u32 = 2;
/// After an error, an idle agent starts the next execution again this much later.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// An idle agent starts the next execution this often even without a notice:
/// a safety net, rare enough not to load the service.
const IDLE_POLL: Duration = Duration::from_secs(3600);

/// Why an agent could not go on with what it was doing.
enum Halt {
    /// The fleet is stopping (the device was closed, or a pause was cut short).
    Stopped,
    /// Something went wrong; the agent records it and tries again later.
    Failed(String),
}

impl From<Error> for Halt {
    fn from(error: Error) -> Halt {
        match error {
            Error::Closed { .. } => Halt::Stopped,
            error => Halt::Failed(error.to_string()),
        }
    }
}

/// How an agent's run of a job ended, when it reported everything it meant to.
enum JobEnd {
    /// The service accepted this final status.
    Finished(FinalStatus),
    /// The service rejected an update (e.g. the job was canceled): the agent let the job go.
    Dropped,
}

/// Whether an agent is ready for more work.
enum Flow {
    /// Nothing is pending: wait for a notice.
    Idle,
    /// The device hangs: it takes no more work.
    Hung,
}

/// One device's agent, run on its own thread.
pub(super) struct Agent {
    pub(super) index: usize,
    pub(super) thing: String,
    pub(super) behaviour: Behaviour,
    pub(super) shared: Arc<Shared>,
}

impl Agent {
    /// Runs until the fleet stops. `device` is `None` for an Offline device,
    /// which connects again once `offline_until` has passed.
    pub(super) fn run(self, device: Option<Device>, offline_until: Instant) {
        let device = match device {
            Some(device) => device,
            None => match self.reconnect(offline_until) {
                Some(device) => {
                    self.shared.update(|state| state.summary.online += 1);
                    device
                }
                None => return,
            },
        };
        if self.shared.register(self.index, &device) {
            self.work(&device);
            self.shared.unregister(self.index);
        }
        self.shared.update(|state| state.summary.online -= 1);
        device.disconnect();
    }

    /// Waits out the offline period, then connects (again and again after errors).
    fn reconnect(&self, offline_until: Instant) -> Option<Device> {
        let mut wait_until = offline_until;
        while self.shared.sleep_until(wait_until) {
            match connect(&self.shared.config, &self.thing) {
                Ok(device) => return Some(device),
                Err(error) => self.shared.record_error(error.to_string()),
            }
            wait_until = Instant::now() + RETRY_AFTER;
        }
        None
    }

    /// Starts pending executions now, then whenever a notify-next announces
    /// one or the device reconnects, and again a while after an error.
    fn work(&self, device: &Device) {
        // Set by run_pending to the connection count its last start-next covered.
        let mut connections = 0;
        loop {
            let failed = match self.run_pending(device, &mut connections) {
                Ok(Flow::Idle) => false,
                Ok(Flow::Hung) => {
                    self.shared.wait_for_stop();
                    return;
                }
                Err(Halt::Stopped) => return,
                Err(Halt::Failed(error)) => {
                    self.shared.record_error(error);
                    true
                }
            };
            // Without an error to recover from, a notice or a reconnection brings work.
            let timeout = if failed { RETRY_AFTER } else { IDLE_POLL };
            let announces_work = |notice: &Notice| {
                notice.kind == NoticeKind::NotifyNext && notice.body.get("execution").is_some()
            };
            match device.wait_for_work(connections, timeout, announces_work) {
                Ok(Wake::Reconnected(count)) => connections = count,
                Ok(Wake::Notified) | Err(Error::Timeout { .. }) => {}
                Err(_) => return, // closed: the fleet is stopping
            }
        }
    }

    /// Starts and runs executions until none is pending or the device hangs.
    /// `connections` is set to the connection count each start-next covers.
    fn run_pending(&self, device: &Device, connections: &mut u64) -> Result<Flow, Halt> {
        loop {
            // This start-next answers every notice and reconnection so far.
            *connections = device.connections();
            device.drain_notices();
            let reply = self.call(device, "start-next", json!({}))?;
            if !reply.accepted {
                return Err(Halt::Failed(format!(
                    "{}: start-next rejected: {}",
                    self.thing, reply.body
                )));
            }
            let Some(execution) = reply.body.get("execution") else {
                return Ok(Flow::Idle);
            };
            let Some(job) = execution.get("jobId").and_then(Value::as_str) else {
                return Err(Halt::Failed(format!(
                    "{}: start-next execution without a jobId: {execution}",
                    self.thing
                )));
            };
            self.begin(job, execution);
            let Some(status) = self.behaviour.final_status() else {
                return Ok(Flow::Hung);
            };
            let end = self.report(device, job, status);
            self.end(&end);
            end?;
        }
    }

    /// Counts an execution the agent was handed.
    fn begin(&self, job: &str, execution: &Value) {
        let status = execution.get("status").and_then(Value::as_str);
        let number = execution.get("executionNumber").and_then(Value::as_i64);
        let hangs = self.behaviour == Behaviour::Hang;
        self.shared.update(|state| {
            let outcome = state
                .outcomes
                .entry((self.thing.clone(), job.to_owned()))
                .or_insert_with(|| Outcome {
                    status: String::new(),
                    execution_number: 0,
                    runs: 0,
                });
            outcome.status = status.unwrap_or("IN_PROGRESS").to_owned();
            outcome.execution_number = number.unwrap_or(0);
            outcome.runs += 1;
            let summary = &mut state.summary;
            summary.started += 1;
            if hangs {
                summary.hanging += 1;
            } else {
                summary.in_progress += 1;
            }
        });
    }

    /// Counts how the run of an execution ended (an abandoned one just stops being in progress).
    fn end(&self, end: &Result<JobEnd, Halt>) {
        self.shared.update(|state| {
            let summary = &mut state.summary;
            summary.in_progress -= 1;
            match end {
                Ok(JobEnd::Finished(FinalStatus::Succeeded)) => summary.succeeded += 1,
                Ok(JobEnd::Finished(FinalStatus::Failed)) => summary.failed += 1,
                Ok(JobEnd::Finished(FinalStatus::Rejected)) => summary.rejected += 1,
                Ok(JobEnd::Dropped) => summary.dropped += 1,
                Err(_) => {}
            }
        });
    }

    /// Reports progress and then `status` for `job`, pausing between steps.
    fn report(&self, device: &Device, job: &str, status: FinalStatus) -> Result<JobEnd, Halt> {
        let config = &self.shared.config;
        let delay = match self.behaviour {
            Behaviour::Slow => config.step_delay.saturating_mul(10),
            _ => config.step_delay,
        };
        // A rejecting device turns the job down before it does anything.
        let steps = match self.behaviour {
            Behaviour::Reject => 0,
            _ => config.progress_steps,
        };
        for step in 1..=steps {
            let details = json!({
                "step": format!("{step}/{steps}"),
                "progress": format!("{}%", step * 100 / steps),
            });
            if !self.update(device, job, "IN_PROGRESS", details)? {
                return Ok(JobEnd::Dropped);
            }
            if !self.shared.sleep_until(Instant::now() + delay) {
                return Err(Halt::Stopped);
            }
        }
        let details = json!({ "result": format!("simulated {}", self.behaviour) });
        Ok(match self.update(device, job, status.as_str(), details)? {
            true => JobEnd::Finished(status),
            false => JobEnd::Dropped,
        })
    }

    /// Sends an update; true when the service accepted it (and then records
    /// the status), false when it rejected it.
    fn update(
        &self,
        device: &Device,
        job: &str,
        status: &str,
        details: Value,
    ) -> Result<bool, Halt> {
        let body = json!({ "status": status, "statusDetails": details });
        let reply = self.call(device, &format!("{job}/update"), body)?;
        if reply.accepted {
            self.shared.update(|state| {
                if let Some(outcome) = state
                    .outcomes
                    .get_mut(&(self.thing.clone(), job.to_owned()))
                {
                    outcome.status = status.to_owned();
                }
            });
        } else if reply.body.get("code").and_then(Value::as_str) != Some("InvalidStateTransition") {
            // Not the expected end of a canceled job: worth knowing about.
            self.shared.record_error(format!(
                "{}: update of {job} to {status} rejected: {}",
                self.thing, reply.body
            ));
        }
        Ok(reply.accepted)
    }

    /// A request whose reply may time out: sent again, with the same client
    /// token (so a late reply to an earlier attempt answers it too).
    fn call(&self, device: &Device, suffix: &str, mut body: Value) -> Result<Reply, Halt> {
        body["clientToken"] = Value::String(uuid::Uuid::new_v4().simple().to_string());
        let timeout = self.shared.config.call_timeout;
        let mut retries = 0;
        loop {
            match device.call(suffix, body.clone(), timeout) {
                Err(Error::Timeout { .. })
                    if retries < CALL_RETRIES && !self.shared.is_stopping() =>
                {
                    retries += 1;
                }
                result => return Ok(result?),
            }
        }
    }
}
