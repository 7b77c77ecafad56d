//! The console of a provider's platforms (`serve`): a Deployment of the ecosystem's image,
//! its Service (what Prometheus scrapes and people port-forward to), a NetworkPolicy that
//! lets in only its port, and the Grafana dashboard of its metrics in a ConfigMap the
//! usual dashboard sidecar picks up (label `grafana_dashboard: "1"`).

use super::meta::{Labels, app_labels, binary_container, credential_env, selector};
use super::object::{Object, Step};
use crate::observe::dashboard;
use datasurface_model::{Resources, ValidEcosystem, YellowServiceProvider};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ContainerPort, HTTPGetAction, PodSecurityContext, PodSpec, Probe, Service,
    ServicePort, ServiceSpec,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The console's name: its Deployment, Service, NetworkPolicy and pods' `app` label.
pub const CONSOLE: &str = "datasurface-console";
/// The port it serves pages and `/metrics` on.
pub const CONSOLE_PORT: i32 = 8080;
/// The ConfigMap of the Grafana dashboard.
pub const DASHBOARD: &str = "datasurface-dashboard";
/// The user the binary runs as (the image's `datasurface` user).
const UID: i64 = 10001;

/// The provider's console objects.
pub(crate) fn objects(
    eco: &ValidEcosystem,
    labels: &Labels,
    provider: &YellowServiceProvider,
    image: String,
) -> Vec<Object> {
    let ns = provider.namespace.as_str();
    let listen = format!("0.0.0.0:{CONSOLE_PORT}");
    // It reads the batch tables of the provider's merge database, with its own login when
    // the model gives one.
    let mut container = binary_container(
        "serve",
        image,
        &["serve", "--listen", &listen],
        credential_env(&[provider.console_login()]),
        &Resources::new("50m", "128Mi").memory_limit("512Mi"),
    );
    container.ports = Some(vec![ContainerPort {
        container_port: CONSOLE_PORT,
        name: Some("http".into()),
        ..Default::default()
    }]);
    let probe = |path: &str| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("http".into()),
            ..Default::default()
        }),
        period_seconds: Some(10),
        ..Default::default()
    };
    container.readiness_probe = Some(probe("/healthz"));
    container.liveness_probe = Some(probe("/healthz"));
    let deployment = Deployment {
        metadata: labels.meta(CONSOLE, Some(ns)),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: selector(CONSOLE),
            template: labels.pod_template(
                CONSOLE,
                PodSpec {
                    automount_service_account_token: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(UID),
                        ..Default::default()
                    }),
                    containers: vec![container],
                    ..Default::default()
                },
            ),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut service_meta = labels.meta(CONSOLE, Some(ns));
    // For a Prometheus that discovers targets by annotation (the operator's ServiceMonitor
    // or PodMonitor selects by label instead).
    service_meta.annotations = Some(BTreeMap::from([
        ("prometheus.io/scrape".to_owned(), "true".to_owned()),
        ("prometheus.io/port".to_owned(), CONSOLE_PORT.to_string()),
        ("prometheus.io/path".to_owned(), "/metrics".to_owned()),
    ]));
    let service = Service {
        metadata: service_meta,
        spec: Some(ServiceSpec {
            selector: Some(app_labels(CONSOLE)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: CONSOLE_PORT,
                target_port: Some(IntOrString::String("http".into())),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    // Only the console's port is open to other pods; it answers reads only.
    let policy = NetworkPolicy {
        metadata: labels.meta(CONSOLE, Some(ns)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(app_labels(CONSOLE)),
                ..Default::default()
            }),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                ports: Some(vec![NetworkPolicyPort {
                    port: Some(IntOrString::Int(CONSOLE_PORT)),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    };
    let mut dashboard_meta = labels.meta(DASHBOARD, Some(ns));
    dashboard_meta
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert("grafana_dashboard".into(), "1".into());
    let config = ConfigMap {
        metadata: dashboard_meta,
        data: Some(BTreeMap::from([(
            "datasurface.json".to_owned(),
            dashboard::json(eco),
        )])),
        ..Default::default()
    };
    vec![
        Object::new(Step::Console, "console-deployment", &deployment),
        Object::new(Step::Console, "console-service", &service),
        Object::new(Step::Console, "console-networkpolicy", &policy),
        Object::new(Step::Console, "grafana-dashboard-configmap", &config),
    ]
}
