//! Every artifact of an ecosystem: the whole of `generate`.

use crate::artifact::{Artifact, Context};
use crate::{dags, image, kube, observe, secrets, sql_files};
use datasurface_model::ValidEcosystem;

/// Every artifact of `eco`, sorted by path. The same model gives byte-identical artifacts.
pub fn generate(eco: &ValidEcosystem, context: &Context) -> Vec<Artifact> {
    let mut artifacts = Vec::new();
    generate_each(eco, context, &mut |a| artifacts.push(a));
    artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    artifacts
}

/// Every artifact of `eco`, each handed to `sink` as soon as it is made, in no particular
/// order: what a large model needs, whose artifacts do not all fit in memory at once.
pub fn generate_each(eco: &ValidEcosystem, context: &Context, sink: &mut dyn FnMut(Artifact)) {
    sql_files::artifacts(eco, sink);
    let dags = dags::dags(eco, context);
    for artifact in kube::artifacts(&kube::objects(eco, context)) {
        sink(artifact);
    }
    for dag in &dags {
        sink(dag.artifact());
    }
    sink(image::dockerfile(context));
    sink(secrets::guide(eco));
    observe::artifacts(eco, sink);
}
