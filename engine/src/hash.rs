//! Row and key hashes, computed while the snapshot streams through.
//!
//! The source sends its rows in PostgreSQL's binary COPY format, already cast to the
//! model's types. A hash covers, for every non-NULL field in the order of the column
//! *names*, the name, a NUL, and the field's binary value with its length prefix. So no two
//! different rows share the hashed bytes (no separator can be forged, NULL is not ''), the
//! binary forms do not depend on DateStyle, TimeZone or any other session setting, and a
//! nullable column added to the model later leaves every existing row's hash — and so its
//! history — as it was. The hash is SHA-256, truncated to the 16 bytes of a `uuid`.

use super::copy::Tuple;
use sha2::{Digest, Sha256};

/// Hashes the rows of one dataset.
#[derive(Debug)]
pub(crate) struct Hasher {
    /// Per column in stream order: its name followed by a NUL.
    names: Vec<Vec<u8>>,
    /// Column positions in name order, for the row hash and for the key hash.
    row_order: Vec<usize>,
    key_order: Vec<usize>,
}

impl Hasher {
    /// `columns` are the names of the stream's columns in order; `key` names the key
    /// columns among them.
    pub(crate) fn new(columns: &[&str], key: &[&str]) -> Self {
        let by_name = |wanted: &dyn Fn(&str) -> bool| {
            let mut positions: Vec<usize> =
                (0..columns.len()).filter(|&i| wanted(columns[i])).collect();
            positions.sort_by_key(|&i| columns[i]);
            positions
        };
        Hasher {
            names: columns
                .iter()
                .map(|c| [c.as_bytes(), b"\0"].concat())
                .collect(),
            row_order: by_name(&|_| true),
            key_order: by_name(&|c| key.contains(&c)),
        }
    }

    /// The hash of the whole row.
    pub(crate) fn row(&self, tuple: &Tuple) -> [u8; 16] {
        self.digest(tuple, &self.row_order)
    }

    /// The hash of the row's key.
    pub(crate) fn key(&self, tuple: &Tuple) -> [u8; 16] {
        self.digest(tuple, &self.key_order)
    }

    fn digest(&self, tuple: &Tuple, order: &[usize]) -> [u8; 16] {
        let mut hash = Sha256::new();
        for &i in order {
            if tuple.field(i).is_some() {
                hash.update(&self.names[i]);
                hash.update(tuple.encoded(i));
            }
        }
        let digest = hash.finalize();
        let mut out = [0; 16];
        out.copy_from_slice(&digest[..16]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy::tests::{stream, tuples};

    /// Each row's (row hash, key hash).
    fn hashes(input: &[u8], columns: &[&str], key: &[&str]) -> Vec<([u8; 16], [u8; 16])> {
        let h = Hasher::new(columns, key);
        tuples(input, columns.len(), 7)
            .iter()
            .map(|t| (h.row(t), h.key(t)))
            .collect()
    }

    #[test]
    fn rows_that_concatenate_alike_or_differ_in_null_hash_apart() {
        let rows = vec![
            vec![Some(&b"ab"[..]), Some(&b"c"[..])],
            vec![Some(&b"a"[..]), Some(&b"bc"[..])],
            vec![Some(&b""[..]), Some(&b"x"[..])],
            vec![None, Some(&b"x"[..])],
            vec![Some(&b"ab"[..]), Some(&b"c"[..])],
        ];
        let out = hashes(&stream(&rows), &["k", "v"], &["k"]);
        assert_eq!(out.len(), 5);
        let row_hashes: Vec<_> = out.iter().map(|h| h.0).collect();
        assert_ne!(row_hashes[0], row_hashes[1]);
        assert_ne!(row_hashes[2], row_hashes[3]);
        assert_eq!(row_hashes[0], row_hashes[4]);
        // The key hash covers the key column only.
        assert_ne!(out[0].1, out[1].1);
        assert_eq!(out[0].1, out[4].1);
    }

    #[test]
    fn a_new_null_column_or_another_column_order_keeps_the_hash() {
        let two = stream(&[vec![Some(&b"1"[..]), Some(&b"x"[..])]]);
        let three = stream(&[vec![Some(&b"1"[..]), Some(&b"x"[..]), None]]);
        let reordered = stream(&[vec![Some(&b"x"[..]), Some(&b"1"[..])]]);
        let base = hashes(&two, &["id", "name"], &["id"]);
        assert_eq!(hashes(&three, &["id", "name", "added"], &["id"]), base);
        assert_eq!(hashes(&reordered, &["name", "id"], &["id"]), base);
        // A value in the new column is a change.
        let filled = stream(&[vec![Some(&b"1"[..]), Some(&b"x"[..]), Some(&b""[..])]]);
        assert_ne!(
            hashes(&filled, &["id", "name", "added"], &["id"])[0].0,
            base[0].0
        );
        // The same bytes under another column name are another row.
        assert_ne!(hashes(&two, &["id", "title"], &["id"])[0].0, base[0].0);
    }

    #[test]
    fn hashes_are_those_stored_before() {
        // A row hashed by earlier versions of the engine must hash the same, or every row
        // would look changed: name, NUL, length prefix and value, in name order.
        let input = stream(&[vec![Some(&b"7"[..]), Some(&b"Ann"[..])]]);
        let mut expected = Sha256::new();
        expected.update(b"id\0\0\0\0\x017");
        expected.update(b"name\0\0\0\0\x03Ann");
        let out = hashes(&input, &["id", "name"], &["id"]);
        assert_eq!(out[0].0[..], expected.finalize()[..16]);
    }
}
