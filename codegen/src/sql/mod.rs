//! SQL for PostgreSQL 15: the platform's tables, the source snapshot, the live and forensic
//! merges, and the batch bookkeeping.
//!
//! Every identifier passes through [`naming::quote_ident`](datasurface_model::naming::quote_ident);
//! values are bind parameters, declared with their types beside the statement that takes
//! them ([`typed`]): a statement's `$n` and its `SELECT` list come from those types. Each
//! statement starts with a comment saying what it does.

pub mod batch;
pub mod catalog;
mod dataset;
pub mod evolve;
mod forensic;
mod ingest;
mod live;
mod names;
pub mod replay;
pub mod replication;
pub mod source;
mod statement;
mod tables;
pub mod typed;
mod views;

pub use batch::{BatchSql, BatchStatus, UnknownStatus, lock_id};
pub use dataset::DatasetSql;
pub use ingest::{SESSION_SETTINGS, SORT_MEMORY_BYTES, SnapshotSql, SourceOrder};
pub use names::{
    ALL_HASH, BATCH_ID, BATCH_IN, BATCH_OUT, CURRENT, KEY_HASH, OP, Op, SourceTable, ThisBatch,
};
pub use statement::{Closed, Counts, Ddl, MergeStep, PlatformColumn, Statement};
pub use tables::{BulkLoad, Layout};
pub use views::{Version, View, longest_history, views};
