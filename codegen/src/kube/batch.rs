//! The pods of the ecosystem's own image that deploy starts: per platform a Job running
//! `infra` once (the infrastructure DAG runs it daily after), and the data change
//! simulator of each source that lives in the provider's in-cluster PostgreSQL.
//!
//! A Job's pod template cannot be changed once created, so each Job's name carries the
//! image tag: a changed model or binary gives a new Job, and re-applying never fails.

use super::meta::{Labels, binary_container, credential_env};
use super::object::{Object, Step};
use super::postgres;
use crate::artifact::Context;
use crate::image::{dev_image, image};
use crate::pods::JOB_SERVICE_ACCOUNT;
use datasurface_model::{Resources, Store, ValidEcosystem, YellowServiceProvider, naming};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{PodSecurityContext, PodSpec};

/// The user the binary runs as (the image's `datasurface` user).
const UID: i64 = crate::image::IMAGE_UID as i64;

/// The pod spec of the ecosystem's image around `container`.
fn pod(container: k8s_openapi::api::core::v1::Container, restart: &str) -> PodSpec {
    PodSpec {
        service_account_name: Some(JOB_SERVICE_ACCOUNT.into()),
        automount_service_account_token: Some(false),
        restart_policy: Some(restart.into()),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(UID),
            ..Default::default()
        }),
        containers: vec![container],
        ..Default::default()
    }
}

pub(crate) fn objects(
    eco: &ValidEcosystem,
    labels: &Labels,
    provider: &YellowServiceProvider,
    context: &Context,
    tag: &str,
) -> Vec<Object> {
    let ns = provider.namespace.as_str();
    let mut out = Vec::new();
    for platform in eco.platforms_of(provider) {
        let k8s = naming::k8s_name(&platform.model.name);
        let name = naming::infra_job_name(&platform.model.name, tag);
        let container = binary_container(
            "infra",
            image(eco, provider, context),
            &["infra", "--platform", &platform.model.name],
            credential_env(&[&provider.merge_credential]),
            &platform.model.resources,
        );
        let job = Job {
            metadata: labels.meta(&name, Some(ns)),
            spec: Some(JobSpec {
                // The databases may still be being created when `kubectl apply -k` runs.
                backoff_limit: Some(4),
                template: labels.pod_template(
                    &naming::infra_job_app(&platform.model.name),
                    pod(container, "Never"),
                ),
                ..Default::default()
            }),
            ..Default::default()
        };
        out.push(Object::new(Step::Infra, &format!("{k8s}-infra-job"), &job));
    }
    for store in simulated(eco, provider) {
        let app = naming::simulator_name(&store.model.name);
        let container = binary_container(
            "simulate",
            dev_image(eco, provider, context),
            &["simulate", "--store", &store.model.name, "--create-tables"],
            credential_env(&[&store.capture.credential]),
            &Resources::new("50m", "64Mi").memory_limit("128Mi"),
        );
        let deployment = Deployment {
            metadata: labels.meta(&app, Some(ns)),
            spec: Some(DeploymentSpec {
                replicas: Some(1),
                selector: super::meta::selector(&app),
                template: labels.pod_template(&app, pod(container, "Always")),
                ..Default::default()
            }),
            ..Default::default()
        };
        out.push(Object::new(
            Step::Simulator,
            &format!("{app}-deployment"),
            &deployment,
        ));
    }
    out
}

/// The stores the provider's simulator changes: those its platforms ingest whose source
/// lives in its in-cluster PostgreSQL, when the simulator is on.
pub(crate) fn simulated<'e>(
    eco: &'e ValidEcosystem,
    provider: &'e YellowServiceProvider,
) -> Vec<Store<'e>> {
    let mut stores: Vec<Store<'e>> = Vec::new();
    if !provider.simulator {
        return stores;
    }
    let mut seen = std::collections::HashSet::new();
    for platform in eco.platforms_of(provider) {
        for stream in eco.streams(platform) {
            let store = stream.store;
            if postgres::on_server(provider, &store.capture.database)
                && seen.insert(store.model.name.as_str())
            {
                stores.push(store);
            }
        }
    }
    stores
}
