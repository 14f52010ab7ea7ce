//! The one error shape of the control plane (docs/control-plane.md#errors):
//! `{"error": {"code": "InvalidRequest", "message": "…"}}`.

use fleetjobs_core::Rejection;
use serde_json::json;

/// An HTTP error answer: status, machine-readable code, and a message that
/// says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// The methods a 405 names in its `Allow` header.
    pub allow: Vec<&'static str>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            allow: Vec::new(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(400, "InvalidRequest", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(401, "Unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(403, "Forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(404, "ResourceNotFound", message)
    }

    /// A known path asked with a method it does not serve.
    pub fn method_not_allowed(method: &str, path: &str, allow: Vec<&'static str>) -> Self {
        let message = format!(
            "{method} is not supported on {path}; use {}",
            allow.join(", ")
        );
        ApiError {
            allow,
            ..ApiError::new(405, "MethodNotAllowed", message)
        }
    }

    pub fn too_large(limit: usize) -> Self {
        ApiError::new(
            413,
            "PayloadTooLarge",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// What the caller of a failed request sees: no detail, only the request
    /// id under which the log has it.
    pub fn internal(request_id: &str) -> Self {
        ApiError::new(500, "InternalError", internal_message(request_id))
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        json!({"error": {"code": self.code, "message": self.message}}).to_string()
    }
}

/// The message of an internal failure, for either protocol.
pub fn internal_message(request_id: &str) -> String {
    format!("the service could not complete the request; retry later (request id {request_id})")
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        let message = rejection.to_string();
        match rejection {
            Rejection::InvalidRequest(_) => ApiError::new(400, "InvalidRequest", message),
            Rejection::ResourceNotFound(_) => ApiError::new(404, "ResourceNotFound", message),
            Rejection::Conflict(_) => ApiError::new(409, "Conflict", message),
            Rejection::InvalidStateTransition { .. } => {
                ApiError::new(409, "InvalidStateTransition", message)
            }
            Rejection::VersionMismatch { .. } => ApiError::new(409, "VersionConflict", message),
            Rejection::TerminalStateReached(_) => {
                ApiError::new(410, "TerminalStateReached", message)
            }
        }
    }
}

impl From<fleetjobs_store::Error> for ApiError {
    fn from(error: fleetjobs_store::Error) -> Self {
        match error {
            fleetjobs_store::Error::Rejected(rejection) => rejection.into(),
            fleetjobs_store::Error::Unavailable(why) => ApiError::new(
                503,
                "ServiceUnavailable",
                format!("{why}; nothing was changed, retry later"),
            ),
            // Details go to the log, not to the client.
            other => ApiError::new(
                500,
                "InternalError",
                format!("the request could not be completed ({other}); retry later"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_map_to_status_and_code() {
        let cases = [
            (Rejection::invalid("jobId", "bad"), 400, "InvalidRequest"),
            (
                Rejection::ResourceNotFound("x".into()),
                404,
                "ResourceNotFound",
            ),
            (Rejection::Conflict("x".into()), 409, "Conflict"),
            (
                Rejection::job_transition("x"),
                409,
                "InvalidStateTransition",
            ),
        ];
        for (rejection, status, code) in cases {
            let error = ApiError::from(rejection);
            assert_eq!((error.status, error.code), (status, code));
        }
        let body: serde_json::Value =
            serde_json::from_str(&ApiError::invalid("jobId: bad").body()).unwrap();
        assert_eq!(
            body,
            json!({"error": {"code": "InvalidRequest", "message": "jobId: bad"}})
        );
    }
}
