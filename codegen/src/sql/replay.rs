//! A batch of a logically replicated store, on the merge database: the changes a slot
//! gave are kept in the stream's changes table, conflated to the last state of each key,
//! and diffed against the merge table's current rows of exactly those keys — by the same
//! streaming diff, with the same row hashes, as a snapshot — so they reach staging as a
//! snapshot's difference would.
//!
//! The changes table holds every value as text (what the slot sends), cast to the model's
//! types when read: `ds_surf_values[j]` is column `j` (1-based, in the dataset's order),
//! `ds_surf_key` the key's values, `ds_surf_gone` whether the change removed the key,
//! `ds_surf_unchanged` the columns an update left as they were without sending them (large
//! values stored out of line): they are filled from the key's last change in the batch
//! that sent them ([`ReplayDataset::fill`]), else from the merge table.

use super::batch::{LatestBatch, OfStream};
use super::names::{ALL_HASH, BATCH_OUT, CURRENT, Tables, q, truncate_unless_empty};
use super::statement::{Ddl, Statement};
use super::typed::Query;
use datasurface_model::{DatasetSchema, PlatformMode, Store, YellowPlatform, naming};

/// The columns of the changes table, in `COPY` order.
pub const CHANGE_COLUMNS: [&str; 6] = [
    "ds_surf_dataset",
    "ds_surf_seq",
    "ds_surf_gone",
    "ds_surf_unchanged",
    "ds_surf_key",
    "ds_surf_values",
];

/// The statements of a replication batch of one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySql {
    pub changes_table: String,
    /// Creates the changes table.
    pub create: Vec<Ddl>,
    /// Empties the changes table before a batch reads its changes, and drops its index:
    /// only filling unsent values needs it, and a load without it writes half as much.
    pub clear: Statement,
    /// Indexes the changes by key, in the order they were made: built after the load, for
    /// a batch in which an update left a value unsent.
    pub index: Statement,
    /// Loads changes, in binary `COPY` format, in [`CHANGE_COLUMNS`] order.
    pub copy_in: Statement,
    /// Fresh statistics once the changes are in, so the diff's joins are planned on their
    /// real number.
    pub analyze: Statement,
    /// The stream's last committed batch.
    pub last_committed: Query<OfStream<'static>, LatestBatch>,
    /// Per dataset of the stream, in its order.
    pub datasets: Vec<ReplayDataset>,
}

/// The statements of one dataset of a replication batch. A `TRUNCATE` of its table is a
/// change whose key is empty (`'{}'`): every key before it is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayDataset {
    /// Per column (in the dataset's order): fills the values of the column an update left
    /// unchanged from the key's last earlier change in the batch that sent it.
    pub fill: Vec<Statement>,
    /// The last state of every changed key still present, cast to the model's types, in
    /// key order, in binary COPY format: what a snapshot of those keys would read.
    pub source: Statement,
    /// The same, with the values no change of the batch sent taken from the key's current
    /// row: for a batch in which an update left a large value unsent.
    pub source_filling: Statement,
    /// The key and row hash of the merge table's current rows of the changed keys, in the
    /// same order.
    pub current: Statement,
    /// The key and row hash of every current row, in the same order: what a batch whose
    /// changes truncated the table diffs against.
    pub current_all: Statement,
}

impl ReplaySql {
    /// The statements of the stream of `store` of the datasets `datasets` on `platform`.
    pub fn new(platform: &YellowPlatform, store: Store<'_>, datasets: &[&DatasetSchema]) -> Self {
        let single = (datasets.len() == 1
            && store.capture.consistency == datasurface_model::Consistency::SingleDataset)
            .then(|| datasets[0].name.as_str());
        let changes_table = naming::changes_table(&platform.name, &store.model.name, single);
        let changes = q(&changes_table);
        let index_name = naming::physical_name(&[changes_table.as_str()], "_key");
        let stream = match single {
            Some(dataset) => format!("{}#{dataset}", store.model.name),
            None => store.model.name.clone(),
        };
        ReplaySql {
            create: vec![Ddl {
                object: changes_table.clone(),
                shape: None,
                statement: Statement::new(
                    format!(
                        "The changes of stream {stream} read from its replication slot by the batch of {}",
                        platform.name
                    ),
                    format!(
                        "CREATE UNLOGGED TABLE IF NOT EXISTS {changes} (\n    ds_surf_dataset integer NOT NULL,\n    \
                             ds_surf_seq bigint NOT NULL,\n    ds_surf_gone boolean NOT NULL,\n    \
                             ds_surf_unchanged integer[],\n    ds_surf_key text[] NOT NULL,\n    \
                             ds_surf_values text[] NOT NULL\n)"
                    ),
                ),
            }],
            clear: Statement::new(
                format!("Empty the changes of stream {stream}, without their index"),
                format!(
                    "DROP INDEX IF EXISTS {}; {}",
                    q(&index_name),
                    truncate_unless_empty(&changes)
                ),
            ),
            index: Statement::new(
                format!("The changes of stream {stream} by key, in the order they were made"),
                format!(
                    "CREATE INDEX IF NOT EXISTS {} ON {changes} (ds_surf_dataset, ds_surf_key, ds_surf_seq)",
                    q(&index_name)
                ),
            ),
            copy_in: Statement::new(
                format!("Load the changes of stream {stream}"),
                format!(
                    "COPY {changes} ({}) FROM STDIN (FORMAT binary)",
                    CHANGE_COLUMNS.join(", ")
                ),
            ),
            analyze: Statement::new(
                format!("Refresh the statistics of the changes of stream {stream}"),
                format!("ANALYZE {changes}"),
            ),
            last_committed: Query::new(
                "The stream's last committed batch",
                format!(
                    "SELECT {cols} FROM {metrics} WHERE key = {key} AND batch_status = 'committed' \
                     ORDER BY batch_id DESC LIMIT 1",
                    cols = LatestBatch::select_list(),
                    metrics = q(&naming::batch_metrics_table(&platform.name)),
                    key = OfStream::key,
                ),
            ),
            datasets: datasets
                .iter()
                .enumerate()
                .map(|(i, dataset)| {
                    let t = Tables::new(platform, store.model, dataset);
                    replay_dataset(&t, &changes, i, platform.mode)
                })
                .collect(),
            changes_table,
        }
    }

    /// Every statement, in the order a batch runs them.
    pub fn statements(&self) -> Vec<&Statement> {
        let mut all: Vec<&Statement> = self.create.iter().map(|d| &d.statement).collect();
        all.extend([&self.clear, &self.copy_in, &self.index, &self.analyze]);
        all.push(self.last_committed.statement());
        for d in &self.datasets {
            all.extend(&d.fill);
            all.extend([&d.source, &d.source_filling, &d.current, &d.current_all]);
        }
        all
    }
}

fn replay_dataset(
    t: &Tables<'_>,
    changes: &str,
    index: usize,
    mode: PlatformMode,
) -> ReplayDataset {
    let ds = t.dataset;
    let name = &ds.name;
    let dataset = index;
    let position = |column: &str| {
        ds.columns
            .iter()
            .position(|c| c.name == column)
            .map_or(0, |i| i + 1)
    };
    let casts = ds
        .columns
        .iter()
        .enumerate()
        .map(|(j, c)| {
            format!(
                "ds_surf_values[{}]::{} AS {}",
                j + 1,
                c.data_type.pg_type(),
                q(&c.name)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let keys: Vec<String> = ds.primary_key.iter().map(|k| q(k)).collect();
    let current = match mode {
        PlatformMode::Live => String::new(),
        PlatformMode::Forensic => format!(" AND m.{} = {CURRENT}", q(BATCH_OUT)),
    };
    let filled = ds
        .columns
        .iter()
        .enumerate()
        .map(|(j, c)| {
            format!(
                "CASE WHEN {} = ANY(c.ds_surf_unchanged) THEN m.{n} ELSE c.{n} END",
                j + 1,
                n = q(&c.name)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let order = |alias: &str| {
        ds.key_columns()
            .map(|c| {
                let column = format!("{alias}.{}", q(&c.name));
                if c.data_type.is_text() {
                    format!("{column} COLLATE \"C\"")
                } else {
                    column
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let prefixed = |alias: &str| {
        keys.iter()
            .map(|k| format!("{alias}.{k}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let key_casts = ds
        .key_columns()
        .map(|c| {
            format!(
                "ds_surf_values[{}]::{} AS {}",
                position(&c.name),
                c.data_type.pg_type(),
                q(&c.name)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let after_truncate = format!(
        "ds_surf_dataset = {dataset} AND ds_surf_key <> '{{}}' AND ds_surf_seq > \
         (SELECT coalesce(max(t.ds_surf_seq), 0) FROM {changes} AS t \
         WHERE t.ds_surf_dataset = {dataset} AND t.ds_surf_key = '{{}}')"
    );
    let fill = (1..=ds.columns.len())
        .map(|j| {
            let matches = format!(
                "p.ds_surf_dataset = c.ds_surf_dataset AND p.ds_surf_key = c.ds_surf_key \
                 AND p.ds_surf_seq < c.ds_surf_seq AND NOT p.ds_surf_gone \
                 AND NOT ({j} = ANY(coalesce(p.ds_surf_unchanged, '{{}}')))"
            );
            Statement::new(
                format!(
                    "Fill column {} of the changes of {name} an update left unchanged, from the key's last earlier change",
                    ds.columns[j - 1].name
                ),
                format!(
                    "UPDATE {changes} AS c SET ds_surf_values[{j}] = (SELECT p.ds_surf_values[{j}] FROM {changes} AS p \
                     WHERE {matches} ORDER BY p.ds_surf_seq DESC LIMIT 1), \
                     ds_surf_unchanged = array_remove(c.ds_surf_unchanged, {j}) \
                     WHERE c.ds_surf_dataset = {dataset} AND {j} = ANY(c.ds_surf_unchanged) \
                     AND EXISTS (SELECT 1 FROM {changes} AS p WHERE {matches})"
                ),
            )
        })
        .collect();
    // The last change of each changed key since the table was last truncated.
    let last = format!(
        "(SELECT DISTINCT ON ({keys}) * FROM (\
         SELECT ds_surf_seq, ds_surf_gone, ds_surf_unchanged, {casts} FROM {changes} \
         WHERE {after_truncate}) AS x ORDER BY {keys}, ds_surf_seq DESC) AS c",
        keys = keys.join(", "),
    );
    ReplayDataset {
        fill,
        source: Statement::new(
            format!("The last state of the changed keys of {name} still present, in key order"),
            format!(
                "COPY (SELECT {values} FROM {last} WHERE NOT c.ds_surf_gone ORDER BY {order}) \
                 TO STDOUT (FORMAT binary)",
                values = t.column_list("c"),
                order = order("c"),
            ),
        ),
        source_filling: Statement::new(
            format!(
                "The last state of the changed keys of {name} still present, in key order, \
                 the values no change sent taken from the current row"
            ),
            format!(
                "COPY (SELECT {filled} FROM {last} LEFT JOIN {merge} AS m ON {eq}{current} \
                 WHERE NOT c.ds_surf_gone ORDER BY {order}) TO STDOUT (FORMAT binary)",
                merge = t.merge,
                eq = t.keys_equal("m", "c"),
                order = order("c"),
            ),
        ),
        current: Statement::new(
            format!(
                "The key and row hash of the current rows of {name} whose key changed, in key order"
            ),
            format!(
                "COPY (SELECT {mkeys}, m.{all} FROM (SELECT DISTINCT {key_casts} FROM {changes} \
                 WHERE ds_surf_dataset = {dataset} AND ds_surf_key <> '{{}}') AS c \
                 JOIN {merge} AS m ON {eq}{current} \
                 ORDER BY {order}) TO STDOUT (FORMAT binary)",
                mkeys = prefixed("m"),
                all = q(ALL_HASH),
                merge = t.merge,
                eq = t.keys_equal("m", "c"),
                order = order("m"),
            ),
        ),
        current_all: Statement::new(
            format!("The key and row hash of every current row of {name}, in key order"),
            format!(
                "COPY (SELECT {mkeys}, m.{all} FROM {merge} AS m{where_current} \
                 ORDER BY {order}) TO STDOUT (FORMAT binary)",
                mkeys = prefixed("m"),
                all = q(ALL_HASH),
                merge = t.merge,
                where_current = match mode {
                    PlatformMode::Live => String::new(),
                    PlatformMode::Forensic => format!(" WHERE m.{} = {CURRENT}", q(BATCH_OUT)),
                },
                order = order("m"),
            ),
        ),
    }
}
