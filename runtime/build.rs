//! The build fingerprint: what the image tag needs, besides the model, to change whenever
//! the binary does.
//!
//! It hashes the `Cargo.lock` of the build (every dependency's exact version, and the
//! commit of a git dependency) and, when the DataSurface crates are a checkout (a path
//! dependency, as in this repository), their sources: a runtime fix under the same version
//! then changes the tag too. Crates from a registry are named exactly by the lock file.
//! Paths are hashed relative to the crates, so the operator's machine and the image build
//! (the same files in another directory) agree. Nothing else (features, profile, target
//! directory) enters, because the image is built without the development features that
//! the operator's binary has, and both must print the same tag.

use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

/// The DataSurface crates whose sources go into the binary, relative to this crate, with
/// the folders of each that hold them. (`deploy` is not in the image.)
const SOURCES: [(&str, &[&str]); 4] = [
    ("../model", &["Cargo.toml", "src"]),
    ("../macros", &["Cargo.toml", "src"]),
    ("../codegen", &["Cargo.toml", "src", "templates"]),
    (".", &["Cargo.toml", "build.rs", "src"]),
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let mut hash = Sha256::new();
    hash.update(env_or_empty("CARGO_PKG_VERSION"));

    // A checkout of the DataSurface crates: the codegen crate sits next to this one.
    let checkout = fs::read_to_string(manifest.join("../codegen/Cargo.toml"))
        .is_ok_and(|t| t.contains("name = \"datasurface-codegen\""));
    let crates: &[(&str, &[&str])] = if checkout { &SOURCES } else { &SOURCES[3..] };
    for (dir, parts) in crates {
        for part in *parts {
            let path = manifest.join(dir).join(part);
            println!("cargo:rerun-if-changed={}", path.display());
            let mut files = Vec::new();
            collect(&path, &mut files);
            files.sort();
            for file in files {
                let relative = file.strip_prefix(&manifest).unwrap_or(&file);
                hash.update(relative.to_string_lossy().as_bytes());
                hash.update([0]);
                hash.update(fs::read(&file).unwrap_or_default());
                hash.update([0]);
            }
        }
    }

    // The lock file of the build: above the target directory, or above this crate when it
    // is a member of the workspace being built.
    match lock_file(&out).or_else(|| lock_file(&manifest)) {
        Some(lock) => {
            println!("cargo:rerun-if-changed={}", lock.display());
            hash.update(fs::read(&lock).unwrap_or_default());
        }
        None => println!(
            "cargo:warning=no Cargo.lock above {}: the image tag follows the model and the DataSurface sources, not the dependencies",
            out.display()
        ),
    }
    let digest = hash.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=DATASURFACE_BUILD_FINGERPRINT={hex}");
}

fn env_or_empty(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
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
