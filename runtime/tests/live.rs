//! The live merge on real PostgreSQL: the current row per key, exact metrics.

mod common;

use common::*;
use datasurface::*;

async fn live_rows(client: &tokio_postgres::Client) -> Vec<(i32, String, Option<String>, i32)> {
    let table = naming::merge_table("YellowLive", "Store1", "people");
    client
        .query(
            &format!(
                r#"SELECT id, "firstName", employer, ds_surf_batch_id FROM {table} ORDER BY id"#
            ),
            &[],
        )
        .await
        .expect("read merge table")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn live_lifecycle() {
    let t = Scenario::people().start().await;
    let merge = &t.merge;
    let run = || t.batch("YellowLive");

    // An empty source: batch 1 commits with nothing in it.
    let b1 = run().await.expect("batch 1");
    assert_eq!((b1.batch, counts(&b1)), (1, (0, 0, 0, 0)));
    assert!(live_rows(merge).await.is_empty());

    // Five people arrive.
    t.change_source(FIVE_PEOPLE).await;
    let b2 = run().await.expect("batch 2");
    assert_eq!((b2.batch, counts(&b2)), (2, (5, 0, 0, 5)));
    let rows = live_rows(merge).await;
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r.3 == 2));

    // Id 1 changes employer and first name; id 3 goes.
    t.change_source(r#"UPDATE people SET employer = 'Initech', "firstName" = 'William' WHERE id = 1; DELETE FROM people WHERE id = 3"#).await;
    let b3 = run().await.expect("batch 3");
    assert_eq!((b3.batch, counts(&b3)), (3, (0, 1, 1, 4)));
    let rows = live_rows(merge).await;
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 4, 5]);
    assert_eq!(rows[0], (1, "William".into(), Some("Initech".into()), 3));
    assert!(rows[1..].iter().all(|r| r.3 == 2));

    // Id 3 comes back.
    t.change_source("INSERT INTO people VALUES (3, 'Sam', 'Stone', '1980-03-03', NULL, NULL)")
        .await;
    let b4 = run().await.expect("batch 4");
    assert_eq!((b4.batch, counts(&b4)), (4, (1, 0, 0, 5)));

    // Nothing changes: nothing is written.
    let before = live_rows(merge).await;
    let b5 = run().await.expect("batch 5");
    assert_eq!((b5.batch, counts(&b5)), (5, (0, 0, 0, 5)));
    assert_eq!(live_rows(merge).await, before);

    // The metrics table says the same.
    let metrics: Vec<(i32, String, i64, i64, i64, i64)> = merge
        .query(
            &format!(
                "SELECT batch_id, batch_status, records_inserted, records_updated, records_deleted, total_records \
                 FROM {} WHERE key = 'Store1' ORDER BY batch_id",
                naming::batch_metrics_table("YellowLive")
            ),
            &[],
        )
        .await
        .expect("metrics")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    let c = |b: i32, i, u, d, t| (b, "committed".to_owned(), i, u, d, t);
    assert_eq!(
        metrics,
        [
            c(1, 0, 0, 0, 0),
            c(2, 5, 0, 0, 5),
            c(3, 0, 1, 1, 4),
            c(4, 1, 0, 0, 5),
            c(5, 0, 0, 0, 5)
        ]
    );
}
