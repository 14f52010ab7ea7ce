//! A simulated IoT device that speaks the AWS IoT Jobs device protocol over MQTT.
//!
//! fleetjobs serves the IoT Jobs device API on MQTT: a device publishes
//! requests to `{prefix}/{thing}/jobs/get`, `…/jobs/start-next`,
//! `…/jobs/{jobId}/get` and `…/jobs/{jobId}/update`, and the service answers
//! on the request topic plus `/accepted` or `/rejected`, echoing the request's
//! `clientToken`; it also pushes `…/jobs/notify` and `…/jobs/notify-next`.
//! [`Device`] plays such a device against a real broker, so that end-to-end
//! tests and load runs exercise the service exactly as a fleet would: a
//! persistent MQTT session (clean session off, QoS 1), the subscription
//! `{prefix}/{thing}/jobs/#`, and replies matched to requests by client token.
//!
//! The API is synchronous. Each device owns a rumqttc connection iterated on
//! a background thread, which survives broker restarts (rumqttc reconnects;
//! the device resubscribes when the broker lost its session). Every wait takes
//! a timeout and ends at a deadline: nothing sleeps for a fixed time.
//!
//! [`Fleet`] runs many such devices in one process, each driven by an agent
//! that runs the jobs it is handed the way its [`Behaviour`] says (succeed,
//! fail, reject, hang, connect late, or run slowly), and counts what happened.
//!
//! [`CommandDevice`] answers commands (`{prefix}/{thing}/executions/+/request`)
//! by its [`CommandBehaviour`]: succeed with a result, fail, reject, report
//! progress first, ignore, answer late, or leave the answer to the caller;
//! it drops a request whose `timestamp + ttl` has passed.
//!
//! The `fleetjobs-sim` binary runs such a fleet with a live summary (`run`),
//! and draws a job's progress as the control plane reports it (`watch`).

mod commands;
mod fleet;

pub use commands::{CommandBehaviour, CommandDevice, CommandRequest};
pub use fleet::{Behaviour, Fleet, FleetConfig, Outcome, Summary};

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{Client, Connection, Event, MqttOptions, NetworkOptions, Outgoing, Packet, QoS};
use serde_json::{json, Value};

/// Keep-alive of every device connection.
const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// Pause between reconnection attempts after a connection error.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(200);
/// Capacity of the request channel between a [`Device`] and its connection thread.
const REQUEST_CAPACITY: usize = 1_000;
/// Unclaimed replies (and notices) kept per device; the oldest are dropped beyond this.
const INBOX_LIMIT: usize = 10_000;

/// What went wrong talking to the broker.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The MQTT URL could not be turned into connection options.
    #[error("invalid MQTT URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    /// Nothing awaited arrived before the deadline.
    #[error("{thing}: timed out after {timeout:?} waiting for {what}")]
    Timeout {
        thing: String,
        what: String,
        timeout: Duration,
    },
    /// The request could not be handed to the MQTT client.
    #[error("{thing}: MQTT client: {reason}")]
    Client { thing: String, reason: String },
    /// The device's connection thread has stopped.
    #[error("{thing}: the MQTT connection has stopped")]
    Closed { thing: String },
}

/// A reply of the service: a message on `{prefix}/{thing}/jobs/{suffix}/accepted|rejected`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// True for `…/accepted`, false for `…/rejected`.
    pub accepted: bool,
    /// The full topic the reply came on.
    pub topic: String,
    /// The reply's JSON body; a body that is not JSON is kept as a JSON string.
    pub body: Value,
}

impl Reply {
    /// The body's `clientToken`, when it is a string.
    pub fn client_token(&self) -> Option<&str> {
        self.body.get("clientToken").and_then(Value::as_str)
    }
}

/// Which notice topic a [`Notice`] came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// `{prefix}/{thing}/jobs/notify`
    Notify,
    /// `{prefix}/{thing}/jobs/notify-next`
    NotifyNext,
}

/// A message the service pushed unasked.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub kind: NoticeKind,
    /// The notice's JSON body; a body that is not JSON is kept as a JSON string.
    pub body: Value,
}

/// What the connection thread has received and how the connection stands.
#[derive(Default)]
struct Inbox {
    /// Replies not yet taken, in arrival order.
    replies: VecDeque<Reply>,
    /// Notices not yet taken, in arrival order.
    notices: VecDeque<Notice>,
    /// How many times the connection became ready (connected, subscription in place).
    connections: u64,
    /// The last connection error, for timeout messages.
    last_error: Option<String>,
    /// The connection thread has ended.
    closed: bool,
}

struct Shared {
    inbox: Mutex<Inbox>,
    changed: Condvar,
    stopping: AtomicBool,
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

/// Stops a [`Device`]'s connection from another thread: the device disconnects
/// cleanly and every wait on it (a call, a notice) ends at once with
/// [`Error::Closed`].
pub(crate) struct Closer {
    client: Client,
    shared: Arc<Shared>,
}

impl Closer {
    pub(crate) fn close(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wakes the thread if it is connected; if it is not, its next
        // connection error ends it.
        let _ = self.client.try_disconnect();
    }
}

/// What ended [`Device::wait_for_work`].
pub(crate) enum Wake {
    /// A notice matching the predicate arrived (and was taken).
    Notified,
    /// The connection became ready again: this is the new connection count.
    Reconnected(u64),
}

/// One simulated device: an MQTT session whose client id is the thing name.
pub struct Device {
    thing: String,
    /// `{prefix}/{thing}/jobs`
    base: String,
    client: Client,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    call_timeout: Duration,
    /// Its command side, when it answers commands.
    commands: Option<Arc<commands::Responder>>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("thing", &self.thing)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// What a topic under `{base}/` is to the device.
enum Incoming {
    Reply { accepted: bool },
    Notice(NoticeKind),
    Other,
}

fn classify(base: &str, topic: &str) -> Incoming {
    let Some(rest) = topic
        .strip_prefix(base)
        .and_then(|rest| rest.strip_prefix('/'))
    else {
        return Incoming::Other;
    };
    match rest {
        "notify" => Incoming::Notice(NoticeKind::Notify),
        "notify-next" => Incoming::Notice(NoticeKind::NotifyNext),
        _ if rest.ends_with("/accepted") => Incoming::Reply { accepted: true },
        _ if rest.ends_with("/rejected") => Incoming::Reply { accepted: false },
        _ => Incoming::Other,
    }
}

fn parse_body(payload: &[u8]) -> Value {
    serde_json::from_slice(payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()))
}

/// The first notice matching `pred`, discarding the ones before it.
fn take_notice(inbox: &mut Inbox, pred: impl Fn(&Notice) -> bool) -> Option<Notice> {
    while let Some(notice) = inbox.notices.pop_front() {
        if pred(&notice) {
            return Some(notice);
        }
    }
    None
}

fn push_bounded<T>(queue: &mut VecDeque<T>, item: T) {
    if queue.len() >= INBOX_LIMIT {
        queue.pop_front();
    }
    queue.push_back(item);
}

/// Connection options for `thing` from a URL such as `mqtt://127.0.0.1:1883`;
/// with a device token the login is the thing's name and the token.
fn options(mqtt_url: &str, thing: &str, token: Option<&str>) -> Result<MqttOptions, Error> {
    // parse_url insists on a client_id; the thing name (which need not be
    // URL-safe) is set afterwards.
    let url = if mqtt_url.contains("client_id=") {
        mqtt_url.to_owned()
    } else {
        let separator = if mqtt_url.contains('?') { '&' } else { '?' };
        format!("{mqtt_url}{separator}client_id=fleetjobs-sim")
    };
    let mut options = MqttOptions::parse_url(url).map_err(|e| Error::Url {
        url: mqtt_url.to_owned(),
        reason: e.to_string(),
    })?;
    options
        .set_client_id(thing.to_owned())
        .set_clean_session(false)
        .set_keep_alive(KEEP_ALIVE);
    if let Some(token) = token {
        options.set_credentials(thing, token);
    }
    Ok(options)
}

/// Drives the connection until the device stops: records replies and notices,
/// subscribes on the first connection and whenever the broker lost the session,
/// and keeps polling after errors so that rumqttc reconnects.
fn run_connection(
    mut connection: Connection,
    client: Client,
    shared: Arc<Shared>,
    base: String,
    filter: String,
    commands: Option<Arc<commands::Responder>>,
) {
    // One SUBSCRIBE for all, so one SUBACK says the device is ready.
    let mut filters = vec![filter];
    filters.extend(commands.iter().flat_map(|c| c.filters()));
    let mut first = true;
    loop {
        let event = match connection.recv() {
            Ok(event) => event,
            Err(_) => break, // every client handle is gone
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                if first || !ack.session_present {
                    let subscriptions = filters
                        .iter()
                        .map(|f| rumqttc::SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
                    if let Err(e) = client.try_subscribe_many(subscriptions) {
                        shared.update(|inbox| inbox.last_error = Some(e.to_string()));
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
                if commands
                    .as_ref()
                    .is_some_and(|c| c.handle(&client, &publish))
                {
                    continue;
                }
                match classify(&base, &publish.topic) {
                    Incoming::Reply { accepted } => {
                        let reply = Reply {
                            accepted,
                            body: parse_body(&publish.payload),
                            topic: publish.topic,
                        };
                        shared.update(|inbox| push_bounded(&mut inbox.replies, reply));
                    }
                    Incoming::Notice(kind) => {
                        let notice = Notice {
                            kind,
                            body: parse_body(&publish.payload),
                        };
                        shared.update(|inbox| push_bounded(&mut inbox.notices, notice));
                    }
                    Incoming::Other => {} // e.g. the device's own requests, echoed
                }
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) if shared.stopping.load(Ordering::SeqCst) => {
                break;
            }
            Ok(_) => {}
            Err(error) => {
                if shared.stopping.load(Ordering::SeqCst) {
                    break;
                }
                shared.update(|inbox| inbox.last_error = Some(error.to_string()));
                std::thread::sleep(RECONNECT_BACKOFF);
            }
        }
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
    }
    shared.update(|inbox| inbox.closed = true);
}

impl Device {
    /// Connects `thing` (client id = thing name, clean session off so the
    /// broker keeps its QoS 1 subscription and queues messages while it is
    /// offline, keep-alive 5 s) and subscribes to `{prefix}/{thing}/jobs/#`.
    /// Returns once the subscription is acknowledged, or Err after `timeout`.
    ///
    /// `timeout` is also the default timeout of the convenience wrappers
    /// ([`get`](Self::get), [`start_next`](Self::start_next), …); see
    /// [`set_call_timeout`](Self::set_call_timeout).
    pub fn connect(
        mqtt_url: &str,
        prefix: &str,
        thing: &str,
        token: Option<&str>,
        timeout: Duration,
    ) -> Result<Device, Error> {
        Self::connect_with_commands(mqtt_url, prefix, thing, token, timeout, None)
    }

    /// [`connect`](Self::connect), and on the same connection (one client
    /// id, as a real device) answering commands under
    /// `{commands_prefix}/{thing}/executions/` as `commands` says (see
    /// [`CommandDevice`]).
    pub fn connect_with_commands(
        mqtt_url: &str,
        prefix: &str,
        thing: &str,
        token: Option<&str>,
        timeout: Duration,
        commands: Option<(&str, CommandBehaviour)>,
    ) -> Result<Device, Error> {
        let commands = commands.map(|(commands_prefix, behaviour)| {
            Arc::new(commands::Responder::new(commands_prefix, thing, behaviour))
        });
        let options = options(mqtt_url, thing, token)?;
        let (client, mut connection) = Client::new(options, REQUEST_CAPACITY);
        let mut network = NetworkOptions::new();
        network.set_tcp_nodelay(true);
        connection.eventloop.set_network_options(network);

        let base = format!("{prefix}/{thing}/jobs");
        let shared = Arc::new(Shared {
            inbox: Mutex::new(Inbox::default()),
            changed: Condvar::new(),
            stopping: AtomicBool::new(false),
        });
        let thread = std::thread::Builder::new()
            .name(format!("fleetjobs-sim-{thing}"))
            .spawn({
                let client = client.clone();
                let shared = shared.clone();
                let base = base.clone();
                let filter = format!("{base}/#");
                let commands = commands.clone();
                move || run_connection(connection, client, shared, base, filter, commands)
            })
            .map_err(|e| Error::Client {
                thing: thing.to_owned(),
                reason: format!("cannot start the connection thread: {e}"),
            })?;
        let device = Device {
            thing: thing.to_owned(),
            base,
            client,
            shared,
            thread: Some(thread),
            call_timeout: timeout,
            commands,
        };
        device.wait_connections(1, timeout)?;
        Ok(device)
    }

    /// The thing name (also the MQTT client id).
    pub fn thing(&self) -> &str {
        &self.thing
    }

    /// When it answers commands: (fresh requests received, answers the
    /// service accepted, expired requests dropped).
    pub fn command_counts(&self) -> Option<(u64, u64, u64)> {
        self.commands.as_ref().map(|c| c.counts())
    }

    /// The timeout used by [`get`](Self::get), [`start_next`](Self::start_next),
    /// [`describe`](Self::describe) and [`update`](Self::update).
    pub fn set_call_timeout(&mut self, timeout: Duration) {
        self.call_timeout = timeout;
    }

    /// How many times the connection has become ready: connected with the
    /// subscription in place. Starts at 1 once [`connect`](Self::connect)
    /// returns and grows by one on each reconnection.
    pub fn connections(&self) -> u64 {
        self.shared.lock().connections
    }

    /// Waits until [`connections`](Self::connections) reaches `at_least`
    /// (e.g. one more than before a broker restart); returns the count.
    pub fn wait_connections(&self, at_least: u64, timeout: Duration) -> Result<u64, Error> {
        self.wait(
            timeout,
            || format!("connection #{at_least} with its subscription"),
            |inbox| (inbox.connections >= at_least).then_some(inbox.connections),
        )
    }

    /// Publishes `payload` (QoS 1) to `{prefix}/{thing}/jobs/{suffix}` and
    /// waits for the reply on `…/{suffix}/accepted|rejected` that echoes the
    /// request's client token. A JSON object without `"clientToken"` gets a
    /// fresh unique one; a payload that is not an object is sent as it is and
    /// matched with the first reply that has no `clientToken`. Replies with
    /// other tokens are left for [`next_reply`](Self::next_reply), and so is
    /// a reply that arrives after its call timed out.
    pub fn call(&self, suffix: &str, payload: Value, timeout: Duration) -> Result<Reply, Error> {
        let mut payload = payload;
        let token = match &mut payload {
            Value::Object(map) => Some(
                map.entry("clientToken")
                    .or_insert_with(|| Value::String(uuid::Uuid::new_v4().simple().to_string()))
                    .clone(),
            ),
            _ => None,
        };
        self.publish_raw(suffix, payload.to_string().as_bytes())?;
        let accepted = self.reply_topic(suffix, true);
        let rejected = self.reply_topic(suffix, false);
        self.wait(
            timeout,
            || match &token {
                Some(token) => format!("a reply on {accepted}|rejected with clientToken {token}"),
                None => format!("a reply on {accepted}|rejected without clientToken"),
            },
            |inbox| {
                let index = inbox.replies.iter().position(|reply| {
                    (reply.topic == accepted || reply.topic == rejected)
                        && reply.body.get("clientToken") == token.as_ref()
                })?;
                inbox.replies.remove(index)
            },
        )
    }

    /// Publishes raw bytes (QoS 1), e.g. invalid JSON or an empty payload, to
    /// `{prefix}/{thing}/jobs/{suffix}`. Returns once the request is queued.
    pub fn publish_raw(&self, suffix: &str, payload: &[u8]) -> Result<(), Error> {
        self.client
            .publish(
                format!("{}/{suffix}", self.base),
                QoS::AtLeastOnce,
                false,
                payload.to_vec(),
            )
            .map_err(|e| Error::Client {
                thing: self.thing.clone(),
                reason: e.to_string(),
            })
    }

    /// The next reply, in arrival order, on `…/{suffix}/accepted|rejected`
    /// that no [`call`](Self::call) or earlier `next_reply` has taken,
    /// whatever its client token.
    pub fn next_reply(&self, suffix: &str, timeout: Duration) -> Result<Reply, Error> {
        let accepted = self.reply_topic(suffix, true);
        let rejected = self.reply_topic(suffix, false);
        self.wait(
            timeout,
            || format!("a reply on {accepted}|rejected"),
            |inbox| {
                let index = inbox
                    .replies
                    .iter()
                    .position(|reply| reply.topic == accepted || reply.topic == rejected)?;
                inbox.replies.remove(index)
            },
        )
    }

    /// The next notify / notify-next, in arrival order.
    pub fn next_notice(&self, timeout: Duration) -> Result<Notice, Error> {
        self.wait(
            timeout,
            || "a notice".to_owned(),
            |inbox| inbox.notices.pop_front(),
        )
    }

    /// Waits up to `timeout` for a notice matching `pred`, discarding the
    /// notices before it.
    pub fn notice_where(
        &self,
        timeout: Duration,
        pred: impl Fn(&Notice) -> bool,
    ) -> Result<Notice, Error> {
        self.wait(
            timeout,
            || "a matching notice".to_owned(),
            |inbox| take_notice(inbox, &pred),
        )
    }

    /// Discards the notices received so far; returns how many.
    pub fn drain_notices(&self) -> usize {
        let mut inbox = self.shared.lock();
        let count = inbox.notices.len();
        inbox.notices.clear();
        count
    }

    /// `GetPendingJobExecutions`: `call("get", {})`.
    pub fn get(&self) -> Result<Reply, Error> {
        self.call("get", json!({}), self.call_timeout)
    }

    /// `StartNextPendingJobExecution`: `call("start-next", body)`.
    pub fn start_next(&self, body: Value) -> Result<Reply, Error> {
        self.call("start-next", body, self.call_timeout)
    }

    /// `DescribeJobExecution`: `call("{job_id}/get", body)`; `job_id` may be `$next`.
    pub fn describe(&self, job_id: &str, body: Value) -> Result<Reply, Error> {
        self.call(&format!("{job_id}/get"), body, self.call_timeout)
    }

    /// `UpdateJobExecution`: `call("{job_id}/update", body)`.
    pub fn update(&self, job_id: &str, body: Value) -> Result<Reply, Error> {
        self.call(&format!("{job_id}/update"), body, self.call_timeout)
    }

    /// Disconnects cleanly (an MQTT DISCONNECT: the broker keeps the session
    /// and queues QoS 1 messages for it) and waits for the connection thread.
    pub fn disconnect(mut self) {
        self.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn stop(&self) {
        self.closer().close();
    }

    /// A handle that stops this device from another thread.
    pub(crate) fn closer(&self) -> Closer {
        Closer {
            client: self.client.clone(),
            shared: self.shared.clone(),
        }
    }

    /// Waits up to `timeout` for a notice matching `pred` (discarding the
    /// notices before it) or for [`connections`](Self::connections) to exceed
    /// `connections`, whichever comes first: what an idle agent waits for.
    pub(crate) fn wait_for_work(
        &self,
        connections: u64,
        timeout: Duration,
        pred: impl Fn(&Notice) -> bool,
    ) -> Result<Wake, Error> {
        self.wait(
            timeout,
            || format!("a matching notice or connection #{}", connections + 1),
            |inbox| {
                if inbox.connections > connections {
                    return Some(Wake::Reconnected(inbox.connections));
                }
                take_notice(inbox, &pred).map(|_| Wake::Notified)
            },
        )
    }

    fn reply_topic(&self, suffix: &str, accepted: bool) -> String {
        let outcome = if accepted { "accepted" } else { "rejected" };
        format!("{}/{suffix}/{outcome}", self.base)
    }

    /// Waits until `take` yields something, or `timeout` passes.
    fn wait<T>(
        &self,
        timeout: Duration,
        what: impl FnOnce() -> String,
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
            let now = Instant::now();
            if now >= deadline {
                let mut what = what();
                if let Some(error) = &inbox.last_error {
                    what.push_str(&format!(" (last connection error: {error})"));
                }
                return Err(Error::Timeout {
                    thing: self.thing.clone(),
                    what,
                    timeout,
                });
            }
            inbox = self
                .shared
                .changed
                .wait_timeout(inbox, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_topics() {
        let base = "$aws/things/t1/jobs";
        let kind = |topic: &str| match classify(base, topic) {
            Incoming::Reply { accepted } => format!("reply:{accepted}"),
            Incoming::Notice(kind) => format!("{kind:?}"),
            Incoming::Other => "other".to_owned(),
        };
        assert_eq!(kind("$aws/things/t1/jobs/get/accepted"), "reply:true");
        assert_eq!(
            kind("$aws/things/t1/jobs/$next/get/rejected"),
            "reply:false"
        );
        assert_eq!(kind("$aws/things/t1/jobs/j1/update/accepted"), "reply:true");
        assert_eq!(kind("$aws/things/t1/jobs/notify"), "Notify");
        assert_eq!(kind("$aws/things/t1/jobs/notify-next"), "NotifyNext");
        assert_eq!(kind("$aws/things/t1/jobs/get"), "other");
        assert_eq!(kind("$aws/things/t1/jobs/accepted/update"), "other");
        assert_eq!(kind("$aws/things/t1/jobs/accepted"), "other");
        assert_eq!(kind("$aws/things/t2/jobs/get/accepted"), "other");
        assert_eq!(kind("$aws/things/t1/jobsx/get/accepted"), "other");
    }

    #[test]
    fn options_use_the_thing_as_client_id() {
        let o = options("mqtt://127.0.0.1:1883", "dev:1/a b", None).unwrap();
        assert_eq!(o.client_id(), "dev:1/a b");
        assert!(!o.clean_session());
        assert_eq!(o.keep_alive(), KEEP_ALIVE);
        assert_eq!(o.credentials(), None);
        let o = options("mqtt://127.0.0.1:1883?keep_alive_secs=30", "d", Some("tok")).unwrap();
        assert_eq!(o.credentials(), Some(rumqttc::Login::new("d", "tok")));
        assert_eq!(o.keep_alive(), KEEP_ALIVE);
        assert!(matches!(
            options("http://x", "d", None),
            Err(Error::Url { .. })
        ));
    }
}
