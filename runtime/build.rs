//! Computes the build fingerprint (`build/fingerprint.rs` says what it covers and why) and
//! hands it to the crate as `DATASURFACE_BUILD_FINGERPRINT`.

#[path = "build/fingerprint.rs"]
mod fingerprint;

use std::path::PathBuf;

fn main() {
    let var = |name: &str| std::env::var_os(name).expect("set by cargo");
    let manifest = PathBuf::from(var("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(var("OUT_DIR"));
    let version = std::env::var("CARGO_PKG_VERSION").expect("set by cargo");
    let fingerprint = fingerprint::fingerprint(&manifest, &out, &version);
    for input in &fingerprint.inputs {
        println!("cargo:rerun-if-changed={}", input.display());
    }
    if fingerprint.lock.is_none() {
        println!(
            "cargo:warning=no Cargo.lock above {}: the image tag follows the model and the DataSurface sources, not the dependencies",
            out.display()
        );
    }
    println!(
        "cargo:rustc-env=DATASURFACE_BUILD_FINGERPRINT={}",
        fingerprint.hex
    );
}
