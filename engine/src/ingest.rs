//! Ingestion: check the source tables against the model, then stream one consistent
//! snapshot of them, in key order, next to the merge table's current rows, and keep only
//! what changed: in staging, or — when no dataset of the stream has a current row yet —
//! straight in the merge tables, committing the batch at once.

use super::batch::Batch;
use super::copy::{Chunks, ReadError, Reader};
use super::diff::{DiffError, Found, SHOWN, Sides, Target, diff};
use super::error::Error;
use super::hash::Hasher;
use super::order::KeyOrder;
use super::progress::Phase;
use super::state::{BatchState, CaptureState, DatasetState, Metrics, Staged};
use crate::pg::{self, DbError, Environment, Exec};
use bytes::Bytes;
use datasurface_codegen::sql::catalog::{self, Relation};
use datasurface_codegen::sql::replication;
use datasurface_codegen::sql::typed::Single;
use datasurface_codegen::sql::{CURRENT, DatasetSql, SourceTable, Statement};
use datasurface_model::{Classification, DataType, DatasetSchema, PlatformMode};
use futures_util::pin_mut;
use std::collections::BTreeMap;
use std::time::Instant;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, GenericClient, IsolationLevel, Transaction};
use tracing::Instrument;

/// Where a logically replicated store's snapshot stands in the source's log: the position
/// read before it, and the next transaction id read after that position.
#[derive(Debug)]
pub(super) struct Cut {
    pub(super) capture: CaptureState,
    pub(super) next_xid: i64,
}

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
    read: Option<Cut>,
) -> Result<Ingested, Error> {
    let capture = batch.stream.store.capture;
    let mut source = pg::connect(&capture.database, &capture.credential, env).await?;
    let source_name = capture.database.name.as_str();
    // Checked before the snapshot's transaction: a query there would take the snapshot.
    let byte_ordered = check_sources(&source, source_name, batch, id).await?;
    let source_tx = open_snapshot(&mut source, source_name, batch).await?;
    let capture = match read {
        Some(cut) => {
            let Single(oldest) = source_tx.row(&replication::oldest_running(), &()).await?;
            Some(CaptureState {
                complete: oldest >= cut.next_xid,
                ..cut.capture
            })
        }
        None => None,
    };

    let tx = pg::begin(merge_db).await?;
    let mut has_current = Vec::new();
    for sql in &batch.datasets {
        has_current.push(tx.row(&sql.has_current, &()).await?.0);
    }
    // With nothing current anywhere, the whole batch is a first load, in one transaction.
    let first_load = !has_current.iter().any(|c| *c);
    // The current rows stream on a connection of their own, while this one writes.
    let current_db = match first_load {
        true => None,
        false => Some(current_rows_db(batch, env).await?),
    };
    let stamps: Vec<i32> = match batch.stream.platform.model.mode {
        PlatformMode::Live => vec![id],
        PlatformMode::Forensic => vec![id, CURRENT],
    };
    let snapshot = Snapshot {
        batch,
        id,
        source: &source_tx,
        source_name,
        merge: &tx,
        first_load,
        stamps: &stamps,
    };

    let mut state = batch.started_state();
    state.capture = capture;
    for (i, (dataset, sql)) in batch.each().enumerate() {
        let current = current_db.as_ref().filter(|_| has_current[i]);
        let record = snapshot
            .dataset(dataset, sql, &byte_ordered[i], current)
            .await?;
        state.datasets.insert(dataset.name.clone(), record);
    }
    let outcome = record(&tx, batch, id, first_load, &state).await?;
    pg::commit(tx).await?;
    // The read-only snapshot has nothing to keep.
    let _ = source_tx.rollback().await;
    Ok(outcome)
}

/// Checks every source table of the stream against the model; per dataset, the columns
/// whose collation sorts by bytes (the source's own order for them).
pub(super) async fn check_sources(
    source: &Client,
    source_name: &str,
    batch: &Batch<'_>,
    id: i32,
) -> Result<Vec<Vec<String>>, Error> {
    let mut problems = Vec::new();
    let mut byte_ordered = Vec::new();
    for (dataset, sql) in batch.each() {
        problems.extend(check_source(source, source_name, dataset, &sql.snapshot.source).await?);
        let table = Relation::source(&sql.snapshot.source);
        let columns = source
            .rows(&catalog::byte_ordered_columns(), &table)
            .await?;
        byte_ordered.push(columns.into_iter().map(|Single(c)| c).collect());
    }
    if !problems.is_empty() {
        return Err(Error::Source {
            batch: id,
            problems,
        });
    }
    Ok(byte_ordered)
}

/// Opens the one consistent snapshot all datasets of the stream come from, taken once every
/// table's lock is held.
async fn open_snapshot<'c>(
    source: &'c mut Client,
    source_name: &str,
    batch: &Batch<'_>,
) -> Result<Transaction<'c>, Error> {
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
    Ok(source_tx)
}

/// A second connection to the merge database, set to read current rows in key order.
async fn current_rows_db(batch: &Batch<'_>, env: &Environment) -> Result<Client, Error> {
    let provider = batch.stream.platform.provider;
    let db = pg::connect(&provider.merge_database, &provider.merge_credential, env).await?;
    if let Some(sql) = batch.datasets.first() {
        db.run(&sql.snapshot.current_settings).await?;
    }
    Ok(db)
}

/// Records what the snapshot did in the batch's row: a first load commits the batch (its
/// rows are merged), otherwise the batch is `ingested`.
async fn record(
    tx: &Transaction<'_>,
    batch: &Batch<'_>,
    id: i32,
    first_load: bool,
    state: &BatchState,
) -> Result<Ingested, Error> {
    let metrics: BTreeMap<String, Metrics> = state
        .datasets
        .iter()
        .filter_map(|(name, d)| match d {
            DatasetState::Merged(m) => Some((name.clone(), *m)),
            _ => None,
        })
        .collect();
    if first_load {
        batch
            .commit(tx, id, &Metrics::sum(metrics.values()), state)
            .await?;
        return Ok(Ingested::Committed(metrics));
    }
    let total = state
        .datasets
        .values()
        .map(|d| match d {
            DatasetState::Staged(s) => s.total,
            _ => 0,
        })
        .sum();
    batch.ingested(tx, id, total, state).await?;
    Ok(Ingested::Staged)
}

/// One batch's snapshot, as each of its datasets is taken.
struct Snapshot<'a> {
    batch: &'a Batch<'a>,
    id: i32,
    /// The source's snapshot transaction.
    source: &'a Transaction<'a>,
    source_name: &'a str,
    /// The merge database's transaction of the batch.
    merge: &'a Transaction<'a>,
    first_load: bool,
    /// The platform columns a first load stamps on every row.
    stamps: &'a [i32],
}

impl Snapshot<'_> {
    /// Streams one dataset's source table next to its current rows (read on `current`, when
    /// it has any) into staging, or on a first load into the merge table; what it found.
    async fn dataset(
        &self,
        dataset: &DatasetSchema,
        sql: &DatasetSql,
        byte_ordered: &[String],
        current: Option<&Client>,
    ) -> Result<DatasetState, Error> {
        let (batch, id, tx) = (self.batch, self.id, self.merge);
        // Into an empty merge table, the rows go in first, in the order the source holds
        // them, and the indexes are built after.
        let bulk = self.first_load && tx.row(&sql.bulk_load.empty, &()).await?.0;
        let order = match bulk {
            true => sql.snapshot.copy_out_unordered.clone(),
            false => sql
                .snapshot
                .copy_out_for(&|column| byte_ordered.iter().any(|c| c == column)),
        };
        let chunks = copy_out(self.source, &order, || {
            format!(
                "reading the snapshot of {} from {}",
                sql.snapshot.source.name, self.source_name
            )
        })
        .await?;
        let mut source = Reader::new(chunks, dataset.columns.len());
        let mut current = match current {
            Some(db) => {
                let chunks = copy_out(db, &sql.snapshot.current, || {
                    sql.snapshot.current.what().to_owned()
                })
                .await?;
                Some(Reader::new(chunks, dataset.primary_key.len() + 1))
            }
            None => None,
        };
        if bulk {
            tx.run(&sql.bulk_load.drop_indexes).await?;
            tx.run(&sql.bulk_load.truncate).await?;
        }
        let (target, copy_in) = match self.first_load {
            true => (
                Target::Merge {
                    stamps: self.stamps,
                    any_order: bulk,
                },
                match bulk {
                    true => &sql.snapshot.copy_in_frozen,
                    false => &sql.snapshot.copy_in_first,
                },
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
        let found = stream(tx, copy_in, id, dataset, sql, target, sides)
            .instrument(tracing::info_span!("dataset", dataset = %dataset.name, phase = "snapshot"))
            .await?;
        if bulk {
            build_indexes(tx, id, dataset, sql).await?;
        }
        batch.done(&dataset.name, Phase::Snapshot, found.total);
        log_found(
            dataset,
            &found,
            self.first_load,
            started.elapsed().as_secs_f64(),
        );
        Ok(match self.first_load {
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
        })
    }
}

/// Builds the indexes of a merge table its first load filled, and its statistics. A key
/// the snapshot holds twice fails the primary key: the build is undone and the keys are
/// read back from the loaded rows, for the same error a sorted snapshot gives.
async fn build_indexes(
    tx: &Transaction<'_>,
    id: i32,
    dataset: &DatasetSchema,
    sql: &DatasetSql,
) -> Result<(), Error> {
    let bulk = &sql.bulk_load;
    tx.run(&bulk.before_indexes).await?;
    for build in &bulk.build_indexes {
        match tx.run(build).await {
            Ok(()) => {}
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                tx.run(&bulk.undo_indexes).await?;
                let found = duplicates(tx, id, dataset, sql).await?;
                return Err(found.unwrap_or_else(|| written_with(e, id, dataset)));
            }
            // A key too long for an index is the data's fault, as it is in a row by row load.
            Err(e) => return Err(written_with(e, id, dataset)),
        }
    }
    tx.run(&bulk.analyze).await?;
    Ok(())
}

/// The keys a first load's rows hold more than once, as the error that reports them; `None`
/// when there are none.
async fn duplicates(
    tx: &Transaction<'_>,
    id: i32,
    dataset: &DatasetSchema,
    sql: &DatasetSql,
) -> Result<Option<Error>, Error> {
    let statement = &sql.bulk_load.duplicates;
    let chunks = copy_out(tx, statement, || statement.what().to_owned()).await?;
    let key = dataset.primary_key.len();
    let mut rows = Reader::new(chunks, key + 1);
    let order = KeyOrder::new(dataset);
    let positions: Vec<usize> = (0..key).collect();
    let (mut count, mut keys) = (0, Vec::new());
    while let Some(row) = rows.next().await.map_err(|e| match e {
        ReadError::Db(e) => Error::from(DbError::new(statement.what(), e)),
        ReadError::Format(e) => Error::Snapshot {
            dataset: dataset.name.clone(),
            detail: e.to_string(),
        },
    })? {
        let extra = row
            .field(key)
            .map_or(0, |v| u64::from_be_bytes(v.try_into().unwrap_or_default()));
        count += extra;
        if keys.len() < SHOWN {
            keys.push(order.display((&row, &positions)));
        }
    }
    Ok((count > 0).then(|| Error::DuplicateKeys {
        batch: id,
        table: sql.snapshot.source.name.clone(),
        count,
        keys: keys_may_show(dataset).then_some(keys),
    }))
}

/// Logs what the snapshot of `dataset` found.
fn log_found(dataset: &DatasetSchema, found: &Found, first_load: bool, seconds: f64) {
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
}

/// Starts `COPY … TO STDOUT`; `what` names it when it fails.
pub(super) async fn copy_out(
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
pub(super) async fn stream(
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
pub(super) fn written_with(error: DbError, id: i32, dataset: &DatasetSchema) -> Error {
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
    let (relation, table) = (Relation::source(table), &table.name);
    let Single(exists) = source.row(&catalog::exists(), &relation).await?;
    if exists.is_none() {
        return Ok(vec![format!(
            "source table {table} not found in database {source_name} (table names match exactly, case included)"
        )]);
    }
    let columns: Vec<(String, String, bool)> = source
        .rows(&catalog::columns(), &relation)
        .await?
        .into_iter()
        .map(|c| (c.name, c.pg_type, c.nullable))
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
