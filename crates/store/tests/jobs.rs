#[macro_use]
mod common;

use common::*;
use fleetjobs_core::job::CreateJob;
use fleetjobs_core::model::{ExecutionStatus, JobStatus, JobType};
use fleetjobs_core::Rejection;
use fleetjobs_store::Error;
use fleetjobs_store::JobQuery;
use serde_json::json;

fn seed_body() -> serde_json::Value {
    // The reference CreateJob body (docs/control-plane.md#createjob), verbatim.
    serde_json::from_str(
        r#"{
"description": "Firmware update to v2.1.5",
"targets": {
"thingGroupNames": ["com.example.thermostat (default)"]
},
"document": {
"action": "updateFirmware",
"params": {
"version": "2.1.5",
"url": "https://firmware.example.com/thermostat-v2.1.5.bin"
}
}
}"#,
    )
    .unwrap()
}

both_backends!(seed_job_queues_and_notifies_every_group_member_in_one_transaction);
fn seed_job_queues_and_notifies_every_group_member_in_one_transaction() {
    let store = memory_store();
    group(
        &store,
        "com.example.thermostat (default)",
        &["t1", "t2", "t3"],
    );
    let job = create_job(&store, "fw-215", seed_body(), noon());
    assert_eq!(job.status, JobStatus::InProgress);
    assert_eq!(job.job_type, JobType::Snapshot);
    let counts = store.status_counts("fw-215").unwrap();
    assert_eq!(counts.get(ExecutionStatus::Queued), 3);
    assert_eq!(counts, store.recount("fw-215").unwrap());

    let messages = drain_outbox(&store);
    assert_eq!(messages.len(), 6, "{messages:?}");
    for (thing, pair) in ["t1", "t2", "t3"].iter().zip(messages.chunks(2)) {
        assert_eq!(pair[0].0, format!("$emqx/things/{thing}/jobs/notify"));
        assert_eq!(pair[0].1["jobs"]["QUEUED"][0]["jobId"], "fw-215");
        assert_eq!(pair[1].0, format!("$emqx/things/{thing}/jobs/notify-next"));
        let execution = &pair[1].1["execution"];
        assert_eq!(execution["status"], "QUEUED");
        assert_eq!(execution["jobDocument"]["params"]["version"], "2.1.5");
    }
}

both_backends!(a_refused_job_writes_nothing);
fn a_refused_job_writes_nothing() {
    let store = memory_store();
    things(&store, &["t1"]);
    let unknown_thing: CreateJob = serde_json::from_value(job_for(&["t1", "ghost"])).unwrap();
    let err = store
        .create_job(unknown_thing, "j1".into(), noon())
        .unwrap_err();
    assert!(
        matches!(&err, Error::Rejected(Rejection::ResourceNotFound(m)) if m.contains("ghost")),
        "{err:?}"
    );
    let unknown_group: CreateJob =
        serde_json::from_value(json!({"targets": {"thingGroupNames": ["nope"]}, "document": {}}))
            .unwrap();
    assert!(store
        .create_job(unknown_group, "j1".into(), noon())
        .is_err());
    assert!(store.job("j1").unwrap().is_none());
    assert_eq!(store.outbox_len().unwrap(), 0);
    assert_eq!(store.execution("j1", "t1", None).unwrap(), None);

    create_job(&store, "j1", job_for(&["t1"]), noon());
    let again: CreateJob = serde_json::from_value(job_for(&["t1"])).unwrap();
    let err = store.create_job(again, "j1".into(), noon()).unwrap_err();
    assert!(
        matches!(err, Error::Rejected(Rejection::Conflict(_))),
        "{err:?}"
    );
    assert_eq!(
        store
            .status_counts("j1")
            .unwrap()
            .get(ExecutionStatus::Queued),
        1
    );
}

both_backends!(paced_rollout_releases_at_the_rate_and_keeps_the_rest_queued);
fn paced_rollout_releases_at_the_rate_and_keeps_the_rest_queued() {
    let store = memory_store();
    let names: Vec<String> = (0..250).map(|i| format!("t{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    group(&store, "fleet", &refs);
    let mut body = json!({"targets": {"thingGroupNames": ["fleet"]}, "document": {}});
    body["jobExecutionsRolloutConfig"] = json!({"maximumPerMinute": 100});
    let job = create_job(&store, "paced", body, noon());
    assert_eq!(job.rollout.released, 100);
    assert_eq!(job.rollout.pending_targets, 150);
    assert_eq!(
        store.recount("paced").unwrap().get(ExecutionStatus::Queued),
        100
    );

    let same_minute = store.release_job("paced", noon().plus_minutes(0)).unwrap();
    assert_eq!(same_minute.rollout.released, 100);
    let next_minute = store.release_job("paced", noon().plus_minutes(1)).unwrap();
    assert_eq!(next_minute.rollout.released, 200);
    let last = store.release_job("paced", noon().plus_minutes(2)).unwrap();
    assert_eq!(last.rollout.released, 250);
    assert_eq!(last.rollout.pending_targets, 0);
    assert_eq!(
        store.recount("paced").unwrap().get(ExecutionStatus::Queued),
        250
    );
    assert_eq!(
        store.status_counts("paced").unwrap(),
        store.recount("paced").unwrap()
    );
}

both_backends!(list_jobs_filters_and_pages_newest_first);
fn list_jobs_filters_and_pages_newest_first() {
    let store = memory_store();
    group(&store, "g", &["t1"]);
    for i in 0..12 {
        let mut body = if i % 3 == 0 {
            json!({"targets": {"thingGroupNames": ["g"]}, "document": {}})
        } else {
            job_for(&["t1"])
        };
        if i % 2 == 0 {
            body["jobType"] = json!("CONTINUOUS");
        }
        create_job(&store, &format!("job{i:02}"), body, noon().plus_minutes(i));
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .list_jobs(&JobQuery {
                limit: 5,
                next_token: token.clone(),
                ..Default::default()
            })
            .unwrap();
        seen.extend(page.items.iter().map(|j| j.job_id.clone()));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    let expected: Vec<String> = (0..12).rev().map(|i| format!("job{i:02}")).collect();
    assert_eq!(seen, expected);

    let continuous = store
        .list_jobs(&JobQuery {
            job_type: Some(JobType::Continuous),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(continuous.items.len(), 6);
    let in_group = store
        .list_jobs(&JobQuery {
            thing_group_name: Some("g".into()),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(in_group.items.len(), 4);
    let bad = store.list_jobs(&JobQuery {
        limit: 5,
        next_token: Some("zz".into()),
        ..Default::default()
    });
    assert!(matches!(
        bad,
        Err(Error::Rejected(Rejection::InvalidRequest(_)))
    ));
}

both_backends!(update_and_associate_targets);
fn update_and_associate_targets() {
    let store = memory_store();
    group(&store, "g", &["a"]);
    things(&store, &["b"]);
    create_job(
        &store,
        "cont",
        json!({"jobType": "CONTINUOUS", "targets": {"thingGroupNames": ["g"]}, "document": {},
               "jobExecutionsRetryConfig": {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 2}]}}),
        noon(),
    );
    let update: fleetjobs_core::job::UpdateJob =
        serde_json::from_value(json!({"description": "new", "jobExecutionsRetryConfig":
            {"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 5}]}}))
        .unwrap();
    let err = store.update_job("cont", update, noon()).unwrap_err();
    assert!(
        matches!(err, Error::Rejected(Rejection::InvalidRequest(_))),
        "{err:?}"
    );
    assert_eq!(
        store.job("cont").unwrap().unwrap().description,
        None,
        "nothing written"
    );
    let update: fleetjobs_core::job::UpdateJob =
        serde_json::from_value(json!({"description": "new"})).unwrap();
    assert_eq!(
        store
            .update_job("cont", update, noon())
            .unwrap()
            .description
            .as_deref(),
        Some("new")
    );

    let extra = fleetjobs_core::model::Targets {
        thing_names: vec!["b".into()],
        thing_group_names: vec![],
    };
    let job = store.associate_targets("cont", &extra, noon()).unwrap();
    assert!(job.targets.thing_names.contains(&"b".to_string()));
    assert_eq!(
        store.execution("cont", "b", None).unwrap().unwrap().status,
        ExecutionStatus::Queued
    );
    store.associate_targets("cont", &extra, noon()).unwrap();
    assert_eq!(
        store
            .status_counts("cont")
            .unwrap()
            .get(ExecutionStatus::Queued),
        2,
        "no second execution"
    );
}
