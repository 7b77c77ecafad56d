//! The live merge: the merge table keeps the current row of every key (SCD1).

use super::diff::{self, CHANGES, OP};
use super::{ALL_HASH, BATCH_ID, Counts, MergeStep, Tables, q};
use datasurface_model::PlatformMode;

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
                "-- Insert the rows of {name} whose key is new, marking them with this batch.\n{}",
                t.insert_rows(
                    PlatformMode::Live,
                    &changes,
                    "c",
                    &format!(" WHERE c.{op} = 'I'")
                )
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
            "-- The merge table of {} is empty: insert every row of the snapshot.\n{}",
            t.dataset.name,
            t.insert_rows(PlatformMode::Live, &t.staging, "s", "")
        ),
        takes_batch: true,
        counts: Counts::Inserted,
    }]
}
