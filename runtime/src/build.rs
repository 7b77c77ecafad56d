//! The model checked by `cargo build`: a model repo's build script hands its ecosystem to
//! [`check`], and a model with an error does not build.
//!
//! ```ignore
//! // build.rs of a model repo, whose model is in src/model.rs:
//! #[path = "src/model.rs"]
//! pub mod model;
//!
//! fn main() {
//!     datasurface::build::check(model::ecosystem());
//! }
//! ```
//!
//! The build script compiles the model file a second time, on its own, so the model file
//! must use nothing but the model (`use datasurface::*` and its own items): keep the runtime
//! (`main`, scenarios) in other files. The repo's `Cargo.toml` names `datasurface` under
//! `[build-dependencies]` too.

use datasurface_model::{Ecosystem, Severity, ValidEcosystem};
use std::io::Write;
use std::path::PathBuf;

/// Validates `ecosystem` in a build script: every error, with its path in the model and its
/// hint, fails the build (cargo shows them); every warning becomes a cargo warning. A valid
/// model's artifacts are written to `$OUT_DIR/datasurface` — the crate can find them at
/// compile time through `env!("DATASURFACE_ARTIFACTS")` — for the binary named like the
/// package.
pub fn check(ecosystem: Ecosystem) {
    let binary = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "datasurface".to_owned());
    if let Err(message) = checked(ecosystem, &binary) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{message}");
        std::process::exit(1);
    }
}

/// What [`check`] does, returning the message that fails the build.
fn checked(ecosystem: Ecosystem, binary: &str) -> Result<(), String> {
    let name = ecosystem.name.clone();
    let eco: ValidEcosystem = match ecosystem.validate() {
        Ok(eco) => eco,
        Err(report) => {
            let mut message = String::new();
            let errors = report
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error);
            for d in errors.clone() {
                message.push_str(&format!("{d}\n"));
            }
            let n = errors.count();
            message.push_str(&format!(
                "model {name} is not valid: {n} error{}",
                if n == 1 { "" } else { "s" }
            ));
            return Err(message);
        }
    };
    for d in eco.warnings() {
        println!("cargo::warning={}", one_line(&d.to_string()));
    }
    let out = std::env::var_os("OUT_DIR")
        .map(PathBuf::from)
        .ok_or("OUT_DIR is not set: datasurface::build::check runs in a build script")?
        .join("datasurface");
    crate::generate::sync(&out, &eco, &crate::generate::context(binary), true).map_err(|e| {
        format!(
            "writing the artifacts of model {name} to {}: {e}",
            out.display()
        )
    })?;
    println!("cargo::rustc-env=DATASURFACE_ARTIFACTS={}", out.display());
    Ok(())
}

/// A diagnostic on one line, as cargo's `warning=` wants it.
fn one_line(text: &str) -> String {
    text.lines().map(str::trim).collect::<Vec<_>>().join(" — ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use datasurface_model::*;

    #[test]
    fn an_invalid_model_fails_with_every_error_and_its_path() {
        let broken = Ecosystem::new("Broken").platform(YellowPlatform::live(
            "Live",
            &YellowServiceProvider::new(
                "P",
                "ns",
                PostgresDatabase::new("MergeDB", "merge"),
                Credential::user_password("merge"),
            ),
        ));
        let message = checked(broken, "broken").expect_err("invalid");
        assert!(message.contains("error: "), "{message}");
        assert!(message.contains("  at "), "{message}");
        assert!(
            message.ends_with("model Broken is not valid: 1 error"),
            "{message}"
        );
    }

    #[test]
    fn diagnostics_fit_on_one_line() {
        assert_eq!(
            one_line("error: no dataset x\n  at Ecosystem(A)\n  hint: did you mean y?"),
            "error: no dataset x — at Ecosystem(A) — hint: did you mean y?"
        );
    }
}
