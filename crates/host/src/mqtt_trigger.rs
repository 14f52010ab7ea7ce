//! The MQTT trigger: subscribes each `[[trigger.mqtt]]` topic and calls
//! `handle-message` of world `spin-mqtt` per message. A component's messages
//! whose first `+` wildcard matched the same value are handled in order,
//! across all of that component's subscriptions; others run concurrently
//! (one device's requests stay ordered, devices run in parallel; Spin's
//! plugin handles each subscription strictly in sequence). Lanes live only
//! while they have messages, and the instances running at once are bounded
//! ([`Lanes`]). Reconnects and resubscribes after a broker outage.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, NetworkOptions, Packet, Publish, QoS};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::app::App;
use crate::bindings::mqtt_trigger::spin::mqtt_trigger::spin_mqtt_types::{Error, Metadata};

/// The value a topic's first `+` wildcard matched in `filter` (empty when
/// it has none): the ordering key, so all of one device's requests share a
/// lane whichever of the component's subscriptions delivered them.
pub fn ordering_key<'t>(filter: &str, topic: &'t str) -> &'t str {
    filter
        .split('/')
        .zip(topic.split('/'))
        .find(|(level, _)| *level == "+")
        .map_or("", |(_, value)| value)
}

type Message = (String, Vec<u8>);

/// MQTT-triggered instances running at once, over all components.
const MAX_RUNNING: usize = 64;

/// The ordered lanes: one queue per (component, ordering key), shared by the
/// component's subscriptions, that exists only while it has messages. A lane
/// is created with its first message and a worker that handles its messages
/// in order; the worker retires the lane (under the same lock a new message
/// takes) when it finds it empty, so a later message starts a new lane and
/// still runs after every earlier one. Memory follows the devices active
/// now, not every device ever seen.
///
/// At most [`MAX_RUNNING`] instances run at once. Messages waiting in
/// lanes are not bounded: rumqttc acknowledges a QoS1 message when it reads
/// it (acknowledgements must follow arrival order; lanes finish out of
/// order), and slowing the reads starves the connection's keep-alive (the
/// broker then drops the session and what it queued for it), so a host that
/// cannot keep up holds the backlog in memory; `in_host` reports it. A host
/// that dies loses what it had queued.
pub struct Lanes {
    queues: std::sync::Mutex<HashMap<(String, String), VecDeque<Message>>>,
    in_host: AtomicUsize,
    running: Arc<Semaphore>,
}

impl Default for Lanes {
    fn default() -> Self {
        Lanes {
            queues: Default::default(),
            in_host: AtomicUsize::new(0),
            running: Arc::new(Semaphore::new(MAX_RUNNING)),
        }
    }
}

impl Lanes {
    /// Lanes alive now (the test hook reports it).
    pub fn live(&self) -> usize {
        self.queues().len()
    }

    /// Messages queued or being handled.
    pub fn in_host(&self) -> usize {
        self.in_host.load(Ordering::SeqCst)
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), VecDeque<Message>>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(self: &Arc<Self>, app: &Arc<App>, component: &str, key: &str, message: Message) {
        self.in_host.fetch_add(1, Ordering::SeqCst);
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
            self.in_host.fetch_sub(1, Ordering::SeqCst);
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
        let filter = app
            .variables
            .render(&trigger.topic)
            .map_err(|e| e.to_string())?;
        let qos = qos(trigger.qos_level());
        let (client, eventloop) = client(&broker, &client_id(app, index))?;
        let subscription = Subscription {
            app: app.clone(),
            component: trigger.component.clone(),
            filter,
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
/// first polled) with a clean session and Nagle off.
fn client(broker: &Broker, client_id: &str) -> Result<(AsyncClient, EventLoop), String> {
    let url = with_client_id(&broker.address, client_id);
    let mut options = MqttOptions::parse_url(&url)
        .map_err(|e| format!("application.trigger.mqtt.address: {e}"))?;
    if !broker.username.is_empty() || !broker.password.is_empty() {
        options.set_credentials(&broker.username, &broker.password);
    }
    options.set_keep_alive(Duration::from_secs(broker.keep_alive.max(5)));
    options.set_clean_session(true);
    let (client, mut eventloop) = AsyncClient::new(options, 10_000);
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    Ok((client, eventloop))
}

/// One `[[trigger.mqtt]]`: its connection and where its messages go.
struct Subscription {
    app: Arc<App>,
    component: String,
    /// The topic filter, rendered.
    filter: String,
    qos: QoS,
    client: AsyncClient,
    lanes: Arc<Lanes>,
}

impl Subscription {
    /// Drives the connection until `shutdown` flips: subscribes on every
    /// connect, hands each message to its lane, and reconnects after errors.
    async fn run(self, mut eventloop: EventLoop, mut shutdown: watch::Receiver<bool>) {
        loop {
            let event = tokio::select! {
                event = eventloop.poll() => event,
                _ = shutdown.changed() => return,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => self.subscribe().await,
                Ok(Event::Incoming(Packet::Publish(publish))) => self.dispatch(&publish),
                Ok(_) => {}
                Err(error) => {
                    let filter = &self.filter;
                    tracing::warn!(%filter, "MQTT trigger connection: {error}; reconnecting");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        }
    }

    /// Subscribes the filter: clean sessions forget subscriptions, so this
    /// runs on every connect.
    async fn subscribe(&self) {
        let filter = &self.filter;
        if let Err(e) = self.client.subscribe(filter.clone(), self.qos).await {
            tracing::error!(%filter, "subscribe failed: {e}");
        }
    }

    /// Queues a message on the lane of its ordering key.
    fn dispatch(&self, publish: &Publish) {
        let key = ordering_key(&self.filter, &publish.topic).to_owned();
        let message = (publish.topic.clone(), publish.payload.to_vec());
        self.lanes.send(&self.app, &self.component, &key, message);
    }
}

#[cfg(test)]
mod tests {
    use super::{ordering_key, with_client_id};

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
        let a = ordering_key("$emqx/things/+/jobs/+", "$emqx/things/dev1/jobs/get");
        let b = ordering_key(
            "$emqx/things/+/jobs/+/update",
            "$emqx/things/dev1/jobs/j1/update",
        );
        let c = ordering_key("$emqx/things/+/jobs/+", "$emqx/things/dev2/jobs/get");
        assert_eq!(a, "dev1");
        assert_eq!(
            a, b,
            "one device's requests share a lane across subscriptions"
        );
        assert_ne!(a, c);
        assert_eq!(ordering_key("a/#", "a/x/c"), "", "no `+`: one lane");
    }
}
