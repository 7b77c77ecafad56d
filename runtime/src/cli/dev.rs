//! The development commands (`simulate`, `demo`), with the `dev` feature: their flags, and
//! the handlers that run the development tools and render what they return.

use super::render::{Failure, Output};
use super::setup::{model, runtime};
use crate::dev::{Scenario, demo, simulate};
use crate::pg::{self, Environment};
use datasurface_codegen::Exit;
use datasurface_model::{Ecosystem, Store, ValidEcosystem};

/// The development commands.
#[derive(Debug, clap::Subcommand)]
pub(super) enum DevCommand {
    /// Make realistic changes to the source tables of a datastore, one transaction each,
    /// at random intervals: the model's own scenario, or inserts, updates and deletes of
    /// every dataset.
    Simulate(SimulateArgs),
    /// Run the whole pipeline on this machine: a throwaway PostgreSQL (unless
    /// DATASURFACE_DB_* point elsewhere), the sources created from the model and changed by
    /// the simulator, and a batch on every platform after each burst of changes.
    Demo(DemoArgs),
}

// The flags of `demo`; its `--help` text is the variant's doc comment above.
#[derive(Debug, clap::Args)]
pub(super) struct DemoArgs {
    /// Bursts of changes, each followed by a batch on every platform.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    cycles: u32,
    /// Changes per burst, per datastore.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..))]
    changes: u64,
    /// Leave the throwaway database running and print how to look at it.
    #[arg(long)]
    keep: bool,
    /// Seed for a reproducible sequence of changes.
    #[arg(long)]
    seed: Option<u64>,
}

/// The simulator's flags. The database is the datastore's source as the model (and
/// `DATASURFACE_DB_*`) has it, unless these say otherwise.
#[derive(Debug, clap::Args)]
pub(super) struct SimulateArgs {
    /// The datastore whose source to change (needed when the model has several).
    #[arg(long)]
    store: Option<String>,
    /// Database host.
    #[arg(long, env = "PGHOST")]
    host: Option<String>,
    /// Database port.
    #[arg(long, env = "PGPORT")]
    port: Option<u16>,
    /// Database name.
    #[arg(long, env = "PGDATABASE")]
    database: Option<String>,
    /// Database user (default: the store credential's {name}_USER, else postgres).
    #[arg(long, env = "PGUSER")]
    user: Option<String>,
    /// Database password (default: the store credential's {name}_PASSWORD).
    #[arg(long, env = "PGPASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Shortest wait between changes, in seconds (fractions allowed).
    #[arg(long, default_value_t = 5.0, value_parser = positive_seconds)]
    min_interval: f64,
    /// Longest wait between changes, in seconds (fractions allowed; at least --min-interval).
    #[arg(long, default_value_t = 30.0, value_parser = positive_seconds)]
    max_interval: f64,
    /// Stop after this many changes (default: run until interrupted).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_changes: Option<u64>,
    /// Create the source tables from the model if missing, and seed them when empty.
    #[arg(long)]
    create_tables: bool,
    /// Print every change.
    #[arg(long)]
    verbose: bool,
    /// Seed for a reproducible sequence of changes.
    #[arg(long)]
    seed: Option<u64>,
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) => Err("must be a number of seconds greater than 0".into()),
        Err(_) => Err(format!("`{text}` is not a number of seconds")),
    }
}

/// `simulate`: changes to a datastore's source until `--max-changes` or a signal, then
/// what was changed.
pub(super) fn simulate(
    ecosystem: Ecosystem,
    mut own: Option<Box<dyn Scenario>>,
    args: SimulateArgs,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    if args.min_interval > args.max_interval {
        return Err(Failure::Usage(clap::Error::raw(
            clap::error::ErrorKind::ArgumentConflict,
            format!(
                "--min-interval ({}) is greater than --max-interval ({})\n",
                args.min_interval, args.max_interval
            ),
        )));
    }
    let eco = model(ecosystem)?;
    let runtime = runtime()?;
    let env = Environment::from_process();
    runtime.block_on(async {
        // Before anything else, so a signal never finds the default handler.
        let stop = simulate::stop_on_signals();
        let store =
            pick_store(&eco, args.store.as_deref(), own.as_deref()).map_err(Failure::Error)?;
        let config = connection(store, &args, &env).map_err(Failure::error)?;
        let options = simulate::Options {
            interval: (args.min_interval, args.max_interval),
            max_changes: args.max_changes,
            create_tables: args.create_tables,
            verbose: args.verbose,
            seed: args.seed,
        };
        let out = &mut *o.out;
        let mut log = |line: &str| {
            let _ = writeln!(out, "{line}");
        };
        let database = config.dbname_on_server().to_owned();
        let datasets: Vec<_> = store.datasets.iter().collect();
        let (mut sim, mut summary) = simulate::Simulator::connect(
            config,
            &database,
            &store.capture.schema,
            &datasets,
            simulate::scenario_for(store, &mut own),
            &options,
            &mut log,
        )
        .await
        .map_err(Failure::error)?;
        let result = sim.run(&options, &stop, &mut summary, &mut log).await;
        if let Some(what) = &summary.seeded {
            writeln!(o.out, "seeded {what}")?;
        }
        writeln!(o.out, "simulate: {summary}")?;
        result.map_err(Failure::error)?;
        Ok(Exit::Success)
    })
}

/// `demo`: the whole pipeline on this machine.
pub(super) fn demo(
    eco: &ValidEcosystem,
    scenario: Option<Box<dyn Scenario>>,
    args: DemoArgs,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    let runtime = runtime()?;
    let env = Environment::from_process();
    runtime.block_on(async {
        // Before anything else, so a signal never finds the default handler.
        let stop = simulate::stop_on_signals();
        let options = demo::Options {
            cycles: args.cycles,
            changes: args.changes,
            keep: args.keep,
            seed: args.seed,
            batch_table: super::table::write_table,
        };
        match demo::run(eco, scenario, &options, &env, &stop, o.out).await {
            Ok(()) => Ok(Exit::Success),
            Err(e @ demo::DemoError::Interrupted) => Err(Failure::Interrupted(e.to_string())),
            Err(demo::DemoError::Io(e)) => Err(Failure::Io(e)),
            Err(e) => Err(Failure::error(e)),
        }
    })
}

/// The datastore to simulate: the one named, the scenario's, or the model's only one.
fn pick_store<'e>(
    eco: &'e ValidEcosystem,
    named: Option<&str>,
    scenario: Option<&dyn Scenario>,
) -> Result<Store<'e>, String> {
    if let Some(name) = named.or(scenario.map(|s| s.store())) {
        return eco.store(name).map_err(|e| e.to_string());
    }
    let stores: Vec<Store<'e>> = eco.stores().collect();
    match stores.as_slice() {
        [one] => Ok(*one),
        _ => Err(format!(
            "the model has {} datastores ({}); name one with --store",
            stores.len(),
            stores
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The store's source as the model and `DATASURFACE_DB_*` have it, with the flags (or the
/// `PG*` variables) over it.
fn connection(
    store: Store<'_>,
    args: &SimulateArgs,
    env: &Environment,
) -> Result<pg::Settings, pg::SettingsError> {
    let capture = store.capture;
    let mut settings = pg::Settings::resolve(&capture.database, None, env)?;
    if let Some(host) = &args.host {
        settings.host(host);
    }
    if let Some(port) = args.port {
        settings.port(port);
    }
    if let Some(database) = &args.database {
        settings.dbname(database);
    }
    let vars = capture.credential.env_vars();
    let from_env = |part: usize| vars.get(part).and_then(|(var, _)| env.get(var));
    match args.user.as_deref().or(from_env(0)) {
        Some(user) => settings.user(user),
        None if settings.user_name().is_none() => settings.user("postgres"),
        None => &mut settings,
    };
    if let Some(password) = args.password.as_deref().or(from_env(1)) {
        settings.password(password);
    }
    settings.application_name("datasurface-simulate");
    Ok(settings)
}
