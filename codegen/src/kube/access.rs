//! The namespace, its service accounts, and what Airflow may do in it: exactly what the
//! KubernetesPodOperator calls (cncf-kubernetes provider 10.x) — create, read, list, label
//! (patch) and delete the job pods, read their logs, list and watch their events. No
//! `pods/exec` (no XCom sidecar), no Secrets, nothing cluster-wide.

use super::meta::Labels;
use super::object::{Object, Step};
use crate::pods::JOB_SERVICE_ACCOUNT;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};

/// The service account of Airflow, allowed to launch the job pods.
pub const AIRFLOW_SERVICE_ACCOUNT: &str = "airflow";
/// The role (and its binding) that allows it.
const POD_LAUNCHER: &str = "airflow-pod-launcher";

/// The rules of the pod launcher role: (resource, verbs).
pub const POD_LAUNCHER_RULES: [(&str, &[&str]); 3] = [
    ("pods", &["create", "delete", "get", "list", "patch"]),
    ("pods/log", &["get"]),
    ("events", &["list", "watch"]),
];

pub(crate) fn objects(labels: &Labels, ns: &str) -> Vec<Object> {
    let namespace = Namespace {
        metadata: labels.meta(ns, None),
        ..Default::default()
    };
    let airflow = ServiceAccount {
        metadata: labels.meta(AIRFLOW_SERVICE_ACCOUNT, Some(ns)),
        ..Default::default()
    };
    let job = ServiceAccount {
        metadata: labels.meta(JOB_SERVICE_ACCOUNT, Some(ns)),
        // The job pods talk to PostgreSQL only, never to the Kubernetes API.
        automount_service_account_token: Some(false),
        ..Default::default()
    };
    let role = Role {
        metadata: labels.meta(POD_LAUNCHER, Some(ns)),
        rules: Some(
            POD_LAUNCHER_RULES
                .iter()
                .map(|(resource, verbs)| PolicyRule {
                    api_groups: Some(vec![String::new()]),
                    resources: Some(vec![(*resource).to_owned()]),
                    verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
                    ..Default::default()
                })
                .collect(),
        ),
    };
    let binding = RoleBinding {
        metadata: labels.meta(POD_LAUNCHER, Some(ns)),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: POD_LAUNCHER.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: AIRFLOW_SERVICE_ACCOUNT.into(),
            namespace: Some(ns.to_owned()),
            ..Default::default()
        }]),
    };
    vec![
        Object::new(Step::Namespace, "namespace", &namespace),
        Object::new(Step::Access, "serviceaccount-airflow", &airflow),
        Object::new(Step::Access, "serviceaccount-datasurface-job", &job),
        Object::new(Step::Access, "role-airflow-pod-launcher", &role),
        Object::new(Step::Access, "rolebinding-airflow-pod-launcher", &binding),
    ]
}
