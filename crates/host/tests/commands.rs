//! Commands end to end (issue 17, docs/commands.md): the real host running
//! the repository's spin.toml, the managed mosquitto, and simulated devices
//! answering on EMQX Fleets' topics. Time-driven steps (the TTL) run on the
//! test clock, with the sweeper run on demand.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::fleet::*;
use common::*;
use fleetjobs_simulator::{CommandBehaviour, CommandDevice, Reply};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};

const PREFIX: &str = "$emqx/commands/things";
const WAIT: Duration = Duration::from_secs(30);

fn device(host: &Host, thing: &str, token: &str, behaviour: CommandBehaviour) -> CommandDevice {
    let url = host.printed("MQTT").expect("the host prints its broker");
    CommandDevice::connect(&url, PREFIX, thing, Some(token), behaviour, WAIT).unwrap()
}

fn send(host: &Host, body: Value) -> Value {
    api_ok(host, "POST", "/api/v1/commands", body, 201)
}

fn send_waiting(host: &Host, seconds: u64, body: Value) -> Value {
    api_ok(
        host,
        "POST",
        &format!("/api/v1/commands?wait={seconds}"),
        body,
        201,
    )
}

fn describe(host: &Host, id: &str) -> Value {
    api_ok(
        host,
        "GET",
        &format!("/api/v1/commands/{id}"),
        Value::Null,
        200,
    )
}

fn id(command: &Value) -> String {
    command["executionId"].as_str().unwrap().to_owned()
}

/// Waits until the command's status is `status`; returns the command.
fn status_becomes(host: &Host, id: &str, status: &str) -> Value {
    eventually(&format!("command {id} {status}"), || {
        let command = describe(host, id);
        (command["status"] == status).then_some(command)
    })
}

fn accepted(reply: Reply) -> Value {
    assert!(reply.accepted, "rejected: {} {}", reply.topic, reply.body);
    reply.body
}

fn rejected(reply: Reply, code: &str) -> Value {
    assert!(!reply.accepted, "accepted: {} {}", reply.topic, reply.body);
    assert_eq!(reply.body["code"], code, "{}", reply.body);
    reply.body
}

fn advance_seconds(host: &Host, seconds: u64) {
    let path = format!("/.well-known/fleetjobs/clock/advance?seconds={seconds}");
    let (status, body) = host.post(&path, "");
    assert_eq!(status, 200, "{body}");
}

fn list(host: &Host, query: &str) -> Vec<String> {
    let reply = api_ok(
        host,
        "GET",
        &format!("/api/v1/commands{query}"),
        Value::Null,
        200,
    );
    reply["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect()
}

#[test]
fn commands_succeed_fail_reject_progress_time_out_and_cancel() {
    let host = fleetjobs_on_test_clock();
    let ok = device(
        &host,
        "dev-ok",
        &create_thing(&host, "dev-ok"),
        CommandBehaviour::Succeed,
    );
    let fail = device(
        &host,
        "dev-fail",
        &create_thing(&host, "dev-fail"),
        CommandBehaviour::Fail,
    );
    let reject = device(
        &host,
        "dev-reject",
        &create_thing(&host, "dev-reject"),
        CommandBehaviour::Reject,
    );
    let progress = device(
        &host,
        "dev-progress",
        &create_thing(&host, "dev-progress"),
        CommandBehaviour::ProgressThenSucceed,
    );
    let manual = device(
        &host,
        "dev-manual",
        &create_thing(&host, "dev-manual"),
        CommandBehaviour::Manual,
    );

    // SENT, the request on the device's topic with EMQX Fleets' fields, then
    // SUCCEEDED with the device's result.
    let sent = send(
        &host,
        json!({"thingName": "dev-ok", "action": "setTemperature", "params": {"value": 24}, "ttl": 30}),
    );
    assert_eq!(sent["status"], "SENT", "{sent}");
    assert_eq!(sent["thingName"], "dev-ok");
    assert_eq!(sent["ttl"], 30);
    let request = ok.next_request(WAIT).unwrap();
    assert_eq!(
        request.topic,
        format!("{PREFIX}/dev-ok/executions/{}/request", id(&sent))
    );
    assert_eq!(request.body["commandId"], sent["executionId"]);
    assert_eq!(request.body["action"], "setTemperature");
    assert_eq!(request.body["params"], json!({"value": 24}));
    assert_eq!(request.body["ttl"], 30);
    let created = describe(&host, &id(&sent))["createdAt"].clone();
    let created_secs = chrono_secs(created.as_str().unwrap());
    assert_eq!(request.body["timestamp"], created_secs);
    let done = status_becomes(&host, &id(&sent), "SUCCEEDED");
    assert_eq!(done["result"]["action"], "setTemperature");
    assert_eq!(done["result"]["params"], json!({"value": 24}));
    assert!(done["completedAt"].is_string(), "{done}");

    // ?wait= answers with the terminal execution in the same call.
    let waited = send_waiting(
        &host,
        10,
        json!({"thingName": "dev-ok", "action": "unlock"}),
    );
    assert_eq!(waited["status"], "SUCCEEDED", "{waited}");
    assert_eq!(waited["result"]["action"], "unlock");
    assert_eq!(waited["ttl"], 30, "the default ttl");

    let failed = send_waiting(
        &host,
        10,
        json!({"thingName": "dev-fail", "action": "reboot"}),
    );
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert_eq!(failed["statusReason"]["reasonCode"], "DEVICE_ERROR");
    assert!(failed["statusReason"]["reasonDescription"].is_string());
    let refused = send_waiting(
        &host,
        10,
        json!({"thingName": "dev-reject", "action": "reboot"}),
    );
    assert_eq!(refused["status"], "REJECTED", "{refused}");
    assert_eq!(refused["statusReason"]["reasonCode"], "UNSUPPORTED_ACTION");
    let progressed = send_waiting(
        &host,
        10,
        json!({"thingName": "dev-progress", "action": "update"}),
    );
    assert_eq!(progressed["status"], "SUCCEEDED", "{progressed}");
    assert_eq!(
        progressed["versionNumber"], 3,
        "SENT, IN_PROGRESS, SUCCEEDED"
    );
    drop((fail, reject, progress));

    // IN_PROGRESS, seen between the two answers, then SUCCEEDED; the
    // service answers each on …/response/accepted.
    let slow = send(
        &host,
        json!({"thingName": "dev-manual", "action": "update"}),
    );
    let request = manual.next_request(WAIT).unwrap();
    assert_eq!(request.execution_id, id(&slow));
    manual
        .respond(&id(&slow), &json!({"status": "IN_PROGRESS"}))
        .unwrap();
    let reply = accepted(manual.next_reply(&id(&slow), WAIT).unwrap());
    assert_eq!(reply["status"], "IN_PROGRESS");
    assert_eq!(reply["executionId"], slow["executionId"]);
    assert_eq!(describe(&host, &id(&slow))["status"], "IN_PROGRESS");
    manual
        .respond(
            &id(&slow),
            &json!({"status": "SUCCEEDED", "result": {"version": "2.0"}}),
        )
        .unwrap();
    assert_eq!(
        accepted(manual.next_reply(&id(&slow), WAIT).unwrap())["status"],
        "SUCCEEDED"
    );
    assert_eq!(describe(&host, &id(&slow))["result"]["version"], "2.0");
    // A terminal command takes no more answers.
    manual
        .respond(&id(&slow), &json!({"status": "FAILED"}))
        .unwrap();
    rejected(
        manual.next_reply(&id(&slow), WAIT).unwrap(),
        "TerminalStateReached",
    );

    // Malformed answers are rejected in the device protocol's shape.
    manual
        .publish_raw(
            &format!("{PREFIX}/dev-manual/executions/{}/response", id(&slow)),
            b"{not json",
        )
        .unwrap();
    rejected(manual.next_reply(&id(&slow), WAIT).unwrap(), "InvalidJson");
    manual
        .respond("no-such-command", &json!({"status": "SUCCEEDED"}))
        .unwrap();
    rejected(
        manual.next_reply("no-such-command", WAIT).unwrap(),
        "ResourceNotFound",
    );

    // A device that never answers: TIMED_OUT after the TTL, and its late
    // answer is rejected.
    let ignored = send(
        &host,
        json!({"thingName": "dev-manual", "action": "reboot", "ttl": 5}),
    );
    manual.next_request(WAIT).unwrap();
    advance_seconds(&host, 4);
    sweep(&host);
    assert_eq!(describe(&host, &id(&ignored))["status"], "SENT");
    advance_seconds(&host, 2);
    sweep(&host);
    assert_eq!(describe(&host, &id(&ignored))["status"], "TIMED_OUT");
    manual
        .respond(&id(&ignored), &json!({"status": "SUCCEEDED"}))
        .unwrap();
    let late = rejected(
        manual.next_reply(&id(&ignored), WAIT).unwrap(),
        "TerminalStateReached",
    );
    assert!(
        late["message"].as_str().unwrap().contains("TIMED_OUT"),
        "{late}"
    );
    assert_eq!(describe(&host, &id(&ignored))["status"], "TIMED_OUT");

    // Cancel a SENT command; its answer is then rejected; a terminal one
    // cannot be canceled.
    let canceled = send(
        &host,
        json!({"thingName": "dev-manual", "action": "reboot"}),
    );
    manual.next_request(WAIT).unwrap();
    let path = format!("/api/v1/commands/{}", id(&canceled));
    // Not terminal yet: it cannot be deleted.
    let (status, body) = api(&host, "DELETE", &path, &Value::Null);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "InvalidStateTransition");
    let after = api_ok(&host, "POST", &format!("{path}/cancel"), Value::Null, 200);
    assert_eq!(after["status"], "CANCELED");
    let (status, body) = api(&host, "POST", &format!("{path}/cancel"), &Value::Null);
    assert_eq!(status, 409, "{body}");
    manual
        .respond(&id(&canceled), &json!({"status": "SUCCEEDED"}))
        .unwrap();
    rejected(
        manual.next_reply(&id(&canceled), WAIT).unwrap(),
        "TerminalStateReached",
    );
    assert_eq!(describe(&host, &id(&canceled))["status"], "CANCELED");

    // Lists: newest first, by thing and status.
    assert_eq!(
        list(&host, "?thingName=dev-manual"),
        [id(&canceled), id(&ignored), id(&slow)]
    );
    assert_eq!(
        list(&host, "?thingName=dev-manual&status=TIMED_OUT"),
        [id(&ignored)]
    );
    assert_eq!(list(&host, "?limit=100").len(), 8);
    let page = api_ok(&host, "GET", "/api/v1/commands?limit=2", Value::Null, 200);
    assert_eq!(page["commands"].as_array().unwrap().len(), 2);
    let token = page["nextToken"].as_str().unwrap();
    let next = list(&host, &format!("?limit=100&nextToken={token}"));
    assert_eq!(next.len(), 6);

    // Delete a terminal command: gone.
    api_ok(&host, "DELETE", &path, Value::Null, 204);
    let (status, body) = api(&host, "GET", &path, &Value::Null);
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "ResourceNotFound");
    let (status, _) = api(&host, "DELETE", &path, &Value::Null);
    assert_eq!(status, 404);
}

/// Epoch seconds of an RFC 3339 timestamp as the API writes it.
fn chrono_secs(text: &str) -> i64 {
    fleetjobs_core::Timestamp::parse(text).unwrap().as_secs()
}

#[test]
fn an_offline_device_gets_its_request_when_it_reconnects_within_the_ttl() {
    let host = fleetjobs_on_test_clock();
    let token = create_thing(&host, "dev-away");
    // The persistent session exists, then the device goes offline.
    device(&host, "dev-away", &token, CommandBehaviour::Manual).disconnect();

    let within = send(
        &host,
        json!({"thingName": "dev-away", "action": "unlock", "ttl": 30}),
    );
    let back = device(&host, "dev-away", &token, CommandBehaviour::Manual);
    let request = back.next_request(WAIT).unwrap();
    assert_eq!(request.execution_id, id(&within));
    back.respond(
        &id(&within),
        &json!({"status": "SUCCEEDED", "result": {"locked": false}}),
    )
    .unwrap();
    accepted(back.next_reply(&id(&within), WAIT).unwrap());
    assert_eq!(describe(&host, &id(&within))["status"], "SUCCEEDED");
    back.disconnect();

    // A simulated device drops a request whose timestamp + ttl has passed
    // by its own clock (the test clock has not moved yet: a 1 s ttl, the
    // device offline until it passed).
    let dropped = send(
        &host,
        json!({"thingName": "dev-away", "action": "unlock", "ttl": 1}),
    );
    let timestamp = describe(&host, &id(&dropped))["createdAt"]
        .as_str()
        .map(chrono_secs)
        .unwrap();
    // Real time passing is the condition itself: at most 2 s.
    let real_secs = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };
    while real_secs() <= timestamp + 1 {
        std::thread::sleep(Duration::from_millis(100));
    }
    let late = device(&host, "dev-away", &token, CommandBehaviour::Succeed);
    let deadline = Instant::now() + WAIT;
    while late.dropped() == 0 {
        assert!(Instant::now() < deadline, "the expired request never came");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(late.received(), 0);
    assert_eq!(describe(&host, &id(&dropped))["status"], "SENT");
    late.disconnect();

    // Offline past the TTL: TIMED_OUT; the request still arrives with the
    // session, and an answer to it is rejected.
    let missed = send(
        &host,
        json!({"thingName": "dev-away", "action": "unlock", "ttl": 5}),
    );
    advance_seconds(&host, 6);
    sweep(&host);
    assert_eq!(describe(&host, &id(&missed))["status"], "TIMED_OUT");
    let again = device(&host, "dev-away", &token, CommandBehaviour::Manual);
    let request = again.next_request(WAIT).unwrap();
    assert_eq!(request.execution_id, id(&missed));
    again
        .respond(&id(&missed), &json!({"status": "SUCCEEDED"}))
        .unwrap();
    rejected(
        again.next_reply(&id(&missed), WAIT).unwrap(),
        "TerminalStateReached",
    );
    again.disconnect();

    // ?wait= with nobody answering: the execution as it stands when the
    // wait is over.
    let started = Instant::now();
    let unanswered = send_waiting(
        &host,
        1,
        json!({"thingName": "dev-away", "action": "unlock", "ttl": 30}),
    );
    assert_eq!(unanswered["status"], "SENT", "{unanswered}");
    assert!(started.elapsed() >= Duration::from_secs(1));
}

/// A raw MQTT client's view: publishes and subscription results.
enum Seen {
    Connected,
    Subscribed(bool),
    Message(String, Value),
}

fn raw_client(host: &Host, id: &str, login: (&str, &str)) -> (Client, mpsc::Receiver<Seen>) {
    let url = host.printed("MQTT").unwrap();
    let mut options = MqttOptions::parse_url(format!("{url}?client_id={id}")).unwrap();
    options.set_credentials(login.0, login.1);
    let (client, mut connection) = Client::new(options, 100);
    let (seen, events) = mpsc::channel();
    std::thread::spawn(move || {
        for event in connection.iter() {
            let report = match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => Seen::Connected,
                Ok(Event::Incoming(Packet::SubAck(ack))) => Seen::Subscribed(
                    ack.return_codes
                        .iter()
                        .all(|c| matches!(c, rumqttc::SubscribeReasonCode::Success(_))),
                ),
                Ok(Event::Incoming(Packet::Publish(p))) => Seen::Message(
                    p.topic.clone(),
                    serde_json::from_slice(&p.payload).unwrap_or(Value::Null),
                ),
                Ok(_) => continue,
                Err(_) => return,
            };
            if seen.send(report).is_err() {
                return;
            }
        }
    });
    (client, events)
}

fn next<T>(events: &mpsc::Receiver<Seen>, mut wanted: impl FnMut(&Seen) -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let seen = events.recv_timeout(left).expect("nothing seen in time");
        if let Some(found) = wanted(&seen) {
            return found;
        }
    }
}

fn subscribe(client: &Client, events: &mpsc::Receiver<Seen>, filter: &str) -> bool {
    client.subscribe(filter, QoS::AtLeastOnce).unwrap();
    next(events, |seen| match seen {
        Seen::Subscribed(ok) => Some(*ok),
        _ => None,
    })
}

#[test]
fn a_device_cannot_see_or_answer_another_things_commands() {
    let host = fleetjobs(&[], &[]);
    let token_a = create_thing(&host, "dev-a");
    let token_b = create_thing(&host, "dev-b");
    let for_b = send(&host, json!({"thingName": "dev-b", "action": "unlock"}));
    let for_a = send(&host, json!({"thingName": "dev-a", "action": "unlock"}));

    // The service account sees every response the broker lets through.
    let password =
        std::fs::read_to_string(host.state_dir().join("mosquitto/service_password")).unwrap();
    let (service, watched) = raw_client(&host, "watch", ("fleetjobs-service", password.trim()));
    next(&watched, |s| matches!(s, Seen::Connected).then_some(()));
    assert!(subscribe(
        &service,
        &watched,
        &format!("{PREFIX}/+/executions/+/response")
    ));

    let (a, a_events) = raw_client(&host, "dev-a", ("dev-a", &token_a));
    next(&a_events, |s| matches!(s, Seen::Connected).then_some(()));
    assert!(
        !subscribe(
            &a,
            &a_events,
            &format!("{PREFIX}/dev-b/executions/+/request")
        ),
        "dev-a may not subscribe to dev-b's requests"
    );
    assert!(!subscribe(
        &a,
        &a_events,
        &format!("{PREFIX}/+/executions/+/request")
    ));
    assert!(subscribe(
        &a,
        &a_events,
        &format!("{PREFIX}/dev-a/executions/#")
    ));

    // dev-a answers dev-b's command, then its own. The broker keeps one
    // publisher's order: had it let the first through, the service account
    // would see it first.
    let b_topic = format!("{PREFIX}/dev-b/executions/{}/response", id(&for_b));
    let a_topic = format!("{PREFIX}/dev-a/executions/{}/response", id(&for_a));
    let answer = json!({"status": "SUCCEEDED"}).to_string();
    a.publish(&b_topic, QoS::AtLeastOnce, false, answer.clone())
        .unwrap();
    a.publish(&a_topic, QoS::AtLeastOnce, false, answer)
        .unwrap();
    let first = next(&watched, |seen| match seen {
        Seen::Message(topic, _) if topic.ends_with("/response") => Some(topic.clone()),
        _ => None,
    });
    assert_eq!(first, a_topic, "the broker let dev-a answer for dev-b");
    let own = next(&a_events, |seen| match seen {
        Seen::Message(topic, body) if *topic == format!("{a_topic}/accepted") => Some(body.clone()),
        _ => None,
    });
    assert_eq!(own["status"], "SUCCEEDED");
    assert_eq!(describe(&host, &id(&for_b))["status"], "SENT");

    // dev-b answers its own.
    let b = device(&host, "dev-b", &token_b, CommandBehaviour::Manual);
    b.respond(&id(&for_b), &json!({"status": "SUCCEEDED"}))
        .unwrap();
    accepted(b.next_reply(&id(&for_b), WAIT).unwrap());
    assert_eq!(describe(&host, &id(&for_b))["status"], "SUCCEEDED");
}

#[test]
fn bad_input_is_a_4xx_in_the_error_shape_and_writes_nothing() {
    let host = fleetjobs(&[], &[]);
    create_thing(&host, "dev-1");
    let refuse = |path: &str, body: &str, status: u16, code: &str, mentions: &str| {
        let (got, text) = authorized_request(host.port, "POST", path, body, Some(API_TOKEN));
        assert_eq!(got, status, "{path} {body}: {text}");
        let reply: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(reply["error"]["code"], code, "{body}: {reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{body}: {message}");
    };
    let commands = "/api/v1/commands";
    refuse(
        commands,
        r#"{"thingName": "nobody", "action": "reboot"}"#,
        404,
        "ResourceNotFound",
        "nobody",
    );
    refuse(
        commands,
        r#"{"thingName": "dev-1", "action": ""}"#,
        400,
        "InvalidRequest",
        "action",
    );
    let long = "a".repeat(129);
    refuse(
        commands,
        &format!(r#"{{"thingName": "dev-1", "action": "{long}"}}"#),
        400,
        "InvalidRequest",
        "action",
    );
    for params in ["[1]", "\"x\"", "3"] {
        refuse(
            commands,
            &format!(r#"{{"thingName": "dev-1", "action": "a", "params": {params}}}"#),
            400,
            "InvalidRequest",
            "params",
        );
    }
    let big = "x".repeat(33 * 1024);
    refuse(
        commands,
        &format!(r#"{{"thingName": "dev-1", "action": "a", "params": {{"blob": "{big}"}}}}"#),
        400,
        "InvalidRequest",
        "params",
    );
    for ttl in ["0", "3601", "-1", "1.5", "\"30\""] {
        refuse(
            commands,
            &format!(r#"{{"thingName": "dev-1", "action": "a", "ttl": {ttl}}}"#),
            400,
            "InvalidRequest",
            "ttl",
        );
    }
    refuse(commands, "{not json", 400, "InvalidRequest", "JSON");
    refuse(
        commands,
        r#"{"action": "a"}"#,
        400,
        "InvalidRequest",
        "thingName",
    );
    refuse(
        commands,
        r#"{"thingName": "dev-1", "action": "a", "color": "red"}"#,
        400,
        "InvalidRequest",
        "color",
    );
    refuse(
        "/api/v1/commands?wait=61",
        r#"{"thingName": "dev-1", "action": "a", "ttl": 3600}"#,
        400,
        "InvalidRequest",
        "wait",
    );
    refuse(
        "/api/v1/commands?wait=10",
        r#"{"thingName": "dev-1", "action": "a", "ttl": 5}"#,
        400,
        "InvalidRequest",
        "wait",
    );
    // Nothing was written.
    assert!(list(&host, "").is_empty());

    let (status, body) = api(&host, "GET", "/api/v1/commands?status=DONE", &Value::Null);
    assert_eq!(status, 400, "{body}");
    let (status, body) = api(&host, "GET", "/api/v1/commands/nope", &Value::Null);
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "ResourceNotFound");
    let (status, _) = api(&host, "POST", "/api/v1/commands/nope/cancel", &Value::Null);
    assert_eq!(status, 404);
    // Every route needs the API token.
    let (status, _) = request(
        host.port,
        "POST",
        commands,
        r#"{"thingName": "dev-1", "action": "a"}"#,
    );
    assert_eq!(status, 401);
    let (status, _) = request(host.port, "GET", commands, "");
    assert_eq!(status, 401);
    assert!(list(&host, "").is_empty());

    // The OpenAPI document lists the commands' operations.
    let document = api_ok(&host, "GET", "/api/v1/openapi.json", Value::Null, 200);
    let paths = &document["paths"];
    assert_eq!(
        paths["/api/v1/commands"]["post"]["operationId"],
        "SendCommand"
    );
    assert_eq!(
        paths["/api/v1/commands"]["get"]["operationId"],
        "ListCommands"
    );
    let one = &paths["/api/v1/commands/{executionId}"];
    assert_eq!(one["get"]["operationId"], "DescribeCommand");
    assert_eq!(one["delete"]["operationId"], "DeleteCommand");
    assert_eq!(
        paths["/api/v1/commands/{executionId}/cancel"]["post"]["operationId"],
        "CancelCommand"
    );
}

#[test]
fn emqx_authorizes_a_device_on_its_own_command_topics_only() {
    const SECRET: &str = "emqx-shared-secret";
    let host = fleetjobs(
        &[],
        &[
            ("SPIN_VARIABLE_BROKER_AUTH_SECRET", SECRET),
            ("SPIN_VARIABLE_BROKER_ACCOUNTS", "none"),
        ],
    );
    create_thing(&host, "dev-e");
    create_thing(&host, "dev-f");
    let may = |action: &str, topic: &str| {
        let body =
            json!({"username": "dev-e", "clientid": "dev-e", "action": action, "topic": topic});
        let (status, text) = authorized_request(
            host.port,
            "POST",
            "/broker/v1/authorize",
            &body.to_string(),
            Some(SECRET),
        );
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<Value>(&text).unwrap()["result"].clone()
    };
    let own = format!("{PREFIX}/dev-e/executions");
    assert_eq!(may("subscribe", &format!("{own}/+/request")), "allow");
    assert_eq!(may("subscribe", &format!("{own}/#")), "allow");
    assert_eq!(may("publish", &format!("{own}/e1/response")), "allow");
    assert_eq!(may("publish", &format!("{own}/e1/request")), "deny");
    assert_eq!(
        may("publish", &format!("{own}/e1/response/accepted")),
        "deny"
    );
    assert_eq!(
        may("publish", &format!("{PREFIX}/dev-f/executions/e1/response")),
        "deny"
    );
    assert_eq!(
        may("subscribe", &format!("{PREFIX}/dev-f/executions/+/request")),
        "deny"
    );
    assert_eq!(
        may("subscribe", &format!("{PREFIX}/+/executions/+/request")),
        "deny"
    );
}

/// Seed 001's two mechanisms on one fleet: the same simulated devices (one
/// MQTT connection each, as real devices) run a job and answer commands.
#[test]
fn a_fleet_runs_a_job_and_answers_commands_on_the_same_connections() {
    use fleetjobs_simulator::{Fleet, FleetConfig};

    let host = fleetjobs(&[], &[]);
    let things = create_fleet(&host, "thermostats", 5);
    let url = host.printed("MQTT").expect("the host prints its broker");
    let mut config = FleetConfig::new(&url, "$emqx/things", things.clone());
    config.tokens = host.device_tokens(&things);
    config.step_delay = Duration::from_millis(20);
    config.commands = Some((PREFIX.to_owned(), CommandBehaviour::Succeed));
    let fleet = Fleet::start(config).expect("the fleet connects");

    create_job(
        &host,
        &json!({"jobId": "fw", "targets": {"thingGroupNames": ["thermostats"]},
                "document": {"action": "updateFirmware", "version": "2.1.5"}}),
    );
    for thing in &things {
        let answered = send_waiting(
            &host,
            10,
            json!({"thingName": thing, "action": "setTemperature", "params": {"value": 21}}),
        );
        assert_eq!(answered["status"], "SUCCEEDED", "{answered}");
        assert_eq!(answered["result"]["params"]["value"], 21);
    }
    fleet
        .wait_until(WAIT, |summary| summary.succeeded == things.len() as u64)
        .expect("every device ran the job");
    for thing in &things {
        assert_eq!(execution(&host, "fw", thing)["status"], "SUCCEEDED");
    }
    fleet.stop();
}
