//! The development commands (`simulate`, `demo`), with the `dev` feature: their flags, and
//! the handlers that run the development tools and render what they return.

use super::render::{Failure, Output};
use super::setup::{model, runtime};
use crate::dev::{Scenario, demo, simulate};
use crate::pg::{self, Environment};
use datasurface_codegen::Exit;
use datasurface_model::{Ecosystem, Store, ValidEcosystem, naming};

/// The development commands.
#[derive(Debug, clap::Subcommand)]
pub(super) enum DevCommand {
    /// Make realistic changes to the source tables of a datastore, one transaction each,
    /// at random intervals: the model's own scenario, or inserts, updates and deletes of
    /// every dataset.
    ///
    /// The database is the store's source, found as every command finds a database (the
    /// model, DATASURFACE_DB_*, the credential, then libpq's variables); --host, --port,
    /// --database, --user and --password override it.
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

/// The simulator's flags. Its database is the store's source, found as every command finds
/// a database; the connection flags override it.
#[derive(Debug, clap::Args)]
pub(super) struct SimulateArgs {
    /// The datastore whose source to change (needed when the model has several).
    #[arg(long)]
    store: Option<String>,
    /// Database host (default: the source's, as the model and DATASURFACE_DB_{NAME} say;
    /// PGHOST does not move it).
    #[arg(long)]
    host: Option<String>,
    /// Database port (default: the source's, as for --host; PGPORT does not move it).
    #[arg(long)]
    port: Option<u16>,
    /// Database name (default: the source's, as for --host; PGDATABASE does not move it).
    #[arg(long)]
    database: Option<String>,
    /// Database user (default: the store credential's {name}_USER, then the user of
    /// DATASURFACE_DB_{NAME}, then PGUSER).
    #[arg(long)]
    user: Option<String>,
    /// Database password (default: the store credential's {name}_PASSWORD, then the
    /// password of DATASURFACE_DB_{NAME}, then PGPASSWORD, then the password file).
    #[arg(long)]
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
        let config = connection(store, &args, &env)?;
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
        let datasets: Vec<_> = store.model.datasets.iter().collect();
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
                .map(|s| s.model.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The store's source, found as every command finds a database (the model,
/// `DATASURFACE_DB_*` over it, the store's credential, then libpq's `PGUSER`, `PGPASSWORD`,
/// password file, `PGSSLMODE`…), with the flags over all of it.
fn connection(
    store: Store<'_>,
    args: &SimulateArgs,
    env: &Environment,
) -> Result<pg::Settings, Failure> {
    let capture = store.capture;
    let credential = &capture.credential;
    // A login given by flag stands for the credential's, which comes first.
    let mut env = env.clone();
    if let Some(user) = &args.user {
        env = env.set(naming::credential_env_var(&credential.name, "USER"), user);
    }
    if let Some(password) = &args.password {
        env = env.set(
            naming::credential_env_var(&credential.name, "PASSWORD"),
            password,
        );
    }
    let mut settings = match pg::Settings::resolve(&capture.database, Some(credential), &env) {
        Ok(settings) => settings,
        Err(e @ pg::SettingsError::MissingCredential { .. }) => {
            return Err(Failure::error(format_args!("{e}, or pass --user")));
        }
        Err(e) => return Err(Failure::error(e)),
    };
    if let Some(host) = &args.host {
        settings.host(host);
    }
    if let Some(port) = args.port {
        settings.port(port);
    }
    if let Some(database) = &args.database {
        settings.dbname(database);
    }
    settings.application_name("datasurface-simulate");
    Ok(settings)
}
