//! Units of work: each loads state, asks the core, and writes the result with
//! its counters and outbox rows in one transaction. A rejection rolls back,
//! so a refused request writes nothing.

use std::collections::{BTreeSet, HashMap};

use fleetjobs_core::execution::{CancelBy, DeviceUpdate};
use fleetjobs_core::job::{CancelJob, CancelScope, CreateJob, UpdateJob};
use fleetjobs_core::model::{Execution, ExecutionStatus, JobStatus, StatusDetails, Targets};
use fleetjobs_core::notify::{notices, pending_list};
use fleetjobs_core::{protocol, Job, Rejection, Timestamp};
use serde_json::{Map, Value};

use crate::sql::Sql;
use crate::{Error, Result, Store};

/// How many executions one transaction of a bulk job-level change touches.
pub const BATCH: usize = 1000;
/// Batches a job-level cancel does within its request, so a request for a
/// big job stays well inside the execution deadline.
pub const CANCEL_BATCHES_INLINE: usize = 5;

fn not_found(job_id: &str, thing_name: &str) -> Error {
    Rejection::ResourceNotFound(format!(
        "job {job_id} has no execution on thing {thing_name}"
    ))
    .into()
}

fn changed_concurrently() -> Error {
    Rejection::Conflict("the execution changed concurrently; retry".into()).into()
}

/// Turns pending-list changes into outbox rows, caching job documents.
struct Notifier<'a, S> {
    store: &'a Store<S>,
    documents: HashMap<String, Map<String, Value>>,
    now: Timestamp,
}

impl<'a, S: Sql> Notifier<'a, S> {
    fn new(store: &'a Store<S>, now: Timestamp) -> Self {
        Notifier {
            store,
            documents: HashMap::new(),
            now,
        }
    }

    /// Writes the notices caused by `changed` executions of one thing whose
    /// pending list was `before`.
    fn changed(
        &mut self,
        thing_name: &str,
        before: &[Execution],
        changed: &[Execution],
    ) -> Result<()> {
        let mut after: Vec<Execution> = before
            .iter()
            .filter(|b| {
                !changed
                    .iter()
                    .any(|c| c.job_id == b.job_id && c.execution_number == b.execution_number)
            })
            .cloned()
            .collect();
        after.extend(changed.iter().cloned());
        let after = pending_list(after);
        for notice in notices(thing_name, before, &after) {
            let document = match &notice {
                fleetjobs_core::notify::Notice::NotifyNext {
                    head: Some(head), ..
                } => Some(self.document(&head.job_id)?),
                _ => None,
            };
            let (suffix, payload) = protocol::notice(&notice, document.as_ref(), self.now);
            let topic = protocol::topic(&self.store.options.topic_prefix, thing_name, suffix);
            self.store
                .enqueue_message(&topic, payload.to_string().as_bytes(), self.now)?;
        }
        Ok(())
    }

    fn document(&mut self, job_id: &str) -> Result<Map<String, Value>> {
        if let Some(document) = self.documents.get(job_id) {
            return Ok(document.clone());
        }
        let document = self.store.existing_job(job_id)?.document;
        self.documents.insert(job_id.to_owned(), document.clone());
        Ok(document)
    }
}

impl<S: Sql> Store<S> {
    /// Changes one execution through the core's decision `next`, with the
    /// retry it may cause and the notices, inside the caller's transaction.
    fn apply_execution_change(
        &self,
        notifier: &mut Notifier<'_, S>,
        job: &Job,
        previous: &Execution,
        next: Execution,
    ) -> Result<Execution> {
        let before = self.pending_for_thing(&previous.thing_name)?;
        if !self.update_execution(previous, &next)? {
            return Err(changed_concurrently());
        }
        let mut changed = vec![next.clone()];
        if job.is_active() {
            if let Some(retry) = next.retry(job.config.retry.as_ref(), notifier.now) {
                self.insert_execution(&retry)?;
                changed.push(retry);
            }
        }
        notifier.changed(&previous.thing_name, &before, &changed)?;
        Ok(next)
    }

    /// Gives each thing a new QUEUED execution of `job` (a higher
    /// executionNumber if it had one before), with notices.
    fn queue_executions(&self, job: &Job, things: &[String], now: Timestamp) -> Result<()> {
        let mut notifier = Notifier::new(self, now);
        for thing in things {
            let before = self.pending_for_thing(thing)?;
            let mut execution = Execution::queued(&job.job_id, thing, now);
            if let Some(last) = self.execution(&job.job_id, thing, None)? {
                execution.execution_number = last.execution_number + 1;
            }
            self.insert_execution(&execution)?;
            notifier.changed(thing, &before, &[execution])?;
        }
        Ok(())
    }

    /// Resolves target things and groups to distinct thing names; unknown
    /// targets are refused.
    fn resolve_targets(&self, targets: &Targets) -> Result<Vec<String>> {
        let missing = self.missing_things(&targets.thing_names)?;
        if let Some(name) = missing.first() {
            return Err(Rejection::ResourceNotFound(format!(
                "targets.thingNames: thing {name} does not exist"
            ))
            .into());
        }
        let mut things: BTreeSet<String> = targets.thing_names.iter().cloned().collect();
        for group in &targets.thing_group_names {
            if self.group(group)?.is_none() {
                return Err(Rejection::ResourceNotFound(format!(
                    "targets.thingGroupNames: thing group {group} does not exist"
                ))
                .into());
            }
            things.extend(self.all_group_members(group)?);
        }
        Ok(things.into_iter().collect())
    }

    /// CreateJob: validates, resolves the targets and, without a rollout
    /// rate, queues and notifies every execution in the same transaction.
    pub fn create_job(
        &self,
        request: CreateJob,
        generated_id: String,
        now: Timestamp,
    ) -> Result<Job> {
        let mut job = request.into_job(generated_id, now)?;
        self.transaction(|store| {
            let things = store.resolve_targets(&job.targets)?;
            job.rollout.pending_targets = things.len() as u64;
            store.insert_job(&job)?;
            store.push_pending_targets(&job.job_id, &things)?;
            store.release_now(&job, now)
        })
    }

    /// Releases what the rollout pace allows now; returns the job as saved.
    pub(crate) fn release_now(&self, job: &Job, now: Timestamp) -> Result<Job> {
        let succeeded = self
            .status_counts(&job.job_id)?
            .get(ExecutionStatus::Succeeded);
        let Some(release) = job.release(now, succeeded) else {
            return Ok(job.clone());
        };
        self.save_job(job, &release.job)?;
        let things = self.pop_pending_targets(&job.job_id, release.count)?;
        self.queue_executions(&release.job, &things, now)?;
        Ok(release.job)
    }

    /// A sweeper step: releases a paced job's next targets.
    pub fn release_job(&self, job_id: &str, now: Timestamp) -> Result<Job> {
        self.transaction(|store| {
            let job = store.existing_job(job_id)?;
            store.release_now(&job, now)
        })
    }

    /// UpdateJob: description and the rollout, abort, timeout and retry
    /// configurations.
    pub fn update_job(&self, job_id: &str, update: UpdateJob, now: Timestamp) -> Result<Job> {
        self.transaction(|store| {
            let job = store.existing_job(job_id)?;
            let next = job.update(update, now)?;
            store.save_job(&job, &next)?;
            Ok(next)
        })
    }

    /// AssociateTargetsWithJob (continuous jobs): the new targets' things get
    /// an execution now, unless they already have an open one.
    pub fn associate_targets(&self, job_id: &str, extra: &Targets, now: Timestamp) -> Result<Job> {
        self.transaction(|store| {
            let job = store.existing_job(job_id)?;
            let next = job.associate_targets(extra, now)?;
            let mut new_things = Vec::new();
            for thing in store.resolve_targets(extra)? {
                let open = store
                    .execution(job_id, &thing, None)?
                    .is_some_and(|e| !e.status.is_terminal());
                if !open {
                    new_things.push(thing);
                }
            }
            store.save_job(&job, &next)?;
            store.queue_executions(&next, &new_things, now)?;
            Ok(next)
        })
    }

    /// UpdateJobExecution from a device.
    pub fn device_update(
        &self,
        thing_name: &str,
        job_id: &str,
        execution_number: Option<i64>,
        update: &DeviceUpdate,
        now: Timestamp,
    ) -> Result<Execution> {
        self.transaction(|store| {
            let previous = store
                .execution(job_id, thing_name, execution_number)?
                .ok_or_else(|| not_found(job_id, thing_name))?;
            let job = store.existing_job(job_id)?;
            let next = previous.device_update(update, job.config.timeout.as_ref(), now)?;
            let mut notifier = Notifier::new(store, now);
            store.apply_execution_change(&mut notifier, &job, &previous, next)
        })
    }

    /// StartNextPendingJobExecution: the head of the thing's pending list,
    /// started if it was QUEUED; none when nothing is pending.
    pub fn start_next(
        &self,
        thing_name: &str,
        status_details: Option<&StatusDetails>,
        step_timeout_in_minutes: Option<i64>,
        now: Timestamp,
    ) -> Result<Option<Execution>> {
        self.transaction(|store| {
            let Some(head) = store.pending_for_thing(thing_name)?.into_iter().next() else {
                return Ok(None);
            };
            let job = store.existing_job(&head.job_id)?;
            match head.start_next(
                status_details,
                step_timeout_in_minutes,
                job.config.timeout.as_ref(),
                now,
            )? {
                None => Ok(Some(head)),
                Some(next) => {
                    let mut notifier = Notifier::new(store, now);
                    store
                        .apply_execution_change(&mut notifier, &job, &head, next)
                        .map(Some)
                }
            }
        })
    }

    /// Cancels one batch of a job's executions in `scope`; returns how many.
    fn cancel_batch(&self, job: &Job, scope: CancelScope, now: Timestamp) -> Result<usize> {
        let batch = self.executions_of_job_in(&job.job_id, scope.statuses(), BATCH)?;
        let mut notifier = Notifier::new(self, now);
        for previous in &batch {
            let next = previous.cancel(CancelBy::Job { force: scope.force }, None, now)?;
            self.apply_execution_change(&mut notifier, job, previous, next)?;
        }
        Ok(batch.len())
    }

    /// CancelJob: the job becomes CANCELED and its QUEUED executions (and
    /// IN_PROGRESS ones with force) are canceled, in batches of [`BATCH`]: up
    /// to [`CANCEL_BATCHES_INLINE`] with the request, the rest by the sweeper.
    pub fn cancel_job(&self, job_id: &str, request: &CancelJob, now: Timestamp) -> Result<Job> {
        let job = self.transaction(|store| {
            let job = store.existing_job(job_id)?;
            let (next, scope) = job.cancel(request, now)?;
            store.apply_cancel(&job, &next, scope, now)?;
            Ok(next)
        })?;
        self.finish_cancel(&job, now, CANCEL_BATCHES_INLINE)?;
        Ok(job)
    }

    /// Saves a job the core canceled (by request, abort or end time), drops
    /// its unreleased targets and cancels the first batch of its executions;
    /// [`Self::finish_cancel`] does the rest after the commit.
    pub(crate) fn apply_cancel(
        &self,
        job: &Job,
        next: &Job,
        scope: CancelScope,
        now: Timestamp,
    ) -> Result<()> {
        self.save_job(job, next)?;
        self.sql.execute(
            "DELETE FROM job_pending_targets WHERE job_id = ?1",
            crate::params![&job.job_id],
        )?;
        self.cancel_batch(next, scope, now)?;
        Ok(())
    }

    /// Cancels what is left of a canceled job's executions, a batch per
    /// transaction, at most `max_batches` (the sweeper finishes the rest).
    pub fn finish_cancel(&self, job: &Job, now: Timestamp, max_batches: usize) -> Result<()> {
        let scope = CancelScope {
            force: job.force_canceled,
        };
        for _ in 0..max_batches {
            if self.transaction(|store| store.cancel_batch(job, scope, now))? < BATCH {
                break;
            }
        }
        Ok(())
    }

    /// CancelJobExecution from the control plane.
    pub fn cancel_execution(
        &self,
        job_id: &str,
        thing_name: &str,
        force: bool,
        expected_version: Option<i64>,
        status_details: Option<&StatusDetails>,
        now: Timestamp,
    ) -> Result<Execution> {
        self.transaction(|store| {
            let job = store.existing_job(job_id)?;
            let previous = store
                .execution(job_id, thing_name, None)?
                .ok_or_else(|| not_found(job_id, thing_name))?;
            let by = CancelBy::Operator {
                force,
                expected_version,
            };
            let next = previous.cancel(by, status_details, now)?;
            let mut notifier = Notifier::new(store, now);
            store.apply_execution_change(&mut notifier, &job, &previous, next)
        })
    }

    /// DeleteJobExecution.
    pub fn delete_execution(
        &self,
        job_id: &str,
        thing_name: &str,
        execution_number: i64,
        force: bool,
        now: Timestamp,
    ) -> Result<()> {
        self.transaction(|store| {
            let execution = store
                .execution(job_id, thing_name, Some(execution_number))?
                .ok_or_else(|| not_found(job_id, thing_name))?;
            execution.check_delete(force)?;
            let before = store.pending_for_thing(thing_name)?;
            store.delete_executions(std::slice::from_ref(&execution))?;
            let mut gone = execution;
            gone.status = ExecutionStatus::Removed;
            Notifier::new(store, now).changed(thing_name, &before, &[gone])
        })
    }

    /// DeleteJob: the job becomes DELETION_IN_PROGRESS; [`Self::purge_job`]
    /// removes it in batches.
    pub fn delete_job(&self, job_id: &str, force: bool, now: Timestamp) -> Result<Job> {
        self.transaction(|store| {
            let job = store.existing_job(job_id)?;
            let next = job.begin_deletion(force, now)?;
            store.save_job(&job, &next)?;
            Ok(next)
        })
    }

    /// Deletes one batch of a job being deleted; true once the job is gone.
    pub fn purge_job(&self, job_id: &str, now: Timestamp) -> Result<bool> {
        self.transaction(|store| {
            let Some(job) = store.job(job_id)? else {
                return Ok(true);
            };
            if job.status != JobStatus::DeletionInProgress {
                return Ok(false);
            }
            let batch = store.executions_of_job_in(job_id, ExecutionStatus::ALL, BATCH)?;
            let mut notifier = Notifier::new(store, now);
            for execution in &batch {
                let before = if execution.status.is_terminal() {
                    Vec::new()
                } else {
                    store.pending_for_thing(&execution.thing_name)?
                };
                store.delete_executions(std::slice::from_ref(execution))?;
                if !before.is_empty() {
                    let mut gone = execution.clone();
                    gone.status = ExecutionStatus::Removed;
                    notifier.changed(&execution.thing_name, &before, &[gone])?;
                }
            }
            if batch.len() < BATCH {
                store.delete_job_rows(job_id)?;
                return Ok(true);
            }
            Ok(false)
        })
    }

    /// Adds a thing to a group; continuous jobs targeting the group give it
    /// an execution at once (design §4), in the same transaction.
    pub fn add_thing_to_group(
        &self,
        group_name: &str,
        thing_name: &str,
        now: Timestamp,
    ) -> Result<()> {
        self.transaction(|store| {
            store.existing_group(group_name)?;
            store.existing_thing(thing_name)?;
            if !store.insert_member(group_name, thing_name)? {
                return Ok(());
            }
            for job in store.continuous_jobs_targeting(group_name)? {
                let open = store
                    .execution(&job.job_id, thing_name, None)?
                    .is_some_and(|e| !e.status.is_terminal());
                if job.accepts_new_members() && !open {
                    store.queue_executions(
                        &job,
                        std::slice::from_ref(&thing_name.to_owned()),
                        now,
                    )?;
                }
            }
            Ok(())
        })
    }

    /// Removes a thing from a group; its open executions of continuous jobs
    /// it is no longer targeted by become REMOVED.
    pub fn remove_thing_from_group(
        &self,
        group_name: &str,
        thing_name: &str,
        now: Timestamp,
    ) -> Result<()> {
        self.transaction(|store| {
            store.existing_group(group_name)?;
            if !store.delete_member(group_name, thing_name)? {
                return Err(Rejection::ResourceNotFound(format!(
                    "thing {thing_name} is not a member of thing group {group_name}"
                ))
                .into());
            }
            let mut notifier = Notifier::new(store, now);
            for job in store.continuous_jobs_targeting(group_name)? {
                if store.job_targets_thing(&job.job_id, thing_name)? {
                    continue;
                }
                if let Some(previous) = store.execution(&job.job_id, thing_name, None)? {
                    if let Some(next) = previous.remove(now) {
                        store.apply_execution_change(&mut notifier, &job, &previous, next)?;
                    }
                }
            }
            Ok(())
        })
    }

    /// DeleteThing: its open executions become REMOVED (with notices and
    /// counters), then the thing and its memberships go.
    pub fn delete_thing(&self, thing_name: &str, now: Timestamp) -> Result<()> {
        self.transaction(|store| {
            store.existing_thing(thing_name)?;
            let mut notifier = Notifier::new(store, now);
            for previous in store.pending_for_thing(thing_name)? {
                let job = store.existing_job(&previous.job_id)?;
                if let Some(next) = previous.remove(now) {
                    store.apply_execution_change(&mut notifier, &job, &previous, next)?;
                }
            }
            store.delete_thing_rows(thing_name)?;
            Ok(())
        })
    }

    /// Times out up to `limit` executions past their deadline (with their
    /// retries and notices); returns how many.
    pub fn time_out_due(&self, now: Timestamp, limit: usize) -> Result<usize> {
        self.transaction(|store| {
            let due = store.executions_due(now, limit)?;
            let mut notifier = Notifier::new(store, now);
            let mut jobs: HashMap<String, Job> = HashMap::new();
            let mut timed_out = 0;
            for previous in &due {
                let Some(next) = previous.time_out(now) else {
                    continue;
                };
                if !jobs.contains_key(&previous.job_id) {
                    jobs.insert(
                        previous.job_id.clone(),
                        store.existing_job(&previous.job_id)?,
                    );
                }
                store.apply_execution_change(
                    &mut notifier,
                    &jobs[&previous.job_id],
                    previous,
                    next,
                )?;
                timed_out += 1;
            }
            Ok(timed_out)
        })
    }
}
