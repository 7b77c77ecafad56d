//! `demo`: the whole pipeline on this machine. A throwaway PostgreSQL (unless the model's
//! databases are pointed elsewhere), the source created and changed by the simulator, and
//! batches on every platform after each burst of changes.

use crate::batch::{self, RunOptions};
use crate::pg::{self, Environment, cluster::Cluster};
use crate::simulate::{self, Simulator};
use datasurface_model::{
    Credential, DatasetSchema, Datastore, PlatformMode, PostgresDatabase, ValidEcosystem, naming,
};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Bursts of changes, each followed by a batch on every platform.
    pub cycles: u32,
    /// Changes per burst.
    pub changes: u64,
    /// Leave the throwaway database running at the end.
    pub keep: bool,
    pub seed: Option<u64>,
}

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "the demo drives the customers and addresses tables of the MVP model with the simulator; \
         this model has no datastore with both datasets"
    )]
    NotMvp,
    #[error("could not start a throwaway PostgreSQL: {0}")]
    Cluster(#[from] pg::cluster::ClusterError),
    #[error(transparent)]
    Connect(#[from] pg::ConnectError),
    #[error(transparent)]
    Simulate(#[from] simulate::SimulateError),
    #[error(transparent)]
    Run(#[from] batch::RunError),
    #[error("{0}")]
    Infra(String),
    #[error("interrupted; everything the demo started was stopped and removed")]
    Interrupted,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Runs the demo, writing what happens to `out`.
pub async fn run(
    eco: &ValidEcosystem,
    options: &Options,
    env: &Environment,
    stop: &AtomicBool,
    out: &mut dyn Write,
) -> Result<(), DemoError> {
    let (store, source) = mvp_source(eco).ok_or(DemoError::NotMvp)?;
    let databases = databases(eco);
    let overridden = databases
        .iter()
        .any(|(db, _)| env.has(&naming::database_env_var(&db.name)));
    let (cluster, env) = if overridden {
        writeln!(out, "using the databases named by DATASURFACE_DB_*")?;
        (None, env.clone())
    } else {
        writeln!(out, "starting a throwaway PostgreSQL…")?;
        let cluster = Cluster::start()?;
        let mut env = env.clone();
        let admin = cluster.connect("postgres").await?;
        for (db, credential) in &databases {
            let create = format!("CREATE DATABASE {}", naming::quote_ident(&db.database));
            admin
                .batch_execute(&create)
                .await
                .map_err(|e| batch::RunError::sql(&create, e))?;
            env = env
                .set(
                    naming::database_env_var(&db.name),
                    cluster.url(&db.database),
                )
                .set(
                    naming::credential_env_var(&credential.name, "USER"),
                    "postgres",
                );
        }
        writeln!(
            out,
            "PostgreSQL on 127.0.0.1:{} with database(s) {}",
            cluster.port(),
            databases
                .iter()
                .map(|(d, _)| d.database.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        (Some(cluster), env)
    };

    let result = pipeline(eco, options, &env, stop, store, source, out).await;
    match (cluster, result) {
        (Some(cluster), Ok(())) if options.keep => {
            let stop_command = cluster.keep();
            let merge = &eco.providers[0].merge_database.database;
            let port = crate::pg::host_port(&pg::config(source.0, source.1, &env)?).1;
            writeln!(
                out,
                "\nThe databases keep running (--keep). Look around with:"
            )?;
            writeln!(out, "  psql postgres://postgres@127.0.0.1:{port}/{merge}")?;
            writeln!(out, "  tables: {}", tables(eco).join(", "))?;
            writeln!(out, "Stop and remove them with:\n  {stop_command}")?;
            Ok(())
        }
        // Dropping the cluster stops and removes it.
        (_, result) => result,
    }
}

async fn pipeline(
    eco: &ValidEcosystem,
    options: &Options,
    env: &Environment,
    stop: &AtomicBool,
    store: &Datastore,
    source: (&PostgresDatabase, &Credential),
    out: &mut dyn Write,
) -> Result<(), DemoError> {
    let config = pg::config(source.0, source.1, env)?;
    let sim_options = simulate::Options {
        interval: (0.0, 0.0),
        max_changes: Some(options.changes),
        create_tables: true,
        verbose: false,
        seed: options.seed,
    };
    let mut quiet = |_: &str| {};
    let (mut sim, seeded) = Simulator::connect(config, &sim_options, &mut quiet).await?;
    writeln!(
        out,
        "created the customers and addresses tables of {} and seeded {} customers",
        source.0.database, seeded.seeded
    )?;
    for platform in &eco.platforms {
        let plan = crate::infra::infra(eco, &platform.name, false, env)
            .await
            .map_err(|e| match e {
                crate::infra::InfraError::Run(e) => DemoError::Run(e),
                refused => DemoError::Infra(refused.to_string()),
            })?;
        writeln!(
            out,
            "infra {}: {} tables and views created",
            platform.name,
            plan.statements
                .iter()
                .filter(|s| s.contains("\nCREATE "))
                .count()
        )?;
    }
    let streams: Vec<(String, String)> = eco
        .platforms
        .iter()
        .flat_map(|p| {
            eco.streams(&p.name)
                .into_iter()
                .map(move |s| (p.name.clone(), s.key))
        })
        .filter(|(_, key)| key == &store.name || key.starts_with(&format!("{}#", store.name)))
        .collect();
    let bar = indicatif::ProgressBar::new(u64::from(options.cycles) * (1 + streams.len() as u64));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    // Cycle 0 takes the seeded source as it is.
    for cycle in 0..=options.cycles {
        if stop.load(Ordering::Relaxed) {
            bar.finish_and_clear();
            return Err(DemoError::Interrupted);
        }
        if cycle > 0 {
            bar.set_message(format!(
                "cycle {cycle}: simulating {} changes",
                options.changes
            ));
            let mut summary = simulate::Summary::default();
            sim.run(&sim_options, stop, &mut summary, &mut quiet)
                .await?;
            bar.suspend(|| writeln!(out, "cycle {cycle}: {summary}"))?;
            bar.inc(1);
        }
        for (platform, key) in &streams {
            let (store_name, dataset) = match key.split_once('#') {
                Some((s, d)) => (s, Some(d)),
                None => (key.as_str(), None),
            };
            bar.set_message(format!("cycle {cycle}: {platform} {key}"));
            let outcome = batch::run(
                eco,
                platform,
                store_name,
                dataset,
                &RunOptions::default(),
                env,
            )
            .await?;
            bar.suspend(|| writeln!(out, "  {platform} {key}: {outcome}"))?;
            if cycle > 0 {
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();

    for platform in &eco.platforms {
        writeln!(out, "\n{} batches:", platform.name)?;
        let rows = batch::history(eco, &platform.name, Some(&store.name), 1000, env).await?;
        batch::write_table(&platform.name, &rows, out)?;
    }
    if let Some(forensic) = eco
        .platforms
        .iter()
        .find(|p| p.mode == PlatformMode::Forensic)
    {
        history_sample(eco, forensic, store, env, out).await?;
    }
    Ok(())
}

/// One customer's versions from a forensic workspace view: the one with the most history.
async fn history_sample(
    eco: &ValidEcosystem,
    platform: &datasurface_model::YellowPlatform,
    store: &Datastore,
    env: &Environment,
    out: &mut dyn Write,
) -> Result<(), DemoError> {
    let view = eco.active_assignments(&platform.name).find_map(|a| {
        let dsg = eco.find_workspace(&a.workspace)?.find_dsg(&a.dsg)?;
        dsg.sinks
            .iter()
            .any(|s| s.store == store.name && s.dataset == "customers")
            .then(|| {
                naming::view_name(
                    &platform.name,
                    &a.workspace,
                    &a.dsg,
                    &store.name,
                    "customers",
                    naming::ViewKind::Full,
                )
            })
    });
    let Some(view) = view else {
        return Ok(());
    };
    let provider = eco
        .find_provider(&platform.provider)
        .expect("validated provider");
    let client = pg::connect(&provider.merge_database, &provider.merge_credential, env).await?;
    let quoted = naming::quote_ident(&view);
    let query = format!(
        "-- The versions of the customer with the most history.\n\
         SELECT id, firstname || ' ' || lastname, coalesce(email, ''), coalesce(phone, ''), coalesce(billingaddressid, ''), \
         ds_surf_batch_in, ds_surf_batch_out \
         FROM {quoted} WHERE id = (SELECT id FROM {quoted} GROUP BY id ORDER BY count(*) DESC, id LIMIT 1) \
         ORDER BY ds_surf_batch_in"
    );
    let rows = client
        .query(&query, &[])
        .await
        .map_err(|e| batch::RunError::sql(&query, e))?;
    let Some(first) = rows.first() else {
        return Ok(());
    };
    writeln!(
        out,
        "\nThe history of customer {} (from the workspace view {view}):",
        first.get::<_, String>(0)
    )?;
    writeln!(
        out,
        "{:<24} {:<36} {:<22} {:<10} {:>8} {:>9}",
        "name", "email", "phone", "billing", "batch_in", "batch_out"
    )?;
    for r in &rows {
        let out_batch: i32 = r.get(6);
        let until = if out_batch == i32::MAX {
            "current".to_owned()
        } else {
            out_batch.to_string()
        };
        writeln!(
            out,
            "{:<24} {:<36} {:<22} {:<10} {:>8} {:>9}",
            r.get::<_, String>(1),
            r.get::<_, String>(2),
            r.get::<_, String>(3),
            r.get::<_, String>(4),
            r.get::<_, i32>(5),
            until
        )?;
    }
    Ok(())
}

/// The store holding `customers` and `addresses`, with its source database and credential.
fn mvp_source(eco: &ValidEcosystem) -> Option<(&Datastore, (&PostgresDatabase, &Credential))> {
    eco.datastores().find_map(|s| {
        let has = |name: &str| s.datasets.iter().any(|d: &DatasetSchema| d.name == name);
        let snap = s.sql_snapshot()?;
        (has("customers") && has("addresses")).then_some((s, (&snap.database, &snap.credential)))
    })
}

/// Every database of the model (sources and merge databases), once each by name.
fn databases(eco: &ValidEcosystem) -> Vec<(&PostgresDatabase, &Credential)> {
    let mut seen = BTreeMap::new();
    for store in eco.datastores() {
        if let Some(s) = store.sql_snapshot() {
            seen.entry(s.database.name.as_str())
                .or_insert((&s.database, &s.credential));
        }
    }
    for p in &eco.providers {
        seen.entry(p.merge_database.name.as_str())
            .or_insert((&p.merge_database, &p.merge_credential));
    }
    seen.into_values().collect()
}

/// The tables and views a person would look at after the demo.
fn tables(eco: &ValidEcosystem) -> Vec<String> {
    let mut names = Vec::new();
    for p in &eco.platforms {
        names.push(naming::batch_metrics_table(&p.name));
        for (store, ds) in eco.ingested_datasets(&p.name) {
            names.push(naming::merge_table(&p.name, &store.name, &ds.name));
        }
        for (a, store, ds) in eco.assigned_sinks(&p.name) {
            if a.is_active() {
                let views =
                    datasurface_codegen::sql::views(p, &a.workspace, &a.dsg, &store.name, ds);
                names.extend(views.into_iter().map(|v| v.name));
            }
        }
    }
    names
}
