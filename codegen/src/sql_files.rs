//! The SQL each platform runs, as files a reviewer reads: its tables and views, its batch
//! bookkeeping, and per dataset the snapshot and the merge.

use crate::artifact::Artifact;
use crate::sql::{BatchSql, DatasetSql, views};
use datasurface_model::{ValidEcosystem, naming};

/// `platforms/{platform}/sql/…` for every platform.
pub(crate) fn artifacts(eco: &ValidEcosystem) -> Vec<Artifact> {
    let mut out = Vec::new();
    for platform in eco.platforms() {
        let dir = format!("platforms/{}/sql", naming::k8s_name(&platform.name));
        let batch = BatchSql::new(&platform.name);
        let mut tables: Vec<String> = batch
            .create
            .iter()
            .map(|d| d.statement.to_string())
            .collect();
        let mut per_dataset = Vec::new();
        for (store, dataset) in eco.ingested(&platform.name) {
            let sql = DatasetSql::new(&platform, store, dataset);
            tables.extend(sql.tables.iter().map(|d| d.statement.to_string()));
            let mut steps = vec![
                "-- Run on the source database, inside one REPEATABLE READ transaction for the whole stream: first every table's lock, then every snapshot.".to_owned(),
                sql.snapshot.lock.to_string(),
                sql.snapshot.copy_out.to_string(),
                "-- Run on the merge database while the snapshot streams: the current rows, in the same key order. The runtime compares the two streams key by key.".to_owned(),
                sql.snapshot.current.to_string(),
                sql.has_current.to_string(),
                "-- When the merge table has no current row, every row of the snapshot goes straight into it, in one transaction with the batch's commit ($1: the batch id):".to_owned(),
                sql.snapshot.copy_in_first.to_string(),
                "-- Otherwise only the changes go to staging: the rows of new and changed keys, the key columns of gone ones.".to_owned(),
                sql.snapshot.copy_in.to_string(),
                sql.analyze_staging.to_string(),
                sql.staging_rows.to_string(),
                "-- The merge, in one transaction with the batch's commit ($1: the batch id).".to_owned(),
            ];
            steps.extend(sql.merge.iter().map(|s| s.statement.to_string()));
            steps.push(sql.clear_staging.to_string());
            if let Some(rewind) = &sql.rewind {
                steps.push("-- reset-batch --to-batch ($1: the batch to rewind to):".to_owned());
                steps.extend(rewind.iter().map(ToString::to_string));
            }
            per_dataset.push(Artifact {
                path: format!(
                    "{dir}/{}.{}.sql",
                    store.name.to_lowercase(),
                    dataset.name.to_lowercase()
                ),
                contents: join(&steps),
            });
        }
        for (assignment, store, dataset) in eco.assigned_sinks(&platform.name) {
            if assignment.is_active() {
                let views = views(
                    &platform,
                    &assignment.workspace,
                    &assignment.dsg,
                    &store.name,
                    dataset,
                );
                tables.extend(views.into_iter().map(|v| v.create.to_string()));
            }
        }
        out.push(Artifact {
            path: format!("{dir}/tables.sql"),
            contents: join(&tables),
        });
        let statements: Vec<String> = batch.statements().iter().map(ToString::to_string).collect();
        out.push(Artifact {
            path: format!("{dir}/batches.sql"),
            contents: join(&statements),
        });
        out.extend(per_dataset);
    }
    out
}

/// Statements separated by blank lines, each ended with `;` (comment-only lines are left
/// as they are).
fn join(statements: &[String]) -> String {
    let mut text = String::new();
    for s in statements {
        text.push_str(s);
        if s.lines().all(|l| l.starts_with("--")) {
            text.push('\n');
        } else {
            text.push_str(";\n\n");
        }
    }
    text
}
