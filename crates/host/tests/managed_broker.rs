//! The managed mosquitto starts with no flags, answers QoS1 request/reply
//! without the 44 ms Nagle stall, and is restarted when killed.

use std::time::{Duration, Instant};

use fleetjobs::broker::{ManagedBroker, ServiceAccount, DEFAULT_PORT};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, NetworkOptions, Packet, QoS};
use tokio::sync::mpsc;

const DEADLINE: Duration = Duration::from_secs(20);

type Inbox = mpsc::UnboundedReceiver<(String, Vec<u8>)>;

/// A client whose received publishes arrive on a channel; it keeps polling
/// (and so reconnecting) across broker restarts.
fn client(id: &str, port: u16, login: &ServiceAccount) -> (AsyncClient, Inbox) {
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    options.set_credentials(&login.username, &login.password);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut eventloop): (AsyncClient, EventLoop) = AsyncClient::new(options, 100);
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = sender.send((p.topic.clone(), p.payload.to_vec()));
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    (client, receiver)
}

/// A responder that answers `…/jobs/get` on `…/jobs/get/accepted`, as the
/// service does.
async fn start_responder(id: &str, port: u16, login: &ServiceAccount) -> AsyncClient {
    let (responder, mut requests) = client(id, port, login);
    responder
        .subscribe("$emqx/things/+/jobs/get", QoS::AtLeastOnce)
        .await
        .unwrap();
    let replies = responder.clone();
    tokio::spawn(async move {
        while let Some((topic, payload)) = requests.recv().await {
            let _ = replies
                .publish(
                    format!("{topic}/accepted"),
                    QoS::AtLeastOnce,
                    false,
                    payload,
                )
                .await;
        }
    });
    responder
}

/// A device subscribed to its replies.
async fn device(id: &str, port: u16, login: &ServiceAccount) -> (AsyncClient, Inbox) {
    let (device, replies) = client(id, port, login);
    device
        .subscribe("$emqx/things/dev/jobs/get/accepted", QoS::AtLeastOnce)
        .await
        .unwrap();
    (device, replies)
}

/// One QoS1 request/reply round trip; none if no reply came in time.
async fn round_trip(
    device: &AsyncClient,
    replies: &mut Inbox,
    token: &str,
    wait: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    device
        .publish(
            "$emqx/things/dev/jobs/get",
            QoS::AtLeastOnce,
            false,
            token.as_bytes().to_vec(),
        )
        .await
        .ok()?;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let (_, payload) = tokio::time::timeout_at(deadline, replies.recv())
            .await
            .ok()??;
        if payload == token.as_bytes() {
            return Some(started.elapsed());
        }
    }
}

/// Retries a first round trip until subscriptions have settled.
async fn first_reply(device: &AsyncClient, replies: &mut Inbox) {
    let deadline = Instant::now() + DEADLINE;
    while round_trip(device, replies, "warm-up", Duration::from_millis(500))
        .await
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "no reply through the managed broker"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_mosquitto_is_fast_and_restarted_when_killed() {
    let state = tempfile::tempdir().unwrap();
    let roots = ["$emqx".to_owned()];
    let broker = ManagedBroker::start(state.path(), DEFAULT_PORT, &roots)
        .await
        .unwrap();
    let login = broker.service_account().clone();
    assert!(broker.url().starts_with("mqtt://127.0.0.1:"));
    let port = broker.port();
    let log = state.path().join("mosquitto/mosquitto.log");
    assert!(
        log.is_file(),
        "mosquitto could not write its state directory"
    );

    let _responder = start_responder("responder", port, &login).await;
    let (dev, mut replies) = device("dev", port, &login).await;
    first_reply(&dev, &mut replies).await;
    let mut times = Vec::new();
    for i in 0..21 {
        let time = round_trip(&dev, &mut replies, &format!("r{i}"), DEADLINE)
            .await
            .expect("a reply");
        times.push(time);
    }
    times.sort();
    let median = times[times.len() / 2];
    // With Nagle on (mosquitto's default) every QoS1 round trip takes ≥ 40 ms.
    assert!(
        median < Duration::from_millis(25),
        "median QoS1 round trip {median:?}: set_tcp_nodelay is not in effect"
    );

    let first_pid = broker.pid();
    let killed = std::process::Command::new("kill")
        .args(["-9", &first_pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + DEADLINE;
    while broker.pid() == first_pid {
        assert!(Instant::now() < deadline, "mosquitto was not restarted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Fresh clean-session clients against the restarted broker.
    let _responder = start_responder("responder-after-restart", port, &login).await;
    let (dev, mut replies) = device("dev-after-restart", port, &login).await;
    first_reply(&dev, &mut replies).await;

    broker.stop().await;
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "mosquitto still listens after stop"
    );
}

/// Whether the broker accepts a connection with these credentials.
async fn accepts(port: u16, credentials: Option<(&str, &str)>) -> bool {
    let mut options = MqttOptions::new("probe", "127.0.0.1", port);
    if let Some((username, password)) = credentials {
        options.set_credentials(username, password);
    }
    let (_client, mut eventloop) = AsyncClient::new(options, 10);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match tokio::time::timeout_at(deadline, eventloop.poll()).await {
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => return true,
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return false,
            Err(_) => panic!("no answer to CONNECT"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_managed_mosquitto_refuses_anonymous_and_wrong_logins_and_keeps_no_plaintext() {
    let state = tempfile::tempdir().unwrap();
    let broker = ManagedBroker::start(state.path(), DEFAULT_PORT, &[])
        .await
        .unwrap();
    let port = broker.port();
    let login = broker.service_account().clone();
    assert!(
        !accepts(port, None).await,
        "an anonymous client was accepted"
    );
    assert!(!accepts(port, Some((&login.username, "wrong"))).await);
    assert!(accepts(port, Some((&login.username, &login.password))).await);
    let accounts =
        std::fs::read_to_string(state.path().join("mosquitto/dynamic-security.json")).unwrap();
    assert!(!accounts.contains(&login.password));
    broker.stop().await;
}
