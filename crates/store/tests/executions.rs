#[macro_use]
mod common;

use std::collections::HashSet;

use common::*;
use fleetjobs_core::execution::DeviceUpdate;
use fleetjobs_core::job::CancelJob;
use fleetjobs_core::model::{ExecutionStatus, JobStatus};
use fleetjobs_core::Rejection;
use fleetjobs_store::{lane_of, Error, ExecutionQuery, SweepOptions};
use serde_json::json;

use ExecutionStatus::*;

fn topics(messages: &[(String, serde_json::Value)]) -> Vec<&str> {
    messages
        .iter()
        .map(|(t, _)| t.rsplit('/').next().unwrap())
        .collect()
}

both_backends!(device_lifecycle_orders_the_pending_list_and_notifies_on_head_changes);
fn device_lifecycle_orders_the_pending_list_and_notifies_on_head_changes() {
    let store = memory_store();
    things(&store, &["dev"]);
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        create_job(&store, id, job_for(&["dev"]), noon().plus_minutes(i as i64));
    }
    drain_outbox(&store);
    let pending = store.pending_for_thing("dev").unwrap();
    let ids: Vec<_> = pending.iter().map(|e| e.job_id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);

    let now = noon().plus_minutes(5);
    let started = store.start_next("dev", None, None, now).unwrap().unwrap();
    assert_eq!(
        (
            started.job_id.as_str(),
            started.status,
            started.version_number
        ),
        ("a", InProgress, 2)
    );
    assert!(
        drain_outbox(&store).is_empty(),
        "starting the head sends nothing"
    );
    let again = store.start_next("dev", None, None, now).unwrap().unwrap();
    assert_eq!(again, started);

    let done = store
        .device_update("dev", "a", None, &DeviceUpdate::to(Succeeded), now)
        .unwrap();
    assert_eq!((done.status, done.version_number), (Succeeded, 3));
    let messages = drain_outbox(&store);
    assert_eq!(topics(&messages), ["notify-next", "notify"]);
    assert_eq!(messages[0].1["execution"]["jobId"], "b");
    let queued: Vec<_> = messages[1].1["jobs"]["QUEUED"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["jobId"].as_str().unwrap())
        .collect();
    assert_eq!(queued, ["b", "c"]);

    let err = store
        .device_update("dev", "a", None, &DeviceUpdate::to(Failed), now)
        .unwrap_err();
    let Error::Rejected(rejection) = err else {
        panic!("{err:?}")
    };
    assert_eq!(rejection.device_code(), "InvalidStateTransition");
    assert_eq!(rejection.execution_state().unwrap().status, Succeeded);
    assert!(
        drain_outbox(&store).is_empty(),
        "a rejection writes nothing"
    );

    for id in ["b", "c"] {
        store
            .device_update("dev", id, None, &DeviceUpdate::to(Succeeded), now)
            .unwrap();
    }
    let last = drain_outbox(&store);
    let tail = &last[last.len() - 2..];
    assert_eq!(topics(tail), ["notify-next", "notify"]);
    assert_eq!(tail[0].1, json!({"timestamp": now.as_secs()}));
    assert_eq!(tail[1].1, json!({"timestamp": now.as_secs(), "jobs": {}}));
    assert_eq!(
        store.status_counts("c").unwrap(),
        store.recount("c").unwrap()
    );
}

both_backends!(a_progress_report_notifies_no_one_and_leaves_the_job_idle);
fn a_progress_report_notifies_no_one_and_leaves_the_job_idle() {
    let store = memory_store();
    things(&store, &["dev"]);
    create_job(&store, "a", job_for(&["dev"]), noon());
    let now = noon().plus_minutes(1);
    store.start_next("dev", None, None, now).unwrap();
    store.sweep(now, &SweepOptions::default()).unwrap();
    drain_outbox(&store);
    let later = now.plus_minutes(60);
    assert!(store.due_job_ids(later, 10).unwrap().is_empty());

    let progress = DeviceUpdate {
        status_details: Some([("step".to_owned(), "2/3".to_owned())].into()),
        ..DeviceUpdate::to(InProgress)
    };
    let reported = store
        .device_update("dev", "a", None, &progress, now)
        .unwrap();
    assert_eq!(reported.version_number, 3);
    assert_eq!(reported.status_details["step"], "2/3");
    assert!(
        drain_outbox(&store).is_empty(),
        "the pending list is as it was"
    );
    assert!(
        store.due_job_ids(later, 10).unwrap().is_empty(),
        "the job's counts are as they were: its tick has nothing to see"
    );

    store
        .device_update("dev", "a", None, &DeviceUpdate::to(Succeeded), now)
        .unwrap();
    assert_eq!(topics(&drain_outbox(&store)), ["notify-next", "notify"]);
    assert_eq!(
        store.due_job_ids(now, 10).unwrap(),
        ["a"],
        "due to complete"
    );
}

both_backends!(version_mismatch_and_unknown_executions_are_refused);
fn version_mismatch_and_unknown_executions_are_refused() {
    let store = memory_store();
    things(&store, &["dev"]);
    create_job(&store, "j", job_for(&["dev"]), noon());
    let update = DeviceUpdate {
        expected_version: Some(7),
        ..DeviceUpdate::to(InProgress)
    };
    let err = store
        .device_update("dev", "j", None, &update, noon())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Rejected(Rejection::VersionMismatch { expected: 7, .. })
    ));
    let err = store
        .device_update("dev", "nope", None, &DeviceUpdate::to(InProgress), noon())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Rejected(Rejection::ResourceNotFound(_))
    ));
    assert_eq!(
        store
            .execution("j", "dev", None)
            .unwrap()
            .unwrap()
            .version_number,
        1
    );
}

both_backends!(a_failure_with_retries_left_queues_the_next_attempt);
fn a_failure_with_retries_left_queues_the_next_attempt() {
    let store = memory_store();
    things(&store, &["dev"]);
    let mut body = job_for(&["dev"]);
    body["jobExecutionsRetryConfig"] =
        json!({"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]});
    create_job(&store, "j", body, noon());
    store
        .device_update("dev", "j", None, &DeviceUpdate::to(Failed), noon())
        .unwrap();
    let retry = store.execution("j", "dev", None).unwrap().unwrap();
    assert_eq!(
        (retry.execution_number, retry.status, retry.retry_attempt()),
        (2, Queued, 1)
    );
    store
        .device_update("dev", "j", None, &DeviceUpdate::to(Failed), noon())
        .unwrap();
    let last = store.execution("j", "dev", None).unwrap().unwrap();
    assert_eq!((last.execution_number, last.status), (2, Failed));
    let counts = store.status_counts("j").unwrap();
    assert_eq!(counts.get(Failed), 2);
    assert_eq!(counts, store.recount("j").unwrap());
}

both_backends!(paging_through_1000_executions_visits_each_once);
fn paging_through_1000_executions_visits_each_once() {
    let store = memory_store();
    let names: Vec<String> = (0..1000).map(|i| format!("dev{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    group(&store, "fleet", &refs);
    create_job(
        &store,
        "big",
        json!({"targets": {"thingGroupNames": ["fleet"]}, "document": {}}),
        noon(),
    );
    let mut seen = HashSet::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = store
            .executions_of_job(
                "big",
                &ExecutionQuery {
                    status: None,
                    limit: 7,
                    next_token: token,
                },
            )
            .unwrap();
        pages += 1;
        for e in page.items {
            assert!(seen.insert(e.thing_name), "visited twice");
        }
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    assert_eq!(pages, 1000 / 7 + 1);
    let for_thing = store
        .executions_of_thing(
            "dev5",
            &ExecutionQuery {
                status: Some(Queued),
                limit: 10,
                next_token: None,
            },
        )
        .unwrap();
    assert_eq!(for_thing.items.len(), 1);
}

both_backends!(cancel_job_leaves_in_progress_alone_unless_forced);
fn cancel_job_leaves_in_progress_alone_unless_forced() {
    let store = memory_store();
    things(&store, &["a", "b", "c"]);
    create_job(&store, "j", job_for(&["a", "b", "c"]), noon());
    store.start_next("a", None, None, noon()).unwrap();
    let cancel = CancelJob {
        reason_code: Some("USER_CANCEL".into()),
        comment: Some("Pausing rollout for investigation".into()),
        force: false,
    };
    let job = store.cancel_job("j", &cancel, noon()).unwrap();
    assert_eq!(
        (job.status, job.force_canceled),
        (JobStatus::Canceled, false)
    );
    assert_eq!(job.reason_code.as_deref(), Some("USER_CANCEL"));
    let counts = store.status_counts("j").unwrap();
    assert_eq!((counts.get(Canceled), counts.get(InProgress)), (2, 1));

    let forced = store
        .cancel_job(
            "j",
            &CancelJob {
                force: true,
                ..Default::default()
            },
            noon(),
        )
        .unwrap();
    assert!(forced.force_canceled);
    assert_eq!(store.status_counts("j").unwrap().get(Canceled), 3);
    assert_eq!(
        store.status_counts("j").unwrap(),
        store.recount("j").unwrap()
    );
    let err = store
        .device_update("a", "j", None, &DeviceUpdate::to(Succeeded), noon())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Rejected(Rejection::InvalidStateTransition { .. })
    ));
}

both_backends!(cancel_one_execution_touches_no_other_device);
fn cancel_one_execution_touches_no_other_device() {
    let store = memory_store();
    things(&store, &["a", "b"]);
    create_job(&store, "j", job_for(&["a", "b"]), noon());
    drain_outbox(&store);
    let canceled = store
        .cancel_execution("j", "a", false, Some(1), None, noon())
        .unwrap();
    assert_eq!((canceled.status, canceled.version_number), (Canceled, 2));
    assert_eq!(
        store.execution("j", "b", None).unwrap().unwrap().status,
        Queued
    );
    let messages = drain_outbox(&store);
    assert!(
        messages.iter().all(|(t, _)| t.contains("/a/")),
        "{messages:?}"
    );
    let err = store
        .cancel_execution("j", "b", false, Some(5), None, noon())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Rejected(Rejection::VersionMismatch { .. })
    ));
}

both_backends!(deleting_a_job_with_many_executions_goes_in_batches);
fn deleting_a_job_with_many_executions_goes_in_batches() {
    let store = memory_store();
    let names: Vec<String> = (0..2500).map(|i| format!("dev{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    group(&store, "fleet", &refs);
    create_job(
        &store,
        "big",
        json!({"targets": {"thingGroupNames": ["fleet"]}, "document": {}}),
        noon(),
    );
    release_all(&store, "big", noon());
    let err = store.delete_job("big", false, noon()).unwrap_err();
    assert!(matches!(
        err,
        Error::Rejected(Rejection::InvalidStateTransition { .. })
    ));
    let job = store.delete_job("big", true, noon()).unwrap();
    assert_eq!(job.status, JobStatus::DeletionInProgress);
    let mut passes = 0;
    while !store.purge_job("big", noon()).unwrap() {
        passes += 1;
        assert_eq!(
            store.job("big").unwrap().unwrap().status,
            JobStatus::DeletionInProgress
        );
    }
    assert_eq!(passes, 2);
    assert!(store.job("big").unwrap().is_none());
    assert!(store.pending_for_thing("dev7").unwrap().is_empty());
}

both_backends!(continuous_jobs_follow_group_membership);
fn continuous_jobs_follow_group_membership() {
    let store = memory_store();
    group(&store, "g", &["a"]);
    things(&store, &["late"]);
    create_job(
        &store,
        "cont",
        json!({"jobType": "CONTINUOUS", "targets": {"thingGroupNames": ["g"]}, "document": {}}),
        noon(),
    );
    store.add_thing_to_group("g", "late", noon()).unwrap();
    let joined = store.execution("cont", "late", None).unwrap().unwrap();
    assert_eq!((joined.status, joined.execution_number), (Queued, 1));
    store.remove_thing_from_group("g", "late", noon()).unwrap();
    assert_eq!(
        store
            .execution("cont", "late", None)
            .unwrap()
            .unwrap()
            .status,
        Removed
    );
    store.add_thing_to_group("g", "late", noon()).unwrap();
    let rejoined = store.execution("cont", "late", None).unwrap().unwrap();
    assert_eq!((rejoined.status, rejoined.execution_number), (Queued, 2));
    assert_eq!(
        store.status_counts("cont").unwrap(),
        store.recount("cont").unwrap()
    );
}

both_backends!(timeouts_fire_at_the_deadline_and_retry);
fn timeouts_fire_at_the_deadline_and_retry() {
    let store = memory_store();
    things(&store, &["dev"]);
    let mut body = job_for(&["dev"]);
    body["timeoutConfig"] = json!({"inProgressTimeoutInMinutes": 20});
    body["jobExecutionsRetryConfig"] =
        json!({"criteriaList": [{"failureType": "TIMED_OUT", "numberOfRetries": 1}]});
    create_job(&store, "j", body, noon());
    store
        .start_next("dev", None, Some(7), noon().plus_minutes(5))
        .unwrap();
    assert_eq!(store.time_out_due(noon().plus_minutes(11), 100).unwrap(), 0);
    assert_eq!(store.time_out_due(noon().plus_minutes(12), 100).unwrap(), 1);
    let first = store.execution("j", "dev", Some(1)).unwrap().unwrap();
    assert_eq!(first.status, TimedOut);
    let retry = store.execution("j", "dev", None).unwrap().unwrap();
    assert_eq!((retry.execution_number, retry.status), (2, Queued));
}

both_backends!(a_repeated_client_token_is_answered_from_memory);
fn a_repeated_client_token_is_answered_from_memory() {
    let store = memory_store();
    assert_eq!(store.recall_reply("dev", "tok").unwrap(), None);
    store
        .remember_reply("dev", "tok", "{\"a\":1}", noon())
        .unwrap();
    store
        .remember_reply("dev", "tok", "{\"b\":2}", noon())
        .unwrap();
    assert_eq!(
        store.recall_reply("dev", "tok").unwrap().as_deref(),
        Some("{\"a\":1}")
    );
    assert_eq!(store.recall_reply("other", "tok").unwrap(), None);
    assert_eq!(store.forget_replies(noon().plus_minutes(1)).unwrap(), 1);
}

both_backends!(a_repeated_update_is_applied_once_and_a_rejected_one_writes_nothing);
fn a_repeated_update_is_applied_once_and_a_rejected_one_writes_nothing() {
    let store = memory_store();
    things(&store, &["dev"]);
    create_job(&store, "j", job_for(&["dev"]), noon());
    let update = |status| {
        store.apply_once("dev", Some("update tok"), noon(), |s| {
            let e = s.device_update("dev", "j", None, &DeviceUpdate::to(status), noon())?;
            Ok(format!("{}", e.version_number))
        })
    };
    assert_eq!(update(InProgress).unwrap(), "2");
    assert_eq!(update(InProgress).unwrap(), "2", "the first reply again");
    let execution = store.execution("j", "dev", None).unwrap().unwrap();
    assert_eq!(
        (execution.status, execution.version_number),
        (InProgress, 2)
    );

    let outbox_before = store.outbox_len().unwrap();
    let rejected = store.apply_once("dev", Some("update other"), noon(), |s| {
        s.device_update("dev", "j", None, &DeviceUpdate::to(Succeeded), noon())?;
        s.device_update("dev", "j", None, &DeviceUpdate::to(Queued), noon())?;
        Ok(String::new())
    });
    assert!(rejected.is_err());
    let execution = store.execution("j", "dev", None).unwrap().unwrap();
    assert_eq!(execution.status, InProgress, "the inner change rolled back");
    assert_eq!(store.outbox_len().unwrap(), outbox_before);
    assert_eq!(store.recall_reply("dev", "update other").unwrap(), None);
}

both_backends!(a_request_claims_its_things_lane_only_when_its_transaction_wrote_messages);
fn a_request_claims_its_things_lane_only_when_its_transaction_wrote_messages() {
    let store = memory_store();
    things(&store, &["dev"]);
    create_job(&store, "j", job_for(&["dev"]), noon());
    let claim_in_request = |update: DeviceUpdate| {
        store
            .transaction(|s| {
                s.device_update("dev", "j", None, &update, noon())?;
                s.claim_lane_of("dev", noon(), 30_000, 100)
            })
            .unwrap()
    };

    // Starting writes no notice: notify and notify-next of the job's
    // creation wait in the lane, for the sweeper.
    assert_eq!(claim_in_request(DeviceUpdate::to(InProgress)), None);
    assert_eq!(store.outbox_len().unwrap(), 2);

    // Succeeding empties the pending list: its notices are published with
    // what waited before them, in order.
    let claim = claim_in_request(DeviceUpdate::to(Succeeded)).unwrap();
    assert_eq!(claim.lane, lane_of("dev"));
    assert_eq!(claim.messages.len(), 4);
}

both_backends!(a_publisher_leases_a_whole_lane_so_each_thing_gets_its_messages_in_order);
fn a_publisher_leases_a_whole_lane_so_each_thing_gets_its_messages_in_order() {
    let store = memory_store();
    // Two things in one lane, a third in another.
    let names: Vec<String> = (0..100).map(|i| format!("dev-{i}")).collect();
    let first_lane = lane_of(&names[0]);
    let same = names[1..]
        .iter()
        .find(|n| lane_of(n) == first_lane)
        .unwrap();
    let other = names.iter().find(|n| lane_of(n) != first_lane).unwrap();
    things(&store, &[&names[0], same, other]);
    create_job(&store, "j", job_for(&[&names[0], same, other]), noon());

    let first = store.claim_lane(noon(), 30_000, 100).unwrap().unwrap();
    assert_eq!(first.lane, first_lane, "the lane with the oldest message");
    assert_eq!(
        first.messages.len(),
        4,
        "notify and notify-next of both things"
    );
    let second = store.claim_lane(noon(), 30_000, 100).unwrap().unwrap();
    assert_eq!(second.lane, lane_of(other));
    assert_eq!(second.messages.len(), 2);
    assert!(
        store.claim_lane(noon(), 30_000, 100).unwrap().is_none(),
        "both lanes are leased"
    );

    // The first holder sends one message, then stops: the rest is the
    // next publisher's, in order.
    store
        .release_lane(&first, Some(first.messages[0].id))
        .unwrap();
    let again = store.claim_lane(noon(), 30_000, 100).unwrap().unwrap();
    assert_eq!(again.messages, first.messages[1..].to_vec());

    // A lease that expired is taken over; the old holder's release does not
    // free the lane under the new one.
    let later = noon().plus_minutes(1);
    let taken_over = store.claim_lane(later, 30_000, 100).unwrap().unwrap();
    assert_eq!(taken_over.lane, first_lane);
    store.release_lane(&again, None).unwrap();
    let next = store.claim_lane(later, 30_000, 100).unwrap().unwrap();
    assert_eq!(
        next.lane,
        lane_of(other),
        "the taken-over lane stays leased"
    );
    store
        .release_lane(&taken_over, taken_over.messages.last().map(|m| m.id))
        .unwrap();
    store
        .release_lane(&next, next.messages.last().map(|m| m.id))
        .unwrap();
    assert_eq!(store.outbox_len().unwrap(), 0);
}

both_backends!(a_device_request_publishes_its_own_lane_only);
fn a_device_request_publishes_its_own_lane_only() {
    let store = memory_store();
    let names: Vec<String> = (0..100).map(|i| format!("dev-{i}")).collect();
    let mine = &names[0];
    let other = names.iter().find(|n| lane_of(n) != lane_of(mine)).unwrap();
    things(&store, &[mine, other]);
    create_job(&store, "j", job_for(&[other, mine]), noon());
    let mut sent = Vec::new();
    let outcome = store
        .publish_lane_of(mine, noon(), 100, 100, |topic, _| {
            sent.push(topic.to_owned());
            Ok::<(), String>(())
        })
        .unwrap();
    assert_eq!((outcome.count, outcome.failure), (2, None));
    assert!(
        sent.iter().all(|t| t.contains(&format!("/{mine}/"))),
        "{sent:?}"
    );
    assert_eq!(store.outbox_len().unwrap(), 2, "the other lane waits");
}

both_backends!(publishing_stops_at_a_failure_and_the_rest_is_retried_at_once);
fn publishing_stops_at_a_failure_and_the_rest_is_retried_at_once() {
    let store = memory_store();
    things(&store, &["a", "b", "c"]);
    create_job(&store, "j", job_for(&["a", "b", "c"]), noon());
    assert_eq!(store.outbox_len().unwrap(), 6);
    let mut sent = Vec::new();
    let outcome = store
        .publish_outbox(noon(), 2, 100, |topic, _| {
            if sent.len() == 3 {
                return Err("broker down");
            }
            sent.push(topic.to_owned());
            Ok(())
        })
        .unwrap();
    assert_eq!(outcome.count, 3);
    assert_eq!(outcome.failure.as_deref(), Some("broker down"));
    assert_eq!(store.outbox_len().unwrap(), 3);
    let outcome = store
        .publish_outbox(noon(), 2, 100, |topic, _| {
            sent.push(topic.to_owned());
            Ok::<(), String>(())
        })
        .unwrap();
    assert_eq!((outcome.count, outcome.failure), (3, None));
    assert_eq!(store.outbox_len().unwrap(), 0);
    assert_eq!(sent.len(), 6, "each message sent once");
    assert!(
        sent[0].ends_with("/a/jobs/notify"),
        "oldest first: {sent:?}"
    );
}

both_backends!(deleting_a_thing_removes_its_open_executions);
fn deleting_a_thing_removes_its_open_executions() {
    let store = memory_store();
    things(&store, &["a", "b"]);
    create_job(&store, "j", job_for(&["a", "b"]), noon());
    store.delete_thing("a", noon()).unwrap();
    assert!(store.thing("a").unwrap().is_none());
    assert_eq!(
        store.execution("j", "a", None).unwrap().unwrap().status,
        Removed
    );
    assert_eq!(
        store.execution("j", "b", None).unwrap().unwrap().status,
        Queued
    );
    assert_eq!(
        store.status_counts("j").unwrap(),
        store.recount("j").unwrap()
    );
    assert!(store.delete_thing("a", noon()).is_err());
}
