//! The validated model, resolved: what generation and the runtime take.
//!
//! Validation proves that every platform's provider exists and that every datastore is
//! captured; [`ValidEcosystem`] hands out [`Platform`], [`Store`] and [`Stream`] values that
//! carry what was resolved, so no caller looks a name up again and nothing can fail after
//! validation. Looking up what a *command line* names can still fail: [`LookupError`] says
//! what was not found and suggests the near miss. A command line may spell a name in any
//! case, as names are compared elsewhere: the name spelt exactly so, or else the only one
//! equal to it without case, is the one meant.

use crate::ecosystem::Ecosystem;
use crate::latency::Budgets;
use crate::platform::{YellowPlatform, YellowServiceProvider};
use crate::schema::DatasetSchema;
use crate::store::{
    Consistency, Credential, Datastore, LogicalReplication, PostgresDatabase, SqlSnapshot,
};
use crate::validate::{self, Diagnostic, Report, suggest};
use std::collections::{HashMap, HashSet};
use std::fmt;

impl Ecosystem {
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
                fingerprint: std::sync::OnceLock::new(),
                budgets: std::sync::OnceLock::new(),
                ingested: std::sync::OnceLock::new(),
            })
        }
    }
}

/// An ecosystem that passed validation, with the warnings it raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidEcosystem {
    ecosystem: Ecosystem,
    warnings: Vec<Diagnostic>,
    /// [`ValidEcosystem::fingerprint`], made once.
    fingerprint: std::sync::OnceLock<String>,
    /// [`ValidEcosystem::budgets`], worked out once.
    budgets: std::sync::OnceLock<Budgets>,
    /// [`ValidEcosystem::ingested`] of every platform, worked out once.
    ingested: std::sync::OnceLock<Ingested>,
}

/// Per platform, what it ingests as positions in the model: each dataset's store (in
/// [`Ecosystem::datastores`] order) and the dataset in that store. Generating a model of
/// 100,000 datasets asks for a platform's streams a dozen times (SQL, DAGs, Kubernetes
/// objects, secrets, alert rules), and matching every sink against every dataset each time
/// cost a second.
type Ingested = HashMap<String, Vec<(usize, usize)>>;

/// A platform with its service provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform<'a> {
    pub model: &'a YellowPlatform,
    pub provider: &'a YellowServiceProvider,
}

/// A datastore with its capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Store<'a> {
    pub model: &'a Datastore,
    /// How its source is read by a snapshot: every batch of an SQL snapshot store, the
    /// first batch (and any resync) of a logical replication store.
    pub capture: &'a SqlSnapshot,
    /// Its logical replication, when the store is captured so: every batch after the first
    /// reads the changes since the last one.
    pub replication: Option<&'a LogicalReplication>,
}

/// The key of an ingestion stream, as the batch tables record it: the store's name for a
/// MULTI_DATASET store (`Store1`), `{store}#{dataset}` for a SINGLE_DATASET one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    pub store: String,
    /// The dataset of a SINGLE_DATASET stream.
    pub dataset: Option<String>,
}

impl StreamKey {
    /// The key of a stream of `store`, of one dataset when `dataset` is given.
    pub fn new(store: impl Into<String>, dataset: Option<impl Into<String>>) -> Self {
        StreamKey {
            store: store.into(),
            dataset: dataset.map(Into::into),
        }
    }

    /// Reads a key as the batch tables write it. Model names hold no `#`, so the first one
    /// separates the store from the dataset.
    pub fn parse(key: &str) -> Self {
        match key.split_once('#') {
            Some((store, dataset)) => StreamKey::new(store, Some(dataset)),
            None => StreamKey::new(key, None::<String>),
        }
    }
}

impl fmt::Display for StreamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.dataset {
            Some(dataset) => write!(f, "{}#{dataset}", self.store),
            None => f.write_str(&self.store),
        }
    }
}

/// One ingestion stream of a platform: the unit one `run` works on. A MULTI_DATASET store
/// is one stream of all its datasets the platform ingests; a SINGLE_DATASET store is one
/// stream per dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream<'a> {
    pub platform: Platform<'a>,
    pub key: StreamKey,
    pub store: Store<'a>,
    pub datasets: Vec<&'a DatasetSchema>,
}

/// A platform, store or dataset named on a command line that the model does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
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
    NotIngested { platform: String, stream: StreamKey },
}

fn hint(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!("; {s}"))
        .unwrap_or_default()
}

impl ValidEcosystem {
    /// The warnings validation raised.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The ecosystem itself.
    pub fn model(&self) -> &Ecosystem {
        &self.ecosystem
    }

    /// A short fingerprint of everything the model declares (12 hex digits): another model
    /// has another fingerprint. Made on first use, once.
    pub fn fingerprint(&self) -> &str {
        self.fingerprint
            .get_or_init(|| crate::naming::hex_digest_debug(&self.ecosystem, 6))
    }

    /// The freshness budget of every dataset and the latency of every dataset group,
    /// worked out on first use, once.
    pub fn budgets(&self) -> &Budgets {
        self.budgets.get_or_init(|| Budgets::new(&self.ecosystem))
    }

    /// Every platform with its provider, in model order.
    pub fn platforms(&self) -> impl Iterator<Item = Platform<'_>> {
        // Validation checked every provider: nothing is skipped.
        self.ecosystem.platforms.iter().filter_map(|p| {
            Some(Platform {
                model: p,
                provider: self.model().find_provider(&p.provider)?,
            })
        })
    }

    /// The platform called `name` (`YellowLive`, or `yellowlive`: see [`named`]).
    pub fn platform(&self, name: &str) -> Result<Platform<'_>, LookupError> {
        named(self.platforms(), name, |p| &p.model.name).ok_or_else(|| {
            LookupError::UnknownPlatform {
                platform: name.into(),
                suggestion: suggest(
                    name,
                    self.ecosystem.platforms.iter().map(|p| p.name.as_str()),
                ),
            }
        })
    }

    /// The platforms of a service provider.
    pub fn platforms_of<'a>(
        &'a self,
        provider: &'a YellowServiceProvider,
    ) -> impl Iterator<Item = Platform<'a>> {
        self.platforms().filter(move |p| p.provider == provider)
    }

    /// Every datastore with its capture, in model order.
    pub fn stores(&self) -> impl Iterator<Item = Store<'_>> {
        // Validation checked every capture: nothing is skipped.
        self.model().datastores().filter_map(|s| {
            Some(Store {
                model: s,
                capture: s.sql_snapshot()?,
                replication: s.logical_replication(),
            })
        })
    }

    /// The datastore called `name` (in any case: see [`named`]).
    pub fn store(&self, name: &str) -> Result<Store<'_>, LookupError> {
        named(self.stores(), name, |s| &s.model.name).ok_or_else(|| LookupError::UnknownStore {
            store: name.into(),
            suggestion: suggest(name, self.model().datastores().map(|s| s.name.as_str())),
        })
    }

    /// The datasets `platform` ingests, each with its store, in model order.
    pub fn ingested(&self, platform: &str) -> Vec<(Store<'_>, &DatasetSchema)> {
        let ingested = self.ingested.get_or_init(|| self.find_ingested());
        let Some(positions) = ingested.get(platform) else {
            return Vec::new();
        };
        self.model()
            .datasets_at(positions)
            .into_iter()
            .filter_map(|(model, dataset)| {
                let capture = model.sql_snapshot()?;
                let replication = model.logical_replication();
                Some((
                    Store {
                        model,
                        capture,
                        replication,
                    },
                    dataset,
                ))
            })
            .collect()
    }

    /// Where every platform's ingested datasets are in the model.
    fn find_ingested(&self) -> Ingested {
        self.model()
            .platforms
            .iter()
            .map(|p| (p.name.clone(), self.model().ingested_positions(&p.name)))
            .collect()
    }

    /// The ingestion streams of `platform`, in model order.
    pub fn streams<'a>(&'a self, platform: Platform<'a>) -> Vec<Stream<'a>> {
        let mut streams: Vec<Stream<'a>> = Vec::new();
        for (store, dataset) in self.ingested(&platform.model.name) {
            let single = store.capture.consistency == Consistency::SingleDataset;
            let key = StreamKey::new(&store.model.name, single.then_some(&dataset.name));
            // A store's datasets come one after another: a stream only ever grows at the end.
            match streams.last_mut().filter(|s| s.key == key) {
                Some(stream) => stream.datasets.push(dataset),
                None => streams.push(Stream {
                    platform,
                    key,
                    store,
                    datasets: vec![dataset],
                }),
            }
        }
        streams
    }

    /// The stream of `platform` a command line names by store and, for SINGLE_DATASET
    /// stores, dataset (each in any case: see [`named`]).
    pub fn stream(
        &self,
        platform: &str,
        store: &str,
        dataset: Option<&str>,
    ) -> Result<Stream<'_>, LookupError> {
        let platform = self.platform(platform)?;
        let found = self.store(store)?;
        let store = found.model.name.as_str();
        let single = found.capture.consistency == Consistency::SingleDataset;
        let dataset = match (single, dataset) {
            (false, Some(_)) => {
                return Err(LookupError::DatasetNotAllowed {
                    store: store.into(),
                });
            }
            (true, None) => {
                return Err(LookupError::DatasetRequired {
                    store: store.into(),
                });
            }
            (false, None) => None,
            (true, Some(d)) => match named(found.model.datasets.iter(), d, |x| &x.name) {
                Some(known) => Some(known.name.as_str()),
                None => {
                    return Err(LookupError::UnknownDataset {
                        store: store.into(),
                        dataset: d.into(),
                        suggestion: suggest(
                            d,
                            found.model.datasets.iter().map(|x| x.name.as_str()),
                        ),
                    });
                }
            },
        };
        let key = StreamKey::new(store, dataset);
        self.streams(platform)
            .into_iter()
            .find(|s| s.key == key)
            .ok_or(LookupError::NotIngested {
                platform: platform.model.name.clone(),
                stream: key,
            })
    }

    /// Every database of the model — the sources of the stores and the providers' merge
    /// databases — once each by model name, with the credential that logs into it.
    pub fn databases(&self) -> Vec<(&PostgresDatabase, &Credential)> {
        let mut names = HashSet::new();
        let sources = self
            .stores()
            .map(|s| (&s.capture.database, &s.capture.credential));
        let merges = self
            .model()
            .providers
            .iter()
            .map(|p| (&p.merge_database, &p.merge_credential));
        sources
            .chain(merges)
            .filter(|(db, _)| names.insert(db.name.as_str()))
            .collect()
    }
}

/// The one of `candidates` that a command line's `name` means: the one spelt exactly so,
/// or else the only one equal to it without case (`yellowlive` is `YellowLive`). `None`
/// when there is none, or when several differ from `name` only in case: which one is
/// meant is not for a guess.
fn named<T>(
    candidates: impl Iterator<Item = T>,
    name: &str,
    name_of: impl Fn(&T) -> &str,
) -> Option<T> {
    let mut without_case = None;
    let mut several = false;
    for candidate in candidates {
        let candidate_name = name_of(&candidate);
        if candidate_name == name {
            return Some(candidate);
        }
        if equal_without_case(candidate_name, name) {
            several |= without_case.is_some();
            without_case = Some(candidate);
        }
    }
    without_case.filter(|_| !several)
}

/// Whether `a` and `b` are the same name but for case, as validation compares names.
fn equal_without_case(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::{StreamKey, equal_without_case, named};

    #[test]
    fn stream_keys_read_back_as_written() {
        for (store, dataset, text) in [
            ("Store1", None, "Store1"),
            ("Store1", Some("people"), "Store1#people"),
        ] {
            let key = StreamKey::new(store, dataset);
            assert_eq!(key.to_string(), text);
            assert_eq!(StreamKey::parse(text), key);
        }
    }

    #[test]
    fn a_name_is_found_exactly_or_alone_without_case() {
        let names = ["YellowLive", "YellowForensic", "Store1", "STORE1"];
        let find = |name: &str| named(names.iter(), name, |n| n);
        assert_eq!(find("YellowLive"), Some(&"YellowLive"));
        assert_eq!(find("yellowlive"), Some(&"YellowLive"));
        assert_eq!(find("YELLOWFORENSIC"), Some(&"YellowForensic"));
        // Spelt exactly, a name is itself even beside one that differs only in case.
        assert_eq!(find("Store1"), Some(&"Store1"));
        assert_eq!(find("STORE1"), Some(&"STORE1"));
        // Otherwise which of them is meant is not guessed.
        assert_eq!(find("store1"), None);
        assert_eq!(find("YelowLive"), None);
        assert_eq!(find(""), None);
        assert!(equal_without_case("Store1", "sTORE1"));
        assert!(!equal_without_case("Store1", "Store2"));
    }
}
