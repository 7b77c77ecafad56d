//! Keys whose order differs between the source's collation, the merge database's and byte
//! order — and keys of other types — merge exactly: after every batch the platforms hold
//! what the source holds.

mod common;

use common::*;
use datasurface::*;

fn events() -> DatasetSchema {
    DatasetSchema::new("events")
        .column(Column::new("site", DataType::Varchar(20)))
        .column(Column::new("day", DataType::Date))
        .column(Column::new("amount", DataType::Numeric(None)))
        .column(Column::new("seq", DataType::BigInt))
        .column(Column::nullable("note", DataType::Text))
        .key(["site", "day", "amount", "seq"])
        .classified(Classification::Internal)
}

/// The rows of `sql` as text, in byte order (each database sorts by its own collation).
async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    let mut rows = text_rows(client, sql).await;
    rows.sort();
    rows
}

/// The source, and each platform's current rows, hold the same rows.
async fn same_everywhere(t: &Scenario, step: &str) {
    let columns = "site, day, amount, seq, note";
    let source = rows(&t.source, &format!("SELECT {columns} FROM events")).await;
    for platform in ["YellowLive", "YellowForensic"] {
        let current = t.current_rows(platform, "events", columns);
        let found = rows(&t.merge, &current).await;
        let missing: Vec<_> = source
            .iter()
            .filter(|r| !found.contains(r))
            .take(5)
            .collect();
        let extra: Vec<_> = found
            .iter()
            .filter(|r| !source.contains(r))
            .take(5)
            .collect();
        assert!(
            found.len() == source.len() && missing.is_empty() && extra.is_empty(),
            "{step}: {current}: {} rows for {}; missing {missing:?}, extra {extra:?}",
            found.len(),
            source.len()
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn composite_keys_of_text_dates_numbers_merge_exactly_whatever_the_collations() {
    let t = Scenario::of(vec![events()])
        .collated()
        .source(
            "CREATE TABLE events (site varchar(20), day date, amount numeric, seq bigint, note text, \
             PRIMARY KEY (site, day, amount, seq)); \
             INSERT INTO events SELECT site, day, amount, seq, site || seq FROM \
             unnest(ARRAY['b', 'B', 'ä', 'a-b', 'ab', 'z', 'é', 'e', ' x']) AS site, \
             unnest(ARRAY[date '1999-12-31', date '2000-01-01', date '0044-03-15 BC']) AS day, \
             unnest(ARRAY[-1.5, 0, 2.25, 10, 9.5]) AS amount, \
             unnest(ARRAY[-9000000000, -1, 1, 7]) AS seq",
        )
        .start()
        .await;
    let mut expected_rows = 9 * 3 * 5 * 4;
    for platform in ["YellowLive", "YellowForensic"] {
        let b = t.batch(platform).await.expect("batch 1");
        assert_eq!(
            counts(&b),
            (expected_rows, 0, 0, expected_rows),
            "{platform}"
        );
    }
    same_everywhere(&t, "first load").await;
    for (step, change, (ins, upd, del)) in [
        (
            "deletes across the orders",
            "DELETE FROM events WHERE site IN ('B', 'ä', ' x') AND seq = -1",
            (0, 0, 45),
        ),
        (
            "updates and equal-valued keys",
            "UPDATE events SET note = 'changed' WHERE site IN ('e', 'é') AND amount = 0; \
             UPDATE events SET amount = 2.250 WHERE amount = 2.25 AND site = 'z'",
            (0, 36, 0),
        ),
        (
            "inserts between existing keys",
            "INSERT INTO events SELECT site, date '2000-01-01', 5, 0, NULL FROM \
             unnest(ARRAY['a', 'A', 'aa', 'å', 'b-', 'Z']) AS site",
            (6, 0, 0),
        ),
    ] {
        t.source.batch_execute(change).await.expect(step);
        expected_rows = expected_rows + ins - del;
        for platform in ["YellowLive", "YellowForensic"] {
            let b = t.batch(platform).await.expect(step);
            assert_eq!(
                counts(&b),
                (ins, upd, del, expected_rows),
                "{step} {platform}"
            );
        }
        same_everywhere(&t, step).await;
    }
}
