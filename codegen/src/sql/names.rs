//! The names one dataset's statements are built from: the platform's own columns, and the
//! dataset's tables, quoted once.

use crate::text::text;
use datasurface_model::{Column, DatasetSchema, Datastore, PlatformMode, YellowPlatform, naming};

/// `ds_surf_batch_out` of a version that is still current.
pub const CURRENT: i32 = i32::MAX;

/// The platform columns of merge tables.
pub const BATCH_ID: &str = "ds_surf_batch_id";
pub const ALL_HASH: &str = "ds_surf_all_hash";
pub const KEY_HASH: &str = "ds_surf_key_hash";
pub const BATCH_IN: &str = "ds_surf_batch_in";
pub const BATCH_OUT: &str = "ds_surf_batch_out";
/// The column of staging saying what the batch does with a key ([`Op`]).
pub const OP: &str = "ds_surf_op";

/// What a batch does with a staged key, as the [`OP`] column of staging holds it: written by
/// the snapshot's diff, read by the merge statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A key new in this batch: its row is inserted.
    Insert,
    /// A key whose row changed.
    Update,
    /// A key gone from the snapshot (staged with its key columns only).
    Delete,
}

impl Op {
    /// As staging holds it: one byte of `text`.
    pub const fn code(self) -> &'static [u8] {
        match self {
            Op::Insert => b"I",
            Op::Update => b"U",
            Op::Delete => b"D",
        }
    }

    /// As an SQL literal: `'I'`.
    pub(crate) fn literal(self) -> String {
        text!("'{}'", String::from_utf8_lossy(self.code()))
    }
}

crate::params! {
    /// The batch a statement stamps rows with, or rewinds to.
    pub struct ThisBatch {
        pub batch: i32,
    }
}

/// A source table: as messages name it (`schema.table`), and quoted and qualified for SQL
/// and for the catalog queries ([`Relation`](super::catalog::Relation): `"public"."customers"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTable {
    pub name: String,
    pub quoted: String,
}

impl SourceTable {
    /// The table of `dataset` in `schema`.
    pub fn new(schema: &str, dataset: &str) -> Self {
        SourceTable {
            name: text!("{schema}.{dataset}"),
            quoted: text!("{}.{}", q(schema), q(dataset)),
        }
    }
}

/// Quotes an identifier.
pub(crate) fn q(name: &str) -> String {
    naming::quote_ident(name)
}

/// Empties the table `quoted` unless it already is: a `TRUNCATE` replaces the table's files,
/// which costs milliseconds even when it holds nothing, and a batch that changed nothing
/// would spend most of its time on it. A table whose files are empty has no row, live or
/// dead.
pub(crate) fn truncate_unless_empty(quoted: &str) -> String {
    text!(
        "DO $$BEGIN IF pg_relation_size({}) > 0 THEN TRUNCATE {quoted}; END IF; END$$",
        literal(quoted)
    )
}

/// `text` as an SQL string literal.
pub(crate) fn literal(text: &str) -> String {
    text!("'{}'", text.replace('\'', "''"))
}

/// The names one dataset's statements are built from, quoted once.
pub(crate) struct Tables<'a> {
    pub(crate) dataset: &'a DatasetSchema,
    pub(crate) staging_name: String,
    pub(crate) merge_name: String,
    pub(crate) staging: String,
    pub(crate) merge: String,
    pub(crate) order_index: String,
    pub(crate) order_index_name: String,
    /// The dataset's columns, and its key columns, quoted.
    columns: Vec<String>,
    keys: Vec<String>,
}

/// The order clause of `keys` in the order the engine compares keys while they stream (see
/// [`Tables::key_order`]).
pub(crate) fn key_order<'c>(
    keys: impl IntoIterator<Item = &'c Column>,
    already_bytes: &dyn Fn(&str) -> bool,
) -> String {
    keys.into_iter()
        .map(|c| {
            if c.data_type.is_text() && !already_bytes(&c.name) {
                text!("{} COLLATE \"C\"", q(&c.name))
            } else {
                q(&c.name)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'a> Tables<'a> {
    pub(crate) fn new(
        platform: &YellowPlatform,
        store: &Datastore,
        dataset: &'a DatasetSchema,
    ) -> Self {
        let staging_name = naming::staging_table(&platform.name, &store.name, &dataset.name);
        let merge_name = naming::merge_table(&platform.name, &store.name, &dataset.name);
        let order_index_name =
            naming::merge_order_index(&platform.name, &store.name, &dataset.name);
        Tables {
            dataset,
            staging: q(&staging_name),
            merge: q(&merge_name),
            staging_name,
            merge_name,
            order_index: q(&order_index_name),
            order_index_name,
            columns: dataset.columns.iter().map(|c| q(&c.name)).collect(),
            keys: dataset.primary_key.iter().map(|k| q(k)).collect(),
        }
    }

    /// The dataset's columns, quoted, each prefixed with `alias.` when one is given.
    pub(crate) fn column_list(&self, alias: &str) -> String {
        prefixed(&self.columns, alias)
    }

    /// The key columns, quoted, each prefixed with `alias.` when one is given.
    pub(crate) fn key_list(&self, alias: &str) -> String {
        prefixed(&self.keys, alias)
    }

    /// The key columns in the order the engine compares keys while they stream: text in
    /// byte order (`COLLATE "C"`, whatever the database's collation), every other type in
    /// its natural order. Text columns for which `already_bytes` holds sort in byte order
    /// as they are, so the clause leaves the collation out and the source's own index can
    /// give the order.
    pub(crate) fn key_order(&self, already_bytes: &dyn Fn(&str) -> bool) -> String {
        key_order(self.dataset.key_columns(), already_bytes)
    }

    /// Inserts the rows of `from AS alias` (with `filter`, a `WHERE …` or nothing) into the
    /// merge table, stamped with the batch ([`ThisBatch`]): its `ds_surf_batch_id` on live
    /// platforms, a current version from it on forensic ones.
    pub(crate) fn insert_rows(
        &self,
        mode: PlatformMode,
        from: &str,
        alias: &str,
        filter: &str,
    ) -> String {
        let current = CURRENT.to_string();
        let batch = text!("{}::integer", ThisBatch::batch);
        let stamps: Vec<(&str, &str)> = match mode {
            PlatformMode::Live => vec![(BATCH_ID, batch.as_str())],
            PlatformMode::Forensic => {
                vec![(BATCH_IN, batch.as_str()), (BATCH_OUT, current.as_str())]
            }
        };
        let (all, key) = (q(ALL_HASH), q(KEY_HASH));
        let stamp_columns: String = stamps.iter().map(|(c, _)| text!(", {}", q(c))).collect();
        let stamp_values: String = stamps.iter().map(|(_, v)| text!(", {v}")).collect();
        text!(
            "INSERT INTO {merge} ({cols}, {all}, {key}{stamp_columns}) \
             SELECT {acols}, {alias}.{all}, {alias}.{key}{stamp_values} FROM {from} AS {alias}{filter}",
            merge = self.merge,
            cols = self.column_list(""),
            acols = self.column_list(alias),
        )
    }

    /// `a."k1" = b."k1" AND a."k2" = b."k2"`: keys compared column by column, so two keys
    /// can never be taken for one another.
    pub(crate) fn keys_equal(&self, a: &str, b: &str) -> String {
        self.dataset
            .primary_key
            .iter()
            .map(|k| text!("{a}.{k} = {b}.{k}", k = q(k)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
}

/// Quoted `names` joined with commas, each prefixed with `alias.` when one is given.
fn prefixed(names: &[String], alias: &str) -> String {
    if alias.is_empty() {
        return names.join(", ");
    }
    let mut out = String::with_capacity(names.iter().map(|n| n.len() + alias.len() + 3).sum());
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(alias);
        out.push('.');
        out.push_str(name);
    }
    out
}

/// `names` quoted and joined with commas, each prefixed with `alias.` when one is given.
pub(crate) fn quoted<'n>(names: impl IntoIterator<Item = &'n str>, alias: &str) -> String {
    names
        .into_iter()
        .map(|n| {
            if alias.is_empty() {
                q(n)
            } else {
                text!("{alias}.{}", q(n))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
