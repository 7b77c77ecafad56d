//! The SQL each platform runs, as files a reviewer reads: its tables and views, its batch
//! bookkeeping, and per dataset the snapshot and the merge.
//!
//! A model of 100,000 datasets has 200,000 of these files: they are written on every core,
//! and handed on as they are made rather than held.

use crate::artifact::Artifact;
use crate::sql::{BatchSql, DatasetSql, views};
use datasurface_model::{DatasetSchema, Platform, Store, ValidEcosystem, naming};
use std::sync::mpsc;

/// `platforms/{platform}/sql/…` for every platform, each file handed to `sink`.
pub(crate) fn artifacts(eco: &ValidEcosystem, sink: &mut dyn FnMut(Artifact)) {
    for platform in eco.platforms() {
        let dir = format!("platforms/{}/sql", naming::k8s_name(&platform.model.name));
        let batch = BatchSql::new(&platform.model.name);
        let mut tables: Vec<String> = batch
            .create
            .iter()
            .map(|d| d.statement.to_string())
            .collect();
        let datasets = eco.ingested(&platform.model.name);
        tables.extend(per_dataset(platform, &datasets, &dir, sink));
        for (assignment, store, dataset) in eco.model().assigned_sinks(&platform.model.name) {
            if assignment.is_active() {
                let views = views(
                    platform.model,
                    &assignment.workspace,
                    &assignment.dsg,
                    &store.name,
                    dataset,
                );
                tables.extend(views.into_iter().map(|v| v.create.to_string()));
            }
        }
        sink(Artifact {
            path: format!("{dir}/tables.sql"),
            contents: join(&tables),
        });
        let statements: Vec<String> = batch.statements().iter().map(ToString::to_string).collect();
        sink(Artifact {
            path: format!("{dir}/batches.sql"),
            contents: join(&statements),
        });
    }
}

/// Each dataset's file, handed to `sink`; returns the DDL of every dataset's tables, in
/// model order. The datasets are split among the machine's cores.
fn per_dataset(
    platform: Platform<'_>,
    datasets: &[(Store<'_>, &DatasetSchema)],
    dir: &str,
    sink: &mut dyn FnMut(Artifact),
) -> Vec<String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = datasets.len().div_ceil(cores).max(1);
    // Bounded: files are written as fast as they are made, never all held at once.
    let (send, receive) = mpsc::sync_channel::<Artifact>(256);
    std::thread::scope(|scope| {
        let workers: Vec<_> = datasets
            .chunks(chunk)
            .map(|part| {
                let send = send.clone();
                scope.spawn(move || {
                    let mut ddl = Vec::new();
                    for (store, dataset) in part {
                        let (file, tables) = dataset_file(platform, *store, dataset, dir);
                        ddl.extend(tables);
                        // The receiver only goes away with the whole generation.
                        let _ = send.send(file);
                    }
                    ddl
                })
            })
            .collect();
        drop(send);
        for artifact in receive {
            sink(artifact);
        }
        // A worker that panicked would leave its datasets' DDL out of tables.sql: its panic
        // goes on here instead.
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// A dataset's file, and the DDL of its tables.
fn dataset_file(
    platform: Platform<'_>,
    store: Store<'_>,
    dataset: &DatasetSchema,
    dir: &str,
) -> (Artifact, Vec<String>) {
    let sql = DatasetSql::new(platform.model, store, dataset);
    let tables = sql
        .tables
        .into_iter()
        .map(|d| d.statement.into_sql())
        .collect();
    let mut steps: Vec<&str> = vec![
        "-- Run on the source database, inside one REPEATABLE READ transaction for the whole stream: first every table's lock, then every snapshot.",
        sql.snapshot.lock.sql(),
        sql.snapshot.copy_out.sql(),
        "-- Run on the merge database while the snapshot streams: the current rows, in the same key order. The runtime compares the two streams key by key.",
        sql.snapshot.current_settings.sql(),
        sql.snapshot.current.sql(),
        sql.has_current.statement().sql(),
        "-- When the merge table has no current row, every row of the snapshot goes straight into it, in one transaction with the batch's commit ($1: the batch id); when it has no row at all, its indexes are built after the rows are in:",
        sql.bulk_load.empty.statement().sql(),
        sql.bulk_load.drop_indexes.sql(),
        sql.snapshot.copy_in_first.sql(),
        sql.bulk_load.build_indexes[0].sql(),
        sql.bulk_load.build_indexes[1].sql(),
        "-- Otherwise only the changes go to staging: the rows of new and changed keys, the key columns of gone ones.",
        sql.snapshot.copy_in.sql(),
        sql.analyze_staging.sql(),
        sql.staging_rows.statement().sql(),
        "-- The merge, in one transaction with the batch's commit ($1: the batch id).",
    ];
    steps.extend(sql.merge.iter().map(|s| s.statement().sql()));
    steps.push(sql.clear_staging.sql());
    if let Some(rewind) = &sql.rewind {
        steps.push("-- reset-batch --to-batch ($1: the batch to rewind to):");
        steps.extend(rewind.iter().map(|s| s.statement().sql()));
    }
    let file = Artifact {
        path: format!(
            "{dir}/{}.{}.sql",
            store.model.name.to_lowercase(),
            dataset.name.to_lowercase()
        ),
        contents: join(&steps),
    };
    (file, tables)
}

/// Statements separated by blank lines, each ended with `;` (comment-only lines are left
/// as they are).
fn join(statements: &[impl AsRef<str>]) -> String {
    let mut text = String::with_capacity(statements.iter().map(|s| s.as_ref().len() + 3).sum());
    for s in statements {
        let s = s.as_ref();
        text.push_str(s);
        if s.lines().all(|l| l.starts_with("--")) {
            text.push('\n');
        } else {
            text.push_str(";\n\n");
        }
    }
    text
}
