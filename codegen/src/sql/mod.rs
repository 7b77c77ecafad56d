//! SQL for PostgreSQL 15: the platform's tables, the source snapshot, the live and forensic
//! merges, and the batch bookkeeping.
//!
//! Every identifier passes through [`naming::quote_ident`]; values are bind parameters
//! (`$1`, …). Each statement starts with a comment saying what it does.

mod batch;
pub mod catalog;
mod diff;
pub mod evolve;
mod forensic;
mod ingest;
mod live;
pub mod source;
mod tables;
mod views;

pub use batch::{BatchSql, lock_id};
pub use ingest::{SESSION_SETTINGS, SnapshotSql};
pub use views::{View, longest_history, views};

use datasurface_model::{DatasetSchema, Datastore, PlatformMode, Store, YellowPlatform, naming};

/// `ds_surf_batch_out` of a version that is still current.
pub const CURRENT: i32 = i32::MAX;

/// The platform columns of merge tables.
pub const BATCH_ID: &str = "ds_surf_batch_id";
pub const ALL_HASH: &str = "ds_surf_all_hash";
pub const KEY_HASH: &str = "ds_surf_key_hash";
pub const BATCH_IN: &str = "ds_surf_batch_in";
pub const BATCH_OUT: &str = "ds_surf_batch_out";

/// One SQL statement and what it does. The text starts with that as a comment
/// (`-- Empty the staging table of people.`), so it shows in the generated files and in the
/// server's logs; the runtime names it when the statement fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    what: String,
    sql: String,
}

impl Statement {
    /// `body`, run for the reason `what` (a sentence without its final full stop).
    pub(crate) fn new(what: impl Into<String>, body: impl std::fmt::Display) -> Self {
        let what = what.into();
        Statement {
            sql: format!("-- {what}.\n{body}"),
            what,
        }
    }

    /// What the statement does, as its comment says it.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The statement's text, its comment first.
    pub fn sql(&self) -> &str {
        &self.sql
    }
}

impl std::fmt::Display for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sql)
    }
}

/// A statement that creates one database object when it is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ddl {
    /// The object's name (unquoted), to look it up before creating it.
    pub object: String,
    pub statement: Statement,
    /// For tables of a dataset: what it holds beyond the dataset's columns, to evolve it.
    pub shape: Option<evolve::Shape<'static>>,
}

/// What a merge statement's row count means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counts {
    Inserted,
    Updated,
    Deleted,
    /// New versions: keys new in this batch plus keys whose row changed.
    InsertedAndUpdated,
    /// A query returning one row: (rows updated, rows deleted).
    UpdatedAndDeleted,
    /// A step that counts nothing.
    Nothing,
}

/// One step of a merge: a statement, and what its row count means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeStep {
    pub statement: Statement,
    /// Whether the statement takes the batch id as `$1`.
    pub takes_batch: bool,
    pub counts: Counts,
}

impl MergeStep {
    fn new(statement: Statement, takes_batch: bool, counts: Counts) -> Self {
        MergeStep {
            statement,
            takes_batch,
            counts,
        }
    }
}

/// Everything the runtime executes for one dataset of one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSql {
    pub staging_table: String,
    pub merge_table: String,
    /// Creates the staging table, the merge table and its indexes.
    pub tables: Vec<Ddl>,
    pub snapshot: SnapshotSql,
    /// Fresh statistics of staging once the snapshot is in, so the merge plans its joins
    /// on the real size.
    pub analyze_staging: Statement,
    /// Keys present more than once in staging (at most 5, as text).
    pub duplicate_keys: Statement,
    /// The rows in staging, checked against the snapshot's count before merging.
    pub staging_rows: Statement,
    /// Whether the merge table has any current row: if not, the merge is a first load.
    pub has_current: Statement,
    /// The merge, in order, inside one transaction.
    pub merge: Vec<MergeStep>,
    /// The merge when the merge table has no current rows (the first batch, or after
    /// everything was deleted): a plain insert of the snapshot.
    pub first_load: Vec<MergeStep>,
    /// Empties staging once the batch is merged or reset.
    pub clear_staging: Statement,
    /// Forensic platforms only: rewinds the merge table to its state after batch `$1`.
    /// First the versions created after it are removed, then the versions closed after it
    /// are made current again.
    pub rewind: Option<[Statement; 2]>,
}

impl DatasetSql {
    /// The SQL of `dataset` of `store` on `platform`.
    pub fn new(platform: &YellowPlatform, store: Store<'_>, dataset: &DatasetSchema) -> Self {
        let t = Tables::new(platform, &store, dataset);
        let (merge, first_load) = match platform.mode {
            PlatformMode::Live => (live::merge(&t), live::first_load(&t)),
            PlatformMode::Forensic => (forensic::merge(&t), forensic::first_load(&t)),
        };
        let current = match platform.mode {
            PlatformMode::Live => String::new(),
            PlatformMode::Forensic => format!(" WHERE {} = {CURRENT}", q(BATCH_OUT)),
        };
        let name = &t.dataset.name;
        DatasetSql {
            staging_table: t.staging_name.clone(),
            merge_table: t.merge_name.clone(),
            tables: tables::ddl(&t, platform.mode),
            snapshot: ingest::snapshot(&t, &store.capture.schema),
            analyze_staging: Statement::new(
                format!("Refresh the statistics of the snapshot of {name}"),
                format!("ANALYZE {}", t.staging),
            ),
            duplicate_keys: Statement::new(
                format!("Find keys that occur more than once in the snapshot of {name}"),
                format!(
                    "SELECT ROW({keys})::text FROM {staging} GROUP BY {keys} HAVING count(*) > 1 LIMIT 5",
                    keys = t.key_list(""),
                    staging = t.staging
                ),
            ),
            has_current: Statement::new(
                format!("Whether {} has a current row", t.merge),
                format!("SELECT EXISTS (SELECT 1 FROM {}{current})", t.merge),
            ),
            staging_rows: Statement::new(
                format!("The rows of the snapshot of {name} still in staging"),
                format!("SELECT count(*) FROM {}", t.staging),
            ),
            merge,
            first_load,
            clear_staging: Statement::new(
                format!("Empty the staging table of {name}"),
                format!("TRUNCATE {}", t.staging),
            ),
            rewind: (platform.mode == PlatformMode::Forensic).then(|| forensic::rewind(&t)),
        }
    }
}

/// Quotes an identifier.
pub(crate) fn q(name: &str) -> String {
    naming::quote_ident(name)
}

/// The names one dataset's statements are built from, quoted once.
pub(crate) struct Tables<'a> {
    pub(crate) dataset: &'a DatasetSchema,
    pub(crate) staging_name: String,
    pub(crate) merge_name: String,
    pub(crate) staging: String,
    pub(crate) merge: String,
    pub(crate) current_index: String,
    pub(crate) current_index_name: String,
}

impl<'a> Tables<'a> {
    fn new(platform: &YellowPlatform, store: &Datastore, dataset: &'a DatasetSchema) -> Self {
        let staging_name = naming::staging_table(&platform.name, &store.name, &dataset.name);
        let merge_name = naming::merge_table(&platform.name, &store.name, &dataset.name);
        let current_index_name =
            naming::merge_current_index(&platform.name, &store.name, &dataset.name);
        Tables {
            dataset,
            staging: q(&staging_name),
            merge: q(&merge_name),
            staging_name,
            merge_name,
            current_index: q(&current_index_name),
            current_index_name,
        }
    }

    /// The dataset's columns, quoted, each prefixed with `alias.` when one is given.
    pub(crate) fn column_list(&self, alias: &str) -> String {
        join(self.dataset.columns.iter().map(|c| c.name.as_str()), alias)
    }

    /// The key columns, quoted, each prefixed with `alias.` when one is given.
    pub(crate) fn key_list(&self, alias: &str) -> String {
        join(self.dataset.primary_key.iter().map(String::as_str), alias)
    }

    /// Inserts the rows of `from AS alias` (with `filter`, a `WHERE …` or nothing) into the
    /// merge table, stamped with batch `$1`: its `ds_surf_batch_id` on live platforms, a
    /// current version from `$1` on forensic ones.
    pub(crate) fn insert_rows(
        &self,
        mode: PlatformMode,
        from: &str,
        alias: &str,
        filter: &str,
    ) -> String {
        let current = CURRENT.to_string();
        let stamps: Vec<(&str, &str)> = match mode {
            PlatformMode::Live => vec![(BATCH_ID, "$1::integer")],
            PlatformMode::Forensic => {
                vec![(BATCH_IN, "$1::integer"), (BATCH_OUT, current.as_str())]
            }
        };
        let (all, key) = (q(ALL_HASH), q(KEY_HASH));
        let stamp_columns: String = stamps.iter().map(|(c, _)| format!(", {}", q(c))).collect();
        let stamp_values: String = stamps.iter().map(|(_, v)| format!(", {v}")).collect();
        format!(
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
            .map(|k| format!("{a}.{k} = {b}.{k}", k = q(k)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
}

fn join<'n>(names: impl Iterator<Item = &'n str>, alias: &str) -> String {
    names
        .map(|n| {
            if alias.is_empty() {
                q(n)
            } else {
                format!("{alias}.{}", q(n))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
