//! Live health: the recent batches of every stream, read from the merge databases, and
//! each dataset's freshness against the budget its consumers declared.
//!
//! One reader refreshes a [`Health`] snapshot every few seconds; every page and every
//! scrape reads that snapshot. So the merge databases see one reader however many people
//! and Prometheus servers look, and a page never waits on a database.

use crate::catalog::{Catalog, StreamInfo};
use chrono::{DateTime, Utc};
use datasurface_engine::pg::Environment;
use datasurface_engine::{BatchRecord, BatchStatus, DatasetState, Engine};
use std::collections::HashMap;
use std::time::Duration;

/// How many recent batches of each stream are read.
pub const HISTORY: i64 = 20;

/// What one read of the merge databases found.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// When the read finished; `None` before the first one.
    pub read_at: Option<DateTime<Utc>>,
    /// Platform → its streams' recent batches by stream key (oldest first), or why its
    /// merge database could not be read.
    pub platforms: HashMap<String, Result<HashMap<String, Vec<BatchRecord>>, String>>,
}

/// How fresh a dataset is on a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Its last committed batch is within the budget.
    Fresh,
    /// Older than the budget.
    Late,
    /// Older than twice the budget.
    Stale,
    /// No batch has committed yet.
    Never,
    /// The merge database could not be read (or has not been yet).
    Unknown,
}

impl Freshness {
    /// As pages and CSS classes spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Freshness::Fresh => "fresh",
            Freshness::Late => "late",
            Freshness::Stale => "stale",
            Freshness::Never => "never",
            Freshness::Unknown => "unknown",
        }
    }

    /// From a last commit's age and the budget.
    pub fn of(age: Duration, budget: Duration) -> Freshness {
        if age <= budget {
            Freshness::Fresh
        } else if age <= budget * 2 {
            Freshness::Late
        } else {
            Freshness::Stale
        }
    }
}

/// What a stream's batches say.
#[derive(Debug, Clone, Copy)]
pub struct StreamView<'a> {
    pub batches: &'a [BatchRecord],
}

impl<'a> StreamView<'a> {
    /// The latest batch.
    pub fn latest(&self) -> Option<&'a BatchRecord> {
        self.batches.last()
    }

    /// The latest committed batch.
    pub fn last_committed(&self) -> Option<&'a BatchRecord> {
        self.batches
            .iter()
            .rev()
            .find(|b| b.batch_status == BatchStatus::Committed)
    }

    /// The committed batch before the last one.
    pub fn previous_committed(&self) -> Option<&'a BatchRecord> {
        self.batches
            .iter()
            .rev()
            .filter(|b| b.batch_status == BatchStatus::Committed)
            .nth(1)
    }

    /// The open batch (started or ingested), if the latest is one.
    pub fn open(&self) -> Option<&'a BatchRecord> {
        self.latest().filter(|b| is_open(b.batch_status))
    }

    /// The open batch's last error: it failed and waits for the next run or a reset.
    pub fn failure(&self) -> Option<(&'a BatchRecord, &'a str)> {
        let open = self.open()?;
        Some((open, open.state.last_error.as_deref()?))
    }

    /// The median duration of the recent committed batches, in seconds.
    pub fn usual_duration(&self) -> Option<f64> {
        let mut d: Vec<f64> = self
            .batches
            .iter()
            .filter(|b| b.batch_status == BatchStatus::Committed)
            .filter_map(duration)
            .collect();
        if d.is_empty() {
            return None;
        }
        d.sort_by(f64::total_cmp);
        Some(d[d.len() / 2])
    }
}

/// Whether a batch is still open.
pub fn is_open(status: BatchStatus) -> bool {
    matches!(status, BatchStatus::Started | BatchStatus::Ingested)
}

/// A finished batch's duration in seconds.
pub fn duration(b: &BatchRecord) -> Option<f64> {
    let end = b.batch_end_time?;
    Some((end - b.batch_start_time).num_milliseconds().max(0) as f64 / 1000.0)
}

/// One dataset's counts in a batch: its own when the batch recorded them, else `None`.
pub fn dataset_counts(b: &BatchRecord, dataset: &str) -> Option<[u64; 4]> {
    match b.state.datasets.get(dataset)? {
        DatasetState::Merged(m) => Some([m.inserted, m.updated, m.deleted, m.total]),
        _ => None,
    }
}

impl Health {
    /// The batches of `stream`, or why they could not be read.
    pub fn stream(&self, stream: &StreamInfo) -> Result<StreamView<'_>, String> {
        match self.platforms.get(&stream.platform) {
            None => Err("the merge database has not been read yet".into()),
            Some(Err(e)) => Err(e.clone()),
            Some(Ok(streams)) => Ok(StreamView {
                batches: streams.get(&stream.key).map(Vec::as_slice).unwrap_or(&[]),
            }),
        }
    }

    /// How fresh `dataset` of `stream` is at `now` against `budget`, with the age of its
    /// last committed batch.
    pub fn freshness(
        &self,
        stream: &StreamInfo,
        budget: Duration,
        now: DateTime<Utc>,
    ) -> (Freshness, Option<Duration>) {
        let Ok(view) = self.stream(stream) else {
            return (Freshness::Unknown, None);
        };
        match view.last_committed().and_then(|b| b.batch_end_time) {
            None => (Freshness::Never, None),
            Some(end) => {
                let age = (now - end).to_std().unwrap_or_default();
                (Freshness::of(age, budget), Some(age))
            }
        }
    }
}

/// Reads every platform's recent batches once: a merge database that cannot be read
/// gives its platform an error, and the others are still read.
pub async fn read(catalog: &Catalog, env: &Environment) -> Health {
    let eco = catalog.eco();
    let engine = Engine::new(eco, env);
    let mut platforms = HashMap::new();
    for platform in eco.platforms() {
        let result = engine
            .status_as(platform, None, HISTORY, platform.provider.console_login())
            .await
            .map(|records| {
                let mut by_stream: HashMap<String, Vec<BatchRecord>> = HashMap::new();
                for r in records {
                    by_stream.entry(r.key.clone()).or_default().push(r);
                }
                by_stream
            })
            .map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::warn!(platform = %platform.model.name, error = %e, "cannot read the batch tables");
        }
        platforms.insert(platform.model.name.clone(), result);
    }
    Health {
        read_at: Some(Utc::now()),
        platforms,
    }
}
