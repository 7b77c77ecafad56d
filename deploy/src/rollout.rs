//! `deploy`: the Secrets first (nothing is applied while one is missing), then the objects
//! step by step in the model's order — each applied server-side only if it would change,
//! a changed or failed Job deleted and created again — waiting at the end of each step for
//! what the next one needs; with `prune`, the ecosystem's objects the model dropped last.

use crate::api::{self, Ref};
use crate::connect::Cluster;
use crate::error::Error;
use crate::manifest::Manifest;
use crate::plan::{Decision, decide};
use crate::progress::{Event, Outcome, Progress};
use crate::wait::{self, Patience};
use crate::{applyset, prune, secrets};
use datasurface_codegen::kube::{Object, Step};
use std::time::Duration;

/// How to deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Take over fields another field manager owns, instead of stopping.
    pub force_conflicts: bool,
    /// Also delete the ecosystem's objects the model no longer has.
    pub prune: bool,
    /// How long to wait for each object a step waits for.
    pub timeout: Duration,
    /// How often to look while waiting.
    pub poll: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            force_conflicts: false,
            prune: false,
            timeout: Duration::from_secs(600),
            poll: Duration::from_secs(2),
        }
    }
}

/// What a deploy did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    pub created: usize,
    pub changed: usize,
    pub replaced: usize,
    pub unchanged: usize,
    pub pruned: usize,
}

impl Report {
    /// Whether the deploy changed nothing.
    pub fn is_noop(&self) -> bool {
        self.created + self.changed + self.replaced + self.pruned == 0
    }
}

/// Deploys `manifest` to `cluster`.
pub async fn deploy(
    cluster: &Cluster,
    manifest: &Manifest,
    options: &Options,
    progress: &mut dyn Progress,
) -> Result<Report, Error> {
    progress.event(Event::Step("secrets".into()));
    let missing = secrets::missing(cluster, manifest).await?;
    if !missing.is_empty() {
        return Err(Error::MissingSecrets(missing));
    }
    progress.event(Event::SecretsPresent(manifest.secrets.len()));

    let patience = Patience {
        timeout: options.timeout,
        poll: options.poll,
    };
    let mut report = Report::default();
    // The objects of kinds a cluster may not serve go where it does, in their step.
    let (objects, left_out) = manifest.for_cluster(cluster).await?;
    for object in left_out {
        progress.event(Event::LeftOut {
            object: object.describe(),
            why: format!(
                "the cluster does not serve {} {}: load observability/ into a Prometheus \
                 without the operator",
                object.kind.api_version, object.kind.kind
            ),
        });
    }
    let mut steps: Vec<Step> = objects.iter().map(|o| o.step).collect();
    steps.dedup();
    // The ApplySet's parent records the members' kinds and namespaces before any member is
    // applied (so an interrupted deploy leaves nothing prune cannot find), once the
    // namespace it lives in exists: what it recorded and the model's.
    let wanted = applyset::Record::of_objects(objects.iter().copied());
    let mut recorded = false;
    for step in steps {
        if step > Step::Namespace && !recorded {
            widen_record(cluster, manifest, &wanted, options.force_conflicts).await?;
            recorded = true;
        }
        progress.event(Event::Step(step.name().into()));
        let objects: Vec<&Object> = objects.iter().copied().filter(|o| o.step == step).collect();
        for object in &objects {
            let outcome = match decide(cluster, manifest, object, options.force_conflicts).await? {
                Decision::Unchanged => Outcome::Unchanged,
                Decision::Create => {
                    api::apply(cluster, object, false, options.force_conflicts).await?;
                    Outcome::Created
                }
                Decision::Change(_) => {
                    api::apply(cluster, object, false, options.force_conflicts).await?;
                    Outcome::Changed
                }
                Decision::Replace(_) => {
                    let at = Ref::of(object);
                    api::delete(cluster, at).await?;
                    wait::until_gone(cluster, at, patience, progress).await?;
                    api::apply(cluster, object, false, options.force_conflicts).await?;
                    Outcome::Replaced
                }
            };
            match outcome {
                Outcome::Created => report.created += 1,
                Outcome::Changed => report.changed += 1,
                Outcome::Replaced => report.replaced += 1,
                Outcome::Unchanged => report.unchanged += 1,
            }
            progress.event(Event::Applied {
                object: object.describe(),
                outcome,
            });
        }
        for object in &objects {
            wait::until_done(cluster, object, patience, progress).await?;
        }
    }
    if !recorded {
        widen_record(cluster, manifest, &wanted, options.force_conflicts).await?;
    }

    if options.prune {
        progress.event(Event::Step("prune".into()));
        for live in prune::candidates(cluster, manifest).await? {
            api::delete(cluster, live.at()).await?;
            report.pruned += 1;
            progress.event(Event::Deleted {
                object: live.describe(),
            });
        }
        // Nothing of another kind or namespace is left: the parent records the model's.
        applyset::record(cluster, manifest, &wanted, options.force_conflicts).await?;
    }
    Ok(report)
}

/// Widens what the ApplySet's parent records to what it recorded plus `wanted`.
async fn widen_record(
    cluster: &Cluster,
    manifest: &Manifest,
    wanted: &applyset::Record,
    force_conflicts: bool,
) -> Result<(), Error> {
    let before = applyset::recorded(cluster, manifest)
        .await?
        .unwrap_or_default();
    applyset::record(cluster, manifest, &before.union(wanted), force_conflicts).await
}
