//! MQTT messages written in the transaction of the change that caused them,
//! published after commit, and retried until marked published.

use fleetjobs_core::Timestamp;

use crate::sql::{RowExt, Sql};
use crate::{params, Result, Store};

/// How long a publisher holds the messages it claimed: after that (it
/// crashed) another publisher sends them.
pub const OUTBOX_LEASE_MS: i64 = 30_000;

/// What [`Store::publish_outbox`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub count: usize,
    /// Why it stopped early, if it did.
    pub failure: Option<String>,
}

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
        // Most requests find nothing to publish: look before taking the write lock.
        let waiting = self.sql.query(
            "SELECT 1 FROM outbox WHERE claimed_until IS NULL OR claimed_until <= ?1 LIMIT 1",
            params![now],
        )?;
        if waiting.is_empty() {
            return Ok(Vec::new());
        }
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
        self.transaction(|store| {
            for id in ids {
                store
                    .sql
                    .execute("DELETE FROM outbox WHERE id = ?1", params![*id])?;
            }
            Ok(())
        })
    }

    /// Gives up claims so the next publisher retries the messages at once.
    pub fn release_claims(&self, ids: &[i64]) -> Result<()> {
        self.transaction(|store| {
            for id in ids {
                store.sql.execute(
                    "UPDATE outbox SET claimed_until = NULL WHERE id = ?1",
                    params![*id],
                )?;
            }
            Ok(())
        })
    }

    /// Publishes unpublished messages, oldest first, in claimed batches of
    /// `batch`, until the outbox is empty or `limit` were sent. Stops at the
    /// first failure (the broker is likely down) and leaves the rest for the
    /// next publisher.
    pub fn publish_outbox<E: std::fmt::Display>(
        &self,
        now: Timestamp,
        batch: usize,
        limit: usize,
        mut publish: impl FnMut(&str, &[u8]) -> std::result::Result<(), E>,
    ) -> Result<Published> {
        let mut published = 0;
        while published < limit {
            let messages =
                self.claim_messages(now, OUTBOX_LEASE_MS, batch.min(limit - published))?;
            if messages.is_empty() {
                break;
            }
            let mut sent = Vec::with_capacity(messages.len());
            let mut failure = None;
            for message in &messages {
                match publish(&message.topic, &message.payload) {
                    Ok(()) => sent.push(message.id),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            self.mark_published(&sent)?;
            published += sent.len();
            if let Some(e) = failure {
                let unsent: Vec<i64> = messages[sent.len()..].iter().map(|m| m.id).collect();
                self.release_claims(&unsent)?;
                return Ok(Published {
                    count: published,
                    failure: Some(e.to_string()),
                });
            }
        }
        Ok(Published {
            count: published,
            failure: None,
        })
    }

    pub fn outbox_len(&self) -> Result<u64> {
        let rows = self.sql.query("SELECT COUNT(*) FROM outbox", &[])?;
        Ok(rows[0].int(0)? as u64)
    }
}
