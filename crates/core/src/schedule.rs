//! Scheduled start, maintenance windows and end behaviours (docs/lifecycle.md#scheduling).

use croner::parser::{CronParser, Seconds};
use croner::Cron;
use serde::{Deserialize, Serialize};

use crate::config::{EndBehavior, SchedulingConfig};
use crate::error::Rejection;
use crate::model::{Job, JobStatus};
use crate::time::Timestamp;
use crate::validate::in_range;

/// A recurring window: a cron expression (5 fields, or 6 with seconds first;
/// UTC) for its start and how long it stays open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MaintenanceWindow {
    pub start_time: String,
    pub duration_in_minutes: i64,
}

/// Parses a cron expression: 5 fields, or 6 with seconds first.
pub fn parse_cron(expression: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(expression)
        .map_err(|e| e.to_string())
}

impl MaintenanceWindow {
    pub(crate) fn validate(&self, field: &str) -> Result<(), Rejection> {
        parse_cron(&self.start_time).map_err(|e| {
            Rejection::invalid(
                &format!("{field}.startTime"),
                format!("{:?} is not a cron expression: {e}", self.start_time),
            )
        })?;
        in_range(
            &format!("{field}.durationInMinutes"),
            self.duration_in_minutes,
            1,
            1430,
        )
    }

    /// Whether the window is open at `now`: some start lies in
    /// `(now - duration, now]`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        let Ok(cron) = parse_cron(&self.start_time) else {
            return false;
        };
        let opened_after = now.plus_minutes(-self.duration_in_minutes).to_datetime();
        cron.find_next_occurrence(&opened_after, false)
            .is_ok_and(|start| Timestamp::from_datetime(start) <= now)
    }

    /// The next start strictly after `now`.
    pub fn next_start(&self, now: Timestamp) -> Option<Timestamp> {
        let cron = parse_cron(&self.start_time).ok()?;
        cron.find_next_occurrence(&now.to_datetime(), false)
            .ok()
            .map(Timestamp::from_datetime)
    }
}

/// What the time-driven scheduler decides for one job at `now`.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleStep {
    /// Nothing to do.
    Idle,
    /// SCHEDULED ↔ IN_PROGRESS (start time reached, a window opened or closed),
    /// or the rollout stopped: persist the job.
    Update(Box<Job>),
    /// endTime passed with CANCEL or FORCE_CANCEL: cancel the job.
    Cancel { force: bool },
}

/// The reasonCode a job canceled by its endTime carries.
pub const END_TIME_REASON_CODE: &str = "END_TIME_REACHED";

impl Job {
    /// endTime passed with endBehavior CANCEL or FORCE_CANCEL: the service
    /// cancels the job, saying why.
    pub fn end_by_cancel(
        &self,
        force: bool,
        now: Timestamp,
    ) -> Result<(Job, crate::job::CancelScope), crate::Rejection> {
        let behavior = if force { "FORCE_CANCEL" } else { "CANCEL" };
        self.cancel(
            &crate::job::CancelJob {
                reason_code: Some(END_TIME_REASON_CODE.to_owned()),
                comment: Some(format!(
                    "schedulingConfig.endTime passed; endBehavior {behavior}"
                )),
                force,
            },
            now,
        )
    }

    /// Whether paced releases may happen now: the job is IN_PROGRESS and, if it
    /// has maintenance windows, one is open.
    pub fn may_release(&self, now: Timestamp) -> bool {
        self.status == JobStatus::InProgress
            && !self.rollout.stopped
            && self
                .windows()
                .is_none_or(|w| w.iter().any(|w| w.is_open(now)))
    }

    fn windows(&self) -> Option<&[MaintenanceWindow]> {
        self.config
            .scheduling
            .as_ref()
            .map(|s| s.maintenance_windows.as_slice())
            .filter(|w| !w.is_empty())
    }

    /// The status a job gets at creation.
    pub fn initial_status(&self, now: Timestamp) -> JobStatus {
        if self.should_run(now) {
            JobStatus::InProgress
        } else {
            JobStatus::Scheduled
        }
    }

    fn should_run(&self, now: Timestamp) -> bool {
        let Some(scheduling) = &self.config.scheduling else {
            return true;
        };
        scheduling.start().is_none_or(|start| now >= start)
            && self
                .windows()
                .is_none_or(|w| w.iter().any(|w| w.is_open(now)))
    }

    /// When the sweeper must look at this job again, as far as time alone
    /// goes (a change of its executions makes it due at once, whatever
    /// this says): the scheduled start, the end time, the next pacing
    /// window while targets wait, or every minute while maintenance
    /// windows decide. `None`: only a change can make it due (a running
    /// job with nothing left to release, a continuous job, a finished one).
    pub fn next_due(&self, now: Timestamp) -> Option<Timestamp> {
        if !matches!(self.status, JobStatus::Scheduled | JobStatus::InProgress) {
            return None;
        }
        let scheduling = self.config.scheduling.as_ref();
        // While maintenance windows decide, whether one is open is asked
        // every minute.
        let windows = self.windows().map(|_| now.plus_minutes(1));
        let start = match (self.status, scheduling.and_then(SchedulingConfig::start)) {
            (JobStatus::Scheduled, Some(start)) if start > now => Some(start),
            (JobStatus::Scheduled, _) if windows.is_none() => Some(now),
            _ => None,
        };
        let end = scheduling
            .and_then(SchedulingConfig::end)
            .filter(|_| !self.end_applied);
        // Targets wait: now while the current pacing window (or no pace)
        // allows more, else the next window.
        let progress = &self.rollout;
        let release =
            (progress.pending_targets > 0 && self.may_release(now)).then(|| {
                match progress.window_start {
                    Some(window)
                        if self.config.rollout.is_some()
                            && progress.released_in_window >= progress.window_rate =>
                    {
                        window.plus_minutes(1)
                    }
                    _ => now,
                }
            });
        [start, end, windows, release]
            .into_iter()
            .flatten()
            .min()
            .map(|due| due.max(now))
    }

    /// Start, maintenance-window and end-time decisions (docs/lifecycle.md#scheduling).
    pub fn schedule_step(&self, now: Timestamp) -> ScheduleStep {
        let Some(scheduling) = &self.config.scheduling else {
            return ScheduleStep::Idle;
        };
        if !matches!(self.status, JobStatus::Scheduled | JobStatus::InProgress) {
            return ScheduleStep::Idle;
        }
        if !self.end_applied && scheduling.end().is_some_and(|end| now >= end) {
            return match scheduling.end_behavior.unwrap_or(EndBehavior::StopRollout) {
                EndBehavior::StopRollout => {
                    let mut job = self.changed(now);
                    job.end_applied = true;
                    job.rollout.stopped = true;
                    job.status = JobStatus::InProgress;
                    ScheduleStep::Update(Box::new(job))
                }
                EndBehavior::Cancel => ScheduleStep::Cancel { force: false },
                EndBehavior::ForceCancel => ScheduleStep::Cancel { force: true },
            };
        }
        if self.end_applied {
            return ScheduleStep::Idle;
        }
        let wanted = self.initial_status(now);
        if wanted == self.status {
            return ScheduleStep::Idle;
        }
        let mut job = self.changed(now);
        job.status = wanted;
        ScheduleStep::Update(Box::new(job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn window_opens_and_closes() {
        let window = MaintenanceWindow {
            start_time: "0 2 * * *".into(),
            duration_in_minutes: 60,
        };
        assert!(!window.is_open(at("2026-11-26T01:59")));
        assert!(window.is_open(at("2026-11-26T02:00")));
        assert!(window.is_open(at("2026-11-26T02:59")));
        assert!(!window.is_open(at("2026-11-26T03:00")));
        assert_eq!(
            window.next_start(at("2026-11-26T02:00")),
            Some(at("2026-11-27T02:00"))
        );
    }

    #[test]
    fn six_field_cron_has_seconds_first() {
        assert!(parse_cron("*/5 * * * * *").is_ok());
        assert!(parse_cron("0 0 2 * * *").is_ok());
        assert!(parse_cron("not cron").is_err());
    }
}
