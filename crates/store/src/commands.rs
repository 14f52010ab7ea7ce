//! Commands (docs/commands.md): the `device_commands` rows, and the units of
//! work that load a command, ask the core (`fleetjobs_core::device_command`)
//! and write what it decided in one transaction. Sending a command writes
//! its request to the outbox in the insert's transaction.

use fleetjobs_core::device_command::{
    self, request_payload, request_topic, Command, CommandStatus, DeviceResponse, SendCommand,
    StatusReason,
};
use fleetjobs_core::{Rejection, Timestamp};
use serde_json::{Map, Value};

use crate::codec::{decode_token, Page};
use crate::dialect::Lock;
use crate::executions::page;
use crate::sql::{Row, RowExt, Sql};
use crate::{params, Error, Result, Store};

/// Filters for ListCommands.
#[derive(Debug, Clone, Default)]
pub struct CommandQuery {
    pub thing_name: Option<String>,
    pub status: Option<CommandStatus>,
    pub limit: usize,
    pub next_token: Option<String>,
}

const COLUMNS: &str = "execution_id, thing_name, action, params, ttl_seconds, status, result, \
    status_reason, version_number, created_at, last_updated_at, completed_at";

fn object(field: &str, text: &str) -> Result<Map<String, Value>> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt(format!("command {field}: {e}")))
}

fn command_from_row(row: &Row) -> Result<Command> {
    let status = row.text(5)?;
    Ok(Command {
        execution_id: row.text(0)?.to_owned(),
        thing_name: row.text(1)?.to_owned(),
        action: row.text(2)?.to_owned(),
        params: object("params", row.text(3)?)?,
        ttl_seconds: row.int(4)?,
        status: CommandStatus::parse(status)
            .ok_or_else(|| Error::Corrupt(format!("command status {status:?}")))?,
        result: row.opt_text(6)?.map(|t| object("result", t)).transpose()?,
        status_reason: row
            .opt_text(7)?
            .map(|t| {
                serde_json::from_str::<StatusReason>(t)
                    .map_err(|e| Error::Corrupt(format!("command statusReason: {e}")))
            })
            .transpose()?,
        version_number: row.int(8)?,
        created_at: row.timestamp(9)?,
        last_updated_at: row.timestamp(10)?,
        completed_at: row.opt_timestamp(11)?,
    })
}

fn json_text<T: serde::Serialize>(value: &Option<T>) -> Option<String> {
    value
        .as_ref()
        .map(|v| serde_json::to_string(v).expect("JSON serializes"))
}

fn not_found(execution_id: &str) -> Error {
    Rejection::ResourceNotFound(format!("command execution {execution_id} does not exist")).into()
}

impl<S: Sql> Store<S> {
    fn commands_where(&self, filter: &str, params: &[crate::Value]) -> Result<Vec<Command>> {
        let rows = self.sql.query(
            &format!("SELECT {COLUMNS} FROM device_commands WHERE {filter}"),
            params,
        )?;
        rows.iter().map(command_from_row).collect()
    }

    pub fn command(&self, execution_id: &str) -> Result<Option<Command>> {
        Ok(self
            .commands_where("execution_id = ?1", params![execution_id])?
            .pop())
    }

    /// The command, locked for a change in this transaction (PostgreSQL).
    fn command_for_update(&self, execution_id: &str) -> Result<Option<Command>> {
        let lock = self.dialect().lock(Lock::Update, "device_commands");
        Ok(self
            .commands_where(&format!("execution_id = ?1{lock}"), params![execution_id])?
            .pop())
    }

    /// The command, or ResourceNotFound.
    pub fn existing_command(&self, execution_id: &str) -> Result<Command> {
        self.command(execution_id)?
            .ok_or_else(|| not_found(execution_id))
    }

    fn insert_command(&self, c: &Command) -> Result<()> {
        let inserted = self.sql.execute(
            &format!(
                "INSERT INTO device_commands ({COLUMNS}, deadline)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT (execution_id) DO NOTHING"
            ),
            params![
                &c.execution_id,
                &c.thing_name,
                &c.action,
                Value::Object(c.params.clone()).to_string(),
                c.ttl_seconds,
                c.status.as_str(),
                json_text(&c.result),
                json_text(&c.status_reason),
                c.version_number,
                c.created_at,
                c.last_updated_at,
                c.completed_at,
                c.deadline()
            ],
        )?;
        if inserted == 0 {
            return Err(Rejection::Conflict(format!(
                "command execution {} already exists",
                c.execution_id
            ))
            .into());
        }
        Ok(())
    }

    /// Writes a changed command if its version is still the one `next`
    /// follows; a conflict when someone else changed it first.
    fn save_command(&self, next: &Command) -> Result<()> {
        let changed = self.sql.execute(
            "UPDATE device_commands SET status = ?2, result = ?3, status_reason = ?4,
                 version_number = ?5, last_updated_at = ?6, completed_at = ?7, deadline = ?8
             WHERE execution_id = ?1 AND version_number = ?9",
            params![
                &next.execution_id,
                next.status.as_str(),
                json_text(&next.result),
                json_text(&next.status_reason),
                next.version_number,
                next.last_updated_at,
                next.completed_at,
                next.deadline(),
                next.version_number - 1
            ],
        )?;
        if changed == 0 {
            return Err(Rejection::Conflict(format!(
                "command execution {} changed concurrently; retry",
                next.execution_id
            ))
            .into());
        }
        Ok(())
    }

    /// SendCommand: validates, writes the command SENT and its request to
    /// the outbox (`{commands_prefix}/{thing}/executions/{id}/request`) in
    /// one transaction. An unknown thing is ResourceNotFound.
    pub fn send_command(
        &self,
        request: SendCommand,
        execution_id: String,
        now: Timestamp,
    ) -> Result<Command> {
        let command = request.into_command(execution_id, now)?;
        self.transaction(|store| {
            store.existing_thing(&command.thing_name)?;
            store.insert_command(&command)?;
            let topic = request_topic(
                &store.options.commands_prefix,
                &command.thing_name,
                &command.execution_id,
            );
            let payload = request_payload(&command).to_string();
            store.enqueue_message(&command.thing_name, &topic, payload.as_bytes(), now)?;
            Ok(command)
        })
    }

    /// ListCommands, newest first, keyset-paginated on (createdAt, executionId).
    pub fn list_commands(&self, query: &CommandQuery) -> Result<Page<Command>> {
        let (before_created, before_id) = match query.next_token.as_deref() {
            None => (i64::MAX, String::new()),
            Some(token) => match decode_token(token).as_deref() {
                Some([created, Value::String(id)]) if created.is_i64() => {
                    (created.as_i64().unwrap_or_default(), id.clone())
                }
                _ => {
                    return Err(
                        Rejection::invalid("nextToken", "is not a token this API returned").into(),
                    )
                }
            },
        };
        let items = self.commands_where(
            "(CAST(?1 AS TEXT) IS NULL OR thing_name = ?1) AND (CAST(?2 AS TEXT) IS NULL OR status = ?2)
               AND (created_at < ?3 OR (created_at = ?3 AND (?4 = '' OR execution_id < ?4)))
             ORDER BY created_at DESC, execution_id DESC LIMIT ?5",
            params![
                query.thing_name.as_deref(),
                query.status.map(|s| s.as_str()),
                before_created,
                before_id,
                query.limit as i64
            ],
        )?;
        Ok(page(items, query.limit, |c| {
            vec![c.created_at.0.into(), c.execution_id.clone().into()]
        }))
    }

    /// A device's response to one of its own commands: a command of another
    /// thing is ResourceNotFound, as if it did not exist. A response the
    /// core refuses writes nothing, but for one past the TTL: the command
    /// times out (committed) and the response is refused.
    pub fn command_response(
        &self,
        thing_name: &str,
        execution_id: &str,
        response: &DeviceResponse,
        now: Timestamp,
    ) -> Result<Command> {
        let reply = self.transaction(|store| {
            let command = store
                .command_for_update(execution_id)?
                .filter(|c| c.thing_name == thing_name)
                .ok_or_else(|| {
                    Error::from(Rejection::ResourceNotFound(format!(
                        "thing {thing_name} has no command execution {execution_id}"
                    )))
                })?;
            let answer = device_command::respond(&command, response, now);
            if let Some(next) = &answer.write {
                store.save_command(next)?;
            }
            Ok(answer.reply)
        })?;
        reply.map_err(Error::from)
    }

    /// CancelCommand: SENT or IN_PROGRESS become CANCELED.
    pub fn cancel_command(&self, execution_id: &str, now: Timestamp) -> Result<Command> {
        self.transaction(|store| {
            let command = store
                .command_for_update(execution_id)?
                .ok_or_else(|| not_found(execution_id))?;
            let next = device_command::cancel(&command, now)?;
            store.save_command(&next)?;
            Ok(next)
        })
    }

    /// DeleteCommand: only a terminal command.
    pub fn delete_command(&self, execution_id: &str) -> Result<()> {
        self.transaction(|store| {
            let command = store
                .command_for_update(execution_id)?
                .ok_or_else(|| not_found(execution_id))?;
            device_command::delete(&command)?;
            store.sql.execute(
                "DELETE FROM device_commands WHERE execution_id = ?1",
                params![execution_id],
            )?;
            Ok(())
        })
    }

    /// Times out up to `limit` commands past their TTL (by the indexed
    /// deadline), in one transaction; returns how many.
    pub fn time_out_commands(&self, now: Timestamp, limit: usize) -> Result<usize> {
        self.transaction(|store| {
            // Claimed: commands another sweeper or a response holds are
            // left to it.
            let due = store.commands_where(
                &format!(
                    "deadline <= ?1 ORDER BY deadline LIMIT ?2{}",
                    store
                        .dialect()
                        .lock(Lock::UpdateSkipLocked, "device_commands")
                ),
                params![now, limit as i64],
            )?;
            let mut timed_out = 0;
            for command in &due {
                if let Some(next) = device_command::time_out(command, now) {
                    store.save_command(&next)?;
                    timed_out += 1;
                }
            }
            Ok(timed_out)
        })
    }

    /// Deletes up to `limit` terminal commands that finished before
    /// `before` (retention), oldest first; returns how many.
    pub fn purge_commands(&self, before: Timestamp, limit: usize) -> Result<u64> {
        Ok(self.sql.execute(
            "DELETE FROM device_commands WHERE execution_id IN (
                 SELECT execution_id FROM device_commands WHERE completed_at < ?1
                 ORDER BY completed_at LIMIT ?2)",
            params![before, limit as i64],
        )?)
    }
}
