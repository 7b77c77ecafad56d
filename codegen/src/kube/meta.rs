//! What the objects share: their labels (every object says it is managed by DataSurface and
//! which ecosystem it belongs to, which is how deploy finds what to prune and undeploy
//! removes), pod templates, environment variables from Secrets, resources and security
//! contexts.

use crate::pods::secret_env;
use datasurface_model::{Credential, Resources, ValidEcosystem, naming};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, PodSpec, PodTemplateSpec, ResourceRequirements,
    SecretKeySelector, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use std::collections::BTreeMap;

/// The label saying who manages an object, with DataSurface's value.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "datasurface");
/// The label naming the ecosystem an object belongs to.
pub const ECOSYSTEM_LABEL: &str = "datasurface.io/ecosystem";
const PART_OF: (&str, &str) = ("app.kubernetes.io/part-of", "datasurface");
/// The label the selectors of the workloads match.
const APP: &str = "app";

/// The value of [`ECOSYSTEM_LABEL`] for `eco`: its name as a DNS label.
pub fn ecosystem_label(eco: &ValidEcosystem) -> String {
    naming::ecosystem_label(&eco.model().name)
}

/// The label selector of every object of `eco`:
/// `app.kubernetes.io/managed-by=datasurface,datasurface.io/ecosystem={eco}`.
pub fn ecosystem_selector(eco: &ValidEcosystem) -> String {
    format!(
        "{}={},{ECOSYSTEM_LABEL}={}",
        MANAGED_BY.0,
        MANAGED_BY.1,
        ecosystem_label(eco)
    )
}

/// Builds objects of one ecosystem: its labels go on every object and pod.
#[derive(Debug, Clone)]
pub(crate) struct Labels {
    ecosystem: String,
    /// The id of the ecosystem's ApplySet, which its namespaced objects are part of.
    applyset: String,
}

impl Labels {
    pub(crate) fn new(eco: &ValidEcosystem) -> Self {
        Labels {
            ecosystem: ecosystem_label(eco),
            applyset: super::applyset::ApplySet::of(eco).id,
        }
    }

    /// The labels of every object of the ecosystem, and `app` when given.
    fn labels(&self, app: Option<&str>) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([
            (PART_OF.0.to_owned(), PART_OF.1.to_owned()),
            (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
            (ECOSYSTEM_LABEL.to_owned(), self.ecosystem.clone()),
        ]);
        if let Some(app) = app {
            labels.insert(APP.to_owned(), app.to_owned());
        }
        labels
    }

    /// Metadata of an object called `name` in `namespace` (`None`: cluster-wide). A
    /// namespaced object is a member of the ecosystem's ApplySet; the Namespace is not (a
    /// namespaced parent's members are namespaced, and prune never deletes a namespace).
    pub(crate) fn meta(&self, name: &str, namespace: Option<&str>) -> ObjectMeta {
        let mut labels = self.labels(None);
        if namespace.is_some() {
            labels.insert(
                super::applyset::PART_OF_LABEL.to_owned(),
                self.applyset.clone(),
            );
        }
        ObjectMeta {
            name: Some(name.to_owned()),
            namespace: namespace.map(str::to_owned),
            labels: Some(labels),
            ..Default::default()
        }
    }

    /// Metadata of a PersistentVolumeClaim template: the claims a StatefulSet makes carry
    /// the ecosystem's labels, so `undeploy --delete-data` finds them.
    pub(crate) fn claim_meta(&self, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(self.labels(None)),
            ..Default::default()
        }
    }

    /// A pod template labelled `app: {app}` and with the ecosystem's labels.
    pub(crate) fn pod_template(&self, app: &str, spec: PodSpec) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(self.labels(Some(app))),
                ..Default::default()
            }),
            spec: Some(spec),
        }
    }
}

/// The selector of the pods labelled `app: {app}`.
pub(crate) fn selector(app: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(app_labels(app)),
        ..Default::default()
    }
}

/// `app: {app}`, what a Service selects.
pub(crate) fn app_labels(app: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(APP.to_owned(), app.to_owned())])
}

/// Variables filled from the Secrets of `credentials`.
pub(crate) fn credential_env(credentials: &[&Credential]) -> Vec<EnvVar> {
    secret_env(credentials)
        .iter()
        .map(|e| secret_var(&e.var, &e.secret, e.key))
        .collect()
}

/// A variable filled from `key` of the Secret `secret`.
pub(crate) fn secret_var(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(crate) fn plain_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..Default::default()
    }
}

/// The requests and limits of `resources`.
pub(crate) fn requirements(resources: &Resources) -> ResourceRequirements {
    let quantity = |q: &str| Quantity(q.to_owned());
    let mut limits = BTreeMap::from([(
        "memory".to_owned(),
        quantity(resources.memory_limit_or_request()),
    )]);
    if let Some(cpu) = &resources.cpu_limit {
        limits.insert("cpu".to_owned(), quantity(cpu));
    }
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), quantity(&resources.cpu)),
            ("memory".to_owned(), quantity(&resources.memory)),
        ])),
        limits: Some(limits),
        ..Default::default()
    }
}

/// A container of the ecosystem's own image: `args` for its binary, non-root on a
/// read-only file system.
pub(crate) fn binary_container(
    name: &str,
    image: String,
    args: &[&str],
    env: Vec<EnvVar>,
    resources: &Resources,
) -> Container {
    Container {
        name: name.to_owned(),
        image: Some(image),
        image_pull_policy: Some("IfNotPresent".into()),
        args: Some(args.iter().map(|a| (*a).to_owned()).collect()),
        env: (!env.is_empty()).then_some(env),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            ..Default::default()
        }),
        resources: Some(requirements(resources)),
        ..Default::default()
    }
}
