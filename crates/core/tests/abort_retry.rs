//! Abort criteria (docs/lifecycle.md#abort) and retries (docs/lifecycle.md#retry).

mod common;

use common::{at, job_with, noon};
use fleetjobs_core::abort::Abort;
use fleetjobs_core::config::{AbortConfig, RetryConfig, TimeoutConfig};
use fleetjobs_core::execution::{CancelBy, DeviceUpdate};
use fleetjobs_core::job::CancelScope;
use fleetjobs_core::{Execution, ExecutionStatus, JobStatus, Rejection, StatusCounts};
use serde_json::json;

use ExecutionStatus::{
    Canceled, Failed, InProgress, Queued, Rejected, Removed, Succeeded, TimedOut,
};

fn abort_config(criteria: serde_json::Value) -> AbortConfig {
    let job = job_with(json!({"abortConfig": {"criteriaList": criteria}}));
    job.config.abort.expect("an abort configuration")
}

fn criterion(failure: &str, threshold: f64, min: u64) -> serde_json::Value {
    json!({"failureType": failure, "action": "CANCEL",
        "thresholdPercentage": threshold, "minNumberOfExecutedThings": min})
}

fn counts(pairs: &[(ExecutionStatus, u64)]) -> StatusCounts {
    let mut counts = StatusCounts::default();
    for (status, n) in pairs {
        counts.set(*status, *n);
    }
    counts
}

// ---------------------------------------------------------------------------
// Abort
// ---------------------------------------------------------------------------

#[test]
fn abort_threshold_boundary_20_percent_min_10() {
    let config = abort_config(json!([criterion("FAILED", 20.0, 10)]));
    // 2 of 10 terminal = 20%: fires.
    let fired = config
        .evaluate(&counts(&[(Failed, 2), (Succeeded, 8)]))
        .expect("2 FAILED of 10 reaches 20%");
    assert!(fired.comment.contains("FAILED"), "{}", fired.comment);
    assert!(fired.comment.contains("20.00%"), "{}", fired.comment);
    assert!(fired.comment.contains("2 of 10"), "{}", fired.comment);
    assert!(fired.comment.contains("20%"), "{}", fired.comment);
    // 1 of 10 = 10%: below.
    assert_eq!(
        config.evaluate(&counts(&[(Failed, 1), (Succeeded, 9)])),
        None
    );
    // 2 of 11 = 18.2%: below.
    assert_eq!(
        config.evaluate(&counts(&[(Failed, 2), (Succeeded, 9)])),
        None
    );
    // 9 of 9 = 100%, but fewer than 10 executed: not eligible.
    assert_eq!(config.evaluate(&counts(&[(Failed, 9)])), None);
    // Nothing executed.
    assert_eq!(config.evaluate(&StatusCounts::default()), None);
}

#[test]
fn abort_counts_only_terminal_executions_as_executed() {
    let config = abort_config(json!([criterion("FAILED", 20.0, 10)]));
    // Pending executions neither make the job eligible nor dilute the rate.
    assert_eq!(
        config.evaluate(&counts(&[(Failed, 9), (Queued, 50), (InProgress, 50)])),
        None
    );
    assert!(config
        .evaluate(&counts(&[
            (Failed, 2),
            (Succeeded, 8),
            (Queued, 500),
            (InProgress, 500)
        ]))
        .is_some());
    // Every terminal status counts as completed.
    assert!(config
        .evaluate(&counts(&[
            (Failed, 2),
            (Succeeded, 2),
            (Canceled, 2),
            (Removed, 2),
            (Rejected, 1),
            (TimedOut, 1)
        ]))
        .is_some());
}

#[test]
fn abort_decimal_threshold_exact_boundary() {
    let config = abort_config(json!([criterion("FAILED", 20.5, 1)]));
    assert!(config
        .evaluate(&counts(&[(Failed, 41), (Succeeded, 159)]))
        .is_some());
    assert_eq!(
        config.evaluate(&counts(&[(Failed, 40), (Succeeded, 160)])),
        None
    );
}

#[test]
fn abort_all_sums_failed_rejected_timed_out() {
    let mixed = counts(&[
        (Failed, 1),
        (Rejected, 1),
        (TimedOut, 1),
        (Succeeded, 5),
        (Canceled, 1),
        (Removed, 1),
    ]);
    let all = abort_config(json!([criterion("ALL", 30.0, 10)]));
    let fired = all.evaluate(&mixed).expect("3 of 10 reaches 30%");
    assert!(fired.comment.contains("ALL"), "{}", fired.comment);
    assert!(fired.comment.contains("30.00%"), "{}", fired.comment);
    assert!(fired.comment.contains("3 of 10"), "{}", fired.comment);
    for single in ["FAILED", "REJECTED", "TIMED_OUT"] {
        let config = abort_config(json!([criterion(single, 30.0, 10)]));
        assert_eq!(config.evaluate(&mixed), None, "{single} alone is 10%");
        let config = abort_config(json!([criterion(single, 10.0, 10)]));
        let fired = config.evaluate(&mixed).expect("10% reaches 10%");
        assert!(fired.comment.starts_with(single), "{}", fired.comment);
    }
    // Exactly one below for ALL.
    let fewer = counts(&[(Failed, 1), (Rejected, 1), (Succeeded, 8)]);
    assert_eq!(all.evaluate(&fewer), None);
}

#[test]
fn abort_criteria_evaluated_in_list_order() {
    let state = counts(&[(Failed, 5), (Rejected, 5), (Succeeded, 10)]);
    let failed_first = abort_config(json!([
        criterion("FAILED", 10.0, 1),
        criterion("REJECTED", 10.0, 1)
    ]));
    assert!(failed_first
        .evaluate(&state)
        .unwrap()
        .comment
        .starts_with("FAILED"));
    let rejected_first = abort_config(json!([
        criterion("REJECTED", 10.0, 1),
        criterion("FAILED", 10.0, 1)
    ]));
    assert!(rejected_first
        .evaluate(&state)
        .unwrap()
        .comment
        .starts_with("REJECTED"));
    // The first criterion does not fire (not eligible), the second does.
    let second = abort_config(json!([
        criterion("FAILED", 10.0, 100),
        criterion("ALL", 50.0, 1)
    ]));
    let fired = second.evaluate(&state).unwrap();
    assert!(fired.comment.starts_with("ALL"), "{}", fired.comment);
    assert!(fired.comment.contains("50.00%"), "{}", fired.comment);
}

#[test]
fn abort_job_cancels_with_abort_reason_without_force() {
    let job = job_with(json!({"abortConfig": {"criteriaList": [criterion("FAILED", 20.0, 10)]}}));
    let abort = job
        .config
        .abort
        .as_ref()
        .unwrap()
        .evaluate(&counts(&[(Failed, 2), (Succeeded, 8)]))
        .unwrap();
    let later = noon().plus_minutes(3);
    let (aborted, scope) = job.abort(&abort, later).unwrap();
    assert_eq!(aborted.status, JobStatus::Canceled);
    assert_eq!(aborted.reason_code.as_deref(), Some("ABORT_CRITERIA_MET"));
    assert_eq!(Abort::REASON_CODE, "ABORT_CRITERIA_MET");
    assert_eq!(aborted.comment.as_deref(), Some(abort.comment.as_str()));
    assert!(!aborted.force_canceled);
    assert_eq!(scope, CancelScope { force: false });
    assert_eq!(scope.statuses(), &[Queued]);
    assert_eq!(aborted.completed_at, Some(later));
    assert!(aborted.rollout.stopped);
    assert_eq!(aborted.version, job.version + 1);

    // Sweeping the scope cancels QUEUED executions and leaves IN_PROGRESS ones.
    let queued = Execution::queued("job-1", "a", noon());
    let running = queued
        .start_next(None, None, None, noon())
        .unwrap()
        .unwrap();
    for e in [&queued, &running] {
        let swept = scope.statuses().contains(&e.status);
        assert_eq!(swept, e.status == Queued);
    }
    let canceled = queued
        .cancel(CancelBy::Job { force: scope.force }, None, later)
        .unwrap();
    assert_eq!(canceled.status, Canceled);
    assert!(!canceled.force_canceled);
    assert!(running
        .cancel(CancelBy::Job { force: scope.force }, None, later)
        .is_err());

    // A job that is no longer active cannot be aborted.
    let err = aborted.abort(&abort, later).unwrap_err();
    assert_eq!(err.device_code(), "InvalidStateTransition");
}

// ---------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------

const TIMEOUT: TimeoutConfig = TimeoutConfig {
    in_progress_timeout_in_minutes: Some(10),
};

fn retry_config(criteria: serde_json::Value) -> RetryConfig {
    let job = job_with(json!({
        "timeoutConfig": {"inProgressTimeoutInMinutes": 10},
        "jobExecutionsRetryConfig": {"criteriaList": criteria}
    }));
    job.config.retry.expect("a retry configuration")
}

/// Starts a QUEUED execution at `start` and ends it in `status` (FAILED and
/// REJECTED reported by the device, TIMED_OUT by the timer).
fn run_to(e: &Execution, status: ExecutionStatus, start: fleetjobs_core::Timestamp) -> Execution {
    assert_eq!(e.status, Queued);
    let running = e
        .start_next(None, None, Some(&TIMEOUT), start)
        .unwrap()
        .unwrap();
    match status {
        TimedOut => running.time_out(start.plus_minutes(10)).expect("times out"),
        _ => running
            .device_update(&DeviceUpdate::to(status), None, start.plus_minutes(1))
            .unwrap(),
    }
}

#[test]
fn retry_failed_once_then_no_more() {
    let config = retry_config(json!([{"failureType": "FAILED", "numberOfRetries": 1}]));
    let first = Execution::queued("job-1", "thing-1", at("11:00"));
    let failed = run_to(&first, Failed, at("11:05"));
    let second = failed
        .retry(Some(&config), at("11:07"))
        .expect("one FAILED retry");
    assert_eq!(second.execution_number, 2);
    assert_eq!(second.retry_attempt(), 1);
    assert_eq!(second.retries.failed, 1);
    assert_eq!(second.retries.timed_out, 0);
    assert_eq!(second.status, Queued);
    assert_eq!(second.version_number, 1);
    assert_eq!(second.queued_at, at("11:07"));
    assert_eq!(second.last_updated_at, at("11:07"));
    assert_eq!(second.started_at, None);
    assert!(second.status_details.is_empty());
    assert_eq!(second.job_id, "job-1");
    assert_eq!(second.thing_name, "thing-1");

    let failed_again = run_to(&second, Failed, at("11:10"));
    assert_eq!(failed_again.retry(Some(&config), at("11:20")), None);
    // TIMED_OUT has no budget under a FAILED-only configuration.
    let timed_out = run_to(&first, TimedOut, at("11:05"));
    assert_eq!(timed_out.retry(Some(&config), at("11:20")), None);
}

#[test]
fn retry_timed_out_budget_is_separate() {
    let config = retry_config(json!([
        {"failureType": "FAILED", "numberOfRetries": 1},
        {"failureType": "TIMED_OUT", "numberOfRetries": 1}
    ]));
    let first = Execution::queued("job-1", "thing-1", at("11:00"));
    let second = run_to(&first, Failed, at("11:00"))
        .retry(Some(&config), at("11:05"))
        .unwrap();
    let third = run_to(&second, TimedOut, at("11:05"))
        .retry(Some(&config), at("11:20"))
        .expect("the TIMED_OUT budget is untouched by the FAILED retry");
    assert_eq!(third.execution_number, 3);
    assert_eq!(third.retry_attempt(), 2);
    assert_eq!(third.retries.failed, 1);
    assert_eq!(third.retries.timed_out, 1);
    assert_eq!(third.version_number, 1);
    assert_eq!(
        run_to(&third, Failed, at("11:30")).retry(Some(&config), at("11:40")),
        None
    );
    assert_eq!(
        run_to(&third, TimedOut, at("11:30")).retry(Some(&config), at("11:45")),
        None
    );

    // Two TIMED_OUTs in a row: the second exhausts the TIMED_OUT budget.
    let second = run_to(&first, TimedOut, at("11:00"))
        .retry(Some(&config), at("11:10"))
        .unwrap();
    assert_eq!(second.retries.timed_out, 1);
    assert_eq!(
        run_to(&second, TimedOut, at("11:10")).retry(Some(&config), at("11:20")),
        None
    );
}

#[test]
fn retry_all_budget_is_shared() {
    let config = retry_config(json!([{"failureType": "ALL", "numberOfRetries": 2}]));
    let first = Execution::queued("job-1", "thing-1", at("11:00"));
    let second = run_to(&first, Failed, at("11:00"))
        .retry(Some(&config), at("11:02"))
        .unwrap();
    let third = run_to(&second, TimedOut, at("11:02"))
        .retry(Some(&config), at("11:12"))
        .unwrap();
    assert_eq!(third.execution_number, 3);
    assert_eq!(third.retry_attempt(), 2);
    for status in [Failed, TimedOut] {
        assert_eq!(
            run_to(&third, status, at("11:12")).retry(Some(&config), at("11:30")),
            None,
            "{status}: the shared budget of 2 is spent"
        );
    }
}

#[test]
fn retry_never_for_rejected_or_other_statuses() {
    let config = retry_config(json!([{"failureType": "ALL", "numberOfRetries": 10}]));
    let first = Execution::queued("job-1", "thing-1", at("11:00"));
    let rejected = run_to(&first, Rejected, at("11:00"));
    assert_eq!(rejected.retry(Some(&config), at("11:05")), None);
    let succeeded = run_to(&first, Succeeded, at("11:00"));
    assert_eq!(succeeded.retry(Some(&config), at("11:05")), None);
    let canceled = first
        .cancel(CancelBy::Job { force: false }, None, at("11:00"))
        .unwrap();
    assert_eq!(canceled.retry(Some(&config), at("11:05")), None);
    let removed = first.remove(at("11:00")).unwrap();
    assert_eq!(removed.retry(Some(&config), at("11:05")), None);
    assert_eq!(first.retry(Some(&config), at("11:05")), None);
    let running = first
        .start_next(None, None, None, at("11:00"))
        .unwrap()
        .unwrap();
    assert_eq!(running.retry(Some(&config), at("11:05")), None);
}

#[test]
fn retry_without_config_or_with_zero_retries() {
    let first = Execution::queued("job-1", "thing-1", at("11:00"));
    let failed = run_to(&first, Failed, at("11:00"));
    assert_eq!(failed.retry(None, at("11:05")), None);
    let zero = retry_config(json!([{"failureType": "FAILED", "numberOfRetries": 0}]));
    assert_eq!(failed.retry(Some(&zero), at("11:05")), None);
}

#[test]
fn retry_timed_out_needs_a_timeout_config() {
    let body = json!({"jobExecutionsRetryConfig": {"criteriaList": [
        {"failureType": "TIMED_OUT", "numberOfRetries": 1}]}});
    let mut seed: serde_json::Value = serde_json::from_str(common::SEED_BODY).unwrap();
    seed.as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    let request: fleetjobs_core::job::CreateJob = serde_json::from_value(seed).unwrap();
    let err = request.into_job("j".into(), noon()).unwrap_err();
    assert!(matches!(err, Rejection::InvalidRequest(_)));
    assert!(
        err.to_string().starts_with("jobExecutionsRetryConfig"),
        "{err}"
    );
    assert!(err.to_string().contains("timeoutConfig"), "{err}");
}
