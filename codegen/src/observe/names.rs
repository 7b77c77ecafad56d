//! The names of the metrics the console (`serve`) exports from the batch tables: the one
//! spelling shared by the exporter, the alert rules and the dashboard.

/// 1 when the platform's merge database was read (`platform`).
pub const UP: &str = "datasurface_merge_database_up";
/// When the console last read the batch tables.
pub const READ_TIMESTAMP: &str = "datasurface_console_read_timestamp_seconds";
/// A dataset's freshness budget (`platform`, `stream`, `store`, `dataset`).
pub const BUDGET: &str = "datasurface_dataset_freshness_budget_seconds";
/// End of a dataset's last committed batch.
pub const LAST_SUCCESS: &str = "datasurface_dataset_last_success_timestamp_seconds";
/// A dataset's counts in its last committed batch (`kind`).
pub const DATASET_RECORDS: &str = "datasurface_dataset_last_batch_records";
/// Longest wait between two captures of a stream's store (`platform`, `stream`).
pub const CAPTURE_GAP: &str = "datasurface_stream_capture_gap_seconds";
/// 1 for the status of the stream's latest batch (`status`).
pub const STREAM_STATUS: &str = "datasurface_stream_status";
/// 1 when the stream's open batch failed.
pub const FAILING: &str = "datasurface_stream_failing";
/// Start of the stream's latest batch.
pub const LAST_REPORT: &str = "datasurface_stream_last_batch_start_timestamp_seconds";
/// Duration of the stream's last committed batch.
pub const DURATION: &str = "datasurface_stream_last_batch_duration_seconds";
/// How long each phase of the stream's last committed batch took (label `phase`: `read`,
/// `merge`).
pub const PHASE_DURATION: &str = "datasurface_stream_last_batch_phase_seconds";
/// Median duration of the stream's recent committed batches.
pub const USUAL_DURATION: &str = "datasurface_stream_usual_batch_duration_seconds";
/// How long the stream's open batch has been open.
pub const OPEN_AGE: &str = "datasurface_stream_open_batch_age_seconds";
/// The stream's counts in its last committed batch (`kind`).
pub const STREAM_RECORDS: &str = "datasurface_stream_last_batch_records";
/// Rows in the snapshot of the committed batch before the last.
pub const PREVIOUS_TOTAL: &str = "datasurface_stream_previous_batch_total_records";
