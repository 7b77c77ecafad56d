//! The DataSurface ecosystem model.
//!
//! A data-platform team declares its ecosystem in Rust: datasets (usually structs with
//! `#[derive(Dataset)]`), the datastores that capture them, the workspaces that consume
//! them, the Yellow platforms that move the data, and which dataset group each platform
//! serves. This crate holds those types, the builder API they are written with, the
//! naming rules every physical name follows, and [`validation`](Ecosystem::validate),
//! which reports every problem at once with its path in the model.
//!
//! ```
//! use datasurface_model::*;
//!
//! let people = DatasetSchema::new("people")
//!     .column(Column::new("id", DataType::Integer))
//!     .column(Column::nullable("name", DataType::Varchar(100)))
//!     .key(["id"])
//!     .classified(Classification::Personal);
//! let source = PostgresDatabase::new("HrDB", "hr").at("hr-db.internal", 5432);
//! let store = Datastore::new("HR")
//!     .capture(SqlSnapshot::new(source, Credential::user_password("hr_reader"), "0 * * * *"))
//!     .dataset_schema(people);
//! let analytics = Workspace::new("Analytics")
//!     .dsg(DatasetGroup::new("People", Retention::LiveOnly).sink_named("HR", "people"));
//! let merge = PostgresDatabase::new("MergeDB", "datasurface_merge");
//! let provider = YellowServiceProvider::new("Prod", "data-platform", merge, Credential::user_password("merge"));
//! let live = YellowPlatform::live("YellowLive", &provider);
//!
//! let eco = Ecosystem::new("Corp")
//!     .zone(GovernanceZone::new("EU").team(Team::new("hr").datastore(store).workspace(analytics)))
//!     .provider(provider)
//!     .platform(live)
//!     .assign(Assignment::new("Analytics", "People", "YellowLive"))
//!     .validate()
//!     .expect("a valid model");
//! assert_eq!(eco.model().ingested_datasets("YellowLive").len(), 1);
//! ```

mod cron;
mod ecosystem;
mod latency;
pub mod naming;
mod platform;
mod resolve;
mod resources;
mod schema;
mod store;
mod types;
mod validate;
mod value;
mod workspace;

pub use cron::{check_cron, longest_gap};
pub use ecosystem::{Ecosystem, GovernanceZone, Team};
pub use latency::{Budgets, DatasetKey, format_duration};
pub use platform::{
    Assignment, AssignmentStatus, PlatformMode, ProductionStatus, YellowPlatform,
    YellowServiceProvider,
};
pub use resolve::{LookupError, Platform, Store, Stream, StreamKey, ValidEcosystem};
pub use resources::{Resources, check_quantity};
pub use schema::{Classification, Column, Dataset, DatasetSchema};
pub use store::{
    Capture, Consistency, Credential, CredentialKind, DEFAULT_MAX_DELETE_PERCENT, Datastore,
    LogicalReplication, PostgresDatabase, SqlSnapshot,
};
pub use types::{DataType, MAX_CHAR_LENGTH, MAX_NUMERIC_PRECISION};
pub use validate::{Diagnostic, ModelPath, Report, Severity, suggest};
pub use value::{ColumnValue, Interval, RowError, Value, ValueError};
pub use workspace::{DatasetGroup, Retention, Sink, Workspace};

// The crates of the field types a dataset uses, so a model repo depends on one crate.
pub use chrono;
pub use rust_decimal;
pub use serde_json;
