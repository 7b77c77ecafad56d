//! What a careless source, a DBA or a bad URL does to a batch, and how the engine holds:
//! each test sets the trap, runs the batch, and checks the tables and the message.

mod common;

use common::*;
use datasurface::engine::{BatchStatus, Error};
use datasurface::*;
use tokio_postgres::Client;

/// Waits until a session of the runtime waits for a lock in `database` (the batch's
/// snapshot waiting for the source's table lock), or the batch ended without.
async fn until_the_runner_waits_for_a_lock<T>(
    client: &Client,
    database: &str,
    batch: &tokio::task::JoinHandle<T>,
) {
    while !batch.is_finished() {
        let waiting: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'datasurface' \
                 AND wait_event_type = 'Lock'",
                &[&database],
            )
            .await
            .expect("activity")
            .get(0);
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncate_and_reload_during_a_batch_is_read_after_it_commits() {
    for consistency in [Consistency::MultiDataset, Consistency::SingleDataset] {
        let t = Scenario::people()
            .consistency(consistency)
            .source(THREE_PEOPLE)
            .start()
            .await;
        let dataset = (consistency == Consistency::SingleDataset).then_some("people");
        for platform in ["YellowLive", "YellowForensic"] {
            // A source job reloads the table in one transaction while the batch starts:
            // at every committed instant the source holds three people.
            let mut reloader = t.pg.connect(&t.src_db).await;
            let tx = reloader.transaction().await.expect("begin");
            tx.batch_execute(&format!("TRUNCATE people; {THREE_PEOPLE}"))
                .await
                .expect("reload");
            let batch = {
                let (eco, env) = (t.eco.clone(), t.env.clone());
                tokio::spawn(async move { one_batch(&eco, platform, dataset, &env).await })
            };
            until_the_runner_waits_for_a_lock(&t.source, &t.src_db, &batch).await;
            tx.commit().await.expect("commit the reload");
            let b = batch.await.expect("join").expect("batch");
            assert_eq!(counts(&b), (3, 0, 0, 3), "{platform} {consistency:?}");
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn duplicate_keys_behind_an_invalid_unique_index_are_refused() {
    let t = Scenario::of(vec![people()])
        .source(PEOPLE_DDL.replace("id integer PRIMARY KEY", "id integer NOT NULL"))
        .source(THREE_PEOPLE)
        .source("INSERT INTO people VALUES (1, 'Bill', 'Newport', '1970-01-01', NULL, NULL)")
        .start()
        .await;
    // The index build fails on the duplicate and leaves an invalid index behind.
    t.source
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY people_id ON people (id)")
        .await
        .expect_err("the duplicate fails the index");
    for platform in ["YellowLive", "YellowForensic"] {
        let err = t.batch(platform).await.expect_err("duplicates");
        assert!(
            matches!(err, Error::DuplicateKeys { count: 1, .. }),
            "{err}"
        );
        assert_eq!(t.last_status(platform).await, (1, "started".into()));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn keys_are_named_only_where_the_classification_allows() {
    let mut public = people();
    public.classification = Some(Classification::Public);
    let t = Scenario::of(vec![public])
        .source(PEOPLE_DDL.replace("id integer PRIMARY KEY", "id integer NOT NULL"))
        .source(THREE_PEOPLE)
        .source(THREE_PEOPLE)
        .start()
        .await;
    let err = t.batch("YellowLive").await.expect_err("duplicates");
    assert!(
        err.to_string()
            .contains("source table public.people has more than one row for key(s) (1), (2), (3)"),
        "{err}"
    );
}

/// The keys a duplicate-key error reports: how many, and which where they may be shown.
fn reported(err: &Error) -> (u64, Option<Vec<String>>) {
    match err {
        Error::DuplicateKeys { count, keys, .. } => (*count, keys.clone()),
        other => panic!("not a duplicate-key error: {other}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_first_load_reports_duplicate_keys_as_a_later_batch_does() {
    // Key 1 three times, key 2 twice: three rows too many.
    const DUPLICATES: &str = "INSERT INTO people VALUES \
        (2, 'Laura', 'Diaz', '1975-02-02', 'Acme', NULL), \
        (1, 'Bill', 'Newport', '1970-01-01', NULL, NULL), \
        (1, 'Will', 'Newport', '1970-01-01', NULL, NULL)";
    for (classification, shown) in [
        (
            Classification::Public,
            Some(vec!["(1)".to_owned(), "(2)".to_owned()]),
        ),
        (Classification::Personal, None),
    ] {
        let mut dataset = people();
        dataset.classification = Some(classification);
        let t = Scenario::of(vec![dataset])
            .source(PEOPLE_DDL.replace("id integer PRIMARY KEY", "id integer NOT NULL"))
            .source(THREE_PEOPLE)
            .source(DUPLICATES)
            .start()
            .await;
        for platform in ["YellowLive", "YellowForensic"] {
            // Into the empty merge table: the source is read unsorted, the primary key finds them.
            let first = t.batch(platform).await.expect_err("duplicates");
            assert_eq!(reported(&first), (3, shown.clone()), "{platform}: {first}");
            assert_eq!(t.last_status(platform).await, (1, "started".into()));
            let merge = naming::merge_table(platform, "Store1", "people");
            assert_eq!(t.count(&format!("SELECT count(*) FROM {merge}")).await, 0);
        }
        t.change_source(&format!("DELETE FROM people; {THREE_PEOPLE}"))
            .await;
        for platform in ["YellowLive", "YellowForensic"] {
            t.batch(platform).await.expect("batch 1");
        }
        t.change_source(DUPLICATES).await;
        for platform in ["YellowLive", "YellowForensic"] {
            // Beside current rows: the sorted snapshot's diff finds them.
            let later = t.batch(platform).await.expect_err("duplicates");
            assert_eq!(reported(&later), (3, shown.clone()), "{platform}: {later}");
            assert_eq!(t.last_status(platform).await, (2, "started".into()));
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_merge_that_fails_on_its_snapshot_starts_over_with_a_new_one() {
    let t = Scenario::people().source(THREE_PEOPLE).start().await;
    for platform in ["YellowLive", "YellowForensic"] {
        t.batch(platform).await.expect("batch 1");
        // A DBA's constraint on the merge table that the next snapshot breaks.
        t.merge
            .batch_execute(&format!(
                "ALTER TABLE {} ADD CONSTRAINT no_globex CHECK (employer <> 'Globex') NOT VALID",
                naming::merge_table(platform, "Store1", "people")
            ))
            .await
            .expect("constraint");
    }
    t.change_source("UPDATE people SET employer = 'Globex' WHERE id = 3")
        .await;
    for platform in ["YellowLive", "YellowForensic"] {
        for attempt in 0..2 {
            let err = t
                .batch(platform)
                .await
                .expect_err("the constraint refuses the row");
            let text = err.to_string();
            assert!(matches!(err, Error::MergeData { batch: 2, .. }), "{text}");
            for expected in [
                "violates check constraint \"no_globex\"",
                "the batch was sent back to started and its staging cleared, so the next run takes a new snapshot",
            ] {
                assert!(
                    text.contains(expected),
                    "{attempt}: missing {expected:?} in {text}"
                );
            }
            // No row value reaches the message (PostgreSQL details the failing row).
            for value in ["Sam", "Stone", "Globex)", "1980"] {
                assert!(!text.contains(value), "{text}");
            }
            assert_eq!(t.last_status(platform).await, (2, "started".into()));
            let staging = format!(
                "SELECT count(*) FROM {}",
                naming::staging_table(platform, "Store1", "people")
            );
            assert_eq!(t.count(&staging).await, 0);
        }
    }
    // Once the source is fixed, the next run takes a new snapshot and finishes batch 2.
    t.change_source("UPDATE people SET employer = 'Initech' WHERE id = 3")
        .await;
    for platform in ["YellowLive", "YellowForensic"] {
        let b = t.batch(platform).await.expect("batch 2");
        assert_eq!((b.batch, counts(&b)), (2, (0, 1, 0, 3)), "{platform}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_key_too_long_for_an_index_sends_the_batch_back_with_the_fix_to_make() {
    let notes = DatasetSchema::new("notes")
        .column(Column::new("key", DataType::Text))
        .column(Column::nullable("body", DataType::Text))
        .key(["key"])
        .classified(Classification::Internal);
    let t = Scenario::of(vec![notes])
        .source(
            "CREATE TABLE notes (key text NOT NULL, body text); \
             INSERT INTO notes VALUES ('short', 'fine'); \
             INSERT INTO notes SELECT string_agg(md5(i::text), '') , 'too long' FROM generate_series(1, 100) i",
        )
        .start()
        .await;
    for platform in ["YellowLive", "YellowForensic"] {
        let err = t
            .batch(platform)
            .await
            .expect_err("the key does not fit the index");
        assert!(matches!(err, Error::MergeData { .. }), "{err}");
        assert!(err.to_string().contains("exceeds btree"), "{err}");
        assert_eq!(t.last_status(platform).await, (1, "started".into()));
    }
    t.change_source("DELETE FROM notes WHERE key <> 'short'")
        .await;
    for platform in ["YellowLive", "YellowForensic"] {
        let b = t.batch(platform).await.expect("batch 1");
        assert_eq!((b.batch, counts(&b)), (1, (1, 0, 0, 1)), "{platform}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_merge_that_fails_for_another_reason_says_what_to_run() {
    let t = Scenario::people().source(THREE_PEOPLE).start().await;
    t.batch("YellowLive").await.expect("batch 1");
    t.change_source("UPDATE people SET employer = 'Umbrella'")
        .await;
    let err = t.batch_with_merge_blocked("YellowLive").await;
    let text = err.to_string();
    assert!(
        text.contains("The batch stays ingested: the next run merges the same snapshot again; to take a new one instead, run reset-batch --platform YellowLive --store Store1"),
        "{text}"
    );
    // status shows why the open batch is stuck.
    let history = history(&t.eco, "YellowLive", None, 5, &t.env)
        .await
        .expect("status");
    let last = history.last().expect("a batch");
    assert_eq!(last.batch_status, BatchStatus::Ingested);
    assert!(
        last.state
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("lock timeout")),
        "{:?}",
        last.state
    );
}

#[tokio::test(flavor = "current_thread")]
async fn keys_equal_by_value_but_not_by_bytes_are_kept_as_the_source_has_them() {
    let measures = DatasetSchema::new("measures")
        .column(Column::new("x", DataType::DoublePrecision))
        .column(Column::new("n", DataType::Numeric(None)))
        .column(Column::nullable("label", DataType::Text))
        .key(["x", "n"])
        .classified(Classification::Internal);
    let t = Scenario::of(vec![measures])
        .source(
            "CREATE TABLE measures (x double precision NOT NULL, n numeric NOT NULL, label text, PRIMARY KEY (x, n)); \
             INSERT INTO measures VALUES ('-0', 1.0, 'a'), (2, 3, 'b')",
        )
        .start()
        .await;
    for platform in ["YellowLive", "YellowForensic"] {
        t.batch(platform).await.expect("batch 1");
    }
    // The same keys by `=`, other values.
    t.change_source("UPDATE measures SET x = '0', n = 1.00 WHERE label = 'a'")
        .await;
    let source_rows = text_rows(&t.source, "SELECT x, n, label FROM measures").await;
    for platform in ["YellowLive", "YellowForensic"] {
        let b = t.batch(platform).await.expect("batch 2");
        assert_eq!(counts(&b), (0, 1, 0, 2), "{platform}");
        let current = t.current_rows(platform, "measures", "x, n, label");
        assert_eq!(
            text_rows(&t.merge, &current).await,
            source_rows,
            "{platform}"
        );
        // A third batch finds nothing to change.
        let b = t.batch(platform).await.expect("batch 3");
        assert_eq!(counts(&b), (0, 0, 0, 2), "{platform}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_ambiguous_url_is_refused_without_showing_any_of_it() {
    let t = Scenario::people().start().await;
    let env = t.env.clone().set(
        "DATASURFACE_DB_MERGEDB",
        "postgres://app:hunter2@topsecret@db.internal:5432/merge",
    );
    let err = one_batch(&t.eco, "YellowLive", None, &env)
        .await
        .expect_err("refused");
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("DATASURFACE_DB_MERGEDB is ambiguous") && text.contains("%40"),
        "{text}"
    );
    for secret in ["hunter2", "topsecret", "app:"] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn source_tables_are_read_from_the_models_schema_never_the_search_path() {
    let t = Scenario::people().source(THREE_PEOPLE).start().await;
    // A same-named table that the reading role's search path finds first.
    t.change_source(&format!(
        "CREATE SCHEMA shadow; {}; INSERT INTO shadow.people VALUES (9, 'Shadow', 'Row', '2000-01-01', NULL, NULL); \
         ALTER DATABASE {} SET search_path = shadow, public",
        PEOPLE_DDL.replace("CREATE TABLE people", "CREATE TABLE shadow.people"),
        t.src_db
    ))
    .await;
    let b = t.batch("YellowLive").await.expect("public");
    assert_eq!(counts(&b), (3, 0, 0, 3));

    // A store that names its schema reads that one, and the source check names it.
    let mut in_shadow = t.ecosystem(vec![people()]);
    for zone in &mut in_shadow.zones {
        for team in &mut zone.teams {
            for store in &mut team.datastores {
                if let Some(Capture::SqlSnapshot(snapshot)) = &mut store.capture {
                    snapshot.schema = "sales".into();
                }
            }
        }
    }
    let eco = in_shadow.validate().expect("valid");
    let err = one_batch(&eco, "YellowForensic", None, &t.env)
        .await
        .expect_err("no sales schema");
    assert!(
        err.to_string()
            .contains("source table sales.people not found in database SourceDB"),
        "{err}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_dry_run_rewind_creates_nothing_and_a_second_rewind_counts_only_new_resets() {
    let t = Scenario::of(vec![people()]).start().await;
    let (eco, env) = (&t.eco, &t.env);
    let tables = "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace";
    let dry = rewind(eco, "YellowForensic", "Store1", None, 0, true, env)
        .await
        .expect("nothing to rewind");
    assert_eq!((dry.batches_reset, dry.applied), (0, false));
    assert_eq!(t.count(tables).await, 0, "a dry run created tables");
    let err = rewind(eco, "YellowForensic", "Store1", None, 3, true, env)
        .await
        .expect_err("no batch 3");
    assert!(
        err.to_string()
            .contains("has no committed batch 3 to rewind to (it is missing)"),
        "{err}"
    );
    assert_eq!(t.count(tables).await, 0);

    t.change_source(PEOPLE_DDL).await;
    t.change_source(THREE_PEOPLE).await;
    for change in [
        "UPDATE people SET employer = 'Initech' WHERE id = 1",
        "DELETE FROM people WHERE id = 2",
        "",
    ] {
        if !change.is_empty() {
            t.change_source(change).await;
        }
        t.batch("YellowForensic").await.expect("batch");
    }
    let first = rewind(eco, "YellowForensic", "Store1", None, 1, false, env)
        .await
        .expect("rewind");
    assert_eq!(first.batches_reset, 2);
    t.batch("YellowForensic").await.expect("batch 4");
    let second = rewind(eco, "YellowForensic", "Store1", None, 1, false, env)
        .await
        .expect("rewind again");
    assert_eq!(second.batches_reset, 1, "only batch 4 was not reset yet");
}

#[tokio::test(flavor = "current_thread")]
async fn a_column_added_by_hand_to_a_merge_table_is_left_alone() {
    let t = Scenario::people().source(THREE_PEOPLE).start().await;
    for platform in ["YellowLive", "YellowForensic"] {
        t.batch(platform).await.expect("batch 1");
        t.merge
            .batch_execute(&format!(
                "ALTER TABLE {} ADD COLUMN audited_by text",
                naming::merge_table(platform, "Store1", "people")
            ))
            .await
            .expect("a DBA's column");
    }
    t.change_source("UPDATE people SET employer = 'Initech' WHERE id = 3; INSERT INTO people VALUES (4, 'Ana', 'Ruiz', '1985-04-04', NULL, NULL)")
        .await;
    for platform in ["YellowLive", "YellowForensic"] {
        let b = t.batch(platform).await.expect("batch 2");
        assert_eq!(counts(&b), (1, 1, 0, 4), "{platform}");
        let plan = infra(&t.eco, platform, true, &t.env).await.expect("plan");
        assert_eq!(
            plan.ignored,
            [format!(
                "{}.audited_by",
                naming::merge_table(platform, "Store1", "people")
            )]
        );
    }
    // One the merge cannot fill is refused, with what to do.
    let live = naming::merge_table("YellowLive", "Store1", "people");
    t.merge
        .batch_execute(&format!("ALTER TABLE {live} ADD COLUMN reviewer text NOT NULL DEFAULT 'x'; ALTER TABLE {live} ALTER COLUMN reviewer DROP DEFAULT"))
        .await
        .expect("a NOT NULL column");
    let err = t.batch("YellowLive").await.expect_err("refused");
    assert!(
        err.to_string().contains(&format!(
            "table {live}, column reviewer: the column was added by hand and is NOT NULL without a default"
        )),
        "{err}"
    );
}
