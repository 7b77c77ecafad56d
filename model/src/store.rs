//! Datastores and how they are captured: SQL snapshots of a PostgreSQL database, or its
//! changes read from a logical replication slot.

use crate::schema::{Dataset, DatasetSchema};

/// A PostgreSQL database, as the model knows it.
///
/// `name` is the model's name for it (`CustomerDB`); it is also how an operator points the
/// database elsewhere without editing the model (`DATASURFACE_DB_CUSTOMERDB`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresDatabase {
    pub name: String,
    pub host: String,
    pub port: u16,
    /// The database's name on the server (`customer_db`).
    pub database: String,
}

impl PostgresDatabase {
    /// A database called `database` on the server, known to the model as `name`;
    /// on `localhost:5432` until [`at`](Self::at) says otherwise.
    pub fn new(name: impl Into<String>, database: impl Into<String>) -> Self {
        PostgresDatabase {
            name: name.into(),
            host: "localhost".into(),
            port: 5432,
            database: database.into(),
        }
    }

    /// Sets the server's host and port.
    pub fn at(mut self, host: impl Into<String>, port: u16) -> Self {
        self.host = host.into();
        self.port = port;
        self
    }
}

/// What a credential holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// `{name}_USER` and `{name}_PASSWORD`.
    UserPassword,
    /// `{name}_TOKEN`.
    Token,
}

impl CredentialKind {
    /// Its parts: the suffix of the environment variable each is read from (`USER`), and
    /// the key of the Kubernetes Secret that fills it (`username`).
    pub fn parts(self) -> &'static [(&'static str, &'static str)] {
        match self {
            CredentialKind::UserPassword => &[("USER", "username"), ("PASSWORD", "password")],
            CredentialKind::Token => &[("TOKEN", "token")],
        }
    }
}

/// A named secret. The model holds only the name; the values come from the environment
/// (`{name}_USER`, `{name}_PASSWORD`, `{name}_TOKEN`), filled from Kubernetes Secrets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Credential {
    pub name: String,
    pub kind: CredentialKind,
}

impl Credential {
    /// A user name and password.
    pub fn user_password(name: impl Into<String>) -> Self {
        Credential {
            name: name.into(),
            kind: CredentialKind::UserPassword,
        }
    }

    /// A token.
    pub fn token(name: impl Into<String>) -> Self {
        Credential {
            name: name.into(),
            kind: CredentialKind::Token,
        }
    }

    /// The environment variables this credential is read from, each with the key of the
    /// Secret that fills it in Kubernetes.
    pub fn env_vars(&self) -> Vec<(String, &'static str)> {
        self.kind
            .parts()
            .iter()
            .map(|(part, key)| (crate::naming::credential_env_var(&self.name, part), *key))
            .collect()
    }
}

/// Whether a store's datasets are captured together or one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Consistency {
    /// All datasets of the store in one batch, from one consistent snapshot
    /// (one ingestion stream, keyed by the store's name).
    MultiDataset,
    /// Each dataset in its own batch (one stream per dataset, keyed `{store}#{dataset}`).
    SingleDataset,
}

/// Share of a dataset's current rows that one batch may delete before it is refused,
/// unless the store sets its own.
pub const DEFAULT_MAX_DELETE_PERCENT: u8 = 50;

/// Capture by SQL snapshot: every trigger, the platform reads the whole of each source
/// table and merges the difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlSnapshot {
    pub database: PostgresDatabase,
    /// The schema the source tables are read from (`public` unless set): a table is never
    /// found through the reading role's `search_path`, where a same-named table of its own
    /// would shadow the real one.
    pub schema: String,
    pub credential: Credential,
    /// A 5-field cron expression (`*/1 * * * *`), or an Airflow preset (`@hourly`).
    pub trigger: String,
    pub consistency: Consistency,
    /// A batch that would delete more than this percentage of a dataset's current rows is
    /// refused (1..=100; 100 turns the guard off).
    pub max_delete_percent: u8,
}

impl SqlSnapshot {
    /// Snapshots of `database`, read with `credential`, on the cron `trigger`;
    /// MULTI_DATASET unless [`consistency`](Self::consistency) says otherwise.
    pub fn new(
        database: PostgresDatabase,
        credential: Credential,
        trigger: impl Into<String>,
    ) -> Self {
        SqlSnapshot {
            database,
            schema: "public".into(),
            credential,
            trigger: trigger.into(),
            consistency: Consistency::MultiDataset,
            max_delete_percent: DEFAULT_MAX_DELETE_PERCENT,
        }
    }

    /// Sets the schema the source tables are read from.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Sets how the store's datasets are grouped into batches.
    pub fn consistency(mut self, consistency: Consistency) -> Self {
        self.consistency = consistency;
        self
    }

    /// Sets the mass-delete guard of this store.
    pub fn max_delete_percent(mut self, percent: u8) -> Self {
        self.max_delete_percent = percent;
        self
    }
}

/// Capture by PostgreSQL logical replication: every trigger, the platform reads only the
/// changes committed at the source since its last batch, from a replication slot of its
/// own (one per platform and stream, with a publication of the stream's tables), and merges
/// them exactly as a snapshot's difference. The first batch of a stream, and any batch after
/// the slot was lost, takes a snapshot instead, read as [`SqlSnapshot`] reads it, so the
/// settings are a snapshot's. The source's login needs the `REPLICATION` attribute and the
/// server `wal_level = logical`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalReplication {
    /// How the source is read when a snapshot is taken, and the store's other settings.
    pub snapshot: SqlSnapshot,
}

impl LogicalReplication {
    /// The changes of `database`, read with `credential`, on the cron `trigger`;
    /// MULTI_DATASET unless [`consistency`](Self::consistency) says otherwise.
    pub fn new(
        database: PostgresDatabase,
        credential: Credential,
        trigger: impl Into<String>,
    ) -> Self {
        LogicalReplication {
            snapshot: SqlSnapshot::new(database, credential, trigger),
        }
    }

    /// Sets the schema the source tables are read from.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.snapshot = self.snapshot.schema(schema);
        self
    }

    /// Sets how the store's datasets are grouped into batches.
    pub fn consistency(mut self, consistency: Consistency) -> Self {
        self.snapshot = self.snapshot.consistency(consistency);
        self
    }

    /// Sets the mass-delete guard of this store.
    pub fn max_delete_percent(mut self, percent: u8) -> Self {
        self.snapshot = self.snapshot.max_delete_percent(percent);
        self
    }
}

/// How a datastore's data reaches the platforms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capture {
    SqlSnapshot(SqlSnapshot),
    LogicalReplication(LogicalReplication),
}

impl From<LogicalReplication> for Capture {
    fn from(replication: LogicalReplication) -> Self {
        Capture::LogicalReplication(replication)
    }
}

impl From<SqlSnapshot> for Capture {
    fn from(snapshot: SqlSnapshot) -> Self {
        Capture::SqlSnapshot(snapshot)
    }
}

/// A group of datasets owned by a team, captured together from one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datastore {
    pub name: String,
    pub capture: Option<Capture>,
    pub datasets: Vec<DatasetSchema>,
}

impl Datastore {
    /// A store with no capture and no datasets yet.
    pub fn new(name: impl Into<String>) -> Self {
        Datastore {
            name: name.into(),
            capture: None,
            datasets: Vec::new(),
        }
    }

    /// Sets how the store is captured.
    pub fn capture(mut self, capture: impl Into<Capture>) -> Self {
        self.capture = Some(capture.into());
        self
    }

    /// Adds the dataset declared by the struct `D`.
    pub fn dataset<D: Dataset>(self) -> Self {
        self.dataset_schema(D::schema())
    }

    /// Adds a dataset given as a schema value.
    pub fn dataset_schema(mut self, dataset: DatasetSchema) -> Self {
        self.datasets.push(dataset);
        self
    }

    /// The dataset called `name`, if any.
    pub fn find_dataset(&self, name: &str) -> Option<&DatasetSchema> {
        self.datasets.iter().find(|d| d.name == name)
    }

    /// How the store's source is read by a snapshot: its SQL snapshot capture, or the
    /// snapshot settings of its logical replication (whose first batch is a snapshot).
    /// `None` when the store is not captured.
    pub fn sql_snapshot(&self) -> Option<&SqlSnapshot> {
        match &self.capture {
            Some(Capture::SqlSnapshot(s)) => Some(s),
            Some(Capture::LogicalReplication(r)) => Some(&r.snapshot),
            None => None,
        }
    }

    /// The logical replication capture, if that is how the store is captured.
    pub fn logical_replication(&self) -> Option<&LogicalReplication> {
        match &self.capture {
            Some(Capture::LogicalReplication(r)) => Some(r),
            _ => None,
        }
    }
}
