//! What commands report for machines: JSON (a run's result, like dbt's `run_results.json`;
//! any error as an object with its code) and the Prometheus text format of a batch's
//! metrics.

use crate::engine::{Error, Metrics, Outcome, SlotLag};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// An error, for machines.
#[derive(Debug, Serialize)]
pub(super) struct ErrorReport {
    pub(super) code: &'static str,
    pub(super) message: String,
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        ErrorReport {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Serialize)]
pub(super) struct Failed {
    pub(super) error: ErrorReport,
}

/// The result of one `run`.
#[derive(Debug, Serialize)]
pub(super) struct RunReport {
    pub(super) platform: String,
    pub(super) stream: String,
    /// `committed`, `failed` or `busy`.
    pub(super) status: &'static str,
    /// `DATASURFACE_RESULT_CODE`: 0 committed, -1 otherwise.
    pub(super) result_code: i32,
    pub(super) batch: Option<i32>,
    pub(super) metrics: Option<Metrics>,
    pub(super) datasets: BTreeMap<String, Metrics>,
    pub(super) timings: Option<Timings>,
    /// Each dataset's schema fingerprint.
    pub(super) schema: BTreeMap<String, String>,
    pub(super) error: Option<ErrorReport>,
    /// When the run ended (RFC 3339, UTC).
    pub(super) finished_at: String,
    /// A logically replicated stream's slot after the batch: how far behind it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) replication_slot: Option<SlotLag>,
}

/// Where a run's time went, in seconds.
#[derive(Debug, Serialize)]
pub(super) struct Timings {
    pub(super) elapsed: f64,
    pub(super) snapshot: f64,
    pub(super) merge: f64,
}

impl RunReport {
    pub(super) fn new(platform: &str, stream: &str, result: &Result<Outcome, Error>) -> Self {
        let finished_at = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        match result {
            Ok(o) => RunReport {
                platform: platform.to_owned(),
                stream: stream.to_owned(),
                status: "committed",
                result_code: 0,
                batch: Some(o.batch),
                metrics: Some(o.metrics),
                datasets: o.per_dataset.clone(),
                timings: Some(Timings {
                    elapsed: o.elapsed.as_secs_f64(),
                    snapshot: o.ingest.as_secs_f64(),
                    merge: o.merge.as_secs_f64(),
                }),
                schema: o.schema.clone(),
                error: None,
                finished_at,
                replication_slot: o.slot.clone(),
            },
            Err(e) => RunReport {
                platform: platform.to_owned(),
                stream: stream.to_owned(),
                status: if matches!(e, Error::Busy { .. }) {
                    "busy"
                } else {
                    "failed"
                },
                result_code: -1,
                batch: e.batch(),
                metrics: None,
                datasets: BTreeMap::new(),
                timings: None,
                schema: BTreeMap::new(),
                error: Some(e.into()),
                finished_at,
                replication_slot: None,
            },
        }
    }

    /// The metrics in Prometheus' text format.
    pub(super) fn prometheus(&self) -> String {
        let labels = |extra: &str| {
            format!(
                "platform=\"{}\",stream=\"{}\"{extra}",
                escape(&self.platform),
                escape(&self.stream)
            )
        };
        let mut text = String::new();
        let mut gauge = |name: &str, help: &str, samples: Vec<(String, f64)>| {
            text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
            for (labels, value) in samples {
                text.push_str(&format!("{name}{{{labels}}} {value}\n"));
            }
        };
        gauge(
            "datasurface_batch_success",
            "1 when the last run committed its batch, 0 when it failed or found the stream busy.",
            vec![(labels(""), f64::from(u8::from(self.result_code == 0)))],
        );
        if let Some(batch) = self.batch {
            gauge(
                "datasurface_batch_id",
                "The batch the last run worked on.",
                vec![(labels(""), f64::from(batch))],
            );
        }
        let records: Vec<(String, f64)> = self
            .datasets
            .iter()
            .flat_map(|(dataset, m)| {
                [
                    ("inserted", m.inserted),
                    ("updated", m.updated),
                    ("deleted", m.deleted),
                    ("total", m.total),
                ]
                .map(|(kind, n)| {
                    (
                        labels(&format!(",dataset=\"{}\",kind=\"{kind}\"", escape(dataset))),
                        n as f64,
                    )
                })
            })
            .collect();
        if !records.is_empty() {
            gauge(
                "datasurface_batch_records",
                "Keys inserted, updated and deleted by the last committed batch, and the rows of its snapshot.",
                records,
            );
        }
        if let Some(t) = &self.timings {
            gauge(
                "datasurface_batch_seconds",
                "Where the last committed batch's time went.",
                vec![
                    (labels(",phase=\"snapshot\""), t.snapshot),
                    (labels(",phase=\"merge\""), t.merge),
                    (labels(",phase=\"total\""), t.elapsed),
                ],
            );
        }
        if let Some(slot) = self.replication_slot.as_ref().filter(|s| s.exists) {
            let slot_labels = labels(&format!(",slot=\"{}\"", escape(&slot.slot)));
            let mut bytes = |name: &str, help: &str, value: Option<i64>| {
                if let Some(value) = value {
                    gauge(name, help, vec![(slot_labels.clone(), value as f64)]);
                }
            };
            bytes(
                "datasurface_replication_slot_lag_bytes",
                "Bytes of the source's log written since the last change the stream's replication slot consumed.",
                slot.lag_bytes,
            );
            bytes(
                "datasurface_replication_slot_retained_bytes",
                "Bytes of log the source keeps for the stream's replication slot.",
                slot.retained_bytes,
            );
            bytes(
                "datasurface_replication_slot_safe_wal_bytes",
                "Bytes that may still be written before the replication slot is in danger of losing the log it needs (only with max_slot_wal_keep_size set).",
                slot.safe_wal_size,
            );
            if let Some(seconds) = slot.lag_seconds {
                gauge(
                    "datasurface_replication_slot_lag_seconds",
                    "Seconds since the changes the stream's replication slot consumed were current (the start of the batch that moved it on).",
                    vec![(slot_labels.clone(), seconds)],
                );
            }
            if let Some(status) = &slot.wal_status {
                gauge(
                    "datasurface_replication_slot_wal_status",
                    "1 for the replication slot's wal_status (reserved, extended, unreserved, lost).",
                    vec![(
                        labels(&format!(
                            ",slot=\"{}\",wal_status=\"{}\"",
                            escape(&slot.slot),
                            escape(status)
                        )),
                        1.0,
                    )],
                );
            }
        }
        text
    }
}

/// A label value, escaped as the text format wants.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes `contents` to `path` whole: a reader never sees half a file.
pub(super) fn write_whole(path: &Path, contents: &str) -> io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, contents)?;
    std::fs::rename(&partial, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> SlotLag {
        SlotLag {
            stream: "Repl".into(),
            slot: "test_yellowlive_repl_slot".into(),
            exists: true,
            lag_bytes: Some(120),
            lag_seconds: Some(7.5),
            retained_bytes: Some(4096),
            wal_status: Some("reserved".into()),
            safe_wal_size: None,
            error: None,
            confirmed: None,
        }
    }

    fn report(slot: Option<SlotLag>) -> RunReport {
        RunReport {
            platform: "YellowLive".into(),
            stream: "Repl".into(),
            status: "committed",
            result_code: 0,
            batch: Some(2),
            metrics: None,
            datasets: BTreeMap::new(),
            timings: None,
            schema: BTreeMap::new(),
            error: None,
            finished_at: "2024-01-01T00:00:00.000Z".into(),
            replication_slot: slot,
        }
    }

    #[test]
    fn the_metrics_file_has_the_slots_lag() {
        let text = report(Some(slot())).prometheus();
        let labels = r#"platform="YellowLive",stream="Repl",slot="test_yellowlive_repl_slot""#;
        for line in [
            format!("datasurface_replication_slot_lag_bytes{{{labels}}} 120"),
            format!("datasurface_replication_slot_retained_bytes{{{labels}}} 4096"),
            format!("datasurface_replication_slot_lag_seconds{{{labels}}} 7.5"),
            format!(
                r#"datasurface_replication_slot_wal_status{{{labels},wal_status="reserved"}} 1"#
            ),
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        // Without a limit there is no safe size to show.
        assert!(!text.contains("safe_wal_bytes{"));
        // A store captured by snapshot has no slot: neither in the metrics nor the report.
        let plain = report(None);
        assert!(!plain.prometheus().contains("replication_slot"));
        let json = serde_json::to_value(&plain).expect("json");
        assert!(json.get("replication_slot").is_none());
        let json = serde_json::to_value(report(Some(slot()))).expect("json");
        assert_eq!(json["replication_slot"]["lag_bytes"], 120);
        assert_eq!(json["replication_slot"]["lag_seconds"], 7.5);
        assert_eq!(json["replication_slot"]["wal_status"], "reserved");
    }
}
