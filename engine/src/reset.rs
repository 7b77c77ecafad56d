//! `reset-batch`: send a stream's open batch back to `started`.

use super::batch::Batch;
use super::error::Error;
use super::infra;
use super::session::Engine;
use super::state::BatchStatus;
use crate::pg::{self, Exec};
use datasurface_codegen::sql::batch::{OfStream, WithState};
use datasurface_model::Stream;
use tokio_postgres::Client;

impl Engine<'_> {
    /// Sends the open batch of `stream` back to `started`: clears its staging and refreshes
    /// its schema fingerprints. Returns the batch id.
    pub async fn reset(&self, stream: &Stream<'_>) -> Result<i32, Error> {
        let batch = Batch::new(&self.eco.model().name, stream);
        // Never under a running batch.
        self.locked(stream, async |db| {
            infra::ensure_tables(db, stream.platform, &stream.store, &stream.datasets).await?;
            let row = db
                .opt_row(&batch.sql.last_batch, &OfStream { key: &batch.key })
                .await?
                .ok_or_else(|| Error::NoBatch(stream.key.clone()))?;
            let id = row.batch_id;
            let status = BatchStatus::parse(&row.batch_status).map_err(|e| Error::Unreadable {
                stream: stream.key.clone(),
                batch: id,
                what: e.to_string(),
            })?;
            match status {
                BatchStatus::Committed => Err(Error::Committed),
                BatchStatus::Reset => Err(Error::Rewound),
                BatchStatus::Started | BatchStatus::Ingested => {
                    restart(db, &batch, id).await?;
                    Ok(id)
                }
            }
        })
        .await
    }
}

/// Sends batch `id` back to `started` with its staging emptied and its schema fingerprints
/// taken from the model as it is now.
pub(super) async fn restart(client: &mut Client, batch: &Batch<'_>, id: i32) -> Result<(), Error> {
    let tx = pg::begin(client).await?;
    for sql in &batch.datasets {
        tx.run(&sql.clear_staging).await?;
    }
    let state = batch.started_state().to_json();
    let restarted = WithState {
        key: &batch.key,
        batch: id,
        state: &state,
    };
    tx.exec(&batch.sql.restart, &restarted).await?;
    Ok(pg::commit(tx).await?)
}
