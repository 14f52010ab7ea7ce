//! Replies to device requests by `clientToken`: a repeated request gets the
//! first reply and is not applied twice.

use fleetjobs_core::Timestamp;

use crate::sql::{RowExt, Sql};
use crate::{params, Result, Store};

impl<S: Sql> Store<S> {
    /// Applies a device request once per `(thing, request_key)`: `apply`
    /// runs in one transaction that also remembers its reply, and a repeat
    /// gets that first reply without applying anything. Without a key (no
    /// clientToken) the request is simply applied, in one transaction too.
    /// A rejection is not remembered: it wrote nothing, so a repeat is
    /// evaluated afresh.
    pub fn apply_once(
        &self,
        thing_name: &str,
        request_key: Option<&str>,
        now: Timestamp,
        apply: impl FnOnce(&Self) -> Result<String>,
    ) -> Result<String> {
        self.transaction(|store| {
            let Some(key) = request_key else {
                return apply(store);
            };
            // The key's row first, empty: a repeat arriving meanwhile waits
            // on it (PostgreSQL; SQLite has one writer) and then finds the
            // reply, or, if this one is rejected and rolled back, applies
            // the request itself.
            let claimed = store.sql.execute(
                "INSERT INTO device_requests (thing_name, client_token, reply, created_at)
                 VALUES (?1, ?2, '', ?3) ON CONFLICT DO NOTHING",
                params![thing_name, key, now],
            )?;
            if claimed == 0 {
                if let Some(reply) = store.recall_reply(thing_name, key)? {
                    return Ok(reply);
                }
            }
            let reply = apply(store)?;
            store.sql.execute(
                "UPDATE device_requests SET reply = ?3 WHERE thing_name = ?1 AND client_token = ?2",
                params![thing_name, key, &reply],
            )?;
            Ok(reply)
        })
    }

    pub fn recall_reply(&self, thing_name: &str, client_token: &str) -> Result<Option<String>> {
        let rows = self.sql.query(
            "SELECT reply FROM device_requests WHERE thing_name = ?1 AND client_token = ?2",
            params![thing_name, client_token],
        )?;
        Ok(match rows.first() {
            Some(row) => Some(row.text(0)?.to_owned()),
            None => None,
        })
    }

    /// Remembers a reply; written in the transaction that applied the request.
    pub fn remember_reply(
        &self,
        thing_name: &str,
        client_token: &str,
        reply: &str,
        now: Timestamp,
    ) -> Result<()> {
        self.sql.execute(
            "INSERT INTO device_requests (thing_name, client_token, reply, created_at)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![thing_name, client_token, reply, now],
        )?;
        Ok(())
    }

    /// Forgets replies older than `before`.
    pub fn forget_replies(&self, before: Timestamp) -> Result<u64> {
        Ok(self.sql.execute(
            "DELETE FROM device_requests WHERE created_at < ?1",
            params![before],
        )?)
    }
}
