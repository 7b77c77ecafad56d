//! The image: its recipe (the model repo's binary, built in one stage, run from a slim base
//! as a non-root user; no git clone and no token in the pod, the model is in the binary),
//! and its tag.

use crate::artifact::{Artifact, Context};
use datasurface_model::{ValidEcosystem, YellowServiceProvider, naming};

/// The Rust toolchain image the binary is built with.
const BUILDER: &str = "rust:1.95-slim-bookworm";
/// The base the binary runs on.
const BASE: &str = "debian:bookworm-slim";
/// The suffix of the development variant's tag: the same code with the model's `dev`
/// feature, so it also has `simulate`.
pub const DEV_TAG_SUFFIX: &str = "-dev";

pub(crate) fn dockerfile(context: &Context) -> Artifact {
    let bin = &context.binary;
    Artifact {
        path: "Dockerfile".into(),
        contents: format!(
            "# The image of this ecosystem: its runtime binary, which holds the model.\n\
             # Build it from the model repo with the tag `generate` prints:\n\
             #   docker build -t <repository>:<tag> .\n\
             # and, when the ecosystem runs the simulator, the development variant:\n\
             #   docker build --build-arg FEATURES=dev -t <repository>:<tag>{DEV_TAG_SUFFIX} .\n\
             FROM {BUILDER} AS build\n\
             # Cargo features of the model repo: none in production (no development tools).\n\
             ARG FEATURES=\"\"\n\
             WORKDIR /src\n\
             COPY . .\n\
             RUN cargo build --release --locked --no-default-features --features \"$FEATURES\" --bin {bin}\n\
             \n\
             FROM {BASE}\n\
             RUN useradd --system --uid {IMAGE_UID} --no-create-home --shell /usr/sbin/nologin datasurface\n\
             COPY --from=build /src/target/release/{bin} /usr/local/bin/{bin}\n\
             USER {IMAGE_UID}\n\
             ENTRYPOINT [\"/usr/local/bin/{bin}\"]\n\
             CMD [\"validate\"]\n"
        ),
    }
}

/// The file `image` writes beside the model repo's `generated/` folder, and the model
/// repo commits.
pub const IMAGE_LOCK: &str = "image.lock";

/// The numeric user the ecosystem's image and its pods run as.
pub const IMAGE_UID: u32 = 10001;

/// What `image` built for one image tag: the digests of the image and, when the ecosystem
/// runs the simulator, of its development variant. An image's digest is the same in every
/// repository it is pushed to, so one lock serves every provider.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageLock {
    /// The image tag the digests were built for.
    pub tag: String,
    /// The image's manifest digest (`sha256:…`).
    pub image: String,
    /// The development variant's manifest digest, when it was built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
}

impl ImageLock {
    /// The lock as its file holds it: pretty JSON, ending in a newline.
    pub fn to_file(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a lock serialises");
        text.push('\n');
        text
    }
}

/// The image a provider's DAGs and Jobs run: its repository with the digest the lock
/// records for this tag, else with the tag.
pub fn image(eco: &ValidEcosystem, provider: &YellowServiceProvider, context: &Context) -> String {
    let tag = image_tag(eco, context);
    match pinned(context, &tag, |lock| Some(&lock.image)) {
        Some(digest) => format!("{}@{digest}", provider.image_repository),
        None => format!("{}:{tag}", provider.image_repository),
    }
}

/// The development variant of [`image`], which the simulator runs.
pub fn dev_image(
    eco: &ValidEcosystem,
    provider: &YellowServiceProvider,
    context: &Context,
) -> String {
    let tag = image_tag(eco, context);
    match pinned(context, &tag, |lock| lock.dev.as_ref()) {
        Some(digest) => format!("{}@{digest}", provider.image_repository),
        None => format!("{}:{tag}{DEV_TAG_SUFFIX}", provider.image_repository),
    }
}

/// The flags of `dags` that carry the lock's digests into the cluster: the Airflow pod's
/// init container writes the DAGs from the image, which holds no lock (an image cannot hold
/// its own digest), so the generated pod tells it the digests. Empty when the lock does not
/// pin the current tag.
pub fn dags_pin_args(eco: &ValidEcosystem, context: &Context) -> Vec<String> {
    let tag = image_tag(eco, context);
    let mut args = Vec::new();
    if let Some(digest) = pinned(context, &tag, |lock| Some(&lock.image)) {
        args.extend(["--image-digest".to_owned(), digest.to_owned()]);
    }
    if let Some(digest) = pinned(context, &tag, |lock| lock.dev.as_ref()) {
        args.extend(["--dev-image-digest".to_owned(), digest.to_owned()]);
    }
    args
}

/// The digest `which` picks from the lock, when the lock is for `tag`: a lock left from an
/// earlier build names another binary, so its digest is not used.
fn pinned<'a>(
    context: &'a Context,
    tag: &str,
    which: impl Fn(&'a ImageLock) -> Option<&'a String>,
) -> Option<&'a str> {
    let lock = context.lock.as_ref().filter(|lock| lock.tag == tag)?;
    which(lock).map(String::as_str)
}

/// The image tag: a fingerprint of the model and of the build (the binary's code and
/// dependencies), so a tag never names two different binaries and `IfNotPresent` pulls
/// can never run a stale one.
pub fn image_tag(eco: &ValidEcosystem, context: &Context) -> String {
    let fingerprint = format!("{}{}", eco.fingerprint(), context.build);
    naming::hex_digest(fingerprint.as_bytes(), 6)
}
