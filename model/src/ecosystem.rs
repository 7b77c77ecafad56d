//! The ecosystem: the root of a model, and the builder a model repo writes it with.

use crate::platform::{Assignment, YellowPlatform, YellowServiceProvider};
use crate::schema::DatasetSchema;
use crate::store::Datastore;
use crate::validate::{self, Diagnostic, Report};
use crate::workspace::Workspace;
use std::ops::Deref;

/// A team: the datastores it produces and the workspaces it consumes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub name: String,
    pub datastores: Vec<Datastore>,
    pub workspaces: Vec<Workspace>,
}

impl Team {
    /// A team with nothing in it yet.
    pub fn new(name: impl Into<String>) -> Self {
        Team {
            name: name.into(),
            datastores: Vec::new(),
            workspaces: Vec::new(),
        }
    }

    /// Adds a datastore the team owns.
    pub fn datastore(mut self, store: Datastore) -> Self {
        self.datastores.push(store);
        self
    }

    /// Adds a workspace the team owns.
    pub fn workspace(mut self, workspace: Workspace) -> Self {
        self.workspaces.push(workspace);
        self
    }
}

/// A governance zone (a region or legal entity) and its teams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernanceZone {
    pub name: String,
    pub teams: Vec<Team>,
}

impl GovernanceZone {
    /// A zone with no teams yet.
    pub fn new(name: impl Into<String>) -> Self {
        GovernanceZone {
            name: name.into(),
            teams: Vec::new(),
        }
    }

    /// Adds a team.
    pub fn team(mut self, team: Team) -> Self {
        self.teams.push(team);
        self
    }
}

/// A whole data ecosystem as declared: zones, teams, stores, workspaces, platforms and
/// the assignment of dataset groups to platforms.
///
/// Declaring does not check anything; [`validate`](Ecosystem::validate) checks it all at
/// once and gives a [`ValidEcosystem`], which is what generation and the runtime take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ecosystem {
    pub name: String,
    pub zones: Vec<GovernanceZone>,
    pub providers: Vec<YellowServiceProvider>,
    pub platforms: Vec<YellowPlatform>,
    pub assignments: Vec<Assignment>,
}

impl Ecosystem {
    /// An empty ecosystem.
    pub fn new(name: impl Into<String>) -> Self {
        Ecosystem {
            name: name.into(),
            zones: Vec::new(),
            providers: Vec::new(),
            platforms: Vec::new(),
            assignments: Vec::new(),
        }
    }

    /// Adds a governance zone.
    pub fn zone(mut self, zone: GovernanceZone) -> Self {
        self.zones.push(zone);
        self
    }

    /// Adds a service provider.
    pub fn provider(mut self, provider: YellowServiceProvider) -> Self {
        self.providers.push(provider);
        self
    }

    /// Adds a platform.
    pub fn platform(mut self, platform: YellowPlatform) -> Self {
        self.platforms.push(platform);
        self
    }

    /// Assigns a dataset group to a platform.
    pub fn assign(mut self, assignment: Assignment) -> Self {
        self.assignments.push(assignment);
        self
    }

    /// Checks the whole model: every error and warning, each with its path in the model.
    /// Errors make it `Err`; warnings alone travel with the valid ecosystem.
    pub fn validate(self) -> Result<ValidEcosystem, Report> {
        let report = validate::check(&self);
        if report.has_errors() {
            Err(report)
        } else {
            Ok(ValidEcosystem {
                ecosystem: self,
                warnings: report.diagnostics,
            })
        }
    }

    /// Every team, with its zone.
    pub fn teams(&self) -> impl Iterator<Item = (&GovernanceZone, &Team)> {
        self.zones
            .iter()
            .flat_map(|z| z.teams.iter().map(move |t| (z, t)))
    }

    /// Every datastore, in model order.
    pub fn datastores(&self) -> impl Iterator<Item = &Datastore> {
        self.teams().flat_map(|(_, t)| t.datastores.iter())
    }

    /// Every workspace, in model order.
    pub fn workspaces(&self) -> impl Iterator<Item = &Workspace> {
        self.teams().flat_map(|(_, t)| t.workspaces.iter())
    }

    /// The datastore called `name`.
    pub fn find_datastore(&self, name: &str) -> Option<&Datastore> {
        self.datastores().find(|s| s.name == name)
    }

    /// The workspace called `name`.
    pub fn find_workspace(&self, name: &str) -> Option<&Workspace> {
        self.workspaces().find(|w| w.name == name)
    }

    /// The platform called `name` (its model name, as written: `YellowLive`).
    pub fn find_platform(&self, name: &str) -> Option<&YellowPlatform> {
        self.platforms.iter().find(|p| p.name == name)
    }

    /// The service provider called `name`.
    pub fn find_provider(&self, name: &str) -> Option<&YellowServiceProvider> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// The assignments through which `platform` serves dataset groups (not decommissioned).
    pub fn active_assignments<'a>(
        &'a self,
        platform: &'a str,
    ) -> impl Iterator<Item = &'a Assignment> {
        self.assignments
            .iter()
            .filter(move |a| a.platform == platform && a.is_active())
    }

    /// Every sink of the dataset groups assigned to `platform`, decommissioned ones too,
    /// with its assignment and the store and dataset it names (sinks that do not resolve
    /// are skipped), in assignment order.
    pub fn assigned_sinks(&self, platform: &str) -> Vec<(&Assignment, &Datastore, &DatasetSchema)> {
        self.assignments
            .iter()
            .filter(|a| a.platform == platform)
            .filter_map(|a| Some((a, self.find_workspace(&a.workspace)?.find_dsg(&a.dsg)?)))
            .flat_map(|(a, dsg)| {
                dsg.sinks.iter().filter_map(move |sink| {
                    let store = self.find_datastore(&sink.store)?;
                    Some((a, store, store.find_dataset(&sink.dataset)?))
                })
            })
            .collect()
    }

    /// The datasets `platform` ingests: those reached by the sinks of the groups assigned
    /// to it, each once, in model order. Sinks that do not resolve are skipped.
    pub fn ingested_datasets(&self, platform: &str) -> Vec<(&Datastore, &DatasetSchema)> {
        let wanted: Vec<_> = self
            .active_assignments(platform)
            .filter_map(|a| self.find_workspace(&a.workspace)?.find_dsg(&a.dsg))
            .flat_map(|dsg| dsg.sinks.iter())
            .collect();
        self.datastores()
            .flat_map(|s| s.datasets.iter().map(move |d| (s, d)))
            .filter(|(s, d)| {
                wanted
                    .iter()
                    .any(|k| k.store == s.name && k.dataset == d.name)
            })
            .collect()
    }
}

/// One ingestion stream of a platform: the unit one `run` works on. A MULTI_DATASET store
/// is one stream of all its datasets the platform ingests; a SINGLE_DATASET store is one
/// stream per dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream<'a> {
    /// `Store1`, or `Store1#people` for a single dataset.
    pub key: String,
    pub store: &'a Datastore,
    pub datasets: Vec<&'a DatasetSchema>,
}

/// Why a stream asked for on the command line does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("Could not find datastore in ecosystem: `{store}`{}", hint(.suggestion))]
    UnknownStore {
        store: String,
        suggestion: Option<String>,
    },
    #[error("platform `{platform}` does not exist{}", hint(.suggestion))]
    UnknownPlatform {
        platform: String,
        suggestion: Option<String>,
    },
    #[error(
        "datastore {store} is MULTI_DATASET: its datasets are ingested together, so name no dataset"
    )]
    DatasetNotAllowed { store: String },
    #[error("datastore {store} is SINGLE_DATASET: name the dataset to ingest with --dataset")]
    DatasetRequired { store: String },
    #[error("datastore {store} has no dataset `{dataset}`{}", hint(.suggestion))]
    UnknownDataset {
        store: String,
        dataset: String,
        suggestion: Option<String>,
    },
    #[error(
        "platform {platform} ingests nothing from {stream}: no dataset group assigned to it has a sink there"
    )]
    NotIngested { platform: String, stream: String },
}

fn hint(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!("; {s}"))
        .unwrap_or_default()
}

impl Ecosystem {
    /// The ingestion streams of `platform`, in model order.
    pub fn streams(&self, platform: &str) -> Vec<Stream<'_>> {
        let mut streams: Vec<Stream<'_>> = Vec::new();
        for (store, dataset) in self.ingested_datasets(platform) {
            let single = store
                .sql_snapshot()
                .is_some_and(|s| s.consistency == crate::store::Consistency::SingleDataset);
            let key =
                crate::naming::stream_key(&store.name, single.then_some(dataset.name.as_str()));
            match streams.iter_mut().find(|s| s.key == key) {
                Some(stream) => stream.datasets.push(dataset),
                None => streams.push(Stream {
                    key,
                    store,
                    datasets: vec![dataset],
                }),
            }
        }
        streams
    }

    /// The stream of `platform` named on a command line by store and, for SINGLE_DATASET
    /// stores, dataset.
    pub fn find_stream(
        &self,
        platform: &str,
        store: &str,
        dataset: Option<&str>,
    ) -> Result<Stream<'_>, StreamError> {
        if self.find_platform(platform).is_none() {
            return Err(StreamError::UnknownPlatform {
                platform: platform.into(),
                suggestion: crate::validate::suggest(
                    platform,
                    self.platforms.iter().map(|p| p.name.as_str()),
                ),
            });
        }
        let Some(found) = self.find_datastore(store) else {
            return Err(StreamError::UnknownStore {
                store: store.into(),
                suggestion: crate::validate::suggest(
                    store,
                    self.datastores().map(|s| s.name.as_str()),
                ),
            });
        };
        let single = found
            .sql_snapshot()
            .is_some_and(|s| s.consistency == crate::store::Consistency::SingleDataset);
        match (single, dataset) {
            (false, Some(_)) => {
                return Err(StreamError::DatasetNotAllowed {
                    store: store.into(),
                });
            }
            (true, None) => {
                return Err(StreamError::DatasetRequired {
                    store: store.into(),
                });
            }
            (true, Some(d)) if found.find_dataset(d).is_none() => {
                return Err(StreamError::UnknownDataset {
                    store: store.into(),
                    dataset: d.into(),
                    suggestion: crate::validate::suggest(
                        d,
                        found.datasets.iter().map(|x| x.name.as_str()),
                    ),
                });
            }
            _ => {}
        }
        let key = crate::naming::stream_key(store, dataset);
        self.streams(platform)
            .into_iter()
            .find(|s| s.key == key)
            .ok_or(StreamError::NotIngested {
                platform: platform.into(),
                stream: key,
            })
    }
}

/// An ecosystem that passed validation, with the warnings it raised. Generation and the
/// runtime take only this, so they can rely on every name resolving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidEcosystem {
    ecosystem: Ecosystem,
    warnings: Vec<Diagnostic>,
}

impl ValidEcosystem {
    /// The warnings validation raised.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The ecosystem itself.
    pub fn ecosystem(&self) -> &Ecosystem {
        &self.ecosystem
    }
}

impl Deref for ValidEcosystem {
    type Target = Ecosystem;
    fn deref(&self) -> &Ecosystem {
        &self.ecosystem
    }
}
