//! `demo`: the whole pipeline on this machine, for any model. A throwaway PostgreSQL
//! (unless the model's databases are pointed elsewhere) with every database of the model,
//! the source tables created from the model and changed by the simulator, and batches on
//! every platform after each burst of changes.

use super::postgres::{ThrowawayPostgres, ThrowawayPostgresError};
use super::simulate::{self, Scenario, SimulateError, Simulator, scenario_for};
use datasurface_codegen::sql::{longest_history, source, views};
use datasurface_engine::pg::{self, ConnectError, DbError, Environment, Exec};
use datasurface_engine::{self as engine, Engine, RunOptions};
use datasurface_model::naming::{self, ViewKind};
use datasurface_model::{PlatformMode, Stream, ValidEcosystem};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Bursts of changes, each followed by a batch on every platform.
    pub cycles: u32,
    /// Changes per burst, per datastore.
    pub changes: u64,
    /// Leave the throwaway database running at the end.
    pub keep: bool,
    pub seed: Option<u64>,
    /// Writes a platform's batches at the end, as the command line's `status` shows them.
    pub batch_table: BatchTable,
}

/// Writes the batches of the platform named first for a person.
pub type BatchTable = fn(&str, &[engine::BatchRecord], &mut dyn Write) -> std::io::Result<()>;

/// Why the demo stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("could not start a throwaway PostgreSQL: {0}")]
    Cluster(#[from] ThrowawayPostgresError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Settings(#[from] pg::SettingsError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Simulate(#[from] SimulateError),
    #[error(transparent)]
    Engine(#[from] engine::Error),
    #[error("interrupted; everything the demo started was stopped and removed")]
    Interrupted,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Runs the demo, writing what happens to `out`.
pub async fn run(
    eco: &ValidEcosystem,
    scenario: Option<Box<dyn Scenario>>,
    options: &Options,
    env: &Environment,
    stop: &AtomicBool,
    out: &mut dyn Write,
) -> Result<(), DemoError> {
    let databases = eco.databases();
    let overridden = databases
        .iter()
        .any(|(db, _)| env.has(&naming::database_env_var(&db.name)));
    let (cluster, env) = if overridden {
        writeln!(out, "using the databases named by DATASURFACE_DB_*")?;
        (None, env.clone())
    } else {
        writeln!(out, "starting a throwaway PostgreSQL…")?;
        let cluster = ThrowawayPostgres::start()?;
        if stop.load(Ordering::Relaxed) {
            return Err(DemoError::Interrupted);
        }
        let mut env = env.clone();
        let admin = cluster.connect("postgres").await?;
        let mut created = Vec::new();
        for (db, credential) in &databases {
            if !created.contains(&db.database.as_str()) {
                admin.run(&source::create_database(&db.database)).await?;
                created.push(db.database.as_str());
            }
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
            created.join(", ")
        )?;
        (Some(cluster), env)
    };

    let result = pipeline(eco, scenario, options, &env, stop, out).await;
    match (cluster, result) {
        (Some(cluster), Ok(())) if options.keep => {
            let port = cluster.port();
            let stop_command = cluster.keep();
            let merge = eco
                .model()
                .providers
                .first()
                .map_or("postgres", |p| p.merge_database.database.as_str());
            writeln!(
                out,
                "\nThe databases keep running (--keep). Look around with:"
            )?;
            writeln!(out, "  psql postgres://postgres@127.0.0.1:{port}/{merge}")?;
            writeln!(out, "  tables: {}", tables(eco).join(", "))?;
            writeln!(out, "Point this binary's commands at them with:")?;
            for (var, value) in keep_env(eco, &env) {
                writeln!(out, "  export {var}={}", shell_word(&value))?;
            }
            writeln!(out, "Stop and remove them with:\n  {stop_command}")?;
            Ok(())
        }
        // Dropping the cluster stops and removes it.
        (_, result) => result,
    }
}

async fn pipeline(
    eco: &ValidEcosystem,
    mut scenario: Option<Box<dyn Scenario>>,
    options: &Options,
    env: &Environment,
    stop: &AtomicBool,
    out: &mut dyn Write,
) -> Result<(), DemoError> {
    let sim_options = simulate::Options {
        interval: (0.0, 0.0),
        max_changes: Some(options.changes),
        create_tables: true,
        verbose: false,
        seed: options.seed,
    };
    let mut quiet = |_: &str| {};
    let mut simulators = Vec::new();
    for store in eco.stores() {
        let capture = store.capture;
        let mut settings =
            pg::Settings::resolve(&capture.database, Some(&capture.credential), env)?;
        settings.application_name("datasurface-demo");
        let datasets: Vec<_> = store.model.datasets.iter().collect();
        let (sim, summary) = Simulator::connect(
            settings,
            &capture.database.name,
            &capture.schema,
            &datasets,
            scenario_for(store, &mut scenario),
            &sim_options,
            &mut quiet,
        )
        .await?;
        writeln!(
            out,
            "created the tables of {} in {} ({}){}",
            store.model.name,
            capture.database.database,
            datasets
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            summary
                .seeded
                .map(|what| format!(" and seeded {what}"))
                .unwrap_or_default()
        )?;
        simulators.push((store.model.name.clone(), sim));
    }
    let engine = Engine::new(eco, env);
    for platform in eco.platforms() {
        let plan = engine.infra(platform, false).await?;
        writeln!(
            out,
            "infra {}: {} tables and views created",
            platform.model.name, plan.creates
        )?;
    }
    let streams: Vec<Stream<'_>> = eco.platforms().flat_map(|p| eco.streams(p)).collect();
    let bar = indicatif::ProgressBar::new(u64::from(options.cycles) * (1 + streams.len() as u64));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let several = simulators.len() > 1;
    // Cycle 0 takes the seeded sources as they are.
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
            for (store, sim) in &mut simulators {
                let mut summary = sim.empty_summary();
                sim.run(&sim_options, stop, &mut summary, &mut quiet)
                    .await?;
                let line = if several {
                    format!("cycle {cycle}: {store}: {summary}")
                } else {
                    format!("cycle {cycle}: {summary}")
                };
                bar.suspend(|| writeln!(out, "{line}"))?;
            }
            bar.inc(1);
        }
        for stream in &streams {
            bar.set_message(format!(
                "cycle {cycle}: {} {}",
                stream.platform.model.name, stream.key
            ));
            let outcome = engine.run(stream, &RunOptions::default()).await?;
            bar.suspend(|| {
                writeln!(
                    out,
                    "  {} {}: {outcome}",
                    stream.platform.model.name, stream.key
                )
            })?;
            if cycle > 0 {
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();

    for platform in eco.platforms() {
        writeln!(out, "\n{} batches:", platform.model.name)?;
        let rows = engine.status(platform, None, 1000).await?;
        (options.batch_table)(&platform.model.name, &rows, out)?;
    }
    history_sample(eco, env, out).await
}

/// The versions of the key with the most history, from the first forensic workspace view.
async fn history_sample(
    eco: &ValidEcosystem,
    env: &Environment,
    out: &mut dyn Write,
) -> Result<(), DemoError> {
    let found = eco
        .platforms()
        .filter(|p| p.model.mode == PlatformMode::Forensic)
        .find_map(|p| {
            let (a, store, dataset) = eco
                .model()
                .assigned_sinks(&p.model.name)
                .into_iter()
                .find(|(a, _, _)| a.is_active())?;
            let view = views(p.model, &a.workspace, &a.dsg, &store.name, dataset)
                .into_iter()
                .find(|v| v.kind == ViewKind::Full)?;
            Some((p, view, dataset))
        });
    let Some((platform, view, dataset)) = found else {
        return Ok(());
    };
    let provider = platform.provider;
    let client = pg::connect(&provider.merge_database, &provider.merge_credential, env).await?;
    let rows = client
        .rows(&longest_history(&view.name, dataset), &())
        .await?;
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let key: Vec<String> = dataset
        .primary_key
        .iter()
        .filter_map(|k| dataset.columns.iter().position(|c| &c.name == k))
        .map(|i| first.values.get(i).cloned().flatten().unwrap_or_default())
        .collect();
    writeln!(
        out,
        "\nThe history of {} {} (from the workspace view {}):",
        dataset.name,
        key.join(", "),
        view.name
    )?;
    let mut table: Vec<Vec<String>> = vec![view.columns.clone()];
    for r in &rows {
        let mut cells: Vec<String> = r
            .values
            .iter()
            .map(|v| v.clone().unwrap_or_default())
            .collect();
        let (batch_in, batch_out) = (r.batch_in, r.batch_out);
        cells.push(batch_in.to_string());
        cells.push(if batch_out == i32::MAX {
            "current".to_owned()
        } else {
            batch_out.to_string()
        });
        table.push(cells);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &table {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(())
}

/// The variables that point the model's databases at the kept cluster, as the demo set
/// them: each database's URL (which names the login) and each credential's user. No
/// password: the throwaway cluster trusts its local connections.
fn keep_env(eco: &ValidEcosystem, env: &Environment) -> Vec<(String, String)> {
    let databases = eco.databases();
    let urls = databases
        .iter()
        .map(|(db, _)| naming::database_env_var(&db.name));
    let users = databases
        .iter()
        .map(|(_, credential)| naming::credential_env_var(&credential.name, "USER"));
    let mut vars: Vec<(String, String)> = Vec::new();
    for var in urls.chain(users) {
        if let Some(value) = env.get(&var)
            && !vars.iter().any(|(v, _)| *v == var)
        {
            vars.push((var, value.to_owned()));
        }
    }
    vars
}

/// `text` as one word of a POSIX shell: as it is when nothing in it is special, else in
/// single quotes.
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The tables and views a person would look at after the demo.
fn tables(eco: &ValidEcosystem) -> Vec<String> {
    let mut names = Vec::new();
    for p in eco.platforms() {
        names.push(naming::batch_metrics_table(&p.model.name));
        for (store, ds) in eco.model().ingested_datasets(&p.model.name) {
            names.push(naming::merge_table(&p.model.name, &store.name, &ds.name));
        }
        for (a, store, ds) in eco.model().assigned_sinks(&p.model.name) {
            if a.is_active() {
                let views = views(p.model, &a.workspace, &a.dsg, &store.name, ds);
                names.extend(views.into_iter().map(|v| v.name));
            }
        }
    }
    names
}
