//! The source snapshot: checking the source table, reading it, and writing it to staging.

use super::{ALL_HASH, KEY_HASH, Tables, q};

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
    /// The source table's name as the model expects it (the dataset's name).
    pub source_table: String,
    /// `$1`: the quoted source table name → its oid as text, or NULL when it is missing.
    pub source_exists: String,
    /// `$1`: the quoted source table name → (name, type as `format_type` spells it,
    /// nullable) per column, in order.
    pub source_columns: String,
    /// `$1`: the quoted source table name → the column names of each of its unique,
    /// unconditional, plain-column indexes.
    pub source_unique_indexes: String,
    /// Run on the source: the rows cast to the model's types, in binary COPY format.
    pub copy_out: String,
    /// Run on the merge database: loads the rows of `copy_out`, each followed by its row
    /// and key hashes, into staging.
    pub copy_in: String,
}

pub(crate) fn snapshot(t: &Tables<'_>) -> SnapshotSql {
    let ds = t.dataset;
    let source = q(&ds.name);
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
    // The runtime appends the row and key hashes as the rows stream through.
    let copy_out = format!(
        "-- Snapshot of {name}: every row, cast to the model's types.\n\
         COPY (SELECT {casts} FROM {source}) TO STDOUT (FORMAT binary)",
        name = ds.name,
    );
    let copy_in = format!(
        "-- Load the snapshot of {name} into staging.\n\
         COPY {staging} ({cols}, {all}, {key}) FROM STDIN (FORMAT binary)",
        name = ds.name,
        staging = t.staging,
        cols = t.column_list(""),
        all = q(ALL_HASH),
        key = q(KEY_HASH),
    );
    SnapshotSql {
        source_table: ds.name.clone(),
        source_exists: "-- Does the source table exist?\nSELECT to_regclass($1)::oid::text".into(),
        source_columns: "-- The source table's columns, in order.\n\
             SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull \
             FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum"
            .into(),
        source_unique_indexes: "-- The source table's unique indexes, as lists of column names.\n\
             SELECT ARRAY(SELECT a.attname::text FROM unnest(i.indkey) AS k(n) \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n) \
             FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisunique \
             AND i.indpred IS NULL AND i.indexprs IS NULL"
            .into(),
        copy_out,
        copy_in,
    }
}
