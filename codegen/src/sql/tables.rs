//! DDL of a dataset's staging and merge tables.

use super::names::{ALL_HASH, BATCH_ID, BATCH_IN, BATCH_OUT, CURRENT, KEY_HASH, Tables, q};
use super::statement::{Ddl, Shape, Statement};
use datasurface_model::{DatasetSchema, PlatformMode};

/// The statements that create a dataset's staging table, merge table and its indexes.
pub(crate) fn ddl(t: &Tables<'_>, mode: PlatformMode) -> Vec<Ddl> {
    let ds = t.dataset;
    let create_staging = Statement::new(
        format!(
            "The snapshot of {} taken by the open batch. Unlogged: no WAL for a table rewritten every \
             batch; a server crash empties it, and the merge then notices and takes the snapshot again",
            ds.name
        ),
        format!(
            "CREATE UNLOGGED TABLE IF NOT EXISTS {staging} (\n{columns},\n    {all} uuid NOT NULL,\n    {key} uuid NOT NULL\n)",
            staging = t.staging,
            columns = columns(ds),
            all = q(ALL_HASH),
            key = q(KEY_HASH),
        ),
    );
    let create_merge = match mode {
        PlatformMode::Live => vec![(
            t.merge_name.clone(),
            Statement::new(
                format!(
                    "The current row of every key of {}, with the batch that last wrote it",
                    ds.name
                ),
                format!(
                    "CREATE TABLE IF NOT EXISTS {merge} (\n{columns},\n    {batch} integer NOT NULL,\n    {all} uuid NOT NULL,\n    {key} uuid NOT NULL,\n    PRIMARY KEY ({keys})\n)",
                    merge = t.merge,
                    columns = columns(ds),
                    batch = q(BATCH_ID),
                    all = q(ALL_HASH),
                    key = q(KEY_HASH),
                    keys = t.key_list(""),
                ),
            ),
        )],
        PlatformMode::Forensic => vec![
            (
                t.merge_name.clone(),
                Statement::new(
                    format!(
                        "Every version of every key of {}: current from batch {} to batch {} ({CURRENT} while current)",
                        ds.name,
                        q(BATCH_IN),
                        q(BATCH_OUT)
                    ),
                    format!(
                        "CREATE TABLE IF NOT EXISTS {merge} (\n{columns},\n    {all} uuid NOT NULL,\n    {key} uuid NOT NULL,\n    {batch_in} integer NOT NULL,\n    {batch_out} integer NOT NULL DEFAULT {CURRENT},\n    PRIMARY KEY ({keys}, {batch_in})\n)",
                        merge = t.merge,
                        columns = columns(ds),
                        all = q(ALL_HASH),
                        key = q(KEY_HASH),
                        batch_in = q(BATCH_IN),
                        batch_out = q(BATCH_OUT),
                        keys = t.key_list(""),
                    ),
                ),
            ),
            (
                t.current_index_name.clone(),
                Statement::new(
                    format!(
                        "At most one current version per key of {}, found by key",
                        ds.name
                    ),
                    format!(
                        "CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {merge} ({keys}) WHERE {batch_out} = {CURRENT}",
                        index = t.current_index,
                        merge = t.merge,
                        keys = t.key_list(""),
                        batch_out = q(BATCH_OUT),
                    ),
                ),
            ),
        ],
    };
    let merge_shape = match mode {
        PlatformMode::Live => Shape {
            platform_columns: &[BATCH_ID, ALL_HASH, KEY_HASH],
            key_suffix: Some(&[]),
        },
        PlatformMode::Forensic => Shape {
            platform_columns: &[ALL_HASH, KEY_HASH, BATCH_IN, BATCH_OUT],
            key_suffix: Some(&[BATCH_IN]),
        },
    };
    let staging_shape = Shape {
        platform_columns: &[ALL_HASH, KEY_HASH],
        key_suffix: None,
    };
    let mut ddl = vec![Ddl {
        object: t.staging_name.clone(),
        statement: create_staging,
        shape: Some(staging_shape),
    }];
    for (i, (object, statement)) in create_merge.into_iter().enumerate() {
        // The first statement creates the merge table; the rest are its indexes.
        let shape = (i == 0).then_some(merge_shape);
        ddl.push(Ddl {
            object,
            statement,
            shape,
        });
    }
    ddl
}

fn columns(ds: &DatasetSchema) -> String {
    ds.columns
        .iter()
        .map(|c| {
            let null = if c.nullable { "" } else { " NOT NULL" };
            format!("    {} {}{null}", q(&c.name), c.data_type.pg_type())
        })
        .collect::<Vec<_>>()
        .join(",\n")
}
