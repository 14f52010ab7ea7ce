//! Test helpers shared by the integration tests: a real mosquitto, a plain
//! rumqttc client playing the service, and a confirmed publisher.
#![allow(dead_code)] // each test crate uses a different part

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
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

// ---------------------------------------------------------------- a jobs service

/// An execution the fake jobs service keeps for a thing.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeExecution {
    pub job: String,
    pub number: i64,
    pub status: String,
}

/// An update the fake jobs service accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeUpdate {
    pub thing: String,
    pub job: String,
    pub status: String,
    pub details: Value,
}

/// The state of a minimal in-memory jobs service: one queue of executions per thing.
#[derive(Debug, Default)]
pub struct Jobs {
    /// Per thing, its executions that are not terminal yet; the head is the next one.
    pub pending: HashMap<String, VecDeque<FakeExecution>>,
    /// Every update accepted, in order.
    pub updates: Vec<FakeUpdate>,
    /// Per thing, when each of its start-next requests arrived.
    pub start_nexts: HashMap<String, Vec<Instant>>,
    /// A FAILED execution comes back as a new one (executionNumber + 1)
    /// while its number is below this.
    pub max_attempts: i64,
    /// Jobs whose execution the operator cancels right after start-next hands it out:
    /// the device's next update of it is rejected.
    pub cancel_once_started: HashSet<String>,
}

impl Jobs {
    pub fn shared() -> Arc<Mutex<Jobs>> {
        Arc::new(Mutex::new(Jobs::default()))
    }

    /// Queues the first execution of `job` for `thing`.
    pub fn queue(&mut self, thing: &str, job: &str) {
        self.pending
            .entry(thing.to_owned())
            .or_default()
            .push_back(FakeExecution {
                job: job.to_owned(),
                number: 1,
                status: "QUEUED".to_owned(),
            });
    }

    /// The updates accepted for `thing`, as "job status".
    pub fn updates_of(&self, thing: &str) -> Vec<String> {
        self.updates
            .iter()
            .filter(|u| u.thing == thing)
            .map(|u| format!("{} {}", u.job, u.status))
            .collect()
    }

    pub fn start_next_count(&self, thing: &str) -> usize {
        self.start_nexts.get(thing).map_or(0, Vec::len)
    }

    /// Answers one request, like the real service would.
    fn answer(&mut self, thing: &str, request: &str, body: &Value) -> Option<(bool, Value)> {
        let mut reply = json!({ "clientToken": body["clientToken"], "timestamp": 1 });
        let queue = self.pending.entry(thing.to_owned()).or_default();
        if request == "start-next" {
            self.start_nexts
                .entry(thing.to_owned())
                .or_default()
                .push(Instant::now());
            if let Some(execution) = queue.front_mut() {
                execution.status = "IN_PROGRESS".to_owned();
                reply["execution"] = json!({
                    "jobId": execution.job,
                    "thingName": thing,
                    "status": execution.status,
                    "versionNumber": 2,
                    "executionNumber": execution.number,
                    "jobDocument": { "operation": "test" },
                });
                if self.cancel_once_started.contains(&execution.job) {
                    queue.pop_front();
                }
            }
            return Some((true, reply));
        }
        let job = request.strip_suffix("/update")?;
        let Some(index) = queue.iter().position(|e| e.job == job) else {
            reply["code"] = json!("InvalidStateTransition");
            return Some((false, reply));
        };
        let status = body["status"].as_str().unwrap_or_default().to_owned();
        self.updates.push(FakeUpdate {
            thing: thing.to_owned(),
            job: job.to_owned(),
            status: status.clone(),
            details: body["statusDetails"].clone(),
        });
        if ["SUCCEEDED", "FAILED", "REJECTED"].contains(&status.as_str()) {
            let execution = queue.remove(index).unwrap();
            if status == "FAILED" && execution.number < self.max_attempts {
                queue.push_back(FakeExecution {
                    number: execution.number + 1,
                    status: "QUEUED".to_owned(),
                    ..execution
                });
            }
        } else {
            queue[index].status = status;
        }
        Some((true, reply))
    }
}

/// A minimal jobs service over `jobs`: start-next hands out the head of the
/// thing's queue, updates move it on, and an update of an execution that is
/// not there (canceled, or never handed out) is rejected with InvalidStateTransition.
pub fn job_service(url: &str, jobs: Arc<Mutex<Jobs>>) -> Service {
    Service::start(
        url,
        Box::new(move |topic, payload| {
            let body: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
            let rest = topic.strip_prefix(&format!("{PREFIX}/")).unwrap();
            let (thing, request) = rest.split_once("/jobs/").unwrap();
            match jobs.lock().unwrap().answer(thing, request, &body) {
                Some((accepted, reply)) => {
                    let outcome = if accepted { "accepted" } else { "rejected" };
                    vec![(format!("{topic}/{outcome}"), reply.to_string().into_bytes())]
                }
                None => Vec::new(),
            }
        }),
    )
}

/// Tells each of `things` that `job` is next, as the service does when a job is queued.
pub fn notify_next(url: &str, things: &[String], job: &str) {
    let messages: Vec<(String, Value)> = things
        .iter()
        .map(|thing| {
            (
                notice_topic(thing, NoticeKind::NotifyNext),
                json!({ "timestamp": 1, "execution": { "jobId": job } }),
            )
        })
        .collect();
    publish_confirmed(url, &messages);
}
