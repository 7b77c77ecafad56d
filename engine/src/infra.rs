//! `infra`: what a platform needs in its merge database — batch tables, staging and merge
//! tables, workspace views — created where missing and evolved where the model changed.
//! `run` creates and evolves its stream's tables through this same code.
//!
//! Evolution only ever adds nullable columns, widens varchar and numeric columns, relaxes
//! NOT NULL, and recreates views; everything else is refused with what to do, before
//! anything is changed. Tables are never dropped.
//!
//! On the sources of the platform's logically replicated streams, infra creates each
//! stream's publication (or sets its tables) and slot, and drops the platform's slots and
//! publications no stream of the model has any more (`source.rs`), after the merge
//! database's DDL committed.

use super::error::Error;
use super::session::Engine;
use super::source::{self, Names, SourceAction, SourceChange};
use crate::pg::{self, DbError, Exec};
use datasurface_codegen::sql::batch::Lock;
use datasurface_codegen::sql::catalog::{self, Relation};
use datasurface_codegen::sql::evolve::{self, ExistingColumn, ExistingTable, SchemaChange};
use datasurface_codegen::sql::replay::ReplaySql;
use datasurface_codegen::sql::replication::{self as sql, Prefix, ReplicationSlot};
use datasurface_codegen::sql::typed::Single;
use datasurface_codegen::sql::{BatchSql, DatasetSql, Ddl, Statement, View, lock_id, views};
use datasurface_model::{Consistency, DatasetSchema, Platform, Store, naming};
use std::collections::BTreeSet;
use tokio_postgres::{Client, Transaction};

/// What infra does, or would do, for a platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The DDL, in order.
    pub statements: Vec<Statement>,
    /// How many of the statements create a table, an index or a view.
    pub creates: usize,
    /// Columns added by hand to merge tables, left as they are: `table.column`.
    pub ignored: Vec<String>,
    /// On the sources of the platform's logically replicated streams: the publications and
    /// slots created, set or dropped (see `source.rs`), in order.
    pub source: Vec<SourceChange>,
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty() && self.source.is_empty()
    }
}

impl Engine<'_> {
    /// Plans, and unless `plan_only` applies, everything `platform` needs. All of it in one
    /// transaction: a refused or failed change leaves the database as it was.
    pub async fn infra(&self, platform: Platform<'_>, plan_only: bool) -> Result<Plan, Error> {
        self.plan_infra(platform, plan_only, true).await
    }

    /// [`Engine::infra`]; the sources are left out unless `sources`.
    pub(super) async fn plan_infra(
        &self,
        platform: Platform<'_>,
        plan_only: bool,
        sources: bool,
    ) -> Result<Plan, Error> {
        let mut client = self.merge_db(platform).await?;
        let tx = begin_locked(&mut client, platform).await?;
        let datasets = self.eco.ingested(&platform.model.name);
        let TablePlan { mut plan, retyped } = plan_tables(&tx, platform, &datasets).await?;
        let views = plan_views(&tx, self, platform, &retyped).await?;
        plan.creates += views.creates.len();
        plan.statements.splice(0..0, views.drops);
        plan.statements.extend(views.creates);
        // Planned under the platform's DDL lock, so two infras do not create a slot twice.
        let sources = match sources {
            true => self.plan_sources(platform).await?,
            false => Vec::new(),
        };
        plan.source = sources
            .iter()
            .flat_map(|s| s.changes.iter().map(|(c, _)| c.clone()))
            .collect();
        if !plan_only {
            for statement in &plan.statements {
                tx.run(statement).await?;
            }
            pg::commit(tx).await?;
            for source in &sources {
                source.apply().await?;
            }
        }
        Ok(plan)
    }

    /// What the sources of `platform`'s logically replicated streams lack — each stream's
    /// publication of its tables and its slot — and the platform's slots and publications
    /// no stream of the model has any more.
    async fn plan_sources(&self, platform: Platform<'_>) -> Result<Vec<SourcePlan>, Error> {
        let eco = self.eco.model().name.as_str();
        let all = source::replicated(self.eco);
        let current: BTreeSet<String> = all
            .iter()
            .flat_map(|s| {
                let names = Names::of(eco, s);
                [names.slot, names.publication]
            })
            .collect();
        let prefix = naming::replication_prefix(eco, &platform.model.name);
        // Another platform whose prefix starts with this one's (`yellow`, `yellow_live`):
        // its names are not this platform's.
        let longer: Vec<String> = self
            .eco
            .platforms()
            .filter(|p| p.model.name != platform.model.name)
            .filter_map(|p| naming::replication_prefix(eco, &p.model.name))
            .filter(|p| {
                prefix
                    .as_ref()
                    .is_some_and(|mine| p.len() > mine.len() && p.starts_with(mine.as_str()))
            })
            .collect();
        let ours =
            |name: &String| !current.contains(name) && !longer.iter().any(|l| name.starts_with(l));
        let mut plans = Vec::new();
        for (db, credential) in source::replicated_sources(self.eco) {
            let client = pg::connect(db, credential, self.env).await?;
            let mut changes = Vec::new();
            let change = |action, name: &str| SourceChange {
                database: db.name.clone(),
                action,
                name: name.to_owned(),
            };
            for stream in all.iter().filter(|s| {
                s.platform.model.name == platform.model.name
                    && s.store.capture.database.name == db.name
            }) {
                let names = Names::of(eco, stream);
                let tables = source::tables(stream);
                if let Some((action, statement)) =
                    source::publication_change(&client, &names.publication, &tables).await?
                {
                    changes.push((change(action, &names.publication), Some(statement)));
                }
                let slot = ReplicationSlot { slot: &names.slot };
                if client.opt_row(&sql::slot_state(), &slot).await?.is_none() {
                    changes.push((change(SourceAction::CreateSlot, &names.slot), None));
                }
            }
            if let Some(prefix) = &prefix {
                let prefix = Prefix { prefix };
                for Single(slot) in client.rows(&sql::slots_by_prefix(), &prefix).await? {
                    if ours(&slot) {
                        changes.push((change(SourceAction::DropSlot, &slot), None));
                    }
                }
                for Single(publication) in
                    client.rows(&sql::publications_by_prefix(), &prefix).await?
                {
                    if ours(&publication) {
                        let drop = sql::drop_publication(&publication);
                        changes.push((
                            change(SourceAction::DropPublication, &publication),
                            Some(drop),
                        ));
                    }
                }
            }
            if !changes.is_empty() {
                plans.push(SourcePlan { client, changes });
            }
        }
        Ok(plans)
    }
}

/// What infra changes in one source database, with a connection to it.
struct SourcePlan {
    client: Client,
    /// Each change, with its statement when it has one of its own.
    changes: Vec<(SourceChange, Option<Statement>)>,
}

impl SourcePlan {
    /// Makes the changes, one by one: creating a slot cannot be part of a transaction that
    /// wrote, and each change is checked again by the next infra.
    async fn apply(&self) -> Result<(), Error> {
        for (change, statement) in &self.changes {
            let slot = ReplicationSlot { slot: &change.name };
            match (change.action, statement) {
                (_, Some(statement)) => self.client.run(statement).await?,
                (SourceAction::CreateSlot, None) => {
                    self.client.row(&sql::create_slot(), &slot).await?;
                }
                (SourceAction::DropSlot, None) => {
                    self.client.exec(&sql::drop_slot(), &slot).await?;
                }
                (action, None) => unreachable!("{action} comes with its statement"),
            }
        }
        Ok(())
    }
}

/// Creates or evolves the platform's batch tables and the tables of `datasets` of `store`,
/// as `run` needs them; refuses what infra would refuse.
pub(super) async fn ensure_tables(
    client: &mut Client,
    platform: Platform<'_>,
    store: &Store<'_>,
    datasets: &[&DatasetSchema],
) -> Result<(), Error> {
    let tx = begin_locked(client, platform).await?;
    let datasets: Vec<(Store<'_>, &DatasetSchema)> =
        datasets.iter().map(|d| (*store, *d)).collect();
    let plan = plan_tables(&tx, platform, &datasets).await?.plan;
    for statement in &plan.statements {
        tx.run(statement).await?;
    }
    Ok(pg::commit(tx).await?)
}

/// The changes tables (and their indexes) of the logically replicated streams of
/// `datasets`.
fn replay_tables(
    platform: Platform<'_>,
    datasets: &[(Store<'_>, &DatasetSchema)],
) -> Vec<Vec<Ddl>> {
    let mut streams: Vec<(Store<'_>, Vec<&DatasetSchema>)> = Vec::new();
    for (store, dataset) in datasets.iter().filter(|(s, _)| s.replication.is_some()) {
        let single = store.capture.consistency == Consistency::SingleDataset;
        match streams.last_mut() {
            Some((s, group)) if !single && s.model.name == store.model.name => group.push(dataset),
            _ => streams.push((*store, vec![*dataset])),
        }
    }
    streams
        .into_iter()
        .map(|(store, group)| ReplaySql::new(platform.model, store, &group).create)
        .collect()
}

/// Whether the table or view `name` (unquoted) exists.
pub(super) async fn table_exists(client: &impl Exec, name: &str) -> Result<bool, DbError> {
    let Single(found) = client
        .row(&catalog::exists(), &Relation::merge(name))
        .await?;
    Ok(found.is_some())
}

/// A transaction holding the platform's DDL lock: two runners changing the same tables at
/// once would otherwise collide in the catalog.
async fn begin_locked<'c>(
    client: &'c mut Client,
    platform: Platform<'_>,
) -> Result<Transaction<'c>, Error> {
    let tx = pg::begin(client).await?;
    let sql = BatchSql::new(&platform.model.name);
    let lock = Lock {
        id: lock_id(&platform.model.name, None),
    };
    tx.exec(&sql.ddl_lock, &lock).await?;
    Ok(tx)
}

/// The DDL that creates what is missing of the batch tables and the tables of `datasets`,
/// and evolves what exists; [`Error::Refused`] with every reason when something cannot be
/// evolved safely.
async fn plan_tables(
    client: &impl Exec,
    platform: Platform<'_>,
    datasets: &[(Store<'_>, &DatasetSchema)],
) -> Result<TablePlan, Error> {
    let mut out = TablePlan::default();
    let mut refusals = Vec::new();
    let batch_tables = BatchSql::new(&platform.model.name).create;
    let dataset_tables = datasets.iter().map(|(store, dataset)| {
        (
            Some(*dataset),
            DatasetSql::new(platform.model, *store, dataset).tables,
        )
    });
    let replay_tables = replay_tables(platform, datasets)
        .into_iter()
        .map(|t| (None, t));
    for (dataset, tables) in std::iter::once((None, batch_tables))
        .chain(dataset_tables)
        .chain(replay_tables)
    {
        // Staging comes first: the merge table's evolution compares with it.
        let mut staging = None;
        for ddl in tables {
            let found = read_table(client, &ddl.object).await?;
            match (found, ddl.shape, dataset) {
                (None, _, _) => {
                    out.plan.creates += 1;
                    out.plan.statements.push(ddl.statement);
                }
                (Some(existing), Some(shape), Some(dataset)) => {
                    let e =
                        evolve::evolve(&ddl.object, dataset, shape, &existing, staging.as_ref());
                    if e.changes.iter().any(SchemaChange::retypes) {
                        out.retyped.push(ddl.object.clone());
                    }
                    out.plan
                        .statements
                        .extend(e.changes.into_iter().map(|c| c.statement));
                    out.plan
                        .ignored
                        .extend(e.ignored.into_iter().map(|c| format!("{}.{c}", ddl.object)));
                    refusals.extend(e.refusals);
                    staging.get_or_insert(existing);
                }
                // The batch tables and indexes are left as they are once they exist.
                (Some(_), _, _) => {}
            }
        }
    }
    if refusals.is_empty() {
        Ok(out)
    } else {
        Err(Error::Refused(refusals))
    }
}

/// The table DDL, and the tables it gives a column another type.
#[derive(Default)]
struct TablePlan {
    plan: Plan,
    retyped: Vec<String>,
}

/// View DDL: drops go before the table DDL (a view blocks changing its columns' types),
/// creates after it.
struct ViewPlan {
    drops: Vec<Statement>,
    creates: Vec<Statement>,
}

async fn plan_views(
    client: &impl Exec,
    engine: &Engine<'_>,
    platform: Platform<'_>,
    retyped: &[String],
) -> Result<ViewPlan, Error> {
    let mut plan = ViewPlan {
        drops: Vec::new(),
        creates: Vec::new(),
    };
    for (assignment, store, dataset) in engine.eco.model().assigned_sinks(&platform.model.name) {
        let merge = naming::merge_table(&platform.model.name, &store.name, &dataset.name);
        let retyped = retyped.contains(&merge);
        for view in views(
            platform.model,
            &assignment.workspace,
            &assignment.dsg,
            &store.name,
            dataset,
        ) {
            let existing = read_columns(client, &view.name).await?;
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
    client: &impl Exec,
    name: &str,
) -> Result<Option<Vec<ExistingColumn>>, DbError> {
    let columns: Vec<ExistingColumn> = client
        .rows(&catalog::columns(), &Relation::merge(name))
        .await?
        .into_iter()
        .map(|c| ExistingColumn {
            name: c.name,
            pg_type: c.pg_type,
            nullable: c.nullable,
            has_default: c.has_default,
        })
        .collect();
    Ok((!columns.is_empty()).then_some(columns))
}

async fn read_table(client: &impl Exec, name: &str) -> Result<Option<ExistingTable>, DbError> {
    let Some(columns) = read_columns(client, name).await? else {
        return Ok(None);
    };
    let primary_key = client
        .rows(&catalog::primary_key(), &Relation::merge(name))
        .await?
        .into_iter()
        .map(|Single(column)| column)
        .collect();
    Ok(Some(ExistingTable {
        columns,
        primary_key,
    }))
}
