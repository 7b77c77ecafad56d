//! A batch's place in the state machine and what it records: `batch_status` and the
//! `state` column of `{platform}_batch_metrics`, typed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use datasurface_codegen::sql::{BatchStatus, UnknownStatus};

/// What one dataset's merge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    pub total: u64,
}

impl Metrics {
    /// The sum of `metrics`.
    pub fn sum<'a>(metrics: impl IntoIterator<Item = &'a Metrics>) -> Metrics {
        metrics
            .into_iter()
            .fold(Metrics::default(), |a, m| Metrics {
                inserted: a.inserted + m.inserted,
                updated: a.updated + m.updated,
                deleted: a.deleted + m.deleted,
                total: a.total + m.total,
            })
    }
}

/// What an ingested batch found in one dataset's snapshot, and staged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staged {
    /// Rows in the snapshot.
    pub total: u64,
    /// Rows written to staging — one per new, changed or gone key: staging must still hold
    /// as many before the merge.
    pub staged: u64,
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
}

/// One dataset's record in a batch: what its snapshot staged once ingested, its metrics
/// once merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DatasetState {
    Staged(Staged),
    Merged(Metrics),
    /// A record this runtime does not read (written by an earlier version): the snapshot is
    /// taken again.
    Other(serde_json::Value),
}

/// The `state` column: what the batch was started with and what it has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchState {
    /// Each dataset's schema fingerprint when the batch started: a different one now means
    /// the model changed under the open batch.
    pub schema: BTreeMap<String, String>,
    /// Per dataset: the snapshot (ingested) or the metrics (committed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub datasets: BTreeMap<String, DatasetState>,
    /// Why the last run of this open batch failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// How a logically replicated store's batch read its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureState>,
    /// How long the batch's phases took.
    #[serde(default, skip_serializing_if = "Timings::is_empty")]
    pub timings: Timings,
}

/// How long a batch's phases took, in milliseconds: reading the source into staging (a
/// snapshot's diff, or the changes from the slot), then merging staging into the merge
/// tables and committing. A first load reads straight into the merge tables, so it has one
/// phase, the merge. A phase resumed by a rerun counts the rerun's time only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_ms: Option<u64>,
}

impl Timings {
    pub fn is_empty(&self) -> bool {
        *self == Timings::default()
    }

    /// The phases recorded, by name (`read`, `merge`), with their seconds.
    pub fn phases(&self) -> impl Iterator<Item = (&'static str, f64)> {
        [("read", self.read_ms), ("merge", self.merge_ms)]
            .into_iter()
            .filter_map(|(phase, ms)| Some((phase, ms? as f64 / 1000.0)))
    }
}

/// How a batch of a logically replicated store read its source: the changes its slot
/// holds, or — for the first batch, and whenever the changes cannot be trusted to be
/// complete — a snapshot (a resync).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureState {
    pub read: Read,
    /// The position in the source's log the batch is complete up to: every transaction
    /// that committed before it is in the batch (a snapshot batch: the position just
    /// before its snapshot, from which the next batch reads the changes again).
    pub upper: String,
    /// Why a snapshot was read instead of the changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resync: Option<String>,
    /// The changes read from the slot (rows inserted, updated or deleted at the source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<u64>,
    /// Whether every transaction that committed before `upper` is in the batch, so the slot
    /// may be moved on to `upper` once it is committed: always after the changes; after a
    /// snapshot only when no transaction that could have committed before `upper` was still
    /// running when the snapshot was taken.
    #[serde(default)]
    pub complete: bool,
}

/// What a batch of a logically replicated store read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Read {
    /// A snapshot of the source tables.
    Snapshot,
    /// The changes committed since the last batch, from the replication slot.
    Changes,
}

impl BatchState {
    /// The state of a batch started with these schema fingerprints.
    pub fn started(schema: BTreeMap<String, String>) -> Self {
        BatchState {
            schema,
            ..BatchState::default()
        }
    }

    /// Reads the `state` column.
    pub fn from_json(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(value)
    }

    /// Writes the `state` column.
    pub fn to_json(&self) -> serde_json::Value {
        // Serialising to a JSON value fails only on a map key that is not a string or on a
        // `Serialize` that refuses; the state holds string-keyed maps, numbers, strings and
        // JSON values, so it cannot fail.
        serde_json::to_value(self).expect("a batch state is plain JSON")
    }

    /// The snapshot record of `dataset`, once ingested.
    pub fn staged(&self, dataset: &str) -> Option<Staged> {
        match self.datasets.get(dataset) {
            Some(DatasetState::Staged(s)) => Some(*s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_read_back_as_the_metrics_table_holds_them() {
        let ingested = json!({
            "schema": {"people": "ab12"},
            "datasets": {"people": {"total": 5, "staged": 3, "inserted": 1, "updated": 1, "deleted": 1}}
        });
        let state = BatchState::from_json(ingested.clone()).expect("ingested");
        assert_eq!(
            state.staged("people"),
            Some(Staged {
                total: 5,
                staged: 3,
                inserted: 1,
                updated: 1,
                deleted: 1,
            })
        );
        assert_eq!(state.to_json(), ingested);
        // An older record is kept, and read as no snapshot at all.
        let older = json!({
            "schema": {"people": "ab12"},
            "datasets": {"people": {"total": 5, "unique_key": true}}
        });
        let state = BatchState::from_json(older.clone()).expect("older");
        assert_eq!(state.staged("people"), None);
        assert_eq!(state.to_json(), older);

        let committed = json!({
            "schema": {"people": "ab12"},
            "datasets": {"people": {"inserted": 1, "updated": 2, "deleted": 3, "total": 4}},
            "timings": {"read_ms": 1200, "merge_ms": 800}
        });
        let state = BatchState::from_json(committed.clone()).expect("committed");
        assert_eq!(state.staged("people"), None);
        assert_eq!(
            state.timings,
            Timings {
                read_ms: Some(1200),
                merge_ms: Some(800)
            }
        );
        assert_eq!(
            state.timings.phases().collect::<Vec<_>>(),
            [("read", 1.2), ("merge", 0.8)]
        );
        assert_eq!(state.to_json(), committed);
        assert_eq!(
            BatchState::started(Default::default()).to_json(),
            json!({"schema": {}})
        );
    }

    #[test]
    fn statuses_read_back() {
        for s in ["started", "ingested", "committed", "reset"] {
            assert_eq!(BatchStatus::parse(s).map(|s| s.as_str()), Ok(s));
        }
        assert!(BatchStatus::parse("failed").is_err());
    }
}
