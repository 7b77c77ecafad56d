//! An OCI image layout on disk: `oci-layout`, `index.json` and `blobs/sha256/<hex>`, the
//! format skopeo, umoci, crane and registries' tools read; and its tar form.

use crate::digest::Digest;
use crate::error::Error;
use crate::spec::{Descriptor, Index, REF_NAME};
use std::path::{Path, PathBuf};

const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_VERSION: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// Opens the layout at `dir`, creating an empty one when `dir` has none.
    pub fn create(dir: &Path) -> Result<Self, Error> {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).map_err(Error::io(&blobs))?;
        let layout = Layout {
            dir: dir.to_owned(),
        };
        if !dir.join(LAYOUT_FILE).exists() {
            write(&dir.join(LAYOUT_FILE), LAYOUT_VERSION.as_bytes())?;
            layout.write_index(&Index::new(Vec::new()))?;
        }
        Ok(layout)
    }

    /// Opens the existing layout at `dir`.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let marker = std::fs::read_to_string(dir.join(LAYOUT_FILE))
            .map_err(|_| Error::NotALayout(dir.to_owned()))?;
        let version: serde_json::Value =
            serde_json::from_str(&marker).map_err(|_| Error::NotALayout(dir.to_owned()))?;
        if version["imageLayoutVersion"] != "1.0.0" {
            return Err(Error::NotALayout(dir.to_owned()));
        }
        Ok(Layout {
            dir: dir.to_owned(),
        })
    }

    /// The layout's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the blob `digest` is (or would be) stored.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest.hex())
    }

    /// Whether the layout holds the blob `digest`.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Stores `bytes` as a blob; its digest.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest, Error> {
        let digest = Digest::of(bytes);
        let path = self.blob_path(&digest);
        if !path.is_file() {
            write(&path, bytes)?;
        }
        Ok(digest)
    }

    /// The blob `digest`, checked against its digest.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, Error> {
        let path = self.blob_path(digest);
        let bytes = std::fs::read(&path).map_err(Error::io(&path))?;
        if Digest::of(&bytes) != *digest {
            return Err(Error::Corrupt {
                layout: self.dir.clone(),
                digest: digest.to_string(),
            });
        }
        Ok(bytes)
    }

    /// Reads the blob `digest` as JSON of type `T`.
    pub fn read_json<T: serde::de::DeserializeOwned>(&self, digest: &Digest) -> Result<T, Error> {
        let bytes = self.read_blob(digest)?;
        serde_json::from_slice(&bytes).map_err(Error::json(format!(
            "blob {digest} in {}",
            self.dir.display()
        )))
    }

    /// The layout's `index.json`.
    pub fn index(&self) -> Result<Index, Error> {
        let path = self.dir.join("index.json");
        let bytes = std::fs::read(&path).map_err(Error::io(&path))?;
        serde_json::from_slice(&bytes).map_err(Error::json(path.display().to_string()))
    }

    /// Writes `index` as the layout's `index.json`.
    pub fn write_index(&self, index: &Index) -> Result<(), Error> {
        let bytes = serde_json::to_vec(index).expect("an index serialises");
        write(&self.dir.join("index.json"), &bytes)
    }

    /// Names `manifest` `name` in the index, replacing what had that name; the index is
    /// kept sorted by name, so it does not depend on the order images were added.
    pub fn tag(&self, name: &str, mut manifest: Descriptor) -> Result<(), Error> {
        let mut index = self.index()?;
        index
            .manifests
            .retain(|m| m.annotations.get(REF_NAME).map(String::as_str) != Some(name));
        manifest.annotations.insert(REF_NAME.into(), name.into());
        index.manifests.push(manifest);
        index.manifests.sort_by(|a, b| {
            a.annotations
                .get(REF_NAME)
                .cmp(&b.annotations.get(REF_NAME))
        });
        self.write_index(&index)
    }

    /// The manifest named `name` in the index.
    pub fn tagged(&self, name: &str) -> Result<Option<Descriptor>, Error> {
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .find(|m| m.annotations.get(REF_NAME).map(String::as_str) == Some(name)))
    }

    /// Writes the layout as one tar file with `oci-layout`, `index.json` and the blobs the
    /// index reaches, in a fixed order with fixed times and owners (the form `skopeo copy
    /// oci-archive:` and `docker load`-compatible tools read).
    pub fn write_tar(&self, file: &Path, reachable: &[Digest]) -> Result<(), Error> {
        let mut entries = vec![
            crate::layer::Entry::dir("blobs/", 0o755),
            crate::layer::Entry::dir("blobs/sha256/", 0o755),
        ];
        let mut digests = reachable.to_vec();
        digests.sort();
        digests.dedup();
        for digest in &digests {
            entries.push(crate::layer::Entry::file(
                format!("blobs/sha256/{}", digest.hex()),
                self.read_blob(digest)?,
                0o644,
            ));
        }
        let index = std::fs::read(self.dir.join("index.json")).map_err(Error::io(&self.dir))?;
        entries.push(crate::layer::Entry::file("index.json", index, 0o644));
        entries.push(crate::layer::Entry::file(
            LAYOUT_FILE,
            LAYOUT_VERSION.as_bytes().to_vec(),
            0o644,
        ));
        let tar = crate::layer::tar(&entries, 0);
        write(file, &tar)
    }
}

/// Writes `bytes` to `path` through a temporary file, so a reader never sees half a blob.
fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).map_err(Error::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(Error::io(path))
}
