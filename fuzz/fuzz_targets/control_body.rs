//! Control-plane bodies: CreateJob, UpdateJob, CancelJob, as the API parses
//! and the core validates them. A body is a job or a 4xx, never a panic.
#![no_main]

use fleetjobs_api::request::json_body;
use fleetjobs_core::job::{CancelJob, CreateJob, UpdateJob};
use fleetjobs_core::Timestamp;
use libfuzzer_sys::fuzz_target;

const NOW: Timestamp = Timestamp(1_800_000_000_000);

fuzz_target!(|body: &[u8]| {
    match json_body::<CreateJob>(body) {
        Ok(create) => {
            if let Ok(job) = create.into_job("generated".into(), NOW) {
                if let Ok(update) = json_body::<UpdateJob>(body) {
                    let _ = job.update(update, NOW);
                }
                if let Ok(cancel) = json_body::<CancelJob>(body) {
                    let _ = job.cancel(&cancel, NOW);
                }
            }
        }
        Err(error) => assert!((400..500).contains(&error.status), "{error:?}"),
    }
});
