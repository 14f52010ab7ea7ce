//! What a fleet is made of: the behaviours a simulated device can have, how
//! they are shared out over the things, and the pacing of the agents.

use std::time::Duration;

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
    pub(super) fn final_status(self) -> Option<FinalStatus> {
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
pub(super) enum FinalStatus {
    Succeeded,
    Failed,
    Rejected,
}

impl FinalStatus {
    pub(super) fn as_str(self) -> &'static str {
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

/// What a [`Fleet`](super::Fleet) is made of and how its agents pace themselves.
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
    /// When set, every device also answers commands under
    /// `{commands prefix}/{thing}/executions/` on its connection, as this
    /// behaviour says ([`crate::CommandDevice`]).
    pub commands: Option<(String, crate::CommandBehaviour)>,
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
            commands: None,
        }
    }
}

/// The behaviour of each of `n` things, in order (see [`FleetConfig::mix`]).
pub(super) fn assign(n: usize, mix: &[(Behaviour, f64)]) -> Vec<Behaviour> {
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
}
