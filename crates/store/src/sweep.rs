//! The sweeper's pass: all time-driven work, in bounded batches, driven by
//! what is due (docs/lifecycle.md#sweeper): executions by their deadlines,
//! jobs by their next-due time, each job's tick deciding everything else.
//! Every step re-reads what it changes inside its own write transaction and
//! asks the core again, so a second pass running at the same time (another
//! replica) finds nothing left to do instead of doing it twice.

use fleetjobs_core::commands;
use fleetjobs_core::outcome::{Event, FollowUp, RELEASE_BATCH};
use fleetjobs_core::time::DAY_MS;
use fleetjobs_core::{Rejection, Timestamp};

use crate::dialect::Lock;
use crate::sql::Sql;
use crate::{Error, Result, Store};

/// Bounds and ages of one pass.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Due jobs ticked per pass, and expired jobs deleted.
    pub jobs: usize,
    /// Executions timed out per pass (and commands timed out, and commands
    /// purged after the retention).
    pub timeouts: usize,
    /// Extra release transactions ([`RELEASE_BATCH`] targets each) a pass
    /// may run for jobs with more targets waiting than one releases.
    pub release_batches: usize,
    /// Those extra releases stop while this many outbox messages wait to be
    /// published: a pass that released them would publish nothing until it
    /// was done, while the passes already publishing have enough to send.
    /// The rest waits for the next pass, which tops the outbox up.
    pub release_backlog: usize,
    /// Transactions of job-wide cancels and deletions (a
    /// [`fleetjobs_core::outcome::BATCH`] of executions each) per pass.
    pub deletion_batches: usize,
    /// COMPLETED and CANCELED jobs, and terminal commands, are deleted this
    /// long after they finished.
    pub retention_ms: i64,
    /// Replies remembered for a repeated clientToken are kept this long.
    pub reply_memory_ms: i64,
}

/// COMPLETED and CANCELED jobs are kept this long unless configured.
pub const DEFAULT_RETENTION_DAYS: i64 = 90;

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            jobs: 100,
            timeouts: 1000,
            release_batches: 20,
            // About two seconds of publishing, near the broker's limit.
            release_backlog: 40_000,
            deletion_batches: 5,
            retention_ms: DEFAULT_RETENTION_DAYS * DAY_MS,
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
    /// Batches of canceled jobs' executions canceled after the cancel's request.
    pub cancels_finished: usize,
    pub deletion_batches: usize,
    pub expired: usize,
    pub replies_forgotten: u64,
    /// Commands past their TTL, now TIMED_OUT.
    pub commands_timed_out: usize,
    /// Terminal commands deleted after the retention.
    pub commands_expired: u64,
}

impl<S: Sql> Store<S> {
    /// One sweeper pass at `now`.
    pub fn sweep(&self, now: Timestamp, options: &SweepOptions) -> Result<SweepReport> {
        let mut report = SweepReport {
            // Timeouts first: they change the counts abort and completion read.
            timed_out: self.time_out_due(now, options.timeouts)?,
            commands_timed_out: self.time_out_commands(now, options.timeouts)?,
            ..SweepReport::default()
        };
        // Only what is due: a job waits (no cost) until its next pacing
        // window, start, end or a change of its executions.
        let mut batches = Vec::new();
        let mut release_budget = options.release_batches;
        for job_id in self.due_job_ids(now, options.jobs)? {
            // A job releasing a full batch ticks again (a transaction each)
            // while the pass's budget lasts: a big job's targets are
            // released in one pass or a few.
            loop {
                let (more, released) = skip_if_gone(self.tick(&job_id, now, &mut report))?;
                batches.extend(more);
                if released < RELEASE_BATCH
                    || release_budget == 0
                    || self.outbox_holds_at_least(options.release_backlog)?
                {
                    break;
                }
                release_budget -= 1;
            }
        }
        self.sweep_batches(batches, now, options.deletion_batches, &mut report)?;
        let expired_before = Timestamp(now.0 - options.retention_ms);
        for job_id in self.job_ids_finished_before(expired_before, options.jobs)? {
            if skip_if_gone(self.expire(&job_id, now).map(Some))?.is_some() {
                report.expired += 1;
            }
        }
        report.commands_expired = self.purge_commands(expired_before, options.timeouts)?;
        report.replies_forgotten =
            self.forget_replies(Timestamp(now.0 - options.reply_memory_ms))?;
        Ok(report)
    }

    /// One job's tick in its own transaction; returns its job-wide batches
    /// still to do and how many targets it released.
    fn tick(
        &self,
        job_id: &str,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> Result<(Vec<FollowUp>, u64)> {
        self.transaction(|store| {
            // Another sweeper ticking it now: left to that one.
            if !store.claim_tick(job_id)? {
                return Ok((Vec::new(), 0));
            }
            store.lock_jobs(&[job_id], Lock::Update)?;
            let Some(job) = store.job(job_id)? else {
                return Ok((Vec::new(), 0));
            };
            let outcome = commands::tick(&job, &store.status_counts(job_id)?, now)?;
            let mut released = 0;
            for event in &outcome.events {
                match event {
                    Event::Rescheduled => report.rescheduled += 1,
                    Event::Released(count) => {
                        released += count;
                        report.released += count;
                    }
                    Event::Aborted => report.aborted += 1,
                    Event::Ended => report.ended += 1,
                    Event::Completed => report.completed += 1,
                }
            }
            Ok((store.apply(&outcome, now)?, released))
        })
    }

    /// Job-wide cancels and deletions, at most `budget` batches; what is
    /// left stays due for the next pass.
    fn sweep_batches(
        &self,
        follow_ups: Vec<FollowUp>,
        now: Timestamp,
        budget: usize,
        report: &mut SweepReport,
    ) -> Result<()> {
        let (cancels, purges): (Vec<_>, Vec<_>) = follow_ups
            .into_iter()
            .partition(|f| matches!(f, FollowUp::Cancel { .. }));
        report.deletion_batches = self.follow_up(purges, now, budget)?;
        report.cancels_finished = self.follow_up(cancels, now, budget - report.deletion_batches)?;
        Ok(())
    }

    /// Retention: a finished job past it begins its deletion (the batches
    /// follow from the next pass).
    fn expire(&self, job_id: &str, now: Timestamp) -> Result<()> {
        self.transaction(|store| {
            let job = store.job_for_update(job_id)?;
            let outcome = commands::delete_job(&job, false, now)?;
            store.apply(&outcome, now).map(drop)
        })
    }
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
