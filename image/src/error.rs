//! What can go wrong building, reading, pulling or pushing an image: each error names the
//! file, blob or reference and, where there is one, the fix.

use std::path::PathBuf;

/// An image error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{0}` is not a sha256 digest (sha256: and 64 lower-case hex digits)")]
    BadDigest(String),
    #[error("{0} is not an OCI image layout (no oci-layout file with imageLayoutVersion 1.0.0)")]
    NotALayout(PathBuf),
    #[error("blob {digest} in {layout}: its contents do not match their digest")]
    Corrupt { layout: PathBuf, digest: String },
    #[error("{what}: invalid JSON: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0}")]
    Base(String),
    #[error(
        "the base `{0}` is not named by digest: give REGISTRY/REPOSITORY@sha256:…, so every build uses the same base"
    )]
    BaseNotPinned(String),
    #[error("`{reference}`: {message}")]
    Registry { reference: String, message: String },
    #[error("the Docker config {path}: {message}")]
    Credentials { path: PathBuf, message: String },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    pub(crate) fn json(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Error {
        let what = what.into();
        move |source| Error::Json { what, source }
    }
}
