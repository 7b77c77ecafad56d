//! The calls deploy makes, on any kind of object, each turning the server's refusals into
//! an [`Error`] that names the object: Forbidden with the verb and resource, a conflict with
//! its fields, an immutable field.

use crate::connect::Cluster;
use crate::error::Error;
use datasurface_codegen::kube::{Kind, Object};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams,
    PropagationPolicy,
};
use serde_json::Value;

/// The field manager of every apply: what `kubectl` shows as the owner of the fields.
pub const FIELD_MANAGER: &str = "datasurface";

/// An object the cluster may hold: its kind, namespace and name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ref<'a> {
    pub(crate) kind: &'a Kind,
    pub(crate) namespace: Option<&'a str>,
    pub(crate) name: &'a str,
}

impl<'a> Ref<'a> {
    pub(crate) fn of(object: &'a Object) -> Self {
        Ref {
            kind: &object.kind,
            namespace: object.namespace.as_deref(),
            name: &object.name,
        }
    }

    /// `statefulset ns/postgres`.
    pub(crate) fn describe(&self) -> String {
        match self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

fn api(cluster: &Cluster, kind: &Kind, namespace: Option<&str>) -> Api<DynamicObject> {
    let resource = ApiResource {
        group: kind.group.to_owned(),
        version: kind.version.to_owned(),
        api_version: kind.api_version.to_owned(),
        kind: kind.kind.to_owned(),
        plural: kind.plural.to_owned(),
    };
    match namespace {
        Some(ns) => Api::namespaced_with(cluster.client.clone(), ns, &resource),
        None => Api::all_with(cluster.client.clone(), &resource),
    }
}

/// An object the server sent, as JSON again: it was JSON a moment ago (its fields are the
/// type's, the metadata's and a JSON value), so this cannot fail.
fn json(object: DynamicObject) -> Value {
    serde_json::to_value(object).expect("an object read from the API is JSON")
}

/// The live object, if there is one.
pub(crate) async fn get(cluster: &Cluster, at: Ref<'_>) -> Result<Option<Value>, Error> {
    api(cluster, at.kind, at.namespace)
        .get_opt(at.name)
        .await
        .map(|o| o.map(json))
        .map_err(|e| refused(e, "get", at))
}

/// Server-side apply of `object` (a dry run when `dry_run`): what the object is, or would
/// be, afterwards.
pub(crate) async fn apply(
    cluster: &Cluster,
    object: &Object,
    dry_run: bool,
    force: bool,
) -> Result<Value, Error> {
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.dry_run = dry_run;
    params.force = force;
    api(cluster, &object.kind, object.namespace.as_deref())
        .patch(&object.name, &params, &Patch::Apply(&object.json))
        .await
        .map(json)
        .map_err(|e| refused(e, "patch", Ref::of(object)))
}

/// Deletes the object, its dependents (a Job's pods, a Deployment's ReplicaSets) in the
/// background; one already gone is fine.
pub(crate) async fn delete(cluster: &Cluster, at: Ref<'_>) -> Result<(), Error> {
    let params = DeleteParams {
        // A Job's default is to orphan its pods.
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    match api(cluster, at.kind, at.namespace)
        .delete(at.name, &params)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(refused(e, "delete", at)),
    }
}

/// The objects of `kind` in `namespace` (every namespace's for a cluster-wide kind) that
/// carry the labels of `selector`.
pub(crate) async fn list(
    cluster: &Cluster,
    kind: &Kind,
    namespace: Option<&str>,
    selector: &str,
) -> Result<Vec<Value>, Error> {
    let at = Ref {
        kind,
        namespace,
        name: "",
    };
    api(cluster, kind, namespace)
        .list(&ListParams::default().labels(selector))
        .await
        .map(|list| list.items.into_iter().map(json).collect())
        .map_err(|e| refused(e, "list", at))
}

/// The error of `verb` on `at`, from what the server said.
pub(crate) fn refused(e: kube::Error, verb: &'static str, at: Ref<'_>) -> Error {
    let object = at.describe();
    let kube::Error::Api(status) = &e else {
        return Error::Api {
            verb,
            object,
            source: e,
        };
    };
    match status.code {
        403 => Error::Forbidden {
            verb,
            resource: match at.kind.group {
                "" => at.kind.plural.to_owned(),
                group => format!("{}.{group}", at.kind.plural),
            },
            namespace: at.namespace.map(str::to_owned),
            message: status.message.clone(),
        },
        409 if status.reason == "Conflict" && verb == "patch" => Error::Conflict {
            object,
            conflicts: conflicts(status),
        },
        422 if is_immutable(&status.message) => Error::Immutable {
            object,
            kind: at.kind.to_string(),
            namespace: at.namespace.unwrap_or_default().to_owned(),
            name: at.name.to_owned(),
            message: status.message.clone(),
        },
        422 => Error::Invalid {
            object,
            message: status.message.clone(),
        },
        _ => Error::Api {
            verb,
            object,
            source: e,
        },
    }
}

/// What the server says of an apply that would change a field no update may change.
fn is_immutable(message: &str) -> bool {
    message.contains("field is immutable") || message.contains("Forbidden: updates to")
}

/// The conflicting fields of a refused apply, each with its manager.
fn conflicts(status: &kube::core::Status) -> Vec<String> {
    let causes: Vec<String> = status
        .details
        .iter()
        .flat_map(|d| &d.causes)
        .map(|c| match c.field.as_str() {
            "" => c.message.clone(),
            field => format!("field {field}: {}", c.message),
        })
        .collect();
    if causes.is_empty() {
        vec![status.message.clone()]
    } else {
        causes
    }
}
