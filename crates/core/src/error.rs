//! Why the core refuses a command. Each variant maps to one device-protocol
//! error code (docs/device-protocol.md#errors) and one control-plane HTTP status
//! (docs/control-plane.md#errors).

use crate::model::ExecutionState;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    /// A field is missing, malformed or out of range; the message names it.
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{message}")]
    InvalidStateTransition {
        message: String,
        execution: Option<ExecutionState>,
    },
    #[error("expectedVersion {expected} does not match the current versionNumber {}", execution.version_number)]
    VersionMismatch {
        expected: i64,
        execution: ExecutionState,
    },
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The execution is over: a device may no longer read or answer it.
    #[error("{0}")]
    TerminalStateReached(String),
}

impl Rejection {
    pub fn invalid(field: &str, problem: impl std::fmt::Display) -> Self {
        Rejection::InvalidRequest(format!("{field}: {problem}"))
    }

    pub fn job_transition(message: impl Into<String>) -> Self {
        Rejection::InvalidStateTransition {
            message: message.into(),
            execution: None,
        }
    }

    /// The device protocol's error code (docs/device-protocol.md#errors).
    pub fn device_code(&self) -> &'static str {
        match self {
            Rejection::InvalidRequest(_) => "InvalidRequest",
            Rejection::InvalidStateTransition { .. } => "InvalidStateTransition",
            // A conflict is the execution changing under the request: its
            // version moved.
            Rejection::VersionMismatch { .. } | Rejection::Conflict(_) => "VersionMismatch",
            Rejection::ResourceNotFound(_) => "ResourceNotFound",
            Rejection::TerminalStateReached(_) => "TerminalStateReached",
        }
    }

    /// The execution state a rejected device reply carries, if any.
    pub fn execution_state(&self) -> Option<&ExecutionState> {
        match self {
            Rejection::InvalidStateTransition { execution, .. } => execution.as_ref(),
            Rejection::VersionMismatch { execution, .. } => Some(execution),
            _ => None,
        }
    }
}
