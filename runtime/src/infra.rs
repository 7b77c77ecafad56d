//! `infra`: what a platform needs in its merge database — batch tables, staging and merge
//! tables, workspace views — created where missing and evolved where the model changed.
//! `run` creates and evolves its stream's tables through this same code.
//!
//! Evolution only ever adds nullable columns, widens varchar and numeric columns, relaxes
//! NOT NULL, and recreates views; everything else is refused with what to do, before
//! anything is changed. Tables are never dropped.

use crate::batch::RunError;
use crate::pg::{self, Environment};
use datasurface_codegen::sql::evolve::{self, ExistingColumn, ExistingTable};
use datasurface_codegen::sql::{
    BatchSql, CATALOG_COLUMNS, CATALOG_PRIMARY_KEY, DatasetSql, View, views,
};
use datasurface_model::{
    DatasetSchema, Datastore, StreamError, ValidEcosystem, YellowPlatform, naming,
};
use tokio_postgres::{Client, GenericClient};

/// What infra does, or would do, for a platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The DDL, in order, each starting with a comment saying what it does.
    pub statements: Vec<String>,
    /// Changes that cannot be made safely: if any, nothing is done.
    pub refused: Vec<String>,
}

impl Plan {
    fn add(&mut self, other: Plan) {
        self.statements.extend(other.statements);
        self.refused.extend(other.refused);
    }
}

/// Why infra changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    #[error("the model asks for changes infra will not make; nothing was changed:\n{}", .0.join("\n"))]
    Refused(Vec<String>),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Plans, and unless `plan_only` applies, everything platform `platform` needs. All of it in
/// one transaction: a refused or failed change leaves the database as it was.
pub async fn infra(
    eco: &ValidEcosystem,
    platform: &str,
    plan_only: bool,
    env: &Environment,
) -> Result<Plan, InfraError> {
    let Some(p) = eco.find_platform(platform) else {
        return Err(RunError::from(StreamError::UnknownPlatform {
            platform: platform.into(),
            suggestion: datasurface_model::suggest(
                platform,
                eco.platforms.iter().map(|p| p.name.as_str()),
            ),
        })
        .into());
    };
    let provider = eco
        .find_provider(&p.provider)
        .expect("validation checked the provider");
    let mut client = pg::connect(&provider.merge_database, &provider.merge_credential, env)
        .await
        .map_err(RunError::from)?;
    let tx = begin_locked(&mut client, p).await?;
    let datasets = eco.ingested_datasets(&p.name);
    let tables = plan_tables(&tx, p, &datasets).await?;
    let views = plan_views(&tx, eco, p, &tables).await?;
    let mut plan = Plan::default();
    plan.statements.extend(views.drops);
    plan.add(tables);
    plan.statements.extend(views.creates);
    if !plan.refused.is_empty() {
        return Err(InfraError::Refused(plan.refused));
    }
    if !plan_only {
        for sql in &plan.statements {
            tx.batch_execute(sql)
                .await
                .map_err(|e| RunError::sql(sql, e))?;
        }
        tx.commit().await.map_err(|e| RunError::sql("COMMIT", e))?;
    }
    Ok(plan)
}

/// Creates or evolves the platform's batch tables and the tables of `datasets`, as `run`
/// needs them; refuses what infra would refuse.
pub async fn ensure_tables(
    client: &mut Client,
    platform: &YellowPlatform,
    datasets: &[(&Datastore, &DatasetSchema)],
) -> Result<(), RunError> {
    let tx = begin_locked(client, platform).await?;
    let plan = plan_tables(&tx, platform, datasets).await?;
    if !plan.refused.is_empty() {
        return Err(RunError::Schema(plan.refused));
    }
    for sql in &plan.statements {
        tx.batch_execute(sql)
            .await
            .map_err(|e| RunError::sql(sql, e))?;
    }
    tx.commit().await.map_err(|e| RunError::sql("COMMIT", e))
}

/// A transaction holding the platform's DDL lock: two runners changing the same tables at
/// once would otherwise collide in the catalog.
async fn begin_locked<'c>(
    client: &'c mut Client,
    platform: &YellowPlatform,
) -> Result<tokio_postgres::Transaction<'c>, RunError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| RunError::sql("BEGIN", e))?;
    let lock = "-- Take the platform's DDL lock.\nSELECT pg_advisory_xact_lock($1)";
    tx.execute(lock, &[&crate::batch::lock_id(&platform.name, "")])
        .await
        .map_err(|e| RunError::sql(lock, e))?;
    Ok(tx)
}

/// The DDL that creates what is missing of the batch tables and the tables of `datasets`,
/// and evolves what exists.
async fn plan_tables(
    client: &impl GenericClient,
    platform: &YellowPlatform,
    datasets: &[(&Datastore, &DatasetSchema)],
) -> Result<Plan, RunError> {
    let mut plan = Plan::default();
    let mut objects: Vec<(datasurface_codegen::sql::Ddl, Option<&DatasetSchema>)> =
        BatchSql::new(&platform.name)
            .create
            .into_iter()
            .map(|d| (d, None))
            .collect();
    for (store, dataset) in datasets {
        objects.extend(
            DatasetSql::new(platform, store, dataset)
                .tables
                .into_iter()
                .map(|d| (d, Some(*dataset))),
        );
    }
    for (ddl, dataset) in objects {
        let quoted = naming::quote_ident(&ddl.object);
        match (read_table(client, &quoted).await?, ddl.shape, dataset) {
            (None, _, _) => plan.statements.push(ddl.sql),
            (Some(existing), Some(shape), Some(dataset)) => {
                match evolve::evolve(&quoted, dataset, shape, &existing) {
                    Ok(statements) => plan.statements.extend(statements),
                    Err(refused) => plan.refused.extend(refused),
                }
            }
            _ => {}
        }
    }
    Ok(plan)
}

/// View DDL: drops go before the table DDL (a view blocks changing its columns' types),
/// creates after it.
struct ViewPlan {
    drops: Vec<String>,
    creates: Vec<String>,
}

async fn plan_views(
    client: &impl GenericClient,
    eco: &ValidEcosystem,
    platform: &YellowPlatform,
    tables: &Plan,
) -> Result<ViewPlan, RunError> {
    let mut plan = ViewPlan {
        drops: Vec::new(),
        creates: Vec::new(),
    };
    for (assignment, store, dataset) in eco.assigned_sinks(&platform.name) {
        let merge = naming::quote_ident(&naming::merge_table(
            &platform.name,
            &store.name,
            &dataset.name,
        ));
        let retyped = tables.statements.iter().any(|s| {
            s.contains(&format!("ALTER TABLE {merge} ALTER COLUMN")) && s.contains(" TYPE ")
        });
        for view in views(
            platform,
            &assignment.workspace,
            &assignment.dsg,
            &store.name,
            dataset,
        ) {
            let existing = read_columns(client, &naming::quote_ident(&view.name)).await?;
            let View {
                create,
                drop,
                columns,
                ..
            } = view;
            match (assignment.is_active(), existing) {
                (true, None) => plan.creates.push(create),
                (true, Some(found))
                    if retyped || found.iter().map(|c| &c.name).ne(columns.iter()) =>
                {
                    plan.drops.push(drop);
                    plan.creates.push(create);
                }
                (false, Some(_)) => plan.drops.push(drop),
                _ => {}
            }
        }
    }
    Ok(plan)
}

async fn read_columns(
    client: &impl GenericClient,
    quoted: &str,
) -> Result<Option<Vec<ExistingColumn>>, RunError> {
    let columns: Vec<ExistingColumn> = client
        .query(CATALOG_COLUMNS, &[&quoted])
        .await
        .map_err(|e| RunError::sql(CATALOG_COLUMNS, e))?
        .iter()
        .map(|r| ExistingColumn {
            name: r.get(0),
            pg_type: r.get(1),
            nullable: r.get(2),
        })
        .collect();
    Ok((!columns.is_empty()).then_some(columns))
}

async fn read_table(
    client: &impl GenericClient,
    quoted: &str,
) -> Result<Option<ExistingTable>, RunError> {
    let Some(columns) = read_columns(client, quoted).await? else {
        return Ok(None);
    };
    let primary_key = client
        .query(CATALOG_PRIMARY_KEY, &[&quoted])
        .await
        .map_err(|e| RunError::sql(CATALOG_PRIMARY_KEY, e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(Some(ExistingTable {
        columns,
        primary_key,
    }))
}
