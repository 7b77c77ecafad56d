//! The forensic merge: every version of every key, with the batches it was current in
//! (SCD2). A version changed or deleted in batch B was last current in B-1.

use super::names::{BATCH_IN, BATCH_OUT, CURRENT, OP, Op, Tables, ThisBatch, q};
use super::statement::{Closed, Counts, MergeStep};
use super::typed::Query;
use crate::text::text;
use datasurface_model::PlatformMode;

/// Closes the current versions of the changed and gone keys staging holds, and adds a
/// current version for every new or changed key.
pub(crate) fn merge(t: &Tables<'_>) -> Vec<MergeStep> {
    let name = &t.dataset.name;
    let (merge, changes, op) = (&t.merge, &t.staging, q(OP));
    let out = q(BATCH_OUT);
    let (new, changed, gone) = (
        Op::Insert.literal(),
        Op::Update.literal(),
        Op::Delete.literal(),
    );
    vec![
        MergeStep::Close(Query::new(
            text!(
                "Close the current versions of {name} whose values changed or whose key is gone: they were last \
                 current in the previous batch. Counts (changed, gone)"
            ),
            format_args!(
                "WITH closed AS (UPDATE {merge} AS m SET {out} = {batch}::integer - 1 FROM {changes} AS c \
                 WHERE c.{op} IN ({changed}, {gone}) AND m.{out} = {CURRENT} AND {eq} RETURNING c.{op} AS op) \
                 SELECT {counts} FROM closed",
                batch = ThisBatch::batch,
                eq = t.keys_equal("m", "c"),
                counts = Closed::select_list(),
            ),
        )),
        MergeStep::Stamped {
            query: Query::new(
                text!("Insert a current version of {name} for every new or changed key"),
                t.insert_rows(
                    PlatformMode::Forensic,
                    changes,
                    "c",
                    &text!(" WHERE c.{op} IN ({new}, {changed})"),
                ),
            ),
            counts: Counts::InsertedAndUpdated,
        },
    ]
}

/// Rewinds to the state after a batch: versions created after it go, versions closed after
/// it are current again.
pub(crate) fn rewind(t: &Tables<'_>) -> [Query<ThisBatch>; 2] {
    let name = &t.dataset.name;
    let merge = &t.merge;
    let (bin, out) = (q(BATCH_IN), q(BATCH_OUT));
    [
        Query::new(
            text!("Remove the versions of {name} created after the batch rewound to"),
            format_args!(
                "DELETE FROM {merge} WHERE {bin} > {}::integer",
                ThisBatch::batch
            ),
        ),
        Query::new(
            text!(
                "Make current again the versions of {name} that were current in the batch rewound to"
            ),
            format_args!(
                "UPDATE {merge} SET {out} = {CURRENT} WHERE {out} >= {batch}::integer AND {out} <> {CURRENT}",
                batch = ThisBatch::batch,
            ),
        ),
    ]
}
