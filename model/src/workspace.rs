//! Consumers: workspaces and their dataset groups.

use crate::schema::Dataset;
use crate::store::Datastore;
use std::time::Duration;

/// What history a dataset group needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retention {
    /// The current row per key (served by a live platform).
    LiveOnly,
    /// Every version with its batch milestones (served by a forensic platform).
    Forensic,
}

/// One dataset a group consumes, named by its store and dataset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sink {
    pub store: String,
    pub dataset: String,
}

/// A set of sinks consumed together with one retention (a DSG).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetGroup {
    pub name: String,
    pub retention: Retention,
    pub sinks: Vec<Sink>,
    /// How old the group's data may be before its consumers count it late: the age of a
    /// dataset's last committed batch. `None` takes the default, twice the longest wait
    /// between two captures of the stores it reads (one missed capture is not yet late).
    pub latency: Option<Duration>,
}

impl DatasetGroup {
    /// An empty group.
    pub fn new(name: impl Into<String>, retention: Retention) -> Self {
        DatasetGroup {
            name: name.into(),
            retention,
            sinks: Vec::new(),
            latency: None,
        }
    }

    /// The freshness its consumers need: a dataset of the group whose last committed
    /// batch is older than this is late, and alerts. It cannot be shorter than the longest
    /// wait between two captures of a store the group reads (validation says so).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = Some(latency);
        self
    }

    /// Consumes the dataset `D` of `store`: both names come from the model's own values,
    /// so neither can be misspelt.
    pub fn sink<D: Dataset>(self, store: &Datastore) -> Self {
        self.sink_named(store.name.clone(), D::NAME)
    }

    /// Consumes a dataset named by strings (checked when the ecosystem is validated).
    pub fn sink_named(mut self, store: impl Into<String>, dataset: impl Into<String>) -> Self {
        self.sinks.push(Sink {
            store: store.into(),
            dataset: dataset.into(),
        });
        self
    }
}

/// A consumer's workspace: the dataset groups it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub name: String,
    pub dsgs: Vec<DatasetGroup>,
}

impl Workspace {
    /// An empty workspace.
    pub fn new(name: impl Into<String>) -> Self {
        Workspace {
            name: name.into(),
            dsgs: Vec::new(),
        }
    }

    /// Adds a dataset group.
    pub fn dsg(mut self, dsg: DatasetGroup) -> Self {
        self.dsgs.push(dsg);
        self
    }

    /// The dataset group called `name`, if any.
    pub fn find_dsg(&self, name: &str) -> Option<&DatasetGroup> {
        self.dsgs.iter().find(|d| d.name == name)
    }
}
