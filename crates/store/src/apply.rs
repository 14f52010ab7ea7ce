//! The interpreter of the core's outcomes: writes an [`Outcome`] in the
//! caller's transaction, loads what a follow-up needs and asks the core
//! again. It decides nothing.

use std::collections::{BTreeMap, HashMap, VecDeque};

use fleetjobs_core::commands::{self, Target};
use fleetjobs_core::model::Execution;
use fleetjobs_core::notify::Notice;
use fleetjobs_core::outcome::{
    Due, ExecutionWrite, FollowUp, JobWrite, Outcome, PendingLists, BATCH,
};
use fleetjobs_core::{protocol, Job, Rejection, Timestamp};
use serde_json::{Map, Value};

use crate::dialect::Lock;
use crate::outbox::OutboxWrite;
use crate::sql::Sql;
use crate::{params, Error, Result, Store};

fn changed_concurrently() -> Error {
    Rejection::Conflict("the execution changed concurrently; retry".into()).into()
}

impl<S: Sql> Store<S> {
    /// The pending lists of `things`, as the core's commands take them.
    pub(crate) fn pending_lists<'a>(
        &self,
        things: impl IntoIterator<Item = &'a str>,
    ) -> Result<PendingLists> {
        let mut things: Vec<&str> = things.into_iter().collect();
        things.sort_unstable();
        things.dedup();
        self.pending_for_things(&things)
    }

    /// Each thing with its latest execution of `job_id`.
    pub(crate) fn targets(&self, job_id: &str, things: &[String]) -> Result<Vec<Target>> {
        let names: Vec<&str> = things.iter().map(String::as_str).collect();
        let mut latest = self.latest_executions(job_id, &names)?;
        Ok(things
            .iter()
            .map(|thing| Target {
                thing_name: thing.clone(),
                latest: latest.remove(thing),
            })
            .collect())
    }

    /// The jobs of `executions`, by id.
    pub(crate) fn jobs_of(&self, executions: &[Execution]) -> Result<BTreeMap<String, Job>> {
        let mut jobs = BTreeMap::new();
        for execution in executions {
            if !jobs.contains_key(&execution.job_id) {
                jobs.insert(
                    execution.job_id.clone(),
                    self.existing_job(&execution.job_id)?,
                );
            }
        }
        Ok(jobs)
    }

    /// Writes `outcome` in the caller's transaction, with the releases it
    /// asks for; returns the follow-ups that run in later transactions.
    pub(crate) fn apply(&self, outcome: &Outcome, now: Timestamp) -> Result<Vec<FollowUp>> {
        match &outcome.job {
            None => {}
            Some(JobWrite::Insert { job }) => self.insert_job(job)?,
            Some(JobWrite::Update {
                previous_version,
                next,
                clear_queue,
            }) => {
                self.save_job(*previous_version, next)?;
                if *clear_queue {
                    self.sql.execute(
                        "DELETE FROM job_pending_targets WHERE job_id = ?1",
                        params![&next.job_id],
                    )?;
                }
            }
            Some(JobWrite::Delete { job_id }) => self.delete_job_rows(job_id)?,
        }
        // Consecutive inserts (a release's new executions) go in one statement.
        let mut inserts: Vec<&Execution> = Vec::new();
        for write in &outcome.executions {
            if let ExecutionWrite::Insert(execution) = write {
                inserts.push(execution);
                continue;
            }
            self.insert_executions(&std::mem::take(&mut inserts))?;
            match write {
                ExecutionWrite::Insert(_) => unreachable!("taken above"),
                ExecutionWrite::Update { previous, next } => {
                    if !self.update_execution(previous, next)? {
                        return Err(changed_concurrently());
                    }
                }
                ExecutionWrite::Delete(execution) => {
                    self.delete_executions(std::slice::from_ref(execution))?
                }
            }
        }
        self.insert_executions(&inserts)?;
        self.enqueue_notices(&outcome.notices, now)?;
        for (job_id, due) in &outcome.due {
            match due {
                Due::By(by) => self.due_by(job_id, *by)?,
                Due::At(at) => self.set_due(job_id, *at)?,
            }
        }
        let mut later = Vec::new();
        for follow_up in &outcome.follow_ups {
            match follow_up {
                FollowUp::Release { job, count } => {
                    let things = self.pop_pending_targets(&job.job_id, *count)?;
                    self.lock_things(
                        &things.iter().map(String::as_str).collect::<Vec<_>>(),
                        Lock::Update,
                    )?;
                    let targets = self.targets(&job.job_id, &things)?;
                    let pending = self.pending_lists(things.iter().map(String::as_str))?;
                    let queued = commands::queue(job, &targets, &pending, now);
                    later.extend(self.apply(&queued, now)?);
                }
                other => later.push(other.clone()),
            }
        }
        Ok(later)
    }

    /// Runs follow-ups (and those they cause), a batch per transaction, at
    /// most `max_batches`; returns how many ran. What is left stays due, so
    /// the sweeper continues it.
    pub(crate) fn follow_up(
        &self,
        follow_ups: Vec<FollowUp>,
        now: Timestamp,
        max_batches: usize,
    ) -> Result<usize> {
        let mut queue = VecDeque::from(follow_ups);
        let mut batches = 0;
        while batches < max_batches {
            let Some(follow_up) = queue.pop_front() else {
                break;
            };
            batches += 1;
            let more = self.transaction(|store| store.follow_up_batch(&follow_up, now))?;
            queue.extend(more);
        }
        Ok(batches)
    }

    pub(crate) fn follow_up_batch(
        &self,
        follow_up: &FollowUp,
        now: Timestamp,
    ) -> Result<Vec<FollowUp>> {
        let (job_id, statuses) = match follow_up {
            FollowUp::Cancel { job_id, scope } => (job_id, scope.statuses()),
            FollowUp::Purge { job_id } => (job_id, fleetjobs_core::ExecutionStatus::ALL),
            FollowUp::Release { .. } => {
                return self.apply(
                    &Outcome {
                        follow_ups: vec![follow_up.clone()],
                        ..Outcome::default()
                    },
                    now,
                )
            }
        };
        self.lock_jobs(&[job_id], Lock::Update)?;
        let Some(job) = self.job(job_id)? else {
            return Ok(Vec::new());
        };
        let batch = self.executions_of_job_in(job_id, statuses, BATCH)?;
        self.lock_things(
            &batch
                .iter()
                .map(|e| e.thing_name.as_str())
                .collect::<Vec<_>>(),
            Lock::Update,
        )?;
        let pending = self.pending_lists(batch.iter().map(|e| e.thing_name.as_str()))?;
        let outcome = match follow_up {
            FollowUp::Cancel { .. } => commands::cancel_batch(&job, &batch, &pending, now)?,
            _ => commands::purge_batch(&job, &batch, &pending, now),
        };
        self.apply(&outcome, now)
    }

    /// Notices become outbox rows, published after the commit.
    fn enqueue_notices(&self, notices: &[Notice], now: Timestamp) -> Result<()> {
        let mut documents: HashMap<&str, Map<String, Value>> = HashMap::new();
        let mut messages = Vec::with_capacity(notices.len());
        for notice in notices {
            let document = match notice {
                Notice::NotifyNext {
                    head: Some(head), ..
                } => {
                    if !documents.contains_key(head.job_id.as_str()) {
                        let document = self.existing_job(&head.job_id)?.document;
                        documents.insert(&head.job_id, document);
                    }
                    documents.get(head.job_id.as_str())
                }
                _ => None,
            };
            let (suffix, payload) = protocol::notice(notice, document, now);
            let topic = protocol::topic(&self.options.topic_prefix, notice.thing_name(), suffix);
            messages.push(OutboxWrite {
                thing_name: notice.thing_name(),
                topic,
                payload: payload.to_string().into_bytes(),
            });
        }
        self.enqueue_messages(&messages, now)
    }
}
