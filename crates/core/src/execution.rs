//! Transitions of one execution (docs/lifecycle.md#execution-transitions, #timers, #retry): device updates,
//! start-next, cancel, remove, delete rules, timers, timeouts and retries.

use crate::config::{RetryConfig, RetryFailureType, TimeoutConfig};
use crate::error::Rejection;
use crate::model::{Execution, ExecutionStatus, StatusDetails};
use crate::time::Timestamp;
use crate::validate;

/// UpdateJobExecution as a device sends it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceUpdate {
    pub status: Option<ExecutionStatus>,
    pub status_details: Option<StatusDetails>,
    pub expected_version: Option<i64>,
    pub step_timeout_in_minutes: Option<i64>,
}

impl DeviceUpdate {
    pub fn to(status: ExecutionStatus) -> Self {
        DeviceUpdate {
            status: Some(status),
            ..DeviceUpdate::default()
        }
    }
}

/// Who cancels an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelBy {
    /// CancelJob (or an abort / end behaviour) sweeping its executions.
    Job { force: bool },
    /// CancelJobExecution on this one execution.
    Operator {
        force: bool,
        expected_version: Option<i64>,
    },
}

impl Execution {
    fn terminal_rejection(&self) -> Rejection {
        Rejection::InvalidStateTransition {
            message: format!(
                "the execution of job {} on {} is {} and can no longer change",
                self.job_id, self.thing_name, self.status
            ),
            execution: Some(self.state()),
        }
    }

    fn check_version(&self, expected: Option<i64>) -> Result<(), Rejection> {
        match expected {
            Some(expected) if expected != self.version_number => Err(Rejection::VersionMismatch {
                expected,
                execution: self.state(),
            }),
            _ => Ok(()),
        }
    }

    /// A copy with the version bumped and `lastUpdatedAt` set: every change
    /// goes through here, so versionNumber increases on every change.
    fn changed(&self, status: ExecutionStatus, now: Timestamp) -> Execution {
        let mut next = self.clone();
        next.status = status;
        next.version_number += 1;
        next.last_updated_at = now;
        if status.is_terminal() {
            next.in_progress_deadline = None;
            next.step_deadline = None;
        }
        next
    }

    fn enter_in_progress(&mut self, timeout: Option<&TimeoutConfig>, now: Timestamp) {
        self.started_at = Some(now);
        self.in_progress_deadline = timeout
            .and_then(|t| t.in_progress_timeout_in_minutes)
            .map(|minutes| now.plus_minutes(minutes));
    }

    fn apply_step_timeout(&mut self, minutes: Option<i64>, now: Timestamp) {
        match minutes {
            Some(-1) => self.step_deadline = None,
            Some(minutes) => self.step_deadline = Some(now.plus_minutes(minutes)),
            None => {}
        }
    }

    /// UpdateJobExecution from the device (docs/lifecycle.md#device-updates): IN_PROGRESS, SUCCEEDED,
    /// FAILED or REJECTED, from QUEUED or IN_PROGRESS.
    pub fn device_update(
        &self,
        update: &DeviceUpdate,
        timeout: Option<&TimeoutConfig>,
        now: Timestamp,
    ) -> Result<Execution, Rejection> {
        let status = update
            .status
            .ok_or_else(|| Rejection::invalid("status", "is required"))?;
        if status == ExecutionStatus::Queued {
            return Err(Rejection::InvalidStateTransition {
                message: format!("an execution cannot go from {} back to QUEUED", self.status),
                execution: Some(self.state()),
            });
        }
        if !status.is_device_settable() {
            return Err(Rejection::invalid(
                "status",
                format!("{status} is set by the service; devices report IN_PROGRESS, SUCCEEDED, FAILED or REJECTED"),
            ));
        }
        if let Some(details) = &update.status_details {
            validate::status_details(details)?;
        }
        if let Some(minutes) = update.step_timeout_in_minutes {
            validate::step_timeout(minutes)?;
        }
        if self.status.is_terminal() {
            return Err(self.terminal_rejection());
        }
        self.check_version(update.expected_version)?;

        let mut next = self.changed(status, now);
        if let Some(details) = &update.status_details {
            next.status_details = details.clone();
        }
        if self.status == ExecutionStatus::Queued && status == ExecutionStatus::InProgress {
            next.enter_in_progress(timeout, now);
        }
        if status == ExecutionStatus::InProgress {
            next.apply_step_timeout(update.step_timeout_in_minutes, now);
        }
        Ok(next)
    }

    /// StartNextPendingJobExecution on the head of the pending list: a QUEUED
    /// head starts; an IN_PROGRESS head is returned unchanged (`None`).
    pub fn start_next(
        &self,
        status_details: Option<&StatusDetails>,
        step_timeout_in_minutes: Option<i64>,
        timeout: Option<&TimeoutConfig>,
        now: Timestamp,
    ) -> Result<Option<Execution>, Rejection> {
        if let Some(details) = status_details {
            validate::status_details(details)?;
        }
        if let Some(minutes) = step_timeout_in_minutes {
            validate::step_timeout(minutes)?;
        }
        match self.status {
            ExecutionStatus::InProgress => Ok(None),
            ExecutionStatus::Queued => {
                let mut next = self.changed(ExecutionStatus::InProgress, now);
                if let Some(details) = status_details {
                    next.status_details = details.clone();
                }
                next.enter_in_progress(timeout, now);
                next.apply_step_timeout(step_timeout_in_minutes, now);
                Ok(Some(next))
            }
            _ => Err(self.terminal_rejection()),
        }
    }

    /// CancelJobExecution, or one execution of a canceled job.
    pub fn cancel(
        &self,
        by: CancelBy,
        status_details: Option<&StatusDetails>,
        now: Timestamp,
    ) -> Result<Execution, Rejection> {
        if let Some(details) = status_details {
            validate::status_details(details)?;
        }
        let force = match by {
            CancelBy::Job { force } => force,
            CancelBy::Operator {
                force,
                expected_version,
            } => {
                if self.status.is_terminal() {
                    return Err(self.terminal_rejection());
                }
                self.check_version(expected_version)?;
                force
            }
        };
        match self.status {
            ExecutionStatus::Queued => {}
            ExecutionStatus::InProgress if force => {}
            ExecutionStatus::InProgress => {
                return Err(Rejection::InvalidStateTransition {
                    message: format!(
                        "the execution of job {} on {} is IN_PROGRESS; cancel it with force=true",
                        self.job_id, self.thing_name
                    ),
                    execution: Some(self.state()),
                })
            }
            _ => return Err(self.terminal_rejection()),
        }
        let mut next = self.changed(ExecutionStatus::Canceled, now);
        next.force_canceled = self.status == ExecutionStatus::InProgress;
        if let Some(details) = status_details {
            next.status_details = details.clone();
        }
        Ok(next)
    }

    /// The thing left a continuous job's target group (or was deleted).
    pub fn remove(&self, now: Timestamp) -> Option<Execution> {
        (!self.status.is_terminal()).then(|| self.changed(ExecutionStatus::Removed, now))
    }

    /// DeleteJobExecution: QUEUED or terminal executions; IN_PROGRESS only with force.
    pub fn check_delete(&self, force: bool) -> Result<(), Rejection> {
        if self.status == ExecutionStatus::InProgress && !force {
            return Err(Rejection::InvalidStateTransition {
                message: format!(
                    "the execution of job {} on {} is IN_PROGRESS; delete it with force=true",
                    self.job_id, self.thing_name
                ),
                execution: Some(self.state()),
            });
        }
        Ok(())
    }

    /// `approximateSecondsBeforeTimedOut`; absent once terminal or without a timer.
    pub fn seconds_before_timeout(&self, now: Timestamp) -> Option<i64> {
        if self.status.is_terminal() {
            return None;
        }
        self.effective_deadline()
            .map(|deadline| (deadline.0 - now.0).max(0) / 1000)
    }

    /// The timer fired: an IN_PROGRESS execution past its effective deadline
    /// becomes TIMED_OUT.
    pub fn time_out(&self, now: Timestamp) -> Option<Execution> {
        let due = self.effective_deadline().is_some_and(|d| d <= now);
        (self.status == ExecutionStatus::InProgress && due)
            .then(|| self.changed(ExecutionStatus::TimedOut, now))
    }

    /// The next attempt after a FAILED or TIMED_OUT execution, if the retry
    /// configuration has budget left for that failure type.
    pub fn retry(&self, config: Option<&RetryConfig>, now: Timestamp) -> Option<Execution> {
        let config = config?;
        let failure = match self.status {
            ExecutionStatus::Failed => RetryFailureType::Failed,
            ExecutionStatus::TimedOut => RetryFailureType::TimedOut,
            _ => return None,
        };
        if !config.allows_another(failure, self.retries) {
            return None;
        }
        let mut retries = self.retries;
        match failure {
            RetryFailureType::Failed => retries.failed += 1,
            _ => retries.timed_out += 1,
        }
        let mut next = Execution::queued(&self.job_id, &self.thing_name, now);
        next.execution_number = self.execution_number + 1;
        next.retries = retries;
        Some(next)
    }
}
