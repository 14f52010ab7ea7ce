//! Helpers shared by the integration tests. Each test file includes this with
//! `mod common;` and uses only part of it.
#![allow(dead_code)]

use fleetjobs_core::job::CreateJob;
use fleetjobs_core::{Execution, ExecutionStatus, Job, Timestamp};

/// The seed's CreateJob body, verbatim.
pub const SEED_BODY: &str = r#"{"description":"Firmware update to v2.1.5","targets":{"thingGroupNames":["com.example.thermostat (default)"]},"document":{"action":"updateFirmware","params":{"version":"2.1.5","url":"https://firmware.example.com/thermostat-v2.1.5.bin"}}}"#;

/// `2026-11-26T{hh:mm}:00Z`.
pub fn at(hh_mm: &str) -> Timestamp {
    Timestamp::parse(&format!("2026-11-26T{hh_mm}:00Z")).expect("a valid time")
}

pub fn noon() -> Timestamp {
    at("12:00")
}

/// A job from a CreateJob body given as JSON, created at `now`.
pub fn job_at(body: serde_json::Value, id: &str, now: Timestamp) -> Job {
    let request: CreateJob = serde_json::from_value(body).expect("a well-formed CreateJob body");
    request
        .into_job(id.to_owned(), now)
        .expect("a valid CreateJob body")
}

/// The seed body plus the given extra top-level fields, created at noon.
pub fn job_with(extra: serde_json::Value) -> Job {
    let mut body: serde_json::Value = serde_json::from_str(SEED_BODY).unwrap();
    let object = body.as_object_mut().unwrap();
    if let serde_json::Value::Object(extra) = extra {
        object.extend(extra);
    }
    job_at(body, "job-1", noon())
}

/// An execution of `job-1` on `thing-1` that is in `status`, as the core
/// would have left it: QUEUED at version 1, everything else at version 3.
pub fn execution_in(status: ExecutionStatus) -> Execution {
    let queued_at = at("11:00");
    let mut e = Execution::queued("job-1", "thing-1", queued_at);
    if status != ExecutionStatus::Queued {
        e.status = status;
        e.version_number = 3;
        e.started_at = Some(at("11:10"));
        e.last_updated_at = at("11:20");
        e.status_details
            .insert("progress".to_owned(), "half".to_owned());
    }
    e
}

pub fn details(pairs: &[(&str, &str)]) -> fleetjobs_core::model::StatusDetails {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
