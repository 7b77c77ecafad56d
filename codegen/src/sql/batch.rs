//! The batch bookkeeping of a platform: `{platform}_batch_counter` and
//! `{platform}_batch_metrics`, and the statements that move a batch through
//! started → ingested → committed.

use super::names::q;
use super::statement::{Ddl, Statement};
use datasurface_model::naming;

/// The bookkeeping statements of one platform. Parameters are listed on each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSql {
    pub counter_table: String,
    pub metrics_table: String,
    /// Creates both tables.
    pub create: Vec<Ddl>,
    /// `$1` key → the stream's latest batch: (batch_id, batch_status, state).
    pub last_batch: Statement,
    /// `$1` key → the next batch id of the stream (the counter, advanced).
    pub next_batch: Statement,
    /// `$1` key, `$2` batch id, `$3` state → a new `started` metrics row.
    pub start: Statement,
    /// `$1` key, `$2` batch id, `$3` state, `$4` total records → `ingested`.
    pub ingested: Statement,
    /// `$1` key, `$2` batch id, `$3` inserted, `$4` updated, `$5` deleted, `$6` state, `$7`
    /// total records → `committed`, with the end time.
    pub committed: Statement,
    /// `$1` key, `$2` batch id, `$3` state → back to `started`, metrics cleared.
    pub restart: Statement,
    /// `$1` key, `$2` batch id, `$3` message → records why the last run of the open batch
    /// failed in its state (`last_error`); its status stays, so the next run resumes it.
    pub record_error: Statement,
    /// `$1` key, `$2` batch id → marks every later batch not yet `reset` as `reset` (after a
    /// rewind).
    pub mark_reset: Statement,
    /// `$1` key, `$2` batch id → (batch_status) of that batch.
    pub batch_status: Statement,
    /// `$1` key → the batch row, locked for a status change: (batch_id, batch_status, state).
    pub lock_batch: Statement,
    /// `$1` store or NULL for every stream, `$2` how many recent batches per stream → rows
    /// of (key, batch_id, start, end, status, inserted, updated, deleted, total, state).
    pub history: Statement,
    /// `$1` a stream's [lock id](lock_id) → whether this session now holds the stream's
    /// runner lock (held until released or the session ends, so a dead runner's goes too).
    pub try_lock: Statement,
    /// `$1` a stream's lock id → releases the runner lock.
    pub unlock: Statement,
    /// `$1` the platform's lock id → waits for the platform's DDL lock, held until the
    /// transaction ends: two runners creating the same tables would collide in the catalog.
    pub ddl_lock: Statement,
}

/// The advisory-lock id of a stream of a platform, or of the platform itself (its DDL lock)
/// when `stream` is `None`: 64 bits of a SHA-256 of the names.
pub fn lock_id(platform: &str, stream: Option<&str>) -> i64 {
    let name = format!("datasurface:{platform}:{}", stream.unwrap_or(""));
    let hex = naming::hex_digest(name.as_bytes(), 8);
    u64::from_str_radix(&hex, 16).map_or(0, |n| n as i64)
}

impl BatchSql {
    /// The bookkeeping of the platform called `platform` (its model name).
    pub fn new(platform: &str) -> Self {
        let counter_table = naming::batch_counter_table(platform);
        let metrics_table = naming::batch_metrics_table(platform);
        let (counter, metrics) = (q(&counter_table), q(&metrics_table));
        let current = q("currentBatch");
        BatchSql {
            create: vec![
                Ddl {
                    object: counter_table.clone(),
                    shape: None,
                    statement: Statement::new(
                        format!("The last batch id handed out per ingestion stream of {platform}"),
                        format!(
                            "CREATE TABLE IF NOT EXISTS {counter} (\n    key character varying(255) PRIMARY KEY,\n    {current} integer NOT NULL\n)"
                        ),
                    ),
                },
                Ddl {
                    object: metrics_table.clone(),
                    shape: None,
                    statement: Statement::new(
                        format!(
                            "One row per batch of every ingestion stream of {platform}: its status, times and metrics"
                        ),
                        format!(
                            "CREATE TABLE IF NOT EXISTS {metrics} (\n    key character varying(255) NOT NULL,\n    batch_id integer NOT NULL,\n    \
                             batch_start_time timestamp with time zone NOT NULL,\n    batch_end_time timestamp with time zone,\n    \
                             batch_status character varying(32) NOT NULL,\n    records_inserted bigint,\n    records_updated bigint,\n    \
                             records_deleted bigint,\n    total_records bigint,\n    state jsonb NOT NULL,\n    PRIMARY KEY (key, batch_id)\n)"
                        ),
                    ),
                },
            ],
            last_batch: Statement::new(
                "The latest batch of a stream",
                format!(
                    "SELECT batch_id, batch_status, state FROM {metrics} WHERE key = $1 ORDER BY batch_id DESC LIMIT 1"
                ),
            ),
            next_batch: Statement::new(
                "Hand out the stream's next batch id",
                format!(
                    "INSERT INTO {counter} (key, {current}) VALUES ($1, 1) \
                     ON CONFLICT (key) DO UPDATE SET {current} = {counter}.{current} + 1 RETURNING {current}"
                ),
            ),
            start: Statement::new(
                "Record a started batch",
                format!(
                    "INSERT INTO {metrics} (key, batch_id, batch_start_time, batch_status, state) \
                     VALUES ($1, $2, clock_timestamp(), 'started', $3)"
                ),
            ),
            ingested: Statement::new(
                "The batch's snapshot is in staging",
                format!(
                    "UPDATE {metrics} SET batch_status = 'ingested', state = $3, total_records = $4 \
                     WHERE key = $1 AND batch_id = $2"
                ),
            ),
            committed: Statement::new(
                "The batch is merged",
                format!(
                    "UPDATE {metrics} SET batch_status = 'committed', batch_end_time = clock_timestamp(), \
                     records_inserted = $3, records_updated = $4, records_deleted = $5, state = $6, total_records = $7 \
                     WHERE key = $1 AND batch_id = $2"
                ),
            ),
            restart: Statement::new(
                "Send the batch back to started: its snapshot will be taken again",
                format!(
                    "UPDATE {metrics} SET batch_status = 'started', batch_end_time = NULL, records_inserted = NULL, \
                     records_updated = NULL, records_deleted = NULL, total_records = NULL, state = $3 \
                     WHERE key = $1 AND batch_id = $2"
                ),
            ),
            record_error: Statement::new(
                "Record why the last run of an open batch failed",
                format!(
                    "UPDATE {metrics} SET state = state || jsonb_build_object('last_error', $3::text) \
                     WHERE key = $1 AND batch_id = $2"
                ),
            ),
            mark_reset: Statement::new(
                "Mark the batches after the one rewound to as reset",
                format!(
                    "UPDATE {metrics} SET batch_status = 'reset' WHERE key = $1 AND batch_id > $2 \
                     AND batch_status <> 'reset'"
                ),
            ),
            batch_status: Statement::new(
                "The status of one batch",
                format!("SELECT batch_status FROM {metrics} WHERE key = $1 AND batch_id = $2"),
            ),
            lock_batch: Statement::new(
                "The stream's latest batch, locked until the transaction ends",
                format!(
                    "SELECT batch_id, batch_status, state FROM {metrics} WHERE key = $1 \
                     ORDER BY batch_id DESC LIMIT 1 FOR UPDATE"
                ),
            ),
            history: Statement::new(
                "The most recent batches of each stream (or of one store's streams)",
                format!(
                    "SELECT key, batch_id, batch_start_time, batch_end_time, batch_status, records_inserted, \
                     records_updated, records_deleted, total_records, state FROM (\
                     SELECT *, row_number() OVER (PARTITION BY key ORDER BY batch_id DESC) AS n FROM {metrics} \
                     WHERE $1::text IS NULL OR split_part(key, '#', 1) = $1) AS b WHERE n <= $2 ORDER BY key, batch_id"
                ),
            ),
            try_lock: Statement::new(
                "Take the stream's runner lock",
                "SELECT pg_try_advisory_lock($1)",
            ),
            unlock: Statement::new(
                "Release the stream's runner lock",
                "SELECT pg_advisory_unlock($1)",
            ),
            ddl_lock: Statement::new(
                "Take the platform's DDL lock",
                "SELECT pg_advisory_xact_lock($1)",
            ),
            counter_table,
            metrics_table,
        }
    }

    /// Every statement, in the order a reader follows a batch.
    pub fn statements(&self) -> [&Statement; 14] {
        [
            &self.try_lock,
            &self.ddl_lock,
            &self.last_batch,
            &self.next_batch,
            &self.start,
            &self.ingested,
            &self.committed,
            &self.restart,
            &self.record_error,
            &self.lock_batch,
            &self.mark_reset,
            &self.batch_status,
            &self.history,
            &self.unlock,
        ]
    }
}
