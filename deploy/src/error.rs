//! Why a deploy stopped, each naming the object and what to do about it.

use std::fmt;
use std::time::Duration;

/// A Secret the model needs that is missing, or missing keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSecret {
    pub namespace: String,
    pub name: String,
    /// The keys that are missing (all of them when the Secret is).
    pub keys: Vec<String>,
    /// Whether the Secret itself is missing.
    pub whole: bool,
}

impl fmt::Display for MissingSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self
            .keys
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        if self.whole {
            write!(
                f,
                "Secret {}/{} is missing (keys {keys})",
                self.namespace, self.name
            )
        } else {
            write!(
                f,
                "Secret {}/{} has no key {keys}",
                self.namespace, self.name
            )
        }
    }
}

/// What the cluster said about a pod that did not get ready: its last events and log lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    /// The pod looked at, if there is one.
    pub pod: Option<String>,
    /// The last events of the object and the pod, oldest first (`Warning BackOff: …`).
    pub events: Vec<String>,
    /// The last log lines of each container of the pod.
    pub logs: Vec<(String, Vec<String>)>,
    /// What could not be read, and why.
    pub unread: Vec<String>,
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pod {
            Some(pod) => write!(f, "\n  pod {pod}")?,
            None => write!(f, "\n  no pod yet")?,
        }
        if !self.events.is_empty() {
            write!(f, "\n  last events:")?;
            for e in &self.events {
                write!(f, "\n    {e}")?;
            }
        }
        for (container, lines) in &self.logs {
            write!(f, "\n  last log lines of {container}:")?;
            if lines.is_empty() {
                write!(f, "\n    (none)")?;
            }
            for line in lines {
                write!(f, "\n    {line}")?;
            }
        }
        for u in &self.unread {
            write!(f, "\n  ({u})")?;
        }
        Ok(())
    }
}

/// Why a deploy, plan or undeploy stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no kubeconfig found ({detail}) and not running inside a cluster: point --kubeconfig (or KUBECONFIG) at the file `kubectl` uses"
    )]
    NoKubeconfig { detail: String },
    #[error("the kubeconfig has no context `{context}`; it has: {}", available.join(", "))]
    UnknownContext {
        context: String,
        available: Vec<String>,
    },
    #[error("the kubeconfig cannot be used: {detail}")]
    Kubeconfig { detail: String },
    #[error(
        "cannot reach the cluster of context `{context}` at {server}: {detail}; check that the cluster is running and that `kubectl --context {context} get namespaces` works"
    )]
    Unreachable {
        context: String,
        server: String,
        detail: String,
    },
    #[error(
        "the cluster of context `{context}` rejected the credentials ({detail}); log in again (`kubectl --context {context} get namespaces` shows the same)"
    )]
    Unauthorized { context: String, detail: String },
    #[error(
        "forbidden: these credentials may not {verb} {resource}{}; ask a cluster administrator for that right (the server said: {message})",
        namespace.as_ref().map(|n| format!(" in namespace {n}")).unwrap_or_default()
    )]
    Forbidden {
        verb: &'static str,
        /// The resource, with its API group when not the core one (`rolebindings.rbac.authorization.k8s.io`).
        resource: String,
        namespace: Option<String>,
        message: String,
    },
    #[error(
        "{}; nothing was applied. Create {} as secrets.md (written by `generate`) shows, then deploy again",
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        if .0.len() == 1 { "it" } else { "them" }
    )]
    MissingSecrets(Vec<MissingSecret>),
    #[error(
        "{object}: {} managed by another field manager; undo that change, or deploy with --force-conflicts to take the fields over",
        conflicts.join("; ")
    )]
    Conflict {
        object: String,
        /// Each conflicting field with its manager, as the server says it.
        conflicts: Vec<String>,
    },
    #[error(
        "{object}: a field that cannot change would change ({message}); delete the object (`kubectl delete {kind} -n {namespace} {name}`; data in volumes is kept) and deploy again"
    )]
    Immutable {
        object: String,
        kind: String,
        namespace: String,
        name: String,
        message: String,
    },
    #[error("{object}: the server refused it: {message}")]
    Invalid { object: String, message: String },
    #[error(
        "{object} belongs to ecosystem `{other}`, not `{ours}`: two ecosystems cannot share a namespace's objects; give this one its own namespace in the model"
    )]
    Foreign {
        object: String,
        other: String,
        ours: String,
    },
    #[error(
        "{object} was not {what} within {}s (--timeout); what the cluster says:{diagnostics}",
        waited.as_secs()
    )]
    Timeout {
        object: String,
        what: &'static str,
        waited: Duration,
        diagnostics: Box<Diagnostics>,
    },
    #[error("{object} failed ({reason}); what the cluster says:{diagnostics}")]
    JobFailed {
        object: String,
        reason: String,
        diagnostics: Box<Diagnostics>,
    },
    #[error("{verb} {object}: {source}")]
    Api {
        verb: &'static str,
        object: String,
        #[source]
        source: kube::Error,
    },
}
