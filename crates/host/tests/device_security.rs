//! Secure devices (the security issue): a device's MQTT login is its thing
//! name and device token, the managed mosquitto lets it use only its own
//! topics, and the registry (create, rotate, delete) is what the broker
//! enforces. No token is kept in plaintext anywhere under the state directory.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::fleet::*;
use common::*;
use rumqttc::{Client, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);
const PREFIX: &str = "$emqx/things";

/// What a raw MQTT client saw: publishes, or how its connection ended.
#[derive(Debug)]
enum Seen {
    Connected,
    Subscribed(Vec<rumqttc::SubscribeReasonCode>),
    Message(String, Value),
    Refused(ConnectReturnCode),
    Closed,
}

/// A raw client (not the simulator: it may try what a device must not).
/// With `login`, it logs in as `(username, password)`. It stops at the first
/// refusal; after a closed connection it tries again.
fn raw_client(
    host: &Host,
    id: &str,
    login: Option<(&str, &str)>,
) -> (Client, mpsc::Receiver<Seen>) {
    let url = host.printed("MQTT").expect("the host prints its broker");
    let mut options = MqttOptions::parse_url(format!("{url}?client_id={id}")).unwrap();
    if let Some((username, password)) = login {
        options.set_credentials(username, password);
    }
    let (client, mut connection) = Client::new(options, 100);
    let (seen, events) = mpsc::channel();
    std::thread::spawn(move || {
        for event in connection.iter() {
            let report = match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => Seen::Connected,
                Ok(Event::Incoming(Packet::SubAck(ack))) => Seen::Subscribed(ack.return_codes),
                Ok(Event::Incoming(Packet::Publish(p))) => Seen::Message(
                    p.topic.clone(),
                    serde_json::from_slice(&p.payload).unwrap_or(Value::Null),
                ),
                Ok(_) => continue,
                Err(ConnectionError::ConnectionRefused(code)) => {
                    let _ = seen.send(Seen::Refused(code));
                    return;
                }
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(100));
                    Seen::Closed
                }
            };
            if seen.send(report).is_err() {
                return;
            }
        }
    });
    (client, events)
}

/// The next report that `wanted` picks, within [`WAIT`].
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

fn refused(events: &mpsc::Receiver<Seen>) -> ConnectReturnCode {
    next(events, |seen| match seen {
        Seen::Refused(code) => Some(*code),
        Seen::Connected => panic!("connected"),
        _ => None,
    })
}

fn connected(events: &mpsc::Receiver<Seen>) {
    next(events, |seen| match seen {
        Seen::Connected => Some(()),
        Seen::Refused(code) => panic!("refused: {code:?}"),
        _ => None,
    })
}

fn subscribe(client: &Client, events: &mpsc::Receiver<Seen>, filter: &str) -> bool {
    client.subscribe(filter, QoS::AtLeastOnce).unwrap();
    next(events, |seen| match seen {
        Seen::Subscribed(codes) => Some(
            codes
                .iter()
                .all(|code| matches!(code, rumqttc::SubscribeReasonCode::Success(_))),
        ),
        _ => None,
    })
}

/// The message on `topic`, skipping others.
fn message_on(events: &mpsc::Receiver<Seen>, topic: &str) -> Value {
    next(events, |seen| match seen {
        Seen::Message(t, body) if t == topic => Some(body.clone()),
        _ => None,
    })
}

fn service_login(host: &Host) -> (String, String) {
    let password =
        std::fs::read_to_string(host.state_dir().join("mosquitto/service_password")).unwrap();
    ("fleetjobs-service".into(), password.trim().to_owned())
}

fn device_http(host: &Host, token: &str, thing: &str) -> u16 {
    let path = format!("/device/v1/things/{thing}/jobs");
    authorized_request(host.port, "GET", &path, "", Some(token)).0
}

#[test]
fn only_registered_devices_connect_and_each_uses_only_its_own_topics() {
    let host = fleetjobs(&[], &[]);
    let token_a = create_thing(&host, "dev-a");
    let token_b = create_thing(&host, "dev-b");
    create_job(&host, &job_body("fw", &["dev-a", "dev-b"]));

    let (_, anonymous) = raw_client(&host, "evil", None);
    assert_eq!(refused(&anonymous), ConnectReturnCode::NotAuthorized);
    let (_, wrong) = raw_client(&host, "evil-2", Some(("dev-b", &token_a)));
    assert_eq!(refused(&wrong), ConnectReturnCode::NotAuthorized);

    // The service account sees every request the broker lets through.
    let (service_user, service_password) = service_login(&host);
    let (service, requests) = raw_client(&host, "watch", Some((&service_user, &service_password)));
    connected(&requests);
    assert!(subscribe(
        &service,
        &requests,
        &format!("{PREFIX}/+/jobs/+")
    ));

    let (a, a_events) = raw_client(&host, "dev-a", Some(("dev-a", &token_a)));
    connected(&a_events);
    assert!(
        !subscribe(&a, &a_events, &format!("{PREFIX}/dev-b/jobs/#")),
        "dev-a may not subscribe under dev-b"
    );
    assert!(subscribe(&a, &a_events, &format!("{PREFIX}/dev-a/jobs/#")));
    // dev-a acts for dev-b, then asks for its own list. The broker keeps one
    // publisher's order: if it had let the first through, the service
    // account would see it before the second.
    let b_topic = format!("{PREFIX}/dev-b/jobs/start-next");
    let a_topic = format!("{PREFIX}/dev-a/jobs/get");
    a.publish(
        &b_topic,
        QoS::AtLeastOnce,
        false,
        r#"{"clientToken": "evil"}"#,
    )
    .unwrap();
    a.publish(
        &a_topic,
        QoS::AtLeastOnce,
        false,
        r#"{"clientToken": "own"}"#,
    )
    .unwrap();
    let first = next(&requests, |seen| match seen {
        Seen::Message(topic, _) if topic.ends_with("/jobs/start-next") || topic == &a_topic => {
            Some(topic.clone())
        }
        _ => None,
    });
    assert_eq!(first, a_topic, "the broker let dev-a publish for dev-b");
    let own = message_on(&a_events, &format!("{a_topic}/accepted"));
    assert_eq!(own["clientToken"], "own");
    assert_eq!(
        execution(&host, "fw", "dev-b")["status"],
        "QUEUED",
        "nothing applied"
    );

    // dev-b's own traffic never reaches dev-a.
    let (b, b_events) = raw_client(&host, "dev-b", Some(("dev-b", &token_b)));
    connected(&b_events);
    assert!(subscribe(&b, &b_events, &format!("{PREFIX}/dev-b/jobs/#")));
    b.publish(&b_topic, QoS::AtLeastOnce, false, r#"{"clientToken": "b"}"#)
        .unwrap();
    let started = message_on(&b_events, &format!("{b_topic}/accepted"));
    assert_eq!(started["execution"]["jobId"], "fw");
    a.publish(
        &a_topic,
        QoS::AtLeastOnce,
        false,
        r#"{"clientToken": "sync"}"#,
    )
    .unwrap();
    while let Ok(seen) = a_events.recv_timeout(WAIT) {
        match seen {
            Seen::Message(topic, body)
                if body["clientToken"] == "sync" && topic == format!("{a_topic}/accepted") =>
            {
                break;
            }
            Seen::Message(topic, _) => {
                assert!(
                    topic.starts_with(&format!("{PREFIX}/dev-a/")),
                    "dev-a got {topic}"
                )
            }
            _ => {}
        }
    }
}

#[test]
fn rotating_a_token_retires_the_old_one_and_deleting_a_thing_disconnects_it() {
    let host = fleetjobs(&[], &[]);
    let old = create_thing(&host, "dev-r");
    let reply = api_ok(
        &host,
        "POST",
        "/api/v1/things/dev-r/token",
        Value::Null,
        200,
    );
    let new = reply["deviceToken"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    let (_, with_old) = raw_client(&host, "dev-r-old", Some(("dev-r", &old)));
    assert_eq!(refused(&with_old), ConnectReturnCode::NotAuthorized);
    assert_eq!(device_http(&host, &old, "dev-r"), 401);
    assert_eq!(device_http(&host, &new, "dev-r"), 200);

    let (_, device) = raw_client(&host, "dev-r", Some(("dev-r", &new)));
    connected(&device);
    api_ok(&host, "DELETE", "/api/v1/things/dev-r", Value::Null, 204);
    // Disconnected, then refused when it tries again.
    assert_eq!(refused(&device), ConnectReturnCode::NotAuthorized);
    assert_eq!(device_http(&host, &new, "dev-r"), 401);

    // No token in plaintext anywhere under the state directory.
    let tokens = [old, new, create_thing(&host, "dev-s")];
    let mut files = vec![host.state_dir().to_path_buf()];
    let mut searched = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        searched += 1;
        for token in &tokens {
            let found = bytes.windows(token.len()).any(|w| w == token.as_bytes());
            assert!(!found, "a device token in plaintext in {}", path.display());
        }
    }
    assert!(
        searched >= 3,
        "the state directory holds the database and broker files"
    );
}

#[test]
fn a_thing_is_not_created_when_the_broker_cannot_be_told() {
    let host = fleetjobs(&[], &[("SPIN_VARIABLE_MQTT_PASSWORD", "not-the-password")]);
    let (status, reply) = api(
        &host,
        "POST",
        "/api/v1/things",
        &json!({"thingName": "ghost"}),
    );
    assert_eq!(status, 503, "{reply}");
    assert_eq!(reply["error"]["code"], "ServiceUnavailable", "{reply}");
    let (status, _) = api(&host, "GET", "/api/v1/things/ghost", &Value::Null);
    assert_eq!(status, 404, "nothing half-created");
}

/// A call of EMQX's HTTP authenticator or authorizer.
fn broker_asks(host: &Host, question: &str, secret: Option<&str>, body: Value) -> (u16, Value) {
    let path = format!("/broker/v1/{question}");
    let (status, text) = authorized_request(host.port, "POST", &path, &body.to_string(), secret);
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn emqx_asks_who_may_connect_and_which_topics_each_client_may_use() {
    const SECRET: &str = "emqx-shared-secret";
    let host = fleetjobs(
        &[],
        &[
            ("SPIN_VARIABLE_BROKER_AUTH_SECRET", SECRET),
            ("SPIN_VARIABLE_BROKER_ACCOUNTS", "none"),
        ],
    );
    let token = create_thing(&host, "dev-e");
    create_thing(&host, "dev-f");
    let (service_user, service_password) = service_login(&host);
    let ask = |question: &str, body: Value| {
        let (status, answer) = broker_asks(&host, question, Some(SECRET), body);
        assert_eq!(status, 200, "{answer}");
        answer
    };
    let login = |username: &str, password: &str| {
        ask(
            "authenticate",
            json!({"username": username, "password": password, "clientid": username}),
        )
    };
    assert_eq!(
        login("dev-e", &token),
        json!({"result": "allow", "is_superuser": false})
    );
    assert_eq!(login("dev-e", "wrong")["result"], "deny");
    assert_eq!(
        login("dev-f", &token)["result"],
        "deny",
        "another thing's token"
    );
    assert_eq!(login("nobody", &token)["result"], "deny");
    assert_eq!(
        login(&service_user, &service_password),
        json!({"result": "allow", "is_superuser": true})
    );
    assert_eq!(login(&service_user, "wrong")["result"], "deny");

    let may = |username: &str, action: &str, topic: &str| {
        ask(
            "authorize",
            json!({"username": username, "clientid": username, "action": action, "topic": topic}),
        )["result"]
            .clone()
    };
    let own = "$emqx/things/dev-e/jobs";
    assert_eq!(
        may("dev-e", "publish", &format!("{own}/j1/update")),
        "allow"
    );
    assert_eq!(may("dev-e", "subscribe", &format!("{own}/#")), "allow");
    assert_eq!(
        may("dev-e", "publish", "$emqx/things/dev-f/jobs/j1/update"),
        "deny"
    );
    assert_eq!(may("dev-e", "subscribe", "$emqx/things/+/jobs/#"), "deny");
    assert_eq!(
        may("dev-e", "publish", &format!("{own}/get/accepted")),
        "deny"
    );
    assert_eq!(
        may("nobody", "publish", "$emqx/things/nobody/jobs/get"),
        "deny"
    );
    assert_eq!(
        may(&service_user, "subscribe", "$emqx/things/+/jobs/+"),
        "allow"
    );

    // Without the shared secret, or with a malformed question: a 4xx.
    let body = json!({"username": "dev-e", "password": token});
    assert_eq!(
        broker_asks(&host, "authenticate", None, body.clone()).0,
        401
    );
    assert_eq!(
        broker_asks(&host, "authenticate", Some("guess"), body).0,
        401
    );
    let bad = json!({"username": "dev-e", "topic": "x", "action": "delete"});
    assert_eq!(broker_asks(&host, "authorize", Some(SECRET), bad).0, 400);
}
