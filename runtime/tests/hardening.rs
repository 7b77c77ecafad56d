//! What a careless source, a DBA or a bad URL does to a batch, and how the engine holds:
//! each test sets the trap, runs the batch, and checks the tables and the message.

mod common;

use common::*;
use datasurface::engine::{BatchStatus, Error};
use datasurface::*;
use tokio_postgres::Client;

const THREE_PEOPLE: &str = "INSERT INTO people VALUES \
    (1, 'Billy', 'Newport', '1970-01-01', 'Acme', NULL), \
    (2, 'Laura', 'Diaz', '1975-02-02', 'Acme', NULL), \
    (3, 'Sam', 'Stone', '1980-03-03', NULL, NULL)";

async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.expect(sql).get(0)
}

async fn last_status(client: &Client, platform: &str) -> (i32, String) {
    let row = client
        .query_one(
            &format!(
                "SELECT batch_id, batch_status FROM {}_batch_metrics ORDER BY batch_id DESC LIMIT 1",
                platform.to_lowercase()
            ),
            &[],
        )
        .await
        .expect("metrics row");
    (row.get(0), row.get(1))
}

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
        let s = setup().await;
        let eco = model(&s.pg, &s.src_db, &s.merge_db, vec![people()], consistency);
        let dataset = (consistency == Consistency::SingleDataset).then_some("people");
        let env = s.pg.env();
        s.source.batch_execute(PEOPLE_DDL).await.expect("create");
        s.source.batch_execute(THREE_PEOPLE).await.expect("insert");
        for platform in ["YellowLive", "YellowForensic"] {
            // A source job reloads the table in one transaction while the batch starts:
            // at every committed instant the source holds three people.
            let mut reloader = s.pg.connect(&s.src_db).await;
            let tx = reloader.transaction().await.expect("begin");
            tx.batch_execute(&format!("TRUNCATE people; {THREE_PEOPLE}"))
                .await
                .expect("reload");
            let batch = {
                let (eco, env) = (eco.clone(), env.clone());
                tokio::spawn(async move { one_batch(&eco, platform, dataset, &env).await })
            };
            until_the_runner_waits_for_a_lock(&s.source, &s.src_db, &batch).await;
            tx.commit().await.expect("commit the reload");
            let b = batch.await.expect("join").expect("batch");
            assert_eq!(counts(&b), (3, 0, 0, 3), "{platform} {consistency:?}");
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn duplicate_keys_behind_an_invalid_unique_index_are_refused() {
    let s = setup().await;
    let eco = s.model(vec![people()]);
    s.source
        .batch_execute(&PEOPLE_DDL.replace("id integer PRIMARY KEY", "id integer NOT NULL"))
        .await
        .expect("create");
    s.source.batch_execute(THREE_PEOPLE).await.expect("insert");
    s.source
        .batch_execute("INSERT INTO people VALUES (1, 'Bill', 'Newport', '1970-01-01', NULL, NULL)")
        .await
        .expect("duplicate");
    // The index build fails on the duplicate and leaves an invalid index behind.
    s.source
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY people_id ON people (id)")
        .await
        .expect_err("the duplicate fails the index");
    for platform in ["YellowLive", "YellowForensic"] {
        let err = one_batch(&eco, platform, None, &s.pg.env())
            .await
            .expect_err("duplicates");
        assert!(
            matches!(err, Error::DuplicateKeys { count: 1, .. }),
            "{err}"
        );
        assert_eq!(last_status(&s.merge, platform).await, (1, "started".into()));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn keys_are_named_only_where_the_classification_allows() {
    let s = setup().await;
    let mut public = people();
    public.classification = Some(Classification::Public);
    let eco = s.model(vec![public]);
    s.source
        .batch_execute(&PEOPLE_DDL.replace("id integer PRIMARY KEY", "id integer NOT NULL"))
        .await
        .expect("create");
    s.source.batch_execute(THREE_PEOPLE).await.expect("insert");
    s.source.batch_execute(THREE_PEOPLE).await.expect("again");
    let err = one_batch(&eco, "YellowLive", None, &s.pg.env())
        .await
        .expect_err("duplicates");
    assert!(
        err.to_string()
            .contains("source table public.people has more than one row for key(s) (1), (2), (3)"),
        "{err}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_merge_that_fails_on_its_snapshot_starts_over_with_a_new_one() {
    let s = setup().await;
    let eco = s.model(vec![people()]);
    let env = s.pg.env();
    s.source.batch_execute(PEOPLE_DDL).await.expect("create");
    s.source.batch_execute(THREE_PEOPLE).await.expect("insert");
    for platform in ["YellowLive", "YellowForensic"] {
        one_batch(&eco, platform, None, &env)
            .await
            .expect("batch 1");
        // A DBA's constraint on the merge table that the next snapshot breaks.
        s.merge
            .batch_execute(&format!(
                "ALTER TABLE {}_store1_people_merge ADD CONSTRAINT no_globex CHECK (employer <> 'Globex') NOT VALID",
                platform.to_lowercase()
            ))
            .await
            .expect("constraint");
    }
    s.source
        .batch_execute("UPDATE people SET employer = 'Globex' WHERE id = 3")
        .await
        .expect("change");
    for platform in ["YellowLive", "YellowForensic"] {
        for attempt in 0..2 {
            let err = one_batch(&eco, platform, None, &env)
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
            assert_eq!(last_status(&s.merge, platform).await, (2, "started".into()));
            let staging = format!(
                "SELECT count(*) FROM {}_store1_people_staging",
                platform.to_lowercase()
            );
            assert_eq!(count(&s.merge, &staging).await, 0);
        }
    }
    // Once the source is fixed, the next run takes a new snapshot and finishes batch 2.
    s.source
        .batch_execute("UPDATE people SET employer = 'Initech' WHERE id = 3")
        .await
        .expect("fix");
    for platform in ["YellowLive", "YellowForensic"] {
        let b = one_batch(&eco, platform, None, &env)
            .await
            .expect("batch 2");
        assert_eq!((b.batch, counts(&b)), (2, (0, 1, 0, 3)), "{platform}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_key_too_long_for_an_index_sends_the_batch_back_with_the_fix_to_make() {
    let s = setup().await;
    let notes = DatasetSchema::new("notes")
        .column(Column::new("key", DataType::Text))
        .column(Column::nullable("body", DataType::Text))
        .key(["key"])
        .classified(Classification::Internal);
    let eco = s.model(vec![notes]);
    let env = s.pg.env();
    s.source
        .batch_execute(
            "CREATE TABLE notes (key text NOT NULL, body text); \
             INSERT INTO notes VALUES ('short', 'fine'); \
             INSERT INTO notes SELECT string_agg(md5(i::text), '') , 'too long' FROM generate_series(1, 100) i",
        )
        .await
        .expect("source");
    for platform in ["YellowLive", "YellowForensic"] {
        let err = one_batch(&eco, platform, None, &env)
            .await
            .expect_err("the key does not fit the index");
        assert!(matches!(err, Error::MergeData { .. }), "{err}");
        assert!(err.to_string().contains("exceeds btree"), "{err}");
        assert_eq!(last_status(&s.merge, platform).await, (1, "started".into()));
    }
    s.source
        .batch_execute("DELETE FROM notes WHERE key <> 'short'")
        .await
        .expect("fix");
    for platform in ["YellowLive", "YellowForensic"] {
        let b = one_batch(&eco, platform, None, &env)
            .await
            .expect("batch 1");
        assert_eq!((b.batch, counts(&b)), (1, (1, 0, 0, 1)), "{platform}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_merge_that_fails_for_another_reason_says_what_to_run() {
    let s = setup().await;
    let eco = s.model(vec![people()]);
    let env = s.pg.env();
    s.source.batch_execute(PEOPLE_DDL).await.expect("create");
    s.source.batch_execute(THREE_PEOPLE).await.expect("insert");
    one_batch(&eco, "YellowLive", None, &env)
        .await
        .expect("batch 1");
    s.source
        .batch_execute("UPDATE people SET employer = 'Umbrella'")
        .await
        .expect("change");
    let url = format!(
        "postgres://postgres@{}:{}/{}?options=-c%20lock_timeout%3D300",
        s.pg.host, s.pg.port, s.merge_db
    );
    let blocked = env.clone().set("DATASURFACE_DB_MERGEDB", url);
    let mut holder = s.pg.connect(&s.merge_db).await;
    let tx = holder.transaction().await.expect("begin");
    tx.batch_execute("LOCK TABLE yellowlive_store1_people_merge IN EXCLUSIVE MODE")
        .await
        .expect("lock");
    let err = one_batch(&eco, "YellowLive", None, &blocked)
        .await
        .expect_err("blocked");
    tx.rollback().await.expect("release");
    let text = err.to_string();
    assert!(
        text.contains("The batch stays ingested: the next run merges the same snapshot again; to take a new one instead, run reset-batch --platform YellowLive --store Store1"),
        "{text}"
    );
    // status shows why the open batch is stuck.
    let history = history(&eco, "YellowLive", None, 5, &env)
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
    let s = setup().await;
    let measures = DatasetSchema::new("measures")
        .column(Column::new("x", DataType::DoublePrecision))
        .column(Column::new("n", DataType::Numeric(None)))
        .column(Column::nullable("label", DataType::Text))
        .key(["x", "n"])
        .classified(Classification::Internal);
    let eco = s.model(vec![measures]);
    let env = s.pg.env();
    s.source
        .batch_execute(
            "CREATE TABLE measures (x double precision NOT NULL, n numeric NOT NULL, label text, PRIMARY KEY (x, n)); \
             INSERT INTO measures VALUES ('-0', 1.0, 'a'), (2, 3, 'b')",
        )
        .await
        .expect("source");
    for platform in ["YellowLive", "YellowForensic"] {
        one_batch(&eco, platform, None, &env)
            .await
            .expect("batch 1");
    }
    // The same keys by `=`, other values.
    s.source
        .batch_execute("UPDATE measures SET x = '0', n = 1.00 WHERE label = 'a'")
        .await
        .expect("change");
    let source_rows = text_rows(&s.source, "SELECT x, n, label FROM measures").await;
    for platform in ["YellowLive", "YellowForensic"] {
        let b = one_batch(&eco, platform, None, &env)
            .await
            .expect("batch 2");
        assert_eq!(counts(&b), (0, 1, 0, 2), "{platform}");
        let current = match platform {
            "YellowLive" => "SELECT x, n, label FROM yellowlive_store1_measures_merge".to_owned(),
            _ => "SELECT x, n, label FROM yellowforensic_store1_measures_merge WHERE ds_surf_batch_out = 2147483647".to_owned(),
        };
        assert_eq!(
            text_rows(&s.merge, &current).await,
            source_rows,
            "{platform}"
        );
        // A third batch finds nothing to change.
        let b = one_batch(&eco, platform, None, &env)
            .await
            .expect("batch 3");
        assert_eq!(counts(&b), (0, 0, 0, 2), "{platform}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_ambiguous_url_is_refused_without_showing_any_of_it() {
    let s = setup().await;
    let eco = s.model(vec![people()]);
    let env = s.pg.env().set(
        "DATASURFACE_DB_MERGEDB",
        "postgres://app:hunter2@topsecret@db.internal:5432/merge",
    );
    let err = one_batch(&eco, "YellowLive", None, &env)
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
    let s = setup().await;
    let env = s.pg.env();
    s.source.batch_execute(PEOPLE_DDL).await.expect("create");
    s.source.batch_execute(THREE_PEOPLE).await.expect("insert");
    // A same-named table that the reading role's search path finds first.
    s.source
        .batch_execute(&format!(
            "CREATE SCHEMA shadow; {}; INSERT INTO shadow.people VALUES (9, 'Shadow', 'Row', '2000-01-01', NULL, NULL); \
             ALTER DATABASE {} SET search_path = shadow, public",
            PEOPLE_DDL.replace("CREATE TABLE people", "CREATE TABLE shadow.people"),
            s.src_db
        ))
        .await
        .expect("shadow");
    let eco = s.model(vec![people()]);
    let b = one_batch(&eco, "YellowLive", None, &env)
        .await
        .expect("public");
    assert_eq!(counts(&b), (3, 0, 0, 3));

    // A store that names its schema reads that one, and the source check names it.
    let mut in_shadow = ecosystem(
        &s.pg,
        &s.src_db,
        &s.merge_db,
        vec![people()],
        Consistency::MultiDataset,
    );
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
    let err = one_batch(&eco, "YellowForensic", None, &env)
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
    let s = setup().await;
    let eco = s.model(vec![people()]);
    let env = s.pg.env();
    let tables = "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace";
    let dry = rewind(&eco, "YellowForensic", "Store1", None, 0, true, &env)
        .await
        .expect("nothing to rewind");
    assert_eq!((dry.batches_reset, dry.applied), (0, false));
    assert_eq!(count(&s.merge, tables).await, 0, "a dry run created tables");
    let err = rewind(&eco, "YellowForensic", "Store1", None, 3, true, &env)
        .await
        .expect_err("no batch 3");
    assert!(
        err.to_string()
            .contains("has no committed batch 3 to rewind to (it is missing)"),
        "{err}"
    );
    assert_eq!(count(&s.merge, tables).await, 0);

    s.source.batch_execute(PEOPLE_DDL).await.expect("create");
    s.source.batch_execute(THREE_PEOPLE).await.expect("insert");
    for change in [
        "UPDATE people SET employer = 'Initech' WHERE id = 1",
        "DELETE FROM people WHERE id = 2",
        "",
    ] {
        if !change.is_empty() {
            s.source.batch_execute(change).await.expect(change);
        }
        one_batch(&eco, "YellowForensic", None, &env)
            .await
            .expect("batch");
    }
    let first = rewind(&eco, "YellowForensic", "Store1", None, 1, false, &env)
        .await
        .expect("rewind");
    assert_eq!(first.batches_reset, 2);
    one_batch(&eco, "YellowForensic", None, &env)
        .await
        .expect("batch 4");
    let second = rewind(&eco, "YellowForensic", "Store1", None, 1, false, &env)
        .await
        .expect("rewind again");
    assert_eq!(second.batches_reset, 1, "only batch 4 was not reset yet");
}

#[tokio::test(flavor = "current_thread")]
async fn a_column_added_by_hand_to_a_merge_table_is_left_alone() {
    let s = setup().await;
    let eco = s.model(vec![people()]);
    let env = s.pg.env();
    s.source.batch_execute(PEOPLE_DDL).await.expect("create");
    s.source.batch_execute(THREE_PEOPLE).await.expect("insert");
    for platform in ["YellowLive", "YellowForensic"] {
        one_batch(&eco, platform, None, &env)
            .await
            .expect("batch 1");
        s.merge
            .batch_execute(&format!(
                "ALTER TABLE {}_store1_people_merge ADD COLUMN audited_by text",
                platform.to_lowercase()
            ))
            .await
            .expect("a DBA's column");
    }
    s.source
        .batch_execute("UPDATE people SET employer = 'Initech' WHERE id = 3; INSERT INTO people VALUES (4, 'Ana', 'Ruiz', '1985-04-04', NULL, NULL)")
        .await
        .expect("change");
    for platform in ["YellowLive", "YellowForensic"] {
        let b = one_batch(&eco, platform, None, &env)
            .await
            .expect("batch 2");
        assert_eq!(counts(&b), (1, 1, 0, 4), "{platform}");
        let plan = infra(&eco, platform, true, &env).await.expect("plan");
        assert_eq!(
            plan.ignored,
            [format!(
                "{}_store1_people_merge.audited_by",
                platform.to_lowercase()
            )]
        );
    }
    // One the merge cannot fill is refused, with what to do.
    s.merge
        .batch_execute("ALTER TABLE yellowlive_store1_people_merge ADD COLUMN reviewer text NOT NULL DEFAULT 'x'; ALTER TABLE yellowlive_store1_people_merge ALTER COLUMN reviewer DROP DEFAULT")
        .await
        .expect("a NOT NULL column");
    let err = one_batch(&eco, "YellowLive", None, &env)
        .await
        .expect_err("refused");
    assert!(
        err.to_string().contains(
            "table yellowlive_store1_people_merge, column reviewer: the column was added by hand and is NOT NULL without a default"
        ),
        "{err}"
    );
}
