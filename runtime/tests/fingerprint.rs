//! The build fingerprint behind the image tag: it changes when a DataSurface source or the
//! lock file does, and only then — the same files in another directory (the operator's
//! checkout and the image build's `/src`) give the same fingerprint.

#[allow(dead_code, unreachable_pub)]
#[path = "../build/fingerprint.rs"]
mod fingerprint;

use std::fs;
use std::path::{Path, PathBuf};

/// A checkout like this repository's, with a lock file at its root, under `root`: its
/// runtime crate and its target directory.
fn checkout(root: &Path) -> (PathBuf, PathBuf) {
    let _ = fs::remove_dir_all(root);
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };
    write(
        "Cargo.lock",
        "[[package]]\nname = \"kube\"\nversion = \"5.0.0\"\n",
    );
    write(
        "model/Cargo.toml",
        "[package]\nname = \"datasurface-model\"\n",
    );
    write("model/src/lib.rs", "pub struct Model;\n");
    write(
        "macros/Cargo.toml",
        "[package]\nname = \"datasurface-macros\"\n",
    );
    write("macros/src/lib.rs", "// derives\n");
    write(
        "codegen/Cargo.toml",
        "[package]\nname = \"datasurface-codegen\"\n",
    );
    write("codegen/src/lib.rs", "pub fn generate() {}\n");
    write("codegen/templates/pod_dag.py", "# a DAG\n");
    write("runtime/Cargo.toml", "[package]\nname = \"datasurface\"\n");
    write("runtime/src/lib.rs", "pub fn run() {}\n");
    write("notes.txt", "not a source\n");
    let out = root.join("target/release/build/datasurface-1234/out");
    fs::create_dir_all(&out).unwrap();
    (root.join("runtime"), out)
}

fn hex(runtime: &Path, out: &Path) -> String {
    fingerprint::fingerprint(runtime, out, "0.1.0").hex
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "datasurface-fingerprint-{name}-{}",
        std::process::id()
    ))
}

#[test]
fn the_fingerprint_follows_the_sources_and_the_lock_file_and_nothing_else() {
    let root = scratch("a");
    let (runtime, out) = checkout(&root);
    let first = hex(&runtime, &out);
    assert_eq!(first.len(), 16);
    assert_eq!(
        hex(&runtime, &out),
        first,
        "the same build, the same fingerprint"
    );

    let elsewhere = scratch("b");
    let (runtime_b, out_b) = checkout(&elsewhere);
    assert_eq!(
        hex(&runtime_b, &out_b),
        first,
        "the same files elsewhere agree"
    );

    fs::write(root.join("notes.txt"), "edited\n").unwrap();
    assert_eq!(
        hex(&runtime, &out),
        first,
        "a file outside the crates is not the binary"
    );

    let mut seen = vec![first.clone()];
    for (file, text) in [
        ("codegen/src/lib.rs", "pub fn generate() { /* fixed */ }\n"),
        ("codegen/templates/pod_dag.py", "# a DAG, changed\n"),
        ("runtime/src/lib.rs", "pub fn run() { /* fixed */ }\n"),
        ("model/src/lib.rs", "pub struct Model(u8);\n"),
        (
            "Cargo.lock",
            "[[package]]\nname = \"kube\"\nversion = \"5.0.1\"\n",
        ),
    ] {
        fs::write(root.join(file), text).unwrap();
        let next = hex(&runtime, &out);
        assert!(!seen.contains(&next), "{file} changes the fingerprint");
        seen.push(next);
    }
    assert_ne!(
        fingerprint::fingerprint(&runtime, &out, "0.2.0").hex,
        hex(&runtime, &out),
        "the version too"
    );
    let _ = fs::remove_dir_all(&root);
    let _ = fs::remove_dir_all(&elsewhere);
}

#[test]
fn without_a_checkout_the_runtime_and_the_lock_file_are_what_counts() {
    // A registry package: the crate alone, its siblings not next to it.
    let root = scratch("registry");
    let (runtime, out) = checkout(&root);
    fs::remove_dir_all(root.join("codegen")).unwrap();
    let fingerprint = fingerprint::fingerprint(&runtime, &out, "0.1.0");
    assert_eq!(fingerprint.lock, Some(root.join("Cargo.lock")));
    assert!(
        fingerprint
            .inputs
            .iter()
            .all(|p| !p.starts_with(root.join("model")))
    );
    let _ = fs::remove_dir_all(&root);
}

#[cfg(unix)]
#[test]
fn a_source_that_cannot_be_read_fails_the_build_naming_it() {
    let root = scratch("unreadable");
    let (runtime, out) = checkout(&root);
    // A link that is there but leads nowhere readable (root reads any file, whatever its
    // mode): the build must not hash it as empty.
    let looped = root.join("codegen/src/looped.rs");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    let failure =
        std::panic::catch_unwind(|| fingerprint::fingerprint(&runtime, &out, "0.1.0").hex)
            .expect_err("an unreadable source fails the build");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("codegen/src/looped.rs"),
        "the message names the file: {message}"
    );
    // A link to nothing has no contents: it is left out, as an editor's lock file is.
    fs::remove_file(&looped).unwrap();
    std::os::unix::fs::symlink(root.join("gone"), &looped).unwrap();
    let with_link = hex(&runtime, &out);
    fs::remove_file(&looped).unwrap();
    assert_eq!(hex(&runtime, &out), with_link);
    let _ = fs::remove_dir_all(&root);
}
