//! Test helpers shared by the integration tests: a real mosquitto, a plain
//! rumqttc client playing the service, and a confirmed publisher.
#![allow(dead_code)] // each test crate uses a different part

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fleetjobs_simulator::NoticeKind;
use rumqttc::{Client, Connection, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::{json, Value};

pub const PREFIX: &str = "$emqx/things";
pub const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- mosquitto

pub fn mosquitto_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("mosquitto"))
        .find(|candidate| candidate.is_file())
        .expect("mosquitto is not installed (scripts/setup.sh installs it)")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A mosquitto on a free loopback port, in its own directory; killed on drop.
pub struct Broker {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl Broker {
    pub fn start(persistence: bool) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let mut broker = Broker {
            dir,
            port: 0,
            child: None,
        };
        // A free port can be taken by someone else before mosquitto binds it: try a few.
        let mut failures = Vec::new();
        for _ in 0..5 {
            broker.port = free_port();
            broker.configure(persistence);
            match broker.spawn() {
                Ok(()) => return broker,
                Err(e) => failures.push(e),
            }
        }
        panic!("mosquitto did not start: {failures:#?}");
    }

    fn configure(&self, persistence: bool) {
        let mut conf = format!(
            "listener {} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n\
             # Stay root when run as root, so the persistence file can be written here.\n\
             user root\n",
            self.port
        );
        if persistence {
            conf.push_str(&format!(
                "persistence true\npersistence_location {}/\n",
                self.dir.path().display()
            ));
        }
        std::fs::write(self.dir.path().join("mosquitto.conf"), conf).unwrap();
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// Starts mosquitto and waits until it has bound its port (it logs
    /// "running" after opening its listeners) and accepts TCP.
    fn spawn(&mut self) -> Result<(), String> {
        let running = |log: &str| log.matches(" running").count();
        let before = running(&self.log());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("mosquitto.log"))
            .unwrap();
        let mut child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + WAIT;
        while running(&self.log()) == before
            || TcpStream::connect(("127.0.0.1", self.port)).is_err()
        {
            if let Some(status) = child.try_wait().unwrap() {
                return Err(format!("mosquitto exited ({status}):\n{}", self.log()));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("mosquitto did not listen:\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
        Ok(())
    }

    /// Stops mosquitto with SIGTERM, so that it saves its persistence file.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("broker is running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        child.wait().unwrap();
    }

    /// Stops mosquitto and starts it again on the same port with the same configuration.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn().unwrap();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------- the service

pub fn options(url: &str, client_id: &str) -> MqttOptions {
    let mut options = MqttOptions::parse_url(format!("{url}?client_id={client_id}")).unwrap();
    options.set_keep_alive(Duration::from_secs(5));
    options
}

/// What the service publishes in answer to one request: (topic, payload).
pub type Handler = dyn Fn(&str, &[u8]) -> Vec<(String, Vec<u8>)> + Send;

pub fn is_request(topic: &str) -> bool {
    !["/accepted", "/rejected", "/notify", "/notify-next"]
        .iter()
        .any(|end| topic.ends_with(end))
}

/// The default answer: `…/accepted` echoing the clientToken, or `…/rejected`
/// with no token when the payload is not a JSON object.
pub fn echo(topic: &str, payload: &[u8]) -> Vec<(String, Vec<u8>)> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(request)) => {
            let mut body = json!({ "request": topic });
            if let Some(token) = request.get("clientToken") {
                body["clientToken"] = token.clone();
            }
            vec![(format!("{topic}/accepted"), body.to_string().into_bytes())]
        }
        _ => vec![(
            format!("{topic}/rejected"),
            json!({ "code": "InvalidJson", "request": topic })
                .to_string()
                .into_bytes(),
        )],
    }
}

/// A plain rumqttc client subscribed to `$emqx/things/+/jobs/#` that answers
/// every request with `handler`.
pub struct Service {
    client: Client,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    pub fn start(url: &str, handler: Box<Handler>) -> Service {
        let (client, mut connection) = Client::new(options(url, "service"), 1_000);
        client
            .subscribe(format!("{PREFIX}/+/jobs/#"), QoS::AtLeastOnce)
            .unwrap();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::spawn({
            let client = client.clone();
            move || {
                for event in connection.iter() {
                    match event {
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            let _ = ready_tx.send(());
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) if is_request(&p.topic) => {
                            for (topic, payload) in handler(&p.topic, &p.payload) {
                                client
                                    .try_publish(topic, QoS::AtLeastOnce, false, payload)
                                    .unwrap();
                            }
                        }
                        Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            }
        });
        ready_rx
            .recv_timeout(WAIT)
            .expect("service subscription acknowledged");
        Service {
            client,
            thread: Some(thread),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.client.disconnect();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits for the next event matching `pred` on a connection iterated by the test thread.
pub fn await_event(connection: &mut Connection, deadline: Instant, pred: impl Fn(&Event) -> bool) {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for an MQTT event");
        match connection.recv_timeout(left) {
            Ok(Ok(event)) if pred(&event) => return,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("publisher connection: {e}"),
            Err(e) => panic!("publisher connection: {e:?}"),
        }
    }
}

/// Publishes `messages` with QoS 1 and returns once the broker acknowledged all of them.
pub fn publish_confirmed(url: &str, messages: &[(String, Value)]) {
    let id = format!("publisher-{}", uuid_like());
    let (client, mut connection) = Client::new(options(url, &id), 1_000);
    let deadline = Instant::now() + WAIT;
    await_event(&mut connection, deadline, |e| {
        matches!(e, Event::Incoming(Packet::ConnAck(_)))
    });
    for (topic, body) in messages {
        client
            .publish(topic, QoS::AtLeastOnce, false, body.to_string())
            .unwrap();
    }
    for _ in messages {
        await_event(&mut connection, deadline, |e| {
            matches!(e, Event::Incoming(Packet::PubAck(_)))
        });
    }
    client.disconnect().unwrap();
    await_event(&mut connection, deadline, |e| {
        matches!(e, Event::Outgoing(Outgoing::Disconnect))
    });
}

pub fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn notice_topic(thing: &str, kind: NoticeKind) -> String {
    match kind {
        NoticeKind::Notify => format!("{PREFIX}/{thing}/jobs/notify"),
        NoticeKind::NotifyNext => format!("{PREFIX}/{thing}/jobs/notify-next"),
    }
}
