//! One change to the source, as a scenario makes it: rows and keys as text, the source
//! tables with the keys they hold, and the statements that change them — all inside the
//! change's one transaction.

use super::error::SimulateError;
use super::values;
use datasurface_codegen::sql::source::{self, SourceSql};
use datasurface_codegen::sql::typed::{TextRow, Texts};
use datasurface_engine::pg::Exec;
use datasurface_model::DatasetSchema;
use indexmap::IndexSet;
use rand::RngExt;
use rand::rngs::StdRng;
use tokio_postgres::Transaction;

/// A row's key: each key column's value as text, in key order.
pub type Key = Vec<String>;

/// One row of a dataset: each column's value as text (`None`: NULL), in column order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    columns: Vec<String>,
    values: Vec<Option<String>>,
}

impl Row {
    /// The value of `column` (`None` when NULL or not a column).
    pub fn get(&self, column: &str) -> Option<&str> {
        let at = self.columns.iter().position(|c| c == column)?;
        self.values[at].as_deref()
    }

    /// Sets `column` (a name the row does not have is ignored).
    pub fn set(&mut self, column: &str, value: Option<String>) {
        if let Some(at) = self.columns.iter().position(|c| c == column) {
            self.values[at] = value;
        }
    }
}

/// A source table and the keys it holds, in a stable order so a seed picks the same rows.
#[derive(Debug)]
pub(super) struct Table {
    pub(super) dataset: DatasetSchema,
    pub(super) schema: String,
    pub(super) sql: SourceSql,
    pub(super) keys: IndexSet<Key>,
    /// Where new keys are taken from (see [`values::key`]).
    pub(super) next_key: u64,
}

impl Table {
    pub(super) fn new(schema: &str, dataset: &DatasetSchema) -> Self {
        Table {
            sql: SourceSql::new(schema, dataset),
            schema: schema.to_owned(),
            dataset: dataset.clone(),
            keys: IndexSet::new(),
            next_key: 1,
        }
    }

    /// The key of `row`.
    fn key_of(&self, row: &Row) -> Key {
        self.dataset
            .primary_key
            .iter()
            .map(|k| row.get(k).unwrap_or_default().to_owned())
            .collect()
    }

    /// A key no row holds yet.
    fn new_key(&mut self) -> Key {
        loop {
            let n = self.next_key;
            self.next_key += 1;
            let key: Key = self
                .dataset
                .key_columns()
                .map(|c| values::key(&self.dataset.name, c, n))
                .collect();
            // A type with little room (a boolean key, a char(2)) runs out: give up then
            // and let the insert fail on the table's key.
            if !self.keys.contains(&key) || n > self.keys.len() as u64 + 1_000 {
                return key;
            }
        }
    }
}

/// What a change did to the tables' keys, applied once its transaction commits.
#[derive(Debug)]
pub(super) enum KeyChange {
    Added(usize, Key),
    Removed(usize, Key),
}

/// One change in the making: its transaction, the source tables, and the seeded random
/// generator every choice comes from.
pub struct Change<'a> {
    pub(super) tx: &'a Transaction<'a>,
    pub(super) tables: &'a mut [Table],
    pub(super) rng: &'a mut StdRng,
    pub(super) keys: Vec<KeyChange>,
}

impl std::fmt::Debug for Change<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change").field("keys", &self.keys).finish()
    }
}

impl Change<'_> {
    fn table(&self, dataset: &str) -> Result<usize, SimulateError> {
        self.tables
            .iter()
            .position(|t| t.dataset.name == dataset)
            .ok_or_else(|| SimulateError::UnknownDataset(dataset.to_owned()))
    }

    /// True with a chance of `percent` in 100.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.rng.random_range(0..n)
        }
    }

    /// The key of a random row of `dataset`, or `None` when it has no rows.
    pub fn pick(&mut self, dataset: &str) -> Result<Option<Key>, SimulateError> {
        let t = self.table(dataset)?;
        let n = self.tables[t].keys.len();
        if n == 0 {
            return Ok(None);
        }
        let at = self.rng.random_range(0..n);
        Ok(self.tables[t].keys.get_index(at).cloned())
    }

    /// A new row of `dataset`: a key no row holds, and a random value in every other
    /// column that fits its type (NULL now and then where it may be).
    pub fn new_row(&mut self, dataset: &str) -> Result<Row, SimulateError> {
        let t = self.table(dataset)?;
        let key = self.tables[t].new_key();
        let table = &self.tables[t];
        let mut key_values = key.into_iter();
        let values = table
            .dataset
            .columns
            .iter()
            .map(|c| match table.dataset.primary_key.contains(&c.name) {
                true => key_values.next(),
                false => values::random(self.rng, c),
            })
            .collect();
        Ok(Row {
            columns: table
                .dataset
                .columns
                .iter()
                .map(|c| c.name.clone())
                .collect(),
            values,
        })
    }

    /// A new random value for `column` of `dataset`, never NULL.
    pub fn value(&mut self, dataset: &str, column: &str) -> Result<String, SimulateError> {
        let t = self.table(dataset)?;
        let c = self.tables[t]
            .dataset
            .find_column(column)
            .ok_or_else(|| SimulateError::UnknownDataset(format!("{dataset}.{column}")))?;
        Ok(values::fresh(self.rng, c))
    }

    /// Inserts `row` into `dataset`'s table.
    pub async fn insert(&mut self, dataset: &str, row: &Row) -> Result<(), SimulateError> {
        let t = self.table(dataset)?;
        let values = Texts(row.values.iter().map(Option::as_deref).collect());
        self.tx.exec(&self.tables[t].sql.insert, &values).await?;
        let key = self.tables[t].key_of(row);
        self.keys.push(KeyChange::Added(t, key));
        Ok(())
    }

    /// Sets `values` (column, value) of the row of `dataset` with `key`; whether it was
    /// there.
    pub async fn update(
        &mut self,
        dataset: &str,
        key: &Key,
        values: &[(&str, Option<String>)],
    ) -> Result<bool, SimulateError> {
        let t = self.table(dataset)?;
        let table = &self.tables[t];
        let columns: Vec<_> = values
            .iter()
            .filter_map(|(name, _)| table.dataset.find_column(name))
            .collect();
        let statement = source::update(&table.schema, &table.dataset, &columns);
        let mut params: Vec<Option<&str>> = values
            .iter()
            .filter(|(name, _)| table.dataset.find_column(name).is_some())
            .map(|(_, v)| v.as_deref())
            .collect();
        params.extend(key.iter().map(|k| Some(k.as_str())));
        Ok(self.tx.exec(&statement, &Texts(params)).await? > 0)
    }

    /// Deletes the row of `dataset` with `key`; whether it was deleted. A row that others
    /// refer to by foreign key stays, and the change goes on.
    pub async fn delete(&mut self, dataset: &str, key: &Key) -> Result<bool, SimulateError> {
        let t = self.table(dataset)?;
        let params = Texts(key.iter().map(|k| Some(k.as_str())).collect());
        self.tx.run(&source::savepoint()).await?;
        match self.tx.exec(&self.tables[t].sql.delete, &params).await {
            Ok(n) => {
                self.keys.push(KeyChange::Removed(t, key.clone()));
                Ok(n > 0)
            }
            Err(e) if e.code().is_some_and(|c| c.code() == "23503") => {
                self.tx.run(&source::rollback_to_savepoint()).await?;
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The rows of a query of the scenario's own (`$1`… bound as text), each column as
    /// text.
    pub async fn select(
        &self,
        sql: &str,
        params: &[&str],
    ) -> Result<Vec<Vec<Option<String>>>, SimulateError> {
        let params = Texts(params.iter().copied().map(Some).collect());
        let rows = self.tx.rows(&source::scenario_query(sql), &params).await?;
        Ok(rows.into_iter().map(|TextRow(values)| values).collect())
    }
}
