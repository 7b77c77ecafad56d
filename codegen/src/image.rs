//! The image recipe: the model repo's binary, built in one stage, run from a slim base as
//! a non-root user. No git clone and no token in the pod: the model is in the binary.

use crate::artifact::{Artifact, Context};
use datasurface_model::{ValidEcosystem, YellowServiceProvider, naming};

/// The Rust toolchain image the binary is built with.
const BUILDER: &str = "rust:1.95-slim-bookworm";
/// The base the binary runs on.
const BASE: &str = "debian:bookworm-slim";

pub(crate) fn dockerfile(context: &Context) -> Artifact {
    let bin = &context.binary;
    Artifact {
        path: "Dockerfile".into(),
        contents: format!(
            "# The image of this ecosystem: its runtime binary, which holds the model.\n\
             # Build it from the model repo: docker build -t <repository>:<tag> .\n\
             # (<tag> is the fingerprint the generated DAGs and Jobs use.)\n\
             FROM {BUILDER} AS build\n\
             WORKDIR /src\n\
             COPY . .\n\
             RUN cargo build --release --locked --no-default-features --bin {bin}\n\
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

/// The image a provider's DAGs and Jobs run: its repository with the model's tag.
pub fn image(eco: &ValidEcosystem, provider: &YellowServiceProvider) -> String {
    format!("{}:{}", provider.image_repository, image_tag(eco))
}

/// The image tag: a fingerprint of the model and of this generator's version, so a tag
/// never names two different builds and `IfNotPresent` pulls are safe.
pub fn image_tag(eco: &ValidEcosystem) -> String {
    let fingerprint = format!("{:?}{}", eco.ecosystem(), env!("CARGO_PKG_VERSION"));
    naming::hex_digest(fingerprint.as_bytes(), 6)
}
