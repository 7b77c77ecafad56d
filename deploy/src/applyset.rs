//! The ecosystem's ApplySet parent in the cluster (the convention kubectl's `--applyset`
//! follows): the group-kinds and namespaces it records, kept a superset of what is applied
//! while a deploy runs and set to exactly the model's after a prune — so prune and
//! `undeploy` look through every kind any version of the model applied, including kinds
//! this version no longer generates and so cannot know.

use crate::api::{self, Ref};
use crate::connect::Cluster;
use crate::error::Error;
use crate::manifest::Manifest;
use datasurface_codegen::kube::{
    ApplySet, ECOSYSTEM_LABEL, GROUP_KINDS_ANNOTATION, ID_LABEL, Kind, MANAGED_BY,
    NAMESPACES_ANNOTATION, Object, Step, TOOLING_ANNOTATION, managed_kinds,
};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What the parent records: group-kinds (`CronJob.batch`) and namespaces of its members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) group_kinds: BTreeSet<String>,
    pub(crate) namespaces: BTreeSet<String>,
}

impl Record {
    /// What the members among `objects` are: the kinds and namespaces of the namespaced
    /// ones (the Namespace is not a member).
    pub(crate) fn of_objects<'o>(objects: impl IntoIterator<Item = &'o Object>) -> Self {
        let mut record = Record::default();
        for object in objects {
            if let Some(ns) = &object.namespace {
                record.group_kinds.insert(object.kind.group_kind());
                record.namespaces.insert(ns.clone());
            }
        }
        record
    }

    /// Both records together.
    pub(crate) fn union(&self, other: &Record) -> Record {
        Record {
            group_kinds: self
                .group_kinds
                .union(&other.group_kinds)
                .cloned()
                .collect(),
            namespaces: self.namespaces.union(&other.namespaces).cloned().collect(),
        }
    }
}

/// The parent's kind.
fn parent_kind() -> Kind {
    Kind::of::<ConfigMap>()
}

/// Where the parent of `set` is.
pub(crate) fn parent_ref(set: &ApplySet) -> Ref<'_> {
    static KIND: std::sync::OnceLock<Kind> = std::sync::OnceLock::new();
    Ref {
        kind: KIND.get_or_init(parent_kind),
        namespace: Some(&set.namespace),
        name: &set.name,
    }
}

/// Whether `kind`/`namespace`/`name` is the parent of `set`.
pub(crate) fn is_parent(set: &ApplySet, kind: &Kind, namespace: Option<&str>, name: &str) -> bool {
    *kind == parent_kind() && namespace == Some(set.namespace.as_str()) && name == set.name
}

/// What the parent in the cluster records; `None` when there is no parent yet.
pub(crate) async fn recorded(
    cluster: &Cluster,
    manifest: &Manifest,
) -> Result<Option<Record>, Error> {
    let Some(live) = api::get(cluster, parent_ref(&manifest.applyset)).await? else {
        return Ok(None);
    };
    let list = |key: &str| -> BTreeSet<String> {
        live.pointer("/metadata/annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut namespaces = list(NAMESPACES_ANNOTATION);
    namespaces.insert(manifest.applyset.namespace.clone());
    Ok(Some(Record {
        group_kinds: list(GROUP_KINDS_ANNOTATION),
        namespaces,
    }))
}

/// Makes the parent record `record`, writing only when it records something else.
pub(crate) async fn record(
    cluster: &Cluster,
    manifest: &Manifest,
    record: &Record,
    force: bool,
) -> Result<(), Error> {
    let parent = parent(manifest, record);
    let live = api::get(cluster, parent_ref(&manifest.applyset)).await?;
    let wanted = &parent.json["metadata"];
    let same = live.as_ref().is_some_and(|live| {
        let has = |field: &str| {
            wanted[field].as_object().is_some_and(|want| {
                want.iter()
                    .all(|(k, v)| live["metadata"][field].get(k) == Some(v))
            })
        };
        has("labels")
            && has("annotations")
            && live["metadata"]["annotations"].get(NAMESPACES_ANNOTATION)
                == wanted["annotations"].get(NAMESPACES_ANNOTATION)
    });
    if !same {
        api::apply(cluster, &parent, false, force).await?;
    }
    Ok(())
}

/// The parent ConfigMap recording `record`.
fn parent(manifest: &Manifest, record: &Record) -> Object {
    let set = &manifest.applyset;
    let join = |items: &mut dyn Iterator<Item = &String>| -> String {
        items.map(String::as_str).collect::<Vec<_>>().join(",")
    };
    let mut annotations = BTreeMap::from([
        (TOOLING_ANNOTATION.to_owned(), ApplySet::tooling()),
        (
            GROUP_KINDS_ANNOTATION.to_owned(),
            join(&mut record.group_kinds.iter()),
        ),
    ]);
    let additional = join(&mut record.namespaces.iter().filter(|n| **n != set.namespace));
    if !additional.is_empty() {
        annotations.insert(NAMESPACES_ANNOTATION.to_owned(), additional);
    }
    let map = ConfigMap {
        metadata: ObjectMeta {
            name: Some(set.name.clone()),
            namespace: Some(set.namespace.clone()),
            labels: Some(BTreeMap::from([
                (ID_LABEL.to_owned(), set.id.clone()),
                (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
                (ECOSYSTEM_LABEL.to_owned(), manifest.ecosystem.clone()),
            ])),
            annotations: Some(annotations),
            ..Default::default()
        },
        ..Default::default()
    };
    Object::new(Step::Namespace, "applyset", &map)
}

/// Every kind to look through for the ecosystem's objects, in apply order: the kinds
/// DataSurface generates, then the others the parent records, found by discovery (a
/// kind the server no longer serves has no objects left).
pub(crate) async fn kinds(
    cluster: &Cluster,
    manifest: &Manifest,
    record: Option<&Record>,
) -> Result<Vec<Kind>, Error> {
    let mut kinds = managed_kinds();
    for object in &manifest.objects {
        if !kinds.contains(&object.kind) {
            kinds.push(object.kind);
        }
    }
    let known: BTreeSet<String> = kinds.iter().map(Kind::group_kind).collect();
    for group_kind in record.into_iter().flat_map(|r| &r.group_kinds) {
        if known.contains(group_kind) {
            continue;
        }
        if let Some(kind) = discover(cluster, group_kind).await? {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

/// Whether the server serves `kind` now.
pub(crate) async fn serves(cluster: &Cluster, kind: &Kind) -> Result<bool, Error> {
    Ok(discover(cluster, &kind.group_kind()).await?.is_some())
}

/// The kind `group_kind` (`CronJob.batch`) names, as the server serves it now.
async fn discover(cluster: &Cluster, group_kind: &str) -> Result<Option<Kind>, Error> {
    let (kind, group) = group_kind.split_once('.').unwrap_or((group_kind, ""));
    let found = match kube::discovery::oneshot::group(&cluster.client, group).await {
        Ok(found) => found,
        // The group is gone (its CRD removed): nothing of it is left to delete.
        Err(kube::Error::Discovery(_)) => return Ok(None),
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(None),
        Err(source) => {
            return Err(Error::Api {
                verb: "discover",
                object: group_kind.to_owned(),
                source,
            });
        }
    };
    Ok(found.recommended_kind(kind).map(|(resource, caps)| {
        // A Kind names its API with static strings, as the generated kinds do; a deploy
        // discovers the few kinds it no longer generates once, so these few bytes are
        // kept for the process's life.
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        Kind {
            group: leak(resource.group),
            version: leak(resource.version),
            api_version: leak(resource.api_version),
            kind: leak(resource.kind),
            plural: leak(resource.plural),
            namespaced: caps.scope == kube::discovery::Scope::Namespaced,
        }
    }))
}
