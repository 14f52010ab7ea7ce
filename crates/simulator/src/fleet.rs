//! Many simulated device agents in one process.
//!
//! A [`Fleet`] connects one [`Device`] per thing and drives each with an agent
//! thread that behaves like a real AWS IoT jobs agent: it starts the next
//! pending execution when it (re)connects and whenever it is idle and a
//! notify-next announces one, reports progress, reports a final status, and
//! starts the next. What it reports depends on the thing's [`Behaviour`], so
//! that one fleet exercises success, failure, rejection, hanging devices,
//! devices that connect late and slow ones at once. Every agent counts what it
//! did in one shared [`Summary`] and per-execution [`Outcome`]s.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{Closer, Device, Error, Notice, NoticeKind, Reply, Wake};

/// Devices connected at the same time while a fleet starts.
const CONNECT_PARALLELISM: usize = 32;
/// How many times a request that timed out is sent again (with the same client token).
const CALL_RETRIES: u32 = 2;
/// After an error, an idle agent starts the next execution again this much later.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// An idle agent starts the next execution this often even without a notice:
/// a safety net, rare enough not to load the service.
const IDLE_POLL: Duration = Duration::from_secs(3600);
/// Agents only wait and make small requests: a small stack lets a fleet have thousands.
const AGENT_STACK: usize = 256 * 1024;

/// How a simulated device handles the jobs it is handed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Behaviour {
    /// Reports progress, then SUCCEEDED.
    Succeed,
    /// Reports progress, then FAILED.
    Fail,
    /// Reports REJECTED at once.
    Reject,
    /// Starts its first job and then never reports anything again.
    Hang,
    /// Disconnects when the fleet starts and reconnects after
    /// [`FleetConfig::offline_for`]; then behaves like [`Succeed`](Self::Succeed).
    Offline,
    /// Like [`Succeed`](Self::Succeed), with ten times the step delay.
    Slow,
}

impl Behaviour {
    /// Every behaviour, in declaration order.
    pub const ALL: [Behaviour; 6] = [
        Behaviour::Succeed,
        Behaviour::Fail,
        Behaviour::Reject,
        Behaviour::Hang,
        Behaviour::Offline,
        Behaviour::Slow,
    ];

    /// The status this behaviour ends a job with; `None` for a hanging device.
    fn final_status(self) -> Option<FinalStatus> {
        match self {
            Behaviour::Succeed | Behaviour::Offline | Behaviour::Slow => {
                Some(FinalStatus::Succeeded)
            }
            Behaviour::Fail => Some(FinalStatus::Failed),
            Behaviour::Reject => Some(FinalStatus::Rejected),
            Behaviour::Hang => None,
        }
    }
}

/// A status an agent ends a job with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FinalStatus {
    Succeeded,
    Failed,
    Rejected,
}

impl FinalStatus {
    fn as_str(self) -> &'static str {
        match self {
            FinalStatus::Succeeded => "SUCCEEDED",
            FinalStatus::Failed => "FAILED",
            FinalStatus::Rejected => "REJECTED",
        }
    }
}

impl std::fmt::Display for Behaviour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Behaviour::Succeed => "succeed",
            Behaviour::Fail => "fail",
            Behaviour::Reject => "reject",
            Behaviour::Hang => "hang",
            Behaviour::Offline => "offline",
            Behaviour::Slow => "slow",
        })
    }
}

/// What a [`Fleet`] is made of and how its agents pace themselves.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Broker URL, e.g. `mqtt://127.0.0.1:1883`.
    pub mqtt_url: String,
    /// Topic prefix in front of `/{thing}/jobs/...`.
    pub prefix: String,
    /// One device per thing name; names must be distinct (each is an MQTT client id).
    pub things: Vec<String>,
    /// Device tokens by thing name: a device logs in with its thing name and
    /// token; a thing without one connects anonymously.
    pub tokens: std::collections::BTreeMap<String, String>,
    /// Shares of the fleet per behaviour, in order: the first `round(share*n)` things get the first
    /// behaviour, the next ones the second, ...; things left over get Succeed. E.g. [(Fail, 0.1)].
    pub mix: Vec<(Behaviour, f64)>,
    /// Pause between progress steps while running a job (Slow uses 10x this).
    pub step_delay: Duration,
    /// Number of IN_PROGRESS progress updates (statusDetails {"step": "k/n", "progress": "..%"}) before the final status.
    pub progress_steps: u32,
    /// Offline devices connect late: they stay disconnected for this long after `start` (their persistent
    /// session queues notices meanwhile — so they must have connected once first: connect, then disconnect
    /// at start, reconnect after `offline_for`), then behave like Succeed.
    pub offline_for: Duration,
    /// How long one connection may take to be ready (connected and subscribed).
    pub connect_timeout: Duration,
    /// How long an agent waits for the reply to one request before sending it again.
    pub call_timeout: Duration,
}

impl FleetConfig {
    /// Every thing succeeds; 50 ms between 2 progress steps; Offline devices
    /// come back after 5 s; 30 s to connect, 10 s per request.
    pub fn new(mqtt_url: &str, prefix: &str, things: Vec<String>) -> Self {
        FleetConfig {
            mqtt_url: mqtt_url.to_owned(),
            prefix: prefix.to_owned(),
            things,
            tokens: Default::default(),
            mix: Vec::new(),
            step_delay: Duration::from_millis(50),
            progress_steps: 2,
            offline_for: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(30),
            call_timeout: Duration::from_secs(10),
        }
    }
}

/// The behaviour of each of `n` things, in order (see [`FleetConfig::mix`]).
fn assign(n: usize, mix: &[(Behaviour, f64)]) -> Vec<Behaviour> {
    let mut behaviours = Vec::with_capacity(n);
    for &(behaviour, share) in mix {
        // A negative or NaN share is 0; `as` saturates a share above 1 to the rest of the fleet.
        let wanted = (share.max(0.0) * n as f64).round() as usize;
        let count = wanted.min(n - behaviours.len());
        behaviours.extend(std::iter::repeat_n(behaviour, count));
    }
    behaviours.resize(n, Behaviour::Succeed);
    behaviours
}

/// What a fleet's agents have done so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Devices in the fleet.
    pub devices: usize,
    /// Devices per behaviour, every behaviour in the order of [`Behaviour::ALL`].
    pub behaviours: Vec<(Behaviour, usize)>,
    /// Devices connected now (Offline ones are not, until they come back).
    pub online: usize,
    /// Executions the agents started (start-next handed them one), retries and re-runs included.
    pub started: u64,
    /// Executions the agents finished with SUCCEEDED.
    pub succeeded: u64,
    /// Executions the agents finished with FAILED.
    pub failed: u64,
    /// Executions the agents finished with REJECTED.
    pub rejected: u64,
    /// Executions being run now (IN_PROGRESS by an agent that will report again).
    pub in_progress: u64,
    /// Executions started by a hanging device, which will never report again.
    pub hanging: u64,
    /// Executions dropped because the service rejected an update (e.g. the job was canceled).
    pub dropped: u64,
    /// Errors the agents ran into (timeouts after retries, rejected start-next, ...).
    pub errors: u64,
    /// The last of those errors.
    pub last_error: Option<String>,
}

impl Summary {
    fn new(behaviours: &[Behaviour]) -> Summary {
        Summary {
            devices: behaviours.len(),
            behaviours: Behaviour::ALL
                .iter()
                .map(|&b| (b, behaviours.iter().filter(|&&x| x == b).count()))
                .collect(),
            online: 0,
            started: 0,
            succeeded: 0,
            failed: 0,
            rejected: 0,
            in_progress: 0,
            hanging: 0,
            dropped: 0,
            errors: 0,
            last_error: None,
        }
    }

    /// How many devices have `behaviour`.
    pub fn devices_with(&self, behaviour: Behaviour) -> usize {
        self.behaviours
            .iter()
            .find(|(b, _)| *b == behaviour)
            .map_or(0, |(_, count)| *count)
    }

    /// Executions the agents finished with a final status (SUCCEEDED, FAILED or REJECTED).
    pub fn finished(&self) -> u64 {
        self.succeeded + self.failed + self.rejected
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "devices {} (", self.devices)?;
        let mut first = true;
        for (behaviour, count) in self.behaviours.iter().filter(|(_, count)| *count > 0) {
            let separator = if first { "" } else { " " };
            write!(f, "{separator}{behaviour} {count}")?;
            first = false;
        }
        write!(
            f,
            ") online {} | started {} in_progress {} hanging {} | SUCCEEDED {} FAILED {} REJECTED {} dropped {} | errors {}",
            self.online,
            self.started,
            self.in_progress,
            self.hanging,
            self.succeeded,
            self.failed,
            self.rejected,
            self.dropped,
            self.errors,
        )?;
        if let Some(error) = &self.last_error {
            write!(f, " (last: {error})")?;
        }
        Ok(())
    }
}

/// What became of one job on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The last status the agent reported and the service accepted (IN_PROGRESS
    /// from the start-next that handed the execution out, until the agent reports more).
    pub status: String,
    /// The executionNumber of the last execution of this job the agent started.
    pub execution_number: i64,
    /// How many times the agent started this job (retries are new executions).
    pub runs: u32,
}

/// Counters and outcomes, under one lock so that a summary is consistent.
struct State {
    summary: Summary,
    outcomes: BTreeMap<(String, String), Outcome>,
    /// Grows on every change, so that a waiter knows whether it missed one.
    version: u64,
}

/// What the agents and the [`Fleet`] handle share.
struct Shared {
    config: FleetConfig,
    state: Mutex<State>,
    /// Signalled on every change of `state`.
    changed: Condvar,
    stopping: Mutex<bool>,
    /// Signalled when `stopping` is set.
    stop_signal: Condvar,
    /// Per agent, a handle on its connected device, to end its waits when the fleet stops.
    closers: Mutex<Vec<Option<Closer>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut State)) {
        let mut state = lock(&self.state);
        f(&mut state);
        state.version += 1;
        drop(state);
        self.changed.notify_all();
    }

    fn record_error(&self, error: String) {
        self.update(|state| {
            state.summary.errors += 1;
            state.summary.last_error = Some(error);
        });
    }

    fn is_stopping(&self) -> bool {
        *lock(&self.stopping)
    }

    /// Waits until `deadline` unless the fleet stops first; false when it stopped.
    fn sleep_until(&self, deadline: Instant) -> bool {
        let mut stopping = lock(&self.stopping);
        while !*stopping {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            stopping = self
                .stop_signal
                .wait_timeout(stopping, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        false
    }

    /// Waits until the fleet stops.
    fn wait_for_stop(&self) {
        let stopping = lock(&self.stopping);
        drop(
            self.stop_signal
                .wait_while(stopping, |stopping| !*stopping)
                .unwrap_or_else(PoisonError::into_inner),
        );
    }

    /// Sets `stopping`, then closes every registered device: an agent that
    /// registers later sees `stopping` (see [`register`](Self::register)).
    fn stop(&self) {
        *lock(&self.stopping) = true;
        self.stop_signal.notify_all();
        for closer in lock(&self.closers).iter().flatten() {
            closer.close();
        }
    }

    /// Lets [`stop`](Self::stop) close agent `index`'s device; false (and
    /// nothing registered) when the fleet is already stopping.
    fn register(&self, index: usize, device: &Device) -> bool {
        let mut closers = lock(&self.closers);
        if self.is_stopping() {
            return false;
        }
        closers[index] = Some(device.closer());
        true
    }

    fn unregister(&self, index: usize) {
        lock(&self.closers)[index] = None;
    }
}

/// Why an agent could not go on with what it was doing.
enum Halt {
    /// The fleet is stopping (the device was closed, or a pause was cut short).
    Stopped,
    /// Something went wrong; the agent records it and tries again later.
    Failed(String),
}

impl From<Error> for Halt {
    fn from(error: Error) -> Halt {
        match error {
            Error::Closed { .. } => Halt::Stopped,
            error => Halt::Failed(error.to_string()),
        }
    }
}

/// How an agent's run of a job ended, when it reported everything it meant to.
enum JobEnd {
    /// The service accepted this final status.
    Finished(FinalStatus),
    /// The service rejected an update (e.g. the job was canceled): the agent let the job go.
    Dropped,
}

/// Whether an agent is ready for more work.
enum Flow {
    /// Nothing is pending: wait for a notice.
    Idle,
    /// The device hangs: it takes no more work.
    Hung,
}

/// One device's agent, run on its own thread.
struct Agent {
    index: usize,
    thing: String,
    behaviour: Behaviour,
    shared: Arc<Shared>,
}

impl Agent {
    /// Runs until the fleet stops. `device` is `None` for an Offline device,
    /// which connects again once `offline_until` has passed.
    fn run(self, device: Option<Device>, offline_until: Instant) {
        let device = match device {
            Some(device) => device,
            None => match self.reconnect(offline_until) {
                Some(device) => {
                    self.shared.update(|state| state.summary.online += 1);
                    device
                }
                None => return,
            },
        };
        if self.shared.register(self.index, &device) {
            self.work(&device);
            self.shared.unregister(self.index);
        }
        self.shared.update(|state| state.summary.online -= 1);
        device.disconnect();
    }

    /// Waits out the offline period, then connects (again and again after errors).
    fn reconnect(&self, offline_until: Instant) -> Option<Device> {
        let config = &self.shared.config;
        let mut wait_until = offline_until;
        while self.shared.sleep_until(wait_until) {
            match Device::connect(
                &config.mqtt_url,
                &config.prefix,
                &self.thing,
                config.tokens.get(&self.thing).map(String::as_str),
                config.connect_timeout,
            ) {
                Ok(device) => return Some(device),
                Err(error) => self.shared.record_error(error.to_string()),
            }
            wait_until = Instant::now() + RETRY_AFTER;
        }
        None
    }

    /// Starts pending executions now, then whenever a notify-next announces
    /// one or the device reconnects, and again a while after an error.
    fn work(&self, device: &Device) {
        // Set by run_pending to the connection count its last start-next covered.
        let mut connections = 0;
        loop {
            let failed = match self.run_pending(device, &mut connections) {
                Ok(Flow::Idle) => false,
                Ok(Flow::Hung) => {
                    self.shared.wait_for_stop();
                    return;
                }
                Err(Halt::Stopped) => return,
                Err(Halt::Failed(error)) => {
                    self.shared.record_error(error);
                    true
                }
            };
            // Without an error to recover from, a notice or a reconnection brings work.
            let timeout = if failed { RETRY_AFTER } else { IDLE_POLL };
            let announces_work = |notice: &Notice| {
                notice.kind == NoticeKind::NotifyNext && notice.body.get("execution").is_some()
            };
            match device.wait_for_work(connections, timeout, announces_work) {
                Ok(Wake::Reconnected(count)) => connections = count,
                Ok(Wake::Notified) | Err(Error::Timeout { .. }) => {}
                Err(_) => return, // closed: the fleet is stopping
            }
        }
    }

    /// Starts and runs executions until none is pending or the device hangs.
    /// `connections` is set to the connection count each start-next covers.
    fn run_pending(&self, device: &Device, connections: &mut u64) -> Result<Flow, Halt> {
        loop {
            // This start-next answers every notice and reconnection so far.
            *connections = device.connections();
            device.drain_notices();
            let reply = self.call(device, "start-next", json!({}))?;
            if !reply.accepted {
                return Err(Halt::Failed(format!(
                    "{}: start-next rejected: {}",
                    self.thing, reply.body
                )));
            }
            let Some(execution) = reply.body.get("execution") else {
                return Ok(Flow::Idle);
            };
            let Some(job) = execution.get("jobId").and_then(Value::as_str) else {
                return Err(Halt::Failed(format!(
                    "{}: start-next execution without a jobId: {execution}",
                    self.thing
                )));
            };
            self.begin(job, execution);
            let Some(status) = self.behaviour.final_status() else {
                return Ok(Flow::Hung);
            };
            let end = self.report(device, job, status);
            self.end(&end);
            end?;
        }
    }

    /// Counts an execution the agent was handed.
    fn begin(&self, job: &str, execution: &Value) {
        let status = execution.get("status").and_then(Value::as_str);
        let number = execution.get("executionNumber").and_then(Value::as_i64);
        let hangs = self.behaviour == Behaviour::Hang;
        self.shared.update(|state| {
            let outcome = state
                .outcomes
                .entry((self.thing.clone(), job.to_owned()))
                .or_insert_with(|| Outcome {
                    status: String::new(),
                    execution_number: 0,
                    runs: 0,
                });
            outcome.status = status.unwrap_or("IN_PROGRESS").to_owned();
            outcome.execution_number = number.unwrap_or(0);
            outcome.runs += 1;
            let summary = &mut state.summary;
            summary.started += 1;
            if hangs {
                summary.hanging += 1;
            } else {
                summary.in_progress += 1;
            }
        });
    }

    /// Counts how the run of an execution ended (an abandoned one just stops being in progress).
    fn end(&self, end: &Result<JobEnd, Halt>) {
        self.shared.update(|state| {
            let summary = &mut state.summary;
            summary.in_progress -= 1;
            match end {
                Ok(JobEnd::Finished(FinalStatus::Succeeded)) => summary.succeeded += 1,
                Ok(JobEnd::Finished(FinalStatus::Failed)) => summary.failed += 1,
                Ok(JobEnd::Finished(FinalStatus::Rejected)) => summary.rejected += 1,
                Ok(JobEnd::Dropped) => summary.dropped += 1,
                Err(_) => {}
            }
        });
    }

    /// Reports progress and then `status` for `job`, pausing between steps.
    fn report(&self, device: &Device, job: &str, status: FinalStatus) -> Result<JobEnd, Halt> {
        let config = &self.shared.config;
        let delay = match self.behaviour {
            Behaviour::Slow => config.step_delay.saturating_mul(10),
            _ => config.step_delay,
        };
        // A rejecting device turns the job down before it does anything.
        let steps = match self.behaviour {
            Behaviour::Reject => 0,
            _ => config.progress_steps,
        };
        for step in 1..=steps {
            let details = json!({
                "step": format!("{step}/{steps}"),
                "progress": format!("{}%", step * 100 / steps),
            });
            if !self.update(device, job, "IN_PROGRESS", details)? {
                return Ok(JobEnd::Dropped);
            }
            if !self.shared.sleep_until(Instant::now() + delay) {
                return Err(Halt::Stopped);
            }
        }
        let details = json!({ "result": format!("simulated {}", self.behaviour) });
        Ok(match self.update(device, job, status.as_str(), details)? {
            true => JobEnd::Finished(status),
            false => JobEnd::Dropped,
        })
    }

    /// Sends an update; true when the service accepted it (and then records
    /// the status), false when it rejected it.
    fn update(
        &self,
        device: &Device,
        job: &str,
        status: &str,
        details: Value,
    ) -> Result<bool, Halt> {
        let body = json!({ "status": status, "statusDetails": details });
        let reply = self.call(device, &format!("{job}/update"), body)?;
        if reply.accepted {
            self.shared.update(|state| {
                if let Some(outcome) = state
                    .outcomes
                    .get_mut(&(self.thing.clone(), job.to_owned()))
                {
                    outcome.status = status.to_owned();
                }
            });
        } else if reply.body.get("code").and_then(Value::as_str) != Some("InvalidStateTransition") {
            // Not the expected end of a canceled job: worth knowing about.
            self.shared.record_error(format!(
                "{}: update of {job} to {status} rejected: {}",
                self.thing, reply.body
            ));
        }
        Ok(reply.accepted)
    }

    /// A request whose reply may time out: sent again, with the same client
    /// token (so a late reply to an earlier attempt answers it too).
    fn call(&self, device: &Device, suffix: &str, mut body: Value) -> Result<Reply, Halt> {
        body["clientToken"] = Value::String(uuid::Uuid::new_v4().simple().to_string());
        let timeout = self.shared.config.call_timeout;
        let mut retries = 0;
        loop {
            match device.call(suffix, body.clone(), timeout) {
                Err(Error::Timeout { .. })
                    if retries < CALL_RETRIES && !self.shared.is_stopping() =>
                {
                    retries += 1;
                }
                result => return Ok(result?),
            }
        }
    }
}

/// A running fleet of simulated devices: one [`Device`] and one agent thread
/// per thing. An agent starts the next pending execution when its device
/// (re)connects and whenever it is idle and a notify-next announces one, runs
/// it as its [`Behaviour`] says, and counts what happened in the fleet's
/// [`Summary`] and [`Outcome`]s. Dropping the fleet stops it too.
pub struct Fleet {
    behaviours: HashMap<String, Behaviour>,
    shared: Arc<Shared>,
    agents: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("devices", &self.behaviours.len())
            .finish_non_exhaustive()
    }
}

/// Connects a device per thing, [`CONNECT_PARALLELISM`] at a time; on the
/// first error, disconnects those connected and returns it.
fn connect_all(config: &FleetConfig) -> Result<Vec<Device>, Error> {
    let things = &config.things;
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let mut results: Vec<(usize, Result<Device, Error>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CONNECT_PARALLELISM.min(things.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut connected = Vec::new();
                    while !failed.load(Ordering::SeqCst) {
                        let index = next.fetch_add(1, Ordering::SeqCst);
                        let Some(thing) = things.get(index) else {
                            break;
                        };
                        let result = Device::connect(
                            &config.mqtt_url,
                            &config.prefix,
                            thing,
                            config.tokens.get(thing).map(String::as_str),
                            config.connect_timeout,
                        );
                        failed.fetch_or(result.is_err(), Ordering::SeqCst);
                        connected.push((index, result));
                    }
                    connected
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    results.sort_by_key(|(index, _)| *index);
    let mut devices = Vec::with_capacity(things.len());
    let mut first_error = None;
    for (_, result) in results {
        match result {
            Ok(device) => devices.push(device),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    match first_error {
        None => Ok(devices),
        Some(error) => {
            devices.into_iter().for_each(Device::disconnect);
            Err(error)
        }
    }
}

impl Fleet {
    /// Connects every device (in parallel, bounded), returns once all are connected and subscribed
    /// (offline ones then go offline), and starts one agent thread per device.
    pub fn start(config: FleetConfig) -> Result<Fleet, Error> {
        let mut seen = HashSet::new();
        if let Some(thing) = config.things.iter().find(|thing| !seen.insert(*thing)) {
            return Err(Error::Client {
                thing: thing.clone(),
                reason: "the thing is listed twice: it would be two MQTT clients with one id"
                    .to_owned(),
            });
        }
        let behaviours = assign(config.things.len(), &config.mix);
        let devices = connect_all(&config)?;

        let mut summary = Summary::new(&behaviours);
        let mut initial = Vec::with_capacity(devices.len());
        for (device, behaviour) in devices.into_iter().zip(&behaviours) {
            if *behaviour == Behaviour::Offline {
                // Its session (and subscription) stays on the broker, which queues notices for it.
                device.disconnect();
                initial.push(None);
            } else {
                summary.online += 1;
                initial.push(Some(device));
            }
        }
        let offline_until = Instant::now() + config.offline_for;

        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                summary,
                outcomes: BTreeMap::new(),
                version: 0,
            }),
            changed: Condvar::new(),
            stopping: Mutex::new(false),
            stop_signal: Condvar::new(),
            closers: Mutex::new((0..initial.len()).map(|_| None).collect()),
            config,
        });
        let mut fleet = Fleet {
            behaviours: shared
                .config
                .things
                .iter()
                .cloned()
                .zip(behaviours.iter().copied())
                .collect(),
            shared: shared.clone(),
            agents: Vec::with_capacity(initial.len()),
        };
        for (index, (device, behaviour)) in initial.into_iter().zip(behaviours).enumerate() {
            let thing = shared.config.things[index].clone();
            let agent = Agent {
                index,
                thing: thing.clone(),
                behaviour,
                shared: shared.clone(),
            };
            let spawned = std::thread::Builder::new()
                .name(format!("agent-{thing}"))
                .stack_size(AGENT_STACK)
                .spawn(move || agent.run(device, offline_until));
            match spawned {
                Ok(handle) => fleet.agents.push(handle),
                Err(e) => {
                    // The device moved into the closure is dropped with it, which disconnects it.
                    fleet.shutdown();
                    return Err(Error::Client {
                        thing,
                        reason: format!("cannot start the agent thread: {e}"),
                    });
                }
            }
        }
        Ok(fleet)
    }

    /// The behaviour of `thing`, if it is in the fleet.
    pub fn behaviour_of(&self, thing: &str) -> Option<Behaviour> {
        self.behaviours.get(thing).copied()
    }

    /// The things with `behaviour`, in the order of [`FleetConfig::things`].
    pub fn things_with(&self, behaviour: Behaviour) -> Vec<String> {
        self.shared
            .config
            .things
            .iter()
            .filter(|thing| self.behaviour_of(thing) == Some(behaviour))
            .cloned()
            .collect()
    }

    /// A consistent snapshot: devices per behaviour, online count, jobs started, and per final status
    /// (SUCCEEDED/FAILED/REJECTED) the number of executions the agents finished, executions currently
    /// being run (IN_PROGRESS by an agent), executions hanging, executions dropped because the service
    /// rejected an update (e.g. canceled), and the last error if any.
    pub fn summary(&self) -> Summary {
        lock(&self.shared.state).summary.clone()
    }

    /// Per (thing, jobId): the last status the agent reported and was accepted, and how many times
    /// it started that job (executionNumber seen, to observe retries).
    pub fn outcomes(&self) -> BTreeMap<(String, String), Outcome> {
        lock(&self.shared.state).outcomes.clone()
    }

    /// Waits until `pred` holds for the summary, re-checking on every change,
    /// or Err([`Error::Timeout`]) with the last summary after `timeout`.
    pub fn wait_until(
        &self,
        timeout: Duration,
        pred: impl Fn(&Summary) -> bool,
    ) -> Result<Summary, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            // pred runs without the lock, so that it may call back into the fleet.
            let (summary, version) = {
                let state = lock(&self.shared.state);
                (state.summary.clone(), state.version)
            };
            if pred(&summary) {
                return Ok(summary);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout {
                    thing: "fleet".to_owned(),
                    what: format!("a fleet condition; last summary: {summary}"),
                    timeout,
                });
            }
            let state = lock(&self.shared.state);
            drop(
                self.shared
                    .changed
                    .wait_timeout_while(state, left, |state| state.version == version)
                    .unwrap_or_else(PoisonError::into_inner),
            );
        }
    }

    /// Stops all agents and disconnects.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop();
        for agent in self.agents.drain(..) {
            let _ = agent.join();
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigns_behaviours_in_order_of_the_mix() {
        use Behaviour::*;
        assert_eq!(assign(3, &[]), [Succeed, Succeed, Succeed]);
        assert_eq!(
            assign(10, &[(Fail, 0.2), (Hang, 0.1), (Reject, 0.15)]),
            [Fail, Fail, Hang, Reject, Reject, Succeed, Succeed, Succeed, Succeed, Succeed]
        );
        // round(0.04 * 10) = 0; round(0.05 * 10) = 1 (half away from zero).
        assert_eq!(
            assign(10, &[(Fail, 0.04), (Slow, 0.05)])
                .iter()
                .filter(|b| **b != Succeed)
                .count(),
            1
        );
        // Shares beyond the fleet are cut; nonsense shares count as none.
        assert_eq!(
            assign(4, &[(Offline, 0.75), (Fail, 0.5)]),
            [Offline, Offline, Offline, Fail]
        );
        assert_eq!(
            assign(2, &[(Fail, -1.0), (Hang, f64::NAN), (Reject, 7.0)]),
            [Reject, Reject]
        );
        assert!(assign(0, &[(Fail, 0.5)]).is_empty());
    }

    #[test]
    fn summary_counts_devices_and_prints_one_line() {
        use Behaviour::*;
        let mut summary = Summary::new(&assign(10, &[(Fail, 0.2), (Hang, 0.1)]));
        assert_eq!(summary.devices_with(Succeed), 7);
        assert_eq!(summary.devices_with(Fail), 2);
        assert_eq!(summary.devices_with(Slow), 0);
        summary.online = 10;
        summary.started = 5;
        summary.succeeded = 3;
        summary.failed = 1;
        summary.hanging = 1;
        assert_eq!(summary.finished(), 4);
        assert_eq!(
            summary.to_string(),
            "devices 10 (succeed 7 fail 2 hang 1) online 10 | started 5 in_progress 0 hanging 1 \
             | SUCCEEDED 3 FAILED 1 REJECTED 0 dropped 0 | errors 0"
        );
        summary.errors = 1;
        summary.last_error = Some("boom".to_owned());
        assert!(summary.to_string().ends_with("| errors 1 (last: boom)"));
        assert!(!summary.to_string().contains('\n'));
    }
}
