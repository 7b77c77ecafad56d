//! The live merge: the merge table keeps the current row of every key (SCD1).

use super::{ALL_HASH, BATCH_ID, Counts, KEY_HASH, MergeStep, Tables, q};

/// Delete, update, insert — each counts exactly what its name says, and a row that did
/// not change is not written at all.
pub(crate) fn merge(t: &Tables<'_>) -> Vec<MergeStep> {
    let name = &t.dataset.name;
    let (merge, staging) = (&t.merge, &t.staging);
    let set = t
        .dataset
        .columns
        .iter()
        .filter(|c| !t.dataset.primary_key.contains(&c.name))
        .map(|c| format!("{n} = s.{n}", n = q(&c.name)))
        .chain([
            format!("{} = $1::integer", q(BATCH_ID)),
            format!("{a} = s.{a}", a = q(ALL_HASH)),
        ])
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        MergeStep {
            sql: format!(
                "-- Delete the rows of {name} whose key is gone from the snapshot.\n\
                 DELETE FROM {merge} AS m WHERE NOT EXISTS (SELECT 1 FROM {staging} AS s WHERE {eq})",
                eq = t.keys_equal("s", "m"),
            ),
            takes_batch: false,
            counts: Counts::Deleted,
        },
        MergeStep {
            sql: format!(
                "-- Update the rows of {name} whose values changed, marking them with this batch.\n\
                 UPDATE {merge} AS m SET {set} FROM {staging} AS s WHERE {eq} AND m.{all} <> s.{all}",
                eq = t.keys_equal("s", "m"),
                all = q(ALL_HASH),
            ),
            takes_batch: true,
            counts: Counts::Updated,
        },
        MergeStep {
            sql: format!(
                "-- Insert the rows of {name} whose key is new, marking them with this batch.\n\
                 INSERT INTO {merge} ({cols}, {batch}, {all}, {key}) \
                 SELECT {scols}, $1::integer, s.{all}, s.{key} FROM {staging} AS s \
                 WHERE NOT EXISTS (SELECT 1 FROM {merge} AS m WHERE {eq})",
                cols = t.column_list(""),
                scols = t.column_list("s"),
                batch = q(BATCH_ID),
                all = q(ALL_HASH),
                key = q(KEY_HASH),
                eq = t.keys_equal("m", "s"),
            ),
            takes_batch: true,
            counts: Counts::Inserted,
        },
    ]
}
