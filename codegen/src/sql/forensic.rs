//! The forensic merge: every version of every key, with the batches it was current in
//! (SCD2). A version changed or deleted in batch B was last current in B-1.

use super::{ALL_HASH, BATCH_IN, BATCH_OUT, CURRENT, Counts, KEY_HASH, MergeStep, Tables, q};

/// Close changed versions, close deleted ones, then add a current version for every key
/// that has none: the new keys and the keys just closed as changed.
pub(crate) fn merge(t: &Tables<'_>) -> Vec<MergeStep> {
    let name = &t.dataset.name;
    let (merge, staging) = (&t.merge, &t.staging);
    let (out, all) = (q(BATCH_OUT), q(ALL_HASH));
    vec![
        MergeStep {
            sql: format!(
                "-- Close the current versions of {name} whose values changed: they were last current in the previous batch.\n\
                 UPDATE {merge} AS m SET {out} = $1::integer - 1 FROM {staging} AS s \
                 WHERE m.{out} = {CURRENT} AND {eq} AND m.{all} <> s.{all}",
                eq = t.keys_equal("s", "m"),
            ),
            takes_batch: true,
            counts: Counts::Updated,
        },
        MergeStep {
            sql: format!(
                "-- Close the current versions of {name} whose key is gone from the snapshot.\n\
                 UPDATE {merge} AS m SET {out} = $1::integer - 1 \
                 WHERE m.{out} = {CURRENT} AND NOT EXISTS (SELECT 1 FROM {staging} AS s WHERE {eq})",
                eq = t.keys_equal("s", "m"),
            ),
            takes_batch: true,
            counts: Counts::Deleted,
        },
        MergeStep {
            sql: format!(
                "-- Insert a current version of {name} for every key without one: new keys, and keys whose version was just closed.\n\
                 INSERT INTO {merge} ({cols}, {all}, {key}, {bin}, {out}) \
                 SELECT {scols}, s.{all}, s.{key}, $1::integer, {CURRENT} FROM {staging} AS s \
                 WHERE NOT EXISTS (SELECT 1 FROM {merge} AS m WHERE m.{out} = {CURRENT} AND {eq})",
                cols = t.column_list(""),
                scols = t.column_list("s"),
                key = q(KEY_HASH),
                bin = q(BATCH_IN),
                eq = t.keys_equal("m", "s"),
            ),
            takes_batch: true,
            counts: Counts::InsertedAndUpdated,
        },
    ]
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
