//! What a handler needs, made when it asks: the validated model, a runtime for the
//! database's futures, and the engine over the process's environment.

use super::render::Failure;
use crate::engine::Engine;
use crate::pg::Environment;
use datasurface_model::{Ecosystem, ValidEcosystem};
use std::io;

/// The validated model, or why it is not valid.
pub(super) fn model(ecosystem: Ecosystem) -> Result<ValidEcosystem, Failure> {
    ecosystem.validate().map_err(Failure::Invalid)
}

/// A runtime on this thread, for one command's futures.
pub(super) fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Runs `job` with the engine of `eco` over the process's environment; what it returns.
pub(super) fn on_engine<T>(
    eco: &ValidEcosystem,
    job: impl AsyncFnOnce(&Engine<'_>) -> T,
) -> io::Result<T> {
    let env = Environment::from_process();
    let engine = Engine::new(eco, &env);
    Ok(runtime()?.block_on(job(&engine)))
}
