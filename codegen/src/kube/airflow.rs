//! Airflow, as a provider runs it: one pod with the scheduler (LocalExecutor: the tasks run
//! in it, each launching a job pod) and the webserver, sharing a volume of task logs — so
//! the UI shows every task's log, kept across restarts. The DAG files are written at the
//! pod's start by the ecosystem's own image (`dags --namespace`): they are always those of
//! the image the tasks run, and a model of any size fits (a ConfigMap holds 1 MiB, the DAGs
//! of 10,000 stores are 50). A Job migrates the metadata database and creates the admin
//! user from the `airflow` Secret; an init container waits for that migration. The metadata
//! database is `airflow` on the merge database's server, logged into with the merge
//! credential.

use super::access::AIRFLOW_SERVICE_ACCOUNT;
use super::meta::{
    Labels, app_labels, binary_container, credential_env, plain_env, requirements, secret_var,
    selector,
};
use super::object::{Object, Step};
use crate::pods::JOB_SERVICE_ACCOUNT;
use datasurface_model::{Resources, YellowServiceProvider, naming};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, EnvVar, HTTPGetAction, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec,
    Probe, SecurityContext, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The Airflow image of the scheduler, the webserver and the migration.
pub const AIRFLOW_IMAGE: &str = "apache/airflow:2.10.5";
/// The Secret holding Airflow's own settings and its admin user.
pub const AIRFLOW_SECRET: &str = "airflow";
/// The keys of that Secret every Airflow process reads, and the variables they become.
pub const AIRFLOW_SETTINGS_KEYS: [(&str, &str); 2] = [
    ("fernet-key", "AIRFLOW__CORE__FERNET_KEY"),
    ("webserver-secret-key", "AIRFLOW__WEBSERVER__SECRET_KEY"),
];
/// The keys of that Secret the migration Job creates the admin user from.
pub const AIRFLOW_ADMIN_KEYS: [(&str, &str); 2] = [
    ("admin-username", "AIRFLOW_ADMIN_USERNAME"),
    ("admin-password", "AIRFLOW_ADMIN_PASSWORD"),
];
/// Airflow's metadata database, on the merge database's server.
pub const AIRFLOW_DATABASE: &str = "airflow";
/// The Service of the webserver.
pub const WEBSERVER_SERVICE: &str = "airflow-webserver";
const APP: &str = "airflow";
/// Airflow's DAG folder.
const DAGS_FOLDER: &str = "/opt/airflow/dags";
const LOGS: &str = "airflow-logs";
const LOGS_SIZE: &str = "5Gi";
/// The airflow user of the image (its group is root, which owns the logs volume).
const AIRFLOW_UID: i64 = 50000;

/// The provider's Airflow: the task-log volume, the migration Job, the Deployment (whose
/// DAG files `image` writes) and its Service.
pub(crate) fn objects(
    labels: &Labels,
    provider: &YellowServiceProvider,
    image: String,
    tag: &str,
    pins: &[String],
) -> Vec<Object> {
    let ns = provider.namespace.as_str();
    let logs = PersistentVolumeClaim {
        metadata: labels.meta(LOGS, Some(ns)),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(LOGS_SIZE.into()),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let service = Service {
        metadata: labels.meta(WEBSERVER_SERVICE, Some(ns)),
        spec: Some(ServiceSpec {
            selector: Some(app_labels(APP)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 8080,
                target_port: Some(IntOrString::Int(8080)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    vec![
        Object::new(Step::Airflow, "airflow-logs-pvc", &logs),
        Object::new(
            Step::Airflow,
            "airflow-migrate-job",
            &migrate_job(labels, provider, tag),
        ),
        Object::new(
            Step::Airflow,
            "airflow-deployment",
            &deployment(labels, provider, image, pins),
        ),
        Object::new(Step::Airflow, "airflow-webserver-service", &service),
    ]
}

/// What every Airflow process needs: its settings, and how to reach its database.
fn env(provider: &YellowServiceProvider) -> Vec<EnvVar> {
    let mut env: Vec<EnvVar> = AIRFLOW_SETTINGS_KEYS
        .iter()
        .map(|(key, var)| secret_var(var, AIRFLOW_SECRET, key))
        .collect();
    env.extend(credential_env(&[&provider.merge_credential]));
    env.extend([
        plain_env(
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
            &connection_command(provider),
        ),
        plain_env("AIRFLOW__CORE__EXECUTOR", "LocalExecutor"),
        plain_env("AIRFLOW__CORE__LOAD_EXAMPLES", "False"),
        // The model's schedules are what runs: a deployed DAG starts unpaused.
        plain_env("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "False"),
        plain_env("AIRFLOW__CORE__DAGS_FOLDER", DAGS_FOLDER),
        plain_env("AIRFLOW__WEBSERVER__WORKERS", "2"),
    ]);
    env
}

/// The command Airflow runs for its database URL (`…_CMD`): the merge credential's
/// variables, percent-encoded, so any password works and none is written anywhere.
/// (Validation makes the merge credential a user and password.)
fn connection_command(provider: &YellowServiceProvider) -> String {
    let vars = provider.merge_credential.env_vars();
    let var = |key: &str| {
        vars.iter()
            .find(|(_, k)| *k == key)
            .map_or_else(String::new, |(v, _)| v.clone())
    };
    let db = &provider.merge_database;
    format!(
        "python -c \"import os, sys, urllib.parse as u; q = lambda v: u.quote(os.environ[v], safe=''); \
         sys.stdout.write('postgresql+psycopg2://' + q('{}') + ':' + q('{}') + '@{}:{}/{AIRFLOW_DATABASE}')\"",
        var("username"),
        var("password"),
        db.host,
        db.port
    )
}

/// An Airflow container running `args` (the image's entrypoint runs `airflow` with them).
fn container(provider: &YellowServiceProvider, name: &str, args: &[&str]) -> Container {
    Container {
        name: name.to_owned(),
        image: Some(AIRFLOW_IMAGE.into()),
        args: Some(args.iter().map(|a| (*a).to_owned()).collect()),
        env: Some(env(provider)),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            ..Default::default()
        }),
        resources: Some(requirements(&provider.airflow_resources)),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

/// The scheduler and the webserver in one pod: the webserver reads the task logs the
/// scheduler's tasks write, from the volume they share (ReadWriteOnce, hence one pod and
/// the Recreate strategy).
fn deployment(
    labels: &Labels,
    provider: &YellowServiceProvider,
    image: String,
    pins: &[String],
) -> Deployment {
    let ns = provider.namespace.as_str();
    let mut dags_args = vec!["dags", "--namespace", ns, "--out", DAGS_FOLDER];
    dags_args.extend(pins.iter().map(String::as_str));
    let mounts = vec![
        mount("dags", DAGS_FOLDER, true),
        mount("logs", "/opt/airflow/logs", false),
    ];
    let mut dags = binary_container(
        "dags",
        image,
        &dags_args,
        Vec::new(),
        &Resources::new("50m", "64Mi").memory_limit("256Mi"),
    );
    dags.volume_mounts = Some(vec![mount("dags", DAGS_FOLDER, false)]);
    let mut scheduler = container(provider, "scheduler", &["scheduler"]);
    scheduler.volume_mounts = Some(mounts.clone());
    let mut webserver = container(provider, "webserver", &["webserver"]);
    webserver.volume_mounts = Some(mounts);
    webserver.ports = Some(vec![ContainerPort {
        container_port: 8080,
        name: Some("http".into()),
        ..Default::default()
    }]);
    webserver.readiness_probe = Some(Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/health".into()),
            port: IntOrString::Int(8080),
            ..Default::default()
        }),
        period_seconds: Some(15),
        ..Default::default()
    });
    // The migration Job may still be running: wait for it rather than start on an old
    // schema.
    let wait = container(
        provider,
        "wait-for-migrations",
        &["db", "check-migrations", "--migration-wait-timeout", "600"],
    );
    Deployment {
        metadata: labels.meta(APP, Some(ns)),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: selector(APP),
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                ..Default::default()
            }),
            template: labels.pod_template(
                APP,
                PodSpec {
                    service_account_name: Some(AIRFLOW_SERVICE_ACCOUNT.into()),
                    security_context: Some(PodSecurityContext {
                        run_as_user: Some(AIRFLOW_UID),
                        fs_group: Some(0),
                        ..Default::default()
                    }),
                    init_containers: Some(vec![dags, wait]),
                    containers: vec![scheduler, webserver],
                    volumes: Some(vec![
                        Volume {
                            name: "dags".into(),
                            empty_dir: Some(EmptyDirVolumeSource::default()),
                            ..Default::default()
                        },
                        Volume {
                            name: "logs".into(),
                            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                                claim_name: LOGS.into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                    ]),
                    ..Default::default()
                },
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Migrates the metadata database, then creates the admin user from the `airflow` Secret
/// (`users create` leaves an existing user as it is). The password reaches the command as
/// an argument inside the pod only.
const MIGRATE: &str = r#"set -eu
airflow db migrate
airflow users create --role Admin --username "$AIRFLOW_ADMIN_USERNAME" --password "$AIRFLOW_ADMIN_PASSWORD" --firstname Airflow --lastname Admin --email admin@example.com"#;

/// The migration Job; its name carries the tag, so each model or image gives its own.
fn migrate_job(labels: &Labels, provider: &YellowServiceProvider, tag: &str) -> Job {
    let ns = provider.namespace.as_str();
    let name = naming::airflow_migrate_job_name(tag);
    let mut migrate = container(provider, "migrate", &["bash", "-c", MIGRATE]);
    if let Some(env) = &mut migrate.env {
        env.extend(
            AIRFLOW_ADMIN_KEYS
                .iter()
                .map(|(key, var)| secret_var(var, AIRFLOW_SECRET, key)),
        );
    }
    Job {
        metadata: labels.meta(&name, Some(ns)),
        spec: Some(JobSpec {
            // The database may still be starting when `kubectl apply -k` creates the Job.
            backoff_limit: Some(6),
            template: labels.pod_template(
                "airflow-migrate",
                PodSpec {
                    service_account_name: Some(JOB_SERVICE_ACCOUNT.into()),
                    automount_service_account_token: Some(false),
                    restart_policy: Some("Never".into()),
                    security_context: Some(PodSecurityContext {
                        run_as_user: Some(AIRFLOW_UID),
                        ..Default::default()
                    }),
                    containers: vec![migrate],
                    ..Default::default()
                },
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}
