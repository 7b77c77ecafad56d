//! `reset-batch`: send a stream's open batch back to `started`.

use super::{RunError, Target, merge::restart};
use crate::pg::Environment;
use datasurface_codegen::sql::BatchSql;
use datasurface_model::{PlatformMode, ValidEcosystem};
use std::collections::BTreeMap;

/// Why a batch was not reset.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("Batch is COMMITTED and cannot be reset")]
    Committed,
    #[error("Batch was rewound (RESET) and cannot be reset; the next run starts a new batch")]
    Rewound,
    #[error("stream {0} has no batch to reset")]
    NoBatch(String),
    #[error(transparent)]
    Run(#[from] RunError),
}

impl From<datasurface_model::StreamError> for ResetError {
    fn from(e: datasurface_model::StreamError) -> Self {
        ResetError::Run(e.into())
    }
}

/// Resets the open batch of a stream: clears its staging, sets it back to `started` and
/// refreshes its schema fingerprints. Returns the batch id.
pub async fn reset_batch(
    eco: &ValidEcosystem,
    platform: &str,
    store: &str,
    dataset: Option<&str>,
    env: &Environment,
) -> Result<i32, ResetError> {
    let target = Target::resolve(eco, platform, store, dataset)?;
    let mut client = target.connect_merge(env).await?;
    // Never reset under a running batch.
    target.lock(&client).await?;
    let result = reset_locked(&mut client, &target).await;
    target.unlock(&client).await;
    result
}

async fn reset_locked(
    client: &mut tokio_postgres::Client,
    target: &Target<'_>,
) -> Result<i32, ResetError> {
    crate::infra::ensure_tables(client, target.platform, &target.pairs()).await?;
    let sql = BatchSql::new(&target.platform.name);
    let row = client
        .query_opt(&sql.last_batch, &[&target.key])
        .await
        .map_err(|e| RunError::sql(&sql.last_batch, e))?
        .ok_or_else(|| ResetError::NoBatch(target.key.clone()))?;
    let (batch, status): (i32, String) = (row.get(0), row.get(1));
    match status.as_str() {
        "committed" => return Err(ResetError::Committed),
        "reset" => return Err(ResetError::Rewound),
        _ => {}
    }
    restart(client, target, &sql, batch).await?;
    Ok(batch)
}

/// What a rewind changed, or would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewind {
    pub to_batch: i32,
    /// Per dataset: (versions removed, versions made current again).
    pub per_dataset: BTreeMap<String, (u64, u64)>,
    /// How many later batches were marked `reset`.
    pub batches_reset: u64,
    /// False for a dry run: everything was rolled back.
    pub applied: bool,
}

/// Why a rewind was refused.
#[derive(Debug, thiserror::Error)]
pub enum RewindError {
    #[error(
        "platform {0} is live and keeps no history to rewind; only forensic platforms can --to-batch"
    )]
    NotForensic(String),
    #[error("stream {stream} has no committed batch {batch} to rewind to (it is {status})")]
    NotCommitted {
        stream: String,
        batch: i32,
        status: String,
    },
    #[error(transparent)]
    Run(#[from] RunError),
}

impl From<datasurface_model::StreamError> for RewindError {
    fn from(e: datasurface_model::StreamError) -> Self {
        RewindError::Run(e.into())
    }
}

/// Rewinds a forensic stream's merge tables to exactly their state after batch `to_batch`
/// (0: empty): versions created later are removed, versions closed later are current
/// again, and the later batches are marked `reset`. The next `run` starts a new batch.
/// With `dry_run`, reports what would change and changes nothing.
pub async fn rewind(
    eco: &ValidEcosystem,
    platform: &str,
    store: &str,
    dataset: Option<&str>,
    to_batch: i32,
    dry_run: bool,
    env: &Environment,
) -> Result<Rewind, RewindError> {
    let target = Target::resolve(eco, platform, store, dataset)?;
    if target.platform.mode != PlatformMode::Forensic {
        return Err(RewindError::NotForensic(target.platform.name.clone()));
    }
    let mut client = target.connect_merge(env).await?;
    target.lock(&client).await?;
    let result = rewind_locked(&mut client, &target, to_batch, dry_run).await;
    target.unlock(&client).await;
    result
}

async fn rewind_locked(
    client: &mut tokio_postgres::Client,
    target: &Target<'_>,
    to_batch: i32,
    dry_run: bool,
) -> Result<Rewind, RewindError> {
    crate::infra::ensure_tables(client, target.platform, &target.pairs()).await?;
    let sql = BatchSql::new(&target.platform.name);
    let tx = client
        .transaction()
        .await
        .map_err(|e| RunError::sql("BEGIN", e))?;
    if to_batch != 0 {
        let status: Option<String> = tx
            .query_opt(&sql.batch_status, &[&target.key, &to_batch])
            .await
            .map_err(|e| RunError::sql(&sql.batch_status, e))?
            .map(|r| r.get(0));
        if status.as_deref() != Some("committed") {
            return Err(RewindError::NotCommitted {
                stream: target.key.clone(),
                batch: to_batch,
                status: status.unwrap_or_else(|| "missing".into()),
            });
        }
    }
    let mut per_dataset = BTreeMap::new();
    for (dataset, dataset_sql) in target.datasets.iter().zip(target.sql()) {
        let [remove, reopen] = dataset_sql.rewind.expect("forensic platforms rewind");
        let removed = tx
            .execute(&remove, &[&to_batch])
            .await
            .map_err(|e| RunError::sql(&remove, e))?;
        let reopened = tx
            .execute(&reopen, &[&to_batch])
            .await
            .map_err(|e| RunError::sql(&reopen, e))?;
        tx.batch_execute(&dataset_sql.clear_staging)
            .await
            .map_err(|e| RunError::sql(&dataset_sql.clear_staging, e))?;
        per_dataset.insert(dataset.name.clone(), (removed, reopened));
    }
    let batches_reset = tx
        .execute(&sql.mark_reset, &[&target.key, &to_batch])
        .await
        .map_err(|e| RunError::sql(&sql.mark_reset, e))?;
    if dry_run {
        tx.rollback()
            .await
            .map_err(|e| RunError::sql("ROLLBACK", e))?;
    } else {
        tx.commit().await.map_err(|e| RunError::sql("COMMIT", e))?;
    }
    Ok(Rewind {
        to_batch,
        per_dataset,
        batches_reset,
        applied: !dry_run,
    })
}
