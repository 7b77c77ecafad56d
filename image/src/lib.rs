//! The container image of a DataSurface ecosystem, built without Docker.
//!
//! As ko and jib do, the build tool writes the image itself: [`build`] puts one layer — the
//! ecosystem's runtime binary, and CA roots when the base has none — with a numeric
//! non-root user and the entrypoint on a base named by digest, into an OCI image layout
//! ([`Layout`]). Every byte is fixed by the inputs (tar entry order, times, owners, modes,
//! the gzip header and level, JSON key order), so the same binary on the same base gives the
//! same digest on any machine. [`registry`] pulls a base by digest into a layout and pushes
//! a built image, with the credentials of the Docker config ([`auth`]).

pub mod auth;
mod base;
mod build;
mod digest;
mod error;
mod layer;
mod layout;
pub mod registry;
mod spec;

pub use base::Platform;
pub use build::{BIN_DIR, Built, CA_ROOTS, Recipe, build};
pub use digest::Digest;
pub use error::Error;
pub use layer::{Entry, EntryKind, Layer};
pub use layout::Layout;
pub use spec::{Descriptor, Index, Manifest, REF_NAME, media};
