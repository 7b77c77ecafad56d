//! The command line as plain structs: their doc comments are `--help`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// The runtime binary of a DataSurface ecosystem.
#[derive(Debug, Parser)]
#[command(version, long_about = None)]
pub(super) struct Cli {
    #[command(flatten)]
    pub(super) log: LogArgs,
    #[command(subcommand)]
    pub(super) command: Command,
}

/// How much the binary logs, and how.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Log")]
pub(super) struct LogArgs {
    /// Log more: -v adds debug lines and other crates' warnings and errors, -vv trace lines
    /// and other crates' debug lines (RUST_LOG, when set, decides instead).
    #[arg(short = 'v', action = clap::ArgAction::Count, global = true)]
    pub(super) more: u8,
    /// Log less: -q only warnings and errors, -qq only errors.
    #[arg(short = 'q', long = "quiet", action = clap::ArgAction::Count, global = true)]
    pub(super) less: u8,
    /// Log lines as text or as JSON objects, one per line (auto: JSON when standard output is
    /// not a terminal, as in a pod).
    #[arg(long, value_enum, default_value_t = LogFormat::Auto, global = true)]
    pub(super) log_format: LogFormat,
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum LogFormat {
    Auto,
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Check the model: print every error and warning with its path in the model;
    /// exit 1 if there is any error.
    Validate(ValidateArgs),
    /// Run one whole batch of a stream: snapshot the source into staging, merge, commit.
    /// Resumes the stream's open batch if there is one. The last line is
    /// DATASURFACE_RESULT_CODE=0 on success, -1 on error.
    Run(RunArgs),
    /// Reset a stream's open batch: clear its staging and send it back to started, so the
    /// next run takes a fresh snapshot. Prints SUCCESS or ERROR: ….
    ResetBatch(ResetArgs),
    /// Write every artifact of the model (SQL, DAGs, Kubernetes objects with their
    /// kustomizations, image recipe, secrets guide) under DIR, and print the images to
    /// build: their tag changes whenever the model, the runtime or a dependency does.
    Generate(GenerateArgs),
    /// Write the Airflow DAG files of the platforms in NAMESPACE into DIR, as Airflow's DAG
    /// folder holds them: what the Airflow pod's init container runs from the image, so its
    /// DAGs are always those of the image the tasks run.
    Dags(DagsArgs),
    /// Create what a platform needs in its merge database — batch tables, staging and merge
    /// tables, workspace views — and evolve them to the model. Idempotent.
    Infra(InfraArgs),
    /// Show the recent batches of a platform's streams with their status, times and metrics.
    Status(StatusArgs),
    /// Check everything the model needs before a batch can run: every database (with its
    /// override), the credential variables, the connection (TLS as configured), the
    /// privileges a batch needs, and every source table against the model. Prints a ✓/✗
    /// table with the fix for each ✗; exit 1 on any ✗.
    Doctor(DoctorArgs),
    /// Print a completion script for SHELL.
    Completions(CompletionsArgs),
    #[command(flatten)]
    Console(super::console::ConsoleCommand),
    #[cfg(feature = "dev")]
    #[command(flatten)]
    Dev(super::dev::DevCommand),
    #[cfg(feature = "deploy")]
    #[command(flatten)]
    Deploy(super::deploy::DeployCommand),
}

impl Command {
    /// Whether the command prints its own account of what it does, so the log shows only
    /// warnings and errors unless asked for more (the development tools).
    pub(super) fn tells_its_own_story(&self) -> bool {
        #[cfg(feature = "dev")]
        if let Command::Dev(_) = self {
            return true;
        }
        false
    }
}

// The flags of each command. Their `--help` text is the command's doc comment above.

#[derive(Debug, clap::Args)]
pub(super) struct ValidateArgs {
    /// Print the errors and warnings as JSON.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Debug, clap::Args)]
pub(super) struct RunArgs {
    #[command(flatten)]
    pub(super) stream: StreamArgs,
    /// Allow this run to delete up to this percentage of a dataset's current rows
    /// (overrides the store's mass-delete guard; 100 turns it off).
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub(super) max_delete_percent: Option<u8>,
    /// Also write the result as JSON to FILE: batch, status, per-dataset metrics, phase
    /// timings, schema fingerprints, the error with its code.
    #[arg(long, value_name = "FILE")]
    pub(super) report: Option<PathBuf>,
    /// Also write the batch's metrics to FILE in Prometheus text format, for a
    /// node-exporter textfile collector (written whole, then renamed into place).
    #[arg(long, value_name = "FILE")]
    pub(super) metrics_file: Option<PathBuf>,
    /// Print the result as JSON instead of the summary line.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Debug, clap::Args)]
pub(super) struct ResetArgs {
    #[command(flatten)]
    pub(super) stream: StreamArgs,
    /// Forensic platforms: rewind the merge tables to exactly their state after batch N
    /// (0: empty) and mark the later batches reset.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(0..))]
    pub(super) to_batch: Option<i32>,
    /// With --to-batch: print what would change and change nothing.
    #[arg(long, requires = "to_batch")]
    pub(super) dry_run: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Debug, clap::Args)]
pub(super) struct GenerateArgs {
    /// The output directory.
    #[arg(long, value_name = "DIR")]
    pub(super) out: PathBuf,
    /// Change nothing; exit 1 and list the stale files if DIR differs from what the
    /// model generates.
    #[arg(long)]
    pub(super) check: bool,
    /// Print what was (or would be) written as JSON.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Debug, clap::Args)]
pub(super) struct DagsArgs {
    /// The Kubernetes namespace of a service provider.
    #[arg(long)]
    pub(super) namespace: String,
    /// The DAG folder.
    #[arg(long, value_name = "DIR")]
    pub(super) out: PathBuf,
    /// Name the image by this digest (sha256:…) in the DAGs, as the image lock did where
    /// the Airflow pod was generated.
    #[arg(long, value_name = "DIGEST", value_parser = digest)]
    pub(super) image_digest: Option<String>,
    /// Name the simulator's image by this digest in the DAGs.
    #[arg(long, value_name = "DIGEST", value_parser = digest, requires = "image_digest")]
    pub(super) dev_image_digest: Option<String>,
}

/// A `sha256:` digest, as image references pin them.
fn digest(text: &str) -> Result<String, String> {
    let hex = text.strip_prefix("sha256:").unwrap_or("");
    if hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        Ok(text.to_owned())
    } else {
        Err("expected sha256: and 64 lower-case hex digits".into())
    }
}

#[derive(Debug, clap::Args)]
pub(super) struct InfraArgs {
    /// The platform's model name (as written in the model, e.g. YellowLive).
    #[arg(long)]
    pub(super) platform: String,
    /// Print the DDL it would run and change nothing.
    #[arg(long)]
    pub(super) plan: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Debug, clap::Args)]
pub(super) struct StatusArgs {
    /// The platform's model name (as written in the model, e.g. YellowLive).
    #[arg(long)]
    pub(super) platform: String,
    /// Only the streams of this datastore.
    #[arg(long)]
    pub(super) store: Option<String>,
    /// How many recent batches to show per stream.
    #[arg(long, default_value_t = 10, allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(1..))]
    pub(super) limit: i64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Debug, clap::Args)]
pub(super) struct DoctorArgs {
    /// Print the checks as JSON.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Debug, clap::Args)]
pub(super) struct CompletionsArgs {
    #[arg(value_enum)]
    pub(super) shell: clap_complete::Shell,
}

/// Which stream a command works on.
#[derive(Debug, clap::Args)]
pub(super) struct StreamArgs {
    /// The platform's model name (as written in the model, e.g. YellowLive).
    #[arg(long)]
    pub(super) platform: String,
    /// The datastore.
    #[arg(long)]
    pub(super) store: String,
    /// The dataset, for SINGLE_DATASET stores only.
    #[arg(long)]
    pub(super) dataset: Option<String>,
}
