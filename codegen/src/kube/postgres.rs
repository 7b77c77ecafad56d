//! The in-cluster PostgreSQL of a provider whose merge database's host is a bare service
//! name (`postgres`): a StatefulSet with its volume, a Service, a NetworkPolicy admitting
//! only the namespace's pods, and a Job that creates, idempotently, every database the
//! model places on it. A host with dots (or an IP address) is outside the cluster and
//! left to its administrators.

use super::airflow::AIRFLOW_DATABASE;
use super::meta::{Labels, app_labels, plain_env, requirements, secret_var, selector};
use super::object::{Object, Step};
use crate::pods::JOB_SERVICE_ACCOUNT;
use datasurface_model::{
    PostgresDatabase, Resources, ValidEcosystem, YellowServiceProvider, naming,
};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, ExecAction, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PodSecurityContext, PodSpec, Probe, SecurityContext, Service, ServicePort, ServiceSpec,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The PostgreSQL image of an in-cluster merge database.
pub const POSTGRES_IMAGE: &str = "postgres:16.4";
/// The user id of `postgres` in that image.
const POSTGRES_UID: i64 = 999;
/// The size of its volume.
const STORAGE: &str = "20Gi";

/// The Service name of the provider's in-cluster PostgreSQL, if its merge database is in
/// the cluster.
pub(crate) fn service_name(provider: &YellowServiceProvider) -> Option<String> {
    let host = &provider.merge_database.host;
    let outside = host.contains('.') || host.parse::<std::net::IpAddr>().is_ok();
    (!outside).then(|| naming::postgres_service_name(host))
}

/// Whether `db` lives on the provider's in-cluster PostgreSQL.
pub(crate) fn on_server(provider: &YellowServiceProvider, db: &PostgresDatabase) -> bool {
    let merge = &provider.merge_database;
    service_name(provider).is_some() && db.host == merge.host && db.port == merge.port
}

/// The databases to create on the provider's in-cluster PostgreSQL: the merge database,
/// Airflow's, and every source of the provider's platforms that lives there, once each.
pub(crate) fn databases(eco: &ValidEcosystem, provider: &YellowServiceProvider) -> Vec<String> {
    let mut names = vec![
        provider.merge_database.database.clone(),
        AIRFLOW_DATABASE.to_owned(),
    ];
    let mut seen: std::collections::HashSet<String> = names.iter().cloned().collect();
    for platform in eco.platforms_of(provider) {
        for stream in eco.streams(platform) {
            let db = &stream.store.capture.database;
            if on_server(provider, db) && seen.insert(db.database.clone()) {
                names.push(db.database.clone());
            }
        }
    }
    names
}

pub(crate) fn objects(
    eco: &ValidEcosystem,
    labels: &Labels,
    provider: &YellowServiceProvider,
    tag: &str,
) -> Vec<Object> {
    let Some(name) = service_name(provider) else {
        return Vec::new();
    };
    let ns = provider.namespace.as_str();
    let db = &provider.merge_database;
    let secret = naming::secret_name(&provider.merge_credential.name);
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
            exec: Some(ExecAction {
                command: Some(vec!["pg_isready".into(), "-U".into(), "postgres".into()]),
            }),
            period_seconds: Some(10),
            ..Default::default()
        }),
        resources: Some(requirements(&provider.postgres_resources)),
        ..Default::default()
    };
    let statefulset = StatefulSet {
        metadata: labels.meta(&name, Some(ns)),
        spec: Some(StatefulSetSpec {
            service_name: Some(name.clone()),
            replicas: Some(1),
            selector: selector(&name),
            template: labels.pod_template(
                &name,
                PodSpec {
                    containers: vec![container],
                    ..Default::default()
                },
            ),
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: labels.claim_meta("data"),
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_owned(),
                            Quantity(STORAGE.into()),
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
        metadata: labels.meta(&name, Some(ns)),
        spec: Some(ServiceSpec {
            selector: Some(app_labels(&name)),
            ports: Some(vec![ServicePort {
                name: Some("postgres".into()),
                port: i32::from(db.port),
                target_port: Some(IntOrString::Int(5432)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    // Only pods of this namespace may reach the database.
    let policy = NetworkPolicy {
        metadata: labels.meta(&naming::postgres_policy_name(&db.host), Some(ns)),
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
    let databases = databases_job(labels, provider, &db.host, &databases(eco, provider), tag);
    vec![
        Object::new(Step::Postgres, "postgres-statefulset", &statefulset),
        Object::new(Step::Postgres, "postgres-service", &service),
        Object::new(Step::Postgres, "postgres-networkpolicy", &policy),
        Object::new(Step::Databases, "postgres-databases-job", &databases),
    ]
}

/// Creates each database given as an argument unless it exists (`\gexec` runs the
/// `CREATE DATABASE` only when the query returns it; `%I` quotes the name). psql's
/// variables quote what the model names, so no name is ever spliced into SQL by hand.
const CREATE_DATABASES: &str = r#"set -eu
for db in "$@"; do
  printf '%s\n' "SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec" \
    | psql -v ON_ERROR_STOP=1 -v db="$db" --quiet
  echo "database $db is there"
done"#;

/// The Job that creates the databases on the in-cluster PostgreSQL `host`, logged in with
/// the merge credential (the server's superuser). Its name carries the tag, so a changed
/// model gives a new Job rather than an edit of an immutable one.
fn databases_job(
    labels: &Labels,
    provider: &YellowServiceProvider,
    host: &str,
    databases: &[String],
    tag: &str,
) -> Job {
    let ns = provider.namespace.as_str();
    let name = naming::databases_job_name(host, tag);
    let secret = naming::secret_name(&provider.merge_credential.name);
    let mut command = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        CREATE_DATABASES.to_owned(),
    ];
    command.push("create-databases".to_owned());
    command.extend(databases.iter().cloned());
    let container = Container {
        name: "create-databases".into(),
        image: Some(POSTGRES_IMAGE.into()),
        command: Some(command),
        env: Some(vec![
            plain_env("PGHOST", host),
            plain_env("PGPORT", &provider.merge_database.port.to_string()),
            plain_env("PGDATABASE", "postgres"),
            secret_var("PGUSER", &secret, "username"),
            secret_var("PGPASSWORD", &secret, "password"),
        ]),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            ..Default::default()
        }),
        resources: Some(requirements(&Resources::new("50m", "64Mi"))),
        ..Default::default()
    };
    Job {
        metadata: labels.meta(&name, Some(ns)),
        spec: Some(JobSpec {
            // PostgreSQL may still be starting when `kubectl apply -k` creates the Job.
            backoff_limit: Some(6),
            template: labels.pod_template(
                "postgres-databases",
                PodSpec {
                    service_account_name: Some(JOB_SERVICE_ACCOUNT.into()),
                    restart_policy: Some("Never".into()),
                    automount_service_account_token: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_user: Some(POSTGRES_UID),
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
