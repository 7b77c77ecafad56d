//! Kubernetes objects, built as typed k8s-openapi values: per service provider its
//! namespace, the service accounts and the least-privilege role the Airflow pod launcher
//! needs, PostgreSQL with a Job creating its databases, Airflow with its task logs and the
//! DAG files its init container writes from the ecosystem's image, per platform a Job running `infra`, and the simulator of the in-cluster sources.
//! Each [`Object`] knows its step of the rollout, so the YAML files, the kustomizations
//! and `deploy` all apply them in one order. Secrets are only ever referenced.

mod access;
mod airflow;
mod applyset;
mod batch;
mod console;
mod kustomize;
mod meta;
mod object;
mod postgres;

pub use access::{AIRFLOW_SERVICE_ACCOUNT, POD_LAUNCHER_RULES};
pub use airflow::{
    AIRFLOW_ADMIN_KEYS, AIRFLOW_DATABASE, AIRFLOW_IMAGE, AIRFLOW_SECRET, AIRFLOW_SETTINGS_KEYS,
    WEBSERVER_SERVICE,
};
pub use applyset::{
    ApplySet, GROUP_KINDS_ANNOTATION, ID_LABEL, NAMESPACES_ANNOTATION, PART_OF_LABEL,
    TOOLING_ANNOTATION,
};
pub(crate) use batch::simulated;
pub use console::{CONSOLE, CONSOLE_PORT, DASHBOARD};
pub(crate) use meta::Labels;
pub use meta::{ECOSYSTEM_LABEL, MANAGED_BY, ecosystem_label, ecosystem_selector};
pub use object::{Kind, Object, Step};
pub use postgres::POSTGRES_IMAGE;

use crate::artifact::{Artifact, Context};
use crate::image::{dags_pin_args, dev_image, image, image_tag};
use datasurface_model::ValidEcosystem;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};

/// Every object of the ecosystem, in apply order: step by step, and within a step
/// provider by provider.
pub fn objects(eco: &ValidEcosystem, context: &Context) -> Vec<Object> {
    let labels = meta::Labels::new(eco);
    let tag = image_tag(eco, context);
    let mut out = Vec::new();
    for provider in &eco.model().providers {
        let ns = provider.namespace.as_str();
        out.extend(access::objects(&labels, ns));
        out.extend(postgres::objects(eco, &labels, provider, &tag));
        out.extend(airflow::objects(
            &labels,
            provider,
            image(eco, provider, context),
            &tag,
            &dags_pin_args(eco, context),
        ));
        out.extend(batch::objects(eco, &labels, provider, context, &tag));
        out.extend(console::objects(
            eco,
            &labels,
            provider,
            image(eco, provider, context),
        ));
    }
    // Stable: the order within a step stays as built.
    out.sort_by_key(|o| o.step);
    out
}

/// Every kind of object an ecosystem may have: what pruning and `undeploy` look through
/// besides the kinds its ApplySet's parent records (which finds the kinds an earlier version
/// applied; these also find objects deployed before the parent existed).
pub fn managed_kinds() -> Vec<Kind> {
    vec![
        Kind::of::<Namespace>(),
        Kind::of::<ServiceAccount>(),
        Kind::of::<Role>(),
        Kind::of::<RoleBinding>(),
        Kind::of::<StatefulSet>(),
        Kind::of::<Service>(),
        Kind::of::<NetworkPolicy>(),
        Kind::of::<PersistentVolumeClaim>(),
        Kind::of::<Job>(),
        Kind::of::<Deployment>(),
        Kind::of::<ConfigMap>(),
    ]
}

/// The YAML file of every object, and the kustomizations that apply them.
pub(crate) fn artifacts(objects: &[Object]) -> Vec<Artifact> {
    let mut out: Vec<Artifact> = objects
        .iter()
        .map(|o| Artifact {
            path: o.path.clone(),
            contents: o.yaml.clone(),
        })
        .collect();
    out.extend(kustomize::artifacts(objects));
    out
}

/// The images of the ecosystem's binary to build and push, once each: every provider's,
/// and its development variant where the simulator runs.
pub fn images(eco: &ValidEcosystem, context: &Context) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for provider in &eco.model().providers {
        let mut add = |image: String| {
            if !out.contains(&image) {
                out.push(image);
            }
        };
        add(image(eco, provider, context));
        if !simulated(eco, provider).is_empty() {
            add(dev_image(eco, provider, context));
        }
    }
    out
}
