//! A simulated device answering commands (EMQX Fleets' topics, see
//! fleetjobs' docs/commands.md): it subscribes to
//! `{prefix}/{thing}/executions/+/request` and to the service's replies
//! `…/executions/+/response/+`, and answers each request on
//! `…/executions/{executionId}/response` the way its [`CommandBehaviour`]
//! says. A request whose `timestamp + ttl` has passed (by the device's
//! clock) is dropped unanswered, as a device should.
//!
//! Like [`Device`](crate::Device): a persistent session (clean session off,
//! QoS 1, client id = thing name), so requests sent while it is offline
//! arrive when it reconnects; every wait has a deadline.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rumqttc::{Client, Event, NetworkOptions, Outgoing, Packet, QoS, SubscribeFilter};
use serde_json::{json, Value};

use crate::{options, parse_body, Error, Reply};

/// How a [`CommandDevice`] answers the requests it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandBehaviour {
    /// SUCCEEDED with a result echoing the action and its params.
    Succeed,
    /// FAILED with a statusReason.
    Fail,
    /// REJECTED with a statusReason.
    Reject,
    /// IN_PROGRESS, then SUCCEEDED with a result.
    ProgressThenSucceed,
    /// Never answers.
    Ignore,
    /// SUCCEEDED, but only after this long.
    Late(Duration),
    /// Records the requests; the caller answers with
    /// [`CommandDevice::respond`].
    Manual,
}

/// A command request the device received.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandRequest {
    pub topic: String,
    pub execution_id: String,
    /// `{commandId, action, params, timestamp, ttl}`.
    pub body: Value,
}

#[derive(Default)]
struct Inbox {
    requests: VecDeque<CommandRequest>,
    replies: VecDeque<Reply>,
    connections: u64,
    last_error: Option<String>,
    closed: bool,
}

struct Shared {
    inbox: Mutex<Inbox>,
    changed: Condvar,
    stopping: AtomicBool,
    /// Requests received (fresh ones), dropped as expired, and answers
    /// the service accepted.
    received: AtomicU64,
    dropped: AtomicU64,
    accepted: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, f: impl FnOnce(&mut Inbox)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }
}

/// One device answering commands.
pub struct CommandDevice {
    thing: String,
    /// `{prefix}/{thing}/executions`
    base: String,
    client: Client,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A device's command side: answers the requests under
/// `{prefix}/{thing}/executions/` as its behaviour says and records them and
/// the service's replies. A [`CommandDevice`] is one on a connection of its
/// own; a jobs [`Device`](crate::Device) can carry one on its connection
/// (`Device::connect_with_commands`), as a real device would.
pub(crate) struct Responder {
    /// `{prefix}/{thing}/executions`
    base: String,
    behaviour: CommandBehaviour,
    shared: Arc<Shared>,
}

impl Responder {
    pub(crate) fn new(prefix: &str, thing: &str, behaviour: CommandBehaviour) -> Responder {
        Responder {
            base: format!("{prefix}/{thing}/executions"),
            behaviour,
            shared: Arc::new(Shared {
                inbox: Mutex::new(Inbox::default()),
                changed: Condvar::new(),
                stopping: AtomicBool::new(false),
                received: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                accepted: AtomicU64::new(0),
            }),
        }
    }

    /// The subscriptions: the requests and the service's replies.
    pub(crate) fn filters(&self) -> [String; 2] {
        [
            format!("{}/+/request", self.base),
            format!("{}/+/response/+", self.base),
        ]
    }

    /// Handles `publish` if it is under this device's `executions/`;
    /// whether it was.
    pub(crate) fn handle(&self, client: &Client, publish: &rumqttc::Publish) -> bool {
        incoming(client, &self.shared, &self.base, self.behaviour, publish)
    }

    /// (fresh requests received, answers accepted, expired requests dropped)
    pub(crate) fn counts(&self) -> (u64, u64, u64) {
        (
            self.shared.received.load(Ordering::SeqCst),
            self.shared.accepted.load(Ordering::SeqCst),
            self.shared.dropped.load(Ordering::SeqCst),
        )
    }
}

/// The answers `behaviour` gives to `request`, each after a delay.
fn answers(behaviour: CommandBehaviour, request: &Value) -> Vec<(Duration, Value)> {
    let result = json!({"action": request["action"], "params": request["params"], "ok": true});
    let now = Duration::ZERO;
    match behaviour {
        CommandBehaviour::Succeed => vec![(now, json!({"status": "SUCCEEDED", "result": result}))],
        CommandBehaviour::Fail => vec![(
            now,
            json!({"status": "FAILED", "statusReason": {
                "reasonCode": "DEVICE_ERROR", "reasonDescription": "the simulated device failed"}}),
        )],
        CommandBehaviour::Reject => vec![(
            now,
            json!({"status": "REJECTED", "statusReason": {
                "reasonCode": "UNSUPPORTED_ACTION", "reasonDescription": "the simulated device refuses it"}}),
        )],
        CommandBehaviour::ProgressThenSucceed => vec![
            (now, json!({"status": "IN_PROGRESS"})),
            (now, json!({"status": "SUCCEEDED", "result": result})),
        ],
        CommandBehaviour::Late(delay) => {
            vec![(delay, json!({"status": "SUCCEEDED", "result": result}))]
        }
        CommandBehaviour::Ignore | CommandBehaviour::Manual => Vec::new(),
    }
}

/// Whether a request's `timestamp + ttl` (epoch seconds) has passed.
fn expired(request: &Value) -> bool {
    let (Some(timestamp), Some(ttl)) = (request["timestamp"].as_i64(), request["ttl"].as_i64())
    else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    timestamp + ttl < now
}

impl CommandDevice {
    /// Connects `thing` (its login: the thing name and `token`), subscribes
    /// to its requests and replies under `prefix`, and answers as
    /// `behaviour` says. Returns once the subscriptions are acknowledged.
    pub fn connect(
        mqtt_url: &str,
        prefix: &str,
        thing: &str,
        token: Option<&str>,
        behaviour: CommandBehaviour,
        timeout: Duration,
    ) -> Result<CommandDevice, Error> {
        let (client, mut connection) = Client::new(options(mqtt_url, thing, token)?, 1_000);
        let mut network = NetworkOptions::new();
        network.set_tcp_nodelay(true);
        connection.eventloop.set_network_options(network);
        let responder = Responder::new(prefix, thing, behaviour);
        let (base, shared) = (responder.base.clone(), responder.shared.clone());
        let thread = std::thread::Builder::new()
            .name(format!("fleetjobs-sim-commands-{thing}"))
            .spawn({
                let (client, shared) = (client.clone(), shared.clone());
                move || {
                    let mut first = true;
                    let filters = responder.filters();
                    for event in connection.iter() {
                        match event {
                            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                                if first || !ack.session_present {
                                    let filters = filters
                                        .iter()
                                        .map(|f| SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
                                    if let Err(e) = client.try_subscribe_many(filters) {
                                        shared
                                            .update(|inbox| inbox.last_error = Some(e.to_string()));
                                    }
                                } else {
                                    shared.update(|inbox| inbox.connections += 1);
                                }
                                first = false;
                            }
                            Ok(Event::Incoming(Packet::SubAck(_))) => {
                                shared.update(|inbox| inbox.connections += 1);
                            }
                            Ok(Event::Incoming(Packet::Publish(publish))) => {
                                responder.handle(&client, &publish);
                            }
                            Ok(Event::Outgoing(Outgoing::Disconnect))
                                if shared.stopping.load(Ordering::SeqCst) =>
                            {
                                break
                            }
                            Ok(_) => {}
                            Err(error) => {
                                if shared.stopping.load(Ordering::SeqCst) {
                                    break;
                                }
                                shared.update(|inbox| inbox.last_error = Some(error.to_string()));
                                std::thread::sleep(Duration::from_millis(200));
                            }
                        }
                        if shared.stopping.load(Ordering::SeqCst) {
                            break;
                        }
                    }
                    shared.update(|inbox| inbox.closed = true);
                }
            })
            .map_err(|e| Error::Client {
                thing: thing.to_owned(),
                reason: e.to_string(),
            })?;
        let device = CommandDevice {
            thing: thing.to_owned(),
            base,
            client,
            shared,
            thread: Some(thread),
        };
        device.wait(
            timeout,
            || "the subscriptions".to_owned(),
            |inbox| (inbox.connections >= 1).then_some(()),
        )?;
        Ok(device)
    }

    pub fn thing(&self) -> &str {
        &self.thing
    }

    /// Fresh requests received so far.
    pub fn received(&self) -> u64 {
        self.shared.received.load(Ordering::SeqCst)
    }

    /// Requests dropped because their `timestamp + ttl` had passed.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::SeqCst)
    }

    /// Answers the service accepted.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// The next request received (fresh ones only), within `timeout`.
    pub fn next_request(&self, timeout: Duration) -> Result<CommandRequest, Error> {
        self.wait(
            timeout,
            || format!("a request on {}/+/request", self.base),
            |inbox| inbox.requests.pop_front(),
        )
    }

    /// Publishes `body` (QoS 1) on `…/executions/{execution_id}/response`.
    pub fn respond(&self, execution_id: &str, body: &Value) -> Result<(), Error> {
        self.publish_raw(
            &format!("{}/{execution_id}/response", self.base),
            body.to_string().as_bytes(),
        )
    }

    /// Publishes raw bytes (QoS 1) on any topic (to try what a device must
    /// not do).
    pub fn publish_raw(&self, topic: &str, payload: &[u8]) -> Result<(), Error> {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
            .map_err(|e| Error::Client {
                thing: self.thing.clone(),
                reason: e.to_string(),
            })
    }

    /// The next reply of the service to a response about `execution_id`
    /// (on `…/response/accepted` or `…/response/rejected`), within `timeout`.
    pub fn next_reply(&self, execution_id: &str, timeout: Duration) -> Result<Reply, Error> {
        let prefix = format!("{}/{execution_id}/response/", self.base);
        self.wait(
            timeout,
            || format!("a reply on {prefix}accepted|rejected"),
            |inbox| {
                let index = inbox
                    .replies
                    .iter()
                    .position(|r| r.topic.starts_with(&prefix))?;
                inbox.replies.remove(index)
            },
        )
    }

    /// Disconnects cleanly: the broker keeps the session and queues QoS 1
    /// requests for it.
    pub fn disconnect(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        let _ = self.client.try_disconnect();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn wait<T>(
        &self,
        timeout: Duration,
        what: impl Fn() -> String,
        mut take: impl FnMut(&mut Inbox) -> Option<T>,
    ) -> Result<T, Error> {
        let deadline = Instant::now() + timeout;
        let mut inbox = self.shared.lock();
        loop {
            if let Some(found) = take(&mut inbox) {
                return Ok(found);
            }
            if inbox.closed {
                return Err(Error::Closed {
                    thing: self.thing.clone(),
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let error = inbox.last_error.clone().unwrap_or_default();
                return Err(Error::Timeout {
                    thing: self.thing.clone(),
                    what: format!("{} {error}", what()),
                    timeout,
                });
            }
            inbox = self
                .shared
                .changed
                .wait_timeout(inbox, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for CommandDevice {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A message under the device's `executions/`: a request it answers (and
/// records), or a reply of the service it records.
fn incoming(
    client: &Client,
    shared: &Arc<Shared>,
    base: &str,
    behaviour: CommandBehaviour,
    publish: &rumqttc::Publish,
) -> bool {
    let Some(rest) = publish
        .topic
        .strip_prefix(base)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    let levels: Vec<&str> = rest.split('/').collect();
    match levels[..] {
        [execution_id, "request"] => {
            let body = parse_body(&publish.payload);
            if expired(&body) {
                shared.dropped.fetch_add(1, Ordering::SeqCst);
                return true;
            }
            shared.received.fetch_add(1, Ordering::SeqCst);
            let topic = format!("{base}/{execution_id}/response");
            let mut delayed = Vec::new();
            for (delay, answer) in answers(behaviour, &body) {
                if delay.is_zero() && delayed.is_empty() {
                    let _ = client.try_publish(
                        &topic,
                        QoS::AtLeastOnce,
                        false,
                        answer.to_string().into_bytes(),
                    );
                } else {
                    delayed.push((delay, answer));
                }
            }
            if !delayed.is_empty() {
                let (client, topic) = (client.clone(), topic.clone());
                std::thread::spawn(move || {
                    for (delay, answer) in delayed {
                        std::thread::sleep(delay);
                        let _ = client.publish(
                            &topic,
                            QoS::AtLeastOnce,
                            false,
                            answer.to_string().into_bytes(),
                        );
                    }
                });
            }
            let request = CommandRequest {
                topic: publish.topic.clone(),
                execution_id: execution_id.to_owned(),
                body,
            };
            shared.update(|inbox| {
                if inbox.requests.len() >= 10_000 {
                    inbox.requests.pop_front();
                }
                inbox.requests.push_back(request)
            });
        }
        [_, "response", outcome @ ("accepted" | "rejected")] => {
            let accepted = outcome == "accepted";
            if accepted {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
            }
            let reply = Reply {
                accepted,
                body: parse_body(&publish.payload),
                topic: publish.topic.clone(),
            };
            shared.update(|inbox| {
                if inbox.replies.len() >= 10_000 {
                    inbox.replies.pop_front();
                }
                inbox.replies.push_back(reply)
            });
        }
        _ => {}
    }
    true
}
