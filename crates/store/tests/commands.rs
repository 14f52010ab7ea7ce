//! Commands in the store: sending writes the command and its request in one
//! transaction, responses go through the core, the sweeper times out what is
//! due and purges what is old, a device answers only its own commands.

#[macro_use]
mod common;

use common::{drain_outbox, memory_store, noon, things, TestDb, TestStore};
use fleetjobs_core::device_command::{CommandStatus, DeviceResponse, SendCommand};
use fleetjobs_core::time::DAY_MS;
use fleetjobs_core::{Rejection, Timestamp};
use fleetjobs_store::{CommandQuery, Error, SweepOptions};
use serde_json::json;

fn send(store: &TestStore, id: &str, thing: &str, ttl: i64, now: Timestamp) -> String {
    let request: SendCommand = serde_json::from_value(
        json!({"thingName": thing, "action": "setTemperature", "params": {"value": 24}, "ttl": ttl}),
    )
    .unwrap();
    store
        .send_command(request, id.to_owned(), now)
        .unwrap()
        .execution_id
}

fn response(body: serde_json::Value) -> DeviceResponse {
    serde_json::from_value(body).unwrap()
}

fn at(seconds: i64) -> Timestamp {
    Timestamp(noon().0 + seconds * 1000)
}

fn code(error: Error) -> &'static str {
    match error {
        Error::Rejected(rejection) => rejection.device_code(),
        other => panic!("not a rejection: {other}"),
    }
}

fn count(store: &TestStore) -> usize {
    store
        .list_commands(&CommandQuery {
            limit: 100,
            ..CommandQuery::default()
        })
        .unwrap()
        .items
        .len()
}

both_backends!(sending_writes_the_command_and_its_request_together);
fn sending_writes_the_command_and_its_request_together() {
    let store = memory_store();
    things(&store, &["dev-1"]);
    drain_outbox(&store);
    send(&store, "e1", "dev-1", 30, noon());
    let command = store.existing_command("e1").unwrap();
    assert_eq!(command.status, CommandStatus::Sent);
    assert_eq!(command.version_number, 1);
    let messages = drain_outbox(&store);
    assert_eq!(
        messages,
        [(
            "$emqx/commands/things/dev-1/executions/e1/request".to_owned(),
            json!({"commandId": "e1", "action": "setTemperature", "params": {"value": 24},
                   "timestamp": noon().as_secs(), "ttl": 30})
        )]
    );

    // Refused requests write nothing: no row, no message.
    let refuse = |body: serde_json::Value| {
        let request: SendCommand = serde_json::from_value(body).unwrap();
        code(
            store
                .send_command(request, "e2".into(), noon())
                .unwrap_err(),
        )
    };
    assert_eq!(
        refuse(json!({"thingName": "nobody", "action": "a"})),
        "ResourceNotFound"
    );
    assert_eq!(
        refuse(json!({"thingName": "dev-1", "action": ""})),
        "InvalidRequest"
    );
    assert_eq!(
        refuse(json!({"thingName": "dev-1", "action": "a", "ttl": 0})),
        "InvalidRequest"
    );
    assert_eq!(
        refuse(json!({"thingName": "dev-1", "action": "a", "params": [1]})),
        "InvalidRequest"
    );
    assert_eq!(count(&store), 1);
    assert!(drain_outbox(&store).is_empty());
}

both_backends!(responses_move_the_command_and_a_device_answers_only_its_own);
fn responses_move_the_command_and_a_device_answers_only_its_own() {
    let store = memory_store();
    things(&store, &["dev-1", "dev-2"]);
    send(&store, "e1", "dev-1", 30, noon());
    assert_eq!(
        code(
            store
                .command_response(
                    "dev-2",
                    "e1",
                    &response(json!({"status": "SUCCEEDED"})),
                    at(1)
                )
                .unwrap_err()
        ),
        "ResourceNotFound"
    );
    let started = store
        .command_response(
            "dev-1",
            "e1",
            &response(json!({"status": "IN_PROGRESS"})),
            at(1),
        )
        .unwrap();
    assert_eq!(started.status, CommandStatus::InProgress);
    let done = store
        .command_response(
            "dev-1",
            "e1",
            &response(json!({"status": "SUCCEEDED", "result": {"currentTemperature": 24}})),
            at(2),
        )
        .unwrap();
    assert_eq!(done.status, CommandStatus::Succeeded);
    assert_eq!(done.version_number, 3);
    let stored = store.existing_command("e1").unwrap();
    assert_eq!(stored, done);
    assert_eq!(stored.result.unwrap()["currentTemperature"], 24);
    assert_eq!(
        code(
            store
                .command_response("dev-1", "e1", &response(json!({"status": "FAILED"})), at(3))
                .unwrap_err()
        ),
        "TerminalStateReached"
    );
    assert_eq!(
        store.existing_command("e1").unwrap().status,
        CommandStatus::Succeeded
    );
}

both_backends!(cancel_and_delete);
fn cancel_and_delete() {
    let store = memory_store();
    things(&store, &["dev-1"]);
    send(&store, "e1", "dev-1", 30, noon());
    assert_eq!(
        code(store.delete_command("e1").unwrap_err()),
        "InvalidStateTransition"
    );
    let canceled = store.cancel_command("e1", at(1)).unwrap();
    assert_eq!(canceled.status, CommandStatus::Canceled);
    assert_eq!(
        code(store.cancel_command("e1", at(2)).unwrap_err()),
        "InvalidStateTransition"
    );
    assert_eq!(
        code(
            store
                .command_response(
                    "dev-1",
                    "e1",
                    &response(json!({"status": "SUCCEEDED"})),
                    at(2)
                )
                .unwrap_err()
        ),
        "TerminalStateReached"
    );
    store.delete_command("e1").unwrap();
    assert!(store.command("e1").unwrap().is_none());
    assert!(matches!(
        store.delete_command("e1").unwrap_err(),
        Error::Rejected(Rejection::ResourceNotFound(_))
    ));
}

both_backends!(the_sweeper_times_out_due_commands_and_purges_old_ones);
fn the_sweeper_times_out_due_commands_and_purges_old_ones() {
    let store = memory_store();
    things(&store, &["dev-1"]);
    send(&store, "short", "dev-1", 5, noon());
    send(&store, "long", "dev-1", 60, noon());
    let options = SweepOptions::default();
    let report = store.sweep(at(4), &options).unwrap();
    assert_eq!(report.commands_timed_out, 0);
    let report = store.sweep(at(5), &options).unwrap();
    assert_eq!(report.commands_timed_out, 1);
    let short = store.existing_command("short").unwrap();
    assert_eq!(short.status, CommandStatus::TimedOut);
    assert_eq!(short.completed_at, Some(at(5)));
    assert_eq!(
        store.existing_command("long").unwrap().status,
        CommandStatus::Sent
    );
    // Nothing else is due: a second pass does nothing.
    assert_eq!(store.sweep(at(5), &options).unwrap().commands_timed_out, 0);

    // A response past the TTL times the command out at once and is refused.
    assert_eq!(
        code(
            store
                .command_response(
                    "dev-1",
                    "long",
                    &response(json!({"status": "SUCCEEDED"})),
                    at(61)
                )
                .unwrap_err()
        ),
        "TerminalStateReached"
    );
    assert_eq!(
        store.existing_command("long").unwrap().status,
        CommandStatus::TimedOut
    );

    let later = Timestamp(at(5).0 + options.retention_ms);
    assert_eq!(store.sweep(later, &options).unwrap().commands_expired, 0);
    let report = store.sweep(Timestamp(later.0 + DAY_MS), &options).unwrap();
    assert_eq!(report.commands_expired, 2);
    assert_eq!(count(&store), 0);
}

both_backends!(list_newest_first_with_filters_and_pages);
fn list_newest_first_with_filters_and_pages() {
    let store = memory_store();
    things(&store, &["dev-1", "dev-2"]);
    for i in 0..5 {
        let thing = if i % 2 == 0 { "dev-1" } else { "dev-2" };
        send(&store, &format!("e{i}"), thing, 30, at(i));
    }
    store.cancel_command("e4", at(10)).unwrap();
    let ids = |query: CommandQuery| -> Vec<String> {
        let mut ids = Vec::new();
        let mut query = query;
        loop {
            let page = store.list_commands(&query).unwrap();
            ids.extend(page.items.into_iter().map(|c| c.execution_id));
            match page.next_token {
                Some(token) => query.next_token = Some(token),
                None => return ids,
            }
        }
    };
    assert_eq!(
        ids(CommandQuery {
            limit: 2,
            ..CommandQuery::default()
        }),
        ["e4", "e3", "e2", "e1", "e0"]
    );
    assert_eq!(
        ids(CommandQuery {
            thing_name: Some("dev-1".into()),
            limit: 1,
            ..CommandQuery::default()
        }),
        ["e4", "e2", "e0"]
    );
    assert_eq!(
        ids(CommandQuery {
            thing_name: Some("dev-1".into()),
            status: Some(CommandStatus::Sent),
            limit: 10,
            ..CommandQuery::default()
        }),
        ["e2", "e0"]
    );
    let bad = store.list_commands(&CommandQuery {
        limit: 10,
        next_token: Some("zz".into()),
        ..CommandQuery::default()
    });
    assert_eq!(code(bad.unwrap_err()), "InvalidRequest");
}

both_backends!(racing_sweepers_and_responses_apply_each_command_once);
/// Two sweepers and a device answering at once, on separate connections:
/// every command ends in exactly one terminal status, reached once (its
/// version moves SENT 1 → terminal 2), and each pass counts only what it did.
fn racing_sweepers_and_responses_apply_each_command_once() {
    use std::sync::{Arc, Barrier};

    const COMMANDS: usize = 200;
    let db = TestDb::new();
    let setup = db.store();
    things(&setup, &["dev-1"]);
    for i in 0..COMMANDS {
        send(&setup, &format!("e{i:03}"), "dev-1", 5, noon());
    }
    let open = || db.connect();
    let barrier = Arc::new(Barrier::new(3));
    let sweepers: Vec<_> = (0..2)
        .map(|_| {
            let (store, barrier) = (open(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let options = SweepOptions {
                    timeouts: 7,
                    ..SweepOptions::default()
                };
                let mut timed_out = 0;
                for _ in 0..COMMANDS {
                    timed_out += store.sweep(at(5), &options).unwrap().commands_timed_out;
                }
                timed_out
            })
        })
        .collect();
    let device = {
        let (store, barrier) = (open(), barrier.clone());
        std::thread::spawn(move || {
            barrier.wait();
            let mut succeeded = 0;
            for i in (0..COMMANDS).rev() {
                // At the TTL's last moment: whoever writes first wins.
                match store.command_response(
                    "dev-1",
                    &format!("e{i:03}"),
                    &response(json!({"status": "SUCCEEDED"})),
                    at(4),
                ) {
                    Ok(_) => succeeded += 1,
                    Err(Error::Rejected(Rejection::TerminalStateReached(_))) => {}
                    Err(other) => panic!("unexpected: {other}"),
                }
            }
            succeeded
        })
    };
    let timed_out: usize = sweepers.into_iter().map(|t| t.join().unwrap()).sum();
    let succeeded = device.join().unwrap();
    assert_eq!(timed_out + succeeded, COMMANDS);
    let all = setup
        .list_commands(&CommandQuery {
            limit: 250,
            ..CommandQuery::default()
        })
        .unwrap()
        .items;
    assert_eq!(all.len(), COMMANDS);
    for command in all {
        assert!(command.status.is_terminal(), "{command:?}");
        assert_eq!(command.version_number, 2, "{command:?}");
    }
}
