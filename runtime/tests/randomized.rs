//! Seeded random change sequences, checked batch by batch against an in-memory reference
//! of what the live and forensic tables and the metrics must be. The source and the merge
//! database sort text by two different collations, and the keys are chosen so that the two
//! orders, and byte order, disagree.

mod common;

use common::*;
use datasurface::engine::RunOptions;
use datasurface::*;
use std::collections::BTreeMap;

type Key = (String, i32);
type Row = (Option<String>, Option<String>, Option<i32>);

const CURRENT: i32 = i32::MAX;

fn items() -> DatasetSchema {
    DatasetSchema::new("items")
        .column(Column::new("k1", DataType::Text))
        .column(Column::new("k2", DataType::Integer))
        .column(Column::nullable("a", DataType::Text))
        .column(Column::nullable("b", DataType::Varchar(20)))
        .column(Column::nullable("n", DataType::Integer))
        .key(["k1", "k2"])
        .classified(Classification::Internal)
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
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Strings chosen to collide under naive concatenation, differ only by NULL or '', or
/// hold separators, quotes and non-ASCII text.
const TEXTS: &[Option<&str>] = &[
    None,
    Some(""),
    Some("a"),
    Some("ab"),
    Some("b"),
    Some("bc"),
    Some("c"),
    Some("a,b"),
    Some("(x)"),
    Some("\"q\""),
    Some("\\"),
    Some("NULL"),
    Some("é✓ü"),
    Some(" "),
];

/// Keys that sort differently by bytes, in English and in Swedish: case, accents, letters
/// after `z` in Swedish, punctuation and spaces that linguistic orders skip, digits.
const KEYS: &[&str] = &[
    "", "a", "A", "ab", "a b", "a-b", "aB", "b", "B", "e", "é", "É", "z", "Z", "ä", "å", "ö", "o",
    "co-op", "coop", "9", "10", "_x", "ß", "ss",
];

fn random_row(rng: &mut Lcg) -> Row {
    let text = |rng: &mut Lcg| rng.pick(TEXTS).map(str::to_owned);
    let n = match rng.below(4) {
        0 => None,
        _ => Some(rng.below(3) as i32),
    };
    (text(rng), text(rng), n)
}

/// The reference: what each platform must hold.
#[derive(Default)]
struct Reference {
    current: BTreeMap<Key, Row>,
    /// Live: the batch that last wrote each key.
    written: BTreeMap<Key, i32>,
    /// Forensic: every version as (key, row, batch_in, batch_out).
    versions: Vec<(Key, Row, i32, i32)>,
}

impl Reference {
    /// Applies the snapshot `source` as batch `b`; returns (inserted, updated, deleted, total).
    fn batch(&mut self, b: i32, source: &BTreeMap<Key, Row>) -> (u64, u64, u64, u64) {
        let (mut ins, mut upd, mut del) = (0, 0, 0);
        for (key, row) in &self.current {
            match source.get(key) {
                None => {
                    del += 1;
                    self.written.remove(key);
                    close(&mut self.versions, key, b);
                }
                Some(new) if new != row => {
                    upd += 1;
                    self.written.insert(key.clone(), b);
                    close(&mut self.versions, key, b);
                    self.versions.push((key.clone(), new.clone(), b, CURRENT));
                }
                Some(_) => {}
            }
        }
        for (key, row) in source {
            if !self.current.contains_key(key) {
                ins += 1;
                self.written.insert(key.clone(), b);
                self.versions.push((key.clone(), row.clone(), b, CURRENT));
            }
        }
        self.current = source.clone();
        self.versions.sort_by(|x, y| (&x.0, x.2).cmp(&(&y.0, y.2)));
        (ins, upd, del, source.len() as u64)
    }
}

fn close(versions: &mut [(Key, Row, i32, i32)], key: &Key, b: i32) {
    for v in versions
        .iter_mut()
        .filter(|v| &v.0 == key && v.3 == CURRENT)
    {
        v.3 = b - 1;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn random_changes_match_the_reference_after_every_batch() {
    let t = Scenario::of(vec![items()])
        .collated()
        .source("CREATE TABLE items (k1 text, k2 integer, a text, b varchar(20), n integer, PRIMARY KEY (k1, k2))")
        .start()
        .await;
    let (source, merge) = (&t.source, &t.merge);
    // What each seed drops to start from empty platforms.
    let platforms = ["YellowLive", "YellowForensic"];
    let merge_tables = platforms.map(|p| naming::merge_table(p, "Store1", "items"));
    let metrics = platforms.map(naming::batch_metrics_table);
    let counters = platforms.map(naming::batch_counter_table);
    let platform_tables = [merge_tables, metrics, counters].concat().join(", ");
    let unguarded = RunOptions {
        max_delete_percent: Some(100),
        ..RunOptions::default()
    };

    for seed in [1_u64, 2, 3] {
        let mut rng = Lcg(seed);
        let mut src: BTreeMap<Key, Row> = BTreeMap::new();
        let mut reference = Reference::default();
        source
            .batch_execute("TRUNCATE items")
            .await
            .expect("truncate");
        // Start each seed from empty platforms.
        merge
            .batch_execute(&format!("DROP TABLE IF EXISTS {platform_tables}"))
            .await
            .expect("reset platforms");
        for step in 1..=25 {
            for _ in 0..rng.below(8) {
                let key: Key = (rng.pick(KEYS).to_string(), rng.below(3) as i32 - 1);
                match rng.below(5) {
                    // Insert or overwrite.
                    0 | 1 => {
                        let row = random_row(&mut rng);
                        source
                            .execute(
                                "INSERT INTO items VALUES ($1, $2, $3, $4, $5) ON CONFLICT (k1, k2) \
                                 DO UPDATE SET a = $3, b = $4, n = $5",
                                &[&key.0, &key.1, &row.0, &row.1, &row.2],
                            )
                            .await
                            .expect("upsert");
                        src.insert(key, row);
                    }
                    // Change one column.
                    2 => {
                        if let Some(row) = src.get_mut(&key) {
                            let value = rng.pick(TEXTS).map(str::to_owned);
                            source
                                .execute(
                                    "UPDATE items SET a = $3 WHERE k1 = $1 AND k2 = $2",
                                    &[&key.0, &key.1, &value],
                                )
                                .await
                                .expect("update");
                            row.0 = value;
                        }
                    }
                    // Delete.
                    3 => {
                        source
                            .execute(
                                "DELETE FROM items WHERE k1 = $1 AND k2 = $2",
                                &[&key.0, &key.1],
                            )
                            .await
                            .expect("delete");
                        src.remove(&key);
                    }
                    // Delete, then re-insert the identical row: no change.
                    _ => {
                        if let Some(row) = src.get(&key) {
                            source
                                .execute(
                                    "DELETE FROM items WHERE k1 = $1 AND k2 = $2",
                                    &[&key.0, &key.1],
                                )
                                .await
                                .expect("delete");
                            source
                                .execute(
                                    "INSERT INTO items VALUES ($1, $2, $3, $4, $5)",
                                    &[&key.0, &key.1, &row.0, &row.1, &row.2],
                                )
                                .await
                                .expect("reinsert");
                        }
                    }
                }
            }
            let expected = reference.batch(step, &src);
            for platform in platforms {
                let b = t
                    .batch_with(platform, &unguarded)
                    .await
                    .unwrap_or_else(|e| panic!("seed {seed} step {step} {platform}: {e}"));
                assert_eq!(
                    (b.batch, counts(&b)),
                    (step, expected),
                    "seed {seed} step {step} {platform}"
                );
            }
            let live: Vec<(Key, Row, i32)> = merge
                .query(&format!("SELECT k1, k2, a, b, n, ds_surf_batch_id FROM {} ORDER BY k1 COLLATE \"C\", k2", naming::merge_table("YellowLive", "Store1", "items")), &[])
                .await
                .expect("live")
                .iter()
                .map(|r| ((r.get(0), r.get(1)), (r.get(2), r.get(3), r.get(4)), r.get(5)))
                .collect();
            let want: Vec<(Key, Row, i32)> = reference
                .current
                .iter()
                .map(|(k, r)| (k.clone(), r.clone(), reference.written[k]))
                .collect();
            assert_eq!(live, want, "seed {seed} step {step}: live table");
            let forensic: Vec<(Key, Row, i32, i32)> = merge
                .query(
                    &format!(
                        "SELECT k1, k2, a, b, n, ds_surf_batch_in, ds_surf_batch_out FROM {} \
                         ORDER BY k1 COLLATE \"C\", k2, ds_surf_batch_in",
                        naming::merge_table("YellowForensic", "Store1", "items")
                    ),
                    &[],
                )
                .await
                .expect("forensic")
                .iter()
                .map(|r| {
                    (
                        (r.get(0), r.get(1)),
                        (r.get(2), r.get(3), r.get(4)),
                        r.get(5),
                        r.get(6),
                    )
                })
                .collect();
            assert_eq!(
                forensic, reference.versions,
                "seed {seed} step {step}: forensic table"
            );
        }
    }
}
