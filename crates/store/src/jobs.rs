//! Job rows, their target tables and the queue of targets not yet released.

use fleetjobs_core::model::{JobStatus, JobType, Targets};
use fleetjobs_core::{Job, Rejection, Timestamp};

use crate::codec::{decode_token, job_body, job_from_row, Page};
use crate::executions::page;
use crate::sql::{RowExt, Sql};
use crate::{params, Result, Store};

/// Filters for ListJobs.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    pub status: Option<JobStatus>,
    pub job_type: Option<JobType>,
    pub thing_group_name: Option<String>,
    pub limit: usize,
    pub next_token: Option<String>,
}

impl<S: Sql> Store<S> {
    pub fn job(&self, job_id: &str) -> Result<Option<Job>> {
        let rows = self
            .sql
            .query("SELECT body FROM jobs WHERE job_id = ?1", params![job_id])?;
        rows.first().map(job_from_row).transpose()
    }

    /// The job, or ResourceNotFound.
    pub fn existing_job(&self, job_id: &str) -> Result<Job> {
        self.job(job_id)?.ok_or_else(|| {
            Rejection::ResourceNotFound(format!("job {job_id} does not exist")).into()
        })
    }

    /// Writes a new job with its target tables; a taken id is a conflict.
    pub fn insert_job(&self, job: &Job) -> Result<()> {
        let inserted = self.sql.execute(
            "INSERT INTO jobs (job_id, body, status, job_type, created_at, version, completed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (job_id) DO NOTHING",
            params![
                &job.job_id,
                job_body(job),
                job.status.as_str(),
                job.job_type.as_str(),
                job.created_at,
                job.version,
                job.completed_at
            ],
        )?;
        if inserted == 0 {
            return Err(Rejection::Conflict(format!("job {} already exists", job.job_id)).into());
        }
        self.insert_job_targets(job)
    }

    fn insert_job_targets(&self, job: &Job) -> Result<()> {
        for group in &job.targets.thing_group_names {
            self.sql.execute(
                "INSERT INTO job_target_groups (job_id, group_name) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                params![&job.job_id, group],
            )?;
        }
        for thing in &job.targets.thing_names {
            self.sql.execute(
                "INSERT INTO job_target_things (job_id, thing_name) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                params![&job.job_id, thing],
            )?;
        }
        Ok(())
    }

    /// Writes a changed job if its row version is still `previous_version`;
    /// a conflict when someone else changed it first (nothing written).
    pub fn save_job(&self, previous_version: i64, next: &Job) -> Result<()> {
        let changed = self.sql.execute(
            "UPDATE jobs SET body = ?2, status = ?3, version = ?4, completed_at = ?6
             WHERE job_id = ?1 AND version = ?5",
            params![
                &next.job_id,
                job_body(next),
                next.status.as_str(),
                next.version,
                previous_version,
                next.completed_at
            ],
        )?;
        if changed == 0 {
            return Err(Rejection::Conflict(format!(
                "job {} changed concurrently; retry",
                next.job_id
            ))
            .into());
        }
        self.insert_job_targets(next)
    }

    /// Removes the job row and everything keyed on it but its executions.
    pub fn delete_job_rows(&self, job_id: &str) -> Result<()> {
        // Counter changes still held would write the counters again.
        self.flush_counts()?;
        for table in [
            "job_target_groups",
            "job_target_things",
            "job_pending_targets",
            "job_status_counts",
            "jobs",
        ] {
            self.sql.execute(
                &format!("DELETE FROM {table} WHERE job_id = ?1"),
                params![job_id],
            )?;
        }
        Ok(())
    }

    /// ListJobs, newest first, keyset-paginated on (createdAt, jobId).
    pub fn list_jobs(&self, query: &JobQuery) -> Result<Page<Job>> {
        let (before_created, before_id) = match query.next_token.as_deref() {
            None => (i64::MAX, String::new()),
            Some(token) => match decode_token(token).as_deref() {
                Some([created, serde_json::Value::String(id)]) if created.is_i64() => {
                    (created.as_i64().unwrap_or_default(), id.clone())
                }
                _ => {
                    return Err(
                        Rejection::invalid("nextToken", "is not a token this API returned").into(),
                    )
                }
            },
        };
        let rows = self.sql.query(
            "SELECT body FROM jobs
             WHERE (CAST(?1 AS TEXT) IS NULL OR status = ?1) AND (CAST(?2 AS TEXT) IS NULL OR job_type = ?2)
               AND (CAST(?3 AS TEXT) IS NULL OR job_id IN
                    (SELECT job_id FROM job_target_groups WHERE group_name = ?3))
               AND (created_at < ?4 OR (created_at = ?4 AND (?5 = '' OR job_id < ?5)))
             ORDER BY created_at DESC, job_id DESC LIMIT ?6",
            params![
                query.status.map(|s| s.as_str()),
                query.job_type.map(|t| t.as_str()),
                query.thing_group_name.as_deref(),
                before_created,
                before_id,
                query.limit as i64
            ],
        )?;
        let items = rows.iter().map(job_from_row).collect::<Result<Vec<_>>>()?;
        Ok(page(items, query.limit, |job| {
            vec![job.created_at.0.into(), job.job_id.clone().into()]
        }))
    }

    /// Jobs due for the sweeper at `now`, the longest-waiting first.
    pub fn due_job_ids(&self, now: Timestamp, limit: usize) -> Result<Vec<String>> {
        let rows = self.sql.query(
            "SELECT job_id FROM jobs WHERE due_at <= ?1 ORDER BY due_at, job_id LIMIT ?2",
            params![now, limit as i64],
        )?;
        rows.iter().map(|r| Ok(r.text(0)?.to_owned())).collect()
    }

    /// When the sweeper looks at the job next (after a pass decided it).
    pub fn set_due(&self, job_id: &str, due: Option<Timestamp>) -> Result<()> {
        self.sql.execute(
            "UPDATE jobs SET due_at = ?2 WHERE job_id = ?1",
            params![job_id, due],
        )?;
        Ok(())
    }

    /// Due no later than `by` (an earlier due time stays).
    pub(crate) fn due_by(&self, job_id: &str, by: Timestamp) -> Result<()> {
        self.sql.execute(
            "UPDATE jobs SET due_at = ?2 WHERE job_id = ?1 AND (due_at IS NULL OR due_at > ?2)",
            params![job_id, by],
        )?;
        Ok(())
    }

    /// COMPLETED or CANCELED jobs that finished before `before`, oldest first.
    pub fn job_ids_finished_before(&self, before: Timestamp, limit: usize) -> Result<Vec<String>> {
        let rows = self.sql.query(
            "SELECT job_id FROM jobs WHERE completed_at < ?1
               AND status IN ('COMPLETED', 'CANCELED')
             ORDER BY completed_at LIMIT ?2",
            params![before, limit as i64],
        )?;
        rows.iter().map(|r| Ok(r.text(0)?.to_owned())).collect()
    }

    /// Every job that targets a group, oldest first.
    pub fn jobs_targeting_group(&self, group_name: &str) -> Result<Vec<Job>> {
        let rows = self.sql.query(
            "SELECT body FROM jobs
             WHERE job_id IN (SELECT job_id FROM job_target_groups WHERE group_name = ?1)
             ORDER BY created_at",
            params![group_name],
        )?;
        rows.iter().map(job_from_row).collect()
    }

    /// Whether a job targets a thing directly or through any group it is in.
    pub fn job_targets_thing(&self, job_id: &str, thing_name: &str) -> Result<bool> {
        let rows = self.sql.query(
            "SELECT 1 FROM job_target_things WHERE job_id = ?1 AND thing_name = ?2
             UNION ALL
             SELECT 1 FROM job_target_groups g JOIN thing_group_members m
               ON m.group_name = g.group_name
             WHERE g.job_id = ?1 AND m.thing_name = ?2 LIMIT 1",
            params![job_id, thing_name],
        )?;
        Ok(!rows.is_empty())
    }

    /// Queues a new job's targets for release: its things and its groups'
    /// members, distinct, in name order, in one statement whatever their
    /// number. Returns how many.
    pub fn queue_targets(&self, job_id: &str, targets: &Targets) -> Result<u64> {
        let json = |names: &[String]| serde_json::Value::from(names.to_vec()).to_string();
        let dialect = self.dialect();
        let queued = self.sql.execute(
            &format!(
                "INSERT INTO job_pending_targets (job_id, seq, thing_name)
                 SELECT CAST(?1 AS TEXT), ROW_NUMBER() OVER (ORDER BY thing_name), thing_name FROM (
                     SELECT thing_name FROM things
                     WHERE thing_name IN (SELECT value FROM {})
                     UNION
                     SELECT thing_name FROM thing_group_members
                     WHERE group_name IN (SELECT value FROM {})
                 ) AS targets",
                dialect.json_list_source(2),
                dialect.json_list_source(3)
            ),
            params![
                job_id,
                json(&targets.thing_names),
                json(&targets.thing_group_names)
            ],
        )?;
        Ok(queued)
    }

    /// Takes the next `count` targets off the queue.
    pub fn pop_pending_targets(&self, job_id: &str, count: u64) -> Result<Vec<String>> {
        let rows = self.sql.query(
            "SELECT seq, thing_name FROM job_pending_targets WHERE job_id = ?1
             ORDER BY seq LIMIT ?2",
            params![job_id, count],
        )?;
        let Some(last) = rows.last() else {
            return Ok(Vec::new());
        };
        self.sql.execute(
            "DELETE FROM job_pending_targets WHERE job_id = ?1 AND seq <= ?2",
            params![job_id, last.int(0)?],
        )?;
        rows.iter().map(|r| Ok(r.text(1)?.to_owned())).collect()
    }
}
