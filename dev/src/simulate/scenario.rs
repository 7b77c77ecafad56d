//! What the simulator does to a source: a scenario names its kinds of change with their
//! weights and makes each one. Without a scenario of the model's own, [`Generic`] inserts,
//! updates and deletes rows of every dataset of the store.

use super::change::Change;
use super::error::SimulateError;
use datasurface_model::DatasetSchema;
use std::future::Future;
use std::pin::Pin;

/// A change being made, as a future (scenarios are objects, so their async methods box).
pub type Making<'a> = Pin<Box<dyn Future<Output = Result<Made, SimulateError>> + 'a>>;

/// A change that was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    /// The kind of change actually made (a scenario may fall back to another kind when
    /// there is nothing to make the asked one on).
    pub kind: usize,
    /// What was done, for `--verbose`.
    pub line: String,
}

/// How a source is seeded when `--create-tables` finds it empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// The changes to make: (kind, how many times).
    pub changes: Vec<(usize, u32)>,
    /// What they add, for the line `seeded …` (`5 customers`).
    pub what: String,
}

/// A kind of change, with its share of all changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    pub name: String,
    pub weight: u32,
}

/// The changes the simulator makes to one datastore's source.
pub trait Scenario: std::fmt::Debug {
    /// The datastore whose source this scenario changes.
    fn store(&self) -> &str;

    /// The kinds of change, each with its weight.
    fn kinds(&self) -> Vec<Kind>;

    /// Statements run once the source tables are created (indexes the scenario's queries
    /// need, …), each safe to run again.
    fn prepare(&self) -> Vec<String> {
        Vec::new()
    }

    /// What seeds an empty source.
    fn seed(&self) -> Seed;

    /// Makes one change of kind `kind` inside `change`'s transaction.
    fn make<'a>(&'a mut self, kind: usize, change: &'a mut Change<'_>) -> Making<'a>;
}

/// Inserts, updates of non-key columns, and deletes, on every dataset of a store: for any
/// model.
#[derive(Debug, Clone)]
pub struct Generic {
    store: String,
    datasets: Vec<DatasetSchema>,
}

/// Rows [`Generic`] seeds each dataset of an empty source with: enough that a burst of
/// deletes stays under the mass-delete guard.
const SEED_ROWS: u32 = 50;

/// The operations of [`Generic`], with their weights, for every dataset in turn.
const OPERATIONS: [(&str, u32); 3] = [("insert", 3), ("update", 5), ("delete", 2)];

impl Generic {
    /// Changes to the datasets of `store`.
    pub fn new(store: &str, datasets: &[&DatasetSchema]) -> Self {
        Generic {
            store: store.to_owned(),
            datasets: datasets.iter().map(|d| (*d).clone()).collect(),
        }
    }

    fn kind(&self, dataset: usize, operation: usize) -> usize {
        dataset * OPERATIONS.len() + operation
    }
}

impl Scenario for Generic {
    fn store(&self) -> &str {
        &self.store
    }

    fn kinds(&self) -> Vec<Kind> {
        self.datasets
            .iter()
            .flat_map(|d| {
                OPERATIONS.iter().map(|(op, weight)| Kind {
                    name: format!("{} {op}", d.name),
                    weight: *weight,
                })
            })
            .collect()
    }

    fn seed(&self) -> Seed {
        Seed {
            changes: (0..self.datasets.len())
                .map(|d| (self.kind(d, 0), SEED_ROWS))
                .collect(),
            what: format!(
                "{SEED_ROWS} rows of {}",
                self.datasets
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn make<'a>(&'a mut self, kind: usize, change: &'a mut Change<'_>) -> Making<'a> {
        Box::pin(async move {
            let (d, op) = (kind / OPERATIONS.len(), kind % OPERATIONS.len());
            let dataset = &self.datasets[d];
            let name = dataset.name.as_str();
            let key = match op {
                0 => None,
                _ => change.pick(name)?,
            };
            let Some(key) = key else {
                let row = change.new_row(name)?;
                change.insert(name, &row).await?;
                return Ok(Made {
                    kind: self.kind(d, 0),
                    line: format!("{name}: new row"),
                });
            };
            let shown = key.join(", ");
            if op == 2 && change.delete(name, &key).await? {
                return Ok(Made {
                    kind,
                    line: format!("{name} ({shown}): deleted"),
                });
            }
            // An update, or a delete that others' foreign keys held back.
            let columns: Vec<&str> = dataset
                .columns
                .iter()
                .filter(|c| !dataset.primary_key.contains(&c.name))
                .map(|c| c.name.as_str())
                .collect();
            if columns.is_empty() {
                return Ok(Made {
                    kind,
                    line: format!("{name} ({shown}): nothing to change"),
                });
            }
            let column = columns[change.below(columns.len())];
            let value = change.value(name, column)?;
            change.update(name, &key, &[(column, Some(value))]).await?;
            Ok(Made {
                kind: self.kind(d, 1),
                line: format!("{name} ({shown}): new {column}"),
            })
        })
    }
}
