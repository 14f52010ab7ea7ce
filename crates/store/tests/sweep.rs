//! The sweeper's pass on a real SQLite: pacing, scheduling, end behaviours,
//! abort, completion, deletion, retention, and two passes at once.

#[macro_use]
mod common;

use std::sync::{Arc, Barrier};

use common::*;
use fleetjobs_core::execution::DeviceUpdate;
use fleetjobs_core::model::{ExecutionStatus, JobStatus};
use fleetjobs_core::Timestamp;
use fleetjobs_store::{ExecutionQuery, Sql, SweepOptions};
use serde_json::json;

use ExecutionStatus::*;

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:05}")).collect()
}

fn fleet(store: &TestStore, n: usize) -> Vec<String> {
    let names = names("dev", n);
    things(store, &names.iter().map(String::as_str).collect::<Vec<_>>());
    names
}

/// A job for the group "fleet" with a rollout configuration.
fn paced_job(rollout: serde_json::Value) -> serde_json::Value {
    json!({
        "targets": {"thingGroupNames": ["fleet"]},
        "document": {"v": 1},
        "jobExecutionsRolloutConfig": rollout,
    })
}

fn fleet_group(store: &TestStore, n: usize) -> Vec<String> {
    let names = names("dev", n);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    group(store, "fleet", &refs);
    names
}

fn executions(store: &TestStore, job_id: &str) -> u64 {
    let counts = store.status_counts(job_id).unwrap();
    counts.active() + counts.terminal()
}

fn sweep(store: &TestStore, now: Timestamp) -> fleetjobs_store::SweepReport {
    store.sweep(now, &SweepOptions::default()).unwrap()
}

both_backends!(sweep_a_constant_rate_releases_exactly_the_rate_per_minute);
fn sweep_a_constant_rate_releases_exactly_the_rate_per_minute() {
    let store = memory_store();
    fleet_group(&store, 1000);
    create_job(
        &store,
        "paced",
        paced_job(json!({"maximumPerMinute": 100})),
        noon(),
    );
    assert_eq!(
        executions(&store, "paced"),
        100,
        "the first minute at creation"
    );
    for minute in 1..=3 {
        let now = noon().plus_minutes(minute);
        sweep(&store, now);
        sweep(&store, Timestamp(now.0 + 30_000));
        assert_eq!(executions(&store, "paced"), 100 * (minute as u64 + 1));
    }
}

both_backends!(sweep_an_exponential_rate_doubles_at_each_threshold);
fn sweep_an_exponential_rate_doubles_at_each_threshold() {
    let store = memory_store();
    fleet_group(&store, 1000);
    let rollout = json!({
        "exponentialRate": {
            "baseRatePerMinute": 50,
            "incrementFactor": 2,
            "rateIncreaseCriteria": {"numberOfNotifiedThings": 100}
        }
    });
    create_job(&store, "exp", paced_job(rollout), noon());
    let mut per_minute = vec![executions(&store, "exp")];
    for minute in 1..=3 {
        let before = executions(&store, "exp");
        sweep(&store, noon().plus_minutes(minute));
        per_minute.push(executions(&store, "exp") - before);
    }
    // The rate doubles once 100, 200, 300 … things were notified: minute 1
    // notifies 50 and minute 2 another 50 (100 in all), so minute 3 runs at
    // 100 and minute 4 (200 notified) at 200.
    assert_eq!(per_minute, [50, 50, 100, 200]);
}

both_backends!(sweep_aborts_at_the_failure_threshold_and_leaves_in_progress_alone);
fn sweep_aborts_at_the_failure_threshold_and_leaves_in_progress_alone() {
    let store = memory_store();
    let things = fleet(&store, 20);
    let targets: Vec<&str> = things.iter().map(String::as_str).collect();
    let mut body = job_for(&targets);
    body["abortConfig"] = json!({"criteriaList": [{
        "failureType": "FAILED", "action": "CANCEL",
        "thresholdPercentage": 20, "minNumberOfExecutedThings": 10
    }]});
    create_job(&store, "risky", body, noon());
    let report = |status| DeviceUpdate::to(status);
    for thing in &things[..8] {
        store
            .device_update(thing, "risky", None, &report(Succeeded), noon())
            .unwrap();
    }
    store
        .device_update(&things[8], "risky", None, &report(Failed), noon())
        .unwrap();
    store
        .device_update(&things[19], "risky", None, &report(InProgress), noon())
        .unwrap();
    assert_eq!(
        sweep(&store, noon()).aborted,
        0,
        "9 executed: not yet eligible"
    );
    store
        .device_update(&things[9], "risky", None, &report(Failed), noon())
        .unwrap();
    assert_eq!(sweep(&store, noon()).aborted, 1);
    let job = store.existing_job("risky").unwrap();
    assert_eq!(job.status, JobStatus::Canceled);
    assert_eq!(job.reason_code.as_deref(), Some("ABORT_CRITERIA_MET"));
    assert!(
        job.comment.as_deref().unwrap().contains("20.00%"),
        "{job:?}"
    );
    let counts = store.status_counts("risky").unwrap();
    assert_eq!(counts.get(Canceled), 9, "every QUEUED execution");
    assert_eq!(counts.get(InProgress), 1, "untouched");
    assert_eq!(sweep(&store, noon()).aborted, 0, "once");
}

both_backends!(sweep_completes_a_snapshot_job_once_everything_is_terminal);
fn sweep_completes_a_snapshot_job_once_everything_is_terminal() {
    let store = memory_store();
    things(&store, &["a", "b"]);
    create_job(&store, "j", job_for(&["a", "b"]), noon());
    store
        .device_update("a", "j", None, &DeviceUpdate::to(Succeeded), noon())
        .unwrap();
    assert_eq!(sweep(&store, noon()).completed, 0);
    store
        .device_update("b", "j", None, &DeviceUpdate::to(Rejected), noon())
        .unwrap();
    assert_eq!(sweep(&store, noon()).completed, 1);
    let job = store.existing_job("j").unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(sweep(&store, noon()).completed, 0);
}

both_backends!(sweep_starts_scheduled_jobs_and_applies_end_behaviours);
fn sweep_starts_scheduled_jobs_and_applies_end_behaviours() {
    let store = memory_store();
    fleet_group(&store, 10);
    let at = |minutes: i64| noon().plus_minutes(minutes).to_rfc3339();
    let mut body = paced_job(json!({"maximumPerMinute": 4}));
    body["schedulingConfig"] =
        json!({"startTime": at(40), "endTime": at(100), "endBehavior": "STOP_ROLLOUT"});
    create_job(&store, "later", body, noon());
    assert_eq!(
        store.existing_job("later").unwrap().status,
        JobStatus::Scheduled
    );
    sweep(&store, noon().plus_minutes(39));
    assert_eq!(executions(&store, "later"), 0);
    assert_eq!(sweep(&store, noon().plus_minutes(40)).rescheduled, 1);
    assert_eq!(
        store.existing_job("later").unwrap().status,
        JobStatus::InProgress
    );
    assert_eq!(executions(&store, "later"), 4);
    sweep(&store, noon().plus_minutes(100));
    assert!(store.existing_job("later").unwrap().rollout.stopped);
    sweep(&store, noon().plus_minutes(102));
    assert_eq!(
        executions(&store, "later"),
        4,
        "STOP_ROLLOUT releases nothing more"
    );

    things(&store, &["e0", "e1"]);
    for (job_id, behavior, in_progress_after) in [
        ("cancel", "CANCEL", InProgress),
        ("force", "FORCE_CANCEL", Canceled),
    ] {
        let mut body = job_for(&["e0", "e1"]);
        body["schedulingConfig"] = json!({"endTime": at(110), "endBehavior": behavior});
        create_job(&store, job_id, body, noon().plus_minutes(70));
        store
            .start_next("e0", None, None, noon().plus_minutes(71))
            .unwrap();
        let started = store.execution(job_id, "e0", None).unwrap().unwrap();
        assert_eq!(started.status, InProgress, "{job_id}");
        assert_eq!(sweep(&store, noon().plus_minutes(110)).ended, 1, "{job_id}");
        let job = store.existing_job(job_id).unwrap();
        assert_eq!(
            (job.status, job.reason_code.as_deref()),
            (JobStatus::Canceled, Some("END_TIME_REACHED"))
        );
        let queued = store.execution(job_id, "e1", None).unwrap().unwrap();
        assert_eq!(queued.status, Canceled, "{job_id}");
        let started = store.execution(job_id, "e0", None).unwrap().unwrap();
        assert_eq!(started.status, in_progress_after, "{job_id}");
        // Finish the IN_PROGRESS one so the next job's start-next picks its own.
        if started.status == InProgress {
            store
                .device_update(
                    "e0",
                    job_id,
                    None,
                    &DeviceUpdate::to(Succeeded),
                    noon().plus_minutes(111),
                )
                .unwrap();
        }
    }
}

both_backends!(sweep_opens_and_closes_maintenance_windows);
fn sweep_opens_and_closes_maintenance_windows() {
    let store = memory_store();
    fleet_group(&store, 10);
    let mut body = paced_job(json!({"maximumPerMinute": 2}));
    // Daily 12:30-13:00 UTC.
    body["schedulingConfig"] =
        json!({"maintenanceWindows": [{"startTime": "30 12 * * *", "durationInMinutes": 30}]});
    create_job(&store, "windowed", body, noon());
    assert_eq!(
        store.existing_job("windowed").unwrap().status,
        JobStatus::Scheduled
    );
    sweep(&store, noon().plus_minutes(29));
    assert_eq!(executions(&store, "windowed"), 0);
    sweep(&store, noon().plus_minutes(30));
    assert_eq!(
        store.existing_job("windowed").unwrap().status,
        JobStatus::InProgress
    );
    assert_eq!(executions(&store, "windowed"), 2);
    sweep(&store, noon().plus_minutes(31));
    assert_eq!(executions(&store, "windowed"), 4);
    sweep(&store, noon().plus_minutes(60));
    assert_eq!(
        store.existing_job("windowed").unwrap().status,
        JobStatus::Scheduled
    );
    sweep(&store, noon().plus_minutes(61));
    assert_eq!(
        executions(&store, "windowed"),
        4,
        "nothing released outside the window"
    );
}

both_backends!(sweep_finishes_deletions_in_batches_and_purges_expired_jobs);
fn sweep_finishes_deletions_in_batches_and_purges_expired_jobs() {
    let store = memory_store();
    fleet_group(&store, 2500);
    create_job(
        &store,
        "big",
        paced_job(json!({"maximumPerMinute": 1000})),
        noon(),
    );
    sweep(&store, noon().plus_minutes(1));
    sweep(&store, noon().plus_minutes(2));
    assert_eq!(executions(&store, "big"), 2500);
    store
        .delete_job("big", true, noon().plus_minutes(3))
        .unwrap();
    let options = SweepOptions {
        deletion_batches: 1,
        ..SweepOptions::default()
    };
    let mut passes = 0;
    while store.job("big").unwrap().is_some() {
        assert_eq!(
            store
                .sweep(noon().plus_minutes(3), &options)
                .unwrap()
                .deletion_batches,
            1
        );
        passes += 1;
    }
    assert_eq!(passes, 3, "2,500 executions in batches of 1,000");
    let left = store
        .executions_of_job(
            "big",
            &ExecutionQuery {
                limit: 10,
                ..ExecutionQuery::default()
            },
        )
        .unwrap();
    assert!(left.items.is_empty());

    things_done(&store);
    let day = 24 * 60;
    sweep(&store, noon().plus_minutes(89 * day));
    assert!(store.job("old").unwrap().is_some(), "kept for 90 days");
    assert_eq!(sweep(&store, noon().plus_minutes(90 * day + 1)).expired, 1);
    sweep(&store, noon().plus_minutes(90 * day + 1));
    assert!(store.job("old").unwrap().is_none(), "purged after 90 days");
}

both_backends!(sweep_finishes_a_cancel_too_big_for_its_request);
fn sweep_finishes_a_cancel_too_big_for_its_request() {
    let store = memory_store();
    fleet_group(&store, 6500);
    let everyone = json!({"targets": {"thingGroupNames": ["fleet"]}, "document": {"v": 1}});
    create_job(&store, "wide", everyone, noon());
    release_all(&store, "wide", noon());
    store
        .cancel_job("wide", &Default::default(), noon())
        .unwrap();
    let counts = store.status_counts("wide").unwrap();
    assert_eq!((counts.get(Canceled), counts.get(Queued)), (6000, 500));
    assert_eq!(sweep(&store, noon()).cancels_finished, 1);
    assert_eq!(store.status_counts("wide").unwrap().get(Canceled), 6500);
    assert_eq!(sweep(&store, noon()).cancels_finished, 0);
}

fn things_done(store: &TestStore) {
    things(store, &["solo"]);
    create_job(store, "old", job_for(&["solo"]), noon());
    store
        .device_update("solo", "old", None, &DeviceUpdate::to(Succeeded), noon())
        .unwrap();
    sweep(store, noon());
    assert_eq!(
        store.existing_job("old").unwrap().status,
        JobStatus::Completed
    );
}

/// Everything the sweeper can change, for comparing two outcomes.
fn snapshot(store: &TestStore) -> Vec<String> {
    let sql = |q: &str| {
        store
            .sql()
            .query(q, &[])
            .unwrap()
            .iter()
            .map(|row| format!("{row:?}"))
            .collect::<Vec<_>>()
    };
    let mut out = sql("SELECT job_id, status, body FROM jobs ORDER BY job_id");
    out.extend(sql(
        "SELECT job_id, thing_name, execution_number, status, version_number FROM executions
         ORDER BY job_id, thing_name, execution_number",
    ));
    out.extend(sql(
        "SELECT job_id, status, count FROM job_status_counts ORDER BY job_id, status",
    ));
    out.extend(sql("SELECT topic, payload FROM outbox ORDER BY id"));
    out
}

/// A state with work of every kind due at `due`.
fn busy_store(db: &TestDb) -> Timestamp {
    let store = db.store();
    fleet_group(&store, 300);
    create_job(
        &store,
        "paced",
        paced_job(json!({"maximumPerMinute": 100})),
        noon(),
    );
    things(&store, &["x0", "x1", "x2"]);
    let mut body = job_for(&["x0", "x1", "x2"]);
    body["timeoutConfig"] = json!({"inProgressTimeoutInMinutes": 5});
    body["jobExecutionsRetryConfig"] =
        json!({"criteriaList": [{"failureType": "TIMED_OUT", "numberOfRetries": 1}]});
    create_job(&store, "slow", body, noon());
    for thing in ["x0", "x1"] {
        store.start_next(thing, None, None, noon()).unwrap();
    }
    noon().plus_minutes(6)
}

both_backends!(sweep_two_passes_at_once_leave_the_same_state_as_one);
fn sweep_two_passes_at_once_leave_the_same_state_as_one() {
    let single = TestDb::new();
    let double = TestDb::new();
    let due = busy_store(&single);
    busy_store(&double);

    let one = single.connect();
    let report = sweep(&one, due);
    assert_eq!((report.timed_out, report.released), (2, 100));

    let barrier = Arc::new(Barrier::new(2));
    let passes: Vec<_> = (0..2)
        .map(|_| {
            let double = double.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let store = double.connect();
                barrier.wait();
                store.sweep(due, &SweepOptions::default()).unwrap()
            })
        })
        .collect();
    let reports: Vec<_> = passes.into_iter().map(|p| p.join().unwrap()).collect();
    assert_eq!(reports.iter().map(|r| r.timed_out).sum::<usize>(), 2);
    assert_eq!(reports.iter().map(|r| r.released).sum::<u64>(), 100);
    let two = double.connect();
    assert_eq!(snapshot(&one), snapshot(&two));
}

both_backends!(sweep_no_job_is_starved_by_many_idle_continuous_jobs);
/// The measured starvation (more active jobs than a pass looks at): 120
/// long-lived CONTINUOUS jobs, then a job paced at 2 a minute for 6 things
/// and a job whose only execution times out. Both run to completion; the
/// idle continuous jobs cost a pass nothing.
fn sweep_no_job_is_starved_by_many_idle_continuous_jobs() {
    let store = memory_store();
    things(&store, &["c0", "t0"]);
    for i in 0..120 {
        let mut body = job_for(&["c0"]);
        body["targetSelection"] = json!("CONTINUOUS");
        create_job(&store, &format!("continuous-{i:03}"), body, noon());
    }
    fleet_group(&store, 6);
    create_job(
        &store,
        "paced",
        paced_job(json!({"maximumPerMinute": 2})),
        noon(),
    );
    let mut body = job_for(&["t0"]);
    body["timeoutConfig"] = json!({"inProgressTimeoutInMinutes": 1});
    create_job(&store, "timed", body, noon());
    store.start_next("t0", None, None, noon()).unwrap();
    let options = SweepOptions {
        jobs: 10,
        ..SweepOptions::default()
    };
    // Settle what creation made due (each job once), then minute by minute.
    for _ in 0..20 {
        store.sweep(noon(), &options).unwrap();
    }
    let mut completed_at = std::collections::BTreeMap::new();
    for minute in 1..=4 {
        let now = noon().plus_minutes(minute);
        store.sweep(now, &options).unwrap();
        assert_eq!(
            executions(&store, "paced"),
            (2 * (minute as u64 + 1)).min(6),
            "2 more at minute {minute}"
        );
        for job in ["paced", "timed"] {
            if store.existing_job(job).unwrap().status == JobStatus::Completed {
                completed_at.entry(job).or_insert(minute);
            }
        }
    }
    assert_eq!(
        completed_at.get("timed"),
        Some(&1),
        "timed out on time, then completed"
    );
    assert_eq!(
        store
            .execution("timed", "t0", None)
            .unwrap()
            .unwrap()
            .status,
        TimedOut
    );
    assert_eq!(
        store.existing_job("paced").unwrap().status,
        JobStatus::InProgress,
        "its executions are still QUEUED"
    );
    assert!(
        store
            .due_job_ids(noon().plus_minutes(5), 1000)
            .unwrap()
            .len()
            <= 1,
        "the idle continuous jobs are not due"
    );
}

both_backends!(create_job_for_a_big_group_releases_one_batch_and_the_sweeper_the_rest);
/// CreateJob is bounded whatever the group's size: the request queues every
/// target in one statement and releases the first batch (with its notices);
/// the job shows the rest as pending; the sweeper releases them, a batch per
/// transaction, and a stop in between loses nothing (the queue is stored).
fn create_job_for_a_big_group_releases_one_batch_and_the_sweeper_the_rest() {
    let store = memory_store();
    fleet_group(&store, 3500);
    let everyone = json!({"targets": {"thingGroupNames": ["fleet"]}, "document": {"v": 1}});
    let job = create_job(&store, "big", everyone, noon());
    assert_eq!(
        (job.rollout.released, job.rollout.pending_targets),
        (1000, 2500)
    );
    assert_eq!(executions(&store, "big"), 1000);
    assert_eq!(
        drain_outbox(&store).len(),
        2000,
        "notify and notify-next for each released thing"
    );
    assert_eq!(
        store.due_job_ids(noon(), 10).unwrap(),
        ["big"],
        "due at once while targets wait"
    );
    // A pass with room for one extra release transaction, as if the host
    // stopped after it: the queue keeps the rest.
    let options = SweepOptions {
        release_batches: 1,
        ..SweepOptions::default()
    };
    assert_eq!(store.sweep(noon(), &options).unwrap().released, 2000);
    assert_eq!(executions(&store, "big"), 3000);
    assert_eq!(sweep(&store, noon()).released, 500);
    assert_eq!(executions(&store, "big"), 3500);
    let counts = store.status_counts("big").unwrap();
    assert_eq!(counts.get(Queued), 3500);
    assert_eq!(
        store.existing_job("big").unwrap().rollout.pending_targets,
        0
    );
}

both_backends!(sweep_releases_no_extra_batches_while_the_outbox_is_full);
/// A pass's extra release transactions stop once `release_backlog` messages
/// wait, so that it starts publishing; its first release still runs (the
/// job moves on whatever the outbox holds), and the next pass continues.
fn sweep_releases_no_extra_batches_while_the_outbox_is_full() {
    let store = memory_store();
    fleet_group(&store, 4500);
    let everyone = json!({"targets": {"thingGroupNames": ["fleet"]}, "document": {"v": 1}});
    create_job(&store, "big", everyone, noon());
    drain_outbox(&store);
    let options = SweepOptions {
        release_backlog: 3000,
        ..SweepOptions::default()
    };
    // 2,000 messages wait after the first batch: room for one more.
    assert_eq!(store.sweep(noon(), &options).unwrap().released, 2000);
    assert_eq!(store.outbox_len().unwrap(), 4000);
    assert_eq!(store.sweep(noon(), &options).unwrap().released, 1000);
    drain_outbox(&store);
    assert_eq!(store.sweep(noon(), &options).unwrap().released, 500);
    assert_eq!(executions(&store, "big"), 4500);
}
