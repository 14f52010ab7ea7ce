//! Property test: the core's outcomes mean the same in memory and in SQL.
//! Random command sequences (jobs for a few things and groups, device
//! updates, start-next, cancels, deletions, membership changes, time passing)
//! run through the store on rusqlite and through a small in-memory model that
//! loads the same state, asks the same core functions and applies their
//! outcomes to plain maps. After every command both hold the same jobs,
//! executions and counters and have sent the same notices.

#[macro_use]
mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use common::{drain_outbox, memory_store, noon, with_backend, Backend, TestStore};
use fleetjobs_core::commands::{self, GroupJob, Target};
use fleetjobs_core::execution::{CancelBy, DeviceUpdate};
use fleetjobs_core::job::{CancelJob, CreateJob};
use fleetjobs_core::outcome::{
    Due, ExecutionWrite, FollowUp, JobWrite, Outcome, PendingLists, BATCH,
};
use fleetjobs_core::{protocol, Execution, ExecutionStatus, Job, StatusCounts, Timestamp};
use fleetjobs_store::{Error, ExecutionQuery, SweepOptions};
use proptest::prelude::*;
use serde_json::{json, Value};

const THINGS: [&str; 4] = ["t0", "t1", "t2", "t3"];
const GROUPS: [&str; 2] = ["g0", "g1"];

#[derive(Debug, Clone)]
enum Command {
    Create {
        things: Vec<usize>,
        group: Option<usize>,
        continuous: bool,
        paced: bool,
        retry: bool,
        timeout: bool,
    },
    Update {
        thing: usize,
        job: usize,
        status: ExecutionStatus,
    },
    StartNext {
        thing: usize,
    },
    CancelExecution {
        thing: usize,
        job: usize,
        force: bool,
    },
    CancelJob {
        job: usize,
        force: bool,
    },
    DeleteExecution {
        thing: usize,
        job: usize,
        force: bool,
    },
    DeleteJob {
        job: usize,
        force: bool,
    },
    Join {
        thing: usize,
        group: usize,
    },
    Leave {
        thing: usize,
        group: usize,
    },
    Advance {
        minutes: i64,
    },
}

fn command() -> impl Strategy<Value = Command> {
    let thing = 0..THINGS.len();
    let group = 0..GROUPS.len();
    let job = 0..8usize;
    let status = prop::sample::select(vec![
        ExecutionStatus::InProgress,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::Rejected,
    ]);
    prop_oneof![
        2 => (
            prop::collection::vec(thing.clone(), 0..3),
            prop::option::of(group.clone()),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(things, group, continuous, paced, retry, timeout)| Command::Create {
                things,
                group,
                continuous,
                paced,
                retry,
                timeout
            }),
        4 => (thing.clone(), job.clone(), status)
            .prop_map(|(thing, job, status)| Command::Update { thing, job, status }),
        3 => thing.clone().prop_map(|thing| Command::StartNext { thing }),
        1 => (thing.clone(), job.clone(), any::<bool>())
            .prop_map(|(thing, job, force)| Command::CancelExecution { thing, job, force }),
        1 => (job.clone(), any::<bool>()).prop_map(|(job, force)| Command::CancelJob { job, force }),
        1 => (thing.clone(), job.clone(), any::<bool>())
            .prop_map(|(thing, job, force)| Command::DeleteExecution { thing, job, force }),
        1 => (job, any::<bool>()).prop_map(|(job, force)| Command::DeleteJob { job, force }),
        1 => (thing.clone(), group.clone()).prop_map(|(thing, group)| Command::Join { thing, group }),
        1 => (thing, group).prop_map(|(thing, group)| Command::Leave { thing, group }),
        2 => (1..4i64).prop_map(|minutes| Command::Advance { minutes }),
    ]
}

fn create_body(command: &Command) -> Value {
    let Command::Create {
        things,
        group,
        continuous,
        paced,
        retry,
        timeout,
    } = command
    else {
        unreachable!()
    };
    let mut thing_names: Vec<&str> = things.iter().map(|i| THINGS[*i]).collect();
    thing_names.dedup();
    if thing_names.is_empty() && group.is_none() {
        thing_names.push(THINGS[0]);
    }
    let mut body = json!({
        "targets": {
            "thingNames": thing_names,
            "thingGroupNames": group.map(|g| vec![GROUPS[g]]).unwrap_or_default()
        },
        "document": {"v": 1},
        "jobType": if *continuous { "CONTINUOUS" } else { "SNAPSHOT" }
    });
    if *paced {
        body["jobExecutionsRolloutConfig"] = json!({"maximumPerMinute": 1});
    }
    if *retry {
        body["jobExecutionsRetryConfig"] =
            json!({"criteriaList": [{"failureType": "ALL", "numberOfRetries": 1}]});
    }
    if *timeout {
        body["timeoutConfig"] = json!({"inProgressTimeoutInMinutes": 2});
    }
    body
}

/// The in-memory model: the rows the store keeps, as maps.
#[derive(Default)]
struct Model {
    jobs: BTreeMap<String, Job>,
    executions: BTreeMap<(String, String, i64), Execution>,
    queues: BTreeMap<String, VecDeque<String>>,
    due: BTreeMap<String, Timestamp>,
    members: BTreeMap<String, BTreeSet<String>>,
    /// Published messages: (topic, payload).
    sent: Vec<(String, Value)>,
}

type Answer = Result<(), &'static str>;

fn code(error: Error) -> &'static str {
    match error {
        Error::Rejected(rejection) => rejection.device_code(),
        other => panic!("the store failed: {other}"),
    }
}

impl Model {
    fn latest(&self, job_id: &str, thing: &str) -> Option<Execution> {
        self.executions
            .values()
            .filter(|e| e.job_id == job_id && e.thing_name == thing)
            .max_by_key(|e| e.execution_number)
            .cloned()
    }

    fn pending(&self, things: &[&str]) -> PendingLists {
        things
            .iter()
            .map(|thing| {
                let mine = self
                    .executions
                    .values()
                    .filter(|e| e.thing_name == *thing)
                    .cloned()
                    .collect();
                (
                    thing.to_string(),
                    fleetjobs_core::notify::pending_list(mine),
                )
            })
            .collect()
    }

    fn targets(&self, job_id: &str, things: &[String]) -> Vec<Target> {
        things
            .iter()
            .map(|thing| Target {
                thing_name: thing.clone(),
                latest: self.latest(job_id, thing),
            })
            .collect()
    }

    fn counts(&self, job_id: &str) -> StatusCounts {
        StatusCounts::recount(
            self.executions
                .values()
                .filter(|e| e.job_id == job_id)
                .map(|e| &e.status),
        )
    }

    fn job(&self, job_id: &str) -> Result<Job, &'static str> {
        self.jobs.get(job_id).cloned().ok_or("ResourceNotFound")
    }

    fn execution(&self, job_id: &str, thing: &str) -> Result<(Job, Execution), &'static str> {
        let execution = self.latest(job_id, thing).ok_or("ResourceNotFound")?;
        Ok((self.job(job_id)?, execution))
    }

    fn apply(&mut self, outcome: &Outcome, now: Timestamp) -> Vec<FollowUp> {
        match &outcome.job {
            None => {}
            Some(JobWrite::Insert { job }) => {
                self.jobs.insert(job.job_id.clone(), job.clone());
            }
            Some(JobWrite::Update {
                previous_version,
                next,
                clear_queue,
            }) => {
                assert_eq!(self.jobs[&next.job_id].version, *previous_version);
                self.jobs.insert(next.job_id.clone(), next.clone());
                if *clear_queue {
                    self.queues.remove(&next.job_id);
                }
            }
            Some(JobWrite::Delete { job_id }) => {
                self.jobs.remove(job_id);
                self.queues.remove(job_id);
                self.due.remove(job_id);
            }
        }
        for write in &outcome.executions {
            let key = |e: &Execution| (e.job_id.clone(), e.thing_name.clone(), e.execution_number);
            match write {
                ExecutionWrite::Insert(e) => {
                    assert!(self.executions.insert(key(e), e.clone()).is_none());
                }
                ExecutionWrite::Update { previous, next } => {
                    assert_eq!(self.executions[&key(previous)], *previous);
                    self.executions.insert(key(next), next.clone());
                }
                ExecutionWrite::Delete(e) => {
                    self.executions.remove(&key(e));
                }
            }
        }
        for notice in &outcome.notices {
            let document = match notice {
                fleetjobs_core::notify::Notice::NotifyNext {
                    head: Some(head), ..
                } => Some(self.jobs[&head.job_id].document.clone()),
                _ => None,
            };
            let (suffix, payload) = protocol::notice(notice, document.as_ref(), now);
            let topic =
                protocol::topic(protocol::DEFAULT_TOPIC_PREFIX, notice.thing_name(), suffix);
            self.sent.push((topic, payload));
        }
        for (job_id, due) in &outcome.due {
            if !self.jobs.contains_key(job_id) {
                continue;
            }
            match due {
                Due::By(by) => {
                    let at = self.due.get(job_id).map_or(*by, |at| (*at).min(*by));
                    self.due.insert(job_id.clone(), at);
                }
                Due::At(Some(at)) => {
                    self.due.insert(job_id.clone(), *at);
                }
                Due::At(None) => {
                    self.due.remove(job_id);
                }
            }
        }
        let mut later = Vec::new();
        for follow_up in &outcome.follow_ups {
            match follow_up {
                FollowUp::Release { job, count } => {
                    let queue = self.queues.entry(job.job_id.clone()).or_default();
                    let take = (*count as usize).min(queue.len());
                    let things: Vec<String> = queue.drain(..take).collect();
                    let targets = self.targets(&job.job_id, &things);
                    let refs: Vec<&str> = things.iter().map(String::as_str).collect();
                    let queued = commands::queue(job, &targets, &self.pending(&refs), now);
                    later.extend(self.apply(&queued, now));
                }
                other => later.push(other.clone()),
            }
        }
        later
    }

    fn batch(&mut self, follow_up: &FollowUp, now: Timestamp) -> Vec<FollowUp> {
        let (job_id, statuses) = match follow_up {
            FollowUp::Cancel { job_id, scope } => (job_id, scope.statuses()),
            FollowUp::Purge { job_id } => (job_id, ExecutionStatus::ALL),
            FollowUp::Release { .. } => unreachable!("applied inline"),
        };
        let Some(job) = self.jobs.get(job_id).cloned() else {
            return Vec::new();
        };
        let batch: Vec<Execution> = self
            .executions
            .values()
            .filter(|e| e.job_id == *job_id && statuses.contains(&e.status))
            .take(BATCH)
            .cloned()
            .collect();
        let things: Vec<&str> = batch.iter().map(|e| e.thing_name.as_str()).collect();
        let pending = self.pending(&things);
        let outcome = match follow_up {
            FollowUp::Cancel { .. } => commands::cancel_batch(&job, &batch, &pending, now).unwrap(),
            _ => commands::purge_batch(&job, &batch, &pending, now),
        };
        self.apply(&outcome, now)
    }

    fn run_all(&mut self, follow_ups: Vec<FollowUp>, now: Timestamp) {
        let mut queue = VecDeque::from(follow_ups);
        while let Some(follow_up) = queue.pop_front() {
            let more = self.batch(&follow_up, now);
            queue.extend(more);
        }
    }

    fn decide(
        &mut self,
        decided: Result<Outcome, fleetjobs_core::Rejection>,
        now: Timestamp,
    ) -> Answer {
        let outcome = decided.map_err(|r| r.device_code())?;
        let later = self.apply(&outcome, now);
        self.run_all(later, now);
        Ok(())
    }

    fn group_jobs(&self, group: &str, thing: &str) -> Vec<GroupJob> {
        let members = |g: &str| self.members.get(g).is_some_and(|m| m.contains(thing));
        self.jobs
            .values()
            .filter(|j| j.targets.thing_group_names.iter().any(|g| g == group))
            .map(|job| GroupJob {
                latest: self.latest(&job.job_id, thing),
                still_targets: job.targets.thing_names.iter().any(|t| t == thing)
                    || job.targets.thing_group_names.iter().any(|g| members(g)),
                job: job.clone(),
            })
            .collect()
    }

    fn sweep(&mut self, now: Timestamp) {
        let due: Vec<Execution> = {
            let mut due: Vec<Execution> = self
                .executions
                .values()
                .filter(|e| {
                    e.status == ExecutionStatus::InProgress
                        && e.effective_deadline().is_some_and(|d| d <= now)
                })
                .cloned()
                .collect();
            due.sort_by_key(|e| {
                (
                    e.effective_deadline(),
                    e.job_id.clone(),
                    e.thing_name.clone(),
                    e.execution_number,
                )
            });
            due
        };
        let jobs = due
            .iter()
            .map(|e| (e.job_id.clone(), self.jobs[&e.job_id].clone()))
            .collect();
        let things: Vec<&str> = due.iter().map(|e| e.thing_name.as_str()).collect();
        let outcome = commands::time_out(&due, &jobs, &self.pending(&things), now);
        self.apply(&outcome, now);
        let mut ticks: Vec<(Timestamp, String)> = self
            .due
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, at)| (*at, id.clone()))
            .collect();
        ticks.sort();
        let mut batches = Vec::new();
        for (_, job_id) in ticks {
            let Some(job) = self.jobs.get(&job_id).cloned() else {
                continue;
            };
            let outcome = commands::tick(&job, &self.counts(&job_id), now).unwrap();
            batches.extend(self.apply(&outcome, now));
        }
        let (cancels, purges): (Vec<_>, Vec<_>) = batches
            .into_iter()
            .partition(|f| matches!(f, FollowUp::Cancel { .. }));
        self.run_all(purges, now);
        self.run_all(cancels, now);
    }

    fn run(&mut self, command: &Command, ids: &[String], now: Timestamp) -> Answer {
        let job_id = |i: &usize| ids.get(*i).cloned().unwrap_or_else(|| "none".into());
        match command {
            Command::Create { .. } => {
                let request: CreateJob = serde_json::from_value(create_body(command)).unwrap();
                let id = format!("j{}", ids.len());
                let job = request.into_job(id, now).map_err(|r| r.device_code())?;
                let mut things: BTreeSet<String> =
                    job.targets.thing_names.iter().cloned().collect();
                for group in &job.targets.thing_group_names {
                    things.extend(self.members.get(group).into_iter().flatten().cloned());
                }
                let queued = things.len() as u64;
                self.queues
                    .insert(job.job_id.clone(), things.into_iter().collect());
                let outcome = commands::create_job(job, queued, now);
                self.decide(Ok(outcome), now)
            }
            Command::Update { thing, job, status } => {
                let (job, execution) = self.execution(&job_id(job), THINGS[*thing])?;
                let update = DeviceUpdate::to(*status);
                let decided = commands::device_update(&job, &execution, &update, now)
                    .and_then(|updated| updated.outcome(|| Ok(self.pending(&[THINGS[*thing]]))));
                self.decide(decided, now)
            }
            Command::StartNext { thing } => {
                let pending = self.pending(&[THINGS[*thing]]);
                let Some(head) = pending[THINGS[*thing]].first() else {
                    return Ok(());
                };
                let job = self.job(&head.job_id)?;
                match commands::start_next(&job, head, &pending, None, None, now) {
                    Ok(None) => Ok(()),
                    Ok(Some(outcome)) => self.decide(Ok(outcome), now),
                    Err(r) => Err(r.device_code()),
                }
            }
            Command::CancelExecution { thing, job, force } => {
                let (job, execution) = self.execution(&job_id(job), THINGS[*thing])?;
                let pending = self.pending(&[THINGS[*thing]]);
                let by = CancelBy::Operator {
                    force: *force,
                    expected_version: None,
                };
                let decided = commands::cancel_execution(&job, &execution, &pending, by, None, now);
                self.decide(decided, now)
            }
            Command::CancelJob { job, force } => {
                let job = self.job(&job_id(job))?;
                let request = CancelJob {
                    force: *force,
                    ..CancelJob::default()
                };
                self.decide(commands::cancel_job(&job, &request, now), now)
            }
            Command::DeleteExecution { thing, job, force } => {
                let (job, execution) = self.execution(&job_id(job), THINGS[*thing])?;
                let pending = self.pending(&[THINGS[*thing]]);
                let decided = commands::delete_execution(&job, &execution, &pending, *force, now);
                self.decide(decided, now)
            }
            Command::DeleteJob { job, force } => {
                let job = self.job(&job_id(job))?;
                self.decide(commands::delete_job(&job, *force, now), now)
            }
            Command::Join { thing, group } => {
                let (thing, group) = (THINGS[*thing], GROUPS[*group]);
                if !self
                    .members
                    .entry(group.into())
                    .or_default()
                    .insert(thing.into())
                {
                    return Ok(());
                }
                let jobs = self.group_jobs(group, thing);
                let outcome = commands::join_group(&jobs, thing, &self.pending(&[thing]), now);
                self.decide(Ok(outcome), now)
            }
            Command::Leave { thing, group } => {
                let (thing, group) = (THINGS[*thing], GROUPS[*group]);
                if !self.members.entry(group.into()).or_default().remove(thing) {
                    return Err("ResourceNotFound");
                }
                let jobs = self.group_jobs(group, thing);
                let outcome = commands::leave_group(&jobs, &self.pending(&[thing]), now);
                self.decide(Ok(outcome), now)
            }
            Command::Advance { .. } => {
                self.sweep(now);
                Ok(())
            }
        }
    }
}

fn run_store(store: &TestStore, command: &Command, ids: &[String], now: Timestamp) -> Answer {
    let job_id = |i: &usize| ids.get(*i).cloned().unwrap_or_else(|| "none".into());
    let answer = match command {
        Command::Create { .. } => {
            let request: CreateJob = serde_json::from_value(create_body(command)).unwrap();
            store
                .create_job(request, format!("j{}", ids.len()), now)
                .map(drop)
        }
        Command::Update { thing, job, status } => store
            .device_update(
                THINGS[*thing],
                &job_id(job),
                None,
                &DeviceUpdate::to(*status),
                now,
            )
            .map(drop),
        Command::StartNext { thing } => store.start_next(THINGS[*thing], None, None, now).map(drop),
        Command::CancelExecution { thing, job, force } => store
            .cancel_execution(&job_id(job), THINGS[*thing], *force, None, None, now)
            .map(drop),
        Command::CancelJob { job, force } => {
            let request = CancelJob {
                force: *force,
                ..CancelJob::default()
            };
            store.cancel_job(&job_id(job), &request, now).map(drop)
        }
        Command::DeleteExecution { thing, job, force } => {
            let number = store
                .execution(&job_id(job), THINGS[*thing], None)
                .unwrap()
                .map_or(1, |e| e.execution_number);
            store
                .delete_execution(&job_id(job), THINGS[*thing], number, *force, now)
                .map(drop)
        }
        Command::DeleteJob { job, force } => store
            .delete_job(&job_id(job), *force, now)
            .map(|_| while !store.purge_job(&job_id(job), now).unwrap() {}),
        Command::Join { thing, group } => {
            store.add_thing_to_group(GROUPS[*group], THINGS[*thing], now)
        }
        Command::Leave { thing, group } => {
            store.remove_thing_from_group(GROUPS[*group], THINGS[*thing], now)
        }
        Command::Advance { .. } => store.sweep(now, &SweepOptions::default()).map(drop),
    };
    answer.map_err(code)
}

fn stored_executions(store: &TestStore, ids: &[String]) -> Vec<Execution> {
    let query = ExecutionQuery {
        limit: 1000,
        ..ExecutionQuery::default()
    };
    let mut all: Vec<Execution> = ids
        .iter()
        .flat_map(|id| store.executions_of_job(id, &query).unwrap().items)
        .collect();
    all.sort_by(|a, b| {
        (&a.job_id, &a.thing_name, a.execution_number).cmp(&(
            &b.job_id,
            &b.thing_name,
            b.execution_number,
        ))
    });
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_store_applies_outcomes_as_the_model_does_sqlite(commands in prop::collection::vec(command(), 1..40)) {
        with_backend(Backend::Sqlite, || check(&commands))?;
    }

    #[test]
    fn the_store_applies_outcomes_as_the_model_does_postgres(commands in prop::collection::vec(command(), 1..40)) {
        with_backend(Backend::Postgres, || check(&commands))?;
    }
}

/// Runs `commands` through the store and the model, comparing after each.
fn check(commands: &[Command]) -> Result<(), TestCaseError> {
    let store = memory_store();
    let mut model = Model::default();
    for thing in THINGS {
        store
            .insert_thing(thing, &BTreeMap::new(), "hash", noon())
            .unwrap();
    }
    for group in GROUPS {
        store.insert_group(group, None, noon()).unwrap();
        model.members.insert(group.into(), BTreeSet::new());
    }
    let mut ids: Vec<String> = Vec::new();
    let mut now = noon();
    for command in commands {
        if let Command::Advance { minutes } = command {
            now = now.plus_minutes(*minutes);
        }
        let in_store = run_store(&store, command, &ids, now);
        let in_model = model.run(command, &ids, now);
        prop_assert_eq!(in_store, in_model, "{:?}", command);
        if matches!(command, Command::Create { .. }) && in_store.is_ok() {
            ids.push(format!("j{}", ids.len()));
        }
        let expected: Vec<Execution> = model.executions.values().cloned().collect();
        prop_assert_eq!(
            stored_executions(&store, &ids),
            expected,
            "after {:?}",
            command
        );
        for id in &ids {
            let job = store.job(id).unwrap();
            prop_assert_eq!(
                job.as_ref(),
                model.jobs.get(id),
                "job {} after {:?}",
                id,
                command
            );
            if job.is_some() {
                prop_assert_eq!(store.status_counts(id).unwrap(), model.counts(id));
            }
        }
        let sent = drain_outbox(&store);
        prop_assert_eq!(&sent, &model.sent, "notices after {:?}", command);
        model.sent.clear();
    }
    Ok(())
}
