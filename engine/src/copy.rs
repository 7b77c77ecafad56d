//! PostgreSQL's binary COPY format as the snapshot streams: tuples parsed out of a stream of
//! chunks, and tuples written out in chunks of about 256 KiB. Memory stays flat: a tuple is
//! a view into the chunk it came in.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{Stream, TryStreamExt};
use std::pin::Pin;

pub(super) const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Output is handed on in pieces of about this size.
const FLUSH_AT: usize = 256 * 1024;

/// A binary COPY stream that does not have the expected shape.
#[derive(Debug, thiserror::Error)]
#[error("unexpected binary COPY data: {0}")]
pub(crate) struct FormatError(&'static str);

/// Why a tuple could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
}

/// One tuple: its fields, each with its length prefix as the format has it.
#[derive(Debug, Clone)]
pub(crate) struct Tuple {
    /// The fields, after the tuple's field count.
    data: Bytes,
    /// Per field: where its length prefix starts, and its length (-1 for NULL).
    spans: Vec<(usize, i32)>,
}

impl Tuple {
    /// Field `i` without its length prefix; `None` for NULL.
    pub(crate) fn field(&self, i: usize) -> Option<&[u8]> {
        let (start, len) = self.spans[i];
        let len = usize::try_from(len).ok()?;
        Some(&self.data[start + 4..start + 4 + len])
    }

    /// Field `i` with its length prefix, as the format writes it.
    pub(crate) fn encoded(&self, i: usize) -> &[u8] {
        let (start, len) = self.spans[i];
        &self.data[start..start + 4 + usize::try_from(len).unwrap_or(0)]
    }

    /// Every field, encoded, as one slice.
    pub(crate) fn fields(&self) -> &[u8] {
        &self.data
    }

    /// How many fields the tuple has.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
}

/// Parses tuples of a known number of fields out of chunks of a binary COPY stream.
#[derive(Debug)]
pub(crate) struct Parser {
    fields: usize,
    input: BytesMut,
    header_done: bool,
    finished: bool,
}

impl Parser {
    pub(crate) fn new(fields: usize) -> Self {
        Parser {
            fields,
            input: BytesMut::new(),
            header_done: false,
            finished: false,
        }
    }

    /// Takes the next chunk.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.input.extend_from_slice(chunk);
    }

    /// Whether the trailer has been read.
    pub(crate) fn finished(&self) -> bool {
        self.finished
    }

    /// Whether nothing is left unread.
    pub(crate) fn is_empty(&self) -> bool {
        self.input.is_empty()
    }

    /// The next complete tuple, or `None` when more input is needed or the trailer was read.
    pub(crate) fn next(&mut self) -> Result<Option<Tuple>, FormatError> {
        if !self.header_done {
            if self.input.len() < SIGNATURE.len() + 8 {
                return Ok(None);
            }
            if &self.input[..SIGNATURE.len()] != SIGNATURE {
                return Err(FormatError("no binary COPY signature"));
            }
            let extension = u32::from_be_bytes([
                self.input[15],
                self.input[16],
                self.input[17],
                self.input[18],
            ]) as usize;
            if self.input.len() < 19 + extension {
                return Ok(None);
            }
            self.input.advance(19 + extension);
            self.header_done = true;
        }
        if self.finished || self.input.len() < 2 {
            return Ok(None);
        }
        let count = i16::from_be_bytes([self.input[0], self.input[1]]);
        if count == -1 {
            self.input.advance(2);
            self.finished = true;
            return Ok(None);
        }
        if usize::try_from(count).ok() != Some(self.fields) {
            return Err(FormatError(
                "a row has another number of columns than expected",
            ));
        }
        let mut spans = Vec::with_capacity(self.fields);
        let mut at = 2;
        for _ in 0..self.fields {
            if self.input.len() < at + 4 {
                return Ok(None);
            }
            let len = i32::from_be_bytes([
                self.input[at],
                self.input[at + 1],
                self.input[at + 2],
                self.input[at + 3],
            ]);
            spans.push((at - 2, len));
            at += 4 + usize::try_from(len).unwrap_or(0);
        }
        if self.input.len() < at {
            return Ok(None);
        }
        let mut tuple = self.input.split_to(at);
        tuple.advance(2);
        Ok(Some(Tuple {
            data: tuple.freeze(),
            spans,
        }))
    }
}

/// The chunks of a `COPY … TO STDOUT`.
pub(crate) type Chunks = Pin<Box<dyn Stream<Item = Result<Bytes, tokio_postgres::Error>> + Send>>;

/// Reads tuples from the chunks of a `COPY … TO STDOUT (FORMAT binary)`.
pub(crate) struct Reader {
    chunks: Chunks,
    parser: Parser,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("parser", &self.parser)
            .finish()
    }
}

impl Reader {
    /// Tuples of `fields` fields from `chunks`.
    pub(crate) fn new(chunks: Chunks, fields: usize) -> Self {
        Reader {
            chunks,
            parser: Parser::new(fields),
        }
    }

    /// The next tuple, or `None` at the end of the stream.
    pub(crate) async fn next(&mut self) -> Result<Option<Tuple>, ReadError> {
        loop {
            if let Some(tuple) = self.parser.next()? {
                return Ok(Some(tuple));
            }
            if self.parser.finished() {
                return Ok(None);
            }
            match self.chunks.try_next().await? {
                Some(chunk) => self.parser.push(&chunk),
                None if self.parser.is_empty() => {
                    return Err(FormatError("the stream ended without its trailer").into());
                }
                None => return Err(FormatError("the stream ended in the middle of a row").into()),
            }
        }
    }
}

/// Writes a binary COPY stream, handing it on in chunks.
#[derive(Debug)]
pub(crate) struct Writer {
    out: BytesMut,
}

impl Writer {
    /// A stream with its header written.
    pub(crate) fn new() -> Self {
        let mut out = BytesMut::with_capacity(FLUSH_AT + 4096);
        out.put_slice(SIGNATURE);
        out.put_i32(0); // flags
        out.put_i32(0); // header extension length
        Writer { out }
    }

    /// Starts a tuple of `fields` fields.
    pub(crate) fn tuple(&mut self, fields: usize) {
        self.out
            .put_i16(i16::try_from(fields).expect("a COPY row has at most 1600 columns"));
    }

    /// Appends fields already encoded (length prefixes included).
    pub(crate) fn encoded(&mut self, fields: &[u8]) {
        self.out.put_slice(fields);
    }

    /// Appends one field; `None` for NULL.
    pub(crate) fn field(&mut self, value: Option<&[u8]>) {
        match value {
            Some(v) => {
                self.out
                    .put_i32(i32::try_from(v.len()).expect("a COPY field is under 1 GiB"));
                self.out.put_slice(v);
            }
            None => self.out.put_i32(-1),
        }
    }

    /// What has gathered, when it is enough to hand on.
    pub(crate) fn full(&mut self) -> Option<Bytes> {
        (self.out.len() >= FLUSH_AT).then(|| self.out.split().freeze())
    }

    /// The rest of the stream, with its trailer.
    pub(crate) fn finish(mut self) -> Bytes {
        self.out.put_i16(-1);
        self.out.freeze()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A binary COPY stream of `rows`.
    pub(crate) fn stream(rows: &[Vec<Option<&[u8]>>]) -> Vec<u8> {
        let mut w = Writer::new();
        for row in rows {
            w.tuple(row.len());
            for field in row {
                w.field(*field);
            }
        }
        w.finish().to_vec()
    }

    /// The tuples of `input`, fed in chunks of `size` bytes.
    pub(crate) fn tuples(input: &[u8], fields: usize, size: usize) -> Vec<Tuple> {
        let mut p = Parser::new(fields);
        let mut out = Vec::new();
        for chunk in input.chunks(size) {
            p.push(chunk);
            while let Some(t) = p.next().expect("valid") {
                out.push(t);
            }
        }
        assert!(p.finished() && p.is_empty());
        out
    }

    #[test]
    fn tuples_read_back_whatever_the_chunks() {
        let rows: Vec<Vec<Option<&[u8]>>> = (0..40)
            .map(|i| vec![Some(&b"key"[..i % 3 + 1]), None, Some(&b"value"[..i % 5])])
            .collect();
        let input = stream(&rows);
        for size in [1, 2, 3, 7, 64, input.len()] {
            let read = tuples(&input, 3, size);
            assert_eq!(read.len(), rows.len());
            for (t, row) in read.iter().zip(&rows) {
                assert_eq!(
                    (0..3).map(|i| t.field(i)).collect::<Vec<_>>(),
                    *row,
                    "chunks of {size}"
                );
            }
        }
    }

    #[test]
    fn malformed_streams_are_refused() {
        let mut p = Parser::new(2);
        p.push(b"NOTCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0");
        assert!(p.next().is_err());
        let mut p = Parser::new(2);
        p.push(&stream(&[vec![Some(&b"a"[..])]]));
        assert!(p.next().is_err(), "one column where two are expected");
    }
}
