//! The source side of logical replication: each logically replicated stream has, in its
//! source database, a publication of the stream's tables and a slot (`pgoutput`), both
//! named from the stream. `infra` creates them, sets the publication's tables and drops
//! those of streams a model change removed; a replication batch makes sure of the
//! publication and slot again before it reads; `status`, `run` and `doctor` show how far
//! behind each slot is ([`SlotLag`]).
//!
//! What infra drops: the slots and publications of the source databases of the model's
//! logically replicated stores whose names start with the platform's prefix
//! (`{ecosystem}_{platform}_`, see [`naming::replication_prefix`]) and that are no stream's
//! of the model. A source database no store reads by logical replication any more is not
//! visited: drop its slots by hand (`SELECT pg_drop_replication_slot('…')`).

use super::state::BatchState;
use crate::pg::{self, DbError, Environment, Exec};
use crate::replication::Lsn;
use chrono::{DateTime, Utc};
use datasurface_codegen::sql::SourceTable;
use datasurface_codegen::sql::Statement;
use datasurface_codegen::sql::replication::{self as sql, Publication, ReplicationSlot, SlotState};
use datasurface_codegen::sql::typed::Single;
use datasurface_model::{Credential, PostgresDatabase, Stream, ValidEcosystem, naming};
use std::collections::BTreeSet;
use tokio_postgres::Client;

/// The slot and publication of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Names {
    pub(super) slot: String,
    pub(super) publication: String,
}

impl Names {
    /// The names of `stream` of the ecosystem `ecosystem`.
    pub(super) fn of(ecosystem: &str, stream: &Stream<'_>) -> Self {
        let (platform, store) = (
            stream.platform.model.name.as_str(),
            stream.store.model.name.as_str(),
        );
        let dataset = stream.key.dataset.as_deref();
        Names {
            slot: naming::replication_slot(ecosystem, platform, store, dataset),
            publication: naming::publication(ecosystem, platform, store, dataset),
        }
    }
}

/// The source tables a stream captures, in model order.
pub(super) fn tables(stream: &Stream<'_>) -> Vec<SourceTable> {
    stream
        .datasets
        .iter()
        .map(|d| SourceTable::new(&stream.store.capture.schema, &d.name))
        .collect()
}

/// The logically replicated streams of every platform of the model.
pub(super) fn replicated<'e>(eco: &'e ValidEcosystem) -> Vec<Stream<'e>> {
    eco.platforms()
        .flat_map(|p| eco.streams(p))
        .filter(|s| s.store.replication.is_some())
        .collect()
}

/// The source databases of the model's logically replicated stores, once each by model
/// name, with the credential of the first store that reads it.
pub(super) fn replicated_sources(eco: &ValidEcosystem) -> Vec<(&PostgresDatabase, &Credential)> {
    let mut seen = BTreeSet::new();
    eco.stores()
        .filter(|s| s.replication.is_some())
        .map(|s| (&s.capture.database, &s.capture.credential))
        .filter(|(db, _)| seen.insert(db.name.as_str()))
        .collect()
}

/// What is done, or would be done, to a slot or publication of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceAction {
    CreatePublication,
    /// The publication's tables are set to the stream's (a dataset came or went).
    SetPublicationTables,
    CreateSlot,
    /// A stream the model no longer has.
    DropSlot,
    /// A stream the model no longer has.
    DropPublication,
}

impl std::fmt::Display for SourceAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SourceAction::CreatePublication => "create publication",
            SourceAction::SetPublicationTables => "set the tables of publication",
            SourceAction::CreateSlot => "create replication slot",
            SourceAction::DropSlot => "drop replication slot",
            SourceAction::DropPublication => "drop publication",
        })
    }
}

/// One change to a source database: its action, on the slot or publication `name`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceChange {
    /// The source database, by its model name.
    pub database: String,
    pub action: SourceAction,
    /// The slot's or publication's name.
    pub name: String,
}

impl std::fmt::Display for SourceChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} in {}", self.action, self.name, self.database)
    }
}

/// The statement that makes `publication` publish exactly `tables`, with what it does;
/// `None` when it already does.
pub(super) async fn publication_change(
    source: &impl Exec,
    publication: &str,
    tables: &[SourceTable],
) -> Result<Option<(SourceAction, Statement)>, DbError> {
    let Single(exists) = source
        .row(&sql::publication_exists(), &Publication { publication })
        .await?;
    if !exists {
        return Ok(Some((
            SourceAction::CreatePublication,
            sql::create_publication(publication, tables),
        )));
    }
    let published: BTreeSet<String> = source
        .rows(&sql::publication_tables(), &Publication { publication })
        .await?
        .into_iter()
        .map(|Single(t)| t)
        .collect();
    let wanted: BTreeSet<String> = tables.iter().map(|t| t.name.clone()).collect();
    Ok((published != wanted).then(|| {
        (
            SourceAction::SetPublicationTables,
            sql::set_publication_tables(publication, tables),
        )
    }))
}

/// Creates `publication`, or sets its tables to `tables`, unless it publishes exactly them.
pub(super) async fn ensure_publication(
    source: &impl Exec,
    publication: &str,
    tables: &[SourceTable],
) -> Result<(), DbError> {
    if let Some((_, statement)) = publication_change(source, publication, tables).await? {
        source.run(&statement).await?;
    }
    Ok(())
}

/// A number of bytes as a person reads it (`12.3 MB`); `unknown` for `None`.
pub fn readable_bytes(n: Option<i64>) -> String {
    let Some(n) = n else {
        return "unknown".into();
    };
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} B"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

/// How far behind a stream's replication slot is, as its source reports it now.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SlotLag {
    /// The stream's key (`Store1`, `Store1#people`).
    pub stream: String,
    pub slot: String,
    /// Whether the slot exists (infra, or the stream's first batch, creates it).
    pub exists: bool,
    /// Bytes of log written since the last change the stream consumed (the server's
    /// position less the slot's `confirmed_flush_lsn`).
    pub lag_bytes: Option<i64>,
    /// Seconds since the changes the slot has consumed were current: since the stream's
    /// last committed batch fixed the bound it moved the slot to (that batch's start, so
    /// never less than the truth). `None` before a batch moved the slot.
    pub lag_seconds: Option<f64>,
    /// Bytes of log the server keeps for the slot (its position less `restart_lsn`).
    pub retained_bytes: Option<i64>,
    /// `reserved`, `extended`, `unreserved` or `lost`, as `pg_replication_slots` says.
    pub wal_status: Option<String>,
    /// Bytes that may still be written before the slot is in danger of losing the log it
    /// needs; `None` when `max_slot_wal_keep_size` sets no limit.
    pub safe_wal_size: Option<i64>,
    /// Why the slot could not be read (the source is unreachable, say).
    pub error: Option<String>,
    /// Where the slot is: the changes before it are consumed.
    #[serde(skip)]
    pub confirmed: Option<Lsn>,
}

impl SlotLag {
    pub(super) fn of(
        stream: &Stream<'_>,
        slot: &str,
        state: Result<Option<SlotState>, String>,
    ) -> SlotLag {
        let mut lag = SlotLag {
            stream: stream.key.to_string(),
            slot: slot.to_owned(),
            exists: false,
            lag_bytes: None,
            lag_seconds: None,
            retained_bytes: None,
            wal_status: None,
            safe_wal_size: None,
            error: None,
            confirmed: None,
        };
        match state {
            Ok(Some(s)) => {
                lag.exists = true;
                lag.lag_bytes = s.lag_bytes;
                lag.retained_bytes = s.retained_bytes;
                lag.wal_status = s.wal_status;
                lag.safe_wal_size = s.safe_wal_size;
                lag.confirmed = s.confirmed_flush_lsn;
            }
            Ok(None) => {}
            Err(e) => lag.error = Some(e),
        }
        lag
    }

    /// Sets [`SlotLag::lag_seconds`] from the stream's last committed batch, when the slot
    /// was moved on to its bound (a batch that died before moving it leaves the age unknown).
    pub(super) fn aged(mut self, last: Option<&Committed>) -> SlotLag {
        if let (Some(at), Some(last)) = (self.confirmed, last)
            && last.upper == Some(at)
        {
            let age = Utc::now() - last.started;
            self.lag_seconds = Some(age.as_seconds_f64().max(0.0));
        }
        self
    }
}

/// A stream's last committed batch, as the age of its slot needs it.
pub(super) struct Committed {
    /// The bound the slot may be moved on to after it: its changes were read up to there,
    /// and it holds every transaction before.
    pub(super) upper: Option<Lsn>,
    pub(super) started: DateTime<Utc>,
}

impl Committed {
    pub(super) fn new(state: &BatchState, started: DateTime<Utc>) -> Committed {
        let upper = state
            .capture
            .as_ref()
            .filter(|c| c.complete)
            .and_then(|c| c.upper.parse::<Lsn>().ok());
        Committed { upper, started }
    }
}

/// The lag of `stream`'s slot, read on `source`.
pub(super) async fn slot_lag(source: &Client, ecosystem: &str, stream: &Stream<'_>) -> SlotLag {
    let names = Names::of(ecosystem, stream);
    let state = source
        .opt_row(&sql::slot_state(), &ReplicationSlot { slot: &names.slot })
        .await
        .map_err(|e| e.to_string());
    SlotLag::of(stream, &names.slot, state)
}

/// The lags of the slots of `streams` (the logically replicated ones), connecting to each
/// source once; a source that cannot be reached gives its slots an error.
pub(super) async fn slot_lags(
    ecosystem: &str,
    streams: &[Stream<'_>],
    env: &Environment,
) -> Vec<SlotLag> {
    let mut out = Vec::new();
    let mut clients: Vec<(String, Result<Client, String>)> = Vec::new();
    for stream in streams.iter().filter(|s| s.store.replication.is_some()) {
        let capture = stream.store.capture;
        let name = &capture.database.name;
        if !clients.iter().any(|(n, _)| n == name) {
            let client = pg::connect(&capture.database, &capture.credential, env)
                .await
                .map_err(|e| e.to_string());
            clients.push((name.clone(), client));
        }
        let (_, client) = clients.iter().find(|(n, _)| n == name).expect("connected");
        out.push(match client {
            Ok(client) => slot_lag(client, ecosystem, stream).await,
            Err(e) => {
                let names = Names::of(ecosystem, stream);
                SlotLag::of(stream, &names.slot, Err(e.clone()))
            }
        });
    }
    out
}
