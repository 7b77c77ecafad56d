//! Merging staging into the merge tables, and the metrics that say what it did.

use super::{Metrics, RunError, Target};
use datasurface_codegen::sql::{BatchSql, Counts};
use serde_json::json;
use std::collections::BTreeMap;
use tokio_postgres::Client;

/// Merges batch `batch` (which must be `ingested`) and commits it with its metrics, all in
/// one transaction. Refuses, and sends the batch back to `started`, when the snapshot has
/// duplicate keys or would delete more than `limit` percent of a dataset's current rows.
pub(super) async fn merge(
    client: &mut Client,
    target: &Target<'_>,
    sql: &BatchSql,
    batch: i32,
    limit: u8,
) -> Result<BTreeMap<String, Metrics>, RunError> {
    let statements = target.sql();
    let tx = client
        .transaction()
        .await
        .map_err(|e| RunError::sql("BEGIN", e))?;
    let row = tx
        .query_one(&sql.lock_batch, &[&target.key])
        .await
        .map_err(|e| RunError::sql(&sql.lock_batch, e))?;
    let state: serde_json::Value = row.get(2);

    let mut per_dataset = BTreeMap::new();
    let mut refused = None;
    for (dataset, dataset_sql) in target.datasets.iter().zip(&statements) {
        let ingested = &state["datasets"][dataset.name.as_str()];
        // Staging is unlogged: a server crash since the snapshot leaves it empty.
        let staged: i64 = tx
            .query_one(&dataset_sql.staging_rows, &[])
            .await
            .map_err(|e| RunError::sql(&dataset_sql.staging_rows, e))?
            .get(0);
        if ingested["total"].as_i64() != Some(staged) {
            refused = Some(RunError::StagingLost {
                batch,
                dataset: dataset.name.clone(),
            });
            break;
        }
        // A unique index on the source's key columns already rules duplicates out.
        let duplicates: Vec<String> = if ingested["unique_key"] == true {
            Vec::new()
        } else {
            tx.query(&dataset_sql.duplicate_keys, &[])
                .await
                .map_err(|e| RunError::sql(&dataset_sql.duplicate_keys, e))?
                .iter()
                .map(|r| r.get(0))
                .collect()
        };
        if !duplicates.is_empty() {
            refused = Some(RunError::DuplicateKeys {
                batch,
                dataset: dataset.name.clone(),
                keys: duplicates,
            });
            break;
        }
        let has_current: bool = tx
            .query_one(&dataset_sql.has_current, &[])
            .await
            .map_err(|e| RunError::sql(&dataset_sql.has_current, e))?
            .get(0);
        let mut m = Metrics {
            total: ingested["total"].as_u64().unwrap_or(0),
            ..Metrics::default()
        };
        let mut new_versions = 0;
        let steps = if has_current {
            &dataset_sql.merge
        } else {
            &dataset_sql.first_load
        };
        for step in steps {
            let params: &[&(dyn tokio_postgres::types::ToSql + Sync)] =
                if step.takes_batch { &[&batch] } else { &[] };
            let failed = |e| RunError::sql(&step.sql, e);
            if step.counts == Counts::UpdatedAndDeleted {
                let row = tx.query_one(&step.sql, params).await.map_err(failed)?;
                let (updated, deleted): (i64, i64) = (row.get(0), row.get(1));
                m.updated = u64::try_from(updated).unwrap_or(0);
                m.deleted = u64::try_from(deleted).unwrap_or(0);
                continue;
            }
            let n = tx.execute(&step.sql, params).await.map_err(failed)?;
            match step.counts {
                Counts::Inserted => m.inserted = n,
                Counts::Updated => m.updated = n,
                Counts::Deleted => m.deleted = n,
                Counts::InsertedAndUpdated => new_versions = n,
                Counts::UpdatedAndDeleted | Counts::Nothing => {}
            }
        }
        if new_versions > 0 {
            m.inserted = new_versions - m.updated;
        }
        // The keys current before the merge: those still in the snapshot, plus those gone.
        let current = m.total - m.inserted + m.deleted;
        if current > 0 && m.deleted * 100 > u64::from(limit) * current {
            refused = Some(RunError::MassDelete {
                batch,
                dataset: dataset.name.clone(),
                deleted: m.deleted,
                current,
                percent: m.deleted * 100 / current,
                limit,
            });
            break;
        }
        tx.batch_execute(&dataset_sql.clear_staging)
            .await
            .map_err(|e| RunError::sql(&dataset_sql.clear_staging, e))?;
        per_dataset.insert(dataset.name.clone(), m);
    }
    if let Some(error) = refused {
        tx.rollback()
            .await
            .map_err(|e| RunError::sql("ROLLBACK", e))?;
        restart(client, target, sql, batch).await?;
        return Err(error);
    }

    let mut total = Metrics::default();
    per_dataset.values().for_each(|m| total.add(*m));
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let state = json!({ "schema": state["schema"], "datasets": per_dataset });
    tx.execute(
        &sql.committed,
        &[
            &target.key,
            &batch,
            &as_i64(total.inserted),
            &as_i64(total.updated),
            &as_i64(total.deleted),
            &state,
        ],
    )
    .await
    .map_err(|e| RunError::sql(&sql.committed, e))?;
    tx.commit().await.map_err(|e| RunError::sql("COMMIT", e))?;
    Ok(per_dataset)
}

/// Sends batch `batch` back to `started` with its staging emptied and its schema
/// fingerprints taken from the model as it is now.
pub(super) async fn restart(
    client: &mut Client,
    target: &Target<'_>,
    sql: &BatchSql,
    batch: i32,
) -> Result<(), RunError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| RunError::sql("BEGIN", e))?;
    for dataset_sql in target.sql() {
        tx.batch_execute(&dataset_sql.clear_staging)
            .await
            .map_err(|e| RunError::sql(&dataset_sql.clear_staging, e))?;
    }
    let state = json!({ "schema": target.fingerprints() });
    tx.execute(&sql.restart, &[&target.key, &batch, &state])
        .await
        .map_err(|e| RunError::sql(&sql.restart, e))?;
    tx.commit().await.map_err(|e| RunError::sql("COMMIT", e))
}
