//! Domain types: things, groups, jobs, executions and their configurations.
//! Field names follow AWS IoT Jobs (camelCase on the wire).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::JobConfig;
use crate::time::Timestamp;

/// A flat string map a device reports with its status.
pub type StatusDetails = BTreeMap<String, String>;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(
    /// Status of one execution of a job on one thing (docs/lifecycle.md#execution-statuses).
    ExecutionStatus {
        Queued = "QUEUED",
        InProgress = "IN_PROGRESS",
        Succeeded = "SUCCEEDED",
        Failed = "FAILED",
        TimedOut = "TIMED_OUT",
        Rejected = "REJECTED",
        Removed = "REMOVED",
        Canceled = "CANCELED",
    }
);

impl ExecutionStatus {
    pub fn is_terminal(self) -> bool {
        !matches!(self, ExecutionStatus::Queued | ExecutionStatus::InProgress)
    }

    /// Statuses a device may report; the others are the service's to set.
    pub fn is_device_settable(self) -> bool {
        matches!(
            self,
            ExecutionStatus::InProgress
                | ExecutionStatus::Succeeded
                | ExecutionStatus::Failed
                | ExecutionStatus::Rejected
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

wire_enum!(
    /// Status of a job (docs/lifecycle.md#job-statuses).
    JobStatus {
        Scheduled = "SCHEDULED",
        InProgress = "IN_PROGRESS",
        Canceled = "CANCELED",
        Completed = "COMPLETED",
        DeletionInProgress = "DELETION_IN_PROGRESS",
    }
);

wire_enum!(
    /// SNAPSHOT runs once against the targets resolved at creation; CONTINUOUS
    /// also targets things that join a target group later.
    JobType {
        Snapshot = "SNAPSHOT",
        Continuous = "CONTINUOUS",
    }
);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Targets {
    #[serde(default)]
    pub thing_names: Vec<String>,
    #[serde(default)]
    pub thing_group_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Thing {
    pub thing_name: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    pub version: i64,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThingGroup {
    pub thing_group_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_at: Timestamp,
}

/// How far a paced rollout has got. Kept on the job row; changed only by
/// [`crate::rollout`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutProgress {
    /// Targets resolved but not yet given an execution.
    pub pending_targets: u64,
    /// Executions created by the rollout so far ("notified things").
    pub released: u64,
    /// Start of the current one-minute pacing window.
    pub window_start: Option<Timestamp>,
    /// The rate fixed for the current window.
    pub window_rate: u64,
    pub released_in_window: u64,
    /// Set by `endBehavior: STOP_ROLLOUT`: nothing more is released.
    pub stopped: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub job_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub document: serde_json::Map<String, serde_json::Value>,
    pub job_type: JobType,
    pub targets: Targets,
    #[serde(flatten)]
    pub config: JobConfig,
    pub status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default)]
    pub force_canceled: bool,
    pub created_at: Timestamp,
    pub last_updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Timestamp>,
    /// Optimistic-concurrency version of the job row; bumped on every change.
    pub version: i64,
    #[serde(default)]
    pub rollout: RolloutProgress,
    /// Set once `schedulingConfig.endTime` has been acted on.
    #[serde(default)]
    pub end_applied: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    #[serde(rename = "Key", alias = "key")]
    pub key: String,
    #[serde(rename = "Value", alias = "value", default)]
    pub value: String,
}

/// Retries used so far, per failure type (the retry config budgets each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetriesUsed {
    pub failed: u32,
    pub timed_out: u32,
}

impl RetriesUsed {
    pub fn total(self) -> u32 {
        self.failed + self.timed_out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub job_id: String,
    pub thing_name: String,
    pub execution_number: i64,
    pub version_number: i64,
    pub status: ExecutionStatus,
    #[serde(default)]
    pub status_details: StatusDetails,
    pub queued_at: Timestamp,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    pub last_updated_at: Timestamp,
    #[serde(default)]
    pub retries: RetriesUsed,
    /// Deadline of the job's in-progress timer, set when the execution starts.
    #[serde(default)]
    pub in_progress_deadline: Option<Timestamp>,
    /// Deadline of the device's current step timer.
    #[serde(default)]
    pub step_deadline: Option<Timestamp>,
    #[serde(default)]
    pub force_canceled: bool,
}

impl Execution {
    /// A fresh QUEUED execution, the first of its job on this thing.
    pub fn queued(job_id: &str, thing_name: &str, now: Timestamp) -> Self {
        Execution {
            job_id: job_id.to_owned(),
            thing_name: thing_name.to_owned(),
            execution_number: 1,
            version_number: 1,
            status: ExecutionStatus::Queued,
            status_details: StatusDetails::new(),
            queued_at: now,
            started_at: None,
            last_updated_at: now,
            retries: RetriesUsed::default(),
            in_progress_deadline: None,
            step_deadline: None,
            force_canceled: false,
        }
    }

    /// A device reads only executions still in flight (docs/device-protocol.md#describejobexecution): a
    /// finished one is TerminalStateReached.
    pub fn describable_by_device(&self) -> Result<(), crate::Rejection> {
        if self.status.is_terminal() {
            return Err(crate::Rejection::TerminalStateReached(format!(
                "the execution of job {} on {} is {}",
                self.job_id, self.thing_name, self.status
            )));
        }
        Ok(())
    }

    /// `retryAttempt` as AWS reports it: completed retries.
    pub fn retry_attempt(&self) -> u32 {
        self.retries.total()
    }

    /// The timer that fires first: the step timer never outlives the job's
    /// in-progress timer (docs/lifecycle.md#timers).
    pub fn effective_deadline(&self) -> Option<Timestamp> {
        match (self.in_progress_deadline, self.step_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn state(&self) -> ExecutionState {
        ExecutionState {
            status: self.status,
            status_details: self.status_details.clone(),
            version_number: self.version_number,
        }
    }
}

/// What a rejected device request reports back as `executionState`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionState {
    pub status: ExecutionStatus,
    pub status_details: StatusDetails,
    pub version_number: i64,
}

/// Executions of one job per status (AWS `jobProcessDetails`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts([u64; 8]);

impl StatusCounts {
    pub fn get(&self, status: ExecutionStatus) -> u64 {
        self.0[status.index()]
    }

    pub fn set(&mut self, status: ExecutionStatus, count: u64) {
        self.0[status.index()] = count;
    }

    /// Applies one execution's move from `from` (None: newly created) to `to`.
    pub fn record(&mut self, from: Option<ExecutionStatus>, to: Option<ExecutionStatus>) {
        if let Some(from) = from {
            self.0[from.index()] = self.0[from.index()].saturating_sub(1);
        }
        if let Some(to) = to {
            self.0[to.index()] += 1;
        }
    }

    pub fn recount<'a>(statuses: impl IntoIterator<Item = &'a ExecutionStatus>) -> Self {
        let mut counts = StatusCounts::default();
        for status in statuses {
            counts.record(None, Some(*status));
        }
        counts
    }

    /// Executions still QUEUED or IN_PROGRESS.
    pub fn active(&self) -> u64 {
        self.get(ExecutionStatus::Queued) + self.get(ExecutionStatus::InProgress)
    }

    /// Executions that reached a terminal status ("completed" for abort).
    pub fn terminal(&self) -> u64 {
        self.0.iter().sum::<u64>() - self.active()
    }

    pub fn iter(&self) -> impl Iterator<Item = (ExecutionStatus, u64)> + '_ {
        ExecutionStatus::ALL.iter().map(|s| (*s, self.get(*s)))
    }
}
