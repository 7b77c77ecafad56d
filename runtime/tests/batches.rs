//! Batch behaviour beyond the happy path: source checks, guards, resets, resumption,
//! and streams of several datasets.

mod common;

use common::*;
use datasurface::engine::{Error, RunOptions};
use datasurface::*;

const FIVE_PEOPLE: &str = "INSERT INTO people VALUES \
    (1, 'Billy', 'Newport', '1970-01-01', 'Acme', NULL), \
    (2, 'Laura', 'Diaz', '1975-02-02', 'Acme', NULL), \
    (3, 'Sam', 'Stone', '1980-03-03', NULL, NULL), \
    (4, 'Ana', 'Ruiz', '1985-04-04', 'Initech', NULL), \
    (5, 'Tom', 'Li', '1990-05-05', 'Globex', NULL)";

async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.expect(sql).get(0)
}

async fn last_status(client: &tokio_postgres::Client, table: &str, key: &str) -> (i32, String) {
    let row = client
        .query_one(
            &format!("SELECT batch_id, batch_status FROM {table} WHERE key = $1 ORDER BY batch_id DESC LIMIT 1"),
            &[&key],
        )
        .await
        .expect("metrics row");
    (row.get(0), row.get(1))
}

fn jobs() -> DatasetSchema {
    DatasetSchema::new("jobs")
        .column(Column::new("id", DataType::BigInt))
        .column(Column::new("person", DataType::Integer))
        .column(Column::nullable("title", DataType::Text))
        .column(Column::nullable("salary", DataType::Numeric(Some((10, 2)))))
        .key(["id", "person"])
        .classified(Classification::Confidential)
}

#[tokio::test(flavor = "current_thread")]
async fn a_source_that_does_not_match_the_model_is_refused_by_column() {
    let s = setup().await;
    let eco = s.model(vec![people(), jobs()]);
    // firstName unquoted (folded to firstname), dob as text, employer too wide, no jobs table.
    s.source
        .batch_execute(
            "CREATE TABLE people (id integer PRIMARY KEY, firstName varchar(50), \"lastName\" varchar(50), \
             dob text, employer varchar(80), dod date)",
        )
        .await
        .expect("create");
    let err = one_batch(&eco, "YellowLive", None, &s.pg.env())
        .await
        .expect_err("refused");
    let text = err.to_string();
    for expected in [
        "the source does not match the model; batch 1 stays open and nothing was merged",
        "source table public.people, column firstName: not found; the source has `firstname`",
        "source table public.people, column dob: the source has text, which does not fit the model's date",
        "source table public.people, column employer: the source has character varying(80), which does not fit the model's varchar(50)",
        "source table public.people, column lastName: the source allows NULL, but the model's column is NOT NULL",
        "source table public.jobs not found in database SourceDB",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert_eq!(
        last_status(&s.merge, "yellowlive_batch_metrics", "Store1").await,
        (1, "started".into())
    );
    assert_eq!(
        count(
            &s.merge,
            "SELECT count(*) FROM yellowlive_store1_people_merge"
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_source_is_named_without_its_password() {
    let s = setup().await;
    let eco = s.model(vec![people()]);
    let env =
        s.pg.env()
            .set("DATASURFACE_DB_SOURCEDB", "postgres://127.0.0.1:1/nowhere")
            .set("src_PASSWORD", "hunter2-secret");
    let err = one_batch(&eco, "YellowLive", None, &env)
        .await
        .expect_err("unreachable");
    let text = format!("{err} {err:?}");
    assert!(
        text.contains(
            "cannot connect to database SourceDB (127.0.0.1:1/nowhere as postgres) after 4 attempts: error connecting to server: Connection refused"
        ),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test(flavor = "current_thread")]
async fn the_mass_delete_guard_refuses_then_the_flag_allows() {
    let s = setup().await;
    let eco = s.model(vec![people()]);
    let env = s.pg.env();
    s.source.batch_execute(PEOPLE_DDL).await.expect("create");
    s.source.batch_execute(FIVE_PEOPLE).await.expect("insert");
    for platform in ["YellowLive", "YellowForensic"] {
        one_batch(&eco, platform, None, &env).await.expect("load");
    }
    // Three of five (60%) would go.
    s.source
        .batch_execute("DELETE FROM people WHERE id <= 3")
        .await
        .expect("delete");
    for (platform, merge_table, metrics) in [
        (
            "YellowLive",
            "yellowlive_store1_people_merge",
            "yellowlive_batch_metrics",
        ),
        (
            "YellowForensic",
            "yellowforensic_store1_people_merge",
            "yellowforensic_batch_metrics",
        ),
    ] {
        let err = one_batch(&eco, platform, None, &env)
            .await
            .expect_err("guarded");
        assert!(
            matches!(
                err,
                Error::MassDelete {
                    deleted: 3,
                    current: 5,
                    limit: 50,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("would delete 3 of the 5 current rows of people (60%)"),
            "{err}"
        );
        assert_eq!(
            last_status(&s.merge, metrics, "Store1").await,
            (2, "started".into())
        );
        let staging = merge_table.replace("_merge", "_staging");
        assert_eq!(
            count(&s.merge, &format!("SELECT count(*) FROM {staging}")).await,
            0
        );
        let current = if platform == "YellowLive" {
            format!("SELECT count(*) FROM {merge_table}")
        } else {
            format!("SELECT count(*) FROM {merge_table} WHERE ds_surf_batch_out = 2147483647")
        };
        assert_eq!(count(&s.merge, &current).await, 5);

        let allow = RunOptions {
            max_delete_percent: Some(60),
            ..RunOptions::default()
        };
        let b = run_batch(&eco, platform, "Store1", None, &allow, &env)
            .await
            .expect("allowed");
        assert_eq!((b.batch, counts(&b)), (2, (0, 0, 3, 2)));
        assert_eq!(count(&s.merge, &current).await, 2);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn duplicate_source_keys_are_refused_with_the_keys() {
    let s = setup().await;
    let eco = s.model(vec![people()]);
    s.source
        .batch_execute(&PEOPLE_DDL.replace("id integer PRIMARY KEY", "id integer NOT NULL"))
        .await
        .expect("create");
    s.source.batch_execute(FIVE_PEOPLE).await.expect("insert");
    s.source
        .batch_execute("INSERT INTO people VALUES (2, 'Laura', 'Again', '1975-02-02', NULL, NULL)")
        .await
        .expect("dup");
    let err = one_batch(&eco, "YellowLive", None, &s.pg.env())
        .await
        .expect_err("duplicates");
    // The model classifies people as personal: the key is not shown, only how many.
    assert!(
        err.to_string().contains(
            "source table public.people has more than one row for 1 key(s) (not shown: the key is classified)"
        ),
        "{err}"
    );
    assert_eq!(
        last_status(&s.merge, "yellowlive_batch_metrics", "Store1").await,
        (1, "started".into())
    );
}

#[tokio::test(flavor = "current_thread")]
async fn reset_batch_refuses_what_it_must_and_resets_an_open_batch() {
    let s = setup().await;
    let eco = s.model(vec![people()]);
    let env = s.pg.env();
    s.source.batch_execute(PEOPLE_DDL).await.expect("create");
    s.source.batch_execute(FIVE_PEOPLE).await.expect("insert");

    let err = reset_batch(&eco, "YellowLive", "Nowhere", None, &env)
        .await
        .expect_err("unknown store");
    assert!(
        err.to_string()
            .starts_with("Could not find datastore in ecosystem"),
        "{err}"
    );
    let err = reset_batch(&eco, "YellowLive", "Store1", Some("people"), &env)
        .await
        .expect_err("dataset on a multi-dataset store");
    assert!(err.to_string().contains("is MULTI_DATASET"), "{err}");

    one_batch(&eco, "YellowLive", None, &env)
        .await
        .expect("batch 1");
    let err = reset_batch(&eco, "YellowLive", "Store1", None, &env)
        .await
        .expect_err("committed");
    assert!(matches!(err, Error::Committed));
    assert_eq!(err.to_string(), "Batch is COMMITTED and cannot be reset");

    // Leave batch 2 ingested: the merge cannot take its table's lock.
    s.source
        .batch_execute("UPDATE people SET employer = 'Umbrella'")
        .await
        .expect("change");
    let err = run_with_merge_blocked(&s, &eco, "YellowLive").await;
    assert!(err.to_string().contains("lock timeout"), "{err}");
    assert_eq!(
        last_status(&s.merge, "yellowlive_batch_metrics", "Store1").await,
        (2, "ingested".into())
    );
    assert_eq!(
        count(
            &s.merge,
            "SELECT count(*) FROM yellowlive_store1_people_staging"
        )
        .await,
        5
    );

    assert_eq!(
        reset_batch(&eco, "YellowLive", "Store1", None, &env)
            .await
            .expect("reset"),
        2
    );
    assert_eq!(
        last_status(&s.merge, "yellowlive_batch_metrics", "Store1").await,
        (2, "started".into())
    );
    assert_eq!(
        count(
            &s.merge,
            "SELECT count(*) FROM yellowlive_store1_people_staging"
        )
        .await,
        0
    );

    // The next run takes a fresh snapshot and finishes batch 2.
    let b = one_batch(&eco, "YellowLive", None, &env)
        .await
        .expect("batch 2");
    assert_eq!((b.batch, counts(&b)), (2, (0, 5, 0, 5)));
}

/// Runs a batch of `platform` whose merge cannot write its merge table (another session
/// holds a lock that lets reads go on and makes writes wait; the runner gives up after
/// 300 ms), leaving the batch `ingested`.
async fn run_with_merge_blocked(s: &Setup, eco: &ValidEcosystem, platform: &str) -> Error {
    let url = format!(
        "postgres://postgres@{}:{}/{}?options=-c%20lock_timeout%3D300",
        s.pg.host, s.pg.port, s.merge_db
    );
    let blocked = s.pg.env().set("DATASURFACE_DB_MERGEDB", url);
    let mut holder = s.pg.connect(&s.merge_db).await;
    let tx = holder.transaction().await.expect("begin");
    let table = format!("{}_store1_people_merge", platform.to_lowercase());
    tx.batch_execute(&format!("LOCK TABLE {table} IN EXCLUSIVE MODE"))
        .await
        .expect("lock");
    let err = one_batch(eco, platform, None, &blocked)
        .await
        .expect_err("merge blocked");
    tx.rollback().await.expect("release");
    err
}

/// The people model, five people in the source, and batch 1 of `platform` committed.
async fn five_people_loaded(s: &Setup, platform: &str) -> ValidEcosystem {
    let eco = s.model(vec![people()]);
    s.source.batch_execute(PEOPLE_DDL).await.expect("create");
    s.source.batch_execute(FIVE_PEOPLE).await.expect("insert");
    one_batch(&eco, platform, None, &s.pg.env())
        .await
        .expect("batch 1");
    eco
}

#[tokio::test(flavor = "current_thread")]
async fn a_batch_whose_merge_failed_completes_on_the_next_run() {
    let s = setup().await;
    let eco = five_people_loaded(&s, "YellowForensic").await;
    let env = s.pg.env();
    s.source
        .batch_execute(
            "UPDATE people SET employer = 'Umbrella' WHERE id = 1; DELETE FROM people WHERE id = 5",
        )
        .await
        .expect("change");

    run_with_merge_blocked(&s, &eco, "YellowForensic").await;
    // The source changes again after the snapshot: the open batch keeps its snapshot.
    s.source
        .batch_execute("DELETE FROM people WHERE id = 4")
        .await
        .expect("later change");

    let b = one_batch(&eco, "YellowForensic", None, &env)
        .await
        .expect("resumed");
    assert_eq!((b.batch, counts(&b)), (2, (0, 1, 1, 4)));
    let versions = count(
        &s.merge,
        "SELECT count(*) FROM yellowforensic_store1_people_merge",
    )
    .await;
    assert_eq!(
        versions, 6,
        "5 first versions + 1 new version of id 1, no duplicates"
    );
    let b = one_batch(&eco, "YellowForensic", None, &env)
        .await
        .expect("batch 3");
    assert_eq!((b.batch, counts(&b)), (3, (0, 0, 1, 3)));
}

#[tokio::test(flavor = "current_thread")]
async fn a_model_change_under_an_open_batch_needs_a_reset() {
    let s = setup().await;
    let eco = s.model(vec![people()]);
    let env = s.pg.env();
    // No source table yet: batch 1 stays started.
    one_batch(&eco, "YellowLive", None, &env)
        .await
        .expect_err("no table");
    let mut changed = people();
    changed.columns[4].data_type = DataType::Varchar(60);
    let eco2 = s.model(vec![changed]);
    s.source.batch_execute(PEOPLE_DDL).await.expect("create");
    let err = one_batch(&eco2, "YellowLive", None, &env)
        .await
        .expect_err("changed model");
    assert!(
        err.to_string()
            .contains("the model changed since batch 1 of Store1 started (dataset(s) people)"),
        "{err}"
    );
    reset_batch(&eco2, "YellowLive", "Store1", None, &env)
        .await
        .expect("reset");
    // The reset batch takes its snapshot under the new model (its tables widened to match).
    let b = one_batch(&eco2, "YellowLive", None, &env)
        .await
        .expect("batch 1");
    assert_eq!(b.batch, 1);
    // Going back would narrow the column: refused, by run as by infra.
    let err = one_batch(&eco, "YellowLive", None, &env)
        .await
        .expect_err("narrowing");
    assert!(err.to_string().contains("that narrows the column"), "{err}");
}

const JOBS_DDL: &str = "CREATE TABLE jobs (id bigint, person integer, title text, salary numeric(8,2), PRIMARY KEY (id, person))";

#[tokio::test(flavor = "current_thread")]
async fn a_multi_dataset_store_merges_its_datasets_in_one_batch() {
    let s = setup().await;
    let eco = s.model(vec![people(), jobs()]);
    let env = s.pg.env();
    s.source.batch_execute(PEOPLE_DDL).await.expect("people");
    s.source.batch_execute(JOBS_DDL).await.expect("jobs");
    s.source.batch_execute(FIVE_PEOPLE).await.expect("insert");
    s.source
        .batch_execute("INSERT INTO jobs VALUES (1, 1, 'cook', 10.5), (1, 2, 'cook', NULL), (2, 1, NULL, 99.99)")
        .await
        .expect("jobs rows");
    let b = one_batch(&eco, "YellowLive", None, &env)
        .await
        .expect("batch 1");
    assert_eq!(counts(&b), (8, 0, 0, 8));
    assert_eq!(b.per_dataset["people"].inserted, 5);
    assert_eq!(b.per_dataset["jobs"].inserted, 3);
    s.source
        .batch_execute("UPDATE jobs SET title = 'chef' WHERE id = 1 AND person = 2")
        .await
        .expect("upd");
    let b = one_batch(&eco, "YellowLive", None, &env)
        .await
        .expect("batch 2");
    assert_eq!(counts(&b), (0, 1, 0, 8));
    let state: serde_json::Value = s
        .merge
        .query_one(
            "SELECT state FROM yellowlive_batch_metrics WHERE batch_id = 2",
            &[],
        )
        .await
        .expect("state")
        .get(0);
    assert_eq!(state["datasets"]["jobs"]["updated"], 1);
    assert_eq!(state["datasets"]["people"]["total"], 5);
}

#[tokio::test(flavor = "current_thread")]
async fn a_single_dataset_store_runs_one_stream_per_dataset() {
    let s = setup().await;
    let eco = model(
        &s.pg,
        &s.src_db,
        &s.merge_db,
        vec![people(), jobs()],
        Consistency::SingleDataset,
    );
    let env = s.pg.env();
    s.source.batch_execute(PEOPLE_DDL).await.expect("people");
    s.source.batch_execute(JOBS_DDL).await.expect("jobs");
    s.source.batch_execute(FIVE_PEOPLE).await.expect("insert");

    let err = one_batch(&eco, "YellowLive", None, &env)
        .await
        .expect_err("needs a dataset");
    assert!(
        err.to_string()
            .contains("is SINGLE_DATASET: name the dataset"),
        "{err}"
    );
    let b = one_batch(&eco, "YellowLive", Some("people"), &env)
        .await
        .expect("people");
    assert_eq!((b.batch, counts(&b)), (1, (5, 0, 0, 5)));
    let b = one_batch(&eco, "YellowLive", Some("jobs"), &env)
        .await
        .expect("jobs");
    assert_eq!((b.batch, counts(&b)), (1, (0, 0, 0, 0)));
    let keys: Vec<String> = s
        .merge
        .query("SELECT key FROM yellowlive_batch_counter ORDER BY key", &[])
        .await
        .expect("counter")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(keys, ["Store1#jobs", "Store1#people"]);
    let history = history(&eco, "YellowLive", Some("Store1"), 10, &env)
        .await
        .expect("status");
    assert_eq!(history.len(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn values_that_concatenate_alike_or_differ_only_in_null_are_changes() {
    let s = setup().await;
    let eco = s.model(vec![people()]);
    let env = s.pg.env();
    s.source.batch_execute(PEOPLE_DDL).await.expect("create");
    s.source
        .batch_execute("INSERT INTO people VALUES (1, 'ab', 'c', '1970-01-01', '', NULL)")
        .await
        .expect("row");
    let options = RunOptions::default();
    let run = || run_batch(&eco, "YellowForensic", "Store1", None, &options, &env);
    assert_eq!(counts(&run().await.expect("b1")), (1, 0, 0, 1));
    for change in [
        r#"UPDATE people SET "firstName" = 'a', "lastName" = 'bc'"#,
        "UPDATE people SET employer = NULL",
        "UPDATE people SET employer = ''",
        r#"UPDATE people SET "firstName" = 'a,b', "lastName" = ''"#,
        r#"UPDATE people SET "firstName" = 'a', "lastName" = 'b,'"#,
        r#"UPDATE people SET "firstName" = 'é✓"q', "lastName" = '\'"#,
    ] {
        s.source.batch_execute(change).await.expect(change);
        assert_eq!(
            counts(&run().await.expect(change)),
            (0, 1, 0, 1),
            "{change}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_server_crash_between_snapshot_and_merge_takes_the_snapshot_again() {
    let s = setup().await;
    let Some(throwaway) = s.pg.throwaway() else {
        return; // An external server cannot be crashed from here.
    };
    let eco = five_people_loaded(&s, "YellowLive").await;
    let env = s.pg.env();

    // Batch 2 is ingested, but its merge cannot take the merge table's lock.
    s.source
        .batch_execute("UPDATE people SET employer = 'Umbrella' WHERE id = 1")
        .await
        .expect("change");
    run_with_merge_blocked(&s, &eco, "YellowLive").await;

    // The server crashes: unlogged staging comes back empty.
    throwaway.restart().expect("crash and restart");
    let merge = s.pg.connect(&s.merge_db).await;
    assert_eq!(
        last_status(&merge, "yellowlive_batch_metrics", "Store1").await,
        (2, "ingested".into())
    );
    assert_eq!(
        count(
            &merge,
            "SELECT count(*) FROM yellowlive_store1_people_staging"
        )
        .await,
        0
    );

    let b = one_batch(&eco, "YellowLive", None, &env)
        .await
        .expect("batch 2 after the crash");
    assert_eq!((b.batch, counts(&b)), (2, (0, 1, 0, 5)));
    assert_eq!(
        count(
            &merge,
            "SELECT count(*) FROM yellowlive_store1_people_merge"
        )
        .await,
        5
    );
}
