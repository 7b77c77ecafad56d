//! `datasurface new`: a model repo of one's own — a model with one store, dataset,
//! workspace and platform, the build script that checks it, the snapshot test of its
//! artifacts, a pull-request check and a README — ready for `cargo build`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Where the new repo takes the `datasurface` crate from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A version from crates.io.
    Version(String),
    /// A local checkout's `runtime/` directory (for development; a Docker build cannot
    /// see it).
    Path(PathBuf),
    /// A git repository.
    Git(String),
}

impl Source {
    /// The crates.io release of this runtime, or, when this binary was built from a
    /// checkout that is still there, that checkout.
    pub fn default_for_this_build() -> Source {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        if here.join("Cargo.toml").is_file() && here.join("src/scaffold.rs").is_file() {
            Source::Path(here.to_owned())
        } else {
            Source::Version(env!("CARGO_PKG_VERSION").to_owned())
        }
    }

    /// This runtime's own git repository: a source that builds anywhere, while no release
    /// is on crates.io.
    pub fn git_for_this_build() -> Source {
        Source::Git(env!("CARGO_PKG_REPOSITORY").to_owned())
    }

    /// What a path dependency means, said plainly, with the source that builds elsewhere;
    /// `None` for the sources every machine reaches.
    pub fn ci_note(&self) -> Option<String> {
        let Source::Path(path) = self else {
            return None;
        };
        let Source::Git(git) = Source::git_for_this_build() else {
            unreachable!("git_for_this_build is a git source")
        };
        Some(format!(
            "datasurface comes from the local checkout {} (a `path =` dependency): the repo              builds on this machine only. Once it is pushed, its pull-request workflow and a              Docker build fail, as they cannot see that path. To build anywhere, take              datasurface from git instead — `datasurface = {{ git = \"{git}\" }}` in              Cargo.toml, or `datasurface new NAME --datasurface-git {git}` — or from crates.io              once it is released (--datasurface-version). `image` builds the container image              from the binary, so it works whatever the source.",
            path.display()
        ))
    }

    /// The dependency's value in `Cargo.toml`, with `features`.
    fn dependency(&self, features: &[&str]) -> String {
        let place = match self {
            Source::Version(v) => format!("version = \"{v}\""),
            Source::Path(p) => format!("path = {}", toml_string(&p.to_string_lossy())),
            Source::Git(url) => format!("git = {}", toml_string(url)),
        };
        if features.is_empty() {
            format!("{{ {place} }}")
        } else {
            let features: Vec<String> = features.iter().map(|f| format!("\"{f}\"")).collect();
            format!("{{ {place}, features = [{}] }}", features.join(", "))
        }
    }
}

/// Why a repo could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "`{0}` cannot name a model repo: use letters, digits, `-` and `_`, starting with a letter"
    )]
    BadName(String),
    #[error("{} already exists and is not empty; choose another directory", .0.display())]
    NotEmpty(PathBuf),
    #[error("writing {}: {source}", .path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// The names a repo called `package` uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The package and binary: `acme-data`.
    pub package: String,
    /// The Rust crate: `acme_data`.
    pub krate: String,
    /// The ecosystem in the model: `AcmeData`.
    pub ecosystem: String,
    /// The Kubernetes namespace: `acme-data`.
    pub namespace: String,
}

impl Names {
    /// The names of a repo called `package`, if it is a fitting name.
    pub fn new(package: &str) -> Result<Names, ScaffoldError> {
        let fits = package
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && package
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && package.len() <= 40;
        if !fits {
            return Err(ScaffoldError::BadName(package.to_owned()));
        }
        let ecosystem = package
            .split(['-', '_'])
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut chars = w.chars();
                chars
                    .next()
                    .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect();
        Ok(Names {
            package: package.to_owned(),
            krate: package.replace('-', "_"),
            ecosystem,
            namespace: package.to_ascii_lowercase().replace('_', "-"),
        })
    }
}

impl fmt::Display for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (ecosystem {})", self.package, self.ecosystem)
    }
}

/// The files of a new repo: its path in the repo, and the template.
const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../scaffold/Cargo.toml.tmpl")),
    ("build.rs", include_str!("../scaffold/build.rs.tmpl")),
    (
        "src/model.rs",
        include_str!("../scaffold/src/model.rs.tmpl"),
    ),
    ("src/lib.rs", include_str!("../scaffold/src/lib.rs.tmpl")),
    ("src/main.rs", include_str!("../scaffold/src/main.rs.tmpl")),
    (
        "tests/artifacts.rs",
        include_str!("../scaffold/tests/artifacts.rs.tmpl"),
    ),
    (
        ".github/workflows/model.yml",
        include_str!("../scaffold/.github/workflows/model.yml.tmpl"),
    ),
    (".gitignore", include_str!("../scaffold/gitignore.tmpl")),
    ("README.md", include_str!("../scaffold/README.md.tmpl")),
];

/// Writes a new model repo for `names` into `dir` (created, or empty), taking `datasurface`
/// from `source`; returns the files written, relative to `dir`.
pub fn create(dir: &Path, names: &Names, source: &Source) -> Result<Vec<String>, ScaffoldError> {
    let occupied = std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some());
    if occupied {
        return Err(ScaffoldError::NotEmpty(dir.to_owned()));
    }
    let values = [
        ("{{package}}", names.package.clone()),
        ("{{crate}}", names.krate.clone()),
        ("{{ecosystem}}", names.ecosystem.clone()),
        ("{{namespace}}", names.namespace.clone()),
        ("{{dependency}}", source.dependency(&[])),
        ("{{testing_dependency}}", source.dependency(&["testing"])),
        ("{{source_note}}", source_comment(source)),
    ];
    let mut written = Vec::new();
    for (path, template) in FILES {
        let contents = values
            .iter()
            .fold((*template).to_owned(), |text, (key, value)| {
                text.replace(key, value)
            });
        let target = dir.join(path);
        let write = || {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&target, contents)
        };
        write().map_err(|source| ScaffoldError::Write {
            path: target.clone(),
            source,
        })?;
        written.push((*path).to_owned());
    }
    Ok(written)
}

/// The note on `source` as TOML comment lines above the dependency, or nothing.
fn source_comment(source: &Source) -> String {
    let Some(note) = source.ci_note() else {
        return String::new();
    };
    let mut out = String::new();
    let mut line = String::from("#");
    for word in note.split_whitespace() {
        if line.len() + word.len() > 88 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// `value` as a TOML basic string.
fn toml_string(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_source_says_what_it_means_and_offers_git() {
        let note = Source::Path("/src/datasurface/runtime".into())
            .ci_note()
            .expect("a note");
        assert!(note.contains("/src/datasurface/runtime"), "{note}");
        assert!(note.contains("builds on this machine only"), "{note}");
        assert!(
            note.contains(&format!(
                "--datasurface-git {}",
                env!("CARGO_PKG_REPOSITORY")
            )),
            "{note}"
        );
        assert!(Source::Version("0.1.0".into()).ci_note().is_none());
        assert!(Source::git_for_this_build().ci_note().is_none());
        let comment = source_comment(&Source::Path("/x".into()));
        assert!(
            comment.lines().all(|l| l.starts_with('#') && l.len() <= 90),
            "{comment}"
        );
    }

    #[test]
    fn names_follow_the_package_name() {
        let names = Names::new("acme-data_2").expect("fits");
        assert_eq!(names.krate, "acme_data_2");
        assert_eq!(names.ecosystem, "AcmeData2");
        assert_eq!(names.namespace, "acme-data-2");
        for bad in ["", "2acme", "acme data", "acme/data", "ä"] {
            assert!(Names::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        let dir = std::env::temp_dir().join(format!("datasurface-scaffold-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let names = Names::new("acme").expect("fits");
        let files = create(
            &dir,
            &names,
            &Source::Git("https://example.com/ds.git".into()),
        )
        .expect("created");
        for file in &files {
            let text = std::fs::read_to_string(dir.join(file)).expect("read");
            for key in [
                "{{package}}",
                "{{crate}}",
                "{{ecosystem}}",
                "{{namespace}}",
                "{{dependency}}",
                "{{testing_dependency}}",
            ] {
                assert!(!text.contains(key), "{file} still has {key}");
            }
        }
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("read");
        assert!(manifest.contains(
            "datasurface = { git = \"https://example.com/ds.git\", features = [\"testing\"] }"
        ));
        assert!(matches!(
            create(&dir, &names, &Source::Version("0.1.0".into())),
            Err(ScaffoldError::NotEmpty(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
