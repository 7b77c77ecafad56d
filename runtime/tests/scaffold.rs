//! `datasurface new`: the repo it makes builds, validates, generates, passes its own tests
//! and CI steps, shows a model change as a snapshot diff, and fails `cargo build` on a model
//! error with the error's path in the model.

use datasurface::serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// This workspace's root.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_owned()
}

/// `cargo` in the new repo, building into this workspace's target directory (the
/// dependencies are built already) with its lock file's versions.
fn cargo(repo: &Path, args: &[&str]) -> Output {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .to_owned();
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(args)
        .current_dir(repo)
        .env("CARGO_TARGET_DIR", target)
        .env("INSTA_UPDATE", "no")
        .env_remove("RUST_LOG")
        .output()
        .expect("cargo")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, text.replace(from, to)).expect("write");
}

#[test]
fn a_new_model_repo_builds_checks_and_reviews_its_model() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold");
    let _ = std::fs::remove_dir_all(&root);
    let repo = root.join("acme-data");
    let out = Command::new(env!("CARGO_BIN_EXE_datasurface"))
        .args(["new", "acme-data", "--no-build", "--dir"])
        .arg(&repo)
        .arg("--datasurface-path")
        .arg(workspace().join("runtime"))
        .output()
        .expect("datasurface new");
    assert!(out.status.success(), "{}", text(&out));
    std::fs::copy(workspace().join("Cargo.lock"), repo.join("Cargo.lock")).expect("lock file");

    // A second one in the same place is refused.
    let again = Command::new(env!("CARGO_BIN_EXE_datasurface"))
        .args(["new", "acme-data", "--no-build", "--dir"])
        .arg(&repo)
        .output()
        .expect("datasurface new");
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("already exists and is not empty"));

    // What `datasurface new` does after writing the files, then the CI workflow's steps.
    let out = cargo(
        &repo,
        &["run", "--quiet", "--", "generate", "--out", "generated"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let files = std::fs::read_dir(repo.join("generated/platforms"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(files > 0, "{}", text(&out));
    let record = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["test", "--quiet"])
        .current_dir(&repo)
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR"))
                .parent()
                .expect("target"),
        )
        .env("INSTA_UPDATE", "always")
        .env_remove("CI")
        .output()
        .expect("cargo test");
    assert!(record.status.success(), "{}", text(&record));
    let snapshots = std::fs::read_dir(repo.join("snapshots"))
        .expect("snapshots")
        .count();
    let generated = datasurface::generate::files(&repo.join("generated"))
        .expect("files")
        .len();
    assert_eq!(snapshots, generated, "one snapshot per artifact");

    let out = cargo(&repo, &["build", "--locked"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = cargo(&repo, &["run", "--locked", "--quiet", "--", "validate"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("model AcmeData is valid: 1 zone, 1 team, 1 datastore (1 dataset)"),
        "{}",
        text(&out)
    );
    let check = |repo: &Path| {
        cargo(
            repo,
            &[
                "run",
                "--locked",
                "--quiet",
                "--",
                "generate",
                "--out",
                "generated",
                "--check",
            ],
        )
    };
    let out = check(&repo);
    assert!(out.status.success(), "{}", text(&out));
    let out = cargo(&repo, &["test", "--locked"]);
    assert!(out.status.success(), "{}", text(&out));

    // A new column: the snapshot test shows the diff and fails, generate --check lists the
    // stale files.
    let model = repo.join("src/model.rs");
    edit(
        &model,
        "    pub born: Option<chrono::NaiveDate>,\n",
        "    pub born: Option<chrono::NaiveDate>,\n    #[column(varchar = 30)]\n    pub phone: Option<String>,\n",
    );
    let out = cargo(&repo, &["test", "--locked"]);
    assert!(!out.status.success(), "{}", text(&out));
    let diff = text(&out);
    assert!(
        diff.contains("artifacts differ from their snapshots")
            && diff.contains("\n  platforms/yellowlive/sql/hr.people.sql\n")
            && diff.contains("+new results")
            && diff.contains("phone"),
        "{diff}"
    );
    let out = check(&repo);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("stale: platforms/yellowlive/sql/"),
        "{}",
        text(&out)
    );

    // A model error fails the build, with its path in the model and a hint.
    edit(
        &model,
        ".sink::<Person>(&hr)",
        ".sink_named(\"HR\", \"peple\")",
    );
    let out = cargo(&repo, &["build", "--locked"]);
    assert!(!out.status.success(), "{}", text(&out));
    let failure = text(&out);
    for expected in [
        "error: no dataset `peple` in datastore HR",
        "at ecosystem AcmeData › zone Main › team data › workspace Analytics › dsg People › sink HR.peple",
        "hint: did you mean `people`?",
        "model AcmeData is not valid: 1 error",
    ] {
        assert!(
            failure.contains(expected),
            "{expected} missing from\n{failure}"
        );
    }

    // The pull-request check runs these same steps.
    let workflow: Value = datasurface::serde_json::to_value(
        serde_saphyr::from_str::<Value>(
            &std::fs::read_to_string(repo.join(".github/workflows/model.yml")).expect("workflow"),
        )
        .expect("YAML"),
    )
    .expect("JSON");
    let job = &workflow["jobs"]["check"];
    assert_eq!(job["env"]["INSTA_UPDATE"], "no");
    let runs: Vec<&str> = job["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect();
    for command in [
        "cargo build --locked",
        "cargo run --locked --quiet -- validate",
        "cargo test --locked",
        "generate --out generated --check",
        "docs --out target/catalog",
        "git --no-pager diff",
        "-- image --base",
    ] {
        assert!(
            runs.iter().any(|r| r.contains(command)),
            "{command} missing from {runs:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}
