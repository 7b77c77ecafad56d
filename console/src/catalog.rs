//! The catalog: the model indexed once, so a page of a 100,000-dataset ecosystem looks up
//! what it shows instead of walking the model.
//!
//! Everything here comes from the model alone (no database): the static docs and the
//! server read the same index.

use datasurface_model::naming::{self, ViewKind};
use datasurface_model::{
    Classification, DatasetGroup, DatasetSchema, Datastore, GovernanceZone, PlatformMode, Team,
    ValidEcosystem, Workspace, suggest,
};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Where a store or workspace sits: its zone and team.
#[derive(Debug, Clone, Copy)]
struct Place {
    zone: usize,
    team: usize,
    item: usize,
}

/// A dataset group that reads a dataset, and where.
#[derive(Debug, Clone)]
pub struct Reader {
    pub workspace: String,
    pub dsg: String,
    /// The platforms the group is assigned to (not decommissioned), each with the views
    /// its consumers query.
    pub platforms: Vec<(String, Vec<String>)>,
}

/// One ingestion stream of a platform, by name.
#[derive(Debug, Clone)]
pub struct StreamInfo {
    pub platform: String,
    /// As the batch tables key it: `Store1`, or `Store1#people`.
    pub key: String,
    pub store: String,
    pub datasets: Vec<String>,
}

/// What a search or a near-miss hint can point at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub kind: &'static str,
    /// As people read it: `Store1.customers`.
    pub label: String,
    /// The page's path below the site's root (`datasets/Store1/customers`).
    pub path: String,
    /// The label in lower case, for search.
    lower: String,
}

impl Entry {
    fn new(kind: &'static str, label: String, path: String) -> Entry {
        Entry {
            kind,
            lower: label.to_lowercase(),
            label,
            path,
        }
    }
}

/// The model, indexed for the pages.
#[derive(Debug)]
pub struct Catalog {
    eco: Arc<ValidEcosystem>,
    stores: HashMap<String, Place>,
    workspaces: HashMap<String, Place>,
    readers: HashMap<(String, String), Vec<Reader>>,
    /// Platform → its streams, in model order.
    streams: HashMap<String, Vec<StreamInfo>>,
    /// (store, dataset) → (platform, index of the stream in `streams[platform]`).
    stream_of: HashMap<(String, String), Vec<(String, usize)>>,
    entries: Vec<Entry>,
    /// Every entry's lower-cased label, one per line: what a search scans, as one run of
    /// text rather than an entry at a time.
    haystack: String,
    /// Where each entry's line starts in `haystack`.
    starts: Vec<usize>,
    /// Workspace → the classifications its groups read.
    classes_read: HashMap<String, BTreeSet<Classification>>,
    /// Workspace → how many datasets its groups read (each once).
    datasets_read: HashMap<String, usize>,
}

impl Catalog {
    /// Indexes `eco`: one pass over the model.
    pub fn new(eco: Arc<ValidEcosystem>) -> Self {
        let model = eco.model();
        let mut stores = HashMap::new();
        let mut workspaces = HashMap::new();
        let mut entries = Vec::new();
        for (z, zone) in model.zones.iter().enumerate() {
            entries.push(Entry::new(
                "zone",
                zone.name.clone(),
                format!("zones/{}", zone.name),
            ));
            for (t, team) in zone.teams.iter().enumerate() {
                entries.push(Entry::new(
                    "team",
                    team.name.clone(),
                    format!("teams/{}/{}", zone.name, team.name),
                ));
                for (s, store) in team.datastores.iter().enumerate() {
                    stores.insert(
                        store.name.clone(),
                        Place {
                            zone: z,
                            team: t,
                            item: s,
                        },
                    );
                    entries.push(Entry::new(
                        "datastore",
                        store.name.clone(),
                        format!("stores/{}", store.name),
                    ));
                    for ds in &store.datasets {
                        entries.push(Entry::new(
                            "dataset",
                            format!("{}.{}", store.name, ds.name),
                            dataset_path(&store.name, &ds.name),
                        ));
                    }
                }
                for (w, ws) in team.workspaces.iter().enumerate() {
                    workspaces.insert(
                        ws.name.clone(),
                        Place {
                            zone: z,
                            team: t,
                            item: w,
                        },
                    );
                    entries.push(Entry::new(
                        "workspace",
                        ws.name.clone(),
                        format!("workspaces/{}", ws.name),
                    ));
                }
            }
        }
        for p in &model.platforms {
            entries.push(Entry::new(
                "platform",
                p.name.clone(),
                format!("platforms/{}", p.name),
            ));
        }

        let mut readers: HashMap<(String, String), Vec<Reader>> = HashMap::new();
        let mut assigned: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
        for a in model.assignments.iter().filter(|a| a.is_active()) {
            assigned
                .entry((a.workspace.as_str(), a.dsg.as_str()))
                .or_default()
                .push(a.platform.as_str());
        }
        for ws in model.workspaces() {
            for dsg in &ws.dsgs {
                let on = assigned
                    .get(&(ws.name.as_str(), dsg.name.as_str()))
                    .cloned()
                    .unwrap_or_default();
                for sink in &dsg.sinks {
                    let platforms = on
                        .iter()
                        .map(|p| {
                            let views =
                                views(&eco, p, &ws.name, &dsg.name, &sink.store, &sink.dataset);
                            (p.to_string(), views)
                        })
                        .collect();
                    readers
                        .entry((sink.store.clone(), sink.dataset.clone()))
                        .or_default()
                        .push(Reader {
                            workspace: ws.name.clone(),
                            dsg: dsg.name.clone(),
                            platforms,
                        });
                }
            }
        }

        let mut classes_read: HashMap<String, BTreeSet<Classification>> = HashMap::new();
        let mut datasets_read = HashMap::new();
        for ws in model.workspaces() {
            let distinct: std::collections::HashSet<_> =
                ws.dsgs.iter().flat_map(|g| &g.sinks).collect();
            datasets_read.insert(ws.name.clone(), distinct.len());
            let seen = classes_read.entry(ws.name.clone()).or_default();
            for sink in ws.dsgs.iter().flat_map(|g| &g.sinks) {
                let found = stores.get(&sink.store).and_then(|p: &Place| {
                    model.zones[p.zone].teams[p.team].datastores[p.item].find_dataset(&sink.dataset)
                });
                if let Some(ds) = found {
                    seen.extend(classifications(ds));
                }
            }
        }

        let mut streams: HashMap<String, Vec<StreamInfo>> = HashMap::new();
        let mut stream_of: HashMap<(String, String), Vec<(String, usize)>> = HashMap::new();
        for platform in eco.platforms() {
            let list = streams.entry(platform.model.name.clone()).or_default();
            for stream in eco.streams(platform) {
                for ds in &stream.datasets {
                    stream_of
                        .entry((stream.store.model.name.clone(), ds.name.clone()))
                        .or_default()
                        .push((platform.model.name.clone(), list.len()));
                }
                list.push(StreamInfo {
                    platform: platform.model.name.clone(),
                    key: stream.key.to_string(),
                    store: stream.store.model.name.clone(),
                    datasets: stream.datasets.iter().map(|d| d.name.clone()).collect(),
                });
            }
        }
        let mut haystack = String::new();
        let mut starts = Vec::with_capacity(entries.len());
        for e in &entries {
            starts.push(haystack.len());
            haystack.push_str(&e.lower);
            haystack.push('\n');
        }
        Catalog {
            eco,
            stores,
            workspaces,
            readers,
            streams,
            stream_of,
            entries,
            haystack,
            starts,
            classes_read,
            datasets_read,
        }
    }

    /// The validated model.
    pub fn eco(&self) -> &ValidEcosystem {
        &self.eco
    }

    /// The store called `name`, with its zone and team.
    pub fn store(&self, name: &str) -> Option<(&GovernanceZone, &Team, &Datastore)> {
        let p = self.stores.get(name)?;
        let zone = &self.eco.model().zones[p.zone];
        let team = &zone.teams[p.team];
        Some((zone, team, &team.datastores[p.item]))
    }

    /// The workspace called `name`, with its zone and team.
    pub fn workspace(&self, name: &str) -> Option<(&GovernanceZone, &Team, &Workspace)> {
        let p = self.workspaces.get(name)?;
        let zone = &self.eco.model().zones[p.zone];
        let team = &zone.teams[p.team];
        Some((zone, team, &team.workspaces[p.item]))
    }

    /// The dataset `store.dataset`.
    pub fn dataset(&self, store: &str, dataset: &str) -> Option<(&Datastore, &DatasetSchema)> {
        let (_, _, s) = self.store(store)?;
        Some((s, s.find_dataset(dataset)?))
    }

    /// The groups that read `store.dataset`.
    pub fn readers(&self, store: &str, dataset: &str) -> &[Reader] {
        self.readers
            .get(&(store.to_owned(), dataset.to_owned()))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The streams of `platform`, in model order.
    pub fn streams(&self, platform: &str) -> &[StreamInfo] {
        self.streams
            .get(platform)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The streams that carry `store.dataset`, one per platform that ingests it.
    pub fn streams_of(&self, store: &str, dataset: &str) -> Vec<&StreamInfo> {
        self.stream_of
            .get(&(store.to_owned(), dataset.to_owned()))
            .map(|v| v.iter().map(|(p, i)| &self.streams[p][*i]).collect())
            .unwrap_or_default()
    }

    /// Every page of the catalog, for search and the static site.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Up to `limit` entries whose label contains `query` (without case), best first:
    /// exact names, then names that start with it, then the rest.
    pub fn search(&self, query: &str, limit: usize) -> Vec<&Entry> {
        let q = query.trim().to_lowercase();
        // A label is one line of the haystack: a query of more than one line finds none.
        if q.is_empty() || q.contains('\n') {
            return Vec::new();
        }
        let mut hits: Vec<(u8, &Entry)> = Vec::new();
        let mut last = None;
        for (at, _) in self.haystack.match_indices(q.as_str()) {
            let i = self.starts.partition_point(|&s| s <= at) - 1;
            if last == Some(i) {
                continue;
            }
            last = Some(i);
            let e = &self.entries[i];
            let label = &e.lower;
            let name = label.rsplit('.').next().unwrap_or(label);
            let rank = if *label == q || name == q {
                0
            } else if label.starts_with(&q) || name.starts_with(&q) {
                1
            } else {
                2
            };
            hits.push((rank, e));
        }
        hits.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.label.cmp(&b.1.label)));
        hits.into_iter().take(limit).map(|(_, e)| e).collect()
    }

    /// The page nearest to a name of `kind` that is not in the model, when one is close
    /// enough to be what was meant. A dataset is looked for in its store (a 100,000-dataset
    /// model is not searched whole); a dataset of a store that does not exist points at
    /// the nearest store.
    pub fn near_miss(&self, kind: &str, name: &str) -> Option<&Entry> {
        let candidates: Vec<&Entry> = match (kind, name.split_once('.')) {
            ("dataset", Some((store, _))) if self.stores.contains_key(store) => {
                let prefix = format!("{store}.");
                self.entries
                    .iter()
                    .filter(|e| e.kind == "dataset" && e.label.starts_with(&prefix))
                    .collect()
            }
            ("dataset", Some((store, _))) => return self.near_miss("datastore", store),
            _ => self.entries.iter().filter(|e| e.kind == kind).collect(),
        };
        let best = suggest(name, candidates.iter().map(|e| e.label.as_str()))?;
        candidates
            .into_iter()
            .find(|e| best == format!("did you mean `{}`?", e.label))
    }

    /// The classifications `ws` reads, across its groups' sinks (most sensitive last).
    pub fn classifications_read(&self, ws: &Workspace) -> BTreeSet<Classification> {
        self.classes_read.get(&ws.name).cloned().unwrap_or_default()
    }

    /// How many datasets `ws` reads, each counted once.
    pub fn datasets_read(&self, ws: &Workspace) -> usize {
        self.datasets_read
            .get(&ws.name)
            .copied()
            .unwrap_or_default()
    }

    /// The latency the group needs (declared, or its stores' default).
    pub fn latency(&self, workspace: &str, dsg: &DatasetGroup) -> Duration {
        self.eco.budgets().group(workspace, dsg)
    }
}

/// The classifications of a dataset's columns (a column without its own takes the
/// dataset's; one with neither is unclassified and not listed).
pub fn classifications(ds: &DatasetSchema) -> BTreeSet<Classification> {
    ds.columns
        .iter()
        .filter_map(|c| c.classification.or(ds.classification))
        .collect()
}

/// Whether a classification is personal data.
pub fn is_personal(c: Classification) -> bool {
    matches!(
        c,
        Classification::Personal | Classification::SensitivePersonal
    )
}

/// A dataset page's path below the root.
pub fn dataset_path(store: &str, dataset: &str) -> String {
    format!("datasets/{store}/{dataset}")
}

/// The views a group's consumers query for one sink on `platform`.
fn views(
    eco: &ValidEcosystem,
    platform: &str,
    ws: &str,
    dsg: &str,
    store: &str,
    dataset: &str,
) -> Vec<String> {
    let mut views = vec![naming::view_name(
        platform,
        ws,
        dsg,
        store,
        dataset,
        ViewKind::Live,
    )];
    let forensic = eco
        .model()
        .find_platform(platform)
        .is_some_and(|p| p.mode == PlatformMode::Forensic);
    if forensic {
        views.push(naming::view_name(
            platform,
            ws,
            dsg,
            store,
            dataset,
            ViewKind::Full,
        ));
    }
    views
}
