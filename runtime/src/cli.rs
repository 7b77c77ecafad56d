//! The runtime binary's command line: what a model repo's `main` runs.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use datasurface_model::{Ecosystem, ValidEcosystem};
use std::process::ExitCode;

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

/// Runs the command line for `ecosystem` and returns the process's exit code.
///
/// This is the whole `main` of a model repo:
/// `fn main() -> ExitCode { datasurface::main(my_model::ecosystem()) }`.
pub fn main(ecosystem: Ecosystem) -> ExitCode {
    let bin = std::env::args()
        .next()
        .as_deref()
        .and_then(|a| {
            std::path::Path::new(a)
                .file_stem()?
                .to_str()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "datasurface".to_owned());
    let matches = Cli::command().name(bin).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match cli.command {
        Command::Validate => validate(ecosystem),
    }
}

fn validate(ecosystem: Ecosystem) -> ExitCode {
    match ecosystem.validate() {
        Ok(eco) => {
            for warning in eco.warnings() {
                eprintln!("{warning}");
            }
            println!("model {} is valid: {}", eco.name, summary(&eco));
            ExitCode::SUCCESS
        }
        Err(report) => {
            eprintln!("{report}");
            ExitCode::FAILURE
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
