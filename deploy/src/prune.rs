//! The ecosystem's objects in the cluster, found by its labels in every kind and namespace
//! its ApplySet parent records (`applyset.rs`) as well as those DataSurface generates: what
//! `--prune` deletes when the model no longer has them (never a PersistentVolumeClaim,
//! which holds data, nor a Namespace, which would take its claims and Secrets with it), and
//! what `undeploy` removes.

use crate::api::{self, Ref};
use crate::applyset;
use crate::connect::Cluster;
use crate::error::Error;
use crate::kind::ObjectKind;
use crate::manifest::Manifest;
use datasurface_codegen::kube::{ECOSYSTEM_LABEL, Kind, MANAGED_BY};
use serde_json::Value;

/// An object of the ecosystem found in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveObject {
    pub kind: Kind,
    pub namespace: Option<String>,
    pub name: String,
}

impl LiveObject {
    pub(crate) fn at(&self) -> Ref<'_> {
        Ref {
            kind: &self.kind,
            namespace: self.namespace.as_deref(),
            name: &self.name,
        }
    }

    /// `job ns/yellowlive-infra-93f0d1d79fd2`.
    pub fn describe(&self) -> String {
        self.at().describe()
    }

    /// Whether it holds data (a PersistentVolumeClaim) or everything else (a Namespace).
    pub fn holds_data(&self) -> bool {
        ObjectKind::of(&self.kind).holds_data()
    }
}

/// Every object of the ecosystem in the cluster but the ApplySet's parent, in apply order
/// of kinds: of every kind the parent records or DataSurface generates, in the model's
/// namespaces, those the parent records and any namespace labelled as the ecosystem's (one
/// the model dropped).
pub(crate) async fn live_objects(
    cluster: &Cluster,
    manifest: &Manifest,
) -> Result<Vec<LiveObject>, Error> {
    let record = applyset::recorded(cluster, manifest).await?;
    let mut namespaces: Vec<String> = manifest
        .namespaces()
        .into_iter()
        .map(str::to_owned)
        .collect();
    for ns in record.iter().flat_map(|r| &r.namespaces) {
        if !namespaces.contains(ns) {
            namespaces.push(ns.clone());
        }
    }
    let mut out = Vec::new();
    for kind in applyset::kinds(cluster, manifest, record.as_ref()).await? {
        let scopes: Vec<Option<&str>> = if kind.namespaced {
            namespaces.iter().map(|n| Some(n.as_str())).collect()
        } else {
            vec![None]
        };
        let mut found = Vec::new();
        for namespace in scopes {
            for item in api::list(cluster, &kind, namespace, &manifest.selector).await? {
                // The server filtered by the labels; check them again before anything
                // can be deleted for carrying them.
                if !ours(&item, manifest) {
                    continue;
                }
                if let Some(name) = item.pointer("/metadata/name").and_then(Value::as_str) {
                    if applyset::is_parent(&manifest.applyset, &kind, namespace, name) {
                        continue;
                    }
                    found.push(LiveObject {
                        kind,
                        namespace: namespace.map(str::to_owned),
                        name: name.to_owned(),
                    });
                }
            }
        }
        if !kind.namespaced {
            for ns in &found {
                if !namespaces.contains(&ns.name) {
                    namespaces.push(ns.name.clone());
                }
            }
        }
        out.extend(found);
    }
    Ok(out)
}

/// Whether `item` carries the labels of the manifest's ecosystem.
fn ours(item: &Value, manifest: &Manifest) -> bool {
    let label = |key: &str| {
        item.pointer("/metadata/labels")
            .and_then(|l| l.get(key))
            .and_then(Value::as_str)
    };
    label(MANAGED_BY.0) == Some(MANAGED_BY.1) && label(ECOSYSTEM_LABEL) == Some(&manifest.ecosystem)
}

/// The ecosystem's objects the model no longer has, which `--prune` deletes.
pub(crate) async fn candidates(
    cluster: &Cluster,
    manifest: &Manifest,
) -> Result<Vec<LiveObject>, Error> {
    Ok(live_objects(cluster, manifest)
        .await?
        .into_iter()
        .filter(|o| !o.holds_data() && !manifest.has(&o.kind, o.namespace.as_deref(), &o.name))
        .collect())
}
