//! Ingestion: check the source tables against the model, then stream one consistent
//! snapshot of them, in key order, next to the merge table's current rows, and keep only
//! what changed: in staging, or — when no dataset of the stream has a current row yet —
//! straight in the merge tables, committing the batch at once.

use super::batch::Batch;
use super::copy::{Chunks, ReadError, Reader};
use super::diff::{DiffError, Found, Sides, Target, diff};
use super::error::Error;
use super::hash::Hasher;
use super::order::KeyOrder;
use super::progress::Phase;
use super::state::{DatasetState, Metrics, Staged};
use crate::pg::{self, DbError, Environment, Exec};
use bytes::Bytes;
use datasurface_codegen::sql::{CURRENT, DatasetSql, SourceTable, Statement, catalog};
use datasurface_model::{Classification, DataType, DatasetSchema, PlatformMode};
use futures_util::pin_mut;
use std::collections::BTreeMap;
use std::time::Instant;
use tokio_postgres::{Client, GenericClient, IsolationLevel, Transaction};
use tracing::Instrument;

/// What an ingest left behind.
#[derive(Debug)]
pub(super) enum Ingested {
    /// The changes are in staging; the batch is `ingested`.
    Staged,
    /// A first load: every row is in the merge tables and the batch is `committed`, with
    /// these metrics.
    Committed(BTreeMap<String, Metrics>),
}

/// Takes the snapshot of batch `id`. Memory stays flat: rows flow from the source's COPY
/// through the runtime to the merge database's COPY chunk by chunk.
pub(super) async fn ingest(
    merge_db: &mut Client,
    batch: &Batch<'_>,
    id: i32,
    env: &Environment,
) -> Result<Ingested, Error> {
    let capture = batch.stream.store.capture;
    let mut source = pg::connect(&capture.database, &capture.credential, env).await?;
    let source_name = capture.database.name.as_str();

    // Checked before the snapshot's transaction: a query there would take the snapshot.
    let mut problems = Vec::new();
    let mut byte_ordered = Vec::new();
    for (dataset, sql) in batch.stream.datasets.iter().zip(&batch.datasets) {
        problems.extend(check_source(&source, source_name, dataset, &sql.snapshot.source).await?);
        let columns: Vec<String> = source
            .rows(
                &catalog::byte_ordered_columns(),
                &[&sql.snapshot.source.quoted],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        byte_ordered.push(columns);
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
        .map_err(|e| DbError::new(format!("open a snapshot of {source_name}"), e))?;
    for sql in &batch.datasets {
        source_tx.run(&sql.snapshot.lock).await?;
    }

    let tx = pg::begin(merge_db).await?;
    let mut has_current = Vec::new();
    for sql in &batch.datasets {
        has_current.push(tx.row(&sql.has_current, &[]).await?.get::<_, bool>(0));
    }
    // With nothing current anywhere, the whole batch is a first load, in one transaction.
    let first_load = !has_current.iter().any(|c| *c);
    // The current rows stream on a connection of their own, while this one writes.
    let current_db = if first_load {
        None
    } else {
        let provider = batch.stream.platform.provider;
        let db = pg::connect(&provider.merge_database, &provider.merge_credential, env).await?;
        if let Some(sql) = batch.datasets.first() {
            db.run(&sql.snapshot.current_settings).await?;
        }
        Some(db)
    };
    let stamps: Vec<i32> = match batch.stream.platform.mode {
        PlatformMode::Live => vec![id],
        PlatformMode::Forensic => vec![id, CURRENT],
    };

    let mut state = batch.started_state();
    let mut total: u64 = 0;
    for (i, (dataset, sql)) in batch
        .stream
        .datasets
        .iter()
        .zip(&batch.datasets)
        .enumerate()
    {
        let order = sql
            .snapshot
            .copy_out_for(&|column| byte_ordered[i].iter().any(|c| c == column));
        let chunks = copy_out(&source_tx, &order, || {
            format!(
                "reading the snapshot of {} from {source_name}",
                sql.snapshot.source.name
            )
        })
        .await?;
        let mut source = Reader::new(chunks, dataset.columns.len());
        let mut current = match (&current_db, has_current[i]) {
            (Some(db), true) => {
                let chunks = copy_out(db, &sql.snapshot.current, || {
                    sql.snapshot.current.what().to_owned()
                })
                .await?;
                Some(Reader::new(chunks, dataset.primary_key.len() + 1))
            }
            _ => None,
        };
        // Into an empty merge table, the rows go in first and the indexes are built after.
        let bulk = first_load && tx.row(&sql.bulk_load.empty, &[]).await?.get::<_, bool>(0);
        if bulk {
            tx.run(&sql.bulk_load.drop_indexes).await?;
        }
        let (target, copy_in) = match first_load {
            true => (
                Target::Merge { stamps: &stamps },
                &sql.snapshot.copy_in_first,
            ),
            false => {
                tx.run(&sql.clear_staging).await?;
                (Target::Staging, &sql.snapshot.copy_in)
            }
        };
        let started = Instant::now();
        let on_rows = |rows| batch.rows(&dataset.name, Phase::Snapshot, rows);
        let sides = (
            &mut source,
            current.as_mut(),
            &on_rows as &(dyn Fn(u64) + Sync),
        );
        let found = stream(&tx, copy_in, id, dataset, sql, target, sides)
            .instrument(tracing::info_span!("dataset", dataset = %dataset.name, phase = "snapshot"))
            .await?;
        if bulk {
            // A key too long for an index is the data's fault, as it is in a row by row load.
            for build in &sql.bulk_load.build_indexes {
                tx.run(build)
                    .await
                    .map_err(|e| written_with(e, id, dataset))?;
            }
        }
        batch.done(&dataset.name, Phase::Snapshot, found.total);
        let seconds = started.elapsed().as_secs_f64();
        if first_load {
            tracing::info!(dataset = %dataset.name, rows = found.total, seconds, "first load of {}: {} rows", dataset.name, found.total);
        } else {
            tracing::info!(
                dataset = %dataset.name,
                rows = found.total,
                inserted = found.inserted,
                updated = found.updated,
                deleted = found.deleted,
                seconds,
                "snapshot of {}: {} rows, {} new, {} changed, {} gone",
                dataset.name,
                found.total,
                found.inserted,
                found.updated,
                found.deleted
            );
        }
        total += found.total;
        let record = match first_load {
            true => DatasetState::Merged(Metrics {
                inserted: found.inserted,
                total: found.total,
                ..Metrics::default()
            }),
            false => {
                tx.run(&sql.analyze_staging).await?;
                DatasetState::Staged(Staged {
                    total: found.total,
                    staged: found.staged(),
                    inserted: found.inserted,
                    updated: found.updated,
                    deleted: found.deleted,
                })
            }
        };
        state.datasets.insert(dataset.name.clone(), record);
    }
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let sql = &batch.sql;
    let outcome = if first_load {
        let metrics: BTreeMap<String, Metrics> = state
            .datasets
            .iter()
            .filter_map(|(name, d)| match d {
                DatasetState::Merged(m) => Some((name.clone(), *m)),
                _ => None,
            })
            .collect();
        let inserted = Metrics::sum(metrics.values()).inserted;
        tx.exec(
            &sql.committed,
            &[
                &batch.key,
                &id,
                &as_i64(inserted),
                &0_i64,
                &0_i64,
                &state.to_json(),
                &as_i64(total),
            ],
        )
        .await?;
        Ingested::Committed(metrics)
    } else {
        tx.exec(
            &sql.ingested,
            &[&batch.key, &id, &state.to_json(), &as_i64(total)],
        )
        .await?;
        Ingested::Staged
    };
    pg::commit(tx).await?;
    // The read-only snapshot has nothing to keep.
    let _ = source_tx.rollback().await;
    Ok(outcome)
}

/// Starts `COPY … TO STDOUT`; `what` names it when it fails.
async fn copy_out(
    client: &impl GenericClient,
    statement: &Statement,
    what: impl Fn() -> String,
) -> Result<Chunks, Error> {
    let stream = client
        .client()
        .copy_out(statement.sql())
        .await
        .map_err(|e| DbError::new(what(), e))?;
    Ok(Box::pin(stream))
}

/// Streams the diff of one dataset's `(source, current rows)` into `copy_in`; what it found.
async fn stream(
    tx: &Transaction<'_>,
    copy_in: &Statement,
    id: i32,
    dataset: &DatasetSchema,
    sql: &DatasetSql,
    target: Target<'_>,
    (source, current, progress): (&mut Reader, Option<&mut Reader>, &(dyn Fn(u64) + Sync)),
) -> Result<Found, Error> {
    let sink = tx
        .client()
        .copy_in::<_, Bytes>(copy_in.sql())
        .await
        .map_err(|e| DbError::new(copy_in.what(), e))?;
    pin_mut!(sink);
    let columns: Vec<&str> = dataset.columns.iter().map(|c| c.name.as_str()).collect();
    let key_names: Vec<&str> = dataset.primary_key.iter().map(String::as_str).collect();
    let key: Vec<usize> = dataset
        .primary_key
        .iter()
        .filter_map(|k| columns.iter().position(|c| c == k))
        .collect();
    let hasher = Hasher::new(&columns, &key_names);
    let order = KeyOrder::new(dataset);
    let sides = Sides {
        source,
        current,
        hasher: &hasher,
        order: &order,
        key: &key,
        columns: columns.len(),
        progress,
    };
    let found = diff(sides, target, &mut sink).await.map_err(|e| match e {
        DiffError::Duplicates { count, keys } => Error::DuplicateKeys {
            batch: id,
            table: sql.snapshot.source.name.clone(),
            count,
            keys: keys_may_show(dataset).then_some(keys),
        },
        DiffError::Write(e) => written_with(DbError::new(copy_in.what(), e), id, dataset),
        DiffError::Source(ReadError::Db(e)) => DbError::new(
            format!("reading the snapshot of {}", sql.snapshot.source.name),
            e,
        )
        .into(),
        DiffError::Current(ReadError::Db(e)) => DbError::new(sql.snapshot.current.what(), e).into(),
        other => Error::Snapshot {
            dataset: dataset.name.clone(),
            detail: other.to_string(),
        },
    })?;
    let written = sink
        .as_mut()
        .finish()
        .await
        .map_err(|e| written_with(DbError::new(copy_in.what(), e), id, dataset))?;
    let expected = match target {
        Target::Merge { .. } => found.inserted,
        Target::Staging => found.staged(),
    };
    if written != expected {
        return Err(Error::Snapshot {
            dataset: dataset.name.clone(),
            detail: format!("{written} rows were written where {expected} were sent"),
        });
    }
    Ok(found)
}

/// A failed write: caused by the snapshot's data (a row the merge table's constraints or
/// indexes refuse), or not.
fn written_with(error: DbError, id: i32, dataset: &DatasetSchema) -> Error {
    if error.is_data_error() {
        Error::MergeData {
            batch: id,
            dataset: dataset.name.clone(),
            source: error,
        }
    } else {
        error.into()
    }
}

/// Whether key values of `dataset` may appear in a message: only when every key column is
/// classified public or internal.
fn keys_may_show(dataset: &DatasetSchema) -> bool {
    dataset.key_columns().all(|c| {
        matches!(
            c.classification.or(dataset.classification),
            Some(Classification::Public | Classification::Internal)
        )
    })
}

/// Compares a source table with its dataset: every model column must exist under its exact
/// name, with a type whose values fit the model's type, and allow NULL only where the
/// model does.
pub(super) async fn check_source(
    source: &impl Exec,
    source_name: &str,
    dataset: &DatasetSchema,
    table: &SourceTable,
) -> Result<Vec<String>, Error> {
    let (quoted, table) = (&table.quoted, &table.name);
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
