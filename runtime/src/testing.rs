//! A model repo's review test in one line: every artifact of its ecosystem pinned by an
//! [insta](https://insta.rs) snapshot, so a model change shows as a diff of the SQL, DAGs and
//! Kubernetes objects it changes — plus the checks every model deserves: it validates, it
//! generates the same artifacts twice, and no artifact holds a secret.
//!
//! ```no_run
//! // tests/artifacts.rs of a model repo (with `datasurface` under [dev-dependencies] with
//! // the `testing` feature):
//! #[test]
//! fn artifacts() {
//!     datasurface::assert_artifacts!(my_model::ecosystem());
//! }
//! # mod my_model { pub fn ecosystem() -> datasurface::Ecosystem { unimplemented!() } }
//! ```
//!
//! The snapshots go to `snapshots/` beside the repo's `Cargo.toml`, one file per artifact
//! (`platforms__yellowlive__sql__….snap`), the image tag written `<tag>`. Review a change
//! with `cargo insta review`; in CI,
//! `INSTA_UPDATE=no` (or `CI=true`) makes a missing or different snapshot fail the test.

use datasurface_codegen::{Artifact, generate};
use datasurface_model::{Ecosystem, ValidEcosystem};

#[doc(hidden)]
pub use insta;

/// Snapshot-tests every artifact of an ecosystem; see the [module](self).
///
/// `assert_artifacts!(ecosystem)` writes the snapshots to `snapshots/`;
/// `assert_artifacts!(ecosystem, "dir")` to `dir`, relative to the `Cargo.toml`. The binary
/// the artifacts run is named like the package.
#[macro_export]
macro_rules! assert_artifacts {
    ($ecosystem:expr) => {
        $crate::assert_artifacts!($ecosystem, "snapshots")
    };
    ($ecosystem:expr, $dir:expr) => {{
        let artifacts = $crate::testing::reviewed($ecosystem, env!("CARGO_PKG_NAME"));
        let mut settings = $crate::testing::insta::Settings::clone_current();
        settings.set_snapshot_path(::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join($dir));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.bind(|| {
            $crate::testing::each(&artifacts, |name, contents| {
                $crate::testing::insta::assert_snapshot!(name, contents);
            })
        });
    }};
}

/// The artifacts of `ecosystem` for the binary `binary`, after the checks every model
/// must pass; panics with what failed: the validation report, a difference between two
/// generations, or the artifact holding a secret.
pub fn reviewed(ecosystem: Ecosystem, binary: &str) -> Vec<Artifact> {
    let eco = match ecosystem.validate() {
        Ok(eco) => eco,
        Err(report) => panic!("the model is not valid:\n{report}"),
    };
    let context = crate::generate::context(binary);
    let artifacts = generate(&eco, &context);
    let again = generate(&eco, &context);
    if let Some((a, b)) = artifacts.iter().zip(&again).find(|(a, b)| a != b) {
        panic!(
            "the model generated {} differently twice (was it {}?): generation must be deterministic",
            a.path, b.path
        );
    }
    assert_eq!(
        artifacts.len(),
        again.len(),
        "the model generated a different number of artifacts twice"
    );
    if let Some(problem) = secrets(&eco, &artifacts) {
        panic!("{problem}");
    }
    // The tag follows the runtime's code and dependencies as well as the model: a snapshot
    // shows it as `<tag>`, so updating DataSurface does not change every DAG and Job.
    let tag = datasurface_codegen::image_tag(&eco, &context);
    artifacts
        .into_iter()
        .map(|a| Artifact {
            contents: a.contents.replace(&tag, "<tag>"),
            ..a
        })
        .collect()
}

/// Runs `assert` on every artifact — its snapshot name (its path with `/` as `__`) and its
/// contents — and then fails naming every artifact whose assertion failed, so one test run
/// shows every diff a model change makes.
pub fn each(artifacts: &[Artifact], assert: impl Fn(String, &str)) {
    let failed: Vec<&str> = artifacts
        .iter()
        .filter(|artifact| {
            let name = artifact.path.replace('/', "__");
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                assert(name, &artifact.contents)
            }))
            .is_err()
        })
        .map(|artifact| artifact.path.as_str())
        .collect();
    if !failed.is_empty() {
        panic!(
            "{} of {} artifacts differ from their snapshots (review them with `cargo insta review`):\n  {}",
            failed.len(),
            artifacts.len(),
            failed.join("\n  ")
        );
    }
}

/// What looks like a secret in an artifact: a URL with a password, or the value of one of
/// the model's credential variables as this process has it.
fn secrets(eco: &ValidEcosystem, artifacts: &[Artifact]) -> Option<String> {
    let values: Vec<(String, String)> = eco
        .databases()
        .into_iter()
        .flat_map(|(_, credential)| credential.env_vars())
        .filter_map(|(var, _)| {
            let value = std::env::var(&var).ok()?;
            (value.len() >= 6).then_some((var, value))
        })
        .collect();
    for artifact in artifacts {
        if let Some(var) = values
            .iter()
            .find(|(_, value)| artifact.contents.contains(value.as_str()))
            .map(|(var, _)| var)
        {
            return Some(format!("{} holds the value of {var}", artifact.path));
        }
        if let Some(line) = artifact.contents.lines().position(url_with_password) {
            return Some(format!(
                "{} line {} holds a URL with a password; keep credentials out of the model",
                artifact.path,
                line + 1
            ));
        }
    }
    None
}

/// Whether `line` holds `scheme://user:password@host`.
fn url_with_password(line: &str) -> bool {
    line.match_indices("://").any(|(at, _)| {
        let rest = &line[at + 3..];
        let authority = rest
            .split(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .next()
            .unwrap_or("");
        authority
            .rsplit_once('@')
            .is_some_and(|(userinfo, _)| userinfo.contains(':'))
    })
}

#[cfg(test)]
mod tests {
    use super::url_with_password;

    #[test]
    fn urls_with_passwords_are_found() {
        assert!(url_with_password("url: postgres://u:p@h:5432/d"));
        assert!(!url_with_password("url: postgres://u@h:5432/d"));
        assert!(!url_with_password(
            "image: registry.example.com:5000/x@sha256:abc"
        ));
        assert!(!url_with_password("see https://example.com/a:b@c"));
    }
}
