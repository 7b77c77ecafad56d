//! One stream's batch as the engine works on it: the statements of its datasets, and the
//! schema fingerprints a batch records.

use super::state::BatchState;
use datasurface_codegen::sql::{BatchSql, DatasetSql};
use datasurface_model::Stream;
use std::collections::BTreeMap;

/// A stream's batch: its statements, and its key as the batch tables write it.
pub(super) struct Batch<'s> {
    pub(super) stream: &'s Stream<'s>,
    pub(super) sql: BatchSql,
    pub(super) datasets: Vec<DatasetSql>,
    pub(super) key: String,
}

impl<'s> Batch<'s> {
    pub(super) fn new(stream: &'s Stream<'s>) -> Self {
        Batch {
            sql: BatchSql::new(&stream.platform.name),
            datasets: stream
                .datasets
                .iter()
                .map(|d| DatasetSql::new(&stream.platform, stream.store, d))
                .collect(),
            key: stream.key.to_string(),
            stream,
        }
    }

    /// The schema fingerprints of the stream's datasets as the model has them now.
    pub(super) fn fingerprints(&self) -> BTreeMap<String, String> {
        self.stream
            .datasets
            .iter()
            .map(|d| (d.name.clone(), d.fingerprint()))
            .collect()
    }

    /// The state of a batch (re)started under the model as it is now.
    pub(super) fn started_state(&self) -> BatchState {
        BatchState::started(self.fingerprints())
    }
}
