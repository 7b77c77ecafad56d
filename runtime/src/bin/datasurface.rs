//! `datasurface new NAME`: makes a model repo of one's own, ready for `cargo build`.

use clap::{Parser, Subcommand};
use datasurface::scaffold::{self, Names, Source};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// DataSurface: declare a data ecosystem in Rust, and run it.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Make a model repo: a model with one store, dataset, workspace and platform, the build
    /// script that validates it, the snapshot test of its artifacts, a pull-request check
    /// and a README. Then, unless --no-build, build it, generate its artifacts into
    /// generated/ and record their snapshots.
    New {
        /// The repo's package and binary name (`acme-data`); the ecosystem is named after it
        /// (`AcmeData`).
        name: String,
        /// Where to make it (default: ./NAME); it must not exist or be empty.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Take `datasurface` from this local checkout's runtime/ directory.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["datasurface_git", "datasurface_version"])]
        datasurface_path: Option<PathBuf>,
        /// Take `datasurface` from this git repository.
        #[arg(long, value_name = "URL", conflicts_with = "datasurface_version")]
        datasurface_git: Option<String>,
        /// Take this version of `datasurface` from crates.io.
        #[arg(long, value_name = "VERSION")]
        datasurface_version: Option<String>,
        /// Only write the files: no git repository, no build.
        #[arg(long)]
        no_build: bool,
    },
}

fn main() -> ExitCode {
    let Commands::New {
        name,
        dir,
        datasurface_path,
        datasurface_git,
        datasurface_version,
        no_build,
    } = Cli::parse().command;
    let names = match Names::new(&name) {
        Ok(names) => names,
        Err(e) => return fail(&e.to_string()),
    };
    let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
    let source = match (datasurface_path, datasurface_git, datasurface_version) {
        (Some(path), _, _) => Source::Path(std::path::absolute(&path).unwrap_or(path)),
        (_, Some(url), _) => Source::Git(url),
        (_, _, Some(version)) => Source::Version(version),
        _ => Source::default_for_this_build(),
    };
    let files = match scaffold::create(&dir, &names, &source) {
        Ok(files) => files,
        Err(e) => return fail(&e.to_string()),
    };
    for file in &files {
        println!("  created {}", dir.join(file).display());
    }
    if let Some(note) = source.ci_note() {
        println!("\nnote: {note}\n");
    }
    if !no_build {
        // A repository like `cargo new` makes; not fatal without git.
        let _ = Command::new("git")
            .args(["init", "--quiet"])
            .current_dir(&dir)
            .status();
        let steps: [(&str, &[&str]); 2] = [
            (
                "generating the artifacts into generated/",
                &["run", "--quiet", "--", "generate", "--out", "generated"],
            ),
            (
                "recording the snapshot of every artifact",
                &["test", "--quiet"],
            ),
        ];
        for (what, args) in steps {
            println!("{what} (cargo {})", args.join(" "));
            if !cargo(&dir, args) {
                return fail(&format!(
                    "cargo {} failed in {}; fix what it says and run it again",
                    args.join(" "),
                    dir.display()
                ));
            }
        }
    }
    println!(
        "\nmodel repo {names} is ready in {}:\n  cd {}\n  cargo run -- demo     # the whole pipeline on a throwaway PostgreSQL\n  cargo test            # the model validates, and every artifact matches its snapshot",
        dir.display(),
        dir.display()
    );
    ExitCode::SUCCESS
}

/// Runs cargo in `dir`, snapshots written as they are made.
fn cargo(dir: &Path, args: &[&str]) -> bool {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(cargo)
        .args(args)
        .current_dir(dir)
        .env("INSTA_UPDATE", "always")
        .env_remove("CI")
        .status()
        .is_ok_and(|s| s.success())
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
