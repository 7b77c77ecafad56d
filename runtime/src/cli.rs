//! The runtime binary's command line: what a model repo's `main` runs.

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
        .name(bin)
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
    };
    result.unwrap_or_else(|e| {
        let _ = writeln!(err, "error: {e}");
        FAILURE
    })
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
