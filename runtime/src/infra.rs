//! Creating what a platform needs in its merge database. `run` and `infra` both come here,
//! so a table is only ever created one way.

use crate::batch::RunError;
use datasurface_codegen::sql::{BatchSql, DatasetSql};
use datasurface_model::{DatasetSchema, Datastore, YellowPlatform};
use tokio_postgres::Client;

/// Creates the platform's batch tables, and the staging and merge tables of `datasets`,
/// where they are missing. One transaction, under a platform-wide lock: two runners
/// creating the same table at once would otherwise collide in the catalog.
pub async fn ensure_tables(
    client: &mut Client,
    platform: &YellowPlatform,
    datasets: &[(&Datastore, &DatasetSchema)],
) -> Result<(), RunError> {
    let batch = BatchSql::new(&platform.name);
    let tx = client
        .transaction()
        .await
        .map_err(|e| RunError::sql("BEGIN", e))?;
    let lock = "SELECT pg_advisory_xact_lock($1)";
    tx.execute(lock, &[&crate::batch::lock_id(&platform.name, "")])
        .await
        .map_err(|e| RunError::sql(lock, e))?;
    let mut statements: Vec<String> = batch.create;
    for (store, dataset) in datasets {
        let sql = DatasetSql::new(platform, store, dataset);
        statements.push(sql.tables.create_staging);
        statements.extend(sql.tables.create_merge);
    }
    for ddl in &statements {
        tx.batch_execute(ddl)
            .await
            .map_err(|e| RunError::sql(ddl, e))?;
    }
    tx.commit().await.map_err(|e| RunError::sql("COMMIT", e))
}
