//! The engine of one model: its environment, its connections to a platform's merge
//! database, and one runner per stream — a session advisory lock in the merge database,
//! held for as long as a command works on the stream and released by the server if the
//! runner dies.

use super::error::Error;
use crate::pg::{self, Environment, Exec};
use datasurface_codegen::sql::batch::Lock;
use datasurface_codegen::sql::typed::Single;
use datasurface_codegen::sql::{BatchSql, lock_id};
use datasurface_model::{Credential, Platform, Stream, ValidEcosystem};
use tokio_postgres::Client;

/// The engine of one validated model, reading credentials and database overrides from
/// `env`. Its commands live in the modules named after them.
#[derive(Debug, Clone, Copy)]
pub struct Engine<'a> {
    pub(super) eco: &'a ValidEcosystem,
    pub(super) env: &'a Environment,
}

impl<'a> Engine<'a> {
    pub fn new(eco: &'a ValidEcosystem, env: &'a Environment) -> Self {
        Engine { eco, env }
    }

    /// The model the engine works for.
    pub fn model(&self) -> &'a ValidEcosystem {
        self.eco
    }

    /// A connection to `platform`'s merge database.
    pub(super) async fn merge_db(&self, platform: Platform<'_>) -> Result<Client, Error> {
        self.merge_db_as(platform, &platform.provider.merge_credential)
            .await
    }

    /// A connection to `platform`'s merge database, logged in with `login`.
    pub(super) async fn merge_db_as(
        &self,
        platform: Platform<'_>,
        login: &Credential,
    ) -> Result<Client, Error> {
        Ok(pg::connect(&platform.provider.merge_database, login, self.env).await?)
    }

    /// Connects to the stream's merge database and runs `work` holding the stream's runner
    /// lock; [`Error::Busy`] at once when another session holds it.
    pub(super) async fn locked<T>(
        &self,
        stream: &Stream<'_>,
        work: impl AsyncFnOnce(&mut Client) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut client = self.merge_db(stream.platform).await?;
        let sql = BatchSql::new(&stream.platform.model.name);
        let id = lock_id(&stream.platform.model.name, Some(&stream.key.to_string()));
        let Single(locked) = client.row(&sql.try_lock, &Lock { id }).await?;
        if !locked {
            return Err(Error::Busy {
                platform: stream.platform.model.name.clone(),
                stream: stream.key.clone(),
            });
        }
        let result = work(&mut client).await;
        // Released now rather than when the server notices the session has ended, so the
        // next runner can start the moment this one exits. If it fails, the lock goes with
        // the session.
        let _ = client.exec(&sql.unlock, &Lock { id }).await;
        result
    }
}
