//! Rows ↔ core types, and opaque pagination tokens.

use fleetjobs_core::model::{Execution, ExecutionStatus, RetriesUsed};
use fleetjobs_core::{Job, Timestamp};

use crate::dialect::JsonColumn;
use crate::sql::{Row, RowExt, Value};
use crate::{Error, Result};

pub const EXECUTION_COLUMNS: &str = "job_id, thing_name, execution_number, version_number, \
    status, status_details, queued_at, started_at, last_updated_at, retries_failed, \
    retries_timed_out, in_progress_deadline, step_deadline, force_canceled";

pub fn execution_from_row(row: &Row) -> Result<Execution> {
    let status = row.text(4)?;
    Ok(Execution {
        job_id: row.text(0)?.to_owned(),
        thing_name: row.text(1)?.to_owned(),
        execution_number: row.int(2)?,
        version_number: row.int(3)?,
        status: ExecutionStatus::parse(status)
            .ok_or_else(|| Error::Corrupt(format!("execution status {status:?}")))?,
        status_details: serde_json::from_str(row.text(5)?)
            .map_err(|e| Error::Corrupt(format!("statusDetails: {e}")))?,
        queued_at: row.timestamp(6)?,
        started_at: row.opt_timestamp(7)?,
        last_updated_at: row.timestamp(8)?,
        retries: RetriesUsed {
            failed: row.int(9)? as u32,
            timed_out: row.int(10)? as u32,
        },
        in_progress_deadline: row.opt_timestamp(11)?,
        step_deadline: row.opt_timestamp(12)?,
        force_canceled: row.int(13)? != 0,
    })
}

/// The types of the values [`execution_values`] gives.
pub const EXECUTION_VALUE_TYPES: [JsonColumn; 15] = {
    use JsonColumn::{Integer as I, Text as T};
    [T, T, I, I, T, T, I, I, I, I, I, I, I, I, I]
};

/// Where [`execution_values`] has the columns an index covers: status,
/// queued_at and the deadline.
pub const INDEXED_EXECUTION_VALUES: [usize; 3] = [4, 6, 14];

/// The values of [`EXECUTION_COLUMNS`] plus the effective deadline (the
/// indexed column the timeout sweep reads).
pub fn execution_values(e: &Execution) -> Vec<Value> {
    vec![
        Value::from(&e.job_id),
        Value::from(&e.thing_name),
        Value::from(e.execution_number),
        Value::from(e.version_number),
        Value::from(e.status.as_str()),
        Value::from(serde_json::to_string(&e.status_details).expect("a string map serializes")),
        Value::from(e.queued_at),
        Value::from(e.started_at),
        Value::from(e.last_updated_at),
        Value::from(e.retries.failed as i64),
        Value::from(e.retries.timed_out as i64),
        Value::from(e.in_progress_deadline),
        Value::from(e.step_deadline),
        Value::from(e.force_canceled),
        Value::from(stored_deadline(e)),
    ]
}

/// The `deadline` column (indexed for the sweeper's timeouts): none once
/// the execution is terminal.
pub fn stored_deadline(e: &Execution) -> Option<Timestamp> {
    if e.status.is_terminal() {
        None
    } else {
        e.effective_deadline()
    }
}

pub fn job_from_row(row: &Row) -> Result<Job> {
    serde_json::from_str(row.text(0)?).map_err(|e| Error::Corrupt(format!("job: {e}")))
}

pub fn job_body(job: &Job) -> String {
    serde_json::to_string(job).expect("a job serializes")
}

/// Keyset pagination tokens: the sort key of the last row returned, as hex
/// of a JSON array, so callers treat it as opaque.
pub fn encode_token(key: &[serde_json::Value]) -> String {
    serde_json::to_string(key)
        .expect("json serializes")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn decode_token(token: &str) -> Option<Vec<serde_json::Value>> {
    if !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    serde_json::from_slice(&bytes?).ok()
}

/// A page of results and the token for the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}
