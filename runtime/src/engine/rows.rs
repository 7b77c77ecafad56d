//! Row and key hashes, computed while the snapshot streams through.
//!
//! The source sends its rows in PostgreSQL's binary COPY format, already cast to the
//! model's types. [`Hasher`] passes every tuple through unchanged and appends two fields:
//! the hash of the whole row and the hash of its key. A hash covers, for every non-NULL
//! field in the order of the column *names*, the name, a NUL, and the field's binary value
//! with its length prefix. So no two different rows share the hashed bytes (no separator
//! can be forged, NULL is not ''), the binary forms do not depend on DateStyle, TimeZone or
//! any other session setting, and a nullable column added to the model later leaves every
//! existing row's hash — and so its history — as it was. The hash is SHA-256, truncated to
//! the 16 bytes of a `uuid`.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use sha2::{Digest, Sha256};

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Output is handed on in pieces of about this size.
const FLUSH_AT: usize = 256 * 1024;

/// A binary COPY stream that does not have the expected shape.
#[derive(Debug, thiserror::Error)]
#[error("unexpected binary COPY data from the source: {0}")]
pub(crate) struct FormatError(&'static str);

/// Rewrites a binary COPY stream of `fields` columns, appending the row and key hashes.
#[derive(Debug)]
pub(crate) struct Hasher {
    fields: usize,
    /// Per column in stream order: its name followed by a NUL.
    names: Vec<Vec<u8>>,
    /// Column positions in name order, for the row hash and for the key hash.
    row_order: Vec<usize>,
    key_order: Vec<usize>,
    /// Where each field of the current tuple lies: (start, end, length or -1).
    spans: Vec<(usize, usize, i32)>,
    input: BytesMut,
    output: BytesMut,
    header_done: bool,
    finished: bool,
    rows: u64,
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
        let mut output = BytesMut::with_capacity(FLUSH_AT + 4096);
        output.put_slice(SIGNATURE);
        output.put_i32(0); // flags
        output.put_i32(0); // header extension length
        Hasher {
            fields: columns.len(),
            names: columns
                .iter()
                .map(|c| [c.as_bytes(), b"\0"].concat())
                .collect(),
            row_order: by_name(&|_| true),
            key_order: by_name(&|c| key.contains(&c)),
            spans: Vec::with_capacity(columns.len()),
            input: BytesMut::new(),
            output,
            header_done: false,
            finished: false,
            rows: 0,
        }
    }

    /// Takes the next chunk from the source; returns output when enough has gathered.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<Option<Bytes>, FormatError> {
        self.input.extend_from_slice(chunk);
        self.parse()?;
        Ok((self.output.len() >= FLUSH_AT).then(|| self.output.split().freeze()))
    }

    /// Ends the stream: the remaining output, with the trailer.
    pub(crate) fn finish(mut self) -> Result<(Bytes, u64), FormatError> {
        self.parse()?;
        if !self.finished || !self.input.is_empty() {
            return Err(FormatError("the stream ended in the middle of a row"));
        }
        self.output.put_i16(-1);
        Ok((self.output.freeze(), self.rows))
    }

    fn parse(&mut self) -> Result<(), FormatError> {
        if !self.header_done {
            if self.input.len() < SIGNATURE.len() + 8 {
                return Ok(());
            }
            if &self.input[..SIGNATURE.len()] != SIGNATURE {
                return Err(FormatError("no binary COPY signature"));
            }
            let extension =
                u32::from_be_bytes(self.input[15..19].try_into().expect("4 bytes")) as usize;
            if self.input.len() < 19 + extension {
                return Ok(());
            }
            self.input.advance(19 + extension);
            self.header_done = true;
        }
        while !self.finished {
            let Some(end) = self.tuple_end()? else {
                return Ok(());
            };
            let tuple = self.input.split_to(end);
            if end == 2 {
                // The trailer: a field count of -1.
                self.finished = true;
                break;
            }
            self.hash_tuple(&tuple[2..]);
        }
        Ok(())
    }

    /// The length of the complete tuple (or trailer) at the front of the input, if it is
    /// all there.
    fn tuple_end(&self) -> Result<Option<usize>, FormatError> {
        let data = &self.input[..];
        if data.len() < 2 {
            return Ok(None);
        }
        let count = i16::from_be_bytes([data[0], data[1]]);
        if count == -1 {
            return Ok(Some(2));
        }
        if usize::try_from(count).ok() != Some(self.fields) {
            return Err(FormatError(
                "a row has another number of columns than the dataset",
            ));
        }
        let mut at = 2;
        for _ in 0..self.fields {
            if data.len() < at + 4 {
                return Ok(None);
            }
            let len = i32::from_be_bytes(data[at..at + 4].try_into().expect("4 bytes"));
            at += 4 + usize::try_from(len).unwrap_or(0);
        }
        Ok((data.len() >= at).then_some(at))
    }

    /// Copies one tuple's fields (after its count) to the output, with the two hashes.
    fn hash_tuple(&mut self, fields: &[u8]) {
        self.spans.clear();
        let mut at = 0;
        for _ in 0..self.fields {
            let len = i32::from_be_bytes(fields[at..at + 4].try_into().expect("4 bytes"));
            let end = at + 4 + usize::try_from(len).unwrap_or(0);
            self.spans.push((at, end, len));
            at = end;
        }
        let digest = |order: &[usize]| {
            let mut hash = Sha256::new();
            for &i in order {
                let (start, end, len) = self.spans[i];
                if len >= 0 {
                    hash.update(&self.names[i]);
                    hash.update(&fields[start..end]);
                }
            }
            hash.finalize()
        };
        let (row, key) = (digest(&self.row_order), digest(&self.key_order));
        self.output
            .put_i16(i16::try_from(self.fields + 2).expect("column count fits a COPY row"));
        self.output.put_slice(fields);
        for digest in [row, key] {
            self.output.put_i32(16);
            self.output.put_slice(&digest[..16]);
        }
        self.rows += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(rows: &[Vec<Option<&[u8]>>]) -> Vec<u8> {
        let mut out = BytesMut::new();
        out.put_slice(SIGNATURE);
        out.put_i32(0);
        out.put_i32(0);
        for row in rows {
            out.put_i16(row.len() as i16);
            for field in row {
                match field {
                    Some(v) => {
                        out.put_i32(v.len() as i32);
                        out.put_slice(v);
                    }
                    None => out.put_i32(-1),
                }
            }
        }
        out.put_i16(-1);
        out.to_vec()
    }

    /// Runs a stream through a hasher in chunks of `size` bytes; returns each output row's
    /// (row hash, key hash).
    fn hashes(
        input: &[u8],
        columns: &[&str],
        key: &[&str],
        size: usize,
    ) -> Vec<([u8; 16], [u8; 16])> {
        let fields = columns.len();
        let mut h = Hasher::new(columns, key);
        let mut out = BytesMut::new();
        for chunk in input.chunks(size) {
            if let Some(b) = h.push(chunk).expect("valid") {
                out.extend_from_slice(&b);
            }
        }
        let (rest, rows) = h.finish().expect("complete");
        out.extend_from_slice(&rest);
        let mut data = &out[19..];
        let mut result = Vec::new();
        for _ in 0..rows {
            let count = data.get_i16() as usize;
            assert_eq!(count, fields + 2);
            for _ in 0..fields {
                let len = data.get_i32();
                data.advance(len.max(0) as usize);
            }
            let mut two = [[0u8; 16]; 2];
            for digest in &mut two {
                assert_eq!(data.get_i32(), 16);
                data.copy_to_slice(digest);
            }
            result.push((two[0], two[1]));
        }
        assert_eq!(data.get_i16(), -1);
        assert!(data.is_empty());
        result
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
        let out = hashes(&stream(&rows), &["k", "v"], &["k"], 1);
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
        let base = hashes(&two, &["id", "name"], &["id"], 64);
        assert_eq!(hashes(&three, &["id", "name", "added"], &["id"], 64), base);
        assert_eq!(hashes(&reordered, &["name", "id"], &["id"], 64), base);
        // A value in the new column is a change.
        let filled = stream(&[vec![Some(&b"1"[..]), Some(&b"x"[..]), Some(&b""[..])]]);
        assert_ne!(
            hashes(&filled, &["id", "name", "added"], &["id"], 64)[0].0,
            base[0].0
        );
        // The same bytes under another column name are another row.
        assert_ne!(hashes(&two, &["id", "title"], &["id"], 64)[0].0, base[0].0);
    }

    #[test]
    fn chunk_boundaries_do_not_matter() {
        let rows: Vec<Vec<Option<&[u8]>>> = (0..50)
            .map(|i| vec![Some(&b"key"[..i % 3 + 1]), None, Some(&b"value"[..i % 5])])
            .collect();
        let input = stream(&rows);
        let whole = hashes(&input, &["a", "b", "c"], &["a", "c"], input.len());
        for size in [1, 2, 3, 7, 19, 64] {
            assert_eq!(
                hashes(&input, &["a", "b", "c"], &["a", "c"], size),
                whole,
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn malformed_streams_are_refused() {
        let mut h = Hasher::new(&["a", "b"], &["a"]);
        assert!(h.push(b"NOTCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0").is_err());
        let input = stream(&[vec![Some(&b"a"[..])]]);
        let mut h = Hasher::new(&["a", "b"], &["a"]);
        assert!(h.push(&input).is_err(), "one column where two are expected");
        let input = stream(&[vec![Some(&b"a"[..]), Some(&b"b"[..])]]);
        let mut h = Hasher::new(&["a", "b"], &["a"]);
        h.push(&input[..input.len() - 3]).expect("partial");
        assert!(h.finish().is_err());
    }
}
