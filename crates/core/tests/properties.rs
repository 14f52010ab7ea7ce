//! Property tests: a small in-memory model of one job on five things (the job,
//! every execution ever created, and per-status counters kept incrementally
//! with `StatusCounts::record`) driven by random command sequences through
//! the core's functions only. Each `property_*` test replays the same kind of
//! runs and checks one invariant after every step.

mod common;

use common::{job_at, noon, SEED_BODY};
use fleetjobs_core::abort::Abort;
use fleetjobs_core::config::{RetryConfig, RetryFailureType};
use fleetjobs_core::execution::{CancelBy, DeviceUpdate};
use fleetjobs_core::job::CancelJob;
use fleetjobs_core::{
    Execution, ExecutionStatus, Job, JobStatus, JobType, StatusCounts, Timestamp,
};
use proptest::prelude::*;
use serde_json::json;

const THINGS: usize = 5;

// ---------------------------------------------------------------------------
// Set-up and commands
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Setup {
    job_type: JobType,
    retry: Option<serde_json::Value>,
    abort: Option<serde_json::Value>,
    rollout: Option<serde_json::Value>,
}

fn setup() -> impl Strategy<Value = Setup> {
    let retries = prop::sample::select(vec![
        None,
        Some(json!([{"failureType": "FAILED", "numberOfRetries": 1}])),
        Some(json!([{"failureType": "FAILED", "numberOfRetries": 2},
                    {"failureType": "TIMED_OUT", "numberOfRetries": 1}])),
        Some(json!([{"failureType": "ALL", "numberOfRetries": 3}])),
        Some(json!([{"failureType": "FAILED", "numberOfRetries": 1},
                    {"failureType": "ALL", "numberOfRetries": 2}])),
        Some(json!([{"failureType": "TIMED_OUT", "numberOfRetries": 2}])),
        Some(json!([{"failureType": "ALL", "numberOfRetries": 0}])),
    ]);
    let aborts = prop::sample::select(vec![
        None,
        Some(json!([{"failureType": "ALL", "action": "CANCEL",
            "thresholdPercentage": 50, "minNumberOfExecutedThings": 3}])),
        Some(json!([{"failureType": "FAILED", "action": "CANCEL",
            "thresholdPercentage": 30, "minNumberOfExecutedThings": 2},
            {"failureType": "TIMED_OUT", "action": "CANCEL",
            "thresholdPercentage": 10, "minNumberOfExecutedThings": 1}])),
    ]);
    let rollouts = prop::sample::select(vec![None, Some(json!({"maximumPerMinute": 2}))]);
    let types = prop::sample::select(vec![
        JobType::Snapshot,
        JobType::Snapshot,
        JobType::Snapshot,
        JobType::Continuous,
    ]);
    (types, retries, aborts, rollouts).prop_map(|(job_type, retry, abort, rollout)| Setup {
        job_type,
        retry,
        abort,
        rollout,
    })
}

/// How a command picks the execution of a thing it acts on.
#[derive(Debug, Clone, Copy)]
enum Pick {
    /// The thing's latest execution.
    Latest,
    /// Its first execution (terminal once it has been retried).
    First,
}

/// `expectedVersion` relative to the current versionNumber.
#[derive(Debug, Clone, Copy)]
enum Expect {
    None,
    Current,
    Stale(i64),
}

#[derive(Debug, Clone)]
enum Command {
    Device {
        thing: usize,
        pick: Pick,
        status: ExecutionStatus,
        expect: Expect,
        step: Option<i64>,
    },
    StartNext {
        thing: usize,
        step: Option<i64>,
    },
    OperatorCancel {
        thing: usize,
        pick: Pick,
        force: bool,
        expect: Expect,
    },
    JobCancel {
        force: bool,
    },
    Advance {
        minutes: i64,
    },
    Remove {
        thing: usize,
        pick: Pick,
    },
    Release,
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![4 => Just(Pick::Latest), 1 => Just(Pick::First)]
}

fn expect() -> impl Strategy<Value = Expect> {
    prop_oneof![
        3 => Just(Expect::None),
        2 => Just(Expect::Current),
        1 => prop::sample::select(vec![-1i64, 1, 5]).prop_map(Expect::Stale),
    ]
}

fn step_timeout() -> impl Strategy<Value = Option<i64>> {
    prop::sample::select(vec![None, None, Some(-1), Some(1), Some(3), Some(15)])
}

fn command() -> impl Strategy<Value = Command> {
    let thing = 0..THINGS;
    let status = prop::sample::select(ExecutionStatus::ALL.to_vec());
    let device_status = prop::sample::select(vec![
        ExecutionStatus::InProgress,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::Rejected,
    ]);
    prop_oneof![
        8 => (thing.clone(), pick(), prop_oneof![3 => device_status, 1 => status], expect(), step_timeout())
            .prop_map(|(thing, pick, status, expect, step)| Command::Device {
                thing, pick, status, expect, step
            }),
        4 => (thing.clone(), step_timeout()).prop_map(|(thing, step)| Command::StartNext { thing, step }),
        2 => (thing.clone(), pick(), any::<bool>(), expect()).prop_map(|(thing, pick, force, expect)| {
            Command::OperatorCancel { thing, pick, force, expect }
        }),
        1 => any::<bool>().prop_map(|force| Command::JobCancel { force }),
        3 => (0i64..12).prop_map(|minutes| Command::Advance { minutes }),
        1 => (thing, pick()).prop_map(|(thing, pick)| Command::Remove { thing, pick }),
        2 => Just(Command::Release),
    ]
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

/// One change of one execution, as the store would persist it.
#[derive(Debug, Clone)]
struct Change {
    cause: &'static str,
    before: Option<Execution>,
    after: Execution,
}

/// The state after one command (and the service's follow-ups: retries,
/// abort, completion).
#[derive(Debug, Clone)]
struct Step {
    command: Command,
    changes: Vec<Change>,
    job: Job,
    executions: Vec<Execution>,
    counts: StatusCounts,
    now: Timestamp,
}

struct Model {
    job: Job,
    /// Every execution ever created; indices are stable.
    executions: Vec<Execution>,
    /// Thing index of each execution.
    owners: Vec<usize>,
    counts: StatusCounts,
    now: Timestamp,
    changes: Vec<Change>,
}

fn build_job(setup: &Setup) -> Job {
    let mut body: serde_json::Value = serde_json::from_str(SEED_BODY).unwrap();
    body["jobType"] = json!(setup.job_type);
    body["timeoutConfig"] = json!({"inProgressTimeoutInMinutes": 10});
    if let Some(retry) = &setup.retry {
        body["jobExecutionsRetryConfig"] = json!({ "criteriaList": retry });
    }
    if let Some(abort) = &setup.abort {
        body["abortConfig"] = json!({ "criteriaList": abort });
    }
    if let Some(rollout) = &setup.rollout {
        body["jobExecutionsRolloutConfig"] = rollout.clone();
    }
    let mut job = job_at(body, "job-p", noon());
    job.rollout.pending_targets = THINGS as u64;
    job
}

impl Model {
    fn new(setup: &Setup) -> Self {
        let mut model = Model {
            job: build_job(setup),
            executions: vec![],
            owners: vec![],
            counts: StatusCounts::default(),
            now: noon(),
            changes: vec![],
        };
        model.release();
        model.changes.clear();
        model
    }

    fn thing_name(thing: usize) -> String {
        format!("thing-{thing}")
    }

    fn find(&self, thing: usize, pick: Pick) -> Option<usize> {
        let mut mine = (0..self.executions.len()).filter(|&i| self.owners[i] == thing);
        match pick {
            Pick::First => mine.next(),
            Pick::Latest => mine.next_back(),
        }
    }

    fn expected_version(&self, i: usize, expect: Expect) -> Option<i64> {
        let current = self.executions[i].version_number;
        match expect {
            Expect::None => None,
            Expect::Current => Some(current),
            Expect::Stale(delta) => Some(current + delta),
        }
    }

    fn create(&mut self, cause: &'static str, thing: usize, execution: Execution) {
        self.counts.record(None, Some(execution.status));
        self.changes.push(Change {
            cause,
            before: None,
            after: execution.clone(),
        });
        self.executions.push(execution);
        self.owners.push(thing);
    }

    /// Persists a change the core returned, keeps the counters, and retries a
    /// FAILED or TIMED_OUT execution in the same step when the job allows it.
    fn apply(&mut self, cause: &'static str, i: usize, next: Execution) {
        let before = std::mem::replace(&mut self.executions[i], next.clone());
        self.counts.record(Some(before.status), Some(next.status));
        self.changes.push(Change {
            cause,
            before: Some(before),
            after: next.clone(),
        });
        if matches!(
            next.status,
            ExecutionStatus::Failed | ExecutionStatus::TimedOut
        ) && self.job.status == JobStatus::InProgress
        {
            if let Some(retry) = next.retry(self.job.config.retry.as_ref(), self.now) {
                self.create("retry", self.owners[i], retry);
            }
        }
    }

    fn release(&mut self) {
        let succeeded = self.counts.get(ExecutionStatus::Succeeded);
        if let Some(release) = self.job.release(self.now, succeeded) {
            let first = self.job.rollout.released as usize;
            self.job = release.job;
            for thing in first..first + release.count as usize {
                let name = Self::thing_name(thing);
                self.create(
                    "release",
                    thing,
                    Execution::queued(&self.job.job_id, &name, self.now),
                );
            }
        }
    }

    /// Cancels every execution a job-level cancel sweeps. The core is asked
    /// about every execution; it must accept exactly those in the scope.
    fn sweep(&mut self, cause: &'static str, force: bool) {
        for i in 0..self.executions.len() {
            if let Ok(next) = self.executions[i].cancel(CancelBy::Job { force }, None, self.now) {
                self.apply(cause, i, next);
            }
        }
    }

    fn run(&mut self, command: &Command) {
        self.changes.clear();
        let timeout = self.job.config.timeout;
        match *command {
            Command::Device {
                thing,
                pick,
                status,
                expect,
                step,
            } => {
                if let Some(i) = self.find(thing, pick) {
                    let update = DeviceUpdate {
                        status: Some(status),
                        status_details: None,
                        expected_version: self.expected_version(i, expect),
                        step_timeout_in_minutes: step,
                    };
                    if let Ok(next) =
                        self.executions[i].device_update(&update, timeout.as_ref(), self.now)
                    {
                        self.apply("device", i, next);
                    }
                }
            }
            Command::StartNext { thing, step } => {
                // The head of the thing's pending list: its latest execution
                // if that is pending.
                if let Some(i) = self.find(thing, Pick::Latest) {
                    if let Ok(Some(next)) =
                        self.executions[i].start_next(None, step, timeout.as_ref(), self.now)
                    {
                        self.apply("start_next", i, next);
                    }
                }
            }
            Command::OperatorCancel {
                thing,
                pick,
                force,
                expect,
            } => {
                if let Some(i) = self.find(thing, pick) {
                    let by = CancelBy::Operator {
                        force,
                        expected_version: self.expected_version(i, expect),
                    };
                    if let Ok(next) = self.executions[i].cancel(by, None, self.now) {
                        self.apply("operator_cancel", i, next);
                    }
                }
            }
            Command::JobCancel { force } => {
                let request = CancelJob {
                    force,
                    ..CancelJob::default()
                };
                if let Ok((job, scope)) = self.job.cancel(&request, self.now) {
                    self.job = job;
                    self.sweep("job_cancel", scope.force);
                }
            }
            Command::Advance { minutes } => {
                self.now = self.now.plus_minutes(minutes);
                for i in 0..self.executions.len() {
                    if let Some(next) = self.executions[i].time_out(self.now) {
                        self.apply("timeout", i, next);
                    }
                }
            }
            Command::Remove { thing, pick } => {
                if let Some(i) = self.find(thing, pick) {
                    if let Some(next) = self.executions[i].remove(self.now) {
                        self.apply("remove", i, next);
                    }
                }
            }
            Command::Release => self.release(),
        }
        // The service's follow-ups: abort, then completion.
        if self.job.is_active() {
            let abort = self
                .job
                .config
                .abort
                .as_ref()
                .and_then(|a| a.evaluate(&self.counts));
            if let Some(abort) = abort {
                if let Ok((job, scope)) = self.job.abort(&abort, self.now) {
                    self.job = job;
                    self.sweep("abort", scope.force);
                }
            }
        }
        if let Some(job) = self.job.completion(&self.counts, self.now) {
            self.job = job;
        }
    }

    fn snapshot(&self, command: &Command) -> Step {
        Step {
            command: command.clone(),
            changes: self.changes.clone(),
            job: self.job.clone(),
            executions: self.executions.clone(),
            counts: self.counts,
            now: self.now,
        }
    }
}

fn simulate(setup: &Setup, commands: &[Command]) -> (Model, Vec<Step>) {
    let mut model = Model::new(setup);
    let steps = commands
        .iter()
        .map(|command| {
            model.run(command);
            model.snapshot(command)
        })
        .collect();
    (model, steps)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn all_terminal(executions: &[Execution]) -> bool {
    executions.iter().all(|e| e.status.is_terminal())
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// Nothing leaves a terminal status: no change starts from a terminal
    /// execution, and a terminal execution is identical in every later step.
    #[test]
    fn property_terminal_executions_never_change(
        setup in setup(),
        commands in prop::collection::vec(command(), 1..40),
    ) {
        let (_, steps) = simulate(&setup, &commands);
        let mut frozen: Vec<Option<Execution>> = vec![];
        for step in &steps {
            for change in &step.changes {
                if let Some(before) = &change.before {
                    prop_assert!(
                        !before.status.is_terminal(),
                        "{:?} changed a terminal execution: {:?} -> {:?}",
                        step.command, before.status, change.after.status
                    );
                }
            }
            for (i, e) in step.executions.iter().enumerate() {
                if i >= frozen.len() {
                    frozen.push(None);
                }
                match &frozen[i] {
                    Some(old) => prop_assert_eq!(old, e, "after {:?}", step.command),
                    None if e.status.is_terminal() => frozen[i] = Some(e.clone()),
                    None => {}
                }
            }
        }
    }

    /// versionNumber starts at 1 and increases by exactly 1 on every change;
    /// nothing else changes it.
    #[test]
    fn property_version_increments_by_exactly_one(
        setup in setup(),
        commands in prop::collection::vec(command(), 1..40),
    ) {
        let (model, steps) = simulate(&setup, &commands);
        let mut previous = Model::new(&setup).executions;
        for step in &steps {
            let mut changes_per_index = vec![0i64; step.executions.len()];
            for change in &step.changes {
                match &change.before {
                    None => prop_assert_eq!(change.after.version_number, 1),
                    Some(before) => {
                        prop_assert_eq!(
                            change.after.version_number,
                            before.version_number + 1,
                            "{} in {:?}", change.cause, step.command
                        );
                        prop_assert_eq!(change.after.last_updated_at, step.now);
                    }
                }
            }
            for change in step.changes.iter().filter(|c| c.before.is_some()) {
                let i = step
                    .executions
                    .iter()
                    .position(|e| {
                        e.thing_name == change.after.thing_name
                            && e.execution_number == change.after.execution_number
                    })
                    .unwrap();
                changes_per_index[i] += 1;
            }
            for (i, e) in step.executions.iter().enumerate() {
                let before = previous.get(i).map_or(1, |p| p.version_number);
                prop_assert_eq!(e.version_number, before + changes_per_index[i]);
            }
            previous = step.executions.clone();
        }
        prop_assert_eq!(model.executions.len(), previous.len());
    }

    /// The incrementally kept counters always equal a recount.
    #[test]
    fn property_counters_equal_recount(
        setup in setup(),
        commands in prop::collection::vec(command(), 1..40),
    ) {
        let (_, steps) = simulate(&setup, &commands);
        for step in &steps {
            let recount = StatusCounts::recount(step.executions.iter().map(|e| &e.status));
            prop_assert_eq!(step.counts, recount, "after {:?}", step.command);
            let total: u64 = step.counts.iter().map(|(_, n)| n).sum();
            prop_assert_eq!(total, step.executions.len() as u64);
            prop_assert_eq!(step.counts.active() + step.counts.terminal(), total);
        }
    }

    /// Retries never exceed the configuration: each failure type within its
    /// budget, all retries within the configured total; every retry is one
    /// more execution with the next executionNumber.
    #[test]
    fn property_retries_within_budget(
        setup in setup(),
        commands in prop::collection::vec(command(), 1..40),
    ) {
        let (model, steps) = simulate(&setup, &commands);
        let retry: Option<RetryConfig> = model.job.config.retry.clone();
        let budget = |failure| retry.as_ref().map_or(0, |r| r.budget(failure));
        let total_budget: u32 = retry
            .as_ref()
            .map_or(0, |r| r.criteria_list.iter().map(|c| c.number_of_retries).sum());
        for step in &steps {
            for e in &step.executions {
                prop_assert!(e.retries.failed <= budget(RetryFailureType::Failed), "{:?}", e.retries);
                prop_assert!(e.retries.timed_out <= budget(RetryFailureType::TimedOut), "{:?}", e.retries);
                prop_assert!(e.retries.total() <= total_budget, "{:?}", e.retries);
                prop_assert_eq!(e.retry_attempt() as i64, e.execution_number - 1);
            }
            for change in step.changes.iter().filter(|c| c.cause == "retry") {
                let failed = step
                    .changes
                    .iter()
                    .find(|c| {
                        c.after.thing_name == change.after.thing_name
                            && c.after.execution_number == change.after.execution_number - 1
                    })
                    .expect("a retry follows a failure in the same step");
                prop_assert!(matches!(
                    failed.after.status,
                    ExecutionStatus::Failed | ExecutionStatus::TimedOut
                ));
                let mut expected = failed.after.retries;
                if failed.after.status == ExecutionStatus::Failed {
                    expected.failed += 1;
                } else {
                    expected.timed_out += 1;
                }
                prop_assert_eq!(change.after.retries, expected);
                prop_assert_eq!(change.after.status, ExecutionStatus::Queued);
            }
        }
        for thing in 0..THINGS {
            let mine: Vec<_> = (0..model.executions.len())
                .filter(|&i| model.owners[i] == thing)
                .map(|i| &model.executions[i])
                .collect();
            for (n, e) in mine.iter().enumerate() {
                prop_assert_eq!(e.execution_number, n as i64 + 1);
                prop_assert_eq!(&e.thing_name, &Model::thing_name(thing));
            }
            // Only the latest execution of a thing may be pending.
            for e in mine.iter().rev().skip(1) {
                prop_assert!(e.status.is_terminal());
            }
        }
    }

    /// A SNAPSHOT job is COMPLETED exactly when every execution is terminal
    /// and nothing is left to release (completion is called after every
    /// step); a CONTINUOUS job without endTime never completes.
    #[test]
    fn property_snapshot_completes_exactly_when_all_terminal(
        setup in setup(),
        commands in prop::collection::vec(command(), 1..40),
    ) {
        let (_, steps) = simulate(&setup, &commands);
        let mut was_completed = false;
        for step in &steps {
            let job = &step.job;
            let rolled_out = job.rollout.pending_targets == 0 || job.rollout.stopped;
            let done = all_terminal(&step.executions) && rolled_out;
            match job.job_type {
                JobType::Continuous => prop_assert_ne!(job.status, JobStatus::Completed),
                JobType::Snapshot => match job.status {
                    JobStatus::Completed => {
                        prop_assert!(done, "COMPLETED with pending work after {:?}", step.command);
                        prop_assert!(job.completed_at.is_some());
                    }
                    JobStatus::InProgress => {
                        prop_assert!(!done, "all terminal but still IN_PROGRESS after {:?}", step.command);
                        prop_assert!(!was_completed);
                    }
                    JobStatus::Canceled => prop_assert!(!was_completed, "a COMPLETED job was canceled"),
                    other => prop_assert!(false, "unexpected job status {}", other),
                },
            }
            was_completed |= job.status == JobStatus::Completed;
        }
    }

    /// Abort and job cancel sweep exactly their scope: an abort cancels only
    /// QUEUED executions (never forced); after an abort nothing is QUEUED and
    /// no retry is created; a job cancel without force leaves IN_PROGRESS.
    #[test]
    fn property_cancel_sweeps_exactly_the_scope(
        setup in setup(),
        commands in prop::collection::vec(command(), 1..40),
    ) {
        let (_, steps) = simulate(&setup, &commands);
        for step in &steps {
            let aborted = step.job.reason_code.as_deref() == Some(Abort::REASON_CODE);
            for change in &step.changes {
                let before = change.before.as_ref();
                match change.cause {
                    "abort" => {
                        prop_assert_eq!(before.map(|b| b.status), Some(ExecutionStatus::Queued));
                        prop_assert_eq!(change.after.status, ExecutionStatus::Canceled);
                        prop_assert!(!change.after.force_canceled);
                    }
                    "job_cancel" => {
                        let force = matches!(step.command, Command::JobCancel { force: true });
                        let allowed: &[ExecutionStatus] = if force {
                            &[ExecutionStatus::Queued, ExecutionStatus::InProgress]
                        } else {
                            &[ExecutionStatus::Queued]
                        };
                        prop_assert!(allowed.contains(&before.unwrap().status));
                        prop_assert_eq!(change.after.status, ExecutionStatus::Canceled);
                    }
                    _ => {}
                }
            }
            if aborted {
                prop_assert_eq!(step.job.status, JobStatus::Canceled);
                prop_assert!(
                    step.executions.iter().all(|e| e.status != ExecutionStatus::Queued),
                    "QUEUED left after abort"
                );
            }
            if step.job.status == JobStatus::Canceled {
                prop_assert!(step.executions.iter().all(|e| e.status != ExecutionStatus::Queued));
                if step.job.force_canceled {
                    prop_assert!(step.executions.iter().all(|e| e.status.is_terminal()));
                }
            }
        }
    }
}

/// The model is not vacuous: over a fixed sample of 256 generated runs, every
/// interesting path is taken at least once (retries, aborts, completion,
/// timeouts, sweeps, removals, rejected stale updates, paced releases).
#[test]
fn property_model_reaches_every_interesting_path() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeSet;

    let mut runner = TestRunner::deterministic();
    let strategy = (setup(), prop::collection::vec(command(), 1..40));
    let mut seen = BTreeSet::new();
    for _ in 0..256 {
        let (setup, commands) = strategy.new_tree(&mut runner).unwrap().current();
        let (model, steps) = simulate(&setup, &commands);
        for step in &steps {
            for change in &step.changes {
                seen.insert(format!("{}:{}", change.cause, change.after.status));
            }
            if matches!(
                step.command,
                Command::Device {
                    expect: Expect::Stale(_),
                    ..
                }
            ) && step.changes.is_empty()
            {
                seen.insert("stale update rejected".to_owned());
            }
        }
        seen.insert(format!("job:{}", model.job.status));
        if model.job.reason_code.as_deref() == Some(Abort::REASON_CODE) {
            seen.insert("job:aborted".to_owned());
        }
        if model.executions.iter().any(|e| e.retries.timed_out > 0) {
            seen.insert("retried after TIMED_OUT".to_owned());
        }
    }
    for expected in [
        "device:IN_PROGRESS",
        "device:SUCCEEDED",
        "device:FAILED",
        "device:REJECTED",
        "start_next:IN_PROGRESS",
        "operator_cancel:CANCELED",
        "job_cancel:CANCELED",
        "abort:CANCELED",
        "timeout:TIMED_OUT",
        "remove:REMOVED",
        "retry:QUEUED",
        "release:QUEUED",
        "stale update rejected",
        "retried after TIMED_OUT",
        "job:COMPLETED",
        "job:CANCELED",
        "job:IN_PROGRESS",
        "job:aborted",
    ] {
        assert!(
            seen.contains(expected),
            "never reached {expected}: {seen:?}"
        );
    }
}
