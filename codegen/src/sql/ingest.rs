//! The snapshot: the source's rows in key order, the merge table's current rows in the same
//! order, and where the runtime writes what it found between them.

use super::names::{
    ALL_HASH, BATCH_ID, BATCH_IN, BATCH_OUT, CURRENT, KEY_HASH, OP, SourceTable, Tables, key_order,
    q,
};
use super::statement::Statement;
use super::typed::{Query, Single};
use crate::text::text;
use datasurface_model::{Column, DatasetSchema, PlatformMode};

/// Session settings of every connection: text forms that do not depend on the server's
/// or the role's defaults; memory enough to sort a snapshot by key; and the random-read cost
/// of SSDs, so the writes of a few changed keys look them up by index instead of scanning the
/// merge table (measured: 0.16 s instead of 0.26 s to close 7,500 versions among 1,000,000).
pub const SESSION_SETTINGS: &str = "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; \
SET TimeZone = 'UTC'; SET extra_float_digits = 1; SET bytea_output = 'hex'; SET work_mem = '256MB'; \
SET random_page_cost = 1.1";

/// The statements of one dataset's snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSql {
    /// The source table.
    pub source: SourceTable,
    /// Run on the source first thing in the snapshot's transaction, before any query takes
    /// the snapshot: waits for a concurrent `TRUNCATE` or table rewrite (which are not
    /// MVCC-safe) to commit, so the snapshot sees the table after it, never empty.
    pub lock: Statement,
    /// Run on the source: every row cast to the model's types, in key order, in binary COPY
    /// format. (See [`SnapshotSql::copy_out_for`] for the form the runtime runs.)
    pub copy_out: Statement,
    /// Run on the source for a first load into an empty merge table: every row cast to the
    /// model's types, in the order the table holds them. Nothing is compared, so nothing
    /// needs sorting on the producer's server; the merge table's index builds sort, and a
    /// key held twice fails its primary key ([`BulkLoad::duplicates`] then finds it).
    ///
    /// [`BulkLoad::duplicates`]: super::BulkLoad::duplicates
    pub copy_out_unordered: Statement,
    /// Run on the merge database, on the connection that reads the current rows, before it
    /// reads them: through an index in key order (the order index of an ordered layout, the
    /// primary key of a probed one), never a sort where the index gives the order.
    pub current_settings: Statement,
    /// Run on the merge database: the key and row hash of every current row, in the same
    /// key order.
    pub current: Statement,
    /// Run on the merge database: loads the changes into staging — the rows of new and
    /// changed keys followed by their row and key hashes, the key columns of gone keys —
    /// each with what to do with it (`I`, `U`, `D`).
    pub copy_in: Statement,
    /// The first load, when the merge table has no current row: loads every row of the
    /// snapshot straight into the merge table, with its hashes and the batch's stamps.
    pub copy_in_first: Statement,
    /// [`SnapshotSql::copy_in_first`] into a merge table emptied in the same transaction:
    /// the rows are written frozen and their pages all-visible, so the next batch reads the
    /// order index without visiting the table, and no later read rewrites the pages to set
    /// the rows' hint bits.
    pub copy_in_frozen: Statement,
    order: SourceOrder,
}

impl SnapshotSql {
    /// The snapshot's `COPY`, ordered by key (see [`SourceOrder::copy_out`]).
    pub fn copy_out_for(&self, sorts_by_bytes: &dyn Fn(&str) -> bool) -> Statement {
        self.order.copy_out(sorts_by_bytes)
    }
}

/// The memory a batch's source session may sort in, as [`SESSION_SETTINGS`] sets it: a
/// snapshot whose order no index gives sorts beyond it in temporary files.
pub const SORT_MEMORY_BYTES: i64 = 256 << 20;

/// How a dataset's source table is read in the order the runtime compares keys by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOrder {
    source: String,
    name: String,
    /// Every column cast to the model's type.
    casts: String,
    keys: Vec<Column>,
}

impl SourceOrder {
    /// The order of `ds`'s table in schema `schema`.
    pub fn new(ds: &DatasetSchema, schema: &str) -> Self {
        let casts = ds
            .columns
            .iter()
            .map(|c| {
                text!(
                    "{name}::{ty} AS {name}",
                    name = q(&c.name),
                    ty = c.data_type.pg_type()
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        SourceOrder {
            source: SourceTable::new(schema, &ds.name).quoted,
            name: ds.name.clone(),
            casts,
            keys: ds.key_columns().cloned().collect(),
        }
    }

    /// The key columns in the order clause: text keys whose source column already sorts
    /// in byte order (a `C` collation) as they are, so the source's own index can give the
    /// order; other text keys with `COLLATE "C"`.
    fn order_by(&self, sorts_by_bytes: &dyn Fn(&str) -> bool) -> String {
        key_order(&self.keys, sorts_by_bytes)
    }

    /// The snapshot's `COPY` for a first load: every row cast to the model's types, in the
    /// order the table holds them.
    fn copy_out_unordered(&self) -> Statement {
        Statement::new(
            text!(
                "Snapshot of {} for a first load: every row, cast to the model's types, as the table holds them",
                self.name
            ),
            format_args!(
                "COPY (SELECT {} FROM {}) TO STDOUT (FORMAT binary)",
                self.casts, self.source
            ),
        )
    }

    /// The snapshot's `COPY`: every row cast to the model's types, in key order.
    pub fn copy_out(&self, sorts_by_bytes: &dyn Fn(&str) -> bool) -> Statement {
        Statement::new(
            text!(
                "Snapshot of {}: every row, cast to the model's types, in key order",
                self.name
            ),
            format_args!(
                "COPY (SELECT {} FROM {} ORDER BY {}) TO STDOUT (FORMAT binary)",
                self.casts,
                self.source,
                self.order_by(sorts_by_bytes)
            ),
        )
    }

    /// Rules sorting out of the session's plans while it stays possible: what the planner
    /// then still sorts, no index can give in order.
    pub fn forbid_sort() -> Statement {
        Statement::new(
            "Plan without sorting where an index can give the order",
            "SET enable_sort = off",
        )
    }

    /// Undoes [`SourceOrder::forbid_sort`].
    pub fn allow_sort() -> Statement {
        Statement::new("Plan sorts again", "RESET enable_sort")
    }

    /// The plan of the snapshot's query, one line a row (`EXPLAIN (COSTS OFF)`).
    pub fn plan(&self, sorts_by_bytes: &dyn Fn(&str) -> bool) -> Query<(), Single<String>> {
        Query::new(
            text!("The plan of the snapshot of {} in key order", self.name),
            format_args!(
                "EXPLAIN (COSTS OFF) SELECT {} FROM {} ORDER BY {}",
                self.casts,
                self.source,
                self.order_by(sorts_by_bytes)
            ),
        )
    }

    /// The index that gives the key order, for the source's owner to create: built
    /// without blocking writes, except on a `partitioned` table, where PostgreSQL builds one
    /// on each partition in turn, blocking writes to it meanwhile.
    pub fn index(&self, sorts_by_bytes: &dyn Fn(&str) -> bool, partitioned: bool) -> String {
        let concurrently = if partitioned { "" } else { " CONCURRENTLY" };
        text!(
            "CREATE INDEX{concurrently} ON {} ({})",
            self.source,
            self.order_by(sorts_by_bytes)
        )
    }
}

pub(crate) fn snapshot(t: &Tables<'_>, schema: &str, mode: PlatformMode) -> SnapshotSql {
    let ds = t.dataset;
    let table = SourceTable::new(schema, &ds.name);
    let source = table.quoted.clone();
    let order = SourceOrder::new(ds, schema);
    let (all, key) = (q(ALL_HASH), q(KEY_HASH));
    let current = match mode {
        PlatformMode::Live => String::new(),
        PlatformMode::Forensic => text!(" WHERE {} = {CURRENT}", q(BATCH_OUT)),
    };
    let stamps = match mode {
        PlatformMode::Live => q(BATCH_ID),
        PlatformMode::Forensic => text!("{}, {}", q(BATCH_IN), q(BATCH_OUT)),
    };
    let first_load = |options: &str| {
        text!(
            "COPY {merge} ({cols}, {all}, {key}, {stamps}) FROM STDIN (FORMAT binary{options})",
            merge = t.merge,
            cols = t.column_list(""),
        )
    };
    SnapshotSql {
        source: table,
        lock: Statement::new(
            text!(
                "Wait for concurrent truncates and rewrites of {} to commit before the snapshot is taken",
                ds.name
            ),
            format_args!("LOCK TABLE {source} IN ACCESS SHARE MODE"),
        ),
        copy_out: order.copy_out(&|_| false),
        copy_out_unordered: order.copy_out_unordered(),
        current_settings: Statement::new(
            "Read the current rows through an index in key order: no sort, no parallel workers",
            "SET enable_sort = off; SET max_parallel_workers_per_gather = 0",
        ),
        current: Statement::new(
            text!(
                "The key and row hash of every current row of {}, in key order",
                ds.name
            ),
            format_args!(
                "COPY (SELECT {keys}, {all} FROM {merge}{current} ORDER BY {order}) TO STDOUT (FORMAT binary)",
                keys = t.key_list(""),
                merge = t.merge,
                order = t.key_order(&|_| false),
            ),
        ),
        copy_in: Statement::new(
            text!("Load the changes of {} into staging", ds.name),
            format_args!(
                "COPY {staging} ({cols}, {all}, {key}, {op}) FROM STDIN (FORMAT binary)",
                staging = t.staging,
                cols = t.column_list(""),
                op = q(OP),
            ),
        ),
        copy_in_first: Statement::new(
            text!(
                "First load of {}: every row of the snapshot straight into the merge table",
                ds.name
            ),
            first_load(""),
        ),
        copy_in_frozen: Statement::new(
            text!(
                "First load of {} into its emptied merge table: every row of the snapshot, written frozen",
                ds.name
            ),
            first_load(", FREEZE"),
        ),
        order,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_that_gives_the_order_is_built_concurrently_where_postgres_can() {
        let ds = DatasetSchema::new("t")
            .column(datasurface_model::Column::new(
                "id",
                datasurface_model::DataType::Text,
            ))
            .column(datasurface_model::Column::new(
                "n",
                datasurface_model::DataType::Integer,
            ))
            .key(["id", "n"]);
        let order = SourceOrder::new(&ds, "public");
        assert_eq!(
            order.index(&|_| false, false),
            r#"CREATE INDEX CONCURRENTLY ON "public"."t" ("id" COLLATE "C", "n")"#
        );
        assert_eq!(
            order.index(&|c| c == "id", true),
            r#"CREATE INDEX ON "public"."t" ("id", "n")"#
        );
    }

    #[test]
    fn the_sort_memory_is_the_one_the_session_sets() {
        let mib = SORT_MEMORY_BYTES >> 20;
        assert!(SESSION_SETTINGS.contains(&format!("SET work_mem = '{mib}MB'")));
    }
}
