//! How the commands' results read: as text for a person (what a command reports on standard
//! output, notes and errors on standard error) or, with `--json`, as one JSON document on
//! standard output. A handler (`commands.rs`) does the work and hands its typed result here;
//! nothing here touches a database or the model. [`json`] is the one JSON writer and
//! [`failure`] the one error renderer.

use super::report::{ErrorReport, Failed, RunReport};
use super::table::write_table;
use crate::engine::{
    BatchRecord, Check, Error, Outcome, Plan, Rewind, SlotLag, SourceChange, readable_bytes,
};
use crate::generate::Drift;
use datasurface_codegen::Exit;
use datasurface_model::{Diagnostic, Report, Severity, StreamKey};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::io::{self, Write};
use std::path::PathBuf;

/// Where a command writes: what it reports to `out`, notes and errors to `err`.
pub(super) struct Output<'a> {
    pub(super) out: &'a mut dyn Write,
    pub(super) err: &'a mut dyn Write,
}

/// A command's result, for a person.
pub(super) trait Render {
    /// Writes it as text.
    fn text(&self, o: &mut Output<'_>) -> io::Result<()>;

    /// How the command ends.
    fn exit(&self) -> Exit {
        Exit::Success
    }
}

/// A command's result, for programs (`--json`).
pub(super) trait Json: Render {
    /// The JSON document that stands for it.
    fn json(&self) -> impl Serialize + '_;
}

/// Writes `result` as text, or with `as_json` as JSON; how the command ends.
pub(super) fn show(result: &impl Json, as_json: bool, o: &mut Output<'_>) -> io::Result<Exit> {
    if as_json {
        json(o.out, &result.json())?;
    } else {
        result.text(o)?;
    }
    Ok(result.exit())
}

/// Writes `result` as text; how the command ends.
pub(super) fn show_text(result: &impl Render, o: &mut Output<'_>) -> io::Result<Exit> {
    result.text(o)?;
    Ok(result.exit())
}

/// `value` as pretty JSON, one document ending with a newline.
pub(super) fn json_text(value: &impl Serialize) -> io::Result<String> {
    let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    text.push('\n');
    Ok(text)
}

/// Writes `value` as pretty JSON, one document.
pub(super) fn json(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    out.write_all(json_text(value)?.as_bytes())
}

/// An error for a person: `error: …`, after what it happened to when that helps.
fn error_line(err: &mut dyn Write, about: Option<&str>, e: &dyn Display) -> io::Result<()> {
    match about {
        Some(about) => writeln!(err, "error: {about}: {e}"),
        None => writeln!(err, "error: {e}"),
    }
}

/// Why a command stopped without a result of its own to show.
#[derive(Debug)]
pub(super) enum Failure {
    /// The command line was not understood, or asked for help or the version.
    Usage(clap::Error),
    /// The model is not valid.
    Invalid(Report),
    /// The engine's error, about `about` (a platform) when given; with `json`, as a JSON
    /// object on standard output.
    Engine {
        error: Box<Error>,
        about: Option<String>,
        json: bool,
    },
    /// Anything else that stopped the command, said in a sentence.
    Error(String),
    /// Stopped by a signal: what became of the work.
    #[cfg_attr(not(feature = "dev"), allow(dead_code))]
    Interrupted(String),
    /// A write failed; standard output closed by its reader ends the command quietly.
    Io(io::Error),
}

impl Failure {
    /// The engine's error, about `about` when given; as text, or with `json` as JSON.
    pub(super) fn engine(error: Error, about: Option<String>, json: bool) -> Self {
        Failure::Engine {
            error: Box::new(error),
            about,
            json,
        }
    }

    /// Any other error, in its own words.
    pub(super) fn error(e: impl Display) -> Self {
        Failure::Error(e.to_string())
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

/// Writes why a command stopped (help and the version included); how it ends.
pub(super) fn failure(failure: Failure, o: &mut Output<'_>) -> Exit {
    let exit = match &failure {
        Failure::Usage(e) if e.use_stderr() => Exit::Usage,
        Failure::Usage(_) => Exit::Success,
        Failure::Engine { error, .. } => error.exit_code(),
        Failure::Interrupted(_) => Exit::Interrupted,
        Failure::Io(e) if e.kind() == io::ErrorKind::BrokenPipe => Exit::Success,
        Failure::Invalid(_) | Failure::Error(_) | Failure::Io(_) => Exit::Failure,
    };
    // Whoever reads the account may be gone: the exit code stays what it was.
    let _ = match failure {
        Failure::Usage(e) => {
            let target: &mut dyn Write = if e.use_stderr() { o.err } else { o.out };
            write!(target, "{}", e.render())
        }
        Failure::Invalid(report) => writeln!(o.err, "{report}"),
        Failure::Engine {
            error, json: true, ..
        } => json(
            o.out,
            &Failed {
                error: error.as_ref().into(),
            },
        ),
        Failure::Engine { error, about, .. } => error_line(o.err, about.as_deref(), &error),
        Failure::Error(message) => error_line(o.err, None, &message),
        Failure::Interrupted(message) => writeln!(o.err, "{message}"),
        Failure::Io(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Failure::Io(e) => error_line(o.err, None, &e),
    };
    exit
}

/// `validate`: what validation found, and what the model holds when it is valid.
pub(super) struct Validation {
    pub(super) model: String,
    /// What the model holds, when it is valid.
    pub(super) summary: Option<String>,
    pub(super) diagnostics: Vec<Diagnostic>,
}

impl Render for Validation {
    fn text(&self, o: &mut Output<'_>) -> io::Result<()> {
        let of = |severity| {
            self.diagnostics
                .iter()
                .filter(move |d| d.severity == severity)
        };
        let (errors, warnings) = (of(Severity::Error), of(Severity::Warning));
        for d in errors.clone().chain(warnings.clone()) {
            writeln!(o.err, "{d}")?;
        }
        let name = &self.model;
        match &self.summary {
            Some(summary) => writeln!(o.out, "model {name} is valid: {summary}"),
            None => {
                let (e, w) = (errors.count(), warnings.count());
                writeln!(
                    o.err,
                    "{e} error{}, {w} warning{}",
                    if e == 1 { "" } else { "s" },
                    if w == 1 { "" } else { "s" }
                )?;
                writeln!(o.out, "model {name} is not valid")
            }
        }
    }

    fn exit(&self) -> Exit {
        if self.summary.is_some() {
            Exit::Success
        } else {
            Exit::Failure
        }
    }
}

impl Json for Validation {
    fn json(&self) -> impl Serialize + '_ {
        #[derive(Serialize)]
        struct Finding<'a> {
            severity: &'static str,
            path: String,
            message: &'a str,
            hint: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Validation<'a> {
            model: &'a str,
            valid: bool,
            diagnostics: Vec<Finding<'a>>,
        }
        Validation {
            model: &self.model,
            valid: self.summary.is_some(),
            diagnostics: self
                .diagnostics
                .iter()
                .map(|d| Finding {
                    severity: match d.severity {
                        Severity::Error => "error",
                        Severity::Warning => "warning",
                    },
                    path: d.path.to_string(),
                    message: &d.message,
                    hint: d.hint.as_deref(),
                })
                .collect(),
        }
    }
}

/// `completions`: the script.
pub(super) struct Completions(pub(super) Vec<u8>);

impl Render for Completions {
    fn text(&self, o: &mut Output<'_>) -> io::Result<()> {
        o.out.write_all(&self.0)
    }
}

/// `run`: the outcome, then the result code line the DAGs' logs end with.
pub(super) struct Ran {
    pub(super) platform: String,
    pub(super) stream: StreamKey,
    pub(super) result: Result<Outcome, Error>,
    /// The result for programs.
    pub(super) report: RunReport,
}

impl Render for Ran {
    fn text(&self, o: &mut Output<'_>) -> io::Result<()> {
        let name = format!("{} {}", self.platform, self.stream);
        match &self.result {
            Ok(outcome) => {
                writeln!(o.out, "{name}: {outcome}")?;
                writeln!(o.out, "DATASURFACE_RESULT_CODE=0")
            }
            Err(e) => {
                error_line(o.err, Some(&name), e)?;
                writeln!(o.out, "DATASURFACE_RESULT_CODE=-1")
            }
        }
    }

    fn exit(&self) -> Exit {
        exit_of(&self.result)
    }
}

impl Json for Ran {
    fn json(&self) -> impl Serialize + '_ {
        &self.report
    }
}

fn exit_of<T>(result: &Result<T, Error>) -> Exit {
    result
        .as_ref()
        .map_or_else(Error::exit_code, |_| Exit::Success)
}

/// `reset-batch`: the batch sent back to started; SUCCESS or ERROR: ….
pub(super) struct Reset {
    pub(super) platform: String,
    pub(super) stream: StreamKey,
    pub(super) result: Result<i32, Error>,
}

impl Render for Reset {
    fn text(&self, o: &mut Output<'_>) -> io::Result<()> {
        match &self.result {
            Ok(batch) => {
                writeln!(
                    o.err,
                    "batch {batch} of {} {} reset to started",
                    self.platform, self.stream
                )?;
                success_or_error(o.out, None)
            }
            Err(e) => success_or_error(o.out, Some(e)),
        }
    }

    fn exit(&self) -> Exit {
        exit_of(&self.result)
    }
}

impl Json for Reset {
    fn json(&self) -> impl Serialize + '_ {
        let mut reset = ResetJson::new(&self.platform, &self.stream);
        match &self.result {
            Ok(batch) => {
                reset.batch = Some(*batch);
                reset.applied = true;
            }
            Err(e) => reset.error = Some(e.into()),
        }
        reset
    }
}

/// `reset-batch --to-batch N`: what was (or would be) undone; SUCCESS or ERROR: ….
pub(super) struct Rewound {
    pub(super) platform: String,
    pub(super) stream: StreamKey,
    pub(super) to_batch: i32,
    pub(super) result: Result<Rewind, Error>,
}

impl Render for Rewound {
    fn text(&self, o: &mut Output<'_>) -> io::Result<()> {
        let rewind = match &self.result {
            Ok(rewind) => rewind,
            Err(e) => return success_or_error(o.out, Some(e)),
        };
        let verb = if rewind.applied { "" } else { "would be " };
        for (dataset, (removed, reopened)) in &rewind.per_dataset {
            writeln!(
                o.out,
                "{dataset}: {removed} versions {verb}removed, {reopened} versions {verb}made current again"
            )?;
        }
        writeln!(
            o.out,
            "{} later batches {verb}marked reset; {} {} {verb}rewound to batch {}",
            rewind.batches_reset, self.platform, self.stream, self.to_batch
        )?;
        success_or_error(o.out, None)
    }

    fn exit(&self) -> Exit {
        exit_of(&self.result)
    }
}

impl Json for Rewound {
    fn json(&self) -> impl Serialize + '_ {
        let mut reset = ResetJson::new(&self.platform, &self.stream);
        reset.to_batch = Some(self.to_batch);
        match &self.result {
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
        reset
    }
}

/// What `reset-batch` did, for `--json`.
#[derive(Serialize)]
struct ResetJson {
    platform: String,
    stream: String,
    /// The batch sent back to `started`.
    batch: Option<i32>,
    /// With `--to-batch`: the batch rewound to, and per dataset the versions removed and
    /// made current again.
    to_batch: Option<i32>,
    removed: BTreeMap<String, u64>,
    reopened: BTreeMap<String, u64>,
    batches_reset: u64,
    applied: bool,
    error: Option<ErrorReport>,
}

impl ResetJson {
    fn new(platform: &str, stream: &StreamKey) -> Self {
        ResetJson {
            platform: platform.to_owned(),
            stream: stream.to_string(),
            batch: None,
            to_batch: None,
            removed: BTreeMap::new(),
            reopened: BTreeMap::new(),
            batches_reset: 0,
            applied: false,
            error: None,
        }
    }
}

/// The last line of `reset-batch`: `SUCCESS`, or `ERROR: …`.
fn success_or_error(out: &mut dyn Write, error: Option<&Error>) -> io::Result<()> {
    match error {
        None => writeln!(out, "SUCCESS"),
        Some(e) => writeln!(out, "ERROR: {e}"),
    }
}

/// `infra`: the DDL, then what was (or would be) done.
pub(super) struct Infra {
    pub(super) platform: String,
    /// `--plan`: nothing was run.
    pub(super) plan_only: bool,
    pub(super) plan: Plan,
}

impl Render for Infra {
    fn text(&self, o: &mut Output<'_>) -> io::Result<()> {
        let plan = &self.plan;
        for statement in &plan.statements {
            writeln!(o.out, "{statement};")?;
        }
        for column in &plan.ignored {
            writeln!(
                o.err,
                "note: column {column} is not in the model (added by hand); it is left as it is"
            )?;
        }
        for change in &plan.source {
            let what = if self.plan_only { "to do" } else { "done" };
            writeln!(o.out, "source: {change} ({what})")?;
        }
        let (platform, n) = (&self.platform, plan.statements.len());
        let source = match plan.source.len() {
            0 => String::new(),
            1 => ", 1 source change".into(),
            k => format!(", {k} source changes"),
        };
        match (plan.is_empty(), self.plan_only) {
            (true, _) => writeln!(o.out, "{platform} is up to date: nothing to do"),
            (_, true) => writeln!(
                o.out,
                "{platform}: {n} statements to run{source} (--plan: nothing was changed)"
            ),
            (_, false) => writeln!(o.out, "{platform}: {n} statements run{source}"),
        }
    }
}

impl Json for Infra {
    fn json(&self) -> impl Serialize + '_ {
        #[derive(Serialize)]
        struct Infra<'a> {
            platform: &'a str,
            applied: bool,
            statements: Vec<&'a str>,
            created: usize,
            columns_left_alone: &'a [String],
            /// The publications and slots of the sources.
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            source: &'a [SourceChange],
        }
        Infra {
            platform: &self.platform,
            applied: !self.plan_only,
            statements: self.plan.statements.iter().map(|s| s.sql()).collect(),
            created: self.plan.creates,
            columns_left_alone: &self.plan.ignored,
            source: &self.plan.source,
        }
    }
}

/// `status`: the recent batches, as a table; then, for logically replicated streams, how
/// far behind each one's slot is.
pub(super) struct Status {
    pub(super) platform: String,
    pub(super) batches: Vec<BatchRecord>,
    pub(super) slots: Vec<SlotLag>,
}

impl Render for Status {
    fn text(&self, o: &mut Output<'_>) -> io::Result<()> {
        write_table(&self.platform, &self.batches, o.out)?;
        for slot in &self.slots {
            writeln!(o.out, "{}", slot_line(slot))?;
        }
        Ok(())
    }
}

impl Json for Status {
    /// The batches, as an array; the newest batch of a logically replicated stream also
    /// has its slot now, as `replication_slot`.
    fn json(&self) -> impl Serialize + '_ {
        #[derive(Serialize)]
        struct Record<'a> {
            #[serde(flatten)]
            batch: &'a BatchRecord,
            #[serde(skip_serializing_if = "Option::is_none")]
            replication_slot: Option<&'a SlotLag>,
        }
        let newest = |b: &BatchRecord| {
            self.batches
                .iter()
                .filter(|o| o.key == b.key)
                .all(|o| o.batch_id <= b.batch_id)
        };
        self.batches
            .iter()
            .map(|b| Record {
                batch: b,
                replication_slot: self
                    .slots
                    .iter()
                    .find(|s| s.stream == b.key)
                    .filter(|_| newest(b)),
            })
            .collect::<Vec<_>>()
    }
}

/// One line about a stream's replication slot.
pub(super) fn slot_line(slot: &SlotLag) -> String {
    let head = format!("replication slot {} of {}", slot.slot, slot.stream);
    if let Some(e) = &slot.error {
        return format!("{head}: not read ({e})");
    }
    if !slot.exists {
        return format!("{head}: missing (infra, or the stream's next batch, creates it)");
    }
    format!(
        "{head}: {} behind{}, {} of log kept, wal_status {}{}",
        readable_bytes(slot.lag_bytes),
        slot.lag_seconds
            .map(|s| format!(" ({s:.0} s since its changes were current)"))
            .unwrap_or_default(),
        readable_bytes(slot.retained_bytes),
        slot.wal_status.as_deref().unwrap_or("unknown"),
        slot.safe_wal_size
            .map(|n| format!(", {} before it is in danger", readable_bytes(Some(n))))
            .unwrap_or_default()
    )
}

/// `doctor`: a ✓/✗ table with the fix for each ✗, and `!` with the fix for a warning.
pub(super) struct Doctor {
    pub(super) checks: Vec<Check>,
}

impl Doctor {
    fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

impl Render for Doctor {
    fn text(&self, o: &mut Output<'_>) -> io::Result<()> {
        let checks = &self.checks;
        let width = checks
            .iter()
            .map(|c| c.subject.chars().count())
            .max()
            .unwrap_or(0);
        for c in checks {
            writeln!(
                o.out,
                "{} {:<width$}  {:<18} {}",
                match (c.ok, c.warning) {
                    (true, false) => "✓",
                    (true, true) => "!",
                    (false, _) => "✗",
                },
                c.subject,
                c.check,
                c.detail
            )?;
            if let Some(fix) = c.fix.as_ref().filter(|_| !c.ok || c.warning) {
                writeln!(o.out, "  {:<width$}  {:<18} fix: {fix}", "", "")?;
            }
        }
        let failed = checks.iter().filter(|c| !c.ok).count();
        let warned = match checks.iter().filter(|c| c.warning).count() {
            0 => String::new(),
            1 => ", 1 warning".into(),
            n => format!(", {n} warnings"),
        };
        writeln!(
            o.out,
            "{} checks, {failed} failed{warned}{}",
            checks.len(),
            if self.healthy() { ": ready to run" } else { "" }
        )
    }

    fn exit(&self) -> Exit {
        if self.healthy() {
            Exit::Success
        } else {
            Exit::Failure
        }
    }
}

impl Json for Doctor {
    fn json(&self) -> impl Serialize + '_ {
        #[derive(Serialize)]
        struct Doctor<'a> {
            healthy: bool,
            checks: &'a [Check],
        }
        Doctor {
            healthy: self.healthy(),
            checks: &self.checks,
        }
    }
}

/// `generate`: what was written, or with `--check` what is stale; the images to build.
pub(super) struct Generated {
    pub(super) dir: PathBuf,
    /// `--check`: nothing was written.
    pub(super) check: bool,
    pub(super) drift: Drift,
    /// The images the artifacts run, to build and push.
    pub(super) images: Vec<String>,
}

impl Generated {
    fn up_to_date(&self) -> bool {
        self.drift.stale.is_empty() && self.drift.extra.is_empty()
    }
}

impl Render for Generated {
    fn text(&self, o: &mut Output<'_>) -> io::Result<()> {
        let (dir, drift) = (self.dir.display(), &self.drift);
        if self.check {
            for path in &drift.stale {
                writeln!(o.err, "stale: {path}")?;
            }
            for path in &drift.extra {
                writeln!(o.err, "not generated by the model: {path}")?;
            }
            if !self.up_to_date() {
                return writeln!(
                    o.out,
                    "{dir} differs from what the model generates; run generate --out {dir}"
                );
            }
            writeln!(o.out, "{dir} is up to date ({} files)", drift.files)?;
        } else {
            for path in &drift.stale {
                writeln!(o.out, "wrote {path}")?;
            }
            for path in &drift.extra {
                writeln!(o.err, "left as it is (not generated by the model): {path}")?;
            }
            writeln!(
                o.out,
                "{} files in {dir}, {} changed",
                drift.files,
                drift.stale.len()
            )?;
        }
        write_images(&self.images, o.out)
    }

    fn exit(&self) -> Exit {
        if self.check && !self.up_to_date() {
            Exit::Failure
        } else {
            Exit::Success
        }
    }
}

impl Json for Generated {
    fn json(&self) -> impl Serialize + '_ {
        #[derive(Serialize)]
        struct Generated<'a> {
            dir: std::borrow::Cow<'a, str>,
            written: bool,
            #[serde(flatten)]
            drift: &'a Drift,
            /// The images the artifacts run, to build and push.
            images: &'a [String],
        }
        Generated {
            dir: self.dir.to_string_lossy(),
            written: !self.check,
            drift: &self.drift,
            images: &self.images,
        }
    }
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

/// `dags`: how many DAG files were written where.
pub(super) struct Dags {
    pub(super) files: usize,
    pub(super) dir: PathBuf,
}

impl Render for Dags {
    fn text(&self, o: &mut Output<'_>) -> io::Result<()> {
        writeln!(o.out, "{} DAG files in {}", self.files, self.dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{BatchState, BatchStatus};

    fn record(key: &str, batch_id: i32) -> BatchRecord {
        BatchRecord {
            key: key.into(),
            batch_id,
            batch_start_time: chrono::DateTime::UNIX_EPOCH,
            batch_end_time: None,
            batch_status: BatchStatus::Committed,
            records_inserted: None,
            records_updated: None,
            records_deleted: None,
            total_records: None,
            state: BatchState::started(BTreeMap::new()),
        }
    }

    fn slot(stream: &str) -> SlotLag {
        SlotLag {
            stream: stream.into(),
            slot: format!("{}_slot", stream.to_lowercase()),
            exists: true,
            lag_bytes: Some(2048),
            lag_seconds: Some(42.0),
            retained_bytes: Some(3 * 1024 * 1024),
            wal_status: Some("reserved".into()),
            safe_wal_size: None,
            error: None,
            confirmed: None,
        }
    }

    #[test]
    fn status_shows_each_slots_lag() {
        let status = Status {
            platform: "YellowLive".into(),
            batches: vec![record("Repl", 1), record("Repl", 2), record("Snap", 1)],
            slots: vec![slot("Repl")],
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut o = Output {
            out: &mut out,
            err: &mut err,
        };
        status.text(&mut o).expect("written");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            text.ends_with(
                "replication slot repl_slot of Repl: 2.0 kB behind (42 s since its changes were current), 3.0 MB of log kept, wal_status reserved\n"
            ),
            "{text}"
        );
        // JSON: the array of batches, the newest batch of the stream with its slot.
        let json = serde_json::to_value(status.json()).expect("json");
        let batches = json.as_array().expect("an array");
        assert_eq!(batches.len(), 3);
        assert!(batches[0].get("replication_slot").is_none());
        assert_eq!(batches[1]["replication_slot"]["lag_bytes"], 2048);
        assert_eq!(batches[1]["batch_id"], 2);
        assert!(batches[2].get("replication_slot").is_none());
        let missing = SlotLag {
            exists: false,
            ..slot("Repl")
        };
        assert!(
            slot_line(&missing)
                .ends_with(": missing (infra, or the stream's next batch, creates it)")
        );
        let unread = SlotLag {
            error: Some("connection refused".into()),
            ..slot("Repl")
        };
        assert!(slot_line(&unread).ends_with(": not read (connection refused)"));
    }
}
