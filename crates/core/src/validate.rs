//! Field rules with the limits of docs/lifecycle.md#limits. Every failure
//! names the field and says what would be accepted.

use serde_json::{Map, Value};

use crate::error::Rejection;
use crate::model::StatusDetails;

pub const MAX_DOCUMENT_BYTES: usize = 32 * 1024;
pub const MAX_TEXT_CHARS: usize = 2028;
pub const MAX_TARGETS: usize = 100;
pub const MAX_STATUS_DETAILS: usize = 10;
pub const MAX_STATUS_DETAIL_VALUE: usize = 1024;
pub const MAX_TIMEOUT_MINUTES: i64 = 10_080;
pub const MAX_ATTRIBUTES: usize = 50;
pub const MAX_ATTRIBUTE_KEY_CHARS: usize = 128;
pub const MAX_ATTRIBUTE_VALUE_CHARS: usize = 800;

type Result<T = ()> = std::result::Result<T, Rejection>;

fn matches_charset(text: &str, extra: &[char]) -> bool {
    text.chars()
        .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

fn check_name(field: &str, text: &str, max: usize, extra: &[char], allowed: &str) -> Result {
    let len = text.chars().count();
    if len == 0 || len > max || !matches_charset(text, extra) {
        return Err(Rejection::invalid(
            field,
            format!("{text:?} must be 1-{max} characters of {allowed}"),
        ));
    }
    Ok(())
}

/// `[a-zA-Z0-9_-]{1,64}`.
pub fn job_id(id: &str) -> Result {
    check_name("jobId", id, 64, &['_', '-'], "letters, digits, '_' and '-'")
}

/// `[a-zA-Z0-9:_-]{1,128}`.
pub fn thing_name(name: &str) -> Result {
    check_name(
        "thingName",
        name,
        128,
        &[':', '_', '-'],
        "letters, digits, ':', '_' and '-'",
    )
}

/// Group names are wider than AWS's: the seed's `com.example.thermostat
/// (default)` has dots, spaces and parentheses. Printable, no `/` (it is a
/// path segment), 1-128 characters.
pub fn thing_group_name(name: &str) -> Result {
    let len = name.chars().count();
    if len == 0 || len > 128 || name.chars().any(|c| c.is_control() || c == '/') {
        return Err(Rejection::invalid(
            "thingGroupName",
            format!("{name:?} must be 1-128 printable characters without '/'"),
        ));
    }
    Ok(())
}

/// A thing's attributes: at most 50, keys 1-128 characters, values at
/// most 800 characters.
pub fn attributes(attributes: &std::collections::BTreeMap<String, String>) -> Result {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(Rejection::invalid(
            "attributes",
            format!("at most {MAX_ATTRIBUTES} attributes are allowed"),
        ));
    }
    for (key, value) in attributes {
        let key_chars = key.chars().count();
        if key_chars == 0
            || key_chars > MAX_ATTRIBUTE_KEY_CHARS
            || value.chars().count() > MAX_ATTRIBUTE_VALUE_CHARS
        {
            return Err(Rejection::invalid(
                &format!("attributes.{key}"),
                format!(
                    "keys are 1-{MAX_ATTRIBUTE_KEY_CHARS} characters, values at most {MAX_ATTRIBUTE_VALUE_CHARS}"
                ),
            ));
        }
    }
    Ok(())
}

/// Description, comment and name: no control characters, at most 2028.
pub fn free_text(field: &str, text: &str) -> Result {
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(Rejection::invalid(
            field,
            format!("must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(Rejection::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// `[A-Z0-9_]{1,128}`.
pub fn reason_code(code: &str) -> Result {
    check_name(
        "reasonCode",
        code,
        128,
        &['_'],
        "upper-case letters, digits and '_'",
    )
    .and_then(|()| {
        if code.chars().any(|c| c.is_ascii_lowercase()) {
            Err(Rejection::invalid(
                "reasonCode",
                format!("{code:?} must use upper-case letters, digits and '_'"),
            ))
        } else {
            Ok(())
        }
    })
}

/// The job document: a JSON object of at most 32 KiB once serialized.
pub fn document(value: &Value) -> Result<Map<String, Value>> {
    let Value::Object(map) = value else {
        return Err(Rejection::invalid("document", "must be a JSON object"));
    };
    let size = value.to_string().len();
    if size > MAX_DOCUMENT_BYTES {
        return Err(Rejection::invalid(
            "document",
            format!("is {size} bytes; the limit is {MAX_DOCUMENT_BYTES}"),
        ));
    }
    Ok(map.clone())
}

/// At most 10 pairs; key `[a-zA-Z0-9:_-]{1,128}`; value 1-1024 characters
/// without control characters.
pub fn status_details(details: &StatusDetails) -> Result {
    if details.len() > MAX_STATUS_DETAILS {
        return Err(Rejection::invalid(
            "statusDetails",
            format!(
                "has {} entries; at most {MAX_STATUS_DETAILS} are allowed",
                details.len()
            ),
        ));
    }
    for (key, value) in details {
        check_name(
            "statusDetails key",
            key,
            128,
            &[':', '_', '-'],
            "letters, digits, ':', '_' and '-'",
        )?;
        let len = value.chars().count();
        if len == 0 || len > MAX_STATUS_DETAIL_VALUE || value.chars().any(char::is_control) {
            return Err(Rejection::invalid(
                &format!("statusDetails.{key}"),
                format!(
                    "must be 1-{MAX_STATUS_DETAIL_VALUE} characters without control characters"
                ),
            ));
        }
    }
    Ok(())
}

/// `-1` (clear the step timer) or 1-10080 minutes.
pub fn step_timeout(minutes: i64) -> Result {
    if minutes == -1 || (1..=MAX_TIMEOUT_MINUTES).contains(&minutes) {
        Ok(())
    } else {
        Err(Rejection::invalid(
            "stepTimeoutInMinutes",
            format!("{minutes} must be -1 or between 1 and {MAX_TIMEOUT_MINUTES}"),
        ))
    }
}

pub(crate) fn in_range<T: PartialOrd + std::fmt::Display>(
    field: &str,
    value: T,
    min: T,
    max: T,
) -> Result {
    if value < min || value > max {
        return Err(Rejection::invalid(
            field,
            format!("{value} must be between {min} and {max}"),
        ));
    }
    Ok(())
}

/// A number with at most `places` decimal places (AWS limits thresholds to two
/// and increment factors to one).
pub(crate) fn decimal_places(field: &str, value: f64, places: i32) -> Result {
    let scaled = value * 10f64.powi(places);
    if (scaled - scaled.round()).abs() > 1e-6 {
        return Err(Rejection::invalid(
            field,
            format!("{value} may have at most {places} decimal places"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(job_id("fw-2_1_5").is_ok());
        assert!(job_id("").is_err());
        assert!(job_id(&"a".repeat(65)).is_err());
        assert!(job_id("a b").is_err());
        assert!(thing_name("thermostat:42").is_ok());
        assert!(thing_name("a/b").is_err());
        assert!(thing_group_name("com.example.thermostat (default)").is_ok());
        assert!(thing_group_name("a/b").is_err());
        assert!(thing_group_name("").is_err());
    }

    #[test]
    fn text_and_codes() {
        assert!(free_text("description", "Firmware update to v2.1.5").is_ok());
        assert!(free_text("comment", "line\nbreak").is_err());
        assert!(free_text("comment", &"x".repeat(2029)).is_err());
        assert!(reason_code("USER_CANCEL").is_ok());
        assert!(reason_code("user_cancel").is_err());
    }

    #[test]
    fn documents() {
        assert!(document(&serde_json::json!({"action": "x"})).is_ok());
        assert!(document(&serde_json::json!([1])).is_err());
        let big = serde_json::json!({"blob": "x".repeat(MAX_DOCUMENT_BYTES)});
        let err = document(&big).unwrap_err().to_string();
        assert!(err.starts_with("document: is"), "{err}");
    }

    #[test]
    fn status_detail_limits() {
        let mut details = StatusDetails::new();
        details.insert("progress".into(), "50%".into());
        assert!(status_details(&details).is_ok());
        details.insert("bad key".into(), "x".into());
        assert!(status_details(&details).is_err());
        let many: StatusDetails = (0..11).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(status_details(&many).is_err());
        let long: StatusDetails = [("k".to_string(), "v".repeat(1025))].into();
        assert!(status_details(&long).is_err());
    }

    #[test]
    fn step_timeouts() {
        assert!(step_timeout(-1).is_ok());
        assert!(step_timeout(1).is_ok());
        assert!(step_timeout(10_080).is_ok());
        assert!(step_timeout(0).is_err());
        assert!(step_timeout(10_081).is_err());
        assert!(step_timeout(-2).is_err());
    }
}
