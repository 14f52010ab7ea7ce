//! Rollout pacing (docs/lifecycle.md#rollout): the exponential rate and
//! `Job::release` over time, maintenance windows and STOP_ROLLOUT.

mod common;

use common::{at, job_at, job_with, noon, SEED_BODY};
use fleetjobs_core::config::RolloutConfig;
use fleetjobs_core::rollout::rate_per_minute;
use fleetjobs_core::schedule::ScheduleStep;
use fleetjobs_core::{Job, JobStatus, StatusCounts, Timestamp};
use serde_json::json;

fn rollout(json: serde_json::Value) -> RolloutConfig {
    // Built through a job so the configuration is also validated.
    let job = job_with(json!({ "jobExecutionsRolloutConfig": json }));
    job.config.rollout.expect("a rollout configuration")
}

fn exponential(criteria: serde_json::Value, max: Option<u64>) -> RolloutConfig {
    let mut config = json!({"exponentialRate": {
        "baseRatePerMinute": 50, "incrementFactor": 2.0, "rateIncreaseCriteria": criteria}});
    if let Some(max) = max {
        config["maximumPerMinute"] = json!(max);
    }
    rollout(config)
}

fn secs_after(t: Timestamp, secs: i64) -> Timestamp {
    Timestamp(t.0 + secs * 1000)
}

#[test]
fn rollout_exponential_rate_by_notified_things() {
    let config = exponential(json!({"numberOfNotifiedThings": 1000}), None);
    let cases = [
        (0, 50),
        (1, 50),
        (999, 50),
        (1000, 100),
        (1999, 100),
        (2000, 200),
        (2999, 200),
        (3000, 400),
        (4000, 800),
        // 1600 is over the default maximum of 1000 per minute.
        (5000, 1000),
    ];
    for (notified, rate) in cases {
        assert_eq!(
            rate_per_minute(&config, notified, 0),
            rate,
            "notified {notified}"
        );
        // The succeeded count plays no part with a notified criterion.
        assert_eq!(rate_per_minute(&config, notified, 1_000_000), rate);
    }
}

#[test]
fn rollout_exponential_rate_capped_by_maximum_per_minute() {
    let config = exponential(json!({"numberOfNotifiedThings": 1000}), Some(300));
    assert_eq!(rate_per_minute(&config, 0, 0), 50);
    assert_eq!(rate_per_minute(&config, 2000, 0), 200);
    assert_eq!(rate_per_minute(&config, 3000, 0), 300);
    assert_eq!(rate_per_minute(&config, 4000, 0), 300);
    let config = exponential(json!({"numberOfNotifiedThings": 1000}), Some(800));
    assert_eq!(rate_per_minute(&config, 4000, 0), 800);
    assert_eq!(rate_per_minute(&config, 10_000, 0), 800);
}

#[test]
fn rollout_exponential_rate_by_succeeded_things() {
    let config = exponential(json!({"numberOfSucceededThings": 1000}), None);
    assert_eq!(rate_per_minute(&config, 5000, 0), 50);
    assert_eq!(rate_per_minute(&config, 5000, 999), 50);
    assert_eq!(rate_per_minute(&config, 0, 1000), 100);
    assert_eq!(rate_per_minute(&config, 0, 2000), 200);
    assert_eq!(rate_per_minute(&config, 0, 3000), 400);
    assert_eq!(rate_per_minute(&config, 0, 4000), 800);
}

#[test]
fn rollout_constant_rate() {
    assert_eq!(
        rate_per_minute(&rollout(json!({"maximumPerMinute": 100})), 12_345, 0),
        100
    );
    assert_eq!(rate_per_minute(&rollout(json!({})), 0, 0), 1000);
}

fn paced_job(rollout_config: serde_json::Value, pending: u64) -> Job {
    let mut job = job_with(json!({ "jobExecutionsRolloutConfig": rollout_config }));
    job.rollout.pending_targets = pending;
    job
}

#[test]
fn rollout_release_paces_100_per_minute_over_10_minutes() {
    let mut job = paced_job(json!({"maximumPerMinute": 100}), 1000);
    let mut total = 0;
    for minute in 0..10 {
        let window = noon().plus_minutes(minute);
        let release = job.release(window, 0).expect("a new window releases");
        assert_eq!(release.count, 100, "minute {minute}");
        assert_eq!(release.job.version, job.version + 1);
        assert_eq!(release.job.rollout.window_start, Some(window));
        job = release.job;
        total += 100;
        assert_eq!(job.rollout.released, total);
        assert_eq!(job.rollout.pending_targets, 1000 - total);
        // Nothing more within the same one-minute window.
        for secs in [0, 1, 30, 59] {
            assert_eq!(
                job.release(secs_after(window, secs), 0),
                None,
                "minute {minute} +{secs}s"
            );
        }
        assert_eq!(job.release(Timestamp(window.0 + 59_999), 0), None);
    }
    assert_eq!(total, 1000);
    assert_eq!(job.rollout.pending_targets, 0);
    assert_eq!(job.release(noon().plus_minutes(10), 0), None);
}

#[test]
fn rollout_release_partial_window_and_few_pending() {
    let job = paced_job(json!({"maximumPerMinute": 100}), 30);
    let release = job.release(noon(), 0).unwrap();
    assert_eq!(release.count, 30);
    assert_eq!(release.job.rollout.pending_targets, 0);
    // Targets resolved later in the same window use what is left of it.
    let mut job = release.job;
    job.rollout.pending_targets = 100;
    let more = job.release(secs_after(noon(), 20), 0).unwrap();
    assert_eq!(more.count, 70);
    assert_eq!(more.job.release(secs_after(noon(), 40), 0), None);
    assert_eq!(
        more.job.release(noon().plus_minutes(1), 0).unwrap().count,
        30
    );
}

#[test]
fn rollout_release_exponential_rate_fixed_per_window() {
    let mut job = paced_job(
        json!({"exponentialRate": {"baseRatePerMinute": 50, "incrementFactor": 2.0,
            "rateIncreaseCriteria": {"numberOfNotifiedThings": 100}}}),
        1000,
    );
    let mut counts = vec![];
    let mut minute = 0;
    while let Some(release) = job.release(noon().plus_minutes(minute), 0) {
        counts.push(release.count);
        job = release.job;
        minute += 1;
    }
    // Released before each window: 0, 50, 100, 200, 400 → rates 50, 50,
    // 100, 200, 800 (only 600 left).
    assert_eq!(counts, vec![50, 50, 100, 200, 600]);
    assert_eq!(job.rollout.pending_targets, 0);
    assert_eq!(job.rollout.window_rate, 800);
}

#[test]
fn rollout_release_exponential_by_succeeded_uses_the_given_count() {
    let job = paced_job(
        json!({"exponentialRate": {"baseRatePerMinute": 10, "incrementFactor": 2.0,
            "rateIncreaseCriteria": {"numberOfSucceededThings": 5}}}),
        1000,
    );
    assert_eq!(job.release(noon(), 0).unwrap().count, 10);
    assert_eq!(job.release(noon(), 4).unwrap().count, 10);
    assert_eq!(job.release(noon(), 5).unwrap().count, 20);
    assert_eq!(job.release(noon(), 10).unwrap().count, 40);
}

#[test]
fn rollout_without_config_releases_everything_at_once() {
    let mut job = job_with(json!({}));
    assert!(job.config.rollout.is_none());
    job.rollout.pending_targets = 5000;
    let release = job.release(noon(), 0).unwrap();
    assert_eq!(release.count, 5000);
    assert_eq!(release.job.rollout.pending_targets, 0);
    assert_eq!(release.job.rollout.released, 5000);
    assert_eq!(release.job.release(noon(), 0), None);
}

fn windowed_job(now: Timestamp, pending: u64) -> Job {
    let mut body: serde_json::Value = serde_json::from_str(SEED_BODY).unwrap();
    body["schedulingConfig"] = json!({"maintenanceWindows": [
        {"startTime": "0 2 * * *", "durationInMinutes": 60}]});
    let mut job = job_at(body, "job-w", now);
    job.rollout.pending_targets = pending;
    job
}

#[test]
fn rollout_maintenance_window_releases_only_inside_a_window() {
    let job = windowed_job(at("02:00"), 10);
    assert_eq!(
        job.status,
        JobStatus::InProgress,
        "created inside the window"
    );
    assert_eq!(job.release(at("02:30"), 0).map(|r| r.count), Some(10));
    assert_eq!(job.release(at("02:59"), 0).map(|r| r.count), Some(10));
    // Window closed (even before the scheduler flips the job to SCHEDULED).
    assert_eq!(job.release(at("03:00"), 0), None);
    assert_eq!(job.release(at("12:00"), 0), None);
    let next_day = Timestamp::parse("2026-11-27T02:10:00Z").unwrap();
    assert_eq!(job.release(next_day, 0).map(|r| r.count), Some(10));
}

#[test]
fn rollout_maintenance_window_scheduled_job_waits_for_the_window() {
    let job = windowed_job(at("01:00"), 10);
    assert_eq!(job.status, JobStatus::Scheduled);
    assert_eq!(job.release(at("01:30"), 0), None);
    // Even inside the window, a SCHEDULED job releases nothing until the
    // scheduler makes it IN_PROGRESS.
    assert_eq!(job.release(at("02:00"), 0), None);
    let ScheduleStep::Update(running) = job.schedule_step(at("02:00")) else {
        panic!("the window opening starts the job");
    };
    assert_eq!(running.status, JobStatus::InProgress);
    assert_eq!(running.release(at("02:00"), 0).map(|r| r.count), Some(10));
    let ScheduleStep::Update(paused) = running.schedule_step(at("03:00")) else {
        panic!("the window closing pauses the job");
    };
    assert_eq!(paused.status, JobStatus::Scheduled);
    assert_eq!(paused.release(at("03:00"), 0), None);
}

#[test]
fn rollout_stop_rollout_releases_nothing() {
    let mut body: serde_json::Value = serde_json::from_str(SEED_BODY).unwrap();
    body["jobExecutionsRolloutConfig"] = json!({"maximumPerMinute": 1});
    body["schedulingConfig"] =
        json!({"endTime": "2026-11-26T13:00", "endBehavior": "STOP_ROLLOUT"});
    let mut job = job_at(body, "job-s", noon());
    job.rollout.pending_targets = 100;
    assert_eq!(job.status, JobStatus::InProgress);
    assert_eq!(job.release(at("12:59"), 0).map(|r| r.count), Some(1));

    assert_eq!(job.schedule_step(at("12:59")), ScheduleStep::Idle);
    let ScheduleStep::Update(stopped) = job.schedule_step(at("13:00")) else {
        panic!("endTime with STOP_ROLLOUT updates the job");
    };
    assert!(stopped.rollout.stopped);
    assert!(stopped.end_applied);
    assert_eq!(stopped.status, JobStatus::InProgress);
    assert_eq!(stopped.release(at("13:01"), 0), None);
    assert_eq!(stopped.release(at("23:00"), 0), None);
    assert_eq!(stopped.schedule_step(at("13:05")), ScheduleStep::Idle);

    // A stopped snapshot job completes with targets still unreleased once
    // nothing is active.
    let completed = stopped
        .completion(&StatusCounts::default(), at("13:02"))
        .expect("completes");
    assert_eq!(completed.status, JobStatus::Completed);
    assert_eq!(completed.completed_at, Some(at("13:02")));
    // Not stopped, targets pending: not complete.
    assert_eq!(job.completion(&StatusCounts::default(), at("12:30")), None);
}

#[test]
fn rollout_stopped_flag_alone_releases_nothing() {
    let mut job = paced_job(json!({"maximumPerMinute": 100}), 10);
    job.rollout.stopped = true;
    assert_eq!(job.release(noon(), 0), None);
}

#[test]
fn rollout_canceled_job_releases_nothing() {
    let job = paced_job(json!({"maximumPerMinute": 100}), 10);
    let (canceled, _) = job
        .cancel(&Default::default(), noon())
        .expect("an IN_PROGRESS job can be canceled");
    assert_eq!(canceled.release(noon().plus_minutes(1), 0), None);
    let deleting = job.begin_deletion(true, noon()).unwrap();
    assert_eq!(deleting.release(noon().plus_minutes(1), 0), None);
}

/// incrementFactor has one decimal place, so base × factor^n is an exact
/// decimal; when it is a whole number the rate must be exactly that number,
/// not one less because of binary floating point (45 × 1.4 = 63, and
/// 50 × 1.4 × 1.4 = 98).
#[test]
fn rollout_exponential_rate_exact_products_are_not_rounded_down() {
    let config = |base: u64, factor: f64| {
        rollout(json!({"exponentialRate": {"baseRatePerMinute": base,
            "incrementFactor": factor,
            "rateIncreaseCriteria": {"numberOfNotifiedThings": 10}}}))
    };
    let cases = [
        // (base, factor, notified, expected rate)
        (45, 1.4, 10, 63),
        (50, 1.4, 20, 98),
        (25, 4.6, 10, 115),
        (30, 4.1, 10, 123),
        (25, 2.8, 20, 196),
        // Control cases that are already right.
        (50, 1.5, 10, 75),
        (50, 2.0, 30, 400),
    ];
    for (base, factor, notified, expected) in cases {
        assert_eq!(
            rate_per_minute(&config(base, factor), notified, 0),
            expected,
            "base {base} × {factor}^{} ",
            notified / 10
        );
    }
}

/// When the sweeper must look at a job again (the due-driven sweeper).
mod next_due {
    use super::*;

    fn with_pending(mut job: Job, pending: u64) -> Job {
        job.rollout.pending_targets = pending;
        job
    }

    #[test]
    fn a_running_job_with_nothing_to_release_waits_for_a_change() {
        let job = with_pending(job_with(json!({})), 0);
        assert_eq!(job.status, JobStatus::InProgress);
        assert_eq!(job.next_due(noon()), None);
        let mut continuous = job_with(json!({"targetSelection": "CONTINUOUS"}));
        continuous.rollout.pending_targets = 0;
        assert_eq!(continuous.next_due(noon()), None);
    }

    #[test]
    fn paced_targets_are_due_at_the_next_pacing_window() {
        let job = with_pending(
            job_with(json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 2}})),
            6,
        );
        let released = job.release(noon(), 0).expect("2 released at noon").job;
        assert_eq!(released.next_due(noon()), Some(at("12:01")));
        // Unpaced targets are due at once.
        assert_eq!(
            with_pending(job_with(json!({})), 3).next_due(noon()),
            Some(noon())
        );
    }

    #[test]
    fn a_scheduled_job_is_due_at_its_start_and_a_running_one_at_its_end() {
        let body: serde_json::Value = serde_json::from_str(SEED_BODY).unwrap();
        let mut body = body;
        body["schedulingConfig"] = json!({
            "startTime": "2026-11-26T13:00",
            "endTime": "2026-11-26T15:00",
        });
        let job = job_at(body, "scheduled", noon());
        assert_eq!(job.status, JobStatus::Scheduled);
        assert_eq!(job.next_due(noon()), Some(at("13:00")));
        let mut running = job.clone();
        running.status = JobStatus::InProgress;
        assert_eq!(running.next_due(at("13:00")), Some(at("15:00")));
        running.end_applied = true;
        assert_eq!(running.next_due(at("15:00")), None);
    }

    #[test]
    fn maintenance_windows_are_asked_every_minute_and_finished_jobs_never() {
        let job = job_with(json!({"schedulingConfig": {
            "maintenanceWindows": [{"startTime": "0 2 * * *", "durationInMinutes": 60}]
        }}));
        assert_eq!(job.next_due(noon()), Some(at("12:01")));
        let mut done = job.clone();
        done.status = JobStatus::Completed;
        assert_eq!(done.next_due(noon()), None);
    }
}
