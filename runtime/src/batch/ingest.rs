//! Ingestion: check the source tables against the model, then stream one consistent
//! snapshot of them into staging with COPY, in one merge-database transaction.

use super::rows::{FormatError, Hasher};
use super::{RunError, Target};
use crate::pg::{self, Environment};
use bytes::Bytes;
use datasurface_codegen::sql::{BatchSql, SnapshotSql};
use datasurface_model::{DataType, DatasetSchema, naming};
use futures_util::{SinkExt, TryStreamExt, pin_mut};
use serde_json::json;
use tokio_postgres::{GenericClient, IsolationLevel};

/// Takes the snapshot of batch `batch` and marks it `ingested`. Memory stays flat: rows
/// flow from the source's COPY to staging's COPY chunk by chunk.
pub(super) async fn ingest(
    merge_db: &mut tokio_postgres::Client,
    target: &Target<'_>,
    sql: &BatchSql,
    batch: i32,
    env: &Environment,
) -> Result<(), RunError> {
    let snapshot = target
        .store
        .sql_snapshot()
        .expect("validation checked the capture");
    let mut source = pg::connect(&snapshot.database, &snapshot.credential, env).await?;
    let source_name = snapshot.database.name.as_str();
    // All datasets of the stream come from one consistent snapshot of the source.
    let source_tx = source
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| RunError::sql(&format!("-- Open a snapshot of {source_name}"), e))?;
    let statements = target.sql();

    let mut problems = Vec::new();
    let mut unique_keys = Vec::new();
    for (dataset, dataset_sql) in target.datasets.iter().zip(&statements) {
        let found = check_source(&source_tx, source_name, dataset, &dataset_sql.snapshot).await?;
        let unique =
            found.is_empty() && has_unique_key(&source_tx, dataset, &dataset_sql.snapshot).await?;
        problems.extend(found);
        unique_keys.push(unique);
    }
    if !problems.is_empty() {
        return Err(RunError::Source { batch, problems });
    }

    let tx = merge_db
        .transaction()
        .await
        .map_err(|e| RunError::sql("BEGIN", e))?;
    let mut datasets = serde_json::Map::new();
    let mut total: i64 = 0;
    for ((dataset, dataset_sql), unique_key) in
        target.datasets.iter().zip(&statements).zip(unique_keys)
    {
        tx.batch_execute(&dataset_sql.clear_staging)
            .await
            .map_err(|e| RunError::sql(&dataset_sql.clear_staging, e))?;
        let rows = copy(&source_tx, &tx, source_name, dataset, &dataset_sql.snapshot).await?;
        // Fresh statistics, so the merge plans its joins on the real size.
        let analyze = format!(
            "-- Refresh the statistics of staging.\nANALYZE {}",
            naming::quote_ident(&dataset_sql.staging_table)
        );
        tx.batch_execute(&analyze)
            .await
            .map_err(|e| RunError::sql(&analyze, e))?;
        datasets.insert(
            dataset.name.clone(),
            json!({ "total": rows, "unique_key": unique_key }),
        );
        total += i64::try_from(rows).unwrap_or(i64::MAX);
    }
    let state = json!({ "schema": target.fingerprints(), "datasets": datasets });
    tx.execute(&sql.ingested, &[&target.key, &batch, &state, &total])
        .await
        .map_err(|e| RunError::sql(&sql.ingested, e))?;
    tx.commit().await.map_err(|e| RunError::sql("COMMIT", e))?;
    // The read-only snapshot has nothing to keep.
    let _ = source_tx.rollback().await;
    Ok(())
}

async fn copy(
    source: &impl GenericClient,
    merge: &impl GenericClient,
    source_name: &str,
    dataset: &DatasetSchema,
    sql: &SnapshotSql,
) -> Result<u64, RunError> {
    let read_failed = |e| RunError::Sql {
        context: format!(
            "reading the snapshot of {} from {source_name}",
            sql.source_table
        ),
        source: e,
    };
    let rows = source
        .client()
        .copy_out(sql.copy_out.as_str())
        .await
        .map_err(read_failed)?;
    let sink = merge
        .client()
        .copy_in::<_, Bytes>(sql.copy_in.as_str())
        .await
        .map_err(|e| RunError::sql(&sql.copy_in, e))?;
    pin_mut!(rows);
    pin_mut!(sink);
    let columns: Vec<&str> = dataset.columns.iter().map(|c| c.name.as_str()).collect();
    let key: Vec<&str> = dataset.primary_key.iter().map(String::as_str).collect();
    let mut hasher = Hasher::new(&columns, &key);
    let malformed = |e: FormatError| RunError::Snapshot {
        dataset: dataset.name.clone(),
        detail: e.to_string(),
    };
    let write_failed = |e| RunError::sql(&sql.copy_in, e);
    while let Some(chunk) = rows.try_next().await.map_err(read_failed)? {
        if let Some(out) = hasher.push(&chunk).map_err(malformed)? {
            sink.as_mut().feed(out).await.map_err(write_failed)?;
        }
    }
    let (rest, _) = hasher.finish().map_err(malformed)?;
    sink.as_mut().feed(rest).await.map_err(write_failed)?;
    sink.as_mut().finish().await.map_err(write_failed)
}

/// Whether the source table has a unique index on its key columns (or on some of them),
/// which rules out duplicate keys in the snapshot.
async fn has_unique_key(
    source: &impl GenericClient,
    dataset: &DatasetSchema,
    sql: &SnapshotSql,
) -> Result<bool, RunError> {
    let table = naming::quote_ident(&sql.source_table);
    let indexes = source
        .query(sql.source_unique_indexes.as_str(), &[&table])
        .await
        .map_err(|e| RunError::sql(&sql.source_unique_indexes, e))?;
    Ok(indexes.iter().any(|r| {
        let columns: Vec<String> = r.get(0);
        columns.iter().all(|c| dataset.primary_key.contains(c))
    }))
}

/// Compares a source table with its dataset: every model column must exist under its exact
/// name with a type whose values fit the model's type.
async fn check_source(
    source: &impl GenericClient,
    source_name: &str,
    dataset: &DatasetSchema,
    sql: &SnapshotSql,
) -> Result<Vec<String>, RunError> {
    let table = naming::quote_ident(&sql.source_table);
    let exists = source
        .query_one(sql.source_exists.as_str(), &[&table])
        .await
        .map_err(|e| RunError::sql(&sql.source_exists, e))?;
    if exists.get::<_, Option<String>>(0).is_none() {
        return Ok(vec![format!(
            "source table {} not found in database {source_name} (table names match exactly, case included)",
            sql.source_table
        )]);
    }
    let columns: Vec<(String, String)> = source
        .query(sql.source_columns.as_str(), &[&table])
        .await
        .map_err(|e| RunError::sql(&sql.source_columns, e))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut problems = Vec::new();
    for column in &dataset.columns {
        let at = format!("source table {}, column {}", sql.source_table, column.name);
        match columns.iter().find(|(name, _)| *name == column.name) {
            Some((_, found)) => {
                let fits = DataType::from_pg(found).is_some_and(|t| column.data_type.can_hold(&t));
                if !fits {
                    problems.push(format!(
                        "{at}: the source has {found}, which does not fit the model's {}",
                        column.data_type
                    ));
                }
            }
            None => {
                let near = columns
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(&column.name));
                problems.push(match near {
                    Some((name, _)) => format!(
                        "{at}: not found; the source has `{name}` (column names match exactly: name the model's column `{name}`)"
                    ),
                    None => format!(
                        "{at}: not found (the source has {})",
                        columns.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                });
            }
        }
    }
    Ok(problems)
}
