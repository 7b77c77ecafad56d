//! The ecosystem: the root of a model, and the builder a model repo writes it with.

use crate::platform::{Assignment, YellowPlatform, YellowServiceProvider};
use crate::schema::DatasetSchema;
use crate::store::Datastore;
use crate::workspace::Workspace;
use std::collections::{HashMap, HashSet};

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
        let stores = self.stores_by_name();
        self.assignments
            .iter()
            .filter(|a| a.platform == platform)
            .filter_map(|a| Some((a, self.find_workspace(&a.workspace)?.find_dsg(&a.dsg)?)))
            .flat_map(|(a, dsg)| {
                let stores = &stores;
                dsg.sinks.iter().filter_map(move |sink| {
                    let store = *stores.get(sink.store.as_str())?;
                    Some((a, store, store.find_dataset(&sink.dataset)?))
                })
            })
            .collect()
    }

    /// Every datastore by name (the first of a name, where validation finds two), so that
    /// a model of many stores resolves its sinks in one pass.
    pub(crate) fn stores_by_name(&self) -> HashMap<&str, &Datastore> {
        let mut stores = HashMap::new();
        for store in self.datastores() {
            stores.entry(store.name.as_str()).or_insert(store);
        }
        stores
    }

    /// The datasets `platform` ingests: those reached by the sinks of the groups assigned
    /// to it, each once, in model order. Sinks that do not resolve are skipped.
    pub fn ingested_datasets(&self, platform: &str) -> Vec<(&Datastore, &DatasetSchema)> {
        self.datasets_at(&self.ingested_positions(platform))
    }

    /// The datasets at `positions`, as [`Ecosystem::ingested_positions`] gives them.
    pub(crate) fn datasets_at(
        &self,
        positions: &[(usize, usize)],
    ) -> Vec<(&Datastore, &DatasetSchema)> {
        let stores: Vec<&Datastore> = self.datastores().collect();
        positions
            .iter()
            .map(|&(store, dataset)| (stores[store], &stores[store].datasets[dataset]))
            .collect()
    }

    /// [`Ecosystem::ingested_datasets`] as positions: each dataset's store (in
    /// [`Ecosystem::datastores`] order) and the dataset in that store.
    pub(crate) fn ingested_positions(&self, platform: &str) -> Vec<(usize, usize)> {
        let wanted: HashSet<(&str, &str)> = self
            .active_assignments(platform)
            .filter_map(|a| self.find_workspace(&a.workspace)?.find_dsg(&a.dsg))
            .flat_map(|dsg| dsg.sinks.iter())
            .map(|k| (k.store.as_str(), k.dataset.as_str()))
            .collect();
        if wanted.is_empty() {
            return Vec::new();
        }
        self.datastores()
            .enumerate()
            .flat_map(|(i, s)| {
                s.datasets
                    .iter()
                    .enumerate()
                    .map(move |(j, d)| (i, s, j, d))
            })
            .filter(|(_, s, _, d)| wanted.contains(&(s.name.as_str(), d.name.as_str())))
            .map(|(i, _, j, _)| (i, j))
            .collect()
    }
}
