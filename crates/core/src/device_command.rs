//! Commands (docs/commands.md): a real-time request to one connected device
//! and its one execution, with a time to live.
//!
//! ```text
//! SENT ─→ IN_PROGRESS ─→ SUCCEEDED | FAILED | REJECTED   (the device's response)
//! SENT | IN_PROGRESS ─→ TIMED_OUT                         (at createdAt + ttl, the sweeper)
//! SENT | IN_PROGRESS ─→ CANCELED                          (the operator)
//! ```
//!
//! Terminal executions never change; a response to one is rejected with
//! TerminalStateReached, and only a terminal one can be deleted. Like the
//! rest of the core: plain data in, the next state (or a [`Rejection`]) out.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::time::Timestamp;
use crate::validate::MAX_DOCUMENT_BYTES;
use crate::Rejection;

/// Where the command topics live unless the deployment says otherwise
/// (EMQX Fleets' topics).
pub const DEFAULT_COMMANDS_PREFIX: &str = "$emqx/commands/things";
/// The TTL when a request gives none, in seconds.
pub const DEFAULT_TTL_SECONDS: i64 = 30;
pub const MAX_TTL_SECONDS: i64 = 3600;
pub const MAX_ACTION_CHARS: usize = 128;
/// `params` and `result`: a JSON object of at most 32 KiB.
pub const MAX_PARAMS_BYTES: usize = MAX_DOCUMENT_BYTES;
pub const MAX_REASON_CODE_CHARS: usize = 64;
pub const MAX_REASON_DESCRIPTION_CHARS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CommandStatus {
    Sent,
    InProgress,
    Succeeded,
    Failed,
    Rejected,
    TimedOut,
    Canceled,
}

impl CommandStatus {
    pub const ALL: &'static [CommandStatus] = &[
        CommandStatus::Sent,
        CommandStatus::InProgress,
        CommandStatus::Succeeded,
        CommandStatus::Failed,
        CommandStatus::Rejected,
        CommandStatus::TimedOut,
        CommandStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CommandStatus::Sent => "SENT",
            CommandStatus::InProgress => "IN_PROGRESS",
            CommandStatus::Succeeded => "SUCCEEDED",
            CommandStatus::Failed => "FAILED",
            CommandStatus::Rejected => "REJECTED",
            CommandStatus::TimedOut => "TIMED_OUT",
            CommandStatus::Canceled => "CANCELED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.as_str() == text)
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, CommandStatus::Sent | CommandStatus::InProgress)
    }
}

impl std::fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a device answered as it did: `{reasonCode, reasonDescription?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReason {
    pub reason_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_description: Option<String>,
}

impl StatusReason {
    /// `reasonCode` `[A-Z0-9_-]{1,64}`, `reasonDescription` at most 1024
    /// characters without control characters (AWS IoT's limits).
    pub fn validate(&self) -> Result<(), Rejection> {
        let code = &self.reason_code;
        let ok = !code.is_empty()
            && code.chars().count() <= MAX_REASON_CODE_CHARS
            && code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !ok {
            return Err(Rejection::invalid(
                "statusReason.reasonCode",
                format!(
                    "{code:?} must be 1-{MAX_REASON_CODE_CHARS} characters of A-Z, 0-9, '_' and '-'"
                ),
            ));
        }
        if let Some(description) = &self.reason_description {
            if description.chars().count() > MAX_REASON_DESCRIPTION_CHARS
                || description.chars().any(char::is_control)
            {
                return Err(Rejection::invalid(
                    "statusReason.reasonDescription",
                    format!(
                        "must be at most {MAX_REASON_DESCRIPTION_CHARS} characters without control characters"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// One command and its execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub execution_id: String,
    pub thing_name: String,
    pub action: String,
    pub params: Map<String, Value>,
    pub ttl_seconds: i64,
    pub status: CommandStatus,
    pub result: Option<Map<String, Value>>,
    pub status_reason: Option<StatusReason>,
    /// Bumped by one on every change.
    pub version_number: i64,
    pub created_at: Timestamp,
    pub last_updated_at: Timestamp,
    /// When it became terminal.
    pub completed_at: Option<Timestamp>,
}

impl Command {
    /// `createdAt + ttl`: when a waiting command times out.
    pub fn expires_at(&self) -> Timestamp {
        Timestamp(
            self.created_at
                .0
                .saturating_add(self.ttl_seconds.saturating_mul(1000)),
        )
    }

    /// The indexed deadline the sweeper reads: [`Command::expires_at`] while
    /// the command waits, none once terminal.
    pub fn deadline(&self) -> Option<Timestamp> {
        (!self.status.is_terminal()).then(|| self.expires_at())
    }

    /// The next version of this command in `status` at `now`.
    fn moved(&self, status: CommandStatus, now: Timestamp) -> Command {
        Command {
            status,
            version_number: self.version_number + 1,
            last_updated_at: now,
            completed_at: status.is_terminal().then_some(now),
            ..self.clone()
        }
    }
}

/// `[a-zA-Z0-9:._-]{1,128}`.
pub fn action(action: &str) -> Result<(), Rejection> {
    let len = action.chars().count();
    let ok = len > 0
        && len <= MAX_ACTION_CHARS
        && action
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Rejection::invalid(
            "action",
            format!(
                "{action:?} must be 1-{MAX_ACTION_CHARS} characters of letters, digits, ':', '.', '_' and '-'"
            ),
        ))
    }
}

/// A JSON object of at most [`MAX_PARAMS_BYTES`] once serialized.
fn small_object(field: &str, value: &Value) -> Result<Map<String, Value>, Rejection> {
    let Value::Object(map) = value else {
        return Err(Rejection::invalid(field, "must be a JSON object"));
    };
    let size = value.to_string().len();
    if size > MAX_PARAMS_BYTES {
        return Err(Rejection::invalid(
            field,
            format!("is {size} bytes; the limit is {MAX_PARAMS_BYTES}"),
        ));
    }
    Ok(map.clone())
}

/// A command execution id: `[a-zA-Z0-9_-]{1,64}` (the service makes UUIDs).
pub fn execution_id(id: &str) -> Result<(), Rejection> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Rejection::invalid(
            "executionId",
            format!("{id:?} must be 1-64 characters of letters, digits, '_' and '-'"),
        ))
    }
}

/// The body of `POST /api/v1/commands`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendCommand {
    pub thing_name: String,
    pub action: String,
    #[serde(default)]
    pub params: Option<Value>,
    #[serde(default)]
    pub ttl: Option<i64>,
}

impl SendCommand {
    /// Validates the request and makes the command, SENT at `now`.
    pub fn into_command(self, execution_id: String, now: Timestamp) -> Result<Command, Rejection> {
        crate::validate::thing_name(&self.thing_name)?;
        action(&self.action)?;
        let params = match &self.params {
            None | Some(Value::Null) => Map::new(),
            Some(value) => small_object("params", value)?,
        };
        let ttl_seconds = self.ttl.unwrap_or(DEFAULT_TTL_SECONDS);
        if !(1..=MAX_TTL_SECONDS).contains(&ttl_seconds) {
            return Err(Rejection::invalid(
                "ttl",
                format!("{ttl_seconds} must be 1-{MAX_TTL_SECONDS} seconds"),
            ));
        }
        self::execution_id(&execution_id)?;
        Ok(Command {
            execution_id,
            thing_name: self.thing_name,
            action: self.action,
            params,
            ttl_seconds,
            status: CommandStatus::Sent,
            result: None,
            status_reason: None,
            version_number: 1,
            created_at: now,
            last_updated_at: now,
            completed_at: None,
        })
    }
}

/// What a device may answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ResponseStatus {
    InProgress,
    Succeeded,
    Failed,
    Rejected,
}

impl ResponseStatus {
    fn status(self) -> CommandStatus {
        match self {
            ResponseStatus::InProgress => CommandStatus::InProgress,
            ResponseStatus::Succeeded => CommandStatus::Succeeded,
            ResponseStatus::Failed => CommandStatus::Failed,
            ResponseStatus::Rejected => CommandStatus::Rejected,
        }
    }
}

/// A device's response: `{status, result?, statusReason?}`. Other fields are
/// ignored (devices of other services send a timestamp or the id).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceResponse {
    pub status: ResponseStatus,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub status_reason: Option<StatusReason>,
}

/// What a device's response does: the command to write (also when the
/// response is refused because the command expired: it times out now) and
/// the answer to the device.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub write: Option<Command>,
    pub reply: Result<Command, Rejection>,
}

fn terminal(command: &Command) -> Rejection {
    Rejection::TerminalStateReached(format!(
        "command execution {} is {}",
        command.execution_id, command.status
    ))
}

/// The device's response to `command` at `now`. A waiting command takes the
/// status (IN_PROGRESS any number of times, replacing result and reason);
/// a terminal one, or one past its TTL (which times out at once), refuses
/// it with TerminalStateReached.
pub fn respond(command: &Command, response: &DeviceResponse, now: Timestamp) -> Answer {
    if command.status.is_terminal() {
        return Answer {
            write: None,
            reply: Err(terminal(command)),
        };
    }
    if let Some(timed_out) = time_out(command, now) {
        return Answer {
            reply: Err(terminal(&timed_out)),
            write: Some(timed_out),
        };
    }
    let refuse = |rejection| Answer {
        write: None,
        reply: Err(rejection),
    };
    let result = match &response.result {
        None | Some(Value::Null) => None,
        Some(value) => match small_object("result", value) {
            Ok(map) => Some(map),
            Err(e) => return refuse(e),
        },
    };
    if let Some(reason) = &response.status_reason {
        if let Err(e) = reason.validate() {
            return refuse(e);
        }
    }
    let mut next = command.moved(response.status.status(), now);
    if result.is_some() {
        next.result = result;
    }
    if response.status_reason.is_some() {
        next.status_reason = response.status_reason.clone();
    }
    Answer {
        write: Some(next.clone()),
        reply: Ok(next),
    }
}

/// The operator's cancel: a waiting command becomes CANCELED; a terminal one
/// is an invalid transition.
pub fn cancel(command: &Command, now: Timestamp) -> Result<Command, Rejection> {
    if command.status.is_terminal() {
        return Err(Rejection::job_transition(format!(
            "command execution {} is {}: only SENT or IN_PROGRESS can be canceled",
            command.execution_id, command.status
        )));
    }
    Ok(command.moved(CommandStatus::Canceled, now))
}

/// Deletion: only a terminal command can be deleted.
pub fn delete(command: &Command) -> Result<(), Rejection> {
    if command.status.is_terminal() {
        Ok(())
    } else {
        Err(Rejection::job_transition(format!(
            "command execution {} is {}: only a terminal command can be deleted; cancel it first",
            command.execution_id, command.status
        )))
    }
}

/// TIMED_OUT if `command` is still waiting at or after its TTL.
pub fn time_out(command: &Command, now: Timestamp) -> Option<Command> {
    (!command.status.is_terminal() && now >= command.expires_at())
        .then(|| command.moved(CommandStatus::TimedOut, now))
}

/// `{prefix}/{thing}/executions/{executionId}/request`.
pub fn request_topic(prefix: &str, thing_name: &str, execution_id: &str) -> String {
    format!("{prefix}/{thing_name}/executions/{execution_id}/request")
}

/// The request a device receives: `{commandId, action, params, timestamp, ttl}`
/// (`timestamp` the creation in epoch seconds, `ttl` seconds).
pub fn request_payload(command: &Command) -> Value {
    json!({
        "commandId": command.execution_id,
        "action": command.action,
        "params": command.params,
        "timestamp": command.created_at.as_secs(),
        "ttl": command.ttl_seconds,
    })
}

/// The accepted reply to a device's response: `{executionId, status,
/// versionNumber, timestamp}`.
pub fn accepted(command: &Command, now: Timestamp) -> Value {
    json!({
        "executionId": command.execution_id,
        "status": command.status,
        "versionNumber": command.version_number,
        "timestamp": now.as_secs(),
    })
}

/// What a message under `{prefix}/+/executions/…` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandTopic {
    /// `{prefix}/{thing}/executions/{executionId}/response`.
    Response {
        thing_name: String,
        execution_id: String,
    },
    /// Anything else: requests, the service's replies, other prefixes.
    NotAResponse,
}

impl CommandTopic {
    pub fn parse(prefix: &str, topic: &str) -> CommandTopic {
        let Some(rest) = topic
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            return CommandTopic::NotAResponse;
        };
        match rest.split('/').collect::<Vec<_>>()[..] {
            [thing_name, "executions", execution_id, "response"]
                if !thing_name.is_empty() && !execution_id.is_empty() =>
            {
                CommandTopic::Response {
                    thing_name: thing_name.to_owned(),
                    execution_id: execution_id.to_owned(),
                }
            }
            _ => CommandTopic::NotAResponse,
        }
    }
}

/// The command topics one device may use (its part of the broker's ACL):
/// publish its responses, subscribe to its requests and the replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTopics {
    /// `{prefix}/{thing}/executions`.
    base: String,
    pub publish: Vec<String>,
    pub subscribe: Vec<String>,
}

impl CommandTopics {
    pub fn of(prefix: &str, thing_name: &str) -> Self {
        let base = format!("{prefix}/{thing_name}/executions");
        CommandTopics {
            publish: vec![format!("{base}/+/response")],
            subscribe: vec![format!("{base}/#")],
            base,
        }
    }

    fn below(&self, topic: &str) -> Option<String> {
        topic
            .strip_prefix(self.base.as_str())?
            .strip_prefix('/')
            .filter(|rest| !rest.is_empty())
            .map(str::to_owned)
    }

    /// Whether the device may publish on `topic`: its own
    /// `…/executions/{id}/response`, no wildcards.
    pub fn allows_publish(&self, topic: &str) -> bool {
        self.below(topic).is_some_and(|rest| {
            !rest.contains(['+', '#']) && crate::protocol::filter_matches("+/response", &rest)
        })
    }

    /// Whether the device may subscribe to `filter`: only under its own
    /// `…/executions/`.
    pub fn allows_subscribe(&self, filter: &str) -> bool {
        self.below(filter).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommandStatus::*;

    const T0: Timestamp = Timestamp(1_000_000);

    fn sent() -> Command {
        SendCommand {
            thing_name: "dev-1".into(),
            action: "setTemperature".into(),
            params: Some(json!({"value": 24})),
            ttl: Some(30),
        }
        .into_command("e1".into(), T0)
        .unwrap()
    }

    fn in_status(status: CommandStatus) -> Command {
        Command {
            status,
            completed_at: status.is_terminal().then_some(T0),
            ..sent()
        }
    }

    fn response(status: ResponseStatus) -> DeviceResponse {
        DeviceResponse {
            status,
            result: None,
            status_reason: None,
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp(T0.0 + seconds * 1000)
    }

    /// Every (status, response) pair before the TTL: the next status or the
    /// rejection's code.
    #[test]
    fn transition_table() {
        use ResponseStatus as R;
        let table: &[(CommandStatus, ResponseStatus, CommandStatus)] = &[
            (Sent, R::InProgress, InProgress),
            (Sent, R::Succeeded, Succeeded),
            (Sent, R::Failed, Failed),
            (Sent, R::Rejected, Rejected),
            (InProgress, R::InProgress, InProgress),
            (InProgress, R::Succeeded, Succeeded),
            (InProgress, R::Failed, Failed),
            (InProgress, R::Rejected, Rejected),
        ];
        for &(from, answer, expected) in table {
            let got = respond(&in_status(from), &response(answer), at(1));
            assert_eq!(
                got.reply.clone().unwrap().status,
                expected,
                "{from} {answer:?}"
            );
            let written = got.write.unwrap();
            assert_eq!(written.version_number, 2);
            assert_eq!(written.last_updated_at, at(1));
            assert_eq!(written.completed_at.is_some(), written.status.is_terminal());
            assert_eq!(written.deadline().is_none(), written.status.is_terminal());
        }
        for &from in &[Succeeded, Failed, Rejected, TimedOut, Canceled] {
            for answer in [R::InProgress, R::Succeeded, R::Failed, R::Rejected] {
                let got = respond(&in_status(from), &response(answer), at(1));
                assert_eq!(got.write, None, "{from} {answer:?}");
                assert_eq!(
                    got.reply.unwrap_err().device_code(),
                    "TerminalStateReached",
                    "{from} {answer:?}"
                );
            }
        }
    }

    #[test]
    fn cancel_and_delete_table() {
        for &status in CommandStatus::ALL {
            let command = in_status(status);
            let canceled = cancel(&command, at(2));
            let deleted = delete(&command);
            if status.is_terminal() {
                assert_eq!(
                    canceled.unwrap_err().device_code(),
                    "InvalidStateTransition"
                );
                assert!(deleted.is_ok(), "{status}");
            } else {
                let canceled = canceled.unwrap();
                assert_eq!(canceled.status, Canceled);
                assert_eq!(canceled.completed_at, Some(at(2)));
                assert_eq!(canceled.deadline(), None);
                assert_eq!(
                    deleted.unwrap_err().device_code(),
                    "InvalidStateTransition",
                    "{status}"
                );
            }
        }
    }

    #[test]
    fn the_ttl_times_out_waiting_commands_only() {
        let command = sent();
        assert_eq!(command.deadline(), Some(at(30)));
        assert_eq!(time_out(&command, at(29)), None);
        let timed_out = time_out(&command, at(30)).unwrap();
        assert_eq!(timed_out.status, TimedOut);
        assert_eq!(timed_out.completed_at, Some(at(30)));
        assert_eq!(
            time_out(&in_status(InProgress), at(31)).unwrap().status,
            TimedOut
        );
        for &status in CommandStatus::ALL.iter().filter(|s| s.is_terminal()) {
            assert_eq!(time_out(&in_status(status), at(100)), None, "{status}");
        }
    }

    #[test]
    fn a_late_response_times_the_command_out_and_is_refused() {
        let got = respond(&sent(), &response(ResponseStatus::Succeeded), at(30));
        assert_eq!(got.write.unwrap().status, TimedOut);
        assert_eq!(got.reply.unwrap_err().device_code(), "TerminalStateReached");
    }

    #[test]
    fn result_and_reason_are_kept_and_checked() {
        let answer = DeviceResponse {
            status: ResponseStatus::Failed,
            result: Some(json!({"currentTemperature": 20})),
            status_reason: Some(StatusReason {
                reason_code: "OVERHEATED".into(),
                reason_description: Some("too hot".into()),
            }),
        };
        let failed = respond(&sent(), &answer, at(1)).reply.unwrap();
        assert_eq!(failed.result.unwrap()["currentTemperature"], 20);
        assert_eq!(failed.status_reason.unwrap().reason_code, "OVERHEATED");

        let bad_result = DeviceResponse {
            result: Some(json!([1])),
            ..answer.clone()
        };
        let got = respond(&sent(), &bad_result, at(1));
        assert_eq!(got.write, None);
        assert_eq!(got.reply.unwrap_err().device_code(), "InvalidRequest");
        let bad_reason = DeviceResponse {
            status_reason: Some(StatusReason {
                reason_code: "lower".into(),
                reason_description: None,
            }),
            ..answer
        };
        assert_eq!(
            respond(&sent(), &bad_reason, at(1))
                .reply
                .unwrap_err()
                .device_code(),
            "InvalidRequest"
        );
    }

    #[test]
    fn send_validation() {
        let ok = || SendCommand {
            thing_name: "dev-1".into(),
            action: "reboot".into(),
            params: None,
            ttl: None,
        };
        let command = ok().into_command("e1".into(), T0).unwrap();
        assert_eq!(command.ttl_seconds, DEFAULT_TTL_SECONDS);
        assert!(command.params.is_empty());
        assert_eq!(command.status, Sent);
        assert_eq!(command.version_number, 1);
        let refused = |request: SendCommand| {
            let e = request.into_command("e1".into(), T0).unwrap_err();
            assert_eq!(e.device_code(), "InvalidRequest");
            e.to_string()
        };
        assert!(refused(SendCommand {
            action: "".into(),
            ..ok()
        })
        .starts_with("action"));
        assert!(refused(SendCommand {
            action: "x".repeat(129),
            ..ok()
        })
        .starts_with("action"));
        assert!(SendCommand {
            action: "a".repeat(128),
            ..ok()
        }
        .into_command("e1".into(), T0)
        .is_ok());
        for params in [json!([1]), json!("x"), json!(3)] {
            assert!(refused(SendCommand {
                params: Some(params),
                ..ok()
            })
            .starts_with("params"));
        }
        let big = json!({"blob": "x".repeat(MAX_PARAMS_BYTES)});
        assert!(refused(SendCommand {
            params: Some(big),
            ..ok()
        })
        .starts_with("params"));
        for ttl in [0, -1, 3601] {
            assert!(refused(SendCommand {
                ttl: Some(ttl),
                ..ok()
            })
            .starts_with("ttl"));
        }
        for ttl in [1, 3600] {
            assert!(SendCommand {
                ttl: Some(ttl),
                ..ok()
            }
            .into_command("e1".into(), T0)
            .is_ok());
        }
        assert!(refused(SendCommand {
            thing_name: "a/b".into(),
            ..ok()
        })
        .starts_with("thingName"));
    }

    #[test]
    fn request_payload_has_the_emqx_fields() {
        let payload = request_payload(&sent());
        assert_eq!(
            payload,
            json!({"commandId": "e1", "action": "setTemperature", "params": {"value": 24},
                   "timestamp": T0.as_secs(), "ttl": 30})
        );
        assert_eq!(
            request_topic(DEFAULT_COMMANDS_PREFIX, "dev-1", "e1"),
            "$emqx/commands/things/dev-1/executions/e1/request"
        );
    }

    #[test]
    fn topics() {
        let p = DEFAULT_COMMANDS_PREFIX;
        assert_eq!(
            CommandTopic::parse(p, &format!("{p}/dev-1/executions/e1/response")),
            CommandTopic::Response {
                thing_name: "dev-1".into(),
                execution_id: "e1".into()
            }
        );
        for not in [
            format!("{p}/dev-1/executions/e1/request"),
            format!("{p}/dev-1/executions/e1/response/accepted"),
            format!("{p}/dev-1/executions/e1/response/rejected"),
            format!("{p}/dev-1/executions//response"),
            format!("{p}//executions/e1/response"),
            "$emqx/things/dev-1/jobs/get".to_owned(),
        ] {
            assert_eq!(
                CommandTopic::parse(p, &not),
                CommandTopic::NotAResponse,
                "{not}"
            );
        }
        let acl = CommandTopics::of(p, "dev-1");
        assert!(acl.allows_publish(&format!("{p}/dev-1/executions/e1/response")));
        assert!(!acl.allows_publish(&format!("{p}/dev-2/executions/e1/response")));
        assert!(!acl.allows_publish(&format!("{p}/dev-1/executions/e1/request")));
        assert!(!acl.allows_publish(&format!("{p}/dev-1/executions/+/response")));
        assert!(!acl.allows_publish(&format!("{p}/dev-1/executions/e1/response/accepted")));
        assert!(acl.allows_subscribe(&format!("{p}/dev-1/executions/+/request")));
        assert!(acl.allows_subscribe(&format!("{p}/dev-1/executions/#")));
        assert!(!acl.allows_subscribe(&format!("{p}/dev-2/executions/+/request")));
        assert!(!acl.allows_subscribe(&format!("{p}/+/executions/+/request")));
        assert!(!acl.allows_subscribe(&format!("{p}/dev-1/#")));
    }
}
