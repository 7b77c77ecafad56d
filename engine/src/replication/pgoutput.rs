//! The messages of `pgoutput`, PostgreSQL's built-in logical decoding plugin, in protocol
//! version 1 with values as text: one message a call of [`decode`], as
//! `pg_logical_slot_peek_binary_changes` returns them (one a row).
//!
//! A transaction arrives as `Begin`, then its changes (`Insert`, `Update`, `Delete`,
//! `Truncate`, and transactional logical decoding messages), each table's `Relation` (and
//! the `Type` of columns of types outside `pg_catalog`) before its first change in the
//! session and again after the table changed shape, then `Commit`. Every integer is
//! big-endian; a string ends with a NUL byte. Messages borrow their names and values from
//! the bytes decoded.
//!
//! Values are the table's data: a [`Value`] or a logical decoding message's content never
//! shows in `Debug` output, and a [`DecodeError`] names the message kind, the byte offset
//! and what was wrong, never the bytes it found there.

use super::Lsn;
use chrono::{DateTime, Utc};
use std::fmt;

/// A commit time as `pgoutput` sends it: microseconds since 2000-01-01 00:00:00 UTC
/// (PostgreSQL's epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// Microseconds from the Unix epoch to PostgreSQL's.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

impl Timestamp {
    /// As a UTC time; `None` beyond what that can hold (PostgreSQL's `infinity`).
    pub fn to_utc(self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_micros(self.0.checked_add(POSTGRES_EPOCH_MICROS)?)
    }
}

/// The kind of a message: its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Begin,
    Commit,
    Origin,
    Relation,
    Type,
    Insert,
    Update,
    Delete,
    Truncate,
    /// A logical decoding message (`pg_logical_emit_message`).
    Message,
}

impl Kind {
    /// Every kind of protocol version 1.
    pub const ALL: [Kind; 10] = [
        Kind::Begin,
        Kind::Commit,
        Kind::Origin,
        Kind::Relation,
        Kind::Type,
        Kind::Insert,
        Kind::Update,
        Kind::Delete,
        Kind::Truncate,
        Kind::Message,
    ];

    /// The byte that starts its messages.
    pub const fn byte(self) -> u8 {
        match self {
            Kind::Begin => b'B',
            Kind::Commit => b'C',
            Kind::Origin => b'O',
            Kind::Relation => b'R',
            Kind::Type => b'Y',
            Kind::Insert => b'I',
            Kind::Update => b'U',
            Kind::Delete => b'D',
            Kind::Truncate => b'T',
            Kind::Message => b'M',
        }
    }

    /// The kind that `byte` starts, if protocol version 1 has it.
    pub fn of(byte: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.byte() == byte)
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Begin => "Begin",
            Kind::Commit => "Commit",
            Kind::Origin => "Origin",
            Kind::Relation => "Relation",
            Kind::Type => "Type",
            Kind::Insert => "Insert",
            Kind::Update => "Update",
            Kind::Delete => "Delete",
            Kind::Truncate => "Truncate",
            Kind::Message => "logical decoding",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} message ('{}')", self.name(), char::from(self.byte()))
    }
}

/// One `pgoutput` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    Begin(Begin),
    Commit(Commit),
    Origin(Origin<'a>),
    Relation(Relation<'a>),
    Type(Type<'a>),
    Insert(Insert<'a>),
    Update(Update<'a>),
    Delete(Delete<'a>),
    Truncate(Truncate),
    Message(LogicalMessage<'a>),
}

impl Message<'_> {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Message::Begin(_) => Kind::Begin,
            Message::Commit(_) => Kind::Commit,
            Message::Origin(_) => Kind::Origin,
            Message::Relation(_) => Kind::Relation,
            Message::Type(_) => Kind::Type,
            Message::Insert(_) => Kind::Insert,
            Message::Update(_) => Kind::Update,
            Message::Delete(_) => Kind::Delete,
            Message::Truncate(_) => Kind::Truncate,
            Message::Message(_) => Kind::Message,
        }
    }
}

/// The start of a transaction ('B').
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Begin {
    /// Where its commit record is: [`Commit::commit_lsn`].
    pub final_lsn: Lsn,
    pub commit_time: Timestamp,
    pub xid: u32,
}

/// The end of a transaction ('C').
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit {
    /// Unused so far (0).
    pub flags: u8,
    /// Where its commit record starts.
    pub commit_lsn: Lsn,
    /// Where its commit record ends: a slot moved on to here has consumed the transaction.
    pub end_lsn: Lsn,
    pub commit_time: Timestamp,
}

/// Where a transaction replayed from another server came from ('O').
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    /// Its commit's position on the origin server.
    pub commit_lsn: Lsn,
    pub name: &'a str,
}

/// What the rows of a table look like ('R'), before the table's first change in a
/// session and after it changed shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation<'a> {
    /// The table's oid: what changes name it by.
    pub oid: u32,
    /// Its schema (empty for `pg_catalog`).
    pub namespace: &'a str,
    pub name: &'a str,
    pub replica_identity: ReplicaIdentity,
    /// The published columns, in the order tuples hold them.
    pub columns: Vec<RelationColumn<'a>>,
}

/// A column of a [`Relation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelationColumn<'a> {
    /// Whether it is part of the replica identity (the key old tuples carry).
    pub key: bool,
    pub name: &'a str,
    pub type_oid: u32,
    /// `atttypmod`: -1 when the type has none.
    pub type_modifier: i32,
}

/// What a table's updates and deletes say of the old row (`relreplident`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaIdentity {
    /// `d`: the primary key.
    Default,
    /// `n`: nothing.
    Nothing,
    /// `f`: the whole row.
    Full,
    /// `i`: the columns of a chosen unique index.
    Index,
}

/// A data type outside `pg_catalog` ('Y'), before the first relation with a column of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Type<'a> {
    pub oid: u32,
    pub namespace: &'a str,
    pub name: &'a str,
}

/// A new row ('I').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert<'a> {
    /// The table's oid ([`Relation::oid`]).
    pub relation: u32,
    pub new: Tuple<'a>,
}

/// A changed row ('U').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update<'a> {
    pub relation: u32,
    /// The old row's key when the update changed it, or the whole old row when the table's
    /// replica identity is [`Full`](ReplicaIdentity::Full); otherwise nothing.
    pub old: Option<OldTuple<'a>>,
    /// The new row; its unchanged out-of-line values are [`Value::Unchanged`].
    pub new: Tuple<'a>,
}

/// A removed row ('D').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete<'a> {
    pub relation: u32,
    pub old: OldTuple<'a>,
}

/// What an update or a delete says of the old row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldTuple<'a> {
    /// 'K': the replica identity's columns; the others are NULL.
    Key(Tuple<'a>),
    /// 'O': the whole row (replica identity full).
    Full(Tuple<'a>),
}

impl<'a> OldTuple<'a> {
    /// The tuple, key or whole row.
    pub fn tuple(&self) -> &Tuple<'a> {
        match self {
            OldTuple::Key(t) | OldTuple::Full(t) => t,
        }
    }
}

/// Tables emptied ('T'), all by one `TRUNCATE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncate {
    pub cascade: bool,
    pub restart_identity: bool,
    /// The tables' oids.
    pub relations: Vec<u32>,
}

/// A message written to the log with `pg_logical_emit_message` ('M'); `pgoutput` sends them
/// only when asked (the option `messages`).
#[derive(Clone, PartialEq, Eq)]
pub struct LogicalMessage<'a> {
    /// Whether it belongs to its transaction (rather than being sent at once).
    pub transactional: bool,
    pub lsn: Lsn,
    pub prefix: &'a str,
    pub content: &'a [u8],
}

impl fmt::Debug for LogicalMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogicalMessage")
            .field("transactional", &self.transactional)
            .field("lsn", &self.lsn)
            .field("prefix", &self.prefix)
            .field("content", &format_args!("{} bytes", self.content.len()))
            .finish()
    }
}

/// A row's published columns, in the order of its [`Relation`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuple<'a>(pub Vec<Value<'a>>);

/// A column's value in a [`Tuple`]. `Debug` shows its kind and size, never its bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// 'n': NULL (or, in a key tuple, a column outside the key).
    Null,
    /// 'u': an out-of-line (TOASTed) value the update left as it was; not sent.
    Unchanged,
    /// 't': the value in the type's text form.
    Text(&'a [u8]),
    /// 'b': the value in the type's binary form (sent only when asked with the option
    /// `binary`).
    Binary(&'a [u8]),
}

impl<'a> Value<'a> {
    /// The text form, for a 't' value.
    pub fn text(&self) -> Option<&'a [u8]> {
        match *self {
            Value::Text(bytes) => Some(bytes),
            _ => None,
        }
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Unchanged => f.write_str("Unchanged"),
            Value::Text(b) => write!(f, "Text({} bytes)", b.len()),
            Value::Binary(b) => write!(f, "Binary({} bytes)", b.len()),
        }
    }
}

/// Bytes that are not a `pgoutput` message of protocol version 1: which kind of message,
/// where, and what was wrong. Shows none of the bytes found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The message's kind, when its first byte names one.
    pub kind: Option<Kind>,
    /// The offset, from the message's first byte, of the field that could not be read.
    pub offset: usize,
    pub problem: Problem,
}

/// What was wrong with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// No bytes at all.
    Empty,
    /// A first byte that protocol version 1 has no message for.
    UnknownKind(u8),
    /// The message ends inside a field of `needed` bytes, `left` before its end.
    Truncated { needed: usize, left: usize },
    /// A string without its terminating NUL byte.
    UnterminatedString,
    /// A name that is not UTF-8.
    NotUtf8,
    /// A count or a length below zero.
    Negative(&'static str),
    /// A byte that should be one of `expected` and is not.
    Unexpected(&'static str),
    /// Bytes after the end of the message.
    TrailingBytes(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Some(kind) => write!(f, "pgoutput {kind}, byte {}: ", self.offset)?,
            None => write!(f, "pgoutput message, byte {}: ", self.offset)?,
        }
        match self.problem {
            Problem::Empty => f.write_str("the message is empty"),
            Problem::UnknownKind(byte) => write!(
                f,
                "no message of protocol version 1 starts with 0x{byte:02X}{}",
                if byte.is_ascii_graphic() {
                    format!(" ('{}')", char::from(byte))
                } else {
                    String::new()
                }
            ),
            Problem::Truncated { needed, left } => write!(
                f,
                "the message ends inside a field of {needed} bytes ({left} left)"
            ),
            Problem::UnterminatedString => f.write_str("a string has no terminating NUL byte"),
            Problem::NotUtf8 => f.write_str("a name is not UTF-8"),
            Problem::Negative(what) => write!(f, "the {what} is negative"),
            Problem::Unexpected(expected) => write!(f, "expected {expected}"),
            Problem::TrailingBytes(n) => {
                write!(f, "{n} bytes follow the end of the message")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes one message of `pgoutput` protocol version 1, borrowing its names and values
/// from `data`. Every byte must belong to the message.
pub fn decode(data: &[u8]) -> Result<Message<'_>, DecodeError> {
    let Some(&first) = data.first() else {
        return Err(DecodeError {
            kind: None,
            offset: 0,
            problem: Problem::Empty,
        });
    };
    let kind = Kind::of(first).ok_or(DecodeError {
        kind: None,
        offset: 0,
        problem: Problem::UnknownKind(first),
    })?;
    let mut r = Reader { data, at: 1, kind };
    let message = match kind {
        Kind::Begin => Message::Begin(Begin {
            final_lsn: r.lsn()?,
            commit_time: Timestamp(r.i64()?),
            xid: r.u32()?,
        }),
        Kind::Commit => Message::Commit(Commit {
            flags: r.u8()?,
            commit_lsn: r.lsn()?,
            end_lsn: r.lsn()?,
            commit_time: Timestamp(r.i64()?),
        }),
        Kind::Origin => Message::Origin(Origin {
            commit_lsn: r.lsn()?,
            name: r.string()?,
        }),
        Kind::Relation => Message::Relation(r.relation()?),
        Kind::Type => Message::Type(Type {
            oid: r.u32()?,
            namespace: r.string()?,
            name: r.string()?,
        }),
        Kind::Insert => {
            let relation = r.u32()?;
            r.marker(b'N', "'N' (a new tuple)")?;
            Message::Insert(Insert {
                relation,
                new: r.tuple()?,
            })
        }
        Kind::Update => {
            let relation = r.u32()?;
            let at = r.at;
            let old = match r.u8()? {
                b'K' => Some(OldTuple::Key(r.tuple()?)),
                b'O' => Some(OldTuple::Full(r.tuple()?)),
                b'N' => {
                    r.at = at;
                    None
                }
                _ => return Err(r.error(at, Problem::Unexpected("'K', 'O' or 'N'"))),
            };
            r.marker(b'N', "'N' (a new tuple)")?;
            Message::Update(Update {
                relation,
                old,
                new: r.tuple()?,
            })
        }
        Kind::Delete => {
            let relation = r.u32()?;
            let at = r.at;
            let old = match r.u8()? {
                b'K' => OldTuple::Key(r.tuple()?),
                b'O' => OldTuple::Full(r.tuple()?),
                _ => return Err(r.error(at, Problem::Unexpected("'K' or 'O'"))),
            };
            Message::Delete(Delete { relation, old })
        }
        Kind::Truncate => r.truncate()?,
        Kind::Message => {
            let at = r.at;
            let transactional = match r.u8()? {
                0 => false,
                1 => true,
                _ => return Err(r.error(at, Problem::Unexpected("flags 0 or 1"))),
            };
            let lsn = r.lsn()?;
            let prefix = r.string()?;
            let length = r.length("content's length")?;
            Message::Message(LogicalMessage {
                transactional,
                lsn,
                prefix,
                content: r.take(length)?,
            })
        }
    };
    if r.at < data.len() {
        return Err(r.error(r.at, Problem::TrailingBytes(data.len() - r.at)));
    }
    Ok(message)
}

/// Reads the fields of one message, in order.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
    kind: Kind,
}

impl<'a> Reader<'a> {
    fn error(&self, offset: usize, problem: Problem) -> DecodeError {
        DecodeError {
            kind: Some(self.kind),
            offset,
            problem,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let left = self.data.len() - self.at;
        if n > left {
            return Err(self.error(self.at, Problem::Truncated { needed: n, left }));
        }
        let bytes = &self.data[self.at..self.at + n];
        self.at += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn i16(&mut self) -> Result<i16, DecodeError> {
        self.array().map(i16::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        self.array().map(i32::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_be_bytes)
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        self.array().map(i64::from_be_bytes)
    }

    fn lsn(&mut self) -> Result<Lsn, DecodeError> {
        self.array().map(u64::from_be_bytes).map(Lsn)
    }

    /// A NUL-terminated name.
    fn string(&mut self) -> Result<&'a str, DecodeError> {
        let at = self.at;
        let rest = &self.data[at..];
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(self.error(at, Problem::UnterminatedString))?;
        let text =
            std::str::from_utf8(&rest[..end]).map_err(|_| self.error(at, Problem::NotUtf8))?;
        self.at += end + 1;
        Ok(text)
    }

    /// A 16-bit count.
    fn count(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let at = self.at;
        let n = self.i16()?;
        usize::try_from(n).map_err(|_| self.error(at, Problem::Negative(what)))
    }

    /// A 32-bit length.
    fn length(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let at = self.at;
        let n = self.i32()?;
        usize::try_from(n).map_err(|_| self.error(at, Problem::Negative(what)))
    }

    fn marker(&mut self, byte: u8, expected: &'static str) -> Result<(), DecodeError> {
        let at = self.at;
        if self.u8()? == byte {
            Ok(())
        } else {
            Err(self.error(at, Problem::Unexpected(expected)))
        }
    }

    fn relation(&mut self) -> Result<Relation<'a>, DecodeError> {
        let oid = self.u32()?;
        let namespace = self.string()?;
        let name = self.string()?;
        let at = self.at;
        let replica_identity = match self.u8()? {
            b'd' => ReplicaIdentity::Default,
            b'n' => ReplicaIdentity::Nothing,
            b'f' => ReplicaIdentity::Full,
            b'i' => ReplicaIdentity::Index,
            _ => {
                return Err(self.error(at, Problem::Unexpected("a replica identity: d, n, f or i")));
            }
        };
        let n = self.count("number of columns")?;
        let mut columns = Vec::with_capacity(n.min(self.data.len()));
        for _ in 0..n {
            let at = self.at;
            let key = match self.u8()? {
                0 => false,
                1 => true,
                _ => return Err(self.error(at, Problem::Unexpected("column flags 0 or 1"))),
            };
            columns.push(RelationColumn {
                key,
                name: self.string()?,
                type_oid: self.u32()?,
                type_modifier: self.i32()?,
            });
        }
        Ok(Relation {
            oid,
            namespace,
            name,
            replica_identity,
            columns,
        })
    }

    fn tuple(&mut self) -> Result<Tuple<'a>, DecodeError> {
        let n = self.count("number of columns")?;
        // Each column takes at least a byte: a count beyond what is left fails below
        // without reserving for it.
        let mut values = Vec::with_capacity(n.min(self.data.len() - self.at));
        for _ in 0..n {
            let at = self.at;
            let value = match self.u8()? {
                b'n' => Value::Null,
                b'u' => Value::Unchanged,
                b't' => {
                    let length = self.length("value's length")?;
                    Value::Text(self.take(length)?)
                }
                b'b' => {
                    let length = self.length("value's length")?;
                    Value::Binary(self.take(length)?)
                }
                _ => {
                    return Err(self.error(at, Problem::Unexpected("a column kind: n, u, t or b")));
                }
            };
            values.push(value);
        }
        Ok(Tuple(values))
    }

    fn truncate(&mut self) -> Result<Message<'a>, DecodeError> {
        let at = self.at;
        let n = self.i32()?;
        let n = usize::try_from(n)
            .map_err(|_| self.error(at, Problem::Negative("number of relations")))?;
        let at = self.at;
        let options = self.u8()?;
        if options & !3 != 0 {
            return Err(self.error(
                at,
                Problem::Unexpected("option bits 1 (cascade) and 2 (restart identity)"),
            ));
        }
        let mut relations = Vec::with_capacity(n.min(self.data.len() / 4));
        for _ in 0..n {
            relations.push(self.u32()?);
        }
        Ok(Message::Truncate(Truncate {
            cascade: options & 1 != 0,
            restart_identity: options & 2 != 0,
            relations,
        }))
    }
}

#[cfg(test)]
mod tests;
