//! `status`: the recent batches of a platform's streams.

use super::error::Error;
use super::infra::table_exists;
use super::session::Engine;
use super::source::{self, Committed, SlotLag};
use super::state::{BatchState, BatchStatus};
use crate::pg::Exec;
use chrono::{DateTime, Utc};
use datasurface_codegen::sql::BatchSql;
use datasurface_codegen::sql::batch::HistoryOf;
use datasurface_model::{Credential, Platform, Store, Stream, StreamKey};

/// One batch, as the metrics table records it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BatchRecord {
    pub key: String,
    pub batch_id: i32,
    pub batch_start_time: DateTime<Utc>,
    pub batch_end_time: Option<DateTime<Utc>>,
    pub batch_status: BatchStatus,
    pub records_inserted: Option<i64>,
    pub records_updated: Option<i64>,
    pub records_deleted: Option<i64>,
    pub total_records: Option<i64>,
    pub state: BatchState,
}

impl Engine<'_> {
    /// The last `limit` batches of each stream of `platform`, or of the streams of `store`,
    /// by stream and batch.
    pub async fn status(
        &self,
        platform: Platform<'_>,
        store: Option<Store<'_>>,
        limit: i64,
    ) -> Result<Vec<BatchRecord>, Error> {
        let login = &platform.provider.merge_credential;
        self.status_as(platform, store, limit, login).await
    }

    /// [`status`](Self::status), logged in with `login`: a login that may read only the
    /// batch tables is enough (the console's).
    pub async fn status_as(
        &self,
        platform: Platform<'_>,
        store: Option<Store<'_>>,
        limit: i64,
        login: &Credential,
    ) -> Result<Vec<BatchRecord>, Error> {
        let client = self.merge_db_as(platform, login).await?;
        let sql = BatchSql::new(&platform.model.name);
        if !table_exists(&client, &sql.metrics_table).await? {
            return Ok(Vec::new());
        }
        let store = store.map(|s| s.model.name.clone());
        let which = HistoryOf {
            store: store.as_deref(),
            limit,
        };
        client
            .rows(&sql.history, &which)
            .await?
            .into_iter()
            .map(|r| {
                let unreadable = |what: String| Error::Unreadable {
                    stream: StreamKey::parse(&r.key),
                    batch: r.batch_id,
                    what,
                };
                Ok(BatchRecord {
                    batch_start_time: r.batch_start_time,
                    batch_end_time: r.batch_end_time,
                    batch_status: BatchStatus::parse(&r.batch_status)
                        .map_err(|e| unreadable(e.to_string()))?,
                    records_inserted: r.records_inserted,
                    records_updated: r.records_updated,
                    records_deleted: r.records_deleted,
                    total_records: r.total_records,
                    state: BatchState::from_json(r.state)
                        .map_err(|e| unreadable(format!("its state cannot be read ({e})")))?,
                    key: r.key,
                    batch_id: r.batch_id,
                })
            })
            .collect()
    }

    /// How far behind the replication slot of each logically replicated stream of
    /// `platform` (or of `store`) is, read from its source now. A source that cannot be
    /// reached gives its slots an error rather than failing.
    pub async fn slots(&self, platform: Platform<'_>, store: Option<Store<'_>>) -> Vec<SlotLag> {
        let streams: Vec<_> = self
            .eco
            .streams(platform)
            .into_iter()
            .filter(|s| store.is_none_or(|store| store.model.name == s.store.model.name))
            .collect();
        let lags = source::slot_lags(&self.eco.model().name, &streams, self.env).await;
        // The age of each slot comes from its stream's last committed batch; unknown when
        // the merge database cannot say.
        let history = self.status(platform, store, 10).await.unwrap_or_default();
        lags.into_iter()
            .map(|lag| {
                let last = last_committed(&history, &lag.stream);
                lag.aged(last.as_ref())
            })
            .collect()
    }

    /// The last committed batch of `stream`, as the age of its slot needs it; `None` when
    /// it has none or the merge database cannot say.
    pub(super) async fn last_committed(&self, stream: &Stream<'_>) -> Option<Committed> {
        let history = self
            .status(stream.platform, Some(stream.store), 10)
            .await
            .ok()?;
        last_committed(&history, &stream.key.to_string())
    }
}

/// The last committed batch of the stream keyed `key` in `history`.
fn last_committed(history: &[BatchRecord], key: &str) -> Option<Committed> {
    history
        .iter()
        .filter(|r| r.key == key && r.batch_status == BatchStatus::Committed)
        .max_by_key(|r| r.batch_id)
        .map(|r| Committed::new(&r.state, r.batch_start_time))
}
