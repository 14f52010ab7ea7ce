//! The sweeper's pass: all time-driven work, in bounded batches. Every step
//! re-reads what it changes inside its own write transaction and asks the
//! core again, so a second pass running at the same time (another replica)
//! finds nothing left to do instead of doing it twice.

use fleetjobs_core::model::JobStatus;
use fleetjobs_core::schedule::ScheduleStep;
use fleetjobs_core::{Rejection, Timestamp};

use crate::sql::Sql;
use crate::{Error, Result, Store};

/// Bounds and ages of one pass.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Jobs looked at per kind of work.
    pub jobs: usize,
    /// Executions timed out per pass.
    pub timeouts: usize,
    /// Batches of [`crate::ops::BATCH`] executions a pass deletes, and
    /// cancels of each canceled job with executions left to cancel.
    pub deletion_batches: usize,
    /// COMPLETED and CANCELED jobs are deleted this long after they finished.
    pub retention_ms: i64,
    /// Replies remembered for a repeated clientToken are kept this long.
    pub reply_memory_ms: i64,
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            jobs: 100,
            timeouts: 1000,
            deletion_batches: 5,
            retention_ms: 90 * DAY_MS,
            reply_memory_ms: DAY_MS,
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub timed_out: usize,
    /// Jobs started, paused or resumed by their schedule, or stopped by their end time.
    pub rescheduled: usize,
    pub released: u64,
    pub aborted: usize,
    pub ended: usize,
    pub completed: usize,
    /// Executions of canceled jobs canceled after the cancel's first batch.
    pub cancels_finished: usize,
    pub deletion_batches: usize,
    pub expired: usize,
    pub replies_forgotten: u64,
}

impl<S: Sql> Store<S> {
    /// One sweeper pass at `now`.
    pub fn sweep(&self, now: Timestamp, options: &SweepOptions) -> Result<SweepReport> {
        let mut report = SweepReport {
            // Timeouts first: they change the counts abort and completion read.
            timed_out: self.time_out_due(now, options.timeouts)?,
            ..SweepReport::default()
        };
        // Only what is due: a job waits (no cost) until its next pacing
        // window, start, end or a change of its executions.
        for job_id in self.due_job_ids(now, options.jobs)? {
            skip_if_gone(self.sweep_job(&job_id, now, &mut report))?;
        }
        for job_id in self.job_ids_with_unfinished_cancel(options.jobs)? {
            if let Some(job) = self.job(&job_id)? {
                self.finish_cancel(&job, now, options.deletion_batches)?;
                report.cancels_finished += 1;
            }
        }
        let being_deleted = self.job_ids_in(&[JobStatus::DeletionInProgress], options.jobs)?;
        'deleting: for job_id in being_deleted {
            while report.deletion_batches < options.deletion_batches {
                report.deletion_batches += 1;
                if self.purge_job(&job_id, now)? {
                    continue 'deleting;
                }
            }
            break;
        }
        let expired_before = Timestamp(now.0 - options.retention_ms);
        for job_id in self.job_ids_finished_before(expired_before, options.jobs)? {
            if skip_if_gone(self.delete_job(&job_id, false, now).map(Some))?.is_some() {
                report.expired += 1;
            }
        }
        report.replies_forgotten =
            self.forget_replies(Timestamp(now.0 - options.reply_memory_ms))?;
        Ok(report)
    }

    /// Schedule, end time, abort, release and completion of one job, then
    /// when it is due next, in one transaction (a cancel's later batches
    /// follow it).
    fn sweep_job(&self, job_id: &str, now: Timestamp, report: &mut SweepReport) -> Result<()> {
        let canceled = self.transaction(|store| {
            let step = store.step_job(job_id, now, report)?;
            let job = match &step {
                Swept::Canceled(job) | Swept::Kept(job) => job,
            };
            store.set_due(job_id, job.next_due(now))?;
            Ok(match step {
                Swept::Canceled(job) => Some(job),
                Swept::Kept(_) => None,
            })
        })?;
        if let Some(job) = canceled {
            self.finish_cancel(&job, now, crate::ops::CANCEL_BATCHES_INLINE)?;
        }
        Ok(())
    }

    /// The sweeper's steps for one job, in their order.
    fn step_job(&self, job_id: &str, now: Timestamp, report: &mut SweepReport) -> Result<Swept> {
        let mut job = self.existing_job(job_id)?;
        match job.schedule_step(now) {
            ScheduleStep::Idle => {}
            ScheduleStep::Update(next) => {
                self.save_job(&job, &next)?;
                report.rescheduled += 1;
                job = *next;
            }
            ScheduleStep::Cancel { force } => {
                let (next, scope) = job.end_by_cancel(force, now)?;
                self.apply_cancel(&job, &next, scope, now)?;
                report.ended += 1;
                return Ok(Swept::Canceled(next));
            }
        }
        if job.status != JobStatus::InProgress {
            return Ok(Swept::Kept(job));
        }
        let counts = self.status_counts(job_id)?;
        if let Some(abort) = job.config.abort.as_ref().and_then(|a| a.evaluate(&counts)) {
            let (next, scope) = job.abort(&abort, now)?;
            self.apply_cancel(&job, &next, scope, now)?;
            report.aborted += 1;
            return Ok(Swept::Canceled(next));
        }
        let released = self.release_now(&job, now)?;
        report.released += job.rollout.pending_targets - released.rollout.pending_targets;
        let counts = self.status_counts(job_id)?;
        if let Some(done) = released.completion(&counts, now) {
            self.save_job(&released, &done)?;
            report.completed += 1;
            return Ok(Swept::Kept(done));
        }
        Ok(Swept::Kept(released))
    }
}

/// What a job is after the sweeper's steps.
enum Swept {
    /// Canceled (end time or abort): its remaining cancels follow.
    Canceled(fleetjobs_core::Job),
    Kept(fleetjobs_core::Job),
}

/// A job deleted or changed by someone else meanwhile is not an error of the
/// pass: the other party did the work.
fn skip_if_gone<T: Default>(outcome: Result<T>) -> Result<T> {
    match outcome {
        Err(Error::Rejected(
            Rejection::ResourceNotFound(_)
            | Rejection::Conflict(_)
            | Rejection::InvalidStateTransition { .. },
        )) => Ok(T::default()),
        other => other,
    }
}
