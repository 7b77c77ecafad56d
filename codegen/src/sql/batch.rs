//! The batch bookkeeping of a platform: `{platform}_batch_counter` and
//! `{platform}_batch_metrics`, and the statements that move a batch through
//! started → ingested → committed.

use super::names::q;
use super::statement::{Ddl, Statement};
use super::typed::{Query, Single};
use datasurface_model::naming;

/// Where a batch is, as `batch_status` spells it. A run that fails leaves its batch where it
/// was (`started` or `ingested`), so the next run carries on from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchStatus {
    /// Opened; the snapshot is (still) to be taken.
    Started,
    /// The snapshot is in staging; the merge is to be done.
    Ingested,
    /// Merged, with its metrics.
    Committed,
    /// Rewound away by `reset-batch --to-batch`: its changes were undone.
    Reset,
}

impl BatchStatus {
    const ALL: [BatchStatus; 4] = [
        BatchStatus::Started,
        BatchStatus::Ingested,
        BatchStatus::Committed,
        BatchStatus::Reset,
    ];

    /// As the metrics table spells it: the one spelling, in the SQL, the JSON and the text.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Started => "started",
            BatchStatus::Ingested => "ingested",
            BatchStatus::Committed => "committed",
            BatchStatus::Reset => "reset",
        }
    }

    /// Reads the metrics table's spelling.
    pub fn parse(text: &str) -> Result<Self, UnknownStatus> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| UnknownStatus(text.to_owned()))
    }

    /// Whether a run continues this batch rather than starting a new one.
    pub fn is_open(self) -> bool {
        matches!(self, BatchStatus::Started | BatchStatus::Ingested)
    }

    /// As an SQL literal: `'committed'`.
    fn literal(self) -> String {
        format!("'{}'", self.as_str())
    }
}

impl std::fmt::Display for BatchStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for BatchStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A `batch_status` this runtime does not know (written by hand, or by another version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl std::fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let known: Vec<_> = BatchStatus::ALL.iter().map(|s| s.as_str()).collect();
        write!(
            f,
            "batch status `{}` is not one this runtime knows ({})",
            self.0,
            known.join(", ")
        )
    }
}

impl std::error::Error for UnknownStatus {}

crate::params! {
    /// A stream.
    pub struct OfStream<'a> {
        /// The stream's key (`Store1`, `Store1#people`).
        pub key: &'a str,
    }
}

crate::params! {
    /// A batch of a stream.
    pub struct BatchOf<'a> {
        pub key: &'a str,
        pub batch: i32,
    }
}

crate::params! {
    /// A batch of a stream with its new state: a started batch, or one sent back to started.
    pub struct WithState<'a> {
        pub key: &'a str,
        pub batch: i32,
        pub state: &'a serde_json::Value,
    }
}

crate::params! {
    /// A batch whose snapshot is in staging.
    pub struct Ingested<'a> {
        pub key: &'a str,
        pub batch: i32,
        pub state: &'a serde_json::Value,
        /// Rows in the snapshot.
        pub total: i64,
    }
}

crate::params! {
    /// A merged batch with its metrics.
    pub struct Committed<'a> {
        pub key: &'a str,
        pub batch: i32,
        pub inserted: i64,
        pub updated: i64,
        pub deleted: i64,
        pub state: &'a serde_json::Value,
        /// Rows in the snapshot.
        pub total: i64,
    }
}

crate::params! {
    /// Why the last run of an open batch failed.
    pub struct Failure<'a> {
        pub key: &'a str,
        pub batch: i32,
        pub message: &'a str,
    }
}

crate::params! {
    /// Which batches to list.
    pub struct HistoryOf<'a> {
        /// A store's streams, or every stream when `None`.
        pub store: Option<&'a str>,
        /// How many recent batches per stream.
        pub limit: i64,
    }
}

crate::params! {
    /// An advisory lock.
    pub struct Lock {
        /// The lock's id ([`lock_id`]).
        pub id: i64,
    }
}

crate::row! {
    /// A stream's latest batch.
    pub struct LatestBatch {
        pub batch_id: i32,
        /// As the table spells it ([`BatchStatus::parse`]).
        pub batch_status: String,
        pub batch_start_time: chrono::DateTime<chrono::Utc>,
        pub state: serde_json::Value,
    }
}

crate::row! {
    /// One batch of the history, as the metrics table records it.
    pub struct HistoryRow {
        pub key: String,
        pub batch_id: i32,
        pub batch_start_time: chrono::DateTime<chrono::Utc>,
        pub batch_end_time: Option<chrono::DateTime<chrono::Utc>>,
        /// As the table spells it ([`BatchStatus::parse`]).
        pub batch_status: String,
        pub records_inserted: Option<i64>,
        pub records_updated: Option<i64>,
        pub records_deleted: Option<i64>,
        pub total_records: Option<i64>,
        pub state: serde_json::Value,
    }
}

/// The bookkeeping statements of one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSql {
    pub counter_table: String,
    pub metrics_table: String,
    /// Creates both tables.
    pub create: Vec<Ddl>,
    /// The stream's latest batch.
    pub last_batch: Query<OfStream<'static>, LatestBatch>,
    /// The next batch id of the stream (the counter, advanced).
    pub next_batch: Query<OfStream<'static>, Single<i32>>,
    /// A new `started` metrics row.
    pub start: Query<WithState<'static>>,
    /// The batch is `ingested`.
    pub ingested: Query<Ingested<'static>>,
    /// The batch is `committed`, with its metrics and end time.
    pub committed: Query<Committed<'static>>,
    /// Back to `started`, metrics cleared.
    pub restart: Query<WithState<'static>>,
    /// Records why the last run of the open batch failed in its state (`last_error`); its
    /// status stays, so the next run resumes it.
    pub record_error: Query<Failure<'static>>,
    /// Marks every batch after the one given not yet `reset` as `reset` (after a rewind).
    pub mark_reset: Query<BatchOf<'static>>,
    /// The status of one batch.
    pub batch_status: Query<BatchOf<'static>, Single<String>>,
    /// The batch row, locked for a status change.
    pub lock_batch: Query<OfStream<'static>, LatestBatch>,
    /// The most recent batches of every stream, or of one store's streams, by stream and
    /// batch.
    pub history: Query<HistoryOf<'static>, HistoryRow>,
    /// Whether this session now holds the stream's runner lock (held until released or the
    /// session ends, so a dead runner's goes too).
    pub try_lock: Query<Lock, Single<bool>>,
    /// Releases the runner lock.
    pub unlock: Query<Lock>,
    /// Waits for the platform's DDL lock, held until the transaction ends: two runners
    /// creating the same tables would collide in the catalog.
    pub ddl_lock: Query<Lock>,
    /// For the rest of the transaction, joins of staging (or of a replication batch's
    /// changes) with a merge table probe the merge table's key index row by row: taken when
    /// a batch changed few keys next to the table's rows, where the planner, whose costs
    /// assume a disk that seeks, would read the whole table to find them (and a table ten
    /// times bigger would cost ten times as much). Scans of whole tables are ruled out too
    /// where an index can serve: a merge table without statistics yet (one just loaded)
    /// would otherwise be scanned once per changed key. The costs of those ruled-out plans
    /// would make the server compile each statement to machine code (JIT), which takes
    /// longer than probing a few keys: that is off too.
    pub probe_keys: Statement,
    /// [`BatchSql::probe_keys`] for the session: the diff's own connections.
    pub probe_keys_in_session: Statement,
    /// Back to the planner's own choice of join.
    pub plan_joins: Statement,
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
            last_batch: Query::new(
                "The latest batch of a stream",
                format!(
                    "SELECT {cols} FROM {metrics} WHERE key = {key} ORDER BY batch_id DESC LIMIT 1",
                    cols = LatestBatch::select_list(),
                    key = OfStream::key,
                ),
            ),
            next_batch: Query::new(
                "Hand out the stream's next batch id",
                format!(
                    "INSERT INTO {counter} (key, {current}) VALUES ({key}, 1) \
                     ON CONFLICT (key) DO UPDATE SET {current} = {counter}.{current} + 1 RETURNING {current}",
                    key = OfStream::key,
                ),
            ),
            start: Query::new(
                "Record a started batch",
                format!(
                    "INSERT INTO {metrics} (key, batch_id, batch_start_time, batch_status, state) \
                     VALUES ({key}, {batch}, clock_timestamp(), {started}, {state})",
                    key = WithState::key,
                    batch = WithState::batch,
                    state = WithState::state,
                    started = BatchStatus::Started.literal(),
                ),
            ),
            ingested: Query::new(
                "The batch's snapshot is in staging",
                format!(
                    "UPDATE {metrics} SET batch_status = {ingested}, state = {state}, total_records = {total} \
                     WHERE key = {key} AND batch_id = {batch}",
                    ingested = BatchStatus::Ingested.literal(),
                    state = Ingested::state,
                    total = Ingested::total,
                    key = Ingested::key,
                    batch = Ingested::batch,
                ),
            ),
            committed: Query::new(
                "The batch is merged",
                format!(
                    "UPDATE {metrics} SET batch_status = {committed}, batch_end_time = clock_timestamp(), \
                     records_inserted = {inserted}, records_updated = {updated}, records_deleted = {deleted}, \
                     state = {state}, total_records = {total} \
                     WHERE key = {key} AND batch_id = {batch}",
                    committed = BatchStatus::Committed.literal(),
                    inserted = Committed::inserted,
                    updated = Committed::updated,
                    deleted = Committed::deleted,
                    state = Committed::state,
                    total = Committed::total,
                    key = Committed::key,
                    batch = Committed::batch,
                ),
            ),
            restart: Query::new(
                "Send the batch back to started: its snapshot will be taken again",
                format!(
                    "UPDATE {metrics} SET batch_status = {started}, batch_end_time = NULL, records_inserted = NULL, \
                     records_updated = NULL, records_deleted = NULL, total_records = NULL, state = {state} \
                     WHERE key = {key} AND batch_id = {batch}",
                    started = BatchStatus::Started.literal(),
                    state = WithState::state,
                    key = WithState::key,
                    batch = WithState::batch,
                ),
            ),
            record_error: Query::new(
                "Record why the last run of an open batch failed",
                format!(
                    "UPDATE {metrics} SET state = state || jsonb_build_object('last_error', {message}::text) \
                     WHERE key = {key} AND batch_id = {batch}",
                    message = Failure::message,
                    key = Failure::key,
                    batch = Failure::batch,
                ),
            ),
            mark_reset: Query::new(
                "Mark the batches after the one rewound to as reset",
                format!(
                    "UPDATE {metrics} SET batch_status = {reset} WHERE key = {key} AND batch_id > {batch} \
                     AND batch_status <> {reset}",
                    reset = BatchStatus::Reset.literal(),
                    key = BatchOf::key,
                    batch = BatchOf::batch,
                ),
            ),
            batch_status: Query::new(
                "The status of one batch",
                format!(
                    "SELECT batch_status FROM {metrics} WHERE key = {key} AND batch_id = {batch}",
                    key = BatchOf::key,
                    batch = BatchOf::batch,
                ),
            ),
            lock_batch: Query::new(
                "The stream's latest batch, locked until the transaction ends",
                format!(
                    "SELECT {cols} FROM {metrics} WHERE key = {key} \
                     ORDER BY batch_id DESC LIMIT 1 FOR UPDATE",
                    cols = LatestBatch::select_list(),
                    key = OfStream::key,
                ),
            ),
            history: Query::new(
                "The most recent batches of each stream (or of one store's streams)",
                format!(
                    "SELECT {cols} FROM (\
                     SELECT *, row_number() OVER (PARTITION BY key ORDER BY batch_id DESC) AS n FROM {metrics} \
                     WHERE {store}::text IS NULL OR split_part(key, '#', 1) = {store}) AS b WHERE n <= {limit} ORDER BY key, batch_id",
                    cols = HistoryRow::select_list(),
                    store = HistoryOf::store,
                    limit = HistoryOf::limit,
                ),
            ),
            try_lock: Query::new(
                "Take the stream's runner lock",
                format!("SELECT pg_try_advisory_lock({})", Lock::id),
            ),
            unlock: Query::new(
                "Release the stream's runner lock",
                format!("SELECT pg_advisory_unlock({})", Lock::id),
            ),
            ddl_lock: Query::new(
                "Take the platform's DDL lock",
                format!("SELECT pg_advisory_xact_lock({})", Lock::id),
            ),
            probe_keys: Statement::new(
                "Probe the merge table by key for the few keys the batch changed, until the transaction ends",
                "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SET LOCAL enable_seqscan = off; SET LOCAL jit = off",
            ),
            probe_keys_in_session: Statement::new(
                "Probe the merge table by key for the few keys the batch changed",
                "SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_seqscan = off; SET jit = off",
            ),
            plan_joins: Statement::new(
                "Let the planner choose how to join again",
                "RESET enable_hashjoin; RESET enable_mergejoin; RESET enable_seqscan; RESET jit",
            ),
            counter_table,
            metrics_table,
        }
    }

    /// Every statement, in the order a reader follows a batch.
    pub fn statements(&self) -> [&Statement; 17] {
        [
            self.try_lock.statement(),
            self.ddl_lock.statement(),
            self.last_batch.statement(),
            self.next_batch.statement(),
            self.start.statement(),
            self.ingested.statement(),
            self.committed.statement(),
            self.restart.statement(),
            self.record_error.statement(),
            self.lock_batch.statement(),
            self.mark_reset.statement(),
            self.batch_status.statement(),
            self.history.statement(),
            self.unlock.statement(),
            &self.probe_keys,
            &self.probe_keys_in_session,
            &self.plan_joins,
        ]
    }
}
