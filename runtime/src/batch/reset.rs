//! `reset-batch`: send a stream's open batch back to `started`.

use super::{RunError, Target, merge::restart};
use crate::pg::Environment;
use datasurface_codegen::sql::BatchSql;
use datasurface_model::ValidEcosystem;

/// Why a batch was not reset.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("Batch is COMMITTED and cannot be reset")]
    Committed,
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
    if status == "committed" {
        return Err(ResetError::Committed);
    }
    restart(client, target, &sql, batch).await?;
    Ok(batch)
}
