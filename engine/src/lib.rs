//! The DataSurface batch engine: `run`, `reset-batch`, `status`, `infra` and `doctor` on a
//! platform's merge database and its sources, from a validated model, with the PostgreSQL
//! layer they run on ([`pg`]). It prints nothing and parses no command line: it returns typed
//! results and errors, logs `tracing` events and reports rows to the [`Progress`] it is given;
//! the `datasurface` crate renders them.
//!
//! ```text
//!   (none / committed / reset) ──start──▶ started ──ingest──▶ ingested ──merge──▶ committed
//!                                           ▲                     │
//!                                           ├── mass delete, duplicate keys, data errors
//!                                           └── reset-batch
//!   committed ──reset-batch --to-batch N──▶ reset (every batch after N, forensic only)
//! ```
//!
//! Each arrow is one transaction of the merge database that changes the data and the
//! batch's status together, so a crash anywhere leaves the last committed state and the
//! next `run` carries on from it. One runner per stream is enforced by a session advisory
//! lock (`session.rs`). Every statement comes from `datasurface_codegen::sql`, so what runs is
//! what the generated SQL files show.
//!
//! A newcomer finds each command of [`Engine`] in its module: [`run`](Engine::run) in `run.rs` (which
//! takes `ingest.rs` and then `merge.rs`), [`reset`](Engine::reset) in `reset.rs`,
//! [`rewind`](Engine::rewind) in `rewind.rs`, [`status`](Engine::status) in `status.rs`,
//! [`infra`](Engine::infra) in `infra.rs`; the streaming diff in `diff.rs` (over `copy.rs`,
//! `order.rs` and the row hashes of `hash.rs`), the batch's typed state in `state.rs`.

pub mod pg;
#[doc(hidden)]
pub mod replication;

mod batch;
mod copy;
mod diff;
mod doctor;
mod error;
mod hash;
mod infra;
mod ingest;
mod merge;
mod openlineage;
mod order;
mod progress;
mod replay;
mod reset;
mod rewind;
mod run;
mod session;
mod source;
mod state;
mod status;

pub use doctor::Check;
pub use error::Error;
pub use infra::Plan;
pub use openlineage::{
    API_KEY_VAR as OPENLINEAGE_API_KEY, PRODUCER as OPENLINEAGE_PRODUCER,
    ROOT_CERT_VAR as OPENLINEAGE_ROOT_CERT, SCHEMA_URL as OPENLINEAGE_SCHEMA_URL,
    URL_VAR as OPENLINEAGE_URL,
};
pub use progress::{Phase, Progress};
pub use rewind::Rewind;
pub use run::{Outcome, RunOptions, Seconds};
pub use session::Engine;
pub use source::{SlotLag, SourceAction, SourceChange, readable_bytes};
pub use state::{
    BatchState, BatchStatus, CaptureState, DatasetState, Metrics, Read, Staged, UnknownStatus,
};
pub use status::BatchRecord;
