//! Creating what a platform needs in its merge database. `run` and `infra` both come here,
//! so a table is only ever created one way.

use crate::batch::RunError;
use datasurface_codegen::sql::{BatchSql, DatasetSql};
use datasurface_model::{DatasetSchema, Datastore, YellowPlatform, naming};
use tokio_postgres::Client;

/// Creates the platform's batch tables, and the staging and merge tables of `datasets`,
/// where they are missing. One transaction, under a platform-wide lock: two runners
/// creating the same table at once would otherwise collide in the catalog.
pub async fn ensure_tables(
    client: &mut Client,
    platform: &YellowPlatform,
    datasets: &[(&Datastore, &DatasetSchema)],
) -> Result<(), RunError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| RunError::sql("BEGIN", e))?;
    let lock = "-- Take the platform's DDL lock.\nSELECT pg_advisory_xact_lock($1)";
    tx.execute(lock, &[&crate::batch::lock_id(&platform.name, "")])
        .await
        .map_err(|e| RunError::sql(lock, e))?;
    let mut statements = BatchSql::new(&platform.name).create;
    for (store, dataset) in datasets {
        statements.extend(DatasetSql::new(platform, store, dataset).tables);
    }
    // Only what is missing: DDL on an existing table would wait for its locks.
    let exists = "-- Does the object exist?\nSELECT to_regclass($1)::oid::text";
    for ddl in &statements {
        let found: Option<String> = tx
            .query_one(exists, &[&naming::quote_ident(&ddl.object)])
            .await
            .map_err(|e| RunError::sql(exists, e))?
            .get(0);
        if found.is_none() {
            tx.batch_execute(&ddl.sql)
                .await
                .map_err(|e| RunError::sql(&ddl.sql, e))?;
        }
    }
    tx.commit().await.map_err(|e| RunError::sql("COMMIT", e))
}
