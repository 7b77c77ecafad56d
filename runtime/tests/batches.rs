//! Batch behaviour beyond the happy path: source checks, guards, resets, resumption,
//! and streams of several datasets.

mod common;

use common::*;
use datasurface::engine::{Error, RunOptions};
use datasurface::*;

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
    // firstName unquoted (folded to firstname), dob as text, employer too wide, no jobs table.
    let t = Scenario::of(vec![people(), jobs()])
        .source(
            "CREATE TABLE people (id integer PRIMARY KEY, firstName varchar(50), \"lastName\" varchar(50), \
             dob text, employer varchar(80), dod date)",
        )
        .start()
        .await;
    let err = t.batch("YellowLive").await.expect_err("refused");
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
    assert_eq!(t.last_status("YellowLive").await, (1, "started".into()));
    let merge = naming::merge_table("YellowLive", "Store1", "people");
    assert_eq!(t.count(&format!("SELECT count(*) FROM {merge}")).await, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_source_is_named_without_its_password() {
    let t = Scenario::people().start().await;
    let env = t
        .env
        .clone()
        .set("DATASURFACE_DB_SOURCEDB", "postgres://127.0.0.1:1/nowhere")
        .set("src_PASSWORD", "hunter2-secret");
    let err = one_batch(&t.eco, "YellowLive", None, &env)
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
    let t = Scenario::people().source(FIVE_PEOPLE).start().await;
    for platform in ["YellowLive", "YellowForensic"] {
        t.batch(platform).await.expect("load");
    }
    // Three of five (60%) would go.
    t.change_source("DELETE FROM people WHERE id <= 3").await;
    for platform in ["YellowLive", "YellowForensic"] {
        let err = t.batch(platform).await.expect_err("guarded");
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
        assert_eq!(t.last_status(platform).await, (2, "started".into()));
        let staging = naming::staging_table(platform, "Store1", "people");
        assert_eq!(t.count(&format!("SELECT count(*) FROM {staging}")).await, 0);
        let current = t.current_rows(platform, "people", "count(*)");
        assert_eq!(t.count(&current).await, 5);

        let allow = RunOptions {
            max_delete_percent: Some(60),
            ..RunOptions::default()
        };
        let b = t.batch_with(platform, &allow).await.expect("allowed");
        assert_eq!((b.batch, counts(&b)), (2, (0, 0, 3, 2)));
        assert_eq!(t.count(&current).await, 2);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn duplicate_source_keys_are_refused_with_the_keys() {
    let t = Scenario::of(vec![people()])
        .source(PEOPLE_DDL.replace("id integer PRIMARY KEY", "id integer NOT NULL"))
        .source(FIVE_PEOPLE)
        .source("INSERT INTO people VALUES (2, 'Laura', 'Again', '1975-02-02', NULL, NULL)")
        .start()
        .await;
    let err = t.batch("YellowLive").await.expect_err("duplicates");
    // The model classifies people as personal: the key is not shown, only how many.
    assert!(
        err.to_string().contains(
            "source table public.people has more than one row for 1 key(s) (not shown: the key is classified)"
        ),
        "{err}"
    );
    assert_eq!(t.last_status("YellowLive").await, (1, "started".into()));
}

#[tokio::test(flavor = "current_thread")]
async fn reset_batch_refuses_what_it_must_and_resets_an_open_batch() {
    let t = Scenario::people().source(FIVE_PEOPLE).start().await;
    let (eco, env) = (&t.eco, &t.env);

    let err = reset_batch(eco, "YellowLive", "Nowhere", None, env)
        .await
        .expect_err("unknown store");
    assert!(
        err.to_string()
            .starts_with("Could not find datastore in ecosystem"),
        "{err}"
    );
    let err = reset_batch(eco, "YellowLive", "Store1", Some("people"), env)
        .await
        .expect_err("dataset on a multi-dataset store");
    assert!(err.to_string().contains("is MULTI_DATASET"), "{err}");

    t.batch("YellowLive").await.expect("batch 1");
    let err = reset_batch(eco, "YellowLive", "Store1", None, env)
        .await
        .expect_err("committed");
    assert!(matches!(err, Error::Committed));
    assert_eq!(err.to_string(), "Batch is COMMITTED and cannot be reset");

    // Leave batch 2 ingested: the merge cannot take its table's lock.
    t.change_source("UPDATE people SET employer = 'Umbrella'")
        .await;
    let err = t.batch_with_merge_blocked("YellowLive").await;
    assert!(err.to_string().contains("lock timeout"), "{err}");
    assert_eq!(t.last_status("YellowLive").await, (2, "ingested".into()));
    let staging = format!(
        "SELECT count(*) FROM {}",
        naming::staging_table("YellowLive", "Store1", "people")
    );
    assert_eq!(t.count(&staging).await, 5);

    assert_eq!(
        reset_batch(eco, "YellowLive", "Store1", None, env)
            .await
            .expect("reset"),
        2
    );
    assert_eq!(t.last_status("YellowLive").await, (2, "started".into()));
    assert_eq!(t.count(&staging).await, 0);

    // The next run takes a fresh snapshot and finishes batch 2.
    let b = t.batch("YellowLive").await.expect("batch 2");
    assert_eq!((b.batch, counts(&b)), (2, (0, 5, 0, 5)));
}

#[tokio::test(flavor = "current_thread")]
async fn a_batch_whose_merge_failed_completes_on_the_next_run() {
    let t = Scenario::people().source(FIVE_PEOPLE).start().await;
    t.batch("YellowForensic").await.expect("batch 1");
    t.change_source(
        "UPDATE people SET employer = 'Umbrella' WHERE id = 1; DELETE FROM people WHERE id = 5",
    )
    .await;

    t.batch_with_merge_blocked("YellowForensic").await;
    // The source changes again after the snapshot: the open batch keeps its snapshot.
    t.change_source("DELETE FROM people WHERE id = 4").await;

    let b = t.batch("YellowForensic").await.expect("resumed");
    assert_eq!((b.batch, counts(&b)), (2, (0, 1, 1, 4)));
    let versions = t
        .count(&format!(
            "SELECT count(*) FROM {}",
            naming::merge_table("YellowForensic", "Store1", "people")
        ))
        .await;
    assert_eq!(
        versions, 6,
        "5 first versions + 1 new version of id 1, no duplicates"
    );
    let b = t.batch("YellowForensic").await.expect("batch 3");
    assert_eq!((b.batch, counts(&b)), (3, (0, 0, 1, 3)));
}

#[tokio::test(flavor = "current_thread")]
async fn a_model_change_under_an_open_batch_needs_a_reset() {
    // No source table yet: batch 1 stays started.
    let t = Scenario::of(vec![people()]).start().await;
    let (eco, env) = (&t.eco, &t.env);
    t.batch("YellowLive").await.expect_err("no table");
    let mut changed = people();
    changed.columns[4].data_type = DataType::Varchar(60);
    let eco2 = t.model(vec![changed]);
    t.change_source(PEOPLE_DDL).await;
    let err = one_batch(&eco2, "YellowLive", None, env)
        .await
        .expect_err("changed model");
    assert!(
        err.to_string()
            .contains("the model changed since batch 1 of Store1 started (dataset(s) people)"),
        "{err}"
    );
    reset_batch(&eco2, "YellowLive", "Store1", None, env)
        .await
        .expect("reset");
    // The reset batch takes its snapshot under the new model (its tables widened to match).
    let b = one_batch(&eco2, "YellowLive", None, env)
        .await
        .expect("batch 1");
    assert_eq!(b.batch, 1);
    // Going back would narrow the column: refused, by run as by infra.
    let err = one_batch(eco, "YellowLive", None, env)
        .await
        .expect_err("narrowing");
    assert!(err.to_string().contains("that narrows the column"), "{err}");
}

const JOBS_DDL: &str = "CREATE TABLE jobs (id bigint, person integer, title text, salary numeric(8,2), PRIMARY KEY (id, person))";

/// The people and jobs model (of `consistency`), the source tables created, five people
/// in it.
async fn people_and_jobs(consistency: Consistency) -> Scenario {
    Scenario::of(vec![people(), jobs()])
        .consistency(consistency)
        .source(PEOPLE_DDL)
        .source(JOBS_DDL)
        .source(FIVE_PEOPLE)
        .start()
        .await
}

#[tokio::test(flavor = "current_thread")]
async fn a_multi_dataset_store_merges_its_datasets_in_one_batch() {
    let t = people_and_jobs(Consistency::MultiDataset).await;
    t.change_source(
        "INSERT INTO jobs VALUES (1, 1, 'cook', 10.5), (1, 2, 'cook', NULL), (2, 1, NULL, 99.99)",
    )
    .await;
    let b = t.batch("YellowLive").await.expect("batch 1");
    assert_eq!(counts(&b), (8, 0, 0, 8));
    assert_eq!(b.per_dataset["people"].inserted, 5);
    assert_eq!(b.per_dataset["jobs"].inserted, 3);
    t.change_source("UPDATE jobs SET title = 'chef' WHERE id = 1 AND person = 2")
        .await;
    let b = t.batch("YellowLive").await.expect("batch 2");
    assert_eq!(counts(&b), (0, 1, 0, 8));
    let state: serde_json::Value = t
        .merge
        .query_one(
            &format!(
                "SELECT state FROM {} WHERE batch_id = 2",
                naming::batch_metrics_table("YellowLive")
            ),
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
    let t = people_and_jobs(Consistency::SingleDataset).await;
    let (eco, env) = (&t.eco, &t.env);

    let err = t.batch("YellowLive").await.expect_err("needs a dataset");
    assert!(
        err.to_string()
            .contains("is SINGLE_DATASET: name the dataset"),
        "{err}"
    );
    let b = one_batch(eco, "YellowLive", Some("people"), env)
        .await
        .expect("people");
    assert_eq!((b.batch, counts(&b)), (1, (5, 0, 0, 5)));
    let b = one_batch(eco, "YellowLive", Some("jobs"), env)
        .await
        .expect("jobs");
    assert_eq!((b.batch, counts(&b)), (1, (0, 0, 0, 0)));
    let keys: Vec<String> = t
        .merge
        .query(
            &format!(
                "SELECT key FROM {} ORDER BY key",
                naming::batch_counter_table("YellowLive")
            ),
            &[],
        )
        .await
        .expect("counter")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(keys, ["Store1#jobs", "Store1#people"]);
    let history = history(eco, "YellowLive", Some("Store1"), 10, env)
        .await
        .expect("status");
    assert_eq!(history.len(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn values_that_concatenate_alike_or_differ_only_in_null_are_changes() {
    let t = Scenario::people()
        .source("INSERT INTO people VALUES (1, 'ab', 'c', '1970-01-01', '', NULL)")
        .start()
        .await;
    assert_eq!(
        counts(&t.batch("YellowForensic").await.expect("b1")),
        (1, 0, 0, 1)
    );
    for change in [
        r#"UPDATE people SET "firstName" = 'a', "lastName" = 'bc'"#,
        "UPDATE people SET employer = NULL",
        "UPDATE people SET employer = ''",
        r#"UPDATE people SET "firstName" = 'a,b', "lastName" = ''"#,
        r#"UPDATE people SET "firstName" = 'a', "lastName" = 'b,'"#,
        r#"UPDATE people SET "firstName" = 'é✓"q', "lastName" = '\'"#,
    ] {
        t.change_source(change).await;
        assert_eq!(
            counts(&t.batch("YellowForensic").await.expect(change)),
            (0, 1, 0, 1),
            "{change}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_server_crash_between_snapshot_and_merge_takes_the_snapshot_again() {
    let t = Scenario::people().source(FIVE_PEOPLE).start().await;
    let Some(throwaway) = t.pg.throwaway() else {
        return; // An external server cannot be crashed from here.
    };
    t.batch("YellowLive").await.expect("batch 1");

    // Batch 2 is ingested, but its merge cannot take the merge table's lock.
    t.change_source("UPDATE people SET employer = 'Umbrella' WHERE id = 1")
        .await;
    t.batch_with_merge_blocked("YellowLive").await;

    // The server crashes: unlogged staging comes back empty. The test server commits
    // without waiting for the disk, so what committed is flushed first, as a durable
    // server's commit would have been.
    t.merge.batch_execute("CHECKPOINT").await.expect("flush");
    throwaway.restart().expect("crash and restart");
    let merge = t.pg.connect(&t.merge_db).await;
    assert_eq!(
        last_status(&merge, "YellowLive").await,
        (2, "ingested".into())
    );
    assert_eq!(
        count(
            &merge,
            &format!(
                "SELECT count(*) FROM {}",
                naming::staging_table("YellowLive", "Store1", "people")
            )
        )
        .await,
        0
    );

    let b = t
        .batch("YellowLive")
        .await
        .expect("batch 2 after the crash");
    assert_eq!((b.batch, counts(&b)), (2, (0, 1, 0, 5)));
    assert_eq!(
        count(
            &merge,
            &format!(
                "SELECT count(*) FROM {}",
                naming::merge_table("YellowLive", "Store1", "people")
            )
        )
        .await,
        5
    );
}
