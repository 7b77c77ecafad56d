//! `serve` and `docs`: the console over HTTP and the static catalog. The work is the
//! `datasurface-console` crate's.

use super::render::{Failure, Output};
use datasurface_codegen::Exit;
use datasurface_console::{Console, site};
use datasurface_engine::pg::Environment;
use datasurface_model::ValidEcosystem;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The commands that show the ecosystem to people.
#[derive(Debug, clap::Subcommand)]
pub(super) enum ConsoleCommand {
    /// Serve the read-only console: the catalog (zones, teams, datastores, datasets,
    /// workspaces, platforms) with lineage, each stream's recent batches and each dataset's
    /// freshness against its consumers' latency, read from the merge databases; /metrics
    /// for Prometheus and /healthz. Shows no row of data and no secret.
    Serve(ServeArgs),
    /// Write the catalog as static HTML under DIR, one page per entity, from the model
    /// alone (no database): what a pull request publishes.
    Docs(DocsArgs),
}

#[derive(Debug, clap::Args)]
pub(super) struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: SocketAddr,
    /// Seconds between two reads of the batch tables.
    #[arg(long, default_value_t = 10, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    refresh: u64,
}

#[derive(Debug, clap::Args)]
pub(super) struct DocsArgs {
    /// The directory to write the pages into (created when missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// `serve`: until the process is stopped.
pub(super) fn serve(
    eco: ValidEcosystem,
    bin: &str,
    args: ServeArgs,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    // Pages are answered on every core while the batch tables are read.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| Failure::Error(format!("cannot listen on {}: {e}", args.listen)))?;
        let console = Console::new(Arc::new(eco), Environment::from_process(), bin);
        writeln!(
            o.out,
            "Serving the console on http://{} (metrics on /metrics)",
            listener.local_addr()?
        )?;
        o.out.flush()?;
        datasurface_console::serve(console, listener, Duration::from_secs(args.refresh)).await?;
        Ok(Exit::Success)
    })
}

/// `docs --out DIR`.
pub(super) fn docs(
    eco: ValidEcosystem,
    args: DocsArgs,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    let written = site::write(Arc::new(eco), &args.out).map_err(|e| {
        Failure::Error(format!(
            "cannot write the catalog under {}: {e}",
            args.out.display()
        ))
    })?;
    writeln!(
        o.out,
        "Wrote {} pages under {} (open index.html)",
        written.pages,
        args.out.display()
    )?;
    Ok(Exit::Success)
}
