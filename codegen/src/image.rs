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
             RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin datasurface\n\
             COPY --from=build /src/target/release/{bin} /usr/local/bin/{bin}\n\
             USER 10001\n\
             ENTRYPOINT [\"/usr/local/bin/{bin}\"]\n\
             CMD [\"validate\"]\n"
        ),
    }
}

/// The image a provider's DAGs and Jobs run: its repository with the tag.
pub fn image(eco: &ValidEcosystem, provider: &YellowServiceProvider, context: &Context) -> String {
    format!("{}:{}", provider.image_repository, image_tag(eco, context))
}

/// The development variant of [`image`], which the simulator runs.
pub fn dev_image(
    eco: &ValidEcosystem,
    provider: &YellowServiceProvider,
    context: &Context,
) -> String {
    format!("{}{DEV_TAG_SUFFIX}", image(eco, provider, context))
}

/// The image tag: a fingerprint of the model and of the build (the binary's code and
/// dependencies), so a tag never names two different binaries and `IfNotPresent` pulls
/// can never run a stale one.
pub fn image_tag(eco: &ValidEcosystem, context: &Context) -> String {
    let fingerprint = format!("{}{}", eco.fingerprint(), context.build);
    naming::hex_digest(fingerprint.as_bytes(), 6)
}
