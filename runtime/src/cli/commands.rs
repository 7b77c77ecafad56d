//! One handler per command: it calls the engine (or generation) and renders the typed
//! result — for a person, or as JSON with `--json`.

use super::args::{Command, StreamArgs};
use super::log::Log;
use super::progress::{Bars, Lines};
use super::report::{ErrorReport, Failed, RunReport, write_whole};
use super::table::write_table;
use crate::engine::{Check, Engine, Error, Progress, RunOptions};
use crate::pg::Environment;
use datasurface_model::{Ecosystem, Severity, Stream, StreamKey, ValidEcosystem};
use serde::Serialize;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const SUCCESS: u8 = 0;
/// Exit code of a command that failed.
pub(super) const FAILURE: u8 = 1;

/// Writes `value` as pretty JSON, one document.
fn json(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(value).map_err(io::Error::other)?
    )
}

/// An engine error: as a line on `err`, or under `--json` as an object on `out`.
fn failure(e: &Error, as_json: bool, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<u8> {
    if as_json {
        json(out, &Failed { error: e.into() })?;
    } else {
        writeln!(err, "error: {e}")?;
    }
    Ok(e.exit_code())
}

/// `validate`: every error and warning, then one line saying what the model holds.
pub(super) fn validate(
    ecosystem: Ecosystem,
    as_json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    #[derive(Serialize)]
    struct Finding {
        severity: &'static str,
        path: String,
        message: String,
        hint: Option<String>,
    }
    #[derive(Serialize)]
    struct Validation {
        model: String,
        valid: bool,
        diagnostics: Vec<Finding>,
    }
    let name = ecosystem.name.clone();
    let (valid, diagnostics, summary) = match ecosystem.validate() {
        Ok(eco) => (true, eco.warnings().to_vec(), Some(summary(&eco))),
        Err(report) => (false, report.diagnostics, None),
    };
    if as_json {
        let diagnostics = diagnostics
            .iter()
            .map(|d| Finding {
                severity: match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                path: d.path.to_string(),
                message: d.message.clone(),
                hint: d.hint.clone(),
            })
            .collect();
        json(
            out,
            &Validation {
                model: name,
                valid,
                diagnostics,
            },
        )?;
    } else {
        let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error);
        let warnings = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning);
        for d in errors.clone().chain(warnings.clone()) {
            writeln!(err, "{d}")?;
        }
        match &summary {
            Some(summary) => writeln!(out, "model {name} is valid: {summary}")?,
            None => {
                let (e, w) = (errors.count(), warnings.count());
                writeln!(
                    err,
                    "{e} error{}, {w} warning{}",
                    if e == 1 { "" } else { "s" },
                    if w == 1 { "" } else { "s" }
                )?;
                writeln!(out, "model {name} is not valid")?;
            }
        }
    }
    Ok(if valid { SUCCESS } else { FAILURE })
}

/// The commands that take the validated model.
pub(super) fn jobs(
    eco: &ValidEcosystem,
    binary: &str,
    log: &Log,
    command: Command,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    if let Command::Generate {
        out: dir,
        check,
        json,
    } = command
    {
        return generate(eco, binary, &dir, check, json, out, err);
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
            report,
            metrics_file,
            json,
        } => {
            let progress: Arc<dyn Progress> = match &log.bars {
                Some(bars) if !json => Arc::new(Bars::new(bars.clone())),
                _ => Arc::new(Lines::default()),
            };
            let options = RunOptions {
                max_delete_percent,
                progress: Some(progress),
            };
            let files = Files {
                report,
                metrics: metrics_file,
            };
            runtime.block_on(run(&engine, &stream, &options, &files, json, out, err))
        }
        Command::ResetBatch {
            stream,
            to_batch: Some(to_batch),
            dry_run,
            json,
        } => runtime.block_on(rewind(&engine, &stream, to_batch, dry_run, json, out)),
        Command::ResetBatch { stream, json, .. } => {
            runtime.block_on(reset(&engine, &stream, json, out, err))
        }
        Command::Infra {
            platform,
            plan,
            json,
        } => runtime.block_on(infra(&engine, &platform, plan, json, out, err)),
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
        Command::Doctor { json } => runtime.block_on(doctor(&engine, json, out)),
        Command::Validate { .. }
        | Command::Generate { .. }
        | Command::Completions { .. }
        | Command::Dags { .. } => {
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

/// Where `run` also writes its result.
#[derive(Debug)]
struct Files {
    report: Option<PathBuf>,
    metrics: Option<PathBuf>,
}

/// `run`: the outcome, then the result code line the DAGs' logs end with; or the result as
/// JSON. The report and metrics files are written either way.
async fn run(
    engine: &Engine<'_>,
    args: &StreamArgs,
    options: &RunOptions,
    files: &Files,
    as_json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let (platform, key) = stream_name(engine.model(), args);
    let name = format!("{platform} {key}");
    let result = match stream(engine.model(), args) {
        Ok(s) => engine.run(&s, options).await,
        Err(e) => Err(e),
    };
    let report = RunReport::new(&platform, &key.to_string(), &result);
    if let Some(path) = &files.report {
        let text = serde_json::to_string_pretty(&report).map_err(io::Error::other)?;
        write_whole(path, &(text + "\n"))?;
    }
    if let Some(path) = &files.metrics {
        write_whole(path, &report.prometheus())?;
    }
    if as_json {
        json(out, &report)?;
        return Ok(result.map_or_else(|e| e.exit_code(), |_| SUCCESS));
    }
    match result {
        Ok(outcome) => {
            writeln!(out, "{name}: {outcome}")?;
            writeln!(out, "DATASURFACE_RESULT_CODE=0")?;
            Ok(SUCCESS)
        }
        Err(e) => {
            tracing::error!(code = e.code(), "{e}");
            writeln!(err, "error: {name}: {e}")?;
            writeln!(out, "DATASURFACE_RESULT_CODE=-1")?;
            Ok(e.exit_code())
        }
    }
}

/// What `reset-batch` did, for `--json`.
#[derive(Serialize)]
struct Reset {
    platform: String,
    stream: String,
    /// The batch sent back to `started`.
    batch: Option<i32>,
    /// With `--to-batch`: the batch rewound to, and per dataset the versions removed and
    /// made current again.
    to_batch: Option<i32>,
    removed: std::collections::BTreeMap<String, u64>,
    reopened: std::collections::BTreeMap<String, u64>,
    batches_reset: u64,
    applied: bool,
    error: Option<ErrorReport>,
}

impl Reset {
    fn new(eco: &ValidEcosystem, args: &StreamArgs) -> Self {
        let (platform, stream) = stream_name(eco, args);
        Reset {
            platform,
            stream: stream.to_string(),
            batch: None,
            to_batch: None,
            removed: Default::default(),
            reopened: Default::default(),
            batches_reset: 0,
            applied: false,
            error: None,
        }
    }
}

/// `reset-batch`: SUCCESS or ERROR: ….
async fn reset(
    engine: &Engine<'_>,
    args: &StreamArgs,
    as_json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let result = match stream(engine.model(), args) {
        Ok(s) => engine.reset(&s).await,
        Err(e) => Err(e),
    };
    if as_json {
        let mut reset = Reset::new(engine.model(), args);
        match &result {
            Ok(batch) => {
                reset.batch = Some(*batch);
                reset.applied = true;
            }
            Err(e) => reset.error = Some(e.into()),
        }
        json(out, &reset)?;
        return Ok(result.map_or_else(|e| e.exit_code(), |_| SUCCESS));
    }
    match result {
        Ok(batch) => {
            let (platform, stream) = stream_name(engine.model(), args);
            writeln!(err, "batch {batch} of {platform} {stream} reset to started")?;
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
    as_json: bool,
    out: &mut dyn Write,
) -> io::Result<u8> {
    let result = match stream(engine.model(), args) {
        Ok(s) => engine.rewind(&s, to_batch, dry_run).await,
        Err(e) => Err(e),
    };
    if as_json {
        let mut reset = Reset::new(engine.model(), args);
        reset.to_batch = Some(to_batch);
        match &result {
            Ok(r) => {
                for (dataset, (removed, reopened)) in &r.per_dataset {
                    reset.removed.insert(dataset.clone(), *removed);
                    reset.reopened.insert(dataset.clone(), *reopened);
                }
                reset.batches_reset = r.batches_reset;
                reset.applied = r.applied;
            }
            Err(e) => reset.error = Some(e.into()),
        }
        json(out, &reset)?;
        return Ok(result.map_or_else(|e| e.exit_code(), |_| SUCCESS));
    }
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
    let (platform, stream) = stream_name(engine.model(), args);
    writeln!(
        out,
        "{} later batches {verb}marked reset; {platform} {stream} {verb}rewound to batch {to_batch}",
        rewind.batches_reset,
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
    as_json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let platform = as_in_model(engine.model(), platform);
    let result = match engine.model().platform(platform) {
        Ok(p) => engine.infra(p, plan_only).await,
        Err(e) => Err(e.into()),
    };
    let plan = match result {
        Ok(plan) => plan,
        Err(e) if as_json => return failure(&e, true, out, err),
        Err(e) => {
            writeln!(err, "error: {platform}: {e}")?;
            return Ok(e.exit_code());
        }
    };
    if as_json {
        #[derive(Serialize)]
        struct Infra<'a> {
            platform: &'a str,
            applied: bool,
            statements: Vec<&'a str>,
            created: usize,
            columns_left_alone: &'a [String],
        }
        return json(
            out,
            &Infra {
                platform,
                applied: !plan_only,
                statements: plan.statements.iter().map(|s| s.sql()).collect(),
                created: plan.creates,
                columns_left_alone: &plan.ignored,
            },
        )
        .map(|()| SUCCESS);
    }
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
    as_json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let eco = engine.model();
    let platform = as_in_model(eco, platform);
    let result = async {
        let p = eco.platform(platform)?;
        let s = store.map(|s| eco.store(s)).transpose()?;
        engine.status(p, s, limit).await
    }
    .await;
    match result {
        Ok(rows) if as_json => {
            json(out, &rows)?;
            Ok(SUCCESS)
        }
        Ok(rows) => {
            write_table(platform, &rows, out)?;
            Ok(SUCCESS)
        }
        Err(e) => failure(&e, as_json, out, err),
    }
}

/// `doctor`: a ✓/✗ table with the fix for each ✗, or JSON; exit 1 on any ✗.
async fn doctor(engine: &Engine<'_>, as_json: bool, out: &mut dyn Write) -> io::Result<u8> {
    let checks = engine.doctor().await;
    let healthy = checks.iter().all(|c| c.ok);
    if as_json {
        #[derive(Serialize)]
        struct Doctor<'a> {
            healthy: bool,
            checks: &'a [Check],
        }
        json(
            out,
            &Doctor {
                healthy,
                checks: &checks,
            },
        )?;
    } else {
        let width = checks
            .iter()
            .map(|c| c.subject.chars().count())
            .max()
            .unwrap_or(0);
        for c in &checks {
            writeln!(
                out,
                "{} {:<width$}  {:<18} {}",
                if c.ok { "✓" } else { "✗" },
                c.subject,
                c.check,
                c.detail
            )?;
            if let Some(fix) = c.fix.as_ref().filter(|_| !c.ok) {
                writeln!(out, "  {:<width$}  {:<18} fix: {fix}", "", "")?;
            }
        }
        let failed = checks.iter().filter(|c| !c.ok).count();
        writeln!(
            out,
            "{} checks, {failed} failed{}",
            checks.len(),
            if healthy { ": ready to run" } else { "" }
        )?;
    }
    Ok(if healthy { SUCCESS } else { FAILURE })
}

/// `generate`: write the artifacts, or with `--check` say what is stale.
fn generate(
    eco: &ValidEcosystem,
    binary: &str,
    dir: &Path,
    check: bool,
    as_json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let drift = crate::generate::sync(dir, eco, binary, !check)?;
    let images = datasurface_codegen::images(eco, &crate::generate::context(binary));
    let up_to_date = drift.stale.is_empty() && drift.extra.is_empty();
    if as_json {
        #[derive(Serialize)]
        struct Generated<'a> {
            dir: std::borrow::Cow<'a, str>,
            written: bool,
            #[serde(flatten)]
            drift: &'a crate::generate::Drift,
            /// The images the artifacts run, to build and push.
            images: &'a [String],
        }
        json(
            out,
            &Generated {
                dir: dir.to_string_lossy(),
                written: !check,
                drift: &drift,
                images: &images,
            },
        )?;
        return Ok(if check && !up_to_date {
            FAILURE
        } else {
            SUCCESS
        });
    }
    if check {
        for path in &drift.stale {
            writeln!(err, "stale: {path}")?;
        }
        for path in &drift.extra {
            writeln!(err, "not generated by the model: {path}")?;
        }
        return if up_to_date {
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

/// The platform called `name`, spelt as the model spells it (a command line may use another
/// case), or as given when the model has no such platform.
fn as_in_model<'a>(eco: &'a ValidEcosystem, name: &'a str) -> &'a str {
    eco.platform(name).map_or(name, |p| p.model.name.as_str())
}

/// The platform and the stream `args` name, spelt as the model spells them (a command line
/// may use another case), or as given when the model has no such stream.
fn stream_name(eco: &ValidEcosystem, args: &StreamArgs) -> (String, StreamKey) {
    match stream(eco, args) {
        Ok(s) => (s.platform.name.clone(), s.key),
        Err(_) => (
            args.platform.clone(),
            StreamKey::new(&args.store, args.dataset.as_deref()),
        ),
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
