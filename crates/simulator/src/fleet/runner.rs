//! The [`Fleet`] handle: starts the devices and their agents, answers for
//! their [`Summary`] and [`Outcome`]s, and stops them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::agent::Agent;
use super::config::{assign, Behaviour, FleetConfig};
use super::connect::connect_all;
use super::shared::{lock, Shared};
use super::summary::{Outcome, Summary};
use crate::{Device, Error};

/// Agents only wait and make small requests: a small stack lets a fleet have thousands.
const AGENT_STACK: usize = 256 * 1024;

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

impl Fleet {
    /// Connects every device (in parallel, bounded), returns once all are connected and subscribed
    /// (offline ones then go offline), and starts one agent thread per device.
    pub fn start(config: FleetConfig) -> Result<Fleet, Error> {
        check_distinct(&config.things)?;
        let behaviours = assign(config.things.len(), &config.mix);
        let devices = connect_all(&config)?;

        let mut summary = Summary::new(&behaviours);
        let initial = take_offline(devices, &behaviours, &mut summary);
        let offline_until = Instant::now() + config.offline_for;

        let shared = Arc::new(Shared::new(config, summary));
        let mut fleet = Fleet {
            behaviours: shared
                .config
                .things
                .iter()
                .cloned()
                .zip(behaviours.iter().copied())
                .collect(),
            shared,
            agents: Vec::with_capacity(initial.len()),
        };
        for (index, (device, behaviour)) in initial.into_iter().zip(behaviours).enumerate() {
            if let Err(error) = fleet.spawn_agent(index, device, behaviour, offline_until) {
                fleet.shutdown();
                return Err(error);
            }
        }
        Ok(fleet)
    }

    /// Starts the agent thread of the `index`th thing, which runs until the
    /// fleet stops.
    fn spawn_agent(
        &mut self,
        index: usize,
        device: Option<Device>,
        behaviour: Behaviour,
        offline_until: Instant,
    ) -> Result<(), Error> {
        let thing = self.shared.config.things[index].clone();
        let agent = Agent {
            index,
            thing: thing.clone(),
            behaviour,
            shared: self.shared.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name(format!("agent-{thing}"))
            .stack_size(AGENT_STACK)
            .spawn(move || agent.run(device, offline_until));
        match spawned {
            Ok(handle) => {
                self.agents.push(handle);
                Ok(())
            }
            // The device moved into the closure is dropped with it, which disconnects it.
            Err(e) => Err(Error::Client {
                thing,
                reason: format!("cannot start the agent thread: {e}"),
            }),
        }
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

/// Refuses a thing listed twice: each thing is an MQTT client id, and a
/// second client with the same id would push the first off the broker.
fn check_distinct(things: &[String]) -> Result<(), Error> {
    let mut seen = HashSet::new();
    match things.iter().find(|thing| !seen.insert(*thing)) {
        Some(thing) => Err(Error::Client {
            thing: thing.clone(),
            reason: "the thing is listed twice: it would be two MQTT clients with one id"
                .to_owned(),
        }),
        None => Ok(()),
    }
}

/// Disconnects the Offline devices (counting the others online) and gives
/// each thing its device, `None` for an Offline one. An Offline device's
/// session (and subscription) stays on the broker, which queues notices for
/// it until it comes back.
fn take_offline(
    devices: Vec<Device>,
    behaviours: &[Behaviour],
    summary: &mut Summary,
) -> Vec<Option<Device>> {
    let mut initial = Vec::with_capacity(devices.len());
    for (device, behaviour) in devices.into_iter().zip(behaviours) {
        if *behaviour == Behaviour::Offline {
            device.disconnect();
            initial.push(None);
        } else {
            summary.online += 1;
            initial.push(Some(device));
        }
    }
    initial
}
