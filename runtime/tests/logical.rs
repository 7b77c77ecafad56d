//! Capture by logical replication, checked against capture by snapshot: two stores read the
//! same source tables, one by snapshot and one from a replication slot, and after every
//! batch of seeded random changes their live and forensic tables and their metrics are the
//! same. Then the hard cases: a value stored out of line that an update leaves unchanged, a
//! `TRUNCATE`, a slot that is dropped under the stream or loses the log it needs, a busy
//! server whose other tables write the log while the captured one is idle, and source
//! columns added, dropped, added back and retyped.

mod common;

use common::*;
use datasurface::engine::{BatchState, Outcome, Read, RunOptions};
use datasurface::*;

fn items() -> DatasetSchema {
    DatasetSchema::new("items")
        .column(Column::new("k", DataType::Text))
        .column(Column::new("n", DataType::Integer))
        .column(Column::nullable("a", DataType::Text))
        .column(Column::nullable("doc", DataType::Text))
        .column(Column::nullable("x", DataType::DoublePrecision))
        .key(["k", "n"])
        .classified(Classification::Internal)
}

const ITEMS_DDL: &str = "CREATE TABLE items (k text, n integer, a text, doc text, x double precision, \
     PRIMARY KEY (k, n)); ALTER TABLE items ALTER COLUMN doc SET STORAGE EXTERNAL";

/// One model, two stores over the same source table: `Snap` by snapshot, `Repl` by logical
/// replication, each on a live and a forensic platform.
fn twins(pg: &TestPg, source: &str, merge: &str) -> ValidEcosystem {
    let src = PostgresDatabase::new("SourceDB", source).at(&pg.host, pg.port);
    let credential = Credential::user_password("src");
    let snap = Datastore::new("Snap")
        .capture(SqlSnapshot::new(
            src.clone(),
            credential.clone(),
            "*/5 * * * *",
        ))
        .dataset_schema(items());
    let repl = Datastore::new("Repl")
        .capture(LogicalReplication::new(src, credential, "*/5 * * * *"))
        .dataset_schema(items());
    let live = DatasetGroup::new("LiveDSG", Retention::LiveOnly)
        .sink_named("Snap", "items")
        .sink_named("Repl", "items");
    let forensic = DatasetGroup::new("ForensicDSG", Retention::Forensic)
        .sink_named("Snap", "items")
        .sink_named("Repl", "items");
    platforms(pg, merge, vec![snap, repl], live, forensic)
        .validate()
        .expect("valid model")
}

struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const KEYS: &[&str] = &["", "a", "A", "é", "b b", "ß", "ss", "10", "9", "z"];

/// A value out of line: long, and not compressible.
fn big(rng: &mut Lcg) -> String {
    (0..3000)
        .map(|_| char::from(b'a' + rng.below(26) as u8))
        .collect()
}

fn value(rng: &mut Lcg) -> String {
    match rng.below(5) {
        0 => "NULL".into(),
        1 => "''".into(),
        2 => "'it''s'".into(),
        _ => format!("'v{}'", rng.below(7)),
    }
}

/// A burst of random changes, several transactions, in SQL.
fn changes(rng: &mut Lcg) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..(1 + rng.below(4)) {
        let mut tx = vec!["BEGIN".to_owned()];
        for _ in 0..(1 + rng.below(6)) {
            let k = KEYS[rng.below(KEYS.len() as u64) as usize].replace('\'', "''");
            let n = rng.below(3);
            let doc = match rng.below(3) {
                0 => "NULL".to_owned(),
                1 => format!("'{}'", big(rng)),
                _ => value(rng),
            };
            let x = match rng.below(4) {
                0 => "NULL".to_owned(),
                1 => "0.1".to_owned(),
                2 => "-0".to_owned(),
                _ => format!("{}.{}", rng.below(100), rng.below(1000)),
            };
            let a = value(rng);
            tx.push(match rng.below(7) {
                // Insert or replace the whole row.
                0 | 1 => format!(
                    "INSERT INTO items VALUES ('{k}', {n}, {a}, {doc}, {x}) \
                     ON CONFLICT (k, n) DO UPDATE SET a = EXCLUDED.a, doc = EXCLUDED.doc, x = EXCLUDED.x"
                ),
                // Change a small column and leave the large one as it is.
                2 | 3 => format!("UPDATE items SET a = {a} WHERE k = '{k}' AND n = {n}"),
                // Change the key.
                4 => format!(
                    "UPDATE items SET n = n + 10 WHERE k = '{k}' AND n = {n} \
                     AND NOT EXISTS (SELECT 1 FROM items WHERE k = '{k}' AND n = {n} + 10)"
                ),
                // Remove, and sometimes put back at once.
                5 => format!("DELETE FROM items WHERE k = '{k}' AND n = {n}"),
                _ => format!(
                    "DELETE FROM items WHERE k = '{k}' AND n = {n}; \
                     INSERT INTO items VALUES ('{k}', {n}, {a}, {doc}, {x})"
                ),
            });
        }
        tx.push("COMMIT".into());
        out.push(tx.join("; "));
    }
    out
}

/// Every row of a merge table, as text, in a fixed order.
async fn table(client: &tokio_postgres::Client, platform: &str, store: &str) -> Vec<String> {
    let merge = naming::quote_ident(&naming::merge_table(platform, store, "items"));
    text_rows(client, &format!("SELECT * FROM {merge}")).await
}

/// Asserts that the two stores' merge tables on `platform` hold the same rows; shows the
/// rows that differ, shortened.
async fn same_rows(s: &Scenario, platform: &str, when: &str) {
    let (repl, snap) = (
        table(&s.merge, platform, "Repl").await,
        table(&s.merge, platform, "Snap").await,
    );
    let short = |r: &String| {
        r.chars().take(60).collect::<String>() + "…" + &r[r.len().saturating_sub(90)..]
    };
    let only = |a: &[String], b: &[String]| -> Vec<String> {
        a.iter().filter(|r| !b.contains(r)).map(short).collect()
    };
    assert!(
        repl == snap,
        "{when}: only by replication {:#?}\nonly by snapshot {:#?}",
        only(&repl, &snap),
        only(&snap, &repl)
    );
}

async fn batch(s: &Scenario, eco: &ValidEcosystem, platform: &str, store: &str) -> Outcome {
    run_batch(eco, platform, store, None, &Default::default(), &s.env)
        .await
        .unwrap_or_else(|e| panic!("batch of {store} on {platform}: {e}"))
}

/// The capture state the last committed batch of `Repl` on `platform` recorded.
async fn capture(s: &Scenario, platform: &str) -> (Read, Option<String>) {
    let metrics = naming::quote_ident(&naming::batch_metrics_table(platform));
    let row = s
        .merge
        .query_one(
            &format!(
                "SELECT state FROM {metrics} WHERE key = 'Repl' AND batch_status = 'committed' \
                 ORDER BY batch_id DESC LIMIT 1"
            ),
            &[],
        )
        .await
        .expect("a committed batch");
    let state = BatchState::from_json(row.get(0)).expect("state");
    let capture = state.capture.expect("a capture state");
    (capture.read, capture.resync)
}

#[tokio::test]
async fn replication_and_snapshot_batches_end_identical() {
    let s = Scenario::of(vec![items()]).source(ITEMS_DDL).start().await;
    let eco = twins(&s.pg, &s.src_db, &s.merge_db);
    let mut rng = Lcg(7);
    let mut from_changes = 0;
    for round in 0..25 {
        if round > 0 {
            for tx in changes(&mut rng) {
                s.change_source(&tx).await;
            }
        }
        for platform in ["YellowLive", "YellowForensic"] {
            let snap = batch(&s, &eco, platform, "Snap").await;
            let repl = batch(&s, &eco, platform, "Repl").await;
            assert_eq!(
                counts(&repl),
                counts(&snap),
                "round {round}, {platform}: metrics"
            );
            same_rows(&s, platform, &format!("round {round}, {platform}")).await;
            let (read, resync) = capture(&s, platform).await;
            if round == 0 {
                assert_eq!(read, Read::Snapshot);
            } else if read == Read::Changes {
                from_changes += 1;
            } else {
                // The one change the slot cannot give whole: a key moved by an update that
                // left a large value unsent.
                let reason = resync.unwrap_or_default();
                assert!(
                    reason.contains("key was changed"),
                    "round {round}: {reason}"
                );
            }
        }
    }
    assert!(
        from_changes >= 30,
        "only {from_changes} of 48 batches read the changes"
    );
}

#[tokio::test]
async fn a_truncate_or_a_lost_slot_resyncs_and_loses_nothing() {
    let s = Scenario::of(vec![items()])
        .source(ITEMS_DDL)
        .source("INSERT INTO items VALUES ('a', 1, 'x', NULL, 1), ('b', 2, 'y', NULL, 2)")
        .start()
        .await;
    let eco = twins(&s.pg, &s.src_db, &s.merge_db);
    // A truncate deletes every row: allowed here.
    let options = RunOptions {
        max_delete_percent: Some(100),
        ..RunOptions::default()
    };
    let both = async |round: &str| {
        let run = async |store| {
            run_batch(&eco, "YellowForensic", store, None, &options, &s.env)
                .await
                .unwrap_or_else(|e| panic!("{round}: batch of {store}: {e}"))
        };
        let (snap, repl) = (run("Snap").await, run("Repl").await);
        assert_eq!(counts(&repl), counts(&snap), "{round}: metrics");
        same_rows(&s, "YellowForensic", round).await;
        capture(&s, "YellowForensic").await
    };
    assert_eq!(both("first").await.0, Read::Snapshot);

    // A truncate is a change like any other: every key before it is gone.
    s.change_source("TRUNCATE items; INSERT INTO items VALUES ('c', 3, 'z', NULL, 3)")
        .await;
    assert_eq!(both("truncate").await.0, Read::Changes);

    s.change_source("UPDATE items SET a = 'w'").await;
    assert_eq!(both("after the truncate").await.0, Read::Changes);

    // The slot goes, with changes made before and after.
    s.change_source("INSERT INTO items VALUES ('d', 4, NULL, NULL, 4)")
        .await;
    let slot = naming::replication_slot("Test", "YellowForensic", "Repl", None);
    s.change_source(&format!("SELECT pg_drop_replication_slot('{slot}')"))
        .await;
    s.change_source("DELETE FROM items WHERE k = 'c'").await;
    let (read, resync) = both("slot dropped").await;
    assert_eq!(read, Read::Snapshot);
    assert!(resync.expect("a reason").contains("slot"));

    s.change_source("INSERT INTO items VALUES ('e', 5, NULL, NULL, 5)")
        .await;
    assert_eq!(both("after the resync").await.0, Read::Changes);
}

/// Where the slot of `Repl` on `platform` is: its confirmed position and how much log it
/// holds back on the server, in bytes.
async fn slot_position(s: &Scenario, platform: &str) -> (String, i64) {
    let slot = naming::replication_slot("Test", platform, "Repl", None);
    let row = s
        .source
        .query_one(
            "SELECT confirmed_flush_lsn::text, (pg_current_wal_lsn() - restart_lsn)::bigint \
             FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .expect("the slot");
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn an_idle_publication_on_a_busy_server_moves_its_slot_on_and_holds_little_log() {
    let s = Scenario::of(vec![items()])
        .source(ITEMS_DDL)
        .source("INSERT INTO items VALUES ('a', 1, 'x', NULL, 1)")
        .source("CREATE TABLE busy (id bigint, filler text)")
        .start()
        .await;
    let eco = twins(&s.pg, &s.src_db, &s.merge_db);
    batch(&s, &eco, "YellowLive", "Repl").await;
    let wal = async || -> i64 {
        s.source
            .query_one("SELECT (pg_current_wal_lsn() - '0/0')::bigint", &[])
            .await
            .expect("the log's position")
            .get(0)
    };
    for round in 0..4 {
        // The server is busy with a table no stream publishes: the captured one is idle.
        let before = wal().await;
        s.change_source(
            "INSERT INTO busy SELECT i, repeat('x', 100) FROM generate_series(1, 60000) AS i; \
             DELETE FROM busy",
        )
        .await;
        let written = wal().await - before;
        // The server notes its running transactions every 15 s when busy, and at every
        // checkpoint: what lets a slot's restart point move on.
        s.change_source("CHECKPOINT").await;
        let outcome = batch(&s, &eco, "YellowLive", "Repl").await;
        assert_eq!(counts(&outcome), (0, 0, 0, 1), "round {round}");
        let (read, _) = capture(&s, "YellowLive").await;
        assert_eq!(read, Read::Changes, "round {round}");

        // The slot moved on to the batch's bound though nothing it publishes changed, so
        // the log the busy table wrote is not held for it.
        let metrics = naming::quote_ident(&naming::batch_metrics_table("YellowLive"));
        let bound: String = s
            .merge
            .query_one(
                &format!(
                    "SELECT state::jsonb -> 'capture' ->> 'upper' FROM {metrics} \
                     WHERE key = 'Repl' AND batch_status = 'committed' ORDER BY batch_id DESC LIMIT 1"
                ),
                &[],
            )
            .await
            .expect("the batch's bound")
            .get(0);
        let (confirmed, held) = slot_position(&s, "YellowLive").await;
        assert_eq!(confirmed, bound, "round {round}");
        assert!(
            held < written / 10,
            "round {round}: the slot holds {held} bytes of log back, the round wrote {written}"
        );
    }
}

#[tokio::test]
async fn a_column_changed_at_the_source_stops_the_batch_and_one_added_back_resyncs() {
    let s = Scenario::of(vec![items()])
        .source(ITEMS_DDL)
        .source("INSERT INTO items VALUES ('a', 1, 'x', NULL, 1), ('b', 2, 'y', NULL, 2)")
        .start()
        .await;
    let eco = twins(&s.pg, &s.src_db, &s.merge_db);
    let run =
        async |store| run_batch(&eco, "YellowLive", store, None, &Default::default(), &s.env).await;
    let both = async |when: &str| {
        for store in ["Snap", "Repl"] {
            if let Err(e) = run(store).await {
                panic!("{when}: batch of {store}: {e}");
            }
        }
    };
    both("first batch").await;

    // A column the model does not have is no concern of the stream.
    s.change_source("ALTER TABLE items ADD COLUMN extra integer; UPDATE items SET extra = 7, a = 'w' WHERE k = 'a'")
        .await;
    both("a column the model lacks").await;
    same_rows(&s, "YellowLive", "column added").await;
    assert_eq!(capture(&s, "YellowLive").await.0, Read::Changes);

    // A model column dropped stops the batch, naming it and what to do.
    s.change_source("ALTER TABLE items DROP COLUMN a; INSERT INTO items VALUES ('c', 3, NULL, 3)")
        .await;
    let error = run("Repl")
        .await
        .expect_err("a model column is gone")
        .to_string();
    assert!(error.contains("column a"), "{error}");
    assert!(error.contains("items"), "{error}");

    // Added back, the column has no values in the changes made without it: the next batch
    // reads a snapshot, and loses nothing.
    s.change_source("ALTER TABLE items ADD COLUMN a text; UPDATE items SET a = 'v' WHERE k = 'b'")
        .await;
    both("the column came back").await;
    same_rows(&s, "YellowLive", "column added back").await;
    let (read, resync) = capture(&s, "YellowLive").await;
    assert_eq!(read, Read::Snapshot);
    assert!(resync.unwrap_or_default().contains("column a"));

    // A model column whose type changed stops the batch too.
    s.change_source("ALTER TABLE items ALTER COLUMN x TYPE text")
        .await;
    let error = run("Repl").await.expect_err("a changed column").to_string();
    assert!(error.contains("column x"), "{error}");
}

#[tokio::test]
async fn a_slot_that_lost_its_log_resyncs_and_loses_nothing() {
    let s = Scenario::of(vec![items()])
        .source(ITEMS_DDL)
        .source("INSERT INTO items VALUES ('a', 1, 'x', NULL, 1)")
        .source("CREATE TABLE busy (id bigint, filler text)")
        .start()
        .await;
    if s.pg.throwaway().is_none() {
        // Limiting the log a slot keeps is a server setting: not on a shared server.
        eprintln!("skipped: needs a server of its own");
        return;
    }
    let eco = twins(&s.pg, &s.src_db, &s.merge_db);
    let both = async |round: &str| {
        for store in ["Snap", "Repl"] {
            batch(&s, &eco, "YellowForensic", store).await;
        }
        same_rows(&s, "YellowForensic", round).await;
        capture(&s, "YellowForensic").await
    };
    both("first").await;

    // The server may keep only so much log for a slot; a change waits in it while the
    // server writes much more than that elsewhere, and checkpoints remove the log.
    s.change_source("ALTER SYSTEM SET max_slot_wal_keep_size = '48MB'")
        .await;
    s.change_source("SELECT pg_reload_conf()").await;
    s.change_source("UPDATE items SET a = 'lost in the log'")
        .await;
    let slot = naming::replication_slot("Test", "YellowForensic", "Repl", None);
    let status = async || -> String {
        s.source
            .query_one(
                "SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1",
                &[&slot],
            )
            .await
            .expect("the slot")
            .get(0)
    };
    for _ in 0..12 {
        if status().await == "lost" {
            break;
        }
        s.change_source(
            "INSERT INTO busy SELECT i, repeat('x', 200) FROM generate_series(1, 100000) AS i; \
             DELETE FROM busy",
        )
        .await;
        s.change_source("SELECT pg_switch_wal()").await;
        s.change_source("CHECKPOINT").await;
    }
    assert_eq!(status().await, "lost");
    s.change_source("ALTER SYSTEM RESET max_slot_wal_keep_size")
        .await;
    s.change_source("SELECT pg_reload_conf()").await;

    let (read, resync) = both("slot lost").await;
    assert_eq!(read, Read::Snapshot);
    assert!(resync.unwrap_or_default().contains("lost"));

    s.change_source("INSERT INTO items VALUES ('b', 2, NULL, NULL, 2)")
        .await;
    assert_eq!(both("after the resync").await.0, Read::Changes);
}
