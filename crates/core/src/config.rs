//! The job configurations of docs/lifecycle.md#limits, with their validation.
//! Their behaviour lives in [`crate::rollout`], [`crate::abort`],
//! [`crate::retry`] and [`crate::schedule`].

use serde::{Deserialize, Serialize};

use crate::error::Rejection;
use crate::model::{wire_enum, RetriesUsed};
use crate::schedule::MaintenanceWindow;
use crate::time::{Timestamp, DAY_MS, MINUTE_MS};
use crate::validate::{decimal_places, in_range, MAX_TIMEOUT_MINUTES};

type Result<T = ()> = std::result::Result<T, Rejection>;

/// Everything configurable on a job besides its targets and document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobConfig {
    #[serde(
        rename = "jobExecutionsRolloutConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rollout: Option<RolloutConfig>,
    #[serde(
        rename = "abortConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub abort: Option<AbortConfig>,
    #[serde(
        rename = "timeoutConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<TimeoutConfig>,
    #[serde(
        rename = "jobExecutionsRetryConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub retry: Option<RetryConfig>,
    #[serde(
        rename = "schedulingConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduling: Option<SchedulingConfig>,
}

impl JobConfig {
    /// Validates every configuration; `now` anchors the scheduling rules.
    pub fn validate(&self, now: Timestamp) -> Result {
        if let Some(rollout) = &self.rollout {
            rollout.validate()?;
        }
        if let Some(abort) = &self.abort {
            abort.validate()?;
        }
        if let Some(timeout) = &self.timeout {
            timeout.validate()?;
        }
        if let Some(retry) = &self.retry {
            retry.validate()?;
            if retry.budget(RetryFailureType::TimedOut) > 0
                && self
                    .timeout
                    .and_then(|t| t.in_progress_timeout_in_minutes)
                    .is_none()
            {
                return Err(Rejection::invalid(
                    "jobExecutionsRetryConfig",
                    "retrying TIMED_OUT executions needs timeoutConfig.inProgressTimeoutInMinutes",
                ));
            }
        }
        if let Some(scheduling) = &self.scheduling {
            scheduling.validate(now)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_per_minute: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exponential_rate: Option<ExponentialRate>,
}

pub const MAX_PER_MINUTE: u64 = 1000;

impl RolloutConfig {
    fn validate(&self) -> Result {
        if let Some(max) = self.maximum_per_minute {
            in_range(
                "jobExecutionsRolloutConfig.maximumPerMinute",
                max,
                1,
                MAX_PER_MINUTE,
            )?;
        }
        if let Some(exp) = &self.exponential_rate {
            exp.validate()?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExponentialRate {
    pub base_rate_per_minute: u64,
    pub increment_factor: f64,
    pub rate_increase_criteria: RateIncreaseCriteria,
}

impl ExponentialRate {
    fn validate(&self) -> Result {
        const FIELD: &str = "jobExecutionsRolloutConfig.exponentialRate";
        in_range(
            &format!("{FIELD}.baseRatePerMinute"),
            self.base_rate_per_minute,
            1,
            MAX_PER_MINUTE,
        )?;
        in_range(
            &format!("{FIELD}.incrementFactor"),
            self.increment_factor,
            1.1,
            5.0,
        )?;
        decimal_places(
            &format!("{FIELD}.incrementFactor"),
            self.increment_factor,
            1,
        )?;
        let criteria = &self.rate_increase_criteria;
        match (
            criteria.number_of_notified_things,
            criteria.number_of_succeeded_things,
        ) {
            (Some(n), None) | (None, Some(n)) if n >= 1 => Ok(()),
            (Some(_), Some(_)) | (None, None) => Err(Rejection::invalid(
                &format!("{FIELD}.rateIncreaseCriteria"),
                "set exactly one of numberOfNotifiedThings and numberOfSucceededThings",
            )),
            _ => Err(Rejection::invalid(
                &format!("{FIELD}.rateIncreaseCriteria"),
                "the threshold must be at least 1",
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateIncreaseCriteria {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_notified_things: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_succeeded_things: Option<u64>,
}

wire_enum!(
    /// Which failures an abort criterion counts; ALL = FAILED + REJECTED + TIMED_OUT.
    AbortFailureType {
        Failed = "FAILED",
        Rejected = "REJECTED",
        TimedOut = "TIMED_OUT",
        All = "ALL",
    }
);

wire_enum!(
    AbortAction { Cancel = "CANCEL" }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AbortConfig {
    pub criteria_list: Vec<AbortCriteria>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AbortCriteria {
    pub failure_type: AbortFailureType,
    pub action: AbortAction,
    pub threshold_percentage: f64,
    pub min_number_of_executed_things: u64,
}

impl AbortConfig {
    fn validate(&self) -> Result {
        if self.criteria_list.is_empty() {
            return Err(Rejection::invalid(
                "abortConfig.criteriaList",
                "needs at least one criterion",
            ));
        }
        for (i, criteria) in self.criteria_list.iter().enumerate() {
            let field = format!("abortConfig.criteriaList[{i}]");
            in_range(
                &format!("{field}.thresholdPercentage"),
                criteria.threshold_percentage,
                0.0,
                100.0,
            )?;
            decimal_places(
                &format!("{field}.thresholdPercentage"),
                criteria.threshold_percentage,
                2,
            )?;
            in_range(
                &format!("{field}.minNumberOfExecutedThings"),
                criteria.min_number_of_executed_things,
                1,
                u32::MAX as u64,
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeoutConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress_timeout_in_minutes: Option<i64>,
}

impl TimeoutConfig {
    fn validate(&self) -> Result {
        if let Some(minutes) = self.in_progress_timeout_in_minutes {
            in_range(
                "timeoutConfig.inProgressTimeoutInMinutes",
                minutes,
                1,
                MAX_TIMEOUT_MINUTES,
            )?;
        }
        Ok(())
    }
}

wire_enum!(
    /// Which terminal statuses a retry criterion covers.
    RetryFailureType {
        Failed = "FAILED",
        TimedOut = "TIMED_OUT",
        All = "ALL",
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryConfig {
    pub criteria_list: Vec<RetryCriteria>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryCriteria {
    pub failure_type: RetryFailureType,
    pub number_of_retries: u32,
}

pub const MAX_RETRIES: u32 = 10;

impl RetryConfig {
    fn validate(&self) -> Result {
        const FIELD: &str = "jobExecutionsRetryConfig.criteriaList";
        if self.criteria_list.is_empty() || self.criteria_list.len() > 2 {
            return Err(Rejection::invalid(FIELD, "needs one or two criteria"));
        }
        let mut total = 0;
        for (i, criteria) in self.criteria_list.iter().enumerate() {
            in_range(
                &format!("{FIELD}[{i}].numberOfRetries"),
                criteria.number_of_retries,
                0,
                MAX_RETRIES,
            )?;
            if self.criteria_list[..i]
                .iter()
                .any(|c| c.failure_type == criteria.failure_type)
            {
                return Err(Rejection::invalid(
                    &format!("{FIELD}[{i}].failureType"),
                    format!("{} is listed twice", criteria.failure_type),
                ));
            }
            total += criteria.number_of_retries;
        }
        if total > MAX_RETRIES {
            return Err(Rejection::invalid(
                FIELD,
                format!("allows {total} retries in all; at most {MAX_RETRIES} are allowed"),
            ));
        }
        Ok(())
    }

    fn retries_for(&self, failure: RetryFailureType) -> Option<u32> {
        self.criteria_list
            .iter()
            .find(|c| c.failure_type == failure)
            .map(|c| c.number_of_retries)
    }

    /// Retries configured for one failure type: its own criterion, else ALL's.
    pub fn budget(&self, failure: RetryFailureType) -> u32 {
        self.retries_for(failure)
            .or_else(|| self.retries_for(RetryFailureType::All))
            .unwrap_or(0)
    }

    /// Whether one more retry is allowed after a `failure`, given the retries
    /// used so far. A type with its own criterion spends its own budget; the
    /// others share ALL's, counted over every retry.
    pub fn allows_another(&self, failure: RetryFailureType, used: RetriesUsed) -> bool {
        let own = match failure {
            RetryFailureType::Failed => used.failed,
            RetryFailureType::TimedOut => used.timed_out,
            RetryFailureType::All => used.total(),
        };
        match self.retries_for(failure) {
            Some(budget) => own < budget,
            None => used.total() < self.budget(RetryFailureType::All),
        }
    }
}

wire_enum!(
    /// What happens at `schedulingConfig.endTime` (docs/lifecycle.md#scheduling).
    EndBehavior {
        StopRollout = "STOP_ROLLOUT",
        Cancel = "CANCEL",
        ForceCancel = "FORCE_CANCEL",
    }
);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchedulingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_behavior: Option<EndBehavior>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance_windows: Vec<MaintenanceWindow>,
}

const MIN_LEAD_MS: i64 = 30 * MINUTE_MS;

impl SchedulingConfig {
    pub fn start(&self) -> Option<Timestamp> {
        self.start_time.as_deref().and_then(Timestamp::parse)
    }

    pub fn end(&self) -> Option<Timestamp> {
        self.end_time.as_deref().and_then(Timestamp::parse)
    }

    fn validate(&self, now: Timestamp) -> Result {
        const FIELD: &str = "schedulingConfig";
        let parse = |name: &str, text: &Option<String>| -> Result<Option<Timestamp>> {
            text.as_deref()
                .map(|t| {
                    Timestamp::parse(t).ok_or_else(|| {
                        Rejection::invalid(
                            &format!("{FIELD}.{name}"),
                            format!("{t:?} is not a time; use YYYY-MM-DDTHH:MM (UTC) or RFC 3339"),
                        )
                    })
                })
                .transpose()
        };
        let start = parse("startTime", &self.start_time)?;
        let end = parse("endTime", &self.end_time)?;
        let within =
            |name: &str, at: Timestamp, from: Timestamp, min: i64, max: i64, what: &str| {
                if at.0 < from.0 + min || at.0 > from.0 + max {
                    Err(Rejection::invalid(&format!("{FIELD}.{name}"), what))
                } else {
                    Ok(())
                }
            };
        if let Some(start) = start {
            within(
                "startTime",
                start,
                now,
                MIN_LEAD_MS,
                366 * DAY_MS,
                "must be at least 30 minutes and at most one year from now",
            )?;
        }
        if let Some(end) = end {
            within(
                "endTime",
                end,
                now,
                MIN_LEAD_MS,
                2 * 366 * DAY_MS,
                "must be at least 30 minutes and at most two years from now",
            )?;
            if let Some(start) = start {
                within(
                    "endTime",
                    end,
                    start,
                    MIN_LEAD_MS,
                    2 * 366 * DAY_MS,
                    "must be between 30 minutes and two years after startTime",
                )?;
            }
        }
        if self.end_behavior.is_some() && end.is_none() {
            return Err(Rejection::invalid(
                &format!("{FIELD}.endBehavior"),
                "needs an endTime",
            ));
        }
        for (i, window) in self.maintenance_windows.iter().enumerate() {
            window.validate(&format!("{FIELD}.maintenanceWindows[{i}]"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> std::result::Result<JobConfig, String> {
        let config: JobConfig = serde_json::from_value(json).map_err(|e| e.to_string())?;
        config
            .validate(Timestamp::parse("2026-11-26T12:00:00Z").unwrap())
            .map_err(|e| e.to_string())?;
        Ok(config)
    }

    #[test]
    fn accepts_every_configuration() {
        config(serde_json::json!({
            "jobExecutionsRolloutConfig": {"maximumPerMinute": 100, "exponentialRate": {
                "baseRatePerMinute": 50, "incrementFactor": 2.0,
                "rateIncreaseCriteria": {"numberOfNotifiedThings": 1000}}},
            "abortConfig": {"criteriaList": [{"failureType": "FAILED", "action": "CANCEL",
                "thresholdPercentage": 20.5, "minNumberOfExecutedThings": 10}]},
            "timeoutConfig": {"inProgressTimeoutInMinutes": 20},
            "jobExecutionsRetryConfig": {"criteriaList": [
                {"failureType": "FAILED", "numberOfRetries": 3},
                {"failureType": "TIMED_OUT", "numberOfRetries": 2}]},
            "schedulingConfig": {"startTime": "2026-11-26T13:00", "endTime": "2026-11-27T13:00",
                "endBehavior": "CANCEL",
                "maintenanceWindows": [{"startTime": "0 2 * * *", "durationInMinutes": 60}]}
        }))
        .unwrap();
    }

    #[test]
    fn rejections_name_the_field() {
        let cases = [
            (
                serde_json::json!({"jobExecutionsRolloutConfig": {"maximumPerMinute": 0}}),
                "jobExecutionsRolloutConfig.maximumPerMinute",
            ),
            (
                serde_json::json!({"jobExecutionsRolloutConfig": {"exponentialRate": {
                "baseRatePerMinute": 50, "incrementFactor": 1.05,
                "rateIncreaseCriteria": {"numberOfNotifiedThings": 10}}}}),
                "incrementFactor",
            ),
            (
                serde_json::json!({"jobExecutionsRolloutConfig": {"exponentialRate": {
                "baseRatePerMinute": 50, "incrementFactor": 2,
                "rateIncreaseCriteria": {}}}}),
                "rateIncreaseCriteria",
            ),
            (
                serde_json::json!({"abortConfig": {"criteriaList": [{"failureType": "FAILED",
                "action": "CANCEL", "thresholdPercentage": 100.5,
                "minNumberOfExecutedThings": 1}]}}),
                "thresholdPercentage",
            ),
            (
                serde_json::json!({"abortConfig": {"criteriaList": []}}),
                "criteriaList",
            ),
            (
                serde_json::json!({"timeoutConfig": {"inProgressTimeoutInMinutes": 10081}}),
                "inProgressTimeoutInMinutes",
            ),
            (
                serde_json::json!({"jobExecutionsRetryConfig": {"criteriaList": [
                {"failureType": "FAILED", "numberOfRetries": 6},
                {"failureType": "ALL", "numberOfRetries": 6}]}}),
                "at most 10",
            ),
            (
                serde_json::json!({"jobExecutionsRetryConfig": {"criteriaList": [
                {"failureType": "TIMED_OUT", "numberOfRetries": 1}]}}),
                "timeoutConfig",
            ),
            (
                serde_json::json!({"schedulingConfig": {"startTime": "2026-11-26T12:10"}}),
                "startTime",
            ),
            (
                serde_json::json!({"schedulingConfig": {"startTime": "soon"}}),
                "startTime",
            ),
            (
                serde_json::json!({"schedulingConfig": {"startTime": "2026-11-26T13:00",
                "endTime": "2026-11-26T13:10"}}),
                "endTime",
            ),
            (
                serde_json::json!({"schedulingConfig": {"endBehavior": "CANCEL"}}),
                "endBehavior",
            ),
            (
                serde_json::json!({"schedulingConfig": {"maintenanceWindows": [
                {"startTime": "61 * * * *", "durationInMinutes": 30}]}}),
                "maintenanceWindows[0].startTime",
            ),
            (
                serde_json::json!({"schedulingConfig": {"maintenanceWindows": [
                {"startTime": "0 2 * * *", "durationInMinutes": 1431}]}}),
                "durationInMinutes",
            ),
            (
                serde_json::json!({"timeoutConfig": {"inProgressTimeoutInMinutes": 5, "extra": 1}}),
                "unknown field",
            ),
        ];
        for (json, expected) in cases {
            let err = config(json.clone()).unwrap_err();
            assert!(
                err.contains(expected),
                "{json}: {err:?} should mention {expected}"
            );
        }
    }

    #[test]
    fn retry_budget_prefers_the_specific_criterion() {
        let retry: RetryConfig = serde_json::from_value(serde_json::json!({"criteriaList": [
            {"failureType": "FAILED", "numberOfRetries": 2},
            {"failureType": "ALL", "numberOfRetries": 5}]}))
        .unwrap();
        assert_eq!(retry.budget(RetryFailureType::Failed), 2);
        assert_eq!(retry.budget(RetryFailureType::TimedOut), 5);
    }
}
