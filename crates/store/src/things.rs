//! The thing registry: things, thing groups and membership.

use std::collections::BTreeMap;

use fleetjobs_core::model::{Thing, ThingGroup};
use fleetjobs_core::{Rejection, Timestamp};

use crate::codec::{decode_token, Page};
use crate::executions::page;
use crate::sql::{Row, RowExt, Sql, Value};
use crate::{params, Error, Result, Store};

fn thing_from_row(row: &Row) -> Result<Thing> {
    Ok(Thing {
        thing_name: row.text(0)?.to_owned(),
        attributes: serde_json::from_str(row.text(1)?)
            .map_err(|e| Error::Corrupt(format!("attributes: {e}")))?,
        version: row.int(2)?,
        created_at: row.timestamp(3)?,
    })
}

fn group_from_row(row: &Row) -> Result<ThingGroup> {
    Ok(ThingGroup {
        thing_group_name: row.text(0)?.to_owned(),
        description: row.opt_text(1)?.map(str::to_owned),
        created_at: row.timestamp(2)?,
    })
}

/// Decodes a name keyset token; none starts at the top.
fn name_cursor(token: Option<&str>) -> Result<String> {
    match token.map(decode_token) {
        None => Ok(String::new()),
        Some(Some(key)) if matches!(key.as_slice(), [serde_json::Value::String(_)]) => {
            Ok(key[0].as_str().unwrap_or_default().to_owned())
        }
        Some(_) => Err(Rejection::invalid("nextToken", "is not a token this API returned").into()),
    }
}

/// The `WHERE` of a name list and its first two parameters: after the
/// page's cursor, and, with a prefix, from the prefix up to below every name
/// that starts with it (names compare as their UTF-8 bytes; U+10FFFF, the
/// largest character, follows the prefix in no valid name).
fn name_range(
    column: &str,
    prefix: Option<&str>,
    token: Option<&str>,
) -> Result<(String, Vec<Value>)> {
    let after = name_cursor(token)?;
    Ok(match prefix.filter(|p| !p.is_empty()) {
        None => (format!("{column} > ?1"), params![after].to_vec()),
        Some(prefix) => (
            format!("{column} > ?1 AND {column} >= ?2 AND {column} < ?3"),
            params![after, prefix, format!("{prefix}{}", char::MAX)].to_vec(),
        ),
    })
}

fn names(rows: Vec<Row>) -> Result<Vec<String>> {
    rows.iter().map(|r| Ok(r.text(0)?.to_owned())).collect()
}

impl<S: Sql> Store<S> {
    pub fn insert_thing(
        &self,
        thing_name: &str,
        attributes: &BTreeMap<String, String>,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Thing> {
        let inserted = self.sql.execute(
            "INSERT INTO things (thing_name, attributes, token_hash, version, created_at)
             VALUES (?1, ?2, ?3, 1, ?4) ON CONFLICT (thing_name) DO NOTHING",
            params![
                thing_name,
                serde_json::to_string(attributes).expect("a string map serializes"),
                token_hash,
                now
            ],
        )?;
        if inserted == 0 {
            return Err(Rejection::Conflict(format!("thing {thing_name} already exists")).into());
        }
        Ok(Thing {
            thing_name: thing_name.to_owned(),
            attributes: attributes.clone(),
            version: 1,
            created_at: now,
        })
    }

    pub fn thing(&self, thing_name: &str) -> Result<Option<Thing>> {
        let rows = self.sql.query(
            "SELECT thing_name, attributes, version, created_at FROM things WHERE thing_name = ?1",
            params![thing_name],
        )?;
        rows.first().map(thing_from_row).transpose()
    }

    pub fn existing_thing(&self, thing_name: &str) -> Result<Thing> {
        self.thing(thing_name)?.ok_or_else(|| {
            Rejection::ResourceNotFound(format!("thing {thing_name} does not exist")).into()
        })
    }

    /// Things by name, those starting with `name_prefix` if given.
    pub fn list_things(
        &self,
        name_prefix: Option<&str>,
        limit: usize,
        next_token: Option<&str>,
    ) -> Result<Page<Thing>> {
        let (range, mut values) = name_range("thing_name", name_prefix, next_token)?;
        values.push((limit as i64).into());
        let rows = self.sql.query(
            &format!(
                "SELECT thing_name, attributes, version, created_at FROM things
                 WHERE {range} ORDER BY thing_name LIMIT ?{}",
                values.len()
            ),
            &values,
        )?;
        let items = rows
            .iter()
            .map(thing_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(page(items, limit, |t| vec![t.thing_name.clone().into()]))
    }

    /// Replaces a thing's attributes; with `expected_version`, only if unchanged.
    pub fn update_thing_attributes(
        &self,
        thing_name: &str,
        attributes: &BTreeMap<String, String>,
        expected_version: Option<i64>,
    ) -> Result<Thing> {
        let thing = self.existing_thing(thing_name)?;
        if expected_version.is_some_and(|v| v != thing.version) {
            return Err(Rejection::Conflict(format!(
                "thing {thing_name} is at version {}, not {}",
                thing.version,
                expected_version.unwrap_or_default()
            ))
            .into());
        }
        // Version-checked: a change committed since the read is a conflict.
        let changed = self.sql.execute(
            "UPDATE things SET attributes = ?2, version = version + 1
             WHERE thing_name = ?1 AND version = ?3",
            params![
                thing_name,
                serde_json::to_string(attributes).expect("a string map serializes"),
                thing.version
            ],
        )?;
        if changed == 0 {
            return Err(Rejection::Conflict(format!(
                "thing {thing_name} changed concurrently; retry"
            ))
            .into());
        }
        self.existing_thing(thing_name)
    }

    pub fn set_thing_token_hash(&self, thing_name: &str, token_hash: &str) -> Result<()> {
        let changed = self.sql.execute(
            "UPDATE things SET token_hash = ?2 WHERE thing_name = ?1",
            params![thing_name, token_hash],
        )?;
        if changed == 0 {
            return Err(
                Rejection::ResourceNotFound(format!("thing {thing_name} does not exist")).into(),
            );
        }
        Ok(())
    }

    pub fn thing_token_hash(&self, thing_name: &str) -> Result<Option<String>> {
        let rows = self.sql.query(
            "SELECT token_hash FROM things WHERE thing_name = ?1",
            params![thing_name],
        )?;
        Ok(match rows.first() {
            Some(row) => row.opt_text(0)?.map(str::to_owned),
            None => None,
        })
    }

    /// Registers a group and its member things in one transaction (things
    /// without a device token): bulk setup for benchmarks and test fleets.
    pub fn register_group_of_things(
        &self,
        group_name: &str,
        thing_names: &[String],
        now: Timestamp,
    ) -> Result<()> {
        self.transaction(|store| {
            store.insert_group(group_name, None, now)?;
            for name in thing_names {
                store.insert_thing(name, &Default::default(), "", now)?;
                store.insert_member(group_name, name)?;
            }
            Ok(())
        })
    }

    /// The thing whose device token has this hash, if any.
    pub fn thing_with_token_hash(&self, token_hash: &str) -> Result<Option<String>> {
        let rows = self.sql.query(
            "SELECT thing_name FROM things WHERE token_hash = ?1 LIMIT 1",
            params![token_hash],
        )?;
        Ok(match rows.first() {
            Some(row) => Some(row.text(0)?.to_owned()),
            None => None,
        })
    }

    /// Deletes the thing row and its memberships (executions are the ops' concern).
    pub fn delete_thing_rows(&self, thing_name: &str) -> Result<bool> {
        self.sql.execute(
            "DELETE FROM thing_group_members WHERE thing_name = ?1",
            params![thing_name],
        )?;
        let deleted = self.sql.execute(
            "DELETE FROM things WHERE thing_name = ?1",
            params![thing_name],
        )?;
        Ok(deleted > 0)
    }

    pub fn insert_group(
        &self,
        group_name: &str,
        description: Option<&str>,
        now: Timestamp,
    ) -> Result<ThingGroup> {
        let inserted = self.sql.execute(
            "INSERT INTO thing_groups (group_name, description, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (group_name) DO NOTHING",
            params![group_name, description, now],
        )?;
        if inserted == 0 {
            return Err(
                Rejection::Conflict(format!("thing group {group_name} already exists")).into(),
            );
        }
        Ok(ThingGroup {
            thing_group_name: group_name.to_owned(),
            description: description.map(str::to_owned),
            created_at: now,
        })
    }

    pub fn group(&self, group_name: &str) -> Result<Option<ThingGroup>> {
        let rows = self.sql.query(
            "SELECT group_name, description, created_at FROM thing_groups WHERE group_name = ?1",
            params![group_name],
        )?;
        rows.first().map(group_from_row).transpose()
    }

    pub fn existing_group(&self, group_name: &str) -> Result<ThingGroup> {
        self.group(group_name)?.ok_or_else(|| {
            Rejection::ResourceNotFound(format!("thing group {group_name} does not exist")).into()
        })
    }

    /// Thing groups by name, those starting with `name_prefix` if given.
    pub fn list_groups(
        &self,
        name_prefix: Option<&str>,
        limit: usize,
        next_token: Option<&str>,
    ) -> Result<Page<ThingGroup>> {
        let (range, mut values) = name_range("group_name", name_prefix, next_token)?;
        values.push((limit as i64).into());
        let rows = self.sql.query(
            &format!(
                "SELECT group_name, description, created_at FROM thing_groups
                 WHERE {range} ORDER BY group_name LIMIT ?{}",
                values.len()
            ),
            &values,
        )?;
        let items = rows
            .iter()
            .map(group_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(page(items, limit, |g| {
            vec![g.thing_group_name.clone().into()]
        }))
    }

    pub fn delete_group_rows(&self, group_name: &str) -> Result<bool> {
        self.sql.execute(
            "DELETE FROM thing_group_members WHERE group_name = ?1",
            params![group_name],
        )?;
        let deleted = self.sql.execute(
            "DELETE FROM thing_groups WHERE group_name = ?1",
            params![group_name],
        )?;
        Ok(deleted > 0)
    }

    /// Adds a member; false if it already was one.
    pub fn insert_member(&self, group_name: &str, thing_name: &str) -> Result<bool> {
        let inserted = self.sql.execute(
            "INSERT INTO thing_group_members (group_name, thing_name) VALUES (?1, ?2)
             ON CONFLICT DO NOTHING",
            params![group_name, thing_name],
        )?;
        Ok(inserted > 0)
    }

    /// Removes a member; false if it was not one.
    pub fn delete_member(&self, group_name: &str, thing_name: &str) -> Result<bool> {
        let deleted = self.sql.execute(
            "DELETE FROM thing_group_members WHERE group_name = ?1 AND thing_name = ?2",
            params![group_name, thing_name],
        )?;
        Ok(deleted > 0)
    }

    pub fn group_members(
        &self,
        group_name: &str,
        limit: usize,
        next_token: Option<&str>,
    ) -> Result<Page<String>> {
        let after = name_cursor(next_token)?;
        let rows = self.sql.query(
            "SELECT thing_name FROM thing_group_members WHERE group_name = ?1 AND thing_name > ?2
             ORDER BY thing_name LIMIT ?3",
            params![group_name, after, limit as i64],
        )?;
        Ok(page(names(rows)?, limit, |t| vec![t.clone().into()]))
    }

    /// The groups `thing_name` belongs to, by name, a page at a time.
    pub fn thing_memberships(
        &self,
        thing_name: &str,
        limit: usize,
        next_token: Option<&str>,
    ) -> Result<Page<String>> {
        let after = name_cursor(next_token)?;
        let rows = self.sql.query(
            "SELECT group_name FROM thing_group_members WHERE thing_name = ?1 AND group_name > ?2
             ORDER BY group_name LIMIT ?3",
            params![thing_name, after, limit as i64],
        )?;
        Ok(page(names(rows)?, limit, |g| vec![g.clone().into()]))
    }

    pub fn groups_of_thing(&self, thing_name: &str) -> Result<Vec<String>> {
        names(self.sql.query(
            "SELECT group_name FROM thing_group_members WHERE thing_name = ?1 ORDER BY group_name",
            params![thing_name],
        )?)
    }

    /// Every member of a group, for resolving job targets.
    pub fn all_group_members(&self, group_name: &str) -> Result<Vec<String>> {
        names(self.sql.query(
            "SELECT thing_name FROM thing_group_members WHERE group_name = ?1 ORDER BY thing_name",
            params![group_name],
        )?)
    }

    /// Which of the given things do not exist.
    pub fn missing_things(&self, thing_names: &[String]) -> Result<Vec<String>> {
        let mut missing = Vec::new();
        for name in thing_names {
            let rows = self
                .sql
                .query("SELECT 1 FROM things WHERE thing_name = ?1", params![name])?;
            if rows.is_empty() {
                missing.push(name.clone());
            }
        }
        Ok(missing)
    }
}
