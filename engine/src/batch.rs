//! One stream's batch as the engine works on it: the statements of its datasets, and the
//! schema fingerprints a batch records.

use super::progress::{Phase, Progress};
use super::state::{BatchState, Metrics, Timings};
use crate::pg::{DbError, Exec};
use datasurface_codegen::sql::batch::{Committed, Ingested};
use datasurface_codegen::sql::{BatchSql, DatasetSql};
use datasurface_model::{DatasetSchema, Stream};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A stream's batch: its statements, and its key as the batch tables write it.
pub(super) struct Batch<'s> {
    /// Told how far the batch has got.
    pub(super) progress: Option<Arc<dyn Progress>>,
    pub(super) stream: &'s Stream<'s>,
    pub(super) sql: BatchSql,
    pub(super) datasets: Vec<DatasetSql>,
    pub(super) key: String,
    /// The ecosystem's name (it names the stream's replication slot).
    pub(super) ecosystem: String,
    /// The connection to the source of a logically replicated store, once the batch
    /// opened it: the slot is moved on over it after the commit.
    pub(super) source: std::sync::OnceLock<tokio_postgres::Client>,
    /// How long this run's phases of the batch took.
    clock: Clock,
}

/// When this run began working on a batch, and when it recorded the batch's read: what
/// the phases' [`Timings`] are measured from.
struct Clock {
    begun: Instant,
    read: Mutex<Option<Instant>>,
}

impl Clock {
    /// The read is done now: milliseconds since the run began.
    fn read_done(&self) -> u64 {
        let now = Instant::now();
        *self.read.lock().unwrap_or_else(|e| e.into_inner()) = Some(now);
        millis(now - self.begun)
    }

    /// Milliseconds since the read was done, or since the run began when it read nothing.
    fn since_read(&self) -> u64 {
        let read = *self.read.lock().unwrap_or_else(|e| e.into_inner());
        millis(read.unwrap_or(self.begun).elapsed())
    }
}

/// Whether a batch that changed `changed` keys of a merge table of `rows` rows joins them
/// by probing the table's key index ([`BatchSql::probe_keys`]) rather than as the planner
/// likes: below one key in fifty. The planner would read the whole table from a few
/// percent on (a hash join), and that read alone costs more than the probes, whose pages
/// are mostly in memory: at 1,000,000 rows and 7,500 changed keys, 0.08 s against 0.56 s
/// for closing a forensic table's versions.
///
/// [`BatchSql::probe_keys`]: datasurface_codegen::sql::BatchSql::probe_keys
pub(super) fn few_keys(changed: u64, rows: u64) -> bool {
    changed.saturating_mul(50) < rows
}

impl<'s> Batch<'s> {
    pub(super) fn new(ecosystem: &str, stream: &'s Stream<'s>) -> Self {
        Batch {
            ecosystem: ecosystem.to_owned(),
            progress: None,
            sql: BatchSql::new(&stream.platform.model.name),
            datasets: stream
                .datasets
                .iter()
                .map(|d| DatasetSql::new(stream.platform.model, stream.store, d))
                .collect(),
            key: stream.key.to_string(),
            stream,
            source: std::sync::OnceLock::new(),
            clock: Clock {
                begun: Instant::now(),
                read: Mutex::new(None),
            },
        }
    }

    /// The stream's datasets with their statements, in the stream's order.
    pub(super) fn each(&self) -> impl Iterator<Item = (&'s DatasetSchema, &DatasetSql)> {
        self.stream.datasets.iter().copied().zip(&self.datasets)
    }

    /// The schema fingerprints of the stream's datasets as the model has them now.
    pub(super) fn fingerprints(&self) -> BTreeMap<String, String> {
        self.stream
            .datasets
            .iter()
            .map(|d| (d.name.clone(), d.fingerprint()))
            .collect()
    }

    /// The state of a batch (re)started under the model as it is now.
    pub(super) fn started_state(&self) -> BatchState {
        BatchState::started(self.fingerprints())
    }

    /// Records batch `id` as `committed` with `total`, the metrics summed over its datasets,
    /// and `state`, inside the transaction `tx` that merged it.
    pub(super) async fn commit(
        &self,
        tx: &impl Exec,
        id: i32,
        total: &Metrics,
        state: &BatchState,
    ) -> Result<(), DbError> {
        let mut state = state.clone();
        state.timings.merge_ms = Some(self.clock.since_read());
        let state = state.to_json();
        let committed = Committed {
            key: &self.key,
            batch: id,
            inserted: as_i64(total.inserted),
            updated: as_i64(total.updated),
            deleted: as_i64(total.deleted),
            state: &state,
            total: as_i64(total.total),
        };
        tx.exec(&self.sql.committed, &committed).await.map(drop)
    }

    /// Records batch `id` as `ingested`: its changes in staging, `total` rows in its
    /// snapshot.
    pub(super) async fn ingested(
        &self,
        tx: &impl Exec,
        id: i32,
        total: u64,
        state: &BatchState,
    ) -> Result<(), DbError> {
        let mut state = state.clone();
        state.timings = Timings {
            read_ms: Some(self.clock.read_done()),
            merge_ms: None,
        };
        let state = state.to_json();
        let ingested = Ingested {
            key: &self.key,
            batch: id,
            state: &state,
            total: as_i64(total),
        };
        tx.exec(&self.sql.ingested, &ingested).await.map(drop)
    }

    /// Tells the watcher, if any, how far `dataset`'s `phase` has got.
    pub(super) fn rows(&self, dataset: &str, phase: Phase, rows: u64) {
        if let Some(p) = &self.progress {
            p.rows(dataset, phase, rows);
        }
    }

    /// Tells the watcher, if any, that `dataset`'s `phase` is done.
    pub(super) fn done(&self, dataset: &str, phase: Phase, rows: u64) {
        if let Some(p) = &self.progress {
            p.done(dataset, phase, rows);
        }
    }
}

/// A count as the metrics table's `bigint` holds it.
fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
