//! Every artifact of an ecosystem: the whole of `generate`.

use crate::artifact::{Artifact, Context};
use crate::{dags, image, kube, secrets, sql_files};
use datasurface_model::ValidEcosystem;

/// Every artifact of `eco`, sorted by path. The same model gives byte-identical artifacts.
pub fn generate(eco: &ValidEcosystem, context: &Context) -> Vec<Artifact> {
    let mut artifacts = Vec::new();
    artifacts.extend(sql_files::artifacts(eco));
    let dags = dags::dags(eco, context);
    artifacts.extend(kube::artifacts(&kube::objects_with_dags(
        eco, context, &dags,
    )));
    artifacts.extend(dags.iter().map(dags::Dag::artifact));
    artifacts.push(image::dockerfile(context));
    artifacts.push(secrets::guide(eco));
    artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    artifacts
}
