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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Entry, Layer};
    use crate::spec::{Descriptor, PlatformSpec};
    use std::collections::BTreeMap;

    fn descriptor(media_type: &str, digest: Digest, size: usize) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size: size as u64,
            platform: None,
            annotations: BTreeMap::new(),
        }
    }

    /// An image of `layers` in `layout`: its manifest's descriptor.
    fn image(layout: &Layout, layers: &[Vec<Entry>]) -> Descriptor {
        let layers: Vec<Descriptor> = layers
            .iter()
            .map(|entries| {
                let layer = Layer::new(entries, 0);
                let digest = layout.write_blob(&layer.gzip).unwrap();
                descriptor(media::LAYER_GZIP, digest, layer.gzip.len())
            })
            .collect();
        let config = br#"{"rootfs":{"type":"layers","diff_ids":[]}}"#;
        let config = descriptor(
            media::CONFIG,
            layout.write_blob(config).unwrap(),
            config.len(),
        );
        let manifest = serde_json::to_vec(&Manifest {
            schema_version: 2,
            media_type: media::MANIFEST.into(),
            config,
            layers,
            annotations: BTreeMap::new(),
        })
        .unwrap();
        descriptor(
            media::MANIFEST,
            layout.write_blob(&manifest).unwrap(),
            manifest.len(),
        )
    }

    #[test]
    fn a_multi_platform_base_gives_the_platforms_image_and_files_follow_whiteouts() {
        let dir =
            std::env::temp_dir().join(format!("datasurface-image-base-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let layout = Layout::create(&dir).unwrap();
        let roots = || {
            Entry::file(
                "etc/ssl/certs/ca-certificates.crt",
                b"roots".to_vec(),
                0o644,
            )
        };
        let whiteout = || Entry::file("etc/ssl/certs/.wh.ca-certificates.crt", Vec::new(), 0o644);
        let with = image(&layout, &[vec![roots()]]);
        let removed = image(&layout, &[vec![roots()], vec![whiteout()]]);
        let on = |mut d: Descriptor, architecture: &str| {
            d.platform = Some(PlatformSpec {
                architecture: architecture.into(),
                os: "linux".into(),
                variant: None,
            });
            d
        };
        let index = serde_json::to_vec(&Index::new(vec![
            on(with.clone(), "arm64"),
            on(removed.clone(), "amd64"),
        ]))
        .unwrap();
        let index = layout.write_blob(&index).unwrap();
        let amd64 = Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
        };
        let arm64 = Platform {
            architecture: "arm64".into(),
            ..amd64.clone()
        };

        let base = resolve(&layout, &index, &amd64).unwrap();
        assert_eq!(base.digest, removed.digest);
        assert!(!has_file(&layout, &base, "etc/ssl/certs/ca-certificates.crt").unwrap());
        let base = resolve(&layout, &index, &arm64).unwrap();
        assert_eq!(base.digest, with.digest);
        assert!(has_file(&layout, &base, "etc/ssl/certs/ca-certificates.crt").unwrap());

        let riscv = Platform {
            architecture: "riscv64".into(),
            ..amd64
        };
        let error = resolve(&layout, &index, &riscv).unwrap_err().to_string();
        assert!(
            error.contains("no image for linux/riscv64 (it has linux/arm64, linux/amd64)"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
