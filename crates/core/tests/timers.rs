//! The in-progress and step timers of docs/lifecycle.md#timers.

mod common;

use common::{at, job_with};
use fleetjobs_core::config::TimeoutConfig;
use fleetjobs_core::execution::DeviceUpdate;
use fleetjobs_core::protocol::{self, DocumentForm};
use fleetjobs_core::{Execution, ExecutionStatus, Rejection, Timestamp};
use serde_json::json;

const JOB_TIMEOUT: TimeoutConfig = TimeoutConfig {
    in_progress_timeout_in_minutes: Some(20),
};

/// The job of the doc example: a 20-minute in-progress timer.
fn job_timeout() -> TimeoutConfig {
    let job = job_with(json!({"timeoutConfig": {"inProgressTimeoutInMinutes": 20}}));
    let timeout = job.config.timeout.expect("the job has a timeout");
    assert_eq!(timeout, JOB_TIMEOUT);
    timeout
}

fn queued() -> Execution {
    Execution::queued("job-1", "thing-1", at("11:00"))
}

fn step(e: &Execution, minutes: i64, now: Timestamp) -> Execution {
    let update = DeviceUpdate {
        step_timeout_in_minutes: Some(minutes),
        ..DeviceUpdate::to(ExecutionStatus::InProgress)
    };
    e.device_update(&update, Some(&job_timeout()), now)
        .expect("an IN_PROGRESS report is accepted")
}

fn ms_before(t: Timestamp) -> Timestamp {
    Timestamp(t.0 - 1)
}

/// Runs the doc example from an execution started at 12:00 and checks each
/// effective deadline, the seconds left and the exact firing instant.
fn run_step_example(started: Execution) {
    assert_eq!(started.status, ExecutionStatus::InProgress);
    assert_eq!(started.started_at, Some(at("12:00")));
    assert_eq!(started.in_progress_deadline, Some(at("12:20")));
    assert_eq!(started.step_deadline, None);
    assert_eq!(started.effective_deadline(), Some(at("12:20")));

    // 12:05, 7 minutes: 12:12.
    let e = step(&started, 7, at("12:05"));
    assert_eq!(e.step_deadline, Some(at("12:12")));
    assert_eq!(e.effective_deadline(), Some(at("12:12")));
    assert_eq!(e.seconds_before_timeout(at("12:05")), Some(7 * 60));
    assert_eq!(e.time_out(ms_before(at("12:12"))), None);

    // 12:10, 5 minutes: replaces the previous step timer, 12:15.
    let e = step(&e, 5, at("12:10"));
    assert_eq!(e.step_deadline, Some(at("12:15")));
    assert_eq!(e.effective_deadline(), Some(at("12:15")));
    assert_eq!(e.seconds_before_timeout(at("12:10")), Some(5 * 60));
    assert_eq!(
        e.time_out(at("12:12")),
        None,
        "the old 12:12 step timer is gone"
    );
    assert_eq!(e.time_out(ms_before(at("12:15"))), None);
    let fired = e.time_out(at("12:15")).expect("fires at 12:15");
    assert_eq!(fired.status, ExecutionStatus::TimedOut);

    // 12:13, 9 minutes: 12:22, capped by the job timer at 12:20.
    let e = step(&e, 9, at("12:13"));
    assert_eq!(e.step_deadline, Some(at("12:22")));
    assert_eq!(e.in_progress_deadline, Some(at("12:20")));
    assert_eq!(e.effective_deadline(), Some(at("12:20")));
    assert_eq!(e.seconds_before_timeout(at("12:13")), Some(7 * 60));
    assert_eq!(e.time_out(at("12:15")), None);
    assert_eq!(e.time_out(ms_before(at("12:20"))), None);
    let fired = e.time_out(at("12:20")).expect("fires at 12:20");
    assert_eq!(fired.status, ExecutionStatus::TimedOut);
    assert_eq!(fired.version_number, e.version_number + 1);
    assert_eq!(fired.last_updated_at, at("12:20"));
    assert_eq!(fired.effective_deadline(), None);
    assert_eq!(fired.seconds_before_timeout(at("12:20")), None);
    assert_eq!(
        fired.time_out(at("12:30")),
        None,
        "a timed-out execution does not time out again"
    );
}

#[test]
fn timers_step_example_started_by_start_next() {
    let started = queued()
        .start_next(None, None, Some(&job_timeout()), at("12:00"))
        .unwrap()
        .unwrap();
    run_step_example(started);
}

#[test]
fn timers_step_example_started_by_device_update() {
    let started = queued()
        .device_update(
            &DeviceUpdate::to(ExecutionStatus::InProgress),
            Some(&job_timeout()),
            at("12:00"),
        )
        .unwrap();
    run_step_example(started);
}

#[test]
fn timers_minus_one_clears_the_step_timer() {
    let started = queued()
        .start_next(None, Some(7), Some(&job_timeout()), at("12:00"))
        .unwrap()
        .unwrap();
    assert_eq!(started.step_deadline, Some(at("12:07")));
    assert_eq!(started.effective_deadline(), Some(at("12:07")));

    let cleared = step(&started, -1, at("12:05"));
    assert_eq!(cleared.step_deadline, None);
    assert_eq!(cleared.effective_deadline(), Some(at("12:20")));
    assert_eq!(cleared.time_out(at("12:07")), None);
    assert!(cleared.time_out(at("12:20")).is_some());
}

#[test]
fn timers_report_without_step_keeps_the_step_timer() {
    let e = step(
        &queued()
            .start_next(None, None, Some(&job_timeout()), at("12:00"))
            .unwrap()
            .unwrap(),
        7,
        at("12:05"),
    );
    let again = e
        .device_update(
            &DeviceUpdate::to(ExecutionStatus::InProgress),
            Some(&job_timeout()),
            at("12:06"),
        )
        .unwrap();
    assert_eq!(again.step_deadline, Some(at("12:12")));
    assert_eq!(again.in_progress_deadline, Some(at("12:20")));
}

#[test]
fn timers_step_timer_alone_without_a_job_timeout() {
    let started = queued()
        .start_next(None, Some(3), None, at("12:00"))
        .unwrap()
        .unwrap();
    assert_eq!(started.in_progress_deadline, None);
    assert_eq!(started.effective_deadline(), Some(at("12:03")));
    assert_eq!(started.time_out(ms_before(at("12:03"))), None);
    assert_eq!(
        started.time_out(at("12:03")).map(|e| e.status),
        Some(ExecutionStatus::TimedOut)
    );
}

#[test]
fn timers_no_timer_means_no_timeout_and_no_seconds() {
    let started = queued()
        .start_next(None, None, None, at("12:00"))
        .unwrap()
        .unwrap();
    assert_eq!(started.effective_deadline(), None);
    assert_eq!(started.seconds_before_timeout(at("12:00")), None);
    assert_eq!(started.time_out(at("23:59")), None);
}

#[test]
fn timers_a_new_job_timeout_only_applies_to_executions_started_afterwards() {
    let started = queued()
        .start_next(None, None, Some(&job_timeout()), at("12:00"))
        .unwrap()
        .unwrap();
    let shorter = TimeoutConfig {
        in_progress_timeout_in_minutes: Some(5),
    };
    let reported = started
        .device_update(
            &DeviceUpdate::to(ExecutionStatus::InProgress),
            Some(&shorter),
            at("12:01"),
        )
        .unwrap();
    assert_eq!(reported.in_progress_deadline, Some(at("12:20")));
    assert_eq!(reported.started_at, Some(at("12:00")));

    let later = queued()
        .start_next(None, None, Some(&shorter), at("12:01"))
        .unwrap()
        .unwrap();
    assert_eq!(later.in_progress_deadline, Some(at("12:06")));
}

#[test]
fn timers_seconds_before_timeout_rounds_down_and_stops_at_zero() {
    let started = queued()
        .start_next(None, None, Some(&job_timeout()), at("12:00"))
        .unwrap()
        .unwrap();
    assert_eq!(started.seconds_before_timeout(at("12:00")), Some(1200));
    let half_second_in = Timestamp(at("12:00").0 + 500);
    assert_eq!(started.seconds_before_timeout(half_second_in), Some(1199));
    assert_eq!(
        started.seconds_before_timeout(ms_before(at("12:20"))),
        Some(0)
    );
    assert_eq!(started.seconds_before_timeout(at("12:20")), Some(0));
    assert_eq!(started.seconds_before_timeout(at("13:00")), Some(0));
    // Queued executions have no timer yet.
    assert_eq!(queued().seconds_before_timeout(at("12:00")), None);
}

#[test]
fn timers_approximate_seconds_in_the_execution_payload() {
    let started = queued()
        .start_next(None, Some(7), Some(&job_timeout()), at("12:00"))
        .unwrap()
        .unwrap();
    let payload = protocol::execution(&started, None, DocumentForm::Object, at("12:01"));
    assert_eq!(payload["approximateSecondsBeforeTimedOut"], json!(360));
    let done = started
        .device_update(
            &DeviceUpdate::to(ExecutionStatus::Succeeded),
            None,
            at("12:02"),
        )
        .unwrap();
    let payload = protocol::execution(&done, None, DocumentForm::Object, at("12:02"));
    assert!(payload.get("approximateSecondsBeforeTimedOut").is_none());
}

#[test]
fn timers_step_timeout_out_of_range_is_invalid_request() {
    let started = queued()
        .start_next(None, None, Some(&job_timeout()), at("12:00"))
        .unwrap()
        .unwrap();
    for minutes in [0, -2, 10_081] {
        let update = DeviceUpdate {
            step_timeout_in_minutes: Some(minutes),
            ..DeviceUpdate::to(ExecutionStatus::InProgress)
        };
        let err = started
            .device_update(&update, None, at("12:01"))
            .unwrap_err();
        assert!(matches!(err, Rejection::InvalidRequest(_)), "{err:?}");
        assert!(err.to_string().starts_with("stepTimeoutInMinutes"), "{err}");
    }
    // The limits themselves are accepted.
    for minutes in [1, 10_080] {
        assert!(step_at_limit(&started, minutes).is_ok());
    }
}

fn step_at_limit(e: &Execution, minutes: i64) -> Result<Execution, Rejection> {
    e.device_update(
        &DeviceUpdate {
            step_timeout_in_minutes: Some(minutes),
            ..DeviceUpdate::to(ExecutionStatus::InProgress)
        },
        None,
        at("12:01"),
    )
}

#[test]
fn timers_late_report_after_timeout_is_invalid_state_transition() {
    let started = queued()
        .start_next(None, None, Some(&job_timeout()), at("12:00"))
        .unwrap()
        .unwrap();
    let timed_out = started.time_out(at("12:20")).unwrap();
    let err = timed_out
        .device_update(
            &DeviceUpdate::to(ExecutionStatus::Succeeded),
            None,
            at("12:21"),
        )
        .unwrap_err();
    assert_eq!(err.device_code(), "InvalidStateTransition");
    assert_eq!(err.execution_state(), Some(&timed_out.state()));
}
