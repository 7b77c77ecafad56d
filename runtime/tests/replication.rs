//! Logical replication against a real server: a publication and a `pgoutput` slot, changes
//! in several transactions, and what peeking and advancing the slot return, decoded.
//!
//! What PostgreSQL 15 does, as the test pins it: a peek up to `upto` returns the
//! transactions whose commit record starts before `upto` (their Commit's `commit_lsn`),
//! whole and in commit order, and the same ones again until the slot is advanced; a slot
//! advanced to a transaction's `commit_lsn` still returns it, advanced to its `end_lsn` it
//! does not. Each peek is a new decoding session, so a table's Relation message comes
//! before its first change in every peek, and again after `TRUNCATE` or `ALTER TABLE`
//! (whose own transaction sends nothing). An update that leaves an out-of-line value as
//! it was sends it as unchanged ('u'); an update of the key sends the old key ('K').

mod common;

use common::*;
use datasurface::codegen::sql::SourceTable;
use datasurface::codegen::sql::replication::{self as sql, Advance, Change, Peek, ReplicationSlot};
use datasurface::codegen::sql::typed::Single;
use datasurface::engine::replication::{Lsn, Message, OldTuple, Tuple, Value, decode};
use datasurface::pg::Exec;
use std::collections::HashMap;
use tokio_postgres::Client;

const SLOT: &str = "ds_capture_test";
const PUBLICATION: &str = "DS Capture";

/// Text that does not compress: `len` pseudo-random letters and digits.
fn random_text(seed: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(ALPHABET[(state % ALPHABET.len() as u64) as usize])
        })
        .collect()
}

/// Long values, known by name so the assertions can show them as `<name>`.
type Known<'k> = &'k [(&'k str, &'k str)];

/// A value as the assertions below read it: text quoted, a known long value by its name.
fn value(v: &Value<'_>, known: Known<'_>) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Unchanged => "unchanged".into(),
        Value::Text(b) => match known.iter().find(|(_, text)| text.as_bytes() == *b) {
            Some((name, _)) => format!("<{name}>"),
            None => format!("'{}'", String::from_utf8_lossy(b)),
        },
        Value::Binary(b) => format!("<{} binary bytes>", b.len()),
    }
}

fn tuple(t: &Tuple<'_>, known: Known<'_>) -> String {
    let values: Vec<String> = t.0.iter().map(|v| value(v, known)).collect();
    format!("({})", values.join(", "))
}

/// One transaction of a peek, decoded.
#[derive(Debug, Clone, PartialEq)]
struct Transaction {
    xid: u32,
    /// Where its commit record starts (Begin's final LSN, Commit's commit LSN).
    commit_lsn: Lsn,
    /// Where its commit record ends.
    end_lsn: Lsn,
    /// The `lsn` column of its Begin row and of its Commit row.
    begin_row_lsn: Lsn,
    commit_row_lsn: Lsn,
    /// Its messages between Begin and Commit, as text.
    changes: Vec<String>,
}

/// The rows of a peek, decoded and grouped by transaction; checks that every message
/// decodes, that each transaction is whole, that its rows carry its xid, and that a change
/// names a table a Relation message of the peek described.
fn transactions(rows: &[Change], known: Known<'_>) -> Vec<Transaction> {
    let mut names: HashMap<u32, String> = HashMap::new();
    let mut out = Vec::new();
    let mut open: Option<Transaction> = None;
    for row in rows {
        let message = decode(&row.data).unwrap_or_else(|e| panic!("{e}"));
        if let Some(t) = &open {
            assert_eq!(i64::from(t.xid), row.xid, "a row of another transaction");
        }
        let text = match message {
            Message::Begin(b) => {
                assert!(open.is_none(), "Begin inside a transaction");
                assert_eq!(i64::from(b.xid), row.xid);
                assert!(b.commit_time.to_utc().is_some());
                open = Some(Transaction {
                    xid: b.xid,
                    commit_lsn: b.final_lsn,
                    end_lsn: Lsn::INVALID,
                    begin_row_lsn: row.lsn,
                    commit_row_lsn: Lsn::INVALID,
                    changes: Vec::new(),
                });
                continue;
            }
            Message::Commit(c) => {
                let mut t = open.take().expect("Commit outside a transaction");
                assert_eq!(
                    c.commit_lsn, t.commit_lsn,
                    "Begin's final LSN is the commit's"
                );
                assert_eq!(c.flags, 0);
                assert!(c.end_lsn > c.commit_lsn);
                t.end_lsn = c.end_lsn;
                t.commit_row_lsn = row.lsn;
                out.push(t);
                continue;
            }
            Message::Relation(r) => {
                let name = format!("{}.{}", r.namespace, r.name);
                names.insert(r.oid, name.clone());
                let columns: Vec<String> = r
                    .columns
                    .iter()
                    .map(|c| {
                        let key = if c.key { "*" } else { "" };
                        format!("{}{key}:{}({})", c.name, c.type_oid, c.type_modifier)
                    })
                    .collect();
                format!(
                    "relation {name} {:?} {}",
                    r.replica_identity,
                    columns.join(" ")
                )
            }
            Message::Insert(i) => {
                assert!(names.contains_key(&i.relation), "a Relation message first");
                format!("insert {}", tuple(&i.new, known))
            }
            Message::Update(u) => {
                assert!(names.contains_key(&u.relation), "a Relation message first");
                let old = match &u.old {
                    None => String::new(),
                    Some(OldTuple::Key(t)) => format!("key {} ", tuple(t, known)),
                    Some(OldTuple::Full(t)) => format!("old {} ", tuple(t, known)),
                };
                format!("update {old}to {}", tuple(&u.new, known))
            }
            Message::Delete(d) => {
                assert!(names.contains_key(&d.relation), "a Relation message first");
                match &d.old {
                    OldTuple::Key(t) => format!("delete key {}", tuple(t, known)),
                    OldTuple::Full(t) => format!("delete old {}", tuple(t, known)),
                }
            }
            Message::Truncate(t) => {
                let tables: Vec<&str> = t.relations.iter().map(|r| names[r].as_str()).collect();
                format!(
                    "truncate {} cascade={} restart_identity={}",
                    tables.join(", "),
                    t.cascade,
                    t.restart_identity
                )
            }
            other => panic!("unexpected {other:?}"),
        };
        open.as_mut()
            .expect("a change outside a transaction")
            .changes
            .push(text);
    }
    assert!(open.is_none(), "a transaction without its Commit");
    out
}

async fn peek(client: &Client, upto: Option<Lsn>) -> Vec<Change> {
    client
        .rows(&sql::peek(), &Peek::new(SLOT, upto, PUBLICATION))
        .await
        .expect("peek")
}

async fn xids(client: &Client, upto: Lsn) -> Vec<u32> {
    transactions(&peek(client, Some(upto)).await, &[])
        .iter()
        .map(|t| t.xid)
        .collect()
}

async fn state(client: &Client) -> Option<sql::SlotState> {
    client
        .opt_row(&sql::slot_state(), &ReplicationSlot { slot: SLOT })
        .await
        .expect("slot state")
}

async fn advance(client: &Client, to: Lsn) -> Lsn {
    client
        .row(&sql::advance(), &Advance { slot: SLOT, to })
        .await
        .expect("advance the slot")
        .0
}

/// Runs `statements` as one transaction; its xid.
async fn transaction(client: &Client, statements: &str) -> u32 {
    client
        .batch_execute(&format!("BEGIN; {statements}"))
        .await
        .expect(statements);
    let xid: String = client
        .query_one("SELECT pg_current_xact_id()::text", &[])
        .await
        .expect("xid")
        .get(0);
    client.batch_execute("COMMIT").await.expect("commit");
    xid.parse().expect("a 32-bit xid")
}

const RELATION: &str = "relation public.Docs Default id*:23(-1) title:1043(24) body:25(-1)";

#[tokio::test(flavor = "current_thread")]
async fn pgoutput_changes_peek_decode_and_advance() {
    let pg = TestPg::start();
    let db = pg.create_db("replication").await;
    let client = pg.connect(&db).await;
    let wal_level: String = client
        .query_one("SHOW wal_level", &[])
        .await
        .expect("wal_level")
        .get(0);
    assert_eq!(
        wal_level, "logical",
        "the test server needs wal_level=logical"
    );
    // A peek reads the log only as far as it is flushed: commits flush before they return.
    client
        .batch_execute("SET synchronous_commit = on")
        .await
        .expect("synchronous commit");
    client
        .batch_execute(
            r#"CREATE TABLE "Docs" (id integer PRIMARY KEY, title varchar(20) NOT NULL, body text);
               ALTER TABLE "Docs" ALTER COLUMN body SET STORAGE EXTERNAL"#,
        )
        .await
        .expect("create the table");
    client
        .run(&sql::create_publication(
            PUBLICATION,
            &[SourceTable::new("public", "Docs")],
        ))
        .await
        .expect("create the publication");

    // The slot, fresh.
    let slot = ReplicationSlot { slot: SLOT };
    let Single(created) = client
        .row(&sql::create_slot(), &slot)
        .await
        .expect("create the slot");
    let fresh = state(&client).await.expect("the slot exists");
    assert_eq!(fresh.plugin.as_deref(), Some("pgoutput"));
    assert_eq!(fresh.database.as_deref(), Some(db.as_str()));
    assert!(!fresh.active);
    assert_eq!(fresh.confirmed_flush_lsn, Some(created));
    assert!(fresh.restart_lsn.is_some_and(|r| r <= created));
    assert_eq!(fresh.wal_status.as_deref(), Some("reserved"));
    assert!(fresh.retained_bytes.is_some_and(|b| b >= 0));

    // Values that do not compress and are stored out of line.
    let (big, bigger) = (random_text(1, 4000), random_text(2, 5000));
    let known = [("big", big.as_str()), ("bigger", bigger.as_str())];
    client.batch_execute("BEGIN").await.expect("begin");
    client
        .execute(r#"INSERT INTO "Docs" VALUES (1, 'one', $1)"#, &[&big])
        .await
        .expect("insert 1");
    client
        .execute(r#"INSERT INTO "Docs" VALUES (2, 'two', NULL)"#, &[])
        .await
        .expect("insert 2");
    client.batch_execute("COMMIT").await.expect("commit");
    let toast: String = client
        .query_one(
            r#"SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = '"Docs"'::regclass"#,
            &[],
        )
        .await
        .expect("the TOAST table")
        .get(0);
    let chunks: i64 = client
        .query_one(&format!("SELECT count(*) FROM {toast}"), &[])
        .await
        .expect("TOAST chunks")
        .get(0);
    assert!(chunks >= 2, "the value is stored out of line, uncompressed");
    transaction(
        &client,
        r#"UPDATE "Docs" SET title = 'uno' WHERE id = 1;
           UPDATE "Docs" SET id = 3 WHERE id = 2"#,
    )
    .await;
    client.batch_execute("BEGIN").await.expect("begin");
    client
        .execute(r#"UPDATE "Docs" SET id = 10 WHERE id = 1"#, &[])
        .await
        .expect("update a key");
    client
        .execute(r#"UPDATE "Docs" SET body = $1 WHERE id = 3"#, &[&bigger])
        .await
        .expect("update a body");
    client
        .execute(r#"DELETE FROM "Docs" WHERE id = 10"#, &[])
        .await
        .expect("delete");
    client.batch_execute("COMMIT").await.expect("commit");
    transaction(&client, r#"TRUNCATE "Docs""#).await;
    let alter = transaction(&client, r#"ALTER TABLE "Docs" ADD COLUMN tags text"#).await;
    transaction(
        &client,
        r#"INSERT INTO "Docs" VALUES (4, 'four', NULL, 'x')"#,
    )
    .await;
    let Single(upper) = client
        .row(&sql::current_lsn(), &())
        .await
        .expect("current LSN");
    let last = transaction(
        &client,
        r#"INSERT INTO "Docs" VALUES (5, 'five', NULL, NULL)"#,
    )
    .await;

    // Up to `upper`: every transaction before it, whole, and nothing of the last.
    let rows = peek(&client, Some(upper)).await;
    let txs = transactions(&rows, &known);
    let changes: Vec<Vec<&str>> = txs
        .iter()
        .map(|t| t.changes.iter().map(String::as_str).collect())
        .collect();
    let with_tags = format!("{RELATION} tags:25(-1)");
    assert_eq!(
        changes,
        [
            vec![
                RELATION,
                "insert ('1', 'one', <big>)",
                "insert ('2', 'two', null)",
            ],
            vec![
                "update to ('1', 'uno', unchanged)",
                "update key ('2', null, null) to ('3', 'two', null)",
            ],
            vec![
                "update key ('1', null, null) to ('10', 'uno', unchanged)",
                "update to ('3', 'two', <bigger>)",
                "delete key ('10', null, null)",
            ],
            vec![
                RELATION,
                "truncate public.Docs cascade=false restart_identity=false",
            ],
            vec![with_tags.as_str(), "insert ('4', 'four', null, 'x')"],
        ]
    );
    assert!(txs.iter().all(|t| t.xid != alter && t.xid != last));
    for (i, t) in txs.iter().enumerate() {
        assert!(t.commit_lsn < upper && t.end_lsn <= upper, "{t:?} {upper}");
        assert!(t.begin_row_lsn <= t.commit_lsn, "{t:?}");
        assert_eq!(
            t.commit_row_lsn, t.end_lsn,
            "a Commit row is at the end of its record"
        );
        if i > 0 {
            assert!(t.commit_lsn > txs[i - 1].end_lsn, "in commit order");
        }
    }
    // The same again: a peek consumes nothing.
    assert_eq!(peek(&client, Some(upper)).await, rows);
    // Without a bound: the last one too.
    let everything = transactions(&peek(&client, None).await, &known);
    assert_eq!(everything.len(), 6);
    assert_eq!(everything[..5], txs[..]);
    assert_eq!(everything[5].xid, last);
    assert!(everything[5].commit_lsn > upper);

    // A transaction comes back when its commit record starts before the bound.
    let second = &txs[1];
    let first_two = vec![txs[0].xid, second.xid];
    assert_eq!(xids(&client, second.begin_row_lsn).await, [txs[0].xid]);
    // (Unless the record starts a page of the log, the one before ends where it starts.)
    if second.commit_lsn.0 % 8192 > 40 {
        assert_eq!(xids(&client, second.commit_lsn).await, [txs[0].xid]);
    }
    assert_eq!(xids(&client, Lsn(second.commit_lsn.0 + 1)).await, first_two);
    assert_eq!(xids(&client, second.end_lsn).await, first_two);

    // Advanced to a commit LSN, the slot still returns that transaction…
    let first = &txs[0];
    assert_eq!(advance(&client, first.commit_lsn).await, first.commit_lsn);
    let moved = state(&client).await.expect("the slot exists");
    assert_eq!(moved.confirmed_flush_lsn, Some(first.commit_lsn));
    assert_eq!(transactions(&peek(&client, Some(upper)).await, &known), txs);
    // …advanced to its end LSN, the next peek starts after it, with the table's Relation
    // message again before its first change.
    assert_eq!(advance(&client, first.end_lsn).await, first.end_lsn);
    let moved = state(&client).await.expect("the slot exists");
    assert_eq!(moved.confirmed_flush_lsn, Some(first.end_lsn));
    assert!(moved.retained_bytes.is_some_and(|b| b > 0));
    let rest = transactions(&peek(&client, Some(upper)).await, &known);
    assert_eq!(rest.len(), 4);
    assert_eq!(rest[0].xid, second.xid);
    assert_eq!(rest[0].changes[0], RELATION);
    assert_eq!(rest[0].changes[1..], second.changes[..]);
    assert_eq!(rest[1..], txs[2..]);

    // Dropped once; dropping again finds nothing.
    assert_eq!(
        client.exec(&sql::drop_slot(), &slot).await.expect("drop"),
        1
    );
    assert_eq!(
        client.exec(&sql::drop_slot(), &slot).await.expect("drop"),
        0
    );
    assert!(state(&client).await.is_none());
    for _ in 0..2 {
        client
            .run(&sql::drop_publication(PUBLICATION))
            .await
            .expect("drop the publication");
    }
}
