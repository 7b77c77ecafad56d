//! Datasets: ordered, typed columns with a primary key, and the [`Dataset`] trait that
//! `#[derive(Dataset)]` implements.

use crate::types::DataType;
use crate::value::{RowError, Value};
use std::fmt;
use std::str::FromStr;

/// How sensitive a column's data is. Consumers' access and the platforms' handling of a
/// dataset follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Classification {
    /// May be shared with anyone.
    Public,
    /// Internal business data, not for outside the company.
    Internal,
    /// Confidential business data (contracts, prices, plans).
    Confidential,
    /// Personal information about a customer or employee (names, emails, addresses).
    Personal,
    /// Sensitive personal information (health, finance, government ids).
    SensitivePersonal,
}

impl Classification {
    /// Every classification, in order of sensitivity.
    pub const ALL: [Classification; 5] = [
        Classification::Public,
        Classification::Internal,
        Classification::Confidential,
        Classification::Personal,
        Classification::SensitivePersonal,
    ];

    /// The spelling used in attributes and reports: `public`, …, `sensitive_personal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Public => "public",
            Classification::Internal => "internal",
            Classification::Confidential => "confidential",
            Classification::Personal => "personal",
            Classification::SensitivePersonal => "sensitive_personal",
        }
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Classification {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Classification::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<_> = Classification::ALL.iter().map(|c| c.as_str()).collect();
                format!(
                    "unknown classification `{s}`; expected one of {}",
                    all.join(", ")
                )
            })
    }
}

/// One column of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    /// The column's own classification; when `None` the dataset's applies.
    pub classification: Option<Classification>,
    /// What the column holds, for the catalog.
    pub description: Option<String>,
}

impl Column {
    /// A NOT NULL column.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Self {
        Column {
            name: name.into(),
            data_type,
            nullable: false,
            classification: None,
            description: None,
        }
    }

    /// A column that may hold NULL.
    pub fn nullable(name: impl Into<String>, data_type: DataType) -> Self {
        Column {
            nullable: true,
            ..Column::new(name, data_type)
        }
    }

    /// Sets the column's classification.
    pub fn classified(mut self, classification: Classification) -> Self {
        self.classification = Some(classification);
        self
    }

    /// Says what the column holds (shown in the catalog).
    pub fn described(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// A dataset as the model holds it: a table with ordered, typed columns and a primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSchema {
    pub name: String,
    pub columns: Vec<Column>,
    /// Names of the primary-key columns, in key order.
    pub primary_key: Vec<String>,
    /// Applies to every column without a classification of its own.
    pub classification: Option<Classification>,
    /// What the dataset is, for the catalog.
    pub description: Option<String>,
}

impl DatasetSchema {
    /// An empty dataset; add columns with [`column`](Self::column) and the key with
    /// [`key`](Self::key).
    pub fn new(name: impl Into<String>) -> Self {
        DatasetSchema {
            name: name.into(),
            columns: Vec::new(),
            primary_key: Vec::new(),
            classification: None,
            description: None,
        }
    }

    /// Says what the dataset is (shown in the catalog).
    pub fn described(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Appends a column.
    pub fn column(mut self, column: Column) -> Self {
        self.columns.push(column);
        self
    }

    /// Sets the primary key, in key order.
    pub fn key<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> Self {
        self.primary_key = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the classification of every column that has none of its own.
    pub fn classified(mut self, classification: Classification) -> Self {
        self.classification = Some(classification);
        self
    }

    /// The column called `name`, if any.
    pub fn find_column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// A short fingerprint of what the merge depends on: column names, types, nullability
    /// and key. A batch records it when it starts; a different one later means the model
    /// changed under an open batch.
    pub fn fingerprint(&self) -> String {
        let mut text = format!("{}\n", self.name);
        for c in &self.columns {
            text.push_str(&format!(
                "{}\t{}\t{}\n",
                c.name,
                c.data_type.pg_type(),
                c.nullable
            ));
        }
        text.push_str(&self.primary_key.join("\t"));
        crate::naming::hex_digest(text.as_bytes(), 8)
    }

    /// The primary-key columns, in key order (skipping names that do not resolve, which
    /// validation reports).
    pub fn key_columns(&self) -> impl Iterator<Item = &Column> {
        self.primary_key.iter().filter_map(|k| self.find_column(k))
    }
}

/// A Rust struct that is a dataset: implemented by `#[derive(Dataset)]`.
///
/// It gives the model the dataset's schema, and gives the simulator and tests typed rows:
/// [`to_row`](Dataset::to_row) and [`from_row`](Dataset::from_row) convert a value of the
/// struct to and from one [`Value`] per column, in column order.
pub trait Dataset: Sized {
    /// The dataset's name in the model.
    const NAME: &'static str;
    /// The column names, in order.
    const COLUMNS: &'static [&'static str];
    /// The primary-key column names, in key order.
    const KEY: &'static [&'static str];

    /// The dataset's schema.
    fn schema() -> DatasetSchema;
    /// One value per column, in column order.
    fn to_row(&self) -> Vec<Value>;
    /// Rebuilds the struct from one value per column, in column order.
    fn from_row(row: Vec<Value>) -> Result<Self, RowError>;
    /// The primary-key values, in key order.
    fn key(&self) -> Vec<Value>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifications_parse_from_their_names() {
        for c in Classification::ALL {
            assert_eq!(c.as_str().parse::<Classification>(), Ok(c));
        }
        let err = "secret".parse::<Classification>().unwrap_err();
        assert!(err.contains("expected one of public, internal"), "{err}");
    }

    #[test]
    fn schema_builder_keeps_column_order_and_key() {
        let ds = DatasetSchema::new("people")
            .column(Column::new("id", DataType::Integer))
            .column(Column::nullable("name", DataType::Text).classified(Classification::Personal))
            .key(["id"]);
        let names: Vec<_> = ds.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "name"]);
        assert_eq!(
            ds.key_columns().map(|c| &c.name).collect::<Vec<_>>(),
            ["id"]
        );
        assert!(ds.find_column("name").is_some_and(|c| c.nullable));
    }
}
