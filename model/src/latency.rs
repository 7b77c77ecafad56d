//! Freshness: how old a dataset's data may be before its consumers count it late.
//!
//! A dataset group declares the latency it needs ([`DatasetGroup::latency`]); left out, it
//! is twice the longest wait between two captures of the stores it reads. A dataset's
//! budget is the tightest latency among the groups that read it, so an alert speaks for its
//! most demanding consumer. The console, the metrics and the alert rules all read budgets
//! from here.

use crate::cron::longest_gap;
use crate::ecosystem::Ecosystem;
use crate::workspace::DatasetGroup;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A dataset named by its store: the key of [`Budgets`].
pub type DatasetKey = (String, String);

/// The freshness budget of every dataset of the model.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Budgets {
    /// Cron trigger → the longest wait between two of its runs.
    gaps: BTreeMap<String, Duration>,
    /// Store name → its trigger.
    triggers: HashMap<String, String>,
    /// (store, dataset) → the tightest latency of a group that reads it.
    read: HashMap<DatasetKey, Duration>,
    /// (workspace, group) → its latency: a group of 100,000 sinks is not walked per page.
    groups: HashMap<(String, String), Duration>,
}

impl Budgets {
    /// Works out the budgets of a model whose triggers are valid (a trigger that is not
    /// counts as never waiting, and validation reports it).
    pub(crate) fn new(eco: &Ecosystem) -> Self {
        let mut budgets = Budgets::default();
        for store in eco.datastores() {
            if let Some(snap) = store.sql_snapshot() {
                if !budgets.gaps.contains_key(&snap.trigger) {
                    let gap = longest_gap(&snap.trigger).unwrap_or_default();
                    budgets.gaps.insert(snap.trigger.clone(), gap);
                }
                budgets
                    .triggers
                    .insert(store.name.clone(), snap.trigger.clone());
            }
        }
        for ws in eco.workspaces() {
            for dsg in &ws.dsgs {
                let latency = budgets.work_out(dsg);
                budgets
                    .groups
                    .insert((ws.name.clone(), dsg.name.clone()), latency);
                for sink in &dsg.sinks {
                    let key = (sink.store.clone(), sink.dataset.clone());
                    let tightest = budgets.read.entry(key).or_insert(latency);
                    *tightest = (*tightest).min(latency);
                }
            }
        }
        budgets
    }

    /// The longest wait between two captures of `store`.
    pub fn capture_gap(&self, store: &str) -> Duration {
        self.triggers
            .get(store)
            .and_then(|t| self.gaps.get(t))
            .copied()
            .unwrap_or_default()
    }

    /// The latency the group `dsg` of `workspace` needs: the one it declares, or twice the
    /// longest capture gap of the stores it reads.
    pub fn group(&self, workspace: &str, dsg: &DatasetGroup) -> Duration {
        self.groups
            .get(&(workspace.to_owned(), dsg.name.clone()))
            .copied()
            .unwrap_or_else(|| self.work_out(dsg))
    }

    fn work_out(&self, dsg: &DatasetGroup) -> Duration {
        dsg.latency.unwrap_or_else(|| {
            let gap = dsg
                .sinks
                .iter()
                .map(|s| self.capture_gap(&s.store))
                .max()
                .unwrap_or_default();
            gap * 2
        })
    }

    /// How old the dataset may be: the tightest latency of the groups that read it, or,
    /// when no group does, twice its store's capture gap.
    pub fn dataset(&self, store: &str, dataset: &str) -> Duration {
        self.read
            .get(&(store.to_owned(), dataset.to_owned()))
            .copied()
            .unwrap_or_else(|| self.capture_gap(store) * 2)
    }

    /// Whether a group reads the dataset (its budget is then a consumer's, not a default).
    pub fn is_read(&self, store: &str, dataset: &str) -> bool {
        self.read
            .contains_key(&(store.to_owned(), dataset.to_owned()))
    }
}

/// A duration as people and Prometheus write it: `90s` → `1m30s`, `2h`, `3d`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::format_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_as_prometheus_writes_them() {
        for (secs, text) in [
            (0, "0s"),
            (45, "45s"),
            (90, "1m30s"),
            (7_200, "2h"),
            (3 * 86_400 + 60, "3d1m"),
        ] {
            assert_eq!(format_duration(Duration::from_secs(secs)), text);
        }
    }
}
