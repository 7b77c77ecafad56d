//! Why an engine command stopped. Every message names the platform object, table or column
//! at fault and says what to do; none holds a secret or a row value.

use crate::pg::{ConnectError, DbError};
use datasurface_codegen::Exit;
use datasurface_codegen::sql::evolve::Refusal;
use datasurface_model::{LookupError, StreamKey};

/// What can stop `run`, `reset-batch`, `status` or `infra`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("stream {stream} of {platform} is being run by another process; nothing was done")]
    Busy { platform: String, stream: StreamKey },
    #[error("the source does not match the model; batch {batch} stays open and nothing was merged:\n{}", .problems.join("\n"))]
    Source { batch: i32, problems: Vec<String> },
    #[error(
        "the model changed since batch {batch} of {stream} started (dataset(s) {}); \
         run reset-batch to take the snapshot again with the new model",
        .datasets.join(", ")
    )]
    SchemaChanged {
        stream: StreamKey,
        batch: i32,
        datasets: Vec<String>,
    },
    #[error(
        "source table {table} has more than one row for {}; the merge needs one row per key. \
         Batch {batch} was sent back to started and its staging cleared",
        match .keys { Some(keys) => format!("key(s) {}", keys.join(", ")), None => format!("{} key(s) (not shown: the key is classified)", .count) }
    )]
    DuplicateKeys {
        batch: i32,
        table: String,
        count: u64,
        /// The keys, where the dataset's classification allows showing them.
        keys: Option<Vec<String>>,
    },
    #[error(
        "batch {batch} would delete {deleted} of the {current} current rows of {dataset} ({}), more than the \
         {limit}% the mass-delete guard allows; nothing was merged. The batch was sent back to started and its \
         staging cleared: fix the source and run again, or allow it with --max-delete-percent",
        percent(*.deleted, *.current)
    )]
    MassDelete {
        batch: i32,
        dataset: String,
        deleted: u64,
        current: u64,
        limit: u8,
    },
    #[error(
        "the merge of batch {batch} failed on its snapshot of {dataset}: {source}. Nothing was merged; the batch \
         was sent back to started and its staging cleared, so the next run takes a new snapshot: fix the \
         source (or the merge table) and run again"
    )]
    MergeData {
        batch: i32,
        dataset: String,
        source: DbError,
    },
    #[error(
        "the merge of batch {batch} failed: {source}. The batch stays ingested: the next run merges the same \
         snapshot again; to take a new one instead, run reset-batch --platform {platform} --store {}{}",
        .stream.store,
        .stream.dataset.as_ref().map(|d| format!(" --dataset {d}")).unwrap_or_default()
    )]
    Merge {
        batch: i32,
        platform: String,
        stream: StreamKey,
        source: DbError,
    },
    #[error("the model asks for changes infra will not make; nothing was changed:\n{}", list(.0))]
    Refused(Vec<Refusal>),
    #[error(
        "the snapshot of {dataset} for batch {batch} was lost from staging (a server restart); it is taken again"
    )]
    StagingLost { batch: i32, dataset: String },
    #[error(
        "the merge table of {dataset} changed under batch {batch} since its snapshot was compared with it; \
         nothing was merged, and the batch was sent back to started so the next run compares again"
    )]
    Drifted { batch: i32, dataset: String },
    #[error("snapshot of {dataset}: {detail}")]
    Snapshot { dataset: String, detail: String },
    #[error("Batch is COMMITTED and cannot be reset")]
    Committed,
    #[error("Batch was rewound (RESET) and cannot be reset; the next run starts a new batch")]
    Rewound,
    #[error("stream {0} has no batch to reset")]
    NoBatch(StreamKey),
    #[error(
        "platform {0} is live and keeps no history to rewind; only forensic platforms can --to-batch"
    )]
    NotForensic(String),
    #[error("stream {stream} has no committed batch {batch} to rewind to (it is {status})")]
    NotCommitted {
        stream: StreamKey,
        batch: i32,
        status: String,
    },
    #[error("batch {batch} of {stream}: {what}; fix or remove the row of the metrics table")]
    Unreadable {
        stream: StreamKey,
        batch: i32,
        what: String,
    },
}

impl Error {
    /// How the command ends: [`Exit::Busy`] (try again later) when the stream is busy,
    /// [`Exit::Failure`] otherwise.
    pub fn exit_code(&self) -> Exit {
        match self {
            Error::Busy { .. } => Exit::Busy,
            _ => Exit::Failure,
        }
    }

    /// A stable name of the kind of error, for machines (reports, JSON output).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Lookup(_) => "not_in_model",
            Error::Connect(_) => "connect",
            Error::Db(_) => "database",
            Error::Busy { .. } => "busy",
            Error::Source { .. } => "source_mismatch",
            Error::SchemaChanged { .. } => "schema_changed",
            Error::DuplicateKeys { .. } => "duplicate_keys",
            Error::MassDelete { .. } => "mass_delete",
            Error::MergeData { .. } => "merge_data",
            Error::Merge { .. } => "merge",
            Error::Refused(_) => "evolution_refused",
            Error::StagingLost { .. } => "staging_lost",
            Error::Drifted { .. } => "merge_table_changed",
            Error::Snapshot { .. } => "snapshot",
            Error::Committed => "batch_committed",
            Error::Rewound => "batch_reset",
            Error::NoBatch(_) => "no_batch",
            Error::NotForensic(_) => "not_forensic",
            Error::NotCommitted { .. } => "not_committed",
            Error::Unreadable { .. } => "unreadable_batch",
        }
    }

    /// The batch the error is about, when it is about one.
    pub fn batch(&self) -> Option<i32> {
        match self {
            Error::Source { batch, .. }
            | Error::SchemaChanged { batch, .. }
            | Error::DuplicateKeys { batch, .. }
            | Error::MassDelete { batch, .. }
            | Error::MergeData { batch, .. }
            | Error::Merge { batch, .. }
            | Error::StagingLost { batch, .. }
            | Error::Drifted { batch, .. }
            | Error::Unreadable { batch, .. } => Some(*batch),
            _ => None,
        }
    }
}

/// `deleted` of `current` as a percentage, never rounded down to the limit it exceeds:
/// `60%`, `50.25%`.
fn percent(deleted: u64, current: u64) -> String {
    if current == 0 {
        return "all".into();
    }
    let hundredths = (deleted * 10_000).div_ceil(current);
    if hundredths.is_multiple_of(100) {
        format!("{}%", hundredths / 100)
    } else {
        format!("{}.{:02}%", hundredths / 100, hundredths % 100)
    }
}

fn list(refusals: &[Refusal]) -> String {
    refusals
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn percentages_are_never_rounded_down_to_the_limit() {
        assert_eq!(percent(3, 5), "60%");
        assert_eq!(percent(100, 199), "50.26%");
        assert_eq!(percent(1, 3), "33.34%");
        assert_eq!(percent(5, 5), "100%");
    }
}
