//! MQTT messages written in the transaction of the change that caused them,
//! published after commit, and retried until marked published.

use fleetjobs_core::Timestamp;

use crate::sql::{RowExt, Sql};
use crate::{params, Result, Store};

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub id: i64,
    pub topic: String,
    pub payload: Vec<u8>,
}

impl<S: Sql> Store<S> {
    pub fn enqueue_message(&self, topic: &str, payload: &[u8], now: Timestamp) -> Result<i64> {
        let rows = self.sql.query(
            "INSERT INTO outbox (topic, payload, created_at) VALUES (?1, ?2, ?3) RETURNING id",
            params![topic, payload.to_vec(), now],
        )?;
        Ok(rows[0].int(0)?)
    }

    /// Claims up to `limit` unpublished messages, oldest first, for `lease_ms`
    /// so that two publishers (two sweepers, or a sweeper and a request) do
    /// not both send them. An expired claim is taken over.
    pub fn claim_messages(
        &self,
        now: Timestamp,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>> {
        self.transaction(|store| {
            let rows = store.sql.query(
                "SELECT id, topic, payload FROM outbox
                 WHERE claimed_until IS NULL OR claimed_until <= ?1 ORDER BY id LIMIT ?2",
                params![now, limit as i64],
            )?;
            let messages = rows
                .iter()
                .map(|r| {
                    Ok(OutboxMessage {
                        id: r.int(0)?,
                        topic: r.text(1)?.to_owned(),
                        payload: r.blob(2)?.to_vec(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            if let (Some(first), Some(last)) = (messages.first(), messages.last()) {
                store.sql.execute(
                    "UPDATE outbox SET claimed_until = ?1 WHERE id BETWEEN ?2 AND ?3
                       AND (claimed_until IS NULL OR claimed_until <= ?4)",
                    params![Timestamp(now.0 + lease_ms), first.id, last.id, now],
                )?;
            }
            Ok(messages)
        })
    }

    /// Published messages leave the outbox.
    pub fn mark_published(&self, ids: &[i64]) -> Result<()> {
        for id in ids {
            self.sql
                .execute("DELETE FROM outbox WHERE id = ?1", params![*id])?;
        }
        Ok(())
    }

    pub fn outbox_len(&self) -> Result<u64> {
        let rows = self.sql.query("SELECT COUNT(*) FROM outbox", &[])?;
        Ok(rows[0].int(0)? as u64)
    }
}
