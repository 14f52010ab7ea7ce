//! The MQTT trigger: subscribes each `[[trigger.mqtt]]` topic and calls
//! `handle-message` of world `spin-mqtt` per message. A component's messages
//! whose first `+` wildcard matched the same value are handled in order,
//! across all of that component's subscriptions; others run concurrently
//! (one device's requests stay ordered, devices run in parallel; Spin's
//! plugin handles each subscription strictly in sequence). Lanes live only
//! while they have messages, the instances running at once and the messages
//! in the host are bounded, and a full host withholds acknowledgements so
//! the broker stops sending ([`Lanes`], [`Subscription`]). A topic
//! `$share/{group}/{filter}` is a shared subscription: subscribed as given,
//! matched and keyed by `{filter}`. Reconnects and resubscribes after a
//! broker outage.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{
    AsyncClient, Event, EventLoop, MqttOptions, NetworkOptions, Outgoing, Packet, Publish, QoS,
};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

use crate::app::App;
use crate::bindings::mqtt_trigger::spin::mqtt_trigger::spin_mqtt_types::{Error, Metadata};

/// The filter a subscription matches topics with: `{filter}` of a shared
/// subscription `$share/{group}/{filter}`, else the topic as given.
pub fn topic_filter(subscription: &str) -> &str {
    subscription
        .strip_prefix("$share/")
        .and_then(|rest| rest.split_once('/'))
        .map_or(subscription, |(_group, filter)| filter)
}

/// Whether `topic` matches `filter` by MQTT's rules: `+` one level, `#` the
/// rest (including none); a wildcard in the first level does not match a
/// topic starting with `$`.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut topic_levels = topic.split('/');
    for level in filter.split('/') {
        if level == "#" {
            return true;
        }
        match topic_levels.next() {
            Some(value) if level == "+" || level == value => {}
            _ => return false,
        }
    }
    topic_levels.next().is_none()
}

/// The value a topic's first `+` wildcard matched in `subscription`'s filter
/// (empty when it has none), or `None` when the topic does not match it: the
/// ordering key, so all of one device's requests share a lane whichever of
/// the component's subscriptions delivered them.
pub fn ordering_key<'t>(subscription: &str, topic: &'t str) -> Option<&'t str> {
    let filter = topic_filter(subscription);
    if !matches(filter, topic) {
        return None;
    }
    Some(
        filter
            .split('/')
            .zip(topic.split('/'))
            .find(|(level, _)| *level == "+")
            .map_or("", |(_, value)| value),
    )
}

type Message = (String, Vec<u8>);

/// MQTT-triggered instances running at once, over all components.
const MAX_RUNNING: usize = 64;

/// Messages the host holds (queued in lanes or running), over all
/// subscriptions, unless `FLEETJOBS_MQTT_QUEUE_LIMIT` says otherwise.
pub const QUEUE_LIMIT: usize = 10_000;

/// Room kept below the limit for what a paused connection reads while it
/// sends its keep-alive ping (see [`Subscription::run`]).
const PING_HEADROOM: usize = 100;

/// The ordered lanes: one queue per (component, ordering key), shared by the
/// component's subscriptions, that exists only while it has messages. A lane
/// is created with its first message and a worker that handles its messages
/// in order; the worker retires the lane (under the same lock a new message
/// takes) when it finds it empty, so a later message starts a new lane and
/// still runs after every earlier one. Memory follows the devices active
/// now, not every device ever seen.
///
/// Bounds: at most [`MAX_RUNNING`] instances run at once, and at most
/// `limit` messages are in the host (queued or running). The connections
/// stop reading while the host holds `limit - headroom` (`paused`) and read
/// again once it is a tenth below that; what they read while paused (only
/// around their keep-alive pings) fits in the headroom. A QoS 0 message beyond the limit
/// is dropped (at most once allows it); a QoS 1/2 one is never dropped.
pub struct Lanes {
    queues: std::sync::Mutex<HashMap<(String, String), VecDeque<Message>>>,
    in_host: AtomicUsize,
    high_water: AtomicUsize,
    dropped: AtomicUsize,
    pauses: AtomicUsize,
    limit: usize,
    room: Notify,
    running: Arc<Semaphore>,
}

impl Default for Lanes {
    fn default() -> Self {
        let limit = std::env::var("FLEETJOBS_MQTT_QUEUE_LIMIT")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&limit: &usize| limit > 0)
            .unwrap_or(QUEUE_LIMIT);
        Lanes::with_limit(limit)
    }
}

impl Lanes {
    /// Lanes holding at most `limit` messages.
    pub fn with_limit(limit: usize) -> Self {
        Lanes {
            queues: Default::default(),
            in_host: AtomicUsize::new(0),
            high_water: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            pauses: AtomicUsize::new(0),
            limit,
            room: Notify::new(),
            running: Arc::new(Semaphore::new(MAX_RUNNING)),
        }
    }

    /// Lanes alive now (the test hook reports it).
    pub fn live(&self) -> usize {
        self.queues().len()
    }

    /// Messages queued or being handled.
    pub fn in_host(&self) -> usize {
        self.in_host.load(Ordering::SeqCst)
    }

    /// The most messages the host has held at once.
    pub fn high_water(&self) -> usize {
        self.high_water.load(Ordering::SeqCst)
    }

    /// What the test hook's `mqttTrigger` reports.
    pub fn metrics(&self) -> serde_json::Value {
        serde_json::json!({
            "lanes": self.live(),
            "messagesInHost": self.in_host(),
            "queueHighWater": self.high_water(),
            "queueLimit": self.limit,
            "qos0Dropped": self.dropped.load(Ordering::SeqCst),
            "pauses": self.pauses.load(Ordering::SeqCst),
        })
    }

    /// The number of messages in the host at which connections pause.
    fn pause_at(&self) -> usize {
        self.limit
            .saturating_sub(PING_HEADROOM.min(self.limit / 2))
            .max(1)
    }

    /// Whether connections may read.
    fn has_room(&self) -> bool {
        self.in_host() < self.pause_at()
    }

    /// The number of messages below which paused connections read again: a
    /// tenth under the pause, so that a full host does not pause and resume
    /// for every message handled.
    fn resume_at(&self) -> usize {
        (self.pause_at() - self.pause_at() / 10).max(1)
    }

    /// Waits until a paused connection may read again.
    async fn room(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.in_host() < self.resume_at() {
                return;
            }
            notified.await;
        }
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), VecDeque<Message>>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a message in the host; a QoS 0 one only below the limit.
    fn count_in(&self, qos: QoS) -> bool {
        let now = if qos == QoS::AtMostOnce {
            let limit = self.limit;
            match self
                .in_host
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < limit).then_some(n + 1)
                }) {
                Ok(before) => before + 1,
                Err(_) => {
                    self.dropped.fetch_add(1, Ordering::SeqCst);
                    return false;
                }
            }
        } else {
            self.in_host.fetch_add(1, Ordering::SeqCst) + 1
        };
        self.high_water.fetch_max(now, Ordering::SeqCst);
        true
    }

    fn count_out(&self) {
        let now = self.in_host.fetch_sub(1, Ordering::SeqCst) - 1;
        if now + 1 == self.resume_at() {
            self.room.notify_waiters();
        }
    }

    fn send(self: &Arc<Self>, app: &Arc<App>, component: &str, key: &str, message: Message) {
        let lane = (component.to_owned(), key.to_owned());
        let mut queues = self.queues();
        if let Some(queue) = queues.get_mut(&lane) {
            queue.push_back(message);
            return;
        }
        queues.insert(lane.clone(), VecDeque::from([message]));
        tokio::spawn(self.clone().work(app.clone(), lane));
    }

    /// Handles a lane's messages in order, then retires it.
    async fn work(self: Arc<Self>, app: Arc<App>, lane: (String, String)) {
        loop {
            let next = {
                let mut queues = self.queues();
                let Some(queue) = queues.get_mut(&lane) else {
                    return;
                };
                match queue.pop_front() {
                    Some(message) => message,
                    None => {
                        queues.remove(&lane);
                        // A burst from many devices grew the map: give the
                        // room back once most of it is idle.
                        if queues.capacity() > 1024 && queues.len() < queues.capacity() / 8 {
                            queues.shrink_to_fit();
                        }
                        return;
                    }
                }
            };
            let (topic, payload) = next;
            {
                let _running = self.running.acquire().await;
                handle(&app, &lane.0, topic, payload).await;
            }
            self.count_out();
        }
    }
}

async fn handle(app: &Arc<App>, component_id: &str, topic: String, payload: Vec<u8>) {
    let Some(component) = app.component(component_id).cloned() else {
        return;
    };
    let Some(pre) = component.mqtt.clone() else {
        tracing::error!(component = %component_id, "does not export handle-message");
        return;
    };
    let mut store = app.store(&component, crate::app::TriggerKind::Mqtt);
    let result = match pre.instantiate_async(&mut store).await {
        Ok(instance) => instance
            .call_handle_message(
                &mut store,
                &payload,
                &Metadata {
                    topic: topic.clone(),
                },
            )
            .await
            .map_err(|trap| format!("trapped: {trap:#}"))
            .and_then(|r| r.map_err(|Error::Other(message)| message)),
        Err(e) => Err(format!("{e:#}")),
    };
    if let Err(message) = result {
        tracing::error!(component = %component_id, %topic, "MQTT message failed: {message}");
    }
}

/// Connection settings of `[application.trigger.mqtt]`, rendered.
struct Broker {
    address: String,
    username: String,
    password: String,
    keep_alive: u64,
}

fn broker(app: &App) -> Result<Option<Broker>, String> {
    let Some(config) = &app.manifest.application.trigger.mqtt else {
        return Ok(None);
    };
    let render = |t: &str| app.variables.render(t).map_err(|e| e.to_string());
    Ok(Some(Broker {
        address: render(&config.address)?,
        username: render(&config.username)?,
        password: render(&config.password)?,
        keep_alive: config.keep_alive_secs(),
    }))
}

/// Starts every `[[trigger.mqtt]]`; each stops when `shutdown` flips.
pub fn spawn_all(
    app: &Arc<App>,
    tasks: &mut JoinSet<()>,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), String> {
    let Some(broker) = broker(app)? else {
        return Ok(());
    };
    let lanes = app.mqtt_lanes.clone();
    for (index, trigger) in app.manifest.triggers.mqtt.iter().enumerate() {
        let topic = app
            .variables
            .render(&trigger.topic)
            .map_err(|e| e.to_string())?;
        let qos = qos(trigger.qos_level());
        let (client, eventloop) = client(&broker, &client_id(app, index))?;
        let subscription = Subscription {
            app: app.clone(),
            component: trigger.component.clone(),
            topic,
            qos,
            client,
            lanes: lanes.clone(),
        };
        tasks.spawn(subscription.run(eventloop, shutdown.clone()));
    }
    Ok(())
}

/// The manifest's `qos` (0, 1, anything higher is 2) as rumqttc's.
fn qos(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// The client id of the `index`th subscription: one connection per
/// subscription, and the process id keeps two hosts of one application on
/// one broker from taking each other's connections over.
fn client_id(app: &App, index: usize) -> String {
    format!(
        "fleetjobs-{}-{index}-{}",
        app.manifest.application.name,
        std::process::id()
    )
}

/// `address` with `client_id` as its `client_id` query parameter, unless the
/// address names one already.
fn with_client_id(address: &str, client_id: &str) -> String {
    if address.contains("client_id=") {
        address.to_owned()
    } else {
        let separator = if address.contains('?') { '&' } else { '?' };
        format!("{address}{separator}client_id={client_id}")
    }
}

/// A client of `broker` (not yet connected: its event loop connects when
/// first polled) with a clean session and Nagle off. rumqttc acknowledges a
/// QoS 1 message as it reads it, in arrival order, batched with the read.
fn client(broker: &Broker, client_id: &str) -> Result<(AsyncClient, EventLoop), String> {
    let url = with_client_id(&broker.address, client_id);
    let mut options = MqttOptions::parse_url(&url)
        .map_err(|e| format!("application.trigger.mqtt.address: {e}"))?;
    if !broker.username.is_empty() || !broker.password.is_empty() {
        options.set_credentials(&broker.username, &broker.password);
    }
    options.set_keep_alive(Duration::from_secs(broker.keep_alive.max(5)));
    options.set_clean_session(true);
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    Ok((client, eventloop))
}

/// One `[[trigger.mqtt]]`: its connection and where its messages go.
struct Subscription {
    app: Arc<App>,
    component: String,
    /// The topic, rendered: what is subscribed (`$share/...` included).
    topic: String,
    qos: QoS,
    client: AsyncClient,
    lanes: Arc<Lanes>,
}

impl Subscription {
    /// Drives the connection until `shutdown` flips: subscribes on every
    /// connect, hands each message to its lane, and reconnects after errors.
    ///
    /// Back-pressure: while the host is full the event loop is not polled,
    /// so nothing is read; TCP's flow control stops the broker, which keeps
    /// the messages in the session (mosquitto does not bound a subscriber's
    /// unacknowledged messages by its window once acknowledgements flow, so
    /// withholding them would not hold it back). The keep-alive goes on: at
    /// each ping's time the loop is polled until rumqttc has sent its
    /// PINGREQ, which may read a few packets first (its `select` picks the
    /// ready network or the due ping at random; a read takes at most ten
    /// packets), and those go to their lanes within the headroom. The
    /// PINGRESP waits behind the unread messages, so rumqttc's own check of
    /// it is turned off; a connection that hears nothing for two keep-alive
    /// periods while reading is dropped and made again instead.
    async fn run(self, mut eventloop: EventLoop, mut shutdown: watch::Receiver<bool>) {
        let keep_alive = eventloop.mqtt_options.keep_alive();
        let mut last_heard = Instant::now();
        let mut last_ping = Instant::now();
        loop {
            if !self.lanes.has_room() {
                self.lanes.pauses.fetch_add(1, Ordering::SeqCst);
                loop {
                    // Just after rumqttc's own timer, so that the ping is
                    // due when the loop is polled.
                    let ping_due = last_ping + keep_alive + Duration::from_millis(20);
                    tokio::select! {
                        _ = self.lanes.room() => break,
                        _ = tokio::time::sleep_until(ping_due.into()) => {}
                        _ = shutdown.changed() => return,
                    }
                    // Polled until the ping is out (what is read first is queued).
                    loop {
                        eventloop.state.await_pingresp = false;
                        let event = tokio::select! {
                            event = eventloop.poll() => event,
                            _ = shutdown.changed() => return,
                        };
                        let sent_ping = matches!(event, Ok(Event::Outgoing(Outgoing::PingReq)));
                        let failed = event.is_err();
                        if self
                            .handle(event, &mut last_heard, &mut last_ping, &mut shutdown)
                            .await
                        {
                            return;
                        }
                        if sent_ping || failed {
                            break;
                        }
                    }
                }
                // Reading again: the broker's answers come now.
                last_heard = Instant::now();
            }
            eventloop.state.await_pingresp = false;
            if last_heard.elapsed() > 2 * keep_alive + Duration::from_secs(1) {
                let topic = &self.topic;
                tracing::warn!(%topic, "MQTT trigger connection silent; reconnecting");
                eventloop.clean();
                last_heard = Instant::now();
            }
            let event = tokio::select! {
                event = eventloop.poll() => event,
                _ = shutdown.changed() => return,
            };
            if self
                .handle(event, &mut last_heard, &mut last_ping, &mut shutdown)
                .await
            {
                return;
            }
        }
    }

    /// Acts on one event of the event loop; true when shutting down.
    async fn handle(
        &self,
        event: Result<Event, rumqttc::ConnectionError>,
        last_heard: &mut Instant,
        last_ping: &mut Instant,
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        match event {
            Ok(Event::Incoming(packet)) => {
                *last_heard = Instant::now();
                match packet {
                    Packet::ConnAck(_) => {
                        // rumqttc's keep-alive timer starts with the connection.
                        *last_ping = Instant::now();
                        self.subscribe().await
                    }
                    Packet::Publish(publish) => self.dispatch(publish),
                    _ => {}
                }
            }
            Ok(Event::Outgoing(Outgoing::PingReq)) => *last_ping = Instant::now(),
            Ok(_) => {}
            Err(error) => {
                let topic = &self.topic;
                tracing::warn!(%topic, "MQTT trigger connection: {error}; reconnecting");
                *last_heard = Instant::now();
                *last_ping = Instant::now();
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = shutdown.changed() => return true,
                }
            }
        }
        false
    }

    /// Subscribes the topic: clean sessions forget subscriptions, so this
    /// runs on every connect.
    async fn subscribe(&self) {
        let topic = &self.topic;
        if let Err(e) = self.client.subscribe(topic.clone(), self.qos).await {
            tracing::error!(%topic, "subscribe failed: {e}");
        }
    }

    /// Queues a message on the lane of its ordering key.
    fn dispatch(&self, publish: Publish) {
        let topic = publish.topic;
        if !self.lanes.count_in(publish.qos) {
            tracing::warn!(%topic, "MQTT trigger full: QoS 0 message dropped");
            return;
        }
        let key = ordering_key(&self.topic, &topic).unwrap_or_else(|| {
            let subscribed = &self.topic;
            tracing::warn!(%topic, %subscribed, "message does not match its subscription");
            ""
        });
        let key = key.to_owned();
        let message = (topic, publish.payload.to_vec());
        self.lanes.send(&self.app, &self.component, &key, message);
    }
}

#[cfg(test)]
mod tests {
    use super::{matches, ordering_key, topic_filter, with_client_id, Lanes};
    use rumqttc::QoS;

    #[test]
    fn client_id_is_added_unless_the_address_names_one() {
        assert_eq!(
            with_client_id("mqtt://h:1883", "c1"),
            "mqtt://h:1883?client_id=c1"
        );
        assert_eq!(
            with_client_id("mqtt://h:1883?keep_alive_secs=5", "c1"),
            "mqtt://h:1883?keep_alive_secs=5&client_id=c1"
        );
        assert_eq!(
            with_client_id("mqtt://h:1883?client_id=mine", "c1"),
            "mqtt://h:1883?client_id=mine"
        );
    }

    #[test]
    fn ordering_key_is_the_first_wildcard_value() {
        let key = |filter, topic| ordering_key(filter, topic).unwrap();
        let a = key("$emqx/things/+/jobs/+", "$emqx/things/dev1/jobs/get");
        let b = key(
            "$emqx/things/+/jobs/+/update",
            "$emqx/things/dev1/jobs/j1/update",
        );
        let c = key("$emqx/things/+/jobs/+", "$emqx/things/dev2/jobs/get");
        assert_eq!(a, "dev1");
        assert_eq!(
            a, b,
            "one device's requests share a lane across subscriptions"
        );
        assert_ne!(a, c);
        assert_eq!(key("a/#", "a/x/c"), "", "no `+`: one lane");
    }

    #[test]
    fn a_shared_subscription_matches_and_keys_by_its_filter() {
        assert_eq!(topic_filter("$share/g/things/+/jobs/#"), "things/+/jobs/#");
        assert_eq!(topic_filter("things/+/jobs/#"), "things/+/jobs/#");
        assert_eq!(topic_filter("$share/g"), "$share/g", "no filter: as given");
        assert_eq!(topic_filter("$emqx/things/+"), "$emqx/things/+");
        assert_eq!(
            ordering_key("$share/replicas/things/+/jobs/#", "things/dev1/jobs/get"),
            Some("dev1")
        );
        assert_eq!(
            ordering_key("$share/g/$emqx/things/+/jobs/+", "$emqx/things/d2/jobs/get"),
            Some("d2")
        );
        // The group is not a level of the topic.
        assert_eq!(ordering_key("$share/+/a/+", "x/a/b"), None);
        assert_eq!(
            ordering_key("$share/g/things/+/jobs/#", "other/dev1/jobs"),
            None
        );
    }

    #[test]
    fn topics_match_filters_by_mqtt_rules() {
        assert!(matches("a/+/c", "a/b/c"));
        assert!(!matches("a/+/c", "a/b/d"));
        assert!(!matches("a/+", "a/b/c"));
        assert!(matches("a/+", "a/"), "`+` matches an empty level");
        assert!(matches("a/#", "a"), "`#` matches the parent too");
        assert!(matches("a/#", "a/b/c"));
        assert!(matches("#", "a/b"));
        assert!(!matches("#", "$SYS/x"), "wildcards do not start `$` topics");
        assert!(!matches("+/x", "$aws/x"));
        assert!(matches("$aws/+", "$aws/x"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
    }

    #[test]
    fn qos0_messages_are_dropped_when_the_host_is_full() {
        let lanes = Lanes::with_limit(4);
        assert_eq!(lanes.pause_at(), 2, "headroom at most half the limit");
        assert!(lanes.count_in(QoS::AtMostOnce));
        assert!(lanes.count_in(QoS::AtMostOnce));
        assert!(!lanes.has_room(), "paused");
        assert!(lanes.count_in(QoS::AtMostOnce), "read while pinging");
        assert!(lanes.count_in(QoS::AtLeastOnce));
        assert!(!lanes.count_in(QoS::AtMostOnce), "QoS 0 beyond the limit");
        assert!(lanes.count_in(QoS::AtLeastOnce), "QoS 1 is never dropped");
        assert_eq!(lanes.high_water(), 5);
        for _ in 0..4 {
            lanes.count_out();
        }
        assert!(lanes.has_room());
        assert_eq!(Lanes::with_limit(10_000).pause_at(), 9_900);
        assert_eq!(Lanes::with_limit(10_000).resume_at(), 8_910);
    }
}
