//! Pulling a base by digest into a layout and pushing built images, with oci-client: over
//! TLS (rustls with ring, the roots of the system), or plain HTTP to a registry on the
//! loopback address, which Docker also allows without configuration.

use crate::auth;
use crate::base;
use crate::digest::Digest;
use crate::error::Error;
use crate::layout::Layout;
use crate::spec::{Descriptor, Index, Manifest, media};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

/// A registry reference: `REGISTRY/REPOSITORY[:TAG][@DIGEST]`.
#[derive(Debug, Clone)]
pub struct Ref(Reference);

impl Ref {
    pub fn parse(text: &str) -> Result<Self, Error> {
        text.parse::<Reference>()
            .map(Ref)
            .map_err(|e| Error::Registry {
                reference: text.to_owned(),
                message: format!("not an image reference: {e}"),
            })
    }

    /// The registry's host (and port).
    pub fn registry(&self) -> &str {
        self.0.resolve_registry()
    }

    /// The repository, without registry, tag or digest.
    pub fn repository(&self) -> &str {
        self.0.repository()
    }

    /// The digest it names, if any.
    pub fn digest(&self) -> Option<&str> {
        self.0.digest()
    }

    fn with_tag(&self, tag: &str) -> Reference {
        Reference::with_tag(
            self.0.registry().into(),
            self.0.repository().into(),
            tag.into(),
        )
    }

    fn with_digest(&self, digest: &Digest) -> Reference {
        Reference::with_digest(
            self.0.registry().into(),
            self.0.repository().into(),
            digest.to_string(),
        )
    }
}

impl std::fmt::Display for Ref {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.whole())
    }
}

/// Whether `registry` is on the loopback address, where plain HTTP is allowed.
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn client(reference: &Ref) -> Client {
    // reqwest is built without a crypto provider of its own: use ring, as every other TLS
    // connection of the runtime does. Installing twice is harmless.
    let _ = ring().install_default();
    let registry = reference.0.registry().to_owned();
    let protocol = if is_loopback(&registry) {
        ClientProtocol::HttpsExcept(vec![registry])
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        ..ClientConfig::default()
    })
}

fn registry_auth(reference: &Ref) -> Result<RegistryAuth, Error> {
    Ok(match auth::credentials(reference.registry())? {
        Some(found) => RegistryAuth::Basic(found.username, found.password),
        None => RegistryAuth::Anonymous,
    })
}

fn failed(
    reference: &impl std::fmt::Display,
) -> impl FnOnce(oci_client::errors::OciDistributionError) -> Error {
    let reference = reference.to_string();
    move |e| Error::Registry {
        reference,
        message: e.to_string(),
    }
}

const ACCEPTED: &[&str] = &[
    media::MANIFEST,
    media::INDEX,
    media::DOCKER_MANIFEST,
    media::DOCKER_LIST,
];

/// Pulls the image `reference` names by digest — the index, the manifest for `platform`,
/// its config and layers — into `layout`, checking every blob against its digest; the
/// digest to build on.
pub async fn pull(
    reference: &Ref,
    layout: &Layout,
    platform: &base::Platform,
) -> Result<Digest, Error> {
    let Some(digest) = reference.digest() else {
        return Err(Error::BaseNotPinned(reference.to_string()));
    };
    let digest = Digest::parse(digest)?;
    let client = client(reference);
    let auth = registry_auth(reference)?;
    let mut wanted = digest.clone();
    loop {
        let at = reference.with_digest(&wanted);
        if !layout.has_blob(&wanted) {
            let (bytes, _) = client
                .pull_manifest_raw(&at, &auth, ACCEPTED)
                .await
                .map_err(failed(&at.whole()))?;
            if Digest::of(&bytes) != wanted {
                return Err(Error::Registry {
                    reference: at.whole(),
                    message: "the registry sent a manifest that does not match its digest".into(),
                });
            }
            layout.write_blob(&bytes)?;
        }
        let bytes = layout.read_blob(&wanted)?;
        if media::is_index(&base::media_type_of(&bytes, &wanted)?) {
            let index: Index = layout.read_json(&wanted)?;
            wanted = base::for_platform(&index, &wanted, platform)?
                .digest
                .clone();
            continue;
        }
        let manifest: Manifest = layout.read_json(&wanted)?;
        for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
            if layout.has_blob(&blob.digest) {
                continue;
            }
            let mut bytes = Vec::with_capacity(blob.size as usize);
            client
                .pull_blob(&at, &layer_descriptor(blob), &mut bytes)
                .await
                .map_err(failed(&at.whole()))?;
            if Digest::of(&bytes) != blob.digest {
                return Err(Error::Registry {
                    reference: at.whole(),
                    message: format!("blob {} does not match its digest", blob.digest),
                });
            }
            layout.write_blob(&bytes)?;
        }
        return Ok(digest);
    }
}

fn layer_descriptor(blob: &Descriptor) -> oci_client::manifest::OciDescriptor {
    oci_client::manifest::OciDescriptor {
        media_type: blob.media_type.clone(),
        digest: blob.digest.to_string(),
        size: blob.size as i64,
        ..Default::default()
    }
}

/// Pushes the image `manifest` of `layout` to `repository` (`REGISTRY/REPOSITORY`) as
/// `tag`: the blobs the registry lacks, then the manifest. The digest it is now pullable
/// by (`repository@digest`).
pub async fn push(
    layout: &Layout,
    manifest: &Digest,
    repository: &Ref,
    tag: &str,
) -> Result<Digest, Error> {
    let client = client(repository);
    let auth = registry_auth(repository)?;
    let target = repository.with_tag(tag);
    client
        .auth(&target, &auth, oci_client::RegistryOperation::Push)
        .await
        .map_err(failed(&target.whole()))?;
    let bytes = layout.read_blob(manifest)?;
    let parsed: Manifest = layout.read_json(manifest)?;
    for blob in std::iter::once(&parsed.config).chain(&parsed.layers) {
        if client
            .blob_exists(&target, blob.digest.as_str())
            .await
            .map_err(failed(&target.whole()))?
        {
            continue;
        }
        client
            .push_blob(
                &target,
                layout.read_blob(&blob.digest)?,
                blob.digest.as_str(),
            )
            .await
            .map_err(failed(&target.whole()))?;
    }
    client
        .push_manifest_raw(
            &target,
            bytes,
            http::HeaderValue::from_static(media::MANIFEST),
        )
        .await
        .map_err(failed(&target.whole()))?;
    Ok(manifest.clone())
}

/// *ring*'s cryptography, as the runtime's database connections take it
/// (`datasurface_engine::pg::tls`): it builds from Rust and assembly alone. rustls 0.23.48
/// deprecates `ring::default_provider` for having no post-quantum key exchange and names no
/// other way to it (the post-quantum provider, aws-lc-rs, builds C with CMake).
#[allow(deprecated)]
fn ring() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}
