//! Every execution transition of docs/lifecycle.md#execution-transitions, allowed and
//! rejected, with the exact `Rejection` each refusal gives; then the job-level
//! transitions of docs/lifecycle.md#job-transitions and the CreateJob body rules.

mod common;

use common::{details, execution_in, job_with, noon, SEED_BODY};
use fleetjobs_core::config::TimeoutConfig;
use fleetjobs_core::execution::{CancelBy, DeviceUpdate};
use fleetjobs_core::job::{CancelJob, CancelScope, CreateJob, UpdateJob};
use fleetjobs_core::model::Targets;
use fleetjobs_core::{Execution, ExecutionStatus, Job, JobStatus, JobType, Rejection, Timestamp};
use serde_json::json;

use ExecutionStatus::{
    Canceled as C, Failed as F, InProgress as IP, Queued as Q, Rejected as R, Removed as RM,
    Succeeded as S, TimedOut as T,
};

/// What a command should do.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// The change is made.
    Allowed,
    /// `Rejection::InvalidRequest`, device code `InvalidRequest`, no executionState.
    InvalidRequest,
    /// `Rejection::InvalidStateTransition` carrying the unchanged executionState.
    InvalidState,
}
use Outcome::{Allowed as OK, InvalidRequest as IR, InvalidState as IST};

const TIMEOUT: TimeoutConfig = TimeoutConfig {
    in_progress_timeout_in_minutes: Some(20),
};

fn now() -> Timestamp {
    noon()
}

/// Checks a rejection against the expected outcome: variant, device code and
/// the executionState it carries.
fn assert_rejection(row: &str, err: &Rejection, expected: Outcome, before: &Execution) {
    match expected {
        OK => panic!("{row}: expected the change to be allowed, got {err:?}"),
        IR => {
            assert!(
                matches!(err, Rejection::InvalidRequest(_)),
                "{row}: expected InvalidRequest, got {err:?}"
            );
            assert_eq!(err.device_code(), "InvalidRequest", "{row}");
            assert_eq!(err.execution_state(), None, "{row}");
        }
        IST => {
            match err {
                Rejection::InvalidStateTransition {
                    execution: Some(state),
                    ..
                } => assert_eq!(state, &before.state(), "{row}: executionState"),
                other => panic!(
                    "{row}: expected InvalidStateTransition with executionState, got {other:?}"
                ),
            }
            assert_eq!(err.device_code(), "InvalidStateTransition", "{row}");
            assert_eq!(err.execution_state(), Some(&before.state()), "{row}");
        }
    }
}

/// Checks the bookkeeping every allowed change must do.
fn assert_changed(row: &str, before: &Execution, after: &Execution, to: ExecutionStatus) {
    assert_eq!(after.status, to, "{row}: status");
    assert_eq!(
        after.version_number,
        before.version_number + 1,
        "{row}: versionNumber must go up by exactly 1"
    );
    assert_eq!(after.last_updated_at, now(), "{row}: lastUpdatedAt");
    assert_eq!(after.job_id, before.job_id, "{row}");
    assert_eq!(after.thing_name, before.thing_name, "{row}");
    assert_eq!(after.execution_number, before.execution_number, "{row}");
    assert_eq!(after.queued_at, before.queued_at, "{row}: queuedAt");
    assert_eq!(after.retries, before.retries, "{row}: retries");
    if to.is_terminal() {
        assert_eq!(after.in_progress_deadline, None, "{row}: timers cleared");
        assert_eq!(after.step_deadline, None, "{row}: timers cleared");
        assert_eq!(after.seconds_before_timeout(now()), None, "{row}");
    }
}

// ---------------------------------------------------------------------------
// Device updates: all 8 × 8 (from, to) pairs.
// ---------------------------------------------------------------------------

/// docs/lifecycle.md#device-updates. A service-only target status is a malformed
/// request whatever the current status, so it is InvalidRequest even on a
/// terminal execution (the request is validated before the state is looked
/// at); every well-formed update of a terminal execution is
/// InvalidStateTransition, and so is any move back to QUEUED.
#[rustfmt::skip]
const DEVICE_TABLE: [(ExecutionStatus, ExecutionStatus, Outcome); 64] = [
    (Q, Q, IST), (Q, IP, OK),  (Q, S, OK),  (Q, F, OK),  (Q, T, IR),  (Q, R, OK),  (Q, RM, IR),  (Q, C, IR),
    (IP, Q, IST), (IP, IP, OK), (IP, S, OK), (IP, F, OK), (IP, T, IR), (IP, R, OK), (IP, RM, IR), (IP, C, IR),
    (S, Q, IST), (S, IP, IST), (S, S, IST), (S, F, IST), (S, T, IR), (S, R, IST), (S, RM, IR), (S, C, IR),
    (F, Q, IST), (F, IP, IST), (F, S, IST), (F, F, IST), (F, T, IR), (F, R, IST), (F, RM, IR), (F, C, IR),
    (T, Q, IST), (T, IP, IST), (T, S, IST), (T, F, IST), (T, T, IR), (T, R, IST), (T, RM, IR), (T, C, IR),
    (R, Q, IST), (R, IP, IST), (R, S, IST), (R, F, IST), (R, T, IR), (R, R, IST), (R, RM, IR), (R, C, IR),
    (RM, Q, IST), (RM, IP, IST), (RM, S, IST), (RM, F, IST), (RM, T, IR), (RM, R, IST), (RM, RM, IR), (RM, C, IR),
    (C, Q, IST), (C, IP, IST), (C, S, IST), (C, F, IST), (C, T, IR), (C, R, IST), (C, RM, IR), (C, C, IR),
];

#[test]
fn device_update_table_covers_every_status_pair_once() {
    for from in ExecutionStatus::ALL {
        for to in ExecutionStatus::ALL {
            let rows = DEVICE_TABLE
                .iter()
                .filter(|(f, t, _)| f == from && t == to)
                .count();
            assert_eq!(rows, 1, "{from} -> {to}");
        }
    }
}

#[test]
fn device_update_table_every_from_to_pair() {
    for (from, to, expected) in DEVICE_TABLE {
        let row = format!("device_update {from} -> {to}");
        let before = execution_in(from);
        match before.device_update(&DeviceUpdate::to(to), Some(&TIMEOUT), now()) {
            Ok(after) => {
                assert_eq!(expected, OK, "{row}: was allowed");
                assert_changed(&row, &before, &after, to);
                assert_eq!(
                    after.status_details, before.status_details,
                    "{row}: statusDetails unchanged when omitted"
                );
                if from == Q && to == IP {
                    assert_eq!(after.started_at, Some(now()), "{row}: startedAt");
                    assert_eq!(after.in_progress_deadline, Some(now().plus_minutes(20)));
                } else {
                    assert_eq!(after.started_at, before.started_at, "{row}: startedAt kept");
                }
            }
            Err(err) => {
                assert_rejection(&row, &err, expected, &before);
                if expected == IR {
                    assert!(err.to_string().starts_with("status:"), "{row}: {err}");
                    assert!(err.to_string().contains(to.as_str()), "{row}: {err}");
                }
            }
        }
    }
}

#[test]
fn device_update_without_status_is_invalid_request() {
    for from in ExecutionStatus::ALL {
        let before = execution_in(*from);
        let err = before
            .device_update(&DeviceUpdate::default(), None, now())
            .unwrap_err();
        assert_eq!(err, Rejection::invalid("status", "is required"), "{from}");
        assert_eq!(err.device_code(), "InvalidRequest");
    }
}

#[test]
fn device_update_status_details_replace_the_map() {
    let before = execution_in(IP);
    let update = DeviceUpdate {
        status_details: Some(details(&[("step", "download")])),
        ..DeviceUpdate::to(IP)
    };
    let after = before.device_update(&update, None, now()).unwrap();
    assert_eq!(after.status_details, details(&[("step", "download")]));

    let bad = DeviceUpdate {
        status_details: Some(details(&[("bad key", "x")])),
        ..DeviceUpdate::to(IP)
    };
    let err = before.device_update(&bad, None, now()).unwrap_err();
    assert!(matches!(err, Rejection::InvalidRequest(_)), "{err:?}");
    assert!(err.to_string().contains("statusDetails"), "{err}");
}

#[test]
fn device_update_expected_version_mismatch_is_version_mismatch() {
    for from in [Q, IP] {
        let before = execution_in(from);
        let current = before.version_number;
        for expected in [current - 1, current + 1, 0, 99] {
            let update = DeviceUpdate {
                expected_version: Some(expected),
                ..DeviceUpdate::to(S)
            };
            let err = before.device_update(&update, None, now()).unwrap_err();
            assert_eq!(
                err,
                Rejection::VersionMismatch {
                    expected,
                    execution: before.state()
                },
                "{from} expected {expected}"
            );
            assert_eq!(err.device_code(), "VersionMismatch");
            assert_eq!(err.execution_state(), Some(&before.state()));
            assert!(err.to_string().contains(&expected.to_string()));
            assert!(err.to_string().contains(&current.to_string()));
        }
        let matching = DeviceUpdate {
            expected_version: Some(current),
            ..DeviceUpdate::to(S)
        };
        let after = before.device_update(&matching, None, now()).unwrap();
        assert_eq!(after.version_number, current + 1);
    }
}

#[test]
fn device_update_terminal_wins_over_version_mismatch() {
    let before = execution_in(S);
    let update = DeviceUpdate {
        expected_version: Some(42),
        ..DeviceUpdate::to(F)
    };
    let err = before.device_update(&update, None, now()).unwrap_err();
    assert_rejection("terminal + stale version", &err, IST, &before);
}

#[test]
fn device_update_version_increments_by_one_on_every_report() {
    let mut e = execution_in(Q);
    assert_eq!(e.version_number, 1);
    for (i, status) in [IP, IP, IP, IP, S].into_iter().enumerate() {
        let update = DeviceUpdate {
            expected_version: Some(e.version_number),
            ..DeviceUpdate::to(status)
        };
        e = e.device_update(&update, None, now()).unwrap();
        assert_eq!(e.version_number, 2 + i as i64);
    }
    assert_eq!(e.status, S);
    assert_eq!(e.version_number, 6);
}

// ---------------------------------------------------------------------------
// start-next
// ---------------------------------------------------------------------------

#[test]
fn start_next_table_every_from_status() {
    for from in ExecutionStatus::ALL {
        let before = execution_in(*from);
        let row = format!("start_next from {from}");
        let result = before.start_next(
            Some(&details(&[("step", "boot")])),
            None,
            Some(&TIMEOUT),
            now(),
        );
        match from {
            Q => {
                let after = result.unwrap().expect("a QUEUED head starts");
                assert_changed(&row, &before, &after, IP);
                assert_eq!(after.version_number, 2, "{row}");
                assert_eq!(after.started_at, Some(now()), "{row}");
                assert_eq!(after.status_details, details(&[("step", "boot")]));
                assert_eq!(after.in_progress_deadline, Some(now().plus_minutes(20)));
            }
            IP => assert_eq!(result, Ok(None), "{row}: IN_PROGRESS head is unchanged"),
            _ => assert_rejection(&row, &result.unwrap_err(), IST, &before),
        }
    }
}

#[test]
fn start_next_validates_step_timeout() {
    let err = execution_in(Q)
        .start_next(None, Some(0), None, now())
        .unwrap_err();
    assert!(matches!(err, Rejection::InvalidRequest(_)));
    assert!(err.to_string().starts_with("stepTimeoutInMinutes"), "{err}");
}

// ---------------------------------------------------------------------------
// cancel
// ---------------------------------------------------------------------------

const CANCELS: [CancelBy; 4] = [
    CancelBy::Job { force: false },
    CancelBy::Job { force: true },
    CancelBy::Operator {
        force: false,
        expected_version: None,
    },
    CancelBy::Operator {
        force: true,
        expected_version: None,
    },
];

/// Per from-status: the outcome for each of `CANCELS`, in order.
#[rustfmt::skip]
const CANCEL_TABLE: [(ExecutionStatus, [Outcome; 4]); 8] = [
    (Q,  [OK,  OK,  OK,  OK]),
    (IP, [IST, OK,  IST, OK]),
    (S,  [IST, IST, IST, IST]),
    (F,  [IST, IST, IST, IST]),
    (T,  [IST, IST, IST, IST]),
    (R,  [IST, IST, IST, IST]),
    (RM, [IST, IST, IST, IST]),
    (C,  [IST, IST, IST, IST]),
];

#[test]
fn cancel_table_every_from_status_and_canceller() {
    for (from, outcomes) in CANCEL_TABLE {
        let before = execution_in(from);
        for (by, expected) in CANCELS.into_iter().zip(outcomes) {
            let row = format!("cancel {from} by {by:?}");
            match before.cancel(by, None, now()) {
                Ok(after) => {
                    assert_eq!(expected, OK, "{row}: was allowed");
                    assert_changed(&row, &before, &after, C);
                    assert_eq!(after.force_canceled, from == IP, "{row}: forceCanceled");
                }
                Err(err) => assert_rejection(&row, &err, expected, &before),
            }
        }
    }
}

#[test]
fn cancel_by_operator_checks_expected_version() {
    for from in [Q, IP] {
        let before = execution_in(from);
        let stale = CancelBy::Operator {
            force: true,
            expected_version: Some(before.version_number + 1),
        };
        let err = before.cancel(stale, None, now()).unwrap_err();
        assert_eq!(
            err,
            Rejection::VersionMismatch {
                expected: before.version_number + 1,
                execution: before.state()
            }
        );
        assert_eq!(err.device_code(), "VersionMismatch");
        let current = CancelBy::Operator {
            force: true,
            expected_version: Some(before.version_number),
        };
        let after = before.cancel(current, None, now()).unwrap();
        assert_eq!(after.status, C);
        assert_eq!(after.version_number, before.version_number + 1);
    }
}

#[test]
fn cancel_stores_status_details_when_given() {
    let after = execution_in(Q)
        .cancel(
            CancelBy::Job { force: false },
            Some(&details(&[("reason", "operator")])),
            now(),
        )
        .unwrap();
    assert_eq!(after.status_details, details(&[("reason", "operator")]));
}

// ---------------------------------------------------------------------------
// remove, delete, time out
// ---------------------------------------------------------------------------

#[test]
fn remove_table_every_from_status() {
    for from in ExecutionStatus::ALL {
        let before = execution_in(*from);
        let row = format!("remove {from}");
        match before.remove(now()) {
            Some(after) => {
                assert!(matches!(from, Q | IP), "{row}: terminal executions stay");
                assert_changed(&row, &before, &after, RM);
            }
            None => assert!(from.is_terminal(), "{row}: pending executions are removed"),
        }
    }
}

#[test]
fn check_delete_table_every_from_status_with_and_without_force() {
    for from in ExecutionStatus::ALL {
        let before = execution_in(*from);
        for force in [false, true] {
            let row = format!("check_delete {from} force={force}");
            let expected = if *from == IP && !force { IST } else { OK };
            match before.check_delete(force) {
                Ok(()) => assert_eq!(expected, OK, "{row}"),
                Err(err) => assert_rejection(&row, &err, expected, &before),
            }
        }
    }
}

#[test]
fn time_out_table_every_from_status() {
    for from in ExecutionStatus::ALL {
        let mut before = execution_in(*from);
        // A deadline that has passed, whatever the status.
        before.in_progress_deadline = Some(now().plus_minutes(-1));
        let row = format!("time_out {from}");
        match before.time_out(now()) {
            Some(after) => {
                assert_eq!(*from, IP, "{row}: only IN_PROGRESS times out");
                assert_changed(&row, &before, &after, T);
            }
            None => assert_ne!(*from, IP, "{row}: a due IN_PROGRESS execution times out"),
        }
    }
}

#[test]
fn time_out_without_a_timer_never_fires() {
    let e = execution_in(IP);
    assert_eq!(e.effective_deadline(), None);
    assert_eq!(e.time_out(now().plus_minutes(100_000)), None);
}

// ---------------------------------------------------------------------------
// Job level
// ---------------------------------------------------------------------------

fn job_in(status: JobStatus, force_canceled: bool) -> Job {
    let mut job = job_with(json!({}));
    job.status = status;
    job.force_canceled = force_canceled;
    job
}

fn assert_job_transition(row: &str, err: &Rejection) {
    assert!(
        matches!(
            err,
            Rejection::InvalidStateTransition {
                execution: None,
                ..
            }
        ),
        "{row}: expected a job InvalidStateTransition, got {err:?}"
    );
    assert_eq!(err.device_code(), "InvalidStateTransition", "{row}");
}

/// (status, forceCanceled already, force requested, allowed)
#[rustfmt::skip]
const JOB_CANCEL_TABLE: [(JobStatus, bool, bool, bool); 12] = [
    (JobStatus::Scheduled, false, false, true),
    (JobStatus::Scheduled, false, true, true),
    (JobStatus::InProgress, false, false, true),
    (JobStatus::InProgress, false, true, true),
    (JobStatus::Canceled, false, false, false),
    // A canceled job may be canceled again with force, once.
    (JobStatus::Canceled, false, true, true),
    (JobStatus::Canceled, true, false, false),
    (JobStatus::Canceled, true, true, false),
    (JobStatus::Completed, false, false, false),
    (JobStatus::Completed, false, true, false),
    (JobStatus::DeletionInProgress, false, false, false),
    (JobStatus::DeletionInProgress, false, true, false),
];

#[test]
fn job_cancel_table_every_status_with_and_without_force() {
    for status in JobStatus::ALL {
        assert!(JOB_CANCEL_TABLE.iter().any(|row| row.0 == *status));
    }
    let later = noon().plus_minutes(5);
    for (status, already, force, allowed) in JOB_CANCEL_TABLE {
        let row = format!("Job::cancel {status} forceCanceled={already} force={force}");
        let job = job_in(status, already);
        let request = CancelJob {
            reason_code: Some("USER_CANCEL".into()),
            comment: Some("stop it".into()),
            force,
        };
        match job.cancel(&request, later) {
            Ok((after, scope)) => {
                assert!(allowed, "{row}: was allowed");
                assert_eq!(after.status, JobStatus::Canceled, "{row}");
                assert_eq!(after.force_canceled, force, "{row}");
                assert_eq!(after.reason_code.as_deref(), Some("USER_CANCEL"), "{row}");
                assert_eq!(after.comment.as_deref(), Some("stop it"), "{row}");
                assert_eq!(after.completed_at, Some(later), "{row}");
                assert_eq!(after.version, job.version + 1, "{row}");
                assert_eq!(after.last_updated_at, later, "{row}");
                assert!(after.rollout.stopped, "{row}: rollout stops");
                assert_eq!(scope, CancelScope { force }, "{row}");
                let expected: &[ExecutionStatus] = if force { &[Q, IP] } else { &[Q] };
                assert_eq!(scope.statuses(), expected, "{row}");
            }
            Err(err) => {
                assert!(!allowed, "{row}: was rejected: {err:?}");
                assert_job_transition(&row, &err);
            }
        }
    }
}

#[test]
fn job_cancel_again_with_force_keeps_reason_and_sweeps_in_progress() {
    let job = job_in(JobStatus::InProgress, false);
    let (canceled, scope) = job
        .cancel(
            &CancelJob {
                reason_code: Some("FIRST".into()),
                comment: Some("first".into()),
                force: false,
            },
            noon(),
        )
        .unwrap();
    assert_eq!(scope.statuses(), &[Q]);
    let (forced, scope) = canceled
        .cancel(
            &CancelJob {
                force: true,
                ..CancelJob::default()
            },
            noon().plus_minutes(1),
        )
        .unwrap();
    assert_eq!(scope.statuses(), &[Q, IP]);
    assert!(forced.force_canceled);
    assert_eq!(forced.reason_code.as_deref(), Some("FIRST"));
    assert_eq!(forced.comment.as_deref(), Some("first"));
    assert_eq!(forced.version, canceled.version + 1);
    // A third cancel, even with force, is refused.
    let err = forced
        .cancel(
            &CancelJob {
                force: true,
                ..CancelJob::default()
            },
            noon().plus_minutes(2),
        )
        .unwrap_err();
    assert_job_transition("third cancel", &err);
}

#[test]
fn job_cancel_rejects_bad_reason_code() {
    let err = job_in(JobStatus::InProgress, false)
        .cancel(
            &CancelJob {
                reason_code: Some("lower_case".into()),
                ..CancelJob::default()
            },
            noon(),
        )
        .unwrap_err();
    assert!(matches!(err, Rejection::InvalidRequest(_)), "{err:?}");
    assert!(err.to_string().starts_with("reasonCode"), "{err}");
}

/// (status, force, allowed)
#[rustfmt::skip]
const JOB_DELETE_TABLE: [(JobStatus, bool, bool); 10] = [
    (JobStatus::Scheduled, false, false),
    (JobStatus::Scheduled, true, true),
    (JobStatus::InProgress, false, false),
    (JobStatus::InProgress, true, true),
    (JobStatus::Canceled, false, true),
    (JobStatus::Canceled, true, true),
    (JobStatus::Completed, false, true),
    (JobStatus::Completed, true, true),
    (JobStatus::DeletionInProgress, false, false),
    (JobStatus::DeletionInProgress, true, false),
];

#[test]
fn job_begin_deletion_table_every_status_with_and_without_force() {
    for status in JobStatus::ALL {
        assert_eq!(
            JOB_DELETE_TABLE.iter().filter(|r| r.0 == *status).count(),
            2
        );
    }
    for (status, force, allowed) in JOB_DELETE_TABLE {
        let row = format!("Job::begin_deletion {status} force={force}");
        let job = job_in(status, false);
        match job.begin_deletion(force, noon()) {
            Ok(after) => {
                assert!(allowed, "{row}: was allowed");
                assert_eq!(after.status, JobStatus::DeletionInProgress, "{row}");
                assert_eq!(after.version, job.version + 1, "{row}");
                assert!(after.rollout.stopped, "{row}");
            }
            Err(err) => {
                assert!(!allowed, "{row}: was rejected: {err:?}");
                assert_job_transition(&row, &err);
            }
        }
    }
}

fn continuous_job() -> Job {
    job_with(json!({"jobType": "CONTINUOUS"}))
}

fn thing_targets(range: std::ops::Range<usize>) -> Targets {
    Targets {
        thing_names: range.map(|i| format!("thing-{i}")).collect(),
        thing_group_names: vec![],
    }
}

#[test]
fn job_associate_targets_only_continuous_in_progress() {
    let extra = thing_targets(0..2);
    let snapshot = job_in(JobStatus::InProgress, false);
    assert_eq!(snapshot.job_type, JobType::Snapshot);
    assert_job_transition(
        "snapshot",
        &snapshot.associate_targets(&extra, noon()).unwrap_err(),
    );
    for status in JobStatus::ALL {
        let mut job = continuous_job();
        job.status = *status;
        let result = job.associate_targets(&extra, noon());
        if *status == JobStatus::InProgress {
            let after = result.unwrap();
            assert_eq!(after.targets.thing_names, vec!["thing-0", "thing-1"]);
            assert_eq!(
                after.targets.thing_group_names,
                vec!["com.example.thermostat (default)"]
            );
            assert_eq!(after.version, job.version + 1);
            // Adding the same targets again does not duplicate them.
            let again = after.associate_targets(&extra, noon()).unwrap();
            assert_eq!(again.targets, after.targets);
        } else {
            assert_job_transition(&format!("continuous {status}"), &result.unwrap_err());
        }
    }
}

#[test]
fn job_associate_targets_at_most_100_in_all() {
    let job = continuous_job(); // one group already
    let ok = job
        .associate_targets(&thing_targets(0..99), noon())
        .unwrap();
    assert_eq!(
        ok.targets.thing_names.len() + ok.targets.thing_group_names.len(),
        100
    );
    let err = job
        .associate_targets(&thing_targets(0..100), noon())
        .unwrap_err();
    assert!(matches!(err, Rejection::InvalidRequest(_)), "{err:?}");
    assert!(err.to_string().starts_with("targets"), "{err}");
    assert!(err.to_string().contains("101"), "{err}");
}

fn update(json: serde_json::Value) -> UpdateJob {
    serde_json::from_value(json).unwrap()
}

fn job_with_retries(criteria: serde_json::Value) -> Job {
    job_with(json!({
        "timeoutConfig": {"inProgressTimeoutInMinutes": 30},
        "jobExecutionsRetryConfig": {"criteriaList": criteria}
    }))
}

#[test]
fn job_update_retries_cannot_be_raised() {
    let job = job_with_retries(json!([{"failureType": "FAILED", "numberOfRetries": 2}]));
    let raise = update(json!({"jobExecutionsRetryConfig": {"criteriaList": [
        {"failureType": "FAILED", "numberOfRetries": 3}]}}));
    let err = job.update(raise, noon()).unwrap_err();
    assert!(matches!(err, Rejection::InvalidRequest(_)), "{err:?}");
    assert!(
        err.to_string().starts_with("jobExecutionsRetryConfig"),
        "{err}"
    );

    // A failure type that had no budget cannot get one.
    let new_type = update(json!({"jobExecutionsRetryConfig": {"criteriaList": [
        {"failureType": "TIMED_OUT", "numberOfRetries": 1}]}}));
    assert!(job.update(new_type, noon()).is_err());

    // No retry configuration at creation: none can be added.
    let plain = job_with(json!({}));
    let add = update(json!({"jobExecutionsRetryConfig": {"criteriaList": [
        {"failureType": "FAILED", "numberOfRetries": 1}]}}));
    assert!(plain.update(add, noon()).is_err());

    // Setting to 0 is always allowed.
    let zero = update(json!({"jobExecutionsRetryConfig": {"criteriaList": [
        {"failureType": "FAILED", "numberOfRetries": 0}]}}));
    let after = job.update(zero, noon().plus_minutes(1)).unwrap();
    let retry = after.config.retry.as_ref().unwrap();
    assert_eq!(
        retry.budget(fleetjobs_core::config::RetryFailureType::Failed),
        0
    );
    assert_eq!(after.version, job.version + 1);
    assert_eq!(after.last_updated_at, noon().plus_minutes(1));
}

/// A shared ALL budget of 3 split into per-type budgets of 3 each lets a
/// thing retry up to 6 times: that raises the retries, and must be refused.
#[test]
fn job_update_retries_cannot_be_raised_by_splitting_an_all_budget() {
    let job = job_with_retries(json!([{"failureType": "ALL", "numberOfRetries": 3}]));
    let split = update(json!({"jobExecutionsRetryConfig": {"criteriaList": [
        {"failureType": "FAILED", "numberOfRetries": 3},
        {"failureType": "TIMED_OUT", "numberOfRetries": 3}]}}));
    let result = job.update(split, noon()).map(|job| job.config.retry);
    assert!(
        matches!(result, Err(Rejection::InvalidRequest(_))),
        "ALL 3 -> FAILED 3 + TIMED_OUT 3 raises the total from 3 to 6, yet UpdateJob gave {result:?}"
    );
}

#[test]
fn job_update_other_fields() {
    let job = job_with(json!({}));
    let after = job
        .update(
            update(json!({
                "description": "v2.1.6",
                "timeoutConfig": {"inProgressTimeoutInMinutes": 15},
                "jobExecutionsRolloutConfig": {"maximumPerMinute": 10},
                "abortConfig": {"criteriaList": [{"failureType": "ALL", "action": "CANCEL",
                    "thresholdPercentage": 50, "minNumberOfExecutedThings": 5}]}
            })),
            noon(),
        )
        .unwrap();
    assert_eq!(after.description.as_deref(), Some("v2.1.6"));
    assert_eq!(
        after.config.timeout.unwrap().in_progress_timeout_in_minutes,
        Some(15)
    );
    assert_eq!(
        after.config.rollout.as_ref().unwrap().maximum_per_minute,
        Some(10)
    );
    assert!(after.config.abort.is_some());

    // Invalid values are refused, naming the field.
    let err = job
        .update(
            update(json!({"timeoutConfig": {"inProgressTimeoutInMinutes": 0}})),
            noon(),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("timeoutConfig.inProgressTimeoutInMinutes"),
        "{err}"
    );
    // Fields that cannot change are unknown to UpdateJob.
    assert!(serde_json::from_value::<UpdateJob>(json!({"document": {}})).is_err());

    let deleting = job_in(JobStatus::DeletionInProgress, false);
    let err = deleting
        .update(update(json!({"description": "x"})), noon())
        .unwrap_err();
    assert_job_transition("update while deleting", &err);
}

// ---------------------------------------------------------------------------
// CreateJob
// ---------------------------------------------------------------------------

fn create(body: &str) -> Result<Job, String> {
    let request: CreateJob = serde_json::from_str(body).map_err(|e| e.to_string())?;
    request
        .into_job("generated-id".into(), noon())
        .map_err(|e| e.to_string())
}

fn seed_with(edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> String {
    let mut body: serde_json::Value = serde_json::from_str(SEED_BODY).unwrap();
    edit(body.as_object_mut().unwrap());
    body.to_string()
}

#[test]
fn create_job_accepts_the_seed_body_verbatim() {
    let job = create(SEED_BODY).unwrap();
    assert_eq!(job.job_id, "generated-id");
    assert_eq!(
        job.description.as_deref(),
        Some("Firmware update to v2.1.5")
    );
    assert_eq!(
        job.targets.thing_group_names,
        vec!["com.example.thermostat (default)"]
    );
    assert!(job.targets.thing_names.is_empty());
    assert_eq!(
        serde_json::Value::Object(job.document.clone()),
        json!({"action":"updateFirmware","params":{"version":"2.1.5",
            "url":"https://firmware.example.com/thermostat-v2.1.5.bin"}})
    );
    assert_eq!(job.job_type, JobType::Snapshot);
    assert_eq!(job.status, JobStatus::InProgress);
    assert_eq!(job.version, 1);
    assert_eq!(job.created_at, noon());
    assert_eq!(job.last_updated_at, noon());
    assert_eq!(job.completed_at, None);
    assert!(!job.force_canceled);
    assert_eq!(job.rollout.pending_targets, 0);
}

#[test]
fn create_job_uses_the_body_job_id_and_target_selection_alias() {
    let body = seed_with(|b| {
        b.insert("jobId".into(), json!("fw-2_1_5"));
        b.insert("targetSelection".into(), json!("CONTINUOUS"));
    });
    let job = create(&body).unwrap();
    assert_eq!(job.job_id, "fw-2_1_5");
    assert_eq!(job.job_type, JobType::Continuous);

    let body = seed_with(|b| {
        b.insert("jobType".into(), json!("CONTINUOUS"));
    });
    assert_eq!(create(&body).unwrap().job_type, JobType::Continuous);
}

#[test]
fn create_job_rejects_bad_bodies_naming_the_field() {
    let too_big = "x".repeat(32 * 1024);
    let cases: Vec<(String, &str)> = vec![
        (
            seed_with(|b| {
                b.insert("colour".into(), json!("blue"));
            }),
            "colour",
        ),
        (
            seed_with(|b| {
                b.insert("jobId".into(), json!("bad id!"));
            }),
            "jobId",
        ),
        (
            seed_with(|b| {
                b.insert("jobId".into(), json!("a".repeat(65)));
            }),
            "jobId",
        ),
        (
            seed_with(|b| {
                b.insert("document".into(), json!({"blob": too_big}));
            }),
            "document",
        ),
        (
            seed_with(|b| {
                b.insert("document".into(), json!("not an object"));
            }),
            "document",
        ),
        (
            seed_with(|b| {
                b.insert("targets".into(), json!({}));
            }),
            "targets",
        ),
        (
            seed_with(|b| {
                b.insert(
                    "targets".into(),
                    json!({"thingNames": [], "thingGroupNames": []}),
                );
            }),
            "targets",
        ),
        (
            seed_with(|b| {
                b.insert("targets".into(), json!({"things": ["a"]}));
            }),
            "things",
        ),
        (
            seed_with(|b| {
                b.remove("targets");
            }),
            "targets",
        ),
        (
            seed_with(|b| {
                b.insert("targets".into(), json!({"thingNames": ["a/b"]}));
            }),
            "thingName",
        ),
        (
            seed_with(|b| {
                b.insert("description".into(), json!("line\nbreak"));
            }),
            "description",
        ),
        (
            seed_with(|b| {
                b.insert("targetSelection".into(), json!("SOMETIMES"));
            }),
            "SOMETIMES",
        ),
        (
            seed_with(|b| {
                b.insert(
                    "timeoutConfig".into(),
                    json!({"inProgressTimeoutInMinutes": 0}),
                );
            }),
            "timeoutConfig.inProgressTimeoutInMinutes",
        ),
    ];
    for (body, field) in cases {
        let err = create(&body).expect_err(&body);
        assert!(
            err.contains(field),
            "{body}\n -> {err:?} should name {field}"
        );
    }
}

#[test]
fn create_job_document_limit_is_32_kib() {
    // {"blob":"…"} is 11 bytes of JSON around the string.
    let fits = seed_with(|b| {
        b.insert(
            "document".into(),
            json!({"blob": "x".repeat(32 * 1024 - 11)}),
        );
    });
    assert!(create(&fits).is_ok());
    let over = seed_with(|b| {
        b.insert(
            "document".into(),
            json!({"blob": "x".repeat(32 * 1024 - 10)}),
        );
    });
    let err = create(&over).unwrap_err();
    assert!(err.starts_with("document"), "{err}");
}

/// A device reads an execution only while it is in flight
/// (docs/device-protocol.md#describejobexecution).
#[test]
fn a_device_describes_only_executions_in_flight() {
    for status in ExecutionStatus::ALL {
        let execution = execution_in(*status);
        match execution.describable_by_device() {
            Ok(()) => assert!(!status.is_terminal(), "{status}"),
            Err(rejection) => {
                assert!(status.is_terminal(), "{status}");
                assert_eq!(rejection.device_code(), "TerminalStateReached");
            }
        }
    }
}
