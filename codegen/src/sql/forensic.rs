//! The forensic merge: every version of every key, with the batches it was current in
//! (SCD2). A version changed or deleted in batch B was last current in B-1.

use super::names::{BATCH_IN, BATCH_OUT, CURRENT, OP, Tables, q};
use super::statement::{Counts, MergeStep, Statement};
use datasurface_model::PlatformMode;

/// Closes the current versions of the changed and gone keys staging holds, and adds a
/// current version for every new or changed key.
pub(crate) fn merge(t: &Tables<'_>) -> Vec<MergeStep> {
    let name = &t.dataset.name;
    let (merge, changes, op) = (&t.merge, &t.staging, q(OP));
    let out = q(BATCH_OUT);
    vec![
        MergeStep::new(
            Statement::new(
                format!(
                    "Close the current versions of {name} whose values changed or whose key is gone: they were last \
                     current in the previous batch. Counts (changed, gone)"
                ),
                format!(
                    "WITH closed AS (UPDATE {merge} AS m SET {out} = $1::integer - 1 FROM {changes} AS c \
                     WHERE c.{op} IN ('U', 'D') AND m.{out} = {CURRENT} AND {eq} RETURNING c.{op} AS op) \
                     SELECT count(*) FILTER (WHERE op = 'U'), count(*) FILTER (WHERE op = 'D') FROM closed",
                    eq = t.keys_equal("m", "c"),
                ),
            ),
            true,
            Counts::UpdatedAndDeleted,
        ),
        MergeStep::new(
            Statement::new(
                format!("Insert a current version of {name} for every new or changed key"),
                t.insert_rows(
                    PlatformMode::Forensic,
                    changes,
                    "c",
                    &format!(" WHERE c.{op} IN ('I', 'U')"),
                ),
            ),
            true,
            Counts::InsertedAndUpdated,
        ),
    ]
}

/// Rewinds to the state after batch `$1`: versions created after it go, versions closed
/// after it are current again.
pub(crate) fn rewind(t: &Tables<'_>) -> [Statement; 2] {
    let name = &t.dataset.name;
    let merge = &t.merge;
    let (bin, out) = (q(BATCH_IN), q(BATCH_OUT));
    [
        Statement::new(
            format!("Remove the versions of {name} created after the batch rewound to"),
            format!("DELETE FROM {merge} WHERE {bin} > $1::integer"),
        ),
        Statement::new(
            format!(
                "Make current again the versions of {name} that were current in the batch rewound to"
            ),
            format!(
                "UPDATE {merge} SET {out} = {CURRENT} WHERE {out} >= $1::integer AND {out} <> {CURRENT}"
            ),
        ),
    ]
}
