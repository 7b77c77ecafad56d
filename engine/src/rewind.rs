//! `reset-batch --to-batch N`: rewind a forensic stream's merge tables to exactly their
//! state after batch N.

use super::batch::Batch;
use super::error::Error;
use super::infra::{self, table_exists};
use super::session::Engine;
use super::state::BatchStatus;
use crate::pg::{self, Exec};
use datasurface_codegen::sql::ThisBatch;
use datasurface_codegen::sql::batch::BatchOf;
use datasurface_codegen::sql::typed::Single;
use datasurface_model::{PlatformMode, Stream};
use std::collections::BTreeMap;

/// What a rewind changed, or would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewind {
    pub to_batch: i32,
    /// Per dataset: (versions removed, versions made current again).
    pub per_dataset: BTreeMap<String, (u64, u64)>,
    /// How many later batches were marked `reset` (batches already reset not counted).
    pub batches_reset: u64,
    /// False for a dry run: everything was rolled back.
    pub applied: bool,
}

impl Engine<'_> {
    /// Rewinds a forensic stream's merge tables to exactly their state after batch
    /// `to_batch` (0: empty): versions created later are removed, versions closed later are
    /// current again, and the later batches are marked `reset`. The next `run` starts a new
    /// batch. With `dry_run`, reports what would change and changes nothing — not even a
    /// missing table is created.
    pub async fn rewind(
        &self,
        stream: &Stream<'_>,
        to_batch: i32,
        dry_run: bool,
    ) -> Result<Rewind, Error> {
        if stream.platform.model.mode != PlatformMode::Forensic {
            return Err(Error::NotForensic(stream.platform.model.name.clone()));
        }
        let batch = Batch::new(&self.eco.model().name, stream);
        let sql = &batch.sql;
        self.locked(stream, async |db| {
            if !dry_run {
                infra::ensure_tables(db, stream.platform, &stream.store, &stream.datasets).await?;
            }
            let tx = pg::begin(db).await?;
            let has_batches = table_exists(&tx, &sql.metrics_table).await?;
            let of = BatchOf {
                key: &batch.key,
                batch: to_batch,
            };
            let to = ThisBatch { batch: to_batch };
            if to_batch != 0 {
                let status: Option<String> = match has_batches {
                    true => tx
                        .opt_row(&sql.batch_status, &of)
                        .await?
                        .map(|Single(status)| status),
                    false => None,
                };
                if status.as_deref().map(BatchStatus::parse) != Some(Ok(BatchStatus::Committed)) {
                    return Err(Error::NotCommitted {
                        stream: stream.key.clone(),
                        batch: to_batch,
                        status: status.unwrap_or_else(|| "missing".into()),
                    });
                }
            }
            let mut per_dataset = BTreeMap::new();
            for (dataset, dsql) in batch.each() {
                let Some([remove, reopen]) = &dsql.rewind else {
                    continue;
                };
                let changed = if table_exists(&tx, &dsql.merge_table).await? {
                    let removed = tx.exec(remove, &to).await?;
                    let reopened = tx.exec(reopen, &to).await?;
                    tx.run(&dsql.clear_staging).await?;
                    (removed, reopened)
                } else {
                    (0, 0)
                };
                per_dataset.insert(dataset.name.clone(), changed);
            }
            let batches_reset = match has_batches {
                true => tx.exec(&sql.mark_reset, &of).await?,
                false => 0,
            };
            if dry_run {
                pg::rollback(tx).await?;
            } else {
                pg::commit(tx).await?;
            }
            Ok(Rewind {
                to_batch,
                per_dataset,
                batches_reset,
                applied: !dry_run,
            })
        })
        .await
    }
}
