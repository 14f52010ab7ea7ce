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

both_backends!(devices_and_sweepers_at_once_apply_every_change_once);
/// Devices (four threads, each sending every request, as a broker
/// delivering each message to several replicas would) and two sweepers
/// (timeouts with retries, ticks) on one job, each on its own connection,
/// the clock moving: every clientToken is applied once (its repeats get
/// its first reply), no two changes of an execution start from the same
/// version, every version is accounted for (versions contiguous: each
/// execution's version is one more than its changes), the counters equal a
/// recount, and no unit of work fails for concurrency's sake (no
/// "changed concurrently", no deadlock).
fn devices_and_sweepers_at_once_apply_every_change_once() {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

    use fleetjobs_core::model::ExecutionStatus::{Failed, InProgress, Succeeded};
    use fleetjobs_store::{ExecutionQuery, Sql, SweepOptions};

    const DEVICES: usize = 4;
    const THINGS: usize = 12;
    const ROUNDS: usize = 6;
    let names: Vec<String> = (0..THINGS).map(|i| format!("t{i:02}")).collect();
    let db = TestDb::new();
    let setup = db.store();
    things(
        &setup,
        &names.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut body = job_for(&names.iter().map(String::as_str).collect::<Vec<_>>());
    body["timeoutConfig"] = serde_json::json!({"inProgressTimeoutInMinutes": 1});
    body["jobExecutionsRetryConfig"] = serde_json::json!({"criteriaList": [
        {"failureType": "FAILED", "numberOfRetries": 5},
        {"failureType": "TIMED_OUT", "numberOfRetries": 5}
    ]});
    create_job(&setup, "j", body, noon());

    let minutes = Arc::new(AtomicI64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(DEVICES + 2));
    let devices: Vec<_> = (0..DEVICES)
        .map(|device| {
            let (db, barrier, minutes, names) =
                (db.clone(), barrier.clone(), minutes.clone(), names.clone());
            std::thread::spawn(move || {
                let store = db.connect();
                barrier.wait();
                // token → Ok(reply) | Err(rejection)
                let mut answers: Vec<(String, Result<String, String>)> = Vec::new();
                for round in 0..ROUNDS {
                    for step in 0..3 {
                        for i in 0..names.len() {
                            // Each device its own order, so they collide everywhere.
                            let thing = &names[(i * (device + 1) + round) % names.len()];
                            let token = format!("{thing}-{round}-{step}");
                            let status = match (step, (round + i) % 3) {
                                (0 | 1, _) => InProgress,
                                (_, 0) => Failed,
                                _ => Succeeded,
                            };
                            let mut update = DeviceUpdate::to(status);
                            update.status_details =
                                Some([("token".to_string(), token.clone())].into());
                            let now = noon().plus_minutes(minutes.load(Ordering::SeqCst));
                            let answer = store.apply_once(thing, Some(&token), now, |store| {
                                let next = store.device_update(thing, "j", None, &update, now)?;
                                Ok(format!(
                                    "{}/{}/{}",
                                    next.thing_name, next.execution_number, next.version_number
                                ))
                            });
                            let answer = match answer {
                                Ok(reply) => Ok(reply),
                                Err(Error::Rejected(
                                    rejection @ (Rejection::InvalidStateTransition { .. }
                                    | Rejection::TerminalStateReached(_)),
                                )) => Err(format!("{rejection:?}")),
                                Err(other) => panic!("{token}: unexpected error: {other:?}"),
                            };
                            answers.push((token, answer));
                        }
                    }
                }
                answers
            })
        })
        .collect();
    let sweepers: Vec<_> = (0..2)
        .map(|sweeper| {
            let (db, barrier, minutes, done) =
                (db.clone(), barrier.clone(), minutes.clone(), done.clone());
            std::thread::spawn(move || {
                let store = db.connect();
                barrier.wait();
                let mut timed_out = 0;
                while !done.load(Ordering::SeqCst) {
                    if sweeper == 0 {
                        minutes.fetch_add(1, Ordering::SeqCst);
                    }
                    let now = noon().plus_minutes(minutes.load(Ordering::SeqCst));
                    timed_out += store
                        .sweep(now, &SweepOptions::default())
                        .unwrap()
                        .timed_out;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                timed_out
            })
        })
        .collect();
    let answers: Vec<_> = devices
        .into_iter()
        .flat_map(|d| d.join().unwrap())
        .collect();
    done.store(true, Ordering::SeqCst);
    let timed_out: usize = sweepers.into_iter().map(|s| s.join().unwrap()).sum();

    // Every token's successful answers are its one reply.
    let mut replies: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (token, answer) in &answers {
        if let Ok(reply) = answer {
            replies
                .entry(token.clone())
                .or_default()
                .insert(reply.clone());
        }
    }
    for (token, reply) in &replies {
        assert_eq!(reply.len(), 1, "{token} applied more than once: {reply:?}");
    }
    // No two changes of an execution reached the same version.
    let applied: Vec<&String> = replies.values().flatten().collect();
    let distinct: BTreeSet<&String> = applied.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        applied.len(),
        "two changes from one version"
    );
    let remembered = setup
        .sql()
        .query("SELECT COUNT(*) FROM device_requests", &[])
        .unwrap();
    assert_eq!(
        remembered[0][0],
        fleetjobs_store::Value::Integer(replies.len() as i64)
    );

    // Versions contiguous: each execution is at 1 + its changes, and the
    // changes are the applied device updates plus the sweepers' timeouts.
    let executions = setup
        .executions_of_job(
            "j",
            &ExecutionQuery {
                limit: 100_000,
                ..ExecutionQuery::default()
            },
        )
        .unwrap()
        .items;
    let changes: i64 = executions.iter().map(|e| e.version_number - 1).sum();
    assert_eq!(changes, (replies.len() + timed_out) as i64);
    assert_eq!(
        setup.status_counts("j").unwrap(),
        setup.recount("j").unwrap()
    );
    println!(
        "{} device changes, {} repeats answered from memory, {timed_out} timeouts, {} executions",
        replies.len(),
        answers.iter().filter(|(_, a)| a.is_ok()).count() - replies.len(),
        executions.len()
    );
}

both_backends!(things_joining_a_group_while_jobs_are_created_for_it_get_every_job);
/// Continuous jobs created for a group while things join it, on two
/// connections: whichever commits first, every member ends with an
/// execution of every job (the creation sees the member or the joining
/// sees the job, never neither).
fn things_joining_a_group_while_jobs_are_created_for_it_get_every_job() {
    const JOBS: usize = 8;
    const MEMBERS: usize = 24;
    let db = TestDb::new();
    let setup = db.store();
    let names: Vec<String> = (0..MEMBERS).map(|i| format!("m{i:02}")).collect();
    things(
        &setup,
        &names.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    setup.insert_group("g", None, noon()).unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let creator = {
        let (db, barrier) = (db.clone(), barrier.clone());
        std::thread::spawn(move || {
            let store = db.connect();
            barrier.wait();
            for i in 0..JOBS {
                let body = serde_json::json!({
                    "targets": {"thingGroupNames": ["g"]},
                    "targetSelection": "CONTINUOUS",
                    "document": {"v": i}
                });
                create_job(&store, &format!("c{i}"), body, noon());
            }
        })
    };
    let joiner = {
        let (db, barrier, names) = (db.clone(), barrier.clone(), names.clone());
        std::thread::spawn(move || {
            let store = db.connect();
            barrier.wait();
            for name in &names {
                store.add_thing_to_group("g", name, noon()).unwrap();
            }
        })
    };
    creator.join().unwrap();
    joiner.join().unwrap();
    for i in 0..JOBS {
        let job = format!("c{i}");
        release_all(&setup, &job, noon());
        for name in &names {
            assert!(
                setup.execution(&job, name, None).unwrap().is_some(),
                "{name} has no execution of {job}"
            );
        }
        assert_eq!(
            setup.status_counts(&job).unwrap(),
            setup.recount(&job).unwrap()
        );
    }
}
