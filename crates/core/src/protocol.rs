//! Device-protocol JSON (docs/device-protocol.md#payloads): epoch seconds, absent fields
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

/// A job document as it travels in `form`.
pub fn job_document(document: &Map<String, Value>, form: DocumentForm) -> Value {
    let document = Value::Object(document.clone());
    match form {
        DocumentForm::Object => document,
        DocumentForm::String => Value::String(document.to_string()),
    }
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
        out.insert("jobDocument".into(), job_document(document, form));
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

/// A device request, as its MQTT topic names it (docs/device-protocol.md#topics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceOperation {
    /// `…/jobs/get`: GetPendingJobExecutions.
    GetPending,
    /// `…/jobs/start-next`: StartNextPendingJobExecution.
    StartNext,
    /// `…/jobs/{jobId}/get` (`$next` allowed): DescribeJobExecution.
    Describe { job_id: String },
    /// `…/jobs/{jobId}/update`: UpdateJobExecution.
    Update { job_id: String },
}

/// What a message under `{prefix}/+/jobs/#` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceTopic {
    Request {
        thing_name: String,
        operation: DeviceOperation,
    },
    /// Under a thing's `jobs/` but no operation: answered with InvalidTopic.
    Invalid { thing_name: String },
    /// Not a request: the service's own replies and notices, or another prefix.
    NotARequest,
}

/// The device topics' prefix unless the deployment says otherwise
/// (`$aws/things` makes them AWS IoT's).
pub const DEFAULT_TOPIC_PREFIX: &str = "$emqx/things";

/// The topics one device may use (the broker's ACL for it): publish its
/// own requests (the topics the service subscribes to), subscribe to its
/// own replies and notices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceTopics {
    /// `{prefix}/{thing}/jobs`, literal even if a name held a wildcard.
    base: String,
    /// Topic filters the device may publish on.
    pub publish: Vec<String>,
    /// Topic filters the device may subscribe to (and so receive).
    pub subscribe: Vec<String>,
}

/// Under a device's `jobs/`: the four operations' topics. The one-level
/// operations are named rather than `+`, the level the service's own
/// notices (`notify`, `notify-next`) use: the service subscribes to exactly
/// these filters, so its notices never come back to it (each would start an
/// instance), and the broker refuses a device's other one-level topics. A
/// bad job id or `$next` where it is not allowed still reaches the service
/// and is answered InvalidTopic.
const DEVICE_PUBLISHES: [&str; 4] = ["get", "start-next", "+/get", "+/update"];

impl DeviceTopics {
    pub fn of(prefix: &str, thing_name: &str) -> Self {
        let base = format!("{prefix}/{thing_name}/jobs");
        DeviceTopics {
            publish: DEVICE_PUBLISHES.map(|p| format!("{base}/{p}")).to_vec(),
            subscribe: vec![format!("{base}/#")],
            base,
        }
    }

    /// What `topic` names below the device's `jobs/`, if it is there.
    fn below_jobs<'t>(&self, topic: &'t str) -> Option<&'t str> {
        topic
            .strip_prefix(self.base.as_str())?
            .strip_prefix('/')
            .filter(|rest| !rest.is_empty())
    }

    /// Whether the device may publish on `topic` (a topic, no wildcards).
    pub fn allows_publish(&self, topic: &str) -> bool {
        self.below_jobs(topic).is_some_and(|rest| {
            !rest.contains(['+', '#']) && DEVICE_PUBLISHES.iter().any(|f| filter_matches(f, rest))
        })
    }

    /// Whether the device may subscribe to `filter`: everything it can match
    /// lies under its own `jobs/`.
    pub fn allows_subscribe(&self, filter: &str) -> bool {
        self.below_jobs(filter).is_some()
    }
}

/// MQTT topic matching: whether `topic` matches `filter` (`+` one level,
/// a final `#` any number, including none).
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    let mut levels = topic.split('/');
    for wanted in filter.split('/') {
        match (wanted, levels.next()) {
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (wanted, Some(level)) if wanted == level => {}
            _ => return false,
        }
    }
    levels.next().is_none()
}

/// The job id that DescribeJobExecution accepts for the head of the list.
pub const NEXT_JOB: &str = "$next";

fn is_job_id(segment: &str) -> bool {
    crate::validate::job_id(segment).is_ok()
}

impl DeviceTopic {
    pub fn parse(prefix: &str, topic: &str) -> DeviceTopic {
        let Some(rest) = topic
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            return DeviceTopic::NotARequest;
        };
        let Some((thing_name, jobs)) = rest.split_once("/jobs/") else {
            return DeviceTopic::NotARequest;
        };
        if thing_name.is_empty() || thing_name.contains('/') {
            return DeviceTopic::NotARequest;
        }
        let segments: Vec<&str> = jobs.split('/').collect();
        let reply_or_notice = matches!(
            segments.last(),
            Some(&("accepted" | "rejected" | "notify" | "notify-next"))
        );
        if reply_or_notice {
            return DeviceTopic::NotARequest;
        }
        let operation = match segments[..] {
            ["get"] => Some(DeviceOperation::GetPending),
            ["start-next"] => Some(DeviceOperation::StartNext),
            [job_id, "get"] if job_id == NEXT_JOB || is_job_id(job_id) => {
                Some(DeviceOperation::Describe {
                    job_id: job_id.to_owned(),
                })
            }
            [job_id, "update"] if is_job_id(job_id) => Some(DeviceOperation::Update {
                job_id: job_id.to_owned(),
            }),
            _ => None,
        };
        let thing_name = thing_name.to_owned();
        match operation {
            Some(operation) => DeviceTopic::Request {
                thing_name,
                operation,
            },
            None => DeviceTopic::Invalid { thing_name },
        }
    }
}
