//! Kubernetes objects, built as typed k8s-openapi values and written as YAML: per service
//! provider its namespace, the service accounts and the least-privilege RBAC the Airflow
//! pod launcher needs, PostgreSQL, Airflow with the DAGs in a ConfigMap, a NetworkPolicy,
//! and per platform a Job running `infra`. Secrets are only ever referenced.

use crate::artifact::Artifact;
use crate::dags::Dag;
use crate::image::image;
use crate::naming_k8s;
use crate::pods::{JOB_SERVICE_ACCOUNT, secret_env};
use datasurface_model::{Credential, Platform, ValidEcosystem, YellowServiceProvider, naming};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, EnvVarSource,
    HTTPGetAction, Namespace, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext,
    PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SecretKeySelector, SecurityContext,
    Service, ServiceAccount, ServicePort, ServiceSpec, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The Airflow image the scheduler and webserver run.
pub const AIRFLOW_IMAGE: &str = "apache/airflow:2.10.5";
/// The PostgreSQL image of an in-cluster merge database.
pub const POSTGRES_IMAGE: &str = "postgres:16.4";
/// The service account of Airflow, allowed to launch the job pods.
pub const AIRFLOW_SERVICE_ACCOUNT: &str = "airflow";
/// The Secret holding Airflow's own settings.
pub const AIRFLOW_SECRET: &str = "airflow";
/// Its keys, and the variables they become.
pub const AIRFLOW_SECRET_KEYS: [(&str, &str); 3] = [
    ("sql-alchemy-conn", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"),
    ("fernet-key", "AIRFLOW__CORE__FERNET_KEY"),
    ("webserver-secret-key", "AIRFLOW__WEBSERVER__SECRET_KEY"),
];

pub(crate) fn artifacts(eco: &ValidEcosystem, dags: &[Dag]) -> Vec<Artifact> {
    let mut out = Vec::new();
    for provider in &eco.providers {
        let ns = provider.namespace.as_str();
        let mut add = |name: &str, yaml: String| {
            out.push(Artifact {
                path: format!("kubernetes/{ns}/{name}.yaml"),
                contents: yaml,
            })
        };
        add(
            "namespace",
            yaml(&Namespace {
                metadata: meta(ns, None),
                ..Default::default()
            }),
        );
        add(
            "serviceaccount-airflow",
            yaml(&ServiceAccount {
                metadata: meta(AIRFLOW_SERVICE_ACCOUNT, Some(ns)),
                ..Default::default()
            }),
        );
        add(
            "serviceaccount-datasurface-job",
            yaml(&ServiceAccount {
                metadata: meta(JOB_SERVICE_ACCOUNT, Some(ns)),
                // The job pods talk to PostgreSQL only, never to the Kubernetes API.
                automount_service_account_token: Some(false),
                ..Default::default()
            }),
        );
        let (role, binding) = pod_launcher(ns);
        add("role-airflow-pod-launcher", yaml(&role));
        add("rolebinding-airflow-pod-launcher", yaml(&binding));
        if let Some((statefulset, service, policy)) = postgres(provider) {
            add("postgres-statefulset", yaml(&statefulset));
            add("postgres-service", yaml(&service));
            add("postgres-networkpolicy", yaml(&policy));
        }
        let files: BTreeMap<String, String> = dags
            .iter()
            .filter(|d| d.namespace == ns)
            .map(|d| (d.file_name(), d.contents.clone()))
            .collect();
        add(
            "airflow-dags-configmap",
            yaml(&ConfigMap {
                metadata: meta("airflow-dags", Some(ns)),
                data: Some(files),
                ..Default::default()
            }),
        );
        add(
            "airflow-scheduler-deployment",
            yaml(&airflow(ns, "scheduler", &["scheduler"], None)),
        );
        add(
            "airflow-webserver-deployment",
            yaml(&airflow(ns, "webserver", &["webserver"], Some(8080))),
        );
        add(
            "airflow-webserver-service",
            yaml(&Service {
                metadata: meta("airflow-webserver", Some(ns)),
                spec: Some(ServiceSpec {
                    selector: Some(labels("airflow-webserver")),
                    ports: Some(vec![ServicePort {
                        name: Some("http".into()),
                        port: 8080,
                        target_port: Some(IntOrString::Int(8080)),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        );
        for platform in eco.platforms_of(provider) {
            let k8s = naming::k8s_name(&platform.name);
            add(&format!("{k8s}-infra-job"), yaml(&infra_job(eco, platform)));
        }
    }
    out
}

fn yaml<T: serde::Serialize>(value: &T) -> String {
    serde_saphyr::to_string(value).expect("Kubernetes objects serialise")
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(BTreeMap::from([(
            "app.kubernetes.io/part-of".to_owned(),
            "datasurface".to_owned(),
        )])),
        ..Default::default()
    }
}

fn labels(app: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_owned(), app.to_owned())])
}

fn selector(app: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels(app)),
        ..Default::default()
    }
}

/// A pod template labelled `app: {app}`.
fn pod_template(app: &str, spec: PodSpec) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(app)),
            ..Default::default()
        }),
        spec: Some(spec),
    }
}

/// What KubernetesPodOperator needs, and nothing more: no `pods/exec` (no XCom sidecar),
/// no secrets.
fn pod_launcher(ns: &str) -> (Role, RoleBinding) {
    let rule = |resources: &[&str], verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..Default::default()
    };
    let role = Role {
        metadata: meta("airflow-pod-launcher", Some(ns)),
        rules: Some(vec![
            rule(
                &["pods"],
                &["create", "get", "list", "watch", "patch", "delete"],
            ),
            rule(&["pods/log"], &["get"]),
            rule(&["events"], &["get", "list", "watch"]),
        ]),
    };
    let binding = RoleBinding {
        metadata: meta("airflow-pod-launcher", Some(ns)),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: "airflow-pod-launcher".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: AIRFLOW_SERVICE_ACCOUNT.into(),
            namespace: Some(ns.to_owned()),
            ..Default::default()
        }]),
    };
    (role, binding)
}

/// Variables filled from the Secrets of `credentials`.
fn credential_env(credentials: &[&Credential]) -> Vec<EnvVar> {
    secret_env(credentials)
        .iter()
        .map(|e| secret_var(&e.var, &e.secret, e.key))
        .collect()
}

fn secret_var(name: &str, secret: &str, key: &str) -> EnvVar {
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

fn plain_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..Default::default()
    }
}

fn resources(cpu: &str, memory: &str) -> ResourceRequirements {
    let amounts = BTreeMap::from([
        ("cpu".to_owned(), Quantity(cpu.to_owned())),
        ("memory".to_owned(), Quantity(memory.to_owned())),
    ]);
    ResourceRequirements {
        requests: Some(amounts),
        limits: Some(BTreeMap::from([(
            "memory".to_owned(),
            Quantity(memory.to_owned()),
        )])),
        ..Default::default()
    }
}

/// An in-cluster PostgreSQL for the merge database, when its host is a bare service name
/// (`postgres`); a host with dots is outside the cluster and left alone.
fn postgres(provider: &YellowServiceProvider) -> Option<(StatefulSet, Service, NetworkPolicy)> {
    let db = &provider.merge_database;
    if db.host.contains('.') || db.host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let ns = provider.namespace.as_str();
    let name = naming::k8s_name(&db.host);
    let secret = naming::k8s_name(&provider.merge_credential.name);
    let container = Container {
        name: "postgres".into(),
        image: Some(POSTGRES_IMAGE.into()),
        ports: Some(vec![ContainerPort {
            container_port: 5432,
            name: Some("postgres".into()),
            ..Default::default()
        }]),
        env: Some(vec![
            secret_var("POSTGRES_USER", &secret, "username"),
            secret_var("POSTGRES_PASSWORD", &secret, "password"),
            plain_env("POSTGRES_DB", &db.database),
            plain_env("PGDATA", "/var/lib/postgresql/data/pgdata"),
        ]),
        volume_mounts: Some(vec![VolumeMount {
            name: "data".into(),
            mount_path: "/var/lib/postgresql/data".into(),
            ..Default::default()
        }]),
        readiness_probe: Some(Probe {
            exec: Some(k8s_openapi::api::core::v1::ExecAction {
                command: Some(vec!["pg_isready".into(), "-U".into(), "postgres".into()]),
            }),
            period_seconds: Some(10),
            ..Default::default()
        }),
        resources: Some(resources("250m", "1Gi")),
        ..Default::default()
    };
    let statefulset = StatefulSet {
        metadata: meta(&name, Some(ns)),
        spec: Some(StatefulSetSpec {
            service_name: Some(name.clone()),
            replicas: Some(1),
            selector: selector(&name),
            template: pod_template(
                &name,
                PodSpec {
                    containers: vec![container],
                    ..Default::default()
                },
            ),
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".into()),
                    ..Default::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_owned(),
                            Quantity("20Gi".into()),
                        )])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let service = Service {
        metadata: meta(&name, Some(ns)),
        spec: Some(ServiceSpec {
            selector: Some(labels(&name)),
            ports: Some(vec![ServicePort {
                name: Some("postgres".into()),
                port: 5432,
                target_port: Some(IntOrString::Int(5432)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    // Only pods of this namespace may reach the database.
    let policy = NetworkPolicy {
        metadata: meta(&format!("{name}-same-namespace-only"), Some(ns)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(&name)),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(LabelSelector::default()),
                    ..Default::default()
                }]),
                ports: Some(vec![NetworkPolicyPort {
                    port: Some(IntOrString::Int(5432)),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
            }]),
            ..Default::default()
        }),
    };
    Some((statefulset, service, policy))
}

/// An Airflow component: the scheduler (which also migrates Airflow's database first) or
/// the webserver, with the DAGs from the ConfigMap.
fn airflow(ns: &str, component: &str, command: &[&str], port: Option<i32>) -> Deployment {
    let name = format!("airflow-{component}");
    let mut env: Vec<EnvVar> = AIRFLOW_SECRET_KEYS
        .iter()
        .map(|(key, var)| secret_var(var, AIRFLOW_SECRET, key))
        .collect();
    env.extend([
        plain_env("AIRFLOW__CORE__EXECUTOR", "LocalExecutor"),
        plain_env("AIRFLOW__CORE__LOAD_EXAMPLES", "False"),
        plain_env("AIRFLOW__CORE__DAGS_FOLDER", "/opt/airflow/dags"),
    ]);
    let container = |name: &str, args: &[&str]| Container {
        name: name.to_owned(),
        image: Some(AIRFLOW_IMAGE.into()),
        args: Some(args.iter().map(|a| (*a).to_owned()).collect()),
        env: Some(env.clone()),
        volume_mounts: Some(vec![VolumeMount {
            name: "dags".into(),
            mount_path: "/opt/airflow/dags".into(),
            read_only: Some(true),
            ..Default::default()
        }]),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut main = container(component, command);
    main.resources = Some(resources("250m", "1Gi"));
    if let Some(port) = port {
        main.ports = Some(vec![ContainerPort {
            container_port: port,
            name: Some("http".into()),
            ..Default::default()
        }]);
        main.readiness_probe = Some(Probe {
            http_get: Some(HTTPGetAction {
                path: Some("/health".into()),
                port: IntOrString::Int(port),
                ..Default::default()
            }),
            period_seconds: Some(15),
            ..Default::default()
        });
    }
    let init = (component == "scheduler").then(|| vec![container("migrate", &["db", "migrate"])]);
    Deployment {
        metadata: meta(&name, Some(ns)),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: selector(&name),
            template: pod_template(
                &name,
                PodSpec {
                    service_account_name: Some(AIRFLOW_SERVICE_ACCOUNT.into()),
                    init_containers: init,
                    containers: vec![main],
                    volumes: Some(vec![Volume {
                        name: "dags".into(),
                        config_map: Some(ConfigMapVolumeSource {
                            name: "airflow-dags".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }]),
                    ..Default::default()
                },
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A Job that runs `infra` for a platform once (the infrastructure DAG runs it daily).
fn infra_job(eco: &ValidEcosystem, platform: Platform<'_>) -> Job {
    let provider = platform.provider;
    let name = naming_k8s::object_name(&[&naming::k8s_name(&platform.name), "infra"]);
    let container = Container {
        name: "infra".into(),
        image: Some(image(eco, provider)),
        image_pull_policy: Some("IfNotPresent".into()),
        args: Some(vec![
            "infra".into(),
            "--platform".into(),
            platform.name.clone(),
        ]),
        env: Some(credential_env(&[&provider.merge_credential])),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            ..Default::default()
        }),
        resources: Some(resources("100m", "128Mi")),
        ..Default::default()
    };
    Job {
        metadata: meta(&name, Some(&provider.namespace)),
        spec: Some(JobSpec {
            backoff_limit: Some(2),
            ttl_seconds_after_finished: Some(86_400),
            template: pod_template(
                &name,
                PodSpec {
                    service_account_name: Some(JOB_SERVICE_ACCOUNT.into()),
                    automount_service_account_token: Some(false),
                    restart_policy: Some("Never".into()),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(10001),
                        ..Default::default()
                    }),
                    containers: vec![container],
                    ..Default::default()
                },
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}
