//! The kinds of object deploy treats in their own way — waited for, replaced rather than
//! changed, kept as data — told apart by their k8s-openapi type (API group, version and
//! kind), once per decision. Every other kind is [`ObjectKind::Other`]: applied, pruned and
//! deleted like any object, and never taken for one of these.

use datasurface_codegen::kube::Kind;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim};

/// What deploy knows an object to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    /// Waited for until its replicas are ready.
    StatefulSet,
    /// Waited for until rolled out.
    Deployment,
    /// Waited for until complete; replaced, never changed, since its template cannot change.
    Job,
    /// Holds data: never pruned, kept by undeploy unless the data goes too.
    PersistentVolumeClaim,
    /// Holds the claims and the Secrets: kept as they are.
    Namespace,
    /// Any other kind: nothing particular to wait for or keep.
    Other,
}

impl ObjectKind {
    /// What `kind` is.
    pub(crate) fn of(kind: &Kind) -> ObjectKind {
        [
            (Kind::of::<StatefulSet>(), ObjectKind::StatefulSet),
            (Kind::of::<Deployment>(), ObjectKind::Deployment),
            (Kind::of::<Job>(), ObjectKind::Job),
            (
                Kind::of::<PersistentVolumeClaim>(),
                ObjectKind::PersistentVolumeClaim,
            ),
            (Kind::of::<Namespace>(), ObjectKind::Namespace),
        ]
        .into_iter()
        .find(|(known, _)| known == kind)
        .map_or(ObjectKind::Other, |(_, what)| what)
    }

    /// What an object of this kind is waited for to be, if anything: `ready`, `rolled out`
    /// or `complete`.
    pub(crate) fn awaited(self) -> Option<&'static str> {
        match self {
            ObjectKind::StatefulSet => Some("ready"),
            ObjectKind::Deployment => Some("rolled out"),
            ObjectKind::Job => Some("complete"),
            ObjectKind::PersistentVolumeClaim | ObjectKind::Namespace | ObjectKind::Other => None,
        }
    }

    /// Whether it holds data (a PersistentVolumeClaim) or everything else (a Namespace).
    pub(crate) fn holds_data(self) -> bool {
        matches!(
            self,
            ObjectKind::PersistentVolumeClaim | ObjectKind::Namespace
        )
    }
}

#[cfg(test)]
mod tests {
    use super::ObjectKind;
    use datasurface_codegen::kube::{Kind, managed_kinds};
    use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::{Pod, Service};

    #[test]
    fn kinds_are_told_apart_by_type() {
        assert_eq!(
            ObjectKind::of(&Kind::of::<StatefulSet>()),
            ObjectKind::StatefulSet
        );
        assert_eq!(
            ObjectKind::of(&Kind::of::<Deployment>()),
            ObjectKind::Deployment
        );
        assert_eq!(ObjectKind::of(&Kind::of::<Job>()), ObjectKind::Job);
        assert_eq!(ObjectKind::of(&Kind::of::<Service>()), ObjectKind::Other);
        assert_eq!(ObjectKind::of(&Kind::of::<Pod>()), ObjectKind::Other);
        // A kind of the same name in another API group is not a Job.
        let other_job = Kind {
            group: "example.com",
            version: "v1",
            api_version: "example.com/v1",
            ..Kind::of::<Job>()
        };
        assert_eq!(ObjectKind::of(&other_job), ObjectKind::Other);
    }

    #[test]
    fn only_workloads_are_waited_for_and_only_data_is_kept() {
        let awaited: Vec<&str> = managed_kinds()
            .iter()
            .filter(|k| ObjectKind::of(k).awaited().is_some())
            .map(|k| k.kind)
            .collect();
        assert_eq!(awaited, ["StatefulSet", "Job", "Deployment"]);
        let kept: Vec<&str> = managed_kinds()
            .iter()
            .filter(|k| ObjectKind::of(k).holds_data())
            .map(|k| k.kind)
            .collect();
        assert_eq!(kept, ["Namespace", "PersistentVolumeClaim"]);
        assert_eq!(ObjectKind::Other.awaited(), None);
        assert!(!ObjectKind::Other.holds_data());
    }
}
