//! One handler per command: it calls the engine (or generation) and renders the typed
//! result for a person.

use super::args::{Command, StreamArgs};
use crate::engine::{Engine, Error, RunOptions, write_table};
use crate::pg::Environment;
use datasurface_model::{Ecosystem, Stream, ValidEcosystem};
use std::io::{self, Write};
use std::path::Path;

const SUCCESS: u8 = 0;
/// Exit code of a command that failed.
pub(super) const FAILURE: u8 = 1;

/// `validate`: every error and warning, then one line saying what the model holds.
pub(super) fn validate(
    ecosystem: Ecosystem,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
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

/// The commands that take the validated model.
pub(super) fn jobs(
    eco: &ValidEcosystem,
    binary: &str,
    command: Command,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    if let Command::Generate { out: dir, check } = command {
        return generate(eco, binary, &dir, check, out, err);
    }
    if let Command::Dags {
        namespace,
        out: dir,
    } = command
    {
        return dags(eco, binary, &namespace, &dir, out, err);
    }
    let env = Environment::from_process();
    let engine = Engine::new(eco, &env);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match command {
        Command::Run {
            stream,
            max_delete_percent,
        } => {
            let options = RunOptions { max_delete_percent };
            runtime.block_on(run(&engine, &stream, &options, out, err))
        }
        Command::ResetBatch {
            stream,
            to_batch: Some(to_batch),
            dry_run,
        } => runtime.block_on(rewind(&engine, &stream, to_batch, dry_run, out)),
        Command::ResetBatch { stream, .. } => runtime.block_on(reset(&engine, &stream, out, err)),
        Command::Infra { platform, plan } => {
            runtime.block_on(infra(&engine, &platform, plan, out, err))
        }
        Command::Status {
            platform,
            store,
            limit,
            json,
        } => runtime.block_on(status(
            &engine,
            &platform,
            store.as_deref(),
            limit,
            json,
            out,
            err,
        )),
        Command::Validate | Command::Generate { .. } | Command::Dags { .. } => {
            unreachable!("handled before")
        }
        #[cfg(feature = "dev")]
        Command::Dev(_) => unreachable!("handled before"),
        #[cfg(feature = "deploy")]
        Command::Deploy(_) => unreachable!("handled before"),
    }
}

fn stream<'e>(eco: &'e ValidEcosystem, args: &StreamArgs) -> Result<Stream<'e>, Error> {
    Ok(eco.stream(&args.platform, &args.store, args.dataset.as_deref())?)
}

/// `run`: the outcome, then the result code line the DAGs' logs end with.
async fn run(
    engine: &Engine<'_>,
    args: &StreamArgs,
    options: &RunOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let name = format!("{} {}", args.platform, stream_name(args));
    let result = match stream(engine.model(), args) {
        Ok(s) => engine.run(&s, options).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(outcome) => {
            writeln!(out, "{name}: {outcome}")?;
            writeln!(out, "DATASURFACE_RESULT_CODE=0")?;
            Ok(SUCCESS)
        }
        Err(e) => {
            writeln!(err, "error: {name}: {e}")?;
            writeln!(out, "DATASURFACE_RESULT_CODE=-1")?;
            Ok(e.exit_code())
        }
    }
}

/// `reset-batch`: SUCCESS or ERROR: ….
async fn reset(
    engine: &Engine<'_>,
    args: &StreamArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let result = match stream(engine.model(), args) {
        Ok(s) => engine.reset(&s).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(batch) => {
            writeln!(
                err,
                "batch {batch} of {} {} reset to started",
                args.platform,
                stream_name(args)
            )?;
            success_or_error(Ok(()), out)
        }
        Err(e) => success_or_error(Err(e), out),
    }
}

/// `reset-batch --to-batch N`: what was (or would be) undone, then SUCCESS or ERROR: ….
async fn rewind(
    engine: &Engine<'_>,
    args: &StreamArgs,
    to_batch: i32,
    dry_run: bool,
    out: &mut dyn Write,
) -> io::Result<u8> {
    let result = match stream(engine.model(), args) {
        Ok(s) => engine.rewind(&s, to_batch, dry_run).await,
        Err(e) => Err(e),
    };
    let rewind = match result {
        Ok(rewind) => rewind,
        Err(e) => return success_or_error(Err(e), out),
    };
    let verb = if rewind.applied { "" } else { "would be " };
    for (dataset, (removed, reopened)) in &rewind.per_dataset {
        writeln!(
            out,
            "{dataset}: {removed} versions {verb}removed, {reopened} versions {verb}made current again"
        )?;
    }
    writeln!(
        out,
        "{} later batches {verb}marked reset; {} {} {verb}rewound to batch {to_batch}",
        rewind.batches_reset,
        args.platform,
        stream_name(args),
    )?;
    success_or_error(Ok(()), out)
}

/// The last line of `reset-batch`: `SUCCESS`, or `ERROR: …` with exit code 1 (75 when the
/// stream is busy).
fn success_or_error(result: Result<(), Error>, out: &mut dyn Write) -> io::Result<u8> {
    match result {
        Ok(()) => {
            writeln!(out, "SUCCESS")?;
            Ok(SUCCESS)
        }
        Err(e) => {
            writeln!(out, "ERROR: {e}")?;
            Ok(e.exit_code())
        }
    }
}

/// `infra`: the DDL, then what was (or would be) done.
async fn infra(
    engine: &Engine<'_>,
    platform: &str,
    plan_only: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let result = match engine.model().platform(platform) {
        Ok(p) => engine.infra(p, plan_only).await,
        Err(e) => Err(e.into()),
    };
    let plan = match result {
        Ok(plan) => plan,
        Err(e) => {
            writeln!(err, "error: {platform}: {e}")?;
            return Ok(e.exit_code());
        }
    };
    for statement in &plan.statements {
        writeln!(out, "{statement};")?;
    }
    for column in &plan.ignored {
        writeln!(
            err,
            "note: column {column} is not in the model (added by hand); it is left as it is"
        )?;
    }
    let n = plan.statements.len();
    match (n, plan_only) {
        (0, _) => writeln!(out, "{platform} is up to date: nothing to do")?,
        (_, true) => writeln!(
            out,
            "{platform}: {n} statements to run (--plan: nothing was changed)"
        )?,
        (_, false) => writeln!(out, "{platform}: {n} statements run")?,
    }
    Ok(SUCCESS)
}

/// `status`: a table, or JSON.
async fn status(
    engine: &Engine<'_>,
    platform: &str,
    store: Option<&str>,
    limit: i64,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let eco = engine.model();
    let result = async {
        let p = eco.platform(platform)?;
        let s = store.map(|s| eco.store(s)).transpose()?;
        engine.status(p, s, limit).await
    }
    .await;
    match result {
        Ok(rows) if json => {
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&rows).map_err(io::Error::other)?
            )?;
            Ok(SUCCESS)
        }
        Ok(rows) => {
            write_table(platform, &rows, out)?;
            Ok(SUCCESS)
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(e.exit_code())
        }
    }
}

/// `generate`: write the artifacts, or with `--check` say what is stale.
fn generate(
    eco: &ValidEcosystem,
    binary: &str,
    dir: &Path,
    check: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let drift = crate::generate::sync(dir, eco, binary, !check)?;
    let images = datasurface_codegen::images(eco, &crate::generate::context(binary));
    if check {
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
                drift.files
            )?;
            write_images(&images, out)?;
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
    for path in &drift.stale {
        writeln!(out, "wrote {path}")?;
    }
    for path in &drift.extra {
        writeln!(err, "left as it is (not generated by the model): {path}")?;
    }
    writeln!(
        out,
        "{} files in {}, {} changed",
        drift.files,
        dir.display(),
        drift.stale.len()
    )?;
    write_images(&images, out)?;
    Ok(SUCCESS)
}

/// `dags`: the DAG files of a namespace, written flat into the DAG folder.
fn dags(
    eco: &ValidEcosystem,
    binary: &str,
    namespace: &str,
    dir: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    if !eco.providers.iter().any(|p| p.namespace == namespace) {
        let known: Vec<&str> = eco.providers.iter().map(|p| p.namespace.as_str()).collect();
        writeln!(
            err,
            "error: no service provider of the model is in namespace `{namespace}` (the model's: {})",
            known.join(", ")
        )?;
        return Ok(FAILURE);
    }
    let files = datasurface_codegen::dag_files(eco, &crate::generate::context(binary), namespace);
    std::fs::create_dir_all(dir)?;
    for file in &files {
        std::fs::write(dir.join(&file.path), &file.contents)?;
    }
    writeln!(out, "{} DAG files in {}", files.len(), dir.display())?;
    Ok(SUCCESS)
}

/// The images the artifacts run, one line each, with how to build them: the tag changes
/// with the model, the runtime and its dependencies, so a changed binary is never mistaken
/// for the one a node already has.
fn write_images(images: &[String], out: &mut dyn Write) -> io::Result<()> {
    for image in images {
        let features = if image.ends_with(datasurface_codegen::DEV_TAG_SUFFIX) {
            "--build-arg FEATURES=dev "
        } else {
            ""
        };
        writeln!(out, "image {image} (docker build {features}-t {image} .)")?;
    }
    Ok(())
}

fn stream_name(args: &StreamArgs) -> datasurface_model::StreamKey {
    datasurface_model::StreamKey::new(&args.store, args.dataset.as_deref())
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
