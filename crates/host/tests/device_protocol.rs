//! The device protocol end to end (docs/device-protocol.md): simulated devices speak MQTT
//! (and HTTP) to the real host running the repository's spin.toml, through a
//! real mosquitto.

mod common;

use std::time::Duration;

use common::fleet::*;
use common::*;
use fleetjobs::broker::ManagedBroker;
use fleetjobs_simulator::{Device, Notice, NoticeKind, Reply};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

/// The application, with the managed mosquitto or with `broker` (logged in
/// as its service account).
fn app(prefix: Option<&str>, broker: Option<&ManagedBroker>) -> Host {
    let mut env: Vec<(&str, &str)> = prefix
        .map(|p| ("SPIN_VARIABLE_TOPIC_PREFIX", p))
        .into_iter()
        .collect();
    let url = broker.map(ManagedBroker::url);
    let mut args: Vec<&str> = Vec::new();
    if let (Some(broker), Some(url)) = (broker, &url) {
        args.extend(["--mqtt-url", url]);
        let login = broker.service_account();
        env.push(("SPIN_VARIABLE_MQTT_USERNAME", &login.username));
        env.push(("SPIN_VARIABLE_MQTT_PASSWORD", &login.password));
    }
    fleetjobs(&args, &env)
}

fn queue_job(host: &Host, job_id: &str, things: &[&str]) {
    create_job(host, &job_body(job_id, things));
}

fn execution_status(host: &Host, job_id: &str, thing: &str) -> Value {
    execution(host, job_id, thing)["status"].clone()
}

fn mqtt_url(host: &Host) -> String {
    host.printed("MQTT").expect("the host prints its broker")
}

/// A device logged in with its thing name and device token.
fn device(url: &str, prefix: &str, thing: &str, token: &str) -> Device {
    let mut device = Device::connect(url, prefix, thing, Some(token), WAIT).unwrap();
    device.set_call_timeout(WAIT);
    device
}

fn job_ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|s| s["jobId"].as_str().unwrap())
        .collect()
}

fn accepted(reply: Reply) -> Value {
    assert!(
        reply.accepted,
        "rejected on {}: {}",
        reply.topic, reply.body
    );
    assert!(
        reply.body["timestamp"].as_i64().unwrap() < 10_000_000_000,
        "seconds"
    );
    reply.body
}

fn rejected(reply: Reply, code: &str) -> Value {
    assert!(
        !reply.accepted,
        "accepted on {}: {}",
        reply.topic, reply.body
    );
    assert_eq!(reply.body["code"], code, "{}", reply.body);
    reply.body
}

fn notice(device: &Device) -> Notice {
    device.next_notice(WAIT).unwrap()
}

/// The main scenario of issue 6 under `prefix`.
fn three_jobs_through_mqtt(prefix: Option<&str>) {
    let host = app(prefix, None);
    let prefix = prefix.unwrap_or("$emqx/things");
    let url = mqtt_url(&host);
    let token = create_thing(&host, "dev-1");
    let dev = device(&url, prefix, "dev-1", &token);
    for job in ["j1", "j2", "j3"] {
        queue_job(&host, job, &["dev-1"]);
    }
    // Creating j1 announced it: notify (the QUEUED list), then notify-next.
    let first = notice(&dev);
    assert_eq!(first.kind, NoticeKind::Notify);
    assert_eq!(job_ids(&first.body["jobs"]["QUEUED"]), ["j1"]);
    let next = notice(&dev);
    assert_eq!(next.kind, NoticeKind::NotifyNext);
    assert_eq!(next.body["execution"]["jobId"], "j1");
    assert_eq!(next.body["execution"]["jobDocument"]["version"], "j1");

    let pending = accepted(
        dev.call("get", json!({"clientToken": "get-1"}), WAIT)
            .unwrap(),
    );
    assert_eq!(pending["clientToken"], "get-1");
    assert_eq!(job_ids(&pending["queuedJobs"]), ["j1", "j2", "j3"]);
    assert_eq!(job_ids(&pending["inProgressJobs"]), Vec::<&str>::new());
    assert!(pending["queuedJobs"][0].get("status").is_none());

    let started = accepted(dev.start_next(json!({})).unwrap());
    let execution = &started["execution"];
    assert_eq!(execution["jobId"], "j1");
    assert_eq!(execution["status"], "IN_PROGRESS");
    assert_eq!(execution["versionNumber"], 2);
    assert!(execution["jobDocument"].is_object(), "an object over MQTT");
    let again = accepted(dev.start_next(json!({})).unwrap());
    assert_eq!(again["execution"]["jobId"], "j1");
    assert_eq!(again["execution"]["versionNumber"], 2);

    accepted(dev.update("j1", json!({"status": "SUCCEEDED"})).unwrap());
    // (Skipping the notify of j2's and j3's creation.)
    let next = dev
        .notice_where(WAIT, |n| n.kind == NoticeKind::NotifyNext)
        .unwrap();
    assert_eq!(next.body["execution"]["jobId"], "j2");
    let list = notice(&dev);
    assert_eq!(list.kind, NoticeKind::Notify);
    assert_eq!(job_ids(&list.body["jobs"]["QUEUED"]), ["j2", "j3"]);

    for job in ["j2", "j3"] {
        accepted(dev.update(job, json!({"status": "SUCCEEDED"})).unwrap());
    }
    let last = dev
        .notice_where(WAIT, |n| {
            n.kind == NoticeKind::NotifyNext && n.body.get("execution").is_none()
        })
        .unwrap();
    assert!(last.body["timestamp"].is_i64());
    let empty = notice(&dev);
    assert_eq!(empty.kind, NoticeKind::Notify);
    assert_eq!(empty.body["jobs"], json!({}));
    let nothing = accepted(dev.start_next(json!({})).unwrap());
    assert!(nothing.get("execution").is_none(), "{nothing}");
}

#[test]
fn mqtt_three_queued_jobs_with_the_default_prefix() {
    three_jobs_through_mqtt(None);
}

#[test]
fn mqtt_three_queued_jobs_with_the_aws_prefix() {
    three_jobs_through_mqtt(Some("$aws/things"));
}

#[test]
fn mqtt_rejections_carry_the_client_token() {
    let host = app(None, None);
    let prefix = "$emqx/things";
    let token = create_thing(&host, "dev-r");
    let dev = device(&mqtt_url(&host), prefix, "dev-r", &token);
    queue_job(&host, "done", &["dev-r"]);
    queue_job(&host, "open", &["dev-r"]);
    accepted(dev.update("done", json!({"status": "SUCCEEDED"})).unwrap());

    let token = |t: &str| json!(t);
    let terminal = dev
        .call(
            "done/update",
            json!({"status": "IN_PROGRESS", "clientToken": "t-terminal"}),
            WAIT,
        )
        .unwrap();
    let body = rejected(terminal, "InvalidStateTransition");
    assert_eq!(body["clientToken"], token("t-terminal"));
    assert_eq!(body["executionState"]["status"], "SUCCEEDED");

    let body = rejected(
        dev.call(
            "open/update",
            json!({"status": "IN_PROGRESS", "expectedVersion": 7, "clientToken": "t-version"}),
            WAIT,
        )
        .unwrap(),
        "VersionMismatch",
    );
    assert_eq!(body["clientToken"], token("t-version"));
    assert_eq!(body["executionState"]["versionNumber"], 1);

    dev.publish_raw("open/update", br#"{"clientToken": "t-json", "status": "#)
        .unwrap();
    let body = rejected(dev.next_reply("open/update", WAIT).unwrap(), "InvalidJson");
    assert_eq!(body["clientToken"], token("t-json"));

    dev.publish_raw("$next/update", br#"{"clientToken": "t-topic"}"#)
        .unwrap();
    let body = rejected(
        dev.next_reply("$next/update", WAIT).unwrap(),
        "InvalidTopic",
    );
    assert_eq!(body["clientToken"], token("t-topic"));

    let body = rejected(
        dev.call("nope/get", json!({"clientToken": "t-missing"}), WAIT)
            .unwrap(),
        "ResourceNotFound",
    );
    assert_eq!(body["clientToken"], token("t-missing"));

    let body = rejected(
        dev.call(
            "open/update",
            json!({"status": "TIMED_OUT", "clientToken": "t-service"}),
            WAIT,
        )
        .unwrap(),
        "InvalidRequest",
    );
    assert_eq!(body["clientToken"], token("t-service"));
    assert_eq!(
        execution_status(&host, "open", "dev-r"),
        "QUEUED",
        "nothing applied"
    );

    let body = rejected(
        dev.call("done/get", json!({"clientToken": "t-done"}), WAIT)
            .unwrap(),
        "TerminalStateReached",
    );
    assert_eq!(body["clientToken"], token("t-done"));
}

#[test]
fn mqtt_request_fields_and_client_token_replay() {
    let host = app(None, None);
    let token = create_thing(&host, "dev-f");
    let dev = device(&mqtt_url(&host), "$emqx/things", "dev-f", &token);
    queue_job(&host, "fw", &["dev-f"]);

    // An empty payload is a valid get and a valid $next describe.
    dev.publish_raw("get", b"").unwrap();
    let body = accepted(dev.next_reply("get", WAIT).unwrap());
    assert_eq!(job_ids(&body["queuedJobs"]), ["fw"]);
    assert!(body.get("clientToken").is_none(), "no token, none echoed");
    dev.publish_raw("$next/get", b"").unwrap();
    let body = accepted(dev.next_reply("$next/get", WAIT).unwrap());
    assert_eq!(body["execution"]["jobId"], "fw");
    assert!(body["execution"]["jobDocument"].is_object());
    let body = accepted(
        dev.describe("fw", json!({"includeJobDocument": false}))
            .unwrap(),
    );
    assert!(body["execution"].get("jobDocument").is_none());

    // The same clientToken twice: applied once, answered the same.
    let update = json!({
        "status": "IN_PROGRESS",
        "statusDetails": {"step": "download"},
        "stepTimeoutInMinutes": 10,
        "expectedVersion": "1",
        "includeJobExecutionState": true,
        "includeJobDocument": true,
        "clientToken": "same-token",
    });
    let first = accepted(dev.call("fw/update", update.clone(), WAIT).unwrap());
    assert_eq!(first["executionState"]["versionNumber"], 2);
    assert_eq!(first["executionState"]["statusDetails"]["step"], "download");
    assert_eq!(first["jobDocument"]["version"], "fw");
    let second = accepted(dev.call("fw/update", update, WAIT).unwrap());
    assert_eq!(first, second, "the first reply, replayed");
    let body = accepted(dev.describe("fw", json!({})).unwrap());
    assert_eq!(body["execution"]["versionNumber"], 2, "applied once");
    assert!(
        body["execution"]["approximateSecondsBeforeTimedOut"]
            .as_i64()
            .unwrap()
            > 500
    );

    // By default an accepted update holds only clientToken and timestamp.
    let body = accepted(
        dev.update(
            "fw",
            json!({"status": "IN_PROGRESS", "stepTimeoutInMinutes": -1}),
        )
        .unwrap(),
    );
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["clientToken", "timestamp"]);
}

#[test]
fn mqtt_a_burst_from_one_device_is_applied_in_order() {
    let host = app(None, None);
    let token = create_thing(&host, "dev-b");
    let dev = device(&mqtt_url(&host), "$emqx/things", "dev-b", &token);
    for round in 0..5 {
        let job = format!("burst-{round}");
        queue_job(&host, &job, &["dev-b"]);
        let topic = format!("{job}/update");
        dev.publish_raw(&topic, br#"{"status": "IN_PROGRESS", "clientToken": "a"}"#)
            .unwrap();
        dev.publish_raw(&topic, br#"{"status": "SUCCEEDED", "clientToken": "b"}"#)
            .unwrap();
        let first = accepted(dev.next_reply(&topic, WAIT).unwrap());
        let second = accepted(dev.next_reply(&topic, WAIT).unwrap());
        assert_eq!(
            (
                first["clientToken"].as_str(),
                second["clientToken"].as_str()
            ),
            (Some("a"), Some("b"))
        );
        assert_eq!(execution_status(&host, &job, "dev-b"), "SUCCEEDED");
    }
}

fn device_call(
    host: &Host,
    method: &str,
    path: &str,
    body: &Value,
    token: Option<&str>,
) -> (u16, Value) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (status, text) = authorized_request(host.port, method, path, &body, token);
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn http_device_api_serves_only_the_devices_own_jobs() {
    let host = app(None, None);
    let token_a = create_thing(&host, "dev-a");
    let token_b = create_thing(&host, "dev-b");
    let watcher = device(&mqtt_url(&host), "$emqx/things", "dev-a", &token_a);
    for job in ["h1", "h2", "h3"] {
        queue_job(&host, job, &["dev-a"]);
    }
    let jobs = "/device/v1/things/dev-a/jobs";
    let call = |method: &str, path: &str, body: Value| {
        device_call(&host, method, path, &body, Some(&token_a))
    };

    let (status, body) = device_call(&host, "GET", jobs, &Value::Null, None);
    assert_eq!((status, body["code"].as_str()), (401, Some("Unauthorized")));
    let (status, body) = device_call(&host, "GET", jobs, &Value::Null, Some("not-a-token"));
    assert_eq!((status, body["code"].as_str()), (401, Some("Unauthorized")));
    let (status, body) = device_call(&host, "GET", jobs, &Value::Null, Some(&token_b));
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("Forbidden")),
        "{body}"
    );
    let (status, _) = device_call(
        &host,
        "POST",
        &format!("{jobs}/h1"),
        &json!({"status": "SUCCEEDED"}),
        Some(&token_b),
    );
    assert_eq!(status, 403);
    assert_eq!(execution_status(&host, "h1", "dev-a"), "QUEUED");

    let (status, body) = call("GET", jobs, Value::Null);
    assert_eq!(status, 200, "{body}");
    assert_eq!(job_ids(&body["queuedJobs"]), ["h1", "h2", "h3"]);

    let (status, body) = call("PUT", &format!("{jobs}/$next"), json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["execution"]["jobId"], "h1");
    assert_eq!(body["execution"]["versionNumber"], 2);
    assert!(
        body["execution"]["jobDocument"].is_string(),
        "a string over HTTP"
    );
    let (_, again) = call("PUT", &format!("{jobs}/%24next"), json!({}));
    assert_eq!(again["execution"]["jobId"], "h1");
    assert_eq!(again["execution"]["versionNumber"], 2);

    let (status, body) = call(
        "GET",
        &format!("{jobs}/$next?includeJobDocument=false"),
        Value::Null,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["execution"]["jobId"], "h1");
    assert!(body["execution"].get("jobDocument").is_none());

    let (status, body) = call(
        "POST",
        &format!("{jobs}/h1"),
        json!({"status": "SUCCEEDED", "expectedVersion": 2,
               "includeJobExecutionState": true, "includeJobDocument": true}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["executionState"]["status"], "SUCCEEDED");
    assert!(body["jobDocument"].is_string());
    // HTTP changes notify the device over MQTT like any other.
    let next = watcher
        .notice_where(WAIT, |n| {
            n.kind == NoticeKind::NotifyNext && n.body["execution"]["jobId"] == "h2"
        })
        .unwrap();
    assert_eq!(next.body["execution"]["status"], "QUEUED");

    let (status, body) = call("POST", &format!("{jobs}/h1"), json!({"status": "FAILED"}));
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("InvalidStateTransition"))
    );
    assert_eq!(body["executionState"]["status"], "SUCCEEDED");
    let (status, body) = call("GET", &format!("{jobs}/h1"), Value::Null);
    assert_eq!(
        (status, body["code"].as_str()),
        (410, Some("TerminalStateReached"))
    );
    let (status, body) = call(
        "POST",
        &format!("{jobs}/h2"),
        json!({"status": "IN_PROGRESS", "expectedVersion": 9}),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("VersionMismatch"))
    );
    let (status, text) = authorized_request(
        host.port,
        "POST",
        &format!("{jobs}/h2"),
        "{\"status\": ",
        Some(&token_a),
    );
    assert_eq!(status, 400);
    assert!(text.contains("InvalidJson"), "{text}");
    let (status, body) = call("GET", &format!("{jobs}/nope"), Value::Null);
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("ResourceNotFound"))
    );
    let (status, body) = call("DELETE", &format!("{jobs}/h2"), Value::Null);
    assert_eq!(status, 405, "{body}");
    assert_eq!(
        execution_status(&host, "h2", "dev-a"),
        "QUEUED",
        "nothing applied"
    );
}

#[test]
fn notices_written_during_a_broker_outage_arrive_after_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let broker_dir = tempfile::tempdir().unwrap();
    let broker = runtime
        .block_on(ManagedBroker::start(
            broker_dir.path(),
            free_port(),
            &["$emqx".to_owned()],
        ))
        .unwrap();
    let port = broker.port();
    let url = broker.url();
    let host = app(None, Some(&broker));
    let names: Vec<String> = (0..50).map(|i| format!("fleet-{i:02}")).collect();
    let tokens: Vec<String> = names.iter().map(|name| create_thing(&host, name)).collect();
    let devices: Vec<Device> = names
        .iter()
        .zip(&tokens)
        .map(|(name, token)| device(&url, "$emqx/things", name, token))
        .collect();

    runtime.block_on(broker.stop());
    let things: Vec<&str> = names.iter().map(String::as_str).collect();
    queue_job(&host, "during-outage", &things);
    let broker = runtime
        .block_on(ManagedBroker::start(
            broker_dir.path(),
            port,
            &["$emqx".to_owned()],
        ))
        .unwrap();
    assert_eq!(
        broker.port(),
        port,
        "the broker is back where devices expect it"
    );

    for device in &devices {
        let notice = device
            .notice_where(WAIT, |n| n.kind == NoticeKind::NotifyNext)
            .unwrap_or_else(|e| panic!("{}: {e}", device.thing()));
        assert_eq!(notice.body["execution"]["jobId"], "during-outage");
    }
    runtime.block_on(broker.stop());
}
