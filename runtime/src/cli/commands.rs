//! One handler per command: it takes what it needs from `setup.rs`, calls the engine (or
//! generation), writes the files it was asked for, and hands its typed result to
//! `render.rs` — for a person, or as JSON with `--json`.

use super::args::{
    CompletionsArgs, DagsArgs, DoctorArgs, GenerateArgs, InfraArgs, ResetArgs, RunArgs, StatusArgs,
    StreamArgs, ValidateArgs,
};
use super::log::Log;
use super::progress::{Bars, Lines};
use super::render::{
    Completions, Dags, Doctor, Failure, Generated, Infra, Output, Ran, Reset, Rewound, Status,
    Validation, json_text, show, show_text,
};
use super::report::{RunReport, write_whole};
use super::setup::on_engine;
use crate::engine::{Error, Progress, RunOptions};
use datasurface_codegen::Exit;
use datasurface_model::{Ecosystem, Stream, StreamKey, ValidEcosystem};
use std::sync::Arc;

/// `validate`: every error and warning, then one line saying what the model holds.
pub(super) fn validate(
    ecosystem: Ecosystem,
    args: ValidateArgs,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    let model = ecosystem.name.clone();
    let validation = match ecosystem.validate() {
        Ok(eco) => Validation {
            model,
            summary: Some(summary(&eco)),
            diagnostics: eco.warnings().to_vec(),
        },
        Err(report) => Validation {
            model,
            summary: None,
            diagnostics: report.diagnostics,
        },
    };
    Ok(show(&validation, args.json, o)?)
}

/// `completions`: the script of `command`, the binary's command line, for the shell.
pub(super) fn completions(
    mut command: clap::Command,
    binary: &str,
    args: CompletionsArgs,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    // clap_complete panics when it cannot write: it writes to memory, the script is
    // written after.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, binary, &mut script);
    Ok(show_text(&Completions(script), o)?)
}

/// `run`: one batch; the report and metrics files are written whatever the outcome.
pub(super) fn run(
    eco: &ValidEcosystem,
    log: &Log,
    args: RunArgs,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    let progress: Arc<dyn Progress> = match &log.bars {
        Some(bars) if !args.json => Arc::new(Bars::new(bars.clone())),
        _ => Arc::new(Lines::default()),
    };
    let options = RunOptions {
        max_delete_percent: args.max_delete_percent,
        progress: Some(progress),
    };
    let result = on_engine(eco, async |engine| {
        engine.run(&stream(eco, &args.stream)?, &options).await
    })?;
    let (platform, key) = stream_name(eco, &args.stream);
    let report = RunReport::new(&platform, &key.to_string(), &result);
    if let Some(path) = &args.report {
        write_whole(path, &json_text(&report)?)?;
    }
    if let Some(path) = &args.metrics_file {
        write_whole(path, &report.prometheus())?;
    }
    if let Err(e) = &result
        && log.json
        && !args.json
    {
        // A pod's log gets the error as an event; on a terminal the error line says it.
        tracing::error!(code = e.code(), "{e}");
    }
    let ran = Ran {
        platform,
        stream: key,
        result,
        report,
    };
    Ok(show(&ran, args.json, o)?)
}

/// `reset-batch`: send the open batch back to started, or with `--to-batch` rewind the
/// stream to a committed batch.
pub(super) fn reset_batch(
    eco: &ValidEcosystem,
    args: ResetArgs,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    let stream_args = &args.stream;
    let (platform, key) = stream_name(eco, stream_args);
    match args.to_batch {
        None => {
            let result = on_engine(eco, async |engine| {
                engine.reset(&stream(eco, stream_args)?).await
            })?;
            let reset = Reset {
                platform,
                stream: key,
                result,
            };
            Ok(show(&reset, args.json, o)?)
        }
        Some(to_batch) => {
            let result = on_engine(eco, async |engine| {
                let stream = stream(eco, stream_args)?;
                engine.rewind(&stream, to_batch, args.dry_run).await
            })?;
            let rewound = Rewound {
                platform,
                stream: key,
                to_batch,
                result,
            };
            Ok(show(&rewound, args.json, o)?)
        }
    }
}

/// `infra`: create and evolve a platform's tables, or with `--plan` say how.
pub(super) fn infra(
    eco: &ValidEcosystem,
    args: InfraArgs,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    let result = on_engine(eco, async |engine| {
        engine.infra(eco.platform(&args.platform)?, args.plan).await
    })?;
    match result {
        Ok(plan) => {
            let infra = Infra {
                platform: platform_name(eco, &args.platform),
                plan_only: args.plan,
                plan,
            };
            Ok(show(&infra, args.json, o)?)
        }
        Err(e) => Err(Failure::engine(e, Some(args.platform), args.json)),
    }
}

/// `status`: the recent batches of a platform's streams.
pub(super) fn status(
    eco: &ValidEcosystem,
    args: StatusArgs,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    let result = on_engine(eco, async |engine| {
        let platform = eco.platform(&args.platform)?;
        let store = args.store.as_deref().map(|s| eco.store(s)).transpose()?;
        let batches = engine.status(platform, store, args.limit).await?;
        Ok::<_, Error>((batches, engine.slots(platform, store).await))
    })?;
    match result {
        Ok((batches, slots)) => {
            let status = Status {
                platform: platform_name(eco, &args.platform),
                batches,
                slots,
            };
            Ok(show(&status, args.json, o)?)
        }
        Err(e) => Err(Failure::engine(e, None, args.json)),
    }
}

/// `doctor`: every check a batch depends on.
pub(super) fn doctor(
    eco: &ValidEcosystem,
    args: DoctorArgs,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    let checks = on_engine(eco, async |engine| engine.doctor().await)?;
    Ok(show(&Doctor { checks }, args.json, o)?)
}

/// `generate`: write the artifacts, or with `--check` compare them.
pub(super) fn generate(
    eco: &ValidEcosystem,
    binary: &str,
    args: GenerateArgs,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    let context = crate::generate::locked_context(binary).map_err(Failure::error)?;
    let drift = crate::generate::sync(&args.out, eco, &context, !args.check)?;
    let images = datasurface_codegen::images(eco, &context);
    let generated = Generated {
        dir: args.out,
        check: args.check,
        drift,
        images,
    };
    Ok(show(&generated, args.json, o)?)
}

/// `dags`: the DAG files of a namespace, written flat into the DAG folder.
pub(super) fn dags(
    eco: &ValidEcosystem,
    binary: &str,
    args: DagsArgs,
    o: &mut Output<'_>,
) -> Result<Exit, Failure> {
    let namespace = args.namespace.as_str();
    if !eco
        .model()
        .providers
        .iter()
        .any(|p| p.namespace == namespace)
    {
        let known: Vec<&str> = eco
            .model()
            .providers
            .iter()
            .map(|p| p.namespace.as_str())
            .collect();
        return Err(Failure::error(format_args!(
            "no service provider of the model is in namespace `{namespace}` (the model's: {})",
            known.join(", ")
        )));
    }
    let mut context = crate::generate::context(binary);
    if let Some(image) = args.image_digest {
        context.lock = Some(datasurface_codegen::ImageLock {
            tag: crate::generate::image_tag(eco),
            image,
            dev: args.dev_image_digest,
        });
    }
    let files = datasurface_codegen::dag_files(eco, &context, namespace);
    std::fs::create_dir_all(&args.out)?;
    for file in &files {
        std::fs::write(args.out.join(&file.path), &file.contents)?;
    }
    let dags = Dags {
        files: files.len(),
        dir: args.out,
    };
    Ok(show_text(&dags, o)?)
}

fn stream<'e>(eco: &'e ValidEcosystem, args: &StreamArgs) -> Result<Stream<'e>, Error> {
    Ok(eco.stream(&args.platform, &args.store, args.dataset.as_deref())?)
}

/// The platform and stream a command line names, as the model spells them when it has
/// them (the command line may use another case), else as written.
fn stream_name(eco: &ValidEcosystem, args: &StreamArgs) -> (String, StreamKey) {
    match stream(eco, args) {
        Ok(s) => (s.platform.model.name.clone(), s.key),
        Err(_) => (
            args.platform.clone(),
            StreamKey::new(&args.store, args.dataset.as_deref()),
        ),
    }
}

/// The platform a command line names, as the model spells it when it has it.
fn platform_name(eco: &ValidEcosystem, name: &str) -> String {
    eco.platform(name)
        .map_or_else(|_| name.to_owned(), |p| p.model.name.clone())
}

/// One line saying what the model holds.
fn summary(eco: &ValidEcosystem) -> String {
    let teams = eco.model().teams().count();
    let stores = eco.model().datastores().count();
    let datasets: usize = eco.model().datastores().map(|s| s.datasets.len()).sum();
    let workspaces = eco.model().workspaces().count();
    let dsgs: usize = eco.model().workspaces().map(|w| w.dsgs.len()).sum();
    let count = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}, {} ({}), {} ({}), {}, {}, {}",
        count(eco.model().zones.len(), "zone"),
        count(teams, "team"),
        count(stores, "datastore"),
        count(datasets, "dataset"),
        count(workspaces, "workspace"),
        count(dsgs, "dataset group"),
        count(eco.model().providers.len(), "service provider"),
        count(eco.model().platforms.len(), "platform"),
        count(eco.model().assignments.len(), "assignment"),
    )
}
