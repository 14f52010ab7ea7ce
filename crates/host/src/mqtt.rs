//! `fermyon:spin/mqtt@2.0.0`: outbound publish with rumqttc. Connections are
//! pooled by broker and credentials, several per broker (a guest's
//! `client_id` only names its connection, so the pool uses ids of its own),
//! which makes a component's per-request `open` cheap; `publish` returns once
//! the broker acknowledged (QoS1/2) or the message was written (QoS0), as
//! Spin's does. A connection
//! that fails is dropped from the pool, with what it had queued, so a guest
//! learns of an outage at once and the next `open` connects afresh.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, NetworkOptions, Outgoing, Packet, QoS as MqttQos};
use tokio::sync::{mpsc, Mutex};
use wasmtime::component::Resource;

use crate::app::HostState;
use crate::bindings::fermyon::spin::mqtt::{Error, Host, HostConnection, Qos};

const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// What the event loop reports to the publisher waiting on it.
enum Progress {
    Written,
    Acknowledged,
    Failed(String),
}

struct Session {
    client: AsyncClient,
    progress: mpsc::UnboundedReceiver<Progress>,
}

type PoolKey = (String, String, String);

/// One broker connection; publishes on it are serialised so each waits for
/// its own acknowledgement.
pub struct PooledConnection {
    key: PoolKey,
    session: Mutex<Session>,
}

/// What a guest's `connection` resource points at.
pub struct MqttHandle {
    connection: Arc<PooledConnection>,
}

/// Connections kept per broker. Publishes on one connection are serialised
/// (each waits for its own acknowledgement), so concurrent guests spread
/// over several.
const CONNECTIONS_PER_BROKER: usize = 16;

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
        // An idle connection, else a new one while there is room, else any.
        if let Some(idle) = slots.iter().find(|slot| slot.session.try_lock().is_ok()) {
            return Ok(idle.clone());
        }
        let number = self
            .opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if slots.len() >= CONNECTIONS_PER_BROKER {
            return Ok(slots[number as usize % slots.len()].clone());
        }
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
        let (client, mut eventloop) = AsyncClient::new(options, 1000);
        let mut network = NetworkOptions::new();
        network.set_tcp_nodelay(true);
        eventloop.set_network_options(network);
        let (report, progress) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let event = match eventloop.poll().await {
                    Ok(Event::Outgoing(Outgoing::Publish(_))) => Progress::Written,
                    Ok(Event::Incoming(Packet::PubAck(_) | Packet::PubComp(_))) => {
                        Progress::Acknowledged
                    }
                    Ok(_) => continue,
                    Err(error) => {
                        let failed = Progress::Failed(error.to_string());
                        if report.send(failed).is_err() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                if report.send(event).is_err() {
                    return;
                }
            }
        });
        let connection = Arc::new(PooledConnection {
            key: key.clone(),
            session: Mutex::new(Session { client, progress }),
        });
        slots.push(connection.clone());
        Ok(connection)
    }
}

impl PooledConnection {
    async fn publish(&self, topic: String, payload: Vec<u8>, qos: Qos) -> Result<(), Error> {
        let mut session = self.session.lock().await;
        while session.progress.try_recv().is_ok() {}
        // QoS0 is done once written; QoS1/2 once the broker acknowledged.
        let (mqtt_qos, wants_ack) = match qos {
            Qos::AtMostOnce => (MqttQos::AtMostOnce, false),
            Qos::AtLeastOnce => (MqttQos::AtLeastOnce, true),
            Qos::ExactlyOnce => (MqttQos::ExactlyOnce, true),
        };
        session
            .client
            .publish(topic, mqtt_qos, false, payload)
            .await
            .map_err(|e| Error::ConnectionFailed(e.to_string()))?;
        let wait = async {
            loop {
                match session.progress.recv().await {
                    Some(Progress::Written) if !wants_ack => return Ok(()),
                    Some(Progress::Acknowledged) if wants_ack => return Ok(()),
                    Some(Progress::Failed(message)) => {
                        return Err(Error::ConnectionFailed(message))
                    }
                    Some(_) => {}
                    None => return Err(Error::ConnectionFailed("connection closed".into())),
                }
            }
        };
        tokio::time::timeout(PUBLISH_TIMEOUT, wait)
            .await
            .unwrap_or_else(|_| {
                Err(Error::ConnectionFailed(
                    "no acknowledgement from the broker".into(),
                ))
            })
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
                "address {address} is not permitted by allowed_outbound_hosts"
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
    use super::broker_of;

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
