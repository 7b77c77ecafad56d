//! `undeploy`: every object of the ecosystem, found by its labels, deleted in the reverse
//! of the apply order — except its data (PersistentVolumeClaims, and the Namespace that
//! holds them and the Secrets) unless the data goes too.

use crate::api;
use crate::connect::Cluster;
use crate::error::Error;
use crate::manifest::Manifest;
use crate::progress::{Event, Progress};
use crate::prune::{LiveObject, live_objects};
use datasurface_codegen::kube::managed_kinds;

/// What an undeploy deletes, and what it keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    /// In the order they are deleted.
    pub delete: Vec<LiveObject>,
    /// The data kept: PersistentVolumeClaims and Namespaces.
    pub keep: Vec<LiveObject>,
}

/// What undeploying `manifest`'s ecosystem would delete (and keep, unless `delete_data`).
pub async fn inventory(
    cluster: &Cluster,
    manifest: &Manifest,
    delete_data: bool,
) -> Result<Removal, Error> {
    let mut removal = Removal::default();
    let mut objects = live_objects(cluster, manifest).await?;
    // Kinds in the reverse of the apply order: workloads before what they use.
    let kinds = managed_kinds();
    objects.sort_by_key(|o| std::cmp::Reverse(kinds.iter().position(|k| *k == o.kind)));
    for object in objects {
        if object.holds_data() && !delete_data {
            removal.keep.push(object);
        } else {
            removal.delete.push(object);
        }
    }
    // The ApplySet's parent goes last: until then it records what is still there.
    if crate::applyset::recorded(cluster, manifest)
        .await?
        .is_some()
    {
        let set = &manifest.applyset;
        let parent = crate::applyset::parent_ref(set);
        removal.delete.push(LiveObject {
            kind: *parent.kind,
            namespace: Some(set.namespace.clone()),
            name: set.name.clone(),
        });
    }
    Ok(removal)
}

/// Deletes what `removal` says.
pub async fn undeploy(
    cluster: &Cluster,
    removal: &Removal,
    progress: &mut dyn Progress,
) -> Result<usize, Error> {
    for object in &removal.delete {
        api::delete(cluster, object.at()).await?;
        progress.event(Event::Deleted {
            object: object.describe(),
        });
    }
    Ok(removal.delete.len())
}
