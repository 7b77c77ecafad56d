//! Airflow DAGs: one per ingestion stream, one per platform for its infrastructure. Each
//! runs the ecosystem's image as a Kubernetes pod with the job's command line; the pod's
//! exit code is the task's result. The files import nothing from this project and touch
//! no database when Airflow parses them.
//!
//! The policy the DAGs carry (docs/batches.md explains it to users): exit code
//! [`Exit::Busy`] — another runner has the stream, nothing was done — skips the task,
//! because the runner that holds the stream is doing this run's work; there are no
//! retries, because every run resumes its stream's open batch, so the next scheduled run
//! is the retry, and most failures (a source that does not match the model, the
//! mass-delete guard, duplicate keys) are ones a retry minutes later would only repeat.

use crate::artifact::{Artifact, Context};
use crate::exit::Exit;
use crate::image::image;
use crate::pods::{JOB_SERVICE_ACCOUNT, secret_env};
use askama::Template;
use datasurface_model::{Credential, PlatformMode, Resources, StreamKey, ValidEcosystem, naming};

/// A rendered DAG file, with the namespace whose Airflow loads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dag {
    pub(crate) namespace: String,
    pub(crate) k8s_platform: String,
    pub(crate) dag_id: String,
    pub(crate) contents: String,
}

impl Dag {
    /// Its file name in Airflow's DAG folder.
    pub(crate) fn file_name(&self) -> String {
        format!("{}.py", self.dag_id)
    }

    pub(crate) fn artifact(&self) -> Artifact {
        Artifact {
            path: format!("platforms/{}/dags/{}", self.k8s_platform, self.file_name()),
            contents: self.contents.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "pod_dag.py", escape = "none")]
struct PodDag {
    title: String,
    about: String,
    dag_id: String,
    description: String,
    schedule: String,
    tags: String,
    task_id: String,
    pod_name: String,
    namespace: String,
    image: String,
    arguments: String,
    env_vars: Vec<EnvVar>,
    service_account: String,
    resources: String,
    /// Set for the commands that can find their stream busy.
    busy_exit_code: Option<u8>,
}

/// An environment variable filled from a Secret (all fields are Python literals).
struct EnvVar {
    name: String,
    secret: String,
    key: String,
}

/// A Python string literal.
fn py(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialise")
}

fn py_list(items: &[&str]) -> String {
    format!(
        "[{}]",
        items.iter().map(|i| py(i)).collect::<Vec<_>>().join(", ")
    )
}

/// The pod's requests and limits, as a `k8s.V1ResourceRequirements` expression.
fn resources(resources: &Resources) -> String {
    let dict = |items: &[(&str, &str)]| {
        let items: Vec<String> = items
            .iter()
            .map(|(k, v)| format!("{}: {}", py(k), py(v)))
            .collect();
        format!("{{{}}}", items.join(", "))
    };
    let requests = dict(&[("cpu", &resources.cpu), ("memory", &resources.memory)]);
    let mut limits = vec![("memory", resources.memory_limit_or_request())];
    if let Some(cpu) = &resources.cpu_limit {
        limits.insert(0, ("cpu", cpu));
    }
    format!(
        "k8s.V1ResourceRequirements(requests={requests}, limits={})",
        dict(&limits)
    )
}

/// The environment variables a pod needs for `credentials`, from their Secrets.
fn env_vars(credentials: &[&Credential]) -> Vec<EnvVar> {
    secret_env(credentials)
        .iter()
        .map(|e| EnvVar {
            name: py(&e.var),
            secret: py(&e.secret),
            key: py(e.key),
        })
        .collect()
}

/// The DAG id of a stream's ingestion: `{k8s-platform}__{store}_ingestion`, or
/// `{k8s-platform}__{store}_{dataset}_ingestion` for a SINGLE_DATASET stream (Airflow ids
/// take no `#`).
pub fn ingestion_dag_id(platform: &str, stream: &StreamKey) -> String {
    let stream = match &stream.dataset {
        Some(d) => format!("{}_{d}", stream.store),
        None => stream.store.clone(),
    };
    format!("{}__{stream}_ingestion", naming::k8s_name(platform))
}

/// The DAG id of a platform's infrastructure: `{k8s-platform}_infrastructure`.
pub fn infrastructure_dag_id(platform: &str) -> String {
    format!("{}_infrastructure", naming::k8s_name(platform))
}

/// The DAG files Airflow in `namespace` loads, each named as its DAG folder holds it
/// (`yellowlive__Store1_ingestion.py`): what the Airflow pod's init container writes.
pub fn dag_files(eco: &ValidEcosystem, context: &Context, namespace: &str) -> Vec<Artifact> {
    dags(eco, context)
        .into_iter()
        .filter(|d| d.namespace == namespace)
        .map(|d| Artifact {
            path: d.file_name(),
            contents: d.contents,
        })
        .collect()
}

/// Every DAG of the ecosystem.
pub(crate) fn dags(eco: &ValidEcosystem, context: &Context) -> Vec<Dag> {
    let mut out = Vec::new();
    for platform in eco.platforms() {
        let provider = platform.provider;
        let image = image(eco, provider, context);
        let image = image.as_str();
        let resources = resources(&platform.model.resources);
        let k8s = naming::k8s_name(&platform.model.name);
        let mode = match platform.model.mode {
            PlatformMode::Live => "the current row per key",
            PlatformMode::Forensic => "every version, with batch milestones",
        };
        let render = |dag_id: String, dag: PodDag| Dag {
            namespace: provider.namespace.clone(),
            k8s_platform: k8s.clone(),
            contents: dag.render().expect("the DAG template renders") + "\n",
            dag_id,
        };
        for stream in eco.streams(platform) {
            let snapshot = stream.store.capture;
            let dag_id = ingestion_dag_id(&platform.model.name, &stream.key);
            let mut arguments = vec![
                "run",
                "--platform",
                platform.model.name.as_str(),
                "--store",
                stream.key.store.as_str(),
            ];
            if let Some(d) = &stream.key.dataset {
                arguments.extend(["--dataset", d]);
            }
            let datasets: Vec<&str> = stream.datasets.iter().map(|d| d.name.as_str()).collect();
            let dag = PodDag {
                title: format!("Ingestion of {} into {}.", stream.key, platform.model.name),
                about: format!(
                    "Each run takes one batch: a snapshot of {} from {} ({}), merged into {} ({mode}).",
                    datasets.join(", "),
                    snapshot.database.name,
                    snapshot.database.database,
                    platform.model.name
                ),
                dag_id: py(&dag_id),
                description: py(&format!(
                    "Snapshot {} into {}",
                    stream.key, platform.model.name
                )),
                schedule: py(&snapshot.trigger),
                tags: py_list(&["datasurface", &k8s, "ingestion"]),
                task_id: py("snapshot_merge"),
                pod_name: py(&naming::ingestion_pod_name(
                    &platform.model.name,
                    &stream.key.to_string(),
                )),
                namespace: py(&provider.namespace),
                image: py(image),
                arguments: py_list(&arguments),
                env_vars: env_vars(&[&snapshot.credential, &provider.merge_credential]),
                service_account: py(JOB_SERVICE_ACCOUNT),
                resources: resources.clone(),
                busy_exit_code: Some(Exit::Busy.code()),
            };
            out.push(render(dag_id, dag));
        }
        let dag_id = infrastructure_dag_id(&platform.model.name);
        let dag = PodDag {
            title: format!("Infrastructure of {}.", platform.model.name),
            about: format!(
                "Creates and evolves {}'s tables and workspace views in {} ({}).",
                platform.model.name, provider.merge_database.name, provider.merge_database.database
            ),
            dag_id: py(&dag_id),
            description: py(&format!("Tables and views of {}", platform.model.name)),
            schedule: py("@daily"),
            tags: py_list(&["datasurface", &k8s, "infrastructure"]),
            task_id: py("infra"),
            pod_name: py(&naming::infra_pod_name(&platform.model.name)),
            namespace: py(&provider.namespace),
            image: py(image),
            arguments: py_list(&["infra", "--platform", &platform.model.name]),
            env_vars: env_vars(&[&provider.merge_credential]),
            service_account: py(JOB_SERVICE_ACCOUNT),
            resources,
            // `infra` waits for the platform's DDL lock instead.
            busy_exit_code: None,
        };
        out.push(render(dag_id, dag));
    }
    out
}
