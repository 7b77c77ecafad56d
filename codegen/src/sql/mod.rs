//! SQL for PostgreSQL 15: the platform's tables, the source snapshot, the live and forensic
//! merges, and the batch bookkeeping.
//!
//! Every identifier passes through [`naming::quote_ident`](datasurface_model::naming::quote_ident);
//! values are bind parameters (`$1`, …). Each statement starts with a comment saying what it
//! does.

mod batch;
pub mod catalog;
mod dataset;
pub mod evolve;
mod forensic;
mod ingest;
mod live;
mod names;
pub mod source;
mod statement;
mod tables;
mod views;

pub use batch::{BatchSql, lock_id};
pub use dataset::DatasetSql;
pub use ingest::{SESSION_SETTINGS, SnapshotSql};
pub use names::{ALL_HASH, BATCH_ID, BATCH_IN, BATCH_OUT, CURRENT, KEY_HASH, OP, SourceTable};
pub use statement::{Counts, Ddl, MergeStep, PlatformColumn, Statement};
pub use views::{View, longest_history, views};
