//! MQTT load on rumqttc: the closed request/reply loop that both the devices
//! and the broker's own limit run, the echo responder and the one-way rate.
//!
//! Every client sets TCP_NODELAY, as the host's clients and the simulator do:
//! without it each QoS1 round trip waits ~44 ms for Nagle (limits.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{
    AsyncClient, Event, EventLoop, MqttOptions, NetworkOptions, Packet, QoS, SubscribeReasonCode,
};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::latency::Latency;
use crate::Result;

/// Queued requests per client. Above the 100 requests the echo responder
/// can owe at once, so its non-blocking publish never finds it full.
const REQUEST_CAPACITY: usize = 1_000;
/// Unacknowledged QoS1 publishes per client: a wide window, so that the one-way
/// rate is the broker's and not the publisher's.
const INFLIGHT: u16 = 1_000;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A broker login: the managed mosquitto refuses anonymous clients.
#[derive(Debug, Clone)]
pub struct Login {
    pub username: String,
    pub password: String,
}

/// A client of the broker on 127.0.0.1:`port`. It connects on its first poll.
pub fn client(port: u16, client_id: &str, login: &Login) -> (AsyncClient, EventLoop) {
    let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
    options.set_credentials(&login.username, &login.password);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_inflight(INFLIGHT);
    // The host's notices carry the job document.
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, REQUEST_CAPACITY);
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    (client, eventloop)
}

/// Polls until the client is connected.
async fn connected(eventloop: &mut EventLoop) -> Result<()> {
    tokio::time::timeout(CONNECT_TIMEOUT, async {
        loop {
            if let Event::Incoming(Packet::ConnAck(_)) = eventloop.poll().await? {
                return Ok(());
            }
        }
    })
    .await
    .map_err(|_| "no CONNACK from the broker")?
}

/// Subscribes to `filter` at QoS1 and polls until the broker granted it.
pub async fn subscribe(
    client: &AsyncClient,
    eventloop: &mut EventLoop,
    filter: &str,
) -> Result<()> {
    client.subscribe(filter, QoS::AtLeastOnce).await?;
    tokio::time::timeout(CONNECT_TIMEOUT, async {
        loop {
            if let Event::Incoming(Packet::SubAck(ack)) = eventloop.poll().await? {
                if ack.return_codes.contains(&SubscribeReasonCode::Failure) {
                    return Err(format!("the broker refused the subscription {filter}").into());
                }
                return Ok(());
            }
        }
    })
    .await
    .map_err(|_| format!("no SUBACK for {filter}"))?
}

/// The topic of the next message the client receives.
async fn next_message(eventloop: &mut EventLoop) -> Result<String> {
    loop {
        if let Event::Incoming(Packet::Publish(publish)) = eventloop.poll().await? {
            return Ok(publish.topic);
        }
    }
}

/// One client of a closed request/reply loop.
pub struct Conversation {
    pub client_id: String,
    pub login: Login,
    pub request_topic: String,
    /// Subscribed before the run; every message on it answers the request.
    pub reply_filter: String,
    /// The answer that counts; any other on `reply_filter` is a rejection.
    pub accepted_topic: String,
}

/// When a run counts: answers that arrive during `measure`, after `warmup`.
#[derive(Clone, Copy)]
pub struct Window {
    pub warmup: Duration,
    pub measure: Duration,
}

pub struct LoopReport {
    /// Accepted answers per second in the window.
    pub per_second: f64,
    pub rejected: u64,
    /// Request to accepted answer.
    pub latency: Latency,
}

/// Runs every conversation at once, each with exactly one request
/// outstanding: a QoS1 publish, then the wait for its answer (a closed loop,
/// as devices behave and as limits.md measured the broker). The clients all
/// connect and subscribe first; `payload(conversation, n)` is its `n`th request.
pub async fn closed_loop<P>(
    port: u16,
    conversations: Vec<Conversation>,
    payload: P,
    window: Window,
) -> Result<LoopReport>
where
    P: Fn(&Conversation, u64) -> Vec<u8> + Send + Sync + 'static,
{
    let clients = conversations.len();
    let payload = Arc::new(payload);
    let (ready, mut readies) = mpsc::channel(clients);
    let (start, started) = watch::channel(None);
    let mut tasks = JoinSet::new();
    for conversation in conversations {
        tasks.spawn(converse(
            port,
            conversation,
            payload.clone(),
            ready.clone(),
            started.clone(),
            window,
        ));
    }
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    for _ in 0..clients {
        tokio::select! {
            _ = readies.recv() => {}
            Some(stopped) = tasks.join_next() => {
                stopped??;
                return Err("a client stopped before the run".into());
            }
            _ = tokio::time::sleep_until(deadline) => {
                return Err("the clients did not all connect and subscribe in 30 s".into());
            }
        }
    }
    start.send_replace(Some(Instant::now()));

    let mut latency = Latency::new();
    let (mut accepted, mut rejected) = (0, 0);
    while let Some(tally) = tasks.join_next().await {
        let tally = tally??;
        accepted += tally.accepted;
        rejected += tally.rejected;
        latency.merge(&tally.latency);
    }
    Ok(LoopReport {
        per_second: accepted as f64 / window.measure.as_secs_f64(),
        rejected,
        latency,
    })
}

struct Tally {
    accepted: u64,
    rejected: u64,
    latency: Latency,
}

/// One client's side of [`closed_loop`].
async fn converse<P>(
    port: u16,
    conversation: Conversation,
    payload: Arc<P>,
    ready: mpsc::Sender<()>,
    mut start: watch::Receiver<Option<Instant>>,
    window: Window,
) -> Result<Tally>
where
    P: Fn(&Conversation, u64) -> Vec<u8>,
{
    let (client, mut eventloop) = client(port, &conversation.client_id, &conversation.login);
    subscribe(&client, &mut eventloop, &conversation.reply_filter).await?;
    ready.send(()).await?;
    let started = start.wait_for(Option::is_some).await?.expect("started");
    let counts_from = started + window.warmup;
    let counts_until = counts_from + window.measure;

    let mut tally = Tally {
        accepted: 0,
        rejected: 0,
        latency: Latency::new(),
    };
    for n in 0.. {
        let sent = Instant::now();
        if sent >= counts_until {
            break;
        }
        let request = payload(&conversation, n);
        client
            .publish(
                &conversation.request_topic,
                QoS::AtLeastOnce,
                false,
                request,
            )
            .await?;
        let topic = tokio::time::timeout(REPLY_TIMEOUT, next_message(&mut eventloop))
            .await
            .map_err(|_| format!("no answer on {} in 30 s", conversation.reply_filter))??;
        let answered = Instant::now();
        if answered < counts_from || answered > counts_until {
            continue;
        }
        if topic == conversation.accepted_topic {
            tally.accepted += 1;
            tally.latency.record(answered - sent);
        } else {
            tally.rejected += 1;
        }
    }
    Ok(tally)
}

/// The broker's own QoS1 request/reply limit: `clients` clients (logged in
/// as `login`, with the payloads the measured row sends) in a closed loop
/// against [`echo_responder`].
pub async fn request_reply_limit<P>(
    port: u16,
    login: &Login,
    clients: usize,
    payload: P,
    window: Window,
) -> Result<LoopReport>
where
    P: Fn(&Conversation, u64) -> Vec<u8> + Send + Sync + 'static,
{
    let responder = echo_responder(port, login).await?;
    let echoes = (0..clients)
        .map(|i| {
            let (request_topic, reply_topic) = echo_topics(i);
            Conversation {
                client_id: format!("bench-echo-{i}"),
                login: login.clone(),
                request_topic,
                reply_filter: reply_topic.clone(),
                accepted_topic: reply_topic,
            }
        })
        .collect();
    let report = closed_loop(port, echoes, payload, window).await;
    responder.abort();
    report
}

/// The request and reply topics of the broker's own request/reply limit.
/// Outside the device topics, so the host under test never sees them.
pub fn echo_topics(client: usize) -> (String, String) {
    (
        format!("bench/{client}/request"),
        format!("bench/{client}/reply"),
    )
}

/// A responder that answers every request of [`echo_topics`] with its own
/// payload, at QoS1: the broker's round trip with nothing behind it. Abort
/// the handle to stop it.
pub async fn echo_responder(port: u16, login: &Login) -> Result<JoinHandle<()>> {
    let (client, mut eventloop) = client(port, "bench-echo-responder", login);
    subscribe(&client, &mut eventloop, "bench/+/request").await?;
    Ok(tokio::spawn(async move {
        while let Ok(event) = eventloop.poll().await {
            if let Event::Incoming(Packet::Publish(request)) = event {
                if let Some(device) = request.topic.strip_suffix("/request") {
                    // Non-blocking: this task is also the one that sends it.
                    let _ = client.try_publish(
                        format!("{device}/reply"),
                        QoS::AtLeastOnce,
                        false,
                        request.payload.to_vec(),
                    );
                }
            }
        }
    }))
}

/// Messages/s of `count` QoS1 publishes of `payload_len` bytes from one client
/// to one subscriber, from the first publish to the last arrival.
pub async fn one_way_rate(port: u16, login: &Login, count: u64, payload_len: usize) -> Result<f64> {
    const TOPIC: &str = "bench/one-way";
    let (subscriber, mut inbox) = client(port, "bench-one-way-subscriber", login);
    subscribe(&subscriber, &mut inbox, TOPIC).await?;
    let last_arrival = tokio::spawn(async move {
        for _ in 0..count {
            next_message(&mut inbox).await?;
        }
        Ok::<_, crate::Error>(Instant::now())
    });

    let (publisher, mut outbox) = client(port, "bench-one-way-publisher", login);
    connected(&mut outbox).await?;
    let sender = tokio::spawn(async move { while outbox.poll().await.is_ok() {} });
    let payload = vec![b'x'; payload_len];
    let first_publish = Instant::now();
    for _ in 0..count {
        publisher
            .publish(TOPIC, QoS::AtLeastOnce, false, payload.clone())
            .await?;
    }
    let arrived = tokio::time::timeout(Duration::from_secs(120), last_arrival).await;
    sender.abort();
    let last =
        arrived.map_err(|_| format!("{count} one-way messages did not arrive in 120 s"))???;
    Ok(count as f64 / (last - first_publish).as_secs_f64())
}
