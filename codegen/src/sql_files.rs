//! The SQL each platform runs, as files a reviewer reads: its tables and views, its batch
//! bookkeeping, and per dataset the snapshot and the merge.
//!
//! A model of 100,000 datasets has 200,000 of these files: they are written on every core,
//! and handed on as they are made rather than held.

use crate::artifact::Artifact;
use crate::sql::replay::ReplaySql;
use crate::sql::{BatchSql, DatasetSql, SourceTable, Statement, replication, views};
use datasurface_model::{DatasetSchema, Platform, Store, Stream, ValidEcosystem, naming};
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
        for stream in eco.streams(platform) {
            if stream.store.replication.is_some() {
                let (file, ddl) = replication_file(eco, &stream, &dir);
                tables.extend(ddl);
                sink(file);
            }
        }
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
    // Bounded: files are written as fast as they are made, never all held at once. They
    // travel a few dozen at a time: one hand-over per file costs more than making it.
    const BATCH: usize = 32;
    let (send, receive) = mpsc::sync_channel::<Vec<Artifact>>(8);
    std::thread::scope(|scope| {
        let workers: Vec<_> = datasets
            .chunks(chunk)
            .map(|part| {
                let send = send.clone();
                scope.spawn(move || {
                    let mut ddl = Vec::new();
                    for batch in part.chunks(BATCH) {
                        let mut files = Vec::with_capacity(batch.len());
                        for (store, dataset) in batch {
                            let (file, tables) = dataset_file(platform, *store, dataset, dir);
                            ddl.extend(tables);
                            files.push(file);
                        }
                        // The receiver only goes away with the whole generation.
                        let _ = send.send(files);
                    }
                    ddl
                })
            })
            .collect();
        drop(send);
        for artifact in receive.into_iter().flatten() {
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

/// A logically replicated stream's file — what runs on the source to read its changes, and
/// on the merge database to diff them — and the DDL of its changes table.
fn replication_file(
    eco: &ValidEcosystem,
    stream: &Stream<'_>,
    dir: &str,
) -> (Artifact, Vec<String>) {
    let platform = stream.platform;
    let dataset = stream.key.dataset.as_deref();
    let (eco, platform_name, store) = (
        &eco.model().name,
        &platform.model.name,
        &stream.store.model.name,
    );
    let slot = naming::replication_slot(eco, platform_name, store, dataset);
    let publication = naming::publication(eco, platform_name, store, dataset);
    let replay = ReplaySql::new(platform.model, stream.store, &stream.datasets);
    let sources: Vec<SourceTable> = stream
        .datasets
        .iter()
        .map(|d| SourceTable::new(&stream.store.capture.schema, &d.name))
        .collect();
    let ddl = replay
        .create
        .iter()
        .map(|d| d.statement.to_string())
        .collect();
    let header = format!(
        "-- Stream {} on {}: its changes are read from the replication slot {slot} of the publication {publication}.",
        stream.key, platform_name
    );
    let source_steps = [
        replication::create_publication(&publication, &sources),
        replication::set_publication_tables(&publication, &sources),
        replication::slot_state().statement().clone(),
        replication::create_slot().statement().clone(),
        replication::insert_lsn().statement().clone(),
        replication::flush_log(),
        replication::next_xid().statement().clone(),
        replication::oldest_running().statement().clone(),
        replication::peek().statement().clone(),
        replication::advance().statement().clone(),
    ];
    let mut steps: Vec<String> = vec![
        header,
        "-- Run on the source: the publication of the stream's tables and its slot (created when missing); the batch's upper bound, with the log flushed up to it; its changes up to the bound, and — once the batch is committed — the slot moved on to it. The first batch, and any resync, reads a snapshot instead (see each dataset's file), after the next transaction id is noted, and moves the slot only when the snapshot found no older transaction running.".to_owned(),
    ];
    steps.extend(source_steps.iter().map(ToString::to_string));
    steps.push("-- Run on the merge database: the changes into the stream's changes table, values an update left unsent filled from earlier changes, then per dataset the diff of the changed keys (the last state of each, against the current rows of those keys, or of all keys after a truncate) into staging; the merge is each dataset's.".to_owned());
    steps.extend(
        replay
            .statements()
            .iter()
            .skip(replay.create.len())
            .map(ToString::to_string),
    );
    let file = Artifact {
        path: format!(
            "{dir}/{}.replication.sql",
            stream.key.to_string().replace('#', ".").to_lowercase()
        ),
        contents: join(&steps),
    };
    (file, ddl)
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
        "-- When the merge table has no current row, every row of the snapshot goes straight into it, in one transaction with the batch's commit ($1: the batch id):",
        sql.snapshot.copy_in_first.sql(),
        "-- When it has no row at all, it is emptied in that transaction, the source is read in no particular order, the rows go in frozen and its indexes are built after:",
        sql.bulk_load.empty.statement().sql(),
        sql.bulk_load.drop_indexes.sql(),
        sql.bulk_load.truncate.sql(),
        sql.snapshot.copy_out_unordered.sql(),
        sql.snapshot.copy_in_frozen.sql(),
        sql.bulk_load.before_indexes.sql(),
    ];
    steps.extend(sql.bulk_load.build_indexes.iter().map(Statement::sql));
    steps.extend([
        sql.bulk_load.analyze.sql(),
        "-- When the primary key's build finds a key the snapshot holds twice: back to before the builds, and the keys to report.",
        sql.bulk_load.undo_indexes.sql(),
        sql.bulk_load.duplicates.sql(),
    ]);
    steps.extend([
        "-- Otherwise only the changes go to staging: the rows of new and changed keys, the key columns of gone ones.",
        sql.snapshot.copy_in.sql(),
        sql.analyze_staging.sql(),
        sql.staging_rows.statement().sql(),
        "-- The merge, in one transaction with the batch's commit ($1: the batch id).",
    ]);
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
