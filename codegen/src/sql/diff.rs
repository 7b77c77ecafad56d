//! The difference between a snapshot and the current rows: one pass over both tables finds
//! the keys that are new, changed or gone, so the writes that follow touch only those.

use super::names::{ALL_HASH, BATCH_OUT, CURRENT, KEY_HASH, Tables, q};
use super::statement::{Counts, MergeStep, Statement};

/// The session-local table holding one dataset's changes during its merge.
pub(super) const CHANGES: &str = "ds_surf_changes";
/// Its column saying what happened to the key: `I` new, `U` changed, `D` gone.
pub(super) const OP: &str = "ds_surf_op";

/// Fills [`CHANGES`] with every key whose row is new (`I`), changed (`U`) or gone (`D`),
/// with the snapshot's values, comparing the snapshot with the current rows by key and
/// row hash. Unchanged rows are compared and dropped here, never written.
pub(crate) fn find(t: &Tables<'_>, forensic: bool) -> Vec<MergeStep> {
    let ds = t.dataset;
    let first_key = q(&ds.primary_key[0]);
    let columns = ds
        .columns
        .iter()
        .map(|c| {
            let n = q(&c.name);
            if ds.primary_key.contains(&c.name) {
                format!("coalesce(s.{n}, m.{n}) AS {n}")
            } else {
                format!("s.{n}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let current = if forensic {
        format!(" WHERE {} = {CURRENT}", q(BATCH_OUT))
    } else {
        String::new()
    };
    let (all, key, changes) = (q(ALL_HASH), q(KEY_HASH), q(CHANGES));
    vec![
        MergeStep::new(
            Statement::new(
                format!(
                    "Find the keys of {} that are new, changed or gone, comparing the snapshot with the current rows",
                    ds.name
                ),
                format!(
                    "CREATE TEMPORARY TABLE {changes} ON COMMIT DROP AS \
                     SELECT CASE WHEN m.{first_key} IS NULL THEN 'I' WHEN s.{first_key} IS NULL THEN 'D' ELSE 'U' END AS {op}, \
                     {columns}, s.{all}, s.{key} \
                     FROM {staging} AS s FULL JOIN (SELECT {keys}, {all} FROM {merge}{current}) AS m ON {eq} \
                     WHERE m.{first_key} IS NULL OR s.{first_key} IS NULL OR s.{all} <> m.{all}",
                    op = q(OP),
                    staging = t.staging,
                    merge = t.merge,
                    keys = t.key_list(""),
                    eq = t.keys_equal("s", "m"),
                ),
            ),
            false,
            Counts::Nothing,
        ),
        MergeStep::new(
            Statement::new(
                format!("Give the planner the size of the changes of {}", ds.name),
                format!("ANALYZE {changes}"),
            ),
            false,
            Counts::Nothing,
        ),
    ]
}

/// Drops [`CHANGES`] so the next dataset of the batch can fill it.
pub(crate) fn done(t: &Tables<'_>) -> MergeStep {
    MergeStep::new(
        Statement::new(
            format!("Done with the changes of {}", t.dataset.name),
            format!("DROP TABLE {}", q(CHANGES)),
        ),
        false,
        Counts::Nothing,
    )
}
