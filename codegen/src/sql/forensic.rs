//! The forensic merge: every version of every key, with the batches it was current in
//! (SCD2). A version changed or deleted in batch B was last current in B-1.

use super::diff::{self, CHANGES, OP};
use super::{ALL_HASH, BATCH_IN, BATCH_OUT, CURRENT, Counts, KEY_HASH, MergeStep, Tables, q};

/// Finds the changes, then closes the current versions of changed and gone keys, and adds a
/// current version for every new or changed key.
pub(crate) fn merge(t: &Tables<'_>) -> Vec<MergeStep> {
    let name = &t.dataset.name;
    let (merge, changes, op) = (&t.merge, q(CHANGES), q(OP));
    let (out, all) = (q(BATCH_OUT), q(ALL_HASH));
    let mut steps = diff::find(t, true);
    steps.extend([
        MergeStep {
            sql: format!(
                "-- Close the current versions of {name} whose values changed or whose key is gone: they were last current \
                 in the previous batch. Counts (changed, gone).\n\
                 WITH closed AS (UPDATE {merge} AS m SET {out} = $1::integer - 1 FROM {changes} AS c \
                 WHERE c.{op} IN ('U', 'D') AND m.{out} = {CURRENT} AND {eq} RETURNING c.{op} AS op) \
                 SELECT count(*) FILTER (WHERE op = 'U'), count(*) FILTER (WHERE op = 'D') FROM closed",
                eq = t.keys_equal("m", "c"),
            ),
            takes_batch: true,
            counts: Counts::UpdatedAndDeleted,
        },
        MergeStep {
            sql: format!(
                "-- Insert a current version of {name} for every new or changed key.\n\
                 INSERT INTO {merge} ({cols}, {all}, {key}, {bin}, {out}) \
                 SELECT {ccols}, c.{all}, c.{key}, $1::integer, {CURRENT} FROM {changes} AS c WHERE c.{op} IN ('I', 'U')",
                cols = t.column_list(""),
                ccols = t.column_list("c"),
                key = q(KEY_HASH),
                bin = q(BATCH_IN),
            ),
            takes_batch: true,
            counts: Counts::InsertedAndUpdated,
        },
        diff::done(t),
    ]);
    steps
}

/// The merge when no version is current: every snapshot row is a new key.
pub(crate) fn first_load(t: &Tables<'_>) -> Vec<MergeStep> {
    vec![MergeStep {
        sql: format!(
            "-- No version of {name} is current: insert every row of the snapshot as a new version.\n\
             INSERT INTO {merge} ({cols}, {all}, {key}, {bin}, {out}) \
             SELECT {scols}, s.{all}, s.{key}, $1::integer, {CURRENT} FROM {staging} AS s",
            name = t.dataset.name,
            merge = t.merge,
            staging = t.staging,
            cols = t.column_list(""),
            scols = t.column_list("s"),
            all = q(ALL_HASH),
            key = q(KEY_HASH),
            bin = q(BATCH_IN),
            out = q(BATCH_OUT),
        ),
        takes_batch: true,
        counts: Counts::Inserted,
    }]
}

/// Rewinds to the state after batch `$1`: versions created after it go, versions closed
/// after it are current again.
pub(crate) fn rewind(t: &Tables<'_>) -> [String; 2] {
    let name = &t.dataset.name;
    let merge = &t.merge;
    let (bin, out) = (q(BATCH_IN), q(BATCH_OUT));
    [
        format!(
            "-- Remove the versions of {name} created after the batch rewound to.\n\
             DELETE FROM {merge} WHERE {bin} > $1::integer"
        ),
        format!(
            "-- Make current again the versions of {name} that were current in the batch rewound to.\n\
             UPDATE {merge} SET {out} = {CURRENT} WHERE {out} >= $1::integer AND {out} <> {CURRENT}"
        ),
    ]
}
