//! `generate`: writing the artifacts to a directory, or checking that it is up to date; and
//! the image tag they name.

use datasurface_codegen::{Artifact, Context, generate};
use datasurface_model::ValidEcosystem;
use std::io;
use std::path::{Path, PathBuf};

/// How a directory differs from what the model generates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// Generated files whose contents differ, or that are missing.
    pub stale: Vec<String>,
    /// Files in the directory that the model does not generate.
    pub extra: Vec<String>,
}

/// A fingerprint of this binary's code and dependencies (the DataSurface sources and the
/// build's `Cargo.lock`), computed when the runtime is built (`runtime/build.rs`).
pub const BUILD_FINGERPRINT: &str = env!("DATASURFACE_BUILD_FINGERPRINT");

/// What generation needs besides the model, for the binary called `binary`.
pub fn context(binary: &str) -> Context {
    Context {
        binary: binary.to_owned(),
        build: BUILD_FINGERPRINT.to_owned(),
    }
}

/// The tag of the image that holds this binary with `eco`: it changes whenever the model,
/// the runtime's code or a dependency does.
pub fn image_tag(eco: &ValidEcosystem) -> String {
    datasurface_codegen::image_tag(eco, &context(""))
}

/// The artifacts of `eco` for the binary called `binary`.
pub fn artifacts(eco: &ValidEcosystem, binary: &str) -> Vec<Artifact> {
    generate(eco, &context(binary))
}

/// Writes `artifacts` under `dir` (creating folders), leaving other files alone; returns
/// what changed before writing.
pub fn write(dir: &Path, artifacts: &[Artifact]) -> io::Result<Drift> {
    let drift = compare(dir, artifacts)?;
    for artifact in artifacts {
        let path = dir.join(&artifact.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if drift.stale.contains(&artifact.path) {
            std::fs::write(&path, &artifact.contents)?;
        }
    }
    Ok(drift)
}

/// How `dir` differs from `artifacts`.
pub fn compare(dir: &Path, artifacts: &[Artifact]) -> io::Result<Drift> {
    let mut drift = Drift::default();
    for artifact in artifacts {
        match std::fs::read_to_string(dir.join(&artifact.path)) {
            Ok(found) if found == artifact.contents => {}
            Ok(_) => drift.stale.push(artifact.path.clone()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                drift.stale.push(artifact.path.clone())
            }
            Err(e) => return Err(e),
        }
    }
    for file in files(dir)? {
        let relative = file
            .strip_prefix(dir)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if !artifacts.iter().any(|a| a.path == relative) {
            drift.extra.push(relative);
        }
    }
    drift.extra.sort();
    Ok(drift)
}

fn files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(files(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}
