//! `/metrics`: the batch tables as Prometheus' text format, with each dataset's freshness
//! budget from the model, so alert rules compare what happened with what consumers need.
//!
//! Names and meanings are a contract with the generated alert rules and dashboard
//! (`datasurface_codegen::observe` reads [`names`]): change one, change both.

use crate::catalog::Catalog;
use crate::health::{Health, dataset_counts, duration};
use chrono::{DateTime, Utc};
use std::fmt::Write;

/// The metric names, shared with the generated rules and dashboard.
pub use datasurface_codegen::observe::names;

/// The exposition text of `health` at `now`.
pub fn render(catalog: &Catalog, health: &Health, now: DateTime<Utc>) -> String {
    let mut out = Text::default();
    let eco = catalog.eco();
    let budgets = eco.budgets();

    out.help(
        names::UP,
        "gauge",
        "1 when the platform's merge database was read, 0 when it could not be",
    );
    out.help(
        names::READ_TIMESTAMP,
        "gauge",
        "When the console last read the batch tables (Unix seconds)",
    );
    for platform in eco.platforms() {
        let name = &platform.model.name;
        let ok = matches!(health.platforms.get(name), Some(Ok(_)));
        out.sample(names::UP, &[("platform", name)], if ok { 1.0 } else { 0.0 });
    }
    if let Some(at) = health.read_at {
        out.sample(names::READ_TIMESTAMP, &[], seconds(at));
    }

    out.help(
        names::BUDGET,
        "gauge",
        "How old the dataset may be before its consumers count it late (seconds)",
    );
    out.help(
        names::LAST_SUCCESS,
        "gauge",
        "End of the dataset's last committed batch (Unix seconds)",
    );
    out.help(
        names::DATASET_RECORDS,
        "gauge",
        "The dataset's counts in its last committed batch, by kind",
    );
    out.help(
        names::CAPTURE_GAP,
        "gauge",
        "Longest wait between two captures of the stream's store (seconds)",
    );
    out.help(
        names::STREAM_STATUS,
        "gauge",
        "1 for the status of the stream's latest batch",
    );
    out.help(
        names::FAILING,
        "gauge",
        "1 when the stream's open batch failed and waits for a rerun or a reset",
    );
    out.help(
        names::LAST_REPORT,
        "gauge",
        "Start of the stream's latest batch (Unix seconds)",
    );
    out.help(
        names::DURATION,
        "gauge",
        "Duration of the stream's last committed batch (seconds)",
    );
    out.help(
        names::PHASE_DURATION,
        "gauge",
        "Duration of each phase of the stream's last committed batch: reading the source, merging (seconds)",
    );
    out.help(
        names::USUAL_DURATION,
        "gauge",
        "Median duration of the stream's recent committed batches (seconds)",
    );
    out.help(
        names::OPEN_AGE,
        "gauge",
        "How long the stream's open batch has been open (seconds); 0 when none is",
    );
    out.help(
        names::STREAM_RECORDS,
        "gauge",
        "The stream's counts in its last committed batch, by kind",
    );
    out.help(
        names::PREVIOUS_TOTAL,
        "gauge",
        "Rows in the snapshot of the stream's committed batch before the last",
    );
    for platform in eco.platforms() {
        let pname = platform.model.name.as_str();
        for stream in catalog.streams(pname) {
            let gap = budgets.capture_gap(&stream.store).as_secs_f64();
            let labels = [("platform", pname), ("stream", stream.key.as_str())];
            out.sample(names::CAPTURE_GAP, &labels, gap);
            for ds in &stream.datasets {
                let budget = budgets.dataset(&stream.store, ds).as_secs_f64();
                let dl = [
                    ("platform", pname),
                    ("stream", stream.key.as_str()),
                    ("store", stream.store.as_str()),
                    ("dataset", ds.as_str()),
                ];
                out.sample(names::BUDGET, &dl, budget);
            }
            let Ok(view) = health.stream(stream) else {
                continue;
            };
            if let Some(latest) = view.latest() {
                let status = latest.batch_status.as_str();
                out.sample(
                    names::STREAM_STATUS,
                    &[labels[0], labels[1], ("status", status)],
                    1.0,
                );
                out.sample(
                    names::LAST_REPORT,
                    &labels,
                    seconds(latest.batch_start_time),
                );
            }
            out.sample(
                names::FAILING,
                &labels,
                if view.failure().is_some() { 1.0 } else { 0.0 },
            );
            let open_age = view
                .open()
                .map(|b| (now - b.batch_start_time).num_milliseconds().max(0) as f64 / 1000.0)
                .unwrap_or(0.0);
            out.sample(names::OPEN_AGE, &labels, open_age);
            if let Some(usual) = view.usual_duration() {
                out.sample(names::USUAL_DURATION, &labels, usual);
            }
            if let Some(prev) = view.previous_committed().and_then(|b| b.total_records) {
                out.sample(names::PREVIOUS_TOTAL, &labels, prev as f64);
            }
            let Some(last) = view.last_committed() else {
                continue;
            };
            if let Some(d) = duration(last) {
                out.sample(names::DURATION, &labels, d);
            }
            for (phase, seconds) in last.state.timings.phases() {
                out.sample(
                    names::PHASE_DURATION,
                    &[labels[0], labels[1], ("phase", phase)],
                    seconds,
                );
            }
            let counts = [
                last.records_inserted,
                last.records_updated,
                last.records_deleted,
                last.total_records,
            ];
            for (kind, n) in KINDS.iter().zip(counts) {
                if let Some(n) = n {
                    out.sample(
                        names::STREAM_RECORDS,
                        &[labels[0], labels[1], ("kind", kind)],
                        n as f64,
                    );
                }
            }
            for ds in &stream.datasets {
                let dl = [
                    ("platform", pname),
                    ("stream", stream.key.as_str()),
                    ("store", stream.store.as_str()),
                    ("dataset", ds.as_str()),
                ];
                if let Some(end) = last.batch_end_time {
                    out.sample(names::LAST_SUCCESS, &dl, seconds(end));
                }
                if let Some(counts) = dataset_counts(last, ds) {
                    for (kind, n) in KINDS.iter().zip(counts) {
                        out.sample(
                            names::DATASET_RECORDS,
                            &[dl[0], dl[1], dl[2], dl[3], ("kind", kind)],
                            n as f64,
                        );
                    }
                }
            }
        }
    }
    out.finish()
}

const KINDS: [&str; 4] = ["inserted", "updated", "deleted", "total"];

fn seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// The exposition format: each metric's samples grouped under its HELP and TYPE, as the
/// format requires, in the order the metrics were declared.
#[derive(Default)]
struct Text {
    families: Vec<(&'static str, String)>,
}

impl Text {
    fn help(&mut self, name: &'static str, kind: &str, help: &str) {
        self.families.push((
            name,
            format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"),
        ));
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let Some((_, text)) = self.families.iter_mut().find(|(n, _)| *n == name) else {
            debug_assert!(false, "metric {name} has no HELP");
            return;
        };
        text.push_str(name);
        if !labels.is_empty() {
            text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                let _ = write!(text, "{k}=\"{}\"", escape_label(v));
            }
            text.push('}');
        }
        let _ = writeln!(text, " {value}");
    }

    fn finish(self) -> String {
        self.families.into_iter().map(|(_, text)| text).collect()
    }
}

/// A label value as the format wants it: backslash, double quote and newline escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
