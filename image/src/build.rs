//! Building an image: the base's layers, one more with the binary (and CA roots where the
//! base has none), the base's config with the user, entrypoint and history of this build,
//! and the manifest naming them — written into a layout and named by the image tag.

use crate::base::{self, Platform};
use crate::digest::Digest;
use crate::error::Error;
use crate::layer::{Entry, Layer};
use crate::layout::Layout;
use crate::spec::{Descriptor, Manifest, canonical_json, media};
use std::collections::BTreeMap;

/// Where the binary goes in the image.
pub const BIN_DIR: &str = "usr/local/bin";
/// The CA roots file TLS clients (rustls-native-certs, OpenSSL) look for on Debian-like
/// systems.
pub const CA_ROOTS: &str = "etc/ssl/certs/ca-certificates.crt";

/// What goes on the base.
#[derive(Debug, Clone)]
pub struct Recipe {
    /// The binary's name in the image (`/usr/local/bin/{name}`, the entrypoint).
    pub name: String,
    /// The binary itself.
    pub binary: Vec<u8>,
    /// The command when none is given (the Dockerfile's `CMD`).
    pub cmd: Vec<String>,
    /// The numeric user (and group) the image runs as.
    pub user: u32,
    /// CA roots to add when the base has none at [`CA_ROOTS`].
    pub ca_roots: Option<Vec<u8>>,
    /// Every time in the image: file times and the config's and history's `created`, in
    /// seconds since the epoch (`SOURCE_DATE_EPOCH`, or the commit's time).
    pub created: u64,
    /// The image's name in the layout's index (the image tag); also its
    /// `org.opencontainers.image.version` label.
    pub tag: String,
    /// The platform to take from a multi-platform base.
    pub platform: Platform,
}

/// A built image.
#[derive(Debug, Clone)]
pub struct Built {
    /// The manifest's descriptor; its digest is the image's.
    pub manifest: Descriptor,
    /// The base image's manifest digest.
    pub base: Digest,
    /// Whether the base lacked CA roots, so the layer carries them.
    pub added_ca_roots: bool,
    /// Every blob of the image: config, layers and manifest.
    pub blobs: Vec<Digest>,
}

/// Builds `recipe` on the base `base` (a digest in `base_layout`, or its only image when
/// `None`) into `out`, naming it `recipe.tag` there.
pub fn build(
    out: &Layout,
    base_layout: &Layout,
    base: Option<&Digest>,
    recipe: &Recipe,
) -> Result<Built, Error> {
    let base = match base {
        Some(digest) => base::resolve(base_layout, digest, &recipe.platform)?,
        None => base::in_layout(base_layout, &recipe.platform)?,
    };
    if !media::is_manifest(&base.manifest.media_type) && !base.manifest.media_type.is_empty() {
        return Err(Error::Base(format!(
            "the base {} is a {}, not an image manifest",
            base.digest, base.manifest.media_type
        )));
    }
    for blob in std::iter::once(&base.manifest.config).chain(&base.manifest.layers) {
        if !out.has_blob(&blob.digest) {
            out.write_blob(&base_layout.read_blob(&blob.digest)?)?;
        }
    }

    let added_ca_roots =
        recipe.ca_roots.is_some() && !base::has_file(base_layout, &base, CA_ROOTS)?;
    let layer = Layer::new(&entries(recipe, added_ca_roots), recipe.created);
    let layer_digest = out.write_blob(&layer.gzip)?;

    let base_config: serde_json::Value = base_layout.read_json(&base.manifest.config.digest)?;
    let config = config(base_config, recipe, &layer.diff_id)?;
    let config_bytes = canonical_json(&config);
    let config_digest = out.write_blob(&config_bytes)?;

    let mut layers = base.manifest.layers.clone();
    layers.push(descriptor(
        media::LAYER_GZIP,
        layer_digest.clone(),
        layer.gzip.len(),
    ));
    let manifest = Manifest {
        schema_version: 2,
        media_type: media::MANIFEST.into(),
        config: descriptor(media::CONFIG, config_digest.clone(), config_bytes.len()),
        layers,
        annotations: BTreeMap::from([(
            "org.opencontainers.image.base.digest".to_owned(),
            base.digest.to_string(),
        )]),
    };
    let manifest_bytes = serde_json::to_vec(&manifest).expect("a manifest serialises");
    let manifest_digest = out.write_blob(&manifest_bytes)?;
    let mut descriptor = descriptor(
        media::MANIFEST,
        manifest_digest.clone(),
        manifest_bytes.len(),
    );
    out.tag(&recipe.tag, descriptor.clone())?;
    descriptor.annotations.clear();

    let mut blobs = vec![config_digest, manifest_digest];
    blobs.extend(manifest.layers.iter().map(|l| l.digest.clone()));
    Ok(Built {
        manifest: descriptor,
        base: base.digest,
        added_ca_roots,
        blobs,
    })
}

/// The layer's entries, parents before children, in one fixed order.
fn entries(recipe: &Recipe, ca_roots: bool) -> Vec<Entry> {
    let mut out = Vec::new();
    if ca_roots {
        out.push(Entry::dir("etc/", 0o755));
        out.push(Entry::dir("etc/ssl/", 0o755));
        out.push(Entry::dir("etc/ssl/certs/", 0o755));
        out.push(Entry::file(
            CA_ROOTS,
            recipe.ca_roots.clone().unwrap_or_default(),
            0o644,
        ));
    }
    out.push(Entry::dir("usr/", 0o755));
    out.push(Entry::dir("usr/local/", 0o755));
    out.push(Entry::dir(format!("{BIN_DIR}/"), 0o755));
    out.push(Entry::file(
        format!("{BIN_DIR}/{}", recipe.name),
        recipe.binary.clone(),
        0o755,
    ));
    out
}

/// The base's config with this build's user, entrypoint, command, label, layer and
/// history entry; everything else (environment, architecture) is the base's.
fn config(
    mut config: serde_json::Value,
    recipe: &Recipe,
    diff_id: &Digest,
) -> Result<serde_json::Value, Error> {
    let created = rfc3339(recipe.created);
    let object = config
        .as_object_mut()
        .ok_or_else(|| Error::Base("the base's config is not a JSON object".into()))?;
    object.insert("created".into(), created.clone().into());
    let run = object
        .entry("config")
        .or_insert_with(|| serde_json::json!({}));
    if !run.is_object() {
        *run = serde_json::json!({});
    }
    run["User"] = format!("{}:{}", recipe.user, recipe.user).into();
    run["Entrypoint"] = serde_json::json!([format!("/{BIN_DIR}/{}", recipe.name)]);
    run["Cmd"] = serde_json::json!(recipe.cmd);
    if !run["Labels"].is_object() {
        run["Labels"] = serde_json::json!({});
    }
    run["Labels"]["org.opencontainers.image.version"] = recipe.tag.clone().into();

    let rootfs = object
        .entry("rootfs")
        .or_insert_with(|| serde_json::json!({"type": "layers", "diff_ids": []}));
    match rootfs["diff_ids"].as_array_mut() {
        Some(ids) => ids.push(diff_id.to_string().into()),
        None => {
            return Err(Error::Base(
                "the base's config has no rootfs.diff_ids".into(),
            ));
        }
    }
    let history = object
        .entry("history")
        .or_insert_with(|| serde_json::json!([]));
    if let Some(history) = history.as_array_mut() {
        history.push(serde_json::json!({
            "created": created,
            "created_by": format!("datasurface image: /{BIN_DIR}/{} as {}", recipe.name, recipe.user),
            "comment": "the ecosystem's runtime binary",
        }));
    }
    Ok(config)
}

fn descriptor(media_type: &str, digest: Digest, size: usize) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest,
        size: size as u64,
        platform: None,
        annotations: BTreeMap::new(),
    }
}

/// `seconds` since the epoch as RFC 3339 in UTC (`1970-01-01T00:00:00Z`).
fn rfc3339(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
