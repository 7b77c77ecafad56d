//! The source snapshot: checking the source table, reading it, and writing it to staging.

use super::{ALL_HASH, KEY_HASH, Tables, q};

/// Session settings of every connection that reads or hashes rows. The row hashes are md5
/// of the row's text form; pinning these makes that text the same on every run, whatever
/// the server's or the role's defaults.
pub const SESSION_SETTINGS: &str = "SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; \
SET TimeZone = 'UTC'; SET extra_float_digits = 1; SET bytea_output = 'hex'";

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
    /// Run on the source: the rows cast to the model's types, with their row and key
    /// hashes, in binary COPY format.
    pub copy_out: String,
    /// Run on the merge database: loads what `copy_out` produced into staging.
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
    // ROW(…)::text quotes values holding separators and tells NULL from '', so two
    // different rows never hash the same text.
    let copy_out = format!(
        "-- Snapshot of {name}: every row cast to the model's types, with md5 hashes of the row and of its key.\n\
         COPY (SELECT {cols}, md5(ROW({cols})::text)::uuid, md5(ROW({keys})::text)::uuid \
         FROM (SELECT {casts} FROM {source}) AS r) TO STDOUT (FORMAT binary)",
        name = ds.name,
        cols = t.column_list("r"),
        keys = t.key_list("r"),
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
        copy_out,
        copy_in,
    }
}
