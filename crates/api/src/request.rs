//! Request parsing: JSON bodies with the failing field named, body size,
//! and list parameters (`limit` 1-250, `nextToken`, status filters).

use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest request body accepted: a 32 KiB document plus the rest.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MAX_LIMIT: usize = 250;
pub const DEFAULT_LIMIT: usize = 50;
/// The longest `?wait=` of SendCommand, in seconds (and at most the ttl).
pub const MAX_WAIT_SECONDS: i64 = 60;

/// Parses a JSON body; errors name the field (`targets.thingNames[0]: …`).
/// An empty body is read as `{}` so optional-only bodies may be omitted.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    parse_json(body, "body").map_err(|e| ApiError::invalid(e.message))
}

/// Why a JSON payload was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Not JSON at all (as opposed to JSON with a wrong field).
    pub syntax: bool,
    /// Names the failing field, or says the `what` is not valid.
    pub message: String,
}

/// Parses a JSON payload (blank is `{}`), naming the failing field.
pub fn parse_json<T: DeserializeOwned>(payload: &[u8], what: &str) -> Result<T, JsonError> {
    let payload: &[u8] = if payload.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        payload
    };
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let syntax = inner.is_syntax() || inner.is_eof();
        let message = if syntax {
            format!("the {what} is not valid JSON: {inner}")
        } else if path == "." || path.is_empty() {
            format!("the {what} is not valid: {inner}")
        } else {
            format!("{path}: {inner}")
        };
        JsonError { syntax, message }
    })
}

/// Whether every `%` in `raw` starts an escape of two hex digits and the
/// escapes decode to UTF-8.
fn is_percent_encoded_utf8(raw: &str) -> bool {
    let escapes_complete = raw.split('%').skip(1).all(|after| {
        after
            .as_bytes()
            .get(..2)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    escapes_complete
        && percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .is_ok()
}

fn check_encoding(raw: &str, what: &str) -> Result<(), ApiError> {
    if is_percent_encoded_utf8(raw) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "{what} {raw:?} is not valid percent-encoding of UTF-8 (write a literal % as %25)"
        )))
    }
}

/// Decodes one path segment; `+` is literal in a path. A malformed escape
/// or bytes that are not UTF-8 are a 400 that names the segment.
pub fn path_segment(raw: &str) -> Result<String, ApiError> {
    check_encoding(raw, "the path segment")?;
    Ok(percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned())
}

/// The decoded segments of `path` after `prefix` (empty segments dropped).
pub fn path_segments(path: &str, prefix: &str) -> Result<Vec<String>, ApiError> {
    path.strip_prefix(prefix)
        .unwrap_or_default()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(path_segment)
        .collect()
}

/// The value of one query parameter, decoded as a form (`+` is a space); a
/// malformed query string is a 400.
pub fn query_param(query: &str, name: &str) -> Result<Option<String>, ApiError> {
    check_encoding(query, "the query string")?;
    Ok(form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned()))
}

/// `limit` (1-250, default 50) and `nextToken` of a list request.
pub fn page_params(query: &str) -> Result<(usize, Option<String>), ApiError> {
    let limit = match query_param(query, "limit")? {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
            _ => {
                return Err(ApiError::invalid(format!(
                    "limit: {text:?} must be a number from 1 to {MAX_LIMIT}"
                )))
            }
        },
    };
    Ok((
        limit,
        query_param(query, "nextToken")?.filter(|t| !t.is_empty()),
    ))
}

/// An optional enum filter such as `status=IN_PROGRESS`.
pub fn enum_param<T>(
    query: &str,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Option<T>, ApiError> {
    match query_param(query, name)? {
        None => Ok(None),
        Some(text) => parse(&text)
            .map(Some)
            .ok_or_else(|| ApiError::invalid(format!("{name}: {text:?} is not one of {allowed}"))),
    }
}

/// A boolean parameter such as `force=true`; absent is false.
pub fn bool_param(query: &str, name: &str) -> Result<bool, ApiError> {
    Ok(optional_bool_param(query, name)?.unwrap_or(false))
}

/// A flag, or none when the query does not mention it.
pub fn optional_bool_param(query: &str, name: &str) -> Result<Option<bool>, ApiError> {
    match query_param(query, name)?.as_deref() {
        None => Ok(None),
        Some("false") => Ok(Some(false)),
        Some("true") | Some("") => Ok(Some(true)),
        Some(other) => Err(ApiError::invalid(format!(
            "{name}: {other:?} must be true or false"
        ))),
    }
}

/// An integer parameter such as `executionNumber=2`.
pub fn number_param(query: &str, name: &str) -> Result<Option<i64>, ApiError> {
    query_param(query, name)?
        .map(|text| {
            text.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ApiError::invalid(format!("{name}: {text:?} must be a positive integer"))
            })
        })
        .transpose()
}

/// The parameters of the execution lists: `status`, `limit`, `nextToken`.
pub fn execution_query(query: &str) -> Result<fleetjobs_store::ExecutionQuery, ApiError> {
    let (limit, next_token) = page_params(query)?;
    Ok(fleetjobs_store::ExecutionQuery {
        status: enum_param(
            query,
            "status",
            fleetjobs_core::ExecutionStatus::parse,
            "QUEUED, IN_PROGRESS, SUCCEEDED, FAILED, TIMED_OUT, REJECTED, REMOVED, CANCELED",
        )?,
        limit,
        next_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fleetjobs_core::job::CreateJob;

    #[test]
    fn body_errors_name_the_field() {
        let err = json_body::<CreateJob>(br#"{"targets": {"thingNames": [1]}, "document": {}}"#)
            .unwrap_err();
        assert_eq!(err.status, 400);
        assert!(
            err.message.starts_with("targets.thingNames[0]"),
            "{}",
            err.message
        );
        let err =
            json_body::<CreateJob>(br#"{"targets": {}, "document": {}, "extra": 1}"#).unwrap_err();
        assert!(err.message.contains("extra"), "{}", err.message);
        let err = json_body::<CreateJob>(b"{not json").unwrap_err();
        assert_eq!(err.status, 400);
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(json_body::<CreateJob>(&big).unwrap_err().status, 413);
    }

    #[test]
    fn path_segments_are_strict_and_keep_plus() {
        assert_eq!(path_segment("a+b%20(x)").unwrap(), "a+b (x)");
        assert_eq!(path_segment("%E2%82%AC").unwrap(), "€");
        for bad in ["%", "%€", "%4", "%zz", "%C3%28", "%FF"] {
            let error = path_segment(bad).unwrap_err();
            assert_eq!(error.status, 400);
            assert!(error.message.contains(bad), "{}", error.message);
        }
        assert_eq!(
            path_segments("/api/v1/thing-groups/a+b%20(x)", "/api/v1/").unwrap(),
            ["thing-groups", "a+b (x)"]
        );
    }

    #[test]
    fn list_parameters() {
        assert_eq!(page_params("").unwrap(), (DEFAULT_LIMIT, None));
        assert_eq!(
            page_params("limit=7&nextToken=ab").unwrap(),
            (7, Some("ab".into()))
        );
        assert_eq!(page_params("limit=0").unwrap_err().status, 400);
        assert_eq!(page_params("limit=251").unwrap_err().status, 400);
        assert_eq!(
            query_param("thingGroupName=com.example%20(default)", "thingGroupName").unwrap(),
            Some("com.example (default)".into())
        );
        assert_eq!(
            query_param("thingGroupName=a%2Bb+c", "thingGroupName").unwrap(),
            Some("a+b c".into())
        );
        for bad in [
            "nextToken=%€",
            "nextToken=%",
            "nextToken=%4",
            "nextToken=%zz",
            "x=%C3%28",
        ] {
            assert_eq!(page_params(bad).unwrap_err().status, 400, "{bad}");
        }
        let status = enum_param(
            "status=DONE",
            "status",
            fleetjobs_core::JobStatus::parse,
            "IN_PROGRESS, …",
        );
        assert_eq!(status.unwrap_err().status, 400);
        assert!(bool_param("force=true", "force").unwrap());
        assert!(!bool_param("", "force").unwrap());
        assert!(bool_param("force=maybe", "force").is_err());
        assert_eq!(
            number_param("executionNumber=2", "executionNumber").unwrap(),
            Some(2)
        );
        assert!(number_param("executionNumber=0", "executionNumber").is_err());
        assert!(execution_query("status=QUEUED&limit=7")
            .unwrap()
            .status
            .is_some());
    }
}
