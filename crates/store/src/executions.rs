//! Execution rows and the per-status counters kept beside them.

use fleetjobs_core::model::{Execution, ExecutionStatus, StatusCounts};
use fleetjobs_core::{Rejection, Timestamp};

use std::collections::{BTreeMap, HashMap};

use fleetjobs_core::outcome::PendingLists;

use crate::codec::{
    decode_token, encode_token, execution_from_row, execution_values, stored_deadline, Page,
    EXECUTION_COLUMNS, EXECUTION_VALUE_TYPES, INDEXED_EXECUTION_VALUES,
};
use crate::sql::{json_list, json_rows, RowExt, Sql, Value};
use crate::{params, Result, Store};

/// Filters for listing executions.
#[derive(Debug, Clone, Default)]
pub struct ExecutionQuery {
    pub status: Option<ExecutionStatus>,
    pub limit: usize,
    pub next_token: Option<String>,
}

/// Decodes a `(name, executionNumber)` keyset token; none starts at the top.
fn name_number_cursor(token: Option<&str>) -> Result<(String, i64)> {
    let Some(token) = token else {
        return Ok((String::new(), 0));
    };
    match decode_token(token).as_deref() {
        Some([serde_json::Value::String(name), n]) if n.is_i64() => {
            Ok((name.clone(), n.as_i64().unwrap_or_default()))
        }
        _ => Err(Rejection::invalid("nextToken", "is not a token this API returned").into()),
    }
}

impl<S: Sql> Store<S> {
    fn executions_where(&self, filter: &str, params: &[Value]) -> Result<Vec<Execution>> {
        self.query_executions(
            &format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE {filter}"),
            params,
        )
    }

    /// The executions of the things in the JSON list parameter `?{list}` (a
    /// name listed twice gives its rows twice) that match `filter`: the list
    /// joined to the executions, one index seek per thing (`filter` must
    /// not be a bare disjunction: it is joined with `AND`). (As `thing_name
    /// IN (SELECT value FROM json_each(…))`, SQLite 3.54 builds a temporary
    /// table for the list at every run: ten times the cost, inside a device
    /// update's write transaction.)
    fn executions_of_listed_things(
        &self,
        list: usize,
        filter: &str,
        params: &[Value],
    ) -> Result<Vec<Execution>> {
        // CROSS JOIN: SQLite keeps the list as the outer loop. With a plain
        // join and a filter on `job_id`, it walked the job's executions (all
        // of a 100,000-thing job) and scanned the list for each: a release
        // batch took seconds.
        self.query_executions(
            &format!(
                "SELECT {EXECUTION_COLUMNS} FROM {} CROSS JOIN executions
                 WHERE executions.thing_name = value AND {filter}",
                self.dialect().json_list_source(list)
            ),
            params,
        )
    }

    fn query_executions(&self, sql: &str, params: &[Value]) -> Result<Vec<Execution>> {
        self.sql
            .query(sql, params)?
            .iter()
            .map(execution_from_row)
            .collect()
    }

    /// One execution; the latest of the job on the thing without a number.
    pub fn execution(
        &self,
        job_id: &str,
        thing_name: &str,
        execution_number: Option<i64>,
    ) -> Result<Option<Execution>> {
        let found = match execution_number {
            Some(n) => self.executions_where(
                "job_id = ?1 AND thing_name = ?2 AND execution_number = ?3",
                params![job_id, thing_name, n],
            )?,
            // The latest, picked here: with an ORDER BY on a column the
            // WHERE binds, SQLite (STAT4) re-prepares a cached statement on
            // every use. A thing has few executions of one job.
            None => self.executions_where(
                "job_id = ?1 AND thing_name = ?2",
                params![job_id, thing_name],
            )?,
        };
        Ok(found.into_iter().max_by_key(|e| e.execution_number))
    }

    /// A thing's QUEUED and IN_PROGRESS executions, in pending-list order.
    pub fn pending_for_thing(&self, thing_name: &str) -> Result<Vec<Execution>> {
        Ok(self
            .pending_for_things(&[thing_name])?
            .remove(thing_name)
            .unwrap_or_default())
    }

    /// The pending lists of `things` (an empty one for a thing with none),
    /// read in one statement.
    pub fn pending_for_things(&self, things: &[&str]) -> Result<PendingLists> {
        let mut lists: PendingLists = things
            .iter()
            .map(|thing| (thing.to_string(), Vec::new()))
            .collect();
        let pending = self.executions_of_listed_things(
            1,
            "status IN ('IN_PROGRESS', 'QUEUED')",
            &[json_list(lists.keys().map(String::as_str))],
        )?;
        for execution in pending {
            if let Some(list) = lists.get_mut(&execution.thing_name) {
                list.push(execution);
            }
        }
        // Sorted here, not by SQL (see `execution`).
        for list in lists.values_mut() {
            list.sort_by(fleetjobs_core::notify::pending_order);
        }
        Ok(lists)
    }

    /// The latest execution of `job_id` on each of `things` that has one,
    /// read in one statement.
    pub fn latest_executions(
        &self,
        job_id: &str,
        things: &[&str],
    ) -> Result<HashMap<String, Execution>> {
        let mut latest: HashMap<String, Execution> = HashMap::new();
        let found = self.executions_of_listed_things(
            2,
            "job_id = ?1",
            &[Value::from(job_id), json_list(things.iter().copied())],
        )?;
        for execution in found {
            match latest.get(&execution.thing_name) {
                Some(kept) if kept.execution_number >= execution.execution_number => {}
                _ => {
                    latest.insert(execution.thing_name.clone(), execution);
                }
            }
        }
        Ok(latest)
    }

    /// Up to `limit` executions of a job in the given statuses.
    pub fn executions_of_job_in(
        &self,
        job_id: &str,
        statuses: &[ExecutionStatus],
        limit: usize,
    ) -> Result<Vec<Execution>> {
        let list = statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        self.executions_where(
            &format!("job_id = ?1 AND status IN ({list}) ORDER BY thing_name LIMIT ?2"),
            params![job_id, limit as i64],
        )
    }

    /// IN_PROGRESS executions whose effective deadline has passed.
    pub fn executions_due(&self, now: Timestamp, limit: usize) -> Result<Vec<Execution>> {
        self.executions_where(
            "deadline IS NOT NULL AND deadline <= ?1
             ORDER BY deadline, job_id, thing_name, execution_number LIMIT ?2",
            params![now, limit as i64],
        )
    }

    /// Pages through a job's executions by (thing, executionNumber).
    pub fn executions_of_job(
        &self,
        job_id: &str,
        query: &ExecutionQuery,
    ) -> Result<Page<Execution>> {
        self.executions_page(("job_id", job_id), ("thing_name", |e| &e.thing_name), query)
    }

    /// Pages through a thing's executions by (job, executionNumber).
    pub fn executions_of_thing(
        &self,
        thing_name: &str,
        query: &ExecutionQuery,
    ) -> Result<Page<Execution>> {
        self.executions_page(("thing_name", thing_name), ("job_id", |e| &e.job_id), query)
    }

    /// Keyset pagination over the executions whose `fixed` column has the
    /// given value, ordered by the `sort` column, then executionNumber.
    fn executions_page(
        &self,
        (fixed, value): (&str, &str),
        (sort, sort_key): (&str, fn(&Execution) -> &String),
        query: &ExecutionQuery,
    ) -> Result<Page<Execution>> {
        let (after, after_number) = name_number_cursor(query.next_token.as_deref())?;
        let items = self.executions_where(
            &format!(
                "{fixed} = ?1 AND (CAST(?2 AS TEXT) IS NULL OR status = ?2)
                   AND ({sort} > ?3 OR ({sort} = ?3 AND execution_number > ?4))
                 ORDER BY {sort}, execution_number LIMIT ?5"
            ),
            params![
                value,
                query.status.map(|s| s.as_str()),
                after,
                after_number,
                query.limit as i64
            ],
        )?;
        Ok(page(items, query.limit, |e| {
            vec![sort_key(e).clone().into(), e.execution_number.into()]
        }))
    }

    /// Writes new executions in one statement and counts them.
    pub fn insert_executions(&self, executions: &[&Execution]) -> Result<()> {
        if executions.is_empty() {
            return Ok(());
        }
        let values = executions.iter().map(|e| execution_values(e));
        let dialect = self.dialect();
        self.sql.execute(
            &format!(
                "INSERT INTO executions ({EXECUTION_COLUMNS}, deadline)
                 SELECT {} FROM {}",
                dialect.json_row_columns(&EXECUTION_VALUE_TYPES),
                dialect.json_rows_source(1)
            ),
            &[json_rows(values)],
        )?;
        let mut counts: BTreeMap<(&str, ExecutionStatus), i64> = BTreeMap::new();
        for e in executions {
            *counts.entry((&e.job_id, e.status)).or_default() += 1;
        }
        for ((job_id, status), delta) in counts {
            self.count(job_id, status, delta)?;
        }
        Ok(())
    }

    /// Writes a changed execution if nobody changed it since `previous` was
    /// read (its versionNumber), and moves it between counters. Returns false
    /// when the version no longer matches: nothing was written.
    pub fn update_execution(&self, previous: &Execution, next: &Execution) -> Result<bool> {
        let mut values = execution_values(next);
        values.push(Value::from(previous.version_number));
        // SQLite rewrites the entry of every index covering a SET column,
        // changed or not: a progress report (status, queuedAt and deadline
        // as they were) leaves the three indexes' pages out of its commit.
        let index_keys_unchanged = previous.status == next.status
            && previous.queued_at == next.queued_at
            && stored_deadline(previous) == stored_deadline(next);
        let changed = if index_keys_unchanged {
            let unindexed = values
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !INDEXED_EXECUTION_VALUES.contains(i))
                .map(|(_, value)| value)
                .collect::<Vec<_>>();
            self.sql.execute(
                "UPDATE executions SET version_number = ?4, status_details = ?5,
                     started_at = ?6, last_updated_at = ?7, retries_failed = ?8,
                     retries_timed_out = ?9, in_progress_deadline = ?10, step_deadline = ?11,
                     force_canceled = ?12
                 WHERE job_id = ?1 AND thing_name = ?2 AND execution_number = ?3
                   AND version_number = ?13",
                &unindexed,
            )?
        } else {
            self.sql.execute(
                "UPDATE executions SET version_number = ?4, status = ?5, status_details = ?6,
                     queued_at = ?7, started_at = ?8, last_updated_at = ?9, retries_failed = ?10,
                     retries_timed_out = ?11, in_progress_deadline = ?12, step_deadline = ?13,
                     force_canceled = ?14, deadline = ?15
                 WHERE job_id = ?1 AND thing_name = ?2 AND execution_number = ?3
                   AND version_number = ?16",
                &values,
            )?
        };
        if changed == 0 {
            return Ok(false);
        }
        if previous.status != next.status {
            self.count(&next.job_id, previous.status, -1)?;
            self.count(&next.job_id, next.status, 1)?;
        }
        Ok(true)
    }

    /// Deletes executions and uncounts them.
    pub fn delete_executions(&self, executions: &[Execution]) -> Result<()> {
        for e in executions {
            let deleted = self.sql.execute(
                "DELETE FROM executions WHERE job_id = ?1 AND thing_name = ?2 AND execution_number = ?3",
                params![&e.job_id, &e.thing_name, e.execution_number],
            )?;
            if deleted > 0 {
                self.count(&e.job_id, e.status, -1)?;
            }
        }
        Ok(())
    }

    /// Moves a job's counter. Inside a transaction the change is kept and
    /// written at its end ([`Store::flush_counts`]): deltas of one counter
    /// add up, and every transaction writes its counters in one order, so
    /// two never wait for each other's (PostgreSQL locks an updated row to
    /// the end of its transaction; SQLite has one writer anyway).
    pub(crate) fn count(&self, job_id: &str, status: ExecutionStatus, delta: i64) -> Result<()> {
        if self.in_transaction.get() {
            *self
                .counts
                .borrow_mut()
                .entry((job_id.to_owned(), status.as_str()))
                .or_default() += delta;
            return Ok(());
        }
        self.write_count(job_id, status.as_str(), delta)
    }

    fn write_count(&self, job_id: &str, status: &str, delta: i64) -> Result<()> {
        self.sql.execute(
            "INSERT INTO job_status_counts (job_id, status, count) VALUES (?1, ?2, ?3)
             ON CONFLICT (job_id, status)
             DO UPDATE SET count = job_status_counts.count + excluded.count",
            params![job_id, status, delta],
        )?;
        Ok(())
    }

    /// Writes the open transaction's counter changes, in (job, status) order.
    pub(crate) fn flush_counts(&self) -> Result<()> {
        let counts = std::mem::take(&mut *self.counts.borrow_mut());
        for ((job_id, status), delta) in counts {
            if delta != 0 {
                self.write_count(&job_id, status, delta)?;
            }
        }
        Ok(())
    }

    /// The per-status counters of a job, as kept.
    pub fn status_counts(&self, job_id: &str) -> Result<StatusCounts> {
        self.flush_counts()?;
        self.counts_from(
            "SELECT status, count FROM job_status_counts WHERE job_id = ?1",
            job_id,
        )
    }

    /// The per-status counters recounted from the executions (for checks).
    pub fn recount(&self, job_id: &str) -> Result<StatusCounts> {
        self.counts_from(
            "SELECT status, COUNT(*) FROM executions WHERE job_id = ?1 GROUP BY status",
            job_id,
        )
    }

    fn counts_from(&self, sql: &str, job_id: &str) -> Result<StatusCounts> {
        let mut counts = StatusCounts::default();
        for row in self.sql.query(sql, params![job_id])? {
            if let Some(status) = ExecutionStatus::parse(row.text(0)?) {
                counts.set(status, row.int(1)?.max(0) as u64);
            }
        }
        Ok(counts)
    }
}

/// Cuts a page: a full page gets the next token, keyed on its last row.
pub(crate) fn page<T>(
    items: Vec<T>,
    limit: usize,
    key: impl Fn(&T) -> Vec<serde_json::Value>,
) -> Page<T> {
    let next_token = (items.len() == limit)
        .then(|| items.last().map(|last| encode_token(&key(last))))
        .flatten();
    Page { items, next_token }
}
