//! Every command of the service, and a job's tick at `now`, as an
//! [`Outcome`]: the caller loads the state named in each signature, calls
//! one of these, and applies what comes back (docs/lifecycle.md).

use std::collections::BTreeMap;

use crate::execution::{CancelBy, DeviceUpdate};
use crate::job::{CancelJob, CancelScope, UpdateJob};
use crate::model::{
    Execution, ExecutionStatus, Job, JobStatus, StatusCounts, StatusDetails, Targets,
};
use crate::outcome::{
    Changes, Due, Event, ExecutionWrite, FollowUp, JobWrite, Outcome, PendingLists, BATCH,
    RELEASE_BATCH,
};
use crate::schedule::ScheduleStep;
use crate::time::Timestamp;
use crate::Rejection;

/// A thing a command may give an execution of a job, with its latest
/// execution of that job, if it had one.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub thing_name: String,
    pub latest: Option<Execution>,
}

/// A job that targets a group a thing joins or leaves.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupJob {
    pub job: Job,
    /// The thing's latest execution of the job.
    pub latest: Option<Execution>,
    /// Whether the job still targets the thing (directly or through another
    /// group) after the change.
    pub still_targets: bool,
}

fn save(outcome: &mut Outcome, previous: &Job, next: Job, clear_queue: bool, now: Timestamp) {
    if next.is_active() {
        outcome.due.insert(next.job_id.clone(), Due::By(now));
    }
    outcome.job = Some(JobWrite::Update {
        previous_version: previous.version,
        next,
        clear_queue,
    });
}

/// A job the core canceled (request, abort, end time): its unreleased
/// targets are dropped and its executions in `scope` canceled in batches.
fn canceled(outcome: &mut Outcome, previous: &Job, next: Job, scope: CancelScope, now: Timestamp) {
    let job_id = next.job_id.clone();
    save(outcome, previous, next, true, now);
    outcome.follow_ups.push(FollowUp::Cancel {
        job_id: job_id.clone(),
        scope,
    });
    // Due until the last batch is done, so an interrupted cancel resumes.
    outcome.due.insert(job_id, Due::At(Some(now)));
}

/// Releases what the rollout pace allows now, at most [`RELEASE_BATCH`]
/// (the executions follow in the same transaction); returns the job as
/// released.
fn release_into(
    outcome: &mut Outcome,
    job: &Job,
    counts: &StatusCounts,
    now: Timestamp,
) -> Option<Job> {
    let succeeded = counts.get(ExecutionStatus::Succeeded);
    let release = job.release_at_most(now, succeeded, RELEASE_BATCH)?;
    outcome.events.push(Event::Released(release.count));
    outcome.follow_ups.push(FollowUp::Release {
        job: Box::new(release.job.clone()),
        count: release.count,
    });
    Some(release.job)
}

/// CreateJob, once the request is a valid job and its targets are resolved
/// and queued (`queued` distinct things): the job, and what its pace
/// releases at once.
pub fn create_job(job: Job, queued: u64, now: Timestamp) -> Outcome {
    let mut job = job;
    job.rollout.pending_targets = queued;
    let mut outcome = Outcome::default();
    let job = release_into(&mut outcome, &job, &StatusCounts::default(), now).unwrap_or(job);
    outcome
        .due
        .insert(job.job_id.clone(), Due::At(job.next_due(now)));
    outcome.job = Some(JobWrite::Insert { job });
    outcome
}

/// Gives each target a new QUEUED execution of `job` (numbered after its
/// latest), unless it still has an open one: a thing has at most one open
/// execution per job.
pub fn queue(job: &Job, targets: &[Target], pending: &PendingLists, now: Timestamp) -> Outcome {
    let mut changes = Changes::new(pending, now);
    queue_into(&mut changes, job, targets, now);
    changes.finish()
}

fn queue_into(changes: &mut Changes<'_>, job: &Job, targets: &[Target], now: Timestamp) {
    for target in targets {
        if target
            .latest
            .as_ref()
            .is_some_and(|e| !e.status.is_terminal())
        {
            continue;
        }
        let mut execution = Execution::queued(&job.job_id, &target.thing_name, now);
        if let Some(latest) = &target.latest {
            execution.execution_number = latest.execution_number + 1;
        }
        changes.insert(execution);
        changes.wake(job);
    }
}

/// A paced job's release at `now`, alone (the tick does this among its steps).
pub fn release(job: &Job, counts: &StatusCounts, now: Timestamp) -> Outcome {
    let mut outcome = Outcome::default();
    if let Some(next) = release_into(&mut outcome, job, counts, now) {
        save(&mut outcome, job, next, false, now);
    }
    outcome
}

/// UpdateJob.
pub fn update_job(job: &Job, update: UpdateJob, now: Timestamp) -> Result<Outcome, Rejection> {
    let next = job.update(update, now)?;
    let mut outcome = Outcome::default();
    save(&mut outcome, job, next, false, now);
    Ok(outcome)
}

/// AssociateTargetsWithJob: `targets` are the new targets resolved to things.
pub fn associate_targets(
    job: &Job,
    extra: &Targets,
    targets: &[Target],
    pending: &PendingLists,
    now: Timestamp,
) -> Result<Outcome, Rejection> {
    let next = job.associate_targets(extra, now)?;
    let mut changes = Changes::new(pending, now);
    queue_into(&mut changes, &next, targets, now);
    save(changes.outcome(), job, next, false, now);
    Ok(changes.finish())
}

/// UpdateJobExecution from a device, decided in two steps: the execution's
/// next state, then its outcome, for which [`DeviceUpdated::outcome`] asks
/// for the thing's pending list only if the status moved. A report that
/// keeps the status (progress: details, version, timestamps) moves neither
/// the list (ordered by status and queuedAt), so it notifies no one, nor
/// the job's counts, so the job's tick has nothing new to see.
pub fn device_update<'a>(
    job: &'a Job,
    execution: &'a Execution,
    update: &DeviceUpdate,
    now: Timestamp,
) -> Result<DeviceUpdated<'a>, Rejection> {
    let next = execution.device_update(update, job.config.timeout.as_ref(), now)?;
    Ok(DeviceUpdated {
        job,
        previous: execution,
        next,
        now,
    })
}

/// A device update decided, before its notices and its job's wake-up.
pub struct DeviceUpdated<'a> {
    job: &'a Job,
    previous: &'a Execution,
    next: Execution,
    now: Timestamp,
}

impl DeviceUpdated<'_> {
    /// The outcome; `pending_lists` (the thing's) is called only when the
    /// status moved.
    pub fn outcome<E>(
        self,
        pending_lists: impl FnOnce() -> Result<PendingLists, E>,
    ) -> Result<Outcome, E> {
        if self.next.status == self.previous.status {
            return Ok(Outcome {
                executions: vec![ExecutionWrite::Update {
                    previous: self.previous.clone(),
                    next: self.next,
                }],
                ..Outcome::default()
            });
        }
        let pending = pending_lists()?;
        let mut changes = Changes::new(&pending, self.now);
        changes.settle(self.job, self.previous, self.next);
        Ok(changes.finish())
    }
}

/// StartNextPendingJobExecution on the head of the thing's pending list; no
/// outcome when the head is already IN_PROGRESS (it is returned unchanged).
pub fn start_next(
    job: &Job,
    head: &Execution,
    pending: &PendingLists,
    status_details: Option<&StatusDetails>,
    step_timeout_in_minutes: Option<i64>,
    now: Timestamp,
) -> Result<Option<Outcome>, Rejection> {
    let started = head.start_next(
        status_details,
        step_timeout_in_minutes,
        job.config.timeout.as_ref(),
        now,
    )?;
    Ok(started.map(|next| {
        let mut changes = Changes::new(pending, now);
        changes.settle(job, head, next);
        changes.finish()
    }))
}

/// CancelJobExecution from the control plane.
pub fn cancel_execution(
    job: &Job,
    execution: &Execution,
    pending: &PendingLists,
    by: CancelBy,
    status_details: Option<&StatusDetails>,
    now: Timestamp,
) -> Result<Outcome, Rejection> {
    let next = execution.cancel(by, status_details, now)?;
    let mut changes = Changes::new(pending, now);
    changes.settle(job, execution, next);
    Ok(changes.finish())
}

/// DeleteJobExecution.
pub fn delete_execution(
    job: &Job,
    execution: &Execution,
    pending: &PendingLists,
    force: bool,
    now: Timestamp,
) -> Result<Outcome, Rejection> {
    execution.check_delete(force)?;
    let mut changes = Changes::new(pending, now);
    changes.delete(execution);
    changes.wake(job);
    Ok(changes.finish())
}

/// CancelJob: the job becomes CANCELED; its executions follow in batches.
pub fn cancel_job(job: &Job, request: &CancelJob, now: Timestamp) -> Result<Outcome, Rejection> {
    let (next, scope) = job.cancel(request, now)?;
    let mut outcome = Outcome::default();
    canceled(&mut outcome, job, next, scope, now);
    Ok(outcome)
}

/// One batch of a canceled job's executions in its cancel's scope (loaded
/// up to [`BATCH`]); a full batch means more may follow.
pub fn cancel_batch(
    job: &Job,
    batch: &[Execution],
    pending: &PendingLists,
    now: Timestamp,
) -> Result<Outcome, Rejection> {
    let scope = job.cancel_scope();
    let mut changes = Changes::new(pending, now);
    for execution in batch {
        let next = execution.cancel(CancelBy::Job { force: scope.force }, None, now)?;
        changes.settle(job, execution, next);
    }
    // A full batch: more may follow, and the job stays due until they are done.
    let more = batch.len() == BATCH;
    let outcome = changes.outcome();
    if more {
        outcome.follow_ups.push(FollowUp::Cancel {
            job_id: job.job_id.clone(),
            scope,
        });
    }
    outcome
        .due
        .insert(job.job_id.clone(), Due::At(more.then_some(now)));
    Ok(changes.finish())
}

/// DeleteJob: the job becomes DELETION_IN_PROGRESS and is purged in batches.
pub fn delete_job(job: &Job, force: bool, now: Timestamp) -> Result<Outcome, Rejection> {
    let next = job.begin_deletion(force, now)?;
    let job_id = next.job_id.clone();
    let mut outcome = Outcome::default();
    save(&mut outcome, job, next, false, now);
    outcome.follow_ups.push(FollowUp::Purge {
        job_id: job_id.clone(),
    });
    outcome.due.insert(job_id, Due::At(Some(now)));
    Ok(outcome)
}

/// One batch of a job being deleted (loaded up to [`BATCH`], any status);
/// the job itself goes with the last one.
pub fn purge_batch(
    job: &Job,
    batch: &[Execution],
    pending: &PendingLists,
    now: Timestamp,
) -> Outcome {
    if job.status != JobStatus::DeletionInProgress {
        return Outcome::default();
    }
    let mut changes = Changes::new(pending, now);
    for execution in batch {
        changes.delete(execution);
    }
    let outcome = changes.outcome();
    if batch.len() < BATCH {
        outcome.job = Some(JobWrite::Delete {
            job_id: job.job_id.clone(),
        });
    } else {
        outcome.follow_ups.push(FollowUp::Purge {
            job_id: job.job_id.clone(),
        });
        outcome.due.insert(job.job_id.clone(), Due::At(Some(now)));
    }
    changes.finish()
}

/// A thing joined a group: continuous jobs targeting the group that accept
/// new members give it an execution now.
pub fn join_group(
    jobs: &[GroupJob],
    thing_name: &str,
    pending: &PendingLists,
    now: Timestamp,
) -> Outcome {
    let mut changes = Changes::new(pending, now);
    for group_job in jobs.iter().filter(|j| j.job.accepts_new_members()) {
        let target = Target {
            thing_name: thing_name.to_owned(),
            latest: group_job.latest.clone(),
        };
        queue_into(&mut changes, &group_job.job, &[target], now);
    }
    changes.finish()
}

/// A thing left a group: its open executions of continuous jobs that no
/// longer target it become REMOVED.
pub fn leave_group(jobs: &[GroupJob], pending: &PendingLists, now: Timestamp) -> Outcome {
    let mut changes = Changes::new(pending, now);
    for group_job in jobs {
        if !group_job.job.accepts_new_members() || group_job.still_targets {
            continue;
        }
        if let Some(latest) = &group_job.latest {
            if let Some(next) = latest.remove(now) {
                changes.settle(&group_job.job, latest, next);
            }
        }
    }
    changes.finish()
}

/// DeleteThing: its open executions become REMOVED. `jobs` holds the job of
/// each of them.
pub fn delete_thing(
    thing_name: &str,
    jobs: &BTreeMap<String, Job>,
    pending: &PendingLists,
    now: Timestamp,
) -> Outcome {
    let mut changes = Changes::new(pending, now);
    for execution in pending.get(thing_name).into_iter().flatten() {
        if let (Some(job), Some(next)) = (jobs.get(&execution.job_id), execution.remove(now)) {
            changes.settle(job, execution, next);
        }
    }
    changes.finish()
}

/// The timers of `due` executions (loaded by deadline) fire; `jobs` holds
/// the job of each.
pub fn time_out(
    due: &[Execution],
    jobs: &BTreeMap<String, Job>,
    pending: &PendingLists,
    now: Timestamp,
) -> Outcome {
    let mut changes = Changes::new(pending, now);
    for execution in due {
        if let (Some(job), Some(next)) = (jobs.get(&execution.job_id), execution.time_out(now)) {
            changes.settle(job, execution, next);
        }
    }
    changes.finish()
}

/// A job's tick at `now`, its steps in order: schedule and maintenance
/// windows, end behaviour, abort, paced release, completion; for a canceled
/// or deleted job, the batches still to do. Says when the job is due next.
pub fn tick(job: &Job, counts: &StatusCounts, now: Timestamp) -> Result<Outcome, Rejection> {
    let mut outcome = Outcome::default();
    let finished = |outcome: &mut Outcome, follow_up: Option<FollowUp>| {
        outcome.due.insert(
            job.job_id.clone(),
            Due::At(follow_up.is_some().then_some(now)),
        );
        outcome.follow_ups.extend(follow_up);
    };
    match job.status {
        JobStatus::DeletionInProgress => {
            let purge = FollowUp::Purge {
                job_id: job.job_id.clone(),
            };
            finished(&mut outcome, Some(purge));
            return Ok(outcome);
        }
        JobStatus::Canceled | JobStatus::Completed => {
            let scope = job.cancel_scope();
            let left = job.status == JobStatus::Canceled
                && scope.statuses().iter().any(|s| counts.get(*s) > 0);
            let cancel = left.then(|| FollowUp::Cancel {
                job_id: job.job_id.clone(),
                scope,
            });
            finished(&mut outcome, cancel);
            return Ok(outcome);
        }
        JobStatus::Scheduled | JobStatus::InProgress => {}
    }
    let mut current = job.clone();
    match job.schedule_step(now) {
        ScheduleStep::Idle => {}
        ScheduleStep::Update(next) => {
            outcome.events.push(Event::Rescheduled);
            current = *next;
        }
        ScheduleStep::Cancel { force } => {
            let (next, scope) = job.end_by_cancel(force, now)?;
            outcome.events.push(Event::Ended);
            canceled(&mut outcome, job, next, scope, now);
            return Ok(outcome);
        }
    }
    if current.status == JobStatus::InProgress {
        if let Some(abort) = current
            .config
            .abort
            .as_ref()
            .and_then(|a| a.evaluate(counts))
        {
            let (next, scope) = current.abort(&abort, now)?;
            outcome.events.push(Event::Aborted);
            canceled(&mut outcome, job, next, scope, now);
            return Ok(outcome);
        }
        if let Some(released) = release_into(&mut outcome, &current, counts, now) {
            current = released;
        } else if let Some(done) = current.completion(counts, now) {
            outcome.events.push(Event::Completed);
            current = done;
        }
    }
    let due = current.next_due(now);
    if current != *job {
        save(&mut outcome, job, current, false, now);
    }
    outcome.due.insert(job.job_id.clone(), Due::At(due));
    Ok(outcome)
}
