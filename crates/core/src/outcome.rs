//! What a command or a job's tick decided, as data: every row to write, every
//! message to publish, the work that continues in later transactions and
//! when the sweeper looks at each job next. The store applies an outcome in
//! one transaction and decides nothing itself (compare `quinn-proto`: inputs
//! and time in, effects out).

use std::collections::BTreeMap;

use crate::job::CancelScope;
use crate::model::{Execution, Job};
use crate::notify::{notices, pending_list, Notice};
use crate::time::Timestamp;

/// How many executions one transaction of a job-wide change (release,
/// cancel, deletion) touches, so any transaction stays short whatever the
/// job's size.
pub const BATCH: usize = 1000;

/// Batches of a job-wide cancel or deletion done with the operator's request
/// (each in its own transaction); the sweeper continues the rest.
pub const INLINE_BATCHES: usize = 5;

/// Targets one transaction releases (CreateJob's own included): a job for
/// any number of things is answered at once, the sweeper releasing the rest
/// a batch per transaction.
pub const RELEASE_BATCH: u64 = BATCH as u64;

/// The pending lists (QUEUED and IN_PROGRESS executions, in
/// [`crate::notify::pending_order`]) of the things a command touches, as they
/// were before it. The caller loads one per thing it hands to the core.
pub type PendingLists = BTreeMap<String, Vec<Execution>>;

/// A change of a job row.
#[derive(Debug, Clone, PartialEq)]
pub enum JobWrite {
    /// A new job (its targets are already queued for release).
    Insert { job: Job },
    /// Applies only while the stored row is still at `previous_version`.
    /// `clear_queue`: targets not yet released are dropped (a cancel).
    Update {
        previous_version: i64,
        next: Job,
        clear_queue: bool,
    },
    /// The job and everything keyed on it (its executions are gone).
    Delete { job_id: String },
}

/// A change of an execution row; every one moves the job's per-status
/// counters with it.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecutionWrite {
    Insert(Execution),
    /// Applies only while the stored versionNumber is still
    /// `previous.version_number`.
    Update {
        previous: Execution,
        next: Execution,
    },
    Delete(Execution),
}

/// Work that continues after the outcome is applied.
#[derive(Debug, Clone, PartialEq)]
pub enum FollowUp {
    /// In the same transaction: take the next `count` targets off the job's
    /// queue and give each an execution ([`crate::commands::queue`]).
    Release { job: Box<Job>, count: u64 },
    /// Cancel the job's executions in `scope`, a [`BATCH`] per transaction
    /// ([`crate::commands::cancel_batch`]).
    Cancel { job_id: String, scope: CancelScope },
    /// Delete the job's executions, a [`BATCH`] per transaction, then the job
    /// ([`crate::commands::purge_batch`]).
    Purge { job_id: String },
}

/// When the sweeper looks at a job next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// No later than this: something changed that the job's tick must see
    /// (an earlier due time stays).
    By(Timestamp),
    /// Exactly this, as the job's tick worked out; `None`: only a change
    /// makes the job due again.
    At(Option<Timestamp>),
}

/// What a tick did, for the sweeper's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Started, paused or resumed by its schedule, or stopped by its end time.
    Rescheduled,
    Released(u64),
    Aborted,
    /// Canceled by its end time.
    Ended,
    Completed,
}

/// Everything one command or tick decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub job: Option<JobWrite>,
    pub executions: Vec<ExecutionWrite>,
    /// In the order they are published.
    pub notices: Vec<Notice>,
    pub follow_ups: Vec<FollowUp>,
    pub due: BTreeMap<String, Due>,
    pub events: Vec<Event>,
}

impl Outcome {
    /// The job as this outcome leaves it, if it wrote one.
    pub fn job(&self) -> Option<&Job> {
        match &self.job {
            Some(JobWrite::Insert { job, .. } | JobWrite::Update { next: job, .. }) => Some(job),
            _ => None,
        }
    }

    /// The last state written for an execution (for a command's reply).
    pub fn execution(&self) -> Option<&Execution> {
        self.executions.iter().find_map(|write| match write {
            ExecutionWrite::Update { next, .. } => Some(next),
            _ => None,
        })
    }
}

/// Collects execution writes and works out the notices they cause: each
/// touched thing's pending list before (as loaded) against after (with every
/// write of the outcome applied), so several changes on one thing notify
/// once.
pub(crate) struct Changes<'a> {
    before: &'a PendingLists,
    after: BTreeMap<String, Vec<Execution>>,
    /// Things in the order first touched: their notices go out in that order.
    touched: Vec<String>,
    now: Timestamp,
    outcome: Outcome,
}

impl<'a> Changes<'a> {
    pub(crate) fn new(before: &'a PendingLists, now: Timestamp) -> Self {
        Changes {
            before,
            after: BTreeMap::new(),
            touched: Vec::new(),
            now,
            outcome: Outcome::default(),
        }
    }

    fn pending_after(&mut self, thing_name: &str) -> &mut Vec<Execution> {
        if !self.after.contains_key(thing_name) {
            let before = self.before.get(thing_name).cloned().unwrap_or_default();
            self.after.insert(thing_name.to_owned(), before);
            self.touched.push(thing_name.to_owned());
        }
        self.after.get_mut(thing_name).expect("inserted above")
    }

    fn replace(&mut self, gone: &Execution, new: Option<&Execution>) {
        let pending = self.pending_after(&gone.thing_name);
        pending.retain(|e| {
            (e.job_id.as_str(), e.execution_number) != (&gone.job_id, gone.execution_number)
        });
        pending.extend(new.filter(|e| !e.status.is_terminal()).cloned());
    }

    pub(crate) fn insert(&mut self, execution: Execution) {
        self.replace(&execution, Some(&execution));
        self.outcome
            .executions
            .push(ExecutionWrite::Insert(execution));
    }

    pub(crate) fn update(&mut self, previous: &Execution, next: Execution) {
        self.replace(previous, Some(&next));
        self.outcome.executions.push(ExecutionWrite::Update {
            previous: previous.clone(),
            next,
        });
    }

    pub(crate) fn delete(&mut self, execution: &Execution) {
        self.replace(execution, None);
        self.outcome
            .executions
            .push(ExecutionWrite::Delete(execution.clone()));
    }

    /// An execution of `job` changed as the core decided: with the retry a
    /// FAILED or TIMED_OUT one earns while the job is active, and the job
    /// due for its tick (abort, completion and release read the counts).
    pub(crate) fn settle(&mut self, job: &Job, previous: &Execution, next: Execution) {
        let retry = if job.is_active() {
            next.retry(job.config.retry.as_ref(), self.now)
        } else {
            None
        };
        self.update(previous, next);
        if let Some(retry) = retry {
            self.insert(retry);
        }
        self.wake(job);
    }

    /// The job's tick must see a change of its executions.
    pub(crate) fn wake(&mut self, job: &Job) {
        if job.is_active() {
            self.outcome
                .due
                .entry(job.job_id.clone())
                .or_insert(Due::By(self.now));
        }
    }

    pub(crate) fn outcome(&mut self) -> &mut Outcome {
        &mut self.outcome
    }

    pub(crate) fn finish(mut self) -> Outcome {
        for thing_name in &self.touched {
            let before = self.before.get(thing_name).map_or(&[][..], Vec::as_slice);
            let after = pending_list(self.after.remove(thing_name).unwrap_or_default());
            self.outcome
                .notices
                .extend(notices(thing_name, before, &after));
        }
        self.outcome
    }
}
