//! A reproducible layer: a tar of the given entries in the given order, every header field
//! fixed (owner 0:0 without names, the one modification time, the mode given), gzipped with
//! a fixed level and a header without a time, a file name or the OS of the machine.

use crate::digest::Digest;
use flate2::{Compression, GzBuilder};
use std::io::Write;

/// The gzip level of every layer: fixed, since the compressed bytes are what the digest
/// names. `9`, as the layers are written once and pulled many times.
const LEVEL: u32 = 9;
/// The gzip header's OS byte: "unknown", whatever machine builds.
const GZIP_OS_UNKNOWN: u8 = 255;

/// One entry of a layer.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The path inside the image, relative (`usr/local/bin/mvp`); a directory ends in `/`.
    pub path: String,
    pub kind: EntryKind,
    pub mode: u32,
}

/// What an entry is.
#[derive(Debug, Clone)]
pub enum EntryKind {
    Dir,
    File(Vec<u8>),
    /// A symbolic link to the path given.
    Symlink(String),
}

impl Entry {
    pub fn dir(path: impl Into<String>, mode: u32) -> Self {
        Entry {
            path: path.into(),
            kind: EntryKind::Dir,
            mode,
        }
    }

    pub fn file(path: impl Into<String>, contents: Vec<u8>, mode: u32) -> Self {
        Entry {
            path: path.into(),
            kind: EntryKind::File(contents),
            mode,
        }
    }

    pub fn symlink(path: impl Into<String>, target: impl Into<String>) -> Self {
        Entry {
            path: path.into(),
            kind: EntryKind::Symlink(target.into()),
            mode: 0o777,
        }
    }
}

/// A built layer: its gzipped bytes (what a registry stores, named by `digest`) and the
/// digest of its tar (the config's `diff_id`).
#[derive(Debug, Clone)]
pub struct Layer {
    pub gzip: Vec<u8>,
    pub diff_id: Digest,
}

impl Layer {
    /// The layer of `entries`, every time set to `mtime` (seconds since the epoch).
    pub fn new(entries: &[Entry], mtime: u64) -> Self {
        let tar = tar(entries, mtime);
        let diff_id = Digest::of(&tar);
        Layer {
            gzip: gzip(&tar),
            diff_id,
        }
    }
}

/// The tar of `entries`, in their order.
pub(crate) fn tar(entries: &[Entry], mtime: u64) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_ustar();
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mode(entry.mode);
        let written = match &entry.kind {
            EntryKind::File(contents) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(contents.len() as u64);
                builder.append_data(&mut header, &entry.path, &contents[..])
            }
            EntryKind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder.append_data(&mut header, &entry.path, &[][..])
            }
            EntryKind::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder.append_link(&mut header, &entry.path, target)
            }
        };
        written.expect("writing a tar to memory does not fail");
    }
    builder
        .into_inner()
        .expect("writing a tar to memory does not fail")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .operating_system(GZIP_OS_UNKNOWN)
        .write(Vec::new(), Compression::new(LEVEL));
    encoder
        .write_all(bytes)
        .expect("compressing to memory does not fail");
    encoder
        .finish()
        .expect("compressing to memory does not fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_is_the_same_bytes_every_time() {
        let entries = [
            Entry::dir("usr/", 0o755),
            Entry::file("usr/app", b"binary".to_vec(), 0o755),
        ];
        let a = Layer::new(&entries, 1_700_000_000);
        let b = Layer::new(&entries, 1_700_000_000);
        assert_eq!(a.gzip, b.gzip);
        assert_eq!(a.diff_id, b.diff_id);
        // The gzip header: no time (bytes 4..8), the OS byte "unknown".
        assert_eq!(&a.gzip[4..8], &[0, 0, 0, 0]);
        assert_eq!(a.gzip[9], GZIP_OS_UNKNOWN);
        assert_ne!(Layer::new(&entries, 1_700_000_001).diff_id, a.diff_id);
    }

    #[test]
    fn entries_keep_their_order_owner_and_mode() {
        let tar_bytes = tar(
            &[
                Entry::dir("etc/", 0o755),
                Entry::file("etc/x", b"1".to_vec(), 0o644),
            ],
            5,
        );
        let mut archive = ::tar::Archive::new(&tar_bytes[..]);
        let seen: Vec<(String, u32, u64, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.mtime().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [("etc/".into(), 0o755, 0, 5), ("etc/x".into(), 0o644, 0, 5)]
        );
    }
}
