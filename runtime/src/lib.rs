//! DataSurface Yellow: the one crate a model repo depends on.
//!
//! A model repo declares its ecosystem with the types re-exported here and
//! `#[derive(Dataset)]`, and its `main.rs` hands the model to [`main`]: that is the
//! runtime binary, which validates the model, generates its artifacts ([`generate`]),
//! creates the platforms' tables and views ([`infra`]), runs batches ([`batch`]), simulates
//! source changes ([`simulate`]) and demonstrates it all on a throwaway PostgreSQL
//! ([`demo`], [`pg::cluster`]).
//!
//! ```no_run
//! use datasurface::*;
//!
//! fn ecosystem() -> Ecosystem {
//!     Ecosystem::new("Corp")
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     datasurface::main(ecosystem())
//! }
//! ```

pub mod batch;
pub mod cli;
pub mod demo;
pub mod generate;
pub mod infra;
pub mod pg;
pub mod simulate;

pub use cli::{main, run};
pub use datasurface_codegen as codegen;
pub use datasurface_macros::Dataset;
pub use datasurface_model::*;

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
