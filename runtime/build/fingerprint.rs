//! The build fingerprint: what the image tag needs, besides the model, to change whenever
//! the binary does. Used by the build script, and by a test that pins its behaviour.
//!
//! It hashes the `Cargo.lock` of the build (every dependency's exact version, and the
//! commit of a git dependency) and, when the DataSurface crates are a checkout (a path
//! dependency, as in this repository), their sources: a runtime fix under the same version
//! then changes the tag too. Crates from a registry are named exactly by the lock file.
//! Paths are hashed relative to the crates, so the operator's machine and the image build
//! (the same files in another directory) agree. Nothing else enters — not the features,
//! the profile or the target directory — because the image is built without the
//! development features the operator's binary has, and both must print the same tag.

use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

/// The DataSurface crates whose sources go into the image's binary, relative to the
/// runtime crate, with the parts of each that hold them. (`deploy` is not in the image.)
const SOURCES: [(&str, &[&str]); 6] = [
    ("../model", &["Cargo.toml", "src"]),
    ("../macros", &["Cargo.toml", "src"]),
    ("../codegen", &["Cargo.toml", "src", "templates"]),
    ("../engine", &["Cargo.toml", "src"]),
    ("../dev", &["Cargo.toml", "src"]),
    (".", &["Cargo.toml", "build.rs", "build", "src"]),
];

/// The fingerprint of the runtime crate at `manifest` (version `version`) built into
/// `out`: 16 hex digits, with the files and folders whose change changes it, and whether
/// a lock file was found.
pub(crate) struct Fingerprint {
    pub(crate) hex: String,
    pub(crate) inputs: Vec<PathBuf>,
    pub(crate) lock: Option<PathBuf>,
}

pub(crate) fn fingerprint(manifest: &Path, out: &Path, version: &str) -> Fingerprint {
    let mut hash = Sha256::new();
    hash.update(version);
    let mut inputs = Vec::new();
    // A checkout of the DataSurface crates: the codegen crate sits next to this one.
    let checkout = fs::read_to_string(manifest.join("../codegen/Cargo.toml"))
        .is_ok_and(|t| t.contains("name = \"datasurface-codegen\""));
    let crates: &[(&str, &[&str])] = if checkout { &SOURCES } else { &SOURCES[5..] };
    for (dir, parts) in crates {
        for part in *parts {
            let path = manifest.join(dir).join(part);
            let mut files = Vec::new();
            collect(&path, &mut files);
            files.sort();
            for file in files {
                let relative = file.strip_prefix(manifest).unwrap_or(&file);
                hash.update(relative.to_string_lossy().as_bytes());
                hash.update([0]);
                hash.update(fs::read(&file).unwrap_or_default());
                hash.update([0]);
            }
            inputs.push(path);
        }
    }
    // The lock file of the build: above the target directory, or above this crate when it
    // is a member of the workspace being built.
    let lock = lock_file(out).or_else(|| lock_file(manifest));
    if let Some(lock) = &lock {
        hash.update(fs::read(lock).unwrap_or_default());
        inputs.push(lock.clone());
    }
    let digest = hash.finalize();
    Fingerprint {
        hex: digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
        inputs,
        lock,
    }
}

/// Every file under `path` (or `path` itself).
fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    match fs::read_dir(path) {
        Ok(entries) => {
            for entry in entries.flatten() {
                collect(&entry.path(), files);
            }
        }
        Err(_) if path.is_file() => files.push(path.to_owned()),
        Err(_) => {}
    }
}

/// The nearest `Cargo.lock` in `start` or a folder above it.
fn lock_file(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join("Cargo.lock"))
        .find(|lock| lock.is_file())
}
