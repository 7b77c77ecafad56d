//! Ingestion: check the source tables against the model, then stream one consistent
//! snapshot of them into staging with COPY, in one merge-database transaction.

use super::batch::Batch;
use super::error::Error;
use super::rows::{FormatError, Hasher};
use super::state::{DatasetState, Staged};
use crate::pg::{self, Environment, Exec};
use bytes::Bytes;
use datasurface_codegen::sql::{DatasetSql, catalog};
use datasurface_model::{DataType, DatasetSchema};
use futures_util::{SinkExt, TryStreamExt, pin_mut};
use tokio_postgres::{Client, IsolationLevel};

/// Takes the snapshot of batch `id` and marks it `ingested`. Memory stays flat: rows flow
/// from the source's COPY to staging's COPY chunk by chunk.
pub(super) async fn ingest(
    merge_db: &mut Client,
    batch: &Batch<'_>,
    id: i32,
    env: &Environment,
) -> Result<(), Error> {
    let capture = batch.stream.store.capture;
    let mut source = pg::connect(&capture.database, &capture.credential, env).await?;
    let source_name = capture.database.name.as_str();

    // Checked before the snapshot's transaction: a query there would take the snapshot.
    let mut problems = Vec::new();
    let mut unique_keys = Vec::new();
    for (dataset, sql) in batch.stream.datasets.iter().zip(&batch.datasets) {
        let found = check_source(&source, source_name, dataset, sql).await?;
        let unique = found.is_empty() && has_unique_key(&source, dataset, sql).await?;
        problems.extend(found);
        unique_keys.push(unique);
    }
    if !problems.is_empty() {
        return Err(Error::Source {
            batch: id,
            problems,
        });
    }

    // All datasets of the stream come from one consistent snapshot of the source, taken
    // once every table's lock is held.
    let source_tx = source
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| pg::DbError::new(format!("open a snapshot of {source_name}"), e))?;
    for sql in &batch.datasets {
        source_tx.run(&sql.snapshot.lock).await?;
    }

    let tx = pg::begin(merge_db).await?;
    let mut state = batch.started_state();
    let mut total: i64 = 0;
    for ((dataset, sql), unique_key) in batch
        .stream
        .datasets
        .iter()
        .zip(&batch.datasets)
        .zip(unique_keys)
    {
        tx.run(&sql.clear_staging).await?;
        let rows = copy(&source_tx, &tx, source_name, dataset, sql).await?;
        tx.run(&sql.analyze_staging).await?;
        state.datasets.insert(
            dataset.name.clone(),
            DatasetState::Staged(Staged {
                total: rows,
                unique_key,
            }),
        );
        total += i64::try_from(rows).unwrap_or(i64::MAX);
    }
    let sql = &batch.sql;
    tx.exec(&sql.ingested, &[&batch.key, &id, &state.to_json(), &total])
        .await?;
    pg::commit(tx).await?;
    // The read-only snapshot has nothing to keep.
    let _ = source_tx.rollback().await;
    Ok(())
}

async fn copy(
    source: &impl Exec,
    merge: &impl Exec,
    source_name: &str,
    dataset: &DatasetSchema,
    sql: &DatasetSql,
) -> Result<u64, Error> {
    let snapshot = &sql.snapshot;
    let read_failed = |e| {
        pg::DbError::new(
            format!(
                "reading the snapshot of {} from {source_name}",
                snapshot.source_table
            ),
            e,
        )
    };
    let rows = source
        .client()
        .copy_out(snapshot.copy_out.sql())
        .await
        .map_err(read_failed)?;
    let write_failed = |e| pg::DbError::new(snapshot.copy_in.what(), e);
    let sink = merge
        .client()
        .copy_in::<_, Bytes>(snapshot.copy_in.sql())
        .await
        .map_err(write_failed)?;
    pin_mut!(rows);
    pin_mut!(sink);
    let columns: Vec<&str> = dataset.columns.iter().map(|c| c.name.as_str()).collect();
    let key: Vec<&str> = dataset.primary_key.iter().map(String::as_str).collect();
    let mut hasher = Hasher::new(&columns, &key);
    let malformed = |e: FormatError| Error::Snapshot {
        dataset: dataset.name.clone(),
        detail: e.to_string(),
    };
    while let Some(chunk) = rows.try_next().await.map_err(read_failed)? {
        if let Some(out) = hasher.push(&chunk).map_err(malformed)? {
            sink.as_mut().feed(out).await.map_err(write_failed)?;
        }
    }
    let (rest, _) = hasher.finish().map_err(malformed)?;
    sink.as_mut().feed(rest).await.map_err(write_failed)?;
    Ok(sink.as_mut().finish().await.map_err(write_failed)?)
}

/// Whether the source table enforces a unique index on its key columns (or on some of
/// them), which rules out duplicate keys in the snapshot.
async fn has_unique_key(
    source: &impl Exec,
    dataset: &DatasetSchema,
    sql: &DatasetSql,
) -> Result<bool, Error> {
    let indexes = source
        .rows(&catalog::unique_indexes(), &[&sql.snapshot.source_quoted])
        .await?;
    Ok(indexes.iter().any(|r| {
        let columns: Vec<String> = r.get(0);
        columns.iter().all(|c| dataset.primary_key.contains(c))
    }))
}

/// Compares a source table with its dataset: every model column must exist under its exact
/// name, with a type whose values fit the model's type, and allow NULL only where the
/// model does.
async fn check_source(
    source: &impl Exec,
    source_name: &str,
    dataset: &DatasetSchema,
    sql: &DatasetSql,
) -> Result<Vec<String>, Error> {
    let table = &sql.snapshot.source_table;
    let quoted = &sql.snapshot.source_quoted;
    let exists = source.row(&catalog::exists(), &[quoted]).await?;
    if exists.get::<_, Option<String>>(0).is_none() {
        return Ok(vec![format!(
            "source table {table} not found in database {source_name} (table names match exactly, case included)"
        )]);
    }
    let columns: Vec<(String, String, bool)> = source
        .rows(&catalog::columns(), &[quoted])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let mut problems = Vec::new();
    for column in &dataset.columns {
        let at = format!("source table {table}, column {}", column.name);
        match columns.iter().find(|(name, _, _)| *name == column.name) {
            Some((_, found, nullable)) => {
                let fits = DataType::from_pg(found).is_some_and(|t| column.data_type.can_hold(&t));
                if !fits {
                    problems.push(format!(
                        "{at}: the source has {found}, which does not fit the model's {}",
                        column.data_type
                    ));
                }
                if *nullable && !column.nullable {
                    problems.push(format!(
                        "{at}: the source allows NULL, but the model's column is NOT NULL; make the field an \
                         Option in the model, or the column NOT NULL at the source"
                    ));
                }
            }
            None => {
                let near = columns
                    .iter()
                    .find(|(name, _, _)| name.eq_ignore_ascii_case(&column.name));
                problems.push(match near {
                    Some((name, _, _)) => format!(
                        "{at}: not found; the source has `{name}` (column names match exactly: name the model's column `{name}`)"
                    ),
                    None => format!(
                        "{at}: not found (the source has {})",
                        columns.iter().map(|(n, _, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                });
            }
        }
    }
    Ok(problems)
}
