//! Simulated devices answering commands, against a plain mosquitto and a
//! fake service (a raw client): each behaviour's answers on
//! `…/executions/{id}/response`, the service's replies reaching the device,
//! expired requests dropped, and the `fleetjobs-sim commands` binary.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{options, Broker, WAIT};
use fleetjobs_simulator::{CommandBehaviour, CommandDevice};
use rumqttc::{Client, Event, Packet, QoS};
use serde_json::{json, Value};

const PREFIX: &str = "$emqx/commands/things";

/// The fake service: publishes requests, collects the devices' responses.
struct Service {
    client: Client,
    responses: mpsc::Receiver<(String, Value)>,
}

impl Service {
    fn start(url: &str) -> Service {
        let (client, mut connection) = Client::new(options(url, "fake-service"), 100);
        client
            .subscribe(
                format!("{PREFIX}/+/executions/+/response"),
                QoS::AtLeastOnce,
            )
            .unwrap();
        let (ready, subscribed) = mpsc::channel();
        let (responses_tx, responses) = mpsc::channel();
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let body = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                        if responses_tx.send((p.topic.clone(), body)).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        subscribed
            .recv_timeout(WAIT)
            .expect("the service subscribed");
        Service { client, responses }
    }

    fn request(&self, thing: &str, id: &str, timestamp: u64, ttl: u64) {
        let body = json!({"commandId": id, "action": "unlock", "params": {"door": 1},
                          "timestamp": timestamp, "ttl": ttl});
        self.client
            .publish(
                format!("{PREFIX}/{thing}/executions/{id}/request"),
                QoS::AtLeastOnce,
                false,
                body.to_string(),
            )
            .unwrap();
    }

    fn reply(&self, thing: &str, id: &str, outcome: &str, body: Value) {
        self.client
            .publish(
                format!("{PREFIX}/{thing}/executions/{id}/response/{outcome}"),
                QoS::AtLeastOnce,
                false,
                body.to_string(),
            )
            .unwrap();
    }

    /// The next response within `wait`, if any.
    fn response(&self, wait: Duration) -> Option<(String, Value)> {
        self.responses.recv_timeout(wait).ok()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn devices_answer_by_behaviour_and_drop_expired_requests() {
    let broker = Broker::start(false);
    let service = Service::start(&broker.url());
    let connect = |thing: &str, behaviour| {
        CommandDevice::connect(&broker.url(), PREFIX, thing, None, behaviour, WAIT).unwrap()
    };

    let ok = connect("ok", CommandBehaviour::Succeed);
    service.request("ok", "c1", now_secs(), 30);
    let (topic, body) = service.response(WAIT).unwrap();
    assert_eq!(topic, format!("{PREFIX}/ok/executions/c1/response"));
    assert_eq!(body["status"], "SUCCEEDED");
    assert_eq!(body["result"]["action"], "unlock");
    assert_eq!(body["result"]["params"], json!({"door": 1}));
    assert_eq!(ok.next_request(WAIT).unwrap().body["commandId"], "c1");
    // The service's reply reaches the device.
    service.reply("ok", "c1", "accepted", json!({"executionId": "c1"}));
    assert!(ok.next_reply("c1", WAIT).unwrap().accepted);
    assert_eq!(ok.accepted(), 1);

    let fail = connect("fail", CommandBehaviour::Fail);
    service.request("fail", "c2", now_secs(), 30);
    let (_, body) = service.response(WAIT).unwrap();
    assert_eq!(body["status"], "FAILED");
    assert_eq!(body["statusReason"]["reasonCode"], "DEVICE_ERROR");

    let reject = connect("reject", CommandBehaviour::Reject);
    service.request("reject", "c3", now_secs(), 30);
    assert_eq!(service.response(WAIT).unwrap().1["status"], "REJECTED");

    let progress = connect("progress", CommandBehaviour::ProgressThenSucceed);
    service.request("progress", "c4", now_secs(), 30);
    assert_eq!(service.response(WAIT).unwrap().1["status"], "IN_PROGRESS");
    assert_eq!(service.response(WAIT).unwrap().1["status"], "SUCCEEDED");

    let late = connect("late", CommandBehaviour::Late(Duration::from_millis(300)));
    let sent = Instant::now();
    service.request("late", "c5", now_secs(), 30);
    assert_eq!(service.response(WAIT).unwrap().1["status"], "SUCCEEDED");
    assert!(sent.elapsed() >= Duration::from_millis(300));

    // Ignored, and expired: no answer; the expired one is counted as dropped.
    let ignore = connect("ignore", CommandBehaviour::Ignore);
    service.request("ignore", "c6", now_secs(), 30);
    assert_eq!(ignore.next_request(WAIT).unwrap().execution_id, "c6");
    service.request("ok", "c7", now_secs() - 60, 30);
    let deadline = Instant::now() + WAIT;
    while ok.dropped() == 0 {
        assert!(
            Instant::now() < deadline,
            "the expired request was not dropped"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(ok.received(), 1);
    // Nothing answered either (a Succeed answer would come at once).
    assert_eq!(service.response(Duration::from_millis(300)), None);
    drop((fail, reject, progress, late, ignore));
}

#[test]
fn the_commands_subcommand_runs_devices_from_a_credentials_file() {
    let broker = Broker::start(false);
    let service = Service::start(&broker.url());
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(&credentials, "sim-a token-a\nsim-b token-b\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleetjobs-sim"))
        .args([
            "commands",
            "--mqtt-url",
            &broker.url(),
            "--behaviour",
            "fail",
        ])
        .arg("--credentials")
        .arg(&credentials)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Connected once it says so on stderr.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let ready = stderr
        .lines()
        .map_while(Result::ok)
        .find(|line| line.contains("devices answering commands"));
    assert!(ready.unwrap().contains("2 devices"));
    service.request("sim-b", "c1", now_secs(), 30);
    let (topic, body) = service.response(WAIT).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(topic, format!("{PREFIX}/sim-b/executions/c1/response"));
    assert_eq!(body["status"], "FAILED");

    let bad = Command::new(env!("CARGO_BIN_EXE_fleetjobs-sim"))
        .args([
            "commands",
            "--mqtt-url",
            &broker.url(),
            "--behaviour",
            "dance",
        ])
        .arg("--credentials")
        .arg(&credentials)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("dance"));
}
