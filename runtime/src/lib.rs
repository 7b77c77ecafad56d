//! DataSurface Yellow: the one crate a model repo depends on.
//!
//! A model repo declares its ecosystem with the types re-exported here and
//! `#[derive(Dataset)]`, and its `main.rs` hands the model to [`main`]: that is the
//! runtime binary, which validates the model, generates its artifacts ([`generate`]), and
//! runs the [`engine`] — batches, resets, status, and the platforms' tables and views —
//! against the databases the model names ([`pg`]). With the `dev` feature it also carries
//! the development tools ([`dev`]): a throwaway PostgreSQL, the data change simulator and
//! `demo`; with `deploy`, `deploy` and `undeploy`. This crate is the command line over
//! those crates, and what a model repo's build and tests call ([`build`], `testing`).
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

pub mod build;
pub mod cli;
pub mod generate;
pub mod scaffold;
#[cfg(feature = "testing")]
pub mod testing;

pub use cli::{App, main, run};
pub use datasurface_codegen as codegen;
pub use datasurface_console as console;
#[cfg(feature = "dev")]
pub use datasurface_dev as dev;
pub use datasurface_engine as engine;
pub use datasurface_engine::pg;
pub use datasurface_macros::Dataset;
pub use datasurface_model::*;

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
