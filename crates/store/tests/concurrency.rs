//! Many connections updating one execution with expectedVersion: exactly one
//! update wins per version and none is lost.

#[macro_use]
mod common;

use std::sync::{Arc, Barrier};

use common::*;
use fleetjobs_core::execution::DeviceUpdate;
use fleetjobs_core::model::ExecutionStatus;
use fleetjobs_core::Rejection;
use fleetjobs_store::Error;

const THREADS: usize = 8;
const ATTEMPTS: usize = 60;

both_backends!(store_concurrency_expected_version_lets_exactly_one_writer_win_per_version);
fn store_concurrency_expected_version_lets_exactly_one_writer_win_per_version() {
    let db = TestDb::new();
    let setup = db.store();
    things(&setup, &["dev"]);
    create_job(&setup, "j", job_for(&["dev"]), noon());
    setup.start_next("dev", None, None, noon()).unwrap();

    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let db = db.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let store = db.connect();
                barrier.wait();
                let mut won = Vec::new();
                let mut lost = 0;
                for attempt in 0..ATTEMPTS {
                    let seen = store.execution("j", "dev", None).unwrap().unwrap();
                    let mut update = DeviceUpdate::to(ExecutionStatus::InProgress);
                    update.expected_version = Some(seen.version_number);
                    update.status_details =
                        Some([("by".to_string(), format!("{thread}-{attempt}"))].into());
                    match store.device_update("dev", "j", None, &update, noon()) {
                        Ok(next) => {
                            assert_eq!(next.version_number, seen.version_number + 1);
                            won.push(seen.version_number);
                        }
                        Err(Error::Rejected(Rejection::VersionMismatch { .. })) => lost += 1,
                        Err(other) => panic!("unexpected error: {other:?}"),
                    }
                }
                (won, lost)
            })
        })
        .collect();

    let mut won: Vec<i64> = Vec::new();
    let mut lost = 0;
    for handle in handles {
        let (w, l) = handle.join().unwrap();
        won.extend(w);
        lost += l;
    }
    won.sort();
    let wins = won.len();
    won.dedup();
    assert_eq!(won.len(), wins, "two writers won the same version");
    assert_eq!(wins + lost, THREADS * ATTEMPTS);
    let last = setup.execution("j", "dev", None).unwrap().unwrap();
    // Version 2 after start-next, then one bump per winning update: none lost.
    assert_eq!(last.version_number, 2 + wins as i64);
    assert_eq!(won, (2..2 + wins as i64).collect::<Vec<_>>());
    println!("{wins} updates won, {lost} refused with VersionMismatch");
}
