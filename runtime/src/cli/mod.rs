//! The runtime binary's command line: what a model repo's `main` runs. Parsing is clap's
//! (`args.rs`); [`App::run`] sends each command to its handler in one `match`. A handler
//! takes what it needs from `setup.rs` (the validated model, a runtime, the engine), does
//! the work (`commands.rs`; `dev.rs` and `deploy.rs` with their features) and hands its
//! typed result to `render.rs`, which also says why a command stopped.

mod args;
mod commands;
mod console;
#[cfg(feature = "deploy")]
mod deploy;
#[cfg(feature = "dev")]
mod dev;
mod help;
#[cfg(feature = "deploy")]
mod image;
mod log;
mod progress;
mod render;
mod report;
mod setup;
mod table;

use args::{Cli, Command};
use clap::FromArgMatches;
use render::{Failure, Output};
use setup::model;
use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

pub use datasurface_codegen::Exit;
use datasurface_model::Ecosystem;

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
    /// to `out` and diagnostics to `err`; returns the exit code, one of [`Exit`]'s (success,
    /// failure, usage error, busy stream, interrupted).
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
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let mut o = Output { out, err };
        let exit = self
            .dispatch(&args, terminal, &mut o)
            .unwrap_or_else(|failure| render::failure(failure, &mut o));
        exit.code()
    }

    /// Parses `args` and sends the command to its handler.
    fn dispatch(
        self,
        args: &[OsString],
        terminal: bool,
        o: &mut Output<'_>,
    ) -> Result<Exit, Failure> {
        // Only the cluster commands draw on a terminal.
        #[cfg(not(feature = "deploy"))]
        let _ = terminal;
        let bin = args
            .first()
            .and_then(|a| {
                std::path::Path::new(a)
                    .file_stem()?
                    .to_str()
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "datasurface".to_owned());
        let cli = help::command(&self.ecosystem, &bin, args)
            .try_get_matches_from(args)
            .and_then(|m| Cli::from_arg_matches(&m))
            .map_err(Failure::Usage)?;
        let log = log::init(&cli.log, cli.command.tells_its_own_story());
        let ecosystem = self.ecosystem;
        match cli.command {
            Command::Validate(args) => commands::validate(ecosystem, args, o),
            Command::Completions(args) => {
                commands::completions(help::command(&ecosystem, &bin, &[]), &bin, args, o)
            }
            Command::Run(args) => commands::run(&model(ecosystem)?, &log, args, o),
            Command::ResetBatch(args) => commands::reset_batch(&model(ecosystem)?, args, o),
            Command::Generate(args) => commands::generate(&model(ecosystem)?, &bin, args, o),
            Command::Dags(args) => commands::dags(&model(ecosystem)?, &bin, args, o),
            Command::Infra(args) => commands::infra(&model(ecosystem)?, args, o),
            Command::Status(args) => commands::status(&model(ecosystem)?, args, o),
            Command::Doctor(args) => commands::doctor(&model(ecosystem)?, args, o),
            Command::Console(console::ConsoleCommand::Serve(args)) => {
                console::serve(model(ecosystem)?, &bin, args, o)
            }
            Command::Console(console::ConsoleCommand::Docs(args)) => {
                console::docs(model(ecosystem)?, args, o)
            }
            #[cfg(feature = "dev")]
            Command::Dev(dev::DevCommand::Simulate(args)) => {
                dev::simulate(ecosystem, self.scenario, args, o)
            }
            #[cfg(feature = "dev")]
            Command::Dev(dev::DevCommand::Demo(args)) => {
                dev::demo(&model(ecosystem)?, self.scenario, args, o)
            }
            #[cfg(feature = "deploy")]
            Command::Deploy(deploy::DeployCommand::Deploy(args)) => {
                deploy::deploy(&model(ecosystem)?, &bin, args, terminal, o)
            }
            #[cfg(feature = "deploy")]
            Command::Deploy(deploy::DeployCommand::Undeploy(args)) => {
                deploy::undeploy(&model(ecosystem)?, &bin, args, terminal, o)
            }
            #[cfg(feature = "deploy")]
            Command::Deploy(deploy::DeployCommand::Image(args)) => {
                image::image(&model(ecosystem)?, &bin, args, o)
            }
        }
    }
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
