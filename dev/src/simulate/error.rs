//! Why the simulator stopped.

use datasurface_engine::pg::DbError;

/// Why the simulator stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error(transparent)]
    Connect(#[from] datasurface_engine::pg::ConnectError),
    #[error(
        "table {table} not found in database {database} (schema {schema}); the simulator works on the source \
         tables of the model's datastore {store} (run with --create-tables to create them)"
    )]
    MissingTable {
        table: String,
        schema: String,
        database: String,
        store: String,
    },
    #[error(
        "table {table} of database {database} lacks column(s) {}; the simulator works on the source tables \
         as the model's datastore {store} declares them",
        .columns.join(", ")
    )]
    WrongShape {
        table: String,
        database: String,
        store: String,
        columns: Vec<String>,
    },
    #[error("the scenario works on dataset {0}, which the simulated datastore does not have")]
    UnknownDataset(String),
    #[error(transparent)]
    Db(#[from] DbError),
}
