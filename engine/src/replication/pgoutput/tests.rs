//! Messages built byte by byte as PostgreSQL 15's `proto.c` writes them, and broken ones.

use super::*;

/// A message under construction: big-endian integers, NUL-terminated strings.
#[derive(Default)]
struct Bytes(Vec<u8>);

impl Bytes {
    fn kind(kind: u8) -> Self {
        Bytes(vec![kind])
    }
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn i16(mut self, v: i16) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend(v.to_be_bytes());
        self
    }
    fn str(mut self, s: &str) -> Self {
        self.0.extend(s.as_bytes());
        self.0.push(0);
        self
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend(b);
        self
    }
    /// A text value: 't', its length, its bytes.
    fn text(self, s: &str) -> Self {
        let n = i32::try_from(s.len()).expect("short");
        self.u8(b't').i32(n).raw(s.as_bytes())
    }
}

const LSN: u64 = 0x16_B374_D848;
const END: u64 = 0x16_B374_D880;
/// 2024-05-06 07:08:09.123456 UTC, in microseconds since 2000-01-01.
const TIME: i64 = 768_294_489_123_456;

fn ok(bytes: &[u8]) -> Message<'_> {
    decode(bytes).unwrap_or_else(|e| panic!("decodes: {e}"))
}

fn err(bytes: &[u8]) -> DecodeError {
    match decode(bytes) {
        Ok(m) => panic!("decoded {m:?}"),
        Err(e) => e,
    }
}

fn err_at(bytes: &[u8], kind: Kind, offset: usize, problem: Problem) {
    assert_eq!(
        err(bytes),
        DecodeError {
            kind: Some(kind),
            offset,
            problem
        },
        "{bytes:?}"
    );
}

/// One valid message of each kind, and of each variant of tuple and old tuple.
fn samples() -> Vec<Vec<u8>> {
    vec![
        Bytes::kind(b'B').u64(LSN).i64(TIME).u32(7).0,
        Bytes::kind(b'C').u8(0).u64(LSN).u64(END).i64(TIME).0,
        Bytes::kind(b'O').u64(LSN).str("upstream").0,
        Bytes::kind(b'R')
            .u32(16384)
            .str("public")
            .str("people")
            .u8(b'd')
            .i16(2)
            .u8(1)
            .str("id")
            .u32(23)
            .i32(-1)
            .u8(0)
            .str("name")
            .u32(1043)
            .i32(54)
            .0,
        Bytes::kind(b'Y').u32(90000).str("app").str("mood").0,
        Bytes::kind(b'I')
            .u32(16384)
            .u8(b'N')
            .i16(4)
            .text("1")
            .u8(b'n')
            .u8(b'u')
            .u8(b'b')
            .i32(2)
            .raw(&[0, 255])
            .0,
        Bytes::kind(b'U').u32(16384).u8(b'N').i16(1).text("a").0,
        Bytes::kind(b'U')
            .u32(16384)
            .u8(b'K')
            .i16(2)
            .text("1")
            .u8(b'n')
            .u8(b'N')
            .i16(2)
            .text("2")
            .u8(b'u')
            .0,
        Bytes::kind(b'U')
            .u32(16384)
            .u8(b'O')
            .i16(1)
            .text("x")
            .u8(b'N')
            .i16(1)
            .text("y")
            .0,
        Bytes::kind(b'D')
            .u32(16384)
            .u8(b'K')
            .i16(2)
            .text("1")
            .u8(b'n')
            .0,
        Bytes::kind(b'D').u32(16384).u8(b'O').i16(1).text("x").0,
        Bytes::kind(b'T').i32(2).u8(3).u32(16384).u32(16390).0,
        Bytes::kind(b'M')
            .u8(1)
            .u64(LSN)
            .str("ds")
            .i32(3)
            .raw(b"abc")
            .0,
    ]
}

#[test]
fn begin() {
    // As a peek returns it: 'B', final LSN 16/B374D848, commit time, xid 7.
    let bytes = [
        b'B', 0, 0, 0, 0x16, 0xB3, 0x74, 0xD8, 0x48, 0, 0x02, 0xBA, 0xA9, 0x6B, 0x4B, 0x6B, 0x80,
        0, 0, 0, 7,
    ];
    let Message::Begin(begin) = ok(&bytes) else {
        panic!("a Begin")
    };
    assert_eq!(begin.final_lsn, Lsn(LSN));
    assert_eq!(begin.final_lsn.to_string(), "16/B374D848");
    assert_eq!(begin.xid, 7);
    assert_eq!(
        begin.commit_time,
        Timestamp(0x0002_BAA9_6B4B_6B80),
        "{:x}",
        begin.commit_time.0
    );
    assert_eq!(ok(&samples()[0]).kind(), Kind::Begin);
}

#[test]
fn commit() {
    assert_eq!(
        ok(&Bytes::kind(b'C').u8(0).u64(LSN).u64(END).i64(TIME).0),
        Message::Commit(Commit {
            flags: 0,
            commit_lsn: Lsn(LSN),
            end_lsn: Lsn(END),
            commit_time: Timestamp(TIME),
        })
    );
}

#[test]
fn commit_times_count_from_2000() {
    let utc = |t: Timestamp| t.to_utc().map(|d| d.to_rfc3339());
    assert_eq!(
        utc(Timestamp(0)).as_deref(),
        Some("2000-01-01T00:00:00+00:00")
    );
    assert_eq!(
        utc(Timestamp(TIME)).as_deref(),
        Some("2024-05-06T07:08:09.123456+00:00")
    );
    assert_eq!(
        utc(Timestamp(-1)).as_deref(),
        Some("1999-12-31T23:59:59.999999+00:00")
    );
    assert_eq!(Timestamp(i64::MAX).to_utc(), None);
}

#[test]
fn origin() {
    assert_eq!(
        ok(&Bytes::kind(b'O').u64(LSN).str("upstream").0),
        Message::Origin(Origin {
            commit_lsn: Lsn(LSN),
            name: "upstream"
        })
    );
}

#[test]
fn relation() {
    let s = samples();
    let Message::Relation(r) = ok(&s[3]) else {
        panic!("a Relation")
    };
    assert_eq!(
        r,
        Relation {
            oid: 16384,
            namespace: "public",
            name: "people",
            replica_identity: ReplicaIdentity::Default,
            columns: vec![
                RelationColumn {
                    key: true,
                    name: "id",
                    type_oid: 23,
                    type_modifier: -1
                },
                RelationColumn {
                    key: false,
                    name: "name",
                    type_oid: 1043,
                    type_modifier: 54
                },
            ],
        }
    );
    // Each replica identity; a table of pg_catalog has no namespace; no columns at all.
    for (byte, identity) in [
        (b'd', ReplicaIdentity::Default),
        (b'n', ReplicaIdentity::Nothing),
        (b'f', ReplicaIdentity::Full),
        (b'i', ReplicaIdentity::Index),
    ] {
        let bytes = Bytes::kind(b'R')
            .u32(1)
            .str("")
            .str("Ölçü \"t\"")
            .u8(byte)
            .i16(0)
            .0;
        let Message::Relation(r) = ok(&bytes) else {
            panic!("a Relation")
        };
        assert_eq!(r.replica_identity, identity);
        assert_eq!((r.namespace, r.name), ("", "Ölçü \"t\""));
        assert!(r.columns.is_empty());
    }
}

#[test]
fn type_() {
    assert_eq!(
        ok(&Bytes::kind(b'Y').u32(90000).str("app").str("mood").0),
        Message::Type(Type {
            oid: 90000,
            namespace: "app",
            name: "mood"
        })
    );
}

#[test]
fn insert_with_every_column_kind() {
    let bytes = &samples()[5];
    assert_eq!(
        ok(bytes),
        Message::Insert(Insert {
            relation: 16384,
            new: Tuple(vec![
                Value::Text(b"1"),
                Value::Null,
                Value::Unchanged,
                Value::Binary(&[0, 255]),
            ]),
        })
    );
    // Values borrow the message's bytes.
    let Message::Insert(insert) = ok(bytes) else {
        panic!("an Insert")
    };
    let one = insert.new.0[0].text().expect("text");
    assert!(std::ptr::eq(one.as_ptr(), &bytes[13]));
    assert_eq!(insert.new.0[1].text(), None);
    // Empty text is not NULL; a tuple may have no column.
    assert_eq!(
        ok(&Bytes::kind(b'I').u32(1).u8(b'N').i16(1).text("").0),
        Message::Insert(Insert {
            relation: 1,
            new: Tuple(vec![Value::Text(b"")])
        })
    );
    assert_eq!(
        ok(&Bytes::kind(b'I').u32(1).u8(b'N').i16(0).0),
        Message::Insert(Insert {
            relation: 1,
            new: Tuple(vec![])
        })
    );
}

#[test]
fn updates_with_and_without_the_old_row() {
    let s = samples();
    assert_eq!(
        ok(&s[6]),
        Message::Update(Update {
            relation: 16384,
            old: None,
            new: Tuple(vec![Value::Text(b"a")]),
        })
    );
    assert_eq!(
        ok(&s[7]),
        Message::Update(Update {
            relation: 16384,
            old: Some(OldTuple::Key(Tuple(vec![Value::Text(b"1"), Value::Null]))),
            new: Tuple(vec![Value::Text(b"2"), Value::Unchanged]),
        })
    );
    let Message::Update(full) = ok(&s[8]) else {
        panic!("an Update")
    };
    assert_eq!(
        full.old,
        Some(OldTuple::Full(Tuple(vec![Value::Text(b"x")])))
    );
    assert_eq!(
        full.old.as_ref().map(OldTuple::tuple),
        Some(&Tuple(vec![Value::Text(b"x")]))
    );
}

#[test]
fn deletes_by_key_and_by_row() {
    let s = samples();
    assert_eq!(
        ok(&s[9]),
        Message::Delete(Delete {
            relation: 16384,
            old: OldTuple::Key(Tuple(vec![Value::Text(b"1"), Value::Null])),
        })
    );
    assert_eq!(
        ok(&s[10]),
        Message::Delete(Delete {
            relation: 16384,
            old: OldTuple::Full(Tuple(vec![Value::Text(b"x")])),
        })
    );
}

#[test]
fn truncates_with_each_option() {
    for (options, cascade, restart_identity) in [
        (0, false, false),
        (1, true, false),
        (2, false, true),
        (3, true, true),
    ] {
        assert_eq!(
            ok(&Bytes::kind(b'T').i32(2).u8(options).u32(16384).u32(16390).0),
            Message::Truncate(Truncate {
                cascade,
                restart_identity,
                relations: vec![16384, 16390],
            })
        );
    }
    assert_eq!(
        ok(&Bytes::kind(b'T').i32(0).u8(0).0),
        Message::Truncate(Truncate {
            cascade: false,
            restart_identity: false,
            relations: vec![],
        })
    );
}

#[test]
fn logical_decoding_messages() {
    assert_eq!(
        ok(&samples()[12]),
        Message::Message(LogicalMessage {
            transactional: true,
            lsn: Lsn(LSN),
            prefix: "ds",
            content: b"abc",
        })
    );
    let empty = Bytes::kind(b'M').u8(0).u64(1).str("").i32(0).0;
    let Message::Message(m) = ok(&empty) else {
        panic!("a logical decoding message")
    };
    assert!(!m.transactional);
    assert_eq!((m.prefix, m.content), ("", &b""[..]));
}

#[test]
fn every_sample_decodes_as_its_kind() {
    for bytes in samples() {
        assert_eq!(ok(&bytes).kind().byte(), bytes[0]);
    }
    for kind in Kind::ALL {
        assert_eq!(Kind::of(kind.byte()), Some(kind));
    }
}

#[test]
fn kinds_of_later_protocol_versions_and_others_are_refused() {
    // Stream start/stop/commit/abort (v2), the prepared-transaction messages (v3), others.
    for byte in [
        b'S', b'E', b'c', b'A', b'b', b'P', b'K', b'r', b'p', b'X', b'i', 0, 0xFF,
    ] {
        assert_eq!(
            err(&[byte, 0, 0, 0, 0]),
            DecodeError {
                kind: None,
                offset: 0,
                problem: Problem::UnknownKind(byte)
            }
        );
    }
    assert_eq!(
        err(&[]),
        DecodeError {
            kind: None,
            offset: 0,
            problem: Problem::Empty
        }
    );
}

#[test]
fn every_truncation_of_every_message_is_an_error_of_its_kind() {
    for bytes in samples() {
        let kind = Kind::of(bytes[0]).expect("a kind");
        for end in 1..bytes.len() {
            let e = err(&bytes[..end]);
            assert_eq!(e.kind, Some(kind), "{bytes:?} cut at {end}");
            assert!(e.offset <= end, "{e} for {bytes:?} cut at {end}");
            assert!(
                matches!(
                    e.problem,
                    Problem::Truncated { .. } | Problem::UnterminatedString
                ),
                "{e}"
            );
        }
    }
}

#[test]
fn truncations_name_the_field_they_cut() {
    // Begin cut inside its commit time (bytes 9 to 16).
    let begin = Bytes::kind(b'B').u64(LSN).i64(TIME).u32(7).0;
    err_at(
        &begin[..12],
        Kind::Begin,
        9,
        Problem::Truncated { needed: 8, left: 3 },
    );
    // An Insert's value longer than what is left.
    let insert = Bytes::kind(b'I')
        .u32(1)
        .u8(b'N')
        .i16(1)
        .u8(b't')
        .i32(10)
        .raw(b"abc")
        .0;
    err_at(
        &insert,
        Kind::Insert,
        13,
        Problem::Truncated {
            needed: 10,
            left: 3,
        },
    );
    // A tuple that says it has more columns than it has.
    let short = Bytes::kind(b'I')
        .u32(1)
        .u8(b'N')
        .i16(3)
        .text("a")
        .u8(b'n')
        .0;
    err_at(
        &short,
        Kind::Insert,
        short.len(),
        Problem::Truncated { needed: 1, left: 0 },
    );
    // A Truncate with fewer oids than it counts.
    let t = Bytes::kind(b'T').i32(3).u8(0).u32(1).u32(2).0;
    err_at(
        &t,
        Kind::Truncate,
        14,
        Problem::Truncated { needed: 4, left: 0 },
    );
    // A logical decoding message whose content is cut.
    let m = Bytes::kind(b'M').u8(0).u64(1).str("p").i32(5).raw(b"ab").0;
    err_at(
        &m,
        Kind::Message,
        16,
        Problem::Truncated { needed: 5, left: 2 },
    );
    // A string without its NUL.
    err_at(
        &Bytes::kind(b'O').u64(LSN).raw(b"upstream").0,
        Kind::Origin,
        9,
        Problem::UnterminatedString,
    );
}

#[test]
fn bad_lengths_and_counts_are_refused() {
    err_at(
        &Bytes::kind(b'I').u32(1).u8(b'N').i16(1).u8(b't').i32(-1).0,
        Kind::Insert,
        9,
        Problem::Negative("value's length"),
    );
    err_at(
        &Bytes::kind(b'I')
            .u32(1)
            .u8(b'N')
            .i16(1)
            .u8(b'b')
            .i32(i32::MIN)
            .0,
        Kind::Insert,
        9,
        Problem::Negative("value's length"),
    );
    err_at(
        &Bytes::kind(b'I').u32(1).u8(b'N').i16(-1).0,
        Kind::Insert,
        6,
        Problem::Negative("number of columns"),
    );
    err_at(
        &Bytes::kind(b'R')
            .u32(1)
            .str("s")
            .str("t")
            .u8(b'd')
            .i16(-2)
            .0,
        Kind::Relation,
        10,
        Problem::Negative("number of columns"),
    );
    err_at(
        &Bytes::kind(b'T').i32(-1).u8(0).0,
        Kind::Truncate,
        1,
        Problem::Negative("number of relations"),
    );
    err_at(
        &Bytes::kind(b'M').u8(1).u64(1).str("p").i32(-5).0,
        Kind::Message,
        12,
        Problem::Negative("content's length"),
    );
    // A huge count over a short message fails on the missing bytes, reserving nothing.
    err_at(
        &Bytes::kind(b'T').i32(i32::MAX).u8(0).u32(1).0,
        Kind::Truncate,
        10,
        Problem::Truncated { needed: 4, left: 0 },
    );
    let huge = Bytes::kind(b'I').u32(1).u8(b'N').i16(i16::MAX).0;
    assert!(matches!(err(&huge).problem, Problem::Truncated { .. }));
}

#[test]
fn unexpected_markers_and_flags_are_refused() {
    let unexpected = |bytes: Vec<u8>, kind, offset, expected| {
        err_at(&bytes, kind, offset, Problem::Unexpected(expected));
    };
    unexpected(
        Bytes::kind(b'I').u32(1).u8(b'K').i16(0).0,
        Kind::Insert,
        5,
        "'N' (a new tuple)",
    );
    unexpected(
        Bytes::kind(b'I').u32(1).u8(b'N').i16(1).u8(b'x').0,
        Kind::Insert,
        8,
        "a column kind: n, u, t or b",
    );
    unexpected(
        Bytes::kind(b'U').u32(1).u8(b'X').0,
        Kind::Update,
        5,
        "'K', 'O' or 'N'",
    );
    // An old key must be followed by the new tuple.
    unexpected(
        Bytes::kind(b'U').u32(1).u8(b'K').i16(0).u8(b'K').i16(0).0,
        Kind::Update,
        8,
        "'N' (a new tuple)",
    );
    unexpected(
        Bytes::kind(b'D').u32(1).u8(b'N').i16(0).0,
        Kind::Delete,
        5,
        "'K' or 'O'",
    );
    unexpected(
        Bytes::kind(b'R').u32(1).str("s").str("t").u8(b'x').i16(0).0,
        Kind::Relation,
        9,
        "a replica identity: d, n, f or i",
    );
    unexpected(
        Bytes::kind(b'R')
            .u32(1)
            .str("s")
            .str("t")
            .u8(b'd')
            .i16(1)
            .u8(2)
            .str("c")
            .u32(23)
            .i32(-1)
            .0,
        Kind::Relation,
        12,
        "column flags 0 or 1",
    );
    unexpected(
        Bytes::kind(b'T').i32(0).u8(4).0,
        Kind::Truncate,
        5,
        "option bits 1 (cascade) and 2 (restart identity)",
    );
    unexpected(
        Bytes::kind(b'M').u8(2).u64(1).str("p").i32(0).0,
        Kind::Message,
        1,
        "flags 0 or 1",
    );
}

#[test]
fn names_must_be_utf8() {
    err_at(
        &Bytes::kind(b'Y').u32(1).str("s").raw(&[0xC3, 0x28, 0]).0,
        Kind::Type,
        7,
        Problem::NotUtf8,
    );
}

#[test]
fn bytes_after_the_message_are_refused() {
    for bytes in samples() {
        let kind = Kind::of(bytes[0]).expect("a kind");
        let mut longer = bytes.clone();
        longer.extend([b'n', b'n']);
        err_at(&longer, kind, bytes.len(), Problem::TrailingBytes(2));
    }
}

#[test]
fn errors_and_debug_output_show_no_value() {
    let secret = "SECRET-4111-1111";
    let insert = Bytes::kind(b'I')
        .u32(1)
        .u8(b'N')
        .i16(2)
        .text(secret)
        .u8(b'?')
        .0;
    let e = err(&insert);
    let shown = e.to_string();
    assert_eq!(
        shown,
        "pgoutput Insert message ('I'), byte 29: expected a column kind: n, u, t or b"
    );
    assert!(!format!("{e:?}").contains("SECRET"));
    let cut = err(&insert[..20]).to_string();
    assert_eq!(
        cut,
        "pgoutput Insert message ('I'), byte 13: the message ends inside a field of 16 bytes (7 left)"
    );
    let ok_insert = Bytes::kind(b'I')
        .u32(1)
        .u8(b'N')
        .i16(2)
        .text(secret)
        .u8(b'u')
        .0;
    let debug = format!("{:?}", ok(&ok_insert));
    assert!(!debug.contains("SECRET"), "{debug}");
    assert!(debug.contains("Text(16 bytes)"), "{debug}");
    let message = Bytes::kind(b'M')
        .u8(1)
        .u64(1)
        .str("p")
        .i32(16)
        .raw(secret.as_bytes())
        .0;
    let debug = format!("{:?}", ok(&message));
    assert!(!debug.contains("SECRET"), "{debug}");
    assert_eq!(
        err(b"Z").to_string(),
        "pgoutput message, byte 0: no message of protocol version 1 starts with 0x5A ('Z')"
    );
    assert_eq!(
        err(&[1]).to_string(),
        "pgoutput message, byte 0: no message of protocol version 1 starts with 0x01"
    );
    assert_eq!(
        err(&[]).to_string(),
        "pgoutput message, byte 0: the message is empty"
    );
    assert_eq!(
        err(&Bytes::kind(b'M').u8(9).0).to_string(),
        "pgoutput logical decoding message ('M'), byte 1: expected flags 0 or 1"
    );
}
