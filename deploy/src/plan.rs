//! What a deploy would do, object by object, without changing anything: create what is
//! missing, change what a server-side dry-run apply shows would differ (with the fields),
//! replace a Job whose template changed or that failed, and prune what the model dropped.

use crate::api::{self, Ref};
use crate::connect::Cluster;
use crate::diff::{FieldChange, changes};
use crate::error::{Error, MissingSecret};
use crate::kind::ObjectKind;
use crate::manifest::Manifest;
use crate::prune;
use crate::secrets;
use datasurface_codegen::kube::{ECOSYSTEM_LABEL, Object};
use serde_json::Value;

/// What a deploy does with one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create,
    Change(Vec<FieldChange>),
    /// Delete and create again (a Job): why.
    Replace(String),
    Unchanged,
    /// Delete (with `--prune`): the model no longer has it.
    Prune,
    /// The apply would be refused: why (a conflict, an immutable field).
    Refused(String),
}

/// One object and what a deploy does with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// `deployment ns/airflow`.
    pub object: String,
    pub action: Action,
}

/// What a deploy would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Every object of the model, in apply order, then the ones to prune.
    pub objects: Vec<Planned>,
    /// The Secrets a deploy would stop on.
    pub missing_secrets: Vec<MissingSecret>,
}

impl Plan {
    fn count(&self, f: impl Fn(&Action) -> bool) -> usize {
        self.objects.iter().filter(|p| f(&p.action)).count()
    }

    /// Objects to create.
    pub fn to_create(&self) -> usize {
        self.count(|a| *a == Action::Create)
    }

    /// Objects to change (replaced Jobs and refused applies included).
    pub fn to_change(&self) -> usize {
        self.count(|a| {
            matches!(
                a,
                Action::Change(_) | Action::Replace(_) | Action::Refused(_)
            )
        })
    }

    /// Objects to prune.
    pub fn to_prune(&self) -> usize {
        self.count(|a| *a == Action::Prune)
    }

    /// Whether a deploy (with `--prune`) would change nothing.
    pub fn is_empty(&self) -> bool {
        self.to_create() + self.to_change() + self.to_prune() == 0
    }
}

/// What a deploy of `manifest` would do to the cluster. Sends nothing but reads and dry runs.
pub async fn plan(cluster: &Cluster, manifest: &Manifest) -> Result<Plan, Error> {
    let mut plan = Plan {
        missing_secrets: secrets::missing(cluster, manifest).await?,
        ..Plan::default()
    };
    // What the cluster does not serve the kind of, deploy leaves out and says so.
    let (objects, _) = manifest.for_cluster(cluster).await?;
    for object in objects {
        let action = match decide(cluster, manifest, object, false).await {
            Ok(decision) => decision.action(),
            Err(e @ (Error::Conflict { .. } | Error::Immutable { .. } | Error::Invalid { .. })) => {
                Action::Refused(e.to_string())
            }
            Err(e) => return Err(e),
        };
        plan.objects.push(Planned {
            object: object.describe(),
            action,
        });
    }
    for live in prune::candidates(cluster, manifest).await? {
        plan.objects.push(Planned {
            object: live.describe(),
            action: Action::Prune,
        });
    }
    Ok(plan)
}

/// What to do with one object, from the live one and a dry run.
pub(crate) enum Decision {
    Create,
    Unchanged,
    Change(Vec<FieldChange>),
    Replace(String),
}

impl Decision {
    fn action(self) -> Action {
        match self {
            Decision::Create => Action::Create,
            Decision::Unchanged => Action::Unchanged,
            Decision::Change(fields) => Action::Change(fields),
            Decision::Replace(why) => Action::Replace(why),
        }
    }
}

/// Compares `object` with the cluster: missing, as the model wants it, or with the fields
/// a server-side apply would change. A Job's template cannot change, so a Job that differs
/// (or failed) is replaced. An object labelled with another ecosystem is refused.
pub(crate) async fn decide(
    cluster: &Cluster,
    manifest: &Manifest,
    object: &Object,
    force: bool,
) -> Result<Decision, Error> {
    let Some(live) = api::get(cluster, Ref::of(object)).await? else {
        return Ok(Decision::Create);
    };
    if let Some(other) = live
        .pointer("/metadata/labels")
        .and_then(|l| l.get(ECOSYSTEM_LABEL))
        .and_then(Value::as_str)
        .filter(|other| *other != manifest.ecosystem)
    {
        return Err(Error::Foreign {
            object: object.describe(),
            other: other.to_owned(),
            ours: manifest.ecosystem.clone(),
        });
    }
    let job = ObjectKind::of(&object.kind) == ObjectKind::Job;
    if job && failed(&live) {
        return Ok(Decision::Replace("it failed".into()));
    }
    match api::apply(cluster, object, true, force).await {
        Ok(after) => {
            let fields = changes(&live, &after);
            Ok(match (fields.is_empty(), job) {
                (true, _) => Decision::Unchanged,
                (false, true) => Decision::Replace("its template changed".into()),
                (false, false) => Decision::Change(fields),
            })
        }
        Err(Error::Immutable { .. }) if job => Ok(Decision::Replace("its template changed".into())),
        Err(e) => Err(e),
    }
}

/// Whether a Job has failed for good (its `Failed` condition is true).
pub(crate) fn failed(job: &Value) -> bool {
    job.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Failed")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}
