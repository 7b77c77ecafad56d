//! The live merge: the merge table keeps the current row of every key (SCD1).

use super::names::{ALL_HASH, BATCH_ID, KEY_HASH, OP, Op, Tables, ThisBatch, q};
use super::statement::{Counts, MergeStep};
use super::typed::Query;
use crate::text::text;
use datasurface_model::PlatformMode;

/// Deletes the gone keys, updates the changed rows and inserts the new keys that staging
/// holds; each statement counts exactly what its name says. Unchanged rows never reach
/// staging, so they are never written.
pub(crate) fn merge(t: &Tables<'_>) -> Vec<MergeStep> {
    let name = &t.dataset.name;
    let (merge, staging, op) = (&t.merge, &t.staging, q(OP));
    // Key columns (and the key hash) are written too: a key can equal another by `=` and
    // still differ in value (`-0` and `0` as double, `1.0` and `1.00` as numeric), and the
    // row must be the source's.
    let set = t
        .dataset
        .columns
        .iter()
        .map(|c| text!("{n} = c.{n}", n = q(&c.name)))
        .chain([
            text!("{} = {}::integer", q(BATCH_ID), ThisBatch::batch),
            text!("{a} = c.{a}", a = q(ALL_HASH)),
            text!("{k} = c.{k}", k = q(KEY_HASH)),
        ])
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        MergeStep::Plain {
            query: Query::new(
                text!("Delete the rows of {name} whose key is gone from the snapshot"),
                format_args!(
                    "DELETE FROM {merge} AS m USING {staging} AS c WHERE c.{op} = {gone} AND {eq}",
                    gone = Op::Delete.literal(),
                    eq = t.keys_equal("m", "c"),
                ),
            ),
            counts: Counts::Deleted,
        },
        MergeStep::Stamped {
            query: Query::new(
                text!(
                    "Update the rows of {name} whose values changed, marking them with this batch"
                ),
                format_args!(
                    "UPDATE {merge} AS m SET {set} FROM {staging} AS c WHERE c.{op} = {changed} AND {eq}",
                    changed = Op::Update.literal(),
                    eq = t.keys_equal("m", "c"),
                ),
            ),
            counts: Counts::Updated,
        },
        MergeStep::Stamped {
            query: Query::new(
                text!("Insert the rows of {name} whose key is new, marking them with this batch"),
                t.insert_rows(
                    PlatformMode::Live,
                    staging,
                    "c",
                    &text!(" WHERE c.{op} = {}", Op::Insert.literal()),
                ),
            ),
            counts: Counts::Inserted,
        },
    ]
}
