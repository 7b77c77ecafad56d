//! Merging staging into the merge tables, and the metrics that say what it did.

use super::batch::{Batch, few_keys};
use super::error::Error;
use super::progress::Phase;
use super::reset::restart;
use super::state::{BatchState, DatasetState, Metrics};
use crate::pg::{self, DbError, Exec};
use datasurface_codegen::sql::batch::OfStream;
use datasurface_codegen::sql::typed::Single;
use datasurface_codegen::sql::{Counts, DatasetSql, MergeStep, ThisBatch};
use datasurface_model::DatasetSchema;
use std::collections::BTreeMap;
use tokio_postgres::{Client, Transaction};
use tracing::Instrument;

/// Merges the changes batch `id` (which must be `ingested`) staged, and commits it with its
/// metrics, all in one transaction. Refuses, and sends the batch back to `started`, when the
/// changes would delete more than `limit` percent of a dataset's current rows, or fail a
/// statement by their data.
pub(super) async fn merge(
    client: &mut Client,
    batch: &Batch<'_>,
    id: i32,
    limit: u8,
) -> Result<BTreeMap<String, Metrics>, Error> {
    let tx = pg::begin(client).await?;
    let row = tx
        .row(&batch.sql.lock_batch, &OfStream { key: &batch.key })
        .await?;
    // A state this runtime cannot read stages nothing it knows: the snapshot is taken again.
    let state = BatchState::from_json(row.state).unwrap_or_default();

    let mut per_dataset = BTreeMap::new();
    let mut refused = None;
    for (dataset, sql) in batch.each() {
        let started = std::time::Instant::now();
        let merged = merge_dataset(&tx, batch, dataset, sql, &state, id, limit)
            .instrument(tracing::info_span!("dataset", dataset = %dataset.name, phase = "merge"))
            .await;
        match merged {
            Ok(m) => {
                batch.done(
                    &dataset.name,
                    Phase::Merge,
                    m.inserted + m.updated + m.deleted,
                );
                tracing::info!(
                    dataset = %dataset.name,
                    inserted = m.inserted,
                    updated = m.updated,
                    deleted = m.deleted,
                    seconds = started.elapsed().as_secs_f64(),
                    "merged {}: {} inserted, {} updated, {} deleted",
                    dataset.name,
                    m.inserted,
                    m.updated,
                    m.deleted
                );
                per_dataset.insert(dataset.name.clone(), m);
            }
            Err(Refused::Because(error)) => {
                refused = Some(error);
                break;
            }
            Err(Refused::Failed(error)) if error.is_data_error() => {
                refused = Some(Error::MergeData {
                    batch: id,
                    dataset: dataset.name.clone(),
                    source: error,
                });
                break;
            }
            Err(Refused::Failed(error)) => {
                return Err(Error::Merge {
                    batch: id,
                    platform: batch.stream.platform.model.name.clone(),
                    stream: batch.stream.key.clone(),
                    source: error,
                });
            }
        }
    }
    if let Some(error) = refused {
        pg::rollback(tx).await?;
        restart(client, batch, id).await?;
        return Err(error);
    }

    let total = Metrics::sum(per_dataset.values());
    let committed = BatchState {
        schema: state.schema,
        datasets: per_dataset
            .iter()
            .map(|(name, m)| (name.clone(), DatasetState::Merged(*m)))
            .collect(),
        last_error: None,
        capture: state.capture,
        timings: state.timings,
    };
    batch.commit(&tx, id, &total, &committed).await?;
    pg::commit(tx).await?;
    Ok(per_dataset)
}

/// Why one dataset was not merged.
enum Refused {
    /// The batch must go back to `started`.
    Because(Error),
    /// A statement failed.
    Failed(DbError),
}

impl From<DbError> for Refused {
    fn from(e: DbError) -> Self {
        Refused::Failed(e)
    }
}

/// Merges one dataset inside the batch's transaction; its metrics.
async fn merge_dataset(
    tx: &Transaction<'_>,
    batch: &Batch<'_>,
    dataset: &DatasetSchema,
    sql: &DatasetSql,
    state: &BatchState,
    id: i32,
    limit: u8,
) -> Result<Metrics, Refused> {
    // Staging is unlogged: a server crash since the snapshot leaves it empty.
    let Single(in_staging) = tx.row(&sql.staging_rows, &()).await?;
    let snapshot = state
        .staged(&dataset.name)
        .filter(|s| u64::try_from(in_staging).is_ok_and(|n| n == s.staged));
    let Some(staged) = snapshot else {
        return Err(Refused::Because(Error::StagingLost {
            batch: id,
            dataset: dataset.name.clone(),
        }));
    };
    let mut m = Metrics {
        total: staged.total,
        ..Metrics::default()
    };
    // Nothing staged: every statement would find nothing to do.
    if staged.staged == 0 {
        return Ok(m);
    }
    let mut new_versions = 0;
    let this = ThisBatch { batch: id };
    let before = (staged.total + staged.deleted).saturating_sub(staged.inserted);
    tx.run(match few_keys(staged.staged, before) {
        true => &batch.sql.probe_keys,
        false => &batch.sql.plan_joins,
    })
    .await?;
    for step in &sql.merge {
        let (n, counts) = match step {
            MergeStep::Close(query) => {
                let closed = tx.row(query, &this).await?;
                m.updated = u64::try_from(closed.updated).unwrap_or(0);
                m.deleted = u64::try_from(closed.deleted).unwrap_or(0);
                continue;
            }
            MergeStep::Plain { query, counts } => (tx.exec(query, &()).await?, counts),
            MergeStep::Stamped { query, counts } => (tx.exec(query, &this).await?, counts),
        };
        batch.rows(
            &dataset.name,
            Phase::Merge,
            m.inserted + m.updated + m.deleted + n,
        );
        match counts {
            Counts::Inserted => m.inserted = n,
            Counts::Updated => m.updated = n,
            Counts::Deleted => m.deleted = n,
            Counts::InsertedAndUpdated => new_versions = n,
        }
    }
    if new_versions > 0 {
        m.inserted = new_versions - m.updated;
    }
    // The statements count what they did; the snapshot counted what it staged. They differ
    // only if the merge table changed under the open batch.
    if (m.inserted, m.updated, m.deleted) != (staged.inserted, staged.updated, staged.deleted) {
        return Err(Refused::Because(Error::Drifted {
            batch: id,
            dataset: dataset.name.clone(),
        }));
    }
    // The keys current before the merge: those still in the snapshot, plus those gone.
    let current = m.total - m.inserted + m.deleted;
    if current > 0 && m.deleted * 100 > u64::from(limit) * current {
        return Err(Refused::Because(Error::MassDelete {
            batch: id,
            dataset: dataset.name.clone(),
            deleted: m.deleted,
            current,
            limit,
        }));
    }
    tx.run(&sql.clear_staging).await?;
    Ok(m)
}
