//! Job-level transitions (docs/lifecycle.md#job-transitions, #cancel, #delete): creation, update,
//! cancel, delete, completion, abort.

use serde::Deserialize;

use crate::abort::Abort;
use crate::config::{
    AbortConfig, JobConfig, RetryConfig, RetryFailureType, RolloutConfig, TimeoutConfig,
};
use crate::error::Rejection;
use crate::model::{ExecutionStatus, Job, JobStatus, JobType, StatusCounts, Tag, Targets};
use crate::time::Timestamp;
use crate::validate;

/// The CreateJob body (docs/control-plane.md#createjob): the seed's body as written plus AWS's
/// optional fields. `targetSelection` is AWS's name for `jobType`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateJob {
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub targets: Targets,
    pub document: serde_json::Value,
    #[serde(default, alias = "targetSelection")]
    pub job_type: Option<JobType>,
    #[serde(flatten)]
    pub config: JobConfig,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// The UpdateJob body: only these fields may change after creation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateJob {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub job_executions_rollout_config: Option<RolloutConfig>,
    #[serde(default)]
    pub abort_config: Option<AbortConfig>,
    #[serde(default)]
    pub timeout_config: Option<TimeoutConfig>,
    #[serde(default)]
    pub job_executions_retry_config: Option<RetryConfig>,
}

/// The CancelJob body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelJob {
    #[serde(default)]
    pub reason_code: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub force: bool,
}

/// The executions a job-level cancel sweeps: QUEUED, and IN_PROGRESS with force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelScope {
    pub force: bool,
}

impl CancelScope {
    pub fn statuses(self) -> &'static [ExecutionStatus] {
        if self.force {
            &[ExecutionStatus::Queued, ExecutionStatus::InProgress]
        } else {
            &[ExecutionStatus::Queued]
        }
    }
}

fn check_targets(targets: &Targets) -> Result<(), Rejection> {
    let total = targets.thing_names.len() + targets.thing_group_names.len();
    if total == 0 {
        return Err(Rejection::invalid(
            "targets",
            "name at least one thing in thingNames or group in thingGroupNames",
        ));
    }
    if total > validate::MAX_TARGETS {
        return Err(Rejection::invalid(
            "targets",
            format!(
                "has {total} entries; at most {} are allowed",
                validate::MAX_TARGETS
            ),
        ));
    }
    targets
        .thing_names
        .iter()
        .try_for_each(|n| validate::thing_name(n))?;
    targets
        .thing_group_names
        .iter()
        .try_for_each(|n| validate::thing_group_name(n))
}

/// Whether `new` would allow some thing more retries than `old`: for either
/// failure type, or in all (splitting an ALL budget into two raises it).
fn raises_retries(old: Option<&RetryConfig>, new: &RetryConfig) -> bool {
    let budget = |config: Option<&RetryConfig>, failure| config.map_or(0, |c| c.budget(failure));
    let total = |config: Option<&RetryConfig>| {
        config.map_or(0, |c| {
            c.criteria_list.iter().map(|c| c.number_of_retries).sum()
        })
    };
    [RetryFailureType::Failed, RetryFailureType::TimedOut]
        .into_iter()
        .any(|failure| budget(Some(new), failure) > budget(old, failure))
        || total(Some(new)) > total(old)
}

impl CreateJob {
    /// Validates the request and builds the job. `job_id` is used when the
    /// body has none (the caller makes a UUID). Targets are checked for form
    /// only; whether they exist is the store's question.
    pub fn into_job(self, generated_id: String, now: Timestamp) -> Result<Job, Rejection> {
        let job_id = self.job_id.unwrap_or(generated_id);
        validate::job_id(&job_id)?;
        if let Some(name) = &self.name {
            validate::free_text("name", name)?;
            if name.chars().count() > 128 {
                return Err(Rejection::invalid("name", "must be at most 128 characters"));
            }
        }
        if let Some(description) = &self.description {
            validate::free_text("description", description)?;
        }
        check_targets(&self.targets)?;
        let document = validate::document(&self.document)?;
        self.config.validate(now)?;
        for (i, tag) in self.tags.iter().enumerate() {
            let key_len = tag.key.chars().count();
            if key_len == 0 || key_len > 128 || tag.value.chars().count() > 256 {
                return Err(Rejection::invalid(
                    &format!("tags[{i}]"),
                    "Key must be 1-128 characters and Value at most 256",
                ));
            }
        }
        let mut job = Job {
            job_id,
            name: self.name,
            description: self.description,
            document,
            job_type: self.job_type.unwrap_or(JobType::Snapshot),
            targets: self.targets,
            config: self.config,
            status: JobStatus::InProgress,
            reason_code: None,
            comment: None,
            force_canceled: false,
            created_at: now,
            last_updated_at: now,
            completed_at: None,
            version: 1,
            rollout: Default::default(),
            end_applied: false,
            tags: self.tags,
        };
        job.status = job.initial_status(now);
        Ok(job)
    }
}

impl Job {
    /// A copy with the row version bumped and `lastUpdatedAt` set.
    pub(crate) fn changed(&self, now: Timestamp) -> Job {
        let mut next = self.clone();
        next.version += 1;
        next.last_updated_at = now;
        next
    }

    pub fn is_active(&self) -> bool {
        matches!(self.status, JobStatus::Scheduled | JobStatus::InProgress)
    }

    /// UpdateJob (docs/lifecycle.md#updatejob): description and the rollout, abort,
    /// timeout and retry configurations. A new timeout applies to executions
    /// that start afterwards; retries can only be lowered after creation.
    pub fn update(&self, update: UpdateJob, now: Timestamp) -> Result<Job, Rejection> {
        if self.status == JobStatus::DeletionInProgress {
            return Err(Rejection::job_transition(format!(
                "job {} is being deleted",
                self.job_id
            )));
        }
        if let Some(description) = &update.description {
            validate::free_text("description", description)?;
        }
        if let Some(new) = &update.job_executions_retry_config {
            if raises_retries(self.config.retry.as_ref(), new) {
                return Err(Rejection::invalid(
                    "jobExecutionsRetryConfig",
                    "after creation retries can only be lowered, not raised",
                ));
            }
        }
        let mut job = self.changed(now);
        if update.description.is_some() {
            job.description = update.description;
        }
        let config = &mut job.config;
        if let Some(rollout) = update.job_executions_rollout_config {
            config.rollout = Some(rollout);
        }
        if let Some(abort) = update.abort_config {
            config.abort = Some(abort);
        }
        if let Some(timeout) = update.timeout_config {
            config.timeout = Some(timeout);
        }
        if let Some(retry) = update.job_executions_retry_config {
            config.retry = Some(retry);
        }
        // The scheduling rules are anchored at creation; re-check only the rest.
        let mut unscheduled = job.config.clone();
        unscheduled.scheduling = None;
        unscheduled.validate(now)?;
        Ok(job)
    }

    /// CancelJob: IN_PROGRESS or SCHEDULED → CANCELED. A canceled job may be
    /// canceled again with force to cancel its IN_PROGRESS executions.
    pub fn cancel(
        &self,
        request: &CancelJob,
        now: Timestamp,
    ) -> Result<(Job, CancelScope), Rejection> {
        if let Some(code) = &request.reason_code {
            validate::reason_code(code)?;
        }
        if let Some(comment) = &request.comment {
            validate::free_text("comment", comment)?;
        }
        let again_with_force =
            self.status == JobStatus::Canceled && request.force && !self.force_canceled;
        if !self.is_active() && !again_with_force {
            return Err(Rejection::job_transition(format!(
                "job {} is {} and cannot be canceled",
                self.job_id, self.status
            )));
        }
        let mut job = self.changed(now);
        job.status = JobStatus::Canceled;
        job.force_canceled = request.force;
        if request.reason_code.is_some() || !again_with_force {
            job.reason_code = request.reason_code.clone();
        }
        if request.comment.is_some() || !again_with_force {
            job.comment = request.comment.clone();
        }
        job.completed_at = Some(now);
        job.rollout.stopped = true;
        Ok((
            job,
            CancelScope {
                force: request.force,
            },
        ))
    }

    /// The abort action: cancel without force, with the service's reason.
    pub fn abort(&self, abort: &Abort, now: Timestamp) -> Result<(Job, CancelScope), Rejection> {
        self.cancel(
            &CancelJob {
                reason_code: Some(Abort::REASON_CODE.to_owned()),
                comment: Some(abort.comment.clone()),
                force: false,
            },
            now,
        )
    }

    /// DeleteJob: → DELETION_IN_PROGRESS. Without force only COMPLETED or
    /// CANCELED jobs may be deleted.
    pub fn begin_deletion(&self, force: bool, now: Timestamp) -> Result<Job, Rejection> {
        match self.status {
            JobStatus::DeletionInProgress => Err(Rejection::job_transition(format!(
                "job {} is already being deleted",
                self.job_id
            ))),
            JobStatus::InProgress | JobStatus::Scheduled if !force => {
                Err(Rejection::job_transition(format!(
                    "job {} is {}; cancel it first or delete with force=true",
                    self.job_id, self.status
                )))
            }
            _ => {
                let mut job = self.changed(now);
                job.status = JobStatus::DeletionInProgress;
                job.rollout.stopped = true;
                Ok(job)
            }
        }
    }

    /// AssociateTargetsWithJob: continuous, IN_PROGRESS, ≤ 100 targets in all.
    pub fn associate_targets(&self, extra: &Targets, now: Timestamp) -> Result<Job, Rejection> {
        if self.job_type != JobType::Continuous {
            return Err(Rejection::job_transition(format!(
                "job {} is SNAPSHOT; targets can only be added to CONTINUOUS jobs",
                self.job_id
            )));
        }
        if self.status != JobStatus::InProgress {
            return Err(Rejection::job_transition(format!(
                "job {} is {}; targets can only be added while IN_PROGRESS",
                self.job_id, self.status
            )));
        }
        let mut job = self.changed(now);
        for name in &extra.thing_names {
            if !job.targets.thing_names.contains(name) {
                job.targets.thing_names.push(name.clone());
            }
        }
        for name in &extra.thing_group_names {
            if !job.targets.thing_group_names.contains(name) {
                job.targets.thing_group_names.push(name.clone());
            }
        }
        check_targets(&job.targets)?;
        Ok(job)
    }

    /// A SNAPSHOT job is COMPLETED once nothing is left to release and every
    /// execution is terminal; a CONTINUOUS one only after its endTime.
    pub fn completion(&self, counts: &StatusCounts, now: Timestamp) -> Option<Job> {
        let done_rolling_out = self.rollout.pending_targets == 0 || self.rollout.stopped;
        let may_complete = match self.job_type {
            JobType::Snapshot => true,
            JobType::Continuous => self
                .config
                .scheduling
                .as_ref()
                .and_then(|s| s.end())
                .is_some_and(|end| now >= end),
        };
        if self.status != JobStatus::InProgress
            || !done_rolling_out
            || !may_complete
            || counts.active() > 0
        {
            return None;
        }
        let mut job = self.changed(now);
        job.status = JobStatus::Completed;
        job.completed_at = Some(now);
        Some(job)
    }

    /// The executions a cancel of this job reaches (QUEUED, and IN_PROGRESS
    /// once canceled with force).
    pub fn cancel_scope(&self) -> CancelScope {
        CancelScope {
            force: self.force_canceled,
        }
    }

    /// Whether new continuous-job members get an execution now.
    pub fn accepts_new_members(&self) -> bool {
        self.job_type == JobType::Continuous && self.status == JobStatus::InProgress
    }
}
