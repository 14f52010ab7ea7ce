//! Device-protocol JSON (reference §3.2-§3.4): epoch seconds, absent fields
//! omitted, `jobDocument` an object over MQTT and a string over HTTP.

use serde_json::{json, Map, Value};

use crate::model::{Execution, ExecutionStatus};
use crate::notify::Notice;
use crate::time::Timestamp;

/// How the job document travels: an object over MQTT, a string over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentForm {
    Object,
    String,
}

pub fn topic(prefix: &str, thing_name: &str, suffix: &str) -> String {
    format!("{prefix}/{thing_name}/jobs/{suffix}")
}

/// A pending-list entry: `{jobId, queuedAt, startedAt?, lastUpdatedAt,
/// versionNumber, executionNumber}` (no status).
pub fn summary(e: &Execution) -> Value {
    let mut out = Map::new();
    out.insert("jobId".into(), json!(e.job_id));
    out.insert("queuedAt".into(), json!(e.queued_at.as_secs()));
    if let Some(started) = e.started_at {
        out.insert("startedAt".into(), json!(started.as_secs()));
    }
    out.insert("lastUpdatedAt".into(), json!(e.last_updated_at.as_secs()));
    out.insert("versionNumber".into(), json!(e.version_number));
    out.insert("executionNumber".into(), json!(e.execution_number));
    Value::Object(out)
}

/// A full execution, with the document when given.
pub fn execution(
    e: &Execution,
    document: Option<&Map<String, Value>>,
    form: DocumentForm,
    now: Timestamp,
) -> Value {
    let mut out = Map::new();
    out.insert("jobId".into(), json!(e.job_id));
    out.insert("thingName".into(), json!(e.thing_name));
    out.insert("status".into(), json!(e.status));
    if !e.status_details.is_empty() {
        out.insert("statusDetails".into(), json!(e.status_details));
    }
    out.insert("queuedAt".into(), json!(e.queued_at.as_secs()));
    if let Some(started) = e.started_at {
        out.insert("startedAt".into(), json!(started.as_secs()));
    }
    out.insert("lastUpdatedAt".into(), json!(e.last_updated_at.as_secs()));
    out.insert("versionNumber".into(), json!(e.version_number));
    out.insert("executionNumber".into(), json!(e.execution_number));
    if let Some(seconds) = e.seconds_before_timeout(now) {
        out.insert("approximateSecondsBeforeTimedOut".into(), json!(seconds));
    }
    if let Some(document) = document {
        let document = Value::Object(document.clone());
        let value = match form {
            DocumentForm::Object => document,
            DocumentForm::String => Value::String(document.to_string()),
        };
        out.insert("jobDocument".into(), value);
    }
    Value::Object(out)
}

/// `{inProgressJobs, queuedJobs}` of a pending list.
pub fn pending_jobs(pending: &[Execution]) -> (Vec<Value>, Vec<Value>) {
    let of = |status| {
        pending
            .iter()
            .filter(|e| e.status == status)
            .map(summary)
            .collect()
    };
    (of(ExecutionStatus::InProgress), of(ExecutionStatus::Queued))
}

/// The topic suffix and payload of a notice. `document` is the head's job
/// document, for notify-next.
pub fn notice(
    notice: &Notice,
    document: Option<&Map<String, Value>>,
    now: Timestamp,
) -> (&'static str, Value) {
    match notice {
        Notice::Notify { pending, .. } => {
            let (in_progress, queued) = pending_jobs(pending);
            let mut jobs = Map::new();
            if !in_progress.is_empty() {
                jobs.insert("IN_PROGRESS".into(), Value::Array(in_progress));
            }
            if !queued.is_empty() {
                jobs.insert("QUEUED".into(), Value::Array(queued));
            }
            ("notify", json!({"timestamp": now.as_secs(), "jobs": jobs}))
        }
        Notice::NotifyNext { head, .. } => {
            let mut out = Map::new();
            out.insert("timestamp".into(), json!(now.as_secs()));
            if let Some(head) = head {
                out.insert(
                    "execution".into(),
                    execution(head, document, DocumentForm::Object, now),
                );
            }
            ("notify-next", Value::Object(out))
        }
    }
}
