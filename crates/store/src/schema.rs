//! Versioned migrations, applied in order and at most once each.
//!
//! Append new migrations; never edit an applied one. Each runs in its own
//! transaction together with its row in `schema_migrations`, so a crash leaves
//! either all of it or none.

/// `(version, statements)`; one statement per string (Spin's interface runs
/// exactly one statement per call).
pub const MIGRATIONS: &[(i64, &[&str])] = &[(
    1,
    &[
        "CREATE TABLE things (
            thing_name TEXT PRIMARY KEY,
            attributes TEXT NOT NULL,
            token_hash TEXT,
            version INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        )",
        "CREATE TABLE thing_groups (
            group_name TEXT PRIMARY KEY,
            description TEXT,
            created_at INTEGER NOT NULL
        )",
        "CREATE TABLE thing_group_members (
            group_name TEXT NOT NULL,
            thing_name TEXT NOT NULL,
            PRIMARY KEY (group_name, thing_name)
        )",
        "CREATE INDEX thing_group_members_by_thing ON thing_group_members (thing_name)",
        // The job itself is a JSON document; the columns beside it are what
        // queries filter and sort on.
        "CREATE TABLE jobs (
            job_id TEXT PRIMARY KEY,
            body TEXT NOT NULL,
            status TEXT NOT NULL,
            job_type TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            version INTEGER NOT NULL
        )",
        "CREATE INDEX jobs_by_created ON jobs (created_at DESC, job_id DESC)",
        "CREATE INDEX jobs_by_status ON jobs (status, created_at DESC, job_id DESC)",
        "CREATE TABLE job_target_groups (
            job_id TEXT NOT NULL,
            group_name TEXT NOT NULL,
            PRIMARY KEY (job_id, group_name)
        )",
        "CREATE INDEX job_target_groups_by_group ON job_target_groups (group_name)",
        "CREATE TABLE job_target_things (
            job_id TEXT NOT NULL,
            thing_name TEXT NOT NULL,
            PRIMARY KEY (job_id, thing_name)
        )",
        // Resolved targets a paced rollout has not released yet, in order.
        "CREATE TABLE job_pending_targets (
            job_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            thing_name TEXT NOT NULL,
            PRIMARY KEY (job_id, seq)
        )",
        "CREATE TABLE job_status_counts (
            job_id TEXT NOT NULL,
            status TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (job_id, status)
        )",
        "CREATE TABLE executions (
            job_id TEXT NOT NULL,
            thing_name TEXT NOT NULL,
            execution_number INTEGER NOT NULL,
            version_number INTEGER NOT NULL,
            status TEXT NOT NULL,
            status_details TEXT NOT NULL,
            queued_at INTEGER NOT NULL,
            started_at INTEGER,
            last_updated_at INTEGER NOT NULL,
            retries_failed INTEGER NOT NULL,
            retries_timed_out INTEGER NOT NULL,
            in_progress_deadline INTEGER,
            step_deadline INTEGER,
            deadline INTEGER,
            force_canceled INTEGER NOT NULL,
            PRIMARY KEY (job_id, thing_name, execution_number)
        )",
        // A thing's pending list: IN_PROGRESS first, then by queuedAt.
        "CREATE INDEX executions_by_thing_status ON executions (thing_name, status, queued_at)",
        "CREATE INDEX executions_by_job_status ON executions (job_id, status, thing_name)",
        "CREATE INDEX executions_by_deadline ON executions (deadline) WHERE deadline IS NOT NULL",
        "CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            topic TEXT NOT NULL,
            payload BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            claimed_until INTEGER
        )",
        // Replies to recent device requests, so a repeated clientToken is
        // answered with the first reply instead of being applied twice.
        "CREATE TABLE device_requests (
            thing_name TEXT NOT NULL,
            client_token TEXT NOT NULL,
            reply TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (thing_name, client_token)
        )",
        "CREATE INDEX device_requests_by_age ON device_requests (created_at)",
    ],
), (
    2,
    &[
        // When a job became COMPLETED or CANCELED, for the retention purge.
        "ALTER TABLE jobs ADD COLUMN completed_at INTEGER",
        "UPDATE jobs SET completed_at = json_extract(body, '$.completedAt')",
        "CREATE INDEX jobs_by_completion ON jobs (completed_at) WHERE completed_at IS NOT NULL",
    ],
), (
    3,
    &[
        // When the sweeper must look at the job next (`Job::next_due`; 0 is
        // "at once", set by every change of the job or its executions;
        // NULL is "only after a change"). Active jobs start due.
        "ALTER TABLE jobs ADD COLUMN due_at INTEGER",
        "UPDATE jobs SET due_at = 0 WHERE status IN ('SCHEDULED', 'IN_PROGRESS')",
        "CREATE INDEX jobs_by_due ON jobs (due_at) WHERE due_at IS NOT NULL",
    ],
), (
    4,
    &[
        // Each thing's messages go to one of `outbox::OUTBOX_LANES` lanes; a
        // publisher leases a whole lane, so several publish at once and each
        // thing still gets its messages in order. Waiting messages keep their
        // order in lane 0.
        "ALTER TABLE outbox ADD COLUMN lane INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE outbox DROP COLUMN claimed_until",
        "CREATE INDEX outbox_by_lane ON outbox (lane, id)",
        "CREATE TABLE outbox_lanes (
            lane INTEGER PRIMARY KEY,
            claimed_until INTEGER NOT NULL
        )",
        "WITH RECURSIVE lanes(lane) AS (SELECT 0 UNION ALL SELECT lane + 1 FROM lanes WHERE lane < 15)
         INSERT INTO outbox_lanes (lane, claimed_until) SELECT lane, 0 FROM lanes",
    ],
), (
    5,
    &[
        // Commands (docs/commands.md): one execution per command, sent to one
        // thing. `deadline` is createdAt + ttl while the command waits (SENT,
        // IN_PROGRESS), NULL once terminal; `completed_at` is when it became
        // terminal, for the retention purge. `params`, `result` and
        // `status_reason` are JSON.
        "CREATE TABLE device_commands (
            execution_id TEXT PRIMARY KEY,
            thing_name TEXT NOT NULL,
            action TEXT NOT NULL,
            params TEXT NOT NULL,
            ttl_seconds INTEGER NOT NULL,
            status TEXT NOT NULL,
            result TEXT,
            status_reason TEXT,
            version_number INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            last_updated_at INTEGER NOT NULL,
            completed_at INTEGER,
            deadline INTEGER
        )",
        "CREATE INDEX device_commands_by_created ON device_commands (created_at DESC, execution_id DESC)",
        "CREATE INDEX device_commands_by_thing ON device_commands (thing_name, created_at DESC, execution_id DESC)",
        "CREATE INDEX device_commands_by_status ON device_commands (status, created_at DESC, execution_id DESC)",
        "CREATE INDEX device_commands_by_deadline ON device_commands (deadline) WHERE deadline IS NOT NULL",
        "CREATE INDEX device_commands_by_completion ON device_commands (completed_at) WHERE completed_at IS NOT NULL",
    ],
), (
    6,
    &[
        // Replies stored in their key's B-tree (WITHOUT ROWID): a device
        // request with a clientToken writes two B-trees (the key and the
        // age index), not three (the rows, the key's index and the age
        // index), so its commit has a page fewer.
        "CREATE TABLE device_requests_by_key (
            thing_name TEXT NOT NULL,
            client_token TEXT NOT NULL,
            reply TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (thing_name, client_token)
        ) WITHOUT ROWID",
        "INSERT INTO device_requests_by_key (thing_name, client_token, reply, created_at)
         SELECT thing_name, client_token, reply, created_at FROM device_requests",
        "DROP TABLE device_requests",
        "ALTER TABLE device_requests_by_key RENAME TO device_requests",
        "CREATE INDEX device_requests_by_age ON device_requests (created_at)",
    ],
)];

/// The PostgreSQL schema: the state the SQLite migrations above reach, in one
/// migration numbered like the last of them (no PostgreSQL deployment
/// predates it), so both dialects share version numbers from here on: a new
/// migration is appended to both lists with the same number.
///
/// Text compares as its UTF-8 bytes (`COLLATE "C"`), as in SQLite, so sort
/// orders, keyset pages and name-prefix ranges match; integers are BIGINT
/// (SQLite's are 64-bit), blobs BYTEA, the outbox id an identity column.
pub const POSTGRES_MIGRATIONS: &[(i64, &[&str])] = &[(
    5,
    &[
        r#"CREATE TABLE things (
            thing_name TEXT COLLATE "C" PRIMARY KEY,
            attributes TEXT NOT NULL,
            token_hash TEXT COLLATE "C",
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL
        )"#,
        r#"CREATE TABLE thing_groups (
            group_name TEXT COLLATE "C" PRIMARY KEY,
            description TEXT,
            created_at BIGINT NOT NULL
        )"#,
        r#"CREATE TABLE thing_group_members (
            group_name TEXT COLLATE "C" NOT NULL,
            thing_name TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (group_name, thing_name)
        )"#,
        "CREATE INDEX thing_group_members_by_thing ON thing_group_members (thing_name)",
        r#"CREATE TABLE jobs (
            job_id TEXT COLLATE "C" PRIMARY KEY,
            body TEXT NOT NULL,
            status TEXT COLLATE "C" NOT NULL,
            job_type TEXT COLLATE "C" NOT NULL,
            created_at BIGINT NOT NULL,
            version BIGINT NOT NULL,
            completed_at BIGINT,
            due_at BIGINT
        )"#,
        "CREATE INDEX jobs_by_created ON jobs (created_at DESC, job_id DESC)",
        "CREATE INDEX jobs_by_status ON jobs (status, created_at DESC, job_id DESC)",
        "CREATE INDEX jobs_by_completion ON jobs (completed_at) WHERE completed_at IS NOT NULL",
        "CREATE INDEX jobs_by_due ON jobs (due_at) WHERE due_at IS NOT NULL",
        r#"CREATE TABLE job_target_groups (
            job_id TEXT COLLATE "C" NOT NULL,
            group_name TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (job_id, group_name)
        )"#,
        "CREATE INDEX job_target_groups_by_group ON job_target_groups (group_name)",
        r#"CREATE TABLE job_target_things (
            job_id TEXT COLLATE "C" NOT NULL,
            thing_name TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (job_id, thing_name)
        )"#,
        r#"CREATE TABLE job_pending_targets (
            job_id TEXT COLLATE "C" NOT NULL,
            seq BIGINT NOT NULL,
            thing_name TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (job_id, seq)
        )"#,
        r#"CREATE TABLE job_status_counts (
            job_id TEXT COLLATE "C" NOT NULL,
            status TEXT COLLATE "C" NOT NULL,
            count BIGINT NOT NULL,
            PRIMARY KEY (job_id, status)
        )"#,
        r#"CREATE TABLE executions (
            job_id TEXT COLLATE "C" NOT NULL,
            thing_name TEXT COLLATE "C" NOT NULL,
            execution_number BIGINT NOT NULL,
            version_number BIGINT NOT NULL,
            status TEXT COLLATE "C" NOT NULL,
            status_details TEXT NOT NULL,
            queued_at BIGINT NOT NULL,
            started_at BIGINT,
            last_updated_at BIGINT NOT NULL,
            retries_failed BIGINT NOT NULL,
            retries_timed_out BIGINT NOT NULL,
            in_progress_deadline BIGINT,
            step_deadline BIGINT,
            deadline BIGINT,
            force_canceled BIGINT NOT NULL,
            PRIMARY KEY (job_id, thing_name, execution_number)
        )"#,
        "CREATE INDEX executions_by_thing_status ON executions (thing_name, status, queued_at)",
        "CREATE INDEX executions_by_job_status ON executions (job_id, status, thing_name)",
        "CREATE INDEX executions_by_deadline ON executions (deadline) WHERE deadline IS NOT NULL",
        r#"CREATE TABLE outbox (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            topic TEXT NOT NULL,
            payload BYTEA NOT NULL,
            created_at BIGINT NOT NULL,
            lane BIGINT NOT NULL DEFAULT 0
        )"#,
        "CREATE INDEX outbox_by_lane ON outbox (lane, id)",
        "CREATE TABLE outbox_lanes (
            lane BIGINT PRIMARY KEY,
            claimed_until BIGINT NOT NULL
        )",
        "INSERT INTO outbox_lanes (lane, claimed_until) SELECT lane, 0 FROM generate_series(0, 15) AS lanes (lane)",
        r#"CREATE TABLE device_requests (
            thing_name TEXT COLLATE "C" NOT NULL,
            client_token TEXT COLLATE "C" NOT NULL,
            reply TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (thing_name, client_token)
        )"#,
        "CREATE INDEX device_requests_by_age ON device_requests (created_at)",
        r#"CREATE TABLE device_commands (
            execution_id TEXT COLLATE "C" PRIMARY KEY,
            thing_name TEXT COLLATE "C" NOT NULL,
            action TEXT NOT NULL,
            params TEXT NOT NULL,
            ttl_seconds BIGINT NOT NULL,
            status TEXT COLLATE "C" NOT NULL,
            result TEXT,
            status_reason TEXT,
            version_number BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            last_updated_at BIGINT NOT NULL,
            completed_at BIGINT,
            deadline BIGINT
        )"#,
        "CREATE INDEX device_commands_by_created ON device_commands (created_at DESC, execution_id DESC)",
        "CREATE INDEX device_commands_by_thing ON device_commands (thing_name, created_at DESC, execution_id DESC)",
        "CREATE INDEX device_commands_by_status ON device_commands (status, created_at DESC, execution_id DESC)",
        "CREATE INDEX device_commands_by_deadline ON device_commands (deadline) WHERE deadline IS NOT NULL",
        "CREATE INDEX device_commands_by_completion ON device_commands (completed_at) WHERE completed_at IS NOT NULL",
    ],
), (
    // SQLite's 6 changes how its rows are stored: nothing to do here.
    6,
    &[],
)];
