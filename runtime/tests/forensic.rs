//! The forensic merge on real PostgreSQL: every version with its batch milestones.

mod common;

use common::*;
use datasurface::*;

const CURRENT: i32 = i32::MAX;

/// Every version as (id, firstName, batch_in, batch_out), in key and time order.
async fn versions(client: &tokio_postgres::Client) -> Vec<(i32, String, i32, i32)> {
    let table = naming::merge_table("YellowForensic", "Store1", "people");
    client
        .query(
            &format!(
                r#"SELECT id, "firstName", ds_surf_batch_in, ds_surf_batch_out FROM {table}
               ORDER BY id, ds_surf_batch_in"#
            ),
            &[],
        )
        .await
        .expect("read merge table")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

fn v(id: i32, name: &str, batch_in: i32, batch_out: i32) -> (i32, String, i32, i32) {
    (id, name.to_owned(), batch_in, batch_out)
}

#[tokio::test(flavor = "current_thread")]
async fn forensic_history() {
    let t = Scenario::people().start().await;
    let merge = &t.merge;
    let run = || t.batch("YellowForensic");
    let billy = "INSERT INTO people VALUES (1, 'billy', 'Newport', '1970-01-01', NULL, NULL)";

    // {id1 billy}
    t.change_source(billy).await;
    let b = run().await.expect("batch 1");
    assert_eq!(counts(&b), (1, 0, 0, 1));
    assert_eq!(versions(merge).await, [v(1, "billy", 1, CURRENT)]);

    // {id1 billy, id2 laura}
    t.change_source("INSERT INTO people VALUES (2, 'laura', 'Diaz', '1975-02-02', NULL, NULL)")
        .await;
    let b = run().await.expect("batch 2");
    assert_eq!(counts(&b), (1, 0, 0, 2));
    assert_eq!(
        versions(merge).await,
        [v(1, "billy", 1, CURRENT), v(2, "laura", 2, CURRENT)]
    );

    // {id1 william, id2 laura}: billy's version was last current in batch 2.
    t.change_source(r#"UPDATE people SET "firstName" = 'william' WHERE id = 1"#)
        .await;
    let b = run().await.expect("batch 3");
    assert_eq!(counts(&b), (0, 1, 0, 2));
    assert_eq!(
        versions(merge).await,
        [
            v(1, "billy", 1, 2),
            v(1, "william", 3, CURRENT),
            v(2, "laura", 2, CURRENT)
        ]
    );

    // {id2 laura}: william was last current in batch 3.
    t.change_source("DELETE FROM people WHERE id = 1").await;
    let b = run().await.expect("batch 4");
    assert_eq!(counts(&b), (0, 0, 1, 1));
    assert_eq!(
        versions(merge).await,
        [
            v(1, "billy", 1, 2),
            v(1, "william", 3, 3),
            v(2, "laura", 2, CURRENT)
        ]
    );

    // {id1 billy, id2 laura}: billy comes back as a new version.
    t.change_source(billy).await;
    let b = run().await.expect("batch 5");
    assert_eq!(counts(&b), (1, 0, 0, 2));
    assert_eq!(
        versions(merge).await,
        [
            v(1, "billy", 1, 2),
            v(1, "william", 3, 3),
            v(1, "billy", 5, CURRENT),
            v(2, "laura", 2, CURRENT)
        ]
    );

    // No change: no version moves.
    let b = run().await.expect("batch 6");
    assert_eq!(counts(&b), (0, 0, 0, 2));
    assert_eq!(versions(merge).await.len(), 4);
}

async fn table(client: &tokio_postgres::Client) -> Vec<String> {
    let table = naming::merge_table("YellowForensic", "Store1", "people");
    text_rows(client, &format!("SELECT * FROM {table}")).await
}

#[tokio::test(flavor = "current_thread")]
async fn rewinding_to_a_batch_restores_exactly_its_state() {
    let t = Scenario::people().start().await;
    let (merge, eco, env) = (&t.merge, &t.eco, &t.env);
    let run = || t.batch("YellowForensic");
    let steps = [
        "INSERT INTO people VALUES (1, 'billy', 'Newport', '1970-01-01', NULL, NULL)",
        "INSERT INTO people VALUES (2, 'laura', 'Diaz', '1975-02-02', NULL, NULL)",
        r#"UPDATE people SET "firstName" = 'william' WHERE id = 1"#,
        "DELETE FROM people WHERE id = 1",
        "INSERT INTO people VALUES (1, 'billy', 'Newport', '1970-01-01', NULL, NULL)",
    ];
    let mut after = vec![Vec::new()];
    for step in steps {
        t.change_source(step).await;
        run().await.expect(step);
        after.push(table(merge).await);
    }

    // A dry run says what would change and changes nothing.
    let dry = rewind(eco, "YellowForensic", "Store1", None, 3, true, env)
        .await
        .expect("dry run");
    assert!(!dry.applied);
    assert_eq!(
        dry.per_dataset["people"],
        (1, 1),
        "billy(5) removed, william reopened"
    );
    assert_eq!(dry.batches_reset, 2);
    assert_eq!(table(merge).await, after[5]);

    let done = rewind(eco, "YellowForensic", "Store1", None, 3, false, env)
        .await
        .expect("rewind");
    assert_eq!(done.per_dataset["people"], (1, 1));
    assert_eq!(table(merge).await, after[3]);
    let statuses: Vec<String> = merge
        .query(
            &format!(
                "SELECT batch_status FROM {} ORDER BY batch_id",
                naming::batch_metrics_table("YellowForensic")
            ),
            &[],
        )
        .await
        .expect("metrics")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        statuses,
        ["committed", "committed", "committed", "reset", "reset"]
    );

    // The next batch compares the source with the state after batch 3.
    let b = run().await.expect("batch 6");
    assert_eq!((b.batch, counts(&b)), (6, (0, 1, 0, 2)));
    assert_eq!(
        versions(merge).await,
        [
            v(1, "billy", 1, 2),
            v(1, "william", 3, 5),
            v(1, "billy", 6, CURRENT),
            v(2, "laura", 2, CURRENT)
        ]
    );

    // Rewinding to nothing empties the table; rewinding a live platform or to a batch that
    // is not committed is refused.
    let err = rewind(eco, "YellowForensic", "Store1", None, 4, true, env)
        .await
        .expect_err("reset batch");
    assert_eq!(
        err.to_string(),
        "stream Store1 has no committed batch 4 to rewind to (it is reset)"
    );
    let err = rewind(eco, "YellowLive", "Store1", None, 1, true, env)
        .await
        .expect_err("live");
    assert!(
        err.to_string().contains("is live and keeps no history"),
        "{err}"
    );
    rewind(eco, "YellowForensic", "Store1", None, 0, false, env)
        .await
        .expect("to empty");
    assert!(table(merge).await.is_empty());
}
