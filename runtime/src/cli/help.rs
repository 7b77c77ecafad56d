//! What `--help` and `--version` say beyond the flags: the environment this model's binary
//! reads, the exit codes, examples — made from the model itself, so a person setting up a
//! pod or a shell sees the exact variable names.

use super::args::Cli;
use clap::CommandFactory;
use datasurface_codegen::Exit;
use datasurface_model::{Ecosystem, ValidEcosystem, naming};
use std::ffi::OsString;
use std::fmt::Write;

/// The command line of `bin`; with the model's environment, exit codes and examples in
/// `--help` and the model in `--version` when `args` ask for them.
pub(super) fn command(ecosystem: &Ecosystem, bin: &str, args: &[OsString]) -> clap::Command {
    let color = if super::log::color(&std::io::stdout()) {
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
    if asked(args) {
        command
            .after_long_help(after(ecosystem, bin))
            .after_help(format!(
                "Run `{bin} --help` for the environment it reads, exit codes and examples."
            ))
            .version(version(ecosystem))
    } else {
        command
    }
}

/// Whether `args` ask for help or the version (only then is the text below worth making).
fn asked(args: &[OsString]) -> bool {
    args.iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| ["-h", "--help", "help", "-V", "--version"].contains(&a.to_str().unwrap_or("")))
}

/// The text after the commands in `--help`.
fn after(ecosystem: &Ecosystem, bin: &str) -> String {
    let mut text = String::new();
    let valid = ecosystem.clone().validate();
    text.push_str(
        "Environment (a database's URL wins over the model; libpq's variables fill in the rest):\n",
    );
    let mut lines = match &valid {
        Ok(eco) => environment(eco),
        Err(_) => vec![(
            "DATASURFACE_DB_{NAME}".to_owned(),
            "each database's URL, and the model's credentials: run validate to list them"
                .to_owned(),
        )],
    };
    for (var, what) in [
        (
            "PGUSER, PGPASSWORD",
            "a login, unless its credential variables are set",
        ),
        ("PGPASSFILE", "the password file (default ~/.pgpass)"),
        (
            "PGSSLMODE",
            "disable, allow, prefer (default), require, verify-ca, verify-full",
        ),
        (
            "PGSSLROOTCERT",
            "the CA certificates verify-ca and verify-full trust (default: the system's)",
        ),
        (
            "PGCONNECT_TIMEOUT",
            "seconds to wait for a connection (default 10)",
        ),
        (
            "RUST_LOG",
            "which log lines to show, overriding -v and -q (e.g. datasurface=debug)",
        ),
        ("NO_COLOR", "no colours on a terminal"),
    ] {
        lines.push((var.to_owned(), what.to_owned()));
    }
    let width = lines.iter().map(|(v, _)| v.len()).max().unwrap_or(0);
    for (var, what) in lines {
        let _ = writeln!(text, "  {var:<width$}  {what}");
    }
    text.push_str("\nExit codes:\n");
    for exit in Exit::ALL {
        let _ = writeln!(text, "  {:<3}  {}", exit.code(), exit.meaning());
    }
    text.push_str("\nExamples:\n");
    let example = valid.as_ref().ok().and_then(|eco| {
        let platform = eco.platforms().next()?;
        let stream = eco.streams(platform).into_iter().next()?;
        Some((platform.model.name.clone(), stream.key))
    });
    let (platform, stream) = example.unwrap_or_else(|| {
        (
            "YellowLive".to_owned(),
            datasurface_model::StreamKey::new("Store1", None::<String>),
        )
    });
    let store = match &stream.dataset {
        Some(dataset) => format!("{} --dataset {dataset}", stream.store),
        None => stream.store,
    };
    let _ = write!(
        text,
        concat!(
            "  {bin} doctor                                  check databases, credentials, privileges, sources\n",
            "  {bin} infra --platform {platform}             create and evolve the merge tables\n",
            "  {bin} run --platform {platform} --store {store}\n",
            "  {bin} status --platform {platform}\n",
            "  {bin} generate --out generated --check        fail if the committed artifacts are stale\n",
        ),
        bin = bin,
        platform = platform,
        store = store,
    );
    text
}

/// The variables the model reads, each with what it is for: its databases' URLs and its
/// credentials.
fn environment(eco: &ValidEcosystem) -> Vec<(String, String)> {
    let databases = eco.databases();
    let mut lines: Vec<(String, String)> = Vec::new();
    for (db, _) in &databases {
        lines.push((
            naming::database_env_var(&db.name),
            format!(
                "database {}: a postgres:// URL (host, port, name, sslmode)",
                db.name
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (_, credential) in &databases {
        if !seen.insert(credential.name.as_str()) {
            continue;
        }
        for (var, _) in credential.env_vars() {
            lines.push((var, format!("credential {}", credential.name)));
        }
    }
    lines
}

/// `--version`: the runtime's version, and which model this binary is: its name, its
/// fingerprint, and the tag of the image built from it.
fn version(ecosystem: &Ecosystem) -> String {
    let runtime = env!("CARGO_PKG_VERSION");
    let fingerprint = naming::hex_digest(format!("{ecosystem:?}").as_bytes(), 6);
    let name = &ecosystem.name;
    match ecosystem.clone().validate() {
        Ok(eco) => format!(
            "{runtime} (model {name}, fingerprint {fingerprint}, image tag {})",
            crate::generate::image_tag(&eco)
        ),
        Err(_) => format!("{runtime} (model {name}, fingerprint {fingerprint}, not valid)"),
    }
}
