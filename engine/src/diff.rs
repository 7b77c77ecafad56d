//! The streaming diff: the source's rows and the merge table's current rows arrive in the
//! same key order ([`KeyOrder`]); walking both side by side finds the keys that are new,
//! changed or gone, and only those are written — to staging, or, for a first load, every
//! row straight into the merge table. Memory stays flat whatever the table's size: a few
//! chunks of each stream.

use super::copy::{ReadError, Reader, Tuple, Writer};
use super::hash::Hasher;
use super::order::KeyOrder;
use super::progress::EVERY;
use bytes::Bytes;
use datasurface_codegen::sql::Op;
use futures_util::SinkExt;
use std::cmp::Ordering;
use std::pin::Pin;
use tokio_postgres::CopyInSink;

/// What the diff found, and wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Found {
    /// Rows in the snapshot.
    pub(super) total: u64,
    pub(super) inserted: u64,
    pub(super) updated: u64,
    pub(super) deleted: u64,
}

impl Found {
    /// The rows written to staging.
    pub(super) fn staged(&self) -> u64 {
        self.inserted + self.updated + self.deleted
    }
}

/// Why the diff stopped.
#[derive(Debug, thiserror::Error)]
pub(super) enum DiffError {
    #[error("reading the snapshot: {0}")]
    Source(ReadError),
    #[error("reading the current rows: {0}")]
    Current(ReadError),
    #[error("writing: {0}")]
    Write(tokio_postgres::Error),
    /// Keys present more than once in the snapshot: how many, and the first few.
    #[error("{count} keys more than once")]
    Duplicates { count: u64, keys: Vec<String> },
    /// A stream's keys went backwards: its order is not the one the runtime compares by.
    #[error("the {0} did not arrive in key order")]
    OutOfOrder(&'static str),
}

/// Where the diff writes, and in what shape.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target<'a> {
    /// Staging: each new or changed row with its hashes and `I` or `U`; each gone key with
    /// its key columns, its old row hash and `D`.
    Staging,
    /// A first load, into the merge table: every row with its hashes and the batch's
    /// stamps (the batch id; or batch in and batch out).
    Merge {
        stamps: &'a [i32],
        /// The merge table has no index yet and there are no current rows: the source's
        /// rows may come in any order, unchecked, and the primary key's build finds a key
        /// held twice.
        any_order: bool,
    },
}

/// The two streams of one dataset and how to read them.
pub(super) struct Sides<'a> {
    pub(super) source: &'a mut Reader,
    /// The current rows (key columns, then the row hash); `None` when there are none.
    pub(super) current: Option<&'a mut Reader>,
    pub(super) hasher: &'a Hasher,
    pub(super) order: &'a KeyOrder,
    /// Where the source's tuples have the key's fields, in key order.
    pub(super) key: &'a [usize],
    /// The dataset's columns (the source's tuples' fields).
    pub(super) columns: usize,
    /// Told, now and then, how many source rows are done.
    pub(super) progress: &'a (dyn Fn(u64) + Sync),
}

/// Keys shown in the message of duplicates, at most.
pub(super) const SHOWN: usize = 5;

/// Walks both sides, writing what `target` takes to `sink`; what it found.
pub(super) async fn diff(
    sides: Sides<'_>,
    target: Target<'_>,
    sink: &mut Pin<&mut CopyInSink<Bytes>>,
) -> Result<Found, DiffError> {
    let Sides {
        source,
        mut current,
        hasher,
        order,
        key,
        columns,
        progress,
    } = sides;
    let current_key: Vec<usize> = (0..key.len()).collect();
    let hash_at = key.len();
    let mut found = Found::default();
    let mut duplicates = (0, Vec::new());
    let mut writer = Writer::new();
    // Rows that may come in any order are only ever written, never compared.
    let sorted = !matches!(
        target,
        Target::Merge {
            any_order: true,
            ..
        }
    );
    assert!(
        sorted || current.is_none(),
        "current rows need a sorted source"
    );
    let order_of_source = sorted.then_some(order);

    let mut s = next_source(source, None, order_of_source, key, &mut duplicates).await?;
    let mut c = match current.as_deref_mut() {
        Some(r) => next_current(r, None, order, &current_key).await?,
        None => None,
    };
    loop {
        let step = match (&s, &c) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(a), Some(b)) => order.compare((a, key), (b, &current_key)),
        };
        if step != Ordering::Greater {
            found.total += 1;
            if found.total % EVERY == 0 {
                progress(found.total);
            }
        }
        match (step, &s, &c) {
            (Ordering::Less, Some(a), _) => {
                found.inserted += 1;
                write_row(&mut writer, a, hasher, hasher.row(a), target, Op::Insert);
            }
            (Ordering::Greater, _, Some(b)) => {
                found.deleted += 1;
                write_gone(&mut writer, b, key, columns, hash_at);
            }
            (Ordering::Equal, Some(a), Some(b)) => {
                let row = hasher.row(a);
                if b.field(hash_at) != Some(&row[..]) {
                    found.updated += 1;
                    write_row(&mut writer, a, hasher, row, target, Op::Update);
                }
            }
            _ => unreachable!("a step is taken only on a side that has a row"),
        }
        if let Some(chunk) = writer.full() {
            sink.feed(chunk).await.map_err(DiffError::Write)?;
        }
        if step != Ordering::Greater {
            let previous = s.take();
            s = next_source(
                source,
                previous.as_ref(),
                order_of_source,
                key,
                &mut duplicates,
            )
            .await?;
        }
        if step != Ordering::Less {
            let previous = c.take();
            c = match current.as_deref_mut() {
                Some(r) => next_current(r, previous.as_ref(), order, &current_key).await?,
                None => None,
            };
        }
    }
    if duplicates.0 > 0 {
        return Err(DiffError::Duplicates {
            count: duplicates.0,
            keys: duplicates.1,
        });
    }
    sink.feed(writer.finish()).await.map_err(DiffError::Write)?;
    Ok(found)
}

/// The next source row, checked against the one before when they come in key `order`: a
/// key that repeats is counted as a duplicate (and skipped), one that goes backwards stops
/// the diff.
async fn next_source(
    source: &mut Reader,
    previous: Option<&Tuple>,
    order: Option<&KeyOrder>,
    key: &[usize],
    duplicates: &mut (u64, Vec<String>),
) -> Result<Option<Tuple>, DiffError> {
    loop {
        let Some(next) = source.next().await.map_err(DiffError::Source)? else {
            return Ok(None);
        };
        let (Some(previous), Some(order)) = (previous, order) else {
            return Ok(Some(next));
        };
        match order.compare((previous, key), (&next, key)) {
            Ordering::Less => return Ok(Some(next)),
            Ordering::Greater => return Err(DiffError::OutOfOrder("snapshot")),
            Ordering::Equal => {
                duplicates.0 += 1;
                let shown = order.display((&next, key));
                if duplicates.1.len() < SHOWN && duplicates.1.last() != Some(&shown) {
                    duplicates.1.push(shown);
                }
            }
        }
    }
}

/// The next current row, which must come after the one before.
async fn next_current(
    current: &mut Reader,
    previous: Option<&Tuple>,
    order: &KeyOrder,
    key: &[usize],
) -> Result<Option<Tuple>, DiffError> {
    let next = current.next().await.map_err(DiffError::Current)?;
    if let (Some(previous), Some(next)) = (previous, &next)
        && order.compare((previous, key), (next, key)) != Ordering::Less
    {
        return Err(DiffError::OutOfOrder("current rows"));
    }
    Ok(next)
}

/// A new or changed row, with its hashes, and what `target` adds.
fn write_row(
    writer: &mut Writer,
    row: &Tuple,
    hasher: &Hasher,
    row_hash: [u8; 16],
    target: Target<'_>,
    op: Op,
) {
    let key_hash = hasher.key(row);
    match target {
        Target::Staging => {
            writer.tuple(row.len() + 3);
            writer.encoded(row.fields());
            writer.field(Some(&row_hash));
            writer.field(Some(&key_hash));
            writer.field(Some(op.code()));
        }
        Target::Merge { stamps, .. } => {
            writer.tuple(row.len() + 2 + stamps.len());
            writer.encoded(row.fields());
            writer.field(Some(&row_hash));
            writer.field(Some(&key_hash));
            for stamp in stamps {
                writer.field(Some(&stamp.to_be_bytes()));
            }
        }
    }
}

/// A gone key: its key columns (NULL in the others), its last row hash, and `D`.
fn write_gone(writer: &mut Writer, gone: &Tuple, key: &[usize], columns: usize, hash_at: usize) {
    writer.tuple(columns + 3);
    for column in 0..columns {
        match key.iter().position(|&k| k == column) {
            Some(k) => writer.encoded(gone.encoded(k)),
            None => writer.field(None),
        }
    }
    writer.field(gone.field(hash_at));
    writer.field(None);
    writer.field(Some(Op::Delete.code()));
}
