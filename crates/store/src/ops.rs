//! Units of work: each loads what the core needs, asks it for an outcome and
//! applies that in one transaction (`apply.rs`). A rejection rolls back, so a
//! refused request writes nothing. Job-wide cancels and deletions continue
//! in further transactions, a batch each (docs/lifecycle.md#cancel,
//! #delete).

use std::collections::BTreeSet;

use fleetjobs_core::commands::{self, GroupJob};
use fleetjobs_core::execution::{CancelBy, DeviceUpdate};
use fleetjobs_core::job::{CancelJob, CreateJob, UpdateJob};
use fleetjobs_core::model::{Execution, StatusDetails, Targets};
use fleetjobs_core::outcome::{ExecutionWrite, FollowUp, Outcome, PendingLists, INLINE_BATCHES};
use fleetjobs_core::{Job, Rejection, Timestamp};

use crate::dialect::Lock;
use crate::sql::Sql;
use crate::{Error, Result, Store};

fn not_found(job_id: &str, thing_name: &str) -> Error {
    Rejection::ResourceNotFound(format!(
        "job {job_id} has no execution on thing {thing_name}"
    ))
    .into()
}

/// The execution an outcome changed, for the command's reply.
fn changed_execution(outcome: &Outcome) -> Result<Execution> {
    outcome
        .execution()
        .cloned()
        .ok_or_else(|| Error::Corrupt("the core changed no execution".into()))
}

/// The job an outcome wrote, for the command's reply.
fn written_job(outcome: &Outcome) -> Result<Job> {
    outcome
        .job()
        .cloned()
        .ok_or_else(|| Error::Corrupt("the core wrote no job".into()))
}

impl<S: Sql> Store<S> {
    /// Unknown target things or groups are refused.
    fn check_targets_exist(&self, targets: &Targets) -> Result<()> {
        let missing = self.missing_things(&targets.thing_names)?;
        if let Some(name) = missing.first() {
            return Err(Rejection::ResourceNotFound(format!(
                "targets.thingNames: thing {name} does not exist"
            ))
            .into());
        }
        for group in &targets.thing_group_names {
            if self.group(group)?.is_none() {
                return Err(Rejection::ResourceNotFound(format!(
                    "targets.thingGroupNames: thing group {group} does not exist"
                ))
                .into());
            }
        }
        Ok(())
    }

    /// Resolves target things and groups to distinct thing names; unknown
    /// targets are refused.
    fn resolve_targets(&self, targets: &Targets) -> Result<Vec<String>> {
        self.check_targets_exist(targets)?;
        let mut things: BTreeSet<String> = targets.thing_names.iter().cloned().collect();
        for group in &targets.thing_group_names {
            things.extend(self.all_group_members(group)?);
        }
        Ok(things.into_iter().collect())
    }

    /// Loads, decides and applies in one transaction. Job-wide follow-ups
    /// (a delete's batches) stay due for whoever continues them.
    fn run<T>(
        &self,
        now: Timestamp,
        decide: impl FnOnce(&Self) -> Result<(Outcome, T)>,
    ) -> Result<T> {
        self.transaction(|store| {
            let (outcome, value) = decide(store)?;
            store.apply(&outcome, now)?;
            Ok(value)
        })
    }

    /// CreateJob: validates, queues the targets (set-based, whatever their
    /// number) and releases the first batch the rollout allows, in one
    /// transaction; the sweeper releases the rest.
    pub fn create_job(
        &self,
        request: CreateJob,
        generated_id: String,
        now: Timestamp,
    ) -> Result<Job> {
        let job = request.into_job(generated_id, now)?;
        self.run(now, |store| {
            store.lock_groups(&job.targets.thing_group_names, Lock::KeyShare)?;
            store.check_targets_exist(&job.targets)?;
            let queued = store.queue_targets(&job.job_id, &job.targets)?;
            let outcome = commands::create_job(job, queued, now);
            let job = written_job(&outcome)?;
            Ok((outcome, job))
        })
    }

    /// A paced job's release at `now` alone (the sweeper's tick does this
    /// among its steps).
    pub fn release_job(&self, job_id: &str, now: Timestamp) -> Result<Job> {
        self.run(now, |store| {
            let job = store.job_for_update(job_id)?;
            let outcome = commands::release(&job, &store.status_counts(job_id)?, now);
            let job = outcome.job().cloned().unwrap_or(job);
            Ok((outcome, job))
        })
    }

    /// UpdateJob.
    pub fn update_job(&self, job_id: &str, update: UpdateJob, now: Timestamp) -> Result<Job> {
        self.run(now, |store| {
            let job = store.job_for_update(job_id)?;
            let outcome = commands::update_job(&job, update, now)?;
            let job = written_job(&outcome)?;
            Ok((outcome, job))
        })
    }

    /// AssociateTargetsWithJob.
    pub fn associate_targets(&self, job_id: &str, extra: &Targets, now: Timestamp) -> Result<Job> {
        self.run(now, |store| {
            store.lock_groups(&extra.thing_group_names, Lock::KeyShare)?;
            let job = store.job_for_update(job_id)?;
            let things = store.resolve_targets(extra)?;
            store.lock_things(
                &things.iter().map(String::as_str).collect::<Vec<_>>(),
                Lock::Update,
            )?;
            let targets = store.targets(job_id, &things)?;
            let pending = store.pending_lists(things.iter().map(String::as_str))?;
            let outcome = commands::associate_targets(&job, extra, &targets, &pending, now)?;
            let job = written_job(&outcome)?;
            Ok((outcome, job))
        })
    }

    /// The execution a device or operator names, with its job and the
    /// thing's pending list.
    fn execution_in_context(
        &self,
        job_id: &str,
        thing_name: &str,
        execution_number: Option<i64>,
    ) -> Result<(Job, Execution, PendingLists)> {
        let (job, execution) = self.execution_with_job(job_id, thing_name, execution_number)?;
        let pending = self.pending_lists([thing_name])?;
        Ok((job, execution, pending))
    }

    /// The execution a device or operator names, with its job, locked for
    /// a change.
    fn execution_with_job(
        &self,
        job_id: &str,
        thing_name: &str,
        execution_number: Option<i64>,
    ) -> Result<(Job, Execution)> {
        self.lock_for_thing(&[job_id], thing_name)?;
        let execution = self
            .execution(job_id, thing_name, execution_number)?
            .ok_or_else(|| not_found(job_id, thing_name))?;
        let job = self.existing_job(job_id)?;
        Ok((job, execution))
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
        self.run(now, |store| {
            let (job, execution) =
                store.execution_with_job(job_id, thing_name, execution_number)?;
            let outcome = commands::device_update(&job, &execution, update, now)?
                .outcome(|| store.pending_lists([thing_name]))?;
            let next = changed_execution(&outcome)?;
            Ok((outcome, next))
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
        self.run(now, |store| {
            let pending = store.pending_lists_locked(thing_name)?;
            let Some(head) = pending.get(thing_name).and_then(|p| p.first()) else {
                return Ok((Outcome::default(), None));
            };
            let job = store.existing_job(&head.job_id)?;
            let started = commands::start_next(
                &job,
                head,
                &pending,
                status_details,
                step_timeout_in_minutes,
                now,
            )?;
            Ok(match started {
                None => (Outcome::default(), Some(head.clone())),
                Some(outcome) => {
                    let next = changed_execution(&outcome)?;
                    (outcome, Some(next))
                }
            })
        })
    }

    /// CancelJob: the job becomes CANCELED; its QUEUED executions (and
    /// IN_PROGRESS ones with force) are canceled in batches, the first
    /// [`INLINE_BATCHES`] with the request, the rest by the sweeper.
    pub fn cancel_job(&self, job_id: &str, request: &CancelJob, now: Timestamp) -> Result<Job> {
        let (job, later) = self.transaction(|store| {
            let job = store.job_for_update(job_id)?;
            let outcome = commands::cancel_job(&job, request, now)?;
            let mut later = store.apply(&outcome, now)?;
            // The first batch commits with the job's cancel, so a small
            // job is canceled whole at once.
            if let Some(first) = later.pop() {
                later.extend(store.follow_up_batch(&first, now)?);
            }
            Ok((written_job(&outcome)?, later))
        })?;
        self.follow_up(later, now, INLINE_BATCHES)?;
        Ok(job)
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
        self.run(now, |store| {
            let (job, execution, pending) = store.execution_in_context(job_id, thing_name, None)?;
            let by = CancelBy::Operator {
                force,
                expected_version,
            };
            let outcome =
                commands::cancel_execution(&job, &execution, &pending, by, status_details, now)?;
            let next = changed_execution(&outcome)?;
            Ok((outcome, next))
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
        self.run(now, |store| {
            let (job, execution, pending) =
                store.execution_in_context(job_id, thing_name, Some(execution_number))?;
            let outcome = commands::delete_execution(&job, &execution, &pending, force, now)?;
            Ok((outcome, ()))
        })
    }

    /// DeleteJob: the job becomes DELETION_IN_PROGRESS and is removed in
    /// batches, the first [`INLINE_BATCHES`] with the request, the rest by
    /// the sweeper.
    pub fn delete_job(&self, job_id: &str, force: bool, now: Timestamp) -> Result<Job> {
        self.run(now, |store| {
            let job = store.job_for_update(job_id)?;
            let outcome = commands::delete_job(&job, force, now)?;
            let job = written_job(&outcome)?;
            Ok((outcome, job))
        })
    }

    /// Deletes one batch of a job being deleted; true once the job is gone.
    pub fn purge_job(&self, job_id: &str, now: Timestamp) -> Result<bool> {
        self.purge_batches(job_id, now, 1)
    }

    /// The batches of a deletion a request does itself ([`INLINE_BATCHES`]);
    /// true once the job is gone (else the sweeper finishes it).
    pub fn purge_job_inline(&self, job_id: &str, now: Timestamp) -> Result<bool> {
        self.purge_batches(job_id, now, INLINE_BATCHES)
    }

    fn purge_batches(&self, job_id: &str, now: Timestamp, max_batches: usize) -> Result<bool> {
        let purge = FollowUp::Purge {
            job_id: job_id.to_owned(),
        };
        self.follow_up(vec![purge], now, max_batches)?;
        Ok(self.job(job_id)?.is_none())
    }

    /// The jobs targeting a group, each with the thing's latest execution.
    fn group_jobs(&self, group_name: &str, thing_name: &str) -> Result<Vec<GroupJob>> {
        self.jobs_targeting_group(group_name)?
            .into_iter()
            .map(|job| {
                Ok(GroupJob {
                    latest: self.execution(&job.job_id, thing_name, None)?,
                    still_targets: self.job_targets_thing(&job.job_id, thing_name)?,
                    job,
                })
            })
            .collect()
    }

    /// Adds a thing to a group; continuous jobs targeting the group give it
    /// an execution at once, in the same transaction.
    pub fn add_thing_to_group(
        &self,
        group_name: &str,
        thing_name: &str,
        now: Timestamp,
    ) -> Result<()> {
        self.run(now, |store| {
            store.existing_group(group_name)?;
            store.lock_group_jobs_and_thing(group_name, thing_name)?;
            store.existing_thing(thing_name)?;
            if !store.insert_member(group_name, thing_name)? {
                return Ok((Outcome::default(), ()));
            }
            let jobs = store.group_jobs(group_name, thing_name)?;
            let pending = store.pending_lists([thing_name])?;
            Ok((commands::join_group(&jobs, thing_name, &pending, now), ()))
        })
    }

    /// Removes a thing from a group; its open executions of continuous jobs
    /// that no longer target it become REMOVED.
    pub fn remove_thing_from_group(
        &self,
        group_name: &str,
        thing_name: &str,
        now: Timestamp,
    ) -> Result<()> {
        self.run(now, |store| {
            store.existing_group(group_name)?;
            store.lock_group_jobs_and_thing(group_name, thing_name)?;
            if !store.delete_member(group_name, thing_name)? {
                return Err(Rejection::ResourceNotFound(format!(
                    "thing {thing_name} is not a member of thing group {group_name}"
                ))
                .into());
            }
            let jobs = store.group_jobs(group_name, thing_name)?;
            let pending = store.pending_lists([thing_name])?;
            Ok((commands::leave_group(&jobs, &pending, now), ()))
        })
    }

    /// DeleteThing: its open executions become REMOVED (with notices and
    /// counters), then the thing and its memberships go.
    pub fn delete_thing(&self, thing_name: &str, now: Timestamp) -> Result<()> {
        self.run(now, |store| {
            store.existing_thing(thing_name)?;
            // Its groups first (`locks.rs`): a job created for one of them
            // meanwhile does not queue a thing that is going.
            store.lock_groups(&store.groups_of_thing(thing_name)?, Lock::Update)?;
            let pending = store.pending_lists_locked(thing_name)?;
            let jobs = store.jobs_of(pending.get(thing_name).map_or(&[][..], Vec::as_slice))?;
            store.delete_thing_rows(thing_name)?;
            Ok((commands::delete_thing(thing_name, &jobs, &pending, now), ()))
        })
    }

    /// Times out up to `limit` executions past their deadline (with their
    /// retries and notices); returns how many.
    pub fn time_out_due(&self, now: Timestamp, limit: usize) -> Result<usize> {
        self.run(now, |store| {
            let due = store.claim_executions_due(now, limit)?;
            let jobs = store.jobs_of(&due)?;
            let pending = store.pending_lists(due.iter().map(|e| e.thing_name.as_str()))?;
            let outcome = commands::time_out(&due, &jobs, &pending, now);
            let timed_out = outcome
                .executions
                .iter()
                .filter(|write| matches!(write, ExecutionWrite::Update { .. }))
                .count();
            Ok((outcome, timed_out))
        })
    }

    /// A thing's pending list, read under the locks of its jobs and of the
    /// thing (`locks.rs`): its jobs as seen before the thing's lock, then
    /// again after it, locking any job that joined meanwhile.
    fn pending_lists_locked(&self, thing_name: &str) -> Result<PendingLists> {
        if !self.dialect().needs_row_locks() {
            return self.pending_lists([thing_name]);
        }
        let jobs_in = |pending: &PendingLists| -> Vec<String> {
            let mut jobs: Vec<String> = pending
                .values()
                .flatten()
                .map(|e| e.job_id.clone())
                .collect();
            jobs.sort_unstable();
            jobs.dedup();
            jobs
        };
        let seen = jobs_in(&self.pending_lists([thing_name])?);
        self.lock_for_thing(
            &seen.iter().map(String::as_str).collect::<Vec<_>>(),
            thing_name,
        )?;
        let pending = self.pending_lists([thing_name])?;
        let joined: Vec<String> = jobs_in(&pending)
            .into_iter()
            .filter(|job| !seen.contains(job))
            .collect();
        if !joined.is_empty() {
            self.lock_jobs(
                &joined.iter().map(String::as_str).collect::<Vec<_>>(),
                Lock::KeyShare,
            )?;
        }
        Ok(pending)
    }

    /// Before a membership change: the jobs targeting the group (which
    /// may give or take the thing an execution), then the thing.
    fn lock_group_jobs_and_thing(&self, group_name: &str, thing_name: &str) -> Result<()> {
        if !self.dialect().needs_row_locks() {
            return Ok(());
        }
        self.lock_groups(&[group_name.to_owned()], Lock::Update)?;
        let jobs: Vec<String> = self
            .jobs_targeting_group(group_name)?
            .into_iter()
            .map(|job| job.job_id)
            .collect();
        self.lock_for_thing(
            &jobs.iter().map(String::as_str).collect::<Vec<_>>(),
            thing_name,
        )
    }

    /// Up to `limit` executions past their deadline, claimed: their jobs
    /// key-share locked, their things locked, skipping things another
    /// transaction holds (a device's request, another sweeper), so sweepers
    /// running at once split the work.
    fn claim_executions_due(&self, now: Timestamp, limit: usize) -> Result<Vec<Execution>> {
        let due = self.executions_due(now, limit)?;
        if !self.dialect().needs_row_locks() || due.is_empty() {
            return Ok(due);
        }
        let jobs: Vec<&str> = due.iter().map(|e| e.job_id.as_str()).collect();
        let jobs = self.lock_jobs(&jobs, Lock::KeyShare)?;
        let things: Vec<&str> = due.iter().map(|e| e.thing_name.as_str()).collect();
        let things = self.lock_things(&things, Lock::UpdateSkipLocked)?;
        // Read again under the locks: what another sweeper or a device
        // changed meanwhile is current now.
        Ok(self
            .executions_due(now, limit)?
            .into_iter()
            .filter(|e| jobs.contains(&e.job_id) && things.contains(&e.thing_name))
            .collect())
    }
}
