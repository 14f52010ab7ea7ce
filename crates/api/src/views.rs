//! What the control plane shows: jobs, job summaries and executions as JSON
//! (camelCase, RFC 3339 UTC timestamps, absent fields omitted).

use fleetjobs_core::model::{Execution, ExecutionStatus, Job, StatusCounts};
use serde_json::{json, Map, Value};

fn insert_some(out: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        out.insert(key.to_owned(), value);
    }
}

/// AWS `jobProcessDetails`: executions per status.
pub fn process_details(counts: &StatusCounts) -> Value {
    use ExecutionStatus::*;
    let count = |s| json!(counts.get(s));
    json!({
        "numberOfQueuedThings": count(Queued),
        "numberOfInProgressThings": count(InProgress),
        "numberOfSucceededThings": count(Succeeded),
        "numberOfFailedThings": count(Failed),
        "numberOfRejectedThings": count(Rejected),
        "numberOfTimedOutThings": count(TimedOut),
        "numberOfCanceledThings": count(Canceled),
        "numberOfRemovedThings": count(Removed),
    })
}

/// DescribeJob: settings, status, cancel information, timestamps, counters.
pub fn job(job: &Job, counts: &StatusCounts) -> Value {
    let mut out = Map::new();
    out.insert("jobId".into(), json!(job.job_id));
    insert_some(&mut out, "name", job.name.as_ref().map(|n| json!(n)));
    insert_some(
        &mut out,
        "description",
        job.description.as_ref().map(|d| json!(d)),
    );
    out.insert("jobType".into(), json!(job.job_type));
    out.insert("status".into(), json!(job.status));
    out.insert("targets".into(), json!(job.targets));
    if let Value::Object(config) = json!(job.config) {
        out.extend(config);
    }
    insert_some(
        &mut out,
        "reasonCode",
        job.reason_code.as_ref().map(|c| json!(c)),
    );
    insert_some(&mut out, "comment", job.comment.as_ref().map(|c| json!(c)));
    out.insert("forceCanceled".into(), json!(job.force_canceled));
    out.insert("createdAt".into(), json!(job.created_at.to_rfc3339()));
    out.insert(
        "lastUpdatedAt".into(),
        json!(job.last_updated_at.to_rfc3339()),
    );
    insert_some(
        &mut out,
        "completedAt",
        job.completed_at.map(|t| json!(t.to_rfc3339())),
    );
    if !job.tags.is_empty() {
        out.insert("tags".into(), json!(job.tags));
    }
    out.insert("jobProcessDetails".into(), process_details(counts));
    Value::Object(out)
}

/// A ListJobs row: what the console's job list shows.
pub fn job_summary(job: &Job) -> Value {
    let mut out = Map::new();
    out.insert("jobId".into(), json!(job.job_id));
    insert_some(&mut out, "name", job.name.as_ref().map(|n| json!(n)));
    out.insert("jobType".into(), json!(job.job_type));
    out.insert("status".into(), json!(job.status));
    out.insert(
        "targets".into(),
        json!({
            // Things resolved at creation (released or still to release).
            "numberOfThings": job.rollout.released + job.rollout.pending_targets,
            "thingGroupNames": job.targets.thing_group_names,
        }),
    );
    out.insert("createdAt".into(), json!(job.created_at.to_rfc3339()));
    Value::Object(out)
}

/// A list answer: `{<key>: [...], nextToken?}`.
pub fn page<T>(key: &str, page: fleetjobs_store::Page<T>, item: impl Fn(&T) -> Value) -> Value {
    let mut out = Map::new();
    out.insert(key.to_owned(), page.items.iter().map(item).collect());
    insert_some(&mut out, "nextToken", page.next_token.map(Value::String));
    Value::Object(out)
}

/// An execution on the control plane (DescribeJobExecution and the lists).
pub fn execution(e: &Execution) -> Value {
    let mut out = Map::new();
    out.insert("jobId".into(), json!(e.job_id));
    out.insert("thingName".into(), json!(e.thing_name));
    out.insert("status".into(), json!(e.status));
    out.insert("executionNumber".into(), json!(e.execution_number));
    out.insert("versionNumber".into(), json!(e.version_number));
    out.insert("retryAttempt".into(), json!(e.retry_attempt()));
    out.insert("forceCanceled".into(), json!(e.force_canceled));
    if !e.status_details.is_empty() {
        out.insert("statusDetails".into(), json!(e.status_details));
    }
    out.insert("queuedAt".into(), json!(e.queued_at.to_rfc3339()));
    insert_some(
        &mut out,
        "startedAt",
        e.started_at.map(|t| json!(t.to_rfc3339())),
    );
    out.insert(
        "lastUpdatedAt".into(),
        json!(e.last_updated_at.to_rfc3339()),
    );
    Value::Object(out)
}

/// A command execution (docs/commands.md): `{executionId, thingName, action,
/// params, ttl, status, result?, statusReason?, versionNumber, createdAt,
/// lastUpdatedAt, completedAt?, expiresAt}`.
pub fn command(command: &fleetjobs_core::device_command::Command) -> Value {
    let mut out = Map::new();
    out.insert("executionId".into(), json!(command.execution_id));
    out.insert("thingName".into(), json!(command.thing_name));
    out.insert("action".into(), json!(command.action));
    out.insert("params".into(), json!(command.params));
    out.insert("ttl".into(), json!(command.ttl_seconds));
    out.insert("status".into(), json!(command.status));
    insert_some(
        &mut out,
        "result",
        command.result.as_ref().map(|r| json!(r)),
    );
    insert_some(
        &mut out,
        "statusReason",
        command.status_reason.as_ref().map(|r| json!(r)),
    );
    out.insert("versionNumber".into(), json!(command.version_number));
    out.insert("createdAt".into(), json!(command.created_at.to_rfc3339()));
    out.insert(
        "lastUpdatedAt".into(),
        json!(command.last_updated_at.to_rfc3339()),
    );
    insert_some(
        &mut out,
        "completedAt",
        command.completed_at.map(|t| json!(t.to_rfc3339())),
    );
    out.insert("expiresAt".into(), json!(command.expires_at().to_rfc3339()));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetjobs_core::job::CreateJob;
    use fleetjobs_core::Timestamp;

    fn seed_job() -> Job {
        let request: CreateJob = serde_json::from_value(json!({
            "description": "Firmware update to v2.1.5",
            "targets": {"thingGroupNames": ["com.example.thermostat (default)"]},
            "document": {"action": "updateFirmware"},
            "timeoutConfig": {"inProgressTimeoutInMinutes": 20}
        }))
        .unwrap();
        let mut job = request
            .into_job(
                "fw".into(),
                Timestamp::parse("2026-11-26T12:00:00Z").unwrap(),
            )
            .unwrap();
        job.rollout.released = 3;
        job
    }

    #[test]
    fn describe_shows_settings_timestamps_and_counters() {
        let mut counts = StatusCounts::default();
        counts.set(ExecutionStatus::Queued, 2);
        counts.set(ExecutionStatus::Succeeded, 1);
        let view = job(&seed_job(), &counts);
        assert_eq!(view["jobId"], "fw");
        assert_eq!(view["jobType"], "SNAPSHOT");
        assert_eq!(view["status"], "IN_PROGRESS");
        assert_eq!(view["createdAt"], "2026-11-26T12:00:00.000Z");
        assert_eq!(view["timeoutConfig"]["inProgressTimeoutInMinutes"], 20);
        assert_eq!(view["jobProcessDetails"]["numberOfQueuedThings"], 2);
        assert_eq!(view["jobProcessDetails"]["numberOfSucceededThings"], 1);
        assert!(
            view.get("completedAt").is_none(),
            "absent fields are omitted"
        );
        assert!(view.get("reasonCode").is_none());
    }

    #[test]
    fn the_list_row_counts_things_and_names_groups() {
        let row = job_summary(&seed_job());
        assert_eq!(row["targets"]["numberOfThings"], 3);
        assert_eq!(
            row["targets"]["thingGroupNames"],
            json!(["com.example.thermostat (default)"])
        );
        assert!(row.get("name").is_none());
    }

    #[test]
    fn executions_use_rfc3339_and_omit_what_is_absent() {
        let e = Execution::queued(
            "fw",
            "t1",
            Timestamp::parse("2026-11-26T12:00:00Z").unwrap(),
        );
        let view = execution(&e);
        assert_eq!(view["queuedAt"], "2026-11-26T12:00:00.000Z");
        assert_eq!(view["versionNumber"], 1);
        assert!(view.get("startedAt").is_none());
        assert!(view.get("statusDetails").is_none());
    }
}
