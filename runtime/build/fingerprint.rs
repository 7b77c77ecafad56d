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
//!
//! A file that is there but cannot be read fails the build, naming it: hashed as empty it
//! would leave the tag unchanged when the file changes. What is not there is not an error:
//! a part of a crate its package does not have, a symbolic link pointing nowhere (an
//! editor's lock file), and the lock file itself, which a crate from a registry built into
//! a target directory outside any workspace has none of (the build script warns then).

use sha2::{Digest, Sha256};
use std::fs;
use std::io;
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
    let codegen = manifest.join("../codegen/Cargo.toml");
    let checkout = match fs::read_to_string(&codegen) {
        Ok(text) => text.contains("name = \"datasurface-codegen\""),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => unreadable(&codegen, &e),
    };
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
                hash.update(read(&file));
                hash.update([0]);
            }
            inputs.push(path);
        }
    }
    // The lock file of the build: above the target directory, or above this crate when it
    // is a member of the workspace being built.
    let lock = lock_file(out).or_else(|| lock_file(manifest));
    if let Some(lock) = &lock {
        hash.update(read(lock));
        inputs.push(lock.clone());
    }
    let digest = hash.finalize();
    Fingerprint {
        hex: digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
        inputs,
        lock,
    }
}

/// Every file under `path` (or `path` itself); nothing when it is not there.
fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return,
        Err(e) => unreadable(path, &e),
    };
    if metadata.is_file() {
        files.push(path.to_owned());
        return;
    }
    if !metadata.is_dir() {
        // A socket or a pipe: no contents to hash.
        return;
    }
    let entries = fs::read_dir(path).unwrap_or_else(|e| unreadable(path, &e));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| unreadable(path, &e));
        collect(&entry.path(), files);
    }
}

/// The bytes of `file`, which is there.
fn read(file: &Path) -> Vec<u8> {
    fs::read(file).unwrap_or_else(|e| unreadable(file, &e))
}

/// Fails the build: the fingerprint cannot cover `path`.
fn unreadable(path: &Path, e: &io::Error) -> ! {
    panic!(
        "the build fingerprint cannot read {}: {e}; the image tag would not follow it",
        path.display()
    )
}

/// The nearest `Cargo.lock` in `start` or a folder above it.
fn lock_file(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join("Cargo.lock"))
        .find(|lock| lock.is_file())
}
