//! Every artifact of an ecosystem, as (path, contents) pairs: the whole of `generate`.

use crate::{image as recipe, secrets, sql_files};
use datasurface_model::{ValidEcosystem, YellowServiceProvider};
use sha2::{Digest, Sha256};

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
}

/// Every artifact of `eco`, sorted by path. The same model gives byte-identical artifacts.
pub fn generate(eco: &ValidEcosystem, context: &Context) -> Vec<Artifact> {
    let mut artifacts = Vec::new();
    artifacts.extend(sql_files::artifacts(eco));
    let dags = crate::dags::artifacts(eco);
    artifacts.extend(crate::kube::artifacts(eco, &dags));
    artifacts.extend(dags);
    artifacts.push(recipe::dockerfile(context));
    artifacts.push(secrets::guide(eco));
    artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    artifacts
}

/// The image a provider's DAGs and Jobs run: its repository with the model's tag.
pub fn image(eco: &ValidEcosystem, provider: &YellowServiceProvider) -> String {
    format!("{}:{}", provider.image_repository, image_tag(eco))
}

/// The image tag: a fingerprint of the model and of this generator's version, so a tag
/// never names two different builds and `IfNotPresent` pulls are safe.
pub fn image_tag(eco: &ValidEcosystem) -> String {
    let mut hash = Sha256::new();
    hash.update(format!("{:?}", eco.ecosystem()).as_bytes());
    hash.update(env!("CARGO_PKG_VERSION").as_bytes());
    hash.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
