//! A generated Kubernetes object, as every consumer needs it: its kind and where the API
//! serves it, its name, the step of the rollout it belongs to, its JSON for the API and its
//! YAML file — all taken from one typed k8s-openapi value.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{Metadata, NamespaceResourceScope, Resource};
use std::any::TypeId;
use std::fmt;

/// A kind of object, and where the API serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kind {
    /// The API group (`apps`), empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    /// `apps/v1`, or `v1` for the core group.
    pub api_version: &'static str,
    /// `StatefulSet`.
    pub kind: &'static str,
    /// The plural in its URL (`statefulsets`).
    pub plural: &'static str,
    /// Whether it lives in a namespace (everything but the Namespace here).
    pub namespaced: bool,
}

impl Kind {
    /// The kind of the k8s-openapi type `K`.
    pub fn of<K: Resource + 'static>() -> Kind {
        Kind {
            group: K::GROUP,
            version: K::VERSION,
            api_version: K::API_VERSION,
            kind: K::KIND,
            plural: K::URL_PATH_SEGMENT,
            namespaced: TypeId::of::<K::Scope>() == TypeId::of::<NamespaceResourceScope>(),
        }
    }
}

impl Kind {
    /// The kind as an ApplySet records it: `Deployment.apps`, or `Service` in the core
    /// group.
    pub fn group_kind(&self) -> String {
        match self.group {
            "" => self.kind.to_owned(),
            group => format!("{}.{group}", self.kind),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind.to_lowercase())
    }
}

/// The steps of a rollout, in the order they are applied. Each step's objects exist (and
/// what the next step needs is ready) before the next step starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// The namespace.
    Namespace,
    /// Service accounts, and the role that lets Airflow launch the job pods.
    Access,
    /// The in-cluster PostgreSQL, ready to take connections.
    Postgres,
    /// A Job creating every database the model places on the in-cluster PostgreSQL.
    Databases,
    /// Airflow: its task-log volume, the Job that migrates its metadata database and
    /// creates the admin user, the scheduler and webserver (with the DAG files, which the
    /// ecosystem's image writes), their Service.
    Airflow,
    /// A Job per platform creating its tables and views (`infra`).
    Infra,
    /// The console (`serve`) with its Service and NetworkPolicy, and the Grafana dashboard.
    Console,
    /// The data change simulator of the in-cluster sources.
    Simulator,
}

impl Step {
    /// What a person calls the step.
    pub fn name(self) -> &'static str {
        match self {
            Step::Namespace => "namespace",
            Step::Access => "access",
            Step::Postgres => "postgres",
            Step::Databases => "databases",
            Step::Airflow => "airflow",
            Step::Infra => "infra",
            Step::Console => "console",
            Step::Simulator => "simulator",
        }
    }
}

/// One generated object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub kind: Kind,
    pub name: String,
    /// Its namespace; `None` for the Namespace itself.
    pub namespace: Option<String>,
    pub step: Step,
    /// Its file, relative to the output directory (`kubernetes/{namespace}/{file}.yaml`).
    pub path: String,
    /// The object as the API takes it.
    pub json: serde_json::Value,
    /// The object as its file holds it.
    pub yaml: String,
}

impl Object {
    /// The object `value`, applied in `step`, written to `kubernetes/{namespace}/{file}.yaml`
    /// (the namespace of the Namespace is its name).
    pub fn new<K>(step: Step, file: &str, value: &K) -> Object
    where
        K: Resource + Metadata<Ty = ObjectMeta> + serde::Serialize + 'static,
    {
        let meta = value.metadata();
        let name = meta.name.clone().expect("generated objects are named");
        let namespace = meta.namespace.clone();
        let folder = folder(namespace.as_deref(), &name);
        Object {
            kind: Kind::of::<K>(),
            path: format!("kubernetes/{folder}/{file}.yaml"),
            json: serde_json::to_value(value).expect("Kubernetes objects serialise"),
            yaml: serde_saphyr::to_string(value).expect("Kubernetes objects serialise"),
            name,
            namespace,
            step,
        }
    }

    /// The folder of its file under `kubernetes/`: its namespace's.
    pub(crate) fn folder(&self) -> &str {
        folder(self.namespace.as_deref(), &self.name)
    }

    /// `statefulset ns-kub-pg-test/postgres`: how messages name it.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// The folder of an object's file: its namespace, or for the Namespace its name.
fn folder<'a>(namespace: Option<&'a str>, name: &'a str) -> &'a str {
    namespace.unwrap_or(name)
}
