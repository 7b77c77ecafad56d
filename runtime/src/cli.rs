//! The runtime binary's command line: what a model repo's `main` runs.

use crate::batch::{self, RunOptions};
use crate::pg::Environment;
use crate::simulate;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use datasurface_model::{Ecosystem, ValidEcosystem};
use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

const SUCCESS: u8 = 0;
const FAILURE: u8 = 1;

/// The runtime binary of a DataSurface ecosystem.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the model: print every error and warning with its path in the model;
    /// exit 1 if there is any error.
    Validate,
    /// Run one whole batch of a stream: snapshot the source into staging, merge, commit.
    /// Resumes the stream's open batch if there is one. The last line is
    /// DATASURFACE_RESULT_CODE=0 on success, -1 on error.
    Run {
        #[command(flatten)]
        stream: StreamArgs,
        /// Allow this run to delete up to this percentage of a dataset's current rows
        /// (overrides the store's mass-delete guard; 100 turns it off).
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=100))]
        max_delete_percent: Option<u8>,
    },
    /// Reset a stream's open batch: clear its staging and send it back to started, so the
    /// next run takes a fresh snapshot. Prints SUCCESS or ERROR: ….
    ResetBatch {
        #[command(flatten)]
        stream: StreamArgs,
        /// Forensic platforms: rewind the merge tables to exactly their state after batch N
        /// (0: empty) and mark the later batches reset.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
        to_batch: Option<i32>,
        /// With --to-batch: print what would change and change nothing.
        #[arg(long, requires = "to_batch")]
        dry_run: bool,
    },
    /// Write every artifact of the model (SQL, image recipe, secrets guide, …) under DIR.
    Generate {
        /// The output directory.
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
        /// Change nothing; exit 1 and list the stale files if DIR differs from what the
        /// model generates.
        #[arg(long)]
        check: bool,
    },
    /// Create what a platform needs in its merge database — batch tables, staging and merge
    /// tables, workspace views — and evolve them to the model. Idempotent.
    Infra {
        /// The platform's model name (as written in the model, e.g. YellowLive).
        #[arg(long)]
        platform: String,
        /// Print the DDL it would run and change nothing.
        #[arg(long)]
        plan: bool,
    },
    /// Make realistic changes to the customers and addresses tables of the MVP source
    /// database, one transaction each, at random intervals.
    Simulate(SimulateArgs),
    /// Run the whole pipeline on this machine: a throwaway PostgreSQL (unless
    /// DATASURFACE_DB_* point elsewhere), the source seeded and changed by the simulator,
    /// and a batch on every platform after each burst of changes.
    Demo {
        /// Bursts of changes, each followed by a batch on every platform.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
        cycles: u32,
        /// Changes per burst.
        #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..))]
        changes: u64,
        /// Leave the throwaway database running and print how to look at it.
        #[arg(long)]
        keep: bool,
        /// Seed for a reproducible sequence of changes.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Show the recent batches of a platform's streams with their status, times and metrics.
    Status {
        /// The platform's model name (as written in the model, e.g. YellowLive).
        #[arg(long)]
        platform: String,
        /// Only the streams of this datastore.
        #[arg(long)]
        store: Option<String>,
        /// How many recent batches to show per stream.
        #[arg(long, default_value_t = 10)]
        limit: i64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// The simulator's flags.
#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// Database host.
    #[arg(long, env = "PGHOST", default_value = "localhost")]
    host: String,
    /// Database port.
    #[arg(long, env = "PGPORT", default_value_t = 5432)]
    port: u16,
    /// Database name.
    #[arg(long, env = "PGDATABASE", default_value = "customer_db")]
    database: String,
    /// Database user.
    #[arg(long, env = "PGUSER", default_value = "postgres")]
    user: String,
    /// Database password.
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
    /// Create the customers and addresses tables if missing, and seed a few customers.
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

/// Which stream a command works on.
#[derive(Debug, clap::Args)]
struct StreamArgs {
    /// The platform's model name (as written in the model, e.g. YellowLive).
    #[arg(long)]
    platform: String,
    /// The datastore.
    #[arg(long)]
    store: String,
    /// The dataset, for SINGLE_DATASET stores only.
    #[arg(long)]
    dataset: Option<String>,
}

/// Runs the command line of the process for `ecosystem` and returns its exit code.
///
/// This is the whole `main` of a model repo:
/// `fn main() -> ExitCode { datasurface::main(my_model::ecosystem()) }`.
pub fn main(ecosystem: Ecosystem) -> ExitCode {
    let code = run(
        ecosystem,
        std::env::args_os(),
        &mut io::stdout(),
        &mut io::stderr(),
    );
    ExitCode::from(code)
}

/// Runs the command line `args` (the binary's name first) for `ecosystem`, writing what a
/// person reads to `out` and diagnostics to `err`; returns the exit code: 0 on success,
/// 1 when the command failed, 2 for a usage error.
pub fn run<I, T>(ecosystem: Ecosystem, args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut args = args.into_iter().map(Into::into).peekable();
    let bin = args
        .peek()
        .and_then(|a| {
            std::path::Path::new(a)
                .file_stem()?
                .to_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "datasurface".to_owned());
    let parsed = Cli::command()
        .name(bin.clone())
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to `out` and succeed; usage errors go to `err`.
            let target: &mut dyn Write = if e.use_stderr() { err } else { out };
            let _ = write!(target, "{}", e.render());
            return u8::try_from(e.exit_code()).unwrap_or(FAILURE);
        }
    };
    let result = match cli.command {
        Command::Validate => validate(ecosystem, out, err),
        Command::Generate { out: dir, check } => match ecosystem.validate() {
            Ok(eco) => generate(&eco, &bin, &dir, check, out, err),
            Err(report) => {
                let _ = writeln!(err, "{report}");
                Ok(FAILURE)
            }
        },
        Command::Simulate(args) => {
            if args.min_interval > args.max_interval {
                let e = Cli::command().error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "--min-interval ({}) is greater than --max-interval ({})",
                        args.min_interval, args.max_interval
                    ),
                );
                let _ = write!(err, "{}", e.render());
                return u8::try_from(e.exit_code()).unwrap_or(FAILURE);
            }
            simulate(args, out, err)
        }
        command => match ecosystem.validate() {
            Ok(eco) => jobs(&eco, command, &Environment::from_process(), out, err),
            Err(report) => {
                let _ = writeln!(err, "{report}");
                Ok(FAILURE)
            }
        },
    };
    result.unwrap_or_else(|e| {
        let _ = writeln!(err, "error: {e}");
        FAILURE
    })
}

/// The commands that work on databases.
fn jobs(
    eco: &ValidEcosystem,
    command: Command,
    env: &Environment,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match command {
        Command::Validate | Command::Simulate(_) | Command::Generate { .. } => {
            unreachable!("handled without the model's databases")
        }
        Command::Infra { platform, plan } => {
            match runtime.block_on(crate::infra::infra(eco, &platform, plan, env)) {
                Ok(done) => {
                    for sql in &done.statements {
                        writeln!(out, "{sql};")?;
                    }
                    let n = done.statements.len();
                    match (n, plan) {
                        (0, _) => writeln!(out, "{platform} is up to date: nothing to do")?,
                        (_, true) => writeln!(
                            out,
                            "{platform}: {n} statements to run (--plan: nothing was changed)"
                        )?,
                        (_, false) => writeln!(out, "{platform}: {n} statements run")?,
                    }
                    Ok(SUCCESS)
                }
                Err(e) => {
                    writeln!(err, "error: {platform}: {e}")?;
                    Ok(FAILURE)
                }
            }
        }
        Command::Demo {
            cycles,
            changes,
            keep,
            seed,
        } => {
            let options = crate::demo::Options {
                cycles,
                changes,
                keep,
                seed,
            };
            let result = runtime.block_on(async {
                let stop = simulate::stop_on_signals();
                crate::demo::run(eco, &options, env, &stop, out).await
            });
            match result {
                Ok(()) => Ok(SUCCESS),
                Err(e @ crate::demo::DemoError::Interrupted) => {
                    writeln!(err, "{e}")?;
                    Ok(130)
                }
                Err(e) => {
                    writeln!(err, "error: {e}")?;
                    Ok(FAILURE)
                }
            }
        }
        Command::Run {
            stream,
            max_delete_percent,
        } => {
            let options = RunOptions { max_delete_percent };
            let result = runtime.block_on(batch::run(
                eco,
                &stream.platform,
                &stream.store,
                stream.dataset.as_deref(),
                &options,
                env,
            ));
            match result {
                Ok(outcome) => {
                    writeln!(
                        out,
                        "{} {}: {outcome}",
                        stream.platform,
                        stream_name(&stream)
                    )?;
                    writeln!(out, "DATASURFACE_RESULT_CODE=0")?;
                    Ok(SUCCESS)
                }
                Err(e) => {
                    writeln!(
                        err,
                        "error: {} {}: {e}",
                        stream.platform,
                        stream_name(&stream)
                    )?;
                    writeln!(out, "DATASURFACE_RESULT_CODE=-1")?;
                    Ok(e.exit_code())
                }
            }
        }
        Command::ResetBatch {
            stream,
            to_batch: Some(to_batch),
            dry_run,
        } => {
            let result = runtime.block_on(batch::rewind(
                eco,
                &stream.platform,
                &stream.store,
                stream.dataset.as_deref(),
                to_batch,
                dry_run,
                env,
            ));
            match result {
                Ok(rewind) => {
                    let verb = if rewind.applied { "" } else { "would be " };
                    for (dataset, (removed, reopened)) in &rewind.per_dataset {
                        writeln!(
                            out,
                            "{dataset}: {removed} versions {verb}removed, {reopened} versions {verb}made current again"
                        )?;
                    }
                    writeln!(
                        out,
                        "{} later batches {verb}marked reset; {} {} {}rewound to batch {to_batch}",
                        rewind.batches_reset,
                        stream.platform,
                        stream_name(&stream),
                        if rewind.applied { "" } else { "would be " },
                    )?;
                    writeln!(out, "SUCCESS")?;
                    Ok(SUCCESS)
                }
                Err(e) => {
                    writeln!(out, "ERROR: {e}")?;
                    Ok(FAILURE)
                }
            }
        }
        Command::ResetBatch { stream, .. } => {
            let result = runtime.block_on(batch::reset_batch(
                eco,
                &stream.platform,
                &stream.store,
                stream.dataset.as_deref(),
                env,
            ));
            match result {
                Ok(batch) => {
                    writeln!(
                        err,
                        "batch {batch} of {} {} reset to started",
                        stream.platform,
                        stream_name(&stream)
                    )?;
                    writeln!(out, "SUCCESS")?;
                    Ok(SUCCESS)
                }
                Err(e) => {
                    writeln!(out, "ERROR: {e}")?;
                    Ok(FAILURE)
                }
            }
        }
        Command::Status {
            platform,
            store,
            limit,
            json,
        } => match runtime.block_on(batch::history(eco, &platform, store.as_deref(), limit, env)) {
            Ok(rows) if json => {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&rows).map_err(io::Error::other)?
                )?;
                Ok(SUCCESS)
            }
            Ok(rows) => {
                batch::write_table(&platform, &rows, out)?;
                Ok(SUCCESS)
            }
            Err(e) => {
                writeln!(err, "error: {e}")?;
                Ok(FAILURE)
            }
        },
    }
}

fn simulate(args: SimulateArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut config = tokio_postgres::Config::new();
    config
        .host(&args.host)
        .port(args.port)
        .dbname(&args.database)
        .user(&args.user)
        .application_name("datasurface-simulate");
    if let Some(password) = &args.password {
        config.password(password);
    }
    let options = simulate::Options {
        interval: (args.min_interval, args.max_interval),
        max_changes: args.max_changes,
        create_tables: args.create_tables,
        verbose: args.verbose,
        seed: args.seed,
    };
    let mut log = |line: &str| {
        let _ = writeln!(out, "{line}");
    };
    let result = runtime.block_on(async {
        let stop = simulate::stop_on_signals();
        let (mut sim, mut summary) =
            simulate::Simulator::connect(config, &options, &mut log).await?;
        let run = sim.run(&options, &stop, &mut summary, &mut log).await;
        Ok::<_, simulate::SimulateError>((summary, run))
    });
    match result {
        Ok((summary, run)) => {
            if summary.seeded > 0 {
                writeln!(out, "seeded {} customers", summary.seeded)?;
            }
            writeln!(out, "simulate: {summary}")?;
            match run {
                Ok(()) => Ok(SUCCESS),
                Err(e) => {
                    writeln!(err, "error: {e}")?;
                    Ok(FAILURE)
                }
            }
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(FAILURE)
        }
    }
}

fn generate(
    eco: &ValidEcosystem,
    binary: &str,
    dir: &std::path::Path,
    check: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let artifacts = crate::generate::artifacts(eco, binary);
    if check {
        let drift = crate::generate::compare(dir, &artifacts)?;
        for path in &drift.stale {
            writeln!(err, "stale: {path}")?;
        }
        for path in &drift.extra {
            writeln!(err, "not generated by the model: {path}")?;
        }
        return if drift.stale.is_empty() && drift.extra.is_empty() {
            writeln!(
                out,
                "{} is up to date ({} files)",
                dir.display(),
                artifacts.len()
            )?;
            Ok(SUCCESS)
        } else {
            writeln!(
                out,
                "{} differs from what the model generates; run generate --out {}",
                dir.display(),
                dir.display()
            )?;
            Ok(FAILURE)
        };
    }
    let drift = crate::generate::write(dir, &artifacts)?;
    for path in &drift.stale {
        writeln!(out, "wrote {path}")?;
    }
    for path in &drift.extra {
        writeln!(err, "left as it is (not generated by the model): {path}")?;
    }
    writeln!(
        out,
        "{} files in {}, {} changed",
        artifacts.len(),
        dir.display(),
        drift.stale.len()
    )?;
    Ok(SUCCESS)
}

fn stream_name(stream: &StreamArgs) -> String {
    datasurface_model::naming::stream_key(&stream.store, stream.dataset.as_deref())
}

fn validate(ecosystem: Ecosystem, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<u8> {
    let name = ecosystem.name.clone();
    match ecosystem.validate() {
        Ok(eco) => {
            for warning in eco.warnings() {
                writeln!(err, "{warning}")?;
            }
            writeln!(out, "model {} is valid: {}", eco.name, summary(&eco))?;
            Ok(SUCCESS)
        }
        Err(report) => {
            writeln!(err, "{report}")?;
            writeln!(out, "model {name} is not valid")?;
            Ok(FAILURE)
        }
    }
}

/// One line saying what the model holds.
fn summary(eco: &ValidEcosystem) -> String {
    let teams = eco.teams().count();
    let stores = eco.datastores().count();
    let datasets: usize = eco.datastores().map(|s| s.datasets.len()).sum();
    let workspaces = eco.workspaces().count();
    let dsgs: usize = eco.workspaces().map(|w| w.dsgs.len()).sum();
    let count = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}, {} ({}), {} ({}), {}, {}, {}",
        count(eco.zones.len(), "zone"),
        count(teams, "team"),
        count(stores, "datastore"),
        count(datasets, "dataset"),
        count(workspaces, "workspace"),
        count(dsgs, "dataset group"),
        count(eco.providers.len(), "service provider"),
        count(eco.platforms.len(), "platform"),
        count(eco.assignments.len(), "assignment"),
    )
}
