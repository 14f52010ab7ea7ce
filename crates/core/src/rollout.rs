//! Rollout pacing (docs/lifecycle.md#rollout): how many resolved targets may be given an
//! execution at time t.

use crate::config::RolloutConfig;
use crate::model::Job;
use crate::time::{Timestamp, MINUTE_MS};

/// The per-minute rate at a given progress. The exponential rate is multiplied
/// by `incrementFactor` each time the chosen count passes another multiple of
/// its threshold, and capped by `maximumPerMinute`.
pub fn rate_per_minute(config: &RolloutConfig, notified: u64, succeeded: u64) -> u64 {
    let cap = config
        .maximum_per_minute
        .unwrap_or(crate::config::MAX_PER_MINUTE);
    let Some(exp) = &config.exponential_rate else {
        return cap;
    };
    let criteria = &exp.rate_increase_criteria;
    let (count, threshold) = match (
        criteria.number_of_notified_things,
        criteria.number_of_succeeded_things,
    ) {
        (Some(threshold), _) => (notified, threshold),
        (None, Some(threshold)) => (succeeded, threshold),
        (None, None) => return exp.base_rate_per_minute.min(cap),
    };
    let steps = (count / threshold.max(1)).min(64) as i32;
    let rate = exp.base_rate_per_minute as f64 * exp.increment_factor.powi(steps);
    // A whole product such as 45 × 1.4 = 63 can land just below 63 in binary
    // floating point; the allowance keeps floor() from losing one.
    ((rate + 1e-6).floor() as u64).min(cap)
}

/// How many targets to release now and the job's rollout state afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub count: u64,
    pub job: Job,
}

impl Job {
    /// Releases as many pending targets as the pace allows at `now`. Without a
    /// rollout configuration everything pending goes at once. The rate is fixed
    /// when a one-minute window opens, so crossing a threshold mid-window does
    /// not cascade.
    pub fn release(&self, now: Timestamp, succeeded: u64) -> Option<Release> {
        self.release_at_most(now, succeeded, u64::MAX)
    }

    /// [`Self::release`], at most `limit` targets (one transaction's worth;
    /// the rest stays pending and the job stays due).
    pub fn release_at_most(&self, now: Timestamp, succeeded: u64, limit: u64) -> Option<Release> {
        let pending = self.rollout.pending_targets;
        if pending == 0 || !self.may_release(now) {
            return None;
        }
        let mut job = self.changed(now);
        let progress = &mut job.rollout;
        let allowance = match &self.config.rollout {
            None => pending,
            Some(config) => {
                let window_over = progress
                    .window_start
                    .is_none_or(|start| now.0 >= start.0 + MINUTE_MS);
                if window_over {
                    progress.window_start = Some(now);
                    progress.window_rate = rate_per_minute(config, progress.released, succeeded);
                    progress.released_in_window = 0;
                }
                progress
                    .window_rate
                    .saturating_sub(progress.released_in_window)
            }
        };
        let count = allowance.min(pending).min(limit);
        if count == 0 {
            return None;
        }
        progress.pending_targets -= count;
        progress.released += count;
        progress.released_in_window += count;
        Some(Release { count, job })
    }
}
