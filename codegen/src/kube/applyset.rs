//! The ecosystem's ApplySet, as the Kubernetes convention (KEP-3659, kubectl's
//! `--applyset`) defines it: a parent ConfigMap in the first provider's namespace whose
//! `applyset.kubernetes.io/id` label is derived from its name, namespace and kind, and the
//! `applyset.kubernetes.io/part-of` label with that id on every namespaced object of the
//! ecosystem. The parent's annotations — the group-kinds and namespaces ever applied — are
//! the cluster's state, which `deploy` keeps up to date; so prune finds every kind an
//! earlier version applied, not only the kinds this version knows.

use super::meta::ecosystem_label;
use base64::Engine as _;
use datasurface_model::ValidEcosystem;
use sha2::{Digest, Sha256};

/// The label with the ApplySet's id on every member.
pub const PART_OF_LABEL: &str = "applyset.kubernetes.io/part-of";
/// The label with the ApplySet's id on its parent.
pub const ID_LABEL: &str = "applyset.kubernetes.io/id";
/// The parent's annotation naming the tool that manages the set (`datasurface/0.1.0`).
pub const TOOLING_ANNOTATION: &str = "applyset.kubernetes.io/tooling";
/// The parent's annotation listing every group-kind applied (`Deployment.apps,Service`).
pub const GROUP_KINDS_ANNOTATION: &str = "applyset.kubernetes.io/contains-group-kinds";
/// The parent's annotation listing the members' namespaces other than its own.
pub const NAMESPACES_ANNOTATION: &str = "applyset.kubernetes.io/additional-namespaces";

/// Where an ecosystem's ApplySet parent is, and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplySet {
    /// The parent ConfigMap's name: `applyset-{ecosystem}`.
    pub name: String,
    /// Its namespace: the model's first provider's.
    pub namespace: String,
    /// `applyset-<base64url(sha256(<name>.<namespace>.ConfigMap.))>-v1`.
    pub id: String,
}

impl ApplySet {
    /// The ApplySet of `eco`.
    pub fn of(eco: &ValidEcosystem) -> Self {
        let namespace = eco
            .model()
            .providers
            .first()
            .map_or("default", |p| p.namespace.as_str());
        ApplySet::new(&format!("applyset-{}", ecosystem_label(eco)), namespace)
    }

    /// The ApplySet whose parent is the ConfigMap `name` in `namespace`.
    pub fn new(name: &str, namespace: &str) -> Self {
        // The convention's id: name, namespace, kind and group of the parent joined by dots.
        let hash = Sha256::digest(format!("{name}.{namespace}.ConfigMap.").as_bytes());
        let id = format!(
            "applyset-{}-v1",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash)
        );
        ApplySet {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            id,
        }
    }

    /// The tooling annotation's value: this version of DataSurface.
    pub fn tooling() -> String {
        format!("datasurface/{}", env!("CARGO_PKG_VERSION"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_the_conventions() {
        // python3 -c 'import hashlib,base64; print(base64.urlsafe_b64encode(hashlib.sha256(
        //   b"applyset-test.ns.ConfigMap.").digest()).decode().rstrip("="))'
        assert_eq!(
            ApplySet::new("applyset-test", "ns").id,
            "applyset-2iBWmXXpDcWn6tUe_BTNc0UeBhas8RL6oUlcViRNBMc-v1"
        );
    }
}
