//! The Secrets the model needs, checked before anything is applied: each must exist with
//! every key its pods read. Only the names of the keys are looked at; the values the API
//! returns are dropped unread.

use crate::api::{Ref, refused};
use crate::connect::Cluster;
use crate::error::{Error, MissingSecret};
use crate::manifest::Manifest;
use datasurface_codegen::kube::Kind;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

/// What is missing of the Secrets `manifest` needs (empty: they are all there).
pub(crate) async fn missing(
    cluster: &Cluster,
    manifest: &Manifest,
) -> Result<Vec<MissingSecret>, Error> {
    let kind = Kind::of::<Secret>();
    let mut out = Vec::new();
    for required in &manifest.secrets {
        let api: Api<Secret> = Api::namespaced(cluster.client.clone(), &required.namespace);
        let live = api.get_opt(&required.name).await.map_err(|e| {
            refused(
                e,
                "get",
                Ref {
                    kind: &kind,
                    namespace: Some(&required.namespace),
                    name: &required.name,
                },
            )
        })?;
        let whole = live.is_none();
        let present: Vec<String> = live
            .map(|s| {
                let data = s.data.unwrap_or_default().into_keys();
                let string_data = s.string_data.unwrap_or_default().into_keys();
                data.chain(string_data).collect()
            })
            .unwrap_or_default();
        let keys: Vec<String> = required
            .keys
            .iter()
            .map(|(key, _)| (*key).to_owned())
            .filter(|key| !present.contains(key))
            .collect();
        if !keys.is_empty() {
            out.push(MissingSecret {
                namespace: required.namespace.clone(),
                name: required.name.clone(),
                keys,
                whole,
            });
        }
    }
    Ok(out)
}
