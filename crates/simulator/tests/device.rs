//! The simulated device against a real mosquitto, with a plain rumqttc client
//! playing the service.

mod common;

use std::time::{Duration, Instant};

use common::{echo, notice_topic, publish_confirmed, Broker, Service, PREFIX, WAIT};
use fleetjobs_simulator::{Device, Error, NoticeKind};
use serde_json::{json, Value};

fn connect(broker: &Broker, thing: &str) -> Device {
    Device::connect(&broker.url(), PREFIX, thing, None, WAIT).unwrap()
}

// ---------------------------------------------------------------- tests

#[test]
fn call_takes_the_reply_with_its_own_client_token() {
    let broker = Broker::start(false);
    let _service = Service::start(
        &broker.url(),
        Box::new(|topic, payload| {
            let mut out = Vec::new();
            if topic.ends_with("/jobs/get") {
                // Another request's reply arrives first.
                let decoy = json!({ "clientToken": "someone-else", "decoy": true });
                out.push((format!("{topic}/accepted"), decoy.to_string().into_bytes()));
            }
            if topic.ends_with("/update") {
                let request: Value = serde_json::from_slice(payload).unwrap();
                let body =
                    json!({ "clientToken": request["clientToken"], "code": "VersionMismatch" });
                out.push((format!("{topic}/rejected"), body.to_string().into_bytes()));
                return out;
            }
            out.extend(echo(topic, payload));
            out
        }),
    );
    let device = connect(&broker, "dev-call");
    assert_eq!(device.thing(), "dev-call");
    assert_eq!(device.connections(), 1);

    let reply = device.get().unwrap();
    assert!(reply.accepted);
    assert_eq!(reply.topic, "$emqx/things/dev-call/jobs/get/accepted");
    assert_eq!(reply.body["request"], "$emqx/things/dev-call/jobs/get");
    let token = reply.client_token().expect("a generated clientToken");
    assert!(!token.is_empty() && token != "someone-else");
    assert!(reply.body.get("decoy").is_none());

    // The decoy was left for next_reply.
    let decoy = device.next_reply("get", WAIT).unwrap();
    assert_eq!(decoy.client_token(), Some("someone-else"));

    // A token of the caller's own is kept, and generated tokens are unique.
    let reply = device
        .call("get", json!({ "clientToken": "mine" }), WAIT)
        .unwrap();
    assert_eq!(reply.client_token(), Some("mine"));
    let other = device.get().unwrap();
    assert_ne!(other.client_token(), Some(token));
    assert_eq!(
        device.next_reply("get", WAIT).unwrap().client_token(),
        Some("someone-else")
    );
    assert_eq!(
        device.next_reply("get", WAIT).unwrap().client_token(),
        Some("someone-else")
    );

    // Wrappers address the right topics; a rejection is a reply too.
    let reply = device.start_next(json!({ "statusDetails": {} })).unwrap();
    assert!(reply.accepted);
    assert_eq!(
        reply.body["request"],
        "$emqx/things/dev-call/jobs/start-next"
    );
    let reply = device.describe("$next", json!({})).unwrap();
    assert_eq!(
        reply.body["request"],
        "$emqx/things/dev-call/jobs/$next/get"
    );
    let reply = device
        .update("job-1", json!({ "status": "IN_PROGRESS" }))
        .unwrap();
    assert!(!reply.accepted);
    assert_eq!(
        reply.topic,
        "$emqx/things/dev-call/jobs/job-1/update/rejected"
    );
    assert_eq!(reply.body["code"], "VersionMismatch");

    // Nothing else is waiting.
    assert!(matches!(
        device.next_reply("get", Duration::from_millis(300)),
        Err(Error::Timeout { .. })
    ));
    device.disconnect();
}

#[test]
fn publish_raw_replies_come_from_next_reply() {
    let broker = Broker::start(false);
    let _service = Service::start(
        &broker.url(),
        Box::new(|topic, payload| {
            if topic.ends_with("/silent") {
                Vec::new()
            } else {
                echo(topic, payload)
            }
        }),
    );
    let device = connect(&broker, "dev-raw");

    device.publish_raw("start-next", b"{not json").unwrap();
    let reply = device.next_reply("start-next", WAIT).unwrap();
    assert!(!reply.accepted);
    assert_eq!(reply.topic, "$emqx/things/dev-raw/jobs/start-next/rejected");
    assert_eq!(reply.body["code"], "InvalidJson");
    assert_eq!(reply.client_token(), None);

    device.publish_raw("job-7/update", b"").unwrap();
    let reply = device.next_reply("job-7/update", WAIT).unwrap();
    assert!(!reply.accepted);
    assert_eq!(
        reply.body["request"],
        "$emqx/things/dev-raw/jobs/job-7/update"
    );

    // A call whose payload is not an object takes the first reply without a token.
    let reply = device.call("get", json!([1, 2]), WAIT).unwrap();
    assert!(!reply.accepted);
    assert_eq!(reply.body["request"], "$emqx/things/dev-raw/jobs/get");

    // The device's own requests echo back on jobs/#; they are neither replies nor notices.
    device.publish_raw("silent", b"{}").unwrap();
    let err = device
        .call("silent", json!({}), Duration::from_millis(300))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("silent/accepted"), "{err}");
    assert!(device.next_notice(Duration::from_millis(100)).is_err());
    assert_eq!(device.drain_notices(), 0);
    device.disconnect();
}

#[test]
fn notices_arrive_in_order() {
    let broker = Broker::start(false);
    let device = connect(&broker, "dev-notice");
    let other = connect(&broker, "dev-other");

    let mut messages: Vec<(String, Value)> = (0..20)
        .map(|seq| {
            let kind = if seq % 2 == 0 {
                NoticeKind::NotifyNext
            } else {
                NoticeKind::Notify
            };
            (notice_topic("dev-notice", kind), json!({ "seq": seq }))
        })
        .collect();
    messages.push((
        notice_topic("dev-other", NoticeKind::Notify),
        json!({ "seq": 100 }),
    ));
    publish_confirmed(&broker.url(), &messages);

    for seq in 0..10 {
        let notice = device.next_notice(WAIT).unwrap();
        assert_eq!(notice.body["seq"], seq);
        let expected = if seq % 2 == 0 {
            NoticeKind::NotifyNext
        } else {
            NoticeKind::Notify
        };
        assert_eq!(notice.kind, expected);
    }
    let notice = device
        .notice_where(WAIT, |n| n.body["seq"].as_i64() >= Some(15))
        .unwrap();
    assert_eq!(notice.body["seq"], 15);
    assert_eq!(device.next_notice(WAIT).unwrap().body["seq"], 16);
    // Messages are delivered one by one: wait for the last before draining.
    device.notice_where(WAIT, |n| n.body["seq"] == 18).unwrap();
    device.notice_where(WAIT, |n| n.body["seq"] == 19).unwrap();
    assert_eq!(device.drain_notices(), 0);

    // Each device sees only its own notices.
    let notice = other.next_notice(WAIT).unwrap();
    assert_eq!(
        (notice.kind, notice.body["seq"].clone()),
        (NoticeKind::Notify, json!(100))
    );
    assert!(matches!(
        other.notice_where(Duration::from_millis(200), |_| true),
        Err(Error::Timeout { .. })
    ));

    publish_confirmed(
        &broker.url(),
        &[
            (
                notice_topic("dev-notice", NoticeKind::Notify),
                json!({ "seq": 1 }),
            ),
            (
                notice_topic("dev-notice", NoticeKind::Notify),
                json!({ "seq": 2 }),
            ),
        ],
    );
    // Both are delivered, one by one: drain until both are counted.
    let deadline = Instant::now() + WAIT;
    let mut drained = 0;
    while drained < 2 {
        assert!(Instant::now() < deadline, "drained only {drained} notices");
        drained += device.drain_notices();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(drained, 2);
    assert!(device.next_notice(Duration::from_millis(100)).is_err());
}

#[test]
fn queued_notices_reach_a_device_that_was_offline() {
    let broker = Broker::start(false);
    let device = connect(&broker, "dev-offline");
    device.disconnect();

    publish_confirmed(
        &broker.url(),
        &[(
            notice_topic("dev-offline", NoticeKind::NotifyNext),
            json!({ "execution": { "jobId": "job-queued" } }),
        )],
    );

    let device = connect(&broker, "dev-offline");
    let notice = device.next_notice(WAIT).unwrap();
    assert_eq!(notice.kind, NoticeKind::NotifyNext);
    assert_eq!(notice.body["execution"]["jobId"], "job-queued");
}

#[test]
fn survives_a_broker_restart_with_persistence() {
    let mut broker = Broker::start(true);
    let device = connect(&broker, "dev-persist");
    {
        let _service = Service::start(&broker.url(), Box::new(echo));
        assert!(device.get().unwrap().accepted);
    }

    broker.restart();
    // The session (and its subscription) was saved: a notice published at
    // once is queued for the device or delivered live, whichever comes first.
    publish_confirmed(
        &broker.url(),
        &[(
            notice_topic("dev-persist", NoticeKind::Notify),
            json!({ "after": "restart" }),
        )],
    );
    assert_eq!(device.next_notice(WAIT).unwrap().body["after"], "restart");
    assert!(device.wait_connections(2, WAIT).unwrap() >= 2);

    let _service = Service::start(&broker.url(), Box::new(echo));
    let reply = device.call("get", json!({}), WAIT).unwrap();
    assert!(reply.accepted);
    assert!(
        broker.dir.path().join("mosquitto.db").is_file(),
        "{}",
        broker.log()
    );

    // A message queued for an offline device outlives a restart too.
    let sleeper = connect(&broker, "dev-asleep");
    sleeper.disconnect();
    publish_confirmed(
        &broker.url(),
        &[(
            notice_topic("dev-asleep", NoticeKind::NotifyNext),
            json!({ "queued": "before restart" }),
        )],
    );
    broker.restart();
    let sleeper = connect(&broker, "dev-asleep");
    let notice = sleeper.next_notice(WAIT).unwrap();
    assert_eq!(notice.body["queued"], "before restart");
}

#[test]
fn resubscribes_after_a_broker_restart_that_lost_the_session() {
    let mut broker = Broker::start(false);
    let device = connect(&broker, "dev-resub");
    broker.restart();
    // A new session: the device must subscribe again before it hears anything.
    assert_eq!(device.wait_connections(2, WAIT).unwrap(), 2);

    publish_confirmed(
        &broker.url(),
        &[(
            notice_topic("dev-resub", NoticeKind::NotifyNext),
            json!({ "seq": 1 }),
        )],
    );
    assert_eq!(device.next_notice(WAIT).unwrap().body["seq"], 1);
    let _service = Service::start(&broker.url(), Box::new(echo));
    assert!(device.get().unwrap().accepted);
}

#[test]
fn connect_times_out_without_a_broker() {
    // Something that accepts TCP but never answers MQTT; held, so no broker takes the port.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("mqtt://{}", silent.local_addr().unwrap());
    let started = Instant::now();
    let err =
        Device::connect(&url, PREFIX, "dev-nobody", None, Duration::from_millis(500)).unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(started.elapsed() < WAIT);
    assert!(matches!(
        Device::connect("ftp://127.0.0.1", PREFIX, "d", None, WAIT),
        Err(Error::Url { .. })
    ));
}

#[test]
fn a_hundred_devices_call_concurrently() {
    let broker = Broker::start(false);
    let _service = Service::start(&broker.url(), Box::new(echo));
    let devices: Vec<Device> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..100)
            .map(|n| {
                let broker = &broker;
                scope.spawn(move || connect(broker, &format!("fleet-{n}")))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    std::thread::scope(|scope| {
        for device in &devices {
            scope.spawn(move || {
                for _ in 0..5 {
                    let reply = device.get().unwrap();
                    assert!(reply.accepted);
                    assert_eq!(
                        reply.body["request"],
                        format!("$emqx/things/{}/jobs/get", device.thing())
                    );
                }
            });
        }
    });
    for device in devices {
        device.disconnect();
    }
}
