//! How far a batch has got, told to whoever watches: the CLI draws it on a terminal and
//! logs it now and then elsewhere.

use std::fmt;

/// A phase of one dataset's batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The source's rows streaming and being compared.
    Snapshot,
    /// The staged changes being merged.
    Merge,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Snapshot => "snapshot",
            Phase::Merge => "merge",
        })
    }
}

/// Receives a batch's progress. Called often: keep it cheap.
pub trait Progress: Send + Sync + fmt::Debug {
    /// `rows` rows of `dataset` are done so far in `phase`.
    fn rows(&self, dataset: &str, phase: Phase, rows: u64);
    /// `phase` of `dataset` is done, with `rows` rows.
    fn done(&self, dataset: &str, phase: Phase, rows: u64);
}

/// Source rows between two reports of the snapshot's progress.
pub(super) const EVERY: u64 = 16_384;
