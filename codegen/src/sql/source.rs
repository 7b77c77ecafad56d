//! SQL on the source side, for the development tools: the databases `demo` creates, and the
//! source tables the simulator creates from the model and changes. Values are bound as text
//! and cast to the column's type, so one statement serves every type the model has.

use super::names::{q, quoted};
use super::statement::Statement;
use super::typed::{Query, Single, TextRow, Texts};
use datasurface_model::{Column, DatasetSchema};

/// Creates a database (`CREATE DATABASE` takes no parameters; the name is quoted).
pub fn create_database(database: &str) -> Statement {
    Statement::new(
        format!("Create the database {database}"),
        format!("CREATE DATABASE {}", q(database)),
    )
}

/// Marks where a change can roll back to when one of its steps is refused (a delete of a
/// row other rows refer to).
pub fn savepoint() -> Statement {
    Statement::new(
        "Mark where this step can roll back to",
        "SAVEPOINT ds_surf_step",
    )
}

/// Rolls back to [`savepoint`], keeping the rest of the change.
pub fn rollback_to_savepoint() -> Statement {
    Statement::new(
        "Undo the refused step, keeping the rest of the change",
        "ROLLBACK TO SAVEPOINT ds_surf_step",
    )
}

/// The statements that create and change one source table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSql {
    /// `schema.table`, for messages.
    pub table: String,
    /// Creates the schema when it is missing.
    pub create_schema: Statement,
    /// Creates the table from the dataset, with its key as primary key, when it is missing.
    pub create_table: Statement,
    /// Inserts a row: every column's value as text, in column order.
    pub insert: Query<Texts<'static>>,
    /// Deletes a row: the key's values as text, in key order.
    pub delete: Query<Texts<'static>>,
    /// Every key, each column as text, in key order.
    pub keys: Query<(), TextRow>,
    /// The number of rows.
    pub count: Query<(), Single<i64>>,
}

/// The table of `dataset` in `schema`, quoted.
fn table(schema: &str, dataset: &DatasetSchema) -> String {
    format!("{}.{}", q(schema), q(&dataset.name))
}

/// `"k1" = $n::type AND …` for the key columns, the parameters numbered from `first`.
fn key_match(dataset: &DatasetSchema, first: usize) -> String {
    dataset
        .key_columns()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "{} = ${}::text::{}",
                q(&c.name),
                first + i,
                c.data_type.pg_type()
            )
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

impl SourceSql {
    /// The statements of `dataset`'s source table in `schema`.
    pub fn new(schema: &str, dataset: &DatasetSchema) -> Self {
        let name = &dataset.name;
        let table = table(schema, dataset);
        let columns = dataset
            .columns
            .iter()
            .map(|c| {
                let null = if c.nullable { "" } else { " NOT NULL" };
                format!("    {} {}{null}", q(&c.name), c.data_type.pg_type())
            })
            .collect::<Vec<_>>()
            .join(",\n");
        let keys = quoted(dataset.primary_key.iter().map(String::as_str), "");
        let values = dataset
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("${}::text::{}", i + 1, c.data_type.pg_type()))
            .collect::<Vec<_>>()
            .join(", ");
        let key_text = dataset
            .primary_key
            .iter()
            .map(|k| format!("{}::text", q(k)))
            .collect::<Vec<_>>()
            .join(", ");
        SourceSql {
            table: format!("{schema}.{name}"),
            create_schema: Statement::new(
                format!("Create the schema {schema} of the source tables"),
                format!("CREATE SCHEMA IF NOT EXISTS {}", q(schema)),
            ),
            create_table: Statement::new(
                format!("The source table of {name}, as the model declares it"),
                format!(
                    "CREATE TABLE IF NOT EXISTS {table} (\n{columns},\n    PRIMARY KEY ({keys})\n)"
                ),
            ),
            insert: Query::new(
                format!("Insert a row of {name}"),
                format!(
                    "INSERT INTO {table} ({}) VALUES ({values})",
                    quoted(dataset.columns.iter().map(|c| c.name.as_str()), "")
                ),
            ),
            delete: Query::new(
                format!("Delete a row of {name} by key"),
                format!("DELETE FROM {table} WHERE {}", key_match(dataset, 1)),
            ),
            keys: Query::new(
                format!("Every key of {name}, in key order"),
                format!("SELECT {key_text} FROM {table} ORDER BY {keys}"),
            ),
            count: Query::new(
                format!("The rows of {name}"),
                format!("SELECT count(*) FROM {table}"),
            ),
        }
    }
}

/// Sets `columns` of one row of `dataset` in `schema`: the new values as text, in the order
/// of `columns`, then the key's values.
pub fn update(schema: &str, dataset: &DatasetSchema, columns: &[&Column]) -> Query<Texts<'static>> {
    let set = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "{} = ${}::text::{}",
                q(&c.name),
                i + 1,
                c.data_type.pg_type()
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    Query::new(
        format!("Change {} of a row of {}", names.join(", "), dataset.name),
        format!(
            "UPDATE {} SET {set} WHERE {}",
            table(schema, dataset),
            key_match(dataset, columns.len() + 1)
        ),
    )
}

/// A query of a simulator scenario's own, its values bound as text and its columns read as
/// text.
pub fn scenario_query(sql: &str) -> Query<Texts<'static>, TextRow> {
    Query::new("Run a query of the scenario", sql)
}

/// SQL a simulator scenario runs on the source before its first change (more tables,
/// constraints): one or more statements, without parameters.
pub fn scenario_preparation(sql: &str) -> Statement {
    Statement::new("Prepare the source for the scenario", sql)
}
