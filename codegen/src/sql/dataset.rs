//! Everything the runtime executes for one dataset of one platform, in one value.

use super::ingest::{self, SnapshotSql};
use super::names::{BATCH_OUT, CURRENT, Tables, ThisBatch, q, truncate_unless_empty};
use super::statement::{Ddl, MergeStep, Statement};
use super::tables::{self, BulkLoad, Layout};
use super::typed::{Query, Single};
use super::{forensic, live};
use crate::text::text;
use datasurface_model::{DatasetSchema, PlatformMode, Store, YellowPlatform};

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
    /// The rows in staging, checked against the count the snapshot staged before merging.
    pub staging_rows: Query<(), Single<i64>>,
    /// Whether the merge table has any current row: if not, the batch is a first load.
    pub has_current: Query<(), Single<bool>>,
    /// A first load into an empty merge table: its indexes built after the rows are in.
    pub bulk_load: BulkLoad,
    /// The merge of the staged changes, in order, inside one transaction.
    pub merge: Vec<MergeStep>,
    /// Empties staging once the batch is merged or reset.
    pub clear_staging: Statement,
    /// Forensic platforms only: rewinds the merge table to its state after a batch. First
    /// the versions created after it are removed, then the versions closed after it are
    /// made current again.
    pub rewind: Option<[Query<ThisBatch>; 2]>,
}

impl DatasetSql {
    /// The SQL of `dataset` of `store` on `platform`.
    pub fn new(platform: &YellowPlatform, store: Store<'_>, dataset: &DatasetSchema) -> Self {
        let t = Tables::new(platform, store.model, dataset);
        let merge = match platform.mode {
            PlatformMode::Live => live::merge(&t),
            PlatformMode::Forensic => forensic::merge(&t),
        };
        let current = match platform.mode {
            PlatformMode::Live => String::new(),
            PlatformMode::Forensic => text!(" WHERE {} = {CURRENT}", q(BATCH_OUT)),
        };
        let name = &t.dataset.name;
        DatasetSql {
            staging_table: t.staging_name.clone(),
            merge_table: t.merge_name.clone(),
            tables: tables::ddl(&t, platform.mode, Layout::of(store)),
            snapshot: ingest::snapshot(&t, &store.capture.schema, platform.mode),
            analyze_staging: Statement::new(
                text!("Refresh the statistics of the snapshot of {name}"),
                format_args!("ANALYZE {}", t.staging),
            ),
            has_current: Query::new(
                text!("Whether {} has a current row", t.merge),
                format_args!("SELECT EXISTS (SELECT 1 FROM {}{current})", t.merge),
            ),
            bulk_load: tables::bulk_load(&t, platform.mode, Layout::of(store)),
            staging_rows: Query::new(
                text!("The changes of {name} still in staging"),
                format_args!("SELECT count(*) FROM {}", t.staging),
            ),
            merge,
            clear_staging: Statement::new(
                text!("Empty the staging table of {name}"),
                truncate_unless_empty(&t.staging),
            ),
            rewind: (platform.mode == PlatformMode::Forensic).then(|| forensic::rewind(&t)),
        }
    }
}
