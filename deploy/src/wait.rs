//! Waiting for what the next step needs: a StatefulSet ready, a Deployment rolled out, a
//! Job complete. The cluster is asked again every poll interval until `--timeout`; a Job
//! that fails, or anything still not there at the deadline, stops the deploy with the
//! pod's last events and log lines.

use crate::api::{Ref, refused};
use crate::connect::Cluster;
use crate::error::{Diagnostics, Error};
use crate::kind::ObjectKind;
use crate::progress::{Event, Progress};
use datasurface_codegen::kube::Object;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use kube::Api;
use kube::api::{ListParams, LogParams};
use std::time::Duration;
use tokio::time::Instant;

/// How long to wait, and how often to look.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Patience {
    pub(crate) timeout: Duration,
    pub(crate) poll: Duration,
}

/// How far an object is.
enum State {
    Done,
    Pending,
    Failed(String),
}

/// Waits until `object` is what its kind is waited for to be ([`ObjectKind::awaited`]).
pub(crate) async fn until_done(
    cluster: &Cluster,
    object: &Object,
    patience: Patience,
    progress: &mut dyn Progress,
) -> Result<(), Error> {
    let kind = ObjectKind::of(&object.kind);
    let Some(what) = kind.awaited() else {
        return Ok(());
    };
    // What is waited for lives in a namespace.
    let ns = object.namespace.as_deref().unwrap_or_default();
    let start = Instant::now();
    loop {
        let state = state(cluster, object, kind, ns).await?;
        let elapsed = start.elapsed();
        match state {
            State::Done => {
                progress.event(Event::Done {
                    object: object.describe(),
                    what,
                    elapsed,
                });
                return Ok(());
            }
            State::Failed(reason) => {
                return Err(Error::JobFailed {
                    object: object.describe(),
                    reason,
                    diagnostics: Box::new(diagnostics(cluster, object, ns).await),
                });
            }
            State::Pending if elapsed >= patience.timeout => {
                return Err(Error::Timeout {
                    object: object.describe(),
                    what,
                    waited: patience.timeout,
                    diagnostics: Box::new(diagnostics(cluster, object, ns).await),
                });
            }
            State::Pending => {
                progress.event(Event::Waiting {
                    object: object.describe(),
                    what,
                    elapsed,
                });
                tokio::time::sleep(patience.poll.min(patience.timeout - elapsed)).await;
            }
        }
    }
}

/// Waits until the object `at` is gone (a deleted Job, before it is created again).
pub(crate) async fn until_gone(
    cluster: &Cluster,
    at: Ref<'_>,
    patience: Patience,
    progress: &mut dyn Progress,
) -> Result<(), Error> {
    let start = Instant::now();
    loop {
        let elapsed = start.elapsed();
        if crate::api::get(cluster, at).await?.is_none() {
            return Ok(());
        }
        if elapsed >= patience.timeout {
            return Err(Error::Timeout {
                object: at.describe(),
                what: "deleted",
                waited: patience.timeout,
                diagnostics: Box::default(),
            });
        }
        progress.event(Event::Waiting {
            object: at.describe(),
            what: "gone",
            elapsed,
        });
        tokio::time::sleep(patience.poll.min(patience.timeout - elapsed)).await;
    }
}

/// How far `object`, of `kind`, is.
async fn state(
    cluster: &Cluster,
    object: &Object,
    kind: ObjectKind,
    ns: &str,
) -> Result<State, Error> {
    let at = Ref::of(object);
    let client = cluster.client.clone();
    let get_err = |e| refused(e, "get", at);
    Ok(match kind {
        ObjectKind::StatefulSet => {
            let s = Api::<StatefulSet>::namespaced(client, ns)
                .get(&object.name)
                .await
                .map_err(get_err)?;
            let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let status = s.status.unwrap_or_default();
            let current = status.observed_generation >= s.metadata.generation;
            done(
                current
                    && status.ready_replicas.unwrap_or(0) >= want
                    && status.updated_replicas.unwrap_or(0) >= want,
            )
        }
        ObjectKind::Deployment => {
            // As `kubectl rollout status` decides it.
            let d = Api::<Deployment>::namespaced(client, ns)
                .get(&object.name)
                .await
                .map_err(get_err)?;
            let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let status = d.status.unwrap_or_default();
            let updated = status.updated_replicas.unwrap_or(0);
            done(
                status.observed_generation >= d.metadata.generation
                    && updated >= want
                    && status.replicas.unwrap_or(0) <= updated
                    && status.available_replicas.unwrap_or(0) >= updated,
            )
        }
        ObjectKind::Job => {
            let j = Api::<Job>::namespaced(client, ns)
                .get(&object.name)
                .await
                .map_err(get_err)?;
            let conditions = j.status.and_then(|s| s.conditions).unwrap_or_default();
            let holds = |kind: &str| {
                conditions
                    .iter()
                    .find(|c| c.type_ == kind && c.status == "True")
            };
            if holds("Complete").is_some() {
                State::Done
            } else if let Some(failed) = holds("Failed") {
                State::Failed(
                    [failed.reason.as_deref(), failed.message.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(": "),
                )
            } else {
                State::Pending
            }
        }
        // Nothing to wait for: ready as soon as it is applied.
        ObjectKind::PersistentVolumeClaim | ObjectKind::Namespace | ObjectKind::Other => {
            State::Done
        }
    })
}

fn done(ready: bool) -> State {
    if ready { State::Done } else { State::Pending }
}

/// How many events and log lines a diagnosis shows.
const EVENTS: usize = 10;
const LOG_LINES: i64 = 20;

/// The last events of `object` and of its newest pod, and that pod's last log lines. What
/// cannot be read is said, not an error: the deploy is failing already.
pub(crate) async fn diagnostics(cluster: &Cluster, object: &Object, ns: &str) -> Diagnostics {
    let mut d = Diagnostics::default();
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), ns);
    let selector = match pod_selector(object, ObjectKind::of(&object.kind)) {
        Some(s) => s,
        None => return d,
    };
    let pod = match pods.list(&ListParams::default().labels(&selector)).await {
        Ok(list) => list.items.into_iter().max_by(|a, b| {
            a.metadata
                .creation_timestamp
                .cmp(&b.metadata.creation_timestamp)
        }),
        Err(e) => {
            d.unread.push(format!("pods of {}: {e}", object.describe()));
            None
        }
    };
    let mut names = vec![object.name.clone()];
    if let Some(pod) = &pod {
        let name = pod.metadata.name.clone().unwrap_or_default();
        d.pod = Some(format!("{ns}/{name}"));
        names.push(name);
    }
    let events: Api<KubeEvent> = Api::namespaced(cluster.client.clone(), ns);
    let mut found = Vec::new();
    for name in &names {
        let params = ListParams::default().fields(&format!("involvedObject.name={name}"));
        match events.list(&params).await {
            Ok(list) => found.extend(list.items),
            Err(e) => d.unread.push(format!("events of {name}: {e}")),
        }
    }
    found.sort_by_key(|e| {
        e.last_timestamp
            .clone()
            .or_else(|| e.first_timestamp.clone())
            .or_else(|| e.metadata.creation_timestamp.clone())
    });
    d.events = found
        .iter()
        .rev()
        .take(EVENTS)
        .rev()
        .map(|e| {
            format!(
                "{} {} {}: {}",
                e.type_.as_deref().unwrap_or("Normal"),
                e.involved_object.name.as_deref().unwrap_or_default(),
                e.reason.as_deref().unwrap_or_default(),
                e.message.as_deref().unwrap_or_default().trim()
            )
        })
        .collect();
    if let Some(pod) = pod {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let spec = pod.spec.unwrap_or_default();
        let containers = spec
            .init_containers
            .unwrap_or_default()
            .into_iter()
            .chain(spec.containers)
            .map(|c| c.name);
        for container in containers {
            let params = LogParams {
                container: Some(container.clone()),
                tail_lines: Some(LOG_LINES),
                ..Default::default()
            };
            match pods.logs(&name, &params).await {
                Ok(text) => d
                    .logs
                    .push((container, text.lines().map(str::to_owned).collect())),
                Err(e) => d.unread.push(format!("log of {container}: {e}")),
            }
        }
    }
    d
}

/// The label selector of the pods of `object`, of `kind`.
fn pod_selector(object: &Object, kind: ObjectKind) -> Option<String> {
    if kind == ObjectKind::Job {
        return Some(format!("job-name={}", object.name));
    }
    let labels = object
        .json
        .pointer("/spec/selector/matchLabels")?
        .as_object()?;
    Some(
        labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(","),
    )
}
