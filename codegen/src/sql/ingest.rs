//! The source snapshot: reading the source table, and writing it to staging.

use super::names::{ALL_HASH, KEY_HASH, Tables, q};
use super::statement::Statement;

/// Session settings of every connection: text forms that do not depend on the server's
/// or the role's defaults; memory enough for the diff's hash join of snapshot and current
/// rows; and the random-read cost of SSDs, so the writes of a few changed keys look them up
/// by index instead of scanning the merge table (measured: 0.16 s instead of 0.26 s to
/// close 7,500 versions among 1,000,000).
pub const SESSION_SETTINGS: &str = "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; \
SET TimeZone = 'UTC'; SET extra_float_digits = 1; SET bytea_output = 'hex'; SET work_mem = '256MB'; \
SET random_page_cost = 1.1";

/// The statements of one dataset's snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSql {
    /// The source table as messages name it: `schema.table`.
    pub source_table: String,
    /// The source table quoted and qualified with its schema (`"public"."customers"`): the
    /// `$1` of the [catalog](super::catalog) queries.
    pub source_quoted: String,
    /// Run on the source first thing in the snapshot's transaction, before any query takes
    /// the snapshot: waits for a concurrent `TRUNCATE` or table rewrite (which are not
    /// MVCC-safe) to commit, so the snapshot sees the table after it, never empty.
    pub lock: Statement,
    /// Run on the source: the rows cast to the model's types, in binary COPY format.
    pub copy_out: Statement,
    /// Run on the merge database: loads the rows of `copy_out`, each followed by its row
    /// and key hashes, into staging.
    pub copy_in: Statement,
}

pub(crate) fn snapshot(t: &Tables<'_>, schema: &str) -> SnapshotSql {
    let ds = t.dataset;
    let source = format!("{}.{}", q(schema), q(&ds.name));
    let casts = ds
        .columns
        .iter()
        .map(|c| {
            format!(
                "{name}::{ty} AS {name}",
                name = q(&c.name),
                ty = c.data_type.pg_type()
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    SnapshotSql {
        source_table: format!("{schema}.{}", ds.name),
        lock: Statement::new(
            format!(
                "Wait for concurrent truncates and rewrites of {} to commit before the snapshot is taken",
                ds.name
            ),
            format!("LOCK TABLE {source} IN ACCESS SHARE MODE"),
        ),
        // The runtime appends the row and key hashes as the rows stream through.
        copy_out: Statement::new(
            format!(
                "Snapshot of {}: every row, cast to the model's types",
                ds.name
            ),
            format!("COPY (SELECT {casts} FROM {source}) TO STDOUT (FORMAT binary)"),
        ),
        copy_in: Statement::new(
            format!("Load the snapshot of {} into staging", ds.name),
            format!(
                "COPY {staging} ({cols}, {all}, {key}) FROM STDIN (FORMAT binary)",
                staging = t.staging,
                cols = t.column_list(""),
                all = q(ALL_HASH),
                key = q(KEY_HASH),
            ),
        ),
        source_quoted: source,
    }
}
