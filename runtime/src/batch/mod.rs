//! The batch state machine: one `run` takes one stream's batch from start to commit.
//!
//! ```text
//!   (none / committed) ──start──▶ started ──ingest──▶ ingested ──merge──▶ committed
//!                                   ▲                    │
//!                                   └── mass delete, duplicate keys, reset-batch
//! ```
//!
//! Each arrow is one transaction of the merge database that changes the data and the
//! batch's status together, so a crash anywhere leaves the last committed state and the
//! next `run` carries on from it. One runner per stream is enforced by a session advisory
//! lock in the merge database, released by the server if the runner dies.

mod ingest;
mod merge;
mod reset;
mod rows;
mod status;

pub use reset::{ResetError, Rewind, RewindError, reset_batch, rewind};
pub use status::{BatchRow, history, write_table};

use crate::infra;
use crate::pg::{self, ConnectError, Environment};
use datasurface_codegen::sql::{BatchSql, DatasetSql};
use datasurface_model::{
    DatasetSchema, Datastore, StreamError, ValidEcosystem, YellowPlatform, YellowServiceProvider,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// What can stop a batch. Every message names the platform object, table or column at
/// fault, and none contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("stream {stream} of {platform} is being run by another process; nothing was done")]
    Busy { platform: String, stream: String },
    #[error("the source does not match the model; batch {batch} stays open and nothing was merged:\n{}", .problems.join("\n"))]
    Source { batch: i32, problems: Vec<String> },
    #[error(
        "the model changed since batch {batch} of {stream} started (dataset(s) {}); \
         run reset-batch to take the snapshot again with the new model",
        .datasets.join(", ")
    )]
    SchemaChanged {
        stream: String,
        batch: i32,
        datasets: Vec<String>,
    },
    #[error(
        "source table {dataset} has more than one row for key(s) {}; the merge needs one row per key. \
         Batch {batch} was sent back to started and its staging cleared",
        .keys.join(", ")
    )]
    DuplicateKeys {
        batch: i32,
        dataset: String,
        keys: Vec<String>,
    },
    #[error(
        "batch {batch} would delete {deleted} of the {current} current rows of {dataset} ({percent}%), more than the \
         {limit}% the mass-delete guard allows; nothing was merged. The batch was sent back to started and its \
         staging cleared: fix the source and run again, or allow it with --max-delete-percent"
    )]
    MassDelete {
        batch: i32,
        dataset: String,
        deleted: u64,
        current: u64,
        percent: u64,
        limit: u8,
    },
    #[error("the merge database's tables do not match the model, and infra will not change them safely:\n{}", .0.join("\n"))]
    Schema(Vec<String>),
    #[error(
        "the snapshot of {dataset} for batch {batch} was lost from staging (a server restart); it is taken again"
    )]
    StagingLost { batch: i32, dataset: String },
    #[error("snapshot of {dataset}: {detail}")]
    Snapshot { dataset: String, detail: String },
    #[error("{context}: {}", describe(.source))]
    Sql {
        context: String,
        source: tokio_postgres::Error,
    },
}

impl RunError {
    /// A database error while running `sql` (its comment line says what it was doing).
    pub(crate) fn sql(sql: &str, source: tokio_postgres::Error) -> Self {
        let context = sql
            .lines()
            .next()
            .map(|l| l.trim_start_matches("-- ").trim_end_matches('.'))
            .unwrap_or("SQL")
            .to_owned();
        RunError::Sql { context, source }
    }

    /// The process exit code: 75 (try again later) when the stream is busy, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Busy { .. } => BUSY_EXIT_CODE,
            _ => 1,
        }
    }
}

/// A database error as PostgreSQL words it: message, detail and hint.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_owned();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => e.to_string(),
    }
}

/// Exit code of a `run` that found its stream busy (EX_TEMPFAIL).
pub const BUSY_EXIT_CODE: u8 = 75;

/// Options of `run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides the store's mass-delete guard for this run.
    pub max_delete_percent: Option<u8>,
}

/// What one dataset's merge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    pub total: u64,
}

impl Metrics {
    fn add(&mut self, other: Metrics) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.deleted += other.deleted;
        self.total += other.total;
    }
}

/// A committed batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub batch: i32,
    pub metrics: Metrics,
    pub per_dataset: BTreeMap<String, Metrics>,
    pub elapsed: Duration,
    /// Time spent taking the snapshot (zero when the batch was already ingested).
    pub ingest: Duration,
    /// Time spent merging and committing.
    pub merge: Duration,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = &self.metrics;
        write!(
            f,
            "batch {} committed: {} inserted, {} updated, {} deleted, {} rows in {:.1} s (snapshot {:.1} s, merge {:.1} s)",
            self.batch,
            m.inserted,
            m.updated,
            m.deleted,
            m.total,
            self.elapsed.as_secs_f64(),
            self.ingest.as_secs_f64(),
            self.merge.as_secs_f64()
        )
    }
}

/// The platform, its provider, and the stream a command names, resolved in the model.
pub(crate) struct Target<'a> {
    pub(crate) platform: &'a YellowPlatform,
    pub(crate) provider: &'a YellowServiceProvider,
    pub(crate) store: &'a Datastore,
    pub(crate) key: String,
    pub(crate) datasets: Vec<&'a DatasetSchema>,
}

impl<'a> Target<'a> {
    pub(crate) fn resolve(
        eco: &'a ValidEcosystem,
        platform: &str,
        store: &str,
        dataset: Option<&str>,
    ) -> Result<Self, StreamError> {
        let stream = eco.find_stream(platform, store, dataset)?;
        let platform = eco
            .find_platform(platform)
            .expect("find_stream checked the platform");
        let provider = eco
            .find_provider(&platform.provider)
            .expect("validation checked the provider");
        Ok(Target {
            platform,
            provider,
            store: stream.store,
            key: stream.key,
            datasets: stream.datasets,
        })
    }

    pub(crate) fn pairs(&self) -> Vec<(&'a Datastore, &'a DatasetSchema)> {
        self.datasets.iter().map(|d| (self.store, *d)).collect()
    }

    pub(crate) fn sql(&self) -> Vec<DatasetSql> {
        self.datasets
            .iter()
            .map(|d| DatasetSql::new(self.platform, self.store, d))
            .collect()
    }

    pub(crate) async fn connect_merge(&self, env: &Environment) -> Result<Client, RunError> {
        Ok(pg::connect(
            &self.provider.merge_database,
            &self.provider.merge_credential,
            env,
        )
        .await?)
    }

    /// Takes the stream's runner lock for as long as `client`'s session lives.
    pub(crate) async fn lock(&self, client: &Client) -> Result<(), RunError> {
        let sql = "-- Take the stream's runner lock.\nSELECT pg_try_advisory_lock($1)";
        let row = client
            .query_one(sql, &[&lock_id(&self.platform.name, &self.key)])
            .await
            .map_err(|e| RunError::sql(sql, e))?;
        if row.get::<_, bool>(0) {
            Ok(())
        } else {
            Err(RunError::Busy {
                platform: self.platform.name.clone(),
                stream: self.key.clone(),
            })
        }
    }

    /// Releases the runner lock now, rather than when the server notices the session has
    /// ended, so the next runner can start the moment this one exits.
    pub(crate) async fn unlock(&self, client: &Client) {
        let sql = "-- Release the stream's runner lock.\nSELECT pg_advisory_unlock($1)";
        // Best effort: if it fails, the lock goes with the session.
        let _ = client
            .execute(sql, &[&lock_id(&self.platform.name, &self.key)])
            .await;
    }

    /// The schema fingerprints a batch records when it starts.
    pub(crate) fn fingerprints(&self) -> serde_json::Value {
        self.datasets
            .iter()
            .map(|d| (d.name.clone(), json!(d.fingerprint())))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

/// The advisory-lock id of a stream of a platform (`""` for the platform's own DDL lock).
pub(crate) fn lock_id(platform: &str, stream: &str) -> i64 {
    let digest = Sha256::digest(format!("datasurface:{platform}:{stream}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// Runs one whole batch of a stream: start (or resume the open one), ingest, merge, commit.
pub async fn run(
    eco: &ValidEcosystem,
    platform: &str,
    store: &str,
    dataset: Option<&str>,
    options: &RunOptions,
    env: &Environment,
) -> Result<Outcome, RunError> {
    let started = Instant::now();
    let target = Target::resolve(eco, platform, store, dataset)?;
    let mut merge_db = target.connect_merge(env).await?;
    target.lock(&merge_db).await?;
    let result = run_locked(&mut merge_db, &target, options, env, started).await;
    target.unlock(&merge_db).await;
    result
}

async fn run_locked(
    merge_db: &mut Client,
    target: &Target<'_>,
    options: &RunOptions,
    env: &Environment,
    started: Instant,
) -> Result<Outcome, RunError> {
    infra::ensure_tables(merge_db, target.platform, &target.pairs()).await?;

    let batch_sql = BatchSql::new(&target.platform.name);
    let (batch, status) = open_batch(merge_db, target, &batch_sql).await?;
    let ingesting = Instant::now();
    if status == "started" {
        ingest::ingest(merge_db, target, &batch_sql, batch, env).await?;
    }
    let ingest = ingesting.elapsed();
    let snapshot = target
        .store
        .sql_snapshot()
        .expect("validation checked the capture");
    let limit = options
        .max_delete_percent
        .unwrap_or(snapshot.max_delete_percent);
    let merging = Instant::now();
    let per_dataset = match merge::merge(merge_db, target, &batch_sql, batch, limit).await {
        // The batch is back to `started`: take the snapshot again, once.
        Err(RunError::StagingLost { .. }) => {
            ingest::ingest(merge_db, target, &batch_sql, batch, env).await?;
            merge::merge(merge_db, target, &batch_sql, batch, limit).await?
        }
        other => other?,
    };
    let merge = merging.elapsed();
    let mut metrics = Metrics::default();
    per_dataset.values().for_each(|m| metrics.add(*m));
    Ok(Outcome {
        batch,
        metrics,
        per_dataset,
        elapsed: started.elapsed(),
        ingest,
        merge,
    })
}

/// The stream's open batch (`started` or `ingested`), or a new one when the last is
/// committed. Refuses to resume a batch whose datasets changed in the model since it started.
async fn open_batch(
    client: &mut Client,
    target: &Target<'_>,
    sql: &BatchSql,
) -> Result<(i32, String), RunError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| RunError::sql("BEGIN", e))?;
    let last = tx
        .query_opt(&sql.last_batch, &[&target.key])
        .await
        .map_err(|e| RunError::sql(&sql.last_batch, e))?;
    if let Some(row) = last {
        let (batch, status, state): (i32, String, serde_json::Value) =
            (row.get(0), row.get(1), row.get(2));
        if status == "started" || status == "ingested" {
            let changed: Vec<String> = target
                .datasets
                .iter()
                .filter(|d| {
                    state["schema"][d.name.as_str()].as_str() != Some(d.fingerprint().as_str())
                })
                .map(|d| d.name.clone())
                .collect();
            if !changed.is_empty() {
                return Err(RunError::SchemaChanged {
                    stream: target.key.clone(),
                    batch,
                    datasets: changed,
                });
            }
            return Ok((batch, status));
        }
    }
    let row = tx
        .query_one(&sql.next_batch, &[&target.key])
        .await
        .map_err(|e| RunError::sql(&sql.next_batch, e))?;
    let batch: i32 = row.get(0);
    let state = json!({ "schema": target.fingerprints() });
    tx.execute(&sql.start, &[&target.key, &batch, &state])
        .await
        .map_err(|e| RunError::sql(&sql.start, e))?;
    tx.commit().await.map_err(|e| RunError::sql("COMMIT", e))?;
    Ok((batch, "started".to_owned()))
}
