//! Secrets: bearer tokens checked in constant time, device token hashes.

use fleetjobs_api::ApiError;
use spin_sdk::http::Request;

use crate::variables::variable;

/// Checks that the request carries `Authorization: Bearer <secret>`, the
/// secret being the component variable `variable` (empty: nobody may).
pub fn require_bearer(request: &Request, variable_name: &str) -> Result<(), ApiError> {
    let expected = variable(variable_name, "");
    if expected.is_empty() {
        return Err(ApiError::unauthorized(format!(
            "the server has no {variable_name} configured; set SPIN_VARIABLE_{}",
            variable_name.to_ascii_uppercase()
        )));
    }
    let presented = request
        .header("authorization")
        .and_then(|h| h.as_str())
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::unauthorized(format!("send Authorization: Bearer <{variable_name}>"))
        })?;
    if !same_secret(presented.trim().as_bytes(), expected.as_bytes()) {
        return Err(ApiError::unauthorized("the bearer token is not valid"));
    }
    Ok(())
}

/// Compares without an early exit, so timing does not reveal a secret.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The stored form of a device token: its SHA-256, hex.
pub fn device_token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
