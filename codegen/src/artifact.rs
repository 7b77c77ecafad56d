//! Every artifact of an ecosystem, as (path, contents) pairs: the whole of `generate`.

use crate::{image as recipe, secrets, sql_files};
use datasurface_model::ValidEcosystem;

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
    let dags = crate::dags::dags(eco);
    artifacts.extend(crate::kube::artifacts(eco, &dags));
    artifacts.extend(dags.iter().map(crate::dags::Dag::artifact));
    artifacts.push(recipe::dockerfile(context));
    artifacts.push(secrets::guide(eco));
    artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    artifacts
}
