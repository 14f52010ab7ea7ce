#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;

use fleetjobs_core::job::CreateJob;
use fleetjobs_core::{Job, Timestamp};
use fleetjobs_store::backend::native::NativeSql;
use fleetjobs_store::{Store, StoreOptions};

pub fn noon() -> Timestamp {
    Timestamp::parse("2026-11-26T12:00:00Z").unwrap()
}

pub fn memory_store() -> Store<NativeSql> {
    let store = Store::new(
        NativeSql::open_in_memory().unwrap(),
        StoreOptions::default(),
    );
    store.migrate(noon()).unwrap();
    store
}

/// A store on a file, so several connections can share it.
pub fn file_store(dir: &tempfile::TempDir) -> Store<NativeSql> {
    let store = Store::new(
        NativeSql::open(dir.path().join("fleetjobs.db")).unwrap(),
        StoreOptions::default(),
    );
    store.migrate(noon()).unwrap();
    store
}

pub fn things(store: &Store<NativeSql>, names: &[&str]) {
    for name in names {
        store
            .insert_thing(name, &BTreeMap::new(), "hash", noon())
            .unwrap();
    }
}

pub fn group(store: &Store<NativeSql>, group: &str, members: &[&str]) {
    store.insert_group(group, None, noon()).unwrap();
    things(store, members);
    for member in members {
        store.add_thing_to_group(group, member, noon()).unwrap();
    }
}

pub fn create_job(
    store: &Store<NativeSql>,
    id: &str,
    body: serde_json::Value,
    now: Timestamp,
) -> Job {
    let request: CreateJob = serde_json::from_value(body).unwrap();
    store.create_job(request, id.to_owned(), now).unwrap()
}

pub fn job_for(things: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "targets": {"thingNames": things},
        "document": {"action": "updateFirmware", "version": "2.1.5"}
    })
}

/// The outbox as (topic, payload JSON), oldest first; drains it.
pub fn drain_outbox(store: &Store<NativeSql>) -> Vec<(String, serde_json::Value)> {
    let mut messages = Vec::new();
    while let Some(claim) = store.claim_lane(noon(), 60_000, 100_000).unwrap() {
        store
            .release_lane(&claim, claim.messages.last().map(|m| m.id))
            .unwrap();
        messages.extend(claim.messages);
    }
    messages.sort_by_key(|m| m.id);
    messages
        .into_iter()
        .map(|m| (m.topic, serde_json::from_slice(&m.payload).unwrap()))
        .collect()
}

/// Sweeps until every target of `job_id` has its execution: CreateJob
/// releases the first batch, the sweeper the rest.
#[allow(dead_code)]
pub fn release_all(store: &Store<NativeSql>, job_id: &str, now: Timestamp) {
    while store.existing_job(job_id).unwrap().rollout.pending_targets > 0 {
        store
            .sweep(now, &fleetjobs_store::SweepOptions::default())
            .unwrap();
    }
}
