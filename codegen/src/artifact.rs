//! What generation produces: files as (path, contents) pairs.

/// One generated file: its path relative to the output directory, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub path: String,
    pub contents: String,
}

/// What generation needs besides the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The name of the model repo's binary (`mvp`): what the image runs.
    pub binary: String,
    /// A fingerprint of the binary's code and dependencies, computed when the runtime is
    /// built (`datasurface::generate::context` supplies it): with the model, it makes the
    /// image tag.
    pub build: String,
    /// What `image` built, from the model repo's `image.lock`: when it is for this tag, the
    /// generated objects and DAGs name the image by digest.
    pub lock: Option<crate::image::ImageLock>,
}
