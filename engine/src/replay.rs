//! Capture by logical replication: a batch reads the changes committed at the source since
//! the last one from the stream's replication slot, conflates them to the last state of
//! each key, and diffs exactly those keys against the merge table's current rows — the
//! streaming diff of a snapshot, with its row hashes — so staging, the merges, the metrics
//! and the guards are those of a snapshot batch.
//!
//! Why it is exact. A replication batch fixes its upper bound `U` when it starts (the
//! server's insert position, with the log flushed up to it), reads every transaction that
//! committed before `U`, and sets every key those transactions touched to its state at `U`:
//! a key they left alone has not changed since the previous batch's bound, and the merge
//! table already holds its state then. Setting a key to its state is idempotent, so reading
//! a change twice is harmless: the slot is moved on to `U` only after the batch committed,
//! and a rerun after a crash reads the same changes again. The first batch — and any batch
//! after which the changes cannot be trusted to be complete (the slot was dropped, lost
//! the log it needed, or moved past the last batch; a table was truncated; a dataset is
//! new) — reads a snapshot instead, and takes it after the slot exists, without moving the
//! slot: every change the snapshot may have missed is read again by the next batch.

use super::batch::{Batch, few_keys};
use super::copy::{Reader, Writer};
use super::diff::Target;
use super::error::Error;
use super::ingest::{self, Cut, Ingested, check_sources, copy_out, stream};
use super::progress::Phase;
use super::source::{self, Committed, Names};
use super::state::{BatchState, CaptureState, DatasetState, Read, Staged};
use crate::pg::{self, DbError, Environment, Exec};
use crate::replication::{Lsn, Message, Relation, Tuple, Value, decode};
use bytes::Bytes;
use datasurface_codegen::sql::batch::{LatestBatch, OfStream};
use datasurface_codegen::sql::replay::ReplaySql;
use datasurface_codegen::sql::replication::{
    self as sql, Advance, Peek, ReplicationSlot, SlotState,
};
use datasurface_codegen::sql::typed::Single;
use datasurface_codegen::sql::{DatasetSql, SourceTable};
use datasurface_model::DatasetSchema;
use futures_util::{SinkExt, StreamExt, pin_mut};
use std::collections::HashMap;
use tokio_postgres::Client;
use tracing::Instrument;

fn names(batch: &Batch<'_>) -> Names {
    Names::of(&batch.ecosystem, batch.stream)
}

/// Takes batch `id`'s ingest: from the slot when its changes can be trusted, else from a
/// snapshot. A store captured by snapshot always reads a snapshot.
pub(super) async fn ingest(
    merge_db: &mut Client,
    batch: &Batch<'_>,
    id: i32,
    env: &Environment,
) -> Result<Ingested, Error> {
    if batch.stream.store.replication.is_none() {
        return ingest::ingest(merge_db, batch, id, env, None).await;
    }
    let capture = batch.stream.store.capture;
    if batch.source.get().is_none_or(Client::is_closed) {
        let client = pg::connect(&capture.database, &capture.credential, env).await?;
        // A closed connection stays in place; this batch's work goes on over a new one.
        if let Err(client) = batch.source.set(client) {
            return ingest_over(merge_db, &client, batch, id, env).await;
        }
    }
    let source = batch
        .source
        .get()
        .expect("the source connection was just set");
    ingest_over(merge_db, source, batch, id, env).await
}

/// [`ingest`] over the connection `source`.
async fn ingest_over(
    merge_db: &mut Client,
    source: &Client,
    batch: &Batch<'_>,
    id: i32,
    env: &Environment,
) -> Result<Ingested, Error> {
    let names = names(batch);
    let replay = ReplaySql::new(
        batch.stream.platform.model,
        batch.stream.store,
        &batch.stream.datasets,
    );
    let last = last_committed(merge_db, batch, &replay).await?;
    let slot = source
        .opt_row(&sql::slot_state(), &slot_param(&names))
        .await?;
    match resync_reason(batch, last.as_ref(), slot.as_ref()) {
        Some(reason) => snapshot(merge_db, source, batch, id, env, &names, slot, reason).await,
        None => {
            let changes = changes(merge_db, source, batch, id, env, &names, &replay, last).await?;
            match changes {
                Ok(ingested) => Ok(ingested),
                Err(Resync(reason)) => {
                    snapshot(merge_db, source, batch, id, env, &names, slot, reason).await
                }
            }
        }
    }
}

/// After a batch committed, for a logically replicated stream: moves its slot on to the
/// batch's upper bound, so the server may remove the log before it, and says how far behind
/// the slot is then; `None` for a store captured by snapshot. Best effort, on one
/// connection to the source: when the slot cannot be moved, the next batch reads the same
/// changes again, harmlessly; an unreachable source is the lag's error, not the batch's.
pub(super) async fn settle(
    merge_db: &Client,
    batch: &Batch<'_>,
    env: &Environment,
) -> Option<source::SlotLag> {
    batch.stream.store.replication?;
    let names = names(batch);
    let store = batch.stream.store.capture;
    let connected;
    let source = match batch.source.get() {
        Some(source) if !source.is_closed() => source,
        _ => match pg::connect(&store.database, &store.credential, env).await {
            Ok(source) => {
                connected = source;
                &connected
            }
            Err(e) => {
                tracing::warn!(
                    "the replication slot {} was not moved on after the batch ({e}); the next batch reads its changes again",
                    names.slot
                );
                let mut lags =
                    source::slot_lags(&batch.ecosystem, std::slice::from_ref(batch.stream), env)
                        .await;
                return lags.pop();
            }
        },
    };
    let last = match confirm(merge_db, source, batch, &names).await {
        Ok(last) => last,
        Err(e) => {
            tracing::warn!(
                "the replication slot {} was not moved on after the batch ({e}); the next batch reads its changes again",
                names.slot
            );
            None
        }
    };
    let lag = source::slot_lag(source, &batch.ecosystem, batch.stream).await;
    Some(lag.aged(last.as_ref()))
}

/// Moves the stream's slot on to the upper bound of its last committed batch, when that
/// batch holds every transaction before it; that batch.
async fn confirm(
    merge_db: &Client,
    source: &Client,
    batch: &Batch<'_>,
    names: &Names,
) -> Result<Option<Committed>, Error> {
    let replay = ReplaySql::new(
        batch.stream.platform.model,
        batch.stream.store,
        &batch.stream.datasets,
    );
    let Some(last) = last_committed_row(merge_db, batch, &replay).await? else {
        return Ok(None);
    };
    let last = committed_of(&last);
    if let Some(upper) = last.upper {
        advance(source, &names.slot, upper).await?;
    }
    Ok(Some(last))
}

/// Moves `slot` on to `to` unless it is there already.
async fn advance(source: &Client, slot: &str, to: Lsn) -> Result<(), Error> {
    let state = source
        .opt_row(&sql::slot_state(), &ReplicationSlot { slot })
        .await?;
    let at = state.and_then(|s| s.confirmed_flush_lsn).unwrap_or(Lsn(0));
    if at < to {
        source.row(&sql::advance(), &Advance { slot, to }).await?;
    }
    Ok(())
}

fn slot_param(names: &Names) -> ReplicationSlot<'_> {
    ReplicationSlot { slot: &names.slot }
}

/// The stream's last committed batch's state, if it has one.
async fn last_committed(
    merge_db: &Client,
    batch: &Batch<'_>,
    replay: &ReplaySql,
) -> Result<Option<BatchState>, Error> {
    Ok(last_committed_row(merge_db, batch, replay)
        .await?
        .and_then(|r| BatchState::from_json(r.state).ok()))
}

/// The stream's last committed batch, if it has one.
async fn last_committed_row(
    merge_db: &Client,
    batch: &Batch<'_>,
    replay: &ReplaySql,
) -> Result<Option<LatestBatch>, Error> {
    if !super::infra::table_exists(merge_db, &batch.sql.metrics_table).await? {
        return Ok(None);
    }
    Ok(merge_db
        .opt_row(&replay.last_committed, &OfStream { key: &batch.key })
        .await?)
}

/// What the age of a slot needs of the stream's last committed batch.
fn committed_of(row: &LatestBatch) -> Committed {
    match BatchState::from_json(row.state.clone()) {
        Ok(state) => Committed::new(&state, row.batch_start_time),
        Err(_) => Committed {
            upper: None,
            started: row.batch_start_time,
        },
    }
}

/// Why this batch must read a snapshot, or `None` when the slot's changes since the last
/// batch are complete.
fn resync_reason(
    batch: &Batch<'_>,
    last: Option<&BatchState>,
    slot: Option<&SlotState>,
) -> Option<String> {
    let Some(last) = last else {
        return Some("the stream's first batch".into());
    };
    let Some(slot) = slot else {
        return Some("the replication slot is gone".into());
    };
    if slot.wal_status.as_deref() == Some("lost") {
        return Some("the replication slot lost the log it needed (wal_status lost)".into());
    }
    let Some(upper) = last
        .capture
        .as_ref()
        .and_then(|c| c.upper.parse::<Lsn>().ok())
    else {
        return Some("the last batch did not read from the replication slot".into());
    };
    match slot.confirmed_flush_lsn {
        Some(at) if at <= upper => {}
        _ => {
            return Some(
                "the replication slot was moved past the last batch (was it dropped and created again?)"
                    .into(),
            );
        }
    }
    batch
        .stream
        .datasets
        .iter()
        .find(|d| !matches!(last.datasets.get(&d.name), Some(DatasetState::Merged(_))))
        .map(|d| format!("dataset {} is new to the stream", d.name))
}

/// A snapshot batch: makes sure the publication and a usable slot exist first, notes the
/// position before the snapshot, and takes the snapshot.
#[allow(clippy::too_many_arguments)]
async fn snapshot(
    merge_db: &mut Client,
    source: &Client,
    batch: &Batch<'_>,
    id: i32,
    env: &Environment,
    names: &Names,
    slot: Option<SlotState>,
    reason: String,
) -> Result<Ingested, Error> {
    ensure_publication(source, batch, &names.publication).await?;
    let usable = slot
        .as_ref()
        .is_some_and(|s| s.wal_status.as_deref() != Some("lost"));
    if slot.is_some() && !usable {
        source.exec(&sql::drop_slot(), &slot_param(names)).await?;
    }
    if !usable {
        source.row(&sql::create_slot(), &slot_param(names)).await?;
    }
    let Single(upper) = source.row(&sql::insert_lsn(), &()).await?;
    let Single(next_xid) = source.row(&sql::next_xid(), &()).await?;
    let first = batch_is_first(&reason);
    if first {
        tracing::info!(
            "first batch of the stream: a snapshot, then its changes from {}",
            names.slot
        );
    } else {
        tracing::warn!(resync = %reason, "resync: a snapshot instead of the changes, because {reason}");
    }
    let cut = Cut {
        capture: CaptureState {
            read: Read::Snapshot,
            upper: upper.to_string(),
            resync: Some(reason),
            changes: None,
            complete: false,
        },
        next_xid,
    };
    ingest::ingest(merge_db, batch, id, env, Some(cut)).await
}

fn batch_is_first(reason: &str) -> bool {
    reason == "the stream's first batch"
}

/// Creates the stream's publication, or sets its tables to the stream's.
async fn ensure_publication(
    source: &Client,
    batch: &Batch<'_>,
    publication: &str,
) -> Result<(), Error> {
    let tables: Vec<SourceTable> = batch
        .datasets
        .iter()
        .map(|d| d.snapshot.source.clone())
        .collect();
    Ok(source::ensure_publication(source, publication, &tables).await?)
}

/// A reason the changes cannot make the batch, so it must read a snapshot.
struct Resync(String);

/// A replication batch: reads the changes up to a bound fixed now into the changes table,
/// then diffs the changed keys into staging; [`Resync`] when the changes cannot make it (a
/// captured table was truncated, say) and the batch must read a snapshot instead.
#[allow(clippy::too_many_arguments)]
async fn changes(
    merge_db: &mut Client,
    source: &Client,
    batch: &Batch<'_>,
    id: i32,
    env: &Environment,
    names: &Names,
    replay: &ReplaySql,
    last: Option<BatchState>,
) -> Result<Result<Ingested, Resync>, Error> {
    // The source's tables still match the model (a column changed or dropped stops here).
    check_sources(source, &batch.stream.store.capture.database.name, batch, id).await?;
    ensure_publication(source, batch, &names.publication).await?;
    let Single(upper) = source.row(&sql::insert_lsn(), &()).await?;
    source.run(&sql::flush_log()).await?;

    let last = last.unwrap_or_default();
    let before: Vec<u64> = batch
        .each()
        .map(|(dataset, _)| match last.datasets.get(&dataset.name) {
            Some(DatasetState::Merged(m)) => m.total,
            _ => 0,
        })
        .collect();
    let loaded = match load(merge_db, source, batch, names, replay, upper, &before).await? {
        Ok(loaded) => loaded,
        Err(resync) => return Ok(Err(resync)),
    };

    let tx = pg::begin(merge_db).await?;
    // The two sides of each dataset's diff stream on connections of their own, when there
    // is a diff to make.
    let provider = batch.stream.platform.provider;
    let connect = || pg::connect(&provider.merge_database, &provider.merge_credential, env);
    let sides = match loaded.changes {
        0 => None,
        _ => Some((connect().await?, connect().await?)),
    };
    let mut state = batch.started_state();
    let mut total = 0;
    for (i, (dataset, sql)) in batch.each().enumerate() {
        let before = before[i];
        let staged = match &sides {
            Some((changed_db, current_db)) if loaded.per_dataset[i] > 0 => {
                diff(
                    &tx,
                    (changed_db, current_db),
                    batch,
                    id,
                    (dataset, sql),
                    replay,
                    (i, loaded.truncated[i], loaded.unsent[i]),
                    (loaded.per_dataset[i], before),
                )
                .instrument(
                    tracing::info_span!("dataset", dataset = %dataset.name, phase = "changes"),
                )
                .await?
            }
            // Nothing of the dataset changed: nothing to stage.
            _ => {
                tx.run(&sql.clear_staging).await?;
                batch.done(&dataset.name, Phase::Snapshot, 0);
                Staged {
                    total: before,
                    staged: 0,
                    inserted: 0,
                    updated: 0,
                    deleted: 0,
                }
            }
        };
        total += staged.total;
        state
            .datasets
            .insert(dataset.name.clone(), DatasetState::Staged(staged));
    }
    state.capture = Some(CaptureState {
        read: Read::Changes,
        upper: upper.to_string(),
        resync: None,
        changes: Some(loaded.changes),
        complete: true,
    });
    batch.ingested(&tx, id, total, &state).await?;
    pg::commit(tx).await?;
    tracing::info!(
        changes = loaded.changes,
        "read {} changes from {} up to {upper}",
        loaded.changes,
        names.slot
    );
    Ok(Ok(Ingested::Staged))
}

/// What [`load`] put in the changes table.
struct Loaded {
    /// Changes (rows inserted, updated or deleted, tables truncated).
    changes: u64,
    /// The changes of each dataset.
    per_dataset: Vec<u64>,
    /// Per dataset, whether its table was truncated: every current row is diffed.
    truncated: Vec<bool>,
    /// Per dataset, whether an update left a value unsent: the current rows fill it.
    unsent: Vec<bool>,
}

/// Reads the slot's changes up to `upper` into the changes table, in its own transaction;
/// [`Resync`] when they cannot make the batch. `before` holds each dataset's rows before
/// the batch.
#[allow(clippy::too_many_arguments)]
async fn load(
    merge_db: &mut Client,
    source: &Client,
    batch: &Batch<'_>,
    names: &Names,
    replay: &ReplaySql,
    upper: Lsn,
    before: &[u64],
) -> Result<Result<Loaded, Resync>, Error> {
    let tx = pg::begin(merge_db).await?;
    tx.run(&replay.clear).await?;
    let sink = tx
        .copy_in::<_, Bytes>(replay.copy_in.sql())
        .await
        .map_err(|e| DbError::new(replay.copy_in.what(), e))?;
    pin_mut!(sink);
    let peek = Peek::new(&names.slot, Some(upper), &names.publication);
    let peek_changes = sql::peek();
    let rows = source.stream(&peek_changes, &peek).await?;
    pin_mut!(rows);
    let mut decoder = Decoder::new(batch);
    let mut writer = Writer::new();
    let write_error = |e| DbError::new(replay.copy_in.what(), e);
    while let Some(change) = rows.next().await {
        let change = change?;
        let message = decode(&change.data).map_err(|e| Error::Snapshot {
            dataset: batch.stream.key.to_string(),
            detail: format!("a change read from the replication slot: {e}"),
        })?;
        if let Some(reason) = decoder.message(message, &mut writer) {
            return Ok(Err(Resync(reason)));
        }
        if let Some(chunk) = writer.full() {
            sink.feed(chunk).await.map_err(write_error)?;
        }
    }
    sink.feed(writer.finish()).await.map_err(write_error)?;
    sink.as_mut().finish().await.map_err(write_error)?;
    // Committed with the changes: the diff reads them on connections of its own.
    if decoder.unchanged.iter().any(|u| !u.is_empty()) {
        tx.run(&replay.index).await?;
    }
    for (i, columns) in decoder.unchanged.iter().enumerate() {
        for j in columns {
            if let Some(fill) = replay.datasets[i].fill.get(*j) {
                tx.run(fill).await?;
            }
        }
    }
    // Statistics only where the planner chooses the joins: a dataset that changed few keys
    // of its rows is probed by key whatever they say.
    let planned = (0..decoder.per_dataset.len()).any(|i| {
        decoder.per_dataset[i] > 0
            && (decoder.truncated[i] || !few_keys(decoder.per_dataset[i], before[i]))
    });
    if planned {
        tx.run(&replay.analyze).await?;
    }
    pg::commit(tx).await?;
    Ok(Ok(Loaded {
        changes: decoder.seq,
        per_dataset: decoder.per_dataset,
        truncated: decoder.truncated,
        unsent: decoder.unchanged.iter().map(|u| !u.is_empty()).collect(),
    }))
}

/// Turns decoded messages into rows of the changes table.
struct Decoder<'b> {
    batch: &'b Batch<'b>,
    /// Per relation oid of a captured table: its dataset, and per model column the
    /// position of its value in the relation's tuples.
    relations: HashMap<u32, (usize, Vec<usize>)>,
    seq: u64,
    /// Changes written, per dataset.
    per_dataset: Vec<u64>,
    unchanged: Vec<std::collections::BTreeSet<usize>>,
    /// Per dataset, whether its table was truncated.
    truncated: Vec<bool>,
}

impl<'b> Decoder<'b> {
    fn new(batch: &'b Batch<'b>) -> Self {
        Decoder {
            batch,
            relations: HashMap::new(),
            seq: 0,
            per_dataset: vec![0; batch.datasets.len()],
            unchanged: vec![Default::default(); batch.datasets.len()],
            truncated: vec![false; batch.datasets.len()],
        }
    }

    /// Writes what `message` changes; the reason to read a snapshot instead, if it gives
    /// one.
    fn message(&mut self, message: Message<'_>, writer: &mut Writer) -> Option<String> {
        match message {
            Message::Relation(r) => return self.relation(&r),
            Message::Insert(i) => self.row(i.relation, &i.new, false, writer),
            Message::Update(u) => {
                // A changed key: the old key is gone, the new row is the key's state.
                if let Some(old) = &u.old {
                    if self.relations.contains_key(&u.relation)
                        && u.new.0.iter().any(|v| matches!(v, Value::Unchanged))
                    {
                        // Its unsent values are the old key's, which may itself have moved
                        // or be gone by the end of the batch: a snapshot reads them.
                        return Some(
                            "a key was changed by an update that left a large value unsent".into(),
                        );
                    }
                    self.row(u.relation, old.tuple(), true, writer);
                }
                self.row(u.relation, &u.new, false, writer);
            }
            Message::Delete(d) => self.row(d.relation, d.old.tuple(), true, writer),
            Message::Truncate(t) => {
                for relation in &t.relations {
                    self.truncate(*relation, writer);
                }
            }
            _ => {}
        }
        None
    }

    /// Learns where a captured table's model columns are in its tuples. A model column the
    /// changes do not carry, though the table has it now (the source checks passed), was
    /// dropped and added back since the last batch: the changes cannot give its values, and
    /// that is the reason to read a snapshot.
    fn relation(&mut self, r: &Relation<'_>) -> Option<String> {
        let i = self
            .batch
            .datasets
            .iter()
            .position(|d| source_is(&d.snapshot.source, r))?;
        let dataset: &DatasetSchema = self.batch.stream.datasets[i];
        let mut positions = Vec::with_capacity(dataset.columns.len());
        for column in &dataset.columns {
            match r.columns.iter().position(|c| c.name == column.name) {
                Some(p) => positions.push(p),
                None => {
                    return Some(format!(
                        "the changes of source table {} went without column {} for a while \
                         (dropped and added back?)",
                        self.batch.datasets[i].snapshot.source.name, column.name
                    ));
                }
            }
        }
        self.relations.insert(r.oid, (i, positions));
        None
    }

    /// Writes that a captured table was emptied: every key before is gone.
    fn truncate(&mut self, relation: u32, writer: &mut Writer) {
        let Some((i, _)) = self.relations.get(&relation) else {
            return;
        };
        let i = *i;
        self.truncated[i] = true;
        self.seq += 1;
        self.per_dataset[i] += 1;
        writer.tuple(6);
        writer.field(Some(&(i as i32).to_be_bytes()));
        writer.field(Some(&(self.seq as i64).to_be_bytes()));
        writer.field(Some(&[1]));
        writer.field(None);
        writer.field(Some(&text_array(&[])));
        writer.field(Some(&text_array(&[])));
    }

    /// Writes one change of a captured table: a row's state, or (`gone`) its key removed.
    fn row(&mut self, relation: u32, tuple: &Tuple<'_>, gone: bool, writer: &mut Writer) {
        let Some((i, positions)) = self.relations.get(&relation) else {
            return;
        };
        let dataset: &DatasetSchema = self.batch.stream.datasets[*i];
        let value = |p: usize| tuple.0.get(p).copied().unwrap_or(Value::Null);
        let values: Vec<Value<'_>> = positions.iter().map(|p| value(*p)).collect();
        let key: Vec<Option<&[u8]>> = dataset
            .primary_key
            .iter()
            .filter_map(|k| dataset.columns.iter().position(|c| &c.name == k))
            .map(|j| text(values[j]))
            .collect();
        let unchanged: Vec<i32> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| matches!(v, Value::Unchanged))
            .map(|(j, _)| j as i32 + 1)
            .collect();
        for j in &unchanged {
            self.unchanged[*i].insert(*j as usize - 1);
        }
        self.seq += 1;
        self.per_dataset[*i] += 1;
        writer.tuple(6);
        writer.field(Some(&(*i as i32).to_be_bytes()));
        writer.field(Some(&(self.seq as i64).to_be_bytes()));
        writer.field(Some(&[u8::from(gone)]));
        if unchanged.is_empty() {
            writer.field(None);
        } else {
            writer.field(Some(&int_array(&unchanged)));
        }
        writer.field(Some(&text_array(&key)));
        let texts: Vec<Option<&[u8]>> = if gone {
            // A removed key: its key columns only, so the state is the key's absence.
            values
                .iter()
                .enumerate()
                .map(|(j, v)| {
                    dataset
                        .primary_key
                        .contains(&dataset.columns[j].name)
                        .then(|| text(*v))
                        .flatten()
                })
                .collect()
        } else {
            values.iter().map(|v| text(*v)).collect()
        };
        writer.field(Some(&text_array(&texts)));
    }
}

/// Whether the relation a slot describes is the source table `table`.
fn source_is(table: &SourceTable, r: &Relation<'_>) -> bool {
    let schema = if r.namespace.is_empty() {
        "pg_catalog"
    } else {
        r.namespace
    };
    table.name == format!("{schema}.{}", r.name)
}

/// A value's text, or `None` for NULL and for a value not sent.
fn text(value: Value<'_>) -> Option<&[u8]> {
    match value {
        Value::Text(t) | Value::Binary(t) => Some(t),
        Value::Null | Value::Unchanged => None,
    }
}

/// A one-dimensional array in PostgreSQL's binary format.
fn array(element_type: u32, elements: &[Option<&[u8]>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        20 + elements
            .iter()
            .map(|e| 4 + e.map_or(0, <[u8]>::len))
            .sum::<usize>(),
    );
    let has_null = elements.iter().any(Option::is_none);
    out.extend_from_slice(&1_i32.to_be_bytes());
    out.extend_from_slice(&i32::from(has_null).to_be_bytes());
    out.extend_from_slice(&element_type.to_be_bytes());
    out.extend_from_slice(&(elements.len() as i32).to_be_bytes());
    out.extend_from_slice(&1_i32.to_be_bytes());
    for e in elements {
        match e {
            Some(bytes) => {
                out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                out.extend_from_slice(bytes);
            }
            None => out.extend_from_slice(&(-1_i32).to_be_bytes()),
        }
    }
    out
}

/// `text[]` in binary format.
fn text_array(elements: &[Option<&[u8]>]) -> Vec<u8> {
    const TEXT: u32 = 25;
    array(TEXT, elements)
}

/// `integer[]` in binary format.
fn int_array(elements: &[i32]) -> Vec<u8> {
    const INT4: u32 = 23;
    let bytes: Vec<[u8; 4]> = elements.iter().map(|e| e.to_be_bytes()).collect();
    let refs: Vec<Option<&[u8]>> = bytes.iter().map(|b| Some(b.as_slice())).collect();
    array(INT4, &refs)
}

/// Diffs one dataset's changed keys against their current rows into staging; what it
/// staged, with the dataset's rows after the batch as its total.
#[allow(clippy::too_many_arguments)]
async fn diff(
    tx: &tokio_postgres::Transaction<'_>,
    (changed_db, current_db): (&Client, &Client),
    batch: &Batch<'_>,
    id: i32,
    (dataset, sql): (&DatasetSchema, &DatasetSql),
    replay: &ReplaySql,
    (i, truncated, unsent): (usize, bool, bool),
    (changes, before): (u64, u64),
) -> Result<Staged, Error> {
    let statements = &replay.datasets[i];
    // After a truncate every current key may be gone, not only the changed ones: the diff
    // is then a whole one, against every current row.
    let current_rows = match truncated {
        true => &statements.current_all,
        false => &statements.current,
    };
    tx.run(&sql.clear_staging).await?;
    let plan = match few_keys(changes, before) {
        true => &batch.sql.probe_keys_in_session,
        false => &batch.sql.plan_joins,
    };
    changed_db.run(plan).await?;
    current_db.run(plan).await?;
    let changed_rows = match unsent {
        true => &statements.source_filling,
        false => &statements.source,
    };
    let changed = copy_out(changed_db, changed_rows, || changed_rows.what().to_owned()).await?;
    let current = copy_out(current_db, current_rows, || current_rows.what().to_owned()).await?;
    let mut changed = Reader::new(changed, dataset.columns.len());
    let mut current = Reader::new(current, dataset.primary_key.len() + 1);
    let on_rows = |rows| batch.rows(&dataset.name, Phase::Snapshot, rows);
    let sides = (
        &mut changed,
        Some(&mut current),
        &on_rows as &(dyn Fn(u64) + Sync),
    );
    let found = stream(
        tx,
        &sql.snapshot.copy_in,
        id,
        dataset,
        sql,
        Target::Staging,
        sides,
    )
    .await?;
    // The merge probes few keys by key whatever the statistics say.
    if !few_keys(found.staged(), before) {
        tx.run(&sql.analyze_staging).await?;
    }
    batch.done(&dataset.name, Phase::Snapshot, found.staged());
    let total = match truncated {
        true => found.total,
        false => (before + found.inserted).saturating_sub(found.deleted),
    };
    tracing::info!(
        dataset = %dataset.name,
        inserted = found.inserted,
        updated = found.updated,
        deleted = found.deleted,
        "changes of {}: {} new, {} changed, {} gone",
        dataset.name,
        found.inserted,
        found.updated,
        found.deleted
    );
    Ok(Staged {
        total,
        staged: found.staged(),
        inserted: found.inserted,
        updated: found.updated,
        deleted: found.deleted,
    })
}
