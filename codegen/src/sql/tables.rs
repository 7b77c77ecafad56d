//! DDL of a dataset's staging and merge tables.

use super::names::{
    ALL_HASH, BATCH_ID, BATCH_IN, BATCH_OUT, CURRENT, KEY_HASH, OP, Tables, literal, q,
};
use super::statement::{Ddl, PlatformColumn, Shape, Statement};
use super::typed::{Query, Single};
use crate::text::text;
use datasurface_model::{DatasetSchema, PlatformMode};

/// The platform columns of a staging table: the change of a key, with its hashes. Nullable:
/// a key gone from the source is staged with its key columns only.
const STAGING: &[PlatformColumn] = &[
    PlatformColumn::new(ALL_HASH, "uuid", true),
    PlatformColumn::new(KEY_HASH, "uuid", true),
    PlatformColumn::new(OP, "text", true),
];
const LIVE: &[PlatformColumn] = &[
    PlatformColumn::new(BATCH_ID, "integer", false),
    PlatformColumn::new(ALL_HASH, "uuid", false),
    PlatformColumn::new(KEY_HASH, "uuid", false),
];
const FORENSIC: &[PlatformColumn] = &[
    PlatformColumn::new(ALL_HASH, "uuid", false),
    PlatformColumn::new(KEY_HASH, "uuid", false),
    PlatformColumn::new(BATCH_IN, "integer", false),
    // CURRENT, spelled out for a const.
    PlatformColumn::new(BATCH_OUT, "integer", false).default("2147483647"),
];

/// How a merge table is laid out for the batches that write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Read whole, in key order, by every batch's diff (a store captured by snapshot): an
    /// order index holds each key with its row hash, so the diff reads it without visiting
    /// the table. On a live table whose key has no text column the primary key is that
    /// index (see [`key_holds_hash`]).
    Ordered,
    /// Probed by key, for the few keys a batch changed (a store captured by logical
    /// replication): no index holds a column a batch changes, and every page keeps a tenth
    /// of its space free, so an update stays on its page and writes no index entry (a HOT
    /// update) — a third of the log an update through the order index writes. The rare
    /// snapshot diff (a resync) reads the current rows through the primary key instead.
    Probed,
}

impl Layout {
    /// The layout of the merge tables of `store`.
    pub fn of(store: datasurface_model::Store<'_>) -> Self {
        match store.replication {
            Some(_) => Layout::Probed,
            None => Layout::Ordered,
        }
    }

    /// The table's storage parameters. An ordered table is vacuumed by the server's
    /// autovacuum once half a percent of its rows changed, not a fifth (the server's
    /// default): a page a batch changed is no longer all-visible, and the next batch's diff
    /// reads it as well as the order index until a vacuum marks it again — batches minutes
    /// apart leave autovacuum that time.
    fn storage(self) -> &'static str {
        match self {
            Layout::Ordered => " WITH (autovacuum_vacuum_scale_factor = 0.005)",
            Layout::Probed => " WITH (fillfactor = 90)",
        }
    }
}

/// The statements that create a dataset's staging table, merge table and its indexes.
pub(crate) fn ddl(t: &Tables<'_>, mode: PlatformMode, layout: Layout) -> Vec<Ddl> {
    let ds = t.dataset;
    let create_staging = Statement::new(
        text!(
            "The changes of {} the open batch found: the rows of new and changed keys, the keys of \
             gone ones. Unlogged: no WAL for a table rewritten every batch; a server crash empties it, \
             and the merge then notices and takes the snapshot again",
            ds.name
        ),
        format_args!(
            "CREATE UNLOGGED TABLE IF NOT EXISTS {staging} (\n{columns}\n)",
            staging = t.staging,
            columns = columns(ds, true, STAGING),
        ),
    );
    let (platform_columns, merge) = match mode {
        PlatformMode::Live => (
            LIVE,
            Statement::new(
                text!(
                    "The current row of every key of {}, with the batch that last wrote it",
                    ds.name
                ),
                format_args!(
                    "CREATE TABLE IF NOT EXISTS {merge} (\n{columns},\n    PRIMARY KEY ({keys}){include}\n){storage}",
                    merge = t.merge,
                    columns = columns(ds, false, LIVE),
                    keys = t.key_list(""),
                    include = include_hash(t, mode, layout),
                    storage = layout.storage(),
                ),
            ),
        ),
        PlatformMode::Forensic => (
            FORENSIC,
            Statement::new(
                text!(
                    "Every version of every key of {}: current from batch {} to batch {} ({CURRENT} while current)",
                    ds.name,
                    q(BATCH_IN),
                    q(BATCH_OUT)
                ),
                format_args!(
                    "CREATE TABLE IF NOT EXISTS {merge} (\n{columns},\n    PRIMARY KEY ({keys}, {batch_in})\n){storage}",
                    merge = t.merge,
                    columns = columns(ds, false, FORENSIC),
                    batch_in = q(BATCH_IN),
                    keys = t.key_list(""),
                    storage = layout.storage(),
                ),
            ),
        ),
    };
    let mut ddl = vec![
        Ddl {
            object: t.staging_name.clone(),
            statement: create_staging,
            shape: Some(Shape {
                platform_columns: STAGING,
                nullable: true,
                key_suffix: None,
            }),
        },
        Ddl {
            object: t.merge_name.clone(),
            statement: merge,
            shape: Some(Shape {
                platform_columns,
                nullable: false,
                key_suffix: Some(match mode {
                    PlatformMode::Live => &[],
                    PlatformMode::Forensic => &[BATCH_IN],
                }),
            }),
        },
    ];
    if needs_order_index(t, mode, layout) {
        ddl.push(Ddl {
            object: t.order_index_name.clone(),
            statement: order_index(t, mode),
            shape: None,
        });
    }
    ddl
}

/// Whether the primary key of the merge table is the index a batch reads the current rows
/// through, holding each row's hash beside its key: on a live table of an ordered layout
/// whose key has no text column, the key's own order is the one batches compare keys in
/// (only text sorts otherwise, by its bytes), so a second index on the same columns would
/// only double what the first load builds and what every changed row writes. A forensic
/// table's primary key also holds the versions that are no longer current, so its order
/// index stays apart.
fn key_holds_hash(t: &Tables<'_>, mode: PlatformMode, layout: Layout) -> bool {
    mode == PlatformMode::Live
        && layout == Layout::Ordered
        && t.dataset.key_columns().all(|c| !c.data_type.is_text())
}

/// ` INCLUDE (ds_surf_all_hash)` where the primary key holds the row hash, else nothing.
fn include_hash(t: &Tables<'_>, mode: PlatformMode, layout: Layout) -> String {
    match key_holds_hash(t, mode, layout) {
        true => text!(" INCLUDE ({})", q(ALL_HASH)),
        false => String::new(),
    }
}

/// Whether the merge table has an order index of its own.
fn needs_order_index(t: &Tables<'_>, mode: PlatformMode, layout: Layout) -> bool {
    layout == Layout::Ordered && !key_holds_hash(t, mode, layout)
}

/// The index a batch reads the current rows through: in the order it compares keys, with
/// each row's hash (and, on a forensic platform, at most one current version per key).
fn order_index(t: &Tables<'_>, mode: PlatformMode) -> Statement {
    let (what, only_current) = match mode {
        PlatformMode::Live => (
            text!(
                "The rows of {} in the order batches compare keys, each with its row hash",
                t.dataset.name
            ),
            String::new(),
        ),
        PlatformMode::Forensic => (
            text!(
                "At most one current version per key of {}, in the order batches compare keys, each \
                 with its row hash",
                t.dataset.name
            ),
            text!(" WHERE {} = {CURRENT}", q(BATCH_OUT)),
        ),
    };
    Statement::new(
        what,
        format_args!(
            "CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {merge} ({order}) INCLUDE ({all}){only_current}",
            index = t.order_index,
            merge = t.merge,
            order = t.key_order(&|_| false),
            all = q(ALL_HASH),
        ),
    )
}

/// A first load into an empty merge table, in the batch's transaction: its indexes are
/// dropped before the rows go in and built after — one sorted build each instead of an
/// insert per row. Dropping them locks the (empty) table until the batch commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkLoad {
    /// Whether the merge table has no row at all.
    pub empty: Query<(), Single<bool>>,
    /// Drops the order index and the primary key.
    pub drop_indexes: Statement,
    /// Empties the (row-less) table in the load's transaction: what lets the load write
    /// its rows frozen ([`SnapshotSql::copy_in_frozen`]).
    ///
    /// [`SnapshotSql::copy_in_frozen`]: super::SnapshotSql::copy_in_frozen
    pub truncate: Statement,
    /// Run before [`BulkLoad::build_indexes`]: a savepoint to come back to when the primary
    /// key's build finds a key the snapshot held twice, with the rows still loaded.
    pub before_indexes: Statement,
    /// Builds them again: the primary key, then the order index of an ordered layout that
    /// needs one apart from it.
    pub build_indexes: Vec<Statement>,
    /// Back to [`BulkLoad::before_indexes`] after a build failed.
    pub undo_indexes: Statement,
    /// The keys the loaded rows hold more than once, in the order the diff compares keys,
    /// each with how many rows too many it has (`int8`), in binary COPY format.
    pub duplicates: Statement,
    /// The loaded table's statistics, so that the next batch plans its joins on them
    /// rather than on guesses until the server's autovacuum gets to the table.
    pub analyze: Statement,
}

/// The savepoint of a first load's index builds.
const FIRST_LOAD: &str = "ds_surf_first_load";

pub(crate) fn bulk_load(t: &Tables<'_>, mode: PlatformMode, layout: Layout) -> BulkLoad {
    let name = &t.dataset.name;
    let keys = match mode {
        PlatformMode::Live => t.key_list(""),
        PlatformMode::Forensic => text!("{}, {}", t.key_list(""), q(BATCH_IN)),
    };
    BulkLoad {
        empty: Query::new(
            text!("Whether {} has no row at all", t.merge),
            format_args!("SELECT NOT EXISTS (SELECT 1 FROM {})", t.merge),
        ),
        drop_indexes: Statement::new(
            text!("Drop the indexes of the empty merge table of {name} for its first load"),
            format_args!(
                "DROP INDEX IF EXISTS {index}; \
                 DO $$ BEGIN EXECUTE (SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', {table}, conname) \
                 FROM pg_constraint WHERE conrelid = {table}::regclass AND contype = 'p'); END $$",
                index = t.order_index,
                table = literal(&t.merge),
            ),
        ),
        truncate: Statement::new(
            text!("Empty the merge table of {name} in the first load's transaction"),
            format_args!("TRUNCATE {}", t.merge),
        ),
        before_indexes: Statement::new(
            text!("Come back here if the snapshot of {name} holds a key twice"),
            format_args!("SAVEPOINT {FIRST_LOAD}"),
        ),
        build_indexes: std::iter::once(Statement::new(
            text!("The primary key of {name}, built after its first load"),
            format_args!(
                "ALTER TABLE {} ADD PRIMARY KEY ({keys}){}",
                t.merge,
                include_hash(t, mode, layout)
            ),
        ))
        .chain(needs_order_index(t, mode, layout).then(|| order_index(t, mode)))
        .collect(),
        undo_indexes: Statement::new(
            text!("Undo the failed index build of {name}, its rows still loaded"),
            format_args!("ROLLBACK TO SAVEPOINT {FIRST_LOAD}"),
        ),
        duplicates: Statement::new(
            text!("The keys of {name} its first load holds more than once"),
            format_args!(
                "COPY (SELECT {keys}, (count(*) - 1)::int8 FROM {merge} GROUP BY {keys} \
                 HAVING count(*) > 1 ORDER BY {order}) TO STDOUT (FORMAT binary)",
                keys = t.key_list(""),
                merge = t.merge,
                order = t.key_order(&|_| false),
            ),
        ),
        analyze: Statement::new(
            text!(
                "The statistics of the columns the merges of {name} select on, after its first load"
            ),
            format_args!("ANALYZE {} ({})", t.merge, planned_columns(t, mode)),
        ),
    }
}

/// The columns the merge statements join and filter a merge table on: its key, and on a
/// forensic table the batches that bound a version. A first load gathers their statistics
/// alone (at 1,000,000 rows 0.11 s instead of 0.24 s for every column); an `ANALYZE` of some
/// columns leaves the table counted as changed since its last analysis, so the server's
/// autovacuum gathers the rest soon after, outside the batch.
fn planned_columns(t: &Tables<'_>, mode: PlatformMode) -> String {
    match mode {
        PlatformMode::Live => t.key_list(""),
        PlatformMode::Forensic => text!("{}, {}, {}", t.key_list(""), q(BATCH_IN), q(BATCH_OUT)),
    }
}

/// The column definitions of a table of `ds`: its columns (each nullable when `nullable`),
/// then the platform's.
fn columns(ds: &DatasetSchema, nullable: bool, platform: &[PlatformColumn]) -> String {
    let not_null = |null: bool| if null { "" } else { " NOT NULL" };
    ds.columns
        .iter()
        .map(|c| {
            text!(
                "    {} {}{}",
                q(&c.name),
                c.data_type.pg_type(),
                not_null(nullable || c.nullable)
            )
        })
        .chain(
            platform
                .iter()
                .map(|p| text!("    {} {}", q(p.name), p.definition())),
        )
        .collect::<Vec<_>>()
        .join(",\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_of_batch_out_is_current() {
        assert_eq!(FORENSIC[3].default, Some(CURRENT.to_string().as_str()));
    }
}
