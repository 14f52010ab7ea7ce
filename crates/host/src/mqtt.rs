//! `fermyon:spin/mqtt@2.0.0`: outbound publish with rumqttc. Connections are
//! pooled by broker and credentials (a guest's `client_id` only names its
//! connection, so the pool uses ids of its own), which makes a component's
//! per-request `open` cheap. `publish` returns once the broker acknowledged
//! (QoS1/2) or the message was written (QoS0), as Spin's does; publishes are
//! pipelined: many guests' messages are in flight on one connection at once,
//! each waiting for the acknowledgement of its own packet id. A connection
//! that fails is dropped from the pool, failing what it had in flight, so a
//! guest learns of an outage at once and the next `open` connects afresh.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, NetworkOptions, Outgoing, Packet, QoS as MqttQos};
use tokio::sync::{oneshot, Mutex};
use wasmtime::component::Resource;

use crate::app::HostState;
use crate::bindings::fermyon::spin::mqtt::{Error, Host, HostConnection, Qos};

const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

type PoolKey = (String, String, String);

/// Who waits for a publish: told once it is written (QoS0) or acknowledged.
type Waiter = oneshot::Sender<Result<(), String>>;

/// Publishes in flight on one connection.
#[derive(Default)]
struct InFlight {
    /// Handed to the client, not yet written, in the client's order (the
    /// event loop reports each write with the packet id it got); whether it
    /// waits for an acknowledgement.
    unwritten: VecDeque<(bool, Waiter)>,
    /// Written, waiting for the broker's acknowledgement, by packet id.
    unacknowledged: HashMap<u16, Waiter>,
}

impl InFlight {
    fn len(&self) -> usize {
        self.unwritten.len() + self.unacknowledged.len()
    }

    fn written(&mut self, packet_id: u16) {
        match self.unwritten.pop_front() {
            Some((true, waiter)) => {
                self.unacknowledged.insert(packet_id, waiter);
            }
            Some((false, waiter)) => {
                let _ = waiter.send(Ok(()));
            }
            None => {}
        }
    }

    fn acknowledged(&mut self, packet_id: u16) {
        if let Some(waiter) = self.unacknowledged.remove(&packet_id) {
            let _ = waiter.send(Ok(()));
        }
    }

    fn fail_all(&mut self, message: &str) {
        let waiters = self.unwritten.drain(..).map(|(_, waiter)| waiter);
        for waiter in waiters.chain(self.unacknowledged.drain().map(|(_, waiter)| waiter)) {
            let _ = waiter.send(Err(message.to_owned()));
        }
    }
}

/// One broker connection.
pub struct PooledConnection {
    key: PoolKey,
    client: AsyncClient,
    /// Held while a publish is queued, so the client's queue and
    /// `in_flight.unwritten` have the same order.
    queueing: Mutex<()>,
    in_flight: std::sync::Mutex<InFlight>,
    /// Set by the event loop on the first failure: no new publish goes on
    /// this connection (what the client still held could be written after a
    /// reconnect and be taken for a newer publish's write).
    broken: std::sync::atomic::AtomicBool,
}

/// What a guest's `connection` resource points at.
pub struct MqttHandle {
    connection: Arc<PooledConnection>,
}

/// Connections kept per broker and credentials.
const CONNECTIONS_PER_BROKER: usize = 4;
/// Publishes in flight on a connection before the pool opens another.
const BUSY_CONNECTION: usize = 64;

#[derive(Default)]
pub struct MqttPool {
    connections: Mutex<HashMap<PoolKey, Vec<Arc<PooledConnection>>>>,
    opened: std::sync::atomic::AtomicU64,
}

/// The address without its `client_id` parameter.
fn broker_of(address: &str) -> String {
    let Some((base, query)) = address.split_once('?') else {
        return address.to_owned();
    };
    let rest: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key != "client_id")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    match rest.is_empty() {
        true => base.to_owned(),
        false => format!(
            "{base}?{}",
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(rest)
                .finish()
        ),
    }
}

impl MqttPool {
    /// Forgets a failed connection.
    async fn evict(&self, failed: &Arc<PooledConnection>) {
        let mut connections = self.connections.lock().await;
        if let Some(slots) = connections.get_mut(&failed.key) {
            slots.retain(|slot| !Arc::ptr_eq(slot, failed));
        }
    }

    /// The least busy connection to the broker, or a new one while all are
    /// busy and there is room.
    async fn connect(
        &self,
        address: &str,
        username: &str,
        password: &str,
        keep_alive: u64,
    ) -> Result<Arc<PooledConnection>, Error> {
        let broker = broker_of(address);
        let key = (broker.clone(), username.to_owned(), password.to_owned());
        let mut connections = self.connections.lock().await;
        let slots = connections.entry(key.clone()).or_default();
        slots.retain(|slot| !slot.is_broken());
        let least_busy = slots.iter().min_by_key(|slot| slot.load()).cloned();
        if let Some(connection) = &least_busy {
            if connection.load() < BUSY_CONNECTION || slots.len() >= CONNECTIONS_PER_BROKER {
                return Ok(connection.clone());
            }
        }
        let number = self
            .opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let separator = if broker.contains('?') { '&' } else { '?' };
        let url = format!(
            "{broker}{separator}client_id=fleetjobs-out-{}-{number}",
            std::process::id()
        );
        let mut options = MqttOptions::parse_url(url).map_err(|_| Error::InvalidAddress)?;
        if !username.is_empty() || !password.is_empty() {
            options.set_credentials(username, password);
        }
        options.set_keep_alive(Duration::from_secs(keep_alive.max(5)));
        let (client, eventloop) = AsyncClient::new(options, 1000);
        let connection = Arc::new(PooledConnection {
            key,
            client,
            queueing: Mutex::new(()),
            in_flight: Default::default(),
            broken: Default::default(),
        });
        tokio::spawn(drive(eventloop, Arc::downgrade(&connection)));
        slots.push(connection.clone());
        Ok(connection)
    }
}

/// Runs a connection's event loop, matching writes and acknowledgements to
/// their publishers, until the connection is dropped.
async fn drive(mut eventloop: rumqttc::EventLoop, connection: Weak<PooledConnection>) {
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    loop {
        let event = eventloop.poll().await;
        let Some(connection) = connection.upgrade() else {
            return;
        };
        let failed = {
            let mut in_flight = connection.in_flight();
            match &event {
                Ok(Event::Outgoing(Outgoing::Publish(packet_id))) => in_flight.written(*packet_id),
                Ok(Event::Incoming(Packet::PubAck(ack))) => in_flight.acknowledged(ack.pkid),
                Ok(Event::Incoming(Packet::PubComp(complete))) => {
                    in_flight.acknowledged(complete.pkid)
                }
                Ok(_) => {}
                Err(error) => {
                    connection
                        .broken
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    in_flight.fail_all(&error.to_string());
                }
            }
            event.is_err()
        };
        drop(connection);
        if failed {
            // rumqttc reconnects on the next poll; not in a tight loop.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl PooledConnection {
    fn in_flight(&self) -> std::sync::MutexGuard<'_, InFlight> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn load(&self) -> usize {
        self.in_flight().len()
    }

    fn is_broken(&self) -> bool {
        self.broken.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn publish(&self, topic: String, payload: Vec<u8>, qos: Qos) -> Result<(), Error> {
        // QoS0 is done once written; QoS1/2 once the broker acknowledged.
        let (mqtt_qos, wants_ack) = match qos {
            Qos::AtMostOnce => (MqttQos::AtMostOnce, false),
            Qos::AtLeastOnce => (MqttQos::AtLeastOnce, true),
            Qos::ExactlyOnce => (MqttQos::ExactlyOnce, true),
        };
        let (waiter, done) = oneshot::channel();
        {
            let _order = self.queueing.lock().await;
            if self.is_broken() {
                return Err(Error::ConnectionFailed("the connection failed".into()));
            }
            self.in_flight().unwritten.push_back((wants_ack, waiter));
            if let Err(e) = self.client.publish(topic, mqtt_qos, false, payload).await {
                self.in_flight().unwritten.pop_back();
                return Err(Error::ConnectionFailed(e.to_string()));
            }
        }
        match tokio::time::timeout(PUBLISH_TIMEOUT, done).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(message))) => Err(Error::ConnectionFailed(message)),
            Ok(Err(_)) => Err(Error::ConnectionFailed("connection closed".into())),
            Err(_) => Err(Error::ConnectionFailed(
                "no acknowledgement from the broker".into(),
            )),
        }
    }
}

impl Host for HostState {}

impl HostConnection for HostState {
    async fn open(
        &mut self,
        address: String,
        username: String,
        password: String,
        keep_alive_interval_in_secs: u64,
    ) -> wasmtime::Result<Result<Resource<MqttHandle>, Error>> {
        if !self.component.allowed_hosts.allows_url(&address) {
            return Ok(Err(Error::ConnectionFailed(format!(
                "address {address} is not permitted"
            ))));
        }
        match self
            .app
            .mqtt
            .connect(&address, &username, &password, keep_alive_interval_in_secs)
            .await
        {
            Ok(connection) => Ok(Ok(self.table.push(MqttHandle { connection })?)),
            Err(error) => Ok(Err(error)),
        }
    }

    async fn publish(
        &mut self,
        connection: Resource<MqttHandle>,
        topic: String,
        payload: Vec<u8>,
        qos: Qos,
    ) -> wasmtime::Result<Result<(), Error>> {
        let connection = self.table.get(&connection)?.connection.clone();
        let outcome = connection.publish(topic, payload, qos).await;
        if outcome.is_err() {
            self.app.mqtt.evict(&connection).await;
        }
        Ok(outcome)
    }

    async fn drop(&mut self, connection: Resource<MqttHandle>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{broker_of, InFlight};
    use tokio::sync::oneshot;

    /// Pipelined publishes: each is told of its own write (QoS0) or of the
    /// acknowledgement of its own packet id, whatever order acks come in.
    #[test]
    fn each_publish_waits_for_its_own_acknowledgement() {
        let mut in_flight = InFlight::default();
        let mut done = Vec::new();
        for wants_ack in [true, false, true] {
            let (waiter, receiver) = oneshot::channel();
            in_flight.unwritten.push_back((wants_ack, waiter));
            done.push(receiver);
        }
        for packet_id in [7, 0, 9] {
            in_flight.written(packet_id);
        }
        assert_eq!(done[1].try_recv(), Ok(Ok(())), "QoS0: done once written");
        assert!(done[0].try_recv().is_err() && done[2].try_recv().is_err());
        in_flight.acknowledged(9);
        assert_eq!(done[2].try_recv(), Ok(Ok(())));
        assert!(
            done[0].try_recv().is_err(),
            "packet 7 is not acknowledged yet"
        );
        assert_eq!(in_flight.len(), 1);
        in_flight.fail_all("broker gone");
        assert_eq!(done[0].try_recv(), Ok(Err("broker gone".to_owned())));
        assert_eq!(in_flight.len(), 0);
    }

    #[test]
    fn the_pool_ignores_the_guests_client_id() {
        assert_eq!(broker_of("mqtt://h:1883?client_id=a"), "mqtt://h:1883");
        assert_eq!(
            broker_of("mqtt://h:1883?client_id=a&clean_session=false"),
            "mqtt://h:1883?clean_session=false"
        );
        assert_eq!(broker_of("mqtt://h:1883"), "mqtt://h:1883");
    }
}
