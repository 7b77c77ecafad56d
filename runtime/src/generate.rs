//! `generate`: writing the artifacts to a directory, or checking that it is up to date; and
//! the image tag they name. The artifacts are compared and written as they are made, so a
//! model of any size needs the memory of one artifact at a time, not of all.

use datasurface_codegen::{Context, IMAGE_LOCK, ImageLock, generate_each};
use datasurface_model::ValidEcosystem;
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

/// How a directory differs from what the model generates.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    /// How many files the model generates.
    pub files: usize,
    /// Generated files whose contents differ, or that are missing (sorted).
    pub stale: Vec<String>,
    /// Files in the directory that the model does not generate (sorted).
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
        lock: None,
    }
}

/// [`context`] with the image lock of the model repo in the current directory
/// ([`IMAGE_LOCK`]), if it has one: then the artifacts name the image by the digest `image`
/// built, when it was built for the current tag.
pub fn locked_context(binary: &str) -> Result<Context, LockError> {
    Ok(Context {
        lock: read_lock(Path::new(IMAGE_LOCK))?,
        ..context(binary)
    })
}

/// An image lock that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message} (`image` writes it; delete it to name the image by its tag)")]
pub struct LockError {
    path: PathBuf,
    message: String,
}

/// The image lock at `path`; `None` when there is none.
pub fn read_lock(path: &Path) -> Result<Option<ImageLock>, LockError> {
    let fail = |message: String| LockError {
        path: path.to_owned(),
        message,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| fail(format!("not an image lock: {e}"))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(fail(e.to_string())),
    }
}

/// The tag of the image that holds this binary with `eco`: it changes whenever the model,
/// the runtime's code or a dependency does.
pub fn image_tag(eco: &ValidEcosystem) -> String {
    datasurface_codegen::image_tag(eco, &context(""))
}

/// Compares `dir` with the artifacts of `eco` in `context` and, when
/// `write`, writes the stale ones (creating folders) and leaves other files alone; returns
/// how `dir` differed.
pub fn sync(dir: &Path, eco: &ValidEcosystem, context: &Context, write: bool) -> io::Result<Drift> {
    let mut drift = Drift::default();
    let mut generated = HashSet::new();
    let mut failed = None;
    // Folders this run made or found: asking the file system again for each of a hundred
    // thousand files in one folder costs more than writing them.
    let mut folders = HashSet::new();
    generate_each(eco, context, &mut |artifact| {
        if failed.is_some() {
            return;
        }
        let path = dir.join(&artifact.path);
        let result = (|| {
            let current = match std::fs::read(&path) {
                Ok(found) => found == artifact.contents.as_bytes(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                Err(e) => return Err(e),
            };
            if !current {
                if write {
                    if let Some(parent) = path.parent()
                        && !folders.contains(parent)
                    {
                        std::fs::create_dir_all(parent)?;
                        folders.insert(parent.to_owned());
                    }
                    std::fs::write(&path, &artifact.contents)?;
                }
                drift.stale.push(artifact.path.clone());
            }
            Ok(())
        })();
        if let Err(e) = result {
            failed = Some(e);
        }
        generated.insert(artifact.path);
    });
    if let Some(e) = failed {
        return Err(e);
    }
    drift.files = generated.len();
    drift.stale.sort();
    for file in files(dir)? {
        let relative = file
            .strip_prefix(dir)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if !generated.contains(&relative) {
            drift.extra.push(relative);
        }
    }
    drift.extra.sort();
    Ok(drift)
}

/// Every file under `dir`, at any depth (none when `dir` does not exist).
pub fn files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        // The entry's type as the folder listing gave it: no call to the file system per file.
        if entry.file_type()?.is_dir() {
            out.extend(files(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}
