//! `run`: one whole batch of a stream — start (or resume the open batch), ingest, merge,
//! commit.

use super::batch::Batch;
use super::error::Error;
use super::ingest::Ingested;
use super::progress::Progress;
use super::session::Engine;
use super::source::SlotLag;
use super::state::{BatchState, BatchStatus, Metrics};
use super::{infra, merge, openlineage, replay};
use crate::pg::{self, Exec};
use datasurface_codegen::sql::batch::{Failure, OfStream, WithState};
use datasurface_codegen::sql::typed::Single;
use datasurface_model::Stream;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::Client;
use tracing::Instrument;

/// Options of `run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides the store's mass-delete guard for this run.
    pub max_delete_percent: Option<u8>,
    /// Told how far the batch has got.
    pub progress: Option<Arc<dyn Progress>>,
}

/// A committed batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub batch: i32,
    pub metrics: Metrics,
    pub per_dataset: BTreeMap<String, Metrics>,
    /// From the batch's start (or resumption) to its commit: the span `status` shows.
    pub elapsed: Duration,
    /// Time spent taking the snapshot (zero when the batch was already ingested).
    pub ingest: Duration,
    /// Time spent merging and committing.
    pub merge: Duration,
    /// Each dataset's schema fingerprint: the schema the batch was taken with.
    pub schema: BTreeMap<String, String>,
    /// For a logically replicated stream, its slot after the batch (read after the slot
    /// was moved on): how far behind it is.
    pub slot: Option<SlotLag>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = &self.metrics;
        write!(
            f,
            "batch {} committed: {} inserted, {} updated, {} deleted, {} rows in {} s (snapshot {} s, merge {} s)",
            self.batch,
            m.inserted,
            m.updated,
            m.deleted,
            m.total,
            Seconds(self.elapsed),
            Seconds(self.ingest),
            Seconds(self.merge)
        )
    }
}

/// A duration as a person reads it: seconds to a tenth. A batch's time reads the same in
/// its outcome and in `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub Duration);

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1}", self.0.as_secs_f64())
    }
}

impl Engine<'_> {
    /// Runs one whole batch of `stream`: start (or resume the open one), ingest, merge,
    /// commit.
    pub async fn run(&self, stream: &Stream<'_>, options: &RunOptions) -> Result<Outcome, Error> {
        let mut batch = Batch::new(&self.eco.model().name, stream);
        batch.progress = options.progress.clone();
        let span = tracing::info_span!(
            "batch",
            platform = %stream.platform.model.name,
            stream = %stream.key,
            batch = tracing::field::Empty
        );
        self.locked(stream, async |db| {
            infra::ensure_tables(db, stream.platform, &stream.store, &stream.datasets).await?;
            let (id, status) = open_batch(db, &batch).await?;
            // The batch's time, as `status` shows it, starts with its row in the metrics table.
            let started = Instant::now();
            // The events below are inside the batch's span, which names the batch.
            tracing::Span::current().record("batch", id);
            match status {
                BatchStatus::Started => tracing::info!("started"),
                status => tracing::info!("resumed ({status})"),
            }
            let lineage = openlineage::Run::new(self.env, &self.eco.model().name, stream, id);
            if let Some(lineage) = &lineage {
                lineage.start().await;
            }
            let mut result = self.take(db, &batch, id, status, options, started).await;
            if let Ok(outcome) = &mut result {
                outcome.slot = replay::settle(db, &batch, self.env).await;
            }
            match &result {
                Ok(outcome) => {
                    tracing::info!(
                        inserted = outcome.metrics.inserted,
                        updated = outcome.metrics.updated,
                        deleted = outcome.metrics.deleted,
                        rows = outcome.metrics.total,
                        seconds = outcome.elapsed.as_secs_f64(),
                        "committed"
                    );
                    if let Some(lineage) = &lineage {
                        lineage.complete(&outcome.per_dataset).await;
                    }
                }
                Err(e) => {
                    // Best effort: the batch stays where it is either way.
                    let message = e.to_string();
                    let failure = Failure {
                        key: &batch.key,
                        batch: id,
                        message: &message,
                    };
                    let _ = db.exec(&batch.sql.record_error, &failure).await;
                    if let Some(lineage) = &lineage {
                        lineage.fail(&message).await;
                    }
                }
            }
            result
        })
        .instrument(span)
        .await
    }

    /// Takes batch `id` from `status` to committed.
    async fn take(
        &self,
        db: &mut Client,
        batch: &Batch<'_>,
        id: i32,
        status: BatchStatus,
        options: &RunOptions,
        started: Instant,
    ) -> Result<Outcome, Error> {
        let ingesting = Instant::now();
        if status == BatchStatus::Started
            && let Ingested::Committed(per_dataset) =
                replay::ingest(db, batch, id, self.env).await?
        {
            return Ok(Outcome {
                batch: id,
                metrics: Metrics::sum(per_dataset.values()),
                per_dataset,
                elapsed: started.elapsed(),
                ingest: ingesting.elapsed(),
                merge: Duration::ZERO,
                schema: batch.fingerprints(),
                slot: None,
            });
        }
        let ingest = ingesting.elapsed();
        let limit = options
            .max_delete_percent
            .unwrap_or(batch.stream.store.capture.max_delete_percent);
        let merging = Instant::now();
        let per_dataset = match merge::merge(db, batch, id, limit).await {
            // The batch is back to `started`: take the snapshot again, once.
            Err(Error::StagingLost { .. }) => {
                match replay::ingest(db, batch, id, self.env).await? {
                    Ingested::Committed(per_dataset) => per_dataset,
                    Ingested::Staged => merge::merge(db, batch, id, limit).await?,
                }
            }
            other => other?,
        };
        Ok(Outcome {
            batch: id,
            metrics: Metrics::sum(per_dataset.values()),
            per_dataset,
            elapsed: started.elapsed(),
            ingest,
            merge: merging.elapsed(),
            schema: batch.fingerprints(),
            slot: None,
        })
    }
}

/// The stream's open batch (`started` or `ingested`), or a new one when there is none.
/// Refuses to resume a batch whose datasets changed in the model since it started.
async fn open_batch(client: &mut Client, batch: &Batch<'_>) -> Result<(i32, BatchStatus), Error> {
    let tx = pg::begin(client).await?;
    let sql = &batch.sql;
    let stream = OfStream { key: &batch.key };
    if let Some(row) = tx.opt_row(&sql.last_batch, &stream).await? {
        let id = row.batch_id;
        let unreadable = |what: String| Error::Unreadable {
            stream: batch.stream.key.clone(),
            batch: id,
            what,
        };
        let status =
            BatchStatus::parse(&row.batch_status).map_err(|e| unreadable(e.to_string()))?;
        if status.is_open() {
            let state = BatchState::from_json(row.state)
                .map_err(|e| unreadable(format!("its state cannot be read ({e})")))?;
            let changed: Vec<String> = batch
                .stream
                .datasets
                .iter()
                .filter(|d| state.schema.get(&d.name) != Some(&d.fingerprint()))
                .map(|d| d.name.clone())
                .collect();
            if !changed.is_empty() {
                return Err(Error::SchemaChanged {
                    stream: batch.stream.key.clone(),
                    batch: id,
                    datasets: changed,
                });
            }
            return Ok((id, status));
        }
    }
    let Single(id) = tx.row(&sql.next_batch, &stream).await?;
    let state = batch.started_state().to_json();
    let started = WithState {
        key: &batch.key,
        batch: id,
        state: &state,
    };
    tx.exec(&sql.start, &started).await?;
    pg::commit(tx).await?;
    Ok((id, BatchStatus::Started))
}
