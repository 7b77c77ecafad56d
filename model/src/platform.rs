//! Yellow data platforms, the service provider they share, and which dataset groups
//! each platform serves.

use crate::resources::Resources;
use crate::store::{Credential, PostgresDatabase};
use crate::workspace::Retention;

/// What a Yellow platform keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlatformMode {
    /// YellowLive: the current row per key (SCD1).
    Live,
    /// YellowForensic: every version, with batch milestones (SCD2).
    Forensic,
}

impl PlatformMode {
    /// The retention a dataset group needs to be served by this mode.
    pub fn retention(self) -> Retention {
        match self {
            PlatformMode::Live => Retention::LiveOnly,
            PlatformMode::Forensic => Retention::Forensic,
        }
    }
}

/// Where Yellow platforms run: a Kubernetes namespace, the PostgreSQL database that holds
/// their staging, merge and batch tables, and the image of the ecosystem's binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YellowServiceProvider {
    pub name: String,
    /// The Kubernetes namespace (an RFC 1123 label).
    pub namespace: String,
    pub merge_database: PostgresDatabase,
    pub merge_credential: Credential,
    /// The image repository of the ecosystem's binary (`registry/org/name`, no tag: the
    /// tag is derived from the model).
    pub image_repository: String,
    /// What each Airflow container (scheduler, webserver) asks for.
    pub airflow_resources: Resources,
    /// What the in-cluster PostgreSQL asks for, when the merge database is in the cluster.
    pub postgres_resources: Resources,
    /// Whether to run the data change simulator on the sources that live in this provider's
    /// in-cluster PostgreSQL (a development aid, on by default; a source outside the
    /// cluster is never simulated).
    pub simulator: bool,
    /// The login the console (`serve`) reads the batch tables with; `None` uses the merge
    /// credential. A login granted only `SELECT` on the batch tables (the generated
    /// `console-login.sql`) can read nothing else.
    pub console_credential: Option<Credential>,
}

impl YellowServiceProvider {
    /// A provider in `namespace`, merging into `merge_database` with `merge_credential`.
    pub fn new(
        name: impl Into<String>,
        namespace: impl Into<String>,
        merge_database: PostgresDatabase,
        merge_credential: Credential,
    ) -> Self {
        YellowServiceProvider {
            name: name.into(),
            namespace: namespace.into(),
            merge_database,
            merge_credential,
            image_repository: "datasurface/ecosystem".into(),
            airflow_resources: Resources::new("250m", "1Gi"),
            postgres_resources: Resources::new("250m", "512Mi").memory_limit("1Gi"),
            simulator: true,
            console_credential: None,
        }
    }

    /// Sets the login the console reads the batch tables with (see
    /// [`console_login`](Self::console_login)).
    pub fn console_credential(mut self, credential: Credential) -> Self {
        self.console_credential = Some(credential);
        self
    }

    /// The login the console reads the batch tables with: its own, or the merge credential.
    pub fn console_login(&self) -> &Credential {
        self.console_credential
            .as_ref()
            .unwrap_or(&self.merge_credential)
    }

    /// Sets the image repository.
    pub fn image_repository(mut self, repository: impl Into<String>) -> Self {
        self.image_repository = repository.into();
        self
    }

    /// Sets what each Airflow container asks for (default: 250m CPU, 1Gi memory).
    pub fn airflow_resources(mut self, resources: Resources) -> Self {
        self.airflow_resources = resources;
        self
    }

    /// Sets what the in-cluster PostgreSQL asks for (default: 250m CPU, 512Mi memory, up
    /// to 1Gi).
    pub fn postgres_resources(mut self, resources: Resources) -> Self {
        self.postgres_resources = resources;
        self
    }

    /// Turns the simulator of the in-cluster sources on (the default) or off.
    pub fn simulator(mut self, on: bool) -> Self {
        self.simulator = on;
        self
    }
}

/// A Yellow data platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YellowPlatform {
    /// The model name (`YellowLive`): what jobs take on the command line.
    pub name: String,
    pub mode: PlatformMode,
    /// The name of its service provider.
    pub provider: String,
    /// What each of its pods (a batch, `infra`) asks for.
    pub resources: Resources,
}

impl YellowPlatform {
    /// A live platform (latest row per key).
    pub fn live(name: impl Into<String>, provider: &YellowServiceProvider) -> Self {
        Self::with_mode(name, PlatformMode::Live, provider)
    }

    /// A forensic platform (full history with batch milestones).
    pub fn forensic(name: impl Into<String>, provider: &YellowServiceProvider) -> Self {
        Self::with_mode(name, PlatformMode::Forensic, provider)
    }

    fn with_mode(
        name: impl Into<String>,
        mode: PlatformMode,
        provider: &YellowServiceProvider,
    ) -> Self {
        YellowPlatform {
            name: name.into(),
            mode,
            provider: provider.name.clone(),
            resources: Resources::new("100m", "128Mi").memory_limit("256Mi"),
        }
    }

    /// Sets what each of its pods asks for (default: 100m CPU, 128Mi memory, up to 256Mi;
    /// a batch streams rows in flat memory whatever the table size).
    pub fn resources(mut self, resources: Resources) -> Self {
        self.resources = resources;
        self
    }
}

/// Whether an assignment serves production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProductionStatus {
    Production,
    #[default]
    NotProduction,
}

/// The life of an assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AssignmentStatus {
    /// The platform serves the group.
    #[default]
    Provisioned,
    /// The group is taken off the platform: its views go, its tables stay.
    Decommissioned,
}

/// A dataset group assigned to a platform (DataSurface's `dsg_platform_mapping.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub workspace: String,
    pub dsg: String,
    pub platform: String,
    pub production: ProductionStatus,
    pub status: AssignmentStatus,
}

impl Assignment {
    /// Assigns the group `dsg` of `workspace` to `platform`: not production, provisioned.
    pub fn new(
        workspace: impl Into<String>,
        dsg: impl Into<String>,
        platform: impl Into<String>,
    ) -> Self {
        Assignment {
            workspace: workspace.into(),
            dsg: dsg.into(),
            platform: platform.into(),
            production: ProductionStatus::default(),
            status: AssignmentStatus::default(),
        }
    }

    /// Sets the production status.
    pub fn production(mut self, production: ProductionStatus) -> Self {
        self.production = production;
        self
    }

    /// Sets the assignment status.
    pub fn status(mut self, status: AssignmentStatus) -> Self {
        self.status = status;
        self
    }

    /// Whether the platform serves the group (it is not decommissioned).
    pub fn is_active(&self) -> bool {
        self.status == AssignmentStatus::Provisioned
    }
}
