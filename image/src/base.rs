//! The base an image is built on: its manifest in a layout, chosen for the platform when
//! the base is a multi-platform index, and what it already holds.

use crate::digest::Digest;
use crate::error::Error;
use crate::layout::Layout;
use crate::spec::{Descriptor, Index, Manifest, media};
use std::io::Read;

/// The OS and CPU an image is built for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
}

impl Platform {
    /// The platform of the machine building, in OCI's names (`linux`/`amd64`, `arm64`).
    pub fn host() -> Self {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
        }
    }
}

/// A base resolved to one image's manifest in a layout.
#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub digest: Digest,
    pub manifest: Manifest,
}

/// The single-platform manifest that `digest` names in `layout` — itself when it is a
/// manifest, the entry for `platform` when it is an index.
pub(crate) fn resolve(
    layout: &Layout,
    digest: &Digest,
    platform: &Platform,
) -> Result<Base, Error> {
    let bytes = layout.read_blob(digest)?;
    let media_type = media_type_of(&bytes, digest)?;
    if media::is_index(&media_type) {
        let index: Index = layout.read_json(digest)?;
        let chosen = for_platform(&index, digest, platform)?;
        return resolve(layout, &chosen.digest, platform);
    }
    let manifest: Manifest = layout.read_json(digest)?;
    Ok(Base {
        digest: digest.clone(),
        manifest,
    })
}

/// The one image of a local layout given as the base: the only entry of its index, or the
/// one for `platform`.
pub(crate) fn in_layout(layout: &Layout, platform: &Platform) -> Result<Base, Error> {
    let index = layout.index()?;
    let chosen = match index.manifests.as_slice() {
        [only] => only,
        many => pick(many, platform).ok_or_else(|| {
            Error::Base(format!(
                "the base layout {} has {} images and none is marked {}/{}: give a layout with one image",
                layout.dir().display(),
                many.len(),
                platform.os,
                platform.architecture
            ))
        })?,
    };
    resolve(layout, &chosen.digest, platform)
}

/// The entry of the index `digest` for `platform`, or an error listing those it has.
pub(crate) fn for_platform<'a>(
    index: &'a Index,
    digest: &Digest,
    platform: &Platform,
) -> Result<&'a Descriptor, Error> {
    pick(&index.manifests, platform).ok_or_else(|| {
        Error::Base(format!(
            "the base {digest} has no image for {}/{} (it has {})",
            platform.os,
            platform.architecture,
            index
                .manifests
                .iter()
                .filter_map(|m| m.platform.as_ref())
                .map(|p| format!("{}/{}", p.os, p.architecture))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

fn pick<'a>(manifests: &'a [Descriptor], platform: &Platform) -> Option<&'a Descriptor> {
    manifests.iter().find(|m| {
        m.platform
            .as_ref()
            .is_some_and(|p| p.os == platform.os && p.architecture == platform.architecture)
    })
}

/// The `mediaType` a manifest or index names itself with (an index without one is told
/// apart by its `manifests`).
pub(crate) fn media_type_of(bytes: &[u8], digest: &Digest) -> Result<String, Error> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(Error::json(format!("manifest {digest}")))?;
    Ok(match value["mediaType"].as_str() {
        Some(media) => media.to_owned(),
        None if value.get("manifests").is_some() => media::INDEX.to_owned(),
        None => media::MANIFEST.to_owned(),
    })
}

/// Whether the base's file system, all layers applied, has the file at `path` (relative,
/// as tar entries name it): later layers may add it or delete it (a whiteout).
pub(crate) fn has_file(layout: &Layout, base: &Base, path: &str) -> Result<bool, Error> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    let whiteout = if dir.is_empty() {
        format!(".wh.{name}")
    } else {
        format!("{dir}/.wh.{name}")
    };
    let mut present = false;
    for layer in &base.manifest.layers {
        let bytes = layout.read_blob(&layer.digest)?;
        let reader: Box<dyn Read> = match layer.media_type.as_str() {
            media::LAYER_GZIP | media::DOCKER_LAYER_GZIP => {
                Box::new(flate2::read::GzDecoder::new(&bytes[..]))
            }
            media::LAYER_TAR => Box::new(&bytes[..]),
            // A layer this crate cannot read (zstd): assume it does not bring the file, so at
            // worst the file is added again.
            _ => continue,
        };
        let mut archive = tar::Archive::new(reader);
        let entries = archive
            .entries()
            .map_err(Error::io(layout.blob_path(&layer.digest)))?;
        for entry in entries {
            let entry = entry.map_err(Error::io(layout.blob_path(&layer.digest)))?;
            let name = entry.path_bytes();
            let name = String::from_utf8_lossy(&name);
            let name = name.trim_start_matches("./").trim_start_matches('/');
            if name == path {
                present = true;
            } else if name == whiteout {
                present = false;
            }
        }
    }
    Ok(present)
}
