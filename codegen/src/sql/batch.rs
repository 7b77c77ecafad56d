//! The batch bookkeeping of a platform: `{platform}_batch_counter` and
//! `{platform}_batch_metrics`, and the statements that move a batch through
//! started → ingested → committed.

use super::{Ddl, q};
use datasurface_model::naming;

/// The bookkeeping statements of one platform. Parameters are listed on each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSql {
    pub counter_table: String,
    pub metrics_table: String,
    /// Creates both tables.
    pub create: Vec<Ddl>,
    /// `$1` key → the stream's latest batch: (batch_id, batch_status, state).
    pub last_batch: String,
    /// `$1` key → the next batch id of the stream (the counter, advanced).
    pub next_batch: String,
    /// `$1` key, `$2` batch id, `$3` state → a new `started` metrics row.
    pub start: String,
    /// `$1` key, `$2` batch id, `$3` state, `$4` total records → `ingested`.
    pub ingested: String,
    /// `$1` key, `$2` batch id, `$3` inserted, `$4` updated, `$5` deleted, `$6` state →
    /// `committed`, with the end time.
    pub committed: String,
    /// `$1` key, `$2` batch id, `$3` state → back to `started`, metrics cleared.
    pub restart: String,
    /// `$1` key, `$2` batch id → marks every later batch `reset` (after a rewind).
    pub mark_reset: String,
    /// `$1` key, `$2` batch id → (batch_status) of that batch.
    pub batch_status: String,
    /// `$1` key → the batch row, locked for a status change: (batch_id, batch_status, state).
    pub lock_batch: String,
    /// `$1` key or NULL for every stream, `$2` how many recent batches per stream → rows of
    /// (key, batch_id, start, end, status, inserted, updated, deleted, total, state).
    pub history: String,
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
                    sql: format!(
                        "-- The last batch id handed out per ingestion stream of {platform}.\n\
                     CREATE TABLE IF NOT EXISTS {counter} (\n    key character varying(255) PRIMARY KEY,\n    {current} integer NOT NULL\n)"
                    ),
                },
                Ddl {
                    object: metrics_table.clone(),
                    shape: None,
                    sql: format!(
                        "-- One row per batch of every ingestion stream of {platform}: its status, times and metrics.\n\
                     CREATE TABLE IF NOT EXISTS {metrics} (\n    key character varying(255) NOT NULL,\n    batch_id integer NOT NULL,\n    \
                     batch_start_time timestamp with time zone NOT NULL,\n    batch_end_time timestamp with time zone,\n    \
                     batch_status character varying(32) NOT NULL,\n    records_inserted bigint,\n    records_updated bigint,\n    \
                     records_deleted bigint,\n    total_records bigint,\n    state jsonb NOT NULL,\n    PRIMARY KEY (key, batch_id)\n)"
                    ),
                },
            ],
            last_batch: format!(
                "-- The latest batch of a stream.\n\
                 SELECT batch_id, batch_status, state FROM {metrics} WHERE key = $1 ORDER BY batch_id DESC LIMIT 1"
            ),
            next_batch: format!(
                "-- Hand out the stream's next batch id.\n\
                 INSERT INTO {counter} (key, {current}) VALUES ($1, 1) \
                 ON CONFLICT (key) DO UPDATE SET {current} = {counter}.{current} + 1 RETURNING {current}"
            ),
            start: format!(
                "-- Record a started batch.\n\
                 INSERT INTO {metrics} (key, batch_id, batch_start_time, batch_status, state) \
                 VALUES ($1, $2, clock_timestamp(), 'started', $3)"
            ),
            ingested: format!(
                "-- The batch's snapshot is in staging.\n\
                 UPDATE {metrics} SET batch_status = 'ingested', state = $3, total_records = $4 \
                 WHERE key = $1 AND batch_id = $2"
            ),
            committed: format!(
                "-- The batch is merged.\n\
                 UPDATE {metrics} SET batch_status = 'committed', batch_end_time = clock_timestamp(), \
                 records_inserted = $3, records_updated = $4, records_deleted = $5, state = $6 \
                 WHERE key = $1 AND batch_id = $2"
            ),
            restart: format!(
                "-- Send the batch back to started: its snapshot will be taken again.\n\
                 UPDATE {metrics} SET batch_status = 'started', batch_end_time = NULL, records_inserted = NULL, \
                 records_updated = NULL, records_deleted = NULL, total_records = NULL, state = $3 \
                 WHERE key = $1 AND batch_id = $2"
            ),
            mark_reset: format!(
                "-- Mark the batches after the one rewound to as reset.\n\
                 UPDATE {metrics} SET batch_status = 'reset' WHERE key = $1 AND batch_id > $2"
            ),
            batch_status: format!(
                "-- The status of one batch.\n\
                 SELECT batch_status FROM {metrics} WHERE key = $1 AND batch_id = $2"
            ),
            lock_batch: format!(
                "-- The stream's latest batch, locked until the transaction ends.\n\
                 SELECT batch_id, batch_status, state FROM {metrics} WHERE key = $1 \
                 ORDER BY batch_id DESC LIMIT 1 FOR UPDATE"
            ),
            history: format!(
                "-- The most recent batches of each stream (or of one).\n\
                 SELECT key, batch_id, batch_start_time, batch_end_time, batch_status, records_inserted, \
                 records_updated, records_deleted, total_records, state FROM (\
                 SELECT *, row_number() OVER (PARTITION BY key ORDER BY batch_id DESC) AS n FROM {metrics} \
                 WHERE $1::text IS NULL OR key = $1) AS b WHERE n <= $2 ORDER BY key, batch_id"
            ),
            counter_table,
            metrics_table,
        }
    }
}
