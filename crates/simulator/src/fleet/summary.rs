//! What the agents report: the fleet-wide [`Summary`] and each job's [`Outcome`].

use super::config::Behaviour;

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
    pub(super) fn new(behaviours: &[Behaviour]) -> Summary {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::config::assign;

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
