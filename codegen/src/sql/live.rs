//! The live merge: the merge table keeps the current row of every key (SCD1).

use super::diff::{self, CHANGES, OP};
use super::{ALL_HASH, BATCH_ID, Counts, KEY_HASH, MergeStep, Tables, q};

/// Finds the changes, then deletes, updates and inserts just those rows; each statement
/// counts exactly what its name says, and an unchanged row is never written.
pub(crate) fn merge(t: &Tables<'_>) -> Vec<MergeStep> {
    let name = &t.dataset.name;
    let (merge, changes, op) = (&t.merge, q(CHANGES), q(OP));
    let set = t
        .dataset
        .columns
        .iter()
        .filter(|c| !t.dataset.primary_key.contains(&c.name))
        .map(|c| format!("{n} = c.{n}", n = q(&c.name)))
        .chain([
            format!("{} = $1::integer", q(BATCH_ID)),
            format!("{a} = c.{a}", a = q(ALL_HASH)),
        ])
        .collect::<Vec<_>>()
        .join(", ");
    let mut steps = diff::find(t, false);
    steps.extend([
        MergeStep {
            sql: format!(
                "-- Delete the rows of {name} whose key is gone from the snapshot.\n\
                 DELETE FROM {merge} AS m USING {changes} AS c WHERE c.{op} = 'D' AND {eq}",
                eq = t.keys_equal("m", "c"),
            ),
            takes_batch: false,
            counts: Counts::Deleted,
        },
        MergeStep {
            sql: format!(
                "-- Update the rows of {name} whose values changed, marking them with this batch.\n\
                 UPDATE {merge} AS m SET {set} FROM {changes} AS c WHERE c.{op} = 'U' AND {eq}",
                eq = t.keys_equal("m", "c"),
            ),
            takes_batch: true,
            counts: Counts::Updated,
        },
        MergeStep {
            sql: format!(
                "-- Insert the rows of {name} whose key is new, marking them with this batch.\n\
                 INSERT INTO {merge} ({cols}, {batch}, {all}, {key}) \
                 SELECT {ccols}, $1::integer, c.{all}, c.{key} FROM {changes} AS c WHERE c.{op} = 'I'",
                cols = t.column_list(""),
                ccols = t.column_list("c"),
                batch = q(BATCH_ID),
                all = q(ALL_HASH),
                key = q(KEY_HASH),
            ),
            takes_batch: true,
            counts: Counts::Inserted,
        },
        diff::done(t),
    ]);
    steps
}

/// The merge when the merge table is empty: every snapshot row is new.
pub(crate) fn first_load(t: &Tables<'_>) -> Vec<MergeStep> {
    vec![MergeStep {
        sql: format!(
            "-- The merge table of {name} is empty: insert every row of the snapshot.\n\
             INSERT INTO {merge} ({cols}, {batch}, {all}, {key}) \
             SELECT {scols}, $1::integer, s.{all}, s.{key} FROM {staging} AS s",
            name = t.dataset.name,
            merge = t.merge,
            staging = t.staging,
            cols = t.column_list(""),
            scols = t.column_list("s"),
            batch = q(BATCH_ID),
            all = q(ALL_HASH),
            key = q(KEY_HASH),
        ),
        takes_batch: true,
        counts: Counts::Inserted,
    }]
}
