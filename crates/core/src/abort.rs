//! Abort criteria (docs/lifecycle.md#abort): evaluated in list order over the
//! executions that reached a terminal status.

use crate::config::{AbortConfig, AbortFailureType};
use crate::model::{ExecutionStatus, StatusCounts};

/// A criterion that fired, with the comment the job will carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Abort {
    pub comment: String,
}

impl Abort {
    /// Our own constant: AWS's exact string is not public (docs/lifecycle.md#abort).
    pub const REASON_CODE: &'static str = "ABORT_CRITERIA_MET";
}

fn failures(counts: &StatusCounts, failure: AbortFailureType) -> u64 {
    use ExecutionStatus::{Failed, Rejected, TimedOut};
    match failure {
        AbortFailureType::Failed => counts.get(Failed),
        AbortFailureType::Rejected => counts.get(Rejected),
        AbortFailureType::TimedOut => counts.get(TimedOut),
        AbortFailureType::All => counts.get(Failed) + counts.get(Rejected) + counts.get(TimedOut),
    }
}

impl AbortConfig {
    /// The first criterion that is eligible (at least
    /// `minNumberOfExecutedThings` terminal executions) and whose failures
    /// make up at least `thresholdPercentage` of them.
    pub fn evaluate(&self, counts: &StatusCounts) -> Option<Abort> {
        let completed = counts.terminal();
        self.criteria_list.iter().find_map(|criteria| {
            let failed = failures(counts, criteria.failure_type);
            let eligible = completed > 0 && completed >= criteria.min_number_of_executed_things;
            // Compare in integers scaled by 100 (thresholds have two decimals).
            let threshold = (criteria.threshold_percentage * 100.0).round() as u128;
            let fired = eligible && (failed as u128) * 10_000 >= threshold * completed as u128;
            fired.then(|| Abort {
                comment: format!(
                    "{} executions reached {:.2}% ({failed} of {completed} completed), \
                     at or above the abort threshold of {}% (minimum {} executed)",
                    criteria.failure_type,
                    failed as f64 * 100.0 / completed as f64,
                    criteria.threshold_percentage,
                    criteria.min_number_of_executed_things
                ),
            })
        })
    }
}
