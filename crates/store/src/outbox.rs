//! MQTT messages written in the transaction of the change that caused them,
//! published after commit, and retried until published.
//!
//! Each thing's messages go to one lane of [`OUTBOX_LANES`]. A publisher
//! leases a whole lane and sends its messages oldest first, so several
//! publishers (overlapping sweeper passes, requests) work at once while each
//! thing still receives its notices in the order they were written.

use fleetjobs_core::Timestamp;

use crate::dialect::{JsonColumn, Lock};
use crate::sql::{json_rows, RowExt, Sql, Value};
use crate::{params, Result, Store};

/// How long a publisher holds the lane it claimed: after that (it crashed)
/// another publisher takes the lane over.
pub const OUTBOX_LEASE_MS: i64 = 30_000;

/// How many lanes the outbox has (schema migration 4 creates one
/// `outbox_lanes` row for each): at most this many publishers at once.
pub const OUTBOX_LANES: i64 = 16;

/// The lane of a thing's messages: FNV-1a of its name, the same on every
/// host and in every version.
pub fn lane_of(thing_name: &str) -> i64 {
    let hash = thing_name
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    (hash % OUTBOX_LANES as u64) as i64
}

/// The oldest message id of the `outbox_lanes` row's lane (NULL: none).
const OLDEST_IN_LANE: &str =
    "SELECT id FROM outbox WHERE outbox.lane = outbox_lanes.lane ORDER BY id LIMIT 1";

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

/// Which lanes a publisher takes.
#[derive(Debug, Clone, Copy)]
enum Lanes<'a> {
    /// Any free lane, the one with the oldest message first.
    Any,
    /// The lane of this thing.
    Of(&'a str),
}

impl Lanes<'_> {
    fn only(self) -> Option<i64> {
        match self {
            Lanes::Any => None,
            Lanes::Of(thing) => Some(lane_of(thing)),
        }
    }
}

/// A leased lane and its oldest waiting messages.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneClaim {
    pub lane: i64,
    /// The lease, which only this claim's holder ends.
    pub leased_until: Timestamp,
    pub messages: Vec<OutboxMessage>,
}

/// A message to write to the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxWrite<'a> {
    /// Whose lane it goes to.
    pub thing_name: &'a str,
    pub topic: String,
    pub payload: Vec<u8>,
}

impl<S: Sql> Store<S> {
    /// Writes a message to `thing_name`'s lane.
    pub fn enqueue_message(
        &self,
        thing_name: &str,
        topic: &str,
        payload: &[u8],
        now: Timestamp,
    ) -> Result<()> {
        self.enqueue_messages(
            &[OutboxWrite {
                thing_name,
                topic: topic.to_owned(),
                payload: payload.to_vec(),
            }],
            now,
        )
    }

    /// Writes messages, in order, each to its thing's lane, in one statement.
    pub fn enqueue_messages(&self, messages: &[OutboxWrite<'_>], now: Timestamp) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let rows = messages.iter().map(|m| {
            vec![
                Value::from(lane_of(m.thing_name)),
                Value::from(m.topic.as_str()),
                Value::Blob(m.payload.clone()),
            ]
        });
        // In array order, so that ids (the publishing order) follow `messages`.
        let dialect = self.dialect();
        self.sql.execute(
            &format!(
                "INSERT INTO outbox (lane, topic, payload, created_at)
                 SELECT {}, CAST(?2 AS BIGINT) FROM {} ORDER BY key",
                dialect.json_row_columns(&[
                    JsonColumn::Integer,
                    JsonColumn::Text,
                    JsonColumn::Blob
                ]),
                dialect.json_rows_source(1)
            ),
            &[json_rows(rows), Value::from(now)],
        )?;
        self.wrote_messages.set(true);
        Ok(())
    }

    /// Leases, for `lease_ms`, the free lane whose oldest message is the
    /// oldest, and returns up to `limit` of its messages, oldest first.
    /// `None` when every lane with messages is leased or the outbox is empty.
    pub fn claim_lane(
        &self,
        now: Timestamp,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Option<LaneClaim>> {
        self.claim(Lanes::Any, now, lease_ms, limit)
    }

    /// Like [`Store::claim_lane`], for the lane of `thing_name` only. Inside
    /// a transaction that wrote no message, none without looking: what waits
    /// in the lane is for its writers and the sweeper to publish (a device's
    /// progress report costs no query).
    pub fn claim_lane_of(
        &self,
        thing_name: &str,
        now: Timestamp,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Option<LaneClaim>> {
        if self.in_transaction.get() && !self.wrote_messages.get() {
            return Ok(None);
        }
        self.claim(Lanes::Of(thing_name), now, lease_ms, limit)
    }

    fn claim(
        &self,
        lanes: Lanes<'_>,
        now: Timestamp,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Option<LaneClaim>> {
        // Most requests find nothing to publish: look before taking the write lock.
        let waiting = match lanes {
            Lanes::Any => self.sql.query("SELECT 1 FROM outbox LIMIT 1", &[])?,
            Lanes::Of(thing) => self.sql.query(
                "SELECT 1 FROM outbox WHERE lane = ?1 LIMIT 1",
                params![lane_of(thing)],
            )?,
        };
        if waiting.is_empty() {
            return Ok(None);
        }
        self.transaction(|store| {
            // A lane another publisher is claiming right now is as taken as
            // a leased one (PostgreSQL: SKIP LOCKED; SQLite: one writer).
            // Each lane's oldest id is one index seek as `ORDER BY id LIMIT
            // 1`; SQLite 3.54 runs `EXISTS` and `MIN(id)` here by reading
            // every message of the lane (20 ms a claim with 200,000 waiting,
            // inside the write lock).
            let free = store.sql.query(
                &format!(
                    "SELECT lane FROM outbox_lanes
                     WHERE claimed_until <= ?1 AND (CAST(?2 AS BIGINT) IS NULL OR lane = ?2)
                       AND ({OLDEST_IN_LANE}) IS NOT NULL
                     ORDER BY ({OLDEST_IN_LANE})
                     LIMIT 1{}",
                    store.dialect().lock(Lock::UpdateSkipLocked, "outbox_lanes")
                ),
                params![now, lanes.only()],
            )?;
            let Some(row) = free.first() else {
                return Ok(None);
            };
            let lane = row.int(0)?;
            let leased_until = Timestamp(now.0 + lease_ms);
            store.sql.execute(
                "UPDATE outbox_lanes SET claimed_until = ?1 WHERE lane = ?2",
                params![leased_until, lane],
            )?;
            let rows = store.sql.query(
                "SELECT id, topic, payload FROM outbox WHERE lane = ?1 ORDER BY id LIMIT ?2",
                params![lane, limit as i64],
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
            Ok(Some(LaneClaim {
                lane,
                leased_until,
                messages,
            }))
        })
    }

    /// Ends a lease: the claim's messages up to `published_through` (sent in
    /// order) leave the outbox, and the lane is free for the next publisher,
    /// which starts with what was not sent. A lease that expired and was
    /// taken over stays with its new holder.
    ///
    /// Exactly the claimed messages go, not every id up to the last: on
    /// PostgreSQL a lower id can commit after a higher one was read (ids are
    /// taken at insert, rows seen at commit), and it must wait for the next
    /// claim rather than be deleted unsent. (A thing's own notices are written
    /// under its lock, so they still commit in id order.)
    pub fn release_lane(&self, claim: &LaneClaim, published_through: Option<i64>) -> Result<()> {
        self.transaction(|store| {
            if let Some(last) = published_through {
                let sent: Vec<i64> = claim
                    .messages
                    .iter()
                    .map(|m| m.id)
                    .filter(|id| *id <= last)
                    .collect();
                store.sql.execute(
                    &format!(
                        "DELETE FROM outbox WHERE lane = ?1
                           AND id IN (SELECT CAST(value AS BIGINT) FROM {})",
                        store.dialect().json_list_source(2)
                    ),
                    params![
                        claim.lane,
                        serde_json::to_string(&sent).expect("ids serialize")
                    ],
                )?;
            }
            store.sql.execute(
                "UPDATE outbox_lanes SET claimed_until = 0 WHERE lane = ?1 AND claimed_until = ?2",
                params![claim.lane, claim.leased_until],
            )?;
            Ok(())
        })
    }

    /// Publishes waiting messages, a leased lane's batch of up to `batch` at
    /// a time, until no free lane has messages or `limit` were sent. Stops
    /// at the first failure (the broker is likely down) and leaves the rest
    /// for the next publisher.
    pub fn publish_outbox<E: std::fmt::Display>(
        &self,
        now: Timestamp,
        batch: usize,
        limit: usize,
        publish: impl FnMut(&str, &[u8]) -> std::result::Result<(), E>,
    ) -> Result<Published> {
        self.publish_lanes(Lanes::Any, now, batch, limit, publish)
    }

    /// Like [`Store::publish_outbox`], for the lane of `thing_name` only: a
    /// device request sends what it caused (and what shares its lane) and
    /// leaves other lanes to their own requests and the sweeper.
    pub fn publish_lane_of<E: std::fmt::Display>(
        &self,
        thing_name: &str,
        now: Timestamp,
        batch: usize,
        limit: usize,
        publish: impl FnMut(&str, &[u8]) -> std::result::Result<(), E>,
    ) -> Result<Published> {
        self.publish_lanes(Lanes::Of(thing_name), now, batch, limit, publish)
    }

    fn publish_lanes<E: std::fmt::Display>(
        &self,
        lanes: Lanes<'_>,
        now: Timestamp,
        batch: usize,
        limit: usize,
        mut publish: impl FnMut(&str, &[u8]) -> std::result::Result<(), E>,
    ) -> Result<Published> {
        let mut published = 0;
        while published < limit {
            let Some(claim) =
                self.claim(lanes, now, OUTBOX_LEASE_MS, batch.min(limit - published))?
            else {
                break;
            };
            let sent = self.publish_claim(&claim, &mut publish)?;
            published += sent.count;
            if sent.failure.is_some() {
                return Ok(Published {
                    count: published,
                    failure: sent.failure,
                });
            }
        }
        Ok(Published {
            count: published,
            failure: None,
        })
    }

    /// Publishes a claimed lane's messages in order, stopping at the first
    /// failure, then ends the lease ([`Store::release_lane`]).
    pub fn publish_claim<E: std::fmt::Display>(
        &self,
        claim: &LaneClaim,
        mut publish: impl FnMut(&str, &[u8]) -> std::result::Result<(), E>,
    ) -> Result<Published> {
        let mut last_sent = None;
        let mut sent = Published {
            count: 0,
            failure: None,
        };
        for message in &claim.messages {
            match publish(&message.topic, &message.payload) {
                Ok(()) => {
                    last_sent = Some(message.id);
                    sent.count += 1;
                }
                Err(e) => {
                    sent.failure = Some(e.to_string());
                    break;
                }
            }
        }
        self.release_lane(claim, last_sent)?;
        Ok(sent)
    }

    /// Whether `count` messages or more wait (counting no further; a count
    /// beyond `i64` is never reached).
    pub fn outbox_holds_at_least(&self, count: usize) -> Result<bool> {
        let Ok(count) = i64::try_from(count) else {
            return Ok(false);
        };
        let rows = self.sql.query(
            "SELECT COUNT(*) FROM (SELECT 1 FROM outbox LIMIT ?1) AS waiting",
            params![count],
        )?;
        Ok(rows[0].int(0)? >= count)
    }

    pub fn outbox_len(&self) -> Result<u64> {
        let rows = self.sql.query("SELECT COUNT(*) FROM outbox", &[])?;
        Ok(rows[0].int(0)? as u64)
    }
}
