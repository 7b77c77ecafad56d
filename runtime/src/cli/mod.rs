//! The runtime binary's command line: what a model repo's `main` runs. Parsing is clap's;
//! each command is one small handler (`commands.rs`) that calls the engine and renders its
//! typed result.

mod args;
mod commands;
#[cfg(feature = "deploy")]
mod deploy;
#[cfg(feature = "dev")]
mod dev;
mod help;
mod log;
mod progress;
mod report;
mod table;

use args::{Cli, Command};
use clap::{CommandFactory, FromArgMatches};
use commands::FAILURE;
use datasurface_model::Ecosystem;
use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

/// A model's runtime binary: the model, and what the development tools use with it.
#[derive(Debug)]
pub struct App {
    ecosystem: Ecosystem,
    #[cfg(feature = "dev")]
    scenario: Option<Box<dyn crate::dev::Scenario>>,
}

impl App {
    /// The binary of `ecosystem`.
    pub fn new(ecosystem: Ecosystem) -> Self {
        App {
            ecosystem,
            #[cfg(feature = "dev")]
            scenario: None,
        }
    }

    /// The changes `simulate` and `demo` make to the sources, instead of the generic
    /// inserts, updates and deletes of every dataset.
    #[cfg(feature = "dev")]
    pub fn scenario(mut self, scenario: impl crate::dev::Scenario + 'static) -> Self {
        self.scenario = Some(Box::new(scenario));
        self
    }

    /// Runs the command line of the process; the exit code.
    pub fn main(self) -> ExitCode {
        use std::io::IsTerminal;
        let terminal = io::stdout().is_terminal() && io::stdin().is_terminal();
        ExitCode::from(self.run_on(
            std::env::args_os(),
            &mut io::stdout(),
            &mut io::stderr(),
            terminal,
        ))
    }

    /// Runs the command line `args` (the binary's name first), writing what a person reads
    /// to `out` and diagnostics to `err`; returns the exit code: 0 on success, 1 when the
    /// command failed, 2 for a usage error, 75 when the stream is busy, 130 when
    /// interrupted.
    pub fn run<I, T>(self, args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        self.run_on(args, out, err, false)
    }

    /// [`run`](Self::run), on a terminal or not (a live status line, confirmations).
    fn run_on<I, T>(self, args: I, out: &mut dyn Write, err: &mut dyn Write, terminal: bool) -> u8
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        // Only the cluster commands draw on a terminal.
        #[cfg(not(feature = "deploy"))]
        let _ = terminal;
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let bin = args
            .first()
            .and_then(|a| {
                std::path::Path::new(a)
                    .file_stem()?
                    .to_str()
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "datasurface".to_owned());
        let parsed = command(&self.ecosystem, &bin, &args)
            .try_get_matches_from(args)
            .and_then(|m| Cli::from_arg_matches(&m));
        let cli = match parsed {
            Ok(cli) => cli,
            Err(e) => return usage(e, out, err),
        };
        #[cfg(feature = "dev")]
        let quiet = matches!(cli.command, Command::Dev(_));
        #[cfg(not(feature = "dev"))]
        let quiet = false;
        let log = log::init(&cli.log, quiet);
        let result = match cli.command {
            Command::Validate { json } => commands::validate(self.ecosystem, json, out, err),
            Command::Completions { shell } => {
                clap_complete::generate(shell, &mut command(&self.ecosystem, &bin, &[]), &bin, out);
                Ok(0)
            }
            #[cfg(feature = "dev")]
            Command::Dev(command) => dev::command(self.ecosystem, self.scenario, command, out, err),
            #[cfg(feature = "deploy")]
            Command::Deploy(command) => match self.ecosystem.validate() {
                Ok(eco) => deploy::command(&eco, &bin, command, terminal, out, err),
                Err(report) => writeln!(err, "{report}").map(|()| FAILURE),
            },
            command => match self.ecosystem.validate() {
                Ok(eco) => commands::jobs(&eco, &bin, &log, command, out, err),
                Err(report) => writeln!(err, "{report}").map(|()| FAILURE),
            },
        };
        result.unwrap_or_else(|e| {
            let _ = writeln!(err, "error: {e}");
            FAILURE
        })
    }
}

/// The command line of `bin`; with the model's environment, exit codes and examples in
/// `--help` and the model in `--version` when `args` ask for them.
fn command(ecosystem: &Ecosystem, bin: &str, args: &[OsString]) -> clap::Command {
    let color = if log::color(&io::stdout()) {
        clap::ColorChoice::Auto
    } else {
        clap::ColorChoice::Never
    };
    let command = Cli::command()
        .name(bin.to_owned())
        .about(format!(
            "The runtime of DataSurface ecosystem {}.",
            ecosystem.name
        ))
        .color(color);
    if help::asked(args) {
        command
            .after_long_help(help::after(ecosystem, bin))
            .after_help(format!(
                "Run `{bin} --help` for the environment it reads, exit codes and examples."
            ))
            .version(help::version(ecosystem))
    } else {
        command
    }
}

/// Help and version go to `out` and succeed; usage errors go to `err` with exit code 2.
fn usage(e: clap::Error, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let target: &mut dyn Write = if e.use_stderr() { err } else { out };
    let _ = write!(target, "{}", e.render());
    u8::try_from(e.exit_code()).unwrap_or(FAILURE)
}

/// Runs the command line of the process for `ecosystem` and returns its exit code.
///
/// This is the whole `main` of a model repo:
/// `fn main() -> ExitCode { datasurface::main(my_model::ecosystem()) }`.
pub fn main(ecosystem: Ecosystem) -> ExitCode {
    App::new(ecosystem).main()
}

/// Runs the command line `args` (the binary's name first) for `ecosystem`; see
/// [`App::run`].
pub fn run<I, T>(ecosystem: Ecosystem, args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    App::new(ecosystem).run(args, out, err)
}
